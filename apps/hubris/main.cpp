// hubris: the set-top-box app. Parses the command line and runs HubrisApp.

#include "hubrisapp.h"

#include <QCommandLineParser>
#include <QGuiApplication>
#include <QLoggingCategory>
#include <QQuickWindow>
#include <QStandardPaths>
#include <QTimer>

int main(int argc, char *argv[])
{
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
        {QStringLiteral("screenshot"), QStringLiteral("Save the window to this PNG at --quit-after, then quit."), QStringLiteral("file")},
        {QStringLiteral("quit-after"), QStringLiteral("Quit after this many ms (tests, screenshots)."), QStringLiteral("ms")},
        {QStringLiteral("box"), QStringLiteral("Use the Linux box HAL (framebuffer blanking, front panel) instead of the desktop one.")},
        {QStringLiteral("control-server"), QStringLiteral("The control server's box endpoint, e.g. ws://127.0.0.1:8420/box (default: no control link)."), QStringLiteral("url")},
        {QStringLiteral("dvr-server"), QStringLiteral("diver's URL, e.g. http://127.0.0.1:8430: recordings, timeshift and catch-up (needs --control-server for the box's ticket)."), QStringLiteral("url")},
        {QStringLiteral("serial"), QStringLiteral("The box's serial (default: from the machine id)."), QStringLiteral("serial")},
        {QStringLiteral("trust-key"), QStringLiteral("A public key release payloads must be signed with; repeat for several (default: updates refused)."), QStringLiteral("file")},
    });
    parser.process(app);

    HubrisOptions options;
    options.simulator = parser.isSet(QStringLiteral("simulator"));
    options.linuxBox = parser.isSet(QStringLiteral("box"));
    options.dataDir = parser.isSet(QStringLiteral("data-dir")) ? parser.value(QStringLiteral("data-dir"))
                                                               : QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    options.guideFile = parser.value(QStringLiteral("guide-file"));
    options.guideServer = QUrl(parser.value(QStringLiteral("guide-server")));
    options.startChannel = parser.value(QStringLiteral("channel")).toInt();
    options.fixedNow = parser.value(QStringLiteral("now")).toLongLong();
    if (parser.isSet(QStringLiteral("control-server")))
        options.controlServer = QUrl(parser.value(QStringLiteral("control-server")));
    if (parser.isSet(QStringLiteral("dvr-server")))
        options.dvrServer = QUrl(parser.value(QStringLiteral("dvr-server")));
    options.serial = parser.value(QStringLiteral("serial"));
    options.trustKeys = parser.values(QStringLiteral("trust-key"));
    iptv::hubris::ControlLink::installLogRing();

    HubrisApp hubris(options);
    if (!hubris.start()) {
        qCritical("hubris: the user interface could not be loaded");
        return 3;
    }
    QQuickWindow *window = hubris.window();
    if (!options.simulator)
        window->showFullScreen();
    if (parser.isSet(QStringLiteral("quit-after"))) {
        const QString shot = parser.value(QStringLiteral("screenshot"));
        QTimer::singleShot(parser.value(QStringLiteral("quit-after")).toInt(), &app, [window, shot] {
            if (!shot.isEmpty() && !window->grabWindow().save(shot))
                qWarning("hubris: cannot save the screenshot %s", qPrintable(shot));
            QCoreApplication::quit();
        });
    }
    return app.exec();
}
