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
#include <QTimer>
#include <QUrl>
#include <QUrlQuery>

#include <sys/socket.h>

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

namespace {

Method methodFrom(QByteArrayView name)
{
    static const std::pair<QByteArrayView, Method> names[] = {
        {"GET", Method::Get},   {"POST", Method::Post},       {"PUT", Method::Put},         {"PATCH", Method::Patch},
        {"DELETE", Method::Delete}, {"HEAD", Method::Head}, {"OPTIONS", Method::Options}, {"CONNECT", Method::Connect},
        {"TRACE", Method::Trace}};
    for (const auto &[text, method] : names) {
        if (text == name)
            return method;
    }
    return Method::Unknown;
}

/// Follows the HTTP/1.1 framing of what a client sends (RFC 9112: each request's head, then
/// Content-Length bytes of body or chunks) on one connection, reading it before Qt HTTP Server
/// does (connected to readyRead first, it peeks and never consumes), and refuses a body larger
/// than its route's limit (413) or a head larger than Router::MaxHeadBytes (431) before Qt HTTP
/// Server buffers it: it answers, stops the server from seeing more, and closes the connection
/// once the answer is out (reading on meanwhile for a while, so that the client, still
/// sending, reads the answer rather than a reset). Qt HTTP Server disconnects it when the
/// connection becomes a WebSocket.
class RequestGuard : public QObject
{
public:
    RequestGuard(QTcpSocket *socket, Router *router) : QObject(socket), m_socket(socket), m_router(router)
    {
        connect(socket, &QIODevice::readyRead, this, &RequestGuard::onReadyRead);
    }

private:
    enum class State { Head, Body, ChunkLine, ChunkData, ChunkEnd, Trailer, Refused };
    static constexpr qsizetype MaxLine = 4096; ///< a chunk-size or trailer line

    void onReadyRead()
    {
        if (m_state == State::Refused) {
            m_socket->readAll(); // drained: the server is not to see it
            return;
        }
        const QByteArray data = m_socket->peek(m_socket->bytesAvailable());
        QByteArrayView rest(data);
        while (!rest.isEmpty() && m_state != State::Refused)
            rest = step(rest);
        if (m_state == State::Refused)
            m_socket->readAll();
    }

    /// Consumes what it can of `in` in the current state; returns the rest.
    QByteArrayView step(QByteArrayView in)
    {
        switch (m_state) {
        case State::Head: {
            if (m_line.isEmpty()) {
                while (!in.isEmpty() && (in.front() == '\r' || in.front() == '\n'))
                    in = in.sliced(1); // empty lines before a request are ignored (RFC 9112 2.2)
                if (in.isEmpty())
                    return in;
            }
            const qsizetype before = m_line.size();
            m_line += in;
            qsizetype end = m_line.indexOf("\r\n\r\n", qMax<qsizetype>(0, before - 3));
            qsizetype endLength = 4;
            if (const qsizetype lf = m_line.indexOf("\n\n", qMax<qsizetype>(0, before - 1)); lf >= 0 && (end < 0 || lf < end)) {
                end = lf;
                endLength = 2;
            }
            if (end < 0) {
                if (m_line.size() > Router::MaxHeadBytes)
                    refuse(431, QStringLiteral("header-too-large"),
                           QStringLiteral("the request's head is larger than %1 bytes").arg(Router::MaxHeadBytes));
                return {};
            }
            const qsizetype used = end + endLength - before;
            const QByteArray head = m_line.left(end);
            m_line.clear();
            if (head.size() > Router::MaxHeadBytes) {
                refuse(431, QStringLiteral("header-too-large"),
                       QStringLiteral("the request's head is larger than %1 bytes").arg(Router::MaxHeadBytes));
                return {};
            }
            startBody(head);
            return in.sliced(used);
        }
        case State::Body: {
            const qint64 n = qMin<qint64>(m_left, in.size());
            m_left -= n;
            if (m_left == 0)
                m_state = State::Head;
            return in.sliced(n);
        }
        case State::ChunkData: {
            const qint64 n = qMin<qint64>(m_left, in.size());
            m_left -= n;
            if (m_left == 0)
                m_state = State::ChunkEnd;
            return in.sliced(n);
        }
        case State::ChunkLine:
        case State::ChunkEnd:
        case State::Trailer: {
            const qsizetype lf = in.indexOf('\n');
            m_line += lf < 0 ? in : in.first(lf);
            if (m_line.size() > MaxLine) {
                refuse(400, QStringLiteral("bad-request"), QStringLiteral("a chunked body's line is longer than %1 bytes").arg(MaxLine));
                return {};
            }
            if (lf < 0)
                return {};
            const QByteArray line = m_line.trimmed();
            m_line.clear();
            lineDone(line);
            return in.sliced(lf + 1);
        }
        case State::Refused: return {};
        }
        return {};
    }

    void startBody(const QByteArray &head)
    {
        const QList<QByteArray> lines = head.split('\n');
        const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
        const Method method = methodFrom(requestLine.value(0));
        QByteArray target = requestLine.value(1);
        if (const qsizetype q = target.indexOf('?'); q >= 0)
            target.truncate(q);
        bool chunked = false;
        std::optional<qint64> length;
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray &line = lines[i];
            const qsizetype colon = line.indexOf(':');
            if (colon <= 0)
                continue;
            const QByteArray name = line.left(colon).trimmed().toLower();
            const QByteArray value = line.mid(colon + 1).trimmed();
            if (name == "transfer-encoding") {
                chunked = value.toLower().contains("chunked");
            } else if (name == "content-length") {
                bool ok = false;
                const qint64 n = value.toLongLong(&ok);
                if (!ok || n < 0 || (length && *length != n)) {
                    refuse(400, QStringLiteral("bad-request"), QStringLiteral("Content-Length: not one number of bytes"));
                    return;
                }
                length = n;
            }
        }
        m_limit = m_router ? m_router->maxBodyBytes(method, QUrl(QString::fromLatin1(target)).path()) : Router::DefaultMaxBodyBytes;
        m_bodyBytes = 0;
        if (chunked) {
            m_state = State::ChunkLine;
        } else if (length && *length > m_limit) {
            tooLarge(*length);
        } else if (length && *length > 0) {
            m_left = *length;
            m_state = State::Body;
        } else {
            m_state = State::Head;
        }
    }

    void lineDone(const QByteArray &line)
    {
        switch (m_state) {
        case State::ChunkLine: {
            bool ok = false;
            const qsizetype extension = line.indexOf(';');
            const QByteArray size = (extension < 0 ? line : line.left(extension)).trimmed();
            const qint64 n = size.size() <= 15 ? size.toLongLong(&ok, 16) : -1;
            if (!ok || n < 0) {
                refuse(400, QStringLiteral("bad-request"), QStringLiteral("a chunked body's chunk size is not a number"));
                return;
            }
            m_bodyBytes += n;
            if (m_bodyBytes > m_limit)
                tooLarge(m_bodyBytes);
            else if (n == 0)
                m_state = State::Trailer;
            else {
                m_left = n;
                m_state = State::ChunkData;
            }
            return;
        }
        case State::ChunkEnd: m_state = State::ChunkLine; return;
        case State::Trailer:
            if (line.isEmpty())
                m_state = State::Head;
            return;
        default: return;
        }
    }

    void tooLarge(qint64 bytes)
    {
        refuse(413, QStringLiteral("payload-too-large"),
               QStringLiteral("the request's body is %1 bytes or more; this takes at most %2").arg(bytes).arg(m_limit));
    }

    void refuse(int status, const QString &code, const QString &detail)
    {
        m_state = State::Refused;
        const QByteArray body = jsonError(code, detail);
        const QByteArray reason = status == 413 ? "Payload Too Large" : status == 431 ? "Request Header Fields Too Large" : "Bad Request";
        m_socket->write("HTTP/1.1 " + QByteArray::number(status) + ' ' + reason
                        + "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size())
                        + "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n" + body);
        qCInfo(lcHttpRouter).noquote() << m_socket->peerAddress().toString() << "refused:" << status << detail;
        if (m_router) // <prefix>_http_requests_total{route="refused",status="413"}
            m_router->record(QStringLiteral("refused"), status, 0);
        // Once the answer is out, the sending side closes; what the client still sends is read
        // and dropped until it closes, or for a few seconds, then the connection goes.
        connect(m_socket, &QIODevice::bytesWritten, this, [this] {
            if (m_socket->bytesToWrite() == 0 && !m_halfClosed) {
                m_halfClosed = true;
                ::shutdown(int(m_socket->socketDescriptor()), SHUT_WR);
            }
        });
        QTimer::singleShot(5000, this, [socket = m_socket] { socket->abort(); });
    }

    QTcpSocket *m_socket;
    QPointer<Router> m_router;
    State m_state = State::Head;
    QByteArray m_line;       ///< a head, or a line, so far
    qint64 m_left = 0;       ///< bytes of the body or chunk to come
    qint64 m_bodyBytes = 0;  ///< of a chunked body so far
    qint64 m_limit = Router::DefaultMaxBodyBytes;
    bool m_halfClosed = false;
};

} // namespace

/// Hands Qt HTTP Server connections that a RequestGuard watches.
class Router::GuardedTcpServer : public QTcpServer
{
public:
    explicit GuardedTcpServer(Router *router) : m_router(router) {}

protected:
    void incomingConnection(qintptr descriptor) override
    {
        auto *socket = new QTcpSocket(this);
        if (!socket->setSocketDescriptor(descriptor)) {
            delete socket;
            return;
        }
        // Qt HTTP Server writes an answer's head and body apart: with Nagle's algorithm a body that
        // does not fill a segment waits for the head's ACK, which the client delays (40 ms on Linux).
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        new RequestGuard(socket, m_router); // its readyRead slot runs before the server's
        addPendingConnection(socket);
    }

private:
    QPointer<Router> m_router;
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
    // Our own TCP server, so that every connection's bytes pass the body limit (RequestGuard)
    // before Qt HTTP Server reads them.
    auto *tcp = new GuardedTcpServer(this);
    if (!tcp->listen(address, port)) {
        *error = QStringLiteral("cannot listen on HTTP port %1 (in use?): %2").arg(port).arg(tcp->errorString());
        delete tcp;
        return false;
    }
    m_http->bind(tcp);
    m_port = tcp->serverPort();
    return true;
}

void Router::setMaxBodyBytes(Method method, const QString &pattern, qint64 bytes)
{
    for (Route &r : m_routes) {
        if (r.info.method == method && r.info.pattern == pattern)
            r.info.maxBodyBytes = bytes;
    }
}

qint64 Router::maxBodyBytes(Method method, const QString &path) const
{
    const QStringList parts = path.split(u'/', Qt::SkipEmptyParts);
    for (const Route &r : m_routes) {
        if (r.info.method != method || r.segments.size() != parts.size() || r.info.maxBodyBytes < 0)
            continue;
        bool match = true;
        for (qsizetype i = 0; i < parts.size() && match; ++i)
            match = r.segments[i].startsWith(u'<') || r.segments[i] == parts[i];
        if (match)
            return r.info.maxBodyBytes;
    }
    return m_maxBodyBytes;
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
