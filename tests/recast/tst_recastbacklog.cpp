// The hand-over from a channel's pipeline thread to the server's thread is bounded: with the
// server's thread stalled the process's memory stays put while the pipeline goes on (before, a
// queued call per packet held the whole stream: 19.5 GB for 100 channels, then the OOM killer),
// the oldest whole GOPs are dropped and counted, and the MPEG-TS output resumes at a keyframe.

#include "recasttest.h"

#include <outputbacklog.h>

#include <QFile>
#include <QNetworkDatagram>
#include <QTemporaryDir>
#include <QUdpSocket>

using namespace recasttest;
using iptv::recast::OutputBacklog;
using iptv::recast::RecastServer;

namespace {

/// Resident memory of this process in bytes (VmRSS), -1 when it cannot be read.
qint64 residentBytes()
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n'))
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong() * 1024;
    return -1;
}

/// The value of a metric line `name{channel="id"} value`, -1 when absent.
double metric(const QByteArray &text, const QByteArray &name, const QByteArray &channel)
{
    const QByteArray prefix = name + "{channel=\"" + channel + "\"} ";
    for (const QByteArray &line : text.split('\n'))
        if (line.startsWith(prefix))
            return line.mid(prefix.size()).toDouble();
    return -1;
}

QByteArray chunk(char fill, int size = 1000)
{
    return QByteArray(size, fill);
}

} // namespace

class TestRecastBacklog : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void boundedWithoutConsumer();
    void gopLosingItsStartIsDroppedWhole();
    void playlistsReplaceEachOther();
    void stalledServerThread();

private:
    QTemporaryDir m_dir;
    QString m_input;
};

void TestRecastBacklog::initTestCase()
{
    QVERIFY(m_dir.isValid());
    // 4 s of lossless H.264 (1.6 Mbit/s) in 1 s GOPs with AAC: a pass-through source to loop.
    m_input = m_dir.filePath(u"input.ts"_qs);
    QProcess ffmpeg;
    ffmpeg.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    ffmpeg.start(u"ffmpeg"_qs, {u"-hide_banner"_qs, u"-loglevel"_qs, u"error"_qs, u"-nostdin"_qs, u"-f"_qs, u"lavfi"_qs,
                                 u"-i"_qs, u"testsrc2=size=320x180:rate=25"_qs, u"-f"_qs, u"lavfi"_qs, u"-i"_qs,
                                 u"sine=frequency=440:sample_rate=48000"_qs, u"-t"_qs, u"4"_qs, u"-c:v"_qs, u"libx264"_qs,
                                 u"-preset"_qs, u"ultrafast"_qs, u"-qp"_qs, u"0"_qs, u"-g"_qs, u"25"_qs, u"-pix_fmt"_qs,
                                 u"yuv420p"_qs, u"-c:a"_qs, u"aac"_qs, u"-b:a"_qs, u"48k"_qs, u"-f"_qs, u"mpegts"_qs, m_input});
    QVERIFY2(ffmpeg.waitForFinished(60000), "ffmpeg did not make the test input in time");
    QCOMPARE(ffmpeg.exitCode(), 0);
    QVERIFY(QFileInfo(m_input).size() > 500000);
}

void TestRecastBacklog::boundedWithoutConsumer()
{
    // Two renditions, GOPs of 10 chunks of 1000 bytes, nobody taking: 10 000 chunks offered.
    OutputBacklog backlog(u"test"_qs, 50000);
    int wakes = 0;
    for (int i = 0; i < 5000; ++i) {
        for (int r = 0; r < 2; ++r) {
            wakes += backlog.pushTs(r, chunk(char('a' + r)), i % 10 == 0) ? 1 : 0;
            QVERIFY(backlog.stats().bytes <= 50000);
        }
    }
    QCOMPARE(wakes, 1); // one call to the consumer queued, not one per chunk
    const OutputBacklog::Stats s = backlog.stats();
    QVERIFY(s.peakBytes <= 50000);
    QCOMPARE(s.episodes, quint64(1));
    QVERIFY(s.droppedGops >= 900);
    QCOMPARE(s.droppedBytes + quint64(s.bytes), quint64(10000 * 1000));

    // What is left starts at a keyframe in every rendition, marked as following a gap, and is
    // whole GOPs (the newest possibly still growing).
    const OutputBacklog::Batch batch = backlog.take();
    QCOMPARE(batch.chunks.size(), size_t(2));
    for (const auto &chunks : batch.chunks) {
        QVERIFY(!chunks.empty());
        QVERIFY(chunks.front().keyframe);
        QVERIFY(chunks.front().afterGap);
        int keyframes = 0;
        for (const OutputBacklog::Chunk &c : chunks)
            keyframes += c.keyframe ? 1 : 0;
        QCOMPARE(qsizetype(chunks.size()), qsizetype((keyframes - 1) * 10 + 10));
    }
    QCOMPARE(backlog.stats().bytes, 0);
    QVERIFY(backlog.pushTs(0, chunk('a'), true)); // taken: the next push wakes the consumer again
}

void TestRecastBacklog::gopLosingItsStartIsDroppedWhole()
{
    // The consumer took the start of a GOP; the rest (held) outgrows the limit and is dropped.
    // Nothing more of that GOP may follow: a viewer would get frames that reference lost ones.
    OutputBacklog backlog(u"test"_qs, 5000);
    backlog.pushTs(0, chunk('k'), true);
    QCOMPARE(backlog.take().chunks.at(0).size(), size_t(1));
    for (int i = 0; i < 5; ++i)
        backlog.pushTs(0, chunk('p'), false);
    backlog.pushTs(0, chunk('p'), false); // over: the five held go, and this one with them
    QCOMPARE(backlog.stats().bytes, 0);
    backlog.pushTs(0, chunk('p'), false); // still the same GOP: dropped
    QCOMPARE(backlog.stats().bytes, 0);
    backlog.pushTs(0, chunk('K'), true);
    backlog.pushTs(0, chunk('p'), false);
    const OutputBacklog::Batch batch = backlog.take();
    QCOMPARE(batch.chunks.at(0).size(), size_t(2));
    QVERIFY(batch.chunks.at(0).front().keyframe);
    QVERIFY(batch.chunks.at(0).front().afterGap);
    QCOMPARE(batch.chunks.at(0).front().ts.at(0), 'K');
    QCOMPARE(backlog.stats().droppedGops, quint64(1));
    QCOMPARE(backlog.stats().droppedChunks, quint64(7));

    // A single chunk over the limit is dropped with the rest of its GOP.
    backlog.pushTs(0, chunk('K', 6000), true);
    backlog.pushTs(0, chunk('p'), false);
    backlog.pushTs(0, chunk('K'), true);
    QCOMPARE(backlog.stats().bytes, 1000);
    QCOMPARE(backlog.stats().droppedGops, quint64(2));
}

void TestRecastBacklog::playlistsReplaceEachOther()
{
    OutputBacklog backlog(u"test"_qs, 5000);
    QVERIFY(backlog.pushPlaylist(0, "one", 1, 0));
    QVERIFY(!backlog.pushPlaylist(0, "two", 2, 1));
    QVERIFY(!backlog.pushPlaylist(-1, "master", 0, 0));
    const OutputBacklog::Batch batch = backlog.take();
    QCOMPARE(batch.playlists.size(), 2);
    QCOMPARE(batch.playlists.value(0).text, QByteArray("two"));
    QCOMPARE(batch.playlists.value(0).nextSequence, 2);
    QCOMPARE(batch.playlists.value(-1).text, QByteArray("master"));
}

void TestRecastBacklog::stalledServerThread()
{
    // A pass-through channel reading its file as fast as it can, its first rendition also sent
    // over UDP: the test reads that (a blocking wait, not an event loop), so this thread, the
    // channel's consumer, stalls while the pipeline outputs 32 MB.
    QUdpSocket udp;
    QVERIFY(udp.bind(QHostAddress::LocalHost, 0));
    udp.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4 * 1024 * 1024);
    ChannelConfig c = tinyChannel(u"fast"_qs, u"file:"_qs + m_input);
    c.passthrough = true;
    c.ladder.clear();
    c.pace = false;
    c.outputBacklogKib = 2048;
    c.udpOut = QStringLiteral("udp://127.0.0.1:%1").arg(udp.localPort());
    QTemporaryDir data;
    RecastServer server(serverConfig(data.path(), {c}));
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    Client client(server.port());
    RawViewer viewer;
    viewer.maxBody = 8 * 1024 * 1024;
    viewer.get(server.port(), "/live/fast.ts");
    QTRY_VERIFY_WITH_TIMEOUT(viewer.received > 1000000, 30000);
    viewer.body.clear(); // from here on: the stream across the stall

    while (udp.hasPendingDatagrams()) // only what comes during the stall counts
        udp.receiveDatagram();
    const qint64 rssBefore = residentBytes();
    QVERIFY(rssBefore > 0);
    constexpr qint64 kStalled = 32 * 1024 * 1024;
    qint64 sent = 0;
    QByteArray datagram(65536, Qt::Uninitialized);
    QElapsedTimer clock;
    clock.start();
    while (sent < kStalled) {
        QVERIFY2(clock.elapsed() < 120000, "the pipeline output too little in two minutes");
        if (!udp.hasPendingDatagrams() && !udp.waitForReadyRead(5000))
            continue;
        const qint64 n = udp.readDatagram(datagram.data(), datagram.size());
        sent += qMax<qint64>(n, 0);
    }
    const qint64 grown = residentBytes() - rssBefore;
    qInfo() << "while the server's thread stalled for" << clock.elapsed() << "ms: at least" << sent << "bytes output, resident memory grew by" << grown;
    QVERIFY2(grown < kStalled / 2,
             qPrintable(QStringLiteral("resident memory grew by %1 bytes while %2 were output: the server's thread's backlog is not bounded")
                            .arg(grown)
                            .arg(sent)));
    iptv::recast::Channel *channel = server.channel(u"fast"_qs);
    QVERIFY(channel->outputBacklog().peakBytes <= 2048 * 1024);
    QVERIFY(channel->outputBacklog().droppedGops > 0);

    // The thread runs again: the viewer goes on (at a keyframe), the drops are in the metrics.
    const qint64 received = viewer.received;
    QTRY_VERIFY_WITH_TIMEOUT(viewer.received > received + 1000000, 30000);
    QCOMPARE(viewer.socket.state(), QAbstractSocket::ConnectedState);
    // Whole GOPs were dropped: what the viewer got across the stall decodes without an error
    // (a GOP cut short is followed by a keyframe, never by frames referencing lost ones).
    const TsProbe probe = probeTs(viewer.body, true, true);
    QVERIFY2(probe.error.isEmpty(), qPrintable(probe.error));
    QVERIFY(probe.videoFrames > 25);
    QVERIFY2(probe.decodeErrors.isEmpty(), qPrintable(probe.decodeErrors.join(u"; "_qs)));
    const QByteArray metrics = client.get(u"/metrics"_qs).body;
    QVERIFY(metric(metrics, "recast_channel_output_backlog_dropped_gops_total", "fast") > 0);
    QVERIFY(metric(metrics, "recast_channel_output_backlog_dropped_bytes_total", "fast") > 0);
    QVERIFY(metric(metrics, "recast_channel_output_backlog_episodes_total", "fast") >= 1);
    QCOMPARE(metric(metrics, "recast_channel_output_backlog_limit_bytes", "fast"), 2048.0 * 1024);
    const double peak = metric(metrics, "recast_channel_output_backlog_peak_bytes", "fast");
    QVERIFY(peak > 0 && peak <= 2048 * 1024);
    server.stop();
}

QTEST_GUILESS_MAIN(TestRecastBacklog)
#include "tst_recastbacklog.moc"
