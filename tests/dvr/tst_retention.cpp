// Retention and storage: archive chunks past the window go unless a kept recording references
// them (one stored copy per airing, however many viewers recorded it), keep-until and
// keep-N-episodes, space pressure (expired first, then the oldest unreferenced timeshift, never a
// kept recording), and the storage path with the most free space.

#include <dvr/archive.h>
#include <dvr/playout.h>
#include <dvr/retention.h>
#include <dvr/storage.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::dvr;

namespace {

const qint64 kHour = 3600 * 1000;
const qint64 kT0 = 1765004400000; // 2025-12-06T07:00:00Z

/// An archive of hourly chunks from kT0 - hours h to kT0, one 1 kB segment each 10 minutes.
bool makeArchive(const QString &dir, int hours, QString *error)
{
    ArchiveWriterSettings settings;
    settings.directory = dir;
    settings.chunkMs = kHour;
    ArchiveWriter writer;
    if (!writer.open(settings, error))
        return false;
    for (qint64 t = kT0 - hours * kHour; t < kT0; t += 10 * 60 * 1000) {
        StorageError e;
        if (!writer.writeSegment(QByteArray(1000, 'x'), t, 10 * 60 * 1000, false, &e)) {
            *error = e.toString();
            return false;
        }
    }
    return true;
}

QStringList chunkNames(const QString &dir)
{
    ArchiveReader reader;
    QString error;
    reader.load(dir, &error);
    QStringList names;
    for (const ArchiveChunk &c : reader.chunks())
        names << c.name;
    return names;
}

RetainedRecording onArchive(const QString &id, const QString &dir, qint64 from, qint64 to)
{
    RetainedRecording r;
    r.id = id;
    r.directory = dir;
    r.range = {from, to};
    return r;
}

} // namespace

class TestRetention : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void archiveWindowKeepsReferencedChunks();
    void deletedChunksKeepTheDiscontinuityCount();
    void oneCopyPerAiring();
    void closedArchiveKeepsOnlyWhatRecordingsReference();
    void keepUntilDeletesOwnCopy();
    void keepEpisodes();
    void spacePressure();
    void spaceIsFreedOnTheDiskShortOfIt();
    void writerAsksRetentionWhenFull();
    void storageChoosesMostFree();
    void channelFolderNames_data();
    void channelFolderNames();
};

void TestRetention::archiveWindowKeepsReferencedChunks()
{
    QTemporaryDir tmp;
    const QString dir = tmp.filePath(u"ch1"_qs);
    QString error;
    QVERIFY2(makeArchive(dir, 6, &error), qPrintable(error)); // 01:00 … 06:00
    QCOMPARE(chunkNames(dir).size(), 6);
    // A 2 h window at 07:00: 01:00–04:59 are past it; a kept recording of 02:30–03:10 holds 02:00 and 03:00.
    const QList<RetainedArchive> archives{{dir, 2 * kHour}};
    const QList<RetainedRecording> recordings{onArchive(u"r1"_qs, dir, kT0 - 4.5 * kHour, kT0 - 3.8 * kHour)};
    const RetentionPlan plan = Retention::plan(archives, recordings, kT0);
    QStringList errors;
    QCOMPARE(Retention::apply(plan, &errors), plan.bytes());
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(u"; "_qs)));
    QVERIFY(plan.bytes() > 0);
    QCOMPARE(chunkNames(dir), (QStringList{u"20251206T020000Z"_qs, u"20251206T030000Z"_qs, u"20251206T050000Z"_qs,
                                           u"20251206T060000Z"_qs}));
    QVERIFY(plan.expiredRecordings.isEmpty());
    for (const auto &d : plan.deletions)
        QVERIFY2(d.reason.contains(QLatin1String("window")), qPrintable(d.reason));
}

// Timeshift's window counts the archive's discontinuities from its first segment
// (archiveDiscontinuities()): the chunks retention deletes, past the window or out of the middle
// around a kept recording, leave their count in the archive's ledger, so a segment's number is
// the same before and after.
void TestRetention::deletedChunksKeepTheDiscontinuityCount()
{
    QTemporaryDir tmp;
    const QString dir = tmp.filePath(u"ch1"_qs);
    QString error;
    {
        ArchiveWriter writer;
        QVERIFY2(writer.open({dir, kHour, 0}, &error), qPrintable(error));
        // 01:00 … 06:00, a segment each 10 minutes; gaps in the first, second and fourth hour and
        // before the third's first segment.
        int i = 0;
        for (qint64 t = kT0 - 6 * kHour; t < kT0; t += 10 * 60 * 1000, ++i) {
            StorageError e;
            QVERIFY2(writer.writeSegment(QByteArray(1000, 'x'), t, 10 * 60 * 1000, i == 3 || i == 8 || i == 12 || i == 20, &e),
                     qPrintable(e.toString()));
        }
    }
    ArchiveReader reader;
    QVERIFY2(reader.load(dir, &error), qPrintable(error));
    const QList<ArchiveSegment> all = reader.segments();
    QCOMPARE(all.size(), 36);
    const auto count = [&](const ArchiveSegment &s) {
        const auto d = archiveDiscontinuities(dir, s, &error);
        return d ? d->before * 2 + (d->atSegment ? 1 : 0) : qint64(-1);
    };
    // Before the 06:00 chunk's third segment: all four; the third hour's first is one itself.
    QCOMPARE(count(all[32]), qint64(4 * 2));
    QCOMPARE(count(all[12]), qint64(2 * 2 + 1));
    const qint64 before = count(all[32]), before05 = count(all[26]);

    // A 2 h window at 07:00 with a kept recording in the 02:00 chunk: 01:00, 03:00 and 04:00 go.
    const QList<RetainedArchive> archives{{dir, 2 * kHour}};
    const QList<RetainedRecording> kept{onArchive(u"r1"_qs, dir, kT0 - 4.9 * kHour, kT0 - 4.5 * kHour)};
    QStringList errors;
    Retention::apply(Retention::plan(archives, kept, kT0), &errors);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(u"; "_qs)));
    QCOMPARE(chunkNames(dir), (QStringList{u"20251206T020000Z"_qs, u"20251206T050000Z"_qs, u"20251206T060000Z"_qs}));
    QCOMPARE(count(all[32]), before);
    QCOMPARE(count(all[26]), before05);
    // The recording goes, and its chunk with it: still the same.
    Retention::apply(Retention::plan(archives, {}, kT0), &errors);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(u"; "_qs)));
    QCOMPARE(chunkNames(dir), (QStringList{u"20251206T050000Z"_qs, u"20251206T060000Z"_qs}));
    QCOMPARE(count(all[32]), before);
    QCOMPARE(count(all[26]), before05);
}

void TestRetention::oneCopyPerAiring()
{
    QTemporaryDir tmp;
    const QString dir = tmp.filePath(u"ch1"_qs);
    QString error;
    QVERIFY2(makeArchive(dir, 4, &error), qPrintable(error)); // 03:00 … 06:00
    const QList<RetainedArchive> archives{{dir, 2 * kHour}};
    // Two viewers recorded the 03:00 airing; one of them only until 05:00.
    RetainedRecording a = onArchive(u"viewer-a"_qs, dir, kT0 - 4 * kHour, kT0 - 3 * kHour);
    RetainedRecording b = a;
    b.id = u"viewer-b"_qs;
    b.keepUntilMs = kT0 - 2 * kHour;
    RetentionPlan plan = Retention::plan(archives, {a, b}, kT0);
    QCOMPARE(plan.expiredRecordings, QStringList{u"viewer-b"_qs});
    QStringList errors;
    Retention::apply(plan, &errors);
    QCOMPARE(chunkNames(dir).first(), u"20251206T030000Z"_qs); // still held by viewer-a
    QCOMPARE(chunkNames(dir).size(), 3);                        // 04:00 went
    // When viewer-a deletes theirs, the airing goes with the window.
    plan = Retention::plan(archives, {}, kT0);
    Retention::apply(plan, &errors);
    QCOMPARE(chunkNames(dir), (QStringList{u"20251206T050000Z"_qs, u"20251206T060000Z"_qs}));
}

// A channel archived no more (closed: nothing writes its archive): its window still holds, and no
// chunk is kept as "being written"; past the window what the recordings on it reference stays,
// the rest goes, and the folder goes whole (its journal too) with the last recording.
void TestRetention::closedArchiveKeepsOnlyWhatRecordingsReference()
{
    QTemporaryDir tmp;
    const QString dir = tmp.filePath(u"ch1"_qs);
    QString error;
    QVERIFY2(makeArchive(dir, 4, &error), qPrintable(error)); // 03:00 … 06:00, inside a day's window
    QFile journal(QDir(dir).filePath(u".journal.log"_qs));
    QVERIFY(journal.open(QIODevice::WriteOnly) && journal.write("7 1000 0 1000 0\n") > 0);
    journal.close();
    const QList<RetainedRecording> recordings{onArchive(u"rec:1"_qs, dir, kT0 - 3 * kHour + 60000, kT0 - 3 * kHour + 120000)};
    // Archived still: the window keeps everything.
    QVERIFY(Retention::plan({{dir, 24 * kHour}}, recordings, kT0).deletions.isEmpty());
    // Closed, it keeps its window all the same (the channel taken out of the configuration by
    // mistake loses no catch-up), the newest chunk and the folder too.
    RetainedArchive closedInWindow{dir, 24 * kHour};
    closedInWindow.closed = true;
    QVERIFY(Retention::plan({closedInWindow}, recordings, kT0).deletions.isEmpty());
    QVERIFY(Retention::plan({closedInWindow}, {}, kT0).deletions.isEmpty());
    // Past its window (closed with none here), only what the recordings reference stays.
    RetainedArchive closed{dir, 0};
    closed.closed = true;
    RetentionPlan plan = Retention::plan({closed}, recordings, kT0);
    QCOMPARE(plan.deletions.size(), 3);
    for (const auto &d : std::as_const(plan.deletions))
        QVERIFY2(d.reason.contains(u"archived no more"_qs), qPrintable(d.reason));
    QStringList errors;
    QVERIFY(Retention::apply(plan, &errors) > 0);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(u"; "_qs)));
    QCOMPARE(chunkNames(dir), QStringList{u"20251206T040000Z"_qs}); // the newest (06:00) went too
    // Space pressure takes nothing more: the one chunk left is referenced.
    QVERIFY(Retention::planForSpace({closed}, recordings, kT0, 1'000'000'000).deletions.isEmpty());
    // The last recording deleted: the whole folder goes.
    plan = Retention::plan({closed}, {}, kT0);
    QCOMPARE(plan.deletions.size(), 1);
    QCOMPARE(plan.deletions.first().path, dir);
    QVERIFY(Retention::apply(plan, &errors) > 0);
    QVERIFY(!QFileInfo::exists(dir));
}

void TestRetention::keepUntilDeletesOwnCopy()
{
    QTemporaryDir tmp;
    QString error;
    QList<RetainedRecording> recordings;
    for (int i = 0; i < 2; ++i) {
        RetainedRecording r;
        r.id = QStringLiteral("own%1").arg(i);
        r.directory = tmp.filePath(r.id);
        r.ownCopy = true;
        r.keepUntilMs = i == 0 ? kT0 - 1 : kT0 + kHour;
        QVERIFY2(makeArchive(r.directory, 1, &error), qPrintable(error));
        recordings << r;
    }
    const RetentionPlan plan = Retention::plan({}, recordings, kT0);
    QCOMPARE(plan.expiredRecordings, QStringList{u"own0"_qs});
    QCOMPARE(plan.deletions.size(), 1);
    QVERIFY2(plan.deletions.first().reason.contains(QLatin1String("keep-until")), qPrintable(plan.deletions.first().reason));
    QStringList errors;
    QVERIFY(Retention::apply(plan, &errors) > 6000);
    QVERIFY(!QFileInfo::exists(recordings[0].directory));
    QVERIFY(QFileInfo::exists(recordings[1].directory));
}

void TestRetention::keepEpisodes()
{
    QList<RetainedRecording> recordings;
    for (int i = 0; i < 5; ++i) {
        RetainedRecording r = onArchive(QStringLiteral("ep%1").arg(i), u"/a"_qs, kT0 + i * 24 * kHour, kT0 + i * 24 * kHour + kHour);
        r.group = u"series-news"_qs;
        r.keepEpisodes = 2;
        recordings << r;
    }
    RetainedRecording other = onArchive(u"film"_qs, u"/a"_qs, kT0, kT0 + 2 * kHour);
    recordings << other;
    const auto gone = Retention::expired(recordings, kT0);
    QStringList ids;
    for (const auto &g : gone) {
        ids << g.first;
        QVERIFY2(g.second.contains(QLatin1String("newest 2")), qPrintable(g.second));
    }
    ids.sort();
    QCOMPARE(ids, (QStringList{u"ep0"_qs, u"ep1"_qs, u"ep2"_qs}));
}

void TestRetention::spacePressure()
{
    QTemporaryDir tmp;
    const QString dir = tmp.filePath(u"ch1"_qs);
    QString error;
    QVERIFY2(makeArchive(dir, 5, &error), qPrintable(error)); // 02:00 … 06:00, all inside a day's window
    const QList<RetainedArchive> archives{{dir, 24 * kHour}};
    const QList<RetainedRecording> kept{onArchive(u"r"_qs, dir, kT0 - 5 * kHour, kT0 - 4 * kHour)}; // holds 02:00
    QVERIFY(Retention::plan(archives, kept, kT0).deletions.isEmpty());
    // Two chunks' worth: 03:00 and 04:00 go (02:00 is referenced).
    const qint64 chunk = folderBytes(QDir(dir).filePath(u"20251206T030000Z"_qs));
    RetentionPlan plan = Retention::planForSpace(archives, kept, kT0, 2 * chunk);
    QStringList errors;
    QVERIFY(Retention::apply(plan, &errors) >= 2 * chunk);
    QCOMPARE(chunkNames(dir), (QStringList{u"20251206T020000Z"_qs, u"20251206T050000Z"_qs, u"20251206T060000Z"_qs}));
    // More than there is: only what may go (05:00; never 06:00, the chunk being written, nor 02:00).
    const qint64 last = folderBytes(QDir(dir).filePath(u"20251206T050000Z"_qs));
    plan = Retention::planForSpace(archives, kept, kT0, 100 * chunk);
    QCOMPARE(Retention::apply(plan, &errors), last);
    QCOMPARE(chunkNames(dir), (QStringList{u"20251206T020000Z"_qs, u"20251206T060000Z"_qs}));
}

void TestRetention::spaceIsFreedOnTheDiskShortOfIt()
{
    // Two archives on two disks; the first is short of space. The second's timeshift is not
    // deleted for it (that frees nothing there), and what goes on the second anyway (a chunk past
    // its window) does not count towards what the first needs.
    QTemporaryDir tmp;
    const QString full = tmp.filePath(u"disk1/ch1"_qs), other = tmp.filePath(u"disk2/ch2"_qs);
    QString error;
    QVERIFY2(makeArchive(full, 4, &error), qPrintable(error));  // 03:00 … 06:00
    QVERIFY2(makeArchive(other, 5, &error), qPrintable(error)); // 02:00 … 06:00
    const QList<RetainedArchive> archives{{full, 24 * kHour}, {other, 4 * kHour}}; // 02:00 is past the second's window
    const auto onDisk1 = [&](const QString &folder) { return folder.startsWith(tmp.filePath(u"disk1"_qs)); };
    const qint64 chunk = folderBytes(QDir(full).filePath(u"20251206T030000Z"_qs));
    QStringList errors;
    QVERIFY(Retention::apply(Retention::planForSpace(archives, {}, kT0, chunk, onDisk1), &errors) >= chunk);
    QCOMPARE(chunkNames(full), (QStringList{u"20251206T040000Z"_qs, u"20251206T050000Z"_qs, u"20251206T060000Z"_qs}));
    QCOMPARE(chunkNames(other), (QStringList{u"20251206T030000Z"_qs, u"20251206T040000Z"_qs, u"20251206T050000Z"_qs,
                                             u"20251206T060000Z"_qs})); // only its expired 02:00
    // More than the first disk has: all it may give, nothing more from the second.
    QVERIFY(Retention::apply(Retention::planForSpace(archives, {}, kT0, 100 * chunk, onDisk1), &errors) > 0);
    QCOMPARE(chunkNames(full), (QStringList{u"20251206T060000Z"_qs}));
    QCOMPARE(chunkNames(other).size(), 4);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(u"; "_qs)));
}

void TestRetention::writerAsksRetentionWhenFull()
{
    QTemporaryDir tmp;
    const QString dir = tmp.filePath(u"ch1"_qs);
    QString error;
    QVERIFY2(makeArchive(dir, 3, &error), qPrintable(error)); // 04:00, 05:00, 06:00
    const QList<RetainedArchive> archives{{dir, 24 * kHour}};
    const QList<RetainedRecording> kept{onArchive(u"r"_qs, dir, kT0 - 3 * kHour, kT0 - 2.5 * kHour)}; // holds 04:00
    // A disk of what is there now plus 5 kB, of which 4 kB must stay free.
    const qint64 capacity = folderBytes(dir) + 5000;
    ArchiveWriterSettings settings;
    settings.directory = dir;
    settings.chunkMs = kHour;
    settings.minFreeBytes = 4000;
    ArchiveWriter writer;
    QVERIFY2(writer.open(settings, &error), qPrintable(error));
    writer.setFreeSpace([&](const QString &) { return capacity - folderBytes(dir); });
    int asked = 0;
    writer.setSpaceRecovery([&](qint64 need) {
        ++asked;
        QStringList errors;
        return Retention::apply(Retention::planForSpace(archives, kept, kT0, need), &errors);
    });
    StorageError e;
    QVERIFY2(writer.writeSegment(QByteArray(900, 'y'), kT0, 1000, false, &e), qPrintable(e.toString()));
    QCOMPARE(asked, 0);
    QVERIFY2(writer.writeSegment(QByteArray(900, 'y'), kT0 + 1000, 1000, false, &e), qPrintable(e.toString()));
    QCOMPARE(asked, 1); // 05:00 went; 04:00 is a kept recording's
    QVERIFY(chunkNames(dir).contains(u"20251206T040000Z"_qs));
    QVERIFY(!chunkNames(dir).contains(u"20251206T050000Z"_qs));
    // Until nothing may go: then a clear error, and what is written stays.
    bool failed = false;
    for (int i = 2; i < 40 && !failed; ++i)
        failed = !writer.writeSegment(QByteArray(900, 'y'), kT0 + i * 1000, 1000, false, &e);
    QVERIFY(failed);
    QCOMPARE(e.kind, StorageError::DiskFull);
    QVERIFY2(e.why.contains(QLatin1String("minimum")), qPrintable(e.why));
    QVERIFY(chunkNames(dir).contains(u"20251206T040000Z"_qs));
}

void TestRetention::storageChoosesMostFree()
{
    StoragePool pool({u"/srv/a"_qs, u"/srv/b"_qs, u"/srv/c"_qs}, 1000);
    QMap<QString, qint64> free{{u"/srv/a"_qs, 5000}, {u"/srv/b"_qs, 9000}, {u"/srv/c"_qs, -1}};
    pool.setFreeSpace([&](const QString &p) { return free.value(p); });
    QString why;
    QCOMPARE(pool.choose(100, &why).value_or(QString()), u"/srv/b"_qs);
    QCOMPARE(pool.choose(7000, &why).value_or(QString()), u"/srv/b"_qs);
    QVERIFY(!pool.choose(8500, &why));
    QVERIFY2(why.contains(u"/srv/a (0.0 MB free)"_qs) && why.contains(u"/srv/c (not mounted"_qs), qPrintable(why));
    free[u"/srv/b"_qs] = 10;
    QCOMPARE(pool.choose(100, &why).value_or(QString()), u"/srv/a"_qs);

    // An existing recording stays where it is.
    QTemporaryDir a, b;
    StoragePool real({a.path(), b.path()}, 0);
    QVERIFY(QDir(b.path()).mkpath(u"rec1"_qs));
    QCOMPARE(real.locate(u"rec1"_qs), b.path());
    QCOMPARE(real.place(u"rec1"_qs, 0, &why).value_or(QString()), QDir(b.path()).filePath(u"rec1"_qs));
    QVERIFY(real.locate(u"rec2"_qs).isEmpty());
}

// A channel's folder is its id where that is a plain name (the folders of such ids stay where
// they were), else one folder level whatever the id holds: never a level more, hidden, . or ..
void TestRetention::channelFolderNames_data()
{
    QTest::addColumn<QString>("id");
    QTest::addColumn<QString>("folder");
    QTest::newRow("plain") << u"one"_qs << u"one"_qs;
    QTest::newRow("dots inside") << u"ch001.demo"_qs << u"ch001.demo"_qs;
    QTest::newRow("spaces, colon, non-ASCII") << u"BBC One: HD é"_qs << u"BBC One: HD é"_qs;
    QTest::newRow("dot dot inside") << u"a..b"_qs << u"a..b"_qs;
    QTest::newRow("slash") << u"a/b"_qs << u"a%2Fb"_qs;
    QTest::newRow("two slashes") << u"sky/news/hd"_qs << u"sky%2Fnews%2Fhd"_qs;
    QTest::newRow("dot dot") << u".."_qs << u"%2E%2E"_qs;
    QTest::newRow("dot") << u"."_qs << u"%2E"_qs;
    QTest::newRow("up and out") << u"../x"_qs << u"%2E%2E%2Fx"_qs;
    QTest::newRow("hidden") << u".hidden"_qs << u"%2Ehidden"_qs;
    QTest::newRow("backslash") << u"a\\b"_qs << u"a%5Cb"_qs;
    QTest::newRow("percent") << u"100%"_qs << u"100%25"_qs;
    QTest::newRow("encoded-looking") << u"a%2Fb"_qs << u"a%252Fb"_qs;
    QTest::newRow("control") << u"tab\tnl\n"_qs << u"tab%09nl%0A"_qs;
}

void TestRetention::channelFolderNames()
{
    QFETCH(QString, id);
    QFETCH(QString, folder);
    QCOMPARE(channelFolderName(id), folder);
    QCOMPARE(channelIdOfFolder(folder), std::optional<QString>(id));
    // One level below the storage's folder, whatever the id.
    const QString path = QDir::cleanPath(u"/srv/storage/archive/"_qs + channelFolderName(id));
    QCOMPARE(QFileInfo(path).path(), u"/srv/storage/archive"_qs);
    QVERIFY(!QFileInfo(path).fileName().startsWith(u'.'));
    // A name channelFolderName() does not make is no channel's folder.
    for (const QString &other : {u".."_qs, u"a%2fb"_qs, u"%"_qs, u"a%2"_qs, u".x"_qs, QString()})
        QVERIFY2(!channelIdOfFolder(other), qPrintable(other));
}

QTEST_GUILESS_MAIN(TestRetention)
#include "tst_retention.moc"
