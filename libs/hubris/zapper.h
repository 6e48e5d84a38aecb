#pragma once

// Changing channels: up/down through the lineup, the previous-channel key, a row to tune (the
// digits typed are ChannelNumberEntry's), and the zap time from the key to the first
// new frame, measured for the screen and for telemetry, with its parts: the player's (connected,
// opened, keyframe, decoded, shown) and the first frame the window painted after the picture
// reached the sink (the window reports its frames through frameStarted()/frameSwapped()).

#include "channellistmodel.h"

#include <hal/hal.h>
#include <protocol/message.h>

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <atomic>
#include <functional>

namespace iptv::hubris {

class Zapper : public QObject
{
    Q_OBJECT
    Q_PROPERTY(int current READ current NOTIFY currentChanged)
    Q_PROPERTY(int previous READ previous NOTIFY currentChanged)
    Q_PROPERTY(qint64 lastZapMs READ lastZapMs NOTIFY zapMeasured)
    /// The current channel is locked: it does not play until the lock check lets it.
    Q_PROPERTY(bool blocked READ isBlocked NOTIFY blockedChanged)
public:
    Zapper(ChannelListModel *channels, hal::Player *player, QObject *parent = nullptr);

    int current() const { return m_current; }
    int previous() const { return m_previous; }
    qint64 lastZapMs() const { return m_lastZapMs; }
    /// Zap times measured so far (ms), oldest first, at most 100.
    QList<qint64> zapTimes() const { return m_zapTimes; }
    /// The parts of the zaps measured so far, oldest first, at most 100.
    QList<protocol::ZapParts> zapParts() const { return m_zapParts; }
    /// How long a zap waits for its painted frame before it is reported without (default 2 s).
    void setPaintTimeout(int ms) { m_paintTimeout.setInterval(ms); }

    /// The window's frames, from its render thread (beforeSynchronizing, frameSwapped): the first
    /// frame synchronised after a zap's picture reached the sink paints it. Any thread.
    void frameStarted();
    void frameSwapped();

    /// Asked before a channel (a model row) plays: true = locked, it does not play.
    void setLockCheck(std::function<bool(int row)> locked) { m_locked = std::move(locked); }
    bool isBlocked() const { return m_blocked; }

public Q_SLOTS:
    /// Tunes the channel in model row `row` (out of range: nothing).
    void tune(int row);
    void channelUp();
    void channelDown();
    /// The previous-channel key: back to the channel before this one.
    void previousChannel();
    /// Makes row `row` the current channel without starting it again when the player already
    /// plays its stream (a cold start tunes the last channel before the guide is there).
    void adopt(int row);
    /// Tunes the current channel again (after standby or a failure).
    void retune();
    /// The locks changed (a PIN entered, a programme began): stops a channel that became
    /// locked, plays one that no longer is.
    void recheck();

Q_SIGNALS:
    void currentChanged();
    /// Key to first frame of the new channel, in ms.
    void zapMeasured(qint64 ms);
    /// The parts of a zap, once its picture was painted (or the paint timeout passed).
    void zapPartsMeasured(const iptv::protocol::ZapParts &parts);
    void playbackFailed(const QString &message);
    void blockedChanged();

private:
    void setBlocked(bool blocked);
    void finishParts(qint64 paintedNs);

    ChannelListModel *m_channels;
    hal::Player *m_player;
    int m_current = -1;
    int m_previous = -1;
    QElapsedTimer m_sinceKey;
    qint64 m_keyNs = 0;                  ///< the zap's key on the steady clock
    protocol::ZapParts m_parts;          ///< the zap waiting for its painted frame
    bool m_partsPending = false;
    QList<protocol::ZapParts> m_zapParts;
    QTimer m_paintTimeout;
    std::atomic<qint64> m_paintAfterNs{0}; ///< > 0: a frame synchronised after this paints the zap
    std::atomic<qint64> m_paintSyncNs{0};  ///< that frame's sync, until it swaps
    bool m_measuring = false;
    qint64 m_lastZapMs = -1;
    QList<qint64> m_zapTimes;
    std::function<bool(int)> m_locked;
    bool m_blocked = false;
};

} // namespace iptv::hubris
