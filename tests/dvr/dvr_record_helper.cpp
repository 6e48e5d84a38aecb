// Records one source into a folder until killed: the recorder process that tst_recorder kills
// with SIGKILL to check that a crash loses at most the segment in progress.
//   dvr_record_helper <source URL> <folder> <segment seconds> [read timeout ms]
// Prints "segment <sequence>" for every segment written.

#include <dvr/recorder.h>

#include <QCoreApplication>
#include <QTextStream>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() != 4 && args.size() != 5) {
        QTextStream(stderr) << "usage: dvr_record_helper <source> <folder> <segment seconds> [read timeout ms]\n";
        return 2;
    }
    iptv::dvr::RecorderSettings settings;
    settings.source = args[1];
    settings.directory = args[2];
    settings.segmentSeconds = args[3].toDouble();
    settings.readTimeoutMs = args.size() == 5 ? args[4].toInt() : 2000;
    iptv::dvr::Recorder recorder;
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
