// Release install on the box with real signed bundles (libs/payload) served over HTTP: download
// with the Bearer token, sha256 and size checks, verify + unpack into a slot, pending -> commit,
// rollback by hand and after failed starts, bounded slots, and every kind of refusal.

#include "fakecontrolserver.h"

#include <boxlink/boxlink.h>
#include <boxlink/credentialstore.h>
#include <boxlink/updateinstaller.h>

#include <payload/bundle.h>
#include <payload/keys.h>

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QHttpServer>
#include <QHttpServerRequest>
#include <QHttpServerResponse>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::boxlink;
using namespace iptv::protocol;
namespace payload = iptv::payload;

namespace {
constexpr int WaitMs = 20000;
}

class TestUpdateInstaller : public QObject
{
    Q_OBJECT

private:
    /// Builds and signs a bundle of version `version` and serves it at /bundles/<name>.
    ReleaseAvailable publish(const QString &version, const payload::SigningKey &key, const QString &name = {})
    {
        const QString source = m_dir->filePath(QStringLiteral("src-") + version);
        QDir().mkpath(source + QStringLiteral("/qml"));
        QFile qml(source + QStringLiteral("/qml/Main.qml"));
        if (!qml.open(QIODevice::WriteOnly))
            return {};
        qml.write("import QtQuick\nItem { property string version: \"" + version.toUtf8() + "\" }\n");
        qml.close();
        payload::BundleMeta meta;
        meta.version = version;
        meta.minBoxVersion = QStringLiteral("1.0.0");
        const QString out = m_dir->filePath(QStringLiteral("bundle-%1-%2.iptvpkg").arg(version, key.keyId()));
        QFile::remove(out);
        const payload::BundleResult built = payload::buildBundle(source, meta, key, out);
        if (!built.ok())
            qWarning() << built.status.toString();
        QFile file(out);
        if (!file.open(QIODevice::ReadOnly))
            return {};
        const QByteArray bytes = file.readAll();
        const QString served = name.isEmpty() ? version : name;
        m_bundles.insert(served, bytes);
        ReleaseAvailable r;
        r.version = version;
        r.channel = QStringLiteral("clean");
        r.url = QStringLiteral("http://127.0.0.1:%1/bundles/%2").arg(m_httpPort).arg(served);
        r.sha256 = QCryptographicHash::hash(bytes, QCryptographicHash::Sha256);
        r.size = bytes.size();
        r.rolloutId = 3;
        return r;
    }
    InstallerConfig config() const
    {
        InstallerConfig c;
        c.stateDir = m_dir->filePath(QStringLiteral("state"));
        c.trustedKeys = {m_key.publicKey()};
        c.boxVersion = QStringLiteral("1.0.0");
        c.maxBootAttempts = 2;
        return c;
    }
    /// Installs and waits; returns (ok, text).
    std::pair<bool, QString> installAndWait(UpdateInstaller &installer, const ReleaseAvailable &release)
    {
        QSignalSpy finished(&installer, &UpdateInstaller::installFinished);
        installer.install(release);
        if (finished.isEmpty() && !finished.wait(WaitMs))
            return {false, QStringLiteral("timeout")};
        return {finished.first().at(0).toBool(), finished.first().at(2).toString()};
    }
    QStringList slotDirs(const UpdateInstaller &installer) const
    {
        return QDir(installer.slotsDir()).entryList(QDir::Dirs | QDir::NoDotAndDotDot | QDir::Hidden, QDir::Name);
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<QHttpServer> m_http;
    quint16 m_httpPort = 0;
    QHash<QString, QByteArray> m_bundles;
    QList<QByteArray> m_authorizations;
    payload::SigningKey m_key;
    MemoryCredentialStore m_store;

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        m_bundles.clear();
        m_authorizations.clear();
        m_http = std::make_unique<QHttpServer>();
        m_http->route(QStringLiteral("/bundles/"), [this](const QString &name, const QHttpServerRequest &request) {
            m_authorizations.append(request.value("Authorization"));
            if (!m_bundles.contains(name))
                return QHttpServerResponse(QHttpServerResponder::StatusCode::NotFound);
            return QHttpServerResponse("application/octet-stream", m_bundles.value(name));
        });
        m_httpPort = m_http->listen(QHostAddress::LocalHost, 0);
        QVERIFY(m_httpPort != 0);
        m_key = payload::SigningKey::generate();
        m_store = MemoryCredentialStore(QByteArray(32, 's'), QByteArray("tok\xff\x01", 5));
    }
    void cleanup()
    {
        m_http.reset();
        m_dir.reset();
    }

    void installCommitAndBoundedSlots()
    {
        UpdateInstaller installer(config(), &m_store);
        QVERIFY(installer.beginBoot().isEmpty()); // nothing installed: the built-in app

        QSignalSpy stages(&installer, &UpdateInstaller::stageChanged);
        QSignalSpy progress(&installer, &UpdateInstaller::downloadProgress);
        const ReleaseAvailable first = publish(QStringLiteral("1.1.0"), m_key);
        const auto [ok, text] = installAndWait(installer, first);
        QVERIFY2(ok, qPrintable(text));
        // The stages a progress screen shows, in order, and the download up to the announced size.
        QCOMPARE(stages.size(), 3);
        QCOMPARE(stages.at(0).at(1).value<UpdateInstaller::Stage>(), UpdateInstaller::Stage::Downloading);
        QCOMPARE(stages.at(1).at(1).value<UpdateInstaller::Stage>(), UpdateInstaller::Stage::Verifying);
        QCOMPARE(stages.at(2).at(1).value<UpdateInstaller::Stage>(), UpdateInstaller::Stage::Installing);
        QVERIFY(!progress.isEmpty());
        QCOMPARE(progress.last().at(1).toLongLong(), first.size);
        QCOMPARE(progress.last().at(2).toLongLong(), first.size);
        QCOMPARE(m_authorizations.last(), QByteArray("Bearer dG9r_wE")); // base64url, no padding
        QCOMPARE(installer.pendingVersion(), QStringLiteral("1.1.0"));
        QVERIFY(installer.currentVersion().isEmpty());
        const QString slot = installer.slotPath(QStringLiteral("1.1.0"));
        QVERIFY(QFile::exists(slot + QStringLiteral("/payload/qml/Main.qml")));
        QVERIFY(QFile::exists(slot + QStringLiteral("/MANIFEST.json")));

        // Trial boot, health check passed, commit.
        QCOMPARE(installer.beginBoot(), slot);
        QCOMPARE(installer.bootAttempts(), 1);
        QSignalSpy committed(&installer, &UpdateInstaller::committed);
        QVERIFY(installer.commit());
        QCOMPARE(committed.size(), 1);
        QCOMPARE(installer.currentVersion(), QStringLiteral("1.1.0"));
        QVERIFY(installer.pendingVersion().isEmpty());
        QCOMPARE(installer.beginBoot(), slot);
        QVERIFY(!installer.commit()); // nothing pending

        // Two more releases: only current and previous stay on disk.
        QVERIFY(installAndWait(installer, publish(QStringLiteral("1.2.0"), m_key)).first);
        QVERIFY(installer.commit());
        QVERIFY(installAndWait(installer, publish(QStringLiteral("1.3.0"), m_key)).first);
        QVERIFY(installer.commit());
        QCOMPARE(slotDirs(installer), (QStringList{QStringLiteral("1.2.0"), QStringLiteral("1.3.0")}));
        QCOMPARE(installer.previousVersion(), QStringLiteral("1.2.0"));
        QVERIFY(!QFile::exists(installer.slotsDir() + QStringLiteral("/.download-1.3.0")));

        // The state survives a restart of the app.
        UpdateInstaller again(config(), &m_store);
        QCOMPARE(again.currentVersion(), QStringLiteral("1.3.0"));
        QCOMPARE(again.previousVersion(), QStringLiteral("1.2.0"));
        QVERIFY(again.lastError().isEmpty());

        // Versions only go up unless forced.
        const auto [older, why] = installAndWait(again, publish(QStringLiteral("1.2.5"), m_key));
        QVERIFY(!older);
        QVERIFY2(why.contains(QStringLiteral("NotNewer")), qPrintable(why));
    }

    void rollbackByHandAndAfterFailedStarts()
    {
        UpdateInstaller installer(config(), &m_store);
        QVERIFY(installAndWait(installer, publish(QStringLiteral("2.0.0"), m_key)).first);
        QVERIFY(installer.commit());
        QVERIFY(installAndWait(installer, publish(QStringLiteral("2.1.0"), m_key)).first);

        // The new slot crashes at every start: after maxBootAttempts (2) it is rolled back.
        QSignalSpy rolledBack(&installer, &UpdateInstaller::rolledBack);
        QCOMPARE(installer.beginBoot(), installer.slotPath(QStringLiteral("2.1.0")));
        {
            UpdateInstaller afterCrash(config(), &m_store); // the app restarted
            QCOMPARE(afterCrash.bootAttempts(), 1);
            QCOMPARE(afterCrash.beginBoot(), afterCrash.slotPath(QStringLiteral("2.1.0")));
        }
        UpdateInstaller third(config(), &m_store);
        QSignalSpy thirdRolledBack(&third, &UpdateInstaller::rolledBack);
        QCOMPARE(third.beginBoot(), third.slotPath(QStringLiteral("2.0.0")));
        QCOMPARE(thirdRolledBack.size(), 1);
        QCOMPARE(thirdRolledBack.first().at(0).toString(), QStringLiteral("2.1.0"));
        QVERIFY(third.pendingVersion().isEmpty());
        QVERIFY(!QDir(third.slotPath(QStringLiteral("2.1.0"))).exists());

        // A forced release of the previous version reuses its slot, without a download.
        QVERIFY(installAndWait(third, publish(QStringLiteral("2.3.0"), m_key)).first);
        QVERIFY(third.commit());
        QCOMPARE(third.previousVersion(), QStringLiteral("2.0.0"));
        ReleaseAvailable back;
        back.version = QStringLiteral("2.0.0");
        back.url = QStringLiteral("http://127.0.0.1:1/never-fetched");
        back.force = true;
        const int downloads = int(m_authorizations.size());
        const auto [backOk, backText] = installAndWait(third, back);
        QVERIFY2(backOk, qPrintable(backText));
        QCOMPARE(int(m_authorizations.size()), downloads);
        QCOMPARE(third.pendingVersion(), QStringLiteral("2.0.0"));
        QVERIFY(third.commit());
        QCOMPARE(third.currentVersion(), QStringLiteral("2.0.0"));
        QCOMPARE(third.previousVersion(), QStringLiteral("2.3.0"));

        // An operator's rollback of a committed release goes to the previous slot.
        QVERIFY(installAndWait(third, publish(QStringLiteral("2.4.0"), m_key)).first);
        QVERIFY(third.commit());
        QVERIFY(third.rollback(QStringLiteral("operator")));
        QCOMPARE(third.currentVersion(), QStringLiteral("2.0.0"));
        QVERIFY(third.previousVersion().isEmpty());
        QVERIFY(!third.rollback(QStringLiteral("again"))); // nothing left to go back to
        Q_UNUSED(rolledBack);
    }

    void refusals_data()
    {
        QTest::addColumn<QString>("fault");
        QTest::addColumn<QString>("expected");
        QTest::newRow("tampered bundle") << QStringLiteral("tamper") << QStringLiteral("refused");
        QTest::newRow("sha256 differs") << QStringLiteral("sha") << QStringLiteral("HashMismatch");
        QTest::newRow("bigger than announced") << QStringLiteral("size") << QStringLiteral("TooLarge");
        QTest::newRow("untrusted key") << QStringLiteral("key") << QStringLiteral("UnknownKey");
        QTest::newRow("not found") << QStringLiteral("404") << QStringLiteral("HTTP 404");
        QTest::newRow("version differs from the bundle") << QStringLiteral("version") << QStringLiteral("the bundle is version");
        QTest::newRow("not http") << QStringLiteral("url") << QStringLiteral("http(s)");
    }
    void refusals()
    {
        QFETCH(QString, fault);
        QFETCH(QString, expected);
        ReleaseAvailable r = publish(QStringLiteral("3.0.0"), m_key);
        QVERIFY(r.size > 0);
        if (fault == QLatin1String("tamper")) {
            QByteArray bytes = m_bundles.value(QStringLiteral("3.0.0"));
            bytes[bytes.size() / 2] = char(bytes[bytes.size() / 2] ^ 0x40);
            m_bundles.insert(QStringLiteral("3.0.0"), bytes);
            r.sha256 = QCryptographicHash::hash(bytes, QCryptographicHash::Sha256); // the download itself is "right"
        } else if (fault == QLatin1String("sha")) {
            r.sha256 = QByteArray(32, '\0');
        } else if (fault == QLatin1String("size")) {
            r.size -= 10;
        } else if (fault == QLatin1String("key")) {
            r = publish(QStringLiteral("3.0.0"), payload::SigningKey::generate());
        } else if (fault == QLatin1String("404")) {
            r.url += QStringLiteral("-gone");
        } else if (fault == QLatin1String("version")) {
            const ReleaseAvailable other = publish(QStringLiteral("3.0.1"), m_key);
            r.url = other.url;
            r.sha256 = other.sha256;
            r.size = other.size;
        } else if (fault == QLatin1String("url")) {
            r.url = QStringLiteral("file:///etc/passwd");
        }
        UpdateInstaller installer(config(), &m_store);
        const auto [ok, text] = installAndWait(installer, r);
        QVERIFY(!ok);
        QVERIFY2(text.contains(expected), qPrintable(text));
        QVERIFY(installer.pendingVersion().isEmpty());
        QVERIFY(installer.currentVersion().isEmpty());
        QVERIFY(slotDirs(installer).isEmpty()); // nothing half-installed left behind
        QVERIFY(!installer.isBusy());
        // The installer is usable again after a refusal.
        QVERIFY(installAndWait(installer, publish(QStringLiteral("3.1.0"), m_key)).first);
    }

    void installReleaseCommandOverTheLink()
    {
        FakeControlServer server;
        QVERIFY(server.listen());
        BoxLinkConfig c;
        c.serverUrl = server.url();
        c.serial = QStringLiteral("BOX1");
        c.telemetryMs = -1;
        MemoryCredentialStore store;
        BoxLink link(c, &store);
        UpdateInstaller installer(config(), &store);
        installer.attach(&link);
        struct Handler : CommandHandler
        {
            UpdateInstaller *installer;
            void execute(const Command &command, const CommandReply &reply) override
            {
                installer->execute(command, reply);
            }
        } handler;
        handler.installer = &installer;
        link.setCommandHandler(&handler);
        link.start();
        QTRY_COMPARE_WITH_TIMEOUT(link.state(), BoxLink::State::Online, WaitMs);

        Command install;
        install.commandId = 77;
        install.kind = CommandKind::InstallRelease;
        install.args = publish(QStringLiteral("4.0.0"), m_key).toBody();
        QVERIFY(server.sendCommand(QStringLiteral("BOX1"), install));
        QTRY_COMPARE_WITH_TIMEOUT(server.count(MessageType::Result), 1, WaitMs);
        const auto result = CommandResult::fromBody(server.ofType(MessageType::Result).first().body, nullptr);
        QVERIFY2(result->ok, qPrintable(result->text));
        QCOMPARE(result->commandId, quint64(77));
        // The token the server issued was the download's Bearer.
        QCOMPARE(m_authorizations.last(),
                 "Bearer " + store.token().toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));

        QVERIFY(installer.commit());

        // A release announcement installs too, and commit/rollback are reported as events.
        server.send(*server.sessionFor(QStringLiteral("BOX1")), MessageType::ReleaseAvailable,
                    publish(QStringLiteral("4.1.0"), m_key).toBody());
        QTRY_COMPARE_WITH_TIMEOUT(installer.pendingVersion(), QStringLiteral("4.1.0"), WaitMs);
        QVERIFY(installer.commit());
        QVERIFY(installer.rollback(QStringLiteral("health check failed later")));
        QCOMPARE(installer.currentVersion(), QStringLiteral("4.0.0"));
        QStringList phases;
        QTRY_VERIFY_WITH_TIMEOUT(server.count(MessageType::Event) >= 7, WaitMs);
        for (const Message &m : server.ofType(MessageType::Event))
            phases << BoxEvent::fromBody(m.body, nullptr)->data.value(QLatin1String("phase")).toString();
        QCOMPARE(phases, (QStringList{QStringLiteral("started"), QStringLiteral("installed"), QStringLiteral("committed"),
                                      QStringLiteral("started"), QStringLiteral("installed"), QStringLiteral("committed"),
                                      QStringLiteral("rolled-back")}));

        // Offered again what it runs for good (its first "committed" lost in a restart): it says
        // "committed" for that rollout, without a download, or the rollout would wait in vain.
        const qsizetype downloads = m_authorizations.size();
        ReleaseAvailable again = publish(QStringLiteral("4.0.0"), m_key);
        again.rolloutId = 9;
        server.send(*server.sessionFor(QStringLiteral("BOX1")), MessageType::ReleaseAvailable, again.toBody());
        QTRY_COMPARE_WITH_TIMEOUT(server.count(MessageType::Event), 8, WaitMs);
        const auto last = BoxEvent::fromBody(server.ofType(MessageType::Event).last().body, nullptr);
        QCOMPARE(last->data.value(QLatin1String("phase")).toString(), QStringLiteral("committed"));
        QCOMPARE(last->data.value(QLatin1String("version")).toString(), QStringLiteral("4.0.0"));
        QCOMPARE(last->data.value(QLatin1String("rollout")).toInteger(), 9);
        QCOMPARE(m_authorizations.size(), downloads);
    }
};

QTEST_GUILESS_MAIN(TestUpdateInstaller)
#include "tst_updateinstaller.moc"
