#include "retention.h"

#include "archive.h"
#include "playout.h"

#include <QDateTime>
#include <QDir>
#include <QDirIterator>
#include <QFileInfo>
#include <QHash>
#include <QLoggingCategory>
#include <QMap>
#include <QRegularExpression>

#include <algorithm>

Q_LOGGING_CATEGORY(lcRetention, "iptv.dvr.retention", QtInfoMsg)

namespace iptv::dvr {

qint64 RetentionPlan::bytes() const
{
    qint64 sum = 0;
    for (const Deletion &d : deletions)
        sum += d.bytes;
    return sum;
}

qint64 folderBytes(const QString &path)
{
    qint64 sum = 0;
    QDirIterator it(path, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        it.next();
        sum += it.fileInfo().size();
    }
    return sum;
}

static QString utc(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODate);
}

QList<QPair<QString, QString>> Retention::expired(const QList<RetainedRecording> &recordings, qint64 nowMs)
{
    QList<QPair<QString, QString>> out;
    QMap<QString, QList<const RetainedRecording *>> groups;
    for (const RetainedRecording &r : recordings) {
        if (r.keepUntilMs > 0 && r.keepUntilMs <= nowMs)
            out.append({r.id, QStringLiteral("keep-until %1 passed").arg(utc(r.keepUntilMs))});
        else if (!r.group.isEmpty() && r.keepEpisodes > 0)
            groups[r.group].append(&r);
    }
    for (auto it = groups.begin(); it != groups.end(); ++it) {
        QList<const RetainedRecording *> &g = it.value();
        // Newest first: the airing's start, then the id for a deterministic order.
        std::sort(g.begin(), g.end(), [](const RetainedRecording *a, const RetainedRecording *b) {
            return a->range.fromMs != b->range.fromMs ? a->range.fromMs > b->range.fromMs : a->id > b->id;
        });
        for (qsizetype i = g.first()->keepEpisodes; i < g.size(); ++i)
            out.append({g[i]->id, QStringLiteral("series %1 keeps the newest %2 episodes").arg(it.key()).arg(g[i]->keepEpisodes)});
    }
    return out;
}

namespace {

struct Candidate
{
    QString path;
    qint64 startMs = 0;
    qint64 endMs = 0;
    bool pastWindow = false;
    qint64 windowMs = 0;
    bool closed = false; ///< of a closed archive: no recording references it
};

QString deletionReason(const Candidate &c)
{
    if (c.closed)
        return c.windowMs > 0 ? QStringLiteral("the channel is archived no more, no recording references it, and it is older "
                                               "than the archive's window of %1 h")
                                    .arg(c.windowMs / 3.6e6, 0, 'f', 1)
                              : QStringLiteral("the channel is archived no more and no recording references it");
    return QStringLiteral("older than the archive's window of %1 h").arg(c.windowMs / 3.6e6, 0, 'f', 1);
}

/// The chunks of `archives` that no kept recording references, oldest first, never the newest of an archive.
QList<Candidate> unreferencedChunks(const QList<RetainedArchive> &archives, const QList<RetainedRecording> &kept, qint64 nowMs)
{
    QList<Candidate> out;
    for (const RetainedArchive &a : archives) {
        ArchiveReader reader;
        QString error;
        if (!reader.load(a.directory, &error)) {
            qCWarning(lcRetention).noquote() << "skipping" << a.directory << ":" << error;
            continue;
        }
        const QList<ArchiveChunk> &chunks = reader.chunks();
        QList<Candidate> fromThis;
        // The newest chunk is being written, unless the archive is closed.
        for (qsizetype i = 0; i + (a.closed ? 0 : 1) < chunks.size(); ++i) {
            const ArchiveChunk &c = chunks[i];
            // A chunk without segments (a crash right after it was made) spans nothing.
            const qint64 start = c.index.segments.isEmpty() ? 0 : c.startMs();
            const qint64 end = c.index.segments.isEmpty() ? 0 : c.endMs();
            bool referenced = false;
            for (const RetainedRecording &r : kept) {
                if (!r.ownCopy && QDir::cleanPath(r.directory) == QDir::cleanPath(a.directory) && r.range.fromMs < end
                    && r.range.toMs > start) {
                    referenced = true;
                    break;
                }
            }
            if (referenced)
                continue;
            // A closed archive keeps its window too (its channel taken out of the configuration by
            // mistake loses no catch-up); one closed with no window (0) goes at once.
            const bool pastWindow = a.closed ? a.windowMs <= 0 || end <= nowMs - a.windowMs
                                             : a.windowMs > 0 && end <= nowMs - a.windowMs;
            fromThis.append({QDir(a.directory).filePath(c.name), start, end, pastWindow, a.windowMs, a.closed});
        }
        if (a.closed && fromThis.size() == chunks.size()
            && std::all_of(fromThis.cbegin(), fromThis.cend(), [](const Candidate &c) { return c.pastWindow; })) {
            // Nothing in it is referenced: the folder goes whole (with what a recorder left beside
            // the chunks, its journal), not chunk by chunk leaving an empty archive behind.
            out.append({a.directory, chunks.isEmpty() ? 0 : chunks.first().startMs(), chunks.isEmpty() ? 0 : chunks.last().endMs(),
                        true, 0, true});
            continue;
        }
        out.append(fromThis);
    }
    std::sort(out.begin(), out.end(), [](const Candidate &x, const Candidate &y) { return x.endMs < y.endMs; });
    return out;
}

QList<RetainedRecording> keptOnly(const QList<RetainedRecording> &recordings, const QList<QPair<QString, QString>> &expired)
{
    QList<RetainedRecording> kept;
    for (const RetainedRecording &r : recordings) {
        const bool gone = std::any_of(expired.begin(), expired.end(), [&](const auto &e) { return e.first == r.id; });
        if (!gone)
            kept.append(r);
    }
    return kept;
}

} // namespace

RetentionPlan Retention::plan(const QList<RetainedArchive> &archives, const QList<RetainedRecording> &recordings, qint64 nowMs)
{
    RetentionPlan plan;
    const QList<QPair<QString, QString>> gone = expired(recordings, nowMs);
    for (const auto &[id, reason] : gone) {
        plan.expiredRecordings << id;
        for (const RetainedRecording &r : recordings) {
            if (r.id == id && r.ownCopy && QFileInfo::exists(r.directory))
                plan.deletions.append({r.directory, folderBytes(r.directory), reason, id});
        }
    }
    for (const Candidate &c : unreferencedChunks(archives, keptOnly(recordings, gone), nowMs)) {
        if (c.pastWindow)
            plan.deletions.append({c.path, folderBytes(c.path), deletionReason(c), {}});
    }
    return plan;
}

RetentionPlan Retention::planForSpace(const QList<RetainedArchive> &archives, const QList<RetainedRecording> &recordings,
                                      qint64 nowMs, qint64 needBytes, const std::function<bool(const QString &directory)> &onTheDisk)
{
    RetentionPlan plan = Retention::plan(archives, recordings, nowMs);
    QHash<QString, bool> there; // the answer for each folder asked (an archive's, a recording's)
    const auto onIt = [&](const QString &path) {
        if (!onTheDisk)
            return true;
        const QString folder = QFileInfo(path).path(); // the archive of a chunk, or a recording's parent
        auto it = there.find(folder);
        if (it == there.end())
            it = there.insert(folder, onTheDisk(folder));
        return *it;
    };
    qint64 freed = 0;
    for (const RetentionPlan::Deletion &d : std::as_const(plan.deletions))
        freed += onIt(d.path) ? d.bytes : 0;
    const QList<QPair<QString, QString>> gone = expired(recordings, nowMs);
    for (const Candidate &c : unreferencedChunks(archives, keptOnly(recordings, gone), nowMs)) {
        if (freed >= needBytes)
            break;
        if (c.pastWindow || !onIt(c.path))
            continue; // already planned, or on another disk
        const qint64 bytes = folderBytes(c.path);
        plan.deletions.append({c.path, bytes, QStringLiteral("disk below its minimum free space: the oldest timeshift goes first"), {}});
        freed += bytes;
    }
    return plan;
}

qint64 Retention::apply(const RetentionPlan &plan, QStringList *errors)
{
    qint64 freed = 0;
    for (const RetentionPlan::Deletion &d : plan.deletions) {
        QDir dir(d.path);
        if (!dir.exists())
            continue;
        // A chunk of an archive: its discontinuities go to the archive's ledger first, so that
        // a timeshift window's discontinuity sequence counts on without it (playout.h).
        static const QRegularExpression chunkName(QStringLiteral("^[0-9]{8}T[0-9]{6}Z$"));
        const QString parent = QFileInfo(d.path).absolutePath();
        if (chunkName.match(dir.dirName()).hasMatch() && QFileInfo::exists(dir.filePath(QLatin1String(ArchiveIndex::kFileName)))) {
            QString why;
            if (!recordDeletedChunk(parent, dir.dirName(), &why)) {
                errors->append(QStringLiteral("deleting %1 (%2): not yet, %3").arg(d.path, d.reason, why));
                continue;
            }
        }
        if (!dir.removeRecursively()) {
            errors->append(QStringLiteral("deleting %1 (%2): some files could not be removed").arg(d.path, d.reason));
            continue;
        }
        qCInfo(lcRetention).noquote() << "deleted" << d.path << "," << d.bytes << "bytes:" << d.reason;
        freed += d.bytes;
    }
    return freed;
}

} // namespace iptv::dvr
