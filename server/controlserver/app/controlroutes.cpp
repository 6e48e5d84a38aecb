// The HTTP routes of the server itself (the table is in README.md): health and metrics, login,
// boxes, the fleet summary, commands, the audit log and operator accounts. Releases and rollouts
// add theirs in releases/releaseroutes.cpp.

#include "controlserver.h"

#include "cluster/liveupdates.h"
#include "http/httpapi.h"

#include <core/httputil.h>

#include <QCborValue>
#include <QJsonArray>
#include <QJsonDocument>
#include <QUrlQuery>

namespace iptv::control {

using Method = QHttpServerRequest::Method;
using Respond = HttpApi::Respond;

namespace {

QJsonValue cborJson(const QByteArray &cbor)
{
    return cbor.isEmpty() ? QJsonValue(QJsonValue::Null) : QCborValue::fromCbor(cbor).toJsonValue();
}

} // namespace

void addControlRoutes(HttpApi *http, ControlServer *srv)
{
    const auto fromAction = &replyFrom;
    auto boxParam = [srv](const HttpContext &c, BoxInfo **box) -> std::optional<HttpReply> {
        const qint64 id = parseBoxId(c.params.value(0));
        *box = srv->fleet().byId(id);
        if (!*box)
            return HttpReply::error(404, u"not-found"_qs, QStringLiteral("no box %1").arg(c.params.value(0).left(40)));
        return std::nullopt;
    };

    // ---- health and metrics (no authentication: load balancers and Prometheus)
    http->addRoute(Method::Get, u"/healthz"_qs, std::nullopt, [srv](HttpContext &) {
        const bool ok = srv->isHealthy();
        QJsonObject body{{u"status"_qs, ok ? u"ok"_qs : u"unhealthy"_qs},
                         {u"boxesOnline"_qs, srv->fleet().onlineCount()},
                         {u"boxesKnown"_qs, qint64(srv->fleet().size())}};
        if (const QString store = srv->storeProblem(); !store.isEmpty())
            body.insert(u"store"_qs, store);
        return HttpReply::json(body, ok ? 200 : 503);
    });
    http->addRoute(Method::Get, u"/metrics"_qs, std::nullopt, [srv](HttpContext &) {
        return HttpReply{200, srv->metrics().render(), "text/plain; version=0.0.4; charset=utf-8", {}};
    });

    // The public key other servers check boxes' identity tickets with (no secret in it).
    http->addRoute(Method::Get, u"/api/ticket-key"_qs, std::nullopt, [srv](HttpContext &) {
        return HttpReply{200, srv->ticketKey().toText(), "text/plain; charset=utf-8", {}};
    });

    // ---- sessions
    // The password check runs on the login pool; the answer goes out when it is done. Refusals
    // by the limits (429) and a full pool (503) say when to come back; all are audited.
    http->addAsyncRoute(Method::Post, u"/api/login"_qs, std::nullopt, [srv](HttpContext &c, Respond respond) {
        HttpReply bad;
        const auto body = c.jsonBody(&bad);
        if (!body)
            return respond(bad);
        const QString account = body->value(u"account").toString();
        auto done = [srv, account, respond](const LoginResult &r) {
            using Outcome = LoginResult::Outcome;
            static const QString s_audit[] = {u"ok"_qs, u"denied"_qs, u"refused"_qs, u"refused"_qs, u"failed"_qs};
            srv->audit(account.left(64), u"login"_qs, {}, s_audit[int(r.outcome)], r.outcome == Outcome::Ok ? QString() : r.detail);
            switch (r.outcome) {
            case Outcome::Ok:
                return respond(HttpReply::json({{u"token"_qs, r.token}, {u"expires"_qs, r.expires},
                                                {u"account"_qs, account}, {u"role"_qs, roleName(r.role)}}));
            case Outcome::Denied:
                return respond(HttpReply::error(401, u"unauthorized"_qs, r.message));
            case Outcome::Throttled:
            case Outcome::Busy: {
                HttpReply reply = r.outcome == Outcome::Throttled ? HttpReply::error(429, u"too-many-requests"_qs, r.message)
                                                                  : HttpReply::error(503, u"busy"_qs, r.message);
                reply.headers.append({"Retry-After", QByteArray::number(r.retryAfter)});
                return respond(reply);
            }
            case Outcome::Failed:
                return respond(HttpReply::error(500, u"internal"_qs, r.message));
            }
        };
        QList<QByteArray> forwardedFor;
        for (const auto &[name, value] : c.request.headers()) {
            if (name.compare("X-Forwarded-For", Qt::CaseInsensitive) == 0)
                forwardedFor.append(value);
        }
        const QHostAddress client = OperatorDirectory::clientAddress(c.request.remoteAddress(), forwardedFor,
                                                                     srv->config().trustedProxies);
        srv->operators().login(account, body->value(u"password").toString(), client, srv->now(), done);
    });
    http->addRoute(Method::Post, u"/api/logout"_qs, Role::Viewer, [srv](HttpContext &c) {
        srv->operators().logout(c.bearer);
        srv->audit(c.op->account, u"logout"_qs, {}, u"ok"_qs);
        return HttpReply::json({{u"status"_qs, u"ok"_qs}});
    });
    http->addRoute(Method::Get, u"/api/me"_qs, Role::Viewer, [](HttpContext &c) {
        return HttpReply::json({{u"account"_qs, c.op->account}, {u"role"_qs, roleName(c.op->role)}});
    });

    // ---- fleet
    http->addRoute(Method::Get, u"/api/boxes"_qs, Role::Viewer, [srv](HttpContext &c) {
        QJsonObject q;
        for (const auto &[k, v] : c.request.query().queryItems(QUrl::FullyDecoded))
            q.insert(k, v);
        QString error;
        const auto filter = FleetFilter::fromJson(q, &error);
        if (!filter)
            return HttpReply::error(400, u"bad-request"_qs, error);
        HttpReply bad;
        const auto offset = c.intQuery("offset", 0, 0, INT_MAX, &bad);
        const auto limit = c.intQuery("limit", 100, 1, 1000, &bad);
        if (!offset || !limit)
            return bad;
        qsizetype total = 0;
        const auto items = srv->fleet().list(*filter, *offset, *limit, &total);
        QJsonArray a;
        for (const QJsonObject &o : items)
            a.append(o);
        return HttpReply::json({{u"total"_qs, qint64(total)}, {u"offset"_qs, *offset}, {u"limit"_qs, *limit}, {u"items"_qs, a}});
    });
    http->addRoute(Method::Get, u"/api/fleet/summary"_qs, Role::Viewer, [srv](HttpContext &) {
        QJsonObject s = srv->live()->summary(); // the cluster's, not only this node's boxes
        QJsonObject commands;
        for (int i = 0; i < kCommandStateCount; ++i) {
            if (!isFinal(CommandState(i)))
                commands.insert(commandStateName(CommandState(i)), srv->commands().count(CommandState(i)));
        }
        s.insert(u"liveCommands"_qs, commands);
        return HttpReply::json(s);
    });
    http->addRoute(Method::Get, u"/api/boxes/<id>"_qs, Role::Viewer, [srv, boxParam](HttpContext &c) {
        BoxInfo *box = nullptr;
        if (auto r = boxParam(c, &box))
            return *r;
        return HttpReply::json(srv->boxDetail(*box));
    });
    http->addRoute(Method::Get, u"/api/boxes/<id>/telemetry"_qs, Role::Viewer, [srv, boxParam](HttpContext &c) {
        BoxInfo *box = nullptr;
        if (auto r = boxParam(c, &box))
            return *r;
        HttpReply bad;
        const auto limitParam = c.intQuery("limit", 100, 1, 10000, &bad);
        if (!limitParam)
            return bad;
        const int limit = *limitParam;
        qint64 since = 0;
        if (!c.query("since").isEmpty()) {
            const auto t = iptv::http::parseTime(c.query("since"));
            if (!t)
                return HttpReply::error(400, u"bad-request"_qs, u"since: epoch seconds or ISO 8601"_qs);
            since = *t;
        }
        QString error;
        QJsonArray a;
        for (const TelemetrySample &s : srv->store().telemetry(box->id, since, limit, &error))
            a.append(QJsonObject{{u"time"_qs, s.time}, {u"telemetry"_qs, iptv::protocol::storedBodyJson(s.data)}});
        if (!error.isEmpty())
            return HttpReply::error(500, u"internal"_qs, error);
        return HttpReply::json({{u"box"_qs, boxIdText(box->id)}, {u"samples"_qs, a}});
    });
    http->addRoute(Method::Get, u"/api/boxes/<id>/events"_qs, Role::Viewer, [srv, boxParam](HttpContext &c) {
        BoxInfo *box = nullptr;
        if (auto r = boxParam(c, &box))
            return *r;
        HttpReply bad;
        const auto limitParam = c.intQuery("limit", 100, 1, 10000, &bad);
        if (!limitParam)
            return bad;
        const int limit = *limitParam;
        QString error;
        QJsonArray a;
        for (const EventRow &e : srv->store().events(box->id, limit, &error)) {
            a.append(QJsonObject{{u"id"_qs, e.id}, {u"time"_qs, e.time}, {u"kind"_qs, e.kind}, {u"severity"_qs, e.severity},
                                 {u"text"_qs, e.text}, {u"data"_qs, cborJson(e.data)}});
        }
        if (!error.isEmpty())
            return HttpReply::error(500, u"internal"_qs, error);
        return HttpReply::json({{u"box"_qs, boxIdText(box->id)}, {u"events"_qs, a}});
    });
    http->addRoute(Method::Post, u"/api/boxes/<id>/approve"_qs, Role::Operator, [srv, fromAction](HttpContext &c) {
        return fromAction(srv->approve(*c.op, parseBoxId(c.params.value(0))));
    });
    http->addRoute(Method::Post, u"/api/boxes/<id>/reject"_qs, Role::Operator, [srv, fromAction](HttpContext &c) {
        return fromAction(srv->reject(*c.op, parseBoxId(c.params.value(0))));
    });
    auto tags = [srv, fromAction](HttpContext &c) {
        HttpReply bad;
        const auto body = c.jsonBody(&bad);
        if (!body)
            return bad;
        if (!body->value(u"tags").isArray())
            return HttpReply::error(400, u"bad-request"_qs, u"tags: expected an array of strings"_qs);
        QStringList list;
        for (const QJsonValue &v : body->value(u"tags").toArray())
            list.append(v.toString());
        return fromAction(srv->setTags(*c.op, parseBoxId(c.params.value(0)), list));
    };
    http->addRoute(Method::Put, u"/api/boxes/<id>/tags"_qs, Role::Operator, tags);
    http->addRoute(Method::Post, u"/api/boxes/<id>/tags"_qs, Role::Operator, tags);
    auto channel = [srv, fromAction](HttpContext &c) {
        HttpReply bad;
        const auto body = c.jsonBody(&bad);
        if (!body)
            return bad;
        return fromAction(srv->setReleaseChannel(*c.op, parseBoxId(c.params.value(0)),
                                                 body->value(u"channel").toString()));
    };
    http->addRoute(Method::Put, u"/api/boxes/<id>/channel"_qs, Role::Operator, channel);
    http->addRoute(Method::Post, u"/api/boxes/<id>/channel"_qs, Role::Operator, channel);

    // ---- commands
    http->addRoute(Method::Post, u"/api/commands"_qs, Role::Operator, [srv, fromAction](HttpContext &c) {
        HttpReply bad;
        const auto body = c.jsonBody(&bad);
        if (!body)
            return bad;
        return fromAction(srv->issueCommand(*c.op, *body));
    });
    http->addRoute(Method::Get, u"/api/commands"_qs, Role::Viewer, [srv](HttpContext &c) {
        CommandQuery q;
        HttpReply bad;
        const auto limit = c.intQuery("limit", 100, 1, 1000, &bad);
        const auto offset = c.intQuery("offset", 0, 0, INT_MAX, &bad);
        if (!limit || !offset)
            return bad;
        q.limit = *limit;
        q.offset = *offset;
        q.batchId = c.query("batch").toLongLong();
        q.boxId = parseBoxId(c.query("box"));
        if (!c.query("state").isEmpty()) {
            q.state = commandStateFromName(c.query("state"));
            if (!q.state)
                return HttpReply::error(400, u"bad-request"_qs, u"state: queued, delivered, acknowledged, succeeded, failed or expired"_qs);
        }
        QString error;
        QJsonArray a;
        QJsonObject counts;
        for (const CommandRow &r : srv->store().commands(q, false, &error)) {
            a.append(srv->commandJson(r));
            const QString s = commandStateName(r.state);
            counts.insert(s, counts.value(s).toInt() + 1);
        }
        if (!error.isEmpty())
            return HttpReply::error(500, u"internal"_qs, error);
        return HttpReply::json({{u"items"_qs, a}, {u"states"_qs, counts}});
    });
    http->addRoute(Method::Get, u"/api/commands/<id>"_qs, Role::Viewer, [srv](HttpContext &c) {
        const auto row = srv->store().command(c.params.value(0).toLongLong(), false);
        if (!row)
            return HttpReply::error(404, u"not-found"_qs, QStringLiteral("no command %1").arg(c.params.value(0).left(40)));
        return HttpReply::json(srv->commandJson(*row));
    });
    http->addRoute(Method::Get, u"/api/commands/<id>/data"_qs, Role::Viewer, [srv](HttpContext &c) {
        const auto row = srv->store().command(c.params.value(0).toLongLong(), true);
        if (!row)
            return HttpReply::error(404, u"not-found"_qs, QStringLiteral("no command %1").arg(c.params.value(0).left(40)));
        if (row->resultData.isEmpty())
            return HttpReply::error(404, u"not-found"_qs, QStringLiteral("command %1 has no result data").arg(row->id));
        return HttpReply{200, row->resultData,
                         row->resultMime.isEmpty() ? QByteArray("application/octet-stream") : row->resultMime.toLatin1(), {}};
    });

    // ---- audit and operators
    http->addRoute(Method::Get, u"/api/audit"_qs, Role::Viewer, [srv](HttpContext &c) {
        HttpReply bad;
        const auto limitParam = c.intQuery("limit", 100, 1, 1000, &bad);
        const auto offsetParam = c.intQuery("offset", 0, 0, INT_MAX, &bad);
        if (!limitParam || !offsetParam)
            return bad;
        const int limit = *limitParam, offset = *offsetParam;
        QString error;
        QJsonArray a;
        for (const AuditRow &r : srv->store().audit(c.query("account"), limit, offset, &error)) {
            a.append(QJsonObject{{u"id"_qs, r.id}, {u"time"_qs, r.time}, {u"account"_qs, r.account}, {u"action"_qs, r.action},
                                 {u"target"_qs, r.target}, {u"outcome"_qs, r.outcome}, {u"detail"_qs, r.detail}});
        }
        if (!error.isEmpty())
            return HttpReply::error(500, u"internal"_qs, error);
        return HttpReply::json({{u"items"_qs, a}});
    });
    http->addRoute(Method::Get, u"/api/operators"_qs, Role::Admin, [srv](HttpContext &) {
        QString error;
        QJsonArray a;
        for (const OperatorRow &o : srv->store().operators(&error))
            a.append(QJsonObject{{u"account"_qs, o.account}, {u"role"_qs, o.role}, {u"created"_qs, o.created}, {u"disabled"_qs, o.disabled}});
        return HttpReply::json({{u"items"_qs, a}});
    });
    // Passwords are hashed on the login pool (Argon2id, 64 MiB): these answer when it is done.
    http->addAsyncRoute(Method::Post, u"/api/operators"_qs, Role::Admin, [srv](HttpContext &c, Respond respond) {
        HttpReply bad;
        const auto body = c.jsonBody(&bad);
        if (!body)
            return respond(bad);
        const QString account = body->value(u"account").toString();
        const auto role = roleFromName(body->value(u"role").toString(u"viewer"_qs));
        if (!role)
            return respond(HttpReply::error(400, u"bad-request"_qs, u"role: viewer, operator or admin"_qs));
        srv->operators().create(account, body->value(u"password").toString(), *role, srv->now(),
                                [srv, by = c.op->account, account, role = *role,
                                 respond](const std::optional<iptv::http::ApiError> &error) {
                                    srv->audit(by, u"operator.create"_qs, account.left(64), error ? u"failed"_qs : u"ok"_qs,
                                               error ? error->detail : roleName(role));
                                    if (error)
                                        return respond(HttpReply::error(*error));
                                    respond(HttpReply::json({{u"account"_qs, account}, {u"role"_qs, roleName(role)}}, 201));
                                });
    });
    http->addAsyncRoute(Method::Patch, u"/api/operators/<account>"_qs, Role::Admin, [srv](HttpContext &c, Respond respond) {
        HttpReply bad;
        const auto body = c.jsonBody(&bad);
        if (!body)
            return respond(bad);
        const QString account = c.params.value(0);
        std::optional<Role> role;
        if (body->contains(u"role")) {
            role = roleFromName(body->value(u"role").toString());
            if (!role)
                return respond(HttpReply::error(400, u"bad-request"_qs, u"role: viewer, operator or admin"_qs));
        }
        std::optional<bool> disabled;
        if (body->contains(u"disabled"))
            disabled = body->value(u"disabled").toBool();
        QStringList what;
        if (role)
            what.append(u"role "_qs + roleName(*role));
        if (disabled)
            what.append(*disabled ? u"disabled"_qs : u"enabled"_qs);
        if (body->contains(u"password"))
            what.append(u"password changed"_qs);
        srv->operators().update(account, role, body->value(u"password").toString(), disabled,
                                [srv, by = c.op->account, account, what,
                                 respond](const std::optional<iptv::http::ApiError> &error) {
                                    srv->audit(by, u"operator.update"_qs, account.left(64), error ? u"failed"_qs : u"ok"_qs,
                                               error ? error->detail : what.join(u", "));
                                    if (error)
                                        return respond(HttpReply::error(*error));
                                    respond(HttpReply::json({{u"account"_qs, account}, {u"status"_qs, u"updated"_qs}}));
                                });
    });
}

} // namespace iptv::control
