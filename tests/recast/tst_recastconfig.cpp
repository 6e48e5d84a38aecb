// ReCast's channel configuration: ChannelConfig::fromJson/validate (what the API accepts) and the
// INI loader (what the config file accepts), with errors that name the channel and the key.

#include <channelconfig.h>
#include <config.h>

#include <media/input.h>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::recast;

namespace {

ChannelConfig base()
{
    ChannelConfig c;
    c.ladder = defaultLadder();
    return c;
}

QJsonObject json(const char *text)
{
    return QJsonDocument::fromJson(QByteArray(text)).object();
}

} // namespace

class TestRecastConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void renditionParse_data();
    void renditionParse();
    void fromJsonGood();
    void fromJsonMergesIntoBase();
    void fromJsonBad_data();
    void fromJsonBad();
    void jsonRoundTrip();
    void iniLoads();
    void iniBad_data();
    void iniBad();
    void iniRelativeFileSource();
};

void TestRecastConfig::renditionParse_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("roundTrip");
    QTest::newRow("plain") << u"720p:1280x720@2500"_qs << true << u"720p:1280x720@2500"_qs;
    QTest::newRow("k suffix, spaces") << u" low:160x90@100k "_qs << true << u"low:160x90@100"_qs;
    QTest::newRow("no bitrate") << u"720p:1280x720"_qs << false << QString();
    QTest::newRow("odd width") << u"x:161x90@100"_qs << false << QString();
    QTest::newRow("too small") << u"x:8x8@100"_qs << false << QString();
    QTest::newRow("bitrate too low") << u"x:160x90@10"_qs << false << QString();
    QTest::newRow("no name") << u"1280x720@2500"_qs << false << QString();
}

void TestRecastConfig::renditionParse()
{
    QFETCH(QString, text);
    QFETCH(bool, ok);
    QFETCH(QString, roundTrip);
    QString error;
    const auto r = Rendition::parse(text, &error);
    QCOMPARE(r.has_value(), ok);
    if (ok)
        QCOMPARE(r->toString(), roundTrip);
    else
        QVERIFY2(error.contains(text.trimmed()), qPrintable(error));
}

void TestRecastConfig::fromJsonGood()
{
    QString error;
    const auto c = ChannelConfig::fromJson(json(R"({"id": "news", "name": "News 24", "number": 3, "group": "News",
        "ladder": ["720p:1280x720@2500", "360p:640x360@800"], "fps": 25, "preset": "ultrafast",
        "segment_seconds": 2, "gop_seconds": 1, "part_seconds": 0.5, "pace": false})"), base(), &error);
    QVERIFY2(c, qPrintable(error));
    QCOMPARE(c->id, u"news"_qs);
    QCOMPARE(c->number, 3);
    QCOMPARE(c->ladder.size(), 2);
    QCOMPARE(c->ladder.at(1).height, 360);
    QCOMPARE(c->partSeconds, 0.5);
    QVERIFY(!c->pace);
    QVERIFY(!c->passthrough);

    const auto copy = ChannelConfig::fromJson(json(R"({"id": "relay", "source": "udp://127.0.0.1:5000", "ladder": "copy"})"),
                                              base(), &error);
    QVERIFY2(copy, qPrintable(error));
    QVERIFY(copy->passthrough);
    QVERIFY(copy->ladder.isEmpty());
    QCOMPARE(copy->name, u"relay"_qs); // the id when no name is given
}

void TestRecastConfig::fromJsonMergesIntoBase()
{
    ChannelConfig b = base();
    b.id = u"a"_qs;
    b.name = u"A"_qs;
    b.fps = 30;
    b.segmentSeconds = 3;
    b.gopSeconds = 1.5;
    QString error;
    const auto c = ChannelConfig::fromJson(json(R"({"name": "A2"})"), b, &error);
    QVERIFY2(c, qPrintable(error));
    QCOMPARE(c->name, u"A2"_qs);
    QCOMPARE(c->fps, 30);
    QCOMPARE(c->segmentSeconds, 3.0);
    QCOMPARE(c->ladder.size(), 2);
}

void TestRecastConfig::fromJsonBad_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QStringList>("mentions"); // words the error must contain
    QTest::newRow("bad id") << QByteArray(R"({"id": "Bad Id"})") << QStringList{u"Bad Id"_qs, u"id"_qs};
    QTest::newRow("no id") << QByteArray(R"({"name": "x"})") << QStringList{u"id"_qs};
    QTest::newRow("bad ladder entry") << QByteArray(R"({"id": "a", "ladder": ["720p:1280x720"]})")
                                      << QStringList{u"ladder"_qs, u"720p:1280x720"_qs};
    QTest::newRow("ladder not a list") << QByteArray(R"({"id": "a", "ladder": 5})") << QStringList{u"ladder"_qs};
    QTest::newRow("empty ladder") << QByteArray(R"({"id": "a", "ladder": []})") << QStringList{u"\"a\""_qs, u"ladder"_qs};
    QTest::newRow("duplicate rendition")
        << QByteArray(R"({"id": "a", "ladder": ["x:320x180@200", "x:160x90@100"]})") << QStringList{u"\"a\""_qs, u"\"x\""_qs};
    QTest::newRow("gop does not divide segment")
        << QByteArray(R"({"id": "a", "segment_seconds": 2, "gop_seconds": 0.75})") << QStringList{u"\"a\""_qs, u"gop_seconds"_qs, u"segment_seconds"_qs};
    QTest::newRow("gop longer than segment")
        << QByteArray(R"({"id": "a", "segment_seconds": 1, "gop_seconds": 2})") << QStringList{u"\"a\""_qs, u"gop_seconds"_qs};
    QTest::newRow("bad preset") << QByteArray(R"({"id": "a", "preset": "warp"})") << QStringList{u"\"a\""_qs, u"preset"_qs, u"warp"_qs};
    QTest::newRow("fps a string") << QByteArray(R"({"id": "a", "fps": "25"})") << QStringList{u"fps"_qs};
    QTest::newRow("fps fractional") << QByteArray(R"({"id": "a", "fps": 25.5})") << QStringList{u"fps"_qs};
    QTest::newRow("fps too high") << QByteArray(R"({"id": "a", "fps": 500})") << QStringList{u"\"a\""_qs, u"fps"_qs};
    QTest::newRow("part too long") << QByteArray(R"({"id": "a", "segment_seconds": 2, "gop_seconds": 1, "part_seconds": 1.5})")
                                   << QStringList{u"\"a\""_qs, u"part_seconds"_qs};
    QTest::newRow("output backlog too small") << QByteArray(R"({"id": "a", "output_backlog_kib": 64})")
                                              << QStringList{u"\"a\""_qs, u"output_backlog_kib"_qs, u"256"_qs};
    QTest::newRow("window too small") << QByteArray(R"({"id": "a", "window": 1})") << QStringList{u"\"a\""_qs, u"window"_qs};
    QTest::newRow("udp_out not udp") << QByteArray(R"({"id": "a", "udp_out": "http://x"})") << QStringList{u"\"a\""_qs, u"udp_out"_qs};
    QTest::newRow("loop not a bool") << QByteArray(R"({"id": "a", "loop": "yes"})") << QStringList{u"loop"_qs};
    QTest::newRow("source not a source") << QByteArray(R"({"id": "a", "source": "gopher://x"})")
                                         << QStringList{u"\"a\""_qs, u"source"_qs, u"gopher://x"_qs};
    QTest::newRow("source empty") << QByteArray(R"({"id": "a", "source": " "})") << QStringList{u"\"a\""_qs, u"source"_qs};
}

void TestRecastConfig::fromJsonBad()
{
    QFETCH(QByteArray, body);
    QFETCH(QStringList, mentions);
    QString error;
    const auto c = ChannelConfig::fromJson(QJsonDocument::fromJson(body).object(), base(), &error);
    QVERIFY2(!c, qPrintable(u"accepted: "_qs + QString::fromUtf8(body)));
    for (const QString &m : mentions)
        QVERIFY2(error.contains(m), qPrintable(u"\""_qs + error + u"\" does not mention "_qs + m));
}

void TestRecastConfig::jsonRoundTrip()
{
    QString error;
    const auto c = ChannelConfig::fromJson(json(R"({"id": "rt", "name": "Round Trip", "tvg_id": "rt.tv", "number": 7,
        "ladder": ["high:320x180@200", "low:160x90@100"], "udp_out": "udp://127.0.0.1:5000", "tone_hz": 0})"), base(), &error);
    QVERIFY2(c, qPrintable(error));
    const auto again = ChannelConfig::fromJson(c->toJson(), ChannelConfig(), &error);
    QVERIFY2(again, qPrintable(error));
    QCOMPARE(again->toJson(), c->toJson());
}

namespace {

QString writeIni(const QTemporaryDir &dir, const QByteArray &text)
{
    const QString path = dir.filePath(u"recast.conf"_qs);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return {};
    f.write(text);
    return path;
}

} // namespace

void TestRecastConfig::iniLoads()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = writeIni(dir, R"(
[server]
port=18555
data_dir=state
output_backlog_total_mib=64
channel_thread_nice=3
start_concurrency=4

[defaults]
ladder=high:320x180@200,low:160x90@100
fps=25
preset=ultrafast
segment_seconds=1
gop_seconds=0.5

[channel.b]
name=Bee
number=2
group=News

[channel.a]
name=Ay
number=1
tvg_id=a.tv
ladder=copy
source=udp://127.0.0.1:5000
pace=false
output_backlog_kib=1024
)");
    ServerConfig config;
    QString error;
    QVERIFY2(loadConfigFile(path, &config, &error), qPrintable(error));
    QCOMPARE(config.port, quint16(18555));
    QCOMPARE(config.outputBacklogTotalBytes, 64LL * 1024 * 1024);
    QCOMPARE(config.channelThreadNice, 3);
    QCOMPARE(ServerConfig().outputBacklogTotalBytes, 256LL * 1024 * 1024); // the defaults
    QCOMPARE(ServerConfig().channelThreadNice, 0);
    QCOMPARE(config.startConcurrency, 4);
    QCOMPARE(ServerConfig().startConcurrency, 16);
    QCOMPARE(config.dataDir, QDir(dir.path()).filePath(u"state"_qs));
    QCOMPARE(config.channels.size(), 2);
    // Sorted by number.
    QCOMPARE(config.channels.at(0).id, u"a"_qs);
    QVERIFY(config.channels.at(0).passthrough);
    QVERIFY(!config.channels.at(0).pace);
    QCOMPARE(config.channels.at(0).outputBacklogKib, 1024);
    QCOMPARE(config.channels.at(1).outputBacklogKib, 8192); // the default
    QCOMPARE(config.channels.at(0).tvgId, u"a.tv"_qs);
    const ChannelConfig &b = config.channels.at(1);
    QCOMPARE(b.name, u"Bee"_qs);
    QCOMPARE(b.group, u"News"_qs);
    QCOMPARE(b.ladder.size(), 2); // from [defaults]
    QCOMPARE(b.preset, u"ultrafast"_qs);
    QCOMPARE(b.gopSeconds, 0.5);
}

void TestRecastConfig::iniBad_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QStringList>("mentions");
    QTest::newRow("bad ladder") << QByteArray("[channel.a]\nladder=720p:1280x720,360p:640x360@800\n")
                                << QStringList{u"channel.a"_qs, u"ladder"_qs, u"720p:1280x720"_qs};
    QTest::newRow("gop does not divide the segment") << QByteArray("[channel.a]\nsegment_seconds=2\ngop_seconds=0.75\n")
                                                     << QStringList{u"channel.a"_qs, u"gop_seconds"_qs};
    QTest::newRow("unknown key") << QByteArray("[channel.a]\nname=A\ncolour=blue\n")
                                 << QStringList{u"channel.a"_qs, u"colour"_qs, u"unknown"_qs};
    QTest::newRow("bad preset") << QByteArray("[channel.a]\npreset=ludicrous\n")
                                << QStringList{u"channel.a"_qs, u"preset"_qs, u"ludicrous"_qs};
    QTest::newRow("number not a number") << QByteArray("[channel.a]\nfps=fast\n") << QStringList{u"channel.a"_qs, u"fps"_qs, u"fast"_qs};
    QTest::newRow("bool not a bool") << QByteArray("[channel.a]\nloop=maybe\n") << QStringList{u"channel.a"_qs, u"loop"_qs, u"maybe"_qs};
    QTest::newRow("bad id") << QByteArray("[channel.Big]\nname=x\n") << QStringList{u"channel.Big"_qs, u"id"_qs};
    QTest::newRow("bad default") << QByteArray("[defaults]\npreset=nope\n[channel.a]\n") << QStringList{u"defaults"_qs, u"preset"_qs};
    QTest::newRow("unknown default key") << QByteArray("[defaults]\nspeed=9\n") << QStringList{u"defaults"_qs, u"speed"_qs};
    QTest::newRow("bad port") << QByteArray("[server]\nport=99999\n") << QStringList{u"port"_qs};
    QTest::newRow("no output backlog at all") << QByteArray("[server]\noutput_backlog_total_mib=0\n")
                                              << QStringList{u"output_backlog_total_mib"_qs, u"0"_qs};
    QTest::newRow("nicer than nice gets") << QByteArray("[server]\nchannel_thread_nice=20\n")
                                          << QStringList{u"channel_thread_nice"_qs, u"20"_qs};
    QTest::newRow("no channel may start") << QByteArray("[server]\nstart_concurrency=0\n")
                                          << QStringList{u"start_concurrency"_qs, u"0"_qs};
    // A typo must not make a channel or a setting disappear without a word.
    QTest::newRow("unknown server key") << QByteArray("[server]\nprot=8440\n") << QStringList{u"server"_qs, u"prot"_qs};
    QTest::newRow("unknown section") << QByteArray("[chanel.a]\nname=A\n") << QStringList{u"chanel.a"_qs, u"section"_qs};
    QTest::newRow("key outside a section") << QByteArray("port=8440\n[channel.a]\n") << QStringList{u"port"_qs};
}

void TestRecastConfig::iniBad()
{
    QFETCH(QByteArray, text);
    QFETCH(QStringList, mentions);
    QTemporaryDir dir;
    const QString path = writeIni(dir, text);
    ServerConfig config;
    QString error;
    QVERIFY2(!loadConfigFile(path, &config, &error), "accepted");
    for (const QString &m : mentions)
        QVERIFY2(error.contains(m), qPrintable(u"\""_qs + error + u"\" does not mention "_qs + m));
}

void TestRecastConfig::iniRelativeFileSource()
{
    QTemporaryDir dir;
    QVERIFY(QDir(dir.path()).mkpath(u"clips"_qs));
    const QString path = writeIni(dir, R"(
[defaults]
ladder=low:160x90@100
[channel.plain]
source=clips/loop.ts
[channel.prefixed]
source=file:clips/other.ts
[channel.absolute]
source=/srv/media/a.ts
[channel.url]
source=udp://127.0.0.1:5000
[channel.pattern]
source=pattern:
)");
    ServerConfig config;
    QString error;
    QVERIFY2(loadConfigFile(path, &config, &error), qPrintable(error));
    QMap<QString, QString> sources;
    for (const ChannelConfig &c : std::as_const(config.channels))
        sources.insert(c.id, c.source);
    const QString clips = QDir(dir.path()).filePath(u"clips"_qs);
    QCOMPARE(sources.value(u"plain"_qs), clips + u"/loop.ts"_qs);
    QCOMPARE(sources.value(u"prefixed"_qs), clips + u"/other.ts"_qs);
    QCOMPARE(sources.value(u"absolute"_qs), u"/srv/media/a.ts"_qs);
    QCOMPARE(sources.value(u"url"_qs), u"udp://127.0.0.1:5000"_qs);
    QCOMPARE(sources.value(u"pattern"_qs), u"pattern:"_qs);
    // The resolved source is one the pipeline reads as a file.
    QString parseError;
    const auto spec = iptv::media::InputSpec::parse(sources.value(u"plain"_qs), &parseError);
    QVERIFY2(spec, qPrintable(parseError));
    QCOMPARE(spec->kind, iptv::media::InputSpec::Kind::File);
}

QTEST_GUILESS_MAIN(TestRecastConfig)
#include "tst_recastconfig.moc"
