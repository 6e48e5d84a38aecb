#pragma once

// The operator HTTP API on port 8421 (Qt HTTP Server 6.4), JSON in and out. Every /api route
// but /api/login needs "Authorization: Bearer <token>"; each route names the least role it
// needs (viewer reads, operator acts on boxes and commands, admin manages operators). Errors are
// {"error": "<code>", "detail": "<text>"} with 400/401/403/404/409/500, and 429/503 with
// Retry-After from login. Every action is audited, refused ones included. The route table is in
// httpapi.cpp and in README.md.
//
// Routing, HEAD, 405, 404 and the metrics are libs/core's iptv::http::Router; this class plugs
// in the bearer tokens and roles (its auth hook). The routes come from the layers above: the
// boxes, commands, operators and audit from app/controlroutes.cpp, releases and rollouts from
// releases/releaseroutes.cpp, each with addRoute(). A route whose answer needs work off the event
// loop (login's Argon2id check) is added with addAsyncRoute() and answers later; the loop serves
// other requests meanwhile.

#include "operators/operators.h"

#include <core/httprouter.h>

#include <QByteArray>
#include <QHostAddress>
#include <QHttpServerRequest>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QStringList>

#include <functional>

namespace iptv::control {

class AuditLog;
struct ActionResult;

using HttpReply = iptv::http::Reply;

/// The JSON answer of a server action: its body, or its error.
HttpReply replyFrom(const ActionResult &a);

struct HttpContext : iptv::http::RouteContext
{
    std::optional<OperatorIdentity> op; ///< set for authenticated routes
    QString bearer;
};

class HttpApi : public QObject
{
    Q_OBJECT
public:
    /// Bearer tokens are checked by `operators`, refusals written to `audit`, request metrics to `metrics`.
    HttpApi(OperatorDirectory *operators, AuditLog *audit, iptv::MetricsRegistry *metrics, QObject *parent = nullptr);
    ~HttpApi() override;

    bool listen(const QHostAddress &address, quint16 port, QString *error);
    void close();
    quint16 port() const { return m_router->port(); }

    using Handler = std::function<HttpReply(HttpContext &)>;
    /// `pattern` like "/api/boxes/<id>/approve"; `role` nullopt = no authentication.
    void addRoute(QHttpServerRequest::Method method, const QString &pattern, std::optional<Role> role, Handler handler);

    /// Sends an asynchronous route's answer: call it once, on this object's thread. Does nothing
    /// when the client has gone meanwhile.
    using Respond = iptv::http::Router::Respond;
    /// The request in the context is only valid during the call: copy what the work needs.
    /// Qt HTTP Server reads a connection's next request meanwhile, so a client that pipelines
    /// (curl, browsers and QNetworkAccessManager do not) may get a later answer first.
    using AsyncHandler = std::function<void(HttpContext &, Respond)>;
    void addAsyncRoute(QHttpServerRequest::Method method, const QString &pattern, std::optional<Role> role,
                       AsyncHandler handler);
    /// A route's request body limit (an upload), instead of the router's 1 MiB (413 beyond it).
    void setMaxBodyBytes(QHttpServerRequest::Method method, const QString &pattern, qint64 bytes)
    {
        m_router->setMaxBodyBytes(method, pattern, bytes);
    }

private:
    /// What the auth hook leaves in the route context for the handler.
    struct Authenticated
    {
        OperatorIdentity op;
        QString bearer;
    };
    std::optional<HttpReply> authenticate(iptv::http::RouteContext &context, const iptv::http::Router::RouteInfo &route);
    static HttpContext context(iptv::http::RouteContext &route);

    OperatorDirectory *m_operators;
    AuditLog *m_audit;
    iptv::http::Router *m_router;
};

} // namespace iptv::control
