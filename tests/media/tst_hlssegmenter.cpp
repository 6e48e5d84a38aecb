// HlsSegmenter across source breaks (restart(), as pass-through calls it after a reconnect):
// EXT-X-DISCONTINUITY lands on the first segment after every break (RFC 8216 4.3.2.3), also when
// the source was lost again before a segment of it was listed (the breaks collapse into one tag),
// and EXT-X-DISCONTINUITY-SEQUENCE counts every tag that left the window. Fed synthetic H.264
// and MP2 packets on a microsecond timeline that continues across each break, as the pipeline does.

#include <media/hlsplaylist.h>
#include <media/hlssegmenter.h>

#include <QFile>
#include <QMap>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

extern "C" {
#include <libavutil/channel_layout.h>
}

using namespace iptv::media;

namespace {

constexpr qint64 kFrameUs = 50'000; ///< 20 fps
constexpr int kGopFrames = 10;       ///< a keyframe every 0.5 s; segments of 1 s
constexpr qint64 kAudioUs = 24'000;  ///< an MP2 frame of 1152 samples at 48 kHz

/// One connection of the source: `frames` video frames (the first `leading` of them not
/// keyframes, as when a source is joined mid-GOP), audio `audioLagMs` behind video, as MPEG-TS
/// carries it; the source is lost after its last frame.
struct Run
{
    int frames = 0;
    int leading = 0;
    int audioLagMs = 0;
};

QByteArray videoFrame(bool key)
{
    // An access unit delimiter and an IDR or non-IDR slice, in Annex B as MPEG-TS carries them.
    QByteArray au = QByteArray::fromHex("0000000109f0");
    au += key ? QByteArray::fromHex("0000000165888400") : QByteArray::fromHex("00000001419a0200");
    au += QByteArray(200, '\x5a');
    return au;
}

Packet packet(const QByteArray &data, qint64 atUs, qint64 durationUs, bool key)
{
    Packet p = makePacket();
    if (av_new_packet(p.get(), int(data.size())) == 0)
        memcpy(p->data, data.constData(), size_t(data.size()));
    p->pts = p->dts = atUs;
    p->duration = durationUs;
    p->flags = key ? AV_PKT_FLAG_KEY : 0;
    return p;
}

/// Which run a timeline position belongs to (-1: none).
int runAt(const QList<std::pair<qint64, qint64>> &spans, qint64 us)
{
    for (int i = 0; i < spans.size(); ++i)
        if (us >= spans[i].first && us < spans[i].second)
            return i;
    return -1;
}

/// The PTS (90 kHz) of every PES that starts in an MPEG-TS file, by stream id (0xC0-0xDF audio,
/// 0xE0-0xEF video): read off the TS packets, as a player's demuxer sees them.
QMap<int, QList<qint64>> pesTimestamps(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    const QByteArray ts = f.readAll();
    QMap<int, QList<qint64>> out;
    for (qsizetype at = 0; at + 188 <= ts.size(); at += 188) {
        const auto *b = reinterpret_cast<const uchar *>(ts.constData() + at);
        if (b[0] != 0x47 || !(b[1] & 0x40) || !(b[3] & 0x10))
            continue;
        int off = 4 + ((b[3] & 0x20) ? 1 + b[4] : 0);
        if (off + 14 > 188 || b[off] != 0 || b[off + 1] != 0 || b[off + 2] != 1 || !(b[off + 7] & 0x80))
            continue;
        const uchar *t = b + off + 9;
        const qint64 pts = (qint64(t[0] & 0x0e) << 29) | (qint64(t[1]) << 22) | (qint64(t[2] & 0xfe) << 14)
            | (qint64(t[3]) << 7) | (t[4] >> 1);
        out[b[off + 3]].append(pts);
    }
    return out;
}

/// Segments of 1 s in `directory`; `window` segments listed (0: every one, none deleted);
/// `maxSegmentSeconds` as pass-through sets it (5).
SegmenterSettings settingsIn(const QString &directory, int window, int maxSegmentSeconds)
{
    SegmenterSettings settings;
    settings.directory = directory;
    settings.segmentSeconds = 1;
    settings.window = window;
    settings.maxSegmentSeconds = maxSegmentSeconds;
    return settings;
}

struct Streams
{
    AVCodecParameters *video = avcodec_parameters_alloc();
    AVCodecParameters *audio = avcodec_parameters_alloc();
    Streams()
    {
        video->codec_type = AVMEDIA_TYPE_VIDEO;
        video->codec_id = AV_CODEC_ID_H264;
        video->width = 160;
        video->height = 90;
        audio->codec_type = AVMEDIA_TYPE_AUDIO;
        audio->codec_id = AV_CODEC_ID_MP2;
        audio->sample_rate = 48000;
        av_channel_layout_default(&audio->ch_layout, 2);
    }
    ~Streams()
    {
        avcodec_parameters_free(&video);
        avcodec_parameters_free(&audio);
    }
    QList<const AVCodecParameters *> list() const { return {video, audio}; }
};

} // namespace

class TestHlsSegmenter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void discontinuityAfterEveryBreak_data();
    void discontinuityAfterEveryBreak();
    void audioEndsInItsSegment();
    void lastSegmentLastsWithBFrames();
    void audioCutsOnceTheVideoStops();
    void earlyKeyframeCuts();
};

void TestHlsSegmenter::discontinuityAfterEveryBreak_data()
{
    QTest::addColumn<QList<Run>>("runs");
    QTest::addColumn<int>("window");
    /// One character per listed segment: '.' continues the one before, 'D' has EXT-X-DISCONTINUITY.
    QTest::addColumn<QString>("expected");
    /// EXT-X-DISCONTINUITY-SEQUENCE plus the tags listed.
    QTest::addColumn<int>("discontinuities");

    QTest::newRow("one break") << QList<Run>{{40}, {40}} << 0 << u"..D."_qs << 1;
    QTest::newRow("source joined mid-GOP after the break") << QList<Run>{{40}, {43, 3}} << 0 << u"..D."_qs << 1;
    // Back for a quarter of a second, lost again: its piece is a segment of its own.
    QTest::newRow("lost again before a segment closed") << QList<Run>{{40}, {5}, {40}} << 0 << u"..DD."_qs << 2;
    // Back without a keyframe, lost again: nothing of it is listed, one tag marks both breaks.
    QTest::newRow("lost again before a keyframe") << QList<Run>{{40}, {5, 5}, {40}} << 0 << u"..D."_qs << 1;
    QTest::newRow("lost three times before a keyframe") << QList<Run>{{40}, {0}, {5, 5}, {0}, {40}} << 0 << u"..D."_qs << 1;
    // The interleaver still holds the keyframe that ends the segment in progress (audio is
    // 0.3 s behind): restart() lists two segments of the old source, the second of one frame,
    // and the first segment of the new source is the third after the break.
    QTest::newRow("keyframe still queued at the break") << QList<Run>{{21, 0, 300}, {40, 0, 300}} << 0 << u"..D."_qs << 1;
    QTest::newRow("break on the first segment") << QList<Run>{{15}, {40}} << 0 << u".D."_qs << 1;
    // Tagged segments leave a window of two: EXT-X-DISCONTINUITY-SEQUENCE counts them.
    QTest::newRow("tags leave the window") << QList<Run>{{40}, {40}, {30}, {5}, {40, 0, 300}} << 2 << u"D."_qs << 4;
}

void TestHlsSegmenter::discontinuityAfterEveryBreak()
{
    QFETCH(QList<Run>, runs);
    QFETCH(int, window);
    QFETCH(QString, expected);
    QFETCH(int, discontinuities);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const Streams parameters;
    const QList<const AVCodecParameters *> streams = parameters.list();

    const SegmenterSettings settings = settingsIn(dir.path(), window, 5);
    HlsSegmenter segmenter;
    MediaError error;
    QVERIFY2(segmenter.open(settings, streams, 0, &error), qPrintable(error.toString()));

    // Each run continues the timeline where the one before ended (Pipeline::retime()).
    QList<std::pair<qint64, qint64>> spans;
    qint64 now = 0;
    for (int r = 0; r < runs.size(); ++r) {
        const Run &run = runs[r];
        if (r > 0)
            QVERIFY2(segmenter.restart(streams, 0, &error), qPrintable(error.toString()));
        qint64 audioAt = now;
        for (int f = 0; f < run.frames; ++f) {
            const qint64 at = now + f * kFrameUs;
            const bool key = f >= run.leading && (f - run.leading) % kGopFrames == 0;
            QVERIFY2(segmenter.write(packet(videoFrame(key), at, kFrameUs, key).get(), 0, &error), qPrintable(error.toString()));
            for (; audioAt + run.audioLagMs * 1000 <= at; audioAt += kAudioUs)
                QVERIFY2(segmenter.write(packet(QByteArray(96, '\x11'), audioAt, kAudioUs, false).get(), 1, &error),
                         qPrintable(error.toString()));
        }
        spans.append({now, now + run.frames * kFrameUs});
        now += run.frames * kFrameUs;
    }
    QVERIFY2(segmenter.finish(&error), qPrintable(error.toString()));

    const HlsCheck listed = checkMediaPlaylist(segmenter.playlistText());
    QVERIFY2(listed.ok, qPrintable(listed.problems.join(u"; "_qs)));
    QString pattern;
    qint64 count = listed.discontinuitySequence;
    for (const HlsSegment &s : listed.segments) {
        pattern += s.discontinuity ? u'D' : u'.';
        count += s.discontinuity ? 1 : 0;
    }
    QCOMPARE(pattern, expected);
    QCOMPARE(count, qint64(discontinuities));
    if (window > 0)
        return;
    // The rule itself: a segment holds one run's media and is tagged exactly when the segment
    // before it holds another's.
    int before = -1;
    for (const HlsSegment &s : listed.segments) {
        const qint64 startUs = s.programDateTime.toMSecsSinceEpoch() * 1000;
        const qint64 endUs = startUs + qint64(std::llround(s.duration * 1e6));
        const int run = runAt(spans, startUs);
        QVERIFY2(run >= 0 && endUs <= spans[run].second, qPrintable(s.uri + u" is not within one run"_qs));
        QVERIFY2(s.discontinuity == (before >= 0 && run != before),
                 qPrintable(QStringLiteral("%1 (run %2 after run %3) %4 EXT-X-DISCONTINUITY")
                                .arg(s.uri).arg(run).arg(before).arg(s.discontinuity ? u"has"_qs : u"lacks"_qs)));
        before = run;
    }
}

// The video stops (a picture lost) while the audio goes on: with no keyframe coming, the audio
// cuts the segments, so none outlasts EXT-X-TARGETDURATION (RFC 8216 4.3.3.1), and the target
// stays what it was set to. Before, the audio piled into one segment until the video came back.
void TestHlsSegmenter::audioCutsOnceTheVideoStops()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const Streams parameters;
    const QList<const AVCodecParameters *> streams = parameters.list();

    const SegmenterSettings settings = settingsIn(dir.path(), 0, 3);
    HlsSegmenter segmenter;
    MediaError error;
    QVERIFY2(segmenter.open(settings, streams, 0, &error), qPrintable(error.toString()));
    constexpr qint64 kVideoEndUs = 2'000'000, kAudioEndUs = 14'000'000;
    qint64 audioAt = 0;
    for (qint64 at = 0; at < kVideoEndUs; at += kFrameUs) {
        const bool key = (at / kFrameUs) % kGopFrames == 0;
        QVERIFY2(segmenter.write(packet(videoFrame(key), at, kFrameUs, key).get(), 0, &error), qPrintable(error.toString()));
        for (; audioAt <= at; audioAt += kAudioUs)
            QVERIFY(segmenter.write(packet(QByteArray(96, '\x11'), audioAt, kAudioUs, false).get(), 1, &error));
    }
    for (; audioAt < kAudioEndUs; audioAt += kAudioUs)
        QVERIFY2(segmenter.write(packet(QByteArray(96, '\x11'), audioAt, kAudioUs, false).get(), 1, &error),
                 qPrintable(error.toString()));
    QVERIFY2(segmenter.finish(&error), qPrintable(error.toString()));

    const HlsCheck listed = checkMediaPlaylist(segmenter.playlistText());
    QVERIFY2(listed.ok, qPrintable(listed.problems.join(u"; "_qs)));
    QCOMPARE(listed.targetDuration, 3);
    double total = 0;
    for (const HlsSegment &s : listed.segments) {
        QVERIFY2(std::lround(s.duration) <= 3, qPrintable(u"%1 lasts %2 s"_qs.arg(s.uri).arg(s.duration)));
        total += s.duration;
    }
    // Every second of the audio is listed, in segments of about segment_seconds once it cuts.
    QVERIFY2(qAbs(total - kAudioEndUs / 1e6) < 0.1, qPrintable(QString::number(total)));
    QVERIFY2(listed.segments.size() >= 10, segmenter.playlistText().constData());
}

// A pass-through source whose encoder put an IDR 1.8 s after the last one (a scene cut) with 2 s
// GOPs: the segment waited for the keyframe after it and lasted 3.8 s, and a reader of the
// playlist saw nothing new for that long (the 3.6-4.1 s "stalls" of a looping 60 s file, once a
// loop, docs/BENCHMARKS.md). Now the early keyframe cuts, as it lands nearer to 2 s.
void TestHlsSegmenter::earlyKeyframeCuts()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const Streams streams;
    SegmenterSettings settings = settingsIn(dir.path(), 0, 6);
    settings.segmentSeconds = 2;
    HlsSegmenter segmenter;
    MediaError error;
    QVERIFY2(segmenter.open(settings, streams.list(), 0, &error), qPrintable(error.toString()));
    // Keyframes every 40 frames (2 s), but one after 36 (1.8 s) and, as at a file's loop, one
    // after 4 (0.2 s): that one is too near to cut, the segment then lasts 2.2 s.
    QList<int> keys;
    for (int f = 0; f <= 160; f += 40)
        keys << f;
    for (int f = 196; f <= 316; f += 40)
        keys << f;
    for (int f = 320; f <= 440; f += 40)
        keys << f;
    qint64 audioAt = 0;
    for (int f = 0; f < 450; ++f) {
        const qint64 at = f * kFrameUs;
        const bool key = keys.contains(f);
        QVERIFY2(segmenter.write(packet(videoFrame(key), at, kFrameUs, key).get(), 0, &error), qPrintable(error.toString()));
        for (; audioAt <= at; audioAt += kAudioUs)
            QVERIFY(segmenter.write(packet(QByteArray(96, '\x11'), audioAt, kAudioUs, false).get(), 1, &error));
    }
    QVERIFY2(segmenter.finish(&error), qPrintable(error.toString()));
    const HlsCheck listed = checkMediaPlaylist(segmenter.playlistText());
    QVERIFY2(listed.ok, qPrintable(listed.problems.join(u"; "_qs)));
    QVERIFY(listed.segments.size() >= 10);
    for (qsizetype i = 0; i + 1 < listed.segments.size(); ++i) {
        const HlsSegment &s = listed.segments[i];
        QVERIFY2(s.duration <= 2.25 && s.duration >= 2 * 2.0 / 3,
                 qPrintable(u"%1 lasts %2 s:\n%3"_qs.arg(s.uri).arg(s.duration).arg(QString::fromUtf8(segmenter.playlistText()))));
    }
}

// libavformat's MPEG-TS muxer holds audio back (a PES of up to 0.35 s): cut without flushing
// it, a segment's last audio frames began the next segment, before its keyframe, so a segment was
// not self-contained and a player starting there (or a recording's span ending there) lost or
// repeated them.
void TestHlsSegmenter::audioEndsInItsSegment()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const Streams streams;
    const SegmenterSettings settings = settingsIn(dir.path(), 0, 5);
    HlsSegmenter segmenter;
    MediaError error;
    QVERIFY2(segmenter.open(settings, streams.list(), 0, &error), qPrintable(error.toString()));
    qint64 audioAt = 0;
    for (int f = 0; f < 200; ++f) {
        const qint64 at = f * kFrameUs;
        const bool key = f % kGopFrames == 0;
        QVERIFY2(segmenter.write(packet(videoFrame(key), at, kFrameUs, key).get(), 0, &error), qPrintable(error.toString()));
        for (; audioAt <= at; audioAt += kAudioUs)
            QVERIFY2(segmenter.write(packet(QByteArray(96, '\x11'), audioAt, kAudioUs, false).get(), 1, &error),
                     qPrintable(error.toString()));
    }
    QVERIFY2(segmenter.finish(&error), qPrintable(error.toString()));

    const HlsCheck listed = checkMediaPlaylist(segmenter.playlistText());
    QVERIFY2(listed.ok, qPrintable(listed.problems.join(u"; "_qs)));
    QVERIFY(listed.segments.size() >= 8);
    constexpr qint64 frame90k = kFrameUs * 9 / 100;
    for (qsizetype i = 1; i < listed.segments.size(); ++i) {
        const auto pes = pesTimestamps(dir.filePath(listed.segments[i].uri));
        const QList<qint64> video = pes.value(0xe0), audio = pes.value(0xc0);
        QVERIFY2(!video.isEmpty() && !audio.isEmpty(), qPrintable(listed.segments[i].uri));
        const qint64 firstVideo = *std::min_element(video.begin(), video.end());
        const qint64 firstAudio = *std::min_element(audio.begin(), audio.end());
        // Audio written after the keyframe may start up to a video frame before it (as written).
        QVERIFY2(firstAudio >= firstVideo - frame90k,
                 qPrintable(QStringLiteral("%1 starts with audio %2 ms before its keyframe")
                                .arg(listed.segments[i].uri)
                                .arg((firstVideo - firstAudio) / 90)));
    }
}

// A segment's end is its latest picture's: with B-frames the last packet in decode order is not
// the last shown, and the final segment's EXTINF came out short by the reorder depth.
void TestHlsSegmenter::lastSegmentLastsWithBFrames()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const Streams streams;
    const SegmenterSettings settings = settingsIn(dir.path(), 0, 5);
    HlsSegmenter segmenter;
    MediaError error;
    QVERIFY2(segmenter.open(settings, streams.list(), 0, &error), qPrintable(error.toString()));
    // I P B B P B B ... in decode order: each P shown after the two B-frames that follow it.
    constexpr int frames = 30; // 1.5 s: a segment of 1 s and a last one of 0.5 s
    for (int d = 0; d < frames; ++d) {
        int shown = d;
        if (d > 0)
            shown = (d % 3 == 1) ? d + 2 : d - 1;
        if (shown >= frames)
            shown = frames - 1;
        const bool key = d % kGopFrames == 0;
        Packet p = packet(videoFrame(key), shown * kFrameUs, kFrameUs, key);
        p->dts = d * kFrameUs - 2 * kFrameUs;
        QVERIFY2(segmenter.write(p.get(), 0, &error), qPrintable(error.toString()));
    }
    QVERIFY2(segmenter.finish(&error), qPrintable(error.toString()));
    const HlsCheck listed = checkMediaPlaylist(segmenter.playlistText());
    QVERIFY2(listed.ok, qPrintable(listed.problems.join(u"; "_qs)));
    double total = 0;
    for (const HlsSegment &s : listed.segments)
        total += s.duration;
    QCOMPARE(qRound(total * 1000), qRound(frames * kFrameUs / 1000.0));
}

QTEST_GUILESS_MAIN(TestHlsSegmenter)
#include "tst_hlssegmenter.moc"
