#pragma once

// The box's control link (core module "link"): the control server's session through
// libs/boxlink, telemetry from the HAL and the zapper, and the operator's commands carried out on
// the box: show a message, tune, screenshot, logs, settings, reboot and factory reset.

#include "channellistmodel.h"
#include "diagnostics.h"
#include "zapper.h"

#include <boxlink/boxlink.h>
#include <boxlink/credentialstore.h>
#include <boxlink/updateinstaller.h>
#include <hal/hal.h>

#include <QElapsedTimer>
#include <QImage>
#include <QObject>
#include <QStringList>

#include <functional>
#include <memory>

namespace iptv::hubris {

struct ControlLinkConfig
{
    QUrl serverUrl;       ///< ws://host:8420/box
    QString stateDir;     ///< the box's secret and token (0600)
    QString serial;
    QString model = QStringLiteral("HUBRIS-SIM");
    QString softwareVersion;
};

class ControlLink : public QObject, private boxlink::TelemetrySource, private boxlink::CommandHandler
{
    Q_OBJECT
    Q_PROPERTY(bool online READ isOnline NOTIFY onlineChanged)
    Q_PROPERTY(QString boxId READ boxId NOTIFY onlineChanged)
    /// The last attempt to reach the control server failed (and none has succeeded since).
    Q_PROPERTY(bool unreachable READ isUnreachable NOTIFY onlineChanged)
    Q_PROPERTY(QString serial READ serial CONSTANT)
    Q_PROPERTY(QString server READ server CONSTANT)
public:
    ControlLink(ControlLinkConfig config, hal::Hal *hal, Zapper *zapper, ChannelListModel *channels, QObject *parent = nullptr);
    ~ControlLink() override;

    void start();
    bool isOnline() const;
    bool isUnreachable() const { return m_unreachable; }
    QString boxId() const;
    QString serial() const;
    QString server() const { return m_config.serverUrl.toString(); }
    /// Development builds: telemetry carries its frame times.
    void setDiagnostics(Diagnostics *diagnostics) { m_diagnostics = diagnostics; }
    boxlink::BoxLink *link() const { return m_link.get(); }
    boxlink::CredentialStore *credentials() const { return m_store.get(); }
    /// Runs InstallRelease commands (the bootstrap's installer); null: such commands are refused.
    void setInstaller(boxlink::UpdateInstaller *installer) { m_installer = installer; }
    /// What a screenshot command sends (the app grabs its window).
    void setScreenshotProvider(std::function<QImage()> provider) { m_screenshot = std::move(provider); }
    /// The serial of this machine when none is configured: stable across restarts.
    static QString defaultSerial();

    /// The last log lines of the process (the message handler keeps them), for CollectLogs.
    static void installLogRing(int lines = 2000);
    static QStringList recentLogs(int lines);

Q_SIGNALS:
    void onlineChanged();
    /// An operator's message, to be shown for `seconds` (0: until dismissed).
    void messageReceived(const QString &text, int seconds);
    /// Reboot: the app restarts itself; factory reset: its settings are gone first.
    void rebootRequested();
    void factoryResetRequested();

private:
    protocol::Telemetry sample() override;
    void execute(const protocol::Command &command, const boxlink::CommandReply &reply) override;

    ControlLinkConfig m_config;
    hal::Hal *m_hal;
    Zapper *m_zapper;
    ChannelListModel *m_channels;
    std::unique_ptr<boxlink::FileCredentialStore> m_store;
    std::unique_ptr<boxlink::BoxLink> m_link;
    std::function<QImage()> m_screenshot;
    boxlink::UpdateInstaller *m_installer = nullptr;
    Diagnostics *m_diagnostics = nullptr;
    bool m_unreachable = false;
    QList<int> m_zapsSinceSample;
    QList<protocol::ZapParts> m_zapPartsSinceSample; ///< with their painted frame, since the last sample
    int m_errorsSinceSample = 0;
    QElapsedTimer m_uptime;
    qint64 m_lastCpuTicks = -1;
    QElapsedTimer m_sinceCpu;
};

} // namespace iptv::hubris
