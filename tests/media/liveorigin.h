#pragma once

// A live HLS origin for tests (tst_hlsinput, tst_recorderdating): it serves, on 127.0.0.1, an
// HLS VOD that ffmpeg wrote into a folder (`vod.m3u8` and the files it names: segments, an
// AES-128 key, an fMP4 init section) as a live media playlist that moves on by one segment at
// every request for it: a playlist that advances as fast as it is polled, so every reading a
// client makes beyond the ones it needs takes a segment out of the window before the client read
// it. A master playlist at /live/index.m3u8 names the media playlist, /live/media.m3u8. Every
// segment is dated (EXT-X-PROGRAM-DATE-TIME) from a base date on by the EXTINF before it. Each
// answer closes the connection. writeVod() makes such a VOD; OriginThread runs an origin on a
// thread of its own (the reads of a MediaInput or a Recorder under test block the test's).

#include <QByteArray>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QList>
#include <QHostAddress>
#include <QMutex>
#include <QProcess>
#include <QString>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

#include <algorithm>
#include <limits>

class LiveOrigin : public QTcpServer
{
public:
    /// `window` segments listed at a time; the first dated `baseDateMs` (UTC ms).
    LiveOrigin(QString dir, int window, qint64 baseDateMs) : m_dir(std::move(dir)), m_window(window), m_baseDateMs(baseDateMs) {}

    /// Reads the folder's vod.m3u8 (call before listening).
    bool load(QString *error)
    {
        QFile file(QDir(m_dir).filePath(QStringLiteral("vod.m3u8")));
        if (!file.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("%1: %2").arg(file.fileName(), file.errorString());
            return false;
        }
        QByteArray key;
        qint64 durationMs = 0, dateMs = m_baseDateMs;
        for (const QByteArray &raw : file.readAll().split('\n')) {
            const QByteArray line = raw.trimmed();
            if (line.startsWith("#EXT-X-MAP:")) {
                m_map = line;
            } else if (line.startsWith("#EXT-X-KEY:")) {
                key = line;
            } else if (line.startsWith("#EXTINF:")) {
                durationMs = qRound64(line.mid(8, line.indexOf(',') - 8).toDouble() * 1000);
            } else if (!line.isEmpty() && !line.startsWith('#')) {
                m_segments.append({line, key, durationMs, dateMs});
                dateMs += durationMs;
            }
        }
        if (m_segments.size() <= m_window) {
            *error = QStringLiteral("%1 lists %2 segments: too few for a window of %3").arg(file.fileName()).arg(m_segments.size()).arg(m_window);
            return false;
        }
        return true;
    }

    /// From the `atRequest`th reading of the media playlist on (0: the first), it moves on by
    /// `count` more: those segments are never listed (a source that dropped them; a reader that
    /// fell behind sees the same).
    void skipAt(int atRequest, int count)
    {
        QMutexLocker l(&m_mutex);
        m_skipAt = atRequest;
        m_skipCount = count;
    }

    /// The window moves on by one segment every `ms` of wall time instead of at every request
    /// (a live headend: at its live edge a reader waits for the next segment).
    void advanceEvery(int ms)
    {
        QMutexLocker l(&m_mutex);
        m_advanceEveryMs = ms;
        m_clock.start();
    }

    int playlistRequests() const { QMutexLocker l(&m_mutex); return m_masterRequests + m_playlistRequests; }
    int mediaPlaylistRequests() const { QMutexLocker l(&m_mutex); return m_playlistRequests; }
    /// Requests for the segments listed (not for a key or an init section).
    int segmentRequests() const { QMutexLocker l(&m_mutex); return m_segmentRequests; }
    /// Requests for anything else the playlist names (the key, the init section).
    int resourceRequests() const { QMutexLocker l(&m_mutex); return m_resourceRequests; }
    /// The segments served, by their index in the VOD, in the order asked for.
    QList<int> served() const { QMutexLocker l(&m_mutex); return m_served; }
    int segmentCount() const { return int(m_segments.size()); }
    qint64 dateOf(int segment) const { return m_segments.at(segment).dateMs; }

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
            QByteArray body, type = "application/octet-stream";
            int status = 200;
            if (path == "/live/index.m3u8") {
                QMutexLocker l(&m_mutex);
                ++m_masterRequests;
                body = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000\nmedia.m3u8\n";
                type = "application/vnd.apple.mpegurl";
            } else if (path == "/live/media.m3u8") {
                body = playlist();
                type = "application/vnd.apple.mpegurl";
            } else if (path.startsWith("/live/") && !path.contains("..")) {
                const QByteArray name = path.mid(6);
                {
                    QMutexLocker l(&m_mutex);
                    const auto it = std::find_if(m_segments.cbegin(), m_segments.cend(), [&](const Segment &s) { return s.name == name; });
                    if (it != m_segments.cend()) {
                        ++m_segmentRequests;
                        m_served.append(int(it - m_segments.cbegin()));
                    } else {
                        ++m_resourceRequests;
                    }
                }
                QFile f(QDir(m_dir).filePath(QString::fromUtf8(name)));
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
    struct Segment
    {
        QByteArray name;
        QByteArray key; ///< the EXT-X-KEY line in effect ("": none)
        qint64 durationMs = 0;
        qint64 dateMs = 0;
    };

    QByteArray playlist()
    {
        QMutexLocker l(&m_mutex);
        const int request = m_playlistRequests++;
        const int skipped = request >= m_skipAt ? m_skipCount : 0;
        const int moved = m_advanceEveryMs > 0 ? int(m_clock.elapsed() / m_advanceEveryMs) : request;
        const int first = qMin(moved + skipped, int(m_segments.size()) - m_window);
        QByteArray text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:" + QByteArray::number(first) + '\n';
        if (!m_map.isEmpty())
            text += m_map + '\n';
        QByteArray key;
        for (int i = first; i < first + m_window; ++i) {
            const Segment &s = m_segments.at(i);
            if (s.key != key)
                text += (key = s.key) + '\n';
            text += "#EXT-X-PROGRAM-DATE-TIME:" + QDateTime::fromMSecsSinceEpoch(s.dateMs, Qt::UTC).toString(Qt::ISODateWithMs).toLatin1() + '\n';
            text += "#EXTINF:" + QByteArray::number(s.durationMs / 1000.0, 'f', 3) + ",\n" + s.name + '\n';
        }
        return text;
    }

    const QString m_dir;
    const int m_window;
    const qint64 m_baseDateMs;
    QByteArray m_map; ///< the EXT-X-MAP line ("": none)
    QList<Segment> m_segments;
    mutable QMutex m_mutex;
    int m_skipAt = std::numeric_limits<int>::max();
    int m_skipCount = 0;
    int m_advanceEveryMs = 0; ///< 0: at every request
    QElapsedTimer m_clock;
    int m_masterRequests = 0;
    int m_playlistRequests = 0; ///< of the media playlist
    int m_segmentRequests = 0;
    int m_resourceRequests = 0;
    QList<int> m_served;
};

/// ffmpeg writes `seconds` of 1 s segments (a keyframe each second, 160x90 H.264 + AAC) as an
/// HLS VOD, vod.m3u8, into `dir`, with `extra` options (encryption, fMP4).
inline bool writeVod(const QString &dir, int seconds, const QStringList &extra, const QString &segmentPattern, QString *error)
{
    QProcess ffmpeg;
    ffmpeg.setWorkingDirectory(dir);
    ffmpeg.start(u"ffmpeg"_qs, QStringList{u"-hide_banner"_qs, u"-loglevel"_qs, u"error"_qs, u"-nostdin"_qs, u"-f"_qs, u"lavfi"_qs,
                                           u"-i"_qs, u"testsrc2=size=160x90:rate=25"_qs, u"-f"_qs, u"lavfi"_qs, u"-i"_qs,
                                           u"sine=frequency=440:sample_rate=48000"_qs, u"-t"_qs, QString::number(seconds),
                                           u"-c:v"_qs, u"libx264"_qs, u"-preset"_qs, u"ultrafast"_qs, u"-g"_qs, u"25"_qs,
                                           u"-keyint_min"_qs, u"25"_qs, u"-sc_threshold"_qs, u"0"_qs, u"-pix_fmt"_qs, u"yuv420p"_qs,
                                           u"-c:a"_qs, u"aac"_qs, u"-b:a"_qs, u"48k"_qs, u"-f"_qs, u"hls"_qs, u"-hls_time"_qs, u"1"_qs,
                                           u"-hls_list_size"_qs, u"0"_qs, u"-hls_segment_filename"_qs, segmentPattern}
                     + extra + QStringList{u"vod.m3u8"_qs});
    if (!ffmpeg.waitForFinished(60000) || ffmpeg.exitCode() != 0) {
        *error = u"ffmpeg could not write the test segments: "_qs + QString::fromLocal8Bit(ffmpeg.readAllStandardError());
        return false;
    }
    return true;
}

/// A LiveOrigin answering on a thread of its own (MediaInput's reads block the test's).
class OriginThread
{
public:
    OriginThread(const QString &dir, int window, qint64 baseDateMs) : m_origin(new LiveOrigin(dir, window, baseDateMs)) {}
    ~OriginThread()
    {
        if (m_thread.isRunning())
            QMetaObject::invokeMethod(m_origin, [o = m_origin] { delete o; }, Qt::BlockingQueuedConnection);
        else
            delete m_origin;
        m_thread.quit();
        m_thread.wait();
    }
    bool start(QString *error)
    {
        if (!m_origin->load(error))
            return false;
        m_thread.start();
        m_origin->moveToThread(&m_thread);
        bool listening = false;
        QMetaObject::invokeMethod(m_origin, [&] { listening = m_origin->listen(QHostAddress::LocalHost, 0); },
                                  Qt::BlockingQueuedConnection);
        if (!listening)
            *error = u"the origin cannot listen: "_qs + m_origin->errorString();
        return listening;
    }
    LiveOrigin *operator->() const { return m_origin; }
    QString url(const char *path) const { return u"http://127.0.0.1:%1%2"_qs.arg(m_origin->serverPort()).arg(QLatin1String(path)); }

private:
    QThread m_thread;
    LiveOrigin *m_origin;
};

