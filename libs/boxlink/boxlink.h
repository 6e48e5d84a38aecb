#pragma once

// The box side of the control link (docs/protocol.md): one WebSocket to the control server,
// enrollment and token auth, telemetry acknowledged by the server, events, and commands run
// through the app's handler. Hubris runs one; tools/fleetsim runs thousands in one process with
// the same code, so load tests exercise what boxes really do.
//
// On a box:
//   FileCredentialStore store(stateDir);                 // secret + token, 0600
//   UpdateInstaller installer({stateDir, trustedKeys, firmwareVersion}, &store);
//   const QString slot = installer.beginBoot();          // load the QML from here (empty: built in)
//   BoxLink link({url, serial, mac, model, version}, &store);
//   link.setTelemetrySource(&hal); link.setCommandHandler(&commands); installer.attach(&link);
//   link.start();
//   ... once the UI came up healthy: installer.commit() (a no-op error when nothing is pending).
// The command handler passes InstallRelease to installer.execute(); everything else is the app's.

#include <core/backoff.h>
#include "deadlinescheduler.h"
#include "linktransport.h"

#include <protocol/message.h>

#include <QList>
#include <QDateTime>
#include <QHash>
#include <QObject>
#include <QPointer>
#include <QUrl>

#include <functional>
#include <memory>

namespace iptv::boxlink {

class CredentialStore;
class BoxLink;
class LatencyHistogram;

struct BoxLinkConfig
{
    QUrl serverUrl;          ///< ws://host:8420/box
    QString serial;
    QString mac;
    QString model;
    QString softwareVersion;
    QString releaseChannel = QStringLiteral("clean");
    int heartbeatMs = 0;     ///< ping interval; 0 = the server's (Welcome)
    int deadAfterMs = 0;     ///< no frame for this long = dead connection; 0 = 3 heartbeats
    int telemetryMs = 0;     ///< 0 = the server's (Welcome); <0 = no telemetry
    int connectTimeoutMs = 15000; ///< TCP + WebSocket handshake + Welcome
    int backoffBaseMs = 1000;
    int backoffCapMs = 60000;
    int stableSessionMs = 60000; ///< online this long: the next failure starts from the base again
    int maxUnackedTelemetry = 16; ///< resent after a reconnect; the oldest go first when full
    /// Samples sent and not yet acknowledged at once (MQTT's in-flight window). The rest wait,
    /// so a busy server slows the boxes down instead of being buried (QoS 1 flow control).
    int telemetryWindow = 8;
    int maxQueued = 64;           ///< events and results kept while offline
    int rememberedCommands = 256; ///< command ids kept to recognise a redelivery
    quint64 backoffSeed = 0;      ///< 0 = random; set for reproducible tests
    protocol::DecodeLimits limits;
    /// What the connection runs over; null = QWebSocket (WebSocketTransport). Must outlive the link.
    LinkTransport *transport = nullptr;
};

/// Supplies the telemetry sample when one is due (HAL and player state on a box, a fake in fleetsim).
class TelemetrySource
{
public:
    virtual ~TelemetrySource() = default;
    virtual protocol::Telemetry sample() = 0;
};

/// How a handler reports a command's outcome, now or later. Copyable; does nothing once the link
/// is gone or the command was already answered.
class CommandReply
{
public:
    CommandReply() = default;
    CommandReply(BoxLink *link, quint64 commandId);
    quint64 commandId() const { return m_commandId; }
    void succeed(const QString &text = {}, const QByteArray &data = {}, const QString &mimeType = {}) const;
    void fail(const QString &text, const QByteArray &data = {}, const QString &mimeType = {}) const;

private:
    QPointer<BoxLink> m_link;
    quint64 m_commandId = 0;
};

/// Runs commands for the link. The link has already acknowledged the command, checked its expiry
/// and filtered redeliveries; the handler only does the work and replies once.
class CommandHandler
{
public:
    virtual ~CommandHandler() = default;
    virtual void execute(const protocol::Command &command, const CommandReply &reply) = 0;
};

/// Counters for diagnostics and fleetsim's statistics.
struct BoxLinkStats
{
    quint64 connectAttempts = 0;
    quint64 sessions = 0;          ///< connections that reached Welcome
    quint64 telemetrySent = 0;     ///< including resends
    quint64 telemetryAcked = 0;
    quint64 telemetryDropped = 0;  ///< unacked when the queue overflowed
    quint64 telemetryResent = 0;
    quint64 commandsReceived = 0;
    quint64 commandsDuplicate = 0;
    quint64 commandsExpired = 0;
    quint64 resultsSent = 0;
    quint64 eventsSent = 0;
    quint64 errorsReceived = 0;
    quint64 deadConnections = 0;
    quint64 reenrollments = 0;
};

class BoxLink : public QObject, private DeadlineClient, private LinkHandler
{
    Q_OBJECT

public:
    enum class State : quint8 { Stopped, Disconnected, Connecting, Pending, Online };
    Q_ENUM(State)

    /// `store` and the optional handler/source must outlive the link. `scheduler`: shared by many
    /// links (fleetsim); null = the link makes its own.
    BoxLink(BoxLinkConfig config, CredentialStore *store, DeadlineScheduler *scheduler = nullptr,
            QObject *parent = nullptr);
    ~BoxLink() override;

    void setTelemetrySource(TelemetrySource *source) { m_telemetrySource = source; }
    void setCommandHandler(CommandHandler *handler) { m_commandHandler = handler; }
    /// Latency samples (telemetry ack round trip, command handling, connect-to-online) for fleetsim.
    void setLatencySinks(LatencyHistogram *telemetryRtt, LatencyHistogram *commandHandling,
                         LatencyHistogram *connectToOnline);

    /// Connects now and keeps reconnecting until stop().
    void start();
    /// Closes the connection and stays disconnected.
    void stop();
    /// Drops the connection as a crash or a cut cable would (no close frame) and reconnects after
    /// the ordinary backoff. fleetsim's reconnect storm.
    void dropConnection();
    /// Closes the connection and reconnects after `delayMs`, as a rebooting box would.
    void reconnectAfter(qint64 delayMs);

    State state() const { return m_state; }
    bool isOnline() const { return m_state == State::Online; }
    const BoxLinkConfig &config() const { return m_config; }
    /// Updates what the next hello reports (after an install).
    void setSoftwareVersion(const QString &version, const QString &releaseChannel = {});
    QString boxId() const { return m_boxId; }
    /// The release channel the server has this box in (welcome "rch"); empty until told. What
    /// the box runs now is config().releaseChannel; they differ until it installs from the new one.
    QString assignedReleaseChannel() const { return m_assignedChannel; }
    const BoxLinkStats &stats() const { return m_stats; }
    int telemetryIntervalMs() const { return m_telemetryMs; }
    int unackedTelemetry() const { return int(m_unacked.size()); }

    /// Sends an event now, or when back online (bounded queue).
    void sendEvent(const protocol::BoxEvent &event);
    /// Sends a telemetry sample now (it is also sent on the timer when a source is set).
    void sendTelemetry(const protocol::Telemetry &telemetry);
    /// Reports a command's outcome (CommandReply calls this).
    void finishCommand(const protocol::CommandResult &result);
    /// Asks the server for an identity ticket to show `audience` (e.g. "diver"; empty: any
    /// server). ticketReceived or ticketFailed follows; false (and nothing follows) when offline.
    bool requestTicket(const QString &audience = {});

Q_SIGNALS:
    void stateChanged(iptv::boxlink::BoxLink::State state);
    /// A Welcome with a token: stored in the CredentialStore before this is emitted.
    void approved(const QString &boxId);
    /// A command passed the expiry and duplicate checks and goes to the handler now.
    void commandReceived(const iptv::protocol::Command &command);
    void releaseAvailable(const iptv::protocol::ReleaseAvailable &release);
    void guideUpdated(const iptv::protocol::GuideUpdated &guide);
    /// An Error from the server (Unauthorized, Overloaded, Rejected, ...).
    void serverError(const iptv::protocol::ErrorBody &error);
    /// The server's answer to requestTicket(): the signed text (protocol/boxticket.h) and its expiry.
    void ticketReceived(const QString &audience, const QByteArray &ticket, const QDateTime &expires);
    /// A ticket request was refused, or the connection ended before the answer.
    void ticketFailed(const QString &audience, const QString &reason);
    /// The connection ended; `reason` says why, `reconnectInMs` when the next attempt is (-1: none).
    void disconnected(const QString &reason, qint64 reconnectInMs);

private:
    void deadlineReached(qint64 nowMs) override;
    void reschedule();
    void setState(State state);
    void openSocket();
    void closeSocket(bool abort);
    void connectionLost(const QString &reason);
    void scheduleReconnect(qint64 delayMs, const QString &reason);
    void linkConnected() override;
    void linkMessage(const QByteArray &message, bool text) override;
    void linkClosed(const QString &reason) override;
    void handle(const protocol::Message &message);
    void handleWelcome(const protocol::Message &message);
    void handleError(const protocol::Message &message);
    void handleCommand(const protocol::Message &message);
    void handleAck(const protocol::Message &message);
    void handleTicket(const protocol::Message &message);
    void failTicketRequests(const QString &reason);
    void goOnline();
    void sendHello();
    quint64 send(protocol::MessageType type, const QCborMap &body, quint64 replyTo = 0);
    /// The same for a body already encoded (telemetry, kept encoded until it is acknowledged).
    quint64 sendEncoded(protocol::MessageType type, const QByteArray &body);
    /// Sends a frame encoded with id m_nextId; returns that id and moves on.
    quint64 transmit(const QByteArray &frame);
    void sendTelemetryNow(const QByteArray &body);
    void pumpTelemetry();
    void sendResult(const protocol::CommandResult &result);
    void flushQueued();

    struct UnackedTelemetry
    {
        quint64 messageId = 0; ///< 0 = not sent on this session
        qint64 sentAtUs = 0;
        bool resend = false;   ///< sent on an earlier session, not acknowledged
        QByteArray body;       ///< CBOR (Telemetry::toCbor()): encoded once, however often sent
    };
    struct RememberedCommand
    {
        quint64 commandId = 0;
        bool finished = false;
        qint64 receivedAtUs = 0;
        protocol::CommandResult result;
    };
    RememberedCommand *remembered(quint64 commandId);

    BoxLinkConfig m_config;
    CredentialStore *m_store;
    DeadlineScheduler *m_scheduler;
    std::unique_ptr<DeadlineScheduler> m_ownScheduler;
    DeadlineScheduler::Handle m_handle = 0;
    TelemetrySource *m_telemetrySource = nullptr;
    CommandHandler *m_commandHandler = nullptr;
    LatencyHistogram *m_telemetryRtt = nullptr;
    LatencyHistogram *m_commandHandling = nullptr;
    LatencyHistogram *m_connectToOnline = nullptr;

    std::unique_ptr<LinkSocket> m_socket;
    State m_state = State::Stopped;
    iptv::Backoff m_backoff;
    QString m_boxId;
    QString m_assignedChannel;
    QHash<quint64, QString> m_ticketRequests; ///< message id -> audience, until answered
    quint64 m_nextId = 1;        // strictly increasing for the link's life, across sessions
    quint64 m_lastPeerId = 0;    // per session
    int m_sessionVersion = 1;    // negotiated in this session's welcome
    bool m_helloWithToken = false;
    qint64 m_retryAfterMs = 0;   // from an Overloaded error, for the next reconnect
    bool m_reenrollNow = false;  // the token was refused: enroll with the secret at once

    int m_heartbeatMs = 30000;
    int m_deadAfterMs = 75000;
    int m_telemetryMs = 60000;

    // Deadlines on DeadlineScheduler::now(); -1 = none.
    qint64 m_reconnectAt = -1;
    qint64 m_connectDeadline = -1;
    qint64 m_lastReceivedAt = -1;
    qint64 m_lastSentAt = -1;
    qint64 m_nextTelemetryAt = -1;
    qint64 m_connectStartedAtUs = -1;
    qint64 m_onlineSince = -1;

    // QList, not std::deque: an empty deque already holds ~600 bytes, times three, per box.
    QList<UnackedTelemetry> m_unacked;
    QList<protocol::Message> m_queued; // events and results while offline
    QList<RememberedCommand> m_commands;
    BoxLinkStats m_stats;
};

} // namespace iptv::boxlink
