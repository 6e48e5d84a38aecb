#pragma once

// HLS playlists (RFC 8216, and draft-pantos-hls-rfc8216bis for low-latency HLS): the writer a
// live channel keeps per rendition, the master playlist, and a checker that reads playlist text
// literally, for the tests and the soak benchmark.
//
// What the writer promises across reloads (SRS #1052 and MediaMTX #4225 are what happens
// otherwise): the media sequence never goes back, also across a restart (restoreSequence());
// a segment keeps its URI for as long as it is listed; EXT-X-DISCONTINUITY-SEQUENCE grows by the
// discontinuities that leave the window, so every segment keeps its discontinuity sequence number.

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QString>
#include <QStringList>

namespace iptv::media {

/// A partial segment (LL-HLS EXT-X-PART).
struct HlsPart
{
    QString uri;
    double duration = 0;      ///< seconds
    bool independent = false; ///< starts with a keyframe (INDEPENDENT=YES)
    bool gap = false;         ///< not available (GAP=YES)
};

struct HlsSegment
{
    QString uri;
    double duration = 0;        ///< seconds (EXTINF)
    QDateTime programDateTime;  ///< written as EXT-X-PROGRAM-DATE-TIME when valid
    bool discontinuity = false; ///< preceded by EXT-X-DISCONTINUITY
    QList<HlsPart> parts;
};

/// One rendition's live media playlist.
class HlsMediaPlaylist
{
public:
    void setTargetDuration(int seconds);
    void setWindow(int segments); // rolling window, 0 = keep all (event)
    /// 0 = off; on: EXT-X-PART-INF, EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3*partTarget,
    /// the parts of the last segments (those within three target durations of the end), EXT-X-PRELOAD-HINT.
    void setLowLatency(double partTarget);
    /// After a restart: continues from the saved state (see SequenceState), never going back;
    /// the next segment starts with EXT-X-DISCONTINUITY. Call before the first segment.
    void restoreSequence(qint64 mediaSequence, qint64 discontinuitySequence);
    void addPart(const HlsPart &p); // a part of the segment in progress (LL-HLS)
    /// The segment in progress will not be listed (its file could not be written): its parts and
    /// the preload hint go, and the next segment starts with EXT-X-DISCONTINUITY.
    void discardInProgress();
    /// Completes the segment in progress (its parts are those added since the last segment when
    /// s.parts is empty); returns segments that left the window (to delete their files).
    QList<HlsSegment> addSegment(HlsSegment s);
    void markDiscontinuity(); // the next segment starts with EXT-X-DISCONTINUITY
    /// The part the next addPart() will announce (EXT-X-PRELOAD-HINT:TYPE=PART); cleared when
    /// that part is added.
    void setPreloadHint(const QString &uri);
    void setEnded(); // EXT-X-ENDLIST

    qint64 mediaSequence() const { return m_mediaSequence; }                 ///< EXT-X-MEDIA-SEQUENCE
    qint64 discontinuitySequence() const { return m_discontinuitySequence; } ///< EXT-X-DISCONTINUITY-SEQUENCE
    qint64 nextSequence() const { return m_mediaSequence + m_segments.size(); } ///< of the segment in progress
    int partCountInProgress() const { return int(m_parts.size()); }
    /// The discontinuity sequence number of the latest segment: what a restart restores.
    qint64 lastDiscontinuitySequence() const;
    /// Blocking playlist reload (_HLS_msn=msn, _HLS_part=part, -1 when absent): whether this
    /// playlist already holds that segment or part, so the request can be answered.
    bool contains(qint64 msn, int part = -1) const;

    int targetDuration() const;
    double partTarget() const { return m_partTarget; }
    const QList<HlsSegment> &segments() const { return m_segments; }
    bool ended() const { return m_ended; }

    QByteArray text() const; // valid RFC 8216 text

private:
    int m_targetDuration = 6;
    int m_longestRounded = 0; ///< longest EXTINF seen, rounded: the target never lies
    int m_window = 0;
    double m_partTarget = 0;
    qint64 m_mediaSequence = 0;
    qint64 m_discontinuitySequence = 0;
    bool m_pendingDiscontinuity = false;
    bool m_ended = false;
    QString m_preloadHint;
    QList<HlsSegment> m_segments;
    QList<HlsPart> m_parts; ///< of the segment in progress
};

struct HlsVariant
{
    QString uri;
    qint64 bandwidth = 0; ///< bits per second, peak
    int width = 0, height = 0;
    double frameRate = 0;
    QString codecs;       ///< e.g. "avc1.64001f,mp4a.40.2"
};

/// A master playlist listing the variants in the given order (the first is the default).
QByteArray hlsMasterPlaylist(const QList<HlsVariant> &variants);

/// "2026-12-06T03:56:10.123+00:00": milliseconds and the offset from UTC.
QString hlsDateTime(const QDateTime &dateTime);

/// A checker that reads playlist text literally per RFC 8216 (used by tests and the soak benchmark):
struct HlsCheck
{
    bool ok = false;
    QStringList problems;
    qint64 mediaSequence = 0, discontinuitySequence = 0;
    QList<HlsSegment> segments;
    int targetDuration = 0;
    // Beyond the brief's fields:
    int version = 1;
    double partTarget = 0;          ///< 0 without EXT-X-PART-INF
    QList<HlsPart> partsInProgress; ///< EXT-X-PART after the last segment
    QString preloadHint;
    bool ended = false;
};
HlsCheck checkMediaPlaylist(const QByteArray &text);
/// Checks a later reload against an earlier one: media sequence never decreases, a segment with the same sequence number keeps its URI, discontinuity sequence consistent with segments that left.
/// With LL-HLS also: a listed part keeps its URI and duration, the parts in progress only grow.
QStringList checkReload(const HlsCheck &earlier, const HlsCheck &later);

} // namespace iptv::media
