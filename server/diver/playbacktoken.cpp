#include "playbacktoken.h"

#include <core/secrets.h>

#include <QCryptographicHash>
#include <QList>
#include <QMessageAuthenticationCode>

namespace iptv::diver {

namespace {
constexpr QByteArrayView kPrefix = "pt1";
constexpr auto kBase64 = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;

std::optional<QString> fromBase64(QByteArrayView text)
{
    const auto decoded = QByteArray::fromBase64Encoding(text.toByteArray(), kBase64 | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return std::nullopt;
    return QString::fromUtf8(*decoded);
}
} // namespace

QByteArray PlaybackTokens::signatureOf(QByteArrayView signedPart) const
{
    return QMessageAuthenticationCode::hash(signedPart.toByteArray(), m_secret, QCryptographicHash::Sha256).toBase64(kBase64);
}

QByteArray PlaybackTokens::issue(const PlaybackGrant &grant) const
{
    Q_ASSERT(hasSecret());
    const QByteArray signedPart = kPrefix.toByteArray() + '.' + grant.owner.toUtf8().toBase64(kBase64) + '.'
        + grant.resource.toUtf8().toBase64(kBase64) + '.' + QByteArray::number(grant.expires);
    return signedPart + '.' + signatureOf(signedPart);
}

std::optional<PlaybackGrant> PlaybackTokens::verify(QByteArrayView token, qint64 now, QString *error) const
{
    const auto refuse = [error](const QString &why) {
        *error = QStringLiteral("playback token: %1").arg(why);
        return std::nullopt;
    };
    if (!hasSecret())
        return refuse(u"diver has no playback secret"_qs);
    const QList<QByteArray> parts = token.toByteArray().split('.');
    if (parts.size() != 5 || parts.at(0) != kPrefix)
        return refuse(u"not one (pt1.<owner>.<resource>.<expires>.<signature>)"_qs);
    const QByteArray signedPart = token.first(token.size() - parts.at(4).size() - 1).toByteArray();
    // Compared in constant time: no timing tells how much of a forgery was right.
    if (!constantTimeEqual(signatureOf(signedPart), parts.at(4)))
        return refuse(u"its signature does not verify (forged, or signed with another cluster's secret)"_qs);
    PlaybackGrant grant;
    bool ok = false;
    grant.expires = parts.at(3).toLongLong(&ok);
    const std::optional<QString> owner = fromBase64(parts.at(1));
    const std::optional<QString> resource = fromBase64(parts.at(2));
    if (!ok || !owner || !resource || owner->isEmpty() || resource->isEmpty())
        return refuse(u"malformed"_qs);
    if (grant.expires <= now)
        return refuse(QStringLiteral("expired %1 s ago (the box asks for a fresh playback URL)").arg(now - grant.expires));
    grant.owner = *owner;
    grant.resource = *resource;
    return grant;
}

std::optional<std::pair<QString, qint64>> PlaybackTokens::parseArchiveResource(const QString &resource)
{
    // (The channel's id between the two: it may hold a slash.)
    const qsizetype last = resource.lastIndexOf(u'/');
    if (!resource.startsWith(u"archive/") || last <= 8)
        return std::nullopt;
    bool ok = false;
    const qint64 from = QStringView(resource).mid(last + 1).toLongLong(&ok);
    if (!ok)
        return std::nullopt;
    return std::make_pair(resource.mid(8, last - 8), from);
}

} // namespace iptv::diver
