#include "lease.h"

#include <core/sqldatabase.h>

#include <QAtomicInteger>
#include <QDateTime>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QSet>
#include <QVariant>

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>

Q_LOGGING_CATEGORY(lcLease, "iptv.dvr.lease", QtInfoMsg)

namespace iptv::dvr {

namespace {
QAtomicInteger<quint64> s_connections;
/// The liveness locks' first key ("dvr1"): advisory locks of other programs on the same database
/// use other first keys.
constexpr qint32 kLivenessClass = 0x64767231;
/// The session setting that says this session holds its liveness lock (a new session has none).
const QString s_livenessSetting = QStringLiteral("diver.lease_liveness");
} // namespace

QHash<QString, int> fairShares(const QList<LeasePeer> &peers, int total)
{
    QHash<QString, int> shares;
    if (peers.isEmpty())
        return shares;
    qint64 weights = 0;
    for (const LeasePeer &p : peers)
        weights += qMax(0, p.weight);
    const bool equal = weights <= 0;
    if (equal)
        weights = peers.size();
    // Largest remainders: each gets the whole part of its quota, and what is left goes one each
    // to the largest fractions (ties: first in the list).
    QList<std::pair<qint64, int>> remainders; // (remainder, index)
    int given = 0;
    for (int i = 0; i < peers.size(); ++i) {
        const qint64 numerator = qint64(total) * (equal ? 1 : qMax(0, peers.at(i).weight));
        const int whole = int(numerator / weights);
        shares.insert(peers.at(i).node, whole);
        given += whole;
        remainders.append({numerator % weights, i});
    }
    std::stable_sort(remainders.begin(), remainders.end(), [](const auto &a, const auto &b) { return a.first > b.first; });
    for (int k = 0; given < total && k < remainders.size(); ++k, ++given)
        ++shares[peers.at(remainders.at(k).second).node];
    return shares;
}

LeaseStore::LeaseStore()
    : m_connection(QStringLiteral("dvr-lease-%1").arg(s_connections.fetchAndAddRelaxed(1)))
{
}

LeaseStore::~LeaseStore()
{
    close();
}

void LeaseStore::close()
{
    closeSqlDatabase(m_connection);
}

bool LeaseStore::exec(const QString &sql, QString *error)
{
    return execSql(m_connection, sql, error);
}

bool LeaseStore::open(const QString &location, QString *error)
{
    close();
    const std::optional<SqlBackend> backend = openSqlDatabase(location, m_connection, error);
    if (!backend)
        return false;
    m_postgres = *backend == SqlBackend::PostgreSQL;
    // The table is the whole schema of this store; when Diver's own store holds it, its schema
    // version goes with Diver's.
    const bool ok = execSchema(m_connection,
                               {QStringLiteral("CREATE TABLE IF NOT EXISTS dvr_leases ("
                                               "id TEXT PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', "
                                               "node TEXT, lease_until BIGINT NOT NULL DEFAULT 0, takeovers INTEGER NOT NULL DEFAULT 0)"),
                                QStringLiteral("CREATE INDEX IF NOT EXISTS dvr_leases_state ON dvr_leases (state, lease_until)")},
                               error);
    // The fencing epoch (see lease.h), added to a table made before there was one.
    if (ok && !QSqlDatabase::database(m_connection, false).record(QStringLiteral("dvr_leases")).contains(QStringLiteral("epoch"))
        && !execSchema(m_connection,
                       {m_postgres ? QStringLiteral("ALTER TABLE dvr_leases ADD COLUMN IF NOT EXISTS epoch BIGINT NOT NULL DEFAULT 0")
                                   : QStringLiteral("ALTER TABLE dvr_leases ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0")},
                       error)) {
        *error = QStringLiteral("adding the column epoch to dvr_leases: %1").arg(*error);
        close();
        return false;
    }
    if (!ok)
        close();
    return ok;
}

QString LeaseStore::scopeCondition() const
{
    if (m_scopeIds.isEmpty())
        return QStringLiteral("id LIKE ? ESCAPE '\\'");
    QStringList marks(m_scopeIds.size(), QStringLiteral("?"));
    return QStringLiteral("id IN (%1)").arg(marks.join(u", "));
}

QVariantList LeaseStore::scopeValues() const
{
    if (m_scopeIds.isEmpty()) {
        // LIKE's own wildcards in the prefix match themselves.
        QString pattern = m_scopePrefix;
        pattern.replace(u'\\', u"\\\\"_qs).replace(u'%', u"\\%"_qs).replace(u'_', u"\\_"_qs);
        return {QVariant(QString(pattern + u'%'))};
    }
    QVariantList values;
    for (const QString &id : m_scopeIds)
        values << id;
    return values;
}

bool LeaseStore::add(const QString &id, const QByteArray &spec, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("INSERT INTO dvr_leases (id, spec) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"));
        q.addBindValue(id);
        q.addBindValue(QString::fromUtf8(spec));
        if (!q.exec()) {
            *error = QStringLiteral("adding recording %1 to the lease table: %2").arg(id, sqlErrorText(q.lastError()));
            return false;
        }
        return true;
    });
}

std::optional<QList<LeaseClaim>> LeaseStore::claim(const QString &node, int max, qint64 leaseMs, qint64 nowMs, QString *error,
                                                   const QStringList &goneNodes)
{
    return take(node, false, max, leaseMs, nowMs, error, m_postgres ? goneNodes : QStringList());
}

QString LeaseStore::livenessKeySql(const QString &nodeExpression)
{
    // The server computes the key from the name, so every node gets the same one; hashtext()
    // is the server's own and the same for all its sessions. The scope keeps a node's keepers
    // (copies, archives) apart: each holds its own lock on its own connection.
    return QStringLiteral("hashtext(? || chr(31) || %1)").arg(nodeExpression);
}

std::optional<LeaseStore::Liveness> LeaseStore::holdLiveness(const QString &node, QString *error)
{
    if (!m_postgres)
        return Liveness::Held;
    // A token of this store's own: a setting left in a session is never another's.
    if (m_livenessToken.isEmpty())
        m_livenessToken = QStringLiteral("%1/%2/%3").arg(node, m_connection).arg(QDateTime::currentMSecsSinceEpoch());
    return withReconnect(m_connection, error, [&]() -> std::optional<Liveness> {
        // 1: this session took it before (the setting is this session's); 2: taken now; 0: another
        // session holds it. A connection opened again (withReconnect) is a new session: it has no
        // setting and takes the lock again, if nobody took it meanwhile.
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("SELECT CASE WHEN current_setting('%1', true) = ? THEN 1 "
                                 "WHEN pg_try_advisory_lock(?, %2) THEN 2 + 0 * length(set_config('%1', ?, false)) "
                                 "ELSE 0 END")
                      .arg(s_livenessSetting, livenessKeySql(QStringLiteral("?"))));
        q.addBindValue(m_livenessToken);
        q.addBindValue(kLivenessClass);
        q.addBindValue(livenessScope());
        q.addBindValue(node);
        q.addBindValue(m_livenessToken);
        if (!q.exec() || !q.next()) {
            *error = QStringLiteral("the liveness lock of node %1: %2").arg(node, sqlErrorText(q.lastError()));
            return std::nullopt;
        }
        const int held = q.value(0).toInt();
        if (held == 2)
            qCInfo(lcLease).noquote() << node << "holds its liveness lock" << (m_scopePrefix.isEmpty() ? QString() : m_scopePrefix);
        return held == 0 ? Liveness::HeldElsewhere : held == 2 ? Liveness::Taken : Liveness::Held;
    });
}

std::optional<QStringList> LeaseStore::nodesWithoutLiveness(const QString &node, qint64 nowMs, QString *error)
{
    if (!m_postgres)
        return QStringList();
    return withReconnect(m_connection, error, [&]() -> std::optional<QStringList> {
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("SELECT DISTINCT node FROM dvr_leases WHERE state = 'pending' AND node IS NOT NULL AND node <> ? "
                                 "AND lease_until >= ? AND %1 AND %2 ORDER BY node")
                      .arg(scopeCondition(), unlockedCondition()));
        q.addBindValue(node);
        q.addBindValue(nowMs);
        for (const QVariant &v : scopeValues())
            q.addBindValue(v);
        for (const QVariant &v : unlockedValues())
            q.addBindValue(v);
        if (!q.exec()) {
            *error = QStringLiteral("reading which nodes hold their liveness lock: %1").arg(sqlErrorText(q.lastError()));
            return std::nullopt;
        }
        QStringList nodes;
        while (q.next())
            nodes << q.value(0).toString();
        return nodes;
    });
}

QString LeaseStore::unlockedCondition()
{
    // pg_locks is the lock manager's state now, not a snapshot: a lock taken a moment ago counts.
    return QStringLiteral("NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = ?::oid "
                          "AND l.objid = (%1)::oid AND l.objsubid = 2 AND l.granted)")
        .arg(livenessKeySql(QStringLiteral("dvr_leases.node")));
}

QVariantList LeaseStore::unlockedValues() const
{
    return {QVariant(qint64(kLivenessClass)), QVariant(livenessScope())};
}

QString LeaseStore::livenessScope() const
{
    // Never a null QString: bound, that is SQL NULL, and the key would be NULL too.
    return m_scopePrefix.isEmpty() ? QStringLiteral("") : m_scopePrefix;
}

std::optional<QList<LeaseClaim>> LeaseStore::reclaim(const QString &node, qint64 leaseMs, qint64 nowMs, QString *error)
{
    return take(node, true, std::numeric_limits<int>::max(), leaseMs, nowMs, error);
}

std::optional<QList<LeaseClaim>> LeaseStore::take(const QString &node, bool own, int max, qint64 leaseMs, qint64 nowMs,
                                                  QString *error, const QStringList &goneNodes)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<LeaseClaim>> {
        QSqlDatabase db = QSqlDatabase::database(m_connection);
        QList<LeaseClaim> claims;
        if (max <= 0)
            return claims;
        // SQLite: take the write lock first, so two processes never both read the same free rows.
        if (!exec(m_postgres ? QStringLiteral("BEGIN") : QStringLiteral("BEGIN IMMEDIATE"), error))
            return std::nullopt;
        auto rollback = [&](const QString &what, const QSqlQuery &q) {
            *error = QStringLiteral("%1 for node %2: %3").arg(what, node, sqlErrorText(q.lastError()));
            QString ignored;
            exec(QStringLiteral("ROLLBACK"), &ignored);
            return std::nullopt;
        };
        // Free or expired; or held by a gone node whose liveness lock nobody holds (checked again
        // here: it may have come back since it was seen without); or (own) held by this node,
        // expired or not.
        QString gone;
        QVariantList goneValues;
        if (!own && !goneNodes.isEmpty()) {
            gone = QStringLiteral(" OR (node IN (%1) AND %2)")
                       .arg(QStringList(goneNodes.size(), QStringLiteral("?")).join(u", "), unlockedCondition());
            for (const QString &n : goneNodes)
                goneValues << n;
            goneValues << unlockedValues();
        }
        const QString claimable = (own ? QStringLiteral("state = 'pending' AND node = ? AND ")
                                       : QStringLiteral("state = 'pending' AND (node IS NULL OR lease_until < ?%1) AND ").arg(gone))
            + scopeCondition();
        const QVariantList condition = (own ? QVariantList{node} : QVariantList{nowMs} + goneValues) + scopeValues();
        QSqlQuery select(db);
        select.prepare(QStringLiteral("SELECT id, spec, node, takeovers, lease_until, epoch FROM dvr_leases WHERE %1 ORDER BY id LIMIT ?")
                           .arg(claimable)
                       + (m_postgres ? QStringLiteral(" FOR UPDATE SKIP LOCKED") : QString()));
        for (const QVariant &v : condition)
            select.addBindValue(v);
        select.addBindValue(max);
        if (!select.exec())
            return rollback(QStringLiteral("selecting recordings to claim"), select);
        while (select.next()) {
            LeaseClaim c;
            c.job.id = select.value(0).toString();
            c.job.spec = select.value(1).toString().toUtf8();
            c.previousNode = select.value(2).toString();
            c.job.takeovers = select.value(3).toInt() + (c.previousNode.isEmpty() || c.previousNode == node ? 0 : 1);
            c.job.holderGone = !c.previousNode.isEmpty() && c.previousNode != node && select.value(4).toLongLong() >= nowMs;
            c.job.state = QStringLiteral("pending");
            c.job.node = node;
            c.job.leaseUntilMs = nowMs + leaseMs;
            c.job.epoch = select.value(5).toLongLong() + 1; // every claim, a takeback too, is a new writer
            claims.append(c);
        }
        QSqlQuery update(db);
        // The epoch as read, repeated: the row is the one selected (FOR UPDATE on PostgreSQL, the
        // write lock on SQLite hold it anyway).
        update.prepare(QStringLiteral("UPDATE dvr_leases SET node = ?, lease_until = ?, takeovers = ?, epoch = ? WHERE id = ? "
                                      "AND epoch = ? AND %1")
                           .arg(claimable));
        QList<LeaseClaim> won;
        for (const LeaseClaim &c : claims) {
            update.addBindValue(node);
            update.addBindValue(c.job.leaseUntilMs);
            update.addBindValue(c.job.takeovers);
            update.addBindValue(c.job.epoch);
            update.addBindValue(c.job.id);
            update.addBindValue(c.job.epoch - 1);
            for (const QVariant &v : condition)
                update.addBindValue(v);
            if (!update.exec())
                return rollback(QStringLiteral("claiming recording %1").arg(c.job.id), update);
            if (update.numRowsAffected() == 1)
                won.append(c);
        }
        if (!exec(QStringLiteral("COMMIT"), error))
            return std::nullopt;
        for (const LeaseClaim &c : won) {
            if (c.previousNode.isEmpty())
                qCInfo(lcLease).noquote() << node << "claimed" << c.job.id;
            else if (c.previousNode == node)
                qCInfo(lcLease).noquote() << node << "took back" << c.job.id << "(it held it before it restarted)";
            else if (c.job.holderGone)
                qCWarning(lcLease).noquote() << node << "took over" << c.job.id << "from" << c.previousNode
                                             << "(its liveness lock is free: its process or its database session ended)";
            else
                qCWarning(lcLease).noquote() << node << "took over" << c.job.id << "from" << c.previousNode << "(its lease expired)";
        }
        return won;
    });
}

std::optional<QStringList> LeaseStore::renew(const QString &node, qint64 leaseMs, qint64 nowMs, QString *error,
                                             const QStringList &except)
{
    const QString excluded = except.isEmpty()
        ? QString()
        : QStringLiteral(" AND id NOT IN (%1)").arg(QStringList(except.size(), QStringLiteral("?")).join(u", "));
    return withReconnect(m_connection, error, [&]() -> std::optional<QStringList> {
        QSqlDatabase db = QSqlDatabase::database(m_connection);
        QSqlQuery update(db);
        // Expired or not, what the table still says this node holds is renewed: nobody claimed it
        // meanwhile, so nobody else records it (a node whose loop was blocked past its lease goes on
        // without a break). A row another node claimed names that node, and stays its own; one being
        // claimed at this moment is decided by the row lock (PostgreSQL: the claim's UPDATE repeats
        // its condition and finds the lease renewed) or the write lock (SQLite).
        update.prepare(QStringLiteral("UPDATE dvr_leases SET lease_until = ? WHERE node = ? AND state = 'pending' AND ")
                       + scopeCondition() + excluded);
        update.addBindValue(nowMs + leaseMs);
        update.addBindValue(node);
        for (const QVariant &v : scopeValues())
            update.addBindValue(v);
        for (const QString &id : except)
            update.addBindValue(id);
        if (!update.exec()) {
            *error = QStringLiteral("renewing the leases of node %1: %2").arg(node, sqlErrorText(update.lastError()));
            return std::nullopt;
        }
        QSqlQuery select(db);
        select.prepare(QStringLiteral("SELECT id FROM dvr_leases WHERE node = ? AND state = 'pending' AND lease_until >= ? AND %1%2 ORDER BY id")
                           .arg(scopeCondition(), excluded));
        select.addBindValue(node);
        select.addBindValue(nowMs + leaseMs);
        for (const QVariant &v : scopeValues())
            select.addBindValue(v);
        for (const QString &id : except)
            select.addBindValue(id);
        if (!select.exec()) {
            *error = QStringLiteral("reading the leases of node %1: %2").arg(node, sqlErrorText(select.lastError()));
            return std::nullopt;
        }
        QStringList ids;
        while (select.next())
            ids << select.value(0).toString();
        return ids;
    });
}

bool LeaseStore::finish(const QString &id, const QString &node, const QString &state, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("UPDATE dvr_leases SET state = ?, node = NULL, lease_until = 0 WHERE id = ? AND node = ?"));
        q.addBindValue(state);
        q.addBindValue(id);
        q.addBindValue(node);
        if (!q.exec()) {
            *error = QStringLiteral("finishing recording %1 on node %2: %3").arg(id, node, sqlErrorText(q.lastError()));
            return false;
        }
        if (q.numRowsAffected() != 1) {
            *error = QStringLiteral("finishing recording %1 on node %2: the node does not hold it (taken over, or unknown)").arg(id, node);
            return false;
        }
        return true;
    });
}

bool LeaseStore::reopen(const QString &id, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("UPDATE dvr_leases SET state = 'pending', node = NULL, lease_until = 0 WHERE id = ? AND state <> 'pending'"));
        q.addBindValue(id);
        if (!q.exec()) {
            *error = QStringLiteral("reopening recording %1: %2").arg(id, sqlErrorText(q.lastError()));
            return false;
        }
        return true;
    });
}

bool LeaseStore::release(const QString &node, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("UPDATE dvr_leases SET node = NULL, lease_until = 0 WHERE node = ? AND state = 'pending' AND ")
                  + scopeCondition());
        q.addBindValue(node);
        for (const QVariant &v : scopeValues())
            q.addBindValue(v);
        if (!q.exec()) {
            *error = QStringLiteral("releasing the leases of node %1: %2").arg(node, sqlErrorText(q.lastError()));
            return false;
        }
        return true;
    });
}

bool LeaseStore::releaseOne(const QString &id, const QString &node, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("UPDATE dvr_leases SET node = NULL, lease_until = 0 WHERE id = ? AND node = ? AND state = 'pending'"));
        q.addBindValue(id);
        q.addBindValue(node);
        if (!q.exec()) {
            *error = QStringLiteral("handing over %1 from node %2: %3").arg(id, node, sqlErrorText(q.lastError()));
            return false;
        }
        if (q.numRowsAffected() != 1) {
            *error = QStringLiteral("handing over %1 from node %2: the node does not hold it").arg(id, node);
            return false;
        }
        return true;
    });
}

std::optional<qint64> LeaseStore::nextExpiry(const QString &node, qint64 nowMs, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<qint64> {
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("SELECT MIN(lease_until) FROM dvr_leases WHERE state = 'pending' AND node IS NOT NULL AND node <> ? "
                                 "AND lease_until >= ? AND %1")
                      .arg(scopeCondition()));
        q.addBindValue(node);
        q.addBindValue(nowMs);
        for (const QVariant &v : scopeValues())
            q.addBindValue(v);
        if (!q.exec()) {
            *error = QStringLiteral("reading when the leases expire: %1").arg(sqlErrorText(q.lastError()));
            return std::nullopt;
        }
        return q.next() && !q.value(0).isNull() ? q.value(0).toLongLong() : 0;
    });
}

std::optional<QList<LeaseJob>> LeaseStore::scopedJobs(QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<LeaseJob>> {
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("SELECT id, node, lease_until, takeovers FROM dvr_leases WHERE state = 'pending' AND %1 ORDER BY id")
                      .arg(scopeCondition()));
        for (const QVariant &v : scopeValues())
            q.addBindValue(v);
        if (!q.exec()) {
            *error = QStringLiteral("reading the lease table: %1").arg(sqlErrorText(q.lastError()));
            return std::nullopt;
        }
        QList<LeaseJob> out;
        while (q.next())
            out.append({q.value(0).toString(), {}, QStringLiteral("pending"), q.value(1).toString(), q.value(2).toLongLong(),
                        q.value(3).toInt()});
        return out;
    });
}

std::optional<QList<LeaseJob>> LeaseStore::held(qint64 nowMs, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<LeaseJob>> {
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("SELECT id, node, lease_until FROM dvr_leases WHERE state = 'pending' AND node IS NOT NULL "
                                 "AND lease_until >= ? ORDER BY id"));
        q.addBindValue(nowMs);
        if (!q.exec()) {
            *error = QStringLiteral("reading the leases held: %1").arg(sqlErrorText(q.lastError()));
            return std::nullopt;
        }
        QList<LeaseJob> out;
        while (q.next())
            out.append({q.value(0).toString(), {}, QStringLiteral("pending"), q.value(1).toString(), q.value(2).toLongLong(), 0});
        return out;
    });
}

std::optional<QList<LeaseJob>> LeaseStore::jobs(QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<LeaseJob>> {
        QSqlQuery q(QSqlDatabase::database(m_connection));
        if (!q.exec(QStringLiteral("SELECT id, spec, state, node, lease_until, takeovers, epoch FROM dvr_leases ORDER BY id"))) {
            *error = QStringLiteral("listing the lease table: %1").arg(sqlErrorText(q.lastError()));
            return std::nullopt;
        }
        QList<LeaseJob> out;
        while (q.next()) {
            out.append({q.value(0).toString(), q.value(1).toString().toUtf8(), q.value(2).toString(), q.value(3).toString(),
                        q.value(4).toLongLong(), q.value(5).toInt()});
            out.last().epoch = q.value(6).toLongLong();
        }
        return out;
    });
}

std::optional<qint64> LeaseStore::raiseEpoch(const QString &id, const QString &node, qint64 from, qint64 to, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<qint64> {
        // Conditional on the holder and the epoch it was given: a node that lost the lease meanwhile
        // (another claimed it, with a new epoch) raises nothing.
        QSqlQuery q(QSqlDatabase::database(m_connection));
        q.prepare(QStringLiteral("UPDATE dvr_leases SET epoch = ? WHERE id = ? AND node = ? AND epoch = ? AND state = 'pending'"));
        q.addBindValue(qMax(to, from + 1));
        q.addBindValue(id);
        q.addBindValue(node);
        q.addBindValue(from);
        if (!q.exec()) {
            *error = QStringLiteral("raising the epoch of %1 on node %2: %3").arg(id, node, sqlErrorText(q.lastError()));
            return std::nullopt;
        }
        error->clear();
        return q.numRowsAffected() == 1 ? qMax(to, from + 1) : 0;
    });
}

// --- keeper ------------------------------------------------------------------------------

/// The watchdog deadline is the earlier of two parts, each advanced by its own thread: the
/// renewal's (the keeper's thread) and the liveness lock's (the liveness thread).
struct LeaseKeeper::Watchdog
{
    std::mutex mutex;
    qint64 renewalBy = 0; ///< steadyNowMs(); max on SQLite
    qint64 livenessBy = std::numeric_limits<qint64>::max(); ///< max without liveness
    std::shared_ptr<std::atomic<qint64>> deadline;
    /// The liveness lock is held by another session of this node's name (its previous process
    /// not ended yet, or a second process started under the same name): this keeper neither
    /// reclaims nor claims until it takes the lock, so the two never record one copy.
    std::atomic<bool> heldElsewhere{false};

    void set(std::optional<qint64> renewal, std::optional<qint64> liveness)
    {
        const std::lock_guard<std::mutex> lock(mutex);
        if (renewal)
            renewalBy = *renewal;
        if (liveness)
            livenessBy = *liveness;
        deadline->store(std::min(renewalBy, livenessBy));
    }
};

/// Holds this node's liveness lock on a connection of its own and confirms it every interval,
/// away from the keeper's event loop: a blocked event loop leaves the session, and so the lock,
/// alive, and must not stop the work (the renewal's part of the deadline bounds that). Each
/// confirmation advances the liveness part of the deadline to half the grace after it was sent.
/// A lock it cannot confirm for half the grace (or takes again after that: it may have been free
/// long enough for the others to claim) is reported to the keeper (livenessGone), and its
/// confirmation again after that (livenessBack), both queued to the keeper's thread.
class LeaseKeeper::LivenessThread
{
public:
    LivenessThread(LeaseKeeper *keeper, const Settings &settings, std::shared_ptr<Watchdog> watchdog, quint64 generation)
        : m_keeper(keeper)
        , m_location(settings.location)
        , m_node(settings.node)
        , m_scope(settings.scope)
        , m_graceMs(settings.livenessGraceMs)
        , m_intervalMs(qBound<qint64>(20, settings.livenessIntervalMs, qMax<qint64>(20, settings.livenessGraceMs / 4)))
        , m_watchdog(std::move(watchdog))
        , m_generation(generation)
    {
    }

    ~LivenessThread()
    {
        {
            const std::lock_guard<std::mutex> lock(m_mutex);
            m_stopping = true;
        }
        m_wake.notify_all();
        if (m_thread.joinable())
            m_thread.join(); // its connection closes with it: the lock is free
    }

    /// Starts the thread and waits for its first check: false with *error when the lock could
    /// not be asked for (the database could not be reached).
    bool start(QString *error)
    {
        m_thread = std::thread([this] { run(); });
        std::unique_lock<std::mutex> lock(m_mutex);
        m_wake.wait(lock, [this] { return m_firstDone; });
        if (!m_firstError.isEmpty()) {
            *error = m_firstError;
            return false;
        }
        return true;
    }

private:
    void run()
    {
        LeaseStore store; // opened, used and closed on this thread (QtSql connections are per thread)
        QString error;
        std::optional<LeaseStore::Liveness> held;
        const qint64 firstSent = steadyNowMs();
        if (store.open(m_location, &error)) {
            store.setScope(m_scope);
            held = store.holdLiveness(m_node, &error);
            if (held)
                m_watchdog->heldElsewhere.store(*held == LeaseStore::Liveness::HeldElsewhere);
        }
        {
            const std::lock_guard<std::mutex> lock(m_mutex);
            m_firstDone = true;
            m_firstError = held ? QString() : error;
        }
        m_wake.notify_all();
        if (!held)
            return;
        qint64 confirmedAt = firstSent;
        m_watchdog->set(std::nullopt, confirmedAt + m_graceMs / 2);
        bool gone = false;
        bool heldElsewhereSaid = false;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(m_mutex);
                if (m_wake.wait_for(lock, std::chrono::milliseconds(m_intervalMs), [this] { return m_stopping; }))
                    return;
            }
            // Sent now: if the lock is found held, nobody could see it free before this moment,
            // so nobody may claim this node's work before this moment plus the grace period.
            const qint64 sent = steadyNowMs();
            held = store.holdLiveness(m_node, &error);
            if (held) {
                m_watchdog->heldElsewhere.store(*held == LeaseStore::Liveness::HeldElsewhere);
                if (*held == LeaseStore::Liveness::HeldElsewhere && !heldElsewhereSaid) {
                    // Its previous process's session, not ended yet (or another node's key, by a
                    // hash collision): held all the same, so the others do not take this node's
                    // work early; this node takes the lock the moment that session ends.
                    heldElsewhereSaid = true;
                    qCWarning(lcLease).noquote() << m_node << "finds its liveness lock held by another session (its previous "
                                                              "process?); it takes it when that session ends";
                } else if (*held != LeaseStore::Liveness::HeldElsewhere) {
                    heldElsewhereSaid = false;
                }
                if (*held == LeaseStore::Liveness::Taken && !gone && sent - confirmedAt > m_graceMs / 2) {
                    // A new session took the lock (the connection was opened again), but after more
                    // than half the grace: it may have been free long enough for the others to
                    // claim. The keeper stops what it holds, then takes back what is still its own.
                    gone = true;
                    report(QStringLiteral("took its liveness lock again %1 ms after it last confirmed it").arg(sent - confirmedAt));
                }
                confirmedAt = sent;
                m_watchdog->set(std::nullopt, confirmedAt + m_graceMs / 2);
                if (std::exchange(gone, false)) {
                    const quint64 generation = m_generation;
                    LeaseKeeper *keeper = m_keeper;
                    QMetaObject::invokeMethod(
                        keeper, [keeper, generation] { keeper->livenessBack(generation); }, Qt::QueuedConnection);
                }
            } else if (!gone && steadyNowMs() - confirmedAt > m_graceMs / 2) {
                // The lock may have been free since just after the last confirmation: the others
                // may claim this node's work a grace period after that. The work has stopped at
                // the deadline (from its own threads); the keeper gives it up.
                gone = true;
                report(QStringLiteral("could not confirm its liveness lock for %1 ms (%2)").arg(steadyNowMs() - confirmedAt).arg(error));
            }
        }
    }

    void report(const QString &why)
    {
        const quint64 generation = m_generation;
        LeaseKeeper *keeper = m_keeper;
        QMetaObject::invokeMethod(
            keeper, [keeper, generation, why] { keeper->livenessGone(generation, why); }, Qt::QueuedConnection);
    }

    LeaseKeeper *const m_keeper; // outlives this thread (its stop() joins it)
    const QString m_location;
    const QString m_node;
    const QString m_scope;
    const qint64 m_graceMs;
    const qint64 m_intervalMs;
    const std::shared_ptr<Watchdog> m_watchdog;
    const quint64 m_generation;
    std::thread m_thread;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_stopping = false;
    bool m_firstDone = false;
    QString m_firstError;
};

LeaseKeeper::LeaseKeeper(QObject *parent) : QObject(parent), m_watchdog(std::make_shared<Watchdog>())
{
    m_watchdog->deadline = m_deadline;
    qRegisterMetaType<iptv::dvr::LeaseJob>();
    connect(&m_timer, &QTimer::timeout, this, &LeaseKeeper::tick);
    m_expiry.setSingleShot(true);
    m_expiry.setTimerType(Qt::PreciseTimer);
    connect(&m_expiry, &QTimer::timeout, this, &LeaseKeeper::tick);
    m_liveness.setTimerType(Qt::PreciseTimer);
    connect(&m_liveness, &QTimer::timeout, this, &LeaseKeeper::watchOthers);
    m_clock.start();
}

LeaseKeeper::~LeaseKeeper()
{
    stop();
}

bool LeaseKeeper::start(const Settings &settings, QString *error)
{
    stop();
    m_settings = settings;
    if (!m_store.open(settings.location, error))
        return false;
    m_store.setScope(settings.scope, settings.ids);
    // Claims are looked for every tenth of the lease period, so a dead node's recordings are
    // taken over at most a tenth of a period after its leases expire; renewals every third.
    m_timer.start(int(qMax<qint64>(50, settings.leaseMs / 10)));
    m_lastRenewMs = 0;
    m_reclaim = true;
    m_livenessLost = false;
    m_freeSince.clear();
    m_renewSentAt = 0;
    ++m_generation;
    m_watchdog->set(std::nullopt, std::numeric_limits<qint64>::max());
    updateDeadline();
    if (livenessOn()) {
        // The lock first: a node that claims holds it, so the others never see it free while it
        // records. Its own thread and connection hold it from now on (LivenessThread).
        m_livenessThread = std::make_unique<LivenessThread>(this, settings, m_watchdog, m_generation);
        if (!m_livenessThread->start(error)) {
            stop();
            return false;
        }
        m_liveness.start(int(qBound<qint64>(20, settings.livenessIntervalMs, qMax<qint64>(20, settings.livenessGraceMs / 4))));
    }
    claimNow();
    return true;
}

void LeaseKeeper::claimNow()
{
    QMetaObject::invokeMethod(this, &LeaseKeeper::tick, Qt::QueuedConnection);
}

void LeaseKeeper::setPeers(const QList<LeasePeer> &peers)
{
    m_settings.peers = peers;
    claimNow();
}

void LeaseKeeper::setShareTotal(int total)
{
    m_settings.shareTotal = total;
    claimNow();
}

void LeaseKeeper::setIds(const QStringList &ids)
{
    m_settings.ids = ids;
    m_store.setScope(m_settings.scope, ids);
    // What is held out of scope is no longer renewed: let it go now rather than at expiry.
    for (const QString &id : m_held) {
        if (!ids.isEmpty() && !ids.contains(id))
            Q_EMIT lost(id, false);
    }
    if (!ids.isEmpty())
        m_held.removeIf([&](const QString &id) { return !ids.contains(id); });
    claimNow();
}

void LeaseKeeper::release()
{
    if (m_timer.isActive()) {
        QString error;
        if (!m_store.release(m_settings.node, &error))
            qCWarning(lcLease).noquote() << error << "(they move to other nodes when their leases expire)";
    }
    stop();
}

void LeaseKeeper::stop()
{
    m_timer.stop();
    m_expiry.stop();
    m_liveness.stop();
    m_livenessThread.reset(); // its session ends: the lock is free
    ++m_generation;           // what it reported and is still queued is ignored
    m_freeSince.clear();
    m_store.close();
    m_held.clear();
    m_heldBack.clear();
    m_abandoned.clear();
    m_pinned.clear();
    m_unclaimedSince.clear();
    m_revoked.clear(); // the fences handed out stay as they are: the work stops as its owner says
}

void LeaseKeeper::holdRelease(const QString &id)
{
    m_heldBack.insert(id, steadyNowMs());
}

void LeaseKeeper::releaseHeld(const QString &id)
{
    // Stopped since (release() freed it), claimed again meanwhile (expired, then taken back), or
    // given up (abandonStuckHandOvers: another node may hold it already).
    if (!m_heldBack.remove(id) || !m_timer.isActive() || m_held.contains(id))
        return;
    freeHandedOver(id);
}

qint64 LeaseKeeper::handOverLimitMs() const
{
    return m_settings.handOverLimitMs > 0 ? m_settings.handOverLimitMs : 3 * m_settings.leaseMs;
}

std::function<bool()> LeaseKeeper::writeFence(const QString &id)
{
    std::shared_ptr<std::atomic<bool>> &revoked = m_revoked[id];
    if (!revoked)
        revoked = std::make_shared<std::atomic<bool>>(false);
    return [deadline = m_deadline, revoked = revoked] {
        return !revoked->load(std::memory_order_relaxed) && steadyNowMs() < deadline->load(std::memory_order_relaxed);
    };
}

void LeaseKeeper::abandonStuckHandOvers()
{
    const qint64 now = steadyNowMs();
    const qint64 limit = handOverLimitMs();
    for (auto it = m_heldBack.begin(); it != m_heldBack.end();) {
        const qint64 waited = now - it.value();
        if (waited < limit) {
            ++it;
            continue;
        }
        const QString id = it.key();
        it = m_heldBack.erase(it);
        // Fenced first, then no longer renewed: the last renewal still holds, so nobody may claim
        // it yet, and the work writes nothing more from now on (checked before every write).
        if (const std::shared_ptr<std::atomic<bool>> revoked = m_revoked.take(id))
            revoked->store(true);
        m_abandoned.insert(id);
        qCWarning(lcLease).noquote() << m_settings.node
                                     << QStringLiteral("gives up the hand-over of %1: its work has not stopped %2 s after it was "
                                                       "handed over (the limit is %3 s: a source or a disk stuck?); its writes are "
                                                       "fenced off and its lease is no longer renewed, so another node takes it "
                                                       "within %4 s")
                                            .arg(id)
                                            .arg(double(waited) / 1000, 0, 'f', 1)
                                            .arg(double(limit) / 1000, 0, 'f', 1)
                                            .arg(double(m_settings.leaseMs) / 1000, 0, 'f', 1);
        Q_EMIT handOverAbandoned(id, waited);
    }
}

void LeaseKeeper::freeHandedOver(const QString &id)
{
    QString error;
    if (m_store.releaseOne(id, m_settings.node, &error))
        Q_EMIT released(id);
    else
        Q_EMIT failed(error); // its lease expires, and another node takes it then
}

bool LeaseKeeper::finish(const QString &id, const QString &state, QString *error)
{
    m_held.removeAll(id);
    return m_store.finish(id, m_settings.node, state, error);
}

qint64 LeaseKeeper::steadyNowMs()
{
    QElapsedTimer t; // CLOCK_MONOTONIC, as m_clock
    t.start();
    return t.msecsSinceReference();
}

void LeaseKeeper::updateDeadline()
{
    if (!m_store.isPostgres()) {
        m_watchdog->set(std::numeric_limits<qint64>::max(), std::numeric_limits<qint64>::max());
        return;
    }
    // A renewal sent at T extends the leases to T + lease (the others' clocks, NTP-close): they
    // may be claimed from then; a quarter of a period is the margin for the work to stop. The
    // lock's part (half the grace after its last confirmation was sent) is the liveness thread's.
    m_watchdog->set(m_renewSentAt > 0 ? m_renewSentAt + m_settings.leaseMs * 3 / 4 : 0, std::nullopt);
}

bool LeaseKeeper::stopIfOverdue()
{
    if (m_held.isEmpty() || !m_timer.isActive() || steadyNowMs() < m_deadline->load())
        return false;
    qCWarning(lcLease).noquote() << m_settings.node
                                 << QStringLiteral("ran again %1 ms after its watchdog deadline (its thread was blocked, or its "
                                                   "lock went unconfirmed): the work on all %2 it holds has stopped by itself; it "
                                                   "takes back what nobody took meanwhile")
                                        .arg(steadyNowMs() - m_deadline->load())
                                        .arg(m_held.size());
    const QStringList stopped = std::exchange(m_held, {});
    for (const QString &id : stopped)
        Q_EMIT lost(id, false);
    // Taken back by the renewal (tick) once the deadline is ahead again: the renewal's part
    // renewed, the lock's confirmed by the liveness thread (or, lost, after livenessBack()).
    m_renewNow = true;
    return true;
}

void LeaseKeeper::giveBack(const QString &id)
{
    if (!m_held.removeAll(id))
        return;
    qCWarning(lcLease).noquote() << m_settings.node << "gave up" << id
                                 << "(its work stopped at the watchdog deadline); it takes it back when nobody took it meanwhile";
    m_renewNow = true;
}

void LeaseKeeper::takeBack(const QStringList &ids)
{
    if (steadyNowMs() >= m_deadline->load()) {
        // The work would stop at once: after the next confirmation (or renewal).
        for (const QString &id : ids)
            m_held.removeAll(id);
        m_renewNow = true;
        return;
    }
    QString error;
    const std::optional<QList<LeaseJob>> jobs = m_store.jobs(&error);
    if (!jobs) {
        // Not held here until they can be read: the next renewal tries again.
        for (const QString &id : ids)
            m_held.removeAll(id);
        Q_EMIT failed(error);
        return;
    }
    for (LeaseJob job : *jobs) {
        if (!ids.contains(job.id))
            continue;
        // A new epoch, as any claim's: the writer that stopped (it may still have a write in
        // flight) is fenced off from the one that starts now.
        const std::optional<qint64> epoch = m_store.raiseEpoch(job.id, m_settings.node, job.epoch, job.epoch + 1, &error);
        if (!epoch || *epoch == 0) {
            m_held.removeAll(job.id);
            if (!epoch)
                Q_EMIT failed(error);
            else
                qCWarning(lcLease).noquote() << m_settings.node << "does not take back" << job.id << "(another node claimed it meanwhile)";
            continue;
        }
        job.epoch = *epoch;
        qCInfo(lcLease).noquote() << m_settings.node << "took back" << job.id << "(it had given it up; nobody took it since), epoch"
                                  << job.epoch;
        Q_EMIT claimed(job, m_settings.node);
    }
}

void LeaseKeeper::tick()
{
    stopIfOverdue();
    if (!m_timer.isActive() || m_livenessLost)
        return; // without its liveness lock this node neither renews nor claims (livenessBack)
    if (m_watchdog->heldElsewhere.load() && m_held.isEmpty())
        return; // another process of this name works: nothing taken until its session ends
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const qint64 sentAt = steadyNowMs();
    QString error;
    if (m_reclaim) {
        // What this node held before it was restarted, renewed and taken back before anything
        // else (its own renewal would otherwise keep them without anyone recording them).
        const std::optional<QList<LeaseClaim>> own = m_store.reclaim(m_settings.node, m_settings.leaseMs, now, &error);
        if (!own) {
            Q_EMIT failed(error);
            return;
        }
        m_reclaim = false;
        m_lastRenewMs = now;
        m_renewSentAt = sentAt;
        updateDeadline();
        for (const LeaseClaim &c : *own) {
            m_held << c.job.id;
            Q_EMIT claimed(c.job, c.previousNode);
        }
    }
    if (std::exchange(m_renewNow, false) || now - m_lastRenewMs >= m_settings.leaseMs / 3) {
        abandonStuckHandOvers();
        const QStringList abandoned(m_abandoned.cbegin(), m_abandoned.cend());
        const std::optional<QStringList> still = m_store.renew(m_settings.node, m_settings.leaseMs, now, &error, abandoned);
        if (!still) {
            Q_EMIT failed(error);
            // Not renewed for most of a period: the leases are about to expire and another node
            // may claim them, so this node stops first (a gap, never two writers).
            if (now - m_lastRenewMs >= m_settings.leaseMs * 3 / 4) {
                for (const QString &id : std::as_const(m_held)) {
                    qCWarning(lcLease).noquote() << m_settings.node << "gives up" << id
                                                 << "(its lease could not be renewed and is about to expire)";
                    Q_EMIT lost(id, false);
                }
                m_held.clear();
            }
            return;
        }
        if (now - m_lastRenewMs > m_settings.leaseMs && m_held.size() > 0) {
            // This thread did not run for most of a period (a blocked event loop, a stopped
            // process): what nobody took meanwhile is kept, the rest is lost below.
            qCWarning(lcLease).noquote() << m_settings.node
                                         << QStringLiteral("renewed its leases %1 s after the last renewal (lease %2 s): they had "
                                                           "expired; %3 of %4 were still its own")
                                                .arg(double(now - m_lastRenewMs) / 1000, 0, 'f', 1)
                                                .arg(double(m_settings.leaseMs) / 1000, 0, 'f', 1)
                                                .arg(still->size())
                                                .arg(m_held.size());
        }
        m_lastRenewMs = now;
        m_renewSentAt = sentAt;
        updateDeadline();
        for (const QString &id : std::as_const(m_held)) {
            if (!still->contains(id)) {
                qCWarning(lcLease).noquote() << m_settings.node << "lost" << id << "(its lease expired and another node took it)";
                Q_EMIT lost(id, false);
            }
        }
        // Given up while the table could not be reached, and nobody took them since: this node
        // records them again (without this, it would renew them and record nothing).
        // A lease being handed over (its work stopping, holdRelease) is renewed until it is freed,
        // so that nobody claims it before, but it is not this node's work any more: not taken back.
        QStringList again;
        QStringList held;
        for (const QString &id : std::as_const(*still)) {
            if (m_heldBack.contains(id) || m_abandoned.contains(id))
                continue;
            held << id;
            if (!m_held.contains(id))
                again << id;
        }
        m_held = held;
        // The fences of leases neither held nor handed over any more (lost, finished) go; those
        // handed out stay as they are.
        for (auto it = m_revoked.begin(); it != m_revoked.end();) {
            if (!m_held.contains(it.key()) && !m_heldBack.contains(it.key()))
                it = m_revoked.erase(it);
            else
                ++it;
        }
        if (!again.isEmpty())
            takeBack(again);
    }
    if (steadyNowMs() >= m_deadline->load())
        return; // what it claimed would stop at once (the lock not confirmed lately): later
    const int room = m_settings.peers.isEmpty() ? m_settings.capacity - int(m_held.size()) : balance(now);
    if (room <= 0)
        return;
    const std::optional<QList<LeaseClaim>> claims = m_store.claim(m_settings.node, room, m_settings.leaseMs, now, &error, goneNodes());
    if (!claims) {
        Q_EMIT failed(error);
        return;
    }
    for (const LeaseClaim &c : *claims) {
        m_held << c.job.id;
        m_abandoned.remove(c.job.id); // expired, nobody took it: this node's again, renewed from now on
        if (!m_settings.peers.isEmpty() && m_held.size() > m_share) {
            m_pinned.insert(c.job.id); // beyond its share: nobody else took it (balance)
            qCInfo(lcLease).noquote() << m_settings.node << "claimed" << c.job.id << "beyond its share of" << m_share
                                      << "(no other node took it for a lease period): it keeps it";
        }
        Q_EMIT claimed(c.job, c.previousNode);
    }
    if (claims->size() < room && m_timer.isActive())
        watchExpiry(now);
}

void LeaseKeeper::watchExpiry(qint64 nowMs)
{
    // The regular look comes every tenth of a period; a lease expiring before then (its holder
    // stopped renewing: dead) is claimed the moment it may be. A holder that is alive renews it
    // first, and the look finds nothing.
    QString error;
    const std::optional<qint64> at = m_store.nextExpiry(m_settings.node, nowMs, &error);
    if (!at || *at == 0)
        return;
    const qint64 wait = *at + 1 - QDateTime::currentMSecsSinceEpoch();
    if (wait >= m_timer.remainingTime() && m_timer.remainingTime() >= 0)
        return;
    if (!m_expiry.isActive() || m_expiry.remainingTime() > wait)
        m_expiry.start(int(qMax<qint64>(0, wait)));
}

QStringList LeaseKeeper::goneNodes() const
{
    QStringList gone;
    const qint64 now = m_clock.elapsed();
    for (auto it = m_freeSince.cbegin(); it != m_freeSince.cend(); ++it) {
        if (now - it.value() >= m_settings.livenessGraceMs)
            gone << it.key();
    }
    gone.sort();
    return gone;
}

void LeaseKeeper::livenessGone(quint64 generation, const QString &why)
{
    if (generation != m_generation || !m_timer.isActive() || m_livenessLost)
        return;
    m_livenessLost = true;
    // Its work stopped at the deadline already (from its own threads); what it holds is given up
    // here, and taken back after livenessBack() when nobody took it meanwhile.
    qCWarning(lcLease).noquote() << m_settings.node
                                 << QStringLiteral("%1: it stops all %2 it holds, as the others may take them over %3 ms after "
                                                   "the lock was lost")
                                        .arg(why)
                                        .arg(m_held.size())
                                        .arg(m_settings.livenessGraceMs);
    const QStringList given = std::exchange(m_held, {});
    for (const QString &id : given)
        Q_EMIT lost(id, false);
    Q_EMIT failed(why);
}

void LeaseKeeper::livenessBack(quint64 generation)
{
    if (generation != m_generation || !m_timer.isActive() || !m_livenessLost)
        return;
    m_livenessLost = false;
    qCInfo(lcLease).noquote() << m_settings.node << "has its liveness lock again: it takes back what nobody took meanwhile";
    m_renewNow = true; // what is still its own is taken back (tick)
    tick();
}

void LeaseKeeper::watchOthers()
{
    if (!m_timer.isActive() || !livenessOn())
        return;
    stopIfOverdue();
    if (m_livenessLost)
        return;
    QString error;
    // The others: a holder of unexpired leases whose lock nobody holds has ended. Gone once its
    // lock has stayed free for the grace period (it may only be reconnecting).
    const std::optional<QStringList> free = m_store.nodesWithoutLiveness(m_settings.node, QDateTime::currentMSecsSinceEpoch(), &error);
    if (!free) {
        Q_EMIT failed(error);
        return;
    }
    const qint64 now = m_clock.elapsed();
    bool newlyGone = false;
    for (auto it = m_freeSince.begin(); it != m_freeSince.end();) {
        if (!free->contains(it.key()))
            it = m_freeSince.erase(it); // back (or its leases left it)
        else
            ++it;
    }
    for (const QString &n : *free) {
        auto it = m_freeSince.find(n);
        if (it == m_freeSince.end()) {
            m_freeSince.insert(n, now);
            qCInfo(lcLease).noquote() << m_settings.node << "sees node" << n << "without its liveness lock";
        } else if (now - it.value() >= m_settings.livenessGraceMs) {
            newlyGone = true;
        }
    }
    if (newlyGone)
        tick(); // claims what they held, up to this node's room or share
}

int LeaseKeeper::balance(qint64 nowMs)
{
    QString error;
    const std::optional<QList<LeaseJob>> rows = m_store.scopedJobs(&error);
    if (!rows) {
        Q_EMIT failed(error);
        return 0;
    }
    // A peer holding an expired lease is dead (or cut off, and stops by itself at 3/4 of a
    // period): the work is shared among the others, who take its items over now.
    QSet<QString> dead;
    for (const QString &n : goneNodes())
        dead.insert(n); // its session ended: as dead as an expired lease says
    QHash<QString, int> holding;
    for (const LeaseJob &j : *rows) {
        if (j.node.isEmpty())
            continue;
        if ((j.leaseUntilMs < nowMs || dead.contains(j.node)) && j.node != m_settings.node)
            dead.insert(j.node);
        else
            ++holding[j.node];
    }
    QList<LeasePeer> living;
    for (const LeasePeer &p : std::as_const(m_settings.peers)) {
        if (!dead.contains(p.node))
            living.append(p);
    }
    if (std::none_of(living.cbegin(), living.cend(), [this](const LeasePeer &p) { return p.node == m_settings.node; }))
        living.append({m_settings.node, 1});
    const int total = m_settings.shareTotal > 0 ? m_settings.shareTotal
        : m_settings.ids.isEmpty()              ? int(rows->size())
                                                : int(m_settings.ids.size());
    const QHash<QString, int> shares = fairShares(living, total);
    const int mine = shares.value(m_settings.node);
    m_share = mine;
    // The peers' scopes may differ from this one's (a node claims only the archives its guide
    // has): an item nobody else took for a whole lease period is one no peer under its share can
    // take. This node claims it beyond its share (stale below) and never hands it over (pinned),
    // handing over its other items instead: nothing in its scope stays unrecorded, and a hand-over
    // to a peer that cannot take it costs one gap, not one every look.
    m_pinned.intersect(QSet<QString>(m_held.cbegin(), m_held.cend()));
    const qint64 steadyNow = steadyNowMs();
    QSet<QString> unclaimed;
    for (const LeaseJob &j : *rows) {
        if (j.node.isEmpty() || (j.node != m_settings.node && dead.contains(j.node)))
            unclaimed.insert(j.id);
    }
    for (auto it = m_unclaimedSince.begin(); it != m_unclaimedSince.end();) {
        if (!unclaimed.contains(it.key()))
            it = m_unclaimedSince.erase(it);
        else
            ++it;
    }
    int stale = 0;
    for (const QString &id : std::as_const(unclaimed)) {
        const qint64 since = m_unclaimedSince.value(id, -1);
        if (since < 0)
            m_unclaimedSince.insert(id, steadyNow);
        else if (steadyNow - since >= m_settings.leaseMs)
            ++stale;
    }
    if (m_held.size() > mine) {
        // Over its share: one item goes back, but only when a living peer is under its own and
        // so takes it (the nodes' lists of each other may differ for a moment), and never one
        // that nobody else took (pinned).
        const bool wanted = std::any_of(living.cbegin(), living.cend(), [&](const LeasePeer &p) {
            return p.node != m_settings.node && holding.value(p.node) < shares.value(p.node);
        });
        QStringList held = m_held;
        held.removeIf([this](const QString &id) { return m_pinned.contains(id); });
        if (wanted && !held.isEmpty()) {
            held.sort();
            const QString id = held.last();
            qCInfo(lcLease).noquote() << m_settings.node << "hands" << id << "over (it holds" << m_held.size() << "of" << total
                                      << ", its share is" << mine << ")";
            // Stopped here first, then freed: never two writers.
            m_held.removeAll(id);
            m_heldBack.remove(id);
            Q_EMIT lost(id, true);
            if (!m_heldBack.contains(id))
                freeHandedOver(id);
            return 0;
        }
        return stale;
    }
    return qMax(mine - int(m_held.size()), stale);
}

} // namespace iptv::dvr
