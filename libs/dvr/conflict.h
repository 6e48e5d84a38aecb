#pragma once

// Capacity bookkeeping for the scheduler: which recordings each recorder node holds over time
// and whether one more fits.
//
// The unit of capacity is a channel stream on a node: a node records at most `capacity` distinct
// channels at any instant. Recordings of the same channel on the same node at overlapping times
// (two viewers' rules, or back-to-back programmes whose padding overlaps) are one stream and one
// stored copy, so they cost capacity once. Channels kept in a permanent archive cost nothing: the
// archive records them anyway. A channel may also be limited in how many nodes pull it at once
// (a source with a connection limit): `channelStreamLimit`, 0 = no limit.

#include <QList>
#include <QSet>
#include <QString>
#include <QtGlobal>

#include <map>
#include <vector>

namespace iptv::dvr {

/// A piecewise-constant count over time: value(t) is the value at the greatest key <= t (0 before).
class StepCount
{
public:
    void add(qint64 from, qint64 to, int delta);
    int max(qint64 from, qint64 to) const;
    /// Sub-intervals of [from, to) where the count equals `value`, merged.
    std::vector<std::pair<qint64, qint64>> where(qint64 from, qint64 to, int value) const;
    bool isEmpty() const { return m_steps.empty(); }

private:
    void split(qint64 t);
    std::map<qint64, int> m_steps;
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

/// The recordings placed so far, per node and channel.
class CapacityBook
{
public:
    explicit CapacityBook(const CapacityOptions &options, int channelCount);

    /// The node a recording of `channel` over [from, to) would go to, or -1 when it fits nowhere.
    /// Order of preference: a node already streaming the channel over part of the range (no or
    /// less extra cost), then the node with the most free streams over the range, then the first.
    int choose(int channel, qint64 from, qint64 to, bool archived) const;
    bool fits(int node, int channel, qint64 from, qint64 to, bool archived) const;
    void place(int node, int channel, qint64 from, qint64 to, bool archived);
    void unplace(int node, int channel, qint64 from, qint64 to, bool archived);
    int nodeCount() const { return int(m_nodes.size()); }
    /// Highest count of streams on `node` over [from, to).
    int load(int node, qint64 from, qint64 to) const { return m_nodes[size_t(node)].load.max(from, to); }

private:
    struct Node
    {
        int capacity = 0;
        StepCount load;                   ///< distinct channels streaming
        std::map<int, StepCount> channel; ///< recordings per channel
    };
    std::vector<Node> m_nodes;
    std::vector<StepCount> m_channelNodes; ///< nodes streaming each channel
    int m_channelLimit = 0;
};

} // namespace iptv::dvr
