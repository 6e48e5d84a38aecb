#pragma once

// Comparing secrets (tokens, keyed hashes, digests) so that the time taken never tells an attacker
// how much of a guess was right. One implementation (libsodium's sodium_memcmp) for every server.

#include <QByteArray>
#include <QByteArrayView>

namespace iptv {

/// Whether `a` and `b` hold the same bytes, in a time that depends on their length only, never
/// on where they differ. For values of a fixed length (hashes, digests): a length that differs
/// is false at once, and so is an empty value (an unset secret matches nothing, not even itself).
bool constantTimeEqual(QByteArrayView a, QByteArrayView b);

/// The SHA-256 digest of a secret whose length may vary (a token an operator typed): kept in
/// place of the secret, and compared with secretMatches().
QByteArray secretDigest(QByteArrayView secret);

/// Whether `given` is the secret whose secretDigest() is `digest`: the digests are compared
/// (constantTimeEqual), so neither where a guess goes wrong nor the secret's length shows. An
/// empty `given` or `digest` is false.
bool secretMatches(QByteArrayView given, QByteArrayView digest);

} // namespace iptv
