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
    /// Unsent bytes every MPEG-TS viewer together may hold (ViewerBudget); past it a viewer
    /// holding over 1 MiB is dropped.
    qint64 viewerBacklogBytes = 256LL * 1024 * 1024;
    /// Connections from one IP address at once (0: no cap of its own). A diver node recording
    /// every channel, or boxes behind one NAT, come from one address: the default leaves room.
    int maxConnectionsPerAddress = 512;
    /// What every channel's output backlog (output_backlog_kib each) may hold together; past
    /// it the oldest GOP of the channel holding the most is dropped.
    qint64 outputBacklogTotalBytes = 256LL * 1024 * 1024;
    /// How much nicer than recast the channels' threads run (Linux; 0: as nice as the server's
    /// thread). Off by default: with other programs loading the machine, nicer channel threads
    /// lost the CPU to them, fell behind and caught up in bursts (docs/BENCHMARKS.md).
    int channelThreadNice = 0;
    /// Channels that open their sources at once while the server starts (it listens first): the
    /// next start as those before have opened theirs, or after a second at the latest (a slow
    /// source holds no place for long). A hundred probes at once starved /healthz on 2 cores.
    int startConcurrency = 16;
    ChannelConfig defaults;
    QList<ChannelConfig> channels;

    QString effectiveOutputDir() const;
    QString channelsFile() const;
};

void addCommandLineOptions(QCommandLineParser *parser);
bool loadConfig(const QCommandLineParser &parser, ServerConfig *config, QString *error);
bool loadConfigFile(const QString &path, ServerConfig *config, QString *error);

} // namespace iptv::recast
