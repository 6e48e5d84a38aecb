#pragma once

// The diagnostics overlay of development builds: frame times (the interval between frames while
// the window animates, and what a frame costs from sync to swap), resident memory, the player's
// state and the zap times. The same frame figures go to the control server as telemetry
// (ControlLink asks takeFrameStats() each sample). Frames are counted from the render thread.

#include "guidestore.h"
#include "zapper.h"

#include <hal/hal.h>
#include <protocol/message.h>

#include <QElapsedTimer>
#include <QMutex>
#include <QObject>
#include <QStringList>
#include <QTimer>

#include <vector>

namespace iptv::hubris {

class Diagnostics : public QObject
{
    Q_OBJECT
    /// A development build: the overlay exists and telemetry carries frame times.
    Q_PROPERTY(bool available READ isAvailable CONSTANT)
    Q_PROPERTY(bool shown READ isShown WRITE setShown NOTIFY shownChanged)
    /// The overlay's lines, refreshed each second while shown.
    Q_PROPERTY(QStringList lines READ lines NOTIFY updated)
public:
    Diagnostics(hal::Player *player, Zapper *zapper, GuideStore *store, QObject *parent = nullptr);

    static bool developmentBuild();
    bool isAvailable() const { return m_available; }
    /// Tests turn it on in any build.
    void setAvailable(bool available) { m_available = available; }
    bool isShown() const { return m_shown; }
    void setShown(bool shown);
    Q_INVOKABLE void toggle() { setShown(!m_shown); }
    QStringList lines() const { return m_lines; }

    /// A frame starts (QQuickWindow::beforeSynchronizing) and is on screen (frameSwapped): any thread.
    void frameStarted();
    void frameSwapped();
    /// Frame intervals since the last call, for telemetry (nullopt when none were drawn).
    std::optional<protocol::FrameStats> takeFrameStats();
    /// Percentiles of `ms` (sorted here).
    static protocol::FrameStats statsOf(std::vector<double> ms);
    /// VmRSS of this process in KiB (-1 when unknown).
    static qint64 residentKb();
    /// A "Key: value kB" line of a /proc file, in kB (-1 when missing).
    static qint64 procValueKb(const QString &file, const QByteArray &key);

public Q_SLOTS:
    /// Computes the lines now (each second while shown).
    void refresh();

Q_SIGNALS:
    void shownChanged();
    void updated();

private:
    hal::Player *m_player;
    Zapper *m_zapper;
    GuideStore *m_store;
    bool m_available = developmentBuild();
    bool m_shown = false;
    QStringList m_lines;
    QTimer m_timer;

    QMutex m_mutex; ///< guards what the render thread writes below
    QElapsedTimer m_clock;
    qint64 m_lastSwapNs = -1;
    qint64 m_frameStartNs = -1;
    std::vector<double> m_intervals;       ///< since the overlay's last refresh
    std::vector<double> m_costs;           ///< sync to swap, since the last refresh
    std::vector<double> m_telemetry;       ///< intervals since the last takeFrameStats()
    qint64 m_lastRefreshNs = 0;            ///< for frames per second
};

} // namespace iptv::hubris
