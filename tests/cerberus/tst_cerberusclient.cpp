// Cerberus's controllers against a real controlserver and real fleetsim boxes (libs/boxlink),
// both started in this process on free ports: login and its errors, roles (refused in the console
// and by the server), the fleet loaded in pages and followed live (presence after a storm, box
// records pushed when telemetry or another operator changes them),
// box detail with live telemetry series, commands with their lifecycle, screenshot and log
// retrieval, release channel moves, the audit log, the dashboard, and the live connection coming
// back after a server restart.

#include <cerberus/auditcontroller.h>
#include <cerberus/boxdetailcontroller.h>
#include <cerberus/commandcontroller.h>
#include <cerberus/controlclient.h>
#include <cerberus/dashboardmodel.h>
#include <cerberus/fleetcontroller.h>
#include <cerberus/fleetmodel.h>

#include "app/controlserver.h"
#include "fleet.h"

#include <QAbstractItemModelTester>
#include <QFile>
#include <QJsonArray>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::cerberus;
using iptv::control::ControlConfig;
using iptv::control::ControlServer;

namespace {
const QString kAdminPassword = u"admin-password-1"_qs;
constexpr int kBoxes = 12;
constexpr int kWait = 15000;
} // namespace

class TestCerberusClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        m_config.bindAddress = QHostAddress::LocalHost;
        m_config.boxPort = 0;
        m_config.httpPort = 0;
        m_config.operatorWsPort = 0;
        m_config.dataDir = m_dir.path();
        m_config.autoApprove = true;
        m_config.passwordOpsLimit = 1; // Argon2id at its minimum: the test logs in several times
        m_config.passwordMemLimit = 8 * 1024 * 1024;
        m_config.telemetryHistorySeconds = 0;
        m_config.adminPasswordFile = m_dir.filePath(u"admin-password"_qs);
        QFile f(m_config.adminPasswordFile);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(kAdminPassword.toUtf8());
        f.close();
        startServer();
        // The same ports after a restart (the reconnect test).
        m_config.boxPort = m_server->boxPort();
        m_config.httpPort = m_server->httpPort();
        m_config.operatorWsPort = m_server->operatorWsPort();

        iptv::fleetsim::FleetConfig fc;
        fc.server = QUrl(QStringLiteral("ws://127.0.0.1:%1/box").arg(m_server->boxPort()));
        fc.boxes = kBoxes;
        fc.telemetryInterval = 0.3;
        fc.rebootDelayMs = 200;
        fc.backoffBaseMs = 100;
        fc.backoffCapMs = 1000;
        m_fleet = std::make_unique<iptv::fleetsim::Fleet>(fc);
        m_fleet->start();
        QTRY_COMPARE_WITH_TIMEOUT(m_server->fleet().onlineCount(), kBoxes, kWait);
    }

    void cleanupTestCase()
    {
        m_fleet.reset();
        m_server.reset();
    }

    void loginErrorsCarryTheServersCodeAndMessage()
    {
        ControlClient c;
        QSignalSpy failed(&c, &ControlClient::loginFailed);
        c.login(httpUrl(), u"admin"_qs, u"wrong"_qs);
        QVERIFY(failed.wait(kWait));
        const auto e = failed.first().at(0).value<ApiError>();
        QCOMPARE(e.status, 401);
        QCOMPARE(e.code, u"unauthorized"_qs);
        QVERIFY(!e.message.isEmpty());
        QVERIFY(!c.isLoggedIn());
        QCOMPARE(c.permissions()->level(), Permissions::Role::None);

        // Nobody listening: a transport error, said as such.
        ControlClient d;
        QSignalSpy failed2(&d, &ControlClient::loginFailed);
        d.login(QUrl(u"http://127.0.0.1:1"_qs), u"admin"_qs, kAdminPassword);
        QVERIFY(failed2.wait(kWait));
        QCOMPARE(failed2.first().at(0).value<ApiError>().code, u"network"_qs);
    }

    void rolesDecideWhatIsAllowed()
    {
        ControlClient admin;
        login(admin, u"admin"_qs, kAdminPassword);
        QCOMPARE(admin.permissions()->role(), u"admin"_qs);
        QVERIFY(admin.permissions()->canAdminister());
        QVERIFY(admin.permissions()->canCommand());
        // An admin makes a viewer.
        QSignalSpy done(&admin, &ControlClient::requestFailed);
        bool created = false;
        admin.post(u"/api/operators"_qs, {{u"account"_qs, u"vera"_qs}, {u"password"_qs, u"viewer-password-1"_qs}, {u"role"_qs, u"viewer"_qs}},
                   this, [&created](const ApiReply &r) { created = r.ok(); });
        QTRY_VERIFY_WITH_TIMEOUT(created, kWait);

        ControlClient viewer;
        login(viewer, u"vera"_qs, u"viewer-password-1"_qs);
        QCOMPARE(viewer.permissions()->role(), u"viewer"_qs);
        QVERIFY(viewer.permissions()->canView());
        QVERIFY(!viewer.permissions()->canCommand());
        QVERIFY(!viewer.permissions()->canManageReleases());
        // Refused in the console, without a request...
        CommandController commands(&viewer);
        QSignalSpy refused(&commands, &CommandController::failed);
        QVERIFY(!commands.issue(CommandController::Kind::Reboot, CommandTarget::box(1)));
        QCOMPARE(refused.count(), 1);
        QCOMPARE(refused.first().at(1).value<ApiError>().code, u"forbidden"_qs);
        // ...and by the server, whose {code, message} comes through.
        QSignalSpy serverRefused(&viewer, &ControlClient::requestFailed);
        viewer.post(u"/api/commands"_qs, {{u"kind"_qs, u"reboot"_qs}, {u"target"_qs, QJsonObject{{u"all"_qs, true}}}}, this, {});
        QVERIFY(serverRefused.wait(kWait));
        const auto e = serverRefused.first().at(1).value<ApiError>();
        QCOMPARE(e.status, 403);
        QCOMPARE(e.code, u"forbidden"_qs);
        QVERIFY2(e.message.contains(u"operator"), qPrintable(e.message));
    }

    void fleetLoadsInPagesAndFollowsPresence()
    {
        ControlClient c;
        c.setReconnectDelay(100);
        login(c, u"admin"_qs, kAdminPassword);
        FleetModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setCoalesceInterval(20);
        FleetController fleet(&c, &model);
        fleet.setPageSize(5); // three pages
        DashboardModel dashboard;
        connect(&fleet, &FleetController::summaryReceived, &dashboard, &DashboardModel::applySummary);
        connect(&fleet, &FleetController::boxesWentOffline, &dashboard, &DashboardModel::noteOffline);
        QSignalSpy loaded(&fleet, &FleetController::loaded);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        fleet.start();
        QVERIFY(loaded.wait(kWait));
        QCOMPARE(model.rowCount(), kBoxes);
        QCOMPARE(model.onlineCount(), kBoxes);
        QCOMPARE(model.index(0, FleetModel::ModelColumn).data().toString(), u"SIM-1"_qs);
        QVERIFY(model.index(0, FleetModel::SerialColumn).data().toString().startsWith(u"SIM"));
        QTRY_COMPARE_WITH_TIMEOUT(dashboard.boxes(), kBoxes, kWait);
        QTRY_VERIFY_WITH_TIMEOUT(c.isLiveConnected(), kWait);
        const int resetsAfterLoad = int(reset.count());

        // Every box drops at once: the console sees them go and come back, row by row.
        QTRY_VERIFY_WITH_TIMEOUT(c.topics().contains(u"fleet"_qs), kWait);
        m_fleet->storm();
        QTRY_VERIFY_WITH_TIMEOUT(model.onlineCount() < kBoxes, kWait);
        QTRY_COMPARE_WITH_TIMEOUT(model.onlineCount(), kBoxes, kWait);
        QCOMPARE(reset.count(), resetsAfterLoad);
        QVERIFY(dashboard.alerts()->rowCount() > 0);
        QCOMPARE(dashboard.alerts()->data(dashboard.alerts()->index(0), AlertModel::KindRole).toString(), u"box-offline"_qs);
    }

    // Changed box records come as "boxes" pushes on "fleet": the table follows telemetry (the
    // simulated boxes zap channels) and other operators' actions without re-reading the list.
    void fleetFollowsBoxPushesWithoutPolling()
    {
        ControlClient c;
        login(c, u"admin"_qs, kAdminPassword);
        FleetModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setCoalesceInterval(20);
        FleetController fleet(&c, &model);
        QSignalSpy updates(&c, &ControlClient::liveUpdate);
        QSignalSpy loaded(&fleet, &FleetController::loaded);
        fleet.start();
        QVERIFY(loaded.wait(kWait));
        QCOMPARE(model.rowCount(), kBoxes);
        // The server says it pushes box records (an empty "boxes" after the subscription): the
        // 3 s sweep slows down ten times. Stopped here, so only pushes can change the table.
        QTRY_VERIFY_WITH_TIMEOUT(fleet.serverPushesBoxes(), kWait);
        QCOMPARE(fleet.sweepInterval(), 30000);
        fleet.setSweepInterval(0);
        QCOMPARE(fleet.sweepInterval(), 0);
        auto channels = [&model] {
            QHash<qint64, QString> out;
            for (int r = 0; r < model.rowCount(); ++r)
                out.insert(model.row(r).id, model.index(r, FleetModel::CurrentChannelColumn).data().toString());
            return out;
        };
        const QHash<qint64, QString> before = channels();
        QTRY_VERIFY_WITH_TIMEOUT(channels() != before, kWait);
        auto pushedItems = [&updates] {
            qsizetype n = 0;
            for (const auto &args : std::as_const(updates)) {
                const QJsonObject u = args.at(1).toJsonObject();
                if (args.at(0).toString() == u"fleet" && u.value(u"kind").toString() == u"boxes")
                    n += u.value(u"items").toArray().size();
            }
            return n;
        };
        QVERIFY(pushedItems() > 0);
        // Only boxes whose shown fields changed, never the whole fleet in one push.
        for (const auto &args : std::as_const(updates)) {
            const QJsonObject u = args.at(1).toJsonObject();
            if (u.value(u"kind").toString() == u"boxes")
                QVERIFY(u.value(u"items").toArray().size() <= kBoxes);
        }

        // Another operator moves a box to the experimental channel; this table shows it.
        const qint64 id = model.row(model.rowCount() - 1).id;
        const int row = model.rowOf(id);
        const QString target = iptv::control::releaseChannelName(m_server->fleet().byId(id)->releaseChannel) == u"clean"
            ? u"experimental"_qs : u"clean"_qs;
        ControlClient other;
        login(other, u"admin"_qs, kAdminPassword);
        bool moved = false;
        other.put(u"/api/boxes/"_qs + ControlClient::boxIdText(id) + u"/channel"_qs, {{u"channel"_qs, target}}, this,
                  [&moved](const ApiReply &r) { moved = r.ok(); });
        QTRY_VERIFY_WITH_TIMEOUT(moved, kWait);
        QTRY_COMPARE_WITH_TIMEOUT(model.index(row, FleetModel::ReleaseChannelColumn).data().toString(), target, kWait);
    }

    void boxDetailCommandsAndRetrieval()
    {
        ControlClient c;
        login(c, u"admin"_qs, kAdminPassword);
        QTRY_VERIFY_WITH_TIMEOUT(c.isLiveConnected(), kWait);
        const qint64 id = firstBoxId();
        BoxDetailController detail(&c);
        QAbstractItemModelTester t1(detail.commands(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester t2(detail.events(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy detailChanged(&detail, &BoxDetailController::detailChanged);
        QSignalSpy sample(&detail, &BoxDetailController::sampleAppended);
        detail.setBox(id);
        QTRY_COMPARE_WITH_TIMEOUT(detail.detail().value(u"model").toString(), u"SIM-1"_qs, kWait);
        // Live telemetry (box:<id> topic) extends the chart series.
        QVERIFY(sample.wait(kWait));
        QVERIFY(!detail.series(BoxDetailController::Cpu).isEmpty());
        QVERIFY(!detail.series(BoxDetailController::Memory).isEmpty());
        QVERIFY(!detail.series(BoxDetailController::Temperature).isEmpty());

        // A reboot to this box: issued, then its state follows to succeeded in the history.
        CommandController commands(&c);
        QSignalSpy issued(&commands, &CommandController::issued);
        QVERIFY(commands.issue(CommandController::Kind::Reboot, CommandTarget::box(id)));
        QVERIFY(issued.wait(kWait));
        QCOMPARE(issued.first().at(2).toInt(), 1);
        const qint64 commandId = issued.first().at(4).value<QList<qint64>>().value(0);
        QVERIFY(commandId > 0);
        QTRY_VERIFY_WITH_TIMEOUT(detail.commands()->rowOf(commandId) >= 0, kWait);
        QTRY_COMPARE_WITH_TIMEOUT(detail.commands()->rowObject(detail.commands()->rowOf(commandId)).value(u"state").toString(),
                                  u"succeeded"_qs, kWait);

        // Screenshot and logs come back as data.
        QSignalSpy shot(&detail, &BoxDetailController::screenshotReady);
        QSignalSpy logs(&detail, &BoxDetailController::logsReady);
        QSignalSpy retrievalFailed(&detail, &BoxDetailController::retrievalFailed);
        QVERIFY(detail.requestScreenshot());
        QTRY_COMPARE_WITH_TIMEOUT(shot.count() + retrievalFailed.count(), 1, kWait);
        QVERIFY2(retrievalFailed.isEmpty(), retrievalFailed.isEmpty() ? "" : qPrintable(retrievalFailed.first().at(1).toString()));
        const QImage image = shot.first().at(1).value<QImage>();
        QVERIFY(!image.isNull());
        QVERIFY(detail.requestLogs(50));
        QTRY_COMPARE_WITH_TIMEOUT(logs.count() + retrievalFailed.count(), 1, kWait);
        QVERIFY(!logs.first().at(1).toString().isEmpty());

        // A message to a filter reaches every box of it.
        issued.clear();
        QVERIFY(commands.message(CommandTarget::fleetFilter({{u"model"_qs, u"SIM-1"_qs}}, u"SIM-1"_qs, kBoxes), u"hello"_qs));
        QVERIFY(issued.wait(kWait));
        QCOMPARE(issued.first().at(2).toInt(), kBoxes);
        // A tune without a channel is refused before any request.
        QSignalSpy failed(&commands, &CommandController::failed);
        QVERIFY(!commands.tune(CommandTarget::box(id), {}));
        QCOMPARE(failed.first().at(1).value<ApiError>().code, u"bad-request"_qs);
        // An unknown box: the server's 404 comes through.
        failed.clear();
        QVERIFY(commands.issue(CommandController::Kind::Reboot, CommandTarget::box(999999)));
        QVERIFY(failed.wait(kWait));
        QCOMPARE(failed.first().at(1).value<ApiError>().status, 404);

        // Release channel moves, a few requests at a time.
        QSignalSpy bulk(&commands, &CommandController::bulkFinished);
        QVERIFY(commands.moveToChannel({id}, u"experimental"_qs));
        QVERIFY(bulk.wait(kWait));
        QCOMPARE(bulk.first().at(2).toInt(), 0);
        QCOMPARE(iptv::control::releaseChannelName(m_server->fleet().byId(id)->releaseChannel), u"experimental"_qs);
    }

    void auditShowsTheActions()
    {
        ControlClient c;
        login(c, u"admin"_qs, kAdminPassword);
        AuditController audit(&c);
        QSignalSpy loaded(&audit, &AuditController::loaded);
        audit.refresh();
        QVERIFY(loaded.wait(kWait));
        QStringList actions;
        for (const QJsonObject &o : audit.model()->rows())
            actions.append(o.value(u"action").toString());
        QVERIFY2(actions.contains(u"login"_qs), qPrintable(actions.join(u',')));
        QVERIFY2(actions.contains(u"command.issue"_qs), qPrintable(actions.join(u',')));
        QVERIFY2(actions.contains(u"box.channel"_qs), qPrintable(actions.join(u',')));
        // Newest first.
        QVERIFY(audit.model()->rowObject(0).value(u"id").toInteger() > audit.model()->rowObject(1).value(u"id").toInteger());
    }

    void liveConnectionComesBackAfterRestart()
    {
        ControlClient c;
        c.setReconnectDelay(100);
        login(c, u"admin"_qs, kAdminPassword);
        QTRY_VERIFY_WITH_TIMEOUT(c.isLiveConnected(), kWait);
        c.addTopic(u"fleet"_qs);
        QSignalSpy resynced(&c, &ControlClient::liveResynced);
        QSignalSpy updates(&c, &ControlClient::liveUpdate);
        m_server.reset();
        QTRY_VERIFY_WITH_TIMEOUT(!c.isLiveConnected(), kWait);
        startServer();
        QVERIFY(resynced.wait(kWait));
        QVERIFY(c.isLiveConnected());
        QVERIFY(c.isLoggedIn()); // the token outlived the restart
        // Subscribed again: the server sends the fleet summary for "fleet".
        QTRY_VERIFY_WITH_TIMEOUT(!updates.isEmpty(), kWait);
        QCOMPARE(updates.last().at(0).toString(), u"fleet"_qs);
    }

private:
    void startServer()
    {
        m_server = std::make_unique<ControlServer>(m_config);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }
    QUrl httpUrl() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_server->httpPort())); }
    void login(ControlClient &c, const QString &account, const QString &password)
    {
        c.setLiveUrl(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(m_server->operatorWsPort())));
        QSignalSpy ok(&c, &ControlClient::loggedIn);
        QSignalSpy failed(&c, &ControlClient::loginFailed);
        c.login(httpUrl(), account, password);
        QTRY_VERIFY_WITH_TIMEOUT(!ok.isEmpty() || !failed.isEmpty(), kWait);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().at(0).value<ApiError>().toString()));
    }
    qint64 firstBoxId()
    {
        for (qint64 id = 1; id < 1000; ++id) {
            if (m_server->fleet().byId(id))
                return id;
        }
        return 0;
    }

    QTemporaryDir m_dir;
    ControlConfig m_config;
    std::unique_ptr<ControlServer> m_server;
    std::unique_ptr<iptv::fleetsim::Fleet> m_fleet;
};

QTEST_GUILESS_MAIN(TestCerberusClient)
#include "tst_cerberusclient.moc"
