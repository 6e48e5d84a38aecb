// Command lifecycle against a real in-process controlserver: queued -> delivered -> acknowledged
// -> succeeded/failed, the offline queue (delivered on reconnect), expiry, redelivery of an
// unacknowledged command, persistence across a server restart on the same database, result data
// over HTTP, and targets (list, tag, filter, all).

#include "testbox.h"

#include "boxes/boxgateway.h"
#include "boxes/fleet.h"
#include "cluster/fleetbus.h"
#include "store/store.h"

using namespace testutil;
using namespace iptv::control;

namespace {
/// A bus that says the store is shared (as in a cluster) and loops publications back.
class SharedBus : public LocalFleetBus
{
public:
    using LocalFleetBus::LocalFleetBus;
    bool isShared() const override { return true; }
};

double metric(const QByteArray &text, const QByteArray &series)
{
    for (const QByteArray &line : text.split('\n')) {
        if (line.startsWith(QByteArray(series + ' ')))
            return line.mid(series.size() + 1).toDouble();
    }
    return -1;
}
} // namespace

class TestControlCommands : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        m_config = testConfig(*m_dir);
        m_config.autoApprove = true;
    }
    void cleanup() { m_server.reset(); }

    // In a cluster, commands another node issued to boxes that were offline are read from the
    // shared store when the boxes come online here: for all boxes of a burst of hellos in a few
    // queries, not two per hello on the event loop.
    void otherNodesCommandsLoadedInBatches()
    {
        start();
        m_server->setBus(new SharedBus);
        constexpr int kBoxes = 24;
        std::vector<std::unique_ptr<TestBox>> boxes;
        for (int i = 0; i < kBoxes; ++i) {
            boxes.push_back(std::make_unique<TestBox>(QStringLiteral("N-%1").arg(i)));
            QVERIFY(boxes.back()->connectAndHello(port()));
        }
        for (auto &b : boxes)
            b->socket().close();
        QTRY_COMPARE(m_server->gateway()->sessionCount(), 0);

        // The other node: its own connection to the shared database.
        ControlStore other;
        QString error;
        QVERIFY2(other.open(m_dir->filePath(u"controlserver.sqlite"_qs), &error), qPrintable(error));
        QList<CommandRow> rows;
        for (int i = 0; i < kBoxes; ++i) {
            const qint64 box = parseBoxId(boxes[i]->boxId);
            rows.append(CommandRow{0, 0, box, u"reboot"_qs, "\xa0", CommandState::Queued, 100, 0, 0, 0,
                                   QDateTime::currentSecsSinceEpoch() + 600, u"node-b"_qs, {}, {}, {}});
        }
        QVERIFY2(other.insertCommands(&rows, &error), qPrintable(error));

        const double before = metric(m_server->metrics().render(), "controlserver_cluster_command_sync_queries_total");
        QVERIFY(before >= 0);
        for (auto &b : boxes)
            QVERIFY(b->open(port()));
        for (auto &b : boxes)
            b->sayHello(false, true);
        for (int i = 0; i < kBoxes; ++i) {
            const auto m = boxes[i]->waitFor(MessageType::Command);
            QVERIFY2(m, qPrintable(boxes[i]->boxId));
            QCOMPARE(qint64(Command::fromBody(m->body, nullptr)->commandId), rows[i].id);
        }
        const double queries = metric(m_server->metrics().render(), "controlserver_cluster_command_sync_queries_total") - before;
        QVERIFY2(queries >= 1 && queries <= 4, qPrintable(QStringLiteral("%1 queries for %2 hellos").arg(queries).arg(kBoxes)));
        // Known now: a box that comes back is not sent it twice.
        boxes[0]->socket().close();
        QTRY_COMPARE(m_server->gateway()->sessionCount(), kBoxes - 1);
        QVERIFY(boxes[0]->connectAndHello(port()));
        const auto again = boxes[0]->waitFor(MessageType::Command);
        QVERIFY(again); // still unacknowledged: redelivered once
        QVERIFY(!boxes[0]->waitFor(MessageType::Command, 300));
    }

    void onlineLifecycle()
    {
        start();
        TestBox box(QStringLiteral("C-1"));
        QVERIFY(box.connectAndHello(port()));
        const auto r = m_server->issueCommand(m_operator, cmd(u"tune"_qs, {{u"box"_qs, box.boxId}}, {{u"channel"_qs, u"bbc-two"_qs}}));
        QVERIFY2(r.ok(), qPrintable(r.message));
        QCOMPARE(r.body.value(u"deliveredNow").toInt(), 1);
        const qint64 id = r.body.value(u"commands").toArray().first().toInteger();

        const auto m = box.waitFor(MessageType::Command);
        QVERIFY(m);
        QString e;
        const auto c = Command::fromBody(m->body, &e);
        QVERIFY2(c, qPrintable(e));
        QCOMPARE(qint64(c->commandId), id);
        QCOMPARE(c->kind, CommandKind::Tune);
        QCOMPARE(c->args.value(u"channel"_qs).toString(), u"bbc-two"_qs);
        QCOMPARE(m_server->commands().find(id)->state, CommandState::Delivered);

        CommandAck ack;
        ack.commandId = c->commandId;
        box.send(MessageType::Ack, ack.toBody(), m->id);
        QTRY_COMPARE(m_server->commands().find(id)->state, CommandState::Acknowledged);

        CommandResult res;
        res.commandId = c->commandId;
        res.ok = true;
        res.text = u"tuned"_qs;
        res.data = "log line 1\nlog line 2\n";
        res.mimeType = u"text/plain"_qs;
        const quint64 rid = box.send(MessageType::Result, res.toBody());
        const auto resAck = box.waitFor(MessageType::Ack);
        QVERIFY(resAck);
        QCOMPARE(resAck->replyTo, rid);
        QCOMPARE(m_server->commands().find(id), nullptr); // final: no longer live

        QVERIFY(m_server->flush());
        const auto row = m_server->store().command(id, true);
        QVERIFY(row);
        QCOMPARE(row->state, CommandState::Succeeded);
        QVERIFY(row->delivered > 0 && row->acknowledged > 0 && row->finished > 0);
        QCOMPARE(row->resultText, u"tuned"_qs);
        QCOMPARE(row->issuedBy, u"op"_qs);

        // The result data over HTTP.
        QNetworkAccessManager nam;
        const QString token = login(nam, m_server->httpPort(), u"admin"_qs, kAdminPassword);
        const Http data = http(nam, "GET", m_server->httpPort(), QStringLiteral("/api/commands/%1/data").arg(id), token);
        QCOMPARE(data.status, 200);
        QCOMPARE(data.body, res.data);
        QCOMPARE(data.contentType, QByteArray("text/plain"));
        const Http status = http(nam, "GET", m_server->httpPort(), QStringLiteral("/api/commands/%1").arg(id), token);
        QCOMPARE(status.json().value(u"state").toString(), u"succeeded"_qs);
    }

    void ackAndResultWithoutIds()
    {
        // The session of docs/protocol.md: the box acknowledges and answers a command with no ids
        // of its own. Both count; neither is a replay, and neither is acknowledged (no id to name).
        start();
        TestBox box(QStringLiteral("C-NOID"));
        QVERIFY(box.connectAndHello(port()));
        const auto r = m_server->issueCommand(m_operator, cmd(u"tune"_qs, {{u"box"_qs, box.boxId}}, {{u"channel"_qs, u"arte"_qs}}));
        QVERIFY(r.ok());
        const qint64 id = r.body.value(u"commands").toArray().first().toInteger();
        const auto m = box.waitFor(MessageType::Command);
        QVERIFY(m);
        box.sendWithId(MessageType::Ack, 0, CommandAck{quint64(id)}.toBody(), m->id);
        QTRY_COMPARE(m_server->commands().find(id)->state, CommandState::Acknowledged);
        CommandResult res;
        res.commandId = quint64(id);
        res.ok = true;
        box.sendWithId(MessageType::Result, 0, res.toBody());
        QTRY_VERIFY(!m_server->commands().find(id));
        QVERIFY(m_server->flush());
        QCOMPARE(m_server->store().command(id, false)->state, CommandState::Succeeded);
        const quint64 ping = box.send(MessageType::Ping);
        const QList<Message> got = box.until(MessageType::Pong);
        QCOMPARE(got.size(), 1); // nothing before the pong: no ack, no error for the id-less ones
        QCOMPARE(got.first().replyTo, ping);
    }

    void unknownCommandAckAndResult()
    {
        // docs/protocol.md: an ack of a command the server does not know is not-found; a result
        // of one is acknowledged all the same, so the box stops sending it.
        start();
        TestBox box(QStringLiteral("C-GONE"));
        QVERIFY(box.connectAndHello(port()));
        const quint64 ackId = box.send(MessageType::Ack, CommandAck{987654}.toBody(), 5);
        const auto err = box.waitFor(MessageType::Error);
        QVERIFY(err);
        QCOMPARE(err->replyTo, ackId);
        QString e;
        QCOMPARE(ErrorBody::fromBody(err->body, &e)->code, ErrorCode::NotFound);
        CommandResult res;
        res.commandId = 987654;
        res.ok = false;
        const quint64 resultId = box.send(MessageType::Result, res.toBody());
        const QList<Message> got = box.until(MessageType::Ack);
        QCOMPARE(got.size(), 1);
        QCOMPARE(got.first().replyTo, resultId);
    }

    void offlineQueueAndRedelivery()
    {
        start();
        TestBox box(QStringLiteral("C-2"));
        QVERIFY(box.connectAndHello(port()));
        box.close();
        QTRY_COMPARE(m_server->fleet().onlineCount(), 0);

        const auto r = m_server->issueCommand(m_operator, cmd(u"reboot"_qs, {{u"box"_qs, box.boxId}}));
        QVERIFY(r.ok());
        QCOMPARE(r.body.value(u"queued").toInt(), 1);
        const qint64 id = r.body.value(u"commands").toArray().first().toInteger();
        QCOMPARE(m_server->commands().find(id)->state, CommandState::Queued);

        // Delivered when the box comes back; not acknowledged, so delivered again next time.
        QVERIFY(box.connectAndHello(port()));
        auto m = box.waitFor(MessageType::Command);
        QVERIFY(m);
        QCOMPARE(m_server->commands().find(id)->state, CommandState::Delivered);
        box.close();
        QVERIFY(box.connectAndHello(port()));
        m = box.waitFor(MessageType::Command);
        QVERIFY(m);
        QString e;
        QCOMPARE(qint64(Command::fromBody(m->body, &e)->commandId), id);
    }

    void expiry()
    {
        start();
        TestBox box(QStringLiteral("C-3"));
        QVERIFY(box.connectAndHello(port()));
        box.close();
        QTRY_COMPARE(m_server->fleet().onlineCount(), 0);
        QJsonObject req = cmd(u"message"_qs, {{u"box"_qs, box.boxId}}, {{u"text"_qs, u"hi"_qs}});
        req.insert(u"expiresIn"_qs, 1);
        const auto r = m_server->issueCommand(m_operator, req);
        QVERIFY(r.ok());
        const qint64 id = r.body.value(u"commands").toArray().first().toInteger();
        QSignalSpy changed(m_server.get(), &ControlServer::commandStateChanged);
        QTRY_VERIFY_WITH_TIMEOUT(m_server->commands().find(id) == nullptr, 10000);
        QVERIFY(m_server->flush());
        QCOMPARE(m_server->store().command(id, false)->state, CommandState::Expired);
        // An expired command is not delivered.
        QVERIFY(box.connectAndHello(port()));
        QVERIFY(!box.waitFor(MessageType::Command, 500));
    }

    void survivesRestart()
    {
        start();
        TestBox box(QStringLiteral("C-4"));
        QVERIFY(box.connectAndHello(port()));
        box.close();
        QTRY_COMPARE(m_server->fleet().onlineCount(), 0);
        const auto r = m_server->issueCommand(m_operator, cmd(u"screenshot"_qs, {{u"box"_qs, box.boxId}}));
        QVERIFY(r.ok());
        const qint64 id = r.body.value(u"commands").toArray().first().toInteger();
        // No flush, no clean stop: the command was committed before the answer.
        const quint16 oldPort = port();
        Q_UNUSED(oldPort);
        m_server.reset();

        start();
        QVERIFY(m_server->commands().find(id));
        QVERIFY(box.connectAndHello(port())); // token still valid after the restart
        const auto m = box.waitFor(MessageType::Command);
        QVERIFY(m);
        QString e;
        QCOMPARE(qint64(Command::fromBody(m->body, &e)->commandId), id);
        // The audit entry survived too.
        QString error;
        const auto audit = m_server->store().audit(u"op"_qs, 10, 0, &error);
        QVERIFY(std::any_of(audit.begin(), audit.end(), [](const AuditRow &a) { return a.action == u"command.issue"; }));
    }

    void targets()
    {
        start();
        QList<std::shared_ptr<TestBox>> boxes;
        for (int i = 0; i < 4; ++i) {
            auto b = std::make_shared<TestBox>(QStringLiteral("T-%1").arg(i));
            QVERIFY(b->connectAndHello(port()));
            boxes.append(b);
        }
        const qint64 id0 = parseBoxId(boxes[0]->boxId);
        const qint64 id1 = parseBoxId(boxes[1]->boxId);
        QVERIFY(m_server->setTags(m_operator, id0, {u"lab"_qs}).ok());
        QVERIFY(m_server->setTags(m_operator, id1, {u"lab"_qs, u"eu"_qs}).ok());
        QVERIFY(m_server->setReleaseChannel(m_operator, id1, u"experimental"_qs).ok());

        auto count = [this](const QJsonObject &target) {
            const auto r = m_server->issueCommand(m_operator, cmd(u"reboot"_qs, target));
            return r.ok() ? r.body.value(u"count").toInt() : -r.status;
        };
        QCOMPARE(count({{u"tag"_qs, u"lab"_qs}}), 2);
        QCOMPARE(count({{u"boxes"_qs, QJsonArray{boxes[2]->boxId, boxes[3]->boxId}}}), 2);
        QCOMPARE(count({{u"filter"_qs, QJsonObject{{u"channel"_qs, u"experimental"_qs}}}}), 1);
        QCOMPARE(count({{u"filter"_qs, QJsonObject{{u"online"_qs, true}, {u"model"_qs, u"HX-400"_qs}}}}), 4);
        QCOMPARE(count({{u"all"_qs, true}}), 4);
        QCOMPARE(count({{u"tag"_qs, u"nobody"_qs}}), -404);
        QCOMPARE(count({}), -400);
        const auto bad = m_server->issueCommand(m_operator, cmd(u"self-destruct"_qs, {{u"all"_qs, true}}));
        QCOMPARE(bad.status, 400);
        // Every box got its commands.
        for (const auto &b : boxes)
            QVERIFY(b->waitFor(MessageType::Command));
    }

private:
    QJsonObject cmd(const QString &kind, const QJsonObject &target, const QJsonObject &args = {})
    {
        return {{u"kind"_qs, kind}, {u"target"_qs, target}, {u"args"_qs, args}};
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
    OperatorIdentity m_operator{u"op"_qs, Role::Operator};
};

QTEST_GUILESS_MAIN(TestControlCommands)
#include "tst_controlcommands.moc"
