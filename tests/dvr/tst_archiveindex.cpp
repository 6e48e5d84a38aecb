// The archive's bookkeeping without media: the index file (torn last lines after a crash), the
// writer (resume after a restart, hourly chunks, a full disk), fencing (a writer of a lower
// epoch after a takeover), reading time ranges, and the playout playlists built from it, checked
// with the RFC 8216 checker.

#include <dvr/archive.h>
#include <dvr/playout.h>

#include <media/hlsplaylist.h>

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace iptv::dvr;

namespace {

const qint64 kT0 = 1765004400000; // 2025-12-06T07:00:00Z

QByteArray fileBytes(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool appendRaw(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    return f.open(QIODevice::Append) && f.write(bytes) == bytes.size();
}

/// `packets` MPEG-TS packets (a sync byte each) filled with `fill`.
QByteArray tsBytes(int packets, char fill)
{
    QByteArray b(packets * 188, fill);
    for (int i = 0; i < packets; ++i)
        b[i * 188] = 0x47;
    return b;
}

/// The file's inode (0 when it is missing).
quint64 inode(const QString &path)
{
    struct stat st{};
    return ::stat(QFile::encodeName(path).constData(), &st) == 0 ? quint64(st.st_ino) : 0;
}

ArchiveSegment segment(qint64 sequence, qint64 startMs, qint64 durationMs = 2000, bool gap = false)
{
    return {sequence, startMs, durationMs, 1000 + sequence, QStringLiteral("seg-%1.ts").arg(sequence), gap};
}

/// The same, written by a writer of `epoch`.
ArchiveSegment segmentOf(qint64 epoch, qint64 sequence, qint64 startMs, qint64 durationMs = 2000, bool gap = false)
{
    ArchiveSegment s = segment(sequence, startMs, durationMs, gap);
    s.epoch = epoch;
    s.file = QStringLiteral("seg-%1-e%2.ts").arg(sequence).arg(epoch);
    return s;
}

/// The hidden and plain files of a folder, sorted.
QStringList filesIn(const QString &dir)
{
    return QDir(dir).entryList(QDir::Files | QDir::Hidden, QDir::Name);
}

} // namespace

class TestArchiveIndex : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parse_data();
    void parse();
    void appendCutsTornLine();
    void reopenedIndexRecordsOn();
    void writerResumesAfterGap();
    void writerChunksByTime();
    void journalBecomesTheSegment();
    void journalNotMatchingIsWrittenWhole();
    void journalThatCannotBeLinkedIsCopied();
    void journalThatFailedCatchesUp();
    void journalAppendedAsMuxed();
    void crashAfterTheJournalWasLinked();
    void staleEpochLinesAreNotRead();
    void writerOfALowerEpochIsFenced();
    void takeoverListsTheLastHoldersJournal();
    void folderWithoutEpochIsEpochZero();
    void readerLoadsOnlyWhatARangeNeeds();
    void diskFullTriesRetentionThenFails();
    void playlist_data();
    void playlist();
    void archiveRange();
    void slowSourcePlaylist();
    void cutAtAWallClockMoment();
    void growingRangeOnlyAppends();
    void rangeCoverage();
    void parseArchiveRange_data();
    void parseArchiveRange();
};

void TestArchiveIndex::parse_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<int>("segments");
    QTest::addColumn<qint64>("torn");
    QTest::addColumn<int>("bad");
    QTest::addColumn<bool>("finished");
    const QByteArray head = "#iptv-dvr-index 1\n";
    const QByteArray one = ArchiveIndex::line(segment(0, kT0));
    const QByteArray two = ArchiveIndex::line(segment(1, kT0 + 2000, 2000, true));
    QTest::newRow("empty") << QByteArray() << 0 << qint64(0) << 0 << false;
    QTest::newRow("two segments") << head + one + two << 2 << qint64(0) << 0 << false;
    QTest::newRow("finished") << head + one + two + "end\t1765004404000\n" << 2 << qint64(0) << 0 << true;
    QTest::newRow("reopened") << head + one + "end\t1765004404000\nopen\t1765004405000\n" << 1 << qint64(0) << 0 << false;
    QTest::newRow("recorded on after its end") << head + one + "end\t1765004404000\n" + two << 2 << qint64(0) << 0 << false;
    QTest::newRow("finished again") << head + one + "end\t1765004404000\nopen\t1765004405000\n" + two + "end\t1765004409000\n"
                                    << 2 << qint64(0) << 0 << true;
    QTest::newRow("torn last line") << head + one + two.left(12) << 1 << qint64(12) << 0 << false;
    QTest::newRow("torn header") << head.left(5) << 0 << qint64(5) << 0 << false;
    QTest::newRow("unreadable line kept apart") << head + "seg\tx\n" + two << 1 << qint64(0) << 1 << false;
    QTest::newRow("a path in a file name") << head + "seg\t1\t1\t1\t1\t../x.ts\t-\n" << 0 << qint64(0) << 1 << false;
}

void TestArchiveIndex::parse()
{
    QFETCH(QByteArray, text);
    QFETCH(int, segments);
    QFETCH(qint64, torn);
    QFETCH(int, bad);
    QFETCH(bool, finished);
    const ArchiveIndexContents c = ArchiveIndex::parse(text);
    QCOMPARE(c.segments.size(), segments);
    QCOMPARE(c.tornBytes, torn);
    QCOMPARE(c.badLines, bad);
    QCOMPARE(c.finishedAtMs > 0, finished);
    QCOMPARE(c.validBytes + c.tornBytes, qint64(text.size()));
}

void TestArchiveIndex::reopenedIndexRecordsOn()
{
    // A finished recording recorded again (a later viewer asked for it): opening its index for
    // appending says so with an "open" line, so readers see it recording until the next end.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("index.tsv"));
    QString error;
    {
        ArchiveIndex index;
        QVERIFY2(index.openForAppend(path, &error), qPrintable(error));
        QVERIFY2(index.append(segment(0, kT0), &error), qPrintable(error));
        QVERIFY2(index.appendEnd(kT0 + 2000, &error), qPrintable(error));
    }
    auto c = ArchiveIndex::read(path, &error);
    QVERIFY2(c && c->finishedAtMs == kT0 + 2000, qPrintable(error));
    ArchiveIndex index;
    QVERIFY2(index.openForAppend(path, &error, kT0 + 60000), qPrintable(error));
    c = ArchiveIndex::read(path, &error);
    QVERIFY2(c, qPrintable(error));
    QCOMPARE(c->finishedAtMs, 0);
    QCOMPARE(c->badLines, 0);
    QVERIFY2(index.append(segment(1, kT0 + 60000, 2000, true), &error), qPrintable(error));
    index.close();
    QVERIFY2(index.openForAppend(path, &error), qPrintable(error)); // not ended: no second "open"
    index.close();
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll().count("open\t"), 1);
    c = ArchiveIndex::read(path, &error);
    QCOMPARE(c->segments.size(), 2);
    QCOMPARE(c->finishedAtMs, 0);
}

void TestArchiveIndex::appendCutsTornLine()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("index.tsv"));
    QString error;
    {
        ArchiveIndex index;
        QVERIFY2(index.openForAppend(path, &error), qPrintable(error));
        QVERIFY2(index.append(segment(0, kT0), &error), qPrintable(error));
    }
    QVERIFY(appendRaw(path, "seg\t1\t17650044")); // a crash in the middle of a line
    ArchiveIndex index;
    QVERIFY2(index.openForAppend(path, &error), qPrintable(error));
    QVERIFY2(index.append(segment(1, kT0 + 2000), &error), qPrintable(error));
    index.close();
    const auto c = ArchiveIndex::read(path, &error);
    QVERIFY2(c, qPrintable(error));
    QCOMPARE(c->tornBytes, 0);
    QCOMPARE(c->badLines, 0);
    QCOMPARE(c->segments, (QList<ArchiveSegment>{segment(0, kT0), segment(1, kT0 + 2000)}));

    QVERIFY(appendRaw(path, "garbage"));
    QFile::resize(path, 0);
    QVERIFY(appendRaw(path, "not an index\n"));
    QVERIFY(!ArchiveIndex::read(path, &error));
    QVERIFY2(error.contains(path) && error.contains(QLatin1String("not a recording index")), qPrintable(error));
}

void TestArchiveIndex::writerResumesAfterGap()
{
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.filePath(QStringLiteral("rec"));
    {
        ArchiveWriter writer;
        QVERIFY2(writer.open(settings, &error), qPrintable(error));
        QVERIFY(!writer.resumed());
        StorageError e;
        QVERIFY2(writer.writeSegment("aaaa", kT0, 2000, false, &e), qPrintable(e.toString()));
        QVERIFY2(writer.writeSegment("bbbb", kT0 + 2000, 2000, false, &e), qPrintable(e.toString()));
        // destroyed without finish(): a crash
    }
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    QVERIFY(writer.resumed());
    QCOMPARE(writer.nextSequence(), 2);
    QCOMPARE(writer.lastEndMs(), kT0 + 4000);
    StorageError e;
    QVERIFY2(writer.writeSegment("cccc", kT0 + 9000, 2000, false, &e), qPrintable(e.toString()));
    QVERIFY2(writer.finish(kT0 + 11000, &error), qPrintable(error));

    ArchiveReader reader;
    QVERIFY2(reader.load(settings.directory, &error), qPrintable(error));
    QCOMPARE(reader.chunks().size(), 1); // the same recording, never a second one
    const QList<ArchiveSegment> all = reader.segments();
    QCOMPARE(all.size(), 3);
    QVERIFY(!all[1].gap);
    QVERIFY2(all[2].gap, "the first segment after the restart does not mark the gap");
    QVERIFY(reader.finished());
    const QString chunk = reader.chunks().first().name;
    QCOMPARE(all[2].file, chunk + QStringLiteral("/seg-2.ts"));
    QCOMPARE(fileBytes(QDir(settings.directory).filePath(all[0].file)), QByteArray("aaaa"));
    QCOMPARE(fileBytes(QDir(settings.directory).filePath(all[2].file)), QByteArray("cccc"));
    // No temporary files are left behind.
    QCOMPARE(QDir(QDir(settings.directory).filePath(chunk)).entryList(QDir::Files | QDir::Hidden).size(), 4);
}

void TestArchiveIndex::writerChunksByTime()
{
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.path();
    settings.chunkMs = 10 * 1000; // an hour in production; ten seconds keep the test short
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    StorageError e;
    // 06:59:58 to 07:00:12 in 2 s segments: the chunks of 06:59:50, 07:00:00 and 07:00:10.
    for (qint64 t = kT0 - 2000; t < kT0 + 12000; t += 2000)
        QVERIFY2(writer.writeSegment("x", t, 2000, false, &e), qPrintable(e.toString()));
    ArchiveReader reader;
    QVERIFY2(reader.load(dir.path(), &error), qPrintable(error));
    QCOMPARE(reader.chunks().size(), 3);
    QCOMPARE(reader.chunks()[0].name, QStringLiteral("20251206T065950Z"));
    QCOMPARE(reader.chunks()[1].name, QStringLiteral("20251206T070000Z"));
    QCOMPARE(reader.chunks()[1].index.segments.size(), 5);
    QCOMPARE(reader.startMs(), kT0 - 2000);
    QCOMPARE(reader.endMs(), kT0 + 12000);
    // A range across the first boundary: the last segment of 06:59:50 and the first two of 07:00:00.
    const QList<ArchiveSegment> range = reader.segments(kT0 - 1000, kT0 + 3000);
    QCOMPARE(range.size(), 3);
    QCOMPARE(range[0].file, QStringLiteral("20251206T065950Z/seg-0.ts"));
    QCOMPARE(range[2].file, QStringLiteral("20251206T070000Z/seg-2.ts"));
    QVERIFY(reader.segments(kT0 - 3000, kT0 - 2000).isEmpty());

}

void TestArchiveIndex::readerLoadsOnlyWhatARangeNeeds()
{
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.path();
    settings.chunkMs = 10 * 1000;
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    StorageError e;
    for (qint64 t = kT0; t < kT0 + 300'000; t += 2000) // five minutes: 30 chunks
        QVERIFY2(writer.writeSegment("x", t, 2000, false, &e), qPrintable(e.toString()));
    ArchiveReader all;
    QVERIFY2(all.load(dir.path(), &error), qPrintable(error));
    QCOMPARE(all.chunks().size(), 30);
    const TimeRange ranges[] = {{kT0 + 200'000, kT0 + 203'000}, {kT0 + 9'000, kT0 + 11'000}, {kT0 - 5000, kT0 + 1000},
                                {kT0 + 299'000, kT0 + 400'000}};
    for (const TimeRange &r : ranges) {
        ArchiveReader partial;
        QVERIFY2(partial.load(dir.path(), r.fromMs, r.toMs, &error), qPrintable(error));
        QVERIFY2(partial.chunks().size() <= 9, qPrintable(QString::number(partial.chunks().size())));
        QCOMPARE(partial.segments(r.fromMs, r.toMs), all.segments(r.fromMs, r.toMs));
        QCOMPARE(partial.endMs(), all.endMs()); // the last chunk is always read
    }
}

void TestArchiveIndex::diskFullTriesRetentionThenFails()
{
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.path();
    settings.minFreeBytes = 1000;
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    qint64 free = 1100;
    int asked = 0;
    writer.setFreeSpace([&](const QString &) { return free; });
    writer.setSpaceRecovery([&](qint64 need) {
        ++asked;
        const qint64 freed = asked == 1 ? need : 0; // the first time retention finds something to delete
        free += freed;
        return freed;
    });
    StorageError e;
    QVERIFY2(writer.writeSegment(QByteArray(50, 'a'), kT0, 2000, false, &e), qPrintable(e.toString()));
    QCOMPARE(asked, 0);
    QVERIFY2(writer.writeSegment(QByteArray(200, 'b'), kT0 + 2000, 2000, false, &e), qPrintable(e.toString()));
    QCOMPARE(asked, 1);
    free = 900;
    QVERIFY(!writer.writeSegment(QByteArray(200, 'c'), kT0 + 4000, 2000, false, &e));
    QCOMPARE(asked, 2);
    QCOMPARE(e.kind, StorageError::DiskFull);
    QCOMPARE(e.where, dir.path());
    QVERIFY2(e.what.contains(QLatin1String("segment 2")), qPrintable(e.what));
    QVERIFY2(e.why.contains(QLatin1String("minimum")), qPrintable(e.why));
    free = 100000;
    QVERIFY2(writer.writeSegment(QByteArray(200, 'd'), kT0 + 6000, 2000, false, &e), qPrintable(e.toString()));
    ArchiveReader reader;
    QVERIFY2(reader.load(dir.path(), &error), qPrintable(error));
    const QList<ArchiveSegment> all = reader.segments();
    QCOMPARE(all.size(), 3); // what was written stays; the lost segment is not listed
    QCOMPARE(all[2].sequence, 2);
    QVERIFY2(all[2].gap, "the segment after the lost one does not mark the gap");
}

void TestArchiveIndex::playlist_data()
{
    QTest::addColumn<bool>("ended");
    QTest::newRow("recording (growing)") << false;
    QTest::newRow("finished (ended)") << true;
}

void TestArchiveIndex::playlist()
{
    QFETCH(bool, ended);
    const QList<ArchiveSegment> segments{segment(4, kT0, 2000), segment(5, kT0 + 2000, 2480),
                                         segment(6, kT0 + 9000, 2000, true), segment(7, kT0 + 11000, 1960)};
    const QByteArray text = playoutPlaylist(segments, ended, QStringLiteral("/r/1/"), 2);
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(text);
    QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs) + QLatin1Char('\n') + QString::fromUtf8(text)));
    QCOMPARE(check.segments.size(), 4);
    QCOMPARE(check.mediaSequence, 4);
    QCOMPARE(check.targetDuration, 2);
    QCOMPARE(check.ended, ended);
    // EVENT, ended or not: the end is the growing playlist with EXT-X-ENDLIST appended (RFC 8216
    // 6.2.1), EXT-X-START included.
    QVERIFY(text.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-START:TIME-OFFSET=0\n"));
    QCOMPARE(playoutPlaylist(segments, true, QStringLiteral("/r/1/"), 2),
             playoutPlaylist(segments, false, QStringLiteral("/r/1/"), 2) + "#EXT-X-ENDLIST\n");
    // The target is the one given, whatever the segments listed so far (the first alone, 2 s
    // long, gets 6 as all four do); only a segment longer than it raises it (4.3.3.1).
    QCOMPARE(iptv::media::checkMediaPlaylist(playoutPlaylist(segments.mid(0, 1), ended, {}, 6)).targetDuration, 6);
    QCOMPARE(iptv::media::checkMediaPlaylist(playoutPlaylist(segments, ended, {}, 6)).targetDuration, 6);
    QCOMPARE(iptv::media::checkMediaPlaylist(playoutPlaylist({segment(8, kT0, 7600)}, ended, {}, 6)).targetDuration, 8);
    QCOMPARE(playlistTargetSeconds(6), 18);
    QCOMPARE(playlistTargetSeconds(1), 3);
    QCOMPARE(playlistTargetSeconds(2.5), 8);
    QCOMPARE(playlistTargetSeconds(6), kDefaultTargetSeconds);
    QCOMPARE(check.segments[2].uri, QStringLiteral("/r/1/seg-6.ts"));
    for (int i = 0; i < 4; ++i) {
        QCOMPARE(check.segments[i].discontinuity, i == 2);
        QCOMPARE(check.segments[i].programDateTime.toMSecsSinceEpoch(), segments[i].startMs);
    }
    QCOMPARE(check.segments[1].duration, 2.48);
}

void TestArchiveIndex::archiveRange()
{
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.path();
    settings.chunkMs = 10000;
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    StorageError e;
    for (int i = 0; i < 10; ++i)
        QVERIFY2(writer.writeSegment("x", kT0 + i * 2000, 2000, false, &e), qPrintable(e.toString()));
    ArchiveReader archive;
    QVERIFY2(archive.load(dir.path(), &error), qPrintable(error));

    // A range the archive has passed: VOD; one it has not reached the end of: EVENT.
    const QByteArray past = archiveRangePlaylist(archive, {kT0 + 4000, kT0 + 12000}, kT0 + 20000);
    const iptv::media::HlsCheck a = iptv::media::checkMediaPlaylist(past);
    QVERIFY2(a.ok, qPrintable(a.problems.join(u"; "_qs)));
    QVERIFY(a.ended);
    QCOMPARE(a.segments.size(), 4);
    QCOMPARE(a.segments.first().uri, QStringLiteral("20251206T070000Z/seg-2.ts"));
    QCOMPARE(a.segments.last().uri, QStringLiteral("20251206T070010Z/seg-5.ts"));
    QVERIFY2(!a.segments[3].discontinuity, "a chunk boundary is not a gap");

    const QByteArray live = archiveRangePlaylist(archive, {kT0 + 16000, kT0 + 30000}, kT0 + 20000);
    const iptv::media::HlsCheck b = iptv::media::checkMediaPlaylist(live);
    QVERIFY2(b.ok, qPrintable(b.problems.join(u"; "_qs)));
    QVERIFY(!b.ended);
    QVERIFY(live.contains("#EXT-X-PLAYLIST-TYPE:EVENT"));
    // Played from its first segment, not like live TV from near its end; the same line once ended.
    QVERIFY(live.contains("#EXT-X-START:TIME-OFFSET=0\n"));
    QVERIFY(past.contains("#EXT-X-START:TIME-OFFSET=0\n"));
    QCOMPARE(b.segments.size(), 2);
    // Live TV paused after the newest segment began and played on before the next is written:
    // no segment yet. The newest one in its place would leave at the next reload, which lists
    // the segment that holds the range's start (RFC 8216 6.2.1); diver waits for that one.
    const iptv::media::HlsCheck c = iptv::media::checkMediaPlaylist(archiveRangePlaylist(archive, {kT0 + 20500, kT0 + 21000}, kT0 + 21000));
    QVERIFY(!c.ended);
    QCOMPARE(c.segments.size(), 0);
    // Long after its end, what there is will not grow: VOD.
    QVERIFY(iptv::media::checkMediaPlaylist(archiveRangePlaylist(archive, {kT0 + 16000, kT0 + 30000}, kT0 + 100000)).ended);
}

// A source slower than the clock: segments dated by when their media arrived lie further apart
// than they last. The media goes on: no discontinuity, each segment with its own date and its
// media's duration.
void TestArchiveIndex::slowSourcePlaylist()
{
    const QList<ArchiveSegment> segments{segment(0, kT0, 6000), segment(1, kT0 + 8570, 6000), segment(2, kT0 + 17140, 6000),
                                         segment(3, kT0 + 40000, 6000, true)};
    const QByteArray text = playoutPlaylist(segments, true);
    const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(text);
    QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs)));
    QCOMPARE(check.segments.size(), 4);
    for (int i = 0; i < 4; ++i) {
        QCOMPARE(check.segments[i].discontinuity, i == 3); // the marked gap only
        QCOMPARE(check.segments[i].programDateTime.toMSecsSinceEpoch(), segments[i].startMs);
        QCOMPARE(check.segments[i].duration, 6.0);
    }
}

// A seek or resume cuts the playlist at a moment of the wall clock (what a viewer, the guide and
// the box count), not at a sum of EXTINF: a source slower than the clock has dates further apart
// than its media lasts. The cut starts at the segment the moment falls in (and says where it
// starts; EXT-X-START names the point inside it), or at the next one after a hole or a gap.
void TestArchiveIndex::cutAtAWallClockMoment()
{
    const QList<ArchiveSegment> segments{segment(0, kT0, 6000), segment(1, kT0 + 8570, 6000), segment(2, kT0 + 17140, 6000),
                                         segment(3, kT0 + 40000, 6000, true)};
    const QByteArray growing = playoutPlaylist(segments, false);
    struct Case
    {
        qint64 atMs;
        qint64 first;      ///< the first segment left
        qint64 startMs;    ///< where it starts
        QByteArray offset; ///< EXT-X-START's TIME-OFFSET
    };
    const QList<Case> cases{
        {kT0 + 19000, 2, kT0 + 17140, "1.860,PRECISE=YES"}, // 19 s of the clock: in segment 2 (18.0 s of media would be 3)
        {kT0 + 15000, 2, kT0 + 17140, "0"},                 // in the hole after segment 1: the next
        {kT0 + 30000, 3, kT0 + 40000, "0"},                 // in the gap: after it
        {kT0 + 100000, 3, kT0 + 40000, "0"},                // past the end: the last one
        {kT0 + 2500, 0, kT0, "2.500,PRECISE=YES"},
    };
    for (const Case &c : cases) {
        const PlaylistCut cut = cutPlaylistAt(growing, c.atMs);
        // Past the end: said so (of a growing playlist, not to be served: the next reload would
        // begin at a later segment).
        QCOMPARE(cut.pastEnd, c.atMs >= kT0 + 46000);
        const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(cut.playlist);
        QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs) + u"\n"_qs + QString::fromLatin1(cut.playlist)));
        QCOMPARE(check.mediaSequence, c.first);
        QCOMPARE(check.segments.first().uri, segments[c.first].file);
        QCOMPARE(check.segments.size(), segments.size() - c.first);
        QCOMPARE(cut.startMs, c.startMs);
        QVERIFY2(cut.playlist.contains(QByteArray("#EXT-X-START:TIME-OFFSET=" + c.offset + '\n')), cut.playlist.constData());
        QCOMPARE(cut.playlist.count("#EXT-X-START:"), 1);
    }
    // Nothing asked: nothing cut.
    QCOMPARE(cutPlaylistAt(growing, 0).playlist, growing);
    QCOMPARE(cutPlaylistAt(growing, 0).startMs, kT0);
    // An ended playlist's cut is the growing one's with EXT-X-ENDLIST appended.
    const QByteArray vod = playoutPlaylist(segments, true);
    for (const qint64 at : {kT0 + 15000, kT0 + 19000})
        QCOMPARE(cutPlaylistAt(vod, at).playlist, cutPlaylistAt(growing, at).playlist + "#EXT-X-ENDLIST\n");
    QVERIFY(cutPlaylistAt(vod, kT0 + 19000).playlist.contains("#EXT-X-START:TIME-OFFSET=1.860,PRECISE=YES\n"));
}

// RFC 8216 6.2.1, at the library's level: an archive written a segment at a time (a slower
// source's hole and a gap among them), every range and every cut of it served after each
// segment is the one served before with lines appended, up to and with EXT-X-ENDLIST. What is
// not to be served (a growing playlist with no segment yet, a cut past its end) is skipped, as
// diver holds or refuses it.
void TestArchiveIndex::growingRangeOnlyAppends()
{
    QTemporaryDir dir;
    ArchiveWriterSettings settings;
    settings.directory = dir.path();
    settings.chunkMs = 10000;
    QString error;
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    const QList<TimeRange> ranges{{kT0, kT0 + 30000},         // a programme from the archive's start
                                  {kT0 + 7000, kT0 + 21000},  // begins inside a segment, ends in the hole
                                  {kT0 + 26500, kT0 + 40000}, // begins ahead of the live edge
                                  {kT0 + 5000, kT0 + 100000}};
    const QList<qint64> cuts{0, 3000, 9000, 23000, 31000};
    QHash<QString, QByteArray> served;
    QHash<QString, int> versions;
    // Segments of 2 s; segment 6 ends 1.4 s short of segment 7's date (a slower source), 11 follows a gap.
    qint64 at = kT0;
    StorageError e;
    for (int i = 0; i < 20; ++i) {
        const qint64 duration = i == 9 ? 1600 : 2000;
        const bool gap = i == 11;
        if (i == 7)
            at += 1400;
        if (gap)
            at += 5000;
        QVERIFY2(writer.writeSegment("x", at, duration, gap, &e), qPrintable(e.toString()));
        at += duration;
        ArchiveReader archive;
        QVERIFY2(archive.load(dir.path(), &error), qPrintable(error));
        for (const TimeRange &range : ranges) {
            // The clock a little past the newest segment, as while the archive is written.
            const QByteArray playlist = archiveRangePlaylist(archive, range, at + 500, {}, 60000, 6);
            const bool ended = iptv::media::checkMediaPlaylist(playlist).ended;
            for (const qint64 cut : cuts) {
                const PlaylistCut c = cutPlaylistAt(playlist, cut > 0 ? range.fromMs + cut : 0);
                const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(c.playlist);
                if (!ended && (c.pastEnd || check.segments.isEmpty()))
                    continue;
                QVERIFY2(check.ok, qPrintable(check.problems.join(u"; "_qs)));
                QCOMPARE(check.targetDuration, 6);
                const QString key = u"%1-%2+%3"_qs.arg(range.fromMs).arg(range.toMs).arg(cut);
                const QByteArray before = served.value(key);
                QVERIFY2(c.playlist.startsWith(before) && (!before.contains("#EXT-X-ENDLIST") || c.playlist == before),
                         qPrintable(u"%1 after segment %2 was\n%3\nand is\n%4"_qs.arg(key).arg(i).arg(QString::fromLatin1(before),
                                                                                             QString::fromLatin1(c.playlist))));
                versions[key] += c.playlist != before;
                served[key] = c.playlist;
            }
        }
    }
    // Each grew over several reloads (a cut past the end of what was written is served once the
    // range has ended), and the ranges the archive passed ended.
    for (auto it = served.cbegin(); it != served.cend(); ++it) {
        QVERIFY2(versions.value(it.key()) >= (it.key().endsWith(u"+0") ? 3 : 1), qPrintable(it.key()));
        QCOMPARE(iptv::media::checkMediaPlaylist(it.value()).ended, !it.key().startsWith(QString::number(kT0 + 5000)));
    }
    QCOMPARE(served.size(), ranges.size() * cuts.size());
}

// How much of a range an archive holds: complete only once a segment reaches the range's end;
// growing while the archive is written towards it; partial when it stopped short, with what is
// missing (also a marked gap inside, and a start before the archive began).
void TestArchiveIndex::rangeCoverage()
{
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.path();
    settings.chunkMs = 3600 * 1000;
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    StorageError e;
    // 0-60 s: a source at 0.7 of real time (6 s segments arriving every 8.57 s); a drop, and
    // from 90 s on after a marked gap, up to 120 s.
    qint64 at = kT0;
    while (at + 6000 <= kT0 + 60000) {
        QVERIFY2(writer.writeSegment("x", at, 6000, false, &e), qPrintable(e.toString()));
        at += 8570;
    }
    const qint64 slowEnd = writer.lastEndMs();
    for (at = kT0 + 90000; at < kT0 + 120000; at += 6000)
        QVERIFY2(writer.writeSegment("x", at, 6000, at == kT0 + 90000, &e), qPrintable(e.toString()));
    ArchiveReader archive;
    QVERIFY2(archive.load(dir.path(), &error), qPrintable(error));
    auto text = [](const RangeCoverage &c) {
        QStringList m;
        for (const TimeRange &r : c.missing)
            m << QStringLiteral("%1-%2").arg((r.fromMs - kT0) / 1000.0).arg((r.toMs - kT0) / 1000.0);
        return QStringLiteral("%1, covered to %2, missing %3").arg(coverageStateName(c.state)).arg((c.coveredToMs - kT0) / 1000.0).arg(m.join(u", "_qs));
    };

    // Within the slow part: the holes between its dates are no missing minutes.
    RangeCoverage c = archiveRangeCoverage(archive, {kT0 + 5000, kT0 + 40000}, kT0 + 200000);
    QVERIFY2(c.state == RangeCoverage::State::Complete && c.missing.isEmpty() && c.coveredToMs == kT0 + 40000, qPrintable(text(c)));
    QVERIFY(iptv::media::checkMediaPlaylist(archiveRangePlaylist(archive, {kT0 + 5000, kT0 + 40000}, c)).ended);

    // Across the drop: complete to its end, the gap missing.
    c = archiveRangeCoverage(archive, {kT0 + 30000, kT0 + 100000}, kT0 + 200000);
    QVERIFY2(c.state == RangeCoverage::State::Complete && c.missing.size() == 1 && (c.missing[0] == TimeRange{slowEnd, kT0 + 90000}),
             qPrintable(text(c)));

    // Ending in the drop, the archive gone on after it: partial, for good.
    c = archiveRangeCoverage(archive, {kT0 + 30000, kT0 + 80000}, kT0 + 85000);
    QVERIFY2(c.state == RangeCoverage::State::Partial && c.missing.size() == 1 && (c.missing[0] == TimeRange{slowEnd, kT0 + 80000})
                 && c.coveredToMs == slowEnd,
             qPrintable(text(c)));

    // Starting before the archive began: that start is missing.
    c = archiveRangeCoverage(archive, {kT0 - 20000, kT0 + 20000}, kT0 + 200000);
    QVERIFY2(c.state == RangeCoverage::State::Complete && c.missing.size() == 1 && (c.missing[0] == TimeRange{kT0 - 20000, kT0}),
             qPrintable(text(c)));

    // Past the archive's newest segment (ends at 120 s): growing while the archive is written,
    // however long after the range's end, as long as the archive is not stale.
    const TimeRange tail{kT0 + 100000, kT0 + 125000};
    for (qint64 now : {kT0 + 110000, kT0 + 125000, kT0 + 150000}) {
        c = archiveRangeCoverage(archive, tail, now, 60000);
        QVERIFY2(c.state == RangeCoverage::State::Growing && c.missing.isEmpty() && c.coveredToMs == kT0 + 120000, qPrintable(text(c)));
        QVERIFY(!iptv::media::checkMediaPlaylist(archiveRangePlaylist(archive, tail, c)).ended);
    }
    // The archive stopped (nothing for a minute): partial, the rest missing, the playlist ended.
    c = archiveRangeCoverage(archive, tail, kT0 + 180000, 60000);
    QVERIFY2(c.state == RangeCoverage::State::Partial && c.missing.size() == 1 && (c.missing[0] == TimeRange{kT0 + 120000, kT0 + 125000}),
             qPrintable(text(c)));
    QVERIFY(iptv::media::checkMediaPlaylist(archiveRangePlaylist(archive, tail, c)).ended);
    // The archive holds nothing of a range in the future yet: growing.
    c = archiveRangeCoverage(archive, {kT0 + 130000, kT0 + 140000}, kT0 + 125000, 60000);
    QVERIFY2(c.state == RangeCoverage::State::Growing && c.coveredToMs == 0, qPrintable(text(c)));

    // The archive grows past the tail's end: complete.
    QVERIFY2(writer.writeSegment("x", kT0 + 120000, 6000, false, &e), qPrintable(e.toString()));
    QVERIFY2(archive.load(dir.path(), &error), qPrintable(error));
    c = archiveRangeCoverage(archive, tail, kT0 + 180000, 60000);
    QVERIFY2(c.state == RangeCoverage::State::Complete && c.missing.isEmpty() && c.coveredToMs == tail.toMs, qPrintable(text(c)));

    // A slower source's hole at the end of a range is no missing end either: the next segment,
    // dated after the range's end, holds what came next.
    c = archiveRangeCoverage(archive, {kT0 + 10000, kT0 + 16000}, kT0 + 200000);
    QVERIFY2(c.state == RangeCoverage::State::Complete && c.missing.isEmpty(), qPrintable(text(c)));
}

void TestArchiveIndex::parseArchiveRange_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<qint64>("from");
    QTest::addColumn<qint64>("to");
    const qint64 now = 1765008000000;
    QTest::newRow("m3u8") << u"archive-1765004400-3600.m3u8"_qs << true << kT0 << kT0 + 3600000;
    QTest::newRow("bare") << u"archive-1765004400-60"_qs << true << kT0 << kT0 + 60000;
    QTest::newRow("now") << u"archive-1765004400-now.m3u8"_qs << true << kT0 << now;
    QTest::newRow("zero length") << u"archive-1765004400-0.m3u8"_qs << false << qint64(0) << qint64(0);
    QTest::newRow("starts after now") << u"archive-1765009000-now.m3u8"_qs << false << qint64(0) << qint64(0);
    QTest::newRow("negative") << u"archive--5-10.m3u8"_qs << false << qint64(0) << qint64(0);
    QTest::newRow("other name") << u"index.m3u8"_qs << false << qint64(0) << qint64(0);
    QTest::newRow("trailing junk") << u"archive-1765004400-3600.m3u8x"_qs << false << qint64(0) << qint64(0);
}

void TestArchiveIndex::parseArchiveRange()
{
    QFETCH(QString, name);
    QFETCH(bool, valid);
    QFETCH(qint64, from);
    QFETCH(qint64, to);
    const auto r = iptv::dvr::parseArchiveRange(name, 1765008000000);
    QCOMPARE(r.has_value(), valid);
    if (r) {
        QCOMPARE(r->fromMs, from);
        QCOMPARE(r->toMs, to);
    }
}

void TestArchiveIndex::journalBecomesTheSegment()
{
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.filePath(QStringLiteral("rec"));
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    const QList<QByteArray> pieces{tsBytes(3, 'a'), tsBytes(2, 'b'), tsBytes(4, 'c')};
    const QString journal = QDir(settings.directory).filePath(QStringLiteral(".journal.ts"));
    QVERIFY2(writer.journal({pieces[0]}, kT0, 1000, false, true, &error), qPrintable(error));
    QVERIFY2(writer.journal({pieces[1]}, kT0, 2000, false, false, &error), qPrintable(error));
    QCOMPARE(fileBytes(journal), pieces[0] + pieces[1]);
    const quint64 journalInode = inode(journal);
    QVERIFY(journalInode != 0);

    StorageError e;
    // Only the rest: the caller keeps nothing of what the journal has.
    QVERIFY2(writer.writeJournaledSegment({pieces[2]}, kT0, 3000, false, &e), qPrintable(e.toString()));
    QCOMPARE(writer.lastWritten().bytes, qint64(9 * 188));
    ArchiveReader reader;
    QVERIFY2(reader.load(settings.directory, &error), qPrintable(error));
    QCOMPARE(reader.segments().size(), 1);
    const ArchiveSegment s = reader.segments().first();
    const QString path = QDir(settings.directory).filePath(s.file);
    QCOMPARE(s.bytes, qint64(9 * 188));
    QCOMPARE(fileBytes(path), pieces[0] + pieces[1] + pieces[2]);
    // The journal's file is the segment's (written once), and the journal is gone.
    QCOMPARE(inode(path), journalInode);
    QVERIFY(!QFile::exists(journal));
    QCOMPARE(fileBytes(QDir(settings.directory).filePath(QStringLiteral(".journal.log"))), QByteArray());

    // The next segment's journal is a new file: the listed one is never touched again.
    const QByteArray next = tsBytes(1, 'd');
    QVERIFY2(writer.journal({next}, kT0 + 3000, 1000, false, true, &error), qPrintable(error));
    QVERIFY(inode(journal) != journalInode);
    QVERIFY2(writer.writeJournaledSegment({tsBytes(1, 'e')}, kT0 + 3000, 2000, false, &e), qPrintable(e.toString()));
    QCOMPARE(fileBytes(path), pieces[0] + pieces[1] + pieces[2]);
    QVERIFY2(writer.finish(kT0 + 5000, &error), qPrintable(error));
    QVERIFY(reader.load(settings.directory, &error));
    QCOMPARE(fileBytes(QDir(settings.directory).filePath(reader.segments().last().file)), tsBytes(1, 'd') + tsBytes(1, 'e'));
    // No temporary files are left behind.
    QCOMPARE(QDir(settings.directory).entryList(QDir::Files | QDir::Hidden).size(), 0);
}

void TestArchiveIndex::journalNotMatchingIsWrittenWhole()
{
    // A segment written whole (writeSegment) while a journal was begun (a connection that ended
    // without its tail): the journal is not the segment's, and the segment is written from its pieces.
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.filePath(QStringLiteral("rec"));
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    QVERIFY2(writer.journal({tsBytes(2, 'x')}, kT0, 1000, false, true, &error), qPrintable(error));
    const quint64 journalInode = inode(QDir(settings.directory).filePath(QStringLiteral(".journal.ts")));
    const QList<QByteArray> pieces{tsBytes(2, 'a'), tsBytes(2, 'b')};
    StorageError e;
    QVERIFY2(writer.writeSegment(pieces, kT0, 2000, false, &e), qPrintable(e.toString()));
    ArchiveReader reader;
    QVERIFY2(reader.load(settings.directory, &error), qPrintable(error));
    const QString path = QDir(settings.directory).filePath(reader.segments().first().file);
    QCOMPARE(fileBytes(path), pieces[0] + pieces[1]);
    QVERIFY(inode(path) != journalInode);
    QVERIFY(!QFile::exists(QDir(settings.directory).filePath(QStringLiteral(".journal.ts"))));
}

void TestArchiveIndex::crashAfterTheJournalWasLinked()
{
    // A crash between linking the journal under the segment's name and the index line: the
    // restart lists the whole segment from the journal, as if the link had not happened.
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.filePath(QStringLiteral("rec"));
    QString chunk;
    {
        ArchiveWriter writer;
        QVERIFY2(writer.open(settings, &error), qPrintable(error));
        StorageError e;
        QVERIFY2(writer.writeSegment(tsBytes(2, 'a'), kT0, 2000, false, &e), qPrintable(e.toString()));
        QVERIFY2(writer.journal({tsBytes(3, 'b')}, kT0 + 2000, 1200, false, true, &error), qPrintable(error));
        QVERIFY2(writer.journal({tsBytes(1, 'c')}, kT0 + 2000, 1500, false, false, &error), qPrintable(error));
        ArchiveReader reader;
        QVERIFY(reader.load(settings.directory, &error));
        chunk = reader.chunks().first().name;
        // What linkJournal() does before the index line.
        const QString journal = QDir(settings.directory).filePath(QStringLiteral(".journal.ts"));
        QVERIFY(::link(QFile::encodeName(journal).constData(),
                       QFile::encodeName(QDir(settings.directory).filePath(chunk + QStringLiteral("/seg-1.ts"))).constData())
                == 0);
        // destroyed without finish(): a crash
    }
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    QVERIFY(writer.recoveredJournal());
    QCOMPARE(writer.nextSequence(), 2);
    ArchiveReader reader;
    QVERIFY2(reader.load(settings.directory, &error), qPrintable(error));
    const QList<ArchiveSegment> all = reader.segments();
    QCOMPARE(all.size(), 2);
    QCOMPARE(all[1].startMs, kT0 + 2000);
    QCOMPARE(all[1].durationMs, 1500);
    QCOMPARE(fileBytes(QDir(settings.directory).filePath(all[1].file)), tsBytes(3, 'b') + tsBytes(1, 'c'));
    QVERIFY(!QFile::exists(QDir(settings.directory).filePath(QStringLiteral(".journal.ts"))));
}

void TestArchiveIndex::journalThatCannotBeLinkedIsCopied()
{
    // The journal's name is gone (an operator's cleanup, a file system without hard links): the
    // link fails, and the segment is written whole, its journaled part copied from the open file.
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.filePath(QStringLiteral("rec"));
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    QVERIFY2(writer.journal({tsBytes(3, 'a')}, kT0, 1000, false, true, &error), qPrintable(error));
    QVERIFY2(writer.journal({tsBytes(2, 'b')}, kT0, 2000, false, false, &error), qPrintable(error));
    QVERIFY(QFile::remove(QDir(settings.directory).filePath(QStringLiteral(".journal.ts"))));
    StorageError e;
    QVERIFY2(writer.writeJournaledSegment({tsBytes(1, 'c')}, kT0, 3000, false, &e), qPrintable(e.toString()));
    ArchiveReader reader;
    QVERIFY2(reader.load(settings.directory, &error), qPrintable(error));
    QCOMPARE(reader.segments().size(), 1);
    QCOMPARE(reader.segments().first().bytes, qint64(6 * 188));
    QCOMPARE(fileBytes(QDir(settings.directory).filePath(reader.segments().first().file)),
             tsBytes(3, 'a') + tsBytes(2, 'b') + tsBytes(1, 'c'));
}

void TestArchiveIndex::journalThatFailedCatchesUp()
{
    // An entry the file cannot take (here: over the process's file size limit, as a full disk
    // would) is held by the writer, not the caller, and written with the next entry: the file
    // never has a hole, and the segment is whole.
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.filePath(QStringLiteral("rec"));
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    const QString journal = QDir(settings.directory).filePath(QStringLiteral(".journal.ts"));
    QVERIFY2(writer.journal({tsBytes(2, 'a')}, kT0, 1000, false, true, &error), qPrintable(error));
    rlimit before{};
    QCOMPARE(::getrlimit(RLIMIT_FSIZE, &before), 0);
    const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit low = before;
    low.rlim_cur = 3 * 188;
    QCOMPARE(::setrlimit(RLIMIT_FSIZE, &low), 0);
    const bool failed = !writer.journal({tsBytes(4, 'b')}, kT0, 2000, false, false, &error);
    QCOMPARE(::setrlimit(RLIMIT_FSIZE, &before), 0);
    std::signal(SIGXFSZ, oldHandler);
    QVERIFY(failed);
    QVERIFY2(error.contains(journal), qPrintable(error));
    QCOMPARE(fileBytes(journal), tsBytes(2, 'a')); // cut back to what the last line vouches for
    QVERIFY2(writer.journal({tsBytes(1, 'c')}, kT0, 3000, false, false, &error), qPrintable(error));
    QCOMPARE(fileBytes(journal), tsBytes(2, 'a') + tsBytes(4, 'b') + tsBytes(1, 'c'));
    StorageError e;
    QVERIFY2(writer.writeJournaledSegment({tsBytes(1, 'd')}, kT0, 4000, false, &e), qPrintable(e.toString()));
    ArchiveReader reader;
    QVERIFY2(reader.load(settings.directory, &error), qPrintable(error));
    QCOMPARE(fileBytes(QDir(settings.directory).filePath(reader.segments().first().file)),
             tsBytes(2, 'a') + tsBytes(4, 'b') + tsBytes(1, 'c') + tsBytes(1, 'd'));
    QVERIFY(!QFile::exists(journal));
}

void TestArchiveIndex::journalAppendedAsMuxed()
{
    // appendJournal() (a recorder's muxer writing straight into the journal): the bytes are in
    // the file at once, in order with what journal() writes; a crash lists only what a line
    // vouches for; what the file cannot take is held and written, in order, with the next line.
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.filePath(QStringLiteral("rec"));
    const QString journal = QDir(settings.directory).filePath(QStringLiteral(".journal.ts"));
    {
        ArchiveWriter writer;
        QVERIFY2(writer.open(settings, &error), qPrintable(error));
        const QByteArray a = tsBytes(2, 'a');
        QVERIFY(!writer.appendJournal(a.constData(), a.size(), &error)); // no journal begun: refused
        QVERIFY2(writer.journal({a}, kT0, 1000, false, true, &error), qPrintable(error));
        const QByteArray b = tsBytes(3, 'b'), c = tsBytes(1, 'c');
        QVERIFY2(writer.appendJournal(b.constData(), b.size(), &error), qPrintable(error));
        QCOMPARE(fileBytes(journal), a + b);
        QVERIFY2(writer.journal({}, kT0, 2000, false, false, &error), qPrintable(error)); // vouches for a + b
        QVERIFY2(writer.appendJournal(c.constData(), c.size(), &error), qPrintable(error));
        QCOMPARE(fileBytes(journal), a + b + c);
        // destroyed without finish(): a crash (c has no line)
    }
    {
        ArchiveWriter writer;
        QVERIFY2(writer.open(settings, &error), qPrintable(error));
        QVERIFY(writer.recoveredJournal());
        ArchiveReader reader;
        QVERIFY2(reader.load(settings.directory, &error), qPrintable(error));
        QCOMPARE(reader.segments().size(), 1);
        QCOMPARE(reader.segments().first().durationMs, 2000);
        QCOMPARE(fileBytes(QDir(settings.directory).filePath(reader.segments().first().file)), tsBytes(2, 'a') + tsBytes(3, 'b'));

        // A failed append (over the file size limit, as a full disk): cut back, held, written
        // with the next line before what that line brings.
        QVERIFY2(writer.journal({tsBytes(1, 'd')}, kT0 + 3000, 1000, false, true, &error), qPrintable(error));
        rlimit before{};
        QCOMPARE(::getrlimit(RLIMIT_FSIZE, &before), 0);
        const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit low = before;
        low.rlim_cur = 2 * 188;
        QCOMPARE(::setrlimit(RLIMIT_FSIZE, &low), 0);
        const QByteArray e = tsBytes(2, 'e'), f = tsBytes(1, 'f');
        const bool failed = !writer.appendJournal(e.constData(), e.size(), &error);
        QCOMPARE(::setrlimit(RLIMIT_FSIZE, &before), 0);
        std::signal(SIGXFSZ, oldHandler);
        QVERIFY(failed);
        QVERIFY2(error.contains(journal), qPrintable(error));
        QCOMPARE(fileBytes(journal), tsBytes(1, 'd'));
        QVERIFY(!writer.appendJournal(f.constData(), f.size(), &error)); // behind e: held with it
        QCOMPARE(fileBytes(journal), tsBytes(1, 'd'));
        QVERIFY2(writer.journal({tsBytes(1, 'g')}, kT0 + 3000, 2000, false, false, &error), qPrintable(error));
        QCOMPARE(fileBytes(journal), tsBytes(1, 'd') + e + f + tsBytes(1, 'g'));
        const QByteArray h = tsBytes(1, 'h');
        QVERIFY2(writer.appendJournal(h.constData(), h.size(), &error), qPrintable(error));
        StorageError se;
        QVERIFY2(writer.writeJournaledSegment({tsBytes(1, 'i')}, kT0 + 3000, 2500, false, &se), qPrintable(se.toString()));
        QVERIFY2(reader.load(settings.directory, &error), qPrintable(error));
        QCOMPARE(reader.segments().size(), 2);
        QCOMPARE(fileBytes(QDir(settings.directory).filePath(reader.segments().last().file)),
                 tsBytes(1, 'd') + e + f + tsBytes(1, 'g') + h + tsBytes(1, 'i'));
        QCOMPARE(reader.segments().last().bytes, qint64(7 * 188));
        QVERIFY(!QFile::exists(journal));
    }
}

void TestArchiveIndex::staleEpochLinesAreNotRead()
{
    // Node A (epoch 1) was stalled past its lease; node B took over (epoch 2) and began its epoch
    // in the index. A's lines written after that (it woke up in the middle of a write) are not
    // read: playback never shows both writers. Lines without an epoch are of epoch 0.
    const QByteArray head = "#iptv-dvr-index 1\n";
    const ArchiveSegment old = segment(0, kT0);
    const ArchiveSegment a = segmentOf(1, 1, kT0 + 2000);
    const ArchiveSegment aLate = segmentOf(1, 2, kT0 + 4000);
    const ArchiveSegment b = segmentOf(2, 2, kT0 + 5000, 2000, true);
    const QByteArray text = head + ArchiveIndex::line(old) + "epoch\t1\t1765004401000\n" + ArchiveIndex::line(a)
        + "epoch\t2\t1765004404500\n" + ArchiveIndex::line(aLate) + "end\t1765004406000\t1\n" + ArchiveIndex::line(b);
    ArchiveIndexContents c = ArchiveIndex::parse(text);
    QCOMPARE(c.segments, (QList<ArchiveSegment>{old, a, b}));
    QCOMPARE(c.staleLines, 2); // A's late segment and its end line
    QCOMPARE(c.badLines, 0);
    QCOMPARE(c.epoch, 2);
    QCOMPARE(c.finishedAtMs, 0);
    // B's own end counts; an epoch column that is no epoch is an unreadable line.
    c = ArchiveIndex::parse(text + "end\t1765004408000\t2\n" + "seg\t3\t1\t1\t1\tseg-3.ts\t-\tx\n");
    QCOMPARE(c.finishedAtMs, kT0 + 8000);
    QCOMPARE(c.badLines, 1);
    QCOMPARE(c.segments.size(), 3);
}

void TestArchiveIndex::writerOfALowerEpochIsFenced()
{
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings first;
    first.directory = dir.filePath(QStringLiteral("rec"));
    first.epoch = 1;
    first.minFreeBytes = 1; // the free-space probe runs in the middle of a write: the takeover happens there
    ArchiveWriterSettings second = first;
    second.epoch = 2;
    ArchiveWriter a;
    QVERIFY2(a.open(first, &error), qPrintable(error));
    QCOMPARE(ArchiveWriter::folderEpoch(first.directory), 1);
    StorageError e;
    QVERIFY2(a.writeSegment("aaaa", kT0, 2000, false, &e), qPrintable(e.toString()));
    QCOMPARE(a.lastWritten().file, u"seg-0-e1.ts"_qs);

    // A is stalled inside its next write, after it looked at the folder's epoch; B takes over.
    ArchiveWriter b;
    bool opened = false;
    a.setFreeSpace([&](const QString &) {
        if (!opened)
            opened = b.open(second, &error);
        return qint64(1) << 40;
    });
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u".*the folder's epoch is now 2, this writer's 1:.*"_qs));
    QVERIFY(!a.writeSegment("bbbb", kT0 + 2000, 2000, false, &e));
    QVERIFY2(opened, qPrintable(error));
    QCOMPARE(e.kind, StorageError::Fenced);
    QVERIFY2(e.toString().contains(u"segment 1") && e.why.contains(u"epoch is 2, this writer's 1"), qPrintable(e.toString()));
    QVERIFY(a.fenced());
    QCOMPARE(a.fencedBy(), 2);
    // It stays refused, its end line too.
    QVERIFY(!a.writeSegment("cccc", kT0 + 4000, 2000, false, &e));
    QCOMPARE(e.kind, StorageError::Fenced);
    QVERIFY(!a.finish(kT0 + 6000, &error));
    QVERIFY2(error.contains(u"epoch is 2"), qPrintable(error));

    // A line a stalled writer appends after B's epoch began (it passed both looks before B came)
    // is not read.
    ArchiveReader reader;
    QVERIFY2(reader.load(first.directory, &error), qPrintable(error));
    const QString chunk = reader.chunks().first().name;
    const QString index = QDir(first.directory).filePath(chunk + u"/index.tsv"_qs);
    QVERIFY(appendRaw(index, ArchiveIndex::line(segmentOf(1, 1, kT0 + 2000))));

    // B records on after what A wrote before the takeover.
    QCOMPARE(b.nextSequence(), 1);
    QCOMPARE(b.lastEndMs(), kT0 + 2000);
    QVERIFY2(b.writeSegment("dddd", kT0 + 5000, 2000, false, &e), qPrintable(e.toString()));
    QVERIFY2(b.finish(kT0 + 7000, &error), qPrintable(error));
    QVERIFY2(reader.load(first.directory, &error), qPrintable(error));
    QCOMPARE(reader.chunks().first().index.staleLines, 1);
    const QList<ArchiveSegment> all = reader.segments();
    QCOMPARE(all.size(), 2);
    QCOMPARE(all[0].file, chunk + u"/seg-0-e1.ts"_qs);
    QCOMPARE(all[1].file, chunk + u"/seg-1-e2.ts"_qs);
    QVERIFY2(all[1].gap, "the takeover is not marked as a gap");
    QVERIFY(reader.finished());
    QCOMPARE(fileBytes(QDir(first.directory).filePath(all[0].file)), QByteArray("aaaa"));
    QCOMPARE(fileBytes(QDir(first.directory).filePath(all[1].file)), QByteArray("dddd"));
    // A's refused segments left no file; only B's epoch is named in the folder.
    QCOMPARE(filesIn(QDir(first.directory).filePath(chunk)), (QStringList{u"index.tsv"_qs, u"seg-0-e1.ts"_qs, u"seg-1-e2.ts"_qs}));
    QCOMPARE(filesIn(first.directory), QStringList{u".epoch-2"_qs});

    // A writer of a lower epoch does not open the folder at all.
    ArchiveWriter late;
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u".*the folder's epoch is 2, this writer's 1 .*"_qs));
    QVERIFY(!late.open(first, &error));
    QVERIFY2(error.contains(first.directory) && error.contains(u"epoch is 2, this writer's 1"), qPrintable(error));
    QCOMPARE(late.fencedBy(), 2);
}

void TestArchiveIndex::takeoverListsTheLastHoldersJournal()
{
    // The holder before (epoch 1) died or stalled in the middle of a segment: the next holder
    // (epoch 2) lists what that segment's journal holds as its own and removes the journal; the
    // old holder's cut of it is refused.
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings first;
    first.directory = dir.filePath(QStringLiteral("rec"));
    first.epoch = 1;
    ArchiveWriterSettings second = first;
    second.epoch = 2;
    ArchiveWriter a;
    QVERIFY2(a.open(first, &error), qPrintable(error));
    StorageError e;
    QVERIFY2(a.writeSegment(tsBytes(2, 'a'), kT0, 2000, false, &e), qPrintable(e.toString()));
    QVERIFY2(a.journal({tsBytes(3, 'b')}, kT0 + 2000, 1200, false, true, &error), qPrintable(error));
    QVERIFY2(a.journal({tsBytes(1, 'c')}, kT0 + 2000, 1500, false, false, &error), qPrintable(error));
    QCOMPARE(filesIn(first.directory), (QStringList{u".epoch-1"_qs, u".journal-e1.log"_qs, u".journal-e1.ts"_qs}));

    ArchiveWriter b;
    QVERIFY2(b.open(second, &error), qPrintable(error));
    QVERIFY(b.recoveredJournal());
    QCOMPARE(b.nextSequence(), 2);
    QCOMPARE(filesIn(first.directory), QStringList{u".epoch-2"_qs});
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u".*the folder's epoch is now 2, this writer's 1:.*"_qs));
    QVERIFY(!a.writeJournaledSegment({tsBytes(1, 'd')}, kT0 + 2000, 2000, false, &e));
    QCOMPARE(e.kind, StorageError::Fenced);

    // B's own journal has names of its epoch.
    QVERIFY2(b.journal({tsBytes(1, 'e')}, kT0 + 6000, 1000, false, true, &error), qPrintable(error));
    QVERIFY(QFile::exists(QDir(first.directory).filePath(u".journal-e2.ts"_qs)));
    QVERIFY2(b.writeJournaledSegment({tsBytes(1, 'f')}, kT0 + 6000, 2000, false, &e), qPrintable(e.toString()));

    ArchiveReader reader;
    QVERIFY2(reader.load(first.directory, &error), qPrintable(error));
    const QList<ArchiveSegment> all = reader.segments();
    QCOMPARE(all.size(), 3);
    QCOMPARE(all[0].epoch, 1);
    QCOMPARE(all[1].epoch, 2);
    QCOMPARE(all[1].startMs, kT0 + 2000);
    QCOMPARE(all[1].durationMs, 1500);
    QCOMPARE(fileBytes(QDir(first.directory).filePath(all[1].file)), tsBytes(3, 'b') + tsBytes(1, 'c'));
    QVERIFY2(all[2].gap, "the takeover is not marked as a gap");
    QCOMPARE(fileBytes(QDir(first.directory).filePath(all[2].file)), tsBytes(1, 'e') + tsBytes(1, 'f'));
}

void TestArchiveIndex::folderWithoutEpochIsEpochZero()
{
    // A folder written before there were epochs (or by a writer without one): its index lines and
    // its journal are epoch 0's; the first writer with an epoch reads them and records on.
    QTemporaryDir dir;
    QString error;
    ArchiveWriterSettings settings;
    settings.directory = dir.filePath(QStringLiteral("rec"));
    {
        ArchiveWriter old;
        QVERIFY2(old.open(settings, &error), qPrintable(error));
        StorageError e;
        QVERIFY2(old.writeSegment(tsBytes(2, 'a'), kT0, 2000, false, &e), qPrintable(e.toString()));
        QCOMPARE(old.lastWritten().file, u"seg-0.ts"_qs);
        QVERIFY2(old.journal({tsBytes(2, 'b')}, kT0 + 2000, 1000, false, true, &error), qPrintable(error));
        // destroyed without finish(): a crash
    }
    QCOMPARE(ArchiveWriter::folderEpoch(settings.directory), 0);
    settings.epoch = 1;
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    QVERIFY(writer.recoveredJournal());
    StorageError e;
    QVERIFY2(writer.writeSegment(tsBytes(1, 'c'), kT0 + 5000, 2000, false, &e), qPrintable(e.toString()));
    ArchiveReader reader;
    QVERIFY2(reader.load(settings.directory, &error), qPrintable(error));
    const QList<ArchiveSegment> all = reader.segments();
    QCOMPARE(all.size(), 3);
    QCOMPARE(all[0].epoch, 0);
    QCOMPARE(all[1].epoch, 1);
    QCOMPARE(all[2].epoch, 1);
    QCOMPARE(reader.chunks().first().index.staleLines, 0);
    QCOMPARE(filesIn(settings.directory), QStringList{u".epoch-1"_qs});
}

QTEST_GUILESS_MAIN(TestArchiveIndex)
#include "tst_archiveindex.moc"
