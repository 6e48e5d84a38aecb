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

#include <QByteArray>
#include <QMap>
#include <QString>

#include <deque>
#include <mutex>
#include <vector>

namespace iptv::recast {

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

    qint64 limitBytes() const { return m_limit; }

    /// The producer's calls. True: the consumer must be told to take() (nothing was waiting
    /// for it yet); false: a take() is already due, which will see this too.
    bool pushTs(int rendition, const QByteArray &ts, bool keyframe);
    bool pushPlaylist(int rendition, const QByteArray &text, qint64 nextSequence, int parts);

    /// The consumer's call: everything held, which is then no longer counted.
    Batch take();
    /// Forgets what is held and every rendition's wait for a keyframe (a new run of the
    /// pipeline); the counters stay.
    void clear();

    Stats stats() const;

private:
    struct Rendition
    {
        std::deque<Chunk> chunks;
        qint64 bytes = 0;
        bool resync = false; ///< what is held was dropped mid-GOP: drop up to the next keyframe
        bool gap = false;    ///< the next chunk taken follows dropped ones
    };
    Rendition &rendition(int r);
    /// Drops the oldest GOP of the rendition holding the most; false when nothing is held.
    bool dropOldestGop(QString *log);
    /// Counts a drop in the stats and the episode; true when it began an episode (to be logged).
    bool countDrop(qint64 bytes, quint64 chunks, quint64 gops);
    bool wakeLocked();

    const QString m_channel;
    const qint64 m_limit;
    mutable std::mutex m_mutex;
    std::vector<Rendition> m_renditions;
    QMap<int, Playlist> m_playlists;
    bool m_wakePending = false;
    Stats m_stats;
    bool m_inEpisode = false;
    qint64 m_lastDropMs = 0;
    quint64 m_episodeDroppedBytes = 0;
    quint64 m_episodeDroppedGops = 0;
    qint64 m_episodeStartMs = 0;
};

} // namespace iptv::recast
