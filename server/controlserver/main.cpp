// controlserver: the fleet hub. Everything but argument handling lives in controlserver_lib.

#include "app/controlserver.h"
#include "cluster/cluster.h"
#include "domain/config.h"
#include "releases/releaseservice.h"

#include <core/service.h>
#include <core/subcommand.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QLoggingCategory>

int main(int argc, char *argv[])
{
    // The glib event dispatcher keeps socket notifiers in lists (removing one is linear): with
    // tens of thousands of box sockets it dominates the profile. Qt's own poll dispatcher does not.
    if (qEnvironmentVariableIsEmpty("QT_NO_GLIB"))
        qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("controlserver"));
    QCoreApplication::setOrganizationName(QStringLiteral("iptv"));
    QCoreApplication::setApplicationVersion(QStringLiteral(CONTROLSERVER_VERSION));

    // Per-session and per-request logs are debug; operators turn them on with QT_LOGGING_RULES.
    if (qEnvironmentVariableIsEmpty("QT_LOGGING_RULES"))
        QLoggingCategory::setFilterRules(QStringLiteral("iptv.*.debug=false"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Fleet hub: box sessions (WS 8420 /box), telemetry, commands, operators (HTTP 8421, WS 8422)."));
    parser.addHelpOption();
    parser.addVersionOption();
    iptv::control::addCommandLineOptions(&parser);
    iptv::control::addClusterOptions(&parser);
    iptv::control::addReleaseCommandLineOptions(&parser);
    iptv::cli::processCommandLine(parser, QCoreApplication::arguments());

    iptv::control::ControlConfig config;
    QString error;
    if (!iptv::control::loadConfig(parser, &config, &error)) {
        qCritical("controlserver: %s", qPrintable(error));
        return 2;
    }
    iptv::control::ClusterConfig cluster;
    if (!iptv::control::loadClusterConfig(parser, &cluster, &error)) {
        qCritical("controlserver: %s", qPrintable(error));
        return 2;
    }

    iptv::control::ReleaseConfig releases;
    if (!iptv::control::loadReleaseConfig(parser, config, &releases, &error)) {
        qCritical("controlserver: %s", qPrintable(error));
        return 2;
    }

    iptv::control::ControlServer server(config);
    server.releases()->setConfig(releases);
    // SIGTERM/SIGINT: close sessions (going away), flush queued writes, close the store, exit 0.
    iptv::quitOnTermination([&server] { server.stop(); });
    if (!server.start(&error) || !iptv::control::joinCluster(&server, cluster, &error)) {
        qCritical("controlserver: %s", qPrintable(error));
        return 1;
    }
    return app.exec();
}
