// Zap time and cold start through the real box app: HubrisApp (the HAL's player, the zapper, the
// QML) on a guide whose lineup points at recast's channels.
//
// Cold start: from the process's start (ZAP_LAUNCH_NS, the launcher's CLOCK_REALTIME in ns, else
// the kernel's start time of the process) to the first picture of the first channel handed to
// the video sink, and to the first frame painted after it.
// Zaps: N channel-up key presses as a viewer makes them, each from the key event to the first
// picture of the new channel (the player stamps each stream with its play()'s generation, so a
// picture of the channel left behind never counts), with the parts: tune (key to play()),
// connected, opened (TS header), first keyframe, first decoded, shown (handed to the sink), and
// painted (the first frame the window swapped after the picture reached the sink).
//   bench_zap GUIDE [ZAPS] [SETTLE_MS]        (ZAP_SCREENSHOT=file.png: the window after the first picture;
//                                             ZAP_FIRST_BOOT=1: no last channel in the settings)
#include <hubrisapp.h>

#include <QDir>
#include <QFile>
#include <QGuiApplication>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <sys/resource.h>
#include <unistd.h>

namespace {

qint64 steadyNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Nanoseconds since this process started, on the realtime clock.
qint64 sinceLaunchNs()
{
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const qint64 nowNs = qint64(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
    const qint64 launched = qEnvironmentVariable("ZAP_LAUNCH_NS").toLongLong();
    if (launched > 0)
        return nowNs - launched;
    // The kernel's start time, in clock ticks after boot (10 ms resolution).
    QFile stat(QStringLiteral("/proc/self/stat"));
    timespec boot{};
    clock_gettime(CLOCK_BOOTTIME, &boot);
    if (!stat.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray text = stat.readAll();
    const QList<QByteArray> fields = text.mid(text.lastIndexOf(')') + 2).split(' ');
    if (fields.size() < 20)
        return -1;
    const qint64 startNs = fields[19].toLongLong() * 1'000'000'000 / sysconf(_SC_CLK_TCK);
    return qint64(boot.tv_sec) * 1'000'000'000 + boot.tv_nsec - startNs;
}

/// CPU time of the whole process so far (all threads: the GUI thread, llvmpipe's, the decoders),
/// user + system, in ms: comparable between runs on a loaded machine, where wall time is not.
double cpuMs()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

/// When the window synchronised and swapped (render thread), to find the first frame painted
/// after a picture reached the sink.
class PaintLog
{
public:
    /// The log must outlive the window: the render thread calls it until the window is gone.
    void attach(QQuickWindow *window)
    {
        QObject::connect(window, &QQuickWindow::beforeSynchronizing, window, [this] { add(m_syncs); }, Qt::DirectConnection);
        QObject::connect(window, &QQuickWindow::frameSwapped, window, [this] { add(m_swaps); }, Qt::DirectConnection);
    }
    /// The first swap that followed a sync started after `ns` (-1: none yet).
    qint64 paintedAfter(qint64 ns) const
    {
        std::lock_guard lock(m_mutex);
        const auto sync = std::find_if(m_syncs.begin(), m_syncs.end(), [ns](qint64 t) { return t > ns; });
        if (sync == m_syncs.end())
            return -1;
        const auto swap = std::find_if(m_swaps.begin(), m_swaps.end(), [s = *sync](qint64 t) { return t > s; });
        return swap == m_swaps.end() ? -1 : *swap;
    }
    /// Frames swapped so far (not reset by clear()).
    int swapCount() const
    {
        std::lock_guard lock(m_mutex);
        return m_swapCount;
    }
    void clear()
    {
        std::lock_guard lock(m_mutex);
        m_syncs.clear();
        m_swaps.clear();
    }

private:
    void add(QList<qint64> &list)
    {
        std::lock_guard lock(m_mutex);
        list.append(steadyNs());
        m_swapCount += &list == &m_swaps;
    }
    mutable std::mutex m_mutex;
    QList<qint64> m_syncs;
    QList<qint64> m_swaps;
    int m_swapCount = 0;
};

/// Waits (running the event loop) until the window has painted after `ns`; -1 after 2 s.
qint64 waitPainted(const PaintLog &log, QQuickWindow *window, qint64 ns)
{
    const qint64 deadline = steadyNs() + 2'000'000'000;
    qint64 painted = -1;
    while ((painted = log.paintedAfter(ns)) < 0 && steadyNs() < deadline) {
        window->update();
        QTest::qWait(1);
    }
    return painted;
}

struct Series
{
    const char *name;
    QList<double> values;
    void add(double v) { values.append(v); }
    double pct(double p) const
    {
        if (values.isEmpty())
            return -1;
        QList<double> sorted = values;
        std::sort(sorted.begin(), sorted.end());
        return sorted[qMin(sorted.size() - 1, qMax(0, int(std::ceil(p * sorted.size())) - 1))];
    }
    void print() const
    {
        std::printf("  %-22s p50 %7.1f  p95 %7.1f  min %7.1f  max %7.1f ms\n", name, pct(0.5), pct(0.95),
                    values.isEmpty() ? -1.0 : *std::min_element(values.begin(), values.end()),
                    values.isEmpty() ? -1.0 : *std::max_element(values.begin(), values.end()));
    }
};

} // namespace

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 2) {
        std::fprintf(stderr, "usage: bench_zap GUIDE [ZAPS] [SETTLE_MS]\n");
        return 2;
    }
    const int zaps = args.size() > 2 ? args[2].toInt() : 100;
    const int settleMs = args.size() > 3 ? args[3].toInt() : 1000;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    PaintLog paints; // before the app: it outlives the window's render thread
    QTemporaryDir dir;
    // A box that has watched before: its settings remember the last channel (the guide's first),
    // which the app plays while its QML loads. ZAP_FIRST_BOOT=1: a box that never played (the
    // channel is tuned once the guide is open and the QML loaded).
    if (qEnvironmentVariableIntValue("ZAP_FIRST_BOOT") == 0) {
        QString error;
        const auto guide = iptv::epg::Guide::open(args[1], &error);
        if (!guide || guide->channelCount() == 0) {
            std::fprintf(stderr, "bench_zap: cannot read the guide %s: %s\n", qPrintable(args[1]), qPrintable(error));
            return 2;
        }
        iptv::hubris::BoxSettings(QDir(dir.path()).filePath(QStringLiteral("settings.json")))
            .setLastChannel(guide->channelId(0), guide->channelStreamUrl(0));
    }
    HubrisOptions options;
    options.simulator = true;
    options.dataDir = dir.path();
    options.guideFile = args[1];
    HubrisApp hubris(options);
    iptv::hal::Player *player = hubris.hal()->player();
    QSignalSpy firstFrames(player, &iptv::hal::Player::firstFrame);
    if (!hubris.start())
        return 3;
    QQuickWindow *window = hubris.window();
    paints.attach(window);

    // Cold start: the first channel is tuned as soon as the guide is loaded.
    if (firstFrames.isEmpty() && !firstFrames.wait(15000)) {
        std::fprintf(stderr, "bench_zap: the first channel shows no picture: %s\n", qPrintable(player->errorString()));
        return 1;
    }
    const qint64 coldShownNs = sinceLaunchNs();
    const qint64 shownAt = steadyNs();
    const qint64 painted = waitPainted(paints, window, shownAt);
    const qint64 coldPaintedNs = painted < 0 ? -1 : coldShownNs + (painted - shownAt);
    const double coldCpuMs = cpuMs();
    const iptv::hal::StartTiming first = player->startTiming();
    std::printf("cold start (process start to first live picture): shown %.0f ms, painted %.0f ms "
                "(play() at %.0f ms; the stream: connected %lld, opened %lld, keyframe %lld, decoded %lld, shown %lld ms "
                "after play); CPU until painted %.0f ms\n",
                coldShownNs / 1e6, coldPaintedNs / 1e6, coldShownNs / 1e6 - first.firstShownMs, first.connectedMs,
                first.openedMs, first.firstKeyframeMs, first.firstDecodedMs, first.firstShownMs, coldCpuMs);
    std::fflush(stdout);
    // To look at what the viewer saw: ZAP_SCREENSHOT=file.png.
    if (const QString shot = qEnvironmentVariable("ZAP_SCREENSHOT"); !shot.isEmpty())
        window->grabWindow().save(shot);

    window->requestActivate(); // keys go to the focused item of the active window
    if (!QTest::qWaitForWindowActive(window)) {
        std::fprintf(stderr, "bench_zap: the window did not become active\n");
        return 1;
    }
    Series tune{"tune (key to play)", {}}, connected{"connected", {}}, opened{"opened (TS header)", {}},
        keyframe{"first keyframe", {}}, decoded{"first decoded", {}}, shown{"key to shown (sink)", {}},
        onScreen{"key to painted", {}};
    int failures = 0;
    QStringList failureReasons;
    const double zapsCpuStart = cpuMs();
    const int zapsSwapStart = paints.swapCount();
    const qint64 zapsStartNs = steadyNs();
    for (int i = 0; i < zaps; ++i) {
        QTest::qWait(settleMs); // a viewer watches for a moment between presses
        firstFrames.clear();
        paints.clear();
        const QUrl before = player->source();
        const quint64 generation = player->startTiming().generation;
        const qint64 keyNs = steadyNs();
        QTest::keyClick(window, Qt::Key_PageUp);
        if (player->source() == before || player->startTiming().generation == generation) {
            ++failures;
            failureReasons << QStringLiteral("zap %1: the key tuned nothing").arg(i);
            continue;
        }
        // QTest::keyClick may run the event loop itself: the picture can be there already.
        if (firstFrames.isEmpty() && !firstFrames.wait(5000)) {
            // Where it got to: the parts reached so far (-1: not reached), and what the player said.
            const iptv::hal::StartTiming t = player->startTiming();
            ++failures;
            failureReasons << QStringLiteral("zap %1 (%2): no picture within 5 s; connected %3, opened %4, keyframe %5, "
                                             "decoded %6 ms; %7")
                                  .arg(i).arg(player->source().toString()).arg(t.connectedMs).arg(t.openedMs)
                                  .arg(t.firstKeyframeMs).arg(t.firstDecodedMs).arg(player->errorString());
            continue;
        }
        const iptv::hal::StartTiming t = player->startTiming();
        const double tuneMs = (t.requestedAtNs - keyNs) / 1e6;
        const qint64 shownNs = t.requestedAtNs + t.firstShownMs * 1'000'000;
        tune.add(tuneMs);
        connected.add(t.connectedMs);
        opened.add(t.openedMs);
        keyframe.add(t.firstKeyframeMs);
        decoded.add(t.firstDecodedMs);
        shown.add(tuneMs + t.firstShownMs);
        const qint64 paintedNs = waitPainted(paints, window, steadyNs() > shownNs ? shownNs : steadyNs());
        if (paintedNs > 0)
            onScreen.add((paintedNs - keyNs) / 1e6);
    }
    const int frames = paints.swapCount() - zapsSwapStart;
    const double seconds = (steadyNs() - zapsStartNs) / 1e9;
    std::printf("zaps %d, failed %d, settle %d ms between keys\n", zaps, failures, settleMs);
    if (frames > 0)
        std::printf("  frames painted %d (%.1f a second); process CPU %.1f ms a frame (all threads, decoding included)\n",
                    frames, frames / seconds, (cpuMs() - zapsCpuStart) / frames);
    for (const Series *s : {&shown, &onScreen, &tune, &connected, &opened, &keyframe, &decoded})
        s->print();
    for (const QString &r : std::as_const(failureReasons))
        std::printf("  failed: %s\n", qPrintable(r));
    return failures ? 1 : 0;
}
