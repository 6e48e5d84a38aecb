#include "secrets.h"

#include <QCryptographicHash>

#include <sodium.h>

namespace iptv {

bool constantTimeEqual(QByteArrayView a, QByteArrayView b)
{
    // sodium_memcmp needs no sodium_init(): it only compares.
    return a.size() == b.size() && !a.isEmpty() && sodium_memcmp(a.data(), b.data(), size_t(a.size())) == 0;
}

QByteArray secretDigest(QByteArrayView secret)
{
    return QCryptographicHash::hash(secret, QCryptographicHash::Sha256);
}

bool secretMatches(QByteArrayView given, QByteArrayView digest)
{
    if (given.isEmpty() || digest.isEmpty())
        return false;
    return constantTimeEqual(secretDigest(given), digest);
}

} // namespace iptv
