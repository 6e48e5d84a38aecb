#include <epg/m3ureader.h>

#include <QTemporaryDir>
#include <QTest>

using namespace Qt::StringLiterals;
using iptv::Diagnostic;
using iptv::DiagnosticList;
using iptv::epg::Lineup;
using iptv::epg::M3uEntry;
using iptv::epg::M3uReader;

namespace {

QString fixture(const QString &name)
{
    return QStringLiteral(IPTV_TEST_DATA "/m3u/") + name;
}

/// One field of an entry as text, so a single data table can check every field of every fixture.
QString fieldOf(const M3uEntry &e, const QString &field)
{
    if (field == u"name") return e.name;
    if (field == u"tvgId") return e.tvgId;
    if (field == u"tvgName") return e.tvgName;
    if (field == u"tvgLogo") return e.tvgLogo;
    if (field == u"groupTitle") return e.groupTitle;
    if (field == u"channelNumber") return QString::number(e.channelNumber);
    if (field == u"duration") return QString::number(e.duration);
    if (field == u"url") return e.url;
    if (field == u"catchup") return e.catchup;
    if (field == u"catchupSource") return e.catchupSource;
    if (field == u"catchupDays") return QString::number(e.catchupDays);
    if (field == u"line") return QString::number(e.line);
    if (field.startsWith(u"attr:"))
        return e.attributes.value(field.mid(5), u"<absent>"_s);
    return u"<unknown field %1>"_s.arg(field);
}

QString dump(const DiagnosticList &diag)
{
    QStringList lines;
    for (const Diagnostic &d : diag.items())
        lines.append(d.toString());
    return lines.join(u'\n');
}

} // namespace

class TestM3uReader : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fields_data();
    void fields();
    void counts_data();
    void counts();
    void diagnostics_data();
    void diagnostics();
    void lineEndings_data();
    void lineEndings();
    void longLineSkipped();
    void emptyInput_data();
    void emptyInput();
    void missingFile();
    void compressedOrUtf16();
    void binaryGarbageDoesNotCrash();
    void manyEntries();
    void latin1FileWarnsOnce();
};

void TestM3uReader::fields_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("index");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("expected");

    auto row = [](const char *file, int index, const char *field, const QString &expected) {
        QTest::addRow("%s[%d].%s", file, index, field)
            << QString::fromLatin1(file) << index << QString::fromLatin1(field) << expected;
    };

    // Every attribute the reader knows about, and the raw attribute map.
    row("full.m3u", 0, "name", u"RTÉ One HD"_s);
    row("full.m3u", 0, "tvgId", u"RTEOne.ie"_s);
    row("full.m3u", 0, "tvgName", u"RTÉ One"_s);
    row("full.m3u", 0, "tvgLogo", u"http://logo.example/rte1.png"_s);
    row("full.m3u", 0, "groupTitle", u"Ireland"_s);
    row("full.m3u", 0, "channelNumber", u"101"_s);
    row("full.m3u", 0, "duration", u"-1"_s);
    row("full.m3u", 0, "url", u"http://stream.example/live/rteone/index.m3u8"_s);
    row("full.m3u", 0, "line", u"2"_s);
    row("full.m3u", 0, "attr:tvg-language", u"English"_s);
    row("full.m3u", 0, "attr:tvg-country", u"IE"_s);
    row("full.m3u", 0, "attr:tvg-chno", u"101"_s);
    row("full.m3u", 1, "channelNumber", u"104"_s);  // channel-number
    row("full.m3u", 1, "duration", u"0"_s);
    row("full.m3u", 1, "url", u"rtp://@239.0.0.4:5000"_s);
    row("full.m3u", 1, "line", u"4"_s);
    row("full.m3u", 2, "channelNumber", u"503"_s);  // tvg-num
    row("full.m3u", 2, "tvgLogo", u"http://logo.example/skynews.png"_s); // "logo" spelling
    row("full.m3u", 2, "duration", u"10.5"_s);
    row("full.m3u", 2, "tvgName", QString());

    // Quoting styles.
    row("quotes.m3u", 0, "tvgName", u"Double, with comma"_s);
    row("quotes.m3u", 0, "groupTitle", u"News, Weather"_s);
    row("quotes.m3u", 0, "name", u"Double Quoted"_s);
    row("quotes.m3u", 1, "tvgId", u"single.id"_s);
    row("quotes.m3u", 1, "tvgName", u"Single \"inner\" quotes"_s);
    row("quotes.m3u", 1, "groupTitle", u"Sport"_s);
    row("quotes.m3u", 2, "tvgId", u"bare.id"_s);
    row("quotes.m3u", 2, "channelNumber", u"7"_s);
    row("quotes.m3u", 2, "groupTitle", u"Kids"_s);
    row("quotes.m3u", 2, "name", u"Unquoted"_s);
    row("quotes.m3u", 3, "tvgId", u"Upper.Case"_s);   // key case-insensitive, value kept
    row("quotes.m3u", 3, "attr:tvg-id", u"Upper.Case"_s);
    row("quotes.m3u", 3, "tvgName", u"spaces"_s);     // "key = value"
    row("quotes.m3u", 3, "name", u"Spaced Name"_s);
    row("quotes.m3u", 4, "tvgId", QString());
    row("quotes.m3u", 4, "attr:tvg-id", QString());   // present but empty
    row("quotes.m3u", 4, "attr:tvg-logo", u"<absent>"_s);

    // Catch-up spellings.
    row("catchup.m3u", 0, "catchup", u"default"_s);
    row("catchup.m3u", 0, "catchupDays", u"7"_s);
    row("catchup.m3u", 0, "catchupSource", u"http://cu.example/a?utc={utc}&lutc={lutc}"_s);
    row("catchup.m3u", 1, "catchup", u"append"_s);
    row("catchup.m3u", 1, "catchupDays", u"3"_s);
    row("catchup.m3u", 1, "catchupSource", u"?utc={utc}"_s);
    row("catchup.m3u", 2, "catchup", u"shift"_s);
    row("catchup.m3u", 2, "catchupDays", u"5"_s);
    row("catchup.m3u", 3, "catchupDays", u"2"_s);
    row("catchup.m3u", 3, "catchup", QString());

    // #EXTGRP, #EXTVLCOPT, #KODIPROP.
    row("directives.m3u", 0, "groupTitle", u"Documentaries"_s);
    row("directives.m3u", 0, "attr:extgrp", u"Documentaries"_s);
    row("directives.m3u", 0, "attr:vlcopt:http-user-agent", u"Mozilla/5.0 (X11)"_s);
    row("directives.m3u", 0, "attr:vlcopt:http-referrer", u"http://ref.example/"_s);
    row("directives.m3u", 0, "attr:kodiprop:inputstream", u"inputstream.adaptive"_s);
    row("directives.m3u", 0, "line", u"4"_s);
    row("directives.m3u", 1, "groupTitle", u"Movies"_s);
    row("directives.m3u", 1, "attr:extgrp", u"Ignored Because Group Title Wins"_s);
    row("directives.m3u", 1, "attr:kodiprop:inputstream", u"<absent>"_s); // belonged to entry 0 only
    row("directives.m3u", 2, "groupTitle", QString());                    // #EXTGRP is per entry
    row("directives.m3u", 2, "attr:vlcopt:http-user-agent", u"<absent>"_s);

    // BOM + CRLF.
    row("crlf-bom.m3u", 0, "tvgId", u"crlf.one"_s);
    row("crlf-bom.m3u", 0, "name", u"CRLF One"_s);
    row("crlf-bom.m3u", 0, "url", u"http://stream.example/crlf1"_s);
    row("crlf-bom.m3u", 0, "channelNumber", u"1"_s);
    row("crlf-bom.m3u", 1, "url", u"http://stream.example/crlf2"_s);
    row("crlf-bom.m3u", 1, "line", u"5"_s);

    // Latin-1 line in a UTF-8 file, then a proper UTF-8 line.
    row("latin1.m3u", 0, "name", u"Café Télé"_s);
    row("latin1.m3u", 1, "name", u"Café Télé"_s);

    // The good part of a bad file.
    row("bad.m3u", 0, "tvgId", u"first.id"_s);
    row("bad.m3u", 1, "tvgId", u"after.id"_s);
    row("bad.m3u", 1, "line", u"4"_s);
    row("bad.m3u", 2, "url", u"http://stream.example/orphan.ts"_s);
    row("bad.m3u", 2, "name", QString());
    row("bad.m3u", 2, "line", u"6"_s);
    row("bad.m3u", 3, "tvgId", u"dur.id"_s);
    row("bad.m3u", 3, "duration", u"-1"_s);
    row("bad.m3u", 4, "tvgName", u"Unterminated"_s);
    row("bad.m3u", 4, "name", u"Unterminated Quote"_s);
    row("bad.m3u", 4, "url", u"http://stream.example/q"_s);
    row("bad.m3u", 5, "tvgId", u"dup.id"_s);
    row("bad.m3u", 5, "channelNumber", u"0"_s);
    row("bad.m3u", 6, "name", u"No Comma Name"_s);
    row("bad.m3u", 6, "tvgId", u"nocomma.id"_s);
}

void TestM3uReader::fields()
{
    QFETCH(QString, file);
    QFETCH(int, index);
    QFETCH(QString, field);
    QFETCH(QString, expected);

    DiagnosticList diag;
    bool ok = false;
    const Lineup lineup = M3uReader::readFile(fixture(file), &diag, &ok);
    QVERIFY(ok);
    QVERIFY2(index < lineup.entries.size(), qPrintable(u"only %1 entries"_s.arg(lineup.entries.size())));
    QCOMPARE(fieldOf(lineup.entries.at(index), field), expected);
}

void TestM3uReader::counts_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("entries");
    QTest::addColumn<int>("errors");
    QTest::addColumn<int>("warnings");
    QTest::addColumn<QStringList>("guideUrls");

    QTest::newRow("full") << u"full.m3u"_s << 3 << 0 << 0
                          << QStringList{u"http://guide.example/ie.xml.gz"_s, u"http://guide.example/uk.xml"_s,
                                         u"http://epg.example/all.xml"_s};
    QTest::newRow("quotes") << u"quotes.m3u"_s << 5 << 0 << 0 << QStringList();
    QTest::newRow("catchup") << u"catchup.m3u"_s << 4 << 0 << 0 << QStringList{u"http://epg.example/guide.xml"_s};
    QTest::newRow("directives") << u"directives.m3u"_s << 3 << 0 << 0 << QStringList();
    QTest::newRow("crlf-bom") << u"crlf-bom.m3u"_s << 2 << 0 << 0 << QStringList{u"http://epg.example/bom.xml"_s};
    QTest::newRow("latin1") << u"latin1.m3u"_s << 2 << 0 << 1 << QStringList();
    QTest::newRow("bad") << u"bad.m3u"_s << 7 << 3 << 7 << QStringList();
    // A stream's own HLS playlist: readable, but flagged once as not being a lineup.
    QTest::newRow("hls") << u"hls.m3u8"_s << 2 << 0 << 1 << QStringList();
}

void TestM3uReader::counts()
{
    QFETCH(QString, file);
    QFETCH(int, entries);
    QFETCH(int, errors);
    QFETCH(int, warnings);
    QFETCH(QStringList, guideUrls);

    DiagnosticList diag;
    const Lineup lineup = M3uReader::readFile(fixture(file), &diag);
    QCOMPARE(lineup.entries.size(), entries);
    QVERIFY2(diag.errorCount() == errors && diag.warningCount() == warnings, qPrintable(dump(diag)));
    QCOMPARE(lineup.guideUrls, guideUrls);
    for (const Diagnostic &d : diag.items())
        QCOMPARE(d.source, fixture(file));
}

void TestM3uReader::diagnostics_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<qint64>("line");
    QTest::addColumn<bool>("isError");
    QTest::addColumn<QString>("fragment");

    auto row = [](const char *tag, const char *file, qint64 line, bool isError, const QString &fragment) {
        QTest::newRow(tag) << QString::fromLatin1(file) << line << isError << fragment;
    };
    row("missing header", "bad.m3u", 1, false, u"missing #EXTM3U header"_s);
    row("extinf without url", "bad.m3u", 3, true, u"no stream URL (another #EXTINF follows on line 4)"_s);
    row("url without extinf", "bad.m3u", 6, false, u"stream URL without #EXTINF"_s);
    row("garbage", "bad.m3u", 7, true, u"\"this is not a url at all\" is neither a stream URL nor a #directive"_s);
    row("bad duration", "bad.m3u", 8, false, u"duration \"abc\" is not a number"_s);
    row("unterminated quote", "bad.m3u", 10, false, u"tvg-name has no closing quote"_s);
    row("duplicate attribute", "bad.m3u", 12, false, u"tvg-id given twice"_s);
    row("bad channel number", "bad.m3u", 12, false, u"tvg-chno \"abc\" is not a channel number"_s);
    row("no comma", "bad.m3u", 14, false, u"no comma before the channel name"_s);
    row("dangling extinf", "bad.m3u", 16, true, u"the file ends before its stream URL"_s);
    row("invalid utf-8", "latin1.m3u", 2, false, u"not valid UTF-8; read it as Latin-1"_s);
    row("hls", "hls.m3u8", 2, false, u"#EXT-X-VERSION is an HLS tag"_s);
}

void TestM3uReader::diagnostics()
{
    QFETCH(QString, file);
    QFETCH(qint64, line);
    QFETCH(bool, isError);
    QFETCH(QString, fragment);

    DiagnosticList diag;
    M3uReader::readFile(fixture(file), &diag);
    const auto severity = isError ? Diagnostic::Severity::Error : Diagnostic::Severity::Warning;
    const bool found = std::any_of(diag.items().cbegin(), diag.items().cend(), [&](const Diagnostic &d) {
        return d.line == line && d.severity == severity && d.message.contains(fragment);
    });
    QVERIFY2(found, qPrintable(u"expected line %1: %2\ngot:\n%3"_s.arg(line).arg(fragment, dump(diag))));
}

void TestM3uReader::lineEndings_data()
{
    QTest::addColumn<QByteArray>("eol");
    QTest::addColumn<bool>("bom");
    QTest::newRow("lf") << QByteArray("\n") << false;
    QTest::newRow("crlf") << QByteArray("\r\n") << false;
    QTest::newRow("cr") << QByteArray("\r") << false;
    QTest::newRow("lf+bom") << QByteArray("\n") << true;
    QTest::newRow("crlf+bom") << QByteArray("\r\n") << true;
}

void TestM3uReader::lineEndings()
{
    QFETCH(QByteArray, eol);
    QFETCH(bool, bom);
    const QList<QByteArray> lines = {
        "#EXTM3U", "#EXTINF:-1 tvg-id=\"a\",A", "http://s/a", "", "#EXTINF:-1 tvg-id=\"b\",B", "http://s/b",
    };
    QByteArray bytes = bom ? QByteArray("\xEF\xBB\xBF") : QByteArray();
    for (const QByteArray &l : lines)
        bytes += l + eol;

    DiagnosticList diag;
    const Lineup lineup = M3uReader::parse(bytes, u"mem"_s, &diag);
    QVERIFY2(diag.isEmpty(), qPrintable(dump(diag)));
    QCOMPARE(lineup.entries.size(), 2);
    QCOMPARE(lineup.entries[0].name, u"A"_s);
    QCOMPARE(lineup.entries[0].url, u"http://s/a"_s);
    QCOMPARE(lineup.entries[1].url, u"http://s/b"_s);
    QCOMPARE(lineup.entries[1].line, 5); // blank line 4 still counts
}

void TestM3uReader::longLineSkipped()
{
    QByteArray bytes = "#EXTM3U\n#EXTINF:-1 tvg-id=\"a\",A\nhttp://s/a\n";
    bytes += "#EXTINF:-1 tvg-name=\"" + QByteArray(M3uReader::MaxLineLength + 10, 'x') + "\",Huge\n";
    bytes += "http://s/huge\n#EXTINF:-1 tvg-id=\"c\",C\nhttp://s/c\n";

    DiagnosticList diag;
    const Lineup lineup = M3uReader::parse(bytes, u"mem"_s, &diag);
    // The huge #EXTINF is skipped, so its URL stands alone: kept, with a warning.
    QCOMPARE(lineup.entries.size(), 3);
    QCOMPARE(lineup.entries[0].tvgId, u"a"_s);
    QCOMPARE(lineup.entries[1].url, u"http://s/huge"_s);
    QCOMPARE(lineup.entries[2].tvgId, u"c"_s);
    QCOMPARE(diag.errorCount(), 1);
    QCOMPARE(diag.items().first().line, 4);
    QVERIFY(diag.items().first().message.contains(u"over the 65536-byte limit"));
}

void TestM3uReader::emptyInput_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("warnings");
    QTest::newRow("nothing") << QByteArray() << 1;
    QTest::newRow("blank lines") << QByteArray("\n\r\n  \n") << 1;
    QTest::newRow("bom only") << QByteArray("\xEF\xBB\xBF") << 1;
    QTest::newRow("header only") << QByteArray("#EXTM3U\n") << 0;
}

void TestM3uReader::emptyInput()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, warnings);
    DiagnosticList diag;
    const Lineup lineup = M3uReader::parse(bytes, u"mem"_s, &diag);
    QVERIFY(lineup.entries.isEmpty());
    QCOMPARE(diag.errorCount(), 0);
    QCOMPARE(diag.warningCount(), warnings);
}

void TestM3uReader::missingFile()
{
    DiagnosticList diag;
    bool ok = true;
    const Lineup lineup = M3uReader::readFile(fixture(u"does-not-exist.m3u"_s), &diag, &ok);
    QVERIFY(!ok);
    QVERIFY(lineup.entries.isEmpty());
    QCOMPARE(diag.errorCount(), 1);
    QVERIFY(diag.items().first().message.startsWith(u"cannot open"));
}

void TestM3uReader::compressedOrUtf16()
{
    DiagnosticList diag;
    QVERIFY(M3uReader::parse(QByteArray("\x1F\x8B\x08\x00", 4), u"gz"_s, &diag).entries.isEmpty());
    QVERIFY(M3uReader::parse(QByteArray("\xFF\xFE#\0E\0", 6), u"utf16"_s, &diag).entries.isEmpty());
    QCOMPARE(diag.errorCount(), 2);
    QVERIFY(diag.items()[0].message.contains(u"gzip"));
    QVERIFY(diag.items()[1].message.contains(u"UTF-16"));
}

void TestM3uReader::binaryGarbageDoesNotCrash()
{
    QByteArray bytes;
    quint32 x = 12345;
    for (int i = 0; i < 20000; ++i) {
        x = x * 1664525u + 1013904223u;
        bytes.append(char(x >> 24));
    }
    DiagnosticList diag(50);
    M3uReader::parse(bytes, u"noise"_s, &diag);
    QVERIFY(diag.total() > 0);
    QVERIFY(diag.items().size() <= 50);

    // Nulls inside an otherwise good line are blanked, and the line still reads.
    DiagnosticList diag2;
    const Lineup lineup = M3uReader::parse(QByteArray("#EXTM3U\n#EXTINF:-1,A\0B\nhttp://s/a\n", 30), u"nul"_s, &diag2);
    QCOMPARE(lineup.entries.size(), 1);
    QCOMPARE(lineup.entries[0].name, u"A B"_s);
    QCOMPARE(diag2.warningCount(), 1);
}

void TestM3uReader::manyEntries()
{
    // A provider-sized lineup reads quickly and keeps every entry and number.
    constexpr int count = 20000;
    QByteArray bytes = "#EXTM3U\n";
    for (int i = 1; i <= count; ++i) {
        bytes += "#EXTINF:-1 tvg-id=\"ch" + QByteArray::number(i) + ".x\" tvg-chno=\"" + QByteArray::number(i)
                 + "\" group-title=\"G\",Channel " + QByteArray::number(i) + "\nhttp://s/" + QByteArray::number(i) + '\n';
    }
    DiagnosticList diag;
    QElapsedTimer t;
    t.start();
    const Lineup lineup = M3uReader::parse(bytes, u"big"_s, &diag);
    qInfo("%d entries (%lld KiB) read in %lld ms", count, qlonglong(bytes.size() / 1024), qlonglong(t.elapsed()));
    QVERIFY(diag.isEmpty());
    QCOMPARE(lineup.entries.size(), count);
    QCOMPARE(lineup.entries.last().channelNumber, count);
    QCOMPARE(lineup.entries.last().line, 2 * count);
}

void TestM3uReader::latin1FileWarnsOnce()
{
    QByteArray bytes = "#EXTM3U\n";
    for (int i = 0; i < 50; ++i)
        bytes += "#EXTINF:-1,T\xe9l\xe9 " + QByteArray::number(i) + "\nhttp://s/" + QByteArray::number(i) + '\n';
    DiagnosticList diag;
    const Lineup lineup = M3uReader::parse(bytes, u"latin1"_s, &diag);
    QCOMPARE(lineup.entries.size(), 50);
    QCOMPARE(lineup.entries[49].name, u"Télé 49"_s);
    QCOMPARE(diag.warningCount(), 2); // the first line, and the count at the end
    QCOMPARE(diag.items()[0].line, 2);
    QVERIFY(diag.items()[1].message.startsWith(u"50 lines in all"));
}

QTEST_GUILESS_MAIN(TestM3uReader)
#include "tst_m3ureader.moc"
