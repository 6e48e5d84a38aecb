// ReCast's HLS output on a test-pattern channel with two renditions, in-process: playlists valid
// per RFC 8216 across ~10 s of reloads, EXTINF durations that match the media, keyframes aligned
// across renditions, segments that decode, the master playlist, and sequence numbers that carry on
// (with a discontinuity) across a restart on the same data folder.

#include "recasttest.h"

#include <QDir>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QTemporaryDir>

using namespace recasttest;
using iptv::media::HlsCheck;
using iptv::recast::RecastServer;

namespace {
constexpr int kStartMs = 30000;
const QString kId = u"hls"_qs;
} // namespace

class TestRecastHls : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void masterPlaylist();
    void playlistsAcrossReloads();
    void segmentsMatchTheirPlaylist();
    void blockingReload();
    void restartContinuesSequence();
    void lowLatencyParts();
    void fileSourceLoops();
    void cleanupTestCase();

private:
    bool startServer(QString *error);
    QTemporaryDir m_dir;
    std::unique_ptr<RecastServer> m_server;
    std::unique_ptr<Client> m_client;
    QMap<QString, HlsCheck> m_last; ///< latest playlist per rendition
};

bool TestRecastHls::startServer(QString *error)
{
    m_client.reset();
    m_server = std::make_unique<RecastServer>(serverConfig(m_dir.path(), {tinyChannel(kId)}));
    if (!m_server->start(error))
        return false;
    m_client = std::make_unique<Client>(m_server->port());
    return true;
}

void TestRecastHls::initTestCase()
{
    QVERIFY(m_dir.isValid());
    iptv::media::installFfmpegLogHandler();
    QString error;
    QVERIFY2(startServer(&error), qPrintable(error));
    // Three segments listed in both renditions.
    for (const QString &r : {u"high"_qs, u"low"_qs})
        QTRY_VERIFY_WITH_TIMEOUT(m_client->playlist(kId, r).segments.size() >= 3, kStartMs);
    QCOMPARE(m_client->state(kId), u"live"_qs);
}

void TestRecastHls::masterPlaylist()
{
    const HttpResult r = m_client->get(u"/live/hls/index.m3u8"_qs);
    QCOMPARE(r.status, 200);
    QVERIFY(r.header("Content-Type").contains("mpegurl"));
    const QString text = QString::fromUtf8(r.body);
    QVERIFY2(text.startsWith(u"#EXTM3U"_qs), qPrintable(text));
    const QStringList lines = text.split(u'\n', Qt::SkipEmptyParts);
    struct Variant { QString attributes, uri; };
    QList<Variant> variants;
    for (qsizetype i = 0; i + 1 < lines.size(); ++i)
        if (lines[i].startsWith(u"#EXT-X-STREAM-INF:"_qs))
            variants.append({lines[i], lines[i + 1].trimmed()});
    QCOMPARE(variants.size(), 2);
    const QStringList sizes{u"320x180"_qs, u"160x90"_qs};
    const QStringList uris{u"high/index.m3u8"_qs, u"low/index.m3u8"_qs};
    static const QRegularExpression bandwidth(u"(?:^|[:,])BANDWIDTH=(\\d+)"_qs);
    static const QRegularExpression codecs(u"CODECS=\"(avc1\\.[0-9a-fA-F]{6}),mp4a\\.40\\.2\""_qs);
    for (int i = 0; i < 2; ++i) {
        const QString &a = variants[i].attributes;
        QCOMPARE(variants[i].uri, uris[i]);
        QVERIFY2(a.contains(u"RESOLUTION="_qs + sizes[i]), qPrintable(a));
        const auto bw = bandwidth.match(a);
        QVERIFY2(bw.hasMatch(), qPrintable(a));
        QVERIFY2(bw.captured(1).toLongLong() >= (i == 0 ? 200000 : 100000), qPrintable(a));
        QVERIFY2(codecs.match(a).hasMatch(), qPrintable(a));
        // The variant the master names is served, and no segment exceeds its BANDWIDTH.
        QCOMPARE(m_client->get(u"/live/hls/"_qs + variants[i].uri).status, 200);
        const QString path = u"/live/hls/"_qs + variants[i].uri;
        const qint64 peak = peakSegmentBitrate(*m_client, path, iptv::media::checkMediaPlaylist(m_client->get(path).body));
        QVERIFY2(peak > 0 && bw.captured(1).toLongLong() >= peak,
                 qPrintable(QStringLiteral("%1: BANDWIDTH %2, a segment carries %3 bit/s").arg(a).arg(bw.captured(1)).arg(peak)));
    }
}

void TestRecastHls::playlistsAcrossReloads()
{
    // A client reloading each rendition's playlist for ~10 s, waiting on the server's blocking
    // reload for the next segment (never sleeping).
    QMap<QString, HlsCheck> previous;
    QMap<QString, qint64> firstNext;
    for (const QString &r : {u"high"_qs, u"low"_qs}) {
        previous[r] = m_client->playlist(kId, r);
        QVERIFY2(previous[r].ok, qPrintable(previous[r].problems.join(u"; "_qs)));
        firstNext[r] = previous[r].mediaSequence + previous[r].segments.size();
    }
    QElapsedTimer clock;
    clock.start();
    int reloads = 0;
    while (clock.elapsed() < 10000) {
        for (const QString &r : {u"high"_qs, u"low"_qs}) {
            const HlsCheck &before = previous[r];
            const qint64 next = before.mediaSequence + before.segments.size();
            const HlsCheck now = m_client->playlist(kId, r, QStringLiteral("?_HLS_msn=%1").arg(next));
            QVERIFY2(now.ok, qPrintable(r + u": "_qs + now.problems.join(u"; "_qs)));
            QVERIFY2(now.mediaSequence + now.segments.size() > next, qPrintable(r + u": the blocking reload returned without segment "_qs + QString::number(next)));
            const QStringList problems = iptv::media::checkReload(before, now) + checkTimeline(now);
            QVERIFY2(problems.isEmpty(), qPrintable(r + u": "_qs + problems.join(u"; "_qs)));
            // The live edge is now: the newest segment ends within a few seconds of the clock.
            const auto &newest = now.segments.last();
            const qint64 behindMs = newest.programDateTime.addMSecs(qRound64(newest.duration * 1000)).msecsTo(QDateTime::currentDateTimeUtc());
            QVERIFY2(behindMs > -1000 && behindMs < 5000, qPrintable(QStringLiteral("%1: the newest segment ends %2 ms ago").arg(r).arg(behindMs)));
            QVERIFY(now.targetDuration >= 1);
            for (const auto &s : now.segments)
                QVERIFY2(s.duration <= now.targetDuration + 0.5, qPrintable(r + u": EXTINF above the target duration"_qs));
            previous[r] = now;
            ++reloads;
        }
    }
    for (const QString &r : {u"high"_qs, u"low"_qs}) {
        // About ten one-second segments arrived in ten seconds.
        const qint64 arrived = previous[r].mediaSequence + previous[r].segments.size() - firstNext[r];
        QVERIFY2(arrived >= 7 && arrived <= 13, qPrintable(QStringLiteral("%1: %2 segments in 10 s").arg(r).arg(arrived)));
        QVERIFY(previous[r].segments.size() <= 6); // the window
    }
    qInfo() << reloads << "reloads";
    // Segments that left the window are deleted a while later: the folder does not grow.
    for (const QString &r : {u"high"_qs, u"low"_qs}) {
        const QStringList files = QDir(m_server->channel(kId)->folder() + u'/' + r).entryList({u"seg-*.ts"_qs}, QDir::Files);
        QVERIFY2(files.size() <= 6 + 6 + 1, qPrintable(QStringLiteral("%1 holds %2 segments").arg(r).arg(files.size())));
    }
    m_last = previous;
}

void TestRecastHls::segmentsMatchTheirPlaylist()
{
    // The playlists of both renditions at about the same moment; compare segments listed by both.
    QMap<QString, HlsCheck> lists;
    for (const QString &r : {u"high"_qs, u"low"_qs}) {
        lists[r] = m_client->playlist(kId, r);
        QVERIFY(lists[r].ok);
    }
    const qint64 from = qMax(lists[u"high"_qs].mediaSequence, lists[u"low"_qs].mediaSequence);
    const qint64 to = qMin(lists[u"high"_qs].mediaSequence + lists[u"high"_qs].segments.size(),
                           lists[u"low"_qs].mediaSequence + lists[u"low"_qs].segments.size());
    QVERIFY2(to - from >= 4, "the renditions do not list the same segments");
    int compared = 0;
    for (qint64 msn = from; msn < to; ++msn) {
        QMap<QString, TsProbe> probes;
        for (const QString &r : {u"high"_qs, u"low"_qs}) {
            const auto &segment = lists[r].segments.at(msn - lists[r].mediaSequence);
            const HttpResult body = m_client->get(QStringLiteral("/live/%1/%2/%3").arg(kId, r, segment.uri));
            QVERIFY2(body.status == 200, qPrintable(QStringLiteral("%1/%2: HTTP %3").arg(r, segment.uri).arg(body.status)));
            QVERIFY(body.header("Content-Type").contains("mp2t"));
            const TsProbe probe = probeTs(body.body, true);
            const QString where = QStringLiteral("%1/%2 (msn %3)").arg(r, segment.uri).arg(msn);
            QVERIFY2(probe.error.isEmpty(), qPrintable(where + u": "_qs + probe.error));
            QVERIFY2(probe.decodeErrors.isEmpty(), qPrintable(where + u": "_qs + probe.decodeErrors.join(u"; "_qs)));
            QVERIFY2(probe.videoPackets > 0, qPrintable(where));
            QCOMPARE(probe.videoFrames, probe.videoPackets); // every frame decodes
            QVERIFY2(probe.audioFrames > 0, qPrintable(where + u": no audio"_qs));
            QCOMPARE(probe.width, r == u"high"_qs ? 320 : 160);
            QVERIFY(probe.firstVideo()->keyframe);
            QCOMPARE(probe.frameRate.num * 1.0 / probe.frameRate.den, 25.0);
            // EXTINF is the media's duration, within a frame.
            const double real = probe.videoSeconds();
            QVERIFY2(std::abs(real - segment.duration) <= 0.04 + 0.001,
                     qPrintable(QStringLiteral("%1: EXTINF %2 s, video %3 s").arg(where).arg(segment.duration).arg(real)));
            probes.insert(r, probe);
        }
        // Aligned: both renditions' segment N start with a keyframe at the same time.
        QCOMPARE(probes[u"high"_qs].firstVideo()->pts, probes[u"low"_qs].firstVideo()->pts);
        ++compared;
    }
    qInfo() << compared << "segment pairs compared";
}

void TestRecastHls::blockingReload()
{
    const HlsCheck now = m_client->playlist(kId, u"low"_qs);
    QVERIFY(now.ok);
    const qint64 next = now.mediaSequence + now.segments.size();
    // Far ahead of the live edge: refused at once.
    const HttpResult far = m_client->get(QStringLiteral("/live/%1/low/index.m3u8?_HLS_msn=%2").arg(kId).arg(next + 10));
    QCOMPARE(far.status, 400);
    const HttpResult bad = m_client->get(QStringLiteral("/live/%1/low/index.m3u8?_HLS_msn=x").arg(kId));
    QCOMPARE(bad.status, 400);
    // Already listed: answered without waiting.
    QElapsedTimer clock;
    clock.start();
    const HttpResult listed = m_client->get(QStringLiteral("/live/%1/low/index.m3u8?_HLS_msn=%2").arg(kId).arg(next - 1));
    QCOMPARE(listed.status, 200);
    QVERIFY2(clock.elapsed() < 500, qPrintable(QString::number(clock.elapsed())));
    // Unknown rendition and segment.
    QCOMPARE(m_client->get(QStringLiteral("/live/%1/huge/index.m3u8").arg(kId)).status, 404);
    QCOMPARE(m_client->get(QStringLiteral("/live/%1/low/seg-999999.ts").arg(kId)).status, 404);
}

void TestRecastHls::restartContinuesSequence()
{
    QMap<QString, HlsCheck> before;
    for (const QString &r : {u"high"_qs, u"low"_qs})
        before[r] = m_client->playlist(kId, r);
    m_server->stop();
    // The last segments were finished on stop: the files hold them.
    QString error;
    QVERIFY2(startServer(&error), qPrintable(error));
    for (const QString &r : {u"high"_qs, u"low"_qs}) {
        HlsCheck after;
        QTRY_VERIFY_WITH_TIMEOUT((after = m_client->playlist(kId, r)).segments.size() >= 1, kStartMs);
        QVERIFY2(after.ok, qPrintable(after.problems.join(u"; "_qs)));
        const qint64 lastBefore = before[r].mediaSequence + before[r].segments.size() - 1;
        QVERIFY2(after.mediaSequence >= before[r].mediaSequence,
                 qPrintable(QStringLiteral("%1: media sequence %2 after a restart, was %3").arg(r).arg(after.mediaSequence).arg(before[r].mediaSequence)));
        // The first segment made by the new server starts with a discontinuity.
        qint64 firstNew = -1;
        for (qsizetype i = 0; i < after.segments.size(); ++i) {
            const qint64 msn = after.mediaSequence + i;
            if (msn > lastBefore) {
                firstNew = i;
                break;
            }
        }
        QVERIFY2(firstNew >= 0, qPrintable(r + u": no segment above the old ones"_qs));
        QVERIFY2(after.segments.at(firstNew).discontinuity,
                 qPrintable(r + u": the first segment after the restart has no EXT-X-DISCONTINUITY"_qs));
        QVERIFY(after.discontinuitySequence >= before[r].discontinuitySequence);
        const QStringList problems = iptv::media::checkReload(before[r], after);
        QVERIFY2(problems.isEmpty(), qPrintable(r + u": "_qs + problems.join(u"; "_qs)));
    }
}

void TestRecastHls::lowLatencyParts()
{
    ChannelConfig c = tinyChannel(u"ll"_qs);
    c.ladder = {{u"low"_qs, 160, 90, 100}};
    c.partSeconds = 0.25;
    QString error;
    int status = 0;
    QVERIFY2(m_server->addChannel(c, &error, &status), qPrintable(error));
    auto cleanup = qScopeGuard([&] { m_server->removeChannel(c.id, &error, &status); });
    QTRY_VERIFY_WITH_TIMEOUT(m_client->playlist(c.id, u"low"_qs).segments.size() >= 2, kStartMs);
    HlsCheck last = m_client->playlist(c.id, u"low"_qs);
    QVERIFY2(last.ok, qPrintable(last.problems.join(u"; "_qs)));
    // Whole frames spread evenly over the 1 s segment, never above the configured 0.25 s: five
    // parts of 0.2 s at 25 fps, and PART-TARGET says so (rfc8216bis 4.4.4.9: parts within 85%).
    QCOMPARE(last.partTarget, 0.2);
    QVERIFY(m_client->get(u"/live/ll/low/index.m3u8"_qs).body.contains("CAN-BLOCK-RELOAD=YES"));

    // Ask for the next part each time: the server answers once it is listed.
    QElapsedTimer clock;
    clock.start();
    int parts = 0, independent = 0;
    while (clock.elapsed() < 4000) {
        const qint64 msn = last.mediaSequence + last.segments.size();
        const int part = int(last.partsInProgress.size());
        const HlsCheck now = m_client->playlist(c.id, u"low"_qs, QStringLiteral("?_HLS_msn=%1&_HLS_part=%2").arg(msn).arg(part));
        QVERIFY2(now.ok, qPrintable(now.problems.join(u"; "_qs)));
        const qint64 nowNext = now.mediaSequence + now.segments.size();
        QVERIFY2(nowNext > msn || now.partsInProgress.size() > part,
                 qPrintable(QStringLiteral("answered before part %1.%2 was listed").arg(msn).arg(part)));
        const QStringList problems = iptv::media::checkReload(last, now);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"; "_qs)));
        for (const auto &p : now.partsInProgress) {
            QVERIFY2(p.duration <= last.partTarget + 0.001, qPrintable(QStringLiteral("part %1 lasts %2 s").arg(p.uri).arg(p.duration)));
        }
        if (!now.partsInProgress.isEmpty()) {
            const auto &p = now.partsInProgress.last();
            const HttpResult body = m_client->get(u"/live/ll/low/"_qs + p.uri);
            QVERIFY2(body.status == 200, qPrintable(p.uri));
            const TsProbe probe = probeTs(body.body, false);
            QVERIFY2(probe.error.isEmpty(), qPrintable(p.uri + u": "_qs + probe.error));
            if (p.independent) {
                QVERIFY2(probe.firstVideo() && probe.firstVideo()->keyframe, qPrintable(p.uri + u" is INDEPENDENT without a keyframe"_qs));
                ++independent;
            }
            ++parts;
        }
        last = now;
    }
    QVERIFY2(parts >= 8, qPrintable(QString::number(parts)));
    QVERIFY(independent >= 1);
}

void TestRecastHls::fileSourceLoops()
{
    // A two-second file (two of the pattern channel's segments, one TS stream) played in a loop:
    // the channel goes on past its end on one timeline.
    const HlsCheck low = m_client->playlist(kId, u"low"_qs);
    QVERIFY(low.segments.size() >= 3);
    QByteArray clip;
    for (int i = 1; i <= 2; ++i)
        clip += m_client->get(u"/live/hls/low/"_qs + low.segments.at(low.segments.size() - 1 - i).uri).body;
    const TsProbe clipProbe = probeTs(clip, false);
    QVERIFY2(clipProbe.error.isEmpty(), qPrintable(clipProbe.error));
    const QString path = m_dir.filePath(u"clip.ts"_qs);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(clip);
    f.close();

    ChannelConfig c = tinyChannel(u"file"_qs, path);
    c.ladder = {{u"low"_qs, 160, 90, 100}};
    c.loop = true;
    QString error;
    int status = 0;
    QVERIFY2(m_server->addChannel(c, &error, &status), qPrintable(error));
    auto cleanup = qScopeGuard([&] { m_server->removeChannel(c.id, &error, &status); });
    // Three times the clip's length.
    const int needed = int(std::ceil(3 * clipProbe.videoSeconds())) + 1;
    HlsCheck now;
    QTRY_VERIFY_WITH_TIMEOUT((now = m_client->playlist(c.id, u"low"_qs)).mediaSequence + now.segments.size() >= needed, kStartMs);
    QVERIFY2(now.ok, qPrintable(now.problems.join(u"; "_qs)));
    const QStringList problems = checkTimeline(now);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"; "_qs)));
    QCOMPARE(m_client->state(c.id), u"live"_qs);
    QCOMPARE(m_client->channel(c.id).value(u"stats"_qs).toObject().value(u"reconnects"_qs).toInteger(), 0);
    double seconds = 0;
    for (const auto &s : now.segments) {
        const TsProbe p = probeTs(m_client->get(u"/live/file/low/"_qs + s.uri).body, true);
        QVERIFY2(p.error.isEmpty() && p.decodeErrors.isEmpty(), qPrintable(s.uri + u": "_qs + p.error + p.decodeErrors.join(u"; "_qs)));
        QVERIFY2(std::abs(p.videoSeconds() - s.duration) <= 0.041, qPrintable(s.uri));
        seconds += s.duration;
    }
    qInfo() << "a" << clipProbe.videoSeconds() << "s clip looped into" << seconds << "s listed";
}

void TestRecastHls::cleanupTestCase()
{
    m_client.reset();
    m_server.reset();
}

QTEST_GUILESS_MAIN(TestRecastHls)
#include "tst_recasthls.moc"
