#include "search.h"

#include "guide_p.h"
#include "guiderecord_p.h"

#include <QLoggingCategory>

#include <algorithm>
#include <span>
#include <vector>

Q_LOGGING_CATEGORY(lcGuideSearch, "iptv.epg.search")

namespace iptv::epg {

using namespace format;

namespace {

/// Compressed rows: list r is values[offsets[r], offsets[r+1]).
struct Csr
{
    std::vector<quint32> offsets;
    std::vector<quint32> values;
    std::span<const quint32> row(quint32 r) const { return {values.data() + offsets[r], offsets[r + 1] - offsets[r]}; }
    quint64 rangeSize(quint32 lo, quint32 hi) const { return offsets[hi] - offsets[lo]; }
};

/// Inverts programme -> tokens lists into token -> programmes postings (counting sort, so the
/// postings come out sorted by programme).
template<typename ListOf>
Csr invert(quint32 programmeCount, quint32 tokenCount, ListOf &&listOf)
{
    Csr csr;
    csr.offsets.assign(tokenCount + 1, 0);
    for (quint32 p = 0; p < programmeCount; ++p)
        for (quint32 t : listOf(p))
            ++csr.offsets[t + 1];
    for (quint32 t = 0; t < tokenCount; ++t)
        csr.offsets[t + 1] += csr.offsets[t];
    csr.values.resize(csr.offsets[tokenCount]);
    std::vector<quint32> fill(csr.offsets.begin(), csr.offsets.end() - 1);
    for (quint32 p = 0; p < programmeCount; ++p)
        for (quint32 t : listOf(p))
            csr.values[fill[t]++] = p;
    return csr;
}

bool hasTokenIn(std::span<const quint32> list, quint32 lo, quint32 hi)
{
    auto it = std::lower_bound(list.begin(), list.end(), lo);
    return it != list.end() && *it < hi;
}

class Bitmap
{
public:
    explicit Bitmap(quint32 size) : m_words((size + 63) / 64, 0) {}
    bool testAndSet(quint32 i)
    {
        quint64 &w = m_words[i >> 6];
        const quint64 bit = quint64(1) << (i & 63);
        const bool was = w & bit;
        w |= bit;
        return was;
    }
    bool test(quint32 i) const { return m_words[i >> 6] & (quint64(1) << (i & 63)); }

private:
    std::vector<quint64> m_words;
};

/// Above this many postings for the most selective word, walking airings in time order and
/// stopping early beats collecting every candidate.
constexpr quint64 kPostingsLimit = 6000;

} // namespace

struct SearchIndex::Private
{
    const Guide &guide;
    const Guide::Private &g;
    Csr postingsAll;
    Csr postingsTitle;
    Csr programmeAirings;    ///< programme -> airings, by start
    Csr programmeCategories; ///< programme -> category string ids
    std::vector<quint32> timeOrder; ///< every airing, by start
    qint64 maxDuration = 0;

    Private(const Guide &guide, const Guide::Private &g) : guide(guide), g(g) {}

    std::span<const quint32> titleTokens(quint32 p) const
    {
        return {g.tokenLists.data() + g.tokenListOffsets[p * 2], g.tokenListOffsets[p * 2 + 1] - g.tokenListOffsets[p * 2]};
    }
    std::span<const quint32> allTokens(quint32 p) const
    {
        return {g.tokenLists.data() + g.tokenListOffsets[p * 2 + 1], g.tokenListOffsets[p * 2 + 2] - g.tokenListOffsets[p * 2 + 1]};
    }

    /// Token ids whose text starts with `prefix`: a contiguous range since tokens are sorted bytewise.
    std::pair<quint32, quint32> prefixRange(const QByteArray &prefix) const
    {
        const quint32 n = g.tokenCount;
        auto less = [&](quint32 t) { return g.tokenView(t) < QByteArrayView(prefix); };
        quint32 lo = 0, hi = n;
        while (lo < hi) {
            const quint32 mid = lo + (hi - lo) / 2;
            if (less(mid))
                lo = mid + 1;
            else
                hi = mid;
        }
        const quint32 first = lo;
        hi = n;
        while (lo < hi) {
            const quint32 mid = lo + (hi - lo) / 2;
            if (g.tokenView(mid).startsWith(prefix))
                lo = mid + 1;
            else
                hi = mid;
        }
        return {first, lo};
    }
};

SearchIndex::SearchIndex(const Guide &guide) : d(std::make_unique<Private>(guide, *guide.d))
{
    const Guide::Private &g = *guide.d;
    const quint32 nProg = g.header.programmeCount, nAir = g.header.airingCount;
    d->postingsAll = invert(nProg, g.tokenCount, [&](quint32 p) { return d->allTokens(p); });
    d->postingsTitle = invert(nProg, g.tokenCount, [&](quint32 p) { return d->titleTokens(p); });

    // Airings by start, globally and per programme.
    d->timeOrder.resize(nAir);
    std::vector<quint64> keyed(nAir);
    for (quint32 i = 0; i < nAir; ++i) {
        keyed[i] = quint64(quint32(g.starts[i] - g.header.validFrom + 0x80000000LL)) << 32 | i;
        d->maxDuration = std::max<qint64>(d->maxDuration, g.u32(g.durations, i));
    }
    std::sort(keyed.begin(), keyed.end());
    for (quint32 i = 0; i < nAir; ++i)
        d->timeOrder[i] = quint32(keyed[i]);
    Csr &pa = d->programmeAirings;
    pa.offsets.assign(nProg + 1, 0);
    for (quint32 i = 0; i < nAir; ++i)
        ++pa.offsets[g.u32(g.programmes, i) + 1];
    for (quint32 p = 0; p < nProg; ++p)
        pa.offsets[p + 1] += pa.offsets[p];
    pa.values.resize(nAir);
    {
        std::vector<quint32> fill(pa.offsets.begin(), pa.offsets.end() - 1);
        for (quint32 i : d->timeOrder)
            pa.values[fill[g.u32(g.programmes, i)]++] = i;
    }

    // Categories per programme, for the category filter.
    Csr &pc = d->programmeCategories;
    pc.offsets.reserve(nProg + 1);
    pc.offsets.push_back(0);
    for (quint32 p = 0; p < nProg; ++p) {
        const QByteArrayView rec = g.programmeRecord(p);
        quint8 tag = 0;
        int field = 0;
        walkRecord(reinterpret_cast<const quint8 *>(rec.data()), rec.size(), [&](quint8 t) { tag = t; field = 0; },
                   [&](char, quint64 v) {
                       if (tag == TagCategory && field == 1)
                           pc.values.push_back(quint32(v));
                       ++field;
                   });
        pc.offsets.push_back(quint32(pc.values.size()));
    }
}

SearchIndex::~SearchIndex() = default;

SearchResult SearchIndex::search(const SearchQuery &query) const
{
    const Guide::Private &g = d->g;
    const quint32 nProg = g.header.programmeCount;
    SearchResult result;
    const int limit = query.limit > 0 ? query.limit : 50;

    // ---- words ----
    struct Word { quint32 lo, hi; };
    std::vector<Word> words;
    const QStringList tokens = searchTokens(query.text);
    for (const QString &t : tokens) {
        const auto [lo, hi] = d->prefixRange(t.toUtf8());
        if (lo == hi)
            return result; // a word nothing starts with: no programme can match every word
        words.push_back({lo, hi});
    }
    if (words.empty() && query.category.isEmpty() && query.channels.isEmpty() && !query.newOnly)
        return result;

    // ---- filters ----
    const qint64 from = query.from ? query.from : (query.now ? query.now : g.header.validFrom);
    const qint64 to = query.to ? query.to : g.header.validUntil;
    std::vector<bool> channelOk;
    if (!query.channels.isEmpty()) {
        channelOk.assign(g.header.channelCount, false);
        for (int c : query.channels)
            if (c >= 0 && quint32(c) < g.header.channelCount)
                channelOk[size_t(c)] = true;
    }
    std::vector<quint32> categoryIds;
    if (!query.category.isEmpty()) {
        const QString wanted = foldForSearch(query.category);
        for (quint32 s : d->programmeCategories.values)
            if (std::find(categoryIds.begin(), categoryIds.end(), s) == categoryIds.end()
                && foldForSearch(QString::fromUtf8(g.stringView(s))) == wanted)
                categoryIds.push_back(s);
        if (categoryIds.empty())
            return result;
    }
    auto airingOk = [&](quint32 i) {
        const qint64 start = g.starts[i];
        if (start >= to || start + qint64(g.u32(g.durations, i)) <= from)
            return false;
        if (!channelOk.empty() && !channelOk[g.airingChannel[i]])
            return false;
        if (query.newOnly && !(g.flags[i] & FlagNew))
            return false;
        return true;
    };
    auto programmeOk = [&](quint32 p) {
        if (categoryIds.empty())
            return true;
        for (quint32 s : d->programmeCategories.row(p))
            if (std::find(categoryIds.begin(), categoryIds.end(), s) != categoryIds.end())
                return true;
        return false;
    };
    auto matches = [&](std::span<const quint32> list) {
        for (const Word &w : words)
            if (!hasTokenIn(list, w.lo, w.hi))
                return false;
        return true;
    };
    auto soonest = [&](quint32 p) -> qint64 {
        for (quint32 i : d->programmeAirings.row(p))
            if (airingOk(i))
                return i;
        return -1;
    };

    QList<SearchHit> titleHits, otherHits;
    auto finish = [&](bool exact) {
        auto byTime = [](const SearchHit &a, const SearchHit &b) {
            return a.airing.start != b.airing.start ? a.airing.start < b.airing.start : a.airing.channel < b.airing.channel;
        };
        result.totalProgrammes = titleHits.size() + otherHits.size();
        result.totalExact = exact;
        std::sort(titleHits.begin(), titleHits.end(), byTime);
        std::sort(otherHits.begin(), otherHits.end(), byTime);
        result.hits = titleHits.mid(0, limit);
        if (result.hits.size() < limit)
            result.hits += otherHits.mid(0, limit - result.hits.size());
        return result;
    };
    auto addHit = [&](quint32 p, quint32 airing) {
        const bool inTitle = !words.empty() && matches(d->titleTokens(p));
        (inTitle ? titleHits : otherHits).append({g.airing(airing), inTitle});
    };

    // Most selective word by postings count, over all text and over titles.
    quint64 bestAll = std::numeric_limits<quint64>::max(), bestTitle = bestAll;
    size_t bestAllWord = 0, bestTitleWord = 0;
    for (size_t w = 0; w < words.size(); ++w) {
        const quint64 all = d->postingsAll.rangeSize(words[w].lo, words[w].hi);
        const quint64 title = d->postingsTitle.rangeSize(words[w].lo, words[w].hi);
        if (all < bestAll) { bestAll = all; bestAllWord = w; }
        if (title < bestTitle) { bestTitle = title; bestTitleWord = w; }
    }

    // Candidates from postings: exact, cost follows the rarest word.
    auto fromPostings = [&](const Csr &postings, const Word &w, bool titlesOnly) {
        Bitmap seen(nProg);
        for (quint32 t = w.lo; t < w.hi; ++t) {
            for (quint32 p : postings.row(t)) {
                if (seen.testAndSet(p))
                    continue;
                if (!(titlesOnly ? matches(d->titleTokens(p)) : matches(d->allTokens(p))) || !programmeOk(p))
                    continue;
                const qint64 a = soonest(p);
                if (a >= 0)
                    addHit(p, quint32(a));
            }
        }
    };
    // Airings in time order, first airing of each programme decides: stops once `enough` says so.
    auto scan = [&](auto &&sequence, bool skipTitleHits, auto &&enough) {
        Bitmap seen(nProg);
        for (quint32 i : sequence) {
            if (!airingOk(i))
                continue;
            const quint32 p = g.u32(g.programmes, i);
            if (seen.testAndSet(p))
                continue;
            if (!programmeOk(p) || !matches(d->allTokens(p)))
                continue;
            if (skipTitleHits && !words.empty() && matches(d->titleTokens(p)))
                continue;
            addHit(p, i);
            if (enough())
                return false;
        }
        return true;
    };

    if (!words.empty() && bestAll <= kPostingsLimit) {
        fromPostings(d->postingsAll, words[bestAllWord], false);
        return finish(true);
    }
    // Channel filter: only those channels' airings, in time order. Exact.
    if (!channelOk.empty() && query.channels.size() <= 64) {
        std::vector<quint32> sequence;
        for (int c : query.channels) {
            const auto [first, count] = d->guide.channelAirings(c);
            for (quint32 i = first; i < first + count; ++i)
                if (airingOk(i))
                    sequence.push_back(i);
        }
        std::sort(sequence.begin(), sequence.end(), [&](quint32 a, quint32 b) { return g.starts[a] < g.starts[b]; });
        scan(sequence, false, [] { return false; });
        return finish(true);
    }
    const qint64 scanFrom = from - d->maxDuration;
    auto first = std::lower_bound(d->timeOrder.begin(), d->timeOrder.end(), scanFrom,
                                  [&](quint32 i, qint64 t) { return g.starts[i] < t; });
    const std::span<const quint32> timeline(&*first, size_t(d->timeOrder.end() - first));
    if (!words.empty() && bestTitle <= kPostingsLimit) {
        // Title hits exactly from the title postings; the other hits are many, so the soonest
        // few come quickly from the timeline.
        fromPostings(d->postingsTitle, words[bestTitleWord], true);
        const qsizetype needed = limit - titleHits.size();
        if (needed <= 0)
            return finish(false);
        const bool complete = scan(timeline, true, [&] { return otherHits.size() >= needed; });
        return finish(complete);
    }
    const bool complete = scan(timeline, false, [&] { return titleHits.size() >= limit; });
    return finish(complete);
}

} // namespace iptv::epg
