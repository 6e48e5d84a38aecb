// Releases and staged rollouts through the running controlserver: signed uploads (good, tampered,
// wrong key, duplicate, viewer), the box download route (token or not), rollouts to test boxes
// group by group to completion, a halt at the error threshold (audited, no more offers),
// pause/resume/abort over the API, the operator WebSocket's "rollouts" topic, a box coming back
// with the new version, and a restart continuing an active rollout. Keys and bundles are made in
// a temporary directory with libs/payload.

#include "testbox.h"

#include "cluster/cluster.h"
#include "releases/releaseservice.h"

#include <payload/bundle.h>

#include <QCommandLineParser>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSemaphore>

using namespace testutil;
using namespace iptv::control;

namespace {

constexpr char kVersion[] = "2.5.0";

Http getWithBearer(QNetworkAccessManager &nam, const QString &url, const QByteArray &bearer)
{
    QNetworkRequest req{QUrl(url)};
    if (!bearer.isEmpty())
        req.setRawHeader("Authorization", "Bearer " + bearer);
    std::unique_ptr<QNetworkReply> reply(nam.get(req));
    if (!reply->isFinished()) {
        QSignalSpy finished(reply.get(), &QNetworkReply::finished);
        finished.wait(30000);
    }
    return {reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll(),
            reply->header(QNetworkRequest::ContentTypeHeader).toByteArray()};
}

QByteArray tokenText(const QByteArray &token)
{
    return token.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

} // namespace

class TestControlReleases : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_keys.isValid());
        const iptv::payload::SigningKey key = iptv::payload::SigningKey::generate();
        const iptv::payload::SigningKey other = iptv::payload::SigningKey::generate();
        m_pubFile = m_keys.filePath(u"release.pub"_qs);
        QVERIFY(key.publicKey().save(m_pubFile));
        const QString src = m_keys.filePath(u"src"_qs);
        QVERIFY(QDir().mkpath(src + u"/qml"_qs));
        QFile f(src + u"/qml/Main.qml"_qs);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray("import QtQuick\nItem { objectName: \"release\" }\n").repeated(50));
        f.close();
        QString error;
        m_good = signedBundle(src, QString::fromLatin1(kVersion), u"2.0.0"_qs, key, m_keys.filePath(u"good.bundle"_qs), &error);
        QVERIFY2(!m_good.isEmpty(), qPrintable(error));
        m_wrongKey = signedBundle(src, QString::fromLatin1(kVersion), u"2.0.0"_qs, other, m_keys.filePath(u"other.bundle"_qs), &error);
        QVERIFY2(!m_wrongKey.isEmpty(), qPrintable(error));
        m_tampered = m_good;
        m_tampered[m_tampered.size() / 2] = char(m_tampered.at(m_tampered.size() / 2) ^ 0x55);
    }

    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        m_config = testConfig(*m_dir);
        m_config.autoApprove = true;
    }
    void cleanup()
    {
        qDeleteAll(m_boxes);
        m_boxes.clear();
        m_spyTaken.clear();
        m_server.reset();
    }

    // Verification runs on a worker: held there (as a large bundle would hold it), the loop still
    // answers /healthz and API reads, and the upload is answered once the worker is done.
    void uploadVerifiedOffTheLoop()
    {
        start();
        QSemaphore entered, release;
        m_server->releases()->setVerifyHook([&] {
            entered.release();
            release.tryAcquire(1, 20000);
        });
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1/api/releases").arg(port())));
        req.setRawHeader("Authorization", "Bearer " + m_admin.toLatin1());
        req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/octet-stream"));
        std::unique_ptr<QNetworkReply> upload(m_nam.post(req, m_good));
        QTRY_COMPARE_WITH_TIMEOUT(entered.available(), 1, 10000); // the worker holds the upload

        QCOMPARE(http(m_nam, "GET", port(), u"/healthz"_qs).status, 200);
        const Http metrics = http(m_nam, "GET", port(), u"/metrics"_qs, m_admin);
        QVERIFY2(metrics.body.contains("controlserver_release_uploads_verifying 1"), metrics.body.constData());
        QCOMPARE(http(m_nam, "GET", port(), u"/api/releases"_qs, m_admin).status, 200);
        QVERIFY(!upload->isFinished());

        release.release();
        QSignalSpy finished(upload.get(), &QNetworkReply::finished);
        QVERIFY(upload->isFinished() || finished.wait(20000));
        QCOMPARE(upload->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 201);
        QCOMPARE(bundleFiles(), QStringList{u"2.5.0.bundle"_qs});
        m_server->releases()->setVerifyHook({});
    }

    void uploads()
    {
        start();
        const QString viewer = makeAccount(u"viewer1"_qs, u"viewer"_qs);

        Http r = postRaw(m_nam, port(), u"/api/releases"_qs, viewer, m_good);
        QCOMPARE(r.status, 403);
        QCOMPARE(r.json().value(u"error").toString(), u"forbidden"_qs);

        r = postRaw(m_nam, port(), u"/api/releases"_qs, m_admin, m_wrongKey);
        QCOMPARE(r.status, 422);
        QCOMPARE(r.json().value(u"error").toString(), u"UnknownKey"_qs);
        r = postRaw(m_nam, port(), u"/api/releases"_qs, m_admin, m_tampered);
        QCOMPARE(r.status, 422);
        QVERIFY2(!r.json().value(u"detail").toString().isEmpty(), r.body.constData());
        QVERIFY(bundleFiles().isEmpty()); // refused bundles leave nothing behind

        r = postRaw(m_nam, port(), u"/api/releases"_qs, m_admin, m_good);
        QCOMPARE(r.status, 201);
        const QJsonObject rel = r.json().value(u"release").toObject();
        QCOMPARE(rel.value(u"version").toString(), QString::fromLatin1(kVersion));
        QCOMPARE(rel.value(u"channel").toString(), u"clean"_qs);
        QCOMPARE(rel.value(u"minBoxVersion").toString(), u"2.0.0"_qs);
        QCOMPARE(rel.value(u"size").toInteger(), m_good.size());
        QCOMPARE(rel.value(u"signature").toString(), u"valid"_qs);
        QCOMPARE(bundleFiles(), QStringList{u"2.5.0.bundle"_qs});

        r = postRaw(m_nam, port(), u"/api/releases"_qs, m_admin, m_good);
        QCOMPARE(r.status, 409);
        QCOMPARE(r.json().value(u"error").toString(), u"conflict"_qs);

        r = http(m_nam, "GET", port(), u"/api/releases"_qs, viewer);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json().value(u"items").toArray().size(), 1);
        r = http(m_nam, "GET", port(), u"/api/releases/2.5.0"_qs, viewer);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json().value(u"release").toObject().value(u"signature").toString(), u"valid"_qs);
        QCOMPARE(r.json().value(u"release").toObject().value(u"manifest").toObject().value(u"version").toString(), u"2.5.0"_qs);
        QCOMPARE(http(m_nam, "GET", port(), u"/api/releases/9.9.9"_qs, viewer).status, 404);
        QCOMPARE(http(m_nam, "DELETE", port(), u"/api/releases/2.5.0"_qs, viewer).status, 403);

        const QStringList audit = auditActions();
        QVERIFY2(audit.contains(u"release.upload ok"_qs), qPrintable(audit.join(u", ")));
        QVERIFY(audit.contains(u"release.upload refused"_qs));

        r = http(m_nam, "DELETE", port(), u"/api/releases/2.5.0"_qs, m_admin);
        QCOMPARE(r.status, 200);
        QVERIFY(bundleFiles().isEmpty());
        QCOMPARE(http(m_nam, "GET", port(), u"/api/releases"_qs, viewer).json().value(u"items").toArray().size(), 0);
    }

    void boxDownload()
    {
        start();
        QCOMPARE(postRaw(m_nam, port(), u"/api/releases"_qs, m_admin, m_good).status, 201);
        TestBox *box = addBox(u"D-1"_qs);
        const QString url = QStringLiteral("http://127.0.0.1:%1/box/releases/2.5.0.bundle").arg(port());
        Http r = getWithBearer(m_nam, url, {});
        QCOMPARE(r.status, 401);
        r = getWithBearer(m_nam, url, tokenText(QByteArray(32, 'x')));
        QCOMPARE(r.status, 401);
        QCOMPARE(r.json().value(u"error").toString(), u"unauthorized"_qs);
        // An operator's token is not a box token.
        QCOMPARE(getWithBearer(m_nam, url, m_admin.toLatin1()).status, 401);
        r = getWithBearer(m_nam, url, tokenText(box->token));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, m_good);
        r = getWithBearer(m_nam, url + u"?box="_qs + box->boxId, tokenText(box->token));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, m_good);
        QCOMPARE(getWithBearer(m_nam, url + u"?box=b-999"_qs, tokenText(box->token)).status, 401);
        QCOMPARE(getWithBearer(m_nam, QStringLiteral("http://127.0.0.1:%1/box/releases/9.9.9.bundle").arg(port()),
                               tokenText(box->token)).status, 404);
    }

    void rolloutCompletes()
    {
        start();
        QCOMPARE(postRaw(m_nam, port(), u"/api/releases"_qs, m_admin, m_good).status, 201);
        for (int i = 0; i < 6; ++i)
            addBox(QStringLiteral("R-%1").arg(i));

        // An operator console on the "rollouts" topic.
        QWebSocket console;
        QList<QJsonObject> pushes;
        connect(&console, &QWebSocket::textMessageReceived, this, [&pushes](const QString &text) {
            const QJsonObject o = QJsonDocument::fromJson(text.toUtf8()).object();
            if (o.value(u"t").toString() == u"update")
                pushes.append(o);
        });
        QSignalSpy consoleUp(&console, &QWebSocket::connected);
        console.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(m_server->operatorWsPort())));
        QVERIFY(consoleUp.wait(5000));
        QSignalSpy consoleIn(&console, &QWebSocket::textMessageReceived);
        console.sendTextMessage(QString::fromUtf8(QJsonDocument(QJsonObject{{u"t"_qs, u"hello"_qs}, {u"id"_qs, 1},
                                                                            {u"v"_qs, QJsonArray{1, 1}}, {u"role"_qs, u"operator"_qs},
                                                                            {u"token"_qs, m_admin}}).toJson(QJsonDocument::Compact)));
        QVERIFY(consoleIn.wait(5000));
        console.sendTextMessage(QString::fromUtf8(QJsonDocument(QJsonObject{{u"t"_qs, u"subscribe"_qs}, {u"id"_qs, 2},
                                                                            {u"topics"_qs, QJsonArray{u"rollouts"_qs}}}).toJson(QJsonDocument::Compact)));
        QVERIFY(consoleIn.wait(5000));

        QSignalSpy offered(m_server->releases(), &ReleaseService::offered);
        const Http created = http(m_nam, "POST", port(), u"/api/rollouts"_qs, m_admin,
                                  {{u"release"_qs, u"2.5.0"_qs}, {u"channel"_qs, u"clean"_qs},
                                   {u"groups"_qs, QJsonObject{{u"count"_qs, QJsonArray{2, 4}}}},
                                   {u"thresholds"_qs, QJsonObject{{u"successThreshold"_qs, 1.0}, {u"minResults"_qs, 100}}},
                                   {u"seed"_qs, 7}, {u"start"_qs, true}});
        QCOMPARE(created.status, 201);
        const QJsonObject rollout = created.json().value(u"rollout").toObject();
        const QString id = rollout.value(u"id").toString();
        QCOMPARE(rollout.value(u"state").toString(), u"running"_qs);
        QCOMPARE(rollout.value(u"total").toInt(), 6);
        QCOMPARE(rollout.value(u"groups").toArray().size(), 2);
        QCOMPARE(created.json().value(u"plan").toObject().value(u"eligible").toInt(), 6);

        // Group 1: two boxes get ReleaseAvailable, with a URL they can download from.
        const QStringList first = waitOffers(offered, 2);
        QCOMPARE(first.size(), 2);
        for (const QString &boxId : first) {
            TestBox *box = m_boxes.value(boxId);
            QVERIFY(box);
            const auto m = box->waitFor(MessageType::ReleaseAvailable);
            QVERIFY(m);
            QString e;
            const auto ra = ReleaseAvailable::fromBody(m->body, &e);
            QVERIFY2(ra, qPrintable(e));
            QCOMPARE(ra->version, u"2.5.0"_qs);
            QCOMPARE(ra->channel, u"clean"_qs);
            QCOMPARE(ra->minBoxVersion, u"2.0.0"_qs);
            QCOMPARE(ra->size, m_good.size());
            QCOMPARE(ra->sha256, QCryptographicHash::hash(m_good, QCryptographicHash::Sha256));
            QCOMPARE(QString::number(ra->rolloutId), id);
            const Http dl = getWithBearer(m_nam, ra->url, tokenText(box->token));
            QCOMPARE(dl.status, 200);
            QCOMPARE(dl.body, m_good);
            report(box, ra->rolloutId, u"started"_qs);
        }
        QTRY_COMPARE(targetCount(id, u"installing"_qs), 2);
        // Nothing for the others yet: group 2 waits for group 1.
        for (const QString &boxId : m_boxes.keys()) {
            if (!first.contains(boxId))
                QVERIFY(!m_boxes.value(boxId)->take());
        }
        for (const QString &boxId : first)
            report(m_boxes.value(boxId), id.toULongLong(), u"committed"_qs);

        // Group 2 opens and gets its offers; the boxes report and the rollout completes.
        const QStringList second = waitOffers(offered, 4);
        QCOMPARE(second.size(), 4);
        for (const QString &boxId : second) {
            QVERIFY(!first.contains(boxId));
            QVERIFY(m_boxes.value(boxId)->waitFor(MessageType::ReleaseAvailable));
            report(m_boxes.value(boxId), id.toULongLong(), u"installed"_qs);
        }
        // Installed is not yet a success: the release runs on trial until the box's health check.
        QTRY_COMPARE(targetCount(id, u"installing"_qs), 4);
        QCOMPARE(targetCount(id, u"succeeded"_qs), 2);
        QCOMPARE(rolloutState(id), u"running"_qs);
        for (const QString &boxId : second)
            report(m_boxes.value(boxId), id.toULongLong(), u"committed"_qs);
        QTRY_COMPARE(rolloutState(id), u"completed"_qs);
        const QJsonObject done = http(m_nam, "GET", port(), u"/api/rollouts/"_qs + id, m_admin).json().value(u"rollout").toObject();
        QCOMPARE(done.value(u"succeeded").toInt(), 6);
        QCOMPARE(done.value(u"groups").toArray().at(1).toObject().value(u"succeeded").toInt(), 4);
        QTRY_VERIFY(auditActions().contains(u"rollout.complete ok"_qs));
        QVERIFY(auditActions().contains(u"rollout.create ok"_qs));

        // Targets, filtered.
        const Http targets = http(m_nam, "GET", port(), QStringLiteral("/api/rollouts/%1/targets?state=succeeded&group=1").arg(id), m_admin);
        QCOMPARE(targets.status, 200);
        QCOMPARE(targets.json().value(u"items").toArray().size(), 4);
        QCOMPARE(http(m_nam, "GET", port(), QStringLiteral("/api/rollouts/%1/targets?state=bogus").arg(id), m_admin).status, 400);

        // The console saw progress, throttled: far fewer pushes than the ~20 changes.
        QTRY_VERIFY(std::any_of(pushes.cbegin(), pushes.cend(), [](const QJsonObject &o) {
            return o.value(u"kind").toString() == u"rollout"
                && o.value(u"rollout").toObject().value(u"state").toString() == u"completed";
        }));
        QVERIFY2(pushes.size() <= 12, qPrintable(QString::number(pushes.size())));

        // The release is in use now.
        QCOMPARE(http(m_nam, "DELETE", port(), u"/api/releases/2.5.0"_qs, m_admin).status, 409);
    }

    void haltsAtErrorThreshold()
    {
        start();
        QCOMPARE(postRaw(m_nam, port(), u"/api/releases"_qs, m_admin, m_good).status, 201);
        for (int i = 0; i < 6; ++i)
            addBox(QStringLiteral("H-%1").arg(i));
        QSignalSpy offered(m_server->releases(), &ReleaseService::offered);
        const Http created = http(m_nam, "POST", port(), u"/api/rollouts"_qs, m_admin,
                                  {{u"release"_qs, u"2.5.0"_qs},
                                   {u"groups"_qs, QJsonObject{{u"count"_qs, QJsonArray{3, 3}}}},
                                   {u"thresholds"_qs, QJsonObject{{u"errorThreshold"_qs, 0.2}, {u"minResults"_qs, 2}}},
                                   {u"start"_qs, true}});
        QCOMPARE(created.status, 201);
        const QString id = created.json().value(u"rollout").toObject().value(u"id").toString();
        const QStringList first = waitOffers(offered, 3);
        QCOMPARE(first.size(), 3);
        report(m_boxes.value(first.at(0)), 0, u"failed"_qs); // no rollout id: matched by version
        TestBox *rolledBack = m_boxes.value(first.at(1));
        report(rolledBack, id.toULongLong(), u"installed"_qs);
        // Installed, then rolled back after its health check: a failure.
        BoxEvent rb;
        rb.kind = u"rollback"_qs;
        rb.severity = u"error"_qs;
        rb.text = u"rolled back from 2.5.0 to 2.4.1: health check"_qs;
        rb.data = {{u"version"_qs, u"2.5.0"_qs}, {u"phase"_qs, u"rolled-back"_qs}, {u"to"_qs, u"2.4.1"_qs}};
        rolledBack->send(MessageType::Event, rb.toBody());

        QTRY_COMPARE(rolloutState(id), u"halted"_qs);
        QTRY_VERIFY(auditActions().contains(u"rollout.halt halted"_qs));
        QTRY_COMPARE(targetCount(id, u"failed"_qs), 2);
        // No more offers: the second group stays pending, however often the service drives.
        const qsizetype offersBefore = offered.size();
        m_server->releases()->drive();
        QCOMPARE(offered.size(), offersBefore);
        QCOMPARE(targetCount(id, u"pending"_qs), 3);
        // Resume is refused while the cause stands.
        QCOMPARE(http(m_nam, "POST", port(), QStringLiteral("/api/rollouts/%1/resume").arg(id), m_admin, {}, true).status, 409);
    }

    void pauseResumeAbort()
    {
        start();
        QCOMPARE(postRaw(m_nam, port(), u"/api/releases"_qs, m_admin, m_good).status, 201);
        for (int i = 0; i < 3; ++i)
            addBox(QStringLiteral("P-%1").arg(i));
        const QString viewer = makeAccount(u"viewer2"_qs, u"viewer"_qs);
        QSignalSpy offered(m_server->releases(), &ReleaseService::offered);
        QCOMPARE(http(m_nam, "POST", port(), u"/api/rollouts"_qs, viewer, {{u"release"_qs, u"2.5.0"_qs}}).status, 403);
        const Http created = http(m_nam, "POST", port(), u"/api/rollouts"_qs, m_admin,
                                  {{u"release"_qs, u"2.5.0"_qs}, {u"groups"_qs, QJsonObject{{u"count"_qs, QJsonArray{1, 2}}}},
                                   {u"thresholds"_qs, QJsonObject{{u"successThreshold"_qs, 1.0}}}});
        QCOMPARE(created.status, 201);
        const QString id = created.json().value(u"rollout").toObject().value(u"id").toString();
        QCOMPARE(rolloutState(id), u"draft"_qs);
        // One active rollout per channel.
        QCOMPARE(http(m_nam, "POST", port(), u"/api/rollouts"_qs, m_admin, {{u"release"_qs, u"2.5.0"_qs}}).status, 409);
        auto act = [&](const QString &verb, const QString &token) {
            return http(m_nam, "POST", port(), QStringLiteral("/api/rollouts/%1/%2").arg(id, verb), token, {}, true);
        };
        QCOMPARE(act(u"start"_qs, viewer).status, 403);
        QCOMPARE(act(u"start"_qs, m_admin).status, 200);
        const QStringList first = waitOffers(offered, 1);
        QCOMPARE(first.size(), 1);
        Http r = act(u"pause"_qs, m_admin);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json().value(u"rollout").toObject().value(u"state").toString(), u"paused"_qs);
        QCOMPARE(act(u"pause"_qs, m_admin).status, 409);
        // A result while paused counts, but the next group is not offered until resumed.
        report(m_boxes.value(first.first()), id.toULongLong(), u"committed"_qs);
        QTRY_COMPARE(targetCount(id, u"succeeded"_qs), 1);
        m_server->releases()->drive();
        QCOMPARE(offered.size(), 1);
        QCOMPARE(act(u"resume"_qs, m_admin).status, 200);
        QCOMPARE(waitOffers(offered, 2).size(), 2);
        r = http(m_nam, "POST", port(), QStringLiteral("/api/rollouts/%1/abort").arg(id), m_admin, {{u"reason"_qs, u"wrong build"_qs}});
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json().value(u"rollout").toObject().value(u"state").toString(), u"aborted"_qs);
        QCOMPARE(r.json().value(u"rollout").toObject().value(u"reason").toString(), u"wrong build"_qs);
        QCOMPARE(act(u"resume"_qs, m_admin).status, 409);
        QCOMPARE(act(u"bogus"_qs, m_admin).status, 404);
        const QStringList audit = auditActions();
        QVERIFY(audit.contains(u"rollout.pause ok"_qs) && audit.contains(u"rollout.resume ok"_qs)
                && audit.contains(u"rollout.abort ok"_qs) && audit.contains(u"rollout.pause refused"_qs));
        QCOMPARE(http(m_nam, "GET", port(), u"/api/rollouts"_qs, viewer).json().value(u"items").toArray().size(), 1);
    }

    void reconnectWithNewVersionAndRestart()
    {
        start();
        QCOMPARE(postRaw(m_nam, port(), u"/api/releases"_qs, m_admin, m_good).status, 201);
        TestBox *a = addBox(u"N-1"_qs);
        TestBox *b = addBox(u"N-2"_qs);
        QSignalSpy offered(m_server->releases(), &ReleaseService::offered);
        const Http created = http(m_nam, "POST", port(), u"/api/rollouts"_qs, m_admin,
                                  {{u"release"_qs, u"2.5.0"_qs}, {u"groups"_qs, QJsonObject{{u"count"_qs, QJsonArray{2}}}},
                                   {u"start"_qs, true}});
        QCOMPARE(created.status, 201);
        const QString id = created.json().value(u"rollout").toObject().value(u"id").toString();
        QCOMPARE(waitOffers(offered, 2).size(), 2);

        // Box a reboots into 2.5.0 without having reported: its hello says so. It runs the
        // release on trial: installing, not yet a success, until its health check reports.
        a->close();
        QVERIFY(a->open(m_server->boxPort()));
        Hello h = a->hello(false, true);
        h.softwareVersion = u"2.5.0"_qs;
        a->send(MessageType::Hello, h.toBody());
        QVERIFY(a->waitWelcome());
        QTRY_COMPARE(targetCount(id, u"installing"_qs), 1);
        QCOMPARE(targetCount(id, u"succeeded"_qs), 0);
        report(a, 0, u"committed"_qs); // as UpdateInstaller::commit() reports it: no rollout id
        QTRY_COMPARE(targetCount(id, u"succeeded"_qs), 1);

        // Restart: the rollout is reloaded and goes on; box b, offered before, is offered again
        // after its result timeout, or reports now.
        b->close();
        m_server.reset();
        startServer();
        QCOMPARE(m_server->releases()->activeRollouts().size(), 1);
        QCOMPARE(rolloutState(id), u"running"_qs);
        QVERIFY(b->connectAndHello(m_server->boxPort()));
        report(b, id.toULongLong(), u"committed"_qs);
        QTRY_COMPARE(rolloutState(id), u"completed"_qs);
    }

    // A config file named with --config that is not there is an error for every loader, not an
    // empty configuration.
    void missingConfigFileIsAnError()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(u"nothere.conf"_qs);
        ReleaseConfig releases;
        QString error;
        QVERIFY(!loadReleaseConfigFile(path, &releases, &error));
        QVERIFY2(error.contains(u"does not exist") && error.contains(path), qPrintable(error));

        QCommandLineParser parser;
        parser.addOption({{u"c"_qs, u"config"_qs}, u"config"_qs, u"file"_qs});
        addClusterOptions(&parser);
        QVERIFY(parser.parse({u"controlserver"_qs, u"--config"_qs, path}));
        ClusterConfig cluster;
        error.clear();
        QVERIFY(!loadClusterConfig(parser, &cluster, &error));
        QVERIFY2(error.contains(u"does not exist") && error.contains(path), qPrintable(error));
    }

    void configFile_data()
    {
        QTest::addColumn<QString>("ini");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<QString>("expect"); // error substring, or "dir|keys|url|timeout|offers|rate"
        QTest::newRow("defaults") << QString() << true << u"|0||1800|2|500"_qs;
        QTest::newRow("all keys") << u"[releases]\ndirectory=rel\ntrusted_keys=a.pub, b.pub\npublic_url=http://c.example:8421/\n"
                                     "result_timeout_seconds=60\nmax_offers=3\noffers_per_second=50\n"_qs
                                  << true << u"rel|2|http://c.example:8421/|60|3|50"_qs;
        QTest::newRow("timeout zero") << u"[releases]\nresult_timeout_seconds=0\n"_qs << false << u"result_timeout_seconds"_qs;
        QTest::newRow("offers not a number") << u"[releases]\nmax_offers=many\n"_qs << false << u"max_offers"_qs;
        QTest::newRow("rate too high") << u"[releases]\noffers_per_second=9999999\n"_qs << false << u"offers_per_second"_qs;
    }
    void configFile()
    {
        QFETCH(QString, ini);
        QFETCH(bool, ok);
        QFETCH(QString, expect);
        QTemporaryDir dir;
        const QString path = dir.filePath(u"controlserver.conf"_qs);
        QVERIFY(writeTextFile(path, ini));
        ReleaseConfig c;
        QString error;
        QCOMPARE(loadReleaseConfigFile(path, &c, &error), ok);
        if (!ok) {
            QVERIFY2(error.contains(expect), qPrintable(error));
            return;
        }
        const QStringList want = expect.split(u'|');
        QCOMPARE(c.directory.isEmpty() ? QString() : QFileInfo(c.directory).fileName(), want.at(0));
        QCOMPARE(QString::number(c.trustedKeyFiles.size()), want.at(1));
        if (!c.trustedKeyFiles.isEmpty())
            QCOMPARE(c.trustedKeyFiles.first(), dir.filePath(u"a.pub"_qs)); // relative to the file
        QCOMPARE(c.publicUrl, want.at(2));
        QCOMPARE(QString::number(c.resultTimeoutSeconds), want.at(3));
        QCOMPARE(QString::number(c.maxOffers), want.at(4));
        QCOMPARE(QString::number(c.offersPerSecond), want.at(5));
    }

    void badTrustedKeyRefusesStart()
    {
        m_server = std::make_unique<ControlServer>(m_config);
        ReleaseConfig rc;
        rc.trustedKeyFiles = {m_dir->filePath(u"missing.pub"_qs)};
        m_server->releases()->setConfig(rc);
        QString error;
        QVERIFY(!m_server->start(&error));
        QVERIFY2(error.contains(u"missing.pub"), qPrintable(error));
    }

private:
    void start()
    {
        startServer();
    }
    void startServer()
    {
        m_server = std::make_unique<ControlServer>(m_config);
        ReleaseConfig rc;
        rc.trustedKeyFiles = {m_pubFile};
        m_server->releases()->setConfig(rc);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
        m_admin = login(m_nam, port(), u"admin"_qs, kAdminPassword);
        QVERIFY(!m_admin.isEmpty());
    }
    quint16 port() const { return m_server->httpPort(); }
    QString makeAccount(const QString &account, const QString &role)
    {
        const QString password = u"password-of-"_qs + account;
        const Http r = http(m_nam, "POST", port(), u"/api/operators"_qs, m_admin,
                            {{u"account"_qs, account}, {u"password"_qs, password}, {u"role"_qs, role}});
        if (r.status != 201)
            return {};
        return login(m_nam, port(), account, password);
    }
    TestBox *addBox(const QString &serial)
    {
        auto *box = new TestBox(serial);
        if (!box->connectAndHello(m_server->boxPort())) {
            delete box;
            return nullptr;
        }
        m_boxes.insert(box->boxId, box);
        return box;
    }
    QStringList bundleFiles() const
    {
        return QDir(m_server->releases()->releasesDir()).entryList({u"*.bundle"_qs}, QDir::Files);
    }
    QStringList auditActions()
    {
        QStringList out;
        for (const QJsonValue &v : http(m_nam, "GET", port(), u"/api/audit?limit=1000"_qs, m_admin).json().value(u"items").toArray())
            out.append(v.toObject().value(u"action").toString() + u' ' + v.toObject().value(u"outcome").toString());
        return out;
    }
    QString rolloutState(const QString &id)
    {
        return http(m_nam, "GET", port(), u"/api/rollouts/"_qs + id, m_admin).json().value(u"rollout").toObject().value(u"state").toString();
    }
    int targetCount(const QString &id, const QString &state)
    {
        return int(http(m_nam, "GET", port(), QStringLiteral("/api/rollouts/%1/targets?state=%2").arg(id, state), m_admin)
                       .json().value(u"items").toArray().size());
    }
    /// The next `n` boxes offered (from the spy, waiting for more as needed).
    /// The ids ("b-12") of the next n boxes ReleaseService::offered names.
    QStringList waitOffers(QSignalSpy &spy, int n)
    {
        QStringList out;
        QElapsedTimer t;
        t.start();
        while (out.size() < n && t.elapsed() < 10000) {
            if (m_spyTaken.value(&spy) >= spy.size() && !spy.wait(int(10000 - t.elapsed())))
                break;
            while (m_spyTaken.value(&spy) < spy.size())
                for (const qint64 id : spy.at(m_spyTaken[&spy]++).at(1).value<QList<qint64>>())
                    out.append(boxIdText(id)); // as TestBox::boxId spells it
        }
        return out;
    }
    void report(TestBox *box, quint64 rolloutId, const QString &phase)
    {
        BoxEvent e;
        e.kind = u"install"_qs;
        e.severity = phase == u"failed" ? u"error"_qs : u"info"_qs;
        e.text = phase + u" 2.5.0"_qs;
        e.data = {{u"version"_qs, u"2.5.0"_qs}, {u"phase"_qs, phase}, {u"ok"_qs, phase != u"failed"}};
        if (rolloutId)
            e.data.insert(u"rollout"_qs, qint64(rolloutId));
        box->send(MessageType::Event, e.toBody());
    }

    QTemporaryDir m_keys;
    QString m_pubFile;
    QByteArray m_good, m_wrongKey, m_tampered;
    std::unique_ptr<QTemporaryDir> m_dir;
    ControlConfig m_config;
    std::unique_ptr<ControlServer> m_server;
    QNetworkAccessManager m_nam;
    QString m_admin;
    QHash<QString, TestBox *> m_boxes;
    QHash<QSignalSpy *, qsizetype> m_spyTaken;
};

QTEST_MAIN(TestControlReleases)
#include "tst_controlreleases.moc"
