#pragma once

// iptvnext configuration: a QSettings INI file (resources/config/iptvnext.conf documents every
// key) with command-line flags overriding it.

#include <QHostAddress>
#include <QString>
#include <QStringList>
#include <QTimeZone>
#include <QtGlobal>

QT_BEGIN_NAMESPACE
class QCommandLineParser;
QT_END_NAMESPACE

namespace iptv::next {

struct ServerConfig
{
    QString configFile;
    QHostAddress bindAddress = QHostAddress::Any;
    quint16 port = 8410;
    int eventsPort = -1;         ///< WebSocket announcements; -1 = port + 1, 0 = off
    QString dataDir;             ///< database (SQLite) and guides/ live here
    QStringList xmltvSources;    ///< file paths or http(s)/file URLs, in priority order
    QString lineup;              ///< M3U file or URL; empty = every guide channel, guide order
    int refreshMinutes = 360;    ///< 0 = only on start and on POST /api/refresh
    bool refreshOnStart = true;
    QString database;            ///< SQLite path or postgresql:// URI; empty = <dataDir>/iptvnext.sqlite
    int days = 14;
    qint64 from = 0;             ///< guide window start (UTC s); 0 = start of the current UTC day
    QTimeZone timeZone = QTimeZone::utc(); ///< for XMLTV times without an offset
    int keepGuides = 5;          ///< compiled versions kept on disk for /guide/<checksum> and deltas
    int compressionLevel = 0; ///< 0: GuideBuilder picks by body size
    /// A source read whole but with fewer programmes or channels in the window than this share of
    /// its last good data is held back until it recovers or an operator accepts it; 0 = off.
    int shrinkGuardPercent = 50;
    int downloadTimeoutSeconds = 300;
    qint64 maxDownloadBytes = qint64(2) << 30;
    qint64 fixedNow = 0;         ///< pins the server clock (demos of old guides, tests); 0 = real time

    quint16 effectiveEventsPort() const;
    QString effectiveDatabase() const;
    QString guidesDir() const;
};

/// Declares the flags (--config, --port, --data-dir, --xmltv, ...) on `parser`.
void addCommandLineOptions(QCommandLineParser *parser);

/// Reads the config file named by --config (when given) and applies the flags on top.
/// Returns false with *error set when a value is invalid.
bool loadConfig(const QCommandLineParser &parser, ServerConfig *config, QString *error);

/// Reads an INI file into *config (only the keys present change).
bool loadConfigFile(const QString &path, ServerConfig *config, QString *error);

} // namespace iptv::next
