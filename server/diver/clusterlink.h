#pragma once

// What diver nodes on one PostgreSQL database tell each other, so that each plans for the whole
// cluster and from the same rules without a restart:
//   dvr_nodes    one row per node: its name, capacity, the channels its [archive] lists,
//                whether it takes its share of the archives (its archive leases are running:
//                a node without a guide yet cannot), and when it was last seen (a heartbeat); a
//                node not seen for a lease period, or stopped, is not live; a node not seen for
//                a day is forgotten
//   dvr_changes  a log of what a node changed that the others hold in memory: a rule saved or
//                removed, the recorded history grown, a copy removed, a node come or gone, a
//                lease handed over (the others may claim it at once)
// A change is written to the log and announced with NOTIFY diver_changes; every node LISTENs (on
// a connection of its own, so a notification always wakes it) and reads the log at once, and
// reads it anyway every poll (a notification can be missed: a dropped connection). Reading the
// log again is harmless: applying a change re-reads the changed item from the database.
//
// Not used on SQLite (one node): there is nobody to tell.

#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QSqlDriver>
#include <QString>
#include <QStringList>

#include <optional>

namespace iptv::diver {

/// A node as the others see it.
struct ClusterNode
{
    QString name;
    int capacity = 0;
    qint64 lastSeenMs = 0;
    /// It claims archives (its archive leases run): the archives are shared out among these
    /// only, or one handed to a node that cannot claim it would be recorded by nobody.
    bool archiving = false;
    friend bool operator==(const ClusterNode &, const ClusterNode &) = default;
};

/// One entry of the change log.
struct ClusterChange
{
    enum class Kind : quint8 { Rule, RuleRemoved, History, CopyRemoved, Nodes, Leases, CopyEnd, Unknown };
    qint64 seq = 0;
    QString node;  ///< who made it
    Kind kind = Kind::Unknown;
    qint64 item = 0; ///< the rule or copy id
};

class ClusterLink : public QObject
{
    Q_OBJECT
public:
    explicit ClusterLink(QObject *parent = nullptr);
    ~ClusterLink() override;

    /// Opens two connections to the PostgreSQL `location` (one to query, one to listen), creates
    /// the tables and registers `node` with its capacity and its configured archives. Changes
    /// logged before now are not read.
    bool open(const QString &location, const QString &node, int capacity, const QStringList &archives, QString *error);
    /// Marks this node stopped (a clean stop: the others drop its capacity at once; its archives
    /// stay the cluster's) and closes.
    void leave();
    bool isOpen() const { return m_open; }

    /// This node is alive: its row's last_seen is now (the database's clock); once a minute (by
    /// `nowMs`, this node's clock) log entries older than an hour and nodes gone for a day go.
    bool heartbeat(qint64 nowMs, QString *error);
    /// Whether this node claims archives from now on (ClusterNode::archiving; false from open()):
    /// written at once and announced (the others share the archives out again), else with the
    /// next heartbeat.
    void setArchiving(bool archiving);
    /// The nodes seen within the last `aliveMs` (the database's clock), by name: the same list,
    /// in the same order, on every node.
    std::optional<QList<ClusterNode>> liveNodes(qint64 aliveMs, QString *error);
    /// The cluster's archived channels: what the [archive] of every node known lists (live,
    /// stopped or dead, until it is forgotten a day after it was last seen).
    std::optional<QSet<QString>> archivedChannels(QString *error);
    /// Checks the listening connection (a dropped one is opened again, with backoff, and LISTENs
    /// again: what was logged meanwhile is read from the log); false with *error while it cannot be.
    bool checkListening(QString *error);
    /// Logs a change and wakes the other nodes.
    bool announce(ClusterChange::Kind kind, qint64 item, QString *error);
    /// Changes made by other nodes that were not read yet, oldest first.
    std::optional<QList<ClusterChange>> pending(QString *error);

Q_SIGNALS:
    /// Another node announced a change: read pending().
    void changed();

private:
    void onNotification(const QString &name, QSqlDriver::NotificationSource source, const QVariant &payload);

    QString m_query, m_listen; ///< the two connections' names
    QString m_node;
    int m_capacity = 0;
    QString m_archives; ///< comma-separated, sorted
    bool m_archiving = false;
    bool m_open = false;
    qint64 m_readSinceMs = 0;     ///< log entries at or after this were read
    QSet<qint64> m_read;          ///< their sequence numbers (entries may commit out of order)
    QHash<qint64, qint64> m_readAt; ///< seq -> its time, to forget old ones
    qint64 m_lastPruneMs = 0;
};

} // namespace iptv::diver
