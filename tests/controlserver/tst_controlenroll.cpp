// Box sessions against a real in-process controlserver: enrollment (pending -> approve -> token),
// token login, lost token, wrong secret, bad token, rejection, auto-approve, telemetry acks, and
// bad input (replay, unknown type, garbage, text frames, oversized frames, wrong version,
// messages before hello, wrong path).

#include "testbox.h"

#include "boxes/boxgateway.h"
#include "boxes/fleet.h"

#include <protocol/boxticket.h>

#include <QTcpSocket>

using namespace testutil;
using namespace iptv::control;

class TestControlEnroll : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        m_config = testConfig(*m_dir);
    }
    void cleanup()
    {
        m_server.reset();
    }

    void pendingThenApprovedThenToken()
    {
        start();
        TestBox box(QStringLiteral("HX-1"));
        QVERIFY(box.open(port()));
        const quint64 helloId = box.sayHello();
        const auto welcome = box.waitWelcome();
        QVERIFY(welcome);
        QCOMPARE(welcome->state, u"pending"_qs);
        QVERIFY(welcome->token.isEmpty());
        QVERIFY(welcome->boxId.startsWith(u"b-"));
        QCOMPARE(m_server->fleet().onlineCount(), 1);

        // Pending: telemetry is refused, the connection stays.
        const quint64 tid = box.send(MessageType::Telemetry, Telemetry{}.toBody());
        auto err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::PendingApproval);
        QVERIFY(box.isOpen());
        QVERIFY(tid > helloId);

        // The operator approves: the token arrives on the open session.
        const qint64 id = parseBoxId(welcome->boxId);
        const auto r = m_server->approve(OperatorIdentity{u"alice"_qs, Role::Operator}, id);
        QVERIFY(r.ok());
        const auto approved = box.waitWelcome();
        QVERIFY(approved);
        QCOMPARE(approved->state, u"approved"_qs);
        QCOMPARE(approved->token.size(), 32);

        // Telemetry is acknowledged now.
        Telemetry t;
        t.cpuPercent = 12.5;
        t.softwareVersion = u"2.4.2"_qs;
        t.currentChannel = u"bbc-one"_qs;
        t.playerState = u"playing"_qs;
        const quint64 tid2 = box.send(MessageType::Telemetry, t.toBody());
        const auto ack = box.waitFor(MessageType::Ack);
        QVERIFY(ack);
        QCOMPARE(ack->replyTo, tid2);
        const BoxInfo *info = m_server->fleet().byId(id);
        QCOMPARE(info->cpuPermille, 125);
        QCOMPARE(m_server->fleet().string(info->version), u"2.4.2"_qs);

        // Reconnect with the token: approved, no new token.
        box.close();
        QTRY_COMPARE(m_server->fleet().onlineCount(), 0);
        QVERIFY(box.open(port()));
        box.sayHello(false, true);
        const auto again = box.waitWelcome();
        QVERIFY(again);
        QCOMPARE(again->state, u"approved"_qs);
        QVERIFY(again->token.isEmpty());

        // Lost token: the secret gets a new one; the old token stops working.
        const QByteArray oldToken = box.token;
        box.close();
        QVERIFY(box.open(port()));
        box.sayHello(true, false);
        const auto renewed = box.waitWelcome();
        QVERIFY(renewed);
        QCOMPARE(renewed->state, u"approved"_qs);
        QVERIFY(!renewed->token.isEmpty());
        QVERIFY(renewed->token != oldToken);
        box.close();
        box.token = oldToken;
        QVERIFY(box.open(port()));
        box.sayHello(false, true);
        err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::Unauthorized);
        QVERIFY(box.waitClosed());

        // Audit: enrollment and approval.
        QString error;
        const auto audit = m_server->store().audit({}, 10, 0, &error);
        QVERIFY(std::any_of(audit.begin(), audit.end(), [](const AuditRow &a) { return a.action == u"box.enroll" && a.account == u"system"; }));
        QVERIFY(std::any_of(audit.begin(), audit.end(), [](const AuditRow &a) { return a.action == u"box.approve" && a.account == u"alice"; }));
    }

    void wrongSecretIsUnauthorized()
    {
        m_config.autoApprove = true;
        start();
        TestBox box(QStringLiteral("HX-2"));
        QVERIFY(box.connectAndHello(port()));
        box.close();
        // Same serial, different secret: an impostor.
        TestBox impostor(QStringLiteral("HX-2-other"));
        QVERIFY(impostor.open(port()));
        Hello h = impostor.hello(true, false);
        h.serial = QStringLiteral("HX-2");
        impostor.send(MessageType::Hello, h.toBody());
        const auto err = impostor.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::Unauthorized);
        QVERIFY(impostor.waitClosed());
    }

    void badTokenAndNoCredentials()
    {
        start();
        TestBox box(QStringLiteral("HX-3"));
        QVERIFY(box.open(port()));
        box.token = QByteArray(32, 'x');
        box.sayHello(false, true);
        auto err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::Unauthorized);
        QVERIFY(box.waitClosed());

        QVERIFY(box.open(port()));
        box.sayHello(false, false);
        err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::Unauthorized);
        QVERIFY(box.waitClosed());
    }

    void telemetryAcks_data()
    {
        QTest::addColumn<int>("maxVersion");
        QTest::newRow("version 2: one cumulative ack for samples that arrived together") << 2;
        QTest::newRow("version 1: an ack for each sample") << 1;
    }
    void telemetryAcks()
    {
        QFETCH(int, maxVersion);
        m_config.autoApprove = true;
        start();
        TestBox box(QStringLiteral("ACK-1"));
        QVERIFY(box.open(port()));
        Hello hello = box.hello(true, false);
        hello.maxVersion = maxVersion;
        box.send(MessageType::Hello, hello.toBody());
        const auto w = box.waitWelcome();
        QVERIFY(w);
        QCOMPARE(w->version, maxVersion);
        // Three samples in one event-loop turn of the client: one TCP segment, one server read.
        const quint64 first = box.send(MessageType::Telemetry, Telemetry{}.toBody());
        box.send(MessageType::Telemetry, Telemetry{}.toBody());
        const quint64 last = box.send(MessageType::Telemetry, Telemetry{}.toBody());
        QList<quint64> acked;
        while (acked.isEmpty() || acked.last() != last) {
            const auto ack = box.waitFor(MessageType::Ack);
            QVERIFY(ack);
            acked.append(ack->replyTo);
        }
        if (maxVersion >= kCumulativeAckVersion)
            QCOMPARE(acked, QList<quint64>{last});
        else
            QCOMPARE(acked, (QList<quint64>{first, first + 1, last}));
        QCOMPARE(m_server->fleet().byId(parseBoxId(box.boxId))->telemetryCount, 3u);
    }

    void telemetryAcksAfterHalfTheWindow()
    {
        // A box that announces its window and reports faster than the delay is answered once half
        // of the window has arrived, or when the delay is over; a sample on its own at once. The
        // delay is long here, so an ack that comes early was sent for the count or the spacing.
        m_config.autoApprove = true;
        m_config.telemetryAckDelayMs = 1000;
        start();
        TestBox box(QStringLiteral("ACK-WIN"));
        QVERIFY(box.open(port()));
        Hello hello = box.hello(true, false);
        hello.telemetryWindow = 8;
        box.send(MessageType::Hello, hello.toBody());
        QVERIFY(box.waitWelcome());
        const BoxInfo *info = m_server->fleet().byId(parseBoxId(box.boxId));
        QElapsedTimer clock;
        const auto ackOf = [&](quint64 id) {
            for (;;) { // samples sent together may arrive in two reads, and be answered in two acks
                const auto ack = box.waitFor(MessageType::Ack);
                if (!ack || ack->replyTo == id)
                    return ack;
            }
        };

        // The first sample comes on its own: answered at once.
        clock.start();
        const quint64 single = box.send(MessageType::Telemetry, Telemetry{}.toBody());
        QVERIFY(ackOf(single));
        QVERIFY2(clock.elapsed() < 900, QByteArray::number(clock.elapsed()));

        // Four right after it: half the window, answered without waiting for the delay.
        clock.restart();
        quint64 fourth = 0;
        for (int i = 0; i < 4; ++i)
            fourth = box.send(MessageType::Telemetry, Telemetry{}.toBody());
        QVERIFY(ackOf(fourth));
        QVERIFY2(clock.elapsed() < 900, QByteArray::number(clock.elapsed()));
        QCOMPARE(info->telemetryCount, 5u);

        // Three more: under half the window, one ack for the third when the delay is over.
        clock.restart();
        box.send(MessageType::Telemetry, Telemetry{}.toBody());
        box.send(MessageType::Telemetry, Telemetry{}.toBody());
        const quint64 third = box.send(MessageType::Telemetry, Telemetry{}.toBody());
        auto ack = box.waitFor(MessageType::Ack);
        QVERIFY(ack);
        QCOMPARE(ack->replyTo, third);
        QVERIFY2(clock.elapsed() >= 900, QByteArray::number(clock.elapsed()));
        QCOMPARE(info->telemetryCount, 8u);

        // A server stopping answers what it holds back before it says goodbye.
        const quint64 alone = box.send(MessageType::Telemetry, Telemetry{}.toBody());
        QVERIFY(ackOf(alone)); // a second after the last: on its own again
        const quint64 held = box.send(MessageType::Telemetry, Telemetry{}.toBody());
        QTRY_COMPARE(info->telemetryCount, 10u);
        clock.restart();
        m_server->stop();
        ack = box.waitFor(MessageType::Ack);
        QVERIFY(ack);
        QCOMPARE(ack->replyTo, held);
        QVERIFY2(clock.elapsed() < 900, QByteArray::number(clock.elapsed()));
        QVERIFY(box.waitClosed());
    }

    void telemetryInOtherShapes()
    {
        // The server reads the shape boxes send without building a QCborValue tree; any other
        // valid encoding takes the general path and means the same.
        m_config.autoApprove = true;
        start();
        TestBox box(QStringLiteral("SHAPES"));
        QVERIFY(box.connectAndHello(port()));
        const BoxInfo *info = m_server->fleet().byId(parseBoxId(box.boxId));
        // A whole number sent as a double (JSON-minded encoders do that).
        quint64 id = box.send(MessageType::Telemetry, {{u"mem"_qs, 4096.0}, {u"ch"_qs, u"arte"_qs}});
        auto ack = box.waitFor(MessageType::Ack);
        QVERIFY(ack);
        QCOMPARE(ack->replyTo, id);
        QCOMPARE(info->memoryUsedKb, 4096u);
        QCOMPARE(m_server->fleet().string(info->currentChannel), u"arte"_qs);
        // The plain shape, written as a box writes it.
        Telemetry t;
        t.memoryUsedKb = 8192;
        t.currentChannel = u"bbc-one"_qs;
        id = box.nextId();
        box.sendRaw(encode(MessageType::Telemetry, id, t.toCbor()));
        ack = box.waitFor(MessageType::Ack);
        QVERIFY(ack);
        QCOMPARE(ack->replyTo, id);
        QCOMPARE(info->memoryUsedKb, 8192u);
        QCOMPARE(m_server->fleet().string(info->currentChannel), u"bbc-one"_qs);
        // A replayed sample is refused however it is read.
        box.sendRaw(encode(MessageType::Telemetry, id, t.toCbor()));
        const auto err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::Replay);
        QCOMPARE(info->telemetryCount, 2u);
    }

    void messagesWithoutIds()
    {
        // docs/protocol.md: an id of 0, or none, is no sequence number and not replay-checked;
        // messages with ids still strictly increase. A message without an id is handled, and
        // answered where an answer carries something (pong); an ack has nothing to name.
        m_config.autoApprove = true;
        start();
        TestBox box(QStringLiteral("NO-ID"));
        QVERIFY(box.connectAndHello(port())); // id 1
        const BoxInfo *info = m_server->fleet().byId(parseBoxId(box.boxId));
        Telemetry t;
        t.currentChannel = u"arte"_qs;
        box.sendWithId(MessageType::Telemetry, 0, t.toBody());
        box.sendRaw(QCborValue(QCborMap{{u"t"_qs, u"ping"_qs}, {u"id"_qs, 0}}).toCbor()); // "id": 0 written out
        box.sendWithId(MessageType::Ping, 0);
        const quint64 numbered = box.send(MessageType::Ping); // 2: above the hello's id
        box.sendWithId(MessageType::Ping, 0);
        box.sendWithId(MessageType::Ping, numbered); // a repeated id is still a replay
        box.send(MessageType::Ping);
        QList<Message> answers;
        for (int pongs = 0; pongs < 5; ++pongs) {
            const QList<Message> some = box.until(MessageType::Pong, 5000);
            QVERIFY2(!some.isEmpty(), qPrintable(QStringLiteral("%1 answers").arg(answers.size())));
            answers += some;
        }
        const auto describe = [](const Message &m) -> QString { return m.name + u' ' + QString::number(m.replyTo); };
        QStringList got;
        for (const Message &m : std::as_const(answers))
            got.append(describe(m));
        QCOMPARE(got, (QStringList{u"pong 0"_qs, u"pong 0"_qs, u"pong 2"_qs, u"pong 0"_qs, u"error 2"_qs, u"pong 3"_qs}));
        QString error;
        QCOMPARE(ErrorBody::fromBody(answers.at(4).body, &error)->code, ErrorCode::Replay);
        QCOMPARE(info->telemetryCount, 1u);
        QCOMPARE(m_server->fleet().string(info->currentChannel), u"arte"_qs);
        QVERIFY(!box.take()); // and no ack for the telemetry without an id
    }

    void idsUpToTheLargestUnsigned()
    {
        // docs/protocol.md: ids are unsigned 64-bit integers, 2^64 - 1 included.
        m_config.autoApprove = true;
        start();
        TestBox box(QStringLiteral("BIG-ID"));
        QVERIFY(box.connectAndHello(port()));
        const quint64 high = quint64(1) << 63;
        box.sendRaw(encode(MessageType::Telemetry, high, Telemetry{}.toCbor())); // the server's fast path
        auto got = box.until(MessageType::Ack);
        QCOMPARE(got.size(), 1);
        QCOMPARE(got.first().replyTo, high);
        box.sendWithId(MessageType::Ping, UINT64_MAX);
        got = box.until(MessageType::Pong);
        QCOMPARE(got.size(), 1);
        QCOMPARE(got.first().replyTo, quint64(UINT64_MAX));
        // Nothing with an id can follow; without one the session goes on.
        box.sendWithId(MessageType::Ping, UINT64_MAX);
        const auto err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::Replay);
        box.sendWithId(MessageType::Ping, 0);
        QVERIFY(box.waitFor(MessageType::Pong));
        QCOMPARE(m_server->fleet().byId(parseBoxId(box.boxId))->telemetryCount, 1u);
    }

    void replayBeforeHelloCloses()
    {
        // Before a hello every error ends the connection, a replay too (docs/protocol.md).
        start();
        TestBox box(QStringLiteral("HX-EARLY"));
        QVERIFY(box.open(port()));
        const quint64 ping = box.send(MessageType::Ping);
        const auto pong = box.waitFor(MessageType::Pong); // a ping is answered before a hello
        QVERIFY(pong);
        QCOMPARE(pong->replyTo, ping);
        box.sendWithId(MessageType::Hello, ping, box.hello(true, false).toBody());
        const auto err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::Replay);
        QVERIFY(box.waitClosed(5000));
        QCOMPARE(box.socket().closeCode(), QWebSocketProtocol::CloseCodePolicyViolated);
        QCOMPARE(m_server->fleet().size(), 0);
    }

    void autoApproveBySerial()
    {
        m_config.autoApproveSerialPattern = QStringLiteral("^LAB-");
        start();
        TestBox lab(QStringLiteral("LAB-1"));
        auto w = lab.connectAndHello(port());
        QVERIFY(w);
        QCOMPARE(w->state, u"approved"_qs);
        QCOMPARE(w->token.size(), 32);
        TestBox other(QStringLiteral("FIELD-1"));
        w = other.connectAndHello(port());
        QVERIFY(w);
        QCOMPARE(w->state, u"pending"_qs);
    }

    // A box's identity ticket for other servers: signed with the key GET /api/ticket-key
    // publishes, naming the box and its serial, for the audience asked; a pending box gets none.
    void ticketVerifiesWithThePublishedKey()
    {
        m_config.autoApproveSerialPattern = QStringLiteral("^LAB-");
        m_config.ticketSeconds = 600;
        start();
        TestBox pending(QStringLiteral("FIELD-2"));
        QVERIFY(pending.connectAndHello(port()));
        pending.send(MessageType::Ticket, TicketBody{u"diver"_qs, {}, {}}.toBody());
        const auto refused = pending.waitError();
        QVERIFY(refused);
        QCOMPARE(refused->code, ErrorCode::PendingApproval);

        TestBox box(QStringLiteral("LAB-7"));
        QVERIFY(box.connectAndHello(port()));
        const quint64 asked = box.send(MessageType::Ticket, TicketBody{u"diver"_qs, {}, {}}.toBody());
        const auto answer = box.waitFor(MessageType::Ticket);
        QVERIFY(answer);
        QCOMPARE(answer->replyTo, asked);
        QString error;
        const auto body = TicketBody::fromBody(answer->body, &error);
        QVERIFY2(body, qPrintable(error));

        QNetworkAccessManager nam;
        const Http key = http(nam, "GET", m_server->httpPort(), u"/api/ticket-key"_qs);
        QCOMPARE(key.status, 200);
        const auto published = iptv::payload::PublicKey::fromText(key.body, &error);
        QVERIFY2(!published.isNull(), qPrintable(error));

        const qint64 now = QDateTime::currentSecsSinceEpoch();
        const auto ticket = BoxTicket::verify(body->ticket, {published}, now, u"diver"_qs, &error);
        QVERIFY2(ticket, qPrintable(error));
        QCOMPARE(ticket->serial, u"LAB-7"_qs);
        QCOMPARE(ticket->boxId, box.boxId);
        QCOMPARE(ticket->audience, u"diver"_qs);
        QVERIFY(qAbs(ticket->expiresAt - now - 600) <= 2);
        QCOMPARE(body->expires.toSecsSinceEpoch(), ticket->expiresAt);
        QVERIFY(!BoxTicket::verify(body->ticket, {published}, now, u"iptvnext"_qs, &error));
        QVERIFY(!BoxTicket::verify(body->ticket, {published}, now + 700, u"diver"_qs, &error));

        // Review: the box chose the audience, and none made a ticket good for every server.
        // Only the servers that take tickets are named now.
        for (const QString &audience : {QString(), u"anything"_qs}) {
            box.send(MessageType::Ticket, TicketBody{audience, {}, {}}.toBody());
            const auto wrong = box.waitError();
            QVERIFY(wrong);
            QCOMPARE(wrong->code, ErrorCode::BadRequest);
            QVERIFY2(wrong->text.contains(u"is not one of diver, iptvnext"), qPrintable(wrong->text));
        }

        // A restarted server (the same store) signs with the same key.
        m_server.reset();
        start();
        QCOMPARE(m_server->ticketKey(), published);
    }

    void rejectedBoxIsTurnedAway()
    {
        start();
        TestBox box(QStringLiteral("HX-4"));
        const auto w = box.connectAndHello(port());
        QVERIFY(w);
        const qint64 id = parseBoxId(w->boxId);
        QVERIFY(m_server->reject(OperatorIdentity{u"alice"_qs, Role::Operator}, id).ok());
        auto err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::Rejected);
        QVERIFY(box.waitClosed());
        QVERIFY(box.open(port()));
        box.sayHello();
        err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::Rejected);
        QVERIFY(err->retryAfterSeconds > 0);
    }

    void badInput_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("expected");
        QTest::addColumn<bool>("closes");
        QTest::newRow("replayed id") << 0 << int(ErrorCode::Replay) << false;
        QTest::newRow("unknown type") << 1 << int(ErrorCode::UnknownType) << false;
        QTest::newRow("garbage frame") << 2 << int(ErrorCode::BadFrame) << false;
        QTest::newRow("text frame") << 3 << int(ErrorCode::BadFrame) << false;
        QTest::newRow("bad telemetry body") << 4 << int(ErrorCode::BadRequest) << false;
        QTest::newRow("second hello") << 5 << int(ErrorCode::Conflict) << false;
        QTest::newRow("server-only type") << 6 << int(ErrorCode::BadRequest) << false;
    }
    void badInput()
    {
        QFETCH(int, kind);
        QFETCH(int, expected);
        QFETCH(bool, closes);
        m_config.autoApprove = true;
        start();
        TestBox box(QStringLiteral("HX-BAD"));
        QVERIFY(box.connectAndHello(port()));
        switch (kind) {
        case 0: {
            const quint64 id = box.send(MessageType::Ping);
            QVERIFY(box.waitFor(MessageType::Pong));
            box.sendWithId(MessageType::Ping, id);
            break;
        }
        case 1: {
            QCborMap m{{u"t"_qs, u"teleport"_qs}, {u"id"_qs, 50}};
            box.sendRaw(m.toCborValue().toCbor());
            break;
        }
        case 2: box.sendRaw(QByteArray("\xff\x00garbage", 9)); break;
        case 3: box.sendText(u"{\"t\":\"ping\",\"id\":60}"_qs); break;
        case 4: box.send(MessageType::Telemetry, {{u"cpu"_qs, u"hot"_qs}}); break;
        case 5: box.sayHello(); break;
        case 6: box.send(MessageType::Welcome, {}); break;
        }
        const auto err = box.waitError();
        QVERIFY(err);
        QCOMPARE(int(err->code), expected);
        if (closes) {
            QVERIFY(box.waitClosed());
        } else {
            // Nothing else affected: the session still answers.
            box.send(MessageType::Ping);
            QVERIFY(box.waitFor(MessageType::Pong));
        }
        QVERIFY(m_server->metrics().render().contains("controlserver_box_errors_total"));
    }

    void oversizedFrameCloses()
    {
        m_config.autoApprove = true;
        start();
        TestBox box(QStringLiteral("HX-BIG"));
        QVERIFY(box.connectAndHello(port()));
        box.sendRaw(QByteArray(DecodeLimits{}.maxFrameBytes + 1024, 'x'));
        QVERIFY(box.waitClosed());
        QCOMPARE(box.socket().closeCode(), QWebSocketProtocol::CloseCodeTooMuchData);
    }

    void beforeHelloAndVersion()
    {
        start();
        TestBox box(QStringLiteral("HX-V"));
        QVERIFY(box.open(port()));
        box.send(MessageType::Telemetry, Telemetry{}.toBody());
        auto err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::Unauthorized);
        QVERIFY(box.waitClosed());

        QVERIFY(box.open(port()));
        Hello h = box.hello(true, false);
        h.minVersion = 7;
        h.maxVersion = 9;
        box.send(MessageType::Hello, h.toBody());
        err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::UnsupportedVersion);
        QVERIFY(box.waitClosed());

        QVERIFY(box.open(port()));
        h = box.hello(true, false);
        h.serial = QStringLiteral("bad serial with spaces");
        box.send(MessageType::Hello, h.toBody());
        err = box.waitError();
        QVERIFY(err);
        QCOMPARE(err->code, ErrorCode::BadRequest);
        QVERIFY(box.waitClosed());

        // Another path is refused at the upgrade (HTTP 404): the socket never opens.
        QVERIFY(!box.open(port(), QStringLiteral("/elsewhere")));
        QCOMPARE(m_server->fleet().size(), 0);
        QTRY_COMPARE(m_server->gateway()->handshakesInFlight(), 0);
    }

    void duplicateConnectionReplacesOld()
    {
        m_config.autoApprove = true;
        start();
        TestBox a(QStringLiteral("HX-DUP"));
        QVERIFY(a.connectAndHello(port()));
        TestBox b(QStringLiteral("HX-DUP"));
        b.token = a.token;
        QVERIFY(b.connectAndHello(port()));
        QVERIFY(a.waitClosed());
        QCOMPARE(m_server->fleet().onlineCount(), 1);
        QTRY_COMPARE(m_server->gateway()->sessionCount(), 1);
    }

    void idleSessionsAreClosed()
    {
        m_config.autoApprove = true;
        m_config.idleTimeoutSeconds = 2;
        m_config.helloTimeoutSeconds = 1;
        start();
        TestBox silent(QStringLiteral("HX-SILENT"));
        QVERIFY(silent.open(port())); // never says hello
        TestBox idle(QStringLiteral("HX-IDLE"));
        QVERIFY(idle.connectAndHello(port()));
        QVERIFY(silent.waitClosed(5000));
        QVERIFY(idle.waitClosed(6000));
        QTRY_COMPARE(m_server->fleet().onlineCount(), 0);
        QTRY_COMPARE(m_server->gateway()->handshakesInFlight(), 0);
    }

    void closeCodes_data()
    {
        // docs/protocol.md, "Closing": the WebSocket close code and reason of each way a box
        // session ends on the server's side.
        QTest::addColumn<QString>("cause");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("reason");
        QTest::newRow("an error before hello") << u"before-hello"_qs << 1008 << u"say hello first"_qs;
        QTest::newRow("no hello in time") << u"hello-timeout"_qs << 1008 << u"no hello in time"_qs;
        QTest::newRow("idle") << u"idle"_qs << 1008 << u"idle: no frame within the timeout"_qs;
        QTest::newRow("replaced by a newer connection") << u"replaced"_qs << 1008
                                                        << u"replaced by a newer connection of this box"_qs;
        QTest::newRow("a message over the size limit") << u"too-big"_qs << 1009 << u"over"_qs;
        QTest::newRow("a text frame that is not UTF-8") << u"bad-utf8"_qs << 1007 << u"UTF-8"_qs;
        QTest::newRow("server stopping") << u"stop"_qs << 1001 << QString();
    }
    void closeCodes()
    {
        QFETCH(QString, cause);
        QFETCH(int, code);
        QFETCH(QString, reason);
        m_config.autoApprove = true;
        m_config.helloTimeoutSeconds = 1;
        m_config.idleTimeoutSeconds = 2;
        start();
        TestBox box(QStringLiteral("CLOSE-1"));
        TestBox newer(QStringLiteral("CLOSE-1"));
        QVERIFY(box.open(port()));
        if (cause == u"before-hello") {
            box.send(MessageType::Telemetry, Telemetry{}.toBody());
        } else if (cause == u"bad-utf8") {
            // QWebSocket only sends valid text; a raw frame carries the invalid bytes.
            QVERIFY(rawFrameCloses(0x81, QByteArray("\xff\xfe"), code, reason));
            return;
        } else if (cause != u"hello-timeout") {
            box.sayHello();
            QVERIFY(box.waitWelcome());
            if (cause == u"replaced") {
                newer.token = box.token;
                QVERIFY(newer.connectAndHello(port()));
            } else if (cause == u"too-big") {
                box.sendRaw(QByteArray(DecodeLimits{}.maxFrameBytes + 1024, 'x'));
            } else if (cause == u"stop") {
                m_server->stop();
            }
        }
        QVERIFY(box.waitClosed(8000));
        QCOMPARE(int(box.socket().closeCode()), code);
        if (reason.isEmpty())
            return;
        QVERIFY2(box.socket().closeReason().contains(reason), qPrintable(box.socket().closeReason()));
    }

    void unmaskedFrameCloses()
    {
        // RFC 6455: client frames are masked; an unmasked one is a protocol error.
        start();
        QVERIFY(rawFrameCloses(0x82, encode(Message(MessageType::Ping, 1)), 1002, u"masked"_qs, false));
    }

    void heartbeatFitsTheIdleTimeout()
    {
        // The welcome's hb is the interval a box pings at when it has nothing else to send: with
        // --idle-timeout 4 the server must not announce the default 30 s and cut such a box off.
        m_config.autoApprove = true;
        m_config.idleTimeoutSeconds = 4;
        start();
        TestBox box(QStringLiteral("HB-1"));
        const auto w = box.connectAndHello(port());
        QVERIFY(w);
        QCOMPARE(w->heartbeatSeconds, 2); // half the idle timeout
        QNetworkAccessManager nam;
        OperatorClient op;
        QVERIFY(op.open(m_server->operatorWsPort()));
        op.send(QStringLiteral("{\"t\":\"hello\",\"id\":1,\"v\":[1,2],\"role\":\"operator\",\"token\":\"%1\"}")
                    .arg(login(nam, m_server->httpPort(), u"admin"_qs, kAdminPassword)));
        const auto opWelcome = op.waitFor(u"welcome"_qs);
        QVERIFY(opWelcome);
        QCOMPARE(opWelcome->value(u"hb").toInt(), 2);

        // A box that does what hb says (a ping each hb, nothing else) stays past the timeout.
        QTimer heartbeat;
        connect(&heartbeat, &QTimer::timeout, &box, [&box] { box.send(MessageType::Ping); });
        heartbeat.start(w->heartbeatSeconds * 1000);
        QSignalSpy closed(&box, &TestBox::closed);
        QVERIFY(!closed.wait(m_config.idleTimeoutSeconds * 1500));
        QVERIFY(box.isOpen());
        // And one that falls silent is still closed.
        heartbeat.stop();
        QVERIFY(closed.wait(3 * m_config.idleTimeoutSeconds * 1000));
    }

private:
    /// Upgrades a plain TCP connection to the box port, sends one frame (masked unless told
    /// otherwise) and checks the close frame the server answers with.
    bool rawFrameCloses(quint8 head, const QByteArray &payload, int code, const QString &reason, bool masked = true)
    {
        // The server runs on this thread: wait on signals (the event loop), never block.
        QTcpSocket tcp;
        QSignalSpy connected(&tcp, &QTcpSocket::connected);
        QSignalSpy readable(&tcp, &QTcpSocket::readyRead);
        const auto more = [&] {
            if (tcp.bytesAvailable() == 0 && !readable.wait(5000))
                return false;
            readable.clear();
            return true;
        };
        tcp.connectToHost(QHostAddress::LocalHost, port());
        if (!connected.wait(5000))
            return false;
        tcp.write("GET /box HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        QByteArray in;
        while (!in.contains("\r\n\r\n")) {
            if (!more())
                return false;
            in += tcp.readAll();
        }
        if (!in.startsWith("HTTP/1.1 101"))
            return false;
        in.remove(0, in.indexOf("\r\n\r\n") + 4);
        QByteArray frame(1, char(head));
        const char mask[4] = {0x11, 0x22, 0x33, 0x44};
        frame.append(char((masked ? 0x80 : 0) | payload.size())); // short payloads only
        QByteArray body = payload;
        if (masked) {
            frame.append(mask, 4);
            for (qsizetype i = 0; i < body.size(); ++i)
                body[i] = char(body[i] ^ mask[i % 4]);
        }
        tcp.write(frame + body);
        // The answer: a close frame (0x88), unmasked, code and reason.
        while (in.size() < 4 || in.size() < 2 + (quint8(in[1]) & 0x7f)) {
            if (!more())
                break;
            in += tcp.readAll();
        }
        if (in.size() < 4 || quint8(in[0]) != 0x88) {
            qWarning() << "no close frame:" << in.toHex();
            return false;
        }
        const int got = (quint8(in[2]) << 8) | quint8(in[3]);
        const QString text = QString::fromUtf8(in.mid(4, (quint8(in[1]) & 0x7f) - 2));
        if (got != code || !text.contains(reason)) {
            qWarning() << "close" << got << text;
            return false;
        }
        return true;
    }

    void start()
    {
        m_server = std::make_unique<ControlServer>(m_config);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }
    quint16 port() const { return m_server->boxPort(); }

    std::unique_ptr<QTemporaryDir> m_dir;
    ControlConfig m_config;
    std::unique_ptr<ControlServer> m_server;
};

QTEST_GUILESS_MAIN(TestControlEnroll)
#include "tst_controlenroll.moc"
