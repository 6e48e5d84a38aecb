#pragma once

// N simulated boxes in one process, each a real BoxLink (libs/boxlink) with fake telemetry and
// simulated command handling. One DeadlineScheduler drives every box's timers.

#include <boxlink/boxlink.h>
#include <boxlink/credentialstore.h>
#include <boxlink/latencyhistogram.h>

#include <QJsonObject>
#include <QObject>
#include <QHash>
#include <QTimer>

#include <memory>
#include <vector>

class QNetworkAccessManager;

namespace iptv::ws {
class ClientPool;
}

namespace iptv::fleetsim {

struct FleetConfig
{
    QUrl server = QUrl(QStringLiteral("ws://127.0.0.1:8420/box"));
    /// More endpoints (box n uses the (n mod count)th of server + these): on loopback, several
    /// destination addresses (127.0.0.2, ...) each get their own ephemeral port space. With one,
    /// Linux's port search for connect() grows with every open connection and stalls past ~15,000.
    QList<QUrl> moreServers;
    int boxes = 1000;
    int first = 0;                   ///< serial number of the first box
    QString serialPrefix = QStringLiteral("SIM");
    QString model = QStringLiteral("SIM-1");
    QString softwareVersion = QStringLiteral("1.0.0");
    QString releaseChannel = QStringLiteral("clean");
    double connectRate = 0;          ///< boxes started per second; 0 = as fast as the loop goes
    double telemetryInterval = 0;    ///< seconds; 0 = the server's
    int telemetryWindow = 8;         ///< samples in flight per box (BoxLinkConfig::telemetryWindow)
    int installFailPercent = 0;
    QString installMode = QStringLiteral("sim"); ///< sim | download
    int rebootDelayMs = 3000;
    int backoffBaseMs = 1000;
    int backoffCapMs = 30000;
    int heartbeatMs = 0;             ///< 0 = the server's
    quint64 seed = 1;
    /// Where the boxes keep their tokens between runs (empty: in memory only). A real box keeps
    /// its token on disk; with this, a second run reconnects on tokens as a fleet does after a
    /// server restart, instead of enrolling with the secret again.
    QString tokenDir;
    /// epoll: every ws:// box in one ws::ClientPool (cheap per box, for load); qt: one QWebSocket
    /// a box, as on a real box. wss:// always goes over QWebSocket.
    QString transport = QStringLiteral("epoll");
};

/// Counters of a fleet (or the sum of several): what fleetsim prints and children send their parent.
struct FleetSnapshot
{
    int boxes = 0;
    int stopped = 0, disconnected = 0, connecting = 0, pending = 0, online = 0;
    boxlink::BoxLinkStats totals;
    boxlink::LatencyHistogram telemetryRtt;
    boxlink::LatencyHistogram commandHandling;
    boxlink::LatencyHistogram connectToOnline;
    quint64 installsOk = 0, installsFailed = 0;
    qint64 allOnlineAtMs = -1;      ///< epoch ms when every box was first online at once
    qint64 stormAtMs = -1;          ///< epoch ms of the last storm
    qint64 stormRecoveredAtMs = -1; ///< epoch ms when every box was back after it
    qint64 rssKb = 0;               ///< the process's resident memory
    qint64 baselineRssKb = 0;       ///< before any box was made

    QJsonObject toJson() const;
    static FleetSnapshot fromJson(const QJsonObject &json);
    /// Adds another process's counters; times take the latest (every box of both must be there).
    void merge(const FleetSnapshot &other);
};

class SimBox;

class Fleet : public QObject
{
    Q_OBJECT

public:
    explicit Fleet(FleetConfig config, QObject *parent = nullptr);
    ~Fleet() override;

    /// Makes the boxes and starts connecting them at the configured rate.
    void start();
    /// Drops every connection at once (as a server crash or a network cut would look to boxes).
    void storm();
    void stop();

    FleetSnapshot snapshot() const;
    const FleetConfig &config() const { return m_config; }
    boxlink::DeadlineScheduler *scheduler() { return &m_scheduler; }
    QNetworkAccessManager *network();
    /// The token a box saved in a previous run (tokenDir), or empty.
    QByteArray savedToken(const QString &serial) const { return m_savedTokens.value(serial); }

    /// SimBox reports here (so the fleet needs no per-box signal connections).
    void boxStateChanged(boxlink::BoxLink::State from, boxlink::BoxLink::State to);
    void installFinished(bool ok);

    /// Resident memory of this process in KiB (Linux /proc/self/statm).
    static qint64 residentKb();

private:
    void startSome();
    void loadTokens();
    void saveTokens();

    FleetConfig m_config;
    QHash<QString, QByteArray> m_savedTokens;
    bool m_tokensSaved = false;
    boxlink::DeadlineScheduler m_scheduler;
    std::vector<std::unique_ptr<SimBox>> m_boxes;
    QTimer m_ramp;
    int m_started = 0;
    double m_rampCredit = 0;
    qint64 m_rampLastMs = 0;
    int m_counts[5] = {0, 0, 0, 0, 0}; // by BoxLink::State
    boxlink::LatencyHistogram m_telemetryRtt;
    boxlink::LatencyHistogram m_commandHandling;
    boxlink::LatencyHistogram m_connectToOnline;
    quint64 m_installsOk = 0, m_installsFailed = 0;
    qint64 m_allOnlineAtMs = -1;
    qint64 m_stormAtMs = -1;
    qint64 m_stormRecoveredAtMs = -1;
    qint64 m_baselineRssKb = 0;
    QNetworkAccessManager *m_network = nullptr;
    std::unique_ptr<ws::ClientPool> m_pool;
    std::unique_ptr<boxlink::PoolTransport> m_poolTransport;
};

} // namespace iptv::fleetsim
