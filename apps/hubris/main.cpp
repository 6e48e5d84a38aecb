// hubris: the set-top-box app. Builds the box's native side (HAL, guide store, models, zapper),
// exposes it to QML as singletons of module Hubris.Native, and loads the Hubris QML module.

#include "shell.h"

#include <hal/desktophal.h>
#include <hal/linuxboxhal.h>
#include <hubris/channellistmodel.h>
#include <hubris/guidegrid.h>
#include <hubris/guidestore.h>
#include <hubris/remotekeys.h>
#include <hubris/zapper.h>

#include <QCommandLineParser>
#include <QDir>
#include <QGuiApplication>
#include <QLoggingCategory>
#include <QQmlApplicationEngine>
#include <QQmlExtensionPlugin>
#include <QQuickWindow>
#include <QStandardPaths>
#include <QTimer>

Q_IMPORT_QML_PLUGIN(HubrisPlugin)

using namespace iptv;

int main(int argc, char *argv[])
{
    // Qt Multimedia's FFmpeg backend shows a keyframe-first stream's first frame in ~20-110 ms;
    // the GStreamer backend fails on the same streams (docs: PLATFORM-NOTES).
    if (qEnvironmentVariableIsEmpty("QT_MEDIA_BACKEND"))
        qputenv("QT_MEDIA_BACKEND", "ffmpeg");
    if (qEnvironmentVariableIsEmpty("QT_LOGGING_RULES"))
        QLoggingCategory::setFilterRules(QStringLiteral("iptv.*.debug=false"));
    QGuiApplication app(argc, argv);
    QGuiApplication::setApplicationName(QStringLiteral("hubris"));
    QGuiApplication::setOrganizationName(QStringLiteral("iptv"));
    QGuiApplication::setApplicationVersion(QStringLiteral(HUBRIS_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("The set-top-box app: live TV, the 14-day guide in memory, zapping."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOptions({
        {QStringLiteral("simulator"), QStringLiteral("A desktop window with an on-screen remote (default: fullscreen, as on a box).")},
        {QStringLiteral("guide-server"), QStringLiteral("iptvnext's URL (default http://127.0.0.1:8410)."), QStringLiteral("url"),
         QStringLiteral("http://127.0.0.1:8410")},
        {QStringLiteral("guide-file"), QStringLiteral("Open this compiled guide instead of downloading one."), QStringLiteral("file")},
        {QStringLiteral("data-dir"), QStringLiteral("The box's storage (guide cache, settings)."), QStringLiteral("dir")},
        {QStringLiteral("channel"), QStringLiteral("Tune this lineup number at start (default: the first channel)."), QStringLiteral("number")},
        {QStringLiteral("now"), QStringLiteral("Pin the guide's clock (UTC seconds), for demos of archived guides."), QStringLiteral("epoch")},
        {QStringLiteral("screenshot"), QStringLiteral("Save the window to this PNG after --quit-after and quit."), QStringLiteral("file")},
        {QStringLiteral("quit-after"), QStringLiteral("Quit after this many ms (tests, screenshots)."), QStringLiteral("ms")},
        {QStringLiteral("box"), QStringLiteral("Use the Linux box HAL (framebuffer blanking, front panel) instead of the desktop one.")},
    });
    parser.process(app);

    const QString dataDir = parser.isSet(QStringLiteral("data-dir"))
                                ? parser.value(QStringLiteral("data-dir"))
                                : QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    std::unique_ptr<hal::Hal> hardware;
    if (parser.isSet(QStringLiteral("box")))
        hardware = std::make_unique<hal::LinuxBoxHal>();
    else
        hardware = std::make_unique<hal::DesktopHal>();

    hubris::GuideStore store(QDir(dataDir).filePath(QStringLiteral("guide")));
    if (parser.isSet(QStringLiteral("now")))
        store.setFixedNow(parser.value(QStringLiteral("now")).toLongLong());
    hubris::ChannelListModel channels(&store);
    hubris::GuideGrid grid(&store);
    hubris::Zapper zapper(&channels, hardware->player());
    hubris::RemoteKeys remote;
    Shell shell;
    shell.simulator = parser.isSet(QStringLiteral("simulator"));
    shell.version = QStringLiteral(HUBRIS_VERSION);

    const char *uri = "Hubris.Native";
    qmlRegisterSingletonInstance(uri, 1, 0, "Hal", static_cast<hal::Hal *>(hardware.get()));
    qmlRegisterUncreatableType<hal::Player>(uri, 1, 0, "Player", QStringLiteral("the HAL's player"));
    qmlRegisterSingletonInstance(uri, 1, 0, "GuideStore", &store);
    qmlRegisterSingletonInstance(uri, 1, 0, "Channels", &channels);
    qmlRegisterSingletonInstance(uri, 1, 0, "GuideGrid", &grid);
    qmlRegisterSingletonInstance(uri, 1, 0, "Zapper", &zapper);
    qmlRegisterSingletonInstance(uri, 1, 0, "Remote", &remote);
    qmlRegisterUncreatableType<hubris::RemoteKeys>(uri, 1, 0, "RemoteKeys", QStringLiteral("actions only"));
    qmlRegisterSingletonInstance(uri, 1, 0, "Shell", &shell);

    // The first guide: tune as soon as it is there (a cached one at once, a downloaded one later).
    const int startNumber = parser.value(QStringLiteral("channel")).toInt();
    QObject::connect(&store, &hubris::GuideStore::guideChanged, &zapper, [&] {
        if (zapper.current() >= 0 || channels.rowCount() == 0)
            return;
        const int row = startNumber > 0 ? channels.rowOfNumber(startNumber) : 0;
        zapper.tune(row >= 0 ? row : 0);
    });
    if (parser.isSet(QStringLiteral("guide-file"))) {
        store.loadFile(parser.value(QStringLiteral("guide-file")));
    } else {
        store.loadCache();
        const QUrl server(parser.value(QStringLiteral("guide-server")));
        store.refresh(server);
        auto *refresh = new QTimer(&app);
        refresh->setInterval(15 * 60 * 1000);
        QObject::connect(refresh, &QTimer::timeout, &store, [&store, server] { store.refresh(server); });
        refresh->start();
    }
    auto *minute = new QTimer(&app);
    minute->setInterval(30 * 1000);
    QObject::connect(minute, &QTimer::timeout, &channels, &hubris::ChannelListModel::tick);
    minute->start();

    QQmlApplicationEngine engine;
    QObject::connect(&engine, &QQmlApplicationEngine::objectCreationFailed, &app, [] { QCoreApplication::exit(3); },
                     Qt::QueuedConnection);
    engine.load(QUrl(QStringLiteral("qrc:/Hubris/Main.qml")));
    if (engine.rootObjects().isEmpty())
        return 3;
    auto *window = qobject_cast<QQuickWindow *>(engine.rootObjects().first());
    if (window && !shell.simulator)
        window->showFullScreen();

    if (parser.isSet(QStringLiteral("quit-after"))) {
        const QString shot = parser.value(QStringLiteral("screenshot"));
        QTimer::singleShot(parser.value(QStringLiteral("quit-after")).toInt(), &app, [window, shot] {
            if (window && !shot.isEmpty() && !window->grabWindow().save(shot))
                qWarning("hubris: cannot save the screenshot %s", qPrintable(shot));
            QCoreApplication::quit();
        });
    }
    return app.exec();
}
