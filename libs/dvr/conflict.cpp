#include "conflict.h"

#include <algorithm>

namespace iptv::dvr {

void StepCount::split(qint64 t)
{
    auto it = m_steps.upper_bound(t);
    if (it != m_steps.begin()) {
        auto prev = std::prev(it);
        if (prev->first == t)
            return;
        m_steps.emplace_hint(it, t, prev->second);
    } else {
        m_steps.emplace_hint(it, t, 0);
    }
}

void StepCount::add(qint64 from, qint64 to, int delta)
{
    if (from >= to || !delta)
        return;
    split(from);
    split(to);
    for (auto it = m_steps.find(from); it != m_steps.end() && it->first < to; ++it)
        it->second += delta;
    // Drop steps that no longer change the value, so the map stays as small as the schedule.
    auto it = m_steps.find(from);
    int before = it == m_steps.begin() ? 0 : std::prev(it)->second;
    while (it != m_steps.end() && it->first <= to) {
        if (it->second == before) {
            it = m_steps.erase(it);
        } else {
            before = it->second;
            ++it;
        }
    }
}

int StepCount::max(qint64 from, qint64 to) const
{
    if (from >= to || m_steps.empty())
        return 0;
    auto it = m_steps.upper_bound(from);
    int best = it == m_steps.begin() ? 0 : std::prev(it)->second;
    for (; it != m_steps.end() && it->first < to; ++it)
        best = std::max(best, it->second);
    return best;
}

std::vector<std::pair<qint64, qint64>> StepCount::where(qint64 from, qint64 to, int value) const
{
    std::vector<std::pair<qint64, qint64>> out;
    if (from >= to)
        return out;
    auto it = m_steps.upper_bound(from);
    int current = it == m_steps.begin() ? 0 : std::prev(it)->second;
    qint64 t = from;
    auto emit = [&](qint64 a, qint64 b) {
        if (a >= b)
            return;
        if (!out.empty() && out.back().second == a)
            out.back().second = b;
        else
            out.emplace_back(a, b);
    };
    for (; it != m_steps.end() && it->first < to; ++it) {
        if (current == value)
            emit(t, it->first);
        t = it->first;
        current = it->second;
    }
    if (current == value)
        emit(t, to);
    return out;
}

CapacityBook::CapacityBook(const CapacityOptions &options, int channelCount)
    : m_channelNodes(size_t(std::max(0, channelCount)))
    , m_channelLimit(options.channelStreamLimit)
{
    for (const RecorderNode &n : options.nodes)
        m_nodes.push_back(Node{std::max(0, n.capacity), {}, {}});
}

bool CapacityBook::fits(int node, int channel, qint64 from, qint64 to, bool archived) const
{
    if (archived)
        return true;
    const Node &n = m_nodes[size_t(node)];
    const auto ch = n.channel.find(channel);
    const auto fresh = ch == n.channel.end() ? std::vector<std::pair<qint64, qint64>>{{from, to}}
                                             : ch->second.where(from, to, 0);
    for (const auto &[a, b] : fresh) {
        if (n.load.max(a, b) >= n.capacity)
            return false;
        if (m_channelLimit > 0 && size_t(channel) < m_channelNodes.size()
            && m_channelNodes[size_t(channel)].max(a, b) >= m_channelLimit)
            return false;
    }
    return true;
}

int CapacityBook::choose(int channel, qint64 from, qint64 to, bool archived) const
{
    int best = -1;
    qint64 bestShared = -1;
    int bestLoad = 0;
    for (int i = 0; i < int(m_nodes.size()); ++i) {
        if (!fits(i, channel, from, to, archived))
            continue;
        const Node &n = m_nodes[size_t(i)];
        qint64 shared = 0;
        if (const auto ch = n.channel.find(channel); ch != n.channel.end())
            for (const auto &[a, b] : ch->second.where(from, to, 0))
                shared -= b - a;
        if (shared)
            shared += to - from; // the part already streaming here
        const int free = n.capacity - n.load.max(from, to);
        if (best < 0 || shared > bestShared || (shared == bestShared && free > bestLoad)) {
            best = i;
            bestShared = shared;
            bestLoad = free;
        }
    }
    return best;
}

void CapacityBook::place(int node, int channel, qint64 from, qint64 to, bool archived)
{
    if (archived || from >= to)
        return;
    Node &n = m_nodes[size_t(node)];
    StepCount &ch = n.channel[channel];
    for (const auto &[a, b] : ch.where(from, to, 0)) {
        n.load.add(a, b, 1);
        if (size_t(channel) < m_channelNodes.size())
            m_channelNodes[size_t(channel)].add(a, b, 1);
    }
    ch.add(from, to, 1);
}

void CapacityBook::unplace(int node, int channel, qint64 from, qint64 to, bool archived)
{
    if (archived || from >= to)
        return;
    Node &n = m_nodes[size_t(node)];
    StepCount &ch = n.channel[channel];
    for (const auto &[a, b] : ch.where(from, to, 1)) {
        n.load.add(a, b, -1);
        if (size_t(channel) < m_channelNodes.size())
            m_channelNodes[size_t(channel)].add(a, b, -1);
    }
    ch.add(from, to, -1);
}

} // namespace iptv::dvr
