#pragma once

// The player that zaps fast: libavformat/libavcodec on a thread per stream (StreamWorker), the
// first keyframe decoded and shown at once, then video paced on the audio (or wall) clock into
// the QVideoSink, audio into a QAudioSink when the machine has an audio device.
//
// A zap never waits for the old stream: it is told to stop (its blocking reads interrupted) and
// winds down on its own thread. Every stream carries the generation of the play() that started
// it; a frame, a failure or a timing of an older generation is dropped on arrival, so an old
// channel's picture is never shown or counted as the new one's. startTiming() has the parts of
// the zap (connected, header, first keyframe, first decoded, first shown).

#include "hal.h"
#include "streamworker.h"

#include <QAudioDevice>
#include <QList>
#include <QPointer>
#include <QTimer>

QT_BEGIN_NAMESPACE
class QMediaDevices;
QT_END_NAMESPACE

namespace iptv::hal {

class FfmpegPlayer : public Player
{
    Q_OBJECT
public:
    explicit FfmpegPlayer(QObject *parent = nullptr);
    /// Stops every stream; waits a bounded time for their threads (never forever).
    ~FfmpegPlayer() override;

    void play(const QUrl &url) override;
    void stop() override;
    void setVideoSink(QVideoSink *sink) override;
    void setAudio(int volume, bool muted) override;

    /// A stream that shows no picture this long after play() has failed (default 8 s).
    void setPictureTimeout(int ms) { m_watchdog.setInterval(ms); }
    /// Connect-and-header and no-data limits for new streams (default 5 s each).
    void setNetworkTimeouts(int openMs, int readMs) { m_openTimeoutMs = openMs; m_readTimeoutMs = readMs; }
    /// The current stream's counters, updated about once a second.
    StreamStatistics statistics() const { return m_stats; }
    /// Stream threads still winding down (not yet finished), the current one included.
    int activeStreams() const;
    /// The generation of the latest play() (0 before the first).
    quint64 generation() const { return m_generation; }
    /// Whether sound is played (an audio device was there at play()).
    bool hasAudio() const { return !m_audioDevice.isNull(); }
    /// Plays sound on `device` from the next play() on (a null device: pictures only), instead of
    /// following the system's default output.
    void setAudioDevice(const QAudioDevice &device);
    /// Tests: decode the chosen audio even without a device (statistics() say what was decoded).
    void setDecodeAudioWithoutDevice(bool decode) { m_decodeAudioWithoutDevice = decode; }
    /// Hand the view RGB pictures (converted on the stream's thread) instead of YUV planes, from
    /// the next play() on: for a software rasteriser (default off).
    void setRgbPictures(bool rgb) { m_rgbPictures = rgb; }

private:
    void retire();
    void onProgress(quint64 generation, const StartTiming &timing);
    void onFrame(quint64 generation, const QVideoFrame &frame);
    void onFailed(quint64 generation, const QString &message, Failure why);
    QString stageReached() const;

    QVideoSink *m_ownSink;          ///< frames go here when no view is attached (headless)
    QPointer<QVideoSink> m_sink;
    QPointer<StreamWorker> m_worker;
    QList<QPointer<StreamWorker>> m_workers; ///< all not yet finished, the retired ones included
    quint64 m_generation = 0;
    StartTiming m_timing;           ///< the current stream's, as far as it got
    StreamStatistics m_stats;
    QTimer m_watchdog;
    QMediaDevices *m_devices;
    QAudioDevice m_audioDevice;
    bool m_followDefaultDevice = true;
    bool m_audioChecked = false;
    bool m_decodeAudioWithoutDevice = false;
    bool m_rgbPictures = false;
    int m_volume = 50;
    bool m_muted = false;
    int m_openTimeoutMs = 5000;
    int m_readTimeoutMs = 5000;
};

} // namespace iptv::hal
