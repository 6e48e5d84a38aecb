// BoxLink against an in-process control server speaking the real protocol: enrollment and
// approval, token reuse, refused tokens, overload, commands (ack, result, redelivery, expiry),
// telemetry acks and resends, dead connections. Every case runs twice: over QWebSocket (what a
// box uses) and over one ws::ClientPool (what fleetsim uses), so both transports behave alike.

#include "fakecontrolserver.h"

#include <boxlink/boxlink.h>
#include <boxlink/credentialstore.h>
#include <boxlink/latencyhistogram.h>

#include <wsserver/wsclient.h>

#include <QSignalSpy>
#include <QTest>
#include <QTimer>

#include <memory>

using namespace iptv::boxlink;
using namespace iptv::protocol;

Q_DECLARE_METATYPE(iptv::boxlink::BoxLink::State)

namespace {
constexpr int WaitMs = 10000;

struct CountingSource : TelemetrySource
{
    int samples = 0;
    Telemetry sample() override
    {
        Telemetry t;
        t.cpuPercent = 12.5;
        t.memoryUsedKb = ++samples;
        return t;
    }
};

/// Replies to each command after `delayMs` (asynchronously, as a real box would for a screenshot).
struct RecordingHandler : CommandHandler
{
    QList<Command> executed;
    int delayMs = 5;
    void execute(const Command &command, const CommandReply &reply) override
    {
        executed.append(command);
        QTimer::singleShot(delayMs, [reply, kind = command.kind] {
            if (kind == CommandKind::Screenshot)
                reply.succeed(QStringLiteral("shot"), QByteArray("\x89PNG", 4), QStringLiteral("image/png"));
            else
                reply.fail(QStringLiteral("cannot"));
        });
    }
};
} // namespace

class TestBoxLink : public QObject
{
    Q_OBJECT

public:
    explicit TestBoxLink(LinkTransport *transport) : m_transport(transport) {}

private:
    BoxLinkConfig config(const QString &serial = QStringLiteral("SIM0001")) const
    {
        BoxLinkConfig c;
        c.serverUrl = m_server->url();
        c.serial = serial;
        c.mac = QStringLiteral("02:00:00:00:00:01");
        c.model = QStringLiteral("sim");
        c.softwareVersion = QStringLiteral("1.0.0");
        c.backoffBaseMs = 20;
        c.backoffCapMs = 200;
        c.backoffSeed = 77;
        c.telemetryMs = -1;
        c.transport = m_transport;
        return c;
    }
    std::unique_ptr<BoxLink> makeLink(const BoxLinkConfig &c)
    {
        return std::make_unique<BoxLink>(c, &m_store);
    }

    LinkTransport *m_transport; // null: QWebSocket
    std::unique_ptr<FakeControlServer> m_server;
    MemoryCredentialStore m_store;

private Q_SLOTS:
    void init()
    {
        m_server = std::make_unique<FakeControlServer>();
        QVERIFY(m_server->listen());
        m_store = MemoryCredentialStore();
    }
    void cleanup() { m_server.reset(); }

    void enrollPendingApproveThenToken()
    {
        m_server->autoApprove = false;
        auto link = makeLink(config());
        QSignalSpy approved(link.get(), &BoxLink::approved);
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Pending, WaitMs);
        QCOMPARE(m_server->hellos.size(), 1);
        QVERIFY(m_server->hellos[0].withSecret);
        QVERIFY(!m_server->hellos[0].withToken);
        // The box says its window, so the server may acknowledge every half window.
        QCOMPARE(m_server->hellos[0].telemetryWindow, config().telemetryWindow);
        QCOMPARE(m_server->secrets.value(QStringLiteral("SIM0001")), m_store.secret());
        QVERIFY(m_store.token().isEmpty());

        // Approval arrives on the same connection.
        QVERIFY(m_server->approve(QStringLiteral("SIM0001")));
        QVERIFY(approved.wait(WaitMs));
        QCOMPARE(link->state(), BoxLink::State::Online);
        QCOMPARE(link->boxId(), QStringLiteral("box-SIM0001"));
        QCOMPARE(link->assignedReleaseChannel(), QStringLiteral("experimental"));
        QCOMPARE(link->config().releaseChannel, QStringLiteral("clean")); // what it runs until it installs
        QVERIFY(!m_store.token().isEmpty());
        QVERIFY(m_server->tokens.contains(m_store.token()));
        QCOMPARE(m_server->hellos.size(), 1);

        // A restarted box comes back with its token, not its secret.
        link->stop();
        QCOMPARE(link->state(), BoxLink::State::Stopped);
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
        QCOMPARE(m_server->hellos.size(), 2);
        QVERIFY(m_server->hellos[1].withToken);
        QVERIFY(!m_server->hellos[1].withSecret);
        QVERIFY(m_server->replayErrors.isEmpty());
    }

    void refusedTokenReenrollsWithSecret()
    {
        m_store.setToken("stale-token");
        auto link = makeLink(config());
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
        QCOMPARE(m_server->hellos.size(), 2);
        QVERIFY(m_server->hellos[0].withToken);
        QVERIFY(m_server->hellos[1].withSecret);
        QCOMPARE(link->stats().reenrollments, quint64(1));
        QVERIFY(m_store.token() != "stale-token");
        QVERIFY(m_server->tokens.contains(m_store.token()));
    }

    void wrongSecretKeepsBackingOff()
    {
        m_server->secrets.insert(QStringLiteral("SIM0001"), QByteArray(32, 'x'));
        auto link = makeLink(config());
        QSignalSpy errors(link.get(), &BoxLink::serverError);
        link->start();
        QTRY_VERIFY_WITH_TIMEOUT(m_server->hellos.size() >= 3, WaitMs);
        QVERIFY(link->state() != BoxLink::State::Online);
        QCOMPARE(errors.first().first().value<ErrorBody>().code, ErrorCode::Unauthorized);
        QCOMPARE(link->stats().reenrollments, quint64(0));
    }

    void overloadedRetryAfterIsHonoured()
    {
        m_server->overloadHellos = 1;
        m_server->retryAfterSeconds = 1;
        auto link = makeLink(config());
        QSignalSpy disconnected(link.get(), &BoxLink::disconnected);
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
        QCOMPARE(m_server->hellos.size(), 2);
        const qint64 gap = m_server->hellos[1].atMs - m_server->hellos[0].atMs;
        QVERIFY2(gap >= 1000 && gap < 4000, qPrintable(QString::number(gap))); // [1, 2] s plus a loaded machine
        QCOMPARE(disconnected.size(), 1);
        const qint64 announced = disconnected.first().at(1).toLongLong();
        QVERIFY(announced >= 1000 && announced <= 2000);
    }

    void commandAckThenResult()
    {
        RecordingHandler handler;
        auto link = makeLink(config());
        link->setCommandHandler(&handler);
        LatencyHistogram handling;
        link->setLatencySinks(nullptr, &handling, nullptr);
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);

        Command shot;
        shot.commandId = 41;
        shot.kind = CommandKind::Screenshot;
        shot.expires = QDateTime::currentDateTimeUtc().addSecs(60);
        QVERIFY(m_server->sendCommand(QStringLiteral("SIM0001"), shot));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->count(MessageType::Result), 1, WaitMs);

        const QList<Message> acks = m_server->ofType(MessageType::Ack);
        QCOMPARE(acks.size(), 1);
        QCOMPARE(CommandAck::fromBody(acks[0].body, nullptr)->commandId, quint64(41));
        const Message resultMessage = m_server->ofType(MessageType::Result).first();
        QVERIFY(acks[0].id < resultMessage.id); // ack first
        const auto result = CommandResult::fromBody(resultMessage.body, nullptr);
        QVERIFY(result);
        QCOMPARE(result->commandId, quint64(41));
        QVERIFY(result->ok);
        QCOMPARE(result->data, QByteArray("\x89PNG", 4));
        QCOMPARE(result->mimeType, QStringLiteral("image/png"));
        QCOMPARE(handler.executed.size(), 1);
        QCOMPARE(handling.count(), quint64(1));
        QVERIFY(handling.maxMs() >= 4.0);
    }

    void redeliveredCommandRunsOnce()
    {
        RecordingHandler handler;
        auto link = makeLink(config());
        link->setCommandHandler(&handler);
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
        Command reboot;
        reboot.commandId = 7;
        reboot.kind = CommandKind::Reboot;
        QVERIFY(m_server->sendCommand(QStringLiteral("SIM0001"), reboot));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->count(MessageType::Result), 1, WaitMs);

        // The server lost the result with the connection and delivers the command again.
        m_server->dropAll();
        QTRY_COMPARE_WITH_TIMEOUT(m_server->onlineCount(), 1, WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
        QVERIFY(m_server->sendCommand(QStringLiteral("SIM0001"), reboot));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->count(MessageType::Result), 2, WaitMs);
        QCOMPARE(m_server->count(MessageType::Ack), 2);
        QCOMPARE(handler.executed.size(), 1);
        QCOMPARE(link->stats().commandsDuplicate, quint64(1));
        const auto again = CommandResult::fromBody(m_server->ofType(MessageType::Result).last().body, nullptr);
        QCOMPARE(again->commandId, quint64(7));
        QCOMPARE(again->text, QStringLiteral("cannot"));
    }

    void expiredCommandIsRefused()
    {
        RecordingHandler handler;
        auto link = makeLink(config());
        link->setCommandHandler(&handler);
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
        Command old;
        old.commandId = 9;
        old.kind = CommandKind::Reboot;
        old.expires = QDateTime::currentDateTimeUtc().addSecs(-5);
        QVERIFY(m_server->sendCommand(QStringLiteral("SIM0001"), old));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->count(MessageType::Result), 1, WaitMs);
        const auto result = CommandResult::fromBody(m_server->ofType(MessageType::Result).first().body, nullptr);
        QVERIFY(!result->ok);
        QVERIFY(result->text.contains(QStringLiteral("expired")));
        QVERIFY(handler.executed.isEmpty());
        QCOMPARE(link->stats().commandsExpired, quint64(1));
    }

    void unknownCommandFailsVisibly()
    {
        auto link = makeLink(config());
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
        FakeControlServer::Session *s = m_server->sessionFor(QStringLiteral("SIM0001"));
        QVERIFY(s);
        QCborMap body;
        body.insert(QLatin1String("cmd"), 5);
        body.insert(QLatin1String("name"), QStringLiteral("self-destruct"));
        m_server->send(*s, MessageType::Command, body);
        QTRY_COMPARE_WITH_TIMEOUT(m_server->count(MessageType::Result), 1, WaitMs);
        const auto result = CommandResult::fromBody(m_server->ofType(MessageType::Result).first().body, nullptr);
        QCOMPARE(result->commandId, quint64(5));
        QVERIFY(!result->ok);
        QVERIFY(result->text.contains(QStringLiteral("self-destruct")));
    }

    void cumulativeAcks_data()
    {
        QTest::addColumn<int>("version");
        QTest::newRow("version 2: one ack answers the earlier samples") << 2;
        QTest::newRow("version 1: each sample waits for its own ack") << 1;
    }
    void cumulativeAcks()
    {
        QFETCH(int, version);
        m_server->welcomeVersion = version;
        m_server->ackEvery = 3;
        CountingSource source;
        BoxLinkConfig c = config();
        c.telemetryMs = 10;
        c.telemetryWindow = 8;
        c.maxUnackedTelemetry = 64;
        auto link = makeLink(c);
        link->setTelemetrySource(&source);
        link->start();
        if (version >= kCumulativeAckVersion) {
            // Only every third sample gets an ack of its own, yet all are answered and the
            // flow goes on.
            QTRY_VERIFY_WITH_TIMEOUT(link->stats().telemetryAcked >= 24, WaitMs);
            link->stop();
            QVERIFY(link->stats().telemetryAcked >= link->stats().telemetrySent - 2);
        } else {
            // Two of three samples are never answered: they fill the window of 8 and the box
            // stops sending more, instead of taking an ack as answering earlier ones.
            QTRY_VERIFY_WITH_TIMEOUT(m_server->count(MessageType::Telemetry) >= 8, WaitMs);
            QTRY_COMPARE_WITH_TIMEOUT(int(link->stats().telemetrySent - link->stats().telemetryAcked), 8, WaitMs);
            link->stop();
            QVERIFY(link->stats().telemetryAcked * 3 <= link->stats().telemetrySent);
        }
    }

    void telemetryAckedAndResentAfterReconnect()
    {
        CountingSource source;
        BoxLinkConfig c = config();
        c.telemetryMs = 20;
        c.maxUnackedTelemetry = 4;
        c.telemetryWindow = 1;
        auto link = makeLink(c);
        link->setTelemetrySource(&source);
        LatencyHistogram rtt;
        link->setLatencySinks(&rtt, nullptr, nullptr);
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(link->stats().telemetryAcked >= 3, WaitMs);
        QCOMPARE(link->unackedTelemetry(), 0);
        QVERIFY(rtt.count() >= 3);

        // Unacknowledged samples pile up to the bound, then go again on the next session. Only
        // one is on the wire at a time (the window): a server that stops acknowledging is not
        // buried under samples.
        const int atStop = m_server->count(MessageType::Telemetry);
        m_server->ackTelemetry = false;
        QTRY_VERIFY_WITH_TIMEOUT(link->stats().telemetryDropped >= 2, WaitMs);
        QCOMPARE(link->unackedTelemetry(), 4);
        const int before = m_server->count(MessageType::Telemetry);
        QVERIFY2(before <= atStop + 1, qPrintable(QStringLiteral("%1 sent after acks stopped").arg(before - atStop)));
        m_server->ackTelemetry = true;
        m_server->dropAll();
        QTRY_COMPARE_WITH_TIMEOUT(link->unackedTelemetry(), 0, WaitMs);
        QVERIFY(link->stats().telemetryResent >= 1);
        QVERIFY(m_server->count(MessageType::Telemetry) >= before + 4);
        QVERIFY(m_server->replayErrors.isEmpty());
        // Every frame the server saw from this box had a larger id than the one before.
        quint64 last = 0;
        for (const Message &m : m_server->received) {
            QVERIFY(m.id > last);
            last = m.id;
        }
    }

    void silentServerIsDetectedAndLeft()
    {
        BoxLinkConfig c = config();
        c.heartbeatMs = 50;
        c.deadAfterMs = 500;
        auto link = makeLink(c);
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(m_server->count(MessageType::Ping) >= 2, WaitMs); // pings when idle
        QCOMPARE(link->state(), BoxLink::State::Online);
        m_server->silent = true;
        QSignalSpy disconnected(link.get(), &BoxLink::disconnected);
        QVERIFY(disconnected.wait(WaitMs));
        QVERIFY(disconnected.first().first().toString().contains(QStringLiteral("no frame")));
        QCOMPARE(link->stats().deadConnections, quint64(1));
        m_server->silent = false;
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
        QVERIFY(m_server->hellos.size() >= 2);
    }

    void unreachableServerBacksOff()
    {
        BoxLinkConfig c = config();
        c.serverUrl = QUrl(QStringLiteral("ws://127.0.0.1:1/box"));
        auto link = makeLink(c);
        QSignalSpy disconnected(link.get(), &BoxLink::disconnected);
        link->start();
        QTRY_VERIFY_WITH_TIMEOUT(disconnected.size() >= 4, WaitMs);
        // The announced delays stay inside the growing windows 20, 40, 80, 160 ms.
        for (int i = 0; i < 4; ++i) {
            const qint64 delay = disconnected.at(i).at(1).toLongLong();
            QVERIFY(delay >= 0 && delay <= iptv::Backoff::windowFor(20, 200, i));
        }
        link->stop();
        QCOMPARE(link->state(), BoxLink::State::Stopped);
    }

    void stableSessionResetsBackoff_data()
    {
        QTest::addColumn<int>("stableMs");
        QTest::newRow("short sessions: windows grow") << 600000;
        QTest::newRow("stable sessions: back to the base") << 0;
    }
    void stableSessionResetsBackoff()
    {
        QFETCH(int, stableMs);
        BoxLinkConfig c = config();
        c.backoffBaseMs = 20;
        c.backoffCapMs = 10000;
        c.stableSessionMs = stableMs;
        auto link = makeLink(c);
        QSignalSpy disconnected(link.get(), &BoxLink::disconnected);
        link->start();
        // The link's seeded generator replayed: the delays it must announce, exactly.
        iptv::Backoff expected(20, 10000, c.backoffSeed);
        for (int round = 0; round < 4; ++round) {
            QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Online, WaitMs);
            m_server->dropAll();
            QTRY_COMPARE_WITH_TIMEOUT(disconnected.size(), round + 1, WaitMs);
            if (stableMs == 0)
                expected.reset();
            QCOMPARE(disconnected.last().at(1).toLongLong(), expected.next());
        }
    }

    void stopWhileConnectingAndRestart()
    {
        BoxLinkConfig c = config();
        c.serverUrl = QUrl(QStringLiteral("ws://127.0.0.1:1/box"));
        auto link = makeLink(c);
        link->start();
        QCOMPARE(link->state(), BoxLink::State::Connecting);
        link->stop();
        QCOMPARE(link->state(), BoxLink::State::Stopped);
        const quint64 attempts = link->stats().connectAttempts;
        QSignalSpy states(link.get(), &BoxLink::stateChanged);
        QVERIFY(!states.wait(300)); // no reconnect may follow a stop
        QCOMPARE(link->stats().connectAttempts, attempts);
        auto good = makeLink(config());
        good->start();
        QTRY_COMPARE_WITH_TIMEOUT(good->state(), BoxLink::State::Online, WaitMs);
        good->reconnectAfter(50);
        QCOMPARE(good->state(), BoxLink::State::Disconnected);
        QTRY_COMPARE_WITH_TIMEOUT(good->state(), BoxLink::State::Online, WaitMs);
        QCOMPARE(good->stats().sessions, quint64(2));
    }

    void eventsQueueWhileOffline()
    {
        m_server->autoApprove = false;
        auto link = makeLink(config());
        BoxEvent e;
        e.kind = QStringLiteral("boot");
        e.severity = QStringLiteral("info");
        link->sendEvent(e); // before any connection
        link->start();
        QTRY_COMPARE_WITH_TIMEOUT(link->state(), BoxLink::State::Pending, WaitMs);
        QCOMPARE(m_server->count(MessageType::Event), 0);
        m_server->approve(QStringLiteral("SIM0001"));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->count(MessageType::Event), 1, WaitMs);
        const auto got = BoxEvent::fromBody(m_server->ofType(MessageType::Event).first().body, nullptr);
        QCOMPARE(got->kind, QStringLiteral("boot"));
    }
};

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    iptv::ws::ClientPool pool;
    PoolTransport poolTransport(&pool);
    TestBoxLink overQWebSocket(nullptr);
    TestBoxLink overPool(&poolTransport);
    int failed = QTest::qExec(&overQWebSocket, argc, argv);
    qInfo("---- the same over ws::ClientPool (fleetsim's transport) ----");
    failed += QTest::qExec(&overPool, argc, argv);
    return failed;
}
#include "tst_boxlink.moc"
