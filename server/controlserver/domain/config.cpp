#include "config.h"

#include <core/configfile.h>
#include <core/numbers.h>

#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QSettings>
#include <QStandardPaths>

Q_LOGGING_CATEGORY(lcConfig, "iptv.control.config")

namespace iptv::control {

namespace {

using iptv::parseIntInRange;

bool checkPattern(const QString &key, const QString &pattern, QString *error)
{
    if (pattern.isEmpty())
        return true;
    const QRegularExpression re(pattern);
    if (!re.isValid()) {
        *error = QStringLiteral("%1: invalid regular expression \"%2\": %3").arg(key, pattern, re.errorString());
        return false;
    }
    return true;
}

struct IntKey
{
    const char *file; ///< INI key
    const char *flag; ///< command-line flag, or nullptr
    int ControlConfig::*member;
    int min, max;
};

const IntKey s_intKeys[] = {
    {"server/box_port", "box-port", &ControlConfig::boxPort, 0, 65535},
    {"server/http_port", "http-port", &ControlConfig::httpPort, 0, 65535},
    {"server/operator_ws_port", "operator-ws-port", &ControlConfig::operatorWsPort, 0, 65535},
    {"sessions/heartbeat_seconds", nullptr, &ControlConfig::heartbeatSeconds, 1, 3600},
    {"sessions/telemetry_seconds", nullptr, &ControlConfig::telemetrySeconds, 1, 86400},
    {"sessions/ticket_seconds", nullptr, &ControlConfig::ticketSeconds, 60, 7 * 86400},
    {"sessions/idle_timeout_seconds", "idle-timeout", &ControlConfig::idleTimeoutSeconds, 2, 86400},
    {"sessions/hello_timeout_seconds", nullptr, &ControlConfig::helloTimeoutSeconds, 1, 600},
    {"sessions/telemetry_ack_delay_ms", nullptr, &ControlConfig::telemetryAckDelayMs, 0, 1000},
    {"admission/max_handshakes", "max-handshakes", &ControlConfig::maxHandshakes, 0, 1000000},
    {"admission/hello_rate", "hello-rate", &ControlConfig::helloRate, 1, 10000000},
    {"admission/hello_burst", nullptr, &ControlConfig::helloBurst, 1, 10000000},
    {"admission/fd_reserve", nullptr, &ControlConfig::fdReserve, 8, 100000},
    {"admission/retry_after_max_seconds", nullptr, &ControlConfig::retryAfterMaxSeconds, 1, 3600},
    {"history/telemetry_interval_seconds", nullptr, &ControlConfig::telemetryHistorySeconds, 0, 86400},
    {"history/latest_flush_seconds", nullptr, &ControlConfig::latestFlushSeconds, 1, 3600},
    {"history/telemetry_retention_hours", nullptr, &ControlConfig::telemetryRetentionHours, 1, 24 * 365},
    {"history/event_retention_days", nullptr, &ControlConfig::eventRetentionDays, 1, 3650},
    {"history/max_events_per_box", nullptr, &ControlConfig::maxEventsPerBox, 1, 1000000},
    {"history/max_queued_rows", nullptr, &ControlConfig::maxQueuedRows, 100, 100000000},
    {"commands/default_expiry_seconds", nullptr, &ControlConfig::commandExpirySeconds, 1, 365 * 86400},
    {"operators/token_hours", nullptr, &ControlConfig::operatorTokenHours, 1, 24 * 365},
    {"login/account_failures", nullptr, &ControlConfig::loginAccountFailures, 1, 1000},
    {"login/address_failures", nullptr, &ControlConfig::loginAddressFailures, 1, 1000000},
    {"login/backoff_seconds", nullptr, &ControlConfig::loginBackoffSeconds, 1, 86400},
    {"login/backoff_max_seconds", nullptr, &ControlConfig::loginBackoffMaxSeconds, 1, 7 * 86400},
    {"login/forget_seconds", nullptr, &ControlConfig::loginForgetSeconds, 1, 30 * 86400},
    {"login/verify_threads", nullptr, &ControlConfig::loginVerifyThreads, 1, 64},
    {"login/max_pending", nullptr, &ControlConfig::loginMaxPending, 1, 100000},
};

} // namespace

QString ControlConfig::effectiveDatabase() const
{
    return database.isEmpty() ? QDir(dataDir).filePath(QStringLiteral("controlserver.sqlite")) : database;
}

void addCommandLineOptions(QCommandLineParser *parser)
{
    parser->addOptions({
        {{QStringLiteral("c"), QStringLiteral("config")}, QStringLiteral("Configuration file (INI)."), QStringLiteral("file")},
        {QStringLiteral("box-port"), QStringLiteral("Box WebSocket port, path /box (default 8420)."), QStringLiteral("port")},
        {QStringLiteral("http-port"), QStringLiteral("Operator HTTP API port (default 8421)."), QStringLiteral("port")},
        {QStringLiteral("operator-ws-port"), QStringLiteral("Operator WebSocket port (default 8422)."), QStringLiteral("port")},
        {QStringLiteral("bind"), QStringLiteral("Address to listen on (default any)."), QStringLiteral("address")},
        {QStringLiteral("data-dir"), QStringLiteral("Directory for the SQLite database."), QStringLiteral("dir")},
        {QStringLiteral("db"), QStringLiteral("SQLite file or postgresql://user:pass@host:port/db."), QStringLiteral("path-or-uri")},
        {QStringLiteral("tls-cert"), QStringLiteral("PEM certificate: boxes connect with wss://."), QStringLiteral("file")},
        {QStringLiteral("tls-key"), QStringLiteral("PEM private key of --tls-cert."), QStringLiteral("file")},
        {QStringLiteral("auto-approve"), QStringLiteral("Approve every newly enrolling box.")},
        {QStringLiteral("auto-approve-serial"), QStringLiteral("Approve new boxes whose serial matches this regex."), QStringLiteral("regex")},
        {QStringLiteral("admin-account"), QStringLiteral("Name of the initial admin (default admin)."), QStringLiteral("name")},
        {QStringLiteral("admin-password-file"), QStringLiteral("File holding the initial admin's password (else env IPTV_CONTROL_ADMIN_PASSWORD, else one is generated and printed once)."), QStringLiteral("file")},
        {QStringLiteral("idle-timeout"), QStringLiteral("Close box sessions silent for this many seconds (default 95)."), QStringLiteral("seconds")},
        {QStringLiteral("max-handshakes"), QStringLiteral("Connections accepted but not through hello before new ones are turned away (default 0 = 2000 with TLS, else 50000)."), QStringLiteral("count")},
        {QStringLiteral("hello-rate"), QStringLiteral("Hellos admitted per second (default 20000)."), QStringLiteral("per-second")},
    });
}

bool loadConfigFile(const QString &path, ControlConfig *config, QString *error)
{
    iptv::config::IniFile file;
    if (!file.open(path, error))
        return false;
    config->configFile = path;
    auto value = [&file](const char *key) { return file.value(key); };
    auto has = [&file](const char *key) { return file.has(key); };
    auto resolve = [&file](const QString &p) { return file.resolve(p); };

    for (const IntKey &k : s_intKeys) {
        if (has(k.file) && !parseIntInRange(QLatin1String(k.file), value(k.file).toString(), k.min, k.max, &(config->*k.member), error))
            return false;
    }
    if (has("server/bind")) {
        QHostAddress a;
        if (!a.setAddress(value("server/bind").toString())) {
            *error = QStringLiteral("server/bind: not an address: %1").arg(value("server/bind").toString());
            return false;
        }
        config->bindAddress = a;
    }
    if (has("server/data_dir"))
        config->dataDir = resolve(value("server/data_dir").toString());
    if (has("database/uri")) {
        const QString db = value("database/uri").toString();
        config->database = db.startsWith(u"postgres") ? db : resolve(db);
    }
    if (has("tls/certificate"))
        config->tlsCertificate = resolve(value("tls/certificate").toString());
    if (has("tls/key"))
        config->tlsKey = resolve(value("tls/key").toString());
    if (has("enrollment/auto_approve"))
        config->autoApprove = value("enrollment/auto_approve").toBool();
    if (has("enrollment/auto_approve_serial")) {
        config->autoApproveSerialPattern = value("enrollment/auto_approve_serial").toString();
        if (!checkPattern(QStringLiteral("enrollment/auto_approve_serial"), config->autoApproveSerialPattern, error))
            return false;
    }
    if (has("operators/admin_account"))
        config->adminAccount = value("operators/admin_account").toString();
    if (has("operators/admin_password_file"))
        config->adminPasswordFile = resolve(value("operators/admin_password_file").toString());
    if (has("login/trusted_proxies")) {
        // QSettings reads "a, b" as a list already; a single entry comes as a string.
        config->trustedProxies.clear();
        for (const QString &entry : value("login/trusted_proxies").toStringList()) {
            const QString text = entry.trimmed();
            if (text.isEmpty())
                continue;
            auto subnet = QHostAddress::parseSubnet(text);
            if (subnet.first.isNull()) {
                *error = QStringLiteral("login/trusted_proxies: \"%1\" is neither an address nor a subnet like 10.0.0.0/8").arg(text);
                return false;
            }
            config->trustedProxies.append(subnet);
        }
    }
    if (config->loginBackoffMaxSeconds < config->loginBackoffSeconds) {
        *error = QStringLiteral("login/backoff_max_seconds (%1) is below login/backoff_seconds (%2)")
                     .arg(config->loginBackoffMaxSeconds)
                     .arg(config->loginBackoffSeconds);
        return false;
    }
    return true;
}

bool loadConfig(const QCommandLineParser &parser, ControlConfig *config, QString *error)
{
    auto opt = [&parser](const char *name) { return parser.value(QLatin1String(name)); };
    auto isSet = [&parser](const char *name) { return parser.isSet(QLatin1String(name)); };

    if (isSet("config") && !loadConfigFile(opt("config"), config, error))
        return false;

    for (const IntKey &k : s_intKeys) {
        if (k.flag && isSet(k.flag)
            && !parseIntInRange(u"--"_qs + QLatin1String(k.flag), opt(k.flag), k.min, k.max, &(config->*k.member), error))
            return false;
    }
    if (isSet("bind") && !config->bindAddress.setAddress(opt("bind"))) {
        *error = QStringLiteral("--bind: not an address: %1").arg(opt("bind"));
        return false;
    }
    if (isSet("data-dir"))
        config->dataDir = opt("data-dir");
    if (isSet("db"))
        config->database = opt("db");
    if (isSet("tls-cert"))
        config->tlsCertificate = opt("tls-cert");
    if (isSet("tls-key"))
        config->tlsKey = opt("tls-key");
    if (isSet("auto-approve"))
        config->autoApprove = true;
    if (isSet("auto-approve-serial")) {
        config->autoApproveSerialPattern = opt("auto-approve-serial");
        if (!checkPattern(QStringLiteral("--auto-approve-serial"), config->autoApproveSerialPattern, error))
            return false;
    }
    if (isSet("admin-account"))
        config->adminAccount = opt("admin-account");
    if (isSet("admin-password-file"))
        config->adminPasswordFile = opt("admin-password-file");

    if (config->tlsCertificate.isEmpty() != config->tlsKey.isEmpty()) {
        *error = QStringLiteral("TLS needs both a certificate and a key (--tls-cert and --tls-key)");
        return false;
    }
    if (config->announcedHeartbeatSeconds() != config->heartbeatSeconds) {
        qCInfo(lcConfig).noquote() << QStringLiteral("heartbeat_seconds %1 does not fit idle_timeout_seconds %2: boxes are told %3 s")
                                          .arg(config->heartbeatSeconds).arg(config->idleTimeoutSeconds)
                                          .arg(config->announcedHeartbeatSeconds());
    }
    if (config->dataDir.isEmpty()) {
        config->dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
        qCInfo(lcConfig) << "no --data-dir given, using" << config->dataDir;
    }
    return true;
}

} // namespace iptv::control
