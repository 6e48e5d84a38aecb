// ReCast's JSON API and its other answers, in-process: list, add, change, remove, start and stop
// channels; clear 400/404/409 answers; changes that survive a restart (channels.json in the data
// folder); the lineup read by the project's own M3U reader; /metrics accepted by promtool; and a
// channel whose output folder cannot be written failing alone, with its reason and write errors.

#include "recasttest.h"
#include "../common/promtool.h"

#include <epg/m3ureader.h>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QTemporaryDir>

using namespace recasttest;
using iptv::recast::RecastServer;

namespace {
constexpr int kStartMs = 30000;

ChannelConfig small(const QString &id)
{
    ChannelConfig c = tinyChannel(id);
    c.ladder = {{u"low"_qs, 160, 90, 100}};
    return c;
}
} // namespace

class TestRecastApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void list();
    void addChangeRemove();
    void badRequests_data();
    void badRequests();
    void startStop();
    void lineup();
    void metrics();
    void persistsAcrossRestart();
    void unwritableOutputFailsAlone();
    void damagedChannelsFile();
    void sourcesShownWholeToTheOperatorOnly();
    void cleanupTestCase();

private:
    bool startServer(QString *error);
    QJsonObject error(const HttpResult &r) { return r.json(); }
    QTemporaryDir m_dir;
    std::unique_ptr<RecastServer> m_server;
    std::unique_ptr<Client> m_client;
    QList<ChannelConfig> m_fileChannels;
};

bool TestRecastApi::startServer(QString *error)
{
    m_client.reset();
    m_server.reset();
    m_server = std::make_unique<RecastServer>(serverConfig(m_dir.path(), m_fileChannels));
    if (!m_server->start(error))
        return false;
    m_client = std::make_unique<Client>(m_server->port());
    return true;
}

void TestRecastApi::initTestCase()
{
    QVERIFY(m_dir.isValid());
    iptv::media::installFfmpegLogHandler();
    ChannelConfig one = small(u"one"_qs);
    one.name = u"Channel \"One\""_qs;
    one.number = 1;
    one.group = u"General"_qs;
    ChannelConfig two = small(u"two"_qs);
    two.number = 2;
    two.group = u"News"_qs;
    two.enabled = false;
    m_fileChannels = {one, two};
    QString error;
    QVERIFY2(startServer(&error), qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"one"_qs), u"live"_qs, kStartMs);
}

void TestRecastApi::list()
{
    const HttpResult r = m_client->get(u"/api/channels"_qs);
    QCOMPARE(r.status, 200);
    const QJsonArray channels = r.json().value(u"channels"_qs).toArray();
    QCOMPARE(channels.size(), 2);
    QCOMPARE(channels.at(0).toObject().value(u"id"_qs).toString(), u"one"_qs);
    QCOMPARE(channels.at(1).toObject().value(u"id"_qs).toString(), u"two"_qs);
    QCOMPARE(channels.at(1).toObject().value(u"state"_qs).toString(), u"stopped"_qs); // enabled=false
    const QJsonObject one = channels.at(0).toObject();
    QCOMPARE(one.value(u"renditions"_qs).toArray(), QJsonArray{u"low"_qs});
    QCOMPARE(one.value(u"playlist"_qs).toString(), u"/live/one/index.m3u8"_qs);
    QVERIFY(one.value(u"stats"_qs).toObject().contains(u"segments"_qs));
    // Every enabled channel is live.
    const HttpResult health = m_client->get(u"/healthz?strict=1"_qs);
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json().value(u"status"_qs).toString(), u"ok"_qs);
}

void TestRecastApi::addChangeRemove()
{
    const QByteArray body = R"({"id": "three", "name": "Three", "number": 3, "group": "Kids",
        "ladder": ["low:160x90@100"], "preset": "ultrafast", "threads": 1, "segment_seconds": 1, "gop_seconds": 0.5})";
    HttpResult r = m_client->send("POST", u"/api/channels"_qs, body);
    QCOMPARE(r.status, 201);
    QCOMPARE(r.json().value(u"id"_qs).toString(), u"three"_qs);
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"three"_qs), u"live"_qs, kStartMs);

    r = m_client->send("POST", u"/api/channels"_qs, body);
    QCOMPARE(r.status, 409);
    QVERIFY2(error(r).value(u"detail"_qs).toString().contains(u"three"_qs), r.body.constData());

    r = m_client->send("PATCH", u"/api/channels/three"_qs, R"({"name": "Three Renamed", "audio_kbps": 48})");
    QCOMPARE(r.status, 200);
    QJsonObject three = m_client->channel(u"three"_qs);
    QCOMPARE(three.value(u"name"_qs).toString(), u"Three Renamed"_qs);
    QCOMPARE(three.value(u"audio_kbps"_qs).toInt(), 48);
    QCOMPARE(three.value(u"group"_qs).toString(), u"Kids"_qs); // kept
    r = m_client->send("PUT", u"/api/channels/three"_qs, R"({"group": "Family"})");
    QCOMPARE(r.status, 200);
    QCOMPARE(m_client->channel(u"three"_qs).value(u"group"_qs).toString(), u"Family"_qs);
    // The changed channel runs again.
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"three"_qs), u"live"_qs, kStartMs);

    // Changing a channel from the config file, then removing another: both persist (below).
    QCOMPARE(m_client->send("PATCH", u"/api/channels/one"_qs, R"({"group": "Favourites"})").status, 200);
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"one"_qs), u"live"_qs, kStartMs);

    QCOMPARE(m_client->send("POST", u"/api/channels"_qs, R"({"id": "gone", "ladder": ["low:160x90@100"], "enabled": false})").status, 201);
    r = m_client->send("DELETE", u"/api/channels/gone"_qs);
    QCOMPARE(r.status, 204);
    QCOMPARE(m_client->get(u"/api/channels/gone"_qs).status, 404);
    QCOMPARE(m_client->send("DELETE", u"/api/channels/gone"_qs).status, 404);
    QVERIFY(QFile::exists(QDir(m_dir.path()).filePath(u"channels.json"_qs)));
}

void TestRecastApi::badRequests_data()
{
    QTest::addColumn<QByteArray>("verb");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("bad JSON") << QByteArray("POST") << u"/api/channels"_qs << QByteArray(R"({"id": "x",)") << 400 << u"JSON"_qs;
    QTest::newRow("not an object") << QByteArray("POST") << u"/api/channels"_qs << QByteArray("[1]") << 400 << u"object"_qs;
    QTest::newRow("bad preset") << QByteArray("POST") << u"/api/channels"_qs << QByteArray(R"({"id": "x", "preset": "warp"})") << 400 << u"preset"_qs;
    QTest::newRow("bad ladder") << QByteArray("POST") << u"/api/channels"_qs << QByteArray(R"({"id": "x", "ladder": ["big"]})") << 400 << u"ladder"_qs;
    QTest::newRow("bad source") << QByteArray("POST") << u"/api/channels"_qs << QByteArray(R"({"id": "x", "source": "nothing"})") << 400 << u"source"_qs;
    QTest::newRow("fps a string") << QByteArray("PATCH") << u"/api/channels/one"_qs << QByteArray(R"({"fps": "fast"})") << 400 << u"fps"_qs;
    QTest::newRow("gop") << QByteArray("PATCH") << u"/api/channels/one"_qs << QByteArray(R"({"gop_seconds": 0.3})") << 400 << u"gop_seconds"_qs;
    QTest::newRow("id change") << QByteArray("PUT") << u"/api/channels/one"_qs << QByteArray(R"({"id": "uno"})") << 400 << u"id"_qs;
    QTest::newRow("duplicate") << QByteArray("POST") << u"/api/channels"_qs << QByteArray(R"({"id": "one"})") << 409 << u"one"_qs;
    QTest::newRow("change unknown") << QByteArray("PATCH") << u"/api/channels/nope"_qs << QByteArray(R"({"name": "x"})") << 404 << u"nope"_qs;
    QTest::newRow("get unknown") << QByteArray("GET") << u"/api/channels/nope"_qs << QByteArray() << 404 << u"nope"_qs;
    QTest::newRow("delete unknown") << QByteArray("DELETE") << u"/api/channels/nope"_qs << QByteArray() << 404 << u"nope"_qs;
    QTest::newRow("start unknown") << QByteArray("POST") << u"/api/channels/nope/start"_qs << QByteArray() << 404 << u"nope"_qs;
    QTest::newRow("stop unknown") << QByteArray("POST") << u"/api/channels/nope/stop"_qs << QByteArray() << 404 << u"nope"_qs;
    QTest::newRow("playlist unknown") << QByteArray("GET") << u"/live/nope/index.m3u8"_qs << QByteArray() << 404 << u"nope"_qs;
}

void TestRecastApi::badRequests()
{
    QFETCH(QByteArray, verb);
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, mentions);
    const HttpResult r = m_client->send(verb, path, body);
    QCOMPARE(r.status, status);
    const QString detail = error(r).value(u"detail"_qs).toString();
    QVERIFY2(detail.contains(mentions), qPrintable(QString::fromUtf8(r.body)));
    QCOMPARE(m_client->get(u"/api/channels/x"_qs).status, 404); // nothing was added
}

void TestRecastApi::startStop()
{
    HttpResult r = m_client->send("POST", u"/api/channels/two/start"_qs);
    QCOMPARE(r.status, 200);
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"two"_qs), u"live"_qs, kStartMs);
    QTRY_COMPARE_WITH_TIMEOUT(m_client->get(u"/live/two/low/index.m3u8"_qs).status, 200, kStartMs);
    r = m_client->send("POST", u"/api/channels/two/stop"_qs);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value(u"state"_qs).toString(), u"stopped"_qs);
    QCOMPARE(m_client->state(u"two"_qs), u"stopped"_qs);
    QCOMPARE(m_client->get(u"/live/two.ts"_qs).status, 503);
    // Stopping twice is harmless.
    QCOMPARE(m_client->send("POST", u"/api/channels/two/stop"_qs).status, 200);
}

void TestRecastApi::lineup()
{
    const HttpResult r = m_client->get(u"/lineup.m3u"_qs);
    QCOMPARE(r.status, 200);
    QVERIFY(r.header("Content-Type").contains("mpegurl"));
    iptv::DiagnosticList diagnostics;
    const auto lineup = iptv::epg::M3uReader::parse(r.body, u"lineup.m3u"_qs, &diagnostics);
    for (const auto &d : diagnostics.items())
        QFAIL(qPrintable(QStringLiteral("line %1: %2").arg(d.line).arg(d.message)));
    QMap<QString, iptv::epg::M3uEntry> entries;
    for (const auto &e : lineup.entries)
        entries.insert(e.tvgId, e);
    const QStringList ids = m_server->channelIds();
    QCOMPARE(lineup.entries.size(), ids.size());
    const auto one = entries.value(u"one.test"_qs);
    QCOMPARE(one.name, u"Channel \"One\""_qs);
    QCOMPARE(one.tvgName, u"Channel 'One'"_qs); // a quote cannot stand inside an attribute
    QCOMPARE(one.channelNumber, 1);
    QCOMPARE(one.groupTitle, u"Favourites"_qs);
    QCOMPARE(one.url, m_client->url(u"/live/one/index.m3u8"_qs).toString());
    QCOMPARE(entries.value(u"two.test"_qs).groupTitle, u"News"_qs);
    QCOMPARE(entries.value(u"two.test"_qs).channelNumber, 2);
    // The ordering follows the channel numbers.
    QCOMPARE(lineup.entries.first().tvgId, u"one.test"_qs);
    // The MPEG-TS flavour.
    const auto ts = iptv::epg::M3uReader::parse(m_client->get(u"/lineup.m3u?format=ts"_qs).body, u"ts"_qs, &diagnostics);
    QCOMPARE(ts.entries.first().url, m_client->url(u"/live/one.ts"_qs).toString());
}

void TestRecastApi::metrics()
{
    const HttpResult r = m_client->get(u"/metrics"_qs);
    QCOMPARE(r.status, 200);
    QVERIFY(r.body.contains("recast_channel_segments_total{channel=\"one\"}"));
    QVERIFY(r.body.contains("recast_channel_state{channel=\"two\",state=\"stopped\"} 1"));
    // Every channel's output backlog together: held, its limit (output_backlog_total_mib), drops.
    QVERIFY(r.body.contains("\nrecast_output_backlogs_limit_bytes 268435456\n"));
    QVERIFY(r.body.contains("\nrecast_output_backlogs_bytes "));
    QVERIFY(r.body.contains("\nrecast_output_backlogs_dropped_gops_total 0\n"));
    QVERIFY(r.body.contains("\nrecast_output_backlogs_dropped_bytes_total 0\n"));
    QVERIFY(r.body.contains("\nrecast_event_loop_lag_max_seconds "));
    const auto problems = promtoolProblems(r.body);
    if (!problems)
        QSKIP("promtool is not installed");
    QVERIFY2(problems->isEmpty(), qPrintable(*problems));
}

void TestRecastApi::persistsAcrossRestart()
{
    QString error;
    QVERIFY2(startServer(&error), qPrintable(error));
    const QStringList ids = m_server->channelIds();
    QCOMPARE(ids, (QStringList{u"one"_qs, u"two"_qs, u"three"_qs}));
    const QJsonObject three = m_client->channel(u"three"_qs);
    QCOMPARE(three.value(u"name"_qs).toString(), u"Three Renamed"_qs);
    QCOMPARE(three.value(u"group"_qs).toString(), u"Family"_qs);
    QCOMPARE(three.value(u"audio_kbps"_qs).toInt(), 48);
    QCOMPARE(m_client->channel(u"one"_qs).value(u"group"_qs).toString(), u"Favourites"_qs);
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"three"_qs), u"live"_qs, kStartMs);

    // A channel of the config file removed through the API stays removed after a restart.
    QCOMPARE(m_client->send("DELETE", u"/api/channels/two"_qs).status, 204);
    QVERIFY2(startServer(&error), qPrintable(error));
    QCOMPARE(m_server->channelIds(), (QStringList{u"one"_qs, u"three"_qs}));
    // And comes back when added again.
    QCOMPARE(m_client->send("POST", u"/api/channels"_qs, R"({"id": "two", "ladder": ["low:160x90@100"], "enabled": false})").status, 201);
    QVERIFY2(startServer(&error), qPrintable(error));
    QCOMPARE(m_server->channelIds(), (QStringList{u"one"_qs, u"three"_qs, u"two"_qs}));
}

void TestRecastApi::unwritableOutputFailsAlone()
{
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"one"_qs), u"live"_qs, kStartMs);
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"three"_qs), u"live"_qs, kStartMs);
    // Channel three's rendition folder becomes a file (chmod does not stop root).
    const QString folder = m_server->channel(u"three"_qs)->folder() + u"/low"_qs;
    QVERIFY(QDir(folder).exists());
    QVERIFY(QDir().rename(folder, folder + u".moved"_qs));
    {
        QFile blocker(folder);
        QVERIFY(blocker.open(QIODevice::WriteOnly));
    }
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"three"_qs), u"degraded"_qs, 10000);
    const QJsonObject three = m_client->channel(u"three"_qs);
    const QString reason = three.value(u"reason"_qs).toString();
    QVERIFY2(reason.contains(folder), qPrintable(u"the reason does not name the folder: "_qs + reason));
    QVERIFY(three.value(u"stats"_qs).toObject().value(u"write_errors"_qs).toInteger() > 0);
    qInfo().noquote() << "three:" << reason;
    const QByteArray metrics = m_client->get(u"/metrics"_qs).body;
    QVERIFY(metrics.contains("recast_channel_state{channel=\"three\",state=\"degraded\"} 1"));
    QVERIFY(!metrics.contains("recast_channel_write_errors_total{channel=\"three\"} 0\n"));
    // The other channel goes on.
    const qint64 before = m_client->playlist(u"one"_qs, u"low"_qs).mediaSequence;
    QTRY_VERIFY_WITH_TIMEOUT(m_client->playlist(u"one"_qs, u"low"_qs).mediaSequence > before + 1, 10000);
    QCOMPARE(m_client->state(u"one"_qs), u"live"_qs);
    QCOMPARE(m_client->channel(u"one"_qs).value(u"stats"_qs).toObject().value(u"write_errors"_qs).toInteger(), 0);
    QCOMPARE(m_client->get(u"/healthz"_qs).json().value(u"status"_qs).toString(), u"degraded"_qs);
    QCOMPARE(m_client->get(u"/healthz?strict=1"_qs).status, 503);

    // A channel whose folder cannot even be made fails at once, with the reason.
    QFile blocker(QDir(m_server->config().effectiveOutputDir()).filePath(u"four"_qs));
    QVERIFY(blocker.open(QIODevice::WriteOnly));
    blocker.close();
    QCOMPARE(m_client->send("POST", u"/api/channels"_qs, R"({"id": "four", "ladder": ["low:160x90@100"]})").status, 201);
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"four"_qs), u"failed"_qs, 10000);
    QVERIFY2(m_client->channel(u"four"_qs).value(u"reason"_qs).toString().contains(u"four"_qs),
             qPrintable(m_client->channel(u"four"_qs).value(u"reason"_qs).toString()));
    QCOMPARE(m_client->state(u"one"_qs), u"live"_qs);

    // Once the folder is back, the channel recovers.
    QVERIFY(QFile::remove(folder));
    QVERIFY(QDir().rename(folder + u".moved"_qs, folder));
    QTRY_COMPARE_WITH_TIMEOUT(m_client->state(u"three"_qs), u"live"_qs, 20000);
}

void TestRecastApi::damagedChannelsFile()
{
    QTemporaryDir dir;
    QFile f(QDir(dir.path()).filePath(u"channels.json"_qs));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("{\"channels\": [");
    f.close();
    RecastServer server(serverConfig(dir.path(), {}));
    QString error;
    QVERIFY(!server.start(&error));
    QVERIFY2(error.contains(u"channels.json"_qs) && error.contains(u"damaged"_qs), qPrintable(error));
    // A channel in it that does not validate names itself.
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(R"({"channels": [{"id": "x", "preset": "warp"}]})");
    f.close();
    RecastServer again(serverConfig(dir.path(), {}));
    QVERIFY(!again.start(&error));
    QVERIFY2(error.contains(u"channels.json"_qs) && error.contains(u"\"x\""_qs) && error.contains(u"preset"_qs), qPrintable(error));
}

// An IPTV source's URL often carries the provider's credentials or a token: anyone may list the
// channels, only the operator (the admin token, compared in constant time) sees the URL whole.
void TestRecastApi::sourcesShownWholeToTheOperatorOnly()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ChannelConfig c = small(u"paid"_qs);
    c.source = u"http://user:secret@provider.example/live/paid.m3u8?token=abc123"_qs;
    c.udpOut = u"udp://239.1.1.1:5000?pkt_size=1316"_qs;
    c.enabled = false; // nothing plays: only its configuration is listed
    ServerConfig config = serverConfig(dir.path(), {c});
    config.adminToken = u"operator-token"_qs;
    RecastServer server(config);
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    QNetworkAccessManager nam;
    const QUrl url(QStringLiteral("http://127.0.0.1:%1/api/channels/paid").arg(server.port()));
    const QUrl list(QStringLiteral("http://127.0.0.1:%1/api/channels").arg(server.port()));
    const QList<std::pair<QByteArray, QByteArray>> none;
    const QList<std::pair<QByteArray, QByteArray>> wrong{{"Authorization", "Bearer operator-tokeN"}};
    const QList<std::pair<QByteArray, QByteArray>> right{{"Authorization", "Bearer operator-token"}};

    for (const auto &headers : {none, wrong}) {
        const HttpResult r = httpRequest(nam, "GET", url, headers);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json().value(u"source"_qs).toString(), u"http://provider.example/live/paid.m3u8?redacted"_qs);
        QCOMPARE(r.json().value(u"udp_out"_qs).toString(), u"udp://239.1.1.1:5000?redacted"_qs);
        const HttpResult all = httpRequest(nam, "GET", list, headers);
        QVERIFY(!all.body.contains("secret") && !all.body.contains("abc123"));
    }
    const HttpResult whole = httpRequest(nam, "GET", url, right);
    QCOMPARE(whole.status, 200);
    QCOMPARE(whole.json().value(u"source"_qs).toString(), c.source);
    QCOMPARE(whole.json().value(u"udp_out"_qs).toString(), c.udpOut);
    // Changes still need the token, even from this machine.
    QCOMPARE(httpSend(nam, "POST", QUrl(url.toString() + u"/start"_qs), {}, wrong).status, 401);
    // A source that is a file path or a pattern is shown as it is.
    QCOMPARE(iptv::recast::redactedUrl(u"pattern:"_qs), u"pattern:"_qs);
    QCOMPARE(iptv::recast::redactedUrl(u"/srv/media/loop.ts"_qs), u"/srv/media/loop.ts"_qs);
    QCOMPARE(iptv::recast::redactedUrl(u"rtsp://cam.local/stream1"_qs), u"rtsp://cam.local/stream1"_qs);
    server.stop();
}

void TestRecastApi::cleanupTestCase()
{
    m_client.reset();
    m_server.reset();
}

QTEST_GUILESS_MAIN(TestRecastApi)
#include "tst_recastapi.moc"
