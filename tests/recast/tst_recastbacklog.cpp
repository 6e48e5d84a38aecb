// The hand-over from a channel's pipeline thread to the server's thread is bounded: with the
// server's thread stalled the process's memory stays put while the pipeline goes on (before, a
// queued call per packet held the whole stream: 19.5 GB for 100 channels, then the OOM killer),
// the oldest whole GOPs are dropped and counted, and the MPEG-TS output resumes at a keyframe.
// Every channel's backlog together is bounded too (the server's limit drops from the channel
// holding the most), the server's thread takes the backlogs in turns of a slice each, and the
// channels' threads run nicer than the server's thread.

#include "recasttest.h"

#include <outputbacklog.h>
#include <media/keyframecache.h>

#include <thread>

#include <QDir>
#include <QFile>
#include <QNetworkDatagram>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <QUdpSocket>

using namespace recasttest;
using iptv::recast::OutputBacklog;
using iptv::recast::OutputBacklogBudget;
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

/// The nice value of every thread of this process (Linux: field 19 of /proc/self/task/<tid>/stat).
QList<int> threadNiceValues()
{
    QList<int> values;
    const QDir tasks(QStringLiteral("/proc/self/task"));
    for (const QString &tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile f(tasks.filePath(tid + u"/stat"_qs));
        if (!f.open(QIODevice::ReadOnly))
            continue; // ended meanwhile
        const QByteArray stat = f.readAll();
        // After "(comm)", which may hold spaces: state is field 3, nice field 19.
        const QList<QByteArray> fields = stat.mid(stat.lastIndexOf(')') + 2).split(' ');
        if (fields.size() > 16)
            values << fields.at(16).toInt();
    }
    return values;
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
    void takeIsBounded();
    void spentChunksFreedByProducer();
    void serverWideLimitDropsFromFullestChannel();
    void stalledServerThread();
    void serverThreadTakesTurns();
    void channelThreadsRunNicer();

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

void TestRecastBacklog::takeIsBounded()
{
    OutputBacklog backlog(u"test"_qs, 1024 * 1024);
    for (int i = 0; i < 10; ++i)
        backlog.pushTs(i % 2, chunk(char('a' + i), 10000), i < 2);
    QByteArray order[2]; // each rendition's chunks as taken, by their first byte
    auto note = [&](const OutputBacklog::Batch &batch) {
        for (size_t r = 0; r < batch.chunks.size(); ++r)
            for (const OutputBacklog::Chunk &c : batch.chunks[r])
                order[r] += c.ts.at(0);
    };
    OutputBacklog::Batch batch = backlog.take(25000);
    note(batch);
    QVERIFY(batch.more);
    QCOMPARE(order[0].size() + order[1].size(), 3); // whole chunks, up to the limit
    QCOMPARE(backlog.stats().bytes, 70000);
    // The consumer comes back by itself: no wake-up for what is pushed meanwhile.
    QVERIFY(!backlog.pushTs(0, chunk('x', 10000), false));
    int takes = 1;
    do {
        batch = backlog.take(25000);
        note(batch);
        QVERIFY(++takes < 10);
    } while (batch.more);
    QCOMPARE(takes, 4); // 80 000 bytes in turns of 25 000 and a chunk
    QCOMPARE(backlog.stats().bytes, 0);
    QCOMPARE(order[0], QByteArray("acegix")); // in order, per rendition, across the takes
    QCOMPARE(order[1], QByteArray("bdfhj"));
    QVERIFY(backlog.pushTs(0, chunk('y'), false)); // all taken: the next push wakes it again
}

void TestRecastBacklog::spentChunksFreedByProducer()
{
    // The consumer hands back what it is done with; the producer's next push frees it (on the
    // thread whose malloc arena it came from), not the consumer.
    OutputBacklog backlog(u"test"_qs, 1024 * 1024);
    backlog.pushTs(0, chunk('k'), true);
    backlog.pushTs(0, chunk('p'), false);
    OutputBacklog::Batch batch = backlog.take();
    QList<QByteArray> spent;
    for (OutputBacklog::Chunk &c : batch.chunks.at(0))
        spent.append(std::move(c.ts));
    const QByteArray watched = spent.first(); // shares the chunk's bytes
    QVERIFY(!watched.isDetached());
    backlog.recycle(std::move(spent));
    QCOMPARE(backlog.spentChunks(), 2);
    QVERIFY(!watched.isDetached()); // still held by the backlog for the producer
    std::thread producer([&] { backlog.pushTs(0, chunk('k'), true); });
    producer.join();
    QCOMPARE(backlog.spentChunks(), 0);
    QVERIFY(watched.isDetached()); // the producer let its reference go

    // The keyframe cache lets a GOP go into the list it is given instead of freeing it.
    iptv::media::KeyframeCache cache(1024 * 1024);
    QList<QByteArray> released;
    cache.append(chunk('k'), true, &released);
    cache.append(chunk('p'), false, &released);
    QVERIFY(released.isEmpty());
    cache.append(chunk('K'), true, &released);
    QCOMPARE(released.size(), 2);
    QCOMPARE(released.at(0).at(0), 'k');
}

void TestRecastBacklog::serverWideLimitDropsFromFullestChannel()
{
    // Three channels of 1 MB each at most, 100 000 bytes for all of them together. GOPs of
    // 5 chunks of 1000 bytes; "big" outputs three times as much as the others.
    OutputBacklogBudget budget(100000);
    OutputBacklog big(u"big"_qs, 1000000), small(u"small"_qs, 1000000), other(u"other"_qs, 1000000);
    for (OutputBacklog *b : {&big, &small, &other})
        b->setBudget(&budget);
    for (int i = 0; i < 200; ++i) {
        for (int n = 0; n < 3; ++n)
            big.pushTs(0, chunk('b'), (3 * i + n) % 5 == 0);
        small.pushTs(0, chunk('s'), i % 5 == 0);
        other.pushTs(1, chunk('o'), i % 5 == 0);
        QVERIFY(budget.heldBytes() <= 100000);
        QCOMPARE(budget.heldBytes(), big.stats().bytes + small.stats().bytes + other.stats().bytes);
    }
    // 1000 chunks offered, 100 fit: the rest went as whole GOPs, taken from the channel that
    // held the most each time, so the small ones kept theirs until they held as much as "big".
    QVERIFY(budget.heldBytes() > 95000);
    QCOMPARE(budget.droppedBytes(), quint64(1000 * 1000) - quint64(budget.heldBytes()));
    QCOMPARE(budget.droppedGops(), big.stats().droppedGops + small.stats().droppedGops + other.stats().droppedGops);
    QVERIFY(big.stats().droppedGops > small.stats().droppedGops);
    QVERIFY(qAbs(big.stats().bytes - small.stats().bytes) <= 5000); // within a GOP of each other
    QVERIFY(qAbs(small.stats().bytes - other.stats().bytes) <= 5000);
    for (OutputBacklog *b : {&big, &small, &other}) {
        QCOMPARE(b->stats().episodes, quint64(1));
        const OutputBacklog::Batch batch = b->take();
        const auto &chunks = batch.chunks.back();
        QVERIFY(!chunks.empty());
        QVERIFY(chunks.front().keyframe); // whole GOPs left
        QVERIFY(chunks.front().afterGap);
    }
    QCOMPARE(budget.heldBytes(), 0);
    {
        OutputBacklog gone(u"gone"_qs, 1000000);
        gone.setBudget(&budget);
        gone.pushTs(0, chunk('g'), true);
        QCOMPARE(budget.heldBytes(), 1000);
    }
    QCOMPARE(budget.heldBytes(), 0); // a channel removed takes its bytes with it
}

void TestRecastBacklog::stalledServerThread()
{
    // A pass-through channel reading its file as fast as it can, its first rendition also sent
    // over UDP: the test reads that (a blocking wait, not an event loop), so this thread, the
    // channel's consumer, stalls while the pipeline outputs 32 MB.
    QUdpSocket udp;
    QVERIFY(udp.bind(QHostAddress::LocalHost, 0));
    udp.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4 * 1024 * 1024);
    ChannelConfig c = passThroughChannel(u"fast"_qs, u"file:"_qs + m_input);
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

void TestRecastBacklog::serverThreadTakesTurns()
{
    // Twelve channels reading as fast as they can while the server's thread stalls: each holds
    // megabytes when the thread runs again. It takes them in slices, a turn each, with timers
    // and requests between the turns; it took them whole before, everything in one turn of the
    // event loop (a hundred channels' 8 MiB under load: /healthz waited 15 s).
    constexpr int kChannels = 12;
    QList<ChannelConfig> channels;
    for (int i = 0; i < kChannels; ++i) {
        ChannelConfig c = passThroughChannel(QStringLiteral("c%1").arg(i), u"file:"_qs + m_input);
        c.pace = false;
        c.outputBacklogKib = 4096;
        channels << c;
    }
    QTemporaryDir data;
    RecastServer server(serverConfig(data.path(), channels));
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    auto held = [&] {
        qint64 sum = 0;
        for (const QString &id : server.channelIds())
            sum += server.channel(id)->outputBacklog().bytes;
        return sum;
    };
    QTRY_VERIFY_WITH_TIMEOUT(server.channel(u"c0"_qs)->stats().framesOut > 0, 30000);

    // Due during the stall: it fires in the first turn of the loop after it, with the timers.
    QTimer timer;
    timer.setTimerType(Qt::PreciseTimer);
    timer.setSingleShot(true);
    qint64 heldAtTimer = -1;
    connect(&timer, &QTimer::timeout, this, [&] { heldAtTimer = held(); });
    timer.start(1);
    constexpr qint64 kStalledHeld = kChannels * 2 * 1024 * 1024;
    QElapsedTimer clock;
    clock.start();
    while (held() < kStalledHeld) { // the stall: this thread is the server's
        QVERIFY2(clock.elapsed() < 120000, "the channels output too little in two minutes");
        QThread::msleep(10);
    }
    const qint64 heldAtStallEnd = held();
    QTRY_VERIFY(heldAtTimer >= 0);
    qInfo() << "held by the backlogs at the end of the stall:" << heldAtStallEnd << "bytes; after the first turn:" << heldAtTimer;
    // One turn took at most a slice of each channel: 1 MiB each (the slice, 512 KiB, and what
    // the channels output meanwhile) of the 2 MiB or more each holds.
    QVERIFY2(heldAtTimer >= heldAtStallEnd - kChannels * 1024 * 1024,
             qPrintable(QStringLiteral("the first turn after the stall took %1 of %2 bytes held: the server's thread took every "
                                       "channel's whole backlog before its timers and requests")
                            .arg(heldAtStallEnd - heldAtTimer)
                            .arg(heldAtStallEnd)));
    // And the rest follows, turn by turn.
    QTRY_VERIFY_WITH_TIMEOUT(held() < kStalledHeld / 4, 30000);
    Client client(server.port());
    QCOMPARE(client.get(u"/healthz"_qs).status, 200);
    server.stop();
}

void TestRecastBacklog::channelThreadsRunNicer()
{
#ifndef Q_OS_LINUX
    QSKIP("a nice value per thread is Linux's");
#endif
    // Two pattern channels; their threads (the pipeline, its opener, the encoders' threads)
    // run 7 nicer than this one, the server's.
    QTemporaryDir data;
    ServerConfig config = serverConfig(data.path(), {tinyChannel(u"one"_qs), tinyChannel(u"two"_qs)});
    config.channelThreadNice = 7;
    const QList<int> before = threadNiceValues();
    QVERIFY(!before.isEmpty());
    const int own = before.first();
    RecastServer server(config);
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    Client client(server.port());
    QTRY_VERIFY_WITH_TIMEOUT(client.state(u"one"_qs) == u"live"_qs && client.state(u"two"_qs) == u"live"_qs, 30000);
    const QList<int> values = threadNiceValues();
    const qsizetype nicer = std::count(values.begin(), values.end(), qMin(own + 7, 19));
    QStringList shown;
    for (int v : values)
        shown << QString::number(v);
    QVERIFY2(nicer >= 2, qPrintable(QStringLiteral("%1 threads run 7 nicer than the server's (nice values: %2)")
                                        .arg(nicer)
                                        .arg(shown.join(u' '))));
    QCOMPARE(values.count(own) >= 1, true); // the server's thread kept its own
    server.stop();
}

QTEST_GUILESS_MAIN(TestRecastBacklog)
#include "tst_recastbacklog.moc"
