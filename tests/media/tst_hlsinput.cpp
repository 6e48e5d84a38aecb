// MediaInput reading a live HLS source over HTTP with its program dates (what a recorder does):
// what it asks of the server, and that it keeps up with a playlist that moves on.

#include <media/input.h>

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QHostAddress>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "liveorigin.h"

using namespace iptv::media;

class TestHlsInput : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void playlistIsReadOncePerReloadAndNoSegmentIsSkipped();
    void keyAndInitSectionAreNoSegments_data();
    void keyAndInitSectionAreNoSegments();
    void skippedSegmentsAreToldAtTheFirstKeyframeAfterThem();
    void stalledPlaylistIsNoDataForTheReadTimeout();
    void liveEdgeIsNoStall();

private:
    QTemporaryDir m_dir;
    static constexpr int kSegments = 20;
    static constexpr qint64 kBaseMs = 1'800'000'000'000;
};

/// Starts `origin` and opens `in` on its master playlist, with program dates read through the
/// hook (InputSpec::programDates); `readTimeoutMs` 0: the default. False with *why.
static bool openLive(OriginThread &origin, MediaInput &in, QString *why, int readTimeoutMs = 0)
{
    if (!origin.start(why))
        return false;
    std::optional<InputSpec> spec = InputSpec::parse(origin.url("/live/index.m3u8"), why);
    if (!spec)
        return false;
    spec->programDates = true;
    if (readTimeoutMs > 0)
        spec->readTimeoutMs = readTimeoutMs;
    MediaError error;
    if (!in.open(*spec, &error)) {
        *why = error.toString();
        return false;
    }
    return true;
}

void TestHlsInput::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QString error;
    QVERIFY2(writeVod(m_dir.path(), kSegments, {}, u"src-%d.ts"_qs, &error), qPrintable(error));
    QVERIFY(QFile::exists(m_dir.filePath(u"src-%1.ts"_qs.arg(kSegments - 1))));
}

void TestHlsInput::playlistIsReadOncePerReloadAndNoSegmentIsSkipped()
{
    // The media playlist lists one segment and moves on at every request: a reading of it that
    // the demuxer does not parse (the recorder's own, for a segment's date) takes the next
    // segment away before it is read, and the date lookup then misses the segment it was for.
    // (The source is the master playlist: a connection's first media playlist is then read
    // through the hook too. Given a media playlist, the demuxer reads the first one itself and
    // the first date lookup reads it once more.)
    OriginThread origin(m_dir.path(), 1, kBaseMs);
    QString why;
    MediaInput in;
    QVERIFY2(openLive(origin, in, &why), qPrintable(why));
    MediaError error;
    Packet packet = makePacket();
    QElapsedTimer clock;
    clock.start();
    constexpr int kWanted = 8;
    while (in.hlsCounters().segmentRequests < kWanted && clock.elapsed() < 60000) {
        const MediaInput::Read r = in.read(packet.get(), &error);
        QVERIFY2(r == MediaInput::Read::Packet, qPrintable(error.toString()));
        QCOMPARE(in.takeSkippedSegments(), quint64(0));
    }
    const MediaInput::HlsCounters counters = in.hlsCounters();
    QCOMPARE(counters.segmentRequests, quint64(kWanted));
    const int playlists = origin->playlistRequests();
    const int media = origin->mediaPlaylistRequests();
    const int segments = origin->segmentRequests();
    qInfo() << "origin:" << playlists << "playlist requests (" << media << "of the media playlist)," << segments
            << "segment requests; skipped" << counters.segmentsSkipped;
    QCOMPARE(quint64(segments), counters.segmentRequests);
    QCOMPARE(quint64(playlists), counters.playlistRequests);
    // One reading a segment (the last may have been reloaded for the next).
    QVERIFY2(media <= segments + 1, "the playlist was read more often than the demuxer reloaded it");
    QCOMPARE(counters.segmentsSkipped, quint64(0));
    // The dates still come from the playlist the demuxer parsed.
    QVERIFY(in.programDate());
    QCOMPARE(in.programDate()->wallMs, origin->dateOf(0));
}

void TestHlsInput::keyAndInitSectionAreNoSegments_data()
{
    QTest::addColumn<QStringList>("options");
    QTest::addColumn<QString>("segments");
    QTest::addColumn<QString>("resource");
    // ffmpeg's key info file (written by the test): the key's URI, its file.
    QTest::newRow("AES-128 key") << QStringList{u"-hls_key_info_file"_qs, u"key.info"_qs} << u"enc-%d.ts"_qs << u"key.bin"_qs;
    QTest::newRow("fMP4 init section") << QStringList{u"-hls_segment_type"_qs, u"fmp4"_qs, u"-hls_fmp4_init_filename"_qs, u"init.mp4"_qs}
                                       << u"frag-%d.m4s"_qs << u"init.mp4"_qs;
}

// The demuxer fetches an AES-128 key (EXT-X-KEY) and an fMP4 init section (EXT-X-MAP) through
// the same hook as the segments. Counted as a segment, either was taken for the first segment
// opened: its date lookup found no EXTINF, so no segment of the connection was dated, and the
// lookup read the playlist once more.
void TestHlsInput::keyAndInitSectionAreNoSegments()
{
    QFETCH(QStringList, options);
    QFETCH(QString, segments);
    QFETCH(QString, resource);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QFile key(dir.filePath(u"key.bin"_qs)), info(dir.filePath(u"key.info"_qs));
    QVERIFY(key.open(QIODevice::WriteOnly) && key.write("0123456789abcdef") == 16);
    key.close();
    QVERIFY(info.open(QIODevice::WriteOnly) && info.write("key.bin\n" + QFile::encodeName(key.fileName()) + '\n') > 0);
    info.close();
    constexpr int kVodSegments = 8;
    QString why;
    QVERIFY2(writeVod(dir.path(), kVodSegments, options, segments, &why), qPrintable(why));
    QFile vod(dir.filePath(u"vod.m3u8"_qs));
    QVERIFY(vod.open(QIODevice::ReadOnly));
    QVERIFY2(vod.readAll().contains(QByteArray("URI=\"" + resource.toUtf8() + '"')), "ffmpeg's playlist does not name the key or init section");

    OriginThread origin(dir.path(), 3, kBaseMs);
    MediaInput in;
    QVERIFY2(openLive(origin, in, &why), qPrintable(why));
    MediaError error;
    Packet packet = makePacket();
    QList<qint64> dates; // of the segments read, as the input tells them
    QElapsedTimer clock;
    clock.start();
    while (origin->segmentRequests() < 6 && clock.elapsed() < 60000) {
        const MediaInput::Read r = in.read(packet.get(), &error);
        QVERIFY2(r == MediaInput::Read::Packet, qPrintable(error.toString()));
        if (const auto date = in.takeSegmentDate())
            dates << date->wallMs;
    }
    const MediaInput::HlsCounters counters = in.hlsCounters();
    qInfo() << "origin:" << origin->segmentRequests() << "segment requests," << origin->resourceRequests() << "for" << resource
            << "," << origin->mediaPlaylistRequests() << "of the media playlist; dates read" << dates;
    QVERIFY(origin->resourceRequests() >= 1);
    QCOMPARE(counters.segmentRequests, quint64(origin->segmentRequests()));
    QCOMPARE(counters.playlistRequests, quint64(origin->playlistRequests()));
    QCOMPARE(counters.segmentsSkipped, quint64(0));
    // Every segment read is dated, from the first the demuxer opened on.
    const QList<int> served = origin->served();
    QVERIFY(in.programDate());
    QCOMPARE(in.programDate()->wallMs, origin->dateOf(served.first()));
    QVERIFY2(dates.size() >= 3, "the segments after the first were not dated");
    for (qsizetype i = 0; i < dates.size(); ++i)
        QCOMPARE(dates[i], origin->dateOf(served[i]));
}

// The playlist moves on past a segment before the demuxer read it (a source that dropped it, or
// a reader that fell behind its window): counted, and told with the first keyframe after the
// hole, once, for the recorder to mark a gap there.
void TestHlsInput::skippedSegmentsAreToldAtTheFirstKeyframeAfterThem()
{
    OriginThread origin(m_dir.path(), 1, kBaseMs);
    origin->skipAt(4, 2);
    QString why;
    MediaInput in;
    QVERIFY2(openLive(origin, in, &why), qPrintable(why));
    MediaError error;
    Packet packet = makePacket();
    QList<qint64> toldAtMs; // the media time (ms) of each packet that told of skipped segments
    quint64 told = 0;
    std::optional<qint64> firstKeyMs, lastKeyBeforeMs;
    QElapsedTimer clock;
    clock.start();
    while (origin->segmentRequests() < 9 && clock.elapsed() < 60000) {
        const MediaInput::Read r = in.read(packet.get(), &error);
        QVERIFY2(r == MediaInput::Read::Packet, qPrintable(error.toString()));
        const bool key = packet->stream_index == in.videoStream() && (packet->flags & AV_PKT_FLAG_KEY);
        const qint64 ms = av_rescale_q(packet->pts, in.context()->streams[packet->stream_index]->time_base, AVRational{1, 1000});
        if (const quint64 n = in.takeSkippedSegments()) {
            QVERIFY2(key, "told at a packet that is not a video keyframe");
            told += n;
            toldAtMs << ms;
        } else if (key && toldAtMs.isEmpty()) {
            firstKeyMs = firstKeyMs.value_or(ms);
            lastKeyBeforeMs = ms;
        }
    }
    const QList<int> served = origin->served();
    qInfo() << "segments served" << served << "; told of" << told << "skipped at" << toldAtMs << "ms";
    QCOMPARE(in.hlsCounters().segmentsSkipped, quint64(2));
    QCOMPARE(told, quint64(2));
    QCOMPARE(toldAtMs.size(), 1);
    // Told at the first keyframe of the segment after the hole: the media's time moved on by the
    // two segments never read, one keyframe (1 s) a segment.
    const qsizetype before = served.indexOf(3);
    QVERIFY(before >= 0 && before + 1 < served.size());
    QCOMPARE(served[before + 1], 6);
    QVERIFY(firstKeyMs && lastKeyBeforeMs);
    QCOMPARE(toldAtMs.first() - *firstKeyMs, origin->dateOf(6) - origin->dateOf(served.first()));
}

// The playlist stops moving on (a headend that stalls: recast looping its input file stalled its
// HLS output 4 s, and more under load): the read ends after the read timeout, said as such.
// Before, the demuxer's interrupted wait could surface on a later read, after the deadline was
// armed again, as "Immediate exit requested": a stall that did not say it was one.
void TestHlsInput::stalledPlaylistIsNoDataForTheReadTimeout()
{
    OriginThread origin(m_dir.path(), 3, kBaseMs);
    QString why;
    MediaInput in;
    QVERIFY2(openLive(origin, in, &why, 700), qPrintable(why));
    MediaError error;
    Packet packet = makePacket();
    QElapsedTimer clock;
    clock.start();
    MediaInput::Read r = MediaInput::Read::Packet;
    // The origin's playlist stops at its last segment (the VOD's end): then nothing more comes.
    while ((r = in.read(packet.get(), &error)) == MediaInput::Read::Packet && clock.elapsed() < 90000) {
    }
    qInfo() << "read ended after" << clock.elapsed() << "ms:" << error.toString();
    QCOMPARE(r, MediaInput::Read::Error); // not the end of the stream: the demuxer's end past the deadline is a stall
    QCOMPARE(in.readTimeoutMs(), 3000); // three of the playlist's target durations (1 s), above 0.7 s
    QCOMPARE(error.reason, u"no data for 3 s"_qs);
}

void TestHlsInput::liveEdgeIsNoStall()
{
    // A live origin lists a new 1 s segment every second: at its live edge the demuxer waits
    // about a second for each, with no data. A read deadline shorter than that (0.7 s here; the
    // recorder's 5 s against a headend's 6 or 10 s segments) called every such wait a stall,
    // and the recording reconnected at every segment. The deadline is three target durations.
    OriginThread origin(m_dir.path(), 3, kBaseMs);
    origin->advanceEvery(1000);
    QString why;
    MediaInput in;
    QVERIFY2(openLive(origin, in, &why, 700), qPrintable(why));
    MediaError error;
    Packet packet = makePacket();
    QElapsedTimer clock;
    clock.start();
    qint64 longestWaitMs = 0;
    // The window's three, then three more each listed a second after the one before.
    while (in.hlsCounters().segmentRequests < 6) {
        QVERIFY2(clock.elapsed() < 60000, "six segments take far less than a minute");
        QElapsedTimer wait;
        wait.start();
        const MediaInput::Read r = in.read(packet.get(), &error);
        QVERIFY2(r == MediaInput::Read::Packet, qPrintable(error.toString()));
        longestWaitMs = std::max(longestWaitMs, wait.elapsed());
    }
    qInfo() << "six segments in" << clock.elapsed() << "ms; the longest wait for a packet" << longestWaitMs << "ms";
    QVERIFY2(longestWaitMs > 700, "the reader never waited at the live edge: the test shows nothing");
    QCOMPARE(in.readTimeoutMs(), 3000);
}

QTEST_GUILESS_MAIN(TestHlsInput)
#include "tst_hlsinput.moc"
