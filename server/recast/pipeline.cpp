#include "pipeline.h"

#include <core/backoff.h>
#include <media/codec.h>
#include <media/hlsplaylist.h>
#include <media/hlssegmenter.h>
#include <media/input.h>
#include <media/timestampsanitiser.h>

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QSaveFile>

extern "C" {
#include <libavutil/time.h>
}

#include <cerrno>
#include <cmath>

#ifdef Q_OS_LINUX
#include <sys/resource.h>
#include <unistd.h>
#endif

Q_LOGGING_CATEGORY(lcPipeline, "iptv.recast.pipeline", QtInfoMsg)

namespace iptv::recast {

using namespace iptv::media;

namespace {

constexpr AVRational kMicroseconds{1, 1000000};
constexpr qint64 kProblemHoldMs = 10000; ///< degraded for this long after a write error or corrupt input
constexpr qint64 kLiveLeadUs = 500000;   ///< a live source may run this far ahead of the wall clock
constexpr qint64 kReanchorUs = 1000000;  ///< a new input this far behind the wall clock moves the timeline's anchor

qint64 wallUs()
{
    return av_gettime();
}

qint64 steadyMs()
{
    return av_gettime_relative() / 1000;
}

/// Makes the calling thread (and the threads it creates from now on, which inherit it) `nice`
/// nicer than it is. Linux keeps a nice value per thread; elsewhere nothing happens.
void lowerThisThreadPriority(const QString &channel, int nice)
{
#ifdef Q_OS_LINUX
    if (nice <= 0)
        return;
    const pid_t tid = ::gettid();
    errno = 0;
    const int current = getpriority(PRIO_PROCESS, id_t(tid));
    if ((current == -1 && errno != 0) || setpriority(PRIO_PROCESS, id_t(tid), qMin(current + nice, 19)) != 0)
        qCWarning(lcPipeline).noquote() << channel << "cannot lower the priority of its thread by" << nice << ":"
                                        << qt_error_string(errno) << "(it competes with the server's thread as an equal)";
#else
    Q_UNUSED(channel);
    Q_UNUSED(nice);
#endif
}

/// "avc1.PPCCLL" from the first SPS of an Annex B H.264 access unit, empty when there is none.
QString avcCodecString(const AVPacket *p)
{
    const uint8_t *d = p->data;
    for (int i = 0; i + 7 < p->size; ++i) {
        if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1 && (d[i + 3] & 0x1f) == 7)
            return QStringLiteral("avc1.%1%2%3")
                .arg(d[i + 4], 2, 16, QLatin1Char('0'))
                .arg(d[i + 5], 2, 16, QLatin1Char('0'))
                .arg(d[i + 6], 2, 16, QLatin1Char('0'))
                .toLower();
    }
    return {};
}

/// The RFC 6381 name of an audio stream pass-through carries, "-" when it cannot be named.
QString audioCodecString(const AVCodecParameters *par)
{
    switch (par->codec_id) {
    case AV_CODEC_ID_AAC:
        // MPEG-4 audio object types: AAC LC 2, HE-AAC 5, HE-AACv2 29 (FFmpeg's profile + 1).
        return par->profile == FF_PROFILE_AAC_HE ? QStringLiteral("mp4a.40.5")
             : par->profile == FF_PROFILE_AAC_HE_V2 ? QStringLiteral("mp4a.40.29")
                                                    : QStringLiteral("mp4a.40.2");
    case AV_CODEC_ID_MP3: return QStringLiteral("mp4a.40.34");
    case AV_CODEC_ID_MP2: return QStringLiteral("mp4a.40.33");
    case AV_CODEC_ID_AC3: return QStringLiteral("ac-3");
    case AV_CODEC_ID_EAC3: return QStringLiteral("ec-3");
    default: return QStringLiteral("-");
    }
}

} // namespace

struct Pipeline::Impl
{
    struct Source
    {
        std::unique_ptr<MediaInput> input;
        std::unique_ptr<TimestampSanitiser> sanitiser;
        Decoder video;
        Decoder audio;
        qint64 offsetUs = AV_NOPTS_VALUE; ///< input (sanitised, µs) to output timeline
        /// Pass-through: the audio the input left out decodes now; the segmenter takes it at the
        /// next video keyframe (a new PMT starts a segment), its packets until then are dropped.
        bool audioAwaitsKeyframe = false;
        bool slate = false;
        bool realtime = false;
    };

    ChannelConfig cfg;
    QString dir;
    Callbacks cb;

    std::thread thread;
    int threadNice = 0;
    std::atomic<bool> stopping{false};
    std::mutex waitMutex;
    std::condition_variable wake;

    std::mutex inputsMutex; // guards the pointers below against stop()'s interrupt
    std::unique_ptr<Source> source;
    std::unique_ptr<Source> slate;
    std::thread opener;
    std::unique_ptr<MediaInput> opening;
    std::atomic<bool> openerDone{false};
    MediaError openError;
    bool openOk = false;

    // A TV channel retries its source within seconds: full jitter over at most 5 s spreads a
    // headend's channels after a shared outage without leaving viewers on the slate for long.
    Backoff backoff{500, 5000};
    qint64 nextAttemptMs = 0;
    bool ended = false; ///< a file that does not loop reached its end (with cb.sourceEnded)

    std::vector<std::unique_ptr<VideoEncoder>> encoders;
    std::vector<Scaler> scalers;
    AudioEncoder audio;
    std::vector<std::unique_ptr<HlsSegmenter>> segmenters;
    QStringList codecStrings;
    QString passthroughAudioCodec; ///< RFC 6381 name of the pass-through source's audio; "-" when it has none we can name
    bool masterWritten = false;
    int sourceWidth = 0, sourceHeight = 0; ///< pass-through: the source's picture
    double sourceFps = 0;
    AVIOContext *udp = nullptr;

    qint64 anchorWallUs = 0;
    qint64 timelineEndUs = 0;   ///< end of the latest output packet (µs)
    qint64 lastVideoOutUs = AV_NOPTS_VALUE;
    qint64 nextSlotUs = AV_NOPTS_VALUE;
    qint64 nextKeyUs = 0;
    qint64 keyOriginUs = AV_NOPTS_VALUE; ///< the keyframe grid's origin: the first video frame
    qint64 frameUs = 40000;
    qint64 gopUs = 1000000;

    mutable QMutex statsMutex;
    PipelineStats stats;
    ChannelState state = ChannelState::Starting;
    QString reason;
    qint64 lastProblemMs = 0;
    QString problem;
    qint64 busyUs = 0;
    qint64 mediaStartUs = AV_NOPTS_VALUE;
    qint64 rateWindowStartMs = 0;
    qint64 rateWindowBytes = 0; ///< source packet bytes since the last rate update
    quint64 rateWindowFrames = 0;

    Impl(ChannelConfig c, QString d, Callbacks callbacks) : cfg(std::move(c)), dir(std::move(d)), cb(std::move(callbacks)) {}

    // --- state ------------------------------------------------------------------------------
    void setState(ChannelState s, const QString &why)
    {
        if (s == state && why == reason)
            return;
        if (s != state)
            qCInfo(lcPipeline).noquote() << cfg.id << stateName(s) << (why.isEmpty() ? QString() : QStringLiteral("(%1)").arg(why));
        state = s;
        reason = why;
        {
            QMutexLocker lock(&statsMutex);
            stats.state = s;
            stats.reason = why;
        }
        if (cb.stateChanged)
            cb.stateChanged(s, why);
    }

    void noteProblem(const QString &what)
    {
        if (what != problem || steadyMs() - lastProblemMs > 1000)
            qCWarning(lcPipeline).noquote() << cfg.id << what;
        problem = what;
        lastProblemMs = steadyMs();
        if (state == ChannelState::Live)
            setState(ChannelState::Degraded, what);
    }

    void reviewHealth()
    {
        if (state == ChannelState::Degraded && steadyMs() - lastProblemMs > kProblemHoldMs)
            setState(ChannelState::Live, {});
    }

    // --- waiting ----------------------------------------------------------------------------
    /// Sleeps until `deadlineWallUs` or stop; false when stopping.
    bool waitUntilWall(qint64 deadlineWallUs)
    {
        std::unique_lock lock(waitMutex);
        while (!stopping) {
            const qint64 left = deadlineWallUs - wallUs();
            if (left <= 0)
                return true;
            wake.wait_for(lock, std::chrono::microseconds(qMin<qint64>(left, 100000)));
        }
        return false;
    }

    // --- outputs ----------------------------------------------------------------------------
    bool openOutputs(MediaError *error)
    {
        frameUs = 1000000 / cfg.fps;
        gopUs = qint64(std::llround(cfg.gopSeconds * 1e6));
        if (!cfg.passthrough) {
            for (const Rendition &r : cfg.ladder) {
                VideoEncoderSettings s;
                s.name = r.name;
                s.width = r.width;
                s.height = r.height;
                s.fps = cfg.fps;
                s.bitrateKbps = r.bitrateKbps;
                s.preset = cfg.preset;
                s.gopFrames = int(std::llround(cfg.gopSeconds * cfg.fps));
                s.threads = cfg.threads;
                s.lowLatency = cfg.partSeconds > 0;
                auto enc = std::make_unique<VideoEncoder>();
                if (!enc->open(s, error))
                    return false;
                encoders.push_back(std::move(enc));
            }
            scalers.resize(cfg.ladder.size());
            for (Scaler &scaler : scalers)
                scaler.setThreads(cfg.threads);
            if (!audio.open(cfg.audioKbps, error))
                return false;
            AVCodecParameters *vpar = avcodec_parameters_alloc();
            AVCodecParameters *apar = avcodec_parameters_alloc();
            avcodec_parameters_from_context(apar, audio.context());
            for (size_t i = 0; i < encoders.size(); ++i) {
                avcodec_parameters_from_context(vpar, encoders[i]->context());
                if (!openSegmenter(int(i), {vpar, apar}, 0, error)) {
                    avcodec_parameters_free(&vpar);
                    avcodec_parameters_free(&apar);
                    return false;
                }
            }
            avcodec_parameters_free(&vpar);
            avcodec_parameters_free(&apar);
        }
        codecStrings = QStringList(qMax<qsizetype>(1, cfg.ladder.size()), QString());
        if (!cfg.udpOut.isEmpty()) {
            QString url = cfg.udpOut;
            if (!url.contains(QLatin1String("pkt_size")))
                url += (url.contains(u'?') ? u'&' : u'?') + QStringLiteral("pkt_size=1316");
            const int rc = avio_open2(&udp, url.toUtf8().constData(), AVIO_FLAG_WRITE, nullptr, nullptr);
            if (rc < 0) {
                *error = MediaError::fromAv(QStringLiteral("opening the UDP output %1").arg(cfg.udpOut), rc);
                return false;
            }
        }
        return true;
    }

    QString renditionDir(int r) const
    {
        return QDir(dir).filePath(cfg.passthrough ? QStringLiteral("source") : cfg.ladder.at(r).name);
    }

    bool openSegmenter(int r, const QList<const AVCodecParameters *> &streams, int videoStream, MediaError *error)
    {
        SegmenterSettings s;
        s.directory = renditionDir(r);
        s.segmentSeconds = cfg.segmentSeconds;
        s.window = cfg.window;
        s.partSeconds = cfg.partSeconds;
        s.frameSeconds = cfg.passthrough ? 0 : 1.0 / cfg.fps;
        // Pass-through cuts at the source's keyframes: its segments may run longer.
        s.maxSegmentSeconds = cfg.passthrough ? int(std::ceil(cfg.segmentSeconds)) + 4 : int(std::ceil(cfg.segmentSeconds - 0.001));
        auto seg = std::make_unique<HlsSegmenter>();
        if (!seg->open(s, streams, videoStream, error))
            return false;
        seg->setTimelineAnchor(anchorWallUs);
        seg->setBytesSink([this, r](const QByteArray &ts, bool key) {
            if (cb.tsBytes)
                cb.tsBytes(r, ts, key);
            if (r == 0 && udp) {
                avio_write(udp, reinterpret_cast<const unsigned char *>(ts.constData()), int(ts.size()));
                avio_flush(udp);
            }
        });
        seg->setPlaylistSink([this, r](const QByteArray &text, qint64 next, int parts) {
            if (cb.playlist)
                cb.playlist(r, text, next, parts);
            // Pass-through: the master waits for the first segment, whose bit rate it states.
            if (cfg.passthrough && !masterWritten)
                writeMaster();
        });
        if (r < int(segmenters.size()))
            segmenters[size_t(r)] = std::move(seg);
        else
            segmenters.push_back(std::move(seg));
        return true;
    }

    void writeMaster()
    {
        if (masterWritten)
            return;
        for (const QString &c : codecStrings)
            if (c.isEmpty())
                return;
        // BANDWIDTH must not be below any segment's bit rate (RFC 8216 4.3.4.2). Pass-through:
        // the first segment's rate (or the input's, if higher) with headroom for peaks.
        double passthroughKbps = 0;
        if (cfg.passthrough) {
            const HlsSegmenter::Stats first = segmenters.empty() ? HlsSegmenter::Stats() : segmenters[0]->stats();
            if (first.segments == 0 || first.lastSegmentSeconds <= 0)
                return;
            passthroughKbps = 1.5 * qMax(stats.inputKbps, first.bytes * 8 / 1000.0 / first.segments / first.lastSegmentSeconds);
        }
        // Transcoded: the encoders' rates plus MPEG-TS's own: every video frame and every AAC
        // frame (1024 samples at 48 kHz) starts a PES in a TS packet of its own, and PAT and PMT
        // come with every keyframe. At small rates this is a good part of the stream.
        const double tsOverheadKbps = ((cfg.fps + 48000.0 / 1024) * 188 * 8 + 2 * 188 * 8 / cfg.gopSeconds) / 1000;
        QList<HlsVariant> variants;
        for (int i = 0; i < codecStrings.size(); ++i) {
            HlsVariant v;
            v.uri = (cfg.passthrough ? QStringLiteral("source") : cfg.ladder.at(i).name) + QStringLiteral("/index.m3u8");
            const double kbps = cfg.passthrough ? passthroughKbps
                                                : cfg.ladder.at(i).bitrateKbps * 1.5 + cfg.audioKbps + tsOverheadKbps;
            v.bandwidth = qint64(std::ceil(kbps)) * 1000;
            if (cfg.passthrough) {
                v.width = sourceWidth;
                v.height = sourceHeight;
                v.frameRate = sourceFps;
            } else {
                v.width = cfg.ladder.at(i).width;
                v.height = cfg.ladder.at(i).height;
                v.frameRate = cfg.fps;
            }
            v.codecs = codecStrings.at(i) == QLatin1String("-") ? QString() : codecStrings.at(i);
            if (!v.codecs.isEmpty() && !cfg.passthrough)
                v.codecs += QStringLiteral(",mp4a.40.2");
            // CODECS names every format in the segments, or is left out.
            if (!v.codecs.isEmpty() && cfg.passthrough && !passthroughAudioCodec.isEmpty())
                v.codecs = passthroughAudioCodec == QLatin1String("-") ? QString() : v.codecs + u',' + passthroughAudioCodec;
            variants.append(v);
        }
        const QByteArray text = hlsMasterPlaylist(variants);
        QSaveFile f(QDir(dir).filePath(QStringLiteral("index.m3u8")));
        if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size() || !f.commit()) {
            noteProblem(QStringLiteral("writing the master playlist in %1: %2").arg(dir, f.errorString()));
            return;
        }
        masterWritten = true;
        if (cb.playlist)
            cb.playlist(-1, text, 0, 0);
    }

    void toSegmenter(int r, const AVPacket *p, int stream)
    {
        MediaError error;
        if (!segmenters[size_t(r)]->write(p, stream, &error)) {
            QMutexLocker lock(&statsMutex);
            ++stats.writeErrors;
            lock.unlock();
            noteProblem(error.toString());
        }
    }

    // --- sources ----------------------------------------------------------------------------
    InputSpec sourceSpec() const
    {
        QString ignored;
        InputSpec spec = InputSpec::parse(cfg.source, &ignored).value_or(InputSpec{});
        spec.loop = cfg.loop;
        spec.title = cfg.name;
        spec.logName = cfg.id;
        spec.fps = cfg.fps;
        spec.toneHz = cfg.toneHz;
        if (!cfg.ladder.isEmpty()) {
            spec.width = cfg.ladder.first().width;
            spec.height = cfg.ladder.first().height;
        }
        spec.openTimeoutMs = cfg.openTimeoutMs;
        spec.readTimeoutMs = cfg.readTimeoutMs;
        if (!cfg.pace)
            spec.realtime = false;
        return spec;
    }

    void startOpener()
    {
        if (opener.joinable())
            opener.join();
        openerDone = false;
        {
            std::lock_guard lock(inputsMutex);
            opening = std::make_unique<MediaInput>();
            if (stopping)
                opening->interrupt();
        }
        const InputSpec spec = sourceSpec();
        opener = std::thread([this, spec] {
            MediaError error;
            const bool ok = opening->open(spec, &error);
            openOk = ok;
            openError = error;
            openerDone = true;
            wake.notify_all();
        });
    }

    bool openDecoders(Source &s, MediaError *error)
    {
        AVFormatContext *ctx = s.input->context();
        s.sanitiser = std::make_unique<TimestampSanitiser>();
        for (int index : {s.input->videoStream(), s.input->audioStream()}) {
            if (index < 0)
                continue;
            const AVStream *st = ctx->streams[index];
            qint64 nominal = 0;
            if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && st->avg_frame_rate.num > 0)
                nominal = av_rescale_q(1, av_inv_q(st->avg_frame_rate), st->time_base);
            s.sanitiser->addStream(index, st->time_base, nominal);
        }
        if (cfg.passthrough)
            return true;
        if (s.input->videoStream() >= 0 && !s.video.open(ctx->streams[s.input->videoStream()], cfg.threads, error))
            return false;
        if (s.input->audioStream() >= 0 && !s.audio.open(ctx->streams[s.input->audioStream()], 1, error))
            return false;
        // Packets reach the decoders in microseconds on the output timeline.
        if (s.video.isOpen())
            s.video.context()->pkt_timebase = kMicroseconds;
        if (s.audio.isOpen())
            s.audio.context()->pkt_timebase = kMicroseconds;
        return true;
    }

    /// Pass-through: the source's streams must fit MPEG-TS and the segmenters follow them.
    bool adoptPassthroughSource(Source &s, MediaError *error)
    {
        AVFormatContext *ctx = s.input->context();
        QList<const AVCodecParameters *> params;
        int video = -1;
        if (s.input->videoStream() >= 0) {
            const AVCodecParameters *par = ctx->streams[s.input->videoStream()]->codecpar;
            if (par->codec_id != AV_CODEC_ID_H264 && par->codec_id != AV_CODEC_ID_HEVC && par->codec_id != AV_CODEC_ID_MPEG2VIDEO) {
                *error = {QStringLiteral("pass-through of %1").arg(s.input->spec().describe()), 0,
                          QStringLiteral("video codec %1 cannot be carried in MPEG-TS HLS: transcode it (give a ladder)")
                              .arg(QLatin1String(avcodec_get_name(par->codec_id)))};
                return false;
            }
            video = 0;
            params << par;
            sourceWidth = par->width;
            sourceHeight = par->height;
            const AVRational rate = ctx->streams[s.input->videoStream()]->avg_frame_rate;
            sourceFps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;
        }
        passthroughAudioCodec.clear();
        if (s.input->audioStream() >= 0) {
            const AVCodecParameters *par = ctx->streams[s.input->audioStream()]->codecpar;
            if (par->codec_id != AV_CODEC_ID_AAC && par->codec_id != AV_CODEC_ID_MP2 && par->codec_id != AV_CODEC_ID_MP3
                && par->codec_id != AV_CODEC_ID_AC3 && par->codec_id != AV_CODEC_ID_EAC3) {
                *error = {QStringLiteral("pass-through of %1").arg(s.input->spec().describe()), 0,
                          QStringLiteral("audio codec %1 cannot be carried in MPEG-TS HLS: transcode it (give a ladder)")
                              .arg(QLatin1String(avcodec_get_name(par->codec_id)))};
                return false;
            }
            params << par;
            passthroughAudioCodec = audioCodecString(par);
        }
        if (segmenters.empty())
            return openSegmenter(0, params, video, error);
        return segmenters[0]->restart(params, video, error);
    }

    /// The audio `s`'s input left out at its open decodes now (MediaInput::takeAudioJoined()):
    /// added without touching the picture. Transcoded: a decoder for it, into the audio the
    /// renditions always carry. Pass-through: from the next video keyframe, a segmenter restart
    /// with the audio stream (a discontinuity) and a master playlist naming its codec. False:
    /// it cannot be added (*error), and the source is opened again (a fresh probe).
    bool addJoinedAudio(Source &s, MediaError *error)
    {
        const AVStream *st = s.input->context()->streams[s.input->audioStream()];
        s.sanitiser->addStream(st->index, st->time_base, 0);
        qCInfo(lcPipeline).noquote() << cfg.id << "the source's audio decodes now: added"
                                     << (cfg.passthrough ? "at the next keyframe (a discontinuity)" : "to the renditions");
        if (cfg.passthrough) {
            s.audioAwaitsKeyframe = s.input->videoStream() >= 0;
            if (s.audioAwaitsKeyframe)
                return true;
            masterWritten = false; // written again with the audio's codec, at the next segment
            return adoptPassthroughSource(s, error);
        }
        if (!s.audio.open(st, 1, error))
            return false;
        s.audio.context()->pkt_timebase = kMicroseconds;
        return true;
    }

    /// Makes `s` the active input: its first packet will continue the output timeline.
    void adopt(std::unique_ptr<Source> &slot, std::unique_ptr<MediaInput> input, bool isSlate)
    {
        auto s = std::make_unique<Source>();
        s->input = std::move(input);
        s->slate = isSlate;
        s->realtime = cfg.pace && (isSlate || s->input->spec().realtime || s->input->spec().kind == InputSpec::Kind::TestPattern
                                   || s->input->spec().kind == InputSpec::Kind::File);
        std::lock_guard lock(inputsMutex);
        slot = std::move(s);
    }

    bool ensureSlate()
    {
        if (slate)
            return true;
        InputSpec spec;
        spec.kind = InputSpec::Kind::Slate;
        spec.title = cfg.name;
        spec.subtitle = QStringLiteral("Signal lost - reconnecting");
        spec.width = cfg.ladder.first().width;
        spec.height = cfg.ladder.first().height;
        spec.fps = cfg.fps;
        auto input = std::make_unique<MediaInput>();
        MediaError error;
        if (!input->open(spec, &error)) {
            setState(ChannelState::Failed, QStringLiteral("the slate cannot be made: ") + error.toString());
            return false;
        }
        adopt(slate, std::move(input), true);
        if (!openDecoders(*slate, &error)) {
            setState(ChannelState::Failed, QStringLiteral("the slate cannot be decoded: ") + error.toString());
            return false;
        }
        return true;
    }

    // --- the timeline -----------------------------------------------------------------------
    /// Repairs the packet's timestamps, maps them to µs on the output timeline. False: drop it.
    bool retime(Source &s, AVPacket *p)
    {
        const AVStream *st = s.input->context()->streams[p->stream_index];
        qint64 pts = p->pts, dts = p->dts;
        const quint64 repairedBefore = s.sanitiser->stats().repaired;
        s.sanitiser->fix(p->stream_index, pts, dts, p->duration);
        if (s.sanitiser->stats().repaired != repairedBefore && !s.slate) {
            QMutexLocker lock(&statsMutex);
            ++stats.repairedTimestamps;
        }
        if (dts == AV_NOPTS_VALUE)
            return false;
        if (pts == AV_NOPTS_VALUE)
            pts = dts;
        const qint64 ptsUs = av_rescale_q(pts, st->time_base, kMicroseconds);
        const qint64 dtsUs = av_rescale_q(dts, st->time_base, kMicroseconds);
        if (s.offsetUs == AV_NOPTS_VALUE) {
            // The first packet of this input lands right after what was output last; the very
            // first packet of the channel is timeline 0, now on the wall clock.
            const bool first = timelineEndUs == 0 && lastVideoOutUs == AV_NOPTS_VALUE;
            if (first) {
                anchorWallUs = wallUs();
                for (auto &seg : segmenters)
                    seg->setTimelineAnchor(anchorWallUs);
            } else if (const qint64 behindUs = wallUs() - (anchorWallUs + timelineEndUs);
                       cfg.passthrough && behindUs > kReanchorUs) {
                // Pass-through has no slate to fill an outage, and the timeline closes it up: the
                // wall clock moves the anchor on, so EXT-X-PROGRAM-DATE-TIME after the
                // discontinuity (a new input is one) says when the pictures were live, not when
                // they would have been without the outage. Timestamps stay continuous. An encoded
                // channel's timeline runs on through the slate, without a discontinuity, so its
                // dates must run on too.
                anchorWallUs += behindUs;
                for (auto &seg : segmenters)
                    seg->setTimelineAnchor(anchorWallUs);
            }
            s.offsetUs = (first ? 0 : timelineEndUs) - dtsUs;
        }
        p->pts = ptsUs + s.offsetUs;
        p->dts = dtsUs + s.offsetUs;
        p->duration = av_rescale_q(p->duration, st->time_base, kMicroseconds);
        p->time_base = kMicroseconds;
        return true;
    }

    void advanceTimeline(qint64 endUs)
    {
        timelineEndUs = qMax(timelineEndUs, endUs);
    }

    // --- transcoding ------------------------------------------------------------------------
    void onVideoFrame(AVFrame *frame)
    {
        qint64 pts = frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp : frame->pts;
        if (pts == AV_NOPTS_VALUE)
            pts = lastVideoOutUs == AV_NOPTS_VALUE ? 0 : lastVideoOutUs + frameUs;
        {
            QMutexLocker lock(&statsMutex);
            ++stats.framesIn;
        }
        // The ladder's frame rate: one frame per slot at most; strictly increasing.
        if (nextSlotUs != AV_NOPTS_VALUE && (pts < nextSlotUs - frameUs / 2 || (lastVideoOutUs != AV_NOPTS_VALUE && pts <= lastVideoOutUs))) {
            QMutexLocker lock(&statsMutex);
            ++stats.framesDropped;
            return;
        }
        if (nextSlotUs == AV_NOPTS_VALUE)
            nextSlotUs = pts;
        while (nextSlotUs <= pts + frameUs / 2)
            nextSlotUs += frameUs;
        // Keyframes on a grid of the output timeline from its first frame: the same instants in
        // every rendition, and segments of exactly segment_seconds from the first one on (a grid
        // from timeline 0 made the first segment longer when video started after audio).
        if (lastVideoOutUs == AV_NOPTS_VALUE && keyOriginUs == AV_NOPTS_VALUE)
            keyOriginUs = pts;
        const bool key = pts >= nextKeyUs - frameUs / 2 || lastVideoOutUs == AV_NOPTS_VALUE;
        if (key)
            nextKeyUs = keyOriginUs + ((pts - keyOriginUs + frameUs / 2) / gopUs + 1) * gopUs;
        lastVideoOutUs = pts;
        advanceTimeline(pts + frameUs);
        frame->pts = pts;
        for (size_t r = 0; r < encoders.size(); ++r) {
            MediaError error;
            const Rendition &rend = cfg.ladder.at(int(r));
            AVFrame *input = frame;
            if (frame->width != rend.width || frame->height != rend.height || frame->format != AV_PIX_FMT_YUV420P) {
                input = scalers[r].scale(frame, rend.width, rend.height, &error);
                if (!input) {
                    noteProblem(error.toString());
                    continue;
                }
            }
            input->pts = pts;
            const bool ok = encoders[r]->encode(input, key, [&](AVPacket *p) {
                if (codecStrings[int(r)].isEmpty() && (p->flags & AV_PKT_FLAG_KEY)) {
                    const QString c = avcCodecString(p);
                    codecStrings[int(r)] = c.isEmpty() ? QStringLiteral("-") : c;
                    writeMaster();
                }
                toSegmenter(int(r), p, 0);
            }, &error);
            if (!ok)
                noteProblem(error.toString());
        }
        QMutexLocker lock(&statsMutex);
        ++stats.framesOut;
        ++rateWindowFrames;
    }

    void onAudioFrame(AVFrame *frame)
    {
        MediaError error;
        qint64 pts = frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp : frame->pts;
        frame->pts = pts;
        if (pts != AV_NOPTS_VALUE && frame->sample_rate > 0)
            advanceTimeline(pts + qint64(frame->nb_samples) * 1000000 / frame->sample_rate);
        const bool ok = audio.encode(frame, [&](AVPacket *p) {
            for (size_t r = 0; r < segmenters.size(); ++r)
                toSegmenter(int(r), p, 1);
        }, &error);
        if (!ok)
            noteProblem(error.toString());
    }

    void process(Source &s, AVPacket *p)
    {
        const bool isVideo = p->stream_index == s.input->videoStream();
        if (!retime(s, p))
            return;
        if (s.realtime || !cfg.pace) {
            if (cfg.pace && !waitUntilWall(anchorWallUs + p->dts))
                return;
        } else if (cfg.pace && p->dts - (wallUs() - anchorWallUs) > kLiveLeadUs) {
            if (!waitUntilWall(anchorWallUs + p->dts - kLiveLeadUs))
                return;
        }
        QElapsedTimer busy;
        busy.start();
        if (cfg.passthrough) {
            const int stream = isVideo ? 0 : (s.input->videoStream() >= 0 ? 1 : 0);
            if (isVideo) {
                advanceTimeline(p->pts + qMax<qint64>(p->duration, frameUs));
                if (codecStrings[0].isEmpty() && (p->flags & AV_PKT_FLAG_KEY)) {
                    const QString c = avcCodecString(p);
                    codecStrings[0] = c.isEmpty() ? QStringLiteral("-") : c;
                }
                QMutexLocker lock(&statsMutex);
                ++stats.framesIn;
                ++stats.framesOut;
                ++rateWindowFrames;
            } else {
                advanceTimeline(p->pts + qMax<qint64>(p->duration, 0));
            }
            toSegmenter(0, p, stream);
        } else {
            MediaError error;
            Decoder &decoder = isVideo ? s.video : s.audio;
            const quint64 corruptBefore = decoder.corruptPackets();
            const bool ok = decoder.decode(p, [&](AVFrame *f) {
                if (isVideo)
                    onVideoFrame(f);
                else
                    onAudioFrame(f);
            }, &error);
            if (decoder.corruptPackets() != corruptBefore) {
                QMutexLocker lock(&statsMutex);
                ++stats.corruptPackets;
                lock.unlock();
                if (!s.slate)
                    noteProblem(QStringLiteral("corrupt input: ") + error.toString());
            }
            if (!ok)
                noteProblem(error.toString());
        }
        busyUs += busy.nsecsElapsed() / 1000;
        if (mediaStartUs == AV_NOPTS_VALUE)
            mediaStartUs = p->dts;
    }

    void updateRates()
    {
        const qint64 now = steadyMs();
        if (rateWindowStartMs == 0) {
            rateWindowStartMs = now;
            return;
        }
        const qint64 elapsed = now - rateWindowStartMs;
        if (elapsed < 2000)
            return;
        // The source's packets: what every kind of source has (an HLS or RTSP source has no
        // single byte stream to count).
        const qint64 bytes = std::exchange(rateWindowBytes, 0);
        QMutexLocker lock(&statsMutex);
        stats.inputKbps = bytes * 8.0 / elapsed;
        stats.outputFps = rateWindowFrames * 1000.0 / elapsed;
        const qint64 media = mediaStartUs == AV_NOPTS_VALUE ? 0 : timelineEndUs - mediaStartUs;
        stats.speed = busyUs > 0 ? double(media) / busyUs : 0;
        stats.timelineUs = timelineEndUs;
        quint64 segments = 0;
        for (const auto &seg : segmenters) {
            const auto st = seg->stats();
            segments += st.segments;
            if (st.lastSegmentListedUs > 0)
                stats.lastSegmentLatencyUs = st.lastSegmentListedUs - (anchorWallUs + st.lastSegmentEndPtsUs);
        }
        stats.segments = segments;
        rateWindowStartMs = now;
        rateWindowFrames = 0;
    }

    // --- the loop ---------------------------------------------------------------------------
    void sourceLost(const QString &why)
    {
        {
            std::lock_guard lock(inputsMutex);
            source.reset();
        }
        {
            QMutexLocker lock(&statsMutex);
            ++stats.reconnects;
            stats.liveSinceMs = 0;
        }
        nextAttemptMs = steadyMs() + backoff.next();
        setState(ChannelState::Reconnecting, why);
        if (!cfg.passthrough && slate)
            slate->offsetUs = AV_NOPTS_VALUE; // the slate continues the timeline
    }

    void pollOpener()
    {
        if (!opener.joinable()) {
            if (steadyMs() >= nextAttemptMs)
                startOpener();
            return;
        }
        if (!openerDone)
            return;
        opener.join();
        std::unique_ptr<MediaInput> input;
        {
            std::lock_guard lock(inputsMutex);
            input = std::move(opening);
        }
        if (stopping)
            return;
        if (!openOk) {
                nextAttemptMs = steadyMs() + backoff.next();
            setState(ChannelState::Reconnecting, openError.toString());
            return;
        }
        adopt(source, std::move(input), false);
        MediaError error;
        const bool usable = openDecoders(*source, &error) && (!cfg.passthrough || adoptPassthroughSource(*source, &error));
        if (!usable) {
            {
                std::lock_guard lock(inputsMutex);
                source.reset();
            }
            nextAttemptMs = steadyMs() + backoff.next();
            setState(ChannelState::Reconnecting, error.toString());
            return;
        }
        backoff.reset();
        {
            QMutexLocker lock(&statsMutex);
            stats.liveSinceMs = QDateTime::currentMSecsSinceEpoch();
        }
        setState(ChannelState::Live, {});
    }

    void run()
    {
        lowerThisThreadPriority(cfg.id, threadNice);
        anchorWallUs = wallUs();
        {
            QMutexLocker lock(&statsMutex);
            stats.memoryBudgetBytes = Pipeline::memoryBudget(cfg);
        }
        MediaError error;
        if (!QDir().mkpath(dir)) {
            setState(ChannelState::Failed, QStringLiteral("cannot create the output folder %1").arg(dir));
            return;
        }
        if (!openOutputs(&error)) {
            setState(ChannelState::Failed, error.toString());
            return;
        }
        setState(ChannelState::Starting, {});
        Packet packet = makePacket();
        while (!stopping) {
            if (!source)
                pollOpener();
            Source *active = source.get();
            if (!active) {
                if (cfg.passthrough || state == ChannelState::Starting) {
                    // Nothing to show yet (or nothing pass-through can bridge with): wait.
                    std::unique_lock lock(waitMutex);
                    wake.wait_for(lock, std::chrono::milliseconds(50));
                    continue;
                }
                if (!ensureSlate())
                    break;
                active = slate.get();
            }
            const MediaInput::Read r = active->input->read(packet.get(), &error);
            if (stopping)
                break;
            if (r == MediaInput::Read::End) {
                if (!active->slate && active->input->spec().kind == InputSpec::Kind::File && cfg.loop) {
                    if (active->input->rewind(&error)) {
                        active->sanitiser->rewound(); // one step for all streams: A/V stay as in the file
                        continue;
                    }
                }
                if (active->slate) {
                    setState(ChannelState::Failed, QStringLiteral("the slate ended"));
                    break;
                }
                if (cb.sourceEnded && active->input->spec().kind == InputSpec::Kind::File && !cfg.loop) {
                    ended = true;
                    break;
                }
                sourceLost(QStringLiteral("the source ended"));
                continue;
            }
            if (r == MediaInput::Read::Error) {
                if (active->slate) {
                    setState(ChannelState::Failed, QStringLiteral("the slate failed: ") + error.toString());
                    break;
                }
                sourceLost(error.toString());
                continue;
            }
            if (!active->slate)
                rateWindowBytes += packet->size;
            if (!active->slate && active->input->takeAudioJoined() && !addJoinedAudio(*active, &error)) {
                sourceLost(QStringLiteral("the source's audio decodes now but cannot be added: ") + error.toString());
                continue;
            }
            if (active->audioAwaitsKeyframe) {
                if (packet->stream_index == active->input->audioStream())
                    continue; // the segments have no audio stream until the keyframe; the picture goes on
                if (packet->flags & AV_PKT_FLAG_KEY) {
                    active->audioAwaitsKeyframe = false;
                    if (!adoptPassthroughSource(*active, &error)) {
                        sourceLost(error.toString());
                        continue;
                    }
                    masterWritten = false; // written again with the audio's codec, at the next segment
                }
            }
            process(*active, packet.get());
            updateRates();
            reviewHealth();
        }
        finish();
        if (ended)
            cb.sourceEnded();
    }

    void finish()
    {
        // A clean stop: drain the encoders and close the segments in progress.
        MediaError error;
        if (!cfg.passthrough) {
            for (size_t r = 0; r < encoders.size(); ++r)
                encoders[r]->encode(nullptr, false, [&](AVPacket *p) { toSegmenter(int(r), p, 0); }, &error);
            if (audio.context())
                audio.encode(nullptr, [&](AVPacket *p) {
                    for (size_t r = 0; r < segmenters.size(); ++r)
                        toSegmenter(int(r), p, 1);
                }, &error);
        }
        for (auto &seg : segmenters)
            if (!seg->finish(&error))
                qCWarning(lcPipeline).noquote() << cfg.id << error.toString();
        if (udp)
            avio_closep(&udp);
    }
};

Pipeline::Pipeline(ChannelConfig config, QString outputDir, Callbacks callbacks)
    : d(std::make_unique<Impl>(std::move(config), std::move(outputDir), std::move(callbacks)))
{
}

Pipeline::~Pipeline()
{
    stop();
}

void Pipeline::setThreadNice(int nice)
{
    d->threadNice = nice;
}

void Pipeline::start()
{
    if (d->thread.joinable())
        return;
    d->stopping = false;
    d->thread = std::thread([this] { d->run(); });
}

void Pipeline::requestStop()
{
    d->stopping = true;
    {
        std::lock_guard lock(d->inputsMutex);
        if (d->source)
            d->source->input->interrupt();
        if (d->slate)
            d->slate->input->interrupt();
        if (d->opening)
            d->opening->interrupt();
    }
    d->wake.notify_all();
}

void Pipeline::stop()
{
    requestStop();
    if (d->thread.joinable())
        d->thread.join();
    if (d->opener.joinable())
        d->opener.join();
}

PipelineStats Pipeline::stats() const
{
    QMutexLocker lock(&d->statsMutex);
    return d->stats;
}

qint64 Pipeline::memoryBudget(const ChannelConfig &c)
{
    // Per rendition: the segment in progress (at 1.5x the bitrate's peak), one part, the
    // keyframe cache (two GOPs), plus a fixed allowance for codec state.
    qint64 total = 0;
    const double seconds = c.segmentSeconds + c.partSeconds + 2 * c.gopSeconds;
    if (c.passthrough) {
        total += qint64(20'000'000 / 8 * seconds * 1.5); // up to 20 Mbit/s sources
    } else {
        for (const Rendition &r : c.ladder)
            total += qint64((r.bitrateKbps + c.audioKbps) * 1000 / 8 * seconds * 1.5);
    }
    return total;
}

} // namespace iptv::recast
