// MediaInput reading a live HLS source over HTTP with its program dates (what a recorder does):
// what it asks of the server, and that it keeps up with a playlist that moves on.

#include <media/input.h>

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QHostAddress>
#include <QMutex>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

using namespace iptv::media;

namespace {

/// A live HLS origin on 127.0.0.1 over the segments src-0.ts … of a folder: a master playlist
/// at /live/index.m3u8 names one media playlist, /live/media.m3u8, which lists `window` segments
/// and moves on by one at every request for it: a playlist that advances as fast as it is
/// polled, so every reading a client makes beyond the ones it needs takes a segment out of the
/// window before the client read it. Each answer closes the connection (as the recorder's HLS
/// input asks for one per request).
class LiveOrigin : public QTcpServer
{
public:
    LiveOrigin(QString dir, int segments, int window) : m_dir(std::move(dir)), m_segments(segments), m_window(window) {}

    int playlistRequests() const { QMutexLocker l(&m_mutex); return m_masterRequests + m_playlistRequests; }
    int mediaPlaylistRequests() const { QMutexLocker l(&m_mutex); return m_playlistRequests; }
    int segmentRequests() const { QMutexLocker l(&m_mutex); return m_segmentRequests; }
    static qint64 dateOf(int segment) { return kBaseMs + segment * 1000; }

protected:
    void incomingConnection(qintptr handle) override
    {
        auto *socket = new QTcpSocket(this);
        socket->setSocketDescriptor(handle);
        connect(socket, &QTcpSocket::readyRead, socket, [this, socket] {
            if (!socket->canReadLine())
                return;
            const QList<QByteArray> request = socket->readLine().split(' ');
            const QByteArray path = request.value(1);
            QByteArray body, type = "video/mp2t";
            int status = 200;
            if (path == "/live/index.m3u8") {
                QMutexLocker l(&m_mutex);
                ++m_masterRequests;
                body = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000\nmedia.m3u8\n";
                type = "application/vnd.apple.mpegurl";
            } else if (path == "/live/media.m3u8") {
                body = playlist();
                type = "application/vnd.apple.mpegurl";
            } else if (path.startsWith("/live/src-") && path.endsWith(".ts")) {
                QMutexLocker l(&m_mutex);
                ++m_segmentRequests;
                l.unlock();
                QFile f(QDir(m_dir).filePath(QString::fromLatin1(path.mid(6))));
                if (f.open(QIODevice::ReadOnly))
                    body = f.readAll();
                else
                    status = 404;
            } else {
                status = 404;
            }
            socket->write("HTTP/1.1 " + QByteArray::number(status) + (status == 200 ? " OK" : " Not Found")
                          + "\r\nContent-Type: " + type + "\r\nContent-Length: " + QByteArray::number(body.size())
                          + "\r\nConnection: close\r\n\r\n" + body);
            socket->disconnectFromHost();
        });
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    }

private:
    static constexpr qint64 kBaseMs = 1'800'000'000'000;

    QByteArray playlist()
    {
        QMutexLocker l(&m_mutex);
        const int first = qMin(m_playlistRequests++, m_segments - m_window);
        QByteArray text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:"
                          + QByteArray::number(first) + '\n';
        for (int i = first; i < first + m_window; ++i) {
            text += "#EXT-X-PROGRAM-DATE-TIME:"
                    + QDateTime::fromMSecsSinceEpoch(dateOf(i), Qt::UTC).toString(Qt::ISODateWithMs).toLatin1() + '\n';
            text += "#EXTINF:1.000000,\nsrc-" + QByteArray::number(i) + ".ts\n";
        }
        return text;
    }

    const QString m_dir;
    const int m_segments;
    const int m_window;
    mutable QMutex m_mutex;
    int m_masterRequests = 0;
    int m_playlistRequests = 0; ///< of the media playlist
    int m_segmentRequests = 0;
};

} // namespace

class TestHlsInput : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void playlistIsReadOncePerReloadAndNoSegmentIsSkipped();

private:
    QTemporaryDir m_dir;
    static constexpr int kSegments = 20;
    QThread m_thread;
    LiveOrigin *m_origin = nullptr;
};

void TestHlsInput::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // 1 s segments, a keyframe each second (160x90 H.264 + AAC).
    QProcess ffmpeg;
    ffmpeg.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    ffmpeg.start(u"ffmpeg"_qs, {u"-hide_banner"_qs, u"-loglevel"_qs, u"error"_qs, u"-nostdin"_qs, u"-f"_qs, u"lavfi"_qs,
                                u"-i"_qs, u"testsrc2=size=160x90:rate=25"_qs, u"-f"_qs, u"lavfi"_qs, u"-i"_qs,
                                u"sine=frequency=440:sample_rate=48000"_qs, u"-t"_qs, QString::number(kSegments),
                                u"-c:v"_qs, u"libx264"_qs, u"-preset"_qs, u"ultrafast"_qs, u"-g"_qs, u"25"_qs,
                                u"-keyint_min"_qs, u"25"_qs, u"-sc_threshold"_qs, u"0"_qs, u"-pix_fmt"_qs, u"yuv420p"_qs,
                                u"-c:a"_qs, u"aac"_qs, u"-b:a"_qs, u"48k"_qs, u"-f"_qs, u"hls"_qs, u"-hls_time"_qs, u"1"_qs,
                                u"-hls_list_size"_qs, u"0"_qs, u"-hls_segment_filename"_qs, m_dir.filePath(u"src-%d.ts"_qs),
                                m_dir.filePath(u"vod.m3u8"_qs)});
    QVERIFY2(ffmpeg.waitForFinished(60000) && ffmpeg.exitCode() == 0, "ffmpeg could not write the test segments");
    QVERIFY(QFile::exists(m_dir.filePath(u"src-%1.ts"_qs.arg(kSegments - 1))));

    // The origin answers on its own thread: MediaInput's reads block this one.
    m_thread.start();
    m_origin = new LiveOrigin(m_dir.path(), kSegments, 1);
    m_origin->moveToThread(&m_thread);
    bool listening = false;
    QMetaObject::invokeMethod(m_origin, [&] { listening = m_origin->listen(QHostAddress::LocalHost, 0); },
                              Qt::BlockingQueuedConnection);
    QVERIFY(listening);
}

void TestHlsInput::cleanupTestCase()
{
    if (m_origin)
        m_origin->deleteLater(); // on its thread, as that ends
    m_thread.quit();
    m_thread.wait();
}

void TestHlsInput::playlistIsReadOncePerReloadAndNoSegmentIsSkipped()
{
    // The media playlist lists one segment and moves on at every request: a reading of it that
    // the demuxer does not parse (the recorder's own, for a segment's date) takes the next
    // segment away before it is read, and the date lookup then misses the segment it was for.
    // (The source is the master playlist: a connection's first media playlist is then read
    // through the hook too. Given a media playlist, the demuxer reads the first one itself and
    // the first date lookup reads it once more.)
    QString why;
    std::optional<InputSpec> spec = InputSpec::parse(u"http://127.0.0.1:%1/live/index.m3u8"_qs.arg(m_origin->serverPort()), &why);
    QVERIFY2(spec, qPrintable(why));
    spec->programDates = true;
    MediaInput in;
    MediaError error;
    QVERIFY2(in.open(*spec, &error), qPrintable(error.toString()));
    Packet packet = makePacket();
    QElapsedTimer clock;
    clock.start();
    constexpr int kWanted = 8;
    while (in.hlsCounters().segmentRequests < kWanted && clock.elapsed() < 60000) {
        const MediaInput::Read r = in.read(packet.get(), &error);
        QVERIFY2(r == MediaInput::Read::Packet, qPrintable(error.toString()));
    }
    const MediaInput::HlsCounters counters = in.hlsCounters();
    QCOMPARE(counters.segmentRequests, quint64(kWanted));
    const int playlists = m_origin->playlistRequests();
    const int media = m_origin->mediaPlaylistRequests();
    const int segments = m_origin->segmentRequests();
    qInfo() << "origin:" << playlists << "playlist requests (" << media << "of the media playlist)," << segments
            << "segment requests; skipped" << counters.segmentsSkipped;
    QCOMPARE(quint64(segments), counters.segmentRequests);
    QCOMPARE(quint64(playlists), counters.playlistRequests);
    // One reading a segment (the last may have been reloaded for the next).
    QVERIFY2(media <= segments + 1, "the playlist was read more often than the demuxer reloaded it");
    QCOMPARE(counters.segmentsSkipped, quint64(0));
    // The dates still come from the playlist the demuxer parsed.
    QVERIFY(in.programDate());
    QCOMPARE(in.programDate()->wallMs, LiveOrigin::dateOf(0));
}

QTEST_GUILESS_MAIN(TestHlsInput)
#include "tst_hlsinput.moc"
