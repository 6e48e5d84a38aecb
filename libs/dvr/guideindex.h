#pragma once

// The scheduler's view of one guide version (GuideIndex) and the helpers that build it on several
// threads. Internal to libs/dvr (scheduler.cpp); see docs/dvr-scheduler.md.

#include "duplicate.h"

#include <epg/guide.h>

#include <QHash>
#include <QList>
#include <QString>
#include <QVarLengthArray>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace iptv::dvr {

/// Runs f(begin, end) over [0, n) split into `threads` contiguous ranges, one per thread.
template<typename F>
void onThreads(int threads, size_t n, F &&f)
{
    threads = int(std::clamp<size_t>(size_t(std::max(threads, 1)), 1, std::max<size_t>(n, 1)));
    if (threads == 1) {
        f(size_t(0), n);
        return;
    }
    std::vector<std::thread> helpers;
    for (int t = 1; t < threads; ++t)
        helpers.emplace_back([&, t] { f(n * size_t(t) / size_t(threads), n * size_t(t + 1) / size_t(threads)); });
    f(size_t(0), n / size_t(threads));
    for (std::thread &t : helpers)
        t.join();
}

/// Runs f(i) for every i in [0, n) on up to `threads` threads (the calling one too), which take
/// `chunk` indexes at a time: for work whose cost per index varies (rules match few or many).
template<typename F>
void inChunks(int threads, size_t n, size_t chunk, F &&f)
{
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t first = next.fetch_add(chunk); first < n; first = next.fetch_add(chunk))
            for (size_t i = first; i < std::min(first + chunk, n); ++i)
                f(i);
    };
    std::vector<std::thread> helpers;
    for (int t = 1; t < threads; ++t)
        helpers.emplace_back(work);
    work();
    for (std::thread &t : helpers)
        t.join();
}

/// What the scheduler needs of one guide version, computed once per version: programme keys
/// (title, series, a fingerprint of what matching and duplicates read) and lookups by them.
struct GuideIndex
{
    std::shared_ptr<const epg::Guide> guide;
    std::vector<int> channelKey;          ///< guide channel -> scheduler channel key
    std::vector<quint32> progTitle;       ///< programme -> title string id
    /// programme -> description string id. The guide packs descriptions in compressed blocks in
    /// string id order, and a thread keeps only its last few blocks: whatever reads every
    /// programme's description walks them in this order (a block decompressed once, not per read).
    std::vector<quint32> progDescription;
    std::vector<quint64> progFingerprint; ///< programme -> hash of title, sub-title, description, episode numbers
    std::vector<quint64> progSeries;      ///< programme -> seriesKey() of its dd_progid, 0 = none
    std::vector<quint32> airingOffsets, airingList; ///< programme -> its airings (CSR)
    std::vector<std::pair<quint32, quint32>> progByTitle; ///< (title string id, programme), sorted
    std::vector<quint32> titles;          ///< distinct title string ids, ascending
    std::vector<QString> titleText;       ///< parallel to `titles`
    QHash<quint32, quint64> titleKeyOf;   ///< title string id -> titleKey()
    std::vector<int> progTitleRef;        ///< programme -> scheduler title key
    QHash<quint64, QList<quint32>> titlesByKey;
    QHash<quint64, std::vector<quint32>> progBySeries;
    /// Programme -> its episode identity, computed on first use. Rules are matched on several
    /// threads: a slot is written by the thread that claims it (state 0 -> 1) and read once
    /// published (2); a thread finding it claimed computes its own copy (the same value).
    mutable std::vector<EpisodeIdentity> identities;
    mutable std::unique_ptr<std::atomic<quint8>[]> identityState;
    mutable QHash<quint32, QList<int>> regexSlotsByTitle; ///< memo; cleared when rules change

    EpisodeIdentity identity(quint32 p) const
    {
        if (identityState[p].load(std::memory_order_acquire) == 2)
            return identities[p];
        const auto ps = guide->programmeStrings(p);
        QVarLengthArray<std::pair<QByteArrayView, QByteArrayView>, 4> nums;
        for (const auto &[sys, value] : ps.episodeNums)
            nums.append({guide->string(sys), guide->string(value)});
        const EpisodeIdentity id = episodeIdentityUtf8(guide->string(ps.title), guide->string(ps.subTitle),
                                                       guide->string(ps.description), nums.constData(), nums.size());
        setIdentity(p, id);
        return id;
    }
    /// The programmes [0, n) for which keep(p), in the order of their description strings.
    template<typename Keep>
    std::vector<quint32> inDescriptionOrder(quint32 n, Keep &&keep) const
    {
        std::vector<std::pair<quint32, quint32>> order; // (description, programme)
        for (quint32 p = 0; p < n; ++p)
            if (keep(p))
                order.emplace_back(progDescription[p], p);
        std::sort(order.begin(), order.end());
        std::vector<quint32> out(order.size());
        for (size_t i = 0; i < order.size(); ++i)
            out[i] = order[i].second;
        return out;
    }
    bool hasIdentity(quint32 p) const { return identityState[p].load(std::memory_order_acquire) == 2; }
    void setIdentity(quint32 p, const EpisodeIdentity &id) const
    {
        quint8 free = 0;
        if (identityState[p].compare_exchange_strong(free, 1, std::memory_order_acquire)) {
            identities[p] = id;
            identityState[p].store(2, std::memory_order_release);
        }
    }
    template<typename F>
    void forAirings(quint32 p, F &&f) const
    {
        for (quint32 i = airingOffsets[p]; i < airingOffsets[p + 1]; ++i)
            f(airingList[i]);
    }
    template<typename F>
    void forProgrammesTitled(quint32 titleString, F &&f) const
    {
        auto it = std::lower_bound(progByTitle.begin(), progByTitle.end(), std::pair<quint32, quint32>{titleString, 0});
        for (; it != progByTitle.end() && it->first == titleString; ++it)
            f(it->second);
    }
};

/// A quick 64-bit hash of bytes, for telling changed programmes from unchanged ones when a new
/// guide version is indexed (every programme, every update: qHash's SipHash costs 6x more here).
inline quint64 quickHash(QByteArrayView bytes, quint64 h)
{
    constexpr quint64 k = 0x9e3779b97f4a7c15ULL;
    const char *p = bytes.data();
    qsizetype n = bytes.size();
    h ^= quint64(n) * k;
    for (; n >= 8; n -= 8, p += 8) {
        quint64 w;
        std::memcpy(&w, p, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    quint64 tail = 0;
    std::memcpy(&tail, p, size_t(n));
    h = (h ^ tail) * k;
    return h ^ (h >> 32);
}

} // namespace iptv::dvr
