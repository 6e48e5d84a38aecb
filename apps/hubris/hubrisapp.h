#pragma once

// The box app's native side, built once by main.cpp and by the GUI test: the HAL, the guide store,
// the models and the zapper, registered as singletons of QML module Hubris.Native, and the engine
// that loads the Hubris QML module.

#include "shell.h"

#include <hal/hal.h>
#include <hubris/boxsettings.h>
#include <hubris/channelfiltermodel.h>
#include <hubris/channelnumberentry.h>
#include <hubris/channellistmodel.h>
#include <hubris/controllink.h>
#include <hubris/diagnostics.h>
#include <hubris/dvrclient.h>
#include <hubris/dvrplayback.h>
#include <hubris/guidegrid.h>
#include <hubris/guidestore.h>
#include <hubris/offlinestatus.h>
#include <hubris/parentalcontrol.h>
#include <hubris/reminders.h>
#include <hubris/remotekeys.h>
#include <hubris/searchmodel.h>
#include <hubris/updateprogress.h>
#include <hubris/zapper.h>

#include <QObject>
#include <QUrl>

#include <functional>
#include <memory>

QT_BEGIN_NAMESPACE
class QQmlApplicationEngine;
class QQuickWindow;
QT_END_NAMESPACE

struct HubrisOptions
{
    bool simulator = false;
    bool linuxBox = false;       ///< the Linux box HAL instead of the desktop one
    QString dataDir;             ///< guide cache and settings
    QString guideFile;           ///< open this guide instead of downloading
    /// A server set in the box's settings wins over these two (the viewer changed it there).
    QUrl guideServer = QUrl(QStringLiteral("http://127.0.0.1:8410"));
    int startChannel = 0;        ///< lineup number tuned first; 0 = the first channel
    qint64 fixedNow = 0;         ///< pinned guide clock (UTC seconds); 0 = real time
    QUrl controlServer;          ///< ws://host:8420/box; empty = no control link
    QUrl dvrServer;              ///< diver, http://host:8430; empty = no recordings
    QString serial;              ///< empty = derived from the machine id
    QStringList trustKeys;       ///< public keys (files) release payloads must be signed with
    int healthCheckMs = 20000;   ///< a payload on trial must show frames within this to be kept
    std::function<void()> restart; ///< how the app restarts (default: start itself again, quit)
};

class HubrisApp : public QObject
{
    Q_OBJECT
public:
    explicit HubrisApp(HubrisOptions options, QObject *parent = nullptr);
    ~HubrisApp() override;

    /// Registers the native singletons (once per process), loads the QML, starts the guide.
    /// False when the QML cannot be loaded.
    bool start();

    QQuickWindow *window() const;
    iptv::hal::Hal *hal() const { return m_hal.get(); }
    iptv::hubris::GuideStore *store() const { return m_store.get(); }
    iptv::hubris::ChannelListModel *channels() const { return m_channels.get(); }
    iptv::hubris::Zapper *zapper() const { return m_zapper.get(); }
    iptv::hubris::ChannelNumberEntry *numberEntry() const { return m_numberEntry.get(); }
    iptv::hubris::ControlLink *link() const { return m_link.get(); }
    iptv::hubris::SearchModel *search() const { return m_search.get(); }
    iptv::hubris::Reminders *reminders() const { return m_reminders.get(); }
    iptv::hubris::DvrClient *dvr() const { return m_dvr.get(); }
    iptv::hubris::DvrPlayback *playback() const { return m_playback.get(); }
    iptv::boxlink::UpdateInstaller *installer() const { return m_installer.get(); }
    iptv::hubris::BoxSettings *settings() const { return m_settings.get(); }
    iptv::hubris::ParentalControl *parental() const { return m_parental.get(); }
    iptv::hubris::ChannelFilterModel *gridChannels() const { return m_gridChannels.get(); }
    iptv::hubris::UpdateProgress *updates() const { return m_updates.get(); }
    iptv::hubris::Diagnostics *diagnostics() const { return m_diagnostics.get(); }
    iptv::hubris::OfflineStatus *offline() const { return m_offline.get(); }
    /// Where the running QML came from: a payload slot's folder, or "" for the built-in one.
    QString payloadSlot() const { return m_slot; }

Q_SIGNALS:
    /// A payload was committed after its health check, or rolled back (the app restarts then).
    void payloadCommitted(const QString &version);
    void payloadRolledBack(const QString &reason);

private:
    void restart();
    void watchHealth();
    /// Shell.started once the first live picture is painted (or a few seconds without one).
    void watchStart();
    QUrl guideServer() const;

private:
    HubrisOptions m_options;
    std::unique_ptr<iptv::hubris::BoxSettings> m_settings;
    std::unique_ptr<iptv::hal::Hal> m_hal;
    std::unique_ptr<iptv::hubris::GuideStore> m_store;
    std::unique_ptr<iptv::hubris::ChannelListModel> m_channels;
    std::unique_ptr<iptv::hubris::GuideGrid> m_grid;
    std::unique_ptr<iptv::hubris::Zapper> m_zapper;
    std::unique_ptr<iptv::hubris::ChannelNumberEntry> m_numberEntry;
    std::unique_ptr<iptv::hubris::RemoteKeys> m_remote;
    std::unique_ptr<iptv::hubris::SearchModel> m_search;
    std::unique_ptr<iptv::hubris::Reminders> m_reminders;
    std::unique_ptr<iptv::hubris::ParentalControl> m_parental;
    std::unique_ptr<iptv::hubris::ChannelFilterModel> m_gridChannels;
    std::unique_ptr<iptv::hubris::UpdateProgress> m_updates;
    std::unique_ptr<iptv::hubris::Diagnostics> m_diagnostics;
    std::unique_ptr<iptv::hubris::DvrClient> m_dvr;
    std::unique_ptr<iptv::hubris::DvrPlayback> m_playback;
    std::unique_ptr<Shell> m_shell;
    std::unique_ptr<iptv::hubris::ControlLink> m_link;
    std::unique_ptr<iptv::boxlink::UpdateInstaller> m_installer;
    std::unique_ptr<iptv::hubris::OfflineStatus> m_offline;
    QString m_slot;        ///< the payload slot the QML came from ("" = built in)
    int m_framesShown = 0; ///< for the health check of a payload on trial
    std::unique_ptr<QQmlApplicationEngine> m_engine;
};
