#include <epg/channelmapper.h>

#include <QFile>
#include <QTest>
#include <QXmlStreamReader>

using namespace Qt::StringLiterals;
using iptv::DiagnosticList;
using iptv::epg::Channel;
using iptv::epg::ChannelMapper;
using iptv::epg::ChannelMapping;
using iptv::epg::ChannelMatch;
using iptv::epg::Lineup;
using iptv::epg::M3uEntry;
using iptv::epg::M3uReader;

Q_DECLARE_METATYPE(ChannelMatch::How)

namespace {

Channel guideChannel(const QString &id, const QStringList &names, const QString &icon = {})
{
    Channel c;
    c.id = id;
    for (const QString &n : names)
        c.displayNames.append({u"en"_s, n});
    if (!icon.isEmpty())
        c.icons.append({icon, 0, 0});
    return c;
}

/// A small guide in the shape of the Irish Freeview one, plus the awkward cases.
QList<Channel> smallGuide()
{
    return {
        guideChannel(u"RTEOne.ie"_s, {u"RTÉ One"_s}, u"http://logo/rte1.png"_s),
        guideChannel(u"RTE2.ie"_s, {u"RTÉ2"_s}),
        guideChannel(u"TG4.ie"_s, {u"TG4"_s}),
        guideChannel(u"E4.uk"_s, {u"E4"_s}),
        guideChannel(u"E4Plus1.uk"_s, {u"E4 +1"_s}),
        guideChannel(u"SkyNews.ie"_s, {u"Sky News"_s, u"Sky News Ireland"_s}),
        guideChannel(u"I11325.labs.zap2it.com"_s, {u"WBZ"_s, u"4 WBZ"_s, u"4"_s}),
        guideChannel(u"Zdf.de"_s, {u"Zweites Deutsches Fernsehen"_s}),
    };
}

M3uEntry entry(const QString &tvgId, const QString &tvgName, const QString &name, int number = 0, qint64 line = 0)
{
    M3uEntry e;
    e.tvgId = tvgId;
    e.tvgName = tvgName;
    e.name = name;
    e.channelNumber = number;
    e.line = line;
    e.url = u"http://stream.example/"_s + (name.isEmpty() ? tvgId : name);
    return e;
}

/// Reads just the <channel> elements of an XMLTV file: cheap, and independent of the XMLTV reader.
QList<Channel> readGuideChannels(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    QList<Channel> channels;
    QXmlStreamReader xml(&file);
    Channel current;
    bool inChannel = false;
    while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isStartElement()) {
            if (xml.name() == u"channel") {
                current = Channel();
                current.id = xml.attributes().value(QLatin1StringView("id")).toString();
                inChannel = true;
            } else if (inChannel && xml.name() == u"display-name") {
                const QString lang = xml.attributes().value(QLatin1StringView("lang")).toString();
                current.displayNames.append({lang, xml.readElementText()});
            } else if (xml.name() == u"programme") {
                break; // channels come first in these files; no need to read on
            }
        } else if (xml.isEndElement() && xml.name() == u"channel") {
            channels.append(current);
            inChannel = false;
        }
    }
    return channels;
}

} // namespace

class TestChannelMapper : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void normaliseName_data();
    void normaliseName();
    void mapOne_data();
    void mapOne();
    void mappedChannelCarriesGuideAndLineup();
    void duplicatesAllowedAndReported();
    void numbering_data();
    void numbering();
    void unmappedIdsStableAndUnique();
    void report();
    void fromFixture();
    void realIrishGuide();
    void realUsGuide();
    void demoLineup();
    void largeLineup();
};

void TestChannelMapper::normaliseName_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("expected");

    auto row = [](const QString &name, const QString &expected) {
        QTest::addRow("%s", qPrintable(name)) << name << expected;
    };
    row(u"RTÉ One HD"_s, u"rteone"_s);
    row(u"RTE One"_s, u"rteone"_s);
    row(u"rte one"_s, u"rteone"_s);
    row(u"RTÉ2"_s, u"rte2"_s);
    row(u"RTE 2 FHD"_s, u"rte2"_s);
    row(u"TG4 UHD 4K"_s, u"tg4"_s);
    row(u"Sky Sports Main Event 1080p"_s, u"skysportsmainevent"_s);
    row(u"Channel 4 (HD)"_s, u"channel4"_s);
    row(u"Channel 4 [SD]"_s, u"channel4"_s);
    // Country suffixes and prefixes.
    row(u"BBC One (UK)"_s, u"bbcone"_s);
    row(u"BBCOne.uk"_s, u"bbcone"_s);
    row(u"Das Erste [DE]"_s, u"daserste"_s);
    row(u"UK: BBC One HD"_s, u"bbcone"_s);
    row(u"UK | Sky News"_s, u"skynews"_s);
    row(u"IE - RTÉ One"_s, u"rteone"_s);
    row(u"E4: Extra"_s, u"e4extra"_s);          // not a country prefix
    row(u"Channel (East)"_s, u"channeleast"_s); // a region is part of the name
    // Timeshift channels keep their offset; "+" channels stay apart.
    row(u"E4 +1"_s, u"e4+1"_s);
    row(u"E4+1"_s, u"e4+1"_s);
    row(u"E4 +1 HD"_s, u"e4+1"_s);
    row(u"ITV HD +1"_s, u"itv+1"_s);
    row(u"UK: ITV +1 (HD)"_s, u"itv+1"_s);
    row(u"ITV HD +1 (UK)"_s, u"itv+1"_s);
    row(u"Dave +24"_s, u"dave+24"_s);
    row(u"Sky Sports+"_s, u"skysports+"_s);
    // Accents, special letters, other scripts.
    row(u"Zürich TV"_s, u"zurichtv"_s);
    row(u"Ørsted Kanal"_s, u"orstedkanal"_s);
    row(u"Straße"_s, u"strasse"_s);
    row(u"Ελληνική Τηλεόραση"_s, u"ελληνικητηλεοραση"_s);
    row(u"Ελλάς"_s, u"ελλασ"_s); // final sigma folds to σ, so it equals the capitals
    row(u"ΕΛΛΑΣ"_s, u"ελλασ"_s);
    row(u"Food & Drink"_s, u"foodanddrink"_s);
    row(u"Food and Drink"_s, u"foodanddrink"_s);
    // Edge cases.
    row(u"HD"_s, u"hd"_s);
    row(u"  "_s, QString());
    row(u"---"_s, QString());
}

void TestChannelMapper::normaliseName()
{
    QFETCH(QString, name);
    QFETCH(QString, expected);
    QCOMPARE(ChannelMapper::normaliseName(name), expected);
}

void TestChannelMapper::mapOne_data()
{
    QTest::addColumn<QString>("tvgId");
    QTest::addColumn<QString>("tvgName");
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("guideId");
    QTest::addColumn<ChannelMatch::How>("how");

    using How = ChannelMatch::How;
    QTest::newRow("id exact") << u"RTEOne.ie"_s << QString() << u"Whatever"_s << u"RTEOne.ie"_s << How::ById;
    QTest::newRow("id case-insensitive") << u"rteone.IE"_s << QString() << QString() << u"RTEOne.ie"_s << How::ById;
    QTest::newRow("id wins over name") << u"TG4.ie"_s << u"RTÉ One"_s << u"RTÉ One"_s << u"TG4.ie"_s << How::ById;
    QTest::newRow("unknown id, tvg-name") << u"nope"_s << u"RTE One HD"_s << QString() << u"RTEOne.ie"_s << How::ByName;
    QTest::newRow("extinf name, accents+HD") << QString() << QString() << u"RTÉ One HD"_s << u"RTEOne.ie"_s << How::ByName;
    QTest::newRow("tvg-name before name") << QString() << u"TG4"_s << u"RTÉ One"_s << u"TG4.ie"_s << How::ByName;
    QTest::newRow("second display-name") << QString() << QString() << u"Sky News Ireland HD"_s << u"SkyNews.ie"_s << How::ByName;
    QTest::newRow("country prefix") << QString() << QString() << u"IE: RTE 2 HD"_s << u"RTE2.ie"_s << How::ByName;
    QTest::newRow("guide id name part") << QString() << QString() << u"zdf hd"_s << u"Zdf.de"_s << How::ByName;
    QTest::newRow("tvg-id of another guide") << u"RTEOne.uk"_s << QString() << u"Something"_s << u"RTEOne.ie"_s << How::ByName;
    QTest::newRow("+1 maps to +1") << QString() << QString() << u"E4 +1 HD"_s << u"E4Plus1.uk"_s << How::ByName;
    QTest::newRow("main maps to main") << QString() << QString() << u"E4 HD"_s << u"E4.uk"_s << How::ByName;
    QTest::newRow("+1 never to main") << QString() << QString() << u"TG4 +1"_s << QString() << How::Unmapped;
    QTest::newRow("numeric display-name ignored") << QString() << QString() << u"4"_s << QString() << How::Unmapped;
    QTest::newRow("call sign") << QString() << QString() << u"WBZ HD"_s << u"I11325.labs.zap2it.com"_s << How::ByName;
    QTest::newRow("unknown") << u"x.y"_s << u"Nothing"_s << u"Nothing HD"_s << QString() << How::Unmapped;
    QTest::newRow("empty entry") << QString() << QString() << QString() << QString() << How::Unmapped;
}

void TestChannelMapper::mapOne()
{
    QFETCH(QString, tvgId);
    QFETCH(QString, tvgName);
    QFETCH(QString, name);
    QFETCH(QString, guideId);
    QFETCH(ChannelMatch::How, how);

    Lineup lineup;
    lineup.entries.append(entry(tvgId, tvgName, name, 0, 2));
    const ChannelMapping m = ChannelMapper::map(lineup, smallGuide());
    QCOMPARE(m.matches.size(), 1);
    QCOMPARE(m.channels.size(), 1);
    QCOMPARE(m.matches[0].lineupIndex, 0);
    QCOMPARE(m.matches[0].line, 2);
    QCOMPARE(m.matches[0].how, how);
    QCOMPARE(m.matches[0].guideChannelId, guideId);
    if (!guideId.isEmpty())
        QCOMPARE(m.channels[0].id, guideId);
    QCOMPARE(m.guideChannelsNotInLineup.size(), smallGuide().size() - (guideId.isEmpty() ? 0 : 1));
}

void TestChannelMapper::mappedChannelCarriesGuideAndLineup()
{
    Lineup lineup;
    M3uEntry e = entry(u"RTEOne.ie"_s, u"RTÉ One"_s, u"RTÉ One HD"_s, 101, 3);
    e.groupTitle = u"Ireland"_s;
    e.tvgLogo = u"http://lineup/logo.png"_s;
    lineup.entries.append(e);
    M3uEntry u = entry(u"local.tv"_s, QString(), u"Local TV"_s, 0, 5);
    u.tvgName = u"Local Television"_s;
    u.tvgLogo = u"http://lineup/local.png"_s;
    u.groupTitle = u"Local"_s;
    lineup.entries.append(u);

    const ChannelMapping m = ChannelMapper::map(lineup, smallGuide());
    const Channel &c = m.channels[0];
    QCOMPARE(c.id, u"RTEOne.ie"_s);
    QCOMPARE(c.name(), u"RTÉ One"_s); // the guide's name first
    QCOMPARE(c.displayNames.size(), 2);
    QCOMPARE(c.displayNames[1].text, u"RTÉ One HD"_s); // the lineup's own name kept for search
    QCOMPARE(c.icons.size(), 1);
    QCOMPARE(c.icons[0].src, u"http://logo/rte1.png"_s); // guide icon preferred
    QCOMPARE(c.number, 101);
    QCOMPARE(c.group, u"Ireland"_s);
    QCOMPARE(c.streamUrl, e.url);

    const Channel &l = m.channels[1];
    QCOMPARE(l.id, u"local.tv"_s); // its tvg-id
    QCOMPARE(l.name(), u"Local TV"_s);
    QCOMPARE(l.displayNames.size(), 2);
    QCOMPARE(l.displayNames[1].text, u"Local Television"_s);
    QCOMPARE(l.icons.size(), 1);
    QCOMPARE(l.icons[0].src, u"http://lineup/local.png"_s); // no guide icon: the lineup's
    QCOMPARE(l.number, 102);
    QCOMPARE(l.group, u"Local"_s);
}

void TestChannelMapper::duplicatesAllowedAndReported()
{
    Lineup lineup;
    lineup.entries = {
        entry(u"RTEOne.ie"_s, QString(), u"RTÉ One HD"_s, 1, 2),
        entry(QString(), QString(), u"RTE One SD"_s, 2, 4),
        entry(u"TG4.ie"_s, QString(), u"TG4"_s, 3, 6),
    };
    const ChannelMapping m = ChannelMapper::map(lineup, smallGuide());
    QCOMPARE(m.mappedCount(), 3);
    QCOMPARE(m.channels[0].id, u"RTEOne.ie"_s);
    QCOMPARE(m.channels[1].id, u"RTEOne.ie#2"_s); // its own channel, the same guide channel
    QCOMPARE(m.matches[1].guideChannelId, u"RTEOne.ie"_s);
    QCOMPARE(m.channels[0].streamUrl, lineup.entries[0].url);
    QCOMPARE(m.channels[1].streamUrl, lineup.entries[1].url);
    QVERIFY(!m.guideChannelsNotInLineup.contains(u"RTEOne.ie"_s));
    const QString report = m.report();
    QVERIFY2(report.contains(u"Guide channels mapped by several entries"), qPrintable(report));
    QVERIFY2(report.contains(u"  RTEOne.ie: lines 2, 4\n"), qPrintable(report));
    QVERIFY(!report.contains(u"TG4.ie: lines"));
}

void TestChannelMapper::numbering_data()
{
    QTest::addColumn<QList<int>>("given");
    QTest::addColumn<QList<int>>("expected");
    QTest::addColumn<bool>("duplicateReported");

    QTest::newRow("all given") << QList<int>{3, 1, 2} << QList<int>{3, 1, 2} << false;
    QTest::newRow("none given") << QList<int>{0, 0, 0} << QList<int>{1, 2, 3} << false;
    // Unnumbered entries go after the highest number in the whole lineup, even one given later.
    QTest::newRow("mixed") << QList<int>{5, 0, 2, 0, 10} << QList<int>{5, 11, 2, 12, 10} << false;
    QTest::newRow("duplicates kept") << QList<int>{7, 7, 0} << QList<int>{7, 7, 8} << true;
}

void TestChannelMapper::numbering()
{
    QFETCH(QList<int>, given);
    QFETCH(QList<int>, expected);
    QFETCH(bool, duplicateReported);

    Lineup lineup;
    for (qsizetype i = 0; i < given.size(); ++i)
        lineup.entries.append(entry(QString(), QString(), u"Channel %1"_s.arg(i), given[i], 2 * i + 2));
    const ChannelMapping m = ChannelMapper::map(lineup, {});
    QList<int> numbers;
    for (const Channel &c : m.channels)
        numbers.append(c.number);
    QCOMPARE(numbers, expected);
    // Lineup order is kept whatever the numbers.
    for (qsizetype i = 0; i < given.size(); ++i)
        QCOMPARE(m.channels[i].name(), u"Channel %1"_s.arg(i));
    QCOMPARE(m.report().contains(u"Channel numbers given to several entries"), duplicateReported);
}

void TestChannelMapper::unmappedIdsStableAndUnique()
{
    Lineup lineup;
    lineup.entries = {
        entry(QString(), QString(), u"Local TV HD"_s),
        entry(QString(), QString(), u"Local TV"_s),        // same normalised name
        entry(u"RTEOne.ie"_s, QString(), u"RTÉ One"_s),    // mapped: takes the guide id
        entry(u"rteone.ie.lineup"_s, QString(), u"X"_s),   // unmapped tvg-id kept as the id
        entry(QString(), QString(), u"---"_s),             // nothing to normalise: hash of the URL
        entry(u"TG4.ie"_s, QString(), QString()),
    };
    // An unmapped entry must not take a guide channel's id either.
    lineup.entries.append(entry(QString(), QString(), u"TG4 +1"_s));
    lineup.entries.append(entry(u"tg4+1.lineup"_s, QString(), u"Other"_s)); // its tvg-id collides with the previous

    const ChannelMapping a = ChannelMapper::map(lineup, smallGuide());
    const ChannelMapping b = ChannelMapper::map(lineup, smallGuide());
    QStringList ids;
    for (const Channel &c : a.channels)
        ids.append(c.id);
    QCOMPARE(ids[0], u"localtv.lineup"_s);
    QCOMPARE(ids[1], u"localtv.lineup-2"_s);
    QCOMPARE(ids[2], u"RTEOne.ie"_s);
    QCOMPARE(ids[3], u"rteone.ie.lineup"_s);
    QVERIFY(ids[4].endsWith(u".lineup"));
    QCOMPARE(ids[4].size(), 12 + 7);
    QCOMPARE(ids[5], u"TG4.ie"_s);
    QCOMPARE(ids[6], u"tg4+1.lineup"_s);
    QCOMPARE(ids[7], u"tg4+1.lineup-2"_s);
    for (qsizetype i = 0; i < a.channels.size(); ++i)
        QCOMPARE(b.channels[i].id, ids[i]);
}

void TestChannelMapper::report()
{
    Lineup lineup;
    lineup.entries = {
        entry(u"RTEOne.ie"_s, QString(), u"RTÉ One"_s, 1, 2),
        entry(QString(), QString(), u"TG4 HD"_s, 4, 4),
        entry(u"mystery.tv"_s, QString(), u"Mystery Channel"_s, 9, 6),
    };
    const ChannelMapping m = ChannelMapper::map(lineup, smallGuide());
    const QString r = m.report();
    QVERIFY2(r.startsWith(u"Channel mapping: 3 lineup entries, 2 mapped (1 by id, 1 by name), 1 unmapped; "
                          u"6 guide channels not in the lineup.\n"),
             qPrintable(r));
    QVERIFY2(r.contains(u"  line 6: \"Mystery Channel\" -> id mystery.tv\n"), qPrintable(r));
    QVERIFY2(r.contains(u"Guide channels not in the lineup:\n  RTE2.ie, E4.uk, E4Plus1.uk, SkyNews.ie, "
                        u"I11325.labs.zap2it.com, Zdf.de\n"),
             qPrintable(r));
    QVERIFY(!r.contains(u"several entries"));
}

void TestChannelMapper::fromFixture()
{
    // Reader and mapper together on the bad fixture: the good entries map, line numbers carry over.
    DiagnosticList diag;
    const Lineup lineup = M3uReader::readFile(QStringLiteral(IPTV_TEST_DATA "/m3u/full.m3u"), &diag);
    const ChannelMapping m = ChannelMapper::map(lineup, smallGuide());
    QCOMPARE(m.matches.size(), 3);
    QCOMPARE(m.matches[0].how, ChannelMatch::How::ById);
    QCOMPARE(m.matches[0].line, 2);
    QCOMPARE(m.channels[0].number, 101);
    QCOMPARE(m.channels[1].id, u"TG4.ie"_s);
    QCOMPARE(m.channels[1].number, 104);
    QCOMPARE(m.channels[2].id, u"SkyNews.ie"_s);
    QCOMPARE(m.channels[2].number, 503);
    QCOMPARE(m.channels[2].streamUrl, u"udp://@239.0.0.5:1234"_s);
}

void TestChannelMapper::realIrishGuide()
{
    const QString path = QStringLiteral(IPTV_SHARED_XMLTV "/ie-freeview-latest.xml");
    if (!QFile::exists(path))
        QSKIP("the shared Irish guide is not on this machine");
    const QList<Channel> guide = readGuideChannels(path);
    QCOMPARE(guide.size(), 9);

    // A lineup as a provider would write it: mixed spellings, HD tags, a prefix, a timeshift
    // channel the guide does not have, and one tvg-id in the wrong case.
    const QList<std::pair<QString, QString>> lineupNames = {
        {u"rtenews.IE"_s, u"RTE News Now"_s}, {QString(), u"RTÉ One HD"_s}, {QString(), u"RTE 2 HD"_s},
        {QString(), u"IE: Virgin Media One FHD"_s}, {QString(), u"Virgin Media Two"_s},
        {QString(), u"Virgin Media Three (IE)"_s}, {QString(), u"TG4 HD"_s}, {QString(), u"Sky News [UK]"_s},
        {QString(), u"RTÉ One +1"_s}, {QString(), u"RTÉ One SD"_s},
    };
    QByteArray m3u = "#EXTM3U\n";
    for (qsizetype i = 0; i < lineupNames.size(); ++i) {
        m3u += "#EXTINF:-1 tvg-id=\"" + lineupNames[i].first.toUtf8() + "\" tvg-chno=\"" + QByteArray::number(i + 1)
               + "\"," + lineupNames[i].second.toUtf8() + "\nhttp://s/" + QByteArray::number(i) + "\n";
    }
    DiagnosticList diag;
    const Lineup lineup = M3uReader::parse(m3u, u"generated"_s, &diag);
    QVERIFY(diag.isEmpty());
    const ChannelMapping m = ChannelMapper::map(lineup, guide);
    const QStringList expected = {
        u"RTENews.ie"_s, u"RTEOne.ie"_s, u"RTE2.ie"_s, u"VirginMediaOne.ie"_s, u"VirginMediaTwo.ie"_s,
        u"VirginMediaThree.ie"_s, u"TG4.ie"_s, u"SkyNews.ie"_s, QString(), u"RTEOne.ie"_s,
    };
    for (qsizetype i = 0; i < expected.size(); ++i)
        QVERIFY2(m.matches[i].guideChannelId == expected[i], qPrintable(lineupNames[i].second + u"\n" + m.report()));
    QCOMPARE(m.countBy(ChannelMatch::How::ById), 1);
    QCOMPARE(m.countBy(ChannelMatch::How::Unmapped), 1);
    QCOMPARE(m.guideChannelsNotInLineup, QStringList{u"VirginMediaFour.ie"_s});
    qInfo().noquote() << m.report();
}

void TestChannelMapper::realUsGuide()
{
    const QString path = QStringLiteral(IPTV_SHARED_XMLTV "/us-zap2xml-2016.xml");
    if (!QFile::exists(path))
        QSKIP("the shared US guide is not on this machine");
    const QList<Channel> guide = readGuideChannels(path);
    QVERIFY(guide.size() > 10);

    // Every channel's first display-name (the call sign) with an HD tag maps back to it; the bare
    // channel numbers among the display-names are never used.
    Lineup lineup;
    for (const Channel &c : guide)
        lineup.entries.append(entry(QString(), QString(), c.name() + u" HD"_s));
    lineup.entries.append(entry(QString(), QString(), u"4"_s));
    const ChannelMapping m = ChannelMapper::map(lineup, guide);
    qsizetype same = 0;
    for (qsizetype i = 0; i < guide.size(); ++i) {
        if (m.matches[i].guideChannelId == guide[i].id)
            ++same;
    }
    qInfo("%lld of %lld US call signs mapped back to their channel", qlonglong(same), qlonglong(guide.size()));
    QVERIFY2(same >= guide.size() - 2, qPrintable(m.report())); // a guide may repeat a call sign
    QCOMPARE(m.matches.constLast().how, ChannelMatch::How::Unmapped);
}

void TestChannelMapper::demoLineup()
{
    // The README demo: resources/demo/demo-lineup.m3u against the ids `iptv-guide generate` gives
    // (ch001.demo, ...), with names that differ from the lineup's so only the ids can match.
    DiagnosticList diag;
    bool ok = false;
    const Lineup lineup = M3uReader::readFile(QStringLiteral(IPTV_TEST_DATA "/../../resources/demo/demo-lineup.m3u"),
                                              &diag, &ok);
    QVERIFY(ok);
    QVERIFY(diag.isEmpty());
    QList<Channel> guide;
    for (int i = 1; i <= 12; ++i)
        guide.append(guideChannel(u"ch%1.demo"_s.arg(i, 3, 10, QLatin1Char('0')), {u"Demo %1"_s.arg(i)}));

    const ChannelMapping m = ChannelMapper::map(lineup, guide);
    QCOMPARE(m.matches.size(), 13);
    QCOMPARE(m.countBy(ChannelMatch::How::ById), 12);
    QCOMPARE(m.countBy(ChannelMatch::How::Unmapped), 1);
    QVERIFY(m.guideChannelsNotInLineup.isEmpty());
    for (int i = 0; i < 12; ++i) {
        QCOMPARE(m.channels[i].number, i + 1);
        QCOMPARE(m.channels[i].streamUrl, u"http://127.0.0.1:8440/live/%1.ts"_s.arg(guide[i].id.section(u'.', 0, 0)));
    }
    QCOMPARE(m.channels[12].id, u"community.local"_s);
    QCOMPARE(m.channels[12].number, 99);
    QVERIFY2(m.report().contains(u"\"Community Access TV\" -> id community.local"), qPrintable(m.report()));
}

void TestChannelMapper::largeLineup()
{
    // Provider scale: 10,000 entries against 10,000 guide channels, half by id, half by name.
    constexpr int count = 10000;
    QList<Channel> guide;
    Lineup lineup;
    for (int i = 0; i < count; ++i) {
        guide.append(guideChannel(u"c%1.tv"_s.arg(i), {u"Channel Nummer %1"_s.arg(i)}));
        lineup.entries.append(i % 2 ? entry(u"c%1.tv"_s.arg(i), QString(), u"X"_s, i + 1)
                                    : entry(QString(), QString(), u"UK: Channel Nummer %1 HD"_s.arg(i), i + 1));
    }
    QElapsedTimer t;
    t.start();
    const ChannelMapping m = ChannelMapper::map(lineup, guide);
    qInfo("%d entries mapped against %d guide channels in %lld ms", count, count, qlonglong(t.elapsed()));
    QCOMPARE(m.countBy(ChannelMatch::How::ById), count / 2);
    QCOMPARE(m.countBy(ChannelMatch::How::ByName), count / 2);
    QVERIFY(m.guideChannelsNotInLineup.isEmpty());

    // Nothing in common: every guide channel is listed, without quadratic cost.
    Lineup other;
    other.entries.append(entry(QString(), QString(), u"Elsewhere"_s));
    t.restart();
    const ChannelMapping none = ChannelMapper::map(other, guide);
    qInfo("1 entry against %d guide channels in %lld ms", count, qlonglong(t.elapsed()));
    QCOMPARE(none.guideChannelsNotInLineup.size(), count);
}

QTEST_GUILESS_MAIN(TestChannelMapper)
#include "tst_channelmapper.moc"
