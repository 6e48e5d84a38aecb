#include "bundle.h"

#include "version.h"

#include <QBuffer>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QSet>
#include <QStringDecoder>
#include <QTemporaryFile>
#include <QTimeZone>

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>
#include <zstd.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

Q_LOGGING_CATEGORY(lcPayload, "iptv.payload")

namespace iptv::payload {

namespace {

const QString kManifestName = u"MANIFEST.json"_qs;
const QString kSignatureName = u"MANIFEST.sig"_qs;
const QString kPayloadDir = u"payload"_qs;
const QByteArray kSignaturePrefix = QByteArrayLiteral("iptv-ed25519-sig:");
constexpr qsizetype kMaxSignatureSize = 4096;
constexpr qsizetype kChunk = 256 * 1024;   // file reads when building
constexpr qsizetype kReadChunk = 64 * 1024; // bundle reads when verifying
// Tar headers (pax records included) may take this much beyond the file data, plus a little per
// entry; anything above is a bomb hidden in headers rather than in files.
constexpr qint64 kHeaderBudget = 16LL * 1024 * 1024;
constexpr qint64 kHeaderBudgetPerEntry = 4096;
// The decoder's window limit (2^24 = 16 MiB of memory); levels 1..19 never need more.
constexpr int kMaxWindowLog = 24;
constexpr int kReadTimeoutMs = 30000;

QString systemError(int error)
{
    return QString::fromLocal8Bit(std::strerror(error));
}

bool isDiskFull(int error)
{
    return error == ENOSPC || error == EDQUOT || error == EFBIG;
}

PayloadStatus ioFailure(int error, const QString &entry, const QString &what)
{
    return PayloadStatus::failure(isDiskFull(error) ? PayloadError::DiskFull : PayloadError::IoError, entry,
                                  what + u": "_qs + systemError(error));
}

QString hex(const QByteArray &bytes)
{
    return QString::fromLatin1(bytes.toHex());
}

struct Sha256
{
    crypto_hash_sha256_state state;
    Sha256() { crypto_hash_sha256_init(&state); }
    void add(const char *data, qsizetype size)
    {
        crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char *>(data), size_t(size));
    }
    QByteArray result()
    {
        QByteArray out(crypto_hash_sha256_BYTES, Qt::Uninitialized);
        crypto_hash_sha256_final(&state, reinterpret_cast<unsigned char *>(out.data()));
        return out;
    }
};

struct ArchiveReadDeleter { void operator()(archive *a) const { archive_read_free(a); } };
struct ArchiveWriteDeleter { void operator()(archive *a) const { archive_write_free(a); } };
struct EntryDeleter { void operator()(archive_entry *e) const { archive_entry_free(e); } };
struct DCtxDeleter { void operator()(ZSTD_DCtx *c) const { ZSTD_freeDCtx(c); } };
struct CCtxDeleter { void operator()(ZSTD_CCtx *c) const { ZSTD_freeCCtx(c); } };

// --- reading ------------------------------------------------------------------------------------

/// Where verified entries go: nowhere (verify) or into a partial slot directory (unpack).
class EntrySink
{
public:
    virtual ~EntrySink() = default;
    virtual PayloadStatus manifest(const QByteArray &manifestBytes, const QByteArray &signatureBytes) = 0;
    virtual PayloadStatus beginFile(const ManifestFile &file) = 0;
    virtual PayloadStatus write(const char *data, qsizetype size) = 0;
    virtual PayloadStatus endFile() = 0;
};

/// Decompresses zstd itself (rather than through libarchive's filter) so that every decompressed
/// byte, tar headers included, is counted against the limits before libarchive ever sees it.
class BundleReader
{
public:
    BundleReader(QIODevice *in, const Limits &limits, const ProgressFunction &progress)
        : m_in(in), m_limits(limits), m_progress(progress)
    {
        m_total = in->isSequential() ? 0 : in->size();
    }

    enum class Mode { Inspect, Verify };

    BundleResult run(const QList<PublicKey> &trustedKeys, Mode mode, EntrySink *sink);

private:
    static la_ssize_t readCallback(archive *, void *client, const void **buffer)
    {
        return static_cast<BundleReader *>(client)->read(buffer);
    }
    la_ssize_t read(const void **buffer);
    PayloadStatus archiveFailure(const QString &entry, const QString &what);
    PayloadStatus readSmallEntry(const QString &name, qint64 max, QByteArray *out);
    PayloadStatus readFile(const ManifestFile &file, const QString &entryName, EntrySink *sink);
    void reportProgress();

    QIODevice *m_in;
    Limits m_limits;
    ProgressFunction m_progress;
    std::unique_ptr<ZSTD_DCtx, DCtxDeleter> m_dctx;
    std::unique_ptr<archive, ArchiveReadDeleter> m_archive;
    // Not zero-filled: every byte used is written first (this matters when fuzzing, run by run).
    std::unique_ptr<char[]> m_inBuffer = std::make_unique_for_overwrite<char[]>(kReadChunk);
    const size_t m_outSize = ZSTD_DStreamOutSize();
    std::unique_ptr<char[]> m_outBuffer = std::make_unique_for_overwrite<char[]>(m_outSize);
    std::unique_ptr<char[]> m_dataBuffer = std::make_unique_for_overwrite<char[]>(kReadChunk);
    ZSTD_inBuffer m_zin{nullptr, 0, 0};
    bool m_inputEnd = false;
    bool m_frameOpen = false;   // zstd is inside a frame: input ending now means truncation
    bool m_frameSeen = false;   // at least one frame was complete
    PayloadStatus m_streamError; // set by the read callback, reported instead of libarchive's message
    qint64 m_total = 0;
    qint64 m_compressed = 0;
    qint64 m_decompressed = 0;
    qint64 m_fileData = 0;      // decompressed bytes that were file contents (not headers)
    qint64 m_entries = 0;
    qint64 m_lastProgress = -1;
};

void BundleReader::reportProgress()
{
    if (!m_progress || m_compressed - m_lastProgress < 1024 * 1024)
        return;
    m_lastProgress = m_compressed;
    m_progress(u"verifying"_qs, m_compressed, m_total);
}

la_ssize_t BundleReader::read(const void **buffer)
{
    for (;;) {
        if (m_zin.pos == m_zin.size) {
            if (m_inputEnd) {
                if (m_frameOpen || !m_frameSeen) {
                    m_streamError = PayloadStatus::failure(
                        PayloadError::BadArchive, {},
                        m_compressed == 0 ? u"empty file"_qs
                            : m_frameOpen ? u"truncated: the zstd stream ends inside a frame"_qs
                                          : u"no zstd frame"_qs);
                    return -1;
                }
                return 0;
            }
            const qint64 n = m_in->read(m_inBuffer.get(), kReadChunk);
            if (n < 0) {
                m_streamError = PayloadStatus::failure(PayloadError::IoError, {}, u"read error: "_qs + m_in->errorString());
                return -1;
            }
            if (n == 0) {
                // A socket or process may just have nothing yet: wait for it rather than call it the end.
                if (m_in->isSequential() && m_in->waitForReadyRead(kReadTimeoutMs))
                    continue;
                m_inputEnd = true;
                continue;
            }
            m_compressed += n;
            m_zin = {m_inBuffer.get(), size_t(n), 0};
            reportProgress();
        }
        if (m_frameSeen && !m_frameOpen) {
            // Between frames: zero bytes are block padding (libarchive's zstd writer pads to 10 KiB);
            // no frame starts with a zero byte, so they cannot hide data.
            const char *bytes = static_cast<const char *>(m_zin.src);
            while (m_zin.pos < m_zin.size && bytes[m_zin.pos] == '\0')
                ++m_zin.pos;
            if (m_zin.pos == m_zin.size)
                continue;
        }
        ZSTD_outBuffer out{m_outBuffer.get(), m_outSize, 0};
        const size_t ret = ZSTD_decompressStream(m_dctx.get(), &out, &m_zin);
        if (ZSTD_isError(ret)) {
            m_streamError = PayloadStatus::failure(
                PayloadError::BadArchive, {},
                u"not a valid zstd stream at compressed byte ~%1: %2"_qs.arg(m_compressed).arg(
                    QString::fromLatin1(ZSTD_getErrorName(ret))));
            return -1;
        }
        m_frameOpen = ret != 0;
        if (ret == 0)
            m_frameSeen = true;
        if (out.pos == 0)
            continue;
        m_decompressed += qint64(out.pos);
        const qint64 streamLimit = m_fileData + kHeaderBudget + kHeaderBudgetPerEntry * m_entries
            + m_limits.maxManifestSize + kChunk;
        if (m_decompressed > m_limits.maxTotalSize + kHeaderBudget + kHeaderBudgetPerEntry * m_limits.maxEntries
                                 + m_limits.maxManifestSize
            || m_decompressed > streamLimit) {
            m_streamError = PayloadStatus::failure(
                PayloadError::TooLarge, {},
                u"the archive decompresses to more than its files and headers may take (%1 bytes so far)"_qs.arg(
                    m_decompressed));
            return -1;
        }
        // Compressed bytes zstd actually consumed, not those read ahead, so small bundles are judged fairly.
        const qint64 consumed = m_compressed - qint64(m_zin.size - m_zin.pos);
        if (m_decompressed > m_limits.ratioFloor
            && double(m_decompressed) > m_limits.maxCompressionRatio * double(qMax<qint64>(consumed, 1))) {
            m_streamError = PayloadStatus::failure(
                PayloadError::TooLarge, {},
                u"compression ratio over %1:1 (%2 bytes from %3): refused as a zip bomb"_qs
                    .arg(m_limits.maxCompressionRatio)
                    .arg(m_decompressed)
                    .arg(consumed));
            return -1;
        }
        *buffer = m_outBuffer.get();
        return la_ssize_t(out.pos);
    }
}

PayloadStatus BundleReader::archiveFailure(const QString &entry, const QString &what)
{
    if (!m_streamError.ok()) {
        PayloadStatus s = m_streamError;
        if (s.entry.isEmpty())
            s.entry = entry;
        return s;
    }
    const char *message = archive_error_string(m_archive.get());
    return PayloadStatus::failure(PayloadError::BadArchive, entry,
                                  what + u": "_qs + (message ? QString::fromUtf8(message) : u"unknown error"_qs));
}

PayloadStatus BundleReader::readSmallEntry(const QString &name, qint64 max, QByteArray *out)
{
    out->clear();
    char buffer[16384];
    for (;;) {
        const la_ssize_t n = archive_read_data(m_archive.get(), buffer, sizeof buffer);
        if (n < 0)
            return archiveFailure(name, u"cannot read the entry"_qs);
        if (n == 0)
            return {};
        if (out->size() + n > max)
            return PayloadStatus::failure(PayloadError::TooLarge, name, u"larger than %1 bytes"_qs.arg(max));
        out->append(buffer, qsizetype(n));
        m_fileData += n;
    }
}

PayloadStatus BundleReader::readFile(const ManifestFile &file, const QString &entryName, EntrySink *sink)
{
    if (sink) {
        PayloadStatus s = sink->beginFile(file);
        if (!s.ok())
            return s;
    }
    Sha256 hash;
    qint64 size = 0;
    for (;;) {
        const la_ssize_t n = archive_read_data(m_archive.get(), m_dataBuffer.get(), size_t(kReadChunk));
        if (n < 0)
            return archiveFailure(entryName, u"cannot read the file's data"_qs);
        if (n == 0)
            break;
        size += n;
        m_fileData += n;
        // Stop at the first byte beyond what the signed manifest promised, whatever the header said.
        if (size > file.size) {
            return PayloadStatus::failure(PayloadError::SizeMismatch, entryName,
                                          u"more data than the manifest's %1 bytes"_qs.arg(file.size));
        }
        hash.add(m_dataBuffer.get(), qsizetype(n));
        if (sink) {
            PayloadStatus s = sink->write(m_dataBuffer.get(), qsizetype(n));
            if (!s.ok())
                return s;
        }
    }
    if (size != file.size) {
        return PayloadStatus::failure(PayloadError::SizeMismatch, entryName,
                                      u"%1 bytes, the manifest says %2"_qs.arg(size).arg(file.size));
    }
    const QByteArray digest = hash.result();
    if (digest != file.sha256) {
        return PayloadStatus::failure(PayloadError::HashMismatch, entryName,
                                      u"SHA-256 is %1, the manifest says %2"_qs.arg(hex(digest), hex(file.sha256)));
    }
    return sink ? sink->endFile() : PayloadStatus{};
}

/// The entry's name as UTF-8 text, or a null string when it is not valid UTF-8.
QString entryPath(archive_entry *entry)
{
    const char *utf8 = archive_entry_pathname_utf8(entry);
    const char *raw = utf8 ? utf8 : archive_entry_pathname(entry);
    if (!raw)
        return {};
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    QString name = decoder.decode(QByteArrayView(raw, qsizetype(std::strlen(raw))));
    if (decoder.hasError())
        return {};
    if (name.isNull())
        name = u""_qs;
    return name;
}

/// Parses "iptv-ed25519-sig:<keyId>:<base64>".
bool parseSignature(const QByteArray &text, QString *keyId, QByteArray *signature)
{
    const QByteArray line = text.trimmed();
    if (!line.startsWith(kSignaturePrefix))
        return false;
    const QList<QByteArray> parts = line.mid(kSignaturePrefix.size()).split(':');
    if (parts.size() != 2 || parts.at(0).size() != 16)
        return false;
    const auto decoded = QByteArray::fromBase64Encoding(parts.at(1), QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || decoded.decoded.size() != SigningKey::SignatureSize)
        return false;
    *keyId = QString::fromLatin1(parts.at(0));
    *signature = decoded.decoded;
    return true;
}

BundleResult BundleReader::run(const QList<PublicKey> &trustedKeys, Mode mode, EntrySink *sink)
{
    BundleResult result;
    const auto finish = [&result, this](PayloadStatus status) {
        result.status = std::move(status);
        // inspect stops after two entries: report the whole bundle's size when it is known
        result.bundleSize = qMax(m_compressed, m_total);
        return result;
    };
    if (!ensureSodium())
        return finish(PayloadStatus::failure(PayloadError::IoError, {}, u"libsodium cannot initialise"_qs));

    m_dctx.reset(ZSTD_createDCtx());
    ZSTD_DCtx_setParameter(m_dctx.get(), ZSTD_d_windowLogMax, kMaxWindowLog);
    m_archive.reset(archive_read_new());
    // Tar only (ustar, pax, gnu); compression is handled above, so no filter is enabled.
    archive_read_support_format_tar(m_archive.get());
    if (archive_read_open(m_archive.get(), this, nullptr, &BundleReader::readCallback, nullptr) != ARCHIVE_OK)
        return finish(archiveFailure({}, u"not a bundle"_qs));

    archive_entry *entry = nullptr;
    // Warnings (a malformed pax record, a header checksum libarchive tolerated) are refused too:
    // our writer never produces them.
    const auto nextHeader = [&]() -> int {
        const int r = archive_read_next_header(m_archive.get(), &entry);
        if (r == ARCHIVE_OK || r == ARCHIVE_EOF)
            ++m_entries;
        return r;
    };

    // 1. MANIFEST.json, as bytes: nothing in it is believed before the signature is checked.
    int r = nextHeader();
    if (r == ARCHIVE_EOF)
        return finish(PayloadStatus::failure(PayloadError::BadManifest, kManifestName, u"the archive is empty"_qs));
    if (r != ARCHIVE_OK)
        return finish(archiveFailure({}, u"not a bundle (first entry unreadable)"_qs));
    QString name = entryPath(entry);
    if (name != kManifestName || archive_entry_filetype(entry) != AE_IFREG) {
        return finish(PayloadStatus::failure(PayloadError::BadManifest, name,
                                             u"the first entry must be the regular file MANIFEST.json"_qs));
    }
    PayloadStatus s = readSmallEntry(kManifestName, m_limits.maxManifestSize, &result.manifestBytes);
    if (!s.ok())
        return finish(s);

    // 2. MANIFEST.sig.
    QByteArray signatureText;
    r = nextHeader();
    if (r == ARCHIVE_OK) {
        name = entryPath(entry);
        if (name == kSignatureName && archive_entry_filetype(entry) == AE_IFREG) {
            s = readSmallEntry(kSignatureName, kMaxSignatureSize, &signatureText);
            if (!s.ok())
                return finish(s);
        } else {
            name.clear();
        }
    } else if (r != ARCHIVE_EOF) {
        return finish(archiveFailure(kSignatureName, u"cannot read the second entry"_qs));
    }
    QByteArray signature;
    QString keyId;
    if (signatureText.isEmpty() || !parseSignature(signatureText, &keyId, &signature)) {
        result.signature = SignatureState::Missing;
    } else {
        result.signatureKeyId = keyId;
        result.signature = trustedKeys.isEmpty() ? SignatureState::NotChecked : SignatureState::UnknownKey;
        for (const PublicKey &key : trustedKeys) {
            if (key.keyId() != keyId)
                continue;
            if (key.verify(result.manifestBytes, signature)) {
                result.signature = SignatureState::Valid;
                break;
            }
            result.signature = SignatureState::Invalid;
        }
    }

    if (mode == Mode::Inspect) {
        // Showing what a bundle claims is useful even when it is not trusted: parse it anyway.
        std::optional<Manifest> manifest = Manifest::parse(result.manifestBytes, &s);
        if (manifest) {
            result.hasManifest = true;
            result.manifest = std::move(*manifest);
        }
        return finish(s);
    }

    switch (result.signature) {
    case SignatureState::Valid:
        break;
    case SignatureState::Missing:
        return finish(PayloadStatus::failure(
            PayloadError::BadSignature, kSignatureName,
            signatureText.isEmpty() ? u"the second entry must be MANIFEST.sig; the bundle is not signed"_qs
                                    : u"not a signature (expected \"iptv-ed25519-sig:<keyId>:<base64>\")"_qs));
    case SignatureState::NotChecked:
    case SignatureState::UnknownKey: {
        QStringList ids;
        for (const PublicKey &key : trustedKeys)
            ids.append(key.keyId());
        return finish(PayloadStatus::failure(PayloadError::UnknownKey, kSignatureName,
                                             u"signed by key %1, which is not trusted (trusted: %2)"_qs.arg(
                                                 keyId, ids.isEmpty() ? u"none"_qs : ids.join(u", "_qs))));
    }
    case SignatureState::Invalid:
        return finish(PayloadStatus::failure(PayloadError::BadSignature, kSignatureName,
                                             u"the signature does not match MANIFEST.json (key %1)"_qs.arg(keyId)));
    }

    // 3. The manifest is authentic: parse it and hold it against the limits before reading any file.
    std::optional<Manifest> parsed = Manifest::parse(result.manifestBytes, &s);
    if (!parsed)
        return finish(s);
    const Manifest &manifest = *parsed;
    if (manifest.keyId != keyId) {
        return finish(PayloadStatus::failure(PayloadError::BadManifest, kManifestName,
                                             u"keyId %1 differs from the signature's %2"_qs.arg(manifest.keyId, keyId)));
    }
    if (manifest.files.size() > m_limits.maxFiles) {
        return finish(PayloadStatus::failure(PayloadError::TooLarge, kManifestName,
                                             u"%1 files, more than the limit of %2"_qs.arg(manifest.files.size()).arg(
                                                 m_limits.maxFiles)));
    }
    if (manifest.totalSize > m_limits.maxTotalSize) {
        return finish(PayloadStatus::failure(PayloadError::TooLarge, kManifestName,
                                             u"%1 bytes unpacked, more than the limit of %2"_qs.arg(manifest.totalSize).arg(
                                                 m_limits.maxTotalSize)));
    }
    for (const ManifestFile &f : manifest.files) {
        if (f.size > m_limits.maxFileSize) {
            return finish(PayloadStatus::failure(PayloadError::TooLarge, kPayloadDir + u'/' + f.path,
                                                 u"%1 bytes, more than the limit of %2 for one file"_qs.arg(f.size).arg(
                                                     m_limits.maxFileSize)));
        }
    }
    result.hasManifest = true;
    result.manifest = manifest;
    if (sink) {
        s = sink->manifest(result.manifestBytes, signatureText);
        if (!s.ok())
            return finish(s);
    }

    // 4. Every further entry: a directory or a listed file under payload/, once, intact.
    QSet<QString> seen{kManifestName, kSignatureName};
    qsizetype filesSeen = 0;
    for (;;) {
        r = nextHeader();
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK)
            return finish(archiveFailure({}, u"cannot read the next entry header"_qs));
        if (m_entries > m_limits.maxEntries) {
            return finish(PayloadStatus::failure(PayloadError::TooLarge, {},
                                                 u"more than %1 archive entries"_qs.arg(m_limits.maxEntries)));
        }
        name = entryPath(entry);
        if (name.isNull()) {
            return finish(PayloadStatus::failure(PayloadError::UnsupportedEntry, u"entry %1"_qs.arg(m_entries),
                                                 u"the name is not valid UTF-8"_qs));
        }
        const auto type = archive_entry_filetype(entry);
        QString path = name;
        if (type == AE_IFDIR && path.size() > 1 && path.endsWith(u'/'))
            path.chop(1);
        PayloadError code = PayloadError::None;
        const QString problem = payloadPathProblem(path, &code);
        if (!problem.isEmpty())
            return finish(PayloadStatus::failure(code, name, problem));
        if (archive_entry_hardlink(entry)) {
            return finish(PayloadStatus::failure(
                PayloadError::UnsupportedEntry, name,
                u"hard link to '%1': only regular files and directories are allowed"_qs.arg(
                    QString::fromUtf8(archive_entry_hardlink(entry)))));
        }
        if (type == AE_IFLNK) {
            const char *target = archive_entry_symlink(entry);
            return finish(PayloadStatus::failure(
                PayloadError::UnsupportedEntry, name,
                u"symbolic link to '%1': only regular files and directories are allowed"_qs.arg(
                    QString::fromUtf8(target ? target : ""))));
        }
        if (type != AE_IFREG && type != AE_IFDIR) {
            return finish(PayloadStatus::failure(
                PayloadError::UnsupportedEntry, name,
                u"a device, fifo or socket (type 0%1): only regular files and directories are allowed"_qs.arg(
                    uint(type), 0, 8)));
        }
        if (archive_entry_sparse_count(entry) > 0) {
            // Holes expand without decompressing anything; our writer never makes them.
            return finish(PayloadStatus::failure(PayloadError::UnsupportedEntry, name,
                                                 u"a sparse file: only plain regular files are allowed"_qs));
        }
        if (seen.contains(path))
            return finish(PayloadStatus::failure(PayloadError::DuplicateEntry, name, u"appears twice in the archive"_qs));
        seen.insert(path);
        if (path != kPayloadDir && !path.startsWith(kPayloadDir + u'/')) {
            return finish(PayloadStatus::failure(PayloadError::ExtraFile, name,
                                                 u"outside payload/ (only MANIFEST.json, MANIFEST.sig and payload/...)"_qs));
        }
        if (type == AE_IFDIR)
            continue; // directories come from the files' paths; an extra empty one is harmless
        if (path == kPayloadDir)
            return finish(PayloadStatus::failure(PayloadError::ExtraFile, name, u"'payload' must be a directory"_qs));
        const ManifestFile *file = manifest.file(path.mid(kPayloadDir.size() + 1));
        if (!file)
            return finish(PayloadStatus::failure(PayloadError::ExtraFile, name, u"not listed in the manifest"_qs));
        if (archive_entry_size_is_set(entry) && archive_entry_size(entry) != file->size) {
            return finish(PayloadStatus::failure(PayloadError::SizeMismatch, name,
                                                 u"the archive header says %1 bytes, the manifest %2"_qs.arg(
                                                     archive_entry_size(entry)).arg(file->size)));
        }
        s = readFile(*file, name, sink);
        if (!s.ok())
            return finish(s);
        ++filesSeen;
    }

    // libarchive stops at tar's end marker; the rest of the stream must still decompress cleanly
    // (complete frames, zstd's checksum), or a truncated or damaged file would pass.
    for (;;) {
        const void *ignored = nullptr;
        const la_ssize_t n = read(&ignored);
        if (n == 0)
            break;
        if (n < 0)
            return finish(m_streamError);
    }

    if (filesSeen != manifest.files.size()) {
        QStringList missing;
        for (const ManifestFile &f : manifest.files) {
            if (!seen.contains(kPayloadDir + u'/' + f.path))
                missing.append(kPayloadDir + u'/' + f.path);
        }
        const QString more = missing.size() > 1 ? u" (and %1 more)"_qs.arg(missing.size() - 1) : QString();
        return finish(PayloadStatus::failure(PayloadError::MissingFile, missing.value(0),
                                             u"listed in the manifest but not in the archive"_qs + more));
    }
    if (m_progress)
        m_progress(u"verifying"_qs, m_compressed, m_total);
    return finish({});
}

// --- unpacking ----------------------------------------------------------------------------------

/// Writes verified entries into "<target>.partial-XXXXXX"; commit() renames it to the target.
/// Until then (and on any failure) the destructor removes the partial directory.
class UnpackSink : public EntrySink
{
public:
    explicit UnpackSink(QString target) : m_target(std::move(target)) {}
    ~UnpackSink() override
    {
        if (m_fd >= 0)
            ::close(m_fd);
        if (!m_partial.isEmpty() && !m_committed)
            QDir(m_partial).removeRecursively();
    }

    PayloadStatus prepare()
    {
        const QByteArray target = QFile::encodeName(m_target);
        struct stat st{};
        if (::lstat(target.constData(), &st) == 0) {
            return PayloadStatus::failure(PayloadError::IoError, m_target,
                                          u"already exists; unpack into a new directory"_qs);
        }
        QByteArray templ = target + ".partial-XXXXXX";
        if (!::mkdtemp(templ.data()))
            return ioFailure(errno, m_target, u"cannot create the partial directory next to it"_qs);
        m_partial = QFile::decodeName(templ);
        return {};
    }

    PayloadStatus manifest(const QByteArray &manifestBytes, const QByteArray &signatureBytes) override
    {
        PayloadStatus s = writeWhole(kManifestName, manifestBytes);
        return s.ok() ? writeWhole(kSignatureName, signatureBytes) : s;
    }

    PayloadStatus beginFile(const ManifestFile &file) override
    {
        m_entry = kPayloadDir + u'/' + file.path;
        const qsizetype slash = m_entry.lastIndexOf(u'/');
        // Paths were validated (relative, normalised) and only this code writes here, so mkpath
        // cannot be led outside the partial directory.
        if (!QDir(m_partial).mkpath(m_entry.left(slash)))
            return ioFailure(errno, m_entry, u"cannot create its directory"_qs);
        return open(m_entry, file.executable ? 0755 : 0644);
    }

    PayloadStatus write(const char *data, qsizetype size) override
    {
        while (size > 0) {
            const ssize_t n = ::write(m_fd, data, size_t(size));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return ioFailure(n < 0 ? errno : ENOSPC, m_entry, u"cannot write"_qs);
            data += n;
            size -= n;
        }
        return {};
    }

    PayloadStatus endFile() override
    {
        const int fd = m_fd;
        m_fd = -1;
        if (::close(fd) != 0)
            return ioFailure(errno, m_entry, u"cannot close"_qs);
        return {};
    }

    PayloadStatus commit()
    {
        const QByteArray partial = QFile::encodeName(m_partial);
        const QByteArray target = QFile::encodeName(m_target);
        // mkdtemp made it 0700; a slot is read by the box's user, which may not be ours.
        ::chmod(partial.constData(), 0755);
        // Everything on disk before the rename, so that after a power cut the slot is complete or
        // absent. One syncfs instead of an fsync per file (2000 files: seconds on flash); since
        // Linux 5.8 it also reports write-back errors such as a disk that filled up late.
        const int dirFd = ::open(partial.constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirFd < 0)
            return ioFailure(errno, m_target, u"cannot open the partial directory"_qs);
        const int synced = ::syncfs(dirFd);
        const int syncError = errno;
        ::close(dirFd);
        if (synced != 0)
            return ioFailure(syncError, m_target, u"cannot write the unpacked files to disk"_qs);
        int r = ::renameat2(AT_FDCWD, partial.constData(), AT_FDCWD, target.constData(), RENAME_NOREPLACE);
        if (r != 0 && (errno == EINVAL || errno == ENOSYS)) {
            // A file system without RENAME_NOREPLACE: the target was checked absent in prepare().
            r = ::rename(partial.constData(), target.constData());
        }
        if (r != 0)
            return ioFailure(errno, m_target, u"cannot rename the verified partial directory into place"_qs);
        m_committed = true;
        syncDirectory(QFile::encodeName(QFileInfo(m_target).absolutePath()));
        return {};
    }

private:
    static void syncDirectory(const QByteArray &path)
    {
        const int fd = ::open(path.constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            ::fsync(fd);
            ::close(fd);
        }
    }

    PayloadStatus open(const QString &relative, mode_t mode)
    {
        const QByteArray path = QFile::encodeName(m_partial + u'/' + relative);
        m_fd = ::open(path.constData(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (m_fd < 0)
            return ioFailure(errno, relative, u"cannot create"_qs);
        ::fchmod(m_fd, mode); // the umask must not take the executable bit away
        return {};
    }

    PayloadStatus writeWhole(const QString &relative, const QByteArray &bytes)
    {
        m_entry = relative;
        PayloadStatus s = open(relative, 0644);
        if (s.ok())
            s = write(bytes.constData(), bytes.size());
        if (s.ok())
            s = endFile();
        return s;
    }

    QString m_target;
    QString m_partial;
    QString m_entry;
    int m_fd = -1;
    bool m_committed = false;
};

BundleResult openFailure(const QString &path, const QFile &file)
{
    BundleResult result;
    result.status = PayloadStatus::failure(PayloadError::IoError, path, u"cannot open: "_qs + file.errorString());
    return result;
}

BundleResult logged(const QString &what, const QString &name, BundleResult result)
{
    if (!result.ok())
        qCWarning(lcPayload).noquote() << what << name << u"refused:"_qs << result.status.toString();
    return result;
}

// --- writing ------------------------------------------------------------------------------------

/// libarchive writes tar into this; it compresses with zstd (checksummed frames) into a file.
class ZstdFileWriter
{
public:
    ZstdFileWriter(QFileDevice *out, int level) : m_out(out), m_buffer(ZSTD_CStreamOutSize())
    {
        m_cctx.reset(ZSTD_createCCtx());
        ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_compressionLevel, qBound(1, level, 19));
        ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_checksumFlag, 1);
        ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_windowLog, 0);
        // Multi-threaded compression when libzstd has it; the output does not depend on the count.
        ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_nbWorkers, 2);
    }

    static la_ssize_t writeCallback(archive *, void *client, const void *data, size_t size)
    {
        auto *self = static_cast<ZstdFileWriter *>(client);
        return self->compress(data, size, ZSTD_e_continue) ? la_ssize_t(size) : -1;
    }

    bool finish() { return compress(nullptr, 0, ZSTD_e_end); }
    const PayloadStatus &status() const { return m_status; }
    qint64 written() const { return m_written; }

private:
    bool compress(const void *data, size_t size, ZSTD_EndDirective mode)
    {
        ZSTD_inBuffer in{data, size, 0};
        for (;;) {
            ZSTD_outBuffer out{m_buffer.data(), m_buffer.size(), 0};
            const size_t remaining = ZSTD_compressStream2(m_cctx.get(), &out, &in, mode);
            if (ZSTD_isError(remaining)) {
                m_status = PayloadStatus::failure(PayloadError::IoError, m_out->fileName(),
                                                  u"zstd: "_qs + QString::fromLatin1(ZSTD_getErrorName(remaining)));
                return false;
            }
            if (out.pos > 0) {
                if (m_out->write(m_buffer.data(), qint64(out.pos)) != qint64(out.pos)) {
                    m_status = PayloadStatus::failure(PayloadError::IoError, m_out->fileName(),
                                                      u"cannot write: "_qs + m_out->errorString());
                    return false;
                }
                m_written += qint64(out.pos);
            }
            const bool done = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
            if (done)
                return true;
        }
    }

    QFileDevice *m_out;
    std::unique_ptr<ZSTD_CCtx, CCtxDeleter> m_cctx;
    std::vector<char> m_buffer;
    PayloadStatus m_status;
    qint64 m_written = 0;
};

struct SourceFile
{
    QString absolutePath;
    ManifestFile file;
};

PayloadStatus hashFile(const QString &path, const QString &name, qint64 expectedSize, QByteArray *digest,
                       const std::function<void(qint64)> &advance)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return PayloadStatus::failure(PayloadError::IoError, name, u"cannot open: "_qs + f.errorString());
    Sha256 hash;
    QByteArray buffer(kChunk, Qt::Uninitialized);
    qint64 size = 0;
    for (;;) {
        const qint64 n = f.read(buffer.data(), buffer.size());
        if (n < 0)
            return PayloadStatus::failure(PayloadError::IoError, name, u"cannot read: "_qs + f.errorString());
        if (n == 0)
            break;
        hash.add(buffer.constData(), n);
        size += n;
        advance(n);
    }
    if (size != expectedSize)
        return PayloadStatus::failure(PayloadError::SizeMismatch, name, u"changed while the bundle was built"_qs);
    *digest = hash.result();
    return {};
}

/// The regular files under `root`, sorted by path as the manifest wants them.
PayloadStatus collectFiles(const QString &root, QList<SourceFile> *files)
{
    // Absolute paths, so relativeFilePath() works for a relative `root` too.
    const QString absoluteRoot = QFileInfo(root).absoluteFilePath();
    const QDir base(absoluteRoot);
    QDirIterator it(absoluteRoot, QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot,
                    QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        const QFileInfo info(path);
        const QString relative = base.relativeFilePath(path);
        if (info.isSymLink()) {
            return PayloadStatus::failure(PayloadError::UnsupportedEntry, relative,
                                          u"symbolic links cannot go into a bundle; copy the file instead"_qs);
        }
        if (info.isDir())
            continue;
        if (!info.isFile()) {
            return PayloadStatus::failure(PayloadError::UnsupportedEntry, relative,
                                          u"not a regular file (device, fifo or socket)"_qs);
        }
        PayloadError code = PayloadError::None;
        const QString problem = payloadPathProblem(relative, &code);
        if (!problem.isEmpty())
            return PayloadStatus::failure(code, relative, problem);
        SourceFile source;
        source.absolutePath = info.absoluteFilePath();
        source.file.path = relative;
        source.file.size = info.size();
        source.file.executable = info.permissions().testFlag(QFileDevice::ExeOwner);
        files->append(std::move(source));
    }
    std::sort(files->begin(), files->end(),
              [](const SourceFile &a, const SourceFile &b) { return a.file.path < b.file.path; });
    return {};
}

PayloadStatus writeEntry(archive *a, const QString &name, qint64 size, int mode, qint64 mtime)
{
    std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
    const QByteArray utf8 = name.toUtf8();
    archive_entry_set_pathname_utf8(entry.get(), utf8.constData());
    archive_entry_set_size(entry.get(), size);
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), mode_t(mode));
    archive_entry_set_mtime(entry.get(), time_t(mtime), 0);
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    if (archive_write_header(a, entry.get()) != ARCHIVE_OK) {
        return PayloadStatus::failure(PayloadError::IoError, name,
                                      u"cannot write the tar header: "_qs + QString::fromUtf8(archive_error_string(a)));
    }
    return {};
}

PayloadStatus writeData(archive *a, const QString &name, const char *data, qsizetype size)
{
    if (size > 0 && archive_write_data(a, data, size_t(size)) != la_ssize_t(size)) {
        const char *message = archive_error_string(a);
        return PayloadStatus::failure(PayloadError::IoError, name,
                                      u"cannot write: "_qs + (message ? QString::fromUtf8(message) : u"write error"_qs));
    }
    return {};
}

} // namespace

QString signatureStateName(SignatureState state)
{
    switch (state) {
    case SignatureState::NotChecked: return u"not checked"_qs;
    case SignatureState::Valid: return u"valid"_qs;
    case SignatureState::Invalid: return u"INVALID"_qs;
    case SignatureState::UnknownKey: return u"unknown key"_qs;
    case SignatureState::Missing: return u"missing"_qs;
    }
    return {};
}

BundleResult inspectBundle(QIODevice *device, const QList<PublicKey> &trustedKeys, const Limits &limits)
{
    BundleReader reader(device, limits, {});
    return reader.run(trustedKeys, BundleReader::Mode::Inspect, nullptr);
}

BundleResult inspectBundle(const QString &path, const QList<PublicKey> &trustedKeys, const Limits &limits)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return openFailure(path, file);
    return inspectBundle(&file, trustedKeys, limits);
}

BundleResult verifyBundle(QIODevice *device, const QList<PublicKey> &trustedKeys, const Limits &limits,
                          const ProgressFunction &progress)
{
    BundleReader reader(device, limits, progress);
    return logged(u"bundle"_qs, u"(stream)"_qs, reader.run(trustedKeys, BundleReader::Mode::Verify, nullptr));
}

BundleResult verifyBundle(const QString &path, const QList<PublicKey> &trustedKeys, const Limits &limits,
                          const ProgressFunction &progress)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return logged(u"bundle"_qs, path, openFailure(path, file));
    BundleReader reader(&file, limits, progress);
    return logged(u"bundle"_qs, path, reader.run(trustedKeys, BundleReader::Mode::Verify, nullptr));
}

BundleResult verifyBundleData(const QByteArray &bundle, const QList<PublicKey> &trustedKeys, const Limits &limits)
{
    QBuffer buffer;
    buffer.setData(bundle);
    buffer.open(QIODevice::ReadOnly);
    BundleReader reader(&buffer, limits, {});
    return logged(u"bundle"_qs, u"(%1 bytes in memory)"_qs.arg(bundle.size()),
                  reader.run(trustedKeys, BundleReader::Mode::Verify, nullptr));
}

BundleResult unpackBundle(const QString &path, const QList<PublicKey> &trustedKeys, const QString &targetDir,
                          const Limits &limits, const ProgressFunction &progress)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return logged(u"bundle"_qs, path, openFailure(path, file));
    UnpackSink sink(QFileInfo(targetDir).absoluteFilePath());
    BundleResult result;
    result.status = sink.prepare();
    if (!result.ok())
        return logged(u"unpack of"_qs, path, result);
    BundleReader reader(&file, limits, progress);
    result = reader.run(trustedKeys, BundleReader::Mode::Verify, &sink);
    if (result.ok())
        result.status = sink.commit();
    if (result.ok()) {
        qCInfo(lcPayload).noquote() << u"unpacked"_qs << path << u"version"_qs << result.manifest.version
                                    << u"into"_qs << targetDir;
    }
    return logged(u"unpack of"_qs, path, result);
}

BundleResult buildBundle(const QString &sourceDir, const BundleMeta &meta, const SigningKey &key,
                         const QString &outPath, const Limits &limits, const ProgressFunction &progress)
{
    BundleResult result;
    const auto fail = [&result](PayloadStatus s) {
        result.status = std::move(s);
        return result;
    };
    if (!ensureSodium())
        return fail(PayloadStatus::failure(PayloadError::IoError, {}, u"libsodium cannot initialise"_qs));
    if (key.isNull())
        return fail(PayloadStatus::failure(PayloadError::BadKey, {}, u"no signing key"_qs));
    if (!isValidVersion(meta.version))
        return fail(PayloadStatus::failure(PayloadError::BadInput, {}, u"'%1' is not a version (e.g. 1.4.0)"_qs.arg(meta.version)));
    if (!isValidVersion(meta.minBoxVersion)) {
        return fail(PayloadStatus::failure(PayloadError::BadInput, {},
                                           u"minimum box version '%1' is not a version (e.g. 1.0.0)"_qs.arg(meta.minBoxVersion)));
    }
    if (!QFileInfo(sourceDir).isDir())
        return fail(PayloadStatus::failure(PayloadError::BadInput, sourceDir, u"not a directory"_qs));

    QList<SourceFile> sources;
    PayloadStatus s = collectFiles(sourceDir, &sources);
    if (!s.ok())
        return fail(s);

    Manifest manifest;
    manifest.version = meta.version;
    manifest.channel = meta.channel;
    manifest.minBoxVersion = meta.minBoxVersion;
    manifest.notes = meta.notes;
    QDateTime created = meta.created.isValid() ? meta.created : QDateTime::currentDateTimeUtc();
    manifest.created = QDateTime::fromSecsSinceEpoch(created.toSecsSinceEpoch(), QTimeZone::utc()).toUTC();
    manifest.keyId = key.keyId();
    for (const SourceFile &source : std::as_const(sources))
        manifest.totalSize += source.file.size;
    if (sources.size() > limits.maxFiles) {
        return fail(PayloadStatus::failure(PayloadError::TooLarge, sourceDir,
                                           u"%1 files, more than the limit of %2"_qs.arg(sources.size()).arg(limits.maxFiles)));
    }
    if (manifest.totalSize > limits.maxTotalSize) {
        return fail(PayloadStatus::failure(PayloadError::TooLarge, sourceDir,
                                           u"%1 bytes, more than the limit of %2"_qs.arg(manifest.totalSize).arg(limits.maxTotalSize)));
    }

    // Pass 1: hashes for the manifest, which has to be signed before the first file is written.
    qint64 done = 0;
    const auto advance = [&](const QString &phase) {
        return [&done, &progress, &manifest, phase](qint64 n) {
            done += n;
            if (progress)
                progress(phase, done, manifest.totalSize);
        };
    };
    for (SourceFile &source : sources) {
        if (source.file.size > limits.maxFileSize) {
            return fail(PayloadStatus::failure(PayloadError::TooLarge, source.file.path,
                                               u"%1 bytes, more than the limit of %2 for one file"_qs.arg(source.file.size).arg(
                                                   limits.maxFileSize)));
        }
        s = hashFile(source.absolutePath, source.file.path, source.file.size, &source.file.sha256, advance(u"hashing"_qs));
        if (!s.ok())
            return fail(s);
        manifest.files.append(source.file);
    }
    result.manifestBytes = manifest.toJson();
    if (result.manifestBytes.size() > limits.maxManifestSize) {
        return fail(PayloadStatus::failure(PayloadError::TooLarge, kManifestName,
                                           u"%1 bytes, more than the limit of %2"_qs.arg(result.manifestBytes.size()).arg(
                                               limits.maxManifestSize)));
    }
    const QByteArray signatureText =
        kSignaturePrefix + key.keyId().toLatin1() + ':' + key.sign(result.manifestBytes).toBase64() + '\n';

    // Pass 2: the archive, into a temporary file next to the output.
    const QFileInfo outInfo(outPath);
    QTemporaryFile out(outInfo.absoluteFilePath() + u".partial-XXXXXX"_qs);
    if (!out.open())
        return fail(PayloadStatus::failure(PayloadError::IoError, outPath, u"cannot create: "_qs + out.errorString()));
    {
        ZstdFileWriter zstd(&out, meta.compressionLevel);
        std::unique_ptr<archive, ArchiveWriteDeleter> a(archive_write_new());
        archive_write_set_format_pax_restricted(a.get());
        // Names are written as UTF-8 whatever the process's locale.
        archive_write_set_options(a.get(), "hdrcharset=UTF-8");
        if (archive_write_open(a.get(), &zstd, nullptr, &ZstdFileWriter::writeCallback, nullptr) != ARCHIVE_OK) {
            return fail(PayloadStatus::failure(PayloadError::IoError, outPath,
                                               QString::fromUtf8(archive_error_string(a.get()))));
        }
        const qint64 mtime = manifest.created.toSecsSinceEpoch();
        const auto failWrite = [&](PayloadStatus st) { return fail(zstd.status().ok() ? st : zstd.status()); };
        for (const auto &[name, bytes] : {std::pair{kManifestName, result.manifestBytes}, std::pair{kSignatureName, signatureText}}) {
            s = writeEntry(a.get(), name, bytes.size(), 0644, mtime);
            if (s.ok())
                s = writeData(a.get(), name, bytes.constData(), bytes.size());
            if (!s.ok())
                return failWrite(s);
        }
        done = 0;
        QByteArray buffer(kChunk, Qt::Uninitialized);
        const auto writing = advance(u"writing"_qs);
        for (const SourceFile &source : std::as_const(sources)) {
            const QString name = kPayloadDir + u'/' + source.file.path;
            s = writeEntry(a.get(), name, source.file.size, source.file.executable ? 0755 : 0644, mtime);
            if (!s.ok())
                return failWrite(s);
            QFile in(source.absolutePath);
            if (!in.open(QIODevice::ReadOnly))
                return fail(PayloadStatus::failure(PayloadError::IoError, source.file.path, u"cannot open: "_qs + in.errorString()));
            Sha256 hash;
            qint64 left = source.file.size;
            while (left > 0) {
                const qint64 n = in.read(buffer.data(), qMin<qint64>(left, buffer.size()));
                if (n <= 0) {
                    return fail(PayloadStatus::failure(PayloadError::SizeMismatch, source.file.path,
                                                       u"changed while the bundle was built (shorter)"_qs));
                }
                hash.add(buffer.constData(), n);
                s = writeData(a.get(), name, buffer.constData(), n);
                if (!s.ok())
                    return failWrite(s);
                left -= n;
                writing(n);
            }
            if (hash.result() != source.file.sha256 || !in.atEnd()) {
                return fail(PayloadStatus::failure(PayloadError::HashMismatch, source.file.path,
                                                   u"changed while the bundle was built"_qs));
            }
        }
        if (archive_write_close(a.get()) != ARCHIVE_OK || !zstd.finish()) {
            return failWrite(PayloadStatus::failure(PayloadError::IoError, outPath,
                                                    QString::fromUtf8(archive_error_string(a.get()))));
        }
        result.bundleSize = zstd.written();
    }
    // QTemporaryFile creates 0600; a bundle is published, not secret.
    ::fchmod(out.handle(), 0644);
    if (!out.flush() || ::fsync(out.handle()) != 0)
        return fail(ioFailure(errno, outPath, u"cannot write"_qs));
    out.close();

    // Check it as a box will, so a bundle every box would refuse is never published.
    if (progress)
        progress(u"verifying"_qs, 0, result.bundleSize);
    QFile written(out.fileName());
    if (!written.open(QIODevice::ReadOnly))
        return fail(PayloadStatus::failure(PayloadError::IoError, outPath, u"cannot reopen: "_qs + written.errorString()));
    BundleReader reader(&written, limits, progress);
    const BundleResult check = reader.run({key.publicKey()}, BundleReader::Mode::Verify, nullptr);
    if (!check.ok()) {
        PayloadStatus st = check.status;
        st.message = u"the built bundle would be refused: "_qs + st.message;
        return fail(st);
    }
    if (::rename(QFile::encodeName(out.fileName()).constData(), QFile::encodeName(outPath).constData()) != 0)
        return fail(ioFailure(errno, outPath, u"cannot rename into place"_qs));
    out.setAutoRemove(false);
    result.hasManifest = true;
    result.manifest = std::move(manifest);
    result.signature = SignatureState::Valid;
    result.signatureKeyId = key.keyId();
    qCInfo(lcPayload).noquote() << u"built"_qs << outPath << u"version"_qs << result.manifest.version
                                << u"files"_qs << result.manifest.files.size() << u"bytes"_qs << result.bundleSize;
    return result;
}

PayloadStatus checkUpgrade(const Manifest &manifest, const QString &boxVersion, const QString &installedVersion)
{
    if (compareVersions(boxVersion, manifest.minBoxVersion) < 0) {
        return PayloadStatus::failure(PayloadError::BoxTooOld, manifest.version,
                                      u"needs box version %1 or later, this box is %2"_qs.arg(manifest.minBoxVersion, boxVersion));
    }
    if (!installedVersion.isEmpty() && compareVersions(manifest.version, installedVersion) <= 0) {
        return PayloadStatus::failure(PayloadError::NotNewer, manifest.version,
                                      u"not newer than the installed %1; versions only go up"_qs.arg(installedVersion));
    }
    return {};
}

} // namespace iptv::payload
