#include "config.h"

#include <QCommandLineParser>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSettings>

namespace iptv::diver {

void addCommandLineOptions(QCommandLineParser *parser)
{
    parser->addOption({{QStringLiteral("c"), QStringLiteral("config")}, QStringLiteral("The configuration file (INI)."),
                       QStringLiteral("file")});
    parser->addOption({QStringLiteral("port"), QStringLiteral("HTTP port (default 8430)."), QStringLiteral("port")});
    parser->addOption({QStringLiteral("bind"), QStringLiteral("Address to listen on (default any)."), QStringLiteral("address")});
    parser->addOption({QStringLiteral("storage"), QStringLiteral("A storage path (repeat for several disks)."),
                       QStringLiteral("path")});
}

bool loadConfigFile(const QString &path, DiverConfig *config, QString *error)
{
    if (!QFileInfo(path).isReadable()) {
        *error = QStringLiteral("the config file %1 cannot be read").arg(path);
        return false;
    }
    QSettings ini(path, QSettings::IniFormat);
    if (ini.status() != QSettings::NoError) {
        *error = QStringLiteral("the config file %1 is not valid INI").arg(path);
        return false;
    }
    config->configFile = path;
    const QString base = QFileInfo(path).absolutePath();
    auto absolute = [&](const QString &p) { return QFileInfo(p).isAbsolute() ? p : base + QLatin1Char('/') + p; };
    ini.beginGroup(QStringLiteral("server"));
    bool ok = true;
    if (ini.contains(QStringLiteral("port"))) {
        const int port = ini.value(QStringLiteral("port")).toInt(&ok);
        if (!ok || port < 0 || port > 65535) {
            *error = QStringLiteral("%1: [server] port is not a port number").arg(path);
            return false;
        }
        config->port = quint16(port);
    }
    if (ini.contains(QStringLiteral("bind")))
        config->bindAddress = QHostAddress(ini.value(QStringLiteral("bind")).toString());
    for (const QString &p : ini.value(QStringLiteral("storage")).toStringList())
        if (!p.trimmed().isEmpty())
            config->storage << absolute(p.trimmed());
    if (ini.contains(QStringLiteral("min_free_mb")))
        config->minFreeBytes = qint64(ini.value(QStringLiteral("min_free_mb")).toDouble() * 1e6);
    if (ini.contains(QStringLiteral("segment_seconds")))
        config->segmentSeconds = ini.value(QStringLiteral("segment_seconds")).toDouble();
    if (ini.contains(QStringLiteral("chunk_minutes")))
        config->chunkMs = qint64(ini.value(QStringLiteral("chunk_minutes")).toDouble() * 60000);
    ini.endGroup();
    if (config->segmentSeconds < 1 || config->segmentSeconds > 10) {
        *error = QStringLiteral("%1: [server] segment_seconds must be between 1 and 10").arg(path);
        return false;
    }
    static const QRegularExpression idPattern(QStringLiteral("^[A-Za-z0-9_-]{1,64}$"));
    for (const QString &group : ini.childGroups()) {
        if (!group.startsWith(QLatin1String("channel.")))
            continue;
        ArchivedChannel c;
        c.id = group.mid(8);
        if (!idPattern.match(c.id).hasMatch()) {
            *error = QStringLiteral("%1: [%2]: a channel id is 1-64 letters, digits, - or _").arg(path, group);
            return false;
        }
        ini.beginGroup(group);
        c.source = ini.value(QStringLiteral("source")).toString();
        c.archiveHours = ini.value(QStringLiteral("archive_hours"), 24).toDouble();
        ini.endGroup();
        if (c.source.isEmpty() || c.archiveHours <= 0) {
            *error = QStringLiteral("%1: [%2] needs a source and a positive archive_hours").arg(path, group);
            return false;
        }
        config->channels << c;
    }
    return true;
}

bool loadConfig(const QCommandLineParser &parser, DiverConfig *config, QString *error)
{
    if (parser.isSet(QStringLiteral("config")) && !loadConfigFile(parser.value(QStringLiteral("config")), config, error))
        return false;
    if (parser.isSet(QStringLiteral("port")))
        config->port = quint16(parser.value(QStringLiteral("port")).toUInt());
    if (parser.isSet(QStringLiteral("bind")))
        config->bindAddress = QHostAddress(parser.value(QStringLiteral("bind")));
    if (parser.isSet(QStringLiteral("storage")))
        config->storage = parser.values(QStringLiteral("storage"));
    if (config->storage.isEmpty()) {
        *error = QStringLiteral("no storage path: give [server] storage= or --storage");
        return false;
    }
    return true;
}

} // namespace iptv::diver
