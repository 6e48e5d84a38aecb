#include "search.h"

#include "guide_p.h"
#include "guiderecord_p.h"
#include "searchtext_p.h"

#include <QThread>

#include <QLoggingCategory>

#include <algorithm>
#include <cstring>
#include <span>
#include <thread>
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

/// Interns token bytes: open addressing over an arena, far cheaper than a QHash of QByteArrays
/// for the millions of lookups of indexing a guide.
class TokenDictionary
{
public:
    TokenDictionary() { m_slots.assign(1 << 14, 0); }

    quint32 intern(const char *data, size_t size) { return intern(data, size, searchtext::tokenHash(data, size)); }
    quint32 intern(const char *data, size_t size, quint64 h)
    {
        size_t mask = m_slots.size() - 1;
        for (size_t i = slotOf(h, mask);; i = (i + 1) & mask) {
            const quint32 slot = m_slots[i];
            if (slot == 0)
                break;
            const quint32 id = slot - 1;
            if (m_hashes[id] == h && length(id) == size && std::memcmp(m_arena.data() + m_offsets[id], data, size) == 0)
                return id;
        }
        const quint32 id = quint32(m_hashes.size());
        m_hashes.push_back(h);
        m_offsets.push_back(quint32(m_arena.size()));
        m_arena.append(data, size);
        m_ends.push_back(quint32(m_arena.size()));
        if (m_hashes.size() * 2 > m_slots.size())
            rehash();
        else
            place(id, mask);
        return id;
    }
    quint32 size() const { return quint32(m_hashes.size()); }
    std::string_view token(quint32 id) const { return {m_arena.data() + m_offsets[id], length(id)}; }

private:
    size_t length(quint32 id) const { return m_ends[id] - m_offsets[id]; }
    static size_t slotOf(quint64 h, size_t mask) { return size_t(h ^ (h >> 29)) & mask; }
    void place(quint32 id, size_t mask)
    {
        size_t i = slotOf(m_hashes[id], mask);
        while (m_slots[i])
            i = (i + 1) & mask;
        m_slots[i] = id + 1;
    }
    void rehash()
    {
        m_slots.assign(m_slots.size() * 2, 0);
        for (quint32 id = 0; id < m_hashes.size(); ++id)
            place(id, m_slots.size() - 1);
    }
    std::vector<quint32> m_slots;
    std::vector<quint64> m_hashes;
    std::vector<quint32> m_offsets, m_ends;
    std::string m_arena;
};

/// Above this many postings for the most selective word, walking airings in time order and
/// stopping early beats collecting every candidate.
constexpr quint64 kPostingsLimit = 6000;

} // namespace

struct SearchIndex::Private
{
    const Guide &guide;
    const Guide::Private &g;
    std::string tokenText;            ///< folded tokens, sorted bytewise, back to back
    std::vector<quint32> tokenOffsets; ///< tokenCount + 1
    quint32 tokenCount = 0;
    Csr titleLists;                   ///< programme -> sorted token ids of its titles
    Csr allLists;                     ///< programme -> sorted token ids of all its searchable text
    Csr postingsAll;
    Csr postingsTitle;
    Csr programmeAirings;    ///< programme -> airings, by start
    Csr programmeCategories; ///< programme -> category string ids
    std::vector<quint32> timeOrder; ///< every airing, by start
    qint64 maxDuration = 0;

    Private(const Guide &guide, const Guide::Private &g) : guide(guide), g(g) {}

    std::span<const quint32> titleTokens(quint32 p) const { return titleLists.row(p); }
    std::span<const quint32> allTokens(quint32 p) const { return allLists.row(p); }
    QByteArrayView tokenView(quint32 t) const
    {
        return QByteArrayView(tokenText.data() + tokenOffsets[t], tokenOffsets[t + 1] - tokenOffsets[t]);
    }
    void buildTokenLists();

    /// Token ids whose text starts with `prefix`: a contiguous range since tokens are sorted bytewise.
    std::pair<quint32, quint32> prefixRange(const QByteArray &prefix) const
    {
        const quint32 n = tokenCount;
        auto less = [&](quint32 t) { return tokenView(t) < QByteArrayView(prefix); };
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
            if (tokenView(mid).startsWith(prefix))
                lo = mid + 1;
            else
                hi = mid;
        }
        return {first, lo};
    }
};

/// Tokenises the searchable strings (titles, sub-titles, descriptions, credits) of every
/// programme, each distinct string once, on all cores, and builds the per-programme token lists.
void SearchIndex::Private::buildTokenLists()
{
    const quint32 nProg = g.header.programmeCount, nStr = g.header.stringCount;

    // 1. Which strings each programme makes searchable; bit 0 marks a title.
    // The same walk collects each programme's categories for the category filter.
    Csr programmeStrings;
    programmeStrings.offsets.reserve(nProg + 1);
    programmeStrings.offsets.push_back(0);
    Csr &categories = programmeCategories;
    categories.offsets.reserve(nProg + 1);
    categories.offsets.push_back(0);
    std::vector<quint32> slotOf(nStr, quint32(-1)); // string -> position in `unique`
    std::vector<quint32> unique;
    for (quint32 p = 0; p < nProg; ++p) {
        quint8 tag = 0;
        int field = 0;
        g.walkProgramme(p, [&](quint8 t) { tag = t; field = 0; },
                        [&](char, quint64 v) {
                            if (field++ != 1 || v == 0 || v >= nStr)
                                return;
                            if (tag == TagCategory) {
                                categories.values.push_back(quint32(v));
                                return;
                            }
                            if (tag != TagTitle && tag != TagSubTitle && tag != TagDesc && tag != TagCredit)
                                return;
                            if (slotOf[v] == quint32(-1)) {
                                slotOf[v] = quint32(unique.size());
                                unique.push_back(quint32(v));
                            }
                            programmeStrings.values.push_back(slotOf[v] << 1 | (tag == TagTitle ? 1 : 0));
                        });
        programmeStrings.offsets.push_back(quint32(programmeStrings.values.size()));
        categories.offsets.push_back(quint32(categories.values.size()));
    }

    // 2. Tokenise the distinct strings in parallel, each worker with its own dictionary.
    const int workers = std::clamp(QThread::idealThreadCount(), 1, 8);
    struct Part { TokenDictionary dict; std::vector<quint32> offsets{0}; std::vector<quint32> tokens; size_t begin, end; };
    std::vector<Part> parts(static_cast<size_t>(workers));
    for (int w = 0; w < workers; ++w) {
        parts[size_t(w)].begin = unique.size() * size_t(w) / size_t(workers);
        parts[size_t(w)].end = unique.size() * size_t(w + 1) / size_t(workers);
    }
    auto work = [&](Part &part) {
        part.offsets.reserve(part.end - part.begin + 1);
        for (size_t i = part.begin; i < part.end; ++i) {
            const QByteArrayView text = g.stringView(unique[i]);
            searchtext::tokenize(text.data(), text.size(), [&](const char *data, size_t size, quint64 hash) {
                part.tokens.push_back(part.dict.intern(data, size, hash));
            });
            part.offsets.push_back(quint32(part.tokens.size()));
        }
    };
    {
        std::vector<std::thread> threads;
        for (size_t w = 1; w < parts.size(); ++w)
            threads.emplace_back(work, std::ref(parts[w]));
        work(parts[0]);
        for (auto &t : threads)
            t.join();
    }

    // 3. One vocabulary, sorted bytewise so that a prefix is a contiguous id range.
    TokenDictionary global;
    std::vector<std::vector<quint32>> toGlobal(parts.size());
    for (size_t w = 0; w < parts.size(); ++w) {
        toGlobal[w].resize(parts[w].dict.size());
        for (quint32 t = 0; t < parts[w].dict.size(); ++t) {
            const std::string_view tok = parts[w].dict.token(t);
            toGlobal[w][t] = global.intern(tok.data(), tok.size());
        }
    }
    tokenCount = global.size();
    std::vector<quint32> order(tokenCount);
    for (quint32 t = 0; t < tokenCount; ++t)
        order[t] = t;
    std::sort(order.begin(), order.end(), [&](quint32 a, quint32 b) { return global.token(a) < global.token(b); });
    std::vector<quint32> rank(tokenCount);
    tokenOffsets.assign(1, 0);
    tokenOffsets.reserve(tokenCount + 1);
    for (quint32 r = 0; r < tokenCount; ++r) {
        rank[order[r]] = r;
        const std::string_view tok = global.token(order[r]);
        tokenText.append(tok.data(), tok.size());
        tokenOffsets.push_back(quint32(tokenText.size()));
    }
    for (size_t w = 0; w < parts.size(); ++w) {
        for (quint32 &t : parts[w].tokens)
            t = rank[toGlobal[w][t]];
        parts[w].dict = TokenDictionary();
    }

    // 4. Per programme: the union of its strings' tokens, sorted.
    auto stringTokens = [&](quint32 slot) -> std::span<const quint32> {
        const size_t w = std::upper_bound(parts.begin(), parts.end(), size_t(slot),
                                          [](size_t s, const Part &part) { return s < part.begin; }) - parts.begin() - 1;
        const Part &part = parts[w];
        const size_t local = slot - part.begin;
        return {part.tokens.data() + part.offsets[local], part.offsets[local + 1] - part.offsets[local]};
    };
    titleLists.offsets.reserve(nProg + 1);
    allLists.offsets.reserve(nProg + 1);
    titleLists.offsets.push_back(0);
    allLists.offsets.push_back(0);
    for (quint32 p = 0; p < nProg; ++p) {
        const size_t titleStart = titleLists.values.size(), allStart = allLists.values.size();
        for (quint32 entry : programmeStrings.row(p)) {
            const auto toks = stringTokens(entry >> 1);
            allLists.values.insert(allLists.values.end(), toks.begin(), toks.end());
            if (entry & 1)
                titleLists.values.insert(titleLists.values.end(), toks.begin(), toks.end());
        }
        for (auto [list, start] : {std::pair{&titleLists, titleStart}, std::pair{&allLists, allStart}}) {
            std::sort(list->values.begin() + qsizetype(start), list->values.end());
            list->values.erase(std::unique(list->values.begin() + qsizetype(start), list->values.end()), list->values.end());
            list->offsets.push_back(quint32(list->values.size()));
        }
    }
    titleLists.values.shrink_to_fit();
    allLists.values.shrink_to_fit();
}

SearchIndex::SearchIndex(const Guide &guide) : d(std::make_unique<Private>(guide, *guide.d))
{
    const Guide::Private &g = *guide.d;
    const quint32 nProg = g.header.programmeCount, nAir = g.header.airingCount;
    d->buildTokenLists();
    d->postingsAll = invert(nProg, d->tokenCount, [&](quint32 p) { return d->allTokens(p); });
    d->postingsTitle = invert(nProg, d->tokenCount, [&](quint32 p) { return d->titleTokens(p); });

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
