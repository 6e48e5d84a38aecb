// A release of Hubris's QML installs through the real control server and runs: the bundle is
// signed with a key the box trusts, uploaded, rolled out to the box; the box downloads, verifies
// and unpacks it, restarts into it on trial, and commits it once its window paints. A broken
// release (QML that does not load) is rolled back by itself to the one before. The app's restart
// is a fresh HubrisApp on the same storage, as a box's init would start it again. The update
// screen follows the install's stages to "restarting".
#include "controlserverprocess.h"
#include "testguide.h"

#include <hubrisapp.h>
#include <payload/bundle.h>
#include <payload/keys.h>

#include <QDirIterator>
#include <QJsonArray>
#include <QQuickWindow>

class TestHubrisUpdate : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    ControlServerProcess m_server;
    iptv::payload::SigningKey m_key = iptv::payload::SigningKey::generate();
    QString m_publicKey;
    QString m_guide;
    std::unique_ptr<HubrisApp> m_app;
    int m_restarts = 0;

    QJsonObject json(const QByteArray &method, const QString &path, const QJsonObject &body = {})
    {
        return m_server.json(method, path, body);
    }

    /// A payload of the real QML (and its qmldir), or of `brokenMain` as qml/Main.qml.
    QString bundle(const QString &version, const QByteArray &brokenMain = {})
    {
        const QString src = m_dir.filePath(u"src-"_qs + version);
        QDir().mkpath(src + u"/qml"_qs);
        QDirIterator it(QStringLiteral(IPTV_TEST_DATA "/../../qml"), {u"*.qml"_qs}, QDir::Files);
        while (it.hasNext()) {
            it.next();
            QFile::copy(it.filePath(), src + u"/qml/"_qs + it.fileName());
        }
        QFile qmldir(src + u"/qml/qmldir"_qs);
        qmldir.open(QIODevice::WriteOnly);
        qmldir.write("module Hubris\nsingleton Theme 1.0 Theme.qml\n");
        qmldir.close();
        if (!brokenMain.isEmpty()) {
            QFile main(src + u"/qml/Main.qml"_qs);
            main.open(QIODevice::WriteOnly | QIODevice::Truncate);
            main.write(brokenMain);
        }
        iptv::payload::BundleMeta meta;
        meta.version = version;
        meta.minBoxVersion = u"0.1.0"_qs;
        const QString path = m_dir.filePath(version + u".bundle"_qs);
        const auto built = iptv::payload::buildBundle(src, meta, m_key, path);
        if (!built.ok())
            qWarning("bundle %s: %s", qPrintable(version), qPrintable(built.status.toString()));
        return built.ok() ? path : QString();
    }

    /// Uploads a bundle and rolls it out to every box; the rollout's id.
    QString rollOut(const QString &path, const QString &version)
    {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly))
            return {};
        const auto [status, body] = m_server.request("POST", u"/api/releases"_qs, f.readAll(), "application/octet-stream");
        if (status != 201 && status != 200) {
            qWarning("upload: %d %s", status, body.constData());
            return {};
        }
        const QJsonObject created = json("POST", u"/api/rollouts"_qs,
                                         {{u"release"_qs, version}, {u"channel"_qs, u"clean"_qs},
                                          {u"groups"_qs, QJsonObject{{u"count"_qs, QJsonArray{1}}}}, {u"start"_qs, true}});
        const QString id = created.value(u"rollout"_qs).toObject().value(u"id"_qs).toVariant().toString();
        if (id.isEmpty())
            qWarning("rollout: %s", QJsonDocument(created).toJson(QJsonDocument::Compact).constData());
        return id;
    }

    void startBox()
    {
        HubrisOptions options;
        options.simulator = true;
        options.dataDir = m_dir.filePath(u"box"_qs);
        options.guideFile = m_guide;
        options.fixedNow = testguide::kDay0 + 3600;
        options.controlServer = m_server.boxUrl();
        options.serial = u"HUB-UPDATE-1"_qs;
        options.trustKeys = {m_publicKey};
        options.restart = [this] { ++m_restarts; };
        m_app = std::make_unique<HubrisApp>(options);
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (!QFile::exists(ControlServerProcess::binary()))
            QSKIP("the controlserver binary is not built");
        QCoreApplication::setApplicationVersion(u"0.1.0"_qs); // the built-in UI's version
        m_publicKey = m_dir.filePath(u"release.pub"_qs);
        QVERIFY(m_key.publicKey().save(m_publicKey));
        m_guide = testguide::write(m_dir);
        QVERIFY(m_server.start(m_dir.filePath(u"control"_qs), {u"--trust-key"_qs, m_publicKey}));
    }

    void cleanupTestCase()
    {
        m_app.reset(); // before the server goes
    }

    void installCommitRollback()
    {
        startBox();
        QVERIFY(m_app->start());
        QVERIFY(m_app->payloadSlot().isEmpty()); // nothing installed yet: the built-in UI
        QTRY_VERIFY_WITH_TIMEOUT(m_app->link()->isOnline(), 20000);

        // 9.0.0: installed, restarted into on trial, committed once it paints.
        const QString good = bundle(u"9.0.0"_qs);
        QVERIFY(!good.isEmpty());
        // The box shows the install's stages on screen while it runs, then "restarting".
        QList<iptv::hubris::UpdateProgress::Stage> stages;
        connect(m_app->updates(), &iptv::hubris::UpdateProgress::changed, this, [this, &stages] {
            if (stages.isEmpty() || stages.last() != m_app->updates()->stage())
                stages.append(m_app->updates()->stage());
        });
        const QString first = rollOut(good, u"9.0.0"_qs);
        QVERIFY(!first.isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(m_app->updates()->stage(), iptv::hubris::UpdateProgress::Restarting, 30000);
        QVERIFY(m_app->window()->findChild<QObject *>(u"updateScreen"_qs)->property("visible").toBool());
        using P = iptv::hubris::UpdateProgress;
        QCOMPARE(stages, (QList<P::Stage>{P::Downloading, P::Verifying, P::Installing, P::Restarting}));
        QCOMPARE(m_restarts, 0); // said before the app goes
        QTRY_COMPARE_WITH_TIMEOUT(m_restarts, 1, 30000);
        QCOMPARE(m_app->installer()->pendingVersion(), u"9.0.0"_qs);
        m_app.reset(); // the restart
        startBox();
        QSignalSpy committed(m_app.get(), &HubrisApp::payloadCommitted);
        QVERIFY(m_app->start());
        QVERIFY(m_app->payloadSlot().endsWith(u"9.0.0"_qs));
        QVERIFY(committed.wait(15000));
        QCOMPARE(m_app->installer()->currentVersion(), u"9.0.0"_qs);
        QVERIFY(m_app->installer()->pendingVersion().isEmpty());
        // The control server shows the outcome.
        auto outcome = [this](const QString &rollout, const char *key) {
            return json("GET", u"/api/rollouts/"_qs + rollout).value(u"rollout"_qs).toObject().value(QLatin1String(key)).toInt();
        };
        QTRY_COMPARE_WITH_TIMEOUT(outcome(first, "succeeded"), 1, 15000);

        // 9.1.0's QML does not load: rolled back at once to 9.0.0, which runs.
        QTRY_VERIFY_WITH_TIMEOUT(m_app->link()->isOnline(), 20000);
        const QString broken = bundle(u"9.1.0"_qs, "import QtQuick\nNoSuchType {}\n");
        const QString second = rollOut(broken, u"9.1.0"_qs);
        QVERIFY(!second.isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(m_restarts, 2, 30000);
        QCOMPARE(m_app->installer()->pendingVersion(), u"9.1.0"_qs);
        m_app.reset();
        startBox();
        QSignalSpy rolledBack(m_app.get(), &HubrisApp::payloadRolledBack);
        QVERIFY(m_app->start());
        QCOMPARE(rolledBack.size(), 1);
        QVERIFY(m_app->payloadSlot().endsWith(u"9.0.0"_qs));
        QCOMPARE(m_app->installer()->currentVersion(), u"9.0.0"_qs);
        QVERIFY(m_app->installer()->pendingVersion().isEmpty());
        QVERIFY(m_app->window());
        // The control server shows the rollback: in the box's events, and as the rollout's
        // failure (an installed release counts only once its health check commits it).
        QTRY_VERIFY_WITH_TIMEOUT(m_server.request("GET", u"/api/boxes/1/events"_qs).second.contains("rolled back from 9.1.0 to 9.0.0"),
                                 15000);
        QTRY_COMPARE_WITH_TIMEOUT(outcome(second, "failed"), 1, 15000);
        QCOMPARE(outcome(second, "succeeded"), 0);
    }
};

QTEST_MAIN(TestHubrisUpdate)
#include "tst_hubrisupdate.moc"
