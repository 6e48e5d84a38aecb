#pragma once

// diver's configuration: an INI file (resources/config/diver.conf documents every key) with
// [server], [guide], [control], [recording], [storage], [archive] and [retention]; command-line flags override
// the common ones. Unknown sections and keys are refused, so a typo never goes unnoticed.

#include <epg/guidelimits.h>

#include <QHostAddress>
#include <QList>
#include <QSet>
#include <QString>
#include <QStringList>
#include <QUrl>

QT_BEGIN_NAMESPACE
class QCommandLineParser;
QT_END_NAMESPACE

namespace iptv::diver {

/// The host's name (a node's default name), or "local" when it has none.
QString defaultNodeId();

struct DiverConfig
{
    QString configFile;
    // [server]
    QHostAddress bindAddress = QHostAddress::Any;
    quint16 port = 8430;
    QString dataDir;            ///< the database (SQLite), the guide cache
    QString database;           ///< SQLite path or postgresql:// URI; empty = <dataDir>/diver.sqlite
    QString nodeId = defaultNodeId(); ///< this recorder node's name, unique among the nodes of one database
    int leaseSeconds = 30;      ///< a dead node's recordings move to another within this (several nodes)
    /// PostgreSQL: a node whose session has ended (its liveness lock free this long) is taken over
    /// at once, not at its leases' expiry; a node that cannot confirm its own lock for half of
    /// this stops recording. 0: leases only.
    int livenessGraceMs = 1500;
    /// An archive handed to another node (balancing) whose recorder has not stopped after this
    /// long (a stuck source or disk) is given up: its writes fenced off, its lease left to expire
    /// for the other node. 0: three lease periods.
    int handOverLimitSeconds = 0;
    QString adminToken;         ///< operators' bearer token; empty = operators from loopback only
    /// The key of playback tokens (HMAC-SHA256), the same on every node of a cluster; empty: one
    /// made by the first node and kept in the database (dvr_secrets).
    QByteArray playbackSecret;
    QString publicUrl;          ///< base of playback URLs; empty = from the request's Host header
    bool realtimeHttp = false;  ///< http_priority=realtime: the HTTP thread runs SCHED_RR, before the recorders
    // What clients may hold (http::ConnectionLimits; resources/config/diver.conf says why).
    int idleTimeoutSeconds = 30;       ///< a connection without a request this long is closed
    int maxConnections = 0;            ///< 0: three quarters of the descriptor limit
    int maxConnectionsPerAddress = 256;
    int maxDownloads = 512;            ///< segments (files) being sent at once
    int maxDownloadsPerAddress = 8;
    int maxEventSocketsPerOwner = 4;   ///< /events sockets of one box (or of the operators); the oldest goes
    int thumbnailThreads = 1;          ///< decoding thumbnails, below the recorders' priority
    int thumbnailQueue = 8;            ///< thumbnail requests waiting or at work; one more is 503
    int thumbnailQueuePerOwner = 2;
    // [guide]
    QUrl guideServer;           ///< iptvnext; deltas keep the guide current
    QString guideFile;          ///< a local guide file instead (tests, offline use)
    int guideRefreshSeconds = 300;
    epg::GuideLimits guideLimits; ///< the largest guide body and file (or delta) held or downloaded
    // [control]
    QUrl controlServer;         ///< GET /api/ticket-key gives the key boxes' tickets are checked with
    QStringList ticketKeyFiles; ///< or these public key files (several while keys change)
    // [recording]
    int capacity = 20;          ///< concurrent channel streams this node records (and claims from the lease table)
    int channelStreams = 0;     ///< nodes pulling one channel at once, cluster-wide (a source's connection limit); 0 = no limit
    int prePaddingSeconds = 0;  ///< added to every rule's own padding
    int postPaddingSeconds = 0;
    /// Rules one box (or the operators) may keep: each is validated and planned on every change.
    int maxRulesPerBox = 500;
    /// Of them, regex rules (each runs its pattern over the guide's titles on every plan).
    int maxRegexRulesPerBox = 50;
    double segmentSeconds = 6;
    QString sourceTemplate;     ///< the stream to record, e.g. http://127.0.0.1:8440/live/{id}.ts; empty = the guide's URL
    // [storage]
    QStringList storagePaths;   ///< empty = <dataDir>/storage (recordings/ and archive/ in each)
    qint64 minFreeBytes = 512LL * 1024 * 1024;
    // [archive]
    QSet<QString> archivedChannels; ///< channels kept as a rolling archive (timeshift, catch-up)
    int archiveHours = 24;
    /// An archive whose newest segment ended this long ago has stopped (its source died): a
    /// recording or catch-up of it that has passed is partial, not awaited any longer.
    int archiveStaleSeconds = 60;
    /// How long a box's catch-up and timeshift playback token lasts (the box asks for fresh ones
    /// at half their life; a timeshift plays on with a fresh one); 0: `archiveHours` plus 6 h.
    int archiveTokenSeconds = 0;
    // [retention]
    /// A new recording is kept this many days after its airing ends (its keep-until; the viewer
    /// may change it); 0 = until the viewer deletes it.
    int recordingDays = 0;

    /// The folders and files as absolute, clean paths (relative ones against the working folder
    /// now); loadConfig() does it, DiverServer::start() too for a configuration made in code.
    void makePathsAbsolute();
    QString effectiveDatabase() const;
    QStringList effectiveStoragePaths() const;
    QString guideCacheFile() const;
};

void addCommandLineOptions(QCommandLineParser *parser);
bool loadConfig(const QCommandLineParser &parser, DiverConfig *config, QString *error);
bool loadConfigFile(const QString &path, DiverConfig *config, QString *error);

} // namespace iptv::diver
