#include "config.h"

#include <core/configfile.h>
#include <core/numbers.h>

#include <QCommandLineParser>
#include <QDir>
#include <QSettings>
#include <QStandardPaths>
#include <QSysInfo>

namespace iptv::diver {

QString defaultNodeId()
{
    const QString host = QSysInfo::machineHostName();
    return host.isEmpty() ? QStringLiteral("local") : host;
}

QString DiverConfig::effectiveDatabase() const
{
    return database.isEmpty() ? QDir(dataDir).filePath(QStringLiteral("diver.sqlite")) : database;
}

QStringList DiverConfig::effectiveStoragePaths() const
{
    return storagePaths.isEmpty() ? QStringList{QDir(dataDir).filePath(QStringLiteral("storage"))} : storagePaths;
}

void DiverConfig::makePathsAbsolute()
{
    // Against the working folder now: one path for a folder however it was given (the orphan
    // sweep compares the storage's listing with the folders copies' rows name).
    const auto absolute = [](QString *path) {
        if (!path->isEmpty())
            *path = QDir::cleanPath(QDir().absoluteFilePath(*path));
    };
    absolute(&dataDir);
    if (!database.isEmpty() && !database.startsWith(u"postgres"))
        absolute(&database);
    absolute(&guideFile);
    for (QString &path : storagePaths)
        absolute(&path);
    for (QString &path : ticketKeyFiles)
        absolute(&path);
}

QString DiverConfig::guideCacheFile() const
{
    return QDir(dataDir).filePath(QStringLiteral("guide.bin"));
}

void addCommandLineOptions(QCommandLineParser *parser)
{
    parser->addOptions({
        {{QStringLiteral("c"), QStringLiteral("config")}, QStringLiteral("Configuration file (INI)."), QStringLiteral("file")},
        {{QStringLiteral("p"), QStringLiteral("port")}, QStringLiteral("HTTP port (default 8430)."), QStringLiteral("port")},
        {QStringLiteral("bind"), QStringLiteral("Address to listen on (default any)."), QStringLiteral("address")},
        {QStringLiteral("data-dir"), QStringLiteral("Directory for the database and the guide cache."), QStringLiteral("dir")},
        {QStringLiteral("database"), QStringLiteral("SQLite file or postgresql:// URI."), QStringLiteral("location")},
        {QStringLiteral("guide-server"), QStringLiteral("iptvnext base URL (http://host:8410)."), QStringLiteral("url")},
        {QStringLiteral("guide-file"), QStringLiteral("A guide file to use instead of a guide server."), QStringLiteral("file")},
        {QStringLiteral("control-server"), QStringLiteral("Control server HTTP base URL (boxes' ticket key)."), QStringLiteral("url")},
        {QStringLiteral("ticket-key"), QStringLiteral("Public key file boxes' tickets are checked with."), QStringLiteral("file")},
        {QStringLiteral("node"), QStringLiteral("This recorder node's name (default: the host name)."), QStringLiteral("name")},
        {QStringLiteral("storage"), QStringLiteral("Storage folder (repeatable; default <data-dir>/storage)."), QStringLiteral("dir")},
        {QStringLiteral("archive"), QStringLiteral("Channels kept as a rolling archive (comma-separated guide ids)."),
         QStringLiteral("ids")},
        {QStringLiteral("source-template"), QStringLiteral("Stream to record, {id} = channel id (default: the guide's URL)."),
         QStringLiteral("url")},
    });
}

namespace {

struct Key
{
    const char *name;
    enum Type { Text, Int, Real, List, Url, Bool } type;
};

// Every key a section may hold; anything else is refused by name.
const QList<std::pair<QString, QList<Key>>> &knownKeys()
{
    static const QList<std::pair<QString, QList<Key>>> keys = {
        {u"server"_qs, {{"port", Key::Int}, {"bind", Key::Text}, {"data_dir", Key::Text}, {"database", Key::Text},
                        {"node", Key::Text}, {"lease_seconds", Key::Int}, {"liveness_grace_ms", Key::Int},
                        {"handover_limit_seconds", Key::Int}, {"admin_token", Key::Text}, {"playback_secret", Key::Text},
                        {"public_url", Key::Url},
                        {"http_priority", Key::Text}, {"idle_timeout_seconds", Key::Int}, {"max_connections", Key::Int},
                        {"max_connections_per_address", Key::Int}, {"max_downloads", Key::Int},
                        {"max_downloads_per_address", Key::Int}, {"max_event_sockets_per_owner", Key::Int},
                        {"thumbnail_threads", Key::Int}, {"thumbnail_queue", Key::Int}, {"thumbnail_queue_per_owner", Key::Int}}},
        {u"guide"_qs, {{"server", Key::Url}, {"file", Key::Text}, {"refresh_seconds", Key::Int}, {"max_body_mb", Key::Int},
                       {"max_file_mb", Key::Int}}},
        {u"control"_qs, {{"server", Key::Url}, {"ticket_keys", Key::List}}},
        {u"recording"_qs, {{"capacity", Key::Int}, {"channel_streams", Key::Int}, {"pre_padding_seconds", Key::Int}, {"post_padding_seconds", Key::Int},
                           {"segment_seconds", Key::Real}, {"source_template", Key::Text}, {"max_rules_per_box", Key::Int},
                           {"max_regex_rules_per_box", Key::Int}}},
        {u"storage"_qs, {{"paths", Key::List}, {"min_free_mb", Key::Int}}},
        {u"archive"_qs, {{"channels", Key::List}, {"hours", Key::Int}, {"stale_seconds", Key::Int}, {"token_seconds", Key::Int}}},
        {u"retention"_qs, {{"recording_days", Key::Int}}},
    };
    return keys;
}

QStringList listValue(const QVariant &v)
{
    QStringList out;
    const QStringList parts = v.typeId() == QMetaType::QStringList ? v.toStringList() : v.toString().split(u',');
    for (const QString &p : parts) {
        if (!p.trimmed().isEmpty())
            out.append(p.trimmed());
    }
    return out;
}

bool parseUrl(const QString &what, const QString &text, QUrl *url, QString *error)
{
    const QUrl u(text.trimmed());
    if (!u.isValid() || (u.scheme() != u"http"_qs && u.scheme() != u"https"_qs) || u.host().isEmpty()) {
        *error = QStringLiteral("%1: \"%2\" is not an http(s) URL").arg(what, text);
        return false;
    }
    *url = u;
    return true;
}

} // namespace

bool loadConfigFile(const QString &path, DiverConfig *config, QString *error)
{
    iptv::config::IniFile file;
    if (!file.open(path, error))
        return false;
    config->configFile = path;
    QSettings &s = file.settings();
    if (const QStringList top = s.childKeys(); !top.isEmpty()) {
        *error = QStringLiteral("%1: \"%2\" is outside a section").arg(path, top.first());
        return false;
    }
    for (const QString &group : s.childGroups()) {
        auto section = std::find_if(knownKeys().begin(), knownKeys().end(), [&](const auto &k) { return k.first == group; });
        if (section == knownKeys().end()) {
            *error = QStringLiteral("%1: unknown section [%2] (known: server, guide, control, recording, storage, archive)")
                         .arg(path, group);
            return false;
        }
        s.beginGroup(group);
        const QStringList keys = s.childKeys();
        s.endGroup();
        for (const QString &key : keys) {
            const bool known = std::any_of(section->second.begin(), section->second.end(),
                                           [&](const Key &k) { return key == QLatin1String(k.name); });
            if (!known) {
                *error = QStringLiteral("%1: [%2]: unknown key \"%3\"").arg(path, group, key);
                return false;
            }
        }
    }
    auto text = [&file](const char *key) { return file.value(key).toString().trimmed(); };
    auto integer = [&](const char *key, int min, int max, int *out) {
        return !file.has(key) || parseIntInRange(QString::fromLatin1(key), text(key), min, max, out, error);
    };
    int port = config->port;
    if (!integer("server/port", 0, 65535, &port))
        return false;
    config->port = quint16(port);
    if (file.has("server/bind") && !config->bindAddress.setAddress(text("server/bind"))) {
        *error = QStringLiteral("%1: server/bind: \"%2\" is not an address").arg(path, text("server/bind"));
        return false;
    }
    if (file.has("server/data_dir"))
        config->dataDir = file.resolve(text("server/data_dir"));
    if (file.has("server/database")) {
        const QString db = text("server/database");
        config->database = db.startsWith(u"postgres") ? db : file.resolve(db);
    }
    if (file.has("server/node")) {
        config->nodeId = text("server/node");
        if (config->nodeId.isEmpty()) {
            *error = QStringLiteral("%1: server/node: empty (leave it out for the host name)").arg(path);
            return false;
        }
    }
    if (!integer("server/lease_seconds", 1, 3600, &config->leaseSeconds))
        return false;
    if (!integer("server/liveness_grace_ms", 0, 600000, &config->livenessGraceMs))
        return false;
    if (!integer("server/handover_limit_seconds", 0, 86400, &config->handOverLimitSeconds))
        return false;
    if (file.has("server/admin_token"))
        config->adminToken = text("server/admin_token");
    if (file.has("server/playback_secret")) {
        config->playbackSecret = text("server/playback_secret").toUtf8();
        if (config->playbackSecret.size() < 16) {
            *error = QStringLiteral("%1: server/playback_secret: %2 characters; at least 16 (leave it out for one kept in the database)")
                         .arg(path)
                         .arg(config->playbackSecret.size());
            return false;
        }
    }
    if (file.has("server/public_url")) {
        QUrl url;
        if (!parseUrl(u"server/public_url"_qs, text("server/public_url"), &url, error))
            return false;
        config->publicUrl = url.toString(QUrl::StripTrailingSlash);
    }
    if (file.has("server/http_priority")) {
        const QString priority = text("server/http_priority");
        if (priority != u"normal" && priority != u"realtime") {
            *error = QStringLiteral("%1: server/http_priority: \"%2\" is neither normal nor realtime").arg(path, priority);
            return false;
        }
        config->realtimeHttp = priority == u"realtime";
    }
    if (!integer("server/idle_timeout_seconds", 1, 3600, &config->idleTimeoutSeconds)
        || !integer("server/max_connections", 0, 1 << 20, &config->maxConnections)
        || !integer("server/max_connections_per_address", 1, 1 << 20, &config->maxConnectionsPerAddress)
        || !integer("server/max_downloads", 1, 1 << 20, &config->maxDownloads)
        || !integer("server/max_downloads_per_address", 1, 1 << 20, &config->maxDownloadsPerAddress)
        || !integer("server/max_event_sockets_per_owner", 1, 1000, &config->maxEventSocketsPerOwner)
        || !integer("server/thumbnail_threads", 1, 16, &config->thumbnailThreads)
        || !integer("server/thumbnail_queue", 1, 10000, &config->thumbnailQueue)
        || !integer("server/thumbnail_queue_per_owner", 1, 10000, &config->thumbnailQueuePerOwner))
        return false;
    if (file.has("guide/server") && !parseUrl(u"guide/server"_qs, text("guide/server"), &config->guideServer, error))
        return false;
    if (file.has("guide/file"))
        config->guideFile = file.resolve(text("guide/file"));
    if (!integer("guide/refresh_seconds", 0, 86400, &config->guideRefreshSeconds))
        return false;
    int maxBodyMb = int(config->guideLimits.maxBodyBytes >> 20), maxFileMb = int(config->guideLimits.maxFileBytes >> 20);
    if (!integer("guide/max_body_mb", 1, 64 * 1024, &maxBodyMb) || !integer("guide/max_file_mb", 1, 64 * 1024, &maxFileMb))
        return false;
    config->guideLimits.maxBodyBytes = quint64(maxBodyMb) << 20;
    config->guideLimits.maxFileBytes = quint64(maxFileMb) << 20;
    if (file.has("control/server") && !parseUrl(u"control/server"_qs, text("control/server"), &config->controlServer, error))
        return false;
    if (file.has("control/ticket_keys")) {
        config->ticketKeyFiles.clear();
        for (const QString &k : listValue(file.value("control/ticket_keys")))
            config->ticketKeyFiles.append(file.resolve(k));
    }
    if (!integer("recording/capacity", 1, 10000, &config->capacity)
        || !integer("recording/channel_streams", 0, 10000, &config->channelStreams)
        || !integer("recording/pre_padding_seconds", 0, 3600, &config->prePaddingSeconds)
        || !integer("recording/post_padding_seconds", 0, 4 * 3600, &config->postPaddingSeconds)
        || !integer("recording/max_rules_per_box", 1, 1000000, &config->maxRulesPerBox)
        || !integer("recording/max_regex_rules_per_box", 0, 1000000, &config->maxRegexRulesPerBox))
        return false;
    if (file.has("recording/segment_seconds")) {
        bool ok = false;
        const double v = text("recording/segment_seconds").toDouble(&ok);
        if (!ok || v < 1 || v > 60) {
            *error = QStringLiteral("%1: recording/segment_seconds: \"%2\" is not a number from 1 to 60")
                         .arg(path, text("recording/segment_seconds"));
            return false;
        }
        config->segmentSeconds = v;
    }
    if (file.has("recording/source_template"))
        config->sourceTemplate = text("recording/source_template");
    if (file.has("storage/paths")) {
        config->storagePaths.clear();
        for (const QString &p : listValue(file.value("storage/paths")))
            config->storagePaths.append(file.resolve(p));
    }
    int minFreeMb = int(config->minFreeBytes / (1024 * 1024));
    if (!integer("storage/min_free_mb", 0, 100 * 1024 * 1024, &minFreeMb))
        return false;
    config->minFreeBytes = qint64(minFreeMb) * 1024 * 1024;
    if (file.has("archive/channels")) {
        const QStringList channels = listValue(file.value("archive/channels"));
        config->archivedChannels = QSet<QString>(channels.begin(), channels.end());
    }
    if (!integer("archive/hours", 1, 24 * 90, &config->archiveHours))
        return false;
    if (!integer("archive/stale_seconds", 5, 24 * 3600, &config->archiveStaleSeconds))
        return false;
    if (!integer("archive/token_seconds", 0, 90 * 86400, &config->archiveTokenSeconds))
        return false;
    if (config->archiveTokenSeconds > 0 && config->archiveTokenSeconds < 10) {
        // The box asks for fresh tokens at half their life, no more often than every few seconds.
        *error = QStringLiteral("%1: archive/token_seconds: %2 is too short for a box to renew it (0, or at least 10)")
                     .arg(path)
                     .arg(config->archiveTokenSeconds);
        return false;
    }
    if (!integer("retention/recording_days", 0, 100 * 365, &config->recordingDays))
        return false;
    return true;
}

bool loadConfig(const QCommandLineParser &parser, DiverConfig *config, QString *error)
{
    if (parser.isSet(QStringLiteral("config")) && !loadConfigFile(parser.value(QStringLiteral("config")), config, error))
        return false;
    if (parser.isSet(QStringLiteral("port"))) {
        int port = 0;
        if (!parseIntInRange(QStringLiteral("--port"), parser.value(QStringLiteral("port")), 0, 65535, &port, error))
            return false;
        config->port = quint16(port);
    }
    if (parser.isSet(QStringLiteral("bind")) && !config->bindAddress.setAddress(parser.value(QStringLiteral("bind")))) {
        *error = QStringLiteral("--bind: \"%1\" is not an address").arg(parser.value(QStringLiteral("bind")));
        return false;
    }
    if (parser.isSet(QStringLiteral("data-dir")))
        config->dataDir = parser.value(QStringLiteral("data-dir"));
    if (parser.isSet(QStringLiteral("database")))
        config->database = parser.value(QStringLiteral("database"));
    if (parser.isSet(QStringLiteral("guide-server"))
        && !parseUrl(u"--guide-server"_qs, parser.value(QStringLiteral("guide-server")), &config->guideServer, error))
        return false;
    if (parser.isSet(QStringLiteral("guide-file")))
        config->guideFile = parser.value(QStringLiteral("guide-file"));
    if (parser.isSet(QStringLiteral("control-server"))
        && !parseUrl(u"--control-server"_qs, parser.value(QStringLiteral("control-server")), &config->controlServer, error))
        return false;
    if (parser.isSet(QStringLiteral("ticket-key")))
        config->ticketKeyFiles = parser.values(QStringLiteral("ticket-key"));
    if (parser.isSet(QStringLiteral("node")))
        config->nodeId = parser.value(QStringLiteral("node"));
    if (parser.isSet(QStringLiteral("storage")))
        config->storagePaths = parser.values(QStringLiteral("storage"));
    if (parser.isSet(QStringLiteral("archive"))) {
        const QStringList channels = listValue(parser.value(QStringLiteral("archive")));
        config->archivedChannels = QSet<QString>(channels.begin(), channels.end());
    }
    if (parser.isSet(QStringLiteral("source-template")))
        config->sourceTemplate = parser.value(QStringLiteral("source-template"));
    if (config->dataDir.isEmpty())
        config->dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    config->makePathsAbsolute();
    if (config->guideServer.isEmpty() && config->guideFile.isEmpty()) {
        *error = QStringLiteral("no guide: give [guide] server (or --guide-server) or [guide] file");
        return false;
    }
    return true;
}

} // namespace iptv::diver
