#include "httprouter.h"

#include "eventlooplag.h"
#include "metrics.h"
#include "numbers.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QHttpServer>
#include <QHttpServerResponder>
#include <QHttpServerResponse>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUrlQuery>

Q_LOGGING_CATEGORY(lcHttpRouter, "iptv.http")

namespace iptv::http {

using Method = QHttpServerRequest::Method;

Reply Reply::json(const QJsonObject &o, int status)
{
    return {status, QJsonDocument(o).toJson(QJsonDocument::Compact), "application/json", {}, {}};
}

Reply Reply::error(int status, const QString &code, const QString &detail)
{
    return {status, jsonError(code, detail), "application/json", {}, {}};
}

QByteArray Reply::header(QByteArrayView name) const
{
    for (const auto &[k, v] : headers) {
        if (QByteArrayView(k).compare(name, Qt::CaseInsensitive) == 0)
            return v;
    }
    return {};
}

QString RouteContext::query(const char *name) const
{
    return request.query().queryItemValue(QLatin1String(name), QUrl::FullyDecoded);
}

bool RouteContext::hasQuery(const char *name) const
{
    return request.query().hasQueryItem(QLatin1String(name));
}

std::optional<QJsonObject> RouteContext::jsonBody(Reply *error) const
{
    const QByteArray body = request.body();
    if (body.trimmed().isEmpty())
        return QJsonObject();
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject()) {
        *error = Reply::error(ApiError::badRequest(
            pe.error != QJsonParseError::NoError
                ? QStringLiteral("body: invalid JSON at offset %1: %2").arg(pe.offset).arg(pe.errorString())
                : QStringLiteral("body: expected a JSON object")));
        return std::nullopt;
    }
    return doc.object();
}

std::optional<int> RouteContext::intQuery(const char *name, int fallback, int min, int max, Reply *error) const
{
    const QString text = query(name);
    if (text.isEmpty())
        return fallback;
    int v = 0;
    QString bad;
    if (!parseIntInRange(QLatin1String(name), text, min, max, &v, &bad)) {
        *error = Reply::error(ApiError::badRequest(bad));
        return std::nullopt;
    }
    return v;
}

/// One request being answered: what the answer needs once the request object is gone (Qt HTTP
/// Server reuses it for the connection's next request).
struct Router::Exchange
{
    Exchange(QHttpServerResponder &&r, const QHttpServerRequest &req)
        : responder(std::move(r)), socket(responder.socket()), method(req.method()), path(req.url().path()),
          remote(req.remoteAddress())
    {
        clock.start();
    }
    QHttpServerResponder responder;
    QPointer<QTcpSocket> socket; ///< deleted by the server when the client disconnects
    Method method;
    QString path;
    QHostAddress remote;
    QElapsedTimer clock;
    QString route;
    bool answered = false;
};

Router::Router(MetricsRegistry *metrics, const QString &metricPrefix, QObject *parent)
    : QObject(parent), m_metrics(metrics), m_prefix(metricPrefix), m_http(new QHttpServer(this))
{
    // Every answer waits for this loop: how long it was blocked is a server's first health figure.
    if (m_metrics)
        new EventLoopLagMonitor(m_metrics, m_prefix, this);
    m_http->setMissingHandler([this](const QHttpServerRequest &req, QHttpServerResponder &&responder) {
        auto exchange = std::make_shared<Exchange>(std::move(responder), req);
        const Respond respond = [router = QPointer<Router>(this), exchange](Reply reply) {
            if (router)
                router->send(*exchange, std::move(reply));
        };
        if (auto reply = dispatch(req, &exchange->route, respond))
            send(*exchange, std::move(*reply));
    });
}

Router::~Router() = default;

void Router::acceptWebSocketsAt(const QString &path, const QString &what)
{
    m_http->route(path, [this, path, what](const QHttpServerRequest &req, QHttpServerResponder &&responder) {
        if (req.value("Upgrade").compare("websocket", Qt::CaseInsensitive) == 0)
            return; // silent: the server hands the socket over
        QElapsedTimer clock;
        clock.start();
        QHttpServerResponse response("application/json", jsonError(QStringLiteral("websocket-only"), what),
                                     QHttpServerResponder::StatusCode::UpgradeRequired);
        response.addHeader("Upgrade", "websocket");
        record(path, int(response.statusCode()), clock.nsecsElapsed());
        response.write(std::move(responder));
    });
}

bool Router::listen(const QHostAddress &address, quint16 port, QString *error)
{
    m_port = m_http->listen(address, port);
    if (m_port == 0) {
        *error = QStringLiteral("cannot listen on HTTP port %1 (in use?)").arg(port);
        return false;
    }
    return true;
}

void Router::close()
{
    for (QTcpServer *s : m_http->servers())
        s->close();
}

const char *Router::methodName(Method m)
{
    switch (m) {
    case Method::Get: return "GET";
    case Method::Post: return "POST";
    case Method::Put: return "PUT";
    case Method::Patch: return "PATCH";
    case Method::Delete: return "DELETE";
    case Method::Head: return "HEAD";
    case Method::Options: return "OPTIONS";
    default: return "OTHER";
    }
}

void Router::addRoute(Method method, const QString &pattern, Handler handler, std::optional<int> access)
{
    m_routes.append({{method, pattern, access}, pattern.split(u'/', Qt::SkipEmptyParts), std::move(handler), {}});
}

void Router::addAsyncRoute(Method method, const QString &pattern, AsyncHandler handler, std::optional<int> access)
{
    m_routes.append({{method, pattern, access}, pattern.split(u'/', Qt::SkipEmptyParts), {}, std::move(handler)});
}

void Router::setDefaultHeader(const QByteArray &name, const QByteArray &value)
{
    m_defaultHeaders.append({name, value});
}

void Router::record(const QString &route, int status, qint64 elapsedNanoseconds)
{
    if (!m_metrics)
        return;
    m_metrics->counter(m_prefix + u"_http_requests_total", QStringLiteral("HTTP requests by route and status."),
                       {{QStringLiteral("route"), route}, {QStringLiteral("status"), QString::number(status)}})
        ->increment();
    m_metrics->histogram(m_prefix + u"_http_request_duration_seconds", QStringLiteral("Time to answer, by route."),
                         MetricsRegistry::defaultLatencyBuckets(), {{QStringLiteral("route"), route}})
        ->observe(elapsedNanoseconds / 1e9);
}

std::optional<Reply> Router::dispatch(const QHttpServerRequest &req, QString *routeName, const Respond &respond)
{
    const QStringList path = req.url().path().split(u'/', Qt::SkipEmptyParts);
    const Method method = req.method() == Method::Head ? Method::Get : req.method();
    QStringList allowed;
    QString matchedPattern;
    for (const Route &r : std::as_const(m_routes)) {
        if (r.segments.size() != path.size())
            continue;
        QStringList params;
        bool match = true;
        for (qsizetype i = 0; i < path.size() && match; ++i) {
            if (r.segments[i].startsWith(u'<'))
                params.append(path[i]);
            else
                match = r.segments[i] == path[i];
        }
        if (!match)
            continue;
        if (r.info.method != method) {
            if (matchedPattern.isEmpty())
                matchedPattern = r.info.pattern;
            allowed.append(QLatin1String(methodName(r.info.method)));
            if (r.info.method == Method::Get)
                allowed.append(QStringLiteral("HEAD"));
            continue;
        }
        *routeName = r.info.pattern;
        RouteContext ctx{req, params, {}};
        if (r.info.access && m_auth) {
            if (auto refused = m_auth(ctx, r.info))
                return refused;
        }
        if (r.async) {
            r.async(ctx, respond);
            return std::nullopt;
        }
        return r.handler(ctx);
    }
    if (!allowed.isEmpty()) {
        *routeName = matchedPattern;
        allowed.removeDuplicates();
        Reply reply = Reply::error(405, QStringLiteral("method-not-allowed"),
                                   QStringLiteral("%1 is not allowed on %2; it answers %3")
                                       .arg(QLatin1String(methodName(req.method())), req.url().path(),
                                            allowed.join(u", ")));
        reply.addHeader("Allow", allowed.join(u", ").toLatin1());
        return reply;
    }
    *routeName = QStringLiteral("unmatched");
    return Reply::error(ApiError::notFound(QStringLiteral("no resource %1").arg(req.url().path())));
}

namespace {

/// Writes a file's bytes to a socket as it drains, then closes the connection. Lives as the
/// socket's child: a client that goes away takes it along.
class FileStreamer : public QObject
{
public:
    static constexpr qint64 Chunk = 256 * 1024;
    static constexpr qint64 HighWater = 1024 * 1024; ///< bytes queued in the socket at most

    static void start(QTcpSocket *socket, std::unique_ptr<QFile> file)
    {
        auto *s = new FileStreamer(socket, std::move(file));
        QObject::connect(socket, &QIODevice::bytesWritten, s, &FileStreamer::fill);
        s->fill();
    }

private:
    FileStreamer(QTcpSocket *socket, std::unique_ptr<QFile> file)
        : QObject(socket), m_socket(socket), m_file(std::move(file)), m_left(m_file->size())
    {
    }

    void fill()
    {
        while (m_left > 0 && m_socket->bytesToWrite() < HighWater) {
            const QByteArray bytes = m_file->read(qMin(Chunk, m_left));
            if (bytes.isEmpty()) {
                // Shorter than its Content-Length said: the client must see a cut body.
                qCWarning(lcHttpRouter).noquote() << "cannot read" << m_file->fileName() << "to the end:"
                                                  << m_file->errorString();
                m_socket->abort();
                return;
            }
            m_left -= bytes.size();
            m_socket->write(bytes);
        }
        if (m_left == 0) {
            m_left = -1;
            m_socket->disconnectFromHost(); // after what is queued is written
        }
    }

    QTcpSocket *m_socket;
    std::unique_ptr<QFile> m_file;
    qint64 m_left;
};

} // namespace

void Router::send(Exchange &x, Reply reply)
{
    if (x.answered) {
        qCWarning(lcHttpRouter).noquote() << "a second answer to" << methodName(x.method) << x.path << "dropped";
        return;
    }
    x.answered = true;
    for (const auto &[k, v] : std::as_const(m_defaultHeaders)) {
        if (reply.header(k).isNull())
            reply.headers.append({k, v});
    }
    const bool head = x.method == Method::Head;
    const bool notModified = reply.status == 304;
    // Files (release bundles, many MB, to thousands of boxes) stream from disk in chunks
    // instead of being copied into every connection's write buffer.
    std::unique_ptr<QFile> file;
    qint64 contentLength = reply.body.size();
    if (!reply.filePath.isEmpty()) {
        file = std::make_unique<QFile>(reply.filePath);
        if (!file->open(QIODevice::ReadOnly)) {
            reply = Reply::error(ApiError::internal(QStringLiteral("cannot read %1").arg(QFileInfo(reply.filePath).fileName())));
            contentLength = reply.body.size();
            file.reset();
        } else {
            contentLength = file->size();
        }
    }
    record(x.route, reply.status, x.clock.nsecsElapsed());
    qCDebug(lcHttpRouter).noquote() << x.remote.toString() << methodName(x.method) << x.path << reply.status;
    if (!x.socket || x.socket->state() != QAbstractSocket::ConnectedState) {
        qCDebug(lcHttpRouter).noquote() << "client gone before the answer to" << methodName(x.method) << x.path;
        return;
    }
    // Headers written field by field, for the answers Qt HTTP Server 6.4 cannot put together
    // (it would send a HEAD's body and length, and has no way to say Connection: close).
    const auto writeHead = [&](bool withType) {
        x.responder.writeStatusLine(QHttpServerResponder::StatusCode(reply.status));
        for (const auto &[k, v] : std::as_const(reply.headers))
            x.responder.writeHeader(k, v);
        if (withType)
            x.responder.writeHeader("Content-Type", reply.mimeType);
    };
    if (head || notModified) {
        writeHead(!notModified);
        if (!notModified && !reply.stream)
            x.responder.writeHeader("Content-Length", QByteArray::number(contentLength));
        x.responder.writeBody(QByteArray());
        return;
    }
    if (reply.stream) {
        writeHead(true);
        x.responder.writeHeader("Connection", "close");
        x.responder.writeBody(reply.body);
        reply.stream(x.socket);
        return;
    }
    if (file) {
        // Written here rather than by QHttpServerResponder::write(QIODevice *): Qt HTTP Server
        // 6.4 moves a file 512 bytes per event-loop turn (about 45 MB/s for one client, all of
        // the server's thread). The body goes in FileStreamer::Chunk pieces, refilled as the
        // socket drains, with its Content-Length; then the connection closes, as its header
        // said, so that no request on it is answered while the body is still being written.
        writeHead(true);
        x.responder.writeHeader("Content-Length", QByteArray::number(contentLength));
        x.responder.writeHeader("Connection", "close");
        x.responder.writeBody(QByteArray());
        FileStreamer::start(x.socket, std::move(file));
        return;
    }
    QHttpServerResponse resp(reply.mimeType, reply.body, QHttpServerResponse::StatusCode(reply.status));
    for (const auto &[k, v] : std::as_const(reply.headers))
        resp.addHeader(k, v);
    resp.write(std::move(x.responder));
}

} // namespace iptv::http
