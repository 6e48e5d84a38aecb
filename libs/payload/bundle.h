#pragma once

// Payload bundles: a tar archive compressed with zstd holding, in this order,
//   MANIFEST.json   version, channel, minBoxVersion, created, keyId, files (path, size, sha256, executable)
//   MANIFEST.sig    "iptv-ed25519-sig:<keyId>:<base64 Ed25519 signature of MANIFEST.json's exact bytes>"
//   payload/...     the files, exactly those of the manifest
// The signature is checked before anything in the manifest is believed; then every entry is
// checked against the manifest while it streams, under Limits that stop zip bombs without
// trusting any size an archive header claims. docs/payload.md has the details.

#include <payload/error.h>
#include <payload/keys.h>
#include <payload/manifest.h>

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QString>

#include <functional>

class QIODevice;

namespace iptv::payload {

/// What a reader accepts. The defaults fit a Hubris release with its binaries; a box with little
/// storage may lower them. Every limit is enforced on the bytes actually decompressed.
struct Limits
{
    qint64 maxFiles = 10000;                    ///< files in the manifest
    qint64 maxEntries = 20000;                  ///< archive entries, directories included
    qint64 maxTotalSize = 512LL * 1024 * 1024;  ///< sum of the unpacked file sizes
    qint64 maxFileSize = 256LL * 1024 * 1024;   ///< one unpacked file
    qint64 maxManifestSize = 4LL * 1024 * 1024; ///< MANIFEST.json
    /// Decompressed bytes per compressed byte read so far, checked once `ratioFloor` bytes have been
    /// decompressed (small bundles of text can legitimately compress very well).
    double maxCompressionRatio = 100.0;
    qint64 ratioFloor = 8LL * 1024 * 1024;
};

/// What a bundle's signature turned out to be.
enum class SignatureState : quint8 {
    NotChecked, ///< no trusted keys were given (inspect only)
    Valid,      ///< signed by a trusted key
    Invalid,    ///< a trusted key's id, but the signature does not match the manifest
    UnknownKey, ///< signed by a key that is not trusted
    Missing,    ///< no (readable) MANIFEST.sig
};
QString signatureStateName(SignatureState state);

/// The outcome of inspect, verify, unpack and build.
struct BundleResult
{
    PayloadStatus status;
    bool hasManifest = false;  ///< `manifest` was parsed (verify/unpack: and its signature holds)
    Manifest manifest;
    QByteArray manifestBytes;  ///< MANIFEST.json exactly as signed
    SignatureState signature = SignatureState::NotChecked;
    QString signatureKeyId;    ///< the keyId MANIFEST.sig names
    qint64 bundleSize = 0;     ///< compressed bytes read (build: bytes written)

    bool ok() const { return status.ok(); }
};

/// What `buildBundle` puts into the manifest besides the files.
struct BundleMeta
{
    QString version;
    Channel channel = Channel::Clean;
    QString minBoxVersion;
    QString notes;
    QDateTime created;         ///< invalid: now (UTC, whole seconds)
    int compressionLevel = 12; ///< zstd level, 1..19
};

/// Progress of long work: `phase` ("hashing", "writing", "verifying", "unpacking"), bytes done of total.
using ProgressFunction = std::function<void(const QString &phase, qint64 done, qint64 total)>;

/// Builds a bundle of every regular file under `sourceDir` (symlinks and special files are refused),
/// signs it with `key`, checks the result as a box would (verifyBundle under `limits`, so a bundle
/// every box would refuse is never written) and only then renames it to `outPath`.
BundleResult buildBundle(const QString &sourceDir, const BundleMeta &meta, const SigningKey &key,
                         const QString &outPath, const Limits &limits = {}, const ProgressFunction &progress = {});

/// Reads MANIFEST.json and MANIFEST.sig only (no payload is read or checked): for showing what a
/// bundle claims to be. `status` fails only if the manifest itself cannot be read; the signature's
/// state is in `signature` (NotChecked when `trustedKeys` is empty).
BundleResult inspectBundle(const QString &path, const QList<PublicKey> &trustedKeys = {}, const Limits &limits = {});
BundleResult inspectBundle(QIODevice *device, const QList<PublicKey> &trustedKeys = {}, const Limits &limits = {});

/// Checks a whole bundle: signature by one of `trustedKeys`, then every entry against the manifest.
/// A refusal is logged (category iptv.payload, warning) with its code, entry and reason.
BundleResult verifyBundle(const QString &path, const QList<PublicKey> &trustedKeys, const Limits &limits = {},
                          const ProgressFunction &progress = {});
/// The same on an open device (a QBuffer, a file, a socket); reads it to the end. A sequential device
/// is waited on with waitForReadyRead (up to 30 s each time): run that off the GUI thread.
BundleResult verifyBundle(QIODevice *device, const QList<PublicKey> &trustedKeys, const Limits &limits = {},
                          const ProgressFunction &progress = {});
BundleResult verifyBundleData(const QByteArray &bundle, const QList<PublicKey> &trustedKeys, const Limits &limits = {});

/// Verifies and unpacks into `targetDir`, which must not exist yet (its parent must). Files go into
/// a sibling "<targetDir>.partial-XXXXXX" while they are checked; only a bundle that passed every
/// check is renamed to `targetDir`, so `targetDir` is either complete or absent, never half there.
/// The slot then holds MANIFEST.json, MANIFEST.sig and payload/..., so it can be verified again later.
BundleResult unpackBundle(const QString &path, const QList<PublicKey> &trustedKeys, const QString &targetDir,
                          const Limits &limits = {}, const ProgressFunction &progress = {});

/// Whether a box at `boxVersion` whose installed payload is `installedVersion` (empty: none) may
/// install `manifest`: BoxTooOld below minBoxVersion, NotNewer unless the version goes up.
PayloadStatus checkUpgrade(const Manifest &manifest, const QString &boxVersion, const QString &installedVersion);

} // namespace iptv::payload
