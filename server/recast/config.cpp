#include "config.h"

#include <core/configfile.h>
#include <core/numbers.h>

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QSettings>
#include <QStandardPaths>

Q_LOGGING_CATEGORY(lcRecastConfig, "iptv.recast.config")

namespace iptv::recast {

QString ServerConfig::effectiveOutputDir() const
{
    return outputDir.isEmpty() ? QDir(dataDir).filePath(QStringLiteral("live")) : outputDir;
}

QString ServerConfig::channelsFile() const
{
    return QDir(dataDir).filePath(QStringLiteral("channels.json"));
}

void addCommandLineOptions(QCommandLineParser *parser)
{
    parser->addOptions({
        {{QStringLiteral("c"), QStringLiteral("config")}, QStringLiteral("Configuration file (INI)."), QStringLiteral("file")},
        {{QStringLiteral("p"), QStringLiteral("port")}, QStringLiteral("HTTP port (default 8440)."), QStringLiteral("port")},
        {QStringLiteral("bind"), QStringLiteral("Address to listen on (default any)."), QStringLiteral("address")},
        {QStringLiteral("data-dir"), QStringLiteral("Directory for channels changed at run time."), QStringLiteral("dir")},
        {QStringLiteral("output-dir"), QStringLiteral("Directory for segments and playlists (default <data-dir>/live)."), QStringLiteral("dir")},
        {QStringLiteral("public-url"), QStringLiteral("Base URL written into the lineup (default: from the request)."), QStringLiteral("url")},
    });
}

namespace {

/// An INI section as the API's JSON, so both go through ChannelConfig::fromJson.
QJsonObject sectionToJson(QSettings &s, const QString &group, QString *error)
{
    static const QStringList numbers = {QStringLiteral("number"), QStringLiteral("fps"), QStringLiteral("threads"),
                                        QStringLiteral("segment_seconds"), QStringLiteral("gop_seconds"),
                                        QStringLiteral("window"), QStringLiteral("part_seconds"),
                                        QStringLiteral("audio_kbps"), QStringLiteral("tone_hz"),
                                        QStringLiteral("read_timeout_ms"), QStringLiteral("open_timeout_ms"),
                                        QStringLiteral("output_backlog_kib")};
    static const QStringList bools = {QStringLiteral("loop"), QStringLiteral("enabled"), QStringLiteral("pace")};
    static const QStringList strings = {QStringLiteral("name"), QStringLiteral("tvg_id"), QStringLiteral("group"),
                                        QStringLiteral("source"), QStringLiteral("preset"), QStringLiteral("udp_out")};
    QJsonObject o;
    s.beginGroup(group);
    const QStringList keys = s.childKeys();
    for (const QString &key : keys) {
        const QVariant v = s.value(key);
        const QString text = v.typeId() == QMetaType::QStringList ? v.toStringList().join(u',') : v.toString();
        if (numbers.contains(key)) {
            bool ok = false;
            const double d = text.trimmed().toDouble(&ok);
            if (!ok) {
                *error = QStringLiteral("[%1] %2: \"%3\" is not a number").arg(group, key, text);
                break;
            }
            o.insert(key, d);
        } else if (bools.contains(key)) {
            const QString t = text.trimmed().toLower();
            if (t != QLatin1String("true") && t != QLatin1String("false") && t != QLatin1String("1") && t != QLatin1String("0")) {
                *error = QStringLiteral("[%1] %2: \"%3\" is not true or false").arg(group, key, text);
                break;
            }
            o.insert(key, t == QLatin1String("true") || t == QLatin1String("1"));
        } else if (strings.contains(key)) {
            o.insert(key, text);
        } else if (key == QLatin1String("ladder")) {
            if (text.trimmed() == QLatin1String("copy")) {
                o.insert(key, QStringLiteral("copy"));
            } else {
                QJsonArray list;
                for (const QString &r : text.split(u',', Qt::SkipEmptyParts))
                    list.append(r.trimmed());
                o.insert(key, list);
            }
        } else {
            *error = QStringLiteral("[%1]: unknown key \"%2\"").arg(group, key);
            break;
        }
    }
    s.endGroup();
    return o;
}

/// A relative file source is relative to the config file, like every other path in it; resolved
/// before validation, which accepts only absolute (or ./) paths.
void resolveSource(const iptv::config::IniFile &file, QJsonObject *o)
{
    const QString source = o->value(QLatin1String("source")).toString().trimmed();
    if (source.isEmpty() || source.contains(QLatin1String("://")) || source.startsWith(QLatin1String("pattern"))
        || source.startsWith(QLatin1String("v4l2:")) || source.startsWith(u'/'))
        return;
    o->insert(QStringLiteral("source"), file.resolve(source.startsWith(QLatin1String("file:")) ? source.mid(5) : source));
}

} // namespace

bool loadConfigFile(const QString &path, ServerConfig *config, QString *error)
{
    iptv::config::IniFile file;
    if (!file.open(path, error))
        return false;
    config->configFile = path;
    // A typo must not make a setting or a whole channel disappear without a word.
    {
        QSettings &s = file.settings();
        static const QStringList serverKeys = {QStringLiteral("port"), QStringLiteral("bind"), QStringLiteral("data_dir"),
                                               QStringLiteral("output_dir"), QStringLiteral("public_url"),
                                               QStringLiteral("admin_token"), QStringLiteral("viewer_backlog_mib"),
                                               QStringLiteral("max_connections_per_address"),
                                               QStringLiteral("output_backlog_total_mib"), QStringLiteral("channel_thread_nice"),
                                               QStringLiteral("start_concurrency")};
        const QStringList topLevel = s.childKeys();
        if (!topLevel.isEmpty()) {
            *error = QStringLiteral("%1: \"%2\" is outside a section ([server], [defaults] or [channel.<id>])")
                         .arg(path, topLevel.first());
            return false;
        }
        for (const QString &group : s.childGroups()) {
            if (group == QLatin1String("server")) {
                s.beginGroup(group);
                const QStringList keys = s.childKeys();
                s.endGroup();
                for (const QString &key : keys) {
                    if (!serverKeys.contains(key)) {
                        *error = QStringLiteral("%1: [server]: unknown key \"%2\" (known: %3)").arg(path, key, serverKeys.join(u", "));
                        return false;
                    }
                }
            } else if (group != QLatin1String("defaults") && !group.startsWith(QLatin1String("channel."))) {
                *error = QStringLiteral("%1: unknown section [%2] (expected [server], [defaults] or [channel.<id>])").arg(path, group);
                return false;
            }
        }
    }
    auto value = [&file](const char *key) { return file.value(key).toString(); };
    if (file.has("server/port")) {
        int port = 0;
        if (!parseIntInRange(QStringLiteral("server/port"), value("server/port"), 0, 65535, &port, error))
            return false;
        config->port = quint16(port);
    }
    if (file.has("server/bind") && !config->bindAddress.setAddress(value("server/bind"))) {
        *error = QStringLiteral("server/bind: \"%1\" is not an address").arg(value("server/bind"));
        return false;
    }
    if (file.has("server/data_dir"))
        config->dataDir = file.resolve(value("server/data_dir"));
    if (file.has("server/output_dir"))
        config->outputDir = file.resolve(value("server/output_dir"));
    if (file.has("server/public_url"))
        config->publicUrl = value("server/public_url");
    if (file.has("server/admin_token"))
        config->adminToken = value("server/admin_token");
    if (file.has("server/viewer_backlog_mib")) {
        int mib = 0;
        if (!parseIntInRange(QStringLiteral("server/viewer_backlog_mib"), value("server/viewer_backlog_mib"), 1, 65536, &mib, error))
            return false;
        config->viewerBacklogBytes = qint64(mib) * 1024 * 1024;
    }
    if (file.has("server/max_connections_per_address")
        && !parseIntInRange(QStringLiteral("server/max_connections_per_address"), value("server/max_connections_per_address"), 0,
                            1000000, &config->maxConnectionsPerAddress, error))
        return false;
    if (file.has("server/output_backlog_total_mib")) {
        int mib = 0;
        if (!parseIntInRange(QStringLiteral("server/output_backlog_total_mib"), value("server/output_backlog_total_mib"), 1, 65536,
                             &mib, error))
            return false;
        config->outputBacklogTotalBytes = qint64(mib) * 1024 * 1024;
    }
    if (file.has("server/channel_thread_nice")
        && !parseIntInRange(QStringLiteral("server/channel_thread_nice"), value("server/channel_thread_nice"), 0, 19,
                            &config->channelThreadNice, error))
        return false;
    if (file.has("server/start_concurrency")
        && !parseIntInRange(QStringLiteral("server/start_concurrency"), value("server/start_concurrency"), 1, 10000,
                            &config->startConcurrency, error))
        return false;

    QSettings &s = file.settings();
    ChannelConfig defaults;
    defaults.id = QStringLiteral("defaults");
    defaults.name = QStringLiteral("defaults");
    defaults.ladder = defaultLadder();
    if (s.childGroups().contains(QLatin1String("defaults"))) {
        QString sectionError;
        QJsonObject o = sectionToJson(s, QStringLiteral("defaults"), &sectionError);
        resolveSource(file, &o);
        if (!sectionError.isEmpty()) {
            *error = path + QStringLiteral(": ") + sectionError;
            return false;
        }
        auto d = ChannelConfig::fromJson(o, defaults, error);
        if (!d) {
            *error = QStringLiteral("[defaults]: ") + *error;
            return false;
        }
        defaults = *d;
    }
    config->defaults = defaults;
    config->channels.clear();
    for (const QString &group : s.childGroups()) {
        if (!group.startsWith(QLatin1String("channel.")))
            continue;
        QString sectionError;
        QJsonObject o = sectionToJson(s, group, &sectionError);
        if (!sectionError.isEmpty()) {
            *error = path + QStringLiteral(": ") + sectionError;
            return false;
        }
        o.insert(QStringLiteral("id"), group.mid(8));
        resolveSource(file, &o);
        ChannelConfig base = defaults;
        base.name.clear();
        base.tvgId.clear();
        auto c = ChannelConfig::fromJson(o, base, error);
        if (!c) {
            *error = QStringLiteral("%1: [%2]: %3").arg(path, group, *error);
            return false;
        }
        config->channels.append(*c);
    }
    std::sort(config->channels.begin(), config->channels.end(), [](const ChannelConfig &a, const ChannelConfig &b) {
        return a.number != b.number ? a.number < b.number : a.id < b.id;
    });
    return true;
}

bool loadConfig(const QCommandLineParser &parser, ServerConfig *config, QString *error)
{
    config->defaults.id = QStringLiteral("defaults");
    config->defaults.name = QStringLiteral("defaults");
    config->defaults.ladder = defaultLadder();
    if (parser.isSet(QStringLiteral("config")) && !loadConfigFile(parser.value(QStringLiteral("config")), config, error))
        return false;
    auto opt = [&parser](const char *name) { return parser.value(QLatin1String(name)); };
    if (parser.isSet(QStringLiteral("port"))) {
        int port = 0;
        if (!parseIntInRange(QStringLiteral("--port"), opt("port"), 0, 65535, &port, error))
            return false;
        config->port = quint16(port);
    }
    if (parser.isSet(QStringLiteral("bind")) && !config->bindAddress.setAddress(opt("bind"))) {
        *error = QStringLiteral("--bind: \"%1\" is not an address").arg(opt("bind"));
        return false;
    }
    if (parser.isSet(QStringLiteral("data-dir")))
        config->dataDir = opt("data-dir");
    if (parser.isSet(QStringLiteral("output-dir")))
        config->outputDir = opt("output-dir");
    if (parser.isSet(QStringLiteral("public-url")))
        config->publicUrl = opt("public-url");
    if (config->dataDir.isEmpty()) {
        config->dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
        qCInfo(lcRecastConfig) << "no --data-dir given, using" << config->dataDir;
    }
    return true;
}

} // namespace iptv::recast
