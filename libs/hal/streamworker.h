#pragma once

// One stream of FfmpegPlayer on its own thread: connect, read the container's header, decode
// video from the first keyframe into QVideoFrames and audio into a QAudioSink, and pace both on
// one clock (the audio that is heard when audio plays, else the wall clock from the first
// picture). Every result goes to the player as a queued signal stamped with the stream's
// generation, so the player can tell an old stream's frame from the new one's.
//
// Stopping never waits: requestStop() interrupts a blocking connect or read through FFmpeg's
// interrupt callback; the thread then winds down and its owner deletes it (finished ->
// deleteLater).

#include "hal.h"

#include <QAudioDevice>
#include <QThread>
#include <QVideoFrame>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace iptv::hal {

struct StreamSettings
{
    QUrl url;
    StartTiming timing;          ///< source, generation and requestedAtNs filled in by the player
    QAudioDevice audioDevice;    ///< null: no audio device, video only on the wall clock
    int openTimeoutMs = 5000;    ///< connect and header
    int readTimeoutMs = 5000;    ///< no data for this long: stalled
    int probeBytes = 32 * 1024;  ///< how much the demuxer may read to find its streams
    QString audioLanguage;       ///< the viewer's (ISO 639-1 or -2); "" = the default stream
    QString subtitleLanguage;    ///< "" = subtitles off
    /// Decode the chosen audio without an audio device (and drop it): tests see what was decoded.
    bool decodeAudioWithoutDevice = false;
    /// Pictures converted to RGB on the stream's thread instead of handed over as YUV planes: a
    /// software rasteriser then samples one texture per pixel instead of three.
    bool rgbPictures = false;
};

/// What a stream has done so far (for diagnostics and tests).
struct StreamStatistics
{
    qint64 bytesRead = 0;
    qint64 videoPackets = 0;
    qint64 skippedBeforeKeyframe = 0; ///< video packets before the first keyframe (not decodable)
    qint64 framesDecoded = 0;
    qint64 framesShown = 0;
    qint64 framesDropped = 0;         ///< late, or the UI had not taken the previous ones
    qint64 corruptPackets = 0;
    qint64 audioFrames = 0;
    int audioStream = -1;             ///< the container's index of the audio being decoded (-1: none)
    int audioSampleRate = 0;          ///< of the last audio frame decoded
    int audioChannels = 0;
};

class StreamWorker : public QThread
{
    Q_OBJECT
public:
    explicit StreamWorker(StreamSettings settings, QObject *parent = nullptr);
    ~StreamWorker() override;

    quint64 generation() const { return m_settings.timing.generation; }
    /// Any thread: stop as soon as possible (a blocking connect or read is interrupted).
    void requestStop();
    /// Any thread: 0-100 and mute, applied to the audio sink by the stream's thread.
    void setAudio(int volume, bool muted);
    /// The player took a frame from frameReady(): one less in flight.
    std::shared_ptr<std::atomic<int>> framesInFlight() const { return m_inFlight; }

Q_SIGNALS:
    /// A step of the start was reached (connected, opened, first keyframe, first decoded).
    void progress(quint64 generation, const iptv::hal::StartTiming &timing);
    /// A picture is due now. The first one of a stream follows progress() with firstDecodedMs.
    void frameReady(quint64 generation, const QVideoFrame &frame);
    /// The stream cannot go on; `message` says what, where and why; `why`: Ended when all of it
    /// was read (a recording's end), Unauthorized when the server refused its credential (a
    /// playlist's reload answered 401), else Error.
    void failed(quint64 generation, const QString &message, iptv::hal::Player::Failure why);
    void statistics(quint64 generation, const iptv::hal::StreamStatistics &stats);
    /// The header was read: the audio and subtitle streams and the ones chosen.
    void tracksFound(quint64 generation, const iptv::hal::StreamTracks &tracks);

protected:
    void run() override;

private:
    class Session;

    bool stopping() const { return m_stop.load(std::memory_order_relaxed); }
    /// Sleeps up to `us` microseconds; wakes early on requestStop().
    void idle(qint64 us);

    StreamSettings m_settings;
    std::atomic<bool> m_stop{false};
    std::atomic<int> m_volume{50};
    std::atomic<bool> m_muted{false};
    std::atomic<int> m_audioVersion{0};
    std::shared_ptr<std::atomic<int>> m_inFlight = std::make_shared<std::atomic<int>>(0);
    std::mutex m_wakeMutex;
    std::condition_variable m_wake;
};

} // namespace iptv::hal

Q_DECLARE_METATYPE(iptv::hal::StartTiming)
Q_DECLARE_METATYPE(iptv::hal::StreamStatistics)
Q_DECLARE_METATYPE(iptv::hal::StreamTracks)
