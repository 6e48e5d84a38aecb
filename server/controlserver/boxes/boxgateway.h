#pragma once

// Box sessions: the WebSocket listener on /box (port 8420), admission control, framing, the
// per-session replay check and idle timeouts. What a message means is the session handler's
// business (boxsessionhandler.h, ControlServer implements it); the gateway hands it every decoded
// message of a session.
//
// Accepting: one QTcpServer (large listen backlog) accepts; each connection is checked against
// the admission limits (file descriptors, connections not yet through hello) and refused with a
// plain HTTP 503 + Retry-After beyond them, before any upgrade or TLS work. A hello beyond the
// token bucket (hellos per second) is answered with error overloaded{retryAfter} and closed.
//
// Transports: without TLS the connections go to libs/wsserver (one epoll set, ~0.2 KB a
// connection); with a certificate they go through QSslSocket and QWebSocketServer (~18 KB a
// connection: TLS fleets that large terminate TLS at a load balancer instead). Either way a box
// costs one small BoxSession record here and no timer (one sweep timer checks all).

#include <protocol/message.h>

#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QObject>
#include <QSslConfiguration>
#include <QTcpServer>
#include <QTimer>

#include <functional>
#include <optional>
#include <vector>

QT_BEGIN_NAMESPACE
class QWebSocket;
class QWebSocketServer;
QT_END_NAMESPACE

namespace iptv {
class Counter;
class MetricsRegistry;
namespace ws {
class Server;
}
}

namespace iptv::control {

struct BoxInfo;
class BoxSessionHandler;
struct ControlConfig;

struct BoxSession
{
    enum Phase : quint8 { AwaitingHello, Pending, Online, Closing };
    quint64 connection = 0; ///< ws::ConnectionId, or the QWebSocket pointer on the TLS transport
    BoxInfo *box = nullptr;
    quint64 lastInId = 0;
    qint64 lastActivityMs = 0;
    qint64 connectedAtMs = 0;
    quint32 nextOutId = 1;
    Phase phase = AwaitingHello;
    bool helloDone = false; ///< counted as past hello (admission counts the rest as in flight)
    bool ackQueued = false; ///< a cumulative telemetry ack waits for the end of this turn
    bool ackDelayed = false;///< ... or for the delayed-ack timer
    quint8 version = 1;     ///< the protocol version negotiated in the hello
    quint8 ackEvery = 1;    ///< acknowledge once this many samples are unanswered (half the box's window)
    quint8 unacked = 0;     ///< telemetry received and not acknowledged yet
    quint64 ackUpTo = 0;    ///< the newest telemetry id to acknowledge
    qint64 lastTelemetryMs = -1; ///< when the previous telemetry arrived (gateway clock)
    bool gone = false;      ///< the connection ended: no longer looked up, freed after this turn
};

/// Accepts connections itself so admission is decided before any WebSocket or TLS work.
class BoxListener : public QTcpServer
{
    Q_OBJECT
public:
    using QTcpServer::QTcpServer;
    std::function<void(qintptr)> onDescriptor;

protected:
    void incomingConnection(qintptr descriptor) override { onDescriptor(descriptor); }
};

/// Logs at most `perSecond` lines a second and says how many it swallowed.
class RateLimitedLog
{
public:
    explicit RateLimitedLog(int perSecond = 20) : m_perSecond(perSecond) { m_clock.start(); }
    /// True when this line may be logged; *suppressed gets the count dropped since the last one.
    bool allow(qint64 *suppressed);

private:
    QElapsedTimer m_clock;
    qint64 m_windowStart = 0;
    int m_perSecond;
    int m_inWindow = 0;
    qint64 m_suppressed = 0;
};

class BoxGateway : public QObject
{
    Q_OBJECT
public:
    BoxGateway(BoxSessionHandler *handler, const ControlConfig &config, iptv::MetricsRegistry *metrics,
               QObject *parent = nullptr);
    ~BoxGateway() override;

    bool listen(const QHostAddress &address, quint16 port, QString *error);
    quint16 port() const;
    /// Closes the listener and every session (going away).
    void close();

    /// Sends a message with the session's next id; returns the id.
    quint64 send(BoxSession *session, iptv::protocol::MessageType type, const QCborMap &body, quint64 replyTo = 0);
    /// Acknowledges a stored telemetry message: at once to a version-1 box. A newer box gets one
    /// cumulative ack per connection at the end of this event-loop turn, however many of its
    /// samples arrived in it (under load they queue up, and one ack answers them all); when it
    /// announced its window and reports faster than telemetryAckDelayMs, only once half the
    /// window is unanswered, or after telemetryAckDelayMs at the latest.
    void acknowledgeTelemetry(BoxSession *session, quint64 messageId);
    /// The window the box announced in its hello (0 = none): sets how often it is acknowledged.
    void setTelemetryWindow(BoxSession *session, int window) const;
    /// Sends error `code` answering `replyTo`, logs it (rate-limited), and closes when `close`.
    void fail(BoxSession *session, iptv::protocol::ErrorCode code, const QString &text, quint64 replyTo, bool close,
              int retryAfter = 0);
    /// Makes `session` the box's session (closing an older one) in `phase`.
    void bind(BoxSession *session, BoxInfo *box, BoxSession::Phase phase);
    void closeSession(BoxSession *session, const QString &reason);

    BoxSession *sessionOf(qint64 boxId) const { return m_byBox.value(boxId); }
    int sessionCount() const { return int(m_sessions.size()); }
    int handshakesInFlight() const;
    qint64 nowMs() const { return m_clock.elapsed(); }
    bool usesTls() const { return m_ssl.has_value(); }

private:
    void accept(qintptr descriptor);
    void refuse(qintptr descriptor, const char *reason);
    BoxSession *open(quint64 connection);
    void onFrame(quint64 connection, const QByteArray &frame);
    void onText(quint64 connection);
    /// The replay check: an `id` other than 0 must be above the session's last; answers Replay when it is not.
    bool acceptId(BoxSession *session, quint64 id);
    /// The connection ended: the session stops at once and is released after this turn.
    void onGone(quint64 connection);
    /// Reports the sessions that ended as gone and frees them.
    void releaseGone();
    void transmit(BoxSession *session, const QByteArray &frame);
    void closeTransport(BoxSession *session, const QString &reason, bool abort);
    QString peer(const BoxSession *session) const;
    void adoptQtSocket(QWebSocket *socket);
    bool admitHello(QString *why, int *retryAfter);
    int retryAfter();
    void countError(const char *family, const QString &code);
    void sweep();
    void sendDueAcks(const std::vector<quint64> &connections);

    BoxSessionHandler *m_handler;
    const ControlConfig &m_config;
    iptv::protocol::DecodeLimits m_limits;
    BoxListener *m_listener = nullptr;
    iptv::ws::Server *m_lean = nullptr;      ///< plain transport
    QList<QWebSocketServer *> m_qtServers;   ///< TLS transport, round robin (see listen())
    qsizetype m_nextQtServer = 0;
    std::optional<QSslConfiguration> m_ssl;
    QHash<quint64, BoxSession *> m_sessions;
    std::vector<BoxSession *> m_gone; ///< ended this turn; callers up the stack may still hold them
    std::vector<quint64> m_ackQueue; ///< connections with a cumulative ack due this turn
    std::vector<quint64> m_delayedAcks; ///< connections with an ack due when m_ackTimer fires
    QTimer m_ackTimer;
    QHash<quint64, qint64> m_upgrading;      ///< lean connections before their upgrade: adopted at (ms)
    QHash<qint64, BoxSession *> m_byBox;
    QElapsedTimer m_clock;
    QTimer m_sweep;
    int m_openSockets = 0;    ///< connections alive (upgrading or upgraded)
    int m_helloDone = 0;      ///< sessions past a successful hello
    int m_fdLimit = 0;
    double m_tokens = 0;      ///< hello token bucket
    qint64 m_tokensAtMs = 0;
    qint64 m_lastTrimMs = 0;
    bool m_acceptPaused = false;
    RateLimitedLog m_log;

    iptv::MetricsRegistry *m_metrics;
    iptv::Counter *m_accepted = nullptr;
    iptv::Counter *m_handshakes = nullptr;
    iptv::Counter *m_frames = nullptr;
    iptv::Counter *m_timeouts = nullptr;
};

} // namespace iptv::control
