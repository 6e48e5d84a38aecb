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

namespace {

/// ffmpeg writes `seconds` of 1 s segments (a keyframe each second, 160x90 H.264 + AAC) as an
/// HLS VOD, vod.m3u8, into `dir`, with `extra` options (encryption, fMP4).
bool writeVod(const QString &dir, int seconds, const QStringList &extra, const QString &segmentPattern, QString *error)
{
    QProcess ffmpeg;
    ffmpeg.setWorkingDirectory(dir);
    ffmpeg.start(u"ffmpeg"_qs, QStringList{u"-hide_banner"_qs, u"-loglevel"_qs, u"error"_qs, u"-nostdin"_qs, u"-f"_qs, u"lavfi"_qs,
                                           u"-i"_qs, u"testsrc2=size=160x90:rate=25"_qs, u"-f"_qs, u"lavfi"_qs, u"-i"_qs,
                                           u"sine=frequency=440:sample_rate=48000"_qs, u"-t"_qs, QString::number(seconds),
                                           u"-c:v"_qs, u"libx264"_qs, u"-preset"_qs, u"ultrafast"_qs, u"-g"_qs, u"25"_qs,
                                           u"-keyint_min"_qs, u"25"_qs, u"-sc_threshold"_qs, u"0"_qs, u"-pix_fmt"_qs, u"yuv420p"_qs,
                                           u"-c:a"_qs, u"aac"_qs, u"-b:a"_qs, u"48k"_qs, u"-f"_qs, u"hls"_qs, u"-hls_time"_qs, u"1"_qs,
                                           u"-hls_list_size"_qs, u"0"_qs, u"-hls_segment_filename"_qs, segmentPattern}
                     + extra + QStringList{u"vod.m3u8"_qs});
    if (!ffmpeg.waitForFinished(60000) || ffmpeg.exitCode() != 0) {
        *error = u"ffmpeg could not write the test segments: "_qs + QString::fromLocal8Bit(ffmpeg.readAllStandardError());
        return false;
    }
    return true;
}

/// A LiveOrigin answering on a thread of its own (MediaInput's reads block the test's).
class OriginThread
{
public:
    OriginThread(const QString &dir, int window, qint64 baseDateMs) : m_origin(new LiveOrigin(dir, window, baseDateMs)) {}
    ~OriginThread()
    {
        if (m_thread.isRunning())
            QMetaObject::invokeMethod(m_origin, [o = m_origin] { delete o; }, Qt::BlockingQueuedConnection);
        else
            delete m_origin;
        m_thread.quit();
        m_thread.wait();
    }
    bool start(QString *error)
    {
        if (!m_origin->load(error))
            return false;
        m_thread.start();
        m_origin->moveToThread(&m_thread);
        bool listening = false;
        QMetaObject::invokeMethod(m_origin, [&] { listening = m_origin->listen(QHostAddress::LocalHost, 0); },
                                  Qt::BlockingQueuedConnection);
        if (!listening)
            *error = u"the origin cannot listen: "_qs + m_origin->errorString();
        return listening;
    }
    LiveOrigin *operator->() const { return m_origin; }
    QString url(const char *path) const { return u"http://127.0.0.1:%1%2"_qs.arg(m_origin->serverPort()).arg(QLatin1String(path)); }

private:
    QThread m_thread;
    LiveOrigin *m_origin;
};

} // namespace

class TestHlsInput : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void playlistIsReadOncePerReloadAndNoSegmentIsSkipped();
    void keyAndInitSectionAreNoSegments_data();
    void keyAndInitSectionAreNoSegments();
    void skippedSegmentsAreToldAtTheFirstKeyframeAfterThem();

private:
    QTemporaryDir m_dir;
    static constexpr int kSegments = 20;
    static constexpr qint64 kBaseMs = 1'800'000'000'000;
};

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
    QVERIFY2(origin.start(&why), qPrintable(why));
    std::optional<InputSpec> spec = InputSpec::parse(origin.url("/live/index.m3u8"), &why);
    QVERIFY2(spec, qPrintable(why));
    spec->programDates = true;
    MediaInput in;
    MediaError error;
    QVERIFY2(in.open(*spec, &error), qPrintable(error.toString()));
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
    QVERIFY2(origin.start(&why), qPrintable(why));
    std::optional<InputSpec> spec = InputSpec::parse(origin.url("/live/index.m3u8"), &why);
    QVERIFY2(spec, qPrintable(why));
    spec->programDates = true;
    MediaInput in;
    MediaError error;
    QVERIFY2(in.open(*spec, &error), qPrintable(error.toString()));
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
    QString why;
    QVERIFY2(origin.start(&why), qPrintable(why));
    origin->skipAt(4, 2);
    std::optional<InputSpec> spec = InputSpec::parse(origin.url("/live/index.m3u8"), &why);
    QVERIFY2(spec, qPrintable(why));
    spec->programDates = true;
    MediaInput in;
    MediaError error;
    QVERIFY2(in.open(*spec, &error), qPrintable(error.toString()));
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

QTEST_GUILESS_MAIN(TestHlsInput)
#include "tst_hlsinput.moc"
