// iptv::setRealtimeThread: the calling thread gets SCHED_RR, and only it: a thread it starts
// afterwards is back on the normal policy (a server's workers must not inherit the privilege).

#include <core/threadpriority.h>

#include <QTest>

#include <sched.h>

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
};

QTEST_GUILESS_MAIN(TestThreadPriority)
#include "tst_threadpriority.moc"
