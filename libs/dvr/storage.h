#pragma once

// A recorder node's storage: several folders (disks), each kept above a minimum of free space.
// A new recording or archive goes to the folder with the most free space; an existing one stays
// where it is (locate()).

#include <QList>
#include <QString>

#include <functional>
#include <optional>

namespace iptv::dvr {

class StoragePool
{
public:
    /// Free bytes on the file system holding `path` (QStorageInfo unless replaced, e.g. in tests).
    using FreeSpace = std::function<qint64(const QString &path)>;

    StoragePool(QStringList paths, qint64 minFreeBytes);

    void setFreeSpace(FreeSpace freeSpace) { m_freeSpace = std::move(freeSpace); }
    /// The folder with the most free space that keeps `expectedBytes` above the minimum; nullopt
    /// with *why (every folder and its free space) when none does.
    std::optional<QString> choose(qint64 expectedBytes, QString *why) const;
    /// The folder that already holds `relative` (a recording's or archive's folder name), or empty.
    QString locate(const QString &relative) const;
    /// Where `relative` lives, or is to be created when it does not exist yet.
    std::optional<QString> place(const QString &relative, qint64 expectedBytes, QString *why) const;

    const QStringList &paths() const { return m_paths; }
    qint64 minFreeBytes() const { return m_minFreeBytes; }
    qint64 freeBytes(const QString &path) const { return m_freeSpace(path); }

private:
    QStringList m_paths;
    qint64 m_minFreeBytes;
    FreeSpace m_freeSpace;
};

} // namespace iptv::dvr
