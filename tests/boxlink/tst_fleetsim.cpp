// fleetsim against the in-process protocol server: a small fleet comes online, answers simulated
// commands (screenshot as a real PNG, logs, reboot = reconnect), survives a storm, installs with
// injected failures, and runs as child processes whose counters the parent adds up.

#include "fakecontrolserver.h"

#include <fleet.h>
#include <runner.h>

#include <QJsonArray>
#include <QSignalSpy>
#include <QTest>

using namespace iptv::fleetsim;
using namespace iptv::protocol;

namespace {
constexpr int WaitMs = 20000;
}

class TestFleetsim : public QObject
{
    Q_OBJECT

private:
    RunOptions options(int boxes) const
    {
        RunOptions o;
        o.fleet.server = m_server->url();
        o.fleet.boxes = boxes;
        o.fleet.backoffBaseMs = 50;
        o.fleet.backoffCapMs = 500;
        o.fleet.rebootDelayMs = 50;
        o.quiet = true;
        o.json = true;
        o.childProgram = QStringLiteral(IPTV_BINARY_DIR "/tools/fleetsim/fleetsim");
        return o;
    }
    QJsonObject run(FleetRunner &runner)
    {
        QSignalSpy finished(&runner, &FleetRunner::finished);
        runner.start();
        if (!finished.wait(WaitMs))
            return {};
        return runner.report();
    }

    std::unique_ptr<FakeControlServer> m_server;
    QString m_outText, m_errText;

private Q_SLOTS:
    void init()
    {
        m_server = std::make_unique<FakeControlServer>();
        QVERIFY(m_server->listen());
        m_outText.clear();
        m_errText.clear();
    }
    void cleanup() { m_server.reset(); }

    void parsesArguments_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("error");
        QTest::newRow("defaults") << QStringList{} << QString();
        QTest::newRow("all") << QStringList{QStringLiteral("--boxes"), QStringLiteral("19000"), QStringLiteral("--processes"),
                                            QStringLiteral("4"), QStringLiteral("--telemetry-interval"), QStringLiteral("0.1"),
                                            QStringLiteral("--storm"), QStringLiteral("--install-fail-percent"), QStringLiteral("2")}
                             << QString();
        QTest::newRow("bad url") << QStringList{QStringLiteral("--server"), QStringLiteral("http://x/")} << QStringLiteral("ws://");
        QTest::newRow("bad number") << QStringList{QStringLiteral("--boxes"), QStringLiteral("many")} << QStringLiteral("--boxes");
        QTest::newRow("percent over 100") << QStringList{QStringLiteral("--install-fail-percent"), QStringLiteral("101")}
                                          << QStringLiteral("install-fail-percent");
        QTest::newRow("more processes than boxes") << QStringList{QStringLiteral("--boxes"), QStringLiteral("2"),
                                                                  QStringLiteral("--processes"), QStringLiteral("3")}
                                                   << QStringLiteral("--processes");
        QTest::newRow("bad install mode") << QStringList{QStringLiteral("--install-mode"), QStringLiteral("full")}
                                          << QStringLiteral("install-mode");
        QTest::newRow("stray argument") << QStringList{QStringLiteral("extra")} << QStringLiteral("extra");
    }
    void parsesArguments()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, error);
        RunOptions o;
        QString why, text;
        const bool ok = parseArguments(QStringList{QStringLiteral("fleetsim")} + args, &o, &why, &text);
        QCOMPARE(ok, error.isEmpty());
        if (!ok)
            QVERIFY2(why.contains(error), qPrintable(why));
        // A child gets arguments that parse to the same settings for its share.
        if (ok) {
            RunOptions c;
            QVERIFY(parseArguments(QStringList{QStringLiteral("fleetsim")} + childArguments(o, 100, 10, 1), &c, &why, &text));
            QVERIFY(c.child);
            QCOMPARE(c.fleet.boxes, 10);
            QCOMPARE(c.fleet.first, 100);
            QCOMPARE(c.fleet.telemetryInterval, o.fleet.telemetryInterval);
            QCOMPARE(c.fleet.installFailPercent, o.fleet.installFailPercent);
            QCOMPARE(c.fleet.seed, o.fleet.seed); // same boxes whatever the split
        }
    }

    void helpNamesTheProgram()
    {
        // Run from a build directory, the usage line still names the program, not its path.
        RunOptions o;
        QString why, text;
        QVERIFY(!parseArguments({QStringLiteral("build/dev/tools/fleetsim/fleetsim"), QStringLiteral("--help")}, &o, &why, &text));
        QVERIFY(why.isEmpty());
        QVERIFY2(text.startsWith(u"Usage: fleetsim [options]"), qPrintable(text));
    }

    void fleetComesOnline()
    {
        QTextStream out(&m_outText), err(&m_errText);
        RunOptions o = options(60);
        o.exitWhenOnline = true;
        FleetRunner runner(o, out, err);
        const QJsonObject r = run(runner);
        QCOMPARE(r.value(QLatin1String("online")).toInt(), 60);
        QVERIFY(r.value(QLatin1String("allOnlineSeconds")).isDouble());
        QCOMPARE(m_server->secrets.size(), 60);
        QVERIFY(m_server->secrets.contains(QStringLiteral("SIM000059")));
        QVERIFY(m_server->replayErrors.isEmpty());
        QVERIFY(r.value(QLatin1String("clientKbPerBox")).toDouble() > 0);
        QVERIFY(m_outText.contains(QStringLiteral("\"allOnlineSeconds\"")));
    }

    void simulatedCommandsAndTelemetry()
    {
        QTextStream out(&m_outText), err(&m_errText);
        RunOptions o = options(5);
        o.fleet.telemetryInterval = 0.05;
        FleetRunner runner(o, out, err);
        runner.start();
        QTRY_COMPARE_WITH_TIMEOUT(m_server->onlineCount(), 5, WaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(runner.snapshot().totals.telemetryAcked >= 20, WaitMs);

        Command shot;
        shot.commandId = 1;
        shot.kind = CommandKind::Screenshot;
        QVERIFY(m_server->sendCommand(QStringLiteral("SIM000002"), shot));
        Command logs;
        logs.commandId = 2;
        logs.kind = CommandKind::CollectLogs;
        logs.args.insert(QLatin1String("lines"), 10);
        QVERIFY(m_server->sendCommand(QStringLiteral("SIM000003"), logs));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->count(MessageType::Result), 2, WaitMs);
        for (const Message &m : m_server->ofType(MessageType::Result)) {
            const auto result = CommandResult::fromBody(m.body, nullptr);
            QVERIFY(result && result->ok);
            if (result->commandId == 1) {
                QCOMPARE(result->mimeType, QStringLiteral("image/png"));
                QVERIFY(result->data.startsWith("\x89PNG\r\n\x1a\n"));
                QVERIFY(result->data.contains("IEND"));
            } else {
                QCOMPARE(result->data.count('\n'), 10);
            }
        }

        // A reboot: result first, then the box goes away and comes back by itself.
        const int hellos = int(m_server->hellos.size());
        Command reboot;
        reboot.commandId = 3;
        reboot.kind = CommandKind::Reboot;
        QVERIFY(m_server->sendCommand(QStringLiteral("SIM000004"), reboot));
        QTRY_COMPARE_WITH_TIMEOUT(int(m_server->hellos.size()), hellos + 1, WaitMs);
        QCOMPARE(m_server->hellos.last().serial, QStringLiteral("SIM000004"));
        QVERIFY(m_server->hellos.last().withToken);
        QCOMPARE(m_server->count(MessageType::Result), 3);

        // Telemetry looks like a box: plausible ranges.
        const auto t = Telemetry::fromBody(m_server->ofType(MessageType::Telemetry).last().body, nullptr);
        QVERIFY(t);
        QVERIFY(t->cpuPercent >= 0 && t->cpuPercent <= 100);
        QVERIFY(t->temperatureC > 30 && t->temperatureC < 90);
        QVERIFY(t->memoryUsedKb > 0 && t->memoryUsedKb < t->memoryTotalKb);
        QCOMPARE(t->softwareVersion, QStringLiteral("1.0.0"));
        runner.finish();
        QVERIFY(!runner.report().isEmpty());
    }

    void installsWithInjectedFailures()
    {
        QTextStream out(&m_outText), err(&m_errText);
        RunOptions o = options(40);
        o.fleet.installFailPercent = 25;
        FleetRunner runner(o, out, err);
        runner.start();
        QTRY_COMPARE_WITH_TIMEOUT(m_server->onlineCount(), 40, WaitMs);
        ReleaseAvailable release;
        release.version = QStringLiteral("1.1.0");
        release.channel = QStringLiteral("clean");
        release.rolloutId = 5;
        for (auto &[socket, s] : m_server->sessions)
            m_server->send(s, MessageType::ReleaseAvailable, release.toBody());
        QTRY_COMPARE_WITH_TIMEOUT(int(runner.snapshot().installsOk + runner.snapshot().installsFailed), 40, WaitMs);
        const FleetSnapshot s = runner.snapshot();
        QVERIFY2(s.installsFailed >= 3 && s.installsFailed <= 20, qPrintable(QString::number(s.installsFailed)));
        // Each box reported started and then committed or failed.
        int committed = 0, failed = 0;
        for (const Message &m : m_server->ofType(MessageType::Event)) {
            const auto e = BoxEvent::fromBody(m.body, nullptr);
            QCOMPARE(e->kind, QStringLiteral("install"));
            const QString phase = e->data.value(QLatin1String("phase")).toString();
            committed += phase == QLatin1String("committed");
            failed += phase == QLatin1String("failed");
        }
        QCOMPARE(committed, int(s.installsOk));
        QCOMPARE(failed, int(s.installsFailed));
        runner.finish();
    }

    void stormRecovers()
    {
        QTextStream out(&m_outText), err(&m_errText);
        RunOptions o = options(50);
        o.storm = true;
        o.stormAfterSeconds = 0;
        FleetRunner runner(o, out, err);
        const QJsonObject r = run(runner);
        QVERIFY2(r.value(QLatin1String("stormRecoverySeconds")).isDouble(), qPrintable(m_outText));
        QVERIFY(r.value(QLatin1String("connections")).toObject().value(QLatin1String("reconnects")).toDouble() >= 50);
        QTRY_COMPARE_WITH_TIMEOUT(m_server->onlineCount(), 0, WaitMs); // the runner stopped them at the end
    }

    void childProcessesAddUp()
    {
        QTextStream out(&m_outText), err(&m_errText);
        RunOptions o = options(30);
        o.processes = 3;
        o.exitWhenOnline = true;
        o.fleet.first = 1000;
        FleetRunner runner(o, out, err);
        const QJsonObject r = run(runner);
        QVERIFY2(!r.isEmpty(), qPrintable(m_errText));
        QCOMPARE(r.value(QLatin1String("boxes")).toInt(), 30);
        QVERIFY2(r.value(QLatin1String("online")).toInt() == 30, qPrintable(m_outText + m_errText));
        QCOMPARE(m_server->secrets.size(), 30);
        QVERIFY(m_server->secrets.contains(QStringLiteral("SIM001000")));
        QVERIFY(m_server->secrets.contains(QStringLiteral("SIM001029")));

        // The same fleet split differently is the same boxes: the server knows their secrets.
        RunOptions single = o;
        single.processes = 1;
        FleetRunner again(single, out, err);
        const QJsonObject r2 = run(again);
        QCOMPARE(r2.value(QLatin1String("online")).toInt(), 30);
        QCOMPARE(r2.value(QLatin1String("connections")).toObject().value(QLatin1String("serverErrors")).toDouble(), 0.0);
        QCOMPARE(m_server->secrets.size(), 30);
    }
};

QTEST_GUILESS_MAIN(TestFleetsim)
#include "tst_fleetsim.moc"
