// diver's HTTP API (JSON), playback (HLS VOD/EVENT playlists and segments with byte ranges) and
// catch-up of archived channels. Every route but /healthz and /metrics needs an identity: a box's
// ticket (Authorization: Bearer <ticket>, or ?ticket= where a player cannot set headers) or the
// admin token; a playlist and its segments also a playback token (?playback=, playbacktoken.h).
// A box sees its own rules and recordings only; an operator sees everyone's.

#include "diverserver.h"

#include <core/httprouter.h>
#include <core/httputil.h>
#include <core/secrets.h>
#include <core/sqldatabase.h>
#include <dvr/archive.h>
#include <dvr/playout.h>
#include <dvr/playoutthumbnails.h>
#include <dvr/recorder.h>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHttpServerRequest>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QTimer>
#include <QUrlQuery>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <utility>

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>


Q_DECLARE_LOGGING_CATEGORY(lcDiver)

namespace iptv::diver {

using http::ApiError;
using http::Reply;
using http::RouteContext;
using Method = http::Router::Method;

namespace {

QStringList sortedList(const QSet<QString> &set)
{
    QStringList list(set.cbegin(), set.cend());
    list.sort();
    return list;
}

QJsonObject ruleJson(const dvr::RecordingRule &rule)
{
    return rule.toJson();
}

/// Airings for a box: `channel` the id (for machines), `channelName` as a viewer knows it.
QJsonArray refs(const QList<dvr::AiringRef> &list, const dvr::ChannelNames &names)
{
    QJsonArray out;
    for (const auto &a : list)
        out.append(QJsonObject{{u"rule"_qs, a.ruleId}, {u"channel"_qs, a.channelId}, {u"channelName"_qs, names(a.channelId)},
                               {u"start"_qs, a.start}, {u"stop"_qs, a.stop}, {u"title"_qs, a.title}});
    return out;
}

/// Stands for the title and channel of another viewer's airing in what a box is told
/// (skippedJson): the scheduler's text names it `"<title>" on <channel> at <time>`.
const QString kOtherAiring = QStringLiteral("\x1e");

/// A skipped airing's detail with another viewer's airings (kOtherAiring) as "another recording".
QString anonymousText(QString detail)
{
    static const QRegularExpression other(QStringLiteral("\"\x1e\" on \x1e at ([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2})(, rule 0)?"));
    return detail.replace(other, QStringLiteral("another recording at \\1"));
}

/// Images in a thumbnail track at most: a long recording gets them further apart than `every`
/// (a day's recording every 2 s would be 43,200 decodes).
constexpr int kMaxThumbnails = 500;
/// GET /api/recordings: recordings a page when ?cursor= comes without ?limit=, and at most.
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

/// A list's ?limit= and ?cursor= (docs/diver-api.md, "Paging").
struct PageRequest
{
    bool paged = false; ///< either was given: a page with "next", else the whole list
    int limit = kDefaultPageSize;
    QString cursor;     ///< the page before's "next"; empty: the first page
};

std::optional<PageRequest> pageRequest(const RouteContext &c, QString *error)
{
    PageRequest page;
    page.paged = c.hasQuery("limit") || c.hasQuery("cursor");
    if (c.hasQuery("limit")) {
        bool ok = false;
        page.limit = c.query("limit").toInt(&ok);
        if (!ok || page.limit < 1 || page.limit > kMaxPageSize) {
            *error = QStringLiteral("limit \"%1\": a whole number from 1 to %2 (items a page)").arg(c.query("limit").left(20)).arg(kMaxPageSize);
            return std::nullopt;
        }
    }
    page.cursor = c.query("cursor");
    if (c.hasQuery("cursor") && page.cursor.isEmpty()) {
        *error = u"cursor: empty (leave it out for the first page; then pass the \"next\" of the page before)"_qs;
        return std::nullopt;
    }
    return page;
}

/// A rule list's cursor: the last id of a page (rules are listed by id, which never changes).
QString ruleCursorText(qint64 lastId)
{
    return pageCursorText(QLatin1StringView("k1."), {lastId});
}

std::optional<qint64> ruleCursorFrom(const QString &text, QString *error)
{
    const auto values = pageCursorValues(text, QLatin1StringView("k1."), 1, error);
    return values ? std::optional<qint64>(values->at(0)) : std::nullopt;
}

/// The credential a request carries: a bearer header, else ?ticket= or ?token=.
QByteArray credential(const RouteContext &c)
{
    const QByteArray auth = c.request.value("Authorization").trimmed();
    if (auth.startsWith("Bearer "))
        return auth.mid(7).trimmed();
    if (c.hasQuery("ticket"))
        return c.query("ticket").toLatin1();
    return c.query("token").toLatin1();
}

/// Beyond the content's length, how long a playback token lasts (a player's stalls, a slow start):
/// a pause stops the player, and play resumes with a fresh URL.
constexpr qint64 kPlaybackMarginSeconds = 6 * 3600;

/// The query a playlist's segment lines carry: a box's playback token (?playback=), else the
/// operator's credential as it came (?ticket=), so that the player fetches the segments as it
/// fetched the playlist.
struct SegmentQuery
{
    QByteArray name;
    QByteArray value;
};

/// A playlist whose segment lines carry `query`.
QByteArray withQuery(const QByteArray &playlist, const SegmentQuery &query)
{
    if (query.value.isEmpty())
        return playlist;
    const QByteArray suffix = '?' + query.name + '=' + QUrl::toPercentEncoding(QString::fromLatin1(query.value));
    QByteArray out;
    out.reserve(playlist.size() + playlist.count('\n') * suffix.size());
    for (const QByteArray &line : playlist.split('\n')) {
        if (!out.isEmpty())
            out += '\n';
        out += line;
        if (!line.isEmpty() && !line.startsWith('#'))
            out += suffix;
    }
    return out;
}

/// What a playlist request asks besides its route's parameters, kept for an answer that may
/// come later (the request's context does not outlive its handler).
struct PlaylistAsk
{
    QStringList params;
    double startSeconds = 0; ///< ?start=, 0: none
    SegmentQuery query;      ///< carried onto the segment URIs (a playback token, an operator's ticket)
};
PlaylistAsk playlistAsk(const RouteContext &c)
{
    return {c.params, c.hasQuery("start") ? c.query("start").toDouble() : 0, {}};
}

/// An answer to a playlist request: the reply, or none yet (a growing playlist that has no
/// segment from the point asked for on: the one that will hold it is being written, or is yet
/// to be), with that point and the longest a segment lasts.
struct PlaylistAttempt
{
    std::optional<Reply> reply;
    qint64 wantMs = 0;
    int targetSeconds = 0;
};

/// The playlist from `?start=<seconds>` on (a box's seek or resume: its player plays URLs only),
/// seconds of the wall clock from `originMs` (the recording's start, the range's start): see
/// dvr::cutPlaylistAt(). X-Playlist-Start says where its first segment really starts, in seconds
/// from `originMs` (before the point asked for when that is inside a segment, after it when in a
/// gap; negative for a range whose first segment began before it), so that a box shows the
/// position of what plays. A growing playlist with no segment from there on (or none at all) is
/// no answer yet (RFC 8216 6.2.1: whatever stood in for that segment, the next reload would
/// drop): the attempt says from which moment on a segment is wanted, `targetSeconds` being the
/// longest a segment lasts.
PlaylistAttempt playlistReply(const QByteArray &playlist, bool growing, const PlaylistAsk &ask, qint64 originMs,
                              int targetSeconds, const std::function<void(Reply &)> &decorate = {})
{
    const qint64 atMs = ask.startSeconds > 0 ? originMs + qRound64(ask.startSeconds * 1000) : 0;
    const dvr::PlaylistCut cut = dvr::cutPlaylistAt(playlist, atMs);
    if (growing && (cut.pastEnd || cut.startMs == 0))
        return {std::nullopt, qMax(atMs, originMs), targetSeconds};
    Reply reply{200, withQuery(cut.playlist, ask.query), "application/vnd.apple.mpegurl", {}};
    if (cut.startMs > 0)
        reply.addHeader("X-Playlist-Start", QByteArray::number((cut.startMs - originMs) / 1000.0, 'f', 3));
    if (decorate)
        decorate(reply);
    return {std::move(reply), 0, targetSeconds};
}

/// Answers a playlist request once `attempt` has an answer: at once, or, for a growing playlist
/// whose segment from the point asked for is being written, when it is (polled every 200 ms up
/// to `holdUntilMs`). A point the clock has not reached by then (a seek or a range ahead of
/// the live edge) is 503 at once, with Retry-After saying when it has aired; one not written by
/// then (an archive or a source that stalled) is 503 when the hold ends, Retry-After a
/// segment's longest. No playlist is better than one the next reload contradicts.
void answerWhenListed(QObject *context, qint64 holdUntilMs, std::function<PlaylistAttempt()> attempt,
                      http::Router::Respond respond)
{
    PlaylistAttempt a = attempt();
    if (a.reply)
        return respond(std::move(*a.reply));
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    if (nowMs >= holdUntilMs || a.wantMs > holdUntilMs) {
        const qint64 waitMs = a.wantMs > holdUntilMs ? a.wantMs - nowMs : a.targetSeconds * 1000LL;
        const qint64 waitS = qMax<qint64>(1, (waitMs + 999) / 1000);
        Reply r = Reply::error(503, u"not-recorded-yet"_qs,
                               QStringLiteral("nothing is recorded yet from the point asked for on; it is expected in %1 s").arg(waitS));
        r.addHeader("Retry-After", QByteArray::number(waitS));
        return respond(std::move(r));
    }
    QTimer::singleShot(200, context, [context, holdUntilMs, attempt = std::move(attempt), respond = std::move(respond)]() mutable {
        answerWhenListed(context, holdUntilMs, std::move(attempt), std::move(respond));
    });
}

/// What a playlist of a range of an archive covers, for a player or a box that asks:
/// X-Archive-Coverage: growing|complete|partial, and X-Archive-Missing: what the archive lacks of
/// the range, "<from>-<to>" in Unix seconds, comma-separated (absent when nothing is missing).
void addCoverageHeaders(Reply &reply, const dvr::RangeCoverage &coverage)
{
    reply.addHeader("X-Archive-Coverage", dvr::coverageStateName(coverage.state).toLatin1());
    QByteArrayList missing;
    for (const dvr::TimeRange &m : coverage.missing)
        missing << QByteArray::number(m.fromMs / 1000) + '-' + QByteArray::number((m.toMs + 999) / 1000);
    if (!missing.isEmpty())
        reply.addHeader("X-Archive-Missing", missing.join(','));
}

/// Files up to this size are answered from memory, larger ones streamed (FileStreamer's chunk).
constexpr qint64 kInMemoryFileBytes = 256 * 1024;

/// A file, whole or the one byte range asked for (http::byteRange, RFC 9110 14): 206 with
/// Content-Range, 416 for a range that starts beyond it, 200 whole for a Range header that is not
/// one valid byte range (ignored, as RFC 9110 allows). A file larger than kInMemoryFileBytes is
/// streamed from disk by the router as the client reads (at most FileStreamHighWater queued per
/// answer), never read whole: a client asking on many connections and reading none held every
/// segment in memory. A file that is there but cannot be opened (out of descriptors) is 503 with
/// the reason, not 404.
Reply fileReply(const QString &path, const QByteArray &mime, const QByteArray &rangeHeader)
{
    const QFileInfo info(path);
    if (!info.isFile())
        return Reply::error(ApiError::notFound(QStringLiteral("no segment %1").arg(info.fileName())));
    const qint64 size = info.size();
    const http::ByteRange range = http::byteRange(rangeHeader, size);
    Reply r{200, {}, mime, {}};
    if (size <= kInMemoryFileBytes) {
        // Small (a thumbnail, a short segment): read here and answered on a connection that
        // stays open, as much memory as one streamed answer's queue at most.
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly)) {
            Reply e = Reply::error(503, u"unavailable"_qs, QStringLiteral("cannot open %1 now: %2").arg(info.fileName(), f.errorString()));
            e.addHeader("Retry-After", "5");
            return e;
        }
        r.body = f.readAll();
    } else {
        r.filePath = path;
    }
    r.addHeader("Accept-Ranges", "bytes");
    if (range.kind == http::ByteRange::Whole) {
        // Never changes once listed, but asked for with a credential: a shared cache (a proxy, a
        // CDN) must not keep it for others (RFC 9111 3.5: "public" would let it), the player may.
        r.addHeader("Cache-Control", "private, max-age=86400");
        return r;
    }
    if (range.kind == http::ByteRange::Unsatisfiable) {
        Reply e = Reply::error(416, u"range-not-satisfiable"_qs,
                               QStringLiteral("range \"%1\" is outside the %2 bytes of the segment")
                                   .arg(QString::fromLatin1(rangeHeader.left(80)))
                                   .arg(size));
        e.addHeader("Content-Range", "bytes */" + QByteArray::number(size));
        return e;
    }
    r.status = 206;
    if (r.filePath.isEmpty()) {
        r.body = r.body.mid(range.first, range.last - range.first + 1);
    } else {
        r.fileOffset = range.first;
        r.fileLength = range.last - range.first + 1;
    }
    r.addHeader("Content-Range",
                "bytes " + QByteArray::number(range.first) + '-' + QByteArray::number(range.last) + '/' + QByteArray::number(size));
    return r;
}

/// "20261206T070000Z" and "seg-12.ts" (of a writer with an epoch: "seg-12-e3.ts") or "thumb-12.jpg":
/// what an archive holds, nothing that climbs out of it.
bool safeSegmentPath(const QString &chunk, const QString &file)
{
    static const QRegularExpression chunkRe(QStringLiteral("^[0-9]{8}T[0-9]{6}Z$|^[A-Za-z0-9_-]{1,64}$"));
    static const QRegularExpression fileRe(QStringLiteral("^seg-[0-9]{1,18}(-e[0-9]{1,18})?\\.ts$|^thumb-[0-9]{1,18}\\.jpg$"));
    return chunkRe.match(chunk).hasMatch() && fileRe.match(file).hasMatch();
}

/// Why a path under a recording or an archive is refused: what was asked, of what, and what is served there.
QString notASegment(const QString &chunk, const QString &file, const QString &of)
{
    return QStringLiteral("\"%1/%2\" of %3 is not a segment or a thumbnail (<chunk>/seg-<n>.ts, <chunk>/thumb-<n>.jpg)")
        .arg(chunk.left(40), file.left(40), of);
}

QByteArray mimeOf(const QString &file)
{
    return file.endsWith(u".jpg") ? QByteArrayLiteral("image/jpeg") : QByteArrayLiteral("video/mp2t");
}

/// A WebVTT thumbnail track with `query` on every image URI (as withQuery does for a playlist):
/// cue lines are the ones that are neither the header, a timing nor empty.
QByteArray vttWithQuery(const QByteArray &track, const SegmentQuery &query)
{
    if (query.value.isEmpty())
        return track;
    const QByteArray suffix = '?' + query.name + '=' + QUrl::toPercentEncoding(QString::fromLatin1(query.value));
    QByteArray out;
    for (const QByteArray &line : track.split('\n')) {
        if (!out.isEmpty())
            out += '\n';
        out += line;
        if (!line.isEmpty() && !line.startsWith("WEBVTT") && !line.contains("-->"))
            out += suffix;
    }
    return out;
}

/// A recording in progress on an archived channel counts as recorded already; the plan then lists
/// its own airing as "already recorded" by itself, which is no news to the viewer.
bool isItself(const dvr::SkippedAiring &s)
{
    if (s.reason != dvr::SkipReason::AlreadyRecorded)
        return false;
    return std::any_of(s.relatedTo.begin(), s.relatedTo.end(), [&](const dvr::AiringRef &r) {
        return r.channelId == s.airing.channelId && r.start == s.airing.start;
    });
}

/// What a box is not told about: the above, and an airing skipped that has begun (a recording the
/// viewer stopped is in the library; what is on is not to come, as a planned airing that began).
bool isNoNews(const dvr::SkippedAiring &s, qint64 now)
{
    return isItself(s) || (s.reason == dvr::SkipReason::Cancelled && s.airing.start <= now);
}

/// The segments of its copy a viewer's recording holds: every one, or, for a recording the viewer
/// stopped while the copy records on for others, those up to the stop (the one being cut then
/// included); for one whose playlist ended (RecordingRow::spanEnd), those it listed then, however
/// the copy is recorded again later for another viewer. Its playlist, thumbnails, figures and
/// segment route all serve this span.
QList<dvr::ArchiveSegment> spanOf(const dvr::ArchiveReader &copy, const RecordingRow &r)
{
    QList<dvr::ArchiveSegment> span = r.stopped != 0 ? copy.segments(0, r.recordStop * 1000) : copy.segments();
    if (r.spanEnd >= 0)
        span.erase(std::remove_if(span.begin(), span.end(), [&](const dvr::ArchiveSegment &s) { return s.sequence >= r.spanEnd; }),
                   span.end());
    return span;
}

/// A span's end as RecordingRow::spanEnd counts it.
qint64 spanEndOf(const QList<dvr::ArchiveSegment> &span)
{
    return span.isEmpty() ? 0 : span.last().sequence + 1;
}

/// What a span holds: its segments, bytes and gaps (as its playlist marks them: a flagged
/// segment, or one that does not follow the one before).
struct SpanFigures
{
    qint64 segments = 0, bytes = 0, gaps = 0;
};
SpanFigures figuresOf(const QList<dvr::ArchiveSegment> &span)
{
    SpanFigures f;
    f.segments = span.size();
    for (qsizetype i = 0; i < span.size(); ++i) {
        const dvr::ArchiveSegment &s = span.at(i);
        f.bytes += s.bytes;
        const bool follows = i == 0 || (span.at(i - 1).sequence + 1 == s.sequence && qAbs(span.at(i - 1).endMs() - s.startMs) <= 1);
        if (i > 0 && (s.gap || !follows))
            ++f.gaps;
    }
    return f;
}

/// Whether "<chunk>/<file>" (a segment, or a segment's thumbnail) is in `span`.
bool inSpan(const QList<dvr::ArchiveSegment> &span, const QString &chunk, const QString &file)
{
    const QString path = chunk + u'/' + file;
    static const QRegularExpression thumbRe(QStringLiteral("^thumb-([0-9]{1,18})\\.jpg$"));
    const auto thumb = thumbRe.match(file);
    return std::any_of(span.cbegin(), span.cend(), [&](const dvr::ArchiveSegment &s) {
        if (thumb.hasMatch())
            return s.sequence == thumb.captured(1).toLongLong() && s.file.section(u'/', 0, 0) == chunk;
        return s.file == path;
    });
}

/// Thumbnail decoding below the recorders (nice 5, kRecorderNiceness): nice 10 and the batch
/// policy for the calling pool thread, once (Linux keeps them per thread).
void lowerThumbnailThreadPriority()
{
#ifdef Q_OS_LINUX
    thread_local bool lowered = false;
    if (std::exchange(lowered, true))
        return;
    const sched_param batch{};
    if (::sched_setscheduler(0, SCHED_BATCH, &batch) != 0 || ::setpriority(PRIO_PROCESS, id_t(::gettid()), 10) != 0)
        qCWarning(lcDiver).noquote() << "cannot lower the thumbnail thread's priority:" << std::strerror(errno);
#endif
}

} // namespace

bool DiverServer::isAdminToken(QByteArrayView given) const
{
    // The configured token's digest, made once (the constructor): digests of equal length are
    // compared in constant time, so no timing tells how much of a guess, or its length, was right.
    return secretMatches(given, m_adminTokenDigest);
}

QString DiverServer::adminTokenRefusal() const
{
    if (m_config.adminToken.isEmpty())
        return QStringLiteral("admin token not accepted: this diver has no admin token ([server] admin_token); an operator "
                              "calls from this machine without a credential, a box shows its ticket");
    return QStringLiteral("admin token not accepted: it is not this diver's [server] admin_token (a box shows its ticket, "
                          "<claims>.<signature>, instead)");
}

std::optional<Identity> DiverServer::identify(const RouteContext &c, Reply *refusal) const
{
    const QByteArray cred = credential(c);
    if (isAdminToken(cred))
        return Identity{true, {}};
    if (!cred.isEmpty()) {
        // Not the admin token: a ticket, or a wrong admin token, which is told as such (not as
        // a ticket that does not parse).
        if (!BoxAuth::looksLikeTicket(cred)) {
            *refusal = Reply::error(ApiError::unauthorized(adminTokenRefusal()));
            return std::nullopt;
        }
        QString why;
        if (auto id = m_auth.verifyTicket(cred, now(), &why))
            return id;
        *refusal = Reply::error(ApiError::unauthorized(why));
        return std::nullopt;
    }
    // Loopback without an admin token is the operator (a developer's machine), unless a proxy on
    // this machine passed the request on for someone else (it says so; RFC 7239).
    const bool proxied = !c.request.value("Forwarded").isEmpty() || !c.request.value("X-Forwarded-For").isEmpty()
        || !c.request.value("X-Real-IP").isEmpty();
    if (m_config.adminToken.isEmpty() && c.request.remoteAddress().isLoopback() && !proxied)
        return Identity{true, {}};
    *refusal = Reply::error(ApiError::unauthorized(
        QStringLiteral("a box shows its ticket (Authorization: Bearer <ticket>, from the control server); an operator the admin token")));
    return std::nullopt;
}

std::optional<Identity> DiverServer::identifyPlayback(const RouteContext &c, std::optional<PlaybackGrant> *grant, Reply *refusal) const
{
    if (!c.hasQuery("playback"))
        return identify(c, refusal);
    QString why;
    *grant = m_playback.verify(c.query("playback").toLatin1(), now(), &why);
    if (!*grant) {
        *refusal = Reply::error(ApiError::unauthorized(why));
        return std::nullopt;
    }
    return Identity{false, (*grant)->owner};
}

QByteArray DiverServer::recordingToken(const RecordingRow &r) const
{
    const qint64 length = std::max<qint64>(0, r.recordStop - r.recordStart);
    return m_playback.issue({r.owner, PlaybackTokens::recordingResource(r.id), now() + length + kPlaybackMarginSeconds});
}

qint64 DiverServer::archiveTokenExpiry() const
{
    if (m_config.archiveTokenSeconds > 0)
        return now() + m_config.archiveTokenSeconds;
    return now() + qint64(m_config.archiveHours) * 3600 + kPlaybackMarginSeconds;
}

QByteArray DiverServer::archiveToken(const QString &owner, const QString &channel) const
{
    const qint64 windowStart = now() - qint64(m_config.archiveHours) * 3600;
    return m_playback.issue({owner, PlaybackTokens::archiveResource(channel, windowStart), archiveTokenExpiry()});
}

QString DiverServer::channelNameOf(const QString &channelId) const
{
    const int index = m_guide ? m_guide->channelIndex(channelId) : -1;
    return index >= 0 ? m_guide->channelName(index) : channelId;
}

QJsonObject DiverServer::plannedJson(const dvr::PlannedRecording &p) const
{
    return {{u"rule"_qs, p.ruleId}, {u"owner"_qs, p.owner}, {u"channel"_qs, p.channelId},
            {u"channelName"_qs, channelNameOf(p.channelId)}, {u"title"_qs, p.title}, {u"start"_qs, p.start},
            {u"stop"_qs, p.stop}, {u"recordStart"_qs, p.recordStart}, {u"recordStop"_qs, p.recordStop},
            {u"node"_qs, p.nodeId}};
}

QString DiverServer::channelLabelOf(const QString &channelId) const
{
    const int index = m_guide ? m_guide->channelIndex(channelId) : -1;
    if (index < 0)
        return channelId;
    const int number = m_guide->channelNumber(index);
    return number > 0 ? QStringLiteral("%1 %2").arg(number).arg(m_guide->channelName(index)) : m_guide->channelName(index);
}

QJsonObject DiverServer::skippedJson(const dvr::SkippedAiring &s, const QSet<qint64> *viewerRules) const
{
    // The detail is read by a viewer: channels by number and name, as the box shows them; the
    // ids stay in the fields for machines.
    const dvr::ChannelNames names = [this](const QString &id) { return channelNameOf(id); };
    const auto labels = [this](const QString &id) { return channelLabelOf(id); };
    if (!viewerRules)
        return {{u"rule"_qs, s.airing.ruleId}, {u"channel"_qs, s.airing.channelId}, {u"channelName"_qs, channelNameOf(s.airing.channelId)},
                {u"title"_qs, s.airing.title}, {u"start"_qs, s.airing.start}, {u"stop"_qs, s.airing.stop},
                {u"reason"_qs, dvr::skipReasonName(s.reason)}, {u"detail"_qs, s.detail(labels)},
                {u"relatedTo"_qs, refs(s.relatedTo, names)}, {u"alternatives"_qs, refs(s.alternatives, names)}};
    // A box is not told what other viewers record (their titles, channels, rules): an airing of
    // theirs that blocks or duplicates its own is "another recording", with its times only.
    // (The alternatives are other airings in the guide, no one's recordings.)
    dvr::SkippedAiring own = s;
    QJsonArray related;
    for (dvr::AiringRef &r : own.relatedTo) {
        if (viewerRules->contains(r.ruleId)) {
            related.append(refs({r}, names).at(0));
            continue;
        }
        related.append(QJsonObject{{u"other"_qs, true}, {u"title"_qs, u"another recording"_qs}, {u"start"_qs, r.start}, {u"stop"_qs, r.stop}});
        r = {0, kOtherAiring, r.start, r.stop, kOtherAiring};
    }
    // A note names the recording that displaced this one, whoever's it is.
    if (own.note.startsWith(u"moved to make room for "))
        own.note = QStringLiteral("moved to make room for another recording");
    return {{u"rule"_qs, s.airing.ruleId}, {u"channel"_qs, s.airing.channelId}, {u"channelName"_qs, channelNameOf(s.airing.channelId)},
            {u"title"_qs, s.airing.title}, {u"start"_qs, s.airing.start}, {u"stop"_qs, s.airing.stop},
            {u"reason"_qs, dvr::skipReasonName(s.reason)}, {u"detail"_qs, anonymousText(own.detail(labels))},
            {u"relatedTo"_qs, related}, {u"alternatives"_qs, refs(s.alternatives, names)}};
}

Reply DiverServer::statusReply(const Identity &who)
{
    // The plan's size is the node's business: a box is told its own recordings and conflicts.
    qint64 planned = m_plan.recordings.size();
    qint64 conflicts = m_plan.conflicts;
    if (!who.isOperator) {
        QString error;
        QSet<qint64> mine;
        for (const auto &rule : m_rules.rules(&error, who.owner).value_or(QList<dvr::RecordingRule>{}))
            mine.insert(rule.id);
        // The box's own items (m_planIndex), not a walk of the node's plan on every poll.
        planned = m_planIndex.recordingCount(who.owner);
        conflicts = m_planIndex.conflictsOf(mine);
    }
    QJsonObject o{{u"node"_qs, m_config.nodeId}, {u"capacity"_qs, m_config.capacity}, {u"recorders"_qs, activeRecorders()},
                  {u"planned"_qs, planned}, {u"conflicts"_qs, conflicts},
                  {u"archivedChannels"_qs, QJsonArray::fromStringList(sortedList(m_archivedChannels))},
                  {u"archivesRecorded"_qs, QJsonArray::fromStringList(activeArchives())},
                  {u"archiveHours"_qs, m_config.archiveHours}};
    // Where each archive begins (UTC s): a programme that began before is caught up from
    // there, one that ended before cannot be.
    QJsonObject archiveFrom;
    for (const ActiveArchive *a : std::as_const(m_archives)) {
        if (const qint64 ms = dvr::ArchiveReader::firstSegmentMs(a->directory); ms > 0)
            archiveFrom.insert(a->channelId, ms / 1000);
    }
    o.insert(u"archiveFrom"_qs, archiveFrom);
    if (!who.isOperator) {
        // The box's playback tokens for catch-up and timeshift of each archived channel
        // (?playback= on its /catchup URLs): they outlive its ticket, as its recordings' do.
        QJsonObject tokens;
        for (const QString &channel : std::as_const(m_archivedChannels))
            tokens.insert(channel, QString::fromLatin1(archiveToken(who.owner, channel)));
        o.insert(u"archiveTokens"_qs, tokens);
        o.insert(u"archiveTokensExpire"_qs, archiveTokenExpiry());
    }
    if (m_guide)
        o.insert(u"guide"_qs, QJsonObject{{u"checksum"_qs, QString::fromLatin1(m_guide->info().checksum)},
                                          {u"channels"_qs, m_guide->channelCount()},
                                          {u"airings"_qs, qint64(m_guide->airingCount())}});
    return Reply::json(o);
}

Reply DiverServer::upcomingReply(const Identity &who)
{
    QString error;
    QSet<qint64> mine;
    // Each item's rule's kind ("single", "title", ...): a box cancels one airing of a series
    // by skipping it, never by deleting the rule, however few airings the series has left.
    QHash<qint64, QString> kinds;
    // (The database lost: the plan as it is, without the kinds, as before with no rules of the box.)
    const auto rules = m_rules.rules(&error, who.isOperator ? QString() : who.owner);
    for (const auto &rule : rules.value_or(QList<dvr::RecordingRule>{})) {
        mine.insert(rule.id);
        kinds.insert(rule.id, dvr::ruleKindName(rule.kind));
    }
    const auto withKind = [&kinds](QJsonObject item) {
        item.insert(u"ruleKind"_qs, kinds.value(item.value(u"rule"_qs).toInteger()));
        return item;
    };
    QJsonArray planned, skipped;
    const qint64 t = now();
    // What has started is in the library (GET /api/recordings), not to come.
    const auto addPlanned = [&](const dvr::PlannedRecording &p) {
        if (p.recordStart > t)
            planned.append(withKind(plannedJson(p)));
    };
    const auto addSkipped = [&](const dvr::SkippedAiring &s) {
        if (s.airing.stop > t && !isNoNews(s, t))
            skipped.append(withKind(skippedJson(s, who.isOperator ? nullptr : &mine)));
    };
    if (who.isOperator) {
        for (const auto &p : std::as_const(m_plan.recordings))
            addPlanned(p);
        for (const auto &s : std::as_const(m_plan.skipped))
            addSkipped(s);
    } else {
        // The box's own items (m_planIndex), in the plan's order, not a walk of the node's plan.
        for (const dvr::PlannedRecording *p : m_planIndex.recordingsOf(who.owner))
            addPlanned(*p);
        for (const dvr::SkippedAiring *s : m_planIndex.skippedOf(mine))
            addSkipped(*s);
    }
    int conflicts = 0;
    for (const auto &s : skipped)
        conflicts += s.toObject().value(u"reason"_qs).toString() == dvr::skipReasonName(dvr::SkipReason::Conflict);
    return Reply::json(QJsonObject{{u"planned"_qs, planned}, {u"skipped"_qs, skipped}, {u"conflicts"_qs, conflicts}});
}

QJsonObject DiverServer::recordingJson(const RecordingRow &r, const QString &base, bool playable,
                                       const QHash<qint64, CopyRow> *copies) const
{
    QString state;
    QString reason;
    qint64 segments = 0, bytes = 0, gaps = 0;
    QJsonArray missing; ///< of a range of an archive
    if (r.copyId != 0) {
        std::optional<CopyRow> copy;
        if (copies) {
            if (const auto it = copies->constFind(r.copyId); it != copies->cend())
                copy = *it;
        } else {
            QString e;
            copy = const_cast<RecordingStore &>(m_store).copy(r.copyId, &e);
        }
        if (copy) {
            state = copyStateName(copy->state);
            reason = copy->reason;
            segments = copy->segments;
            bytes = copy->bytes;
            gaps = copy->gaps;
        }
        if (const auto it = m_copies.constFind(r.copyId); it != m_copies.cend()) {
            const CopyRow now = (*it)->withFigures();
            segments = now.segments;
            bytes = now.bytes;
            gaps = now.gaps;
            reason = (*it)->recorder->reason();
        }
        if (copy && r.spanEnd >= 0 && r.stopped == 0) {
            // Its playlist ended; the copy is recorded again for another viewer (or may be).
            state = copy->state == CopyState::Failed ? copyStateName(copy->state) : u"finished"_qs;
            if (copy->state == CopyState::Recording)
                reason = QStringLiteral("complete as it ended; its stored copy is recorded again for another viewer");
        }
        // A span that ended with the copy (no more written since: as many segments as it
        // counts) has the copy's figures; the index is read only for one that differs.
        const bool spanIsCopy = r.spanEnd >= 0 && copy && copy->state != CopyState::Recording && r.spanEnd == copy->segments;
        if (copy && (r.stopped != 0 || (r.spanEnd >= 0 && !spanIsCopy))) {
            // Its own span, not the copy's: the copy may record on for other viewers.
            dvr::ArchiveReader reader;
            QString e;
            if (reader.load(copy->directory, &e)) {
                const SpanFigures f = figuresOf(spanOf(reader, r));
                segments = f.segments;
                bytes = f.bytes;
                gaps = f.gaps;
            } else {
                qCWarning(lcDiver).noquote() << "recording" << r.id << ": its copy's index does not read:" << e;
            }
        }
    } else if (const auto coverage = rangeCoverage(r, QDateTime::currentMSecsSinceEpoch())) {
        // Finished once the archive holds the range's end; partial when it stopped short of it.
        using State = dvr::RangeCoverage::State;
        state = coverage->state == State::Growing ? u"recording"_qs : coverage->state == State::Complete ? u"finished"_qs : u"partial"_qs;
        for (const dvr::TimeRange &m : coverage->missing)
            missing.append(QJsonObject{{u"from"_qs, m.fromMs / 1000}, {u"to"_qs, (m.toMs + 999) / 1000}});
        if (coverage->state == State::Partial)
            reason = coverage->coveredToMs > 0
                ? QStringLiteral("the channel's archive holds it up to %1 only (its source or recorder stopped)")
                      .arg(QDateTime::fromMSecsSinceEpoch(coverage->coveredToMs, Qt::UTC).toString(Qt::ISODate))
                : QStringLiteral("the channel's archive holds nothing of it (its source or recorder stopped)");
    } else {
        state = now() < r.recordStop ? u"recording"_qs : u"finished"_qs;
        reason = !archiveFolderOf(r.channelId).isEmpty() ? QStringLiteral("the channel's archive cannot be read on this node")
                                                         : QStringLiteral("the channel's archive is not stored on this node");
    }
    if (r.stopped != 0) {
        // Ends when the viewer stopped it, whatever its copy goes on recording for others.
        state = u"finished"_qs;
        reason = QStringLiteral("stopped by the viewer");
    }
    QJsonObject o{{u"id"_qs, r.id}, {u"owner"_qs, r.owner}, {u"rule"_qs, r.ruleId}, {u"channel"_qs, r.channelId},
                  {u"channelName"_qs, channelNameOf(r.channelId)}, {u"title"_qs, r.title}, {u"start"_qs, r.airingStart},
                  {u"stop"_qs, r.airingStop}, {u"recordStart"_qs, r.recordStart}, {u"recordStop"_qs, r.recordStop},
                  {u"state"_qs, state}, {u"reason"_qs, reason}, {u"kept"_qs, r.kept},
                  {u"keepUntil"_qs, r.keepUntil}, {u"position"_qs, r.positionSeconds},
                  {u"segments"_qs, segments}, {u"bytes"_qs, bytes}, {u"gaps"_qs, gaps},
                  {u"archived"_qs, r.copyId == 0}};
    if (r.copyId == 0)
        o.insert(u"missing"_qs, missing);
    QString playlist = QStringLiteral("%1/play/%2/index.m3u8").arg(base).arg(r.id);
    if (playable)
        playlist += u"?playback="_qs + QString::fromLatin1(QUrl::toPercentEncoding(QString::fromLatin1(recordingToken(r))));
    o.insert(u"playlist"_qs, playlist);
    return o;
}

void DiverServer::setupRoutes()
{
    http::Router *r = m_router;
    r->setDefaultHeader("Cache-Control", "no-store");

    auto baseOf = [this](const RouteContext &c) {
        if (!m_config.publicUrl.isEmpty())
            return m_config.publicUrl;
        const QByteArray host = c.request.value("Host");
        return host.isEmpty() ? QStringLiteral("http://127.0.0.1:%1").arg(httpPort()) : u"http://"_qs + QString::fromLatin1(host);
    };
    // The identity or the refusal, in one place for every route below.
#define DIVER_IDENTIFY(c)                                                                                                  \
    Reply refusal;                                                                                                     \
    const auto who = identify(c, &refusal);                                                                            \
    if (!who)                                                                                                          \
        return refusal;
    // An answer made later (addAsyncRoute).
#define DIVER_IDENTIFY_ASYNC(c, respond)                                                                                   \
    Reply refusal;                                                                                                     \
    const auto who = identify(c, &refusal);                                                                            \
    if (!who)                                                                                                          \
        return respond(refusal);
    // A playback route's: also a playback token, whose grant the route checks against what is asked.
#define DIVER_IDENTIFY_PLAYBACK(c)                                                                                         \
    Reply refusal;                                                                                                     \
    std::optional<PlaybackGrant> grant;                                                                                \
    const auto who = identifyPlayback(c, &grant, &refusal);                                                            \
    if (!who)                                                                                                          \
        return refusal;
    // A token for recording <id> opens that recording's playlist, segments and thumbnails only.
    auto recordingRefused = [](const RouteContext &c, const std::optional<PlaybackGrant> &grant) -> std::optional<Reply> {
        if (!grant || grant->resource == PlaybackTokens::recordingResource(c.params.value(0).toLongLong()))
            return std::nullopt;
        return Reply::error(ApiError::forbidden(
            QStringLiteral("this playback token is for %1, not recording %2").arg(grant->resource, c.params.value(0).left(20))));
    };
    // What a player that fetched a playlist with a credential in its URL fetches the segments
    // (and thumbnails) with: a box's playback token (the one it came with, or one made now when
    // it came with its ticket, which expires within the hour); an operator's ?ticket= as it came.
    // A client that sent a header sends it again: its URIs carry nothing.
    auto segmentQuery = [](const RouteContext &c, const Identity &who, const std::optional<PlaybackGrant> &grant,
                           const std::function<QByteArray()> &token) -> SegmentQuery {
        if (grant)
            return {"playback", c.query("playback").toLatin1()};
        if (!c.hasQuery("ticket"))
            return {};
        if (!who.isOperator)
            return {"playback", token()};
        return {"ticket", c.query("ticket").toLatin1()};
    };

    // ---- health and metrics (no authentication: load balancers and Prometheus)
    r->addRoute(Method::Get, u"/healthz"_qs, [this](RouteContext &c) {
        const bool ok = m_guide != nullptr;
        // Degraded while a database connection is lost: recordings and playback go on, rules
        // and the library cannot change. 200 for load balancers; ?strict=1 makes it 503.
        const QStringList problems = lostSqlConnections();
        const bool strict = http::parseBool(c.query("strict"));
        QJsonObject body{{u"status"_qs, !ok ? u"starting"_qs : problems.isEmpty() ? u"ok"_qs : u"degraded"_qs},
                         {u"node"_qs, m_config.nodeId}, {u"planner"_qs, m_isPlanner}, {u"recorders"_qs, activeRecorders()}, {u"ticketKey"_qs, m_auth.hasKeys()},
                         {u"problems"_qs, QJsonArray::fromStringList(problems)}};
        if (!ok)
            body.insert(u"detail"_qs, u"no guide yet"_qs);
        return Reply::json(body, !ok || (strict && !problems.isEmpty()) ? 503 : 200);
    });
    r->addRoute(Method::Get, u"/metrics"_qs, [this](RouteContext &) {
        return Reply{200, m_metrics.render(), "text/plain; version=0.0.4; charset=utf-8", {}};
    });

    r->addRoute(Method::Get, u"/api/status"_qs, [this](RouteContext &c) {
        DIVER_IDENTIFY(c)
        return statusReply(*who);
    });

    // ---- rules
    // What became of a rule, at once: planned airings, and every airing not recorded with why.
    auto ruleOutcome = [this](const dvr::RecordingRule &rule, const Identity &who) {
        // A box is told its own airings only (skippedJson): its rules' ids.
        std::optional<QSet<qint64>> viewerRules;
        if (!who.isOperator) {
            QString error;
            viewerRules.emplace();
            for (const auto &own : m_rules.rules(&error, who.owner).value_or(QList<dvr::RecordingRule>{}))
                viewerRules->insert(own.id);
        }
        // The rule's items (m_planIndex: its recordings are its owner's), not a walk of the plan.
        QJsonArray planned, skipped;
        for (const dvr::PlannedRecording *p : m_planIndex.recordingsOf(rule.owner)) {
            if (p->ruleId == rule.id)
                planned.append(plannedJson(*p));
        }
        const qint64 t = now();
        for (const dvr::SkippedAiring *s : m_planIndex.skippedOf(rule.id)) {
            if (!isNoNews(*s, t))
                skipped.append(skippedJson(*s, viewerRules ? &*viewerRules : nullptr));
        }
        QStringList notes;
        for (const dvr::RuleReport *rep : m_planIndex.reportsOf(rule.id))
            notes.append(rep->message);
        return QJsonObject{{u"rule"_qs, ruleJson(rule)}, {u"planned"_qs, planned}, {u"skipped"_qs, skipped},
                           {u"notes"_qs, QJsonArray::fromStringList(notes)}};
    };
    // The refusal of a rule past its owner's limits: `counted` rules (regex rules, `regex`).
    auto ruleLimitRefusal = [this](const QString &owner, bool regex, int counted) {
        const QString why = !regex
            ? QStringLiteral("\"%1\" has %2 rules, the limit of a box (max_rules_per_box %3): delete one first")
                  .arg(owner)
                  .arg(counted)
                  .arg(m_config.maxRulesPerBox)
            : QStringLiteral("\"%1\" has %2 regex rules, the limit of a box (max_regex_rules_per_box %3; every regex "
                             "rule is matched against every title of the guide): delete one or use a title rule")
                  .arg(owner)
                  .arg(counted)
                  .arg(m_config.maxRegexRulesPerBox);
        return Reply::error(409, u"rule-limit"_qs, why);
    };
    // The answer refusing a rule past its owner's limits, or nullopt when it fits. Read before
    // the costlier checks; RuleStore::save counts again, atomically with the write.
    auto overRuleLimit = [this, ruleLimitRefusal](const dvr::RecordingRule &rule, qint64 id, std::optional<dvr::RuleKind> oldKind,
                                                  const QString &requestKey, QString *error) -> std::optional<Reply> {
        const bool addsRule = id == 0;
        const bool addsRegex = rule.kind == dvr::RuleKind::Regex && oldKind != dvr::RuleKind::Regex;
        if (!addsRule && !addsRegex)
            return std::nullopt;
        const auto counts = m_rules.ruleCounts(rule.owner, error);
        if (!counts)
            return Reply::error(ApiError::internal(*error));
        const bool overAll = addsRule && counts->all >= m_config.maxRulesPerBox;
        const bool overRegex = addsRegex && counts->regex >= m_config.maxRegexRulesPerBox;
        if (!overAll && !overRegex)
            return std::nullopt;
        // The repeat of a request whose rule was made (the last one the limit allowed) is
        // answered with that rule, not refused.
        if (!requestKey.isEmpty()) {
            const auto saved = m_rules.hasRequest(requestKey, error);
            if (!saved)
                return Reply::error(ApiError::internal(*error));
            if (*saved)
                return std::nullopt;
        }
        return ruleLimitRefusal(rule.owner, !overAll, overAll ? counts->all : counts->regex);
    };
    // The operator's tier orders rules across viewers (priorityOrder): a box would take every
    // other viewer's streams with it.
    static const QString operatorPriorityRefusal =
        u"operatorPriority: only the operator sets a rule's tier (with the admin token); a box orders its own rules with \"priority\""_qs;
    auto saveRule = [this, ruleOutcome, overRuleLimit, ruleLimitRefusal](const RouteContext &c, const Identity &who, qint64 id, bool single, http::Router::Respond respond) {
        Reply bad;
        auto body = c.jsonBody(&bad);
        if (!body)
            return respond(bad);
        if (single && !body->contains(u"kind"_qs))
            body->insert(u"kind"_qs, u"single"_qs);
        QString error;
        auto rule = dvr::RecordingRule::fromJson(*body, &error);
        if (!rule)
            return respond(Reply::error(ApiError::badRequest(error)));
        std::optional<dvr::RuleKind> oldKind;
        if (id != 0) {
            const auto old = m_rules.rule(id, &error);
            if (!old || (!who.isOperator && old->owner != who.owner))
                return respond(Reply::error(ApiError::notFound(QStringLiteral("no rule %1").arg(id))));
            oldKind = old->kind;
            rule->id = id;
            rule->created = old->created;
            rule->owner = old->owner;
            // A change that leaves the operator's tier out keeps it (a box sends back what it read).
            if (!body->contains(u"operatorPriority"_qs))
                rule->operatorPriority = old->operatorPriority;
            else if (!who.isOperator && rule->operatorPriority != old->operatorPriority)
                return respond(Reply::error(ApiError::forbidden(operatorPriorityRefusal)));
        } else {
            if (!who.isOperator && rule->operatorPriority != 0)
                return respond(Reply::error(ApiError::forbidden(operatorPriorityRefusal)));
            rule->id = 0;
            rule->created = now();
            if (!who.isOperator)
                rule->owner = who.owner;
            else if (rule->owner.isEmpty())
                return respond(Reply::error(ApiError::badRequest(u"an operator names the rule's owner (\"owner\": the box's serial)"_qs)));
        }
        // A box that sends a new rule again (its answer was lost) names the request with an
        // Idempotency-Key: the rule is made once, and the repeat is answered with it.
        QString requestKey;
        if (const QByteArray key = c.request.value("Idempotency-Key").trimmed(); id == 0 && !key.isEmpty()) {
            if (key.size() > 255)
                return respond(Reply::error(ApiError::badRequest(u"Idempotency-Key: longer than 255 characters"_qs)));
            requestKey = rule->owner + u'\n' + QString::fromUtf8(key);
        }
        // Every rule of a box is checked and planned on every change: a box keeps a bounded
        // number (counted before the costlier checks below).
        if (auto limited = overRuleLimit(*rule, id, oldKind, requestKey, &error))
            return respond(*limited);
        if (!m_guide)
            return respond(Reply::error(503, u"no-guide"_qs, u"diver has no guide yet; retry shortly"_qs));
        if (!rule->validate(&error, m_guide.get(), now()))
            return respond(Reply::error(ApiError::badRequest(error)));
        const auto saved = m_rules.save(&*rule, {m_config.maxRulesPerBox, m_config.maxRegexRulesPerBox}, &error, requestKey);
        if (!saved) {
            // Deleted since it was read (on another node): not made again.
            QString ignored;
            if (id != 0 && !m_rules.rule(id, &ignored) && ignored.contains(u"no such rule"))
                return respond(Reply::error(ApiError::notFound(QStringLiteral("no rule %1").arg(id))));
            return respond(Reply::error(ApiError::internal(error)));
        }
        // Another node (or request) took the last place between the count above and the save.
        if (saved->outcome == dvr::RuleStore::SaveOutcome::OverRuleLimit || saved->outcome == dvr::RuleStore::SaveOutcome::OverRegexLimit)
            return respond(ruleLimitRefusal(rule->owner, saved->outcome == dvr::RuleStore::SaveOutcome::OverRegexLimit, saved->counted));
        if (saved->outcome == dvr::RuleStore::SaveOutcome::Repeated) {
            // The first of two requests sent at once may still wait for its plan: so does this one.
            if (!m_planQueued)
                return respond(Reply::json(ruleOutcome(*rule, who), 200));
            return planSoon([ruleOutcome, respond, rule = *rule, who] { respond(Reply::json(ruleOutcome(rule, who), 200)); });
        }
        m_scheduler.upsertRule(*rule);
        announce(ClusterChange::Kind::Rule, rule->id);
        // Answered with the plan that holds it: one plan for every change that came meanwhile.
        planSoon([ruleOutcome, respond, rule = *rule, who, status = id == 0 ? 201 : 200] {
            respond(Reply::json(ruleOutcome(rule, who), status));
        });
    };
    r->addRoute(Method::Get, u"/api/rules"_qs, [this](RouteContext &c) {
        DIVER_IDENTIFY(c)
        QString error;
        // Paged as GET /api/recordings is (by id: a rule made between pages comes last).
        const std::optional<PageRequest> page = pageRequest(c, &error);
        if (!page)
            return Reply::error(ApiError::badRequest(error));
        std::optional<qint64> after = 0;
        if (!page->cursor.isEmpty() && !(after = ruleCursorFrom(page->cursor, &error)))
            return Reply::error(ApiError::badRequest(error));
        const auto rules = m_rules.rules(&error, who->isOperator ? c.query("owner") : who->owner, *after,
                                         page->paged ? page->limit + 1 : -1);
        if (!rules)
            return Reply::error(ApiError::internal(error));
        const qsizetype count = page->paged ? std::min<qsizetype>(rules->size(), page->limit) : rules->size();
        QJsonArray out;
        for (qsizetype i = 0; i < count; ++i)
            out.append(ruleJson(rules->at(i)));
        QJsonObject answer{{u"rules"_qs, out}};
        if (page->paged)
            answer.insert(u"next"_qs, rules->size() > count ? QJsonValue(ruleCursorText(rules->at(count - 1).id)) : QJsonValue(QJsonValue::Null));
        return Reply::json(answer);
    });
    r->addAsyncRoute(Method::Post, u"/api/rules"_qs, [saveRule, this](RouteContext &c, http::Router::Respond respond) {
        DIVER_IDENTIFY_ASYNC(c, respond)
        saveRule(c, *who, 0, false, std::move(respond));
    });
    r->addAsyncRoute(Method::Put, u"/api/rules/<id>"_qs, [saveRule, this](RouteContext &c, http::Router::Respond respond) {
        DIVER_IDENTIFY_ASYNC(c, respond)
        saveRule(c, *who, c.params.value(0).toLongLong(), false, std::move(respond));
    });
    r->addRoute(Method::Get, u"/api/rules/<id>"_qs, [this](RouteContext &c) {
        DIVER_IDENTIFY(c)
        QString error;
        const auto rule = m_rules.rule(c.params.value(0).toLongLong(), &error);
        if (!rule || (!who->isOperator && rule->owner != who->owner))
            return Reply::error(ApiError::notFound(QStringLiteral("no rule %1").arg(c.params.value(0).left(20))));
        return Reply::json(ruleJson(*rule));
    });
    r->addAsyncRoute(Method::Delete, u"/api/rules/<id>"_qs, [this](RouteContext &c, http::Router::Respond respond) {
        DIVER_IDENTIFY_ASYNC(c, respond)
        QString error;
        const qint64 id = c.params.value(0).toLongLong();
        const auto rule = m_rules.rule(id, &error);
        if (!rule || (!who->isOperator && rule->owner != who->owner))
            return respond(Reply::error(ApiError::notFound(QStringLiteral("no rule %1").arg(c.params.value(0).left(20)))));
        if (!m_rules.remove(id, &error))
            return respond(Reply::error(ApiError::internal(error)));
        m_scheduler.removeRule(id);
        announce(ClusterChange::Kind::RuleRemoved, id);
        // Recordings already made stay in the library; the rule only plans no more (answered
        // once the plan without it is made).
        planSoon([respond] { respond(Reply{204, {}, {}, {}}); });
    });
    // {"cancelled": true|false}: skip one airing of a rule (this episode), or record it again.
    r->addRoute(Method::Put, u"/api/rules/<id>/airings/<channel>/<start>"_qs, [this, ruleOutcome](RouteContext &c) {
        DIVER_IDENTIFY(c)
        QString error;
        const qint64 id = c.params.value(0).toLongLong();
        const QString channel = c.params.value(1);
        const qint64 start = c.params.value(2).toLongLong();
        const auto rule = m_rules.rule(id, &error);
        if (!rule || (!who->isOperator && rule->owner != who->owner))
            return Reply::error(ApiError::notFound(QStringLiteral("no rule %1").arg(c.params.value(0).left(20))));
        Reply bad;
        const auto body = c.jsonBody(&bad);
        if (!body)
            return bad;
        if (body->size() != 1 || !body->value(u"cancelled"_qs).isBool())
            return Reply::error(ApiError::badRequest(
                QStringLiteral("an airing changes by \"cancelled\": true (skip it) or false (record it again), and nothing else")));
        const bool cancel = body->value(u"cancelled"_qs).toBool();
        if (!m_guide)
            return Reply::error(503, u"no-guide"_qs, u"diver has no guide yet; retry shortly"_qs);
        // The airing is one the rule matches and that is still to come: in the plan, or left out of it.
        const qint64 t = now();
        const dvr::PlannedRecording *planned = nullptr;
        for (const dvr::PlannedRecording *p : m_planIndex.recordingsOf(rule->owner))
            if (p->ruleId == id && p->channelId == channel && p->start == start)
                planned = p;
        const dvr::SkippedAiring *skipped = nullptr;
        for (const dvr::SkippedAiring *s : m_planIndex.skippedOf(id))
            if (s->airing.channelId == channel && s->airing.start == start)
                skipped = s;
        const QString airing = QStringLiteral("%1 at %2").arg(channel.left(40), QDateTime::fromSecsSinceEpoch(start, Qt::UTC).toString(Qt::ISODate));
        if (!planned && !skipped)
            return Reply::error(ApiError::notFound(QStringLiteral("rule %1 has no airing on %2 to come").arg(id).arg(airing)));
        if (cancel && ((planned && planned->recordStart <= t) || (skipped && isItself(*skipped))))
            return Reply::error(ApiError::badRequest(QStringLiteral(
                "the airing on %1 is being recorded: stop the recording instead (POST /api/recordings/<id>/stop)").arg(airing)));
        const bool ok = cancel ? m_rules.addCancelled({id, channel, start, planned ? planned->stop : skipped->airing.stop, {}}, &error)
                               : m_rules.removeCancelled(id, channel, start, &error);
        if (!ok || !reloadCancelled(&error))
            return Reply::error(ApiError::internal(error));
        announce(ClusterChange::Kind::Rule, id);
        replan(false);
        startDue(t);
        return Reply::json(ruleOutcome(*rule, *who));
    });

    // ---- "record this": a single-airing rule in one call
    r->addAsyncRoute(Method::Post, u"/api/recordings"_qs, [saveRule, this](RouteContext &c, http::Router::Respond respond) {
        DIVER_IDENTIFY_ASYNC(c, respond)
        saveRule(c, *who, 0, true, std::move(respond));
    });

    // ---- upcoming: what is planned and not started yet, with conflicts, alternatives and a reason
    // for every airing left out
    r->addRoute(Method::Get, u"/api/upcoming"_qs, [this](RouteContext &c) {
        DIVER_IDENTIFY(c)
        return upcomingReply(*who);
    });

    // ---- the library
    // Paged with ?limit= (and ?cursor=, the page before's "next"); without either, the whole list
    // as before paging (boxes in the field ask so). docs/diver-api.md, "List".
    r->addRoute(Method::Get, u"/api/recordings"_qs, [this, baseOf](RouteContext &c) {
        DIVER_IDENTIFY(c)
        QString error;
        const QString owner = who->isOperator ? c.query("owner") : who->owner;
        const std::optional<PageRequest> page = pageRequest(c, &error);
        if (!page)
            return Reply::error(ApiError::badRequest(error));
        const bool paged = page->paged;
        const int limit = page->limit;
        std::optional<RecordingCursor> after;
        if (!page->cursor.isEmpty() && !(after = RecordingCursor::fromText(page->cursor, &error)))
            return Reply::error(ApiError::badRequest(error));
        // One row past the page says whether there is a next one.
        const auto rows = paged ? m_store.recordingsPage(&error, owner, limit + 1, after) : m_store.recordings(&error, owner);
        if (!rows)
            return Reply::error(ApiError::internal(error));
        const qsizetype count = paged ? std::min<qsizetype>(rows->size(), limit) : rows->size();
        // Their copies in one query, not one a recording: a page's by id; the whole list's, a
        // box's (or one viewer's) only, not the node's.
        std::optional<QList<CopyRow>> copyRows;
        if (paged) {
            QList<qint64> ids;
            for (qsizetype i = 0; i < count; ++i)
                if (rows->at(i).copyId != 0)
                    ids.append(rows->at(i).copyId);
            copyRows = m_store.copiesWithIds(ids, &error);
        } else {
            copyRows = owner.isEmpty() ? m_store.copies(&error) : m_store.copiesOfOwner(owner, &error);
        }
        if (!copyRows)
            return Reply::error(ApiError::internal(error));
        QHash<qint64, CopyRow> copies;
        copies.reserve(copyRows->size());
        for (const CopyRow &copy : *copyRows)
            copies.insert(copy.id, copy);
        QJsonArray out;
        const QString base = baseOf(c);
        for (qsizetype i = 0; i < count; ++i)
            out.append(recordingJson(rows->at(i), base, !who->isOperator, &copies));
        QJsonObject answer{{u"recordings"_qs, out}};
        if (paged) {
            // The last row's place: a row added or deleted before the next page is asked moves
            // nothing across it. null: this was the last page.
            QJsonValue next(QJsonValue::Null);
            if (rows->size() > limit)
                next = RecordingCursor{rows->at(count - 1).airingStart, rows->at(count - 1).id}.toText();
            answer.insert(u"next"_qs, next);
        }
        return Reply::json(answer);
    });
    auto findRecordingId = [this](const QString &id, const Identity &who, Reply *notFound) -> std::optional<RecordingRow> {
        QString error;
        const auto row = m_store.recording(id.toLongLong(), &error);
        if (!row || row->deleted || (!who.isOperator && row->owner != who.owner)) {
            *notFound = Reply::error(ApiError::notFound(QStringLiteral("no recording %1").arg(id.left(20))));
            return std::nullopt;
        }
        return row;
    };
    auto findRecording = [findRecordingId](const RouteContext &c, const Identity &who, Reply *notFound) {
        return findRecordingId(c.params.value(0), who, notFound);
    };
    r->addRoute(Method::Get, u"/api/recordings/<id>"_qs, [this, findRecording, baseOf](RouteContext &c) {
        DIVER_IDENTIFY(c)
        Reply missing;
        const auto row = findRecording(c, *who, &missing);
        if (!row)
            return missing;
        return Reply::json(recordingJson(*row, baseOf(c), !who->isOperator));
    });
    // {"position": seconds} (resume point), {"kept": true|false}, {"keepUntil": Unix seconds, 0 or null: until deleted}
    r->addRoute(Method::Put, u"/api/recordings/<id>"_qs, [this, findRecording, baseOf](RouteContext &c) {
        DIVER_IDENTIFY(c)
        Reply missing;
        auto row = findRecording(c, *who, &missing);
        if (!row)
            return missing;
        Reply bad;
        const auto body = c.jsonBody(&bad);
        if (!body)
            return bad;
        // A misspelt field would otherwise change nothing and answer 200 as if it had.
        for (const QString &key : body->keys()) {
            if (key != u"position" && key != u"kept" && key != u"keepUntil")
                return Reply::error(ApiError::badRequest(
                    QStringLiteral("recording %1: unknown field \"%2\" (a recording changes by \"position\", seconds, \"kept\", true or "
                                   "false, and \"keepUntil\", Unix seconds or 0)")
                        .arg(row->id)
                        .arg(key.left(40))));
        }
        if (body->isEmpty())
            return Reply::error(ApiError::badRequest(
                QStringLiteral("recording %1: nothing to change (a recording changes by \"position\", seconds, \"kept\", true or false, "
                               "and \"keepUntil\", Unix seconds or 0)")
                    .arg(row->id)));
        std::optional<qint64> position;
        std::optional<bool> kept;
        if (body->contains(u"position"_qs)) {
            const QJsonValue v = body->value(u"position"_qs);
            if (!v.isDouble() || !std::isfinite(v.toDouble()) || v.toDouble() < 0)
                return Reply::error(ApiError::badRequest(u"position: seconds from the start, a number ≥ 0"_qs));
            // At most the recording's length (a player's position at its end, or beyond by a
            // rounding, is its end): converted only once in range.
            const qint64 length = std::max<qint64>(0, row->recordStop - row->recordStart);
            position = v.toDouble() >= double(length) ? length : qint64(v.toDouble());
        }
        if (body->contains(u"kept"_qs)) {
            if (!body->value(u"kept"_qs).isBool())
                return Reply::error(ApiError::badRequest(u"kept: true or false"_qs));
            kept = body->value(u"kept"_qs).toBool();
        }
        std::optional<qint64> keepUntil;
        if (body->contains(u"keepUntil"_qs)) {
            // Until then, then retention deletes it (the viewer's entitlement; the files with the
            // last viewer's). 0 or null: until the viewer deletes it.
            const QJsonValue v = body->value(u"keepUntil"_qs);
            if (!v.isNull() && (!v.isDouble() || !std::isfinite(v.toDouble()) || v.toDouble() < 0 || v.toDouble() > 253402300799.0))
                return Reply::error(ApiError::badRequest(u"keepUntil: Unix seconds (UTC), or 0 or null to keep it until it is deleted"_qs));
            keepUntil = v.isNull() ? 0 : qint64(v.toDouble());
            if (*keepUntil != 0 && *keepUntil <= now())
                return Reply::error(ApiError::badRequest(
                    QStringLiteral("keepUntil: %1 has passed already (now %2); a recording is deleted by DELETE, not by a keep-until "
                                   "in the past")
                        .arg(QDateTime::fromSecsSinceEpoch(*keepUntil, Qt::UTC).toString(Qt::ISODate),
                             QDateTime::fromSecsSinceEpoch(now(), Qt::UTC).toString(Qt::ISODate))));
        }
        // Those columns only: the row read above may be older than a stop or a later end
        // another node wrote meanwhile, and is not written back.
        QString error;
        if (!m_store.setViewerState(row->id, position, kept, &error, keepUntil))
            return Reply::error(ApiError::internal(error));
        const auto fresh = m_store.recording(row->id, &error);
        if (!fresh)
            return error.isEmpty() ? Reply::error(ApiError::notFound(QStringLiteral("recording %1 was deleted meanwhile").arg(row->id)))
                                   : Reply::error(ApiError::internal(error));
        return Reply::json(recordingJson(*fresh, baseOf(c), !who->isOperator));
    });
    // Stop a recording in progress and keep it (its copy records on for other viewers).
    r->addRoute(Method::Post, u"/api/recordings/<id>/stop"_qs, [this, findRecording, baseOf](RouteContext &c) {
        DIVER_IDENTIFY(c)
        Reply missing;
        const auto row = findRecording(c, *who, &missing);
        if (!row)
            return missing;
        QString error;
        const auto stopped = stopRecording(*row, &error);
        if (!stopped)
            return Reply::error(ApiError::internal(QStringLiteral("recording %1 is not stopped: %2").arg(row->id).arg(error)));
        return Reply::json(recordingJson(*stopped, baseOf(c), !who->isOperator));
    });
    r->addRoute(Method::Delete, u"/api/recordings/<id>"_qs, [this, findRecording](RouteContext &c) {
        DIVER_IDENTIFY(c)
        Reply missing;
        auto row = findRecording(c, *who, &missing);
        if (!row)
            return missing;
        QString error;
        // Deleted while it records: its rule still plans the airing, and would make it again at
        // once (this node, or another before it hears). Skipped first, for that rule as a stopped
        // one is and for every other rule of the viewer's that plans it (one recording of an
        // airing per viewer, whichever rule asked), and deleted only then: a skip that cannot
        // be written leaves the recording as it is (500), never deleted to be made again.
        const bool recording = row->stopped == 0 && row->recordStop > now();
        QList<qint64> skipped; ///< the rules skipping the airing from this request
        const auto takeSkipsBack = [&] {
            QString e;
            for (const qint64 rule : std::as_const(skipped)) {
                if (!m_rules.removeCancelled(rule, row->channelId, row->airingStart, &e))
                    qCWarning(lcDiver).noquote() << "recording" << row->id << "is not deleted, and rule" << rule
                                                 << "still skips its airing:" << e;
                announce(ClusterChange::Kind::Rule, rule);
            }
            if (!skipped.isEmpty() && !reloadCancelled(&e))
                qCWarning(lcDiver).noquote() << "the skipped airings are not read again:" << e;
        };
        if (recording) {
            QList<qint64> rules{row->ruleId};
            for (const dvr::PlannedRecording *p : m_planIndex.recordingsOf(row->owner))
                if (p->channelId == row->channelId && p->start == row->airingStart && !rules.contains(p->ruleId))
                    rules.append(p->ruleId);
            bool cancelled = true;
            for (const qint64 rule : std::as_const(rules)) {
                if (!(cancelled = m_rules.addCancelled({rule, row->channelId, row->airingStart, row->airingStop, {}}, &error)))
                    break;
                skipped.append(rule);
            }
            if (!cancelled || !reloadCancelled(&error)) {
                takeSkipsBack();
                return Reply::error(ApiError::internal(
                    QStringLiteral("recording %1 is not deleted: it records, and its rule cannot be made to skip the airing (it would "
                                   "record it again): %2")
                        .arg(row->id)
                        .arg(error)));
            }
            for (const qint64 rule : std::as_const(skipped))
                announce(ClusterChange::Kind::Rule, rule);
        }
        // The viewer's entitlement goes; the stored copy goes with the last viewer's, in one
        // transaction: a viewer joining the copy on another node at that moment keeps it.
        const auto deleted = m_store.deleteRecording(row->id, &error);
        if (!deleted) {
            takeSkipsBack();
            return Reply::error(ApiError::internal(error));
        }
        recordingDeleted(*row, *deleted);
        if (recording)
            replan(false);
        publish(QStringLiteral("deleted"), QJsonObject{{u"id"_qs, row->id}, {u"reason"_qs, u"deleted by the viewer"_qs}}, row->owner);
        return Reply{204, {}, {}, {}};
    });

    // ---- playback: /play/<id>/index.m3u8 and its segments
    // A growing playlist whose segment from the point asked for is being written is held until
    // it is listed (answerWhenListed): as long as a segment can last and two seconds more, at
    // most 7 s (within what players wait for a playlist: hls.js 10 s, ExoPlayer's read timeout 8 s).
    const auto holdUntil = [this]() {
        return QDateTime::currentMSecsSinceEpoch()
            + qMin<qint64>(dvr::playlistTargetSeconds(m_config.segmentSeconds) * 1000LL + 2000, 7000);
    };
    // A /play/<id>/… request's asker (a ticket, a playback token for that recording, the
    // operator) and its recording, or the refusal.
    auto playbackOf = [this, findRecording, recordingRefused](const RouteContext &c, std::optional<PlaybackGrant> *grant,
                                                               std::optional<Identity> *who, Reply *refusal) -> std::optional<RecordingRow> {
        *who = identifyPlayback(c, grant, refusal);
        if (!*who)
            return std::nullopt;
        if (auto refused = recordingRefused(c, *grant)) {
            *refusal = std::move(*refused);
            return std::nullopt;
        }
        return findRecording(c, **who, refusal);
    };
    r->addAsyncRoute(Method::Get, u"/play/<id>/index.m3u8"_qs,
                     [this, findRecordingId, holdUntil, playbackOf, segmentQuery](RouteContext &c, http::Router::Respond respond) {
        Reply refusal;
        std::optional<PlaybackGrant> grant;
        std::optional<Identity> who;
        const auto first = playbackOf(c, &grant, &who, &refusal);
        if (!first)
            return respond(refusal);
        PlaylistAsk ask = playlistAsk(c);
        // The segments' URIs carry what the player came with (a box's ticket becomes a playback
        // token: a playlist reloaded for hours outlives the ticket).
        ask.query = segmentQuery(c, *who, grant, [&] { return recordingToken(*first); });
        auto attempt = [this, findRecordingId, ask, who = *who]() -> PlaylistAttempt {
            // Read again at every attempt: the recording may end, stop or go meanwhile.
            Reply missing;
            const auto row = findRecordingId(ask.params.value(0), who, &missing);
            if (!row)
                return {missing, 0, 0};
            const int target = dvr::playlistTargetSeconds(m_config.segmentSeconds);
            QString error;
            if (row->copyId != 0) {
                const auto copy = m_store.copy(row->copyId, &error);
                dvr::ArchiveReader reader;
                if (!copy || !reader.load(copy->directory, &error))
                    return {Reply::error(ApiError::notFound(QStringLiteral("recording %1 has nothing stored yet: %2").arg(row->id).arg(error))), 0, 0};
                // Stopped by its viewer: complete up to then, while the copy may record on for
                // others. A copy no node records any more is complete too, with or without its
                // index's end line (a node gone before the end, a recorder that could not write
                // it); one that failed while its programme is still on only once that is over:
                // it is recorded again in the same folder when it can be, and a playlist that
                // said it ended cannot grow again (RFC 8216 6.2.1).
                // Either way, not while its recorder here still writes its last segment: the
                // playlist ends once it is listed.
                const bool failedEarly = copy->state == CopyState::Failed && now() < copy->recordStop;
                const bool copyEnded = reader.finished()
                    || (copy->state != CopyState::Recording && !failedEarly && !folderBusy(copy->directory));
                // Stopped by its viewer: once the copy holds the segment that was being cut at the
                // stop (its span ends there; the stop is in whole seconds, and a segment begun
                // after it in that second was not complete, so not listed, before it). Else once
                // the copy ended and so did the viewer's own time (a copy that ended before it is
                // recorded again for this viewer: onCopyFinished()). An ended playlist's span
                // stays what it listed then (spanEnd).
                bool ended = row->spanEnd >= 0 || (copyEnded && now() >= row->recordStop)
                    || (row->stopped != 0 && reader.endMs() >= row->recordStop * 1000);
                QList<dvr::ArchiveSegment> span = spanOf(reader, *row);
                if (ended && row->spanEnd < 0 && row->stopped == 0) {
                    // Ending it here: what it lists now is what it lists from now on, whatever
                    // the copy records later (a viewer asking for the airing again, a copy
                    // resumed): stored before it is said, first come first stored.
                    RecordingRow fixed = *row;
                    const auto stored = m_store.endRecordingSpan(row->id, spanEndOf(span), &error);
                    if (stored && *stored >= 0) {
                        fixed.spanEnd = *stored;
                        span = spanOf(reader, fixed);
                    } else {
                        qCWarning(lcDiver).noquote() << "recording" << row->id << ": its playlist's end is not stored, so not said yet:"
                                                     << (stored ? u"the recording is gone"_qs : error);
                        ended = false;
                    }
                }
                return playlistReply(dvr::playoutPlaylist(span, ended, {}, target), !ended, ask, row->recordStart * 1000, target);
            }
            // From the archive's folder whether the channel is archived now or not.
            const QString directory = archiveFolderOf(row->channelId);
            dvr::ArchiveReader reader;
            if (directory.isEmpty())
                return {Reply::error(ApiError::notFound(QStringLiteral("the archive of %1 is not on this node").arg(row->channelId))), 0, 0};
            const dvr::TimeRange range{row->recordStart * 1000, row->recordStop * 1000};
            if (!reader.load(directory, range.fromMs, range.toMs, &error))
                return {Reply::error(ApiError::notFound(QStringLiteral("the archive of %1 does not read: %2").arg(row->channelId, error))), 0, 0};
            const dvr::RangeCoverage coverage = dvr::archiveRangeCoverage(reader, range, QDateTime::currentMSecsSinceEpoch(), archiveStaleMs());
            return playlistReply(dvr::archiveRangePlaylist(reader, range, coverage, {}, target), !coverage.ended(), ask,
                                 range.fromMs, target, [coverage](Reply &reply) { addCoverageHeaders(reply, coverage); });
        };
        // ?start=<seconds>: from there on (a box's resume point or seek), wall-clock seconds from
        // the recording's start.
        answerWhenListed(this, holdUntil(), std::move(attempt), std::move(respond));
    });
    // /play/<id>/thumbnails.vtt[?every=<seconds>]: a WebVTT track of scrubbing thumbnails (one
    // every 10 s by default), their images next to the segments. Thumbnails are decoded off the
    // event loop, once each; a recording in progress gets the ones of what it holds so far.
    r->addAsyncRoute(Method::Get, u"/play/<id>/thumbnails.vtt"_qs, [this, playbackOf, segmentQuery](RouteContext &c, http::Router::Respond respond) {
        Reply refusal;
        std::optional<PlaybackGrant> grant;
        std::optional<Identity> who;
        const auto row = playbackOf(c, &grant, &who, &refusal);
        if (!row)
            return respond(refusal);
        Reply bad;
        const auto every = c.intQuery("every", 10, 2, 600, &bad);
        if (!every)
            return respond(bad);
        QString dir, error;
        dvr::ArchiveReader reader;
        QList<dvr::ArchiveSegment> segments;
        if (row->copyId != 0) {
            const auto copy = m_store.copy(row->copyId, &error);
            if (copy && reader.load(copy->directory, &error)) {
                dir = copy->directory;
                segments = spanOf(reader, *row); // a stopped recording's scrubbing ends at its stop
            }
        } else if (const QString archive = archiveFolderOf(row->channelId); !archive.isEmpty()) {
            const qint64 from = row->recordStart * 1000, to = row->recordStop * 1000;
            if (reader.load(archive, from, to, &error)) {
                dir = archive;
                segments = reader.segments(from, to);
            }
        }
        if (dir.isEmpty() || segments.isEmpty())
            return respond(Reply::error(ApiError::notFound(QStringLiteral("recording %1 has nothing stored yet").arg(row->id))));
        const SegmentQuery ticket = segmentQuery(c, *who, grant, [&] { return recordingToken(*row); });
        qint64 duration = 0; // of the playlist: the segments' media, one after the other
        for (const dvr::ArchiveSegment &s : std::as_const(segments))
            duration += s.durationMs;
        // Decoding is bulk work behind the recorders: a few requests at a time (waiting or at
        // work), a few per box; one more is told when to ask again rather than queued without end.
        const QString owner = who->isOperator ? QString() : who->owner;
        if (m_thumbnailJobs >= m_config.thumbnailQueue || m_thumbnailJobsByOwner.value(owner) >= m_config.thumbnailQueuePerOwner) {
            const bool perOwner = m_thumbnailJobs < m_config.thumbnailQueue;
            Reply busy = Reply::error(503, u"thumbnails-busy"_qs,
                                      perOwner ? QStringLiteral("%1 thumbnail requests of this viewer are being made, the most at once; retry when one is done")
                                                     .arg(m_thumbnailJobsByOwner.value(owner))
                                               : QStringLiteral("%1 thumbnail requests are being made, the most at once; retry shortly")
                                                     .arg(m_thumbnailJobs));
            busy.addHeader("Retry-After", "5");
            return respond(std::move(busy));
        }
        ++m_thumbnailJobs;
        ++m_thumbnailJobsByOwner[owner];
        const http::Router::Respond answer = [this, owner, respond](Reply reply) {
            --m_thumbnailJobs;
            if (auto n = m_thumbnailJobsByOwner.find(owner); n != m_thumbnailJobsByOwner.end() && --*n <= 0)
                m_thumbnailJobsByOwner.erase(n);
            respond(std::move(reply));
        };
        // One request makes a folder's thumbnails at a time (on the thumbnail pool); one that
        // comes meanwhile waits its turn, then finds them made.
        auto make = [this, dir, segments, every = *every, answer, ticket, duration, id = row->id]() {
            auto future = QtConcurrent::run(&m_thumbnailPool, [dir, segments, every, stop = &m_thumbnailsStop]() {
                lowerThumbnailThreadPriority();
                QString why;
                QList<dvr::Thumbnail> thumbs = dvr::ensureThumbnails(dir, segments, every * 1000LL, 160, &why, kMaxThumbnails, stop);
                return std::make_pair(thumbs, why);
            });
            auto *watcher = new QFutureWatcher<std::pair<QList<dvr::Thumbnail>, QString>>(this);
            connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, dir, answer, ticket, duration, id]() {
                const auto [thumbs, why] = watcher->result();
                watcher->deleteLater();
                if (thumbs.isEmpty())
                    answer(Reply::error(ApiError::internal(QStringLiteral("thumbnails of recording %1: %2").arg(id).arg(why))));
                else
                    answer(Reply{200, vttWithQuery(dvr::thumbnailTrack(thumbs, duration), ticket), "text/vtt; charset=utf-8", {}});
                auto waiting = m_thumbnailQueue.find(dir);
                if (waiting == m_thumbnailQueue.end())
                    return;
                if (waiting->isEmpty()) {
                    m_thumbnailQueue.erase(waiting);
                    return;
                }
                const std::function<void()> next = waiting->takeFirst();
                next();
            });
            watcher->setFuture(future);
        };
        if (const auto busy = m_thumbnailQueue.find(dir); busy != m_thumbnailQueue.end()) {
            busy->append(make);
            return;
        }
        m_thumbnailQueue.insert(dir, {});
        make();
    });
    r->addRoute(Method::Get, u"/play/<id>/<chunk>/<file>"_qs, [this, findRecording, recordingRefused](RouteContext &c) {
        DIVER_IDENTIFY_PLAYBACK(c)
        if (const auto refused = recordingRefused(c, grant))
            return *refused;
        Reply missing;
        const auto row = findRecording(c, *who, &missing);
        if (!row)
            return missing;
        const QString chunk = c.params.value(1), file = c.params.value(2);
        if (!safeSegmentPath(chunk, file))
            return Reply::error(ApiError::badRequest(notASegment(chunk, file, QStringLiteral("recording %1").arg(row->id))));
        QString dir, error;
        if (row->copyId != 0) {
            const auto copy = m_store.copy(row->copyId, &error);
            dir = copy ? copy->directory : QString();
            if (!dir.isEmpty() && (row->stopped != 0 || row->spanEnd >= 0)) {
                // A recording the viewer stopped (or whose playlist ended) serves its own span
                // only, not what the copy recorded after for others.
                dvr::ArchiveReader reader;
                if (!reader.load(dir, &error))
                    return Reply::error(ApiError::internal(QStringLiteral("recording %1: %2").arg(row->id).arg(error)));
                // (One that is not there at all is "no segment", as for any recording.)
                if (!inSpan(spanOf(reader, *row), chunk, file) && QFileInfo::exists(QDir(dir).filePath(chunk + u'/' + file)))
                    return Reply::error(ApiError::notFound(
                        row->stopped != 0 ? QStringLiteral("%1/%2 is not in recording %3: the viewer stopped it at %4")
                                                .arg(chunk, file)
                                                .arg(row->id)
                                                .arg(QDateTime::fromSecsSinceEpoch(row->stopped, Qt::UTC).toString(Qt::ISODate))
                                          : QStringLiteral("%1/%2 is not in recording %3: it ended before its copy was recorded again")
                                                .arg(chunk, file)
                                                .arg(row->id)));
            }
        } else {
            dir = archiveFolderOf(row->channelId);
            if (!dir.isEmpty()) {
                // A range of the channel's archive: its segments only, not the rest of the
                // archive (which holds other viewers' recordings beyond the catch-up window).
                const qint64 from = row->recordStart * 1000, to = row->recordStop * 1000;
                dvr::ArchiveReader reader;
                if (!reader.load(dir, from, to, &error))
                    return Reply::error(ApiError::internal(QStringLiteral("recording %1: %2").arg(row->id).arg(error)));
                if (!inSpan(reader.segments(from, to), chunk, file))
                    return Reply::error(ApiError::notFound(QStringLiteral("%1/%2 is not in recording %3").arg(chunk, file).arg(row->id)));
            }
        }
        if (dir.isEmpty())
            return Reply::error(ApiError::notFound(
                row->copyId != 0 ? QStringLiteral("recording %1 has no stored copy (%2)").arg(row->id).arg(error)
                                 : QStringLiteral("recording %1: the archive of %2 is not on this node").arg(row->id).arg(row->channelId)));
        return fileReply(QDir(dir).filePath(chunk + u'/' + file), mimeOf(file), c.request.value("Range"));
    });

    // ---- catch-up and timeshift of archived channels: /catchup/<channel>/archive-<start>-<seconds|now>.m3u8
    // A token for a channel's catch-up opens that channel's playlists from its first second on,
    // and its segments within the catch-up window (as a ticket does).
    auto archiveRefused = [](const RouteContext &c, const std::optional<PlaybackGrant> &grant, qint64 fromMs) -> std::optional<Reply> {
        if (!grant)
            return std::nullopt;
        const auto scope = PlaybackTokens::parseArchiveResource(grant->resource);
        if (!scope || scope->first != c.params.value(0))
            return Reply::error(ApiError::forbidden(
                QStringLiteral("this playback token is for %1, not the archive of %2").arg(grant->resource, c.params.value(0).left(40))));
        if (fromMs >= 0 && fromMs < scope->second * 1000)
            return Reply::error(ApiError::forbidden(QStringLiteral("this playback token opens the archive of %1 from %2 on, not from %3")
                                                        .arg(scope->first)
                                                        .arg(scope->second)
                                                        .arg(fromMs / 1000)));
        return std::nullopt;
    };
    r->addAsyncRoute(Method::Get, u"/catchup/<channel>/<name>"_qs,
                     [this, holdUntil, archiveRefused, segmentQuery](RouteContext &c, http::Router::Respond respond) {
        Reply refusal;
        std::optional<PlaybackGrant> grant;
        const auto who = identifyPlayback(c, &grant, &refusal);
        if (!who)
            return respond(refusal);
        if (const auto refused = archiveRefused(c, grant, -1))
            return respond(*refused);
        const ActiveArchive *a = m_archives.value(c.params.value(0));
        if (!a)
            return respond(Reply::error(ApiError::notFound(QStringLiteral("channel %1 is not archived on this node").arg(c.params.value(0).left(40)))));
        const qint64 askedMs = QDateTime::currentMSecsSinceEpoch();
        const auto range = dvr::parseArchiveRange(c.params.value(1), askedMs);
        if (!range)
            return respond(Reply::error(ApiError::badRequest(u"expected archive-<start, Unix seconds>-<duration seconds or now>.m3u8"_qs)));
        const bool upToNow = c.params.value(1).contains(u"-now");
        // Timeshift slides (its window's start, when the range began before it: clamped there).
        const qint64 windowMs = timeshiftWindowMs();
        if (const auto refused = archiveRefused(c, grant, upToNow ? qMax(range->fromMs, askedMs - windowMs) : range->fromMs))
            return respond(*refused);
        if (!upToNow && range->fromMs < askedMs - qint64(m_config.archiveHours) * 3600 * 1000)
            return respond(Reply::error(ApiError::notFound(QStringLiteral("%1 starts %2 hours ago; the archive of %3 keeps %4 hours")
                                                               .arg(c.params.value(1).left(60))
                                                               .arg((askedMs - range->fromMs) / 3600000)
                                                               .arg(a->channelId)
                                                               .arg(m_config.archiveHours))));
        PlaylistAsk ask = playlistAsk(c);
        ask.query = segmentQuery(c, *who, grant, [&] { return archiveToken(who->owner, a->channelId); });
        if (upToNow) {
            answerWhenListed(this, holdUntil(), [this, ask, range = *range, windowMs]() -> PlaylistAttempt {
                const ActiveArchive *archive = m_archives.value(ask.params.value(0));
                if (!archive)
                    return {Reply::error(ApiError::notFound(QStringLiteral("channel %1 is not archived on this node").arg(ask.params.value(0).left(40)))), 0, 0};
                // The window as it is now: the segments that end within it, its oldest leaving
                // as the clock goes on (RFC 8216 6.2.2).
                const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
                const qint64 windowStartMs = nowMs - windowMs;
                const dvr::TimeRange listed{qMax(range.fromMs, windowStartMs), qMax(range.toMs, nowMs)};
                dvr::ArchiveReader reader;
                QString error;
                if (!reader.load(archive->directory, listed.fromMs, listed.toMs, &error))
                    return {Reply::error(ApiError::internal(error)), 0, 0};
                dvr::RangeCoverage coverage = dvr::archiveRangeCoverage(reader, listed, nowMs, archiveStaleMs());
                // Timeshift has no end: an archive that stalls (a source down for a while) goes
                // on when it comes back, so its playlist never ends but with the archive itself.
                if (coverage.ended() && !reader.finished())
                    coverage.state = dvr::RangeCoverage::State::Growing;
                const QList<dvr::ArchiveSegment> segments = reader.segments(listed.fromMs, listed.toMs);
                std::optional<dvr::Discontinuities> discontinuities = dvr::Discontinuities{};
                if (!segments.isEmpty() && !(discontinuities = dvr::archiveDiscontinuities(archive->directory, segments.first(), &error)))
                    return {Reply::error(ApiError::internal(error)), 0, 0};
                const int target = dvr::playlistTargetSeconds(m_config.segmentSeconds);
                const qint64 pointMs = range.fromMs + qRound64(ask.startSeconds * 1000);
                // ?start=<seconds>: from there on, wall-clock seconds from the range's start; a
                // moment that left the window starts at the window's first segment, and says so.
                return playlistReply(dvr::slidingPlaylist(segments, *discontinuities, coverage.ended(), {}, target), !coverage.ended(), ask,
                                     range.fromMs, target, [coverage, pointMs, windowStartMs](Reply &reply) {
                                         addCoverageHeaders(reply, coverage);
                                         if (pointMs < windowStartMs)
                                             reply.addHeader("X-Timeshift-Clamped", QByteArray::number(windowStartMs / 1000));
                                     });
            }, std::move(respond));
            return;
        }
        auto attempt = [this, ask, range = *range]() -> PlaylistAttempt {
            // Read again at every attempt: the archive may stop being recorded here meanwhile.
            const ActiveArchive *archive = m_archives.value(ask.params.value(0));
            if (!archive)
                return {Reply::error(ApiError::notFound(QStringLiteral("channel %1 is not archived on this node").arg(ask.params.value(0).left(40)))), 0, 0};
            const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
            // Only the hourly chunks the range touches: a day's archive is 24 index files, a
            // programme needs one or two.
            dvr::ArchiveReader reader;
            QString error;
            if (!reader.load(archive->directory, range.fromMs, range.toMs, &error))
                return {Reply::error(ApiError::internal(error)), 0, 0};
            const dvr::RangeCoverage coverage = dvr::archiveRangeCoverage(reader, range, nowMs, archiveStaleMs());
            const int target = dvr::playlistTargetSeconds(m_config.segmentSeconds);
            // ?start=<seconds>: from there on, wall-clock seconds from the range's start.
            return playlistReply(dvr::archiveRangePlaylist(reader, range, coverage, {}, target), !coverage.ended(), ask, range.fromMs,
                                 target, [coverage](Reply &reply) { addCoverageHeaders(reply, coverage); });
        };
        answerWhenListed(this, holdUntil(), std::move(attempt), std::move(respond));
    });
    r->addRoute(Method::Get, u"/catchup/<channel>/<chunk>/<file>"_qs, [this, archiveRefused](RouteContext &c) {
        DIVER_IDENTIFY_PLAYBACK(c)
        if (const auto refused = archiveRefused(c, grant, -1))
            return *refused;
        const ActiveArchive *a = m_archives.value(c.params.value(0));
        if (!a)
            return Reply::error(ApiError::notFound(QStringLiteral("channel %1 is not archived on this node").arg(c.params.value(0).left(40))));
        const QString chunk = c.params.value(1), file = c.params.value(2);
        if (!safeSegmentPath(chunk, file))
            return Reply::error(ApiError::badRequest(notASegment(chunk, file, QStringLiteral("the archive of %1").arg(a->channelId))));
        if (!who->isOperator) {
            // Catch-up reaches back [archive] hours, as its playlists do; the archive keeps older
            // chunks that viewers' recordings hold, and those are theirs (through /play) only.
            const qint64 windowMs = QDateTime::currentMSecsSinceEpoch() - qint64(m_config.archiveHours) * 3600 * 1000;
            const std::optional<qint64> chunkStartMs = dvr::ArchiveWriter::chunkStartMs(chunk);
            const auto tooOld = [&] {
                return Reply::error(ApiError::notFound(QStringLiteral("%1/%2 of the archive of %3 is older than its %4 hours of catch-up")
                                                           .arg(chunk, file, a->channelId)
                                                           .arg(m_config.archiveHours)));
            };
            if (!chunkStartMs)
                return tooOld();
            if (*chunkStartMs < windowMs) {
                // A chunk that began before the window: the segments of it that end inside it.
                dvr::ArchiveReader reader;
                QString error;
                if (!reader.load(a->directory, windowMs, windowMs + 1, &error))
                    return Reply::error(ApiError::internal(error));
                if (!inSpan(reader.segments(windowMs), chunk, file))
                    return tooOld();
            }
        }
        return fileReply(QDir(a->directory).filePath(chunk + u'/' + file), mimeOf(file), c.request.value("Range"));
    });
#undef DIVER_IDENTIFY
#undef DIVER_IDENTIFY_PLAYBACK
#undef DIVER_IDENTIFY_ASYNC
}

} // namespace iptv::diver
