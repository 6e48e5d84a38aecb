#pragma once

// What a channel's pipeline thread has output and the server's thread has not taken yet: the TS
// bytes of every rendition (for the keyframe cache and the MPEG-TS viewers) and the newest
// playlist of each. The pipeline never waits for the server's thread: when that thread falls
// behind (a machine at a load of 85 gives it a sliver of a core), the backlog is bounded by
// `limitBytes` and the oldest whole GOPs are dropped, so a viewer skips ahead to a keyframe
// instead of the process holding every channel's stream in memory until it is killed.
// Playlists are not queued: a newer one replaces the one not yet taken. HLS is not affected
// (the pipeline writes segments and playlists itself).
//
// Thread-safe: one producer (the pipeline) and one consumer (the channel).
//
// Every channel's backlog together is bounded too (OutputBacklogBudget, [server]
// output_backlog_total_mib): a hundred channels of 8 MiB each would hold 800 MiB. Past the
// server's limit the oldest GOP of the channel holding the most is dropped, the same policy a
// channel's own limit applies to its renditions.

#include <QByteArray>
#include <QMap>
#include <QString>

#include <atomic>
#include <deque>
#include <limits>
#include <mutex>
#include <vector>

namespace iptv::recast {

class OutputBacklog;

/// What every channel's output backlog may hold together (one per server). Thread-safe; it
/// outlives the backlogs that use it.
class OutputBacklogBudget
{
public:
    explicit OutputBacklogBudget(qint64 limitBytes) : m_limit(limitBytes) {}

    qint64 limitBytes() const { return m_limit; }
    qint64 heldBytes() const { return m_held.load(std::memory_order_relaxed); }
    /// Dropped because the backlogs together reached the limit (also counted by each channel).
    quint64 droppedBytes() const { return m_droppedBytes.load(std::memory_order_relaxed); }
    quint64 droppedGops() const { return m_droppedGops.load(std::memory_order_relaxed); }

private:
    friend class OutputBacklog;
    void attach(OutputBacklog *backlog);
    void detach(OutputBacklog *backlog);
    /// Drops the oldest GOP of the backlog holding the most until the total fits. Called by a
    /// producer holding no backlog's lock (the lock order is this one's, then a backlog's).
    void enforce();

    const qint64 m_limit;
    std::atomic<qint64> m_held{0};
    std::atomic<quint64> m_droppedBytes{0};
    std::atomic<quint64> m_droppedGops{0};
    std::mutex m_mutex;
    std::vector<OutputBacklog *> m_backlogs;
};

class OutputBacklog
{
public:
    struct Chunk
    {
        QByteArray ts;
        bool keyframe = false;
        bool afterGap = false; ///< GOPs before this one (a keyframe) were dropped
    };
    struct Playlist
    {
        QByteArray text;
        qint64 nextSequence = 0;
        int parts = 0;
    };
    /// What take() hands over: per rendition its chunks in order, and the newest playlists
    /// (rendition -1: the master).
    struct Batch
    {
        std::vector<std::deque<Chunk>> chunks;
        QMap<int, Playlist> playlists;
        bool more = false; ///< take() left chunks behind (its limit): call it again
    };
    struct Stats
    {
        qint64 bytes = 0;           ///< held now
        qint64 peakBytes = 0;       ///< the most held at once
        quint64 droppedBytes = 0;
        quint64 droppedChunks = 0;
        quint64 droppedGops = 0;    ///< whole GOPs, or what was left of one
        quint64 episodes = 0;       ///< times the backlog reached its limit after keeping up
    };

    /// `channel` names the channel in the log.
    OutputBacklog(QString channel, qint64 limitBytes);
    ~OutputBacklog();
    OutputBacklog(const OutputBacklog &) = delete;
    OutputBacklog &operator=(const OutputBacklog &) = delete;

    qint64 limitBytes() const { return m_limit; }
    /// Counts this backlog in `budget` (shared with the server's other channels) from now on.
    void setBudget(OutputBacklogBudget *budget);

    /// The producer's calls. True: the consumer must be told to take() (nothing was waiting
    /// for it yet); false: a take() is already due, which will see this too.
    bool pushTs(int rendition, const QByteArray &ts, bool keyframe);
    bool pushPlaylist(int rendition, const QByteArray &text, qint64 nextSequence, int parts);

    /// The consumer's call: what is held, which is then no longer counted; at most about
    /// `maxBytes` of chunks (whole chunks), so that one call does a bounded piece of work on the
    /// consumer's thread. With Batch::more set, the rest waits for the next call, and no wake-up
    /// comes for it (the consumer calls again itself).
    Batch take(qint64 maxBytes = std::numeric_limits<qint64>::max());
    /// The consumer's call: TS chunks it is done with, freed by the producer at its next push.
    /// The pipeline's thread allocated them, and glibc's free() takes that thread's arena lock,
    /// which about seven channel threads share on 2 cores: freed here, the server's thread slept
    /// on a preempted channel thread holding it (seconds at a load of 100).
    void recycle(QList<QByteArray> &&spent);
    qsizetype spentChunks() const;
    /// Forgets what is held and every rendition's wait for a keyframe (a new run of the
    /// pipeline); the counters stay.
    void clear();

    Stats stats() const;

private:
    friend class OutputBacklogBudget;
    struct Rendition
    {
        std::deque<Chunk> chunks;
        qint64 bytes = 0;
        bool resync = false; ///< what is held was dropped mid-GOP: drop up to the next keyframe
        bool gap = false;    ///< the next chunk taken follows dropped ones
    };
    Rendition &rendition(int r);
    /// Drops the oldest GOP of the rendition holding the most; false when nothing is held.
    /// Returns the bytes dropped in *bytes (optional).
    bool dropOldestGop(QString *log, qint64 *bytes = nullptr);
    /// The budget's call (its lock held, not this one's): drops this backlog's oldest GOP.
    bool dropOldestGopForBudget(qint64 *bytes);
    void addHeld(qint64 delta);
    void logDropping(const QString &what, bool serverWide) const;
    /// Counts a drop in the stats and the episode; true when it began an episode (to be logged).
    bool countDrop(qint64 bytes, quint64 chunks, quint64 gops);
    bool wakeLocked();

    const QString m_channel;
    const qint64 m_limit;
    OutputBacklogBudget *m_budget = nullptr;
    std::atomic<qint64> m_heldForBudget{0}; ///< m_stats.bytes, read by the budget without the lock
    mutable std::mutex m_mutex;
    std::vector<Rendition> m_renditions;
    QMap<int, Playlist> m_playlists;
    QList<QByteArray> m_spent; ///< the consumer's, for the producer to free
    bool m_wakePending = false;
    Stats m_stats;
    bool m_inEpisode = false;
    qint64 m_lastDropMs = 0;
    quint64 m_episodeDroppedBytes = 0;
    quint64 m_episodeDroppedGops = 0;
    qint64 m_episodeStartMs = 0;
};

} // namespace iptv::recast
