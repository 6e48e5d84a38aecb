#pragma once

// ReCast: the headend. Runs the configured channels, serves their HLS (master, variants,
// segments, LL-HLS blocking reloads) and MPEG-TS outputs, the channel lineup as M3U for iptvnext,
// and a JSON API to list, add, change, remove, start and stop channels at run time.

#include "channel.h"
#include "config.h"

#include <core/metrics.h>

#include <QMap>
#include <QObject>

#include <functional>
#include <memory>

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

    bool start(QString *error);
    /// Stops every channel (finishing their segments) and the HTTP server.
    void stop();

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

private:
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
    Channel *createChannel(const ChannelConfig &config);

    ServerConfig m_config;
    QByteArray m_adminTokenDigest; ///< secretDigest() of server/admin_token
    MetricsRegistry m_metrics;
    http::Router *m_router = nullptr;
    QMap<QString, Channel *> m_channels;
    ViewerBudget m_viewerBudget; ///< shared by every channel (deleted before it, in ~RecastServer)
    OutputBacklogBudget m_outputBudget; ///< every channel's output backlog together (ditto)
    QStringList m_removedFromFile; ///< config-file channels removed through the API
};

} // namespace iptv::recast
