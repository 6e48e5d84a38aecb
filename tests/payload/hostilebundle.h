#pragma once

// Crafts bundles by hand with libarchive (its own zstd filter), so tests can build what our
// writer never would: traversal names, links, devices, duplicates, lies about sizes, bombs.

#include <payload/bundle.h>

#include <QByteArray>
#include <QList>
#include <QMetaType>

namespace hostile {

enum class Type { File, Dir, Symlink, Hardlink, Fifo, CharDevice };

struct Entry
{
    QByteArray name;
    QByteArray data;
    Type type = Type::File;
    QByteArray link;   ///< symlink or hardlink target
    int mode = 0644;
    qint64 zeros = 0;  ///< zero bytes streamed after `data` (bombs without the memory)
};

/// A file as a manifest declares it; `zeros` as in Entry.
struct Declared
{
    QString path;
    QByteArray data;
    bool executable = false;
    qint64 zeros = 0;
};

/// The tar of `entries`, compressed with zstd.
QByteArray tarZstd(const QList<Entry> &entries);
/// The same without compression (a bundle must be zstd: this one is refused).
QByteArray plainTar(const QList<Entry> &entries);
/// `head` (regular files only) and then a GNU pax 1.0 sparse member `name` of `realSize` bytes whose
/// only stored extent is `data` at offset 0, written byte by byte (libarchive's writer makes no
/// sparse maps), compressed with zstd.
QByteArray sparseTarZstd(const QList<Entry> &head, const QByteArray &name, qint64 realSize, const QByteArray &data);

iptv::payload::Manifest manifestFor(const QList<Declared> &files, const QString &keyId);
/// "iptv-ed25519-sig:<keyId>:<base64>" of `manifestBytes` by `key`, naming `keyId` (default: the key's).
QByteArray signatureText(const iptv::payload::SigningKey &key, const QByteArray &manifestBytes, const QString &keyId = {});
/// MANIFEST.json and MANIFEST.sig entries for `files`, signed by `key`.
QList<Entry> signedHead(const QList<Declared> &files, const iptv::payload::SigningKey &key);
/// The payload/ entry of a declared file.
Entry fileEntry(const Declared &file);

} // namespace hostile

Q_DECLARE_METATYPE(hostile::Entry)
