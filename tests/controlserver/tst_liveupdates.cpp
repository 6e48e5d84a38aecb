// LiveUpdates, the one publish path of the operators' live topics, against a bus that records
// what it is given and plays what other nodes would send: an update is built, delivered here and
// sent to other nodes only as far as someone follows its topic; interest travels at the end of the
// turn, a node's own messages are not taken for another's, and a silent node's interest and fleet
// share are dropped after four heartbeats.

#include "app/controlserver.h"
#include "cluster/fleetbus.h"
#include "cluster/liveupdates.h"
#include "testbox.h"

#include <QSignalSpy>
#include <QTest>

using namespace iptv::control;
using namespace Qt::StringLiterals;

namespace {

class RecordingBus : public FleetBus
{
public:
    using FleetBus::FleetBus;
    void routeCommand(qint64, qint64) override {}
    void publish(const QString &topic, const QCborMap &update) override { sent.append({topic, update}); }
    bool isShared() const override { return true; }
    QString nodeId() const override { return u"node-a"_s; }
    /// What another node sent.
    void hear(const QString &topic, const QCborMap &update) { Q_EMIT published(topic, update); }
    qsizetype count(const QString &topic) const
    {
        return std::count_if(sent.cbegin(), sent.cend(), [&](const auto &m) { return m.first == topic; });
    }
    /// The topics of the last interest message this node sent.
    QStringList lastInterest() const
    {
        for (auto it = sent.crbegin(); it != sent.crend(); ++it) {
            if (it->first == u"cluster:live") {
                QStringList topics;
                for (const QCborValue &t : it->second.value(u"topics"_s).toArray())
                    topics.append(t.toString());
                return topics;
            }
        }
        return {};
    }
    QList<std::pair<QString, QCborMap>> sent;
};

QCborMap interest(const QString &node, const QStringList &topics)
{
    QCborArray a;
    for (const QString &t : topics)
        a.append(t);
    return {{u"node"_s, node}, {u"topics"_s, a}};
}

} // namespace

class TestLiveUpdates : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<ControlServer> m_server;
    RecordingBus *m_bus = nullptr;
    LiveUpdates *m_live = nullptr;

private Q_SLOTS:
    void init()
    {
        m_server = std::make_unique<ControlServer>(testutil::testConfig(m_dir));
        m_bus = new RecordingBus;
        m_server->setBus(m_bus);
        m_live = m_server->live();
    }
    void cleanup() { m_server.reset(); }

    void sentOnlyToNodesThatFollow()
    {
        QSignalSpy here(m_live, &LiveUpdates::updated);
        QVERIFY(!m_live->watchesBoxes());
        QVERIFY(!m_live->wants(u"box:b-7"_s));
        m_live->publish(u"box:b-7"_s, {{u"kind"_s, u"telemetry"_s}});
        QCOMPARE(m_bus->count(u"box:b-7"_s), 0);

        m_bus->hear(u"cluster:live"_s, interest(u"node-b"_s, {u"box:b-7"_s, u"fleet"_s}));
        QVERIFY(m_live->watchesBoxes());
        QVERIFY(m_live->watchesFleet());
        QVERIFY(m_live->wants(u"box:b-7"_s));
        QVERIFY(!m_live->wantsHere(u"box:b-7"_s));
        QVERIFY(!m_live->wants(u"box:b-8"_s));
        m_live->publish(u"box:b-7"_s, {{u"kind"_s, u"telemetry"_s}});
        m_live->publish(u"box:b-8"_s, {{u"kind"_s, u"telemetry"_s}});
        QCOMPARE(m_bus->count(u"box:b-7"_s), 1);
        QCOMPARE(m_bus->count(u"box:b-8"_s), 0);
        QCOMPARE(here.count(), 0); // nobody here follows either

        // Node B stops following the box.
        m_bus->hear(u"cluster:live"_s, interest(u"node-b"_s, {u"fleet"_s}));
        QVERIFY(!m_live->watchesBoxes());
        m_live->publish(u"box:b-7"_s, {});
        QCOMPARE(m_bus->count(u"box:b-7"_s), 1);
    }

    void followersHereGetUpdatesOfEveryNode()
    {
        QSignalSpy here(m_live, &LiveUpdates::updated);
        m_live->follow(u"rollouts"_s);
        m_live->follow(u"rollouts"_s); // a second session
        QCOMPARE(m_bus->count(u"cluster:live"_s), 0); // said once, at the end of the turn
        QTRY_COMPARE(m_bus->lastInterest(), QStringList{u"rollouts"_s});
        QCOMPARE(m_bus->count(u"cluster:live"_s), 1);

        m_live->publish(u"rollouts"_s, {{u"kind"_s, u"rollout"_s}});
        QCOMPARE(here.count(), 1);
        QCOMPARE(m_bus->count(u"rollouts"_s), 0); // no other node follows it
        m_bus->hear(u"rollouts"_s, {{u"kind"_s, u"release"_s}});
        QCOMPARE(here.count(), 2);
        QCOMPARE(here.last().at(1).value<QCborMap>().value(u"kind"_s).toString(), u"release"_s);
        m_bus->hear(u"commands"_s, {{u"kind"_s, u"command"_s}});
        QCOMPARE(here.count(), 2); // not followed here

        m_live->unfollow(u"rollouts"_s);
        QVERIFY(m_live->wantsHere(u"rollouts"_s));
        m_live->unfollow(u"rollouts"_s);
        QVERIFY(!m_live->wants(u"rollouts"_s));
        QTRY_COMPARE(m_bus->lastInterest(), QStringList());
    }

    void ownMessagesAreNotAnotherNodes()
    {
        m_bus->hear(u"cluster:live"_s, interest(u"node-a"_s, {u"commands"_s}));
        QVERIFY(!m_live->wants(u"commands"_s));
        QCOMPARE(m_live->peerCount(), 0);
    }

    void silentNodesAreForgotten()
    {
        m_live->setHeartbeatInterval(50);
        FleetShare share;
        share.online = 3;
        share.reporting = 3;
        share.players = {{u"playing"_s, 3}};
        QCborMap message = interest(u"node-b"_s, {u"fleet"_s, u"box:b-1"_s});
        message.insert(u"share"_s, share.toCbor());
        m_bus->hear(u"cluster:live"_s, message);
        QCOMPARE(m_live->peerCount(), 1);
        QVERIFY(m_live->takeSummaryChanged());
        QJsonObject summary = m_live->summary();
        QCOMPARE(summary.value(u"online").toInt(), 3);
        QCOMPARE(summary.value(u"playerStates").toObject().value(u"playing").toInt(), 3);

        // This node's heartbeat carries its share (empty here) while someone watches the fleet.
        m_live->tick();
        QVERIFY(m_bus->sent.last().second.contains(u"share"_s));

        // Node B falls silent: four heartbeats later its interest and share are gone.
        QTRY_VERIFY((m_live->tick(), m_live->peerCount() == 0));
        QVERIFY(!m_live->watchesFleet());
        QVERIFY(!m_live->watchesBoxes());
        QVERIFY(m_live->takeSummaryChanged());
        summary = m_live->summary();
        QCOMPARE(summary.value(u"online").toInt(), 0);
        QVERIFY(summary.value(u"playerStates").toObject().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestLiveUpdates)
#include "tst_liveupdates.moc"
