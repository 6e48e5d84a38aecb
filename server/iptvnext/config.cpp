#include "config.h"

#include <core/configfile.h>
#include <core/numbers.h>
#include <core/httputil.h>

#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QSettings>
#include <QStandardPaths>

Q_LOGGING_CATEGORY(lcConfig, "iptv.next.config")

namespace iptv::next {

namespace {

bool parseZone(const QString &text, QTimeZone *zone, QString *error)
{
    const QString t = text.trimmed();
    if (t.isEmpty() || t.compare(u"UTC", Qt::CaseInsensitive) == 0 || t == u"Z") {
        *zone = QTimeZone::utc();
        return true;
    }
    QTimeZone z(t.toUtf8());
    if (!z.isValid()) {
        *error = QStringLiteral("unknown time zone \"%1\" (use an IANA name like Europe/Dublin)").arg(t);
        return false;
    }
    *zone = z;
    return true;
}

using iptv::parseIntInRange;

bool parseFrom(const QString &text, qint64 *out, QString *error)
{
    if (text.trimmed().isEmpty()) {
        *out = 0;
        return true;
    }
    const auto t = iptv::http::parseTime(text);
    if (!t) {
        *error = QStringLiteral("--from: expected ISO 8601 (2026-01-01T00:00:00Z) or epoch seconds, got \"%1\"").arg(text);
        return false;
    }
    *out = *t;
    return true;
}

QStringList splitList(const QStringList &values)
{
    // Flags repeat and INI lists are comma separated; accept both, and commas inside one flag.
    QStringList out;
    for (const QString &v : values) {
        for (const QString &part : v.split(u',', Qt::SkipEmptyParts)) {
            const QString p = part.trimmed();
            if (!p.isEmpty())
                out.append(p);
        }
    }
    return out;
}

} // namespace

quint16 ServerConfig::effectiveEventsPort() const
{
    if (eventsPort < 0)
        return port == 0 ? 0 : quint16(port + 1);
    return quint16(eventsPort);
}

QString ServerConfig::effectiveDatabase() const
{
    return database.isEmpty() ? QDir(dataDir).filePath(QStringLiteral("iptvnext.sqlite")) : database;
}

QString ServerConfig::guidesDir() const
{
    return QDir(dataDir).filePath(QStringLiteral("guides"));
}

void addCommandLineOptions(QCommandLineParser *parser)
{
    parser->addOptions({
        {{QStringLiteral("c"), QStringLiteral("config")}, QStringLiteral("Configuration file (INI)."), QStringLiteral("file")},
        {{QStringLiteral("p"), QStringLiteral("port")}, QStringLiteral("HTTP port (default 8410)."), QStringLiteral("port")},
        {QStringLiteral("events-port"), QStringLiteral("WebSocket port for /events (default HTTP port + 1; 0 = only on the HTTP port)."), QStringLiteral("port")},
        {QStringLiteral("bind"), QStringLiteral("Address to listen on (default any)."), QStringLiteral("address")},
        {QStringLiteral("data-dir"), QStringLiteral("Directory for the database and the compiled guides."), QStringLiteral("dir")},
        {QStringLiteral("xmltv"), QStringLiteral("XMLTV source, file or URL; repeat for several."), QStringLiteral("file-or-url")},
        {QStringLiteral("lineup"), QStringLiteral("M3U lineup, file or URL: the box's channel list and order."), QStringLiteral("file-or-url")},
        {QStringLiteral("refresh"), QStringLiteral("Refresh interval in minutes (0 = on start and on demand only)."), QStringLiteral("minutes")},
        {QStringLiteral("no-refresh-on-start"), QStringLiteral("Serve the stored guide and wait for the schedule.")},
        {QStringLiteral("db"), QStringLiteral("SQLite file or postgresql://user:pass@host:port/db."), QStringLiteral("path-or-uri")},
        {QStringLiteral("days"), QStringLiteral("Guide window length in days (default 14)."), QStringLiteral("days")},
        {QStringLiteral("from"), QStringLiteral("Guide window start, ISO 8601 or epoch seconds (default: start of the current UTC day)."), QStringLiteral("time")},
        {QStringLiteral("time-zone"), QStringLiteral("Zone for XMLTV times without an offset (default UTC)."), QStringLiteral("iana-zone")},
        {QStringLiteral("shrink-guard"), QStringLiteral("Hold back a source whose read has fewer programmes or channels in the window than this percentage of its last good data (default 50; 0 = off)."), QStringLiteral("percent")},
        {QStringLiteral("keep"), QStringLiteral("Compiled guide versions to keep for deltas (default 5)."), QStringLiteral("count")},
        {QStringLiteral("compression-level"), QStringLiteral("zstd level of the compiled guide, 1-22, or 0 to choose by size (default 0)."), QStringLiteral("level")},
        {QStringLiteral("now"), QStringLiteral("Pin the server clock (demos of archived guides)."), QStringLiteral("time")},
    });
}

bool loadConfigFile(const QString &path, ServerConfig *config, QString *error)
{
    iptv::config::IniFile file;
    if (!file.open(path, error))
        return false;
    config->configFile = path;
    auto value = [&file](const char *key) { return file.value(key); };
    auto has = [&file](const char *key) { return file.has(key); };
    auto resolve = [&file](const QString &p) { return file.resolve(p); };

    if (has("server/port")) {
        int port = 0;
        if (!parseIntInRange(QStringLiteral("server/port"), value("server/port").toString(), 0, 65535, &port, error))
            return false;
        config->port = quint16(port);
    }
    if (has("server/events_port")) {
        if (!parseIntInRange(QStringLiteral("server/events_port"), value("server/events_port").toString(), -1, 65535,
                      &config->eventsPort, error))
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
    if (has("sources/xmltv")) {
        QStringList list;
        for (const QString &p : splitList(value("sources/xmltv").toStringList()))
            list.append(resolve(p));
        config->xmltvSources = list;
    }
    if (has("sources/lineup"))
        config->lineup = resolve(value("sources/lineup").toString());
    if (has("sources/refresh_minutes")
        && !parseIntInRange(QStringLiteral("sources/refresh_minutes"), value("sources/refresh_minutes").toString(), 0,
                     60 * 24 * 7, &config->refreshMinutes, error))
        return false;
    if (has("sources/refresh_on_start"))
        config->refreshOnStart = value("sources/refresh_on_start").toBool();
    if (has("sources/time_zone") && !parseZone(value("sources/time_zone").toString(), &config->timeZone, error))
        return false;
    if (has("sources/shrink_guard_percent")
        && !parseIntInRange(QStringLiteral("sources/shrink_guard_percent"), value("sources/shrink_guard_percent").toString(), 0,
                     100, &config->shrinkGuardPercent, error))
        return false;
    if (has("sources/download_timeout_seconds")
        && !parseIntInRange(QStringLiteral("sources/download_timeout_seconds"),
                     value("sources/download_timeout_seconds").toString(), 1, 86400, &config->downloadTimeoutSeconds,
                     error))
        return false;
    if (has("database/uri")) {
        const QString db = value("database/uri").toString();
        config->database = db.startsWith(u"postgres") ? db : resolve(db);
    }
    if (has("guide/days") && !parseIntInRange(QStringLiteral("guide/days"), value("guide/days").toString(), 1, 62, &config->days, error))
        return false;
    if (has("guide/from") && !parseFrom(value("guide/from").toString(), &config->from, error))
        return false;
    if (has("guide/keep") && !parseIntInRange(QStringLiteral("guide/keep"), value("guide/keep").toString(), 1, 100, &config->keepGuides, error))
        return false;
    if (has("guide/compression_level")
        && !parseIntInRange(QStringLiteral("guide/compression_level"), value("guide/compression_level").toString(), 0, 22,
                     &config->compressionLevel, error))
        return false;
    return true;
}

bool loadConfig(const QCommandLineParser &parser, ServerConfig *config, QString *error)
{
    auto opt = [&parser](const char *name) { return parser.value(QLatin1String(name)); };
    auto isSet = [&parser](const char *name) { return parser.isSet(QLatin1String(name)); };

    if (isSet("config") && !loadConfigFile(opt("config"), config, error))
        return false;

    if (isSet("port")) {
        int port = 0;
        if (!parseIntInRange(QStringLiteral("--port"), opt("port"), 0, 65535, &port, error))
            return false;
        config->port = quint16(port);
    }
    if (isSet("events-port") && !parseIntInRange(QStringLiteral("--events-port"), opt("events-port"), -1, 65535, &config->eventsPort, error))
        return false;
    if (isSet("bind") && !config->bindAddress.setAddress(opt("bind"))) {
        *error = QStringLiteral("--bind: not an address: %1").arg(opt("bind"));
        return false;
    }
    if (isSet("data-dir"))
        config->dataDir = opt("data-dir");
    if (isSet("xmltv"))
        config->xmltvSources = splitList(parser.values(QStringLiteral("xmltv")));
    if (isSet("lineup"))
        config->lineup = opt("lineup");
    if (isSet("refresh") && !parseIntInRange(QStringLiteral("--refresh"), opt("refresh"), 0, 60 * 24 * 7, &config->refreshMinutes, error))
        return false;
    if (isSet("no-refresh-on-start"))
        config->refreshOnStart = false;
    if (isSet("db"))
        config->database = opt("db");
    if (isSet("days") && !parseIntInRange(QStringLiteral("--days"), opt("days"), 1, 62, &config->days, error))
        return false;
    if (isSet("from") && !parseFrom(opt("from"), &config->from, error))
        return false;
    if (isSet("time-zone") && !parseZone(opt("time-zone"), &config->timeZone, error))
        return false;
    if (isSet("shrink-guard")
        && !parseIntInRange(QStringLiteral("--shrink-guard"), opt("shrink-guard"), 0, 100, &config->shrinkGuardPercent, error))
        return false;
    if (isSet("keep") && !parseIntInRange(QStringLiteral("--keep"), opt("keep"), 1, 100, &config->keepGuides, error))
        return false;
    if (isSet("compression-level")
        && !parseIntInRange(QStringLiteral("--compression-level"), opt("compression-level"), 0, 22, &config->compressionLevel, error))
        return false;
    if (isSet("now")) {
        const auto t = iptv::http::parseTime(opt("now"));
        if (!t) {
            *error = QStringLiteral("--now: expected ISO 8601 or epoch seconds, got \"%1\"").arg(opt("now"));
            return false;
        }
        config->fixedNow = *t;
    }

    if (config->dataDir.isEmpty()) {
        config->dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
        qCInfo(lcConfig) << "no --data-dir given, using" << config->dataDir;
    }
    if (config->xmltvSources.isEmpty())
        qCWarning(lcConfig) << "no XMLTV source configured; serving the stored guide only";
    return true;
}

} // namespace iptv::next
