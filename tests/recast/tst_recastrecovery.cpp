// ReCast when its source goes away and comes back, in-process and without external tools: two
// feed channels send their MPEG-TS over UDP to 127.0.0.1; a transcoded channel and a pass-through
// channel read them. Stopping the feeds interrupts both sources for 5 s, 30 s and (in its own
// function) 120 s while a client reads the playlists throughout: the transcoded channel keeps
// listing segments (the slate) and never goes back, the pass-through channel marks the gap with
// EXT-X-DISCONTINUITY, both go reconnecting -> live and count the reconnect.

#include "recasttest.h"

#include <QSet>
#include <QTemporaryDir>

using namespace recasttest;
using iptv::media::HlsCheck;
using iptv::recast::Channel;
using iptv::recast::RecastServer;

namespace {
constexpr int kStartMs = 60000;
/// The reconnect backoff tops out at 5 s, then the open itself takes up to open_timeout_ms.
constexpr int kRecoverMs = 60000;
const QString kRelay = u"relay"_qs; // transcoded from feed
const QString kCopy = u"copy"_qs;   // pass-through of feedcopy
} // namespace

class TestRecastRecovery : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void passThroughPlaylists();
    void interruption_data();
    void interruption();
    void longInterruption120s();
    void cleanupTestCase();

private:
    void interrupt(int seconds);
    /// Reads both playlists until `ms` passed (or `until` holds), checking every reload against
    /// the one before; collects the states seen.
    void watch(int ms, const std::function<bool()> &until = {});
    qint64 reconnects(const QString &id) { return m_client->channel(id).value(u"stats"_qs).toObject().value(u"reconnects"_qs).toInteger(); }

    QTemporaryDir m_dir;
    std::unique_ptr<RecastServer> m_server;
    std::unique_ptr<Client> m_client;
    QMap<QString, HlsCheck> m_last;
    QMap<QString, QSet<QString>> m_statesSeen;
    QMap<QString, int> m_reloads;
};

void TestRecastRecovery::initTestCase()
{
    QVERIFY(m_dir.isValid());
    iptv::media::installFfmpegLogHandler();
    const quint16 p1 = freeUdpPort(), p2 = freeUdpPort();
    QVERIFY(p1 && p2 && p1 != p2);
    const QList<Rendition> one{{u"low"_qs, 160, 90, 100}};
    ChannelConfig feed = tinyChannel(u"feed"_qs);
    feed.ladder = one;
    feed.udpOut = QStringLiteral("udp://127.0.0.1:%1").arg(p1);
    ChannelConfig feedCopy = tinyChannel(u"feedcopy"_qs);
    feedCopy.ladder = one;
    feedCopy.udpOut = QStringLiteral("udp://127.0.0.1:%1").arg(p2);
    ChannelConfig relay = tinyChannel(kRelay, QStringLiteral("udp://127.0.0.1:%1").arg(p1));
    relay.ladder = one;
    ChannelConfig copy = tinyChannel(kCopy, QStringLiteral("udp://127.0.0.1:%1").arg(p2));
    copy.passthrough = true;
    copy.ladder.clear();
    m_server = std::make_unique<RecastServer>(serverConfig(m_dir.path(), {feed, feedCopy, relay, copy}));
    QString error;
    QVERIFY2(m_server->start(&error), qPrintable(error));
    m_client = std::make_unique<Client>(m_server->port());
    QTRY_VERIFY_WITH_TIMEOUT(m_client->playlist(kRelay, u"low"_qs).segments.size() >= 2, kStartMs);
    QTRY_VERIFY_WITH_TIMEOUT(m_client->playlist(kCopy, u"source"_qs).segments.size() >= 2, kStartMs);
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(kRelay), u"live"_qs, kStartMs);
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(kCopy), u"live"_qs, kStartMs);
    m_last[kRelay] = m_client->playlist(kRelay, u"low"_qs);
    m_last[kCopy] = m_client->playlist(kCopy, u"source"_qs);
}

void TestRecastRecovery::passThroughPlaylists()
{
    // The master playlist of a pass-through channel names what the source carries (H.264 and
    // AAC) and a bandwidth no segment exceeds.
    const HttpResult master = m_client->get(u"/live/copy/index.m3u8"_qs);
    QCOMPARE(master.status, 200);
    const QList<MasterVariant> variants = parseMaster(master.body);
    QCOMPARE(variants.size(), 1);
    QCOMPARE(variants[0].uri, u"source/index.m3u8"_qs);
    QVERIFY2(variants[0].codecs.contains(u"avc1."_qs) && variants[0].codecs.contains(u"mp4a.40.2"_qs), master.body.constData());
    QTRY_VERIFY_WITH_TIMEOUT(m_client->playlist(kCopy, u"source"_qs).segments.size() >= 3, kStartMs);
    const HlsCheck copy = m_client->playlist(kCopy, u"source"_qs);
    const qint64 peak = peakSegmentBitrate(*m_client, u"/live/copy/source/index.m3u8"_qs, copy);
    QVERIFY2(variants[0].bandwidth >= peak,
             qPrintable(QStringLiteral("BANDWIDTH=%1, a segment carries %2 bit/s").arg(variants[0].bandwidth).arg(peak)));
    // EXTINF matches the media here too (cut at the source's keyframes).
    for (const auto &s : copy.segments) {
        const TsProbe p = probeTs(m_client->get(u"/live/copy/source/"_qs + s.uri).body, true);
        QVERIFY2(p.error.isEmpty() && p.decodeErrors.isEmpty(), qPrintable(s.uri + u": "_qs + p.error + p.decodeErrors.join(u"; "_qs)));
        QVERIFY2(std::abs(p.videoSeconds() - s.duration) <= 0.041,
                 qPrintable(QStringLiteral("%1: EXTINF %2 s, video %3 s").arg(s.uri).arg(s.duration).arg(p.videoSeconds())));
    }
}

void TestRecastRecovery::watch(int ms, const std::function<bool()> &until)
{
    QElapsedTimer clock;
    clock.start();
    QSignalSpy relayChanged(m_server->channel(kRelay), &Channel::playlistChanged);
    while (clock.elapsed() < ms) {
        for (const QString &id : {kRelay, kCopy}) {
            const HlsCheck now = m_client->playlist(id, id == kRelay ? u"low"_qs : u"source"_qs);
            QVERIFY2(now.ok, qPrintable(id + u": "_qs + now.problems.join(u"; "_qs)));
            const QStringList problems = iptv::media::checkReload(m_last[id], now) + checkTimeline(now);
            QVERIFY2(problems.isEmpty(), qPrintable(id + u": "_qs + problems.join(u"; "_qs)));
            m_last[id] = now;
            ++m_reloads[id];
            m_statesSeen[id].insert(m_client->state(id));
        }
        if (until && until())
            return;
        // The next reload when the relay lists a segment, or after half a second.
        relayChanged.wait(500);
        relayChanged.clear();
    }
}

void TestRecastRecovery::interruption_data()
{
    QTest::addColumn<int>("seconds");
    QTest::newRow("5s") << 5;
    QTest::newRow("30s") << 30;
}

void TestRecastRecovery::interruption()
{
    QFETCH(int, seconds);
    interrupt(seconds);
}

void TestRecastRecovery::longInterruption120s()
{
    interrupt(120);
}

void TestRecastRecovery::interrupt(int seconds)
{
    auto next = [this](const QString &id) { return m_last[id].mediaSequence + m_last[id].segments.size(); };
    auto discontinuities = [this](const QString &id) {
        int n = 0;
        for (const auto &s : m_last[id].segments)
            n += s.discontinuity ? 1 : 0;
        return m_last[id].discontinuitySequence + n;
    };
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(kRelay), u"live"_qs, kRecoverMs);
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(kCopy), u"live"_qs, kRecoverMs);
    watch(0);
    const qint64 relayReconnects = reconnects(kRelay), copyReconnects = reconnects(kCopy);
    const qint64 copyDiscontinuities = discontinuities(kCopy);
    m_statesSeen.clear();

    // A viewer of the relay's MPEG-TS output stays through it all.
    RawViewer viewer;
    viewer.get(m_server->port(), "/live/relay.ts");
    QTRY_VERIFY_WITH_TIMEOUT(viewer.received > 0, 10000);

    QCOMPARE(m_client->send("POST", u"/api/channels/feed/stop"_qs).status, 200);
    QCOMPARE(m_client->send("POST", u"/api/channels/feedcopy/stop"_qs).status, 200);
    const qint64 relayAtCut = next(kRelay);
    watch(seconds * 1000);
    if (QTest::currentTestFailed())
        return;
    // The relay went on with its slate: about a segment a second, minus the read timeout.
    const qint64 during = next(kRelay) - relayAtCut;
    QVERIFY2(during >= seconds - 3, qPrintable(QStringLiteral("the relay listed %1 segments in %2 s without its source").arg(during).arg(seconds)));
    QVERIFY2(m_statesSeen[kRelay].contains(u"reconnecting"_qs), qPrintable(QStringList(m_statesSeen[kRelay].values()).join(u',')));
    QVERIFY2(m_statesSeen[kCopy].contains(u"reconnecting"_qs), qPrintable(QStringList(m_statesSeen[kCopy].values()).join(u',')));
    const QString reason = m_client->channel(kRelay).value(u"reason"_qs).toString();
    QVERIFY2(!reason.isEmpty(), "reconnecting without a reason");
    qInfo().noquote() << "relay while the source is away:" << reason;

    const qint64 viewerAtReturn = viewer.received;
    QCOMPARE(m_client->send("POST", u"/api/channels/feed/start"_qs).status, 200);
    QCOMPARE(m_client->send("POST", u"/api/channels/feedcopy/start"_qs).status, 200);
    QElapsedTimer back;
    back.start();
    const qint64 copyAtReturn = next(kCopy);
    // Two new segments do not mean the first one after the gap is listed: reconnecting, the
    // pass-through channel first lists what is left of the old source, which is two segments
    // when the interleaver still held the keyframe ending the one in progress (tst_hlssegmenter).
    // So wait for its EXT-X-DISCONTINUITY; where exactly it lands is tst_hlssegmenter's to check.
    watch(kRecoverMs, [&] {
        return m_client->state(kRelay) == u"live"_qs && m_client->state(kCopy) == u"live"_qs && next(kCopy) > copyAtReturn + 1
            && discontinuities(kCopy) > copyDiscontinuities;
    });
    if (QTest::currentTestFailed())
        return;
    qInfo() << "both channels live again, the gap marked," << back.elapsed() << "ms after the source returned";
    QCOMPARE(m_client->state(kRelay), u"live"_qs);
    QCOMPARE(m_client->state(kCopy), u"live"_qs);
    QVERIFY2(next(kCopy) > copyAtReturn + 1, "the pass-through channel lists no new segment");
    QVERIFY(reconnects(kRelay) > relayReconnects);
    QVERIFY(reconnects(kCopy) > copyReconnects);
    // Pass-through has no slate: the gap is an EXT-X-DISCONTINUITY (listed, or counted in
    // EXT-X-DISCONTINUITY-SEQUENCE once it left the window).
    QVERIFY2(discontinuities(kCopy) > copyDiscontinuities,
             qPrintable(QString::fromUtf8(m_client->get(u"/live/copy/source/index.m3u8"_qs).body)));
    // The pictures after the gap carry the time they were live at: the newest pass-through
    // segment's EXT-X-PROGRAM-DATE-TIME does not lag the wall clock by the outage.
    const iptv::media::HlsSegment &newest = m_last[kCopy].segments.last();
    QVERIFY(newest.programDateTime.isValid());
    const qint64 lagMs = QDateTime::currentMSecsSinceEpoch() - newest.programDateTime.toMSecsSinceEpoch() - qint64(newest.duration * 1000);
    QVERIFY2(qAbs(lagMs) < 3000, qPrintable(QStringLiteral("%1 ends %2 ms before now, after a %3 s outage")
                                                .arg(newest.uri).arg(lagMs).arg(seconds)));
    // The relay's newest segment, made from the returned source, decodes.
    const HlsCheck relay = m_last[kRelay];
    const auto &segment = relay.segments.last();
    const TsProbe probe = probeTs(m_client->get(u"/live/relay/low/"_qs + segment.uri).body, true);
    QVERIFY2(probe.error.isEmpty() && probe.decodeErrors.isEmpty(), qPrintable(probe.error + probe.decodeErrors.join(u"; "_qs)));
    // The TS viewer got the slate and then the source again, one timeline that decodes.
    QCOMPARE(viewer.socket.state(), QAbstractSocket::ConnectedState);
    QVERIFY(viewer.received > viewerAtReturn);
    const TsProbe stream = probeTs(viewer.body, true, true);
    QVERIFY2(stream.error.isEmpty() && stream.decodeErrors.isEmpty(), qPrintable(stream.error + stream.decodeErrors.join(u"; "_qs)));
    QVERIFY(stream.firstVideo() && stream.firstVideo()->keyframe);
    qint64 lastDts = AV_NOPTS_VALUE;
    for (const TsPacket &p : stream.packets) {
        if (!p.video)
            continue;
        QVERIFY2(lastDts == AV_NOPTS_VALUE || (p.dts > lastDts && p.dts - lastDts < 90000),
                 qPrintable(QStringLiteral("the TS output's video DTS goes from %1 to %2").arg(lastDts).arg(p.dts)));
        lastDts = p.dts;
    }
    QVERIFY2(stream.videoSeconds() >= seconds, qPrintable(QString::number(stream.videoSeconds())));

    // Every pass-through segment listed now, also the first after the gap, starts at a keyframe
    // and decodes.
    for (const auto &s : m_last[kCopy].segments) {
        const TsProbe p = probeTs(m_client->get(u"/live/copy/source/"_qs + s.uri).body, true);
        QVERIFY2(p.error.isEmpty() && p.decodeErrors.isEmpty(), qPrintable(s.uri + u": "_qs + p.error + p.decodeErrors.join(u"; "_qs)));
        QVERIFY2(p.firstVideo() && p.firstVideo()->keyframe, qPrintable(s.uri + u" does not start with a keyframe"_qs));
    }
    qInfo() << "reloads so far:" << m_reloads;
}

void TestRecastRecovery::cleanupTestCase()
{
    m_client.reset();
    m_server.reset();
}

QTEST_GUILESS_MAIN(TestRecastRecovery)
#include "tst_recastrecovery.moc"
