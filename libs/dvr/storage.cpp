#include "storage.h"

#include <QDir>
#include <QFileInfo>
#include <QStorageInfo>

namespace iptv::dvr {

QString channelFolderName(const QString &channelId)
{
    QString out;
    out.reserve(channelId.size());
    bool leading = true; // a dot is encoded up to the first other character
    for (const QChar c : channelId) {
        const char16_t u = c.unicode();
        leading = leading && u == u'.';
        if (leading || u == u'/' || u == u'\\' || u == u'%' || u < 0x20 || u == 0x7f)
            out += QStringLiteral("%%1").arg(uint(u), 2, 16, QLatin1Char('0')).toUpper();
        else
            out += c;
    }
    return out;
}

std::optional<QString> channelIdOfFolder(const QString &folder)
{
    const QString id = QString::fromUtf8(QByteArray::fromPercentEncoding(folder.toUtf8()));
    if (id.isEmpty() || channelFolderName(id) != folder)
        return std::nullopt;
    return id;
}

StoragePool::StoragePool(QStringList paths, qint64 minFreeBytes)
    : m_paths(std::move(paths))
    , m_minFreeBytes(minFreeBytes)
    , m_freeSpace([](const QString &path) {
        QStorageInfo info(path);
        return info.isValid() ? info.bytesAvailable() : qint64(-1);
    })
{
}

std::optional<QString> StoragePool::choose(qint64 expectedBytes, QString *why) const
{
    QString best;
    qint64 bestFree = -1;
    QStringList seen;
    for (const QString &path : m_paths) {
        const qint64 free = m_freeSpace(path);
        seen << (free < 0 ? QStringLiteral("%1 (not mounted or unreadable)").arg(path)
                          : QStringLiteral("%1 (%2 MB free)").arg(path).arg(free / 1e6, 0, 'f', 1));
        if (free - expectedBytes >= m_minFreeBytes && free > bestFree) {
            best = path;
            bestFree = free;
        }
    }
    if (best.isEmpty()) {
        *why = m_paths.isEmpty()
            ? QStringLiteral("no storage path is configured")
            : QStringLiteral("no storage path keeps %1 MB free after %2 MB more: %3")
                  .arg(m_minFreeBytes / 1e6, 0, 'f', 1)
                  .arg(expectedBytes / 1e6, 0, 'f', 1)
                  .arg(seen.join(QLatin1String(", ")));
        return std::nullopt;
    }
    return best;
}

QString StoragePool::locate(const QString &relative) const
{
    for (const QString &path : m_paths) {
        if (QFileInfo(QDir(path).filePath(relative)).isDir())
            return path;
    }
    return {};
}

std::optional<QString> StoragePool::place(const QString &relative, qint64 expectedBytes, QString *why) const
{
    const QString existing = locate(relative);
    if (!existing.isEmpty())
        return QDir(existing).filePath(relative);
    const std::optional<QString> path = choose(expectedBytes, why);
    if (!path)
        return std::nullopt;
    return QDir(*path).filePath(relative);
}

} // namespace iptv::dvr
