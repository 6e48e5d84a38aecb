#include "latencyhistogram.h"

#include <QJsonValue>

#include <algorithm>
#include <cmath>

namespace iptv::boxlink {

int LatencyHistogram::bucketFor(qint64 micros)
{
    if (micros <= 1)
        return 0;
    const int b = int(std::ceil(std::log2(double(micros)) * BucketsPerDoubling));
    return std::clamp(b, 0, Buckets - 1);
}

double LatencyHistogram::upperUs(int bucket)
{
    return std::exp2(double(bucket) / BucketsPerDoubling);
}

void LatencyHistogram::add(qint64 micros)
{
    micros = std::max<qint64>(0, micros);
    ++m_counts[size_t(bucketFor(micros))];
    ++m_count;
    m_sumUs += micros;
    m_maxUs = std::max(m_maxUs, micros);
}

void LatencyHistogram::merge(const LatencyHistogram &other)
{
    for (int i = 0; i < Buckets; ++i)
        m_counts[size_t(i)] += other.m_counts[size_t(i)];
    m_count += other.m_count;
    m_sumUs += other.m_sumUs;
    m_maxUs = std::max(m_maxUs, other.m_maxUs);
}

double LatencyHistogram::percentileMs(double fraction) const
{
    if (m_count == 0)
        return 0;
    const auto rank = quint64(std::ceil(std::clamp(fraction, 0.0, 1.0) * double(m_count)));
    quint64 seen = 0;
    for (int i = 0; i < Buckets; ++i) {
        seen += m_counts[size_t(i)];
        if (seen >= std::max<quint64>(rank, 1))
            return std::min(upperUs(i), double(m_maxUs)) / 1000.0;
    }
    return maxMs();
}

QJsonArray LatencyHistogram::toJson() const
{
    QJsonArray out{double(m_count), double(m_sumUs), double(m_maxUs)};
    for (int i = 0; i < Buckets; ++i) {
        if (m_counts[size_t(i)])
            out.append(QJsonArray{i, double(m_counts[size_t(i)])});
    }
    return out;
}

LatencyHistogram LatencyHistogram::fromJson(const QJsonArray &json)
{
    LatencyHistogram h;
    if (json.size() < 3)
        return h;
    h.m_count = quint64(json.at(0).toDouble());
    h.m_sumUs = qint64(json.at(1).toDouble());
    h.m_maxUs = qint64(json.at(2).toDouble());
    for (qsizetype i = 3; i < json.size(); ++i) {
        const QJsonArray pair = json.at(i).toArray();
        const int bucket = pair.at(0).toInt(-1);
        if (bucket >= 0 && bucket < Buckets)
            h.m_counts[size_t(bucket)] = quint64(pair.at(1).toDouble());
    }
    return h;
}

} // namespace iptv::boxlink
