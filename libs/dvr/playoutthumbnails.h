#pragma once

// Thumbnails for scrubbing through a recording or an archive: the first keyframe of a segment
// every N seconds, decoded (never the whole stream), scaled and written as JPEG next to the
// segment (thumb-<sequence>.jpg, made once), and a WebVTT thumbnail track that maps each span
// of the timeline to its image, the form web and TV players read for seek previews.

#include "archive.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <atomic>

namespace iptv::dvr {

struct Thumbnail
{
    /// Where the frame is in the playlist of the segments: ms from its start, the durations of
    /// the segments before it summed (what a player's position counts; their dates may lie
    /// further apart, a source slower than the clock).
    qint64 atMs = 0;
    QString file;      ///< relative to the archive, like ArchiveSegment::file
};

/// Decodes the first video keyframe of the MPEG-TS file `segmentPath`, scales it to `width`
/// pixels wide (the height keeps the picture's aspect) and writes it as JPEG to `jpegPath`.
/// *noPicture (when given) says whether a failure is the file's (no video in it, none decodes)
/// rather than a passing one (it could not be opened).
bool writeThumbnail(const QString &segmentPath, const QString &jpegPath, int width, QString *error, bool *noPicture = nullptr);

/// One thumbnail per `everyMs` of `segments` (of the archive at `archiveDirectory`) as they play
/// one after the other: the segment that starts each step. Thumbnails already there are reused; the others are made now.
/// At most `maxThumbnails`: the step widens for a long recording. A segment that gives no
/// picture is skipped (the next one stands for its step, or the step is left out); empty with
/// *error only when none gives one. A segment with no picture is remembered by a marker beside it
/// (thumb-<n>.none) and not decoded again. Safe to call for the same folder from several threads.
/// Stops early (empty, *error "stopped") once *cancel is set.
QList<Thumbnail> ensureThumbnails(const QString &archiveDirectory, const QList<ArchiveSegment> &segments, qint64 everyMs,
                                  int width, QString *error, int maxThumbnails = 500, const std::atomic_bool *cancel = nullptr);

/// A WebVTT track: each thumbnail from its place until the next one's (the last until
/// `durationMs`, the playlist's length), URIs prefixed with `uriPrefix`.
QByteArray thumbnailTrack(const QList<Thumbnail> &thumbnails, qint64 durationMs, const QString &uriPrefix = {});

} // namespace iptv::dvr
