#include "operators.h"

#include "credentials.h"

#include <QDateTime>
#include <QFile>
#include <QLoggingCategory>
#include <QRegularExpression>

Q_LOGGING_CATEGORY(lcOperators, "iptv.control.operators")

namespace iptv::control {

namespace {
const char *const s_roles[] = {"viewer", "operator", "admin"};
constexpr qsizetype MaxCache = 10000;
}

QString roleName(Role r)
{
    return QLatin1String(s_roles[int(r)]);
}

std::optional<Role> roleFromName(QStringView name)
{
    for (int i = 0; i < 3; ++i) {
        if (name == QLatin1String(s_roles[i]))
            return Role(i);
    }
    return std::nullopt;
}

OperatorDirectory::OperatorDirectory(ControlStore *store, QByteArray hashKey, int tokenHours, int opsLimit,
                                     qsizetype memLimit)
    : m_store(store), m_key(std::move(hashKey)), m_tokenHours(tokenHours), m_opsLimit(opsLimit), m_memLimit(memLimit)
{
}

QByteArray OperatorDirectory::tokenHash(const QString &token) const
{
    return keyedHash(m_key, token.toLatin1());
}

bool OperatorDirectory::ensureInitialAdmin(const QString &account, const QString &passwordFile, QString *generated,
                                           QString *error)
{
    const qint64 count = m_store->operatorCount(error);
    if (count < 0)
        return false;
    if (count > 0)
        return true;
    QString password;
    if (!passwordFile.isEmpty()) {
        QFile f(passwordFile);
        if (!f.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read the admin password file %1: %2").arg(passwordFile, f.errorString());
            return false;
        }
        password = QString::fromUtf8(f.readAll()).trimmed();
        if (password.isEmpty()) {
            *error = QStringLiteral("the admin password file %1 is empty").arg(passwordFile);
            return false;
        }
    } else if (!qEnvironmentVariableIsEmpty("IPTV_CONTROL_ADMIN_PASSWORD")) {
        password = qEnvironmentVariable("IPTV_CONTROL_ADMIN_PASSWORD");
    } else {
        password = generatePassword();
        *generated = password;
    }
    return create(account, password, Role::Admin, QDateTime::currentSecsSinceEpoch(), error);
}

std::optional<OperatorDirectory::Login> OperatorDirectory::login(const QString &account, const QString &password,
                                                                 qint64 now, QString *error)
{
    const auto op = m_store->operatorAccount(account);
    // Verify against a dummy hash for unknown accounts too, so timing does not reveal them.
    static const QByteArray s_dummy = hashPassword(QStringLiteral("dummy"), 1, 8192 * 1024);
    const bool ok = verifyPassword(op ? op->passwordHash : s_dummy, password) && op && !op->disabled;
    if (!ok) {
        *error = QStringLiteral("unknown account, wrong password or disabled account");
        return std::nullopt;
    }
    const auto role = roleFromName(op->role).value_or(Role::Viewer);
    const QString token = toBase64Url(randomBytes(32));
    const qint64 expires = now + qint64(m_tokenHours) * 3600;
    if (!m_store->insertOperatorToken(tokenHash(token), account, expires, error))
        return std::nullopt;
    if (m_cache.size() > MaxCache)
        m_cache.clear();
    m_cache.insert(tokenHash(token), {{account, role}, expires});
    return Login{token, expires, role};
}

std::optional<OperatorIdentity> OperatorDirectory::authenticate(const QString &token, qint64 now)
{
    if (token.isEmpty() || token.size() > 128)
        return std::nullopt;
    const QByteArray hash = tokenHash(token);
    const auto it = m_cache.constFind(hash);
    if (it != m_cache.cend()) {
        if (it->expires > now)
            return it->identity;
        m_cache.remove(hash);
        return std::nullopt;
    }
    // Another node may have issued it (shared PostgreSQL), or this one before a restart.
    const QString account = m_store->tokenAccount(hash, now);
    if (account.isEmpty())
        return std::nullopt;
    const auto op = m_store->operatorAccount(account);
    if (!op || op->disabled)
        return std::nullopt;
    const OperatorIdentity id{account, roleFromName(op->role).value_or(Role::Viewer)};
    if (m_cache.size() > MaxCache)
        m_cache.clear();
    m_cache.insert(hash, {id, now + 300}); // re-checked against the store every 5 minutes
    return id;
}

void OperatorDirectory::logout(const QString &token)
{
    const QByteArray hash = tokenHash(token);
    m_cache.remove(hash);
    QString error;
    m_store->deleteOperatorToken(hash, &error);
}

bool OperatorDirectory::create(const QString &account, const QString &password, Role role, qint64 now, QString *error)
{
    static const QRegularExpression s_name(QStringLiteral("^[A-Za-z0-9._@-]{1,64}$"));
    if (!s_name.match(account).hasMatch()) {
        *error = QStringLiteral("account names are 1-64 of A-Z a-z 0-9 . _ @ -");
        return false;
    }
    if (password.size() < 8) {
        *error = QStringLiteral("passwords need at least 8 characters");
        return false;
    }
    if (m_store->operatorAccount(account)) {
        *error = QStringLiteral("account %1 exists").arg(account);
        return false;
    }
    const QByteArray hash = hashPassword(password, m_opsLimit, m_memLimit);
    if (hash.isEmpty()) {
        *error = QStringLiteral("password hashing failed (out of memory?)");
        return false;
    }
    return m_store->insertOperator({account, hash, roleName(role), now, false}, error);
}

bool OperatorDirectory::update(const QString &account, std::optional<Role> role, const QString &password,
                               std::optional<bool> disabled, QString *error)
{
    auto op = m_store->operatorAccount(account, error);
    if (!op) {
        *error = QStringLiteral("no account %1").arg(account);
        return false;
    }
    if (role)
        op->role = roleName(*role);
    if (disabled)
        op->disabled = *disabled;
    if (!password.isEmpty()) {
        if (password.size() < 8) {
            *error = QStringLiteral("passwords need at least 8 characters");
            return false;
        }
        op->passwordHash = hashPassword(password, m_opsLimit, m_memLimit);
    }
    if (!m_store->updateOperator(*op, error))
        return false;
    forget(account);
    return m_store->deleteOperatorTokens(account, error);
}

void OperatorDirectory::forget(const QString &account)
{
    for (auto it = m_cache.begin(); it != m_cache.end();) {
        if (it->identity.account == account)
            it = m_cache.erase(it);
        else
            ++it;
    }
}

} // namespace iptv::control
