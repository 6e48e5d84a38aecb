// Two controlserver nodes (real processes) sharing a real PostgreSQL and a real Redis, both
// started by the test: a box enrolled on node B is learned by node A, a command issued on A
// reaches the box on B and its result is visible on A, and a command issued on A while the box
// is offline is delivered when the box comes back to B. Skipped with a message when PostgreSQL,
// Qt's QPSQL driver or redis-server are missing.
#include "../common/postgresserver.h"
#include "../common/redisserver.h"
#include "testbox.h"

#include <payload/bundle.h>

#include <QDir>

#include <QProcess>
#include <QTcpServer>

using namespace testutil;
using namespace Qt::StringLiterals;

namespace {

quint16 freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

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
        QVERIFY(QDir().mkpath(src));
        QFile qml(src + u"/Main.qml"_s);
        QVERIFY(qml.open(QIODevice::WriteOnly));
        qml.write("import QtQuick\nItem {}\n");
        qml.close();
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
};

QTEST_GUILESS_MAIN(TstControlCluster)
#include "tst_controlcluster.moc"
