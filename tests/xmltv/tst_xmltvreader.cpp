// The streaming XMLTV reader: every field, encodings, compression, bad and hostile input, real guides.
#include <epg/xmltvreader.h>
#include <epg/xmltvtime.h>

#include <QBuffer>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::epg;
using iptv::Diagnostic;
using iptv::DiagnosticList;

namespace {

QString fixture(const QString &name)
{
    return QStringLiteral(IPTV_TEST_DATA "/xmltv/") + name;
}

QByteArray readFixture(const QString &name)
{
    QFile f(fixture(name));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("missing fixture %s", qPrintable(name));
    return f.readAll();
}

qint64 utc(int y, int mo, int d, int h, int mi)
{
    return QDateTime(QDate(y, mo, d), QTime(h, mi), Qt::UTC).toSecsSinceEpoch();
}

QStringList titles(const GuideData &g)
{
    QStringList out;
    for (const Programme &p : g.programmes)
        out << p.title();
    return out;
}

QString dump(const DiagnosticList &d)
{
    QStringList lines;
    for (const Diagnostic &x : d.items())
        lines << x.toString();
    return lines.join(u'\n');
}

/// Lines of the diagnostics of one severity, in order.
QList<qint64> lines(const DiagnosticList &d, Diagnostic::Severity severity)
{
    QList<qint64> out;
    for (const Diagnostic &x : d.items()) {
        if (x.severity == severity)
            out << x.line;
    }
    return out;
}

/// A synthetic guide: `count` programmes on two channels, Greek and CJK text so that multi-byte
/// characters straddle the reader's chunk boundaries.
QByteArray syntheticGuide(int count)
{
    QByteArray xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tv generator-info-name=\"synthetic\">\n"
                     "  <channel id=\"a\"><display-name>A</display-name></channel>\n"
                     "  <channel id=\"b\"><display-name>B</display-name></channel>\n";
    const qint64 base = utc(2026, 1, 1, 0, 0);
    for (int i = 0; i < count; ++i) {
        const QString start = formatXmltvTime(base + i * 1800, 3600);
        const QString stop = formatXmltvTime(base + i * 1800 + 1800, 3600);
        xml += "  <programme start=\"" + start.toUtf8() + "\" stop=\"" + stop.toUtf8() + "\" channel=\""
            + (i % 2 ? "b" : "a") + "\">\n    <title lang=\"el\">Εκπομπή " + QByteArray::number(i)
            + "</title>\n    <desc lang=\"ja\">番組の説明 " + QByteArray::number(i)
            + " — ελληνικά και 日本語</desc>\n  </programme>\n";
    }
    xml += "</tv>\n";
    return xml;
}

bool haveTool(const QString &name)
{
    return !QStandardPaths::findExecutable(name).isEmpty();
}

QByteArray compressWith(const QString &tool, const QByteArray &data)
{
    QProcess p;
    p.start(tool, {QStringLiteral("-c")});
    if (!p.waitForStarted())
        return {};
    p.write(data);
    p.closeWriteChannel();
    p.waitForFinished(60000);
    return p.readAllStandardOutput();
}

} // namespace

class TestXmltvReader : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void channels();
    void everyProgrammeField();
    void secondaryProgrammes();
    void encodings_data();
    void encodings();
    void invalidUtf8();
    void chunkBoundaries();
    void malformed_data();
    void malformed();
    void skipped();
    void notXmltv_data();
    void notXmltv();
    void fatalFirst();
    void compressed_data();
    void compressed();
    void truncated_data();
    void truncated();
    void textNormalisation();
    void defaultZone();
    void limits();
    void hugeText();
    void progress();
    void streamingSinks();
    void realFiles_data();
    void realFiles();
};

void TestXmltvReader::channels()
{
    DiagnosticList diag;
    bool ok = false;
    const GuideData g = XmltvReader::readAll(fixture(u"full.xml"_qs), &diag, &ok);
    QVERIFY(ok);
    QVERIFY2(diag.isEmpty(), qPrintable(dump(diag)));
    QCOMPARE(g.generatorName, u"iptv tests"_qs);
    QCOMPARE(g.sourceInfoName, u"Hand-written fixture"_qs);
    QCOMPARE(g.channels.size(), 3);

    const Channel &ert = g.channels.at(0);
    QCOMPARE(ert.id, u"ert1.gr"_qs);
    QCOMPARE(ert.displayNames, (QList<LangText>{{u"el"_qs, u"ΕΡΤ1"_qs}, {u"en"_qs, u"ERT1"_qs}}));
    QCOMPARE(ert.name(), u"ΕΡΤ1"_qs);
    QCOMPARE(ert.icons, (QList<Icon>{{u"http://example.com/ert1.png"_qs, 120, 80}}));
    QCOMPARE(ert.urls, QStringList{u"http://www.ert.gr/"_qs});

    const Channel &nhk = g.channels.at(1);
    QCOMPARE(nhk.name(), u"ＮＨＫ総合"_qs);
    QCOMPARE(nhk.displayNames.first().lang, u"ja"_qs);
    QCOMPARE(nhk.urls.size(), 2);
    QVERIFY(nhk.icons.isEmpty());

    const Channel &rte = g.channels.at(2);
    QCOMPARE(rte.name(), u"RTÉ One"_qs);
    QCOMPARE(rte.displayNames.first().lang, QString());
}

void TestXmltvReader::everyProgrammeField()
{
    DiagnosticList diag;
    const GuideData g = XmltvReader::readAll(fixture(u"full.xml"_qs), &diag);
    QCOMPARE(g.programmes.size(), 5);
    const Programme &p = g.programmes.at(0);

    QCOMPARE(p.channelId, u"rte1.ie"_qs);
    QCOMPARE(p.start, utc(2026, 8, 22, 15, 0));
    QCOMPARE(p.stop, utc(2026, 8, 22, 16, 30));
    QCOMPARE(p.startUtcOffset, 3600);
    QCOMPARE(p.titles, (QList<LangText>{{u"en"_qs, u"The Café at Noon"_qs}, {u"ga"_qs, u"An Caifé ag Meán Lae"_qs}}));
    QCOMPARE(p.subTitles, (QList<LangText>{{u"en"_qs, u"Pilot"_qs}}));
    QCOMPARE(p.descs, (QList<LangText>{{u"en"_qs, u"A story with <angle brackets> & ampersands."_qs},
                                       {u"fr"_qs, u"Une histoire à Paris, déjà vue."_qs}}));

    using R = Credit::Role;
    const QList<Credit> credits = {
        {R::Director, u"Jane Doe"_qs, {}, false},
        {R::Director, u"John Roe"_qs, {}, false},
        {R::Actor, u"Áine Ní Bhriain"_qs, u"Maeve"_qs, true},
        {R::Actor, u"Seán Ó Súilleabháin"_qs, u"Seán"_qs, false},
        {R::Actor, u"Extra Person"_qs, {}, false},
        {R::Writer, u"W. Riter"_qs, {}, false},
        {R::Adapter, u"A. Dapter"_qs, {}, false},
        {R::Producer, u"P. Roducer"_qs, {}, false},
        {R::Composer, u"C. Omposer"_qs, {}, false},
        {R::Editor, u"E. Ditor"_qs, {}, false},
        {R::Presenter, u"P. Resenter"_qs, {}, false},
        {R::Commentator, u"C. Ommentator"_qs, {}, false},
        {R::Guest, u"G. Uest"_qs, {}, false},
    };
    QCOMPARE(p.credits, credits);
    QCOMPARE(p.date, u"20160412"_qs);
    QCOMPARE(p.categories, (QList<LangText>{{u"en"_qs, u"Drama"_qs}, {u"ga"_qs, u"Drámaíocht"_qs}}));
    QCOMPARE(p.keywords, (QList<LangText>{{u"en"_qs, u"coffee"_qs}, {u"en"_qs, u"dublin"_qs}}));
    QCOMPARE(p.language, (LangText{u"en"_qs, u"Irish"_qs}));
    QCOMPARE(p.origLanguage, (LangText{u"en"_qs, u"English"_qs}));
    QCOMPARE(p.lengthSeconds, 90 * 60);
    QCOMPARE(p.icons, (QList<Icon>{{u"http://example.com/cafe.jpg"_qs, 640, 360},
                                   {u"http://example.com/cafe-small.jpg"_qs, 0, 0}}));
    QCOMPARE(p.urls, QStringList{u"http://example.com/cafe"_qs});
    QCOMPARE(p.countries, (QList<LangText>{{u"en"_qs, u"IE"_qs}, {QString(), u"GB"_qs}}));
    QCOMPARE(p.episodeNums, (QList<EpisodeNum>{{u"xmltv_ns"_qs, u"0.4.0/1"_qs}, {u"onscreen"_qs, u"S01E05"_qs}}));

    QVERIFY(p.video.hasPresent);
    QVERIFY(p.video.present);
    QVERIFY(p.video.hasColour);
    QVERIFY(!p.video.colour);
    QCOMPARE(p.video.aspect, u"16:9"_qs);
    QCOMPARE(p.video.quality, u"HDTV"_qs);
    QVERIFY(p.audio.hasPresent);
    QVERIFY(p.audio.present);
    QCOMPARE(p.audio.stereo, u"dolby digital"_qs);

    QVERIFY(p.airing.previouslyShown);
    QCOMPARE(p.airing.previouslyShownStart, u"20250101120000 +0000"_qs);
    QCOMPARE(p.airing.previouslyShownChannel, u"rte2.ie"_qs);
    QVERIFY(p.airing.premiere);
    QCOMPARE(p.airing.premiereText, (LangText{u"en"_qs, u"First showing on national TV"_qs}));
    QVERIFY(p.airing.lastChance);
    QCOMPARE(p.airing.lastChanceText, (LangText{u"en"_qs, u"Final episode"_qs}));
    QVERIFY(p.airing.isNew);

    QCOMPARE(p.subtitles, (QList<Subtitles>{{u"teletext"_qs, u"English"_qs}, {u"onscreen"_qs, QString()}}));
    QCOMPARE(p.ratings, (QList<Rating>{{u"IFCO"_qs, u"15A"_qs, {{u"http://example.com/15a.png"_qs, 20, 20}}},
                                       {u"MPAA"_qs, u"PG-13"_qs, {}}}));
    QCOMPARE(p.starRatings, (QList<Rating>{{QString(), u"3/5"_qs, {{u"http://example.com/star.png"_qs, 0, 0}}},
                                           {u"IMDb"_qs, u"7.5/10"_qs, {}}}));
    // Only text reviews are kept.
    QCOMPARE(p.reviews, (QList<LangText>{{u"en"_qs, u"Charming."_qs}, {u"ga"_qs, u"Go hiontach."_qs}}));
}

void TestXmltvReader::secondaryProgrammes()
{
    DiagnosticList diag;
    const GuideData g = XmltvReader::readAll(fixture(u"full.xml"_qs), &diag);
    QCOMPARE(g.programmes.size(), 5);

    const Programme &news = g.programmes.at(1);
    QCOMPARE(news.lengthSeconds, 1799);
    QVERIFY(news.video.hasPresent);
    QVERIFY(!news.video.present);
    QVERIFY(!news.video.hasColour);
    QVERIFY(news.audio.hasPresent);
    QVERIFY(!news.audio.present);
    QVERIFY(news.airing.premiere);
    QCOMPARE(news.airing.premiereText, LangText{});
    QVERIFY(news.airing.lastChance);
    QVERIFY(!news.airing.isNew);
    QVERIFY(!news.airing.previouslyShown);
    QCOMPARE(news.titles.first().lang, QString());

    const Programme &greek = g.programmes.at(2);
    QCOMPARE(greek.title(), u"Ειδήσεις"_qs);
    QCOMPARE(greek.descs.first().text, u"Κεντρικό δελτίο ειδήσεων με τα γεγονότα της ημέρας."_qs);
    QCOMPARE(greek.start, utc(2026, 8, 22, 16, 0));
    QCOMPARE(greek.startUtcOffset, 3 * 3600);
    QCOMPARE(greek.lengthSeconds, 3600);

    const Programme &japanese = g.programmes.at(3);
    QCOMPARE(japanese.title(), u"おはよう日本"_qs);
    QCOMPARE(japanese.categories.first(), (LangText{u"ja"_qs, u"ニュース"_qs}));
    QCOMPARE(japanese.stop, 0); // no stop: the compiler fills it in
    QCOMPARE(japanese.start, utc(2026, 8, 22, 21, 30));

    const Programme &trimmed = g.programmes.at(4);
    QCOMPARE(trimmed.title(), u"Trimmed\n    title"_qs);
    QCOMPARE(trimmed.startUtcOffset, -5 * 3600);
}

void TestXmltvReader::encodings_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("channelName");
    QTest::addColumn<QString>("title");

    QTest::newRow("utf-8 greek") << u"full.xml"_qs << u"ΕΡΤ1"_qs << u"The Café at Noon"_qs;
    QTest::newRow("iso-8859-1") << u"latin1.xml"_qs << u"Télé Café"_qs << u"Le café de l'été à Niçoise ½"_qs;
    QTest::newRow("windows-1252") << u"windows1252.xml"_qs << u"“Quoted” € Channel"_qs << u"Café – …"_qs;
}

void TestXmltvReader::encodings()
{
    QFETCH(QString, file);
    QFETCH(QString, channelName);
    QFETCH(QString, title);
    DiagnosticList diag;
    bool ok = false;
    const GuideData g = XmltvReader::readAll(fixture(file), &diag, &ok);
    QVERIFY(ok);
    QVERIFY2(diag.isEmpty(), qPrintable(dump(diag)));
    QCOMPARE(g.channels.first().name(), channelName);
    QCOMPARE(g.programmes.first().title(), title);

    // The same bytes through readBytes and readDevice give the same result.
    const QByteArray bytes = readFixture(file);
    DiagnosticList diag2;
    const GuideData fromBytes = XmltvReader::readAllBytes(bytes, &diag2);
    QCOMPARE(fromBytes.programmes, g.programmes);
    QCOMPARE(fromBytes.channels, g.channels);
}

void TestXmltvReader::invalidUtf8()
{
    // Line 4: a stray Latin-1 byte in a UTF-8 file; line 5: a truncated 3-byte sequence and a
    // control character; line 6: an encoded surrogate. All programmes survive.
    const QByteArray xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           "<tv>\n"
                           "<channel id=\"a\"><display-name>A</display-name></channel>\n"
                           "<programme start=\"20260101000000 +0000\" channel=\"a\"><title>Caf\xe9</title></programme>\n"
                           "<programme start=\"20260101010000 +0000\" channel=\"a\"><title>X\xe2\x82Y\x01Z</title></programme>\n"
                           "<programme start=\"20260101020000 +0000\" channel=\"a\"><title>S\xed\xa0\x80</title></programme>\n"
                           "<programme start=\"20260101030000 +0000\" channel=\"a\"><title>Fine ✓</title></programme>\n"
                           "</tv>\n";
    DiagnosticList diag;
    bool ok = false;
    const GuideData g = XmltvReader::readAllBytes(xml, &diag, &ok);
    QVERIFY(ok);
    QCOMPARE(titles(g), (QStringList{u"Caf\uFFFD"_qs, u"X\uFFFDY Z"_qs, u"S\uFFFD\uFFFD\uFFFD"_qs, u"Fine ✓"_qs}));
    QCOMPARE(diag.errorCount(), 0);
    QCOMPARE(lines(diag, Diagnostic::Severity::Warning), (QList<qint64>{4, 5, 5, 6, 6, 6}));
    QCOMPARE(diag.items().first().column, 63);
}

void TestXmltvReader::chunkBoundaries()
{
    // Well over the reader's 256 KiB chunk, with multi-byte characters everywhere: every
    // boundary split inside a character must be stitched back together without a diagnostic.
    const int count = 4000;
    const QByteArray xml = syntheticGuide(count);
    QVERIFY(xml.size() > 2 * 256 * 1024);
    DiagnosticList diag;
    const GuideData g = XmltvReader::readAllBytes(xml, &diag);
    QVERIFY2(diag.isEmpty(), qPrintable(dump(diag)));
    QCOMPARE(g.programmes.size(), count);
    for (int i = 0; i < count; i += 199) {
        QCOMPARE(g.programmes.at(i).title(), u"Εκπομπή "_qs + QString::number(i));
        QCOMPARE(g.programmes.at(i).descs.first().text,
                 u"番組の説明 "_qs + QString::number(i) + u" — ελληνικά και 日本語"_qs);
    }
}

void TestXmltvReader::malformed_data()
{
    QTest::addColumn<QByteArray>("xml");
    QTest::addColumn<QStringList>("expectedTitles");
    QTest::addColumn<QList<qint64>>("errorLines");
    QTest::addColumn<QList<qint64>>("errorColumns"); // empty: not checked

    // Line 8 has a mismatched end tag; line 13 a bare '&', which is repaired rather than fatal.
    QTest::newRow("fixture") << readFixture(u"malformed.xml"_qs)
                             << QStringList{u"Good one"_qs, u"Good two"_qs, u"Tom & Jerry"_qs, u"Good three"_qs}
                             << QList<qint64>{8} << QList<qint64>{25}; // the '>' of </titel>

    // Everything on one line: the reader restarts after the error column, not after the line.
    QTest::newRow("one line")
        << QByteArray("<tv><programme start=\"20260101000000 +0000\" channel=\"a\"><title>One</title></programme>"
                      "<programme start=\"20260101010000 +0000\" channel=\"a\"><title>Bad</oops></programme>"
                      "<programme start=\"20260101020000 +0000\" channel=\"a\"><title>Two</title></programme></tv>")
        << QStringList{u"One"_qs, u"Two"_qs} << QList<qint64>{1} << QList<qint64>{155};

    // Two errors on one line: the second is found by a restarted parser, its column still counts
    // from the start of the real line (both point at the '>' of the bad end tag).
    QTest::newRow("one line, two errors")
        << QByteArray("<tv><programme start=\"20260101000000 +0000\" channel=\"a\"><title>One</title></programme>"
                      "<programme start=\"20260101010000 +0000\" channel=\"a\"><title>Bad</oops></programme>"
                      "<programme start=\"20260101020000 +0000\" channel=\"a\"><title>Two</title></programme>"
                      "<programme start=\"20260101030000 +0000\" channel=\"a\"><title>Bad2</oops></programme>"
                      "<programme start=\"20260101040000 +0000\" channel=\"a\"><title>Three</title></programme></tv>")
        << QStringList{u"One"_qs, u"Two"_qs, u"Three"_qs} << QList<qint64>{1, 1} << QList<qint64>{155, 319};

    // A bad attribute in the middle of a big document, far beyond the first chunk.
    QByteArray big = syntheticGuide(2000);
    const qsizetype at = big.indexOf("<programme", big.size() / 2);
    big.insert(at + 10, " broken=\"unterminated");
    const qint64 badLine = big.left(at).count('\n') + 1;
    QStringList bigTitles;
    for (int i = 0; i < 2000; ++i)
        bigTitles << u"Εκπομπή "_qs + QString::number(i);
    // Only the broken programme is lost.
    const int broken = int(big.left(at).count("<programme"));
    QTest::newRow("big") << big << (bigTitles.mid(0, broken) + bigTitles.mid(broken + 1)) << QList<qint64>{badLine}
                         << QList<qint64>{};

    // "Billion laughs": QXmlStreamReader's expansion limit stops it, the reader goes on after it.
    QByteArray laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE tv [\n<!ENTITY a0 \"lollollollollollollollollollol\">\n";
    for (int i = 1; i < 10; ++i) {
        laughs += "<!ENTITY a" + QByteArray::number(i) + " \"";
        for (int k = 0; k < 10; ++k)
            laughs += "&a" + QByteArray::number(i - 1) + ';';
        laughs += "\">\n";
    }
    laughs += "]>\n<tv><programme start=\"20260101000000 +0000\" channel=\"a\"><title>&a9;</title></programme>"
              "<programme start=\"20260101010000 +0000\" channel=\"a\"><title>ok</title></programme></tv>\n";
    QTest::newRow("entity expansion") << laughs << QStringList{u"ok"_qs} << QList<qint64>{14} << QList<qint64>{};

    QTest::newRow("junk at end") << QByteArray("<tv><programme start=\"20260101000000 +0000\" channel=\"a\">"
                                               "<title>Only</title></programme>\n<<<garbage")
                                 << QStringList{u"Only"_qs} << QList<qint64>{2} << QList<qint64>{2};
    QTest::newRow("undefined entity")
        << QByteArray("<tv>\n<programme start=\"20260101000000 +0000\" channel=\"a\"><title>A&bogus;</title></programme>\n"
                      "<programme start=\"20260101010000 +0000\" channel=\"a\"><title>B</title></programme>\n</tv>")
        << QStringList{u"B"_qs} << QList<qint64>{2} << QList<qint64>{67};
}

void TestXmltvReader::malformed()
{
    QFETCH(QByteArray, xml);
    QFETCH(QStringList, expectedTitles);
    QFETCH(QList<qint64>, errorLines);
    QFETCH(QList<qint64>, errorColumns);
    DiagnosticList diag;
    bool ok = false;
    XmltvReadOptions options;
    options.sourceName = u"bad.xml"_qs;
    const GuideData g = XmltvReader::readAllBytes(xml, &diag, &ok, options);
    QVERIFY(ok);
    QCOMPARE(titles(g), expectedTitles);
    QCOMPARE(lines(diag, Diagnostic::Severity::Error), errorLines);
    if (!errorColumns.isEmpty()) {
        QList<qint64> columns;
        for (const Diagnostic &d : diag.items()) {
            if (d.severity == Diagnostic::Severity::Error)
                columns << d.column;
        }
        QCOMPARE(columns, errorColumns);
    }
    for (const Diagnostic &d : diag.items()) {
        QCOMPARE(d.source, u"bad.xml"_qs);
        if (d.severity == Diagnostic::Severity::Warning) {
            QVERIFY2(d.message.contains(u"bare '&'"), qPrintable(d.toString()));
            continue;
        }
        QVERIFY2(d.column > 0, qPrintable(d.toString()));
        QVERIFY2(d.message.startsWith(u"malformed XML"), qPrintable(d.toString()));
    }
}

void TestXmltvReader::skipped()
{
    DiagnosticList diag;
    bool ok = false;
    const GuideData g = XmltvReader::readAll(fixture(u"skipped.xml"_qs), &diag, &ok);
    QVERIFY(ok);
    QCOMPARE(g.channels.size(), 1);
    QCOMPARE(g.channels.first().name(), u"A"_qs); // first definition wins
    QCOMPARE(titles(g), (QStringList{u"Bad stop"_qs, u"Stop before start"_qs, u"Unknown parts"_qs, u"Last"_qs}));
    QCOMPARE(g.programmes.at(0).stop, 0);
    QCOMPARE(g.programmes.at(1).stop, 0);
    QCOMPARE(g.programmes.at(2).lengthSeconds, 0);

    QCOMPARE(lines(diag, Diagnostic::Severity::Error), (QList<qint64>{5, 6, 7, 8}));
    QCOMPARE(lines(diag, Diagnostic::Severity::Warning), (QList<qint64>{4, 9, 10, 11}));
    const QStringList expectedParts = {
        u"duplicate channel id \"a\""_qs, u"<channel> without id"_qs, u"no channel attribute"_qs,
        u"no start attribute"_qs,         u"unparsable start"_qs,     u"unparsable stop"_qs,
        u"is not after start"_qs,         u"unknown units"_qs,
    };
    QCOMPARE(diag.items().size(), expectedParts.size());
    for (qsizetype i = 0; i < expectedParts.size(); ++i)
        QVERIFY2(diag.items().at(i).message.contains(expectedParts.at(i)), qPrintable(diag.items().at(i).toString()));
}

void TestXmltvReader::notXmltv_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("errorPart");

    QTest::newRow("empty") << QByteArray() << u"empty input"_qs;
    QTest::newRow("whitespace") << QByteArray(" \n\n ") << u"no <tv> root"_qs;
    QTest::newRow("text") << QByteArray("hello, world\n") << u"not an XMLTV file"_qs;
    QTest::newRow("html") << readFixture(u"notxmltv.html"_qs) << u"root element is <html>"_qs;
    QTest::newRow("binary") << QByteArray("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) << u"not an XMLTV file"_qs;
    QTest::newRow("declaration only") << QByteArray("<?xml version=\"1.0\"?>") << u"no <tv> root"_qs;
}

void TestXmltvReader::notXmltv()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, errorPart);
    DiagnosticList diag;
    bool ok = true;
    const GuideData g = XmltvReader::readAllBytes(bytes, &diag, &ok);
    QVERIFY(!ok);
    QVERIFY(g.programmes.isEmpty());
    QCOMPARE(diag.errorCount(), 1);
    const auto error = std::find_if(diag.items().cbegin(), diag.items().cend(), [](const Diagnostic &d) {
        return d.severity == Diagnostic::Severity::Error;
    });
    QVERIFY2(error->message.contains(errorPart), qPrintable(dump(diag)));
}

void TestXmltvReader::fatalFirst()
{
    // A binary file: a screenful of invalid UTF-8 warnings, then what actually ended the read.
    QByteArray bytes;
    for (int i = 0; i < 40; ++i)
        bytes += QByteArray("junk \x80\x81 line ") + QByteArray::number(i) + '\n';
    DiagnosticList diag(10);
    bool ok = true;
    XmltvReader::readAllBytes(bytes, &diag, &ok);
    QVERIFY(!ok);
    QVERIFY2(diag.warningCount() >= 10, qPrintable(dump(diag)));
    QCOMPARE(diag.fatalCount(), 1);
    // Kept although the list was full, and first.
    QCOMPARE(diag.items().size(), 10);
    QVERIFY(diag.items().first().fatal);
    QVERIFY2(diag.items().first().message.contains(u"not an XMLTV file"), qPrintable(dump(diag)));
    for (qsizetype i = 1; i < diag.items().size(); ++i)
        QVERIFY(!diag.items().at(i).fatal);
}

void TestXmltvReader::compressed_data()
{
    QTest::addColumn<QString>("tool");
    QTest::newRow("gzip") << u"gzip"_qs;
    QTest::newRow("xz") << u"xz"_qs;
}

void TestXmltvReader::compressed()
{
    QFETCH(QString, tool);
    if (!haveTool(tool))
        QSKIP("compressor not installed");
    const QByteArray plain = readFixture(u"full.xml"_qs);
    const QByteArray packed = compressWith(tool, plain);
    QVERIFY(!packed.isEmpty());
    QVERIFY(packed != plain);

    DiagnosticList plainDiag;
    const GuideData expected = XmltvReader::readAllBytes(plain, &plainDiag);

    // From bytes, and from a file whose name does not say it is compressed.
    DiagnosticList diag;
    bool ok = false;
    const GuideData fromBytes = XmltvReader::readAllBytes(packed, &diag, &ok);
    QVERIFY(ok);
    QVERIFY2(diag.isEmpty(), qPrintable(dump(diag)));
    QCOMPARE(fromBytes.channels, expected.channels);
    QCOMPARE(fromBytes.programmes, expected.programmes);

    QTemporaryDir dir;
    const QString path = dir.filePath(u"guide.xml"_qs);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(packed);
    f.close();
    const GuideData fromFile = XmltvReader::readAll(path, &diag, &ok);
    QVERIFY(ok);
    QCOMPARE(fromFile.programmes, expected.programmes);
}

void TestXmltvReader::truncated_data()
{
    QTest::addColumn<QString>("tool");
    QTest::newRow("plain") << QString();
    QTest::newRow("gzip") << u"gzip"_qs;
    QTest::newRow("xz") << u"xz"_qs;
}

void TestXmltvReader::truncated()
{
    QFETCH(QString, tool);
    if (!tool.isEmpty() && !haveTool(tool))
        QSKIP("compressor not installed");
    const int count = 4000;
    const QByteArray plain = syntheticGuide(count);
    const QByteArray full = tool.isEmpty() ? plain : compressWith(tool, plain);
    const QByteArray cut = full.left(full.size() * 6 / 10);

    DiagnosticList fullDiag;
    const GuideData expected = XmltvReader::readAllBytes(plain, &fullDiag);
    QCOMPARE(expected.programmes.size(), count);

    DiagnosticList diag;
    bool ok = false;
    const GuideData g = XmltvReader::readAllBytes(cut, &diag, &ok);
    QVERIFY(ok);
    QCOMPARE(diag.errorCount(), 1);
    // The read ended early: a fatal error, listed first, so no caller takes the part for the whole.
    QVERIFY(diag.hasFatal());
    const Diagnostic &d = diag.items().first();
    QVERIFY(d.fatal);
    QCOMPARE(diag.firstFatal(), &d);
    QVERIFY2(d.toString().contains(u": fatal error: "), qPrintable(d.toString()));
    QVERIFY2(d.line > 1000, qPrintable(d.toString()));
    if (tool.isEmpty())
        QVERIFY2(d.message.contains(u"truncated"), qPrintable(d.toString()));
    else
        QVERIFY2(d.message.contains(u"input ends early"), qPrintable(d.toString()));
    // Everything before the cut is kept, intact and in order (a decompressor may hold back its
    // last block, and xz packs this repetitive text so well that 60 % of it is under half the text).
    QVERIFY2(g.programmes.size() > count / 4, qPrintable(QString::number(g.programmes.size())));
    QVERIFY(g.programmes.size() < count);
    QCOMPARE(g.programmes, expected.programmes.mid(0, g.programmes.size()));
    QCOMPARE(g.channels.size(), 2);
}

void TestXmltvReader::textNormalisation()
{
    // Character references for CR become line feeds (as a literal CR would); CDATA is text;
    // with an external DTD, HTML entities the XMLTV DTD lacks still come out as characters.
    const QByteArray xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n<tv>"
                           "<programme start=\"20260101000000 +0000\" channel=\"a\">"
                           "<title>  a&#13;&#10;b&#13;c  </title>"
                           "<sub-title><![CDATA[<raw> & text]]></sub-title>"
                           "<desc>x&nbsp;y&hellip;&unknownentity;</desc>"
                           "<category><b>bold</b> text</category>"
                           "<keyword><![CDATA[a & b &amp; c]]></keyword>"
                           "<icon src=\"http://x/?a=1&b=2&amp;c=3&#38;d=4\"/>"
                           "<url>\nhttp://x/?q=tom&jerry\n</url>"
                           "</programme></tv>";
    DiagnosticList diag;
    bool ok = false;
    const GuideData g = XmltvReader::readAllBytes(xml, &diag, &ok);
    QVERIFY(ok);
    QCOMPARE(diag.errorCount(), 0);
    // The bare ampersands in the icon and the url are repaired, each with a warning and its place.
    QCOMPARE(lines(diag, Diagnostic::Severity::Warning), (QList<qint64>{3, 4}));
    QCOMPARE(diag.items().at(1).column, 16);
    QCOMPARE(g.programmes.size(), 1);
    const Programme &p = g.programmes.first();
    QCOMPARE(p.title(), u"a\nb\nc"_qs);
    QCOMPARE(p.subTitles.first().text, u"<raw> & text"_qs);
    QCOMPARE(p.descs.first().text, u"x\u00A0y\u2026&unknownentity;"_qs);
    QCOMPARE(p.categories.first().text, u"text"_qs); // markup inside a text element is dropped
    QCOMPARE(p.keywords.first().text, u"a & b &amp; c"_qs);
    QCOMPARE(p.icons.first().src, u"http://x/?a=1&b=2&c=3&d=4"_qs);
    QCOMPARE(p.urls.first(), u"http://x/?q=tom&jerry"_qs);
}

void TestXmltvReader::defaultZone()
{
    const QByteArray xml = "<tv><programme start=\"20260715200000\" stop=\"20260715210000\" channel=\"a\">"
                           "<title>Summer</title></programme>"
                           "<programme start=\"20260115200000\" channel=\"a\"><title>Winter</title></programme></tv>";
    XmltvReadOptions options;
    options.defaultZone = QTimeZone("Europe/Dublin");
    DiagnosticList diag;
    const GuideData g = XmltvReader::readAllBytes(xml, &diag, nullptr, options);
    QCOMPARE(g.programmes.size(), 2);
    QCOMPARE(g.programmes.at(0).start, utc(2026, 7, 15, 19, 0));
    QCOMPARE(g.programmes.at(0).stop, utc(2026, 7, 15, 20, 0));
    QCOMPARE(g.programmes.at(0).startUtcOffset, 3600);
    QCOMPARE(g.programmes.at(1).start, utc(2026, 1, 15, 20, 0));
    QCOMPARE(g.programmes.at(1).startUtcOffset, 0);

    // Default: UTC.
    const GuideData u = XmltvReader::readAllBytes(xml, &diag);
    QCOMPARE(u.programmes.at(0).start, utc(2026, 7, 15, 20, 0));

    // Zone-less times are a guess: said once per read, with the zone used and how to change it.
    DiagnosticList once;
    XmltvReader::readAllBytes(xml, &once, nullptr, options);
    QCOMPARE(once.warningCount(), 1);
    const Diagnostic &w = once.items().first();
    QCOMPARE(w.line, 1);
    QVERIFY2(w.message.contains(u"Europe/Dublin") && w.message.contains(u"--time-zone")
                 && w.message.contains(u"20260715200000"),
             qPrintable(w.toString()));

    // Times with their offset need no such word.
    DiagnosticList none;
    XmltvReader::readAllBytes("<tv><programme start=\"20260715200000 +0100\" channel=\"a\"><title>X</title></programme>"
                              "<programme start=\"20260715210000 Z\" channel=\"a\"><title>Y</title></programme></tv>",
                              &none, nullptr, options);
    QVERIFY2(none.isEmpty(), qPrintable(dump(none)));
}

void TestXmltvReader::limits()
{
    QByteArray xml = "<tv>\n<programme start=\"20260101000000 +0000\" channel=\"a\">\n<title>"
        + QByteArray(5000, 'x') + "</title>\n<desc>short</desc>\n";
    for (int i = 0; i < 50; ++i)
        xml += "<category>c" + QByteArray::number(i) + "</category>";
    xml += "\n</programme>\n</tv>\n";
    XmltvReadOptions options;
    options.maxTextLength = 1000;
    options.maxElementsPerProgramme = 20;
    DiagnosticList diag;
    bool ok = false;
    const GuideData g = XmltvReader::readAllBytes(xml, &diag, &ok, options);
    QVERIFY(ok);
    QCOMPARE(g.programmes.size(), 1);
    const Programme &p = g.programmes.first();
    QCOMPARE(p.title(), QString(1000, u'x'));
    QCOMPARE(p.descs.first().text, u"short"_qs);
    QCOMPARE(p.categories.size(), 18); // title, desc, then categories up to the 20th element
    QCOMPARE(diag.warningCount(), 2);
    QCOMPARE(diag.errorCount(), 0);
    QVERIFY(diag.items().at(0).message.contains(u"truncated"));
    QCOMPARE(diag.items().at(0).line, 3);
    QVERIFY(diag.items().at(1).message.contains(u"more than 20 elements"));

    // Attributes are capped too.
    const QByteArray longAttr = "<tv><programme start=\"20260101000000 +0000\" channel=\"a\"><title>T</title>"
                                "<icon src=\"" + QByteArray(3000, 'y') + "\"/></programme></tv>";
    DiagnosticList attrDiag;
    const GuideData a = XmltvReader::readAllBytes(longAttr, &attrDiag, &ok, options);
    QCOMPARE(a.programmes.first().icons.first().src, QString(1000, u'y'));
    QCOMPARE(attrDiag.warningCount(), 1);
    QVERIFY2(attrDiag.items().first().message.contains(u"<icon src=\"...\"> longer than 1000"), qPrintable(dump(attrDiag)));

    // A cut that lands on inner whitespace does not leave it at the end.
    XmltvReadOptions tiny;
    tiny.maxTextLength = 5;
    DiagnosticList tinyDiag;
    const GuideData t = XmltvReader::readAllBytes("<tv><channel id=\"abcd efgh\"><display-name>wxyz ijkl</display-name>"
                                                  "</channel></tv>", &tinyDiag, &ok, tiny);
    QCOMPARE(t.channels.first().id, u"abcd"_qs);
    QCOMPARE(t.channels.first().name(), u"wxyz"_qs);

    // Deep nesting is refused instead of recursing or growing without bound.
    QByteArray deep = "<tv><programme start=\"20260101000000 +0000\" channel=\"a\"><title>T</title><x>";
    for (int i = 0; i < 1000; ++i)
        deep += "<x>";
    deep += "</tv>";
    DiagnosticList deepDiag;
    const GuideData d = XmltvReader::readAllBytes(deep, &deepDiag, &ok);
    QVERIFY(ok);
    QVERIFY(d.programmes.isEmpty());
    QVERIFY2(dump(deepDiag).contains(u"nested too deeply"), qPrintable(dump(deepDiag)));
}

void TestXmltvReader::hugeText()
{
    // 3 MB of text in one element (Greek, so multi-byte) and 1 MB of whitespace between elements:
    // the reader drops what it would truncate anyway before the XML parser has to hold it.
    QByteArray xml = "<tv>\n<programme start=\"20260101000000 +0000\" channel=\"a\"><title>";
    const QByteArray greek = "αβγδε";
    xml += greek.repeated(3 * 1024 * 1024 / greek.size());
    xml += "</title><desc>kept</desc><sub-title>" + QByteArray(3 * 1024 * 1024, 'x') + "</sub-title></programme>"
        + QByteArray(1024 * 1024, ' ')
        + "\n<programme start=\"20260101010000 +0000\" channel=\"a\"><title>next</title></programme>\n</tv>\n";
    DiagnosticList diag;
    bool ok = false;
    const GuideData g = XmltvReader::readAllBytes(xml, &diag, &ok);
    QVERIFY(ok);
    QCOMPARE(diag.errorCount(), 0);
    QCOMPARE(g.programmes.size(), 2);
    const Programme &p = g.programmes.first();
    QCOMPARE(p.title().size(), 64 * 1024);
    QVERIFY(p.title().startsWith(u"αβγδεαβγδε"_qs));
    QVERIFY(!p.title().contains(QChar::ReplacementCharacter)); // cut on a character boundary
    QCOMPARE(p.descs.first().text, u"kept"_qs);
    QCOMPARE(g.programmes.at(1).title(), u"next"_qs);
    const QString all = dump(diag);
    QCOMPARE(p.subTitles.first().text, QString(64 * 1024, u'x'));
    QCOMPARE(all.count(u"the rest of it is dropped"_qs), 3);
    QCOMPARE(all.count(u"truncated"_qs), 2);
}

void TestXmltvReader::progress()
{
    const QByteArray xml = syntheticGuide(3000);
    QList<QPair<qint64, qint64>> calls;
    XmltvReadOptions options;
    options.progress = [&calls](qint64 done, qint64 total) { calls.append({done, total}); };
    DiagnosticList diag;
    QVERIFY(XmltvReader::readBytes(xml, {}, {}, &diag, options));
    QVERIFY(calls.size() >= 2);
    QVERIFY2(calls.size() <= 102, qPrintable(QString::number(calls.size())));
    for (qsizetype i = 1; i < calls.size(); ++i)
        QVERIFY(calls.at(i).first >= calls.at(i - 1).first);
    QCOMPARE(calls.last(), qMakePair(qint64(xml.size()), qint64(xml.size())));
}

void TestXmltvReader::streamingSinks()
{
    // Sinks see each item once, channels before the programmes that follow them; null sinks are fine.
    int channels = 0;
    int programmes = 0;
    DiagnosticList diag;
    QVERIFY(XmltvReader::readFile(
        fixture(u"full.xml"_qs), [&](Channel &&c) { QVERIFY(!c.id.isEmpty()); ++channels; },
        [&](Programme &&p) {
            QCOMPARE(channels, 3);
            QVERIFY(p.start > 0);
            ++programmes;
        },
        &diag));
    QCOMPARE(channels, 3);
    QCOMPARE(programmes, 5);
    QVERIFY(XmltvReader::readFile(fixture(u"full.xml"_qs), {}, {}, nullptr));

    // A device: a sequential pipe.
    QProcess cat;
    cat.start(u"cat"_qs, {fixture(u"full.xml"_qs)});
    QVERIFY(cat.waitForStarted());
    programmes = 0;
    DiagnosticList pipeDiag;
    QVERIFY2(XmltvReader::readDevice(&cat, {}, [&](Programme &&) { ++programmes; }, &pipeDiag),
             qPrintable(dump(pipeDiag)));
    QCOMPARE(programmes, 5);
    cat.waitForFinished();

    // Cancellation: stops after the item that asked for it.
    programmes = 0;
    XmltvReadOptions options;
    options.cancelled = [&programmes] { return programmes == 2; };
    DiagnosticList cancelDiag;
    QVERIFY(XmltvReader::readFile(fixture(u"full.xml"_qs), {}, [&](Programme &&) { ++programmes; }, &cancelDiag,
                                  options));
    QCOMPARE(programmes, 2);
    QCOMPARE(cancelDiag.warningCount(), 1);
    QVERIFY(cancelDiag.items().first().message.contains(u"cancelled"));

    // Missing file.
    DiagnosticList missing;
    QVERIFY(!XmltvReader::readFile(u"/nonexistent/guide.xml"_qs, {}, {}, &missing));
    QCOMPARE(missing.errorCount(), 1);
    QCOMPARE(missing.items().first().source, u"/nonexistent/guide.xml"_qs);
}

void TestXmltvReader::realFiles_data()
{
    QTest::addColumn<QString>("path");
    const QDir dir(QStringLiteral(IPTV_SHARED_XMLTV));
    const QStringList files = dir.entryList({u"*.xml"_qs, u"*.xml.gz"_qs, u"*.xml.xz"_qs}, QDir::Files, QDir::Name);
    if (files.isEmpty())
        QTest::newRow("none") << QString();
    for (const QString &f : files)
        QTest::newRow(qPrintable(f)) << dir.filePath(f);
}

void TestXmltvReader::realFiles()
{
    QFETCH(QString, path);
    if (path.isEmpty())
        QSKIP("no real XMLTV guides in " IPTV_SHARED_XMLTV);
    if (!path.endsWith(u".xml"))
        QSKIP("compressed real guides are counted through the plain ones");

    // An independent count: start tags in the raw text.
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray raw = f.readAll();
    const qsizetype expectedProgrammes = raw.count("<programme ");
    const qsizetype expectedChannels = raw.count("<channel ");
    QVERIFY(expectedProgrammes > 0);

    DiagnosticList diag;
    bool ok = false;
    const GuideData g = XmltvReader::readAll(path, &diag, &ok);
    QVERIFY(ok);
    QVERIFY2(diag.errorCount() == 0, qPrintable(dump(diag)));
    QCOMPARE(g.channels.size(), expectedChannels);
    QCOMPARE(g.programmes.size(), expectedProgrammes);
    for (const Programme &p : g.programmes) {
        QVERIFY(!p.channelId.isEmpty());
        QVERIFY(p.start > 0);
        QVERIFY(!p.title().isEmpty());
    }
}

QTEST_GUILESS_MAIN(TestXmltvReader)
#include "tst_xmltvreader.moc"
