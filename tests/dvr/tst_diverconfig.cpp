// diver's configuration file: the documented file loads, [server] http_priority takes normal or
// realtime only, and [archive] token_seconds is 0 or long enough for a box to renew its tokens.

#include <config.h>

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using iptv::diver::DiverConfig;

namespace {
const QString DefaultConfig = QStringLiteral(IPTV_TEST_DATA "/../../resources/config/diver.conf");

/// Loads a diver.conf in `dir` holding `[section]` and `text`.
bool loadSection(const QTemporaryDir &dir, const QByteArray &section, const QByteArray &text, DiverConfig *config, QString *error)
{
    const QString path = dir.filePath(u"diver.conf"_qs);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return false;
    f.write("[" + section + "]\n" + text);
    f.close();
    return iptv::diver::loadConfigFile(path, config, error);
}
}

class TestDiverConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void documentedFileLoads()
    {
        DiverConfig config;
        QString error;
        QVERIFY2(iptv::diver::loadConfigFile(DefaultConfig, &config, &error), qPrintable(error));
        QCOMPARE(config.realtimeHttp, DiverConfig().realtimeHttp);
    }

    // Folders given on the command line relative to the working folder are made absolute at
    // once (the orphan sweep compares the storage's listing with the folders rows name).
    void relativePathsBecomeAbsolute()
    {
        QCommandLineParser parser;
        iptv::diver::addCommandLineOptions(&parser);
        QVERIFY(parser.parse({u"diver"_qs, u"--data-dir"_qs, u"data"_qs, u"--storage"_qs, u"disk/../st"_qs, u"--guide-file"_qs,
                              u"guide.bin"_qs, u"--database"_qs, u"db.sqlite"_qs}));
        DiverConfig config;
        QString error;
        QVERIFY2(iptv::diver::loadConfig(parser, &config, &error), qPrintable(error));
        const QDir here = QDir::current();
        QCOMPARE(config.dataDir, here.absoluteFilePath(u"data"_qs));
        QCOMPARE(config.storagePaths, QStringList{here.absoluteFilePath(u"st"_qs)});
        QCOMPARE(config.effectiveStoragePaths(), QStringList{here.absoluteFilePath(u"st"_qs)});
        QCOMPARE(config.guideFile, here.absoluteFilePath(u"guide.bin"_qs));
        QCOMPARE(config.effectiveDatabase(), here.absoluteFilePath(u"db.sqlite"_qs));
        QVERIFY(parser.parse({u"diver"_qs, u"--data-dir"_qs, u"data"_qs, u"--guide-file"_qs, u"g"_qs, u"--database"_qs,
                              u"postgresql://diver@db/diver"_qs}));
        DiverConfig cluster;
        QVERIFY2(iptv::diver::loadConfig(parser, &cluster, &error), qPrintable(error));
        QCOMPARE(cluster.effectiveStoragePaths(), QStringList{here.absoluteFilePath(u"data/storage"_qs)});
        QCOMPARE(cluster.database, u"postgresql://diver@db/diver"_qs);
    }

    void httpPriority_data()
    {
        QTest::addColumn<QByteArray>("value");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<bool>("realtime");
        QTest::newRow("normal") << QByteArray("normal") << true << false;
        QTest::newRow("realtime") << QByteArray("realtime") << true << true;
        QTest::newRow("unknown") << QByteArray("fast") << false << false;
        QTest::newRow("empty") << QByteArray() << false << false;
    }
    void httpPriority()
    {
        QFETCH(QByteArray, value);
        QFETCH(bool, ok);
        QFETCH(bool, realtime);
        QTemporaryDir dir;
        DiverConfig config;
        QString error;
        QCOMPARE(loadSection(dir, "server", "http_priority=" + value + '\n', &config, &error), ok);
        if (ok) {
            QCOMPARE(config.realtimeHttp, realtime);
        } else {
            QVERIFY2(error.contains(u"server/http_priority") && error.contains(u"neither normal nor realtime"), qPrintable(error));
        }
    }

    void archiveTokenSeconds_data()
    {
        QTest::addColumn<QByteArray>("value");
        QTest::addColumn<int>("seconds"); ///< -1: refused
        QTest::newRow("default") << QByteArray("0") << 0;
        QTest::newRow("ten") << QByteArray("10") << 10;
        QTest::newRow("an hour") << QByteArray("3600") << 3600;
        QTest::newRow("too short") << QByteArray("9") << -1;
        QTest::newRow("negative") << QByteArray("-5") << -1;
        QTest::newRow("not a number") << QByteArray("soon") << -1;
    }
    void archiveTokenSeconds()
    {
        QFETCH(QByteArray, value);
        QFETCH(int, seconds);
        QTemporaryDir dir;
        DiverConfig config;
        QString error;
        QCOMPARE(loadSection(dir, "archive", "token_seconds=" + value + '\n', &config, &error), seconds >= 0);
        if (seconds >= 0)
            QCOMPARE(config.archiveTokenSeconds, seconds);
        else
            QVERIFY2(error.contains(u"archive/token_seconds"), qPrintable(error));
    }

    // [recording] channel_streams: nodes pulling one channel at once (0, the default: no limit);
    // negative refused by name.
    void channelStreams()
    {
        QTemporaryDir dir;
        const auto load = [&](const QByteArray &text, DiverConfig *config, QString *error) {
            return loadSection(dir, "recording", text, config, error);
        };
        DiverConfig config;
        QString error;
        QCOMPARE(config.channelStreams, 0);
        QVERIFY2(load("capacity=8\nchannel_streams=2\n", &config, &error), qPrintable(error));
        QCOMPARE(config.channelStreams, 2);
        QCOMPARE(config.capacity, 8);
        DiverConfig bad;
        QVERIFY(!load("channel_streams=-1\n", &bad, &error));
        QVERIFY2(error.contains(u"recording/channel_streams"), qPrintable(error));
    }

    // The limits on what clients hold: each key read, out of its range refused by name.
    void clientLimits()
    {
        QTemporaryDir dir;
        const auto load = [&](const QByteArray &text, DiverConfig *config, QString *error) {
            return loadSection(dir, "server", text, config, error);
        };
        DiverConfig config;
        QString error;
        QVERIFY2(load("idle_timeout_seconds=5\nmax_connections=900\nmax_connections_per_address=20\nmax_downloads=40\n"
                      "max_downloads_per_address=3\nmax_event_sockets_per_owner=1\nthumbnail_threads=2\nthumbnail_queue=6\n"
                      "thumbnail_queue_per_owner=1\n",
                      &config, &error),
                 qPrintable(error));
        QCOMPARE(config.idleTimeoutSeconds, 5);
        QCOMPARE(config.maxConnections, 900);
        QCOMPARE(config.maxConnectionsPerAddress, 20);
        QCOMPARE(config.maxDownloads, 40);
        QCOMPARE(config.maxDownloadsPerAddress, 3);
        QCOMPARE(config.maxEventSocketsPerOwner, 1);
        QCOMPARE(config.thumbnailThreads, 2);
        QCOMPARE(config.thumbnailQueue, 6);
        QCOMPARE(config.thumbnailQueuePerOwner, 1);
        DiverConfig bad;
        QVERIFY(!load("max_downloads_per_address=0\n", &bad, &error));
        QVERIFY2(error.contains(u"max_downloads_per_address"), qPrintable(error));
        QVERIFY(!load("idle_timeout_seconds=0\n", &bad, &error));
        QVERIFY2(error.contains(u"idle_timeout_seconds"), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TestDiverConfig)
#include "tst_diverconfig.moc"
