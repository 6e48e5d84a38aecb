// The control server's in-memory fleet: the summary operators see (counts by state, versions per
// release channel, models, player states, error and buffering rates), and in a cluster the same
// summary added up from the shares of the nodes that hold the boxes.

#include "boxes/fleet.h"
#include "store/store.h"

#include <protocol/message.h>

#include <QJsonDocument>
#include <QTest>

#include <memory>
#include <vector>

using namespace iptv::control;

class TestFleet : public QObject
{
    Q_OBJECT

    struct Spec
    {
        BoxState state;
        const char *channel;
        const char *model;
        const char *version;
        bool online;
        const char *player; ///< nullptr: no telemetry yet
        int errors;
        int buffering;
    };
    static constexpr Spec s_specs[] = {
        {BoxState::Approved, "clean", "HX-400", "2.4.1", true, "playing", 0, 0},
        {BoxState::Approved, "clean", "HX-400", "2.4.1", true, "playing", 2, 0},
        {BoxState::Approved, "clean", "HX-500", "2.5.0", true, "buffering", 0, 3},
        {BoxState::Approved, "experimental", "HX-500", "2.5.0", true, "playing", 0, 1},
        {BoxState::Approved, "experimental", "HX-500", "", true, nullptr, 0, 0}, // no version, silent
        {BoxState::Approved, "clean", "HX-400", "2.3.9", false, "paused", 1, 1},  // offline: not counted
        {BoxState::Pending, "clean", "HX-400", "2.4.1", false, nullptr, 0, 0},
        {BoxState::Rejected, "clean", "HX-400", "2.4.1", false, nullptr, 0, 0},
    };
    static QJsonObject expectedSummary()
    {
        return QJsonDocument::fromJson(R"({
            "boxes": 8, "online": 5, "approved": 6, "pending": 1, "rejected": 1,
            "versions": {"clean": {"2.4.1": 2, "2.5.0": 1}, "experimental": {"2.5.0": 1, "unknown": 1}},
            "models": {"HX-400": 2, "HX-500": 3},
            "playerStates": {"playing": 3, "buffering": 1},
            "reporting": 4, "boxesWithErrors": 1, "errorRate": 0.25, "bufferingRate": 0.5
        })").object();
    }
    /// The fleet as node `node` of `nodes` sees it: box i is held by node i % nodes; the others'
    /// boxes are known from the store and online through the cluster, without their telemetry.
    static void fill(Fleet &fleet, int node, int nodes)
    {
        qint64 id = 0;
        for (const Spec &s : s_specs) {
            BoxRow r;
            r.id = ++id;
            r.serial = QStringLiteral("SN-%1").arg(id);
            r.state = s.state;
            r.releaseChannel = QString::fromLatin1(s.channel);
            r.model = QString::fromLatin1(s.model);
            r.softwareVersion = QString::fromLatin1(s.version);
            BoxInfo *b = fleet.add(r);
            const bool here = id % nodes == node;
            if (s.player && here) {
                iptv::protocol::Telemetry t;
                t.playerState = QString::fromLatin1(s.player);
                t.errorEvents = s.errors;
                t.bufferingEvents = s.buffering;
                fleet.applyTelemetry(b, t, 1795600000);
            }
            fleet.setOnline(b, s.online, !here);
        }
    }

private Q_SLOTS:
    void summaryCountsOnlineBoxesByName()
    {
        Fleet fleet;
        fill(fleet, 0, 1);
        QCOMPARE(QJsonDocument(fleet.summary()).toJson(), QJsonDocument(expectedSummary()).toJson());
    }

    void clusterSummaryAddsUpTheNodesShares_data()
    {
        QTest::addColumn<int>("nodes");
        QTest::newRow("one node") << 1;
        QTest::newRow("two nodes") << 2;
        QTest::newRow("three nodes") << 3;
    }
    void clusterSummaryAddsUpTheNodesShares()
    {
        // Every node counts the boxes it holds; the shares travel as CBOR; any node's summary
        // over all shares is the summary of one fleet that held every box.
        QFETCH(int, nodes);
        std::vector<std::unique_ptr<Fleet>> fleets;
        std::vector<FleetShare> shares;
        for (int n = 0; n < nodes; ++n) {
            fleets.push_back(std::make_unique<Fleet>());
            fill(*fleets.back(), n, nodes);
            shares.push_back(FleetShare::fromCbor(fleets.back()->share(true).toCbor()));
        }
        for (int n = 0; n < nodes; ++n) {
            FleetShare all = fleets[n]->share(true);
            for (int other = 0; other < nodes; ++other) {
                if (other != n)
                    all.add(shares[other]);
            }
            QCOMPARE(QJsonDocument(fleets[n]->summary(all)).toJson(), QJsonDocument(expectedSummary()).toJson());
        }
        if (nodes > 1) // a node's own share alone misses the others' boxes
            QVERIFY(fleets[0]->share(true).online < expectedSummary().value(u"online").toInt());
    }

    void selectByIds()
    {
        Fleet fleet;
        for (qint64 id = 1; id <= 2000; ++id) {
            BoxRow r;
            r.id = id;
            r.serial = QStringLiteral("SN-%1").arg(id);
            r.state = BoxState::Approved;
            r.model = id % 2 ? u"HX-400"_qs : u"HX-500"_qs;
            fleet.add(r);
        }
        // Any number of ids (an operator may send 100,000): duplicates once, unknown ones left
        // out, answered in id order, other criteria still applied.
        FleetFilter f;
        for (qint64 id = 3000; id >= 1; id -= 3)
            f.ids << id << id;
        QList<qint64> expected;
        for (qint64 id = 3; id <= 2000; id += 3)
            expected << id;
        QCOMPARE(fleet.select(f), expected);
        f.model = u"HX-500"_qs;
        expected.removeIf([](qint64 id) { return id % 2; });
        QCOMPARE(fleet.select(f), expected);
        qsizetype total = 0;
        const QList<QJsonObject> page = fleet.list(f, 1, 2, &total);
        QCOMPARE(total, expected.size());
        QCOMPARE(page.size(), 2);
        QCOMPARE(page.first().value(u"id"_qs).toInteger(), expected.at(1));
    }
};

QTEST_GUILESS_MAIN(TestFleet)
#include "tst_fleet.moc"
