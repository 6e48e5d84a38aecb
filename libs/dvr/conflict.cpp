#include "conflict.h"

#include <algorithm>
#include <utility>

namespace iptv::dvr {

namespace {
/// The first step after minute t (the one before it, if any, holds the value at t).
template<typename Steps>
auto stepAfter(Steps &steps, int t)
{
    return std::upper_bound(steps.begin(), steps.end(), t,
                            [](int x, const std::pair<int, int> &s) { return x < s.first; });
}
} // namespace

void StepCount::add(int from, int to, int delta)
{
    if (from >= to || !delta)
        return;
    // The steps of [from, to] are made anew (the values there changed by delta, one step at
    // `from`, one back to the old value at `to`, then those that change nothing dropped) and put
    // in place of the old ones at once: one move of the steps after them, not one per split and
    // another for the steps dropped (a channel streaming all day on a node has hundreds of steps).
    const auto begin = std::lower_bound(m_steps.begin(), m_steps.end(), from,
                                        [](const std::pair<int, int> &s, int x) { return s.first < x; });
    const auto end = stepAfter(m_steps, to);
    const int before = begin == m_steps.begin() ? 0 : std::prev(begin)->second;
    const int atTo = end == m_steps.begin() ? 0 : std::prev(end)->second; // the value at `to`, kept
    QVarLengthArray<std::pair<int, int>, 16> made;
    int last = before;
    const auto keep = [&](int minute, int value) {
        if (value != last)
            made.append({minute, value});
        last = value;
    };
    auto it = begin;
    keep(from, (it != m_steps.end() && it->first == from ? (it++)->second : before) + delta);
    for (; it != end && it->first < to; ++it)
        keep(it->first, it->second + delta);
    keep(to, atTo);
    const auto at = begin - m_steps.begin();
    const auto old = end - begin;
    if (made.size() > old)
        m_steps.insert(end, made.size() - old, {});
    else if (made.size() < old)
        m_steps.erase(begin + made.size(), end);
    std::copy(made.begin(), made.end(), m_steps.begin() + at);
    markBlocks(from, to);
}

void StepCount::markBlocks(int from, int to)
{
    from = std::max(0, from);
    if (from >= to)
        return;
    const int firstBlock = from >> BlockShift, lastBlock = (to - 1) >> BlockShift;
    // One search, then the steps walked block by block.
    auto it = stepAfter(m_steps, firstBlock << BlockShift);
    int value = it == m_steps.begin() ? 0 : std::prev(it)->second;
    for (int k = firstBlock; k <= lastBlock; ++k) {
        const int start = k << BlockShift, end = start + BlockMinutes;
        for (; it != m_steps.end() && it->first <= start; ++it)
            value = it->second;
        bool nonZero = value != 0;
        for (; it != m_steps.end() && it->first < end; ++it) {
            value = it->second;
            nonZero = nonZero || value != 0;
        }
        const size_t word = size_t(k / 64);
        const quint64 bit = quint64(1) << (k % 64);
        if (nonZero) {
            if (m_nonZero.size() <= word)
                m_nonZero.resize(word + 1, 0);
            m_nonZero[word] |= bit;
        } else if (word < m_nonZero.size()) {
            m_nonZero[word] &= ~bit;
        }
    }
}

StepCount::Ranges StepCount::zeros(int from, int to) const
{
    Ranges out;
    if (from >= to)
        return out;
    if (surelyZero(from, to)) {
        out.append({from, to});
        return out;
    }
    auto it = stepAfter(m_steps, from);
    int current = it == m_steps.begin() ? 0 : std::prev(it)->second;
    int t = from;
    auto emit = [&](int a, int b) {
        if (a >= b)
            return;
        if (!out.empty() && out.back().second == a)
            out.back().second = b;
        else
            out.append({a, b});
    };
    for (; it != m_steps.end() && it->first < to; ++it) {
        if (current == 0)
            emit(t, it->first);
        t = it->first;
        current = it->second;
    }
    if (current == 0)
        emit(t, to);
    return out;
}

bool StepCount::stepsZero(int from, int to) const
{
    auto it = stepAfter(m_steps, from);
    if (it != m_steps.begin() && std::prev(it)->second != 0)
        return false;
    return it == m_steps.end() || it->first >= to;
}

CapacityBook::CapacityBook(const CapacityOptions &options, int channelCount, qint64 origin)
    : m_channelLimit(options.channelStreamLimit)
    , m_origin(origin - origin % 60)
{
    for (const RecorderNode &n : options.nodes) {
        Node node;
        node.capacity = std::max(0, n.capacity);
        node.channel.resize(size_t(std::max(0, channelCount)));
        m_nodes.push_back(std::move(node));
    }
    m_streamsSomewhere.resize(size_t(std::max(0, channelCount)));
}

void CapacityBook::addChannels(int channelCount)
{
    for (Node &n : m_nodes)
        if (int(n.channel.size()) < channelCount)
            n.channel.resize(size_t(channelCount));
    if (int(m_streamsSomewhere.size()) < channelCount)
        m_streamsSomewhere.resize(size_t(channelCount));
}

void CapacityBook::markSummaries(int channel, int from, int to)
{
    if (from >= to)
        return;
    const size_t firstWord = size_t(from) / 64, lastWord = size_t(to - 1) / 64;
    if (m_fullEverywhere.size() <= lastWord)
        m_fullEverywhere.resize(lastWord + 1, 0);
    for (size_t w = firstWord; w <= lastWord; ++w) {
        quint64 all = ~quint64(0);
        for (const Node &n : m_nodes)
            all &= w < n.full.size() ? n.full[w] : n.capacity > 0 ? 0 : ~quint64(0);
        m_fullEverywhere[w] = all;
    }
    const size_t firstBlockWord = size_t(from >> StepCount::BlockShift) / 64;
    const size_t lastBlockWord = size_t((to - 1) >> StepCount::BlockShift) / 64;
    std::vector<quint64> &streams = m_streamsSomewhere[size_t(channel)];
    if (streams.size() <= lastBlockWord)
        streams.resize(lastBlockWord + 1, 0);
    for (size_t w = firstBlockWord; w <= lastBlockWord; ++w) {
        quint64 any = 0;
        for (const Node &n : m_nodes)
            any |= n.channel[size_t(channel)].blockWord(w);
        streams[w] = any;
    }
}

StepCount::Ranges CapacityBook::fresh(const Node &n, int channel, int from, int to) const
{
    if (size_t(channel) >= n.channel.size() || n.channel[size_t(channel)].isEmpty()) {
        StepCount::Ranges all;
        if (from < to)
            all.append({from, to});
        return all;
    }
    return n.channel[size_t(channel)].zeros(from, to);
}

int CapacityBook::maxLoad(const Node &n, int from, int to, int stopAt) const
{
    // In blocks of minutes (a loop the compiler vectorises), stopping after the block where the
    // load reached stopAt: a node full there is not looked at further.
    // The loads read as signed 16-bit (they stay far below 32768): a maximum SSE2 has (pmaxsw),
    // eight minutes an instruction, not widened to 32 bits first.
    const auto *load = reinterpret_cast<const qint16 *>(n.load.data());
    qint16 best = 0;
    const int end = std::min(to, int(n.load.size()));
    for (int m = from; m < end && best < stopAt;) {
        const int blockEnd = std::min(end, m + 32);
        for (; m < blockEnd; ++m)
            best = std::max(best, load[m]);
    }
    return best;
}

int CapacityBook::nodesStreaming(int channel, int minute, int exceptNode) const
{
    // Every node's table has a row for each channel placed (place() adds the rows): a channel
    // without one was never placed, so no node streams it. A fit check asks about such a channel
    // (one the book was not told of by addChannels(), as fitsOn() allows) before it is placed.
    if (size_t(channel) >= m_streamsSomewhere.size())
        return 0;
    int count = 0;
    for (int i = 0; i < int(m_nodes.size()); ++i) {
        if (i == exceptNode)
            continue;
        if (!m_nodes[size_t(i)].channel[size_t(channel)].isZero(minute, minute + 1))
            ++count;
    }
    return count;
}

bool CapacityBook::withinSetChannelLimit(int node, int channel, int from, int to) const
{
    for (int m = from; m < to; ++m)
        if (nodesStreaming(channel, m, node) + 1 > m_channelLimit)
            return false;
    return true;
}

bool CapacityBook::fitsOn(const Node &n, int node, int channel, int from, int to) const
{
    const StepCount *own = size_t(channel) < n.channel.size() ? &n.channel[size_t(channel)] : nullptr;
    if (!own || own->surelyZero(from, to)) // streams nothing there: every minute is fresh
        return from >= to || (!noRoom(n, from, to) && withinChannelLimit(node, channel, from, to));
    for (const auto &[a, b] : fresh(n, channel, from, to))
        if (noRoom(n, a, b) || !withinChannelLimit(node, channel, a, b))
            return false;
    return true;
}

bool CapacityBook::fits(int node, int channel, qint64 from, qint64 to, bool archived) const
{
    return archived || fitsOn(m_nodes[size_t(node)], node, channel, minuteFrom(from), minuteTo(from, to));
}

bool CapacityBook::fitsSomewhere(int channel, qint64 from, qint64 to, bool archived) const
{
    if (archived)
        return !m_nodes.empty();
    const int a = minuteFrom(from), b = minuteTo(from, to);
    if (a < b && surelyFitsNowhere(channel, a, b))
        return false;
    for (int i = 0; i < int(m_nodes.size()); ++i)
        if (fitsOn(m_nodes[size_t(i)], i, channel, a, b))
            return true;
    return false;
}

int CapacityBook::choose(int channel, qint64 from, qint64 to, bool archived) const
{
    if (archived)
        return m_nodes.empty() ? -1 : 0;
    const int a = minuteFrom(from), b = minuteTo(from, to);
    if (a < b && surelyFitsNowhere(channel, a, b))
        return -1;
    int best = -1, bestShared = -1, bestFree = 0;
    for (int i = 0; i < int(m_nodes.size()); ++i) {
        const Node &n = m_nodes[size_t(i)];
        const auto parts = fresh(n, channel, a, b);
        int shared = b - a;
        for (const auto &[x, y] : parts)
            shared -= y - x;
        // A node sharing less of the range than the best so far is not preferred, whether it fits
        // or not; one that fits shares more, or as much with more streams free.
        if (best >= 0 && shared < bestShared)
            continue;
        bool ok = true;
        for (const auto &[x, y] : parts)
            if (noRoom(n, x, y) || !withinChannelLimit(i, channel, x, y)) {
                ok = false;
                break;
            }
        if (!ok)
            continue;
        // It fits: no minute is full, so the loads read give the peak. Sharing as much as the best,
        // it is preferred only with its peak below capacity - bestFree: read up to there.
        const bool tie = best >= 0 && shared == bestShared;
        const int stopAt = tie ? n.capacity - bestFree : n.capacity;
        int peak = 0;
        for (const auto &[x, y] : parts)
            if (peak < stopAt)
                peak = std::max(peak, maxLoad(n, x, y, stopAt));
        const int free = n.capacity - peak;
        if (!tie || free > bestFree) {
            best = i;
            bestShared = shared;
            bestFree = free;
        }
    }
    return best;
}

bool CapacityBook::mayFitWithout(int id, int channel, qint64 from, qint64 to) const
{
    if (id < 0 || id >= int(m_placements.size()))
        return false;
    const Placement &p = m_placements[size_t(id)];
    if (p.node < 0 || p.archived || p.channel == channel)
        return p.node >= 0; // its own channel: the stream limit may change too, so it might
    // Only p's node changes, and only over p's span: every full minute of the range there must
    // lie in that span.
    const Node &n = m_nodes[size_t(p.node)];
    for (const auto &[a, b] : fresh(n, channel, minuteFrom(from), minuteTo(from, to)))
        if (fullIn(n, a, std::min(b, p.span.from)) || fullIn(n, std::max(a, p.span.to), b))
            return false;
    return true;
}

void CapacityBook::place(int id, int node, int channel, qint64 from, qint64 to, bool archived)
{
    if (id >= int(m_placements.size()))
        m_placements.resize(size_t(id) + 1);
    Placement &p = m_placements[size_t(id)];
    p = {node, channel, {minuteFrom(from), minuteTo(from, to), id}, archived};
    if (archived || p.span.from >= p.span.to)
        return;
    if (size_t(channel) >= m_streamsSomewhere.size())
        addChannels(channel + 1); // every node gets the channel's row: nodesStreaming() reads them all
    Node &n = m_nodes[size_t(node)];
    if (int(n.load.size()) < p.span.to) {
        n.load.resize((size_t(p.span.to) + 24 * 60 + 63) / 64 * 64, 0);
        // A node without streams is full in every minute (load 0 >= capacity 0).
        n.full.resize(n.load.size() / 64, n.capacity > 0 ? 0 : ~quint64(0));
    }
    for (const auto &[a, b] : fresh(n, channel, p.span.from, p.span.to))
        for (int m = a; m < b; ++m)
            if (++n.load[size_t(m)] >= n.capacity)
                n.full[size_t(m / 64)] |= quint64(1) << (m % 64);
    n.channel[size_t(channel)].add(p.span.from, p.span.to, 1);
    markSummaries(channel, p.span.from, p.span.to);
    const int lastHour = (p.span.to - 1) / 60;
    if (int(n.byHour.size()) <= lastHour)
        n.byHour.resize(size_t(lastHour) + 25);
    // Each hour's ids stay in ascending order whatever order they were placed in (a move in pass 2
    // places a recording again): what `overlapping` finds first depends on the set placed, not on
    // the history of tries, so a plan that reuses part of the last one finds what a full one finds.
    const HourEntry entry{id, channel, p.span.from, p.span.to};
    for (int h = p.span.from / 60; h <= lastHour; ++h) {
        auto &bucket = n.byHour[size_t(h)];
        if (bucket.empty() || bucket.back().id < id)
            bucket.push_back(entry);
        else
            bucket.insert(std::lower_bound(bucket.begin(), bucket.end(), id,
                                           [](const HourEntry &e, int x) { return e.id < x; }),
                          entry);
    }
}

void CapacityBook::unplace(int id)
{
    if (id < 0 || id >= int(m_placements.size()))
        return;
    Placement &p = m_placements[size_t(id)];
    if (p.node < 0)
        return;
    if (!p.archived && p.span.from < p.span.to) {
        Node &n = m_nodes[size_t(p.node)];
        n.channel[size_t(p.channel)].add(p.span.from, p.span.to, -1);
        for (const auto &[a, b] : fresh(n, p.channel, p.span.from, p.span.to))
            for (int m = a; m < b; ++m)
                if (--n.load[size_t(m)] < n.capacity)
                    n.full[size_t(m / 64)] &= ~(quint64(1) << (m % 64));
        markSummaries(p.channel, p.span.from, p.span.to);
        for (int h = p.span.from / 60; h <= (p.span.to - 1) / 60; ++h) {
            auto &bucket = n.byHour[size_t(h)];
            bucket.erase(std::lower_bound(bucket.begin(), bucket.end(), id,
                                          [](const HourEntry &e, int x) { return e.id < x; }));
        }
    }
    p = {};
}

void CapacityBook::rename(int from, int to)
{
    if (from < 0 || from >= int(m_placements.size()) || m_placements[size_t(from)].node < 0 || from == to)
        return;
    if (to >= int(m_placements.size()))
        m_placements.resize(size_t(to) + 1);
    Placement p = std::exchange(m_placements[size_t(from)], {});
    p.span.id = to;
    m_placements[size_t(to)] = p;
    if (p.archived || p.span.from >= p.span.to)
        return;
    Node &n = m_nodes[size_t(p.node)];
    const HourEntry entry{to, p.channel, p.span.from, p.span.to};
    auto byId = [](const HourEntry &e, int x) { return e.id < x; };
    for (int h = p.span.from / 60; h <= (p.span.to - 1) / 60; ++h) {
        auto &bucket = n.byHour[size_t(h)];
        // The entry moves to its new id's place (ascending ids, as place() keeps them).
        auto at = std::lower_bound(bucket.begin(), bucket.end(), from, byId);
        auto there = std::lower_bound(bucket.begin(), bucket.end(), to, byId);
        if (there > at)
            std::rotate(at, at + 1, there), *(there - 1) = entry;
        else
            std::rotate(there, at, at + 1), *there = entry;
    }
}

std::vector<int> CapacityBook::overlapping(qint64 from, qint64 to, int exceptChannel, int limit) const
{
    Reach reach;
    return overlapping(from, to, exceptChannel, limit, reach);
}

std::vector<int> CapacityBook::overlapping(qint64 from, qint64 to, int exceptChannel, int limit, Reach &reach) const
{
    std::vector<int> out;
    overlapping(from, to, exceptChannel, limit, reach, out);
    return out;
}

void CapacityBook::overlapping(qint64 from, qint64 to, int exceptChannel, int limit, Reach &reach,
                               std::vector<int> &out) const
{
    reach = {};
    out.clear();
    // One placement per stream (node, channel): more recordings sharing a channel are not more
    // conflicts. Scanning stops at `limit` streams, so a full hour of a busy node (hundreds of
    // viewers' recordings) costs one pass over its bucket, not a sort of everything in it.
    const int a = minuteFrom(from), b = minuteTo(from, to);
    if (a >= b || limit <= 0)
        return;
    // One allocation, not one per doubling (asked ~110k times by a repair at the benchmark's size),
    // and none when the caller's list is reused.
    out.reserve(size_t(std::min(limit, 64)));
    // The channels of this node already in `out` (one bit each; the node's streams are found
    // together, node after node).
    QVarLengthArray<quint64, 64> seen;
    for (int node = 0; node < int(m_nodes.size()); ++node) {
        const Node &n = m_nodes[size_t(node)];
        seen.resize(qsizetype((n.channel.size() + 63) / 64));
        std::fill(seen.begin(), seen.end(), 0);
        for (int h = a / 60; h <= (b - 1) / 60 && h < int(n.byHour.size()); ++h) {
            for (const HourEntry &e : n.byHour[size_t(h)]) {
                if (e.channel == exceptChannel || e.from >= b || e.to <= a)
                    continue;
                quint64 &bits = seen[qsizetype(e.channel / 64)];
                const quint64 bit = quint64(1) << (e.channel % 64);
                if (bits & bit)
                    continue;
                bits |= bit;
                out.push_back(e.id);
                if (int(out.size()) >= limit) {
                    // Stopped in hour h of this node: nothing after it was read. A placement in
                    // this hour's list that overlaps [a, b) covers a minute of [a, (h + 1) * 60).
                    reach = {node, int(m_origin / 60) + std::min(b, (h + 1) * 60)};
                    std::sort(out.begin(), out.end());
                    return;
                }
            }
        }
    }
    std::sort(out.begin(), out.end());
}

} // namespace iptv::dvr
