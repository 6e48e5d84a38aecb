#include "recorder.h"

#include <core/backoff.h>
#include <media/input.h>
#include <media/timestampsanitiser.h>
#include <media/tsmuxer.h>

#include <QDateTime>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QMutex>
#include <QMutexLocker>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include <cerrno>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcRecorder, "iptv.dvr.recorder", QtInfoMsg)

namespace iptv::dvr {

using namespace iptv::media;

static constexpr AVRational kMicroseconds{1, 1000000};

static qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

namespace {

/// The process's recorders opening an HLS source: at most Recorder::hlsOpenLimit() at once
/// (Recorder::setHlsOpenLimit()). An open loads the playlist, which starts the clock of the
/// segments it lists (the demuxer starts three back from the live edge; the playlist drops each
/// a window's length after listing it), then probes the streams (a segment or two read, frames
/// decoded): CPU. A hundred recordings starting together shared the cores, every probe took a
/// hundred times as long, and a quarter came back after the third segment had left the
/// playlist (bench/diver/record.sh, SOURCE=hls: 25 of 100 skipped one). Taken in turns, each
/// open is short, and one that waits has not loaded its playlist yet: nothing of its window
/// goes by meanwhile.
class HlsOpenGate
{
public:
    static HlsOpenGate &instance()
    {
        static HlsOpenGate gate;
        return gate;
    }

    void setLimit(int limit)
    {
        {
            std::lock_guard lock(m_mutex);
            m_limit = qMax(1, limit);
        }
        m_cv.notify_all();
    }

    int limit() const
    {
        std::lock_guard lock(m_mutex);
        return m_limit;
    }

    enum class Entry { Slot, Late, Stopped };
    /// Waits for a slot (leave() gives it back) while the opens in progress make progress. Late:
    /// no open has ended for `maxStallMs` (sources that hang their opens hold every slot, each
    /// up to its open deadline), and this one goes ahead without a slot. Stopped: `stopping`.
    Entry enter(const std::atomic<bool> &stopping, std::chrono::milliseconds maxStall)
    {
        const Clock::time_point since = Clock::now();
        std::unique_lock lock(m_mutex);
        for (;;) {
            if (stopping)
                return Entry::Stopped;
            if (m_inUse < m_limit) {
                ++m_inUse;
                return Entry::Slot;
            }
            const auto deadline = std::max(m_lastLeave, since) + maxStall;
            if (Clock::now() >= deadline)
                return Entry::Late;
            m_cv.wait_until(lock, deadline);
        }
    }

    void leave()
    {
        {
            std::lock_guard lock(m_mutex);
            --m_inUse;
            m_lastLeave = Clock::now();
        }
        m_cv.notify_all();
    }

    /// A recorder stopping while it waits (its `stopping` is set first).
    void wakeAll()
    {
        { std::lock_guard lock(m_mutex); } // a waiter between its test and its sleep sees the flag
        m_cv.notify_all();
    }

private:
    using Clock = std::chrono::steady_clock;
    HlsOpenGate() : m_limit(qMax(4, 4 * int(std::thread::hardware_concurrency()))) {}

    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    int m_limit;
    int m_inUse = 0;
    Clock::time_point m_lastLeave; ///< an open in turn ended last
};

} // namespace

struct Recorder::Worker
{
    Recorder *owner = nullptr;
    quint64 runNumber = 0; ///< the owner's m_run when this worker started
    RecorderSettings cfg;
    InputSpec spec;
    ArchiveWriter writer;
    std::thread thread;

    std::atomic<bool> stopping{false};
    std::atomic<bool> finishOnStop{true};
    std::atomic<bool> fenced{false}; ///< stopped itself: cfg.writeFence said no
    std::atomic<qint64> stopAtMs{0}; ///< cfg.stopAtMs, movable while recording (setStopAt)
    std::atomic<qint64> confirmedStopMs{0}; ///< cfg.confirmEnd: the end the owner confirmed
    std::atomic<qint64> askedStopMs{0};     ///< … and the one endReached() was said for
    std::mutex wakeMutex;
    std::condition_variable wake;
    std::mutex inputMutex;
    MediaInput *input = nullptr; ///< the connection being opened or read (for interrupt())

    mutable QMutex statusMutex;
    State state = State::Idle;
    QString reason;
    Stats stats;

    // The connection.
    std::unique_ptr<TimestampSanitiser> sanitiser;
    TsMuxer muxer;
    std::map<int, int> outStream; ///< input stream index -> output stream index
    int outVideo = -1;
    // The wall clock. A segment is dated by when its media arrived, not by the media's own
    // timestamps: a source slower than real time (an encoder that cannot keep up) or one that
    // stalls would otherwise leave the archive's times behind the clock, by as much as it lost
    // (87-165 s after 40 minutes at load 20-33), and catch-up would serve the wrong minutes.
    // Arrival minus timestamp (µs) is the content's relation to real time; its least value over
    // a segment's frames is the one of content arriving as it goes live (a source sends a burst
    // first, older than it arrives; a busy reader reads a backlog late). The least over the
    // segment (and the one before, for segments under 2 s: a reader kept off the CPU for a
    // whole one must not move the dates) places it (see placeSegment()).
    static constexpr qint64 kNoOffset = std::numeric_limits<qint64>::max();
    qint64 segmentMinOffsetUs = kNoOffset;  ///< least arrival minus timestamp of the segment in progress
    qint64 previousMinOffsetUs = kNoOffset; ///< … of the one before on this connection
    qint64 segmentArrivalUs = AV_NOPTS_VALUE; ///< when the segment in progress's first frame arrived
    qint64 segmentLastArrivalUs = AV_NOPTS_VALUE; ///< … and its latest
    // An HLS source's EXT-X-PROGRAM-DATE-TIME dates its segments instead of their arrival: an
    // HLS source arrives a segment at a time (and the demuxer starts a few segments back), so
    // arrival misdates by up to a segment. MediaInput::programDate() ties it to the timestamps.
    std::optional<MediaInput::ProgramDate> programDate; ///< of this connection, when believed
    AVRational programDateTimeBase{1, 90000};           ///< the video stream's time base
    int programDateWrapBits = 33;                       ///< … and its timestamps' wrap
    qint64 segmentStartPts = AV_NOPTS_VALUE; ///< the video timestamp (as read) the segment in progress starts at
    bool programDatesRefused = false;        ///< said once a run: the source's dates are not believed
    /// A later segment's date that disagrees with the media's clock from the last date taken by
    /// more than this re-dates from there on (the source's dates drift from its media, or jump).
    static constexpr qint64 kReanchorUs = 250'000;
    static constexpr qint64 kAheadMs = 2000, kBackMs = 120000; ///< dates believed within these of their arrival
    /// Within a connection, dates follow the media's timestamps while these stay this near the
    /// arrival (placeSegment()); a segment overlapping what is recorded by no more is laid after it.
    static constexpr qint64 kFollowUs = 500'000;
    // A connection begins with a burst, often (the HLS demuxer reads a few segments back from
    // the live edge, a headend sends what it buffered): segments whose media arrived far faster
    // than it plays. Dated by arrival they would pile onto the same few seconds, so they are
    // held until media arrives in real time (or kMaxHeld of them), then laid back to back
    // before it. Media the archive already holds (the end of the last connection) is left out.
    // A segment's video keyframes while none of it is journaled: where its bytes start
    // (PAT and PMT before it) and the content time, so a segment whose first part the archive
    // holds is cut at the first keyframe after it: its media and its EXTINF then match.
    struct Keyframe
    {
        qint64 offset = 0;
        qint64 atUs = 0;
    };
    std::vector<Keyframe> segmentKeys; ///< of the segment in progress
    struct Held
    {
        QList<QByteArray> pieces;
        qint64 startUs = 0;
        qint64 endUs = 0;
        bool gap = false;
        std::vector<Keyframe> keys;
        int slot = 0; ///< its file in the writer's journal of held segments
    };
    static constexpr size_t kMaxHeld = 4;
    std::vector<Held> held;
    bool settled = false;         ///< media arrives in real time on this connection (or is dated by the source)
    bool keptOnConnection = false; ///< a segment of this connection was queued
    qint64 wallCursorUs = AV_NOPTS_VALUE; ///< wall clock (µs) where the last segment of this connection ended
    qint64 lastQueuedStartMs = 0;         ///< where the last segment cut starts (UTC ms): dates never go back
    /// Where the next connection's timestamps continue. It starts at 10 s, so that audio a
    /// little ahead of the first video frame still has a positive timestamp.
    qint64 timelineEndUs = 10'000'000;

    // The segment in progress: what the journal has (on the disk; none without a journal), the
    // pieces taken from the muxer for it and not yet queued for it (the queue was full: normally
    // none), and the rest, in the muxer until the next entry or the cut. So a recording holds
    // about a journal interval of its stream, not a segment (4 MB at 5 Mbit/s and 6 s).
    QList<QByteArray> unjournaled;
    quint64 unpublishedPackets = 0;
    const MediaInput *reading = nullptr;     ///< the connection pump() reads (its HLS counters)
    MediaInput::HlsCounters hlsPublished;    ///< … as far as published
    quint64 unpublishedRepairs = 0;
    qint64 segmentStartUs = AV_NOPTS_VALUE;
    qint64 lastEndUs = AV_NOPTS_VALUE;
    qint64 lastVideoUs = AV_NOPTS_VALUE; ///< the last video packet's time: the video may stop, the audio go on
    qint64 lastKeyUs = AV_NOPTS_VALUE;   ///< the last keyframe's time: the GOP the next keyframe is expected after
    /// Audio this far past the last video frame: the video has stopped. (Interleaved, audio runs
    /// at most a few hundred milliseconds ahead of the video.)
    static constexpr qint64 kVideoStoppedUs = 1'000'000;
    bool gapPending = false;
    qint64 lastQueuedEndMs = 0;   ///< where the last segment cut ends (UTC ms)

    // The journal of the segment in progress.
    bool journalBegun = false;             ///< entries of the segment in progress are queued for it
    qint64 journaledAtUs = AV_NOPTS_VALUE; ///< content time of the last journal entry

    // Segments (and journal entries of the one in progress) on their way to the disk (the writer thread).
    struct Pending
    {
        QList<QByteArray> pieces;
        qint64 startMs = 0;
        qint64 durationMs = 0;
        bool gap = false;
        bool journal = false;      ///< pieces to append to the segment in progress's journal
        bool journalBegin = false; ///< … as the first of a segment
        bool journaled = false;    ///< a segment whose first pieces went to the journal: these are the rest
        int holdSlot = -1;         ///< pieces of a held segment for the writer's journal of them (ArchiveWriter::holdSegment)
        int heldSlot = -1;         ///< a segment that was held in this slot: its journal file goes once it is written
        bool releaseHeld = false;  ///< nothing more is held: the journal of held segments goes
    };
    // The entry being written stays at the front until it is done: an empty queue means the
    // writer thread is idle, and stays so until this thread queues something. The reader then
    // writes the journal of the segment in progress itself (journalDirectly()).
    static constexpr size_t kMaxQueued = 4; ///< the one being written and three waiting
    std::mutex queueMutex;
    std::condition_variable queueCv;
    std::deque<Pending> queue;
    /// Pieces written, handed back for the muxer to write into again (queueMutex). A recorder
    /// that allocated a fresh buffer every second and freed it on the writer thread left malloc's
    /// arenas holding megabytes of free memory per recording (bench/diver/record.sh, heap_free_mb).
    std::vector<QByteArray> spare;
    static constexpr size_t kMaxSpare = 1; // one fills in the muxer, one is written: two in all, normally
    bool writerDone = false;
    bool writerGapPending = false; ///< writer thread only
    bool journalFailed = false;    ///< said once (statusMutex)

    Backoff backoff;

    Worker(Recorder *o, const RecorderSettings &s)
        : owner(o), cfg(s), stopAtMs(s.stopAtMs), backoff(s.backoffBaseMs, s.backoffCapMs)
    {
    }

    void setState(State s, const QString &why)
    {
        {
            QMutexLocker lock(&statusMutex);
            if (state == s && reason == why)
                return;
            state = s;
            reason = why;
        }
        if (s == State::Error || s == State::Reconnecting)
            qCWarning(lcRecorder).noquote() << cfg.directory << QVariant::fromValue(s).toString() << why;
        else
            qCInfo(lcRecorder).noquote() << cfg.directory << QVariant::fromValue(s).toString() << why;
        QMetaObject::invokeMethod(owner, [o = owner, s, why] { Q_EMIT o->stateChanged(s, why); }, Qt::QueuedConnection);
    }

    /// cfg.writeFence: false once it has said no, and the recorder stops then, crash-like, from
    /// this thread (the reader's or the writer's): nothing more is written.
    bool mayWrite()
    {
        if (fenced.load())
            return false;
        if (!cfg.writeFence || cfg.writeFence())
            return true;
        stopFenced(QStringLiteral("this process may no longer write it (its owner's thread has not confirmed that it still holds it)"));
        return false;
    }

    /// Stops as a crash would, from this thread, once: nothing more is written (fenced()).
    /// False when it had stopped already (another thread said so first).
    bool stopFenced(const QString &why)
    {
        if (fenced.exchange(true))
            return false;
        qCWarning(lcRecorder).noquote() << cfg.directory << ":" << why << ": the recorder stops, nothing more is written";
        finishOnStop = false;
        stopping = true;
        {
            std::lock_guard lock(inputMutex);
            if (input)
                input->interrupt();
        }
        wake.notify_all();
        queueCv.notify_all();
        HlsOpenGate::instance().wakeAll();
        return true;
    }

    /// The end came (and, with cfg.confirmEnd, the owner confirmed it: until then it is asked,
    /// once per end, and the recording goes on).
    bool stopDue()
    {
        const qint64 at = stopAtMs.load();
        if (at <= 0 || nowMs() < at)
            return false;
        if (!cfg.confirmEnd || confirmedStopMs.load() == at)
            return true;
        if (askedStopMs.exchange(at) != at)
            QMetaObject::invokeMethod(owner, [o = owner, at] { Q_EMIT o->endReached(at); }, Qt::QueuedConnection);
        return false;
    }

    /// Sleeps for the next backoff delay; false when stopping (or the stop time came).
    bool waitBackoff()
    {
        qint64 delay = backoff.next();
        if (const qint64 at = stopAtMs.load(); at > nowMs()) // an end come but not confirmed: the usual delay
            delay = qMin(delay, at - nowMs());
        std::unique_lock lock(wakeMutex);
        wake.wait_for(lock, std::chrono::milliseconds(delay), [this] { return stopping.load(); });
        return !stopping && !stopDue();
    }

    void markGap(const QString &why)
    {
        if (gapPending)
            return;
        gapPending = true;
        noteGap(why);
    }

    void noteGap(const QString &why)
    {
        {
            QMutexLocker lock(&statusMutex);
            ++stats.gaps;
        }
        QMetaObject::invokeMethod(owner, [o = owner, why] { Q_EMIT o->gapStarted(why); }, Qt::QueuedConnection);
    }

    /// cfg.niceness for the calling thread (Linux keeps a nice value per thread), and the batch
    /// policy with it: a batch thread never preempts another on waking, so a hundred recorders
    /// woken by every packet do not queue in front of the server's HTTP thread.
    void applyNiceness() const
    {
#ifdef Q_OS_LINUX
        if (cfg.niceness <= 0)
            return;
        const sched_param batch{};
        if (::sched_setscheduler(0, SCHED_BATCH, &batch) != 0 || ::setpriority(PRIO_PROCESS, id_t(::gettid()), cfg.niceness) != 0)
            qCWarning(lcRecorder).noquote() << cfg.directory << ": cannot lower the recording threads' priority:"
                                            << std::strerror(errno);
#endif
    }

    /// Names the calling thread (top -H, perf --per-thread: 200 threads of a node tell apart).
    static void nameThread(const char *name)
    {
#ifdef Q_OS_LINUX
        ::pthread_setname_np(::pthread_self(), name);
#else
        Q_UNUSED(name);
#endif
    }

    void run()
    {
        nameThread("dvr-reader");
        applyNiceness();
        muxer.setSink([this](const char *data, int size) { return journalDirectly(data, size); });
        std::thread writerThread([this] {
            nameThread("dvr-writer");
            applyNiceness();
            writeLoop();
        });
        bool connectedOnce = false;
        while (!stopping && !stopDue()) {
            setState(connectedOnce ? State::Reconnecting : State::Connecting, currentReason());
            auto in = std::make_unique<MediaInput>();
            {
                std::lock_guard lock(inputMutex);
                input = in.get();
                if (stopping)
                    in->interrupt();
            }
            MediaError error;
            QString why;
            const HlsOpenGate::Entry gate = spec.isPlaylist() ? enterOpenGate() : HlsOpenGate::Entry::Late;
            if (gate == HlsOpenGate::Entry::Stopped)
                break;
            const bool opened = in->open(spec, &error);
            if (gate == HlsOpenGate::Entry::Slot)
                HlsOpenGate::instance().leave();
            if (!opened) {
                why = error.toString();
            } else if (!beginConnection(*in, &why)) {
                // why says what cannot be recorded
            } else {
                setState(State::Recording, {});
                connectedOnce = true;
                reading = in.get();
                hlsPublished = {};
                why = pump(*in);
                endConnection(!stopping || finishOnStop);
                publishCounters();
                reading = nullptr;
            }
            {
                std::lock_guard lock(inputMutex);
                input = nullptr;
            }
            if (stopping || stopDue())
                break;
            {
                QMutexLocker lock(&statusMutex);
                ++stats.reconnects;
            }
            markGap(why);
            setState(State::Reconnecting, why);
            if (!waitBackoff())
                break;
        }
        // Segments already cut are complete: they are written, also on a stop without finishing.
        {
            std::lock_guard lock(queueMutex);
            writerDone = true;
        }
        queueCv.notify_all();
        writerThread.join();
        if (!stopping || finishOnStop) {
            QString error;
            if (!writer.finish(nowMs(), &error)) {
                if (writer.fenced())
                    stopFenced(QStringLiteral("its end line is refused: ") + error);
                else
                    setState(State::Error, QStringLiteral("completing the recording: ") + error);
            } else {
                setState(State::Finished, {});
                QMetaObject::invokeMethod(owner, [o = owner] { Q_EMIT o->finished(); }, Qt::QueuedConnection);
            }
        }
        // The last thing the thread does: the owner may delete the recorder (joining a thread that
        // is only returning) or start another on the folder once this arrives.
        QMetaObject::invokeMethod(owner, [o = owner, run = runNumber] {
            if (run != o->m_run)
                return; // a stopped() of a run before the last start()
            o->m_stopReported = true;
            Q_EMIT o->stopped();
        }, Qt::QueuedConnection);
    }

    /// Waits for a turn to open an HLS source (HlsOpenGate), counted in Stats::openWaitMs.
    HlsOpenGate::Entry enterOpenGate()
    {
        QElapsedTimer waited;
        waited.start();
        const HlsOpenGate::Entry entry = HlsOpenGate::instance().enter(stopping, kMaxOpenStall);
        const qint64 ms = waited.elapsed();
        {
            QMutexLocker lock(&statusMutex);
            stats.openWaitMs += quint64(ms);
        }
        if (entry == HlsOpenGate::Entry::Late)
            qCWarning(lcRecorder).noquote() << cfg.directory << ": no open of an HLS source has ended for"
                                            << kMaxOpenStall.count() << "ms (" << HlsOpenGate::instance().limit()
                                            << "in progress: their sources do not answer?); opening" << spec.describe()
                                            << "without waiting further, after" << ms << "ms";
        else if (ms >= 1000)
            qCInfo(lcRecorder).noquote() << cfg.directory << ": waited" << ms << "ms for a turn to open" << spec.describe();
        return entry;
    }
    /// A recorder waits its turn to open an HLS source as long as turns come; when none has
    /// for this long (the opens in progress hang on sources that do not answer: each holds its
    /// turn up to its open deadline), it opens without one.
    static constexpr std::chrono::milliseconds kMaxOpenStall{4000};

    QString currentReason() const
    {
        QMutexLocker lock(&statusMutex);
        return reason;
    }

    /// The connection's streams: what MPEG-TS can carry, video first.
    bool beginConnection(MediaInput &in, QString *why)
    {
        AVFormatContext *ctx = in.context();
        QList<const AVCodecParameters *> params;
        outStream.clear();
        outVideo = -1;
        if (in.videoStream() >= 0) {
            const AVCodecParameters *par = ctx->streams[in.videoStream()]->codecpar;
            if (par->codec_id == AV_CODEC_ID_H264 || par->codec_id == AV_CODEC_ID_HEVC || par->codec_id == AV_CODEC_ID_MPEG2VIDEO) {
                outVideo = 0;
                outStream[in.videoStream()] = 0;
                params << par;
            } else {
                qCWarning(lcRecorder).noquote() << cfg.directory << ": video codec" << avcodec_get_name(par->codec_id)
                                                << "cannot be remuxed into MPEG-TS; recording without video";
            }
        }
        if (in.audioStream() >= 0) {
            const AVCodecParameters *par = ctx->streams[in.audioStream()]->codecpar;
            if (par->codec_id == AV_CODEC_ID_AAC || par->codec_id == AV_CODEC_ID_MP2 || par->codec_id == AV_CODEC_ID_MP3
                || par->codec_id == AV_CODEC_ID_AC3 || par->codec_id == AV_CODEC_ID_EAC3) {
                outStream[in.audioStream()] = int(params.size());
                params << par;
            }
        }
        if (params.isEmpty()) {
            *why = QStringLiteral("recording %1: no stream MPEG-TS can carry (it is remuxed, never re-encoded)")
                       .arg(in.spec().describe());
            return false;
        }
        MediaError error;
        if (!muxer.open(params, &error)) {
            *why = error.toString();
            return false;
        }
        TimestampSanitiser::Options options;
        options.startUs = timelineEndUs;
        sanitiser = std::make_unique<TimestampSanitiser>(options);
        for (const auto &[index, out] : outStream) {
            const AVStream *st = ctx->streams[index];
            qint64 nominal = 0;
            if (out == outVideo && st->avg_frame_rate.num > 0)
                nominal = av_rescale_q(1, av_inv_q(st->avg_frame_rate), st->time_base);
            sanitiser->addStream(index, st->time_base, nominal);
        }
        segmentMinOffsetUs = previousMinOffsetUs = kNoOffset;
        segmentArrivalUs = segmentLastArrivalUs = AV_NOPTS_VALUE;
        wallCursorUs = AV_NOPTS_VALUE;
        segmentStartUs = lastEndUs = lastVideoUs = lastKeyUs = AV_NOPTS_VALUE;
        segmentStartPts = AV_NOPTS_VALUE;
        programDate.reset();
        held.clear();
        segmentKeys.clear();
        settled = keptOnConnection = false;
        if (in.videoStream() >= 0) {
            programDateTimeBase = ctx->streams[in.videoStream()]->time_base;
            programDateWrapBits = ctx->streams[in.videoStream()]->pts_wrap_bits;
        }
        unjournaled.clear();
        journalBegun = false;
        return true;
    }

    /// Reads until the source drops or the recording stops; returns why it ended.
    QString pump(MediaInput &in)
    {
        Packet packet = makePacket();
        while (!stopping) {
            if (stopDue())
                return QStringLiteral("the recording's end time came");
            if (!mayWrite())
                return QStringLiteral("fenced");
            MediaError error;
            const MediaInput::Read r = in.read(packet.get(), &error);
            if (r == MediaInput::Read::End)
                return QStringLiteral("%1 ended").arg(in.spec().describe());
            if (r == MediaInput::Read::Error)
                return error.toString();
            handle(in, packet.get());
        }
        return QStringLiteral("stopped");
    }

    void handle(MediaInput &in, AVPacket *p)
    {
        const auto it = outStream.find(p->stream_index);
        if (it == outStream.end())
            return;
        const int out = it->second;
        const AVStream *st = in.context()->streams[p->stream_index];
        const qint64 readPts = p->pts; // the source's, for its program dates
        // A segment of the source dated by its playlist begins with this packet.
        const std::optional<MediaInput::ProgramDate> segmentDate = in.takeSegmentDate();
        // … after source segments the HLS demuxer skipped: a hole in the media.
        const quint64 skipped = in.takeSkippedSegments();
        qint64 pts = p->pts, dts = p->dts;
        const quint64 repairedBefore = sanitiser->stats().repaired;
        sanitiser->fix(p->stream_index, pts, dts, p->duration);
        if (dts == AV_NOPTS_VALUE)
            return;
        if (pts == AV_NOPTS_VALUE)
            pts = dts;
        p->pts = av_rescale_q(pts, st->time_base, kMicroseconds);
        p->dts = av_rescale_q(dts, st->time_base, kMicroseconds);
        p->duration = av_rescale_q(p->duration, st->time_base, kMicroseconds);
        p->time_base = kMicroseconds;

        const bool isVideo = out == outVideo;
        const bool key = isVideo && (p->flags & AV_PKT_FLAG_KEY);
        const qint64 at = p->pts;
        // Video that stopped while the audio goes on (a picture lost, a radio hour on a TV
        // channel): the audio cuts, as it does where there is no video, else the segment would
        // grow with no keyframe to end it.
        const bool videoStopped = outVideo >= 0 && !isVideo && lastVideoUs != AV_NOPTS_VALUE && at - lastVideoUs >= kVideoStoppedUs;
        const bool cutsHere = isVideo || outVideo < 0 || videoStopped;
        if (isVideo)
            lastVideoUs = at;
        const qint64 arrivalUs = nowMs() * 1000;
        if (segmentDate && key && programDate)
            followProgramDate(*segmentDate, at, arrivalUs);
        if (skipped > 0) {
            // What came before the hole is a segment of its own; what follows begins at this
            // keyframe (or the next one) after a gap, as after a reconnect.
            if (segmentStartUs != AV_NOPTS_VALUE && lastEndUs > segmentStartUs)
                cutSegment(lastEndUs);
            segmentStartUs = AV_NOPTS_VALUE;
            segmentStartPts = AV_NOPTS_VALUE;
            markGap(QStringLiteral("the source's playlist moved on past %1 segment(s) before they were read").arg(skipped));
        }
        if (segmentStartUs == AV_NOPTS_VALUE) {
            if (outVideo >= 0 && !key)
                return; // a recording starts at a keyframe
            if (!programDate && !keptOnConnection && held.empty())
                believeProgramDate(in.programDate(), arrivalUs / 1000);
            // Dated by the source, what a reconnect reads again (the demuxer starts a few
            // segments back) is known for what the archive holds: it starts at the first
            // keyframe after that, nothing of it dated twice. (So does media after the source's
            // dates moved back: followProgramDate().)
            if (const auto dated = programDatedUs(isVideo ? readPts : AV_NOPTS_VALUE); dated && *dated / 1000 + 2 < lastQueuedEndMs)
                return;
            segmentStartUs = at;
            segmentStartPts = isVideo ? readPts : AV_NOPTS_VALUE;
        } else {
            const double length = (at - segmentStartUs) / 1e6;
            // A keyframe a little early also cuts when the next one, a GOP (the last interval)
            // later, would land further from segment_seconds, as recast's HlsSegmenter cuts: GOPs
            // of 1.44 s with 2 s segments made 2.88 s segments, a scene-cut IDR just before the
            // mark almost twice segment_seconds. Never shorter than two thirds of it.
            const double gop = key && lastKeyUs != AV_NOPTS_VALUE ? qMin((at - lastKeyUs) / 1e6, length) : 0;
            const bool longEnough = length >= cfg.segmentSeconds - 0.02
                || (key && cfg.segmentSeconds - length <= length + gop - cfg.segmentSeconds);
            // No segment outlasts 3x segment_seconds (the playlists' EXT-X-TARGETDURATION, RFC
            // 8216 4.3.3.1): past it any packet cuts, an audio frame too.
            if ((cutsHere && (key || !isVideo) && longEnough) || length >= 3 * cfg.segmentSeconds) {
                cutSegment(at);
                segmentStartPts = isVideo ? readPts : AV_NOPTS_VALUE;
            }
        }
        // What dates the segment this packet belongs to (the cut above began the next).
        if (cutsHere) {
            segmentMinOffsetUs = qMin(segmentMinOffsetUs, arrivalUs - at);
            if (segmentArrivalUs == AV_NOPTS_VALUE)
                segmentArrivalUs = arrivalUs;
            segmentLastArrivalUs = arrivalUs;
        }
        if (key) {
            muxer.resendHeaders();
            lastKeyUs = at;
            if (!journalBegun) {
                qint64 offset = muxer.pendingBytes();
                for (const QByteArray &piece : std::as_const(unjournaled))
                    offset += piece.size();
                segmentKeys.push_back({offset, at});
            }
        }
        MediaError error;
        if (!muxer.write(p, out, &error)) {
            qCWarning(lcRecorder).noquote() << cfg.directory << error.toString();
            return;
        }
        // The muxer keeps the segment's bytes until the cut takes them: no copy per packet.
        if (cutsHere)
            lastEndUs = qMax(lastEndUs, at + qMax<qint64>(p->duration, 0));
        ++unpublishedPackets;
        unpublishedRepairs += sanitiser->stats().repaired - repairedBefore;
        // (A burst is not journaled as it comes: its dates are not known yet. Its segments are,
        // whole, when they are cut and held.)
        if (cutsHere && settled && cfg.journalSeconds > 0 && at - journaledAtUs >= qint64(cfg.journalSeconds * 1e6)
            && !inBurst())
            journal(at);
    }

    /// The segment in progress is (so far) a burst in the middle of a connection: it arrives
    /// more than twice as fast as it plays, and its arrival places it off the timeline by more
    /// than kFollowUs (a backlog delivered at once after a stall without a drop, a headend
    /// catching up: the first of it arrives long after it aired, the rest piles onto the same
    /// moment). Such a segment is held (cutSegment()) and so not journaled as it comes. A live
    /// HLS source's segment arriving at once when it is published stays on the timeline; a
    /// source dated by its program dates has no bursts.
    bool inBurst() const
    {
        if (programDate || wallCursorUs == AV_NOPTS_VALUE || segmentMinOffsetUs == kNoOffset || segmentStartUs == AV_NOPTS_VALUE
            || segmentArrivalUs == AV_NOPTS_VALUE || lastEndUs <= segmentStartUs)
            return false;
        if (2 * (segmentLastArrivalUs - segmentArrivalUs) >= lastEndUs - segmentStartUs)
            return false;
        return qAbs(segmentStartUs + segmentMinOffsetUs - wallCursorUs) > kFollowUs;
    }

    /// A segment of the source begins at content time `atUs` with date `date`: when that
    /// disagrees with the media's clock from the date taken last by more than kReanchorUs (the
    /// source's dates drift from its media, or jump), it is taken instead, if it is believed
    /// (else the source's dates are refused). The segment in progress ends here, dated as it
    /// began; the next begins at the new date: a source's jump forward is a hole in the dates
    /// (the media goes on: no gap), one back leaves out what the archive holds of its time (from
    /// the first keyframe after it, as at a reconnect).
    void followProgramDate(const MediaInput::ProgramDate &date, qint64 atUs, qint64 arrivalUs)
    {
        const std::optional<qint64> expectedUs = programDatedUs(date.pts);
        if (!expectedUs)
            return;
        const qint64 offUs = date.wallMs * 1000 - *expectedUs;
        if (qAbs(offUs) <= kReanchorUs)
            return;
        const qint64 aheadMs = date.wallMs - arrivalUs / 1000;
        if (aheadMs > kAheadMs || aheadMs < -kBackMs) {
            refuseProgramDates(QStringLiteral("a segment is dated %1 s %2 its arrival")
                                   .arg(qAbs(aheadMs) / 1000.0, 0, 'f', 1)
                                   .arg(aheadMs > 0 ? QStringLiteral("after") : QStringLiteral("before")));
            return;
        }
        qCInfo(lcRecorder).noquote() << cfg.directory << ": the source's program dates moved" << offUs / 1000
                                     << "ms against its media's clock; dated by them from here";
        {
            QMutexLocker lock(&statusMutex);
            ++stats.programDateChanges;
        }
        if (segmentStartUs != AV_NOPTS_VALUE && atUs > segmentStartUs)
            cutSegment(atUs);
        programDate = date;
        segmentStartUs = AV_NOPTS_VALUE; // begins again at this keyframe, or a later one (see handle())
        segmentStartPts = AV_NOPTS_VALUE;
    }

    /// Takes the source's program date for this connection when it is near the clock: the
    /// first segment it names aired before it arrived, by no more than a live playlist reaches
    /// back (a clock of the source two seconds ahead of ours is let be). Else said once a run,
    /// and segments are dated by arrival.
    void believeProgramDate(const std::optional<MediaInput::ProgramDate> &date, qint64 arrivedMs)
    {
        if (!date)
            return;
        const qint64 offMs = date->wallMs - arrivedMs;
        if (offMs > kAheadMs || offMs < -kBackMs) {
            refuseProgramDates(QStringLiteral("its first segment is dated %1 s %2 its arrival")
                                   .arg(qAbs(offMs) / 1000.0, 0, 'f', 1)
                                   .arg(offMs > 0 ? QStringLiteral("after") : QStringLiteral("before")));
            return;
        }
        programDate = date;
        settled = true; // dated by the source: a burst needs no holding
    }

    void refuseProgramDates(const QString &why)
    {
        programDate.reset();
        if (!std::exchange(programDatesRefused, true))
            qCWarning(lcRecorder).noquote() << cfg.directory << ": the source's EXT-X-PROGRAM-DATE-TIME is not believed (" << why
                                            << "); its segments are dated by when they arrive";
    }

    /// Where a segment starting at video timestamp `pts` (as read) aired (UTC µs), by the
    /// source's program date; nullopt without one.
    std::optional<qint64> programDatedUs(qint64 pts) const
    {
        if (!programDate || pts == AV_NOPTS_VALUE)
            return std::nullopt;
        qint64 delta = pts - programDate->pts;
        if (programDateWrapBits > 0 && programDateWrapBits < 63) {
            const qint64 wrap = qint64(1) << programDateWrapBits;
            delta = ((delta % wrap) + wrap) % wrap;
            if (delta >= wrap / 2)
                delta -= wrap;
        }
        return programDate->wallMs * 1000 + av_rescale_q(delta, programDateTimeBase, kMicroseconds);
    }

    /// A segment's start on the wall clock (µs), from what arrived of it so far. Within one
    /// connection segments follow each other as their timestamps do while that stays within
    /// kFollowUs of when their media arrived: a timeline without holes for a source that keeps
    /// time. Beyond that the arrival decides:
    /// - later (a source slower than the clock, or stalled without dropping): the segment starts
    ///   when its media arrived, after a hole in the dates that is no gap (the media continues:
    ///   no discontinuity, its duration stays the media's);
    /// - earlier (a burst: a backlog read at once, a source faster than the clock): it starts no
    ///   later than its first frame arrived, so dates never run ahead of the clock (segments of
    ///   a burst may then overlap a little in time).
    /// The first segment of a connection never starts before what is recorded ends; no segment
    /// starts before the one before it.
    qint64 placeSegment(qint64 startUs, qint64 endUs, bool *offTimeline = nullptr) const
    {
        static constexpr qint64 kShortUs = 2'000'000;
        const qint64 offset = endUs - startUs < kShortUs ? qMin(segmentMinOffsetUs, previousMinOffsetUs) : segmentMinOffsetUs;
        const qint64 arrivedUs = segmentArrivalUs != AV_NOPTS_VALUE ? segmentArrivalUs : nowMs() * 1000;
        const qint64 estimateUs = offset != kNoOffset ? startUs + offset : arrivedUs;
        qint64 at;
        if (wallCursorUs == AV_NOPTS_VALUE)
            return estimateUs; // laid after what is recorded by queueSegment(), its end kept
        if (estimateUs > wallCursorUs + kFollowUs)
            at = estimateUs;
        else if (estimateUs >= wallCursorUs - kFollowUs)
            at = wallCursorUs;
        else
            at = qMax(estimateUs, qMin(wallCursorUs, arrivedUs));
        if (offTimeline)
            *offTimeline = qAbs(estimateUs - wallCursorUs) > kFollowUs;
        return qMax(at, lastQueuedStartMs * 1000);
    }

    /// Where the segment in progress will start on the wall clock (as cutSegment places it).
    qint64 segmentStartWallMs() const
    {
        return programDatedUs(segmentStartPts).value_or(placeSegment(segmentStartUs, lastEndUs)) / 1000;
    }

    /// Hands what the muxer made since the last entry to the writer for the journal. When the
    /// queue is full the bytes wait for the next entry: the journal never has a hole.
    void journal(qint64 atUs)
    {
        journaledAtUs = atUs;
        if (segmentStartUs == AV_NOPTS_VALUE || lastEndUs <= segmentStartUs || !muxer.isOpen())
            return;
        // Taken before the queue's lock: flushing may hand bytes to journalDirectly(), which takes it.
        QByteArray delta = muxer.take();
        std::unique_lock lock(queueMutex);
        if (!delta.isEmpty()) {
            // The next second is about as long: written into a buffer the writer is done with,
            // else a new one of that size. Without this the muxer's buffer grew from empty every
            // second: 5x the page faults (perf stat: 93,000 against 20,000 in 30 s for 30 recordings).
            refillMuxer();
            muxer.reserve(delta.size() + delta.size() / 4);
            unjournaled.append(std::move(delta));
        }
        if (queue.empty() && (journalBegun || !unjournaled.isEmpty())) {
            // The writer is idle: the entry is written from here (see journalDirectly()).
            lock.unlock();
            journalHere();
            return;
        }
        if (queue.size() >= kMaxQueued || unjournaled.isEmpty())
            return;
        // Handed over, not kept: the journal's file holds them from now on.
        Pending entry{std::exchange(unjournaled, {}), segmentStartWallMs(), (lastEndUs - segmentStartUs) / 1000, gapPending};
        entry.journal = true;
        entry.journalBegin = !std::exchange(journalBegun, true);
        queue.push_back(std::move(entry));
        lock.unlock();
        queueCv.notify_all();
    }

    /// A journal entry written on this thread while the writer's queue is empty (the writer
    /// thread is idle then, and stays so until this thread queues something: the ArchiveWriter
    /// is this thread's meanwhile): what waited in memory (none once the journal is written
    /// directly) and the line that vouches for all the journal's file holds. Its first entry
    /// begins the segment's journal (a new file, not synced).
    void journalHere()
    {
        if (!mayWrite())
            return;
        QList<QByteArray> pieces = std::exchange(unjournaled, {});
        const bool begin = !std::exchange(journalBegun, true);
        QString why;
        if (!writer.journal(pieces, segmentStartWallMs(), (lastEndUs - segmentStartUs) / 1000, gapPending, begin, &why))
            noteJournalFailure(why);
        std::lock_guard lock(queueMutex);
        giveBack(pieces);
    }

    /// The muxer's sink (TsMuxer::setSink): once the segment in progress has a journal and no
    /// entry is queued for the writer (its queue is empty, so the writer thread is idle and stays
    /// so), these bytes (after any that waited in memory) are appended to the journal's file here,
    /// as the muxer makes them, while they are in the cache: one copy (into the page cache), as
    /// the ffmpeg program makes, instead of one into memory and another a second later from
    /// there (bench/diver/record.sh, SOURCE=hls: that second copy was a third of the recorder's
    /// CPU). Written, not synced, as every journal entry: the cut's write syncs them. Else (the
    /// segment's first second, a busy writer, a burst that is held) false: they wait in memory
    /// and are handed over as before.
    bool journalDirectly(const char *data, int size)
    {
        if (!journalBegun || stopping.load())
            return false;
        {
            std::lock_guard lock(queueMutex);
            if (!queue.empty())
                return false;
        }
        if (!mayWrite())
            return false; // stopping now: nothing more is written (the bytes wait in memory and go)
        // What waited in memory first (the writer was busy when the journal began, or at the
        // last entry): an HLS source's segment arrives at once, and waiting for the next entry
        // would keep seconds of it in memory.
        if (!unjournaled.isEmpty() || muxer.pendingBytes() > 0) {
            QList<QByteArray> pieces = std::exchange(unjournaled, {});
            QByteArray kept = muxer.takeKept();
            if (!kept.isEmpty())
                pieces.append(kept);
            for (const QByteArray &piece : std::as_const(pieces)) {
                if (QString why; !writer.appendJournal(piece.constData(), piece.size(), &why))
                    noteJournalFailure(why);
            }
            pieces.clear();
            // The muxer keeps its buffer for the next segment's first second (no new pages).
            muxer.reuse(std::move(kept));
        }
        if (QString why; !writer.appendJournal(data, size, &why))
            noteJournalFailure(why); // held by the writer, written with the next entry or the cut
        return true;
    }

    void noteJournalFailure(const QString &why)
    {
        QMutexLocker lock(&statusMutex);
        if (std::exchange(journalFailed, true) == false)
            qCWarning(lcRecorder).noquote() << cfg.directory << ": the segment in progress is not journaled:" << why;
    }

    /// The muxer writes on into a spare buffer, if there is one (queueMutex held).
    void refillMuxer()
    {
        if (!spare.empty()) {
            muxer.reuse(std::move(spare.back()));
            spare.pop_back();
        }
    }

    /// Counters kept by the reader alone, published once a segment (not a lock per packet).
    void publishCounters()
    {
        QMutexLocker lock(&statusMutex);
        stats.packets += std::exchange(unpublishedPackets, 0);
        stats.repairedTimestamps += std::exchange(unpublishedRepairs, 0);
        if (reading) {
            const MediaInput::HlsCounters now = reading->hlsCounters();
            stats.playlistRequests += now.playlistRequests - hlsPublished.playlistRequests;
            stats.sourceSegments += now.segmentRequests - hlsPublished.segmentRequests;
            stats.sourceSegmentsSkipped += now.segmentsSkipped - hlsPublished.segmentsSkipped;
            hlsPublished = now;
        }
    }

    void cutSegment(qint64 endUs, bool last = false)
    {
        publishCounters();
        journaledAtUs = endUs;
        // The rest of the segment: the journal's file has its beginning.
        const bool journaled = std::exchange(journalBegun, false);
        QList<QByteArray> pieces = std::exchange(unjournaled, {});
        if (muxer.isOpen()) {
            // With the audio the muxer holds back: it belongs to this segment, not the next one.
            if (MediaError error; !muxer.flushBuffered(&error))
                qCWarning(lcRecorder).noquote() << cfg.directory << error.toString();
            if (QByteArray tail = muxer.take(); !tail.isEmpty())
                pieces.append(std::move(tail));
        }
        const qint64 startUs = std::exchange(segmentStartUs, endUs);
        // Dated by the source's program date, else by when the media arrived (placeSegment());
        // lasting as long as the media does.
        std::optional<qint64> datedUs = programDatedUs(segmentStartPts);
        if (datedUs && *datedUs < lastQueuedStartMs * 1000 - 1000 && keptOnConnection) {
            refuseProgramDates(QStringLiteral("it goes back %1 s").arg((lastQueuedStartMs * 1000 - *datedUs) / 1e6, 0, 'f', 1));
            datedUs.reset();
        }
        bool offTimeline = false;
        const qint64 startWallUs = startUs != AV_NOPTS_VALUE ? (datedUs ? *datedUs : placeSegment(startUs, endUs, &offTimeline)) : 0;
        std::vector<Keyframe> keys = std::exchange(segmentKeys, {});
        // Media arriving in real time (or slower): at least half as fast as it plays.
        const bool realTime = segmentArrivalUs != AV_NOPTS_VALUE && endUs > startUs
            && 2 * (segmentLastArrivalUs - segmentArrivalUs) >= endUs - startUs;
        previousMinOffsetUs = std::exchange(segmentMinOffsetUs, kNoOffset);
        segmentArrivalUs = segmentLastArrivalUs = AV_NOPTS_VALUE;
        const bool gap = std::exchange(gapPending, false);
        if ((pieces.isEmpty() && !journaled) || startUs == AV_NOPTS_VALUE || endUs <= startUs) {
            gapPending = gap;
            return;
        }
        // A burst (at the connection's start; or later, off the timeline: inBurst()) is held
        // until media arrives in real time, journaled whole meanwhile.
        if ((!settled || offTimeline) && !datedUs && !realTime && !last && !journaled && held.size() < kMaxHeld) {
            const int slot = int(held.size());
            enqueue(Pending{pieces, startWallUs / 1000, (endUs - startUs) / 1000, gap, false, false, false, slot});
            held.push_back({std::move(pieces), startUs, endUs, gap, std::move(keys), slot});
            return;
        }
        settled = settled || realTime || datedUs.has_value();
        // What was held ends where this segment starts, back to back.
        flushHeld(startWallUs);
        queueSegment(std::move(pieces), journaled, startWallUs, endUs - startUs, gap, journaled ? nullptr : &keys, startUs);
    }

    /// Queues the held segments (a burst at the connection's start) back to back, the last
    /// ending at `endWallUs` (AV_NOPTS_VALUE: where the last of them is placed by its arrival).
    void flushHeld(qint64 endWallUs)
    {
        if (held.empty())
            return;
        if (endWallUs == AV_NOPTS_VALUE) {
            const Held &lastHeld = held.back();
            endWallUs = placeSegment(lastHeld.startUs, lastHeld.endUs) + (lastHeld.endUs - lastHeld.startUs);
        }
        qint64 mediaUs = 0;
        for (const Held &h : held)
            mediaUs += h.endUs - h.startUs;
        qint64 atUs = endWallUs - mediaUs;
        std::vector<Held> batch = std::exchange(held, {});
        for (Held &h : batch) {
            queueSegment(std::move(h.pieces), false, atUs, h.endUs - h.startUs, h.gap, &h.keys, h.startUs, h.slot);
            atUs += h.endUs - h.startUs;
        }
        Pending release;
        release.releaseHeld = true;
        enqueue(std::move(release));
    }

    /// Drops the first `bytes` of a segment's pieces.
    static void dropFront(QList<QByteArray> &pieces, qint64 bytes)
    {
        while (bytes > 0 && !pieces.isEmpty()) {
            if (pieces.first().size() <= bytes) {
                bytes -= pieces.first().size();
                pieces.removeFirst();
            } else {
                pieces.first() = pieces.first().mid(bytes);
                bytes = 0;
            }
        }
    }

    /// Queues a segment for the writer at [startWallUs, + durationUs), after what is recorded:
    /// never overlapping the segment before, and lasting as long as its media (its EXTINF is
    /// what a player finds in its file). One that begins before what is recorded ends:
    /// - by kFollowUs at most: it starts where that ends (dates that far off are what the
    ///   timeline of a source keeping time tolerates anyway);
    /// - by more, with its keyframes known (none of it journaled: a burst's segments, the first
    ///   in real time after one): cut at the first keyframe after that end (at most kFollowUs
    ///   before it, then laid after it), the media before left out; one with no keyframe there
    ///   is left out whole (at a connection's start it is what the source sent again);
    /// - else (journaled): a connection's first segment that ends before is left out (sent
    ///   again); any other starts where what is recorded ends.
    void queueSegment(QList<QByteArray> pieces, bool journaled, qint64 startWallUs, qint64 durationUs, bool gap,
                      const std::vector<Keyframe> *keys = nullptr, qint64 mediaStartUs = 0, int heldSlot = -1)
    {
        const qint64 recordedEndUs = lastQueuedEndMs * 1000;
        if (startWallUs / 1000 < lastQueuedEndMs) {
            const qint64 overlapUs = recordedEndUs - startWallUs;
            const Keyframe *cut = nullptr;
            if (overlapUs > kFollowUs && keys && !journaled) {
                for (const Keyframe &k : *keys) {
                    if (k.offset > 0 && k.atUs - mediaStartUs < durationUs && startWallUs + (k.atUs - mediaStartUs) >= recordedEndUs - kFollowUs) {
                        cut = &k;
                        break;
                    }
                }
            }
            const bool leaveOut = overlapUs > kFollowUs && ((keys && !journaled && !cut) || (startWallUs + durationUs <= recordedEndUs && !keptOnConnection));
            if (leaveOut) {
                if (keptOnConnection)
                    qCWarning(lcRecorder).noquote() << cfg.directory << ": left out" << durationUs / 1000
                                                    << "ms of a burst: the source sent more than the clock had room for";
                else
                    qCInfo(lcRecorder).noquote() << cfg.directory << ": left out" << durationUs / 1000
                                                 << "ms the source sent again on connecting (the archive holds it)";
                // The next segment carries its gap. (Had its beginning gone to the writer's
                // journal, the next segment's journal or write discards it.)
                gapPending = gapPending || gap;
                return;
            }
            if (cut) {
                const qint64 skippedUs = cut->atUs - mediaStartUs;
                qCInfo(lcRecorder).noquote() << cfg.directory << ": the first" << skippedUs / 1000
                                             << "ms of a segment are left out, up to its keyframe after what is recorded";
                dropFront(pieces, cut->offset);
                startWallUs += skippedUs;
                durationUs -= skippedUs;
            }
            startWallUs = qMax(startWallUs, recordedEndUs);
        }
        gap = gap || std::exchange(gapPending, false);
        const qint64 startMs = startWallUs / 1000;
        const qint64 endUs = startWallUs + durationUs;
        wallCursorUs = endUs;
        const qint64 durationMs = endUs / 1000 - startMs;
        lastQueuedStartMs = startMs;
        lastQueuedEndMs = qMax(lastQueuedEndMs, startMs + durationMs);
        keptOnConnection = true;
        Pending segment{std::move(pieces), startMs, durationMs, gap};
        segment.journaled = journaled;
        segment.heldSlot = heldSlot;
        enqueue(std::move(segment));
    }

    /// Hands an entry to the writer. A disk that falls behind by more than the queue holds
    /// stalls the reader (the source then drops us, and the gap is marked): memory stays bounded.
    void enqueue(Pending &&entry)
    {
        std::unique_lock lock(queueMutex);
        if (muxer.isOpen())
            refillMuxer();
        if (queue.size() >= kMaxQueued) {
            {
                QMutexLocker statusLock(&statusMutex);
                ++stats.writerWaits;
            }
            qCWarning(lcRecorder).noquote() << cfg.directory << ": the disk is behind by" << queue.size()
                                            << "segments; reading waits";
            queueCv.wait(lock, [this] { return queue.size() < kMaxQueued; });
        }
        queue.push_back(std::move(entry));
        lock.unlock();
        queueCv.notify_all();
    }

    /// The writer thread: segments leave the queue in order, each written and synced with its
    /// index line before the next; the reader never waits for the disk.
    void writeLoop()
    {
        for (;;) {
            Pending *p = nullptr;
            {
                std::unique_lock lock(queueMutex);
                queueCv.wait(lock, [this] { return !queue.empty() || writerDone; });
                if (queue.empty())
                    return;
                p = &queue.front(); // only this thread removes entries; a push_back leaves it in place
            }
            write(*p);
            {
                std::lock_guard lock(queueMutex);
                giveBack(p->pieces);
                queue.pop_front();
            }
            queueCv.notify_all();
        }
    }

    /// Pieces written go back to the muxer, unless the writer keeps them (a journal entry it
    /// could not write). Only a buffer that was well used: a pool that grew for a burst is let
    /// go. (queueMutex held.)
    void giveBack(QList<QByteArray> &pieces)
    {
        for (QByteArray &piece : pieces) {
            if (spare.size() < kMaxSpare && piece.isDetached() && piece.capacity() >= 188 * 1024
                && piece.capacity() <= 2 * piece.size())
                spare.push_back(std::move(piece));
        }
    }

    void write(const Pending &p)
    {
        if (!mayWrite())
            return; // dropped, as a crash would: the next holder records on after a gap
        if (p.releaseHeld) {
            writer.releaseHeld();
            return;
        }
        if (p.holdSlot >= 0) {
            QString why;
            if (!writer.holdSegment(p.holdSlot, p.pieces, p.startMs, p.durationMs, p.gap, &why)) {
                QMutexLocker lock(&statusMutex);
                if (std::exchange(journalFailed, true) == false)
                    qCWarning(lcRecorder).noquote() << cfg.directory << ": a held segment is not journaled:" << why;
            }
            return;
        }
        if (p.journal) {
            QString why;
            if (!writer.journal(p.pieces, p.startMs, p.durationMs, p.gap, p.journalBegin, &why))
                noteJournalFailure(why);
            return;
        }
        StorageError error;
        QElapsedTimer took;
        took.start();
        const bool written = p.journaled ? writer.writeJournaledSegment(p.pieces, p.startMs, p.durationMs, p.gap, &error)
                                         : writer.writeSegment(p.pieces, p.startMs, p.durationMs, p.gap, &error);
        {
            QMutexLocker lock(&statusMutex);
            stats.slowestWriteMs = qMax(stats.slowestWriteMs, took.elapsed());
        }
        if (written) {
            if (p.heldSlot >= 0)
                writer.dropHeld(p.heldSlot);
            ArchiveSegment s = writer.lastWritten();
            s.gap = s.gap || p.gap || writerGapPending;
            writerGapPending = false;
            {
                QMutexLocker lock(&statusMutex);
                ++stats.segments;
                stats.bytes += quint64(s.bytes);
            }
            if (state_() == State::Error)
                setState(State::Recording, {});
            QMetaObject::invokeMethod(owner, [o = owner, s] { Q_EMIT o->segmentWritten(s); }, Qt::QueuedConnection);
            return;
        }
        {
            QMutexLocker lock(&statusMutex);
            ++stats.segmentsLost;
        }
        if (error.kind == StorageError::Fenced) {
            // A writer of a higher epoch took the folder over (this one was stalled past its
            // lease): as a lost lease, it stops; nothing of its own is listed any more. When
            // the reader's thread stopped it first (its write fence), the refusal is still said:
            // the write that was in progress is the one the folder refused.
            if (!stopFenced(error.toString()))
                qCWarning(lcRecorder).noquote() << cfg.directory << ":" << error.toString()
                                                << ": the write in progress when the recorder stopped is not listed";
            return;
        }
        if (!writerGapPending) {
            writerGapPending = true; // the writer marks the next segment it writes
            noteGap(error.toString());
        }
        setState(State::Error, QStringLiteral("%1 (%2): %3").arg(error.what, error.where, error.why));
    }

    State state_() const
    {
        QMutexLocker lock(&statusMutex);
        return state;
    }

    void endConnection(bool writeTail)
    {
        MediaError error;
        if (muxer.isOpen()) {
            muxer.finish(&error);
            if (QByteArray tail = muxer.take(); !tail.isEmpty())
                unjournaled.append(std::move(tail));
            muxer.close();
        }
        if (writeTail && segmentStartUs != AV_NOPTS_VALUE && lastEndUs > segmentStartUs)
            cutSegment(lastEndUs, true);
        flushHeld(AV_NOPTS_VALUE); // segments cut are written, also on a stop without finishing
        unjournaled.clear();
        segmentKeys.clear();
        journalBegun = false; // the next segment's journal begins anew (the writer drops this one's)
        segmentStartUs = AV_NOPTS_VALUE;
        segmentStartPts = AV_NOPTS_VALUE;
        if (sanitiser)
            timelineEndUs = qMax(timelineEndUs, sanitiser->outputEndUs());
    }
};

Recorder::Recorder(QObject *parent) : QObject(parent)
{
    qRegisterMetaType<iptv::dvr::ArchiveSegment>();
    qRegisterMetaType<iptv::dvr::Recorder::State>();
}

Recorder::~Recorder()
{
    stop(false);
}

bool Recorder::start(const RecorderSettings &settings, QString *error)
{
    stop(false);
    std::optional<InputSpec> spec = InputSpec::parse(settings.source, error);
    if (!spec)
        return false;
    spec->openTimeoutMs = settings.openTimeoutMs;
    spec->readTimeoutMs = settings.readTimeoutMs;
    spec->realtime = false;
    spec->programDates = true; // an HLS source's EXT-X-PROGRAM-DATE-TIME dates its segments
    auto worker = std::make_unique<Worker>(this, settings);
    worker->spec = *spec;
    ArchiveWriterSettings ws;
    ws.directory = settings.directory;
    ws.chunkMs = settings.chunkMs;
    ws.minFreeBytes = settings.minFreeBytes;
    ws.epoch = settings.epoch;
    if (!worker->writer.open(ws, error))
        return false;
    if (m_recovery)
        worker->writer.setSpaceRecovery(m_recovery);
    if (m_freeSpace)
        worker->writer.setFreeSpace(m_freeSpace);
    if (worker->writer.resumed())
        worker->gapPending = true; // the writer marks it too; counted here as a gap of this run
    worker->lastQueuedEndMs = worker->writer.lastEndMs();
    m_settings = settings;
    worker->runNumber = ++m_run;
    m_stopReported = false;
    m_worker = std::move(worker);
    m_worker->thread = std::thread([w = m_worker.get()] { w->run(); });
    return true;
}

void Recorder::setSpaceRecovery(ArchiveWriter::SpaceRecovery recovery)
{
    m_recovery = std::move(recovery);
}

void Recorder::limitAllocatorRetention()
{
#if defined(__GLIBC__)
    // A fixed threshold (setting it turns glibc's dynamic one off). The recorders' own buffers
    // are reused (Worker::spare), so mapping them costs page faults only when a stream's rate grows.
    if (::mallopt(M_MMAP_THRESHOLD, 256 * 1024) != 1)
        qCWarning(lcRecorder) << "cannot set malloc's mmap threshold; freed buffers may stay resident";
#endif
}

void Recorder::setFreeSpace(ArchiveWriter::FreeSpace freeSpace)
{
    m_freeSpace = std::move(freeSpace);
}

void Recorder::requestStop(bool finish)
{
    if (!m_worker)
        return;
    m_worker->finishOnStop = finish;
    m_worker->stopping = true;
    {
        std::lock_guard lock(m_worker->inputMutex);
        if (m_worker->input)
            m_worker->input->interrupt();
    }
    m_worker->wake.notify_all();
    HlsOpenGate::instance().wakeAll(); // it may be waiting for its turn to open
}

void Recorder::setHlsOpenLimit(int limit)
{
    HlsOpenGate::instance().setLimit(limit);
}

int Recorder::hlsOpenLimit()
{
    return HlsOpenGate::instance().limit();
}

void Recorder::stop(bool finish)
{
    if (!m_worker)
        return;
    requestStop(finish);
    if (m_worker->thread.joinable())
        m_worker->thread.join();
    if (!finish) {
        QMutexLocker lock(&m_worker->statusMutex);
        m_worker->state = State::Idle;
    }
}

void Recorder::setStopAt(qint64 stopAtMs)
{
    m_settings.stopAtMs = stopAtMs;
    if (m_worker) {
        m_worker->stopAtMs = stopAtMs;
        m_worker->wake.notify_all();
    }
}

void Recorder::confirmEnd(qint64 stopAtMs)
{
    if (m_worker) {
        m_worker->confirmedStopMs = stopAtMs;
        m_worker->wake.notify_all();
    }
}

Recorder::State Recorder::state() const
{
    if (!m_worker)
        return State::Idle;
    QMutexLocker lock(&m_worker->statusMutex);
    return m_worker->state;
}

bool Recorder::fenced() const
{
    return m_worker && m_worker->fenced.load();
}

QString Recorder::reason() const
{
    return m_worker ? m_worker->currentReason() : QString();
}

Recorder::Stats Recorder::stats() const
{
    if (!m_worker)
        return {};
    QMutexLocker lock(&m_worker->statusMutex);
    return m_worker->stats;
}

} // namespace iptv::dvr
