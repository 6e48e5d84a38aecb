// bench_fleetpush: what the "boxes" pushes on "fleet" cost the control server.
//
// A fleet of --boxes boxes (default 19,000, one node's worth online) in the server's Fleet; every
// box reports --rounds telemetry samples shaped like fleetsim's (CPU random walk, temperature
// anywhere in 45-70 °C, a zap in one sample of ten), so nearly every sample moves a field a table
// shows: the worst case for change tracking. Prints the telemetry path's extra cost per message
// (OperatorHub::shown() before and after, the dirty set) and the cost and size of one push of
// OperatorHub::MaxBoxesPerPush records (at most one a second), and of the fleet summary pushed
// once a second while telemetry flows and an operator watches (every box online).
//
//   bench_fleetpush [--boxes 19000] [--rounds 10]

#include "cputime.h"

#include "boxes/fleet.h"
#include "operators/operatorhub.h"

#include <protocol/message.h>

#include <QCborArray>
#include <QCborMap>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QRandomGenerator>
#include <QSet>
#include <QTextStream>

#include <ctime>

using namespace iptv::control;

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Control server: cost of the \"boxes\" pushes to operators"_qs);
    parser.addHelpOption();
    parser.addOption({u"boxes"_qs, u"Boxes in the fleet."_qs, u"n"_qs, u"19000"_qs});
    parser.addOption({u"rounds"_qs, u"Telemetry samples per box."_qs, u"n"_qs, u"10"_qs});
    parser.process(app);
    const int boxes = std::max(1000, parser.value(u"boxes"_qs).toInt());
    const int messages = boxes * std::max(1, parser.value(u"rounds"_qs).toInt());
    QTextStream out(stdout);

    Fleet fleet;
    for (int i = 1; i <= boxes; ++i) {
        BoxRow r;
        r.id = i;
        r.serial = QStringLiteral("SIM-%1").arg(i, 6, 10, QLatin1Char('0'));
        r.mac = QStringLiteral("02:00:00:%1").arg(i, 6, 16, QLatin1Char('0'));
        r.model = u"SIM-1"_qs;
        r.softwareVersion = u"1.0.0"_qs;
        r.releaseChannel = u"clean"_qs;
        r.state = BoxState::Approved;
        fleet.add(r);
    }
    QRandomGenerator rng(1);
    QList<iptv::protocol::Telemetry> samples(1000);
    int channel = 1;
    for (auto &t : samples) {
        t.cpuPercent = rng.bounded(950) / 10.0;
        t.temperatureC = 45 + rng.bounded(250) / 10.0;
        t.memoryUsedKb = 300 * 1024 + rng.bounded(400 * 1024);
        t.memoryTotalKb = 1024 * 1024;
        if (rng.bounded(10) == 0)
            channel = 1 + int(rng.bounded(200));
        t.currentChannel = QStringLiteral("ch-%1").arg(channel);
        t.playerState = u"playing"_qs;
    }
    QList<int> pick(messages);
    for (int &p : pick)
        p = int(rng.bounded(1000));

    // The same samples twice: as the server applies them, then with the change tracking of
    // ControlServer::onTelemetry() while an operator watches the fleet.
    double c0 = threadCpuMs();
    for (int i = 0; i < messages; ++i)
        fleet.applyTelemetry(fleet.byId(1 + i % boxes), samples.at(pick.at(i)), 1795600000 + i / boxes);
    const double plainMs = threadCpuMs() - c0;
    QSet<qint64> dirty;
    QList<qint64> order;
    int changes = 0;
    c0 = threadCpuMs();
    for (int i = 0; i < messages; ++i) {
        BoxInfo *b = fleet.byId(1 + i % boxes);
        const OperatorHub::ShownBox before = OperatorHub::shown(*b);
        fleet.applyTelemetry(b, samples.at(pick.at((i + 1) % messages)), 1795600000 + i / boxes);
        if (OperatorHub::shown(*b) != before) {
            ++changes;
            if (!dirty.contains(b->id)) {
                dirty.insert(b->id);
                order.append(b->id);
            }
        }
    }
    const double trackedMs = threadCpuMs() - c0;

    // One push: records built as OperatorHub::tick() builds them, encoded as a JSON session gets them.
    c0 = threadCpuMs();
    qsizetype bytes = 0;
    const int pushes = 10;
    for (int p = 0; p < pushes; ++p) {
        QCborArray items;
        for (qsizetype i = 0; i < OperatorHub::MaxBoxesPerPush; ++i)
            items.append(QCborMap::fromJsonObject(fleet.boxJson(*fleet.byId(1 + (p * OperatorHub::MaxBoxesPerPush + i) % boxes))));
        const iptv::protocol::Message m(iptv::protocol::MessageType::Update, 1,
                                        {{u"topic"_qs, u"fleet"_qs}, {u"kind"_qs, u"boxes"_qs}, {u"items"_qs, items}, {u"more"_qs, 0}});
        bytes = iptv::protocol::encodeJson(m).size();
    }
    const double pushMs = (threadCpuMs() - c0) / pushes;

    // The summary: every box online and reporting, as under load.
    for (int i = 1; i <= boxes; ++i)
        fleet.setOnline(fleet.byId(i), true);
    const int summaries = 20;
    c0 = threadCpuMs();
    qsizetype keys = 0;
    for (int i = 0; i < summaries; ++i)
        keys += fleet.summary().size();
    const double summaryMs = (threadCpuMs() - c0) / summaries;

    out << "boxes                          " << boxes << ", " << messages << " telemetry samples\n";
    out << "samples changing a shown field " << changes << " (" << QString::number(100.0 * changes / messages, 'f', 0)
        << " %), " << dirty.size() << " distinct boxes\n";
    out << "telemetry apply (cpu)          " << QString::number(plainMs * 1e6 / messages, 'f', 0) << " ns/msg, with change tracking "
        << QString::number(trackedMs * 1e6 / messages, 'f', 0) << " ns/msg (+"
        << QString::number((trackedMs - plainMs) * 1e6 / messages, 'f', 0) << ")\n";
    out << "one push of " << OperatorHub::MaxBoxesPerPush << " records (cpu) " << QString::number(pushMs, 'f', 1)
        << " ms to build and encode as JSON; " << bytes / 1024 << " KiB as JSON\n";
    // A command to an explicit list of every box (the API takes up to 100,000 ids), listed in
    // reverse: Fleet::select() resolves it on the event loop.
    FleetFilter byIds;
    for (int i = boxes; i >= 1; --i)
        byIds.ids.append(i);
    c0 = threadCpuMs();
    const qsizetype selected = fleet.select(byIds).size();
    const double selectMs = threadCpuMs() - c0;

    out << "fleet summary (cpu)            " << QString::number(summaryMs, 'f', 2) << " ms each (" << keys / summaries
        << " keys), all " << boxes << " online\n";
    out << "select by " << byIds.ids.size() << " ids (cpu)  " << QString::number(selectMs, 'f', 1) << " ms, " << selected
        << " boxes\n";
    return 0;
}
