#include "diagnostics.h"

#include <QFile>
#include <QLocale>

#include <algorithm>

namespace iptv::hubris {

namespace {
/// A longer pause between two frames is the window at rest, not a slow frame.
constexpr double kIdleGapMs = 250;
constexpr size_t kMaxSamples = 10000;

double percentile(const std::vector<double> &sorted, double p)
{
    if (sorted.empty())
        return 0;
    const size_t i = std::min(sorted.size() - 1, size_t(p * double(sorted.size() - 1) + 0.5));
    return sorted[i];
}
} // namespace

Diagnostics::Diagnostics(hal::Player *player, Zapper *zapper, GuideStore *store, QObject *parent)
    : QObject(parent), m_player(player), m_zapper(zapper), m_store(store)
{
    m_clock.start();
    m_timer.setInterval(1000);
    connect(&m_timer, &QTimer::timeout, this, &Diagnostics::refresh);
}

bool Diagnostics::developmentBuild()
{
#ifdef IPTV_DEVELOPMENT_BUILD
    return true;
#else
    return false;
#endif
}

void Diagnostics::setShown(bool shown)
{
    shown = shown && m_available;
    if (shown == m_shown)
        return;
    m_shown = shown;
    if (shown) {
        {
            // The frames of a while ago are not this overlay's.
            QMutexLocker lock(&m_mutex);
            m_intervals.clear();
            m_costs.clear();
            m_lastRefreshNs = m_clock.nsecsElapsed();
        }
        refresh();
        m_timer.start();
    } else {
        m_timer.stop();
    }
    Q_EMIT shownChanged();
}

void Diagnostics::frameStarted()
{
    QMutexLocker lock(&m_mutex);
    m_frameStartNs = m_clock.nsecsElapsed();
}

void Diagnostics::frameSwapped()
{
    QMutexLocker lock(&m_mutex);
    const qint64 now = m_clock.nsecsElapsed();
    if (m_frameStartNs >= 0 && m_costs.size() < kMaxSamples)
        m_costs.push_back(double(now - m_frameStartNs) / 1e6);
    m_frameStartNs = -1;
    if (m_lastSwapNs >= 0) {
        const double ms = double(now - m_lastSwapNs) / 1e6;
        if (ms < kIdleGapMs) {
            if (m_intervals.size() < kMaxSamples)
                m_intervals.push_back(ms);
            if (m_telemetry.size() < kMaxSamples)
                m_telemetry.push_back(ms);
        }
    }
    m_lastSwapNs = now;
}

std::optional<protocol::FrameStats> Diagnostics::takeFrameStats()
{
    std::vector<double> samples;
    {
        QMutexLocker lock(&m_mutex);
        samples.swap(m_telemetry);
    }
    if (samples.empty())
        return std::nullopt;
    return statsOf(std::move(samples));
}

protocol::FrameStats Diagnostics::statsOf(std::vector<double> ms)
{
    protocol::FrameStats s;
    std::sort(ms.begin(), ms.end());
    s.frames = int(ms.size());
    s.p50 = percentile(ms, 0.50);
    s.p95 = percentile(ms, 0.95);
    s.p99 = percentile(ms, 0.99);
    s.max = ms.empty() ? 0 : ms.back();
    return s;
}

qint64 Diagnostics::procValueKb(const QString &file, const QByteArray &key)
{
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith(key))
            return line.mid(key.size()).trimmed().split(' ').first().toLongLong();
    }
    return -1;
}

qint64 Diagnostics::residentKb()
{
    return procValueKb(QStringLiteral("/proc/self/status"), "VmRSS:");
}

void Diagnostics::refresh()
{
    std::vector<double> intervals, costs;
    qint64 sinceNs = 0;
    {
        QMutexLocker lock(&m_mutex);
        intervals.swap(m_intervals);
        costs.swap(m_costs);
        const qint64 now = m_clock.nsecsElapsed();
        sinceNs = now - m_lastRefreshNs;
        m_lastRefreshNs = now;
    }
    const QLocale c = QLocale::c();
    auto ms = [&c](double v) { return c.toString(v, 'f', 1); };
    QStringList lines;
    const protocol::FrameStats f = statsOf(intervals);
    const protocol::FrameStats r = statsOf(costs);
    const double perSecond = sinceNs > 0 ? double(f.frames) * 1e9 / double(sinceNs) : 0;
    lines << (f.frames > 0 ? tr("Frames %1/s · interval p50 %2 p95 %3 max %4 ms").arg(c.toString(perSecond, 'f', 0), ms(f.p50), ms(f.p95), ms(f.max))
                           : tr("Frames: at rest"));
    lines << (r.frames > 0 ? tr("Frame cost p50 %1 p95 %2 max %3 ms").arg(ms(r.p50), ms(r.p95), ms(r.max)) : tr("Frame cost: –"));
    const qint64 rss = residentKb();
    lines << tr("Memory %1 MB resident").arg(rss >= 0 ? c.toString(double(rss) / 1024.0, 'f', 1) : QStringLiteral("?"));
    static const char *states[] = {"stopped", "opening", "playing", "failed"};
    lines << tr("Player %1%2").arg(QLatin1String(states[int(m_player->state())]),
                                   m_player->source().isEmpty() ? QString() : QStringLiteral(" · ") + m_player->source().toString());
    const QList<qint64> zaps = m_zapper->zapTimes();
    if (zaps.isEmpty()) {
        lines << tr("Zap: none measured");
    } else {
        std::vector<double> sorted(zaps.begin(), zaps.end());
        const protocol::FrameStats z = statsOf(std::move(sorted));
        lines << tr("Zap last %1 ms · p50 %2 p95 %3 ms over %4").arg(zaps.last()).arg(z.p50).arg(z.p95).arg(z.frames);
    }
    const QList<protocol::ZapParts> parts = m_zapper->zapParts();
    if (!parts.isEmpty()) {
        const protocol::ZapParts &p = parts.last();
        auto part = [](int partMs) { return partMs >= 0 ? QString::number(partMs) : QStringLiteral("–"); };
        lines << tr("Zap parts ms: tune %1 · connected %2 · opened %3 · keyframe %4 · decoded %5 · shown %6 · painted %7")
                     .arg(part(p.tuneMs), part(p.connectedMs), part(p.openedMs), part(p.keyframeMs), part(p.decodedMs),
                          part(p.shownMs), part(p.paintedMs));
        std::vector<double> painted;
        for (const protocol::ZapParts &z : parts) {
            if (z.paintedMs >= 0)
                painted.push_back(z.paintedMs);
        }
        if (!painted.empty()) {
            const protocol::FrameStats s = statsOf(std::move(painted));
            lines << tr("Key to painted p50 %1 p95 %2 ms over %3").arg(s.p50).arg(s.p95).arg(s.frames);
        }
    }
    if (const auto guide = m_store->guide())
        lines << tr("Guide %1 channels · %2 airings").arg(guide->channelCount()).arg(guide->info().airingCount);
    if (lines != m_lines) {
        m_lines = lines;
        Q_EMIT updated();
    }
}

} // namespace iptv::hubris
