// diver's INI configuration: what a valid file gives, and the errors for what is not one, each
// naming the file and the key.

#include <diver/config.h>

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using iptv::diver::DiverConfig;

class TestDiverConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void valid();
    void shippedConfigLoads();
    void invalid_data();
    void invalid();

private:
    QString write(const QByteArray &text)
    {
        const QString path = m_dir.filePath(QStringLiteral("diver%1.conf").arg(++m_files));
        QFile f(path);
        if (f.open(QIODevice::WriteOnly))
            f.write(text);
        return path;
    }
    QTemporaryDir m_dir;
    int m_files = 0;
};

void TestDiverConfig::valid()
{
    const QString path = write("[server]\nport=9430\nstorage=disk1, /srv/dvr2\nmin_free_mb=500\nsegment_seconds=4\n"
                               "chunk_minutes=30\n\n[channel.ch001]\nsource=http://recast:8440/live/ch001.ts\n"
                               "archive_hours=168\n\n[channel.news-2]\nsource=http://recast:8440/live/news/720p/index.m3u8\n");
    DiverConfig c;
    QString error;
    QVERIFY2(iptv::diver::loadConfigFile(path, &c, &error), qPrintable(error));
    QCOMPARE(c.port, 9430);
    QCOMPARE(c.storage, (QStringList{m_dir.filePath(u"disk1"_qs), u"/srv/dvr2"_qs}));
    QCOMPARE(c.minFreeBytes, 500'000'000);
    QCOMPARE(c.segmentSeconds, 4.0);
    QCOMPARE(c.chunkMs, 30 * 60 * 1000);
    QCOMPARE(c.channels.size(), 2);
    QCOMPARE(c.channels[0].id, u"ch001"_qs);
    QCOMPARE(c.channels[0].archiveHours, 168.0);
    QCOMPARE(c.channels[1].id, u"news-2"_qs);
    QCOMPARE(c.channels[1].archiveHours, 24.0); // the default
}

void TestDiverConfig::shippedConfigLoads()
{
    DiverConfig c;
    QString error;
    QVERIFY2(iptv::diver::loadConfigFile(QStringLiteral(IPTV_TEST_DATA "/../../resources/config/diver.conf"), &c, &error),
             qPrintable(error));
    const DiverConfig defaults;
    QCOMPARE(c.port, defaults.port);
    QCOMPARE(c.minFreeBytes, defaults.minFreeBytes);
    QCOMPARE(c.segmentSeconds, defaults.segmentSeconds);
    QCOMPARE(c.chunkMs, defaults.chunkMs);
    QCOMPARE(c.storage, QStringList{u"/var/lib/diver/disk1"_qs});
    QVERIFY(c.channels.isEmpty());
}

void TestDiverConfig::invalid_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QString>("says");
    QTest::newRow("port") << QByteArray("[server]\nport=99999\n") << u"port"_qs;
    QTest::newRow("segment length") << QByteArray("[server]\nsegment_seconds=30\n") << u"segment_seconds"_qs;
    QTest::newRow("channel without source") << QByteArray("[channel.a]\narchive_hours=2\n") << u"[channel.a] needs a source"_qs;
    QTest::newRow("negative window") << QByteArray("[channel.a]\nsource=http://x/a.ts\narchive_hours=-1\n") << u"archive_hours"_qs;
    QTest::newRow("channel id") << QByteArray("[channel.a%20b]\nsource=http://x/a.ts\n") << u"channel id"_qs;
}

void TestDiverConfig::invalid()
{
    QFETCH(QByteArray, text);
    QFETCH(QString, says);
    const QString path = write(text);
    DiverConfig c;
    QString error;
    QVERIFY(!iptv::diver::loadConfigFile(path, &c, &error));
    QVERIFY2(error.contains(path) && error.contains(says), qPrintable(error));
    QVERIFY(!iptv::diver::loadConfigFile(m_dir.filePath(u"missing.conf"_qs), &c, &error));
    QVERIFY2(error.contains(u"cannot be read"_qs), qPrintable(error));
}

QTEST_GUILESS_MAIN(TestDiverConfig)
#include "tst_diverconfig.moc"
