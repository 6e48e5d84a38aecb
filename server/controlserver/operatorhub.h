#pragma once

// The operator WebSocket (port 8422): hello with a token from POST /api/login, then
// subscribe{topics} (fleet | box:<id> | commands | rollouts; each subscribe replaces the set)
// and update pushes. Binary CBOR frames and JSON text frames are both accepted and each is
// answered in kind.
//
// Pushes: box telemetry and events of subscribed boxes as they arrive, command state changes as
// they happen, and on "fleet" the presence changes (boxes online/offline) and the fleet summary,
// both coalesced to at most one update a second, so a reconnect storm is a few updates, not
// 19,000.

#include "operators.h"

#include <protocol/message.h>

#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QSet>

QT_BEGIN_NAMESPACE
class QWebSocket;
class QWebSocketServer;
QT_END_NAMESPACE

namespace iptv::control {

class ControlServer;
class FleetBus;

class OperatorHub : public QObject
{
    Q_OBJECT
public:
    explicit OperatorHub(ControlServer *server);
    ~OperatorHub() override;

    bool listen(const QHostAddress &address, quint16 port, QString *error);
    quint16 port() const;
    void close();
    /// Takes updates to push from `bus`.
    void attach(FleetBus *bus);

    /// True when some operator session here subscribes to `topic` (skip building updates otherwise).
    bool hasSubscribers(const QString &topic) const { return m_topicCounts.value(topic) > 0; }
    void notePresence(qint64 boxId, bool online);
    /// Telemetry changed the aggregates: the next tick sends a summary.
    void noteFleetChanged() { m_fleetChanged = true; }
    /// Once a second: coalesced presence and summary updates on "fleet".
    void tick();
    int sessionCount() const { return int(m_sessions.size()); }

private:
    struct Session
    {
        QWebSocket *socket = nullptr;
        std::optional<OperatorIdentity> identity;
        QSet<QString> topics;
        bool json = false;
        quint64 lastInId = 0;
        quint64 nextOutId = 1;
    };
    void adopt(QWebSocket *socket);
    void onFrame(Session *s, const QByteArray &frame, bool json);
    void send(Session *s, const iptv::protocol::Message &m);
    void fail(Session *s, iptv::protocol::ErrorCode code, const QString &text, quint64 re, bool close);
    void setTopics(Session *s, const QSet<QString> &topics);
    void push(const QString &topic, const QCborMap &update);
    QCborMap summaryUpdate() const;

    ControlServer *m_server;
    QWebSocketServer *m_ws = nullptr;
    FleetBus *m_bus = nullptr;
    QHash<QWebSocket *, Session *> m_sessions;
    QHash<QString, int> m_topicCounts;
    QList<qint64> m_cameOnline;
    QList<qint64> m_wentOffline;
    bool m_fleetChanged = true;
};

} // namespace iptv::control
