#pragma once

// diver's configuration: an INI file with [server] (port, bind, storage paths, minimum free
// space) and one [channel.<id>] section per channel it archives (source, archive window);
// command-line flags override [server].
//
//   [server]
//   port=8430
//   storage=/srv/dvr1,/srv/dvr2
//   min_free_mb=2000
//
//   [channel.ch001]
//   source=http://recast:8440/live/ch001.ts
//   archive_hours=168          ; timeshift and catch-up window (7 days)

#include <QHostAddress>
#include <QList>
#include <QString>
#include <QStringList>

QT_BEGIN_NAMESPACE
class QCommandLineParser;
QT_END_NAMESPACE

namespace iptv::diver {

struct ArchivedChannel
{
    QString id;
    QString source;             ///< HLS or MPEG-TS URL (recast's /live/<id>.ts, any headend)
    double archiveHours = 24;   ///< what the archive keeps
};

struct DiverConfig
{
    QString configFile;
    QHostAddress bindAddress = QHostAddress::Any;
    quint16 port = 8430;
    QStringList storage;          ///< storage paths (disks); new archives go to the one with most free space
    qint64 minFreeBytes = 1'000'000'000;
    double segmentSeconds = 6;
    qint64 chunkMs = 3600 * 1000; ///< archive chunk (retention's unit)
    int retentionIntervalMs = 60000;
    QList<ArchivedChannel> channels;
};

void addCommandLineOptions(QCommandLineParser *parser);
bool loadConfig(const QCommandLineParser &parser, DiverConfig *config, QString *error);
bool loadConfigFile(const QString &path, DiverConfig *config, QString *error);

} // namespace iptv::diver
