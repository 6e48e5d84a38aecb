// recast starting: it listens before its channels open their sources and starts them a few at a
// time, so /healthz answers (200, "starting", how far) and /readyz says when every channel has
// tried its source; and a pass-through channel whose source's audio starts seconds after its
// video (past the first, brief probe) starts with that audio, its HLS segments carrying it with
// a sample rate and channels.

#include "recasttest.h"

#include <QSignalSpy>
#include <QTcpServer>
#include <QTemporaryDir>

using namespace recasttest;
using iptv::recast::RecastServer;

class TestRecastStart : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void healthzAnswersWhileChannelsStart();
    void lateAudioStartsWithItsParameters();
    void audioPastTheProbeJoinsTheChannel();

private:
    /// Makes `path`: `seconds` of 160x90 H.264 (1 s GOPs) and AAC mono 48 kHz in MPEG-TS whose
    /// audio begins `audioLateSeconds` after the video.
    bool makeLateAudioTs(const QString &path, int seconds, int audioLateSeconds);
    /// ffprobe's account of the audio in TS `bytes`: codec_name, sample_rate, channels and
    /// nb_read_packets lines, empty when it has no audio stream.
    QByteArray probeAudio(const QByteArray &bytes);

    QTemporaryDir m_dir;
    int m_probes = 0;
};

bool TestRecastStart::makeLateAudioTs(const QString &path, int seconds, int audioLateSeconds)
{
    QProcess ffmpeg;
    ffmpeg.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    ffmpeg.start(QStringLiteral("ffmpeg"),
                 {u"-hide_banner"_qs, u"-loglevel"_qs, u"error"_qs, u"-nostdin"_qs, u"-f"_qs, u"lavfi"_qs, u"-i"_qs,
                  u"testsrc2=size=160x90:rate=25"_qs, u"-itsoffset"_qs, QString::number(audioLateSeconds), u"-f"_qs, u"lavfi"_qs,
                  u"-i"_qs, u"sine=frequency=440:sample_rate=48000"_qs, u"-t"_qs, QString::number(seconds), u"-map"_qs, u"0:v"_qs,
                  u"-map"_qs, u"1:a"_qs, u"-c:v"_qs, u"libx264"_qs, u"-preset"_qs, u"ultrafast"_qs, u"-g"_qs, u"25"_qs,
                  u"-pix_fmt"_qs, u"yuv420p"_qs, u"-c:a"_qs, u"aac"_qs, u"-b:a"_qs, u"48k"_qs, u"-f"_qs, u"mpegts"_qs, u"-y"_qs,
                  path});
    if (!ffmpeg.waitForFinished(60000) || ffmpeg.exitStatus() != QProcess::NormalExit || ffmpeg.exitCode() != 0) {
        qWarning() << "ffmpeg did not make" << path;
        return false;
    }
    return true;
}

QByteArray TestRecastStart::probeAudio(const QByteArray &bytes)
{
    const QString path = m_dir.filePath(QStringLiteral("probe-%1.ts").arg(++m_probes));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size())
        return "cannot write " + path.toUtf8();
    f.close();
    QProcess ffprobe;
    ffprobe.start(QStringLiteral("ffprobe"), {u"-v"_qs, u"error"_qs, u"-count_packets"_qs, u"-select_streams"_qs, u"a"_qs,
                                              u"-show_entries"_qs, u"stream=codec_name,sample_rate,channels,nb_read_packets"_qs,
                                              u"-of"_qs, u"default=nw=1"_qs, path});
    if (!ffprobe.waitForFinished(30000) || ffprobe.exitCode() != 0)
        return "ffprobe failed: " + ffprobe.readAllStandardError();
    return ffprobe.readAllStandardOutput();
}

void TestRecastStart::initTestCase()
{
    QVERIFY(m_dir.isValid());
    iptv::media::installFfmpegLogHandler();
}

void TestRecastStart::healthzAnswersWhileChannelsStart()
{
    // Sources that take every connection and never answer: each channel's open lasts its whole
    // open_timeout_ms, as an unreachable camera's does.
    QTcpServer silent;
    QVERIFY(silent.listen(QHostAddress::LocalHost, 0));
    QList<QTcpSocket *> held;
    connect(&silent, &QTcpServer::newConnection, this, [&] {
        while (QTcpSocket *s = silent.nextPendingConnection())
            held << s;
    });
    constexpr int kChannels = 20;
    QList<ChannelConfig> channels;
    for (int i = 0; i < kChannels; ++i) {
        ChannelConfig c = passThroughChannel(QStringLiteral("slow%1").arg(i, 2, 10, QLatin1Char('0')),
                                             QStringLiteral("http://127.0.0.1:%1/slow%2.ts").arg(silent.serverPort()).arg(i));
        c.number = i + 1;
        c.openTimeoutMs = 1500;
        channels << c;
    }
    ServerConfig config = serverConfig(m_dir.filePath(QStringLiteral("slow")), channels);
    config.startConcurrency = 4;
    RecastServer server(config);
    QSignalSpy ready(&server, &RecastServer::ready);
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));

    // Listening, and only the first few channels started.
    int running = 0;
    for (const QString &id : server.channelIds())
        running += server.channel(id)->isRunning() ? 1 : 0;
    QVERIFY2(running <= config.startConcurrency, qPrintable(QStringLiteral("%1 channels started with the server").arg(running)));

    Client client(server.port());
    QElapsedTimer clock;
    clock.start();
    HttpResult health = client.get(QStringLiteral("/healthz"), 5000);
    QCOMPARE(health.status, 200);
    QVERIFY2(clock.elapsed() < 5000, "/healthz took seconds while the channels started");
    QJsonObject body = health.json();
    QCOMPARE(body.value(QLatin1String("status")).toString(), QStringLiteral("starting"));
    QJsonObject start = body.value(QLatin1String("start")).toObject();
    QCOMPARE(start.value(QLatin1String("total")).toInt(), kChannels);
    QVERIFY2(start.value(QLatin1String("started")).toInt() < kChannels, health.body.constData());
    QCOMPARE(start.value(QLatin1String("ready")).toBool(), false);
    QVERIFY(body.value(QLatin1String("channels")).toObject().value(QLatin1String("waiting")).toInt() > 0);
    const HttpResult notReady = client.get(QStringLiteral("/readyz"), 5000);
    QCOMPARE(notReady.status, 503);
    QCOMPARE(notReady.json().value(QLatin1String("status")).toString(), QStringLiteral("starting"));
    QVERIFY(client.get(QStringLiteral("/metrics"), 5000).body.contains("recast_ready 0"));
    // A channel waiting for its turn says so.
    QCOMPARE(client.state(QStringLiteral("slow19")), QStringLiteral("waiting"));

    // Every channel tries its source, never more than start_concurrency opening at once but for
    // those holding their place past a second (all of these: their sources never answer).
    int mostStartedEarly = 0;
    while (ready.isEmpty() && clock.elapsed() < 60000) {
        const HttpResult h = client.get(QStringLiteral("/healthz"), 5000);
        QCOMPARE(h.status, 200);
        const QJsonObject s = h.json().value(QLatin1String("start")).toObject();
        if (clock.elapsed() < 500)
            mostStartedEarly = qMax(mostStartedEarly, s.value(QLatin1String("started")).toInt());
        ready.wait(200);
    }
    QCOMPARE(ready.size(), 1);
    QVERIFY2(mostStartedEarly <= config.startConcurrency, qPrintable(QString::number(mostStartedEarly)));
    const HttpResult isReady = client.get(QStringLiteral("/readyz"));
    QCOMPARE(isReady.status, 200);
    start = isReady.json().value(QLatin1String("start")).toObject();
    QCOMPARE(start.value(QLatin1String("started")).toInt(), kChannels);
    QCOMPARE(start.value(QLatin1String("ready")).toBool(), true);
    for (const QString &id : server.channelIds()) {
        QVERIFY2(server.channel(id)->isRunning(), qPrintable(id));
        QCOMPARE(server.channel(id)->state(), iptv::recast::ChannelState::Reconnecting);
    }
    health = client.get(QStringLiteral("/healthz"));
    QCOMPARE(health.json().value(QLatin1String("status")).toString(), QStringLiteral("degraded"));
    QCOMPARE(client.get(QStringLiteral("/healthz?strict=1")).status, 503);
    QVERIFY(client.get(QStringLiteral("/metrics")).body.contains("recast_ready 1"));
    server.stop();
    qDeleteAll(held);
}

void TestRecastStart::lateAudioStartsWithItsParameters()
{
    // 12 s of H.264 and AAC whose audio begins 5 s after the video: the first probe (2 MB,
    // 2 s) ends before its first packet, as it did under load for 46 channels of 100.
    const QString input = m_dir.filePath(QStringLiteral("late.ts"));
    QVERIFY(makeLateAudioTs(input, 12, 5));

    const ChannelConfig c = loopedFileChannel(QStringLiteral("late"), input);
    RecastServer server(serverConfig(m_dir.filePath(QStringLiteral("late")), {c}));
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    Client client(server.port());
    // Segment 3 is 6-8 s into the channel: the audio runs from 5 s on.
    QTRY_VERIFY_WITH_TIMEOUT(server.channel(c.id) && server.channel(c.id)->nextSequence(0) >= 4, 60000);

    const HttpResult master = client.get(QStringLiteral("/live/late/index.m3u8"));
    QCOMPARE(master.status, 200);
    const QList<MasterVariant> variants = parseMaster(master.body);
    QCOMPARE(variants.size(), 1);
    QVERIFY2(variants.first().codecs.contains(QLatin1String("mp4a.40.2")), master.body.constData());

    const HttpResult segment = client.get(QStringLiteral("/live/late/source/seg-3.ts"));
    QCOMPARE(segment.status, 200);
    const QByteArray probe = probeAudio(segment.body);
    QVERIFY2(probe.contains("codec_name=aac"), probe.constData());
    QVERIFY2(probe.contains("sample_rate=48000"), probe.constData());
    QVERIFY2(probe.contains("channels=1"), probe.constData());
    server.stop();
}

void TestRecastStart::audioPastTheProbeJoinsTheChannel()
{
    // Audio 14 s after the video: past the further probe too (10 s of media), so the channels
    // start without it. It joins when its first packet decodes, without a reconnect: the
    // pass-through channel at its next keyframe (a discontinuity, a master naming mp4a), the
    // transcoded one in the audio its renditions always carry. Before, both stayed silent for
    // as long as the source did not fail.
    const QString input = m_dir.filePath(QStringLiteral("toolate.ts"));
    QVERIFY(makeLateAudioTs(input, 24, 14));
    const ChannelConfig passed = loopedFileChannel(QStringLiteral("passed"), input);
    ChannelConfig coded = tinyChannel(QStringLiteral("coded"), QStringLiteral("file:") + input);
    coded.loop = true;
    coded.pace = true;
    coded.segmentSeconds = 2;
    coded.gopSeconds = 1;
    coded.ladder = {coded.ladder.last()};
    RecastServer server(serverConfig(m_dir.filePath(QStringLiteral("toolate")), {passed, coded}));
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    Client client(server.port());

    // A segment from 18 s of media on, before the file loops at 24 s.
    for (const ChannelConfig &c : {passed, coded}) {
        QTRY_VERIFY_WITH_TIMEOUT(server.channel(c.id) && server.channel(c.id)->nextSequence(0) >= 10, 90000);
        const QString rendition = c.passthrough ? QStringLiteral("source") : c.ladder.first().name;
        const HttpResult segment = client.get(
            QStringLiteral("/live/%1/%2/seg-%3.ts").arg(c.id, rendition).arg(server.channel(c.id)->nextSequence(0) - 1));
        QCOMPARE(segment.status, 200);
        const QByteArray probe = probeAudio(segment.body);
        QVERIFY2(probe.contains("codec_name=aac"), qPrintable(c.id + u": "_qs + QString::fromUtf8(probe)));
        QVERIFY2(probe.contains("sample_rate=48000"), qPrintable(c.id + u": "_qs + QString::fromUtf8(probe)));
        QVERIFY2(!probe.contains("nb_read_packets=0") && probe.contains("nb_read_packets="),
                 qPrintable(c.id + u": "_qs + QString::fromUtf8(probe)));
        if (c.passthrough) {
            QVERIFY2(probe.contains("channels=1"), probe.constData());
            const HttpResult master = client.get(QStringLiteral("/live/%1/index.m3u8").arg(c.id));
            QCOMPARE(master.status, 200);
            const QList<MasterVariant> variants = parseMaster(master.body);
            QCOMPARE(variants.size(), 1);
            QVERIFY2(variants.first().codecs.contains(QLatin1String("mp4a.40.2")), master.body.constData());
        }
    }
    server.stop();
}

QTEST_GUILESS_MAIN(TestRecastStart)
#include "tst_recaststart.moc"
