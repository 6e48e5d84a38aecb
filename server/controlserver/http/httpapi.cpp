#include "httpapi.h"

#include "domain/actionresult.h"
#include "domain/auditlog.h"

#include <core/httputil.h>
#include <core/metrics.h>

#include <QDateTime>

namespace iptv::control {

using Method = QHttpServerRequest::Method;

HttpReply replyFrom(const ActionResult &a)
{
    return a.ok() ? HttpReply::json(a.body, a.status) : HttpReply::error(a.status, a.code, a.message);
}

HttpApi::HttpApi(OperatorDirectory *operators, AuditLog *audit, iptv::MetricsRegistry *metrics, QObject *parent)
    : QObject(parent), m_operators(operators), m_audit(audit),
      m_router(new iptv::http::Router(metrics, QStringLiteral("controlserver"), this))
{
    m_router->setDefaultHeader("Cache-Control", "no-store");
    m_router->setAuthHook([this](iptv::http::RouteContext &c, const iptv::http::Router::RouteInfo &route) {
        return authenticate(c, route);
    });
}

HttpApi::~HttpApi() = default;

bool HttpApi::listen(const QHostAddress &address, quint16 port, QString *error)
{
    return m_router->listen(address, port, error);
}

void HttpApi::close()
{
    m_router->close();
}

std::optional<HttpReply> HttpApi::authenticate(iptv::http::RouteContext &c, const iptv::http::Router::RouteInfo &route)
{
    using iptv::http::ApiError;
    const QByteArray auth = c.request.value("Authorization");
    if (!auth.startsWith("Bearer "))
        return HttpReply::error(ApiError::unauthorized(u"send Authorization: Bearer <token> (POST /api/login)"_qs));
    Authenticated who;
    who.bearer = QString::fromLatin1(auth.mid(7).trimmed());
    const auto op = m_operators->authenticate(who.bearer, QDateTime::currentSecsSinceEpoch());
    if (!op)
        return HttpReply::error(ApiError::unauthorized(u"the token is unknown or expired; log in again"_qs));
    const Role needed = Role(*route.access);
    if (!op->allows(needed)) {
        m_audit->audit(op->account, QString::fromLatin1(iptv::http::Router::methodName(route.method)) + u' ' + route.pattern,
                       c.request.url().path(), u"denied"_qs,
                       QStringLiteral("needs role %1, has %2").arg(roleName(needed), roleName(op->role)));
        return HttpReply::error(ApiError::forbidden(
            QStringLiteral("needs the %1 role; %2 is %3").arg(roleName(needed), op->account, roleName(op->role))));
    }
    who.op = *op;
    c.identity = std::move(who);
    return std::nullopt;
}

HttpContext HttpApi::context(iptv::http::RouteContext &route)
{
    HttpContext c{{route.request, route.params, {}}, std::nullopt, {}};
    if (const auto *who = std::any_cast<Authenticated>(&route.identity)) {
        c.op = who->op;
        c.bearer = who->bearer;
    }
    return c;
}

void HttpApi::addRoute(Method method, const QString &pattern, std::optional<Role> role, Handler handler)
{
    m_router->addRoute(
        method, pattern,
        [handler = std::move(handler)](iptv::http::RouteContext &route) {
            HttpContext c = context(route);
            return handler(c);
        },
        role ? std::optional<int>(int(*role)) : std::nullopt);
}

void HttpApi::addAsyncRoute(Method method, const QString &pattern, std::optional<Role> role, AsyncHandler handler)
{
    m_router->addAsyncRoute(
        method, pattern,
        [handler = std::move(handler)](iptv::http::RouteContext &route, Respond respond) {
            HttpContext c = context(route);
            handler(c, std::move(respond));
        },
        role ? std::optional<int>(int(*role)) : std::nullopt);
}

} // namespace iptv::control
