#pragma once

// Playout of recordings and archives: HLS media playlists built from archive indexes at request
// time, so a recording plays while it records and after. Timeshift is a live sliding window of
// the channel's archive (RFC 8216 6.2.2: slidingPlaylist()). Any other URL's playlist only grows (RFC 8216
// 6.2.1): EXT-X-PLAYLIST-TYPE:EVENT from its first segment to its EXT-X-ENDLIST, a fixed
// EXT-X-TARGETDURATION (playlistTargetSeconds()), segments appended, never one dropped or changed. Every segment carries its EXT-X-PROGRAM-DATE-TIME (the wall clock at
// which its media aired: recorder.h) and its EXTINF (its media's duration): a source slower than real
// time leaves the dates further apart than the durations, which is no discontinuity. A gap in
// the recording (a source drop, a restart, a segment that could not be written) is an
// EXT-X-DISCONTINUITY. Catch-up names a range of a channel's archive the way Flussonic does:
// archive-<start, Unix seconds>-<duration, seconds>.m3u8.

#include "archive.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <optional>

namespace iptv::dvr {

/// A time range in UTC milliseconds since the epoch, [fromMs, toMs).
struct TimeRange
{
    qint64 fromMs = 0;
    qint64 toMs = 0;
    bool operator==(const TimeRange &o) const { return fromMs == o.fromMs && toMs == o.toMs; }
};

/// EXT-X-TARGETDURATION of what a recorder cutting at `segmentSeconds` records: ceil(3 x it), the
/// longest a segment of its can be (RecorderSettings::segmentSeconds: cut at the first keyframe
/// after segmentSeconds or one a GOP early when nearer, at 3x it without one). 18 for the default 6 s.
int playlistTargetSeconds(double segmentSeconds);
/// The target of the recorder's default segment length.
inline constexpr int kDefaultTargetSeconds = 18;

/// The media playlist of `segments` (in order; `file` relative to where the playlist is served,
/// prefixed with `uriPrefix`): EVENT, with EXT-X-ENDLIST when `ended` (appended: the same
/// playlist it was while it grew, RFC 8216 6.2.1). EXT-X-TARGETDURATION is `targetSeconds`
/// whatever the segments listed so far (it must never change); a segment longer than it (an
/// archive recorded with a longer segment length) raises it, as RFC 8216 4.3.3.1 requires.
QByteArray playoutPlaylist(const QList<ArchiveSegment> &segments, bool ended, const QString &uriPrefix = {},
                           int targetSeconds = kDefaultTargetSeconds);

/// The discontinuities of an archive before one of its segments, and whether that segment is one
/// (it follows a gap, or does not follow the segment before it in sequence, as
/// playoutPlaylist() marks them).
struct Discontinuities
{
    qint64 before = 0;
    bool atSegment = false;
};

/// The live playlist of timeshift (RFC 8216 6.2.2): `segments` are a sliding window of a channel's
/// archive, its oldest leaving as time goes on. No EXT-X-PLAYLIST-TYPE; EXT-X-MEDIA-SEQUENCE is
/// the first segment's sequence and EXT-X-DISCONTINUITY-SEQUENCE `first.before` (the archive's
/// discontinuities before it: archiveDiscontinuities()), the first segment keeping its
/// EXT-X-DISCONTINUITY (`first.atSegment`), so both advance as segments leave and every segment
/// keeps its tags and numbers. EXT-X-START:TIME-OFFSET=0 (the viewer asked to play from the
/// window's start) and the fixed target, as playoutPlaylist().
QByteArray slidingPlaylist(const QList<ArchiveSegment> &segments, const Discontinuities &first, bool ended,
                           const QString &uriPrefix = {}, int targetSeconds = kDefaultTargetSeconds);

/// The discontinuities the archive at `directory` has had from its first segment up to
/// `segment`: the Discontinuity Sequence Number of a window that starts at it. Chunks retention
/// deleted are counted from the archive's ledger (recordDeletedChunk()), so the number of a
/// segment never changes while it is listed. Closed chunks are counted once a process (cached by
/// their index's size). nullopt with *error when an index does not read.
std::optional<Discontinuities> archiveDiscontinuities(const QString &directory, const ArchiveSegment &segment, QString *error);
/// Before chunk `chunkName` of the archive at `directory` is deleted: its discontinuities and
/// its last sequence are appended to the archive's ledger (<archive>/discontinuities.tsv,
/// synced), which archiveDiscontinuities() counts instead of the chunk. False with *error: the
/// chunk must not be deleted yet.
bool recordDeletedChunk(const QString &directory, const QString &chunkName, QString *error);

/// The playlist of a whole recording (its own archive): ended once it is complete.
QByteArray recordingPlaylist(const ArchiveReader &recording, const QString &uriPrefix = {},
                             int targetSeconds = kDefaultTargetSeconds);

/// How much of a range a channel's archive holds (a catch-up, a recording on an archived channel).
struct RangeCoverage
{
    enum class State {
        Growing,  ///< the archive has not reached the range's end yet and is still being written
        Complete, ///< the archive holds the range to its end (gaps inside are in `missing`)
        Partial,  ///< the range has passed and the archive ends short of its end: it stopped
                  ///< (the source died, the recorder stopped), or went on only after the range
    };
    State state = State::Growing;
    qint64 coveredToMs = 0;   ///< the archive holds the range up to here (0: nothing of it)
    QList<TimeRange> missing; ///< what the archive lacks of the range: marked gaps, a start before
                              ///< the archive began, an end it never reached
    bool ended() const { return state != State::Growing; }
};

/// `range` of `archive` (loaded for the range: its last chunk is always read) at `nowMs`. The
/// archive's times are the wall clock at which its media arrived, so its newest segment ends
/// about a segment before `nowMs` while it is written; an archive whose newest segment ended
/// `staleMs` or more before `nowMs` has stopped, and what it holds of a passed range is all it
/// will hold (Partial). A range is Complete only once a segment reaches its end.
RangeCoverage archiveRangeCoverage(const ArchiveReader &archive, TimeRange range, qint64 nowMs, qint64 staleMs = 60000);
/// "complete", "growing", "partial"
QString coverageStateName(RangeCoverage::State state);

/// The playlist of `range` of a channel's archive (catch-up, a recording on an archived
/// channel): the segments overlapping it, ended once archiveRangeCoverage() says so (complete,
/// or partial: the archive stopped short of its end). A range beginning after the archive's
/// newest segment (the live edge) has no segment yet: nothing older stands in for it, since the
/// next reload would drop it (the caller waits for the first, as diver does).
QByteArray archiveRangePlaylist(const ArchiveReader &archive, TimeRange range, qint64 nowMs, const QString &uriPrefix = {},
                                qint64 staleMs = 60000, int targetSeconds = kDefaultTargetSeconds);
/// The same with the coverage already worked out.
QByteArray archiveRangePlaylist(const ArchiveReader &archive, TimeRange range, const RangeCoverage &coverage,
                                const QString &uriPrefix = {}, int targetSeconds = kDefaultTargetSeconds);

/// A playlist cut for a seek or a resume (a player that plays URLs only: diver's `?start=`).
struct PlaylistCut
{
    QByteArray playlist;
    qint64 startMs = 0; ///< where its first segment starts on the wall clock (0: no segment)
    /// No segment ends after the moment asked for: the playlist keeps its last one (an ended
    /// playlist's), or has none. Of a growing playlist such a cut is not to be served: the next
    /// reload, cut at the segment that comes to hold the moment, would drop that one.
    bool pastEnd = false;
};

/// `playlist` (as playoutPlaylist() makes it: an EXT-X-PROGRAM-DATE-TIME on every segment) from
/// the wall-clock moment `atMs` on. Positions are wall-clock time, as the dates are (what a
/// viewer, the guide and a box's clock count), not media time: the segments that end (date plus
/// EXTINF) at or before `atMs` are left out, the media and discontinuity sequences count them.
/// A moment inside a segment starts at that segment (cut.startMs before `atMs`; the playlist's
/// EXT-X-START:TIME-OFFSET with PRECISE=YES names the point inside it for players that honour
/// it, RFC 8216 4.3.5.2); one inside a gap or a hole of the dates starts at the next segment
/// (cut.startMs after `atMs`). A moment past the last segment keeps the last one (pastEnd): an
/// empty playlist is one no player opens. `atMs` 0 cuts nothing. A growing playlist cut at one
/// moment only grows as it does, as long as the cut is not pastEnd.
PlaylistCut cutPlaylistAt(const QByteArray &playlist, qint64 atMs);

/// "archive-1765004400-3600.m3u8" (also "archive-1765004400-3600" and "…-now.m3u8" for
/// "up to now", which needs `nowMs`): the range; nullopt for anything else.
std::optional<TimeRange> parseArchiveRange(const QString &name, qint64 nowMs);

} // namespace iptv::dvr
