#include "hubrisapp.h"

#include <hal/desktophal.h>
#include <hal/linuxboxhal.h>

#include <QCoreApplication>
#include <QDir>
#include <QProcess>
#include <QQmlApplicationEngine>
#include <QQmlExtensionPlugin>
#include <QQuickWindow>
#include <QTimer>

Q_IMPORT_QML_PLUGIN(HubrisPlugin)

using namespace iptv;

HubrisApp::HubrisApp(HubrisOptions options, QObject *parent) : QObject(parent), m_options(std::move(options))
{
    // Qt Multimedia's FFmpeg backend shows a keyframe-first stream's first frame in ~20-110 ms;
    // the GStreamer backend fails (and crashes) on the same streams (PLATFORM-NOTES).
    if (qEnvironmentVariableIsEmpty("QT_MEDIA_BACKEND"))
        qputenv("QT_MEDIA_BACKEND", "ffmpeg");
    if (m_options.linuxBox)
        m_hal = std::make_unique<hal::LinuxBoxHal>();
    else
        m_hal = std::make_unique<hal::DesktopHal>();
    m_store = std::make_unique<hubris::GuideStore>(QDir(m_options.dataDir).filePath(QStringLiteral("guide")));
    if (m_options.fixedNow > 0)
        m_store->setFixedNow(m_options.fixedNow);
    m_channels = std::make_unique<hubris::ChannelListModel>(m_store.get());
    m_grid = std::make_unique<hubris::GuideGrid>(m_store.get());
    m_zapper = std::make_unique<hubris::Zapper>(m_channels.get(), m_hal->player());
    m_remote = std::make_unique<hubris::RemoteKeys>();
    m_search = std::make_unique<hubris::SearchModel>(m_store.get());
    if (m_options.controlServer.isValid()) {
        hubris::ControlLinkConfig link;
        link.serverUrl = m_options.controlServer;
        link.stateDir = QDir(m_options.dataDir).filePath(QStringLiteral("link"));
        link.serial = m_options.serial;
        link.softwareVersion = QCoreApplication::applicationVersion();
        m_link = std::make_unique<hubris::ControlLink>(link, m_hal.get(), m_zapper.get(), m_channels.get());
        m_link->setScreenshotProvider([this] { return window() ? window()->grabWindow() : QImage(); });
        // Reboot: the app starts itself again with the same arguments (a box's init would).
        connect(m_link.get(), &hubris::ControlLink::rebootRequested, this, [] {
            QProcess::startDetached(QCoreApplication::applicationFilePath(), QCoreApplication::arguments().mid(1));
            QCoreApplication::quit();
        });
        connect(m_link.get(), &hubris::ControlLink::factoryResetRequested, this, [this] {
            QDir(QDir(m_options.dataDir).filePath(QStringLiteral("guide"))).removeRecursively();
            Q_EMIT m_link->rebootRequested();
        });
    }
    m_shell = std::make_unique<Shell>();
    m_shell->simulator = m_options.simulator;
    m_shell->version = QCoreApplication::applicationVersion();
}

HubrisApp::~HubrisApp()
{
    m_engine.reset(); // QML first: it binds to everything below
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
    qmlRegisterSingletonInstance(uri, 1, 0, "Hal", m_hal.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "GuideStore", m_store.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Channels", m_channels.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "GuideGrid", m_grid.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Zapper", m_zapper.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Remote", m_remote.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Search", m_search.get());
    qmlRegisterSingletonInstance(uri, 1, 0, "Shell", m_shell.get());
    m_shell->linked = m_link != nullptr;
    if (m_link)
        qmlRegisterSingletonInstance(uri, 1, 0, "Link", m_link.get());

    // The first guide: tune as soon as it is there (a cached one at once, a downloaded one later).
    connect(m_store.get(), &hubris::GuideStore::guideChanged, this, [this] {
        if (m_zapper->current() >= 0 || m_channels->rowCount() == 0)
            return;
        const int row = m_options.startChannel > 0 ? m_channels->rowOfNumber(m_options.startChannel) : 0;
        m_zapper->tune(row >= 0 ? row : 0);
    });
    if (!m_options.guideFile.isEmpty()) {
        m_store->loadFile(m_options.guideFile);
    } else {
        m_store->loadCache();
        m_store->refresh(m_options.guideServer);
        auto *refresh = new QTimer(this);
        refresh->setInterval(15 * 60 * 1000);
        connect(refresh, &QTimer::timeout, this, [this] { m_store->refresh(m_options.guideServer); });
        refresh->start();
    }
    auto *minute = new QTimer(this);
    minute->setInterval(30 * 1000);
    connect(minute, &QTimer::timeout, m_channels.get(), &hubris::ChannelListModel::tick);
    minute->start();

    m_engine = std::make_unique<QQmlApplicationEngine>();
    m_engine->load(QUrl(QStringLiteral("qrc:/Hubris/Main.qml")));
    if (!window())
        return false;
    if (m_link) {
        connect(m_link.get(), &hubris::ControlLink::messageReceived, window(), [this](const QString &text, int seconds) {
            QMetaObject::invokeMethod(window(), "showMessage", Q_ARG(QVariant, text), Q_ARG(QVariant, seconds));
        });
        m_link->start();
    }
    return true;
}
