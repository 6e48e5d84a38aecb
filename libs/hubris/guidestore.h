#pragma once

// The guide on the box: the whole compiled guide (libs/epg) in memory, opened from the box's
// cache at start and refreshed from iptvnext (/guide with If-None-Match). Reading, downloading
// and opening happen off the UI thread; a guide that fails to download or open never replaces the
// one being shown, and the reason is kept for the screen.

#include <epg/guide.h>

#include <QDateTime>
#include <QObject>
#include <QTimer>
#include <QUrl>

#include <memory>

namespace iptv::epg {
class GuideSync;
}

namespace iptv::hubris {

class GuideStore : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool loaded READ isLoaded NOTIFY guideChanged)
    Q_PROPERTY(int channelCount READ channelCount NOTIFY guideChanged)
    Q_PROPERTY(QString status READ status NOTIFY statusChanged)
    Q_PROPERTY(bool offline READ isOffline NOTIFY statusChanged)
    Q_PROPERTY(QDateTime validUntil READ validUntil NOTIFY guideChanged)
    /// The server refresh() and the automatic refresh ask.
    Q_PROPERTY(QString server READ server NOTIFY statusChanged)
    /// When the guide was made and when the server was last asked, for the about screen.
    Q_PROPERTY(QString ageText READ ageText NOTIFY statusChanged)
public:
    /// `cacheDir` keeps the last good guide (guide.bin) across restarts.
    explicit GuideStore(const QString &cacheDir, QObject *parent = nullptr);
    ~GuideStore() override;

    std::shared_ptr<const epg::Guide> guide() const { return m_guide; }
    bool isLoaded() const { return m_guide != nullptr; }
    int channelCount() const { return m_guide ? m_guide->channelCount() : 0; }
    QString status() const { return m_status; }
    bool isOffline() const { return m_offline; }
    QDateTime validUntil() const;

    /// Opens the cached guide, if any (asynchronously; guideChanged when done).
    void loadCache();
    /// Opens a guide file (asynchronously).
    Q_INVOKABLE void loadFile(const QString &path);
    /// Downloads `server`/guide when it changed, stores it in the cache and opens it.
    Q_INVOKABLE void refresh(const QUrl &server);

    QString server() const { return m_server.toString(); }
    void setServer(const QUrl &server);
    /// Refreshes from server() every `minutes` (sooner, every retry interval, while offline).
    void startAutoRefresh(int minutes);
    void setRetryMs(int ms) { m_retryMs = ms; }
    /// When the guide server last answered (UTC; invalid: never since start).
    QDateTime lastContact() const { return m_lastContact; }
    /// Refreshes from server() now (the settings' "refresh now").
    Q_INVOKABLE void refreshNow() { refresh(m_server); }
    QString ageText() const;
    /// The clock the UI uses for "now" (a pinned clock for demos and tests when valid).
    qint64 now() const;
    void setFixedNow(qint64 epochSeconds) { m_fixedNow = epochSeconds; }

Q_SIGNALS:
    void guideChanged();
    void statusChanged();
    /// A refresh failed; the guide shown stays.
    void refreshFailed(const QString &reason);

private:
    void open(const QString &path, bool fromDownload);
    void setStatus(const QString &status, bool offline);
    QString cachePath() const;
    void scheduleRefresh();

    QString m_cacheDir;
    std::shared_ptr<const epg::Guide> m_guide;
    QString m_status;
    bool m_offline = false;
    epg::GuideSync *m_sync = nullptr; ///< downloads: deltas from the guide held, else the whole guide
    QByteArray m_etag;
    qint64 m_fixedNow = 0;
    int m_generation = 0; ///< the latest open wins
    QUrl m_server;
    QTimer m_refreshTimer;
    int m_refreshMinutes = 0; ///< 0: no automatic refresh
    int m_retryMs = 60 * 1000;
    QDateTime m_lastContact; ///< the server last answered (UTC)
};

} // namespace iptv::hubris
