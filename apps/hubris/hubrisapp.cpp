#include "hubrisapp.h"

#include <hal/desktophal.h>
#include <hal/ffmpegplayer.h>
#include <hal/linuxboxhal.h>
#include <hubris/guidegridview.h>
#include <hubris/heaptrim.h>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLoggingCategory>

#include <payload/keys.h>
#include <QProcess>
#include <QQmlApplicationEngine>
#include <QQmlExtensionPlugin>
#include <QQuickWindow>
#include <QTimer>

Q_IMPORT_QML_PLUGIN(HubrisPlugin)

Q_LOGGING_CATEGORY(lcHubrisApp, "iptv.hubris.app", QtInfoMsg)

using namespace iptv;

HubrisApp::HubrisApp(HubrisOptions options, QObject *parent) : QObject(parent), m_options(std::move(options))
{
    hubris::tuneHeap(); // before the guide's tables: no free heap left resident (docs/BENCHMARKS.md)
    // Qt Multimedia's FFmpeg backend shows a keyframe-first stream's first frame in ~20-110 ms;
    // the GStreamer backend fails (and crashes) on the same streams (PLATFORM-NOTES).
    if (qEnvironmentVariableIsEmpty("QT_MEDIA_BACKEND"))
        qputenv("QT_MEDIA_BACKEND", "ffmpeg");
    // The simulator renders on the GUI thread: on a software rasterizer (Mesa llvmpipe under
    // Xvfb) a frame costs 70-140 ms of swap on two busy cores, and the threaded loop's hand-off
    // (the GUI thread blocked until the render thread has finished the frame before) cost a
    // zap's picture up to one more frame; key to painted p95 dropped by a sixth to a third in
    // bench/hubris/zap.sh (docs/BENCHMARKS.md). A box (eglfs on a GPU) keeps Qt's choice.
    if (qEnvironmentVariableIsEmpty("QSG_RENDER_LOOP") && !m_options.linuxBox)
        qputenv("QSG_RENDER_LOOP", "basic");
    // Nor a depth buffer for 2D there: on llvmpipe the depth test and clears cost more than the
    // overdraw they save (a scroll step's rasterising 7.2-7.5 -> 6.0-6.8 ms, docs/BENCHMARKS.md).
    if (qEnvironmentVariableIsEmpty("QSG_NO_DEPTH_BUFFER") && !m_options.linuxBox)
        qputenv("QSG_NO_DEPTH_BUFFER", "1");
    // A frame asked for is drawn when the event loop is next idle, not 5 ms later (Qt's default
    // for platforms without a frame clock, xcb under Xvfb among them): a key's frame came up to
    // 5 ms after the work for it was done. On a box the swap's vsync paces the frames anyway.
    if (qEnvironmentVariableIsEmpty("QT_QPA_UPDATE_IDLE_TIME"))
        qputenv("QT_QPA_UPDATE_IDLE_TIME", "0");
    if (m_options.linuxBox)
        m_hal = std::make_unique<hal::LinuxBoxHal>();
    else
        m_hal = std::make_unique<hal::DesktopHal>();
    // The simulator's video as RGB (converted on the stream's thread): its Qt Quick rasterises in
    // software under Xvfb, where the YUV shader samples three textures per pixel; the process's
    // CPU per painted frame went from 42-52 to 33-34 ms while zapping (docs/BENCHMARKS.md). A
    // box's GPU converts YUV for free. IPTV_RGB_PICTURES=0/1 overrides.
    if (auto *ffmpeg = qobject_cast<hal::FfmpegPlayer *>(m_hal->player())) {
        bool set = false;
        const int rgb = qEnvironmentVariableIntValue("IPTV_RGB_PICTURES", &set);
        ffmpeg->setRgbPictures(set ? rgb != 0 : !m_options.linuxBox);
    }
    QDir().mkpath(m_options.dataDir);
    m_settings = std::make_unique<hubris::BoxSettings>(QDir(m_options.dataDir).filePath(QStringLiteral("settings.json")));
    m_store = std::make_unique<hubris::GuideStore>(QDir(m_options.dataDir).filePath(QStringLiteral("guide")));
    if (m_options.fixedNow > 0)
        m_store->setFixedNow(m_options.fixedNow);
    m_channels = std::make_unique<hubris::ChannelListModel>(m_store.get());
    m_grid = std::make_unique<hubris::GuideGrid>(m_store.get());
    m_zapper = std::make_unique<hubris::Zapper>(m_channels.get(), m_hal->player());
    m_numberEntry = std::make_unique<hubris::ChannelNumberEntry>(m_channels.get());
    m_remote = std::make_unique<hubris::RemoteKeys>();
    m_search = std::make_unique<hubris::SearchModel>(m_store.get());
    m_reminders = std::make_unique<hubris::Reminders>(m_store.get(), QDir(m_options.dataDir).filePath(QStringLiteral("reminders.json")));
    // Favourites and locks are the viewer's: kept in the settings.
    const QStringList favourites = m_settings->favourites();
    m_channels->setFavourites(QSet<QString>(favourites.begin(), favourites.end()));
    connect(m_channels.get(), &hubris::ChannelListModel::favouritesChanged, this, [this] {
        const QSet<QString> ids = m_channels->favourites();
        m_settings->setFavourites(QStringList(ids.begin(), ids.end()));
    });
    m_parental = std::make_unique<hubris::ParentalControl>(m_store.get(), m_settings.get());
    m_gridChannels = std::make_unique<hubris::ChannelFilterModel>(m_channels.get(), m_parental.get());
    m_grid->setParentalControl(m_parental.get());
    m_search->setParentalControl(m_parental.get());
    m_zapper->setLockCheck([this](int row) { return m_parental->blocksChannel(row); });
    connect(m_parental.get(), &hubris::ParentalControl::changed, m_zapper.get(), &hubris::Zapper::recheck);
    connect(m_hal.get(), &hal::Hal::standbyChanged, m_parental.get(), [this](bool standby) {
        if (standby) // the PIN's unlock lasts until standby
            m_parental->lock();
    });
    // The viewer's languages choose the audio (and subtitle) stream; a change plays the live
    // channel again in the new language.
    m_hal->player()->setPreferredLanguages(m_settings->audioLanguage(), m_settings->subtitleLanguage());
    connect(m_settings.get(), &hubris::BoxSettings::changed, this, [this] {
        hal::Player *player = m_hal->player();
        if (player->preferredAudioLanguage() == m_settings->audioLanguage()
            && player->preferredSubtitleLanguage() == m_settings->subtitleLanguage())
            return;
        player->setPreferredLanguages(m_settings->audioLanguage(), m_settings->subtitleLanguage());
        if (player->state() != hal::Player::State::Stopped && !(m_playback && m_playback->isActive()))
            m_zapper->retune();
    });
    m_updates = std::make_unique<hubris::UpdateProgress>();
    m_diagnostics = std::make_unique<hubris::Diagnostics>(m_hal->player(), m_zapper.get(), m_store.get());
    const QUrl controlServer = m_settings->controlServer().isEmpty() ? m_options.controlServer : QUrl(m_settings->controlServer());
    if (controlServer.isValid()) {
        hubris::ControlLinkConfig link;
        link.serverUrl = controlServer;
        link.stateDir = QDir(m_options.dataDir).filePath(QStringLiteral("link"));
        link.serial = m_options.serial;
        link.softwareVersion = QCoreApplication::applicationVersion();
        m_link = std::make_unique<hubris::ControlLink>(link, m_hal.get(), m_zapper.get(), m_channels.get());
        m_link->setScreenshotProvider([this] { return window() ? window()->grabWindow() : QImage(); });
        m_link->setDiagnostics(m_diagnostics.get());
        // Reboot: the app starts itself again with the same arguments (a box's init would).
        connect(m_link.get(), &hubris::ControlLink::rebootRequested, this, &HubrisApp::restart);
        if (!m_options.trustKeys.isEmpty()) {
            QString error;
            const QList<payload::PublicKey> keys = payload::loadPublicKeys(m_options.trustKeys, &error);
            if (keys.isEmpty()) {
                qWarning("hubris: no release key loaded (%s): updates are refused", qPrintable(error));
            } else {
                boxlink::InstallerConfig installer;
                installer.stateDir = QDir(m_options.dataDir).filePath(QStringLiteral("update"));
                installer.trustedKeys = keys;
                installer.boxVersion = QCoreApplication::applicationVersion();
                m_installer = std::make_unique<boxlink::UpdateInstaller>(installer, m_link->credentials());
                m_installer->attach(m_link->link());
                m_link->setInstaller(m_installer.get());
                m_updates->attach(m_installer.get());
                // Installed: restart into it on trial; the health check commits or rolls back.
                connect(m_installer.get(), &boxlink::UpdateInstaller::installFinished, this,
                        [this](bool ok, const QString &version) {
                            if (!ok || m_installer->pendingVersion() != version)
                                return;
                            m_updates->restarting(); // said on screen before the app goes
                            QTimer::singleShot(1500, this, &HubrisApp::restart);
                        });
            }
        }
        connect(m_link.get(), &hubris::ControlLink::factoryResetRequested, this, [this] {
            QDir(QDir(m_options.dataDir).filePath(QStringLiteral("guide"))).removeRecursively();
            Q_EMIT m_link->rebootRequested();
        });
    }
    m_offline = std::make_unique<hubris::OfflineStatus>(m_store.get(), m_link.get());
    // The network DVR: diver knows the box by the ticket the control link gets for it.
    m_dvr = std::make_unique<hubris::DvrClient>(m_store.get(), m_options.dvrServer);
    m_playback = std::make_unique<hubris::DvrPlayback>(m_dvr.get(), m_hal->player(), m_zapper.get());
    if (m_link && m_dvr->isEnabled())
        m_dvr->setTicketSource(m_link->link());
    m_shell = std::make_unique<Shell>();
    m_shell->simulator = m_options.simulator;
    m_shell->version = QCoreApplication::applicationVersion();
    m_shell->serial = m_link ? m_link->serial() : (m_options.serial.isEmpty() ? hubris::ControlLink::defaultSerial() : m_options.serial);
    m_shell->developmentBuild = m_diagnostics->isAvailable();
}

QUrl HubrisApp::guideServer() const
{
    return m_settings->guideServer().isEmpty() ? m_options.guideServer : QUrl(m_settings->guideServer());
}

HubrisApp::~HubrisApp()
{
    m_engine.reset(); // QML first: it binds to everything below
    m_playback.reset();
}

void HubrisApp::restart()
{
    if (m_options.restart) {
        m_options.restart();
        return;
    }
    QProcess::startDetached(QCoreApplication::applicationFilePath(), QCoreApplication::arguments().mid(1));
    QCoreApplication::quit();
}

void HubrisApp::watchHealth()
{
    // A payload on trial is kept when its window shows frames (its QML runs and paints) within
    // the health-check time; otherwise it is rolled back and the app restarts.
    if (!m_installer || m_installer->pendingVersion().isEmpty() || m_slot.isEmpty())
        return;
    const QString version = m_installer->pendingVersion();
    // Healthy: the window painted, and the event loop still runs two seconds later.
    connect(window(), &QQuickWindow::frameSwapped, this, [this, version] {
        if (++m_framesShown != 1)
            return;
        QTimer::singleShot(2000, this, [this, version] {
            if (m_installer->pendingVersion() != version)
                return;
            QString error;
            if (m_installer->commit(&error))
                Q_EMIT payloadCommitted(version);
            else
                qWarning("hubris: cannot commit payload %s: %s", qPrintable(version), qPrintable(error));
        });
    });
    QTimer::singleShot(m_options.healthCheckMs, this, [this, version] {
        if (m_installer->pendingVersion() != version)
            return;
        const QString reason = QStringLiteral("no picture within %1 s").arg(m_options.healthCheckMs / 1000);
        m_installer->rollback(reason);
        Q_EMIT payloadRolledBack(reason);
        restart();
    });
}

void HubrisApp::watchStart()
{
    // Over at the first frame painted with a live picture in it (a frame swapped after the
    // picture reached the sink), or after a few seconds without one (no channel yet, a dead
    // stream, a locked channel): the pages other than live TV are created after that, between
    // frames, so they neither delay the first picture nor block a key.
    Shell *shell = m_shell.get();
    hal::Player *player = m_hal->player();
    auto *painted = new QObject(this); // the connection's context: gone once started
    connect(window(), &QQuickWindow::frameSwapped, painted, [shell, player, painted] {
        if (player->state() != hal::Player::State::Playing)
            return;
        qCDebug(lcHubrisApp) << "the first live picture is on screen: creating the other pages";
        shell->setStarted();
        painted->deleteLater();
    }, Qt::QueuedConnection);
    QTimer::singleShot(3000, painted, [shell, painted] {
        qCDebug(lcHubrisApp) << "no live picture within 3 s: creating the other pages";
        shell->setStarted();
        painted->deleteLater();
    });
}

QQuickWindow *HubrisApp::window() const
{
    return m_engine && !m_engine->rootObjects().isEmpty() ? qobject_cast<QQuickWindow *>(m_engine->rootObjects().first())
                                                          : nullptr;
}

bool HubrisApp::start()
{
    const char *uri = "Hubris.Native";
    // Singleton instances are per engine; the types are registered once per process.
    qmlRegisterUncreatableType<hal::Player>(uri, 1, 0, "Player", QStringLiteral("the HAL's player"));
    qmlRegisterUncreatableType<hubris::RemoteKeys>(uri, 1, 0, "RemoteKeys", QStringLiteral("actions only"));
    qmlRegisterUncreatableType<hubris::UpdateProgress>(uri, 1, 0, "UpdateProgress", QStringLiteral("stages only"));
    qmlRegisterType<hubris::GuideGridView>(uri, 1, 0, "GuideGridView");
    qmlRegisterSingletonInstance(uri, 1, 0, "Hal", m_hal.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "GuideStore", m_store.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Channels", m_channels.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "GuideGrid", m_grid.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Zapper", m_zapper.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "NumberEntry", m_numberEntry.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Remote", m_remote.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Search", m_search.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Reminders", m_reminders.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Shell", m_shell.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Settings", m_settings.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Parental", m_parental.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "GridChannels", m_gridChannels.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Updates", m_updates.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Diagnostics", m_diagnostics.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Offline", m_offline.get());
    qmlRegisterUncreatableType<hubris::DvrRecordingsModel>(uri, 1, 0, "DvrRecordings", QStringLiteral("Dvr.recordings"));
    qmlRegisterUncreatableType<hubris::DvrUpcomingModel>(uri, 1, 0, "DvrUpcoming", QStringLiteral("Dvr.upcoming"));
    qmlRegisterSingletonInstance(uri, 1, 0, "Dvr", m_dvr.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Playback", m_playback.get());
    m_shell->linked = m_link != nullptr;
    if (m_link)
        qmlRegisterSingletonInstance(uri, 1, 0, "Link", m_link.get());

    // Cold start: the channel watched last plays at once, while the guide opens and the QML
    // loads, so its first picture is there when the video item appears. Only when nothing could
    // lock it (the parental control's checks need the guide).
    const bool remembered = m_options.startChannel <= 0 && !m_settings->lastStream().isEmpty()
                            && m_parental->ratingLimit() <= 0 && m_parental->lockedChannelCount() == 0;
    if (remembered) {
        qCInfo(lcHubrisApp).noquote() << "cold start: tuning the last channel" << m_settings->lastChannelId()
                                      << "while the user interface loads";
        m_hal->player()->play(QUrl(m_settings->lastStream()));
    }
    // The first guide: tune as soon as it is there (a cached one at once, a downloaded one later);
    // the last channel, already playing, is only adopted.
    connect(m_store.get(), &hubris::GuideStore::guideChanged, this, [this] {
        if (m_zapper->current() >= 0 || m_channels->rowCount() == 0)
            return;
        int row = m_options.startChannel > 0 ? m_channels->rowOfNumber(m_options.startChannel) : -1;
        if (m_options.startChannel <= 0 && !m_settings->lastChannelId().isEmpty()) {
            for (int r = 0; r < m_channels->rowCount() && row < 0; ++r) {
                if (m_channels->data(m_channels->index(r), hubris::ChannelListModel::IdRole).toString() == m_settings->lastChannelId())
                    row = r;
            }
        }
        m_zapper->adopt(row >= 0 ? row : 0);
    });
    // Remembered once the viewer stays on a channel (not on every key of a zapping run); a locked
    // channel is not (the next start would play it before its lock is known).
    auto *remember = new QTimer(this);
    remember->setSingleShot(true);
    remember->setInterval(2000);
    connect(remember, &QTimer::timeout, this, [this] {
        const int row = m_zapper->current();
        if (row < 0)
            return;
        const QModelIndex index = m_channels->index(row);
        if (m_zapper->isBlocked() || m_parental->isChannelLocked(row))
            m_settings->setLastChannel(QString(), QString());
        else
            m_settings->setLastChannel(m_channels->data(index, hubris::ChannelListModel::IdRole).toString(),
                                       m_channels->data(index, hubris::ChannelListModel::StreamRole).toString());
    });
    connect(m_zapper.get(), &hubris::Zapper::currentChanged, remember, qOverload<>(&QTimer::start));
    connect(m_zapper.get(), &hubris::Zapper::blockedChanged, remember, qOverload<>(&QTimer::start));
    m_store->setServer(guideServer());
    if (!m_options.guideFile.isEmpty()) {
        m_store->loadFile(m_options.guideFile);
    } else {
        m_store->loadCache();
        m_store->refreshNow();
        m_store->startAutoRefresh(m_settings->refreshMinutes());
    }
    // The viewer changed the server or the interval in the settings (a guide file stays until
    // the viewer asks for a refresh).
    connect(m_settings.get(), &hubris::BoxSettings::changed, this, [this] {
        const bool fromFile = !m_options.guideFile.isEmpty();
        if (guideServer().toString() != m_store->server()) {
            m_store->setServer(guideServer());
            if (!fromFile)
                m_store->refreshNow();
        }
        if (!fromFile)
            m_store->startAutoRefresh(m_settings->refreshMinutes());
    });
    auto *minute = new QTimer(this);
    minute->setInterval(30 * 1000);
    connect(minute, &QTimer::timeout, m_channels.get(), &hubris::ChannelListModel::tick);
    connect(minute, &QTimer::timeout, m_zapper.get(), &hubris::Zapper::recheck); // a rated programme begins
    minute->start();

    // The UI: the payload slot the installer boots (a pending one on trial, else the current
    // one), or the built-in one. A payload whose QML does not load is rolled back at once and the
    // next in line is tried.
    QElapsedTimer loading;
    loading.start();
    m_engine = std::make_unique<QQmlApplicationEngine>();
    for (int attempt = 0; m_installer && attempt < 3; ++attempt) {
        m_slot = m_installer->beginBoot();
        if (m_slot.isEmpty())
            break;
        const QString main = QDir(m_slot).filePath(QStringLiteral("payload/qml/Main.qml"));
        if (QFile::exists(main)) {
            qInfo("hubris: user interface from payload %s", qPrintable(m_slot));
            m_engine->load(QUrl::fromLocalFile(main));
            if (window())
                break;
        }
        const QString reason = QFile::exists(main) ? QStringLiteral("its user interface did not load")
                                                   : QStringLiteral("it has no payload/qml/Main.qml");
        qWarning("hubris: payload %s rolled back: %s", qPrintable(m_slot), qPrintable(reason));
        m_installer->rollback(reason);
        Q_EMIT payloadRolledBack(reason);
        m_engine = std::make_unique<QQmlApplicationEngine>();
        m_slot.clear();
    }
    if (m_slot.isEmpty())
        m_engine->load(QUrl(QStringLiteral("qrc:/Hubris/Main.qml")));
    else if (m_link) // the box runs this payload: the control server plans rollouts from it
        m_link->link()->setSoftwareVersion(QFileInfo(m_slot).fileName());
    qCInfo(lcHubrisApp) << "user interface loaded in" << loading.elapsed() << "ms";
    if (!window())
        return false;
    connect(m_reminders.get(), &hubris::Reminders::due, window(),
            [this](const QString &title, int channel, const QString &channelName, qint64 start) {
                QMetaObject::invokeMethod(window(), "showReminder", Q_ARG(QVariant, title), Q_ARG(QVariant, channel),
                                          Q_ARG(QVariant, channelName), Q_ARG(QVariant, start));
            });
    watchHealth();
    watchStart();
    // The first frame painted after a zap's picture reached the sink (the zap's "painted" part).
    hubris::Zapper *zapper = m_zapper.get();
    connect(window(), &QQuickWindow::beforeSynchronizing, zapper, [zapper] { zapper->frameStarted(); }, Qt::DirectConnection);
    connect(window(), &QQuickWindow::frameSwapped, zapper, [zapper] { zapper->frameSwapped(); }, Qt::DirectConnection);
    if (m_diagnostics->isAvailable()) {
        // From the render thread: Diagnostics locks what it keeps.
        hubris::Diagnostics *diagnostics = m_diagnostics.get();
        connect(window(), &QQuickWindow::beforeSynchronizing, diagnostics, [diagnostics] { diagnostics->frameStarted(); },
                Qt::DirectConnection);
        connect(window(), &QQuickWindow::frameSwapped, diagnostics, [diagnostics] { diagnostics->frameSwapped(); },
                Qt::DirectConnection);
    }
    if (m_link) {
        connect(m_link.get(), &hubris::ControlLink::messageReceived, window(), [this](const QString &text, int seconds) {
            QMetaObject::invokeMethod(window(), "showMessage", Q_ARG(QVariant, text), Q_ARG(QVariant, seconds));
        });
        m_link->start();
    }
    return true;
}
