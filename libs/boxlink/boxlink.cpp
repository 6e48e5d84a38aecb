#include "boxlink.h"

#include "credentialstore.h"
#include "latencyhistogram.h"

#include <QLoggingCategory>

#include <algorithm>

namespace iptv::boxlink {

Q_LOGGING_CATEGORY(lcBoxLink, "iptv.boxlink")

using namespace iptv::protocol;

namespace {
// Results keep their data for a redelivered command only up to this size; a screenshot per
// remembered command would otherwise pin megabytes.
constexpr qsizetype kMaxRememberedData = 64 * 1024;
} // namespace

// ---- CommandReply

CommandReply::CommandReply(BoxLink *link, quint64 commandId) : m_link(link), m_commandId(commandId) {}

void CommandReply::succeed(const QString &text, const QByteArray &data, const QString &mimeType) const
{
    if (!m_link)
        return;
    CommandResult r;
    r.commandId = m_commandId;
    r.ok = true;
    r.text = text;
    r.data = data;
    r.mimeType = mimeType;
    m_link->finishCommand(r);
}

void CommandReply::fail(const QString &text, const QByteArray &data, const QString &mimeType) const
{
    if (!m_link)
        return;
    CommandResult r;
    r.commandId = m_commandId;
    r.ok = false;
    r.text = text;
    r.data = data;
    r.mimeType = mimeType;
    m_link->finishCommand(r);
}

// ---- BoxLink

BoxLink::BoxLink(BoxLinkConfig config, CredentialStore *store, DeadlineScheduler *scheduler, QObject *parent)
    : QObject(parent),
      m_config(std::move(config)),
      m_store(store),
      m_scheduler(scheduler),
      m_backoff(m_config.backoffSeed ? iptv::Backoff(m_config.backoffBaseMs, m_config.backoffCapMs, m_config.backoffSeed)
                                     : iptv::Backoff(m_config.backoffBaseMs, m_config.backoffCapMs))
{
    if (!m_scheduler) {
        m_ownScheduler = std::make_unique<DeadlineScheduler>();
        m_scheduler = m_ownScheduler.get();
    }
    m_handle = m_scheduler->add(this);
}

BoxLink::~BoxLink()
{
    m_scheduler->remove(m_handle);
    if (m_socket)
        m_socket->abort();
}

void BoxLink::setLatencySinks(LatencyHistogram *telemetryRtt, LatencyHistogram *commandHandling,
                              LatencyHistogram *connectToOnline)
{
    m_telemetryRtt = telemetryRtt;
    m_commandHandling = commandHandling;
    m_connectToOnline = connectToOnline;
}

void BoxLink::setSoftwareVersion(const QString &version, const QString &releaseChannel)
{
    m_config.softwareVersion = version;
    if (!releaseChannel.isEmpty())
        m_config.releaseChannel = releaseChannel;
}

void BoxLink::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

void BoxLink::start()
{
    if (m_state != State::Stopped)
        return;
    setState(State::Disconnected);
    openSocket();
}

void BoxLink::stop()
{
    m_reconnectAt = -1;
    m_connectDeadline = -1;
    m_nextTelemetryAt = -1;
    closeSocket(false);
    setState(State::Stopped);
}

void BoxLink::dropConnection()
{
    if (m_socket)
        connectionLost(QStringLiteral("connection dropped"));
}

void BoxLink::reconnectAfter(qint64 delayMs)
{
    if (m_state == State::Stopped)
        return;
    closeSocket(false);
    scheduleReconnect(std::max<qint64>(0, delayMs), QStringLiteral("restarting"));
}

void BoxLink::openSocket()
{
    ++m_stats.connectAttempts;
    m_lastPeerId = 0;
    m_sessionVersion = 1;
    m_helloWithToken = false;
    m_connectStartedAtUs = DeadlineScheduler::nowUs();
    m_connectDeadline = DeadlineScheduler::now() + m_config.connectTimeoutMs;
    setState(State::Connecting);
    LinkTransport *transport = m_config.transport ? m_config.transport : WebSocketTransport::instance();
    m_socket = transport->open(m_config.serverUrl, m_config.limits.maxFrameBytes, this);
    reschedule();
}

void BoxLink::closeSocket(bool abort)
{
    if (!m_socket)
        return;
    const std::unique_ptr<LinkSocket> socket = std::move(m_socket);
    if (abort)
        socket->abort();
    else
        socket->close();
    m_connectDeadline = -1;
    m_nextTelemetryAt = -1;
    m_lastReceivedAt = -1;
    m_lastSentAt = -1;
    failTicketRequests(QStringLiteral("the connection to the control server ended"));
    // Unacknowledged telemetry goes again, with new ids, on the next session.
    for (UnackedTelemetry &t : m_unacked) {
        if (t.messageId != 0)
            t.resend = true;
        t.messageId = 0;
    }
}

void BoxLink::connectionLost(const QString &reason)
{
    if (!m_socket)
        return;
    const qint64 now = DeadlineScheduler::now();
    if (m_onlineSince >= 0 && now - m_onlineSince >= m_config.stableSessionMs)
        m_backoff.reset();
    m_onlineSince = -1;
    closeSocket(true);
    qint64 delay;
    if (m_reenrollNow) {
        delay = 0;
        m_reenrollNow = false;
    } else if (m_retryAfterMs > 0) {
        delay = m_backoff.nextAfter(m_retryAfterMs);
        m_retryAfterMs = 0;
    } else {
        delay = m_backoff.next();
    }
    scheduleReconnect(delay, reason);
}

void BoxLink::scheduleReconnect(qint64 delayMs, const QString &reason)
{
    setState(State::Disconnected);
    m_reconnectAt = DeadlineScheduler::now() + delayMs;
    qCDebug(lcBoxLink).noquote() << m_config.serial << reason << "- reconnecting in" << delayMs << "ms";
    Q_EMIT disconnected(reason, delayMs);
    reschedule();
}

void BoxLink::reschedule()
{
    qint64 next = -1;
    const auto consider = [&next](qint64 t) {
        if (t >= 0 && (next < 0 || t < next))
            next = t;
    };
    consider(m_reconnectAt);
    consider(m_connectDeadline);
    if (m_socket && (m_state == State::Pending || m_state == State::Online)) {
        consider(m_lastReceivedAt + m_deadAfterMs);
        consider(std::min(m_lastReceivedAt, m_lastSentAt) + m_heartbeatMs);
    }
    if (m_state == State::Online)
        consider(m_nextTelemetryAt);
    if (next >= 0)
        m_scheduler->schedule(m_handle, next);
}

void BoxLink::deadlineReached(qint64 now)
{
    if (m_reconnectAt >= 0 && now >= m_reconnectAt && !m_socket && m_state != State::Stopped) {
        m_reconnectAt = -1;
        openSocket();
        return; // openSocket reschedules
    }
    if (m_connectDeadline >= 0 && now >= m_connectDeadline && m_socket) {
        connectionLost(QStringLiteral("no welcome within %1 ms").arg(m_config.connectTimeoutMs));
        return;
    }
    if (m_socket && (m_state == State::Pending || m_state == State::Online)) {
        if (now - m_lastReceivedAt >= m_deadAfterMs) {
            ++m_stats.deadConnections;
            connectionLost(QStringLiteral("no frame from the server for %1 ms").arg(now - m_lastReceivedAt));
            return;
        }
        // Ping only when a direction has been quiet: steady telemetry and its acks already prove
        // the connection alive both ways.
        if (std::min(m_lastReceivedAt, m_lastSentAt) + m_heartbeatMs <= now)
            send(MessageType::Ping, {});
    }
    if (m_state == State::Online && m_nextTelemetryAt >= 0 && now >= m_nextTelemetryAt) {
        // Catch up by skipping, not by bursting, when the process was busy.
        m_nextTelemetryAt = std::max(m_nextTelemetryAt + m_telemetryMs, now + m_telemetryMs / 2);
        if (m_telemetrySource)
            sendTelemetry(m_telemetrySource->sample());
    }
    reschedule();
}

void BoxLink::linkConnected()
{
    sendHello();
}

void BoxLink::linkClosed(const QString &reason)
{
    connectionLost(reason);
}

void BoxLink::sendHello()
{
    Hello hello;
    hello.serial = m_config.serial;
    hello.mac = m_config.mac;
    hello.model = m_config.model;
    hello.softwareVersion = m_config.softwareVersion;
    hello.releaseChannel = m_config.releaseChannel;
    hello.telemetryWindow = std::max(1, m_config.telemetryWindow);
    hello.token = m_store->token();
    if (hello.token.isEmpty())
        hello.secret = m_store->secret();
    m_helloWithToken = !hello.token.isEmpty();
    send(MessageType::Hello, hello.toBody());
}

quint64 BoxLink::send(MessageType type, const QCborMap &body, quint64 replyTo)
{
    return m_socket ? transmit(encode(Message(type, m_nextId, body, replyTo))) : 0;
}

quint64 BoxLink::sendEncoded(MessageType type, const QByteArray &body)
{
    return m_socket ? transmit(encode(type, m_nextId, body)) : 0;
}

quint64 BoxLink::transmit(const QByteArray &frame)
{
    m_socket->sendBinary(frame);
    m_lastSentAt = DeadlineScheduler::now();
    return m_nextId++;
}

void BoxLink::linkMessage(const QByteArray &frame, bool text)
{
    m_lastReceivedAt = DeadlineScheduler::now();
    if (text) {
        send(MessageType::Error, errorMessage(ErrorCode::BadFrame, QStringLiteral("boxes read binary CBOR frames only")).body);
        return;
    }
    DecodeResult decoded = decode(frame, m_config.limits);
    if (!decoded.ok()) {
        qCWarning(lcBoxLink).noquote() << m_config.serial << "bad frame from the server:" << decoded.errorText;
        const Message error = errorMessage(decoded.error, decoded.errorText, decoded.message.id);
        send(MessageType::Error, error.body, error.replyTo);
        return;
    }
    const Message &message = decoded.message;
    if (message.id != 0) {
        if (message.id <= m_lastPeerId) {
            const Message error = errorMessage(
                ErrorCode::Replay, QStringLiteral("id %1 is not above %2").arg(message.id).arg(m_lastPeerId), message.id);
            send(MessageType::Error, error.body, error.replyTo);
            return;
        }
        m_lastPeerId = message.id;
    }
    handle(message);
    if (m_socket) // the message may have ended the connection
        reschedule();
}

void BoxLink::handle(const Message &message)
{
    QString error;
    switch (message.type) {
    case MessageType::Welcome:
        handleWelcome(message);
        return;
    case MessageType::Error:
        handleError(message);
        return;
    case MessageType::Ping:
        send(MessageType::Pong, {}, message.id);
        return;
    case MessageType::Pong:
        return;
    case MessageType::Ack:
        handleAck(message);
        return;
    case MessageType::Command:
        handleCommand(message);
        return;
    case MessageType::Ticket:
        handleTicket(message);
        return;
    case MessageType::ReleaseAvailable:
        if (const auto release = ReleaseAvailable::fromBody(message.body, &error)) {
            Q_EMIT releaseAvailable(*release);
            return;
        }
        break;
    case MessageType::GuideUpdated:
        if (const auto guide = GuideUpdated::fromBody(message.body, &error)) {
            Q_EMIT guideUpdated(*guide);
            return;
        }
        break;
    case MessageType::Unknown: {
        const Message reply = errorMessage(ErrorCode::UnknownType,
                                           QStringLiteral("unknown message type \"%1\"").arg(message.name.left(64)), message.id);
        send(MessageType::Error, reply.body, reply.replyTo);
        return;
    }
    default:
        error = QStringLiteral("\"%1\" is not sent by a server").arg(message.name);
        break;
    }
    qCWarning(lcBoxLink).noquote() << m_config.serial << message.name << "refused:" << error;
    const Message reply = errorMessage(ErrorCode::BadRequest, error, message.id);
    send(MessageType::Error, reply.body, reply.replyTo);
}

void BoxLink::handleWelcome(const Message &message)
{
    QString error;
    const auto welcome = Welcome::fromBody(message.body, &error);
    if (!welcome) {
        qCWarning(lcBoxLink).noquote() << m_config.serial << "bad welcome:" << error;
        connectionLost(QStringLiteral("bad welcome: %1").arg(error));
        return;
    }
    if (m_connectDeadline >= 0) { // the first Welcome of this connection
        m_connectDeadline = -1;
        ++m_stats.sessions;
    }
    m_sessionVersion = welcome->version;
    if (!welcome->boxId.isEmpty())
        m_boxId = welcome->boxId;
    if (!welcome->releaseChannel.isEmpty())
        m_assignedChannel = welcome->releaseChannel;
    m_heartbeatMs = m_config.heartbeatMs > 0 ? m_config.heartbeatMs : welcome->heartbeatSeconds * 1000;
    m_deadAfterMs = m_config.deadAfterMs > 0 ? m_config.deadAfterMs : m_heartbeatMs * 3;
    m_telemetryMs = m_config.telemetryMs != 0 ? m_config.telemetryMs : welcome->telemetrySeconds * 1000;
    if (!welcome->token.isEmpty()) {
        QString storeError;
        if (!m_store->setToken(welcome->token, &storeError))
            qCWarning(lcBoxLink).noquote() << m_config.serial << "token not stored:" << storeError;
        m_helloWithToken = true;
    }
    if (welcome->state == QLatin1String("approved")) {
        if (!welcome->token.isEmpty())
            Q_EMIT approved(m_boxId);
        if (m_state != State::Online)
            goOnline();
    } else {
        // "pending": the server keeps this connection and sends another Welcome on approval.
        setState(State::Pending);
    }
}

void BoxLink::goOnline()
{
    const qint64 now = DeadlineScheduler::now();
    m_onlineSince = now;
    if (m_connectToOnline && m_connectStartedAtUs >= 0)
        m_connectToOnline->add(DeadlineScheduler::nowUs() - m_connectStartedAtUs);
    m_connectStartedAtUs = -1;
    setState(State::Online);
    // The first sample at a random point of the interval, so a fleet that came online together
    // does not report in lockstep forever after.
    if (m_telemetryMs > 0) {
        static thread_local quint64 s_spread = 0x2545f4914f6cdd1dULL;
        s_spread ^= s_spread << 13;
        s_spread ^= s_spread >> 7;
        s_spread ^= s_spread << 17;
        m_nextTelemetryAt = now + qint64(s_spread % quint64(m_telemetryMs));
    }
    pumpTelemetry();
    flushQueued();
}

bool BoxLink::requestTicket(const QString &audience)
{
    if (m_state != State::Online || !m_socket)
        return false;
    TicketBody request;
    request.audience = audience;
    m_ticketRequests.insert(send(MessageType::Ticket, request.toBody()), audience);
    return true;
}

void BoxLink::handleTicket(const Message &message)
{
    const auto request = m_ticketRequests.constFind(message.replyTo);
    if (request == m_ticketRequests.cend()) {
        qCDebug(lcBoxLink).noquote() << m_config.serial << "ticket answering no request, ignored";
        return;
    }
    const QString audience = *request;
    m_ticketRequests.erase(request);
    QString error;
    const auto body = TicketBody::fromBody(message.body, &error);
    if (!body || body->ticket.isEmpty()) {
        Q_EMIT ticketFailed(audience, body ? QStringLiteral("the server sent an empty ticket") : error);
        return;
    }
    Q_EMIT ticketReceived(audience, body->ticket, body->expires);
}

void BoxLink::failTicketRequests(const QString &reason)
{
    const auto pending = std::exchange(m_ticketRequests, {});
    for (const QString &audience : pending)
        Q_EMIT ticketFailed(audience, reason);
}

void BoxLink::handleError(const Message &message)
{
    QString parseError;
    const auto body = ErrorBody::fromBody(message.body, &parseError);
    if (!body) {
        qCWarning(lcBoxLink).noquote() << m_config.serial << "unreadable error:" << parseError;
        return;
    }
    if (const auto request = m_ticketRequests.constFind(message.replyTo); request != m_ticketRequests.cend()) {
        const QString audience = *request;
        m_ticketRequests.erase(request);
        Q_EMIT ticketFailed(audience, QStringLiteral("%1: %2").arg(errorCodeName(body->code), body->text));
        return;
    }
    ++m_stats.errorsReceived;
    qCDebug(lcBoxLink).noquote() << m_config.serial << "server error" << errorCodeName(body->code) << body->text;
    Q_EMIT serverError(*body);
    switch (body->code) {
    case ErrorCode::Unauthorized:
        if (m_helloWithToken) {
            // The server forgot or revoked the token: enroll again with the secret right away.
            ++m_stats.reenrollments;
            m_store->setToken({});
            m_reenrollNow = true;
            connectionLost(QStringLiteral("token refused; enrolling with the secret"));
        } else {
            connectionLost(QStringLiteral("secret refused: %1").arg(body->text));
        }
        return;
    case ErrorCode::Overloaded:
        m_retryAfterMs = std::max(1, body->retryAfterSeconds) * 1000LL;
        connectionLost(QStringLiteral("server overloaded, retry after %1 s").arg(body->retryAfterSeconds));
        return;
    case ErrorCode::Rejected:
    case ErrorCode::UnsupportedVersion:
        // Nothing changes by retrying soon; come back at the slowest pace.
        m_retryAfterMs = std::max<qint64>(m_config.backoffCapMs, body->retryAfterSeconds * 1000LL);
        connectionLost(QStringLiteral("%1: %2").arg(errorCodeName(body->code), body->text));
        return;
    case ErrorCode::PendingApproval:
        if (m_state == State::Connecting)
            setState(State::Pending);
        return;
    default:
        qCWarning(lcBoxLink).noquote() << m_config.serial << "server error" << errorCodeName(body->code)
                                       << "for message" << message.replyTo << ":" << body->text;
        return;
    }
}

void BoxLink::handleAck(const Message &message)
{
    if (message.replyTo == 0)
        return;
    // Version 2: the server handles a session's messages in order, so an ack of id N means every
    // telemetry sent before N is stored too; it coalesces the acks of samples that arrived
    // together. Version 1 acks each sample by its own id.
    const bool cumulative = m_sessionVersion >= kCumulativeAckVersion;
    const qint64 nowUs = DeadlineScheduler::nowUs();
    qsizetype acked = 0;
    for (qsizetype i = 0; i < m_unacked.size();) {
        const quint64 id = m_unacked[i].messageId;
        if (id != 0 && (id == message.replyTo || (cumulative && id < message.replyTo))) {
            ++m_stats.telemetryAcked;
            if (m_telemetryRtt)
                m_telemetryRtt->add(nowUs - m_unacked[i].sentAtUs);
            m_unacked.removeAt(i);
            ++acked;
        } else {
            ++i;
        }
    }
    if (acked)
        pumpTelemetry();
}

BoxLink::RememberedCommand *BoxLink::remembered(quint64 commandId)
{
    for (RememberedCommand &c : m_commands) {
        if (c.commandId == commandId)
            return &c;
    }
    return nullptr;
}

void BoxLink::handleCommand(const Message &message)
{
    QString error;
    const auto command = Command::fromBody(message.body, &error);
    if (!command) {
        // A command this box cannot run (an unknown name from a newer server) still gets an
        // answer, so it fails on the operator's screen instead of staying "delivered".
        const qint64 id = message.body.value(QLatin1String("cmd")).toInteger(0);
        if (id > 0) {
            CommandAck ack;
            ack.commandId = quint64(id);
            send(MessageType::Ack, ack.toBody(), message.id);
            CommandResult result;
            result.commandId = quint64(id);
            result.text = error;
            sendResult(result);
        } else {
            const Message reply = errorMessage(ErrorCode::BadRequest, error, message.id);
            send(MessageType::Error, reply.body, reply.replyTo);
        }
        return;
    }
    if (m_state != State::Online) {
        const Message reply = errorMessage(ErrorCode::PendingApproval, QStringLiteral("not approved yet"), message.id);
        send(MessageType::Error, reply.body, reply.replyTo);
        return;
    }
    ++m_stats.commandsReceived;
    CommandAck ack;
    ack.commandId = command->commandId;
    send(MessageType::Ack, ack.toBody(), message.id);

    if (RememberedCommand *seen = remembered(command->commandId)) {
        // Redelivered after a reconnect: acknowledged again, never run twice; the result again
        // if it is known (it may have been lost with the old connection).
        ++m_stats.commandsDuplicate;
        if (seen->finished)
            sendResult(seen->result);
        return;
    }
    if (m_commands.size() >= std::max(1, m_config.rememberedCommands))
        m_commands.removeFirst();
    RememberedCommand entry;
    entry.commandId = command->commandId;
    entry.receivedAtUs = DeadlineScheduler::nowUs();
    m_commands.append(entry);

    if (command->expires.isValid() && command->expires < QDateTime::currentDateTimeUtc()) {
        ++m_stats.commandsExpired;
        CommandReply(this, command->commandId)
            .fail(QStringLiteral("expired at %1; not run").arg(command->expires.toString(Qt::ISODate)));
        return;
    }
    Q_EMIT commandReceived(*command);
    if (!m_commandHandler) {
        CommandReply(this, command->commandId).fail(QStringLiteral("this box runs no commands"));
        return;
    }
    m_commandHandler->execute(*command, CommandReply(this, command->commandId));
}

void BoxLink::finishCommand(const CommandResult &result)
{
    RememberedCommand *entry = remembered(result.commandId);
    if (entry) {
        if (entry->finished)
            return; // answered once already
        entry->finished = true;
        entry->result = result;
        if (entry->result.data.size() > kMaxRememberedData) {
            entry->result.data.clear();
            entry->result.mimeType.clear();
            entry->result.text += QStringLiteral(" (data not kept for a redelivery)");
        }
        if (m_commandHandling)
            m_commandHandling->add(DeadlineScheduler::nowUs() - entry->receivedAtUs);
    }
    sendResult(result);
}

void BoxLink::sendResult(const CommandResult &result)
{
    if (m_state == State::Online && m_socket) {
        send(MessageType::Result, result.toBody());
        ++m_stats.resultsSent;
        return;
    }
    if (m_queued.size() >= std::max(1, m_config.maxQueued))
        m_queued.removeFirst();
    m_queued.append(Message(MessageType::Result, 0, result.toBody()));
}

void BoxLink::sendEvent(const BoxEvent &event)
{
    BoxEvent e = event;
    if (!e.time.isValid())
        e.time = QDateTime::currentDateTimeUtc();
    if (m_state == State::Online && m_socket) {
        send(MessageType::Event, e.toBody());
        ++m_stats.eventsSent;
        return;
    }
    if (m_queued.size() >= std::max(1, m_config.maxQueued))
        m_queued.removeFirst();
    m_queued.append(Message(MessageType::Event, 0, e.toBody()));
}

void BoxLink::flushQueued()
{
    while (!m_queued.isEmpty() && m_socket && m_state == State::Online) {
        const Message m = m_queued.takeFirst();
        send(m.type, m.body);
        if (m.type == MessageType::Result)
            ++m_stats.resultsSent;
        else
            ++m_stats.eventsSent;
    }
}

void BoxLink::sendTelemetry(const Telemetry &telemetry)
{
    Telemetry t = telemetry;
    if (!t.time.isValid())
        t.time = QDateTime::currentDateTimeUtc();
    if (t.softwareVersion.isEmpty())
        t.softwareVersion = m_config.softwareVersion;
    if (t.releaseChannel.isEmpty())
        t.releaseChannel = m_config.releaseChannel;
    sendTelemetryNow(t.toCbor());
}

void BoxLink::sendTelemetryNow(const QByteArray &body)
{
    if (m_unacked.size() >= std::max(1, m_config.maxUnackedTelemetry)) {
        // Drop the oldest sample still waiting; one already on the wire stays, or dropping it
        // would open the window for yet another to a server that is not answering.
        qsizetype victim = 0;
        while (victim + 1 < m_unacked.size() && m_unacked[victim].messageId != 0)
            ++victim;
        m_unacked.removeAt(victim);
        ++m_stats.telemetryDropped;
    }
    UnackedTelemetry t;
    t.body = body;
    m_unacked.append(std::move(t));
    pumpTelemetry();
}

void BoxLink::pumpTelemetry()
{
    if (m_state != State::Online || !m_socket)
        return;
    int inFlight = 0;
    for (const UnackedTelemetry &t : m_unacked)
        inFlight += t.messageId != 0;
    for (UnackedTelemetry &t : m_unacked) {
        if (inFlight >= std::max(1, m_config.telemetryWindow) || !m_socket)
            break;
        if (t.messageId != 0)
            continue;
        t.messageId = sendEncoded(MessageType::Telemetry, t.body);
        t.sentAtUs = DeadlineScheduler::nowUs();
        ++m_stats.telemetrySent;
        if (t.resend)
            ++m_stats.telemetryResent;
        ++inFlight;
    }
}

} // namespace iptv::boxlink
