#include "guidedelta.h"

#include "guideformat_p.h"

#include <cstring>

namespace iptv::epg::GuideDelta {

using namespace format;

namespace {
constexpr char kDeltaMagic[8] = {'I', 'P', 'T', 'V', 'G', 'D', 'L', 'T'};

bool setError(QString *error, const QString &message)
{
    if (error)
        *error = message;
    return false;
}

QByteArray bodyOf(const QByteArray &file, Header *h, QString *error, const char *which, const GuideLimits &limits = {})
{
    QString reason;
    if (!decodeHeader(file, h, &reason, limits)) {
        setError(error, QStringLiteral("%1 guide: %2").arg(QLatin1String(which), reason));
        return {};
    }
    QByteArray body = decompressBody(QByteArrayView(file).sliced(kHeaderSize), h->bodySize, &reason);
    if (body.isEmpty())
        setError(error, QStringLiteral("%1 guide: %2").arg(QLatin1String(which), reason));
    return body;
}
} // namespace

// Delta layout: magic (8), base body hash (32), new header (128), zstd frame of the new body
// compressed with the base body as prefix.
QByteArray make(const QByteArray &fromGuideFile, const QByteArray &toGuideFile, QString *error)
{
    Header fromHeader, toHeader;
    const QByteArray fromBody = bodyOf(fromGuideFile, &fromHeader, error, "base");
    if (fromBody.isEmpty())
        return {};
    const QByteArray toBody = bodyOf(toGuideFile, &toHeader, error, "new");
    if (toBody.isEmpty())
        return {};
    QString reason;
    // Level 12 with long-distance matching: most of a new version is an old one moved around,
    // which the match finder sees at any level; the strong levels cost ten times the CPU for
    // a few percent, and the server makes a delta from every kept version after each compile.
    const QByteArray frame = compressBody(toBody, 12, 0, &reason, fromBody);
    if (frame.isEmpty()) {
        setError(error, reason);
        return {};
    }
    QByteArray out;
    out.append(kDeltaMagic, sizeof kDeltaMagic);
    out.append(reinterpret_cast<const char *>(fromHeader.bodyHash), 32);
    out.append(toGuideFile.left(kHeaderSize));
    out.append(frame);
    return out;
}

QByteArray apply(const QByteArray &fromGuideFile, const QByteArray &delta, QString *error, const GuideLimits &limits)
{
    constexpr qsizetype prefixSize = sizeof kDeltaMagic + 32 + kHeaderSize;
    if (delta.size() < prefixSize || std::memcmp(delta.constData(), kDeltaMagic, sizeof kDeltaMagic) != 0) {
        setError(error, QStringLiteral("not a guide delta"));
        return {};
    }
    if (quint64(delta.size() - prefixSize) > limits.maxFileBytes) {
        setError(error, QStringLiteral("the delta's %1 bytes exceed the limit of %2").arg(delta.size()).arg(limits.maxFileBytes));
        return {};
    }
    // The new header is untrusted bytes: its CRC and its sizes against the limits are checked
    // before anything is sized by them (its storedSize is not the delta's: the body is re-wrapped).
    Header toHeader;
    QString reason;
    if (!decodeHeaderFields(QByteArrayView(delta).sliced(sizeof kDeltaMagic + 32, kHeaderSize), &toHeader, &reason, limits)) {
        setError(error, QStringLiteral("delta header: ") + reason);
        return {};
    }
    Header fromHeader;
    const QByteArray fromBody = bodyOf(fromGuideFile, &fromHeader, error, "base", limits);
    if (fromBody.isEmpty())
        return {};
    if (std::memcmp(fromHeader.bodyHash, delta.constData() + sizeof kDeltaMagic, 32) != 0) {
        setError(error, QStringLiteral("the delta was made against another guide version"));
        return {};
    }
    const QByteArray body = decompressBody(QByteArrayView(delta).sliced(prefixSize), toHeader.bodySize, &reason, fromBody);
    if (body.isEmpty()) {
        setError(error, QStringLiteral("delta body: ") + reason);
        return {};
    }
    if (bodyHash(body) != QByteArray(reinterpret_cast<const char *>(toHeader.bodyHash), 32)) {
        setError(error, QStringLiteral("delta produced a body whose checksum does not match"));
        return {};
    }
    // Re-wrap the body as a file: a fast level, since the box does this and identity is the body hash.
    const QByteArray stored = compressBody(body, 3, 1, &reason);
    if (stored.isEmpty()) {
        setError(error, reason);
        return {};
    }
    toHeader.storedSize = quint64(stored.size());
    return encodeHeader(toHeader) + stored;
}

} // namespace iptv::epg::GuideDelta
