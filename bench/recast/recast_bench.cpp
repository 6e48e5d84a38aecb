// recast_bench: one ReCast channel over a file, as fast as possible (pace=false, loop=false), until
// the file ends; prints the frames and the wall-clock and CPU time it took as JSON. The ladder's
// throughput side of bench/recast/ladder.sh, where the ffmpeg program does the same work.
//
//   recast_bench --input in.ts --ladder 1080p:1920x1080@5000,720p:1280x720@2800 --out DIR

#include <pipeline.h>

#include <media/ffmpeg.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>

#include <condition_variable>
#include <cstdio>
#include <mutex>

#include <sys/resource.h>

using namespace iptv::recast;

namespace {

double cpuSeconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void fail(const QString &what)
{
    std::fprintf(stderr, "recast_bench: %s\n", qPrintable(what));
    std::exit(2);
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    if (qEnvironmentVariableIsEmpty("QT_LOGGING_RULES"))
        QLoggingCategory::setFilterRules(QStringLiteral("iptv.*.debug=false"));
    iptv::media::installFfmpegLogHandler();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("One ReCast channel over a file as fast as possible; JSON on stdout."));
    parser.addHelpOption();
    parser.addOptions({
        {QStringLiteral("input"), QStringLiteral("The source file."), QStringLiteral("file")},
        {QStringLiteral("ladder"), QStringLiteral("Renditions name:WxH@kbps, comma-separated, or \"copy\"."), QStringLiteral("ladder")},
        {QStringLiteral("out"), QStringLiteral("Output folder (emptied first)."), QStringLiteral("dir")},
        {QStringLiteral("preset"), QStringLiteral("x264 preset (default veryfast)."), QStringLiteral("preset"), QStringLiteral("veryfast")},
        {QStringLiteral("fps"), QStringLiteral("Frame rate (default 25)."), QStringLiteral("fps"), QStringLiteral("25")},
        {QStringLiteral("gop"), QStringLiteral("GOP seconds (default 1)."), QStringLiteral("s"), QStringLiteral("1")},
        {QStringLiteral("segment"), QStringLiteral("Segment seconds (default 2)."), QStringLiteral("s"), QStringLiteral("2")},
        {QStringLiteral("threads"), QStringLiteral("Threads per encoder/decoder (default 0: FFmpeg decides)."), QStringLiteral("n"), QStringLiteral("0")},
        {QStringLiteral("audio-kbps"), QStringLiteral("AAC bitrate (default 128)."), QStringLiteral("kbps"), QStringLiteral("128")},
    });
    parser.process(app);
    if (!parser.isSet(QStringLiteral("input")) || !parser.isSet(QStringLiteral("ladder")) || !parser.isSet(QStringLiteral("out")))
        fail(QStringLiteral("--input, --ladder and --out are required"));

    ChannelConfig c;
    c.id = QStringLiteral("bench");
    c.name = QStringLiteral("bench");
    c.source = QStringLiteral("file:") + QFileInfo(parser.value(QStringLiteral("input"))).absoluteFilePath();
    c.loop = false;
    c.pace = false;
    c.preset = parser.value(QStringLiteral("preset"));
    c.fps = parser.value(QStringLiteral("fps")).toInt();
    c.gopSeconds = parser.value(QStringLiteral("gop")).toDouble();
    c.segmentSeconds = parser.value(QStringLiteral("segment")).toDouble();
    c.threads = parser.value(QStringLiteral("threads")).toInt();
    c.audioKbps = parser.value(QStringLiteral("audio-kbps")).toInt();
    c.window = 6;
    const QString ladder = parser.value(QStringLiteral("ladder"));
    QString error;
    if (ladder == QLatin1String("copy")) {
        c.passthrough = true;
        c.ladder.clear();
    } else {
        c.ladder.clear();
        for (const QString &r : ladder.split(QLatin1Char(','))) {
            const auto rendition = Rendition::parse(r, &error);
            if (!rendition)
                fail(error);
            c.ladder.append(*rendition);
        }
    }
    if (!c.validate(&error))
        fail(error);

    const QString out = parser.value(QStringLiteral("out"));
    QDir(out).removeRecursively();

    std::mutex mutex;
    std::condition_variable cv;
    bool ended = false;
    QString lastReason;
    Pipeline::Callbacks callbacks;
    callbacks.sourceEnded = [&] {
        std::lock_guard lock(mutex);
        ended = true;
        cv.notify_all();
    };
    callbacks.stateChanged = [&](ChannelState state, const QString &reason) {
        std::lock_guard lock(mutex);
        if (state == ChannelState::Failed) {
            lastReason = reason;
            ended = true;
            cv.notify_all();
        }
    };

    Pipeline pipeline(c, out, callbacks);
    const double cpu0 = cpuSeconds();
    QElapsedTimer wall;
    wall.start();
    pipeline.start();
    {
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return ended; });
    }
    pipeline.stop();
    const double seconds = wall.nsecsElapsed() / 1e9;
    const double cpu = cpuSeconds() - cpu0;
    if (!lastReason.isEmpty())
        fail(QStringLiteral("the channel failed: ") + lastReason);

    const PipelineStats s = pipeline.stats();
    QJsonArray renditions;
    for (const Rendition &r : c.ladder)
        renditions.append(r.toString());
    const QJsonObject result{
        {QStringLiteral("input"), c.source},
        {QStringLiteral("ladder"), c.passthrough ? QJsonValue(QStringLiteral("copy")) : QJsonValue(renditions)},
        {QStringLiteral("preset"), c.preset},
        {QStringLiteral("framesIn"), qint64(s.framesIn)},
        {QStringLiteral("framesOut"), qint64(s.framesOut)},
        {QStringLiteral("framesDropped"), qint64(s.framesDropped)},
        {QStringLiteral("segments"), qint64(s.segments)},
        {QStringLiteral("wallSeconds"), seconds},
        {QStringLiteral("cpuSeconds"), cpu},
        {QStringLiteral("fps"), seconds > 0 ? double(s.framesOut) / seconds : 0.0},
    };
    std::fputs(QJsonDocument(result).toJson(QJsonDocument::Compact).constData(), stdout);
    std::fputc('\n', stdout);
    return 0;
}
