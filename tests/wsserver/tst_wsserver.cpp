// The lean WebSocket server against Qt's QWebSocket client: upgrade, binary and text echo,
// fragmented big messages, ping, both closing directions with codes, refused upgrades,
// oversized messages, closing from inside a handler, and a thousand clients at once.
#include "echoserver.h"

#include <wsserver/wsserver.h>

#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>

#include <memory>
#include <vector>

using namespace Qt::StringLiterals;
using iptv::ws::ConnectionId;
using iptv::ws::Server;
using iptv::ws::ServerOptions;

class TstWsServer : public QObject
{
    Q_OBJECT

    std::unique_ptr<Server> start(ServerOptions options = {}) { return wstest::echoServer(options); }
    QUrl url(const Server &server, const QString &path = u"/box"_s) { return wstest::boxUrl(server.serverPort(), path); }

private Q_SLOTS:
    void echo()
    {
        auto server = start();
        QSignalSpy upgraded(server.get(), &Server::upgraded);
        QWebSocket client;
        QSignalSpy connected(&client, &QWebSocket::connected);
        QSignalSpy binary(&client, &QWebSocket::binaryMessageReceived);
        QSignalSpy text(&client, &QWebSocket::textMessageReceived);
        client.open(url(*server));
        QVERIFY(connected.wait(5000));
        QTRY_COMPARE(upgraded.count(), 1);
        const auto id = upgraded.first().at(0).value<ConnectionId>();
        QVERIFY(server->isOpen(id));
        QCOMPARE(server->peerAddress(id), QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(server->connectionCount(), 1);

        client.sendBinaryMessage(QByteArray("\x00\x01\x02", 3));
        client.sendTextMessage(u"grüße"_s);
        QTRY_COMPARE(binary.count(), 1);
        QTRY_COMPARE(text.count(), 1);
        QCOMPARE(binary.first().at(0).toByteArray(), QByteArray("\x00\x01\x02", 3));
        QCOMPARE(text.first().at(0).toString(), u"grüße"_s);

        // 300 KB in 16 KB fragments comes back whole.
        QByteArray big(300 * 1024, Qt::Uninitialized);
        for (qsizetype i = 0; i < big.size(); ++i)
            big[i] = char(i * 7);
        client.setOutgoingFrameSize(16 * 1024);
        client.sendBinaryMessage(big);
        QTRY_COMPARE(binary.count(), 2);
        QCOMPARE(binary.last().at(0).toByteArray(), big);

        QSignalSpy pong(&client, &QWebSocket::pong);
        client.ping("are you there");
        QVERIFY(pong.wait(5000));
        QCOMPARE(pong.first().at(1).toByteArray(), "are you there");
    }

    void clientCloses()
    {
        auto server = start();
        QSignalSpy gone(server.get(), &Server::disconnected);
        QWebSocket client;
        QSignalSpy connected(&client, &QWebSocket::connected);
        client.open(url(*server));
        QVERIFY(connected.wait(5000));
        client.close(QWebSocketProtocol::CloseCodeNormal, u"bye"_s);
        QVERIFY(gone.wait(5000));
        QCOMPARE(gone.first().at(1).toInt(), 1000);
        QCOMPARE(gone.first().at(2).toString(), u"bye"_s);
        QCOMPARE(server->connectionCount(), 0);
    }

    void serverCloses_data()
    {
        QTest::addColumn<QByteArray>("trigger");
        QTest::addColumn<int>("clientSees");
        QTest::newRow("close with a code") << QByteArray("close-me") << 4001;
        QTest::newRow("abort") << QByteArray("abort-me") << 0; // no close frame: Qt's client reports its default
    }
    void serverCloses()
    {
        QFETCH(QByteArray, trigger);
        QFETCH(int, clientSees);
        auto server = start();
        QSignalSpy gone(server.get(), &Server::disconnected);
        QWebSocket client;
        QSignalSpy connected(&client, &QWebSocket::connected);
        QSignalSpy closed(&client, &QWebSocket::disconnected);
        client.open(url(*server));
        QVERIFY(connected.wait(5000));
        client.sendBinaryMessage(trigger); // the server closes from inside its message handler
        QVERIFY(closed.wait(5000));
        if (clientSees)
            QCOMPARE(int(client.closeCode()), clientSees);
        QTRY_COMPARE(gone.count(), 1);
        QCOMPARE(gone.first().at(1).toInt(), clientSees ? clientSees : 1006);
        QCOMPARE(server->connectionCount(), 0);
    }

    void refusedUpgrade()
    {
        auto server = start();
        QSignalSpy refused(server.get(), &Server::handshakeFailed);
        QSignalSpy gone(server.get(), &Server::disconnected);
        QWebSocket client;
        QSignalSpy errors(&client, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error));
        client.open(url(*server, u"/elsewhere"_s));
        QTRY_VERIFY(refused.count() == 1 && errors.count() >= 1);
        QCOMPARE(refused.first().at(1).toInt(), 404);
        QTRY_COMPARE(gone.count(), 1); // every adopted connection ends with one disconnected()
        QCOMPARE(server->connectionCount(), 0);
    }

    void oversizedMessage()
    {
        ServerOptions options;
        options.maxMessageBytes = 64 * 1024;
        auto server = start(options);
        QSignalSpy gone(server.get(), &Server::disconnected);
        QWebSocket client;
        QSignalSpy connected(&client, &QWebSocket::connected);
        QSignalSpy closed(&client, &QWebSocket::disconnected);
        client.open(url(*server));
        QVERIFY(connected.wait(5000));
        client.sendBinaryMessage(QByteArray(100 * 1024, 'x'));
        QVERIFY(closed.wait(5000));
        QCOMPARE(int(client.closeCode()), 1009);
        QTRY_COMPARE(gone.count(), 1);
        QCOMPARE(gone.first().at(1).toInt(), 1009);
    }

    void thousandClients()
    {
        auto server = start();
        constexpr int n = 1000;
        std::vector<std::unique_ptr<QWebSocket>> clients;
        int echoed = 0;
        for (int i = 0; i < n; ++i) {
            auto c = std::make_unique<QWebSocket>();
            QWebSocket *raw = c.get();
            connect(raw, &QWebSocket::connected, raw, [raw, i] { raw->sendBinaryMessage(QByteArray::number(i)); });
            connect(raw, &QWebSocket::binaryMessageReceived, raw, [&echoed, i](const QByteArray &m) {
                if (m == QByteArray::number(i))
                    ++echoed;
            });
            raw->open(url(*server));
            clients.push_back(std::move(c));
        }
        QTRY_COMPARE_WITH_TIMEOUT(echoed, n, 30000);
        QCOMPARE(server->connectionCount(), n);
        QSignalSpy gone(server.get(), &Server::disconnected);
        server->closeAll();
        QTRY_COMPARE_WITH_TIMEOUT(gone.count(), n, 30000);
        for (const QList<QVariant> &args : std::as_const(gone))
            QCOMPARE(args.at(1).toInt(), 1001);
    }
};

QTEST_GUILESS_MAIN(TstWsServer)
#include "tst_wsserver.moc"
