// The iptvnext store on SQLite and the record codec: round trips, atomic replacement, guides.

#include <codec.h>
#include <refresh.h>
#include <store.h>

#include <QCborValue>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::epg;
using namespace iptv::next;

namespace {

Programme fullProgramme()
{
    Programme p;
    p.channelId = QStringLiteral("one.test");
    p.start = 1767225600;
    p.stop = 1767229200;
    p.startUtcOffset = 3600;
    p.titles = {{u"en"_qs, u"Mystery Island"_qs}, {u"ga"_qs, u"Oileán na Rúndiamhra"_qs}};
    p.subTitles = {{u"en"_qs, u"The Cave"_qs}};
    p.descs = {{QString(), u"Castaways find a cave."_qs}};
    p.credits = {{Credit::Role::Director, u"Ada"_qs, {}, false},
                 {Credit::Role::Actor, u"Bo"_qs, u"Captain"_qs, true},
                 {Credit::Role::Guest, u"Cy"_qs, {}, false}};
    p.date = QStringLiteral("20160412");
    p.categories = {{u"en"_qs, u"Drama"_qs}, {u"en"_qs, u"Adventure"_qs}};
    p.keywords = {{u"en"_qs, u"island"_qs}};
    p.language = {u"en"_qs, u"English"_qs};
    p.origLanguage = {QString(), u"Irish"_qs};
    p.lengthSeconds = 3300;
    p.icons = {{u"http://img.test/a.png"_qs, 640, 360}};
    p.urls = {u"http://info.test/mystery"_qs};
    p.countries = {{QString(), u"IE"_qs}};
    p.episodeNums = {{u"xmltv_ns"_qs, u"0.3."_qs}, {u"onscreen"_qs, u"S1 E4"_qs}};
    p.video.hasPresent = true;
    p.video.present = false;
    p.video.hasColour = true;
    p.video.colour = false;
    p.video.aspect = QStringLiteral("16:9");
    p.video.quality = QStringLiteral("HDTV");
    p.audio.hasPresent = true;
    p.audio.stereo = QStringLiteral("dolby digital");
    p.subtitles = {{u"teletext"_qs, u"en"_qs}, {QString(), QString()}};
    p.ratings = {{u"IFCO"_qs, u"12"_qs, {{u"http://img.test/12.png"_qs, 0, 0}}}};
    p.starRatings = {{QString(), u"3/5"_qs, {}}};
    p.reviews = {{u"en"_qs, u"Gripping."_qs}};
    p.airing.isNew = true;
    p.airing.previouslyShown = true;
    p.airing.previouslyShownStart = QStringLiteral("20251201200000 +0000");
    p.airing.previouslyShownChannel = QStringLiteral("two.test");
    p.airing.premiere = true;
    p.airing.premiereText = {u"en"_qs, u"Series premiere"_qs};
    p.airing.lastChance = true;
    p.airing.lastChanceText = {QString(), u"Final showing"_qs};
    return p;
}

Programme simpleProgramme(const QString &channel, qint64 start, const QString &title)
{
    Programme p;
    p.channelId = channel;
    p.start = start;
    p.stop = start + 1800;
    p.titles = {{QString(), title}};
    return p;
}

Channel channel(const QString &id, const QString &name)
{
    Channel c;
    c.id = id;
    c.displayNames = {{u"en"_qs, name}};
    return c;
}

} // namespace

class TestIptvNextStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void programmeCodec_data()
    {
        QTest::addColumn<Programme>("programme");
        QTest::newRow("every field") << fullProgramme();
        QTest::newRow("title only") << simpleProgramme(u"x"_qs, 100, u"T"_qs);
        Programme noStop = simpleProgramme(u"x"_qs, 100, u"T"_qs);
        noStop.stop = 0;
        noStop.startUtcOffset = -18000;
        QTest::newRow("no stop, negative offset") << noStop;
        Programme video;
        video.channelId = QStringLiteral("v");
        video.video.hasColour = true; // colour="yes" given explicitly
        video.audio.hasPresent = true;
        video.audio.present = false;
        QTest::newRow("explicit defaults") << video;
    }

    void programmeCodec()
    {
        QFETCH(Programme, programme);
        const QByteArray cbor = programmeToCbor(programme).toCborValue().toCbor();
        const Programme back = programmeFromCbor(QCborValue::fromCbor(cbor).toMap());
        QCOMPARE(back, programme);
        // The JSON API prints the same record.
        QCOMPARE(programmeToJson(programme).value(u"channel").toString(), programme.channelId);
    }

    void channelCodec()
    {
        Channel c = channel(u"one.test"_qs, u"Channel One"_qs);
        c.displayNames.append({QString(), u"One"_qs});
        c.icons = {{u"http://logos.test/one.png"_qs, 100, 50}};
        c.urls = {u"http://one.test"_qs};
        c.number = 101;
        c.group = QStringLiteral("Main");
        c.streamUrl = QStringLiteral("http://streams.test/one.m3u8");
        QCOMPARE(channelFromCbor(channelToCbor(c)), c);
    }

    void sourceRoundTrip()
    {
        QTemporaryDir dir;
        GuideStore store;
        QString error;
        QVERIFY2(store.open(dir.filePath(u"store.sqlite"_qs), &error), qPrintable(error));
        QCOMPARE(store.driverName(), u"QSQLITE"_qs);

        const QList<Channel> channels = {channel(u"one.test"_qs, u"One"_qs), channel(u"two.test"_qs, u"Two"_qs)};
        QList<Programme> programmes = {fullProgramme()};
        // More rows than one INSERT chunk, to cover chunk boundaries.
        for (int i = 0; i < 450; ++i)
            programmes.append(simpleProgramme(u"two.test"_qs, 1767225600 + i * 1800, QStringLiteral("Show %1").arg(i)));
        QVERIFY2(store.replaceSource(u"a.xml"_qs, u"xmltv"_qs, channels, programmes, {}, 1000, "{}", &error),
                 qPrintable(error));

        QList<Channel> channelsBack;
        QVERIFY(store.loadChannels(u"a.xml"_qs, &channelsBack, &error));
        QCOMPARE(channelsBack, channels);
        QList<Programme> back;
        QVERIFY(store.forEachProgramme(u"a.xml"_qs, [&](Programme &&p) { back.append(std::move(p)); }, &error));
        QCOMPARE(back.size(), programmes.size());
        // Stored by channel, then start.
        QCOMPARE(back.first(), fullProgramme());
        QCOMPARE(back.at(1), programmes.at(1));
        QCOMPARE(back.last(), programmes.last());

        const auto rec = store.source(u"a.xml"_qs);
        QVERIFY(rec);
        QVERIFY(rec->lastOk);
        QCOMPARE(rec->lastSuccess, 1000);
        QCOMPARE(rec->programmeCount, programmes.size());
        QCOMPARE(rec->channelCount, 2);

        // A second store on the same file (the refresh worker's connection) sees the same data.
        GuideStore other;
        QVERIFY(other.open(dir.filePath(u"store.sqlite"_qs), &error));
        QCOMPARE(other.sources().size(), 1);
    }

    void failedReplaceKeepsPreviousData()
    {
        QTemporaryDir dir;
        GuideStore store;
        QString error;
        QVERIFY(store.open(dir.filePath(u"store.sqlite"_qs), &error));
        QVERIFY(store.replaceSource(u"a.xml"_qs, u"xmltv"_qs, {channel(u"one.test"_qs, u"One"_qs)},
                                    {simpleProgramme(u"one.test"_qs, 100, u"Old"_qs)}, {}, 1000, "{}", &error));
        {
            auto writer = store.beginReplace(u"a.xml"_qs, u"xmltv"_qs);
            QVERIFY(writer->isActive());
            for (int i = 0; i < 300; ++i)
                QVERIFY(writer->addProgramme(simpleProgramme(u"one.test"_qs, 200 + i, u"New"_qs)));
            // Destroyed without commit: the read failed half-way.
        }
        QVERIFY(store.recordFailure(u"a.xml"_qs, u"xmltv"_qs, 2000, u"unreadable"_qs, "{\"ok\":false}", &error));

        QStringList titles;
        QVERIFY(store.forEachProgramme(u"a.xml"_qs, [&](Programme &&p) { titles.append(p.title()); }, &error));
        QCOMPARE(titles, QStringList{u"Old"_qs});
        const auto rec = store.source(u"a.xml"_qs);
        QVERIFY(rec);
        QVERIFY(!rec->lastOk);
        QCOMPARE(rec->lastError, u"unreadable"_qs);
        QCOMPARE(rec->lastAttempt, 2000);
        QCOMPARE(rec->lastSuccess, 1000);
        QCOMPARE(rec->programmeCount, 1);
    }

    void lineupContent()
    {
        QTemporaryDir dir;
        GuideStore store;
        QString error;
        QVERIFY(store.open(dir.filePath(u"store.sqlite"_qs), &error));
        QCOMPARE(store.sourceContent(u"lineup.m3u"_qs), QByteArray());
        const QByteArray m3u = "#EXTM3U\n#EXTINF:-1,One\nhttp://one\n";
        QVERIFY(store.replaceSource(u"lineup.m3u"_qs, u"m3u"_qs, {}, {}, m3u, 5, "{}", &error));
        QCOMPARE(store.sourceContent(u"lineup.m3u"_qs), m3u);
    }

    void guideVersions()
    {
        QTemporaryDir dir;
        GuideStore store;
        QString error;
        QVERIFY(store.open(dir.filePath(u"store.sqlite"_qs), &error));
        QVERIFY(store.guides().isEmpty());
        GuideVersion v;
        v.checksum = "aaaa";
        v.path = QStringLiteral("/x/aaaa.guide");
        v.createdAt = 10;
        v.validFrom = 100;
        v.validUntil = 200;
        v.fileSize = 1234;
        v.channels = 3;
        v.airings = 8;
        v.programmes = 7;
        QCOMPARE(store.addGuide(v, &error), 1);
        v.checksum = "bbbb";
        QCOMPARE(store.addGuide(v, &error), 2);
        const QList<GuideVersion> all = store.guides();
        QCOMPARE(all.size(), 2);
        QCOMPARE(all.first().version, 2); // newest first
        QCOMPARE(all.first().checksum, QByteArray("bbbb"));
        QCOMPARE(all.last().airings, 8);
        QVERIFY(store.removeGuide(1, &error));
        QCOMPARE(store.guides().size(), 1);
    }

    void reopenKeepsData()
    {
        QTemporaryDir dir;
        QString error;
        {
            GuideStore store;
            QVERIFY(store.open(dir.filePath(u"store.sqlite"_qs), &error));
            QVERIFY(store.replaceSource(u"a"_qs, u"xmltv"_qs, {}, {simpleProgramme(u"c"_qs, 1, u"T"_qs)}, {}, 1, "{}", &error));
        }
        GuideStore store;
        QVERIFY(store.open(dir.filePath(u"store.sqlite"_qs), &error));
        QCOMPARE(store.source(u"a"_qs)->programmeCount, 1);
    }

    void startOfDay()
    {
        QCOMPARE(startOfUtcDay(1767292200), 1767225600);
        QCOMPARE(startOfUtcDay(1767225600), 1767225600);
    }
};

QTEST_GUILESS_MAIN(TestIptvNextStore)
#include "tst_iptvnextstore.moc"
