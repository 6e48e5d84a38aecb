// The lean WebSocket client pool against both servers it meets: libs/wsserver's own and Qt's
// QWebSocketServer (interoperability: masking, pings from the server, close codes). Also what a
// load generator runs into: refused connections, HTTP refusals with Retry-After, a server that
// closes or drops, letting go of connections that are still connecting, and a thousand at once.
#include "echoserver.h"

#include <wsserver/wsclient.h>
#include <wsserver/wsserver.h>

#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketServer>

#include <memory>
#include <vector>

using namespace Qt::StringLiterals;
using iptv::ws::ClientHandler;
using iptv::ws::ClientPool;
using iptv::ws::ConnectionId;
using iptv::ws::Server;

namespace {

/// Records every callback; closes or answers from inside them when told to.
struct Recorder final : ClientHandler
{
    ClientPool *pool = nullptr;
    int connected = 0;
    QList<QByteArray> messages;
    QList<bool> texts;
    int closed = 0;
    quint16 closeCode = 0;
    QString closeReason;
    bool closeOnFirstMessage = false;
    bool answerGoWithThree = false;

    void wsConnected(ConnectionId) override { ++connected; }
    void wsMessage(ConnectionId id, const QByteArray &message, bool text) override
    {
        messages.append(message);
        texts.append(text);
        if (closeOnFirstMessage)
            pool->close(id, 4002, "enough");
        if (answerGoWithThree && message == "go") {
            pool->sendBinary(id, "one");
            pool->sendBinary(id, "two");
            pool->sendText(id, "three");
        }
    }
    void wsClosed(ConnectionId, quint16 code, const QString &reason) override
    {
        ++closed;
        closeCode = code;
        closeReason = reason;
    }
};

} // namespace

class TstWsClient : public QObject
{
    Q_OBJECT

    static std::unique_ptr<Server> echoServer() { return wstest::echoServer(); }
    static QUrl url(quint16 port, const QString &path = u"/box"_s) { return wstest::boxUrl(port, path); }

private Q_SLOTS:
    void echoAgainstOwnServer()
    {
        auto server = echoServer();
        QSignalSpy serverClosed(server.get(), &Server::disconnected);
        ClientPool pool;
        Recorder r;
        r.pool = &pool;
        const ConnectionId id = pool.open(url(server->serverPort()), &r);
        QVERIFY(id != 0);
        QCOMPARE(r.connected, 0); // never from inside open()
        QTRY_COMPARE(r.connected, 1);
        QVERIFY(pool.isOpen(id));
        QVERIFY(pool.sendBinary(id, "\x01\x02\x03"));
        QVERIFY(pool.sendText(id, "héllo"_ba));
        const QByteArray big(200 * 1024, 'b'); // 64-bit length, many reads
        QVERIFY(pool.sendBinary(id, big));
        QTRY_COMPARE(r.messages.size(), 3);
        QCOMPARE(r.messages.at(0), QByteArray("\x01\x02\x03"));
        QCOMPARE(r.texts.at(0), false);
        QCOMPARE(r.messages.at(1), "héllo"_ba);
        QCOMPARE(r.texts.at(1), true);
        QCOMPARE(r.messages.at(2), big);

        // Closing from our side: the server sees our code, the handler hears nothing more.
        pool.close(id, 4003, "done");
        QVERIFY(serverClosed.wait(5000));
        QCOMPARE(serverClosed.first().at(1).toInt(), 4003);
        QCOMPARE(r.closed, 0);
        QTRY_COMPARE(pool.connectionCount(), 0);
    }

    void serverClosesAndDrops()
    {
        auto server = echoServer();
        ClientPool pool;
        Recorder closing, dropped;
        const ConnectionId a = pool.open(url(server->serverPort()), &closing);
        const ConnectionId b = pool.open(url(server->serverPort()), &dropped);
        QTRY_VERIFY(closing.connected == 1 && dropped.connected == 1);
        pool.sendBinary(a, "close-me");
        pool.sendBinary(b, "abort-me");
        QTRY_COMPARE(closing.closed, 1);
        QCOMPARE(closing.closeCode, quint16(4001));
        QVERIFY2(closing.closeReason.contains(u"asked to"_s), qPrintable(closing.closeReason));
        QTRY_COMPARE(dropped.closed, 1);
        QCOMPARE(dropped.closeCode, quint16(iptv::ws::CloseAbnormal));
        QVERIFY2(dropped.closeReason.contains(u"without a close frame"_s), qPrintable(dropped.closeReason));
        QVERIFY(!pool.sendBinary(a, "x"));
        QCOMPARE(pool.connectionCount(), 0);
    }

    void interoperatesWithQWebSocketServer()
    {
        QWebSocketServer server(u"qt"_s, QWebSocketServer::NonSecureMode);
        QVERIFY(server.listen(QHostAddress::LocalHost));
        std::unique_ptr<QWebSocket> peer;
        connect(&server, &QWebSocketServer::newConnection, this, [&] {
            peer.reset(server.nextPendingConnection());
            connect(peer.get(), &QWebSocket::binaryMessageReceived, peer.get(),
                    [&peer](const QByteArray &m) { peer->sendBinaryMessage(m + "!"); });
        });
        ClientPool pool;
        Recorder r;
        r.pool = &pool;
        const ConnectionId id = pool.open(url(server.serverPort(), u"/any?x=1"_s), &r);
        QTRY_COMPARE(r.connected, 1);
        QVERIFY(peer);
        QCOMPARE(peer->requestUrl().query(), u"x=1"_s);
        QSignalSpy pong(peer.get(), &QWebSocket::pong);
        peer->ping("are you there");
        QVERIFY(pong.wait(5000)); // the pool answers pings itself
        QCOMPARE(pong.first().at(1).toByteArray(), QByteArray("are you there"));
        pool.sendBinary(id, "masked");
        QTRY_COMPARE(r.messages.size(), 1);
        QCOMPARE(r.messages.first(), QByteArray("masked!"));

        // Qt closes with a code; the handler sees it and the reason.
        QSignalSpy peerGone(peer.get(), &QWebSocket::disconnected);
        peer->close(QWebSocketProtocol::CloseCodePolicyViolated, u"go away"_s);
        QTRY_COMPARE(r.closed, 1);
        QCOMPARE(r.closeCode, quint16(1008));
        QVERIFY2(r.closeReason.contains(u"go away"_s), qPrintable(r.closeReason));
        QTRY_COMPARE(peerGone.count(), 1);
    }

    void failuresArriveAsClosed()
    {
        ClientPool pool;
        // Nothing listens on a port we just held and released.
        quint16 port = 0;
        {
            QTcpServer probe;
            QVERIFY(probe.listen(QHostAddress::LocalHost));
            port = probe.serverPort();
        }
        Recorder refused, tls, cancelled;
        pool.open(url(port), &refused);
        pool.open(QUrl(u"wss://127.0.0.1:1/box"_s), &tls);
        const ConnectionId gone = pool.open(QUrl(u"wss://127.0.0.1:1/box"_s), &cancelled);
        pool.abort(gone); // let go of before its failure was delivered: no callback
        QCOMPARE(refused.closed + tls.closed, 0);
        QTRY_COMPARE(refused.closed, 1);
        QVERIFY2(refused.closeReason.contains(u"refused"_s), qPrintable(refused.closeReason));
        QTRY_COMPARE(tls.closed, 1);
        QVERIFY2(tls.closeReason.contains(u"TLS"_s), qPrintable(tls.closeReason));
        QCOMPARE(cancelled.closed, 0);
    }

    void httpRefusalIsReported()
    {
        // Admission control answers 503 before the upgrade; the pool says so, with Retry-After.
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost));
        connect(&server, &QTcpServer::newConnection, this, [&server] {
            QTcpSocket *s = server.nextPendingConnection();
            connect(s, &QTcpSocket::readyRead, s, [s] {
                s->readAll();
                s->write("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n");
                s->disconnectFromHost();
            });
        });
        ClientPool pool;
        Recorder r;
        pool.open(url(server.serverPort()), &r);
        QTRY_COMPARE(r.closed, 1);
        QCOMPARE(r.connected, 0);
        QVERIFY2(r.closeReason.contains(u"503"_s) && r.closeReason.contains(u"retry after 3 s"_s), qPrintable(r.closeReason));
    }

    void closeFromInsideACallback()
    {
        auto server = echoServer();
        ClientPool pool;
        Recorder r;
        r.pool = &pool;
        r.closeOnFirstMessage = true;
        const ConnectionId id = pool.open(url(server->serverPort()), &r);
        QTRY_COMPARE(r.connected, 1);
        // Two messages in one write: the second arrives in the same read, after the close.
        pool.sendBinary(id, "one");
        pool.sendBinary(id, "two");
        QSignalSpy serverClosed(server.get(), &Server::disconnected);
        QVERIFY(serverClosed.wait(5000));
        QCOMPARE(serverClosed.first().at(1).toInt(), 4002);
        QCOMPARE(r.messages.size(), 1);
        QCOMPARE(r.closed, 0);
    }

    void sendsFromInsideACallbackLeaveTogether()
    {
        // Messages sent from a callback wait for the end of the dispatch and go in one write;
        // the server still sees each, in order.
        auto server = echoServer();
        QSignalSpy received(server.get(), &Server::messageReceived);
        ClientPool pool;
        Recorder r;
        r.pool = &pool;
        r.answerGoWithThree = true;
        const ConnectionId id = pool.open(url(server->serverPort()), &r);
        QTRY_COMPARE(r.connected, 1);
        pool.sendBinary(id, "go");
        QTRY_COMPARE(r.messages.size(), 4);
        QCOMPARE(r.messages, (QList<QByteArray>{"go", "one", "two", "three"}));
        QCOMPARE(r.texts.last(), true);
        QCOMPARE(received.count(), 4);
    }

    void abortWhileConnecting()
    {
        auto server = echoServer();
        ClientPool pool;
        Recorder r;
        const ConnectionId id = pool.open(url(server->serverPort()), &r);
        pool.abort(id);
        QCOMPARE(pool.connectionCount(), 0);
        // The server may or may not have seen the connection; the handler hears nothing either way.
        Recorder later;
        pool.open(url(server->serverPort()), &later);
        QTRY_COMPARE(later.connected, 1);
        QCOMPARE(r.connected + r.closed, 0);
    }

    void aThousandAtOnce()
    {
        auto server = echoServer();
        ClientPool pool;
        constexpr int n = 1000;
        std::vector<Recorder> recorders(n);
        std::vector<ConnectionId> ids;
        for (Recorder &r : recorders)
            ids.push_back(pool.open(url(server->serverPort()), &r));
        const auto all = [&](auto pred) { return std::all_of(recorders.begin(), recorders.end(), pred); };
        QTRY_VERIFY_WITH_TIMEOUT(all([](const Recorder &r) { return r.connected == 1; }), 20000);
        QCOMPARE(server->connectionCount(), n);
        for (int i = 0; i < n; ++i)
            pool.sendBinary(ids[size_t(i)], QByteArray::number(i));
        QTRY_VERIFY_WITH_TIMEOUT(all([](const Recorder &r) { return r.messages.size() == 1; }), 20000);
        for (int i = 0; i < n; ++i)
            QCOMPARE(recorders[size_t(i)].messages.first(), QByteArray::number(i));
        server->closeAll();
        QTRY_VERIFY_WITH_TIMEOUT(all([](const Recorder &r) { return r.closed == 1 && r.closeCode == 1001; }), 20000);
        QCOMPARE(pool.connectionCount(), 0);
    }
};

QTEST_GUILESS_MAIN(TstWsClient)
#include "tst_wsclient.moc"
