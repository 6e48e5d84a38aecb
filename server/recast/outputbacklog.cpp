#include "outputbacklog.h"

#include <QElapsedTimer>
#include <QLoggingCategory>

#include <algorithm>

Q_DECLARE_LOGGING_CATEGORY(lcChannel) // channel.cpp's: the backlog is the channel's

namespace iptv::recast {

namespace {

/// An episode of dropping ends at a take() this long after the last drop: a consumer that
/// takes a batch now and then while still far behind is one episode, logged once.
constexpr qint64 kEpisodeQuietMs = 1000;

qint64 steadyMs()
{
    static const QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.elapsed();
}

} // namespace

void OutputBacklogBudget::attach(OutputBacklog *backlog)
{
    std::lock_guard lock(m_mutex);
    m_backlogs.push_back(backlog);
}

void OutputBacklogBudget::detach(OutputBacklog *backlog)
{
    std::lock_guard lock(m_mutex);
    m_backlogs.erase(std::remove(m_backlogs.begin(), m_backlogs.end(), backlog), m_backlogs.end());
}

void OutputBacklogBudget::enforce()
{
    std::lock_guard lock(m_mutex);
    while (m_held.load(std::memory_order_relaxed) > m_limit) {
        OutputBacklog *fullest = nullptr;
        qint64 most = 0;
        for (OutputBacklog *b : m_backlogs) {
            const qint64 held = b->m_heldForBudget.load(std::memory_order_relaxed);
            if (held > most) {
                most = held;
                fullest = b;
            }
        }
        qint64 bytes = 0;
        if (!fullest || !fullest->dropOldestGopForBudget(&bytes))
            return; // nothing held any more (the consumers took it meanwhile)
        m_droppedBytes.fetch_add(quint64(bytes), std::memory_order_relaxed);
        m_droppedGops.fetch_add(1, std::memory_order_relaxed);
    }
}

OutputBacklog::OutputBacklog(QString channel, qint64 limitBytes) : m_channel(std::move(channel)), m_limit(limitBytes)
{
}

OutputBacklog::~OutputBacklog()
{
    if (m_budget) {
        m_budget->detach(this);
        m_budget->m_held.fetch_sub(m_heldForBudget.load(), std::memory_order_relaxed);
    }
}

void OutputBacklog::setBudget(OutputBacklogBudget *budget)
{
    // Never the budget's lock under this one's: enforce() takes them the other way round.
    if (m_budget)
        m_budget->detach(this);
    {
        std::lock_guard lock(m_mutex);
        if (m_budget)
            m_budget->m_held.fetch_sub(m_stats.bytes, std::memory_order_relaxed);
        m_budget = budget;
        if (m_budget)
            m_budget->m_held.fetch_add(m_stats.bytes, std::memory_order_relaxed);
    }
    if (budget)
        budget->attach(this);
}

void OutputBacklog::addHeld(qint64 delta)
{
    m_stats.bytes += delta;
    m_heldForBudget.store(m_stats.bytes, std::memory_order_relaxed);
    if (m_budget)
        m_budget->m_held.fetch_add(delta, std::memory_order_relaxed);
}

void OutputBacklog::logDropping(const QString &what, bool serverWide) const
{
    if (serverWide)
        qCWarning(lcChannel).noquote() << m_channel << "the server's thread is behind every channel's output:" << what
                                       << QStringLiteral("(all channels together hold the server's limit of %1 bytes, "
                                                         "output_backlog_total_mib, and this one the most);")
                                              .arg(m_budget ? m_budget->limitBytes() : 0)
                                       << "dropping its oldest GOPs until it catches up (MPEG-TS viewers skip ahead to a"
                                          " keyframe; HLS is not affected)";
    else
        qCWarning(lcChannel).noquote() << m_channel << "the server's thread is behind this channel's output:" << what
                                       << QStringLiteral("(backlog limit %1 bytes, output_backlog_kib);").arg(m_limit)
                                       << "dropping its oldest GOPs until it catches up (MPEG-TS viewers skip ahead to a"
                                          " keyframe; HLS is not affected)";
}

OutputBacklog::Rendition &OutputBacklog::rendition(int r)
{
    if (size_t(r) >= m_renditions.size())
        m_renditions.resize(size_t(r) + 1);
    return m_renditions[size_t(r)];
}

bool OutputBacklog::wakeLocked()
{
    return !std::exchange(m_wakePending, true);
}

bool OutputBacklog::pushTs(int r, const QByteArray &ts, bool keyframe)
{
    if (r < 0 || ts.isEmpty())
        return false;
    QString log;
    bool wake = false;
    QList<QByteArray> spent; // freed on this (the allocating) thread, after the lock
    {
        std::lock_guard lock(m_mutex);
        spent.swap(m_spent);
        Rendition &rend = rendition(r);
        bool drop = false;
        if (rend.resync && !keyframe) {
            drop = true; // the rest of a GOP whose start was dropped: useless to a viewer
        } else {
            while (m_stats.bytes + ts.size() > m_limit && dropOldestGop(&log)) {
            }
            // Alone over the limit, or the rest of a GOP that just lost its start.
            drop = m_stats.bytes + ts.size() > m_limit || (rend.resync && !keyframe);
            if (!drop && keyframe)
                rend.resync = false;
        }
        if (drop) {
            const bool newGop = !rend.resync;
            rend.resync = true;
            rend.gap = rend.gap || newGop;
            if (countDrop(ts.size(), 1, newGop ? 1 : 0))
                log = QStringLiteral("a chunk of %1 bytes does not fit").arg(ts.size());
        } else {
            Chunk c{ts, keyframe, std::exchange(rend.gap, false) && keyframe};
            rend.chunks.push_back(std::move(c));
            rend.bytes += ts.size();
            addHeld(ts.size());
            m_stats.peakBytes = qMax(m_stats.peakBytes, m_stats.bytes);
            wake = wakeLocked();
        }
    }
    if (!log.isEmpty())
        logDropping(log, false);
    // With no backlog's lock held: the budget may drop from any channel, this one included.
    if (m_budget && m_budget->heldBytes() > m_budget->limitBytes())
        m_budget->enforce();
    return wake;
}

bool OutputBacklog::countDrop(qint64 bytes, quint64 chunks, quint64 gops)
{
    m_stats.droppedBytes += quint64(bytes);
    m_stats.droppedChunks += chunks;
    m_stats.droppedGops += gops;
    m_episodeDroppedBytes += quint64(bytes);
    m_episodeDroppedGops += gops;
    m_lastDropMs = steadyMs();
    if (m_inEpisode)
        return false;
    m_inEpisode = true;
    m_episodeStartMs = m_lastDropMs;
    ++m_stats.episodes;
    return true;
}

bool OutputBacklog::dropOldestGopForBudget(qint64 *bytes)
{
    QString log;
    bool dropped = false;
    {
        std::lock_guard lock(m_mutex);
        dropped = dropOldestGop(&log, bytes);
    }
    if (!log.isEmpty())
        logDropping(log, true);
    return dropped;
}

bool OutputBacklog::dropOldestGop(QString *log, qint64 *droppedBytes)
{
    Rendition *fullest = nullptr;
    for (Rendition &r : m_renditions)
        if (!r.chunks.empty() && (!fullest || r.bytes > fullest->bytes))
            fullest = &r;
    if (!fullest)
        return false;
    qint64 bytes = 0;
    quint64 chunks = 0;
    // The front chunk (a keyframe, or the rest of a GOP the consumer took the start of), then
    // everything up to the next keyframe.
    do {
        bytes += fullest->chunks.front().ts.size();
        ++chunks;
        fullest->chunks.pop_front();
    } while (!fullest->chunks.empty() && !fullest->chunks.front().keyframe);
    fullest->bytes -= bytes;
    addHeld(-bytes);
    if (droppedBytes)
        *droppedBytes = bytes;
    if (fullest->chunks.empty()) {
        fullest->resync = true; // the GOP being output lost its start: drop it up to the next keyframe
        fullest->gap = true;
    } else {
        fullest->chunks.front().afterGap = true;
    }
    if (countDrop(bytes, chunks, 1))
        *log = QStringLiteral("%1 bytes held").arg(m_stats.bytes + bytes);
    return true;
}

bool OutputBacklog::pushPlaylist(int r, const QByteArray &text, qint64 nextSequence, int parts)
{
    std::lock_guard lock(m_mutex);
    m_playlists.insert(r, Playlist{text, nextSequence, parts});
    return wakeLocked();
}

OutputBacklog::Batch OutputBacklog::take(qint64 maxBytes)
{
    Batch batch;
    QString log;
    {
        std::lock_guard lock(m_mutex);
        batch.chunks.resize(m_renditions.size());
        qint64 taken = 0;
        for (size_t i = 0; i < m_renditions.size(); ++i) {
            Rendition &rend = m_renditions[i];
            if (taken + rend.bytes <= maxBytes) {
                batch.chunks[i].swap(rend.chunks);
                taken += std::exchange(rend.bytes, 0);
                continue;
            }
            while (!rend.chunks.empty() && taken < maxBytes) {
                const qint64 size = rend.chunks.front().ts.size();
                batch.chunks[i].push_back(std::move(rend.chunks.front()));
                rend.chunks.pop_front();
                rend.bytes -= size;
                taken += size;
            }
            batch.more = batch.more || !rend.chunks.empty();
        }
        // Left behind: the consumer calls again without a wake-up (one stays pending meanwhile).
        m_wakePending = batch.more;
        batch.playlists.swap(m_playlists);
        addHeld(-taken);
        if (m_inEpisode && steadyMs() - m_lastDropMs >= kEpisodeQuietMs) {
            m_inEpisode = false;
            log = QStringLiteral("the server's thread caught up with this channel's output after %1 s; %2 GOPs (%3 bytes) "
                                 "were dropped")
                      .arg((m_lastDropMs - m_episodeStartMs) / 1000.0, 0, 'f', 1)
                      .arg(m_episodeDroppedGops)
                      .arg(m_episodeDroppedBytes);
            m_episodeDroppedBytes = m_episodeDroppedGops = 0;
        }
    }
    if (!log.isEmpty())
        qCInfo(lcChannel).noquote() << m_channel << log;
    return batch;
}

void OutputBacklog::recycle(QList<QByteArray> &&spent)
{
    if (spent.isEmpty())
        return;
    std::lock_guard lock(m_mutex);
    if (m_spent.isEmpty())
        m_spent.swap(spent);
    else
        m_spent.append(std::move(spent));
}

qsizetype OutputBacklog::spentChunks() const
{
    std::lock_guard lock(m_mutex);
    return m_spent.size();
}

void OutputBacklog::clear()
{
    std::lock_guard lock(m_mutex);
    m_renditions.clear();
    m_playlists.clear();
    m_spent.clear();
    addHeld(-m_stats.bytes);
}

OutputBacklog::Stats OutputBacklog::stats() const
{
    std::lock_guard lock(m_mutex);
    return m_stats;
}

} // namespace iptv::recast
