#pragma once

// Records one channel (HLS or MPEG-TS over HTTP, or anything libavformat opens) into an archive
// (archive.h) by remuxing: packets are copied, never decoded or encoded. Segments are cut at
// video keyframes once they are long enough; each is written and synced before its index line
// is, so a `kill -9` loses at most the segment in progress (and any still queued for a disk that
// has fallen behind: normally none, three at most).
//
// Two threads per recording: the reader does the blocking reads (under MediaInput's deadlines),
// the writer writes and syncs the segments the reader cut, so a slow disk (fsync can take
// seconds on a busy one) never stops the reading and makes the source drop us. The reader writes
// one thing itself: the journal of the segment in progress, once the segment has one, while the
// writer has nothing queued (it is idle then): the muxer's output is appended to the journal's
// file as it is made, while it is in the cache, instead of being kept in memory for the writer
// to copy a second later (that second copy cost HLS recordings a third of their CPU:
// docs/BENCHMARKS.md, Diver). Those are plain writes into the page cache; the syncs, the
// segment's file and index line, retention, stay on the writer. A source that
// drops or stalls is reconnected with jittered backoff, and the first segment after it is marked
// as following a gap: one recording, never a second file. start() on a folder that already holds
// segments continues that recording after a gap (restart after a crash). A write that fails (a
// full disk after retention had its chance, an unwritable folder) puts the recording in the Error
// state with what/where/why; the recorder keeps reading and writes again, after a gap, as soon as
// it can. Nothing already written is touched.
//
// Segments are dated by the wall clock at which their media aired, and last as long as their
// media does (EXTINF: what a player finds in the segment's file). An HLS source whose playlist
// dates its segments (EXT-X-PROGRAM-DATE-TIME, RFC 8216 4.3.2.6: recast and ffmpeg write it) is
// dated by those dates, tied to the media's timestamps at the connection's first dated segment
// (MediaInput::programDate()): an HLS source arrives a segment at a time, so arrival dates it up
// to a segment off. Every later segment's date is compared with the media's clock from there
// (MediaInput::takeSegmentDate()); one more than 250 ms off (the source's dates drift from its
// media, or jump) is taken instead, the segment in progress ending at that keyframe. Dates more
// than 2 s after their arrival or more than 120 s before it, or that go back, are not believed
// (said once in the log). Anything else is dated by when its media arrived. A source that keeps
// time gets a timeline without holes (a segment starts where the one before ended while that
// stays within half a second of its media's arrival). A source slower than real time, or one
// that stalls and then goes on where it is, gets segments dated later than the one before
// ended: a hole in the dates that is no gap (the media goes on). A burst (a backlog read at
// once: what a (re)connection begins with, as the HLS demuxer reads three segments back from
// the live edge and a headend sends what it buffered; or, later, a source that stalled without
// dropping and then sends what it held) is held until media arrives in real time (at most four
// segments), journaled whole meanwhile (ArchiveWriter::holdSegment: a kill -9 loses none of
// it), then laid back to back before it. No segment overlaps what is recorded: what the
// archive already holds is left out (dated by the source, from the first keyframe after it); a
// segment that would begin inside it begins where it ends when that is half a second or less,
// else is cut at its first keyframe after it (the media before left out) where its bytes are
// still in memory. Summing the media's durations instead left an archive of a slow source
// behind the clock by all it lost (87-165 s after 40 minutes at load 20-33), and catch-up
// served the wrong minutes. The dates are in the index on disk, so a restart after a `kill -9`
// keeps them and continues after them.

#include "archive.h"

#include <QObject>
#include <QString>

#include <functional>
#include <memory>

namespace iptv::dvr {

struct RecorderSettings
{
    QString source;              ///< a URL (http://…/index.m3u8, http://…/ch.ts) or anything InputSpec::parse takes
    QString directory;           ///< the archive (recording) folder
    qint64 chunkMs = 0;          ///< a rolling archive's chunk length; 0 = a recording of its own
    double segmentSeconds = 6;   ///< cut at the first keyframe at or after this (or one a GOP early, when nearer)
    qint64 stopAtMs = 0;         ///< wall clock to finish at (UTC ms); 0 = until stop()
    /// The end is the owner's to confirm: at stopAtMs the recorder says endReached() and records
    /// on until confirmEnd() with that end (or setStopAt() moves it): a shared copy's end another
    /// node moved a moment before is never cut short (the owner checks its store first).
    bool confirmEnd = false;
    qint64 minFreeBytes = 0;     ///< see ArchiveWriterSettings
    int openTimeoutMs = 10000;
    int readTimeoutMs = 5000;    ///< no data for this long is a drop
    int backoffBaseMs = 500;     ///< reconnect windows grow from this …
    int backoffCapMs = 10000;    ///< … to this
    /// The segment in progress is written to its journal this often (seconds of content; 0: only
    /// whole segments are written), so a crash or kill -9 of the process loses at most this much.
    double journalSeconds = 1;
    /// Above 0: the recording threads' nice value (Linux, per thread), with the batch scheduling
    /// policy: they yield the CPU to the process's other threads (a server's HTTP thread:
    /// playback starts) when the cores are saturated; their socket and write queue absorb the wait.
    int niceness = 0;
    /// Asked on the recorder's own threads before every write (and between packets): false when
    /// this process may no longer write the recording (its owner's thread has not shown for too
    /// long that it still holds it: see LeaseKeeper::writeDeadline()). The recorder then stops
    /// from its own threads as stop(false) does (nothing more is written, the segment in
    /// progress is dropped), says stopped(), and fenced() is true. Unset: never.
    std::function<bool()> writeFence;
    /// The lease's fencing epoch (LeaseJob::epoch; 0: none): the folder is written as this epoch's,
    /// and a higher epoch in it (another node took the recording over while this one was stalled)
    /// stops the recorder as the write fence does: the write is refused, fenced() is true (see
    /// ArchiveWriterSettings::epoch). start() refuses a folder whose epoch is higher already.
    qint64 epoch = 0;
};

class Recorder : public QObject
{
    Q_OBJECT
public:
    enum class State { Idle, Connecting, Recording, Reconnecting, Error, Finished };
    Q_ENUM(State)

    struct Stats
    {
        quint64 segments = 0;       ///< written by this run
        quint64 bytes = 0;
        quint64 packets = 0;
        quint64 gaps = 0;           ///< source drops and restarts marked
        quint64 reconnects = 0;
        quint64 segmentsLost = 0;   ///< cut but not written (storage errors)
        quint64 repairedTimestamps = 0;
        quint64 writerWaits = 0;    ///< times the reader waited for the disk (the write queue was full)
        qint64 slowestWriteMs = 0;  ///< the longest a segment took to be written and synced
        quint64 programDateChanges = 0; ///< times an HLS source's program dates were taken again (drift, jumps)
        // An HLS source (MediaInput::HlsCounters, summed over the connections):
        quint64 playlistRequests = 0;   ///< its media playlist fetched
        quint64 sourceSegments = 0;     ///< its segments opened
        quint64 sourceSegmentsSkipped = 0; ///< listed, never read: the playlist moved on without them
        quint64 openWaitMs = 0;         ///< waited for a turn to open an HLS source (setHlsOpenLimit())
    };

    explicit Recorder(QObject *parent = nullptr);
    ~Recorder() override; ///< stops like stop(false): a crash-like end (nothing more is written)

    /// Opens the archive (continuing what is there) and starts recording; false with *error when
    /// the folder cannot be used or the source is not a source.
    bool start(const RecorderSettings &settings, QString *error);
    /// Stops. `finish`: the segment in progress is written and the recording is marked complete;
    /// otherwise the thread just ends (what a crash leaves; a later start() resumes). Blocks until
    /// the thread has ended (bounded: blocking reads are interrupted).
    void stop(bool finish = true);
    /// Starts stop(finish) without waiting for the threads: they write what they hold on their
    /// own and say stopped() when it is on the disk (or stop() waits). A server's event loop never
    /// waits for a disk this way, and one stopping many recordings has their last writes and
    /// syncs run side by side.
    void requestStop(bool finish = true);
    /// Moves the end (UTC ms; 0 = until stop()) of a recording in progress: a second viewer's
    /// longer padding on a shared copy.
    void setStopAt(qint64 stopAtMs);
    /// With RecorderSettings::confirmEnd: the recording may end at `stopAtMs` (the end it said
    /// endReached() for); an end moved since is not confirmed by it.
    void confirmEnd(qint64 stopAtMs);
    /// Space retention can free (called on the recorder's writer thread; see ArchiveWriter::SpaceRecovery).
    /// Set before start().
    void setSpaceRecovery(ArchiveWriter::SpaceRecovery recovery);
    /// Replaces the free-space probe (tests). Set before start().
    void setFreeSpace(ArchiveWriter::FreeSpace freeSpace);
    /// For a program that runs many recorders, once at its start: malloc maps buffers of 256 KiB
    /// and more and unmaps them when freed, instead of keeping them in its arenas (glibc raises
    /// that threshold as buffers are freed; 100 recorders' second-long buffers then left ~4 MB
    /// of free memory resident per recording: bench/diver/record.sh, heap_free_mb).
    static void limitAllocatorRetention();
    /// At most this many of the process's recorders open an HLS source at once (default: 4 a
    /// core, at least 4); the others wait their turn before loading the playlist, while turns
    /// come (none for 4 s: the opens in progress hang, and the next goes ahead without one).
    /// Opening (the playlist, then a segment or two read and decoded to learn the streams) is a
    /// recording's costly moment: a hundred at once shared the cores, each took a hundred times
    /// as long, and the segments the playlist listed at the start expired before they were read.
    static void setHlsOpenLimit(int limit);
    static int hlsOpenLimit();

    /// The threads have ended and stopped() was emitted (on the owner's thread).
    bool isStopped() const { return m_stopReported; }
    /// The recorder stopped itself because its write fence (RecorderSettings::writeFence) closed,
    /// or the folder names a higher epoch than RecorderSettings::epoch.
    bool fenced() const;

    State state() const;
    QString reason() const;   ///< why the state is what it is (empty when Recording)
    Stats stats() const;
    QString directory() const { return m_settings.directory; }
    const RecorderSettings &settings() const { return m_settings; }

Q_SIGNALS:
    void stateChanged(iptv::dvr::Recorder::State state, const QString &reason);
    void segmentWritten(const iptv::dvr::ArchiveSegment &segment);
    /// A gap will be marked before the next segment (source dropped, write failed).
    void gapStarted(const QString &reason);
    /// With RecorderSettings::confirmEnd: stopAtMs came; the recording goes on until
    /// confirmEnd(stopAtMs) or setStopAt(). Said once per end.
    void endReached(qint64 stopAtMs);
    /// stopAtMs was reached, or stop(true) completed the recording.
    void finished();
    /// The recording threads have ended (a stop asked for, or stopAtMs reached): every segment
    /// cut is written and synced with its index line, and after finished() the recording is
    /// complete. Once per start(); a new recorder on the same folder may start from now on.
    void stopped();

private:
    struct Worker;
    RecorderSettings m_settings;
    ArchiveWriter::SpaceRecovery m_recovery;
    ArchiveWriter::FreeSpace m_freeSpace;
    std::unique_ptr<Worker> m_worker;
    quint64 m_run = 0;            ///< start()s so far: a stopped() of an earlier run is not this one's
    bool m_stopReported = false;
};

} // namespace iptv::dvr

Q_DECLARE_METATYPE(iptv::dvr::ArchiveSegment)
