#include "operators.h"

#include "domain/config.h"
#include "domain/credentials.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>
#include <QFutureWatcher>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

Q_LOGGING_CATEGORY(lcOperators, "iptv.control.operators")

namespace iptv::control {

using iptv::http::ApiError;

namespace {
const char *const s_roles[] = {"viewer", "operator", "admin"};
constexpr qsizetype MaxCache = 10000;
/// Keys a throttle keeps at most; beyond this the ones neither locked nor being checked go.
/// Failures come at the pace of Argon2id checks, so a table this big takes hours to fill.
constexpr qsizetype MaxThrottleKeys = 100000;
constexpr qint64 PruneEveryMs = 60000;
constexpr const char *s_outcomes[] = {"ok", "denied", "throttled", "busy", "failed"};

int seconds(qint64 ms)
{
    return int(std::max<qint64>(1, (ms + 999) / 1000));
}

qint64 monotonicMs()
{
    static QElapsedTimer s_clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return s_clock.elapsed();
}
}

// ---- LoginThrottle

bool LoginThrottle::stale(const Entry &e, qint64 now) const
{
    return e.running == 0 && now >= e.lockedUntil && now - e.lastFailure >= m_policy.forgetMs;
}

qint64 LoginThrottle::wait(const QString &key, qint64 now) const
{
    const auto it = m_entries.constFind(key);
    if (it == m_entries.cend() || stale(*it, now))
        return 0;
    if (now < it->lockedUntil)
        return it->lockedUntil - now;
    // At the limit, the outcome of the attempt being checked decides whether the next may go.
    if (it->running > 0 && it->failures + it->running >= m_policy.failures)
        return m_policy.backoffMs;
    return 0;
}

void LoginThrottle::begin(const QString &key, qint64 now)
{
    Entry &e = m_entries[key];
    if (stale(e, now))
        e = Entry();
    ++e.running;
}

qint64 LoginThrottle::finish(const QString &key, bool ok, qint64 now)
{
    const auto it = m_entries.find(key);
    if (it == m_entries.end())
        return 0;
    it->running = std::max(0, it->running - 1);
    if (ok) {
        if (it->running == 0)
            m_entries.erase(it);
        else
            *it = Entry{0, it->running, 0, 0};
        return 0;
    }
    ++it->failures;
    it->lastFailure = now;
    qint64 locked = 0;
    if (it->failures >= m_policy.failures) {
        const int doublings = std::min(it->failures - m_policy.failures, 40);
        locked = m_policy.backoffMs;
        for (int i = 0; i < doublings && locked < m_policy.maxBackoffMs; ++i)
            locked *= 2;
        locked = std::min(locked, std::max(m_policy.maxBackoffMs, m_policy.backoffMs));
        it->lockedUntil = now + locked;
    }
    if (now - m_prunedAt >= PruneEveryMs || m_entries.size() > MaxThrottleKeys)
        prune(now);
    return locked;
}

int LoginThrottle::failures(const QString &key, qint64 now) const
{
    const auto it = m_entries.constFind(key);
    return it == m_entries.cend() || stale(*it, now) ? 0 : it->failures;
}

int LoginThrottle::lockedCount(qint64 now) const
{
    return int(std::count_if(m_entries.cbegin(), m_entries.cend(), [now](const Entry &e) { return now < e.lockedUntil; }));
}

void LoginThrottle::prune(qint64 now)
{
    m_prunedAt = now;
    m_entries.removeIf([this, now](const auto &it) { return stale(it.value(), now); });
    if (m_entries.size() > MaxThrottleKeys) {
        qCWarning(lcOperators) << "login throttle over" << MaxThrottleKeys << "keys: forgetting those not locked";
        m_entries.removeIf([now](const auto &it) { return it.value().running == 0 && now >= it.value().lockedUntil; });
    }
}

// ---- OperatorDirectory

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

OperatorDirectory::OperatorDirectory(ControlStore *store, QByteArray hashKey, const ControlConfig &config,
                                     iptv::MetricsRegistry *metrics)
    : m_store(store),
      m_key(std::move(hashKey)),
      m_tokenHours(config.operatorTokenHours),
      m_opsLimit(config.passwordOpsLimit),
      m_memLimit(config.passwordMemLimit),
      m_accounts({config.loginAccountFailures, config.loginBackoffSeconds * 1000LL, config.loginBackoffMaxSeconds * 1000LL,
                  config.loginForgetSeconds * 1000LL}),
      m_addresses({config.loginAddressFailures, config.loginBackoffSeconds * 1000LL, config.loginBackoffMaxSeconds * 1000LL,
                   config.loginForgetSeconds * 1000LL}),
      m_maxPending(config.loginMaxPending),
      m_clock(&monotonicMs)
{
    // The dummy costs what a real check costs because it is made exactly as new passwords are:
    // a password nobody knows, the configured limits.
    m_dummyHash = hashPassword(generatePassword(), m_opsLimit, m_memLimit);
    if (m_dummyHash.isEmpty())
        qCCritical(lcOperators) << "cannot make the dummy password hash (out of memory?): unknown accounts answer faster";
    m_pool.setObjectName(QStringLiteral("login"));
    m_pool.setMaxThreadCount(config.loginVerifyThreads);
    for (int i = 0; i < 5; ++i) {
        m_attempts[i] = metrics->counter(u"controlserver_login_attempts_total"_qs,
                                         u"POST /api/login by outcome (throttled: 429, busy: 503)."_qs,
                                         {{u"outcome"_qs, QLatin1String(s_outcomes[i])}});
    }
    m_pendingGauge = metrics->gauge(u"controlserver_login_checks_pending"_qs, u"Password checks queued or running."_qs);
    m_pendingGauge->set(0);
    m_verifySeconds = metrics->histogram(u"controlserver_login_check_duration_seconds"_qs,
                                         u"Time of one Argon2id password check on the login pool."_qs,
                                         {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
    metrics->gaugeCallback(u"controlserver_login_locked"_qs, u"Account names and client addresses locked after failed logins."_qs,
                           [this] { return m_accounts.lockedCount(m_clock()); }, {{u"scope"_qs, u"account"_qs}});
    metrics->gaugeCallback(u"controlserver_login_locked"_qs, u"Account names and client addresses locked after failed logins."_qs,
                           [this] { return m_addresses.lockedCount(m_clock()); }, {{u"scope"_qs, u"address"_qs}});
}

OperatorDirectory::~OperatorDirectory() = default;

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
    // At start, before anything is served: hashing here holds nothing up.
    auto failed = checkNewAccount(account, password);
    if (!failed) {
        failed = insertAccount(account, hashPassword(password, m_opsLimit, m_memLimit), Role::Admin,
                               QDateTime::currentSecsSinceEpoch());
    }
    if (failed)
        *error = failed->detail;
    return !failed;
}

QString OperatorDirectory::addressKey(const QHostAddress &address)
{
    bool v4 = false;
    const quint32 ip4 = address.toIPv4Address(&v4);
    if (v4)
        return QHostAddress(ip4).toString();
    // One IPv6 host usually holds a whole /64: counting its addresses one by one would not limit it.
    Q_IPV6ADDR ip6 = address.toIPv6Address();
    std::fill(ip6.c + 8, ip6.c + 16, quint8(0));
    return QHostAddress(ip6).toString() + u"/64";
}

QHostAddress OperatorDirectory::clientAddress(const QHostAddress &peer, const QList<QByteArray> &forwardedFor,
                                             const QList<QPair<QHostAddress, int>> &trusted)
{
    // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; subnets are written as IPv4.
    auto plain = [](const QHostAddress &a) {
        bool v4 = false;
        const quint32 ip4 = a.toIPv4Address(&v4);
        return v4 ? QHostAddress(ip4) : a;
    };
    auto isTrusted = [&trusted](const QHostAddress &a) {
        return std::any_of(trusted.cbegin(), trusted.cend(), [&a](const QPair<QHostAddress, int> &s) { return a.isInSubnet(s); });
    };
    QList<QByteArray> hops;
    for (const QByteArray &header : forwardedFor)
        hops += header.split(',');
    QHostAddress client = plain(peer);
    while (!hops.isEmpty() && isTrusted(client)) {
        QByteArray hop = hops.takeLast().trimmed();
        if (hop.startsWith('[') && hop.contains(']')) // [v6]:port, as some proxies write it
            hop = hop.mid(1, hop.indexOf(']') - 1);
        QHostAddress next;
        if (!next.setAddress(QString::fromLatin1(hop)))
            break; // garbage from the proxy: the proxy is the client
        client = plain(next);
    }
    return client;
}

QByteArray OperatorDirectory::verificationHash(const QString &account) const
{
    const auto op = m_store->operatorAccount(account);
    return op ? op->passwordHash : m_dummyHash;
}

void OperatorDirectory::login(const QString &account, const QString &password, const QHostAddress &from, qint64 now,
                              LoginDone done)
{
    // Names longer than the longest possible one are all wrong alike; the key stays bounded.
    const QString accountKey = account.left(64);
    const QString address = addressKey(from);
    const QString fromText = QStringLiteral("from %1").arg(from.toString());
    const qint64 t = m_clock();
    const qint64 waitAccount = m_accounts.wait(accountKey, t);
    const qint64 waitAddress = m_addresses.wait(address, t);
    if (waitAccount > 0 || waitAddress > 0) {
        LoginResult r;
        r.outcome = LoginResult::Outcome::Throttled;
        r.retryAfter = seconds(std::max(waitAccount, waitAddress));
        r.message = QStringLiteral("too many failed logins; try again in %1 s").arg(r.retryAfter);
        r.detail = QStringLiteral("%1: too many failed logins for the %2, retry in %3 s")
                       .arg(fromText, waitAccount >= waitAddress ? u"account"_qs : u"address"_qs)
                       .arg(r.retryAfter);
        m_attempts[int(r.outcome)]->increment();
        done(r);
        return;
    }
    if (m_pending >= m_maxPending) {
        LoginResult r;
        r.outcome = LoginResult::Outcome::Busy;
        r.retryAfter = 1;
        r.message = u"too many logins being checked; try again in 1 s"_qs;
        r.detail = QStringLiteral("%1: %2 password checks pending").arg(fromText).arg(m_pending);
        m_attempts[int(r.outcome)]->increment();
        done(r);
        return;
    }
    m_accounts.begin(accountKey, t);
    m_addresses.begin(address, t);
    ++m_pending;
    m_pendingGauge->set(m_pending);

    const QByteArray hash = verificationHash(account);
    auto *watcher = new QFutureWatcher<bool>(&m_jobs);
    QObject::connect(watcher, &QFutureWatcher<bool>::finished, &m_jobs,
                     [this, watcher, account, address, fromText, hash, now, done = std::move(done)] {
                         watcher->deleteLater();
                         --m_pending;
                         m_pendingGauge->set(m_pending);
                         finishLogin(account, address, fromText, hash, watcher->result(), now, done);
                     });
    iptv::Histogram *const duration = m_verifySeconds;
    watcher->setFuture(QtConcurrent::run(&m_pool, [hash, password, duration] {
        QElapsedTimer clock;
        clock.start();
        const bool ok = verifyPassword(hash, password);
        duration->observe(clock.nsecsElapsed() / 1e9);
        return ok;
    }));
}

void OperatorDirectory::finishLogin(const QString &account, const QString &address, const QString &from,
                                    const QByteArray &hash, bool verified, qint64 now, const LoginDone &done)
{
    // The account may have been disabled, removed or given a new password while the check ran.
    const auto op = m_store->operatorAccount(account);
    const bool ok = verified && op && !op->disabled && op->passwordHash == hash;
    const QString accountKey = account.left(64);
    const qint64 t = m_clock();
    const qint64 accountLock = m_accounts.finish(accountKey, ok, t);
    const qint64 addressLock = m_addresses.finish(address, ok, t);
    LoginResult r;
    if (!ok) {
        r.outcome = LoginResult::Outcome::Denied;
        r.message = QStringLiteral("unknown account, wrong password or disabled account");
        r.detail = QStringLiteral("%1: %2 failed in a row for the account, %3 from the address")
                       .arg(from)
                       .arg(m_accounts.failures(accountKey, t))
                       .arg(m_addresses.failures(address, t));
        if (accountLock > 0 || addressLock > 0)
            r.detail += QStringLiteral("; locked for %1 s").arg(seconds(std::max(accountLock, addressLock)));
        m_attempts[int(r.outcome)]->increment();
        done(r);
        return;
    }
    QString error;
    const QString token = toBase64Url(randomBytes(32));
    const qint64 expires = now + qint64(m_tokenHours) * 3600;
    if (!m_store->insertOperatorToken(tokenHash(token), account, expires, &error)) {
        qCWarning(lcOperators).noquote() << "login of" << account << "failed: cannot store its token:" << error;
        r.outcome = LoginResult::Outcome::Failed;
        r.message = u"the token could not be stored; try again"_qs;
        r.detail = from + u": " + error;
        m_attempts[int(r.outcome)]->increment();
        done(r);
        return;
    }
    r.outcome = LoginResult::Outcome::Ok;
    r.role = roleFromName(op->role).value_or(Role::Viewer);
    r.token = token;
    r.expires = expires;
    if (m_cache.size() > MaxCache)
        m_cache.clear();
    m_cache.insert(tokenHash(token), {{account, r.role}, expires});
    m_attempts[int(r.outcome)]->increment();
    done(r);
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

std::optional<ApiError> OperatorDirectory::checkNewAccount(const QString &account, const QString &password) const
{
    static const QRegularExpression s_name(QStringLiteral("^[A-Za-z0-9._@-]{1,64}$"));
    if (!s_name.match(account).hasMatch())
        return ApiError::badRequest(QStringLiteral("account names are 1-64 of A-Z a-z 0-9 . _ @ -"));
    if (password.size() < 8)
        return ApiError::badRequest(QStringLiteral("passwords need at least 8 characters"));
    if (m_store->operatorAccount(account))
        return ApiError::conflict(QStringLiteral("account %1 exists").arg(account));
    return std::nullopt;
}

std::optional<ApiError> OperatorDirectory::insertAccount(const QString &account, const QByteArray &hash, Role role, qint64 now)
{
    if (hash.isEmpty())
        return ApiError::internal(QStringLiteral("password hashing failed (out of memory?)"));
    if (m_store->operatorAccount(account)) // created by another request while the hash was made
        return ApiError::conflict(QStringLiteral("account %1 exists").arg(account));
    QString error;
    if (!m_store->insertOperator({account, hash, roleName(role), now, false}, &error))
        return ApiError::internal(error);
    return std::nullopt;
}

void OperatorDirectory::hashLater(const QString &password, std::function<void(const QByteArray &)> then)
{
    ++m_hashing;
    auto *watcher = new QFutureWatcher<QByteArray>(&m_jobs);
    QObject::connect(watcher, &QFutureWatcher<QByteArray>::finished, &m_jobs, [this, watcher, then = std::move(then)] {
        watcher->deleteLater();
        --m_hashing;
        then(watcher->result());
    });
    watcher->setFuture(QtConcurrent::run(&m_pool, [password, ops = m_opsLimit, mem = m_memLimit] {
        return hashPassword(password, ops, mem);
    }));
}

void OperatorDirectory::create(const QString &account, const QString &password, Role role, qint64 now, Done done)
{
    if (auto bad = checkNewAccount(account, password))
        return done(bad);
    hashLater(password, [this, account, role, now, done = std::move(done)](const QByteArray &hash) {
        done(insertAccount(account, hash, role, now));
    });
}

void OperatorDirectory::update(const QString &account, std::optional<Role> role, const QString &password,
                               std::optional<bool> disabled, Done done)
{
    if (!m_store->operatorAccount(account))
        return done(ApiError::notFound(QStringLiteral("no account %1").arg(account)));
    if (password.isEmpty())
        return done(applyUpdate(account, role, {}, disabled));
    if (password.size() < 8)
        return done(ApiError::badRequest(QStringLiteral("passwords need at least 8 characters")));
    hashLater(password, [this, account, role, disabled, done = std::move(done)](const QByteArray &hash) {
        if (hash.isEmpty())
            return done(ApiError::internal(QStringLiteral("password hashing failed (out of memory?)")));
        done(applyUpdate(account, role, hash, disabled));
    });
}

std::optional<ApiError> OperatorDirectory::applyUpdate(const QString &account, std::optional<Role> role,
                                                       const QByteArray &hash, std::optional<bool> disabled)
{
    QString error;
    auto op = m_store->operatorAccount(account, &error);
    if (!op) {
        return error.isEmpty() ? ApiError::notFound(QStringLiteral("no account %1").arg(account))
                               : ApiError::internal(error);
    }
    if (role)
        op->role = roleName(*role);
    if (disabled)
        op->disabled = *disabled;
    if (!hash.isEmpty())
        op->passwordHash = hash;
    if (!m_store->updateOperator(*op, &error))
        return ApiError::internal(error);
    forget(account);
    if (!m_store->deleteOperatorTokens(account, &error))
        return ApiError::internal(error);
    return std::nullopt;
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
