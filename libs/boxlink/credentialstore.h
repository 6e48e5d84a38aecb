#pragma once

// Where a box keeps its credentials: its own random secret (made once, sent to enroll and to get
// a new token) and the session token the server issued at approval.

#include <QByteArray>
#include <QString>

namespace iptv::boxlink {

class CredentialStore
{
public:
    static constexpr qsizetype SecretSize = 32;

    virtual ~CredentialStore() = default;

    /// The box's secret, made on first use from the system's random source.
    virtual QByteArray secret() = 0;
    /// The session token, empty before approval or after the server refused it.
    virtual QByteArray token() const = 0;
    /// Stores a token; empty clears it. False (with *error) when it could not be stored.
    virtual bool setToken(const QByteArray &token, QString *error = nullptr) = 0;
    /// The last storage failure, for a box's diagnostics; empty when none.
    virtual QString lastError() const { return {}; }
};

/// For simulated boxes: nothing touches the disk.
class MemoryCredentialStore final : public CredentialStore
{
public:
    MemoryCredentialStore() = default;
    explicit MemoryCredentialStore(QByteArray secret, QByteArray token = {})
        : m_secret(std::move(secret)), m_token(std::move(token)) {}

    QByteArray secret() override;
    QByteArray token() const override { return m_token; }
    bool setToken(const QByteArray &token, QString *error = nullptr) override;

private:
    QByteArray m_secret;
    QByteArray m_token;
};

/// For real boxes: `secret` and `token` files in the state directory, mode 0600, written
/// atomically (a power cut leaves the old or the new token, never half of one).
class FileCredentialStore final : public CredentialStore
{
public:
    explicit FileCredentialStore(QString stateDir);

    QByteArray secret() override;
    QByteArray token() const override { return m_token; }
    bool setToken(const QByteArray &token, QString *error = nullptr) override;
    QString lastError() const override { return m_lastError; }

    QString secretPath() const;
    QString tokenPath() const;

private:
    bool writePrivate(const QString &path, const QByteArray &bytes, QString *error);
    static QByteArray readFile(const QString &path, QString *error);

    QString m_dir;
    QByteArray m_secret;
    QByteArray m_token;
    QString m_lastError;
};

} // namespace iptv::boxlink
