// Zap time through the real box app: HubrisApp (the HAL's Qt Multimedia player, the zapper, the
// QML) on a guide whose lineup points at recast's channels; N channel-up presses as a viewer
// makes them, each measured from the key to the first frame of the new channel.
//   bench_zap GUIDE [ZAPS] [SETTLE_MS]
#include <hubrisapp.h>

#include <QGuiApplication>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cstdio>

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 2) {
        std::fprintf(stderr, "usage: bench_zap GUIDE [ZAPS] [SETTLE_MS]\n");
        return 2;
    }
    const int zaps = args.size() > 2 ? args[2].toInt() : 100;
    const int settleMs = args.size() > 3 ? args[3].toInt() : 300;
    QTemporaryDir dir;
    HubrisOptions options;
    options.simulator = true;
    options.dataDir = dir.path();
    options.guideFile = args[1];
    HubrisApp hubris(options);
    if (!hubris.start())
        return 3;
    QQuickWindow *window = hubris.window();
    window->requestActivate(); // keys go to the focused item of the active window
    if (!QTest::qWaitForWindowActive(window)) {
        std::fprintf(stderr, "bench_zap: the window did not become active\n");
        return 1;
    }
    QSignalSpy measured(hubris.zapper(), &iptv::hubris::Zapper::zapMeasured);
    if (!measured.wait(10000)) { // the first channel, tuned at start
        std::fprintf(stderr, "bench_zap: the first channel shows no picture\n");
        return 1;
    }
    QList<qint64> times;
    int failures = 0;
    for (int i = 0; i < zaps; ++i) {
        QTest::qWait(settleMs); // a viewer watches for a moment between presses
        measured.clear();
        QTest::keyClick(window, Qt::Key_PageUp);
        if (!measured.wait(5000)) {
            ++failures;
            continue;
        }
        times.append(measured.first().first().toLongLong());
    }
    std::sort(times.begin(), times.end());
    auto pct = [&times](double p) { return times.isEmpty() ? -1 : times[qMin(times.size() - 1, int(p * times.size()))]; };
    std::printf("zaps %d, failed %d, key to first frame: p50 %lld ms, p95 %lld ms, min %lld ms, max %lld ms\n", zaps,
                failures, pct(0.5), pct(0.95), times.isEmpty() ? -1 : times.first(), times.isEmpty() ? -1 : times.last());
    return failures ? 1 : 0;
}
