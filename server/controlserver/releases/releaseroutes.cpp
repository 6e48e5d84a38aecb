// HTTP routes of releases and rollouts (the table is in README.md). Reads need the viewer role;
// uploads, deletes and rollout control the admin role: a release reaches the whole fleet.

#include "releaseservice.h"

#include "domain/actionresult.h"
#include "http/httpapi.h"

#include <QHttpServerRequest>

namespace iptv::control {

using Method = QHttpServerRequest::Method;

void addReleaseRoutes(HttpApi *http, ReleaseService *svc)
{
    // ---- releases
    http->addAsyncRoute(Method::Post, u"/api/releases"_qs, Role::Admin, [svc](HttpContext &c, HttpApi::Respond respond) {
        svc->uploadRelease(*c.op, c.request.body(), [respond](const ActionResult &a) { respond(replyFrom(a)); });
    });
    // A bundle (the box's software), not JSON: more than the API's 1 MiB of body, held in memory.
    http->setMaxBodyBytes(Method::Post, u"/api/releases"_qs, qint64(512) * 1024 * 1024);
    http->addRoute(Method::Get, u"/api/releases"_qs, Role::Viewer, [svc](HttpContext &c) {
        return replyFrom(svc->listReleases(c.query("channel")));
    });
    http->addRoute(Method::Get, u"/api/releases/<version>"_qs, Role::Viewer, [svc](HttpContext &c) {
        return replyFrom(svc->releaseDetail(c.params.value(0)));
    });
    http->addRoute(Method::Delete, u"/api/releases/<version>"_qs, Role::Admin, [svc](HttpContext &c) {
        return replyFrom(svc->deleteRelease(*c.op, c.params.value(0)));
    });

    // ---- rollouts
    http->addRoute(Method::Post, u"/api/rollouts"_qs, Role::Admin, [svc](HttpContext &c) {
        HttpReply bad;
        const auto body = c.jsonBody(&bad);
        if (!body)
            return bad;
        return replyFrom(svc->createRollout(*c.op, *body));
    });
    http->addRoute(Method::Get, u"/api/rollouts"_qs, Role::Viewer, [svc](HttpContext &c) {
        return replyFrom(svc->listRollouts(c.query("active") == u"true" || c.query("active") == u"1"));
    });
    http->addRoute(Method::Get, u"/api/rollouts/<id>"_qs, Role::Viewer, [svc](HttpContext &c) {
        return replyFrom(svc->rolloutDetail(c.params.value(0)));
    });
    http->addRoute(Method::Post, u"/api/rollouts/<id>/<action>"_qs, Role::Admin, [svc](HttpContext &c) {
        HttpReply bad;
        const auto body = c.jsonBody(&bad);
        if (!body)
            return bad;
        return replyFrom(svc->rolloutAction(*c.op, c.params.value(0), c.params.value(1), *body));
    });
    http->addRoute(Method::Get, u"/api/rollouts/<id>/targets"_qs, Role::Viewer, [svc](HttpContext &c) {
        HttpReply bad;
        const auto offset = c.intQuery("offset", 0, 0, INT_MAX, &bad);
        const auto limit = c.intQuery("limit", 100, 1, 10000, &bad);
        if (!offset || !limit)
            return bad;
        return replyFrom(svc->rolloutTargets(c.params.value(0), c.query("state"), c.query("group"), *offset, *limit));
    });

    // ---- bundle downloads for boxes: the box's session token, not an operator's
    http->addRoute(Method::Get, u"/box/releases/<file>"_qs, std::nullopt, [svc](HttpContext &c) {
        QString file = c.params.value(0);
        if (!file.endsWith(u".bundle"))
            return HttpReply::error(404, u"not-found"_qs, QStringLiteral("no bundle %1 (<version>.bundle)").arg(file.left(80)));
        file.chop(7);
        const QByteArray auth = c.request.value("Authorization");
        if (!auth.startsWith("Bearer "))
            return HttpReply::error(401, u"unauthorized"_qs, u"send Authorization: Bearer <box token>"_qs);
        QString path;
        const ActionResult a = svc->authorizeDownload(QString::fromLatin1(auth.mid(7).trimmed()), c.query("box"), file, &path);
        if (!a.ok())
            return replyFrom(a);
        HttpReply reply;
        reply.mimeType = "application/octet-stream";
        reply.filePath = path;
        return reply;
    });
}

} // namespace iptv::control
