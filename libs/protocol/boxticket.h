#pragma once

// A box's identity for servers other than the control server (diver; iptvnext where a guide is
// private), so none of them keeps a second account system: the control server, which enrolled the
// box, signs a short-lived ticket with Ed25519 (libsodium) and any server verifies it offline
// with the control server's public key (GET /api/ticket-key). docs/protocol.md, "Tickets".
//
// Text form, safe in an HTTP header and a URL query:
//   <base64url(claims JSON)>.<base64url(64-byte signature)>
// The signature covers "iptv-box-ticket:" followed by the first part, so a ticket's signature
// can never be mistaken for one over a payload manifest made with the same key.

#include <payload/keys.h>

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace iptv::protocol {

struct BoxTicket
{
    QString boxId;       ///< the control server's id of the box
    QString serial;
    QString audience;    ///< the server it is meant for, one of knownAudiences()
    qint64 issuedAt = 0; ///< UTC seconds
    qint64 expiresAt = 0;
    QString keyId;       ///< which signing key; lets verifiers hold the old and new during a change

    /// The servers a control server issues tickets for ("diver", "iptvnext"); a box asking for
    /// another, or for none, is refused.
    static const QStringList &knownAudiences();

    /// The key id a ticket names, unverified (which key to fetch when none held has it); empty
    /// when `text` is not a ticket.
    static QString keyIdOf(QByteArrayView text);

    /// The signed text form.
    QByteArray sign(const payload::SigningKey &key) const;

    /// Checks `text` against `keys` at `now` (UTC seconds), allowing `skewSeconds` of clock
    /// difference; with a non-empty `audience`, a ticket for another audience, or naming none (a
    /// ticket good for any server would be replayed from one to another), is refused. On
    /// failure returns nullopt and says why in *error ("expired 40 s ago", "signature does not
    /// verify with key 1a2b…", ...).
    static std::optional<BoxTicket> verify(QByteArrayView text, const QList<payload::PublicKey> &keys, qint64 now,
                                           const QString &audience = {}, QString *error = nullptr,
                                           qint64 skewSeconds = 60);
};

} // namespace iptv::protocol
