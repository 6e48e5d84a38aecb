#include "credentialstore.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QSaveFile>

namespace iptv::boxlink {

Q_LOGGING_CATEGORY(lcCredentials, "iptv.boxlink.credentials")

namespace {
QByteArray randomSecret()
{
    QByteArray bytes(CredentialStore::SecretSize, Qt::Uninitialized);
    // QRandomGenerator::system() reads the OS's cryptographic source (getrandom).
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(bytes.data()),
                                          bytes.size() / qsizetype(sizeof(quint32)));
    return bytes;
}
} // namespace

QByteArray MemoryCredentialStore::secret()
{
    if (m_secret.isEmpty())
        m_secret = randomSecret();
    return m_secret;
}

bool MemoryCredentialStore::setToken(const QByteArray &token, QString *)
{
    m_token = token;
    return true;
}

FileCredentialStore::FileCredentialStore(QString stateDir) : m_dir(std::move(stateDir))
{
    QString error;
    if (QFileInfo::exists(tokenPath())) {
        m_token = readFile(tokenPath(), &error);
        if (!error.isEmpty()) {
            m_lastError = error;
            qCWarning(lcCredentials).noquote() << error;
        }
    }
}

QString FileCredentialStore::secretPath() const
{
    return QDir(m_dir).filePath(QStringLiteral("secret"));
}

QString FileCredentialStore::tokenPath() const
{
    return QDir(m_dir).filePath(QStringLiteral("token"));
}

QByteArray FileCredentialStore::readFile(const QString &path, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("%1: cannot read: %2").arg(path, file.errorString());
        return {};
    }
    // Credentials are small; a large file is not ours.
    const QByteArray text = file.read(4096).trimmed();
    const QByteArray bytes = QByteArray::fromBase64(text, QByteArray::AbortOnBase64DecodingErrors);
    if (bytes.isEmpty() && !text.isEmpty()) {
        *error = QStringLiteral("%1: not base64; ignored").arg(path);
        return {};
    }
    return bytes;
}

bool FileCredentialStore::writePrivate(const QString &path, const QByteArray &bytes, QString *error)
{
    if (!QDir().mkpath(m_dir)) {
        *error = QStringLiteral("%1: cannot create the state directory").arg(m_dir);
        return false;
    }
    QSaveFile file(path);
    // QSaveFile writes a temporary next to the target; restrict it before any byte is in it.
    if (!file.open(QIODevice::WriteOnly)
        || !file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner)) {
        *error = QStringLiteral("%1: cannot write: %2").arg(path, file.errorString());
        return false;
    }
    file.write(bytes.toBase64() + '\n');
    if (!file.commit()) {
        *error = QStringLiteral("%1: cannot write: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

QByteArray FileCredentialStore::secret()
{
    if (!m_secret.isEmpty())
        return m_secret;
    QString error;
    if (QFileInfo::exists(secretPath())) {
        m_secret = readFile(secretPath(), &error);
        if (m_secret.size() == SecretSize)
            return m_secret;
        // A damaged secret cannot be repaired: the server holds a hash of the old one, so the
        // box must be re-approved. Say so loudly rather than silently enrolling anew.
        qCWarning(lcCredentials).noquote()
            << QStringLiteral("%1: %2; making a new secret (the box needs approval again)")
                   .arg(secretPath(), error.isEmpty() ? QStringLiteral("wrong size") : error);
    }
    m_secret = randomSecret();
    if (!writePrivate(secretPath(), m_secret, &error)) {
        m_lastError = error;
        qCWarning(lcCredentials).noquote() << error;
    }
    return m_secret;
}

bool FileCredentialStore::setToken(const QByteArray &token, QString *error)
{
    QString why;
    bool ok = true;
    if (token.isEmpty()) {
        if (QFileInfo::exists(tokenPath()) && !QFile::remove(tokenPath())) {
            why = QStringLiteral("%1: cannot remove").arg(tokenPath());
            ok = false;
        }
    } else {
        ok = writePrivate(tokenPath(), token, &why);
    }
    m_token = token; // the session goes on with it even if the disk refused
    if (!ok) {
        m_lastError = why;
        qCWarning(lcCredentials).noquote() << why;
        if (error)
            *error = why;
    }
    return ok;
}

} // namespace iptv::boxlink
