#pragma once

// The bookkeeping both ends of the lean WebSocket endpoint share (ws::Server, ws::ClientPool):
// connection records indexed by descriptor, ids that stay unique when the kernel reuses a
// descriptor, finished records kept until the current dispatch (or signal handler) is over, and
// the epoll drain loop. Internal to libs/wsserver.

#include "wsframe.h"

#include <QMetaObject>
#include <QObject>

#include <sys/epoll.h>
#include <unistd.h>

#include <vector>

namespace iptv::ws {

/// (generation << 32) | descriptor: stays unique when the kernel reuses a descriptor.
using ConnectionId = quint64;

/// `Conn` has `int fd`, `quint32 generation` and `bool dead() const`.
template<typename Conn>
class ConnectionTable
{
public:
    ConnectionTable() = default;
    ConnectionTable(const ConnectionTable &) = delete;
    ConnectionTable &operator=(const ConnectionTable &) = delete;
    ~ConnectionTable()
    {
        for (Conn *c : m_byFd) {
            if (c) {
                ::close(c->fd);
                delete c;
            }
        }
        releaseRetired();
    }

    static ConnectionId idOf(const Conn *c) { return (ConnectionId(c->generation) << 32) | quint32(c->fd); }

    /// A fresh generation, never 0 (which a server keeps for its listening socket).
    quint32 nextGeneration() { return ++m_generation == 0 ? ++m_generation : m_generation; }

    /// Takes `c` in under its descriptor (its generation already set).
    void add(Conn *c)
    {
        if (size_t(c->fd) >= m_byFd.size())
            m_byFd.resize(size_t(c->fd) + 1024, nullptr);
        m_byFd[size_t(c->fd)] = c;
        ++m_count;
    }

    /// The live connection of `id`, or null (unknown, finished, or its descriptor reused).
    Conn *find(ConnectionId id) const
    {
        const auto fd = size_t(quint32(id));
        if (fd >= m_byFd.size())
            return nullptr;
        Conn *c = m_byFd[fd];
        return c && c->generation == quint32(id >> 32) && !c->dead() ? c : nullptr;
    }

    /// Takes `c` out of the table and frees it later: the caller may be inside a callback of this
    /// very connection. During a dispatch the dispatch frees it; otherwise one queued call on
    /// `context` frees every record retired before it runs (a storm, closeAll).
    void retire(Conn *c, QObject *context)
    {
        m_byFd[size_t(c->fd)] = nullptr;
        --m_count;
        m_retired.push_back(c);
        if (!m_dispatching && m_retired.size() == 1) {
            QMetaObject::invokeMethod(context, [this]() {
                if (!m_dispatching)
                    releaseRetired();
            }, Qt::QueuedConnection);
        }
    }

    /// Drains `epoll` (without waiting) in rounds of 256 events, 8 rounds at most so the rest of
    /// the event loop gets its turn, handing each event to `handle`; then `afterwards()`, then the
    /// records retired meanwhile are freed.
    template<typename Handle, typename After>
    void dispatch(int epoll, Handle handle, After afterwards)
    {
        constexpr int EventsPerRound = 256;
        constexpr int MaxRounds = 8;
        m_dispatching = true;
        epoll_event events[EventsPerRound];
        for (int round = 0; round < MaxRounds; ++round) {
            const int n = epoll_wait(epoll, events, EventsPerRound, 0);
            for (int i = 0; i < n; ++i)
                handle(events[i]);
            if (n < EventsPerRound)
                break;
        }
        m_dispatching = false;
        afterwards();
        releaseRetired();
    }

    bool dispatching() const { return m_dispatching; }
    int count() const { return m_count; }
    /// Every slot, live or empty (null), for sweeps.
    const std::vector<Conn *> &slots() const { return m_byFd; }

private:
    void releaseRetired()
    {
        for (Conn *c : m_retired)
            delete c;
        m_retired.clear();
    }

    std::vector<Conn *> m_byFd;
    std::vector<Conn *> m_retired;
    quint32 m_generation = 0;
    int m_count = 0;
    bool m_dispatching = false;
};

} // namespace iptv::ws
