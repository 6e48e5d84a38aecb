// Boxes whose connection ends while the server is answering them. The answer's failed write (a
// reset peer, or one that stopped reading until the outbound limit) ends the connection from
// inside the call that sends it, with callers up the stack still holding the session: it must
// stay valid until they are done (build with the asan preset to see a use after free), and the
// box's presence ends offline, reported after it was reported online.
//
// The box here is a raw TCP socket that upgrades by hand, so it can reset (SO_LINGER 0) right
// after a frame, or stop reading with a tiny receive window: everything runs on one thread, so
// the server reads the frame and the reset in the same turn and answers into the reset
// connection.

#include "testbox.h"

#include "boxes/boxgateway.h"
#include "boxes/fleet.h"

#include <wsserver/wsframe.h>

#include <QTcpSocket>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace testutil;
using namespace iptv::control;
using iptv::ws::Opcode;

class RawBox : public QObject
{
    Q_OBJECT
public:
    /// Connects and upgrades to /box; false (with a test failure message in *why) otherwise.
    /// A `receiveBuffer` set before connecting keeps the kernel from taking much for a box that
    /// does not read (the window it offers stays that small).
    bool open(quint16 port, QString *why, int receiveBuffer = 0)
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (receiveBuffer > 0)
            ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
        sockaddr_in server{};
        server.sin_family = AF_INET;
        server.sin_port = htons(port);
        server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        // Blocking is fine: the kernel completes a loopback connect from the listen backlog.
        if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr *>(&server), sizeof server) != 0
            || !m_socket.setSocketDescriptor(fd)) {
            *why = u"no connection: "_qs + QString::fromLocal8Bit(strerror(errno));
            if (fd >= 0)
                ::close(fd);
            return false;
        }
        const QByteArray key = "dGhlIHNhbXBsZSBub25jZQ==";
        const QByteArray host = "127.0.0.1:" + QByteArray::number(port);
        m_socket.write(iptv::ws::HandshakeResponse::request(host, "/box", key));
        QByteArray head;
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < 10000) {
            head += m_socket.readAll();
            const auto r = iptv::ws::HandshakeResponse::parse(head, key);
            if (r.status == iptv::ws::HandshakeResponse::Status::Ok)
                return true;
            if (r.status == iptv::ws::HandshakeResponse::Status::Bad) {
                *why = u"upgrade refused: "_qs + r.error;
                return false;
            }
            QSignalSpy readable(&m_socket, &QIODevice::readyRead);
            readable.wait(1000);
        }
        *why = u"no upgrade response within 10 s"_qs;
        return false;
    }

    /// One frame as a client sends it (masked).
    static QByteArray frame(Opcode opcode, QByteArrayView payload) { return iptv::ws::encodeFrame(opcode, payload, 0x5a17c3e1u); }
    static QByteArray frame(MessageType type, quint64 id, const QCborMap &body = {})
    {
        return frame(Opcode::Binary, encode(Message(type, id, body)));
    }
    void write(const QByteArray &frames) { m_socket.write(frames); }
    /// Throws away what the server sent so far.
    void drain() { m_socket.readAll(); }

    /// Pushes what is written to the kernel and resets the connection (RST, not FIN) before the
    /// server had a turn to read it.
    void reset()
    {
        m_socket.flush();
        const linger abortive{1, 0};
        ::setsockopt(int(m_socket.socketDescriptor()), SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
        m_socket.abort();
    }

    /// From now on nothing more is read: what the server sends fills the kernel's buffers and
    /// then waits in the server.
    void stopReading()
    {
        drain();
        m_socket.setReadBufferSize(1);
    }

private:
    QTcpSocket m_socket;
};

class TestControlDrops : public QObject
{
    Q_OBJECT

    static inline const QString kSerial = QStringLiteral("DROP-1");

    /// Records boxConnected / boxDisconnected in the order they come.
    static void recordPresence(ControlServer *server, QStringList *log)
    {
        connect(server, &ControlServer::boxConnected, server, [log](qint64 id) { log->append(u"connected "_qs + boxIdText(id)); });
        connect(server, &ControlServer::boxDisconnected, server, [log](qint64 id) { log->append(u"disconnected "_qs + boxIdText(id)); });
    }

    static QCborMap helloBody(const QString &serial)
    {
        Hello h;
        h.serial = serial;
        h.mac = u"02:00:00:00:00:02"_qs;
        h.model = u"HX-400"_qs;
        h.softwareVersion = u"2.4.1"_qs;
        h.secret = QByteArray(32, 's') + serial.toUtf8();
        return h.toBody();
    }

private Q_SLOTS:
    void resetAfterAnsweredFrame_data()
    {
        QTest::addColumn<bool>("online");      ///< through hello before the frame
        QTest::addColumn<QByteArray>("frame"); ///< answered by the server, into the reset connection
        QTest::addColumn<bool>("presence");    ///< the box was announced (and must be gone again)
        // Before hello: refused, answered with an error and closed.
        QTest::newRow("frame that is no message, before hello") << false << RawBox::frame(Opcode::Binary, "not CBOR") << false;
        QTest::newRow("text frame, before hello") << false << RawBox::frame(Opcode::Text, "hello?") << false;
        // The hello: the session is bound and the box online before its Welcome fails.
        QTest::newRow("hello") << false << RawBox::frame(MessageType::Hello, 1, helloBody(kSerial)) << true;
        // Online: an event is acknowledged, then stored for the box.
        BoxEvent event;
        event.kind = u"boot"_qs;
        event.severity = u"info"_qs;
        event.text = u"up"_qs;
        QTest::newRow("event") << true << RawBox::frame(MessageType::Event, 2, event.toBody()) << true;
    }

    void resetAfterAnsweredFrame()
    {
        QFETCH(bool, online);
        QFETCH(QByteArray, frame);
        QFETCH(bool, presence);
        QTemporaryDir dir;
        ControlConfig config = testConfig(dir);
        config.autoApprove = true;
        ControlServer server(config);
        QString error;
        QVERIFY2(server.start(&error), qPrintable(error));
        QStringList log;
        recordPresence(&server, &log);

        RawBox box;
        QVERIFY2(box.open(server.boxPort(), &error), qPrintable(error));
        QTRY_COMPARE(server.gateway()->sessionCount(), 1);
        if (online) {
            box.write(RawBox::frame(MessageType::Hello, 1, helloBody(kSerial)));
            QTRY_COMPARE(server.fleet().onlineCount(), 1);
            box.drain();
        }
        box.write(frame);
        box.reset();

        QTRY_COMPARE(server.gateway()->sessionCount(), 0);
        QTRY_COMPARE(log.size(), presence ? 2 : 0);
        QCOMPARE(server.fleet().onlineCount(), 0);
        if (presence) {
            const QString id = boxIdText(server.fleet().bySerial(kSerial)->id);
            QCOMPARE(log, QStringList({u"connected "_qs + id, u"disconnected "_qs + id}));
        }
    }

    void backlogOverOutboundLimitForBoxNotReading()
    {
        // The box comes back to more queued commands than the server holds for a box that does
        // not read (ws::ServerOptions::maxOutboundBytes, 8 MiB): delivering them after its
        // Welcome overflows, and the connection ends in the middle of that delivery.
        QTemporaryDir dir;
        ControlConfig config = testConfig(dir);
        config.autoApprove = true;
        ControlServer server(config);
        QString error;
        QVERIFY2(server.start(&error), qPrintable(error));
        const QString serial = kSerial;
        {
            RawBox first;
            QVERIFY2(first.open(server.boxPort(), &error), qPrintable(error));
            first.write(RawBox::frame(MessageType::Hello, 1, helloBody(serial)));
            QTRY_COMPARE(server.fleet().onlineCount(), 1);
            first.reset();
            QTRY_COMPARE(server.fleet().onlineCount(), 0);
        }
        const qint64 boxId = server.fleet().bySerial(serial)->id;
        constexpr int Commands = 48; // 48 x 250 KB = 12 MB: past the limit and the kernel's buffers
        const QJsonObject args{{u"text"_qs, QString(250 * 1000, u'x')}};
        for (int i = 0; i < Commands; ++i) {
            const ActionResult r = server.issueCommand({u"admin"_qs, Role::Admin},
                                                       {{u"kind"_qs, u"message"_qs},
                                                        {u"target"_qs, QJsonObject{{u"box"_qs, boxIdText(boxId)}}},
                                                        {u"args"_qs, args}});
            QVERIFY2(r.status == 201, qPrintable(r.message));
        }
        QStringList log;
        recordPresence(&server, &log);

        RawBox box;
        QVERIFY2(box.open(server.boxPort(), &error, 4096), qPrintable(error));
        box.stopReading();
        box.write(RawBox::frame(MessageType::Hello, 1, helloBody(serial)));
        // Never closed by the box: the server drops it.
        QTRY_COMPARE(log.size(), 2);
        const QString id = boxIdText(boxId);
        QCOMPARE(log, QStringList({u"connected "_qs + id, u"disconnected "_qs + id}));
        QCOMPARE(server.fleet().onlineCount(), 0);
        QCOMPARE(server.gateway()->sessionCount(), 0);
    }
};

QTEST_MAIN(TestControlDrops)
#include "tst_controldrops.moc"
