// How the recorder dates what it records, against ffmpeg sources (no headend): an HLS source's
// EXT-X-PROGRAM-DATE-TIME that drifts from its media's clock and then jumps (followed, the
// segment cut where it jumps), a burst in the middle of a connection (a source that stalls
// without dropping, then delivers its backlog at once: laid back to back, no hole, no overlap),
// and the burst a connection begins with, held, killed with SIGKILL and resumed (its segments
// are journaled and listed after the restart), and source segments an HLS source's playlist
// moved past before they were read (a gap marked where they are missing). Every segment's EXTINF is checked against what
// ffprobe counts in its file: a segment that begins inside what the archive holds is cut at a
// keyframe, never listed shorter than its media.

#include "recordertestsupport.h"
#include "../media/liveorigin.h"

#include <dvr/playout.h>
#include <dvr/recorder.h>
#include <media/ffmpeg.h>
#include <media/hlsplaylist.h>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QUdpSocket>

#include <csignal>
#include <cstdio>
#include <limits>

using namespace iptv::dvr;
using namespace recordertest;

namespace {

QString describe(const QList<ArchiveSegment> &segments)
{
    QStringList out;
    for (const ArchiveSegment &s : segments)
        out << QStringLiteral("%1: %2+%3%4").arg(s.sequence).arg(s.startMs % 1000000).arg(s.durationMs).arg(s.gap ? u" gap"_qs : QString());
    return out.join(u"\n"_qs);
}

/// Video frames ffprobe reads in `path` (-1 with *error when it cannot).
qint64 ffprobeVideoFrames(const QString &path, QString *error)
{
    QProcess p;
    p.start(u"ffprobe"_qs, {u"-v"_qs, u"error"_qs, u"-count_packets"_qs, u"-select_streams"_qs, u"v:0"_qs, u"-show_entries"_qs,
                           u"stream=nb_read_packets"_qs, u"-of"_qs, u"default=nw=1:nk=1"_qs, path});
    if (!p.waitForFinished(60000) || p.exitCode() != 0) {
        *error = QStringLiteral("ffprobe %1: %2").arg(path, QString::fromLocal8Bit(p.readAllStandardError()));
        return -1;
    }
    bool ok = false;
    // (Said once for the program and once for the stream.)
    const qint64 frames = QString::fromLocal8Bit(p.readAllStandardOutput()).trimmed().section(u'\n', 0, 0).toLongLong(&ok);
    if (!ok)
        *error = QStringLiteral("ffprobe %1: no frame count").arg(path);
    return ok ? frames : -1;
}

/// Every segment lasts (EXTINF) what its media does (25 fps: 40 ms a frame), within a frame;
/// none overlaps the one before; sequences follow each other.
QStringList checkSegments(const QString &dir, const QList<ArchiveSegment> &segments)
{
    QStringList problems;
    for (qsizetype i = 0; i < segments.size(); ++i) {
        const ArchiveSegment &s = segments[i];
        QString error;
        const qint64 frames = ffprobeVideoFrames(QDir(dir).filePath(s.file), &error);
        if (frames < 0)
            problems << error;
        else if (qAbs(frames * 40 - s.durationMs) > 41)
            problems << QStringLiteral("%1 is listed %2 ms long, ffprobe reads %3 frames (%4 ms)")
                            .arg(s.file).arg(s.durationMs).arg(frames).arg(frames * 40);
        if (i > 0 && s.startMs < segments[i - 1].endMs())
            problems << QStringLiteral("%1 starts at %2, before the one before ends (%3)").arg(s.file).arg(s.startMs).arg(segments[i - 1].endMs());
        if (i > 0 && s.sequence != segments[i - 1].sequence + 1)
            problems << QStringLiteral("%1 follows sequence %2").arg(s.file).arg(segments[i - 1].sequence);
    }
    return problems;
}

int segmentsIn(const QString &playlist)
{
    return int(iptv::media::checkMediaPlaylist(fileBytes(playlist)).segments.size());
}

qint64 parseDate(QByteArray text)
{
    text = text.trimmed();
    if (text.endsWith("+0000"))
        text.chop(5), text += 'Z';
    const QDateTime when = QDateTime::fromString(QString::fromLatin1(text), Qt::ISODateWithMs);
    return when.isValid() ? when.toMSecsSinceEpoch() : 0;
}

/// A copy of ffmpeg's playlist whose program dates are moved: segment k by shiftMs + k * driftMs,
/// and by jumpMs more from segment jumpFrom on (a source whose dates drift from its media, then
/// jump). Segments are named by their absolute paths.
struct DateRewriter
{
    QString source, target;
    qint64 shiftMs = 0, driftMs = 0, jumpMs = 0;
    int jumpFrom = std::numeric_limits<int>::max();
    QList<qint64> dates; ///< of every segment, as written

    void update()
    {
        const QByteArray text = fileBytes(source);
        const QString folder = QFileInfo(source).absolutePath();
        QByteArray out;
        qsizetype complete = 0; // up to the last segment line: never a half-written entry
        QList<qint64> written;
        int k = 0;
        for (const QByteArray &raw : text.left(text.lastIndexOf('\n') + 1).split('\n')) {
            const QByteArray line = raw.trimmed();
            if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) {
                const qint64 parsed = parseDate(line.mid(25));
                if (parsed == 0) {
                    // Written on as 0 plus the shift, it would date the relay's segments in 1970
                    // (a recorder refusing them said "dated 1796662273.9 s before its arrival"):
                    // the last playlist stays until ffmpeg's reads.
                    qWarning().noquote() << source << ": a date not read:" << line;
                    return;
                }
                const qint64 d = parsed + shiftMs + k * driftMs + (k >= jumpFrom ? jumpMs : 0);
                written << d;
                out += "#EXT-X-PROGRAM-DATE-TIME:" + QDateTime::fromMSecsSinceEpoch(d, Qt::UTC).toString(Qt::ISODateWithMs).toLatin1() + '\n';
            } else if (!line.isEmpty() && !line.startsWith('#')) {
                out += QDir(folder).filePath(QString::fromUtf8(line)).toUtf8() + '\n';
                complete = out.size();
                ++k;
            } else if (!line.isEmpty()) {
                out += line + '\n';
            }
        }
        if (k == 0)
            return;
        out.truncate(complete);
        written.resize(k);
        QFile tmp(target + u".tmp"_qs);
        if (!tmp.open(QIODevice::WriteOnly) || tmp.write(out) != out.size())
            return;
        tmp.close();
        if (std::rename(QFile::encodeName(tmp.fileName()).constData(), QFile::encodeName(target).constData()) == 0)
            dates = written;
    }
};

} // namespace

class TestRecorderDating : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void hlsProgramDatesAreFollowedWhenTheyDriftOrJump();
    void burstMidConnectionIsLaidBackToBack();
    void heldBurstIsJournaledAndResumedAfterKill();
    void skippedSourceSegmentsAreMarkedAsAGap();

private:
    QTemporaryDir m_dir;
};

void TestRecorderDating::initTestCase()
{
    QVERIFY(m_dir.isValid());
    av_log_set_level(AV_LOG_ERROR); // the HLS demuxer's chatter
    if (QStandardPaths::findExecutable(u"ffmpeg"_qs).isEmpty() || QStandardPaths::findExecutable(u"ffprobe"_qs).isEmpty())
        QSKIP("ffmpeg and ffprobe are needed: the sources and the check of every segment");
}

// The source's program dates run 60 ms a segment ahead of its media's clock, 10 s behind our
// clock, and jump 4 s forward at a segment chosen while recording. Anchored once, the archive
// kept the media's clock (off by seconds by the end); followed, every segment starts within
// 250 ms (the bound at which dates are taken again) of the source's date for it, and the
// segment where the source jumps starts at its date, after a hole (no gap: the media goes on).
void TestRecorderDating::hlsProgramDatesAreFollowedWhenTheyDriftOrJump()
{
    const QString source = m_dir.filePath(u"pdt-source"_qs), relay = m_dir.filePath(u"pdt-relay"_qs);
    QVERIFY(QDir().mkpath(source) && QDir().mkpath(relay));
    QProcess ffmpeg;
    QString error;
    QVERIFY2(startHlsSource(ffmpeg, source, true, &error), qPrintable(error));
    DateRewriter rewriter{QDir(source).filePath(u"index.m3u8"_qs), QDir(relay).filePath(u"index.m3u8"_qs), -10000, 60, 4000};
    QTimer rewriting;
    connect(&rewriting, &QTimer::timeout, this, [&] { rewriter.update(); });
    rewriting.start(100);
    QTRY_VERIFY_WITH_TIMEOUT(rewriter.dates.size() >= 6, 40000);

    const QString dir = m_dir.filePath(u"rec-pdt-drift"_qs);
    Recorder recorder;
    QList<ArchiveSegment> written;
    connect(&recorder, &Recorder::segmentWritten, this, [&](const ArchiveSegment &s) { written.append(s); });
    RecorderSettings settings;
    settings.source = rewriter.target;
    settings.directory = dir;
    settings.segmentSeconds = 1;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 4, 40000);
    // The jump: two segments after what the source has now (not yet read by anyone).
    rewriter.jumpFrom = int(rewriter.dates.size()) + 2;
    QTRY_VERIFY_WITH_TIMEOUT(rewriter.dates.size() > rewriter.jumpFrom + 6 && !written.isEmpty()
                                 && written.last().startMs > rewriter.dates[rewriter.jumpFrom] + 3000,
                             60000);
    recorder.stop(true);
    rewriting.stop();
    ffmpeg.kill();
    ffmpeg.waitForFinished(10000);

    const QList<qint64> dates = rewriter.dates;
    const QList<ArchiveSegment> segments = load(dir).segments();
    QStringList problems;
    bool jumpDated = false;
    for (const ArchiveSegment &s : segments) {
        qint64 nearest = std::numeric_limits<qint64>::max();
        for (qint64 d : dates)
            nearest = qAbs(d - s.startMs) < qAbs(nearest) ? d - s.startMs : nearest;
        if (qAbs(nearest) > 255)
            problems << QStringLiteral("segment %1 starts at %2, %3 ms from the source's nearest date")
                            .arg(s.sequence).arg(s.startMs % 1000000).arg(nearest);
        jumpDated = jumpDated || qAbs(s.startMs - dates[rewriter.jumpFrom]) <= 5;
        if (s.gap)
            problems << QStringLiteral("segment %1 marks a gap").arg(s.sequence);
    }
    if (!jumpDated)
        problems << QStringLiteral("no segment starts where the source jumped (%1)").arg(dates[rewriter.jumpFrom] % 1000000);
    QStringList sourceDates;
    for (qint64 d : dates)
        sourceDates << QString::number(d % 1000000);
    const QString context = u"\nrecorded:\n"_qs + describe(segments) + u"\nthe source's dates: "_qs + sourceDates.join(u' ');
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs) + context));
    QVERIFY2(recorder.stats().programDateChanges >= 2, qPrintable(QString::number(recorder.stats().programDateChanges) + context));
    const QStringList media = checkSegments(dir, segments);
    QVERIFY2(media.isEmpty(), qPrintable(media.join(u"\n"_qs) + context));
}

// An MPEG-TS source reaches the recorder 4 s late (a relay between ffmpeg and the recorder
// holds every datagram that long), then catches up: the relay sends what it holds at once and
// passes the rest on as it comes (a headend catching up). The media arrived in real time is
// dated by its arrival, 4 s after it aired; the backlog is 4 s more than the clock has room
// for. Dated by arrival one at a time, the backlog's segments overlapped the timeline and were
// trimmed in the index (listed shorter than their media), or pushed later. Held until media
// arrives in real time again and laid back to back before it, what begins inside what is
// recorded is left out, cut at a keyframe: no overlap, no hole beyond what a real-time source
// under load shows, every segment as long as its media.
void TestRecorderDating::burstMidConnectionIsLaidBackToBack()
{
    QUdpSocket in, out;
    QVERIFY(in.bind(QHostAddress::LocalHost, 0));
    in.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4 * 1024 * 1024);
    quint16 port = 0;
    {
        QUdpSocket probe;
        QVERIFY(probe.bind(QHostAddress::LocalHost, 0));
        port = probe.localPort();
    }
    constexpr qint64 kDelayMs = 4000;
    bool delaying = true;
    QList<QPair<qint64, QByteArray>> held; // datagrams and when they came
    auto forward = [&](const QByteArray &datagram) { out.writeDatagram(datagram, QHostAddress::LocalHost, port); };
    connect(&in, &QUdpSocket::readyRead, this, [&] {
        while (in.hasPendingDatagrams()) {
            QByteArray datagram(int(in.pendingDatagramSize()), Qt::Uninitialized);
            datagram.resize(in.readDatagram(datagram.data(), datagram.size()));
            if (delaying)
                held.append({QDateTime::currentMSecsSinceEpoch(), datagram});
            else
                forward(datagram);
        }
    });
    QTimer release;
    connect(&release, &QTimer::timeout, this, [&] {
        const qint64 dueMs = QDateTime::currentMSecsSinceEpoch() - kDelayMs;
        while (!held.isEmpty() && held.first().first <= dueMs)
            forward(held.takeFirst().second);
    });
    release.start(10);
    const QString dir = m_dir.filePath(u"rec-burst-mid"_qs);
    Recorder recorder;
    QList<ArchiveSegment> written;
    connect(&recorder, &Recorder::segmentWritten, this, [&](const ArchiveSegment &s) { written.append(s); });
    RecorderSettings settings;
    settings.source = QStringLiteral("udp://127.0.0.1:%1").arg(port);
    settings.directory = dir;
    settings.segmentSeconds = 2; // (shorter ones are placed by the least delay of two: no burst to see)
    settings.readTimeoutMs = 10000;
    settings.openTimeoutMs = 20000;
    QString error;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QProcess ffmpeg;
    QVERIFY2(startFfmpeg(ffmpeg, lavfiInputs(u"1"_qs) << u"-f"_qs << u"mpegts"_qs << QStringLiteral("udp://127.0.0.1:%1?pkt_size=1316").arg(in.localPort()), &error),
             qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 5, 60000);
    // Caught up: what the relay holds at once, then the rest as it comes.
    release.stop();
    delaying = false;
    qInfo() << "the backlog:" << held.size() << "datagrams at once";
    for (const auto &datagram : std::exchange(held, {}))
        forward(datagram.second);
    const qsizetype beforeBurst = written.size();
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= beforeBurst + 6, 60000);
    recorder.stop(true);
    ffmpeg.kill();
    ffmpeg.waitForFinished(10000);

    const QList<ArchiveSegment> segments = load(dir).segments();
    QStringList problems;
    for (qsizetype i = 1; i < segments.size(); ++i) {
        const qint64 holeMs = segments[i].startMs - segments[i - 1].endMs();
        if (holeMs > 1000)
            problems << QStringLiteral("a hole of %1 ms before segment %2").arg(holeMs).arg(segments[i].sequence);
        if (segments[i].gap)
            problems << QStringLiteral("segment %1 marks a gap").arg(segments[i].sequence);
    }
    const QString context = u"\nrecorded:\n"_qs + describe(segments);
    qInfo().noquote() << "4 s late, then caught up at once:" << context;
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"\n"_qs) + context));
    const QStringList media = checkSegments(dir, segments);
    QVERIFY2(media.isEmpty(), qPrintable(media.join(u"\n"_qs) + context));
}

// An HLS source without program dates that has stalled: the recorder connects, the demuxer
// reads three segments back from the live edge at once, and nothing more comes. That burst is
// held (to be dated once media arrives in real time): its segments are journaled whole as they
// are cut. A kill -9 then; the restart lists them (back to back, where they were provisionally
// dated), marks the gap after them, and goes on; what the source sends again on reconnecting is
// left out or cut at a keyframe, never overlapping and never listed shorter than its media.
void TestRecorderDating::heldBurstIsJournaledAndResumedAfterKill()
{
    const QString source = m_dir.filePath(u"held-source"_qs);
    QVERIFY(QDir().mkpath(source));
    const QString playlist = QDir(source).filePath(u"index.m3u8"_qs);
    QProcess ffmpeg;
    QString error;
    QVERIFY2(startHlsSource(ffmpeg, source, false, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(segmentsIn(playlist) >= 6, 40000);
    ::kill(pid_t(ffmpeg.processId()), SIGSTOP);

    const QString dir = m_dir.filePath(u"rec-held"_qs);
    const QString heldLog = QDir(dir).filePath(u".held.log"_qs);
    QProcess helper;
    helper.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    // 2 s segments of a source with a keyframe a second: a segment can be cut in its middle.
    helper.start(QStringLiteral(DVR_RECORD_HELPER), {playlist, dir, u"2"_qs, u"30000"_qs});
    QVERIFY2(helper.waitForStarted(), qPrintable(helper.errorString()));
    auto heldLines = [&] { return fileBytes(heldLog).count('\n'); };
    QTRY_VERIFY_WITH_TIMEOUT(heldLines() >= 1, 30000);
    helper.kill();
    QVERIFY(helper.waitForFinished());
    const qsizetype held = heldLines();
    QVERIFY2(load(dir).segments().isEmpty(), qPrintable(describe(load(dir).segments())));
    ::kill(pid_t(ffmpeg.processId()), SIGCONT);

    Recorder recorder;
    QList<ArchiveSegment> written;
    connect(&recorder, &Recorder::segmentWritten, this, [&](const ArchiveSegment &s) { written.append(s); });
    RecorderSettings settings;
    settings.source = playlist;
    settings.directory = dir;
    settings.segmentSeconds = 2;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    QVERIFY(!QFile::exists(heldLog)); // listed on opening
    const QList<ArchiveSegment> recovered = load(dir).segments();
    QTRY_VERIFY_WITH_TIMEOUT(written.size() >= 4, 40000);
    recorder.stop(true);
    ffmpeg.kill();
    ffmpeg.waitForFinished(10000);

    const QList<ArchiveSegment> segments = load(dir).segments();
    const QString context = QStringLiteral("\n%1 held when killed; recorded:\n").arg(held) + describe(segments);
    QCOMPARE(recovered.size(), held);
    QVERIFY2(segments.size() > held, qPrintable(context));
    for (qsizetype i = 0; i < held; ++i) {
        QVERIFY2(!segments[i].gap, qPrintable(context));
        if (i > 0)
            QVERIFY2(segments[i].startMs == segments[i - 1].endMs(), qPrintable(context));
    }
    QVERIFY2(segments[held].gap, qPrintable(u"the restart's gap is not marked"_qs + context));
    const QStringList media = checkSegments(dir, segments);
    QVERIFY2(media.isEmpty(), qPrintable(media.join(u"\n"_qs) + context));
    QVERIFY(load(dir).finished());
}

// The source's playlist moves on past two segments before the recorder read them (a source that
// dropped them, or a reader that fell behind its window): the media has a hole there, marked as
// a gap in the same recording, on the same connection (no reconnect). The segment before the
// hole ends where its media does; the one after it starts at the source's date for it, marked.
// Before, the hole went unmarked, inside a segment whose EXTINF counted it.
void TestRecorderDating::skippedSourceSegmentsAreMarkedAsAGap()
{
    const QString vod = m_dir.filePath(u"skip-source"_qs);
    QVERIFY(QDir().mkpath(vod));
    QString error;
    QVERIFY2(writeVod(vod, 16, {}, u"src-%d.ts"_qs, &error), qPrintable(error));
    // Dated a few seconds before they arrive (the reader takes one a second), as live sources are.
    OriginThread origin(vod, 1, QDateTime::currentMSecsSinceEpoch() - 5000);
    QVERIFY2(origin.start(&error), qPrintable(error));
    origin->skipAt(5, 2);

    const QString dir = m_dir.filePath(u"rec-skip"_qs);
    Recorder recorder;
    QList<ArchiveSegment> written;
    connect(&recorder, &Recorder::segmentWritten, this, [&](const ArchiveSegment &s) { written.append(s); });
    RecorderSettings settings;
    settings.source = origin.url("/live/index.m3u8");
    settings.directory = dir;
    settings.segmentSeconds = 1;
    QVERIFY2(recorder.start(settings, &error), qPrintable(error));
    // The segment read after the hole, and two seconds of what follows it.
    int after = -1;
    QTRY_VERIFY_WITH_TIMEOUT((after = [&] {
                                 const QList<int> served = origin->served();
                                 for (qsizetype i = 1; i < served.size(); ++i) {
                                     if (served[i] > served[i - 1] + 1)
                                         return served[i];
                                 }
                                 return -1;
                             }()) >= 0
                                 && !written.isEmpty() && written.last().startMs >= origin->dateOf(after) + 2000,
                             60000);
    recorder.stop(true);
    QTRY_VERIFY_WITH_TIMEOUT(recorder.state() == Recorder::State::Finished, 20000);

    const QList<ArchiveSegment> segments = load(dir).segments();
    const QString context = u"\nrecorded:\n"_qs + describe(segments);
    const Recorder::Stats stats = recorder.stats();
    QCOMPARE(stats.sourceSegmentsSkipped, quint64(2));
    QCOMPARE(stats.reconnects, quint64(0));
    QCOMPARE(stats.gaps, quint64(1));
    QList<ArchiveSegment> gaps;
    for (const ArchiveSegment &s : segments) {
        if (s.gap)
            gaps << s;
        // None spans the hole (it ends where the segment before it did; dates are exact).
        QVERIFY2(!(s.startMs < origin->dateOf(after) - 5 && s.endMs() > origin->dateOf(after - 2) + 5),
                 qPrintable(u"segment %1 spans the hole"_qs.arg(s.sequence) + context));
    }
    QVERIFY2(gaps.size() == 1, qPrintable(u"not one gap marked"_qs + context));
    QVERIFY2(qAbs(gaps.first().startMs - origin->dateOf(after)) <= 5,
             qPrintable(u"the gap is not marked where the source's media resumes (%1)"_qs.arg(origin->dateOf(after) % 1000000) + context));
    const QStringList media = checkSegments(dir, segments);
    QVERIFY2(media.isEmpty(), qPrintable(media.join(u"\n"_qs) + context));
}

QTEST_GUILESS_MAIN(TestRecorderDating)
#include "tst_recorderdating.moc"
