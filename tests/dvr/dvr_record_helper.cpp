// Records one source into a folder until killed: the recorder process that tst_recorder kills
// with SIGKILL to check that a crash loses at most the segment in progress, and stops with
// SIGSTOP to be a writer stalled past a takeover.
//   dvr_record_helper <source URL> <folder> <segment seconds> [read timeout ms] [epoch]
// Prints "segment <sequence>" for every segment written. Exits 3 when the recorder stopped itself
// because the folder was taken over by a higher epoch (RecorderSettings::epoch).

#include <dvr/recorder.h>

#include <QCoreApplication>
#include <QTextStream>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 4 || args.size() > 6) {
        QTextStream(stderr) << "usage: dvr_record_helper <source> <folder> <segment seconds> [read timeout ms] [epoch]\n";
        return 2;
    }
    iptv::dvr::RecorderSettings settings;
    settings.source = args[1];
    settings.directory = args[2];
    settings.segmentSeconds = args[3].toDouble();
    settings.readTimeoutMs = args.size() >= 5 ? args[4].toInt() : 2000;
    settings.epoch = args.size() >= 6 ? args[5].toLongLong() : 0;
    iptv::dvr::Recorder recorder;
    QObject::connect(&recorder, &iptv::dvr::Recorder::stopped, [&recorder] {
        QTextStream(stdout) << (recorder.fenced() ? "fenced" : "stopped") << Qt::endl;
        QCoreApplication::exit(recorder.fenced() ? 3 : 0);
    });
    QObject::connect(&recorder, &iptv::dvr::Recorder::segmentWritten, [](const iptv::dvr::ArchiveSegment &s) {
        QTextStream out(stdout);
        out << "segment " << s.sequence << Qt::endl;
    });
    QString error;
    if (!recorder.start(settings, &error)) {
        QTextStream(stderr) << error << '\n';
        return 1;
    }
    return app.exec();
}
