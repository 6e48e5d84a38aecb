#include "boxgateway.h"

#include "config.h"
#include "controlserver.h"
#include "fleet.h"

#include <core/metrics.h>

#include <QFile>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QSslKey>
#include <QSslSocket>
#include <QWebSocket>
#include <QWebSocketServer>

#include <sys/resource.h>

Q_LOGGING_CATEGORY(lcBox, "iptv.control.box")
Q_LOGGING_CATEGORY(lcAdmission, "iptv.control.admission")

namespace iptv::control {

using namespace iptv::protocol;

namespace {

/// Raises the soft descriptor limit to the hard one and returns it.
int raiseFdLimit()
{
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : int(std::min<rlim_t>(rl.rlim_cur, 1 << 20));
}

} // namespace

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

BoxGateway::BoxGateway(ControlServer *server, const ControlConfig &config, iptv::MetricsRegistry *metrics, QObject *parent)
    : QObject(parent), m_server(server), m_config(config), m_metrics(metrics)
{
    m_clock.start();
    m_fdLimit = raiseFdLimit();
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
    }
    m_ws = new QWebSocketServer(QStringLiteral("controlserver"), QWebSocketServer::NonSecureMode, this);
    m_ws->setMaxPendingConnections(1 << 20); // drained in newConnection; never the bottleneck
    m_ws->setHandshakeTimeout(m_config.helloTimeoutSeconds * 1000);
    connect(m_ws, &QWebSocketServer::newConnection, this, [this] {
        while (m_ws->hasPendingConnections())
            adopt(m_ws->nextPendingConnection());
    });
    m_listener = new BoxListener(this);
    m_listener->onDescriptor = [this](qintptr d) { accept(d); };
    // A reconnect storm arrives faster than one event loop turn accepts; a deep backlog keeps
    // SYNs from being dropped (and retried a second later) meanwhile.
    m_listener->setListenBacklogSize(4096);
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
    if (m_listener)
        m_listener->close();
    const auto sessions = m_sessions;
    for (BoxSession *s : sessions) {
        s->socket->disconnect(this);
        s->socket->close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("server stopping"));
        s->socket->deleteLater();
        delete s;
    }
    m_sessions.clear();
    m_byBox.clear();
    m_helloDone = 0;
}

int BoxGateway::handshakesInFlight() const
{
    return std::max(0, m_openSockets - m_helloDone);
}

void BoxGateway::refuseRaw(QTcpSocket *socket, const char *reason)
{
    // Before the WebSocket upgrade the only way to say "later" is plain HTTP.
    const int after = retryAfter();
    socket->write("HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + QByteArray::number(after)
                  + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    socket->disconnectFromHost();
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    m_metrics->counter(u"controlserver_admission_rejections_total"_qs, u"Connections or hellos turned away by admission control."_qs,
                       {{u"reason"_qs, QLatin1String(reason)}})
        ->increment();
    qint64 suppressed = 0;
    if (m_log.allow(&suppressed))
        qCInfo(lcAdmission) << "refused a connection:" << reason << "(" << suppressed << "similar lines suppressed)";
}

void BoxGateway::accept(qintptr descriptor)
{
    m_accepted->increment();
    QTcpSocket *socket = m_ssl ? new QSslSocket : new QTcpSocket; // the QWebSocket takes it over
    if (!socket->setSocketDescriptor(descriptor)) {
        delete socket;
        return;
    }
    ++m_openSockets;
    connect(socket, &QObject::destroyed, this, [this] { --m_openSockets; });
    // Qt 6.4's QWebSocket does not own the socket it was upgraded from (and copes with it being
    // deleted), so the socket frees itself when the connection ends, upgraded or not.
    connect(socket, &QAbstractSocket::stateChanged, socket, [socket](QAbstractSocket::SocketState state) {
        if (state == QAbstractSocket::UnconnectedState)
            socket->deleteLater();
    });
    if (m_openSockets + m_config.fdReserve >= m_fdLimit) {
        refuseRaw(socket, "descriptors");
        return;
    }
    if (handshakesInFlight() > 2 * m_config.maxHandshakes) {
        refuseRaw(socket, "handshakes");
        return;
    }
    if (m_ssl) {
        auto *ssl = static_cast<QSslSocket *>(socket);
        ssl->setSslConfiguration(*m_ssl);
        connect(ssl, &QSslSocket::encrypted, this, [this, ssl] { m_ws->handleConnection(ssl); });
        connect(ssl, &QSslSocket::sslErrors, ssl, [ssl] { ssl->abort(); });
        ssl->startServerEncryption();
        return;
    }
    m_ws->handleConnection(socket);
}

void BoxGateway::adopt(QWebSocket *socket)
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
    auto *s = new BoxSession;
    s->socket = socket;
    s->connectedAtMs = s->lastActivityMs = nowMs();
    m_sessions.insert(socket, s);
    connect(socket, &QWebSocket::binaryMessageReceived, this, [this, socket](const QByteArray &f) { onFrame(socket, f); });
    connect(socket, &QWebSocket::textMessageReceived, this, [this, socket](const QString &t) { onText(socket, t); });
    connect(socket, &QWebSocket::disconnected, this, [this, socket] { onDisconnected(socket); });
}

quint64 BoxGateway::send(BoxSession *session, MessageType type, const QCborMap &body, quint64 replyTo)
{
    if (session->phase == BoxSession::Closing)
        return 0;
    const quint64 id = session->nextOutId++;
    session->socket->sendBinaryMessage(encode(Message(type, id, body, replyTo)));
    return id;
}

void BoxGateway::fail(BoxSession *session, ErrorCode code, const QString &text, quint64 replyTo, bool close, int after)
{
    m_metrics->counter(u"controlserver_box_errors_total"_qs, u"Errors answered to boxes, by code."_qs,
                       {{u"code"_qs, errorCodeName(code)}})
        ->increment();
    qint64 suppressed = 0;
    if (m_log.allow(&suppressed)) {
        qCInfo(lcBox).noquote() << (session->box ? session->box->serial : session->socket->peerAddress().toString())
                                << errorCodeName(code) << text << (suppressed ? QStringLiteral("(%1 similar lines suppressed)").arg(suppressed) : QString());
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
    // close() sends the close frame after the queued error; the disconnected signal cleans up.
    session->socket->close(QWebSocketProtocol::CloseCodePolicyViolated, reason.left(120));
}

void BoxGateway::bind(BoxSession *session, BoxInfo *box, BoxSession::Phase phase)
{
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
    if (handshakesInFlight() > m_config.maxHandshakes)
        reason = "handshakes";
    else if (m_tokens < 1)
        reason = "hello-rate";
    else if (m_openSockets + m_config.fdReserve >= m_fdLimit)
        reason = "descriptors";
    if (!reason) {
        m_tokens -= 1;
        return true;
    }
    m_metrics->counter(u"controlserver_admission_rejections_total"_qs, u"Connections or hellos turned away by admission control."_qs,
                       {{u"reason"_qs, QLatin1String(reason)}})
        ->increment();
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

void BoxGateway::onFrame(QWebSocket *socket, const QByteArray &frame)
{
    BoxSession *s = m_sessions.value(socket);
    if (!s || s->phase == BoxSession::Closing)
        return;
    m_frames->increment();
    s->lastActivityMs = nowMs();
    DecodeResult decoded = decode(frame, m_limits);
    if (!decoded.ok()) {
        m_metrics->counter(u"controlserver_decode_errors_total"_qs, u"Box frames that did not decode, by error code."_qs,
                           {{u"code"_qs, errorCodeName(decoded.error)}})
            ->increment();
        // A frame that is not a message at all cannot be trusted to belong to a session that
        // said hello; before hello, close.
        fail(s, decoded.error, decoded.errorText, decoded.message.id, s->phase == BoxSession::AwaitingHello);
        return;
    }
    Message &m = decoded.message;
    if (m.id <= s->lastInId) {
        fail(s, ErrorCode::Replay, QStringLiteral("message id %1 is not above %2").arg(m.id).arg(s->lastInId), m.id, false);
        return;
    }
    s->lastInId = m.id;
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
        m_server->handleHello(s, m);
        return;
    }
    m_server->handleBoxMessage(s, m);
}

void BoxGateway::onText(QWebSocket *socket, const QString &)
{
    BoxSession *s = m_sessions.value(socket);
    if (!s || s->phase == BoxSession::Closing)
        return;
    s->lastActivityMs = nowMs();
    m_metrics->counter(u"controlserver_decode_errors_total"_qs, u"Box frames that did not decode, by error code."_qs,
                       {{u"code"_qs, errorCodeName(ErrorCode::BadFrame)}})
        ->increment();
    fail(s, ErrorCode::BadFrame, QStringLiteral("boxes send binary CBOR frames; text frames are for operators on port 8422"),
         0, s->phase == BoxSession::AwaitingHello);
}

void BoxGateway::onDisconnected(QWebSocket *socket)
{
    BoxSession *s = m_sessions.take(socket);
    socket->deleteLater();
    if (!s)
        return;
    if (s->box) {
        const auto it = m_byBox.constFind(s->box->id);
        if (it != m_byBox.cend() && *it == s)
            m_byBox.erase(it);
        m_server->handleBoxGone(s);
    }
    if (s->helloDone)
        --m_helloDone;
    delete s;
}

void BoxGateway::sweep()
{
    const qint64 now = nowMs();
    const qint64 helloLimit = qint64(m_config.helloTimeoutSeconds) * 1000;
    const qint64 idleLimit = qint64(m_config.idleTimeoutSeconds) * 1000;
    QList<BoxSession *> expired;
    for (BoxSession *s : std::as_const(m_sessions)) {
        const qint64 limit = s->phase == BoxSession::Closing ? 5000 : s->phase == BoxSession::AwaitingHello ? helloLimit : idleLimit;
        if (now - (s->phase == BoxSession::AwaitingHello ? s->connectedAtMs : s->lastActivityMs) > limit)
            expired.append(s);
    }
    for (BoxSession *s : expired) {
        m_timeouts->increment();
        if (s->phase == BoxSession::Closing) {
            s->socket->abort(); // the peer never answered our close
            continue;
        }
        closeSession(s, s->phase == BoxSession::AwaitingHello ? QStringLiteral("no hello in time")
                                                              : QStringLiteral("idle: no frame within the timeout"));
    }
}

} // namespace iptv::control
