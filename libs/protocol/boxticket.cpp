#include "boxticket.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace iptv::protocol {

using namespace Qt::StringLiterals;

namespace {

constexpr QByteArrayView kContext("iptv-box-ticket:");
constexpr qsizetype kMaxTicketBytes = 2048;
constexpr auto kBase64Url = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;

QByteArray signedText(QByteArrayView claims)
{
    return kContext.toByteArray() + claims.toByteArray();
}

} // namespace

const QStringList &BoxTicket::knownAudiences()
{
    static const QStringList audiences{u"diver"_s, u"iptvnext"_s};
    return audiences;
}

QString BoxTicket::keyIdOf(QByteArrayView text)
{
    const qsizetype dot = text.indexOf('.');
    if (text.size() > kMaxTicketBytes || dot <= 0)
        return {};
    const auto claims = QByteArray::fromBase64Encoding(text.first(dot).toByteArray(), kBase64Url | QByteArray::AbortOnBase64DecodingErrors);
    if (!claims)
        return {};
    return QJsonDocument::fromJson(claims.decoded).object().value(u"kid"_s).toString().left(128);
}

QByteArray BoxTicket::sign(const payload::SigningKey &key) const
{
    QJsonObject claims{
        {u"v"_s, 1},
        {u"box"_s, boxId},
        {u"serial"_s, serial},
        {u"iat"_s, issuedAt},
        {u"exp"_s, expiresAt},
        {u"kid"_s, key.keyId()},
    };
    if (!audience.isEmpty())
        claims.insert(u"aud"_s, audience);
    const QByteArray encoded = QJsonDocument(claims).toJson(QJsonDocument::Compact).toBase64(kBase64Url);
    return encoded + '.' + key.sign(signedText(encoded)).toBase64(kBase64Url);
}

std::optional<BoxTicket> BoxTicket::verify(QByteArrayView text, const QList<payload::PublicKey> &keys, qint64 now,
                                           const QString &audience, QString *error, qint64 skewSeconds)
{
    auto refuse = [error](const QString &why) -> std::optional<BoxTicket> {
        if (error)
            *error = why;
        return std::nullopt;
    };
    if (text.isEmpty())
        return refuse(u"no ticket"_s);
    if (text.size() > kMaxTicketBytes)
        return refuse(u"ticket of %1 bytes is over the %2-byte limit"_s.arg(text.size()).arg(kMaxTicketBytes));
    const qsizetype dot = text.indexOf('.');
    if (dot <= 0 || dot != text.lastIndexOf('.'))
        return refuse(u"not a ticket: expected <claims>.<signature>"_s);
    const QByteArrayView claimsPart = text.first(dot);
    const auto decodedSignature = QByteArray::fromBase64Encoding(text.sliced(dot + 1).toByteArray(),
                                                                 kBase64Url | QByteArray::AbortOnBase64DecodingErrors);
    if (!decodedSignature || decodedSignature.decoded.size() != payload::SigningKey::SignatureSize)
        return refuse(u"ticket signature is not 64 bytes of base64url"_s);
    const auto decodedClaims = QByteArray::fromBase64Encoding(claimsPart.toByteArray(),
                                                              kBase64Url | QByteArray::AbortOnBase64DecodingErrors);
    if (!decodedClaims)
        return refuse(u"ticket claims are not base64url"_s);
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(decodedClaims.decoded, &parseError);
    if (!doc.isObject())
        return refuse(u"ticket claims are not a JSON object: %1"_s.arg(parseError.errorString()));
    const QJsonObject claims = doc.object();
    if (claims.value(u"v"_s).toInt() != 1)
        return refuse(u"ticket version %1 is not 1"_s.arg(claims.value(u"v"_s).toVariant().toString()));

    BoxTicket ticket;
    ticket.boxId = claims.value(u"box"_s).toString();
    ticket.serial = claims.value(u"serial"_s).toString();
    ticket.audience = claims.value(u"aud"_s).toString();
    ticket.issuedAt = claims.value(u"iat"_s).toInteger();
    ticket.expiresAt = claims.value(u"exp"_s).toInteger();
    ticket.keyId = claims.value(u"kid"_s).toString();
    if (ticket.boxId.isEmpty() || ticket.serial.isEmpty() || ticket.expiresAt <= 0)
        return refuse(u"ticket lacks a box, a serial or an expiry"_s);

    // The signature first: nothing else a ticket says is believed before it verifies.
    const payload::PublicKey *signer = nullptr;
    for (const payload::PublicKey &key : keys) {
        if (key.keyId() == ticket.keyId) {
            signer = &key;
            break;
        }
    }
    if (!signer)
        return refuse(u"ticket signed with key %1, which this server does not trust"_s.arg(ticket.keyId));
    if (!signer->verify(signedText(claimsPart), decodedSignature.decoded))
        return refuse(u"ticket signature does not verify with key %1"_s.arg(ticket.keyId));

    if (now > ticket.expiresAt + skewSeconds)
        return refuse(u"ticket of box %1 expired %2 s ago"_s.arg(ticket.serial).arg(now - ticket.expiresAt));
    if (ticket.issuedAt > now + skewSeconds)
        return refuse(u"ticket of box %1 is issued %2 s in the future"_s.arg(ticket.serial).arg(ticket.issuedAt - now));
    if (!audience.isEmpty() && ticket.audience.isEmpty())
        return refuse(u"ticket names no audience; this server takes only tickets for \"%1\""_s.arg(audience));
    if (!audience.isEmpty() && ticket.audience != audience)
        return refuse(u"ticket is for \"%1\", not \"%2\""_s.arg(ticket.audience, audience));
    return ticket;
}

} // namespace iptv::protocol
