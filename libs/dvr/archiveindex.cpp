#include "archiveindex.h"

#include <QDateTime>
#include <QFileInfo>

#include <cerrno>
#include <cstring>

#include <unistd.h>

namespace iptv::dvr {

static const QByteArray kHeader = QByteArrayLiteral("#iptv-dvr-index 1\n");

QByteArray ArchiveIndex::line(const ArchiveSegment &s)
{
    QByteArray out = "seg\t";
    out += QByteArray::number(s.sequence) + '\t' + QByteArray::number(s.startMs) + '\t'
        + QByteArray::number(s.durationMs) + '\t' + QByteArray::number(s.bytes) + '\t' + s.file.toUtf8() + '\t'
        + (s.gap ? "gap" : "-");
    if (s.epoch > 0)
        out += '\t' + QByteArray::number(s.epoch);
    out += '\n';
    return out;
}

QByteArray ArchiveIndex::epochColumn() const
{
    return m_epoch > 0 ? '\t' + QByteArray::number(m_epoch) : QByteArray();
}

ArchiveIndexContents ArchiveIndex::parse(const QByteArray &text)
{
    ArchiveIndexContents c;
    qsizetype pos = 0;
    while (pos < text.size()) {
        const qsizetype nl = text.indexOf('\n', pos);
        if (nl < 0) {
            c.tornBytes = text.size() - pos; // no newline: the write was cut short
            break;
        }
        const QByteArray lineText = text.mid(pos, nl - pos);
        pos = nl + 1;
        c.validBytes = pos;
        if (lineText.isEmpty() || lineText.startsWith('#'))
            continue;
        const QList<QByteArray> f = lineText.split('\t');
        bool ok = false;
        // The epoch column (none: 0). A line of an epoch below one begun before it is a stalled
        // writer's, written after another took over: not read.
        auto epochOf = [&](qsizetype column, bool *good) -> qint64 {
            if (f.size() <= column)
                return 0;
            const qint64 e = f[column].toLongLong(good);
            *good = *good && e > 0;
            return e;
        };
        auto stale = [&](qint64 lineEpoch) {
            if (lineEpoch < c.epoch) {
                ++c.staleLines;
                return true;
            }
            c.epoch = lineEpoch;
            return false;
        };
        if (f.value(0) == "seg" && (f.size() == 7 || f.size() == 8)) {
            ArchiveSegment s;
            bool a = false, b = false, d = false, e = false;
            s.sequence = f[1].toLongLong(&a);
            s.startMs = f[2].toLongLong(&b);
            s.durationMs = f[3].toLongLong(&d);
            s.bytes = f[4].toLongLong(&e);
            s.file = QString::fromUtf8(f[5]);
            s.gap = f[6] == "gap";
            // A line no writer makes (negative numbers, a file outside the chunk's folder) is
            // skipped like any unreadable one: playlists and playback trust what is listed.
            bool g = true;
            s.epoch = epochOf(7, &g);
            ok = a && b && d && e && g && s.sequence >= 0 && s.durationMs >= 0 && s.bytes >= 0 && !s.file.isEmpty()
                && !s.file.contains(QLatin1Char('/')) && s.file != u"." && s.file != u".." && (f[6] == "gap" || f[6] == "-");
            if (ok && !stale(s.epoch)) {
                c.segments.append(s);
                c.finishedAtMs = 0; // recorded on after an end line
            }
        } else if (f.value(0) == "end" && (f.size() == 2 || f.size() == 3)) {
            bool g = true;
            const qint64 at = f[1].toLongLong(&ok);
            const qint64 lineEpoch = epochOf(2, &g);
            ok = ok && g;
            if (ok && !stale(lineEpoch))
                c.finishedAtMs = at;
        } else if (f.value(0) == "open" && (f.size() == 2 || f.size() == 3)) {
            bool g = true;
            f[1].toLongLong(&ok);
            const qint64 lineEpoch = epochOf(2, &g);
            ok = ok && g;
            if (ok && !stale(lineEpoch))
                c.finishedAtMs = 0;
        } else if (f.value(0) == "epoch" && f.size() == 3) {
            bool g = false;
            const qint64 begun = f[1].toLongLong(&ok);
            f[2].toLongLong(&g);
            ok = ok && g && begun > 0;
            if (ok)
                c.epoch = qMax(c.epoch, begun);
        }
        if (!ok)
            ++c.badLines;
    }
    return c;
}

std::optional<ArchiveIndexContents> ArchiveIndex::read(const QString &path, QString *error)
{
    QFile file(path);
    if (!file.exists())
        return ArchiveIndexContents{};
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("reading the index %1: %2").arg(path, file.errorString());
        return std::nullopt;
    }
    const QByteArray text = file.readAll();
    if (!text.isEmpty() && !text.startsWith(kHeader) && !kHeader.startsWith(text)) {
        *error = QStringLiteral("reading the index %1: not a recording index (no \"%2\" header)")
                     .arg(path, QString::fromLatin1(kHeader.trimmed()));
        return std::nullopt;
    }
    return parse(text);
}

bool ArchiveIndex::openForAppend(const QString &path, QString *error, qint64 nowMs, qint64 epoch)
{
    close();
    m_epoch = epoch;
    m_fencedBy = 0;
    m_contents = {};
    auto fenced = [&](qint64 by) {
        m_fencedBy = by;
        *error = QStringLiteral("opening the index %1 for writing: its epoch is %2, this writer's %3 (another writer took the "
                                "recording over)")
                     .arg(path)
                     .arg(by)
                     .arg(epoch);
        m_file.close();
        return false;
    };
    std::optional<ArchiveIndexContents> existing = read(path, error);
    if (!existing)
        return false;
    if (existing->epoch > epoch && epoch > 0)
        return fenced(existing->epoch);
    m_file.setFileName(path);
    if (!m_file.open(QIODevice::ReadWrite | QIODevice::Append)) {
        *error = QStringLiteral("opening the index %1 for writing: %2").arg(path, m_file.errorString());
        return false;
    }
    // A header cut short counts as nothing written.
    const qint64 keep = existing->validBytes >= kHeader.size() ? existing->validBytes : 0;
    if (m_file.size() != keep && !m_file.resize(keep)) {
        *error = QStringLiteral("cutting the torn last line of %1: %2").arg(path, m_file.errorString());
        m_file.close();
        return false;
    }
    if (keep == 0 && !appendLine(kHeader, error)) {
        m_file.close();
        return false;
    }
    const qint64 now = nowMs > 0 ? nowMs : QDateTime::currentMSecsSinceEpoch();
    if (epoch > existing->epoch) {
        // This writer's epoch begins here: a line of a lower epoch after it is a stalled writer's.
        if (!appendLine("epoch\t" + QByteArray::number(epoch) + '\t' + QByteArray::number(now) + '\n', error)) {
            m_file.close();
            return false;
        }
        // What readers accept now: what a stalled writer appended since the read above is in it
        // when it came before the epoch line, and ignored after it.
        existing = read(path, error);
        if (!existing) {
            m_file.close();
            return false;
        }
        if (existing->epoch > epoch)
            return fenced(existing->epoch);
    }
    if (existing->finishedAtMs > 0 && !appendLine("open\t" + QByteArray::number(now) + epochColumn() + '\n', error)) {
        m_file.close();
        return false;
    }
    existing->finishedAtMs = 0;
    m_contents = std::move(*existing);
    return true;
}

bool ArchiveIndex::appendLine(const QByteArray &text, QString *error)
{
    if (m_file.write(text) != text.size() || !m_file.flush()) {
        *error = QStringLiteral("appending to the index %1: %2").arg(m_file.fileName(), m_file.errorString());
        return false;
    }
    if (::fdatasync(m_file.handle()) != 0) {
        *error = QStringLiteral("syncing the index %1: %2").arg(m_file.fileName(), QString::fromLocal8Bit(std::strerror(errno)));
        return false;
    }
    return true;
}

bool ArchiveIndex::append(const ArchiveSegment &segment, QString *error)
{
    if (!m_file.isOpen()) {
        *error = QStringLiteral("appending to an index that is not open");
        return false;
    }
    const qint64 before = m_file.size();
    const QByteArray text = line(segment);
    if (!appendLine(text, error)) {
        // Cut what may have reached the file, so the next append starts a whole line; never what
        // another writer appended after it.
        if (m_file.size() <= before + text.size())
            m_file.resize(before);
        return false;
    }
    return true;
}

bool ArchiveIndex::appendEnd(qint64 atMs, QString *error)
{
    if (!m_file.isOpen()) {
        *error = QStringLiteral("ending an index that is not open");
        return false;
    }
    return appendLine("end\t" + QByteArray::number(atMs) + epochColumn() + '\n', error);
}

} // namespace iptv::dvr
