#include "hostilebundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>

#include <QTimeZone>

#include <cstring>

#include <memory>

namespace hostile {

namespace {

struct WriteDeleter { void operator()(archive *a) const { archive_write_free(a); } };
struct EntryDeleter { void operator()(archive_entry *e) const { archive_entry_free(e); } };

la_ssize_t appendTo(archive *, void *client, const void *data, size_t size)
{
    static_cast<QByteArray *>(client)->append(static_cast<const char *>(data), qsizetype(size));
    return la_ssize_t(size);
}

QByteArray write(const QList<Entry> &entries, bool zstd)
{
    QByteArray out;
    std::unique_ptr<archive, WriteDeleter> a(archive_write_new());
    archive_write_set_format_pax_restricted(a.get());
    if (zstd)
        archive_write_add_filter_zstd(a.get());
    archive_write_open(a.get(), &out, nullptr, appendTo, nullptr);
    const QByteArray zeros(1024 * 1024, '\0');
    for (const Entry &e : entries) {
        std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
        archive_entry_set_pathname(entry.get(), e.name.constData());
        archive_entry_set_perm(entry.get(), mode_t(e.mode));
        archive_entry_set_mtime(entry.get(), 1767571200, 0);
        qint64 size = 0;
        switch (e.type) {
        case Type::File:
            archive_entry_set_filetype(entry.get(), AE_IFREG);
            size = e.data.size() + e.zeros;
            break;
        case Type::Dir:
            archive_entry_set_filetype(entry.get(), AE_IFDIR);
            break;
        case Type::Symlink:
            archive_entry_set_filetype(entry.get(), AE_IFLNK);
            archive_entry_set_symlink(entry.get(), e.link.constData());
            break;
        case Type::Hardlink:
            archive_entry_set_filetype(entry.get(), AE_IFREG);
            archive_entry_set_hardlink(entry.get(), e.link.constData());
            break;
        case Type::Fifo:
            archive_entry_set_filetype(entry.get(), AE_IFIFO);
            break;
        case Type::CharDevice:
            archive_entry_set_filetype(entry.get(), AE_IFCHR);
            archive_entry_set_rdev(entry.get(), 0x0103); // /dev/null's numbers
            break;
        }
        archive_entry_set_size(entry.get(), size);
        archive_write_header(a.get(), entry.get());
        if (e.type == Type::File) {
            archive_write_data(a.get(), e.data.constData(), size_t(e.data.size()));
            for (qint64 left = e.zeros; left > 0; left -= zeros.size())
                archive_write_data(a.get(), zeros.constData(), size_t(qMin<qint64>(left, zeros.size())));
        }
    }
    archive_write_close(a.get());
    return out;
}

QByteArray sha256Of(const Declared &f)
{
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char *>(f.data.constData()), size_t(f.data.size()));
    static const QByteArray zeros(1024 * 1024, '\0');
    for (qint64 left = f.zeros; left > 0; left -= zeros.size()) {
        crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char *>(zeros.constData()),
                                  size_t(qMin<qint64>(left, zeros.size())));
    }
    QByteArray out(crypto_hash_sha256_BYTES, Qt::Uninitialized);
    crypto_hash_sha256_final(&state, reinterpret_cast<unsigned char *>(out.data()));
    return out;
}

/// A ustar header block with its checksum.
QByteArray ustarHeader(const QByteArray &name, qint64 size, char type)
{
    QByteArray h(512, '\0');
    std::memcpy(h.data(), name.constData(), size_t(qMin<qsizetype>(name.size(), 100)));
    const auto octal = [&h](int offset, int length, qint64 value) {
        const QByteArray digits = QByteArray::number(value, 8).rightJustified(length - 1, '0');
        std::memcpy(h.data() + offset, digits.constData(), size_t(length - 1));
    };
    octal(100, 8, 0644);
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, size);
    octal(136, 12, 1767571200);
    h[156] = type;
    std::memcpy(h.data() + 257, "ustar\0" "00", 8);
    std::memset(h.data() + 148, ' ', 8);
    unsigned sum = 0;
    for (char c : std::as_const(h))
        sum += uchar(c);
    const QByteArray digits = QByteArray::number(sum, 8).rightJustified(6, '0');
    std::memcpy(h.data() + 148, digits.constData(), 6);
    h[154] = '\0';
    return h;
}

QByteArray member(const QByteArray &name, const QByteArray &data, char type)
{
    QByteArray out = ustarHeader(name, data.size(), type) + data;
    out.append(QByteArray((512 - data.size() % 512) % 512, '\0'));
    return out;
}

/// "<length> key=value\n", where the length counts itself.
QByteArray paxRecord(const QByteArray &key, const QByteArray &value)
{
    const QByteArray body = ' ' + key + '=' + value + '\n';
    qsizetype length = body.size() + 1;
    while (QByteArray::number(length).size() + body.size() != length)
        ++length;
    return QByteArray::number(length) + body;
}

la_ssize_t appendRaw(archive *, void *client, const void *data, size_t size)
{
    static_cast<QByteArray *>(client)->append(static_cast<const char *>(data), qsizetype(size));
    return la_ssize_t(size);
}

} // namespace

QByteArray sparseTarZstd(const QList<Entry> &head, const QByteArray &name, qint64 realSize, const QByteArray &data)
{
    QByteArray tar;
    for (const Entry &e : head)
        tar += member(e.name, e.data, '0');
    const QByteArray records = paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0")
        + paxRecord("GNU.sparse.name", name) + paxRecord("GNU.sparse.realsize", QByteArray::number(realSize));
    tar += member("PaxHeaders/sparse", records, 'x');
    QByteArray map = "1\n0\n" + QByteArray::number(data.size()) + "\n";
    map.append(QByteArray(512 - map.size(), '\0'));
    tar += member("GNUSparseFile.0/sparse", map + data, '0');
    tar.append(QByteArray(1024, '\0'));

    // libarchive's raw format writes the bytes as they are, through its zstd filter.
    QByteArray out;
    std::unique_ptr<archive, WriteDeleter> a(archive_write_new());
    archive_write_set_format_raw(a.get());
    archive_write_add_filter_zstd(a.get());
    archive_write_open(a.get(), &out, nullptr, appendRaw, nullptr);
    std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_size(entry.get(), tar.size());
    archive_write_header(a.get(), entry.get());
    archive_write_data(a.get(), tar.constData(), size_t(tar.size()));
    archive_write_close(a.get());
    return out;
}

QByteArray tarZstd(const QList<Entry> &entries)
{
    return write(entries, true);
}

QByteArray plainTar(const QList<Entry> &entries)
{
    return write(entries, false);
}

iptv::payload::Manifest manifestFor(const QList<Declared> &files, const QString &keyId)
{
    iptv::payload::Manifest m;
    m.version = u"1.2.3"_qs;
    m.minBoxVersion = u"1.0.0"_qs;
    m.created = QDateTime::fromSecsSinceEpoch(1767571200, QTimeZone::utc()).toUTC();
    m.keyId = keyId;
    for (const Declared &f : files) {
        iptv::payload::ManifestFile mf;
        mf.path = f.path;
        mf.size = f.data.size() + f.zeros;
        mf.sha256 = sha256Of(f);
        mf.executable = f.executable;
        m.files.append(mf);
        m.totalSize += mf.size;
    }
    std::sort(m.files.begin(), m.files.end(), [](const auto &a, const auto &b) { return a.path < b.path; });
    return m;
}

QByteArray signatureText(const iptv::payload::SigningKey &key, const QByteArray &manifestBytes, const QString &keyId)
{
    const QString id = keyId.isEmpty() ? key.keyId() : keyId;
    return "iptv-ed25519-sig:" + id.toLatin1() + ':' + key.sign(manifestBytes).toBase64() + '\n';
}

QList<Entry> signedHead(const QList<Declared> &files, const iptv::payload::SigningKey &key)
{
    const QByteArray json = manifestFor(files, key.keyId()).toJson();
    return {Entry{"MANIFEST.json", json}, Entry{"MANIFEST.sig", signatureText(key, json)}};
}

Entry fileEntry(const Declared &file)
{
    Entry e;
    e.name = "payload/" + file.path.toUtf8();
    e.data = file.data;
    e.zeros = file.zeros;
    e.mode = file.executable ? 0755 : 0644;
    return e;
}

} // namespace hostile
