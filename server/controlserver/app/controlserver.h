#pragma once

// controlserver: the fleet hub, the top layer (README.md, "Code"). Box sessions
// (boxes/boxgateway.h) feed it hellos, telemetry, events, acks and results through the
// BoxSessionHandler it implements; operators reach it over HTTP (http/httpapi.h, its routes in
// controlroutes.cpp) and WebSocket (operators/operatorhub.h); the release service reaches boxes
// through the BoxSender it implements, and every layer audits through it (AuditLog).
// It owns the store, the in-memory fleet, the live commands and the timers: a store flush every
// second (batched telemetry, last-seen, events and command states), a sweep every few seconds
// (command expiry), coalesced fleet updates for operator subscribers, and hourly pruning.
//
// Everything runs on the main thread; nothing here blocks longer than one store transaction.

#include "boxes/boxsessionhandler.h"
#include "boxes/commandqueue.h"
#include "boxes/fleet.h"
#include "domain/actionresult.h"
#include "domain/auditlog.h"
#include "domain/config.h"
#include "operators/operators.h"
#include "releases/boxsender.h"
#include "store/store.h"

#include <core/metrics.h>
#include <payload/keys.h>
#include <protocol/message.h>

#include <QJsonObject>
#include <QObject>
#include <QRegularExpression>
#include <QTimer>

#include <memory>

namespace iptv::control {

class BoxGateway;
class FleetBus;
class HttpApi;
class LiveUpdates;
class OperatorHub;
class ReleaseService;
struct BoxSession;
struct ClusterConfig;

class ControlServer : public QObject, public BoxSessionHandler, public AuditLog, public BoxSender
{
    Q_OBJECT
public:
    explicit ControlServer(ControlConfig config, QObject *parent = nullptr);
    ~ControlServer() override;

    /// Opens the store (creating the initial admin when there is no operator), loads the fleet
    /// and the live commands, and listens on the three ports.
    bool start(QString *error);
    /// Stops cleanly: listeners closed, sessions closed (going away), pending writes flushed.
    void stop();

    const ControlConfig &config() const { return m_config; }
    quint16 boxPort() const;
    quint16 httpPort() const;
    quint16 operatorWsPort() const;
    /// The generated initial admin password (empty when it came from a file or the environment).
    QString generatedAdminPassword() const { return m_generatedPassword; }
    qint64 now() const;

    ControlStore &store() { return m_store; }
    Fleet &fleet() { return m_fleet; }
    CommandQueue &commands() { return m_commands; }
    OperatorDirectory &operators() { return *m_operators; }
    iptv::MetricsRegistry &metrics() { return m_metrics; }
    /// The public half of the key that signs boxes' identity tickets (GET /api/ticket-key).
    iptv::payload::PublicKey ticketKey() const { return m_ticketKey.publicKey(); }
    BoxGateway *gateway() const { return m_gateway; }
    OperatorHub *operatorHub() const { return m_hub; }
    FleetBus *bus() const { return m_bus; }
    /// The one way live updates reach operators, here and on the other nodes (liveupdates.h).
    LiveUpdates *live() const { return m_live; }
    /// Releases and rollouts (releaseservice.h); configure it before start().
    ReleaseService *releases() const { return m_releases; }
    /// Replaces the local bus (scale-out); the server takes ownership.
    void setBus(FleetBus *bus);
    /// Writes queued telemetry, events and command states now.
    bool flush();
    /// The timer's flush: everything but the boxes' latest state, which goes every latestFlushSeconds.
    void periodicFlush();
    bool isHealthy() const;
    /// Why the store is unhealthy (its last error), empty while it is healthy.
    QString storeProblem() const { return m_storeHealthy ? QString() : m_store.lastError(); }

    // ---- from the box gateway
    void handleHello(BoxSession *session, const iptv::protocol::Message &message) override;
    void handleBoxMessage(BoxSession *session, const iptv::protocol::Message &message) override;
    /// A telemetry sample of an online box, `frame` the message as it came (stored as it is).
    void handleTelemetry(BoxSession *session, quint64 messageId, const iptv::protocol::Telemetry &telemetry,
                         const QByteArray &frame) override;
    void handleBoxGone(BoxSession *session) override;

    // ---- operator actions, each audited
    ActionResult approve(const OperatorIdentity &op, qint64 boxId);
    ActionResult reject(const OperatorIdentity &op, qint64 boxId);
    ActionResult setTags(const OperatorIdentity &op, qint64 boxId, const QStringList &tags);
    ActionResult setReleaseChannel(const OperatorIdentity &op, qint64 boxId, const QString &channel);
    /// {kind, args, target: {box | boxes | tag | filter | all}, expiresIn | expires}.
    ActionResult issueCommand(const OperatorIdentity &op, const QJsonObject &request);
    /// Commands the server issues itself (a rollout reaching boxes other nodes hold): stored, one
    /// audit entry as `account`, then delivered or routed like an operator's. `args[i]` goes to
    /// `boxes[i]`. The command ids in the same order; empty with *error when nothing was stored.
    QList<qint64> issueServerCommands(const QString &account, iptv::protocol::CommandKind kind, const QList<qint64> &boxes,
                                      const QList<QCborMap> &args, qint64 expires, QString *error) override;
    /// Appends to the audit log (committed when it returns true).
    bool audit(const QString &account, const QString &action, const QString &target, const QString &outcome,
               const QString &detail = {}) override;

    // ---- for the release service (BoxSender)
    bool isOnlineHere(qint64 boxId) const override;
    bool isOnlineInCluster(qint64 boxId) const override;
    bool sendToBox(qint64 boxId, iptv::protocol::MessageType type, const QCborMap &body) override;

    QJsonObject boxDetail(const BoxInfo &box);
    QJsonObject commandJson(const CommandRow &row) const;

Q_SIGNALS:
    void boxConnected(qint64 boxId, bool approved);
    void boxDisconnected(qint64 boxId);
    void boxEnrolled(qint64 boxId);
    void commandStateChanged(qint64 commandId, iptv::control::CommandState state);
    void telemetryReceived(qint64 boxId);
    /// A box reported an event (install and rollback events drive rollouts).
    void boxEventReceived(qint64 boxId, const iptv::protocol::BoxEvent &event);

private:
    /// Sends new commands to the boxes held here and routes the rest; how many went out now.
    int dispatchNewCommands(const QList<CommandRow> &rows, QJsonArray *ids);
    /// The commands other nodes routed here this turn: loaded in batches, sent to their boxes.
    void deliverRouted();
    void deliver(BoxSession *session);
    /// Cluster: the queued/delivered commands of the boxes that came online lately, from the store.
    void loadOtherNodesCommands();
    void sendCommand(BoxSession *session, LiveCommand *command);
    void setCommandState(qint64 id, qint64 boxId, CommandState state, const QString &text = {},
                         const QByteArray &data = {}, const QString &mime = {});
    void onTelemetry(BoxSession *s, const iptv::protocol::Message &m);
    void onEvent(BoxSession *s, const iptv::protocol::Message &m);
    void onAck(BoxSession *s, const iptv::protocol::Message &m);
    void onResult(BoxSession *s, const iptv::protocol::Message &m);
    void onTicketRequest(BoxSession *s, const iptv::protocol::Message &m);
    QByteArray issueToken(BoxInfo *box, QString *error);
    void sendWelcome(BoxSession *s, int version, const QByteArray &token, quint64 replyTo);
    void publishPresence(const BoxInfo &box);
    void tick();
    void sweep();
    void prune();

    ControlConfig m_config;
    iptv::MetricsRegistry m_metrics;
    ControlStore m_store;
    Fleet m_fleet;
    CommandQueue m_commands;
    std::unique_ptr<OperatorDirectory> m_operators;
    QByteArray m_hashKey;
    iptv::payload::SigningKey m_ticketKey; ///< signs boxes' identity tickets; its seed is in the store
    QRegularExpression m_autoApprove;
    QString m_generatedPassword;
    BoxGateway *m_gateway = nullptr;
    HttpApi *m_http = nullptr;
    OperatorHub *m_hub = nullptr;
    QList<std::pair<qint64, qint64>> m_routed; ///< (box, command) routed here, delivered at the end of the turn
    FleetBus *m_bus = nullptr;
    LiveUpdates *m_live = nullptr;
    ReleaseService *m_releases = nullptr;
    QTimer m_flushTimer;
    QTimer m_syncCommandsTimer;       ///< coalesces the store reads of boxes that came online (cluster)
    QList<qint64> m_unsyncedBoxes;    ///< came online since the last read of other nodes' commands
    qint64 m_latestFlushedAt = 0; // now() of the last flush with the boxes' latest state
    QTimer m_sweepTimer;
    QTimer m_tickTimer;
    QTimer m_pruneTimer;
    bool m_started = false;
    bool writeQueued(bool withLatest);
    bool m_storeHealthy = true;
    iptv::Counter *m_flushes = nullptr;
    iptv::Counter *m_commandSyncQueries = nullptr;
    iptv::Counter *m_flushFailures = nullptr;
    iptv::Counter *m_droppedTelemetry = nullptr;
    iptv::Counter *m_droppedEvents = nullptr;

    iptv::Counter *m_telemetryTotal = nullptr;
    iptv::Counter *m_acksTotal = nullptr;
    iptv::Counter *m_eventsTotal = nullptr;
    iptv::Counter *m_resultsTotal = nullptr;
    iptv::Counter *m_enrollments = nullptr;
};

/// Adds the server's own routes (health, metrics, login, boxes, commands, audit, operators) to `http`.
void addControlRoutes(HttpApi *http, ControlServer *server);

/// Sets up the Redis bus and the cluster's presence on `server` when `config` asks for a cluster.
bool joinCluster(ControlServer *server, const ClusterConfig &config, QString *error);

} // namespace iptv::control
