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

#include <atomic>
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
    quint64 unpublishedRepairs = 0;
    qint64 segmentStartUs = AV_NOPTS_VALUE;
    qint64 lastEndUs = AV_NOPTS_VALUE;
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
    };
    static constexpr size_t kMaxQueued = 3;
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
            if (!in->open(spec, &error)) {
                why = error.toString();
            } else if (!beginConnection(*in, &why)) {
                // why says what cannot be recorded
            } else {
                setState(State::Recording, {});
                connectedOnce = true;
                why = pump(*in);
                endConnection(!stopping || finishOnStop);
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
        segmentArrivalUs = AV_NOPTS_VALUE;
        wallCursorUs = AV_NOPTS_VALUE;
        segmentStartUs = lastEndUs = AV_NOPTS_VALUE;
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
        const bool cutsHere = isVideo || outVideo < 0;
        const bool key = isVideo && (p->flags & AV_PKT_FLAG_KEY);
        const qint64 at = p->pts;
        const qint64 arrivalUs = nowMs() * 1000;
        if (segmentStartUs == AV_NOPTS_VALUE) {
            if (outVideo >= 0 && !key)
                return; // a recording starts at a keyframe
            segmentStartUs = at;
        } else if (cutsHere) {
            const double length = (at - segmentStartUs) / 1e6;
            if (((key || outVideo < 0) && length >= cfg.segmentSeconds - 0.02) || length >= 3 * cfg.segmentSeconds)
                cutSegment(at);
        }
        // What dates the segment this packet belongs to (the cut above began the next).
        if (cutsHere) {
            segmentMinOffsetUs = qMin(segmentMinOffsetUs, arrivalUs - at);
            if (segmentArrivalUs == AV_NOPTS_VALUE)
                segmentArrivalUs = arrivalUs;
        }
        if (key)
            muxer.resendHeaders();
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
        if (cutsHere && cfg.journalSeconds > 0 && at - journaledAtUs >= qint64(cfg.journalSeconds * 1e6))
            journal(at);
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
    qint64 placeSegment(qint64 startUs, qint64 endUs) const
    {
        static constexpr qint64 kFollowUs = 500'000;
        static constexpr qint64 kShortUs = 2'000'000;
        const qint64 offset = endUs - startUs < kShortUs ? qMin(segmentMinOffsetUs, previousMinOffsetUs) : segmentMinOffsetUs;
        const qint64 arrivedUs = segmentArrivalUs != AV_NOPTS_VALUE ? segmentArrivalUs : nowMs() * 1000;
        const qint64 estimateUs = offset != kNoOffset ? startUs + offset : arrivedUs;
        qint64 at;
        if (wallCursorUs == AV_NOPTS_VALUE)
            at = qMax(estimateUs, lastQueuedEndMs * 1000);
        else if (estimateUs > wallCursorUs + kFollowUs)
            at = estimateUs;
        else if (estimateUs >= wallCursorUs - kFollowUs)
            at = wallCursorUs;
        else
            at = qMax(estimateUs, qMin(wallCursorUs, arrivedUs));
        return qMax(at, lastQueuedStartMs * 1000);
    }

    /// Where the segment in progress will start on the wall clock (as cutSegment places it).
    qint64 segmentStartWallMs() const { return placeSegment(segmentStartUs, lastEndUs) / 1000; }

    /// Hands what the muxer made since the last entry to the writer for the journal. When the
    /// queue is full the bytes wait for the next entry: the journal never has a hole.
    void journal(qint64 atUs)
    {
        journaledAtUs = atUs;
        if (segmentStartUs == AV_NOPTS_VALUE || lastEndUs <= segmentStartUs || !muxer.isOpen())
            return;
        std::unique_lock lock(queueMutex);
        if (QByteArray delta = muxer.take(); !delta.isEmpty()) {
            // The next second is about as long: written into a buffer the writer is done with,
            // else a new one of that size. Without this the muxer's buffer grew from empty every
            // second: 5x the page faults (perf stat: 93,000 against 20,000 in 30 s for 30 recordings).
            refillMuxer();
            muxer.reserve(delta.size() + delta.size() / 4);
            unjournaled.append(std::move(delta));
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
    }

    void cutSegment(qint64 endUs)
    {
        publishCounters();
        journaledAtUs = endUs;
        // The rest of the segment: the journal's file has its beginning.
        const bool journaled = std::exchange(journalBegun, false);
        QList<QByteArray> pieces = std::exchange(unjournaled, {});
        if (muxer.isOpen()) {
            if (QByteArray tail = muxer.take(); !tail.isEmpty())
                pieces.append(std::move(tail));
        }
        const qint64 startUs = std::exchange(segmentStartUs, endUs);
        // Dated by when the media arrived, lasting as long as the media does (placeSegment()).
        const qint64 startWallUs = startUs != AV_NOPTS_VALUE ? placeSegment(startUs, endUs) : 0;
        previousMinOffsetUs = std::exchange(segmentMinOffsetUs, kNoOffset);
        segmentArrivalUs = AV_NOPTS_VALUE;
        if ((pieces.isEmpty() && !journaled) || startUs == AV_NOPTS_VALUE || endUs <= startUs)
            return;
        wallCursorUs = startWallUs + (endUs - startUs);
        const qint64 startMs = startWallUs / 1000;
        const qint64 durationMs = wallCursorUs / 1000 - startMs;
        lastQueuedStartMs = startMs;
        lastQueuedEndMs = qMax(lastQueuedEndMs, startMs + durationMs);
        std::unique_lock lock(queueMutex);
        if (muxer.isOpen())
            refillMuxer();
        // A disk that falls behind by more than the queue holds stalls the reader (the source
        // then drops us, and the gap is marked): memory stays bounded.
        if (queue.size() >= kMaxQueued) {
            {
                QMutexLocker statusLock(&statusMutex);
                ++stats.writerWaits;
            }
            qCWarning(lcRecorder).noquote() << cfg.directory << ": the disk is behind by" << queue.size()
                                            << "segments; reading waits";
            queueCv.wait(lock, [this] { return queue.size() < kMaxQueued; });
        }
        Pending segment{std::move(pieces), startMs, durationMs, std::exchange(gapPending, false)};
        segment.journaled = journaled;
        queue.push_back(std::move(segment));
        lock.unlock();
        queueCv.notify_all();
    }

    /// The writer thread: segments leave the queue in order, each written and synced with its
    /// index line before the next; the reader never waits for the disk.
    void writeLoop()
    {
        for (;;) {
            Pending p;
            {
                std::unique_lock lock(queueMutex);
                queueCv.wait(lock, [this] { return !queue.empty() || writerDone; });
                if (queue.empty())
                    return;
                p = std::move(queue.front());
                queue.pop_front();
            }
            queueCv.notify_all();
            write(p);
            // Back to the reader, unless the writer keeps them (a journal entry it could not write).
            std::lock_guard lock(queueMutex);
            for (QByteArray &piece : p.pieces) {
                // Only a buffer that was well used: a pool that grew for a burst is let go.
                if (spare.size() < kMaxSpare && piece.isDetached() && piece.capacity() >= 188 * 1024
                    && piece.capacity() <= 2 * piece.size())
                    spare.push_back(std::move(piece));
            }
        }
    }

    void write(const Pending &p)
    {
        if (p.journal) {
            QString why;
            if (!writer.journal(p.pieces, p.startMs, p.durationMs, p.gap, p.journalBegin, &why)) {
                QMutexLocker lock(&statusMutex);
                if (std::exchange(journalFailed, true) == false)
                    qCWarning(lcRecorder).noquote() << cfg.directory << ": the segment in progress is not journaled:" << why;
            }
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
            cutSegment(lastEndUs);
        unjournaled.clear();
        journalBegun = false; // the next segment's journal begins anew (the writer drops this one's)
        segmentStartUs = AV_NOPTS_VALUE;
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
    auto worker = std::make_unique<Worker>(this, settings);
    worker->spec = *spec;
    ArchiveWriterSettings ws;
    ws.directory = settings.directory;
    ws.chunkMs = settings.chunkMs;
    ws.minFreeBytes = settings.minFreeBytes;
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
