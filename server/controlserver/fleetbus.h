#pragma once

// The seam for scale-out. A node talks to "the fleet" through a FleetBus: it routes a command to
// whichever node holds the box's session, and publishes live updates (presence, telemetry,
// command states, aggregates) that every node's operator subscribers may want. The base class
// owns the signals; implementations only decide how messages travel.
//
// LocalFleetBus is the single-node implementation: publications loop straight back, and a
// command for a box that is not connected here has nowhere to go (it stays queued in the store
// and is delivered when the box reconnects). A Redis implementation (hiredis + its Qt adapter)
// would PUBLISH to per-node and fleet channels and emit the same signals for what it receives.

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
    /// Publishes an update on `topic` ("fleet", "box:<id>", "commands", "rollouts").
    virtual void publish(const QString &topic, const QCborMap &update) = 0;
    /// True when other nodes share the store: a box's commands may have been issued elsewhere,
    /// and operators elsewhere may watch this node's command updates.
    virtual bool isShared() const { return false; }

Q_SIGNALS:
    /// Another node (or this one) asks this node to deliver a command to a box it may hold.
    void commandRouted(qint64 boxId, qint64 commandId);
    /// An update for operator subscribers, from any node.
    void published(const QString &topic, const QCborMap &update);
};

class LocalFleetBus : public FleetBus
{
    Q_OBJECT
public:
    using FleetBus::FleetBus;
    void routeCommand(qint64, qint64) override {}
    void publish(const QString &topic, const QCborMap &update) override { Q_EMIT published(topic, update); }
};

} // namespace iptv::control
