#include "guideformat_p.h"

#include <QCryptographicHash>
#include <QString>
#include <QThread>

#include <zlib.h>
#include <zstd.h>

#include <memory>

namespace iptv::epg::format {

namespace {
constexpr int kCrcOffset = 124;

struct CCtxDeleter { void operator()(ZSTD_CCtx *c) const { ZSTD_freeCCtx(c); } };
struct DCtxDeleter { void operator()(ZSTD_DCtx *c) const { ZSTD_freeDCtx(c); } };

QString zstdError(size_t code)
{
    return QString::fromLatin1(ZSTD_getErrorName(code));
}
} // namespace

QByteArray encodeHeader(const Header &h)
{
    QByteArray out;
    out.reserve(kHeaderSize);
    out.append(kMagic, sizeof kMagic);
    putRaw<quint16>(out, h.version);
    putRaw<quint16>(out, h.headerSize);
    putRaw<quint32>(out, h.flags);
    putRaw<qint64>(out, h.validFrom);
    putRaw<qint64>(out, h.validUntil);
    putRaw<qint64>(out, h.createdAt);
    putRaw<quint32>(out, h.channelCount);
    putRaw<quint32>(out, h.airingCount);
    putRaw<quint32>(out, h.programmeCount);
    putRaw<quint32>(out, h.stringCount);
    putRaw<quint64>(out, h.bodySize);
    putRaw<quint64>(out, h.storedSize);
    out.append(reinterpret_cast<const char *>(h.bodyHash), sizeof h.bodyHash);
    putRaw<quint32>(out, h.generatorString);
    putRaw<quint32>(out, h.reserved);
    Q_ASSERT(out.size() <= kCrcOffset);
    out.append(QByteArray(kCrcOffset - out.size(), '\0'));
    const quint32 crc = quint32(crc32(0, reinterpret_cast<const Bytef *>(out.constData()), kCrcOffset));
    putRaw<quint32>(out, crc);
    return out;
}

bool decodeHeaderFields(QByteArrayView bytes, Header *h, QString *reason, const GuideLimits &limits)
{
    if (bytes.size() < qsizetype(kHeaderSize)) {
        *reason = QStringLiteral("file is %1 bytes, shorter than the %2-byte header").arg(bytes.size()).arg(kHeaderSize);
        return false;
    }
    const char *p = bytes.data();
    if (std::memcmp(p, kMagic, sizeof kMagic) != 0) {
        *reason = QStringLiteral("not a guide file (bad magic)");
        return false;
    }
    const quint32 crc = quint32(crc32(0, reinterpret_cast<const Bytef *>(p), kCrcOffset));
    if (crc != getRaw<quint32>(p + kCrcOffset)) {
        *reason = QStringLiteral("header checksum mismatch (file corrupted)");
        return false;
    }
    h->version = getRaw<quint16>(p + 8);
    h->headerSize = getRaw<quint16>(p + 10);
    h->flags = getRaw<quint32>(p + 12);
    h->validFrom = getRaw<qint64>(p + 16);
    h->validUntil = getRaw<qint64>(p + 24);
    h->createdAt = getRaw<qint64>(p + 32);
    h->channelCount = getRaw<quint32>(p + 40);
    h->airingCount = getRaw<quint32>(p + 44);
    h->programmeCount = getRaw<quint32>(p + 48);
    h->stringCount = getRaw<quint32>(p + 52);
    h->bodySize = getRaw<quint64>(p + 56);
    h->storedSize = getRaw<quint64>(p + 64);
    std::memcpy(h->bodyHash, p + 72, 32);
    h->generatorString = getRaw<quint32>(p + 104);
    h->reserved = getRaw<quint32>(p + 108);
    if (h->version != kVersion) {
        *reason = QStringLiteral("format version %1 is not supported (this reader knows %2)").arg(h->version).arg(kVersion);
        return false;
    }
    if (h->headerSize != kHeaderSize) {
        *reason = QStringLiteral("unexpected header size %1").arg(h->headerSize);
        return false;
    }
    // Larger claims than a guide ever needs are corruption or an attack on the reader's memory:
    // refused before anything is sized by them.
    if (h->bodySize > limits.maxBodyBytes) {
        *reason = QStringLiteral("body size %1 exceeds the limit of %2 bytes").arg(h->bodySize).arg(limits.maxBodyBytes);
        return false;
    }
    if (h->storedSize > limits.maxFileBytes) {
        *reason = QStringLiteral("stored size %1 exceeds the limit of %2 bytes").arg(h->storedSize).arg(limits.maxFileBytes);
        return false;
    }
    if (h->validUntil <= h->validFrom) {
        *reason = QStringLiteral("empty validity window");
        return false;
    }
    return true;
}

bool decodeHeader(QByteArrayView bytes, Header *h, QString *reason, const GuideLimits &limits)
{
    if (!decodeHeaderFields(bytes, h, reason, limits))
        return false;
    if (quint64(bytes.size()) != kHeaderSize + h->storedSize) {
        *reason = QStringLiteral("file is %1 bytes but the header says %2 (truncated or padded)")
                      .arg(bytes.size())
                      .arg(kHeaderSize + h->storedSize);
        return false;
    }
    return true;
}

/// Whether `stored` is a zstd frame that may hold expectedSize bytes: checked before anything is
/// sized by the header's claim.
bool frameMatches(QByteArrayView stored, quint64 expectedSize, QString *reason)
{
    const unsigned long long frameSize = ZSTD_getFrameContentSize(stored.data(), size_t(stored.size()));
    if (frameSize == ZSTD_CONTENTSIZE_ERROR) {
        *reason = QStringLiteral("body is not a zstd frame");
        return false;
    }
    if (frameSize != ZSTD_CONTENTSIZE_UNKNOWN && frameSize != expectedSize) {
        *reason = QStringLiteral("body frame holds %1 bytes, header says %2").arg(frameSize).arg(expectedSize);
        return false;
    }
    return true;
}

bool decompressBodyInto(QByteArrayView stored, char *out, quint64 expectedSize, QString *reason, QByteArrayView prefix)
{
    std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx(ZSTD_createDCtx());
    ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 31);
    if (!prefix.isEmpty()) {
        const size_t rc = ZSTD_DCtx_refPrefix(dctx.get(), prefix.data(), size_t(prefix.size()));
        if (ZSTD_isError(rc)) {
            *reason = QStringLiteral("zstd prefix: ") + zstdError(rc);
            return false;
        }
    }
    if (!frameMatches(stored, expectedSize, reason))
        return false;
    const size_t rc = ZSTD_decompressDCtx(dctx.get(), out, size_t(expectedSize), stored.data(), size_t(stored.size()));
    if (ZSTD_isError(rc)) {
        *reason = QStringLiteral("body does not decompress: ") + zstdError(rc);
        return false;
    }
    if (rc != expectedSize) {
        *reason = QStringLiteral("body decompressed to %1 bytes, header says %2").arg(rc).arg(expectedSize);
        return false;
    }
    return true;
}

QByteArray decompressBody(QByteArrayView stored, quint64 expectedSize, QString *reason, QByteArrayView prefix)
{
    if (!frameMatches(stored, expectedSize, reason))
        return {};
    QByteArray body(qsizetype(expectedSize), Qt::Uninitialized);
    if (!decompressBodyInto(stored, body.data(), expectedSize, reason, prefix))
        return {};
    return body;
}

QByteArray compressBody(QByteArrayView body, int level, int threads, QString *reason, QByteArrayView prefix)
{
    std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 1);
    if (threads <= 0)
        threads = QThread::idealThreadCount();
    if (threads > 1)
        ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_nbWorkers, threads);
    if (!prefix.isEmpty()) {
        // patch-from: the window must cover the reference so matches into it are found.
        int windowLog = 10;
        while ((quint64(1) << windowLog) < quint64(prefix.size() + body.size()) && windowLog < 30)
            ++windowLog;
        ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, windowLog);
        ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_enableLongDistanceMatching, 1);
        const size_t rc = ZSTD_CCtx_refPrefix(cctx.get(), prefix.data(), size_t(prefix.size()));
        if (ZSTD_isError(rc)) {
            *reason = QStringLiteral("zstd prefix: ") + zstdError(rc);
            return {};
        }
    }
    QByteArray out(qsizetype(ZSTD_compressBound(size_t(body.size()))), Qt::Uninitialized);
    const size_t rc = ZSTD_compress2(cctx.get(), out.data(), size_t(out.size()), body.data(), size_t(body.size()));
    if (ZSTD_isError(rc)) {
        *reason = QStringLiteral("zstd: ") + zstdError(rc);
        return {};
    }
    out.resize(qsizetype(rc));
    return out;
}

QByteArray bodyHash(QByteArrayView body)
{
    return QCryptographicHash::hash(body, QCryptographicHash::Blake2b_256);
}

} // namespace iptv::epg::format
