// bench_fleetview: the console's first load of a large fleet as the window sees it.
//
// A QTableView (offscreen platform unless one is set) shows FleetFilterProxy over FleetModel,
// sorted by serial, the way apps/cerberus wires them: sorting is suspended while the pages of
// 1000 boxes arrive (one page per turn of the event loop), then resumed once. Prints the thread
// CPU time of the longest page slice and of the slice that resumes sorting, which is where the
// console used to freeze for 0.43 s with 100,000 boxes (target: no slice over ~50 ms).
//
//   bench_fleetview [--boxes 100000] [--serials ordered|random]

#include "cputime.h"

#include <cerberus/fleetfilterproxy.h>
#include <cerberus/fleetmodel.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QHeaderView>
#include <QJsonArray>
#include <QRandomGenerator>
#include <QTableView>
#include <QTextStream>

#include <algorithm>
#include <ctime>

using namespace iptv::cerberus;

namespace {

QJsonObject makeBox(int i, const QString &serial, QRandomGenerator &rng)
{
    static const QStringList models{u"IPB-4K"_qs, u"IPB-HD"_qs, u"Zeta-2"_qs, u"Zeta-3"_qs, u"Orbit-S"_qs, u"Orbit-M"_qs};
    static const QStringList versions{u"1.4.0"_qs, u"1.5.0"_qs, u"1.6.0"_qs, u"1.6.1"_qs, u"2.0.0-beta"_qs};
    return QJsonObject{
        {u"id"_qs, i + 1},
        {u"serial"_qs, serial},
        {u"model"_qs, models.at(i % models.size())},
        {u"state"_qs, u"approved"_qs},
        {u"releaseChannel"_qs, i % 20 == 0 ? u"experimental"_qs : u"clean"_qs},
        {u"softwareVersion"_qs, versions.at(int(rng.bounded(versions.size())))},
        {u"currentChannel"_qs, QStringLiteral("ch-%1").arg(rng.bounded(60))},
        {u"online"_qs, i % 500 == 0},
        {u"lastSeen"_qs, 1764000000 + i},
        {u"tags"_qs, QJsonArray{}},
        {u"telemetry"_qs, QJsonObject{{u"cpuPercent"_qs, rng.bounded(1000) / 10.0},
                                      {u"temperatureC"_qs, 40 + rng.bounded(400) / 10.0}}}};
}

} // namespace

int main(int argc, char **argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Cerberus fleet table: first load and sort in a view"_qs);
    parser.addHelpOption();
    parser.addOption({u"boxes"_qs, u"Boxes in the fleet."_qs, u"n"_qs, u"100000"_qs});
    parser.addOption({u"serials"_qs, u"Serial order of the pages: ordered or random."_qs, u"order"_qs, u"random"_qs});
    parser.process(app);
    const int boxes = parser.value(u"boxes"_qs).toInt();
    const bool random = parser.value(u"serials"_qs) == u"random";
    QTextStream out(stdout);

    // Pages come in box id order; serials follow enrollment, which need not be id order.
    QRandomGenerator rng(7);
    QStringList serials;
    for (int i = 0; i < boxes; ++i)
        serials.append(QStringLiteral("SN%1").arg(10000000 + i * 7, 10, 10, QLatin1Char('0')));
    if (random)
        std::shuffle(serials.begin(), serials.end(), rng);
    QList<QList<QJsonObject>> pages;
    for (int i = 0; i < boxes; i += 1000) {
        QList<QJsonObject> page;
        for (int j = i; j < std::min(boxes, i + 1000); ++j)
            page.append(makeBox(j, serials.at(j), rng));
        pages.append(page);
    }

    FleetModel model;
    FleetFilterProxy proxy;
    proxy.setFleetModel(&model);
    QTableView view;
    view.setModel(&proxy);
    view.setSelectionBehavior(QAbstractItemView::SelectRows);
    view.setSortingEnabled(true);
    view.sortByColumn(FleetModel::SerialColumn, Qt::AscendingOrder);
    view.verticalHeader()->hide();
    view.verticalHeader()->setDefaultSectionSize(22);
    view.verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    view.resize(1200, 800);
    view.show();
    QApplication::processEvents();

    // As the window does while the fleet loads (FleetView::suspendSorting()).
    view.setSortingEnabled(false);
    proxy.sort(-1);
    double worstPage = 0;
    const double load0 = threadCpuMs();
    for (qsizetype i = 0; i + 1 < pages.size(); ++i) {
        const double c0 = threadCpuMs();
        model.applyBoxes(pages.at(i));
        QApplication::processEvents();
        worstPage = std::max(worstPage, threadCpuMs() - c0);
    }
    const double loadMs = threadCpuMs() - load0;

    // The last page's turn: the page, FleetView::resumeSorting() and refreshPickers() (the
    // window does all three on the reply of the last page), then the repaint that follows.
    const double last0 = threadCpuMs();
    model.applyBoxes(pages.constLast());
    const double s0 = threadCpuMs();
    view.setSortingEnabled(true);
    view.sortByColumn(FleetModel::SerialColumn, Qt::AscendingOrder);
    const double sortMs = threadCpuMs() - s0;
    for (auto column : {FleetModel::ModelColumn, FleetModel::VersionColumn, FleetModel::TagsColumn})
        model.distinctValues(column);
    const double lastSliceMs = threadCpuMs() - last0;
    const double p0 = threadCpuMs();
    QApplication::processEvents();
    const double paintMs = threadCpuMs() - p0;
    double sliceMax = 0;
    for (int i = 0; i < 20; ++i) { // whatever the sort queued for later turns
        const double c0 = threadCpuMs();
        QApplication::processEvents();
        sliceMax = std::max(sliceMax, threadCpuMs() - c0);
    }

    const QString first = proxy.index(0, FleetModel::SerialColumn).data().toString();
    const QString last = proxy.index(proxy.rowCount() - 1, FleetModel::SerialColumn).data().toString();
    out << "boxes                          " << proxy.rowCount() << " (serials " << (random ? "random" : "ordered")
        << " against ids)\n";
    out << "load, 1 page per turn (cpu)    " << QString::number(loadMs, 'f', 1) << " ms, longest turn "
        << QString::number(worstPage, 'f', 1) << " ms\n";
    out << "resume sorting by serial (cpu) " << QString::number(sortMs, 'f', 1) << " ms\n";
    out << "last page's turn in all (cpu)  " << QString::number(lastSliceMs, 'f', 1)
        << " ms (page + sort + filter pickers; target <= 50)\n";
    out << "next turn, repaint (cpu)       " << QString::number(paintMs, 'f', 1) << " ms; later turns max "
        << QString::number(sliceMax, 'f', 1) << " ms\n";
    out << "order check                    " << first << " .. " << last << "\n";
    return 0;
}
