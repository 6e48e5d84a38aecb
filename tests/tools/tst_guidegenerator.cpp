#include <epg/guide.h>
#include <epg/guidegenerator.h>
#include <epg/guidewriter.h>
#include <epg/xmltvreader.h>

#include <QBuffer>
#include <QHash>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::epg;

class TestGuideGenerator : public QObject
{
    Q_OBJECT

private:
    static QByteArray xmltv(const GuideGeneratorOptions &options)
    {
        QByteArray bytes;
        QBuffer buffer(&bytes);
        buffer.open(QIODevice::WriteOnly);
        QString error;
        if (!GuideGenerator(options).writeXmltv(&buffer, &error))
            qWarning() << error;
        return bytes;
    }

private Q_SLOTS:
    void determinism_data()
    {
        QTest::addColumn<int>("channels");
        QTest::addColumn<int>("days");
        QTest::addColumn<quint64>("seed");
        QTest::newRow("1x1 seed 0") << 1 << 1 << quint64(0);
        QTest::newRow("12x3 seed 1") << 12 << 3 << quint64(1);
        QTest::newRow("30x7 seed 42") << 30 << 7 << quint64(42);
    }
    void determinism()
    {
        QFETCH(int, channels);
        QFETCH(int, days);
        QFETCH(quint64, seed);
        const GuideGeneratorOptions options{channels, days, 0, seed};
        const QByteArray a = xmltv(options);
        QVERIFY(a.size() > 1000);
        QCOMPARE(xmltv(options), a); // same seed: byte-identical
        GuideGeneratorOptions other = options;
        other.seed = seed + 1;
        QVERIFY(xmltv(other) != a);
    }

    void windowAndContinuity()
    {
        const GuideGeneratorOptions options{20, 14, 0, 7};
        const GuideGenerator generator(options);
        QCOMPARE(generator.windowStart(), GuideGenerator::DefaultStart);
        QCOMPARE(generator.windowEnd(), GuideGenerator::DefaultStart + 14 * 86400);
        QHash<QString, qint64> lastStop;
        QString previousChannel;
        qint64 count = 0;
        generator.generate({}, [&](Programme &&p) {
            ++count;
            QVERIFY(p.start >= generator.windowStart());
            QVERIFY(p.start < generator.windowEnd());
            QVERIFY(p.stop > p.start);
            QVERIFY(!p.title().isEmpty());
            // Channel by channel, and within a channel the schedule is gapless.
            if (p.channelId == previousChannel)
                QCOMPARE(p.start, lastStop.value(p.channelId));
            else
                QVERIFY(!lastStop.contains(p.channelId));
            lastStop.insert(p.channelId, p.stop);
            previousChannel = p.channelId;
        });
        QCOMPARE(lastStop.size(), 20);
        QVERIFY(count > 0);
    }

    void realisticShape()
    {
        const int channels = 60;
        const int days = 14;
        const GuideGenerator generator(GuideGeneratorOptions{channels, days, 0, 1});
        QHash<QString, int> perChannel;
        QHash<QString, int> descriptionUses;
        QHash<int, int> durations;
        int programmes = 0, withEpisode = 0, withCredits = 0, isNew = 0, repeats = 0, greek = 0, cjk = 0,
            accented = 0, films = 0;
        QSet<QString> languages;
        generator.generate({}, [&](Programme &&p) {
            ++programmes;
            ++perChannel[p.channelId];
            if (!p.descs.isEmpty())
                ++descriptionUses[p.descs.first().text];
            ++durations[int(p.duration() / 60)];
            withEpisode += !p.episodeNums.isEmpty();
            withCredits += !p.credits.isEmpty();
            isNew += p.airing.isNew;
            repeats += p.airing.previouslyShown;
            for (const LangText &t : p.titles)
                languages.insert(t.lang);
            const QString title = p.title();
            greek += std::any_of(title.begin(), title.end(), [](QChar c) { return c.script() == QChar::Script_Greek; });
            cjk += std::any_of(title.begin(), title.end(), [](QChar c) { return c.script() == QChar::Script_Han; });
            accented += std::any_of(title.begin(), title.end(), [](QChar c) { return c.unicode() >= 0xC0 && c.unicode() < 0x250; });
            for (const LangText &c : p.categories)
                films += c.text == u"Movie";
        });

        // Programmes per channel and day: the sample feeds have 9 to 31; some music channels have fewer.
        const double average = double(programmes) / channels / days;
        QVERIFY2(average >= 15 && average <= 40, qPrintable(QString::number(average)));
        for (auto it = perChannel.cbegin(); it != perChannel.cend(); ++it) {
            const double perDay = double(it.value()) / days;
            QVERIFY2(perDay >= 5 && perDay <= 70, qPrintable(it.key() + u' ' + QString::number(perDay)));
        }
        // Mostly half-hour and hour slots, but not only.
        QVERIFY(durations.value(30) + durations.value(60) > programmes / 2);
        QVERIFY(durations.size() > 10);
        QVERIFY(durations.contains(5));
        for (auto it = durations.cbegin(); it != durations.cend(); ++it)
            QVERIFY2(it.key() >= 5 && it.key() <= 180, qPrintable(QString::number(it.key())));

        // Repeats: descriptions are shared by re-airings, but most are not identical.
        const double distinct = double(descriptionUses.size()) / programmes;
        QVERIFY2(distinct > 0.12 && distinct < 0.6, qPrintable(QString::number(distinct)));
        const int reused = int(std::count_if(descriptionUses.cbegin(), descriptionUses.cend(), [](int n) { return n > 1; }));
        QVERIFY(reused > descriptionUses.size() / 10);
        QVERIFY(repeats > programmes / 5);
        QVERIFY(isNew > 0);

        QVERIFY(withEpisode > programmes / 5);
        QVERIFY(withCredits > programmes / 10);
        QVERIFY(films > 0);
        QVERIFY(languages.contains(u"en"_qs));
        QVERIFY(languages.size() >= 3);
        QVERIFY(greek > 0);
        QVERIFY(accented > 0);
        Q_UNUSED(cjk) // CJK channels are rare (3 %); the 1,000-channel guide has them
    }

    void repeatShare_data()
    {
        QTest::addColumn<double>("share");
        QTest::addColumn<double>("minDistinct");
        QTest::addColumn<double>("maxDistinct");
        // Without repeats the generator's own re-airings leave about 45 % distinct (realisticShape);
        // with a share of repeats, about (1 - share) of the airings bring a programme of their own,
        // fewer where two originals happen to be the same (news, fillers).
        QTest::newRow("none") << 0.0 << 0.30 << 0.70;
        QTest::newRow("90 %") << 0.90 << 0.04 << 0.11;
        QTest::newRow("99 %") << 0.99 << 0.002 << 0.015;
    }
    void repeatShare()
    {
        QFETCH(double, share);
        QFETCH(double, minDistinct);
        QFETCH(double, maxDistinct);
        GuideGeneratorOptions options{40, 7, 0, 3};
        options.repeatShare = share;
        const GuideGenerator generator(options);
        GuideBuilder builder({.from = generator.windowStart(), .days = options.days, .compressionLevel = 1,
                              .createdAt = generator.windowStart()});
        for (int c = 0; c < generator.channelCount(); ++c)
            builder.addChannel(generator.channel(c));
        qint64 airings = 0, previouslyShown = 0;
        QHash<QString, QSet<QString>> channelsOfTitle;
        generator.generate({}, [&](Programme &&p) {
            ++airings;
            previouslyShown += p.airing.previouslyShown;
            channelsOfTitle[p.title() + u'|' + (p.descs.isEmpty() ? QString() : p.descs.first().text)].insert(p.channelId);
            builder.addProgramme(p);
        });
        QString error;
        const auto guide = Guide::fromBytes(builder.finish(), &error);
        QVERIFY2(guide, qPrintable(error));
        QCOMPARE(qint64(guide->airingCount()), airings);
        // Distinct as the guide compiler counts them: programmes identical in every metadata field.
        const double distinct = double(guide->programmeCount()) / double(airings);
        QVERIFY2(distinct >= minDistinct && distinct <= maxDistinct, qPrintable(QString::number(distinct)));
        // Every repeat is marked as one.
        QVERIFY2(double(previouslyShown) / double(airings) >= share - 0.02,
                 qPrintable(QString::number(double(previouslyShown) / double(airings))));
        if (share > 0.5) {
            // Repeats are drawn from the whole lineup: a programme turns up on many channels.
            const int widest = int(std::max_element(channelsOfTitle.cbegin(), channelsOfTitle.cend(),
                                                    [](const QSet<QString> &a, const QSet<QString> &b) {
                                                        return a.size() < b.size();
                                                    })->size());
            QVERIFY2(widest >= 10, qPrintable(QString::number(widest)));
        }
        // Still a pure function of the options, and a different share is a different guide.
        QCOMPARE(xmltv(options), xmltv(options));
        if (share > 0) {
            GuideGeneratorOptions without = options;
            without.repeatShare = 0;
            QVERIFY(xmltv(without) != xmltv(options));
        }
    }

    void channelsAreUniqueAndNamed()
    {
        const GuideGenerator generator(GuideGeneratorOptions{300, 1, 0, 5});
        QSet<QString> ids, names;
        bool cjk = false;
        for (int i = 0; i < generator.channelCount(); ++i) {
            const Channel c = generator.channel(i);
            QVERIFY(!c.displayNames.isEmpty());
            const QString name = c.name();
            ids.insert(c.id);
            names.insert(name);
            cjk = cjk || std::any_of(name.begin(), name.end(), [](QChar ch) { return ch.unicode() >= 0x3040; });
        }
        QCOMPARE(ids.size(), 300);
        QCOMPARE(names.size(), 300);
        QCOMPARE(generator.channel(0).id, u"ch001.demo"_qs);
        QVERIFY(cjk);
    }

    void readsBackWithoutDiagnostics()
    {
        const GuideGeneratorOptions options{25, 3, 0, 9};
        const GuideGenerator generator(options);
        const GuideData generated = generator.generateAll();
        iptv::DiagnosticList diagnostics;
        bool ok = false;
        const GuideData read = XmltvReader::readAllBytes(xmltv(options), &diagnostics, &ok);
        QVERIFY(ok);
        for (const auto &d : diagnostics.items())
            qWarning() << d.toString();
        QVERIFY(diagnostics.isEmpty());
        QCOMPARE(read.channels.size(), generated.channels.size());
        QCOMPARE(read.programmes.size(), generated.programmes.size());
        for (qsizetype i = 0; i < read.programmes.size(); ++i) {
            const Programme &a = read.programmes.at(i);
            const Programme &b = generated.programmes.at(i);
            QCOMPARE(a.channelId, b.channelId);
            QCOMPARE(a.start, b.start);
            QCOMPARE(a.stop, b.stop);
            QCOMPARE(a.startUtcOffset, b.startUtcOffset);
            QCOMPARE(a.titles, b.titles);
            QCOMPARE(a.descs, b.descs);
            QCOMPARE(a.credits, b.credits);
            QCOMPARE(a.episodeNums, b.episodeNums);
            QCOMPARE(a.airing, b.airing);
        }
    }

    void compressedFile_data()
    {
        QTest::addColumn<QString>("name");
        QTest::newRow("plain") << u"guide.xml"_qs;
        QTest::newRow("gzip") << u"guide.xml.gz"_qs;
        QTest::newRow("xz") << u"guide.xml.xz"_qs;
    }
    void compressedFile()
    {
        QFETCH(QString, name);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const GuideGenerator generator(GuideGeneratorOptions{5, 2, 0, 3});
        const QString path = dir.filePath(name);
        QString error;
        QVERIFY2(generator.writeFile(path, &error), qPrintable(error));
        QVERIFY(!QFile::exists(path + u".part"_qs));
        iptv::DiagnosticList diagnostics;
        bool ok = false;
        const GuideData read = XmltvReader::readAll(path, &diagnostics, &ok);
        QVERIFY(ok);
        QVERIFY(diagnostics.isEmpty());
        QCOMPARE(read.programmes.size(), generator.generateAll().programmes.size());
    }

    void unwritablePathFails()
    {
        const GuideGenerator generator(GuideGeneratorOptions{1, 1, 0, 1});
        QString error;
        QVERIFY(!generator.writeFile(u"/nonexistent-dir/x.xml"_qs, &error));
        QVERIFY(error.contains(u"/nonexistent-dir/x.xml"_qs));
    }
};

QTEST_GUILESS_MAIN(TestGuideGenerator)
#include "tst_guidegenerator.moc"
