#pragma once

// What may be deleted, and why. Two kinds of stored things:
// - a channel's rolling archive: whole chunks (archive.h) older than the archive's window go,
//   unless a kept recording's time range overlaps them (a recording on an archived channel is a
//   range of the archive, not a copy), and never the newest chunk (it is being written);
// - a recording of its own (a channel without an archive): its folder goes when the recording
//   expires;
// - a closed archive (its channel is archived no more, nothing writes it): it keeps its window
//   (catch-up is not lost to a channel taken out of the configuration by mistake), and beyond it
//   stays only for the recordings that are ranges of it; every chunk none references goes past
//   the window, the newest too, and the folder itself once none is left.
// A recording expires when its keep-until has passed, or when it is beyond the newest N of its
// series rule (keep-N-episodes). Under space pressure (a disk below its minimum free space),
// expired things go first, then the oldest unreferenced chunks of archives even inside their
// window (timeshift shrinks before a recording is lost); kept recordings are never deleted for
// space: the recorder reports the full disk instead.
//
// plan*() only decide (pure, testable); apply() deletes. Before it deletes an archive's chunk, it
// notes the chunk's discontinuities in the archive's <archive>/discontinuities.tsv
// (recordDeletedChunk(), playout.h): timeshift's sliding window counts them from the archive's
// first segment. A chunk whose note cannot be written is not deleted (an error says why). A recording that expires on an archived
// channel deletes nothing by itself: its entitlement goes (expiredRecordings), and its chunks with
// the archive's window. diver retains each viewer's recording on its own (keep-until, keep-N of
// the viewer's rule) and passes a copy's recordings with `ownCopy` false: the plan then deletes
// no copy's folder for one viewer's expiry; the server deletes the viewer's row, and the copy
// with the last one.

#include "playout.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <functional>

namespace iptv::dvr {

/// A viewer's recording as retention sees it.
struct RetainedRecording
{
    QString id;
    QString directory;      ///< its own folder, or the channel archive's folder
    bool ownCopy = false;   ///< `directory` is its own (deleted when it expires)
    TimeRange range;        ///< what of the archive it holds (for an own copy: informational)
    qint64 keepUntilMs = 0; ///< 0 = until deleted by the viewer
    QString group;          ///< series rule for keep-N-episodes; empty: none
    int keepEpisodes = 0;   ///< the newest N of the group are kept; 0 = all
};

/// A channel's archive and how long it keeps what it records.
struct RetainedArchive
{
    QString directory;
    qint64 windowMs = 0;    ///< timeshift/catch-up window
    /// Nothing writes it any more (no node archives its channel): no window; what no recording
    /// references goes, its newest chunk too, and the whole folder when nothing is referenced.
    bool closed = false;
};

struct RetentionPlan
{
    struct Deletion
    {
        QString path;       ///< a chunk folder, or a recording's own folder
        qint64 bytes = 0;
        QString reason;     ///< "archive window of 7 days", "keep-until 2026-12-01T00:00:00Z passed", …
        QString recordingId; ///< for a recording's own folder
    };
    QList<Deletion> deletions;
    QStringList expiredRecordings; ///< ids whose entitlement ends (with or without a folder to delete)
    qint64 bytes() const;
};

class Retention
{
public:
    /// Expired recordings, and archive chunks past their window that no kept recording references.
    static RetentionPlan plan(const QList<RetainedArchive> &archives, const QList<RetainedRecording> &recordings, qint64 nowMs);
    /// plan(), then the oldest unreferenced archive chunks inside their windows, until `needBytes`
    /// would be freed (fewer when there is no more that may go). With `onTheDisk`, only chunks of
    /// archives for which it is true (those on the file system short of space) go for space, and
    /// only what is deleted there counts towards `needBytes`: deleting another disk's timeshift
    /// frees nothing where it is needed.
    static RetentionPlan planForSpace(const QList<RetainedArchive> &archives, const QList<RetainedRecording> &recordings,
                                      qint64 nowMs, qint64 needBytes,
                                      const std::function<bool(const QString &directory)> &onTheDisk = {});
    /// Deletes what the plan lists; the bytes freed; *errors lists what could not be deleted.
    static qint64 apply(const RetentionPlan &plan, QStringList *errors);

    /// The ids of recordings that have expired at `nowMs` with the reason for each.
    static QList<QPair<QString, QString>> expired(const QList<RetainedRecording> &recordings, qint64 nowMs);
};

/// Bytes in the files under `path`.
qint64 folderBytes(const QString &path);

} // namespace iptv::dvr
