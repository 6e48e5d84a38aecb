#include "boxgateway.h"

#include "boxsessionhandler.h"
#include "fleet.h"

#include "domain/config.h"

#include <core/fdlimit.h>
#include <core/metrics.h>

#include <QFile>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QSslKey>
#include <QSslSocket>
#include <QWebSocket>
#include <QWebSocketServer>

#include <wsserver/wsserver.h>

#include <algorithm>

#include <malloc.h>
#include <sys/socket.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcBox, "iptv.control.box")
Q_LOGGING_CATEGORY(lcAdmission, "iptv.control.admission")

namespace iptv::control {

using namespace iptv::protocol;

bool RateLimitedLog::allow(qint64 *suppressed)
{
    const qint64 now = m_clock.elapsed();
    if (now - m_windowStart >= 1000) {
        m_windowStart = now;
        m_inWindow = 0;
    }
    if (m_inWindow >= m_perSecond) {
        ++m_suppressed;
        return false;
    }
    ++m_inWindow;
    *suppressed = m_suppressed;
    m_suppressed = 0;
    return true;
}

BoxGateway::BoxGateway(BoxSessionHandler *handler, const ControlConfig &config, iptv::MetricsRegistry *metrics,
                       QObject *parent)
    : QObject(parent), m_handler(handler), m_config(config), m_metrics(metrics)
{
    m_clock.start();
    m_fdLimit = raiseFileDescriptorLimit();
    m_tokens = config.helloBurst;
    m_accepted = metrics->counter(u"controlserver_box_connections_total"_qs, u"TCP connections accepted on the box port."_qs);
    m_handshakes = metrics->counter(u"controlserver_box_hellos_total"_qs, u"Box hellos that ended in a Welcome."_qs);
    m_frames = metrics->counter(u"controlserver_box_frames_total"_qs, u"Frames received from boxes."_qs);
    m_timeouts = metrics->counter(u"controlserver_box_timeouts_total"_qs, u"Sessions closed for silence (no hello, idle)."_qs);
    metrics->gaugeCallback(u"controlserver_box_sessions"_qs, u"Open box WebSocket sessions."_qs,
                           [this] { return double(m_sessions.size()); });
    metrics->gaugeCallback(u"controlserver_box_handshakes_in_flight"_qs,
                           u"Box connections accepted but not through hello."_qs,
                           [this] { return double(handshakesInFlight()); });
    metrics->gaugeCallback(u"controlserver_fd_limit"_qs, u"RLIMIT_NOFILE of the process."_qs,
                           [this] { return double(m_fdLimit); });
    connect(&m_sweep, &QTimer::timeout, this, &BoxGateway::sweep);
    m_ackTimer.setSingleShot(true);
    m_ackTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_ackTimer, &QTimer::timeout, this, [this]() {
        const std::vector<quint64> due = std::exchange(m_delayedAcks, {});
        for (const quint64 connection : due) {
            if (BoxSession *s = m_sessions.value(connection))
                s->ackDelayed = false;
        }
        sendDueAcks(due);
    });
}

BoxGateway::~BoxGateway()
{
    close();
}

bool BoxGateway::listen(const QHostAddress &address, quint16 port, QString *error)
{
    if (m_config.tlsEnabled()) {
        QFile certFile(m_config.tlsCertificate), keyFile(m_config.tlsKey);
        if (!certFile.open(QIODevice::ReadOnly) || !keyFile.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read TLS certificate %1 or key %2").arg(m_config.tlsCertificate, m_config.tlsKey);
            return false;
        }
        const auto certs = QSslCertificate::fromData(certFile.readAll(), QSsl::Pem);
        const QByteArray keyPem = keyFile.readAll();
        QSslKey key(keyPem, QSsl::Rsa, QSsl::Pem);
        if (key.isNull())
            key = QSslKey(keyPem, QSsl::Ec, QSsl::Pem);
        if (certs.isEmpty() || key.isNull()) {
            *error = QStringLiteral("TLS certificate %1 or key %2 is not valid PEM").arg(m_config.tlsCertificate, m_config.tlsKey);
            return false;
        }
        QSslConfiguration ssl = QSslConfiguration::defaultConfiguration();
        ssl.setLocalCertificateChain(certs);
        ssl.setPrivateKey(key);
        ssl.setPeerVerifyMode(QSslSocket::VerifyNone);
        m_ssl = ssl;
        // Qt 6.4's upgrade slot finds its socket with QObject::sender(), linear in the sockets
        // connected to that server: one server for 19,000 sockets is quadratic, shards are not.
        for (int i = 0; i < 64; ++i) {
            auto *ws = new QWebSocketServer(QStringLiteral("controlserver"), QWebSocketServer::NonSecureMode, this);
            ws->setMaxPendingConnections(1 << 20); // drained in newConnection
            ws->setHandshakeTimeout(m_config.helloTimeoutSeconds * 1000);
            connect(ws, &QWebSocketServer::newConnection, this, [this, ws] {
                while (ws->hasPendingConnections())
                    adoptQtSocket(ws->nextPendingConnection());
            });
            m_qtServers.append(ws);
        }
    } else {
        iptv::ws::ServerOptions options;
        options.path = "/box";
        options.maxMessageBytes = m_limits.maxFrameBytes;
        m_lean = new iptv::ws::Server(options, this);
        connect(m_lean, &iptv::ws::Server::upgraded, this, [this](iptv::ws::ConnectionId id) {
            m_upgrading.remove(id);
            open(id);
        });
        connect(m_lean, &iptv::ws::Server::messageReceived, this,
                [this](iptv::ws::ConnectionId id, const QByteArray &message, bool text) {
                    if (text)
                        onText(id);
                    else
                        onFrame(id, message);
                });
        connect(m_lean, &iptv::ws::Server::disconnected, this, [this](iptv::ws::ConnectionId id, quint16, const QString &) {
            m_upgrading.remove(id);
            --m_openSockets;
            onGone(id);
        });
    }
    m_listener = new BoxListener(this);
    m_listener->onDescriptor = [this](qintptr d) { accept(d); };
    // A reconnect storm arrives faster than one event loop turn accepts; a deep backlog keeps
    // SYNs from being dropped (and retried a second later) meanwhile.
    m_listener->setListenBacklogSize(4096);
    m_listener->setMaxPendingConnections(1 << 20);
    if (!m_listener->listen(address, port)) {
        *error = QStringLiteral("cannot listen for boxes on port %1: %2").arg(port).arg(m_listener->errorString());
        return false;
    }
    m_sweep.start(1000);
    qCInfo(lcBox) << "boxes connect to" << (m_ssl ? "wss" : "ws") << "port" << m_listener->serverPort() << "path /box;"
                  << "descriptor limit" << m_fdLimit;
    return true;
}

quint16 BoxGateway::port() const
{
    return m_listener ? m_listener->serverPort() : 0;
}

void BoxGateway::close()
{
    m_sweep.stop();
    m_ackTimer.stop();
    if (m_listener)
        m_listener->close();
    // Acks still waiting go out before the close frames, so boxes need not send those samples again.
    sendDueAcks(std::exchange(m_ackQueue, {}));
    sendDueAcks(std::exchange(m_delayedAcks, {}));
    releaseGone(); // ended before the stop: reported gone like any other
    const auto sessions = m_sessions;
    m_sessions.clear();
    m_byBox.clear();
    m_upgrading.clear();
    m_helloDone = 0;
    for (BoxSession *s : sessions) {
        if (!m_lean) {
            auto *socket = reinterpret_cast<QWebSocket *>(quintptr(s->connection));
            socket->disconnect(this);
            socket->close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("server stopping"));
            socket->deleteLater();
        }
        delete s;
    }
    if (m_lean) {
        m_lean->disconnect(this);
        m_lean->closeAll(iptv::ws::CloseGoingAway);
    }
}

int BoxGateway::handshakesInFlight() const
{
    return std::max(0, m_openSockets - m_helloDone);
}

void BoxGateway::countError(const char *family, const QString &code)
{
    if (qstrcmp(family, "admission") == 0) {
        m_metrics->counter(u"controlserver_admission_rejections_total"_qs,
                           u"Connections or hellos turned away by admission control."_qs, {{u"reason"_qs, code}})
            ->increment();
    } else {
        m_metrics->counter(u"controlserver_decode_errors_total"_qs, u"Box frames that did not decode, by error code."_qs,
                           {{u"code"_qs, code}})
            ->increment();
    }
}

void BoxGateway::refuse(qintptr descriptor, const char *reason)
{
    // Before the WebSocket upgrade the only way to say "later" is plain HTTP; the descriptor is
    // closed at once so a storm cannot hold them.
    const QByteArray answer = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + QByteArray::number(retryAfter())
        + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)::send(int(descriptor), answer.constData(), size_t(answer.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(int(descriptor));
    countError("admission", QLatin1String(reason));
    qint64 suppressed = 0;
    if (m_log.allow(&suppressed))
        qCInfo(lcAdmission) << "refused a connection:" << reason << "(" << suppressed << "similar lines suppressed)";
}

void BoxGateway::accept(qintptr descriptor)
{
    m_accepted->increment();
    // The bound on work in flight applies here, before any upgrade or TLS work is spent; a
    // hello that got through the upgrade is only held to the hello rate.
    if (m_openSockets + m_config.fdReserve >= m_fdLimit) {
        refuse(descriptor, "descriptors");
        // In a reconnect storm the new connections often arrive before the old ones' ends are
        // read: stop accepting for a moment, so the rest wait in the listen backlog instead of
        // being refused one by one, and the closes are processed meanwhile.
        if (!m_acceptPaused) {
            m_acceptPaused = true;
            m_listener->pauseAccepting();
            QTimer::singleShot(100, this, [this] {
                m_acceptPaused = false;
                if (m_listener && m_listener->isListening())
                    m_listener->resumeAccepting();
            });
        }
        return;
    }
    // A TLS handshake costs CPU and ~18 KB before the hello; a plain upgrade ~0.2 KB, so its
    // bound only keeps a flood from taking every descriptor.
    const int maxHandshakes = m_config.maxHandshakes > 0 ? m_config.maxHandshakes : m_ssl ? 2000 : 50000;
    if (handshakesInFlight() > maxHandshakes) {
        refuse(descriptor, "handshakes");
        return;
    }
    if (m_lean) {
        const iptv::ws::ConnectionId id = m_lean->adopt(descriptor);
        if (!id)
            return; // closed by adopt
        ++m_openSockets;
        m_upgrading.insert(id, nowMs());
        return;
    }
    auto *socket = new QSslSocket; // the QWebSocket does not own it: it frees itself when unconnected
    if (!socket->setSocketDescriptor(descriptor)) {
        delete socket;
        return;
    }
    ++m_openSockets;
    connect(socket, &QObject::destroyed, this, [this] { --m_openSockets; });
    connect(socket, &QAbstractSocket::stateChanged, socket, [socket](QAbstractSocket::SocketState state) {
        if (state == QAbstractSocket::UnconnectedState)
            socket->deleteLater();
    });
    socket->setSslConfiguration(*m_ssl);
    QWebSocketServer *ws = m_qtServers.at(m_nextQtServer++ % m_qtServers.size());
    connect(socket, &QSslSocket::encrypted, this, [ws, socket] { ws->handleConnection(socket); });
    connect(socket, &QSslSocket::sslErrors, socket, [socket] { socket->abort(); });
    socket->startServerEncryption();
}

void BoxGateway::adoptQtSocket(QWebSocket *socket)
{
    if (!socket)
        return;
    socket->setParent(this);
    const QString path = socket->requestUrl().path();
    if (path != u"/box" && path != u"/box/") {
        socket->close(QWebSocketProtocol::CloseCodePolicyViolated, QStringLiteral("unknown path; boxes use /box"));
        socket->deleteLater();
        return;
    }
    socket->setMaxAllowedIncomingFrameSize(quint64(m_limits.maxFrameBytes));
    socket->setMaxAllowedIncomingMessageSize(quint64(m_limits.maxFrameBytes));
    const quint64 key = quint64(quintptr(socket));
    open(key);
    connect(socket, &QWebSocket::binaryMessageReceived, this, [this, key](const QByteArray &f) { onFrame(key, f); });
    connect(socket, &QWebSocket::textMessageReceived, this, [this, key](const QString &) { onText(key); });
    connect(socket, &QWebSocket::disconnected, this, [this, key, socket] {
        socket->deleteLater();
        onGone(key);
    });
}

BoxSession *BoxGateway::open(quint64 connection)
{
    auto *s = new BoxSession;
    s->connection = connection;
    s->connectedAtMs = s->lastActivityMs = nowMs();
    m_sessions.insert(connection, s);
    return s;
}

void BoxGateway::transmit(BoxSession *session, const QByteArray &frame)
{
    if (m_lean)
        m_lean->sendBinary(session->connection, frame);
    else
        reinterpret_cast<QWebSocket *>(quintptr(session->connection))->sendBinaryMessage(frame);
}

void BoxGateway::closeTransport(BoxSession *session, const QString &reason, bool abort)
{
    if (m_lean) {
        if (abort)
            m_lean->abort(session->connection, reason);
        else
            m_lean->close(session->connection, iptv::ws::ClosePolicyViolation, reason.toUtf8().left(120));
        return;
    }
    auto *socket = reinterpret_cast<QWebSocket *>(quintptr(session->connection));
    if (abort)
        socket->abort();
    else
        socket->close(QWebSocketProtocol::CloseCodePolicyViolated, reason.left(120));
}

QString BoxGateway::peer(const BoxSession *session) const
{
    if (session->box)
        return session->box->serial;
    const QHostAddress a = m_lean ? m_lean->peerAddress(session->connection)
                                  : reinterpret_cast<QWebSocket *>(quintptr(session->connection))->peerAddress();
    return a.toString();
}

quint64 BoxGateway::send(BoxSession *session, MessageType type, const QCborMap &body, quint64 replyTo)
{
    if (session->phase == BoxSession::Closing)
        return 0;
    const quint64 id = session->nextOutId++;
    transmit(session, encode(Message(type, id, body, replyTo)));
    return id;
}

void BoxGateway::setTelemetryWindow(BoxSession *session, int window) const
{
    // Half the window: the box always has the other half to send while an ack is on its way.
    session->ackEvery = m_config.telemetryAckDelayMs > 0 ? quint8(std::clamp(window / 2, 1, 64)) : 1;
}

void BoxGateway::acknowledgeTelemetry(BoxSession *session, quint64 messageId)
{
    if (session->version < kCumulativeAckVersion) {
        send(session, MessageType::Ack, {}, messageId);
        return;
    }
    session->ackUpTo = messageId;
    if (session->unacked < 255)
        ++session->unacked;
    // A sample that comes on its own (the previous one longer than the delay ago: a box at its
    // normal interval) has nothing to share an ack with and is answered in this turn. Only a box
    // reporting faster, catching up or under a flood, waits for half its window or the timer.
    const qint64 now = nowMs();
    const bool sparse = session->lastTelemetryMs < 0 || now - session->lastTelemetryMs >= m_config.telemetryAckDelayMs;
    session->lastTelemetryMs = now;
    if (!sparse && session->unacked < session->ackEvery) {
        // Not half the window yet: answered with the next samples, or when the timer fires.
        if (!session->ackDelayed) {
            session->ackDelayed = true;
            m_delayedAcks.push_back(session->connection);
            if (!m_ackTimer.isActive())
                m_ackTimer.start(m_config.telemetryAckDelayMs);
        }
        return;
    }
    if (session->ackQueued)
        return;
    session->ackQueued = true;
    m_ackQueue.push_back(session->connection);
    if (m_ackQueue.size() > 1)
        return;
    // After the current dispatch: every frame already read has been handled by then.
    QMetaObject::invokeMethod(this, [this]() {
        const std::vector<quint64> due = std::exchange(m_ackQueue, {});
        for (const quint64 connection : due) {
            if (BoxSession *s = m_sessions.value(connection))
                s->ackQueued = false;
        }
        sendDueAcks(due);
    }, Qt::QueuedConnection);
}

void BoxGateway::sendDueAcks(const std::vector<quint64> &connections)
{
    for (const quint64 connection : connections) {
        BoxSession *s = m_sessions.value(connection);
        if (!s || !s->unacked)
            continue; // gone meanwhile, or answered already
        s->unacked = 0;
        send(s, MessageType::Ack, {}, s->ackUpTo);
    }
}

void BoxGateway::fail(BoxSession *session, ErrorCode code, const QString &text, quint64 replyTo, bool close, int after)
{
    m_metrics->counter(u"controlserver_box_errors_total"_qs, u"Errors answered to boxes, by code."_qs,
                       {{u"code"_qs, errorCodeName(code)}})
        ->increment();
    qint64 suppressed = 0;
    if (m_log.allow(&suppressed)) {
        qCInfo(lcBox).noquote() << peer(session) << errorCodeName(code) << text
                                << (suppressed ? QStringLiteral("(%1 similar lines suppressed)").arg(suppressed) : QString());
    }
    const Message m = errorMessage(code, text, replyTo, after);
    send(session, MessageType::Error, m.body, replyTo);
    if (close)
        closeSession(session, text);
}

void BoxGateway::closeSession(BoxSession *session, const QString &reason)
{
    if (session->phase == BoxSession::Closing)
        return;
    session->phase = BoxSession::Closing;
    session->lastActivityMs = nowMs();
    // The close frame goes after the queued error; the disconnect cleans up.
    closeTransport(session, reason, false);
}

void BoxGateway::bind(BoxSession *session, BoxInfo *box, BoxSession::Phase phase)
{
    if (session->gone) {
        session->box = box; // reported gone with it when released
        return;
    }
    if (!session->helloDone) {
        session->helloDone = true;
        ++m_helloDone;
    }
    session->box = box;
    session->phase = phase;
    BoxSession *&slot = m_byBox[box->id];
    if (slot && slot != session) {
        // The box reconnected before its old connection timed out: the new one wins.
        BoxSession *old = slot;
        old->box = nullptr;
        closeSession(old, QStringLiteral("replaced by a newer connection of this box"));
    }
    slot = session;
    m_handshakes->increment();
}

bool BoxGateway::admitHello(QString *why, int *after)
{
    const qint64 now = nowMs();
    m_tokens = std::min<double>(m_config.helloBurst, m_tokens + (now - m_tokensAtMs) * m_config.helloRate / 1000.0);
    m_tokensAtMs = now;
    const char *reason = nullptr;
    if (m_tokens < 1)
        reason = "hello-rate";
    else if (m_openSockets + m_config.fdReserve >= m_fdLimit)
        reason = "descriptors";
    if (!reason) {
        m_tokens -= 1;
        return true;
    }
    countError("admission", QLatin1String(reason));
    *after = retryAfter();
    *why = QStringLiteral("admission: %1 (%2 handshakes in flight, %3 hellos/s)")
               .arg(QLatin1String(reason)).arg(handshakesInFlight()).arg(m_config.helloRate);
    return false;
}

int BoxGateway::retryAfter()
{
    // Spread the retries over 1..max seconds, so the refused do not come back together.
    return 1 + int(QRandomGenerator::global()->bounded(std::max(1, m_config.retryAfterMaxSeconds)));
}

void BoxGateway::onFrame(quint64 connection, const QByteArray &frame)
{
    BoxSession *s = m_sessions.value(connection);
    if (!s || s->phase == BoxSession::Closing)
        return;
    m_frames->increment();
    s->lastActivityMs = nowMs();
    if (s->phase == BoxSession::Online) {
        // Most frames are telemetry: read straight into its struct, no QCborValue tree built.
        // Anything else, errors included, takes the general path below.
        TelemetryMessage telemetry;
        if (decodeTelemetry(frame, m_limits, &telemetry)) {
            if (acceptId(s, telemetry.id))
                m_handler->handleTelemetry(s, telemetry.id, telemetry.telemetry, frame);
            return;
        }
    }
    DecodeResult decoded = decode(frame, m_limits);
    if (!decoded.ok()) {
        countError("decode", errorCodeName(decoded.error));
        // Before hello, a frame that is not a message ends the connection.
        fail(s, decoded.error, decoded.errorText, decoded.message.id, s->phase == BoxSession::AwaitingHello);
        return;
    }
    Message &m = decoded.message;
    if (!acceptId(s, m.id))
        return;
    if (s->phase == BoxSession::AwaitingHello) {
        if (m.type == MessageType::Ping) {
            send(s, MessageType::Pong, {}, m.id);
            return;
        }
        if (m.type != MessageType::Hello) {
            fail(s, ErrorCode::Unauthorized, QStringLiteral("say hello first"), m.id, true);
            return;
        }
        QString why;
        int after = 0;
        if (!admitHello(&why, &after)) {
            fail(s, ErrorCode::Overloaded, why, m.id, true, after);
            return;
        }
        m_handler->handleHello(s, m);
        return;
    }
    m_handler->handleBoxMessage(s, m);
}

bool BoxGateway::acceptId(BoxSession *s, quint64 id)
{
    if (!id)
        return true; // 0 or absent: no sequence number, nothing to replay-check (docs/protocol.md)
    if (id <= s->lastInId) {
        // Before a hello every error ends the connection, this one too.
        fail(s, ErrorCode::Replay, QStringLiteral("message id %1 is not above %2").arg(id).arg(s->lastInId), id,
             s->phase == BoxSession::AwaitingHello);
        return false;
    }
    s->lastInId = id;
    return true;
}

void BoxGateway::onText(quint64 connection)
{
    BoxSession *s = m_sessions.value(connection);
    if (!s || s->phase == BoxSession::Closing)
        return;
    s->lastActivityMs = nowMs();
    countError("decode", errorCodeName(ErrorCode::BadFrame));
    fail(s, ErrorCode::BadFrame, QStringLiteral("boxes send binary CBOR frames; text frames are for operators on port 8422"),
         0, s->phase == BoxSession::AwaitingHello);
}

void BoxGateway::onGone(quint64 connection)
{
    BoxSession *s = m_sessions.take(connection);
    if (!s)
        return;
    // The transport reports the end from inside a send or close of this very session (a write
    // into a reset connection, a box past the outbound limit), with callers up the stack still
    // holding it: fail() goes on to closeSession(), handlers read s->box after their ack,
    // handleHello() announces the box after its Welcome. So here the session only stops (no
    // more frames, sends or lookups); the box is reported gone, after anything announced in
    // this turn, and the record freed once control is back in the event loop.
    s->gone = true;
    s->phase = BoxSession::Closing;
    if (s->box) {
        const auto it = m_byBox.constFind(s->box->id);
        if (it != m_byBox.cend() && *it == s)
            m_byBox.erase(it);
    }
    if (s->helloDone)
        --m_helloDone;
    m_gone.push_back(s);
    if (m_gone.size() == 1)
        QMetaObject::invokeMethod(this, &BoxGateway::releaseGone, Qt::QueuedConnection);
}

void BoxGateway::releaseGone()
{
    for (BoxSession *s : std::exchange(m_gone, {})) {
        // Unless the box is back on a newer connection meanwhile: that one holds it now.
        if (s->box && !m_byBox.contains(s->box->id))
            m_handler->handleBoxGone(s);
        delete s;
    }
}

void BoxGateway::sweep()
{
    const qint64 now = nowMs();
    // A connect storm leaves the heap full of freed handshake buffers that glibc keeps; give
    // them back after the storm (malloc_trim costs a few ms, so at most every 30 s).
    if (now - m_lastTrimMs >= 30000) {
        m_lastTrimMs = now;
        malloc_trim(0);
    }
    const qint64 helloLimit = qint64(m_config.helloTimeoutSeconds) * 1000;
    const qint64 idleLimit = qint64(m_config.idleTimeoutSeconds) * 1000;
    if (m_lean) {
        // Connections that never finish their upgrade request (slowloris) count against admission.
        QList<quint64> stale;
        for (auto it = m_upgrading.cbegin(); it != m_upgrading.cend(); ++it) {
            if (now - it.value() > helloLimit)
                stale.append(it.key());
        }
        for (quint64 id : stale) {
            m_timeouts->increment();
            m_lean->abort(id, QStringLiteral("no WebSocket upgrade in time"));
        }
    }
    QList<BoxSession *> expired;
    for (BoxSession *s : std::as_const(m_sessions)) {
        const qint64 limit = s->phase == BoxSession::Closing ? 5000 : s->phase == BoxSession::AwaitingHello ? helloLimit : idleLimit;
        if (now - (s->phase == BoxSession::AwaitingHello ? s->connectedAtMs : s->lastActivityMs) > limit)
            expired.append(s);
    }
    for (BoxSession *s : expired) {
        m_timeouts->increment();
        if (s->phase == BoxSession::Closing) {
            closeTransport(s, QStringLiteral("no close answer"), true);
            continue;
        }
        closeSession(s, s->phase == BoxSession::AwaitingHello ? QStringLiteral("no hello in time")
                                                              : QStringLiteral("idle: no frame within the timeout"));
    }
}

} // namespace iptv::control
