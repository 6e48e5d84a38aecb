// Many recordings of HLS sources started at once (issue 14: a hundred at the top of the hour):
// they open their sources in turns (Recorder::setHlsOpenLimit()), so that a hundred probes do
// not share the cores and outlast the playlists' windows; turns are waited for while they come
// (4 s without one: the opens in progress hang, and the next goes ahead), and a stop ends the wait.
//
// The source is an in-process HTTP server: a live playlist per channel (no EXT-X-ENDLIST) of
// three one-second segments ffmpeg made, and the first request of each channel's playlist
// answered only after a while (or never), so the server sees how many opens are in progress.

#include <dvr/recorder.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QHash>
#include <QPointer>
#include <QProcess>
#include <QSet>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <memory>
#include <utility>
#include <vector>

using namespace iptv::dvr;

namespace {

/// Serves /cNN/index.m3u8 (three segments, live) and /cNN/seg-K.ts (the same media for every
/// channel). A channel's first playlist request is answered after `firstDelayMs` (never for a
/// channel in `hanging`): meanwhile its open is in progress.
class HlsServer : public QObject
{
public:
    explicit HlsServer(QHash<QString, QByteArray> segments) : m_segments(std::move(segments))
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection())
                connect(socket, &QTcpSocket::readyRead, this, [this, socket] { serve(socket); });
        });
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    QString url(const QString &channel) const
    {
        return QStringLiteral("http://127.0.0.1:%1/%2/index.m3u8").arg(m_server.serverPort()).arg(channel);
    }

    int firstDelayMs = 600;
    QSet<QString> hanging;
    int inFlight = 0;     ///< first playlist requests not answered yet: opens in progress
    int peakInFlight = 0; ///< … at most at once
    QSet<QString> opened; ///< channels whose first playlist request came

private:
    void serve(QTcpSocket *socket)
    {
        if (!socket->canReadLine() || socket->property("served").toBool())
            return;
        socket->setProperty("served", true);
        const QList<QByteArray> request = socket->readLine().split(' ');
        const QString path = QString::fromLatin1(request.value(1));
        const QString channel = path.section(QLatin1Char('/'), 1, 1);
        const QString file = path.section(QLatin1Char('/'), 2);
        if (file == QLatin1String("index.m3u8")) {
            QByteArray playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n";
            for (int i = 0; i < m_segments.size(); ++i)
                playlist += "#EXTINF:1.000,\nseg-" + QByteArray::number(i) + ".ts\n";
            if (opened.contains(channel)) {
                reply(socket, playlist, "application/vnd.apple.mpegurl");
                return;
            }
            opened.insert(channel);
            ++inFlight;
            peakInFlight = qMax(peakInFlight, inFlight);
            if (hanging.contains(channel))
                return; // never answered: its open hangs until its deadline
            QTimer::singleShot(firstDelayMs, this, [this, socket = QPointer<QTcpSocket>(socket), playlist] {
                --inFlight;
                if (socket)
                    reply(socket, playlist, "application/vnd.apple.mpegurl");
            });
            return;
        }
        const auto segment = m_segments.constFind(file);
        if (segment == m_segments.constEnd()) {
            socket->write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            socket->disconnectFromHost();
            return;
        }
        reply(socket, *segment, "video/mp2t");
    }

    static void reply(QTcpSocket *socket, const QByteArray &body, const QByteArray &type)
    {
        socket->write("HTTP/1.1 200 OK\r\nContent-Type: " + type + "\r\nContent-Length: " + QByteArray::number(body.size())
                      + "\r\nConnection: close\r\n\r\n" + body);
        socket->disconnectFromHost();
    }

    QTcpServer m_server;
    QHash<QString, QByteArray> m_segments;
};

} // namespace

class TestRecorderStart : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanup();
    void manyStartedAtOnceOpenInTurns();
    void aHangingOpenHoldsTheOthersBackNoLongerThanTheBound();
    void stopEndsTheWaitForATurn();

private:
    std::unique_ptr<Recorder> startRecorder(const QString &source, const QString &name);
    QTemporaryDir m_dir;
    QHash<QString, QByteArray> m_segments; ///< seg-K.ts -> its bytes
    std::vector<std::unique_ptr<Recorder>> m_recorders;
};

void TestRecorderStart::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // Three one-second segments of a small picture with sound, a keyframe each second.
    const QString source = m_dir.filePath(u"source"_qs);
    QVERIFY(QDir().mkpath(source));
    QProcess ffmpeg;
    ffmpeg.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    ffmpeg.start(u"ffmpeg"_qs, {u"-hide_banner"_qs, u"-loglevel"_qs, u"error"_qs, u"-nostdin"_qs, u"-f"_qs, u"lavfi"_qs,
                                 u"-i"_qs, u"testsrc2=size=160x90:rate=25"_qs, u"-f"_qs, u"lavfi"_qs, u"-i"_qs,
                                 u"sine=frequency=440:sample_rate=48000"_qs, u"-t"_qs, u"3"_qs, u"-c:v"_qs, u"libx264"_qs,
                                 u"-preset"_qs, u"ultrafast"_qs, u"-g"_qs, u"25"_qs, u"-keyint_min"_qs, u"25"_qs,
                                 u"-sc_threshold"_qs, u"0"_qs, u"-pix_fmt"_qs, u"yuv420p"_qs, u"-c:a"_qs, u"aac"_qs, u"-b:a"_qs,
                                 u"48k"_qs, u"-f"_qs, u"hls"_qs, u"-hls_time"_qs, u"1"_qs, u"-hls_list_size"_qs, u"0"_qs,
                                 u"-hls_segment_filename"_qs, QDir(source).filePath(u"seg-%d.ts"_qs),
                                 QDir(source).filePath(u"index.m3u8"_qs)});
    QVERIFY2(ffmpeg.waitForFinished(60000) && ffmpeg.exitCode() == 0, "ffmpeg could not make the segments");
    for (int i = 0;; ++i) {
        QFile f(QDir(source).filePath(QStringLiteral("seg-%1.ts").arg(i)));
        if (!f.open(QIODevice::ReadOnly))
            break;
        m_segments.insert(QStringLiteral("seg-%1.ts").arg(i), f.readAll());
    }
    QVERIFY2(m_segments.size() >= 3, "ffmpeg made fewer than three segments");
}

void TestRecorderStart::cleanup()
{
    for (auto &r : m_recorders)
        r->stop(false);
    m_recorders.clear();
    Recorder::setHlsOpenLimit(2);
}

std::unique_ptr<Recorder> TestRecorderStart::startRecorder(const QString &source, const QString &name)
{
    RecorderSettings s;
    s.source = source;
    s.directory = m_dir.filePath(name);
    s.segmentSeconds = 1;
    auto r = std::make_unique<Recorder>();
    QString error;
    if (!r->start(s, &error)) {
        qWarning().noquote() << error;
        return nullptr;
    }
    return r;
}

void TestRecorderStart::manyStartedAtOnceOpenInTurns()
{
    // Eight recordings started together, one open at a time: never more than one of the
    // channels' first playlists is waited for at once (all eight were, before: every open at
    // once), and every recording starts. The last waits seven turns of at least 600 ms, longer
    // than the 4 s after which a recorder stops waiting for turns that do not come: these do.
    Recorder::setHlsOpenLimit(1);
    HlsServer server(m_segments);
    QVERIFY(server.listen());
    constexpr int kCount = 8;
    int recording = 0; // recorders that opened their source and record
    for (int i = 0; i < kCount; ++i) {
        auto r = startRecorder(server.url(QStringLiteral("c%1").arg(i)), QStringLiteral("turns-%1").arg(i));
        QVERIFY(r);
        connect(r.get(), &Recorder::stateChanged, this, [&recording, first = true](Recorder::State state) mutable {
            if (state == Recorder::State::Recording && std::exchange(first, false))
                ++recording;
        });
        m_recorders.push_back(std::move(r));
    }
    QTRY_COMPARE_WITH_TIMEOUT(recording, kCount, 30000);
    QCOMPARE(server.opened.size(), kCount);
    QCOMPARE(server.peakInFlight, 1);
    quint64 longestWait = 0;
    for (const auto &r : m_recorders)
        longestWait = qMax(longestWait, r->stats().openWaitMs);
    QVERIFY2(longestWait >= 4200, qPrintable(QStringLiteral("the longest wait for a turn was %1 ms").arg(longestWait)));
}

void TestRecorderStart::aHangingOpenHoldsTheOthersBackNoLongerThanTheBound()
{
    // One turn at a time, and the first source never answers its playlist (its open waits for
    // its 10 s deadline): no turn comes, and the second recording opens anyway after 4 s.
    Recorder::setHlsOpenLimit(1);
    HlsServer server(m_segments);
    server.hanging.insert(u"stuck"_qs);
    QVERIFY(server.listen());
    auto stuck = startRecorder(server.url(u"stuck"_qs), u"hanging-stuck"_qs);
    QVERIFY(stuck);
    m_recorders.push_back(std::move(stuck));
    QTRY_VERIFY(server.opened.contains(u"stuck"_qs)); // it holds the turn
    QElapsedTimer took;
    took.start();
    auto next = startRecorder(server.url(u"next"_qs), u"hanging-next"_qs);
    QVERIFY(next);
    Recorder *nextRecorder = next.get();
    m_recorders.push_back(std::move(next));
    QTRY_VERIFY_WITH_TIMEOUT(server.opened.contains(u"next"_qs), 9000);
    QVERIFY2(took.elapsed() >= 3500, qPrintable(QStringLiteral("opened after %1 ms, not in its turn").arg(took.elapsed())));
    QTRY_VERIFY_WITH_TIMEOUT(nextRecorder->state() == Recorder::State::Recording, 10000);
    QVERIFY(nextRecorder->stats().openWaitMs >= 3500);
}

void TestRecorderStart::stopEndsTheWaitForATurn()
{
    // A recording stopped while it waits for its turn stops at once: it never opens.
    Recorder::setHlsOpenLimit(1);
    HlsServer server(m_segments);
    server.hanging.insert(u"stuck"_qs);
    QVERIFY(server.listen());
    auto stuck = startRecorder(server.url(u"stuck"_qs), u"stop-stuck"_qs);
    QVERIFY(stuck);
    m_recorders.push_back(std::move(stuck));
    QTRY_VERIFY(server.opened.contains(u"stuck"_qs));
    auto waiting = startRecorder(server.url(u"waiting"_qs), u"stop-waiting"_qs);
    QVERIFY(waiting);
    QTRY_COMPARE(waiting->state(), Recorder::State::Connecting); // (it says so before it waits)
    QElapsedTimer took;
    took.start();
    waiting->stop(false);
    QVERIFY2(took.elapsed() < 2000, qPrintable(QStringLiteral("stop took %1 ms").arg(took.elapsed())));
    QVERIFY(!server.opened.contains(u"waiting"_qs));
}

QTEST_GUILESS_MAIN(TestRecorderStart)
#include "tst_recorderstart.moc"
