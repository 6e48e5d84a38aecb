#include "server.h"

#include <core/secrets.h>

#include <core/httprouter.h>
#include <core/httputil.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QHttpServerRequest>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QPointer>
#include <QRegularExpression>
#include <QSaveFile>
#include <QTcpSocket>
#include <QTimer>

Q_LOGGING_CATEGORY(lcRecast, "iptv.recast.server", QtInfoMsg)

namespace iptv::recast {

using http::ApiError;
using http::Reply;
using http::RouteContext;
using Method = QHttpServerRequest::Method;

namespace {
constexpr int kChange = 1; ///< routes that change channels
const QByteArray kPlaylistType = "application/vnd.apple.mpegurl";
const QByteArray kTsType = "video/mp2t";

QString m3uAttribute(QString value)
{
    return value.replace(u'"', u'\'').replace(u'\n', u' ');
}
} // namespace

RecastServer::RecastServer(ServerConfig config, QObject *parent)
    : QObject(parent), m_config(std::move(config)), m_adminTokenDigest(secretDigest(m_config.adminToken.toUtf8())),
      m_outputBudget(m_config.outputBacklogTotalBytes)
{
}

RecastServer::~RecastServer()
{
    stop();
    for (Channel *c : std::as_const(m_channels))
        c->disconnect(this); // their last state changes come to a server half gone
    // Before m_viewerBudget goes, which the channels count their viewers' bytes in.
    qDeleteAll(m_channels);
    m_channels.clear();
}

quint16 RecastServer::port() const
{
    return m_router ? m_router->port() : 0;
}

QStringList RecastServer::channelIds() const
{
    QList<Channel *> list = m_channels.values();
    std::sort(list.begin(), list.end(), [](Channel *a, Channel *b) {
        const int na = a->config().number, nb = b->config().number;
        if (na != nb)
            return (na == 0 ? INT_MAX : na) < (nb == 0 ? INT_MAX : nb);
        return a->config().id < b->config().id;
    });
    QStringList ids;
    for (Channel *c : list)
        ids << c->config().id;
    return ids;
}

Channel *RecastServer::createChannel(const ChannelConfig &config, bool start)
{
    auto *channel = new Channel(config, m_config.effectiveOutputDir(), this);
    channel->setViewerBudget(&m_viewerBudget);
    channel->setOutputBacklogBudget(&m_outputBudget);
    channel->setThreadNice(m_config.channelThreadNice);
    connect(channel, &Channel::stateChanged, this, [this, id = config.id](ChannelState s, const QString &why) {
        if (s == ChannelState::Failed)
            qCWarning(lcRecast).noquote() << "channel" << id << "failed:" << why;
        onChannelState(id);
    });
    m_channels.insert(config.id, channel);
    if (start && config.enabled)
        channel->start();
    return channel;
}

RecastServer::StartProgress RecastServer::startProgress() const
{
    StartProgress p;
    p.total = m_startTotal;
    p.started = m_startTotal - int(m_startQueue.size());
    p.opening = int(m_startup.size());
    p.ready = m_ready;
    return p;
}

QJsonObject RecastServer::startJson() const
{
    const StartProgress p = startProgress();
    return {{QStringLiteral("total"), p.total}, {QStringLiteral("started"), p.started}, {QStringLiteral("opening"), p.opening},
            {QStringLiteral("ready"), p.ready}};
}

void RecastServer::startQueued()
{
    const qint64 now = m_startClock.elapsed();
    for (auto it = m_opening.begin(); it != m_opening.end();) {
        const Channel *c = m_channels.value(it.key());
        if (!c || c->state() != ChannelState::Starting || now - it.value() >= kOpeningHoldMs)
            it = m_opening.erase(it);
        else
            ++it;
    }
    int batch = 0;
    while (!m_startQueue.isEmpty() && m_opening.size() < m_config.startConcurrency && batch < kStartBatch) {
        const QString id = m_startQueue.takeFirst();
        Channel *c = m_channels.value(id);
        if (!c || c->isRunning())
            continue;
        c->start();
        m_opening.insert(id, now);
        m_startup.insert(id);
        ++batch;
    }
    if (!m_startQueue.isEmpty()) {
        // This turn's batch was full: the next turn goes on. Every place is taken: the first to
        // open (onChannelState) or the oldest's hold running out frees one.
        qint64 waitMs = 0;
        if (m_opening.size() >= m_config.startConcurrency) {
            qint64 oldest = now;
            for (qint64 since : std::as_const(m_opening))
                oldest = qMin(oldest, since);
            waitMs = qBound<qint64>(0, oldest + kOpeningHoldMs - now, kOpeningHoldMs);
        }
        m_startTimer->start(int(waitMs));
    }
    reviewReadiness();
}

void RecastServer::onChannelState(const QString &id)
{
    if (!m_startup.contains(id))
        return;
    const Channel *c = m_channels.value(id);
    if (c && c->state() == ChannelState::Starting)
        return;
    if (m_opening.remove(id) && !m_startQueue.isEmpty() && m_startTimer)
        m_startTimer->start(0);
    reviewReadiness();
}

void RecastServer::forgetQueued(const QString &id)
{
    m_startQueue.removeAll(id);
    m_opening.remove(id);
    m_startup.remove(id);
    reviewReadiness();
}

void RecastServer::reviewReadiness()
{
    if (m_ready || !m_router || !m_startQueue.isEmpty())
        return;
    for (auto it = m_startup.begin(); it != m_startup.end();) {
        const Channel *c = m_channels.value(*it);
        if (!c || c->state() != ChannelState::Starting)
            it = m_startup.erase(it);
        else
            ++it;
    }
    if (!m_startup.isEmpty())
        return;
    m_ready = true;
    QMap<QString, int> states;
    for (const Channel *c : std::as_const(m_channels))
        ++states[stateName(c->state())];
    QStringList counts;
    for (auto it = states.cbegin(); it != states.cend(); ++it)
        counts << QStringLiteral("%1 %2").arg(it.value()).arg(it.key());
    qCInfo(lcRecast).noquote() << "ready:" << m_startTotal << "channels started in" << m_startClock.elapsed() << "ms;"
                               << counts.join(u", ");
    Q_EMIT ready();
}

bool RecastServer::start(QString *error)
{
    if (!QDir().mkpath(m_config.dataDir)) {
        *error = QStringLiteral("cannot create the data folder %1").arg(m_config.dataDir);
        return false;
    }
    const QString out = m_config.effectiveOutputDir();
    if (!QDir().mkpath(out) || !QFileInfo(out).isWritable()) {
        *error = QStringLiteral("the output folder %1 cannot be created or written").arg(out);
        return false;
    }
    if (!loadPersisted(error))
        return false;
    m_viewerBudget.limitBytes = m_config.viewerBacklogBytes;
    m_metrics.gaugeCallback(QStringLiteral("recast_viewer_backlog_limit_bytes"),
                            QStringLiteral("Unsent bytes all MPEG-TS viewers together may hold (server/viewer_backlog_mib)."),
                            [this] { return double(m_viewerBudget.limitBytes); });
    m_viewerBudget.dropped = m_metrics.counter(QStringLiteral("recast_viewers_dropped_for_memory_total"),
                                               QStringLiteral("MPEG-TS viewers dropped because all viewers together held the limit."));
    m_metrics.gaugeCallback(QStringLiteral("recast_output_backlogs_bytes"),
                            QStringLiteral("TS bytes every channel's output backlog holds together (not yet taken by the server's thread)."),
                            [this] { return double(m_outputBudget.heldBytes()); });
    m_metrics.gaugeCallback(QStringLiteral("recast_output_backlogs_limit_bytes"),
                            QStringLiteral("What every channel's output backlog may hold together (server/output_backlog_total_mib)."),
                            [this] { return double(m_outputBudget.limitBytes()); });
    m_metrics.gaugeCallback(QStringLiteral("recast_ready"),
                            QStringLiteral("1 once every channel of the configuration has tried its source (as /readyz)."),
                            [this] { return m_ready ? 1.0 : 0.0; });
    m_metrics.gaugeCallback(QStringLiteral("recast_channels_waiting_to_start"),
                            QStringLiteral("Enabled channels of the configuration not started yet ([server] start_concurrency)."),
                            [this] { return double(m_startQueue.size()); });
    m_router = new http::Router(&m_metrics, QStringLiteral("recast"), this);
    http::ConnectionLimits limits;
    limits.maxConnectionsPerPeer = m_config.maxConnectionsPerAddress;
    m_router->setConnectionLimits(limits);
    setupRoutes();
    // Listening before any channel starts: every channel opening its source at once kept a
    // loaded 2-core machine from answering /healthz for seconds, and a supervisor took recast
    // for dead. They start from the event loop now, a few at a time.
    if (!m_router->listen(m_config.bindAddress, m_config.port, error))
        return false;
    for (const QString &id : channelIds())
        if (m_channels.value(id)->config().enabled)
            m_startQueue << id;
    m_startTotal = int(m_startQueue.size());
    m_startClock.start();
    m_startTimer = new QTimer(this);
    m_startTimer->setSingleShot(true);
    connect(m_startTimer, &QTimer::timeout, this, &RecastServer::startQueued);
    qCInfo(lcRecast).noquote() << "recast listening on port" << m_router->port() << "with" << m_channels.size()
                               << "channels; starting" << m_startTotal << "of them," << m_config.startConcurrency
                               << "at a time; output in" << out;
    startQueued();
    return true;
}

bool RecastServer::loadPersisted(QString *error)
{
    QList<ChannelConfig> channels = m_config.channels;
    QFile file(m_config.channelsFile());
    if (file.exists()) {
        if (!file.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read %1: %2").arg(file.fileName(), file.errorString());
            return false;
        }
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
        if (!doc.isObject()) {
            *error = QStringLiteral("%1 is damaged (%2 at byte %3); fix or remove it")
                         .arg(file.fileName(), parseError.errorString())
                         .arg(parseError.offset);
            return false;
        }
        for (const QJsonValue &v : doc.object().value(QLatin1String("removed")).toArray())
            m_removedFromFile << v.toString();
        channels.erase(std::remove_if(channels.begin(), channels.end(),
                                      [this](const ChannelConfig &c) { return m_removedFromFile.contains(c.id); }),
                       channels.end());
        for (const QJsonValue &v : doc.object().value(QLatin1String("channels")).toArray()) {
            QString channelError;
            auto c = ChannelConfig::fromJson(v.toObject(), m_config.defaults, &channelError);
            if (!c) {
                *error = QStringLiteral("%1: %2").arg(file.fileName(), channelError);
                return false;
            }
            auto it = std::find_if(channels.begin(), channels.end(), [&](const ChannelConfig &x) { return x.id == c->id; });
            if (it != channels.end())
                *it = *c;
            else
                channels.append(*c);
        }
        qCInfo(lcRecast).noquote() << "channels changed at run time restored from" << file.fileName();
    }
    for (const ChannelConfig &c : std::as_const(channels))
        createChannel(c, false); // started once the server listens (start())
    return true;
}

void RecastServer::persist()
{
    // The API's channels, whole; the config file's channels only where they were changed.
    QJsonArray changed;
    for (Channel *c : std::as_const(m_channels)) {
        auto it = std::find_if(m_config.channels.begin(), m_config.channels.end(),
                               [&](const ChannelConfig &x) { return x.id == c->config().id; });
        if (it == m_config.channels.end() || it->toJson() != c->config().toJson())
            changed.append(c->config().toJson());
    }
    QJsonArray removed;
    for (const QString &id : std::as_const(m_removedFromFile))
        removed.append(id);
    QSaveFile file(m_config.channelsFile());
    const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("channels"), changed}, {QStringLiteral("removed"), removed}})
                                .toJson(QJsonDocument::Indented);
    if (!file.open(QIODevice::WriteOnly) || file.write(body) != body.size() || !file.commit())
        qCWarning(lcRecast).noquote() << "cannot save" << file.fileName() << ":" << file.errorString()
                                      << "(the change holds until a restart)";
}

bool RecastServer::addChannel(const ChannelConfig &config, QString *error, int *status)
{
    if (m_channels.contains(config.id)) {
        *error = QStringLiteral("channel \"%1\" exists; change it with PUT /api/channels/%1").arg(config.id);
        *status = 409;
        return false;
    }
    m_removedFromFile.removeAll(config.id);
    createChannel(config, true);
    persist();
    qCInfo(lcRecast).noquote() << "channel" << config.id << "added";
    return true;
}

bool RecastServer::changeChannel(const QString &id, const ChannelConfig &config, QString *error, int *status)
{
    Channel *old = m_channels.value(id);
    if (!old) {
        *error = QStringLiteral("no channel \"%1\"").arg(id);
        *status = 404;
        return false;
    }
    if (config.id != id) {
        *error = QStringLiteral("a channel's id cannot change (\"%1\" to \"%2\"): add a new one").arg(id, config.id);
        *status = 400;
        return false;
    }
    m_channels.remove(id);
    delete old; // stops it; the folder and its sequence numbers stay for the new pipeline
    forgetQueued(id);
    createChannel(config, true);
    persist();
    qCInfo(lcRecast).noquote() << "channel" << id << "changed";
    return true;
}

bool RecastServer::removeChannel(const QString &id, QString *error, int *status)
{
    Channel *c = m_channels.take(id);
    if (!c) {
        *error = QStringLiteral("no channel \"%1\"").arg(id);
        *status = 404;
        return false;
    }
    delete c;
    forgetQueued(id);
    if (std::any_of(m_config.channels.begin(), m_config.channels.end(), [&](const ChannelConfig &x) { return x.id == id; }))
        m_removedFromFile << id;
    persist();
    qCInfo(lcRecast).noquote() << "channel" << id << "removed";
    return true;
}

void RecastServer::stop()
{
    // Every channel's thread drains its encoders and writes its last segment and playlists (a
    // few fsyncs): asked all at once, they do it side by side; one after the other, a loaded
    // machine took over 15 s for twelve channels.
    if (m_startTimer)
        m_startTimer->stop();
    m_startQueue.clear(); // none starts while the others stop
    QElapsedTimer clock;
    clock.start();
    int running = 0;
    for (Channel *c : std::as_const(m_channels)) {
        running += c->isRunning() ? 1 : 0;
        c->requestStop();
    }
    for (Channel *c : std::as_const(m_channels))
        c->stop();
    if (running > 0)
        qCInfo(lcRecast).noquote() << "stopped" << running << "channels in" << clock.elapsed() << "ms";
    if (m_router)
        m_router->close();
}

QByteArray RecastServer::lineup(const QString &baseUrl, bool ts) const
{
    QByteArray out = "#EXTM3U\n";
    for (const QString &id : channelIds()) {
        const ChannelConfig &c = m_channels.value(id)->config();
        QString line = QStringLiteral("#EXTINF:-1");
        if (!c.tvgId.isEmpty())
            line += QStringLiteral(" tvg-id=\"%1\"").arg(m3uAttribute(c.tvgId));
        line += QStringLiteral(" tvg-name=\"%1\"").arg(m3uAttribute(c.name));
        if (c.number > 0)
            line += QStringLiteral(" tvg-chno=\"%1\"").arg(c.number);
        if (!c.group.isEmpty())
            line += QStringLiteral(" group-title=\"%1\"").arg(m3uAttribute(c.group));
        line += u',' + QString(c.name).replace(u'\n', u' ') + u'\n';
        line += ts ? QStringLiteral("%1/live/%2.ts\n").arg(baseUrl, id) : QStringLiteral("%1/live/%2/index.m3u8\n").arg(baseUrl, id);
        out += line.toUtf8();
    }
    return out;
}

QByteArray RecastServer::renderMetrics() const
{
    QByteArray out = m_metrics.render();
    struct Family
    {
        const char *name;
        const char *type;
        const char *help;
        std::function<double(const Channel *, const PipelineStats &)> value;
    };
    const QList<Family> families = {
        {"recast_channel_up", "gauge", "1 while the channel's source plays (live or degraded).",
         [](const Channel *, const PipelineStats &s) { return s.state == ChannelState::Live || s.state == ChannelState::Degraded ? 1.0 : 0.0; }},
        {"recast_channel_input_kbps", "gauge", "Source bitrate over the last seconds.",
         [](const Channel *, const PipelineStats &s) { return s.inputKbps; }},
        {"recast_channel_output_fps", "gauge", "Frames output per second.",
         [](const Channel *, const PipelineStats &s) { return s.outputFps; }},
        {"recast_channel_encode_speed", "gauge", "Media seconds processed per second of pipeline work.",
         [](const Channel *, const PipelineStats &s) { return s.speed; }},
        {"recast_channel_viewers", "gauge", "Viewers of the MPEG-TS output.",
         [](const Channel *c, const PipelineStats &) { return double(c->viewerCount()); }},
        {"recast_channel_viewer_backlog_bytes", "gauge", "Bytes the MPEG-TS output's viewers hold unsent.",
         [](const Channel *c, const PipelineStats &) { return double(c->viewerBacklogBytes()); }},
        {"recast_channel_segment_latency_seconds", "gauge", "Newest segment: listed at minus its end on the wall clock.",
         [](const Channel *, const PipelineStats &s) { return s.lastSegmentLatencyUs / 1e6; }},
        {"recast_channel_memory_budget_bytes", "gauge", "The channel's memory budget.",
         [](const Channel *, const PipelineStats &s) { return double(s.memoryBudgetBytes); }},
        {"recast_channel_output_backlog_bytes", "gauge",
         "TS bytes the pipeline output that the server's thread has not taken yet (MPEG-TS viewers, keyframe cache).",
         [](const Channel *c, const PipelineStats &) { return double(c->outputBacklog().bytes); }},
        {"recast_channel_output_backlog_peak_bytes", "gauge", "The most the output backlog held at once.",
         [](const Channel *c, const PipelineStats &) { return double(c->outputBacklog().peakBytes); }},
        {"recast_channel_output_backlog_limit_bytes", "gauge", "The output backlog's limit (output_backlog_kib).",
         [](const Channel *c, const PipelineStats &) { return double(c->outputBacklogLimit()); }},
        {"recast_channel_output_backlog_dropped_bytes_total", "counter",
         "TS bytes dropped (oldest GOPs first) because the server's thread fell behind by the limit; HLS keeps them.",
         [](const Channel *c, const PipelineStats &) { return double(c->outputBacklog().droppedBytes); }},
        {"recast_channel_output_backlog_dropped_gops_total", "counter", "GOPs (or their rest) dropped from the output backlog.",
         [](const Channel *c, const PipelineStats &) { return double(c->outputBacklog().droppedGops); }},
        {"recast_channel_output_backlog_episodes_total", "counter",
         "Times the output backlog reached its limit after keeping up (each logged once).",
         [](const Channel *c, const PipelineStats &) { return double(c->outputBacklog().episodes); }},
        {"recast_channel_frames_total", "counter", "Frames output since the channel started.",
         [](const Channel *, const PipelineStats &s) { return double(s.framesOut); }},
        {"recast_channel_frames_dropped_total", "counter", "Frames not output (frame-rate cap, decode errors).",
         [](const Channel *, const PipelineStats &s) { return double(s.framesDropped); }},
        {"recast_channel_timestamps_repaired_total", "counter", "Packets whose timestamps were repaired.",
         [](const Channel *, const PipelineStats &s) { return double(s.repairedTimestamps); }},
        {"recast_channel_corrupt_packets_total", "counter", "Source packets that did not decode.",
         [](const Channel *, const PipelineStats &s) { return double(s.corruptPackets); }},
        {"recast_channel_reconnects_total", "counter", "Times the source was lost.",
         [](const Channel *, const PipelineStats &s) { return double(s.reconnects); }},
        {"recast_channel_segments_total", "counter", "Segments listed, all renditions.",
         [](const Channel *, const PipelineStats &s) { return double(s.segments); }},
        {"recast_channel_write_errors_total", "counter", "Segments or playlists that could not be written.",
         [](const Channel *, const PipelineStats &s) { return double(s.writeErrors); }},
    };
    // Counted by the budget (on the channels' threads), so not registry counters.
    out += "# HELP recast_output_backlogs_dropped_bytes_total TS bytes dropped (oldest GOP of the channel holding the most) "
           "because every channel's output backlog together reached output_backlog_total_mib.\n"
           "# TYPE recast_output_backlogs_dropped_bytes_total counter\nrecast_output_backlogs_dropped_bytes_total "
           + QByteArray::number(m_outputBudget.droppedBytes()) + '\n';
    out += "# HELP recast_output_backlogs_dropped_gops_total GOPs dropped because every channel's output backlog together "
           "reached output_backlog_total_mib.\n"
           "# TYPE recast_output_backlogs_dropped_gops_total counter\nrecast_output_backlogs_dropped_gops_total "
           + QByteArray::number(m_outputBudget.droppedGops()) + '\n';
    QList<std::pair<const Channel *, PipelineStats>> stats;
    for (const QString &id : channelIds())
        stats.append({m_channels.value(id), m_channels.value(id)->stats()});
    for (const Family &f : families) {
        out += QByteArray("# HELP ") + f.name + ' ' + f.help + "\n# TYPE " + f.name + ' ' + f.type + '\n';
        for (const auto &[c, s] : stats)
            out += QByteArray(f.name) + "{channel=\"" + escapeMetricLabelValue(c->config().id).toUtf8() + "\"} "
                   + QByteArray::number(f.value(c, s), 'g', 10) + '\n';
    }
    out += "# HELP recast_channel_state Channel state (1 for the current one).\n# TYPE recast_channel_state gauge\n";
    for (const auto &[c, s] : stats) {
        for (ChannelState st : {ChannelState::Starting, ChannelState::Live, ChannelState::Degraded, ChannelState::Reconnecting,
                                ChannelState::Failed, ChannelState::Stopped})
            out += "recast_channel_state{channel=\"" + escapeMetricLabelValue(c->config().id).toUtf8() + "\",state=\""
                   + stateName(st).toUtf8() + "\"} " + (s.state == st ? "1" : "0") + '\n';
    }
    return out;
}

void RecastServer::waitForPlaylist(Channel *channel, int rendition, std::function<bool()> ready,
                                   std::function<void(bool ready)> done)
{
    // Held until `rendition`'s playlist changes so that `ready` holds, or three segment durations
    // (and a second) have gone by; a channel removed meanwhile ends the wait by the timer.
    auto *timer = new QTimer(this);
    timer->setSingleShot(true);
    auto connection = std::make_shared<QMetaObject::Connection>();
    auto finished = std::make_shared<bool>(false);
    auto finish = [=](bool ok) {
        if (std::exchange(*finished, true))
            return;
        QObject::disconnect(*connection);
        timer->stop();
        timer->deleteLater();
        done(ok);
    };
    *connection = connect(channel, &Channel::playlistChanged, this, [=](int changed) {
        if (changed == rendition && ready())
            finish(true);
    });
    connect(timer, &QTimer::timeout, this, [=] { finish(false); });
    timer->start(int(3 * 1000 * channel->config().segmentSeconds) + 1000);
}

bool RecastServer::isOperator(const RouteContext &ctx) const
{
    if (m_config.adminToken.isEmpty())
        return ctx.request.remoteAddress().isLoopback();
    const QByteArray auth = ctx.request.value("Authorization");
    return auth.startsWith("Bearer ") && secretMatches(QByteArrayView(auth).sliced(7), m_adminTokenDigest);
}

QString redactedUrl(const QString &source)
{
    const QUrl url(source, QUrl::StrictMode);
    if (!url.isValid() || url.scheme().isEmpty() || url.scheme().size() == 1) // a path (C:\ too)
        return source;
    if (url.userInfo().isEmpty() && !url.hasQuery() && !url.hasFragment())
        return source;
    QUrl shown = url;
    shown.setUserInfo({});
    shown.setQuery(url.hasQuery() ? QStringLiteral("redacted") : QString());
    shown.setFragment({});
    return shown.toString(QUrl::FullyEncoded);
}

QJsonObject RecastServer::channelJson(const Channel *channel, bool whole) const
{
    QJsonObject json = channel->toJson(true);
    if (m_startQueue.contains(channel->config().id)) {
        json.insert(QStringLiteral("state"), QStringLiteral("waiting"));
        json.insert(QStringLiteral("reason"), QStringLiteral("waits for its turn to start"));
    }
    if (!whole) {
        for (const QString &key : {QStringLiteral("source"), QStringLiteral("udp_out")})
            if (json.contains(key))
                json.insert(key, redactedUrl(json.value(key).toString()));
    }
    return json;
}

void RecastServer::setupRoutes()
{
    auto *r = m_router;
    r->setAuthHook([this](RouteContext &ctx, const http::Router::RouteInfo &) -> std::optional<Reply> {
        if (!m_config.adminToken.isEmpty()) {
            if (!isOperator(ctx))
                return Reply::error(ApiError::unauthorized(QStringLiteral("changing channels needs Authorization: Bearer <admin_token>")));
            return std::nullopt;
        }
        if (!isOperator(ctx))
            return Reply::error(ApiError::forbidden(
                QStringLiteral("without server/admin_token set, channels can only be changed from this machine")));
        return std::nullopt;
    });

    // Alive: 200 from the moment recast listens, its channels starting or not ("starting" with
    // how far they are); ?strict=1: 503 unless every enabled channel is live.
    r->addRoute(Method::Get, QStringLiteral("/healthz"), [this](RouteContext &ctx) {
        QJsonObject counts;
        bool allUp = true;
        for (Channel *c : std::as_const(m_channels)) {
            const QString s = m_startQueue.contains(c->config().id) ? QStringLiteral("waiting") : stateName(c->state());
            counts.insert(s, counts.value(s).toInt() + 1);
            if (c->config().enabled && c->state() != ChannelState::Live)
                allUp = false;
        }
        const bool strict = ctx.hasQuery("strict") && http::parseBool(ctx.query("strict"));
        const QString status = !m_ready ? QStringLiteral("starting") : allUp ? QStringLiteral("ok") : QStringLiteral("degraded");
        QJsonObject body{{QStringLiteral("status"), status}, {QStringLiteral("channels"), counts}, {QStringLiteral("start"), startJson()}};
        return Reply::json(body, strict && !allUp ? 503 : 200);
    });
    // Ready: 503 until every channel of the configuration has tried its source (an orchestrator
    // or the demo waits for it before sending recorders and viewers), 200 from then on.
    r->addRoute(Method::Get, QStringLiteral("/readyz"), [this](RouteContext &) {
        QJsonObject body{{QStringLiteral("status"), m_ready ? QStringLiteral("ready") : QStringLiteral("starting")},
                         {QStringLiteral("start"), startJson()}};
        Reply reply = Reply::json(body, m_ready ? 200 : 503);
        if (!m_ready)
            reply.addHeader("Retry-After", "1");
        return reply;
    });
    r->addRoute(Method::Get, QStringLiteral("/metrics"), [this](RouteContext &) {
        return Reply{200, renderMetrics(), "text/plain; version=0.0.4; charset=utf-8", {}, {}, {}};
    });
    r->addRoute(Method::Get, QStringLiteral("/lineup.m3u"), [this](RouteContext &ctx) {
        QString base = m_config.publicUrl;
        if (base.isEmpty()) {
            const QByteArray host = ctx.request.value("Host");
            base = QStringLiteral("http://") + (host.isEmpty() ? QStringLiteral("127.0.0.1:%1").arg(port()) : QString::fromLatin1(host));
        }
        while (base.endsWith(u'/'))
            base.chop(1);
        const bool ts = ctx.query("format") == QLatin1String("ts");
        Reply reply{200, lineup(base, ts), "audio/x-mpegurl; charset=utf-8", {}, {}, {}};
        reply.addHeader("Cache-Control", "no-cache");
        return reply;
    });

    // --- the API -----------------------------------------------------------------------------
    // Anyone may list the channels; only an operator sees their sources whole (an IPTV source's
    // URL often carries the provider's credentials or a token).
    r->addRoute(Method::Get, QStringLiteral("/api/channels"), [this](RouteContext &ctx) {
        const bool whole = isOperator(ctx);
        QJsonArray list;
        for (const QString &id : channelIds())
            list.append(channelJson(m_channels.value(id), whole));
        return Reply::json(QJsonObject{{QStringLiteral("channels"), list}});
    });
    r->addRoute(Method::Get, QStringLiteral("/api/channels/<id>"), [this](RouteContext &ctx) {
        Channel *c = m_channels.value(ctx.params[0]);
        if (!c)
            return Reply::error(ApiError::notFound(QStringLiteral("no channel \"%1\"").arg(ctx.params[0])));
        return Reply::json(channelJson(c, isOperator(ctx)));
    });
    r->addRoute(Method::Post, QStringLiteral("/api/channels"), [this](RouteContext &ctx) {
        Reply bad;
        const auto body = ctx.jsonBody(&bad);
        if (!body)
            return bad;
        QString error;
        ChannelConfig base = m_config.defaults;
        base.id.clear();
        base.name.clear();
        auto config = ChannelConfig::fromJson(*body, base, &error);
        if (!config)
            return Reply::error(ApiError::badRequest(error));
        int status = 400;
        if (!addChannel(*config, &error, &status))
            return Reply::error(status, status == 409 ? QStringLiteral("conflict") : QStringLiteral("bad-request"), error);
        return Reply::json(m_channels.value(config->id)->toJson(false), 201);
    }, kChange);
    auto change = [this](RouteContext &ctx) {
        Channel *c = m_channels.value(ctx.params[0]);
        if (!c)
            return Reply::error(ApiError::notFound(QStringLiteral("no channel \"%1\"").arg(ctx.params[0])));
        Reply bad;
        const auto body = ctx.jsonBody(&bad);
        if (!body)
            return bad;
        QString error;
        // PUT and PATCH both merge: keys left out keep their values.
        auto config = ChannelConfig::fromJson(*body, c->config(), &error);
        if (!config)
            return Reply::error(ApiError::badRequest(error));
        int status = 400;
        if (!changeChannel(ctx.params[0], *config, &error, &status))
            return Reply::error(status, status == 404 ? QStringLiteral("not-found") : QStringLiteral("bad-request"), error);
        return Reply::json(m_channels.value(config->id)->toJson(false));
    };
    r->addRoute(Method::Put, QStringLiteral("/api/channels/<id>"), change, kChange);
    r->addRoute(Method::Patch, QStringLiteral("/api/channels/<id>"), change, kChange);
    r->addRoute(Method::Delete, QStringLiteral("/api/channels/<id>"), [this](RouteContext &ctx) {
        QString error;
        int status = 404;
        if (!removeChannel(ctx.params[0], &error, &status))
            return Reply::error(ApiError::notFound(error));
        return Reply{204, {}, "application/json", {}, {}, {}};
    }, kChange);
    r->addRoute(Method::Post, QStringLiteral("/api/channels/<id>/start"), [this](RouteContext &ctx) {
        Channel *c = m_channels.value(ctx.params[0]);
        if (!c)
            return Reply::error(ApiError::notFound(QStringLiteral("no channel \"%1\"").arg(ctx.params[0])));
        forgetQueued(c->config().id); // the operator's start comes before its turn
        c->start();
        return Reply::json(c->toJson(false));
    }, kChange);
    r->addRoute(Method::Post, QStringLiteral("/api/channels/<id>/stop"), [this](RouteContext &ctx) {
        Channel *c = m_channels.value(ctx.params[0]);
        if (!c)
            return Reply::error(ApiError::notFound(QStringLiteral("no channel \"%1\"").arg(ctx.params[0])));
        forgetQueued(c->config().id); // nor does it start when its turn comes
        c->stop();
        return Reply::json(c->toJson(false));
    }, kChange);

    // --- the outputs ---------------------------------------------------------------------------
    // /live/<id>.ts: the MPEG-TS output of the first rendition, starting at the last keyframe.
    r->addRoute(Method::Get, QStringLiteral("/live/<file>"), [this](RouteContext &ctx) {
        const QString file = ctx.params[0];
        if (!file.endsWith(QLatin1String(".ts")))
            return Reply::error(ApiError::notFound(QStringLiteral("no resource %1").arg(ctx.request.url().path())));
        Channel *c = m_channels.value(file.chopped(3));
        if (!c)
            return Reply::error(ApiError::notFound(QStringLiteral("no channel \"%1\"").arg(file.chopped(3))));
        if (m_startQueue.contains(c->config().id))
            return Reply::error(503, QStringLiteral("starting"),
                                QStringLiteral("channel \"%1\" waits for its turn to start").arg(c->config().id))
                .addHeader("Retry-After", "1");
        if (!c->isRunning())
            return Reply::error(503, QStringLiteral("channel-stopped"), QStringLiteral("channel \"%1\" is stopped").arg(c->config().id));
        int rendition = 0;
        if (ctx.hasQuery("rendition")) {
            rendition = c->renditionIndex(ctx.query("rendition"));
            if (rendition < 0)
                return Reply::error(ApiError::notFound(QStringLiteral("channel \"%1\" has no rendition \"%2\" (it has %3)")
                                                           .arg(c->config().id, ctx.query("rendition"), c->renditionNames().join(u", "))));
        }
        const bool fromCache = !ctx.hasQuery("cache") || http::parseBool(ctx.query("cache"));
        Reply reply{200, {}, kTsType, {}, {}, {}};
        reply.addHeader("Cache-Control", "no-store");
        reply.stream = [channel = QPointer<Channel>(c), rendition, fromCache](QTcpSocket *socket) {
            if (channel && socket)
                channel->addViewer(socket, rendition, fromCache);
        };
        return reply;
    });
    // /live/<id>/index.m3u8: the master playlist.
    r->addRoute(Method::Get, QStringLiteral("/live/<id>/<file>"), [this](RouteContext &ctx) {
        Channel *c = m_channels.value(ctx.params[0]);
        if (!c)
            return Reply::error(ApiError::notFound(QStringLiteral("no channel \"%1\"").arg(ctx.params[0])));
        if (ctx.params[1] != QLatin1String("index.m3u8"))
            return Reply::error(ApiError::notFound(QStringLiteral("no resource %1").arg(ctx.request.url().path())));
        if (c->masterPlaylist().isEmpty())
            return Reply::error(503, QStringLiteral("starting"),
                                QStringLiteral("channel \"%1\" has no segment yet (%2)").arg(c->config().id, stateName(c->state())))
                .addHeader("Retry-After", "1");
        Reply reply{200, c->masterPlaylist(), kPlaylistType, {}, {}, {}};
        reply.addHeader("Cache-Control", "no-cache");
        return reply;
    });
    // /live/<id>/<rendition>/index.m3u8 (with LL-HLS blocking reload) and the segments.
    r->addAsyncRoute(Method::Get, QStringLiteral("/live/<id>/<rendition>/<file>"), [this](RouteContext &ctx, http::Router::Respond respond) {
        Channel *c = m_channels.value(ctx.params[0]);
        if (!c)
            return respond(Reply::error(ApiError::notFound(QStringLiteral("no channel \"%1\"").arg(ctx.params[0]))));
        const int rendition = c->renditionIndex(ctx.params[1]);
        if (rendition < 0)
            return respond(Reply::error(ApiError::notFound(
                QStringLiteral("channel \"%1\" has no rendition \"%2\"").arg(c->config().id, ctx.params[1]))));
        const QString file = ctx.params[2];
        static const QRegularExpression segmentName(QStringLiteral(R"(^seg-(\d+)(\.\d+)?\.ts$)"));
        if (const auto m = segmentName.match(file); m.hasMatch()) {
            const QString path = QDir(c->folder()).filePath(ctx.params[1] + u'/' + file);
            auto segmentReply = [path]() {
                Reply reply{200, {}, kTsType, {}, path, {}};
                reply.addHeader("Cache-Control", "max-age=60");
                return reply;
            };
            if (QFile::exists(path))
                return respond(segmentReply());
            // A part or segment still being made (LL-HLS EXT-X-PRELOAD-HINT names it before it
            // exists): held until it is written, as rfc8216bis 6.2.6 asks of preload hints.
            const qint64 sequence = m.captured(1).toLongLong();
            if (sequence < c->nextSequence(rendition) || sequence > c->nextSequence(rendition) + 1)
                return respond(Reply::error(ApiError::notFound(QStringLiteral("segment %1 is not (or no longer) there").arg(file))));
            waitForPlaylist(c, rendition, [path] { return QFile::exists(path); }, [=](bool found) {
                respond(found ? segmentReply()
                              : Reply::error(ApiError::notFound(QStringLiteral("segment %1 was not made in time").arg(file))));
            });
            return;
        }
        if (file != QLatin1String("index.m3u8"))
            return respond(Reply::error(ApiError::notFound(QStringLiteral("no resource %1").arg(ctx.request.url().path()))));

        auto playlistReply = [](Channel *ch, int rend) {
            Reply reply{200, ch->playlist(rend), kPlaylistType, {}, {}, {}};
            reply.addHeader("Cache-Control", "no-cache");
            return reply;
        };
        if (!ctx.hasQuery("_HLS_msn")) {
            if (c->playlist(rendition).isEmpty())
                return respond(Reply::error(503, QStringLiteral("starting"),
                                            QStringLiteral("channel \"%1\" has no segment yet (%2)")
                                                .arg(c->config().id, stateName(c->state())))
                                   .addHeader("Retry-After", "1"));
            return respond(playlistReply(c, rendition));
        }
        // Blocking playlist reload (draft-pantos-hls-rfc8216bis 6.2.5.2): answer once segment
        // _HLS_msn (and part _HLS_part of it) is listed; 400 when it is too far ahead.
        bool okMsn = false, okPart = true;
        const qint64 msn = ctx.query("_HLS_msn").toLongLong(&okMsn);
        const int part = ctx.hasQuery("_HLS_part") ? ctx.query("_HLS_part").toInt(&okPart) : -1;
        if (!okMsn || !okPart || msn < 0)
            return respond(Reply::error(ApiError::badRequest(QStringLiteral("_HLS_msn and _HLS_part must be whole numbers"))));
        auto ready = [msn, part](Channel *ch, int rend) {
            const qint64 next = ch->nextSequence(rend);
            return next > msn || (part >= 0 && next == msn && ch->partsInProgress(rend) > part);
        };
        if (ready(c, rendition))
            return respond(playlistReply(c, rendition));
        if (msn > c->nextSequence(rendition) + 2)
            return respond(Reply::error(ApiError::badRequest(
                QStringLiteral("_HLS_msn=%1 is more than two segments ahead of the live edge (%2)").arg(msn).arg(c->nextSequence(rendition)))));
        QPointer<Channel> channel(c);
        waitForPlaylist(c, rendition, [=] { return channel && ready(channel, rendition); }, [=](bool found) {
            respond(found ? playlistReply(channel, rendition)
                          : Reply::error(503, QStringLiteral("not-yet"), QStringLiteral("segment %1 did not appear in time").arg(msn)));
        });
    });
}

} // namespace iptv::recast
