#include "guidestore.h"

#include "heaptrim.h"

#include <epg/sync/guidesync.h>

#include <QDir>
#include <QFile>
#include <QLocale>
#include <QFutureWatcher>
#include <QLoggingCategory>
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
    // Offline, or without any guide (a server that has not compiled its first one yet), the next
    // attempt comes sooner: the box says "offline" or shows no channels no longer than it must.
    const qint64 interval = qint64(m_refreshMinutes) * 60 * 1000;
    m_refreshTimer.start(int(m_offline || !m_guide ? qMin<qint64>(m_retryMs, interval) : interval));
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
        releaseFreeHeap("the guide opened"); // the worker's tables built and dropped, the old guide
    });
    watcher->setFuture(QtConcurrent::run([path] {
        Opened o;
        o.guide = epg::Guide::open(path, &o.error);
        return o;
    }));
}

void GuideStore::refresh(const QUrl &server)
{
    // epg::GuideSync asks for a delta from the guide held (a schedule change costs kilobytes,
    // not the whole guide), falls back to the whole guide, checks it against the server's
    // checksum off the UI thread and keeps it in the cache: a guide that fails never replaces
    // the one shown.
    if (!m_sync) {
        m_sync = new epg::GuideSync(cachePath(), this);
        connect(m_sync, &epg::GuideSync::guideChanged, this, [this](auto, std::shared_ptr<const epg::Guide> current) {
            ++m_generation; // a file opened meanwhile does not replace it
            m_guide = std::move(current);
            setStatus(tr("Guide until %1").arg(QLocale().toString(validUntil().toLocalTime(), QLocale::ShortFormat)), false);
            Q_EMIT guideChanged();
            releaseFreeHeap("a guide update");
        });
        connect(m_sync, &epg::GuideSync::refreshFinished, this, [this] {
            QString failure;
            if (!m_sync->isReachable()) {
                failure = tr("Guide server unreachable (%1): showing the guide on the box").arg(m_sync->lastError());
                setStatus(failure, true);
            } else {
                m_lastContact = QDateTime::currentDateTimeUtc();
                if (!m_sync->lastError().isEmpty()) {
                    failure = m_guide ? tr("The new guide was refused (%1); the previous one stays").arg(m_sync->lastError())
                                      : tr("No guide yet (%1): asking again soon").arg(m_sync->lastError());
                    qCWarning(lcGuideStore).noquote() << failure;
                    setStatus(failure, false);
                } else if (m_offline) {
                    setStatus(tr("Guide server reached again"), false);
                }
            }
            scheduleRefresh(); // offline: sooner
            if (!failure.isEmpty())
                Q_EMIT refreshFailed(failure);
        });
    }
    m_refreshTimer.stop(); // the next one is planned when this one is answered
    m_sync->setServer(server);
    m_sync->refresh();
}

} // namespace iptv::hubris
