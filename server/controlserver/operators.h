#pragma once

// Operator accounts: roles, password login to a bearer token, token checks with a small cache.
// Passwords are Argon2id (crypto_pwhash_str); tokens are random and stored as keyed hashes.

#include "store.h"

#include <QByteArray>
#include <QHash>
#include <QString>

#include <optional>

namespace iptv::control {

enum class Role : quint8 { Viewer, Operator, Admin };
QString roleName(Role r);
std::optional<Role> roleFromName(QStringView name);

struct OperatorIdentity
{
    QString account;
    Role role = Role::Viewer;
    bool allows(Role needed) const { return role >= needed; }
};

class OperatorDirectory
{
public:
    /// `hashKey` keys the token hashes (the server's secret key from the store).
    OperatorDirectory(ControlStore *store, QByteArray hashKey, int tokenHours, int opsLimit, qsizetype memLimit);

    /// Creates `account` as admin when there is no operator at all. The password comes from
    /// `passwordFile`, else env IPTV_CONTROL_ADMIN_PASSWORD, else it is generated and returned in
    /// *generated (print it once). False with *error on a store failure or an unreadable file.
    bool ensureInitialAdmin(const QString &account, const QString &passwordFile, QString *generated, QString *error);

    struct Login
    {
        QString token;
        qint64 expires = 0;
        Role role = Role::Viewer;
    };
    /// Verifies the password; nullopt (and *error) for an unknown account, a wrong password or a
    /// disabled account, all with the same message so accounts cannot be probed.
    std::optional<Login> login(const QString &account, const QString &password, qint64 now, QString *error);
    std::optional<OperatorIdentity> authenticate(const QString &token, qint64 now);
    void logout(const QString &token);

    bool create(const QString &account, const QString &password, Role role, qint64 now, QString *error);
    /// Changes role, password and/or disabled; revokes the account's tokens on any change.
    bool update(const QString &account, std::optional<Role> role, const QString &password, std::optional<bool> disabled,
                QString *error);

private:
    QByteArray tokenHash(const QString &token) const;
    void forget(const QString &account);

    struct Cached
    {
        OperatorIdentity identity;
        qint64 expires = 0;
    };
    ControlStore *m_store;
    QByteArray m_key;
    int m_tokenHours;
    int m_opsLimit;
    qsizetype m_memLimit;
    QHash<QByteArray, Cached> m_cache;
};

} // namespace iptv::control
