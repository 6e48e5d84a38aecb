// Two controlserver nodes (real processes) sharing a real PostgreSQL and a real Redis, both
// started by the test: a box enrolled on node B is learned by node A, a command issued on A
// reaches the box on B and its result is visible on A, a command issued on A while the box is
// offline is delivered when the box comes back to B, an operator on one node follows the boxes,
// rollouts and fleet summary of the other, and telemetry nobody follows stays off Redis. Skipped
// with a message when PostgreSQL, Qt's QPSQL driver or redis-server are missing.
#include "../common/postgresserver.h"
#include "../common/redisserver.h"
#include "testbox.h"

#include "cluster/redisfleetbus.h"

#include <payload/bundle.h>

#include <QDeadlineTimer>
#include <QDir>
#include <QProcess>
#include <QTcpServer>

#include <functional>

using namespace testutil;
using namespace Qt::StringLiterals;

namespace {

quint16 freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

/// An operator on the live WebSocket (JSON text frames), with an inbox to wait on.
class OperatorSocket : public QObject
{
public:
    bool connectTo(quint16 port, const QString &token)
    {
        connect(&m_ws, &QWebSocket::textMessageReceived, this,
                [this](const QString &t) { m_inbox.append(QJsonDocument::fromJson(t.toUtf8()).object()); });
        QSignalSpy connected(&m_ws, &QWebSocket::connected);
        m_ws.open(QUrl(u"ws://127.0.0.1:%1/"_s.arg(port)));
        if (!connected.wait(10000))
            return false;
        send({{u"t"_s, u"hello"_s}, {u"v"_s, QJsonArray{1, 2}}, {u"role"_s, u"operator"_s}, {u"token"_s, token}});
        return next([](const QJsonObject &o) { return o.value(u"t").toString() == u"welcome"; }, 10000).has_value();
    }
    void subscribe(const QStringList &topics) { send({{u"t"_s, u"subscribe"_s}, {u"topics"_s, QJsonArray::fromStringList(topics)}}); }
    /// The next message that `match` accepts within `timeoutMs` (the ones before it are dropped).
    std::optional<QJsonObject> next(const std::function<bool(const QJsonObject &)> &match, int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        for (;;) {
            while (!m_inbox.isEmpty()) {
                const QJsonObject o = m_inbox.takeFirst();
                if (match(o))
                    return o;
            }
            QSignalSpy more(&m_ws, &QWebSocket::textMessageReceived);
            if (deadline.hasExpired() || !more.wait(int(std::max<qint64>(1, deadline.remainingTime()))))
                return std::nullopt;
        }
    }
    /// An update on `topic` of `kind`.
    std::optional<QJsonObject> update(const QString &topic, const QString &kind, int timeoutMs)
    {
        return next([&](const QJsonObject &o) {
            return o.value(u"t").toString() == u"update" && o.value(u"topic").toString() == topic && o.value(u"kind").toString() == kind;
        }, timeoutMs);
    }

private:
    void send(QJsonObject m)
    {
        m.insert(u"id"_s, ++m_lastId);
        m_ws.sendTextMessage(QString::fromUtf8(QJsonDocument(m).toJson(QJsonDocument::Compact)));
    }
    QWebSocket m_ws;
    QList<QJsonObject> m_inbox;
    qint64 m_lastId = 0;
};

struct Node
{
    QString name;
    quint16 boxPort = 0, httpPort = 0, wsPort = 0;
    std::unique_ptr<QProcess> process;
};

} // namespace

class TstControlCluster : public QObject
{
    Q_OBJECT

    PostgresServer m_postgres;
    RedisServer m_redis;
    QTemporaryDir m_dir;
    Node m_a, m_b;
    QNetworkAccessManager m_nam;
    iptv::payload::SigningKey m_key;

    bool startNode(Node &node, const QString &name)
    {
        node.name = name;
        node.boxPort = freePort();
        node.httpPort = freePort();
        node.wsPort = freePort();
        node.process = std::make_unique<QProcess>();
        node.process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"IPTV_CONTROL_ADMIN_PASSWORD"_s, kAdminPassword);
        node.process->setProcessEnvironment(env);
        node.process->start(QStringLiteral(IPTV_BINARY_DIR "/server/controlserver/controlserver"),
                            {u"--db"_s, m_postgres.uri(u"control"_s), u"--redis"_s,
                             u"127.0.0.1:%1"_s.arg(m_redis.port()), u"--node"_s, name, u"--bind"_s, u"127.0.0.1"_s,
                             u"--box-port"_s, QString::number(node.boxPort), u"--http-port"_s, QString::number(node.httpPort),
                             u"--operator-ws-port"_s, QString::number(node.wsPort), u"--data-dir"_s, m_dir.filePath(name),
                             u"--auto-approve"_s, u"--trust-key"_s, m_dir.filePath(u"release.pub"_s)});
        if (!node.process->waitForStarted(10000))
            return false;
        // Up when /healthz answers.
        QDeadlineTimer deadline(30000);
        while (!deadline.hasExpired() && node.process->state() == QProcess::Running) {
            if (http(m_nam, "GET", node.httpPort, u"/healthz"_s).status == 200)
                return true;
            QSignalSpy finished(node.process.get(), &QProcess::finished);
            finished.wait(100); // the server exiting ends the wait early
        }
        return false;
    }

    qint64 onlineOn(const Node &node, const QString &token)
    {
        return http(m_nam, "GET", node.httpPort, u"/api/boxes?online=true"_s, token).json().value(u"total").toInteger();
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (const QString why = PostgresServer::skipReason(); !why.isEmpty())
            QSKIP(qPrintable(why));
        if (RedisServer::binary().isEmpty())
            QSKIP("redis-server is not installed (scripts/setup-deps.sh installs it)");
        if (!QFile::exists(QStringLiteral(IPTV_BINARY_DIR "/server/controlserver/controlserver")))
            QSKIP("the controlserver binary is not built");
        QString error;
        QVERIFY2(m_postgres.start(&error), qPrintable(error));
        QVERIFY2(m_postgres.createDatabase(u"control"_s, &error), qPrintable(error));
        QVERIFY(m_redis.start());
        m_key = iptv::payload::SigningKey::generate();
        QVERIFY(m_key.publicKey().save(m_dir.filePath(u"release.pub"_s)));
        QVERIFY(startNode(m_a, u"node-a"_s));
        QVERIFY(startNode(m_b, u"node-b"_s));
    }

    void cleanupTestCase()
    {
        for (Node *n : {&m_a, &m_b}) {
            if (n->process) {
                n->process->terminate();
                n->process->waitForFinished(10000);
            }
        }
    }

    void commandAcrossNodes()
    {
        TestBox box(u"CL-1"_s);
        const auto welcome = box.connectAndHello(m_b.boxPort);
        QVERIFY(welcome);
        QCOMPARE(welcome->state, u"approved"_s);

        const QString tokenA = login(m_nam, m_a.httpPort, u"admin"_s, kAdminPassword);
        QVERIFY(!tokenA.isEmpty());
        // Node A learns the box (enrolled on B) and its presence through the cluster.
        QTRY_COMPARE_WITH_TIMEOUT(onlineOn(m_a, tokenA), 1, 10000);

        const Http issued = http(m_nam, "POST", m_a.httpPort, u"/api/commands"_s, tokenA,
                                 {{u"kind"_s, u"tune"_s}, {u"args"_s, QJsonObject{{u"channel"_s, u"arte"_s}}},
                                  {u"target"_s, QJsonObject{{u"box"_s, box.boxId}}}});
        QCOMPARE(issued.status, 201);
        QCOMPARE(issued.json().value(u"deliveredNow").toInt(), 0); // not held by node A
        const qint64 id = issued.json().value(u"commands").toArray().first().toInteger();

        const auto m = box.waitFor(MessageType::Command);
        QVERIFY2(m, "the command issued on node A did not reach the box on node B");
        QString e;
        const auto c = Command::fromBody(m->body, &e);
        QVERIFY2(c, qPrintable(e));
        QCOMPARE(qint64(c->commandId), id);
        QCOMPARE(c->args.value(u"channel"_s).toString(), u"arte"_s);
        box.finishCommand(*m, c->commandId, true, u"tuned"_s);
        // Node A answers from the shared store.
        QTRY_COMPARE_WITH_TIMEOUT(http(m_nam, "GET", m_a.httpPort, u"/api/commands/%1"_s.arg(id), tokenA)
                                      .json().value(u"state").toString(),
                                  u"succeeded"_s, 10000);
        box.close();
    }

    void rolloutAcrossNodes()
    {
        // A rollout started on node A reaches a box node B holds: the offer travels as an
        // install-release command through Redis, the box's result comes back the same way, and
        // the rollout on A completes with it.
        TestBox box(u"CL-3"_s);
        QVERIFY(box.connectAndHello(m_b.boxPort));
        const QString tokenA = login(m_nam, m_a.httpPort, u"admin"_s, kAdminPassword);
        QTRY_COMPARE_WITH_TIMEOUT(http(m_nam, "GET", m_a.httpPort, u"/api/boxes/%1"_s.arg(box.boxId), tokenA)
                                      .json().value(u"online").toBool(), true, 10000);

        const QString src = m_dir.filePath(u"payload"_s);
        QVERIFY(minimalPayload(src));
        QString error;
        const QByteArray bundle = signedBundle(src, u"2.5.0"_s, u"1.0.0"_s, m_key, m_dir.filePath(u"2.5.0.bundle"_s), &error);
        QVERIFY2(!bundle.isEmpty(), qPrintable(error));
        QCOMPARE(postRaw(m_nam, m_a.httpPort, u"/api/releases"_s, tokenA, bundle).status, 201);

        // Only this box is in the clean channel and online (the others of this test are away).
        const Http created = http(m_nam, "POST", m_a.httpPort, u"/api/rollouts"_s, tokenA,
                                  {{u"release"_s, u"2.5.0"_s}, {u"channel"_s, u"clean"_s},
                                   {u"groups"_s, QJsonObject{{u"percent"_s, QJsonArray{100}}}},
                                   {u"thresholds"_s, QJsonObject{{u"successThreshold"_s, 0.5}, {u"errorThreshold"_s, 0.5}}},
                                   {u"start"_s, true}});
        QCOMPARE(created.status, 201);
        const QString id = created.json().value(u"rollout"_s).toObject().value(u"id").toString();

        const auto m = box.waitFor(MessageType::Command, 15000);
        QVERIFY2(m, "the rollout on node A did not reach the box on node B");
        QString e;
        const auto c = Command::fromBody(m->body, &e);
        QVERIFY2(c, qPrintable(e));
        QCOMPARE(c->kind, CommandKind::InstallRelease);
        const auto offer = ReleaseAvailable::fromBody(c->args, &e);
        QVERIFY2(offer, qPrintable(e));
        QCOMPARE(offer->version, u"2.5.0"_s);
        QVERIFY2(offer->url.contains(u":%1/"_s.arg(m_a.httpPort)), qPrintable(offer->url));
        box.finishCommand(*m, c->commandId, true, u"installed"_s);

        QJsonObject rollout;
        const auto succeeded = [&] {
            rollout = http(m_nam, "GET", m_a.httpPort, u"/api/rollouts/"_s + id, tokenA).json().value(u"rollout").toObject();
            return rollout.value(u"succeeded").toInt();
        };
        QTRY_VERIFY_WITH_TIMEOUT(succeeded() >= 1, 15000);
        QCOMPARE(rollout.value(u"failed").toInt(), 0);
        box.close();
    }

    void offlineQueueAcrossNodes()
    {
        TestBox box(u"CL-2"_s);
        QVERIFY(box.connectAndHello(m_b.boxPort));
        const QString tokenA = login(m_nam, m_a.httpPort, u"admin"_s, kAdminPassword);
        QTRY_COMPARE_WITH_TIMEOUT(http(m_nam, "GET", m_a.httpPort, u"/api/boxes/%1"_s.arg(box.boxId), tokenA).status, 200, 10000);
        box.close();
        // Issued on A while the box is away from every node.
        const Http issued = http(m_nam, "POST", m_a.httpPort, u"/api/commands"_s, tokenA,
                                 {{u"kind"_s, u"reboot"_s}, {u"target"_s, QJsonObject{{u"box"_s, box.boxId}}}});
        QCOMPARE(issued.status, 201);
        const qint64 id = issued.json().value(u"commands").toArray().first().toInteger();
        // Back on B, with its token: B finds the command in the shared store.
        QVERIFY(box.connectAndHello(m_b.boxPort));
        const auto m = box.waitFor(MessageType::Command);
        QVERIFY2(m, "the queued command did not follow the box to node B");
        QString e;
        QCOMPARE(qint64(Command::fromBody(m->body, &e)->commandId), id);
    }

    void liveViewsAcrossNodes()
    {
        // An operator on node B follows a box node A holds, the rollouts A drives and the fleet:
        // A's telemetry and events, A's rollout progress and one summary over both nodes' boxes.
        TestBox onA(u"CL-LIVE-A"_s), onB(u"CL-LIVE-B"_s);
        QVERIFY(onA.connectAndHello(m_a.boxPort));
        QVERIFY(onB.connectAndHello(m_b.boxPort));
        const QString tokenA = login(m_nam, m_a.httpPort, u"admin"_s, kAdminPassword);
        const QString tokenB = login(m_nam, m_b.httpPort, u"admin"_s, kAdminPassword);
        OperatorSocket op;
        QVERIFY(op.connectTo(m_b.wsPort, tokenB));
        const QString boxTopic = u"box:"_s + onA.boxId;
        op.subscribe({boxTopic, u"rollouts"_s, u"fleet"_s});

        // Node A learns what B's operators follow through the bus: send until a sample arrives.
        Telemetry t;
        t.cpuPercent = 33;
        t.playerState = u"live-on-a"_s;
        std::optional<QJsonObject> sample;
        for (int attempt = 0; attempt < 20 && !sample; ++attempt) {
            onA.send(MessageType::Telemetry, t.toBody());
            sample = op.update(boxTopic, u"telemetry"_s, 500);
        }
        QVERIFY2(sample, "node B's operator got no telemetry of the box node A holds");
        QCOMPARE(sample->value(u"telemetry").toObject().value(u"cpu").toDouble(), 33.0);
        BoxEvent event;
        event.kind = u"playback"_s;
        event.severity = u"warning"_s;
        event.text = u"stall on A"_s;
        onA.send(MessageType::Event, event.toBody());
        const auto seen = op.update(boxTopic, u"event"_s, 10000);
        QVERIFY2(seen, "node B's operator got no event of the box node A holds");
        QCOMPARE(seen->value(u"event").toObject().value(u"text").toString(), u"stall on A"_s);

        // The summary counts what both nodes' boxes report.
        Telemetry tb;
        tb.playerState = u"live-on-b"_s;
        onB.send(MessageType::Telemetry, tb.toBody());
        const auto both = op.next([](const QJsonObject &o) {
            const QJsonObject players = o.value(u"summary").toObject().value(u"playerStates").toObject();
            return o.value(u"kind").toString() == u"summary" && players.value(u"live-on-a").toInt() == 1
                && players.value(u"live-on-b").toInt() == 1;
        }, 15000);
        QVERIFY2(both, "node B's fleet summary does not count the boxes node A holds");
        QVERIFY(both->value(u"summary").toObject().value(u"reporting").toInt() >= 2);
        QVERIFY(both->value(u"summary").toObject().value(u"online").toInt() >= 2);
        // GET /api/fleet/summary on B is the same cluster-wide summary.
        QTRY_COMPARE_WITH_TIMEOUT(http(m_nam, "GET", m_b.httpPort, u"/api/fleet/summary"_s, tokenB)
                                      .json().value(u"playerStates").toObject().value(u"live-on-a").toInt(), 1, 10000);

        // A rollout node A drives (on the experimental channel: rolloutAcrossNodes left one on
        // clean): its progress reaches B's operator.
        QCOMPARE(http(m_nam, "PUT", m_a.httpPort, u"/api/boxes/%1/channel"_s.arg(onA.boxId), tokenA,
                      {{u"channel"_s, u"experimental"_s}}).status, 200);
        const QString src = m_dir.filePath(u"payload-live"_s);
        QVERIFY(minimalPayload(src));
        QString error;
        const QByteArray bundle = signedBundle(src, u"2.6.0"_s, u"1.0.0"_s, m_key, m_dir.filePath(u"2.6.0.bundle"_s), &error);
        QVERIFY2(!bundle.isEmpty(), qPrintable(error));
        QCOMPARE(postRaw(m_nam, m_a.httpPort, u"/api/releases"_s, tokenA, bundle).status, 201);
        const auto uploaded = op.update(u"rollouts"_s, u"release"_s, 10000);
        QVERIFY2(uploaded, "node B's operator did not hear of the release uploaded on node A");
        QCOMPARE(uploaded->value(u"release").toObject().value(u"version").toString(), u"2.6.0"_s);
        const Http created = http(m_nam, "POST", m_a.httpPort, u"/api/rollouts"_s, tokenA,
                                  {{u"release"_s, u"2.6.0"_s}, {u"channel"_s, u"experimental"_s},
                                   {u"groups"_s, QJsonObject{{u"percent"_s, QJsonArray{100}}}},
                                   {u"thresholds"_s, QJsonObject{{u"successThreshold"_s, 0.1}, {u"errorThreshold"_s, 0.9}}},
                                   {u"start"_s, true}});
        QCOMPARE(created.status, 201);
        const QString id = created.json().value(u"rollout"_s).toObject().value(u"id").toString();
        const auto offer = onA.waitFor(MessageType::ReleaseAvailable, 15000);
        QVERIFY2(offer, "the rollout on node A did not offer the release to its box");
        BoxEvent installed;
        installed.kind = u"install"_s;
        installed.severity = u"info"_s;
        installed.text = u"2.6.0 passed its health check"_s;
        installed.data = {{u"version"_s, u"2.6.0"_s}, {u"phase"_s, u"committed"_s}, {u"ok"_s, true},
                          {u"rollout"_s, id.toLongLong()}};
        onA.send(MessageType::Event, installed.toBody());
        const auto progress = op.next([&](const QJsonObject &o) {
            const QJsonObject r = o.value(u"rollout").toObject();
            return o.value(u"kind").toString() == u"rollout" && r.value(u"id").toString() == id && r.value(u"succeeded").toInt() >= 1;
        }, 15000);
        QVERIFY2(progress, "node B's operator did not see the progress of the rollout node A drives");
    }

    void telemetryStaysOffTheBusUnfollowed()
    {
        // What keeps telemetry throughput: a sample goes to Redis only while someone follows the
        // box. A listener on the cluster's channels that follows nothing sees the nodes' heartbeats
        // but no sample of a box nobody follows.
        iptv::control::RedisFleetBus listener(u"listener"_s, u"127.0.0.1"_s, m_redis.port());
        QStringList topics;
        int heartbeatsOfA = 0;
        connect(&listener, &iptv::control::FleetBus::published, this, [&](const QString &topic, const QCborMap &m) {
            topics.append(topic);
            heartbeatsOfA += topic == u"cluster:live" && m.value(u"node"_s).toString() == m_a.name;
        });
        TestBox box(u"CL-QUIET"_s);
        QVERIFY(box.connectAndHello(m_a.boxPort));
        QTRY_VERIFY_WITH_TIMEOUT(heartbeatsOfA > 0, 10000);
        Telemetry t;
        t.cpuPercent = 12;
        box.send(MessageType::Telemetry, t.toBody());
        QVERIFY(box.waitFor(MessageType::Ack));
        // Node A handled the sample before it acknowledged it; its next heartbeat comes after
        // anything that sample put on the bus.
        const int before = heartbeatsOfA;
        QTRY_VERIFY_WITH_TIMEOUT(heartbeatsOfA > before, 10000);
        QVERIFY2(!topics.contains(u"box:"_s + box.boxId), qPrintable(topics.join(u' ')));
    }
};

QTEST_GUILESS_MAIN(TstControlCluster)
#include "tst_controlcluster.moc"
