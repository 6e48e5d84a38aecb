// RedisFleetBus between two nodes on a real redis-server: a command route issued on node A
// reaches node B (not A again), so do updates, a batch of 10,000 routes arrives whole and in
// order, and a node keeps working locally while Redis is down.
#include "../common/redisserver.h"

#include "cluster/redisfleetbus.h"

#include <QSignalSpy>
#include <QTest>

using namespace Qt::StringLiterals;
using iptv::control::FleetBus;
using iptv::control::RedisFleetBus;

class TstRedisFleetBus : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (RedisServer::binary().isEmpty())
            QSKIP("redis-server is not installed (scripts/setup-deps.sh installs it)");
        QVERIFY(m_redis.start());
    }

    void routesAndUpdatesCrossNodes()
    {
        RedisFleetBus a(u"node-a"_s, u"127.0.0.1"_s, m_redis.port(), u"t1"_s);
        RedisFleetBus b(u"node-b"_s, u"127.0.0.1"_s, m_redis.port(), u"t1"_s);
        QTRY_VERIFY(a.isConnected() && b.isConnected());
        QSignalSpy routedA(&a, &FleetBus::commandRouted);
        QSignalSpy routedB(&b, &FleetBus::commandRouted);
        QSignalSpy updatesA(&a, &FleetBus::published);
        QSignalSpy updatesB(&b, &FleetBus::published);

        // The subscription is confirmed asynchronously: repeat the first route until B hears one.
        QTRY_VERIFY_WITH_TIMEOUT((a.routeCommand(7, 99), routedB.count() > 0), 5000);
        QCOMPARE(routedB.first().at(0).toLongLong(), 7);
        QCOMPARE(routedB.first().at(1).toLongLong(), 99);
        // Routes sent while waiting may still be on their way: a marker flushes them out.
        a.routeCommand(-1, -1);
        QTRY_VERIFY(routedB.last().at(0).toLongLong() == -1);
        routedB.clear();

        a.publish(u"box:7"_s, QCborMap{{u"cpu"_s, 12.5}});
        QTRY_COMPARE(updatesB.count(), 1);
        QCOMPARE(updatesB.first().at(0).toString(), u"box:7"_s);
        QCOMPARE(updatesB.first().at(1).value<QCborMap>().value(u"cpu"_s).toDouble(), 12.5);

        for (qint64 box = 1; box <= 10'000; ++box)
            a.routeCommand(box, 100'000 + box);
        QTRY_COMPARE_WITH_TIMEOUT(routedB.count(), 10'000, 10000);
        for (qsizetype i = 0; i < routedB.count(); ++i) {
            QCOMPARE(routedB.at(i).at(0).toLongLong(), i + 1);
            QCOMPARE(routedB.at(i).at(1).toLongLong(), 100'001 + i);
        }
        QCOMPARE(routedA.count(), 0); // a node never hears its own routes and updates back
        QCOMPARE(updatesA.count(), 0);
    }

    void clustersAreSeparate()
    {
        RedisFleetBus a(u"node-a"_s, u"127.0.0.1"_s, m_redis.port(), u"east"_s);
        RedisFleetBus other(u"node-x"_s, u"127.0.0.1"_s, m_redis.port(), u"west"_s);
        RedisFleetBus b(u"node-b"_s, u"127.0.0.1"_s, m_redis.port(), u"east"_s);
        QTRY_VERIFY(a.isConnected() && b.isConnected() && other.isConnected());
        QSignalSpy routedB(&b, &FleetBus::commandRouted);
        QSignalSpy routedOther(&other, &FleetBus::commandRouted);
        QTRY_VERIFY_WITH_TIMEOUT((a.routeCommand(1, 2), routedB.count() > 0), 5000);
        QCOMPARE(routedOther.count(), 0);
    }

    void redisDownStaysLocal()
    {
        RedisServer lonely;
        QVERIFY(lonely.start());
        RedisFleetBus a(u"node-a"_s, u"127.0.0.1"_s, lonely.port(), u"t2"_s);
        QSignalSpy connection(&a, &RedisFleetBus::connectionChanged);
        QTRY_VERIFY(a.isConnected());
        lonely.stop();
        QTRY_VERIFY(!a.isConnected());
        QSignalSpy updates(&a, &FleetBus::published);
        a.publish(u"fleet"_s, QCborMap{{u"online"_s, 3}});
        a.routeCommand(1, 1);
        QTRY_VERIFY(a.publishFailures() >= 2);
        QCOMPARE(updates.count(), 0);
    }

private:
    RedisServer m_redis;
};

QTEST_GUILESS_MAIN(TstRedisFleetBus)
#include "tst_redisfleetbus.moc"
