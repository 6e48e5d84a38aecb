// Fuzzes the start of recast's media path with corrupted MPEG-TS, as a UDP or HTTP source sends
// it: libavformat's demuxer reading through a custom AVIOContext, every packet through
// TimestampSanitiser, then into the in-memory TsMuxer the HLS segmenter uses. Whatever the bytes,
// the promises hold: per stream, output DTS strictly increases and PTS >= DTS, and no FFmpeg
// error escapes unworded. A broken promise aborts (a finding).
#include <media/ffmpeg.h>
#include <media/timestampsanitiser.h>
#include <media/tsmuxer.h>

extern "C" {
#include <libavutil/log.h>
#include <libavutil/mem.h>
}

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

using namespace iptv::media;

namespace {

struct Reader
{
    const uint8_t *data;
    size_t size;
    size_t pos = 0;
};

int readPacket(void *opaque, uint8_t *buf, int bufSize)
{
    auto *r = static_cast<Reader *>(opaque);
    if (r->pos >= r->size)
        return AVERROR_EOF;
    const int n = int(std::min<size_t>(size_t(bufSize), r->size - r->pos));
    std::memcpy(buf, r->data + r->pos, size_t(n));
    r->pos += size_t(n);
    return n;
}

[[noreturn]] void broken(const char *what, int stream, qint64 a, qint64 b)
{
    std::fprintf(stderr, "fuzz_tsdemux: %s (stream %d: %lld, %lld)\n", what, stream, static_cast<long long>(a),
                 static_cast<long long>(b));
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bool quiet = [] {
        av_log_set_level(AV_LOG_QUIET);
        return true;
    }();
    (void)quiet;
    Reader reader{data, size};
    constexpr int kBuffer = 4096;
    auto *buffer = static_cast<unsigned char *>(av_malloc(kBuffer));
    AVIOContext *io = avio_alloc_context(buffer, kBuffer, 0, &reader, &readPacket, nullptr, nullptr);
    AVFormatContext *ctx = avformat_alloc_context();
    ctx->pb = io;
    ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
    ctx->probesize = 32 * 1024;
    ctx->max_analyze_duration = 500000;
    const AVInputFormat *ts = av_find_input_format("mpegts");
    if (avformat_open_input(&ctx, nullptr, ts, nullptr) < 0) { // frees ctx, not the custom pb
        av_freep(&io->buffer);
        avio_context_free(&io);
        return 0;
    }
    InputContext input(ctx);
    avformat_find_stream_info(ctx, nullptr);

    TimestampSanitiser sanitiser;
    QList<const AVCodecParameters *> params;
    std::map<int, int> outputOf; // input stream -> muxer stream
    for (unsigned i = 0; i < ctx->nb_streams && params.size() < 4; ++i) {
        const AVStream *st = ctx->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO && st->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
            continue;
        if (st->time_base.num <= 0 || st->time_base.den <= 0)
            continue;
        sanitiser.addStream(int(i), st->time_base, 0);
        outputOf[int(i)] = int(params.size());
        params << st->codecpar;
    }
    TsMuxer muxer;
    MediaError error;
    bool muxing = !params.isEmpty() && muxer.open(params, &error);
    if (!muxing && !params.isEmpty() && error.toString().isEmpty())
        broken("a muxer error without words", -1, 0, 0);

    std::map<int, qint64> lastDts;
    Packet packet = makePacket();
    for (int n = 0; n < 5000 && av_read_frame(ctx, packet.get()) >= 0; ++n) {
        const auto out = outputOf.find(packet->stream_index);
        if (out == outputOf.end()) {
            av_packet_unref(packet.get());
            continue;
        }
        qint64 pts = packet->pts, dts = packet->dts;
        sanitiser.fix(packet->stream_index, pts, dts, packet->duration);
        if (dts != AV_NOPTS_VALUE) {
            const auto last = lastDts.find(packet->stream_index);
            if (last != lastDts.end() && dts <= last->second)
                broken("output DTS did not increase", packet->stream_index, last->second, dts);
            if (pts != AV_NOPTS_VALUE && pts < dts)
                broken("PTS below DTS", packet->stream_index, pts, dts);
            lastDts[packet->stream_index] = dts;
            if (muxing) {
                const AVRational tb = ctx->streams[packet->stream_index]->time_base;
                packet->pts = av_rescale_q(pts == AV_NOPTS_VALUE ? dts : pts, tb, AVRational{1, 1000000});
                packet->dts = av_rescale_q(dts, tb, AVRational{1, 1000000});
                packet->duration = 0;
                if (!muxer.write(packet.get(), out->second, &error)) {
                    if (error.toString().isEmpty())
                        broken("a muxer error without words", out->second, 0, 0);
                    muxing = false;
                }
                muxer.take();
            }
        }
        av_packet_unref(packet.get());
    }
    if (muxing)
        muxer.finish(&error);
    input.reset();
    av_freep(&io->buffer);
    avio_context_free(&io);
    return 0;
}
