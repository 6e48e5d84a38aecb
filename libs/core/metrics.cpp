#include "metrics.h"

#include <QLocale>
#include <QLoggingCategory>
#include <QMutexLocker>

#include <algorithm>
#include <cmath>

Q_LOGGING_CATEGORY(lcMetrics, "iptv.core.metrics")

namespace iptv {

namespace {

QString renderLabels(const MetricLabels &labels, const QString &extraName = {}, const QString &extraValue = {})
{
    if (labels.isEmpty() && extraName.isEmpty())
        return {};
    QString out = QStringLiteral("{");
    bool first = true;
    for (const auto &[key, value] : labels) {
        if (!first)
            out += u',';
        first = false;
        out += key + u"=\"" + escapeMetricLabelValue(value) + u'"';
    }
    if (!extraName.isEmpty()) {
        if (!first)
            out += u',';
        out += extraName + u"=\"" + extraValue + u'"';
    }
    out += u'}';
    return out;
}

QString formatValue(double v)
{
    if (std::isnan(v))
        return QStringLiteral("NaN");
    if (std::isinf(v))
        return v > 0 ? QStringLiteral("+Inf") : QStringLiteral("-Inf");
    // Integers print without an exponent so counters stay readable and exact up to 2^53.
    if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
        return QString::number(qint64(v));
    return QString::number(v, 'g', QLocale::FloatingPointShortest);
}

bool validName(const QString &name)
{
    if (name.isEmpty())
        return false;
    for (qsizetype i = 0; i < name.size(); ++i) {
        const QChar c = name.at(i);
        const bool ok = (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || c == u'_' || c == u':'
            || (i > 0 && c >= u'0' && c <= u'9');
        if (!ok)
            return false;
    }
    return true;
}

} // namespace

QString escapeMetricLabelValue(const QString &value)
{
    QString out;
    out.reserve(value.size());
    for (const QChar c : value) {
        if (c == u'\\')
            out += u"\\\\";
        else if (c == u'"')
            out += u"\\\"";
        else if (c == u'\n')
            out += u"\\n";
        else
            out += c;
    }
    return out;
}

Histogram::Histogram(QList<double> upperBounds)
    : m_bounds(std::move(upperBounds))
{
    std::sort(m_bounds.begin(), m_bounds.end());
    m_counts.fill(0, m_bounds.size() + 1);
}

void Histogram::observe(double value)
{
    QMutexLocker lock(&m_mutex);
    qsizetype bucket = std::lower_bound(m_bounds.cbegin(), m_bounds.cend(), value) - m_bounds.cbegin();
    ++m_counts[bucket];
    m_sum += value;
    ++m_count;
}

Histogram::Snapshot Histogram::snapshot() const
{
    QMutexLocker lock(&m_mutex);
    Snapshot s;
    s.upperBounds = m_bounds;
    quint64 running = 0;
    for (quint64 c : m_counts) {
        running += c;
        s.cumulativeCounts.append(running);
    }
    s.sum = m_sum;
    s.count = m_count;
    return s;
}

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

QList<double> MetricsRegistry::defaultLatencyBuckets()
{
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

MetricsRegistry::Series *MetricsRegistry::series(const QString &name, const QString &help, Type type,
                                                 const MetricLabels &labels)
{
    if (!validName(name))
        qCWarning(lcMetrics) << "invalid metric name" << name;
    auto famIt = m_families.find(name);
    if (famIt == m_families.end()) {
        Family fam;
        fam.type = type;
        fam.help = help;
        famIt = m_families.emplace(name, std::move(fam)).first;
    } else if (famIt->second.type != type) {
        // A programming error; keep going with a series that is updated but never rendered
        // rather than crash a server over its metrics.
        qCWarning(lcMetrics) << "metric" << name << "registered twice with different types";
        static thread_local std::map<QString, Series> s_orphans;
        return &s_orphans[name + renderLabels(labels)];
    }
    const QString key = renderLabels(labels);
    auto &seriesMap = famIt->second.series;
    auto it = seriesMap.find(key);
    if (it == seriesMap.end()) {
        Series s;
        s.labels = labels;
        it = seriesMap.emplace(key, std::move(s)).first;
    }
    return &it->second;
}

Counter *MetricsRegistry::counter(const QString &name, const QString &help, const MetricLabels &labels)
{
    QMutexLocker lock(&m_mutex);
    Series *s = series(name, help, Type::Counter, labels);
    if (!s->counter)
        s->counter = std::make_unique<Counter>();
    return s->counter.get();
}

Gauge *MetricsRegistry::gauge(const QString &name, const QString &help, const MetricLabels &labels)
{
    QMutexLocker lock(&m_mutex);
    Series *s = series(name, help, Type::Gauge, labels);
    if (!s->gauge)
        s->gauge = std::make_unique<Gauge>();
    return s->gauge.get();
}

Histogram *MetricsRegistry::histogram(const QString &name, const QString &help,
                                      const QList<double> &upperBounds, const MetricLabels &labels)
{
    QMutexLocker lock(&m_mutex);
    Series *s = series(name, help, Type::Histogram, labels);
    if (!s->histogram)
        s->histogram = std::make_unique<Histogram>(upperBounds);
    return s->histogram.get();
}

void MetricsRegistry::gaugeCallback(const QString &name, const QString &help, std::function<double()> read,
                                    const MetricLabels &labels)
{
    QMutexLocker lock(&m_mutex);
    Series *s = series(name, help, Type::Gauge, labels);
    s->callback = std::move(read);
}

QByteArray MetricsRegistry::render() const
{
    QMutexLocker lock(&m_mutex);
    QString out;
    for (const auto &[name, fam] : m_families) {
        const char *type = fam.type == Type::Counter ? "counter" : fam.type == Type::Gauge ? "gauge" : "histogram";
        QString help = fam.help;
        help.replace(u'\\', QStringLiteral("\\\\")).replace(u'\n', QStringLiteral("\\n"));
        out += u"# HELP " + name + u' ' + help + u'\n';
        out += u"# TYPE " + name + u' ' + QLatin1String(type) + u'\n';
        for (const auto &[key, s] : fam.series) {
            switch (fam.type) {
            case Type::Counter:
                out += name + key + u' ' + formatValue(s.counter ? s.counter->value() : 0) + u'\n';
                break;
            case Type::Gauge: {
                const double v = s.callback ? s.callback() : s.gauge ? s.gauge->value() : 0;
                out += name + key + u' ' + formatValue(v) + u'\n';
                break;
            }
            case Type::Histogram: {
                if (!s.histogram)
                    break;
                const auto snap = s.histogram->snapshot();
                for (qsizetype i = 0; i < snap.upperBounds.size(); ++i) {
                    out += name + u"_bucket" + renderLabels(s.labels, QStringLiteral("le"), formatValue(snap.upperBounds[i]))
                        + u' ' + QString::number(snap.cumulativeCounts[i]) + u'\n';
                }
                out += name + u"_bucket" + renderLabels(s.labels, QStringLiteral("le"), QStringLiteral("+Inf")) + u' '
                    + QString::number(snap.count) + u'\n';
                out += name + u"_sum" + key + u' ' + formatValue(snap.sum) + u'\n';
                out += name + u"_count" + key + u' ' + QString::number(snap.count) + u'\n';
                break;
            }
            }
        }
    }
    return out.toUtf8();
}

} // namespace iptv
