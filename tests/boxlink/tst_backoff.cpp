// Reconnect backoff (windows, full jitter, retry-after), the shared deadline scheduler and the
// latency histogram: the arithmetic under BoxLink, deterministic with seeded generators.

#include <core/backoff.h>
#include <boxlink/deadlinescheduler.h>
#include <boxlink/latencyhistogram.h>

#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace iptv::boxlink;
using iptv::Backoff;

namespace {
struct RecordingClient : DeadlineClient
{
    QList<qint64> wakes;
    std::function<void(qint64)> onWake;
    void deadlineReached(qint64 nowMs) override
    {
        wakes.append(nowMs);
        if (onWake)
            onWake(nowMs);
    }
};
} // namespace

class TestBackoff : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void window_data()
    {
        QTest::addColumn<int>("base");
        QTest::addColumn<int>("cap");
        QTest::addColumn<int>("attempt");
        QTest::addColumn<qint64>("window");
        QTest::newRow("first") << 1000 << 60000 << 0 << qint64(1000);
        QTest::newRow("second doubles") << 1000 << 60000 << 1 << qint64(2000);
        QTest::newRow("fifth") << 1000 << 60000 << 5 << qint64(32000);
        QTest::newRow("capped") << 1000 << 60000 << 6 << qint64(60000);
        QTest::newRow("far past cap") << 1000 << 60000 << 1000 << qint64(60000);
        QTest::newRow("int overflow") << 1000 << 2000000000 << 40 << qint64(2000000000);
        QTest::newRow("cap below base") << 500 << 100 << 3 << qint64(500);
        QTest::newRow("zero base") << 0 << 10 << 2 << qint64(4);
    }
    void window()
    {
        QFETCH(int, base);
        QFETCH(int, cap);
        QFETCH(int, attempt);
        QFETCH(qint64, window);
        QCOMPARE(Backoff::windowFor(base, cap, attempt), window);
    }

    void fullJitterStaysInWindowAndCovers()
    {
        Backoff b(100, 1600, 42);
        for (int attempt = 0; attempt < 8; ++attempt) {
            const qint64 w = b.window();
            QCOMPARE(w, Backoff::windowFor(100, 1600, attempt));
            const qint64 d = b.next();
            QVERIFY2(d >= 0 && d <= w, qPrintable(QStringLiteral("%1 outside [0, %2]").arg(d).arg(w)));
        }
        // Over many draws from one window the delays cover it (that is the point of full jitter):
        // both quarters at the ends are hit and the mean is near the middle.
        Backoff wide(1000, 1000, 7);
        qint64 sum = 0, low = 0, high = 0;
        const int n = 4000;
        for (int i = 0; i < n; ++i) {
            const qint64 d = wide.next();
            sum += d;
            low += d < 250;
            high += d > 750;
        }
        QVERIFY(std::abs(double(sum) / n - 500.0) < 25.0);
        QVERIFY(low > n / 5 && high > n / 5);
    }

    void seededIsReproducible()
    {
        Backoff a(50, 5000, 1234), b(50, 5000, 1234), c(50, 5000, 4321);
        QList<qint64> da, db, dc;
        for (int i = 0; i < 10; ++i) {
            da.append(a.next());
            db.append(b.next());
            dc.append(c.next());
        }
        QCOMPARE(da, db);
        QVERIFY(da != dc);
    }

    void retryAfter_data()
    {
        QTest::addColumn<qint64>("retryAfter");
        QTest::newRow("1 s") << qint64(1000);
        QTest::newRow("30 s") << qint64(30000);
        QTest::newRow("below base") << qint64(10);
    }
    void retryAfter()
    {
        QFETCH(qint64, retryAfter);
        Backoff b(1000, 60000, 99);
        for (int i = 0; i < 200; ++i) {
            const qint64 d = b.nextAfter(retryAfter);
            QVERIFY(d >= retryAfter && d <= 2 * retryAfter);
        }
        QCOMPARE(b.attempt(), 64); // counted, and bounded
        b.reset();
        QCOMPARE(b.attempt(), 0);
        QCOMPARE(b.window(), qint64(1000));
    }

    void schedulerWakesInOrderOnce()
    {
        DeadlineScheduler s;
        RecordingClient a, b, c;
        const auto ha = s.add(&a), hb = s.add(&b), hc = s.add(&c);
        const qint64 t0 = DeadlineScheduler::now();
        QList<char> order;
        a.onWake = [&](qint64) { order.append('a'); };
        b.onWake = [&](qint64) { order.append('b'); };
        c.onWake = [&](qint64) { order.append('c'); };
        s.schedule(hc, t0 + 60);
        s.schedule(ha, t0 + 20);
        s.schedule(hb, t0 + 40);
        s.schedule(hb, t0 + 500); // later than asked: the earlier wake-up stays
        QTRY_COMPARE(order.size(), 3);
        QCOMPARE(order, (QList<char>{'a', 'b', 'c'}));
        QVERIFY(a.wakes.first() >= t0 + 20);
        QVERIFY(c.wakes.first() >= t0 + 60);
        // Nothing else is due: nobody is woken again (a probe client scheduled later proves the
        // scheduler ran past the old deadlines without calling them).
        RecordingClient probe;
        bool probed = false;
        probe.onWake = [&](qint64) { probed = true; };
        s.schedule(s.add(&probe), DeadlineScheduler::now() + 100);
        QTRY_VERIFY(probed);
        QCOMPARE(order.size(), 3);
        Q_UNUSED(ha);
    }

    void schedulerEarlierReplacesAndRemoveSilences()
    {
        DeadlineScheduler s;
        RecordingClient a, b;
        const auto ha = s.add(&a);
        const auto hb = s.add(&b);
        const qint64 t0 = DeadlineScheduler::now();
        s.schedule(ha, t0 + 10000);
        s.schedule(ha, t0 + 10); // earlier wins
        s.schedule(hb, t0 + 10);
        s.remove(hb);
        QTRY_COMPARE(a.wakes.size(), 1);
        QVERIFY(a.wakes.first() < t0 + 5000);
        QVERIFY(b.wakes.isEmpty());
        // The removed handle is reused by the next client; old entries do not wake it.
        RecordingClient c;
        const auto hc = s.add(&c);
        QCOMPARE(hc, hb);
        QCOMPARE(s.clientCount(), 2);
    }

    void schedulerClientReschedulesItself()
    {
        DeadlineScheduler s;
        RecordingClient a;
        const auto h = s.add(&a);
        a.onWake = [&](qint64 now) {
            if (a.wakes.size() < 5)
                s.schedule(h, now + 5);
        };
        s.schedule(h, DeadlineScheduler::now());
        QTRY_COMPARE(a.wakes.size(), 5);
    }

    void histogramPercentiles()
    {
        LatencyHistogram h;
        QCOMPARE(h.percentileMs(0.5), 0.0);
        for (int i = 1; i <= 1000; ++i)
            h.add(i * 100); // 0.1 .. 100 ms
        QCOMPARE(h.count(), quint64(1000));
        // Within a bucket's width (~4.4 %) of the exact values.
        QVERIFY(std::abs(h.percentileMs(0.5) - 50.0) <= 50.0 * 0.05);
        QVERIFY(std::abs(h.percentileMs(0.99) - 99.0) <= 99.0 * 0.05);
        QCOMPARE(h.maxMs(), 100.0);
        QCOMPARE(h.percentileMs(1.0), 100.0);

        const LatencyHistogram copy = LatencyHistogram::fromJson(h.toJson());
        QCOMPARE(copy.count(), h.count());
        QCOMPARE(copy.percentileMs(0.5), h.percentileMs(0.5));
        LatencyHistogram merged = copy;
        merged.merge(h);
        QCOMPARE(merged.count(), quint64(2000));
        QCOMPARE(merged.percentileMs(0.99), h.percentileMs(0.99));
    }
};

QTEST_GUILESS_MAIN(TestBackoff)
#include "tst_backoff.moc"
