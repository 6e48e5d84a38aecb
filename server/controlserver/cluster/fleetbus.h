#pragma once

// The seam for scale-out. A node talks to the other nodes through a FleetBus: it routes a command
// to whichever node holds the box's session, and carries updates to the other nodes (the live
// updates their operators follow, and the cluster's own messages: presence, interest, fleet
// shares). It is transport only: what is published where is decided by LiveUpdates
// (liveupdates.h), which also delivers to this node's own followers. The base class owns the
// signals; implementations only decide how messages travel.
//
// LocalFleetBus is the single-node implementation: there is no other node, so routes and updates
// go nowhere (a command for a box that is not connected here stays queued in the store and is
// delivered when the box reconnects). RedisFleetBus (redisfleetbus.h) carries them over Redis.

#include <QCborMap>
#include <QObject>
#include <QString>

namespace iptv::control {

class FleetBus : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;
    ~FleetBus() override = default;

    /// Asks the node holding `boxId`'s session to deliver command `commandId` (from the store).
    virtual void routeCommand(qint64 boxId, qint64 commandId) = 0;
    /// Sends an update on `topic` to the other nodes (never back to this one).
    virtual void publish(const QString &topic, const QCborMap &update) = 0;
    /// This node's name in the cluster (empty without one).
    virtual QString nodeId() const { return {}; }
    /// True when other nodes share the store: a box's commands may have been issued elsewhere,
    /// and operators elsewhere may watch this node's command updates.
    virtual bool isShared() const { return false; }

Q_SIGNALS:
    /// Another node (or this one) asks this node to deliver a command to a box it may hold.
    void commandRouted(qint64 boxId, qint64 commandId);
    /// An update another node published.
    void published(const QString &topic, const QCborMap &update);
};

class LocalFleetBus : public FleetBus
{
    Q_OBJECT
public:
    using FleetBus::FleetBus;
    void routeCommand(qint64, qint64) override {}
    void publish(const QString &, const QCborMap &) override {}
};

} // namespace iptv::control
