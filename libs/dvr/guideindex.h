#pragma once

// The scheduler's view of one guide version (GuideIndex) and the helpers that build it on several
// threads. Internal to libs/dvr (scheduler.cpp); see docs/dvr-scheduler.md ("Guide changes").
//
// The index is made of one part per channel (ChannelPart) that depends only on what the channel
// airs, never on a guide version's programme or string numbers, so that after a guide change the
// parts of the channels whose Guide::channelDigest() is the same are shared with the new version
// instead of made again; the lookups over channels (title -> channels, series -> channels) are
// patched for the channels that changed.

#include "duplicate.h"

#include <epg/guide.h>

#include <QHash>
#include <QList>
#include <QString>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
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

/// What the scheduler derived from one channel's airings. A function of what the channel airs
/// (its Guide::channelDigest()): shared by every guide version in which the digest is the same.
/// Its programmes are local: each distinct programme the channel airs, numbered from 0.
struct ChannelPart
{
    quint64 digest = 0;
    int channel = 0;                        ///< the scheduler's channel key
    std::vector<quint32> airingProgramme;   ///< local airing -> local programme
    // Per local programme:
    std::vector<quint32> firstAiring;       ///< its first local airing (its number in a version is that airing's)
    std::vector<int> title;                 ///< the scheduler's title ref
    std::vector<quint64> series;            ///< seriesKey() of its dd_progid, 0 = none
    std::vector<quint64> fingerprint;       ///< Guide::programmeDigest(): what matching and identities read
    /// Its description string id in the version the part was made in: only the order in which
    /// identities are computed (descriptions are read block by block), never a text.
    std::vector<quint32> description;
    std::vector<quint32> airingOffsets, airingList; ///< local programme -> its local airings (CSR)
    std::vector<std::pair<int, quint32>> byTitle;      ///< (title ref, local programme), sorted
    std::vector<std::pair<quint64, quint32>> bySeries; ///< (series key, local programme), sorted
    std::vector<int> titles;                ///< distinct title refs, ascending
    std::vector<quint64> seriesKeys;        ///< distinct series keys, ascending
    /// Local programme -> its episode identity, computed on first use. Rules are matched on several
    /// threads: a slot is written by the thread that claims it (state 0 -> 1) and read once
    /// published (2); a thread finding it claimed computes its own copy (the same value).
    mutable std::vector<EpisodeIdentity> identities;
    mutable std::unique_ptr<std::atomic<quint8>[]> identityState;

    quint32 programmeCount() const { return quint32(title.size()); }
};

/// What identities read of a channel's programmes (string ids of the version the part was made
/// in), kept from the walk that made the part, so that the identities do not walk the records
/// again. Held by that version's GuideIndex only: a part shared with a later version has none.
struct PartStrings
{
    std::vector<quint32> title, subTitle;  ///< per local programme (string ids)
    std::vector<quint32> numberOffsets;    ///< per local programme: its episode numbers (CSR)
    std::vector<std::pair<quint32, quint32>> numbers; ///< (system, value) string ids
};

/// A programme of one guide version, held without its GuideIndex (it keeps the guide and the
/// channel part alive): what an update notes of the airings that came or went, whose identities
/// are computed only when asked (a conflict's alternatives may never ask), then kept in the part.
struct ProgrammeRef
{
    std::shared_ptr<const epg::Guide> guide;
    std::shared_ptr<const ChannelPart> part;
    quint32 local = 0;     ///< the part's local programme
    quint32 programme = 0; ///< its number in `guide`
    /// Its episode identity: the part's when known, else computed (any thread) and published there.
    EpisodeIdentity identity() const;
};

/// One guide version as the scheduler reads it. Programmes are named by handles: a channel's
/// local programme, numbered across the channels of this version (a programme airing on two
/// channels has two handles; each gives that channel's airings).
struct GuideIndex
{
    std::shared_ptr<const epg::Guide> guide;
    std::vector<int> channelKey;            ///< guide channel -> scheduler channel key
    std::vector<int> guideChannel;          ///< scheduler channel key -> guide channel, -1 = not in this guide
    std::vector<std::shared_ptr<ChannelPart>> parts; ///< by guide channel
    std::vector<quint32> firstAiring;       ///< guide channel -> its first airing
    std::vector<quint32> handleBase;        ///< guide channel -> its first handle; then the handle count
    std::vector<int> handleChannel;         ///< handle -> guide channel (a conflict's alternatives read many)
    QHash<int, std::vector<int>> channelsByTitle;    ///< title ref -> channel keys airing it
    QHash<quint64, std::vector<int>> channelsBySeries; ///< series key -> channel keys airing it
    QHash<quint64, QList<quint32>> titlesByKey;      ///< titleKey() -> the title refs airing in this version
    QHash<int, quint64> titleKeyOf;         ///< title ref -> titleKey() (every title ref seen so far)
    int partsMade = 0;                      ///< parts made for this version (the rest were shared)
    /// By guide channel: the strings of a part made for this version (null: shared), read by
    /// computeIdentities() and dropped after it.
    mutable std::vector<std::unique_ptr<PartStrings>> partStrings;

    struct Handle
    {
        int channel = -1; ///< guide channel
        quint32 local = 0;
        const ChannelPart *part = nullptr;
    };
    Handle handle(quint32 h) const
    {
        const int c = handleChannel[h];
        return {c, h - handleBase[size_t(c)], parts[size_t(c)].get()};
    }
    /// The handle of an airing of this version.
    quint32 handleOf(const epg::Airing &a) const
    {
        return handleBase[a.channel] + parts[a.channel]->airingProgramme[a.index - firstAiring[a.channel]];
    }
    /// The programme number in this version.
    quint32 programme(quint32 h) const
    {
        const Handle x = handle(h);
        return guide->airingProgramme(firstAiring[size_t(x.channel)] + x.part->firstAiring[x.local]);
    }
    int titleOf(quint32 h) const { const Handle x = handle(h); return x.part->title[x.local]; }
    /// titleOf(handleOf(a)) without finding the channel of a handle.
    int titleOfAiring(const epg::Airing &a) const
    {
        const ChannelPart &part = *parts[a.channel];
        return part.title[part.airingProgramme[a.index - firstAiring[a.channel]]];
    }
    quint64 seriesOf(quint32 h) const { const Handle x = handle(h); return x.part->series[x.local]; }
    quint64 fingerprintOf(quint32 h) const { const Handle x = handle(h); return x.part->fingerprint[x.local]; }

    EpisodeIdentity identity(quint32 h) const
    {
        const Handle x = handle(h);
        if (x.part->identityState[x.local].load(std::memory_order_acquire) == 2)
            return x.part->identities[x.local];
        const EpisodeIdentity id = identityOfProgramme(programme(h));
        setIdentity(x, id);
        return id;
    }
    EpisodeIdentity identityOfProgramme(quint32 p) const { return identityOfProgramme(*guide, p); }
    static EpisodeIdentity identityOfProgramme(const epg::Guide &guide, quint32 p);
    /// The handle's programme, to read its identity after this index is gone.
    ProgrammeRef ref(quint32 h) const
    {
        const Handle x = handle(h);
        return {guide, parts[size_t(x.channel)], x.local, programme(h)};
    }
    /// identityOfProgramme() of the handle's programme `p`, from partStrings when it has them.
    EpisodeIdentity identityOfHandle(quint32 h, quint32 p) const;
    bool hasIdentity(quint32 h) const
    {
        const Handle x = handle(h);
        return x.part->identityState[x.local].load(std::memory_order_acquire) == 2;
    }
    /// The published identity (hasIdentity() must be true).
    const EpisodeIdentity &knownIdentity(quint32 h) const
    {
        const Handle x = handle(h);
        return x.part->identities[x.local];
    }
    static void setIdentity(const Handle &x, const EpisodeIdentity &id)
    {
        quint8 free = 0;
        if (x.part->identityState[x.local].compare_exchange_strong(free, 1, std::memory_order_acquire)) {
            x.part->identities[x.local] = id;
            x.part->identityState[x.local].store(2, std::memory_order_release);
        }
    }
    void setIdentity(quint32 h, const EpisodeIdentity &id) const { setIdentity(handle(h), id); }
    /// Computes the identities of `handles` (those not known yet), once per programme of this
    /// version, in the order of their descriptions, on `threads` threads. Returns how many
    /// programmes' identities it computed.
    size_t computeIdentities(std::vector<quint32> handles, int threads) const;

    /// f(airing number in this version, its guide channel) for each airing of the programme `h`.
    template<typename F>
    void forAiringsOn(quint32 h, F &&f) const
    {
        const Handle x = handle(h);
        const quint32 base = firstAiring[size_t(x.channel)];
        for (quint32 i = x.part->airingOffsets[x.local]; i < x.part->airingOffsets[x.local + 1]; ++i)
            f(base + x.part->airingList[i], x.channel);
    }
    /// f(airing number in this version) for each airing of the programme `h`.
    template<typename F>
    void forAirings(quint32 h, F &&f) const
    {
        const Handle x = handle(h);
        const quint32 base = firstAiring[size_t(x.channel)];
        for (quint32 i = x.part->airingOffsets[x.local]; i < x.part->airingOffsets[x.local + 1]; ++i)
            f(base + x.part->airingList[i]);
    }
    /// f(handle) for each programme titled `titleRef` (on any channel).
    template<typename F>
    void forProgrammesTitled(quint32 titleRef, F &&f) const
    {
        auto it = channelsByTitle.constFind(int(titleRef));
        if (it == channelsByTitle.cend())
            return;
        for (const int key : *it)
            forProgrammesTitledOn(guideChannel[size_t(key)], int(titleRef), f);
    }
    template<typename F>
    void forProgrammesTitledOn(int c, int titleRef, F &&f) const
    {
        const ChannelPart &part = *parts[size_t(c)];
        auto it = std::lower_bound(part.byTitle.begin(), part.byTitle.end(), std::pair<int, quint32>{titleRef, 0});
        for (; it != part.byTitle.end() && it->first == titleRef; ++it)
            f(handleBase[size_t(c)] + it->second);
    }
    /// f(handle) for each programme of the series (on any channel).
    template<typename F>
    void forProgrammesOfSeries(quint64 series, F &&f) const
    {
        auto it = channelsBySeries.constFind(series);
        if (it == channelsBySeries.cend())
            return;
        for (const int key : *it) {
            const int c = guideChannel[size_t(key)];
            const ChannelPart &part = *parts[size_t(c)];
            auto p = std::lower_bound(part.bySeries.begin(), part.bySeries.end(), std::pair<quint64, quint32>{series, 0});
            for (; p != part.bySeries.end() && p->first == series; ++p)
                f(handleBase[size_t(c)] + p->second);
        }
    }

    /// Where build() gets the scheduler's keys (stable across versions) for channel ids and titles.
    struct Keys
    {
        std::function<int(const QString &)> channel;
        std::function<int(const QString &)> title;
    };
    /// Indexes `guide`. With `previous` (the last version's index, which this empties of its
    /// lookups), the parts of channels whose digest is the same are shared, not made again.
    static std::unique_ptr<GuideIndex> build(std::shared_ptr<const epg::Guide> guide, GuideIndex *previous, int threads,
                                             const Keys &keys);
};

} // namespace iptv::dvr
