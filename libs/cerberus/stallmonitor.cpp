#include "stallmonitor.h"

#include <algorithm>

namespace iptv::cerberus {

StallMonitor::StallMonitor(int intervalMs, QObject *parent)
    : QObject(parent), m_interval(intervalMs)
{
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, [this] {
        if (m_clock.isValid())
            m_late.append(float(std::max(0.0, m_clock.nsecsElapsed() / 1e6 - m_interval)));
        m_clock.restart();
    });
}

void StallMonitor::start()
{
    m_clock.invalidate();
    m_timer.start();
}

void StallMonitor::stop()
{
    m_timer.stop();
}

void StallMonitor::reset()
{
    m_late.clear();
    m_clock.invalidate();
}

double StallMonitor::percentile(double p) const
{
    if (m_late.isEmpty())
        return 0;
    QList<float> sorted = m_late;
    const auto k = std::min(sorted.size() - 1, qsizetype(p * double(sorted.size())));
    std::nth_element(sorted.begin(), sorted.begin() + k, sorted.end());
    return sorted.at(k);
}

double StallMonitor::maxMs() const
{
    return m_late.isEmpty() ? 0 : *std::max_element(m_late.cbegin(), m_late.cend());
}

QString StallMonitor::summary() const
{
    return QStringLiteral("p50 %1 / p99 %2 / max %3 ms over %4 ticks")
        .arg(percentile(0.5), 0, 'f', 1)
        .arg(percentile(0.99), 0, 'f', 1)
        .arg(maxMs(), 0, 'f', 1)
        .arg(m_late.size());
}

} // namespace iptv::cerberus
