#include "httprouter.h"

#include "eventlooplag.h"
#include "fdlimit.h"
#include "metrics.h"
#include "numbers.h"

#include <QDateTime>
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

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

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

/// The segments of a request's path (as it came, percent-encoded), each decoded after the split:
/// an encoded '/' (%2F) belongs to its segment, so a parameter may hold one (a channel id such as
/// "bbc.co.uk/one" sent as bbc.co.uk%2Fone).
QStringList pathSegments(const QString &encodedPath)
{
    QStringList segments;
    for (const QStringView part : QStringView(encodedPath).split(u'/', Qt::SkipEmptyParts))
        segments.append(QUrl::fromPercentEncoding(part.toUtf8()));
    return segments;
}

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

} // namespace

/// Follows the HTTP/1.1 framing of what a client sends (RFC 9112: each request's head, then
/// Content-Length bytes of body or chunks) on one connection, reading it before Qt HTTP Server
/// does (connected to readyRead first, it peeks and never consumes), and refuses a body larger
/// than its route's limit (413) or a head larger than Router::MaxHeadBytes (431) before Qt HTTP
/// Server buffers it: it answers, stops the server from seeing more, and closes the connection
/// once the answer is out (reading on meanwhile for a while, so that the client, still
/// sending, reads the answer rather than a reset). Qt HTTP Server disconnects it when the
/// connection becomes a WebSocket.
///
/// It also keeps the connection's idle deadline (ConnectionLimits::idleTimeoutMs) and counts it
/// in its router's connections (per peer) for as long as the socket lives.
class Router::RequestGuard : public QObject
{
public:
    RequestGuard(QTcpSocket *socket, Router *router, const QHostAddress &peer)
        : QObject(socket), m_socket(socket), m_router(router), m_peer(peer)
    {
        connect(socket, &QIODevice::readyRead, this, &RequestGuard::onReadyRead);
        connect(socket, &QIODevice::bytesWritten, this, &RequestGuard::onBytesWritten);
        m_idle.setSingleShot(true);
        connect(&m_idle, &QTimer::timeout, this, &RequestGuard::onIdle);
        router->m_connections.insert(socket, this);
        ++router->m_perPeer[peer];
        m_idle.start(router->m_limits.idleTimeoutMs);
    }
    ~RequestGuard() override
    {
        if (!m_router)
            return;
        m_router->m_connections.remove(m_socket);
        if (auto n = m_router->m_perPeer.find(m_peer); n != m_router->m_perPeer.end() && --*n <= 0)
            m_router->m_perPeer.erase(n);
    }

    qint64 queuedBytes() const { return m_socket->bytesToWrite(); }

    /// The router answered one of the requests read.
    void answered()
    {
        m_pending = qMax(0, m_pending - 1);
        m_upgrade = false; // answered, so not handed over
        if (m_pending == 0)
            restartIdle();
    }
    /// The answer is an endless stream (Reply::stream): its writer decides when it ends.
    void streaming()
    {
        m_streaming = true;
        m_idle.stop();
    }

private:
    void restartIdle()
    {
        if (m_router && !m_streaming && !m_upgrade && m_state != State::Refused)
            m_idle.start(m_router->m_limits.idleTimeoutMs);
    }

    void onBytesWritten()
    {
        // An answer moving (or just written) starts the wait again; a request still owed its
        // answer (an asynchronous route at work) has none.
        if (m_socket->bytesToWrite() > 0 || m_pending == 0)
            restartIdle();
        else
            m_idle.stop();
    }

    void onIdle()
    {
        if (m_streaming || m_upgrade || m_state == State::Refused || !m_router
            || (m_pending > 0 && m_socket->bytesToWrite() == 0))
            return;
        const bool writing = m_socket->bytesToWrite() > 0;
        qCDebug(lcHttpRouter).noquote() << m_peer.toString() << "closed after" << m_router->m_limits.idleTimeoutMs << "ms"
                                        << (writing ? "without reading its answer" : "without a request");
        if (m_router->m_metrics)
            m_router->m_metrics
                ->counter(m_router->m_prefix + u"_http_idle_closed_total",
                          QStringLiteral("Connections closed for idling (no request, or an answer not read) past the idle timeout."))
                ->increment();
        m_socket->abort();
    }

    enum class State { Head, Body, ChunkLine, ChunkData, ChunkEnd, Trailer, Refused };
    static constexpr qsizetype MaxLine = 4096; ///< a chunk-size or trailer line

    void onReadyRead()
    {
        if (m_state == State::Refused) {
            m_socket->readAll(); // drained: the server is not to see it
            return;
        }
        if (m_streaming)
            return;
        const QByteArray data = m_socket->peek(m_socket->bytesAvailable());
        const bool inHead = m_state == State::Head;
        const int pending = m_pending;
        QByteArrayView rest(data);
        while (!rest.isEmpty() && m_state != State::Refused)
            rest = step(rest);
        if (m_state == State::Refused) {
            m_socket->readAll();
            return;
        }
        // A head must be in within the idle timeout of its first byte (a client sending a byte now
        // and then holds nothing); a body, a request owed an answer or a WebSocket's handshake
        // wait on their own terms.
        if (m_upgrade || (m_pending > 0 && m_socket->bytesToWrite() == 0))
            m_idle.stop();
        else if (!(inHead && m_state == State::Head && m_pending == pending))
            restartIdle();
        else if (!m_idle.isActive())
            restartIdle();
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
                requestRead();
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
        bool chunked = false, upgrade = false;
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
            } else if (name == "upgrade") {
                upgrade = value.toLower().contains("websocket");
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
        m_limit = m_router ? m_router->maxBodyBytes(method, QUrl(QString::fromLatin1(target)).path(QUrl::FullyEncoded)) : Router::DefaultMaxBodyBytes;
        m_bodyBytes = 0;
        if (chunked) {
            m_state = State::ChunkLine;
        } else if (length && *length > m_limit) {
            tooLarge(*length);
        } else if (length && *length > 0) {
            m_left = *length;
            m_state = State::Body;
        } else {
            // A WebSocket's handshake: the server hands the socket over (and disconnects it from
            // this guard), or answers it (426) through the router.
            m_upgrade = upgrade;
            requestRead();
        }
    }

    /// A whole request is in; the router owes it an answer.
    void requestRead()
    {
        m_state = State::Head;
        ++m_pending;
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
                requestRead();
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
        m_idle.stop();
        QTimer::singleShot(5000, this, [socket = m_socket] { socket->abort(); });
    }

    QTcpSocket *m_socket;
    QPointer<Router> m_router;
    QHostAddress m_peer;
    QTimer m_idle;
    int m_pending = 0;        ///< requests read and not answered yet
    bool m_upgrade = false;   ///< a WebSocket handshake read, not answered
    bool m_streaming = false; ///< the answer is an endless stream
    State m_state = State::Head;
    QByteArray m_line;       ///< a head, or a line, so far
    qint64 m_left = 0;       ///< bytes of the body or chunk to come
    qint64 m_bodyBytes = 0;  ///< of a chunked body so far
    qint64 m_limit = Router::DefaultMaxBodyBytes;
    bool m_halfClosed = false;
};

/// Hands Qt HTTP Server connections that a RequestGuard watches, within the router's caps: one
/// past them is answered 503 and closed before Qt HTTP Server sees it.
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
        if (!m_router) {
            socket->abort();
            socket->deleteLater();
            return;
        }
        const QHostAddress peer = socket->peerAddress();
        if (const QString why = m_router->admit(peer); !why.isEmpty()) {
            const QByteArray body = jsonError(QStringLiteral("too-many-connections"), why);
            socket->write("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: "
                          + QByteArray::number(body.size())
                          + "\r\nRetry-After: 5\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n" + body);
            connect(socket, &QAbstractSocket::disconnected, socket, &QObject::deleteLater);
            socket->disconnectFromHost(); // once the answer is out
            QTimer::singleShot(1000, socket, [socket] { socket->abort(); });
            return;
        }
        // Qt HTTP Server writes an answer's head and body apart: with Nagle's algorithm a body that
        // does not fill a segment waits for the head's ACK, which the client delays (40 ms on Linux).
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        new RequestGuard(socket, m_router, peer); // its readyRead slot runs before the server's
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

Router::~Router()
{
    // The connections first, while the bookkeeping their guards leave is still here.
    delete m_http;
}

int Router::maxConnections() const
{
    if (m_limits.maxConnections > 0)
        return m_limits.maxConnections;
    // A quarter of the descriptors left to files and the rest of the process, at least half of
    // them under 2,048 (a small limit: the process's own dozens of descriptors weigh more).
    const int limit = m_fdLimit > 0 ? m_fdLimit : raiseFileDescriptorLimit();
    return qMax(16, limit - qMax(limit / 4, qMin(1024, limit / 2)));
}

int Router::openConnections() const
{
    return int(m_connections.size());
}

int Router::openFileStreams() const
{
    return m_fileStreams;
}

qint64 Router::queuedBytes() const
{
    qint64 bytes = 0;
    for (const RequestGuard *g : m_connections)
        bytes += g->queuedBytes();
    return bytes;
}

QString Router::admit(const QHostAddress &peer)
{
    QString why;
    QString reason;
    if (m_connections.size() >= maxConnections()) {
        why = QStringLiteral("the server holds %1 connections, its most; retry shortly").arg(m_connections.size());
        reason = QStringLiteral("total");
    } else if (m_limits.maxConnectionsPerPeer > 0 && m_perPeer.value(peer) >= m_limits.maxConnectionsPerPeer) {
        why = QStringLiteral("%1 connections from %2 are open, the most one address may hold; close some")
                  .arg(m_perPeer.value(peer))
                  .arg(peer.toString());
        reason = QStringLiteral("per-peer");
    } else {
        return {};
    }
    if (m_metrics)
        m_metrics
            ->counter(m_prefix + u"_http_connections_refused_total", QStringLiteral("Connections refused at a cap (503), by cap."),
                      {{QStringLiteral("cap"), reason}})
            ->increment();
    // Logged once in a while, not once per connection of a flood.
    ++m_refusedSinceLog;
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    if (nowMs - m_lastRefusalLogMs >= 10000) {
        qCWarning(lcHttpRouter).noquote() << "refusing connections:" << why << "(" << m_refusedSinceLog
                                          << "refused since the last such message)";
        m_lastRefusalLogMs = nowMs;
        m_refusedSinceLog = 0;
    }
    return why;
}

void Router::acceptFailed(QTcpServer *server)
{
    // Qt stops accepting after an error that is not temporary (EMFILE, ENFILE, ENOBUFS) and never
    // resumes by itself: the server would be deaf until restarted.
    const int retryMs = qMax(1, m_limits.acceptRetryMs);
    qCWarning(lcHttpRouter).noquote() << "cannot accept connections on port" << server->serverPort() << ":"
                                      << server->errorString() << "(" << m_connections.size()
                                      << "open); trying again in" << retryMs << "ms";
    if (m_metrics)
        m_metrics
            ->counter(m_prefix + u"_http_accept_errors_total",
                      QStringLiteral("accept() failures (out of descriptors); accepting resumes after a pause."))
            ->increment();
    QTimer::singleShot(retryMs, server, [server] {
        // Qt 6.4 keeps its socket engine's last error: once accept() failed, an accept() that just
        // finds no connection waiting (EAGAIN) reports it again and pauses anew, after every
        // connection taken. A fresh engine on the same listening socket (a duplicate of its
        // descriptor: the connections waiting in its backlog stay) forgets it.
        const int fd = ::fcntl(int(server->socketDescriptor()), F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            server->resumeAccepting(); // still short of descriptors: fails, and is retried
            return;
        }
        server->close();
        if (!server->setSocketDescriptor(fd)) {
            qCCritical(lcHttpRouter).noquote() << "cannot listen again after accept() failed:" << server->errorString();
            ::close(fd);
        }
    });
}

void Router::answered(QTcpSocket *socket)
{
    if (!socket)
        return;
    if (RequestGuard *guard = m_connections.value(socket))
        guard->answered();
}

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
        QTcpSocket *socket = responder.socket();
        response.write(std::move(responder));
        answered(socket);
    });
}

bool Router::listen(const QHostAddress &address, quint16 port, QString *error)
{
    // Our own TCP server, so that every connection's bytes pass the body limit (RequestGuard)
    // before Qt HTTP Server reads them.
    m_fdLimit = raiseFileDescriptorLimit();
    auto *tcp = new GuardedTcpServer(this);
    connect(tcp, &QTcpServer::acceptError, this, [this, tcp] { acceptFailed(tcp); });
    if (!tcp->listen(address, port)) {
        *error = QStringLiteral("cannot listen on HTTP port %1 (in use?): %2").arg(port).arg(tcp->errorString());
        delete tcp;
        return false;
    }
    m_http->bind(tcp);
    m_port = tcp->serverPort();
    if (m_metrics) {
        m_metrics->gaugeCallback(m_prefix + u"_http_connections", QStringLiteral("Open HTTP connections (WebSockets included)."),
                                 [router = QPointer<Router>(this)] { return router ? double(router->openConnections()) : 0.0; });
        m_metrics->gaugeCallback(m_prefix + u"_http_connections_max", QStringLiteral("The cap on open HTTP connections."),
                                 [router = QPointer<Router>(this)] { return router ? double(router->maxConnections()) : 0.0; });
        m_metrics->gaugeCallback(m_prefix + u"_http_queued_bytes",
                                 QStringLiteral("Bytes of answers held in memory until their clients read them."),
                                 [router = QPointer<Router>(this)] { return router ? double(router->queuedBytes()) : 0.0; });
    }
    qCInfo(lcHttpRouter).noquote() << "HTTP on port" << m_port << "holds at most" << maxConnections() << "connections"
                                   << (m_limits.maxConnectionsPerPeer > 0
                                           ? QStringLiteral("(%1 per address)").arg(m_limits.maxConnectionsPerPeer)
                                           : QString())
                                   << "; idle ones close after" << m_limits.idleTimeoutMs << "ms";
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
    const QStringList parts = pathSegments(path);
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
    const QStringList path = pathSegments(req.url().path(QUrl::FullyEncoded));
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

/// Writes a file's bytes (a part of it: `length` from where it stands) to a socket as it drains,
/// then closes the connection. Lives as the socket's child: a client that goes away takes it
/// along. Counted in its router's file streams while it lives.
class Router::FileStreamer : public QObject
{
public:
    static constexpr qint64 Chunk = 256 * 1024;
    static constexpr qint64 HighWater = Router::FileStreamHighWater; ///< bytes queued in the socket at most

    static void start(Router *router, const QHostAddress &peer, QTcpSocket *socket, std::unique_ptr<QFile> file, qint64 length)
    {
        auto *s = new FileStreamer(router, peer, socket, std::move(file), length);
        QObject::connect(socket, &QIODevice::bytesWritten, s, &FileStreamer::fill);
        s->fill();
    }
    ~FileStreamer() override
    {
        if (!m_router)
            return;
        --m_router->m_fileStreams;
        if (auto n = m_router->m_fileStreamsPerPeer.find(m_peer); n != m_router->m_fileStreamsPerPeer.end() && --*n <= 0)
            m_router->m_fileStreamsPerPeer.erase(n);
    }

private:
    FileStreamer(Router *router, const QHostAddress &peer, QTcpSocket *socket, std::unique_ptr<QFile> file, qint64 length)
        : QObject(socket), m_router(router), m_peer(peer), m_socket(socket), m_file(std::move(file)), m_left(length)
    {
        ++router->m_fileStreams;
        ++router->m_fileStreamsPerPeer[peer];
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

    QPointer<Router> m_router;
    QHostAddress m_peer;
    QTcpSocket *m_socket;
    std::unique_ptr<QFile> m_file;
    qint64 m_left;
};

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
    if (!reply.filePath.isEmpty() && !head && !notModified
        && ((m_limits.maxFileStreams > 0 && m_fileStreams >= m_limits.maxFileStreams)
            || (m_limits.maxFileStreamsPerPeer > 0 && m_fileStreamsPerPeer.value(x.remote) >= m_limits.maxFileStreamsPerPeer))) {
        // Each one being written holds up to FileStreamHighWater bytes: a client that asks on many
        // connections and reads none is not to hold them all.
        const bool perPeer = !(m_limits.maxFileStreams > 0 && m_fileStreams >= m_limits.maxFileStreams);
        reply = Reply::error(503, QStringLiteral("too-many-downloads"),
                             perPeer ? QStringLiteral("%1 files are being sent to %2, the most at once; retry when one is done")
                                           .arg(m_fileStreamsPerPeer.value(x.remote))
                                           .arg(x.remote.toString())
                                     : QStringLiteral("%1 files are being sent, the most at once; retry shortly").arg(m_fileStreams));
        reply.addHeader("Retry-After", "1");
        contentLength = reply.body.size();
    }
    if (!reply.filePath.isEmpty()) {
        file = std::make_unique<QFile>(reply.filePath);
        if (!file->open(QIODevice::ReadOnly)) {
            // There but not to be opened (out of descriptors, mostly): say so, and that it passes.
            const QString name = QFileInfo(reply.filePath).fileName();
            if (QFileInfo::exists(reply.filePath)) {
                qCWarning(lcHttpRouter).noquote() << "cannot open" << reply.filePath << ":" << file->errorString();
                reply = Reply::error(503, QStringLiteral("unavailable"),
                                     QStringLiteral("cannot open %1 now: %2").arg(name, file->errorString()));
                reply.addHeader("Retry-After", "5");
            } else {
                reply = Reply::error(ApiError::internal(QStringLiteral("cannot read %1").arg(name)));
            }
            contentLength = reply.body.size();
            file.reset();
        } else {
            const qint64 offset = qBound<qint64>(0, reply.fileOffset, file->size());
            contentLength = file->size() - offset;
            if (reply.fileLength >= 0)
                contentLength = qMin(contentLength, reply.fileLength);
            if (offset > 0 && !file->seek(offset)) {
                reply = Reply::error(ApiError::internal(QStringLiteral("cannot read %1").arg(QFileInfo(reply.filePath).fileName())));
                contentLength = reply.body.size();
                file.reset();
            }
        }
    }
    record(x.route, reply.status, x.clock.nsecsElapsed());
    qCDebug(lcHttpRouter).noquote() << x.remote.toString() << methodName(x.method) << x.path << reply.status;
    if (!x.socket || x.socket->state() != QAbstractSocket::ConnectedState) {
        qCDebug(lcHttpRouter).noquote() << "client gone before the answer to" << methodName(x.method) << x.path;
        return;
    }
    answered(x.socket);
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
        if (RequestGuard *guard = m_connections.value(x.socket))
            guard->streaming();
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
        FileStreamer::start(this, x.remote, x.socket, std::move(file), contentLength);
        return;
    }
    QHttpServerResponse resp(reply.mimeType, reply.body, QHttpServerResponse::StatusCode(reply.status));
    for (const auto &[k, v] : std::as_const(reply.headers))
        resp.addHeader(k, v);
    resp.write(std::move(x.responder));
}

} // namespace iptv::http
