// diver's playout over HTTP, end to end in one process: recast serves a tiny channel, diver
// archives it, and the test plays the archive back as a player would: the catch-up playlist of a
// range (VOD, read by ffprobe over HTTP), the live-edge playlist (EVENT), segments whole and by
// byte range, scrubbing thumbnails, and the errors for what is not there.

#include "../recast/recasttest.h"

#include <diver/server.h>

#include <dvr/archive.h>

#include <QImage>
#include <QJsonArray>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>

using namespace recasttest;
using iptv::diver::DiverConfig;
using iptv::diver::DiverServer;
using iptv::recast::RecastServer;

class TestDiverServer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void catchUpRange();
    void liveEdge();
    void segmentsAndByteRanges();
    void thumbnails();
    void errors();
    void healthAndMetrics();
    void cleanupTestCase();

private:
    iptv::dvr::ArchiveReader archive() const
    {
        iptv::dvr::ArchiveReader r;
        QString error;
        r.load(m_diver->archiveDirectory(u"one"_qs), &error);
        return r;
    }

    QTemporaryDir m_dir;
    std::unique_ptr<RecastServer> m_recast;
    std::unique_ptr<DiverServer> m_diver;
    std::unique_ptr<Client> m_client;
};

void TestDiverServer::initTestCase()
{
    QVERIFY(m_dir.isValid());
    iptv::media::installFfmpegLogHandler();
    ChannelConfig c = tinyChannel(u"one"_qs);
    c.ladder = {{QStringLiteral("low"), 160, 90, 100}};
    m_recast = std::make_unique<RecastServer>(serverConfig(m_dir.filePath(u"recast"_qs), {c}));
    QString error;
    QVERIFY2(m_recast->start(&error), qPrintable(error));

    DiverConfig config;
    config.bindAddress = QHostAddress::LocalHost;
    config.port = 0;
    config.storage = {m_dir.filePath(u"disk1"_qs), m_dir.filePath(u"disk2"_qs)};
    config.minFreeBytes = 0;
    config.segmentSeconds = 1;
    config.chunkMs = 3000;
    config.channels = {{u"one"_qs, QStringLiteral("http://127.0.0.1:%1/live/one.ts").arg(m_recast->port()), 1}};
    m_diver = std::make_unique<DiverServer>(config);
    QVERIFY2(m_diver->start(&error), qPrintable(error));
    m_client = std::make_unique<Client>(m_diver->port());
    QVERIFY(m_diver->archiveDirectory(u"one"_qs).endsWith(u"/archive/one"_qs));
    QTRY_VERIFY_WITH_TIMEOUT(archive().segments().size() >= 5, 40000);
}

void TestDiverServer::cleanupTestCase()
{
    m_diver.reset();
    m_recast.reset();
}

void TestDiverServer::catchUpRange()
{
    const QList<iptv::dvr::ArchiveSegment> all = archive().segments();
    const qint64 from = all[1].startMs / 1000 + 1; // whole seconds, as in a programme guide
    const qint64 seconds = (all[4].startMs - from * 1000) / 1000;
    QVERIFY(seconds >= 1);
    const QString path = QStringLiteral("/archive/one/archive-%1-%2.m3u8").arg(from).arg(seconds);
    const HttpResult r = m_client->get(path);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Content-Type"), QByteArray("application/vnd.apple.mpegurl"));
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(r.body);
    QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs)));
    QVERIFY(check.ended);
    QVERIFY(r.body.contains("#EXT-X-PLAYLIST-TYPE:VOD"));
    QVERIFY(check.segments.size() >= 3);
    QVERIFY(check.segments.first().programDateTime.toMSecsSinceEpoch() <= from * 1000);

    // ffprobe reads it over HTTP, segments and all (run without blocking: this process serves it).
    QProcess ffprobe;
    QSignalSpy done(&ffprobe, &QProcess::finished);
    ffprobe.start(u"ffprobe"_qs, {u"-v"_qs, u"error"_qs, u"-show_entries"_qs, u"format=duration"_qs, u"-of"_qs,
                                  u"default=nw=1:nk=1"_qs, m_client->url(path).toString()});
    QVERIFY(done.wait(60000));
    const QByteArray err = ffprobe.readAllStandardError();
    QVERIFY2(ffprobe.exitCode() == 0 && err.isEmpty(), err.constData());
    double listed = 0;
    for (const auto &s : check.segments)
        listed += s.duration;
    const double probed = ffprobe.readAllStandardOutput().trimmed().toDouble();
    QVERIFY2(qAbs(probed - listed) < 0.5, qPrintable(QStringLiteral("ffprobe %1 s, listed %2 s").arg(probed).arg(listed)));
}

void TestDiverServer::liveEdge()
{
    const qint64 from = archive().startMs() / 1000;
    const HttpResult first = m_client->get(QStringLiteral("/archive/one/archive-%1-now.m3u8").arg(from));
    QCOMPARE(first.status, 200);
    const iptv::media::HlsCheck a = iptv::media::checkMediaPlaylist(first.body);
    QVERIFY2(a.ok, qPrintable(a.problems.join(u"; "_qs)));
    QVERIFY(!a.ended);
    QVERIFY(first.body.contains("#EXT-X-PLAYLIST-TYPE:EVENT"));
    // It grows as the archive records, and a reload keeps what it listed (RFC 8216 6.2.1).
    QTRY_VERIFY_WITH_TIMEOUT(iptv::media::checkMediaPlaylist(
                                 m_client->get(QStringLiteral("/archive/one/archive-%1-now.m3u8").arg(from)).body)
                                     .segments.size() > a.segments.size(),
                             10000);
    const iptv::media::HlsCheck b
        = iptv::media::checkMediaPlaylist(m_client->get(QStringLiteral("/archive/one/archive-%1-now.m3u8").arg(from)).body);
    const QStringList reload = iptv::media::checkReload(a, b);
    QVERIFY2(reload.isEmpty(), qPrintable(reload.join(u"; "_qs)));
}

void TestDiverServer::segmentsAndByteRanges()
{
    const iptv::dvr::ArchiveSegment s = archive().segments().at(1);
    const QString path = u"/archive/one/"_qs + s.file;
    const HttpResult whole = m_client->get(path);
    QCOMPARE(whole.status, 200);
    QCOMPARE(whole.body.size(), s.bytes);
    QCOMPARE(whole.header("Content-Type"), QByteArray("video/mp2t"));
    QCOMPARE(whole.header("Accept-Ranges"), QByteArray("bytes"));
    QVERIFY(whole.header("Cache-Control").contains("immutable"));
    QVERIFY(probeTs(whole.body, true).videoFrames > 0);

    QNetworkAccessManager nam;
    const HttpResult head = httpRequest(nam, "GET", m_client->url(path), {{"Range", "bytes=0-187"}});
    QCOMPARE(head.status, 206);
    QCOMPARE(head.body, whole.body.left(188));
    QCOMPARE(head.header("Content-Range"), QByteArray("bytes 0-187/") + QByteArray::number(s.bytes));
    const HttpResult tail = httpRequest(nam, "GET", m_client->url(path), {{"Range", "bytes=-376"}});
    QCOMPARE(tail.status, 206);
    QCOMPARE(tail.body, whole.body.right(376));
    const HttpResult middle = httpRequest(nam, "GET", m_client->url(path), {{"Range", "bytes=188-"}});
    QCOMPARE(middle.status, 206);
    QCOMPARE(middle.body, whole.body.mid(188));
    const HttpResult beyond = httpRequest(nam, "GET", m_client->url(path), {{"Range", "bytes=999999999-"}});
    QCOMPARE(beyond.status, 416);
    QCOMPARE(beyond.header("Content-Range"), QByteArray("bytes */") + QByteArray::number(s.bytes));
}

void TestDiverServer::thumbnails()
{
    const iptv::dvr::ArchiveReader reader = archive();
    const QString path = QStringLiteral("/archive/one/thumbnails-%1-%2.vtt").arg(reader.startMs() / 1000).arg(60);
    const HttpResult r = m_client->get(path);
    QCOMPARE(r.status, 200);
    QVERIFY(r.body.startsWith("WEBVTT\n"));
    const QList<QByteArray> lines = r.body.split('\n');
    QByteArray image;
    for (const QByteArray &l : lines)
        if (l.endsWith(".jpg"))
            image = l;
    QVERIFY2(!image.isEmpty(), r.body.constData());
    const HttpResult jpeg = m_client->get(u"/archive/one/"_qs + QString::fromUtf8(image));
    QCOMPARE(jpeg.status, 200);
    QCOMPARE(jpeg.header("Content-Type"), QByteArray("image/jpeg"));
    QImage decoded;
    QVERIFY(decoded.loadFromData(jpeg.body, "JPEG"));
    QCOMPARE(decoded.width(), 160);
}

void TestDiverServer::errors()
{
    QCOMPARE(m_client->get(u"/archive/nope/archive-1-60.m3u8"_qs).status, 404);
    QCOMPARE(m_client->get(u"/archive/one/index.m3u8"_qs).status, 404);
    QCOMPARE(m_client->get(u"/archive/one/archive-1-0.m3u8"_qs).status, 404);
    const HttpResult before = m_client->get(u"/archive/one/archive-1000000000-60.m3u8"_qs); // 2001: not recorded
    QCOMPARE(before.status, 404);
    QCOMPARE(before.json().value(u"error"_qs).toString(), u"not_recorded"_qs);
    QVERIFY2(before.json().value(u"detail"_qs).toString().contains(u"holds"_qs), before.body.constData());
    QCOMPARE(m_client->get(u"/archive/one/20261206T000000Z/seg-1.ts"_qs).status, 404);
    QCOMPARE(m_client->get(u"/archive/one/20261206T000000Z/index.tsv"_qs).status, 404); // not a served file
    QCOMPARE(m_client->get(u"/archive/one/..%2F..%2Fetc/passwd"_qs).status, 404);
}

void TestDiverServer::healthAndMetrics()
{
    const HttpResult health = m_client->get(u"/healthz"_qs);
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json().value(u"status"_qs).toString(), u"ok"_qs);
    const HttpResult archives = m_client->get(u"/api/archives"_qs);
    QCOMPARE(archives.status, 200);
    const QJsonObject one = archives.json().value(u"archives"_qs).toArray().at(0).toObject();
    QCOMPARE(one.value(u"state"_qs).toString(), u"Recording"_qs);
    QVERIFY(one.value(u"segments"_qs).toInt() >= 5);
    QCOMPARE(one.value(u"segments_lost"_qs).toInt(), 0);
    const HttpResult metrics = m_client->get(u"/metrics"_qs);
    QCOMPARE(metrics.status, 200);
    QVERIFY2(metrics.body.contains("diver_archive_up{channel=\"one\"} 1"), metrics.body.constData());
}

QTEST_GUILESS_MAIN(TestDiverServer)
#include "tst_diverserver.moc"
