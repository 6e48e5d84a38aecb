#pragma once

// One timer for many clients. A box needs a handful of deadlines (reconnect, ping, dead peer,
// telemetry); with a QTimer each, 19,000 simulated boxes would register ~76,000 timers with the
// event dispatcher, whose timer list is kept sorted on every start. Here each client has one
// "wake me no later than" deadline in a min-heap, and one QTimer is armed for the earliest.

#include <QObject>
#include <QTimer>

#include <vector>

namespace iptv::boxlink {

/// Something with deadlines. It is woken at (or after) the time it asked for and must tolerate
/// being woken early: it checks what is due and asks again for the next one.
class DeadlineClient
{
public:
    virtual ~DeadlineClient() = default;
    virtual void deadlineReached(qint64 nowMs) = 0;
};

class DeadlineScheduler : public QObject
{
    Q_OBJECT

public:
    explicit DeadlineScheduler(QObject *parent = nullptr);
    ~DeadlineScheduler() override;

    /// Milliseconds on a monotonic clock shared by every scheduler of the process.
    static qint64 now();
    /// Microseconds on the same clock, for latency measurements.
    static qint64 nowUs();

    using Handle = quint32;
    Handle add(DeadlineClient *client);
    /// The client is never called again; its handle may be reused.
    void remove(Handle handle);
    /// Wake the client no later than `whenMs` (monotonic, see now()). A later time than one
    /// already asked for keeps the earlier wake-up (the client re-asks when woken), so moving a
    /// deadline forward on every received message costs nothing.
    void schedule(Handle handle, qint64 whenMs);

    qsizetype clientCount() const { return qsizetype(m_slots.size() - m_free.size()); }
    qsizetype queuedEntries() const { return qsizetype(m_heap.size()); }

private:
    struct Entry
    {
        qint64 when;
        Handle handle;
        quint32 generation;
    };
    struct Slot
    {
        DeadlineClient *client = nullptr;
        quint32 generation = 0;
        qint64 when = -1; ///< the live entry's time; -1 = none
    };
    static bool later(const Entry &a, const Entry &b) { return a.when > b.when; }
    void fire();
    void arm();

    std::vector<Entry> m_heap; // min-heap on `when`, with stale entries skipped when popped
    std::vector<Slot> m_slots;
    std::vector<Handle> m_free;
    std::vector<std::pair<Handle, quint32>> m_due; // reused between fires
    QTimer m_timer;
    qint64 m_armedFor = -1;
};

} // namespace iptv::boxlink
