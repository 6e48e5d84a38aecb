#include "recasttest.h"

#include <QRegularExpression>
#include <QUdpSocket>

namespace recasttest {

quint16 freeUdpPort()
{
    QUdpSocket s;
    if (!s.bind(QHostAddress::LocalHost, 0))
        return 0;
    return s.localPort();
}

bool startSlowSource(QProcess &process, quint16 port, double rate, QString *error)
{
    const QString r = QString::number(rate);
    process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    process.start(QStringLiteral("ffmpeg"),
                  {u"-hide_banner"_qs, u"-loglevel"_qs, u"error"_qs, u"-nostdin"_qs, u"-readrate"_qs, r, u"-f"_qs, u"lavfi"_qs, u"-i"_qs,
                   u"testsrc2=size=160x90:rate=25"_qs, u"-readrate"_qs, r, u"-f"_qs, u"lavfi"_qs, u"-i"_qs,
                   u"sine=frequency=440:sample_rate=48000"_qs, u"-c:v"_qs, u"libx264"_qs, u"-preset"_qs, u"ultrafast"_qs,
                   u"-tune"_qs, u"zerolatency"_qs, u"-g"_qs, u"25"_qs, u"-keyint_min"_qs, u"25"_qs, u"-sc_threshold"_qs, u"0"_qs,
                   u"-pix_fmt"_qs, u"yuv420p"_qs, u"-c:a"_qs, u"aac"_qs, u"-b:a"_qs, u"48k"_qs, u"-f"_qs, u"mpegts"_qs,
                   QStringLiteral("udp://127.0.0.1:%1?pkt_size=1316").arg(port)});
    if (!process.waitForStarted(10000)) {
        *error = QStringLiteral("ffmpeg: %1").arg(process.errorString());
        return false;
    }
    return true;
}

QList<MasterVariant> parseMaster(const QByteArray &text)
{
    static const QRegularExpression attribute(u"([A-Z0-9-]+)=(\"[^\"]*\"|[^,]*)"_qs);
    QList<MasterVariant> variants;
    const QStringList lines = QString::fromUtf8(text).split(u'\n', Qt::SkipEmptyParts);
    for (qsizetype i = 0; i + 1 < lines.size(); ++i) {
        if (!lines[i].startsWith(u"#EXT-X-STREAM-INF:"_qs))
            continue;
        MasterVariant v;
        v.uri = lines[i + 1].trimmed();
        auto it = attribute.globalMatch(lines[i].mid(18));
        while (it.hasNext()) {
            const auto m = it.next();
            QString value = m.captured(2);
            if (value.startsWith(u'"'))
                value = value.mid(1, value.size() - 2);
            if (m.captured(1) == u"BANDWIDTH"_qs)
                v.bandwidth = value.toLongLong();
            else if (m.captured(1) == u"RESOLUTION"_qs)
                v.resolution = value;
            else if (m.captured(1) == u"CODECS"_qs)
                v.codecs = value;
        }
        variants.append(v);
    }
    return variants;
}

qint64 peakSegmentBitrate(Client &client, const QString &playlistPath, const iptv::media::HlsCheck &check)
{
    const QString folder = playlistPath.left(playlistPath.lastIndexOf(u'/') + 1);
    qint64 peak = 0;
    for (const auto &s : check.segments) {
        const HttpResult r = client.get(folder + s.uri);
        if (r.status == 200 && s.duration > 0)
            peak = qMax(peak, qint64(r.body.size() * 8 / s.duration));
    }
    return peak;
}

QStringList checkTimeline(const iptv::media::HlsCheck &check)
{
    QStringList problems;
    for (qsizetype i = 0; i + 1 < check.segments.size(); ++i) {
        const auto &a = check.segments[i];
        const auto &b = check.segments[i + 1];
        if (b.discontinuity || !a.programDateTime.isValid() || !b.programDateTime.isValid())
            continue;
        const qint64 gapMs = a.programDateTime.msecsTo(b.programDateTime);
        if (std::abs(gapMs - a.duration * 1000) > 50)
            problems << QStringLiteral("%1 is dated %2 ms after %3, which lasts %4 ms")
                            .arg(b.uri).arg(gapMs).arg(a.uri).arg(qRound64(a.duration * 1000));
    }
    return problems;
}

double TsProbe::videoSeconds() const
{
    const TsPacket *first = firstVideo();
    const TsPacket *last = lastVideo();
    if (!first || !last || frameRate.num <= 0)
        return 0;
    qint64 lo = first->pts, hi = last->pts;
    for (const TsPacket &p : packets) {
        if (p.video) {
            lo = qMin(lo, p.pts);
            hi = qMax(hi, p.pts);
        }
    }
    return (hi - lo) * av_q2d(videoTimeBase) + av_q2d(av_inv_q(frameRate));
}

namespace {

struct MemoryInput
{
    QByteArray data;
    qint64 pos = 0;
};

int readMemory(void *opaque, uint8_t *buffer, int size)
{
    auto *m = static_cast<MemoryInput *>(opaque);
    const qint64 left = m->data.size() - m->pos;
    if (left <= 0)
        return AVERROR_EOF;
    const int n = int(qMin<qint64>(left, size));
    std::memcpy(buffer, m->data.constData() + m->pos, size_t(n));
    m->pos += n;
    return n;
}

struct AvioDeleter
{
    void operator()(AVIOContext *c) const
    {
        if (c)
            av_freep(&c->buffer);
        avio_context_free(&c);
    }
};

} // namespace

TsProbe probeTs(const QByteArray &bytes, bool decode, bool partial)
{
    using namespace iptv::media;
    TsProbe probe;
    MemoryInput input{bytes, 0};
    constexpr int kBufferSize = 32 * 1024;
    auto *buffer = static_cast<unsigned char *>(av_malloc(kBufferSize));
    std::unique_ptr<AVIOContext, AvioDeleter> avio(
        avio_alloc_context(buffer, kBufferSize, 0, &input, readMemory, nullptr, nullptr));
    AVFormatContext *raw = avformat_alloc_context();
    raw->pb = avio.get();
    int rc = avformat_open_input(&raw, nullptr, av_find_input_format("mpegts"), nullptr);
    if (rc < 0) {
        probe.error = QStringLiteral("opening the TS: ") + avErrorText(rc);
        return probe;
    }
    InputContext ctx(raw);
    rc = avformat_find_stream_info(ctx.get(), nullptr);
    if (rc < 0) {
        probe.error = QStringLiteral("reading the stream info: ") + avErrorText(rc);
        return probe;
    }
    const int video = av_find_best_stream(ctx.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    const int audio = av_find_best_stream(ctx.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (video < 0) {
        probe.error = QStringLiteral("no video stream");
        return probe;
    }
    const AVStream *vs = ctx->streams[video];
    probe.videoTimeBase = vs->time_base;
    probe.frameRate = vs->avg_frame_rate.num > 0 ? vs->avg_frame_rate : vs->r_frame_rate;
    probe.width = vs->codecpar->width;
    probe.height = vs->codecpar->height;

    CodecContext decoders[2];
    auto openDecoder = [&](int index, CodecContext *out) {
        if (index < 0)
            return true;
        const AVCodec *codec = avcodec_find_decoder(ctx->streams[index]->codecpar->codec_id);
        if (!codec) {
            probe.error = QStringLiteral("no decoder for stream %1").arg(index);
            return false;
        }
        out->reset(avcodec_alloc_context3(codec));
        avcodec_parameters_to_context(out->get(), ctx->streams[index]->codecpar);
        (*out)->thread_count = 1;
        (*out)->pkt_timebase = ctx->streams[index]->time_base;
        const int r = avcodec_open2(out->get(), codec, nullptr);
        if (r < 0) {
            probe.error = QStringLiteral("opening the decoder: ") + avErrorText(r);
            return false;
        }
        return true;
    };
    if (decode && !openDecoder(video, &decoders[0]))
        return probe;
    // A short piece of a live stream may not show the audio's parameters yet: audio is optional.
    if (decode && !openDecoder(audio, &decoders[1])) {
        probe.error.clear();
        decoders[1].reset();
    }

    Frame frame = makeFrame();
    auto drain = [&](AVCodecContext *dec, bool isVideo) {
        for (;;) {
            const int r = avcodec_receive_frame(dec, frame.get());
            if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
                return;
            if (r < 0) {
                probe.decodeErrors << QStringLiteral("receiving a frame: ") + avErrorText(r);
                return;
            }
            if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT))
                probe.decodeErrors << QStringLiteral("frame at pts %1 is corrupt").arg(frame->pts);
            ++(isVideo ? probe.videoFrames : probe.audioFrames);
            av_frame_unref(frame.get());
        }
    };
    // Each stream's packet is handled when the next one of its stream arrives, so a partial
    // stream can leave its last (perhaps cut) packets out.
    Packet held[2] = {makePacket(), makePacket()};
    bool holding[2] = {false, false};
    auto handle = [&](int i) {
        AVPacket *p = held[i].get();
        probe.packets.append({i == 0, p->pts, p->dts, (p->flags & AV_PKT_FLAG_KEY) != 0});
        if (i == 0)
            ++probe.videoPackets;
        if (AVCodecContext *dec = decoders[i].get()) {
            const int r = avcodec_send_packet(dec, p);
            if (r < 0 && r != AVERROR(EAGAIN))
                probe.decodeErrors << QStringLiteral("decoding a packet at pts %1: %2").arg(p->pts).arg(avErrorText(r));
            drain(dec, i == 0);
        }
        av_packet_unref(p);
        holding[i] = false;
    };
    Packet packet = makePacket();
    while ((rc = av_read_frame(ctx.get(), packet.get())) >= 0) {
        const int i = packet->stream_index == video ? 0 : packet->stream_index == audio ? 1 : -1;
        if (i >= 0) {
            if (holding[i])
                handle(i);
            av_packet_move_ref(held[i].get(), packet.get());
            holding[i] = true;
        }
        av_packet_unref(packet.get());
    }
    if (rc != AVERROR_EOF)
        probe.error = QStringLiteral("demuxing: ") + avErrorText(rc);
    for (int i = 0; i < 2; ++i)
        if (holding[i] && !partial)
            handle(i);
    for (int i = 0; i < 2; ++i) {
        if (decoders[i]) {
            avcodec_send_packet(decoders[i].get(), nullptr);
            drain(decoders[i].get(), i == 0);
        }
    }
    ctx.reset(); // before the AVIOContext it reads from
    return probe;
}

QString checkPsiFirst(const QByteArray &ts)
{
    if (ts.size() < 188 || ts.at(0) != 0x47)
        return QStringLiteral("does not start with a TS sync byte");
    bool pat = false, pmt = false;
    int pmtPid = -1;
    for (qsizetype at = 0; at + 188 <= ts.size(); at += 188) {
        const auto *p = reinterpret_cast<const unsigned char *>(ts.constData() + at);
        if (p[0] != 0x47)
            return QStringLiteral("lost TS sync at byte %1").arg(at);
        const int pid = ((p[1] & 0x1f) << 8) | p[2];
        const bool start = p[1] & 0x40;
        int offset = 4;
        if (p[3] & 0x20)
            offset += 1 + p[4];
        if (pid == 0 && start && offset < 180) {
            // PAT: pointer field, then the section; the first program's PMT PID.
            const unsigned char *s = p + offset + 1 + p[offset];
            pmtPid = ((s[10] & 0x1f) << 8) | s[11];
            pat = true;
        } else if (pid == pmtPid) {
            pmt = true;
        } else if (pid != 0x11 && pid != 0x1fff) {
            if (!pat || !pmt)
                return QStringLiteral("PID %1 at byte %2 comes before %3").arg(pid).arg(at).arg(pat ? u"the PMT"_qs : u"the PAT"_qs);
            return {};
        }
    }
    return QStringLiteral("no elementary stream packet");
}

} // namespace recasttest
