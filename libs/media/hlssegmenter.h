#pragma once

// One rendition's live output: packets (timestamps in microseconds) are interleaved by DTS, muxed
// to MPEG-TS, cut into segments at video keyframes once a segment is long enough (at audio
// frames while the video has stopped, at any packet once it would outgrow the target duration;
// and into LL-HLS parts), written as files beside a rolling media playlist. Media and discontinuity
// sequence numbers are saved with every playlist, so they never go back, also across a restart.
//
// The same TS bytes go to a sink (the keyframe cache and viewers of the MPEG-TS output), each
// chunk flagged when it starts at a keyframe, where PAT/PMT are repeated.

#include "ffmpeg.h"
#include "hlsplaylist.h"
#include "tsmuxer.h"

#include <QByteArray>
#include <QDateTime>
#include <QString>

#include <deque>
#include <functional>

namespace iptv::media {

struct SegmenterSettings
{
    QString directory;           ///< the rendition's folder (created)
    double segmentSeconds = 2.0; ///< cut at the first keyframe at or after this (or one a GOP early, when nearer)
    int window = 6;              ///< segments listed
    double partSeconds = 0;      ///< LL-HLS part target; 0 = no parts
    int keepAfterWindow = 6;     ///< segment files kept this many segments after they leave the list
    int maxSegmentSeconds = 0;   ///< EXT-X-TARGETDURATION; 0 = from segmentSeconds (and GOP)
    double frameSeconds = 0;     ///< the video frame duration when constant (parts are cut evenly)
};

class HlsSegmenter
{
public:
    using BytesSink = std::function<void(const QByteArray &ts, bool keyframe)>;
    using PlaylistSink = std::function<void(const QByteArray &playlist, qint64 mediaSequence, int parts)>;

    HlsSegmenter();
    ~HlsSegmenter();

    /// Creates the folder, restores the sequence numbers saved there, and opens the muxer with
    /// one stream per parameter set (`videoStream` is the index of video, -1 if none).
    bool open(const SegmenterSettings &settings, const QList<const AVCodecParameters *> &streams, int videoStream,
              MediaError *error);
    void setBytesSink(BytesSink sink) { m_bytesSink = std::move(sink); }
    void setPlaylistSink(PlaylistSink sink) { m_playlistSink = std::move(sink); }

    /// Queues a packet for output stream `stream`; packets leave the interleaver in DTS order.
    /// An error (a full disk, an unwritable folder) is reported but the segmenter goes on: the
    /// failed segment is left out and the next one starts with a discontinuity.
    bool write(const AVPacket *packet, int stream, MediaError *error);
    /// The input's parameters changed (pass-through after a reconnect): the muxer is reopened and
    /// the next segment starts with EXT-X-DISCONTINUITY.
    bool restart(const QList<const AVCodecParameters *> &streams, int videoStream, MediaError *error);
    /// The next segment starts with EXT-X-DISCONTINUITY.
    void markDiscontinuity() { m_discontinuityPending = true; }
    /// Writes out everything queued and the segment in progress (a clean stop).
    bool finish(MediaError *error);

    QByteArray playlistText() const { return m_playlist.text(); }
    const HlsMediaPlaylist &playlist() const { return m_playlist; }
    QString directory() const { return m_settings.directory; }
    int targetDuration() const { return m_targetDuration; }

    struct Stats
    {
        quint64 segments = 0;
        quint64 parts = 0;
        quint64 bytes = 0;
        quint64 writeErrors = 0;
        double lastSegmentSeconds = 0;
        qint64 lastSegmentListedUs = 0; ///< wall clock (µs since epoch) when the last segment was listed
        qint64 lastSegmentEndPtsUs = 0;
    };
    Stats stats() const { return m_stats; }
    /// Wall clock of output timestamp 0 (µs since epoch), for EXT-X-PROGRAM-DATE-TIME.
    void setTimelineAnchor(qint64 epochUsAtZero) { m_anchorUs = epochUsAtZero; }

private:
    struct Queued
    {
        Packet packet;
        int stream;
    };
    bool release(const Queued &q, MediaError *error);
    bool cutSegment(qint64 endUs, MediaError *error);
    bool cutPart(qint64 endUs, MediaError *error);
    bool writeFile(const QString &name, const QByteArray &data, MediaError *error);
    bool publish(MediaError *error);
    void collect();

    SegmenterSettings m_settings;
    HlsMediaPlaylist m_playlist;
    TsMuxer m_muxer;
    int m_videoStream = -1;
    int m_streamCount = 0;
    int m_targetDuration = 2;
    std::deque<Queued> m_queue;
    std::vector<qint64> m_lastQueuedDts; ///< per stream
    QByteArray m_segmentBytes;           ///< the segment in progress
    QByteArray m_partBytes;              ///< the part in progress
    bool m_partIndependent = false;
    qint64 m_segmentStartUs = AV_NOPTS_VALUE;
    qint64 m_partStartUs = AV_NOPTS_VALUE;
    qint64 m_lastDtsUs = AV_NOPTS_VALUE;
    qint64 m_lastEndUs = AV_NOPTS_VALUE;
    qint64 m_lastVideoUs = AV_NOPTS_VALUE; ///< the last video packet's time (the video may stop, the audio go on)
    qint64 m_lastKeyUs = AV_NOPTS_VALUE;   ///< the last keyframe's time: the GOP the next keyframe is expected after
    int m_partIndex = 0;
    double m_partLength = 0;             ///< where parts are cut (at most partSeconds)
    bool m_discontinuityPending = false;
    bool m_failedSegment = false;
    qint64 m_anchorUs = 0;
    std::deque<QString> m_leaving; ///< files of segments no longer listed, deleted later
    BytesSink m_bytesSink;
    PlaylistSink m_playlistSink;
    Stats m_stats;
};

} // namespace iptv::media
