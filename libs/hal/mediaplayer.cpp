#include "mediaplayer.h"

#include <QAudioOutput>
#include <QLoggingCategory>
#include <QAudioDevice>
#include <QMediaDevices>
#include <QMediaPlayer>
#include <QVideoFrame>
#include <QVideoSink>

#include <chrono>

Q_LOGGING_CATEGORY(lcPlayer, "iptv.hal.qtplayer", QtInfoMsg)

namespace iptv::hal {

MediaPlayer::MediaPlayer(QObject *parent)
    : Player(parent), m_player(new QMediaPlayer(this)), m_audio(new QAudioOutput(this)), m_ownSink(new QVideoSink(this))
{
    // Qt 6.4's FFmpeg backend crashes in its audio thread when the player has an audio output
    // but the machine has no audio device (a headless box, CI): attach it only when one exists,
    // and when one appears later.
    auto attachAudio = [this] {
        const bool device = !QMediaDevices::defaultAudioOutput().isNull();
        m_player->setAudioOutput(device ? m_audio : nullptr);
        if (!device)
            qCInfo(lcPlayer) << "no audio device: video only";
    };
    attachAudio();
    connect(new QMediaDevices(this), &QMediaDevices::audioOutputsChanged, this, attachAudio);
    m_watchdog.setSingleShot(true);
    m_watchdog.setInterval(8000);
    connect(&m_watchdog, &QTimer::timeout, this, [this] {
        if (!m_waitingForFrame)
            return;
        m_waitingForFrame = false;
        fail(tr("No picture from %1 after %2 s").arg(source().toString()).arg(m_watchdog.interval() / 1000));
        m_player->stop();
    });
    connect(m_player, &QMediaPlayer::errorOccurred, this, [this](QMediaPlayer::Error error, const QString &text) {
        if (error == QMediaPlayer::NoError)
            return;
        m_waitingForFrame = false;
        m_watchdog.stop();
        fail(text.isEmpty() ? tr("The stream %1 cannot be played").arg(source().toString()) : text);
    });
    connect(m_player, &QMediaPlayer::mediaStatusChanged, this, [this](QMediaPlayer::MediaStatus status) {
        // Frames of the previous source can still arrive just after a zap; the new source's
        // come once its media is loaded.
        if (status == QMediaPlayer::LoadedMedia || status == QMediaPlayer::BufferingMedia
            || status == QMediaPlayer::BufferedMedia)
            m_sourceLoaded = true;
        if (status == QMediaPlayer::EndOfMedia && state() == State::Playing)
            end(tr("The stream %1 ended").arg(source().toDisplayString(QUrl::RemoveQuery)));
        else if (status == QMediaPlayer::InvalidMedia)
            fail(tr("The stream %1 is not playable").arg(source().toString()));
    });
    setVideoSink(nullptr);
}

MediaPlayer::~MediaPlayer()
{
    disconnect(m_frameConnection);
    m_player->stop();
}

void MediaPlayer::setVideoSink(QVideoSink *sink)
{
    disconnect(m_frameConnection);
    m_sink = sink ? sink : m_ownSink;
    m_player->setVideoSink(m_sink);
    // videoFrameChanged comes from the decoding thread: `this` as context queues it to ours.
    m_frameConnection = connect(m_sink, &QVideoSink::videoFrameChanged, this, [this](const QVideoFrame &frame) {
        if (frame.isValid())
            onFrame();
    });
}

void MediaPlayer::onFrame()
{
    if (!m_waitingForFrame || !m_sourceLoaded)
        return;
    m_waitingForFrame = false;
    m_watchdog.stop();
    setState(State::Playing);
    StartTiming timing = startTiming();
    timing.firstShownMs = m_sincePlay.elapsed();
    qCDebug(lcPlayer).noquote() << "first frame of" << source().toString() << "after" << timing.firstShownMs << "ms";
    setStartTiming(timing); // emits firstFrame()
}

void MediaPlayer::play(const QUrl &url)
{
    m_sincePlay.start();
    StartTiming timing;
    timing.source = url;
    timing.generation = startTiming().generation + 1;
    timing.requestedAtNs =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    setStartTiming(timing);
    m_waitingForFrame = true;
    m_sourceLoaded = false;
    setSource(url);
    setState(State::Opening);
    m_player->setSource(url);
    m_player->play();
    m_watchdog.start();
}

void MediaPlayer::stop()
{
    m_waitingForFrame = false;
    m_watchdog.stop();
    m_player->stop();
    m_player->setSource(QUrl());
    setSource(QUrl());
    setState(State::Stopped);
}

void MediaPlayer::setAudio(int volume, bool muted)
{
    m_audio->setVolume(float(volume) / 100.0f);
    m_audio->setMuted(muted);
}

} // namespace iptv::hal
