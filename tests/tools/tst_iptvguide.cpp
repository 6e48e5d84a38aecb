// End to end: the real iptv-guide binary on a small generated guide, through QProcess.

#include "../common/clirun.h"

#include <iptv-guide/commands.h>

#include <epg/xmltvreader.h>

#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

class TestIptvGuide : public QObject
{
    Q_OBJECT

    using Run = CliRun;
    static Run runTool(const QStringList &arguments) { return runCli(QStringLiteral(IPTV_GUIDE_BINARY), arguments); }

    QTemporaryDir m_dir;
    QString m_xml;
    QString m_guide;

    QString path(const QString &name) const { return m_dir.filePath(name); }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_xml = path(u"demo.xml.gz"_qs);
        m_guide = path(u"demo.guide"_qs);
        const Run gen = runTool({u"generate"_qs, u"--channels"_qs, u"12"_qs, u"--days"_qs, u"3"_qs, u"--seed"_qs,
                                 u"4"_qs, u"-q"_qs, u"-o"_qs, m_xml});
        QVERIFY2(gen.exitCode == 0, qPrintable(gen.err));
        QVERIFY(gen.out.contains(u"12 channels x 3 days"_qs));
        const Run compile = runTool({u"compile"_qs, m_xml, u"-q"_qs, u"--created-at"_qs, u"1767571200"_qs, u"-o"_qs, m_guide});
        QVERIFY2(compile.exitCode == 0, qPrintable(compile.err));
        QVERIFY(compile.out.contains(u"channels           12"_qs));
        QVERIFY(QFile::exists(m_guide));
    }

    void help_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("expected");
        QTest::newRow("overview") << QStringList{u"--help"_qs} << u"Commands:"_qs;
        QTest::newRow("compile") << QStringList{u"compile"_qs, u"--help"_qs} << u"iptv-guide compile"_qs;
        QTest::newRow("inspect") << QStringList{u"inspect"_qs, u"--help"_qs} << u"--channels"_qs;
        QTest::newRow("search") << QStringList{u"search"_qs, u"--help"_qs} << u"--category"_qs;
        QTest::newRow("export") << QStringList{u"export"_qs, u"-h"_qs} << u"--output"_qs;
        QTest::newRow("generate") << QStringList{u"generate"_qs, u"--help"_qs} << u"--seed"_qs;
    }
    void help()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, expected);
        const Run r = runTool(arguments);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(expected), qPrintable(r.out));
    }

    void usageErrors_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("expected");
        QTest::newRow("no command") << QStringList{} << u"Usage"_qs;
        QTest::newRow("unknown command") << QStringList{u"frobnicate"_qs} << u"unknown command"_qs;
        QTest::newRow("unknown option") << QStringList{u"inspect"_qs, u"--bogus"_qs, u"x"_qs} << u"bogus"_qs;
        QTest::newRow("compile without output") << QStringList{u"compile"_qs, u"in.xml"_qs} << u"-o"_qs;
        QTest::newRow("compile bad days") << QStringList{u"compile"_qs, u"in.xml"_qs, u"-o"_qs, u"x"_qs, u"--days"_qs, u"zero"_qs}
                                          << u"--days"_qs;
        QTest::newRow("compile bad from") << QStringList{u"compile"_qs, u"in.xml"_qs, u"-o"_qs, u"x"_qs, u"--from"_qs, u"soon"_qs}
                                          << u"--from"_qs;
        QTest::newRow("search without query") << QStringList{u"search"_qs, u"x.guide"_qs} << u"query"_qs;
        QTest::newRow("generate bad channels") << QStringList{u"generate"_qs, u"--channels"_qs, u"-3"_qs, u"-o"_qs, u"x"_qs}
                                               << u"--channels"_qs;
        QTest::newRow("generate bad repeats") << QStringList{u"generate"_qs, u"--repeats"_qs, u"100"_qs, u"-o"_qs, u"x"_qs}
                                              << u"--repeats"_qs;
    }
    void usageErrors()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, expected);
        const Run r = runTool(arguments);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
    }

    void badInputs_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("named");
        QTest::newRow("missing xmltv") << QStringList{u"compile"_qs, u"/nonexistent/missing.xml"_qs, u"-o"_qs, u"x.guide"_qs}
                                       << u"missing.xml"_qs;
        QTest::newRow("missing guide") << QStringList{u"inspect"_qs, u"/nonexistent/nothing.guide"_qs} << u"nothing.guide"_qs;
        QTest::newRow("unknown channel") << QStringList{u"search"_qs, u"@guide"_qs, u"news"_qs, u"--channel"_qs, u"nope.tv"_qs}
                                         << u"nope.tv"_qs;
        QTest::newRow("unwritable export") << QStringList{u"export"_qs, u"@guide"_qs, u"-o"_qs, u"/nonexistent/back.xml"_qs}
                                           << u"back.xml"_qs;
    }
    void badInputs()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, named);
        arguments.replaceInStrings(u"@guide"_qs, m_guide);
        const Run r = runTool(arguments);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(named), qPrintable(r.err));
    }

    void notXmltvNamesTheFile()
    {
        const QString bogus = path(u"bogus.xml"_qs);
        QFile f(bogus);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("this is not XML at all\n");
        f.close();
        const Run r = runTool({u"compile"_qs, bogus, u"-q"_qs, u"-o"_qs, path(u"bogus.guide"_qs)});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(u"bogus.xml"_qs), qPrintable(r.err));
        QVERIFY(!QFile::exists(path(u"bogus.guide"_qs)));
    }

    void compileRefusesBrokenInput_data()
    {
        QTest::addColumn<QString>("compressor"); // how the input is packed; empty: plain
        QTest::addColumn<QString>("damage");     // "truncate" or "skipped entry"
        QTest::addColumn<QString>("allow");      // the flag that writes the guide all the same
        QTest::addColumn<int>("exitCode");
        QTest::newRow("truncated .xz") << u"xz"_qs << u"truncate"_qs << u"--allow-partial"_qs << 4;
        QTest::newRow("truncated .gz") << u"gzip"_qs << u"truncate"_qs << u"--allow-partial"_qs << 4;
        QTest::newRow("truncated plain") << QString() << u"truncate"_qs << u"--allow-partial"_qs << 4;
        QTest::newRow("skipped entry") << QString() << u"skipped entry"_qs << u"--allow-errors"_qs << 3;
    }

    /// "compile && deploy" must never ship a guide with part of its input missing.
    void compileRefusesBrokenInput()
    {
        QFETCH(QString, compressor);
        QFETCH(QString, damage);
        QFETCH(QString, allow);
        QFETCH(int, exitCode);
        const QString plain = path(u"broken-src.xml"_qs);
        // Big enough that half of it, compressed, still decompresses its first blocks.
        QVERIFY(runTool({u"generate"_qs, u"--channels"_qs, u"20"_qs, u"--days"_qs, u"7"_qs, u"--seed"_qs, u"9"_qs, u"-q"_qs,
                         u"-o"_qs, plain}).exitCode == 0);
        QFile f(plain);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QByteArray bytes = f.readAll();
        f.close();
        if (damage == u"skipped entry") // a programme without a start: skipped, the rest is whole
            bytes.replace(bytes.indexOf("<programme start="), 17, "<programme start-x=");
        if (!compressor.isEmpty()) {
            QProcess pack;
            pack.start(compressor, {u"-c"_qs});
            if (!pack.waitForStarted())
                QSKIP("compressor not installed");
            pack.write(bytes);
            pack.closeWriteChannel();
            QVERIFY(pack.waitForFinished(30000));
            bytes = pack.readAllStandardOutput();
        }
        if (damage == u"truncate")
            bytes.truncate(bytes.size() / 2);
        const QString input = path(u"broken.xml"_qs);
        QFile out(input);
        QVERIFY(out.open(QIODevice::WriteOnly | QIODevice::Truncate));
        out.write(bytes);
        out.close();

        const QString guide = path(u"broken.guide"_qs);
        QFile::remove(guide);
        Run r = runTool({u"compile"_qs, input, u"-q"_qs, u"-o"_qs, guide});
        QCOMPARE(r.exitCode, exitCode);
        QVERIFY2(!QFile::exists(guide), qPrintable(r.err));
        QVERIFY2(r.err.contains(u"nothing written"_qs) && r.err.contains(allow), qPrintable(r.err));
        // The reason is the first diagnostic printed, whatever came before it in the file.
        QVERIFY2(r.err.section(u'\n', 0, 0).contains(damage == u"truncate" ? u"fatal error"_qs : u"error"_qs),
                 qPrintable(r.err));

        r = runTool({u"compile"_qs, input, u"-q"_qs, allow, u"-o"_qs, guide});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(QFile::exists(guide));
    }

    void inspectJson()
    {
        const Run r = runTool({u"inspect"_qs, m_guide, u"--json"_qs, u"--channels"_qs});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o.value(u"channels"_qs).toInt(), 12);
        QCOMPARE(o.value(u"createdAt"_qs).toInteger(), 1767571200);
        QCOMPARE(o.value(u"validUntil"_qs).toInteger() - o.value(u"validFrom"_qs).toInteger(), 14 * 86400);
        QVERIFY(o.value(u"airings"_qs).toInt() > 12 * 3 * 10);
        QCOMPARE(o.value(u"checksum"_qs).toString().size(), 64);
        const QJsonArray channels = o.value(u"channelList"_qs).toArray();
        QCOMPARE(channels.size(), 12);
        QCOMPARE(channels.first().toObject().value(u"id"_qs).toString(), u"ch001.demo"_qs);
        int airings = 0;
        for (const auto &c : channels)
            airings += c.toObject().value(u"airings"_qs).toInt();
        QCOMPARE(airings, o.value(u"airings"_qs).toInt());

        const Run text = runTool({u"inspect"_qs, m_guide, u"--channels"_qs});
        QCOMPARE(text.exitCode, 0);
        QVERIFY(text.out.contains(u"format version"_qs));
        QVERIFY(text.out.contains(u"ch012.demo"_qs));
    }

    void searchFindsProgrammes()
    {
        const Run r = runTool({u"search"_qs, m_guide, u"news"_qs, u"--limit"_qs, u"5"_qs});
        QCOMPARE(r.exitCode, 0);
        const QStringList lines = r.out.split(u'\n', Qt::SkipEmptyParts);
        QVERIFY2(lines.size() >= 2, qPrintable(r.out));
        QVERIFY(lines.size() <= 6);
        QVERIFY(lines.last().contains(u"µs"_qs));
        QVERIFY(lines.first().contains(u".demo"_qs));

        const Run none = runTool({u"search"_qs, m_guide, u"zzzxxyqq"_qs});
        QCOMPARE(none.exitCode, 0);
        QVERIFY(none.out.startsWith(u"0 shown"_qs));

        const Run channel = runTool({u"search"_qs, m_guide, u"e"_qs, u"--channel"_qs, u"ch003.demo"_qs});
        QCOMPARE(channel.exitCode, 0);
        for (const QString &line : channel.out.split(u'\n', Qt::SkipEmptyParts).mid(0, channel.out.count(u'\n') - 1))
            QVERIFY2(line.contains(u"ch003.demo"_qs), qPrintable(line));
    }

    void searchFilters_data()
    {
        QTest::addColumn<QStringList>("options");
        QTest::addColumn<QString>("query");
        QTest::newRow("category") << QStringList{u"--category"_qs, u"movie"_qs} << u"the"_qs;
        QTest::newRow("new only") << QStringList{u"--new"_qs} << u"e"_qs;
        QTest::newRow("at, in a zone") << QStringList{u"--at"_qs, u"2026-01-06T20:00"_qs, u"--time-zone"_qs, u"Europe/Dublin"_qs}
                                       << u"news"_qs;
        QTest::newRow("limit") << QStringList{u"--limit"_qs, u"3"_qs} << u"a"_qs;
    }
    void searchFilters()
    {
        QFETCH(QStringList, options);
        QFETCH(QString, query);
        const Run r = runTool(QStringList{u"search"_qs, m_guide, query} + options);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QStringList lines = r.out.split(u'\n', Qt::SkipEmptyParts);
        QVERIFY(!lines.isEmpty());
        QVERIFY(lines.last().contains(u"matching programmes"_qs));
        if (options.contains(u"--limit"_qs))
            QVERIFY(lines.size() <= 4);
        if (options.contains(u"--at"_qs)) {
            // Nothing before the time asked for (printed in the same zone).
            for (const QString &line : lines.mid(0, lines.size() - 1))
                QVERIFY2(line.left(16) >= u"2026-01-06 20:00"_qs, qPrintable(line));
        }
    }

    void corruptGuideNamesTheFile()
    {
        QFile in(m_guide);
        QVERIFY(in.open(QIODevice::ReadOnly));
        const QByteArray bytes = in.readAll();
        const QString truncated = path(u"truncated.guide"_qs);
        QFile out(truncated);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(bytes.left(bytes.size() / 2));
        out.close();
        for (const QString &command : {u"inspect"_qs, u"export"_qs}) {
            QStringList arguments{command, truncated};
            if (command == u"export")
                arguments << u"-o"_qs << path(u"never.xml"_qs);
            const Run r = runTool(arguments);
            QCOMPARE(r.exitCode, 1);
            QVERIFY2(r.err.contains(u"truncated.guide"_qs), qPrintable(r.err));
        }
        QVERIFY(!QFile::exists(path(u"never.xml"_qs)));
    }

    void exportReadsBack()
    {
        const QString back = path(u"back.xml"_qs);
        const Run r = runTool({u"export"_qs, m_guide, u"-q"_qs, u"-o"_qs, back});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        iptv::DiagnosticList diagnostics;
        bool ok = false;
        const auto exported = iptv::epg::XmltvReader::readAll(back, &diagnostics, &ok);
        const auto original = iptv::epg::XmltvReader::readAll(m_xml, &diagnostics, &ok);
        QVERIFY(ok);
        QVERIFY(diagnostics.isEmpty());
        QCOMPARE(exported.channels.size(), original.channels.size());
        QCOMPARE(exported.programmes.size(), original.programmes.size());
        QCOMPARE(exported.programmes.first().title(), original.programmes.first().title());
    }

    void exportValidates_data()
    {
        QTest::addColumn<bool>("dropChannelElement");
        QTest::newRow("every channel declared") << false;
        QTest::newRow("a channel known only from its programmes") << true;
    }

    /// The XMLTV project's own validator (Debian xmltv-util) accepts what we export.
    void exportValidates()
    {
        QFETCH(bool, dropChannelElement);
        const QString validator = QStandardPaths::findExecutable(u"tv_validate_file"_qs);
        if (validator.isEmpty())
            QSKIP("tv_validate_file (Debian package xmltv-util) is not installed");
        // Its DTD from the package, not from xmltv.org: tests run without a network.
        if (!QFile::exists(u"/usr/share/xmltv/xmltv.dtd"_qs))
            QSKIP("xmltv-util installed without /usr/share/xmltv/xmltv.dtd");
        qputenv("XMLTV_SUPPLEMENT", "/usr/share/xmltv");
        const QString input = path(u"validate-in.xml"_qs);
        QVERIFY(runTool({u"generate"_qs, u"--channels"_qs, u"3"_qs, u"--days"_qs, u"1"_qs, u"--seed"_qs, u"5"_qs, u"-q"_qs,
                         u"-o"_qs, input}).exitCode == 0);
        const CliRun original = runCli(validator, {input});
        QVERIFY2(original.exitCode == 0, qPrintable(original.out + original.err)); // our generator's output is valid
        if (dropChannelElement) {
            QFile f(input);
            QVERIFY(f.open(QIODevice::ReadWrite));
            QByteArray xml = f.readAll();
            const qsizetype from = xml.indexOf("<channel id=");
            const qsizetype to = xml.indexOf("</channel>", from) + qsizetype(sizeof("</channel>") - 1);
            QVERIFY(from > 0 && to > from);
            xml.remove(from, to - from);
            f.resize(0);
            f.write(xml);
        }
        const QString guide = path(u"validate.guide"_qs);
        const Run compile = runTool({u"compile"_qs, input, u"-q"_qs, u"-o"_qs, guide});
        QVERIFY2(compile.exitCode == 0, qPrintable(compile.err));
        const QString exported = path(u"validate-out.xml"_qs);
        const Run exportRun = runTool({u"export"_qs, guide, u"-q"_qs, u"-o"_qs, exported});
        QVERIFY2(exportRun.exitCode == 0, qPrintable(exportRun.err));
        const CliRun validated = runCli(validator, {exported});
        QVERIFY2(validated.exitCode == 0, qPrintable(validated.out + validated.err));
    }

    void compileWithLineup()
    {
        // Three of the channels, in an order of our own, one under a name only, plus one the guide lacks.
        const QString lineup = path(u"lineup.m3u"_qs);
        QFile f(lineup);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("#EXTM3U\n"
                "#EXTINF:-1 tvg-id=\"ch005.demo\" tvg-chno=\"1\",Five\nhttp://example.test/5\n"
                "#EXTINF:-1 tvg-id=\"ch002.demo\" tvg-chno=\"2\",Two\nhttp://example.test/2\n"
                "#EXTINF:-1 tvg-id=\"missing.tv\" tvg-chno=\"3\",Not In Guide\nhttp://example.test/x\n");
        f.close();
        const QString guide = path(u"lineup.guide"_qs);
        const Run r = runTool({u"compile"_qs, m_xml, u"-q"_qs, u"--lineup"_qs, lineup, u"-o"_qs, guide});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const Run info = runTool({u"inspect"_qs, guide, u"--json"_qs, u"--channels"_qs});
        const QJsonArray channels = QJsonDocument::fromJson(info.out.toUtf8()).object().value(u"channelList"_qs).toArray();
        QCOMPARE(channels.size(), 3);
        QCOMPARE(channels.at(0).toObject().value(u"id"_qs).toString(), u"ch005.demo"_qs);
        QCOMPARE(channels.at(0).toObject().value(u"number"_qs).toInt(), 1);
        QCOMPARE(channels.at(1).toObject().value(u"id"_qs).toString(), u"ch002.demo"_qs);
        QVERIFY(channels.at(0).toObject().value(u"airings"_qs).toInt() > 0);
        QCOMPARE(channels.at(2).toObject().value(u"airings"_qs).toInt(), 0);
    }

    void parseTimeForms_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("zone");
        QTest::addColumn<qint64>("expected");
        QTest::newRow("epoch") << u"1767571200"_qs << QString() << qint64(1767571200);
        QTest::newRow("utc") << u"2026-01-05T00:00:00Z"_qs << QString() << qint64(1767571200);
        QTest::newRow("offset") << u"2026-01-05T02:00:00+02:00"_qs << QString() << qint64(1767571200);
        QTest::newRow("date") << u"2026-01-05"_qs << QString() << qint64(1767571200);
        QTest::newRow("zone") << u"2026-07-01T01:00"_qs << u"Europe/Dublin"_qs << qint64(1782864000);
    }
    void parseTimeForms()
    {
        QFETCH(QString, text);
        QFETCH(QString, zone);
        QFETCH(qint64, expected);
        qint64 t = 0;
        QString error;
        QVERIFY2(iptv::guidetool::parseTime(text, zone, &t, &error), qPrintable(error));
        QCOMPARE(t, expected);
    }
};

QTEST_GUILESS_MAIN(TestIptvGuide)
#include "tst_iptvguide.moc"
