#pragma once

// Keeps a guide current from iptvnext, for any program that holds the guide in memory (the box,
// diver's scheduler). It asks /guide/delta?from=<the version it has> and applies the delta (zstd
// patch-from: a schedule change costs a few kilobytes, not the whole guide); when there is no
// base yet, the server no longer keeps ours, or the delta fails, it downloads /guide whole. Every
// guide is opened and checked off the calling thread and replaces the current one only when it
// opens and its checksum is the one the server named; the last good guide is kept in a cache
// file and survives restarts. Nothing here blocks the thread it lives on.

#include <epg/guide.h>

#include <QObject>
#include <QTimer>
#include <QUrl>

#include <memory>

QT_BEGIN_NAMESPACE
class QNetworkAccessManager;
class QNetworkReply;
QT_END_NAMESPACE

namespace iptv::epg {

class GuideSync : public QObject
{
    Q_OBJECT
public:
    struct Stats
    {
        quint64 refreshes = 0;       ///< refresh() calls that reached the server
        quint64 notModified = 0;     ///< answered 304: nothing new
        quint64 deltasApplied = 0;
        quint64 fullDownloads = 0;
        quint64 failures = 0;        ///< refreshes that left the guide as it was
        quint64 bytesDownloaded = 0;
    };

    /// `cacheFile` keeps the last good guide (written atomically); empty: no cache.
    explicit GuideSync(const QString &cacheFile, QObject *parent = nullptr);
    ~GuideSync() override;

    /// The iptvnext base URL (http://host:8410); /guide and /guide/delta are below it.
    void setServer(const QUrl &server) { m_server = server; }
    QUrl server() const { return m_server; }
    /// Refreshes every `ms` (0: only when refresh() is called). The first one runs at once.
    void setRefreshInterval(int ms);
    /// While no guide is held, a failed automatic refresh is tried again soon, not after a whole
    /// refresh interval: after 1 s, then twice as long each time up to `ms` (10 s).
    void setRetryInterval(int ms) { m_retryMs = ms; }
    /// What a downloaded guide or delta may be (GuideLimits: 64 MiB stored, 256 MiB of body by
    /// default): a download past maxFileBytes is stopped there, a guide claiming more is refused.
    void setLimits(const GuideLimits &limits) { m_limits = limits; }
    const GuideLimits &limits() const { return m_limits; }

    /// Opens the cached guide, if there is one; guideChanged when it opens.
    void loadCache();
    /// Asks the server for a newer guide now (does nothing while one refresh is running).
    void refresh();

    std::shared_ptr<const Guide> guide() const { return m_guide; }
    /// The server answered the last refresh (a 304 counts); false after a network error.
    bool isReachable() const { return m_reachable; }
    QString lastError() const { return m_lastError; }
    const Stats &stats() const { return m_stats; }

Q_SIGNALS:
    /// A new guide replaced `previous` (null the first time). Both stay valid as long as held.
    void guideChanged(std::shared_ptr<const iptv::epg::Guide> previous, std::shared_ptr<const iptv::epg::Guide> current);
    /// A refresh failed; the guide stays as it was. `reason` says what, where and why.
    void refreshFailed(const QString &reason);
    void reachabilityChanged(bool reachable);
    /// A refresh ended (successfully or not).
    void refreshFinished();

private:
    struct Opened;
    void requestDelta();
    void requestWhole();
    /// The reply's HTTP status in *status; false when the refresh ends here (unreachable: failed;
    /// 304: nothing new).
    bool answered(QNetworkReply *reply, int *status);
    /// Stops `reply` once it brings more than a guide or delta within the limits may be.
    void capDownload(QNetworkReply *reply);
    void onDelta(QNetworkReply *reply);
    void onWhole(QNetworkReply *reply);
    /// Opens `file` off this thread (as a delta applied to the current file when `delta` is set)
    /// and installs it when it opens and matches `expectedChecksum` (when given).
    void install(QByteArray bytes, QByteArray delta, QByteArray expectedChecksum, bool isDelta);
    void finish(const QString &error);
    void setReachable(bool reachable);
    QUrl endpoint(const QString &path) const;

    QString m_cacheFile;
    QUrl m_server;
    QTimer m_timer;
    QTimer m_retry; ///< sooner than m_timer while there is no guide
    int m_retryMs = 10000;
    int m_nextRetryMs = 1000; ///< the next retry's delay: doubles from 1 s up to m_retryMs
    GuideLimits m_limits;
    QNetworkAccessManager *m_network = nullptr;
    std::shared_ptr<const Guide> m_guide;
    QByteArray m_guideFile; ///< the current guide's file bytes: the base a delta applies to
    bool m_busy = false;
    bool m_reachable = true;
    QString m_lastError;
    Stats m_stats;
    int m_generation = 0;
};

} // namespace iptv::epg
