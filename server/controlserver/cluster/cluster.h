#pragma once

// Several controlserver nodes behind a load balancer: they share one PostgreSQL (--db
// postgresql://...) and talk through Redis (--redis host:port), each with its own --node name.
//
// What crosses nodes (RedisFleetBus): command routes ("deliver command C to box B" for boxes held
// elsewhere), the operators' live updates, and presence: ClusterPresence tells the other nodes
// which boxes came online or went offline here, twice a second, so every node's in-memory fleet
// (lists, filters, "command to all") covers the whole fleet, and learns boxes enrolled on
// another node from the shared store.

#include <QCommandLineParser>
#include <QLoggingCategory>
#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QString>
#include <QTimer>

Q_DECLARE_LOGGING_CATEGORY(lcCluster)

namespace iptv::control {

class ControlStore;
class Fleet;
class FleetBus;

struct ClusterConfig
{
    QString redisHost;   ///< empty = one node, no Redis
    quint16 redisPort = 6379;
    QString nodeId;      ///< unique per node; default host name + pid
    QString prefix = QStringLiteral("iptv"); ///< Redis channel prefix (several clusters on one Redis)

    bool enabled() const { return !redisHost.isEmpty(); }
};

void addClusterOptions(QCommandLineParser *parser);
/// From the flags, then the [cluster] group of the config file (--config) for what the flags leave.
bool loadClusterConfig(const QCommandLineParser &parser, ClusterConfig *config, QString *error);

/// Publishes this node's presence changes (told through noteConnected() and noteDisconnected())
/// and applies the other nodes' to the local fleet, reading boxes enrolled elsewhere from `store`.
class ClusterPresence : public QObject
{
    Q_OBJECT

public:
    ClusterPresence(Fleet *fleet, ControlStore *store, FleetBus *bus, const QString &nodeId, QObject *parent = nullptr);

    /// A box's session opened here (only approved boxes count).
    void noteConnected(qint64 boxId, bool approved);
    /// A box's session here ended.
    void noteDisconnected(qint64 boxId);

    /// Boxes online on other nodes, as this node knows them.
    int remoteOnline() const { return int(m_remote.size()); }

private:
    void flush();
    void apply(const QString &topic, const QCborMap &update);

    Fleet *m_fleet;
    ControlStore *m_store;
    FleetBus *m_bus;
    QString m_nodeId;
    QSet<qint64> m_local;          ///< sessions on this node
    QHash<qint64, QString> m_remote; ///< box -> the node holding it
    QList<qint64> m_cameOnline;
    QList<qint64> m_wentOffline;
    QTimer m_flush;
};

} // namespace iptv::control
