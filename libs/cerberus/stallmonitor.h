#pragma once

// Watches how long the UI thread's event loop is held: a precise timer asks to run every
// `interval` ms and records how late it ran. Lateness is what an operator feels as a frozen
// window (a p99 above ~50 ms shows).

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QTimer>

namespace iptv::cerberus {

class StallMonitor : public QObject
{
    Q_OBJECT
public:
    explicit StallMonitor(int intervalMs = 10, QObject *parent = nullptr);
    void start();
    void stop();
    void reset();
    int samples() const { return int(m_late.size()); }
    /// Lateness percentile in ms (p in 0..1).
    double percentile(double p) const;
    double maxMs() const;
    /// "p50 0.4 / p99 12.0 / max 31.5 ms over 6000 ticks".
    QString summary() const;

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    QList<float> m_late;
    int m_interval;
};

} // namespace iptv::cerberus
