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
//   seg <TAB> sequence <TAB> start ms UTC <TAB> duration ms <TAB> bytes <TAB> file <TAB> gap|-
//   end <TAB> ms UTC
//   open <TAB> ms UTC
//
// An `open` line is appended when a finished recording is recorded again (a viewer asked for an
// airing whose copy had been stopped or had failed): an end line counts only when no `open` line
// or segment comes after it.

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

    qint64 endMs() const { return startMs + durationMs; }
    bool operator==(const ArchiveSegment &o) const
    {
        return sequence == o.sequence && startMs == o.startMs && durationMs == o.durationMs && bytes == o.bytes
            && file == o.file && gap == o.gap;
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
    /// index that has ended gets an `open` line (at `nowMs`): it is recording again.
    bool openForAppend(const QString &path, QString *error, qint64 nowMs = 0);
    bool isOpen() const { return m_file.isOpen(); }
    /// Appends the line and syncs it to disk before returning.
    bool append(const ArchiveSegment &segment, QString *error);
    /// Appends the end line (the recording is complete).
    bool appendEnd(qint64 atMs, QString *error);
    void close() { m_file.close(); }

private:
    bool appendLine(const QByteArray &line, QString *error);

    QFile m_file;
};

} // namespace iptv::dvr
