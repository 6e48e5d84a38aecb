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
}

StepCount::Ranges StepCount::zeros(int from, int to) const
{
    Ranges out;
    if (from >= to)
        return out;
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

bool StepCount::isZero(int from, int to) const
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
}

void CapacityBook::addChannels(int channelCount)
{
    for (Node &n : m_nodes)
        if (int(n.channel.size()) < channelCount)
            n.channel.resize(size_t(channelCount));
}

// Both ends go to the nearest minute, the same way: a recording that ends when the next begins
// (to the second, as back-to-back airings and the guide's times are) never shares a minute with
// it. Rounding the end up and the start down made such neighbours conflict on a one-stream node
// whenever the times were not whole minutes. A recording holds at least the minute it starts in,
// however short what is left of it is.
int CapacityBook::minuteFrom(qint64 t) const
{
    return int(std::max<qint64>(0, (t - m_origin + 30) / 60));
}

int CapacityBook::minuteTo(qint64 from, qint64 to) const
{
    const int end = int(std::max<qint64>(0, (to - m_origin + 30) / 60));
    return to > from ? std::max(end, minuteFrom(from) + 1) : end;
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
    int count = 0;
    for (int i = 0; i < int(m_nodes.size()); ++i) {
        if (i == exceptNode)
            continue;
        if (!m_nodes[size_t(i)].channel[size_t(channel)].isZero(minute, minute + 1))
            ++count;
    }
    return count;
}

bool CapacityBook::fits(int node, int channel, qint64 from, qint64 to, bool archived) const
{
    if (archived)
        return true;
    const Node &n = m_nodes[size_t(node)];
    for (const auto &[a, b] : fresh(n, channel, minuteFrom(from), minuteTo(from, to))) {
        if (maxLoad(n, a, b, n.capacity) >= n.capacity)
            return false;
        if (m_channelLimit > 0)
            for (int m = a; m < b; ++m)
                if (nodesStreaming(channel, m, node) + 1 > m_channelLimit)
                    return false;
    }
    return true;
}

int CapacityBook::choose(int channel, qint64 from, qint64 to, bool archived) const
{
    if (archived)
        return m_nodes.empty() ? -1 : 0;
    const int a = minuteFrom(from), b = minuteTo(from, to);
    int best = -1, bestShared = -1, bestFree = 0;
    for (int i = 0; i < int(m_nodes.size()); ++i) {
        const Node &n = m_nodes[size_t(i)];
        const auto parts = fresh(n, channel, a, b);
        int shared = b - a, peak = 0;
        bool ok = true;
        for (const auto &[x, y] : parts) {
            shared -= y - x;
            const int load = maxLoad(n, x, y, n.capacity);
            peak = std::max(peak, load);
            if (load >= n.capacity) {
                ok = false;
                break;
            }
            if (m_channelLimit > 0)
                for (int m = x; m < y && ok; ++m)
                    ok = nodesStreaming(channel, m, i) + 1 <= m_channelLimit;
        }
        if (!ok)
            continue;
        const int free = n.capacity - peak;
        if (best < 0 || shared > bestShared || (shared == bestShared && free > bestFree)) {
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
    const int end = int(n.load.size());
    for (const auto &[a, b] : fresh(n, channel, minuteFrom(from), minuteTo(from, to)))
        for (int m = a; m < std::min(b, end); ++m)
            if (n.load[size_t(m)] >= n.capacity && (m < p.span.from || m >= p.span.to))
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
    Node &n = m_nodes[size_t(node)];
    if (int(n.load.size()) < p.span.to)
        n.load.resize(size_t(p.span.to) + 24 * 60, 0);
    for (const auto &[a, b] : fresh(n, channel, p.span.from, p.span.to))
        for (int m = a; m < b; ++m)
            ++n.load[size_t(m)];
    n.channel[size_t(channel)].add(p.span.from, p.span.to, 1);
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
                --n.load[size_t(m)];
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
    // One placement per stream (node, channel): more recordings sharing a channel are not more
    // conflicts. Scanning stops at `limit` streams, so a full hour of a busy node (hundreds of
    // viewers' recordings) costs one pass over its bucket, not a sort of everything in it.
    std::vector<int> out;
    const int a = minuteFrom(from), b = minuteTo(from, to);
    if (a >= b || limit <= 0)
        return out;
    // One allocation, not one per doubling (asked ~110k times by a repair at the benchmark's size).
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
                    std::sort(out.begin(), out.end());
                    return out;
                }
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace iptv::dvr
