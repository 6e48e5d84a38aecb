#include "eventlooplag.h"

#include "metrics.h"

#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcEventLoop, "iptv.core.eventloop", QtInfoMsg)

namespace iptv {

EventLoopLagMonitor::EventLoopLagMonitor(MetricsRegistry *metrics, const QString &prefix, QObject *parent)
    : QObject(parent), m_timer(this)
{
    if (metrics) {
        m_lag = metrics->histogram(prefix + u"_event_loop_lag_seconds"_qs,
                                   QStringLiteral("How much later than due a timer of the main event loop fired: what "
                                                  "blocked the loop (computation, synchronous I/O) that long."),
                                   {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
        m_max = metrics->gauge(prefix + u"_event_loop_lag_max_seconds"_qs,
                               QStringLiteral("The longest the main event loop was blocked since the start."));
    }
    // A single shot armed again each time: its lag is measured from when it was armed, not from
    // a schedule Qt may have moved on meanwhile. Precise: a coarse timer may fire 5% late by design.
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &EventLoopLagMonitor::fired);
    m_armed.start();
    m_timer.start(int(m_intervalNs / 1'000'000));
}

void EventLoopLagMonitor::setInterval(int milliseconds)
{
    m_intervalNs = qint64(milliseconds) * 1'000'000;
    m_armed.start();
    m_timer.start(milliseconds);
}

void EventLoopLagMonitor::fired()
{
    const qint64 lagNs = qMax<qint64>(0, m_armed.nsecsElapsed() - m_intervalNs);
    const double seconds = double(lagNs) / 1e9;
    if (m_lag)
        m_lag->observe(seconds);
    if (lagNs > m_maxNs) {
        m_maxNs = lagNs;
        if (m_max)
            m_max->set(seconds);
    }
    if (lagNs >= m_warnNs) {
        qCWarning(lcEventLoop).noquote() << QStringLiteral("the event loop was blocked for %1 s (a timer due in %2 ms fired that late):"
                                                           " timers, sockets and requests waited")
                                                .arg(seconds, 0, 'f', 1)
                                                .arg(m_intervalNs / 1'000'000);
        Q_EMIT stalled(seconds);
    }
    m_armed.start();
    m_timer.start(int(m_intervalNs / 1'000'000));
}

} // namespace iptv
