// End to end: the controlserver binary and fleetsim's 200 boxes (real libs/boxlink clients) as
// separate processes. A signed bundle is uploaded, a staged rollout to the clean channel is
// started, every box downloads the bundle with its token (--install-mode download), checks its
// sha256 and reports; the rollout completes group by group. Skipped when the binaries are not built.

#include "testbox.h"

#include <payload/bundle.h>

#include <QDir>
#include <QProcess>
#include <QRandomGenerator>
#include <QTcpServer>

using namespace testutil;

namespace {

const QString kServer = QStringLiteral(IPTV_BINARY_DIR "/server/controlserver/controlserver");
const QString kFleetsim = QStringLiteral(IPTV_BINARY_DIR "/tools/fleetsim/fleetsim");
constexpr int kBoxes = 200;

quint16 freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

void stopProcess(QProcess *p)
{
    if (p->state() == QProcess::NotRunning)
        return;
    p->terminate();
    if (!p->waitForFinished(10000)) {
        p->kill();
        p->waitForFinished(5000);
    }
}

} // namespace

class TestControlFleetRollout : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (!QFile::exists(kServer) || !QFile::exists(kFleetsim))
            QSKIP("build the controlserver and fleetsim targets first");
        QVERIFY(m_dir.isValid());
    }
    void cleanupTestCase()
    {
        stopProcess(&m_fleetsim);
        stopProcess(&m_server);
    }

    void rolloutToFleetsim()
    {
        // A key and a bundle, as iptv-payload would make them.
        const iptv::payload::SigningKey key = iptv::payload::SigningKey::generate();
        const QString pub = m_dir.filePath(u"release.pub"_qs);
        QVERIFY(key.publicKey().save(pub));
        const QString src = m_dir.filePath(u"src"_qs);
        QVERIFY(QDir().mkpath(src));
        QFile f(src + u"/Main.qml"_qs);
        QVERIFY(f.open(QIODevice::WriteOnly));
        // Incompressible, so 200 boxes fetch 200 MB: the download route has to stream.
        QByteArray payload(1024 * 1024, Qt::Uninitialized);
        for (qsizetype i = 0; i < payload.size(); ++i)
            payload[i] = char(QRandomGenerator::global()->generate());
        f.write(payload);
        f.close();
        QString error;
        const QByteArray bundle = signedBundle(src, u"1.1.0"_qs, u"1.0.0"_qs, key, m_dir.filePath(u"1.1.0.bundle"_qs), &error);
        QVERIFY2(!bundle.isEmpty(), qPrintable(error));

        const quint16 boxPort = freePort(), httpPort = freePort(), wsPort = freePort();
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"IPTV_CONTROL_ADMIN_PASSWORD"_qs, kAdminPassword);
        env.insert(u"QT_LOGGING_RULES"_qs, u"iptv.*.debug=false\niptv.control.enroll.info=false"_qs);
        m_server.setProcessEnvironment(env);
        m_server.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_server.start(kServer, {u"--bind"_qs, u"127.0.0.1"_qs, u"--box-port"_qs, QString::number(boxPort), u"--http-port"_qs,
                                 QString::number(httpPort), u"--operator-ws-port"_qs, QString::number(wsPort), u"--data-dir"_qs,
                                 m_dir.filePath(u"data"_qs), u"--auto-approve"_qs, u"--trust-key"_qs, pub});
        QVERIFY(m_server.waitForStarted(10000));
        QTRY_VERIFY_WITH_TIMEOUT(http(m_nam, "GET", httpPort, u"/healthz"_qs).status == 200, 20000);
        const QString token = login(m_nam, httpPort, u"admin"_qs, kAdminPassword);
        QVERIFY(!token.isEmpty());

        m_fleetsim.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_fleetsim.setStandardOutputFile(QProcess::nullDevice());
        m_fleetsim.start(kFleetsim, {u"--server"_qs, QStringLiteral("ws://127.0.0.1:%1/box").arg(boxPort), u"--boxes"_qs,
                                     QString::number(kBoxes), u"--install-mode"_qs, u"download"_qs,
                                     u"--install-fail-percent"_qs, u"0"_qs, u"--duration"_qs, u"120"_qs});
        QVERIFY(m_fleetsim.waitForStarted(10000));
        const auto online = [&] {
            return http(m_nam, "GET", httpPort, u"/api/boxes?online=true&limit=1"_qs, token).json().value(u"total").toInt();
        };
        QTRY_COMPARE_WITH_TIMEOUT(online(), kBoxes, 30000);

        QCOMPARE(postRaw(m_nam, httpPort, u"/api/releases"_qs, token, bundle).status, 201);

        const Http created = http(m_nam, "POST", httpPort, u"/api/rollouts"_qs, token,
                                  {{u"release"_qs, u"1.1.0"_qs}, {u"channel"_qs, u"clean"_qs},
                                   {u"groups"_qs, QJsonObject{{u"percent"_qs, QJsonArray{10, 50, 100}}}},
                                   {u"thresholds"_qs, QJsonObject{{u"successThreshold"_qs, 0.95}, {u"errorThreshold"_qs, 0.05}}},
                                   {u"start"_qs, true}});
        QCOMPARE(created.status, 201);
        const QString id = created.json().value(u"rollout"_qs).toObject().value(u"id").toString();
        QCOMPARE(created.json().value(u"rollout"_qs).toObject().value(u"total").toInt(), kBoxes);

        QJsonObject rollout;
        const auto state = [&] {
            rollout = http(m_nam, "GET", httpPort, u"/api/rollouts/"_qs + id, token).json().value(u"rollout").toObject();
            return rollout.value(u"state").toString();
        };
        QTRY_COMPARE_WITH_TIMEOUT(state(), u"completed"_qs, 45000);
        QCOMPARE(rollout.value(u"succeeded").toInt(), kBoxes);
        QCOMPARE(rollout.value(u"failed").toInt(), 0);
        // Every box fetched the bundle itself.
        const QByteArray metrics = http(m_nam, "GET", httpPort, u"/metrics"_qs).body;
        const QByteArray line = QByteArray("controlserver_release_downloads_total ").append(QByteArray::number(kBoxes));
        QVERIFY2(metrics.contains(line), metrics.constData());
    }

private:
    QTemporaryDir m_dir;
    QProcess m_server;
    QProcess m_fleetsim;
    QNetworkAccessManager m_nam;
};

QTEST_MAIN(TestControlFleetRollout)
#include "tst_controlfleetrollout.moc"
