#pragma once

// The HTTP front every server shares (Qt HTTP Server 6.4): a route table of method + path
// pattern ("/api/boxes/<id>/approve"), an authentication hook for routes that need it, metrics
// by route pattern (<prefix>_http_requests_total{route,status} and
// <prefix>_http_request_duration_seconds{route}, and how long the event loop was blocked:
// <prefix>_event_loop_lag_seconds, eventlooplag.h), HEAD for every GET route, 405 with Allow when
// the path is known but the method is not, 404 for anything else, and one error body,
// {"error":"<code>","detail":"<text>"} (jsonError). A route answers at once (addRoute) or later,
// from work done off the event loop (addAsyncRoute).
//
// Routes are matched by this table rather than by QHttpServer::route so that one path can answer
// several methods and 405 is exact. Answers are written field by field where Qt HTTP Server 6.4
// would get them wrong: HEAD carries the GET's headers and Content-Length without a body (RFC
// 9110 9.3.2); 304 carries neither Content-Type nor Content-Length (RFC 9110 15.4.5).
//
// Clients hold only what ConnectionLimits lets them: idle connections close, connections and file
// answers are capped overall and per address (503 past a cap), file answers stream with a bounded
// queue, and accept() failing for want of descriptors pauses the port briefly rather than for
// good. listen() raises the descriptor limit to its hard limit (fdlimit.h).

#include "httputil.h"

#include <QByteArray>
#include <QHash>
#include <QHostAddress>
#include <QHttpServerRequest>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include <any>
#include <functional>
#include <optional>

QT_BEGIN_NAMESPACE
class QHttpServer;
class QTcpServer;
class QTcpSocket;
QT_END_NAMESPACE

namespace iptv {
class MetricsRegistry;
}

namespace iptv::http {

/// One answer. Headers not set here are left to Qt HTTP Server (Content-Type from mimeType,
/// Content-Length) and to the router's default headers.
struct Reply
{
    int status = 200;
    QByteArray body;
    QByteArray mimeType = "application/json";
    QList<std::pair<QByteArray, QByteArray>> headers;
    QString filePath; ///< when set, the body is streamed from this file, with its Content-Length; the connection closes after it
    /// An answer without an end (a live MPEG-TS stream): the router writes the status line and
    /// headers (with Connection: close and no Content-Length, RFC 9112 6.3: the body ends when
    /// the connection closes), writes `body` when not empty, then hands the socket to this
    /// function, which writes the rest as it comes. HEAD gets the headers only.
    std::function<void(QTcpSocket *socket)> stream;
    /// With filePath: the part of the file to send, from fileOffset, fileLength bytes (-1: to
    /// its end). The route sets the status (206) and Content-Range.
    qint64 fileOffset = 0;
    qint64 fileLength = -1;

    static Reply json(const QJsonObject &o, int status = 200);
    static Reply error(int status, const QString &code, const QString &detail);
    static Reply error(const ApiError &e) { return error(e.status, e.code, e.detail); }
    Reply &addHeader(const QByteArray &name, const QByteArray &value)
    {
        headers.append({name, value});
        return *this;
    }
    /// The value of header `name` (case-insensitive), empty when not set.
    QByteArray header(QByteArrayView name) const;
};

/// What a route sees of a request. The request is only valid during the handler's call.
struct RouteContext
{
    const QHttpServerRequest &request;
    /// The <name> segments of the pattern, in order, each percent-decoded after the path was
    /// split at its '/': an encoded one (%2F) is part of the value.
    QStringList params;
    std::any identity;  ///< what the authentication hook set for this request (e.g. the operator)

    /// Query parameter `name`, percent-decoded; empty when absent.
    QString query(const char *name) const;
    bool hasQuery(const char *name) const;
    /// The JSON object body ({} when empty), or nullopt with *error set to a 400.
    std::optional<QJsonObject> jsonBody(Reply *error) const;
    /// Query parameter `name` as a number in [min, max] (`fallback` when absent), or nullopt with
    /// *error set to a 400 that names it.
    std::optional<int> intQuery(const char *name, int fallback, int min, int max, Reply *error) const;
};

/// What a server lets clients hold (Qt HTTP Server 6.4 alone has no idle timeout and no cap: idle
/// connections would take every descriptor, and then accept() fails). Router::setConnectionLimits.
struct ConnectionLimits
{
    /// A connection is closed when it has sent no whole request head this long after it opened
    /// or after its last answer was written (bytes of a head trickling in do not extend it), or
    /// when a body being sent or an answer being written has not moved this long (a client that
    /// stopped reading). Not while a request awaits its answer, nor on a WebSocket or an endless
    /// stream.
    int idleTimeoutMs = 30000;
    /// Connections open at once (WebSockets included); 0: three quarters of the descriptor limit
    /// (half under 2,048), leaving the rest to files (a recorder's segments). One past it is
    /// answered 503 and closed.
    int maxConnections = 0;
    /// From one IP address (a proxy in front counts as one); 0: no cap of its own. Off by default:
    /// a fleet simulator, or boxes behind one NAT, may come from one address (diver sets it).
    int maxConnectionsPerPeer = 0;
    /// File answers (Reply::filePath) being written at once, overall and to one IP address (0: no
    /// cap); one past them is 503 with Retry-After. Each holds at most FileStreamHighWater bytes
    /// in memory. Off by default: a box takes a 503 on its release bundle as a failed install.
    int maxFileStreams = 0;
    int maxFileStreamsPerPeer = 0;
    /// accept() failing (out of descriptors: EMFILE) pauses the listening socket; it is tried
    /// again this long after.
    int acceptRetryMs = 1000;
};

class Router : public QObject
{
    Q_OBJECT
public:
    using Method = QHttpServerRequest::Method;

    /// Metrics go to `metrics` (may be null) as <metricPrefix>_http_... and <metricPrefix>_event_loop_...
    /// (the loop of the thread the router is made in).
    Router(MetricsRegistry *metrics, const QString &metricPrefix, QObject *parent = nullptr);
    ~Router() override;

    bool listen(const QHostAddress &address, quint16 port, QString *error);
    void close();
    quint16 port() const { return m_port; }
    /// For what the table cannot express (WebSocket upgrades): QHttpServer::route() routes are
    /// tried before the table.
    QHttpServer *httpServer() const { return m_http; }

    using Handler = std::function<Reply(RouteContext &)>;
    /// Sends an asynchronous route's answer: call it once, on the router's thread. Does nothing
    /// when the client has gone meanwhile or the router is gone.
    using Respond = std::function<void(Reply)>;
    /// Qt HTTP Server reads a connection's next request meanwhile, so a client that pipelines
    /// (curl, browsers and QNetworkAccessManager do not) may get a later answer first.
    using AsyncHandler = std::function<void(RouteContext &, Respond)>;

    /// `pattern` like "/api/boxes/<id>/approve"; `access` is what the auth hook checks (nullopt:
    /// anyone). A GET route answers HEAD too.
    void addRoute(Method method, const QString &pattern, Handler handler, std::optional<int> access = std::nullopt);
    void addAsyncRoute(Method method, const QString &pattern, AsyncHandler handler,
                       std::optional<int> access = std::nullopt);

    struct RouteInfo
    {
        Method method;
        QString pattern;
        std::optional<int> access;
        qint64 maxBodyBytes = -1; ///< -1: the router's
    };
    /// Runs before the handler of every route with an `access`; an error reply refuses the
    /// request, nullopt lets it through (the hook may set context.identity for the handler).
    using AuthHook = std::function<std::optional<Reply>(RouteContext &context, const RouteInfo &route)>;
    void setAuthHook(AuthHook hook) { m_auth = std::move(hook); }

    /// A header every answer carries unless its route set it (e.g. Cache-Control: no-store).
    void setDefaultHeader(const QByteArray &name, const QByteArray &value);

    /// Request bodies are limited (Qt HTTP Server 6.4 would hold any body whole in memory, twice,
    /// before a route sees it): one whose Content-Length says more than the route's limit is
    /// answered 413 Payload Too Large as soon as its head is in, before its body is read, and a
    /// chunked one once it grows past the limit; the connection then closes. A head larger than
    /// MaxHeadBytes is 431. Refusals count as route "refused" in <prefix>_http_requests_total.
    /// Default DefaultMaxBodyBytes (JSON APIs).
    static constexpr qint64 DefaultMaxBodyBytes = 1024 * 1024;
    static constexpr qint64 MaxHeadBytes = 64 * 1024;
    void setMaxBodyBytes(qint64 bytes) { m_maxBodyBytes = bytes; }
    /// The limit for one route (an upload); the pattern as given to addRoute.
    void setMaxBodyBytes(Method method, const QString &pattern, qint64 bytes);
    /// The body limit of a request for `method` and `path` (as on the request line,
    /// percent-encoded; the default for an unknown path).
    qint64 maxBodyBytes(Method method, const QString &path) const;

    /// Lets WebSocket clients in at `path` on this port (take them from httpServer()'s
    /// newWebSocketConnection). Qt HTTP Server 6.4 hands an upgrade over only when a route handled
    /// the request and wrote nothing; a plain request there gets 426 Upgrade Required, `what`
    /// saying what the socket speaks.
    void acceptWebSocketsAt(const QString &path, const QString &what);
    /// Records an answer given outside the table (a QHttpServer::route) in the metrics.
    void record(const QString &route, int status, qint64 elapsedNanoseconds);

    static const char *methodName(Method m);

    /// Takes effect for connections accepted from then on (maxConnections at the next listen()).
    void setConnectionLimits(const ConnectionLimits &limits) { m_limits = limits; }
    const ConnectionLimits &connectionLimits() const { return m_limits; }
    /// The cap on open connections in force (maxConnections, or the default from the descriptor
    /// limit raised at listen()).
    int maxConnections() const;
    int openConnections() const;
    int openFileStreams() const;
    /// Bytes of answers held in memory, waiting for their clients to read them.
    qint64 queuedBytes() const;
    /// Bytes a file answer keeps queued at most beyond what the socket has taken.
    static constexpr qint64 FileStreamHighWater = 1024 * 1024;

private:
    struct Route
    {
        RouteInfo info;
        QStringList segments;
        Handler handler;
        AsyncHandler async;
    };
    struct Exchange;
    class GuardedTcpServer;
    class RequestGuard;
    class FileStreamer;
    /// Why a new connection from `peer` is refused, or empty.
    QString admit(const QHostAddress &peer);
    void acceptFailed(QTcpServer *server);
    void answered(QTcpSocket *socket);
    std::optional<Reply> dispatch(const QHttpServerRequest &request, QString *routeName, const Respond &respond);
    void send(Exchange &exchange, Reply reply);

    MetricsRegistry *m_metrics;
    QString m_prefix;
    QHttpServer *m_http;
    QList<Route> m_routes;
    QList<std::pair<QByteArray, QByteArray>> m_defaultHeaders;
    AuthHook m_auth;
    quint16 m_port = 0;
    qint64 m_maxBodyBytes = DefaultMaxBodyBytes;
    ConnectionLimits m_limits;
    int m_fdLimit = 0;
    QHash<const QTcpSocket *, RequestGuard *> m_connections;
    QHash<QHostAddress, int> m_perPeer;
    int m_fileStreams = 0;
    QHash<QHostAddress, int> m_fileStreamsPerPeer;
    qint64 m_refusedSinceLog = 0;
    qint64 m_lastRefusalLogMs = 0;
};

} // namespace iptv::http
