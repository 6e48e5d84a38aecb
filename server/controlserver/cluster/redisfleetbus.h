#pragma once

// FleetBus over Redis pub/sub, for several controlserver nodes behind a load balancer that share
// one PostgreSQL. Commands are rows in the shared database; what travels through Redis is only
// "deliver command C to box B" and the live updates operators subscribe to.
//
// Every node subscribes to two channels (routes and updates) and hears everything: a box's
// session lives on exactly one node, which delivers; the others drop the route. That costs a
// message per node, which is nothing for the handful of nodes a fleet needs, and keeps no
// box-to-node table that could go stale when a box moves between nodes. A node never hears its own
// messages back. Routes and updates are
// coalesced per event-loop turn into one CBOR array, so a command to 100,000 boxes is a few
// PUBLISHes, not 100,000. When Redis is down, nothing is lost that matters: commands wait in the
// database and are delivered when the box's node hears of them or the box reconnects.

#include "fleetbus.h"

#include <QCborArray>
#include <QTimer>

namespace iptv::redis {
class RedisClient;
}

namespace iptv::control {

class RedisFleetBus : public FleetBus
{
    Q_OBJECT

public:
    /// `prefix` names the cluster's channels, so two clusters may share a Redis.
    RedisFleetBus(const QString &nodeId, const QString &host, quint16 port, const QString &prefix = QStringLiteral("iptv"),
                  QObject *parent = nullptr);
    ~RedisFleetBus() override;

    void routeCommand(qint64 boxId, qint64 commandId) override;
    void publish(const QString &topic, const QCborMap &update) override;
    bool isShared() const override { return true; }

    QString nodeId() const override { return m_nodeId; }
    bool isConnected() const;
    quint64 publishFailures() const { return m_publishFailures; }

Q_SIGNALS:
    void connectionChanged(bool connected);

private:
    void flush();
    void receive(const QByteArray &channel, const QByteArray &message);

    QString m_nodeId;
    QByteArray m_routesChannel;
    QByteArray m_updatesChannel;
    redis::RedisClient *m_redis;
    QCborArray m_pendingRoutes;  ///< [box, command, box, command, ...]
    QCborArray m_pendingUpdates; ///< [topic, update, topic, update, ...]
    QTimer m_flush;
    quint64 m_publishFailures = 0;
};

} // namespace iptv::control
