#include "input.h"

#include <QDateTime>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QUrl>

#include <algorithm>

extern "C" {
#include <libavdevice/avdevice.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libavutil/time.h>
}

#include <cstring>
#include <map>
#include <mutex>
#include <utility>

Q_LOGGING_CATEGORY(lcInput, "iptv.media.input", QtInfoMsg)

namespace iptv::media {

void registerDevices()
{
    static std::once_flag once;
    std::call_once(once, [] {
        avdevice_register_all();
        avformat_network_init();
    });
}

std::optional<InputSpec> InputSpec::parse(const QString &source, QString *error)
{
    InputSpec spec;
    const QString s = source.trimmed();
    if (s.isEmpty()) {
        *error = QStringLiteral("no source given");
        return std::nullopt;
    }
    if (s == QLatin1String("pattern") || s.startsWith(QLatin1String("pattern:"))) {
        spec.kind = Kind::TestPattern;
        spec.realtime = true;
        return spec;
    }
    if (s.startsWith(QLatin1String("v4l2:"))) {
        spec.kind = Kind::Device;
        spec.url = s.mid(5);
        if (spec.url.isEmpty()) {
            *error = QStringLiteral("v4l2: needs a device path, e.g. v4l2:/dev/video0");
            return std::nullopt;
        }
        return spec;
    }
    QString path;
    if (s.startsWith(QLatin1String("file:")))
        path = QUrl(s).isLocalFile() ? QUrl(s).toLocalFile() : s.mid(5);
    else if (s.startsWith(QLatin1Char('/')) || s.startsWith(QLatin1String("./")))
        path = s;
    if (!path.isEmpty()) {
        spec.kind = Kind::File;
        spec.url = path;
        spec.realtime = true;
        return spec;
    }
    const QUrl url(s);
    static const QStringList schemes = {QStringLiteral("rtsp"), QStringLiteral("rtsps"), QStringLiteral("http"),
                                        QStringLiteral("https"), QStringLiteral("udp"), QStringLiteral("rtp"),
                                        QStringLiteral("srt"), QStringLiteral("tcp"), QStringLiteral("rtmp")};
    if (!url.isValid() || !schemes.contains(url.scheme())) {
        *error = QStringLiteral("\"%1\" is not a source: use pattern:, a file path, v4l2:/dev/videoN or an "
                                "rtsp/http(s)/udp/rtp/srt/tcp/rtmp URL").arg(s);
        return std::nullopt;
    }
    spec.kind = Kind::Url;
    spec.url = s;
    return spec;
}

bool InputSpec::isPlaylist() const
{
    if (kind != Kind::Url && kind != Kind::File)
        return false;
    const QString path = QUrl(url).path();
    return path.endsWith(QLatin1String(".m3u8")) || path.endsWith(QLatin1String(".m3u"));
}

QString InputSpec::describe() const
{
    switch (kind) {
    case Kind::TestPattern: return QStringLiteral("test pattern %1x%2@%3").arg(width).arg(height).arg(fps);
    case Kind::Slate: return QStringLiteral("slate");
    case Kind::File: return (loop ? QStringLiteral("looping file ") : QStringLiteral("file ")) + url;
    case Kind::Device: return QStringLiteral("device ") + url;
    case Kind::Url: break;
    }
    return url;
}

namespace {

/// Escapes `text` for a filter option value inside a filtergraph: first for the option parser
/// (' \ :), then for the graph parser (' \ [ ] , ;).
QString escapeForGraph(const QString &text)
{
    auto escape = [](const QByteArray &in, const char *special) {
        char *out = nullptr;
        if (av_escape(&out, in.constData(), special, AV_ESCAPE_MODE_BACKSLASH, 0) < 0 || !out)
            return QByteArray();
        QByteArray r(out);
        av_free(out);
        return r;
    };
    return QString::fromUtf8(escape(escape(text.toUtf8(), "':"), "'[],;"));
}

} // namespace

QString patternGraph(const InputSpec &spec)
{
    const QString font = spec.fontFile.isEmpty() ? QStringLiteral("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
                                                 : spec.fontFile;
    const int big = qMax(12, spec.height / 10);
    const int small = qMax(10, spec.height / 18);
    const QString fontArg = QStringLiteral("fontfile=%1:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=%2")
                                .arg(escapeForGraph(font))
                                .arg(qMax(2, small / 3));
    QString video;
    if (spec.kind == InputSpec::Kind::Slate) {
        video = QStringLiteral("color=c=0x1c2833:size=%1x%2:rate=%3").arg(spec.width).arg(spec.height).arg(spec.fps);
        video += QStringLiteral(",drawtext=%1:expansion=none:fontsize=%2:x=(w-text_w)/2:y=h/2-text_h*1.5:text=%3")
                     .arg(fontArg).arg(big).arg(escapeForGraph(spec.title));
        video += QStringLiteral(",drawtext=%1:expansion=none:fontsize=%2:x=(w-text_w)/2:y=h/2+text_h:text=%3")
                     .arg(fontArg).arg(small).arg(escapeForGraph(spec.subtitle.isEmpty() ? QStringLiteral("signal lost")
                                                                                           : spec.subtitle));
    } else {
        video = QStringLiteral("testsrc2=size=%1x%2:rate=%3").arg(spec.width).arg(spec.height).arg(spec.fps);
        video += QStringLiteral(",drawtext=%1:expansion=none:fontsize=%2:x=(w-text_w)/2:y=h/8:text=%3")
                     .arg(fontArg).arg(big).arg(escapeForGraph(spec.title));
        // The wall clock and the frame's own time, for latency measurements by eye and by tool.
        video += QStringLiteral(",drawtext=%1:fontsize=%2:x=(w-text_w)/2:y=h-h/6:text=%3")
                     .arg(fontArg).arg(small).arg(escapeForGraph(QStringLiteral("%{localtime}  %{pts:hms}")));
    }
    video += QStringLiteral(",format=yuv420p[out0]");
    QString audio;
    if (spec.kind == InputSpec::Kind::Slate || spec.toneHz <= 0)
        audio = QStringLiteral("anullsrc=channel_layout=stereo:sample_rate=48000");
    else
        audio = QStringLiteral("sine=frequency=%1:sample_rate=48000:beep_factor=4,aformat=channel_layouts=stereo").arg(spec.toneHz);
    return video + QLatin1Char(';') + audio + QStringLiteral(",asetnsamples=n=1024:p=0[out1]");
}

MediaInput::MediaInput() { registerDevices(); }

MediaInput::~MediaInput() { close(); }

void MediaInput::close()
{
    m_held.clear();
    m_ctx.reset();
    m_video = m_audio = -1;
    m_leftOutAudio = -1;
    m_leftOutDecoder.reset();
    m_leftOutFrame.reset();
    m_joinedAudio.reset();
    m_audioJoined = false;
    m_probe = {};
    m_playlistUrl.clear();
    m_opened.clear();
    m_datesLost = false;
    m_segmentStartPts = AV_NOPTS_VALUE;
    m_segmentDurationMs = 0;
    m_playlistText.clear();
    m_playlistTextUrl.clear();
    m_targetDurationMs = 0;
    m_programDate.reset();
    m_segmentDate.reset();
    m_hls = {};
    m_lastSequence = -1;
    m_unplacedSkipped = m_segmentSkipped = 0;
    m_deadlineFired = false;
    m_topOpened = false;
    m_redirected = false;
}

static QByteArray pathOf(const QByteArray &url)
{
    return QUrl::fromEncoded(url).path().toUtf8();
}

namespace {

/// A playlist's text handed to the demuxer in place of its connection (MediaInput::takePlaylist).
struct PlaylistText
{
    QByteArray text;
    qsizetype at = 0;

    static int read(void *opaque, uint8_t *buffer, int size)
    {
        auto *self = static_cast<PlaylistText *>(opaque);
        const int n = int(qMin<qsizetype>(size, self->text.size() - self->at));
        if (n <= 0)
            return AVERROR_EOF;
        memcpy(buffer, self->text.constData() + self->at, size_t(n));
        self->at += n;
        return n;
    }
};

/// The reads of the demuxer's in-memory playlists go to PlaylistText::read, and only theirs.
bool isPlaylistText(const AVIOContext *pb)
{
    return pb && pb->read_packet == &PlaylistText::read;
}

bool isPlaylistPath(const QByteArray &path)
{
    return path.endsWith(".m3u8") || path.endsWith(".m3u");
}

} // namespace

int MediaInput::ioOpen(AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **options)
{
    auto *self = static_cast<MediaInput *>(s->opaque);
    const int rc = self->m_defaultIoOpen(s, pb, url, flags, options);
    if (rc < 0 || !url)
        return rc;
    const QByteArray u(url);
    // The first is the demuxer's own input, which libavformat closes itself (not through
    // io_close2): it stays a connection.
    const bool top = !std::exchange(self->m_topOpened, true);
    if (!top && !self->m_redirected && isPlaylistPath(pathOf(u)) && !self->takePlaylist(s, pb, u)) {
        // Redirected: opened again, the demuxer reading where it went, as it does without us.
        if (const int again = self->m_defaultIoOpen(s, pb, url, flags, options); again < 0)
            return again;
    }
    self->noteOpened(u);
    return rc;
}

int MediaInput::ioClose(AVFormatContext *s, AVIOContext *pb)
{
    if (!isPlaylistText(pb))
        return static_cast<MediaInput *>(s->opaque)->m_defaultIoClose(s, pb);
    delete static_cast<PlaylistText *>(pb->opaque);
    av_freep(&pb->buffer);
    avio_context_free(&pb);
    return 0;
}

bool MediaInput::takePlaylist(AVFormatContext *s, AVIOContext **pb, const QByteArray &url)
{
    char *location = nullptr;
    if (av_opt_get(*pb, "location", AV_OPT_SEARCH_CHILDREN, reinterpret_cast<uint8_t **>(&location)) >= 0 && location) {
        const bool moved = url != location;
        av_free(location);
        if (moved) {
            m_redirected = true;
            m_defaultIoClose(s, *pb);
            *pb = nullptr;
            return false;
        }
    }
    QByteArray text;
    char buffer[16384];
    for (int n; text.size() < 4 * 1024 * 1024 && (n = avio_read(*pb, reinterpret_cast<unsigned char *>(buffer), sizeof buffer)) > 0;)
        text.append(buffer, n);
    m_defaultIoClose(s, *pb);
    *pb = nullptr;
    m_playlistText = text;
    noteTargetDuration(text);
    m_playlistTextUrl = url;
    constexpr int kBufferSize = 16384;
    auto *buf = static_cast<unsigned char *>(av_malloc(kBufferSize));
    Q_CHECK_PTR(buf);
    *pb = avio_alloc_context(buf, kBufferSize, 0, new PlaylistText{std::move(text)}, &PlaylistText::read, nullptr, nullptr);
    Q_CHECK_PTR(*pb);
    return true;
}

void MediaInput::noteOpened(const QByteArray &url)
{
    if (isPlaylistPath(pathOf(url))) {
        m_playlistUrl = url;
        ++m_hls.playlistRequests;
        return;
    }
    if (m_playlistUrl.isEmpty())
        return;
    OpenedSegment segment = dateInPlaylist(m_playlistUrl, url);
    if (segment.resource)
        return; // an AES-128 key or an fMP4 init section: fetched for the segments, not one of them
    ++m_hls.segmentRequests;
    if (segment.sequence >= 0) {
        if (m_lastSequence >= 0 && segment.sequence > m_lastSequence + 1) {
            segment.skippedBefore = quint64(segment.sequence - m_lastSequence - 1);
            m_hls.segmentsSkipped += segment.skippedBefore;
            qCInfo(lcInput).noquote() << m_spec.describe() << ": the playlist moved on past" << segment.skippedBefore
                                      << "segment(s) before they were read (media sequence" << m_lastSequence + 1 << "to"
                                      << segment.sequence - 1 << ")";
        }
        m_lastSequence = segment.sequence;
    }
    // Every segment's date: the first anchors the media's clock, the later ones show whether the
    // source's dates drift from it or jump (takeSegmentDate()).
    if (m_datesLost) {
        m_unplacedSkipped += segment.skippedBefore;
        return;
    }
    if (m_opened.size() >= 16) {
        m_unplacedSkipped += m_opened.front().skippedBefore;
        m_opened.pop_front(); // never read (cannot be: the demuxer reads what it opens)
    }
    m_opened.push_back(segment);
}

/// An EXT-X-PROGRAM-DATE-TIME value (ISO 8601; ffmpeg writes the zone as +0000) in UTC ms; 0
/// when it is none.
static qint64 programDateTimeMs(QByteArray text)
{
    text = text.trimmed();
    // "+hhmm" as "+hh:mm", which Qt reads.
    if (text.size() > 5 && (text.at(text.size() - 5) == '+' || text.at(text.size() - 5) == '-') && text.indexOf(':', text.size() - 5) < 0)
        text.insert(text.size() - 2, ':');
    const QDateTime when = QDateTime::fromString(QString::fromLatin1(text), Qt::ISODateWithMs);
    return when.isValid() ? when.toMSecsSinceEpoch() : 0;
}

/// The value of attribute `name` of a playlist tag line (RFC 8216 4.2), quotes removed; empty
/// when the line has none.
static QByteArray attributeValue(const QByteArray &line, const QByteArray &name)
{
    const qsizetype colon = line.indexOf(':');
    if (colon < 0)
        return {};
    for (qsizetype at = colon + 1; at < line.size();) {
        const qsizetype eq = line.indexOf('=', at);
        if (eq < 0)
            return {};
        const bool wanted = line.mid(at, eq - at).trimmed() == name;
        qsizetype end;
        QByteArray value;
        if (eq + 1 < line.size() && line.at(eq + 1) == '"') {
            end = line.indexOf('"', eq + 2);
            if (end < 0)
                return {};
            value = line.mid(eq + 2, end - eq - 2);
            end = line.indexOf(',', end);
        } else {
            end = line.indexOf(',', eq);
            value = line.mid(eq + 1, end < 0 ? -1 : end - eq - 1);
        }
        if (wanted)
            return value;
        if (end < 0)
            return {};
        at = end + 1;
    }
    return {};
}

MediaInput::OpenedSegment MediaInput::findInPlaylistText(const QByteArray &text, const QUrl &base, const QString &wanted)
{
    // A segment without a date of its own follows the one before (RFC 8216 6.2.1) until a
    // discontinuity.
    qint64 dateMs = 0, durationMs = 0, sequence = 0;
    for (const QByteArray &raw : text.split('\n')) {
        const QByteArray line = raw.trimmed();
        if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) {
            dateMs = programDateTimeMs(line.mid(25));
        } else if (line.startsWith("#EXTINF:")) {
            durationMs = qRound64(line.mid(8, line.indexOf(',') - 8).toDouble() * 1000);
        } else if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) {
            sequence = line.mid(22).toLongLong();
        } else if (line == "#EXT-X-DISCONTINUITY") {
            dateMs = 0;
        } else if (line.startsWith("#EXT-X-KEY:") || line.startsWith("#EXT-X-MAP:")) {
            const QByteArray uri = attributeValue(line, "URI");
            if (!uri.isEmpty() && base.resolved(QUrl::fromEncoded(uri)).path() == wanted) {
                OpenedSegment resource;
                resource.resource = true;
                return resource;
            }
        } else if (!line.isEmpty() && !line.startsWith('#')) {
            if (base.resolved(QUrl::fromEncoded(line)).path() == wanted)
                return {dateMs, durationMs, sequence};
            if (dateMs > 0)
                dateMs += durationMs;
            durationMs = 0;
            ++sequence;
        }
    }
    return {};
}

MediaInput::OpenedSegment MediaInput::dateInPlaylist(const QByteArray &playlistUrl, const QByteArray &segmentUrl)
{
    const QUrl base = QUrl::fromEncoded(playlistUrl);
    const QString wanted = QUrl::fromEncoded(segmentUrl).path();
    // The playlist the demuxer read last lists the segment it opens (takePlaylist()); read
    // again only for a segment it does not list (the connection's first playlist is the
    // demuxer's own reading, not taken).
    if (m_playlistTextUrl == playlistUrl) {
        const OpenedSegment segment = findInPlaylistText(m_playlistText, base, wanted);
        if (segment.sequence >= 0 || segment.resource)
            return segment;
    }
    AVIOContext *io = nullptr;
    const AVIOInterruptCB interrupt{&MediaInput::interruptCallback, this};
    if (avio_open2(&io, playlistUrl.constData(), AVIO_FLAG_READ, &interrupt, nullptr) < 0)
        return {};
    ++m_hls.playlistRequests;
    QByteArray text;
    char buffer[16384];
    for (int n; text.size() < 4 * 1024 * 1024 && (n = avio_read(io, reinterpret_cast<unsigned char *>(buffer), sizeof buffer)) > 0;)
        text.append(buffer, n);
    avio_closep(&io);
    m_playlistText = text;
    noteTargetDuration(text);
    m_playlistTextUrl = playlistUrl;
    return findInPlaylistText(text, base, wanted);
}

void MediaInput::noteTargetDuration(const QByteArray &playlist)
{
    static constexpr QByteArrayView kTag = "#EXT-X-TARGETDURATION:";
    const qsizetype at = playlist.indexOf(kTag);
    if (at < 0)
        return; // a master playlist: its media playlist's comes next
    const qsizetype end = playlist.indexOf('\n', at);
    bool ok = false;
    const qint64 seconds = playlist.mid(at + kTag.size(), end < 0 ? -1 : end - at - kTag.size()).trimmed().toLongLong(&ok);
    if (ok && seconds > 0)
        m_targetDurationMs = std::min<qint64>(seconds, 3600) * 1000; // (a bound: a typo in a playlist does not hang a reader)
}

int MediaInput::readTimeoutMs() const
{
    if (m_spec.readTimeoutMs <= 0)
        return m_spec.readTimeoutMs; // none
    return int(std::max<qint64>(m_spec.readTimeoutMs, 3 * m_targetDurationMs));
}

static qint64 nowMs()
{
    return av_gettime_relative() / 1000;
}

void MediaInput::arm(int timeoutMs)
{
    m_timedOut = false;
    m_deadlineMs = timeoutMs > 0 ? nowMs() + timeoutMs : 0;
}

int MediaInput::interruptCallback(void *opaque)
{
    auto *self = static_cast<MediaInput *>(opaque);
    if (self->m_interrupted)
        return 1;
    const qint64 deadline = self->m_deadlineMs;
    if (deadline > 0 && nowMs() > deadline) {
        self->m_timedOut = self->m_deadlineFired = true;
        return 1;
    }
    return 0;
}

namespace {

/// Whether a stream has what a muxer needs of it and a player shows: an audio stream's sample
/// rate and channels (a muxer refuses audio without a sample rate), a picture's size.
bool hasParameters(const AVCodecParameters *par)
{
    switch (par->codec_type) {
    case AVMEDIA_TYPE_AUDIO: return par->sample_rate > 0 && par->ch_layout.nb_channels > 0;
    case AVMEDIA_TYPE_VIDEO: return par->width > 0 && par->height > 0;
    default: return true;
    }
}

bool hasParameters(const AVCodecContext *c)
{
    switch (c->codec_type) {
    case AVMEDIA_TYPE_AUDIO: return c->sample_rate > 0 && c->ch_layout.nb_channels > 0;
    case AVMEDIA_TYPE_VIDEO: return c->width > 0 && c->height > 0;
    default: return true;
    }
}

/// A decoder of `st` that only learns its parameters (one thread); *rc is why when it is null.
CodecContext openProbeDecoder(const AVStream *st, int *rc)
{
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    CodecContext c(codec ? avcodec_alloc_context3(codec) : nullptr);
    *rc = c ? avcodec_parameters_to_context(c.get(), st->codecpar) : AVERROR_DECODER_NOT_FOUND;
    if (*rc >= 0) {
        c->pkt_timebase = st->time_base;
        c->thread_count = 1;
        *rc = avcodec_open2(c.get(), codec, nullptr);
    }
    if (*rc < 0)
        c.reset();
    return c;
}

/// Feeds `packet` to `c` (a packet that does not decode, damaged or before the first keyframe, is
/// passed over); true once `c` knows its stream's parameters.
bool learnParameters(AVCodecContext *c, const AVPacket *packet, AVFrame *frame)
{
    if (avcodec_send_packet(c, packet) >= 0)
        while (avcodec_receive_frame(c, frame) >= 0)
            av_frame_unref(frame);
    return hasParameters(c);
}

/// "stream #1 (aac)"
QString streamName(const AVFormatContext *ctx, int index)
{
    return QStringLiteral("stream #%1 (%2)").arg(index).arg(QLatin1String(avcodec_get_name(ctx->streams[index]->codecpar->codec_id)));
}

/// The audio stream to read further when av_find_best_stream() found none with parameters: one
/// a decoder exists for, in the video's program first (an MPEG-TS carries several), -1 if none.
int audioWithoutParameters(AVFormatContext *ctx, int video)
{
    QList<int> order;
    if (const AVProgram *program = video >= 0 ? av_find_program_from_stream(ctx, nullptr, video) : nullptr)
        for (unsigned i = 0; i < program->nb_stream_indexes; ++i)
            order << int(program->stream_index[i]);
    for (unsigned i = 0; i < ctx->nb_streams; ++i)
        order << int(i);
    for (int index : std::as_const(order)) {
        const AVCodecParameters *par = ctx->streams[index]->codecpar;
        if (par->codec_type == AVMEDIA_TYPE_AUDIO && par->codec_id != AV_CODEC_ID_NONE && avcodec_find_decoder(par->codec_id))
            return index;
    }
    return -1;
}

} // namespace

QString MediaInput::who() const
{
    return m_spec.logName.isEmpty() ? m_spec.describe() : QStringLiteral("%1 (%2)").arg(m_spec.logName, m_spec.describe());
}

int MediaInput::nextPacket(AVPacket *packet)
{
    if (m_held.empty())
        return av_read_frame(m_ctx.get(), packet);
    av_packet_move_ref(packet, m_held.front().get());
    m_held.pop_front();
    return 0;
}

bool MediaInput::probeFurther(QList<int> *streams, MediaError *error)
{
    AVFormatContext *ctx = m_ctx.get();
    // Each stream's first packets decoded here, as avformat_find_stream_info() does, until the
    // decoder knows the stream's parameters (an AAC decoder from the first ADTS header).
    struct Probe
    {
        int index = -1;
        CodecContext codec;
    };
    std::vector<Probe> probes;
    for (int index : std::as_const(*streams)) {
        const AVStream *st = ctx->streams[index];
        int rc = 0;
        CodecContext c = openProbeDecoder(st, &rc);
        if (!c) {
            qCWarning(lcInput).noquote() << who() << ": cannot decode" << streamName(ctx, index) << "to find its parameters:"
                                         << MediaError::fromAv(QStringLiteral("opening its decoder"), rc).toString();
            continue;
        }
        const bool audio = st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
        qCInfo(lcInput).noquote() << QStringLiteral("%1: %2 %3 has no %4 after the first probe; reading on for it (at most %5 s of media)")
                                         .arg(who(), audio ? QStringLiteral("audio") : QStringLiteral("video"), streamName(ctx, index),
                                              audio ? QStringLiteral("sample rate or channels") : QStringLiteral("picture size"))
                                         .arg(kMoreProbeSeconds);
        probes.push_back({index, std::move(c)});
    }
    m_probe.streamsProbedMore = int(probes.size());
    Packet packet = makePacket();
    Frame frame = makeFrame();
    std::map<int, qint64> firstUs; // each stream's first timestamp read here
    while (!probes.empty()) {
        // A stall ends it, not wall time: a loaded machine's slow probe is no lost source.
        arm(readTimeoutMs());
        const int rc = av_read_frame(ctx, packet.get());
        if (rc == AVERROR_EOF || (rc < 0 && ctx->pb && avio_feof(ctx->pb) && !m_timedOut && !m_interrupted && m_spec.kind == InputSpec::Kind::File))
            break; // a short file: what it has is all there is
        if (rc < 0) {
            *error = MediaError::fromAv(QStringLiteral("reading %1 for its streams' parameters").arg(m_spec.describe()), rc);
            if (m_timedOut)
                error->reason = QStringLiteral("no data for %1 s").arg(readTimeoutMs() / 1000.0);
            else if (m_interrupted)
                error->reason = QStringLiteral("interrupted");
            return false;
        }
        const int index = packet->stream_index;
        if (index != m_video && index != m_audio) {
            av_packet_unref(packet.get());
            continue; // discarded once open
        }
        const AVStream *st = ctx->streams[index];
        m_probe.bytes += packet->size;
        if (packet->dts != AV_NOPTS_VALUE) {
            const qint64 us = av_rescale_q(packet->dts, st->time_base, AVRational{1, 1000000});
            m_probe.mediaUs = std::max(m_probe.mediaUs, us - firstUs.try_emplace(index, us).first->second);
        }
        const auto probe = std::find_if(probes.begin(), probes.end(), [index](const Probe &p) { return p.index == index; });
        if (probe != probes.end()) {
            if (learnParameters(probe->codec.get(), packet.get(), frame.get())) {
                const int rc2 = avcodec_parameters_from_context(ctx->streams[index]->codecpar, probe->codec.get());
                if (rc2 < 0) {
                    *error = MediaError::fromAv(QStringLiteral("taking the parameters of %1").arg(streamName(ctx, index)), rc2);
                    return false;
                }
                const AVCodecParameters *par = ctx->streams[index]->codecpar;
                qCInfo(lcInput).noquote() << QStringLiteral("%1: %2 is %3, found %4 s of media further on")
                                                 .arg(who(), streamName(ctx, index),
                                                      par->codec_type == AVMEDIA_TYPE_AUDIO
                                                          ? QStringLiteral("%1 Hz, %2 channel(s)").arg(par->sample_rate).arg(par->ch_layout.nb_channels)
                                                          : QStringLiteral("%1x%2").arg(par->width).arg(par->height))
                                                 .arg(double(m_probe.mediaUs) / 1e6, 0, 'f', 1);
                streams->removeAll(index);
                probes.erase(probe);
            }
        }
        Packet held = makePacket();
        av_packet_move_ref(held.get(), packet.get());
        m_held.push_back(std::move(held));
        if (m_probe.bytes >= kMoreProbeBytes || m_probe.mediaUs >= qint64(kMoreProbeSeconds) * 1000000)
            break;
    }
    return true;
}

bool MediaInput::open(const InputSpec &spec, MediaError *error)
{
    close();
    m_spec = spec;
    AVFormatContext *ctx = avformat_alloc_context();
    Q_CHECK_PTR(ctx);
    ctx->interrupt_callback.callback = &MediaInput::interruptCallback;
    ctx->interrupt_callback.opaque = this;

    Dictionary options;
    const AVInputFormat *format = nullptr;
    QString url = spec.url;
    switch (spec.kind) {
    case InputSpec::Kind::TestPattern:
    case InputSpec::Kind::Slate:
        format = av_find_input_format("lavfi");
        url = patternGraph(spec);
        break;
    case InputSpec::Kind::Device:
        format = av_find_input_format("video4linux2");
        if (!spec.deviceFormat.isEmpty())
            options.set("input_format", spec.deviceFormat);
        options.set("video_size", QStringLiteral("%1x%2").arg(spec.width).arg(spec.height));
        options.set("framerate", QString::number(spec.fps));
        break;
    case InputSpec::Kind::File:
        break;
    case InputSpec::Kind::Url:
        if (url.startsWith(QLatin1String("rtsp")))
            options.set("rtsp_transport", QStringLiteral("tcp"));
        if (url.startsWith(QLatin1String("udp")) || url.startsWith(QLatin1String("rtp"))) {
            // fifo_size counts 188-byte packets: 65,536 is 12 MiB, 5 s at 20 Mbit/s. The ring's
            // pages become resident as it fills, so 1,000,000 (183 MiB) grew every UDP channel
            // by its input rate until the ring wrapped (bench/recast/soak.sh).
            options.set("fifo_size", 65'536);
            options.set("overrun_nonfatal", 1);
        }
        break;
    }
    if ((spec.kind == InputSpec::Kind::TestPattern || spec.kind == InputSpec::Kind::Slate
         || spec.kind == InputSpec::Kind::Device) && !format) {
        avformat_free_context(ctx);
        *error = {QStringLiteral("opening %1").arg(spec.describe()), 0,
                  QStringLiteral("this FFmpeg has no %1 input").arg(QLatin1String(spec.kind == InputSpec::Kind::Device ? "v4l2" : "lavfi"))};
        return false;
    }
    if (spec.programDates && spec.isPlaylist()) {
        // Every playlist and segment the HLS demuxer opens passes here (a kept-alive
        // connection would take the next segment without), and its playlists are read
        // here, once, for it and for the dates.
        m_defaultIoOpen = ctx->io_open;
        m_defaultIoClose = ctx->io_close2;
        ctx->opaque = this;
        ctx->io_open = &MediaInput::ioOpen;
        ctx->io_close2 = &MediaInput::ioClose;
        options.set("http_persistent", 0);
    }
    // Live sources are probed briefly: a channel starts in a second, not after five.
    options.set("probesize", 2'000'000);
    options.set("analyzeduration", 2'000'000);

    arm(spec.openTimeoutMs);
    int rc = avformat_open_input(&ctx, url.toUtf8().constData(), format, options.get()); // frees ctx on failure
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("opening %1").arg(spec.describe()), rc);
        if (m_timedOut)
            error->reason = QStringLiteral("no answer within %1 s").arg(spec.openTimeoutMs / 1000.0);
        return false;
    }
    m_ctx.reset(ctx);
    arm(spec.openTimeoutMs);
    rc = avformat_find_stream_info(ctx, nullptr);
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("reading stream information of %1").arg(spec.describe()), rc);
        close();
        return false;
    }
    m_video = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    m_audio = av_find_best_stream(ctx, AVMEDIA_TYPE_AUDIO, -1, m_video >= 0 ? m_video : -1, nullptr, 0);
    if (m_video < 0)
        m_video = -1;
    // av_find_best_stream() passes over audio without a sample rate or channels: the brief probe
    // ended before its first packet decoded (audio that starts late, or a machine so loaded that
    // the open deadline cut the probe short), and the channel started silent (46 of 100 under
    // load). Such a stream is read further instead.
    if (m_audio < 0)
        m_audio = audioWithoutParameters(ctx, m_video);
    if (m_video < 0 && m_audio < 0) {
        *error = {QStringLiteral("opening %1").arg(spec.describe()), 0, QStringLiteral("no audio or video stream")};
        close();
        return false;
    }
    QList<int> lacking;
    for (int index : {m_video, m_audio})
        if (index >= 0 && !hasParameters(ctx->streams[index]->codecpar))
            lacking << index;
    if (!lacking.isEmpty()) {
        if (!probeFurther(&lacking, error)) {
            close();
            return false;
        }
        if (lacking.contains(m_video)) {
            *error = {QStringLiteral("opening %1").arg(spec.describe()), 0,
                      QStringLiteral("video %1 has no picture size after %2 s of media")
                          .arg(streamName(ctx, m_video)).arg(double(m_probe.mediaUs) / 1e6, 0, 'f', 1)};
            close();
            return false;
        }
        if (lacking.contains(m_audio)) {
            qCWarning(lcInput).noquote() << QStringLiteral("%1: audio %2 still has no sample rate or channels after %3 s of media (%4 KiB); "
                                                           "starting without audio")
                                                .arg(who(), streamName(ctx, m_audio))
                                                .arg(double(m_probe.mediaUs) / 1e6, 0, 'f', 1)
                                                .arg(m_probe.bytes / 1024);
            const int leftOut = m_audio;
            m_held.erase(std::remove_if(m_held.begin(), m_held.end(), [leftOut](const Packet &p) { return p->stream_index == leftOut; }),
                         m_held.end());
            m_audio = -1;
            m_probe.audioLeftOut = true;
            // Watched from here on: read() adds it the moment a packet of it decodes (audio that
            // starts late, or whose first packets were damaged), not at the next reconnect, which
            // a healthy source never has.
            int rc2 = 0;
            m_leftOutDecoder = openProbeDecoder(ctx->streams[leftOut], &rc2);
            if (m_leftOutDecoder) {
                m_leftOutAudio = leftOut;
                m_leftOutFrame = makeFrame();
            }
        }
    }
    for (unsigned i = 0; i < ctx->nb_streams; ++i) {
        if (int(i) != m_video && int(i) != m_audio && int(i) != m_leftOutAudio)
            ctx->streams[i]->discard = AVDISCARD_ALL;
    }
    qCDebug(lcInput).noquote() << "opened" << spec.describe() << "video stream" << m_video << "audio stream" << m_audio;
    return true;
}

MediaInput::Read MediaInput::read(AVPacket *packet, MediaError *error)
{
    av_packet_unref(packet);
    if (!m_ctx) {
        *error = {QStringLiteral("reading"), 0, QStringLiteral("the input is not open")};
        return Read::Error;
    }
    for (;;) {
        arm(readTimeoutMs());
        int rc = nextPacket(packet);
        // The HLS demuxer's segment reader turns an interrupted wait at the live edge into the
        // end of the segment's stream: an end that comes past the deadline is a stall.
        if (rc == AVERROR_EOF && m_timedOut && m_spec.kind != InputSpec::Kind::File)
            rc = AVERROR_EXIT;
        if (rc == AVERROR_EOF || (rc < 0 && m_ctx->pb && avio_feof(m_ctx->pb) && !m_timedOut && !m_interrupted
                                   && m_spec.kind == InputSpec::Kind::File))
            return Read::End;
        if (rc < 0) {
            *error = MediaError::fromAv(QStringLiteral("reading %1").arg(m_spec.describe()), rc);
            if (m_timedOut || (rc == AVERROR_EXIT && m_deadlineFired && !m_interrupted))
                error->reason = QStringLiteral("no data for %1 s").arg(readTimeoutMs() / 1000.0);
            else if (m_interrupted)
                error->reason = QStringLiteral("interrupted");
            return Read::Error;
        }
        const bool keyframe = packet->stream_index == m_video && (packet->flags & AV_PKT_FLAG_KEY);
        if (!m_opened.empty() && keyframe && packet->pts != AV_NOPTS_VALUE)
            noteKeyframe(packet->pts);
        // Skipped before a segment whose first keyframe is not known: told at the next one (the
        // demuxer opens a segment when it has read the one before, so the next is near).
        if (m_unplacedSkipped > 0 && (keyframe || (m_video < 0 && packet->stream_index == m_audio)))
            m_segmentSkipped += std::exchange(m_unplacedSkipped, 0);
        if (m_joinedAudio)
            keepJoinedAudioParameters(); // after any packet: the demuxer may have reset them while reading it
        if (packet->stream_index == m_video || packet->stream_index == m_audio)
            return Read::Packet;
        if (packet->stream_index == m_leftOutAudio && adoptLeftOutAudio(packet))
            return Read::Packet;
        av_packet_unref(packet);
    }
}

void MediaInput::keepJoinedAudioParameters()
{
    // The demuxer writes back its own parameters of a stream it never found them for (the
    // sample rate and channels zeroed, seen with MPEG-TS a keyframe later): a muxer opened
    // from them then refuses the stream ("sample rate not set").
    AVCodecParameters *par = m_ctx->streams[m_audio]->codecpar;
    if (par->sample_rate == m_joinedAudio->sample_rate && par->ch_layout.nb_channels == m_joinedAudio->ch_layout.nb_channels)
        return;
    qCDebug(lcInput).noquote() << who() << ": the demuxer reset the parameters of audio" << streamName(m_ctx.get(), m_audio)
                               << "(" << par->sample_rate << "Hz," << par->ch_layout.nb_channels << "channel(s)): put back";
    const int rc = avcodec_parameters_copy(par, m_joinedAudio.get());
    if (rc < 0)
        qCWarning(lcInput).noquote() << who() << ": audio" << streamName(m_ctx.get(), m_audio) << "lost its parameters:"
                                     << MediaError::fromAv(QStringLiteral("restoring them"), rc).toString();
}

bool MediaInput::adoptLeftOutAudio(const AVPacket *packet)
{
    ++m_probe.leftOutPackets;
    AVStream *st = m_ctx->streams[m_leftOutAudio];
    if (!learnParameters(m_leftOutDecoder.get(), packet, m_leftOutFrame.get()))
        return false;
    const int rc = avcodec_parameters_from_context(st->codecpar, m_leftOutDecoder.get());
    if (rc < 0) {
        qCWarning(lcInput).noquote() << who() << ": audio" << streamName(m_ctx.get(), m_leftOutAudio)
                                     << "decodes now, but its parameters cannot be taken:"
                                     << MediaError::fromAv(QStringLiteral("taking them"), rc).toString()
                                     << "(the channel stays without audio until the source is opened again)";
        m_leftOutDecoder.reset();
        st->discard = AVDISCARD_ALL;
        m_leftOutAudio = -1;
        return false;
    }
    m_joinedAudio.reset(avcodec_parameters_alloc());
    Q_CHECK_PTR(m_joinedAudio);
    avcodec_parameters_copy(m_joinedAudio.get(), st->codecpar);
    const AVCodecParameters *par = st->codecpar;
    qCInfo(lcInput).noquote() << QStringLiteral("%1: audio %2 decodes now (%3 Hz, %4 channel(s)) after %5 packet(s) passed over: "
                                                "added to the channel")
                                     .arg(who(), streamName(m_ctx.get(), m_leftOutAudio))
                                     .arg(par->sample_rate)
                                     .arg(par->ch_layout.nb_channels)
                                     .arg(m_probe.leftOutPackets - 1);
    m_audio = std::exchange(m_leftOutAudio, -1);
    m_leftOutDecoder.reset();
    m_leftOutFrame.reset();
    m_audioJoined = true;
    m_probe.audioJoinedLate = true;
    return true;
}

void MediaInput::noteKeyframe(qint64 pts)
{
    // The next segment's first keyframe: the first of the connection, or one after the segment
    // being read lasted its EXTINF (a quarter of it early at most, 250 ms: an EXTINF rounded to
    // whole seconds, RFC 8216 before version 3), or one going back (a discontinuity).
    bool next = m_segmentStartPts == AV_NOPTS_VALUE;
    if (!next) {
        const AVStream *st = m_ctx->streams[m_video];
        qint64 delta = pts - m_segmentStartPts;
        if (st->pts_wrap_bits > 0 && st->pts_wrap_bits < 63) {
            const qint64 wrap = qint64(1) << st->pts_wrap_bits;
            delta = ((delta % wrap) + wrap) % wrap;
            if (delta >= wrap / 2)
                delta -= wrap;
        }
        const qint64 deltaUs = av_rescale_q(delta, st->time_base, AVRational{1, 1000000});
        const qint64 earlyUs = qMin<qint64>(m_segmentDurationMs * 1000 / 4, 250'000);
        next = deltaUs < 0 || deltaUs >= m_segmentDurationMs * 1000 - earlyUs;
    }
    if (!next)
        return;
    const OpenedSegment segment = m_opened.front();
    m_opened.pop_front();
    m_segmentStartPts = pts;
    m_segmentDurationMs = segment.durationMs;
    m_segmentSkipped += segment.skippedBefore;
    if (segment.durationMs <= 0) {
        // Not listed where it was looked up (the playlist moved on, or could not be read): where
        // it ends is unknown, so the dates of the segments after it would go to the wrong
        // keyframes. None more on this connection (the first date taken still holds).
        for (const OpenedSegment &later : m_opened)
            m_unplacedSkipped += later.skippedBefore;
        m_opened.clear();
        m_datesLost = true;
    }
    if (segment.dateMs == 0)
        return;
    m_segmentDate = ProgramDate{segment.dateMs, pts};
    if (!m_programDate) {
        m_programDate = m_segmentDate;
        qCDebug(lcInput).noquote() << m_spec.describe() << ": its first dated segment aired at"
                                   << QDateTime::fromMSecsSinceEpoch(m_programDate->wallMs, Qt::UTC).toString(Qt::ISODateWithMs);
    }
}

bool MediaInput::rewind(MediaError *error)
{
    m_held.clear();
    arm(m_spec.openTimeoutMs);
    const int rc = avformat_seek_file(m_ctx.get(), -1, INT64_MIN, 0, 0, AVSEEK_FLAG_BACKWARD);
    if (rc < 0) {
        *error = MediaError::fromAv(QStringLiteral("rewinding %1").arg(m_spec.describe()), rc);
        return false;
    }
    return true;
}

} // namespace iptv::media
