// ReleaseStore on SQLite (a temporary file, WAL) and on a real PostgreSQL started for the test
// (as in tests/iptvnext/tst_iptvnextpostgres.cpp; that row is skipped when the server binaries
// or the QPSQL driver are missing): releases, rollouts with 10,000 and 100,000 targets inserted
// in one transaction (timed), target updates, reload order, and a rollout run on PostgreSQL.

#include "../common/postgresserver.h"

#include "store/releasestore.h"
#include "releases/rollout.h"

#include <QElapsedTimer>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::control;

namespace {

Release makeRelease(const QString &version, qint64 uploadedAt, ReleaseChannel channel = ReleaseChannel::Clean)
{
    Release r;
    r.version = version;
    r.channel = channel;
    r.minBoxVersion = u"1.0.0"_qs;
    r.sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    r.size = 5 * 1024 * 1024;
    r.filePath = u"/srv/releases/"_qs + version + u".tar.zst"_qs;
    r.manifestJson = R"({"version":")" + version.toUtf8() + R"(","files":{"main.qml":"ab"}})";
    r.signatureKeyId = u"k1"_qs;
    r.uploadedBy = u"admin"_qs;
    r.uploadedAt = uploadedAt;
    return r;
}

} // namespace

class TestReleaseStore : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    int m_counter = 0;
    PostgresServer m_postgres;
    QString m_pgSkip;
    bool m_pgRunning = false;
    int m_pgPort = 0;

    void startPostgres()
    {
        m_pgSkip = PostgresServer::skipReason();
        if (!m_pgSkip.isEmpty())
            return;
        QString error;
        QVERIFY2(m_postgres.start(&error), qPrintable(error));
        m_pgPort = m_postgres.port();
        m_pgRunning = true;
    }

    // A fresh database per test: a new SQLite file, or a new PostgreSQL database.
    QString openDb(const QString &driver)
    {
        const QString name = QStringLiteral("releasestore-%1").arg(++m_counter);
        if (driver == u"sqlite") {
            QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, name);
            db.setDatabaseName(m_dir.filePath(name + u".sqlite"));
            if (!db.open())
                return {};
            QSqlQuery q(db);
            q.exec(u"PRAGMA journal_mode=WAL"_qs);
            q.exec(u"PRAGMA synchronous=NORMAL"_qs);
            return name;
        }
        const QString dbName = QStringLiteral("rs%1").arg(m_counter);
        {
            QSqlDatabase admin = QSqlDatabase::addDatabase(u"QPSQL"_qs, name + u"-admin");
            admin.setHostName(u"127.0.0.1"_qs);
            admin.setPort(m_pgPort);
            admin.setUserName(u"iptv"_qs);
            admin.setDatabaseName(u"postgres"_qs);
            if (!admin.open())
                return {};
            QSqlQuery q(admin);
            if (!q.exec(u"CREATE DATABASE "_qs + dbName))
                return {};
        }
        QSqlDatabase::removeDatabase(name + u"-admin");
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QPSQL"_qs, name);
        db.setHostName(u"127.0.0.1"_qs);
        db.setPort(m_pgPort);
        db.setUserName(u"iptv"_qs);
        db.setDatabaseName(dbName);
        if (!db.open())
            return {};
        QSqlQuery q(db);
        q.exec(u"SET client_min_messages TO WARNING"_qs);
        return name;
    }

    void drivers()
    {
        QTest::addColumn<QString>("driver");
        QTest::newRow("sqlite") << u"sqlite"_qs;
        QTest::newRow("postgres") << u"postgres"_qs;
    }

    // Opens the row's database with its schema, or skips the row.
    QString openStore(std::unique_ptr<ReleaseStore> *store)
    {
        QFETCH(QString, driver);
        if (driver == u"postgres" && !m_pgRunning)
            return {};
        const QString name = openDb(driver);
        if (name.isEmpty())
            return {};
        *store = std::make_unique<ReleaseStore>(name);
        QString error;
        if (!(*store)->createSchema(&error)) {
            qWarning("%s", qPrintable(error));
            return {};
        }
        return name;
    }

#define OPEN_STORE(store)                                                                                              \
    std::unique_ptr<ReleaseStore> store;                                                                               \
    if (openStore(&store).isEmpty()) {                                                                                 \
        QFETCH(QString, driver);                                                                                       \
        if (driver == u"postgres" && !m_pgRunning)                                                                     \
            QSKIP(qPrintable(m_pgSkip));                                                                               \
        QFAIL("cannot open the store");                                                                                \
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        startPostgres();
    }

    void cleanupTestCase()
    {
        for (const QString &name : QSqlDatabase::connectionNames()) {
            QSqlDatabase::database(name, false).close();
            QSqlDatabase::removeDatabase(name);
        }
        m_postgres.stop();
    }

    void releases_data() { drivers(); }
    void releases()
    {
        OPEN_STORE(store);
        QString error;
        QVERIFY2(store->createSchema(&error), qPrintable(error)); // twice is fine
        QVERIFY2(store->addRelease(makeRelease(u"1.1.0"_qs, 1000), &error), qPrintable(error));
        QVERIFY(store->addRelease(makeRelease(u"1.2.0"_qs, 2000), &error));
        QVERIFY(store->addRelease(makeRelease(u"2.0.0-beta.1"_qs, 3000, ReleaseChannel::Experimental), &error));
        QVERIFY(!store->addRelease(makeRelease(u"1.2.0"_qs, 4000), &error));
        QCOMPARE(error, u"release 1.2.0 already exists"_qs);
        QVERIFY(!store->addRelease(Release{}, &error));
        QVERIFY2(error.contains(u"empty version"_qs), qPrintable(error));

        const auto r = store->release(u"1.2.0"_qs);
        QVERIFY(r);
        const Release expected = makeRelease(u"1.2.0"_qs, 2000);
        QCOMPARE(r->sha256, expected.sha256);
        QCOMPARE(r->size, expected.size);
        QCOMPARE(r->filePath, expected.filePath);
        QCOMPARE(r->manifestJson, expected.manifestJson);
        QCOMPARE(r->minBoxVersion, u"1.0.0"_qs);
        QCOMPARE(r->signatureKeyId, u"k1"_qs);
        QCOMPARE(r->uploadedBy, u"admin"_qs);
        QCOMPARE(r->uploadedAt, 2000);
        QCOMPARE(r->toJson().value(u"manifest"_qs).toObject().value(u"version"_qs).toString(), u"1.2.0"_qs);
        QVERIFY(!r->toJson().contains(u"filePath"_qs));
        QVERIFY(!store->release(u"9.9.9"_qs));

        QList<Release> all = store->releases();
        QCOMPARE(all.size(), 3);
        QCOMPARE(all.first().version, u"2.0.0-beta.1"_qs); // newest upload first
        QCOMPARE(store->releases(ReleaseChannel::Clean).size(), 2);

        // a release a rollout refers to stays
        RolloutRecord rr;
        rr.releaseVersion = u"1.1.0"_qs;
        rr.groupPlanJson = "{}";
        rr.createdBy = u"t"_qs;
        QVERIFY(store->insertRollout(rr, {}, {}, &error) > 0);
        QVERIFY(!store->removeRelease(u"1.1.0"_qs, &error));
        QVERIFY2(error.contains(u"used by rollout"_qs), qPrintable(error));
        QVERIFY2(store->removeRelease(u"1.2.0"_qs, &error), qPrintable(error));
        QVERIFY(!store->removeRelease(u"1.2.0"_qs, &error));
        QCOMPARE(error, u"no release 1.2.0"_qs);
    }

    void bulkTargets_data()
    {
        QTest::addColumn<QString>("driver");
        QTest::addColumn<int>("count");
        QTest::newRow("sqlite 10000") << u"sqlite"_qs << 10000;
        QTest::newRow("sqlite 100000") << u"sqlite"_qs << 100000;
        QTest::newRow("postgres 10000") << u"postgres"_qs << 10000;
        QTest::newRow("postgres 100000") << u"postgres"_qs << 100000;
    }

    void bulkTargets()
    {
        QFETCH(int, count);
        OPEN_STORE(store);
        QString error;
        QVERIFY(store->addRelease(makeRelease(u"2.0.0"_qs, 1), &error));
        RolloutRecord rr;
        rr.releaseVersion = u"2.0.0"_qs;
        rr.groupPlanJson = R"({"percent":[1,10,50,100]})";
        rr.seed = 0xfedcba9876543210ULL; // above INT64_MAX: stored bit for bit
        rr.thresholds.errorThreshold = 0.02;
        rr.thresholds.errorScope = ErrorScope::Group;
        rr.createdBy = u"admin"_qs;
        rr.createdAt = rr.updatedAt = 77;
        const QList<int> sizes = GroupPlan{}.groupSizes(count);
        QList<GroupRecord> groups;
        QList<TargetRecord> targets;
        targets.reserve(count + 1);
        targets.append(TargetRecord{999999, -1, 0, TargetState::Skipped, 0, u"0.1"_qs, u"too old"_qs, 0, 0, 0});
        int n = 0;
        for (int g = 0; g < sizes.size(); ++g) {
            groups.append(GroupRecord{g, sizes.at(g), GroupState::Pending, 0, 0});
            for (int p = 0; p < sizes.at(g); ++p) {
                TargetRecord t;
                t.boxId = ++n;
                t.group = g;
                t.position = p;
                t.fromVersion = u"1.9.0"_qs;
                targets.append(t);
            }
        }
        QElapsedTimer timer;
        timer.start();
        const quint64 id = store->insertRollout(rr, groups, targets, &error);
        const qint64 insertMs = timer.restart();
        QVERIFY2(id > 0, qPrintable(error));

        QList<TargetRecord> loaded;
        QVERIFY2(store->loadTargets(id, &loaded, &error), qPrintable(error));
        const qint64 loadMs = timer.restart();
        QCOMPARE(loaded.size(), count + 1);
        QCOMPARE(loaded.first().boxId, 999999);
        QCOMPARE(loaded.first().error, u"too old"_qs);
        QCOMPARE(loaded.at(1).boxId, 1);
        QCOMPARE(loaded.last().boxId, targets.last().boxId);
        QCOMPARE(loaded.last().group, int(sizes.size()) - 1);
        // the TEXT column keeps the API's spelling ("b-1", no migration); in memory the id is a number
        QSqlQuery raw(QSqlDatabase::database(QStringLiteral("releasestore-%1").arg(m_counter)));
        QVERIFY(raw.exec(QStringLiteral("SELECT box_id FROM rollout_targets WHERE rollout_id = %1 AND group_index = 0 "
                                        "AND position = 0").arg(id)));
        QVERIFY(raw.next());
        QCOMPARE(raw.value(0).toString(), u"b-1"_qs);
        raw.finish();

        // 1,000 result updates in one batch
        QList<const TargetRecord *> changed;
        for (int i = 1; i <= 1000; ++i) {
            TargetRecord &t = targets[i];
            t.state = i % 50 == 0 ? TargetState::Failed : TargetState::Succeeded;
            t.attempts = 1;
            t.error = t.state == TargetState::Failed ? u"boom"_qs : QString();
            t.offeredAt = 10;
            t.finishedAt = 20;
            changed.append(&t);
        }
        timer.restart();
        QVERIFY2(store->updateTargets(id, changed, &error), qPrintable(error));
        const qint64 updateMs = timer.restart();
        QVERIFY(store->loadTargets(id, &loaded, &error));
        QCOMPARE(loaded.at(50).state, TargetState::Failed);
        QCOMPARE(loaded.at(50).error, u"boom"_qs);
        QCOMPARE(loaded.at(51).state, TargetState::Succeeded);
        QCOMPARE(loaded.at(51).finishedAt, 20);
        QCOMPARE(loaded.at(1001).state, TargetState::Pending);

        const auto back = store->rollout(id, &error);
        QVERIFY2(back, qPrintable(error));
        QCOMPARE(back->seed, rr.seed);
        QCOMPARE(back->thresholds.errorThreshold, 0.02);
        QCOMPARE(back->thresholds.errorScope, ErrorScope::Group);
        QCOMPARE(back->groupPlanJson, rr.groupPlanJson);
        QCOMPARE(back->state, RolloutState::Draft);
        QList<GroupRecord> loadedGroups;
        QVERIFY(store->loadGroups(id, &loadedGroups, &error));
        QCOMPARE(loadedGroups.size(), sizes.size());
        QCOMPARE(loadedGroups.last().size, sizes.last());
        // a row whose box id is not "b-<number>" is an error that names it, not a target with id 0
        QVERIFY(raw.exec(QStringLiteral("UPDATE rollout_targets SET box_id = 'box-7' WHERE rollout_id = %1 AND box_id = 'b-7'")
                             .arg(id)));
        QVERIFY(!store->loadTargets(id, &loaded, &error));
        QVERIFY2(error.contains(u"\"box-7\" is not of the form b-<number>"_qs), qPrintable(error));
        QFETCH(QString, driver);
        qInfo("%s: insert rollout with %d targets %lld ms (one transaction); load %lld ms; 1,000 target updates %lld ms",
              qPrintable(driver), count, insertMs, loadMs, updateMs);
    }

    void failedInsertLeavesNothing_data() { drivers(); }
    void failedInsertLeavesNothing()
    {
        OPEN_STORE(store);
        QString error;
        QVERIFY(store->addRelease(makeRelease(u"2.0.0"_qs, 1), &error));
        RolloutRecord rr;
        rr.releaseVersion = u"2.0.0"_qs;
        rr.groupPlanJson = "{}";
        // the same box twice violates the primary key: the whole rollout is rolled back
        QList<TargetRecord> targets(3);
        targets[0].boxId = 1;
        targets[1].boxId = 2;
        targets[2].boxId = 1;
        QCOMPARE(store->insertRollout(rr, {GroupRecord{0, 3}}, targets, &error), quint64(0));
        QVERIFY2(error.contains(u"insert targets"_qs) && error.contains(u"rows 0..2 of 3"_qs), qPrintable(error));
        QVERIFY(store->rollouts().isEmpty());
        // the connection is usable afterwards
        targets[2].boxId = 3;
        QVERIFY2(store->insertRollout(rr, {GroupRecord{0, 3}}, targets, &error) > 0, qPrintable(error));
    }

    // The whole state machine on the row's database, restarted in the middle.
    void rolloutRun_data() { drivers(); }
    void rolloutRun()
    {
        OPEN_STORE(store);
        QString error;
        const Release release = makeRelease(u"2.0.0"_qs, 1);
        QVERIFY(store->addRelease(release, &error));
        QList<BoxCandidate> boxes;
        for (int i = 0; i < 2000; ++i)
            boxes.append({i + 1, u"1.5.0"_qs, ReleaseChannel::Clean});
        RolloutOptions o;
        o.thresholds.errorThreshold = 0.01;
        o.thresholds.minResults = 100;
        o.seed = 5;
        const auto plan = RolloutPlanner::plan(release, ReleaseChannel::Clean, boxes, o, &error);
        QVERIFY2(plan, qPrintable(error));
        QElapsedTimer timer;
        timer.start();
        auto r = Rollout::create(store.get(), *plan, &error);
        QVERIFY2(r, qPrintable(error));
        QVERIFY(r->start(&error));
        const quint64 id = r->id();
        int reported = 0;
        for (int round = 0; round < 2; ++round) {
            const QList<qint64> batch = r->nextTargets(1000000);
            r->markOffered(batch);
            for (const qint64 b : batch) {
                r->reportResult(b, ++reported % 40 != 0); // 2.5 % fail
                if (r->state() != RolloutState::Running)
                    break;
            }
        }
        QCOMPARE(r->state(), RolloutState::Halted);
        const RolloutProgress before = r->progress();
        QVERIFY(r->lastStoreError().isEmpty());
        r.reset();
        r = Rollout::load(store.get(), id, &error);
        QVERIFY2(r, qPrintable(error));
        QCOMPARE(r->progress().toJson(), before.toJson());
        QCOMPARE(before.succeeded + before.failed, reported);
        QFETCH(QString, driver);
        qInfo("%s: 2,000-box rollout, %d results written through, halted at %d failed; %lld ms", qPrintable(driver),
              reported, before.failed, timer.elapsed());
    }
};

QTEST_GUILESS_MAIN(TestReleaseStore)
#include "tst_releasestore.moc"
