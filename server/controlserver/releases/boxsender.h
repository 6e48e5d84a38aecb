#pragma once

// How the release service reaches boxes, and no more: the sessions on this node and, in a
// cluster, the nodes that hold the others. ControlServer (app/) implements it over the box
// gateway, the fleet's presence and the bus; releases never see the gateway or the server.

#include <protocol/message.h>

#include <QCborMap>
#include <QList>
#include <QString>

namespace iptv::control {

class BoxSender
{
public:
    virtual ~BoxSender() = default;

    /// True when the box has an online session on this node.
    virtual bool isOnlineHere(qint64 boxId) const = 0;
    /// True in a cluster when the box is online on some node (the cluster's presence); false
    /// without a cluster.
    virtual bool isOnlineInCluster(qint64 boxId) const = 0;
    /// Sends `type` with `body` to a box online here; false when it is not.
    virtual bool sendToBox(qint64 boxId, iptv::protocol::MessageType type, const QCborMap &body) = 0;
    /// Commands to boxes other nodes hold: stored, one audit entry as `account`, then routed to
    /// their nodes. `args[i]` goes to `boxes[i]`. The command ids in the same order; empty with
    /// *error when nothing was stored.
    virtual QList<qint64> issueServerCommands(const QString &account, iptv::protocol::CommandKind kind,
                                              const QList<qint64> &boxes, const QList<QCborMap> &args, qint64 expires,
                                              QString *error) = 0;
};

} // namespace iptv::control
