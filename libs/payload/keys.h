#pragma once

// Ed25519 keys for signing payload bundles (libsodium). Both are small text files:
//   NAME.key  "iptv-ed25519-secret:<base64 of the 32-byte seed>"   (mode 0600, never in a repository)
//   NAME.pub  "iptv-ed25519-public:<base64 of the 32-byte public key>"
// Lines starting with '#' are comments. A key is named by its keyId: the first 8 bytes of the
// SHA-256 of the public key, in hex (16 characters).

#include <QByteArray>
#include <QList>
#include <QString>

#include <array>

namespace iptv::payload {

/// A public key that signatures are checked against.
class PublicKey
{
public:
    static constexpr qsizetype Size = 32;

    PublicKey() = default;
    /// From the 32 raw key bytes; invalid (isNull) for any other length.
    static PublicKey fromBytes(const QByteArray &bytes);
    /// From the text form "iptv-ed25519-public:<base64>" (comments and whitespace allowed).
    static PublicKey fromText(const QByteArray &text, QString *error = nullptr);
    static PublicKey load(const QString &path, QString *error = nullptr);

    bool isNull() const { return m_bytes.isEmpty(); }
    QByteArray bytes() const { return m_bytes; }
    QString keyId() const { return m_keyId; }
    QByteArray toText() const;
    /// Writes the text form (mode 0644); refuses to overwrite an existing file.
    bool save(const QString &path, QString *error = nullptr) const;

    /// True if `signature` (64 bytes) is this key's Ed25519 signature of `message`.
    bool verify(const QByteArray &message, const QByteArray &signature) const;

    friend bool operator==(const PublicKey &a, const PublicKey &b) { return a.m_bytes == b.m_bytes; }

private:
    QByteArray m_bytes;
    QString m_keyId;
};

/// The secret half, which signs. The key material is wiped from memory when the object goes.
class SigningKey
{
public:
    static constexpr qsizetype SeedSize = 32;
    static constexpr qsizetype SignatureSize = 64;

    SigningKey() = default;
    SigningKey(const SigningKey &other);
    SigningKey &operator=(const SigningKey &other);
    ~SigningKey();

    /// A fresh key from the system's random source.
    static SigningKey generate();
    /// From a 32-byte seed (the secret file's content); invalid for any other length.
    static SigningKey fromSeed(const QByteArray &seed);
    /// Loads NAME.key; refuses a file that group or others can read, as ssh does.
    static SigningKey load(const QString &path, QString *error = nullptr);

    bool isNull() const { return !m_valid; }
    PublicKey publicKey() const { return m_public; }
    QString keyId() const { return m_public.keyId(); }
    /// The 64-byte detached Ed25519 signature of `message`.
    QByteArray sign(const QByteArray &message) const;

    /// Writes NAME.key with mode 0600 (created so, never widened); refuses to overwrite.
    bool save(const QString &path, QString *error = nullptr) const;

private:
    std::array<unsigned char, 64> m_secret{}; // libsodium's secret key: seed || public key
    PublicKey m_public;
    bool m_valid = false;
};

/// Loads several public keys; stops at the first that fails, with its path in `error`.
QList<PublicKey> loadPublicKeys(const QStringList &paths, QString *error = nullptr);

/// libsodium's one-time initialisation; every function here calls it, callers need not.
bool ensureSodium();

} // namespace iptv::payload
