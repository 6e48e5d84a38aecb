#include "deadlinescheduler.h"

#include <QElapsedTimer>

#include <algorithm>

namespace iptv::boxlink {

namespace {
const QElapsedTimer &clock()
{
    static const QElapsedTimer s_clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return s_clock;
}
} // namespace

DeadlineScheduler::DeadlineScheduler(QObject *parent) : QObject(parent)
{
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &DeadlineScheduler::fire);
}

DeadlineScheduler::~DeadlineScheduler() = default;

qint64 DeadlineScheduler::now()
{
    return clock().elapsed();
}

qint64 DeadlineScheduler::nowUs()
{
    return clock().nsecsElapsed() / 1000;
}

DeadlineScheduler::Handle DeadlineScheduler::add(DeadlineClient *client)
{
    Handle handle;
    if (!m_free.empty()) {
        handle = m_free.back();
        m_free.pop_back();
    } else {
        handle = Handle(m_slots.size());
        m_slots.emplace_back();
    }
    Slot &slot = m_slots[handle];
    slot.client = client;
    slot.when = -1;
    return handle;
}

void DeadlineScheduler::remove(Handle handle)
{
    if (handle >= m_slots.size() || !m_slots[handle].client)
        return;
    Slot &slot = m_slots[handle];
    slot.client = nullptr;
    slot.when = -1;
    ++slot.generation; // its queued entries become stale
    m_free.push_back(handle);
}

void DeadlineScheduler::schedule(Handle handle, qint64 whenMs)
{
    if (handle >= m_slots.size() || !m_slots[handle].client)
        return;
    Slot &slot = m_slots[handle];
    if (slot.when >= 0 && slot.when <= whenMs)
        return;
    ++slot.generation; // an earlier wake-up replaces the queued one
    slot.when = whenMs;
    m_heap.push_back({whenMs, handle, slot.generation});
    std::push_heap(m_heap.begin(), m_heap.end(), later);
    if (m_armedFor < 0 || whenMs < m_armedFor)
        arm();
}

void DeadlineScheduler::arm()
{
    // Stale entries at the top would arm the timer for nothing.
    while (!m_heap.empty()) {
        const Entry &top = m_heap.front();
        if (m_slots[top.handle].client && m_slots[top.handle].generation == top.generation)
            break;
        std::pop_heap(m_heap.begin(), m_heap.end(), later);
        m_heap.pop_back();
    }
    if (m_heap.empty()) {
        m_timer.stop();
        m_armedFor = -1;
        return;
    }
    m_armedFor = m_heap.front().when;
    m_timer.start(int(std::clamp<qint64>(m_armedFor - now(), 0, 24 * 3600 * 1000)));
}

void DeadlineScheduler::fire()
{
    const qint64 t = now();
    m_armedFor = -1;
    // Collect first, call after: a client that asks for "now" again is served on the next fire,
    // not in an endless loop here.
    m_due.clear();
    while (!m_heap.empty() && m_heap.front().when <= t) {
        const Entry e = m_heap.front();
        std::pop_heap(m_heap.begin(), m_heap.end(), later);
        m_heap.pop_back();
        Slot &slot = m_slots[e.handle];
        if (!slot.client || slot.generation != e.generation)
            continue;
        slot.when = -1;
        m_due.emplace_back(e.handle, e.generation);
    }
    // The generation guards against a client removed (and its handle reused) by an earlier callback.
    for (const auto &[h, generation] : m_due) {
        if (h < m_slots.size() && m_slots[h].client && m_slots[h].generation == generation)
            m_slots[h].client->deadlineReached(t);
    }
    arm();
}

} // namespace iptv::boxlink
