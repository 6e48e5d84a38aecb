// fleetsim: see runner.h; this file only wires the runner to the application and stdio.

#include "runner.h"

#include <core/service.h>

#include <QCoreApplication>
#include <QLoggingCategory>

int main(int argc, char *argv[])
{
    // GLib's main loop rebuilds its poll set on every iteration, which with thousands of sockets
    // costs more than the boxes' own work; Qt's own UNIX dispatcher is much cheaper per socket.
    // Children inherit the setting.
    if (qEnvironmentVariableIsEmpty("QT_NO_GLIB"))
        qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("fleetsim"));
    QCoreApplication::setApplicationVersion(QStringLiteral(IPTV_VERSION));
    // Thousands of boxes would each log every reconnect; operators turn them on with QT_LOGGING_RULES.
    if (qEnvironmentVariableIsEmpty("QT_LOGGING_RULES"))
        QLoggingCategory::setFilterRules(QStringLiteral("iptv.*.debug=false\niptv.boxlink.warning=false"));

    iptv::fleetsim::RunOptions options;
    QString error, text;
    if (!iptv::fleetsim::parseArguments(QCoreApplication::arguments(), &options, &error, &text)) {
        if (!error.isEmpty()) {
            fprintf(stderr, "fleetsim: %s\n", qPrintable(error));
            return 2;
        }
        fputs(qPrintable(text), stdout);
        return 0;
    }
    if (options.child)
        return iptv::fleetsim::runChild(options);

    QTextStream out(stdout);
    QTextStream err(stderr);
    iptv::fleetsim::FleetRunner runner(options, out, err);
    QObject::connect(&runner, &iptv::fleetsim::FleetRunner::finished, &app, [](int code) { QCoreApplication::exit(code); });
    // Ctrl-C ends the run with its statistics (children first send their final counters).
    auto *signals = new iptv::SignalWatcher(&app);
    QObject::connect(signals, &iptv::SignalWatcher::terminationRequested, &runner, [&runner] { runner.finish(); });
    runner.start();
    return app.exec();
}
