// Rollout planning and the rollout state machine over a ReleaseStore on SQLite (a temporary
// file, WAL, like the server's): group sizing, version filtering, thresholds, timeouts,
// pause/resume/abort, restart from the store, and the issue's scenario (10,000 boxes, 2 %
// injected failures) with its timings.

#include "store/releasestore.h"
#include "releases/rollout.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QRandomGenerator>
#include <QSet>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::control;

namespace {

// n boxes with the ids firstId, firstId + 1, ...
QList<BoxCandidate> fleet(int n, const QString &version, ReleaseChannel channel = ReleaseChannel::Clean,
                          qint64 firstId = 1)
{
    QList<BoxCandidate> boxes;
    boxes.reserve(n);
    for (int i = 0; i < n; ++i)
        boxes.append(BoxCandidate{firstId + i, version, channel});
    return boxes;
}

Release makeRelease(const QString &version, ReleaseChannel channel = ReleaseChannel::Clean, const QString &minBox = {})
{
    Release r;
    r.version = version;
    r.channel = channel;
    r.minBoxVersion = minBox;
    r.sha256 = QByteArray(64, 'a');
    r.size = 1234;
    r.filePath = u"/var/lib/controlserver/releases/"_qs + version + u".bundle"_qs;
    r.manifestJson = R"({"version":")" + version.toUtf8() + R"("})";
    r.signatureKeyId = u"test-key"_qs;
    r.uploadedBy = u"admin"_qs;
    r.uploadedAt = 1700000000000;
    return r;
}

} // namespace

class TestRollout : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    int m_dbCounter = 0;
    QString m_connection;
    QString m_dbPath;
    std::unique_ptr<ReleaseStore> m_store;
    qint64 m_now = 1700000000000;

    Rollout::Clock clock()
    {
        return [this] { return m_now; };
    }

    void openDb(const QString &path)
    {
        m_connection = QStringLiteral("rollout-test-%1").arg(++m_dbCounter);
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, m_connection);
        db.setDatabaseName(path);
        QVERIFY(db.open());
        QSqlQuery q(db);
        QVERIFY(q.exec(u"PRAGMA journal_mode=WAL"_qs));
        QVERIFY(q.exec(u"PRAGMA synchronous=NORMAL"_qs));
        q.finish();
        m_store = std::make_unique<ReleaseStore>(m_connection);
        QString error;
        QVERIFY2(m_store->createSchema(&error), qPrintable(error));
    }

    void closeDb()
    {
        m_store.reset();
        {
            QSqlDatabase db = QSqlDatabase::database(m_connection, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_connection);
    }

    // Plans and stores a rollout of `release` (added to the store) for `boxes`.
    std::unique_ptr<Rollout> createRollout(const Release &release, const QList<BoxCandidate> &boxes,
                                           const RolloutOptions &options,
                                           ReleaseChannel channel = ReleaseChannel::Clean)
    {
        QString error;
        if (!m_store->release(release.version)) {
            if (!m_store->addRelease(release, &error))
                qWarning("%s", qPrintable(error));
        }
        const auto plan = RolloutPlanner::plan(release, channel, boxes, options, &error);
        if (!plan) {
            qWarning("plan: %s", qPrintable(error));
            return nullptr;
        }
        auto rollout = Rollout::create(m_store.get(), *plan, &error, clock());
        if (!rollout)
            qWarning("create: %s", qPrintable(error));
        return rollout;
    }

    static RolloutOptions options(GroupPlan groups, double success, double error, int minResults = 1)
    {
        RolloutOptions o;
        o.groups = std::move(groups);
        o.thresholds.successThreshold = success;
        o.thresholds.errorThreshold = error;
        o.thresholds.minResults = minResults;
        o.seed = 42;
        o.createdBy = u"tester"_qs;
        return o;
    }

    // Offers every offerable box and returns them.
    static QList<qint64> offerAll(Rollout *r)
    {
        const QList<qint64> ids = r->nextTargets(1000000);
        r->markOffered(ids);
        return ids;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
    }

    void init()
    {
        m_dbPath = m_dir.filePath(QStringLiteral("rollout-%1.sqlite").arg(m_dbCounter + 1));
        openDb(m_dbPath);
    }

    void cleanup()
    {
        closeDb();
    }

    void versionOrder_data()
    {
        QTest::addColumn<QString>("a");
        QTest::addColumn<QString>("b");
        QTest::addColumn<int>("expected");
        QTest::newRow("equal") << u"1.2.3"_qs << u"1.2.3"_qs << 0;
        QTest::newRow("numeric, not lexical") << u"1.10.0"_qs << u"1.9.2"_qs << 1;
        QTest::newRow("missing parts are 0") << u"1.4"_qs << u"1.4.0"_qs << 0;
        QTest::newRow("pre-release below release") << u"2.0.0-rc.1"_qs << u"2.0.0"_qs << -1;
        QTest::newRow("pre-release numeric ids") << u"2.0.0-rc.2"_qs << u"2.0.0-rc.10"_qs << -1;
        QTest::newRow("build metadata ignored") << u"1.0.0+git.abc"_qs << u"1.0.0"_qs << 0;
        QTest::newRow("invalid below valid") << u"garbage"_qs << u"0.0.1"_qs << -1;
        QTest::newRow("major wins") << u"3.0"_qs << u"2.99.99"_qs << 1;
    }

    void versionOrder()
    {
        QFETCH(QString, a);
        QFETCH(QString, b);
        QFETCH(int, expected);
        const int c = compareReleaseVersions(a, b);
        QCOMPARE((c > 0) - (c < 0), expected);
        const int r = compareReleaseVersions(b, a);
        QCOMPARE((r > 0) - (r < 0), -expected);
    }

    void groupSizes_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QList<double>>("sizes");
        QTest::addColumn<int>("eligible");
        QTest::addColumn<QList<int>>("expected");
        QTest::addColumn<QString>("error");
        const QString ok;
        QTest::newRow("issue plan 10,000") << u"percent"_qs << QList<double>{1, 10, 50, 100} << 10000 << QList<int>{100, 900, 4000, 5000} << ok;
        QTest::newRow("last group takes the rest") << u"percent"_qs << QList<double>{1, 10, 50} << 10000 << QList<int>{100, 900, 9000} << ok;
        QTest::newRow("rounded up") << u"percent"_qs << QList<double>{33.3, 66.6, 100} << 10 << QList<int>{4, 3, 3} << ok;
        QTest::newRow("tiny fleet drops empty groups") << u"percent"_qs << QList<double>{1, 10, 50, 100} << 3 << QList<int>{1, 1, 1} << ok;
        QTest::newRow("one box") << u"percent"_qs << QList<double>{1, 10, 50, 100} << 1 << QList<int>{1} << ok;
        QTest::newRow("single group") << u"percent"_qs << QList<double>{100} << 7 << QList<int>{7} << ok;
        QTest::newRow("counts") << u"count"_qs << QList<double>{10, 100, 1000} << 10000 << QList<int>{10, 100, 9890} << ok;
        QTest::newRow("counts beyond the fleet") << u"count"_qs << QList<double>{10, 100} << 50 << QList<int>{10, 40} << ok;
        QTest::newRow("first count covers all") << u"count"_qs << QList<double>{10, 100} << 5 << QList<int>{5} << ok;
        QTest::newRow("nobody") << u"count"_qs << QList<double>{5} << 0 << QList<int>{} << ok;
        QTest::newRow("decreasing percent") << u"percent"_qs << QList<double>{10, 5} << 10 << QList<int>{} << u"percent[1] = 5"_qs;
        QTest::newRow("zero percent") << u"percent"_qs << QList<double>{0, 100} << 10 << QList<int>{} << u"percent[0] = 0"_qs;
        QTest::newRow("over 100") << u"percent"_qs << QList<double>{50, 150} << 10 << QList<int>{} << u"percent[1] = 150"_qs;
        QTest::newRow("fractional count") << u"count"_qs << QList<double>{1.5} << 10 << QList<int>{} << u"count[0] = 1.5"_qs;
        QTest::newRow("zero count") << u"count"_qs << QList<double>{0, 5} << 10 << QList<int>{} << u"count[0] = 0"_qs;
        QTest::newRow("empty") << u"count"_qs << QList<double>{} << 10 << QList<int>{} << u"no groups"_qs;
    }

    void groupSizes()
    {
        QFETCH(QString, kind);
        QFETCH(QList<double>, sizes);
        QFETCH(int, eligible);
        QFETCH(QList<int>, expected);
        QFETCH(QString, error);
        QJsonArray values;
        for (double v : sizes)
            values.append(v);
        GroupPlan plan;
        QString why;
        const bool ok = GroupPlan::fromJson(QJsonObject{{kind, values}}, &plan, &why);
        if (!error.isEmpty()) {
            QVERIFY(!ok);
            QVERIFY2(why.contains(error), qPrintable(why));
            return;
        }
        QVERIFY2(ok, qPrintable(why));
        QCOMPARE(plan.toJson(), (QJsonObject{{kind, values}}));
        const QList<int> got = plan.groupSizes(eligible);
        QCOMPARE(got, expected);
        int sum = 0;
        for (int s : got)
            sum += s;
        QCOMPARE(sum, eligible);
    }

    void groupPlanJsonErrors()
    {
        GroupPlan plan;
        QString why;
        QVERIFY(!GroupPlan::fromJson(QJsonObject{}, &plan, &why));
        QVERIFY2(why.contains(u"exactly one"_qs), qPrintable(why));
        QVERIFY(!GroupPlan::fromJson(QJsonObject{{u"percent"_qs, u"10"_qs}}, &plan, &why));
        QVERIFY2(why.contains(u"array of numbers"_qs), qPrintable(why));
        RolloutThresholds t;
        QVERIFY(!RolloutThresholds::fromJson(QJsonObject{{u"successThreshold"_qs, 1.5}}, &t, &why));
        QVERIFY2(why.contains(u"successThreshold 1.5"_qs), qPrintable(why));
        QVERIFY(!RolloutThresholds::fromJson(QJsonObject{{u"errorScope"_qs, u"fleet"_qs}}, &t, &why));
        QVERIFY(RolloutThresholds::fromJson(QJsonObject{{u"errorThreshold"_qs, 0.02}, {u"errorScope"_qs, u"group"_qs}},
                                            &t, &why));
        QCOMPARE(t.errorThreshold, 0.02);
        QCOMPARE(t.errorScope, ErrorScope::Group);
        QCOMPARE(t.successThreshold, 0.95); // untouched keys keep their values
    }

    void versionFiltering()
    {
        enum : qint64 { OldA = 1, OldB, Same, SameMeta, Newer, Rc, Ancient, Unknown, Brave };
        QList<BoxCandidate> boxes = {
            {OldA, u"1.5.0"_qs, ReleaseChannel::Clean},         // eligible
            {OldB, u"1.9.9"_qs, ReleaseChannel::Clean},         // eligible
            {Same, u"2.0.0"_qs, ReleaseChannel::Clean},         // up to date
            {SameMeta, u"2.0+b7"_qs, ReleaseChannel::Clean},    // up to date (2.0 == 2.0.0)
            {Newer, u"2.1.0"_qs, ReleaseChannel::Clean},        // newer: only with force
            {Rc, u"2.0.0-rc.3"_qs, ReleaseChannel::Clean},      // below the release: eligible
            {Ancient, u"1.2.0"_qs, ReleaseChannel::Clean},      // below minimum: skipped
            {Unknown, QString(), ReleaseChannel::Clean},        // no version: skipped
            {Brave, u"1.0.0"_qs, ReleaseChannel::Experimental}, // other channel
            {OldA, u"1.5.0"_qs, ReleaseChannel::Clean},         // listed twice: once
            {0, u"1.5.0"_qs, ReleaseChannel::Clean},            // no id: not planned
        };
        const Release release = makeRelease(u"2.0.0"_qs, ReleaseChannel::Clean, u"1.5.0"_qs);
        QString error;
        auto plan = RolloutPlanner::plan(release, ReleaseChannel::Clean, boxes, options({}, 0.9, 0.1), &error);
        QVERIFY2(plan, qPrintable(error));
        QCOMPARE(plan->eligible, 3);
        QCOMPARE(plan->upToDate, 2);
        QCOMPARE(plan->newer, 1);
        QCOMPARE(plan->otherChannel, 1);
        QCOMPARE(plan->skipped, 2);
        QSet<qint64> eligible;
        QHash<qint64, QString> skipped;
        for (const TargetRecord &t : plan->targets) {
            if (t.state == TargetState::Skipped) {
                QCOMPARE(t.group, -1);
                skipped.insert(t.boxId, t.error);
            } else {
                QVERIFY(t.group >= 0);
                eligible.insert(t.boxId);
            }
        }
        QCOMPARE(eligible, (QSet<qint64>{OldA, OldB, Rc}));
        QVERIFY2(skipped.value(Ancient).contains(u"1.2.0 is below the release's minimum 1.5.0"_qs),
                 qPrintable(skipped.value(Ancient)));
        QVERIFY(skipped.value(Unknown).contains(u"no valid software version"_qs));
        QCOMPARE(plan->summary().value(u"eligible"_qs).toInt(), 3);

        // force: the newer box is rolled back too (the box at the exact version still is not).
        RolloutOptions forced = options({}, 0.9, 0.1);
        forced.force = true;
        plan = RolloutPlanner::plan(release, ReleaseChannel::Clean, boxes, forced, &error);
        QVERIFY2(plan, qPrintable(error));
        QCOMPARE(plan->eligible, 4);
        QCOMPARE(plan->newer, 0);
        QCOMPARE(plan->upToDate, 2);

        // experimental releases never go to the clean channel; clean ones may go to experimental
        QVERIFY(!RolloutPlanner::plan(makeRelease(u"3.0.0"_qs, ReleaseChannel::Experimental), ReleaseChannel::Clean,
                                      boxes, options({}, 0.9, 0.1), &error));
        QVERIFY2(error.contains(u"experimental"_qs), qPrintable(error));
        plan = RolloutPlanner::plan(makeRelease(u"2.0.0"_qs), ReleaseChannel::Experimental, boxes, options({}, 0.9, 0.1), &error);
        QVERIFY2(plan, qPrintable(error));
        QCOMPARE(plan->eligible, 1); // "brave"
        QCOMPARE(plan->otherChannel, 8);

        // nobody needs it: a clear error with the counts, and a conflict (right, but not now)
        RolloutRefusal refusal = RolloutRefusal::Internal;
        QVERIFY(!RolloutPlanner::plan(makeRelease(u"1.0.0"_qs), ReleaseChannel::Clean, fleet(5, u"1.0.0"_qs),
                                      options({}, 0.9, 0.1), &error, &refusal));
        QVERIFY2(error.contains(u"no box on the clean channel needs release 1.0.0 (5 at that version"_qs), qPrintable(error));
        QCOMPARE(refusal, RolloutRefusal::Conflict);

        // bad thresholds: the request is wrong
        QVERIFY(!RolloutPlanner::plan(release, ReleaseChannel::Clean, boxes, options({}, 0.0, 0.1), &error, &refusal));
        QVERIFY2(error.contains(u"successThreshold"_qs), qPrintable(error));
        QCOMPARE(refusal, RolloutRefusal::Invalid);
    }

    void seededSample()
    {
        const Release release = makeRelease(u"2.0.0"_qs);
        QList<BoxCandidate> boxes = fleet(1000, u"1.0.0"_qs);
        QString error;
        const auto a = RolloutPlanner::plan(release, ReleaseChannel::Clean, boxes, options({}, 0.9, 0.1), &error);
        std::reverse(boxes.begin(), boxes.end());
        const auto b = RolloutPlanner::plan(release, ReleaseChannel::Clean, boxes, options({}, 0.9, 0.1), &error);
        RolloutOptions other = options({}, 0.9, 0.1);
        other.seed = 43;
        const auto c = RolloutPlanner::plan(release, ReleaseChannel::Clean, boxes, other, &error);
        QVERIFY(a && b && c);
        QCOMPARE(a->groupSizes, (QList<int>{10, 90, 400, 500}));
        QList<qint64> orderA, orderB, orderC;
        for (const TargetRecord &t : a->targets)
            orderA.append(t.boxId);
        for (const TargetRecord &t : b->targets)
            orderB.append(t.boxId);
        for (const TargetRecord &t : c->targets)
            orderC.append(t.boxId);
        QCOMPARE(orderA, orderB); // the input order does not matter
        QVERIFY(orderA != orderC);
        // a random sample, not the first ids: the 10 boxes of group 0 are spread over the fleet
        QList<qint64> first = orderA.mid(0, 10);
        std::sort(first.begin(), first.end());
        QVERIFY(first.last() > 100);
        QCOMPARE(QSet<qint64>(orderA.begin(), orderA.end()).size(), 1000);
    }

    void successThresholdOpensNextGroup()
    {
        GroupPlan groups{GroupPlan::Kind::Percent, {10, 50, 100}};
        auto r = createRollout(makeRelease(u"2.0.0"_qs), fleet(100, u"1.0.0"_qs), options(groups, 0.9, 0.5, 5));
        QVERIFY(r);
        QCOMPARE(r->state(), RolloutState::Draft);
        QCOMPARE(r->groupCount(), 3);
        QVERIFY(r->nextTargets(100).isEmpty()); // a draft offers nothing
        QSignalSpy opened(r.get(), &Rollout::groupOpened);
        QSignalSpy changed(r.get(), &Rollout::rolloutChanged);
        QString error;
        QVERIFY2(r->start(&error), qPrintable(error));
        QCOMPARE(opened.size(), 1);
        QCOMPARE(opened.at(0).at(0).toInt(), 0);
        QVERIFY(!r->start(&error));
        QVERIFY2(error.contains(u"only a draft can start"_qs), qPrintable(error));

        // group 0 = 10 boxes; an online filter and maxN are honoured
        const QList<qint64> group0 = r->nextTargets(100);
        QCOMPARE(group0.size(), 10);
        QCOMPARE(r->nextTargets(3), group0.mid(0, 3));
        QCOMPARE(r->nextTargets(100, [&](qint64 id) { return id != group0.at(0); }), group0.mid(1));
        QCOMPARE(r->markOffered(group0), 10);
        QCOMPARE(r->markOffered(group0), 0); // offered already
        QVERIFY(r->nextTargets(100).isEmpty());
        QVERIFY(r->markInstalling(group0.at(0)));
        QCOMPARE(r->progress().groups.at(0).installing, 1);

        // 0.9 x 10 = 9 successes needed; 8 are not enough, one failure does not halt (1 of 9 < 0.5)
        for (int i = 0; i < 8; ++i)
            QCOMPARE(r->reportResult(group0.at(i), true), Rollout::ReportOutcome::Recorded);
        QCOMPARE(r->reportResult(group0.at(8), false, u"disk full"_qs), Rollout::ReportOutcome::Recorded);
        QCOMPARE(r->currentGroup(), 0);
        QCOMPARE(opened.size(), 1);
        QCOMPARE(r->progress().groups.at(0).required, 9);
        QCOMPARE(r->reportResult(group0.at(9), true), Rollout::ReportOutcome::Recorded);
        QCOMPARE(opened.size(), 2);
        QCOMPARE(opened.at(1).at(0).toInt(), 1);
        QCOMPARE(r->currentGroup(), 1);
        RolloutProgress p = r->progress();
        QCOMPARE(p.groups.at(0).state, GroupState::Succeeded);
        QCOMPARE(p.groups.at(1).state, GroupState::Open);
        QCOMPARE(p.groups.at(2).state, GroupState::Pending);
        QCOMPARE(p.groups.at(0).failed, 1);
        QCOMPARE(r->target(group0.at(8))->error, u"disk full"_qs);

        // group 1 (40) and then group 2 (50): all succeed, the rollout completes by itself
        QSignalSpy completed(r.get(), &Rollout::completed);
        QList<qint64> group1 = offerAll(r.get());
        QCOMPARE(group1.size(), 40);
        for (const qint64 id : group1)
            r->reportResult(id, true);
        QCOMPARE(r->currentGroup(), 2);
        const QList<qint64> group2 = offerAll(r.get());
        QCOMPARE(group2.size(), 50);
        for (const qint64 id : group2)
            r->reportResult(id, true);
        QCOMPARE(completed.size(), 1);
        QCOMPARE(r->state(), RolloutState::Completed);
        p = r->progress();
        QCOMPARE(p.succeeded, 99);
        QCOMPARE(p.failed, 1);
        QCOMPARE(p.total, 100);
        for (const GroupProgress &g : p.groups)
            QCOMPARE(g.state, GroupState::Succeeded);
        const QJsonObject json = p.toJson();
        QCOMPARE(json.value(u"state"_qs).toString(), u"completed"_qs);
        QCOMPARE(json.value(u"groups"_qs).toArray().at(0).toObject().value(u"failed"_qs).toInt(), 1);
        QCOMPARE(json.value(u"thresholds"_qs).toObject().value(u"successThreshold"_qs).toDouble(), 0.9);
        QVERIFY(changed.size() >= 4);
    }

    // The issue's scenario: 10,000 boxes, 2 % of them fail at random; the error threshold is
    // 1.5 % over the whole rollout after 50 results. Results arrive in offer order; the halt must
    // happen exactly at the first result where failed > 1.5 % x results (computed here from the
    // same sequence), and nothing is offered after it.
    void errorThresholdHaltsAt10000()
    {
        const int boxes = 10000;
        QElapsedTimer timer;
        timer.start();
        GroupPlan groups{GroupPlan::Kind::Percent, {1, 10, 50, 100}};
        auto r = createRollout(makeRelease(u"2.0.0"_qs), fleet(boxes, u"1.0.0"_qs), options(groups, 0.95, 0.015, 50));
        QVERIFY(r);
        const qint64 planMs = timer.restart();

        QRandomGenerator rng(7);
        QSet<qint64> failing;
        while (failing.size() < boxes / 50)
            failing.insert(1 + rng.bounded(boxes));

        QSignalSpy halted(r.get(), &Rollout::halted);
        QString error;
        QVERIFY(r->start(&error));
        int results = 0, failed = 0;
        int expectedResults = -1, expectedFailed = -1;
        QList<qint64> reportedOrder;
        while (r->state() == RolloutState::Running) {
            const QList<qint64> batch = r->nextTargets(500);
            QVERIFY2(!batch.isEmpty(), "a running rollout ran out of targets before halting");
            QCOMPARE(r->markOffered(batch), int(batch.size()));
            for (const qint64 id : batch) {
                const bool ok = !failing.contains(id);
                r->reportResult(id, ok, ok ? QString() : u"injected failure"_qs);
                reportedOrder.append(id);
                ++results;
                failed += ok ? 0 : 1;
                if (expectedResults < 0 && results >= 50 && double(failed) > 0.015 * results) {
                    expectedResults = results;
                    expectedFailed = failed;
                }
                if (r->state() != RolloutState::Running)
                    break;
            }
        }
        const qint64 runMs = timer.elapsed();
        QCOMPARE(r->state(), RolloutState::Halted);
        QVERIFY2(expectedResults > 0, "the injected failures never crossed the threshold");
        QCOMPARE(results, expectedResults); // halted on exactly that result, not later
        const RolloutProgress p = r->progress();
        QCOMPARE(p.succeeded + p.failed, expectedResults);
        QCOMPARE(p.failed, expectedFailed);
        QCOMPARE(halted.size(), 1);
        const QString reason = halted.at(0).at(0).toString();
        QVERIFY2(reason.contains(QStringLiteral("%1 of %2 results failed").arg(expectedFailed).arg(expectedResults)),
                 qPrintable(reason));
        QCOMPARE(p.reason, reason);
        QCOMPARE(p.groups.at(p.currentGroup).state, GroupState::Halted);
        // one result before the halt the rate was still at or under the threshold
        QVERIFY(double(expectedFailed - 1) <= 0.015 * (expectedResults - 1) || expectedResults == 50);
        QVERIFY(r->nextTargets(10000).isEmpty());
        QCOMPARE(r->markOffered(QList<qint64>{reportedOrder.last()}), 0);
        qInfo("10,000 boxes, 2 %% failures: halted after %d results (%d failed, group %d of 4, %d boxes offered); "
              "plan+store %lld ms, start+offer+report %lld ms",
              expectedResults, expectedFailed, p.currentGroup + 1, p.offered + p.succeeded + p.failed, planMs, runMs);

        // resuming is refused while the cause holds; raising the threshold lets it go on
        QVERIFY(!r->resume(&error));
        QVERIFY2(error.contains(u"change the thresholds first"_qs), qPrintable(error));
        RolloutThresholds t = r->record().thresholds;
        t.errorThreshold = 0.03;
        QVERIFY(r->setThresholds(t, &error));
        QCOMPARE(r->state(), RolloutState::Halted);
        QVERIFY2(r->resume(&error), qPrintable(error));
        QCOMPARE(r->state(), RolloutState::Running);
        QVERIFY(r->record().reason.isEmpty());
    }

    // The same fleet with 2 % failures under a 3 % threshold runs to completion; the timing of a
    // whole 10,000-box rollout: plan, store, offer, and 10,000 results written through to SQLite
    // one by one (a transaction each) or 1,000 per reportResults() call.
    void fullRolloutOf10000Completes_data()
    {
        QTest::addColumn<bool>("batched");
        QTest::newRow("one result per call") << false;
        QTest::newRow("1000 results per call") << true;
    }

    void fullRolloutOf10000Completes()
    {
        QFETCH(bool, batched);
        const int boxes = 10000;
        const Release release = makeRelease(u"2.0.0"_qs);
        QString error;
        QVERIFY(m_store->addRelease(release, &error));
        const QList<BoxCandidate> candidates = fleet(boxes, u"1.0.0"_qs);
        GroupPlan groups{GroupPlan::Kind::Percent, {1, 10, 50, 100}};
        QElapsedTimer timer;
        timer.start();
        const auto plan = RolloutPlanner::plan(release, ReleaseChannel::Clean, candidates, options(groups, 0.95, 0.03, 50), &error);
        QVERIFY2(plan, qPrintable(error));
        const qint64 planMs = timer.restart();
        auto r = Rollout::create(m_store.get(), *plan, &error, clock());
        QVERIFY2(r, qPrintable(error));
        const qint64 storeMs = timer.restart();
        QRandomGenerator rng(11);
        QVERIFY(r->start(&error));
        int reported = 0;
        while (r->state() == RolloutState::Running) {
            const QList<qint64> batch = r->nextTargets(1000);
            if (batch.isEmpty())
                break;
            r->markOffered(batch);
            QList<Rollout::BoxResult> results;
            for (const qint64 id : batch)
                results.append({id, rng.bounded(100) >= 2, u"boom"_qs});
            if (batched) {
                r->reportResults(results);
            } else {
                for (const Rollout::BoxResult &res : std::as_const(results))
                    r->reportResult(res.boxId, res.ok, res.text);
            }
            reported += int(batch.size());
        }
        const qint64 runMs = timer.elapsed();
        QCOMPARE(r->state(), RolloutState::Completed);
        QCOMPARE(reported, boxes);
        const RolloutProgress p = r->progress();
        QCOMPARE(p.succeeded + p.failed, boxes);
        QVERIFY(p.failed > 100 && p.failed < 300);
        QVERIFY(r->lastStoreError().isEmpty());
        qInfo("10,000 boxes to completion (%s): plan %lld ms, store %lld ms, start+offer+10,000 results %lld ms",
              batched ? "1000 results per call" : "one result per call", planMs, storeMs, runMs);
    }

    void groupScope()
    {
        // Rollout scope would dilute group 1's failures with group 0's successes; group scope halts.
        GroupPlan groups{GroupPlan::Kind::Count, {20, 20}};
        RolloutOptions o = options(groups, 0.5, 0.2, 10);
        o.thresholds.errorScope = ErrorScope::Group;
        auto r = createRollout(makeRelease(u"2.0.0"_qs), fleet(40, u"1.0.0"_qs), o);
        QVERIFY(r);
        QString error;
        QVERIFY(r->start(&error));
        for (const qint64 id : offerAll(r.get()))
            r->reportResult(id, true);
        QCOMPARE(r->currentGroup(), 1);
        const QList<qint64> group1 = offerAll(r.get());
        // 10 results with 3 failures: 30 % of group 1 (rollout-wide it would be 3 of 30 = 10 %)
        for (int i = 0; i < 10; ++i)
            r->reportResult(group1.at(i), i >= 3);
        QCOMPARE(r->state(), RolloutState::Halted);
        QVERIFY2(r->record().reason.contains(u"in group 1: 3 of 10 results failed"_qs), qPrintable(r->record().reason));
    }

    void groupBelowSuccessThresholdHalts()
    {
        // 4 of 10 fail: under the 50 % error threshold, but 6 < 9 needed: the group can't progress.
        GroupPlan groups{GroupPlan::Kind::Count, {10, 10}};
        auto r = createRollout(makeRelease(u"2.0.0"_qs), fleet(20, u"1.0.0"_qs), options(groups, 0.9, 0.5, 10));
        QVERIFY(r);
        QString error;
        QVERIFY(r->start(&error));
        const QList<qint64> group0 = offerAll(r.get());
        for (int i = 0; i < 10; ++i)
            r->reportResult(group0.at(i), i >= 4);
        QCOMPARE(r->state(), RolloutState::Halted);
        QVERIFY2(r->record().reason.contains(u"group 0 finished below the success threshold: 6 of 10 succeeded, 9 needed"_qs),
                 qPrintable(r->record().reason));
        QVERIFY(!r->resume(&error));
        RolloutThresholds t = r->record().thresholds;
        t.successThreshold = 0.6;
        QVERIFY(r->setThresholds(t, &error));
        QVERIFY2(r->resume(&error), qPrintable(error));
        QCOMPARE(r->currentGroup(), 1); // resuming re-evaluates: group 0 now counts as succeeded
        QCOMPARE(r->progress().groups.at(0).state, GroupState::Succeeded);
    }

    void pauseResumeAbort()
    {
        GroupPlan groups{GroupPlan::Kind::Count, {5, 5, 10}};
        auto r = createRollout(makeRelease(u"2.0.0"_qs), fleet(20, u"1.0.0"_qs), options(groups, 1.0, 0.5, 100));
        QVERIFY(r);
        QString error;
        QVERIFY(!r->pause(&error)); // draft
        QVERIFY(r->start(&error));
        const QList<qint64> group0 = r->nextTargets(100);
        QCOMPARE(r->markOffered(group0.mid(0, 3)), 3);
        QVERIFY2(r->pause(&error), qPrintable(error));
        QCOMPARE(r->state(), RolloutState::Paused);
        QVERIFY(r->nextTargets(100).isEmpty());
        QVERIFY(!r->isOfferable(group0.at(4)));
        QCOMPARE(r->markOffered(group0.mid(3)), 0);
        // boxes already installing still report while paused; no group opens meanwhile
        for (int i = 0; i < 3; ++i)
            QCOMPARE(r->reportResult(group0.at(i), true), Rollout::ReportOutcome::Recorded);
        // a box of group 0 updated by hand (never offered) reports too
        QCOMPARE(r->reportResult(group0.at(3), true), Rollout::ReportOutcome::Recorded);
        QCOMPARE(r->currentGroup(), 0);
        QVERIFY(!r->pause(&error));
        QVERIFY2(r->resume(&error), qPrintable(error));
        QCOMPARE(r->nextTargets(100), group0.mid(4));
        r->markOffered(group0.mid(4));
        r->reportResult(group0.at(4), true);
        QCOMPARE(r->currentGroup(), 1);
        QVERIFY(!r->complete(&error)); // the last group is not open yet
        QVERIFY2(error.contains(u"opened group 2 of 3"_qs), qPrintable(error));

        const QList<qint64> group1 = r->nextTargets(100);
        r->markOffered(group1.mid(0, 2));
        QSignalSpy changed(r.get(), &Rollout::rolloutChanged);
        QVERIFY2(r->abort(u"bad build"_qs, &error), qPrintable(error));
        QCOMPARE(changed.size(), 1);
        QCOMPARE(r->state(), RolloutState::Aborted);
        const RolloutProgress p = r->progress();
        QCOMPARE(p.groups.at(1).state, GroupState::Halted);
        QCOMPARE(p.groups.at(1).offered, 2);
        QCOMPARE(p.groups.at(1).skipped, 3);
        QCOMPARE(p.groups.at(2).skipped, 10);
        QCOMPARE(p.groups.at(2).state, GroupState::Pending);
        QVERIFY(r->target(group1.at(4))->error.contains(u"bad build"_qs));
        QVERIFY(!r->resume(&error));
        QVERIFY(!r->abort({}, &error));
        QVERIFY2(error.contains(u"already aborted"_qs), qPrintable(error));
        QVERIFY(!r->setThresholds(RolloutThresholds{}, &error));
        QVERIFY(r->nextTargets(100).isEmpty());
        // a late result is still stored (the fleet view shows the truth) but changes no state
        QCOMPARE(r->reportResult(group1.at(0), false, u"late"_qs), Rollout::ReportOutcome::Recorded);
        QCOMPARE(r->state(), RolloutState::Aborted);
        QCOMPARE(r->reportResult(group1.at(4), true), Rollout::ReportOutcome::Ignored); // skipped
    }

    void manualComplete()
    {
        GroupPlan groups{GroupPlan::Kind::Count, {2, 3}};
        auto r = createRollout(makeRelease(u"2.0.0"_qs), fleet(5, u"1.0.0"_qs), options(groups, 0.5, 0.9, 100));
        QVERIFY(r);
        QString error;
        QVERIFY(r->start(&error));
        const QList<qint64> g0 = offerAll(r.get());
        r->reportResult(g0.at(0), true);
        QCOMPARE(r->currentGroup(), 1);
        const QList<qint64> g1 = r->nextTargets(10);
        r->markOffered(g1.mid(0, 1));
        r->reportResult(g1.at(0), true);
        r->reportResult(g1.at(1), true); // updated by hand, never offered
        // the last group succeeded (2 of 3), but boxes are still outstanding: no automatic completion
        QCOMPARE(r->state(), RolloutState::Running);
        QSignalSpy completed(r.get(), &Rollout::completed);
        QVERIFY2(r->complete(&error), qPrintable(error));
        QCOMPARE(completed.size(), 1);
        QCOMPARE(r->state(), RolloutState::Completed);
        QCOMPARE(r->target(g1.at(2))->state, TargetState::Skipped);
        QCOMPARE(r->target(g0.at(1))->state, TargetState::Offered); // still out there; may report
    }

    void reportsLatestWins()
    {
        GroupPlan groups{GroupPlan::Kind::Count, {10, 10}};
        auto r = createRollout(makeRelease(u"2.0.0"_qs), fleet(20, u"1.0.0"_qs), options(groups, 0.5, 0.9, 100));
        QVERIFY(r);
        QString error;
        QVERIFY(r->start(&error));
        const QList<qint64> g0 = offerAll(r.get());
        QCOMPARE(r->reportResult(g0.at(0), true), Rollout::ReportOutcome::Recorded);
        QCOMPARE(r->reportResult(g0.at(0), true), Rollout::ReportOutcome::Duplicate);
        // installed, then its health check failed and it rolled back
        QCOMPARE(r->reportResult(g0.at(0), false, u"health check failed, rolled back"_qs), Rollout::ReportOutcome::Recorded);
        QCOMPARE(r->progress().groups.at(0).succeeded, 0);
        QCOMPARE(r->progress().groups.at(0).failed, 1);
        QCOMPARE(r->reportResult(999999, true), Rollout::ReportOutcome::UnknownBox);
    }

    void timeouts()
    {
        GroupPlan groups{GroupPlan::Kind::Count, {4, 4}};
        RolloutOptions o = options(groups, 0.75, 0.9, 100);
        o.thresholds.resultTimeoutMs = 60000;
        o.thresholds.maxOffers = 2;
        auto r = createRollout(makeRelease(u"2.0.0"_qs), fleet(8, u"1.0.0"_qs), o);
        QVERIFY(r);
        QString error;
        QVERIFY(r->start(&error));
        QCOMPARE(r->nextDeadline(), 0);
        const QList<qint64> g0 = offerAll(r.get());
        const qint64 offeredAt = m_now;
        QCOMPARE(r->nextDeadline(), offeredAt + 60000);
        m_now += 30000;
        r->markInstalling(g0.at(1));
        r->reportResult(g0.at(0), true);
        QCOMPARE(r->expireOverdue(), 0);
        m_now = offeredAt + 60000;
        // three attempts time out (installing counts from the offer too): offered again
        QCOMPARE(r->expireOverdue(), 3);
        const TargetRecord t = *r->target(g0.at(1));
        QCOMPARE(t.state, TargetState::Pending);
        QCOMPARE(t.attempts, 1);
        QVERIFY2(t.error.contains(u"no result within 60 s (attempt 1 of 2)"_qs), qPrintable(t.error));
        QCOMPARE(r->nextTargets(10), g0.mid(1));
        QCOMPARE(r->markOffered(g0.mid(1)), 3);
        r->reportResult(g0.at(2), true);
        m_now += 60000;
        QCOMPARE(r->expireOverdue(), 2);
        // second attempt: failed for good
        QCOMPARE(r->target(g0.at(1))->state, TargetState::Failed);
        QCOMPARE(r->target(g0.at(1))->attempts, 2);
        QCOMPARE(r->progress().groups.at(0).failed, 2);
        // 2 of 4 succeeded, 3 needed, all finished: halted
        QCOMPARE(r->state(), RolloutState::Halted);
        QVERIFY2(r->record().reason.contains(u"2 of 4 succeeded, 3 needed"_qs), qPrintable(r->record().reason));
        // a late success after the timeout still counts: now the group can go on
        QCOMPARE(r->reportResult(g0.at(1), true), Rollout::ReportOutcome::Recorded);
        QVERIFY2(r->resume(&error), qPrintable(error));
        QCOMPARE(r->currentGroup(), 1);
    }

    void oneActiveRolloutPerChannel()
    {
        auto a = createRollout(makeRelease(u"2.0.0"_qs), fleet(10, u"1.0.0"_qs), options({}, 0.9, 0.1));
        QVERIFY(a);
        QString error;
        const Release next = makeRelease(u"2.1.0"_qs);
        QVERIFY(m_store->addRelease(next, &error));
        auto plan = RolloutPlanner::plan(next, ReleaseChannel::Clean, fleet(10, u"1.0.0"_qs), options({}, 0.9, 0.1), &error);
        QVERIFY(plan);
        RolloutRefusal refusal = RolloutRefusal::Internal;
        QVERIFY(!Rollout::create(m_store.get(), *plan, &error, clock(), &refusal));
        QVERIFY2(error.contains(u"the clean channel already has rollout 1 (draft of 2.0.0)"_qs), qPrintable(error));
        QCOMPARE(refusal, RolloutRefusal::Conflict);
        // the experimental channel is free
        auto exp = RolloutPlanner::plan(next, ReleaseChannel::Experimental,
                                        fleet(3, u"1.0.0"_qs, ReleaseChannel::Experimental, 1001), options({}, 0.9, 0.1), &error);
        QVERIFY(exp);
        QVERIFY2(Rollout::create(m_store.get(), *exp, &error, clock()), qPrintable(error));
        // once the first is aborted the channel is free again
        QVERIFY(a->abort({}, &error));
        error.clear();
        QVERIFY2(Rollout::create(m_store.get(), *plan, &error, clock()), qPrintable(error));
        // a release that is not stored cannot roll out
        auto stray = RolloutPlanner::plan(makeRelease(u"9.0.0"_qs), ReleaseChannel::Experimental,
                                          fleet(3, u"1.0.0"_qs, ReleaseChannel::Experimental), options({}, 0.9, 0.1), &error);
        QVERIFY(stray);
        QVERIFY(!Rollout::create(m_store.get(), *stray, &error, clock(), &refusal));
        QVERIFY2(error.contains(u"release 9.0.0 is not in the store"_qs), qPrintable(error));
        QCOMPARE(refusal, RolloutRefusal::Internal);
    }

    // Restart: the rollout is rebuilt from the database (a new connection, a new object) and
    // continues: counters, group states, offered boxes and their timeouts, thresholds.
    void persistence()
    {
        GroupPlan groups{GroupPlan::Kind::Percent, {10, 100}};
        RolloutOptions o = options(groups, 0.8, 0.5, 100);
        o.thresholds.resultTimeoutMs = 60000;
        o.thresholds.maxOffers = 1;
        QList<BoxCandidate> boxes = fleet(50, u"1.0.0"_qs);
        constexpr qint64 ancient = 1000;
        boxes.append({ancient, u"0.1"_qs, ReleaseChannel::Clean});
        auto r = createRollout(makeRelease(u"2.0.0"_qs, ReleaseChannel::Clean, u"0.5"_qs), boxes, o);
        QVERIFY(r);
        const quint64 id = r->id();
        QString error;
        QVERIFY(r->start(&error));
        const QList<qint64> g0 = offerAll(r.get());
        QCOMPARE(g0.size(), 5);
        for (int i = 0; i < 4; ++i)
            r->reportResult(g0.at(i), i != 1, u"nope"_qs);
        r->markInstalling(g0.at(4));
        QCOMPARE(r->currentGroup(), 0); // 3 of 5, 4 needed
        r->pause(&error);
        const RolloutProgress before = r->progress();
        QVERIFY(r->lastStoreError().isEmpty());
        r.reset();
        closeDb();

        openDb(m_dbPath);
        auto active = Rollout::loadActive(m_store.get(), &error, clock());
        QCOMPARE(active.size(), size_t(1));
        r = std::move(active.front());
        QCOMPARE(r->id(), id);
        const RolloutProgress after = r->progress();
        QCOMPARE(after.toJson(), before.toJson());
        QCOMPARE(after.plannedSkipped, 1);
        QCOMPARE(r->state(), RolloutState::Paused);
        QCOMPARE(r->record().seed, quint64(42));
        QCOMPARE(r->record().createdBy, u"tester"_qs);
        QCOMPARE(r->release().minBoxVersion, u"0.5"_qs);
        QCOMPARE(r->target(g0.at(1))->error, u"nope"_qs);
        const QJsonObject targetJson = r->target(g0.at(1))->toJson();
        QCOMPARE(targetJson.value(u"state"_qs).toString(), u"failed"_qs);
        QCOMPARE(targetJson.value(u"fromVersion"_qs).toString(), u"1.0.0"_qs);
        QCOMPARE(targetJson.value(u"attempts"_qs).toInt(), 1);
        QCOMPARE(r->target(ancient)->state, TargetState::Skipped);
        // the API's target listing: by state, by group, paged
        QCOMPARE(r->targets(TargetState::Succeeded, -2, 0, 100).size(), 3);
        QCOMPARE(r->targets(TargetState::Failed, 0, 0, 100).first().boxId, g0.at(1));
        QCOMPARE(r->targets(std::nullopt, -1, 0, 100).first().boxId, ancient);
        QCOMPARE(r->targets(std::nullopt, 1, 40, 100).size(), 5);
        QCOMPARE(r->targets(std::nullopt, -2, 10, 3).first().boxId, r->targets(std::nullopt, -2, 0, 100).at(10).boxId);
        QCOMPARE(r->nextDeadline(), m_now + 60000); // the installing box's timeout survived

        QVERIFY(r->resume(&error));
        QCOMPARE(r->reportResult(g0.at(4), true), Rollout::ReportOutcome::Recorded);
        QCOMPARE(r->currentGroup(), 1);
        r.reset();
        closeDb();

        // and once more, to the end
        openDb(m_dbPath);
        r = Rollout::load(m_store.get(), id, &error, clock());
        QVERIFY2(r, qPrintable(error));
        QCOMPARE(r->currentGroup(), 1);
        QCOMPARE(r->progress().groups.at(0).state, GroupState::Succeeded);
        const QList<qint64> g1 = offerAll(r.get());
        QCOMPARE(g1.size(), 45);
        for (const qint64 id1 : g1)
            r->reportResult(id1, true);
        QCOMPARE(r->state(), RolloutState::Completed);
        r.reset();
        closeDb();
        openDb(m_dbPath);
        QVERIFY(m_store->rollouts(true).isEmpty());
        QVERIFY(Rollout::loadActive(m_store.get(), &error).empty());
        const auto record = m_store->rollout(id);
        QVERIFY(record);
        QCOMPARE(record->state, RolloutState::Completed);
        QCOMPARE(record->reason, u"all groups finished"_qs);
        QVERIFY(record->finishedAt > 0);
    }

    void loadRejectsUnknownRollout()
    {
        QString error;
        QVERIFY(!Rollout::load(m_store.get(), 999, &error));
        QVERIFY2(error.contains(u"no rollout 999"_qs), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TestRollout)
#include "tst_rollout.moc"
