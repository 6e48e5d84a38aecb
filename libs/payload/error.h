#pragma once

#include <QString>
#include <QtGlobal>

namespace iptv::payload {

/// Why a bundle (or a key, or an unpack) was refused. Stable names: see errorName().
enum class PayloadError : quint8 {
    None = 0,
    IoError,          ///< a file could not be read or written (not a disk-full case)
    DiskFull,         ///< the target file system is full (ENOSPC, EDQUOT, EFBIG)
    BadArchive,       ///< not zstd, not tar, truncated or corrupt
    BadSignature,     ///< MANIFEST.sig missing, malformed or not a signature of MANIFEST.json
    UnknownKey,       ///< signed by a key that is not among the trusted ones
    BadManifest,      ///< MANIFEST.json missing, not first, or not a valid manifest
    PathTraversal,    ///< absolute, "..", "." or empty components, backslashes
    UnsupportedEntry, ///< symlink, hardlink, device, fifo, or a name that cannot be a file name
    DuplicateEntry,   ///< the same path twice in the archive
    HashMismatch,     ///< a file's SHA-256 differs from the manifest's
    SizeMismatch,     ///< a file's size differs from the manifest's
    MissingFile,      ///< listed in the manifest, absent from the archive
    ExtraFile,        ///< in the archive, not listed in the manifest
    TooLarge,         ///< over a limit: files, sizes, compression ratio (zip bombs)
    BadKey,           ///< a key file that cannot be used
    BadInput,         ///< wrong build parameters (version, channel, source directory)
    NotNewer,         ///< the bundle's version is not above the installed/published one
    BoxTooOld,        ///< the box's version is below the bundle's minBoxVersion
};

/// "HashMismatch", ... (the enumerator's name; used in logs, CLI output and HTTP error bodies).
QString errorName(PayloadError error);

/// The outcome of one operation: an error code, the archive entry (or file) concerned and a
/// human reason. `ok()` when error is None.
struct PayloadStatus
{
    PayloadError error = PayloadError::None;
    QString entry;
    QString message;

    bool ok() const { return error == PayloadError::None; }
    /// "HashMismatch: payload/qml/Main.qml: SHA-256 is 3f.., the manifest says 9a.."
    QString toString() const;

    static PayloadStatus failure(PayloadError error, const QString &entry, const QString &message)
    {
        return {error, entry, message};
    }
};

} // namespace iptv::payload
