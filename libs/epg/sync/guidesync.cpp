#include "guidesync.h"

#include <epg/guidedelta.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSaveFile>
#include <QUrlQuery>
#include <QtConcurrent>

Q_LOGGING_CATEGORY(lcGuideSync, "iptv.guide.sync", QtInfoMsg)

namespace iptv::epg {

namespace {
constexpr int kTransferTimeoutMs = 60000;

/// The checksum an ETag names ("abc" or W/"abc" -> abc).
QByteArray etagChecksum(const QNetworkReply *reply)
{
    QByteArray tag = reply->rawHeader("ETag").trimmed();
    if (tag.startsWith("W/"))
        tag = tag.mid(2);
    if (tag.size() >= 2 && tag.startsWith('"') && tag.endsWith('"'))
        tag = tag.mid(1, tag.size() - 2);
    return tag;
}

int statusOf(const QNetworkReply *reply)
{
    return reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
}

/// The largest download allowed: a guide's or delta's header and its limit of stored bytes.
qint64 downloadCap(const GuideLimits &limits)
{
    return qint64(qMin<quint64>(limits.maxFileBytes, quint64(1) << 50)) + 168; // a delta: magic, base hash, header
}

constexpr char kTooLarge[] = "iptvTooLarge";

/// Runs `open` (a worker's opening of a guide) so that nothing it throws reaches the slot that
/// takes its result on the owner's thread: a std::bad_alloc for a body the machine cannot hold
/// would end the program there, and again after every restart.
template<typename Opened, typename Fn>
Opened guarded(Fn &&open)
{
    try {
        return open();
    } catch (const std::exception &e) {
        Opened o;
        o.error = QStringLiteral("opening the guide failed: ") + QString::fromLocal8Bit(e.what());
        return o;
    } catch (...) {
        Opened o;
        o.error = QStringLiteral("opening the guide failed (unknown exception)");
        return o;
    }
}
} // namespace

struct GuideSync::Opened
{
    std::shared_ptr<const Guide> guide;
    QByteArray file;
    QString error;
};

GuideSync::GuideSync(const QString &cacheFile, QObject *parent) : QObject(parent), m_cacheFile(cacheFile)
{
    if (!m_cacheFile.isEmpty())
        QDir().mkpath(QFileInfo(m_cacheFile).absolutePath());
    connect(&m_timer, &QTimer::timeout, this, &GuideSync::refresh);
    m_retry.setSingleShot(true);
    connect(&m_retry, &QTimer::timeout, this, &GuideSync::refresh);
}

GuideSync::~GuideSync() = default;

void GuideSync::setRefreshInterval(int ms)
{
    if (ms <= 0) {
        m_timer.stop();
        return;
    }
    m_timer.start(ms);
    QMetaObject::invokeMethod(this, &GuideSync::refresh, Qt::QueuedConnection);
}

QUrl GuideSync::endpoint(const QString &path) const
{
    QUrl url = m_server;
    QString base = url.path();
    while (base.endsWith(u'/'))
        base.chop(1);
    url.setPath(base + path);
    return url;
}

void GuideSync::loadCache()
{
    if (m_cacheFile.isEmpty() || !QFile::exists(m_cacheFile))
        return;
    const int generation = ++m_generation;
    auto *watcher = new QFutureWatcher<Opened>(this);
    connect(watcher, &QFutureWatcher<Opened>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        Opened o = watcher->result();
        if (generation != m_generation || m_guide)
            return; // a download came first
        if (!o.guide) {
            qCWarning(lcGuideSync).noquote() << "the cached guide" << m_cacheFile << "does not open:" << o.error;
            return;
        }
        m_guideFile = std::move(o.file);
        m_guide = o.guide;
        qCInfo(lcGuideSync).noquote() << "cached guide" << m_guide->info().checksum.left(12) << "opened";
        Q_EMIT guideChanged(nullptr, m_guide);
    });
    watcher->setFuture(QtConcurrent::run([path = m_cacheFile, limits = m_limits] {
        return guarded<Opened>([&] {
            Opened o;
            QFile f(path);
            if (!f.open(QIODevice::ReadOnly)) {
                o.error = f.errorString();
                return o;
            }
            if (f.size() > downloadCap(limits)) {
                o.error = QStringLiteral("%1 bytes, over the limit of %2").arg(f.size()).arg(downloadCap(limits));
                return o;
            }
            o.file = f.readAll();
            o.guide = Guide::fromBytes(o.file, &o.error, path, limits);
            return o;
        });
    }));
}

void GuideSync::refresh()
{
    if (m_busy || !m_server.isValid())
        return;
    m_busy = true;
    ++m_stats.refreshes;
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    if (m_guide)
        requestDelta();
    else
        requestWhole();
}

void GuideSync::requestDelta()
{
    QUrl url = endpoint(QStringLiteral("/guide/delta"));
    url.setQuery(QUrlQuery{{QStringLiteral("from"), QString::fromLatin1(m_guide->info().checksum)}});
    QNetworkRequest request(url);
    request.setTransferTimeout(kTransferTimeoutMs);
    QNetworkReply *reply = m_network->get(request);
    capDownload(reply);
    connect(reply, &QNetworkReply::finished, this, [this, reply] { onDelta(reply); });
}

void GuideSync::requestWhole()
{
    QNetworkRequest request(endpoint(QStringLiteral("/guide")));
    request.setTransferTimeout(kTransferTimeoutMs);
    if (m_guide)
        request.setRawHeader("If-None-Match", '"' + m_guide->info().checksum + '"');
    QNetworkReply *reply = m_network->get(request);
    capDownload(reply);
    connect(reply, &QNetworkReply::finished, this, [this, reply] { onWhole(reply); });
}

void GuideSync::capDownload(QNetworkReply *reply)
{
    const qint64 cap = downloadCap(m_limits);
    connect(reply, &QNetworkReply::downloadProgress, reply, [reply, cap](qint64 received, qint64 total) {
        if ((received > cap || total > cap) && !reply->property(kTooLarge).toBool()) {
            reply->setProperty(kTooLarge, true);
            reply->abort();
        }
    });
}

bool GuideSync::answered(QNetworkReply *reply, int *status)
{
    reply->deleteLater();
    *status = statusOf(reply);
    if (reply->property(kTooLarge).toBool()) {
        setReachable(true);
        *status = 413; // not the server's: ours, for what it sent
        return true;
    }
    if (*status == 0) {
        setReachable(false);
        finish(QStringLiteral("guide server %1 unreachable: %2").arg(m_server.toDisplayString(), reply->errorString()));
        return false;
    }
    setReachable(true);
    if (*status == 304) {
        ++m_stats.notModified;
        finish({});
        return false;
    }
    return true;
}

void GuideSync::onDelta(QNetworkReply *reply)
{
    int status = 0;
    if (!answered(reply, &status))
        return;
    if (reply->property(kTooLarge).toBool()) {
        qCWarning(lcGuideSync).noquote() << "the delta from" << m_server.toDisplayString() << "is larger than the limit of"
                                         << downloadCap(m_limits) << "bytes; downloading the whole guide";
        requestWhole();
        return;
    }
    if (status != 200) {
        // unknown-base (the server no longer keeps ours), delta-pending, or an older server:
        // the whole guide instead.
        qCDebug(lcGuideSync) << "no delta (HTTP" << status << "); downloading the whole guide";
        requestWhole();
        return;
    }
    const QByteArray delta = reply->readAll();
    m_stats.bytesDownloaded += quint64(delta.size());
    install(m_guideFile, delta, etagChecksum(reply), true);
}

void GuideSync::onWhole(QNetworkReply *reply)
{
    int status = 0;
    if (!answered(reply, &status))
        return;
    if (reply->property(kTooLarge).toBool()) {
        finish(QStringLiteral("the guide from %1 is larger than the limit of %2 bytes; the download was stopped, the previous guide stays")
                   .arg(m_server.toDisplayString())
                   .arg(downloadCap(m_limits)));
        return;
    }
    if (status != 200) {
        finish(QStringLiteral("%1 answered HTTP %2: %3")
                   .arg(reply->url().toDisplayString())
                   .arg(status)
                   .arg(QString::fromUtf8(reply->readAll().left(200))));
        return;
    }
    const QByteArray body = reply->readAll();
    m_stats.bytesDownloaded += quint64(body.size());
    install(body, {}, etagChecksum(reply), false);
}

void GuideSync::install(QByteArray bytes, QByteArray delta, QByteArray expectedChecksum, bool isDelta)
{
    const int generation = ++m_generation;
    auto *watcher = new QFutureWatcher<Opened>(this);
    connect(watcher, &QFutureWatcher<Opened>::finished, this, [this, watcher, generation, isDelta] {
        watcher->deleteLater();
        Opened o = watcher->result();
        if (generation != m_generation)
            return;
        if (!o.guide) {
            if (isDelta) {
                qCWarning(lcGuideSync).noquote() << "the delta does not apply (" << o.error << "); downloading the whole guide";
                requestWhole();
                return;
            }
            finish(QStringLiteral("the guide from %1 was refused: %2; the previous one stays")
                       .arg(m_server.toDisplayString(), o.error));
            return;
        }
        ++(isDelta ? m_stats.deltasApplied : m_stats.fullDownloads);
        const std::shared_ptr<const Guide> previous = std::exchange(m_guide, o.guide);
        m_guideFile = std::move(o.file);
        qCInfo(lcGuideSync).noquote() << "guide" << m_guide->info().checksum.left(12) << (isDelta ? "from a delta" : "downloaded")
                                      << ":" << m_guide->info().channelCount << "channels," << m_guide->info().airingCount
                                      << "airings";
        finish({});
        Q_EMIT guideChanged(previous, m_guide);
    });
    watcher->setFuture(QtConcurrent::run([bytes = std::move(bytes), delta = std::move(delta),
                                          expected = std::move(expectedChecksum), cache = m_cacheFile, isDelta,
                                          limits = m_limits] {
        return guarded<Opened>([&] {
            Opened o;
            o.file = isDelta ? GuideDelta::apply(bytes, delta, &o.error, limits) : bytes;
            if (o.file.isEmpty()) {
                if (o.error.isEmpty())
                    o.error = QStringLiteral("empty guide");
                return o;
            }
            o.guide = Guide::fromBytes(o.file, &o.error, {}, limits);
            if (!o.guide)
                return o;
            if (!expected.isEmpty() && o.guide->info().checksum != expected) {
                o.error = QStringLiteral("its checksum %1 is not the %2 the server named")
                              .arg(QString::fromLatin1(o.guide->info().checksum.left(16)), QString::fromLatin1(expected.left(16)));
                o.guide.reset();
                return o;
            }
            if (!cache.isEmpty()) {
                QSaveFile f(cache);
                if (!f.open(QIODevice::WriteOnly) || f.write(o.file) != o.file.size() || !f.commit())
                    qCWarning(lcGuideSync).noquote() << "cannot keep the guide in" << cache << ":" << f.errorString();
            }
            return o;
        });
    }));
}

void GuideSync::finish(const QString &error)
{
    m_busy = false;
    m_lastError = error;
    if (!error.isEmpty()) {
        ++m_stats.failures;
        qCWarning(lcGuideSync).noquote() << error;
        Q_EMIT refreshFailed(error);
        // Without any guide (a server that has not compiled its first one yet, or is not up),
        // waiting a whole refresh interval leaves the program with nothing for minutes.
        if (!m_guide && m_timer.isActive() && m_retryMs < m_timer.interval()) {
            m_retry.start(qMin(m_nextRetryMs, m_retryMs));
            m_nextRetryMs = qMin(m_nextRetryMs * 2, m_retryMs);
        }
    } else {
        m_retry.stop();
        m_nextRetryMs = 1000;
    }
    Q_EMIT refreshFinished();
}

void GuideSync::setReachable(bool reachable)
{
    if (reachable == m_reachable)
        return;
    m_reachable = reachable;
    Q_EMIT reachabilityChanged(reachable);
}

} // namespace iptv::epg
