#pragma once

// Thumbnails for scrubbing through a recording or an archive: the first keyframe of a segment
// every N seconds, decoded (never the whole stream), scaled and written as JPEG next to the
// segment (thumb-<sequence>.jpg, made once), and a WebVTT thumbnail track that maps each span
// of the timeline to its image, the form web and TV players read for seek previews.

#include "archive.h"

#include <QByteArray>
#include <QList>
#include <QString>

namespace iptv::dvr {

struct Thumbnail
{
    qint64 atMs = 0;   ///< wall clock of the frame (the segment's start)
    QString file;      ///< relative to the archive, like ArchiveSegment::file
};

/// Decodes the first video keyframe of the MPEG-TS file `segmentPath`, scales it to `width`
/// pixels wide (the height keeps the picture's aspect) and writes it as JPEG to `jpegPath`.
bool writeThumbnail(const QString &segmentPath, const QString &jpegPath, int width, QString *error);

/// One thumbnail per `everyMs` of `segments` (of the archive at `archiveDirectory`): the segment
/// that starts each step. Thumbnails already there are reused; the others are made now.
QList<Thumbnail> ensureThumbnails(const QString &archiveDirectory, const QList<ArchiveSegment> &segments, qint64 everyMs,
                                  int width, QString *error);

/// A WebVTT track: each thumbnail from its time until the next one's (the last until `endMs`),
/// times relative to `originMs` (the playlist's start), URIs prefixed with `uriPrefix`.
QByteArray thumbnailTrack(const QList<Thumbnail> &thumbnails, qint64 originMs, qint64 endMs, const QString &uriPrefix = {});

} // namespace iptv::dvr
