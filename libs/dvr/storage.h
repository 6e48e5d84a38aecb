#pragma once

// A recorder node's storage: several folders (disks), each kept above a minimum of free space.
// A new recording or archive goes to the folder with the most free space; an existing one stays
// where it is (locate()).

#include <QList>
#include <QString>

#include <functional>
#include <optional>

namespace iptv::dvr {

/// The folder a channel's copies (below recordings/) and its archive (below archive/) are kept
/// in: the channel's id (non-empty) where it is a plain name, so that the folders of such ids
/// stay what they were; else the id with '/', '\\', '%', control characters and leading dots
/// percent-encoded (UTF-8, "%2F"), so that no id makes a folder level more, a hidden folder,
/// "." or "..". One folder per id and back (channelIdOfFolder).
QString channelFolderName(const QString &channelId);
/// The id of the channel whose folder this is; nullopt when channelFolderName() makes no such
/// name (a folder that is not a channel's).
std::optional<QString> channelIdOfFolder(const QString &folder);

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
