#include "commandqueue.h"

#include <algorithm>

namespace iptv::control {

void CommandQueue::load(const QList<CommandRow> &rows)
{
    m_live.clear();
    m_byBox.clear();
    m_counts = {};
    for (const CommandRow &r : rows)
        add(r);
}

void CommandQueue::add(const CommandRow &row)
{
    if (isFinal(row.state) || m_live.contains(row.id))
        return;
    LiveCommand c{row.id, row.batchId, row.boxId, row.expires, row.args, iptv::protocol::commandFromName(row.kind), row.state};
    m_live.insert(row.id, c);
    m_byBox[row.boxId].append(row.id);
    ++m_counts[size_t(row.state)];
}

LiveCommand *CommandQueue::find(qint64 id)
{
    const auto it = m_live.find(id);
    return it == m_live.end() ? nullptr : &*it;
}

QList<LiveCommand *> CommandQueue::forBox(qint64 boxId) const
{
    QList<LiveCommand *> out;
    const auto it = m_byBox.constFind(boxId);
    if (it == m_byBox.cend())
        return out;
    for (qint64 id : *it) {
        const auto c = m_live.constFind(id);
        if (c != m_live.cend())
            out.append(const_cast<LiveCommand *>(&*c));
    }
    return out;
}

bool CommandQueue::setState(qint64 id, CommandState state)
{
    const auto it = m_live.find(id);
    if (it == m_live.end())
        return false;
    --m_counts[size_t(it->state)];
    if (isFinal(state)) {
        remove(id);
        return true;
    }
    it->state = state;
    ++m_counts[size_t(state)];
    return true;
}

void CommandQueue::remove(qint64 id)
{
    const auto it = m_live.find(id);
    if (it == m_live.end())
        return;
    const qint64 box = it->boxId;
    m_live.erase(it);
    const auto b = m_byBox.find(box);
    if (b != m_byBox.end()) {
        b->removeOne(id);
        if (b->isEmpty())
            m_byBox.erase(b);
    }
}

QList<LiveCommand> CommandQueue::takeExpired(qint64 now)
{
    QList<LiveCommand> out;
    for (const LiveCommand &c : std::as_const(m_live)) {
        if (c.expires <= now)
            out.append(c);
    }
    for (const LiveCommand &c : std::as_const(out)) {
        --m_counts[size_t(c.state)];
        remove(c.id);
    }
    return out;
}

} // namespace iptv::control
