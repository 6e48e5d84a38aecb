// iptvnext: the EPG daemon. Everything but argument handling lives in iptvnext_lib.

#include "config.h"
#include "server.h"

#include <core/service.h>
#include <core/subcommand.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QLoggingCategory>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("iptvnext"));
    QCoreApplication::setOrganizationName(QStringLiteral("iptv"));
    QCoreApplication::setApplicationVersion(QStringLiteral(IPTVNEXT_VERSION));

    // Per-request and per-connection logs are debug; operators turn them on with QT_LOGGING_RULES.
    if (qEnvironmentVariableIsEmpty("QT_LOGGING_RULES"))
        QLoggingCategory::setFilterRules(QStringLiteral("iptv.*.debug=false"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "EPG server: ingests XMLTV and M3U lineups, compiles the compact box guide, serves it over HTTP."));
    parser.addHelpOption();
    parser.addVersionOption();
    iptv::next::addCommandLineOptions(&parser);
    iptv::cli::processCommandLine(parser, QCoreApplication::arguments());

    iptv::next::ServerConfig config;
    QString error;
    if (!iptv::next::loadConfig(parser, &config, &error)) {
        qCritical("iptvnext: %s", qPrintable(error));
        return 2;
    }

    iptv::next::IptvNextServer server(config);
    // SIGTERM/SIGINT: stop cleanly (abort the refresh, close the store) and exit 0; SIGHUP: refresh.
    auto *signals = iptv::quitOnTermination([&server] { server.stop(); });
    QObject::connect(signals, &iptv::SignalWatcher::reloadRequested, &server,
                     [&server] { server.requestRefresh(QStringLiteral("signal")); });
    if (!server.start(&error)) {
        qCritical("iptvnext: %s", qPrintable(error));
        return 1;
    }
    return app.exec();
}
