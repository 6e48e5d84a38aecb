// XMLTV -> compact guide -> XMLTV keeps every field: each programme read from a file comes back
// from the compiled guide equal, field for field, and so does the XMLTV written from the guide.
// Runs on the every-field fixture and on the real guides in ../shared/data/xmltv when present.

#include <epg/guide.h>
#include <epg/guidewriter.h>
#include <epg/xmltvreader.h>
#include <epg/xmltvwriter.h>

#include <QDir>
#include <QTest>

#include <map>

using namespace iptv::epg;

class TestGuideRoundTrip : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roundTrip_data()
    {
        QTest::addColumn<QString>("path");
        QTest::newRow("every field") << QStringLiteral(IPTV_TEST_DATA "/xmltv/full.xml");
        const QDir shared(QStringLiteral(IPTV_SHARED_XMLTV));
        for (const QString &name : shared.entryList({u"*.xml"_qs}, QDir::Files, QDir::Name))
            QTest::newRow(qPrintable(name)) << shared.filePath(name);
    }

    void roundTrip()
    {
        QFETCH(QString, path);
        if (!QFile::exists(path))
            QSKIP(qPrintable(u"not present here: "_qs + path));
        iptv::DiagnosticList diags;
        bool ok = false;
        const GuideData source = XmltvReader::readAll(path, &diags, &ok);
        QVERIFY2(ok, qPrintable(diags.summary()));
        QVERIFY(!source.programmes.isEmpty());

        // A window wide enough for the whole file, so nothing is cut away.
        qint64 first = std::numeric_limits<qint64>::max(), last = 0;
        for (const Programme &p : source.programmes) {
            first = std::min(first, p.start);
            last = std::max(last, std::max(p.start, p.stop));
        }
        GuideBuilder builder({.from = first, .days = int((last - first) / 86400 + 2), .compressionLevel = 3, .createdAt = 1});
        builder.addGuide(source);
        QString error;
        const auto guide = Guide::fromBytes(builder.finish(), &error);
        QVERIFY2(guide, qPrintable(error));
        const GuideCompileStats &stats = builder.stats();

        // Every source channel comes back whole.
        for (const Channel &c : source.channels) {
            const int index = guide->channelIndex(c.id);
            QVERIFY2(index >= 0, qPrintable(c.id));
            QCOMPARE(guide->channelRecord(index), c);
        }

        // Every programme the compiler kept as it was comes back equal; the ones it had to
        // repair (no stop, overlapping, duplicate start) are counted and checked by the format test.
        std::map<std::pair<QString, qint64>, Programme> compiled;
        for (quint32 i = 0; i < guide->airingCount(); ++i) {
            const Programme p = guide->programmeRecord(guide->airing(i));
            compiled.emplace(std::pair{p.channelId, p.start}, p);
        }
        // The strings the DVR scheduler reads without decoding records agree with the records.
        for (quint32 i = 0; i < guide->airingCount(); ++i) {
            const Airing a = guide->airing(i);
            QCOMPARE(guide->airingProgramme(i), a.programme);
            const Airing on = guide->airingOn(int(a.channel), i);
            QCOMPARE(on.start, a.start);
            QCOMPARE(on.stop, a.stop);
            QCOMPARE(on.programme, a.programme);
            QCOMPARE(on.flags, a.flags);
            const Programme p = guide->programmeRecord(a);
            const Guide::ProgrammeStrings ps = guide->programmeStrings(a.programme);
            auto text = [&](quint32 id) { return QString::fromUtf8(guide->string(id)); };
            QCOMPARE(text(ps.title), p.titles.isEmpty() ? QString() : p.titles.first().text);
            QCOMPARE(text(ps.subTitle), p.subTitles.isEmpty() ? QString() : p.subTitles.first().text);
            QCOMPARE(text(ps.description), p.descs.isEmpty() ? QString() : p.descs.first().text);
            QCOMPARE(ps.episodeNums.size(), p.episodeNums.size());
            for (qsizetype k = 0; k < ps.episodeNums.size(); ++k) {
                QCOMPARE(text(ps.episodeNums[k].first), p.episodeNums[k].system);
                QCOMPARE(text(ps.episodeNums[k].second), p.episodeNums[k].value);
            }
        }

        qint64 compared = 0, repaired = 0;
        for (const Programme &p : source.programmes) {
            const auto it = compiled.find({p.channelId, p.start});
            QVERIFY2(it != compiled.end(), qPrintable(p.channelId + u' ' + QString::number(p.start)));
            if (it->second.stop != p.stop) {
                ++repaired;
                continue;
            }
            if (it->second != p) {
                // Two programmes at the same channel and start: the first one read is kept.
                if (stats.duplicatesDropped > 0 && it->second.title() != p.title())
                    continue;
                QCOMPARE(it->second, p);
            }
            ++compared;
        }
        QVERIFY(compared > 0);
        QVERIFY(repaired <= stats.missingStopFilled + stats.overlapsTrimmed + stats.invalidTimes + stats.duplicatesDropped);

        // And the XMLTV written from the guide reads back to the same records.
        GuideData exported;
        for (int c = 0; c < guide->channelCount(); ++c)
            exported.channels.append(guide->channelRecord(c));
        for (quint32 i = 0; i < guide->airingCount(); ++i)
            exported.programmes.append(guide->programmeRecord(guide->airing(i)));
        iptv::DiagnosticList again;
        const GuideData reread = XmltvReader::readAllBytes(XmltvWriter::toBytes(exported), &again, &ok);
        QVERIFY2(ok && again.errorCount() == 0, qPrintable(again.summary()));
        QCOMPARE(reread.channels, exported.channels);
        QCOMPARE(reread.programmes.size(), exported.programmes.size());
        for (qsizetype i = 0; i < reread.programmes.size(); ++i)
            QCOMPARE(reread.programmes[i], exported.programmes[i]);
    }
};

QTEST_GUILESS_MAIN(TestGuideRoundTrip)
#include "tst_guideroundtrip.moc"
