#pragma once

// controlserver configuration: a QSettings INI file (resources/config/controlserver.conf
// documents every key) with command-line flags overriding it.

#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QRegularExpression>
#include <QString>
#include <QtGlobal>

#include <algorithm>

QT_BEGIN_NAMESPACE
class QCommandLineParser;
QT_END_NAMESPACE

namespace iptv::control {

struct ControlConfig
{
    QString configFile;
    QHostAddress bindAddress = QHostAddress::Any;
    int boxPort = 8420;          ///< box WebSocket (/box); 0 = any free port (tests)
    int httpPort = 8421;         ///< operator HTTP API, /healthz, /metrics
    int operatorWsPort = 8422;   ///< operator WebSocket (live subscriptions)
    QString dataDir;             ///< SQLite database lives here
    QString database;            ///< SQLite path or postgresql:// URI; empty = <dataDir>/controlserver.sqlite
    QString tlsCertificate;      ///< PEM; box WebSocket speaks wss:// when set together with the key
    QString tlsKey;

    // enrollment
    bool autoApprove = false;             ///< approve every new box
    QString autoApproveSerialPattern;     ///< regex over the serial; matching boxes are approved

    // initial admin (created once, when the operators table is empty)
    QString adminAccount = QStringLiteral("admin");
    QString adminPasswordFile;            ///< else env IPTV_CONTROL_ADMIN_PASSWORD, else generated and printed once

    // sessions
    int heartbeatSeconds = 30;            ///< told to peers in Welcome, at most half of idleTimeoutSeconds (see below)
    int telemetrySeconds = 60;            ///< told to boxes in Welcome
    int ticketSeconds = 3600;             ///< lifetime of a box's identity ticket (other servers verify it)
    int idleTimeoutSeconds = 95;          ///< no frame for this long: the session is closed
    int helloTimeoutSeconds = 15;         ///< connected but no hello (or still pending handshake)
    /// Telemetry acks to a box that announced its window ("win" in its hello) and reports faster
    /// than this go out once half the window has arrived, or at most this long after a sample still
    /// unanswered: TCP's delayed ack, with RFC 1122's bound. A sample on its own is answered at
    /// once. Nothing waits on these acks but the box's resend buffer, and half the window stays
    /// open meanwhile. 0 = one ack per connection and event-loop turn, as for boxes that announce
    /// nothing.
    int telemetryAckDelayMs = 500;

    // admission control
    int maxHandshakes = 0;                ///< accepted but not through hello; 0 = auto (2000 with TLS, else 50000)
    int helloRate = 20000;                ///< hellos per second (token bucket)
    int helloBurst = 20000;
    int fdReserve = 64;                   ///< file descriptors kept free for the store, HTTP and logs
    int retryAfterMaxSeconds = 10;        ///< jittered Retry-After is 1..this

    // history
    int telemetryHistorySeconds = 60;     ///< at most one stored sample per box per interval
    /// Boxes' last-seen time and latest sample reach the store this often (everything else every
    /// second): with 19,000 boxes reporting, a row update per box per second cost a fifth of a core.
    int latestFlushSeconds = 5;
    int telemetryRetentionHours = 48;
    int eventRetentionDays = 14;
    int maxEventsPerBox = 500;
    /// Telemetry samples, and events, waiting for the store at most (each): while the store is
    /// down the oldest are dropped past this and counted, instead of the queues growing unbounded.
    int maxQueuedRows = 200000;

    // commands and operators
    int commandExpirySeconds = 86400;     ///< default when an operator gives none
    int operatorTokenHours = 12;
    int passwordOpsLimit = 0;             ///< 0 = libsodium's interactive defaults (tests lower it)
    qsizetype passwordMemLimit = 0;

    // login limits (POST /api/login; operators.h)
    int loginAccountFailures = 5;         ///< failed logins in a row before an account name is locked
    int loginAddressFailures = 20;        ///< the same per client address (IPv6: per /64)
    int loginBackoffSeconds = 2;          ///< the first lock; doubled with every further failure
    int loginBackoffMaxSeconds = 900;     ///< ... up to this
    int loginForgetSeconds = 3600;        ///< a name or address without failures for this long starts afresh
    int loginVerifyThreads = 2;           ///< threads for Argon2id checks (each needs the memory limit, 64 MiB)
    int loginMaxPending = 32;             ///< checks queued or running; beyond this 503 with Retry-After
    /// Reverse proxies (addresses or subnets) whose X-Forwarded-For names the client for the login
    /// limits and the audit log; empty = the peer's address is the client's.
    QList<QPair<QHostAddress, int>> trustedProxies;

    QString effectiveDatabase() const;
    /// The heartbeat Welcome announces ("hb"): heartbeatSeconds, lowered to half the idle timeout
    /// so that a box that pings only that often is never closed as idle.
    int announcedHeartbeatSeconds() const { return std::max(1, std::min(heartbeatSeconds, idleTimeoutSeconds / 2)); }
    bool tlsEnabled() const { return !tlsCertificate.isEmpty() && !tlsKey.isEmpty(); }
};

/// Declares the flags (--config, --box-port, --http-port, --db, --auto-approve, ...) on `parser`.
void addCommandLineOptions(QCommandLineParser *parser);

/// Reads the config file named by --config (when given) and applies the flags on top.
/// Returns false with *error set when a value is invalid.
bool loadConfig(const QCommandLineParser &parser, ControlConfig *config, QString *error);

/// Reads an INI file into *config (only the keys present change).
bool loadConfigFile(const QString &path, ControlConfig *config, QString *error);

} // namespace iptv::control
