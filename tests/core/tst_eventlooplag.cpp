// iptv::EventLoopLagMonitor: a loop blocked for a known time shows in the histogram, the maximum
// and a warning that names the length; a router's registry carries it and promtool accepts it.

#include "../common/promtool.h"

#include <core/eventlooplag.h>
#include <core/httprouter.h>
#include <core/metrics.h>

#include <QElapsedTimer>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTimer>

using namespace iptv;

namespace {

/// The value of the sample line that starts with `series` (e.g. `x_bucket{le="1"}`), -1 when absent.
double sample(const QByteArray &metrics, const QByteArray &series)
{
    for (const QByteArray &line : metrics.split('\n')) {
        if (line.startsWith(QByteArray(series + ' ')))
            return line.mid(series.size() + 1).toDouble();
    }
    return -1;
}

/// Keeps the loop from running for `ms`, as a long computation on the main thread would.
void blockLoopFor(QObject *context, int ms)
{
    QTimer::singleShot(0, context, [ms] {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < ms)
            QThread::msleep(10);
    });
}

} // namespace

class TestEventLoopLag : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void aBlockedLoopIsMeasuredAndLogged()
    {
        MetricsRegistry metrics;
        EventLoopLagMonitor monitor(&metrics, QStringLiteral("test"));
        monitor.setInterval(50);
        QSignalSpy stalled(&monitor, &EventLoopLagMonitor::stalled);
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^the event loop was blocked for 1\\.[3-9] s")));
        blockLoopFor(this, 1300);
        QVERIFY(stalled.wait(10000));
        const double seconds = stalled.first().first().toDouble();
        QVERIFY2(seconds >= 1.25 && seconds < 5, qPrintable(QString::number(seconds)));
        QVERIFY(monitor.maxLagSeconds() >= 1.25);

        const QByteArray text = metrics.render();
        QVERIFY(sample(text, "test_event_loop_lag_seconds_count") >= 1);
        // The stall is above the 1 s bucket and within the 2.5 s one.
        QCOMPARE(sample(text, "test_event_loop_lag_seconds_bucket{le=\"2.5\"}")
                     - sample(text, "test_event_loop_lag_seconds_bucket{le=\"1\"}"),
                 1.0);
        QVERIFY(sample(text, "test_event_loop_lag_seconds_sum") >= 1.25);
        QVERIFY(sample(text, "test_event_loop_lag_max_seconds") >= 1.25);
    }

    void aShortDelayIsNoWarning()
    {
        MetricsRegistry metrics;
        EventLoopLagMonitor monitor(&metrics, QStringLiteral("test"));
        monitor.setInterval(20);
        QSignalSpy stalled(&monitor, &EventLoopLagMonitor::stalled);
        blockLoopFor(this, 300);
        // Measured (the maximum shows it), not warned about.
        QTRY_VERIFY_WITH_TIMEOUT(monitor.maxLagSeconds() >= 0.25, 10000);
        QCOMPARE(stalled.size(), 0);
    }

    void routerMetricsHaveTheLagAndPassPromtool()
    {
        MetricsRegistry metrics;
        http::Router router(&metrics, QStringLiteral("srv"));
        QTRY_VERIFY_WITH_TIMEOUT(sample(metrics.render(), "srv_event_loop_lag_seconds_count") >= 1, 5000);
        const QByteArray text = metrics.render();
        QVERIFY(text.contains("# TYPE srv_event_loop_lag_seconds histogram"));
        QVERIFY(text.contains("# TYPE srv_event_loop_lag_max_seconds gauge"));
        const auto problems = promtoolProblems(text);
        if (!problems)
            QSKIP("promtool is not installed (Debian package prometheus)");
        QVERIFY2(problems->isEmpty(), qPrintable(*problems));
    }
};

QTEST_GUILESS_MAIN(TestEventLoopLag)
#include "tst_eventlooplag.moc"
