// FleetModel and FleetFilterProxy: inserts, cell-exact dataChanged ranges, coalescing of bursts,
// no resets after the first load, text and structured filters, sorting (also live re-sorting and
// re-filtering on updates), saved filters. Every model runs under QAbstractItemModelTester.

#include <cerberus/fleetfilterproxy.h>
#include <cerberus/fleetmodel.h>

#include <QAbstractItemModelTester>
#include <QJsonArray>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

#include <numeric>
#include <random>

using namespace iptv::cerberus;

namespace {

QJsonObject box(qint64 id, const QString &serial, const QString &model = u"Zeta-2"_qs, const QString &version = u"1.5.0"_qs,
                bool online = true, const QStringList &tags = {}, const QString &channel = u"clean"_qs)
{
    return {{u"id"_qs, id},
            {u"serial"_qs, serial},
            {u"model"_qs, model},
            {u"state"_qs, u"approved"_qs},
            {u"releaseChannel"_qs, channel},
            {u"softwareVersion"_qs, version},
            {u"currentChannel"_qs, u"news-1"_qs},
            {u"online"_qs, online},
            {u"lastSeen"_qs, 1764000000 + id},
            {u"tags"_qs, QJsonArray::fromStringList(tags)},
            {u"telemetry"_qs, QJsonObject{{u"cpuPercent"_qs, 10.0}, {u"temperatureC"_qs, 50.0}, {u"errorEvents"_qs, 0},
                                          {u"bufferingEvents"_qs, 0}, {u"memoryUsedKb"_qs, 1000}, {u"memoryTotalKb"_qs, 4000}}}};
}

struct Range
{
    int top, left, bottom, right;
    bool operator==(const Range &) const = default;
};

QList<Range> ranges(const QSignalSpy &spy)
{
    QList<Range> out;
    for (const auto &args : spy) {
        const auto tl = args.at(0).value<QModelIndex>();
        const auto br = args.at(1).value<QModelIndex>();
        out.append({tl.row(), tl.column(), br.row(), br.column()});
    }
    return out;
}

} // namespace

QT_BEGIN_NAMESPACE
namespace QTest {
template<>
char *toString(const Range &r)
{
    return qstrdup(QByteArray("(" + QByteArray::number(r.top) + "," + QByteArray::number(r.left) + ")-(" + QByteArray::number(r.bottom)
                              + "," + QByteArray::number(r.right) + ")"));
}
} // namespace QTest
QT_END_NAMESPACE

class TestFleetModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(u"iptv-tests"_qs);
        QCoreApplication::setApplicationName(u"tst_fleetmodel"_qs);
    }

    void insertAndRoles()
    {
        FleetModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
        QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
        m.applyBoxes({box(1, u"SN-A"_qs), box(2, u"SN-B"_qs, u"IPB-4K"_qs, u"1.6.0"_qs, false, {u"lab"_qs, u"vip"_qs})});
        QCOMPARE(m.rowCount(), 2);
        QCOMPARE(m.columnCount(), int(FleetModel::ColumnCount));
        QCOMPARE(inserted.count(), 1); // one block
        m.applyBoxes({box(3, u"SN-C"_qs)});
        QCOMPARE(inserted.count(), 2);
        QCOMPARE(inserted.last().at(1).toInt(), 2);
        QCOMPARE(reset.count(), 0);
        const QModelIndex b = m.index(1, 0);
        QCOMPARE(b.data(FleetModel::BoxIdRole).toLongLong(), 2);
        QCOMPARE(b.data(FleetModel::SerialRole).toString(), u"SN-B"_qs);
        QCOMPARE(b.data(FleetModel::ModelRole).toString(), u"IPB-4K"_qs);
        QCOMPARE(b.data(FleetModel::OnlineRole).toBool(), false);
        QCOMPARE(b.data(FleetModel::TagsRole).toStringList(), (QStringList{u"lab"_qs, u"vip"_qs}));
        QCOMPARE(b.data(FleetModel::TemperatureRole).toDouble(), 50.0);
        QCOMPARE(b.data(FleetModel::HealthRole).toInt(), int(FleetModel::HealthOk));
        QCOMPARE(m.index(1, FleetModel::StatusColumn).data().toString(), u"offline"_qs);
        QCOMPARE(m.index(0, FleetModel::StatusColumn).data().toString(), u"online"_qs);
        QCOMPARE(m.index(1, FleetModel::TagsColumn).data().toString(), u"lab, vip"_qs);
        QCOMPARE(m.onlineCount(), 2);
        const auto roles = m.roleNames();
        QCOMPARE(roles.value(FleetModel::SerialRole), QByteArray("serial"));
        QCOMPARE(roles.value(FleetModel::HealthRole), QByteArray("health"));
        QCOMPARE(m.rowOf(3), 2);
        QCOMPARE(m.rowOf(99), -1);
        // Ids as the protocol spells them ("b-4") work too.
        QJsonObject b4 = box(4, u"SN-D"_qs);
        b4.insert(u"id"_qs, u"b-4"_qs);
        m.applyBoxes({b4});
        QCOMPARE(m.rowOf(4), 3);
    }

    void updatesOnlyChangedCells()
    {
        FleetModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        m.applyBoxes({box(1, u"SN-A"_qs), box(2, u"SN-B"_qs), box(3, u"SN-C"_qs), box(4, u"SN-D"_qs)});
        QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
        QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
        QSignalSpy layout(&m, &QAbstractItemModel::layoutChanged);

        // CPU of one box: its health cell only.
        m.queueTelemetry(3, {{u"cpu"_qs, 42.0}, {u"temp"_qs, 50.0}});
        QCOMPARE(changed.count(), 0); // coalesced: nothing before the flush
        m.flushPending();
        // A live sample also marks the box seen now: last-seen and health, adjacent cells, one range.
        QCOMPARE(ranges(changed), (QList<Range>{{2, FleetModel::LastSeenColumn, 2, FleetModel::HealthColumn}}));
        QCOMPARE(m.index(2, 0).data(FleetModel::CpuRole).toDouble(), 42.0);

        // The same values again: nothing at all.
        changed.clear();
        m.applyBoxes({box(3, u"SN-C"_qs)}); // list form, same as loaded except telemetry from before
        changed.clear();
        m.applyBoxes({box(3, u"SN-C"_qs)});
        QCOMPARE(changed.count(), 0);

        // Two adjacent rows with the same change: one range.
        m.applyBoxes({QJsonObject{{u"id"_qs, 1}, {u"softwareVersion"_qs, u"1.6.0"_qs}},
                      QJsonObject{{u"id"_qs, 2}, {u"softwareVersion"_qs, u"1.6.0"_qs}}});
        QCOMPARE(ranges(changed), (QList<Range>{{0, FleetModel::VersionColumn, 1, FleetModel::VersionColumn}}));

        // Adjacent columns of one row: one range; different masks in adjacent rows: separate.
        changed.clear();
        m.queueBox({{u"id"_qs, 4}, {u"model"_qs, u"IPB-4K"_qs}, {u"softwareVersion"_qs, u"2.0.0"_qs}});
        m.queueBox({{u"id"_qs, 3}, {u"tags"_qs, QJsonArray{u"vip"_qs}}});
        m.flushPending();
        QCOMPARE(ranges(changed), (QList<Range>{{2, FleetModel::TagsColumn, 2, FleetModel::TagsColumn},
                                                {3, FleetModel::ModelColumn, 3, FleetModel::VersionColumn}}));

        // Presence: the status cell (and last-seen when it comes back).
        changed.clear();
        QSignalSpy online(&m, &FleetModel::onlineCountChanged);
        m.queuePresence(2, false);
        m.flushPending();
        QCOMPARE(ranges(changed), (QList<Range>{{1, FleetModel::StatusColumn, 1, FleetModel::StatusColumn}}));
        QCOMPARE(m.onlineCount(), 3);
        QCOMPARE(online.count(), 1);
        QCOMPARE(reset.count(), 0);
        QCOMPARE(layout.count(), 0);
    }

    void coalescesBursts()
    {
        FleetModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        m.setCoalesceInterval(50);
        m.applyBoxes({box(1, u"SN-A"_qs), box(2, u"SN-B"_qs)});
        QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
        QSignalSpy flushed(&m, &FleetModel::flushed);
        for (int i = 0; i < 1000; ++i) {
            m.queueTelemetry(1, {{u"cpu"_qs, double(i % 100)}, {u"temp"_qs, 60.0}});
            m.queueTelemetry(2, {{u"cpu"_qs, double(i % 100)}, {u"temp"_qs, 61.0}});
        }
        QCOMPARE(m.pendingCount(), 2);
        QCOMPARE(changed.count(), 0);
        QVERIFY(flushed.wait(2000));
        QCOMPARE(flushed.count(), 1);
        QCOMPARE(flushed.first().at(0).toInt(), 2); // 2000 samples, 2 updates
        QCOMPARE(m.index(0, 0).data(FleetModel::CpuRole).toDouble(), 99.0); // the last one won
        QCOMPARE(m.index(1, 0).data(FleetModel::TemperatureRole).toDouble(), 61.0);
        // Both rows changed the same cells: one range each column run.
        QCOMPARE(ranges(changed), (QList<Range>{{0, FleetModel::LastSeenColumn, 1, FleetModel::HealthColumn}}));
    }

    void budgetedFlushYields()
    {
        FleetModel m;
        QList<QJsonObject> boxes;
        for (int i = 1; i <= 20000; ++i)
            boxes.append(box(i, QStringLiteral("SN-%1").arg(i)));
        m.applyBoxes(boxes);
        m.setCoalesceInterval(1);
        m.setFlushBudget(1);
        QSignalSpy flushed(&m, &FleetModel::flushed);
        for (int i = 1; i <= 20000; ++i)
            m.queueTelemetry(i, {{u"cpu"_qs, 77.0}});
        QTRY_COMPARE_WITH_TIMEOUT(m.pendingCount(), 0, 10000);
        QVERIFY2(flushed.count() > 1, "a 1 ms budget spreads 20,000 updates over several turns");
        int total = 0;
        for (const auto &f : flushed)
            total += f.at(0).toInt();
        QCOMPARE(total, 20000);
        QCOMPARE(m.index(19999, 0).data(FleetModel::CpuRole).toDouble(), 77.0);
    }

    void queuedUnknownBoxIsInserted()
    {
        FleetModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        m.applyBoxes({box(1, u"SN-A"_qs)});
        QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
        m.queueTelemetry(7, {{u"cpu"_qs, 1.0}}); // unknown and no record: waits for the list
        m.queueBox(box(8, u"SN-H"_qs));
        m.flushPending();
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(m.rowCount(), 2);
        QCOMPARE(m.rowOf(8), 1);
        QCOMPARE(m.rowOf(7), -1);
    }

    void temperatureAlarm()
    {
        FleetModel m;
        m.applyBoxes({box(1, u"SN-A"_qs)});
        QSignalSpy alarm(&m, &FleetModel::temperatureAlarm);
        m.queueTelemetry(1, {{u"temp"_qs, 91.5}});
        m.flushPending();
        QCOMPARE(alarm.count(), 1);
        QCOMPARE(alarm.first().at(1).toString(), u"SN-A"_qs);
        QCOMPARE(m.index(0, 0).data(FleetModel::HealthRole).toInt(), int(FleetModel::HealthAlarm));
        m.queueTelemetry(1, {{u"temp"_qs, 92.0}}); // still hot: no second alarm
        m.flushPending();
        QCOMPARE(alarm.count(), 1);
    }

    void filters_data()
    {
        QTest::addColumn<QVariantMap>("filter");
        QTest::addColumn<QList<qint64>>("ids");
        auto f = [](auto set) {
            FleetFilter x;
            set(x);
            return x.toVariantMap();
        };
        QTest::newRow("all") << f([](FleetFilter &) {}) << QList<qint64>{1, 2, 3, 4, 5};
        QTest::newRow("serial text") << f([](FleetFilter &x) { x.text = u"sn-00"_qs; }) << QList<qint64>{1, 2};
        QTest::newRow("model text, any case") << f([](FleetFilter &x) { x.text = u"ipb"_qs; }) << QList<qint64>{3, 4};
        QTest::newRow("version text") << f([](FleetFilter &x) { x.text = u"1.6"_qs; }) << QList<qint64>{4};
        QTest::newRow("tag text") << f([](FleetFilter &x) { x.text = u"vip"_qs; }) << QList<qint64>{2, 4};
        QTest::newRow("channel text") << f([](FleetFilter &x) { x.text = u"experim"_qs; }) << QList<qint64>{5};
        QTest::newRow("two words: both") << f([](FleetFilter &x) { x.text = u"ipb vip"_qs; }) << QList<qint64>{4};
        QTest::newRow("no match") << f([](FleetFilter &x) { x.text = u"nothing"_qs; }) << QList<qint64>{};
        QTest::newRow("online") << f([](FleetFilter &x) { x.presence = FleetFilter::Presence::Online; })
                                << QList<qint64>{1, 3, 4, 5};
        QTest::newRow("offline") << f([](FleetFilter &x) { x.presence = FleetFilter::Presence::Offline; }) << QList<qint64>{2};
        QTest::newRow("model exact") << f([](FleetFilter &x) { x.model = u"IPB-4K"_qs; }) << QList<qint64>{3, 4};
        QTest::newRow("model unknown") << f([](FleetFilter &x) { x.model = u"IPB"_qs; }) << QList<qint64>{};
        QTest::newRow("version") << f([](FleetFilter &x) { x.version = u"1.5.0"_qs; }) << QList<qint64>{1, 2, 3, 5};
        QTest::newRow("release channel") << f([](FleetFilter &x) { x.releaseChannel = u"experimental"_qs; }) << QList<qint64>{5};
        QTest::newRow("tag") << f([](FleetFilter &x) { x.tag = u"lab"_qs; }) << QList<qint64>{4};
        QTest::newRow("tag, not a substring") << f([](FleetFilter &x) { x.tag = u"la"_qs; }) << QList<qint64>{};
        QTest::newRow("structured + text") << f([](FleetFilter &x) {
            x.model = u"IPB-4K"_qs;
            x.presence = FleetFilter::Presence::Online;
            x.text = u"sn-0104"_qs;
        }) << QList<qint64>{4};
        QTest::newRow("problems") << f([](FleetFilter &x) { x.problemsOnly = true; }) << QList<qint64>{3};
    }

    void filters()
    {
        QFETCH(QVariantMap, filter);
        QFETCH(QList<qint64>, ids);
        FleetModel m;
        FleetFilterProxy p;
        p.setFleetModel(&m);
        QAbstractItemModelTester tester(&p, QAbstractItemModelTester::FailureReportingMode::QtTest);
        fill(m);
        p.sort(FleetModel::SerialColumn);
        p.setFilter(FleetFilter::fromVariantMap(filter));
        QCOMPARE(p.visibleIds(), ids);
        QCOMPARE(p.rowCount(), ids.size());
    }

    void filterFollowsUpdates()
    {
        FleetModel m;
        FleetFilterProxy p;
        p.setFleetModel(&m);
        QAbstractItemModelTester tester(&p, QAbstractItemModelTester::FailureReportingMode::QtTest);
        fill(m);
        p.sort(FleetModel::SerialColumn);
        FleetFilter f;
        f.presence = FleetFilter::Presence::Online;
        p.setFilter(f);
        QCOMPARE(p.visibleIds(), (QList<qint64>{1, 3, 4, 5}));
        m.queuePresence(3, false);
        m.queuePresence(2, true);
        m.flushPending();
        QCOMPARE(p.visibleIds(), (QList<qint64>{1, 2, 4, 5}));
        // A model no box had when the filter was set: boxes that report it later appear.
        FleetFilter g;
        g.model = u"Orbit-S"_qs;
        p.setFilter(g);
        QCOMPARE(p.rowCount(), 0);
        QCOMPARE(m.pool().find(u"Orbit-S"_qs), -1);
        m.queueBox({{u"id"_qs, 1}, {u"model"_qs, u"Orbit-S"_qs}});
        m.queueBox(box(6, u"SN-0006"_qs, u"Orbit-S"_qs));
        m.flushPending();
        QCOMPARE(m.index(0, FleetModel::ModelColumn).data().toString(), u"Orbit-S"_qs);
        QCOMPARE(m.rowCount(), 6);
        QCOMPARE(p.visibleIds(), (QList<qint64>{1, 6}));
    }

    void sorting()
    {
        FleetModel m;
        FleetFilterProxy p;
        p.setFleetModel(&m);
        QAbstractItemModelTester tester(&p, QAbstractItemModelTester::FailureReportingMode::QtTest);
        fill(m);
        p.sort(FleetModel::SerialColumn, Qt::DescendingOrder);
        QCOMPARE(p.visibleIds(), (QList<qint64>{5, 4, 3, 2, 1}));
        p.sort(FleetModel::ModelColumn);
        QList<qint64> firstTwo = p.visibleIds().mid(0, 2);
        std::sort(firstTwo.begin(), firstTwo.end());
        QCOMPARE(firstTwo, (QList<qint64>{3, 4})); // IPB-4K before Zeta-2
        p.sort(FleetModel::StatusColumn);
        QCOMPARE(p.visibleIds().last(), 2); // offline after online
        p.sort(FleetModel::HealthColumn, Qt::DescendingOrder);
        QCOMPARE(p.visibleIds().first(), 3); // the hot one first
        // Live: box 1 overheats and errors; it moves to the top without a reset.
        QSignalSpy reset(&p, &QAbstractItemModel::modelReset);
        m.queueTelemetry(1, {{u"temp"_qs, 95.0}, {u"err"_qs, 20}});
        m.flushPending();
        QCOMPARE(p.visibleIds().first(), 1);
        QCOMPARE(reset.count(), 0);
        // New strings shift the pool ranks; the order stays right.
        p.sort(FleetModel::VersionColumn);
        m.queueBox({{u"id"_qs, 2}, {u"softwareVersion"_qs, u"0.9.0"_qs}});
        m.flushPending();
        QCOMPARE(p.visibleIds().first(), 2);
        m.applyBoxes({box(9, u"SN-0000"_qs, u"Zeta-2"_qs, u"0.1.0"_qs)});
        QCOMPARE(p.visibleIds().first(), 9);
        p.sort(FleetModel::SerialColumn);
        QCOMPARE(p.visibleIds().first(), 9);
        m.applyBoxes({box(10, u"SA-0000"_qs)}); // a new serial sorts in at once
        QCOMPARE(p.visibleIds().first(), 10);
    }

    // Sorting by serial goes through integer keys packed from the serials; the order must be the
    // strings' own, whatever the serials look like.
    void serialSortMatchesStrings_data()
    {
        QTest::addColumn<QStringList>("serials");
        QTest::newRow("shared prefix") << QStringList{u"SN0010000021"_qs, u"SN0010000007"_qs, u"SN0010699993"_qs, u"SN0010000000"_qs};
        QTest::newRow("prefix of another") << QStringList{u"AB12"_qs, u"AB1"_qs, u"AB123"_qs, u"AB"_qs, u"AB10"_qs};
        QTest::newRow("equal in the packed part") << QStringList{u"X-0000000012"_qs, u"X-0000000011"_qs, u"X-00000000"_qs,
                                                                 u"X-0000000010"_qs, u"X-000000001"_qs};
        QTest::newRow("beyond latin-1") << QStringList{u"箱-7"_qs, u"box-é"_qs, u"box-z"_qs, u"箱-10"_qs, u"Ω"_qs, u"box-"_qs};
        QTest::newRow("empty and duplicates") << QStringList{u"b"_qs, QString(), u"a"_qs, u"b"_qs, u"a\u0001"_qs};
        QTest::newRow("one box") << QStringList{u"only"_qs};
    }

    void serialSortMatchesStrings()
    {
        QFETCH(QStringList, serials);
        FleetModel m;
        FleetFilterProxy p;
        p.setFleetModel(&m);
        QAbstractItemModelTester tester(&p, QAbstractItemModelTester::FailureReportingMode::QtTest);
        // As the window loads: unsorted while the pages arrive, then one sort.
        p.sort(-1);
        QList<QJsonObject> boxes;
        for (int i = 0; i < serials.size(); ++i)
            boxes.append(box(i + 1, serials.at(i)));
        m.applyBoxes(boxes);
        for (Qt::SortOrder order : {Qt::AscendingOrder, Qt::DescendingOrder}) {
            p.sort(FleetModel::SerialColumn, order);
            QStringList shown;
            for (int r = 0; r < p.rowCount(); ++r)
                shown.append(p.index(r, FleetModel::SerialColumn).data().toString());
            QStringList expected = serials;
            std::sort(expected.begin(), expected.end());
            if (order == Qt::DescendingOrder)
                std::reverse(expected.begin(), expected.end());
            QCOMPARE(shown, expected);
            p.sort(-1);
        }
    }

    // The first sort after a large load (5,000 rows, serials in random order against ids).
    void sortAfterBulkLoad()
    {
        FleetModel m;
        FleetFilterProxy p;
        p.setFleetModel(&m);
        QAbstractItemModelTester tester(&p, QAbstractItemModelTester::FailureReportingMode::QtTest);
        p.sort(FleetModel::SerialColumn);
        p.sort(-1);
        QList<int> numbers(5000);
        std::iota(numbers.begin(), numbers.end(), 0);
        std::shuffle(numbers.begin(), numbers.end(), std::mt19937(4));
        for (int page = 0; page < 5; ++page) {
            QList<QJsonObject> boxes;
            for (int i = page * 1000; i < (page + 1) * 1000; ++i)
                boxes.append(box(i + 1, QStringLiteral("FS-%1").arg(numbers.at(i) * 3, 6, 10, QLatin1Char('0'))));
            m.applyBoxes(boxes);
        }
        QSignalSpy reset(&p, &QAbstractItemModel::modelReset);
        p.sort(FleetModel::SerialColumn);
        QCOMPARE(reset.count(), 0);
        QCOMPARE(p.rowCount(), 5000);
        for (int r = 1; r < p.rowCount(); ++r)
            QVERIFY(p.index(r - 1, FleetModel::SerialColumn).data().toString() < p.index(r, FleetModel::SerialColumn).data().toString());
        // Later boxes sort in where they belong.
        m.applyBoxes({box(6001, u"FS-000001"_qs)});
        QCOMPARE(p.index(1, FleetModel::SerialColumn).data().toString(), u"FS-000001"_qs);
    }

    void savedFilters()
    {
        FleetFilter f;
        f.text = u"zeta"_qs;
        f.presence = FleetFilter::Presence::Offline;
        f.tag = u"vip"_qs;
        f.releaseChannel = u"experimental"_qs;
        SavedFilters::save(u"offline vips"_qs, f);
        SavedFilters::save(u"all"_qs, FleetFilter{});
        QCOMPARE(SavedFilters::names(), (QStringList{u"all"_qs, u"offline vips"_qs}));
        QCOMPARE(SavedFilters::load(u"offline vips"_qs), f);
        QVERIFY(SavedFilters::load(u"all"_qs).isEmpty());
        SavedFilters::remove(u"all"_qs);
        SavedFilters::remove(u"offline vips"_qs);
        QVERIFY(SavedFilters::names().isEmpty());
        const QJsonObject server = f.toServerFilter();
        QCOMPARE(server.value(u"online").toBool(true), false);
        QCOMPARE(server.value(u"tag").toString(), u"vip"_qs);
        QCOMPARE(server.value(u"channel").toString(), u"experimental"_qs);
        QVERIFY(!server.contains(u"q")); // free text is resolved to ids by the console instead
        QVERIFY(!f.hasStructuredOnly());
    }

private:
    static void fill(FleetModel &m)
    {
        QJsonObject hot = box(3, u"SN-0103"_qs, u"IPB-4K"_qs);
        hot.insert(u"telemetry"_qs, QJsonObject{{u"cpuPercent"_qs, 10.0}, {u"temperatureC"_qs, 80.0}, {u"errorEvents"_qs, 0}});
        m.applyBoxes({box(1, u"SN-0001"_qs), box(2, u"SN-0002"_qs, u"Zeta-2"_qs, u"1.5.0"_qs, false, {u"vip"_qs}), hot,
                      box(4, u"SN-0104"_qs, u"IPB-4K"_qs, u"1.6.0"_qs, true, {u"lab"_qs, u"vip"_qs}),
                      box(5, u"SN-0205"_qs, u"Zeta-2"_qs, u"1.5.0"_qs, true, {}, u"experimental"_qs)});
    }
};

QTEST_GUILESS_MAIN(TestFleetModel)
#include "tst_fleetmodel.moc"
