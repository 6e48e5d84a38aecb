#pragma once

// How late a thread's event loop runs its timers: the measure of everything that blocks it (a
// long computation, a synchronous database write, a disk scan), whatever it is. A timer due every
// `interval` is armed again each time it fires; how much later than due it fired is the lag.
// The lags go to <prefix>_event_loop_lag_seconds (a histogram) and the longest so far to
// <prefix>_event_loop_lag_max_seconds; a lag of a second or more is logged as a warning with its
// length (iptv.core.eventloop), so a stall shows in the log next to what ran at that time.

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QTimer>

namespace iptv {

class Gauge;
class Histogram;
class MetricsRegistry;

class EventLoopLagMonitor : public QObject
{
    Q_OBJECT
public:
    /// Measures the loop of the thread it lives in; metrics go to `metrics` (may be null) as
    /// <prefix>_event_loop_lag_... Starts at once.
    EventLoopLagMonitor(MetricsRegistry *metrics, const QString &prefix, QObject *parent = nullptr);

    /// How often the timer is due (default 250 ms; the lag's resolution).
    void setInterval(int milliseconds);
    /// Lags from this long on are logged as warnings (default 1000 ms).
    void setWarningThreshold(int milliseconds) { m_warnNs = qint64(milliseconds) * 1'000'000; }

    /// The longest lag seen so far, in seconds.
    double maxLagSeconds() const { return double(m_maxNs) / 1e9; }

Q_SIGNALS:
    /// The loop did not run for `seconds` (at least the warning threshold).
    void stalled(double seconds);

private:
    void fired();

    QTimer m_timer;
    QElapsedTimer m_armed;
    Histogram *m_lag = nullptr;
    Gauge *m_max = nullptr;
    qint64 m_intervalNs = 250'000'000;
    qint64 m_warnNs = 1'000'000'000;
    qint64 m_maxNs = 0;
};

} // namespace iptv
