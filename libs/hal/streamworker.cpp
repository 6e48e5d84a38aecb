#include "streamworker.h"

#include <media/codec.h>
#include <media/ffmpeg.h>

#include <QAudioFormat>
#include <QAudioSink>
#include <QCoreApplication>
#include <QLoggingCategory>
#include <QVideoFrameFormat>

extern "C" {
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <chrono>
#include <deque>

Q_LOGGING_CATEGORY(lcStream, "iptv.hal.stream", QtInfoMsg)

namespace iptv::hal {

using namespace iptv::media;

namespace {

constexpr AVRational kMicroseconds{1, 1000000};
constexpr int kQueuedFrames = 8;          ///< decoded pictures kept ahead of the clock
constexpr qint64 kQueuedAudioUs = 400'000; ///< decoded audio kept ahead of the sink
constexpr qint64 kJumpUs = 2'000'000;      ///< a picture this far from the clock: the timeline jumped
constexpr int kMaxInFlight = 3;            ///< pictures handed to the UI thread and not yet taken

qint64 steadyNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

qint64 steadyUs() { return steadyNs() / 1000; }

struct AvioDeleter { void operator()(AVIOContext *p) const { avio_closep(&p); } };
struct SwrDeleter { void operator()(SwrContext *s) const { swr_free(&s); } };

AVSampleFormat toAvFormat(QAudioFormat::SampleFormat f)
{
    switch (f) {
    case QAudioFormat::UInt8: return AV_SAMPLE_FMT_U8;
    case QAudioFormat::Int16: return AV_SAMPLE_FMT_S16;
    case QAudioFormat::Int32: return AV_SAMPLE_FMT_S32;
    case QAudioFormat::Float: return AV_SAMPLE_FMT_FLT;
    default: return AV_SAMPLE_FMT_NONE;
    }
}

} // namespace

/// The FFmpeg side of one stream, alive for the duration of run() on the stream's thread.
class StreamWorker::Session
{
public:
    explicit Session(StreamWorker *worker) : w(worker), m_timing(worker->m_settings.timing) {}
    ~Session();

    /// Opens and plays until the stream fails, ends or is stopped; false with *error on failure.
    bool play(QString *error);
    /// Why play() returned false (Error, Ended or Unauthorized).
    Player::Failure failure() const { return m_failure; }

private:
    static int interruptCallback(void *opaque);
    /// Every URL the demuxer opens after the first (an HLS playlist's reloads, its segments):
    /// libavformat's own opener, with the last answer's refusal (401) kept, since the HLS
    /// demuxer turns a reload that fails into the end of the stream.
    static int openNested(AVFormatContext *ctx, AVIOContext **pb, const char *url, int flags, AVDictionary **options);
    void arm(int timeoutMs);
    qint64 sinceRequestMs() const { return (steadyNs() - m_timing.requestedAtNs) / 1'000'000; }
    // Without the query: diver's URLs carry the box's ticket there, and these messages reach the
    // screen, the log and the control server.
    QString where() const { return w->m_settings.url.toDisplayString(QUrl::RemoveQuery); }

    bool open(QString *error);
    bool readPacket(QString *error);
    void onVideo(AVFrame *frame);
    void onAudio(AVFrame *frame);
    QVideoFrame toVideoFrame(const AVFrame *frame);
    QVideoFrame toRgbFrame(const AVFrame *frame);
    void deliver(const QVideoFrame &frame, bool first);
    void presentDue();
    void feedAudio();
    bool openAudioSink();
    qint64 clockUs();
    qint64 heardUs() const;
    void reanchor(qint64 ptsUs);
    bool wantsData() const;
    qint64 queuedAudioUs() const;

    StreamWorker *w;
    StartTiming m_timing;
    StreamStatistics m_stats;
    QString m_url;
    std::atomic<qint64> m_deadlineUs{0};
    std::atomic<bool> m_timedOut{false};
    Player::Failure m_failure = Player::Failure::Error;
    /// The last URL the demuxer opened was refused with 401 (openNested()).
    bool m_refused = false;
    decltype(AVFormatContext::io_open) m_defaultOpen = nullptr;

    std::unique_ptr<AVIOContext, AvioDeleter> m_pb; // declared before m_ctx: closed after it
    InputContext m_ctx;
    Packet m_packet = makePacket();
    int m_videoIndex = -1;
    int m_audioIndex = -1;
    Decoder m_video;
    Decoder m_audio;
    Scaler m_scaler;
    SwsContextPtr m_rgb; ///< rgbPictures: any decoded picture to RGB0, same size
    bool m_scalerWarned = false;

    bool m_sawKeyframe = false;
    bool m_shownFirst = false;
    qint64 m_lastVideoPtsUs = AV_NOPTS_VALUE;
    struct Picture { qint64 ptsUs; QVideoFrame frame; };
    std::deque<Picture> m_pictures;

    // The clock: the wall clock anchored at a picture, or the audio being heard once it agrees.
    qint64 m_anchorPtsUs = 0;
    qint64 m_anchorWallUs = 0;
    bool m_audioClock = false;

    // Audio
    std::unique_ptr<QAudioSink> m_sink;
    QIODevice *m_sinkIo = nullptr;
    QAudioFormat m_format;
    std::unique_ptr<SwrContext, SwrDeleter> m_swr;
    int m_swrRate = 0, m_swrFormat = -1;
    AVChannelLayout m_swrLayout{};
    struct Chunk { qint64 ptsUs; QByteArray pcm; qsizetype used = 0; };
    std::deque<Chunk> m_audioQueue;
    struct Written { qint64 offset; qint64 ptsUs; }; ///< the sink's bytes from `offset` on start at `ptsUs`
    std::deque<Written> m_written;
    qint64 m_bytesWritten = 0;
    bool m_audioStarted = false;
    qint64 m_lastAudioWriteUs = 0;
    int m_audioVersion = -1;
    qint64 m_lastStatsUs = 0;
};

StreamWorker::Session::~Session()
{
    av_channel_layout_uninit(&m_swrLayout);
    if (m_sink)
        m_sink->stop();
}

int StreamWorker::Session::interruptCallback(void *opaque)
{
    auto *self = static_cast<Session *>(opaque);
    if (self->w->stopping())
        return 1;
    const qint64 deadline = self->m_deadlineUs;
    if (deadline > 0 && steadyUs() > deadline) {
        self->m_timedOut = true;
        return 1;
    }
    return 0;
}

int StreamWorker::Session::openNested(AVFormatContext *ctx, AVIOContext **pb, const char *url, int flags, AVDictionary **options)
{
    auto *self = static_cast<Session *>(ctx->opaque);
    const int rc = self->m_defaultOpen(ctx, pb, url, flags, options);
    // Only the latest answer counts: a segment refused once and then served is no refusal.
    self->m_refused = rc == AVERROR_HTTP_UNAUTHORIZED;
    if (self->m_refused)
        qCInfo(lcStream).noquote() << "the server refused the credential of" << self->where() << "(HTTP 401) on a reload";
    return rc;
}

void StreamWorker::Session::arm(int timeoutMs)
{
    m_timedOut = false;
    m_deadlineUs = timeoutMs > 0 ? steadyUs() + qint64(timeoutMs) * 1000 : 0;
}

bool StreamWorker::Session::open(QString *error)
{
    const StreamSettings &s = w->m_settings;
    m_url = s.url.isLocalFile() ? s.url.toLocalFile() : s.url.toString(QUrl::FullyEncoded);
    const QByteArray url = m_url.toUtf8();
    const AVIOInterruptCB interrupt{&Session::interruptCallback, this};

    // Connect first on our own, so the zap's connect time is known apart from the header's.
    Dictionary ioOptions;
    ioOptions.set("user_agent", QStringLiteral("Hubris"));
    arm(s.openTimeoutMs);
    AVIOContext *pb = nullptr;
    int rc = avio_open2(&pb, url.constData(), AVIO_FLAG_READ, &interrupt, ioOptions.get());
    if (rc < 0) {
        if (rc == AVERROR_HTTP_UNAUTHORIZED)
            m_failure = Player::Failure::Unauthorized;
        if (!w->stopping())
            *error = QStringLiteral("Cannot connect to %1: %2")
                         .arg(where(), m_timedOut ? QStringLiteral("no answer within %1 s").arg(s.openTimeoutMs / 1000.0)
                                                  : avErrorText(rc));
        return false;
    }
    m_pb.reset(pb);
    m_timing.connectedMs = sinceRequestMs();
    Q_EMIT w->progress(m_timing.generation, m_timing);

    // The header: a live TS from recast is known to be MPEG-TS, so nothing is probed but its
    // PAT and PMT; anything else (HLS, files) is probed within the same small budget.
    AVFormatContext *ctx = avformat_alloc_context();
    Q_CHECK_PTR(ctx);
    ctx->pb = pb;
    ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
    ctx->interrupt_callback = interrupt;
    ctx->opaque = this;
    m_defaultOpen = ctx->io_open;
    ctx->io_open = &Session::openNested;
    ctx->probesize = s.probeBytes;
    ctx->max_analyze_duration = 500'000;
    const bool ts = s.url.path().endsWith(QLatin1String(".ts"));
    const AVInputFormat *format = ts ? av_find_input_format("mpegts") : nullptr;
    // An HLS playlist that names where to start (diver's recordings in progress, catch-up and
    // timeshift: EXT-X-START at 0) starts there; one that does not (a live channel) at its end.
    Dictionary formatOptions;
    formatOptions.set("prefer_x_start", QStringLiteral("1"));
    rc = avformat_open_input(&ctx, url.constData(), format, formatOptions.get()); // frees ctx (not our pb) on failure
    if (rc < 0) {
        if (m_refused)
            m_failure = Player::Failure::Unauthorized;
        if (!w->stopping())
            *error = QStringLiteral("%1 is not a playable stream: %2")
                         .arg(where(), m_timedOut ? QStringLiteral("no header within %1 s").arg(s.openTimeoutMs / 1000.0)
                                                  : avErrorText(rc));
        return false;
    }
    m_ctx.reset(ctx);
    auto knownVideo = [ctx] {
        for (unsigned i = 0; i < ctx->nb_streams; ++i) {
            const AVCodecParameters *p = ctx->streams[i]->codecpar;
            if (p->codec_type == AVMEDIA_TYPE_VIDEO && p->codec_id != AV_CODEC_ID_NONE)
                return true;
        }
        return false;
    };
    // The PMT names the codecs; the decoders find sizes and rates in the stream itself. Probing
    // further would only wait for more of the stream.
    if (!knownVideo()) {
        arm(s.openTimeoutMs);
        rc = avformat_find_stream_info(ctx, nullptr);
        if (rc < 0 && !w->stopping()) {
            const qint64 bytes = m_pb->bytes_read;
            if (!m_timedOut)
                *error = QStringLiteral("%1 is not a playable stream: %2").arg(where(), avErrorText(rc));
            else if (bytes == 0)
                *error = QStringLiteral("%1 is not a playable stream: no data within %2 s").arg(where()).arg(s.openTimeoutMs / 1000.0);
            else
                *error = QStringLiteral("%1 is not a playable stream: no video found in %2 bytes (%3 s)")
                             .arg(where()).arg(bytes).arg(s.openTimeoutMs / 1000.0);
        }
        if (rc < 0)
            return false;
    }
    m_videoIndex = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (m_videoIndex < 0) {
        QStringList found;
        for (unsigned i = 0; i < ctx->nb_streams; ++i)
            found << QLatin1String(avcodec_get_name(ctx->streams[i]->codecpar->codec_id));
        *error = QStringLiteral("%1 has no video stream (%2)")
                     .arg(where(), found.isEmpty() ? QStringLiteral("no streams at all")
                                                   : QStringLiteral("streams: ") + found.join(QLatin1String(", ")));
        return false;
    }
    // Audio in the viewer's language, else the stream marked default, else the first; the
    // subtitles in theirs (chosen and reported; not drawn yet).
    StreamTracks tracks;
    int chosenAudio = -1, defaultAudio = -1, chosenSubtitle = -1;
    QList<int> audioStreams;
    for (unsigned i = 0; i < ctx->nb_streams; ++i) {
        const AVStream *st = ctx->streams[i];
        const AVDictionaryEntry *tag = av_dict_get(st->metadata, "language", nullptr, 0);
        const QString language = tag ? QString::fromUtf8(tag->value) : QString();
        if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO && st->codecpar->codec_id != AV_CODEC_ID_NONE) {
            if (chosenAudio < 0 && languageMatches(s.audioLanguage, language))
                chosenAudio = int(i);
            if (defaultAudio < 0 && (st->disposition & AV_DISPOSITION_DEFAULT))
                defaultAudio = int(i);
            audioStreams.append(int(i));
            tracks.audioLanguages.append(language);
        } else if (st->codecpar->codec_type == AVMEDIA_TYPE_SUBTITLE) {
            if (chosenSubtitle < 0 && languageMatches(s.subtitleLanguage, language))
                chosenSubtitle = int(i);
            tracks.subtitleLanguages.append(language);
        }
    }
    if (chosenAudio < 0 && !audioStreams.isEmpty()) {
        if (!s.audioLanguage.isEmpty())
            qCInfo(lcStream).noquote() << "no audio in" << s.audioLanguage << "in" << where() << "(" << tracks.audioLanguages
                                       << "): the stream's default";
        // Not av_find_best_stream(): it passes over audio whose rate and channels are not known
        // yet, which is all of it in a TS opened on its PMT alone.
        chosenAudio = defaultAudio >= 0 ? defaultAudio : audioStreams.first();
    }
    tracks.audioTrack = int(audioStreams.indexOf(chosenAudio));
    if (chosenSubtitle >= 0) {
        int n = 0;
        for (int i = 0; i < chosenSubtitle; ++i)
            n += ctx->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_SUBTITLE;
        tracks.subtitleTrack = n;
    }
    Q_EMIT w->tracksFound(m_timing.generation, tracks);
    if (!s.audioDevice.isNull() || s.decodeAudioWithoutDevice)
        m_audioIndex = chosenAudio;
    if (m_audioIndex < 0)
        m_audioIndex = -1;
    m_stats.audioStream = m_audioIndex;
    for (unsigned i = 0; i < ctx->nb_streams; ++i) {
        if (int(i) != m_videoIndex && int(i) != m_audioIndex)
            ctx->streams[i]->discard = AVDISCARD_ALL;
    }
    MediaError decoderError;
    if (!m_video.open(ctx->streams[m_videoIndex], 2, &decoderError, /*lowDelay=*/true)) {
        *error = QStringLiteral("Cannot play the video of %1: %2").arg(where(), decoderError.toString());
        return false;
    }
    if (m_audioIndex >= 0 && !m_audio.open(ctx->streams[m_audioIndex], 1, &decoderError)) {
        qCWarning(lcStream).noquote() << "video only for" << where() << ":" << decoderError.toString();
        ctx->streams[m_audioIndex]->discard = AVDISCARD_ALL;
        m_audioIndex = -1;
    }
    m_timing.openedMs = sinceRequestMs();
    Q_EMIT w->progress(m_timing.generation, m_timing);
    qCDebug(lcStream).noquote() << "opened" << where() << "in" << m_timing.openedMs << "ms: video"
                                << avcodec_get_name(ctx->streams[m_videoIndex]->codecpar->codec_id) << "audio"
                                << (m_audioIndex >= 0 ? avcodec_get_name(ctx->streams[m_audioIndex]->codecpar->codec_id) : "none");
    return true;
}

bool StreamWorker::Session::readPacket(QString *error)
{
    const StreamSettings &s = w->m_settings;
    arm(s.readTimeoutMs);
    const int rc = av_read_frame(m_ctx.get(), m_packet.get());
    m_stats.bytesRead = m_pb->bytes_read;
    if (rc < 0) {
        if (w->stopping())
            return false;
        if (m_refused) {
            // An HLS playlist's reload (or a segment) answered 401, which the demuxer reports as
            // the end: a playback token that expired while it played, not the end of a timeshift.
            m_failure = Player::Failure::Unauthorized;
            *error = QStringLiteral("The stream %1 was refused on a reload: its credential expired or is not accepted (HTTP 401)")
                         .arg(where());
        } else if (rc == AVERROR_EOF || (avio_feof(m_pb.get()) && !m_timedOut)) {
            m_failure = Player::Failure::Ended;
            *error = QStringLiteral("The stream %1 ended").arg(where());
        }
        else if (m_timedOut)
            *error = QStringLiteral("The stream %1 stalled: no data for %2 s").arg(where()).arg(s.readTimeoutMs / 1000.0);
        else
            *error = QStringLiteral("Cannot read the stream %1: %2").arg(where(), avErrorText(rc));
        return false;
    }
    MediaError decodeError;
    if (m_packet->stream_index == m_videoIndex) {
        ++m_stats.videoPackets;
        if (!m_sawKeyframe) {
            // Nothing before the first keyframe decodes into a whole picture.
            if (!(m_packet->flags & AV_PKT_FLAG_KEY)) {
                ++m_stats.skippedBeforeKeyframe;
                av_packet_unref(m_packet.get());
                return true;
            }
            m_sawKeyframe = true;
            m_timing.firstKeyframeMs = sinceRequestMs();
            Q_EMIT w->progress(m_timing.generation, m_timing);
        }
        if (!m_video.decode(m_packet.get(), [this](AVFrame *f) { onVideo(f); }, &decodeError)) {
            *error = QStringLiteral("Cannot decode the video of %1: %2").arg(where(), decodeError.toString());
            return false;
        }
        m_stats.corruptPackets = qint64(m_video.corruptPackets() + m_audio.corruptPackets());
    } else if (m_packet->stream_index == m_audioIndex && m_sawKeyframe) {
        if (!m_audio.decode(m_packet.get(), [this](AVFrame *f) { onAudio(f); }, &decodeError)) {
            qCWarning(lcStream).noquote() << "audio of" << where() << "stops:" << decodeError.toString();
            m_audioIndex = -1;
        }
    }
    av_packet_unref(m_packet.get());
    return true;
}

QVideoFrame StreamWorker::Session::toRgbFrame(const AVFrame *src)
{
    m_rgb.reset(sws_getCachedContext(m_rgb.release(), src->width, src->height, AVPixelFormat(src->format), src->width,
                                     src->height, AV_PIX_FMT_RGB0, SWS_POINT, nullptr, nullptr, nullptr));
    if (!m_rgb) {
        if (!std::exchange(m_scalerWarned, true)) {
            const char *name = av_get_pix_fmt_name(AVPixelFormat(src->format));
            qCWarning(lcStream).noquote() << "pictures of" << where() << "cannot be shown: no conversion from"
                                          << (name ? name : "?") << "to RGB";
        }
        return {};
    }
    // The same colours as the YUV shaders would give (toVideoFrame's colour space and range).
    const bool full = src->color_range == AVCOL_RANGE_JPEG || src->format == AV_PIX_FMT_YUVJ420P
                      || src->format == AV_PIX_FMT_YUVJ422P;
    const bool bt709 = src->colorspace == AVCOL_SPC_BT709
                       || (src->colorspace == AVCOL_SPC_UNSPECIFIED && src->height >= 720);
    sws_setColorspaceDetails(m_rgb.get(), sws_getCoefficients(bt709 ? SWS_CS_ITU709 : SWS_CS_ITU601), full ? 1 : 0,
                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    QVideoFrame frame(QVideoFrameFormat(QSize(src->width, src->height), QVideoFrameFormat::Format_RGBX8888));
    if (!frame.isValid() || !frame.map(QVideoFrame::WriteOnly))
        return {};
    uint8_t *out[4] = {frame.bits(0), nullptr, nullptr, nullptr};
    int outLines[4] = {frame.bytesPerLine(0), 0, 0, 0};
    sws_scale(m_rgb.get(), src->data, src->linesize, 0, src->height, out, outLines);
    frame.unmap();
    return frame;
}

QVideoFrame StreamWorker::Session::toVideoFrame(const AVFrame *src)
{
    if (w->m_settings.rgbPictures)
        return toRgbFrame(src);
    QVideoFrameFormat::PixelFormat pixelFormat = QVideoFrameFormat::Format_Invalid;
    switch (src->format) {
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUVJ420P: pixelFormat = QVideoFrameFormat::Format_YUV420P; break;
    case AV_PIX_FMT_YUV422P:
    case AV_PIX_FMT_YUVJ422P: pixelFormat = QVideoFrameFormat::Format_YUV422P; break;
    case AV_PIX_FMT_NV12: pixelFormat = QVideoFrameFormat::Format_NV12; break;
    default: break;
    }
    const AVFrame *f = src;
    if (pixelFormat == QVideoFrameFormat::Format_Invalid) {
        MediaError error;
        f = m_scaler.scale(src, src->width, src->height, &error);
        if (!f) {
            if (!std::exchange(m_scalerWarned, true))
                qCWarning(lcStream).noquote() << "pictures of" << where() << "cannot be shown:" << error.toString();
            return {};
        }
        pixelFormat = QVideoFrameFormat::Format_YUV420P;
    }
    QVideoFrameFormat format(QSize(f->width, f->height), pixelFormat);
    const bool full = src->color_range == AVCOL_RANGE_JPEG || src->format == AV_PIX_FMT_YUVJ420P
                      || src->format == AV_PIX_FMT_YUVJ422P;
    format.setColorRange(full ? QVideoFrameFormat::ColorRange_Full : QVideoFrameFormat::ColorRange_Video);
    switch (src->colorspace) {
    case AVCOL_SPC_BT709: format.setColorSpace(QVideoFrameFormat::ColorSpace_BT709); break;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M: format.setColorSpace(QVideoFrameFormat::ColorSpace_BT601); break;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: format.setColorSpace(QVideoFrameFormat::ColorSpace_BT2020); break;
    default:
        format.setColorSpace(f->height >= 720 ? QVideoFrameFormat::ColorSpace_BT709 : QVideoFrameFormat::ColorSpace_BT601);
        break;
    }
    QVideoFrame frame(format);
    if (!frame.isValid() || !frame.map(QVideoFrame::WriteOnly))
        return {};
    const int chromaWidth = (f->width + 1) / 2;
    const int chromaHeight = pixelFormat == QVideoFrameFormat::Format_YUV422P ? f->height : (f->height + 1) / 2;
    for (int p = 0; p < frame.planeCount(); ++p) {
        const int bytesPerLine = frame.bytesPerLine(p);
        if (bytesPerLine <= 0)
            continue;
        // Within Qt's own plane layout, whatever it rounds (odd sizes).
        const int rows = qMin(p == 0 ? f->height : chromaHeight, frame.mappedBytes(p) / bytesPerLine);
        int rowBytes = p == 0 ? f->width : (pixelFormat == QVideoFrameFormat::Format_NV12 ? chromaWidth * 2 : chromaWidth);
        rowBytes = qMin(rowBytes, bytesPerLine);
        uchar *out = frame.bits(p);
        const uint8_t *in = f->data[p];
        for (int y = 0; y < rows; ++y)
            memcpy(out + qsizetype(y) * bytesPerLine, in + qsizetype(y) * f->linesize[p], size_t(rowBytes));
    }
    frame.unmap();
    return frame;
}

void StreamWorker::Session::onVideo(AVFrame *frame)
{
    ++m_stats.framesDecoded;
    const AVStream *stream = m_ctx->streams[m_videoIndex];
    qint64 ptsUs = frame->best_effort_timestamp == AV_NOPTS_VALUE
                       ? AV_NOPTS_VALUE
                       : av_rescale_q(frame->best_effort_timestamp, stream->time_base, kMicroseconds);
    if (ptsUs == AV_NOPTS_VALUE)
        ptsUs = m_lastVideoPtsUs == AV_NOPTS_VALUE ? 0 : m_lastVideoPtsUs + 40'000;
    m_lastVideoPtsUs = ptsUs;
    const bool first = !m_shownFirst;
    if (first) {
        m_timing.firstDecodedMs = sinceRequestMs();
        m_shownFirst = true;
    }
    QVideoFrame picture = toVideoFrame(frame);
    if (!picture.isValid()) {
        ++m_stats.framesDropped;
        return;
    }
    picture.setStartTime(ptsUs);
    if (first) {
        // Shown at once: the clock starts here.
        reanchor(ptsUs);
        Q_EMIT w->progress(m_timing.generation, m_timing);
        deliver(picture, true);
        return;
    }
    m_pictures.push_back({ptsUs, std::move(picture)});
}

void StreamWorker::Session::deliver(const QVideoFrame &frame, bool first)
{
    // The UI thread is behind (a busy scene, a slow machine): skip rather than queue up.
    if (!first && w->m_inFlight->load() >= kMaxInFlight) {
        ++m_stats.framesDropped;
        return;
    }
    ++*w->m_inFlight;
    ++m_stats.framesShown;
    Q_EMIT w->frameReady(m_timing.generation, frame);
}

void StreamWorker::Session::reanchor(qint64 ptsUs)
{
    m_anchorPtsUs = ptsUs;
    m_anchorWallUs = steadyUs();
    m_audioClock = false; // until the audio heard agrees with the new anchor
}

qint64 StreamWorker::Session::heardUs() const
{
    if (!m_sink || m_written.empty())
        return AV_NOPTS_VALUE;
    const int bytesPerSecond = m_format.bytesForDuration(1'000'000);
    if (bytesPerSecond <= 0)
        return AV_NOPTS_VALUE;
    const qint64 played = qint64(m_sink->processedUSecs()) * bytesPerSecond / 1'000'000;
    const Written *at = nullptr;
    for (const Written &wr : m_written) {
        if (wr.offset > played)
            break;
        at = &wr;
    }
    if (!at)
        return AV_NOPTS_VALUE;
    return at->ptsUs + (played - at->offset) * 1'000'000 / bytesPerSecond;
}

qint64 StreamWorker::Session::clockUs()
{
    const qint64 wall = m_anchorPtsUs + (steadyUs() - m_anchorWallUs);
    const qint64 heard = heardUs();
    if (heard == AV_NOPTS_VALUE)
        return wall;
    if (!m_audioClock && qAbs(heard - wall) < 100'000)
        m_audioClock = true;
    return m_audioClock ? heard : wall;
}

void StreamWorker::Session::presentDue()
{
    while (!m_pictures.empty()) {
        const qint64 clock = clockUs();
        const qint64 ahead = m_pictures.front().ptsUs - clock;
        if (ahead > kJumpUs || ahead < -kJumpUs) {
            // The timeline jumped (a new source upstream, a wrap): start the clock again here.
            reanchor(m_pictures.front().ptsUs);
            continue;
        }
        if (ahead > 2'000)
            return;
        // Late: when the next picture is due as well, this one is skipped.
        if (m_pictures.size() > 1 && m_pictures[1].ptsUs <= clock) {
            ++m_stats.framesDropped;
            m_pictures.pop_front();
            continue;
        }
        deliver(m_pictures.front().frame, false);
        m_pictures.pop_front();
    }
}

bool StreamWorker::Session::openAudioSink()
{
    const QAudioDevice &device = w->m_settings.audioDevice;
    QAudioFormat format;
    format.setSampleRate(48000);
    format.setChannelCount(2);
    format.setSampleFormat(QAudioFormat::Int16);
    if (!device.isFormatSupported(format))
        format = device.preferredFormat();
    if (toAvFormat(format.sampleFormat()) == AV_SAMPLE_FMT_NONE || format.channelCount() <= 0) {
        qCWarning(lcStream).noquote() << "audio device" << device.description() << "has no usable format: video only";
        return false;
    }
    m_format = format;
    m_sink = std::make_unique<QAudioSink>(device, format);
    m_sink->setBufferSize(format.bytesForDuration(200'000));
    m_sinkIo = m_sink->start();
    if (!m_sinkIo || m_sink->error() != QAudio::NoError) {
        qCWarning(lcStream).noquote() << "audio device" << device.description() << "does not start (error"
                                      << m_sink->error() << "): video only";
        m_sink.reset();
        m_sinkIo = nullptr;
        return false;
    }
    return true;
}

void StreamWorker::Session::onAudio(AVFrame *frame)
{
    ++m_stats.audioFrames;
    m_stats.audioSampleRate = frame->sample_rate;
    m_stats.audioChannels = frame->ch_layout.nb_channels;
    if (w->m_settings.audioDevice.isNull())
        return; // decoded for a test, heard by nobody
    if (!m_sink && !openAudioSink()) {
        m_ctx->streams[m_audioIndex]->discard = AVDISCARD_ALL;
        m_audioIndex = -1;
        return;
    }
    if (!m_swr || frame->sample_rate != m_swrRate || frame->format != m_swrFormat
        || av_channel_layout_compare(&frame->ch_layout, &m_swrLayout) != 0) {
        AVChannelLayout out{};
        av_channel_layout_default(&out, m_format.channelCount());
        SwrContext *swr = nullptr;
        int rc = swr_alloc_set_opts2(&swr, &out, toAvFormat(m_format.sampleFormat()), m_format.sampleRate(), &frame->ch_layout,
                                     AVSampleFormat(frame->format), frame->sample_rate, 0, nullptr);
        av_channel_layout_uninit(&out);
        if (rc >= 0)
            rc = swr_init(swr);
        if (rc < 0) {
            swr_free(&swr);
            qCWarning(lcStream).noquote() << "audio of" << where() << "cannot be resampled:" << avErrorText(rc);
            m_audioIndex = -1;
            return;
        }
        m_swr.reset(swr);
        m_swrRate = frame->sample_rate;
        m_swrFormat = frame->format;
        av_channel_layout_uninit(&m_swrLayout);
        av_channel_layout_copy(&m_swrLayout, &frame->ch_layout);
    }
    const int bytesPerFrame = m_format.bytesPerFrame();
    const int maxOut = swr_get_out_samples(m_swr.get(), frame->nb_samples);
    QByteArray pcm(qsizetype(maxOut) * bytesPerFrame, Qt::Uninitialized);
    uint8_t *out[] = {reinterpret_cast<uint8_t *>(pcm.data())};
    const int n = swr_convert(m_swr.get(), out, maxOut, const_cast<const uint8_t **>(frame->extended_data), frame->nb_samples);
    if (n <= 0)
        return;
    pcm.resize(qsizetype(n) * bytesPerFrame);
    const AVStream *stream = m_ctx->streams[m_audioIndex];
    const qint64 ptsUs = frame->best_effort_timestamp == AV_NOPTS_VALUE
                             ? (m_audioQueue.empty() ? m_anchorPtsUs : m_audioQueue.back().ptsUs)
                             : av_rescale_q(frame->best_effort_timestamp, stream->time_base, kMicroseconds);
    m_audioQueue.push_back({ptsUs, std::move(pcm)});
}

qint64 StreamWorker::Session::queuedAudioUs() const
{
    qint64 bytes = 0;
    for (const Chunk &c : m_audioQueue)
        bytes += c.pcm.size() - c.used;
    return m_sink ? m_format.durationForBytes(qint32(qMin<qint64>(bytes, INT32_MAX))) : 0;
}

void StreamWorker::Session::feedAudio()
{
    if (!m_sink)
        return;
    const int version = w->m_audioVersion.load();
    if (version != m_audioVersion) {
        m_audioVersion = version;
        const qreal linear = QAudio::convertVolume(w->m_volume.load() / 100.0, QAudio::LogarithmicVolumeScale,
                                                   QAudio::LinearVolumeScale);
        m_sink->setVolume(w->m_muted.load() ? 0.0 : linear);
    }
    if (!m_shownFirst)
        return; // the sound starts with the picture
    const int bytesPerSecond = m_format.bytesForDuration(1'000'000);
    if (m_audioStarted && !m_audioQueue.empty() && steadyUs() - m_lastAudioWriteUs > 2'000'000) {
        // The device takes nothing (suspended, gone): play on without sound rather than let the
        // queued sound hold up reading, and with it the picture.
        qCWarning(lcStream).noquote() << "audio device" << w->m_settings.audioDevice.description()
                                      << "took nothing for 2 s: video only for" << where();
        m_audioQueue.clear();
        m_ctx->streams[m_audioIndex]->discard = AVDISCARD_ALL;
        m_audioIndex = -1;
        m_sink->stop();
        m_sink.reset();
        m_sinkIo = nullptr;
        m_written.clear();
        m_audioClock = false;
        return;
    }
    if (!m_audioStarted) {
        // Start with the sound of the picture on screen now: drop what is past, pad what is
        // early with silence, so the audio clock agrees with the picture from the first sample.
        const qint64 now = m_anchorPtsUs + (steadyUs() - m_anchorWallUs);
        while (!m_audioQueue.empty()) {
            Chunk &c = m_audioQueue.front();
            const qint64 endUs = c.ptsUs + m_format.durationForBytes(qint32(c.pcm.size()));
            if (endUs <= now) {
                m_audioQueue.pop_front();
                continue;
            }
            if (c.ptsUs < now) {
                const qsizetype skip = qsizetype(m_format.bytesForDuration(now - c.ptsUs));
                c.pcm.remove(0, skip - skip % m_format.bytesPerFrame());
                c.ptsUs = now;
            } else if (c.ptsUs - now > 20'000 && c.ptsUs - now < 1'000'000) {
                QByteArray silence(qsizetype(m_format.bytesForDuration(c.ptsUs - now)), '\0');
                m_audioQueue.push_front({now, silence});
            }
            break;
        }
        if (m_audioQueue.empty())
            return;
        m_audioStarted = true;
        m_lastAudioWriteUs = steadyUs();
    }
    while (!m_audioQueue.empty()) {
        Chunk &c = m_audioQueue.front();
        const qsizetype free = m_sink->bytesFree();
        if (free <= 0)
            break;
        const qsizetype n = qMin(free, c.pcm.size() - c.used);
        const qint64 written = m_sinkIo->write(c.pcm.constData() + c.used, n);
        if (written <= 0)
            break;
        m_lastAudioWriteUs = steadyUs();
        m_written.push_back({m_bytesWritten, c.ptsUs + qint64(c.used) * 1'000'000 / bytesPerSecond});
        m_bytesWritten += written;
        c.used += written;
        if (c.used >= c.pcm.size())
            m_audioQueue.pop_front();
    }
    // Keep the map of written audio short: what is heard is near its end.
    while (m_written.size() > 64)
        m_written.pop_front();
}

bool StreamWorker::Session::wantsData() const
{
    if (!m_shownFirst)
        return true;
    const bool audio = m_audioIndex >= 0 && m_sink;
    if (qsizetype(m_pictures.size()) < kQueuedFrames)
        return !audio || queuedAudioUs() < 4 * kQueuedAudioUs;
    // Pictures are plenty; read on only when the sound would run dry (audio muxed late).
    return audio && queuedAudioUs() < kQueuedAudioUs && m_pictures.size() < 8 * kQueuedFrames;
}

bool StreamWorker::Session::play(QString *error)
{
    if (!open(error))
        return false;
    while (!w->stopping()) {
        presentDue();
        feedAudio();
        if (m_sink)
            QCoreApplication::processEvents(); // the audio sink's own notifications
        const qint64 now = steadyUs();
        if (now - m_lastStatsUs > 1'000'000) {
            m_lastStatsUs = now;
            Q_EMIT w->statistics(m_timing.generation, m_stats);
        }
        if (wantsData()) {
            if (!readPacket(error))
                return false;
            continue;
        }
        qint64 wait = m_sink ? 10'000 : 50'000;
        if (!m_pictures.empty())
            wait = qBound<qint64>(1'000, m_pictures.front().ptsUs - clockUs(), wait);
        w->idle(wait);
    }
    return true;
}

StreamWorker::StreamWorker(StreamSettings settings, QObject *parent) : QThread(parent), m_settings(std::move(settings))
{
    setObjectName(QStringLiteral("stream %1").arg(m_settings.timing.generation));
}

StreamWorker::~StreamWorker()
{
    requestStop();
    wait(); // only ever deleted once finished (deleteLater after finished), or by a bounded owner
}

void StreamWorker::requestStop()
{
    {
        std::lock_guard lock(m_wakeMutex);
        m_stop = true;
    }
    m_wake.notify_all();
}

void StreamWorker::setAudio(int volume, bool muted)
{
    m_volume = volume;
    m_muted = muted;
    ++m_audioVersion;
}

void StreamWorker::idle(qint64 us)
{
    std::unique_lock lock(m_wakeMutex);
    m_wake.wait_for(lock, std::chrono::microseconds(us), [this] { return m_stop.load(); });
}

void StreamWorker::run()
{
    QString error;
    bool ok = false;
    Player::Failure why = Player::Failure::Error;
    {
        Session session(this);
        ok = session.play(&error);
        why = session.failure();
    } // closed (connection and all) before the player hears of a failure
    if (!ok && !stopping()) {
        qCInfo(lcStream).noquote() << error;
        Q_EMIT failed(m_settings.timing.generation, error, why);
    }
}

} // namespace iptv::hal
