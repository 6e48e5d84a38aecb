#pragma once

// Credentials with libsodium: keyed hashes of box secrets and session tokens (both are random,
// so a fast keyed hash is enough and a database leak reveals nothing usable without the key),
// operator passwords with crypto_pwhash_str (slow on purpose), random tokens. Hashes are compared
// with iptv::constantTimeEqual (core/secrets.h).

#include <core/secrets.h>

#include <QByteArray>
#include <QString>

namespace iptv::control {

/// Initialises libsodium once; false when it cannot (the server refuses to start).
bool initCrypto();

/// `length` random bytes from the OS CSPRNG.
QByteArray randomBytes(int length);

/// 32-byte BLAKE2b of `data` keyed with `key` (crypto_generichash).
QByteArray keyedHash(const QByteArray &key, const QByteArray &data);

/// crypto_pwhash_str: Argon2id with a random salt, self-describing string. opsLimit/memLimit 0 =
/// libsodium's interactive limits. Empty on failure (out of memory).
QByteArray hashPassword(const QString &password, int opsLimit = 0, qsizetype memLimit = 0);
bool verifyPassword(const QByteArray &hash, const QString &password);

/// A printable random password (for the generated initial admin).
QString generatePassword();

/// base64url without padding: tokens as HTTP bearers and in JSON.
QString toBase64Url(const QByteArray &bytes);
QByteArray fromBase64Url(QStringView text);

} // namespace iptv::control
