#include "livetsserver.h"

#include <QRandomGenerator>

using namespace iptv::media;

namespace {
constexpr int kWidth = 160;
constexpr int kHeight = 96;
constexpr int kFps = 25;
constexpr int kGop = 12;
constexpr int kSamplesPerFrame = 48000 / kFps;
const QByteArray kOk = "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
} // namespace

LiveTsServer::LiveTsServer(QObject *parent) : QObject(parent)
{
    m_clock.setTimerType(Qt::PreciseTimer);
    m_clock.setInterval(1000 / kFps);
    connect(&m_clock, &QTimer::timeout, this, &LiveTsServer::tick);
    connect(&m_server, &QTcpServer::newConnection, this, [this] {
        while (QTcpSocket *socket = m_server.nextPendingConnection())
            onConnection(socket);
    });
}

LiveTsServer::~LiveTsServer() = default;

bool LiveTsServer::addSource(const QString &name, int y, QString *error)
{
    auto s = std::make_unique<Source>();
    s->name = name;
    s->y = y;
    VideoEncoderSettings v;
    v.name = name;
    v.width = kWidth;
    v.height = kHeight;
    v.fps = kFps;
    v.bitrateKbps = 200;
    v.preset = QStringLiteral("ultrafast");
    v.profile = QStringLiteral("baseline");
    v.gopFrames = kGop;
    v.threads = 1;
    v.lowLatency = true;
    MediaError e;
    if (!s->video.open(v, &e) || !s->audio.open(64, &e)) {
        *error = e.toString();
        return false;
    }
    AVCodecParameters *vp = avcodec_parameters_alloc();
    AVCodecParameters *ap = avcodec_parameters_alloc();
    avcodec_parameters_from_context(vp, s->video.context());
    avcodec_parameters_from_context(ap, s->audio.context());
    const bool opened = s->muxer.open({vp, ap}, &e);
    avcodec_parameters_free(&vp);
    avcodec_parameters_free(&ap);
    if (!opened) {
        *error = e.toString();
        return false;
    }
    s->picture = makeFrame();
    s->picture->width = kWidth;
    s->picture->height = kHeight;
    s->picture->format = AV_PIX_FMT_YUV420P;
    s->sound = makeFrame();
    s->sound->format = AV_SAMPLE_FMT_FLTP;
    s->sound->sample_rate = 48000;
    s->sound->nb_samples = kSamplesPerFrame;
    av_channel_layout_default(&s->sound->ch_layout, 2);
    if (av_frame_get_buffer(s->sound.get(), 0) < 0) {
        *error = QStringLiteral("no memory for audio");
        return false;
    }
    for (int c = 0; c < 2; ++c)
        memset(s->sound->data[c], 0, sizeof(float) * kSamplesPerFrame);
    // Half a second of stream at once, so a viewer finds a GOP in the cache from the start.
    for (int i = 0; i < kGop; ++i)
        encode(*s);
    m_sources.push_back(std::move(s));
    return true;
}

bool LiveTsServer::listen()
{
    if (!m_server.listen(QHostAddress::LocalHost))
        return false;
    m_sinceStart.start();
    m_clock.start();
    return true;
}

QUrl LiveTsServer::url(const QString &path) const
{
    return QUrl(QStringLiteral("http://127.0.0.1:%1/%2").arg(m_server.serverPort()).arg(path));
}

void LiveTsServer::encode(Source &s)
{
    // A fresh picture buffer each time: the encoder may hold on to the last one.
    av_frame_unref(s.picture.get());
    s.picture->width = kWidth;
    s.picture->height = kHeight;
    s.picture->format = AV_PIX_FMT_YUV420P;
    if (av_frame_get_buffer(s.picture.get(), 0) < 0)
        return;
    for (int row = 0; row < kHeight; ++row)
        memset(s.picture->data[0] + row * s.picture->linesize[0], s.y, kWidth);
    for (int p = 1; p < 3; ++p) {
        for (int row = 0; row < kHeight / 2; ++row)
            memset(s.picture->data[p] + row * s.picture->linesize[p], 128, kWidth / 2);
    }
    const qint64 ptsUs = s.frameIndex * 1'000'000 / kFps;
    s.picture->pts = ptsUs;
    MediaError e;
    s.video.encode(s.picture.get(), s.frameIndex % kGop == 0, [this, &s](AVPacket *p) {
        MediaError we;
        const bool key = p->flags & AV_PKT_FLAG_KEY;
        if (key) {
            publish(s, s.muxer.take(), false);
            s.muxer.resendHeaders();
        }
        s.muxer.write(p, 0, &we);
        publish(s, s.muxer.take(), key);
    }, &e);
    s.sound->pts = ptsUs;
    s.audio.encode(s.sound.get(), [this, &s](AVPacket *p) {
        MediaError we;
        s.muxer.write(p, 1, &we);
        publish(s, s.muxer.take(), false);
    }, &e);
    ++s.frameIndex;
}

void LiveTsServer::publish(Source &s, const QByteArray &bytes, bool keyframe)
{
    if (bytes.isEmpty())
        return;
    s.cache.append(bytes, keyframe);
    for (const QPointer<QTcpSocket> &v : std::as_const(s.viewers)) {
        if (v && v->state() == QAbstractSocket::ConnectedState)
            v->write(bytes);
    }
}

void LiveTsServer::tick()
{
    // As many frames as the clock says are due (timers are late under load).
    for (auto &s : m_sources) {
        const qint64 due = kGop + m_sinceStart.elapsed() * kFps / 1000;
        while (s->frameIndex < due)
            encode(*s);
        s->viewers.removeAll(nullptr);
    }
    m_garbage.removeAll(nullptr);
    for (const QPointer<QTcpSocket> &g : std::as_const(m_garbage)) {
        if (g->bytesToWrite() > 256 * 1024)
            continue;
        QByteArray noise(16 * 1024, Qt::Uninitialized);
        QRandomGenerator::global()->fillRange(reinterpret_cast<quint32 *>(noise.data()), noise.size() / 4);
        g->write(noise);
    }
}

void LiveTsServer::onConnection(QTcpSocket *socket)
{
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    connect(socket, &QTcpSocket::readyRead, socket, [this, socket] {
        if (socket->property("served").toBool())
            return;
        const QByteArray head = socket->peek(8192);
        if (!head.contains("\r\n\r\n"))
            return;
        socket->readAll();
        socket->setProperty("served", true);
        const QList<QByteArray> requestLine = head.left(head.indexOf("\r\n")).split(' ');
        const QString path = requestLine.size() > 1 ? QString::fromLatin1(requestLine[1]).mid(1) : QString();
        ++m_requests[path];
        serve(socket, path);
        Q_EMIT requested(path);
    });
}

void LiveTsServer::serve(QTcpSocket *socket, const QString &path)
{
    if (path == QLatin1String("stall.ts")) {
        m_held.append(socket);
        return;
    }
    if (path == QLatin1String("silent.ts")) {
        socket->write(kOk);
        m_held.append(socket);
        return;
    }
    if (path == QLatin1String("garbage.ts")) {
        socket->write(kOk);
        m_garbage.append(socket);
        return;
    }
    if (path == QLatin1String("ends.ts") && !m_sources.empty()) {
        socket->write(kOk);
        socket->write(m_sources.front()->cache.snapshot());
        socket->disconnectFromHost();
        return;
    }
    for (auto &s : m_sources) {
        if (path == s->name + QLatin1String(".ts")) {
            socket->write(kOk);
            socket->write(s->cache.snapshot());
            s->viewers.append(socket);
            return;
        }
    }
    socket->write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    socket->disconnectFromHost();
}
