#include "controlserver.h"

#include "boxes/boxgateway.h"
#include "cluster/cluster.h"
#include "cluster/fleetbus.h"
#include "cluster/liveupdates.h"
#include "cluster/redisfleetbus.h"
#include "domain/credentials.h"
#include "http/httpapi.h"
#include "operators/operatorhub.h"
#include "releases/releaseservice.h"

#include <protocol/boxticket.h>

#include <QCborArray>
#include <QCborValue>
#include <QDateTime>
#include <QTimeZone>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcServer, "iptv.control.server")
Q_LOGGING_CATEGORY(lcEnroll, "iptv.control.enroll")
Q_LOGGING_CATEGORY(lcCommands, "iptv.control.commands")

namespace iptv::control {

using namespace iptv::protocol;

namespace {

constexpr int MaxSerialLength = 64;

bool validSerial(const QString &s)
{
    if (s.isEmpty() || s.size() > MaxSerialLength)
        return false;
    for (QChar c : s) {
        if (!(c.isLetterOrNumber() && c.unicode() < 128) && c != u'-' && c != u'_' && c != u'.' && c != u':')
            return false;
    }
    return true;
}

QCborMap toCborMap(const QJsonObject &o)
{
    return QCborMap::fromJsonObject(o);
}

QJsonValue cborToJson(const QByteArray &cbor)
{
    if (cbor.isEmpty())
        return QJsonValue::Null;
    return QCborValue::fromCbor(cbor).toJsonValue();
}

} // namespace

ControlServer::ControlServer(ControlConfig config, QObject *parent)
    : QObject(parent), m_config(std::move(config))
{
    m_bus = new LocalFleetBus(this);
    m_live = new LiveUpdates(&m_fleet, this);
    m_releases = new ReleaseService(m_config, &m_fleet, this, m_live, this, &m_metrics, this);
    m_telemetryTotal = m_metrics.counter(u"controlserver_telemetry_messages_total"_qs, u"Telemetry messages received from boxes."_qs);
    m_acksTotal = m_metrics.counter(u"controlserver_telemetry_acks_total"_qs, u"Telemetry messages acknowledged."_qs);
    m_eventsTotal = m_metrics.counter(u"controlserver_box_events_total"_qs, u"Events received from boxes."_qs);
    m_resultsTotal = m_metrics.counter(u"controlserver_command_results_total"_qs, u"Command results received from boxes."_qs);
    m_enrollments = m_metrics.counter(u"controlserver_enrollments_total"_qs, u"Boxes enrolled (first hello with a secret)."_qs);
    m_metrics.gaugeCallback(u"controlserver_boxes_online"_qs, u"Boxes with an open session (approved or pending)."_qs,
                            [this] { return double(m_fleet.onlineCount()); });
    m_metrics.gaugeCallback(u"controlserver_boxes_known"_qs, u"Boxes enrolled (any state)."_qs,
                            [this] { return double(m_fleet.size()); });
    for (int s = 0; s < kCommandStateCount; ++s) {
        if (isFinal(CommandState(s)))
            continue;
        m_metrics.gaugeCallback(u"controlserver_commands"_qs, u"Live commands by state."_qs,
                                [this, s] { return double(m_commands.count(CommandState(s))); },
                                {{u"state"_qs, commandStateName(CommandState(s))}});
    }
    m_metrics.gaugeCallback(u"controlserver_store_pending_writes"_qs, u"Queued rows not yet flushed to the store."_qs,
                            [this] { return double(m_store.pendingWrites()); });
    m_metrics.gaugeCallback(u"controlserver_store_healthy"_qs, u"1 while the last write to the store succeeded."_qs,
                            [this] { return m_storeHealthy ? 1.0 : 0.0; });
    m_commandSyncQueries = m_metrics.counter(u"controlserver_cluster_command_sync_queries_total"_qs,
                                             u"Store queries for commands issued on other nodes to boxes that came online here."_qs);
    m_flushes = m_metrics.counter(u"controlserver_store_flushes_total"_qs,
                                  u"Writes of queued rows (one transaction each; timer and shutdown only)."_qs);
    m_flushFailures = m_metrics.counter(u"controlserver_store_flush_failures_total"_qs,
                                        u"Writes of the queued rows that failed (rolled back, kept queued)."_qs);
    const auto dropped = [this](const QString &kind) {
        return m_metrics.counter(u"controlserver_store_dropped_rows_total"_qs,
                                 u"Queued rows dropped, oldest first, while the store could not keep up "
                                 "([history] max_queued_rows)."_qs,
                                 {{u"kind"_qs, kind}});
    };
    m_droppedTelemetry = dropped(u"telemetry"_qs);
    m_droppedEvents = dropped(u"event"_qs);
    connect(&m_flushTimer, &QTimer::timeout, this, &ControlServer::periodicFlush);
    m_syncCommandsTimer.setSingleShot(true);
    m_syncCommandsTimer.setInterval(50);
    connect(&m_syncCommandsTimer, &QTimer::timeout, this, &ControlServer::loadOtherNodesCommands);
    connect(&m_sweepTimer, &QTimer::timeout, this, &ControlServer::sweep);
    connect(&m_tickTimer, &QTimer::timeout, this, &ControlServer::tick);
    connect(&m_pruneTimer, &QTimer::timeout, this, &ControlServer::prune);
}

ControlServer::~ControlServer()
{
    stop();
}

void ControlServer::setBus(FleetBus *bus)
{
    if (m_bus && m_bus != bus)
        m_bus->deleteLater();
    m_bus = bus;
    bus->setParent(this);
    bus->disconnect(this); // setBus(bus()) at start must not connect twice
    connect(m_bus, &FleetBus::commandRouted, this, [this](qint64 boxId, qint64 commandId) {
        // Collected for the end of this turn: a command to all routes tens of thousands at once,
        // and those issued on another node are read from the shared store in batches.
        m_routed.append({boxId, commandId});
        if (m_routed.size() == 1)
            QMetaObject::invokeMethod(this, &ControlServer::deliverRouted, Qt::QueuedConnection);
    });
    m_live->attach(m_bus);
}

qint64 ControlServer::now() const
{
    return QDateTime::currentSecsSinceEpoch();
}

bool ControlServer::start(QString *error)
{
    if (!initCrypto()) {
        *error = QStringLiteral("libsodium could not be initialised");
        return false;
    }
    if (!m_config.autoApproveSerialPattern.isEmpty()) {
        m_autoApprove.setPattern(m_config.autoApproveSerialPattern);
        if (!m_autoApprove.isValid()) {
            *error = QStringLiteral("auto-approve serial pattern: %1").arg(m_autoApprove.errorString());
            return false;
        }
    }
    if (!m_store.open(m_config.effectiveDatabase(), error))
        return false;
    m_store.setQueueLimit(m_config.maxQueuedRows);
    // The key of every keyed hash (box secrets, tokens) lives in the store, so all nodes sharing
    // a database agree on it and a copied config file alone reveals nothing.
    m_hashKey = m_store.meta(QStringLiteral("hash_key"));
    if (m_hashKey.size() != 32) {
        m_hashKey = randomBytes(32);
        if (!m_store.setMeta(QStringLiteral("hash_key"), m_hashKey, error))
            return false;
    }
    // The same for the key that signs boxes' identity tickets: one key for the whole cluster.
    QByteArray ticketSeed = m_store.meta(QStringLiteral("ticket_key"));
    if (ticketSeed.size() != iptv::payload::SigningKey::SeedSize) {
        ticketSeed = randomBytes(iptv::payload::SigningKey::SeedSize);
        if (!m_store.setMeta(QStringLiteral("ticket_key"), ticketSeed, error))
            return false;
    }
    m_ticketKey = iptv::payload::SigningKey::fromSeed(ticketSeed);
    m_operators = std::make_unique<OperatorDirectory>(&m_store, m_hashKey, m_config, &m_metrics);
    if (!m_operators->ensureInitialAdmin(m_config.adminAccount, m_config.adminPasswordFile, &m_generatedPassword, error))
        return false;
    if (!m_generatedPassword.isEmpty()) {
        // Printed once, on stderr, never logged elsewhere; the admin should change it.
        qCWarning(lcServer).noquote() << "created operator" << m_config.adminAccount
                                      << "(admin) with the generated password:" << m_generatedPassword;
    }
    const QList<BoxRow> boxes = m_store.loadBoxes(error);
    if (!error->isEmpty())
        return false;
    m_fleet.load(boxes);
    const QList<CommandRow> live = m_store.activeCommands(error);
    if (!error->isEmpty())
        return false;
    m_commands.load(live);
    qCInfo(lcServer) << "store" << (m_store.isPostgres() ? u"PostgreSQL"_qs : m_config.effectiveDatabase()) << ":"
                     << boxes.size() << "boxes," << live.size() << "live commands";

    m_gateway = new BoxGateway(this, m_config, &m_metrics, this);
    if (!m_gateway->listen(m_config.bindAddress, quint16(m_config.boxPort), error))
        return false;
    m_http = new HttpApi(m_operators.get(), this, &m_metrics, this);
    addControlRoutes(m_http, this);
    if (!m_http->listen(m_config.bindAddress, quint16(m_config.httpPort), error))
        return false;
    if (!m_releases->start(m_http, m_hashKey, error))
        return false;
    connect(this, &ControlServer::boxConnected, m_releases, &ReleaseService::onBoxConnected, Qt::UniqueConnection);
    connect(this, &ControlServer::boxEventReceived, m_releases, &ReleaseService::onBoxEvent, Qt::UniqueConnection);
    m_hub = new OperatorHub(m_operators.get(), &m_fleet, m_live, m_config.announcedHeartbeatSeconds(), this);
    if (!m_hub->listen(m_config.bindAddress, quint16(m_config.operatorWsPort), error))
        return false;
    setBus(m_bus);

    m_flushTimer.start(1000);
    m_sweepTimer.start(2000);
    m_tickTimer.start(1000);
    m_pruneTimer.start(3600 * 1000);
    m_started = true;
    sweep(); // commands that expired while the server was down
    qCInfo(lcServer) << "controlserver up: boxes on" << boxPort() << "HTTP on" << httpPort() << "operator WS on"
                     << operatorWsPort();
    return true;
}

void ControlServer::stop()
{
    if (!m_started)
        return;
    m_started = false;
    m_flushTimer.stop();
    m_syncCommandsTimer.stop();
    m_sweepTimer.stop();
    m_tickTimer.stop();
    m_pruneTimer.stop();
    if (m_gateway)
        m_gateway->close();
    if (m_hub)
        m_hub->close();
    if (m_http)
        m_http->close();
    m_releases->stop();
    flush();
    m_store.close();
    qCInfo(lcServer) << "controlserver stopped";
}

quint16 ControlServer::boxPort() const
{
    return m_gateway ? m_gateway->port() : 0;
}

quint16 ControlServer::httpPort() const
{
    return m_http ? m_http->port() : 0;
}

quint16 ControlServer::operatorWsPort() const
{
    return m_hub ? m_hub->port() : 0;
}

bool ControlServer::flush()
{
    m_latestFlushedAt = now();
    return writeQueued(true);
}

void ControlServer::periodicFlush()
{
    if (now() - m_latestFlushedAt >= m_config.latestFlushSeconds) {
        flush();
        return;
    }
    writeQueued(false);
}

bool ControlServer::writeQueued(bool withLatest)
{
    QString error;
    const qint64 flushesBefore = m_store.flushCount();
    m_storeHealthy = m_store.flush(&error, withLatest);
    if (m_store.flushCount() != flushesBefore)
        m_flushes->increment();
    if (!m_storeHealthy) {
        m_flushFailures->increment();
        qCWarning(lcServer).noquote() << "store flush failed, rows kept queued:" << error;
    }
    const ControlStore::QueueLosses dropped = m_store.takeDropped();
    if (dropped.telemetry || dropped.events) {
        qCWarning(lcServer).nospace() << "store queue full: dropped the oldest " << dropped.telemetry
                                      << " telemetry samples and " << dropped.events << " events";
        m_droppedTelemetry->increment(double(dropped.telemetry));
        m_droppedEvents->increment(double(dropped.events));
    }
    return m_storeHealthy;
}

bool ControlServer::isHealthy() const
{
    return m_started && m_storeHealthy && m_store.isOpen();
}

bool ControlServer::audit(const QString &account, const QString &action, const QString &target, const QString &outcome,
                          const QString &detail)
{
    AuditRow row{0, now(), account, action, target, outcome, detail.left(2000)};
    QString error;
    if (!m_store.appendAudit(&row, &error)) {
        qCCritical(lcServer).noquote() << "audit entry not written:" << error;
        return false;
    }
    return true;
}

bool ControlServer::isOnlineHere(qint64 boxId) const
{
    const BoxSession *s = m_gateway ? m_gateway->sessionOf(boxId) : nullptr;
    return s && s->phase == BoxSession::Online;
}

bool ControlServer::isOnlineInCluster(qint64 boxId) const
{
    // The cluster's presence marks boxes other nodes hold as online in this node's fleet.
    const BoxInfo *box = m_bus->isShared() ? m_fleet.byId(boxId) : nullptr;
    return box && box->online;
}

bool ControlServer::sendToBox(qint64 boxId, MessageType type, const QCborMap &body)
{
    BoxSession *s = m_gateway ? m_gateway->sessionOf(boxId) : nullptr;
    if (!s || s->phase != BoxSession::Online)
        return false;
    m_gateway->send(s, type, body);
    return true;
}

// ---- box sessions

QByteArray ControlServer::issueToken(BoxInfo *box, QString *error)
{
    const QByteArray token = randomBytes(32);
    const QByteArray hash = keyedHash(m_hashKey, token);
    if (!m_store.setBoxToken(box->id, hash, error))
        return {};
    box->tokenHash = hash;
    return token;
}

void ControlServer::sendWelcome(BoxSession *s, int version, const QByteArray &token, quint64 replyTo)
{
    Welcome w;
    w.version = version;
    w.boxId = boxIdText(s->box->id);
    w.state = s->box->state == BoxState::Approved ? u"approved"_qs : u"pending"_qs;
    w.token = token;
    w.heartbeatSeconds = m_config.announcedHeartbeatSeconds();
    w.telemetrySeconds = m_config.telemetrySeconds;
    w.releaseChannel = releaseChannelName(s->box->releaseChannel);
    w.serverTime = QDateTime::currentDateTimeUtc();
    m_gateway->send(s, MessageType::Welcome, w.toBody(), replyTo);
}

void ControlServer::onTicketRequest(BoxSession *s, const Message &m)
{
    QString error;
    const auto request = TicketBody::fromBody(m.body, &error);
    if (!request) {
        m_gateway->fail(s, ErrorCode::BadRequest, error, m.id, false);
        return;
    }
    // Only the servers that take tickets: a ticket for none (or any) would be good everywhere.
    if (!iptv::protocol::BoxTicket::knownAudiences().contains(request->audience)) {
        m_gateway->fail(s, ErrorCode::BadRequest,
                        QStringLiteral("ticket audience \"%1\" is not one of %2")
                            .arg(request->audience.left(64), iptv::protocol::BoxTicket::knownAudiences().join(u", ")),
                        m.id, false);
        return;
    }
    const qint64 issued = now();
    iptv::protocol::BoxTicket ticket;
    ticket.boxId = boxIdText(s->box->id);
    ticket.serial = s->box->serial;
    ticket.audience = request->audience;
    ticket.issuedAt = issued;
    ticket.expiresAt = issued + m_config.ticketSeconds;
    TicketBody reply;
    reply.audience = ticket.audience;
    reply.ticket = ticket.sign(m_ticketKey);
    reply.expires = QDateTime::fromSecsSinceEpoch(ticket.expiresAt, Qt::UTC);
    m_gateway->send(s, MessageType::Ticket, reply.toBody(), m.id);
}

void ControlServer::handleHello(BoxSession *s, const Message &m)
{
    QString error;
    const auto hello = Hello::fromBody(m.body, &error);
    if (!hello) {
        m_gateway->fail(s, ErrorCode::BadRequest, error, m.id, true);
        return;
    }
    const int version = negotiateVersion(hello->minVersion, hello->maxVersion);
    if (version < 0) {
        m_gateway->fail(s, ErrorCode::UnsupportedVersion,
                        QStringLiteral("box speaks %1-%2, server %3-%4")
                            .arg(hello->minVersion).arg(hello->maxVersion).arg(kMinProtocolVersion).arg(kProtocolVersion),
                        m.id, true);
        return;
    }
    s->version = quint8(version);
    m_gateway->setTelemetryWindow(s, hello->telemetryWindow);
    if (hello->role != u"box") {
        m_gateway->fail(s, ErrorCode::BadRequest, QStringLiteral("this port is for boxes; operators use port %1").arg(operatorWsPort()),
                        m.id, true);
        return;
    }
    if (!validSerial(hello->serial)) {
        m_gateway->fail(s, ErrorCode::BadRequest, QStringLiteral("serial: 1-64 of A-Z a-z 0-9 - _ . :"), m.id, true);
        return;
    }
    BoxInfo *box = m_fleet.bySerial(hello->serial);
    QByteArray newToken;
    bool authenticated = false;
    bool enrolled = false;
    if (!hello->token.isEmpty() && box && box->state == BoxState::Approved
        && constantTimeEqual(box->tokenHash, keyedHash(m_hashKey, hello->token))) {
        authenticated = true;
    } else if (!hello->secret.isEmpty()) {
        if (hello->secret.size() < 16 || hello->secret.size() > 256) {
            m_gateway->fail(s, ErrorCode::BadRequest, QStringLiteral("secret: 16-256 bytes"), m.id, true);
            return;
        }
        const QByteArray secretHash = keyedHash(m_hashKey, hello->secret);
        if (!box) {
            // First contact: enroll.
            BoxRow row;
            row.serial = hello->serial;
            row.mac = hello->mac.left(64);
            row.model = hello->model.left(64);
            row.secretHash = secretHash;
            row.softwareVersion = hello->softwareVersion.left(64);
            row.releaseChannel = releaseChannelFromName(hello->releaseChannel) ? hello->releaseChannel : u"clean"_qs;
            row.enrolledAt = row.lastSeen = now();
            const bool autoApprove = m_config.autoApprove
                || (!m_config.autoApproveSerialPattern.isEmpty() && m_autoApprove.match(hello->serial).hasMatch());
            row.state = autoApprove ? BoxState::Approved : BoxState::Pending;
            if (autoApprove) {
                newToken = randomBytes(32);
                row.tokenHash = keyedHash(m_hashKey, newToken);
            }
            // The box and its audit entry in one commit: a fleet's first power-on is thousands of these.
            AuditRow entry{0, now(), u"system"_qs, u"box.enroll"_qs, {}, u"ok"_qs,
                           QStringLiteral("serial %1, mac %2, %3").arg(row.serial, row.mac, autoApprove ? u"auto-approved"_qs : u"pending"_qs)};
            if (!m_store.enrollBox(&row, &entry, &boxIdText, &error)) {
                qCCritical(lcServer).noquote() << "enrollment not stored:" << error;
                m_gateway->fail(s, ErrorCode::Internal, QStringLiteral("enrollment not stored"), m.id, true);
                return;
            }
            box = m_fleet.add(row);
            enrolled = true;
            m_enrollments->increment();
            qCInfo(lcEnroll).noquote() << "box" << row.serial << "enrolled as" << boxIdText(row.id)
                                       << (autoApprove ? "(auto-approved)" : "(pending approval)");
            Q_EMIT boxEnrolled(box->id);
            authenticated = true;
        } else if (!constantTimeEqual(box->secretHash, secretHash)) {
            m_gateway->fail(s, ErrorCode::Unauthorized, QStringLiteral("the secret does not match the enrolled box"), m.id, true);
            return;
        } else {
            authenticated = true;
            if (box->state == BoxState::Approved) {
                // A box that lost its token proves itself with its secret and gets a new one.
                newToken = issueToken(box, &error);
                if (newToken.isEmpty()) {
                    m_gateway->fail(s, ErrorCode::Internal, QStringLiteral("token not stored"), m.id, true);
                    return;
                }
            }
        }
    } else if (!hello->token.isEmpty()) {
        m_gateway->fail(s, ErrorCode::Unauthorized, QStringLiteral("the token is not valid for this serial"), m.id, true);
        return;
    } else {
        m_gateway->fail(s, ErrorCode::Unauthorized, QStringLiteral("a hello needs the box token or its secret"), m.id, true);
        return;
    }
    Q_ASSERT(authenticated);
    if (box->state == BoxState::Rejected) {
        m_gateway->fail(s, ErrorCode::Rejected, QStringLiteral("this box was rejected by an operator"), m.id, true,
                        m_config.retryAfterMaxSeconds * 30);
        return;
    }
    const OperatorHub::ShownBox shownBefore = OperatorHub::shown(*box);
    m_fleet.setIdentity(box, hello->mac, hello->model, hello->softwareVersion, {});
    box->lastSeen = now();
    m_gateway->bind(s, box, box->state == BoxState::Approved ? BoxSession::Online : BoxSession::Pending);
    m_fleet.setOnline(box, true);
    m_store.queueBoxSeen(box->id, box->lastSeen, m_fleet.string(box->version), m_fleet.string(box->currentChannel), {});
    sendWelcome(s, version, newToken, m.id);
    publishPresence(*box);
    // A new box, or one back with another version: operators' tables get the record.
    if (m_hub && (enrolled || OperatorHub::shown(*box) != shownBefore))
        m_hub->noteBoxChanged(box->id);
    Q_EMIT boxConnected(box->id, box->state == BoxState::Approved);
    if (s->phase == BoxSession::Online)
        deliver(s);
}

void ControlServer::handleBoxGone(BoxSession *s)
{
    BoxInfo *box = s->box;
    if (!box)
        return;
    m_fleet.setOnline(box, false);
    box->lastSeen = now();
    m_store.queueBoxSeen(box->id, box->lastSeen, m_fleet.string(box->version), m_fleet.string(box->currentChannel), {});
    publishPresence(*box);
    Q_EMIT boxDisconnected(box->id);
}

void ControlServer::handleBoxMessage(BoxSession *s, const Message &m)
{
    switch (m.type) {
    case MessageType::Ping:
        m_gateway->send(s, MessageType::Pong, {}, m.id);
        return;
    case MessageType::Pong:
        return;
    case MessageType::Error: {
        QString e;
        const auto body = ErrorBody::fromBody(m.body, &e);
        qCDebug(lcServer).noquote() << s->box->serial << "reports error" << (body ? errorCodeName(body->code) + u": "_qs + body->text : e);
        return;
    }
    case MessageType::Hello:
        m_gateway->fail(s, ErrorCode::Conflict, QStringLiteral("hello already done in this session"), m.id, false);
        return;
    default:
        break;
    }
    if (s->phase != BoxSession::Online) {
        m_gateway->fail(s, ErrorCode::PendingApproval, QStringLiteral("waiting for an operator to approve this box"), m.id, false);
        return;
    }
    switch (m.type) {
    case MessageType::Telemetry: onTelemetry(s, m); return;
    case MessageType::Event: onEvent(s, m); return;
    case MessageType::Ack: onAck(s, m); return;
    case MessageType::Result: onResult(s, m); return;
    case MessageType::Ticket: onTicketRequest(s, m); return;
    default:
        m_gateway->fail(s, ErrorCode::BadRequest, QStringLiteral("\"%1\" is not sent by boxes").arg(m.name), m.id, false);
        return;
    }
}

void ControlServer::onTelemetry(BoxSession *s, const Message &m)
{
    QString error;
    const auto t = Telemetry::fromBody(m.body, &error);
    if (!t) {
        m_gateway->fail(s, ErrorCode::BadRequest, error, m.id, false);
        return;
    }
    handleTelemetry(s, m.id, *t, m.frame.isEmpty() ? encode(m) : m.frame);
}

void ControlServer::handleTelemetry(BoxSession *s, quint64 messageId, const Telemetry &t, const QByteArray &frame)
{
    m_telemetryTotal->increment();
    BoxInfo *box = s->box;
    const qint64 t0 = now();
    // Changes operators' fleet tables show are collected for the hub's next "boxes" push; two
    // small records compared, and nothing at all while no operator (on any node) watches the fleet.
    const bool watched = m_hub && m_live->watchesFleet();
    const OperatorHub::ShownBox shownBefore = watched ? OperatorHub::shown(*box) : OperatorHub::ShownBox{};
    m_fleet.applyTelemetry(box, t, t0);
    if (watched && OperatorHub::shown(*box) != shownBefore)
        m_hub->noteBoxChanged(box->id);
    // The latest sample goes to the store with the next flush (one row update per box per flush
    // however often it reports); the history keeps one sample per interval. Stored as it came,
    // envelope and all: encoding the body again cost more than the rest of this function.
    m_store.queueBoxSeen(box->id, t0, m_fleet.string(box->version), m_fleet.string(box->currentChannel), frame);
    if (t0 - box->lastHistory >= m_config.telemetryHistorySeconds) {
        box->lastHistory = t0;
        m_store.queueTelemetry(box->id, t0, frame);
    }
    // A sample without an id is kept but not acknowledged: an ack would have nothing to name.
    if (messageId) {
        m_gateway->acknowledgeTelemetry(s, messageId);
        m_acksTotal->increment();
    }
    m_live->noteFleetChanged();
    if (m_live->watchesBoxes()) {
        const QString topic = u"box:"_qs + boxIdText(box->id);
        if (m_live->wants(topic)) {
            // Someone watches this box: its body as a map (the gateway did not build one).
            QCborMap body = decode(frame).message.body;
            QCborMap update{{u"topic"_qs, topic}, {u"kind"_qs, u"telemetry"_qs}, {u"box"_qs, boxIdText(box->id)},
                            {u"telemetry"_qs, body}};
            m_live->publish(topic, update);
        }
    }
    Q_EMIT telemetryReceived(box->id);
}

void ControlServer::onEvent(BoxSession *s, const Message &m)
{
    QString error;
    const auto e = BoxEvent::fromBody(m.body, &error);
    if (!e) {
        m_gateway->fail(s, ErrorCode::BadRequest, error, m.id, false);
        return;
    }
    m_eventsTotal->increment();
    const qint64 t = e->time.isValid() ? e->time.toSecsSinceEpoch() : now();
    m_store.queueEvent({0, s->box->id, t, e->kind.left(64), e->severity.left(16), e->text.left(1000),
                        e->data.isEmpty() ? QByteArray() : e->data.toCborValue().toCbor()});
    if (m.id) // without an id there is nothing to acknowledge
        m_gateway->send(s, MessageType::Ack, {}, m.id);
    if (m_live->watchesBoxes()) {
        const QString topic = u"box:"_qs + boxIdText(s->box->id);
        if (m_live->wants(topic))
            m_live->publish(topic, {{u"topic"_qs, topic}, {u"kind"_qs, u"event"_qs}, {u"box"_qs, boxIdText(s->box->id)},
                                    {u"event"_qs, m.body}});
    }
    Q_EMIT boxEventReceived(s->box->id, *e);
}

void ControlServer::onAck(BoxSession *s, const Message &m)
{
    QString error;
    const auto ack = CommandAck::fromBody(m.body, &error);
    if (!ack) {
        m_gateway->fail(s, ErrorCode::BadRequest, error, m.id, false);
        return;
    }
    if (!ack->commandId)
        return; // an ack of something else (nothing the server waits for)
    LiveCommand *c = m_commands.find(qint64(ack->commandId));
    if (!c || c->boxId != s->box->id) {
        m_gateway->fail(s, ErrorCode::NotFound, QStringLiteral("no live command %1 for this box").arg(ack->commandId), m.id, false);
        return;
    }
    if (c->state == CommandState::Queued || c->state == CommandState::Delivered)
        setCommandState(c->id, c->boxId, CommandState::Acknowledged);
}

void ControlServer::onResult(BoxSession *s, const Message &m)
{
    QString error;
    const auto r = CommandResult::fromBody(m.body, &error);
    if (!r) {
        m_gateway->fail(s, ErrorCode::BadRequest, error, m.id, false);
        return;
    }
    m_resultsTotal->increment();
    LiveCommand *c = m_commands.find(qint64(r->commandId));
    // Ack first either way: the box keeps a result until acknowledged, and a result for a
    // command that already expired or finished must not be resent forever. A result without an
    // id is not acknowledged: nothing would name it.
    if (m.id)
        m_gateway->send(s, MessageType::Ack, {}, m.id);
    if (!c || c->boxId != s->box->id)
        return;
    setCommandState(c->id, c->boxId, r->ok ? CommandState::Succeeded : CommandState::Failed, r->text.left(4000), r->data,
                    r->mimeType.left(100));
}

void ControlServer::deliver(BoxSession *s)
{
    if (m_bus->isShared()) {
        // Commands for this box may have been issued on another node while it was away. They are
        // read from the shared store for all the boxes that came online within a short window,
        // in one query per 500 boxes (a fleet powering on is thousands of hellos a second; two
        // queries each stalled the node), and delivered then. Those known here go now.
        m_unsyncedBoxes.append(s->box->id);
        if (!m_syncCommandsTimer.isActive())
            m_syncCommandsTimer.start();
    }
    for (LiveCommand *c : m_commands.forBox(s->box->id)) {
        if (c->state == CommandState::Queued || c->state == CommandState::Delivered)
            sendCommand(s, c);
    }
}

void ControlServer::loadOtherNodesCommands()
{
    const QList<qint64> boxes = std::exchange(m_unsyncedBoxes, {});
    if (boxes.isEmpty())
        return;
    m_commandSyncQueries->increment(double((boxes.size() + 499) / 500));
    QString error;
    const QList<CommandRow> rows = m_store.deliverableCommands(boxes, &error);
    if (!error.isEmpty())
        qCWarning(lcCommands).noquote() << "commands of" << boxes.size() << "boxes that came online not loaded:" << error;
    for (const CommandRow &row : rows) {
        if (m_commands.find(row.id) || row.expires <= now())
            continue;
        m_commands.add(row);
        BoxSession *s = m_gateway ? m_gateway->sessionOf(row.boxId) : nullptr;
        if (s && s->phase == BoxSession::Online)
            sendCommand(s, m_commands.find(row.id));
    }
}

void ControlServer::sendCommand(BoxSession *s, LiveCommand *c)
{
    Command cmd;
    cmd.commandId = quint64(c->id);
    cmd.kind = c->kind;
    cmd.args = QCborValue::fromCbor(c->args).toMap();
    cmd.expires = QDateTime::fromSecsSinceEpoch(c->expires, Qt::UTC);
    m_gateway->send(s, MessageType::Command, cmd.toBody());
    if (c->state == CommandState::Queued)
        setCommandState(c->id, c->boxId, CommandState::Delivered);
}

void ControlServer::setCommandState(qint64 id, qint64 boxId, CommandState state, const QString &text,
                                    const QByteArray &data, const QString &mime)
{
    m_commands.setState(id, state);
    m_store.queueCommandState(id, state, now(), text, data, mime);
    Q_EMIT commandStateChanged(id, state);
    if (m_live->wants(u"commands"_qs)) {
        m_live->publish(u"commands"_qs, {{u"topic"_qs, u"commands"_qs}, {u"kind"_qs, u"command"_qs}, {u"command"_qs, id},
                                         {u"box"_qs, boxIdText(boxId)}, {u"state"_qs, commandStateName(state)}});
    }
}

void ControlServer::publishPresence(const BoxInfo &box)
{
    if (m_hub)
        m_hub->notePresence(box.id, box.online);
}

// ---- operator actions

ActionResult ControlServer::approve(const OperatorIdentity &op, qint64 boxId)
{
    BoxInfo *box = m_fleet.byId(boxId);
    const QString target = boxIdText(boxId);
    if (!box) {
        audit(op.account, u"box.approve"_qs, target, u"failed"_qs, u"no such box"_qs);
        return ActionResult::error(404, u"not-found"_qs, QStringLiteral("no box %1").arg(target));
    }
    if (box->state == BoxState::Approved)
        return ActionResult::success({{u"box"_qs, m_fleet.boxJson(*box)}});
    const QByteArray token = randomBytes(32);
    const QByteArray hash = keyedHash(m_hashKey, token);
    QString error;
    if (!m_store.setBoxState(boxId, BoxState::Approved, hash, &error)
        || !audit(op.account, u"box.approve"_qs, target, u"ok"_qs, box->serial)) {
        return ActionResult::error(500, u"internal"_qs, QStringLiteral("not stored: %1").arg(error));
    }
    box->state = BoxState::Approved;
    box->tokenHash = hash;
    qCInfo(lcEnroll).noquote() << op.account << "approved" << target << box->serial;
    if (BoxSession *s = m_gateway->sessionOf(boxId)) {
        // The pending box is still connected: the token goes out on this session.
        m_gateway->bind(s, box, BoxSession::Online);
        sendWelcome(s, s->version, token, 0);
        deliver(s);
    }
    publishPresence(*box);
    if (m_hub)
        m_hub->noteBoxChanged(boxId);
    return ActionResult::success({{u"box"_qs, m_fleet.boxJson(*box)}});
}

ActionResult ControlServer::reject(const OperatorIdentity &op, qint64 boxId)
{
    BoxInfo *box = m_fleet.byId(boxId);
    const QString target = boxIdText(boxId);
    if (!box) {
        audit(op.account, u"box.reject"_qs, target, u"failed"_qs, u"no such box"_qs);
        return ActionResult::error(404, u"not-found"_qs, QStringLiteral("no box %1").arg(target));
    }
    QString error;
    if (!m_store.setBoxState(boxId, BoxState::Rejected, {}, &error) || !audit(op.account, u"box.reject"_qs, target, u"ok"_qs, box->serial))
        return ActionResult::error(500, u"internal"_qs, QStringLiteral("not stored: %1").arg(error));
    box->state = BoxState::Rejected;
    box->tokenHash.clear();
    if (BoxSession *s = m_gateway->sessionOf(boxId))
        m_gateway->fail(s, ErrorCode::Rejected, QStringLiteral("rejected by an operator"), 0, true);
    if (m_hub)
        m_hub->noteBoxChanged(boxId);
    return ActionResult::success({{u"box"_qs, m_fleet.boxJson(*box)}});
}

ActionResult ControlServer::setTags(const OperatorIdentity &op, qint64 boxId, const QStringList &tags)
{
    BoxInfo *box = m_fleet.byId(boxId);
    const QString target = boxIdText(boxId);
    if (!box)
        return ActionResult::error(404, u"not-found"_qs, QStringLiteral("no box %1").arg(target));
    static const QRegularExpression s_tag(QStringLiteral("^[A-Za-z0-9._:-]{1,64}$"));
    for (const QString &t : tags) {
        if (!s_tag.match(t).hasMatch())
            return ActionResult::error(400, u"bad-request"_qs, QStringLiteral("tag \"%1\": 1-64 of A-Z a-z 0-9 . _ : -").arg(t.left(80)));
    }
    if (tags.size() > 32)
        return ActionResult::error(400, u"bad-request"_qs, u"at most 32 tags per box"_qs);
    QString error;
    if (!m_store.setBoxTags(boxId, tags, &error) || !audit(op.account, u"box.tags"_qs, target, u"ok"_qs, tags.join(u',')))
        return ActionResult::error(500, u"internal"_qs, QStringLiteral("not stored: %1").arg(error));
    m_fleet.setTags(box, tags);
    if (m_hub)
        m_hub->noteBoxChanged(boxId);
    return ActionResult::success({{u"box"_qs, m_fleet.boxJson(*box)}});
}

ActionResult ControlServer::setReleaseChannel(const OperatorIdentity &op, qint64 boxId, const QString &channel)
{
    BoxInfo *box = m_fleet.byId(boxId);
    const QString target = boxIdText(boxId);
    if (!box)
        return ActionResult::error(404, u"not-found"_qs, QStringLiteral("no box %1").arg(target));
    const auto ch = releaseChannelFromName(channel);
    if (!ch)
        return ActionResult::error(400, u"bad-request"_qs, QStringLiteral("channel: clean or experimental, got \"%1\"").arg(channel.left(40)));
    QString error;
    if (!m_store.setBoxReleaseChannel(boxId, channel, &error)
        || !audit(op.account, u"box.channel"_qs, target, u"ok"_qs,
                  QStringLiteral("%1 -> %2").arg(releaseChannelName(box->releaseChannel), channel)))
        return ActionResult::error(500, u"internal"_qs, QStringLiteral("not stored: %1").arg(error));
    box->releaseChannel = *ch;
    if (m_hub)
        m_hub->noteBoxChanged(boxId);
    return ActionResult::success({{u"box"_qs, m_fleet.boxJson(*box)}});
}

ActionResult ControlServer::issueCommand(const OperatorIdentity &op, const QJsonObject &request)
{
    const QString kindName = request.value(u"kind").toString();
    const CommandKind kind = commandFromName(kindName);
    auto refuse = [&](int status, const QString &code, const QString &message) {
        audit(op.account, u"command.issue"_qs, kindName.left(40), u"failed"_qs, message);
        return ActionResult::error(status, code, message);
    };
    if (kind == CommandKind::Unknown)
        return refuse(400, u"bad-request"_qs, QStringLiteral("kind: unknown command \"%1\" (reboot, factory-reset, tune, message, "
                                                         "collect-logs, screenshot, set-config, install-release)")
                                                  .arg(kindName.left(40)));
    const QJsonValue argsValue = request.value(u"args");
    if (!argsValue.isUndefined() && !argsValue.isObject())
        return refuse(400, u"bad-request"_qs, u"args: expected an object"_qs);
    const QByteArray args = toCborMap(argsValue.toObject()).toCborValue().toCbor();
    if (args.size() > 256 * 1024)
        return refuse(400, u"bad-request"_qs, u"args: over 256 KiB"_qs);
    if ((kind == CommandKind::FactoryReset || kind == CommandKind::InstallRelease) && !op.allows(Role::Operator))
        return refuse(403, u"forbidden"_qs, u"needs the operator role"_qs);

    // Target: exactly one of box, boxes, tag, filter, all.
    const QJsonObject target = request.value(u"target").toObject();
    FleetFilter filter;
    QString targetText;
    if (target.contains(u"box")) {
        const QJsonValue v = target.value(u"box");
        const qint64 id = v.isString() ? parseBoxId(v.toString()) : v.toInteger();
        if (id <= 0)
            return refuse(400, u"bad-request"_qs, u"target.box: a box id"_qs);
        filter.ids = {id};
        targetText = boxIdText(id);
    } else if (target.contains(u"boxes")) {
        const QJsonArray a = target.value(u"boxes").toArray();
        if (a.isEmpty() || a.size() > 100000)
            return refuse(400, u"bad-request"_qs, u"target.boxes: 1-100000 box ids"_qs);
        for (const QJsonValue &v : a) {
            const qint64 id = v.isString() ? parseBoxId(v.toString()) : v.toInteger();
            if (id <= 0)
                return refuse(400, u"bad-request"_qs, u"target.boxes: box ids"_qs);
            filter.ids.append(id);
        }
        targetText = QStringLiteral("%1 boxes").arg(a.size());
    } else if (target.contains(u"tag")) {
        filter.tag = target.value(u"tag").toString();
        if (filter.tag.isEmpty())
            return refuse(400, u"bad-request"_qs, u"target.tag: a tag"_qs);
        targetText = u"tag:"_qs + filter.tag;
    } else if (target.contains(u"filter")) {
        QString error;
        const auto f = FleetFilter::fromJson(target.value(u"filter").toObject(), &error);
        if (!f)
            return refuse(400, u"bad-request"_qs, u"target.filter: "_qs + error);
        filter = *f;
        targetText = u"filter:"_qs + QString::fromUtf8(QJsonDocument(target.value(u"filter").toObject()).toJson(QJsonDocument::Compact));
    } else if (target.value(u"all").toBool()) {
        targetText = u"all"_qs;
    } else {
        return refuse(400, u"bad-request"_qs, u"target: one of box, boxes, tag, filter, all"_qs);
    }
    if (filter.state.isEmpty())
        filter.state = u"approved"_qs; // commands go to approved boxes only
    const QList<qint64> boxes = m_fleet.select(filter);
    if (boxes.isEmpty())
        return refuse(404, u"not-found"_qs, QStringLiteral("no approved box matches %1").arg(targetText));

    const qint64 t = now();
    qint64 expires = t + m_config.commandExpirySeconds;
    if (request.contains(u"expiresIn")) {
        const qint64 in = request.value(u"expiresIn").toInteger();
        if (in <= 0 || in > 365 * 86400)
            return refuse(400, u"bad-request"_qs, u"expiresIn: 1 s to 365 days"_qs);
        expires = t + in;
    }
    QList<CommandRow> rows;
    rows.reserve(boxes.size());
    for (qint64 box : boxes) {
        rows.append(CommandRow{0, 0, box, commandName(kind), args, CommandState::Queued, t, 0, 0, 0, expires, op.account,
                               {}, {}, {}});
    }
    QString error;
    // Committed (commands, then the audit entry) before anything is sent or answered.
    if (!m_store.insertCommands(&rows, &error))
        return ActionResult::error(500, u"internal"_qs, QStringLiteral("commands not stored: %1").arg(error));
    const qint64 batch = rows.first().batchId;
    audit(op.account, u"command.issue"_qs, targetText, u"ok"_qs,
          QStringLiteral("%1 batch %2, %3 boxes, args %4").arg(commandName(kind)).arg(batch).arg(rows.size())
              .arg(QString::fromUtf8(QJsonDocument(argsValue.toObject()).toJson(QJsonDocument::Compact)).left(500)));
    QJsonArray ids;
    const int delivered = dispatchNewCommands(rows, &ids);
    qCInfo(lcCommands).noquote() << op.account << "issued" << commandName(kind) << "batch" << batch << "to" << rows.size()
                                 << "boxes (" << delivered << "online now)";
    return ActionResult::success({{u"batch"_qs, batch},
                                  {u"kind"_qs, commandName(kind)},
                                  {u"count"_qs, qint64(rows.size())},
                                  {u"deliveredNow"_qs, delivered},
                                  {u"queued"_qs, qint64(rows.size()) - delivered},
                                  {u"expires"_qs, expires},
                                  {u"commands"_qs, ids}},
                                 201);
}

void ControlServer::deliverRouted()
{
    const QList<std::pair<qint64, qint64>> routed = std::exchange(m_routed, {});
    const auto online = [this](qint64 boxId) {
        BoxSession *s = m_gateway ? m_gateway->sessionOf(boxId) : nullptr;
        return s && s->phase == BoxSession::Online ? s : nullptr;
    };
    QList<qint64> unknown;
    for (const auto &[boxId, commandId] : routed) {
        if (online(boxId) && !m_commands.find(commandId))
            unknown.append(commandId);
    }
    if (!unknown.isEmpty()) {
        // Issued on another node: read from the shared store.
        QString error;
        for (const CommandRow &row : m_store.commands(unknown, &error)) {
            if (!m_commands.find(row.id))
                m_commands.add(row);
        }
        if (!error.isEmpty())
            qCWarning(lcCommands).noquote() << "routed commands not loaded:" << error;
    }
    for (const auto &[boxId, commandId] : routed) {
        BoxSession *s = online(boxId);
        LiveCommand *c = s ? m_commands.find(commandId) : nullptr;
        if (c && c->boxId == boxId)
            sendCommand(s, c);
    }
}

int ControlServer::dispatchNewCommands(const QList<CommandRow> &rows, QJsonArray *ids)
{
    int delivered = 0;
    for (const CommandRow &r : rows) {
        m_commands.add(r);
        if (ids && ids->size() < 1000)
            ids->append(r.id);
        BoxSession *s = m_gateway->sessionOf(r.boxId);
        if (s && s->phase == BoxSession::Online) {
            sendCommand(s, m_commands.find(r.id));
            ++delivered;
        } else {
            m_bus->routeCommand(r.boxId, r.id);
        }
    }
    return delivered;
}

QList<qint64> ControlServer::issueServerCommands(const QString &account, CommandKind kind, const QList<qint64> &boxes,
                                                 const QList<QCborMap> &args, qint64 expires, QString *error)
{
    Q_ASSERT(boxes.size() == args.size());
    if (boxes.isEmpty())
        return {};
    const qint64 t = now();
    QList<CommandRow> rows;
    rows.reserve(boxes.size());
    for (qsizetype i = 0; i < boxes.size(); ++i) {
        rows.append(CommandRow{0, 0, boxes.at(i), commandName(kind), args.at(i).toCborValue().toCbor(), CommandState::Queued,
                               t, 0, 0, 0, expires, account, {}, {}, {}});
    }
    if (!m_store.insertCommands(&rows, error))
        return {};
    audit(account, u"command.issue"_qs, QStringLiteral("%1 boxes").arg(rows.size()), u"ok"_qs,
          QStringLiteral("%1 batch %2, %3 boxes").arg(commandName(kind)).arg(rows.first().batchId).arg(rows.size()));
    dispatchNewCommands(rows, nullptr);
    QList<qint64> ids;
    ids.reserve(rows.size());
    for (const CommandRow &r : std::as_const(rows))
        ids.append(r.id);
    return ids;
}

QJsonObject ControlServer::boxDetail(const BoxInfo &box)
{
    QJsonObject o = m_fleet.boxJson(box);
    if (const auto row = m_store.box(box.id)) {
        o.insert(u"enrolledAt"_qs, row->enrolledAt);
        o.insert(u"latestTelemetry"_qs, row->telemetry.isEmpty() ? QJsonValue() : QJsonValue(storedBodyJson(row->telemetry)));
    }
    QJsonArray live;
    for (const LiveCommand *c : m_commands.forBox(box.id))
        live.append(QJsonObject{{u"id"_qs, c->id}, {u"kind"_qs, commandName(c->kind)}, {u"state"_qs, commandStateName(c->state)},
                                {u"expires"_qs, c->expires}});
    o.insert(u"liveCommands"_qs, live);
    return o;
}

QJsonObject ControlServer::commandJson(const CommandRow &c) const
{
    QJsonObject o{{u"id"_qs, c.id},
                  {u"batch"_qs, c.batchId},
                  {u"box"_qs, boxIdText(c.boxId)},
                  {u"kind"_qs, c.kind},
                  {u"args"_qs, cborToJson(c.args)},
                  {u"state"_qs, commandStateName(c.state)},
                  {u"created"_qs, c.created},
                  {u"expires"_qs, c.expires},
                  {u"issuedBy"_qs, c.issuedBy}};
    if (c.delivered)
        o.insert(u"delivered"_qs, c.delivered);
    if (c.acknowledged)
        o.insert(u"acknowledged"_qs, c.acknowledged);
    if (c.finished)
        o.insert(u"finished"_qs, c.finished);
    if (!c.resultText.isEmpty())
        o.insert(u"resultText"_qs, c.resultText);
    if (!c.resultMime.isEmpty())
        o.insert(u"resultMime"_qs, c.resultMime);
    return o;
}

// ---- timers

void ControlServer::tick()
{
    m_live->tick();
    if (m_hub)
        m_hub->tick();
}

void ControlServer::sweep()
{
    const QList<LiveCommand> expired = m_commands.takeExpired(now());
    for (const LiveCommand &c : expired) {
        m_store.queueCommandState(c.id, CommandState::Expired, now());
        Q_EMIT commandStateChanged(c.id, CommandState::Expired);
        if (m_live->wants(u"commands"_qs)) {
            m_live->publish(u"commands"_qs, {{u"topic"_qs, u"commands"_qs}, {u"kind"_qs, u"command"_qs}, {u"command"_qs, c.id},
                                             {u"box"_qs, boxIdText(c.boxId)}, {u"state"_qs, u"expired"_qs}});
        }
    }
    if (!expired.isEmpty()) {
        qCInfo(lcCommands) << expired.size() << "commands expired";
        flush();
    }
}

void ControlServer::prune()
{
    flush();
    const qint64 t = now();
    QString error;
    if (!m_store.prune(t - qint64(m_config.telemetryRetentionHours) * 3600, t - qint64(m_config.eventRetentionDays) * 86400,
                       m_config.maxEventsPerBox, &error)
        || !m_store.pruneOperatorTokens(t, &error))
        qCWarning(lcServer).noquote() << "prune failed:" << error;
}

bool joinCluster(ControlServer *server, const ClusterConfig &config, QString *error)
{
    if (!config.enabled())
        return true;
    if (!server->store().isPostgres()) {
        *error = u"a cluster (--redis) needs the nodes to share PostgreSQL (--db postgresql://...)"_qs;
        return false;
    }
    auto *bus = new RedisFleetBus(config.nodeId, config.redisHost, config.redisPort, config.prefix);
    server->setBus(bus);
    auto *presence = new ClusterPresence(&server->fleet(), &server->store(), bus, config.nodeId, server);
    QObject::connect(server, &ControlServer::boxConnected, presence, &ClusterPresence::noteConnected);
    QObject::connect(server, &ControlServer::boxDisconnected, presence, &ClusterPresence::noteDisconnected);
    qCInfo(lcCluster, "node %s joins cluster %s via Redis %s:%u", qPrintable(config.nodeId), qPrintable(config.prefix),
           qPrintable(config.redisHost), config.redisPort);
    return true;
}

} // namespace iptv::control
