// RedisClient against a real redis-server: commands and replies, pub/sub between two clients,
// and a Redis restart: both clients reconnect by themselves and the subscription is renewed.
#include "../common/redisserver.h"

#include <redis/redisclient.h>

#include <QSignalSpy>
#include <QTest>

using namespace Qt::StringLiterals;
using iptv::redis::RedisClient;
using iptv::redis::Reply;

class TstRedisClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (RedisServer::binary().isEmpty())
            QSKIP("redis-server is not installed (scripts/setup-deps.sh installs it)");
    }

    void commandsAndReplies()
    {
        RedisServer server;
        QVERIFY(server.start());
        RedisClient client;
        QSignalSpy up(&client, &RedisClient::connected);
        client.open(u"127.0.0.1"_s, server.port());
        QVERIFY(up.wait(5000));

        std::optional<Reply> set, get, bad, list;
        QVERIFY(client.command({"SET", "iptv:test", QByteArray("v\0alue", 6)}, [&](const Reply &r) { set = r; }));
        QVERIFY(client.command({"GET", "iptv:test"}, [&](const Reply &r) { get = r; }));
        QVERIFY(client.command({"NOSUCHCOMMAND"}, [&](const Reply &r) { bad = r; }));
        QVERIFY(client.command({"RPUSH", "iptv:list", "a", "b"}));
        QVERIFY(client.command({"LRANGE", "iptv:list", "0", "-1"}, [&](const Reply &r) { list = r; }));
        QTRY_VERIFY(list.has_value());
        QCOMPARE(set->type, Reply::Type::Status);
        QCOMPARE(get->string, QByteArray("v\0alue", 6)); // binary-safe
        QVERIFY(bad->isError());
        QVERIFY(bad->string.contains("unknown command"));
        QCOMPARE(list->elements.size(), 2);
        QCOMPARE(list->elements.at(1).string, "b");
    }

    void notConnected()
    {
        RedisClient client;
        QVERIFY(!client.command({"PING"}));
        QVERIFY(!client.publish("c", "m"));
    }

    void pubSubSurvivesRestart()
    {
        RedisServer server;
        QVERIFY(server.start());
        RedisClient publisher, subscriber;
        QSignalSpy pubUp(&publisher, &RedisClient::connected);
        QSignalSpy subUp(&subscriber, &RedisClient::connected);
        QSignalSpy messages(&subscriber, &RedisClient::messageReceived);
        QSignalSpy lost(&subscriber, &RedisClient::disconnected);
        subscriber.subscribe("iptv:node:a");
        publisher.open(u"127.0.0.1"_s, server.port());
        subscriber.open(u"127.0.0.1"_s, server.port());
        QTRY_VERIFY(pubUp.count() == 1 && subUp.count() == 1);

        // SUBSCRIBE is in flight right after connecting: publish until one gets through.
        QTRY_VERIFY_WITH_TIMEOUT((publisher.publish("iptv:node:a", "hello"), messages.count() > 0), 5000);
        QCOMPARE(messages.first().at(0).toByteArray(), "iptv:node:a");
        QCOMPARE(messages.first().at(1).toByteArray(), "hello");
        publisher.publish("iptv:node:b", "not for us");

        const quint16 port = server.port();
        server.stop();
        QVERIFY(lost.wait(5000));
        QVERIFY(!subscriber.isConnected());
        QVERIFY(server.start(port));
        QTRY_VERIFY_WITH_TIMEOUT(subUp.count() == 2 && pubUp.count() == 2, 15000);
        messages.clear();
        QTRY_VERIFY_WITH_TIMEOUT((publisher.publish("iptv:node:a", "again"), messages.count() > 0), 5000);
        QCOMPARE(messages.first().at(1).toByteArray(), "again");
        for (const QList<QVariant> &m : std::as_const(messages))
            QCOMPARE(m.at(0).toByteArray(), "iptv:node:a");
    }
};

QTEST_GUILESS_MAIN(TstRedisClient)
#include "tst_redisclient.moc"
