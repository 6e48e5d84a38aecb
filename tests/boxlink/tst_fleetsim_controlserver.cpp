// fleetsim (and so BoxLink) against the real server/controlserver binary: a fleet enrolls with
// auto-approve and shows up online in the operator API, a command to every box comes back
// succeeded with a screenshot, a reconnect storm recovers, and after the server is killed and
// restarted on the same data the boxes come back by themselves with their tokens.
// Skipped when the controlserver binary is not built.

#include <fleet.h>
#include <runner.h>

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::fleetsim;

namespace {
constexpr int WaitMs = 30000;
constexpr int Boxes = 200;
const QString Binary = QStringLiteral(IPTV_BINARY_DIR "/server/controlserver/controlserver");
const QByteArray Password = "fleetsim-test-password";

quint16 freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

struct Reply
{
    int status = 0;
    QJsonObject json;
    QByteArray body;
};
} // namespace

class TestFleetsimControlServer : public QObject
{
    Q_OBJECT

private:
    bool startServer()
    {
        m_server = std::make_unique<QProcess>();
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("IPTV_CONTROL_ADMIN_PASSWORD"), QString::fromLatin1(Password));
        env.insert(QStringLiteral("QT_NO_GLIB"), QStringLiteral("1"));
        m_server->setProcessEnvironment(env);
        m_server->setProcessChannelMode(QProcess::MergedChannels);
        m_server->start(Binary, {QStringLiteral("--data-dir"), m_dir.path(), QStringLiteral("--bind"), QStringLiteral("127.0.0.1"),
                                 QStringLiteral("--box-port"), QString::number(m_boxPort), QStringLiteral("--http-port"),
                                 QString::number(m_httpPort), QStringLiteral("--operator-ws-port"), QString::number(m_wsPort),
                                 QStringLiteral("--auto-approve")});
        if (!m_server->waitForStarted(10000))
            return false;
        QByteArray log;
        QElapsedTimer clock;
        clock.start();
        while (!log.contains("controlserver up") && clock.elapsed() < WaitMs) {
            if (m_server->state() != QProcess::Running || !m_server->waitForReadyRead(1000)) {
                if (m_server->state() != QProcess::Running) {
                    qWarning() << log;
                    return false;
                }
                continue;
            }
            log += m_server->readAll();
        }
        return log.contains("controlserver up");
    }
    Reply call(const QByteArray &verb, const QString &path, const QJsonObject &body = {})
    {
        QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_httpPort).arg(path)));
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        if (!m_token.isEmpty())
            request.setRawHeader("Authorization", "Bearer " + m_token);
        std::unique_ptr<QNetworkReply> reply(
            m_nam.sendCustomRequest(request, verb, body.isEmpty() ? QByteArray() : QJsonDocument(body).toJson()));
        QSignalSpy finished(reply.get(), &QNetworkReply::finished);
        if (!reply->isFinished())
            finished.wait(WaitMs);
        Reply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.body = reply->readAll();
        r.json = QJsonDocument::fromJson(r.body).object();
        return r;
    }
    int serverOnline() { return call("GET", QStringLiteral("/api/fleet/summary")).json.value(QLatin1String("online")).toInt(); }

    QTemporaryDir m_dir;
    std::unique_ptr<QProcess> m_server;
    QNetworkAccessManager m_nam;
    quint16 m_boxPort = 0, m_httpPort = 0, m_wsPort = 0;
    QByteArray m_token;

private Q_SLOTS:
    void initTestCase()
    {
        if (!QFileInfo(Binary).isExecutable())
            QSKIP("server/controlserver is not built in this build directory");
        m_boxPort = freePort();
        m_httpPort = freePort();
        m_wsPort = freePort();
        QVERIFY(startServer());
        const Reply login = call("POST", QStringLiteral("/api/login"),
                                 {{QStringLiteral("account"), QStringLiteral("admin")},
                                  {QStringLiteral("password"), QString::fromLatin1(Password)}});
        QVERIFY2(login.status == 200, login.body.constData());
        m_token = login.json.value(QLatin1String("token")).toString().toLatin1();
    }
    void cleanupTestCase()
    {
        if (m_server) {
            m_server->terminate();
            if (!m_server->waitForFinished(10000))
                m_server->kill();
        }
    }

    void fleetLifecycle()
    {
        RunOptions o;
        o.fleet.server = QUrl(QStringLiteral("ws://127.0.0.1:%1/box").arg(m_boxPort));
        o.fleet.boxes = Boxes;
        o.fleet.serialPrefix = QStringLiteral("IT");
        o.fleet.telemetryInterval = 0.5;
        o.fleet.backoffBaseMs = 200;
        o.fleet.backoffCapMs = 2000;
        o.quiet = true;
        o.json = true;
        QString out, err;
        QTextStream outStream(&out), errStream(&err);
        FleetRunner runner(o, outStream, errStream);
        runner.start();
        QTRY_COMPARE_WITH_TIMEOUT(runner.snapshot().online, Boxes, WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(serverOnline(), Boxes, WaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(runner.snapshot().totals.telemetryAcked >= quint64(Boxes), WaitMs);

        // A screenshot from every box, through the operator API.
        const Reply issued = call("POST", QStringLiteral("/api/commands"),
                                  {{QStringLiteral("kind"), QStringLiteral("screenshot")},
                                   {QStringLiteral("target"), QJsonObject{{QStringLiteral("all"), true}}}});
        QVERIFY2(issued.status / 100 == 2, issued.body.constData());
        QTRY_COMPARE_WITH_TIMEOUT(runner.snapshot().totals.resultsSent, quint64(Boxes), WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(call("GET", QStringLiteral("/api/commands?state=succeeded&limit=1000"))
                                      .json.value(QLatin1String("items")).toArray().size(),
                                  Boxes, WaitMs);

        // Every connection dropped at once: all back by themselves.
        runner.localFleet()->storm();
        QTRY_VERIFY_WITH_TIMEOUT(runner.snapshot().stormRecoveredAtMs >= 0, WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(serverOnline(), Boxes, WaitMs);

        // The server is killed and started again on the same data: boxes return with their tokens.
        const quint64 reenrolled = runner.snapshot().totals.reenrollments;
        m_server->kill();
        m_server->waitForFinished(10000);
        QTRY_VERIFY_WITH_TIMEOUT(runner.snapshot().online < Boxes, WaitMs);
        QVERIFY(startServer());
        m_token.clear();
        const Reply login = call("POST", QStringLiteral("/api/login"),
                                 {{QStringLiteral("account"), QStringLiteral("admin")},
                                  {QStringLiteral("password"), QString::fromLatin1(Password)}});
        m_token = login.json.value(QLatin1String("token")).toString().toLatin1();
        QTRY_COMPARE_WITH_TIMEOUT(runner.snapshot().online, Boxes, WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(serverOnline(), Boxes, WaitMs);
        QCOMPARE(runner.snapshot().totals.reenrollments, reenrolled); // tokens survived the restart
        runner.finish();
        QVERIFY(runner.report().value(QLatin1String("connections")).toObject().value(QLatin1String("reconnects")).toDouble()
                >= 2 * Boxes);
    }
};

QTEST_GUILESS_MAIN(TestFleetsimControlServer)
#include "tst_fleetsim_controlserver.moc"
