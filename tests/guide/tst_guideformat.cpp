// The compact guide format: compile -> open round trip of every field, schedule queries,
// clean-up of bad schedules, rejection of damaged files, deltas.

#include <epg/guide.h>
#include <epg/guidedelta.h>
#include <epg/guideformat_p.h>
#include <epg/guidewriter.h>
#include <epg/xmltvreader.h>

#include <QTest>

#include <cstring>
#include <new>

#include <atomic>
#include <thread>

using namespace iptv::epg;

namespace {

constexpr qint64 kDay0 = 1767225600; // 2026-01-01T00:00:00Z

Programme fullProgramme()
{
    Programme p;
    p.channelId = u"one.test"_qs;
    p.start = kDay0 + 3600;
    p.stop = kDay0 + 7200;
    p.startUtcOffset = 3600;
    p.titles = {{u"en"_qs, u"The Big Film"_qs}, {u"el"_qs, u"Η Μεγάλη Ταινία"_qs}};
    p.subTitles = {{u"en"_qs, u"Director's cut"_qs}};
    p.descs = {{u"en"_qs, u"A long description.\nWith two lines & <markup>."_qs}, {u"de"_qs, u"Eine Beschreibung"_qs}};
    p.credits = {{Credit::Role::Director, u"Jane Doe"_qs, {}, false},
                 {Credit::Role::Actor, u"John Roe"_qs, u"The Hero"_qs, false},
                 {Credit::Role::Actor, u"Zoë Guest"_qs, {}, true},
                 {Credit::Role::Presenter, u"東京 太郎"_qs, {}, false}};
    p.date = u"2016"_qs;
    p.categories = {{u"en"_qs, u"Movie"_qs}, {u"en"_qs, u"Drama"_qs}};
    p.keywords = {{u"en"_qs, u"heist"_qs}};
    p.language = {u"en"_qs, u"English"_qs};
    p.origLanguage = {{}, u"French"_qs};
    p.lengthSeconds = 5400;
    p.icons = {{u"http://example.org/a.png"_qs, 320, 180}};
    p.urls = {u"http://example.org/film"_qs};
    p.countries = {{u"en"_qs, u"FR"_qs}};
    p.episodeNums = {{u"xmltv_ns"_qs, u"2.4.0/1"_qs}, {u"onscreen"_qs, u"S3 E5"_qs}};
    p.video.hasPresent = true;
    p.video.present = true;
    p.video.hasColour = true;
    p.video.colour = false;
    p.video.aspect = u"16:9"_qs;
    p.video.quality = u"HDTV"_qs;
    p.audio.stereo = u"dolby digital"_qs;
    p.subtitles = {{u"teletext"_qs, u"en"_qs}, {u"onscreen"_qs, {}}};
    p.ratings = {{u"MPAA"_qs, u"PG-13"_qs, {{u"http://example.org/pg13.png"_qs, 0, 0}}}};
    p.starRatings = {{{}, u"3/5"_qs, {}}};
    p.reviews = {{u"en"_qs, u"Great."_qs}};
    p.airing.isNew = false;
    p.airing.previouslyShown = true;
    p.airing.previouslyShownStart = u"20151201200000 +0000"_qs;
    p.airing.previouslyShownChannel = u"two.test"_qs;
    p.airing.premiere = true;
    p.airing.premiereText = {u"en"_qs, u"First time on TV"_qs};
    p.airing.lastChance = true;
    return p;
}

Programme simple(const QString &channel, qint64 start, qint64 stop, const QString &title)
{
    Programme p;
    p.channelId = channel;
    p.start = start;
    p.stop = stop;
    p.titles = {{{}, title}};
    return p;
}

QByteArray compile(const GuideData &data, GuideCompileOptions options = {}, iptv::DiagnosticList *diags = nullptr,
                   GuideCompileStats *stats = nullptr)
{
    options.createdAt = kDay0;
    options.compressionLevel = 3;
    GuideBuilder builder(options);
    builder.addGuide(data);
    const QByteArray bytes = builder.finish(diags);
    if (stats)
        *stats = builder.stats();
    return bytes;
}

GuideData twoChannels()
{
    GuideData data;
    Channel one;
    one.id = u"one.test"_qs;
    one.displayNames = {{u"en"_qs, u"One"_qs}, {{}, u"1 One HD"_qs}};
    one.icons = {{u"http://example.org/one.png"_qs, 100, 50}};
    one.urls = {u"http://one.example.org"_qs};
    one.number = 101;
    one.group = u"General"_qs;
    one.streamUrl = u"http://127.0.0.1:8440/live/one.m3u8"_qs;
    Channel two;
    two.id = u"two.test"_qs;
    two.displayNames = {{{}, u"Two"_qs}};
    data.channels = {one, two};
    return data;
}

/// Decompresses a guide's body, lets `edit` change one section in place and wraps the result as
/// a well-formed file again (new body hash and sizes), so the reader's table checks are reached.
QByteArray editSection(const QByteArray &file, quint32 section, const std::function<void(char *data, qsizetype size)> &edit)
{
    using namespace iptv::epg::format;
    Header h;
    QString reason;
    if (!decodeHeader(file, &h, &reason))
        return {};
    QByteArray body = decompressBody(QByteArrayView(file).sliced(kHeaderSize), h.bodySize, &reason);
    const quint32 count = getRaw<quint32>(body.constData());
    for (quint32 i = 0; i < count; ++i) {
        const char *e = body.constData() + 8 + i * sizeof(SectionEntry);
        if (getRaw<quint32>(e) == section)
            edit(body.data() + getRaw<quint64>(e + 8), qsizetype(getRaw<quint64>(e + 16)));
    }
    const QByteArray hash = bodyHash(body);
    std::memcpy(h.bodyHash, hash.constData(), 32);
    const QByteArray stored = compressBody(body, 1, 1, &reason);
    h.storedSize = quint64(stored.size());
    return encodeHeader(h) + stored;
}

/// One section of a guide's decompressed body.
QByteArray sectionBytes(const QByteArray &file, quint32 section)
{
    QByteArray out;
    editSection(file, section, [&](char *data, qsizetype size) { out = QByteArray(data, size); });
    return out;
}

} // namespace

class TestGuideFormat : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roundTripEveryField()
    {
        GuideData data = twoChannels();
        const Programme full = fullProgramme();
        data.programmes = {full, simple(u"two.test"_qs, kDay0, kDay0 + 1800, u"Two's first"_qs)};
        const QByteArray bytes = compile(data);
        QString error;
        const auto guide = Guide::fromBytes(bytes, &error);
        QVERIFY2(guide, qPrintable(error));
        QCOMPARE(guide->channelCount(), 2);
        QCOMPARE(guide->channelRecord(0), data.channels[0]);
        QCOMPARE(guide->channelRecord(1), data.channels[1]);
        QCOMPARE(guide->channelName(0), u"One"_qs);
        QCOMPARE(guide->channelNumber(0), 101);
        QCOMPARE(guide->channelIndex(u"two.test"), 1);
        QCOMPARE(guide->channelIndex(u"nope"), -1);
        const auto [first, count] = guide->channelAirings(0);
        QCOMPARE(count, 1u);
        const Airing a = guide->airing(first);
        QCOMPARE(a.start, full.start);
        QCOMPARE(a.stop, full.stop);
        QCOMPARE(guide->programmeRecord(a), full);
        QCOMPARE(guide->title(a.programme), u"The Big Film"_qs);
        QCOMPARE(guide->subTitle(a.programme), u"Director's cut"_qs);
        QCOMPARE(guide->category(a.programme), u"Movie"_qs);
        QCOMPARE(guide->episode(a.programme), u"S3 E5"_qs);
        QVERIFY(a.flags & FlagPremiere);
        QVERIFY(a.flags & FlagHasSubtitles);
        QVERIFY(!(a.flags & FlagNew));
        QCOMPARE(guide->info().validFrom, kDay0); // the first programme's start
        QCOMPARE(guide->info().validUntil, kDay0 + 14 * 86400);
        QCOMPARE(guide->info().checksum.size(), 64);
    }

    void identicalMetadataStoredOnce()
    {
        GuideData data = twoChannels();
        for (int day = 0; day < 14; ++day) {
            data.programmes.append(simple(u"one.test"_qs, kDay0 + day * 86400, kDay0 + day * 86400 + 1800, u"News"_qs));
            data.programmes.append(simple(u"two.test"_qs, kDay0 + day * 86400, kDay0 + day * 86400 + 1800, u"News"_qs));
        }
        const auto guide = Guide::fromBytes(compile(data));
        QVERIFY(guide);
        QCOMPARE(guide->airingCount(), 28u);
        QCOMPARE(guide->programmeCount(), 1u);
    }

    void episodeFromXmltvNs_data()
    {
        QTest::addColumn<QString>("ns");
        QTest::addColumn<QString>("expected");
        QTest::newRow("season+episode") << u"0.3.0/1"_qs << u"S1 E4"_qs;
        QTest::newRow("with totals") << u"1/5 . 9/10 . "_qs << u"S2 E10"_qs;
        QTest::newRow("episode only") << u".11."_qs << u"E12"_qs;
        QTest::newRow("nothing") << u".."_qs << QString();
    }
    void episodeFromXmltvNs()
    {
        QFETCH(QString, ns);
        QFETCH(QString, expected);
        GuideData data = twoChannels();
        Programme p = simple(u"one.test"_qs, kDay0, kDay0 + 60, u"Show"_qs);
        p.episodeNums = {{u"xmltv_ns"_qs, ns}};
        data.programmes = {p};
        const auto guide = Guide::fromBytes(compile(data));
        QVERIFY(guide);
        QCOMPARE(guide->episode(0), expected);
    }

    void scheduleCleanUp()
    {
        GuideData data = twoChannels();
        data.programmes = {
            simple(u"one.test"_qs, kDay0, kDay0 + 4000, u"Overlaps next"_qs),
            simple(u"one.test"_qs, kDay0 + 3600, 0, u"No stop"_qs),
            simple(u"one.test"_qs, kDay0 + 3600, kDay0 + 5000, u"Duplicate start"_qs),
            simple(u"one.test"_qs, kDay0 + 7200, kDay0 + 7000, u"Stop before start"_qs),
            simple(u"ghost.test"_qs, kDay0, kDay0 + 60, u"Undeclared channel"_qs),
            simple(u"one.test"_qs, kDay0 + 20 * 86400, kDay0 + 20 * 86400 + 60, u"Outside"_qs),
        };
        iptv::DiagnosticList diags;
        GuideCompileStats stats;
        const auto guide = Guide::fromBytes(compile(data, {}, &diags, &stats));
        QVERIFY(guide);
        QCOMPARE(stats.overlapsTrimmed, 1);
        QCOMPARE(stats.duplicatesDropped, 1);
        QCOMPARE(stats.missingStopFilled, 1);
        QCOMPARE(stats.invalidTimes, 1);
        QCOMPARE(stats.unknownChannel, 1);
        QCOMPARE(stats.undeclaredChannels, 1);
        QCOMPARE(stats.outsideWindow, 1);
        QVERIFY(!diags.isEmpty());
        QCOMPARE(guide->channelCount(), 3); // the undeclared channel is kept by default
        const auto [first, count] = guide->channelAirings(0);
        QCOMPARE(count, 3u);
        QCOMPARE(guide->airing(first).stop, kDay0 + 3600);     // trimmed to the next start
        // Of two at one start, the one with a real length wins over one without.
        QCOMPARE(guide->title(guide->airing(first + 1).programme), u"Duplicate start"_qs);
        QCOMPARE(guide->airing(first + 1).stop, kDay0 + 5000);
        QCOMPARE(guide->airing(first + 2).stop, kDay0 + 7200 + 12 * 3600); // gap in the data: bounded

        GuideCompileOptions dropUnknown;
        dropUnknown.keepUndeclaredChannels = false;
        const auto strict = Guide::fromBytes(compile(data, dropUnknown));
        QVERIFY(strict);
        QCOMPARE(strict->channelCount(), 2);
    }

    void placeholderLosesToTheRealProgramme()
    {
        // The pattern of real Greek feeds: a zero-length entry, then the real programme at the same start.
        const QByteArray xml = "<tv>\n"
                               "<channel id=\"go.test\"><display-name>GO</display-name></channel>\n"
                               "<programme start=\"20260101010000 +0000\" stop=\"20260101020000 +0000\" channel=\"go.test\">"
                               "<title>Night News</title></programme>\n"
                               "<programme start=\"20260101020000 +0000\" stop=\"20260101020000 +0000\" channel=\"go.test\">"
                               "<title>Placeholder</title></programme>\n"
                               "<programme start=\"20260101020000 +0000\" stop=\"20260101060000 +0000\" channel=\"go.test\">"
                               "<title>Late Film</title><desc>Four hours of it.</desc></programme>\n"
                               "<programme start=\"20260101060000 +0000\" stop=\"20260101070000 +0000\" channel=\"go.test\">"
                               "<title>Breakfast</title></programme>\n"
                               "</tv>\n";
        iptv::DiagnosticList readDiags;
        XmltvReadOptions readOptions;
        readOptions.sourceName = u"greek.xml"_qs;
        const GuideData data = XmltvReader::readAllBytes(xml, &readDiags, nullptr, readOptions);
        QCOMPARE(data.programmes.size(), 4);
        iptv::DiagnosticList diags;
        GuideCompileStats stats;
        const auto guide = Guide::fromBytes(compile(data, {}, &diags, &stats));
        QVERIFY(guide);
        QCOMPARE(stats.duplicatesDropped, 1);
        const auto [first, count] = guide->channelAirings(0);
        QCOMPARE(count, 3u);
        const Airing film = guide->airing(first + 1);
        QCOMPARE(guide->title(film.programme), u"Late Film"_qs);
        QCOMPARE(film.start, kDay0 + 2 * 3600);
        QCOMPARE(film.stop, kDay0 + 6 * 3600); // 03:00-06:00 is not left empty
        // The warning names where both entries were read.
        const auto warning = std::find_if(diags.items().cbegin(), diags.items().cend(), [](const iptv::Diagnostic &d) {
            return d.message.contains(u"two programmes start at");
        });
        QVERIFY(warning != diags.items().cend());
        QVERIFY2(warning->message.contains(u"greek.xml:5") && warning->message.contains(u"greek.xml:4"),
                 qPrintable(warning->toString()));
        QCOMPARE(warning->source, u"greek.xml"_qs);
        QCOMPARE(warning->line, 4); // the dropped placeholder
    }

    void equalDuplicatesKeepTheFirst()
    {
        // Two full entries at one start (two sources for one channel): the first, as sources are in
        // priority order.
        GuideData data = twoChannels();
        data.programmes = {simple(u"one.test"_qs, kDay0, kDay0 + 3600, u"From the first source"_qs),
                           simple(u"one.test"_qs, kDay0, kDay0 + 1800, u"From the second source"_qs)};
        GuideCompileStats stats;
        const auto guide = Guide::fromBytes(compile(data, {}, nullptr, &stats));
        QVERIFY(guide);
        QCOMPARE(stats.duplicatesDropped, 1);
        QCOMPARE(guide->title(guide->airing(guide->channelAirings(0).first).programme), u"From the first source"_qs);
    }

    void undeclaredChannelsCountEveryProgramme()
    {
        GuideData data = twoChannels();
        data.programmes = {simple(u"ghost.test"_qs, kDay0, kDay0 + 60, u"A"_qs),
                           simple(u"ghost.test"_qs, kDay0 + 60, kDay0 + 120, u"B"_qs),
                           simple(u"ghost.test"_qs, kDay0 + 120, kDay0 + 180, u"C"_qs),
                           simple(u"other.test"_qs, kDay0, kDay0 + 60, u"D"_qs)};
        iptv::DiagnosticList diags;
        GuideCompileStats stats;
        QVERIFY(Guide::fromBytes(compile(data, {}, &diags, &stats)));
        QCOMPARE(stats.unknownChannel, 4);
        QCOMPARE(stats.undeclaredChannels, 2);
        QVERIFY(std::any_of(diags.items().cbegin(), diags.items().cend(), [](const iptv::Diagnostic &d) {
            return d.message == u"4 programmes on 2 channels not declared in the guide (kept)";
        }));
    }

    void aliasChannelsShareProgrammes()
    {
        GuideBuilder builder({.compressionLevel = 3, .createdAt = kDay0});
        Channel hd;
        hd.id = u"one.test"_qs;
        hd.displayNames = {{{}, u"One HD"_qs}};
        hd.number = 101;
        Channel sd = hd;
        sd.id = u"one.test#2"_qs;
        sd.displayNames = {{{}, u"One"_qs}};
        sd.number = 1;
        builder.addChannel(hd);
        builder.addChannelAlias(sd, hd.id);
        builder.addProgramme(simple(u"one.test"_qs, kDay0, kDay0 + 1800, u"News"_qs));
        builder.addProgramme(simple(u"one.test"_qs, kDay0 + 1800, kDay0 + 3600, u"Weather"_qs));
        const auto guide = Guide::fromBytes(builder.finish());
        QVERIFY(guide);
        QCOMPARE(guide->channelCount(), 2);
        QCOMPARE(guide->channelNumber(1), 1);
        QCOMPARE(guide->channelAirings(1).second, 2u);
        const auto [now, next] = guide->nowNext(1, kDay0 + 60);
        QCOMPARE(guide->title(now.programme), u"News"_qs);
        QCOMPARE(now.programme, guide->nowNext(0, kDay0 + 60).first.programme); // stored once
        QCOMPARE(guide->programmeCount(), 2u);
    }

    void nowNextAndWindow()
    {
        GuideData data = twoChannels();
        for (int i = 0; i < 48; ++i)
            data.programmes.append(simple(u"one.test"_qs, kDay0 + i * 1800, kDay0 + (i + 1) * 1800, u"Slot %1"_qs.arg(i)));
        // A gap on channel two between 01:00 and 02:00.
        data.programmes.append(simple(u"two.test"_qs, kDay0, kDay0 + 3600, u"Early"_qs));
        data.programmes.append(simple(u"two.test"_qs, kDay0 + 7200, kDay0 + 9000, u"Late"_qs));
        const auto guide = Guide::fromBytes(compile(data));
        QVERIFY(guide);

        auto [now, next] = guide->nowNext(0, kDay0 + 1800 + 5);
        QCOMPARE(guide->title(now.programme), u"Slot 1"_qs);
        QCOMPARE(guide->title(next.programme), u"Slot 2"_qs);
        std::tie(now, next) = guide->nowNext(1, kDay0 + 4000);
        QVERIFY(!now.isValid()); // in the gap
        QCOMPARE(guide->title(next.programme), u"Late"_qs);
        QVERIFY(!guide->airingAt(1, kDay0 + 4000).isValid());
        QCOMPARE(guide->title(guide->airingAt(1, kDay0 + 7200).programme), u"Late"_qs);
        QVERIFY(!guide->airingAt(0, kDay0 - 1).isValid());

        QList<Airing> window;
        guide->window(0, 2, kDay0 + 900, kDay0 + 3600 + 900, &window);
        QStringList titles;
        for (const Airing &a : window)
            titles << guide->title(a.programme);
        QCOMPARE(titles, (QStringList{u"Slot 0"_qs, u"Slot 1"_qs, u"Slot 2"_qs, u"Early"_qs}));
        guide->window(1, 5, kDay0 + 3600, kDay0 + 7200, &window);
        QVERIFY(window.isEmpty());
    }

    /// The airing -> programme codes (repeats, a series' next episode, new ids, programmes that
    /// fell off the recent list) and the stop gaps, read back airing by airing.
    void scheduleCodesRoundTrip()
    {
        GuideData data = twoChannels();
        qint64 t = kDay0;
        auto add = [&](const QString &channel, const QString &title, const QString &sub, qint64 length, qint64 gap = 0) {
            Programme p = simple(channel, t, t + length, title);
            if (!sub.isEmpty())
                p.subTitles = {{{}, sub}};
            data.programmes.append(p);
            t += length + gap;
        };
        // Channel one: episodes of a series between repeats, gaps, then more distinct
        // programmes than the recent list holds and a repeat of the first of them.
        for (int e = 0; e < 6; ++e) {
            add(u"one.test"_qs, u"Series"_qs, u"Episode %1"_qs.arg(e), 1800);
            add(u"one.test"_qs, u"News"_qs, {}, 600, e % 2 ? 300 : 0);
            if (e >= 2)
                add(u"one.test"_qs, u"Series"_qs, u"Episode %1"_qs.arg(e - 2), 1800);
        }
        for (int i = 0; i < 1100; ++i)
            add(u"one.test"_qs, u"Filler %1"_qs.arg(i), {}, 300);
        add(u"one.test"_qs, u"Filler 0"_qs, {}, 300);
        add(u"one.test"_qs, u"Series"_qs, u"Episode 5"_qs, 1800);
        // Channel two: the same series, its episodes in another order.
        t = kDay0;
        for (int e : {3, 0, 1, 0, 7})
            add(u"two.test"_qs, u"Series"_qs, u"Episode %1"_qs.arg(e), 2400, 60);
        const auto guide = Guide::fromBytes(compile(data));
        QVERIFY(guide);
        QCOMPARE(guide->airingCount(), quint32(data.programmes.size()));
        for (quint32 i = 0; i < guide->airingCount(); ++i) {
            const Airing a = guide->airing(i);
            const Programme &in = data.programmes[qsizetype(i)];
            QCOMPARE(guide->channelId(int(a.channel)), in.channelId);
            QCOMPARE(a.start, in.start);
            QCOMPARE(a.stop, in.stop);
            QCOMPARE(guide->title(a.programme), in.titles.first().text);
            QCOMPARE(guide->subTitle(a.programme), in.subTitles.isEmpty() ? QString() : in.subTitles.first().text);
        }
    }

    /// Strings are stored grouped by the field introducing them, not in order of first use.
    void stringTableGrouped()
    {
        GuideData data = twoChannels();
        Programme a = simple(u"one.test"_qs, kDay0, kDay0 + 600, u"Alpha"_qs);
        a.descs = {{{}, u"<first description>"_qs}};
        Programme b = simple(u"one.test"_qs, kDay0 + 600, kDay0 + 1200, u"Beta"_qs);
        b.descs = {{{}, u"<second description>"_qs}};
        b.credits = {{Credit::Role::Actor, u"Some Actor"_qs, {}, false}};
        data.programmes = {a, b};
        const QByteArray file = compile(data);
        const auto guide = Guide::fromBytes(file);
        QVERIFY(guide);
        QCOMPARE(guide->description(guide->airing(1).programme), u"<second description>"_qs);
        QCOMPARE(guide->programmeRecord(guide->airing(1)).credits.first().name, u"Some Actor"_qs);
        const QByteArray strings = sectionBytes(file, iptv::epg::format::StringData);
        QVERIFY2(strings.contains("AlphaBeta<first description><second description>Some Actor"), strings.constData());
    }

    void rejectsBadScheduleTables_data()
    {
        using namespace iptv::epg::format;
        QTest::addColumn<quint32>("section");
        QTest::addColumn<int>("offset");
        QTest::addColumn<quint8>("byte");
        QTest::addColumn<QString>("message");
        // The first airing of a channel has no recent programme to repeat.
        QTest::newRow("repeat with an empty list") << quint32(AiringProgramme) << 0 << quint8(1) << u"names recent programme"_qs;
        QTest::newRow("next of nothing") << quint32(AiringProgramme) << 0 << quint8(2) << u"names recent programme"_qs;
        QTest::newRow("new id past the records") << quint32(AiringNewProgramme) << 0 << quint8(0x7f) << u"names programme 127"_qs;
        QTest::newRow("new ids cut short") << quint32(AiringNewProgramme) << 0 << quint8(0x80) << u"new programme ids end"_qs;
        QTest::newRow("gap longer than the slot") << quint32(AiringDuration) << 3 << quint8(0x7f) << u"ends before it starts"_qs;
    }
    void rejectsBadScheduleTables()
    {
        QFETCH(quint32, section);
        QFETCH(int, offset);
        QFETCH(quint8, byte);
        QFETCH(QString, message);
        GuideData data = twoChannels();
        data.programmes = {simple(u"one.test"_qs, kDay0, kDay0 + 600, u"A"_qs), simple(u"one.test"_qs, kDay0 + 600, kDay0 + 900, u"B"_qs),
                           simple(u"one.test"_qs, kDay0 + 900, kDay0 + 1200, u"A"_qs)};
        const QByteArray good = compile(data);
        QVERIFY(Guide::fromBytes(good));
        const QByteArray bad = editSection(good, section, [&](char *bytes, qsizetype size) {
            QVERIFY(offset < size);
            bytes[offset] = char(byte);
        });
        QString error;
        QVERIFY(!Guide::fromBytes(bad, &error, u"edited.guide"_qs));
        QVERIFY2(error.startsWith(u"edited.guide: "_qs) && error.contains(message), qPrintable(error));
    }

    /// A header announcing more strings or records than their length tables can hold is refused
    /// before anything is sized by the count.
    void rejectsCountsBeyondTheTables_data()
    {
        QTest::addColumn<int>("field");
        QTest::newRow("strings") << 0;
        QTest::newRow("programmes") << 1;
    }
    void rejectsCountsBeyondTheTables()
    {
        using namespace iptv::epg::format;
        QFETCH(int, field);
        GuideData data = twoChannels();
        data.programmes = {fullProgramme()};
        const QByteArray good = compile(data);
        Header h;
        QString reason;
        QVERIFY(decodeHeader(good, &h, &reason));
        (field == 0 ? h.stringCount : h.programmeCount) = 0xfffffff0u;
        QString error;
        QVERIFY(!Guide::fromBytes(encodeHeader(h) + good.mid(kHeaderSize), &error, u"counts.guide"_qs));
        QVERIFY2(error.contains(u"length table"_qs), qPrintable(error));
    }

    void rejectsDamage_data()
    {
        QTest::addColumn<int>("kind");
        QTest::newRow("empty") << 0;
        QTest::newRow("truncated") << 1;
        QTest::newRow("header bit flip") << 2;
        QTest::newRow("body bit flip") << 3;
        QTest::newRow("bad magic") << 4;
        QTest::newRow("padded") << 5;
    }
    void rejectsDamage()
    {
        QFETCH(int, kind);
        GuideData data = twoChannels();
        data.programmes = {fullProgramme()};
        QByteArray bytes = compile(data);
        QVERIFY(Guide::fromBytes(bytes));
        switch (kind) {
        case 0: bytes.clear(); break;
        case 1: bytes.chop(10); break;
        case 2: bytes[20] = char(bytes[20] ^ 0x40); break;
        case 3: bytes[bytes.size() - 20] = char(bytes[bytes.size() - 20] ^ 0x01); break;
        case 4: bytes[0] = 'X'; break;
        case 5: bytes.append('\0'); break;
        }
        QString error;
        QVERIFY(!Guide::fromBytes(bytes, &error, u"damaged.guide"_qs));
        QVERIFY2(error.startsWith(u"damaged.guide: "_qs), qPrintable(error));
    }

    void deterministic()
    {
        GuideData data = twoChannels();
        data.programmes = {fullProgramme(), simple(u"two.test"_qs, kDay0, kDay0 + 60, u"X"_qs)};
        QCOMPARE(compile(data), compile(data));
    }

    void deltaCatchesUp()
    {
        GuideData v1 = twoChannels();
        for (int i = 0; i < 500; ++i)
            v1.programmes.append(simple(u"one.test"_qs, kDay0 + i * 1800, kDay0 + (i + 1) * 1800, u"Programme %1"_qs.arg(i)));
        GuideData v2 = v1;
        v2.programmes[250].titles[0].text = u"A late change"_qs;
        const QByteArray a = compile(v1), b = compile(v2);
        QString error;
        const QByteArray delta = GuideDelta::make(a, b, &error);
        QVERIFY2(!delta.isEmpty(), qPrintable(error));
        QVERIFY2(delta.size() < b.size() / 4, qPrintable(u"delta %1 vs full %2"_qs.arg(delta.size()).arg(b.size())));
        const QByteArray rebuilt = GuideDelta::apply(a, delta, &error);
        QVERIFY2(!rebuilt.isEmpty(), qPrintable(error));
        const auto g2 = Guide::fromBytes(b), g3 = Guide::fromBytes(rebuilt);
        QVERIFY(g2 && g3);
        QCOMPARE(g3->info().checksum, g2->info().checksum);
        QCOMPARE(g3->title(g3->airing(250).programme), u"A late change"_qs);
        // Against the wrong base it refuses instead of producing garbage.
        QVERIFY(GuideDelta::apply(b, delta, &error).isEmpty());
        QVERIFY(error.contains(u"another guide version"_qs));
    }

    // Review: a delta's new header is untrusted bytes from the network. apply() sized a probe
    // buffer by its storedSize field before checking anything (not even the header's CRC): a
    // corrupt or hostile delta asks for any allocation, and a failed one (2^62 bytes) throws
    // std::bad_alloc out of apply() (the box's or diver's guide thread), instead of
    // "the delta does not apply" and a download of the whole guide.
    void deltaWithHugeStoredSizeFails()
    {
        GuideData v1 = twoChannels();
        v1.programmes = {simple(u"one.test"_qs, kDay0, kDay0 + 1800, u"One"_qs)};
        GuideData v2 = v1;
        v2.programmes.append(simple(u"two.test"_qs, kDay0, kDay0 + 1800, u"Two"_qs));
        const QByteArray a = compile(v1), b = compile(v2);
        QString error;
        QByteArray delta = GuideDelta::make(a, b, &error);
        QVERIFY2(!delta.isEmpty(), qPrintable(error));
        const quint64 huge = quint64(1) << 62;
        std::memcpy(delta.data() + 8 + 32 + 64, &huge, sizeof huge); // the new header's storedSize
        bool threw = false;
        QByteArray rebuilt;
        try {
            rebuilt = GuideDelta::apply(a, delta, &error);
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        QVERIFY2(!threw, "a delta header claiming 2^62 stored bytes makes apply() allocate them");
        QVERIFY(rebuilt.isEmpty());
    }

    // The same claim with a valid CRC (a hostile server, not a corrupt one): refused by the
    // limits, with the field named, before the base is even decompressed.
    void deltaHeaderBeyondLimitsFails()
    {
        using namespace iptv::epg::format;
        GuideData v1 = twoChannels();
        v1.programmes = {simple(u"one.test"_qs, kDay0, kDay0 + 1800, u"One"_qs)};
        GuideData v2 = v1;
        v2.programmes.append(simple(u"two.test"_qs, kDay0, kDay0 + 1800, u"Two"_qs));
        const QByteArray a = compile(v1), b = compile(v2);
        QString error;
        const QByteArray delta = GuideDelta::make(a, b, &error);
        QVERIFY2(!delta.isEmpty(), qPrintable(error));
        constexpr qsizetype headerAt = 8 + 32;
        Header h;
        QString reason;
        QVERIFY2(decodeHeaderFields(QByteArrayView(delta).sliced(headerAt, kHeaderSize), &h, &reason), qPrintable(reason));

        const auto withHeader = [&](const Header &changed) -> QByteArray {
            return delta.left(headerAt) + encodeHeader(changed) + delta.mid(headerAt + kHeaderSize);
        };
        Header huge = h;
        huge.storedSize = quint64(1) << 62;
        QVERIFY(GuideDelta::apply(a, withHeader(huge), &error).isEmpty());
        QVERIFY2(error.contains(u"stored size") && error.contains(u"limit"), qPrintable(error));
        huge = h;
        huge.bodySize = quint64(1) << 40;
        QVERIFY(GuideDelta::apply(a, withHeader(huge), &error).isEmpty());
        QVERIFY2(error.contains(u"body size") && error.contains(u"limit"), qPrintable(error));

        // Limits of the caller's choice: the real delta fits the defaults, not a 1 KiB body.
        QVERIFY2(!GuideDelta::apply(a, delta, &error).isEmpty(), qPrintable(error));
        GuideLimits tight;
        tight.maxBodyBytes = 64;
        QVERIFY(GuideDelta::apply(a, delta, &error, tight).isEmpty());
        QVERIFY2(error.contains(u"limit"), qPrintable(error));
        tight = {};
        tight.maxFileBytes = 16;
        QVERIFY(GuideDelta::apply(a, delta, &error, tight).isEmpty());
        QVERIFY2(error.contains(u"limit"), qPrintable(error));
    }

    // A tiny zstd frame that expands to a body larger than the limit (a few bytes claiming
    // megabytes of zeros): refused by its header's claim, nothing that size is allocated.
    void guideBodyBeyondLimitIsRefused()
    {
        using namespace iptv::epg::format;
        const QByteArray body(4 << 20, '\0');
        Header h;
        h.validFrom = kDay0;
        h.validUntil = kDay0 + 86400;
        h.bodySize = quint64(body.size());
        std::memcpy(h.bodyHash, bodyHash(body).constData(), 32);
        QString reason;
        const QByteArray stored = compressBody(body, 19, 1, &reason);
        QVERIFY2(stored.size() < 4096, qPrintable(QString::number(stored.size())));
        h.storedSize = quint64(stored.size());
        const QByteArray file = encodeHeader(h) + stored;
        GuideLimits limits;
        limits.maxBodyBytes = 1 << 20;
        QString error;
        QVERIFY(!Guide::fromBytes(file, &error, {}, limits));
        QVERIFY2(error.contains(u"body size 4194304 exceeds the limit of 1048576 bytes"), qPrintable(error));
        limits = {};
        limits.maxFileBytes = 100;
        QVERIFY(!Guide::fromBytes(file, &error, {}, limits));
        QVERIFY2(error.contains(u"stored size"), qPrintable(error));
    }

    /// Descriptions are kept compressed in blocks once a guide is open: each reads back whole,
    /// in order, backwards (blocks leave the per-thread cache), from several threads at once, and
    /// one longer than a block; views from string() stay valid while a few other blocks are read.
    void descriptionsAcrossBlocks()
    {
        GuideData data = twoChannels();
        QStringList texts;
        for (int i = 0; i < 3000; ++i) {
            Programme p = simple(i % 2 ? u"two.test"_qs : u"one.test"_qs, kDay0 + (i / 2) * 600, kDay0 + (i / 2 + 1) * 600,
                                 u"Programme %1"_qs.arg(i));
            QString text = u"Description %1: "_qs.arg(i) + u"words of programme %1, "_qs.arg(i).repeated(1 + i % 7);
            if (i == 1234)
                text += u"a very long one "_qs.repeated(4000); // 64,000 bytes: a block of its own
            p.descs = {{{}, text}};
            texts.append(text);
            data.programmes.append(p);
        }
        const auto guide = Guide::fromBytes(compile(data));
        QVERIFY(guide);
        QCOMPARE(guide->airingCount(), quint32(texts.size()));
        // Airings come channel by channel: find each one's input by its title.
        auto expected = [&](quint32 airing) {
            const Airing a = guide->airing(airing);
            return texts.at(guide->title(a.programme).section(u' ', 1).toInt());
        };
        for (quint32 i = 0; i < guide->airingCount(); ++i)
            QCOMPARE(guide->description(guide->airing(i).programme), expected(i));
        for (quint32 i = guide->airingCount(); i-- > 0;)
            QCOMPARE(guide->description(guide->airing(i).programme), expected(i));

        const quint32 first = guide->programmeStrings(guide->airing(0).programme).description;
        const QByteArrayView view = guide->string(first);
        for (quint32 i : {1500u, 2999u, 700u})
            QVERIFY(!guide->description(guide->airing(i).programme).isEmpty());
        QCOMPARE(QString::fromUtf8(view), expected(0));

        std::atomic<int> mismatches{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (quint32 i = quint32(t); i < guide->airingCount(); i += 3)
                    if (guide->description(guide->airing(i).programme) != expected(i))
                        ++mismatches;
            });
        }
        for (auto &thread : threads)
            thread.join();
        QCOMPARE(mismatches.load(), 0);
    }

    /// Digests tell what a channel airs across guide versions by content, whatever the programme
    /// and string numbers: unchanged channels keep theirs although a retitle elsewhere renumbers
    /// the strings and records, and a description changed to another of the same length, or a
    /// flag, changes its channel's.
    void digestsAcrossVersions()
    {
        GuideData v1 = twoChannels();
        Channel three;
        three.id = u"three.test"_qs;
        v1.channels.append(three);
        const QStringList ids = {u"one.test"_qs, u"two.test"_qs, u"three.test"_qs};
        for (int c = 0; c < 3; ++c) {
            for (int i = 0; i < 40; ++i) {
                Programme p = simple(ids[c], kDay0 + i * 1800, kDay0 + (i + 1) * 1800, u"Show %1"_qs.arg(c * 100 + i % 10));
                p.descs = {{{}, u"Episode %1 of show %2: a story."_qs.arg(i).arg(c * 100 + i % 10)}};
                p.episodeNums = {{u"xmltv_ns"_qs, u"0.%1."_qs.arg(i)}};
                v1.programmes.append(p);
            }
        }
        GuideData v2 = v1, v3 = v1;
        v2.programmes[5].titles[0].text = u"A new title"_qs; // one: sorts first, renumbers the rest
        QString &desc = v2.programmes[40 + 7].descs[0].text;  // two: same length, other text
        desc.replace(u"story"_qs, u"STORY"_qs);
        v3.programmes[80 + 3].airing.isNew = true;            // three: a flag
        const auto g1 = Guide::fromBytes(compile(v1)), g2 = Guide::fromBytes(compile(v2)), g3 = Guide::fromBytes(compile(v3));
        QVERIFY(g1 && g2 && g3);
        QCOMPARE(g1->stringCount(), g2->stringCount() - 1);
        QVERIFY(g1->channelDigest(0) != g2->channelDigest(0));
        QVERIFY(g1->channelDigest(1) != g2->channelDigest(1));
        QCOMPARE(g1->channelDigest(2), g2->channelDigest(2));
        QCOMPARE(g1->channelDigest(0), g3->channelDigest(0));
        QVERIFY(g1->channelDigest(2) != g3->channelDigest(2));
        QVERIFY(g1->channelDigest(0) != g1->channelDigest(1)); // a digest is not a count of airings
        // Programme by programme: only the two changed ones differ.
        int differing = 0;
        for (quint32 i = 0; i < g1->airingCount(); ++i) {
            const Airing a = g1->airing(i), b = g2->airing(i);
            QCOMPARE(a.start, b.start);
            if (g1->programmeDigest(a.programme) != g2->programmeDigest(b.programme))
                ++differing;
        }
        QCOMPARE(differing, 2);
        QCOMPARE(g1->channelDigest(3), quint64(0));
    }

    void readInfoWithoutDecompressing()
    {
        GuideData data = twoChannels();
        data.programmes = {fullProgramme()};
        const QByteArray bytes = compile(data);
        QTemporaryDir dir;
        const QString path = dir.filePath(u"x.guide"_qs);
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(bytes);
        f.close();
        GuideInfo info;
        QString error;
        QVERIFY2(Guide::readInfo(path, &info, &error), qPrintable(error));
        QCOMPARE(info.channelCount, 2u);
        QCOMPARE(info.airingCount, 1u);
        QCOMPARE(info.checksum, Guide::fromBytes(bytes)->info().checksum);
        QVERIFY(!Guide::open(dir.filePath(u"missing.guide"_qs), &error));
        QVERIFY(error.contains(u"missing.guide"_qs));
    }
};

QTEST_GUILESS_MAIN(TestGuideFormat)
#include "tst_guideformat.moc"
