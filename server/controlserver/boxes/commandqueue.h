#pragma once

// Commands not yet final, in memory: what to deliver to a box when it (re)connects, what to
// expire, counts by state for /metrics. The store holds every command; this holds only the live
// ones, with the arguments of a batch shared (one QByteArray for a command sent to 19,000 boxes).

#include "store/store.h"

#include <protocol/message.h>

#include <QHash>
#include <QList>

#include <array>

namespace iptv::control {

struct LiveCommand
{
    qint64 id = 0;
    qint64 batchId = 0;
    qint64 boxId = 0;
    qint64 expires = 0;
    QByteArray args; ///< CBOR map, implicitly shared within a batch
    iptv::protocol::CommandKind kind = iptv::protocol::CommandKind::Unknown;
    CommandState state = CommandState::Queued;
};

class CommandQueue
{
public:
    void load(const QList<CommandRow> &rows);
    void add(const CommandRow &row);
    LiveCommand *find(qint64 id);
    /// The box's live commands in id order.
    QList<LiveCommand *> forBox(qint64 boxId) const;
    /// Moves a command to `state`; final states remove it. False when it is not live.
    bool setState(qint64 id, CommandState state);
    /// Removes and returns the commands whose expiry is at or before `now`.
    QList<LiveCommand> takeExpired(qint64 now);
    qint64 count(CommandState s) const { return m_counts[size_t(s)]; }
    qsizetype size() const { return m_live.size(); }

private:
    void remove(qint64 id);
    QHash<qint64, LiveCommand> m_live;
    QHash<qint64, QList<qint64>> m_byBox;
    std::array<qint64, kCommandStateCount> m_counts{};
};

} // namespace iptv::control
