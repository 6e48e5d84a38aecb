#include "archive.h"

#include <QDateTime>
#include <QDir>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QStorageInfo>

#include <algorithm>
#include <cerrno>
#include <map>
#include <vector>
#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcArchive, "iptv.dvr.archive", QtInfoMsg)

namespace iptv::dvr {

static QString errnoText(int code)
{
    return QString::fromLocal8Bit(std::strerror(code));
}

static bool syncFolder(const QString &folder, QString *error)
{
    const int fd = ::open(QFile::encodeName(folder).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        *error = QStringLiteral("syncing the folder %1: %2").arg(folder, errnoText(errno));
        if (fd >= 0)
            ::close(fd);
        return false;
    }
    ::close(fd);
    return true;
}

// One write() of megabytes makes the kernel take large page-cache folios for it, and on this
// VM (free pages reported to the host) touching those cost ~20 ms of CPU per 4 MB against ~1.3 ms
// written in pieces of up to 1 MB (bench/diver/record.sh profile: a third of the recorder's CPU
// was that copy). The ffmpeg program writes 32 KiB at a time.
static constexpr qsizetype kMaxWrite = 256 * 1024;

/// Writes all of `size` bytes at `p` (at most kMaxWrite a call); false with errno set.
static bool writeAll(int fd, const char *p, qsizetype left)
{
    while (left > 0) {
        const ssize_t n = ::write(fd, p, size_t(qMin(left, kMaxWrite)));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            return false;
        }
        p += n;
        left -= n;
    }
    return true;
}

static bool writePieces(int fd, const QList<QByteArray> &pieces, qsizetype from = 0)
{
    for (qsizetype i = from; i < pieces.size(); ++i) {
        if (!writeAll(fd, pieces[i].constData(), pieces[i].size()))
            return false;
    }
    return true;
}

static qint64 sizeOf(const QList<QByteArray> &pieces)
{
    qint64 n = 0;
    for (const QByteArray &piece : pieces)
        n += piece.size();
    return n;
}

bool writeFileDurably(const QString &path, const QByteArray &data, QString *error)
{
    return writeFileDurably(path, QList<QByteArray>{data}, error);
}

bool writeFileDurably(const QString &path, const QList<QByteArray> &pieces, QString *error)
{
    return writeFileDurably(path, -1, 0, pieces, error);
}

/// Copies the first `bytes` of `from` to `to` (a buffer at a time, never the whole in memory);
/// false with errno set.
static bool copyPrefix(int from, qint64 bytes, int to)
{
    QByteArray buffer(kMaxWrite, Qt::Uninitialized);
    for (qint64 at = 0; at < bytes;) {
        const ssize_t n = ::pread(from, buffer.data(), size_t(qMin<qint64>(buffer.size(), bytes - at)), off_t(at));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; // shorter than it was written
            return false;
        }
        if (!writeAll(to, buffer.constData(), n))
            return false;
        at += n;
    }
    return true;
}

bool writeFileDurably(const QString &path, int prefixFd, qint64 prefixBytes, const QList<QByteArray> &pieces, QString *error)
{
    const QFileInfo info(path);
    const QString temp = info.absolutePath() + QLatin1String("/.") + info.fileName() + QLatin1String(".part");
    const QByteArray tempName = QFile::encodeName(temp);
    const int fd = ::open(tempName.constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        *error = QStringLiteral("creating %1: %2").arg(temp, errnoText(errno));
        return false;
    }
    if ((prefixFd >= 0 && !copyPrefix(prefixFd, prefixBytes, fd)) || !writePieces(fd, pieces)) {
        const int code = errno;
        *error = QStringLiteral("writing %1: %2").arg(temp, errnoText(code));
        ::close(fd);
        ::unlink(tempName.constData());
        errno = code;
        return false;
    }
    if (::fdatasync(fd) != 0) {
        const int code = errno;
        *error = QStringLiteral("syncing %1: %2").arg(temp, errnoText(code));
        ::close(fd);
        ::unlink(tempName.constData());
        errno = code;
        return false;
    }
    ::close(fd);
    if (::rename(tempName.constData(), QFile::encodeName(path).constData()) != 0) {
        const int code = errno;
        *error = QStringLiteral("renaming %1 to %2: %3").arg(temp, path, errnoText(code));
        ::unlink(tempName.constData());
        errno = code;
        return false;
    }
    return syncFolder(info.absolutePath(), error);
}

// --- writer ------------------------------------------------------------------------------

static const QRegularExpression &chunkPattern()
{
    static const QRegularExpression re(QStringLiteral(R"(^\d{8}T\d{6}Z$)"));
    return re;
}

static QStringList chunkFolders(const QString &directory)
{
    QStringList names = QDir(directory).entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
    names.erase(std::remove_if(names.begin(), names.end(), [](const QString &n) { return !chunkPattern().match(n).hasMatch(); }),
                names.end());
    return names; // the names sort by time
}

QString ArchiveWriter::chunkName(qint64 startMs)
{
    return QDateTime::fromMSecsSinceEpoch(startMs, Qt::UTC).toString(QStringLiteral("yyyyMMdd'T'HHmmss'Z'"));
}

std::optional<qint64> ArchiveWriter::chunkStartMs(const QString &name)
{
    if (!chunkPattern().match(name).hasMatch())
        return std::nullopt;
    const QDate date = QDate::fromString(name.left(8), QStringLiteral("yyyyMMdd"));
    const QTime time = QTime::fromString(name.mid(9, 6), QStringLiteral("HHmmss"));
    if (!date.isValid() || !time.isValid())
        return std::nullopt;
    return QDateTime(date, time, Qt::UTC).toMSecsSinceEpoch();
}

ArchiveWriter::ArchiveWriter()
    : m_freeSpace([](const QString &path) { return QStorageInfo(path).bytesAvailable(); })
{
}

ArchiveWriter::~ArchiveWriter()
{
    closeJournal();
}

static constexpr const char kJournalData[] = ".journal.ts";
static constexpr const char kJournalLog[] = ".journal.log";
static constexpr const char kHeldLog[] = ".held.log";
static constexpr int kHeldSlots = 16;

QString ArchiveWriter::heldPath(int slot) const
{
    return QDir(m_settings.directory).filePath(QStringLiteral(".held%1-%2.ts").arg(m_scratch).arg(slot));
}

bool ArchiveWriter::holdSegment(int slot, const QList<QByteArray> &pieces, qint64 startMs, qint64 durationMs, bool gap, QString *error)
{
    if (slot < 0 || slot >= kHeldSlots) {
        *error = QStringLiteral("held segment slot %1 out of range").arg(slot);
        return false;
    }
    // Written, not synced (as the journal: for a crash of the process, not of the machine); the
    // line after the data, so a line names only a whole file.
    const QString path = heldPath(slot);
    const int fd = ::open(QFile::encodeName(path).constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !writePieces(fd, pieces)) {
        *error = QStringLiteral("writing %1: %2").arg(path, errnoText(errno));
        if (fd >= 0)
            ::close(fd);
        return false;
    }
    ::close(fd);
    const QByteArray line = QByteArray::number(slot) + ' ' + QByteArray::number(sizeOf(pieces)) + ' ' + QByteArray::number(startMs)
        + ' ' + QByteArray::number(durationMs) + ' ' + (gap ? '1' : '0') + '\n';
    const QString logPath = journalPath(kHeldLog);
    const int log = ::open(QFile::encodeName(logPath).constData(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0 || !writeAll(log, line.constData(), line.size())) {
        *error = QStringLiteral("writing %1: %2").arg(logPath, errnoText(errno));
        if (log >= 0)
            ::close(log);
        return false;
    }
    ::close(log);
    return true;
}

void ArchiveWriter::dropHeld(int slot)
{
    ::unlink(QFile::encodeName(heldPath(slot)).constData());
}

void ArchiveWriter::releaseHeld()
{
    for (int slot = 0; slot < kHeldSlots; ++slot)
        dropHeld(slot);
    ::unlink(QFile::encodeName(journalPath(kHeldLog)).constData());
}

bool ArchiveWriter::recoverHeld(QString *error)
{
    Q_UNUSED(error);
    QFile log(journalPath(kHeldLog));
    if (!log.exists())
        return true;
    struct Entry
    {
        qint64 bytes = 0, startMs = 0, durationMs = 0;
        bool gap = false;
    };
    std::map<int, Entry> bySlot; // the last line of a slot is its segment
    std::vector<int> order;      // slots in the order they were held
    if (log.open(QIODevice::ReadOnly)) {
        QByteArray text = log.readAll();
        text.truncate(text.lastIndexOf('\n') + 1); // a line a kill cut short is no line
        for (const QByteArray &line : text.split('\n')) {
            const QList<QByteArray> f = line.split(' ');
            bool ok[4] = {};
            if (f.size() != 5)
                continue;
            const int slot = f[0].toInt(&ok[0]);
            const Entry e{f[1].toLongLong(&ok[1]), f[2].toLongLong(&ok[2]), f[3].toLongLong(&ok[3]), f[4] == "1"};
            if (!(ok[0] && ok[1] && ok[2] && ok[3]) || slot < 0 || slot >= kHeldSlots || e.durationMs <= 0)
                continue;
            if (!bySlot.count(slot))
                order.push_back(slot);
            bySlot[slot] = e;
        }
    }
    // Those still held (a segment written from its slot dropped the file): back to back, ending
    // where the last was provisionally dated.
    std::vector<std::pair<int, Entry>> held;
    for (int slot : order) {
        if (QFile::exists(heldPath(slot)))
            held.emplace_back(slot, bySlot[slot]);
    }
    qint64 endMs = 0, mediaMs = 0;
    for (const auto &[slot, e] : held) {
        endMs = e.startMs + e.durationMs;
        mediaMs += e.durationMs;
    }
    qint64 atMs = endMs - mediaMs;
    // They follow what was listed as they would have (a gap they carry is theirs); the crash's
    // gap is after them.
    const bool gapBefore = m_gapPending;
    m_gapPending = false;
    for (const auto &[slot, e] : held) {
        const qint64 startMs = atMs;
        atMs += e.durationMs;
        QFile data(heldPath(slot));
        QByteArray ts;
        if (data.open(QIODevice::ReadOnly))
            ts = data.read(e.bytes);
        ts.truncate(ts.size() - ts.size() % 188);
        if (startMs + e.durationMs <= m_lastEndMs || ts.size() < 188 || ts.at(0) != 0x47) {
            qCWarning(lcArchive).noquote() << m_settings.directory << ": a held segment of" << e.durationMs
                                           << "ms is left out after the crash (" << ts.size() << "bytes; the archive holds its time)";
            continue;
        }
        StorageError failure;
        if (writeSegment(ts, qMax(startMs, m_lastEndMs), e.durationMs, e.gap, &failure)) {
            ++m_recoveredHeld;
            m_resumed = true;
        } else {
            qCWarning(lcArchive).noquote() << m_settings.directory << ": a held segment is lost:" << failure.toString();
        }
    }
    m_gapPending = gapBefore || m_recoveredHeld > 0;
    if (m_recoveredHeld > 0)
        qCInfo(lcArchive).noquote() << m_settings.directory << ": listed" << m_recoveredHeld << "held segments from their journal";
    releaseHeld();
    return true;
}

QString ArchiveWriter::journalPath(const char *name) const
{
    // ".journal.ts", or this epoch's ".journal-e7.ts": a stalled writer never touches the next one's.
    QString file = QLatin1String(name);
    file.insert(file.lastIndexOf(u'.'), m_scratch);
    return QDir(m_settings.directory).filePath(file);
}

/// The epochs named by `.epoch-<E>` files in `directory`.
static QList<qint64> epochMarkers(const QString &directory)
{
    QList<qint64> epochs;
    DIR *dir = ::opendir(QFile::encodeName(directory).constData());
    if (!dir)
        return epochs;
    while (const dirent *entry = ::readdir(dir)) {
        if (std::strncmp(entry->d_name, ".epoch-", 7) != 0)
            continue;
        bool ok = false;
        const qint64 epoch = QByteArray(entry->d_name + 7).toLongLong(&ok);
        if (ok && epoch > 0)
            epochs.append(epoch);
    }
    ::closedir(dir);
    return epochs;
}

qint64 ArchiveWriter::folderEpoch(const QString &directory)
{
    qint64 highest = 0;
    for (const qint64 epoch : epochMarkers(directory))
        highest = qMax(highest, epoch);
    return highest;
}

bool ArchiveWriter::claimFolder(QString *error)
{
    const qint64 epoch = m_settings.epoch;
    const QString dir = m_settings.directory;
    auto fencedAt = [&](qint64 found) {
        m_fencedBy = found;
        *error = QStringLiteral("opening %1 for writing: the folder's epoch is %2, this writer's %3 (another writer took the "
                                "recording over): it writes nothing")
                     .arg(dir)
                     .arg(found)
                     .arg(epoch);
        qCWarning(lcArchive).noquote() << *error;
        return false;
    };
    const qint64 before = folderEpoch(dir);
    if (before > epoch)
        return fencedAt(before);
    if (before < epoch) {
        // A name of its own, made or found (O_EXCL): two writers never share one, and the
        // folder's epoch (the highest name) never goes down, whoever makes theirs last.
        const QString marker = QDir(dir).filePath(QStringLiteral(".epoch-%1").arg(epoch));
        const int fd = ::open(QFile::encodeName(marker).constData(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) {
            *error = QStringLiteral("creating %1: %2").arg(marker, errnoText(errno));
            return false;
        }
        if (fd >= 0) {
            const bool synced = ::fsync(fd) == 0;
            const int code = errno;
            ::close(fd);
            if (!synced) {
                *error = QStringLiteral("syncing %1: %2").arg(marker, errnoText(code));
                return false;
            }
        }
        if (!syncFolder(dir, error))
            return false;
        // A higher epoch made at the same moment wins.
        if (const qint64 after = folderEpoch(dir); after > epoch)
            return fencedAt(after);
        qCInfo(lcArchive).noquote() << dir << ": written from epoch" << epoch << (before > 0 ? QStringLiteral("on (it was %1)").arg(before)
                                                                                              : QStringLiteral("on"));
    }
    for (const qint64 lower : epochMarkers(dir)) {
        if (lower < epoch)
            ::unlink(QFile::encodeName(QDir(dir).filePath(QStringLiteral(".epoch-%1").arg(lower))).constData());
    }
    return true;
}

bool ArchiveWriter::checkFence(StorageError *error)
{
    if (m_settings.epoch <= 0)
        return true;
    if (m_fencedBy == 0) {
        if (const qint64 found = folderEpoch(m_settings.directory); found > m_settings.epoch) {
            m_fencedBy = found;
            qCWarning(lcArchive).noquote() << QStringLiteral("%1: the folder's epoch is now %2, this writer's %3: another writer "
                                                             "took it over; this one writes nothing more")
                                                  .arg(m_settings.directory)
                                                  .arg(found)
                                                  .arg(m_settings.epoch);
        }
    }
    if (m_fencedBy == 0)
        return true;
    error->kind = StorageError::Fenced;
    error->where = m_settings.directory;
    error->why = QStringLiteral("refused: the folder's epoch is %1, this writer's %2 (another writer took the recording over)")
                     .arg(m_fencedBy)
                     .arg(m_settings.epoch);
    return false;
}

bool ArchiveWriter::recoverScratch(QString *error)
{
    // Journals of no epoch (written before there were epochs), of the lower epochs (the holder
    // before: its segment in progress) and this one's (a writer of this epoch opened again).
    static const QRegularExpression re(QStringLiteral(R"(^\.(journal|held)(?:-e(\d+))?\.log$)"));
    QList<qint64> epochs{0, m_settings.epoch};
    for (const QString &name : QDir(m_settings.directory).entryList(QDir::Files | QDir::Hidden | QDir::System)) {
        const QRegularExpressionMatch m = re.match(name);
        const qint64 epoch = m.hasMatch() ? m.captured(2).toLongLong() : -1;
        if (epoch >= 0 && epoch <= m_settings.epoch)
            epochs.append(epoch);
    }
    std::sort(epochs.begin(), epochs.end());
    epochs.erase(std::unique(epochs.begin(), epochs.end()), epochs.end());
    const QString mine = m_scratch;
    bool ok = true;
    for (const qint64 epoch : std::as_const(epochs)) {
        m_scratch = epoch > 0 ? QStringLiteral("-e%1").arg(epoch) : QString();
        // Held segments come before the segment in progress (whose journal names the sequence it
        // began with, before they were listed).
        const qint64 inProgress = m_nextSequence;
        if (!recoverHeld(error) || !recoverJournal(inProgress, error)) {
            ok = false;
            break;
        }
    }
    m_scratch = mine;
    return ok;
}

void ArchiveWriter::followIndex(const ArchiveIndexContents &contents)
{
    if (contents.segments.isEmpty())
        return;
    const ArchiveSegment &last = contents.segments.last();
    if (last.sequence + 1 > m_nextSequence || last.endMs() > m_lastEndMs) {
        // A writer of a lower epoch listed a segment before this one's epoch line: it goes on after it.
        m_nextSequence = qMax(m_nextSequence, last.sequence + 1);
        m_lastEndMs = qMax(m_lastEndMs, last.endMs());
        m_resumed = true;
        m_gapPending = true;
    }
}

void ArchiveWriter::closeJournal()
{
    for (int *fd : {&m_journalData, &m_journalLog}) {
        if (*fd >= 0)
            ::close(*fd);
        *fd = -1;
    }
    m_journalBytes = 0;
    m_journalHeld.clear();
    m_journalBegun = false;
}

void ArchiveWriter::discardJournal()
{
    // Unlinked, never truncated: the file may be a listed segment's now (linkJournal).
    if (m_journalData >= 0) {
        ::close(m_journalData);
        m_journalData = -1;
        ::unlink(QFile::encodeName(journalPath(kJournalData)).constData());
    }
    if (m_journalLog >= 0 && ::ftruncate(m_journalLog, 0) != 0) {
        ::close(m_journalLog);
        m_journalLog = -1;
    }
    m_journalBytes = 0;
    m_journalHeld.clear();
    m_journalBegun = false;
}

bool ArchiveWriter::appendJournalLine(qint64 startMs, qint64 durationMs, bool gap, QString *error)
{
    const QByteArray line = QByteArray::number(m_nextSequence) + ' ' + QByteArray::number(m_journalBytes) + ' '
        + QByteArray::number(startMs) + ' ' + QByteArray::number(durationMs) + ' ' + (gap ? '1' : '0') + '\n';
    if (!writeAll(m_journalLog, line.constData(), line.size())) {
        *error = QStringLiteral("writing the journal %1: %2").arg(journalPath(kJournalLog), errnoText(errno));
        return false;
    }
    return true;
}

bool ArchiveWriter::journal(const QList<QByteArray> &pieces, qint64 startMs, qint64 durationMs, bool gap, bool begin,
                            QString *error)
{
    if (begin) {
        discardJournal(); // a segment begun before and never cut (its connection ended without a tail)
        m_journalBegun = true;
        const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC;
        if (m_journalLog < 0)
            m_journalLog = ::open(QFile::encodeName(journalPath(kJournalLog)).constData(), flags, 0644);
        // A new file, never one a listed segment may share (linkJournal).
        const QByteArray data = QFile::encodeName(journalPath(kJournalData));
        ::unlink(data.constData());
        // Readable too: a journal that cannot become the segment is copied from (writeJournaledSegment).
        m_journalData = m_journalLog < 0 ? -1 : ::open(data.constData(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (m_journalData < 0) {
            *error = QStringLiteral("creating the journal in %1: %2").arg(m_settings.directory, errnoText(errno));
            m_journalHeld = pieces; // the segment is held here until it is cut, as without a journal
            return false;
        }
    } else if (!m_journalBegun) {
        *error = QStringLiteral("journal of %1: a segment's journal continued without its beginning").arg(m_settings.directory);
        return false;
    } else if (m_journalData < 0) {
        m_journalHeld += pieces;
        *error = QStringLiteral("journal of %1: the segment in progress is held in memory (its journal could not be created)")
                     .arg(m_settings.directory);
        return false;
    }
    // The data first, then the line that vouches for it. Written, not synced: what a process
    // wrote survives its crash or kill -9 in the page cache, and syncing 100 recordings' journals
    // every second cost as much CPU as the recording itself (bench/diver/record.sh). A power cut
    // loses the segment in progress, as without a journal.
    // What an earlier entry could not write goes first: the file never has a hole.
    m_journalHeld += pieces;
    if (!writePieces(m_journalData, m_journalHeld)) {
        *error = QStringLiteral("writing the journal %1: %2").arg(journalPath(kJournalData), errnoText(errno));
        // Back to what the last line vouches for; the pieces are held and written with the
        // next entry or the cut (a file that cannot be cut back is read only that far).
        if (::ftruncate(m_journalData, off_t(m_journalBytes)) != 0)
            qCWarning(lcArchive).noquote() << journalPath(kJournalData) << ": cannot cut back a failed write:" << errnoText(errno);
        return false;
    }
    m_journalBytes += sizeOf(m_journalHeld);
    m_journalHeld.clear();
    // Without its line the data is still the segment's; only a crash before the next line loses it.
    return appendJournalLine(startMs, durationMs, gap, error);
}

bool ArchiveWriter::appendJournal(const char *data, qsizetype size, QString *error)
{
    if (!m_journalBegun) {
        *error = QStringLiteral("journal of %1: a segment's journal continued without its beginning").arg(m_settings.directory);
        return false;
    }
    // Behind bytes the file could not take (a full disk): held with them, in order; journal() or
    // the cut tries the file again.
    if (m_journalData < 0 || !m_journalHeld.isEmpty()) {
        m_journalHeld.append(QByteArray(data, size));
        *error = QStringLiteral("journal of %1: the segment in progress is held in memory (its journal cannot be written)")
                     .arg(m_settings.directory);
        return false;
    }
    if (!writeAll(m_journalData, data, size)) {
        *error = QStringLiteral("writing the journal %1: %2").arg(journalPath(kJournalData), errnoText(errno));
        if (::ftruncate(m_journalData, off_t(m_journalBytes)) != 0)
            qCWarning(lcArchive).noquote() << journalPath(kJournalData) << ": cannot cut back a failed write:" << errnoText(errno);
        m_journalHeld.append(QByteArray(data, size));
        return false;
    }
    m_journalBytes += size;
    return true;
}

bool ArchiveWriter::linkJournal(const QList<QByteArray> &rest, const ArchiveSegment &segment, const QString &path,
                                QString *error)
{
    const QString data = journalPath(kJournalData);
    // A failed entry that could not be cut back left more than the lines vouch for.
    struct stat st{};
    if (::fstat(m_journalData, &st) != 0 || st.st_size != m_journalBytes) {
        *error = QStringLiteral("%1 holds %2 bytes, the journal vouches for %3").arg(data).arg(qint64(st.st_size)).arg(m_journalBytes);
        return false;
    }
    if (!writePieces(m_journalData, m_journalHeld + rest)) {
        *error = QStringLiteral("writing %1: %2").arg(data, errnoText(errno));
        if (::ftruncate(m_journalData, off_t(m_journalBytes)) != 0)
            qCWarning(lcArchive).noquote() << data << ": cannot cut back a failed write:" << errnoText(errno);
        return false;
    }
    m_journalBytes = segment.bytes;
    m_journalHeld.clear();
    // The whole segment, so that a crash between the link and the index line lists all of it.
    if (!appendJournalLine(segment.startMs, segment.durationMs, segment.gap, error))
        return false;
    if (::fdatasync(m_journalData) != 0) {
        *error = QStringLiteral("syncing %1: %2").arg(data, errnoText(errno));
        return false;
    }
    // A link, not a rename: until the index line is appended the journal still names the data,
    // so a crash in between recovers it from the journal as usual.
    const QByteArray from = QFile::encodeName(data), to = QFile::encodeName(path);
    if (::link(from.constData(), to.constData()) != 0) {
        // A file of that name is not listed (a write cut short before a crash): replaced.
        if (errno != EEXIST || ::unlink(to.constData()) != 0 || ::link(from.constData(), to.constData()) != 0) {
            *error = QStringLiteral("linking %1 as %2: %3").arg(data, path, errnoText(errno));
            return false;
        }
    }
    if (!syncFolder(QFileInfo(path).absolutePath(), error)) {
        ::unlink(to.constData());
        return false;
    }
    return true;
}

bool ArchiveWriter::recoverJournal(qint64 expectedSequence, QString *error)
{
    const QString logPath = journalPath(kJournalLog), dataPath = journalPath(kJournalData);
    QFile log(logPath);
    if (!log.exists())
        return true;
    auto discard = [&](const QString &why) {
        if (!why.isEmpty())
            qCWarning(lcArchive).noquote() << m_settings.directory << ": the journal of the segment in progress is dropped:" << why;
        QFile::remove(dataPath);
        QFile::remove(logPath);
        return true;
    };
    if (!log.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("reading %1: %2").arg(logPath, log.errorString());
        return false;
    }
    QByteArray text = log.readAll();
    // The last whole line: a kill may have cut the one after it short.
    text.truncate(text.lastIndexOf('\n') + 1);
    const QList<QByteArray> lines = text.split('\n');
    const QList<QByteArray> f = lines.size() >= 2 ? lines.at(lines.size() - 2).split(' ') : QList<QByteArray>{};
    bool ok[4] = {};
    const qint64 sequence = f.size() == 5 ? f[0].toLongLong(&ok[0]) : -1;
    qint64 bytes = f.size() == 5 ? f[1].toLongLong(&ok[1]) : 0;
    qint64 startMs = f.size() == 5 ? f[2].toLongLong(&ok[2]) : 0;
    const qint64 durationMs = f.size() == 5 ? f[3].toLongLong(&ok[3]) : 0;
    if (!(ok[0] && ok[1] && ok[2] && ok[3]))
        return discard(text.isEmpty() ? QString() : QStringLiteral("unreadable"));
    if (sequence != expectedSequence)
        return discard({}); // its segment was written whole before the crash
    QFile data(dataPath);
    if (!data.open(QIODevice::ReadOnly))
        return discard(QStringLiteral("%1: %2").arg(dataPath, data.errorString()));
    bytes = qMin(bytes, data.size());
    bytes -= bytes % 188;
    const QByteArray ts = data.read(bytes);
    if (ts.size() < 188 || ts.at(0) != 0x47 || durationMs <= 0)
        return discard(QStringLiteral("%1 bytes, %2 ms: nothing to play").arg(ts.size()).arg(durationMs));
    // (A crash between linkJournal() and the index line left the same data under the segment's
    // name too: writeSegment() replaces that file.)
    startMs = qMax(startMs, m_lastEndMs);
    // The journaled segment follows what was listed as it did while recording; the gap is after it.
    m_gapPending = false;
    StorageError failure;
    if (writeSegment(ts, startMs, durationMs, f[4] == "1", &failure)) {
        m_recoveredJournal = true;
        qCInfo(lcArchive).noquote() << m_settings.directory << ": listed" << durationMs
                                    << "ms of the segment in progress from its journal";
    } else {
        qCWarning(lcArchive).noquote() << m_settings.directory << ": the journal of the segment in progress is lost:"
                                       << failure.toString();
    }
    m_gapPending = true;
    m_resumed = true;
    return discard({});
}

bool ArchiveWriter::open(const ArchiveWriterSettings &settings, QString *error)
{
    closeJournal();
    m_recoveredJournal = false;
    m_settings = settings;
    m_index.close();
    m_chunk.clear();
    m_chunkEndMs = 0;
    m_nextSequence = 0;
    m_lastEndMs = 0;
    m_resumed = false;
    m_fencedBy = 0;
    m_scratch = settings.epoch > 0 ? QStringLiteral("-e%1").arg(settings.epoch) : QString();
    if (!QDir().mkpath(settings.directory)) {
        *error = QStringLiteral("creating the archive folder %1: permission denied or not a folder").arg(settings.directory);
        return false;
    }
    // Before anything is read: what a writer of a lower epoch does from now on is refused or not read.
    if (settings.epoch > 0 && !claimFolder(error))
        return false;
    const QStringList chunks = chunkFolders(settings.directory);
    for (auto it = chunks.crbegin(); it != chunks.crend(); ++it) {
        const std::optional<ArchiveIndexContents> c
            = ArchiveIndex::read(QDir(settings.directory).filePath(*it + QLatin1Char('/') + QLatin1String(ArchiveIndex::kFileName)), error);
        if (!c)
            return false;
        if (c->tornBytes > 0 || c->badLines > 0)
            qCWarning(lcArchive).noquote() << settings.directory << *it << ": dropped a torn last line of" << c->tornBytes
                                           << "bytes and" << c->badLines << "unreadable lines";
        if (c->segments.isEmpty())
            continue;
        m_nextSequence = c->segments.last().sequence + 1;
        m_lastEndMs = c->segments.last().endMs();
        m_resumed = true;
        if (settings.chunkMs == 0)
            m_chunk = *it; // a recording has one chunk: continue it
        break;
    }
    m_gapPending = m_resumed;
    // A recording's index gets this writer's epoch line now: where it goes on is what readers
    // read after that line (a lower epoch's line appended meanwhile before it included).
    if (settings.epoch > 0 && !m_chunk.isEmpty() && !ensureChunk(m_lastEndMs, error))
        return false;
    m_recoveredHeld = 0;
    if (!recoverScratch(error))
        return false;
    if (m_resumed)
        qCInfo(lcArchive).noquote() << "resuming" << settings.directory << "at segment" << m_nextSequence;
    return true;
}

bool ArchiveWriter::ensureChunk(qint64 startMs, QString *error)
{
    if (m_index.isOpen() && (m_chunkEndMs == 0 || startMs < m_chunkEndMs))
        return true;
    QString name = m_chunk;
    if (m_settings.chunkMs > 0) {
        const qint64 aligned = startMs - startMs % m_settings.chunkMs;
        name = chunkName(aligned);
        m_chunkEndMs = aligned + m_settings.chunkMs;
    } else if (name.isEmpty()) {
        name = chunkName(startMs - startMs % 1000);
    }
    const QString folder = QDir(m_settings.directory).filePath(name);
    if (!QDir().mkpath(folder)) {
        *error = QStringLiteral("creating %1: permission denied or not a folder").arg(folder);
        return false;
    }
    if (!m_index.openForAppend(folder + QLatin1Char('/') + QLatin1String(ArchiveIndex::kFileName), error, 0, m_settings.epoch)) {
        if (m_index.fencedBy() > 0) {
            m_fencedBy = qMax(m_fencedBy, m_index.fencedBy());
            qCWarning(lcArchive).noquote() << *error;
        }
        return false;
    }
    m_chunk = name;
    if (m_settings.epoch > 0)
        followIndex(m_index.contents());
    return true;
}

bool ArchiveWriter::ensureSpace(qint64 bytes, StorageError *error)
{
    if (m_settings.minFreeBytes <= 0)
        return true;
    qint64 free = m_freeSpace(m_settings.directory);
    if (free - bytes >= m_settings.minFreeBytes)
        return true;
    qint64 freed = 0;
    if (m_recovery) {
        freed = m_recovery(m_settings.minFreeBytes + bytes - free);
        free = m_freeSpace(m_settings.directory);
        if (free - bytes >= m_settings.minFreeBytes)
            return true;
    }
    error->kind = StorageError::DiskFull;
    error->where = m_settings.directory;
    error->why = QStringLiteral("%1 MB free, a segment of %2 MB would leave less than the minimum of %3 MB; retention freed %4 MB")
                     .arg(free / 1e6, 0, 'f', 1)
                     .arg(bytes / 1e6, 0, 'f', 1)
                     .arg(m_settings.minFreeBytes / 1e6, 0, 'f', 1)
                     .arg(freed / 1e6, 0, 'f', 1);
    return false;
}

bool ArchiveWriter::writeSegment(const QByteArray &ts, qint64 startMs, qint64 durationMs, bool gap, StorageError *error)
{
    return writeSegment(QList<QByteArray>{ts}, startMs, durationMs, gap, error);
}

bool ArchiveWriter::writeSegment(const QList<QByteArray> &pieces, qint64 startMs, qint64 durationMs, bool gap,
                                 StorageError *error)
{
    discardJournal(); // not this segment's
    return writeSegment(pieces, false, startMs, durationMs, gap, error);
}

bool ArchiveWriter::writeJournaledSegment(const QList<QByteArray> &rest, qint64 startMs, qint64 durationMs, bool gap,
                                          StorageError *error)
{
    if (!m_journalBegun) {
        *error = {StorageError::WriteFailed, QStringLiteral("writing segment %1 of %2").arg(m_nextSequence).arg(m_settings.directory),
                  m_settings.directory, QStringLiteral("its first part was never given to the journal")};
        m_gapPending = true;
        return false;
    }
    return writeSegment(rest, true, startMs, durationMs, gap, error);
}

bool ArchiveWriter::writeSegment(const QList<QByteArray> &rest, bool journaled, qint64 startMs, qint64 durationMs, bool gap,
                                 StorageError *error)
{
    *error = {};
    error->what = QStringLiteral("writing segment %1 of %2").arg(m_nextSequence).arg(m_settings.directory);
    const qint64 bytes = (journaled ? m_journalBytes + sizeOf(m_journalHeld) : 0) + sizeOf(rest);
    QString why;
    if (!checkFence(error)) {
        discardJournal();
        return false;
    }
    if (!ensureSpace(bytes, error)) {
        m_gapPending = true;
        discardJournal();
        return false;
    }
    if (!ensureChunk(startMs, &why)) {
        *error = {fenced() ? StorageError::Fenced : StorageError::WriteFailed, error->what, m_settings.directory, why};
        m_gapPending = true;
        discardJournal();
        return false;
    }
    ArchiveSegment s;
    s.sequence = m_nextSequence;
    s.startMs = startMs;
    s.durationMs = durationMs;
    s.bytes = bytes;
    // A name of this epoch's own: a stalled writer of another never writes over it.
    s.file = m_settings.epoch > 0 ? QStringLiteral("seg-%1-e%2.ts").arg(s.sequence).arg(m_settings.epoch)
                                  : QStringLiteral("seg-%1.ts").arg(s.sequence);
    s.gap = gap || m_gapPending;
    s.epoch = m_settings.epoch;
    const QString path = QDir(m_settings.directory).filePath(m_chunk + QLatin1Char('/') + s.file);
    bool written = false;
    if (journaled && m_journalData >= 0) {
        written = linkJournal(rest, s, path, &why);
        if (!written)
            qCWarning(lcArchive).noquote() << m_settings.directory << ": the journal does not become segment" << s.sequence
                                           << "(" << why << "); writing it whole";
    }
    // Whole: what the journal's file holds of it is copied from there, the rest from memory.
    if (!written && !writeFileDurably(path, journaled ? m_journalData : -1, journaled ? m_journalBytes : 0,
                                      !journaled ? rest : m_journalBytes < bytes ? m_journalHeld + rest : QList<QByteArray>(), &why)) {
        *error = {errno == ENOSPC || errno == EDQUOT ? StorageError::DiskFull : StorageError::WriteFailed, error->what, path, why};
        m_gapPending = true;
        discardJournal();
        return false;
    }
    // Read again just before the line: a writer stalled in the segment's write finds the folder
    // taken over here (its line would not be read anyway: archiveindex.h).
    if (!checkFence(error)) {
        error->what = QStringLiteral("writing segment %1 of %2").arg(s.sequence).arg(m_settings.directory);
        QFile::remove(path); // this epoch's name: nobody else's file
        discardJournal();
        return false;
    }
    if (!m_index.append(s, &why)) {
        QFile::remove(path); // not listed: it would be an orphan
        *error = {StorageError::WriteFailed, error->what, m_index.isOpen() ? path : m_settings.directory, why};
        m_gapPending = true;
        discardJournal();
        return false;
    }
    ++m_nextSequence;
    m_lastEndMs = s.endMs();
    m_lastWritten = s;
    m_gapPending = false;
    discardJournal(); // the segment's now (or stale): unlinked, not synced
    return true;
}

bool ArchiveWriter::finish(qint64 atMs, QString *error)
{
    closeJournal();
    QFile::remove(journalPath(kJournalData));
    QFile::remove(journalPath(kJournalLog));
    if (StorageError fence; !checkFence(&fence)) {
        *error = QStringLiteral("ending %1: %2").arg(m_settings.directory, fence.why);
        return false;
    }
    if (!m_index.isOpen() && !ensureChunk(m_lastEndMs > 0 ? m_lastEndMs : atMs, error))
        return false;
    const bool ok = m_index.appendEnd(atMs, error);
    m_index.close();
    return ok;
}

// --- reader ------------------------------------------------------------------------------

bool ArchiveReader::load(const QString &directory, QString *error)
{
    return load(directory, std::numeric_limits<qint64>::min(), std::numeric_limits<qint64>::max(), error);
}

bool ArchiveReader::load(const QString &directory, qint64 fromMs, qint64 toMs, QString *error)
{
    // A segment begun just before a chunk's end runs into the next chunk's time.
    static constexpr qint64 kLongestSegmentMs = 60000;
    m_directory = directory;
    m_chunks.clear();
    const QStringList names = chunkFolders(directory);
    for (qsizetype i = 0; i < names.size(); ++i) {
        const QString &name = names[i];
        const bool wholeRange = fromMs == std::numeric_limits<qint64>::min() && toMs == std::numeric_limits<qint64>::max();
        // The last chunk is always read: its end (the archive's) decides VOD or EVENT. A name
        // that is no time (never written so) is read, not skipped.
        if (!wholeRange && i + 1 < names.size()) {
            const std::optional<qint64> start = ArchiveWriter::chunkStartMs(name);
            const std::optional<qint64> nextStart = ArchiveWriter::chunkStartMs(names[i + 1]);
            if ((start && *start >= toMs) || (nextStart && *nextStart + kLongestSegmentMs <= fromMs))
                continue;
        }
        std::optional<ArchiveIndexContents> c
            = ArchiveIndex::read(QDir(directory).filePath(name + QLatin1Char('/') + QLatin1String(ArchiveIndex::kFileName)), error);
        if (!c)
            return false;
        m_chunks.append({name, std::move(*c)});
    }
    return true;
}

qint64 ArchiveReader::firstSegmentMs(const QString &directory)
{
    for (const QString &name : chunkFolders(directory)) {
        QString error;
        const std::optional<ArchiveIndexContents> c
            = ArchiveIndex::read(QDir(directory).filePath(name + QLatin1Char('/') + QLatin1String(ArchiveIndex::kFileName)), &error);
        if (c && !c->segments.isEmpty())
            return c->segments.first().startMs;
    }
    return 0;
}

QList<ArchiveSegment> ArchiveReader::segments(qint64 fromMs, qint64 toMs) const
{
    QList<ArchiveSegment> out;
    for (const ArchiveChunk &chunk : m_chunks) {
        if (chunk.index.segments.isEmpty() || chunk.endMs() <= fromMs || chunk.startMs() >= toMs)
            continue;
        for (ArchiveSegment s : chunk.index.segments) {
            if (s.endMs() <= fromMs || s.startMs >= toMs)
                continue;
            s.file = chunk.name + QLatin1Char('/') + s.file;
            out.append(s);
        }
    }
    return out;
}

bool ArchiveReader::finished() const
{
    return !m_chunks.isEmpty() && m_chunks.last().index.finishedAtMs > 0;
}

qint64 ArchiveReader::startMs() const
{
    for (const ArchiveChunk &c : m_chunks)
        if (!c.index.segments.isEmpty())
            return c.startMs();
    return 0;
}

qint64 ArchiveReader::endMs() const
{
    for (auto it = m_chunks.crbegin(); it != m_chunks.crend(); ++it)
        if (!it->index.segments.isEmpty())
            return it->endMs();
    return 0;
}

} // namespace iptv::dvr
