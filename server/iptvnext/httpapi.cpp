#include "httpapi.h"

#include "codec.h"
#include "events.h"
#include "server.h"

#include <core/httprouter.h>
#include <core/httputil.h>
#include <core/numbers.h>
#include <epg/guidedelta.h>
#include <epg/search.h>

#include <QElapsedTimer>
#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QTcpServer>
#include <QUrlQuery>

#include <limits>
#include <optional>

Q_LOGGING_CATEGORY(lcHttp, "iptv.next.http")

namespace iptv::next {

using namespace iptv::epg;
using Status = QHttpServerResponse::StatusCode;
using Method = QHttpServerRequest::Method;
using iptv::http::Reply;
using iptv::http::RouteContext;

namespace {

const QByteArray GuideMime = "application/vnd.iptv.guide";
const QByteArray DeltaMime = "application/vnd.iptv.guide-delta";
const QByteArray JsonMime = "application/json";

// Largest window one /api/window call may span; a box pages through the fortnight.
constexpr qint64 MaxWindowSeconds = 7 * 86400;
constexpr int MaxSearchLimit = 500;
constexpr qsizetype MaxWindowAirings = 20000;

Reply jsonResponse(const QJsonObject &o, Status status = Status::Ok)
{
    Reply r = Reply::json(o, int(status));
    r.addHeader("Cache-Control", "no-cache");
    return r;
}

Reply errorResponse(Status status, const QString &error, const QString &detail = {})
{
    return Reply::error(int(status), error, detail);
}

Reply noGuide()
{
    auto r = errorResponse(Status::ServiceUnavailable, QStringLiteral("no-guide"),
                           QStringLiteral("no guide has been compiled yet; see /api/status"));
    r.addHeader("Retry-After", "30");
    return r;
}

QString param(const QHttpServerRequest &req, const char *name)
{
    return req.query().queryItemValue(QLatin1String(name), QUrl::FullyDecoded);
}

bool hasParam(const QHttpServerRequest &req, const char *name)
{
    return req.query().hasQueryItem(QLatin1String(name));
}

/// Parses an optional time parameter; *ok false (with the response to send) when malformed.
std::optional<Reply> timeParam(const QHttpServerRequest &req, const char *name, qint64 fallback,
                                             qint64 *out)
{
    const QString text = param(req, name);
    if (text.isEmpty()) {
        *out = fallback;
        return std::nullopt;
    }
    const auto t = iptv::http::parseTime(text);
    if (!t) {
        return errorResponse(Status::BadRequest, QStringLiteral("bad-parameter"),
                             QStringLiteral("%1: expected epoch seconds or ISO 8601, got \"%2\"")
                                 .arg(QLatin1String(name), text));
    }
    *out = *t;
    return std::nullopt;
}

std::optional<Reply> intParam(const QHttpServerRequest &req, const char *name, int fallback, int min,
                                            int max, int *out)
{
    const QString text = param(req, name);
    if (text.isEmpty()) {
        *out = fallback;
        return std::nullopt;
    }
    QString error;
    if (!iptv::parseIntInRange(QLatin1String(name), text, min, max, out, &error))
        return errorResponse(Status::BadRequest, QStringLiteral("bad-parameter"), error);
    return std::nullopt;
}

/// A channel by guide id; a plain number that is not an id is taken as the channel's index.
int resolveChannel(const Guide &g, const QString &text)
{
    int index = g.channelIndex(text);
    if (index >= 0)
        return index;
    bool ok = false;
    index = text.toInt(&ok);
    return ok && index >= 0 && index < g.channelCount() ? index : -1;
}

Reply unknownChannel(const QString &text)
{
    return errorResponse(Status::NotFound, QStringLiteral("unknown-channel"),
                         QStringLiteral("no channel \"%1\" in the guide; see /api/channels").arg(text));
}

QJsonArray flagsJson(quint8 flags)
{
    QJsonArray a;
    if (flags & FlagNew)
        a.append(QStringLiteral("new"));
    if (flags & FlagPremiere)
        a.append(QStringLiteral("premiere"));
    if (flags & FlagPreviouslyShown)
        a.append(QStringLiteral("previously-shown"));
    if (flags & FlagLastChance)
        a.append(QStringLiteral("last-chance"));
    if (flags & FlagHasSubtitles)
        a.append(QStringLiteral("subtitles"));
    return a;
}

QJsonObject channelJson(const Guide &g, int c)
{
    QJsonObject o{{QStringLiteral("index"), c},
                  {QStringLiteral("id"), g.channelId(c)},
                  {QStringLiteral("name"), g.channelName(c)}};
    if (const int n = g.channelNumber(c))
        o.insert(QStringLiteral("number"), n);
    if (const QString s = g.channelGroup(c); !s.isEmpty())
        o.insert(QStringLiteral("group"), s);
    if (const QString s = g.channelIcon(c); !s.isEmpty())
        o.insert(QStringLiteral("icon"), s);
    if (const QString s = g.channelStreamUrl(c); !s.isEmpty())
        o.insert(QStringLiteral("streamUrl"), s);
    return o;
}

QJsonValue airingJson(const Guide &g, const Airing &a, bool withChannel = true)
{
    if (!a.isValid())
        return QJsonValue::Null;
    QJsonObject o;
    if (withChannel)
        o.insert(QStringLiteral("channel"), g.channelId(int(a.channel)));
    o.insert(QStringLiteral("start"), a.start);
    o.insert(QStringLiteral("stop"), a.stop);
    o.insert(QStringLiteral("title"), g.title(a.programme));
    if (const QString s = g.subTitle(a.programme); !s.isEmpty())
        o.insert(QStringLiteral("subTitle"), s);
    if (const QString s = g.episode(a.programme); !s.isEmpty())
        o.insert(QStringLiteral("episode"), s);
    if (const QString s = g.category(a.programme); !s.isEmpty())
        o.insert(QStringLiteral("category"), s);
    if (a.flags)
        o.insert(QStringLiteral("flags"), flagsJson(a.flags));
    return o;
}

/// How a cacheable resource may be revalidated: the validators sent with a 200 and again with a 304.
struct CacheHeaders
{
    QByteArray checksum;     ///< the entity tag (unquoted)
    QByteArray cacheControl;
    qint64 lastModified = 0; ///< UTC s; 0 = not sent

    void apply(Reply &r) const
    {
        r.addHeader("ETag", iptv::http::quotedEtag(checksum));
        if (!cacheControl.isEmpty())
            r.addHeader("Cache-Control", cacheControl);
        if (lastModified > 0)
            r.addHeader("Last-Modified", iptv::http::httpDate(lastModified));
    }
};

/// 304 when the client's copy is current (RFC 9110 13.1): If-None-Match decides when sent;
/// otherwise If-Modified-Since against Last-Modified. The 304 carries the same validators and
/// Cache-Control a 200 would (RFC 9110 15.4.5).
std::optional<Reply> notModified(const QHttpServerRequest &req, const CacheHeaders &cache)
{
    const QByteArray ifNoneMatch = req.value("If-None-Match");
    bool current = false;
    if (!ifNoneMatch.isEmpty()) {
        current = iptv::http::etagMatches(ifNoneMatch, cache.checksum);
    } else if (cache.lastModified > 0) {
        const auto since = iptv::http::parseHttpDate(req.value("If-Modified-Since"));
        current = since && cache.lastModified <= *since;
    }
    if (!current)
        return std::nullopt;
    Reply r{304, {}, {}, {}, {}};
    cache.apply(r);
    return r;
}

} // namespace

HttpApi::HttpApi(IptvNextServer *server)
    : QObject(server)
    , m_server(server)
    , m_router(new iptv::http::Router(&server->metrics(), QStringLiteral("iptvnext"), this))
{
    setupRoutes();
}

HttpApi::~HttpApi() = default;

QAbstractHttpServer *HttpApi::httpServer() const
{
    return m_router->httpServer();
}

bool HttpApi::listen(const QHostAddress &address, quint16 port, QString *error)
{
    return m_router->listen(address, port, error);
}

void HttpApi::close()
{
    m_router->close();
}

quint16 HttpApi::port() const
{
    return m_router->port();
}

QByteArray HttpApi::nowNextChannels(qint64 at)
{
    const auto guide = m_server->guide();
    const QByteArray &checksum = m_server->guideVersion().checksum;
    if (m_nowNext.checksum == checksum && at >= m_nowNext.from && at < m_nowNext.until)
        return m_nowNext.channelsJson;
    const Guide &g = *guide;
    QJsonArray channels;
    qint64 until = std::numeric_limits<qint64>::max();
    for (int c = 0; c < g.channelCount(); ++c) {
        const auto [now, next] = g.nowNext(c, at);
        // The answer holds until the current airing ends or, in a gap, the next one starts.
        if (now.isValid())
            until = std::min(until, now.stop);
        else if (next.isValid())
            until = std::min(until, next.start);
        channels.append(QJsonObject{{QStringLiteral("id"), g.channelId(c)},
                                    {QStringLiteral("name"), g.channelName(c)},
                                    {QStringLiteral("now"), airingJson(g, now, false)},
                                    {QStringLiteral("next"), airingJson(g, next, false)}});
    }
    m_nowNext.checksum = checksum;
    m_nowNext.from = at;
    m_nowNext.until = until;
    m_nowNext.channelsJson = QJsonDocument(channels).toJson(QJsonDocument::Compact);
    return m_nowNext.channelsJson;
}

void HttpApi::setupRoutes()
{
    // Metrics, HEAD, 405 and 404 are the router's; routes here only answer.
    auto add = [this](const char *pattern, Method method, std::function<Reply(const QHttpServerRequest &)> handler) {
        m_router->addRoute(method, QLatin1String(pattern), [handler](RouteContext &c) { return handler(c.request); });
    };

    // ---- the guide file ----
    add("/guide", Method::Get, [this](const QHttpServerRequest &req) {
        if (!m_server->hasGuide())
            return noGuide();
        // no-cache: a cache may keep the guide but must ask (cheaply, with a 304) before using it.
        const GuideVersion &version = m_server->guideVersion();
        const CacheHeaders cache{version.checksum, "no-cache", version.createdAt};
        std::optional<Reply> r = notModified(req, cache);
        if (!r) {
            r = Reply{200, m_server->guideBytes(), GuideMime, {}, {}};
            cache.apply(*r);
        }
        r->addHeader("X-Guide-Version", QByteArray::number(version.version));
        return std::move(*r);
    });

    add("/guide/delta", Method::Get, [this](const QHttpServerRequest &req) {
        if (!m_server->hasGuide())
            return noGuide();
        const QByteArray from = param(req, "from").toLatin1();
        if (from.isEmpty()) {
            return errorResponse(Status::BadRequest, QStringLiteral("missing-parameter"),
                                 QStringLiteral("from=<checksum of the guide you have> is required"));
        }
        const QByteArray &current = m_server->guideVersion().checksum;
        const CacheHeaders cache{current, "no-cache"};
        if (from == current) {
            Reply r{304, {}, {}, {}, {}};
            cache.apply(r);
            return r;
        }
        if (!m_server->isKnownVersion(from)) {
            return errorResponse(Status::NotFound, QStringLiteral("unknown-base"),
                                 QStringLiteral("version %1 is not kept; download /guide whole").arg(QString::fromLatin1(from)));
        }
        QString error;
        QByteArray delta;
        switch (m_server->deltaFrom(from, &delta, &error)) {
        case IptvNextServer::DeltaState::Ready:
            break;
        case IptvNextServer::DeltaState::Pending: {
            auto r = errorResponse(Status::ServiceUnavailable, QStringLiteral("delta-pending"),
                                   QStringLiteral("the delta from %1 is being made; retry, or download /guide whole")
                                       .arg(QString::fromLatin1(from)));
            r.addHeader("Retry-After", "5");
            return r;
        }
        case IptvNextServer::DeltaState::Failed:
            return errorResponse(Status::InternalServerError, QStringLiteral("delta-failed"), error);
        }
        Reply r{200, delta, DeltaMime, {}, {}};
        cache.apply(r);
        r.addHeader("X-Guide-Base", from);
        return r;
    });

    m_router->addRoute(Method::Get, QStringLiteral("/guide/<checksum>"), [this](RouteContext &c) {
        const QString &checksum = c.params.value(0);
        const QByteArray sum = checksum.toLatin1();
        if (!m_server->isKnownVersion(sum)) {
            return errorResponse(Status::NotFound, QStringLiteral("unknown-version"),
                                 QStringLiteral("version %1 is not kept").arg(checksum));
        }
        // A version's bytes never change: caches may keep them for good.
        const CacheHeaders cache{sum, "public, max-age=31536000, immutable"};
        if (auto r = notModified(c.request, cache))
            return std::move(*r);
        Reply r{200, m_server->versionBytes(sum), GuideMime, {}, {}};
        cache.apply(r);
        return r;
    });

    // ---- JSON API ----
    add("/api/channels", Method::Get, [this](const QHttpServerRequest &) {
        if (!m_server->hasGuide())
            return noGuide();
        const Guide &g = *m_server->guide();
        QJsonArray channels;
        for (int c = 0; c < g.channelCount(); ++c)
            channels.append(channelJson(g, c));
        return jsonResponse({{QStringLiteral("version"), m_server->guideVersion().version},
                             {QStringLiteral("checksum"), QString::fromLatin1(m_server->guideVersion().checksum)},
                             {QStringLiteral("channels"), channels}});
    });

    add("/api/now", Method::Get, [this](const QHttpServerRequest &req) {
        if (!m_server->hasGuide())
            return noGuide();
        const Guide &g = *m_server->guide();
        const QString channelText = param(req, "channel");
        if (channelText.isEmpty()) {
            return errorResponse(Status::BadRequest, QStringLiteral("missing-parameter"),
                                 QStringLiteral("channel=<id> is required (all channels: /api/nownext)"));
        }
        const int c = resolveChannel(g, channelText);
        if (c < 0)
            return unknownChannel(channelText);
        qint64 at = 0;
        if (auto bad = timeParam(req, "at", m_server->now(), &at))
            return std::move(*bad);
        const auto [now, next] = g.nowNext(c, at);
        return jsonResponse({{QStringLiteral("at"), at},
                             {QStringLiteral("channel"), channelJson(g, c)},
                             {QStringLiteral("now"), airingJson(g, now, false)},
                             {QStringLiteral("next"), airingJson(g, next, false)}});
    });

    add("/api/nownext", Method::Get, [this](const QHttpServerRequest &req) {
        if (!m_server->hasGuide())
            return noGuide();
        qint64 at = 0;
        if (auto bad = timeParam(req, "at", m_server->now(), &at))
            return std::move(*bad);
        // Compact JSON sorts keys, so this is byte for byte what QJsonDocument would write.
        QByteArray body = "{\"at\":" + QByteArray::number(at) + ",\"channels\":" + nowNextChannels(at) + '}';
        Reply r{200, std::move(body), JsonMime, {}, {}};
        r.addHeader("Cache-Control", "no-cache");
        return r;
    });

    add("/api/window", Method::Get, [this](const QHttpServerRequest &req) {
        if (!m_server->hasGuide())
            return noGuide();
        const Guide &g = *m_server->guide();
        qint64 from = 0, to = 0;
        if (auto bad = timeParam(req, "from", m_server->now(), &from))
            return std::move(*bad);
        if (auto bad = timeParam(req, "to", from + 3 * 3600, &to))
            return std::move(*bad);
        if (to <= from || to - from > MaxWindowSeconds) {
            return errorResponse(Status::BadRequest, QStringLiteral("bad-window"),
                                 QStringLiteral("need from < to and at most %1 days between them").arg(MaxWindowSeconds / 86400));
        }
        QList<int> channels;
        if (const QString list = param(req, "channels"); !list.isEmpty()) {
            for (const QString &id : list.split(u',', Qt::SkipEmptyParts)) {
                const int c = resolveChannel(g, id.trimmed());
                if (c < 0)
                    return unknownChannel(id);
                channels.append(c);
            }
        } else {
            int first = 0, count = 0;
            if (auto bad = intParam(req, "first", 0, 0, std::max(0, g.channelCount() - 1), &first))
                return std::move(*bad);
            if (auto bad = intParam(req, "count", g.channelCount() - first, 1, g.channelCount(), &count))
                return std::move(*bad);
            count = std::min(count, g.channelCount() - first);
            for (int c = first; c < first + count; ++c)
                channels.append(c);
        }
        QJsonArray out;
        QList<Airing> airings;
        qsizetype total = 0;
        for (int c : std::as_const(channels)) {
            g.window(c, 1, from, to, &airings);
            // One answer is built on the main thread: keep it to what a screen or a page needs.
            total += airings.size();
            if (total > MaxWindowAirings) {
                return errorResponse(Status::BadRequest, QStringLiteral("window-too-large"),
                                     QStringLiteral("more than %1 airings; narrow from/to or page with first=&count=")
                                         .arg(MaxWindowAirings));
            }
            QJsonArray list;
            for (const Airing &a : std::as_const(airings))
                list.append(airingJson(g, a, false));
            QJsonObject ch = channelJson(g, c);
            ch.insert(QStringLiteral("airings"), list);
            out.append(ch);
        }
        return jsonResponse({{QStringLiteral("from"), from}, {QStringLiteral("to"), to}, {QStringLiteral("channels"), out}});
    });

    add("/api/programme", Method::Get, [this](const QHttpServerRequest &req) {
        if (!m_server->hasGuide())
            return noGuide();
        const Guide &g = *m_server->guide();
        const QString channelText = param(req, "channel");
        if (channelText.isEmpty() || !hasParam(req, "start")) {
            return errorResponse(Status::BadRequest, QStringLiteral("missing-parameter"),
                                 QStringLiteral("channel=<id>&start=<time> are required"));
        }
        const int c = resolveChannel(g, channelText);
        if (c < 0)
            return unknownChannel(channelText);
        qint64 start = 0;
        if (auto bad = timeParam(req, "start", 0, &start))
            return std::move(*bad);
        const Airing a = g.airingAt(c, start);
        if (!a.isValid()) {
            return errorResponse(Status::NotFound, QStringLiteral("no-programme"),
                                 QStringLiteral("nothing airs on %1 at %2").arg(channelText, iptv::http::isoUtc(start)));
        }
        QJsonObject o = programmeToJson(g.programmeRecord(a));
        o.insert(QStringLiteral("channelName"), g.channelName(c));
        o.insert(QStringLiteral("flags"), flagsJson(a.flags));
        return jsonResponse(o);
    });

    add("/api/search", Method::Get, [this](const QHttpServerRequest &req) {
        if (!m_server->hasGuide())
            return noGuide();
        const Guide &g = *m_server->guide();
        SearchQuery q;
        // Forms send spaces as '+'; a literal plus arrives as %2B and survives.
        q.text = req.query().queryItemValue(QStringLiteral("q"), QUrl::PrettyDecoded).replace(u'+', u' ');
        q.text = QUrl::fromPercentEncoding(q.text.toUtf8());
        q.category = param(req, "category");
        if (q.text.trimmed().isEmpty() && q.category.isEmpty()) {
            return errorResponse(Status::BadRequest, QStringLiteral("missing-parameter"),
                                 QStringLiteral("q=<words> (or category=) is required"));
        }
        if (const QString list = param(req, "channel"); !list.isEmpty()) {
            for (const QString &id : list.split(u',', Qt::SkipEmptyParts)) {
                const int c = resolveChannel(g, id.trimmed());
                if (c < 0)
                    return unknownChannel(id);
                q.channels.append(c);
            }
        }
        if (auto bad = timeParam(req, "at", m_server->now(), &q.now))
            return std::move(*bad);
        if (auto bad = timeParam(req, "from", q.now, &q.from))
            return std::move(*bad);
        if (auto bad = timeParam(req, "to", 0, &q.to))
            return std::move(*bad);
        if (auto bad = intParam(req, "limit", 50, 1, MaxSearchLimit, &q.limit))
            return std::move(*bad);
        q.newOnly = iptv::http::parseBool(param(req, "new"));
        const SearchResult result = g.searchIndex().search(q);
        QJsonArray hits;
        for (const SearchHit &h : result.hits) {
            QJsonObject o = airingJson(g, h.airing).toObject();
            o.insert(QStringLiteral("titleMatch"), h.titleMatch);
            hits.append(o);
        }
        // total counts programmes, not airings; when the search could stop early (the best
        // `limit` were certain) it is a lower bound, and totalExact says so.
        return jsonResponse({{QStringLiteral("query"), q.text},
                             {QStringLiteral("total"), result.totalProgrammes},
                             {QStringLiteral("totalExact"), result.totalExact},
                             {QStringLiteral("limit"), q.limit},
                             {QStringLiteral("hits"), hits}});
    });

    add("/api/status", Method::Get, [this](const QHttpServerRequest &) { return jsonResponse(m_server->statusJson()); });

    add("/api/refresh", Method::Post, [this](const QHttpServerRequest &) {
        const bool wasRunning = m_server->isRefreshing();
        if (!m_server->requestRefresh(QStringLiteral("api"))) {
            return errorResponse(Status::Conflict, QStringLiteral("cannot-refresh"),
                                 QStringLiteral("no XMLTV source is configured, or the server is stopping"));
        }
        return jsonResponse({{QStringLiteral("status"), wasRunning ? u"queued"_qs : u"started"_qs}}, Status::Accepted);
    });

    add("/api/sources/accept", Method::Post, [this](const QHttpServerRequest &req) {
        const QString key = param(req, "source");
        if (key.isEmpty()) {
            return errorResponse(Status::BadRequest, QStringLiteral("missing-parameter"),
                                 QStringLiteral("source=<the source as configured> is required"));
        }
        QString error;
        if (!m_server->acceptSource(key, &error))
            return errorResponse(Status::NotFound, QStringLiteral("unknown-source"), error);
        return jsonResponse({{QStringLiteral("source"), key}, {QStringLiteral("status"), QStringLiteral("accepted")}},
                            Status::Accepted);
    });

    add("/xmltv", Method::Get, [this](const QHttpServerRequest &req) {
        if (!m_server->hasGuide())
            return noGuide();
        const CacheHeaders cache{m_server->guideVersion().checksum, "no-cache", m_server->guideVersion().createdAt};
        if (auto r = notModified(req, cache))
            return std::move(*r);
        QByteArray xml;
        if (!m_server->xmltvExport(&xml)) {
            auto r = errorResponse(Status::ServiceUnavailable, QStringLiteral("export-pending"),
                                   QStringLiteral("the XMLTV export of this guide version is being built; retry shortly"));
            r.addHeader("Retry-After", "5");
            return r;
        }
        Reply r{200, std::move(xml), "application/xml; charset=utf-8", {}, {}};
        cache.apply(r);
        return r;
    });

    add("/healthz", Method::Get, [this](const QHttpServerRequest &req) {
        if (!m_server->hasGuide()) {
            return jsonResponse({{QStringLiteral("status"), QStringLiteral("unavailable")},
                                 {QStringLiteral("detail"), QStringLiteral("no guide compiled yet")},
                                 {QStringLiteral("refreshing"), m_server->isRefreshing()}},
                                Status::ServiceUnavailable);
        }
        // Degraded (a source failing or held back) still serves the last good guide, so it stays
        // 200 for load balancers; ?strict=1 makes it 503 for monitors that only read the code.
        const QStringList problems = m_server->problems();
        const GuideInfo &info = m_server->guide()->info();
        const qint64 now = m_server->now();
        const bool strict = iptv::http::parseBool(param(req, "strict"));
        return jsonResponse({{QStringLiteral("status"), problems.isEmpty() ? u"ok"_qs : u"degraded"_qs},
                             {QStringLiteral("problems"), QJsonArray::fromStringList(problems)},
                             {QStringLiteral("version"), m_server->guideVersion().version},
                             {QStringLiteral("checksum"), QString::fromLatin1(m_server->guideVersion().checksum)},
                             {QStringLiteral("coversNow"), now >= info.validFrom && now < info.validUntil},
                             {QStringLiteral("refreshing"), m_server->isRefreshing()}},
                            strict && !problems.isEmpty() ? Status::ServiceUnavailable : Status::Ok);
    });

    add("/metrics", Method::Get, [this](const QHttpServerRequest &) {
        return Reply{200, m_server->metrics().render(), "text/plain; version=0.0.4; charset=utf-8", {}, {}};
    });

    // WebSocket clients may also use the HTTP port; EventHub::attach takes the socket.
    m_router->acceptWebSocketsAt(QStringLiteral("/events"),
                                 QStringLiteral("/events speaks WebSocket (guide-updated announcements)"));
}

} // namespace iptv::next
