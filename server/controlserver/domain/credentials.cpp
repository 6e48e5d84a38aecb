#include "credentials.h"

#include <sodium.h>

namespace iptv::control {

bool initCrypto()
{
    static const bool s_ok = sodium_init() >= 0;
    return s_ok;
}

QByteArray randomBytes(int length)
{
    initCrypto();
    QByteArray out(length, Qt::Uninitialized);
    randombytes_buf(out.data(), size_t(length));
    return out;
}

QByteArray keyedHash(const QByteArray &key, const QByteArray &data)
{
    QByteArray out(crypto_generichash_BYTES, Qt::Uninitialized);
    crypto_generichash(reinterpret_cast<unsigned char *>(out.data()), size_t(out.size()),
                       reinterpret_cast<const unsigned char *>(data.constData()), size_t(data.size()),
                       reinterpret_cast<const unsigned char *>(key.constData()), size_t(key.size()));
    return out;
}

QByteArray hashPassword(const QString &password, int opsLimit, qsizetype memLimit)
{
    initCrypto();
    const QByteArray utf8 = password.toUtf8();
    char out[crypto_pwhash_STRBYTES];
    const unsigned long long ops = opsLimit > 0 ? quint64(opsLimit) : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    const size_t mem = memLimit > 0 ? size_t(memLimit) : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (crypto_pwhash_str(out, utf8.constData(), quint64(utf8.size()), ops, mem) != 0)
        return {};
    return QByteArray(out);
}

bool verifyPassword(const QByteArray &hash, const QString &password)
{
    initCrypto();
    if (hash.isEmpty())
        return false;
    const QByteArray utf8 = password.toUtf8();
    return crypto_pwhash_str_verify(hash.constData(), utf8.constData(), quint64(utf8.size())) == 0;
}

QString generatePassword()
{
    return toBase64Url(randomBytes(15)); // 20 characters, 120 bits
}

QString toBase64Url(const QByteArray &bytes)
{
    return QString::fromLatin1(bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

QByteArray fromBase64Url(QStringView text)
{
    auto r = QByteArray::fromBase64Encoding(text.toLatin1(), QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    return r ? *r : QByteArray();
}

} // namespace iptv::control
