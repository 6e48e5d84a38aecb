#pragma once

// Shared pieces of the ReCast tests: tiny channels (so a suite stays fast on two cores), an
// in-process server on a free port, blocking HTTP helpers that spin the event loop, and an
// MPEG-TS prober that demuxes (and decodes) bytes held in memory through a custom AVIOContext.

#include "../iptvnext/testhttp.h"

#include <channelconfig.h>
#include <config.h>
#include <server.h>

#include <media/ffmpeg.h>
#include <media/hlsplaylist.h>

#include <QElapsedTimer>
#include <QMap>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QTcpSocket>
#include <QTest>

#include <cstring>
#include <memory>

extern "C" {
#include <libavutil/mem.h>
}

namespace recasttest {

using iptv::recast::ChannelConfig;
using iptv::recast::Rendition;
using iptv::recast::ServerConfig;

/// Two renditions small enough to encode many times faster than real time on one thread.
inline QList<Rendition> tinyLadder()
{
    return {{QStringLiteral("high"), 320, 180, 200}, {QStringLiteral("low"), 160, 90, 100}};
}

inline ChannelConfig tinyChannel(const QString &id, const QString &source = QStringLiteral("pattern:"))
{
    ChannelConfig c;
    c.id = id;
    c.name = id;
    c.tvgId = id + QStringLiteral(".test");
    c.source = source;
    c.ladder = tinyLadder();
    c.fps = 25;
    c.preset = QStringLiteral("ultrafast");
    c.threads = 1;
    c.segmentSeconds = 1;
    c.gopSeconds = 0.5;
    c.window = 6;
    c.audioKbps = 32;
    c.toneHz = 440;
    c.readTimeoutMs = 1000;
    c.openTimeoutMs = 2000;
    return c;
}

/// A pass-through channel of `source` (no ladder: the source's own rendition).
inline ChannelConfig passThroughChannel(const QString &id, const QString &source)
{
    ChannelConfig c = tinyChannel(id, source);
    c.passthrough = true;
    c.ladder.clear();
    return c;
}

/// A file played as a live channel: passed through, looped, paced, 2 s segments of 1 s GOPs.
inline ChannelConfig loopedFileChannel(const QString &id, const QString &file)
{
    ChannelConfig c = passThroughChannel(id, QStringLiteral("file:") + file);
    c.loop = true;
    c.pace = true;
    c.segmentSeconds = 2;
    c.gopSeconds = 1;
    return c;
}

inline ServerConfig serverConfig(const QString &dataDir, const QList<ChannelConfig> &channels)
{
    ServerConfig s;
    s.bindAddress = QHostAddress::LocalHost;
    s.port = 0;
    s.dataDir = dataDir;
    s.defaults = tinyChannel(QStringLiteral("defaults"));
    s.channels = channels;
    return s;
}

/// A free UDP port on 127.0.0.1 (bound and released; nothing else here races for it).
quint16 freeUdpPort();

/// ffmpeg sending a test stream (H.264 in one-second GOPs, AAC) as MPEG-TS over UDP to
/// 127.0.0.1:`port`, its input read at `rate` of real time: a source slower than the clock.
/// After a SIGSTOP/SIGCONT it sends what its rate owes at once (a burst).
bool startSlowSource(QProcess &process, quint16 port, double rate, QString *error);

class Client
{
public:
    explicit Client(quint16 port) : m_port(port) {}
    QUrl url(const QString &path) const { return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(path)); }
    HttpResult get(const QString &path, int timeoutMs = 30000)
    {
        return httpRequest(m_nam, "GET", url(path), {}, timeoutMs);
    }
    HttpResult send(const QByteArray &verb, const QString &path, const QByteArray &body = {})
    {
        QNetworkRequest request(url(path));
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        std::unique_ptr<QNetworkReply> reply(m_nam.sendCustomRequest(request, verb, body));
        if (!reply->isFinished()) {
            QSignalSpy finished(reply.get(), &QNetworkReply::finished);
            finished.wait(30000);
        }
        HttpResult r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.body = reply->readAll();
        r.headers = reply->rawHeaderPairs();
        r.error = reply->error();
        return r;
    }
    QJsonObject channel(const QString &id) { return get(QStringLiteral("/api/channels/") + id).json(); }
    QString state(const QString &id) { return channel(id).value(QLatin1String("state")).toString(); }
    /// The rendition's playlist checked per RFC 8216 (ok false when it is not there yet).
    iptv::media::HlsCheck playlist(const QString &id, const QString &rendition, const QString &query = {})
    {
        const HttpResult r = get(QStringLiteral("/live/%1/%2/index.m3u8%3").arg(id, rendition, query));
        if (r.status != 200)
            return {};
        return iptv::media::checkMediaPlaylist(r.body);
    }

private:
    quint16 m_port;
    QNetworkAccessManager m_nam;
};

struct MasterVariant
{
    QString uri;
    qint64 bandwidth = 0;
    QString resolution;
    QString codecs;
};
/// The variants of a master playlist (EXT-X-STREAM-INF and the URI line after it).
QList<MasterVariant> parseMaster(const QByteArray &text);

/// The highest bit rate (bits per second) of the segments `check` lists, read over HTTP: what a
/// variant's BANDWIDTH must not be below (RFC 8216 4.3.4.2).
qint64 peakSegmentBitrate(Client &client, const QString &playlistPath, const iptv::media::HlsCheck &check);

/// One demuxed packet, timestamps in the stream's time base.
struct TsPacket
{
    bool video = false;
    qint64 pts = 0;
    qint64 dts = 0;
    bool keyframe = false;
};

struct TsProbe
{
    QString error;                 ///< empty when the bytes demuxed
    AVRational videoTimeBase{1, 90000};
    AVRational frameRate{0, 1};    ///< of the video stream
    int width = 0, height = 0;
    QList<TsPacket> packets;       ///< in demux order
    int videoPackets = 0, videoFrames = 0, audioFrames = 0;
    QStringList decodeErrors;      ///< send/receive failures and frames flagged corrupt

    const TsPacket *firstVideo() const
    {
        for (const TsPacket &p : packets)
            if (p.video)
                return &p;
        return nullptr;
    }
    const TsPacket *lastVideo() const
    {
        for (auto it = packets.crbegin(); it != packets.crend(); ++it)
            if (it->video)
                return &*it;
        return nullptr;
    }
    /// Seconds from the first video frame's start to the last one's end.
    double videoSeconds() const;
};

/// Demuxes `bytes` as MPEG-TS (and decodes every packet when `decode`). A `partial` stream (a
/// live body cut anywhere) leaves its last packet of each stream out: it may be incomplete.
TsProbe probeTs(const QByteArray &bytes, bool decode, bool partial = false);

/// Problems with a playlist's EXT-X-PROGRAM-DATE-TIME: between segments without a
/// discontinuity it must advance by the EXTINF of the first (one timeline, no jumps).
QStringList checkTimeline(const iptv::media::HlsCheck &check);

/// One HTTP GET on a raw socket: the head parsed, the body kept as it arrives.
class RawViewer : public QObject
{
public:
    explicit RawViewer(QObject *parent = nullptr) : QObject(parent)
    {
        connect(&socket, &QTcpSocket::readyRead, this, [this] {
            if (!reading)
                return;
            buffer += socket.readAll();
            if (status == 0) {
                const qsizetype end = buffer.indexOf("\r\n\r\n");
                if (end < 0)
                    return;
                const QList<QByteArray> lines = buffer.left(end).split('\n');
                const QList<QByteArray> statusLine = lines.value(0).trimmed().split(' ');
                status = statusLine.value(1).toInt();
                for (qsizetype i = 1; i < lines.size(); ++i) {
                    const qsizetype colon = lines[i].indexOf(':');
                    if (colon > 0)
                        headers.insert(lines[i].left(colon).trimmed().toLower(), lines[i].mid(colon + 1).trimmed());
                }
                buffer.remove(0, end + 4);
            }
            received += buffer.size();
            if (body.size() < maxBody)
                body += buffer;
            buffer.clear();
        });
    }
    void get(quint16 port, const QByteArray &path)
    {
        clock.start();
        socket.connectToHost(QHostAddress::LocalHost, port);
        socket.write("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: recast-test\r\n\r\n");
    }
    /// Whether the body so far holds a video frame that decodes (probing at most every 4 KiB).
    bool decodable()
    {
        if (body.size() < probedAt + 4096)
            return probedAt > 0 && probe.videoFrames > 0;
        probedAt = body.size();
        probe = probeTs(body, true, true);
        if (probe.videoFrames > 0 && firstFrameMs < 0)
            firstFrameMs = clock.elapsed();
        return probe.videoFrames > 0;
    }

    QTcpSocket socket;
    bool reading = true;
    QByteArray buffer, body;
    qint64 received = 0;
    qsizetype maxBody = 64 * 1024 * 1024;
    int status = 0;
    QMap<QByteArray, QByteArray> headers;
    QElapsedTimer clock;
    qint64 firstFrameMs = -1;
    qsizetype probedAt = 0;
    TsProbe probe;
};

/// Checks that PAT and PMT come before the first packet of an elementary stream; the problem in
/// words, empty when they do.
QString checkPsiFirst(const QByteArray &ts);

} // namespace recasttest
