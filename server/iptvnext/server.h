#pragma once

// iptvnext: keeps the XMLTV sources in the store, compiles the box guide after each successful
// refresh and serves it (HTTP, see httpapi.h) with WebSocket announcements (events.h).
//
// Threads: everything here runs on the main thread except the refresh job (parse, store,
// compile; refresh.h) and delta precomputation, which run on QtConcurrent's pool and hand their
// results back through QFutureWatcher. The served Guide is immutable and shared by pointer.

#include "config.h"
#include "refresh.h"
#include "store.h"

#include <core/metrics.h>
#include <epg/guide.h>

#include <QByteArray>
#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <atomic>
#include <memory>
#include <optional>

QT_BEGIN_NAMESPACE
class QNetworkAccessManager;
class QNetworkReply;
QT_END_NAMESPACE

namespace iptv::next {

class EventHub;
class HttpApi;

class IptvNextServer : public QObject
{
    Q_OBJECT
public:
    explicit IptvNextServer(ServerConfig config, QObject *parent = nullptr);
    ~IptvNextServer() override;

    /// Opens the store, serves the last compiled guide (recompiling it from the store when its
    /// file is gone), listens, and starts the refresh schedule.
    bool start(QString *error);
    /// Stops cleanly: no new requests, the running refresh aborted and waited for, store closed.
    void stop();

    /// Starts a refresh now; if one is running, one more runs after it. Returns true when a new
    /// refresh was started or queued, false when stopping or nothing is configured.
    bool requestRefresh(const QString &trigger);
    bool isRefreshing() const { return m_refreshing; }
    /// An operator accepts a held-back source (see JobSettings::shrinkGuard): its next read is
    /// stored however much it shrank, and a refresh starts. False with *error for a key that is
    /// not a configured XMLTV source.
    bool acceptSource(const QString &key, QString *error);
    /// Why the service is degraded (a source failing or held back, no guide for now); empty when
    /// all is well.
    QStringList problems();

    const ServerConfig &config() const { return m_config; }
    qint64 now() const;
    quint16 httpPort() const;
    quint16 eventsPort() const;

    // ---- the served guide ----
    bool hasGuide() const { return m_guide != nullptr; }
    std::shared_ptr<const iptv::epg::Guide> guide() const { return m_guide; }
    const QByteArray &guideBytes() const { return m_guideBytes; }
    const GuideVersion &guideVersion() const { return m_version; }
    QList<GuideVersion> keptVersions() const { return m_kept; }
    /// The file of a kept version (current included), empty when unknown.
    QByteArray versionBytes(const QByteArray &checksum) const;
    bool isKnownVersion(const QByteArray &checksum) const;
    /// Delta from a kept version to the current one. Deltas are made in the background when a
    /// guide is installed (never on the main thread: a big one takes seconds), so a request may
    /// find it not ready yet.
    enum class DeltaState { Ready, Pending, Failed };
    DeltaState deltaFrom(const QByteArray &checksum, QByteArray *delta, QString *error);
    /// XMLTV of the served guide, built in the background on first request (seconds for a big
    /// guide) and kept for the version. False while it is being built.
    bool xmltvExport(QByteArray *xml);

    QJsonObject announcement() const;
    QJsonObject statusJson();
    std::optional<RefreshReport> lastReport() const { return m_lastReport; }
    iptv::MetricsRegistry &metrics() { return m_metrics; }
    EventHub *events() const { return m_events; }

Q_SIGNALS:
    void guideChanged(qint64 version, const QByteArray &checksum);
    void refreshStarted(const QString &trigger);
    void refreshFinished(bool ok);
    void deltaReady(const QByteArray &baseChecksum, bool ok);

private:
    struct Fetch;
    JobSettings jobSettings() const;
    void startFetches(const QString &trigger);
    void fetchFinished();
    void launchJob(const QString &trigger, QList<FetchedSource> sources, bool forceCompile);
    void jobFinished();
    void install(std::shared_ptr<const iptv::epg::Guide> guide, QByteArray bytes, const GuideVersion &version,
                 bool announce);
    void reloadKeptVersions();
    void computeDelta(const QByteArray &base, const QString &basePath);
    void updateGuideMetrics();
    /// Every configured source (XMLTV in priority order, then the lineup) with its stored record.
    QList<std::pair<QString, std::optional<SourceRecord>>> configuredSources();

    ServerConfig m_config;
    iptv::MetricsRegistry m_metrics;
    GuideStore m_store;
    HttpApi *m_http = nullptr;
    EventHub *m_events = nullptr;
    QNetworkAccessManager *m_network = nullptr;
    QTimer m_schedule;
    qint64 m_startedAt = 0;
    bool m_started = false;
    bool m_stopping = false;

    // served guide
    std::shared_ptr<const iptv::epg::Guide> m_guide;
    QByteArray m_guideBytes;
    GuideVersion m_version;
    QList<GuideVersion> m_kept;
    QHash<QByteArray, QByteArray> m_deltas; ///< base checksum -> delta to the current guide
    QHash<QByteArray, QString> m_deltaErrors;
    QSet<QByteArray> m_deltaPending;
    QList<QFutureWatcher<QByteArray> *> m_deltaJobs;
    QByteArray m_xmltvChecksum;
    QByteArray m_xmltv;
    QFutureWatcher<QByteArray> *m_xmltvJob = nullptr;

    // refresh
    bool m_refreshing = false;
    bool m_refreshPending = false;
    QSet<QString> m_acceptShrink; ///< sources accepted by an operator, until a read of them is stored
    QString m_pendingTrigger;
    QString m_trigger;
    QList<FetchedSource> m_fetched;
    /// ETag / Last-Modified of each URL source's last download that was stored successfully.
    QHash<QString, std::pair<QByteArray, QByteArray>> m_validators;
    bool windowMoved() const;
    QList<QNetworkReply *> m_replies;
    std::shared_ptr<std::atomic_bool> m_abort;
    QFutureWatcher<RefreshReport> m_jobWatcher;
    QElapsedTimer m_refreshClock;
    std::optional<RefreshReport> m_lastReport;
    qint64 m_lastSuccess = 0;
    qint64 m_nextRefresh = 0;

    iptv::Counter *m_refreshTotal = nullptr;
    iptv::Counter *m_refreshFailures = nullptr;
    iptv::Histogram *m_refreshDuration = nullptr;
    iptv::Gauge *m_lastSuccessGauge = nullptr;
};

} // namespace iptv::next
