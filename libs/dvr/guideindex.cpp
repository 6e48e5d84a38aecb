#include "guideindex.h"

#include <QVarLengthArray>

#include <numeric>
#include <tuple>
#include <utility>

namespace iptv::dvr {

namespace {

/// A channel's part, but with guide title string ids in `title` (turned into the scheduler's title
/// refs by build(), on one thread) and `byTitle` unsorted.
std::shared_ptr<ChannelPart> makePart(const epg::Guide &g, int c, int key, QHash<quint32, bool> &progidSystem,
                                      PartStrings *strings)
{
    auto part = std::make_shared<ChannelPart>();
    part->digest = g.channelDigest(c);
    part->channel = key;
    const auto [first, count] = g.channelAirings(c);
    std::vector<std::pair<quint32, quint32>> byProgramme(count); // (programme, local airing)
    for (quint32 k = 0; k < count; ++k)
        byProgramme[k] = {g.airingProgramme(first + k), k};
    std::sort(byProgramme.begin(), byProgramme.end());
    part->airingProgramme.resize(count);
    part->airingList.resize(count);
    for (quint32 i = 0; i < count; ++i) {
        const quint32 p = byProgramme[i].first, k = byProgramme[i].second;
        if (i == 0 || byProgramme[i - 1].first != p) {
            const quint32 local = part->programmeCount();
            part->airingOffsets.push_back(i);
            part->firstAiring.push_back(k);
            const auto ps = g.programmeStrings(p);
            part->title.push_back(int(ps.title));
            strings->title.push_back(ps.title);
            strings->subTitle.push_back(ps.subTitle);
            strings->numberOffsets.push_back(quint32(strings->numbers.size()));
            strings->numbers.insert(strings->numbers.end(), ps.episodeNums.begin(), ps.episodeNums.end());
            part->description.push_back(ps.description);
            part->fingerprint.push_back(g.programmeDigest(p));
            quint64 series = 0;
            for (const auto &[sys, value] : ps.episodeNums) {
                auto it = progidSystem.constFind(sys);
                if (it == progidSystem.cend())
                    it = progidSystem.insert(sys, g.string(sys) == "dd_progid");
                if (*it)
                    series = seriesKeyUtf8(g.string(value));
            }
            part->series.push_back(series);
            if (series)
                part->bySeries.emplace_back(series, local);
        }
        part->airingProgramme[k] = part->programmeCount() - 1;
        part->airingList[i] = k;
    }
    part->airingOffsets.push_back(count);
    strings->numberOffsets.push_back(quint32(strings->numbers.size()));
    const quint32 n = part->programmeCount();
    part->identities.resize(n);
    part->identityState = std::make_unique<std::atomic<quint8>[]>(n); // value-initialised: 0
    std::sort(part->bySeries.begin(), part->bySeries.end());
    for (const auto &[series, local] : part->bySeries)
        if (part->seriesKeys.empty() || part->seriesKeys.back() != series)
            part->seriesKeys.push_back(series);
    return part;
}

} // namespace

EpisodeIdentity GuideIndex::identityOfProgramme(const epg::Guide &guide, quint32 p)
{
    const auto ps = guide.programmeStrings(p);
    QVarLengthArray<std::pair<QByteArrayView, QByteArrayView>, 4> nums;
    for (const auto &[sys, value] : ps.episodeNums)
        nums.append({guide.string(sys), guide.string(value)});
    return episodeIdentityUtf8(guide.string(ps.title), guide.string(ps.subTitle), guide.string(ps.description),
                               nums.constData(), nums.size());
}

EpisodeIdentity ProgrammeRef::identity() const
{
    if (part->identityState[local].load(std::memory_order_acquire) == 2)
        return part->identities[local];
    const EpisodeIdentity id = GuideIndex::identityOfProgramme(*guide, programme);
    GuideIndex::setIdentity({-1, local, part.get()}, id);
    return id;
}

EpisodeIdentity GuideIndex::identityOfHandle(quint32 h, quint32 p) const
{
    const Handle x = handle(h);
    const PartStrings *strings = size_t(x.channel) < partStrings.size() ? partStrings[size_t(x.channel)].get() : nullptr;
    if (!strings)
        return identityOfProgramme(p);
    QVarLengthArray<std::pair<QByteArrayView, QByteArrayView>, 4> nums;
    for (quint32 i = strings->numberOffsets[x.local]; i < strings->numberOffsets[x.local + 1]; ++i)
        nums.append({guide->string(strings->numbers[i].first), guide->string(strings->numbers[i].second)});
    return episodeIdentityUtf8(guide->string(strings->title[x.local]), guide->string(strings->subTitle[x.local]),
                               guide->string(x.part->description[x.local]), nums.constData(), nums.size());
}

size_t GuideIndex::computeIdentities(std::vector<quint32> handles, int threads) const
{
    // (description, programme, handle): the guide packs descriptions in compressed blocks in string
    // order and a thread keeps only its last few, so they are read in that order; a programme
    // airing on several channels is computed once.
    // Ordered by one 64-bit key (description, programme), then the handle.
    struct Item
    {
        quint64 key; ///< description << 32 | programme
        quint32 handle;
        bool operator==(const Item &o) const { return key == o.key && handle == o.handle; }
    };
    // Items made in handle order, then sorted by key with a stable radix sort: the order of
    // (key, handle) without comparisons (a full evaluation sorts 150k of them on one thread).
    if (!std::is_sorted(handles.begin(), handles.end()))
        std::sort(handles.begin(), handles.end());
    std::vector<Item> order;
    order.reserve(handles.size());
    for (const quint32 h : handles) {
        const Handle x = handle(h);
        if (x.part->identityState[x.local].load(std::memory_order_acquire) == 2)
            continue;
        const quint32 p = guide->airingProgramme(firstAiring[size_t(x.channel)] + x.part->firstAiring[x.local]);
        order.push_back({quint64(x.part->description[x.local]) << 32 | p, h});
    }
    if (order.size() < 4096) { // an update's few: the radix sort's tables would cost more
        std::stable_sort(order.begin(), order.end(), [](const Item &a, const Item &b) { return a.key < b.key; });
    } else {
        std::vector<Item> other(order.size());
        std::vector<quint32> count(1 << 16);
        for (int shift = 0; shift < 64; shift += 16) {
            std::fill(count.begin(), count.end(), 0);
            for (const Item &item : order)
                ++count[size_t(item.key >> shift) & 0xffff];
            if (!order.empty() && count[size_t(order.front().key >> shift) & 0xffff] == order.size())
                continue; // one digit for all: already in order
            quint32 at = 0;
            for (quint32 &c : count)
                at += std::exchange(c, at);
            for (const Item &item : order)
                other[count[size_t(item.key >> shift) & 0xffff]++] = item;
            order.swap(other);
        }
    }
    order.erase(std::unique(order.begin(), order.end()), order.end());
    size_t programmes = 0;
    for (size_t i = 0; i < order.size(); ++i)
        programmes += i == 0 || quint32(order[i - 1].key) != quint32(order[i].key);
    onThreads(threads, order.size(), [&](size_t begin, size_t end) {
        EpisodeIdentity id;
        for (size_t i = begin; i < end; ++i) {
            const quint32 p = quint32(order[i].key);
            if (i == begin || quint32(order[i - 1].key) != p)
                id = identityOfHandle(order[i].handle, p);
            setIdentity(order[i].handle, id);
        }
    });
    partStrings.clear(); // read once: every identity a version needs at once is made here
    return programmes;
}

std::unique_ptr<GuideIndex> GuideIndex::build(std::shared_ptr<const epg::Guide> guide, GuideIndex *previous, int threads,
                                              const Keys &keys)
{
    auto ix = std::make_unique<GuideIndex>();
    ix->guide = guide;
    const epg::Guide &g = *guide;
    const int channels = g.channelCount();
    ix->channelKey.resize(size_t(channels));
    ix->firstAiring.resize(size_t(channels));
    ix->parts.resize(size_t(channels));
    int keyEnd = 0;
    for (int c = 0; c < channels; ++c) {
        ix->channelKey[size_t(c)] = keys.channel(g.channelId(c));
        ix->firstAiring[size_t(c)] = g.channelAirings(c).first;
        keyEnd = std::max(keyEnd, ix->channelKey[size_t(c)] + 1);
    }
    ix->guideChannel.assign(size_t(keyEnd), -1);
    for (int c = 0; c < channels; ++c)
        ix->guideChannel[size_t(ix->channelKey[size_t(c)])] = c;

    // A channel's part is shared when it airs what it aired (same digest); the rest are made.
    std::vector<int> toMake;
    for (int c = 0; c < channels; ++c) {
        const int key = ix->channelKey[size_t(c)];
        const int oc = previous && size_t(key) < previous->guideChannel.size() ? previous->guideChannel[size_t(key)] : -1;
        if (oc >= 0 && previous->parts[size_t(oc)]->digest == g.channelDigest(c))
            ix->parts[size_t(c)] = previous->parts[size_t(oc)];
        else
            toMake.push_back(c);
    }
    ix->partsMade = int(toMake.size());
    ix->partStrings.resize(size_t(channels));
    for (const int c : toMake)
        ix->partStrings[size_t(c)] = std::make_unique<PartStrings>();
    onThreads(threads, toMake.size(), [&](size_t begin, size_t end) {
        QHash<quint32, bool> progidSystem; // episode-num system string id -> is "dd_progid"
        for (size_t i = begin; i < end; ++i)
            ix->parts[size_t(toMake[i])] = makePart(g, toMake[i], ix->channelKey[size_t(toMake[i])], progidSystem,
                                                    ix->partStrings[size_t(toMake[i])].get());
    });
    // Title string ids -> the scheduler's title refs, each distinct title once (one thread: the
    // refs are the scheduler's).
    if (previous)
        ix->titleKeyOf = std::move(previous->titleKeyOf);
    QHash<quint32, int> refOf;
    for (const int c : toMake) {
        ChannelPart &part = *ix->parts[size_t(c)];
        for (int &t : part.title) {
            auto it = refOf.constFind(quint32(t));
            if (it == refOf.cend()) {
                const QString text = QString::fromUtf8(g.string(quint32(t)));
                const int ref = keys.title(text);
                if (!ix->titleKeyOf.contains(ref))
                    ix->titleKeyOf.insert(ref, titleKey(text));
                it = refOf.insert(quint32(t), ref);
            }
            t = *it;
        }
    }
    onThreads(threads, toMake.size(), [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
            ChannelPart &part = *ix->parts[size_t(toMake[i])];
            part.byTitle.reserve(part.title.size());
            for (quint32 local = 0; local < part.programmeCount(); ++local)
                part.byTitle.emplace_back(part.title[local], local);
            std::sort(part.byTitle.begin(), part.byTitle.end());
            for (const auto &[t, local] : part.byTitle)
                if (part.titles.empty() || part.titles.back() != t)
                    part.titles.push_back(t);
        }
    });
    ix->handleBase.resize(size_t(channels) + 1);
    ix->handleBase[0] = 0;
    for (int c = 0; c < channels; ++c)
        ix->handleBase[size_t(c) + 1] = ix->handleBase[size_t(c)] + ix->parts[size_t(c)]->programmeCount();
    ix->handleChannel.resize(ix->handleBase.back());
    for (int c = 0; c < channels; ++c)
        std::fill(ix->handleChannel.begin() + ix->handleBase[size_t(c)], ix->handleChannel.begin() + ix->handleBase[size_t(c) + 1], c);

    // The lookups over channels: the last version's, less the channels whose part went, plus the
    // channels whose part came.
    auto remove = [&](const ChannelPart &part) {
        for (const int t : part.titles) {
            auto it = ix->channelsByTitle.find(t);
            it->erase(std::find(it->begin(), it->end(), part.channel));
            if (it->empty()) {
                ix->channelsByTitle.erase(it);
                auto k = ix->titlesByKey.find(ix->titleKeyOf.value(t));
                k->removeOne(quint32(t));
                if (k->isEmpty())
                    ix->titlesByKey.erase(k);
            }
        }
        for (const quint64 s : part.seriesKeys) {
            auto it = ix->channelsBySeries.find(s);
            it->erase(std::find(it->begin(), it->end(), part.channel));
            if (it->empty())
                ix->channelsBySeries.erase(it);
        }
    };
    auto add = [&](const ChannelPart &part) {
        for (const int t : part.titles) {
            std::vector<int> &list = ix->channelsByTitle[t];
            if (list.empty())
                ix->titlesByKey[ix->titleKeyOf.value(t)].append(quint32(t));
            list.push_back(part.channel);
        }
        for (const quint64 s : part.seriesKeys)
            ix->channelsBySeries[s].push_back(part.channel);
    };
    if (previous) {
        ix->channelsByTitle = std::move(previous->channelsByTitle);
        ix->channelsBySeries = std::move(previous->channelsBySeries);
        ix->titlesByKey = std::move(previous->titlesByKey);
        for (size_t oc = 0; oc < previous->parts.size(); ++oc) {
            const ChannelPart &old = *previous->parts[oc];
            const int c = size_t(old.channel) < ix->guideChannel.size() ? ix->guideChannel[size_t(old.channel)] : -1;
            if (c < 0 || ix->parts[size_t(c)].get() != &old)
                remove(old);
        }
    }
    for (const int c : toMake)
        add(*ix->parts[size_t(c)]);
    return ix;
}

} // namespace iptv::dvr
