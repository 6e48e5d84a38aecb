// The iptvnext executable: starts from flags, serves, and exits 0 on SIGTERM.

#include "testhttp.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
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

    void truncatedSourceOnSighup_data()
    {
        QTest::addColumn<QString>("compressor"); // empty: plain XML
        QTest::newRow("plain XMLTV cut mid-element") << QString();
        QTest::newRow("half a .gz") << u"gzip"_qs;
    }

    /// A grabber caught half-way through writing its output: SIGHUP must not cut the boxes' guide.
    void truncatedSourceOnSighup()
    {
        QFETCH(QString, compressor);
        if (!QFile::exists(Binary))
            QSKIP("iptvnext binary not built");
        QFile original(Data + u"guide-a.xml"_qs);
        QVERIFY(original.open(QIODevice::ReadOnly));
        QByteArray whole = original.readAll();
        if (!compressor.isEmpty()) {
            if (QStandardPaths::findExecutable(compressor).isEmpty())
                QSKIP("compressor not installed");
            QProcess pack;
            pack.start(compressor, {u"-c"_qs});
            QVERIFY(pack.waitForStarted());
            pack.write(whole);
            pack.closeWriteChannel();
            QVERIFY(pack.waitForFinished(20000));
            whole = pack.readAllStandardOutput();
        }
        QTemporaryDir dir;
        const QString source = dir.filePath(u"grabber-output.xml"_qs);
        const auto writeSource = [&source](const QByteArray &bytes) {
            QFile f(source);
            return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(bytes) == bytes.size();
        };
        QVERIFY(writeSource(whole));

        QProcess process;
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(Binary, {u"--port"_qs, u"0"_qs, u"--events-port"_qs, u"0"_qs, u"--data-dir"_qs, dir.filePath(u"data"_qs),
                               u"--xmltv"_qs, source, u"--from"_qs, u"2026-01-01T00:00:00Z"_qs, u"--days"_qs, u"2"_qs,
                               u"--now"_qs, u"2026-01-01T18:30:00Z"_qs, u"--compression-level"_qs, u"3"_qs});
        QVERIFY(process.waitForStarted());
        QByteArray log;
        QTRY_VERIFY_WITH_TIMEOUT((log += process.readAll()).contains("refresh (\"start\") done"), 20000);
        const auto match = QRegularExpression(u"listening on HTTP port (\\d+)"_qs).match(QString::fromUtf8(log));
        QVERIFY2(match.hasMatch(), log.constData());
        const QString base = u"http://127.0.0.1:"_qs + match.captured(1);
        QNetworkAccessManager nam;
        const HttpResult before = httpGet(nam, QUrl(base + u"/guide"_qs));
        QCOMPARE(before.status, 200);
        const qint64 airings = httpGet(nam, QUrl(base + u"/api/status"_qs)).json()[u"guide"][u"airings"].toInteger();
        QVERIFY(airings > 0);

        QVERIFY(writeSource(whole.left(whole.size() / 2)));
        ::kill(pid_t(process.processId()), SIGHUP);
        QTRY_VERIFY_WITH_TIMEOUT((log += process.readAll()).contains("refresh (signal) failed"), 20000);

        const HttpResult after = httpGet(nam, QUrl(base + u"/guide"_qs));
        QCOMPARE(after.header("ETag"), before.header("ETag"));
        QCOMPARE(after.body, before.body);
        const QJsonObject status = httpGet(nam, QUrl(base + u"/api/status"_qs)).json();
        QCOMPARE(status[u"guide"][u"airings"].toInteger(), airings);
        QCOMPARE(status[u"state"].toString(), u"degraded"_qs);
        const HttpResult health = httpGet(nam, QUrl(base + u"/healthz"_qs));
        QCOMPARE(health.json()[u"status"].toString(), u"degraded"_qs);
        QVERIFY2(health.json()[u"problems"][0].toString().contains(u"fatal error"), health.body.constData());
        QVERIFY(httpGet(nam, QUrl(base + u"/metrics"_qs)).body.contains("iptvnext_refresh_failures_total 1"));

        ::kill(pid_t(process.processId()), SIGTERM);
        QVERIFY(process.waitForFinished(20000));
        QCOMPARE(process.exitCode(), 0);
    }

    void helpNamesTheProgram()
    {
        if (!QFile::exists(Binary))
            QSKIP("iptvnext binary not built");
        QProcess process;
        process.start(Binary, {u"--help"_qs});
        QVERIFY(process.waitForFinished(20000));
        QCOMPARE(process.exitCode(), 0);
        const QByteArray out = process.readAllStandardOutput();
        QVERIFY2(out.startsWith("Usage: iptvnext [options]"), out.constData());
        QVERIFY2(!out.contains(IPTV_BINARY_DIR), out.constData());
        process.start(Binary, {u"--no-such-flag"_qs});
        QVERIFY(process.waitForFinished(20000));
        QCOMPARE(process.exitCode(), 2);
        QVERIFY(process.readAllStandardError().contains("no-such-flag"));
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
