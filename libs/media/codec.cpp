#include "codec.h"

#include <QLoggingCategory>

extern "C" {
#include <libavutil/audio_fifo.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
}

namespace iptv::media {

static constexpr AVRational kMicroseconds{1, 1000000};

bool Decoder::open(const AVStream *stream, int threads, MediaError *error, bool lowDelay)
{
    const AVCodec *codec = avcodec_find_decoder(stream->codecpar->codec_id);
    if (!codec) {
        *error = {QStringLiteral("opening a decoder"), 0,
                  QStringLiteral("no decoder for codec \"%1\"").arg(QLatin1String(avcodec_get_name(stream->codecpar->codec_id)))};
        return false;
    }
    m_ctx.reset(avcodec_alloc_context3(codec));
    Q_CHECK_PTR(m_ctx.get());
    int rc = avcodec_parameters_to_context(m_ctx.get(), stream->codecpar);
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("configuring the %1 decoder").arg(QLatin1String(codec->name)), rc);
        return false;
    }
    m_ctx->pkt_timebase = stream->time_base;
    m_ctx->thread_count = threads;
    if (lowDelay)
        m_ctx->thread_type = FF_THREAD_SLICE;
    rc = avcodec_open2(m_ctx.get(), codec, nullptr);
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("opening the %1 decoder").arg(QLatin1String(codec->name)), rc);
        m_ctx.reset();
        return false;
    }
    return true;
}

bool Decoder::decode(const AVPacket *packet, const std::function<void(AVFrame *)> &sink, MediaError *error)
{
    int rc = avcodec_send_packet(m_ctx.get(), packet);
    if (rc < 0 && rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
        ++m_corrupt;
        *error = MediaError::fromAv(QStringLiteral("decoding %1").arg(QLatin1String(m_ctx->codec->name)), rc);
        if (rc == AVERROR_INVALIDDATA || rc == AVERROR(EINVAL))
            return true; // a corrupt packet: skipped and counted, the stream goes on
        return false;
    }
    for (;;) {
        rc = avcodec_receive_frame(m_ctx.get(), m_frame.get());
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return true;
        if (rc < 0) {
            ++m_corrupt;
            *error = MediaError::fromAv(QStringLiteral("decoding %1").arg(QLatin1String(m_ctx->codec->name)), rc);
            return true;
        }
        if (m_frame->decode_error_flags || (m_frame->flags & AV_FRAME_FLAG_CORRUPT))
            ++m_corrupt;
        sink(m_frame.get());
        av_frame_unref(m_frame.get());
    }
}

bool VideoEncoder::open(const VideoEncoderSettings &s, MediaError *error)
{
    m_settings = s;
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) {
        *error = {QStringLiteral("opening the %1 encoder").arg(s.name), 0, QStringLiteral("this FFmpeg has no libx264")};
        return false;
    }
    m_ctx.reset(avcodec_alloc_context3(codec));
    Q_CHECK_PTR(m_ctx.get());
    AVCodecContext *c = m_ctx.get();
    c->width = s.width;
    c->height = s.height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = kMicroseconds;
    c->framerate = AVRational{s.fps, 1};
    c->sample_aspect_ratio = AVRational{1, 1};
    c->bit_rate = qint64(s.bitrateKbps) * 1000;
    c->rc_max_rate = c->bit_rate * 3 / 2;
    c->rc_buffer_size = int(c->bit_rate * 2);
    c->gop_size = s.gopFrames;
    c->keyint_min = s.gopFrames;
    c->thread_count = s.threads;
    Dictionary opts;
    opts.set("preset", s.preset);
    if (!s.profile.isEmpty())
        opts.set("profile", s.profile);
    if (s.lowLatency)
        opts.set("tune", QStringLiteral("zerolatency"));
    // Keyframes only where the ladder forces them (the same timestamps in every rendition), as IDR,
    // with SPS/PPS repeated so every segment and every keyframe-cache start decodes alone.
    opts.set("forced-idr", 1);
    opts.set("x264-params", QStringLiteral("scenecut=0:open-gop=0:repeat-headers=1"));
    const int rc = avcodec_open2(c, codec, opts.get());
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("opening the libx264 encoder for %1 (%2x%3, preset %4)")
                                        .arg(s.name).arg(s.width).arg(s.height).arg(s.preset), rc);
        m_ctx.reset();
        return false;
    }
    return true;
}

bool VideoEncoder::encode(AVFrame *frame, bool forceKey, const std::function<void(AVPacket *)> &sink, MediaError *error)
{
    if (frame) {
        frame->pict_type = forceKey ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        if (forceKey)
            frame->key_frame = 1;
    }
    int rc = avcodec_send_frame(m_ctx.get(), frame);
    if (rc < 0 && rc != AVERROR_EOF) {
        *error = MediaError::fromAv(QStringLiteral("encoding %1 video").arg(m_settings.name), rc);
        return false;
    }
    for (;;) {
        rc = avcodec_receive_packet(m_ctx.get(), m_packet.get());
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return true;
        if (rc < 0) {
            *error = MediaError::fromAv(QStringLiteral("encoding %1 video").arg(m_settings.name), rc);
            return false;
        }
        sink(m_packet.get());
        av_packet_unref(m_packet.get());
    }
}

AVFrame *Scaler::scale(const AVFrame *src, int width, int height, MediaError *error)
{
    if (!m_sws || src->width != m_srcW || src->height != m_srcH || src->format != m_srcFormat) {
        // Built from options rather than sws_getContext, which cannot set "threads".
        m_sws.reset(sws_alloc_context());
        if (m_sws) {
            SwsContext *c = m_sws.get();
            av_opt_set_int(c, "srcw", src->width, 0);
            av_opt_set_int(c, "srch", src->height, 0);
            av_opt_set_int(c, "src_format", src->format, 0);
            av_opt_set_int(c, "dstw", width, 0);
            av_opt_set_int(c, "dsth", height, 0);
            av_opt_set_int(c, "dst_format", AV_PIX_FMT_YUV420P, 0);
            av_opt_set_int(c, "sws_flags", SWS_BICUBIC, 0);
            av_opt_set_int(c, "threads", m_threads, 0);
            if (sws_init_context(c, nullptr, nullptr) < 0)
                m_sws.reset();
        }
        if (!m_sws) {
            const char *name = av_get_pix_fmt_name(AVPixelFormat(src->format));
            *error = MediaError{QStringLiteral("scaling"), 0,
                                QStringLiteral("cannot convert %1x%2 %3 to %4x%5 yuv420p")
                                    .arg(src->width).arg(src->height)
                                    .arg(QLatin1String(name ? name : "?"))
                                    .arg(width).arg(height)};
            return nullptr;
        }
        m_srcW = src->width;
        m_srcH = src->height;
        m_srcFormat = src->format;
    }
    // A fresh buffer each frame: the encoder may still hold the previous one.
    m_out = makeFrame();
    m_out->width = width;
    m_out->height = height;
    m_out->format = AV_PIX_FMT_YUV420P;
    int rc = av_frame_get_buffer(m_out.get(), 0);
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("allocating a %1x%2 frame").arg(width).arg(height), rc);
        return nullptr;
    }
    // sws_scale_frame, not sws_scale: only the frame API scales slices on the context's threads.
    rc = sws_scale_frame(m_sws.get(), m_out.get(), src);
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("scaling to %1x%2").arg(width).arg(height), rc);
        return nullptr;
    }
    m_out->pts = src->pts;
    return m_out.get();
}

AudioEncoder::AudioEncoder() = default;

AudioEncoder::~AudioEncoder()
{
    swr_free(&m_swr);
    if (m_fifo)
        av_audio_fifo_free(m_fifo);
    av_channel_layout_uninit(&m_inLayout);
}

bool AudioEncoder::open(int bitrateKbps, MediaError *error)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec) {
        *error = {QStringLiteral("opening the AAC encoder"), 0, QStringLiteral("this FFmpeg has no AAC encoder")};
        return false;
    }
    m_ctx.reset(avcodec_alloc_context3(codec));
    Q_CHECK_PTR(m_ctx.get());
    AVCodecContext *c = m_ctx.get();
    c->sample_rate = 48000;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&c->ch_layout, 2);
    c->bit_rate = qint64(bitrateKbps) * 1000;
    c->time_base = AVRational{1, 48000};
    const int rc = avcodec_open2(c, codec, nullptr);
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("opening the AAC encoder"), rc);
        m_ctx.reset();
        return false;
    }
    m_fifo = av_audio_fifo_alloc(c->sample_fmt, c->ch_layout.nb_channels, c->frame_size * 4);
    Q_CHECK_PTR(m_fifo);
    return true;
}

void AudioEncoder::resetInput()
{
    swr_free(&m_swr);
    m_inRate = 0;
    m_inFormat = -1;
}

bool AudioEncoder::ensureResampler(const AVFrame *f, MediaError *error)
{
    if (m_swr && f->sample_rate == m_inRate && f->format == m_inFormat && !av_channel_layout_compare(&f->ch_layout, &m_inLayout))
        return true;
    swr_free(&m_swr);
    AVChannelLayout in{};
    if (f->ch_layout.nb_channels > 0)
        av_channel_layout_copy(&in, &f->ch_layout);
    else
        av_channel_layout_default(&in, 2);
    int rc = swr_alloc_set_opts2(&m_swr, &m_ctx->ch_layout, m_ctx->sample_fmt, m_ctx->sample_rate, &in,
                                 AVSampleFormat(f->format), f->sample_rate, 0, nullptr);
    if (rc >= 0)
        rc = swr_init(m_swr);
    if (rc < 0) {
        av_channel_layout_uninit(&in);
        *error = MediaError::fromAv(QStringLiteral("resampling %1 Hz audio").arg(f->sample_rate), rc);
        return false;
    }
    av_channel_layout_uninit(&m_inLayout);
    m_inLayout = in;
    m_inRate = f->sample_rate;
    m_inFormat = f->format;
    return true;
}

bool AudioEncoder::encode(const AVFrame *frame, const std::function<void(AVPacket *)> &sink, MediaError *error)
{
    if (frame) {
        if (!ensureResampler(frame, error))
            return false;
        // Samples are counted from the first frame's timestamp; a frame more than 100 ms away from
        // where the count says it should be (a gap in the input, drift) re-anchors the count.
        if (frame->pts != AV_NOPTS_VALUE) {
            const qint64 at = av_rescale_q(frame->pts, kMicroseconds, m_ctx->time_base);
            const qint64 expected = m_nextPts == AV_NOPTS_VALUE ? at : m_nextPts + av_audio_fifo_size(m_fifo);
            if (m_nextPts == AV_NOPTS_VALUE || qAbs(at - expected) > m_ctx->sample_rate / 10)
                m_nextPts = qMax(at - av_audio_fifo_size(m_fifo), m_nextPts == AV_NOPTS_VALUE ? at : m_nextPts);
        }
        const int outSamples = swr_get_out_samples(m_swr, frame->nb_samples);
        uint8_t **planes = nullptr;
        int rc = av_samples_alloc_array_and_samples(&planes, nullptr, m_ctx->ch_layout.nb_channels, outSamples,
                                                    m_ctx->sample_fmt, 0);
        if (rc < 0) {
            *error = MediaError::fromAv(QStringLiteral("allocating audio samples"), rc);
            return false;
        }
        const int converted = swr_convert(m_swr, planes, outSamples, const_cast<const uint8_t **>(frame->extended_data),
                                          frame->nb_samples);
        if (converted > 0)
            av_audio_fifo_write(m_fifo, reinterpret_cast<void **>(planes), converted);
        av_freep(&planes[0]);
        av_freep(&planes);
        if (converted < 0) {
            *error = MediaError::fromAv(QStringLiteral("resampling audio"), converted);
            return false;
        }
    }
    return flushFifo(frame == nullptr, sink, error);
}

bool AudioEncoder::flushFifo(bool all, const std::function<void(AVPacket *)> &sink, MediaError *error)
{
    const int frameSize = m_ctx->frame_size;
    auto drain = [&]() {
        for (;;) {
            const int rc = avcodec_receive_packet(m_ctx.get(), m_packet.get());
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
                return true;
            if (rc < 0) {
                *error = MediaError::fromAv(QStringLiteral("encoding AAC audio"), rc);
                return false;
            }
            av_packet_rescale_ts(m_packet.get(), m_ctx->time_base, kMicroseconds);
            sink(m_packet.get());
            av_packet_unref(m_packet.get());
        }
    };
    while (av_audio_fifo_size(m_fifo) >= frameSize || (all && av_audio_fifo_size(m_fifo) > 0)) {
        const int n = qMin(frameSize, av_audio_fifo_size(m_fifo));
        av_frame_unref(m_frame.get());
        m_frame->nb_samples = n;
        m_frame->format = m_ctx->sample_fmt;
        m_frame->sample_rate = m_ctx->sample_rate;
        av_channel_layout_copy(&m_frame->ch_layout, &m_ctx->ch_layout);
        int rc = av_frame_get_buffer(m_frame.get(), 0);
        if (rc < 0) {
            *error = MediaError::fromAv(QStringLiteral("allocating an audio frame"), rc);
            return false;
        }
        av_audio_fifo_read(m_fifo, reinterpret_cast<void **>(m_frame->data), n);
        m_frame->pts = m_nextPts == AV_NOPTS_VALUE ? 0 : m_nextPts;
        m_nextPts = m_frame->pts + n;
        rc = avcodec_send_frame(m_ctx.get(), m_frame.get());
        if (rc < 0) {
            *error = MediaError::fromAv(QStringLiteral("encoding AAC audio"), rc);
            return false;
        }
        if (!drain())
            return false;
    }
    if (all) {
        avcodec_send_frame(m_ctx.get(), nullptr);
        return drain();
    }
    return true;
}

} // namespace iptv::media
