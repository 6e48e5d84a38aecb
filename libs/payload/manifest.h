#pragma once

// The manifest of a payload bundle (MANIFEST.json, signed as exact bytes; see docs/payload.md).

#include <payload/error.h>

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace iptv::payload {

/// Release channels: most boxes follow Clean, a few brave ones Experimental.
enum class Channel : quint8 { Clean, Experimental };

/// "clean" / "experimental".
QString channelName(Channel channel);
std::optional<Channel> channelFromName(QStringView name);

/// One file of the payload. `path` is relative to the payload root ("qml/Main.qml"); in the
/// archive it is the entry "payload/qml/Main.qml".
struct ManifestFile
{
    QString path;
    qint64 size = 0;
    QByteArray sha256; ///< 32 raw bytes
    bool executable = false;

    friend bool operator==(const ManifestFile &, const ManifestFile &) = default;
};

struct Manifest
{
    static constexpr int CurrentFormat = 1;

    int format = CurrentFormat;
    QString version;       ///< the payload's version, see version.h
    Channel channel = Channel::Clean;
    QString minBoxVersion; ///< boxes below this version must not install it
    QDateTime created;     ///< UTC, whole seconds
    QString keyId;         ///< the signing key's id (PublicKey::keyId)
    QString notes;         ///< release notes for operators; may be empty
    QList<ManifestFile> files; ///< sorted by path
    qint64 totalSize = 0;  ///< sum of the file sizes

    /// The manifest as JSON (what MANIFEST.json holds, keys sorted, 4-space indent, '\n' at the end).
    QByteArray toJson() const;
    QJsonObject toJsonObject() const;
    /// The file with this payload-relative path, or nullptr.
    const ManifestFile *file(const QString &path) const;

    /// Parses and validates MANIFEST.json: format, version strings, channel, keyId, and every path
    /// (relative, normalised, unique, no file inside another file's path), sizes and total.
    /// On failure returns nullopt with BadManifest or PathTraversal in `status`.
    static std::optional<Manifest> parse(const QByteArray &json, PayloadStatus *status);

    friend bool operator==(const Manifest &, const Manifest &) = default;
};

/// Why `path` cannot be a payload path, or an empty string if it can: relative, '/'-separated,
/// no empty, "." or ".." components, no backslash or control characters, at most 1024 bytes of
/// UTF-8 and 64 levels. `error` says which code applies (PathTraversal or UnsupportedEntry).
QString payloadPathProblem(QStringView path, PayloadError *error = nullptr);

} // namespace iptv::payload
