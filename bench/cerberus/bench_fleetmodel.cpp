// bench_fleetmodel: how the console's fleet table copes with 100,000 boxes.
//
// Prints: load time, memory per row (the model's own estimate and the process RSS growth), the
// time of typical filters and sorts over all rows (target: a filter <= 100 ms), and the
// throughput of coalesced telemetry updates with the proxy attached, plus the longest time one
// budgeted flush held the event loop (what a UI thread would stall).
//
//   bench_fleetmodel [--boxes 100000] [--updates 200000]

#include "cputime.h"

#include <cerberus/fleetfilterproxy.h>
#include <cerberus/fleetmodel.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QRandomGenerator>
#include <QTextStream>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <ctime>

using namespace iptv::cerberus;

namespace {

qint64 rssKb()
{
    QFile f(u"/proc/self/status"_qs);
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return 0;
}

QJsonObject makeBox(int i, QRandomGenerator &rng)
{
    static const QStringList models{u"IPB-4K"_qs, u"IPB-HD"_qs, u"Zeta-2"_qs, u"Zeta-3"_qs, u"Orbit-S"_qs, u"Orbit-M"_qs};
    static const QStringList versions{u"1.4.0"_qs, u"1.4.1"_qs, u"1.5.0"_qs, u"1.5.2"_qs, u"1.6.0-rc1"_qs, u"1.6.0"_qs,
                                      u"1.6.1"_qs, u"2.0.0-beta"_qs};
    static const QStringList tags{u"lab"_qs, u"north"_qs, u"south"_qs, u"hotel"_qs, u"vip"_qs, u"trial"_qs};
    QJsonArray t;
    if (rng.bounded(3) == 0)
        t.append(tags.at(int(rng.bounded(tags.size()))));
    if (rng.bounded(10) == 0)
        t.append(tags.at(int(rng.bounded(tags.size()))));
    const bool online = i % 5 != 0;
    return QJsonObject{
        {u"id"_qs, i + 1},
        {u"serial"_qs, QStringLiteral("SN%1").arg(10000000 + i * 7, 10, 10, QLatin1Char('0'))},
        {u"mac"_qs, QStringLiteral("02:00:%1").arg(i, 8, 16, QLatin1Char('0'))},
        {u"model"_qs, models.at(i % models.size())},
        {u"state"_qs, u"approved"_qs},
        {u"releaseChannel"_qs, i % 20 == 0 ? u"experimental"_qs : u"clean"_qs},
        {u"softwareVersion"_qs, versions.at(int(rng.bounded(versions.size())))},
        {u"currentChannel"_qs, QStringLiteral("ch-%1").arg(rng.bounded(60))},
        {u"online"_qs, online},
        {u"lastSeen"_qs, 1764000000 + i},
        {u"tags"_qs, t},
        {u"telemetry"_qs, QJsonObject{{u"cpuPercent"_qs, rng.bounded(1000) / 10.0},
                                      {u"temperatureC"_qs, 40 + rng.bounded(400) / 10.0},
                                      {u"memoryUsedKb"_qs, 200000 + int(rng.bounded(300000))},
                                      {u"memoryTotalKb"_qs, 1048576},
                                      {u"errorEvents"_qs, rng.bounded(50) == 0 ? 1 : 0},
                                      {u"bufferingEvents"_qs, 0}}}};
}

double msSince(const QElapsedTimer &t) { return t.nsecsElapsed() / 1e6; }

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Cerberus fleet table benchmark"_qs);
    parser.addHelpOption();
    parser.addOption({u"boxes"_qs, u"Boxes in the table."_qs, u"n"_qs, u"100000"_qs});
    parser.addOption({u"updates"_qs, u"Telemetry updates to apply."_qs, u"n"_qs, u"200000"_qs});
    parser.process(app);
    const int boxes = parser.value(u"boxes"_qs).toInt();
    const int updates = parser.value(u"updates"_qs).toInt();
    QTextStream out(stdout);

    QRandomGenerator rng(42);
    QList<QList<QJsonObject>> pages;
    for (int i = 0; i < boxes; i += 1000) {
        QList<QJsonObject> page;
        for (int j = i; j < std::min(boxes, i + 1000); ++j)
            page.append(makeBox(j, rng));
        pages.append(page);
    }

    const qint64 rss0 = rssKb();
    FleetModel model;
    QElapsedTimer clock;
    clock.start();
    const double loadCpu0 = threadCpuMs();
    for (const auto &page : std::as_const(pages))
        model.applyBoxes(page);
    const double loadMs = msSince(clock);
    const double loadCpu = threadCpuMs() - loadCpu0;
    const qint64 rss1 = rssKb();
    pages.clear();
    pages.squeeze();
    out << "boxes                          " << model.rowCount() << "\n";
    out << "load (pages of 1000)           " << QString::number(loadMs, 'f', 1) << " ms wall, " << QString::number(loadCpu, 'f', 1) << " ms cpu\n";
    out << "model bytes/row (estimate)     " << model.approximateBytes() / model.rowCount() << "\n";
    out << "RSS growth/row (model)         " << (rss1 - rss0) * 1024 / model.rowCount() << "\n";

    FleetFilterProxy proxy;
    const qint64 rss2 = rssKb();
    const double attach0 = threadCpuMs();
    proxy.setFleetModel(&model);
    proxy.sort(FleetModel::SerialColumn);
    const double attachMs = threadCpuMs() - attach0;
    out << "proxy attach + sort (cpu)      " << QString::number(attachMs, 'f', 1) << " ms\n";
    out << "RSS growth/row (proxy)         " << (rssKb() - rss2) * 1024 / model.rowCount() << "\n";

    struct Case
    {
        const char *name;
        FleetFilter filter;
    };
    QList<Case> cases;
    auto add = [&cases](const char *name, auto set) {
        FleetFilter f;
        set(f);
        cases.append({name, f});
    };
    add("text \"0123\" (serials)", [](FleetFilter &f) { f.text = u"0123"_qs; });
    add("text \"zeta\" (model)", [](FleetFilter &f) { f.text = u"zeta"_qs; });
    add("text \"1.6 north\" (2 words)", [](FleetFilter &f) { f.text = u"1.6 north"_qs; });
    add("online", [](FleetFilter &f) { f.presence = FleetFilter::Presence::Online; });
    add("model = IPB-4K", [](FleetFilter &f) { f.model = u"IPB-4K"_qs; });
    add("tag = vip + experimental", [](FleetFilter &f) { f.tag = u"vip"_qs; f.releaseChannel = u"experimental"_qs; });
    add("problems only", [](FleetFilter &f) { f.problemsOnly = true; });
    add("cleared (all rows)", [](FleetFilter &) {});
    add("offline", [](FleetFilter &f) { f.presence = FleetFilter::Presence::Offline; });
    double worst = 0;
    for (const Case &c : std::as_const(cases)) {
        FleetFilter start;
        start.presence = FleetFilter::Presence::Offline;
        proxy.setFilter(c.filter.isEmpty() ? start : FleetFilter{});
        proxy.rowCount();
        clock.restart();
        const double cpu0 = threadCpuMs();
        proxy.setFilter(c.filter);
        const int rows = proxy.rowCount(); // the mapping is rebuilt on first use
        const double ms = msSince(clock);
        const double cpu = threadCpuMs() - cpu0;
        worst = std::max(worst, cpu);
        out << "filter " << QString::fromLatin1(c.name).leftJustified(24) << QString::number(ms, 'f', 1).rightJustified(7)
            << " ms wall " << QString::number(cpu, 'f', 1).rightJustified(7) << " ms cpu -> " << rows << " rows\n";
    }
    proxy.setFilter(FleetFilter{});
    // Typing in the search box: each keystroke narrows (or widens) the previous filter.
    {
        QStringList keys{u"S"_qs, u"SN"_qs, u"SN0"_qs, u"SN00"_qs, u"SN001"_qs, u"SN0012"_qs, u"SN001"_qs, u"SN00"_qs};
        double sum = 0, max = 0;
        for (const QString &k : keys) {
            const double cpu0 = threadCpuMs();
            proxy.setText(k);
            proxy.rowCount();
            const double ms = threadCpuMs() - cpu0;
            sum += ms;
            max = std::max(max, ms);
        }
        out << "typing 8 keystrokes (cpu)      avg " << QString::number(sum / keys.size(), 'f', 1) << " ms, max "
            << QString::number(max, 'f', 1) << " ms\n";
        proxy.setText({});
        proxy.rowCount(); // the cleared filter's rebuild belongs to the filter, not to the sorts below
    }
    out << "worst filter (cpu)             " << QString::number(worst, 'f', 1) << " ms (target <= 100)\n";
    for (int col : {int(FleetModel::HealthColumn), int(FleetModel::VersionColumn), int(FleetModel::LastSeenColumn)}) {
        const double cpu0 = threadCpuMs();
        proxy.sort(col, Qt::DescendingOrder);
        out << "sort by " << model.headerData(col, Qt::Horizontal).toString().leftJustified(23)
            << QString::number(threadCpuMs() - cpu0, 'f', 1).rightJustified(7) << " ms cpu\n";
    }

    // Live telemetry: `updates` samples from the online boxes, applied in coalesced flushes.
    // Sorted by serial (the default view) the proxy only has to re-check the changed rows.
    proxy.sort(FleetModel::SerialColumn);
    int dataChanged = 0;
    QObject::connect(&model, &QAbstractItemModel::dataChanged, [&dataChanged] { ++dataChanged; });
    double maxFlush = 0;
    int flushes = 0;
    QObject::connect(&model, &FleetModel::flushed, [&](int, int, double ms) {
        maxFlush = std::max(maxFlush, ms);
        ++flushes;
    });
    const int perBurst = 19000; // one telemetry round of a fully loaded node, arriving together
    // UI thread stalls: a 5 ms timer stands in for the event loop's other work (painting, input);
    // its lateness is how long the loop was held.
    QList<double> stalls;
    QElapsedTimer tickClock;
    QTimer ticker;
    ticker.setTimerType(Qt::PreciseTimer);
    ticker.setInterval(5);
    QObject::connect(&ticker, &QTimer::timeout, [&] {
        if (tickClock.isValid())
            stalls.append(std::max(0.0, tickClock.nsecsElapsed() / 1e6 - 5));
        tickClock.restart();
    });
    ticker.start();
    clock.restart();
    qint64 queueNs = 0;
    for (int done = 0; done < updates;) {
        QElapsedTimer q;
        q.start();
        const int n = std::min(perBurst, updates - done);
        // Pushes arrive as WebSocket frames between which the event loop runs: queue a frame's
        // worth at a time and let the loop turn.
        for (int i = 0; i < n; ++i) {
            const int id = 1 + int(rng.bounded(boxes));
            model.queueTelemetry(id, {{u"cpu"_qs, rng.bounded(1000) / 10.0}, {u"temp"_qs, 40 + rng.bounded(400) / 10.0},
                                      {u"mem"_qs, 200000 + int(rng.bounded(300000))}, {u"memTotal"_qs, 1048576}});
            if (i % 200 == 199) {
                queueNs += q.nsecsElapsed();
                QCoreApplication::processEvents();
                q.restart();
            }
        }
        queueNs += q.nsecsElapsed();
        done += n;
        // Let the budgeted flushes run as the event loop would.
        while (model.pendingCount() > 0)
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents | QEventLoop::AllEvents, 5);
    }
    const double totalMs = msSince(clock);
    ticker.stop();
    std::sort(stalls.begin(), stalls.end());
    auto pct = [&stalls](double p) { return stalls.isEmpty() ? 0.0 : stalls.at(qMin(stalls.size() - 1, qsizetype(p * stalls.size()))); };
    out << "telemetry updates              " << updates << " in bursts of " << perBurst << "\n";
    out << "  queue + apply                " << QString::number(updates / (totalMs / 1000.0), 'f', 0) << " updates/s (incl. "
        << QString::number(150.0 * (updates / perBurst), 'f', 0) << " ms of coalescing waits)\n";
    out << "  queueing alone               " << QString::number(queueNs / 1e6, 'f', 1) << " ms\n";
    out << "  flushes / dataChanged        " << flushes << " / " << dataChanged << "\n";
    out << "  longest flush (budget 20 ms) " << QString::number(maxFlush, 'f', 1) << " ms\n";
    out << "  event-loop stall p50/p99/max " << QString::number(pct(0.5), 'f', 1) << " / " << QString::number(pct(0.99), 'f', 1)
        << " / " << QString::number(stalls.isEmpty() ? 0 : stalls.last(), 'f', 1) << " ms (" << stalls.size() << " ticks; target p99 <= 50)\n";

    // Raw apply speed without coalescing waits.
    for (int i = 0; i < 100000; ++i)
        model.queueTelemetry(1 + int(rng.bounded(boxes)), {{u"cpu"_qs, rng.bounded(1000) / 10.0}, {u"temp"_qs, 55.0}});
    const int pending = model.pendingCount();
    clock.restart();
    model.flushPending();
    const double flushMs = msSince(clock);
    out << "  one unbudgeted flush         " << pending << " boxes in " << QString::number(flushMs, 'f', 1) << " ms ("
        << QString::number(pending / (flushMs / 1000.0), 'f', 0) << " boxes/s)\n";
    out << "RSS total                      " << rssKb() / 1024 << " MB\n";
    return 0;
}
