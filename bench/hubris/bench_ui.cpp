// The box UI as a viewer uses it, measured through the real app (HubrisApp: the QML, the guide in
// memory, the models) with key events into its window, against issue 13's targets:
//   - guide open (Guide key) to the first grid frame painted;
//   - key to visual response (the focus move painted): the grid, the channel list, the menu;
//   - the grid scrolled page by page, programme by programme and day by day, each key sent as
//     soon as the previous frame is on screen: frame time (frameSwapped to frameSwapped), and the
//     scene graph's sync and render time per frame;
//   - search as you type: the SearchModel's update per keystroke;
//   - resident memory (VmRSS) with the guide loaded and the grid open.
// A key "is painted" by the first frame whose scene-graph sync starts after the key was handled,
// so a frame already in flight when the key came does not count.
//   bench_ui GUIDE [ROUNDS]
// Environment: BENCH_UI_PHASES=open,keys,scroll,search picks parts; BENCH_UI_DEBUG=1 says which
// keys painted nothing, how many frames a key makes, and lists the largest resident mappings;
// BENCH_UI_SHOT=FILE.png saves the grid at its first open (and FILE-high-contrast.png in that theme).
#include <hubrisapp.h>

#include <epg/guide.h>

#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QGuiApplication>
#include <QKeyEvent>
#include <QMutex>
#include <QQuickWindow>
#include <QSGRendererInterface>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <cstdio>
#include <random>
#include <vector>

namespace {

QElapsedTimer s_clock; ///< every timestamp, in ns from the start
qint64 nowNs() { return s_clock.nsecsElapsed(); }

struct Frame
{
    qint64 animated = 0; ///< the GUI thread's frame start: animations advanced, polish next
    qint64 syncStart = 0, syncEnd = 0, renderStart = 0, renderEnd = 0, swapped = 0;
};

// The window's frames, as the render loop reports them (from the render thread when threaded).
class FrameLog : public QObject
{
public:
    explicit FrameLog(QQuickWindow *window) : m_window(window)
    {
        connect(window, &QQuickWindow::afterAnimating, this, [this] { QMutexLocker l(&m_lock); m_animated = nowNs(); }, Qt::DirectConnection);
        connect(window, &QQuickWindow::beforeSynchronizing, this, [this] {
            QMutexLocker l(&m_lock);
            m_current = {};
            m_current.animated = m_animated;
            m_current.syncStart = nowNs();
        }, Qt::DirectConnection);
        connect(window, &QQuickWindow::afterSynchronizing, this, [this] { QMutexLocker l(&m_lock); m_current.syncEnd = nowNs(); }, Qt::DirectConnection);
        connect(window, &QQuickWindow::beforeRendering, this, [this] { QMutexLocker l(&m_lock); m_current.renderStart = nowNs(); }, Qt::DirectConnection);
        connect(window, &QQuickWindow::afterRendering, this, [this] { QMutexLocker l(&m_lock); m_current.renderEnd = nowNs(); }, Qt::DirectConnection);
        connect(window, &QQuickWindow::frameSwapped, this, [this] {
            QMutexLocker l(&m_lock);
            m_current.swapped = nowNs();
            m_frames.push_back(m_current);
        }, Qt::DirectConnection);
        // Wakes wait loops on the GUI thread.
        connect(window, &QQuickWindow::frameSwapped, this, [this] { if (m_loop) m_loop->quit(); }, Qt::QueuedConnection);
    }

    std::vector<Frame> frames() const { QMutexLocker l(&m_lock); return m_frames; }
    size_t count() const { QMutexLocker l(&m_lock); return m_frames.size(); }
    qint64 lastSwap() const { QMutexLocker l(&m_lock); return m_frames.empty() ? 0 : m_frames.back().swapped; }

    /// The first frame whose sync started at or after `after` (ns), waited for up to `timeoutMs`.
    std::optional<Frame> frameAfter(qint64 after, int timeoutMs = 1000)
    {
        const qint64 deadline = nowNs() + qint64(timeoutMs) * 1000000;
        for (;;) {
            {
                QMutexLocker l(&m_lock);
                std::optional<Frame> first;
                for (auto it = m_frames.rbegin(); it != m_frames.rend() && it->syncStart >= after; ++it)
                    first = *it;
                if (first)
                    return first;
            }
            const qint64 left = (deadline - nowNs()) / 1000000;
            if (left <= 0)
                return std::nullopt;
            wait(int(left));
        }
    }

    /// Until no frame was painted for `quietMs` (animations and toasts done), at most `maxMs`.
    void settle(int quietMs = 300, int maxMs = 8000)
    {
        const qint64 deadline = nowNs() + qint64(maxMs) * 1000000;
        while (nowNs() < deadline) {
            const qint64 last = lastSwap();
            if (nowNs() - last >= qint64(quietMs) * 1000000)
                return;
            wait(quietMs);
        }
    }

private:
    void wait(int ms)
    {
        QEventLoop loop;
        m_loop = &loop;
        QTimer::singleShot(ms, &loop, &QEventLoop::quit);
        loop.exec();
        m_loop = nullptr;
    }

    QQuickWindow *m_window;
    mutable QMutex m_lock;
    Frame m_current;
    qint64 m_animated = 0;
    std::vector<Frame> m_frames;
    QEventLoop *m_loop = nullptr;
};

double ms(qint64 ns) { return double(ns) / 1e6; }

/// CPU time of the whole process (every thread: GUI, render, llvmpipe's), in ns: on a shared
/// machine a less noisy measure of the work than wall-clock time.
qint64 processCpuNs()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return qint64(t.tv_sec) * 1000000000 + t.tv_nsec;
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return -1;
    std::sort(v.begin(), v.end());
    const size_t rank = size_t(std::ceil(p * double(v.size())));
    return v[std::min(v.size() - 1, rank > 0 ? rank - 1 : 0)];
}

int s_missed = 0;

/// Whether to run this part: BENCH_UI_PHASES (open,keys,scroll,search; default all) picks them.
bool phase(const char *name)
{
    const QByteArray phases = qgetenv("BENCH_UI_PHASES");
    return phases.isEmpty() || phases.split(',').contains(name);
}

/// One line: the figure's median/p95/p99 (max) and the target on the percentile it is set on.
void report(const char *what, const std::vector<double> &v, const char *targetOn = nullptr, double target = 0)
{
    const double p50 = percentile(v, 0.5), p95 = percentile(v, 0.95), p99 = percentile(v, 0.99);
    const double max = v.empty() ? -1 : *std::max_element(v.begin(), v.end());
    std::printf("%-46s n=%4zu  median %7.2f  p95 %7.2f  p99 %7.2f  max %7.2f ms", what, v.size(), p50, p95, p99, max);
    if (targetOn) {
        const double figure = qstrcmp(targetOn, "p99") == 0 ? p99 : qstrcmp(targetOn, "p95") == 0 ? p95 : max;
        const bool met = figure <= target;
        s_missed += met ? 0 : 1;
        std::printf("  target %s <= %g ms: %s", targetOn, target, met ? "met" : "MISSED");
    }
    std::printf("\n");
    std::fflush(stdout);
}

/// VmRSS and its parts (KiB): anonymous memory (heaps, the guide) and mapped files (libraries).
struct Rss
{
    qint64 total = 0, anon = 0, file = 0;
    qint64 heapUsed = 0, heapFree = 0; ///< malloc's (all arenas): handed out, and free but kept
    static Rss now()
    {
        Rss r;
        const struct mallinfo2 mi = mallinfo2();
        r.heapUsed = qint64((mi.uordblks + mi.hblkhd) / 1024);
        r.heapFree = qint64(mi.fordblks / 1024);
        QFile f(QStringLiteral("/proc/self/status"));
        if (!f.open(QIODevice::ReadOnly))
            return r;
        for (const QByteArray &line : f.readAll().split('\n')) {
            const qint64 kib = line.mid(line.indexOf(':') + 1).trimmed().split(' ').first().toLongLong();
            if (line.startsWith("VmRSS:"))
                r.total = kib;
            else if (line.startsWith("RssAnon:"))
                r.anon = kib;
            else if (line.startsWith("RssFile:"))
                r.file = kib;
        }
        return r;
    }
};

void printRss(const char *what, const Rss &r)
{
    std::printf("%-46s %.1f MiB (anonymous %.1f, files %.1f; malloc in use %.1f, free %.1f)\n", what, r.total / 1024.0,
                r.anon / 1024.0, r.file / 1024.0, r.heapUsed / 1024.0, r.heapFree / 1024.0);
}

/// The largest resident mappings by file (anonymous ones as [heap], [anon], [stack]...).
void printMappings(int top)
{
    QFile f(QStringLiteral("/proc/self/smaps"));
    if (!f.open(QIODevice::ReadOnly))
        return;
    QHash<QByteArray, qint64> byName;
    QByteArray name;
    for (const QByteArray &line : f.readAll().split('\n')) {
        const QList<QByteArray> fields = line.simplified().split(' ');
        if (fields.size() >= 5 && fields[0].contains('-') && !fields[0].endsWith(':'))
            name = fields.size() >= 6 ? fields[5] : QByteArray("[anon]");
        else if (fields.size() >= 2 && fields[0] == "Rss:")
            byName[name] += fields[1].toLongLong();
    }
    QList<std::pair<qint64, QByteArray>> sorted;
    for (auto it = byName.begin(); it != byName.end(); ++it)
        sorted.append({it.value(), it.key()});
    std::sort(sorted.rbegin(), sorted.rend());
    for (int i = 0; i < top && i < sorted.size(); ++i)
        std::printf("  %8.1f MiB  %s\n", sorted[i].first / 1024.0, sorted[i].second.constData());
}

/// CPU time (ns) of the process's threads by kind: the GUI thread, Qt Quick's render thread,
/// Mesa's rasteriser threads (llvmpipe-N) and the rest, from /proc/self/task/*/schedstat.
struct ThreadCpu
{
    qint64 gui = 0, render = 0, raster = 0, other = 0;
    static ThreadCpu now()
    {
        ThreadCpu t;
        const QString self = QString::number(QCoreApplication::applicationPid());
        const QDir tasks(QStringLiteral("/proc/self/task"));
        for (const QString &tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
            QFile stat(tasks.filePath(tid + QStringLiteral("/schedstat"))), comm(tasks.filePath(tid + QStringLiteral("/comm")));
            if (!stat.open(QIODevice::ReadOnly) || !comm.open(QIODevice::ReadOnly))
                continue;
            const qint64 ns = stat.readAll().split(' ').first().toLongLong();
            const QByteArray name = comm.readAll().trimmed();
            if (tid == self)
                t.gui += ns;
            else if (name.startsWith("QSGRenderThread"))
                t.render += ns;
            else if (name.startsWith("llvmpipe"))
                t.raster += ns;
            else
                t.other += ns;
        }
        return t;
    }
    ThreadCpu operator-(const ThreadCpu &o) const { return {gui - o.gui, render - o.render, raster - o.raster, other - o.other}; }
};

class Bench
{
public:
    Bench(HubrisApp *app, QQuickWindow *window, FrameLog *log) : m_app(app), m_window(window), m_log(log) {}

    QString page() const { return m_window->property("page").toString(); }

    /// Key to the frame that shows it (ms), -1 when nothing was painted within a second.
    double press(Qt::Key key, Frame *frame = nullptr, double *handledMs = nullptr)
    {
        const qint64 t0 = nowNs();
        const qint64 handled = send(key);
        if (handledMs)
            *handledMs = ms(handled - t0);
        const auto f = m_log->frameAfter(handled);
        if (!f) {
            if (qEnvironmentVariableIsSet("BENCH_UI_DEBUG"))
            {
                std::fprintf(stderr, "bench_ui: key %x on page %s painted nothing (handled in %.1f ms); frames:", key, qPrintable(page()), ms(handled - t0));
                const auto all = m_log->frames();
                for (size_t i = all.size() > 4 ? all.size() - 4 : 0; i < all.size(); ++i)
                    std::fprintf(stderr, " [sync %+.1f swap %+.1f]", ms(all[i].syncStart - handled), ms(all[i].swapped - handled));
                std::fprintf(stderr, "\n");
            }
            ++m_noFrame;
            return -1;
        }
        if (frame)
            *frame = *f;
        return ms(f->swapped - t0);
    }
    /// Delivers a key press and release as the platform does, without running the event loop
    /// (QTest::keyClick may paint a frame before it returns); returns when the press is handled.
    qint64 send(Qt::Key key, const QString &text = {})
    {
        QKeyEvent press(QEvent::KeyPress, key, Qt::NoModifier, text);
        QCoreApplication::sendEvent(m_window, &press);
        const qint64 handled = nowNs();
        QKeyEvent release(QEvent::KeyRelease, key, Qt::NoModifier, text);
        QCoreApplication::sendEvent(m_window, &release);
        return handled;
    }
    /// Presses `key` and checks the page it leads to.
    bool go(Qt::Key key, const char *expected)
    {
        press(key);
        if (page() != QLatin1String(expected)) {
            std::fprintf(stderr, "bench_ui: expected page %s, on %s\n", expected, qPrintable(page()));
            return false;
        }
        return true;
    }
    void pause(int ms) { QTest::qWait(ms); }

    HubrisApp *m_app;
    QQuickWindow *m_window;
    FrameLog *m_log;
    int m_noFrame = 0;
};

} // namespace

int main(int argc, char *argv[])
{
    s_clock.start();
    QGuiApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 2) {
        std::fprintf(stderr, "usage: bench_ui GUIDE [ROUNDS]\n");
        return 2;
    }
    const int rounds = args.size() > 2 ? args[2].toInt() : 20;
    iptv::epg::GuideInfo info;
    QString error;
    if (!iptv::epg::Guide::readInfo(args[1], &info, &error)) {
        std::fprintf(stderr, "bench_ui: %s: %s\n", qPrintable(args[1]), qPrintable(error));
        return 2;
    }
    const Rss rssQt = Rss::now();
    QTemporaryDir dir;
    HubrisOptions options;
    options.dataDir = dir.path();
    options.guideFile = args[1];
    options.fixedNow = info.validFrom + 19 * 3600 + 20 * 60; // 19:20 on the first day: prime time
    HubrisApp hubris(options);

    // The model's own update: from its first "about to reset" to its first "reset" (these two
    // are connected before the QML's views, so they run before the views rebuild).
    std::vector<double> searchModel;
    qint64 searchStart = 0;
    QObject::connect(hubris.search(), &QAbstractItemModel::modelAboutToBeReset, [&] { searchStart = nowNs(); });
    QObject::connect(hubris.search(), &QAbstractItemModel::modelReset, [&] { searchModel.push_back(ms(nowNs() - searchStart)); });

    if (!hubris.start())
        return 3;
    const Rss rssStarted = Rss::now(); // the QML loaded; the guide opens on a worker thread
    QQuickWindow *window = hubris.window();
    FrameLog log(window);
    window->showFullScreen();
    window->requestActivate();
    if (!QTest::qWaitForWindowActive(window)) {
        std::fprintf(stderr, "bench_ui: the window did not become active\n");
        return 1;
    }
    if (!QTest::qWaitFor([&] { return hubris.store()->isLoaded(); }, 10000)) {
        std::fprintf(stderr, "bench_ui: the guide did not load\n");
        return 1;
    }
    log.settle(500, 10000);

    const auto api = window->rendererInterface()->graphicsApi();
    std::printf("window %dx%d, scene graph: %s, %d channels, %d rounds, now pinned at %s\n", window->width(),
                window->height(), api == QSGRendererInterface::Software ? "software" : api == QSGRendererInterface::OpenGL ? "OpenGL" : "other",
                hubris.store()->channelCount(), rounds,
                qPrintable(QDateTime::fromSecsSinceEpoch(options.fixedNow, Qt::UTC).toString(Qt::ISODate)));
    const Rss rssLive = Rss::now();

    Bench b(&hubris, window, &log);
    std::mt19937 random(1);

    // 1. Guide open. Each round leaves the grid somewhere else (pages down, days on), so the
    //    next open moves it back to the tuned channel and now, as a viewer's next open does.
    std::vector<double> open;
    double firstOpen = -1;
    Rss rssGrid;
    for (int i = 0; i < rounds && phase("open"); ++i) {
        const double t = b.press(Qt::Key_G);
        if (b.page() != u"guide") {
            std::fprintf(stderr, "bench_ui: Guide did not open the guide (page %s)\n", qPrintable(b.page()));
            return 1;
        }
        if (i == 0) {
            firstOpen = t;
            log.settle();
            if (const QString shot = qEnvironmentVariable("BENCH_UI_SHOT"); !shot.isEmpty()) {
                window->grabWindow().save(shot); // the grid as it was measured
                // And in the high-contrast theme (blue on the live page switches it).
                b.go(Qt::Key_Escape, "live");
                b.press(Qt::Key_F4);
                b.go(Qt::Key_G, "guide");
                log.settle();
                window->grabWindow().save(QString(shot).replace(u".png"_qs, u"-high-contrast.png"_qs));
                b.go(Qt::Key_Escape, "live");
                b.press(Qt::Key_F4);
                b.go(Qt::Key_G, "guide");
                log.settle();
            }
            rssGrid = Rss::now();
        } else {
            open.push_back(t);
        }
        log.settle(100);
        for (int n = 0; n < 1 + i % 4; ++n)
            b.press(Qt::Key_PageDown);
        for (int n = 0; n < i % 3; ++n)
            b.press(Qt::Key_F2);
        b.press(Qt::Key_Right);
        b.go(Qt::Key_Escape, "live");
        log.settle(100);
    }

    // 2. Key to visual response, keys a viewer's pace apart (~4 a second).
    std::vector<double> keyGrid, keyList, keyMenu;
    if (phase("keys")) {
        const Qt::Key arrows[] = {Qt::Key_Up, Qt::Key_Down, Qt::Key_Left, Qt::Key_Right};
        b.go(Qt::Key_G, "guide");
        log.settle(100);
        for (int i = 0; i < rounds * 5; ++i) {
            b.pause(200);
            Qt::Key key = arrows[random() % 4];
            if (i % 40 == 0 && i > 0) // leave the first rows now and then
                b.press(Qt::Key_PageDown), b.pause(200);
            const double t = b.press(key);
            if (t >= 0)
                keyGrid.push_back(t);
        }
        b.go(Qt::Key_Escape, "live");
        log.settle();
        b.go(Qt::Key_Return, "channels");
        log.settle(100);
        for (int i = 0; i < rounds * 5; ++i) {
            b.pause(200);
            const double t = b.press(i % 10 < 6 ? Qt::Key_Down : Qt::Key_Up);
            if (t >= 0)
                keyList.push_back(t);
        }
        b.go(Qt::Key_Escape, "live");
        log.settle();
        b.go(Qt::Key_M, "menu");
        log.settle(100);
        for (int i = 0; i < rounds * 5; ++i) {
            b.pause(200);
            const double t = b.press(i % 5 < 3 ? Qt::Key_Down : Qt::Key_Up);
            if (t >= 0)
                keyMenu.push_back(t);
        }
        b.go(Qt::Key_Escape, "live");
        log.settle();
    }

    // 3. Scrolling the grid, each key as soon as the previous one is painted.
    struct Scroll
    {
        const char *name;
        std::vector<Qt::Key> keys;
        std::vector<double> interval, handled, polish, sync, render, swap, latency;
        double cpuPerKey = 0, framesPerKey = 0;
        ThreadCpu threads;
    };
    std::vector<Scroll> scrolls;
    {
        Scroll pages{"pages (channel down, then up)", {}};
        for (int i = 0; i < rounds * 2; ++i)
            pages.keys.push_back(Qt::Key_PageDown);
        for (int i = 0; i < rounds * 2; ++i)
            pages.keys.push_back(Qt::Key_PageUp);
        Scroll hours{"programmes (right, then left)", {}};
        for (int i = 0; i < rounds * 3; ++i)
            hours.keys.push_back(Qt::Key_Right);
        for (int i = 0; i < rounds * 3; ++i)
            hours.keys.push_back(Qt::Key_Left);
        Scroll days{"days (green x13, red x13)", {}};
        for (int r = 0; r < std::max(1, rounds / 10); ++r) {
            for (int i = 0; i < 13; ++i)
                days.keys.push_back(Qt::Key_F2);
            for (int i = 0; i < 13; ++i)
                days.keys.push_back(Qt::Key_F1);
        }
        scrolls = {pages, hours, days};
    }
    Rss rssBeforeScroll, rssAfterGrid, rssSettled;
    if (phase("scroll")) {
        b.go(Qt::Key_G, "guide");
        log.settle(100);
        rssBeforeScroll = Rss::now();
        if (qEnvironmentVariableIsSet("BENCH_UI_DEBUG")) { // the frames one key makes
            for (Qt::Key key : {Qt::Key_PageDown, Qt::Key_Down, Qt::Key_Right, Qt::Key_PageUp}) {
                const size_t before = log.count();
                const qint64 t0 = nowNs();
                b.press(key);
                log.settle(300);
                const auto all = log.frames();
                std::fprintf(stderr, "bench_ui: key %x made %zu frames:", key, all.size() - before);
                for (size_t i = before; i < all.size(); ++i)
                    std::fprintf(stderr, " [animated %+.1f sync %+.1f swap %+.1f]", ms(all[i].animated - t0), ms(all[i].syncStart - t0), ms(all[i].swapped - t0));
                std::fprintf(stderr, "\n");
            }
        }
        for (Scroll &s : scrolls) {
            qint64 previous = 0;
            const qint64 cpu0 = processCpuNs();
            const size_t frames0 = log.count();
            const ThreadCpu threads0 = ThreadCpu::now();
            for (Qt::Key key : s.keys) {
                Frame f;
                double handled = 0;
                const double t = b.press(key, &f, &handled);
                s.handled.push_back(handled);
                if (t < 0) {
                    previous = 0;
                    continue;
                }
                s.latency.push_back(t);
                if (previous > 0)
                    s.interval.push_back(ms(f.swapped - previous));
                previous = f.swapped;
                s.sync.push_back(ms(f.syncEnd - f.syncStart));
                if (f.animated > 0 && f.animated <= f.syncStart)
                    s.polish.push_back(ms(f.syncStart - f.animated));
                if (f.renderEnd > f.renderStart) {
                    s.render.push_back(ms(f.renderEnd - f.renderStart));
                    s.swap.push_back(ms(f.swapped - f.renderEnd));
                }
            }
            log.settle(100);
            s.cpuPerKey = ms(processCpuNs() - cpu0) / double(s.keys.size());
            s.framesPerKey = double(log.count() - frames0) / double(s.keys.size());
            s.threads = ThreadCpu::now() - threads0;
        }
        rssAfterGrid = Rss::now();
        b.pause(3000); // the viewer stopped: what stays
        rssSettled = Rss::now();
        b.go(Qt::Key_Escape, "live");
        log.settle();
    }

    // 4. Search as you type: real words of the guide, letter by letter, then deleted with red.
    std::vector<double> searchKey, searchPainted;
    if (phase("search")) {
        b.go(Qt::Key_M, "menu");
        b.press(Qt::Key_Down);
        b.press(Qt::Key_Down);
        b.go(Qt::Key_Return, "search");
        log.settle(100);
        const QStringList words = {u"news"_qs, u"premier league football"_qs, u"weather watch"_qs, u"the quiet desert"_qs,
                                   u"lyon city"_qs, u"brothers market"_qs, u"garden"_qs, u"documentary"_qs};
        searchModel.clear();
        for (int r = 0; r < std::max(1, rounds / 10); ++r) {
            for (const QString &word : words) {
                for (QChar c : word) {
                    const qint64 t0 = nowNs();
                    const qint64 handled = b.send(c == u' ' ? Qt::Key_Space : Qt::Key(Qt::Key_A + (c.unicode() - u'a')), QString(c));
                    searchKey.push_back(ms(handled - t0));
                    if (const auto f = log.frameAfter(handled))
                        searchPainted.push_back(ms(f->swapped - t0));
                    b.pause(50);
                }
                for (qsizetype i = 0; i < word.size(); ++i) {
                    b.press(Qt::Key_F1);
                    b.pause(20);
                }
            }
        }
    }
    const Rss rssEnd = Rss::now();

    std::printf("\n== guide open (Guide key to the first grid frame painted)\n");
    std::printf("%-46s %.2f ms\n", "first open after start", firstOpen);
    report("open after using the grid", open, "p95", 300);
    std::printf("\n== key to visual response (focus move painted), keys 200 ms apart\n");
    report("grid arrows", keyGrid, "p95", 50);
    report("channel list up/down", keyList, "p95", 50);
    report("menu up/down", keyMenu, "p95", 50);
    std::vector<double> keyAll = keyGrid;
    keyAll.insert(keyAll.end(), keyList.begin(), keyList.end());
    keyAll.insert(keyAll.end(), keyMenu.begin(), keyMenu.end());
    report("all three", keyAll, "p95", 50);
    std::printf("\n== grid scrolling, each key when the previous frame is painted\n");
    for (const Scroll &s : scrolls) {
        std::printf("-- %s\n", s.name);
        report("  frame time (frameSwapped to frameSwapped)", s.interval, "p95", 16.7);
        report("  key to frame", s.latency);
        report("  key handled (GUI thread: QML, models)", s.handled);
        report("  polish (GUI thread, before sync)", s.polish);
        report("  sync (GUI thread blocked)", s.sync);
        report("  render (draw calls recorded)", s.render);
        report("  swap (rasterised and presented)", s.swap);
        const double n = double(s.keys.size());
        std::printf("  %-44s %.2f ms, %.2f frames a key; GUI thread %.2f, render thread %.2f, llvmpipe %.2f, other %.2f ms\n",
                    "process CPU time a key (all threads)", s.cpuPerKey, s.framesPerKey, ms(s.threads.gui) / n,
                    ms(s.threads.render) / n, ms(s.threads.raster) / n, ms(s.threads.other) / n);
    }
    std::printf("\n== search as you type (%zu keystrokes)\n", searchKey.size());
    report("SearchModel update per keystroke", searchModel, "p99", 5);
    report("key handled (model + views)", searchKey);
    report("key to results painted", searchPainted);
    std::printf("\n== resident memory (VmRSS)\n");
    printRss("Qt started, no app", rssQt);
    printRss("app started (QML loaded), guide opening", rssStarted);
    printRss("live, guide loaded", rssLive);
    printRss("grid open (first open)", rssGrid);
    printRss("grid open, before scrolling", rssBeforeScroll);
    printRss("after scrolling the grid", rssAfterGrid);
    printRss("after scrolling, 3 s later", rssSettled);
    printRss("at the end (after search)", rssEnd);
    malloc_trim(0); // what of it is malloc's free memory, still resident (not counted below)
    printRss("at the end, after malloc_trim(0)", Rss::now());
    const qint64 rssMax = std::max({rssGrid.total, rssAfterGrid.total, rssEnd.total});
    const bool rssMet = rssMax * 1024 <= 250000000; // 250 MB
    s_missed += rssMet ? 0 : 1;
    std::printf("%-46s %.1f MiB (%.1f MB)  target <= 250 MB: %s\n", "highest", rssMax / 1024.0, rssMax * 1024 / 1e6,
                rssMet ? "met" : "MISSED");
    if (qEnvironmentVariableIsSet("BENCH_UI_DEBUG"))
        printMappings(25);
    if (b.m_noFrame > 0)
        std::printf("\n(%d keys painted nothing within a second and are not counted)\n", b.m_noFrame);
    std::printf("\n%d target(s) missed\n", s_missed);
    return 0;
}
