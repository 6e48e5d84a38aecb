#include "tsmuxer.h"

#include <algorithm>

extern "C" {
#include <libavutil/mem.h>
#include <libavutil/opt.h>
}

namespace iptv::media {

static constexpr AVRational kMicroseconds{1, 1000000};
// The I/O buffer: what the muxer writes gathers here and goes to the sink (or is kept for take())
// when it is full or taken. 64 KiB: a 5 Mbit/s recording writes its file ~10 times a second
// instead of once a packet (~60 times), as the ffmpeg program's file output does (32 KiB).
static constexpr int kIoBufferSize = 188 * 348;

TsMuxer::~TsMuxer()
{
    close();
}

void TsMuxer::close()
{
    if (m_ctx && m_ctx->pb) {
        av_freep(&m_ctx->pb->buffer);
        avio_context_free(&m_ctx->pb);
    }
    m_ctx.reset();
    m_headerWritten = false;
}

int TsMuxer::writeCallback(void *opaque, uint8_t *data, int size)
{
    auto *self = static_cast<TsMuxer *>(opaque);
    const char *bytes = reinterpret_cast<const char *>(data);
    if (!self->m_sink || !self->m_sink(bytes, size))
        self->m_pending.append(bytes, size);
    return size;
}

bool TsMuxer::open(const QList<const AVCodecParameters *> &streams, MediaError *error)
{
    close();
    AVFormatContext *ctx = nullptr;
    int rc = avformat_alloc_output_context2(&ctx, nullptr, "mpegts", nullptr);
    if (rc < 0 || !ctx) {
        *error = MediaError::fromAv(QStringLiteral("creating an MPEG-TS muxer"), rc);
        return false;
    }
    m_ctx.reset(ctx);
    auto *buffer = static_cast<unsigned char *>(av_malloc(kIoBufferSize));
    Q_CHECK_PTR(buffer);
    ctx->pb = avio_alloc_context(buffer, kIoBufferSize, 1, this, nullptr, &TsMuxer::writeCallback, nullptr);
    Q_CHECK_PTR(ctx->pb);
    ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
    // Not flushed every packet (the default, -1, flushes at each packet's end through a flush
    // marker): a full buffer and take() flush it.
    ctx->flush_packets = 0;
    ctx->max_delay = 700000; // as the ffmpeg program's -muxdelay default: PCR leads DTS by 0.7 s
    for (const AVCodecParameters *par : streams) {
        AVStream *st = avformat_new_stream(ctx, nullptr);
        Q_CHECK_PTR(st);
        rc = avcodec_parameters_copy(st->codecpar, par);
        if (rc < 0) {
            *error = MediaError::fromAv(QStringLiteral("adding a stream to the MPEG-TS muxer"), rc);
            close();
            return false;
        }
        st->codecpar->codec_tag = 0;
        st->time_base = AVRational{1, 90000};
    }
    rc = avformat_write_header(ctx, nullptr);
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("starting the MPEG-TS muxer"), rc);
        close();
        return false;
    }
    m_headerWritten = true;
    return true;
}

void TsMuxer::resendHeaders()
{
    if (m_ctx)
        av_opt_set(m_ctx->priv_data, "mpegts_flags", "+resend_headers", 0);
}

bool TsMuxer::write(const AVPacket *packet, int stream, MediaError *error)
{
    if (!m_ctx || stream < 0 || stream >= int(m_ctx->nb_streams)) {
        *error = {QStringLiteral("muxing MPEG-TS"), 0, QStringLiteral("no output stream %1").arg(stream)};
        return false;
    }
    av_packet_unref(m_scratch.get());
    int rc = av_packet_ref(m_scratch.get(), packet);
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("muxing MPEG-TS"), rc);
        return false;
    }
    AVPacket *p = m_scratch.get();
    p->stream_index = stream;
    av_packet_rescale_ts(p, kMicroseconds, m_ctx->streams[stream]->time_base);
    p->pos = -1;
    rc = av_write_frame(m_ctx.get(), p);
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("muxing MPEG-TS"), rc);
        return false;
    }
    return true;
}

bool TsMuxer::flushBuffered(MediaError *error)
{
    if (!m_ctx || !m_headerWritten)
        return true;
    const int rc = av_write_frame(m_ctx.get(), nullptr); // AVFMT_ALLOW_FLUSH: the PES held back
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("flushing the MPEG-TS muxer's audio"), rc);
        return false;
    }
    return true;
}

qsizetype TsMuxer::pendingBytes() const
{
    qsizetype buffered = 0;
    if (m_ctx && m_ctx->pb) {
        const AVIOContext *pb = m_ctx->pb;
        buffered = std::max(pb->buf_ptr, pb->buf_ptr_max) - pb->buffer; // what avio_flush() writes
    }
    return m_pending.size() + buffered;
}

QByteArray TsMuxer::take()
{
    if (m_ctx && m_ctx->pb)
        avio_flush(m_ctx->pb);
    return std::exchange(m_pending, {});
}

bool TsMuxer::finish(MediaError *error)
{
    if (!m_ctx || !m_headerWritten)
        return true;
    m_headerWritten = false;
    const int rc = av_write_trailer(m_ctx.get());
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("finishing the MPEG-TS stream"), rc);
        return false;
    }
    return true;
}

} // namespace iptv::media
