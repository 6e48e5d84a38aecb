#include "playout.h"

#include <media/hlsplaylist.h>

#include <QRegularExpression>

#include <cmath>

namespace iptv::dvr {

QByteArray playoutPlaylist(const QList<ArchiveSegment> &segments, bool ended, const QString &uriPrefix)
{
    qint64 longestMs = 1000;
    for (const ArchiveSegment &s : segments)
        longestMs = qMax(longestMs, s.durationMs);
    // EXTINF rounded to the nearest integer must not exceed the target (RFC 8216 4.3.3.1).
    const qint64 target = qMax<qint64>(1, (longestMs + 500) / 1000);

    QByteArray out = "#EXTM3U\n#EXT-X-VERSION:3\n";
    out += "#EXT-X-TARGETDURATION:" + QByteArray::number(target) + '\n';
    out += "#EXT-X-MEDIA-SEQUENCE:" + QByteArray::number(segments.isEmpty() ? 0 : segments.first().sequence) + '\n';
    out += ended ? "#EXT-X-PLAYLIST-TYPE:VOD\n" : "#EXT-X-PLAYLIST-TYPE:EVENT\n";
    // A playlist still growing is otherwise played like live TV: players (FFmpeg's, the box's)
    // start a few segments from its end, not where the viewer asked (RFC 8216 4.3.5.2).
    if (!ended)
        out += "#EXT-X-START:TIME-OFFSET=0\n";
    for (qsizetype i = 0; i < segments.size(); ++i) {
        const ArchiveSegment &s = segments[i];
        // A gap, or segments that do not follow each other (a range across a hole): the
        // timestamps do not continue.
        const bool follows = i == 0
            || (segments[i - 1].sequence + 1 == s.sequence && qAbs(segments[i - 1].endMs() - s.startMs) <= 1);
        if (i > 0 && (s.gap || !follows))
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

QByteArray recordingPlaylist(const ArchiveReader &recording, const QString &uriPrefix)
{
    return playoutPlaylist(recording.segments(), recording.finished(), uriPrefix);
}

QByteArray archiveRangePlaylist(const ArchiveReader &archive, TimeRange range, qint64 nowMs, const QString &uriPrefix,
                                qint64 graceMs)
{
    const bool ended = archive.finished() || archive.endMs() >= range.toMs || nowMs >= range.toMs + graceMs;
    QList<ArchiveSegment> segments = archive.segments(range.fromMs, range.toMs);
    // A range at the live edge that begins after the newest segment written (live TV paused and
    // played on within a segment's time, a source slower than the clock) starts at that segment:
    // an empty playlist is one no player opens.
    if (segments.isEmpty() && !ended && archive.endMs() > 0 && archive.endMs() <= range.fromMs)
        segments = archive.segments(archive.endMs() - 1, range.toMs);
    return playoutPlaylist(segments, ended, uriPrefix);
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
