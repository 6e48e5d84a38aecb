// The iptvnext executable: starts from flags, serves, and exits 0 on SIGTERM.

#include "testhttp.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

namespace {
const QString Binary = QStringLiteral(IPTV_BINARY_DIR "/server/iptvnext/iptvnext");
const QString Data = QStringLiteral(IPTV_TEST_DATA "/iptvnext/");
}

class TestIptvNextProcess : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void servesAndStopsOnSigterm_data()
    {
        QTest::addColumn<int>("signalNumber");
        QTest::newRow("SIGTERM") << int(SIGTERM);
        QTest::newRow("SIGINT") << int(SIGINT);
    }

    void servesAndStopsOnSigterm()
    {
        QFETCH(int, signalNumber);
        if (!QFile::exists(Binary))
            QSKIP("iptvnext binary not built");
        QTemporaryDir dir;
        QProcess process;
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(Binary, {u"--port"_qs, u"0"_qs, u"--events-port"_qs, u"0"_qs, u"--data-dir"_qs, dir.path(),
                               u"--xmltv"_qs, Data + u"guide-a.xml"_qs, u"--from"_qs, u"2026-01-01T00:00:00Z"_qs,
                               u"--days"_qs, u"2"_qs, u"--now"_qs, u"2026-01-01T18:30:00Z"_qs,
                               u"--compression-level"_qs, u"3"_qs});
        QVERIFY(process.waitForStarted());

        // The port is chosen by the system; the log names it, then the first refresh finishes.
        QByteArray log;
        const QRegularExpression portLine(u"listening on HTTP port (\\d+)"_qs);
        QTRY_VERIFY_WITH_TIMEOUT((log += process.readAll()).contains("refresh (\"start\") done"), 20000);
        const auto match = portLine.match(QString::fromUtf8(log));
        QVERIFY2(match.hasMatch(), log.constData());

        QNetworkAccessManager nam;
        const HttpResult health = httpGet(nam, QUrl(u"http://127.0.0.1:"_qs + match.captured(1) + u"/healthz"_qs));
        QCOMPARE(health.status, 200);

        ::kill(pid_t(process.processId()), signalNumber);
        QVERIFY(process.waitForFinished(20000));
        log += process.readAll();
        QCOMPARE(process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(process.exitCode(), 0);
        QVERIFY2(log.contains("stopped"), log.constData());
    }

    void badFlagExitsWithError()
    {
        if (!QFile::exists(Binary))
            QSKIP("iptvnext binary not built");
        QProcess process;
        process.start(Binary, {u"--days"_qs, u"0"_qs});
        QVERIFY(process.waitForFinished(20000));
        QCOMPARE(process.exitCode(), 2);
        QVERIFY(process.readAllStandardError().contains("--days"));
    }
};

QTEST_GUILESS_MAIN(TestIptvNextProcess)
#include "tst_iptvnextprocess.moc"
