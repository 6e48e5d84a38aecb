#include "hlsplaylist.h"

#include <QLoggingCategory>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>
#include <optional>

Q_LOGGING_CATEGORY(lcHls, "iptv.media.hls", QtInfoMsg)

namespace iptv::media {

namespace {

// Every duration is written with millisecond precision; the rounding rules (EXTINF against
// EXT-X-TARGETDURATION) are applied to the written value, as a client reads it.
QByteArray seconds(double value)
{
    return QByteArray::number(value, 'f', 3);
}

int roundedAsWritten(double value)
{
    return int(std::lround(seconds(value).toDouble()));
}

QByteArray quoted(const QString &value)
{
    // A quoted-string cannot hold a double quote, CR or LF.
    QByteArray bytes = value.toUtf8();
    bytes.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A");
    return '"' + bytes + '"';
}

QByteArray uriLine(const QString &uri)
{
    QByteArray bytes = uri.toUtf8();
    bytes.replace('\r', "%0D").replace('\n', "%0A");
    return bytes;
}

QByteArray partLine(const HlsPart &p)
{
    QByteArray line = "#EXT-X-PART:DURATION=" + seconds(p.duration) + ",URI=" + quoted(p.uri);
    if (p.independent)
        line += ",INDEPENDENT=YES";
    if (p.gap)
        line += ",GAP=YES";
    return line + '\n';
}

} // namespace

QString hlsDateTime(const QDateTime &dateTime)
{
    const int offset = dateTime.offsetFromUtc();
    const QDateTime local = dateTime.toOffsetFromUtc(offset);
    const int minutes = std::abs(offset) / 60;
    return local.toString(QStringLiteral("yyyy-MM-ddTHH:mm:ss.zzz")) + (offset < 0 ? u'-' : u'+')
           + QStringLiteral("%1:%2").arg(minutes / 60, 2, 10, QLatin1Char('0')).arg(minutes % 60, 2, 10, QLatin1Char('0'));
}

// --- HlsMediaPlaylist ---------------------------------------------------------------------

void HlsMediaPlaylist::setTargetDuration(int seconds)
{
    m_targetDuration = std::max(1, seconds);
}

void HlsMediaPlaylist::setWindow(int segments)
{
    m_window = std::max(0, segments);
}

void HlsMediaPlaylist::setLowLatency(double partTarget)
{
    m_partTarget = std::max(0.0, partTarget);
}

void HlsMediaPlaylist::restoreSequence(qint64 mediaSequence, qint64 discontinuitySequence)
{
    if (!m_segments.isEmpty() || !m_parts.isEmpty()) {
        qCWarning(lcHls) << "restoreSequence() after segments were added: ignored";
        return;
    }
    if (mediaSequence > m_mediaSequence || discontinuitySequence > m_discontinuitySequence) {
        // What players saw before the restart ends here: the next segment is a discontinuity.
        m_pendingDiscontinuity = true;
    }
    m_mediaSequence = std::max(m_mediaSequence, mediaSequence);
    m_discontinuitySequence = std::max(m_discontinuitySequence, discontinuitySequence);
}

void HlsMediaPlaylist::discardInProgress()
{
    m_parts.clear();
    m_preloadHint.clear();
    m_pendingDiscontinuity = true;
}

void HlsMediaPlaylist::addPart(const HlsPart &p)
{
    if (m_partTarget > 0 && p.duration > m_partTarget + 1e-6) {
        qCWarning(lcHls).nospace() << "part " << p.uri << " lasts " << p.duration
                                   << " s, longer than the part target " << m_partTarget << " s";
    }
    m_parts.append(p);
    if (m_preloadHint == p.uri)
        m_preloadHint.clear();
}

QList<HlsSegment> HlsMediaPlaylist::addSegment(HlsSegment s)
{
    if (s.parts.isEmpty())
        s.parts = m_parts;
    m_parts.clear();
    if (m_pendingDiscontinuity)
        s.discontinuity = true;
    m_pendingDiscontinuity = false;
    if (m_preloadHint == s.uri)
        m_preloadHint.clear();

    const int rounded = roundedAsWritten(s.duration);
    if (rounded > m_targetDuration && rounded > m_longestRounded) {
        qCWarning(lcHls).nospace() << "segment " << s.uri << " lasts " << s.duration << " s, more than the target duration "
                                   << m_targetDuration << " s: EXT-X-TARGETDURATION raised to " << rounded;
    }
    m_longestRounded = std::max(m_longestRounded, rounded);
    m_segments.append(std::move(s));

    QList<HlsSegment> gone;
    while (m_window > 0 && m_segments.size() > m_window) {
        HlsSegment old = m_segments.takeFirst();
        ++m_mediaSequence;
        if (old.discontinuity)
            ++m_discontinuitySequence;
        gone.append(std::move(old));
    }
    return gone;
}

void HlsMediaPlaylist::markDiscontinuity()
{
    m_pendingDiscontinuity = true;
}

void HlsMediaPlaylist::setPreloadHint(const QString &uri)
{
    m_preloadHint = uri;
}

void HlsMediaPlaylist::setEnded()
{
    m_ended = true;
    m_preloadHint.clear();
}

int HlsMediaPlaylist::targetDuration() const
{
    return std::max(m_targetDuration, m_longestRounded);
}

qint64 HlsMediaPlaylist::lastDiscontinuitySequence() const
{
    qint64 n = m_discontinuitySequence;
    for (const HlsSegment &s : m_segments)
        n += s.discontinuity ? 1 : 0;
    return n;
}

bool HlsMediaPlaylist::contains(qint64 msn, int part) const
{
    if (m_ended)
        return true; // nothing more will come: never block
    if (msn < m_mediaSequence)
        return true;
    if (msn < nextSequence()) {
        if (part < 0)
            return true;
        const HlsSegment &s = m_segments[msn - m_mediaSequence];
        // A part index past the segment's last part asks for the next segment's first part.
        return part < s.parts.size() || contains(msn + 1, 0);
    }
    return msn == nextSequence() && part >= 0 && part < m_parts.size();
}

QByteArray HlsMediaPlaylist::text() const
{
    const bool lowLatency = m_partTarget > 0;
    const int target = targetDuration();
    QByteArray out;
    out += "#EXTM3U\n";
    out += "#EXT-X-VERSION:3\n"; // decimal EXTINF; nothing here needs more
    out += "#EXT-X-TARGETDURATION:" + QByteArray::number(target) + '\n';
    out += "#EXT-X-MEDIA-SEQUENCE:" + QByteArray::number(m_mediaSequence) + '\n';
    out += "#EXT-X-DISCONTINUITY-SEQUENCE:" + QByteArray::number(m_discontinuitySequence) + '\n';
    if (lowLatency) {
        out += "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=" + seconds(3 * m_partTarget) + '\n';
        out += "#EXT-X-PART-INF:PART-TARGET=" + seconds(m_partTarget) + '\n';
    }

    // Parts are listed for the segments within three target durations of the playlist's end.
    qsizetype firstWithParts = m_segments.size();
    if (lowLatency) {
        double fromEnd = 0;
        for (const HlsPart &p : m_parts)
            fromEnd += p.duration;
        for (qsizetype i = m_segments.size() - 1; i >= 0; --i) {
            fromEnd += m_segments[i].duration;
            if (fromEnd > 3.0 * target + 1e-9)
                break;
            firstWithParts = i;
        }
    }

    for (qsizetype i = 0; i < m_segments.size(); ++i) {
        const HlsSegment &s = m_segments[i];
        if (s.discontinuity)
            out += "#EXT-X-DISCONTINUITY\n";
        if (s.programDateTime.isValid())
            out += "#EXT-X-PROGRAM-DATE-TIME:" + hlsDateTime(s.programDateTime).toLatin1() + '\n';
        if (i >= firstWithParts) {
            for (const HlsPart &p : s.parts)
                out += partLine(p);
        }
        out += "#EXTINF:" + seconds(s.duration) + ",\n";
        out += uriLine(s.uri) + '\n';
    }

    if (lowLatency && !m_ended) {
        if (m_pendingDiscontinuity && !m_parts.isEmpty())
            out += "#EXT-X-DISCONTINUITY\n";
        for (const HlsPart &p : m_parts)
            out += partLine(p);
        if (!m_preloadHint.isEmpty())
            out += "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=" + quoted(m_preloadHint) + '\n';
    }
    if (m_ended)
        out += "#EXT-X-ENDLIST\n";
    return out;
}

// --- master playlist ----------------------------------------------------------------------

QByteArray hlsMasterPlaylist(const QList<HlsVariant> &variants)
{
    QByteArray out = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n";
    for (const HlsVariant &v : variants) {
        out += "#EXT-X-STREAM-INF:BANDWIDTH=" + QByteArray::number(std::max<qint64>(1, v.bandwidth));
        if (v.width > 0 && v.height > 0)
            out += ",RESOLUTION=" + QByteArray::number(v.width) + 'x' + QByteArray::number(v.height);
        if (v.frameRate > 0)
            out += ",FRAME-RATE=" + seconds(v.frameRate);
        if (!v.codecs.isEmpty())
            out += ",CODECS=" + quoted(v.codecs);
        out += '\n' + uriLine(v.uri) + '\n';
    }
    return out;
}

// --- the checker --------------------------------------------------------------------------

namespace {

/// An attribute-list (RFC 8216 4.2): NAME=value pairs, commas inside quoted strings allowed.
/// Returns nothing when it cannot be read.
std::optional<QMap<QByteArray, QByteArray>> parseAttributes(const QByteArray &text)
{
    QMap<QByteArray, QByteArray> attributes;
    qsizetype i = 0;
    while (i < text.size()) {
        const qsizetype eq = text.indexOf('=', i);
        if (eq <= i)
            return std::nullopt;
        const QByteArray name = text.mid(i, eq - i);
        static const QRegularExpression namePattern(QStringLiteral("^[A-Z0-9-]+$"));
        if (!namePattern.match(QString::fromLatin1(name)).hasMatch() || attributes.contains(name))
            return std::nullopt;
        qsizetype end;
        if (eq + 1 < text.size() && text[eq + 1] == '"') {
            const qsizetype close = text.indexOf('"', eq + 2);
            if (close < 0)
                return std::nullopt;
            end = close + 1;
        } else {
            end = text.indexOf(',', eq + 1);
            if (end < 0)
                end = text.size();
        }
        attributes.insert(name, text.mid(eq + 1, end - eq - 1));
        if (end < text.size() && text[end] != ',')
            return std::nullopt;
        i = end + 1;
        if (end == text.size() - 1)
            return std::nullopt; // a trailing comma
    }
    return attributes;
}

bool isQuoted(const QByteArray &value)
{
    return value.size() >= 2 && value.startsWith('"') && value.endsWith('"');
}

QString unquote(const QByteArray &value)
{
    return QString::fromUtf8(value.mid(1, value.size() - 2));
}

std::optional<double> decimalFloat(const QByteArray &text)
{
    static const QRegularExpression pattern(QStringLiteral("^[0-9]+(\\.[0-9]+)?$"));
    if (!pattern.match(QString::fromLatin1(text)).hasMatch())
        return std::nullopt;
    return text.toDouble();
}

std::optional<qint64> decimalInteger(const QByteArray &text)
{
    static const QRegularExpression pattern(QStringLiteral("^[0-9]{1,18}$"));
    if (!pattern.match(QString::fromLatin1(text)).hasMatch())
        return std::nullopt;
    return text.toLongLong();
}

} // namespace

HlsCheck checkMediaPlaylist(const QByteArray &text)
{
    HlsCheck c;
    const auto problem = [&c](int line, const QString &what) {
        c.problems.append(QStringLiteral("line %1: %2").arg(line).arg(what));
    };
    const auto tagText = [](const QByteArray &line) { return QString::fromUtf8(line.left(80)); };

    QList<QByteArray> lines = text.split('\n');
    if (!lines.isEmpty() && lines.last().isEmpty())
        lines.removeLast();
    for (QByteArray &line : lines) {
        if (line.endsWith('\r'))
            line.chop(1);
    }
    if (lines.isEmpty() || lines.first() != "#EXTM3U")
        problem(1, QStringLiteral("the playlist does not start with #EXTM3U"));

    int targetCount = 0, versionCount = 0, versionNeeded = 1;
    bool mediaSequenceSeen = false, discontinuitySequenceSeen = false, discontinuitySeen = false;
    bool segmentStarted = false; // a media segment tag or a segment was read
    bool extinf = false; // an EXTINF waits for its URI
    double extinfDuration = 0;
    int extinfLine = 0;
    QList<int> extinfLines;
    HlsSegment current;
    std::optional<double> partHoldBack;
    bool partInfSeen = false;

    for (int i = 1; i < lines.size(); ++i) {
        const int n = i + 1;
        const QByteArray &line = lines[i];
        if (line.trimmed().isEmpty())
            continue;
        if (!line.startsWith('#')) {
            if (!extinf) {
                problem(n, QStringLiteral("a URI without EXTINF: %1").arg(tagText(line)));
                continue;
            }
            current.uri = QString::fromUtf8(line);
            current.duration = extinfDuration;
            c.segments.append(current);
            extinfLines.append(extinfLine);
            current = {};
            extinf = false;
            segmentStarted = true;
            continue;
        }
        if (!line.startsWith("#EXT"))
            continue; // a comment
        const qsizetype colon = line.indexOf(':');
        const QByteArray tag = colon < 0 ? line : line.left(colon);
        const QByteArray value = colon < 0 ? QByteArray() : line.mid(colon + 1);

        if (tag == "#EXTM3U") {
            problem(n, QStringLiteral("a second #EXTM3U"));
        } else if (tag == "#EXT-X-VERSION") {
            ++versionCount;
            const auto v = decimalInteger(value);
            if (!v || *v < 1)
                problem(n, QStringLiteral("EXT-X-VERSION is not a version: %1").arg(tagText(line)));
            else
                c.version = int(*v);
        } else if (tag == "#EXT-X-TARGETDURATION") {
            ++targetCount;
            const auto v = decimalInteger(value);
            if (!v)
                problem(n, QStringLiteral("EXT-X-TARGETDURATION is not a decimal-integer: %1").arg(tagText(line)));
            else
                c.targetDuration = int(*v);
        } else if (tag == "#EXT-X-MEDIA-SEQUENCE" || tag == "#EXT-X-DISCONTINUITY-SEQUENCE") {
            const bool media = tag == "#EXT-X-MEDIA-SEQUENCE";
            bool &seen = media ? mediaSequenceSeen : discontinuitySequenceSeen;
            if (seen)
                problem(n, QStringLiteral("a second %1").arg(QString::fromLatin1(tag.mid(1))));
            seen = true;
            if (segmentStarted)
                problem(n, QStringLiteral("%1 after the first media segment").arg(QString::fromLatin1(tag.mid(1))));
            if (!media && discontinuitySeen)
                problem(n, QStringLiteral("EXT-X-DISCONTINUITY-SEQUENCE after an EXT-X-DISCONTINUITY"));
            const auto v = decimalInteger(value);
            if (!v)
                problem(n, QStringLiteral("not a decimal-integer: %1").arg(tagText(line)));
            else
                (media ? c.mediaSequence : c.discontinuitySequence) = *v;
        } else if (tag == "#EXTINF") {
            if (extinf)
                problem(extinfLine, QStringLiteral("EXTINF without a URI"));
            const qsizetype comma = value.indexOf(',');
            if (comma < 0)
                problem(n, QStringLiteral("EXTINF without the comma after the duration: %1").arg(tagText(line)));
            const auto d = decimalFloat(comma < 0 ? value : value.left(comma));
            extinf = true;
            extinfDuration = d.value_or(0.0);
            if (!d) {
                problem(n, QStringLiteral("EXTINF duration is not a number: %1").arg(tagText(line)));
            } else {
                if (value.left(comma).contains('.'))
                    versionNeeded = std::max(versionNeeded, 3);
                if (*d <= 0)
                    problem(n, QStringLiteral("EXTINF duration is not positive"));
            }
            extinfLine = n;
            segmentStarted = true;
        } else if ((tag == "#EXT-X-DISCONTINUITY" || tag == "#EXT-X-PROGRAM-DATE-TIME") && !current.parts.isEmpty()) {
            // rfc8216bis 4.4.4.9: they apply to the first part too, so they come before it.
            problem(n, QStringLiteral("%1 after the first EXT-X-PART of its segment").arg(QString::fromLatin1(tag.mid(1))));
        }
        if (tag == "#EXT-X-DISCONTINUITY") {
            current.discontinuity = true;
            discontinuitySeen = true;
            segmentStarted = true;
        } else if (tag == "#EXT-X-PROGRAM-DATE-TIME") {
            static const QRegularExpression pattern(
                QStringLiteral("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})?$"));
            const QString when = QString::fromLatin1(value);
            const QRegularExpressionMatch m = pattern.match(when);
            const QDateTime parsed = QDateTime::fromString(when, Qt::ISODateWithMs);
            if (!m.hasMatch() || !parsed.isValid()) {
                problem(n, QStringLiteral("EXT-X-PROGRAM-DATE-TIME is not an ISO 8601 date-time: %1").arg(tagText(line)));
            } else {
                if (m.captured(1).isEmpty())
                    problem(n, QStringLiteral("EXT-X-PROGRAM-DATE-TIME without milliseconds (RFC 8216 4.3.2.6 SHOULD)"));
                if (m.captured(2).isEmpty())
                    problem(n, QStringLiteral("EXT-X-PROGRAM-DATE-TIME without a time zone (RFC 8216 4.3.2.6 SHOULD)"));
                current.programDateTime = parsed;
            }
            segmentStarted = true;
        } else if (tag == "#EXT-X-PART") {
            const auto attributes = parseAttributes(value);
            const auto duration = attributes ? decimalFloat(attributes->value("DURATION")) : std::nullopt;
            if (!attributes || !duration || !isQuoted(attributes->value("URI"))) {
                problem(n, QStringLiteral("EXT-X-PART needs DURATION and a quoted URI: %1").arg(tagText(line)));
                continue;
            }
            const QByteArray independent = attributes->value("INDEPENDENT", "NO");
            const QByteArray gap = attributes->value("GAP", "NO");
            if (independent != "YES" && independent != "NO")
                problem(n, QStringLiteral("EXT-X-PART INDEPENDENT is neither YES nor NO"));
            if (gap != "YES" && gap != "NO")
                problem(n, QStringLiteral("EXT-X-PART GAP is neither YES nor NO"));
            current.parts.append({unquote(attributes->value("URI")), *duration, independent == "YES", gap == "YES"});
            segmentStarted = true;
        } else if (tag == "#EXT-X-PART-INF") {
            partInfSeen = true;
            const auto attributes = parseAttributes(value);
            const auto target = attributes ? decimalFloat(attributes->value("PART-TARGET")) : std::nullopt;
            if (!target || *target <= 0)
                problem(n, QStringLiteral("EXT-X-PART-INF needs a PART-TARGET: %1").arg(tagText(line)));
            else
                c.partTarget = *target;
        } else if (tag == "#EXT-X-SERVER-CONTROL") {
            const auto attributes = parseAttributes(value);
            if (!attributes) {
                problem(n, QStringLiteral("EXT-X-SERVER-CONTROL's attributes cannot be read: %1").arg(tagText(line)));
                continue;
            }
            if (attributes->contains("PART-HOLD-BACK")) {
                partHoldBack = decimalFloat(attributes->value("PART-HOLD-BACK"));
                if (!partHoldBack)
                    problem(n, QStringLiteral("PART-HOLD-BACK is not a number"));
            }
            const QByteArray block = attributes->value("CAN-BLOCK-RELOAD", "NO");
            if (block != "YES" && block != "NO")
                problem(n, QStringLiteral("CAN-BLOCK-RELOAD is neither YES nor NO"));
        } else if (tag == "#EXT-X-PRELOAD-HINT") {
            const auto attributes = parseAttributes(value);
            const QByteArray type = attributes ? attributes->value("TYPE") : QByteArray();
            if (!attributes || (type != "PART" && type != "MAP") || !isQuoted(attributes->value("URI")))
                problem(n, QStringLiteral("EXT-X-PRELOAD-HINT needs TYPE=PART or MAP and a quoted URI: %1").arg(tagText(line)));
            else if (type == "PART")
                c.preloadHint = unquote(attributes->value("URI"));
        } else if (tag == "#EXT-X-ENDLIST") {
            c.ended = true;
        } else if (tag == "#EXT-X-BYTERANGE") {
            versionNeeded = std::max(versionNeeded, 4);
        } else if (tag == "#EXT-X-MAP") {
            versionNeeded = std::max(versionNeeded, 6);
        } else if (tag == "#EXT-X-SKIP") {
            versionNeeded = std::max(versionNeeded, 9);
        } else if (tag == "#EXT-X-STREAM-INF" || tag == "#EXT-X-I-FRAME-STREAM-INF" || tag == "#EXT-X-MEDIA"
                   || tag == "#EXT-X-SESSION-DATA" || tag == "#EXT-X-SESSION-KEY") {
            problem(n, QStringLiteral("a master playlist tag in a media playlist: %1").arg(tagText(line)));
        }
        // Other tags are ignored, as RFC 8216 tells clients to.
    }

    if (extinf)
        problem(extinfLine, QStringLiteral("EXTINF without a URI at the end of the playlist"));
    c.partsInProgress = current.parts;
    if (current.discontinuity && current.parts.isEmpty())
        problem(lines.size(), QStringLiteral("EXT-X-DISCONTINUITY without a segment after it"));

    if (targetCount != 1)
        problem(1, QStringLiteral("%1 EXT-X-TARGETDURATION tags, there must be exactly one").arg(targetCount));
    if (versionCount > 1)
        problem(1, QStringLiteral("%1 EXT-X-VERSION tags, there must be at most one").arg(versionCount));
    if (c.version < versionNeeded)
        problem(1, QStringLiteral("EXT-X-VERSION is %1 but the tags used need %2").arg(c.version).arg(versionNeeded));
    for (qsizetype i = 0; i < c.segments.size(); ++i) {
        const double d = c.segments[i].duration;
        if (targetCount == 1 && std::lround(d) > c.targetDuration) {
            problem(extinfLines[i], QStringLiteral("EXTINF %1 rounds above EXT-X-TARGETDURATION %2")
                                        .arg(d).arg(c.targetDuration));
        }
    }

    // Low-latency HLS (rfc8216bis 4.4.3.7, 4.4.3.8, 4.4.4.9).
    bool anyPart = !c.partsInProgress.isEmpty();
    for (const HlsSegment &s : std::as_const(c.segments))
        anyPart = anyPart || !s.parts.isEmpty();
    if (anyPart && !partInfSeen)
        problem(1, QStringLiteral("EXT-X-PART without EXT-X-PART-INF"));
    if (c.partTarget > 0) {
        if (!partHoldBack)
            problem(1, QStringLiteral("EXT-X-PART-INF without EXT-X-SERVER-CONTROL PART-HOLD-BACK"));
        else if (*partHoldBack < 2 * c.partTarget - 1e-9)
            problem(1, QStringLiteral("PART-HOLD-BACK %1 is less than twice PART-TARGET %2").arg(*partHoldBack).arg(c.partTarget));
        // rfc8216bis 4.4.4.9: every part at most PART-TARGET; at least 85% of it, except an
        // INDEPENDENT or GAP part, one followed by a GAP part, and the last of its segment (in
        // the segment in progress, the last listed may be).
        const auto checkParts = [&](const QList<HlsPart> &parts, const QString &where) {
            for (qsizetype i = 0; i < parts.size(); ++i) {
                const HlsPart &p = parts[i];
                if (p.duration > c.partTarget + 1e-6)
                    problem(1, QStringLiteral("part %1 of %2 lasts %3 s, more than PART-TARGET %4").arg(p.uri, where).arg(p.duration).arg(c.partTarget));
                const bool last = i == parts.size() - 1;
                const bool exempt = last || p.independent || p.gap || parts[i + 1].gap;
                if (!exempt && p.duration < 0.85 * c.partTarget - 1e-6)
                    problem(1, QStringLiteral("part %1 of %2 lasts %3 s, less than 85% of PART-TARGET %4").arg(p.uri, where).arg(p.duration).arg(c.partTarget));
            }
        };
        for (qsizetype i = 0; i < c.segments.size(); ++i) {
            const HlsSegment &s = c.segments[i];
            if (s.parts.isEmpty())
                continue;
            checkParts(s.parts, s.uri);
            double sum = 0;
            for (const HlsPart &p : s.parts)
                sum += p.duration;
            if (std::abs(sum - s.duration) > 0.001 * (s.parts.size() + 1))
                problem(extinfLines[i], QStringLiteral("the parts of %1 last %2 s, its EXTINF %3 s").arg(s.uri).arg(sum).arg(s.duration));
        }
        checkParts(c.partsInProgress, QStringLiteral("the segment in progress"));
    }

    c.ok = c.problems.isEmpty();
    return c;
}

QStringList checkReload(const HlsCheck &earlier, const HlsCheck &later)
{
    QStringList problems;
    const qint64 earlierEnd = earlier.mediaSequence + earlier.segments.size();
    const qint64 laterEnd = later.mediaSequence + later.segments.size();
    if (later.mediaSequence < earlier.mediaSequence)
        problems.append(QStringLiteral("EXT-X-MEDIA-SEQUENCE went back from %1 to %2").arg(earlier.mediaSequence).arg(later.mediaSequence));
    if (laterEnd < earlierEnd)
        problems.append(QStringLiteral("segments disappeared from the end: listed up to %1, then only up to %2").arg(earlierEnd - 1).arg(laterEnd - 1));
    if (later.discontinuitySequence < earlier.discontinuitySequence) {
        problems.append(QStringLiteral("EXT-X-DISCONTINUITY-SEQUENCE went back from %1 to %2")
                            .arg(earlier.discontinuitySequence).arg(later.discontinuitySequence));
    }
    if (later.targetDuration != earlier.targetDuration)
        problems.append(QStringLiteral("EXT-X-TARGETDURATION changed from %1 to %2").arg(earlier.targetDuration).arg(later.targetDuration));
    if (earlier.ended && laterEnd != earlierEnd)
        problems.append(QStringLiteral("the playlist changed after EXT-X-ENDLIST"));

    // Every segment's discontinuity sequence number: the header plus the tags up to it.
    const auto numbers = [](const HlsCheck &c) {
        QList<qint64> n;
        qint64 d = c.discontinuitySequence;
        for (const HlsSegment &s : c.segments) {
            d += s.discontinuity ? 1 : 0;
            n.append(d);
        }
        return n;
    };
    const QList<qint64> earlierNumbers = numbers(earlier), laterNumbers = numbers(later);
    for (qint64 msn = std::max(earlier.mediaSequence, later.mediaSequence); msn < std::min(earlierEnd, laterEnd); ++msn) {
        const qsizetype e = msn - earlier.mediaSequence, l = msn - later.mediaSequence;
        const HlsSegment &a = earlier.segments[e];
        const HlsSegment &b = later.segments[l];
        if (a.uri != b.uri)
            problems.append(QStringLiteral("segment %1 was %2, is now %3").arg(msn).arg(a.uri, b.uri));
        if (a.discontinuity != b.discontinuity)
            problems.append(QStringLiteral("segment %1 %2 its EXT-X-DISCONTINUITY").arg(msn).arg(a.discontinuity ? u"lost"_qs : u"gained"_qs));
        if (earlierNumbers[e] != laterNumbers[l]) {
            problems.append(QStringLiteral("segment %1 had discontinuity sequence number %2, now %3")
                                .arg(msn).arg(earlierNumbers[e]).arg(laterNumbers[l]));
        }
    }
    // LL-HLS: a listed part keeps its URI and duration; the parts of the segment in progress
    // only grow (a client may already have fetched them).
    const auto partsOf = [](const HlsCheck &c, qint64 msn) -> std::optional<QList<HlsPart>> {
        const qint64 end = c.mediaSequence + c.segments.size();
        if (msn == end)
            return c.partsInProgress;
        if (msn < c.mediaSequence || msn > end || c.segments[msn - c.mediaSequence].parts.isEmpty())
            return std::nullopt; // not listed (any more)
        return c.segments[msn - c.mediaSequence].parts;
    };
    for (qint64 msn = std::max(earlier.mediaSequence, later.mediaSequence); msn <= std::min(earlierEnd, laterEnd); ++msn) {
        const auto a = partsOf(earlier, msn);
        const auto b = partsOf(later, msn);
        if (!a || !b)
            continue;
        for (qsizetype i = 0; i < a->size(); ++i) {
            const HlsPart &was = a->at(i);
            if (i >= b->size()) {
                problems.append(QStringLiteral("part %1 of segment %2 (%3) disappeared").arg(i).arg(msn).arg(was.uri));
                break;
            }
            const HlsPart &is = b->at(i);
            if (was.uri != is.uri || std::abs(was.duration - is.duration) > 1e-6 || was.independent != is.independent) {
                problems.append(QStringLiteral("part %1 of segment %2 was %3 (%4 s), is now %5 (%6 s)")
                                    .arg(i).arg(msn).arg(was.uri).arg(was.duration).arg(is.uri).arg(is.duration));
            }
        }
        if (msn < earlierEnd && b->size() != a->size())
            problems.append(QStringLiteral("segment %1 had %2 parts, now %3").arg(msn).arg(a->size()).arg(b->size()));
    }

    if (later.mediaSequence >= earlierEnd && !earlierNumbers.isEmpty() && later.discontinuitySequence < earlierNumbers.last()) {
        problems.append(QStringLiteral("EXT-X-DISCONTINUITY-SEQUENCE %1 is below %2, the number of segment %3 earlier")
                            .arg(later.discontinuitySequence).arg(earlierNumbers.last()).arg(earlierEnd - 1));
    }
    return problems;
}

} // namespace iptv::media
