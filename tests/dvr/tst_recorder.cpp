// The recorder against a real headend: recast runs in-process with tiny test-pattern channels,
// and the recorder records them over HLS and over MPEG-TS. Every segment written must decode, the
// index must tile the time it recorded, and the VOD playlist must pass the RFC 8216 checker and
// ffprobe. Then the faults: the source goes away and comes back (one recording, a gap), the
// recorder process is killed with SIGKILL and started again (resumes after a gap, nothing
// written is lost), a recorder stopped past a takeover wakes up and is fenced off by the new
// holder's epoch, and the disk fills (retention is asked first, then a clear error).

#include "../common/diskgate.h"
#include "../recast/recasttest.h"
#include "recordertestsupport.h"

#include <dvr/playout.h>
#include <media/hlsplaylist.h>
#include <dvr/recorder.h>
#include <dvr/playoutthumbnails.h>
#include <dvr/retention.h>

#include <QImage>

#include <QElapsedTimer>
#include <QProcess>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <csignal>

using namespace recasttest;
using namespace iptv::dvr;
using namespace recordertest;
using iptv::recast::RecastServer;

namespace {

constexpr int kStartMs = 30000;

ChannelConfig smallChannel(const QString &id)
{
    ChannelConfig c = tinyChannel(id);
    c.ladder = {{QStringLiteral("low"), 160, 90, 100}};
    return c;
}

/// Problems with a recording's segments: files as listed, every one decodes, starting at a
/// keyframe, times in order. Segments are dated by when their media arrived: without a gap a
/// segment starts where the one before ended, or later when the source ran slower than the
/// clock (the in-process headend does under load), or a little earlier after a burst (a source
/// catching up), never by more than the one before lasts.
/// `audioLeadMs`: how far before a segment's first picture its audio may begin (the source's own
/// interleaving; -1: not checked, a source whose muxer holds audio back decides it).
QStringList checkSegments(const QString &dir, const QList<ArchiveSegment> &segments, qint64 segmentMs = 1000, qint64 audioLeadMs = -1)
{
    QStringList problems;
    for (qsizetype i = 0; i < segments.size(); ++i) {
        const ArchiveSegment &s = segments[i];
        const QByteArray bytes = fileBytes(QDir(dir).filePath(s.file));
        if (bytes.size() != s.bytes) {
            problems << QStringLiteral("%1: %2 bytes on disk, %3 in the index").arg(s.file).arg(bytes.size()).arg(s.bytes);
            continue;
        }
        const TsProbe probe = probeTs(bytes, true);
        if (!probe.error.isEmpty() || !probe.decodeErrors.isEmpty() || probe.videoFrames == 0)
            problems << QStringLiteral("%1 does not decode: %2 %3 (%4 frames)")
                            .arg(s.file, probe.error, probe.decodeErrors.join(u", "_qs))
                            .arg(probe.videoFrames);
        else if (!probe.firstVideo()->keyframe)
            problems << QStringLiteral("%1 does not start at a keyframe").arg(s.file);
        // Self-contained: a segment's audio ends in it. (The MPEG-TS muxer holds up to 0.35 s of
        // audio back; not flushed at the cut, it began the next segment, before its keyframe:
        // 10-477 ms.)
        else if (audioLeadMs >= 0 && i > 0 && !s.gap) {
            const auto audio = std::find_if(probe.packets.begin(), probe.packets.end(), [](const TsPacket &p) { return !p.video; });
            if (audio != probe.packets.end() && audio->pts < probe.firstVideo()->pts - audioLeadMs * 90)
                problems << QStringLiteral("%1 begins with audio %2 ms before its first picture")
                                .arg(s.file)
                                .arg((probe.firstVideo()->pts - audio->pts) / 90);
        }
        // The last segment before a stop or a drop may be short; the others are cut at the
        // first keyframe after `segmentMs` (the channel's GOP is half a second).
        const bool lastOfRun = i + 1 == segments.size() || segments[i + 1].gap;
        if ((!lastOfRun && s.durationMs < segmentMs - 100) || s.durationMs > segmentMs + 1000)
            problems << QStringLiteral("%1 lasts %2 ms").arg(s.file).arg(s.durationMs);
        if (i > 0 && s.sequence != segments[i - 1].sequence + 1)
            problems << QStringLiteral("%1 follows sequence %2").arg(s.file).arg(segments[i - 1].sequence);
        if (i > 0 && s.startMs < segments[i - 1].startMs)
            problems << QStringLiteral("%1 starts at %2, before the one before (%3)")
                            .arg(s.file).arg(s.startMs).arg(segments[i - 1].startMs);
        if (i > 0 && s.gap && s.startMs < segments[i - 1].endMs())
            problems << QStringLiteral("%1 follows a gap but overlaps the one before").arg(s.file);
    }
    return problems;
}

/// ffprobe's reading of a playlist file: its duration in seconds, or -1 with *error.
double ffprobeDuration(const QString &playlist, QString *error)
{
    QProcess p;
    p.start(QStringLiteral("ffprobe"), {QStringLiteral("-v"), QStringLiteral("error"), QStringLiteral("-show_entries"),
                                       QStringLiteral("format=duration:stream=codec_name"), QStringLiteral("-of"),
                                       QStringLiteral("default=nw=1"), playlist});
    if (!p.waitForFinished(60000) || p.exitCode() != 0) {
        *error = QString::fromLocal8Bit(p.readAllStandardError());
        return -1;
    }
    const QString out = QString::fromLocal8Bit(p.readAllStandardOutput());
    const QString err = QString::fromLocal8Bit(p.readAllStandardError()).trimmed();
    if (!err.isEmpty()) {
        *error = err;
        return -1;
    }
    if (!out.contains(QLatin1String("codec_name=h264")) || !out.contains(QLatin1String("codec_name=aac"))) {
        *error = QStringLiteral("ffprobe found no H.264 and AAC streams: ") + out;
        return -1;
    }
    const qsizetype at = out.indexOf(QLatin1String("duration="));
    return at < 0 ? -1 : out.mid(at + 9).section(QLatin1Char('\n'), 0, 0).toDouble();
}

/// The first video and first audio PTS (seconds) ffprobe reads in a segment file; nullopt with
/// *error when it fails or one of them is missing.
std::optional<std::pair<double, double>> ffprobeFirstPts(const QString &path, QString *error)
{
    QProcess p;
    p.start(QStringLiteral("ffprobe"), {QStringLiteral("-v"), QStringLiteral("error"), QStringLiteral("-show_entries"),
                                       QStringLiteral("packet=codec_type,pts_time"), QStringLiteral("-of"), QStringLiteral("csv=p=0"), path});
    if (!p.waitForFinished(60000) || p.exitCode() != 0) {
        *error = QStringLiteral("ffprobe %1: %2").arg(path, QString::fromLocal8Bit(p.readAllStandardError()));
        return std::nullopt;
    }
    std::optional<double> video, audio;
    for (const QString &line : QString::fromLocal8Bit(p.readAllStandardOutput()).split(QLatin1Char('\n'))) {
        const QString type = line.section(QLatin1Char(','), 0, 0).trimmed();
        bool ok = false;
        const double pts = line.section(QLatin1Char(','), 1, 1).trimmed().toDouble(&ok);
        if (!ok)
            continue;
        if (type == QLatin1String("video") && !video)
            video = pts;
        else if (type == QLatin1String("audio") && !audio)
            audio = pts;
    }
    if (!video || !audio) {
        *error = QStringLiteral("ffprobe %1: %2").arg(path, video ? u"no audio"_qs : u"no video"_qs);
        return std::nullopt;
    }
    return std::pair(*video, *audio);
}

/// What ffprobe reads of a file or playlist, every packet counted.
struct FfprobeCount
{
    double durationSeconds = -1;
    qint64 videoPackets = -1;
    qint64 audioPackets = -1;
};

/// ffprobe -count_packets on `path`; nullopt with *error when it fails or complains.
std::optional<FfprobeCount> ffprobeCount(const QString &path, QString *error)
{
    QProcess p;
    p.start(QStringLiteral("ffprobe"), {QStringLiteral("-v"), QStringLiteral("error"), QStringLiteral("-count_packets"),
                                       QStringLiteral("-show_entries"), QStringLiteral("format=duration:stream=codec_type,nb_read_packets"),
                                       QStringLiteral("-of"), QStringLiteral("default=nw=1"), path});
    if (!p.waitForFinished(60000) || p.exitCode() != 0) {
        *error = QStringLiteral("ffprobe %1: %2").arg(path, QString::fromLocal8Bit(p.readAllStandardError()));
        return std::nullopt;
    }
    const QString err = QString::fromLocal8Bit(p.readAllStandardError()).trimmed();
    if (!err.isEmpty()) {
        *error = QStringLiteral("ffprobe %1: %2").arg(path, err);
        return std::nullopt;
    }
    FfprobeCount c;
    QString type;
    for (const QString &line : QString::fromLocal8Bit(p.readAllStandardOutput()).split(QLatin1Char('\n'))) {
        const QString key = line.section(QLatin1Char('='), 0, 0), value = line.section(QLatin1Char('='), 1);
        if (key == QLatin1String("codec_type"))
            type = value;
        else if (key == QLatin1String("nb_read_packets") && type == QLatin1String("video"))
            c.videoPackets = value.toLongLong();
        else if (key == QLatin1String("nb_read_packets") && type == QLatin1String("audio"))
            c.audioPackets = value.toLongLong();
        else if (key == QLatin1String("duration"))
            c.durationSeconds = value.toDouble();
    }
    return c;
}

/// The segments of the HLS playlist at `path` (what ffmpeg wrote so far).
QList<iptv::media::HlsSegment> hlsSegments(const QString &path)
{
    return iptv::media::checkMediaPlaylist(fileBytes(path)).segments;
}

/// "3: 1440 ms, 4: 1440 ms gap, …": what a recording lists, for a failed check's message.
QString listing(const QList<ArchiveSegment> &segments)
{
    QStringList listed;
    for (const ArchiveSegment &s : segments)
        listed << QStringLiteral("%1: %2 ms%3").arg(s.sequence).arg(s.durationMs).arg(s.gap ? u" gap"_qs : QString());
    return listed.join(u", "_qs);
}

/// Records, with `settings` (their source set here), the MPEG-TS an ffmpeg run sends to a UDP
/// port on 127.0.0.1: lavfiInputs() as `shape` edits them, output options after. Returns once the
/// run has ended and the recorder has stopped (a failed check: the caller returns).
void recordFfmpegRun(RecorderSettings settings, const std::function<void(QStringList &)> &shape)
{
    const quint16 port = freeUdpPort();
    QVERIFY(port != 0);
    Recorder recorder;
    settings.source = QStringLiteral("udp://127.0.0.1:%1").arg(port);
    settings.openTimeoutMs = 20000;
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QStringList args = lavfiInputs(u"1"_qs);
    shape(args);
    if (QTest::currentTestFailed())
        return;
    args << u"-f"_qs << u"mpegts"_qs << QStringLiteral("udp://127.0.0.1:%1?pkt_size=1316").arg(port);
    QProcess source;
    QSignalSpy sourceDone(&source, &QProcess::finished);
    QVERIFY2(startFfmpeg(source, args, &error), qPrintable(error));
    QVERIFY(sourceDone.wait(60000));
    QCOMPARE(source.exitCode(), 0);
    QSignalSpy finished(&recorder, &Recorder::finished);
    recorder.stop(true);
    QTRY_COMPARE(finished.size(), 1);
}
} // namespace

class TestRecorder : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void records_data();
    void records();
    void stopsAtItsEndTime();
    void endWaitsForItsConfirmation();
    void thumbnails();
    void channelArchive();
    void slowSourceIsDatedByTheWallClock();
    void hlsSourceIsDatedByItsProgramDates();
    void hlsBurstAtConnectIsLaidBackToBack();
    void sourceDropIsOneRecordingWithGap();
    void audioCutsWhileTheVideoIsGone();
    void earlyKeyframeCuts();
    void killedRecorderResumes();
    void killedMidSegmentListsItsJournal();
    void staleWriterIsFencedAfterTakeover();
    void fullDisk();
    void stopDoesNotWaitForTheDisk();
    void writeInProgressIsRefusedAfterTheFenceStopped();
    void cleanupTestCase();

private:
    /// Records `dir` again from the test's source (a restart after a kill) until `segments` more
    /// are written, then finishes it; false (with a warning saying why) when it cannot.
    bool recordAgain(const QString &dir, double segmentSeconds, int segments, int timeoutMs, qint64 epoch = 0)
    {
        Recorder recorder;
        QSignalSpy written(&recorder, &Recorder::segmentWritten);
        RecorderSettings settings;
        settings.source = url(u"/live/one.ts"_qs);
        settings.directory = dir;
        settings.segmentSeconds = segmentSeconds;
        settings.epoch = epoch;
        QString error;
        if (!recorder.start(settings, &error)) {
            qWarning().noquote() << "restarting the recorder:" << error;
            return false;
        }
        const bool ok = QTest::qWaitFor([&] { return written.size() >= segments; }, timeoutMs);
        if (!ok)
            qWarning() << "only" << written.size() << "of" << segments << "segments after the restart";
        recorder.stop(true);
        return ok;
    }
    QString url(const QString &path) const { return QStringLiteral("http://127.0.0.1:%1%2").arg(m_server->port()).arg(path); }

    QTemporaryDir m_dir;
    std::unique_ptr<RecastServer> m_server;
    std::unique_ptr<Client> m_client;
};

void TestRecorder::initTestCase()
{
    QVERIFY(m_dir.isValid());
    iptv::media::installFfmpegLogHandler();
    m_server = std::make_unique<RecastServer>(
        serverConfig(m_dir.filePath(u"recast"_qs), {smallChannel(u"one"_qs), smallChannel(u"drop"_qs)}));
    QString error;
    QVERIFY2(m_server->start(&error), qPrintable(error));
    m_client = std::make_unique<Client>(m_server->port());
    for (const QString &id : {u"one"_qs, u"drop"_qs})
        QTRY_VERIFY_WITH_TIMEOUT(m_client->playlist(id, u"low"_qs).segments.size() >= 3, kStartMs);
}

void TestRecorder::cleanupTestCase()
{
    m_server.reset();
}

void TestRecorder::records_data()
{
    QTest::addColumn<QString>("path");
    QTest::newRow("HLS") << u"/live/one/low/index.m3u8"_qs;
    QTest::newRow("MPEG-TS") << u"/live/one.ts"_qs;
}

void TestRecorder::records()
{
    QFETCH(QString, path);
    const QString dir = m_dir.filePath(u"rec-"_qs + QString::fromLatin1(QTest::currentDataTag()));
    Recorder recorder;
    QSignalSpy written(&recorder, &Recorder::segmentWritten);
    RecorderSettings settings;
    settings.source = url(path);
    settings.directory = dir;
    settings.segmentSeconds = 1;
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 2, 20000);
    QCOMPARE(recorder.state(), Recorder::State::Recording);

    // Readable while it records: an EVENT playlist without an end.
    ArchiveReader during = load(dir);
    QVERIFY(!during.finished());
    const iptv::media::HlsCheck live = iptv::media::checkMediaPlaylist(recordingPlaylist(during));
    QVERIFY2(live.ok, qPrintable(live.problems.join(u"; "_qs)));
    QVERIFY(!live.ended);
    QVERIFY(live.segments.size() >= 2);

    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 4, 20000);
    QSignalSpy finished(&recorder, &Recorder::finished);
    recorder.stop(true);
    QTRY_COMPARE(finished.size(), 1);
    QCOMPARE(recorder.state(), Recorder::State::Finished);

    const ArchiveReader reader = load(dir);
    QVERIFY(reader.finished());
    QCOMPARE(reader.chunks().size(), 1);
    const QList<ArchiveSegment> segments = reader.segments();
    QVERIFY(segments.size() >= 4);
    QCOMPARE(segments.first().sequence, 0);
    QVERIFY(!segments.first().gap);
    for (const ArchiveSegment &s : segments)
        QVERIFY2(!s.gap, qPrintable(s.file));
    // Recast's channels put audio up to ~120 ms after the keyframe it precedes.
    const QStringList problems = checkSegments(dir, segments, 1000, 150);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs)));
    const Recorder::Stats stats = recorder.stats();
    QCOMPARE(stats.segments, quint64(segments.size()));
    QCOMPARE(stats.segmentsLost, quint64(0));

    const QByteArray vod = recordingPlaylist(reader);
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(vod);
    QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs)));
    QVERIFY(check.ended);
    QVERIFY(vod.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && vod.endsWith("#EXT-X-ENDLIST\n"));
    // Every segment dated as listed (the wall clock at which its media arrived).
    QCOMPARE(check.segments.size(), segments.size());
    for (qsizetype i = 0; i < segments.size(); ++i)
        QCOMPARE(check.segments[i].programDateTime.toMSecsSinceEpoch(), segments[i].startMs);
    const QString playlistPath = QDir(dir).filePath(u"recording.m3u8"_qs);
    {
        QFile f(playlistPath);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(vod);
    }
    double listed = 0;
    for (const ArchiveSegment &s : segments)
        listed += s.durationMs / 1000.0;
    const double probed = ffprobeDuration(playlistPath, &error);
    QVERIFY2(probed > 0, qPrintable(error));
    QVERIFY2(qAbs(probed - listed) < 0.5, qPrintable(QStringLiteral("ffprobe: %1 s, the playlist: %2 s").arg(probed).arg(listed)));
}

void TestRecorder::stopsAtItsEndTime()
{
    const QString dir = m_dir.filePath(u"rec-timed"_qs);
    Recorder recorder;
    QSignalSpy finished(&recorder, &Recorder::finished);
    RecorderSettings settings;
    settings.source = url(u"/live/one.ts"_qs);
    settings.directory = dir;
    settings.segmentSeconds = 1;
    const qint64 started = QDateTime::currentMSecsSinceEpoch();
    settings.stopAtMs = started + 3000;
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QVERIFY(finished.wait(15000));
    QCOMPARE(recorder.state(), Recorder::State::Finished);
    const ArchiveReader reader = load(dir);
    QVERIFY(reader.finished());
    QVERIFY(reader.endMs() <= settings.stopAtMs + 1000);
    QVERIFY2(reader.endMs() - reader.startMs() >= 1500, qPrintable(QString::number(reader.endMs() - reader.startMs())));
    QVERIFY(iptv::media::checkMediaPlaylist(recordingPlaylist(reader)).ended);
}

// With confirmEnd the owner decides: at its end the recorder says endReached() and records on;
// an end moved later meanwhile (setStopAt) is recorded to and asked about again; the recording
// ends only once that end is confirmed.
void TestRecorder::endWaitsForItsConfirmation()
{
    const QString dir = m_dir.filePath(u"rec-confirm"_qs);
    Recorder recorder;
    QSignalSpy finished(&recorder, &Recorder::finished);
    QSignalSpy reached(&recorder, &Recorder::endReached);
    RecorderSettings settings;
    settings.source = url(u"/live/one.ts"_qs);
    settings.directory = dir;
    settings.segmentSeconds = 1;
    settings.confirmEnd = true;
    const qint64 firstEnd = QDateTime::currentMSecsSinceEpoch() + 2000;
    settings.stopAtMs = firstEnd;
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QVERIFY(reached.wait(15000));
    QCOMPARE(reached.first().at(0).toLongLong(), firstEnd);
    // Not confirmed: it records on (said once for this end).
    const qint64 secondEnd = QDateTime::currentMSecsSinceEpoch() + 2000;
    QVERIFY(!finished.wait(500));
    QCOMPARE(reached.size(), 1);
    recorder.setStopAt(secondEnd); // another node moved it later a moment before
    QVERIFY(reached.wait(15000));
    QCOMPARE(reached.last().at(0).toLongLong(), secondEnd);
    recorder.confirmEnd(firstEnd); // the end it no longer has: not a confirmation
    QVERIFY(!finished.wait(500));
    recorder.confirmEnd(secondEnd);
    QVERIFY(finished.wait(15000));
    QCOMPARE(recorder.state(), Recorder::State::Finished);
    const ArchiveReader reader = load(dir);
    QVERIFY(reader.finished());
    QVERIFY2(reader.endMs() >= secondEnd - 1000, qPrintable(QStringLiteral("ends %1 ms before the moved end").arg(secondEnd - reader.endMs())));
}

void TestRecorder::thumbnails()
{
    const QString dir = m_dir.filePath(u"rec-thumbs"_qs);
    Recorder recorder;
    QSignalSpy written(&recorder, &Recorder::segmentWritten);
    RecorderSettings settings;
    settings.source = url(u"/live/one.ts"_qs);
    settings.directory = dir;
    settings.segmentSeconds = 1;
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 4, 20000);
    recorder.stop(true);

    const ArchiveReader reader = load(dir);
    const QList<ArchiveSegment> segments = reader.segments();
    // One every 2 s of 1 s segments: every other segment.
    const QList<Thumbnail> thumbs = ensureThumbnails(dir, segments, 2000, 96, &error);
    QVERIFY2(!thumbs.isEmpty(), qPrintable(error));
    QCOMPARE(thumbs.size(), (segments.size() + 1) / 2);
    for (const Thumbnail &t : thumbs) {
        QImage image;
        QVERIFY2(image.load(QDir(dir).filePath(t.file), "JPEG"), qPrintable(t.file));
        QCOMPARE(image.size(), QSize(96, 54)); // 160x90 scaled
        // The test pattern is colourful, not a black or grey frame.
        QVERIFY(image.pixelColor(10, 10) != image.pixelColor(80, 10) || image.pixelColor(10, 10) != image.pixelColor(10, 45));
    }
    // Made once: asking again reuses the files.
    const QDateTime made = QFileInfo(QDir(dir).filePath(thumbs.first().file)).lastModified();
    QCOMPARE(ensureThumbnails(dir, segments, 2000, 96, &error).size(), thumbs.size());
    QCOMPARE(QFileInfo(QDir(dir).filePath(thumbs.first().file)).lastModified(), made);

    qint64 durationMs = 0;
    for (const ArchiveSegment &s : segments)
        durationMs += s.durationMs;
    // Placed where they play: the durations of the segments before them summed (their dates may
    // lie further apart when the headend runs slower than the clock).
    QCOMPARE(thumbs.first().atMs, 0);
    QCOMPARE(thumbs[1].atMs, segments[0].durationMs + segments[1].durationMs);
    const QByteArray vtt = thumbnailTrack(thumbs, durationMs, u"/t/"_qs);
    QVERIFY(vtt.startsWith("WEBVTT\n"));
    QVERIFY2(vtt.contains("\n00:00:00.000 --> 00:00:0"), vtt.constData());
    QCOMPARE(vtt.count("-->"), thumbs.size());
    QVERIFY(vtt.contains((u"/t/"_qs + thumbs.last().file).toUtf8()));

    // A segment that gives no picture (audio only for a while, damaged) is skipped: the next
    // one stands for its step, and the track is made of the others.
    const QString chunk = QFileInfo(segments.first().file).path();
    ArchiveSegment silent = segments.first();
    silent.sequence = 999999;
    silent.file = chunk + u"/seg-999999.ts"_qs;
    {
        QFile f(QDir(dir).filePath(silent.file));
        QVERIFY(f.open(QIODevice::WriteOnly));
        for (int i = 0; i < 20; ++i) // null packets: MPEG-TS without a single stream
            f.write(QByteArray("\x47\x1f\xff\x10", 4) + QByteArray(184, char(0xff)));
    }
    const QList<Thumbnail> skipping = ensureThumbnails(dir, QList<ArchiveSegment>{silent} + segments, 2000, 96, &error);
    QVERIFY2(!skipping.isEmpty(), qPrintable(error));
    QCOMPARE(skipping.first().file, thumbs.first().file);
    QCOMPARE(skipping.first().atMs, silent.durationMs);
    QVERIFY(!QFileInfo::exists(QDir(dir).filePath(chunk + u"/thumb-999999.jpg"_qs)));
    const QList<Thumbnail> none = ensureThumbnails(dir, {silent}, 2000, 96, &error);
    QVERIFY(none.isEmpty());
    QVERIFY2(error.contains(u"seg-999999.ts"), qPrintable(error));
    // Remembered: a marker beside it, and it is not decoded again (a picture put in its place
    // is not looked at: segments are never rewritten).
    QVERIFY2(QFileInfo::exists(QDir(dir).filePath(chunk + u"/thumb-999999.none"_qs)), qPrintable(error));
    QVERIFY(QFile::remove(QDir(dir).filePath(silent.file)));
    QVERIFY(QFile::copy(QDir(dir).filePath(segments.first().file), QDir(dir).filePath(silent.file)));
    QVERIFY(ensureThumbnails(dir, {silent}, 2000, 96, &error).isEmpty());
    QVERIFY2(error.contains(u"gave no picture before"), qPrintable(error));
    QVERIFY(!QFileInfo::exists(QDir(dir).filePath(chunk + u"/thumb-999999.jpg"_qs)));

    // At most maxThumbnails: a long recording (its segments an hour each here) gets them
    // further apart than asked.
    QList<ArchiveSegment> hours = segments;
    for (ArchiveSegment &h : hours)
        h.durationMs = 3600 * 1000;
    const QList<Thumbnail> capped = ensureThumbnails(dir, hours, 2000, 96, &error, 2);
    QCOMPARE(capped.size(), 2);
    QVERIFY(capped[1].atMs >= qint64(hours.size()) * 3600 * 1000 / 2);

    // Made by two threads at once (two viewers opening the track): each gets every thumbnail,
    // every image whole, no temporary file left behind.
    for (const QFileInfo &t : QDir(QDir(dir).filePath(chunk)).entryInfoList({u"thumb-*"_qs}, QDir::Files))
        QVERIFY(QFile::remove(t.filePath()));
    QList<Thumbnail> first, second;
    QString firstError, secondError;
    std::thread one([&] { first = ensureThumbnails(dir, segments, 1000, 96, &firstError); });
    std::thread two([&] { second = ensureThumbnails(dir, segments, 1000, 96, &secondError); });
    one.join();
    two.join();
    QCOMPARE(first.size(), segments.size());
    QCOMPARE(second.size(), segments.size());
    for (const Thumbnail &t : first) {
        QImage image;
        QVERIFY2(image.load(QDir(dir).filePath(t.file), "JPEG"), qPrintable(t.file));
    }
    for (const QString &name : QDir(QDir(dir).filePath(chunk)).entryList(QDir::Files | QDir::Hidden))
        QVERIFY2(name == u"index.tsv" || (name.startsWith(u"seg-") && name.endsWith(u".ts")) || (name.startsWith(u"thumb-") && name.endsWith(u".jpg")),
                 qPrintable(name));
}

void TestRecorder::channelArchive()
{
    // A channel's rolling archive in chunks of 2 s (an hour in production), recorded over HLS.
    const QString dir = m_dir.filePath(u"archive-one"_qs);
    Recorder recorder;
    QSignalSpy written(&recorder, &Recorder::segmentWritten);
    RecorderSettings settings;
    settings.source = url(u"/live/one/low/index.m3u8"_qs);
    settings.directory = dir;
    settings.chunkMs = 2000;
    settings.segmentSeconds = 1;
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 11, 40000);

    // Catch-up of a range in the middle while the archive goes on recording: VOD, since the
    // archive has passed its end; ffprobe reads it. (Past the first segments, which the HLS
    // demuxer reads at once from the live edge: recast dates its segments, so they are dated
    // back where they aired.)
    ArchiveReader archive = load(dir);
    QVERIFY(archive.chunks().size() >= 3);
    const QList<ArchiveSegment> all = archive.segments();
    const TimeRange range{all[6].startMs, all[9].startMs};
    const QString name = QStringLiteral("archive-%1-%2.m3u8").arg(range.fromMs / 1000).arg((range.toMs - range.fromMs + 999) / 1000);
    const auto parsed = parseArchiveRange(name, QDateTime::currentMSecsSinceEpoch());
    QVERIFY(parsed);
    const QByteArray text = archiveRangePlaylist(archive, range, QDateTime::currentMSecsSinceEpoch());
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(text);
    QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs)));
    QVERIFY(check.ended);
    // The segments whose dates overlap the range: 6 to 8 (dated by recast's
    // EXT-X-PROGRAM-DATE-TIME, back to back; their media follows on, no discontinuity).
    QList<ArchiveSegment> inRange;
    for (const ArchiveSegment &s : all)
        if (s.endMs() > range.fromMs && s.startMs < range.toMs)
            inRange.append(s);
    QVERIFY(inRange.size() >= 3);
    QCOMPARE(check.segments.size(), inRange.size());
    QCOMPARE(check.segments.first().uri, inRange.first().file);
    QCOMPARE(check.segments.last().uri, inRange.last().file);
    for (const auto &s : check.segments)
        QVERIFY2(!s.discontinuity, "chunk boundaries are not gaps");
    const QString playlistPath = QDir(dir).filePath(u"catchup.m3u8"_qs);
    {
        QFile f(playlistPath);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(text);
    }
    const double probed = ffprobeDuration(playlistPath, &error);
    QVERIFY2(probed > 0, qPrintable(error));
    double listed = 0;
    for (const ArchiveSegment &s : inRange)
        listed += s.durationMs / 1000.0;
    QVERIFY2(qAbs(probed - listed) < 0.5, qPrintable(QStringLiteral("ffprobe: %1 s, the playlist: %2 s").arg(probed).arg(listed)));

    // A viewer's recording of that range keeps its chunks through retention; the rest of the
    // window's past goes (a window of 1 ms: everything but the chunk being written is past it).
    recorder.stop(true);
    archive = load(dir);
    const QList<RetainedRecording> kept{{u"viewer-1"_qs, dir, false, range, 0, {}, 0}};
    const RetentionPlan plan = Retention::plan({{dir, 1}}, kept, QDateTime::currentMSecsSinceEpoch());
    QStringList errors;
    Retention::apply(plan, &errors);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(u"; "_qs)));
    QVERIFY(!plan.deletions.isEmpty());
    const ArchiveReader after = load(dir);
    QCOMPARE(after.segments(range.fromMs, range.toMs), archive.segments(range.fromMs, range.toMs));
    const QStringList problems = checkSegments(dir, after.segments(range.fromMs, range.toMs));
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs)));
    QVERIFY(after.segments().size() < archive.segments().size());
}

// A source slower than real time (0.6), then stalled for two seconds and catching up in a
// burst, then gone and back: the archive's dates follow the wall clock at which the media
// arrived, never ahead of it and never falling behind it (dated by the media's own durations
// they fell behind by 0.4 s every second), while each segment lasts as long as its media. The
// drop is the only gap, and the only discontinuity of the playlist, which ffprobe reads whole.
void TestRecorder::slowSourceIsDatedByTheWallClock()
{
    if (QStandardPaths::findExecutable(u"ffmpeg"_qs).isEmpty())
        QSKIP("ffmpeg is not installed: no source slower than real time");
    const quint16 port = freeUdpPort();
    QVERIFY(port != 0);
    const QString dir = m_dir.filePath(u"rec-slow"_qs);
    Recorder recorder;
    struct Written
    {
        qint64 atMs;
        ArchiveSegment segment;
    };
    QList<Written> written;
    connect(&recorder, &Recorder::segmentWritten, this,
            [&](const ArchiveSegment &s) { written.append({QDateTime::currentMSecsSinceEpoch(), s}); });
    RecorderSettings settings;
    settings.source = QStringLiteral("udp://127.0.0.1:%1").arg(port);
    settings.directory = dir;
    settings.segmentSeconds = 1;
    settings.readTimeoutMs = 4000;
    settings.openTimeoutMs = 20000;
    settings.backoffBaseMs = 200;
    settings.backoffCapMs = 500;
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QProcess source;
    QVERIFY2(startSlowSource(source, port, 0.6, &error), qPrintable(error));
    auto describe = [&](qsizetype from, qsizetype to) {
        QStringList out;
        for (qsizetype i = from; i < to && i < written.size(); ++i) {
            const Written &w = written[i];
            out << QStringLiteral("%1: %2+%3 ms%4, written %5 ms after its end")
                       .arg(w.segment.sequence).arg(w.segment.startMs % 100000).arg(w.segment.durationMs)
                       .arg(w.segment.gap ? u" gap"_qs : QString()).arg(w.atMs - w.segment.endMs());
        }
        return out.join(u"\n"_qs);
    };
    // Where dates stand against the clock: every segment written after its media began to
    // arrive, and no later than a few seconds after it ended (a segment of the slow source
    // arrives in 1.7 s, and a busy machine's disk takes a while).
    auto checkAgainstClock = [&](qsizetype from, qsizetype to, qint64 slackMs) {
        QStringList problems;
        for (qsizetype i = from; i < to; ++i) {
            const Written &w = written[i];
            if (w.segment.startMs > w.atMs)
                problems << QStringLiteral("segment %1 is dated after it was written").arg(w.segment.sequence);
            if (w.atMs - w.segment.endMs() > slackMs)
                problems << QStringLiteral("segment %1 is dated %2 ms behind the clock").arg(w.segment.sequence).arg(w.atMs - w.segment.endMs());
        }
        return problems;
    };

    // 1. Slow: over 20 s of the clock the media is about 12 s long, and so are the dates 20 s apart.
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 3 && written.last().atMs - written[1].atMs >= 20000, 90000);
    const qsizetype slowEnd = written.size();
    {
        const ArchiveSegment &first = written[1].segment, &last = written[slowEnd - 1].segment;
        qint64 mediaMs = 0;
        for (qsizetype i = 1; i < slowEnd; ++i)
            mediaMs += written[i].segment.durationMs;
        const double spanMs = double(last.endMs() - first.startMs);
        const double ratio = mediaMs / spanMs;
        QVERIFY2(ratio < 0.85, qPrintable(QStringLiteral("%1 ms of media in %2 ms of dates: the source was not slow\n%3")
                                              .arg(mediaMs).arg(spanMs).arg(describe(0, slowEnd))));
        const qint64 wallMs = written[slowEnd - 1].atMs - written[1].atMs;
        QVERIFY2(qAbs((last.startMs - first.startMs) - wallMs) < 3000,
                 qPrintable(QStringLiteral("the dates span %1 ms, the clock %2 ms\n%3")
                                .arg(last.startMs - first.startMs).arg(wallMs).arg(describe(0, slowEnd))));
        const QStringList problems = checkAgainstClock(1, slowEnd, 4000);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs) + u"\n"_qs + describe(0, slowEnd)));
    }

    // 2. Stalled for 2 s (less than the read timeout: no drop), then catching up in a burst.
    ::kill(pid_t(source.processId()), SIGSTOP);
    QTest::qWait(2000); // the stall is what is tested, not something waited for
    ::kill(pid_t(source.processId()), SIGCONT);
    const qint64 resumedAt = QDateTime::currentMSecsSinceEpoch();
    QTRY_VERIFY_WITH_TIMEOUT(!written.isEmpty() && written.last().atMs - resumedAt >= 10000, 60000);
    const qsizetype burstEnd = written.size();
    {
        const QStringList problems = checkAgainstClock(slowEnd, burstEnd, 4000);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs) + u"\n"_qs + describe(slowEnd - 2, burstEnd)));
        for (qsizetype i = 1; i < burstEnd; ++i)
            QVERIFY2(!written[i].segment.gap, qPrintable(describe(0, burstEnd)));
    }

    // 3. Gone (the recorder drops it after its read timeout) and back 6 s later: after a gap,
    // dated from when it came back.
    source.kill();
    QVERIFY(source.waitForFinished(10000));
    const qint64 goneAt = QDateTime::currentMSecsSinceEpoch();
    QTest::qWait(6000); // the outage is what is tested
    const qint64 backAt = QDateTime::currentMSecsSinceEpoch();
    QProcess again;
    QVERIFY2(startSlowSource(again, port, 0.6, &error), qPrintable(error));
    auto gapAt = [&] {
        for (qsizetype i = burstEnd; i < written.size(); ++i)
            if (written[i].segment.gap)
                return i;
        return qsizetype(-1);
    };
    QTRY_VERIFY_WITH_TIMEOUT(gapAt() >= 0 && written.size() >= gapAt() + 3, 60000);
    recorder.stop(true);
    again.kill();
    again.waitForFinished(10000);
    const qsizetype afterGap = gapAt();
    {
        const ArchiveSegment &s = written[afterGap].segment;
        QVERIFY2(s.startMs >= backAt - 500 && s.startMs >= written[afterGap - 1].segment.endMs(),
                 qPrintable(QStringLiteral("gone at %1, back at %2\n%3").arg(goneAt % 100000).arg(backAt % 100000).arg(describe(afterGap - 3, written.size()))));
        const QStringList problems = checkAgainstClock(afterGap, written.size(), 4000);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs) + u"\n"_qs + describe(afterGap - 2, written.size())));
    }

    // The index on disk holds the same dates; the playlist dates every segment so, lasts what
    // the media lasts, and breaks at the gap only.
    const ArchiveReader reader = load(dir);
    QVERIFY(reader.finished());
    const QList<ArchiveSegment> segments = reader.segments();
    QTRY_COMPARE(written.size(), segments.size()); // the last one's signal is queued
    qsizetype gaps = 0;
    for (qsizetype i = 0; i < segments.size(); ++i) {
        ArchiveSegment listed = written[i].segment;
        listed.file = QFileInfo(segments[i].file).path() + QLatin1Char('/') + listed.file; // the reader's are relative to the archive
        QCOMPARE(segments[i], listed);
        gaps += segments[i].gap;
    }
    qInfo().noquote() << "a source at 0.6 of real time, stalled, gone and back:\n" << describe(0, written.size());
    QCOMPARE(gaps, 1);
    const QStringList problems = checkSegments(dir, segments, 1000);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs)));
    const QByteArray vod = recordingPlaylist(reader);
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(vod);
    QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs)));
    QCOMPARE(check.segments.size(), segments.size());
    double listed = 0;
    for (qsizetype i = 0; i < segments.size(); ++i) {
        QCOMPARE(check.segments[i].discontinuity, segments[i].gap);
        QCOMPARE(check.segments[i].programDateTime.toMSecsSinceEpoch(), segments[i].startMs);
        listed += segments[i].durationMs / 1000.0;
    }
    const QString playlistPath = QDir(dir).filePath(u"recording.m3u8"_qs);
    {
        QFile f(playlistPath);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(vod);
    }
    const double probed = ffprobeDuration(playlistPath, &error);
    QVERIFY2(probed > 0, qPrintable(error));
    QVERIFY2(qAbs(probed - listed) < 1.0, qPrintable(QStringLiteral("ffprobe: %1 s, the playlist: %2 s").arg(probed).arg(listed)));
}

// An HLS source whose playlist dates its segments (EXT-X-PROGRAM-DATE-TIME, as recast and
// ffmpeg write it): the archive's segments are dated by those dates, not by when they arrived
// (an HLS source arrives a segment at a time, and the demuxer starts three segments back from
// the live edge, all at once). Then the source stalls until the recorder drops it: on
// reconnecting, the demuxer reads again segments the archive holds; they are left out, not
// dated twice. Every segment of the archive starts at a date of the source, once, in order.
void TestRecorder::hlsSourceIsDatedByItsProgramDates()
{
    if (QStandardPaths::findExecutable(u"ffmpeg"_qs).isEmpty())
        QSKIP("ffmpeg is not installed: no HLS source with program dates");
    const QString source = m_dir.filePath(u"hls-pdt-source"_qs);
    QVERIFY(QDir().mkpath(source));
    const QString playlist = QDir(source).filePath(u"index.m3u8"_qs);
    QProcess ffmpeg;
    QString error;
    QVERIFY2(startHlsSource(ffmpeg, source, true, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(hlsSegments(playlist).size() >= 6, 40000);
    // (ffmpeg writes the zone as +0000.)
    const auto sourceDates = [&] {
        QList<qint64> dates;
        for (const QByteArray &line : fileBytes(playlist).split('\n')) {
            if (!line.startsWith("#EXT-X-PROGRAM-DATE-TIME:"))
                continue;
            QByteArray text = line.mid(25).trimmed();
            if (text.endsWith("+0000"))
                text.chop(5), text += 'Z';
            const QDateTime when = QDateTime::fromString(QString::fromLatin1(text), Qt::ISODateWithMs);
            if (when.isValid())
                dates << when.toMSecsSinceEpoch();
        }
        return dates;
    };
    QVERIFY2(sourceDates().size() >= 6, fileBytes(playlist).constData());

    const QString dir = m_dir.filePath(u"rec-hls-pdt"_qs);
    Recorder recorder;
    QList<ArchiveSegment> written;
    connect(&recorder, &Recorder::segmentWritten, this, [&](const ArchiveSegment &s) { written.append(s); });
    RecorderSettings settings;
    settings.source = playlist;
    settings.directory = dir;
    settings.segmentSeconds = 1;
    settings.readTimeoutMs = 2500;
    settings.backoffBaseMs = 200;
    settings.backoffCapMs = 400;
    const qint64 connectedMs = QDateTime::currentMSecsSinceEpoch();
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 6, 40000);
    // The demuxer began a few segments back from the live edge, read at once: dated back there.
    QVERIFY2(written.first().startMs < connectedMs - 1500,
             qPrintable(QStringLiteral("the first segment is dated %1 ms after connecting").arg(written.first().startMs - connectedMs)));

    // Stalled past the read timeout: a drop, and a reconnect that reads segments it holds.
    ::kill(pid_t(ffmpeg.processId()), SIGSTOP);
    const qsizetype beforeStall = written.size();
    QSignalSpy gaps(&recorder, &Recorder::gapStarted);
    QVERIFY(gaps.wait(20000));
    QTest::qWait(1500); // the reconnect reads the old segments again meanwhile
    ::kill(pid_t(ffmpeg.processId()), SIGCONT);
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= beforeStall + 5, 40000);
    recorder.stop(true);
    ffmpeg.kill();
    ffmpeg.waitForFinished(10000);

    const QList<qint64> dates = sourceDates();
    const QList<ArchiveSegment> segments = load(dir).segments();
    QStringList problems;
    for (qsizetype i = 0; i < segments.size(); ++i) {
        const ArchiveSegment &s = segments[i];
        // (The first frame's timestamp against the playlist's millisecond dates: within a few ms.)
        const bool dated = std::any_of(dates.cbegin(), dates.cend(), [&](qint64 d) { return qAbs(d - s.startMs) <= 5; });
        if (!dated)
            problems << QStringLiteral("segment %1 starts at %2, at no date of the source").arg(s.sequence).arg(s.startMs);
        if (i > 0 && s.startMs < segments[i - 1].endMs())
            problems << QStringLiteral("segment %1 starts at %2, before the one before ends (%3)")
                            .arg(s.sequence).arg(s.startMs).arg(segments[i - 1].endMs());
    }
    QStringList described;
    for (const ArchiveSegment &s : segments)
        described << QStringLiteral("%1: %2+%3%4").arg(s.sequence).arg(s.startMs % 100000).arg(s.durationMs).arg(s.gap ? u" gap"_qs : QString());
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs) + u"\n"_qs + described.join(u"\n"_qs)));
    QVERIFY2(segments.size() >= beforeStall + 5, qPrintable(described.join(u"\n"_qs)));
    const QStringList decoding = checkSegments(dir, segments, 1000);
    QVERIFY2(decoding.isEmpty(), qPrintable(decoding.join(u"\n"_qs)));
}

// An HLS source without program dates is dated by arrival; the demuxer reads three segments
// back from the live edge at once on connecting. That burst is held until media arrives in real
// time, then laid back to back before it: no segment's dates overlap another's, none runs ahead
// of the clock. (Dated by arrival, one at a time, they piled onto the same seconds.)
void TestRecorder::hlsBurstAtConnectIsLaidBackToBack()
{
    if (QStandardPaths::findExecutable(u"ffmpeg"_qs).isEmpty())
        QSKIP("ffmpeg is not installed: no HLS source");
    const QString source = m_dir.filePath(u"hls-burst-source"_qs);
    QVERIFY(QDir().mkpath(source));
    const QString playlist = QDir(source).filePath(u"index.m3u8"_qs);
    QProcess ffmpeg;
    QString error;
    QVERIFY2(startHlsSource(ffmpeg, source, false, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(hlsSegments(playlist).size() >= 6, 40000);

    const QString dir = m_dir.filePath(u"rec-hls-burst"_qs);
    Recorder recorder;
    struct Written
    {
        qint64 atMs;
        ArchiveSegment segment;
    };
    QList<Written> written;
    connect(&recorder, &Recorder::segmentWritten, this,
            [&](const ArchiveSegment &s) { written.append({QDateTime::currentMSecsSinceEpoch(), s}); });
    RecorderSettings settings;
    settings.source = playlist;
    settings.directory = dir;
    settings.segmentSeconds = 1;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 8, 40000);
    recorder.stop(true);
    ffmpeg.kill();
    ffmpeg.waitForFinished(10000);

    QStringList problems, described;
    for (qsizetype i = 0; i < written.size(); ++i) {
        const ArchiveSegment &s = written[i].segment;
        described << QStringLiteral("%1: %2+%3, written %4 ms after its end").arg(s.sequence).arg(s.startMs % 100000).arg(s.durationMs)
                         .arg(written[i].atMs - s.endMs());
        if (i > 0 && s.startMs < written[i - 1].segment.endMs())
            problems << QStringLiteral("segment %1 overlaps the one before by %2 ms").arg(s.sequence).arg(written[i - 1].segment.endMs() - s.startMs);
        if (s.startMs > written[i].atMs)
            problems << QStringLiteral("segment %1 is dated after it was written").arg(s.sequence);
        if (s.durationMs < 900)
            problems << QStringLiteral("segment %1 lasts %2 ms").arg(s.sequence).arg(s.durationMs);
    }
    // The burst: the first segments follow each other without a hole either.
    for (qsizetype i = 1; i < 3 && i < written.size(); ++i)
        if (written[i].segment.startMs != written[i - 1].segment.endMs())
            problems << QStringLiteral("segment %1 of the burst does not follow the one before").arg(written[i].segment.sequence);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs) + u"\n"_qs + described.join(u"\n"_qs)));
    const QStringList decoding = checkSegments(dir, load(dir).segments(), 1000);
    QVERIFY2(decoding.isEmpty(), qPrintable(decoding.join(u"\n"_qs)));
}

void TestRecorder::sourceDropIsOneRecordingWithGap()
{
    const QString dir = m_dir.filePath(u"rec-drop"_qs);
    Recorder recorder;
    QSignalSpy written(&recorder, &Recorder::segmentWritten);
    QSignalSpy gaps(&recorder, &Recorder::gapStarted);
    RecorderSettings settings;
    settings.source = url(u"/live/drop.ts"_qs);
    settings.directory = dir;
    settings.segmentSeconds = 1;
    settings.readTimeoutMs = 1500;
    settings.backoffBaseMs = 200;
    settings.backoffCapMs = 1000;
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 2, 20000);

    QCOMPARE(m_client->send("POST", u"/api/channels/drop/stop"_qs).status, 200);
    QTRY_VERIFY_WITH_TIMEOUT(gaps.size() >= 1, 10000); // perhaps already while the stop was answered
    QTRY_COMPARE_WITH_TIMEOUT(recorder.state(), Recorder::State::Reconnecting, 10000);
    QVERIFY2(!recorder.reason().isEmpty(), "reconnecting without a reason");
    const qsizetype before = written.size();
    QCOMPARE(m_client->send("POST", u"/api/channels/drop/start"_qs).status, 200);
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= before + 2, 40000);
    QCOMPARE(recorder.state(), Recorder::State::Recording);
    recorder.stop(true);

    const ArchiveReader reader = load(dir);
    QCOMPARE(reader.chunks().size(), 1); // one recording
    const QList<ArchiveSegment> segments = reader.segments();
    int gapCount = 0;
    for (const ArchiveSegment &s : segments)
        gapCount += s.gap ? 1 : 0;
    QCOMPARE(gapCount, 1);
    QVERIFY(recorder.stats().reconnects >= 1);
    const QStringList problems = checkSegments(dir, segments);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs)));
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(recordingPlaylist(reader));
    QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs)));
    int discontinuities = 0;
    for (const auto &s : check.segments)
        discontinuities += s.discontinuity ? 1 : 0;
    QCOMPARE(discontinuities, 1);
}

// The picture stops for 8 s while the sound goes on (a source that loses its video): segments
// are cut at keyframes, and none comes meanwhile, so the audio cuts them. No segment outlasts
// the playlist's EXT-X-TARGETDURATION (3 x segment_seconds, RFC 8216 4.3.3.1), and every second
// of the sound is listed. Before, the segment ran on until the picture came back: 9 s, the
// target raised mid-recording.
void TestRecorder::audioCutsWhileTheVideoIsGone()
{
    if (QStandardPaths::findExecutable(u"ffmpeg"_qs).isEmpty())
        QSKIP("ffmpeg is not installed: no source whose video stops");
    const QString dir = m_dir.filePath(u"rec-novideo"_qs);
    RecorderSettings settings;
    settings.directory = dir;
    settings.segmentSeconds = 1;
    settings.readTimeoutMs = 4000;
    // lavfiInputs() with the picture dropped from its 3rd to its 11th second, the timestamps kept.
    recordFfmpegRun(settings, [](QStringList &args) {
        const qsizetype video = args.indexOf(u"testsrc2=size=160x90:rate=25"_qs);
        const qsizetype audio = args.indexOf(u"sine=frequency=440:sample_rate=48000"_qs);
        QVERIFY(video > 0 && audio > 0);
        args[video] = u"testsrc2=size=160x90:rate=25:duration=16,select='not(between(t\\,3\\,11))'"_qs;
        args[audio] = u"sine=frequency=440:sample_rate=48000:duration=16"_qs;
        args << u"-fps_mode"_qs << u"passthrough"_qs;
    });
    if (QTest::currentTestFailed())
        return;
    QString error;

    const ArchiveReader reader = load(dir);
    const QList<ArchiveSegment> segments = reader.segments();
    QVERIFY(!segments.isEmpty());
    const QString listed = listing(segments);
    qint64 mediaMs = 0, longestMs = 0;
    for (const ArchiveSegment &s : segments) {
        mediaMs += s.durationMs;
        longestMs = qMax(longestMs, s.durationMs);
    }
    const int target = playlistTargetSeconds(settings.segmentSeconds);
    QCOMPARE(target, 3);
    QVERIFY2((longestMs + 500) / 1000 <= target, qPrintable(listed));
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(recordingPlaylist(reader, {}, target));
    QVERIFY2(check.ok && check.ended, qPrintable(check.problems.join(u"; "_qs)));
    QCOMPARE(check.targetDuration, target);
    // 16 s of sound, less what came before the first keyframe (and the connection's first moments).
    QVERIFY2(mediaMs >= 13000, qPrintable(u"%1 ms listed: "_qs.arg(mediaMs) + listed));
    // Cut at about segment_seconds while the picture is gone, not one segment for the 8 s.
    QVERIFY2(segments.size() >= 12, qPrintable(listed));
    // Picture and sound in sync once the picture is back: a segment begins with both (its
    // keyframe, the audio from there), not with video the 8 s hole behind its audio.
    for (qsizetype i = segments.size() - 2; i < segments.size(); ++i) {
        const auto first = ffprobeFirstPts(QDir(dir).filePath(segments[i].file), &error);
        QVERIFY2(first, qPrintable(error));
        QVERIFY2(qAbs(first->first - first->second) < 0.5,
                 qPrintable(QStringLiteral("%1: video starts at %2 s, audio at %3 s").arg(segments[i].file).arg(first->first).arg(first->second)));
    }
}

// A source whose keyframes come every 1.44 s with segment_seconds 2: the cut waited for the first
// keyframe at or after 2 s, so every segment lasted 2.88 s, almost twice what was asked. Now a
// keyframe cuts when that lands nearer to segment_seconds than the next one would (never below
// two thirds of it), as recast's segmenter does: 1.44 s segments.
void TestRecorder::earlyKeyframeCuts()
{
    if (QStandardPaths::findExecutable(u"ffmpeg"_qs).isEmpty() || QStandardPaths::findExecutable(u"ffprobe"_qs).isEmpty())
        QSKIP("ffmpeg and ffprobe are not installed: no source with long GOPs");
    const QString dir = m_dir.filePath(u"rec-earlykey"_qs);
    RecorderSettings settings;
    settings.directory = dir;
    settings.segmentSeconds = 2;
    recordFfmpegRun(settings, [](QStringList &args) {
        const qsizetype gop = args.indexOf(u"-g"_qs), minGop = args.indexOf(u"-keyint_min"_qs);
        const qsizetype video = args.indexOf(u"testsrc2=size=160x90:rate=25"_qs);
        const qsizetype audio = args.indexOf(u"sine=frequency=440:sample_rate=48000"_qs);
        QVERIFY(gop > 0 && minGop > 0 && video > 0 && audio > 0);
        args[gop + 1] = args[minGop + 1] = u"36"_qs; // 1.44 s at 25 frames/s
        args[video] += u":duration=10"_qs;
        args[audio] += u":duration=10"_qs;
    });
    if (QTest::currentTestFailed())
        return;
    QString error;

    const QList<ArchiveSegment> segments = load(dir).segments();
    const QString listed = listing(segments);
    // The last one ends where the source did.
    QVERIFY2(segments.size() >= 4, qPrintable(listed));
    for (qsizetype i = 0; i + 1 < segments.size(); ++i) {
        const double probed = ffprobeDuration(QDir(dir).filePath(segments[i].file), &error);
        QVERIFY2(probed > 0, qPrintable(error));
        QVERIFY2(probed >= 2 * 2.0 / 3 - 0.1 && probed <= 1.6,
                 qPrintable(QStringLiteral("%1: ffprobe reads %2 s; listed: %3").arg(segments[i].file).arg(probed).arg(listed)));
        QVERIFY2(segments[i].durationMs >= 1300 && segments[i].durationMs <= 1600, qPrintable(listed));
    }
}

void TestRecorder::killedRecorderResumes()
{
    const QString dir = m_dir.filePath(u"rec-killed"_qs);
    QProcess helper;
    helper.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    helper.start(QStringLiteral(DVR_RECORD_HELPER), {url(u"/live/one.ts"_qs), dir, u"1"_qs});
    QVERIFY2(helper.waitForStarted(), qPrintable(helper.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(load(dir).segments().size() >= 3, 30000);
    helper.kill(); // SIGKILL: no chance to write anything more
    QElapsedTimer sinceKill;
    sinceKill.start();
    const qint64 killedAtMs = QDateTime::currentMSecsSinceEpoch();
    QVERIFY(helper.waitForFinished());
    QCOMPARE(helper.exitStatus(), QProcess::CrashExit);

    const QList<ArchiveSegment> beforeRestart = load(dir).segments();
    QMap<QString, QByteArray> contents;
    for (const ArchiveSegment &s : beforeRestart)
        contents.insert(s.file, fileBytes(QDir(dir).filePath(s.file)));
    // Whatever the kill left: everything listed is there, whole.
    QStringList problems = checkSegments(dir, beforeRestart);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs)));
    // And a line the kill might have cut short is dropped, not misread.
    const QString index = QDir(dir).filePath(load(dir).chunks().first().name + u"/index.tsv"_qs);
    {
        QFile f(index);
        QVERIFY(f.open(QIODevice::Append));
        f.write("seg\t999\t1765");
    }

    const qint64 restartMs = sinceKill.elapsed();
    QVERIFY(recordAgain(dir, 1, 2, 20000));

    const ArchiveReader reader = load(dir);
    QCOMPARE(reader.chunks().size(), 1); // the same recording continued
    {
        // The gap: what the kill cut off (the segment in progress) and the restart.
        const QList<ArchiveSegment> s = reader.segments();
        const qint64 gapMs = s[beforeRestart.size()].startMs - beforeRestart.last().endMs();
        qInfo().noquote() << QStringLiteral("gap after kill -9: %1 ms (restart %2 ms after the kill; the last listed segment "
                                            "ended %3 ms before the kill)")
                                 .arg(gapMs)
                                 .arg(restartMs)
                                 .arg(killedAtMs - beforeRestart.last().endMs());
        QVERIFY2(gapMs <= restartMs + 2000 + 1000, qPrintable(QStringLiteral("%1 ms").arg(gapMs))); // + one 1 s segment cut off
    }
    QCOMPARE(reader.chunks().first().index.tornBytes, 0);
    QCOMPARE(reader.chunks().first().index.badLines, 0);
    const QList<ArchiveSegment> after = reader.segments();
    QVERIFY(after.size() >= beforeRestart.size() + 2);
    for (qsizetype i = 0; i < beforeRestart.size(); ++i) {
        QCOMPARE(after[i], beforeRestart[i]);
        QCOMPARE(fileBytes(QDir(dir).filePath(after[i].file)), contents.value(after[i].file)); // untouched
    }
    const ArchiveSegment &resumed = after[beforeRestart.size()];
    QCOMPARE(resumed.sequence, beforeRestart.last().sequence + 1);
    QVERIFY2(resumed.gap, "the first segment after the restart does not mark the gap");
    QVERIFY(resumed.startMs >= beforeRestart.last().endMs());
    problems = checkSegments(dir, after);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs)));
    QVERIFY(reader.finished());
}

void TestRecorder::killedMidSegmentListsItsJournal()
{
    // Long segments: a kill in the middle of one would lose seconds without the journal.
    const QString dir = m_dir.filePath(u"rec-journal"_qs);
    QProcess helper;
    helper.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    helper.start(QStringLiteral(DVR_RECORD_HELPER), {url(u"/live/one.ts"_qs), dir, u"6"_qs});
    QVERIFY2(helper.waitForStarted(), qPrintable(helper.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(load(dir).segments().size() >= 1, 30000);
    // Until the journal of the next segment holds 2.5 s of it.
    const QString journalLog = QDir(dir).filePath(u".journal.log"_qs);
    auto journaledMs = [&](qint64 sequence) -> qint64 {
        QFile f(journalLog);
        if (!f.open(QIODevice::ReadOnly))
            return 0;
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        const QList<QByteArray> last = lines.last().split(' ');
        return last.size() == 5 && last[0].toLongLong() == sequence ? last[3].toLongLong() : 0;
    };
    const qint64 inProgress = load(dir).segments().last().sequence + 1;
    QTRY_VERIFY_WITH_TIMEOUT(journaledMs(inProgress) >= 2500 || load(dir).segments().last().sequence >= inProgress, 20000);
    if (load(dir).segments().last().sequence >= inProgress)
        QSKIP("the segment was cut before 2.5 s of it were journaled (a source with short GOPs?)");
    helper.kill();
    QElapsedTimer sinceKill;
    sinceKill.start();
    QVERIFY(helper.waitForFinished());
    const QList<ArchiveSegment> beforeRestart = load(dir).segments();
    QCOMPARE(beforeRestart.last().sequence, inProgress - 1);

    const qint64 restartMs = sinceKill.elapsed();
    QVERIFY(recordAgain(dir, 6, 1, 30000));

    const QList<ArchiveSegment> after = load(dir).segments();
    QVERIFY(after.size() >= beforeRestart.size() + 2);
    // The journal became the next segment: where the last one ended, no gap before it, the
    // 2.5 s and more it held, whole TS packets that decode.
    const ArchiveSegment &recovered = after[beforeRestart.size()];
    QCOMPARE(recovered.sequence, inProgress);
    QVERIFY(!recovered.gap);
    QVERIFY2(recovered.durationMs >= 2500, qPrintable(QString::number(recovered.durationMs)));
    // (Later than that only by what a headend slower than the clock under load lagged: dated by
    // when the media arrived, the dates of a slow source lie further apart than it lasts.)
    const qint64 afterLastMs = recovered.startMs - beforeRestart.last().endMs();
    QVERIFY2(afterLastMs >= 0 && afterLastMs <= beforeRestart.last().durationMs, qPrintable(QStringLiteral("%1 ms").arg(afterLastMs)));
    QCOMPARE(recovered.bytes % 188, 0);
    // Then the gap: what came after the last journal entry, and the restart.
    const ArchiveSegment &next = after[beforeRestart.size() + 1];
    QVERIFY2(next.gap, "the first segment after the restart does not mark the gap");
    const qint64 gapMs = next.startMs - recovered.endMs();
    qInfo().noquote() << QStringLiteral("kill -9 in a 6 s segment: %1 ms of it kept from the journal, gap %2 ms (restart %3 ms)")
                             .arg(recovered.durationMs)
                             .arg(gapMs)
                             .arg(restartMs);
    QVERIFY2(gapMs >= 0 && gapMs <= restartMs + 2000, qPrintable(QStringLiteral("%1 ms").arg(gapMs)));
    const QStringList problems = checkSegments(dir, after, 6000);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs)));
    // Finished: no journal left behind.
    QVERIFY(!QFile::exists(journalLog));
    QVERIFY(!QFile::exists(QDir(dir).filePath(u".journal.ts"_qs)));

    // An outside player reads the recording with its recovered segment: the VOD playlist passes
    // the RFC 8216 checker, and ffprobe reads every packet of it, as many video frames as the
    // index lists time (25 fps; a frame or two more or less a segment), the recovered segment's own too.
    const QByteArray vod = recordingPlaylist(load(dir));
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(vod);
    QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs)));
    QVERIFY(check.ended);
    const QString playlistPath = QDir(dir).filePath(u"recording.m3u8"_qs);
    {
        QFile f(playlistPath);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(vod);
    }
    if (QStandardPaths::findExecutable(u"ffprobe"_qs).isEmpty())
        QSKIP("ffprobe is not installed: the recovered recording was checked by our own readers only");
    QString error;
    const std::optional<FfprobeCount> one = ffprobeCount(QDir(dir).filePath(recovered.file), &error);
    QVERIFY2(one, qPrintable(error));
    qInfo().noquote() << QStringLiteral("ffprobe, the recovered segment: %1 video and %2 audio packets for %3 ms listed")
                             .arg(one->videoPackets)
                             .arg(one->audioPackets)
                             .arg(recovered.durationMs);
    QVERIFY2(qAbs(one->videoPackets - recovered.durationMs / 40) <= 2, qPrintable(QString::number(one->videoPackets)));
    QVERIFY(one->audioPackets > 0);
    const std::optional<FfprobeCount> all = ffprobeCount(playlistPath, &error);
    QVERIFY2(all, qPrintable(error));
    qint64 listedMs = 0;
    for (const ArchiveSegment &s : after)
        listedMs += s.durationMs;
    qInfo().noquote() << QStringLiteral("ffprobe, the playlist: %1 s, %2 video and %3 audio packets for %4 ms listed in %5 segments")
                             .arg(all->durationSeconds)
                             .arg(all->videoPackets)
                             .arg(all->audioPackets)
                             .arg(listedMs)
                             .arg(after.size());
    QVERIFY2(qAbs(all->durationSeconds - listedMs / 1000.0) < 0.5, qPrintable(QString::number(all->durationSeconds)));
    QVERIFY2(qAbs(all->videoPackets - listedMs / 40) <= 2 * after.size(), qPrintable(QString::number(all->videoPackets)));
    QVERIFY(all->audioPackets > 0);
}

/// Whether the process `pid` is stopped (SIGSTOP took effect).
static bool processStopped(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return false;
    const QByteArray text = stat.readAll();
    const qsizetype end = text.lastIndexOf(')'); // the name may hold spaces
    return end > 0 && text.mid(end + 2, 1) == "T";
}

void TestRecorder::staleWriterIsFencedAfterTakeover()
{
    // Node A records (epoch 1) and is stopped past its lease (SIGSTOP: a frozen VM, a process
    // paused); node B takes the recording over (epoch 2) in the same folder. A, woken, must add
    // nothing: its next segment is refused, it says why and stops. Then B is killed with SIGKILL
    // and its node records on (epoch 3): everything B wrote stays, and the recording plays.
    const QString dir = m_dir.filePath(u"rec-fenced"_qs);
    QProcess stale;
    stale.setProcessChannelMode(QProcess::MergedChannels);
    stale.start(QStringLiteral(DVR_RECORD_HELPER), {url(u"/live/one.ts"_qs), dir, u"1"_qs, u"2000"_qs, u"1"_qs});
    QVERIFY2(stale.waitForStarted(), qPrintable(stale.errorString()));
    auto cleanup = qScopeGuard([&] {
        if (stale.state() != QProcess::NotRunning) {
            ::kill(pid_t(stale.processId()), SIGCONT);
            stale.kill();
            stale.waitForFinished();
        }
    });
    QTRY_VERIFY_WITH_TIMEOUT(load(dir).segments().size() >= 2, 30000);
    QVERIFY(::kill(pid_t(stale.processId()), SIGSTOP) == 0);
    QTRY_VERIFY(processStopped(stale.processId()));
    const QList<ArchiveSegment> beforeTakeover = load(dir).segments();

    QProcess holder;
    holder.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    holder.start(QStringLiteral(DVR_RECORD_HELPER), {url(u"/live/one.ts"_qs), dir, u"1"_qs, u"2000"_qs, u"2"_qs});
    QVERIFY2(holder.waitForStarted(), qPrintable(holder.errorString()));
    auto ofEpoch = [](const QList<ArchiveSegment> &segments, qint64 epoch) {
        return std::count_if(segments.cbegin(), segments.cend(), [epoch](const ArchiveSegment &s) { return s.epoch == epoch; });
    };
    QTRY_VERIFY_WITH_TIMEOUT(ofEpoch(load(dir).segments(), 2) >= 3, 30000);
    QCOMPARE(ArchiveWriter::folderEpoch(dir), 2);

    // A wakes up: its next segment is refused, and it stops by itself, saying why.
    QVERIFY(::kill(pid_t(stale.processId()), SIGCONT) == 0);
    QVERIFY(stale.waitForFinished(30000));
    const QString staleLog = QString::fromLocal8Bit(stale.readAll());
    QCOMPARE(stale.exitCode(), 3);
    QVERIFY2(staleLog.contains(u"refused: the folder's epoch is 2, this writer's 1") && staleLog.contains(u"fenced"),
             qPrintable(staleLog));

    // Nothing of A's after the takeover: its segments are those listed before, no line of it
    // came after B's (none skipped by the reader either: it was refused before its line), and no
    // file of its epoch is there that is not listed.
    QTRY_VERIFY_WITH_TIMEOUT(ofEpoch(load(dir).segments(), 2) >= 5, 30000); // B records on meanwhile
    const ArchiveReader afterWake = load(dir);
    QCOMPARE(afterWake.chunks().size(), 1);
    QCOMPARE(afterWake.chunks().first().index.staleLines, 0);
    const QList<ArchiveSegment> listed = afterWake.segments();
    QStringList listedOfA;
    for (qsizetype i = 0; i < listed.size(); ++i) {
        QVERIFY2(i == 0 || listed[i].epoch >= listed[i - 1].epoch, qPrintable(listed[i].file));
        if (listed[i].epoch == 1)
            listedOfA << listed[i].file.section(u'/', 1);
    }
    QCOMPARE(listedOfA.size(), ofEpoch(beforeTakeover, 1));
    const QString chunkDir = QDir(dir).filePath(afterWake.chunks().first().name);
    QCOMPARE(QDir(chunkDir).entryList({u"seg-*-e1.ts"_qs}, QDir::Files, QDir::Name), listedOfA);

    // B killed with SIGKILL; its node records on with the next epoch.
    holder.kill();
    QVERIFY(holder.waitForFinished());
    const QList<ArchiveSegment> beforeKill = load(dir).segments();
    QVERIFY(recordAgain(dir, 1, 2, 30000, 3));
    const QList<ArchiveSegment> after = load(dir).segments();
    QVERIFY(after.size() >= beforeKill.size() + 2);
    QCOMPARE(after.mid(0, beforeKill.size()), beforeKill);
    QCOMPARE(ArchiveWriter::folderEpoch(dir), 3);
    QCOMPARE(load(dir).chunks().first().index.staleLines, 0);
    const QStringList problems = checkSegments(dir, after);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs)));

    // It plays: the RFC 8216 checker and ffprobe read the whole recording.
    const QByteArray vod = recordingPlaylist(load(dir));
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(vod);
    QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs)));
    QVERIFY(check.ended);
    QCOMPARE(check.segments.size(), after.size());
    if (QStandardPaths::findExecutable(u"ffprobe"_qs).isEmpty())
        QSKIP("ffprobe is not installed: the recording was checked by our own readers only");
    const QString playlistPath = QDir(dir).filePath(u"recording.m3u8"_qs);
    {
        QFile f(playlistPath);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(vod);
    }
    QString error;
    qint64 listedMs = 0;
    for (const ArchiveSegment &s : after)
        listedMs += s.durationMs;
    const double seconds = ffprobeDuration(playlistPath, &error);
    QVERIFY2(seconds > 0, qPrintable(error));
    QVERIFY2(qAbs(seconds - listedMs / 1000.0) < 0.5 + 0.05 * after.size(), qPrintable(QString::number(seconds)));
}

void TestRecorder::fullDisk()
{
    const QString dir = m_dir.filePath(u"rec-full"_qs);
    Recorder recorder;
    QSignalSpy written(&recorder, &Recorder::segmentWritten);
    std::atomic<qint64> free{1'000'000'000};
    std::atomic<int> retentionAsked{0};
    recorder.setFreeSpace([&](const QString &) { return free.load(); });
    recorder.setSpaceRecovery([&](qint64) {
        ++retentionAsked;
        return 0; // nothing left to delete
    });
    RecorderSettings settings;
    settings.source = url(u"/live/one.ts"_qs);
    settings.directory = dir;
    settings.segmentSeconds = 1;
    settings.minFreeBytes = 500'000'000;
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 2, 20000);
    const QList<ArchiveSegment> beforeFull = load(dir).segments();

    free = 400'000'000; // the disk filled
    QTRY_COMPARE_WITH_TIMEOUT(recorder.state(), Recorder::State::Error, 10000);
    QVERIFY(retentionAsked >= 1);
    const QString reason = recorder.reason();
    QVERIFY2(reason.contains(dir) && reason.contains(QLatin1String("minimum")) && reason.contains(QLatin1String("free")),
             qPrintable(reason));
    QVERIFY(recorder.stats().segmentsLost >= 1);
    const QList<ArchiveSegment> whileFull = load(dir).segments();
    QVERIFY(whileFull.size() >= beforeFull.size()); // nothing written is lost
    for (qsizetype i = 0; i < beforeFull.size(); ++i)
        QCOMPARE(whileFull[i], beforeFull[i]);

    const qsizetype count = written.size();
    free = 1'000'000'000; // space again (an operator, or retention elsewhere)
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= count + 1, 10000);
    QCOMPARE(recorder.state(), Recorder::State::Recording);
    recorder.stop(true);
    const QList<ArchiveSegment> all = load(dir).segments();
    const ArchiveSegment &firstAfter = all[whileFull.size()];
    QVERIFY2(firstAfter.gap, "the segment after the lost ones does not mark the gap");
    const QStringList problems = checkSegments(dir, all);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs)));
}

// A stop the disk makes slow (diver stops a recording this way: a deleted copy, a lost lease):
// requestStop() returns at once and the event loop runs on while the writer still waits for the
// disk; stopped() comes once the last segment and the index are on the disk, the recording
// complete, every segment cut listed.
void TestRecorder::stopDoesNotWaitForTheDisk()
{
    const QString dir = m_dir.filePath(u"rec-slowstop"_qs);
    testutil::DiskGate disk;
    Recorder recorder;
    QSignalSpy written(&recorder, &Recorder::segmentWritten);
    QSignalSpy finished(&recorder, &Recorder::finished);
    QSignalSpy stopped(&recorder, &Recorder::stopped);
    recorder.setFreeSpace([&](const QString &) { return disk.probe(); });
    RecorderSettings settings;
    settings.source = url(u"/live/one.ts"_qs);
    settings.directory = dir;
    settings.segmentSeconds = 1;
    settings.minFreeBytes = 1; // the probe is asked before every segment
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 2, 20000);

    disk.close();
    QTRY_COMPARE_WITH_TIMEOUT(disk.waiting(), 1, 10000); // a segment in hand, the disk stalled
    QElapsedTimer took;
    took.start();
    recorder.requestStop(true);
    // A stop that waited for the disk would take until the gate opens itself (20 s); a loaded
    // machine may hold this thread up for a while, so a quarter of that.
    QVERIFY2(took.elapsed() < 5000, qPrintable(QString::number(took.elapsed())));
    int ticks = 0;
    QTimer timer;
    connect(&timer, &QTimer::timeout, this, [&] { ++ticks; });
    timer.start(50);
    QTRY_VERIFY_WITH_TIMEOUT(ticks >= 10, 5000); // the loop runs while the stop is pending
    QCOMPARE(stopped.size(), 0);
    QVERIFY(!recorder.isStopped());
    QCOMPARE(finished.size(), 0);

    disk.open();
    QVERIFY(stopped.wait(20000));
    QCOMPARE(stopped.size(), 1);
    QCOMPARE(finished.size(), 1); // said before stopped()
    QVERIFY(recorder.isStopped());
    QCOMPARE(recorder.state(), Recorder::State::Finished);
    const ArchiveReader reader = load(dir);
    QVERIFY(reader.finished());
    const QList<ArchiveSegment> segments = reader.segments();
    QCOMPARE(segments.size(), qsizetype(recorder.stats().segments));
    QCOMPARE(segments.size(), written.size()); // every segmentWritten() came before stopped()
    QVERIFY(segments.size() >= 3);             // the one the disk held up, and the tail, too
    const QStringList problems = checkSegments(dir, segments);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs)));
}

void TestRecorder::writeInProgressIsRefusedAfterTheFenceStopped()
{
    // The writer is inside a segment's write (the disk stalled) when its write fence closes and
    // another writer takes the folder over (a higher epoch). The reader's thread stops the
    // recorder first; the write it was in is refused by the folder when the disk answers, and
    // that is still said (tst_divernodes once waited for the one message of whichever came first).
    const QString dir = m_dir.filePath(u"rec-fence-race"_qs);
    testutil::DiskGate disk;
    Recorder recorder;
    QSignalSpy written(&recorder, &Recorder::segmentWritten);
    QSignalSpy stopped(&recorder, &Recorder::stopped);
    std::atomic<bool> mayWrite{true};
    recorder.setFreeSpace([&](const QString &) { return disk.probe(); });
    RecorderSettings settings;
    settings.source = url(u"/live/one.ts"_qs);
    settings.directory = dir;
    settings.segmentSeconds = 1;
    settings.minFreeBytes = 1; // the probe is asked inside every segment's write
    settings.epoch = 1;
    settings.writeFence = [&] { return mayWrite.load(); };
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 2, 20000);

    disk.close();
    QTRY_COMPARE_WITH_TIMEOUT(disk.waiting(), 1, 10000); // inside a segment's write
    QFile marker(QDir(dir).filePath(u".epoch-2"_qs));   // another node's writer took the folder
    QVERIFY(marker.open(QIODevice::WriteOnly));
    marker.close();
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u".*may no longer write it.*the recorder stops.*"_qs));
    mayWrite = false;
    QTRY_VERIFY_WITH_TIMEOUT(recorder.fenced(), 10000); // the reader's thread, between packets
    const qsizetype listed = load(dir).segments().size();

    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(u".*refused: the folder's epoch is 2, this writer's 1 .* the write in progress when "
                                            "the recorder stopped is not listed"_qs));
    disk.open();
    QVERIFY(stopped.size() == 1 || stopped.wait(20000));
    const ArchiveReader after = load(dir);
    QCOMPARE(after.segments().size(), listed); // the refused write is not listed …
    QCOMPARE(after.chunks().size(), 1);
    const QStringList files = QDir(QDir(dir).filePath(after.chunks().first().name)).entryList({u"seg-*.ts"_qs}, QDir::Files);
    QCOMPARE(files.size(), listed); // … nor left behind
}

QTEST_GUILESS_MAIN(TestRecorder)
#include "tst_recorder.moc"
