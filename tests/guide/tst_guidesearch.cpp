// Search over the in-memory guide: folding, tokenising, and ranked results checked against a
// brute-force reference on two guides: one large enough to take every search path, and one of a
// few programmes that each air hundreds of times (a lineup full of repeats).

#include <epg/guide.h>
#include <epg/guidewriter.h>
#include <epg/search.h>

#include <QRandomGenerator>
#include <QTest>

using namespace iptv::epg;

namespace {
constexpr qint64 kDay0 = 1767225600;

const QStringList kWords = {
    u"news"_qs, u"newsroom"_qs, u"network"_qs, u"nature"_qs, u"night"_qs, u"the"_qs, u"then"_qs, u"theatre"_qs,
    u"Café"_qs, u"cafe"_qs, u"CAFÉS"_qs, u"Ελλάδα"_qs, u"ΕΙΔΗΣΕΙΣ"_qs, u"ειδήσεις"_qs, u"Οδυσσέας"_qs,
    u"東京"_qs, u"ニュース"_qs, u"料理"_qs, u"football"_qs, u"formula"_qs, u"forest"_qs, u"über"_qs, u"Ubersicht"_qs,
    u"zebra"_qs, u"quiz"_qs, u"queen"_qs, u"a"_qs, u"and"_qs, u"of"_qs, u"live"_qs, u"lives"_qs, u"Straße"_qs,
};
const QStringList kCategories = {u"News"_qs, u"Sport"_qs, u"Movie"_qs, u"Kids"_qs};

QString words(QRandomGenerator &rng, int n)
{
    QStringList out;
    for (int i = 0; i < n; ++i)
        out << kWords[rng.bounded(int(kWords.size()))];
    return out.join(u' ');
}

struct Reference
{
    struct Prog { QStringList titleTokens, allTokens, categories; };
    QList<Prog> programmes;
};

} // namespace

class TestGuideSearch : public QObject
{
    Q_OBJECT

    enum GuideKind { Varied, Looped };
    std::shared_ptr<const Guide> m_guides[2];

    static bool anyPrefix(const QStringList &tokens, const QString &word)
    {
        for (const QString &t : tokens)
            if (t.startsWith(word))
                return true;
        return false;
    }

    // Brute force: every programme, every airing, straight from the definitions in search.h.
    static QList<std::pair<quint32, bool>> reference(const Guide &g, const SearchQuery &q, qint64 *total)
    {
        const QStringList qwords = searchTokens(q.text);
        const qint64 from = q.from ? q.from : (q.now ? q.now : g.info().validFrom);
        const qint64 to = q.to ? q.to : g.info().validUntil;
        struct Hit { quint32 airing; qint64 start; quint32 channel; bool title; };
        QList<Hit> hits;
        for (quint32 p = 0; p < g.programmeCount(); ++p) {
            const Programme rec = g.programmeRecord(Airing{0, 0, 0, 0, p, 0});
            QStringList titleTokens, allTokens;
            for (const LangText &t : rec.titles)
                titleTokens += searchTokens(t.text);
            allTokens = titleTokens;
            for (const LangText &t : rec.subTitles + rec.descs)
                allTokens += searchTokens(t.text);
            for (const Credit &c : rec.credits)
                allTokens += searchTokens(c.name);
            bool all = true, title = !qwords.isEmpty();
            for (const QString &w : qwords) {
                all = all && anyPrefix(allTokens, w);
                title = title && anyPrefix(titleTokens, w);
            }
            if (!all)
                continue;
            if (!q.category.isEmpty()) {
                bool found = false;
                for (const LangText &c : rec.categories)
                    found = found || foldForSearch(c.text) == foldForSearch(q.category);
                if (!found)
                    continue;
            }
            std::optional<Airing> best;
            for (quint32 i = 0; i < g.airingCount(); ++i) {
                const Airing a = g.airing(i);
                if (a.programme != p || a.start >= to || a.stop <= from)
                    continue;
                if (!q.channels.isEmpty() && !q.channels.contains(int(a.channel)))
                    continue;
                if (q.newOnly && !(a.flags & FlagNew))
                    continue;
                if (!best || a.start < best->start || (a.start == best->start && a.channel < best->channel))
                    best = a;
            }
            if (best)
                hits.append({best->index, best->start, best->channel, title});
        }
        std::sort(hits.begin(), hits.end(), [](const Hit &a, const Hit &b) {
            if (a.title != b.title)
                return a.title;
            return a.start != b.start ? a.start < b.start : a.channel < b.channel;
        });
        *total = hits.size();
        QList<std::pair<quint32, bool>> out;
        for (const Hit &h : hits.mid(0, q.limit))
            out.append({h.airing, h.title});
        return out;
    }

private Q_SLOTS:
    static Programme randomProgramme(int seed)
    {
        QRandomGenerator prng(seed);
        Programme p;
        p.titles = {{{}, words(prng, 1 + prng.bounded(3))}};
        if (prng.bounded(2))
            p.subTitles = {{{}, words(prng, 2)}};
        p.descs = {{{}, words(prng, 6)}};
        if (prng.bounded(4) == 0)
            p.credits = {{Credit::Role::Actor, words(prng, 2), {}, false}};
        p.categories = {{{}, kCategories[prng.bounded(int(kCategories.size()))]}};
        return p;
    }

    void initTestCase()
    {
        // 40 channels × 3 days of 30-minute slots, titles drawn from a small vocabulary so that
        // some words are rare (postings path) and some are everywhere (timeline path).
        QRandomGenerator rng(42);
        GuideBuilder builder({.from = kDay0, .days = 3, .compressionLevel = 3, .createdAt = kDay0});
        for (int c = 0; c < 40; ++c) {
            Channel ch;
            ch.id = u"c%1.test"_qs.arg(c);
            ch.displayNames = {{{}, u"Channel %1"_qs.arg(c)}};
            builder.addChannel(ch);
            for (int slot = 0; slot < 3 * 48; ++slot) {
                // Reruns: a third of the slots repeat an earlier programme of the same channel.
                const int seed = rng.bounded(3) == 0 ? rng.bounded(slot + 1) : slot + 1000 * c;
                Programme p = randomProgramme(seed);
                p.channelId = ch.id;
                p.start = kDay0 + slot * 1800;
                p.stop = p.start + 1800;
                p.airing.isNew = rng.bounded(5) == 0;
                builder.addProgramme(p);
            }
        }
        QString error;
        m_guides[Varied] = Guide::fromBytes(builder.finish(), &error);
        QVERIFY2(m_guides[Varied], qPrintable(error));

        // 30 channels × 3 days of 20 programmes on a loop, about 150 airings each, with slots of
        // 20 to 95 minutes so that starts interleave across channels and a long airing that began
        // before `from` is still on; a new airing is rare (the first that passes is deep in a list).
        GuideBuilder looped({.from = kDay0, .days = 3, .compressionLevel = 3, .createdAt = kDay0});
        for (int c = 0; c < 30; ++c) {
            Channel ch;
            ch.id = u"r%1.test"_qs.arg(c);
            ch.displayNames = {{{}, u"Loop %1"_qs.arg(c)}};
            looped.addChannel(ch);
            const qint64 length = 1200 + (c % 6) * 900;
            for (qint64 start = kDay0 + (c % 3) * 600; start < kDay0 + 3 * 86400; start += length) {
                Programme p = randomProgramme(7 + rng.bounded(20));
                p.channelId = ch.id;
                p.start = start;
                p.stop = start + length;
                p.airing.isNew = rng.bounded(40) == 0;
                looped.addProgramme(p);
            }
        }
        m_guides[Looped] = Guide::fromBytes(looped.finish(), &error);
        QVERIFY2(m_guides[Looped], qPrintable(error));
        QVERIFY(m_guides[Looped]->programmeCount() <= 20);
        QVERIFY(m_guides[Looped]->airingCount() > 100 * m_guides[Looped]->programmeCount());
    }

    void fold_data()
    {
        QTest::addColumn<QString>("in");
        QTest::addColumn<QString>("out");
        QTest::newRow("ascii") << u"Hello World"_qs << u"hello world"_qs;
        QTest::newRow("latin accents") << u"Café Crème Über"_qs << u"cafe creme uber"_qs;
        QTest::newRow("sharp s") << u"Straße"_qs << u"strasse"_qs;
        QTest::newRow("greek tonos and final sigma") << u"Ειδήσεις ΕΙΔΗΣΕΙΣ"_qs << u"ειδησεισ ειδησεισ"_qs;
        QTest::newRow("cjk unchanged") << u"東京"_qs << u"東京"_qs;
        QTest::newRow("fullwidth") << u"ＡＢＣ"_qs << u"abc"_qs;
        QTest::newRow("ligature") << u"ﬁlm"_qs << u"film"_qs;
    }
    void fold()
    {
        QFETCH(QString, in);
        QFETCH(QString, out);
        QCOMPARE(foldForSearch(in), out);
    }

    void tokens_data()
    {
        QTest::addColumn<QString>("in");
        QTest::addColumn<QStringList>("out");
        QTest::newRow("punctuation") << u"Doctor Who: The End (Part 2)"_qs << QStringList{u"doctor"_qs, u"who"_qs, u"the"_qs, u"end"_qs, u"part"_qs, u"2"_qs};
        QTest::newRow("apostrophe splits") << u"Grey's"_qs << QStringList{u"grey"_qs, u"s"_qs};
        QTest::newRow("cjk per character") << u"東京ニュース today"_qs << QStringList{u"東"_qs, u"京"_qs, u"ニ"_qs, u"ュ"_qs, u"ー"_qs, u"ス"_qs, u"today"_qs};
        QTest::newRow("greek") << u"Οδυσσέας, Ελλάδα"_qs << QStringList{u"οδυσσεασ"_qs, u"ελλαδα"_qs};
        QTest::newRow("empty") << u" -- "_qs << QStringList{};
    }
    void tokens()
    {
        QFETCH(QString, in);
        QFETCH(QStringList, out);
        QCOMPARE(searchTokens(in), out);
    }

    void matchesReference_data()
    {
        QTest::addColumn<int>("guide");
        QTest::addColumn<quint64>("postingsBudget");
        QTest::addColumn<quint64>("evaluateLimit");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("category");
        QTest::addColumn<QList<int>>("channels");
        QTest::addColumn<qint64>("from");
        QTest::addColumn<qint64>("to");
        QTest::addColumn<bool>("newOnly");
        QTest::addColumn<int>("limit");
        const QList<int> none;
        struct Tuning { const char *name; quint64 budget, evaluate; };
        // Default, always walk the timeline, match sets but walk, match sets evaluated in full.
        for (const int guide : {Varied, Looped}) {
            for (const Tuning &t : {Tuning{"default", 400000, 2500}, Tuning{"timeline", 0, 0},
                                    Tuning{"sets+timeline", ~0ULL, 0}, Tuning{"sets", ~0ULL, ~0ULL}}) {
                auto newRow = [&](const char *name) -> QTestData & {
                    return QTest::addRow("%s, %s: %s", guide == Varied ? "varied" : "looped", t.name, name)
                        << guide << t.budget << t.evaluate;
                };
                const qint64 any = 0;
                newRow("one letter") << u"n"_qs << QString() << none << any << any << false << 20;
                newRow("two letters") << u"ne"_qs << QString() << none << any << any << false << 20;
                newRow("word") << u"newsroom"_qs << QString() << none << any << any << false << 50;
                newRow("rare word") << u"zebra quiz"_qs << QString() << none << any << any << false << 50;
                newRow("accent-insensitive") << u"CAFE"_qs << QString() << none << any << any << false << 30;
                newRow("greek no accents") << u"ειδησ"_qs << QString() << none << any << any << false << 30;
                newRow("greek capitals") << u"ΟΔΥΣ"_qs << QString() << none << any << any << false << 30;
                newRow("cjk") << u"東京"_qs << QString() << none << any << any << false << 30;
                newRow("two words") << u"the forest"_qs << QString() << none << any << any << false << 25;
                newRow("later start") << u"live"_qs << QString() << none << kDay0 + 86400 + 900 << any << false << 25;
                newRow("from a slot's end") << u"the"_qs << QString() << none << kDay0 + 3600 << any << false << 60;
                newRow("window") << u"a"_qs << QString() << none << kDay0 + 2 * 86400 + 300 << kDay0 + 2 * 86400 + 3000
                                 << false << 40;
                newRow("category") << u"f"_qs << u"sport"_qs << none << any << any << false << 25;
                newRow("channels") << u"the"_qs << QString() << QList<int>{3, 7} << any << any << false << 25;
                newRow("channels later") << u"o"_qs << QString() << QList<int>{5, 1, 22} << kDay0 + 86400 + 4000 << any
                                         << false << 25;
                newRow("new only") << u"a"_qs << QString() << none << any << any << true << 25;
                newRow("new only later") << u"t"_qs << QString() << none << kDay0 + 86400 << any << true << 25;
                newRow("no match") << u"xylophone"_qs << QString() << none << any << any << false << 25;
                newRow("category only") << QString() << u"Kids"_qs << none << kDay0 + 2 * 86400 << any << false << 10;
                newRow("everything") << QString() << QString() << QList<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} << any << any
                                     << false << 1000;
            }
        }
    }
    void matchesReference()
    {
        QFETCH(int, guide);
        QFETCH(quint64, postingsBudget);
        QFETCH(quint64, evaluateLimit);
        QFETCH(QString, text);
        QFETCH(QString, category);
        QFETCH(QList<int>, channels);
        QFETCH(qint64, from);
        QFETCH(qint64, to);
        QFETCH(bool, newOnly);
        QFETCH(int, limit);
        SearchQuery q;
        q.text = text;
        q.category = category;
        q.channels = channels;
        q.from = from;
        q.to = to;
        q.newOnly = newOnly;
        q.limit = limit;
        qint64 expectedTotal = 0;
        const Guide &g = *m_guides[guide];
        const auto expected = reference(g, q, &expectedTotal);
        const_cast<SearchIndex &>(g.searchIndex()).setTuning(postingsBudget, evaluateLimit);
        const SearchResult result = g.searchIndex().search(q);
        QList<std::pair<quint32, bool>> got;
        for (const SearchHit &h : result.hits)
            got.append({h.airing.index, h.titleMatch});
        QCOMPARE(got, expected);
        if (result.totalExact)
            QCOMPARE(result.totalProgrammes, expectedTotal);
        else
            QVERIFY(result.totalProgrammes <= expectedTotal && result.totalProgrammes >= got.size());
    }
};

QTEST_GUILESS_MAIN(TestGuideSearch)
#include "tst_guidesearch.moc"
