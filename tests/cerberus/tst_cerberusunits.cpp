// Small pieces of Cerberus without a server: Permissions by role, command targets and which
// commands need confirmation, the dashboard's summary and alerts, and JsonTableModel's upserts
// (only the changed row signals, no resets).

#include <cerberus/commandcontroller.h>
#include <cerberus/controlclient.h>
#include <cerberus/dashboardmodel.h>
#include <cerberus/jsontablemodel.h>
#include <cerberus/permissions.h>
#include <cerberus/stallmonitor.h>

#include <QDateTime>
#include <QElapsedTimer>

#include <QAbstractItemModelTester>
#include <QJsonArray>
#include <QSignalSpy>
#include <QTest>

using namespace iptv::cerberus;

class TestCerberusUnits : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void permissions_data()
    {
        QTest::addColumn<QString>("role");
        QTest::addColumn<bool>("view");
        QTest::addColumn<bool>("command");
        QTest::addColumn<bool>("releases");
        QTest::addColumn<bool>("admin");
        QTest::newRow("none") << QString() << false << false << false << false;
        QTest::newRow("unknown") << u"root"_qs << false << false << false << false;
        QTest::newRow("viewer") << u"viewer"_qs << true << false << false << false;
        QTest::newRow("operator") << u"operator"_qs << true << true << false << false;
        QTest::newRow("admin") << u"admin"_qs << true << true << true << true;
    }

    void permissions()
    {
        QFETCH(QString, role);
        QFETCH(bool, view);
        QFETCH(bool, command);
        QFETCH(bool, releases);
        QFETCH(bool, admin);
        Permissions p;
        QSignalSpy changed(&p, &Permissions::changed);
        p.setRole(role);
        QCOMPARE(changed.count(), p.level() == Permissions::Role::None ? 0 : 1);
        QCOMPARE(p.canView(), view);
        QCOMPARE(p.canCommand(), command);
        QCOMPARE(p.canFactoryReset(), command);
        QCOMPARE(p.canApprove(), command);
        QCOMPARE(p.canManageReleases(), releases);
        QCOMPARE(p.canAdminister(), admin);
        p.setRole({});
        QVERIFY(!p.canView());
    }

    void commandTargets()
    {
        QCOMPARE(CommandTarget::box(12).toJson(), (QJsonObject{{u"box"_qs, u"b-12"_qs}}));
        QCOMPARE(CommandTarget::selection({3, 4}).toJson(), (QJsonObject{{u"boxes"_qs, QJsonArray{u"b-3"_qs, u"b-4"_qs}}}));
        QCOMPARE(CommandTarget::selection({5}).kind, CommandTarget::Kind::Box);
        const auto f = CommandTarget::fleetFilter({{u"model"_qs, u"X"_qs}}, u"model X"_qs, 40);
        QCOMPARE(f.toJson(), (QJsonObject{{u"filter"_qs, QJsonObject{{u"model"_qs, u"X"_qs}}}}));
        QCOMPARE(CommandTarget::fleetFilter({}, u"all"_qs, 9).toJson(), (QJsonObject{{u"all"_qs, true}}));
        using K = CommandController::Kind;
        QVERIFY(CommandController::needsConfirmation(K::FactoryReset, CommandTarget::box(1)));
        QVERIFY(!CommandController::needsConfirmation(K::Reboot, CommandTarget::box(1)));
        QVERIFY(CommandController::needsConfirmation(K::Reboot, CommandTarget::selection({1, 2})));
        QVERIFY(CommandController::needsConfirmation(K::Message, f));
        QVERIFY(!CommandController::needsConfirmation(K::Screenshot, f));
        QCOMPARE(ControlClient::parseBoxId(QJsonValue(u"b-42"_qs)), 42);
        QCOMPARE(ControlClient::parseBoxId(QJsonValue(42)), 42);
        QCOMPARE(ControlClient::parseBoxId(QJsonValue(u"nope"_qs)), 0);
    }

    void dashboard()
    {
        DashboardModel d;
        QAbstractItemModelTester tester(d.alerts(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy changed(&d, &DashboardModel::changed);
        d.applySummary({{u"boxes"_qs, 100}, {u"online"_qs, 90}, {u"pending"_qs, 2}, {u"errorRate"_qs, 0.05},
                        {u"versions"_qs, QJsonObject{{u"clean"_qs, QJsonObject{{u"1.0"_qs, 80}, {u"1.1"_qs, 10}}},
                                                     {u"experimental"_qs, QJsonObject{{u"2.0"_qs, 10}}}}}});
        QCOMPARE(changed.count(), 1);
        QCOMPARE(d.online(), 90);
        QCOMPARE(d.versionsByChannel().value(u"clean"_qs).value(u"1.1"_qs), 10);
        QCOMPARE(d.onlineHistory().size(), 1);
        QCOMPARE(d.errorRateHistory().first().y(), 5.0);

        d.noteOffline({7}, 1);
        d.noteOffline({7}, 1); // same subject: replaced, not repeated
        QCOMPARE(d.alerts()->rowCount(), 1);
        d.noteOffline({}, 500);  // a storm is one alert
        QCOMPARE(d.alerts()->rowCount(), 2);
        QCOMPARE(d.alerts()->at(0).severity, AlertModel::Critical);
        d.noteTemperature(3, u"SN-3"_qs, 91);
        QVERIFY(d.alerts()->at(0).text.contains(u"SN-3"));
        d.noteRollout({{u"id"_qs, u"4"_qs}, {u"state"_qs, u"running"_qs}});
        QCOMPARE(d.alerts()->rowCount(), 3);
        d.noteRollout({{u"id"_qs, u"4"_qs}, {u"state"_qs, u"halted"_qs}, {u"version"_qs, u"2.0"_qs}, {u"reason"_qs, u"errors 3/40"_qs}});
        QCOMPARE(d.alerts()->rowCount(), 4);
        QCOMPARE(d.alerts()->at(0).kind, u"rollout-halted"_qs);
        QVERIFY(d.alerts()->at(0).text.contains(u"errors 3/40"));
        QCOMPARE(d.alerts()->countOf(AlertModel::Critical), 3);
        d.alerts()->dismiss(0);
        QCOMPARE(d.alerts()->rowCount(), 3);
    }

    void stallMonitor()
    {
        StallMonitor m(5);
        m.start();
        QTRY_VERIFY(m.samples() >= 3);
        // Hold the loop for 60 ms: one tick is at least that late.
        QElapsedTimer busy;
        busy.start();
        while (busy.elapsed() < 60) {
        }
        const int before = m.samples();
        QTRY_VERIFY(m.samples() > before);
        QVERIFY2(m.maxMs() >= 50, qPrintable(m.summary()));
        QVERIFY(m.percentile(0.5) <= m.maxMs());
        m.stop();
        m.reset();
        QCOMPARE(m.samples(), 0);
    }

    void jsonTableUpserts()
    {
        JsonTableModel m(u"id"_qs, {{u"id"_qs, u"Id"_qs}, {u"state"_qs, u"State"_qs}, {u"time"_qs, u"Time"_qs,
                                     [](const QJsonObject &o) { return JsonTableModel::formatTime(o.value(u"time").toInteger()); }}});
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
        QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
        m.setRows({{{u"id"_qs, 1}, {u"state"_qs, u"queued"_qs}}, {{u"id"_qs, 2}, {u"state"_qs, u"queued"_qs}}});
        QCOMPARE(m.rowCount(), 2);
        m.upsert({{u"id"_qs, 2}, {u"state"_qs, u"succeeded"_qs}});
        QCOMPARE(changed.count(), 1);
        QCOMPARE(changed.first().at(0).value<QModelIndex>().row(), 1);
        QCOMPARE(m.index(1, 1).data().toString(), u"succeeded"_qs);
        m.upsert({{u"id"_qs, 2}, {u"state"_qs, u"succeeded"_qs}}); // unchanged: silent
        QCOMPARE(changed.count(), 1);
        m.upsert({{u"id"_qs, 3}, {u"state"_qs, u"queued"_qs}}, true);
        QCOMPARE(m.rowOf(3), 0);
        QCOMPARE(m.rowOf(1), 1);
        m.setRows({{{u"id"_qs, 3}, {u"state"_qs, u"delivered"_qs}}, {{u"id"_qs, 1}, {u"state"_qs, u"queued"_qs}}});
        QCOMPARE(m.rowCount(), 2);
        QCOMPARE(m.rowOf(2), -1);
        QCOMPARE(m.index(m.rowOf(3), 1).data().toString(), u"delivered"_qs);
        m.trim(1);
        QCOMPARE(m.rowCount(), 1);
        QCOMPARE(reset.count(), 0);
        QVERIFY(JsonTableModel::formatTime(0).isEmpty());
        QCOMPARE(JsonTableModel::formatTime(86400 * 365).left(4), u"1971"_qs);
        QCOMPARE(JsonTableModel::formatTime(1764000000000LL).left(4), u"2025"_qs); // milliseconds
        QCOMPARE(JsonTableModel::formatTime(QDateTime::currentSecsSinceEpoch()).size(), 8); // today: HH:mm:ss
    }
};

QTEST_GUILESS_MAIN(TestCerberusUnits)
#include "tst_cerberusunits.moc"
