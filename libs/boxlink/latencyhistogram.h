#pragma once

// Latency samples in log-spaced buckets (16 per doubling, ~4.4 % wide) from 1 µs to ~2 min:
// constant memory whatever the sample count, and histograms of several processes merge by adding
// counts (fleetsim's parent aggregates its children this way).

#include <QJsonArray>
#include <QtGlobal>

#include <array>

namespace iptv::boxlink {

class LatencyHistogram
{
public:
    static constexpr int BucketsPerDoubling = 16;
    static constexpr int Buckets = 27 * BucketsPerDoubling; // 2^27 µs ≈ 134 s

    void add(qint64 micros);
    void merge(const LatencyHistogram &other);
    quint64 count() const { return m_count; }
    /// The value below which `fraction` (0..1) of the samples fall, in milliseconds; 0 when empty.
    double percentileMs(double fraction) const;
    double maxMs() const { return double(m_maxUs) / 1000.0; }
    double meanMs() const { return m_count ? double(m_sumUs) / double(m_count) / 1000.0 : 0.0; }

    /// Sparse [[bucket, count], ...] plus totals, for passing between processes.
    QJsonArray toJson() const;
    static LatencyHistogram fromJson(const QJsonArray &json);

private:
    static int bucketFor(qint64 micros);
    static double upperUs(int bucket);

    std::array<quint64, Buckets> m_counts{};
    quint64 m_count = 0;
    qint64 m_sumUs = 0;
    qint64 m_maxUs = 0;
};

} // namespace iptv::boxlink
