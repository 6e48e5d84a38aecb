#pragma once

// A box's ticket for diver, as the control server issues it (protocol/boxticket.h): what the
// diver tests (tests/dvr, tests/hubris) authenticate their boxes with.

#include <payload/keys.h>
#include <protocol/boxticket.h>

#include <QDateTime>

namespace testutil {

/// A ticket for the box `serial`, signed with `key`, for diver, valid `validFor` seconds from now
/// (negative: expired that long ago).
inline QByteArray diverTicket(const iptv::payload::SigningKey &key, const QString &serial, qint64 validFor = 600)
{
    iptv::protocol::BoxTicket t;
    t.boxId = QStringLiteral("b-") + serial;
    t.serial = serial;
    t.audience = QStringLiteral("diver");
    t.issuedAt = QDateTime::currentSecsSinceEpoch();
    t.expiresAt = t.issuedAt + validFor;
    return t.sign(key);
}

} // namespace testutil
