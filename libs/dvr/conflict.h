#pragma once

// Capacity bookkeeping for the scheduler: which recordings each recorder node holds over time
// and whether one more fits.
//
// The unit of capacity is a channel stream on a node: a node records at most `capacity` distinct
// channels at any moment. Recordings of the same channel on the same node at overlapping times
// (two viewers' rules, or back-to-back programmes whose padding overlaps) are one stream and one
// stored copy, so they cost capacity once. Channels kept in a permanent archive cost nothing: the
// archive records them anyway. A channel may also be limited in how many nodes pull it at once
// (a source with a connection limit): `channelStreamLimit`, 0 = no limit.
//
// Time is counted in whole minutes from an origin (the plan's `now`): a recording occupies every
// minute it touches. Guide times are whole minutes, so this is exact for them; two recordings
// that meet inside one minute (padding in odd seconds) count as overlapping in that minute.

#include <QList>
#include <QSet>
#include <QString>
#include <QVarLengthArray>
#include <QtGlobal>

#include <algorithm>
#include <climits>
#include <map>
#include <utility>
#include <vector>

namespace iptv::dvr {

/// Whether any of bits [from, to) is set (bit i: word i / 64, bit i % 64); bits past the end of
/// `bits` count as clear.
inline bool anyBitIn(const std::vector<quint64> &bits, quint32 from, quint32 to)
{
    to = std::min(to, quint32(bits.size()) * 64);
    if (from >= to)
        return false;
    const quint32 first = from / 64, last = (to - 1) / 64;
    const quint64 head = ~quint64(0) << (from % 64), tail = ~quint64(0) >> (63 - (to - 1) % 64);
    const quint64 *words = bits.data();
    if (first == last)
        return words[first] & head & tail;
    if (words[first] & head)
        return true;
    for (quint32 w = first + 1; w < last; ++w)
        if (words[w])
            return true;
    return words[last] & tail;
}

/// A piecewise-constant count over whole minutes: value(m) is the value at the greatest key <= m.
///
/// A channel recorded on a node most of the fortnight has hundreds of steps, and a fit check asks
/// about one airing's minutes, where it mostly streams nothing: blocks of `BlockMinutes` minutes
/// (from minute 0) where the count is not 0 are marked, so that such a question is answered from a
/// word or two, without searching the steps.
class StepCount
{
public:
    static constexpr int BlockShift = 4;
    static constexpr int BlockMinutes = 1 << BlockShift;

    void add(int from, int to, int delta);
    /// Sub-ranges of [from, to) where the count is 0, merged.
    /// Minute ranges, [from, to); inline for the few a recording's span has (no allocation).
    using Ranges = QVarLengthArray<std::pair<int, int>, 8>;
    Ranges zeros(int from, int to) const;
    bool isEmpty() const { return m_steps.empty(); }
    /// Whether the count is 0 over all of [from, to).
    bool isZero(int from, int to) const { return surelyZero(from, to) || stepsZero(from, to); }
    /// True when the blocks alone show the count is 0 over [from, to) (from >= 0, from < to):
    /// every block touching it is 0 throughout. False says nothing (a block may be non-zero only
    /// outside the range).
    bool surelyZero(int from, int to) const
    {
        return from >= 0 && from < to
            && !anyBitIn(m_nonZero, quint32(from) >> BlockShift, ((quint32(to) - 1) >> BlockShift) + 1);
    }
    /// Word `w` of the blocks' marks: bit k set when the count is not 0 somewhere in block
    /// 64 * w + k (the minutes from (64 * w + k) * BlockMinutes on).
    quint64 blockWord(size_t w) const { return w < m_nonZero.size() ? m_nonZero[w] : 0; }

private:
    bool stepsZero(int from, int to) const;
    /// m_nonZero made again for the blocks touching [from, to) from the steps.
    void markBlocks(int from, int to);

    std::vector<std::pair<int, int>> m_steps; ///< (minute, value from it on), by minute
    /// Bit k: the count is not 0 somewhere in minutes [k * BlockMinutes, (k + 1) * BlockMinutes);
    /// blocks past the end are 0 throughout.
    std::vector<quint64> m_nonZero;
};

struct RecorderNode
{
    QString id;
    int capacity = 4; ///< concurrent channel streams
};

struct CapacityOptions
{
    QList<RecorderNode> nodes = {RecorderNode{QStringLiteral("local"), 4}};
    QSet<QString> archivedChannels; ///< recorded permanently: recordings there cost no capacity
    int channelStreamLimit = 0;     ///< nodes pulling one channel at once; 0 = no limit
};

/// The recordings placed so far, per node and channel. Each placement carries an id (the
/// scheduler's episode number) so that conflicts can name what is in the way.
class CapacityBook
{
public:
    CapacityBook(const CapacityOptions &options, int channelCount, qint64 origin);

    /// The node a recording of `channel` over [from, to) would go to, or -1 when it fits nowhere.
    /// Order of preference: a node already streaming the channel over part of the range (less
    /// extra cost), then the node with the most free streams over the range, then the first.
    int choose(int channel, qint64 from, qint64 to, bool archived) const;
    /// Whether a recording of `channel` over [from, to) fits on some node: choose() >= 0, without
    /// finding the node it would prefer (no loads read past the first node where it fits).
    bool fitsSomewhere(int channel, qint64 from, qint64 to, bool archived) const;
    bool fits(int node, int channel, qint64 from, qint64 to, bool archived) const;
    /// False when a recording of `channel` over [from, to) that fits on no node now would still
    /// fit nowhere with placement `id` taken away (a cheap test before trying to move it; true
    /// means it might).
    bool mayFitWithout(int id, int channel, qint64 from, qint64 to) const;
    void place(int id, int node, int channel, qint64 from, qint64 to, bool archived);
    void unplace(int id);
    /// Placement `from` becomes placement `to` (same node, channel and span; `to` not placed):
    /// the book is then what unplace(from) and place(to, ...) make, without counting the load
    /// and the channel's streams out and in again.
    void rename(int from, int to);
    int nodeCount() const { return int(m_nodes.size()); }
    /// Makes room for channel keys up to `channelCount` (a guide change brought new channels).
    /// Optional: the fit checks take a channel the book has no row for as streamed nowhere, and
    /// place() adds the rows of the channel it places (on every node).
    void addChannels(int channelCount);
    /// The minutes a recording over [from, to) occupies, counted from the epoch (not the origin):
    /// the same for books with different origins. [first, second); empty when first >= second.
    std::pair<int, int> epochMinutes(qint64 from, qint64 to) const
    {
        const int base = int(m_origin / 60);
        return {base + minuteFrom(from), base + minuteTo(from, to)};
    }
    /// Ids of placements on other channels that cost capacity over [from, to), one per stream,
    /// ascending: the first `limit` streams found, node by node, hour by hour, and by id within an
    /// hour (so the answer depends only on what is placed, not on the order it was placed in).
    std::vector<int> overlapping(qint64 from, qint64 to, int exceptChannel, int limit) const;
    /// What an overlapping() answer read: every node before `node` over its whole range, and node
    /// `node` over the epoch minutes before `until` (the scan stopped there, `limit` streams
    /// found). A book whose placements changed in none of those minutes gives the same answer.
    /// The default is everything (an answer whose reach is not known).
    struct Reach
    {
        int node = INT_MAX;
        int until = INT_MAX;
    };
    /// overlapping(), and what the answer read (`reach`).
    std::vector<int> overlapping(qint64 from, qint64 to, int exceptChannel, int limit, Reach &reach) const;
    /// The same into `out` (its memory reused: a caller asking many times allocates once).
    void overlapping(qint64 from, qint64 to, int exceptChannel, int limit, Reach &reach, std::vector<int> &out) const;

private:
    struct Span
    {
        int from = 0, to = 0; ///< minutes from the origin, [from, to)
        int id = -1;
    };
    /// A placement as an hour's list holds it: what overlapping() reads, without a look-up.
    struct HourEntry
    {
        int id = -1, channel = -1;
        int from = 0, to = 0; ///< its span
    };
    struct Node
    {
        int capacity = 0;
        std::vector<quint16> load;                ///< distinct channels streaming, per minute
        /// Bit m: load[m] >= capacity (load.size() is a multiple of 64: a bit for every minute it
        /// holds). What a fit check reads: a range with a full minute is found from a few words,
        /// not from the maximum of its loads.
        std::vector<quint64> full;
        std::vector<StepCount> channel;           ///< recordings per channel and minute
        std::vector<std::vector<HourEntry>> byHour; ///< placements touching each hour, by ascending id
    };
    struct Placement
    {
        int node = -1, channel = -1;
        Span span;
        bool archived = false;
    };
    // Both ends go to the nearest minute, the same way: a recording that ends when the next begins
    // (to the second, as back-to-back airings and the guide's times are) never shares a minute with
    // it. Rounding the end up and the start down made such neighbours conflict on a one-stream node
    // whenever the times were not whole minutes. A recording holds at least the minute it starts in,
    // however short what is left of it is.
    int minuteFrom(qint64 t) const { return int(std::max<qint64>(0, (t - m_origin + 30) / 60)); }
    int minuteTo(qint64 from, qint64 to) const
    {
        const int end = int(std::max<qint64>(0, (to - m_origin + 30) / 60));
        return to > from ? std::max(end, minuteFrom(from) + 1) : end;
    }
    /// Sub-ranges of [from, to) where `node` does not stream `channel` yet.
    StepCount::Ranges fresh(const Node &n, int channel, int from, int to) const;
    /// The greatest load of `n` over [from, to), or at least `stopAt` once it reaches that.
    int maxLoad(const Node &n, int from, int to, int stopAt) const;
    /// Whether a minute of [from, to) (from, to >= 0) below load.size() is full on `n` (Node::full).
    static bool fullIn(const Node &n, int from, int to) { return anyBitIn(n.full, quint32(from), quint32(to)); }
    /// Whether a recording over [from, to) finds no stream free on `n`: maxLoad() >= capacity.
    static bool noRoom(const Node &n, int from, int to) { return n.capacity <= 0 || fullIn(n, from, to); }
    /// fits() in minutes: no full minute where `n` (index `node`) does not stream `channel` yet,
    /// and the channel's stream limit kept there.
    bool fitsOn(const Node &n, int node, int channel, int from, int to) const;
    /// True when the book-wide summaries show a recording of `channel` over [from, to) (from < to)
    /// fits on no node: a minute there is full on every node and no node streams the channel in
    /// any block the range touches. False says nothing.
    bool surelyFitsNowhere(int channel, int from, int to) const
    {
        if (!anyBitIn(m_fullEverywhere, quint32(from), quint32(to)))
            return false;
        return size_t(channel) >= m_streamsSomewhere.size()
            || !anyBitIn(m_streamsSomewhere[size_t(channel)], quint32(from) >> StepCount::BlockShift,
                         ((quint32(to) - 1) >> StepCount::BlockShift) + 1);
    }
    /// m_fullEverywhere and m_streamsSomewhere[channel] made again from the nodes over [from, to).
    void markSummaries(int channel, int from, int to);
    /// Whether the channel limit lets `node` start streaming `channel` over all of [from, to).
    bool withinChannelLimit(int node, int channel, int from, int to) const
    {
        return m_channelLimit <= 0 || withinSetChannelLimit(node, channel, from, to);
    }
    bool withinSetChannelLimit(int node, int channel, int from, int to) const;
    int nodesStreaming(int channel, int minute, int exceptNode) const;

    std::vector<Node> m_nodes;
    /// Bit m: minute m is full on every node (Node::full of them all; a node without streams is
    /// full in every minute). Most fit checks in a full book end here: see surelyFitsNowhere().
    std::vector<quint64> m_fullEverywhere;
    /// Per channel, StepCount's block marks of every node's count of it, or-ed: bit k clear when
    /// no node streams the channel in block k.
    std::vector<std::vector<quint64>> m_streamsSomewhere;
    std::vector<Placement> m_placements; ///< by id
    int m_channelLimit = 0;
    qint64 m_origin = 0;
};

} // namespace iptv::dvr
