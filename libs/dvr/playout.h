#pragma once

// Playout of recordings and archives: HLS media playlists built from archive indexes at request
// time, so a recording plays while it records (EXT-X-PLAYLIST-TYPE:EVENT, growing) and after
// (VOD, EXT-X-ENDLIST). Every segment carries its EXT-X-PROGRAM-DATE-TIME; a gap in the
// recording (a source drop, a restart, a segment that could not be written) is an
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

/// The media playlist of `segments` (in order; `file` relative to where the playlist is served,
/// prefixed with `uriPrefix`). `ended`: VOD with EXT-X-ENDLIST; otherwise EVENT.
QByteArray playoutPlaylist(const QList<ArchiveSegment> &segments, bool ended, const QString &uriPrefix = {});

/// The playlist of a whole recording (its own archive): VOD once it is complete.
QByteArray recordingPlaylist(const ArchiveReader &recording, const QString &uriPrefix = {});

/// The playlist of `range` of a channel's archive (catch-up, a recording on an archived
/// channel). It is VOD once the archive holds segments past the range's end, or `nowMs` is
/// `graceMs` past it (the archive stopped: what there is will not grow); EVENT before.
QByteArray archiveRangePlaylist(const ArchiveReader &archive, TimeRange range, qint64 nowMs, const QString &uriPrefix = {},
                                qint64 graceMs = 60000);

/// "archive-1765004400-3600.m3u8" (also "archive-1765004400-3600" and "…-now.m3u8" for
/// "up to now", which needs `nowMs`): the range; nullopt for anything else.
std::optional<TimeRange> parseArchiveRange(const QString &name, qint64 nowMs);

} // namespace iptv::dvr
