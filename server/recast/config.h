#pragma once

// recast's configuration: an INI file (resources/config/recast.conf documents every key) with
// [server], [defaults] for every channel, and one [channel.<id>] section per channel; command-line
// flags override [server].

#include "channelconfig.h"

#include <QHostAddress>
#include <QList>
#include <QString>

QT_BEGIN_NAMESPACE
class QCommandLineParser;
QT_END_NAMESPACE

namespace iptv::recast {

struct ServerConfig
{
    QString configFile;
    QHostAddress bindAddress = QHostAddress::Any;
    quint16 port = 8440;
    QString dataDir;       ///< channels.json (channels changed through the API) lives here
    QString outputDir;     ///< segments and playlists; empty = <dataDir>/live
    QString publicUrl;     ///< base URL in the lineup; empty = from the request's Host header
    QString adminToken;    ///< bearer token for changes; empty = changes from loopback only
    ChannelConfig defaults;
    QList<ChannelConfig> channels;

    QString effectiveOutputDir() const;
    QString channelsFile() const;
};

void addCommandLineOptions(QCommandLineParser *parser);
bool loadConfig(const QCommandLineParser &parser, ServerConfig *config, QString *error);
bool loadConfigFile(const QString &path, ServerConfig *config, QString *error);

} // namespace iptv::recast
