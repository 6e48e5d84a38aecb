// recast: the headend. Everything but argument handling lives in recast_lib.

#include "config.h"
#include "server.h"

#include <core/service.h>
#include <core/subcommand.h>
#include <media/ffmpeg.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QLoggingCategory>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("recast"));
    QCoreApplication::setOrganizationName(QStringLiteral("iptv"));
    QCoreApplication::setApplicationVersion(QStringLiteral(RECAST_VERSION));
    if (qEnvironmentVariableIsEmpty("QT_LOGGING_RULES"))
        QLoggingCategory::setFilterRules(QStringLiteral("iptv.*.debug=false"));
    iptv::media::installFfmpegLogHandler();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Live channels from cameras, streams, files and test patterns, as HLS (and LL-HLS) and MPEG-TS."));
    parser.addHelpOption();
    parser.addVersionOption();
    iptv::recast::addCommandLineOptions(&parser);
    iptv::cli::processCommandLine(parser, QCoreApplication::arguments());

    iptv::recast::ServerConfig config;
    QString error;
    if (!iptv::recast::loadConfig(parser, &config, &error)) {
        qCritical("recast: %s", qPrintable(error));
        return 2;
    }
    iptv::recast::RecastServer server(config);
    // SIGTERM/SIGINT: finish every channel's segments in progress, then exit 0.
    iptv::quitOnTermination([&server] { server.stop(); });
    if (!server.start(&error)) {
        qCritical("recast: %s", qPrintable(error));
        return 1;
    }
    return app.exec();
}
