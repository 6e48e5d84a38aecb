#pragma once

// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
// text exposition format (version 0.0.4) for a /metrics endpoint.
//
// Metric handles are created once (or looked up per label set) and are stable for the life of
// the registry, so hot paths keep a pointer and update it lock-free; only creation, histogram
// observations and rendering take the registry's mutex.

#include <QByteArray>
#include <QList>
#include <QMutex>
#include <QPair>
#include <QString>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace iptv {

/// Label name/value pairs, in the order they are printed.
using MetricLabels = QList<QPair<QString, QString>>;

class Counter
{
public:
    void increment(double by = 1.0) { m_value.fetch_add(by, std::memory_order_relaxed); }
    double value() const { return m_value.load(std::memory_order_relaxed); }

private:
    std::atomic<double> m_value{0.0};
};

class Gauge
{
public:
    void set(double value) { m_value.store(value, std::memory_order_relaxed); }
    void add(double by) { m_value.fetch_add(by, std::memory_order_relaxed); }
    double value() const { return m_value.load(std::memory_order_relaxed); }

private:
    std::atomic<double> m_value{0.0};
};

class Histogram
{
public:
    explicit Histogram(QList<double> upperBounds);
    void observe(double value);

    struct Snapshot
    {
        QList<double> upperBounds;
        QList<quint64> cumulativeCounts; ///< one per bound, then +Inf
        double sum = 0;
        quint64 count = 0;
    };
    Snapshot snapshot() const;

private:
    mutable QMutex m_mutex;
    QList<double> m_bounds;
    QList<quint64> m_counts; ///< per bucket (not cumulative), last is +Inf
    double m_sum = 0;
    quint64 m_count = 0;
};

class MetricsRegistry
{
public:
    MetricsRegistry();
    ~MetricsRegistry();
    MetricsRegistry(const MetricsRegistry &) = delete;
    MetricsRegistry &operator=(const MetricsRegistry &) = delete;

    /// Returns the counter of family `name` with `labels`, creating family and series as needed.
    /// The help text of the first call wins. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*.
    Counter *counter(const QString &name, const QString &help, const MetricLabels &labels = {});
    Gauge *gauge(const QString &name, const QString &help, const MetricLabels &labels = {});
    Histogram *histogram(const QString &name, const QString &help, const QList<double> &upperBounds,
                         const MetricLabels &labels = {});
    /// A gauge whose value is read when the registry is rendered (e.g. a queue length).
    void gaugeCallback(const QString &name, const QString &help, std::function<double()> read,
                       const MetricLabels &labels = {});

    /// The whole registry in Prometheus text format, families sorted by name.
    QByteArray render() const;

    /// Latency buckets in seconds suited to an HTTP server answering from memory.
    static QList<double> defaultLatencyBuckets();

private:
    enum class Type { Counter, Gauge, Histogram };
    struct Series
    {
        MetricLabels labels;
        std::unique_ptr<Counter> counter;
        std::unique_ptr<Gauge> gauge;
        std::unique_ptr<Histogram> histogram;
        std::function<double()> callback;
    };
    struct Family
    {
        Type type = Type::Counter;
        QString help;
        std::map<QString, Series> series; // keyed by rendered label set
    };
    Series *series(const QString &name, const QString &help, Type type, const MetricLabels &labels);

    mutable QMutex m_mutex;
    std::map<QString, Family> m_families;
};

/// Escapes a label value for the text format (backslash, quote, newline).
QString escapeMetricLabelValue(const QString &value);

} // namespace iptv
