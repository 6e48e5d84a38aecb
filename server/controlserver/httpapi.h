#pragma once

// The operator HTTP API on port 8421 (Qt HTTP Server 6.4), JSON in and out. Every /api route
// but /api/login needs "Authorization: Bearer <token>"; each route names the least role it
// needs (viewer reads, operator acts on boxes and commands, admin manages operators). Errors are
// {"code": "...", "message": "..."} with 400/401/403/404/409/500, and 429/503 with Retry-After
// from login. Every action is audited, refused ones included. The route table is in httpapi.cpp
// and in README.md.
//
// Routes are matched by a small table (method + path pattern with <id> segments) instead of
// QHttpServer::route so that one path can answer several methods and 405 is exact; other parts
// of the server (releases, rollouts) add theirs with addRoute(). A route whose answer needs work
// off the event loop (login's Argon2id check) is added with addAsyncRoute() and answers later
// through the responder Qt HTTP Server hands over; the loop serves other requests meanwhile.

#include "operators.h"

#include <QByteArray>
#include <QHostAddress>
#include <QHttpServerRequest>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QStringList>

#include <functional>

QT_BEGIN_NAMESPACE
class QHttpServer;
QT_END_NAMESPACE

namespace iptv::control {

class ControlServer;
struct ActionResult;

struct HttpReply
{
    int status = 200;
    QByteArray body;
    QByteArray mimeType = "application/json";
    QList<std::pair<QByteArray, QByteArray>> headers;
    QString filePath; ///< when set, the body is streamed from this file (release bundles)

    static HttpReply json(const QJsonObject &o, int status = 200);
    static HttpReply error(int status, const QString &code, const QString &message);
    /// The JSON answer of a server action: its body, or its error.
    static HttpReply fromAction(const ActionResult &a);
};

struct HttpContext
{
    const QHttpServerRequest &request;
    std::optional<OperatorIdentity> op; ///< set for authenticated routes
    QStringList params;                 ///< the <id> segments, in order
    QString bearer;
    QString query(const char *name) const;
    /// The JSON object body, or nullopt with *reply set to a 400.
    std::optional<QJsonObject> jsonBody(HttpReply *reply) const;
    /// Query parameter `name` as a number in [min, max] (`fallback` when absent), or nullopt with
    /// *error set to a 400 that names it.
    std::optional<int> intQuery(const char *name, int fallback, int min, int max, HttpReply *error) const;
};

class HttpApi : public QObject
{
    Q_OBJECT
public:
    explicit HttpApi(ControlServer *server);
    ~HttpApi() override;

    bool listen(const QHostAddress &address, quint16 port, QString *error);
    void close();
    quint16 port() const { return m_port; }

    using Handler = std::function<HttpReply(HttpContext &)>;
    /// `pattern` like "/api/boxes/<id>/approve"; `role` nullopt = no authentication.
    void addRoute(QHttpServerRequest::Method method, const QString &pattern, std::optional<Role> role, Handler handler);

    /// Sends an asynchronous route's answer: call it once, on this object's thread. Does nothing
    /// when the client has gone meanwhile.
    using Respond = std::function<void(HttpReply)>;
    /// The request in the context is only valid during the call: copy what the work needs.
    /// Qt HTTP Server reads a connection's next request meanwhile, so a client that pipelines
    /// (curl, browsers and QNetworkAccessManager do not) may get a later answer first.
    using AsyncHandler = std::function<void(HttpContext &, Respond)>;
    void addAsyncRoute(QHttpServerRequest::Method method, const QString &pattern, std::optional<Role> role,
                       AsyncHandler handler);

private:
    struct Route
    {
        QHttpServerRequest::Method method;
        QStringList segments;
        QString pattern;
        std::optional<Role> role;
        Handler handler;
        AsyncHandler async;
    };
    struct Exchange;
    void setupRoutes();
    /// The reply, or nullopt when an asynchronous route took `respond` to answer later.
    std::optional<HttpReply> dispatch(const QHttpServerRequest &request, QString *routeName, const Respond &respond);
    void send(Exchange &exchange, HttpReply reply);

    ControlServer *m_server;
    QHttpServer *m_http;
    QList<Route> m_routes;
    quint16 m_port = 0;
};

} // namespace iptv::control
