#pragma once

// The player on Qt Multimedia (its FFmpeg backend): one QMediaPlayer reused for every zap, the
// first frame detected on the video sink, a stream that shows no picture in time reported as
// failed with the reason. Kept for comparison (IPTV_PLAYER=qtmultimedia): Qt 6.4's backend
// deadlocks in stop() on an endless HTTP MPEG-TS stream, and its frames carry no source, so a
// zap's first frame is only known to be the new one's once the new media is loaded.

#include "hal.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QTimer>

QT_BEGIN_NAMESPACE
class QAudioOutput;
class QMediaPlayer;
class QVideoSink;
QT_END_NAMESPACE

namespace iptv::hal {

class MediaPlayer : public Player
{
    Q_OBJECT
public:
    explicit MediaPlayer(QObject *parent = nullptr);
    ~MediaPlayer() override;

    void play(const QUrl &url) override;
    void stop() override;
    void setVideoSink(QVideoSink *sink) override;

    void setAudio(int volume, bool muted) override;
    /// A stream that shows no picture this long after play() has failed (default 8 s).
    void setPictureTimeout(int ms) { m_watchdog.setInterval(ms); }

private:
    void onFrame();

    QMediaPlayer *m_player;
    QAudioOutput *m_audio;
    QVideoSink *m_ownSink;          ///< frames go here when no view is attached (headless)
    QPointer<QVideoSink> m_sink;
    QMetaObject::Connection m_frameConnection;
    QElapsedTimer m_sincePlay;
    bool m_waitingForFrame = false;
    bool m_sourceLoaded = false; ///< the new source's media is loaded: frames from now on are its
    QTimer m_watchdog;
};

} // namespace iptv::hal
