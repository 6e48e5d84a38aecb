// ReCast's MPEG-TS output (/live/<id>.ts), read the way a set-top box reads it: a raw socket, the
// HTTP head parsed by hand, the body fed to libavformat from memory. The stream starts with
// PAT/PMT and a keyframe that decodes, from the keyframe cache at once or (?cache=0) at the next
// keyframe; the time to the first decodable frame is logged for both. A viewer that stops reading
// is dropped without disturbing the others.

#include "recasttest.h"

#include <QScopeGuard>
#include <QTcpSocket>
#include <QTemporaryDir>

using namespace recasttest;
using iptv::recast::RecastServer;

namespace {
constexpr int kStartMs = 30000;
const QString kId = u"ts"_qs;

} // namespace

class TestRecastTs : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void startsAtKeyframe_data();
    void startsAtKeyframe();
    void otherRendition();
    void errors();
    void slowViewerDropped();
    void stalledViewersShareOneBudget();
    void stopDisconnectsViewers();
    void cleanupTestCase();

private:
    QTemporaryDir m_dir;
    std::unique_ptr<RecastServer> m_server;
    std::unique_ptr<Client> m_client;
};

void TestRecastTs::initTestCase()
{
    QVERIFY(m_dir.isValid());
    iptv::media::installFfmpegLogHandler();
    ChannelConfig c = tinyChannel(kId);
    c.gopSeconds = 1; // a longer wait for the next keyframe shows in the ?cache=0 figures
    m_server = std::make_unique<RecastServer>(serverConfig(m_dir.path(), {c}));
    QString error;
    QVERIFY2(m_server->start(&error), qPrintable(error));
    m_client = std::make_unique<Client>(m_server->port());
    QTRY_VERIFY_WITH_TIMEOUT(m_client->playlist(kId, u"high"_qs).segments.size() >= 2, kStartMs);
}

void TestRecastTs::startsAtKeyframe_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::newRow("from the keyframe cache") << QByteArray("/live/ts.ts");
    QTest::newRow("at the next keyframe (cache=0)") << QByteArray("/live/ts.ts?cache=0");
}

void TestRecastTs::startsAtKeyframe()
{
    QFETCH(QByteArray, path);
    RawViewer viewer;
    viewer.get(m_server->port(), path);
    QTRY_VERIFY_WITH_TIMEOUT(viewer.decodable(), 10000);
    QCOMPARE(viewer.status, 200);
    QCOMPARE(viewer.headers.value("content-type"), QByteArray("video/mp2t"));
    QVERIFY(!viewer.headers.contains("content-length"));
    const QString psi = checkPsiFirst(viewer.body);
    QVERIFY2(psi.isEmpty(), qPrintable(psi));
    const TsProbe &probe = viewer.probe;
    QVERIFY2(probe.error.isEmpty(), qPrintable(probe.error));
    QVERIFY(probe.firstVideo());
    QVERIFY2(probe.firstVideo()->keyframe, "the first video packet is not a keyframe");
    QVERIFY2(probe.decodeErrors.isEmpty(), qPrintable(probe.decodeErrors.join(u"; "_qs)));
    QCOMPARE(probe.width, 320); // the first rendition
    qInfo().noquote() << QStringLiteral("%1: first decodable frame %2 ms after the request (%3 bytes)")
                             .arg(QString::fromLatin1(path))
                             .arg(viewer.firstFrameMs)
                             .arg(viewer.body.size());
    // The stream goes on: more frames arrive and still decode.
    const int frames = probe.videoFrames;
    QTRY_VERIFY_WITH_TIMEOUT(viewer.decodable() && viewer.probe.videoFrames > frames + 25, 10000);
    QVERIFY2(viewer.probe.decodeErrors.isEmpty(), qPrintable(viewer.probe.decodeErrors.join(u"; "_qs)));
    QCOMPARE(viewer.probe.videoFrames, viewer.probe.videoPackets);
}

void TestRecastTs::otherRendition()
{
    RawViewer viewer;
    viewer.get(m_server->port(), "/live/ts.ts?rendition=low");
    QTRY_VERIFY_WITH_TIMEOUT(viewer.decodable(), 10000);
    QCOMPARE(viewer.status, 200);
    QCOMPARE(viewer.probe.width, 160);
    QVERIFY(viewer.probe.firstVideo()->keyframe);
}

void TestRecastTs::errors()
{
    QCOMPARE(m_client->get(u"/live/nope.ts"_qs).status, 404);
    const HttpResult r = m_client->get(u"/live/ts.ts?rendition=huge"_qs);
    QCOMPARE(r.status, 404);
    QVERIFY2(r.body.contains("high") && r.body.contains("low"), r.body.constData()); // names the renditions there are
}

void TestRecastTs::slowViewerDropped()
{
    // A channel that runs as fast as it can (pace=false) at a higher bitrate fills a stalled
    // viewer's kernel buffers in a second or two, not minutes.
    ChannelConfig c = tinyChannel(u"fast"_qs);
    c.ladder = {{u"high"_qs, 320, 180, 2000}};
    c.pace = false;
    QString error;
    int status = 0;
    QVERIFY2(m_server->addChannel(c, &error, &status), qPrintable(error));
    auto cleanup = qScopeGuard([&] { m_server->removeChannel(c.id, &error, &status); });
    QTRY_VERIFY_WITH_TIMEOUT(m_client->playlist(c.id, u"high"_qs).segments.size() >= 1, kStartMs);
    m_server->channel(c.id)->setViewerBacklogLimit(512 * 1024);
    auto stats = [&] { return m_client->channel(c.id).value(u"stats"_qs).toObject(); };

    RawViewer fast;
    fast.maxBody = 1024 * 1024;
    fast.get(m_server->port(), "/live/fast.ts");
    RawViewer slow;
    slow.reading = false;
    slow.socket.setReadBufferSize(4096); // Qt stops taking bytes from the kernel once it holds this
    slow.socket.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096);
    slow.get(m_server->port(), "/live/fast.ts");
    QElapsedTimer clock;
    clock.start();
    QTRY_VERIFY_WITH_TIMEOUT(stats().value(u"viewers_dropped"_qs).toInteger() == 1, 60000);
    qInfo() << "the stalled viewer was dropped after" << clock.elapsed() << "ms";
    // The server shares this thread with the test: while the test decodes, nothing is sent, so
    // the fast viewer gets the default allowance from here on.
    m_server->channel(c.id)->setViewerBacklogLimit(iptv::recast::Channel::kViewerBacklogBytes);
    // The fast viewer is still there and still gets a stream that decodes.
    QCOMPARE(fast.socket.state(), QAbstractSocket::ConnectedState);
    const qint64 had = fast.received;
    QTRY_VERIFY_WITH_TIMEOUT(fast.received > had + 64 * 1024, 10000);
    QCOMPARE(fast.socket.state(), QAbstractSocket::ConnectedState);
    fast.probedAt = 0;
    QVERIFY(fast.decodable());
    QVERIFY(fast.probe.firstVideo()->keyframe);
    QVERIFY2(fast.probe.decodeErrors.isEmpty(), qPrintable(fast.probe.decodeErrors.join(u"; "_qs)));
    QCOMPARE(stats().value(u"viewers"_qs).toInt(), 1);
    QCOMPARE(stats().value(u"viewers_dropped"_qs).toInteger(), 1);
    // The other channel's viewers count is untouched.
    QCOMPARE(m_client->channel(kId).value(u"stats"_qs).toObject().value(u"viewers_dropped"_qs).toInteger(), 0);
}

// Many stalled viewers, each under its own 8 MiB, must not hold gigabytes together: past the
// server's budget (server/viewer_backlog_mib) the one holding over 1 MiB is dropped, long before
// its own limit; the reading viewer stays.
void TestRecastTs::stalledViewersShareOneBudget()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ChannelConfig c = tinyChannel(u"budget"_qs);
    c.ladder = {{u"high"_qs, 320, 180, 2000}};
    c.pace = false;
    auto config = serverConfig(dir.path(), {c});
    config.viewerBacklogBytes = 1536 * 1024;
    RecastServer server(config);
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    Client client(server.port());
    QTRY_VERIFY_WITH_TIMEOUT(client.playlist(c.id, u"high"_qs).segments.size() >= 1, kStartMs);
    QCOMPARE(server.channel(c.id)->viewerBacklogBytes(), 0);

    RawViewer fast;
    fast.maxBody = 1024 * 1024;
    fast.get(server.port(), "/live/budget.ts");
    RawViewer slow;
    slow.reading = false;
    slow.socket.setReadBufferSize(4096);
    slow.socket.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096);
    slow.get(server.port(), "/live/budget.ts");
    auto metric = [&](const QByteArray &name) {
        const QByteArray text = client.get(u"/metrics"_qs).body;
        for (const QByteArray &line : text.split('\n'))
            if (line.startsWith(QByteArray(name + ' ')))
                return line.mid(name.size() + 1).toDouble();
        return -1.0;
    };
    qint64 most = 0;
    QTRY_VERIFY_WITH_TIMEOUT((most = qMax(most, server.channel(c.id)->viewerBacklogBytes()),
                              metric("recast_viewers_dropped_for_memory_total") == 1),
                             60000);
    // Dropped for the budget, not its own limit (8 MiB): what the viewers held stayed near it.
    QVERIFY2(most < 4 * 1024 * 1024, qPrintable(QString::number(most)));
    QCOMPARE(server.channel(c.id)->viewersDropped(), 1u);
    QCOMPARE(fast.socket.state(), QAbstractSocket::ConnectedState);
    QCOMPARE(metric("recast_viewer_backlog_limit_bytes"), 1536.0 * 1024);
    server.stop();
}

void TestRecastTs::stopDisconnectsViewers()
{
    RawViewer viewer;
    viewer.get(m_server->port(), "/live/ts.ts");
    QTRY_VERIFY_WITH_TIMEOUT(viewer.received > 0, 10000);
    QCOMPARE(m_client->send("POST", u"/api/channels/ts/stop"_qs).status, 200);
    QTRY_COMPARE_WITH_TIMEOUT(viewer.socket.state(), QAbstractSocket::UnconnectedState, 10000);
    QCOMPARE(m_client->get(u"/live/ts.ts"_qs).status, 503);
    QCOMPARE(m_client->send("POST", u"/api/channels/ts/start"_qs).status, 200);
    RawViewer again;
    again.get(m_server->port(), "/live/ts.ts");
    QTRY_VERIFY_WITH_TIMEOUT(again.decodable(), 20000);
    QVERIFY(again.probe.firstVideo()->keyframe);
}

void TestRecastTs::cleanupTestCase()
{
    m_client.reset();
    m_server.reset();
}

QTEST_GUILESS_MAIN(TestRecastTs)
#include "tst_recastts.moc"
