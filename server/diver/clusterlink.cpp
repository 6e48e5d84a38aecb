#include "clusterlink.h"

#include <core/sqldatabase.h>

#include <QAtomicInteger>
#include <QDateTime>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <utility>

Q_LOGGING_CATEGORY(lcCluster, "iptv.diver.cluster", QtInfoMsg)

namespace iptv::diver {

namespace {
QAtomicInteger<quint64> s_links;
const QString s_channel = QStringLiteral("diver_changes");
/// The database's clock in ms: one clock for every node's entries and heartbeats.
const QString s_dbNowMs = QStringLiteral("(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT");
/// Log entries are read again this long after their time: one committed a moment after a later
/// one (sequence numbers are taken before commit) is still read.
constexpr qint64 kReorderMs = 5000;
/// The log keeps an hour; a node away longer reloads everything when it comes back (a restart).
constexpr qint64 kKeepLogMs = 3600 * 1000;
constexpr qint64 kPruneEveryMs = 60 * 1000;
/// A node not seen for this long is removed from dvr_nodes (it is not live long before).
constexpr qint64 kForgetNodeMs = 24 * 3600 * 1000;

QString kindName(ClusterChange::Kind kind)
{
    switch (kind) {
    case ClusterChange::Kind::Rule: return QStringLiteral("rule");
    case ClusterChange::Kind::RuleRemoved: return QStringLiteral("rule-removed");
    case ClusterChange::Kind::History: return QStringLiteral("history");
    case ClusterChange::Kind::CopyRemoved: return QStringLiteral("copy-removed");
    case ClusterChange::Kind::Nodes: return QStringLiteral("nodes");
    case ClusterChange::Kind::Leases: return QStringLiteral("leases");
    case ClusterChange::Kind::CopyEnd: return QStringLiteral("copy-end");
    case ClusterChange::Kind::Unknown: break;
    }
    return QStringLiteral("unknown");
}

ClusterChange::Kind kindOf(const QString &name)
{
    for (auto k : {ClusterChange::Kind::Rule, ClusterChange::Kind::RuleRemoved, ClusterChange::Kind::History,
                   ClusterChange::Kind::CopyRemoved, ClusterChange::Kind::Nodes, ClusterChange::Kind::Leases,
                   ClusterChange::Kind::CopyEnd}) {
        if (kindName(k) == name)
            return k;
    }
    return ClusterChange::Kind::Unknown;
}
} // namespace

ClusterLink::ClusterLink(QObject *parent) : QObject(parent)
{
    const quint64 n = s_links.fetchAndAddRelaxed(1);
    m_query = QStringLiteral("diver-cluster-%1").arg(n);
    m_listen = QStringLiteral("diver-cluster-listen-%1").arg(n);
}

ClusterLink::~ClusterLink()
{
    closeSqlDatabase(m_listen);
    closeSqlDatabase(m_query);
}

bool ClusterLink::open(const QString &location, const QString &node, int capacity, const QStringList &archives, QString *error)
{
    m_node = node;
    m_capacity = capacity;
    QStringList sorted = archives;
    sorted.sort();
    m_archives = sorted.join(u',');
    for (const QString &name : {m_query, m_listen}) {
        const auto backend = openSqlDatabase(location, name, error);
        if (!backend)
            return false;
        if (*backend != SqlBackend::PostgreSQL) {
            *error = QStringLiteral("the cluster tables need PostgreSQL (one node on SQLite has no others to tell)");
            closeSqlDatabase(name);
            return false;
        }
    }
    const bool schema = execSchema(
        m_query,
        {QStringLiteral("CREATE TABLE IF NOT EXISTS dvr_nodes (node TEXT PRIMARY KEY, capacity INTEGER NOT NULL, "
                        "last_seen BIGINT NOT NULL)"),
         // Added after the table: a database made by an older diver gets it here.
         QStringLiteral("ALTER TABLE dvr_nodes ADD COLUMN IF NOT EXISTS archives TEXT NOT NULL DEFAULT ''"),
         QStringLiteral("ALTER TABLE dvr_nodes ADD COLUMN IF NOT EXISTS stopped BOOLEAN NOT NULL DEFAULT false"),
         // A node of an older diver, which does not write it, claims archives as soon as it runs.
         QStringLiteral("ALTER TABLE dvr_nodes ADD COLUMN IF NOT EXISTS archiving BOOLEAN NOT NULL DEFAULT true"),
         QStringLiteral("CREATE TABLE IF NOT EXISTS dvr_changes (seq BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, kind TEXT NOT NULL, "
                        "item BIGINT NOT NULL DEFAULT 0, at BIGINT NOT NULL)"),
         QStringLiteral("CREATE INDEX IF NOT EXISTS dvr_changes_at ON dvr_changes (at)")},
        error);
    if (!schema) {
        *error = QStringLiteral("creating the cluster tables: %1").arg(*error);
        return false;
    }
    QSqlDriver *driver = QSqlDatabase::database(m_listen, false).driver();
    connect(driver, &QSqlDriver::notification, this, &ClusterLink::onNotification);
    if (!driver->subscribeToNotification(s_channel)) {
        *error = QStringLiteral("LISTEN %1: %2").arg(s_channel, sqlErrorText(driver->lastError()));
        return false;
    }
    m_open = true;
    // What was logged before now is in the rules and history this node loads at start.
    QSqlQuery q(QSqlDatabase::database(m_query, false));
    if (!q.exec(QStringLiteral("SELECT ") + s_dbNowMs) || !q.next()) {
        *error = QStringLiteral("reading the database's clock: %1").arg(sqlErrorText(q.lastError()));
        return false;
    }
    m_readSinceMs = q.value(0).toLongLong();
    m_read.clear();
    m_readAt.clear();
    if (!pending(error) || !heartbeat(QDateTime::currentMSecsSinceEpoch(), error) || !announce(ClusterChange::Kind::Nodes, 0, error))
        return false;
    qCInfo(lcCluster).noquote() << "node" << node << "joined the cluster with capacity" << capacity;
    return true;
}

void ClusterLink::leave()
{
    if (!m_open)
        return;
    QSqlQuery q(QSqlDatabase::database(m_query, false));
    // The row stays (its archives are still the cluster's), marked stopped: no longer live.
    q.prepare(QStringLiteral("UPDATE dvr_nodes SET stopped = true WHERE node = ?"));
    q.addBindValue(m_node);
    QString error;
    if (!q.exec() || !announce(ClusterChange::Kind::Nodes, 0, &error))
        qCWarning(lcCluster).noquote() << "node" << m_node << "could not unregister:"
                                       << (error.isEmpty() ? sqlErrorText(q.lastError()) : error)
                                       << "(the others drop it after a lease period)";
    m_open = false;
    QSqlDatabase::database(m_listen, false).driver()->disconnect(this);
    closeSqlDatabase(m_listen);
    closeSqlDatabase(m_query);
}

void ClusterLink::setArchiving(bool archiving)
{
    if (std::exchange(m_archiving, archiving) == archiving || !m_open)
        return;
    QString error;
    if (!heartbeat(QDateTime::currentMSecsSinceEpoch(), &error) || !announce(ClusterChange::Kind::Nodes, 0, &error))
        qCWarning(lcCluster).noquote() << "node" << m_node << "could not say that it" << (archiving ? "claims" : "no longer claims")
                                       << "archives now:" << error << "(said with its next heartbeat)";
}

bool ClusterLink::heartbeat(qint64 nowMs, QString *error)
{
    return withReconnect(m_query, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_query, false));
        q.prepare(QStringLiteral("INSERT INTO dvr_nodes (node, capacity, archives, archiving, last_seen, stopped) "
                                 "VALUES (?, ?, ?, ?, %1, false) "
                                 "ON CONFLICT (node) DO UPDATE SET capacity = excluded.capacity, archives = excluded.archives, "
                                 "archiving = excluded.archiving, last_seen = excluded.last_seen, stopped = false")
                      .arg(s_dbNowMs));
        q.addBindValue(m_node);
        q.addBindValue(m_capacity);
        q.addBindValue(m_archives.isNull() ? QStringLiteral("") : m_archives); // NOT NULL
        q.addBindValue(m_archiving);
        if (!q.exec()) {
            *error = QStringLiteral("the heartbeat of node %1: %2").arg(m_node, sqlErrorText(q.lastError()));
            return false;
        }
        if (nowMs - m_lastPruneMs >= kPruneEveryMs) {
            m_lastPruneMs = nowMs;
            QSqlQuery prune(QSqlDatabase::database(m_query, false));
            prune.prepare(QStringLiteral("DELETE FROM dvr_changes WHERE at < %1 - ?").arg(s_dbNowMs));
            prune.addBindValue(kKeepLogMs);
            if (!prune.exec())
                qCWarning(lcCluster).noquote() << "pruning the change log:" << sqlErrorText(prune.lastError());
            // A node gone for a day (renamed, retired) leaves the table; a live one is never this old.
            QSqlQuery gone(QSqlDatabase::database(m_query, false));
            gone.prepare(QStringLiteral("DELETE FROM dvr_nodes WHERE last_seen < %1 - ?").arg(s_dbNowMs));
            gone.addBindValue(kForgetNodeMs);
            if (!gone.exec())
                qCWarning(lcCluster).noquote() << "forgetting nodes gone for a day:" << sqlErrorText(gone.lastError());
        }
        return true;
    });
}

std::optional<QList<ClusterNode>> ClusterLink::liveNodes(qint64 aliveMs, QString *error)
{
    return withReconnect(m_query, error, [&]() -> std::optional<QList<ClusterNode>> {
        QSqlQuery q(QSqlDatabase::database(m_query, false));
        q.prepare(QStringLiteral("SELECT node, capacity, last_seen, archiving FROM dvr_nodes WHERE last_seen >= %1 - ? AND NOT stopped "
                                 "ORDER BY node")
                      .arg(s_dbNowMs));
        q.addBindValue(aliveMs);
        if (!q.exec()) {
            *error = QStringLiteral("reading the live nodes: %1").arg(sqlErrorText(q.lastError()));
            return std::nullopt;
        }
        QList<ClusterNode> nodes;
        while (q.next())
            nodes.append({q.value(0).toString(), q.value(1).toInt(), q.value(2).toLongLong(), q.value(3).toBool()});
        return nodes;
    });
}

bool ClusterLink::checkListening(QString *error)
{
    if (!m_open)
        return false;
    // The listening connection only receives, so nothing else finds out that it dropped.
    const bool alive = withReconnect(m_listen, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_listen, false));
        if (q.exec(QStringLiteral("SELECT 1")))
            return true;
        *error = QStringLiteral("the connection listening for the other nodes' changes: %1").arg(sqlErrorText(q.lastError()));
        return false;
    });
    if (!alive)
        return false;
    QSqlDriver *driver = QSqlDatabase::database(m_listen, false).driver();
    if (driver->subscribedToNotifications().contains(s_channel))
        return true;
    // Opened again: listening again. Changes logged in between are read from the log.
    if (!driver->subscribeToNotification(s_channel)) {
        *error = QStringLiteral("LISTEN %1 again: %2").arg(s_channel, sqlErrorText(driver->lastError()));
        return false;
    }
    qCInfo(lcCluster).noquote() << "node" << m_node << "listens for the other nodes' changes again";
    Q_EMIT changed();
    return true;
}

std::optional<QSet<QString>> ClusterLink::archivedChannels(QString *error)
{
    return withReconnect(m_query, error, [&]() -> std::optional<QSet<QString>> {
        QSqlQuery q(QSqlDatabase::database(m_query, false));
        if (!q.exec(QStringLiteral("SELECT archives FROM dvr_nodes"))) {
            *error = QStringLiteral("reading the archived channels of the nodes: %1").arg(sqlErrorText(q.lastError()));
            return std::nullopt;
        }
        QSet<QString> channels;
        while (q.next()) {
            for (const QString &c : q.value(0).toString().split(u',', Qt::SkipEmptyParts))
                channels.insert(c);
        }
        return channels;
    });
}

bool ClusterLink::announce(ClusterChange::Kind kind, qint64 item, QString *error)
{
    return withReconnect(m_query, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_query, false));
        q.prepare(QStringLiteral("INSERT INTO dvr_changes (node, kind, item, at) VALUES (?, ?, ?, %1)").arg(s_dbNowMs));
        q.addBindValue(m_node);
        q.addBindValue(kindName(kind));
        q.addBindValue(item);
        QSqlQuery notify(QSqlDatabase::database(m_query, false));
        if (!q.exec() || !notify.exec(QStringLiteral("NOTIFY ") + s_channel)) {
            *error = QStringLiteral("announcing a change (%1 %2) to the other nodes: %3")
                         .arg(kindName(kind))
                         .arg(item)
                         .arg(sqlErrorText(q.lastError().isValid() ? q.lastError() : notify.lastError()));
            return false;
        }
        return true;
    });
}

std::optional<QList<ClusterChange>> ClusterLink::pending(QString *error)
{
    return withReconnect(m_query, error, [&]() -> std::optional<QList<ClusterChange>> {
        QSqlQuery q(QSqlDatabase::database(m_query, false));
        q.setForwardOnly(true);
        q.prepare(QStringLiteral("SELECT seq, node, kind, item, at FROM dvr_changes WHERE at >= ? ORDER BY seq"));
        q.addBindValue(m_readSinceMs - kReorderMs);
        if (!q.exec()) {
            *error = QStringLiteral("reading the change log: %1").arg(sqlErrorText(q.lastError()));
            return std::nullopt;
        }
        QList<ClusterChange> changes;
        qint64 latest = m_readSinceMs;
        while (q.next()) {
            const qint64 seq = q.value(0).toLongLong(), at = q.value(4).toLongLong();
            latest = qMax(latest, at);
            if (m_read.contains(seq))
                continue;
            m_read.insert(seq);
            m_readAt.insert(seq, at);
            const QString node = q.value(1).toString();
            if (node == m_node)
                continue;
            changes.append({seq, node, kindOf(q.value(2).toString()), q.value(3).toLongLong()});
        }
        m_readSinceMs = latest;
        for (auto it = m_readAt.begin(); it != m_readAt.end();) {
            if (it.value() < m_readSinceMs - 2 * kReorderMs) {
                m_read.remove(it.key());
                it = m_readAt.erase(it);
            } else {
                ++it;
            }
        }
        return changes;
    });
}

void ClusterLink::onNotification(const QString &name, QSqlDriver::NotificationSource source, const QVariant &payload)
{
    Q_UNUSED(source) // this node's own notifications come from its other connection: pending() skips them
    Q_UNUSED(payload)
    if (name == s_channel)
        Q_EMIT changed();
}

} // namespace iptv::diver
