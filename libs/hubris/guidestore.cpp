#include "guidestore.h"

#include <QDir>
#include <QFile>
#include <QLocale>
#include <QFutureWatcher>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSaveFile>
#include <QtConcurrent>

Q_LOGGING_CATEGORY(lcGuideStore, "iptv.hubris.guide", QtInfoMsg)

namespace iptv::hubris {

namespace {
struct Opened
{
    std::shared_ptr<const epg::Guide> guide;
    QString error;
};
} // namespace

GuideStore::GuideStore(const QString &cacheDir, QObject *parent) : QObject(parent), m_cacheDir(cacheDir)
{
    QDir().mkpath(m_cacheDir);
    m_refreshTimer.setSingleShot(true);
    connect(&m_refreshTimer, &QTimer::timeout, this, &GuideStore::refreshNow);
}

void GuideStore::setServer(const QUrl &server)
{
    if (server == m_server)
        return;
    m_server = server;
    Q_EMIT statusChanged();
}

void GuideStore::startAutoRefresh(int minutes)
{
    if (qMax(0, minutes) == m_refreshMinutes && m_refreshTimer.isActive())
        return; // planned already: another start must not put it off
    m_refreshMinutes = qMax(0, minutes);
    scheduleRefresh();
}

void GuideStore::scheduleRefresh()
{
    if (m_refreshMinutes <= 0) {
        m_refreshTimer.stop();
        return;
    }
    // Offline, the next attempt comes sooner: the box says "offline" no longer than it must.
    const qint64 interval = qint64(m_refreshMinutes) * 60 * 1000;
    m_refreshTimer.start(int(m_offline ? qMin<qint64>(m_retryMs, interval) : interval));
}

QString GuideStore::ageText() const
{
    if (!m_guide)
        return tr("No guide");
    const QLocale locale;
    const QDateTime made = QDateTime::fromSecsSinceEpoch(m_guide->info().createdAt, Qt::UTC).toLocalTime();
    const qint64 minutes = qMax<qint64>(0, made.secsTo(QDateTime::currentDateTimeUtc()) / 60);
    const QString when = locale.toString(made, QLocale::ShortFormat);
    QString text = minutes < 120       ? tr("Guide made %1 (%2 min ago)").arg(when).arg(minutes)
                   : minutes < 48 * 60 ? tr("Guide made %1 (%2 h ago)").arg(when).arg(minutes / 60)
                                       : tr("Guide made %1 (%2 days ago)").arg(when).arg(minutes / (24 * 60));
    if (m_lastContact.isValid())
        text += tr(" · server last answered %1").arg(locale.toString(m_lastContact.toLocalTime(), QLocale::ShortFormat));
    else
        text += tr(" · not from the server yet");
    return text;
}

GuideStore::~GuideStore() = default;

QString GuideStore::cachePath() const
{
    return QDir(m_cacheDir).filePath(QStringLiteral("guide.bin"));
}

QDateTime GuideStore::validUntil() const
{
    return m_guide ? QDateTime::fromSecsSinceEpoch(m_guide->info().validUntil, Qt::UTC) : QDateTime();
}

qint64 GuideStore::now() const
{
    return m_fixedNow > 0 ? m_fixedNow : QDateTime::currentSecsSinceEpoch();
}

void GuideStore::setStatus(const QString &status, bool offline)
{
    if (status == m_status && offline == m_offline)
        return;
    m_status = status;
    m_offline = offline;
    Q_EMIT statusChanged();
}

void GuideStore::loadCache()
{
    if (QFile::exists(cachePath()))
        open(cachePath(), false);
    else
        setStatus(tr("No guide yet"), m_offline);
}

void GuideStore::loadFile(const QString &path)
{
    open(path, false);
}

void GuideStore::open(const QString &path, bool fromDownload)
{
    const int generation = ++m_generation;
    auto *watcher = new QFutureWatcher<Opened>(this);
    connect(watcher, &QFutureWatcher<Opened>::finished, this, [this, watcher, generation, path, fromDownload] {
        watcher->deleteLater();
        const Opened result = watcher->result();
        if (generation != m_generation)
            return; // a later open superseded this one
        if (!result.guide) {
            qCWarning(lcGuideStore).noquote() << "cannot open the guide" << path << ":" << result.error;
            const QString reason = tr("The guide could not be read (%1); the previous one stays").arg(result.error);
            setStatus(reason, m_offline);
            if (fromDownload)
                Q_EMIT refreshFailed(reason);
            return;
        }
        m_guide = result.guide;
        const auto &info = m_guide->info();
        qCInfo(lcGuideStore).noquote() << "guide" << info.checksum.left(12) << ":" << info.channelCount << "channels,"
                                       << info.airingCount << "airings";
        setStatus(tr("Guide until %1").arg(QLocale().toString(validUntil().toLocalTime(), QLocale::ShortFormat)), m_offline);
        Q_EMIT guideChanged();
    });
    watcher->setFuture(QtConcurrent::run([path] {
        Opened o;
        o.guide = epg::Guide::open(path, &o.error);
        return o;
    }));
}

void GuideStore::refresh(const QUrl &server)
{
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    QUrl url = server;
    url.setPath(url.path().endsWith(u'/') ? url.path() + QStringLiteral("guide") : url.path() + QStringLiteral("/guide"));
    QNetworkRequest request(url);
    request.setTransferTimeout(60000);
    const QByteArray etag = m_guide ? '"' + m_guide->info().checksum + '"' : QByteArray();
    if (!etag.isEmpty())
        request.setRawHeader("If-None-Match", etag);
    QNetworkReply *reply = m_network->get(request);
    m_refreshTimer.stop(); // the next one is planned when this one is answered
    connect(reply, &QNetworkReply::finished, this, [this, reply] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const bool reached = status != 0; // any HTTP answer: the server is there
        if (reply->error() != QNetworkReply::NoError && status != 304) {
            const QString reason = reached ? tr("The guide server answered HTTP %1: showing the guide on the box").arg(status)
                                           : tr("Guide server unreachable (%1): showing the guide on the box").arg(reply->errorString());
            setStatus(reason, true);
            scheduleRefresh();
            Q_EMIT refreshFailed(reason);
            return;
        }
        m_lastContact = QDateTime::currentDateTimeUtc();
        if (m_offline)
            setStatus(tr("Guide server reached again"), false);
        scheduleRefresh();
        if (status == 304) {
            setStatus(m_status, false);
            return;
        }
        // Stored, opened and checked off the UI thread: a 6 MB guide must not stall a frame, and
        // only a guide that opens replaces the cached one.
        const QByteArray body = reply->readAll();
        auto *watcher = new QFutureWatcher<Opened>(this);
        const int generation = ++m_generation;
        connect(watcher, &QFutureWatcher<Opened>::finished, this, [this, watcher, generation] {
            watcher->deleteLater();
            const Opened result = watcher->result();
            if (generation != m_generation)
                return;
            if (!result.guide) {
                const QString reason = tr("The new guide was refused (%1); the previous one stays").arg(result.error);
                qCWarning(lcGuideStore).noquote() << reason;
                setStatus(reason, false);
                Q_EMIT refreshFailed(reason);
                return;
            }
            m_guide = result.guide;
            setStatus(tr("Guide until %1").arg(QLocale().toString(validUntil().toLocalTime(), QLocale::ShortFormat)), false);
            Q_EMIT guideChanged();
        });
        watcher->setFuture(QtConcurrent::run([body, final = cachePath()] {
            Opened o;
            const QString path = final + QStringLiteral(".new");
            QSaveFile f(path);
            if (!f.open(QIODevice::WriteOnly) || f.write(body) != body.size() || !f.commit()) {
                o.error = QStringLiteral("cannot store it: %1").arg(f.errorString());
                return o;
            }
            o.guide = epg::Guide::open(path, &o.error);
            if (!o.guide) {
                QFile::remove(path);
                return o;
            }
            QFile::remove(final);
            if (!QFile::rename(path, final))
                qCWarning(lcGuideStore).noquote() << "cannot replace" << final << "; the new guide is used from" << path;
            return o;
        }));
    });
}

} // namespace iptv::hubris
