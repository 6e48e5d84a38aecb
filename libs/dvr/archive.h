#pragma once

// A folder of recorded segments with their index by time: a channel's rolling archive (one
// chunk folder per hour, so that retention deletes whole chunks and never rewrites an index) or a
// recording of its own (one chunk). Timeshift, catch-up and network DVR all read time ranges of
// an archive; a recording on an archived channel is such a range, so one airing is stored once
// however many viewers recorded it.
//
//   <archive>/<chunk>/index.tsv           the chunk's index (ArchiveIndex)
//   <archive>/<chunk>/seg-<sequence>.ts   its segments
//   <archive>/.journal.ts, .journal.log    the segment in progress, written every second or so;
//                                          .journal.ts becomes the segment's file when it is cut
//
// A chunk is named by the UTC time it starts at, 20261206T070000Z. Sequence numbers grow across
// chunks, and across restarts: a writer opened on an existing archive continues it.
//
// Fencing (ArchiveWriterSettings::epoch, the recorder node's lease epoch: lease.h). Nodes hand a
// folder over by their leases, and a writer stalled inside a write (SIGSTOP, a frozen VM, a hung
// NFS write) may wake after another node took the folder over. So a writer with an epoch:
//   <archive>/.epoch-<E>                  made (O_EXCL, synced) before it writes anything; the
//                                          folder's epoch is the highest such name (none: 0);
//                                          lower ones are removed
//   <chunk>/index.tsv                      gets `epoch E` before its lines, which name E
//                                          (archiveindex.h: readers skip a lower epoch's lines
//                                          written after it)
//   <chunk>/seg-<sequence>-e<E>.ts         its segments: never the name of another epoch's file
//   <archive>/.journal-e<E>.ts, … .log,    its journals; open() lists those of lower epochs
//   .held-e<E>-<slot>.ts, .held-e<E>.log   (the last holder's segment in progress) and removes them
// It opens only a folder whose epoch is not above its own, and reads the folder's epoch again
// before each segment file and each index line (and the end line): once a higher one is there it
// writes nothing more (StorageError::Fenced) and stays so. A writer without an epoch (0) writes
// and reads as before epochs: old folders and indexes are of epoch 0.

#include "archiveindex.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <functional>
#include <limits>

namespace iptv::dvr {

/// A failed write, in words an operator can act on.
struct StorageError
{
    /// Fenced: another writer of a higher epoch took the folder over; this one writes nothing more.
    enum Kind { None, DiskFull, WriteFailed, Fenced };
    Kind kind = None;
    QString what;   ///< "writing segment 812 of /srv/dvr/ch1"
    QString where;  ///< the path
    QString why;    ///< "12 MB free on /srv/dvr, the minimum is 500 MB; retention freed nothing"

    QString toString() const { return what + QLatin1String(": ") + why; }
};

struct ArchiveWriterSettings
{
    QString directory;
    qint64 chunkMs = 0;      ///< a new chunk every chunkMs of wall clock (aligned); 0 = one chunk (a recording)
    qint64 minFreeBytes = 0; ///< keep at least this much free on the file system (after the segment)
    qint64 epoch = 0;        ///< the writer's fencing epoch (see the top of this file); 0: none
};

class ArchiveWriter
{
public:
    /// Asked when a segment of `needBytes` would leave less than the minimum free: frees space
    /// (retention) and returns the bytes freed.
    using SpaceRecovery = std::function<qint64(qint64 needBytes)>;
    /// Free bytes on the file system holding `path` (QStorageInfo unless replaced, e.g. in tests).
    using FreeSpace = std::function<qint64(const QString &path)>;

    ArchiveWriter();
    ~ArchiveWriter();
    ArchiveWriter(const ArchiveWriter &) = delete;
    ArchiveWriter &operator=(const ArchiveWriter &) = delete;

    /// Creates the folder or takes up what is there: the next segment continues the sequence
    /// (and the last chunk, when it is still current) and is marked as following a gap.
    bool open(const ArchiveWriterSettings &settings, QString *error);
    void setSpaceRecovery(SpaceRecovery recovery) { m_recovery = std::move(recovery); }
    void setFreeSpace(FreeSpace freeSpace) { m_freeSpace = std::move(freeSpace); }

    /// Writes one segment (temporary name, synced, renamed) and then appends its index line (synced).
    /// On failure nothing is listed, and the next segment is marked as following a gap.
    bool writeSegment(const QByteArray &ts, qint64 startMs, qint64 durationMs, bool gap, StorageError *error);
    /// The same for a segment in the pieces it was muxed in (never joined in memory). A journal
    /// begun for the segment in progress is discarded: it is not this segment's.
    bool writeSegment(const QList<QByteArray> &pieces, qint64 startMs, qint64 durationMs, bool gap, StorageError *error);
    /// Writes the segment whose first bytes journal() was given (since its `begin`): `rest` is
    /// what follows them. The journal's file becomes the segment's: the rest is appended, the
    /// file synced and linked under the segment's name, so the bytes go to the disk once and the
    /// segment is never held in memory whole. Where that fails, the segment is written whole,
    /// what the journal's file holds copied from it.
    bool writeJournaledSegment(const QList<QByteArray> &rest, qint64 startMs, qint64 durationMs, bool gap, StorageError *error);
    /// The segment the last successful write listed.
    const ArchiveSegment &lastWritten() const { return m_lastWritten; }
    /// The recording is complete: the end line.
    bool finish(qint64 atMs, QString *error);

    /// The journal of the segment in progress: `pieces` (the MPEG-TS bytes muxed since the last
    /// call; `begin` starts a new segment's journal) appended to its file (written, not synced: it
    /// is for a crash of the process, not of the machine), then a line with where the segment
    /// starts (UTC ms) and how long it runs so far. A crash then loses what came after the last
    /// call, not the whole segment: open() lists what the journal holds as the next segment.
    /// The caller need not keep the pieces: what the file could not take is held here and
    /// written with the next call or the cut (false with *error meanwhile).
    /// writeJournaledSegment() makes the journal's file the segment's; writeSegment() discards it.
    bool journal(const QList<QByteArray> &pieces, qint64 startMs, qint64 durationMs, bool gap, bool begin, QString *error);
    /// Appends `size` bytes to the journal of the segment in progress (begun by journal()) without
    /// a line: the next journal() line, or the segment's write, vouches for them (a crash before
    /// that loses them, as it loses bytes still in memory). A recorder's muxer writes its output
    /// here as it makes it, while it is in the cache, instead of into a buffer copied a second
    /// later. What the file cannot take is held (copied) and written with the next call to
    /// journal() or the cut, in order (false with *error then).
    bool appendJournal(const char *data, qsizetype size, QString *error);
    /// Whether open() made a segment of a journal left by a crash.
    bool recoveredJournal() const { return m_recoveredJournal; }

    /// The journal of segments cut but held back, undated (a recorder holds the burst a
    /// connection begins with until media arrives in real time, then dates it): `pieces` are
    /// written (not synced) to <archive>/.held-<slot>.ts and a line with the segment's
    /// provisional start (UTC ms), duration and gap to .held.log. A crash while they are held:
    /// open() lists them before the journal of the segment in progress, back to back ending
    /// where the last of them was provisionally dated, after what the archive holds (what ends
    /// before that is left out, what overlaps it starts at its end). A held segment written
    /// (writeSegment(), then dropHeld(slot)) or let go (releaseHeld()) leaves the journal.
    bool holdSegment(int slot, const QList<QByteArray> &pieces, qint64 startMs, qint64 durationMs, bool gap, QString *error);
    void dropHeld(int slot);
    void releaseHeld();
    /// How many held segments open() listed after a crash.
    int recoveredHeld() const { return m_recoveredHeld; }

    /// Whether open() found segments already there (a restart).
    bool resumed() const { return m_resumed; }
    qint64 nextSequence() const { return m_nextSequence; }
    qint64 lastEndMs() const { return m_lastEndMs; }
    const ArchiveWriterSettings &settings() const { return m_settings; }

    /// "20261206T070000Z"
    static QString chunkName(qint64 startMs);
    /// The start (UTC ms) a chunk's name says; nullopt when it is not a chunk's name. Read as UTC
    /// throughout: read as local time, a name in the hour a spring DST change skips is no time.
    static std::optional<qint64> chunkStartMs(const QString &name);
    /// The folder's epoch: the highest `.epoch-<E>` in it (0: none, or no such folder).
    static qint64 folderEpoch(const QString &directory);
    /// A higher epoch took the folder over: nothing more is written (fencedBy() is that epoch).
    bool fenced() const { return m_fencedBy > 0; }
    qint64 fencedBy() const { return m_fencedBy; }

private:
    /// With an epoch: true while the folder's is not above it; else fenced, with *error.
    bool checkFence(StorageError *error);
    /// Makes `.epoch-<E>` (the folder is this writer's from now on) and removes the lower ones.
    bool claimFolder(QString *error);
    /// Lists what the journals of this epoch and the lower ones hold (a crash, or the last holder's
    /// segment in progress), lowest epoch first, and removes them.
    bool recoverScratch(QString *error);
    /// Takes what the index read as it opened (its epoch line appended) for where to go on.
    void followIndex(const ArchiveIndexContents &contents);
    bool ensureChunk(qint64 startMs, QString *error);
    bool ensureSpace(qint64 bytes, StorageError *error);
    bool recoverJournal(qint64 sequence, QString *error);
    bool recoverHeld(QString *error);
    QString heldPath(int slot) const;
    bool writeSegment(const QList<QByteArray> &rest, bool journaled, qint64 startMs, qint64 durationMs, bool gap, StorageError *error);
    bool linkJournal(const QList<QByteArray> &rest, const ArchiveSegment &segment, const QString &path, QString *error);
    QString journalPath(const char *name) const;
    bool appendJournalLine(qint64 startMs, qint64 durationMs, bool gap, QString *error);
    void discardJournal();
    void closeJournal();

    ArchiveWriterSettings m_settings;
    ArchiveIndex m_index;
    QString m_chunk;          ///< the chunk being written
    qint64 m_chunkEndMs = 0;  ///< when the next one starts (0: never)
    qint64 m_nextSequence = 0;
    qint64 m_lastEndMs = 0;
    bool m_resumed = false;
    bool m_gapPending = false;
    bool m_recoveredJournal = false;
    int m_recoveredHeld = 0;
    int m_journalData = -1; ///< <archive>/.journal.ts: the segment in progress
    int m_journalLog = -1;  ///< <archive>/.journal.log: "<sequence> <bytes> <startMs> <durationMs> <gap>" an entry
    qint64 m_journalBytes = 0;          ///< what the journal's file holds of the segment in progress
    QList<QByteArray> m_journalHeld;    ///< what follows: pieces the file could not take (normally none)
    bool m_journalBegun = false;        ///< journal() began a segment not yet written or discarded
    ArchiveSegment m_lastWritten;
    QString m_scratch;        ///< the journals' names' epoch part: "" (none) or "-e<E>"
    qint64 m_fencedBy = 0;    ///< the higher epoch that took the folder over (0: none)
    SpaceRecovery m_recovery;
    FreeSpace m_freeSpace;
};

/// One chunk of an archive as read.
struct ArchiveChunk
{
    QString name;
    ArchiveIndexContents index;
    qint64 startMs() const { return index.segments.isEmpty() ? 0 : index.segments.first().startMs; }
    qint64 endMs() const { return index.segments.isEmpty() ? 0 : index.segments.last().endMs(); }
};

/// What an archive holds, read from its indexes (while it is written, too).
class ArchiveReader
{
public:
    /// Reads every chunk of the archive at `directory`; false with *error when one cannot be read.
    bool load(const QString &directory, QString *error);
    /// Reads only the chunks that may hold segments overlapping [fromMs, toMs) (by their names:
    /// a week of hourly chunks is 168 index files, a catch-up request needs one or two).
    bool load(const QString &directory, qint64 fromMs, qint64 toMs, QString *error);
    /// The start of the oldest segment in the archive at `directory` (0: none yet), from its
    /// oldest chunks' indexes only: where catch-up and "from the start" can begin.
    static qint64 firstSegmentMs(const QString &directory);

    const QList<ArchiveChunk> &chunks() const { return m_chunks; }
    /// The segments overlapping [fromMs, toMs) in order, `file` relative to the archive ("<chunk>/seg-N.ts").
    QList<ArchiveSegment> segments(qint64 fromMs = 0, qint64 toMs = std::numeric_limits<qint64>::max()) const;
    /// The recording is complete (its last chunk has an end line).
    bool finished() const;
    qint64 startMs() const;
    qint64 endMs() const;
    QString directory() const { return m_directory; }

private:
    QString m_directory;
    QList<ArchiveChunk> m_chunks;
};

/// Writes `data` to `path` durably: a temporary name in the same folder, synced, renamed over
/// `path`, and the folder synced, so that a crash leaves either nothing or the whole file.
bool writeFileDurably(const QString &path, const QByteArray &data, QString *error);
/// The same for data in pieces (written one after the other, never joined in memory).
bool writeFileDurably(const QString &path, const QList<QByteArray> &pieces, QString *error);
/// The same for the first `prefixBytes` of the file open at `prefixFd` (-1: none) followed by `pieces`.
bool writeFileDurably(const QString &path, int prefixFd, qint64 prefixBytes, const QList<QByteArray> &pieces, QString *error);

} // namespace iptv::dvr
