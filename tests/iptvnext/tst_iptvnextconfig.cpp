// iptvnext configuration: the documented default file, and flags overriding it.

#include <config.h>

#include <QCommandLineParser>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::next;

namespace {
const QString DefaultConfig = QStringLiteral(IPTV_TEST_DATA "/../../resources/config/iptvnext.conf");

bool parse(const QStringList &args, ServerConfig *config, QString *error)
{
    QCommandLineParser parser;
    addCommandLineOptions(&parser);
    if (!parser.parse(QStringList{u"iptvnext"_qs} + args)) {
        *error = parser.errorText();
        return false;
    }
    return loadConfig(parser, config, error);
}
} // namespace

class TestIptvNextConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void documentedFileGivesDefaults()
    {
        ServerConfig fromFile;
        QString error;
        QVERIFY2(loadConfigFile(DefaultConfig, &fromFile, &error), qPrintable(error));
        const ServerConfig builtIn;
        QCOMPARE(fromFile.port, builtIn.port);
        QCOMPARE(fromFile.eventsPort, builtIn.eventsPort);
        QCOMPARE(fromFile.effectiveEventsPort(), quint16(8411));
        QCOMPARE(fromFile.refreshMinutes, builtIn.refreshMinutes);
        QCOMPARE(fromFile.refreshOnStart, builtIn.refreshOnStart);
        QCOMPARE(fromFile.days, builtIn.days);
        QCOMPARE(fromFile.from, builtIn.from);
        QCOMPARE(fromFile.keepGuides, builtIn.keepGuides);
        QCOMPARE(fromFile.compressionLevel, builtIn.compressionLevel);
        QCOMPARE(fromFile.timeZone, builtIn.timeZone);
        QCOMPARE(fromFile.database, builtIn.database);
        QVERIFY(fromFile.xmltvSources.isEmpty());
        QVERIFY(fromFile.lineup.isEmpty());
    }

    void flagsOverrideFile()
    {
        QTemporaryDir dir;
        const QString conf = dir.filePath(u"iptvnext.conf"_qs);
        QFile f(conf);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("[server]\nport=9000\ndata_dir=data\n[sources]\nxmltv=a.xml, http://example.test/b.xml.gz\n"
                "lineup=lineup.m3u\ntime_zone=Europe/Dublin\n[guide]\ndays=7\n");
        f.close();

        ServerConfig c;
        QString error;
        QVERIFY2(parse({u"--config"_qs, conf, u"--days"_qs, u"3"_qs, u"--from"_qs, u"2026-01-01T00:00:00Z"_qs}, &c, &error),
                 qPrintable(error));
        QCOMPARE(c.port, quint16(9000));
        QCOMPARE(c.dataDir, dir.filePath(u"data"_qs)); // relative to the file
        QCOMPARE(c.xmltvSources, (QStringList{dir.filePath(u"a.xml"_qs), u"http://example.test/b.xml.gz"_qs}));
        QCOMPARE(c.lineup, dir.filePath(u"lineup.m3u"_qs));
        QCOMPARE(c.timeZone.id(), QByteArray("Europe/Dublin"));
        QCOMPARE(c.days, 3);
        QCOMPARE(c.from, 1767225600);
        QCOMPARE(c.effectiveDatabase(), dir.filePath(u"data/iptvnext.sqlite"_qs));

        ServerConfig flags;
        QVERIFY(parse({u"--config"_qs, conf, u"--xmltv"_qs, u"x.xml"_qs, u"--xmltv"_qs, u"y.xml"_qs, u"--port"_qs, u"0"_qs,
                       u"--db"_qs, u"postgresql://u:p@h/d"_qs},
                      &flags, &error));
        QCOMPARE(flags.xmltvSources, (QStringList{u"x.xml"_qs, u"y.xml"_qs}));
        QCOMPARE(flags.port, quint16(0));
        QCOMPARE(flags.effectiveEventsPort(), quint16(0));
        QCOMPARE(flags.effectiveDatabase(), u"postgresql://u:p@h/d"_qs);
    }

    void invalidValues_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("errorContains");
        QTest::newRow("port") << QStringList{u"--port"_qs, u"70000"_qs} << u"--port"_qs;
        QTest::newRow("days") << QStringList{u"--days"_qs, u"0"_qs} << u"--days"_qs;
        QTest::newRow("from") << QStringList{u"--from"_qs, u"tomorrow"_qs} << u"--from"_qs;
        QTest::newRow("zone") << QStringList{u"--time-zone"_qs, u"Mars/Olympus"_qs} << u"time zone"_qs;
        QTest::newRow("refresh") << QStringList{u"--refresh"_qs, u"-5"_qs} << u"--refresh"_qs;
        QTest::newRow("missing config") << QStringList{u"--config"_qs, u"/nonexistent/iptvnext.conf"_qs} << u"does not exist"_qs;
    }

    void invalidValues()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, errorContains);
        ServerConfig c;
        QString error;
        QVERIFY(!parse(args + QStringList{u"--data-dir"_qs, u"/tmp"_qs}, &c, &error));
        QVERIFY2(error.contains(errorContains), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TestIptvNextConfig)
#include "tst_iptvnextconfig.moc"
