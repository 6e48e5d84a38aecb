#include "dvrplayback.h"

#include <QDateTime>

namespace iptv::hubris {

namespace {
/// A URL with a playback token is played again with a fresh one this long before it expires, or
/// a quarter of the token's life when that is shorter (diver's [archive] token_seconds).
constexpr qint64 kRenewUrlBeforeSeconds = 60;
/// A URL the server refused (401) waits this long for the client's fresh tokens, then the
/// failure stays on screen.
constexpr qint64 kRefusedWaitSeconds = 15;

QString clock(qint64 seconds)
{
    seconds = std::max<qint64>(0, seconds);
    const qint64 h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
    return h > 0 ? QStringLiteral("%1:%2:%3").arg(h).arg(m, 2, 10, QLatin1Char('0')).arg(s, 2, 10, QLatin1Char('0'))
                 : QStringLiteral("%1:%2").arg(m).arg(s, 2, 10, QLatin1Char('0'));
}
} // namespace

DvrPlayback::DvrPlayback(DvrClient *client, hal::Player *player, Zapper *zapper, QObject *parent)
    : QObject(parent), m_client(client), m_player(player), m_zapper(zapper)
{
    m_tick.setInterval(1000);
    connect(&m_tick, &QTimer::timeout, this, [this] {
        if (!m_refusedUrl.isEmpty()) {
            // Refused: plays on from where it was once the client has a fresh token.
            const QUrl fresh = urlFrom(m_offset);
            if (fresh.query() != m_refusedUrl.query()) {
                playFrom(m_offset);
                m_renewedSinceFrame = true;
            } else if (now() - m_refusedAt >= kRefusedWaitSeconds) {
                m_refusedUrl.clear(); // no fresh token: the player's failure stays on screen
            }
            Q_EMIT positionChanged();
            return;
        }
        // Timeshift that has caught up with live (a paused viewer who never pressed play does not).
        if (m_mode == u"timeshift" && !m_paused && position() <= 2) {
            stop();
            Q_EMIT backToLive();
            return;
        }
        // A timeshift can play for longer than its URL's playback token lasts (a day and more,
        // always behind live): played on from where it is with a fresh URL (the client's token is
        // renewed with its every refresh) before it expires.
        const qint64 renewBefore = std::clamp<qint64>(m_urlLife / 4, 1, kRenewUrlBeforeSeconds);
        if (!m_paused && m_urlExpires > 0 && now() >= m_urlExpires - renewBefore
            && m_client->archiveTokenExpires(m_channel) > m_urlExpires) {
            playFrom(m_mode == u"timeshift" ? now() - position() : position());
            return;
        }
        Q_EMIT positionChanged();
    });
    // The clock runs from the first frame (or from Playing, where a sink shows no frames).
    connect(player, &hal::Player::firstFrame, this, [this] {
        m_renewedSinceFrame = false;
        if (isActive() && !m_paused)
            m_played.start();
    });
    connect(player, &hal::Player::stateChanged, this, [this](hal::Player::State state) {
        if (isActive() && !m_paused && state == hal::Player::State::Playing && !m_played.isValid())
            m_played.start();
    });
    // The end of a recording is not a failure to show. Queued: stopping plays live TV again,
    // which must not happen among the player's own handlers of its failure.
    connect(player, &hal::Player::errorOccurred, this, [this] {
        if (isActive() && m_player->hasEnded())
            QMetaObject::invokeMethod(this, [this, source = m_player->source()] { onEnded(source); }, Qt::QueuedConnection);
        else if (isActive() && m_player->isUnauthorized())
            QMetaObject::invokeMethod(this, [this, source = m_player->source()] { onRefused(source); }, Qt::QueuedConnection);
    });
}

void DvrPlayback::onRefused(const QUrl &source)
{
    if (!isActive() || m_paused || m_player->source() != source || m_player->state() != hal::Player::State::Failed)
        return; // another play() came meanwhile
    if (m_renewedSinceFrame)
        return; // refused again with the fresh token before a picture: the failure stays on screen
    // Where it was is where it plays on (the position stands still meanwhile; timeshift falls
    // behind live as the wall clock goes on).
    m_offset = m_mode == u"timeshift" ? now() - position() : position();
    m_played.invalidate();
    m_refusedUrl = source;
    m_refusedAt = now();
    m_client->refresh();
    Q_EMIT positionChanged();
}

void DvrPlayback::onEnded(const QUrl &source)
{
    if (!isActive() || m_player->source() != source || m_player->state() != hal::Player::State::Failed)
        return; // another play() came meanwhile
    if (m_mode == u"timeshift") { // the archive's playlist ends only when the archive stops
        stop();
        Q_EMIT backToLive();
        return;
    }
    // Played to the end: stored as watched (what a wall-clock position says may fall short of
    // the recording's length when the source ran slower than real time).
    m_offset = m_duration;
    m_played.invalidate();
    stop();
    Q_EMIT ended();
}

qint64 DvrPlayback::now() const
{
    return QDateTime::currentSecsSinceEpoch();
}

qint64 DvrPlayback::position() const
{
    const qint64 at = m_offset + (m_paused || !m_played.isValid() ? 0 : wallSecondsAfter(m_played.elapsed()));
    if (m_mode == u"timeshift")
        return std::max<qint64>(0, now() - at);
    return std::min(at, m_duration);
}

qint64 DvrPlayback::wallSecondsAfter(qint64 playedMs) const
{
    // The player plays the media from its first segment's start: the recording's timeline after
    // `playedMs` of it is that segment's date, and across a hole in the dates (a source that
    // stalled, a gap) the next segment's date.
    if (m_dates.isEmpty())
        return playedMs / 1000;
    const double played = playedMs / 1000.0;
    const DvrClient::SegmentDate *at = &m_dates.first();
    for (const DvrClient::SegmentDate &d : m_dates) {
        if (d.mediaSeconds > played)
            break;
        at = &d;
    }
    return qint64((at->wallMs - m_dates.first().wallMs) / 1000.0 + std::max(0.0, played - at->mediaSeconds));
}

QString DvrPlayback::positionText() const
{
    if (m_mode == u"timeshift")
        return tr("%1 behind live").arg(clock(position()));
    return clock(position()) + u" / "_qs + clock(m_duration);
}

qreal DvrPlayback::progress() const
{
    if (m_mode != u"timeshift")
        return m_duration > 0 ? std::clamp(qreal(position()) / qreal(m_duration), 0.0, 1.0) : 0.0;
    const qint64 live = now();
    qint64 from = m_client->archiveStart(m_channel);
    if (m_client->archiveHours() > 0)
        from = std::max(from, live - qint64(m_client->archiveHours()) * 3600);
    if (from <= 0 || from >= live)
        return 1.0;
    return std::clamp(qreal(live - position() - from) / qreal(live - from), 0.0, 1.0);
}

qreal DvrPlayback::availableFrom() const
{
    if (m_mode != u"catchup" || m_duration <= 0)
        return 0.0;
    return std::clamp(qreal(m_client->archiveStart(m_channel) - m_start) / qreal(m_duration), 0.0, 1.0);
}

qreal DvrPlayback::availableTo() const
{
    if (m_duration <= 0)
        return 1.0;
    if (m_mode == u"recording" && m_recordStart > 0)
        return std::clamp(qreal(now() - m_recordStart) / qreal(m_duration), 0.0, 1.0);
    if (m_mode == u"catchup")
        return std::clamp(qreal(now() - m_start) / qreal(m_duration), 0.0, 1.0);
    return 1.0;
}

void DvrPlayback::playFrom(qint64 offset)
{
    m_offset = offset;
    m_played.invalidate();
    m_dates.clear();
    m_refusedUrl.clear();
    m_renewedSinceFrame = false;
    const QUrl url = urlFrom(offset);
    m_urlExpires = m_mode == u"recording" ? 0 : m_client->archiveTokenExpires(m_channel);
    m_urlLife = m_urlExpires - now();
    m_player->play(url);
    setPaused(false);
    m_tick.start();
    Q_EMIT positionChanged();
    // diver cuts at a segment's start, before the point asked for (or after it, past a gap):
    // the position counts from where the cut really starts, so it shows what plays. A
    // recording's X-Playlist-Start counts from the recording's start; a range's from the point
    // asked for (the range begins there).
    const qint64 base = m_mode == u"recording" ? 0 : offset;
    const quint64 play = ++m_playNumber;
    m_client->playlistStart(url, [this, play, base](std::optional<double> seconds, QList<DvrClient::SegmentDate> dates) {
        if (play != m_playNumber || !isActive() || m_paused)
            return; // another play() (a seek, a stop) came meanwhile
        // The position follows the recording's dates, not the media's seconds (they part at a
        // hole in the dates).
        m_dates = std::move(dates);
        Q_EMIT positionChanged();
        if (!seconds)
            return; // not said
        // (A first segment begun before the recording or programme did counts from its start.)
        m_offset = m_mode == u"timeshift" ? base + qRound64(*seconds) : std::max<qint64>(0, base + qRound64(*seconds));
        Q_EMIT positionChanged();
    });
}

QUrl DvrPlayback::urlFrom(qint64 offset) const
{
    if (m_mode == u"recording")
        return m_client->recordingUrl(m_recordingId, offset);
    if (m_mode == u"catchup")
        return m_client->archiveUrl(m_channel, m_start + offset, std::max<qint64>(1, m_duration - offset));
    return m_client->archiveUrl(m_channel, offset);
}

void DvrPlayback::setPaused(bool paused)
{
    if (paused == m_paused)
        return;
    m_paused = paused;
    Q_EMIT pausedChanged();
}

bool DvrPlayback::playRecording(int row)
{
    const QVariantMap r = m_client->recordings()->get(row);
    if (r.isEmpty())
        return false;
    m_mode = QStringLiteral("recording");
    m_recordingId = r.value(u"recordingId"_qs).toLongLong();
    m_title = r.value(u"title"_qs).toString();
    m_duration = r.value(u"duration"_qs).toLongLong();
    m_recordStart = r.value(u"state"_qs).toString() == u"recording" ? r.value(u"recordStart"_qs).toLongLong() : 0;
    qint64 from = r.value(u"position"_qs).toLongLong();
    if (from >= m_duration - 10) // watched to the end: again from the start
        from = 0;
    from = std::min(from, playableEnd());
    Q_EMIT activeChanged();
    playFrom(from);
    return true;
}

bool DvrPlayback::watchFromStart(int airing)
{
    const auto guide = m_client->store()->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount())
        return false;
    const epg::Airing a = guide->airing(quint32(airing));
    if (!m_client->isArchived(int(a.channel)) || a.start >= now() || a.stop <= m_client->archiveStart(int(a.channel)))
        return false;
    m_mode = QStringLiteral("catchup");
    m_channel = int(a.channel);
    m_start = a.start;
    m_duration = a.stop - a.start;
    m_title = guide->title(a.programme);
    Q_EMIT activeChanged();
    // A programme that began before the archive did plays from the archive's beginning, and the
    // position says how far into the programme that is.
    playFrom(std::clamp<qint64>(m_client->archiveStart(m_channel) - a.start, 0, playableEnd()));
    return true;
}

QString DvrPlayback::channelTitle(int channel) const
{
    const auto guide = m_client->store()->guide();
    if (!guide || channel < 0 || channel >= guide->channelCount())
        return {};
    const int number = guide->channelNumber(channel);
    return number > 0 ? QString::number(number) + u' ' + guide->channelName(channel) : guide->channelName(channel);
}

bool DvrPlayback::pauseLive(int channel)
{
    if (!m_client->isArchived(channel))
        return false;
    m_mode = QStringLiteral("timeshift");
    m_channel = channel;
    m_title = channelTitle(channel);
    m_duration = 0;
    m_offset = now();
    m_played.invalidate();
    m_player->stop();
    setPaused(true);
    m_tick.start();
    Q_EMIT activeChanged();
    Q_EMIT positionChanged();
    return true;
}

bool DvrPlayback::rewindLive(int channel, int seconds)
{
    if (!m_client->isArchived(channel))
        return false;
    m_mode = QStringLiteral("timeshift");
    m_channel = channel;
    m_title = channelTitle(channel);
    m_duration = 0;
    Q_EMIT activeChanged();
    playFrom(now() - seconds);
    return true;
}

void DvrPlayback::togglePause()
{
    if (!isActive())
        return;
    if (m_paused) {
        playFrom(m_offset);
        return;
    }
    // What is on screen now is where play resumes.
    m_offset = m_mode == u"timeshift" ? now() - position() : position();
    m_refusedUrl.clear();
    m_player->stop();
    setPaused(true);
    Q_EMIT positionChanged();
}

void DvrPlayback::seekBy(int seconds)
{
    if (!isActive())
        return;
    if (m_mode == u"timeshift") {
        const qint64 at = now() - position() + seconds;
        if (at >= now() - 2) {
            stop();
            Q_EMIT backToLive();
            return;
        }
        playFrom(at);
        return;
    }
    playFrom(std::clamp<qint64>(position() + seconds, 0, playableEnd()));
}

qint64 DvrPlayback::playableEnd() const
{
    // The recorder cuts a segment every few seconds; its newest is about that far behind.
    constexpr qint64 kRecordedBehindSeconds = 3;
    qint64 end = m_duration - 1;
    if (m_mode == u"recording" && m_recordStart > 0)
        end = std::min(end, now() - m_recordStart - kRecordedBehindSeconds);
    else if (m_mode == u"catchup") // a programme still on, watched from its start
        end = std::min(end, now() - m_start - kRecordedBehindSeconds);
    return std::max<qint64>(0, end);
}

void DvrPlayback::stop()
{
    if (!isActive())
        return;
    if (m_mode == u"recording")
        m_client->savePosition(m_recordingId, position());
    m_tick.stop();
    m_mode.clear();
    m_played.invalidate();
    m_refusedUrl.clear();
    setPaused(false);
    Q_EMIT activeChanged();
    m_zapper->retune();
}

} // namespace iptv::hubris
