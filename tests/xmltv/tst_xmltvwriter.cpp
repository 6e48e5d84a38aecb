// The XMLTV writer: DTD element order, and read(write(x)) == x for every field, on fixtures,
// on a programme built in code and on the real guides.
#include <epg/xmltvreader.h>
#include <epg/xmltvtime.h>
#include <epg/xmltvwriter.h>

#include <QBuffer>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

using namespace iptv::epg;
using iptv::Diagnostic;
using iptv::DiagnosticList;

Q_DECLARE_METATYPE(iptv::epg::Programme)

namespace {

QString dump(const DiagnosticList &d)
{
    QStringList lines;
    for (const Diagnostic &x : d.items())
        lines << x.toString();
    return lines.join(u'\n');
}

void compareGuides(const GuideData &actual, const GuideData &expected)
{
    QCOMPARE(actual.generatorName, expected.generatorName);
    QCOMPARE(actual.sourceInfoName, expected.sourceInfoName);
    QCOMPARE(actual.channels.size(), expected.channels.size());
    for (qsizetype i = 0; i < expected.channels.size(); ++i)
        QCOMPARE(actual.channels.at(i), expected.channels.at(i));
    QCOMPARE(actual.programmes.size(), expected.programmes.size());
    for (qsizetype i = 0; i < expected.programmes.size(); ++i) {
        if (actual.programmes.at(i) != expected.programmes.at(i)) {
            QFAIL(qPrintable(u"programme "_qs + QString::number(i) + u" (" + expected.programmes.at(i).title()
                             + u") differs after the round trip"));
        }
    }
}

/// A programme with every field set, including values the reader never produces by itself
/// (a character on a non-actor credit, lengths that are not whole minutes).
Programme everything()
{
    Programme p;
    p.channelId = u"chan.example"_qs;
    p.start = QDateTime(QDate(2026, 8, 22), QTime(15, 0), Qt::UTC).toSecsSinceEpoch();
    p.stop = p.start + 5400;
    p.startUtcOffset = -9 * 3600 - 1800;
    p.titles = {{u"en"_qs, u"Title & <more>"_qs}, {u"el"_qs, u"Τίτλος"_qs}, {QString(), u"無題"_qs}};
    p.subTitles = {{u"en"_qs, u"Sub \"quoted\""_qs}};
    p.descs = {{u"en"_qs, u"Line one\nline two\ttabbed"_qs}, {u"fr"_qs, u"Déjà vu"_qs}};
    using R = Credit::Role;
    p.credits = {{R::Director, u"D"_qs, {}, false},     {R::Actor, u"A1"_qs, u"Hero"_qs, false},
                 {R::Actor, u"A2"_qs, {}, true},        {R::Actor, u"A3"_qs, u"Villain"_qs, true},
                 {R::Writer, u"W"_qs, {}, false},       {R::Adapter, u"Ad"_qs, {}, false},
                 {R::Producer, u"P"_qs, {}, false},     {R::Composer, u"C"_qs, {}, false},
                 {R::Editor, u"E"_qs, {}, false},       {R::Presenter, u"Pr"_qs, u"Host"_qs, false},
                 {R::Commentator, u"Co"_qs, {}, false}, {R::Guest, u"G"_qs, {}, false}};
    p.date = u"2016"_qs;
    p.categories = {{u"en"_qs, u"Film"_qs}, {u"en"_qs, u"Comedy"_qs}};
    p.keywords = {{u"en"_qs, u"k1"_qs}};
    p.language = {u"en"_qs, u"English"_qs};
    p.origLanguage = {QString(), u"fr"_qs};
    p.lengthSeconds = 5401;
    p.icons = {{u"http://x/i.png"_qs, 10, 20}, {u"http://x/j.png"_qs, 0, 0}};
    p.urls = {u"http://x/a?b=1&c=2"_qs, u"http://x/b"_qs};
    p.countries = {{u"en"_qs, u"US"_qs}, {QString(), u"CA"_qs}};
    p.episodeNums = {{u"xmltv_ns"_qs, u"1.2.0/1"_qs}, {u"onscreen"_qs, u"S2E3"_qs}, {u"dd_progid"_qs, u"EP1.0"_qs}};
    p.video = {true, true, false, true, u"16:9"_qs, u"HDTV"_qs};
    p.audio = {false, true, u"surround"_qs};
    p.subtitles = {{u"teletext"_qs, u"en"_qs}, {u"deaf-signed"_qs, QString()}, {QString(), u"ga"_qs}};
    p.ratings = {{u"MPAA"_qs, u"R"_qs, {{u"http://x/r.png"_qs, 16, 16}}}, {u"VCHIP"_qs, u"TV-MA"_qs, {}}};
    p.starRatings = {{QString(), u"4/5"_qs, {}}, {u"IMDb"_qs, u"8/10"_qs, {{u"http://x/s.png"_qs, 0, 0}}}};
    p.reviews = {{u"en"_qs, u"Great."_qs}, {QString(), u"Bof."_qs}};
    p.airing.isNew = true;
    p.airing.previouslyShown = true;
    p.airing.previouslyShownStart = u"20200101"_qs;
    p.airing.previouslyShownChannel = u"other.example"_qs;
    p.airing.premiere = true;
    p.airing.premiereText = {u"en"_qs, u"Season premiere"_qs};
    p.airing.lastChance = true;
    p.airing.lastChanceText = {u"en"_qs, QString()};
    return p;
}

GuideData readBack(const QByteArray &bytes)
{
    DiagnosticList diag;
    bool ok = false;
    GuideData g = XmltvReader::readAllBytes(bytes, &diag, &ok);
    if (!ok || !diag.isEmpty())
        qWarning("%s", qPrintable(dump(diag)));
    return g;
}

} // namespace

class TestXmltvWriter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void document();
    void elementOrder();
    void everyField_data();
    void everyField();
    void roundTripFixtures_data();
    void roundTripFixtures();
    void compressedFiles_data();
    void compressedFiles();
    void writeFileErrors();
    void invalidCharacters();
    void roundTripReal_data();
    void roundTripReal();
};

void TestXmltvWriter::document()
{
    GuideData g;
    g.generatorName = u"gen"_qs;
    g.sourceInfoName = u"src"_qs;
    Channel c;
    c.id = u"a"_qs;
    c.displayNames = {{u"en"_qs, u"A"_qs}};
    g.channels << c;
    const QByteArray bytes = XmltvWriter::toBytes(g);
    QVERIFY(bytes.startsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    QVERIFY(bytes.contains("<!DOCTYPE tv SYSTEM \"xmltv.dtd\">"));
    QVERIFY(bytes.contains("<tv source-info-name=\"src\" generator-info-name=\"gen\">"));
    QVERIFY(bytes.contains("\n  <channel id=\"a\">\n    <display-name lang=\"en\">A</display-name>\n  </channel>"));

    // Streaming use: start, items, end on any device.
    QBuffer buffer;
    buffer.open(QIODevice::WriteOnly);
    XmltvWriter writer(&buffer);
    writer.writeStart();
    writer.writeChannel(c);
    writer.writeProgramme(everything());
    writer.writeEnd();
    QVERIFY(!writer.hasError());
    const GuideData back = readBack(buffer.data());
    QCOMPARE(back.channels, QList<Channel>{c});
    QCOMPARE(back.programmes, QList<Programme>{everything()});
    QVERIFY(buffer.data().contains("start=\"20260822053000 -0930\" stop=\"20260822070000 -0930\""));
}

void TestXmltvWriter::elementOrder()
{
    static const QStringList dtdOrder = {
        u"title"_qs,        u"sub-title"_qs, u"desc"_qs,      u"credits"_qs,   u"date"_qs,        u"category"_qs,
        u"keyword"_qs,      u"language"_qs,  u"orig-language"_qs, u"length"_qs, u"icon"_qs,      u"url"_qs,
        u"country"_qs,      u"episode-num"_qs, u"video"_qs,   u"audio"_qs,     u"previously-shown"_qs,
        u"premiere"_qs,     u"last-chance"_qs, u"new"_qs,     u"subtitles"_qs, u"rating"_qs,      u"star-rating"_qs,
        u"review"_qs,
    };
    static const QStringList creditOrder = {u"director"_qs,  u"actor"_qs,  u"writer"_qs,    u"adapter"_qs,
                                            u"producer"_qs,  u"composer"_qs, u"editor"_qs,  u"presenter"_qs,
                                            u"commentator"_qs, u"guest"_qs};
    GuideData g;
    Programme p = everything();
    std::reverse(p.credits.begin(), p.credits.end()); // the writer restores the DTD order
    g.programmes << p;
    QXmlStreamReader xml(XmltvWriter::toBytes(g));
    QStringList children;
    QStringList credits;
    QStringList path;
    while (!xml.atEnd()) {
        const auto t = xml.readNext();
        if (t == QXmlStreamReader::StartElement) {
            if (path.size() == 2 && path.last() == u"programme")
                children << xml.name().toString();
            if (path.size() == 3 && path.last() == u"credits")
                credits << xml.name().toString();
            path << xml.name().toString();
        } else if (t == QXmlStreamReader::EndElement) {
            path.removeLast();
        }
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    children.removeDuplicates();
    QCOMPARE(children, dtdOrder); // every element present, once per kind, in DTD order
    int last = -1;
    for (const QString &c : credits) {
        const int index = int(creditOrder.indexOf(c));
        QVERIFY2(index >= last, qPrintable(c));
        last = index;
    }
    QCOMPARE(credits.size(), p.credits.size());
}

void TestXmltvWriter::everyField_data()
{
    QTest::addColumn<Programme>("programme");
    const Programme full = everything();
    QTest::newRow("everything") << full;

    Programme minimal;
    minimal.channelId = u"c"_qs;
    minimal.start = 1'700'000'000;
    minimal.titles = {{QString(), u"Only a title"_qs}};
    QTest::newRow("minimal, no stop") << minimal;

    Programme flags = minimal;
    flags.airing.premiere = true;       // empty premiere
    flags.airing.lastChance = true;     // empty last-chance
    flags.airing.previouslyShown = true; // without attributes
    flags.video.hasColour = true;
    flags.video.colour = true;
    flags.audio.stereo = u"mono"_qs;
    flags.language = {u"de"_qs, QString()};
    flags.lengthSeconds = 7200;
    QTest::newRow("empty flags") << flags;

    Programme offsets = minimal;
    offsets.startUtcOffset = 14 * 3600;
    offsets.stop = offsets.start + 60;
    QTest::newRow("offset +14") << offsets;
    offsets.startUtcOffset = -12 * 3600;
    QTest::newRow("offset -12") << offsets;
    Programme old = minimal;
    old.start = -86400 * 365;
    QTest::newRow("before 1970") << old;
}

void TestXmltvWriter::everyField()
{
    QFETCH(Programme, programme);
    GuideData g;
    g.programmes << programme;
    const QByteArray bytes = XmltvWriter::toBytes(g);
    const GuideData back = readBack(bytes);
    QCOMPARE(back.programmes.size(), 1);
    const Programme &p = back.programmes.first();
    // Field by field first so a failure names the field.
    QCOMPARE(p.channelId, programme.channelId);
    QCOMPARE(p.start, programme.start);
    QCOMPARE(p.stop, programme.stop);
    QCOMPARE(p.startUtcOffset, programme.startUtcOffset);
    QCOMPARE(p.titles, programme.titles);
    QCOMPARE(p.subTitles, programme.subTitles);
    QCOMPARE(p.descs, programme.descs);
    QCOMPARE(p.credits, programme.credits);
    QCOMPARE(p.date, programme.date);
    QCOMPARE(p.categories, programme.categories);
    QCOMPARE(p.keywords, programme.keywords);
    QCOMPARE(p.language, programme.language);
    QCOMPARE(p.origLanguage, programme.origLanguage);
    QCOMPARE(p.lengthSeconds, programme.lengthSeconds);
    QCOMPARE(p.icons, programme.icons);
    QCOMPARE(p.urls, programme.urls);
    QCOMPARE(p.countries, programme.countries);
    QCOMPARE(p.episodeNums, programme.episodeNums);
    QVERIFY(p.video == programme.video);
    QVERIFY(p.audio == programme.audio);
    QCOMPARE(p.subtitles, programme.subtitles);
    QCOMPARE(p.ratings, programme.ratings);
    QCOMPARE(p.starRatings, programme.starRatings);
    QCOMPARE(p.reviews, programme.reviews);
    QVERIFY(p.airing == programme.airing);
    QVERIFY(p == programme);
    // And writing what was read gives the same bytes.
    QCOMPARE(XmltvWriter::toBytes(back), bytes);
}

void TestXmltvWriter::roundTripFixtures_data()
{
    QTest::addColumn<QString>("file");
    for (const char *f : {"full.xml", "latin1.xml", "windows1252.xml", "skipped.xml", "malformed.xml"})
        QTest::newRow(f) << QString::fromLatin1(f);
}

void TestXmltvWriter::roundTripFixtures()
{
    QFETCH(QString, file);
    DiagnosticList diag;
    bool ok = false;
    const GuideData first = XmltvReader::readAll(QStringLiteral(IPTV_TEST_DATA "/xmltv/") + file, &diag, &ok);
    QVERIFY(ok);
    QVERIFY(!first.programmes.isEmpty());
    const QByteArray bytes = XmltvWriter::toBytes(first);
    compareGuides(readBack(bytes), first);
    QCOMPARE(XmltvWriter::toBytes(readBack(bytes)), bytes);
}

void TestXmltvWriter::compressedFiles_data()
{
    QTest::addColumn<QString>("name");
    QTest::newRow("plain") << u"guide.xml"_qs;
    QTest::newRow("gzip") << u"guide.xml.gz"_qs;
    QTest::newRow("xz") << u"guide.xml.xz"_qs;
}

void TestXmltvWriter::compressedFiles()
{
    QFETCH(QString, name);
    DiagnosticList diag;
    const GuideData g = XmltvReader::readAll(QStringLiteral(IPTV_TEST_DATA "/xmltv/full.xml"), &diag);
    QTemporaryDir dir;
    const QString path = dir.filePath(name);
    QString error;
    QVERIFY2(XmltvWriter::writeFile(g, path, &error), qPrintable(error));
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray head = f.read(6);
    if (name.endsWith(u".gz"))
        QVERIFY(head.startsWith("\x1f\x8b"));
    else if (name.endsWith(u".xz"))
        QVERIFY(head.startsWith("\xfd" "7zXZ"));
    else
        QVERIFY(head.startsWith("<?xml"));
    DiagnosticList backDiag;
    bool ok = false;
    const GuideData back = XmltvReader::readAll(path, &backDiag, &ok);
    QVERIFY(ok);
    QVERIFY2(backDiag.isEmpty(), qPrintable(dump(backDiag)));
    compareGuides(back, g);
}

void TestXmltvWriter::writeFileErrors()
{
    QString error;
    QVERIFY(!XmltvWriter::writeFile({}, u"/nonexistent-dir/guide.xml"_qs, &error));
    QVERIFY(error.contains(u"/nonexistent-dir/guide.xml"));
}

void TestXmltvWriter::invalidCharacters()
{
    // Strings that did not come from XML (a lineup, the database) may hold characters XML cannot
    // carry; the output must still be a well-formed document.
    GuideData g;
    Channel c;
    c.id = u"id\u0001x"_qs;
    c.displayNames = {{QString(), u"Name\u0007"_qs}};
    g.channels << c;
    Programme p;
    p.channelId = c.id;
    p.start = 1'700'000'000;
    const QString title = u"a\u0001b"_qs + QChar(0xD800) + u"c"_qs + QChar(0xFFFF) + u"😀"_qs;
    p.titles = {{u"en"_qs, title}};
    p.credits = {{Credit::Role::Actor, u"n\u001F"_qs, u"r\u0002"_qs, false}};
    g.programmes << p;

    QBuffer buffer;
    buffer.open(QIODevice::WriteOnly);
    XmltvWriter writer(&buffer);
    writer.writeStart();
    writer.writeChannel(c);
    writer.writeProgramme(p);
    writer.writeEnd();
    QVERIFY(!writer.hasError());
    const GuideData back = readBack(buffer.data());
    QCOMPARE(back.channels.size(), 1);
    QCOMPARE(back.channels.first().id, u"id x"_qs);
    QCOMPARE(back.channels.first().name(), u"Name"_qs); // trailing space trimmed by the reader
    QCOMPARE(back.programmes.size(), 1);
    QCOMPARE(back.programmes.first().channelId, u"id x"_qs);
    QCOMPARE(back.programmes.first().title(), u"a b\uFFFDc\uFFFD😀"_qs);
    QCOMPARE(back.programmes.first().credits.first().name, u"n"_qs);
    QCOMPARE(back.programmes.first().credits.first().character, u"r"_qs);
}

void TestXmltvWriter::roundTripReal_data()
{
    QTest::addColumn<QString>("path");
    const QDir dir(QStringLiteral(IPTV_SHARED_XMLTV));
    const QStringList files = dir.entryList({u"*.xml"_qs}, QDir::Files, QDir::Name);
    if (files.isEmpty())
        QTest::newRow("none") << QString();
    for (const QString &f : files)
        QTest::newRow(qPrintable(f)) << dir.filePath(f);
}

void TestXmltvWriter::roundTripReal()
{
    QFETCH(QString, path);
    if (path.isEmpty())
        QSKIP("no real XMLTV guides in " IPTV_SHARED_XMLTV);
    DiagnosticList diag;
    bool ok = false;
    const GuideData first = XmltvReader::readAll(path, &diag, &ok);
    QVERIFY(ok);
    QVERIFY(!first.programmes.isEmpty());
    const QByteArray bytes = XmltvWriter::toBytes(first);
    compareGuides(readBack(bytes), first);
}

QTEST_GUILESS_MAIN(TestXmltvWriter)
#include "tst_xmltvwriter.moc"
