#pragma once

// The append-only index of one chunk of an archive (a recording, or an hour of a channel's
// rolling archive): one text line per segment, in the order they were written, and an end line
// when the recording finished. Nothing in it is ever rewritten; a gap is a flag on the segment
// after it.
//
// The file is the recovery record after a crash: a segment is on disk (written, synced,
// renamed) before its line is appended and synced, so after a `kill -9` every listed segment is
// there, and the last line may be torn (a write cut short). read() drops such a line and says
// so; openForAppend() cuts the file back to its last whole line before appending again.
//
//   #iptv-dvr-index 1
//   seg <TAB> sequence <TAB> start ms UTC <TAB> duration ms <TAB> bytes <TAB> file <TAB> gap|- [<TAB> epoch]
//   end <TAB> ms UTC [<TAB> epoch]
//   open <TAB> ms UTC [<TAB> epoch]
//   epoch <TAB> epoch <TAB> ms UTC
//
// An `open` line is appended when a finished recording is recorded again (a viewer asked for an
// airing whose copy had been stopped or had failed): an end line counts only when no `open` line
// or segment comes after it.
//
// Fencing (recorder nodes sharing the folder, see archive.h): a writer with an epoch (the lease's
// fencing token) first appends `epoch <TAB> E <TAB> ms UTC`, and its seg, end and open lines end
// with a column naming E. A line of a lower epoch than one begun before it (an epoch line or a
// line of a higher epoch earlier in the file) was written by a writer another had taken over
// from: it is not read (staleLines), so a stalled writer's late lines never interleave with the
// new holder's. Lines without the column (written before there were epochs, or by a writer
// without one) are of epoch 0.

#include <QFile>
#include <QList>
#include <QString>

#include <optional>

namespace iptv::dvr {

/// One segment of a recording or archive chunk.
struct ArchiveSegment
{
    qint64 sequence = 0;   ///< grows by one per segment across the whole archive or recording
    /// Wall clock (UTC ms since the epoch) at which its first frame arrived (recorder.h): a
    /// source slower than the clock leaves a segment's start later than the one before ended
    /// (no gap: the media goes on); never earlier than the one before started.
    qint64 startMs = 0;
    qint64 durationMs = 0; ///< its media's duration (EXTINF)
    qint64 bytes = 0;
    QString file;          ///< relative to the chunk's folder (in an index), or to the archive's (from ArchiveReader)
    bool gap = false;      ///< something is missing before it (source drop, restart, write failure)
    qint64 epoch = 0;      ///< its writer's fencing epoch (0: none)

    qint64 endMs() const { return startMs + durationMs; }
    bool operator==(const ArchiveSegment &o) const
    {
        return sequence == o.sequence && startMs == o.startMs && durationMs == o.durationMs && bytes == o.bytes
            && file == o.file && gap == o.gap && epoch == o.epoch;
    }
};

/// What an index file holds.
struct ArchiveIndexContents
{
    QList<ArchiveSegment> segments;
    qint64 finishedAtMs = 0;  ///< the last end line's time; 0 while recording (or after a crash, or reopened)
    qint64 validBytes = 0;    ///< length of the whole lines read
    qint64 tornBytes = 0;     ///< bytes after them (a line cut short by a crash), dropped
    int badLines = 0;         ///< whole lines that did not parse (skipped)
    qint64 epoch = 0;         ///< the highest epoch begun in it
    int staleLines = 0;       ///< lines of a writer whose epoch had been superseded when they were written (skipped)
};

class ArchiveIndex
{
public:
    static constexpr const char *kFileName = "index.tsv";

    /// Reads an index; nullopt with *error when the file cannot be read or is not an index. A
    /// missing file is an empty index.
    static std::optional<ArchiveIndexContents> read(const QString &path, QString *error);
    /// Parses index text (exposed for tests).
    static ArchiveIndexContents parse(const QByteArray &text);
    /// One segment's line, with its newline.
    static QByteArray line(const ArchiveSegment &segment);

    /// Opens `path` for appending: creates it with its header, or cuts a torn last line off. An
    /// index that has ended gets an `open` line (at `nowMs`): it is recording again. With an
    /// `epoch` above the index's, an epoch line comes first; an index of a higher epoch is not
    /// opened (fencedBy() says which). Lines are appended at the end whoever else appends
    /// (O_APPEND: a stalled writer's line never overwrites one).
    bool openForAppend(const QString &path, QString *error, qint64 nowMs = 0, qint64 epoch = 0);
    bool isOpen() const { return m_file.isOpen(); }
    /// What the index held once opened (its epoch line appended), as a reader reads it.
    const ArchiveIndexContents &contents() const { return m_contents; }
    /// The epoch that refused the last openForAppend() (0: none did).
    qint64 fencedBy() const { return m_fencedBy; }
    /// Appends the line and syncs it to disk before returning.
    bool append(const ArchiveSegment &segment, QString *error);
    /// Appends the end line (the recording is complete).
    bool appendEnd(qint64 atMs, QString *error);
    void close() { m_file.close(); }

private:
    bool appendLine(const QByteArray &line, QString *error);
    /// " <TAB> epoch" for this writer's lines (none without an epoch).
    QByteArray epochColumn() const;

    QFile m_file;
    qint64 m_epoch = 0;
    qint64 m_fencedBy = 0;
    ArchiveIndexContents m_contents;
};

} // namespace iptv::dvr
