#include "ffmpegplayer.h"

#include <media/ffmpeg.h>

#include <QDeadlineTimer>
#include <QLoggingCategory>
#include <QMediaDevices>
#include <QVideoSink>

#include <chrono>

Q_LOGGING_CATEGORY(lcFfmpegPlayer, "iptv.hal.player", QtInfoMsg)

namespace iptv::hal {

FfmpegPlayer::FfmpegPlayer(QObject *parent)
    : Player(parent), m_ownSink(new QVideoSink(this)), m_devices(new QMediaDevices(this))
{
    qRegisterMetaType<iptv::hal::StartTiming>();
    qRegisterMetaType<iptv::hal::StreamStatistics>();
    // FFmpeg's own logger prints every HLS segment it opens, with its URL (diver's carry the
    // box's ticket), to stderr; its warnings and errors go to the log as recast's and diver's do.
    media::installFfmpegLogHandler();
    m_sink = m_ownSink;
    qRegisterMetaType<iptv::hal::StreamTracks>();
    // No audio device (a headless box, CI): video only, paced on the wall clock.
    auto findAudio = [this] {
        if (!m_followDefaultDevice)
            return;
        const QAudioDevice device = QMediaDevices::defaultAudioOutput();
        if (device.isNull() && (m_audioDevice != device || !m_audioChecked))
            qCInfo(lcFfmpegPlayer) << "no audio output device: pictures play without sound";
        else if (!device.isNull() && device != m_audioDevice)
            qCInfo(lcFfmpegPlayer).noquote() << "sound on" << device.description();
        m_audioDevice = device;
        m_audioChecked = true;
    };
    findAudio();
    connect(m_devices, &QMediaDevices::audioOutputsChanged, this, findAudio);
    m_watchdog.setSingleShot(true);
    m_watchdog.setInterval(8000);
    connect(&m_watchdog, &QTimer::timeout, this, [this] {
        const QString message = tr("No picture from %1 after %2 s: %3")
                                    .arg(source().toDisplayString(QUrl::RemoveQuery)) // no ticket on screen
                                    .arg(m_watchdog.interval() / 1000.0)
                                    .arg(stageReached());
        retire();
        fail(message);
    });
}

FfmpegPlayer::~FfmpegPlayer()
{
    m_watchdog.stop();
    for (const QPointer<StreamWorker> &w : std::as_const(m_workers)) {
        if (w) {
            disconnect(w, nullptr, this, nullptr);
            w->requestStop();
        }
    }
    // Interrupted streams end within milliseconds; one stuck in a call FFmpeg cannot interrupt
    // (a DNS lookup) is left to finish on its own rather than hold up the app.
    QDeadlineTimer deadline(2000);
    for (const QPointer<StreamWorker> &w : std::as_const(m_workers)) {
        if (!w)
            continue;
        if (w->wait(deadline))
            delete w.data();
        else
            qCWarning(lcFfmpegPlayer).noquote() << w->objectName() << "did not stop within 2 s; left to finish";
    }
}

int FfmpegPlayer::activeStreams() const
{
    int n = 0;
    for (const QPointer<StreamWorker> &w : m_workers)
        n += w && !w->isFinished();
    return n;
}

void FfmpegPlayer::retire()
{
    if (!m_worker)
        return;
    // Nothing more from it reaches us; it stops on its own thread and deletes itself.
    disconnect(m_worker, nullptr, this, nullptr);
    m_worker->requestStop();
    m_worker = nullptr;
}

void FfmpegPlayer::play(const QUrl &url)
{
    retire();
    m_workers.removeAll(nullptr);
    ++m_generation;
    m_stats = {};
    m_timing = {};
    setTracks({});
    m_timing.source = url;
    m_timing.generation = m_generation;
    m_timing.requestedAtNs =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    setStartTiming(m_timing);
    setSource(url);
    setState(State::Opening);

    StreamSettings settings;
    settings.url = url;
    settings.timing = m_timing;
    settings.audioDevice = m_audioDevice;
    settings.audioLanguage = preferredAudioLanguage();
    settings.subtitleLanguage = preferredSubtitleLanguage();
    settings.decodeAudioWithoutDevice = m_decodeAudioWithoutDevice;
    settings.rgbPictures = m_rgbPictures;
    settings.openTimeoutMs = m_openTimeoutMs;
    settings.readTimeoutMs = m_readTimeoutMs;
    auto *worker = new StreamWorker(settings);
    worker->setAudio(m_volume, m_muted);
    connect(worker, &QThread::finished, worker, &QObject::deleteLater);
    connect(worker, &StreamWorker::progress, this, &FfmpegPlayer::onProgress, Qt::QueuedConnection);
    connect(worker, &StreamWorker::frameReady, this,
            [this, inFlight = worker->framesInFlight()](quint64 generation, const QVideoFrame &frame) {
                --*inFlight;
                onFrame(generation, frame);
            }, Qt::QueuedConnection);
    connect(worker, &StreamWorker::failed, this, &FfmpegPlayer::onFailed, Qt::QueuedConnection);
    connect(worker, &StreamWorker::tracksFound, this, [this](quint64 generation, const StreamTracks &tracks) {
        if (generation == m_generation)
            setTracks(tracks);
    }, Qt::QueuedConnection);
    connect(worker, &StreamWorker::statistics, this, [this](quint64 generation, const StreamStatistics &stats) {
        if (generation == m_generation)
            m_stats = stats;
    }, Qt::QueuedConnection);
    m_worker = worker;
    m_workers.append(worker);
    worker->start();
    m_watchdog.start();
}

void FfmpegPlayer::stop()
{
    retire();
    ++m_generation;
    m_watchdog.stop();
    setSource(QUrl());
    setState(State::Stopped);
}

void FfmpegPlayer::setVideoSink(QVideoSink *sink)
{
    QVideoSink *previous = m_sink;
    m_sink = sink ? sink : m_ownSink;
    // A picture that came before the view (a cold start plays while the UI loads) is shown at once.
    if (previous && previous != m_sink && m_timing.firstShownMs >= 0 && state() == State::Playing
        && previous->videoFrame().isValid())
        m_sink->setVideoFrame(previous->videoFrame());
}

void FfmpegPlayer::setAudioDevice(const QAudioDevice &device)
{
    m_followDefaultDevice = false;
    if (device.isNull())
        qCInfo(lcFfmpegPlayer) << "no audio output device: pictures play without sound";
    m_audioDevice = device;
}

void FfmpegPlayer::setAudio(int volume, bool muted)
{
    m_volume = volume;
    m_muted = muted;
    if (m_worker)
        m_worker->setAudio(volume, muted);
}

void FfmpegPlayer::onProgress(quint64 generation, const StartTiming &timing)
{
    if (generation != m_generation)
        return;
    const qint64 shown = m_timing.firstShownMs;
    m_timing = timing;
    m_timing.firstShownMs = shown;
    setStartTiming(m_timing); // the parts so far, for whoever looks before the first frame
}

void FfmpegPlayer::onFrame(quint64 generation, const QVideoFrame &frame)
{
    if (generation != m_generation || !m_sink)
        return;
    m_sink->setVideoFrame(frame);
    if (m_timing.firstShownMs >= 0)
        return;
    m_watchdog.stop();
    m_timing.firstShownMs = (std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch()).count()
                             - m_timing.requestedAtNs) / 1'000'000;
    qCDebug(lcFfmpegPlayer).noquote() << "first frame of" << source().toDisplayString() << "after"
                                      << m_timing.firstShownMs << "ms: connected" << m_timing.connectedMs << "opened"
                                      << m_timing.openedMs << "keyframe" << m_timing.firstKeyframeMs << "decoded"
                                      << m_timing.firstDecodedMs;
    setState(State::Playing);
    setStartTiming(m_timing);
}

void FfmpegPlayer::onFailed(quint64 generation, const QString &message, Failure why)
{
    if (generation != m_generation)
        return;
    m_watchdog.stop();
    retire();
    failWith(message, why);
}

QString FfmpegPlayer::stageReached() const
{
    if (m_timing.connectedMs < 0)
        return tr("the server did not answer");
    if (m_timing.openedMs < 0)
        return tr("connected, but no stream header arrived");
    if (m_timing.firstKeyframeMs < 0)
        return tr("the stream opened, but no video keyframe arrived (%1 bytes, %2 video packets)")
            .arg(m_stats.bytesRead).arg(m_stats.videoPackets);
    return tr("a keyframe arrived, but no picture was decoded (%1 corrupt packets)").arg(m_stats.corruptPackets);
}

} // namespace iptv::hal
