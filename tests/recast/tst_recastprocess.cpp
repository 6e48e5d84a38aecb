// The recast executable: SIGTERM while its channels are still opening, and once they are live,
// stops every channel and exits 0 within seconds.

#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

namespace {
const QString Binary = QStringLiteral(IPTV_BINARY_DIR "/server/recast/recast");
constexpr int kChannels = 8;
}

class TestRecastProcess : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void stopsCleanlyOnSigterm_data()
    {
        QTest::addColumn<bool>("waitForLive");
        QTest::newRow("while the channels open") << false;
        QTest::newRow("live") << true;
    }

    void stopsCleanlyOnSigterm()
    {
        QFETCH(bool, waitForLive);
        if (!QFile::exists(Binary))
            QSKIP("recast binary not built");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QByteArray ini = "[server]\nport=0\n[defaults]\nsource=pattern:\nladder=low:160x90@100\nfps=25\npreset=ultrafast\n"
                         "threads=1\nsegment_seconds=1\ngop_seconds=0.5\nwindow=6\naudio_kbps=32\n";
        for (int i = 0; i < kChannels; ++i)
            ini += QStringLiteral("[channel.c%1]\nname=Channel %1\ntvg_id=c%1.test\nnumber=%1\n").arg(i + 1).toUtf8();
        QFile config(dir.filePath(u"recast.conf"_qs));
        QVERIFY(config.open(QIODevice::WriteOnly) && config.write(ini) == ini.size());
        config.close();

        QProcess process;
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(Binary, {u"--config"_qs, config.fileName(), u"--data-dir"_qs, dir.filePath(u"data"_qs)});
        QVERIFY(process.waitForStarted());
        QByteArray log;
        // Listening: the signal handler is in place, the channels' threads are opening their sources.
        QTRY_VERIFY_WITH_TIMEOUT((log += process.readAll()).contains("recast listening"), 20000);
        if (waitForLive)
            QTRY_VERIFY_WITH_TIMEOUT((log += process.readAll()).count(" live") >= kChannels, 30000);

        QElapsedTimer clock;
        clock.start();
        ::kill(pid_t(process.processId()), SIGTERM);
        QVERIFY2(process.waitForFinished(15000), "recast did not exit within 15 s of SIGTERM");
        log += process.readAll();
        qInfo().noquote() << QStringLiteral("recast exited %1 ms after SIGTERM").arg(clock.elapsed());
        QCOMPARE(process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(process.exitCode(), 0);
        QVERIFY2(QRegularExpression(QStringLiteral("stopped %1 channels in \\d+ ms").arg(kChannels)).match(QString::fromUtf8(log)).hasMatch(),
                 log.constData());
    }
};

QTEST_GUILESS_MAIN(TestRecastProcess)
#include "tst_recastprocess.moc"
