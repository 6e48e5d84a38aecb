// diver: the network DVR. Everything but argument handling lives in diver_lib.

#include "config.h"
#include "diverserver.h"

#include <core/service.h>
#include <core/subcommand.h>
#include <dvr/recorder.h>
#include <media/ffmpeg.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QLoggingCategory>
#include <QStorageInfo>
#include <QThread>
#include <QTimer>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("diver"));
    QCoreApplication::setOrganizationName(QStringLiteral("iptv"));
    QCoreApplication::setApplicationVersion(QStringLiteral(DIVER_VERSION));
    if (qEnvironmentVariableIsEmpty("QT_LOGGING_RULES"))
        QLoggingCategory::setFilterRules(QStringLiteral("iptv.*.debug=false"));
    iptv::media::installFfmpegLogHandler();
    iptv::dvr::Recorder::limitAllocatorRetention();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Network DVR: viewers' recording rules, the schedule and its conflicts, recordings, timeshift and catch-up."));
    parser.addHelpOption();
    parser.addVersionOption();
    iptv::diver::addCommandLineOptions(&parser);
    iptv::cli::processCommandLine(parser, QCoreApplication::arguments());

    iptv::diver::DiverConfig config;
    QString error;
    if (!iptv::diver::loadConfig(parser, &config, &error)) {
        qCritical("diver: %s", qPrintable(error));
        return 2;
    }
    iptv::diver::DiverServer server(config);
    // A test hook (tst_divernodes): with DIVER_TEST_STALL_FILE set, a recorder's writer thread
    // stalls inside a segment's write (its free-space probe, with [storage] min_free_mb above 0)
    // for the milliseconds written to that file once it appears (it is removed first): a writer
    // stalled in a write (a hung NFS write) while another node takes its copy over.
    if (const QString stallFile = qEnvironmentVariable("DIVER_TEST_STALL_FILE"); !stallFile.isEmpty()) {
        server.setRecorderHook([stallFile](iptv::dvr::Recorder &recorder) {
            recorder.setFreeSpace([stallFile](const QString &path) {
                QFile f(stallFile);
                if (f.open(QIODevice::ReadOnly)) {
                    const int ms = f.readAll().trimmed().toInt();
                    f.remove();
                    qWarning("diver: test hook: a segment's write stalls for %d ms", ms);
                    QThread::msleep(ulong(qMax(0, ms)));
                    qWarning("diver: test hook: the segment's write goes on");
                }
                return QStorageInfo(path).bytesAvailable();
            });
        });
    }
    // SIGTERM/SIGINT: every recorder writes its segment in progress; recordings still due resume
    // on the next start.
    iptv::quitOnTermination([&server] { server.stop(); });
    if (!server.start(&error)) {
        qCritical("diver: %s", qPrintable(error));
        return 1;
    }
    // A test hook (tst_divernodes): with DIVER_TEST_BLOCK_FILE set, the event loop blocks for
    // the milliseconds written to that file once it appears (it is removed first): a node whose
    // event loop hangs while its recorders' threads and its database session live on.
    const QString blockFile = qEnvironmentVariable("DIVER_TEST_BLOCK_FILE");
    QTimer blockWatch;
    if (!blockFile.isEmpty()) {
        QObject::connect(&blockWatch, &QTimer::timeout, [blockFile] {
            QFile f(blockFile);
            if (!f.open(QIODevice::ReadOnly))
                return;
            const int ms = f.readAll().trimmed().toInt();
            f.remove();
            qWarning("diver: test hook: the event loop blocks for %d ms", ms);
            QThread::msleep(ulong(qMax(0, ms)));
            qWarning("diver: test hook: the event loop runs again");
        });
        blockWatch.start(50);
    }
    return app.exec();
}
