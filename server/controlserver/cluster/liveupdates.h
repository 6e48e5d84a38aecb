#pragma once

// The one path of every live update (the operator WebSocket's topics fleet, box:<id>, commands,
// rollouts) and the one rule for all of them: an update is built only when someone follows its
// topic, on this node or on another node of the cluster; it is delivered to this node's followers
// (operator sessions, services such as a rollout waiting for command results) and sent over the
// bus only when another node follows the topic. So a box's telemetry goes to Redis only while an
// operator somewhere follows that box, and costs two integer reads per sample while nobody
// follows any box.
//
// Interest: each node tells the others which topics it follows, at once when that changes and
// with every heartbeat (2 s); a node not heard from for four heartbeats is forgotten with its
// topics and share.
//
// The fleet summary is not forwarded (each node's would count only its own boxes): each node
// sends its share (FleetShare: what the online boxes it holds report) with every heartbeat, and
// within a second of a change while anyone follows "fleet"; every node's summary (the "fleet"
// push and GET /api/fleet/summary) adds up its own share and the latest share of each node it
// hears from.

#include "boxes/fleet.h"

#include <QCborMap>
#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QSet>
#include <QString>
#include <QTimer>

namespace iptv::control {

class FleetBus;

class LiveUpdates : public QObject
{
    Q_OBJECT
public:
    /// `fleet`: this node's boxes (its share of the summary).
    explicit LiveUpdates(Fleet *fleet, QObject *parent = nullptr);

    /// The bus to the other nodes (ControlServer::setBus); a LocalFleetBus means no other node.
    void attach(FleetBus *bus);

    /// Someone on this node (an operator session, a service) starts or stops following `topic`;
    /// the other nodes hear of it at the end of this event-loop turn.
    void follow(const QString &topic);
    void unfollow(const QString &topic);
    /// Tells the other nodes now what this node follows (before routes sent in this same turn:
    /// the bus sends updates first).
    void announceInterest() { announce(false); }

    /// True when someone anywhere in the cluster follows `topic`: build the update, or skip it.
    bool wants(const QString &topic) const { return m_local.value(topic) > 0 || m_remote.value(topic) > 0; }
    /// True when someone on this node follows `topic`.
    bool wantsHere(const QString &topic) const { return m_local.value(topic) > 0; }
    /// Whether anyone anywhere follows "fleet" (read on every telemetry sample: an int).
    bool watchesFleet() const { return m_fleetFollowers > 0; }
    /// Whether anyone anywhere follows some box (before building a "box:<id>" topic per sample).
    bool watchesBoxes() const { return m_boxFollowers > 0; }

    /// Delivers `update` to this node's followers of `topic` and sends it to the nodes that follow it.
    void publish(const QString &topic, const QCborMap &update);

    /// This node's fleet changed (telemetry, presence, an approval): its share and the summary are due.
    void noteFleetChanged()
    {
        m_fleetChanged = true;
        m_ownStale = true;
    }
    /// The summary over the whole cluster: this node's registry counts, every node's share online.
    QJsonObject summary();
    /// True (once) when the summary may have changed since the last call.
    bool takeSummaryChanged();
    /// Once a second: interest heartbeat, forgetting silent nodes, this node's share.
    void tick();

    /// Nodes heard from within four heartbeats.
    int peerCount() const { return int(m_peers.size()); }
    /// How often this node says what it follows and sends its share (tests shorten it).
    void setHeartbeatInterval(qint64 ms) { m_heartbeatMs = ms; }
    static constexpr qint64 DefaultHeartbeatMs = 2000;

Q_SIGNALS:
    /// An update for this node's followers of `topic`, published here or by another node.
    void updated(const QString &topic, const QCborMap &update);

private:
    struct Peer
    {
        QSet<QString> topics;
        FleetShare share;
        bool hasShare = false;
        qint64 heardMs = 0;
    };
    void receive(const QString &topic, const QCborMap &message);
    void setPeerTopics(Peer &peer, const QSet<QString> &topics);
    void dropPeer(const QString &node);
    void countFollowers();
    void scheduleAnnounce();
    void announce(bool withShare);
    bool isClustered() const;
    const FleetShare &ownShare();

    Fleet *m_fleet;
    FleetBus *m_bus = nullptr;
    QString m_nodeId;
    QElapsedTimer m_clock;
    QHash<QString, int> m_local;  ///< topic -> followers on this node
    QHash<QString, int> m_remote; ///< topic -> nodes following it
    int m_localBoxTopics = 0;     ///< "box:<id>" follows on this node
    int m_remoteBoxTopics = 0;    ///< "box:<id>" topics over the other nodes
    int m_fleetFollowers = 0;
    int m_boxFollowers = 0;
    QHash<QString, Peer> m_peers;
    QTimer m_announce; ///< coalesces interest changes of one event-loop turn into one message
    qint64 m_heartbeatMs = DefaultHeartbeatMs;
    qint64 m_lastHeartbeatMs = -DefaultHeartbeatMs;
    FleetShare m_own;
    FleetShare m_sentShare;
    bool m_ownStale = true;
    bool m_fleetChanged = true;
    bool m_peersChanged = false;
    bool m_shareDue = false;
};

} // namespace iptv::control
