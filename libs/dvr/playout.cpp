#include "playout.h"

#include <media/hlsplaylist.h>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QMap>
#include <QMutex>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>
#include <limits>

#include <unistd.h>

namespace iptv::dvr {

int playlistTargetSeconds(double segmentSeconds)
{
    // The recorder cuts at the first keyframe after segmentSeconds and, without one, at 3x it
    // (recorder.cpp): a segment lasts at most that and a frame, which rounds to no more than the
    // ceiling (EXTINF rounded to the nearest integer must not exceed the target, RFC 8216 4.3.3.1).
    return qMax(1, int(std::ceil(3 * segmentSeconds - 0.001)));
}

namespace {

/// playoutPlaylist() and slidingPlaylist(): no `sliding` is an EVENT playlist.
QByteArray mediaPlaylist(const QList<ArchiveSegment> &segments, bool ended, const QString &uriPrefix, int targetSeconds,
                         std::optional<Discontinuities> sliding)
{
    // A fixed target: a growing playlist's EXT-X-TARGETDURATION must never change (RFC 8216
    // 6.2.1), so it is not worked out from the segments listed so far. A segment longer than it
    // (an archive recorded with a longer segment_seconds) raises it rather than break 4.3.3.1.
    qint64 target = qMax(1, targetSeconds);
    for (const ArchiveSegment &s : segments)
        target = qMax(target, (s.durationMs + 500) / 1000);

    QByteArray out = "#EXTM3U\n#EXT-X-VERSION:3\n";
    out += "#EXT-X-TARGETDURATION:" + QByteArray::number(target) + '\n';
    out += "#EXT-X-MEDIA-SEQUENCE:" + QByteArray::number(segments.isEmpty() ? 0 : segments.first().sequence) + '\n';
    // EVENT whether it has ended or not: a playlist that grew and then ended is the same
    // playlist with EXT-X-ENDLIST appended (RFC 8216 6.2.1 allows nothing else; VOD in its
    // place would change a line a player read while it grew). EVENT with EXT-X-ENDLIST plays as
    // VOD does (seekable, its duration known, never reloaded). A sliding window has no type:
    // its oldest segments leave (6.2.2), and the discontinuities they take along are counted.
    if (!sliding)
        out += "#EXT-X-PLAYLIST-TYPE:EVENT\n";
    else
        out += "#EXT-X-DISCONTINUITY-SEQUENCE:" + QByteArray::number(qMax<qint64>(0, sliding->before)) + '\n';
    // A playlist still growing is otherwise played like live TV: players (FFmpeg's, the box's)
    // start a few segments from its end, not where the viewer asked (RFC 8216 4.3.5.2). The same
    // line once it has ended, so that the end appends and changes nothing.
    out += "#EXT-X-START:TIME-OFFSET=0\n";
    for (qsizetype i = 0; i < segments.size(); ++i) {
        const ArchiveSegment &s = segments[i];
        // A gap, or segments that do not follow each other (a range across a hole): the
        // timestamps do not continue. Dates further apart than the durations (a source slower
        // than the clock) or a little closer (a burst) are no discontinuity: the media goes on.
        // The first segment of a window keeps its tag as it slides up to it (RFC 8216 6.2.1
        // allows a playlist no other change).
        const bool follows = i == 0 || segments[i - 1].sequence + 1 == s.sequence;
        if (i > 0 ? (s.gap || !follows) : (sliding && sliding->atSegment))
            out += "#EXT-X-DISCONTINUITY\n";
        out += "#EXT-X-PROGRAM-DATE-TIME:"
            + media::hlsDateTime(QDateTime::fromMSecsSinceEpoch(s.startMs, Qt::UTC)).toLatin1() + '\n';
        out += "#EXTINF:" + QByteArray::number(s.durationMs / 1000.0, 'f', 3) + ",\n";
        out += (uriPrefix + s.file).toUtf8() + '\n';
    }
    if (ended)
        out += "#EXT-X-ENDLIST\n";
    return out;
}

} // namespace

QByteArray playoutPlaylist(const QList<ArchiveSegment> &segments, bool ended, const QString &uriPrefix, int targetSeconds)
{
    return mediaPlaylist(segments, ended, uriPrefix, targetSeconds, std::nullopt);
}

QByteArray slidingPlaylist(const QList<ArchiveSegment> &segments, const Discontinuities &first, bool ended,
                           const QString &uriPrefix, int targetSeconds)
{
    return mediaPlaylist(segments, ended, uriPrefix, targetSeconds, first);
}

namespace {

constexpr const char *kLedgerName = "discontinuities.tsv";

/// What counting discontinuities needs of one chunk: its segments' sequences and gap flags.
struct ChunkTally
{
    qint64 firstSequence = -1, lastSequence = -1; ///< -1: no segment
    bool firstGap = false;
    qint64 inside = 0; ///< discontinuities after its first segment
};

ChunkTally tally(const QList<ArchiveSegment> &segments)
{
    ChunkTally t;
    for (qsizetype i = 0; i < segments.size(); ++i) {
        const ArchiveSegment &s = segments[i];
        if (i == 0) {
            t.firstSequence = s.sequence;
            t.firstGap = s.gap;
        } else if (s.gap || segments[i - 1].sequence + 1 != s.sequence) {
            ++t.inside;
        }
        t.lastSequence = s.sequence;
    }
    return t;
}

/// A chunk's discontinuities with the one before it: its first segment counts when it is
/// flagged or does not follow `previousLast` (-1: nothing before it is known).
qint64 discontinuitiesOf(const ChunkTally &t, qint64 previousLast)
{
    if (t.firstSequence < 0)
        return 0;
    const bool first = previousLast >= 0 && (t.firstGap || previousLast + 1 != t.firstSequence);
    return t.inside + (first ? 1 : 0);
}

/// The tallies of closed chunks by their index's path, valid while the index keeps its size.
struct TallyCache
{
    QMutex mutex;
    QHash<QString, std::pair<qint64, ChunkTally>> byIndex;
};
TallyCache &tallyCache()
{
    static TallyCache cache;
    return cache;
}

std::optional<ChunkTally> chunkTally(const QString &directory, const QString &chunk, QString *error)
{
    const QString path = QDir(directory).filePath(chunk + u'/' + QLatin1String(ArchiveIndex::kFileName));
    const qint64 size = QFileInfo(path).size();
    TallyCache &cache = tallyCache();
    {
        QMutexLocker lock(&cache.mutex);
        const auto it = cache.byIndex.constFind(path);
        if (it != cache.byIndex.cend() && it->first == size)
            return it->second;
    }
    const std::optional<ArchiveIndexContents> index = ArchiveIndex::read(path, error);
    if (!index)
        return std::nullopt;
    const ChunkTally t = tally(index->segments);
    QMutexLocker lock(&cache.mutex);
    if (cache.byIndex.size() > 20000)
        cache.byIndex.clear();
    cache.byIndex.insert(path, {size, t});
    return t;
}

/// A deleted chunk as the ledger has it.
struct DeletedChunk
{
    qint64 discontinuities = 0;
    qint64 lastSequence = -1;
};

QMap<QString, DeletedChunk> readLedger(const QString &directory)
{
    QMap<QString, DeletedChunk> ledger;
    QFile f(QDir(directory).filePath(QLatin1String(kLedgerName)));
    if (!f.open(QIODevice::ReadOnly))
        return ledger;
    for (const QByteArray &line : f.readAll().split('\n')) {
        const QList<QByteArray> fields = line.split('\t');
        if (fields.size() != 3)
            continue; // a line cut short by a crash: its chunk was not deleted then
        ledger.insert(QString::fromLatin1(fields[0]), {fields[1].toLongLong(), fields[2].toLongLong()});
    }
    return ledger;
}

QStringList chunkNames(const QString &directory)
{
    static const QRegularExpression pattern(QStringLiteral("^[0-9]{8}T[0-9]{6}Z$"));
    QStringList names = QDir(directory).entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
    names.erase(std::remove_if(names.begin(), names.end(), [](const QString &n) { return !pattern.match(n).hasMatch(); }),
                names.end());
    return names;
}

/// Walks the archive's chunks (present and deleted, by name, so by time) up to `untilChunk`:
/// the discontinuities before it and the last sequence before it (-1: none known).
std::optional<std::pair<qint64, qint64>> countBefore(const QString &directory, const QString &untilChunk, QString *error)
{
    const QMap<QString, DeletedChunk> ledger = readLedger(directory);
    QStringList names = chunkNames(directory);
    for (auto it = ledger.cbegin(); it != ledger.cend(); ++it)
        if (!names.contains(it.key()))
            names.append(it.key());
    std::sort(names.begin(), names.end());
    qint64 count = 0, last = -1;
    for (const QString &name : std::as_const(names)) {
        if (name >= untilChunk)
            break;
        if (!QFileInfo::exists(QDir(directory).filePath(name))) {
            const DeletedChunk d = ledger.value(name);
            count += d.discontinuities;
            if (d.lastSequence >= 0)
                last = d.lastSequence;
            continue;
        }
        const std::optional<ChunkTally> t = chunkTally(directory, name, error);
        if (!t)
            return std::nullopt;
        count += discontinuitiesOf(*t, last);
        if (t->lastSequence >= 0)
            last = t->lastSequence;
    }
    return std::make_pair(count, last);
}

} // namespace

std::optional<Discontinuities> archiveDiscontinuities(const QString &directory, const ArchiveSegment &segment, QString *error)
{
    const QString chunk = segment.file.section(u'/', 0, 0);
    const auto before = countBefore(directory, chunk, error);
    if (!before)
        return std::nullopt;
    const QString path = QDir(directory).filePath(chunk + u'/' + QLatin1String(ArchiveIndex::kFileName));
    const std::optional<ArchiveIndexContents> index = ArchiveIndex::read(path, error);
    if (!index)
        return std::nullopt;
    QList<ArchiveSegment> upTo;
    for (const ArchiveSegment &s : index->segments) {
        if (s.sequence == segment.sequence)
            break;
        upTo.append(s);
    }
    // Those of its chunk before it, then it: the first of its chunk follows what came before.
    const qint64 inChunk = discontinuitiesOf(tally(upTo), before->second);
    const qint64 previous = upTo.isEmpty() ? before->second : upTo.last().sequence;
    Discontinuities d;
    d.before = before->first + inChunk;
    d.atSegment = previous >= 0 && (segment.gap || previous + 1 != segment.sequence);
    return d;
}

bool recordDeletedChunk(const QString &directory, const QString &chunkName, QString *error)
{
    const auto before = countBefore(directory, chunkName, error);
    if (!before)
        return false;
    const std::optional<ChunkTally> t = chunkTally(directory, chunkName, error);
    if (!t)
        return false;
    const QByteArray line = chunkName.toLatin1() + '\t' + QByteArray::number(discontinuitiesOf(*t, before->second)) + '\t'
        + QByteArray::number(t->lastSequence >= 0 ? t->lastSequence : before->second) + '\n';
    const QString path = QDir(directory).filePath(QLatin1String(kLedgerName));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Append) || f.write(line) != line.size() || !f.flush()
        || ::fsync(f.handle()) != 0) {
        *error = QStringLiteral("recording the discontinuities of %1 in %2: %3").arg(chunkName, path, f.errorString());
        return false;
    }
    return true;
}

QByteArray recordingPlaylist(const ArchiveReader &recording, const QString &uriPrefix, int targetSeconds)
{
    return playoutPlaylist(recording.segments(), recording.finished(), uriPrefix, targetSeconds);
}

RangeCoverage archiveRangeCoverage(const ArchiveReader &archive, TimeRange range, qint64 nowMs, qint64 staleMs)
{
    RangeCoverage c;
    const QList<ArchiveSegment> segments = archive.segments(range.fromMs, range.toMs);
    qint64 longestMs = 1000;
    for (const ArchiveSegment &s : segments)
        longestMs = qMax(longestMs, s.durationMs);
    // Dates further apart than the media lasts (a source slower than the clock: up to a segment
    // or two) are no missing minutes; a marked gap is, however short.
    const qint64 holeMs = 2 * longestMs + 1000;
    const qint64 archiveStartMs = archive.startMs();
    // Less than a second is no missing minute: a range is named in whole seconds, an archive
    // begins within one.
    auto lacks = [&](qint64 fromMs, qint64 toMs) {
        if (toMs - fromMs >= 1000)
            c.missing.append({fromMs, toMs});
    };
    qint64 cursor = range.fromMs;
    for (qsizetype i = 0; i < segments.size(); ++i) {
        const ArchiveSegment &s = segments[i];
        const bool archiveBegins = i == 0 && s.startMs == archiveStartMs;
        if (s.startMs > cursor && (s.gap || archiveBegins || s.startMs - cursor > holeMs))
            lacks(cursor, qMin(s.startMs, range.toMs));
        cursor = qMax(cursor, s.endMs());
    }
    const qint64 archiveEndMs = archive.endMs();
    c.coveredToMs = segments.isEmpty() ? 0 : qMin(cursor, range.toMs);
    const bool atEnd = !segments.isEmpty() && range.toMs - cursor < 1000;
    if (archive.finished() || archiveEndMs >= range.toMs) {
        // The archive has gone past the range (or is done): what it lacks now it always will. A
        // slower source's hole before the next segment is no missing end; a marked gap is.
        const ArchiveSegment next = archive.segments(cursor, std::numeric_limits<qint64>::max()).value(0);
        const bool reachesEnd = atEnd
            || (!segments.isEmpty() && archiveEndMs >= range.toMs && range.toMs - cursor <= holeMs && next.startMs >= range.toMs
                && !next.gap);
        if (!reachesEnd)
            lacks(cursor, range.toMs);
        c.state = reachesEnd ? RangeCoverage::State::Complete : RangeCoverage::State::Partial;
        if (reachesEnd)
            c.coveredToMs = range.toMs;
        return c;
    }
    // Short of the end: growing while the archive is written (or the range still runs), else
    // the archive stopped and the rest is missing.
    const bool stopped = nowMs >= range.toMs && (archiveEndMs == 0 || nowMs - archiveEndMs >= staleMs);
    if (stopped) {
        lacks(cursor, range.toMs);
        c.state = atEnd ? RangeCoverage::State::Complete : RangeCoverage::State::Partial;
    }
    return c;
}

QString coverageStateName(RangeCoverage::State state)
{
    switch (state) {
    case RangeCoverage::State::Growing:
        return QStringLiteral("growing");
    case RangeCoverage::State::Complete:
        return QStringLiteral("complete");
    case RangeCoverage::State::Partial:
        return QStringLiteral("partial");
    }
    return {};
}

QByteArray archiveRangePlaylist(const ArchiveReader &archive, TimeRange range, qint64 nowMs, const QString &uriPrefix,
                                qint64 staleMs, int targetSeconds)
{
    return archiveRangePlaylist(archive, range, archiveRangeCoverage(archive, range, nowMs, staleMs), uriPrefix, targetSeconds);
}

QByteArray archiveRangePlaylist(const ArchiveReader &archive, TimeRange range, const RangeCoverage &coverage,
                                const QString &uriPrefix, int targetSeconds)
{
    // The segments overlapping the range, nothing else: the archive only appends, so every
    // reload lists what the one before did and more. A range at the live edge that begins after
    // the newest segment has none yet (its first is being written); an older segment in its
    // place would leave the list at the next reload (RFC 8216 6.2.1), so it is not offered:
    // diver holds such a request until the segment is written (docs/diver-api.md).
    return playoutPlaylist(archive.segments(range.fromMs, range.toMs), coverage.ended(), uriPrefix, targetSeconds);
}

PlaylistCut cutPlaylistAt(const QByteArray &playlist, qint64 atMs)
{
    PlaylistCut cut;
    QList<QByteArray> header, body, pending, lastDropped;
    bool lastDroppedDiscontinuity = false;
    qint64 droppedSegments = 0, droppedDiscontinuities = 0, lastDroppedStartMs = 0, lastDroppedDurationMs = 0;
    qint64 firstDurationMs = 0; ///< of the first segment left
    bool inSegments = false;
    for (const QByteArray &line : playlist.split('\n')) {
        if (!inSegments && (line.startsWith("#EXTINF") || line == "#EXT-X-DISCONTINUITY"
                            || line.startsWith("#EXT-X-PROGRAM-DATE-TIME")))
            inSegments = true;
        if (!inSegments) {
            header.append(line);
            continue;
        }
        pending.append(line);
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        // A segment's URI closes its group of tags.
        qint64 durationMs = 0, startMs = 0;
        bool discontinuity = false;
        for (const QByteArray &tag : std::as_const(pending)) {
            if (tag.startsWith("#EXTINF:"))
                durationMs = qRound64(tag.mid(8, tag.indexOf(',') - 8).toDouble() * 1000);
            else if (tag.startsWith("#EXT-X-PROGRAM-DATE-TIME:"))
                startMs = QDateTime::fromString(QString::fromLatin1(tag.mid(25)), Qt::ISODateWithMs).toMSecsSinceEpoch();
            discontinuity |= tag == "#EXT-X-DISCONTINUITY";
        }
        if (atMs > 0 && body.isEmpty() && startMs + durationMs <= atMs) {
            ++droppedSegments;
            droppedDiscontinuities += discontinuity;
            lastDropped = pending;
            lastDroppedDiscontinuity = discontinuity;
            lastDroppedStartMs = startMs;
            lastDroppedDurationMs = durationMs;
        } else {
            if (body.isEmpty()) {
                cut.startMs = startMs;
                firstDurationMs = durationMs;
            }
            body.append(pending);
        }
        pending.clear();
    }
    cut.pastEnd = atMs > 0 && body.isEmpty();
    if (body.isEmpty() && !lastDropped.isEmpty()) {
        body = lastDropped;
        cut.startMs = lastDroppedStartMs;
        firstDurationMs = lastDroppedDurationMs;
        --droppedSegments;
        droppedDiscontinuities -= lastDroppedDiscontinuity;
    }
    body.append(pending); // #EXT-X-ENDLIST and the like
    // Where inside the first segment the moment asked for is (players that honour PRECISE=YES
    // start there; the others at the segment, which cut.startMs says).
    const qint64 intoMs = atMs > 0 && cut.startMs > 0 && atMs > cut.startMs && atMs < cut.startMs + firstDurationMs
        ? atMs - cut.startMs : 0;
    QByteArray out;
    bool hasDiscontinuitySequence = false, hasStart = false;
    for (QByteArray line : std::as_const(header)) {
        if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:"))
            line = "#EXT-X-MEDIA-SEQUENCE:" + QByteArray::number(line.mid(22).toLongLong() + droppedSegments);
        if (line.startsWith("#EXT-X-DISCONTINUITY-SEQUENCE:")) {
            hasDiscontinuitySequence = true;
            line = "#EXT-X-DISCONTINUITY-SEQUENCE:" + QByteArray::number(line.mid(30).toLongLong() + droppedDiscontinuities);
        }
        if (line.startsWith("#EXT-X-START:")) {
            hasStart = true;
            if (intoMs > 0)
                line = "#EXT-X-START:TIME-OFFSET=" + QByteArray::number(intoMs / 1000.0, 'f', 3) + ",PRECISE=YES";
        }
        out += line + '\n';
    }
    if (!hasDiscontinuitySequence && droppedDiscontinuities > 0)
        out += "#EXT-X-DISCONTINUITY-SEQUENCE:" + QByteArray::number(droppedDiscontinuities) + '\n';
    if (!hasStart && intoMs > 0)
        out += "#EXT-X-START:TIME-OFFSET=" + QByteArray::number(intoMs / 1000.0, 'f', 3) + ",PRECISE=YES\n";
    for (const QByteArray &line : std::as_const(body))
        out += line + '\n';
    out.chop(1);
    cut.playlist = out;
    return cut;
}

std::optional<TimeRange> parseArchiveRange(const QString &name, qint64 nowMs)
{
    static const QRegularExpression re(QStringLiteral(R"(^archive-(\d{1,12})-(\d{1,9}|now)(\.m3u8)?$)"));
    const QRegularExpressionMatch m = re.match(name);
    if (!m.hasMatch())
        return std::nullopt;
    TimeRange r;
    r.fromMs = m.captured(1).toLongLong() * 1000;
    if (m.captured(2) == QLatin1String("now")) {
        r.toMs = nowMs;
    } else {
        const qint64 seconds = m.captured(2).toLongLong();
        if (seconds <= 0)
            return std::nullopt;
        r.toMs = r.fromMs + seconds * 1000;
    }
    if (r.toMs <= r.fromMs)
        return std::nullopt;
    return r;
}

} // namespace iptv::dvr
