// A pass-through channel of a looping file, paced at real time, read across several loops: by an
// MPEG-TS viewer (the stream never waits at a loop, its timestamps go on increasing, and each
// loop lasts as long in the video as in the audio: A/V stay as in the file) and in HLS (no
// segment much longer than segment_seconds where the file's GOPs move, so the playlist never
// stands still for long). The 4 s file has an IDR forced at 1.8 s into its 2 s GOPs, as a scene
// cut puts one, and audio that ends after the video, as ffmpeg's MPEG-TS has it.

#include "recasttest.h"

#include <QTemporaryDir>

using namespace recasttest;
using iptv::recast::RecastServer;

namespace {
const QString kId = u"loop"_qs;
constexpr qint64 kFrame90k = 3600; // 25 fps

} // namespace

class TestRecastLoop : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void tsViewerAcrossLoops();
    void hlsAcrossLoops();

private:
    QTemporaryDir m_dir;
    QString m_input;
    TsProbe m_file;
    std::unique_ptr<RecastServer> m_server;
};

void TestRecastLoop::initTestCase()
{
    QVERIFY(m_dir.isValid());
    iptv::media::installFfmpegLogHandler();
    m_input = m_dir.filePath(u"input.ts"_qs);
    QProcess ffmpeg;
    ffmpeg.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    ffmpeg.start(u"ffmpeg"_qs, {u"-hide_banner"_qs, u"-loglevel"_qs, u"error"_qs, u"-nostdin"_qs, u"-f"_qs, u"lavfi"_qs,
                                 u"-i"_qs, u"testsrc2=size=160x90:rate=25"_qs, u"-f"_qs, u"lavfi"_qs, u"-i"_qs,
                                 u"sine=frequency=440:sample_rate=48000"_qs, u"-t"_qs, u"4"_qs, u"-c:v"_qs, u"libx264"_qs,
                                 u"-preset"_qs, u"ultrafast"_qs, u"-g"_qs, u"50"_qs, u"-sc_threshold"_qs, u"0"_qs,
                                 u"-force_key_frames"_qs, u"0,1.8"_qs, u"-pix_fmt"_qs, u"yuv420p"_qs, u"-c:a"_qs, u"aac"_qs,
                                 u"-b:a"_qs, u"48k"_qs, u"-f"_qs, u"mpegts"_qs, m_input});
    QVERIFY2(ffmpeg.waitForFinished(60000), "ffmpeg did not make the test input in time");
    QCOMPARE(ffmpeg.exitCode(), 0);
    QFile file(m_input);
    QVERIFY(file.open(QIODevice::ReadOnly));
    m_file = probeTs(file.readAll(), false);
    QVERIFY2(m_file.error.isEmpty(), qPrintable(m_file.error));
    QCOMPARE(m_file.videoPackets, 100);

    ChannelConfig c = loopedFileChannel(kId, m_input);
    c.window = 10;
    m_server = std::make_unique<RecastServer>(serverConfig(m_dir.filePath(u"data"_qs), {c}));
    QString error;
    QVERIFY2(m_server->start(&error), qPrintable(error));
}

void TestRecastLoop::tsViewerAcrossLoops()
{
    RawViewer viewer;
    qint64 longestWaitMs = 0;
    QElapsedTimer sinceLast;
    connect(&viewer.socket, &QTcpSocket::readyRead, this, [&] {
        if (viewer.status != 0 && sinceLast.isValid())
            longestWaitMs = qMax(longestWaitMs, sinceLast.elapsed());
        sinceLast.start();
    });
    viewer.get(m_server->port(), "/live/loop.ts");
    // Three loops and a half of the 4 s file, read at real time.
    QTRY_VERIFY_WITH_TIMEOUT(viewer.decodable() && viewer.probe.videoFrames > 350, 40000);
    qInfo() << "longest wait between reads:" << longestWaitMs << "ms";
    QVERIFY2(longestWaitMs < 1000, qPrintable(u"the stream stood still for %1 ms"_qs.arg(longestWaitMs)));

    const TsProbe probe = probeTs(viewer.body, false, true);
    QVERIFY2(probe.error.isEmpty(), qPrintable(probe.error));
    // Each stream's DTS increase, the video by at most a frame and a half, the audio by a frame.
    // The input's audio frame: its AAC frames' spacing.
    qint64 audioFrame = 0;
    qint64 fileAudioFrames = 0;
    for (const TsPacket &p : m_file.packets) {
        if (p.video)
            continue;
        ++fileAudioFrames;
    }
    for (qsizetype i = 0, last = -1; i < m_file.packets.size(); ++i) {
        if (m_file.packets[i].video)
            continue;
        if (last >= 0 && audioFrame == 0)
            audioFrame = m_file.packets[i].dts - m_file.packets[last].dts;
        last = i;
    }
    QVERIFY(audioFrame > 0);
    QList<qint64> loopStarts; // a keyframe 0.2 s after the one before: the file's first again
    qint64 lastVideo = -1, lastAudio = -1, lastKey = -1;
    for (const TsPacket &p : probe.packets) {
        qint64 &last = p.video ? lastVideo : lastAudio;
        if (last >= 0) {
            QVERIFY2(p.dts > last, qPrintable(u"DTS back from %1 to %2"_qs.arg(last).arg(p.dts)));
            const qint64 step = p.dts - last;
            if (p.video)
                QVERIFY2(step < kFrame90k * 2, qPrintable(u"a video step of %1 ms"_qs.arg(step / 90)));
            else
                QVERIFY2(step == audioFrame, qPrintable(u"an audio step of %1 ms"_qs.arg(step / 90.0)));
        }
        last = p.dts;
        if (p.video && p.keyframe) {
            if (lastKey >= 0 && p.pts - lastKey < kFrame90k * 8)
                loopStarts << p.pts;
            lastKey = p.pts;
        }
    }
    QVERIFY2(loopStarts.size() >= 2, qPrintable(u"%1 loops seen"_qs.arg(loopStarts.size())));
    // A loop lasts the file's audio in the video too (the audio, the longer, goes on without a
    // gap), or the audio moves against the video at every loop.
    const qint64 audioLoop = fileAudioFrames * audioFrame;
    for (qsizetype i = 1; i < loopStarts.size(); ++i)
        QVERIFY2(qAbs(loopStarts[i] - loopStarts[i - 1] - audioLoop) <= 2,
                 qPrintable(u"a loop of the video lasts %1 ms, of the audio %2 ms"_qs
                                .arg((loopStarts[i] - loopStarts[i - 1]) / 90.0)
                                .arg(audioLoop / 90.0)));
}

void TestRecastLoop::hlsAcrossLoops()
{
    Client client(m_server->port());
    // Both loops seen by the viewer above are in the window of 10 segments of about 2 s.
    iptv::media::HlsCheck check;
    QTRY_VERIFY_WITH_TIMEOUT((check = client.playlist(kId, u"source"_qs)).segments.size() >= 6, 30000);
    QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs)));
    QByteArray all;
    for (const iptv::media::HlsSegment &s : check.segments) {
        // The keyframe 1.8 s into a GOP cuts, the loop's 0.2 s after a cut does not.
        QVERIFY2(s.duration > 1.3 && s.duration < 2.3, qPrintable(u"%1 lasts %2 s"_qs.arg(s.uri).arg(s.duration)));
        const HttpResult r = client.get(u"/live/loop/source/"_qs + s.uri);
        QCOMPARE(r.status, 200);
        all += r.body;
    }
    const QStringList timeline = checkTimeline(check);
    QVERIFY2(timeline.isEmpty(), qPrintable(timeline.join(u"; "_qs)));
    const TsProbe probe = probeTs(all, false);
    QVERIFY2(probe.error.isEmpty(), qPrintable(probe.error));
    qint64 lastVideo = -1, lastAudio = -1;
    for (const TsPacket &p : probe.packets) {
        qint64 &last = p.video ? lastVideo : lastAudio;
        if (last >= 0)
            QVERIFY2(p.dts > last && p.dts - last < 2 * 90000, qPrintable(u"DTS from %1 to %2"_qs.arg(last).arg(p.dts)));
        last = p.dts;
    }
}

QTEST_GUILESS_MAIN(TestRecastLoop)
#include "tst_recastloop.moc"
