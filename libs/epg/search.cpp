#include "search.h"

#include "guide_p.h"
#include "guiderecord_p.h"
#include "searchtext_p.h"

#include <QThread>

#include <QLoggingCategory>

#include <algorithm>
#include <cstring>
#include <limits>
#include <malloc.h>
#include <optional>
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

/// Inverts rows -> columns lists (programme -> tokens) into column -> rows lists (token ->
/// programmes) by counting sort, so each list comes out ascending. forEachIn(row, emit) calls
/// emit(column) for every entry of a row. A row is listed once per column however often it repeats
/// it: match sets are built from these, and a repeat would only cost time.
template<typename ForEachIn>
Csr invert(quint32 rowCount, quint32 columnCount, ForEachIn &&forEachIn)
{
    // Per column, side by side so that a column costs one cache line: its entries so far and the
    // last row (+1, 0 = none) that listed it. Rows come in order, so a column seen again in the
    // same row is a repeat.
    struct Slot { quint32 count = 0, last = 0; };
    std::vector<Slot> slots(columnCount);
    for (quint32 r = 0; r < rowCount; ++r)
        forEachIn(r, [&](quint32 c) {
            if (Slot &s = slots[c]; s.last != r + 1) {
                s.last = r + 1;
                ++s.count;
            }
        });
    Csr csr;
    csr.offsets.resize(size_t(columnCount) + 1);
    csr.offsets[0] = 0;
    for (quint32 c = 0; c < columnCount; ++c) {
        csr.offsets[c + 1] = csr.offsets[c] + slots[c].count;
        slots[c] = {csr.offsets[c], 0};
    }
    csr.values.resize(csr.offsets[columnCount]);
    for (quint32 r = 0; r < rowCount; ++r)
        forEachIn(r, [&](quint32 c) {
            if (Slot &s = slots[c]; s.last != r + 1) {
                s.last = r + 1;
                csr.values[s.count++] = r;
            }
        });
    return csr;
}

/// Reads a varint that PackedLists wrote (no bounds: the lists are made here, never read from a file).
inline quint32 readVarint(const quint8 *&p)
{
    quint32 v = *p++;
    if (v < 0x80)
        return v;
    v &= 0x7f;
    for (int shift = 7;; shift += 7) {
        const quint32 b = *p++;
        v |= (b & 0x7f) << shift;
        if (b < 0x80)
            return v;
    }
}

/// Rows of ascending, distinct ids kept as LEB128 varint gaps: the postings and the programmes'
/// token lists of a guide take about a byte an id instead of four, and are only ever walked
/// from the front, which decoding gaps costs little more than reading plain integers.
class PackedLists
{
public:
    PackedLists() = default;
    /// Packs `csr`, whose rows must be ascending without repeats. `counted` keeps the number of
    /// ids before each row, for rangeCount().
    PackedLists(const Csr &csr, bool counted)
    {
        const size_t rows = csr.offsets.size() - 1;
        m_offsets.resize(rows + 1);
        // Written through a pointer into room for the worst case (5 bytes an id), then trimmed:
        // this runs for millions of ids when a guide is opened.
        std::unique_ptr<quint8[]> room(new quint8[csr.values.size() * 5 + 1]);
        quint8 *out = room.get();
        for (size_t r = 0; r < rows; ++r) {
            m_offsets[r] = quint32(out - room.get());
            quint32 previous = 0;
            for (quint32 v : csr.row(quint32(r))) {
                quint32 gap = v - previous;
                previous = v;
                while (gap >= 0x80) {
                    *out++ = quint8(gap) | 0x80;
                    gap >>= 7;
                }
                *out++ = quint8(gap);
            }
        }
        m_offsets[rows] = quint32(out - room.get());
        m_bytes.assign(room.get(), out);
        if (counted)
            m_counts = csr.offsets;
    }
    /// Ids in rows [lo, hi) (a PackedLists made `counted`).
    quint64 rangeCount(quint32 lo, quint32 hi) const { return m_counts[hi] - m_counts[lo]; }
    template<typename F>
    void forEach(quint32 row, F &&f) const
    {
        const quint8 *p = m_bytes.data() + m_offsets[row];
        const quint8 *const end = m_bytes.data() + m_offsets[row + 1];
        quint32 v = 0;
        while (p != end) {
            v += readVarint(p);
            f(v);
        }
    }
    /// Whether `row` holds an id of [lo, hi): ascending, so the walk stops at the first id >= lo.
    bool hasIn(quint32 row, quint32 lo, quint32 hi) const
    {
        const quint8 *p = m_bytes.data() + m_offsets[row];
        const quint8 *const end = m_bytes.data() + m_offsets[row + 1];
        quint32 v = 0;
        while (p != end) {
            v += readVarint(p);
            if (v >= lo)
                return v < hi;
        }
        return false;
    }
    size_t memoryBytes() const { return m_bytes.capacity() + (m_offsets.capacity() + m_counts.capacity()) * sizeof(quint32); }

private:
    std::vector<quint32> m_offsets; ///< rows + 1 byte offsets
    std::vector<quint32> m_counts;  ///< rows + 1 running id counts, when counted
    std::vector<quint8> m_bytes;
};

/// Bits set in a word. __builtin_popcountll is a call into libgcc unless the target has POPCNT (the
/// default x86-64 target has not); this form compiles to the instruction where there is one and to
/// a dozen inline operations elsewhere.
inline quint64 popcount(quint64 x)
{
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (x * 0x0101010101010101ull) >> 56;
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
    Bitmap &clear()
    {
        std::fill(m_words.begin(), m_words.end(), 0);
        return *this;
    }
    void set(quint32 i) { m_words[i >> 6] |= quint64(1) << (i & 63); }
    bool test(quint32 i) const { return m_words[i >> 6] & (quint64(1) << (i & 63)); }
    void intersect(const Bitmap &other)
    {
        for (size_t w = 0; w < m_words.size(); ++w)
            m_words[w] &= other.m_words[w];
    }
    void subtract(const Bitmap &other)
    {
        for (size_t w = 0; w < m_words.size(); ++w)
            m_words[w] &= ~other.m_words[w];
    }
    /// The number of bits set, or a number above `bound` as soon as it passes it.
    quint64 countUpTo(quint64 bound) const
    {
        quint64 n = 0;
        for (quint64 w : m_words) {
            if (!w)
                continue;
            n += popcount(w);
            if (n > bound)
                break;
        }
        return n;
    }
    template<typename F>
    void forEach(F &&f) const
    {
        for (size_t w = 0; w < m_words.size(); ++w)
            for (quint64 bits = m_words[w]; bits; bits &= bits - 1)
                f(quint32(w * 64 + size_t(__builtin_ctzll(bits))));
    }

private:
    std::vector<quint64> m_words;
};

/// Appends CSR pieces made for consecutive row ranges into one.
Csr concatenate(std::vector<Csr> &pieces)
{
    Csr out;
    size_t rows = 0, values = 0;
    for (const Csr &c : pieces) {
        rows += c.offsets.size() - 1;
        values += c.values.size();
    }
    out.offsets.reserve(rows + 1);
    out.values.reserve(values);
    out.offsets.push_back(0);
    for (Csr &c : pieces) {
        const quint32 base = quint32(out.values.size());
        for (size_t r = 1; r < c.offsets.size(); ++r)
            out.offsets.push_back(base + c.offsets[r]);
        out.values.insert(out.values.end(), c.values.begin(), c.values.end());
        c = Csr();
    }
    return out;
}

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

/// Matching programmes are found as bitmaps, one per word, from postings: while the postings
/// to read stay under this, that is cheaper than checking programmes one by one.
constexpr quint64 kPostingsBudget = 400000;
/// Up to this many matching programmes, each one's soonest airing is looked up; beyond it,
/// walking airings in time order finds the soonest `limit` long before the end.
constexpr quint64 kEvaluateLimit = 2500;

} // namespace

struct SearchIndex::Private
{
    const Guide &guide;
    const Guide::Private &g;
    std::string tokenText;            ///< folded tokens, sorted bytewise, back to back
    std::vector<quint32> tokenOffsets; ///< tokenCount + 1
    quint32 tokenCount = 0;
    PackedLists titleLists;  ///< programme -> token ids of its titles, ascending
    PackedLists allLists;    ///< programme -> token ids of all its searchable text, ascending
    PackedLists postingsAll; ///< token -> programmes, ascending
    PackedLists postingsTitle;
    Csr programmeAirings;    ///< programme -> its airings' places in timeOrder, ascending
    Csr programmeCategories; ///< programme -> category string ids
    /// Start and end of each programme's first airing, read in programme order: what a search
    /// without channel or new-only filter needs to know that this airing is the soonest.
    /// A duration of 0: none (a programme no airing names, or a first airing of no length, which
    /// the exact path handles). Starts are seconds from the guide's validFrom, as the airing table's.
    std::vector<qint32> firstStart;
    std::vector<quint32> firstDuration;
    std::vector<quint32> timeOrder; ///< every airing, by start, then channel (a place in it is an airing's rank)
    qint64 maxDuration = 0;
    quint64 postingsBudget = kPostingsBudget;
    quint64 evaluateLimit = kEvaluateLimit;

    Private(const Guide &guide, const Guide::Private &g) : guide(guide), g(g) {}

    QByteArrayView tokenView(quint32 t) const
    {
        return QByteArrayView(tokenText.data() + tokenOffsets[t], tokenOffsets[t + 1] - tokenOffsets[t]);
    }
    /// Builds the vocabulary, the postings and the token lists; runs `meanwhile` on this thread
    /// while another builds the all-text postings.
    template<typename F>
    void buildTokenIndex(F &&meanwhile);
    /// Airings by start, globally and per programme.
    void buildAiringTables();

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
/// programme, each distinct string once, on all cores, and builds the postings and the
/// per-programme token lists.
template<typename F>
void SearchIndex::Private::buildTokenIndex(F &&meanwhile)
{
    const quint32 nProg = g.header.programmeCount, nStr = g.header.stringCount;

    const int workers = std::clamp(QThread::idealThreadCount(), 1, 8);

    // 1. Which strings each programme makes searchable (bit 0 marks a title), and its
    //    categories for the category filter: one walk over the records, on every core.
    std::vector<Csr> walked(static_cast<size_t>(workers)), walkedCategories(static_cast<size_t>(workers));
    parallelRanges(nProg, workers, [&](size_t begin, size_t end, int w) {
        Csr &strings = walked[size_t(w)];
        Csr &cats = walkedCategories[size_t(w)];
        strings.offsets.assign(1, 0);
        cats.offsets.assign(1, 0);
        strings.offsets.reserve(end - begin + 1);
        cats.offsets.reserve(end - begin + 1);
        for (size_t p = begin; p < end; ++p) {
            quint8 tag = 0;
            int field = 0;
            g.walkProgramme(quint32(p), [&](quint8 t) { tag = t; field = 0; },
                            [&](char, quint64 v) {
                                if (field++ != 1 || v == 0 || v >= nStr)
                                    return;
                                if (tag == TagCategory)
                                    cats.values.push_back(quint32(v));
                                else if (tag == TagTitle || tag == TagSubTitle || tag == TagDesc || tag == TagCredit)
                                    strings.values.push_back(quint32(v) << 1 | (tag == TagTitle ? 1 : 0));
                            });
            strings.offsets.push_back(quint32(strings.values.size()));
            cats.offsets.push_back(quint32(cats.values.size()));
        }
    });
    Csr programmeStrings = concatenate(walked);
    programmeCategories = concatenate(walkedCategories);
    // Distinct strings, each tokenised once: entries become (slot << 1 | title).
    std::vector<quint32> slotOf(nStr, quint32(-1));
    std::vector<quint32> unique;
    for (quint32 &entry : programmeStrings.values) {
        quint32 &slot = slotOf[entry >> 1];
        if (slot == quint32(-1)) {
            slot = quint32(unique.size());
            unique.push_back(entry >> 1);
        }
        entry = slot << 1 | (entry & 1);
    }
    slotOf = {};

    // 2. Tokenise the distinct strings in parallel, each worker with its own dictionary.
    struct Part { TokenDictionary dict; std::vector<quint32> offsets{0}; std::vector<quint32> tokens; size_t begin, end; };
    std::vector<Part> parts(static_cast<size_t>(workers));
    for (int w = 0; w < workers; ++w) {
        parts[size_t(w)].begin = unique.size() * size_t(w) / size_t(workers);
        parts[size_t(w)].end = unique.size() * size_t(w + 1) / size_t(workers);
    }
    auto work = [&](Part &part) {
        part.offsets.reserve(part.end - part.begin + 1);
        // The hottest loop of opening a guide writes through an index rather than push_back,
        // whose inlining here GCC decides by how often the rest of the file calls it.
        size_t count = 0;
        for (size_t i = part.begin; i < part.end; ++i) {
            const QByteArrayView text = g.stringView(unique[i]);
            searchtext::tokenize(text.data(), text.size(), [&](const char *data, size_t size, quint64 hash) {
                if (count == part.tokens.size())
                    part.tokens.resize(std::max<size_t>(4096, count * 2));
                part.tokens[count++] = part.dict.intern(data, size, hash);
            });
            part.offsets.push_back(quint32(count));
        }
        part.tokens.resize(count);
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

    // 4. Postings: token -> programmes, each programme's strings' tokens read in place (a
    //    description shared by many programmes is tokenised once). Then the same inverted back,
    //    programme -> its distinct tokens in ascending order, for the searches that test programmes
    //    one by one. All-text on a second core, titles on this one, then `meanwhile`.
    auto stringTokens = [&](quint32 slot) -> std::span<const quint32> {
        const size_t w = std::upper_bound(parts.begin(), parts.end(), size_t(slot),
                                          [](size_t s, const Part &part) { return s < part.begin; }) - parts.begin() - 1;
        const Part &part = parts[w];
        const size_t local = slot - part.begin;
        return {part.tokens.data() + part.offsets[local], part.offsets[local + 1] - part.offsets[local]};
    };
    auto index = [&](bool titlesOnly, PackedLists *postings, PackedLists *lists) {
        Csr inverted = invert(nProg, tokenCount, [&](quint32 p, auto &&emit) {
            for (quint32 entry : programmeStrings.row(p))
                if (!titlesOnly || (entry & 1))
                    for (quint32 t : stringTokens(entry >> 1))
                        emit(t);
        });
        const Csr sorted = invert(tokenCount, nProg, [&](quint32 t, auto &&emit) {
            for (quint32 p : inverted.row(t))
                emit(p);
        });
        *postings = PackedLists(inverted, true);
        inverted = Csr();
        *lists = PackedLists(sorted, false);
    };
    std::thread all(index, false, &postingsAll, &allLists);
    index(true, &postingsTitle, &titleLists);
    meanwhile();
    all.join();
}

void SearchIndex::Private::buildAiringTables()
{
    const quint32 nProg = g.header.programmeCount, nAir = g.header.airingCount;
    timeOrder.resize(nAir);
    std::vector<quint64> keyed(nAir);
    for (quint32 i = 0; i < nAir; ++i) {
        keyed[i] = quint64(quint32(qint64(g.starts[i]) + 0x80000000LL)) << 32 | i;
        maxDuration = std::max<qint64>(maxDuration, g.durations[i]);
    }
    std::sort(keyed.begin(), keyed.end());
    for (quint32 i = 0; i < nAir; ++i)
        timeOrder[i] = quint32(keyed[i]);
    Csr &pa = programmeAirings;
    pa.offsets.assign(nProg + 1, 0);
    for (quint32 i = 0; i < nAir; ++i)
        ++pa.offsets[g.programmes[i] + 1];
    for (quint32 p = 0; p < nProg; ++p)
        pa.offsets[p + 1] += pa.offsets[p];
    pa.values.resize(nAir);
    {
        std::vector<quint32> fill(pa.offsets.begin(), pa.offsets.end() - 1);
        firstStart.assign(nProg, 0);
        firstDuration.assign(nProg, 0);
        for (quint32 r = 0; r < nAir; ++r) {
            const quint32 i = timeOrder[r];
            const quint32 p = g.programmes[i];
            if (fill[p] == pa.offsets[p]) { // in time order, so the programme's first airing
                firstStart[p] = g.starts[i];
                firstDuration[p] = g.durations[i];
            }
            pa.values[fill[p]++] = r;
        }
    }
}

SearchIndex::SearchIndex(const Guide &guide) : SearchIndex(guide, {}) {}

SearchIndex::SearchIndex(const Guide &guide, const std::function<void()> &meanwhile)
    : d(std::make_unique<Private>(guide, *guide.d))
{
    // The airing tables are built while the all-text postings are.
    d->buildTokenIndex([&] {
        d->buildAiringTables();
        if (meanwhile)
            meanwhile();
    });
    auto mib = [](size_t bytes) { return QString::number(double(bytes) / (1 << 20), 'f', 2); };
    auto csrBytes = [](const Csr &c) { return (c.offsets.capacity() + c.values.capacity()) * sizeof(quint32); };
    qCDebug(lcGuideSearch).noquote() << "index memory (MiB): postings" << mib(d->postingsAll.memoryBytes()) << "+ titles"
                                     << mib(d->postingsTitle.memoryBytes()) << ", token lists" << mib(d->allLists.memoryBytes())
                                     << "+ titles" << mib(d->titleLists.memoryBytes()) << ", vocabulary"
                                     << mib(d->tokenText.capacity() + d->tokenOffsets.capacity() * sizeof(quint32)) << "("
                                     << d->tokenCount << "tokens ), programme airings" << mib(csrBytes(d->programmeAirings))
                                     << ", first airings" << mib(d->firstStart.capacity() * 8) << ", time order"
                                     << mib(d->timeOrder.capacity() * sizeof(quint32)) << ", categories"
                                     << mib(csrBytes(d->programmeCategories));
    // Index building leaves tens of megabytes of freed temporaries; give them back to the system
    // so a box's resident memory is what the guide needs.
    malloc_trim(0);
}

SearchIndex::~SearchIndex() = default;

void SearchIndex::setTuning(quint64 postingsBudget, quint64 evaluateLimit)
{
    d->postingsBudget = postingsBudget;
    d->evaluateLimit = evaluateLimit;
}

SearchResult SearchIndex::search(const SearchQuery &query) const
{
    const Guide::Private &g = d->g;
    const quint32 nProg = g.header.programmeCount;
    SearchResult result;
    const int limit = query.limit > 0 ? query.limit : 50;

    // ---- words: each a prefix, so a contiguous range of token ids ----
    struct Word { quint32 lo, hi; };
    std::vector<Word> words;
    for (const QString &t : searchTokens(query.text)) {
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
    const qint64 scanFrom = from - d->maxDuration; // no airing starting earlier is still on at `from`
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
        const qint64 start = g.start(i);
        if (start >= to || start + qint64(g.durations[i]) <= from)
            return false;
        if (!channelOk.empty() && !channelOk[g.channelOf(i)])
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
    auto matchesAll = [&](const PackedLists &lists, quint32 p) {
        for (const Word &w : words)
            if (!lists.hasIn(p, w.lo, w.hi))
                return false;
        return true;
    };

    // ---- the airings to walk in time order: those of the chosen channels, or all ----
    // Results are ranked by soonest airing, ties by channel: the order of timeOrder, where the
    // airing table's order (channel, then start) breaks ties. A candidate is that rank.
    const std::vector<quint32> &timeOrder = d->timeOrder;
    const quint32 firstRank = quint32(std::lower_bound(timeOrder.begin(), timeOrder.end(), scanFrom,
                                                       [&](quint32 i, qint64 t) { return g.start(i) < t; })
                                      - timeOrder.begin());
    auto rankOf = [&](quint32 i) {
        return quint32(std::lower_bound(timeOrder.begin(), timeOrder.end(), i, [&](quint32 a, quint32 b) {
                           return g.starts[a] != g.starts[b] ? g.starts[a] < g.starts[b] : a < b;
                       })
                       - timeOrder.begin());
    };
    std::vector<quint32> channelSequence;
    std::span<const quint32> timeline;
    const bool byChannel = !channelOk.empty() && query.channels.size() <= 64;
    if (byChannel) {
        for (int c : query.channels) {
            const auto [first, count] = d->guide.channelAirings(c);
            for (quint32 i = first; i < first + count; ++i)
                if (airingOk(i))
                    channelSequence.push_back(i);
        }
        std::sort(channelSequence.begin(), channelSequence.end(), [&](quint32 a, quint32 b) {
            // Airings come channel by channel: at equal starts the lower index is the lower channel.
            return g.starts[a] != g.starts[b] ? g.starts[a] < g.starts[b] : a < b;
        });
        timeline = channelSequence;
    } else {
        timeline = std::span<const quint32>(timeOrder).subspan(firstRank);
    }
    // The rank of the k-th airing of the timeline.
    auto timelineRank = [&](size_t k) { return byChannel ? rankOf(timeline[k]) : firstRank + quint32(k); };

    // The first airing of the programme that passes the filters is its soonest. Those that began
    // too early to be still on at `from` are skipped by a binary search: a programme on a loop has
    // hundreds of airings, and only the first few to test.
    const bool timeOnly = channelOk.empty() && !query.newOnly;
    auto soonest = [&](quint32 p) -> qint64 {
        // The first airing passes: the common case, answered without touching the airing tables.
        const qint64 firstStart = g.header.validFrom + d->firstStart[p];
        if (timeOnly && d->firstDuration[p] && firstStart + d->firstDuration[p] > from && firstStart < to)
            return d->programmeAirings.values[d->programmeAirings.offsets[p]];
        std::span<const quint32> row = d->programmeAirings.row(p);
        if (!row.empty() && row.front() < firstRank)
            row = row.subspan(size_t(std::lower_bound(row.begin(), row.end(), firstRank) - row.begin()));
        for (quint32 r : row) {
            const quint32 i = timeOrder[r];
            if (g.start(i) >= to)
                break;
            if (airingOk(i))
                return r;
        }
        return -1;
    };

    /// Programmes matching every word in `postings`, as a bitmap; false when reading the postings
    /// would cost more than walking the timeline.
    auto matchSet = [&](const PackedLists &postings, Bitmap *out) {
        quint64 cost = 0;
        for (const Word &w : words)
            cost += postings.rangeCount(w.lo, w.hi);
        if (cost > d->postingsBudget)
            return false;
        // The first word straight into `out` (empty as given), the others through one scratch map.
        std::optional<Bitmap> word;
        for (size_t k = 0; k < words.size(); ++k) {
            Bitmap &target = k == 0 ? *out : (word ? word->clear() : word.emplace(nProg));
            for (quint32 t = words[k].lo; t < words[k].hi; ++t)
                postings.forEach(t, [&](quint32 p) { target.set(p); });
            if (k > 0)
                out->intersect(target);
        }
        return true;
    };

    /// Fills `hits` with the soonest airings of the programmes in `set` (or, with no set, of every
    /// programme `accept` takes): exactly, or by walking the timeline until `wanted` are found.
    /// Returns whether every matching programme was seen.
    auto collect = [&](const Bitmap *set, auto &&accept, qsizetype wanted, std::vector<quint32> *hits) {
        if (set) {
            const quint64 count = set->countUpTo(d->evaluateLimit);
            if (count <= d->evaluateLimit) {
                hits->reserve(count);
                set->forEach([&](quint32 p) {
                    if (!programmeOk(p) || !accept(p))
                        return;
                    const qint64 r = soonest(p);
                    if (r >= 0)
                        hits->push_back(quint32(r));
                });
                return true;
            }
        }
        Bitmap seen(nProg);
        for (size_t k = 0; k < timeline.size(); ++k) {
            const quint32 i = timeline[k];
            if (!airingOk(i))
                continue;
            const quint32 p = g.programmes[i];
            if (set && !set->test(p))
                continue;
            if (seen.testAndSet(p) || !programmeOk(p) || !accept(p))
                continue;
            // The timeline is in start order, but an airing that began before `from` may be
            // running still: those come first, in order, as the span starts maxDuration early.
            hits->push_back(timelineRank(k));
            if (qsizetype(hits->size()) >= wanted)
                return false;
        }
        return true;
    };

    std::vector<quint32> titleHits, otherHits; // ranks
    bool exact = true;
    if (words.empty()) {
        exact = collect(nullptr, [](quint32) { return true; }, limit, &otherHits);
    } else {
        // Tier 1: every word in the title. Titles are short, so their postings are cheap.
        Bitmap inTitle(nProg);
        const bool titleSet = matchSet(d->postingsTitle, &inTitle);
        const bool titleExact = titleSet
            ? collect(&inTitle, [](quint32) { return true; }, limit, &titleHits)
            : collect(nullptr, [&](quint32 p) { return matchesAll(d->titleLists, p); }, limit, &titleHits);
        exact = titleExact;
        // Tier 2: every word somewhere else too, when the titles alone do not fill the page.
        if (qsizetype(titleHits.size()) < limit || !titleExact) {
            const qsizetype wanted = limit - qsizetype(std::min<size_t>(titleHits.size(), size_t(limit)));
            auto notTitle = [&](quint32 p) {
                return titleSet ? !inTitle.test(p) : !matchesAll(d->titleLists, p);
            };
            Bitmap inText(nProg);
            bool otherExact;
            if (wanted == 0) {
                otherExact = false;
            } else if (matchSet(d->postingsAll, &inText)) {
                if (titleSet)
                    inText.subtract(inTitle);
                otherExact = collect(&inText, notTitle, wanted, &otherHits);
            } else {
                otherExact = collect(nullptr, [&](quint32 p) { return notTitle(p) && matchesAll(d->allLists, p); }, wanted,
                                     &otherHits);
            }
            exact = exact && otherExact;
        } else {
            exact = false; // the page is full of title hits; other hits were not counted
        }
    }

    result.totalProgrammes = qint64(titleHits.size() + otherHits.size());
    result.totalExact = exact;
    result.hits.reserve(std::min<qsizetype>(limit, qsizetype(titleHits.size() + otherHits.size())));
    auto take = [&](std::vector<quint32> &list, bool title) {
        const qsizetype room = limit - result.hits.size();
        if (room <= 0)
            return;
        const auto end = list.begin() + std::min<qsizetype>(room, qsizetype(list.size()));
        std::partial_sort(list.begin(), end, list.end());
        for (auto it = list.begin(); it != end; ++it)
            result.hits.append({g.airing(timeOrder[*it]), title});
    };
    take(titleHits, true);
    take(otherHits, false);
    return result;
}

} // namespace iptv::epg
