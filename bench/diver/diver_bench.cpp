// N recordings in one process, as a recorder node runs them: each a Recorder (its own thread)
// remuxing one channel into its own folder. After a warm-up, CPU (getrusage, all threads) is
// measured over a window, with the resident memory at its end; then every recorder is stopped and every recording checked: gaps,
// reconnects, segments that could not be written, and recorded time against the wall clock.
//
//   diver_bench --url 'http://127.0.0.1:18740/live/c%1.ts' --count 100 --dir /tmp/x --warmup 10 --seconds 60
//
// Prints one JSON object.

#include <dvr/archive.h>
#include <dvr/recorder.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include <malloc.h>
#include <sys/resource.h>

#include <memory>
#include <vector>

using namespace iptv::dvr;

/// A line of /proc/self/status in KiB ("VmRSS", "VmHWM"); 0 where there is none.
static qint64 statusKb(const char *field)
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    const QByteArray key = QByteArray(field) + ':';
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith(key))
            return line.mid(key.size()).trimmed().split(' ').value(0).toLongLong();
    }
    return 0;
}

static double cpuSeconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    Recorder::limitAllocatorRetention(); // as diver does
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOption({u"url"_qs, u"source URL; %1 is replaced by the channel number (001…)"_qs, u"url"_qs});
    parser.addOption({u"count"_qs, u"recordings"_qs, u"n"_qs, u"100"_qs});
    parser.addOption({u"dir"_qs, u"folder for the recordings"_qs, u"dir"_qs});
    parser.addOption({u"warmup"_qs, u"seconds before measuring"_qs, u"s"_qs, u"10"_qs});
    parser.addOption({u"seconds"_qs, u"seconds measured"_qs, u"s"_qs, u"60"_qs});
    parser.addOption({u"segment"_qs, u"segment seconds"_qs, u"s"_qs, u"6"_qs});
    parser.addOption({u"journal"_qs, u"seconds between journal entries of the segment in progress (0: none)"_qs, u"s"_qs, u"1"_qs});
    parser.addOption({u"hls-open-limit"_qs, u"recorders opening an HLS source at once (Recorder::setHlsOpenLimit; 0: its default)"_qs,
                      u"n"_qs, u"0"_qs});
    parser.process(app);
    if (const int limit = parser.value(u"hls-open-limit"_qs).toInt(); limit > 0)
        Recorder::setHlsOpenLimit(limit);
    const int count = parser.value(u"count"_qs).toInt();
    const int warmup = parser.value(u"warmup"_qs).toInt();
    const int seconds = parser.value(u"seconds"_qs).toInt();
    const QString dir = parser.value(u"dir"_qs);
    if (parser.value(u"url"_qs).isEmpty() || dir.isEmpty() || count <= 0) {
        parser.showHelp(2);
    }

    std::vector<std::unique_ptr<Recorder>> recorders;
    for (int i = 1; i <= count; ++i) {
        RecorderSettings s;
        s.source = parser.value(u"url"_qs).arg(i, 3, 10, QLatin1Char('0'));
        s.directory = QDir(dir).filePath(QStringLiteral("rec%1").arg(i, 3, 10, QLatin1Char('0')));
        s.segmentSeconds = parser.value(u"segment"_qs).toDouble();
        s.journalSeconds = parser.value(u"journal"_qs).toDouble();
        s.readTimeoutMs = 5000;
        auto r = std::make_unique<Recorder>();
        QString error;
        if (!r->start(s, &error)) {
            qCritical().noquote() << error;
            return 1;
        }
        recorders.push_back(std::move(r));
    }
    const qint64 startedMs = QDateTime::currentMSecsSinceEpoch();
    double cpuStart = 0, cpuEnd = 0;
    qint64 rssKb = 0;
    struct mallinfo2 heap = {};
    qint64 measureStartMs = 0, measureEndMs = 0;
    QTimer::singleShot(warmup * 1000, [&] {
        cpuStart = cpuSeconds();
        measureStartMs = QDateTime::currentMSecsSinceEpoch();
    });
    QTimer::singleShot((warmup + seconds) * 1000, [&] {
        cpuEnd = cpuSeconds();
        rssKb = statusKb("VmRSS");
        heap = mallinfo2();
        measureEndMs = QDateTime::currentMSecsSinceEpoch();
        app.quit();
    });
    app.exec();
    // Each recording's span ends when its recorder is told to stop (stopping them one after the
    // other takes a while: each writes and syncs its last segment).
    std::vector<qint64> stopAt;
    for (auto &r : recorders) {
        stopAt.push_back(QDateTime::currentMSecsSinceEpoch());
        r->stop(true);
    }
    const qint64 stoppedMs = QDateTime::currentMSecsSinceEpoch();

    quint64 segments = 0, lost = 0, gaps = 0, reconnects = 0, bytes = 0, gapSegments = 0, writerWaits = 0;
    quint64 playlistRequests = 0, sourceSegments = 0, sourceSkipped = 0, programDateChanges = 0;
    double maxLag = 0; // the most a recording's last segment ended before its stop (s): how far behind live it read
    qint64 slowestWriteMs = 0;
    quint64 maxOpenWaitMs = 0; // the longest a recorder waited for its turn to open an HLS source
    double minRecorded = 1e9, maxRecorded = 0, minCoverage = 1e9;
    int unreadable = 0;
    for (size_t i = 0; i < recorders.size(); ++i) {
        const auto &r = recorders[i];
        const Recorder::Stats st = r->stats();
        segments += st.segments;
        lost += st.segmentsLost;
        gaps += st.gaps;
        reconnects += st.reconnects;
        bytes += st.bytes;
        writerWaits += st.writerWaits;
        slowestWriteMs = qMax(slowestWriteMs, st.slowestWriteMs);
        playlistRequests += st.playlistRequests;
        sourceSegments += st.sourceSegments;
        sourceSkipped += st.sourceSegmentsSkipped;
        programDateChanges += st.programDateChanges;
        maxOpenWaitMs = qMax(maxOpenWaitMs, st.openWaitMs);
        ArchiveReader reader;
        QString error;
        if (!reader.load(r->directory(), &error)) {
            ++unreadable;
            continue;
        }
        double recorded = 0;
        for (const ArchiveSegment &s : reader.segments()) {
            recorded += s.durationMs / 1000.0;
            gapSegments += s.gap ? 1 : 0;
        }
        minRecorded = qMin(minRecorded, recorded);
        maxRecorded = qMax(maxRecorded, recorded);
        // The recording covers its wall-clock span (first segment start to stop) without holes.
        const double span = (stopAt[i] - reader.startMs()) / 1000.0;
        minCoverage = qMin(minCoverage, span > 0 ? recorded / span : 0);
        if (const QList<ArchiveSegment> all = reader.segments(); !all.isEmpty())
            maxLag = qMax(maxLag, (stopAt[i] - all.last().endMs()) / 1000.0);
    }
    const double window = (measureEndMs - measureStartMs) / 1000.0;
    QJsonObject out{
        {u"recordings"_qs, count},
        {u"cpu_seconds"_qs, cpuEnd - cpuStart},
        {u"window_seconds"_qs, window},
        {u"cpu_percent_of_core"_qs, 100.0 * (cpuEnd - cpuStart) / window},
        {u"cpu_percent_per_recording"_qs, 100.0 * (cpuEnd - cpuStart) / window / count},
        {u"rss_mb"_qs, rssKb / 1024.0},                  // resident at the end of the window
        {u"peak_rss_mb"_qs, statusKb("VmHWM") / 1024.0}, // the most resident at any time (after the stops too)
        // malloc's view then: in use (small and mapped) and held free (what fragmentation keeps resident)
        {u"heap_in_use_mb"_qs, (heap.uordblks + heap.hblkhd) / 1048576.0},
        {u"heap_free_mb"_qs, heap.fordblks / 1048576.0},
        {u"segments"_qs, qint64(segments)},
        {u"segments_lost"_qs, qint64(lost)},
        {u"gaps"_qs, qint64(gaps)},
        {u"gap_segments"_qs, qint64(gapSegments)},
        {u"reconnects"_qs, qint64(reconnects)},
        {u"unreadable_indexes"_qs, unreadable},
        {u"writer_waits"_qs, qint64(writerWaits)},
        {u"slowest_write_ms"_qs, slowestWriteMs},
        {u"mbit_per_s_total"_qs, bytes * 8 / 1e6 / ((stopAt.back() - startedMs) / 1000.0)},
        {u"stop_seconds"_qs, (stoppedMs - stopAt.front()) / 1000.0},
        {u"min_recorded_seconds"_qs, minRecorded},
        {u"max_recorded_seconds"_qs, maxRecorded},
        {u"min_coverage"_qs, minCoverage},
        {u"max_lag_seconds"_qs, maxLag},
        // An HLS source (0 for MPEG-TS): what the demuxers fetched, and the segments they skipped
        // because the playlist had moved on without them.
        {u"playlist_requests"_qs, qint64(playlistRequests)},
        {u"source_segments"_qs, qint64(sourceSegments)},
        {u"source_segments_skipped"_qs, qint64(sourceSkipped)},
        {u"program_date_changes"_qs, qint64(programDateChanges)},
        {u"max_open_wait_ms"_qs, qint64(maxOpenWaitMs)}, // Recorder::setHlsOpenLimit(): turns taken to open
    };
    QTextStream(stdout) << QJsonDocument(out).toJson(QJsonDocument::Compact) << '\n';
    return 0;
}
