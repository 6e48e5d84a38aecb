#include "hal.h"

#include <QLocale>

#include "ffmpegplayer.h"
#include "mediaplayer.h"

namespace iptv::hal {

void Player::setSource(const QUrl &url)
{
    if (url == m_source)
        return;
    m_source = url;
    Q_EMIT sourceChanged(url);
}

void Player::setState(State state)
{
    if (state != State::Failed) {
        m_error.clear();
        m_failure = Failure::None;
    }
    if (state == m_state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

void Player::fail(const QString &message)
{
    failWith(message, Failure::Error);
}

void Player::end(const QString &message)
{
    failWith(message, Failure::Ended);
}

void Player::failWith(const QString &message, Failure why)
{
    m_failure = why == Failure::None ? Failure::Error : why; // before the signals: their handlers ask failure()
    m_error = message;
    const bool changed = m_state != State::Failed;
    m_state = State::Failed;
    if (changed)
        Q_EMIT stateChanged(m_state);
    Q_EMIT errorOccurred(message);
}

bool languageMatches(const QString &wanted, const QString &tag)
{
    if (wanted.isEmpty() || tag.isEmpty())
        return false;
    if (wanted.compare(tag, Qt::CaseInsensitive) == 0)
        return true;
    // 639-1 "de" against 639-2/T "deu" and 639-2/B "ger": the same QLocale language.
    const QLocale::Language a = QLocale::codeToLanguage(wanted.toLower());
    const QLocale::Language b = QLocale::codeToLanguage(tag.toLower());
    return a != QLocale::AnyLanguage && a == b;
}

void Player::setTracks(const StreamTracks &tracks)
{
    if (tracks == m_tracks)
        return;
    m_tracks = tracks;
    Q_EMIT tracksChanged();
}

void Player::setStartTiming(const StartTiming &timing)
{
    const bool shown = timing.firstShownMs >= 0 && m_timing.firstShownMs < 0;
    m_timing = timing;
    if (shown)
        Q_EMIT firstFrame(timing.firstShownMs);
}

Player *createPlayer(QObject *parent)
{
    if (qEnvironmentVariable("IPTV_PLAYER") == QLatin1String("qtmultimedia"))
        return new MediaPlayer(parent);
    return new FfmpegPlayer(parent);
}

void Hal::setVolume(int volume)
{
    volume = qBound(0, volume, 100);
    if (volume == m_volume)
        return;
    m_volume = volume;
    applyVolume(m_volume, m_muted);
    Q_EMIT volumeChanged(volume);
}

void Hal::setMuted(bool muted)
{
    if (muted == m_muted)
        return;
    m_muted = muted;
    applyVolume(m_volume, m_muted);
    Q_EMIT mutedChanged(muted);
}

void Hal::setStandby(bool standby)
{
    if (standby == m_standby)
        return;
    m_standby = standby;
    if (standby)
        player()->stop();
    applyStandby(standby);
    Q_EMIT standbyChanged(standby);
}

void Hal::setFrontPanelText(const QString &text)
{
    if (text == m_frontPanel)
        return;
    m_frontPanel = text;
    applyFrontPanel(text);
    Q_EMIT frontPanelTextChanged(text);
}

} // namespace iptv::hal
