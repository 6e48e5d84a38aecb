// iptv::setRealtimeThread: the calling thread gets SCHED_RR, and only it: a thread it starts
// afterwards is back on the normal policy (a server's workers must not inherit the privilege);
// iptv::threadCpuTimes: a thread's time on a core and waiting for one.

#include <core/threadpriority.h>

#include <QTest>

#include <sched.h>
#include <time.h>

#include <thread>

class TestThreadPriority : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void outOfRange()
    {
        QString error;
        QVERIFY(!iptv::setRealtimeThread(0, &error));
        QVERIFY2(error.contains(u"outside 1-99"), qPrintable(error));
        QVERIFY(!iptv::setRealtimeThread(100, &error));
    }

    void realtimeForTheCallerOnly()
    {
        // On a thread of its own: the test's thread stays as it was.
        QString error;
        bool set = false;
        int policy = -1, childPolicy = -1;
        std::thread([&] {
            set = iptv::setRealtimeThread(1, &error);
            policy = ::sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
            std::thread([&] { childPolicy = ::sched_getscheduler(0); }).join();
        }).join();
        if (!set && error.contains(u"CAP_SYS_NICE"))
            QSKIP(qPrintable(u"not permitted here: "_qs + error));
        QVERIFY2(set, qPrintable(error));
        QCOMPARE(policy, SCHED_RR);
        QCOMPARE(childPolicy, SCHED_OTHER);
        QCOMPARE(::sched_getscheduler(0), SCHED_OTHER);
    }

    void cpuTimes()
    {
        const qint64 me = iptv::currentThreadId();
        QVERIFY(me > 0);
        const auto before = iptv::threadCpuTimes(me);
        QVERIFY(before);
        // 20 ms on a core by the thread's own CPU clock, however long that takes on a busy machine.
        auto threadCpuMs = [] {
            timespec ts{};
            ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
            return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
        };
        const double start = threadCpuMs();
        volatile quint64 spin = 0;
        while (threadCpuMs() - start < 20)
            spin = spin + 1;
        const auto after = iptv::threadCpuTimes(me);
        QVERIFY(after);
        QVERIFY2(after->runningSeconds - before->runningSeconds >= 0.015,
                 qPrintable(QString::number(after->runningSeconds - before->runningSeconds)));
        QVERIFY(after->waitingSeconds >= before->waitingSeconds);
        QVERIFY(!iptv::threadCpuTimes(0));
        QVERIFY(!iptv::threadCpuTimes(std::numeric_limits<int>::max()));
    }
};

QTEST_GUILESS_MAIN(TestThreadPriority)
#include "tst_threadpriority.moc"
