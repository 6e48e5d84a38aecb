#pragma once

// ReCast: the headend. Runs the configured channels, serves their HLS (master, variants,
// segments, LL-HLS blocking reloads) and MPEG-TS outputs, the channel lineup as M3U for iptvnext,
// and a JSON API to list, add, change, remove, start and stop channels at run time.

#include "channel.h"
#include "config.h"

#include <core/metrics.h>

#include <QElapsedTimer>
#include <QHash>
#include <QMap>
#include <QObject>
#include <QSet>

#include <functional>
#include <memory>

QT_BEGIN_NAMESPACE
class QTimer;
QT_END_NAMESPACE

namespace iptv::http {
class Router;
struct Reply;
struct RouteContext;
}

namespace iptv::recast {

/// `source` with its user info and query hidden ("?redacted"), for a client that is not the
/// operator; a file path or a URL with neither is returned as it is.
QString redactedUrl(const QString &source);

class RecastServer : public QObject
{
    Q_OBJECT
public:
    explicit RecastServer(ServerConfig config, QObject *parent = nullptr);
    ~RecastServer() override;

    /// Listens, then starts the enabled channels a few at a time (ServerConfig::startConcurrency)
    /// from the event loop: /healthz, /readyz and /metrics answer while they open their sources.
    bool start(QString *error);
    /// Stops every channel (finishing their segments) and the HTTP server.
    void stop();

    /// The channels of the configuration being started: `total` enabled ones, `started` of them
    /// so far, `opening` their source now. `ready` once every one has tried its source (live,
    /// reconnecting or failed; a channel stopped or removed meanwhile counts as done): /readyz.
    struct StartProgress
    {
        int total = 0;
        int started = 0;
        int opening = 0;
        bool ready = false;
    };
    StartProgress startProgress() const;

    quint16 port() const;
    Channel *channel(const QString &id) const { return m_channels.value(id); }
    QStringList channelIds() const;
    MetricsRegistry &metrics() { return m_metrics; }
    /// Every channel's output backlog together ([server] output_backlog_total_mib).
    const OutputBacklogBudget &outputBacklogBudget() const { return m_outputBudget; }
    const ServerConfig &config() const { return m_config; }

    /// The lineup as M3U (tvg-id, tvg-name, tvg-chno, group-title); URLs start with `baseUrl`.
    QByteArray lineup(const QString &baseUrl, bool ts) const;

    /// API operations (also used by tests); false with *error (and *status) when refused.
    bool addChannel(const ChannelConfig &config, QString *error, int *status);
    bool changeChannel(const QString &id, const ChannelConfig &config, QString *error, int *status);
    bool removeChannel(const QString &id, QString *error, int *status);

Q_SIGNALS:
    /// StartProgress::ready became true.
    void ready();

private:
    /// Starts the next queued channels: at most kStartBatch in this turn of the event loop, while
    /// fewer than startConcurrency are opening their source.
    void startQueued();
    /// Drops `id` from the start's bookkeeping (started by the API, stopped, changed, removed).
    void forgetQueued(const QString &id);
    void onChannelState(const QString &id);
    void reviewReadiness();
    QJsonObject startJson() const;
    static constexpr int kStartBatch = 4;
    /// A channel opening its source for longer than this no longer holds its place (its source
    /// is slow, not the machine busy): a hundred slow sources still start within seconds.
    static constexpr qint64 kOpeningHoldMs = 1000;

    void setupRoutes();
    /// LL-HLS holds (a blocking playlist reload, a preload-hinted part): `done(true)` once
    /// `ready()` holds after a change of `rendition`'s playlist, `done(false)` after 3 segments.
    void waitForPlaylist(Channel *channel, int rendition, std::function<bool()> ready, std::function<void(bool ready)> done);
    void persist();
    bool loadPersisted(QString *error);
    QByteArray renderMetrics() const;
    /// The operator: the admin token as bearer (compared in constant time), or without one
    /// configured, a client on this machine.
    bool isOperator(const http::RouteContext &ctx) const;
    /// A channel's JSON; not `whole`: a source's or UDP output's user info and query redacted.
    QJsonObject channelJson(const Channel *channel, bool whole) const;
    /// A channel in the lineup; started now when `start` and it is enabled.
    Channel *createChannel(const ChannelConfig &config, bool start);

    ServerConfig m_config;
    QByteArray m_adminTokenDigest; ///< secretDigest() of server/admin_token
    MetricsRegistry m_metrics;
    http::Router *m_router = nullptr;
    QMap<QString, Channel *> m_channels;
    ViewerBudget m_viewerBudget; ///< shared by every channel (deleted before it, in ~RecastServer)
    OutputBacklogBudget m_outputBudget; ///< every channel's output backlog together (ditto)
    QStringList m_removedFromFile; ///< config-file channels removed through the API
    QStringList m_startQueue;      ///< enabled channels of the configuration not started yet, in lineup order
    QHash<QString, qint64> m_opening; ///< started from the queue, opening their source: since (m_startClock ms)
    QSet<QString> m_startup;       ///< started from the queue, not past "starting" yet (readiness)
    int m_startTotal = 0;
    bool m_ready = false;
    QTimer *m_startTimer = nullptr;
    QElapsedTimer m_startClock;
};

} // namespace iptv::recast
