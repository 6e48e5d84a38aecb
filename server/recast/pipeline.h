#pragma once

// One channel's media work, on a thread of its own: read the source, repair its timestamps,
// decode once, scale and encode once per rendition (or remux, in pass-through), and hand packets
// to each rendition's HLS segmenter, whose TS bytes also feed the MPEG-TS output.
//
// The output timeline never restarts. When the source stalls, drops or ends, the pipeline goes on
// with a slate (the channel's name and the reason) on the same timeline while it reconnects with
// jittered backoff in the background; a pass-through channel, which has no encoder for a slate,
// marks EXT-X-DISCONTINUITY instead. Callbacks run on the pipeline's thread.

#include "channelconfig.h"
#include "channelstate.h"

#include <media/ffmpeg.h>

#include <QByteArray>
#include <QMutex>
#include <QString>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace iptv::recast {

struct PipelineStats
{
    ChannelState state = ChannelState::Starting;
    QString reason;
    double inputKbps = 0;        ///< source bytes over the last few seconds
    double outputFps = 0;        ///< frames encoded (or remuxed) per second of media
    double speed = 0;            ///< media seconds processed per second of busy thread time
    quint64 framesIn = 0;
    quint64 framesOut = 0;
    quint64 framesDropped = 0;   ///< frames not encoded (frame-rate cap, decode errors)
    quint64 repairedTimestamps = 0;
    quint64 corruptPackets = 0;
    quint64 reconnects = 0;
    quint64 segments = 0;
    quint64 writeErrors = 0;
    qint64 timelineUs = 0;       ///< output timeline position
    qint64 liveSinceMs = 0;      ///< wall clock when the source last came up (0 = not up)
    qint64 lastSegmentLatencyUs = 0; ///< newest segment: listed at minus its end's wall time
    qint64 memoryBudgetBytes = 0;
};

class Pipeline
{
public:
    struct Callbacks
    {
        /// TS bytes of rendition `r` (`keyframe`: starts a GOP with PAT/PMT).
        std::function<void(int r, const QByteArray &ts, bool keyframe)> tsBytes;
        /// Rendition `r`'s playlist changed.
        std::function<void(int r, const QByteArray &playlist, qint64 nextSequence, int parts)> playlist;
        std::function<void(ChannelState state, const QString &reason)> stateChanged;
        /// Set: a file source that does not loop ends the pipeline at its end (segments finished,
        /// then this is called and the thread ends); benchmarks run a file once this way. Unset
        /// (the server): the end counts as a lost source, slated and retried.
        std::function<void()> sourceEnded;
    };

    /// `outputDir` is the channel's folder (renditions in subfolders).
    Pipeline(ChannelConfig config, QString outputDir, Callbacks callbacks);
    ~Pipeline();

    /// The pipeline's thread (and the threads it starts: the source's opener, FFmpeg's codec
    /// threads) run this much nicer than the process (Linux; 0: as nice). The server's thread,
    /// which serves every viewer and /healthz with a sliver of CPU, then wins the CPU from a
    /// hundred channels' threads on a loaded machine. Before start().
    void setThreadNice(int nice);
    void start();
    /// Tells the thread to finish the segments in progress, without waiting for it: a server
    /// stopping many channels asks them all first, so they finish side by side.
    void requestStop();
    /// Finishes the segments in progress and joins the thread.
    void stop();
    PipelineStats stats() const;

    /// The per-channel memory budget: segment and part buffers and the keyframe cache at the
    /// ladder's bitrates, with headroom (also used to size the cache).
    static qint64 memoryBudget(const ChannelConfig &config);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace iptv::recast
