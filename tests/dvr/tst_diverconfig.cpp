// diver's configuration file: the documented file loads, and [server] http_priority takes
// normal or realtime only.

#include <config.h>

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using iptv::diver::DiverConfig;

namespace {
const QString DefaultConfig = QStringLiteral(IPTV_TEST_DATA "/../../resources/config/diver.conf");
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
        const QString path = dir.filePath(u"diver.conf"_qs);
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("[server]\nhttp_priority=" + value + '\n');
        f.close();
        DiverConfig config;
        QString error;
        QCOMPARE(iptv::diver::loadConfigFile(path, &config, &error), ok);
        if (ok) {
            QCOMPARE(config.realtimeHttp, realtime);
        } else {
            QVERIFY2(error.contains(u"server/http_priority") && error.contains(u"neither normal nor realtime"), qPrintable(error));
        }
    }
};

QTEST_GUILESS_MAIN(TestDiverConfig)
#include "tst_diverconfig.moc"
