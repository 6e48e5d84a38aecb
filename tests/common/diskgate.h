#pragma once

// A disk that stalls on demand, for the recorder's tests: its probe() stands in for a recorder's
// free-space probe (Recorder::setFreeSpace), which the writer thread asks before every segment
// when a minimum of free space is set. While the gate is closed the writer waits there, as on a
// disk whose fsync takes seconds. A gate left closed opens by itself after `maxClosedMs`: a test
// that fails does not hang.

#include <QtGlobal>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace testutil {

class DiskGate
{
public:
    explicit DiskGate(int maxClosedMs = 20000) : m_maxClosed(maxClosedMs) {}

    void close()
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
    }
    void open()
    {
        {
            std::lock_guard lock(m_mutex);
            m_closed = false;
        }
        m_cv.notify_all();
    }
    /// Writers waiting at the gate now.
    int waiting() const
    {
        std::lock_guard lock(m_mutex);
        return m_waiting;
    }
    /// The free-space probe: plenty, once the gate lets the writer through.
    qint64 probe()
    {
        std::unique_lock lock(m_mutex);
        ++m_waiting;
        if (!m_cv.wait_for(lock, m_maxClosed, [this] { return !m_closed; }))
            m_closed = false; // left closed too long: open for good
        --m_waiting;
        return qint64(1) << 40;
    }

private:
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    std::chrono::milliseconds m_maxClosed;
    bool m_closed = false;
    int m_waiting = 0;
};

} // namespace testutil
