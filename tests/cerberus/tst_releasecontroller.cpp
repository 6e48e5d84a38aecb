// ReleaseController: bundles inspected locally (manifest, signature valid / unknown key / not
// checked, unreadable files), then upload, staged rollout start, live group progress,
// pause/resume/abort and role refusals.
//
// The controlserver's release and rollout routes were not committed when this was written, so
// the HTTP and WebSocket side here is FakeReleaseApi: a minimal stand-in in this file answering
// those routes (server/controlserver/releases/releaseroutes.cpp: POST /api/releases with the bundle as the
// body, POST /api/rollouts, POST /api/rollouts/<id>/<action>, admin only) with the shapes of
// rollout.h (RolloutProgress::toJson) and releasestore.h (Release::toJson). Replace it with the
// real server once those routes are in.

#include <cerberus/controlclient.h>
#include <cerberus/dashboardmodel.h>
#include <cerberus/releasecontroller.h>

#include <payload/bundle.h>
#include <payload/keys.h>

#include <QAbstractItemModelTester>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketServer>

using namespace iptv::cerberus;

namespace {

constexpr int kWait = 10000;

/// A stand-in for the controlserver's release routes and its operator WebSocket (see above).
class FakeReleaseApi : public QObject
{
public:
    QString role = u"admin"_qs;
    bool releasesEnabled = true;
    QList<std::pair<QString, QByteArray>> requests; ///< "METHOD /path", body
    QJsonObject rollout;

    FakeReleaseApi()
    {
        m_http.setMissingHandler([this](const QHttpServerRequest &req, QHttpServerResponder &&responder) {
            const auto [status, body] = answer(req);
            QHttpServerResponse r("application/json", QJsonDocument(body).toJson(QJsonDocument::Compact),
                                  QHttpServerResponse::StatusCode(status));
            r.write(std::move(responder));
        });
        httpPort = m_http.listen(QHostAddress::LocalHost, 0);
        m_ws.listen(QHostAddress::LocalHost, 0);
        connect(&m_ws, &QWebSocketServer::newConnection, this, [this] {
            QWebSocket *s = m_ws.nextPendingConnection();
            s->setParent(this);
            connect(s, &QWebSocket::textMessageReceived, this, [this, s](const QString &text) {
                const QJsonObject m = QJsonDocument::fromJson(text.toUtf8()).object();
                const QString t = m.value(u"t").toString();
                if (t == u"hello")
                    send(s, {{u"t"_qs, u"welcome"_qs}, {u"re"_qs, m.value(u"id")}, {u"v"_qs, 1}, {u"state"_qs, role}});
                else if (t == u"subscribe") {
                    m_subscribers.append(s);
                    send(s, {{u"t"_qs, u"ack"_qs}, {u"re"_qs, m.value(u"id")}});
                }
            });
        });
    }
    quint16 httpPort = 0;
    quint16 wsPort() const { return m_ws.serverPort(); }
    int subscribers() const { return int(m_subscribers.size()); }

    /// Pushes the rollout on "rollouts" as the server would after a change.
    void push()
    {
        for (QWebSocket *s : std::as_const(m_subscribers))
            send(s, {{u"t"_qs, u"update"_qs}, {u"topic"_qs, u"rollouts"_qs}, {u"kind"_qs, u"rollout"_qs}, {u"rollout"_qs, rollout}});
    }
    static QJsonObject group(int index, const QString &state, int size, int succeeded, int failed, int installing)
    {
        return {{u"index"_qs, index}, {u"state"_qs, state}, {u"size"_qs, size}, {u"required"_qs, int(size * 0.95 + 0.99)},
                {u"pending"_qs, size - succeeded - failed - installing}, {u"offered"_qs, 0}, {u"installing"_qs, installing},
                {u"succeeded"_qs, succeeded}, {u"failed"_qs, failed}, {u"skipped"_qs, 0}};
    }

private:
    void send(QWebSocket *s, QJsonObject m)
    {
        m.insert(u"id"_qs, ++m_nextId);
        s->sendTextMessage(QString::fromUtf8(QJsonDocument(m).toJson(QJsonDocument::Compact)));
    }
    std::pair<int, QJsonObject> answer(const QHttpServerRequest &req)
    {
        const QString path = req.url().path();
        const bool post = req.method() == QHttpServerRequest::Method::Post;
        requests.append({QString::fromLatin1(post ? "POST " : "GET ") + path, req.body()});
        if (!releasesEnabled && (path.startsWith(u"/api/releases") || path.startsWith(u"/api/rollouts")))
            return {404, {{u"error"_qs, u"not-found"_qs}, {u"detail"_qs, QStringLiteral("no resource %1").arg(path)}}};
        if (path == u"/api/login")
            return {200, {{u"token"_qs, u"fake-token"_qs}, {u"account"_qs, u"op"_qs}, {u"role"_qs, role}}};
        if (path == u"/api/releases" && !post) {
            QJsonArray items;
            for (const QJsonObject &r : std::as_const(m_releases))
                items.append(r);
            return {200, {{u"items"_qs, items}}};
        }
        if (path == u"/api/releases" && post) {
            QJsonObject r{{u"version"_qs, u"2.0.0"_qs}, {u"channel"_qs, u"experimental"_qs}, {u"size"_qs, req.body().size()},
                          {u"keyId"_qs, u"k"_qs}, {u"uploadedBy"_qs, u"op"_qs}, {u"uploadedAt"_qs, 1764000000}};
            m_releases.append(r);
            return {201, {{u"release"_qs, r}}};
        }
        if (path == u"/api/rollouts" && !post)
            return {200, {{u"items"_qs, rollout.isEmpty() ? QJsonArray() : QJsonArray{rollout}}}};
        if (path == u"/api/rollouts" && post) {
            const QJsonObject body = QJsonDocument::fromJson(req.body()).object();
            rollout = {{u"id"_qs, u"7"_qs}, {u"version"_qs, body.value(u"version")}, {u"channel"_qs, body.value(u"channel")},
                       {u"state"_qs, u"draft"_qs}, {u"currentGroup"_qs, -1}, {u"total"_qs, 100},
                       {u"groups"_qs, QJsonArray{group(0, u"pending"_qs, 1, 0, 0, 0), group(1, u"pending"_qs, 9, 0, 0, 0),
                                                 group(2, u"pending"_qs, 90, 0, 0, 0)}}};
            return {201, {{u"rollout"_qs, rollout}}};
        }
        if (path.startsWith(u"/api/rollouts/7/") && post) {
            const QString verb = path.section(u'/', -1);
            const QHash<QString, QString> next{{u"start"_qs, u"running"_qs}, {u"pause"_qs, u"paused"_qs},
                                               {u"resume"_qs, u"running"_qs}, {u"abort"_qs, u"aborted"_qs}};
            if (!next.contains(verb))
                return {404, {{u"error"_qs, u"not-found"_qs}, {u"detail"_qs, u"no such action"_qs}}};
            if (verb == u"pause" && rollout.value(u"state").toString() != u"running")
                return {409, {{u"error"_qs, u"conflict"_qs}, {u"detail"_qs, u"rollout 7 is not running"_qs}}};
            rollout.insert(u"state"_qs, next.value(verb));
            if (verb == u"start")
                rollout.insert(u"currentGroup"_qs, 0);
            return {200, {{u"rollout"_qs, rollout}}};
        }
        return {404, {{u"error"_qs, u"not-found"_qs}, {u"detail"_qs, QStringLiteral("no resource %1").arg(path)}}};
    }

    QHttpServer m_http;
    QWebSocketServer m_ws{u"fake"_qs, QWebSocketServer::NonSecureMode};
    QList<QWebSocket *> m_subscribers;
    QList<QJsonObject> m_releases;
    qint64 m_nextId = 0;
};

} // namespace

class TestReleaseController : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        // A real signed bundle, built with libs/payload as iptv-payload does.
        const QString src = m_dir.filePath(u"src"_qs);
        QVERIFY(QDir().mkpath(src + u"/qml"_qs));
        QFile f(src + u"/qml/Main.qml"_qs);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("import QtQuick\nItem {}\n");
        f.close();
        const auto key = iptv::payload::SigningKey::generate();
        QVERIFY(key.publicKey().save(m_dir.filePath(u"release.pub"_qs)));
        QVERIFY(iptv::payload::SigningKey::generate().publicKey().save(m_dir.filePath(u"other.pub"_qs)));
        iptv::payload::BundleMeta meta;
        meta.version = u"2.0.0"_qs;
        meta.channel = iptv::payload::Channel::Experimental;
        meta.minBoxVersion = u"1.4.0"_qs;
        meta.notes = u"New guide grid"_qs;
        m_bundle = m_dir.filePath(u"hubris-2.0.0.bundle"_qs);
        const auto built = iptv::payload::buildBundle(src, meta, key, m_bundle);
        QVERIFY2(built.ok(), qPrintable(built.status.toString()));
        m_keyId = key.keyId();
    }

    void inspectsBundlesLocally()
    {
        ControlClient client;
        ReleaseController releases(&client);
        BundleInfo info = releases.inspect(m_bundle);
        QVERIFY2(info.ok, qPrintable(info.error));
        QCOMPARE(info.manifest.value(u"version").toString(), u"2.0.0"_qs);
        QCOMPARE(info.manifest.value(u"channel").toString(), u"experimental"_qs);
        QCOMPARE(info.files, 1);
        QCOMPARE(info.keyId, m_keyId);
        QCOMPARE(info.signature, u"not-checked"_qs);
        releases.setTrustedKeyFiles({m_dir.filePath(u"release.pub"_qs)});
        QCOMPARE(releases.inspect(m_bundle).signature, u"valid"_qs);
        releases.setTrustedKeyFiles({m_dir.filePath(u"other.pub"_qs)});
        QCOMPARE(releases.inspect(m_bundle).signature, u"unknown-key"_qs);
        // Not a bundle: a clear error, nothing else.
        QFile junk(m_dir.filePath(u"junk.bundle"_qs));
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("this is not a bundle");
        junk.close();
        info = releases.inspect(junk.fileName());
        QVERIFY(!info.ok);
        QVERIFY(!info.error.isEmpty());
    }

    void uploadRolloutAndLiveProgress()
    {
        FakeReleaseApi api;
        ControlClient client;
        client.setLiveUrl(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(api.wsPort())));
        QSignalSpy in(&client, &ControlClient::loggedIn);
        client.login(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(api.httpPort)), u"op"_qs, u"pw"_qs);
        QVERIFY(in.wait(kWait));
        ReleaseController releases(&client);
        QAbstractItemModelTester t1(releases.releases(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester t2(releases.rollouts(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester t3(releases.groups(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        DashboardModel dashboard;
        connect(&releases, &ReleaseController::rolloutChanged, &dashboard, &DashboardModel::noteRollout);
        releases.start();
        QTRY_COMPARE_WITH_TIMEOUT(api.subscribers(), 1, kWait);

        QSignalSpy uploaded(&releases, &ReleaseController::uploaded);
        QVERIFY(releases.upload(m_bundle));
        QVERIFY(uploaded.wait(kWait));
        const auto post = std::find_if(api.requests.cbegin(), api.requests.cend(),
                                       [](const auto &r) { return r.first == u"POST /api/releases"; });
        QVERIFY(post != api.requests.cend());
        QCOMPARE(post->second.size(), QFileInfo(m_bundle).size()); // the bundle's bytes, as they are
        QCOMPARE(releases.releases()->rowCount(), 1);

        RolloutRequest req;
        req.version = u"2.0.0"_qs;
        req.channel = u"experimental"_qs;
        req.groupPercents = {1, 10, 100};
        req.successThreshold = 0.9;
        req.errorThreshold = 0.02;
        req.minResults = 10;
        QSignalSpy started(&releases, &ReleaseController::rolloutStarted);
        QVERIFY(releases.startRollout(req));
        QVERIFY(started.wait(kWait));
        const auto create = std::find_if(api.requests.cbegin(), api.requests.cend(),
                                         [](const auto &r) { return r.first == u"POST /api/rollouts"; });
        const QJsonObject body = QJsonDocument::fromJson(create->second).object();
        QCOMPARE(body.value(u"groups").toObject().value(u"percent").toArray(), (QJsonArray{1, 10, 100}));
        QCOMPARE(body.value(u"thresholds").toObject().value(u"errorThreshold").toDouble(), 0.02);
        QCOMPARE(body.value(u"channel").toString(), u"experimental"_qs);
        // A draft is started at once.
        QTRY_COMPARE_WITH_TIMEOUT(releases.rollout(u"7"_qs).value(u"state").toString(), u"running"_qs, kWait);
        QCOMPARE(releases.selected(), u"7"_qs);
        QCOMPARE(releases.groups()->rowCount(), 3);

        // Live progress per group.
        api.rollout.insert(u"groups"_qs, QJsonArray{FakeReleaseApi::group(0, u"succeeded"_qs, 1, 1, 0, 0),
                                                    FakeReleaseApi::group(1, u"open"_qs, 9, 4, 1, 3),
                                                    FakeReleaseApi::group(2, u"pending"_qs, 90, 0, 0, 0)});
        api.rollout.insert(u"succeeded"_qs, 5);
        api.rollout.insert(u"failed"_qs, 1);
        api.push();
        QTRY_COMPARE_WITH_TIMEOUT(releases.groups()->rowObject(1).value(u"succeeded").toInt(), 4, kWait);
        QCOMPARE(releases.groups()->index(1, 6).data().toString(), u"3"_qs); // installing
        QVERIFY(releases.rollouts()->index(0, 5).data().toString().startsWith(u"5 / 100 ok"));

        // Pause, a refused second pause (the server's 409 comes through), resume, abort.
        QVERIFY(releases.pause(u"7"_qs));
        QTRY_COMPARE_WITH_TIMEOUT(releases.rollout(u"7"_qs).value(u"state").toString(), u"paused"_qs, kWait);
        QSignalSpy failed(&releases, &ReleaseController::failed);
        QVERIFY(releases.pause(u"7"_qs));
        QVERIFY(failed.wait(kWait));
        QCOMPARE(failed.first().at(1).value<ApiError>().status, 409);
        QCOMPARE(failed.first().at(1).value<ApiError>().code, u"conflict"_qs);
        QVERIFY(releases.resume(u"7"_qs));
        QTRY_COMPARE_WITH_TIMEOUT(releases.rollout(u"7"_qs).value(u"state").toString(), u"running"_qs, kWait);

        // The server halts it (error threshold): the dashboard raises an alert.
        api.rollout.insert(u"state"_qs, u"halted"_qs);
        api.rollout.insert(u"reason"_qs, u"3 of 40 results failed (above 2 %)"_qs);
        api.push();
        QTRY_COMPARE_WITH_TIMEOUT(dashboard.alerts()->rowCount(), 1, kWait);
        QCOMPARE(dashboard.alerts()->at(0).kind, u"rollout-halted"_qs);
        QVERIFY(releases.abort(u"7"_qs));
        QTRY_COMPARE_WITH_TIMEOUT(releases.rollout(u"7"_qs).value(u"state").toString(), u"aborted"_qs, kWait);
    }

    void viewersCannotRelease()
    {
        FakeReleaseApi api;
        api.role = u"viewer"_qs;
        ControlClient client;
        client.setLiveUrl(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(api.wsPort())));
        QSignalSpy in(&client, &ControlClient::loggedIn);
        client.login(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(api.httpPort)), u"vera"_qs, u"pw"_qs);
        QVERIFY(in.wait(kWait));
        ReleaseController releases(&client);
        QSignalSpy failed(&releases, &ReleaseController::failed);
        const qsizetype before = api.requests.size();
        QVERIFY(!releases.upload(m_bundle));
        QVERIFY(!releases.startRollout({}));
        QVERIFY(!releases.abort(u"7"_qs));
        QCOMPARE(failed.count(), 3);
        QCOMPARE(failed.first().at(1).value<ApiError>().code, u"forbidden"_qs);
        QCOMPARE(api.requests.size(), before); // nothing was sent
    }

    void serverWithoutReleaseApi()
    {
        // A server without the routes answers 404: the controller says so, once.
        FakeReleaseApi api;
        api.releasesEnabled = false;
        ControlClient client;
        client.setLiveUrl(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(api.wsPort())));
        QSignalSpy in(&client, &ControlClient::loggedIn);
        client.login(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(api.httpPort)), u"op"_qs, u"pw"_qs);
        QVERIFY(in.wait(kWait));
        ReleaseController releases(&client);
        QSignalSpy availability(&releases, &ReleaseController::availabilityChanged);
        releases.refresh();
        QVERIFY(availability.wait(kWait));
        QCOMPARE(availability.first().at(0).toBool(), false);
        QVERIFY(availability.first().at(1).toString().contains(u"/api/releases"));
        QVERIFY(!releases.isAvailable());
        releases.refresh();
        QTRY_COMPARE_WITH_TIMEOUT(int(std::count_if(api.requests.cbegin(), api.requests.cend(),
                                                     [](const auto &r) { return r.first == u"GET /api/releases"; })), 2, kWait);
        QCOMPARE(availability.count(), 1);
    }

    void realServerWhenGiven()
    {
        // Opt-in: the same flow against a running controlserver with the release routes.
        //   CERBERUS_TEST_SERVER=http://127.0.0.1:8421 CERBERUS_TEST_PASSWORD=... (admin)
        //   CERBERUS_TEST_KEY=release.key (a key the server trusts, --trust-key release.pub)
        const QString server = qEnvironmentVariable("CERBERUS_TEST_SERVER");
        const QString keyFile = qEnvironmentVariable("CERBERUS_TEST_KEY");
        if (server.isEmpty() || keyFile.isEmpty())
            QSKIP("set CERBERUS_TEST_SERVER, CERBERUS_TEST_PASSWORD and CERBERUS_TEST_KEY to run against a real server");
        const auto key = iptv::payload::SigningKey::load(keyFile);
        QVERIFY(!key.isNull());
        iptv::payload::BundleMeta meta;
        meta.version = QStringLiteral("9.%1.0").arg(QDateTime::currentSecsSinceEpoch() % 100000);
        meta.channel = iptv::payload::Channel::Experimental;
        meta.minBoxVersion = u"1.0.0"_qs;
        const QString bundle = m_dir.filePath(meta.version + u".bundle"_qs);
        const auto built = iptv::payload::buildBundle(m_dir.filePath(u"src"_qs), meta, key, bundle);
        QVERIFY2(built.ok(), qPrintable(built.status.toString()));

        ControlClient client;
        QSignalSpy in(&client, &ControlClient::loggedIn);
        client.login(QUrl(server), u"admin"_qs, qEnvironmentVariable("CERBERUS_TEST_PASSWORD"));
        QVERIFY(in.wait(kWait));
        ReleaseController releases(&client);
        QSignalSpy failed(&releases, &ReleaseController::failed);
        releases.start();
        QTRY_VERIFY_WITH_TIMEOUT(client.isLiveConnected(), kWait);
        QSignalSpy uploaded(&releases, &ReleaseController::uploaded);
        QVERIFY(releases.upload(bundle));
        QVERIFY2(uploaded.wait(kWait), failed.isEmpty() ? "" : qPrintable(failed.first().at(1).value<ApiError>().toString()));
        QCOMPARE(uploaded.first().at(0).toJsonObject().value(u"version").toString(), meta.version);
        // One active rollout per channel: abort what runs on experimental first.
        QSignalSpy refreshed(&releases, &ReleaseController::refreshed);
        releases.refresh();
        QVERIFY(refreshed.wait(kWait));
        for (const QJsonObject &r : releases.rollouts()->rows()) {
            const QString state = r.value(u"state").toString();
            if (r.value(u"channel").toString() == u"experimental" && (state == u"running" || state == u"paused" || state == u"halted"))
                QVERIFY(releases.abort(r.value(u"id").toString()));
        }
        QTRY_VERIFY_WITH_TIMEOUT(std::none_of(releases.rollouts()->rows().cbegin(), releases.rollouts()->rows().cend(),
                                              [](const QJsonObject &r) {
                                                  const QString s = r.value(u"state").toString();
                                                  return r.value(u"channel").toString() == u"experimental"
                                                      && (s == u"running" || s == u"paused" || s == u"halted");
                                              }),
                                 kWait);
        RolloutRequest req;
        req.version = meta.version;
        req.groupPercents = {50, 100};
        req.minResults = 5;
        QSignalSpy started(&releases, &ReleaseController::rolloutStarted);
        QVERIFY(releases.startRollout(req));
        QVERIFY2(started.wait(kWait), failed.isEmpty() ? "" : qPrintable(failed.last().at(1).value<ApiError>().toString()));
        const QString id = started.first().at(0).toJsonObject().value(u"id").toString();
        QTRY_COMPARE_WITH_TIMEOUT(releases.rollout(id).value(u"state").toString(), u"running"_qs, kWait);
        QVERIFY(releases.groups()->rowCount() >= 1);
        // Boxes report installs: the live push moves the counters.
        QTRY_VERIFY_WITH_TIMEOUT(releases.rollout(id).value(u"succeeded").toInt() > 0, 30000);
        QVERIFY(releases.pause(id));
        QTRY_COMPARE_WITH_TIMEOUT(releases.rollout(id).value(u"state").toString(), u"paused"_qs, kWait);
        QVERIFY(releases.resume(id));
        QTRY_COMPARE_WITH_TIMEOUT(releases.rollout(id).value(u"state").toString(), u"running"_qs, kWait);
    }

private:
    QTemporaryDir m_dir;
    QString m_bundle;
    QString m_keyId;
};

QTEST_GUILESS_MAIN(TestReleaseController)
#include "tst_releasecontroller.moc"
