#pragma once

// Operator accounts: roles, password login to a bearer token, token checks with a small cache.
// Passwords are Argon2id (crypto_pwhash_str); tokens are random and stored as keyed hashes.
//
// A login costs one Argon2id check (64 MiB, about 0.1 s): it runs on a small pool of its own,
// never on the event loop, and an unknown account is checked against a dummy hash made with the
// same limits, so neither the answer nor its time tells which accounts exist. New passwords are
// hashed on the same pool. Failed logins are limited per account name and per client address
// (LoginThrottle).

#include "store/store.h"

#include <core/httputil.h>
#include <core/metrics.h>

#include <QByteArray>
#include <QHash>
#include <QHostAddress>
#include <QObject>
#include <QString>
#include <QThreadPool>

#include <functional>
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

struct ControlConfig;

/// Failed logins per key (an account name or a client address): after `failures` failures in a
/// row the key is locked for `backoffMs`, doubled with every further failure up to `maxBackoffMs`;
/// a success clears it and a key without failures for `forgetMs` starts afresh. Attempts still
/// being checked count as failures until they finish, so parallel guesses cannot outrun the
/// count: at the limit one attempt at a time goes through once the lock has run out.
/// Times are milliseconds on any monotonic clock.
class LoginThrottle
{
public:
    struct Policy
    {
        int failures = 5;
        qint64 backoffMs = 2000;
        qint64 maxBackoffMs = 900000;
        qint64 forgetMs = 3600000;
    };
    explicit LoginThrottle(Policy policy) : m_policy(policy) {}

    /// 0 when an attempt for `key` may start at `now`, else how long it has to wait.
    qint64 wait(const QString &key, qint64 now) const;
    /// An attempt for `key` starts (after wait() said 0).
    void begin(const QString &key, qint64 now);
    /// The attempt ended; returns how long `key` is now locked (0 = not).
    qint64 finish(const QString &key, bool ok, qint64 now);

    /// Failures in a row counted for `key` (0 for an unknown or forgotten key).
    int failures(const QString &key, qint64 now) const;
    /// Keys locked at `now` (for a gauge).
    int lockedCount(qint64 now) const;
    qsizetype size() const { return m_entries.size(); }

private:
    struct Entry
    {
        int failures = 0;
        int running = 0;
        qint64 lastFailure = 0;
        qint64 lockedUntil = 0;
    };
    bool stale(const Entry &e, qint64 now) const;
    void prune(qint64 now);

    Policy m_policy;
    QHash<QString, Entry> m_entries;
    qint64 m_prunedAt = 0;
};

/// The answer to a login attempt.
struct LoginResult
{
    enum class Outcome { Ok, Denied, Throttled, Busy, Failed };
    Outcome outcome = Outcome::Denied;
    QString token;      ///< Ok
    qint64 expires = 0; ///< Ok
    Role role = Role::Viewer;
    int retryAfter = 0; ///< seconds, Throttled and Busy
    QString message;    ///< for the client; the same for every kind of denial
    QString detail;     ///< for the audit log: the client address, counts, locks
};

class OperatorDirectory
{
public:
    /// `hashKey` keys the token hashes (the server's secret key from the store). The Argon2id
    /// limits and the login limits come from `config`; the login metrics go to `metrics`.
    OperatorDirectory(ControlStore *store, QByteArray hashKey, const ControlConfig &config, iptv::MetricsRegistry *metrics);
    ~OperatorDirectory();

    /// Creates `account` as admin when there is no operator at all. The password comes from
    /// `passwordFile`, else env IPTV_CONTROL_ADMIN_PASSWORD, else it is generated and returned in
    /// *generated (print it once). False with *error on a store failure or an unreadable file.
    bool ensureInitialAdmin(const QString &account, const QString &passwordFile, QString *generated, QString *error);

    using LoginDone = std::function<void(const LoginResult &)>;
    /// Checks the limits for `account` and `from`, then the password on the login pool; `done`
    /// runs on this thread with the outcome (before login() returns when the limits refuse).
    /// An unknown account, a wrong password and a disabled account are the same denial.
    void login(const QString &account, const QString &password, const QHostAddress &from, qint64 now, LoginDone done);
    /// The hash a login as `account` is checked against: the account's, or for an unknown one a
    /// dummy made with the same Argon2id limits as every new password, so both cost the same.
    QByteArray verificationHash(const QString &account) const;
    /// The key the per-address limit counts under: the IPv4 address, or an IPv6 address's /64.
    static QString addressKey(const QHostAddress &address);
    /// The client behind `peer`: while the nearest hop is one of the `trusted` proxies, the next
    /// address from the right of X-Forwarded-For (`forwardedFor`, every such header's value in
    /// order); addresses further left were written by the client and prove nothing.
    static QHostAddress clientAddress(const QHostAddress &peer, const QList<QByteArray> &forwardedFor,
                                      const QList<QPair<QHostAddress, int>> &trusted);

    /// The pool the Argon2id checks run on (tests fill it to hold a check back).
    QThreadPool *verifyPool() { return &m_pool; }
    /// Checks queued or running on the pool.
    int pendingLogins() const { return m_pending; }
    /// Hashes of new passwords (create, update) queued or running on the pool.
    int pendingHashes() const { return m_hashing; }
    LoginThrottle &accountThrottle() { return m_accounts; }
    LoginThrottle &addressThrottle() { return m_addresses; }
    /// Replaces the monotonic milliseconds clock of the limits (tests move time on).
    void setClock(std::function<qint64()> clock) { m_clock = std::move(clock); }
    std::optional<OperatorIdentity> authenticate(const QString &token, qint64 now);
    void logout(const QString &token);

    /// How create() and update() end: nullopt when done, or the error, typed (400 bad name or
    /// password, 404 no such account, 409 the account exists, 500 hashing or the store failed)
    /// with a detail that names the account or the field.
    using Done = std::function<void(const std::optional<iptv::http::ApiError> &error)>;
    /// Checks name and password, hashes the password on the login pool, then stores the account;
    /// `done` runs on this thread (before create() returns when the checks fail).
    void create(const QString &account, const QString &password, Role role, qint64 now, Done done);
    /// Changes role, password and/or disabled; revokes the account's tokens on any change. A new
    /// password is hashed on the login pool first; `done` runs on this thread.
    void update(const QString &account, std::optional<Role> role, const QString &password, std::optional<bool> disabled,
                Done done);

private:
    QByteArray tokenHash(const QString &token) const;
    void forget(const QString &account);
    std::optional<iptv::http::ApiError> checkNewAccount(const QString &account, const QString &password) const;
    std::optional<iptv::http::ApiError> insertAccount(const QString &account, const QByteArray &hash, Role role, qint64 now);
    std::optional<iptv::http::ApiError> applyUpdate(const QString &account, std::optional<Role> role, const QByteArray &hash,
                                                    std::optional<bool> disabled);
    /// Hashes `password` with the configured limits on the login pool; `then` gets the hash
    /// (empty when hashing failed) on this thread.
    void hashLater(const QString &password, std::function<void(const QByteArray &)> then);
    void finishLogin(const QString &account, const QString &address, const QString &from, const QByteArray &hash,
                     bool verified, qint64 now, const LoginDone &done);

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

    QByteArray m_dummyHash;
    LoginThrottle m_accounts;
    LoginThrottle m_addresses;
    int m_maxPending;
    int m_pending = 0;
    int m_hashing = 0;
    std::function<qint64()> m_clock;
    iptv::Counter *m_attempts[5] = {};
    iptv::Gauge *m_pendingGauge = nullptr;
    iptv::Histogram *m_verifySeconds = nullptr;
    QThreadPool m_pool;
    QObject m_jobs; ///< parent of the running checks' watchers: their answers die with the directory
};

} // namespace iptv::control
