#include "keys.h"

#include <QFile>
#include <QFileInfo>

#include <sodium.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace iptv::payload {

namespace {

const QByteArray kSecretPrefix = QByteArrayLiteral("iptv-ed25519-secret:");
const QByteArray kPublicPrefix = QByteArrayLiteral("iptv-ed25519-public:");

void setError(QString *error, const QString &message)
{
    if (error)
        *error = message;
}

/// The one key line of a key file: comments and blank lines dropped, exactly one line left.
bool keyLine(const QByteArray &text, const QByteArray &prefix, QByteArray *key, QString *error)
{
    QByteArray found;
    for (const QByteArray &raw : text.split('\n')) {
        const QByteArray line = raw.trimmed();
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        if (!found.isEmpty()) {
            setError(error, u"more than one key in the file"_qs);
            return false;
        }
        found = line;
    }
    if (!found.startsWith(prefix)) {
        setError(error, u"not a key of this kind: expected a line \"%1<base64>\""_qs.arg(QString::fromLatin1(prefix)));
        return false;
    }
    const auto decoded = QByteArray::fromBase64Encoding(found.mid(prefix.size()), QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded) {
        setError(error, u"the key is not valid base64"_qs);
        return false;
    }
    *key = decoded.decoded;
    return true;
}

bool readSmallFile(const QString &path, QByteArray *content, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        setError(error, u"%1: %2"_qs.arg(path, file.errorString()));
        return false;
    }
    // Key files are a line or two; anything big is the wrong file.
    *content = file.read(4096);
    if (!file.atEnd()) {
        setError(error, u"%1: too big for a key file"_qs.arg(path));
        return false;
    }
    return true;
}

/// Creates `path` with `mode` (O_EXCL: never overwrites, never follows a planted symlink).
bool writeNewFile(const QString &path, const QByteArray &content, mode_t mode, QString *error)
{
    const QByteArray native = QFile::encodeName(path);
    const int fd = ::open(native.constData(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        setError(error, u"%1: %2"_qs.arg(path, QString::fromLocal8Bit(std::strerror(errno))));
        return false;
    }
    // The umask may have narrowed the mode; a secret key must end up exactly 0600, a public one readable.
    ::fchmod(fd, mode);
    qsizetype done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.constData() + done, size_t(content.size() - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            setError(error, u"%1: %2"_qs.arg(path, QString::fromLocal8Bit(std::strerror(errno))));
            ::close(fd);
            ::unlink(native.constData());
            return false;
        }
        done += n;
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        setError(error, u"%1: %2"_qs.arg(path, QString::fromLocal8Bit(std::strerror(errno))));
        ::unlink(native.constData());
        return false;
    }
    return true;
}

} // namespace

bool ensureSodium()
{
    static const bool s_ok = sodium_init() >= 0;
    return s_ok;
}

// --- PublicKey --------------------------------------------------------------------------------

PublicKey PublicKey::fromBytes(const QByteArray &bytes)
{
    PublicKey key;
    if (bytes.size() != Size || !ensureSodium())
        return key;
    key.m_bytes = bytes;
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, reinterpret_cast<const unsigned char *>(bytes.constData()), size_t(bytes.size()));
    key.m_keyId = QString::fromLatin1(QByteArray(reinterpret_cast<const char *>(hash), 8).toHex());
    return key;
}

PublicKey PublicKey::fromText(const QByteArray &text, QString *error)
{
    QByteArray raw;
    if (!keyLine(text, kPublicPrefix, &raw, error))
        return {};
    if (raw.size() != Size) {
        setError(error, u"a public key has %1 bytes, this one %2"_qs.arg(Size).arg(raw.size()));
        return {};
    }
    return fromBytes(raw);
}

PublicKey PublicKey::load(const QString &path, QString *error)
{
    QByteArray content;
    if (!readSmallFile(path, &content, error))
        return {};
    QString why;
    PublicKey key = fromText(content, &why);
    if (key.isNull())
        setError(error, u"%1: %2"_qs.arg(path, why));
    return key;
}

QByteArray PublicKey::toText() const
{
    return kPublicPrefix + m_bytes.toBase64() + '\n';
}

bool PublicKey::save(const QString &path, QString *error) const
{
    const QByteArray text = "# iptv payload signing public key, keyId " + m_keyId.toLatin1() + '\n' + toText();
    return writeNewFile(path, text, 0644, error);
}

bool PublicKey::verify(const QByteArray &message, const QByteArray &signature) const
{
    if (isNull() || signature.size() != crypto_sign_BYTES || !ensureSodium())
        return false;
    return crypto_sign_verify_detached(reinterpret_cast<const unsigned char *>(signature.constData()),
                                       reinterpret_cast<const unsigned char *>(message.constData()),
                                       size_t(message.size()),
                                       reinterpret_cast<const unsigned char *>(m_bytes.constData()))
        == 0;
}

// --- SigningKey -------------------------------------------------------------------------------

SigningKey::SigningKey(const SigningKey &other) : m_secret(other.m_secret), m_public(other.m_public), m_valid(other.m_valid) {}

SigningKey &SigningKey::operator=(const SigningKey &other)
{
    m_secret = other.m_secret;
    m_public = other.m_public;
    m_valid = other.m_valid;
    return *this;
}

SigningKey::~SigningKey()
{
    sodium_memzero(m_secret.data(), m_secret.size());
}

SigningKey SigningKey::generate()
{
    unsigned char seed[SeedSize];
    if (!ensureSodium())
        return {};
    randombytes_buf(seed, sizeof seed);
    SigningKey key = fromSeed(QByteArray::fromRawData(reinterpret_cast<const char *>(seed), SeedSize));
    sodium_memzero(seed, sizeof seed);
    return key;
}

SigningKey SigningKey::fromSeed(const QByteArray &seed)
{
    SigningKey key;
    if (seed.size() != SeedSize || !ensureSodium())
        return key;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_seed_keypair(pk, key.m_secret.data(), reinterpret_cast<const unsigned char *>(seed.constData()));
    key.m_public = PublicKey::fromBytes(QByteArray(reinterpret_cast<const char *>(pk), sizeof pk));
    key.m_valid = true;
    return key;
}

SigningKey SigningKey::load(const QString &path, QString *error)
{
    struct stat st{};
    if (::stat(QFile::encodeName(path).constData(), &st) == 0 && (st.st_mode & 077) != 0) {
        setError(error, u"%1: a secret key must not be readable by group or others (mode %2); chmod 600 it"_qs
                            .arg(path)
                            .arg(st.st_mode & 0777, 4, 8, QChar(u'0')));
        return {};
    }
    QByteArray content;
    if (!readSmallFile(path, &content, error))
        return {};
    QString why;
    QByteArray seed;
    const bool parsed = keyLine(content, kSecretPrefix, &seed, &why);
    sodium_memzero(content.data(), size_t(content.size()));
    if (!parsed) {
        setError(error, u"%1: %2"_qs.arg(path, why));
        return {};
    }
    if (seed.size() != SeedSize) {
        setError(error, u"%1: a secret key has %2 bytes, this one %3"_qs.arg(path).arg(SeedSize).arg(seed.size()));
        return {};
    }
    SigningKey key = fromSeed(seed);
    sodium_memzero(seed.data(), size_t(seed.size()));
    return key;
}

QByteArray SigningKey::sign(const QByteArray &message) const
{
    if (!m_valid)
        return {};
    QByteArray signature(crypto_sign_BYTES, Qt::Uninitialized);
    crypto_sign_detached(reinterpret_cast<unsigned char *>(signature.data()), nullptr,
                         reinterpret_cast<const unsigned char *>(message.constData()), size_t(message.size()),
                         m_secret.data());
    return signature;
}

bool SigningKey::save(const QString &path, QString *error) const
{
    if (!m_valid) {
        setError(error, u"no key to save"_qs);
        return false;
    }
    // The seed is the first half of libsodium's secret key.
    QByteArray seed(reinterpret_cast<const char *>(m_secret.data()), SeedSize);
    QByteArray text = "# iptv payload signing SECRET key, keyId " + keyId().toLatin1()
        + " - keep it out of repositories\n" + kSecretPrefix + seed.toBase64() + '\n';
    const bool ok = writeNewFile(path, text, 0600, error);
    sodium_memzero(seed.data(), size_t(seed.size()));
    sodium_memzero(text.data(), size_t(text.size()));
    return ok;
}

QList<PublicKey> loadPublicKeys(const QStringList &paths, QString *error)
{
    QList<PublicKey> keys;
    for (const QString &path : paths) {
        PublicKey key = PublicKey::load(path, error);
        if (key.isNull())
            return {};
        keys.append(key);
    }
    return keys;
}

} // namespace iptv::payload
