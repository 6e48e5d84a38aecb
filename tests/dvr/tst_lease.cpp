// Recorder leases on SQLite and on a real PostgreSQL (started for the test; skipped with the
// reason when it cannot run here): claims, renewals, release; a node whose lease expired has its
// recordings taken over, and learns it lost them; two LeaseKeepers, one of which dies, the other
// taking over within one lease period; nodes claiming at the same time from their own threads and
// connections never get the same recording; a node restarted under its name takes its own back
// at once, and a node that stops cleanly frees them for the others. Liveness (PostgreSQL): a node
// whose session ended is taken over once its lock has been free for the grace period, long before
// its leases expire, while one whose connection is terminated and opened again at once keeps its
// work; a node that loses its session and cannot open another stops its work before the other
// node may claim it. The lock is held and confirmed by a thread of its own: a keeper whose event
// loop is blocked for seconds keeps its work and nobody takes it over, while one whose liveness
// session alone is terminated stops within half the grace.

#include "../common/postgresserver.h"

#include <core/sqldatabase.h>
#include <dvr/lease.h>

#include <QDateTime>
#include <QElapsedTimer>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QRegularExpression>
#include <QScopeGuard>

#include <limits>
#include <mutex>
#include <thread>

using namespace iptv::dvr;

class TestLease : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void claimRenewFinish_data() { backends(); }
    void claimRenewFinish();
    void takeoverAfterExpiry_data() { backends(); }
    void takeoverAfterExpiry();
    void epochRisesWithEveryClaim_data() { backends(); }
    void epochRisesWithEveryClaim();
    void keeperTakesOverDeadNode_data() { backends(); }
    void keeperTakesOverDeadNode();
    void expiredLeaseIsClaimedWhenItExpires_data() { backends(); }
    void expiredLeaseIsClaimedWhenItExpires();
    void concurrentClaimsAreDisjoint_data() { backends(); }
    void concurrentClaimsAreDisjoint();
    void restartedNodeTakesBackItsOwn_data() { backends(); }
    void restartedNodeTakesBackItsOwn();
    void lateRenewalKeepsWhatNobodyTook_data() { backends(); }
    void lateRenewalKeepsWhatNobodyTook();
    void blockedKeeperKeepsItsLeases_data() { backends(); }
    void blockedKeeperKeepsItsLeases();
    void unrenewableLeasesAreGivenUp();
    void scopesKeepKindsApart_data() { backends(); }
    void scopesKeepKindsApart();
    void storeReconnects();
    void secondProcessOfANodeWaitsForTheFirst();
    void goneNodeIsTakenOverBeforeItsLeaseExpires();
    void nodeWithoutItsSessionStopsFirst();
    void blockedEventLoopKeepsTheLock();
    void nodeWithoutItsLivenessSessionStops();
    void handOverWaitsForTheWorkToStop();
    void handOverThatNeverStopsIsGivenUp_data() { backends(); }
    void handOverThatNeverStopsIsGivenUp();
    void fairSharesAddUp_data();
    void fairSharesAddUp();

private:
    void backends()
    {
        QTest::addColumn<bool>("postgres");
        QTest::newRow("SQLite") << false;
        QTest::newRow("PostgreSQL") << true;
    }
    /// A fresh database of the row's backend; empty after QSKIP.
    QString database(bool postgres)
    {
        if (!postgres)
            return m_dir.filePath(QStringLiteral("lease%1.sqlite").arg(++m_databases));
        return m_postgresError.isEmpty() ? m_postgres.freshDatabase(QStringLiteral("lease")) : QString();
    }

    QTemporaryDir m_dir;
    PostgresServer m_postgres;
    QString m_postgresError;
    int m_databases = 0;
};

#define OPEN_DATABASE(var)                                                                                               \
    QFETCH(bool, postgres);                                                                                              \
    if (postgres && !m_postgresError.isEmpty())                                                                          \
        QSKIP(qPrintable(QStringLiteral("PostgreSQL cannot run here: ") + m_postgresError));                            \
    const QString var = database(postgres);                                                                              \
    QVERIFY(!var.isEmpty())

void TestLease::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_postgresError = m_postgres.startOrSkipReason();
}

void TestLease::claimRenewFinish()
{
    OPEN_DATABASE(db);
    LeaseStore a, b;
    QString error;
    QVERIFY2(a.open(db, &error), qPrintable(error));
    QVERIFY2(b.open(db, &error), qPrintable(error));
    QCOMPARE(a.isPostgres(), postgres);
    for (const char *id : {"r1", "r2", "r3"})
        QVERIFY2(a.add(QString::fromLatin1(id), "{\"channel\":\"one\"}", &error), qPrintable(error));
    QVERIFY2(a.add(u"r1"_qs, "{}", &error), qPrintable(error)); // again: left as it is

    const qint64 t = 1'000'000;
    auto claims = a.claim(u"node-a"_qs, 2, 1000, t, &error);
    QVERIFY2(claims, qPrintable(error));
    QCOMPARE(claims->size(), 2);
    QCOMPARE(claims->at(0).job.id, u"r1"_qs);
    QCOMPARE(claims->at(0).job.spec, QByteArray("{\"channel\":\"one\"}"));
    QVERIFY(claims->at(0).previousNode.isEmpty());
    claims = b.claim(u"node-b"_qs, 5, 1000, t + 10, &error);
    QVERIFY2(claims, qPrintable(error));
    QCOMPARE(claims->size(), 1);
    QCOMPARE(claims->at(0).job.id, u"r3"_qs);
    QVERIFY(a.claim(u"node-a"_qs, 5, 1000, t + 20, &error)->isEmpty());

    const auto held = a.renew(u"node-a"_qs, 1000, t + 900, &error);
    QVERIFY2(held, qPrintable(error));
    QCOMPARE(*held, (QStringList{u"r1"_qs, u"r2"_qs}));
    QVERIFY2(a.finish(u"r1"_qs, u"node-a"_qs, u"done"_qs, &error), qPrintable(error));
    QVERIFY(!b.finish(u"r2"_qs, u"node-b"_qs, u"done"_qs, &error)); // not b's
    QVERIFY2(error.contains(QLatin1String("does not hold it")), qPrintable(error));
    const auto jobs = a.jobs(&error);
    QVERIFY2(jobs, qPrintable(error));
    QCOMPARE(jobs->at(0).state, u"done"_qs);
    QVERIFY(jobs->at(0).node.isEmpty());
    QCOMPARE(jobs->at(1).node, u"node-a"_qs);
    QCOMPARE(jobs->at(1).leaseUntilMs, t + 1900);
    // Long after, the expired leases are free again; a finished recording is never claimed again.
    claims = b.claim(u"node-b"_qs, 5, 1000, t + 100'000, &error);
    QVERIFY2(claims, qPrintable(error));
    QCOMPARE(claims->size(), 2);
    QCOMPARE(claims->at(0).job.id, u"r2"_qs);
    QCOMPARE(claims->at(1).job.id, u"r3"_qs);
}

void TestLease::takeoverAfterExpiry()
{
    OPEN_DATABASE(db);
    LeaseStore a, b;
    QString error;
    QVERIFY2(a.open(db, &error), qPrintable(error));
    QVERIFY2(b.open(db, &error), qPrintable(error));
    QVERIFY(a.add(u"r1"_qs, "{}", &error) && a.add(u"r2"_qs, "{}", &error));
    const qint64 t = 5'000'000;
    QCOMPARE(a.claim(u"node-a"_qs, 10, 1000, t, &error)->size(), 2);
    QVERIFY(b.claim(u"node-b"_qs, 10, 1000, t + 999, &error)->isEmpty()); // still a's
    // node-a stops renewing (it died); at t + 1001 the leases have expired.
    const auto claims = b.claim(u"node-b"_qs, 10, 1000, t + 1001, &error);
    QVERIFY2(claims, qPrintable(error));
    QCOMPARE(claims->size(), 2);
    QCOMPARE(claims->at(0).previousNode, u"node-a"_qs);
    QCOMPARE(claims->at(0).job.takeovers, 1);
    // node-a comes back: it holds nothing any more, and its renewal does not steal them back.
    const auto held = a.renew(u"node-a"_qs, 1000, t + 1002, &error);
    QVERIFY2(held, qPrintable(error));
    QVERIFY(held->isEmpty());
    QCOMPARE(b.renew(u"node-b"_qs, 1000, t + 1500, &error)->size(), 2);
    const auto jobs = a.jobs(&error);
    for (const LeaseJob &j : *jobs) {
        QCOMPARE(j.node, u"node-b"_qs);
        QCOMPARE(j.takeovers, 1);
    }
}

// The fencing token: every claim of a recording (the first, a takeover, a restart's reclaim, a
// claim after a release) raises its epoch, so each writer of its folder has a higher one than
// every writer before; only the holder with the epoch it was given can raise it further (past a
// folder's that outlived its table), and a table made before there were epochs gets the column.
void TestLease::epochRisesWithEveryClaim()
{
    OPEN_DATABASE(db);
    QString error;
    {
        // A table of before: no epoch column, one pending row.
        const QString connection = QStringLiteral("lease-old-table");
        QVERIFY2(iptv::openSqlDatabase(db, connection, &error), qPrintable(error));
        QVERIFY2(iptv::execSql(connection,
                               QStringLiteral("CREATE TABLE dvr_leases (id TEXT PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL "
                                              "DEFAULT 'pending', node TEXT, lease_until BIGINT NOT NULL DEFAULT 0, takeovers "
                                              "INTEGER NOT NULL DEFAULT 0)"),
                               &error),
                 qPrintable(error));
        QVERIFY2(iptv::execSql(connection, QStringLiteral("INSERT INTO dvr_leases (id, spec) VALUES ('r1', '{}')"), &error),
                 qPrintable(error));
        iptv::closeSqlDatabase(connection);
    }
    LeaseStore a, b;
    QVERIFY2(a.open(db, &error), qPrintable(error));
    QVERIFY2(b.open(db, &error), qPrintable(error));
    QCOMPARE(a.jobs(&error)->at(0).epoch, 0);
    const qint64 t = 9'000'000;
    auto claims = a.claim(u"node-a"_qs, 10, 1000, t, &error);
    QVERIFY2(claims && claims->size() == 1, qPrintable(error));
    QCOMPARE(claims->at(0).job.epoch, 1);
    // node-a stalls past its lease; node-b takes over with the next epoch.
    claims = b.claim(u"node-b"_qs, 10, 1000, t + 1001, &error);
    QVERIFY2(claims && claims->size() == 1, qPrintable(error));
    QCOMPARE(claims->at(0).job.epoch, 2);
    // node-a, back, cannot raise an epoch that is no longer its own.
    QCOMPARE(a.raiseEpoch(u"r1"_qs, u"node-a"_qs, 1, 9, &error).value_or(-1), 0);
    QCOMPARE(b.jobs(&error)->at(0).epoch, 2);
    // node-b's folder names epoch 6 (storage kept, table made again): node-b raises past it.
    QCOMPARE(b.raiseEpoch(u"r1"_qs, u"node-b"_qs, 2, 7, &error).value_or(-1), 7);
    QCOMPARE(b.raiseEpoch(u"r1"_qs, u"node-b"_qs, 2, 8, &error).value_or(-1), 0); // not with the old one
    // node-b restarted under its name takes it back: a new writer, a new epoch.
    claims = b.reclaim(u"node-b"_qs, 1000, t + 1500, &error);
    QVERIFY2(claims && claims->size() == 1, qPrintable(error));
    QCOMPARE(claims->at(0).job.epoch, 8);
    QVERIFY2(b.release(u"node-b"_qs, &error), qPrintable(error));
    claims = a.claim(u"node-a"_qs, 10, 1000, t + 1600, &error);
    QVERIFY2(claims && claims->size() == 1, qPrintable(error));
    QCOMPARE(claims->at(0).job.epoch, 9);
    const auto jobs = a.jobs(&error);
    QVERIFY2(jobs, qPrintable(error));
    QCOMPARE(jobs->at(0).epoch, 9);
    QCOMPARE(jobs->at(0).node, u"node-a"_qs);
}

void TestLease::keeperTakesOverDeadNode()
{
    OPEN_DATABASE(db);
    const qint64 leaseMs = 1500;
    {
        LeaseStore setup;
        QString error;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        for (int i = 0; i < 3; ++i)
            QVERIFY2(setup.add(QStringLiteral("rec%1").arg(i), "{}", &error), qPrintable(error));
    }
    LeaseKeeper a, b;
    QSignalSpy claimedA(&a, &LeaseKeeper::claimed);
    QSignalSpy claimedB(&b, &LeaseKeeper::claimed);
    QSignalSpy failedB(&b, &LeaseKeeper::failed);
    QString error;
    QVERIFY2(a.start({db, u"node-a"_qs, leaseMs, 10}, &error), qPrintable(error));
    QTRY_COMPARE(claimedA.size(), 3);
    QVERIFY2(b.start({db, u"node-b"_qs, leaseMs, 10}, &error), qPrintable(error));
    // While node-a renews, node-b gets nothing (two lease periods).
    QTest::qWait(int(2 * leaseMs));
    QCOMPARE(claimedB.size(), 0);
    QCOMPARE(a.held().size(), 3);

    QElapsedTimer sinceDeath;
    a.stop(); // node-a dies: no more renewals
    sinceDeath.start();
    QTRY_COMPARE_WITH_TIMEOUT(claimedB.size(), 3, int(3 * leaseMs));
    const qint64 took = sinceDeath.elapsed();
    qInfo().noquote() << QStringLiteral("node-b took the recordings over %1 ms after node-a died (lease %2 ms)")
                             .arg(took).arg(leaseMs);
    // The leases expire at most one period after the death; node-b looks every tenth of it.
    QVERIFY2(took <= leaseMs + leaseMs / 10 + 300, qPrintable(QStringLiteral("%1 ms").arg(took)));
    for (const QList<QVariant> &c : claimedB)
        QCOMPARE(c.at(1).toString(), u"node-a"_qs);
    QCOMPARE(failedB.size(), 0);
    QCOMPARE(b.held().size(), 3);
}

// A node with room claims a dead node's lease the moment it expires, not at its next look (a
// tenth of its lease period later at worst): the lease of a node killed between two renewals runs
// out at a moment the survivor reads from the table.
void TestLease::expiredLeaseIsClaimedWhenItExpires()
{
    OPEN_DATABASE(db);
    LeaseStore dead;
    QString error;
    QVERIFY2(dead.open(db, &error), qPrintable(error));
    QVERIFY2(dead.add(u"rec"_qs, "{}", &error), qPrintable(error));
    // The survivor looks every 2 s (lease 20 s); the dead node's lease runs out 1 s after the
    // survivor's first look, a second before its second.
    LeaseKeeper survivor;
    QSignalSpy claimed(&survivor, &LeaseKeeper::claimed);
    const qint64 deadLeaseMs = 1000;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const auto held = dead.claim(u"node-dead"_qs, 1, deadLeaseMs, now, &error);
    QVERIFY2(held && held->size() == 1, qPrintable(error));
    const qint64 expiresAt = now + deadLeaseMs;
    QVERIFY2(survivor.start({db, u"node-live"_qs, 20000, 1}, &error), qPrintable(error));
    QVERIFY(claimed.wait(5000));
    const qint64 late = QDateTime::currentMSecsSinceEpoch() - expiresAt;
    qInfo().noquote() << QStringLiteral("claimed %1 ms after the dead node's lease expired (looks every 2000 ms)").arg(late);
    QCOMPARE(claimed.first().at(1).toString(), u"node-dead"_qs);
    QVERIFY2(late >= 0, qPrintable(QStringLiteral("claimed %1 ms before the lease expired").arg(-late)));
    // At its next look it would have been ~1000 ms late.
    QVERIFY2(late < 500, qPrintable(QStringLiteral("claimed %1 ms after the lease expired").arg(late)));
}

void TestLease::concurrentClaimsAreDisjoint()
{
    OPEN_DATABASE(db);
    const int jobs = 40;
    {
        LeaseStore setup;
        QString error;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        for (int i = 0; i < jobs; ++i)
            QVERIFY2(setup.add(QStringLiteral("rec%1").arg(i, 2, 10, QLatin1Char('0')), "{}", &error), qPrintable(error));
    }
    std::mutex mutex;
    QMap<QString, QStringList> byNode;
    QStringList errors;
    auto node = [&](const QString &name) {
        LeaseStore store;
        QString error;
        if (!store.open(db, &error)) {
            std::lock_guard lock(mutex);
            errors << error;
            return;
        }
        for (;;) {
            const auto claims = store.claim(name, 1, 60000, QDateTime::currentMSecsSinceEpoch(), &error);
            std::lock_guard lock(mutex);
            if (!claims) {
                errors << error;
                return;
            }
            if (claims->isEmpty())
                return;
            byNode[name] << claims->first().job.id;
        }
    };
    std::thread t1(node, u"node-a"_qs), t2(node, u"node-b"_qs), t3(node, u"node-c"_qs);
    t1.join();
    t2.join();
    t3.join();
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(u"; "_qs)));
    QStringList all;
    for (auto it = byNode.cbegin(); it != byNode.cend(); ++it)
        all += it.value();
    qInfo().noquote() << "claims per node:" << byNode.value(u"node-a"_qs).size() << byNode.value(u"node-b"_qs).size()
                      << byNode.value(u"node-c"_qs).size();
    QCOMPARE(all.size(), jobs); // none twice
    all.removeDuplicates();
    QCOMPARE(all.size(), jobs);
}

void TestLease::restartedNodeTakesBackItsOwn()
{
    OPEN_DATABASE(db);
    const qint64 leaseMs = 20000; // nothing expires during the test; node-b looks every 2 s
    {
        LeaseStore setup;
        QString error;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        for (int i = 0; i < 3; ++i)
            QVERIFY2(setup.add(QStringLiteral("rec%1").arg(i), "{}", &error), qPrintable(error));
    }
    QString error;
    auto a = std::make_unique<LeaseKeeper>();
    QSignalSpy claimedA(a.get(), &LeaseKeeper::claimed);
    QVERIFY2(a->start({db, u"node-a"_qs, leaseMs, 2}, &error), qPrintable(error));
    QTRY_COMPARE(claimedA.size(), 2);
    a->stop(); // killed: its leases stay, unexpired
    a.reset();

    // Started again under its name: it takes back both at once (not 20 s later), renewed, and
    // its capacity is then full; node-b gets only the third.
    LeaseKeeper again, b;
    QSignalSpy claimedAgain(&again, &LeaseKeeper::claimed);
    QSignalSpy claimedB(&b, &LeaseKeeper::claimed);
    QVERIFY2(again.start({db, u"node-a"_qs, leaseMs, 2}, &error), qPrintable(error));
    QTRY_COMPARE(claimedAgain.size(), 2);
    for (const QList<QVariant> &c : claimedAgain)
        QCOMPARE(c.at(1).toString(), u"node-a"_qs);
    QVERIFY2(b.start({db, u"node-b"_qs, leaseMs, 10}, &error), qPrintable(error));
    QTRY_COMPARE(claimedB.size(), 1);
    QCOMPARE(claimedB.at(0).at(0).value<LeaseJob>().id, u"rec2"_qs);
    auto jobs = b.store().jobs(&error);
    QVERIFY2(jobs, qPrintable(error));
    for (const LeaseJob &j : *jobs)
        QCOMPARE(j.takeovers, 0); // taking back one's own is no takeover

    // A clean stop frees them: node-b claims them at once, from nobody.
    again.release();
    QTRY_COMPARE(claimedB.size(), 3);
    QVERIFY(claimedB.at(1).at(1).toString().isEmpty());
    QCOMPARE(b.held().size(), 3);
}

// A node that renews after its leases expired (its loop was blocked) keeps those nobody claimed
// meanwhile, and learns it lost the others.
void TestLease::lateRenewalKeepsWhatNobodyTook()
{
    OPEN_DATABASE(db);
    LeaseStore a, b;
    QString error;
    QVERIFY2(a.open(db, &error), qPrintable(error));
    QVERIFY2(b.open(db, &error), qPrintable(error));
    QVERIFY(a.add(u"r1"_qs, "{}", &error) && a.add(u"r2"_qs, "{}", &error));
    const qint64 t = 7'000'000;
    QCOMPARE(a.claim(u"node-a"_qs, 10, 1000, t, &error)->size(), 2);
    // Both expired at t + 1000; node-b takes one of them.
    QCOMPARE(b.claim(u"node-b"_qs, 1, 1000, t + 1200, &error)->size(), 1);
    const auto held = a.renew(u"node-a"_qs, 1000, t + 1500, &error);
    QVERIFY2(held, qPrintable(error));
    QCOMPARE(*held, QStringList{u"r2"_qs});
    const auto jobs = a.jobs(&error);
    QVERIFY2(jobs, qPrintable(error));
    QCOMPARE(jobs->at(0).node, u"node-b"_qs);
    QCOMPARE(jobs->at(1).node, u"node-a"_qs);
    QCOMPARE(jobs->at(1).leaseUntilMs, t + 2500);
    QCOMPARE(jobs->at(1).takeovers, 0);
    // Renewed: node-b finds nothing to claim.
    QVERIFY(b.claim(u"node-b"_qs, 5, 1000, t + 1600, &error)->isEmpty());
}

// The keeper's thread does not run for longer than a lease period (a long computation on the
// event loop, as diver's planning under load). SQLite (one node): nobody else could take the
// leases, so they are kept, not lost and claimed again (which restarted diver's archive
// recorders), and there is no watchdog deadline. PostgreSQL: others could take them once they
// expired, so the watchdog deadline (writeDeadline(), three quarters of a period after the last
// renewal) passes during the block, read from the block itself as a recorder's thread reads it;
// the work has stopped by itself then, and the keeper, running again, says so (lost) and takes
// back what nobody took (claimed again), holding it all after.
void TestLease::blockedKeeperKeepsItsLeases()
{
    OPEN_DATABASE(db);
    const qint64 leaseMs = 1000;
    {
        LeaseStore setup;
        QString error;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        QVERIFY2(setup.add(u"rec0"_qs, "{}", &error) && setup.add(u"rec1"_qs, "{}", &error), qPrintable(error));
    }
    LeaseKeeper a;
    QSignalSpy claimed(&a, &LeaseKeeper::claimed);
    QSignalSpy lost(&a, &LeaseKeeper::lost);
    QString error;
    QVERIFY2(a.start({db, u"node-a"_qs, leaseMs, 10}, &error), qPrintable(error));
    QTRY_COMPARE(claimed.size(), 2);
    const auto deadline = a.writeDeadline();
    QVERIFY(LeaseKeeper::steadyNowMs() < deadline->load());
    if (postgres) {
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u"^node-a ran again \\d+ ms after its watchdog deadline .* all 2 it holds"_qs));
    } else {
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u"^node-a renewed its leases .* they had expired; 2 of 2 were still its own"_qs));
    }
    bool blocked = false;
    qint64 deadlinePassedAfter = -1; ///< ms into the block; -1: never
    qint64 deadlineInBlock = -1;     ///< the deadline that passed, in ms after the block began (not the sampling's lateness)
    QTimer::singleShot(0, this, [&] {
        QElapsedTimer t;
        t.start();
        const qint64 blockStart = LeaseKeeper::steadyNowMs();
        while (t.elapsed() < leaseMs * 2) {
            const qint64 at = deadline->load();
            if (deadlinePassedAfter < 0 && LeaseKeeper::steadyNowMs() >= at) {
                deadlinePassedAfter = t.elapsed();
                deadlineInBlock = at - blockStart;
            }
            QThread::msleep(10);
        }
        blocked = true;
    });
    QTRY_VERIFY(blocked);
    if (postgres) {
        QVERIFY2(deadlinePassedAfter >= 0 && deadlineInBlock <= leaseMs * 3 / 4,
                 qPrintable(QStringLiteral("the deadline passed %1 ms into the block (seen %2 ms into it)")
                                .arg(deadlineInBlock).arg(deadlinePassedAfter)));
        QTRY_COMPARE(lost.size(), 2);
        QTRY_COMPARE(claimed.size(), 4);
        for (const QList<QVariant> &c : lost)
            QVERIFY(!c.at(1).toBool()); // not a hand-over
        // Taken back with a new epoch: a recorder stopped at the deadline but stalled in a write
        // is fenced off from the one that starts now.
        for (int i = 0; i < 2; ++i)
            QCOMPARE(claimed.at(2 + i).at(0).value<LeaseJob>().epoch, claimed.at(i).at(0).value<LeaseJob>().epoch + 1);
    }
    // A period after the block, renewed again and again meanwhile.
    const qint64 until = QDateTime::currentMSecsSinceEpoch() + leaseMs;
    QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentMSecsSinceEpoch() > until, int(3 * leaseMs));
    QCOMPARE(lost.size(), postgres ? 2 : 0);
    QCOMPARE(claimed.size(), postgres ? 4 : 2);
    if (!postgres)
        QCOMPARE(deadlinePassedAfter, -1);
    QVERIFY(LeaseKeeper::steadyNowMs() < deadline->load()); // ahead again
    QCOMPARE(a.held(), (QStringList{u"rec0"_qs, u"rec1"_qs}));
    const auto jobs = a.store().jobs(&error);
    QVERIFY2(jobs, qPrintable(error));
    for (const LeaseJob &j : *jobs)
        QVERIFY(j.leaseUntilMs > QDateTime::currentMSecsSinceEpoch());
}

// A hand-over to balance the work whose work takes a while to stop (diver's archive recorder
// writing its last segment): the lease held back in the lost() handler is not free, so the next
// node does not write beside this one, until releaseHeld() frees it.
void TestLease::handOverWaitsForTheWorkToStop()
{
    const QString db = m_dir.filePath(u"handover.sqlite"_qs);
    const qint64 leaseMs = 4000;
    LeaseKeeper::Settings sa{db, u"node-a"_qs, leaseMs, 10};
    sa.ids = {u"arc0"_qs, u"arc1"_qs};
    sa.peers = {{u"node-a"_qs, 1}};
    {
        LeaseStore setup;
        QString error;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        QVERIFY2(setup.add(u"arc0"_qs, "{}", &error) && setup.add(u"arc1"_qs, "{}", &error), qPrintable(error));
    }
    LeaseKeeper a, b;
    QSignalSpy claimedA(&a, &LeaseKeeper::claimed);
    QSignalSpy claimedB(&b, &LeaseKeeper::claimed);
    QSignalSpy released(&a, &LeaseKeeper::released);
    QStringList handedOver;
    connect(&a, &LeaseKeeper::lost, this, [&](const QString &id, bool over) {
        QVERIFY(over);
        handedOver << id;
        a.holdRelease(id); // its recorder is still writing
    });
    QString error;
    QVERIFY2(a.start(sa, &error), qPrintable(error));
    QTRY_COMPARE(claimedA.size(), 2);

    LeaseKeeper::Settings sb = sa;
    sb.node = u"node-b"_qs;
    sb.peers = {{u"node-a"_qs, 1}, {u"node-b"_qs, 1}};
    QVERIFY2(b.start(sb, &error), qPrintable(error));
    a.setPeers(sb.peers);
    QTRY_COMPARE_WITH_TIMEOUT(handedOver.size(), 1, int(leaseMs));
    // Held back: node-b finds nothing free, look as often as it will.
    for (int i = 0; i < 5; ++i) {
        b.claimNow();
        QTest::qWait(100);
    }
    QCOMPARE(claimedB.size(), 0);
    QCOMPARE(released.size(), 0);
    QVERIFY(!a.held().contains(handedOver.first()));
    // Past node-a's next renewal (every third of a lease), which renews the held-back lease
    // too: node-a does not take its own hand-over back (it did, and recorded it again).
    QTest::qWait(int(leaseMs) / 2);
    QCOMPARE(claimedA.size(), 2);
    QVERIFY(!a.held().contains(handedOver.first()));
    QCOMPARE(claimedB.size(), 0);

    a.releaseHeld(handedOver.first()); // the work has stopped
    QCOMPARE(released.size(), 1);
    b.claimNow();
    QTRY_COMPARE_WITH_TIMEOUT(claimedB.size(), 1, int(leaseMs) / 2);
    QCOMPARE(claimedB.at(0).at(0).value<LeaseJob>().id, handedOver.first());
    a.releaseHeld(handedOver.first()); // once only
    QCOMPARE(released.size(), 1);
}

// A hand-over whose work never stops (a recorder stuck on its source or its disk): the lease held
// back is renewed for the hand-over limit only. Then the keeper says so, closes that lease's write
// fence (not the others'), stops renewing it, and the other node claims it within a lease period;
// the work's stop, when it comes at last, frees nothing (the lease is another's by then).
void TestLease::handOverThatNeverStopsIsGivenUp()
{
    OPEN_DATABASE(db);
    const qint64 leaseMs = 2000;
    const qint64 limitMs = 3000;
    LeaseKeeper::Settings sa{db, u"node-a"_qs, leaseMs, 10};
    sa.ids = {u"arc0"_qs, u"arc1"_qs};
    sa.peers = {{u"node-a"_qs, 1}};
    sa.handOverLimitMs = limitMs;
    {
        LeaseStore setup;
        QString error;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        QVERIFY2(setup.add(u"arc0"_qs, "{}", &error) && setup.add(u"arc1"_qs, "{}", &error), qPrintable(error));
    }
    LeaseKeeper a, b;
    QHash<QString, std::function<bool()>> fences; // what node-a's recorders would check
    connect(&a, &LeaseKeeper::claimed, this, [&](const LeaseJob &job) { fences.insert(job.id, a.writeFence(job.id)); });
    QSignalSpy claimedA(&a, &LeaseKeeper::claimed);
    QSignalSpy claimedB(&b, &LeaseKeeper::claimed);
    QSignalSpy released(&a, &LeaseKeeper::released);
    QSignalSpy abandoned(&a, &LeaseKeeper::handOverAbandoned);
    QSignalSpy failedA(&a, &LeaseKeeper::failed);
    QString handedOver;
    QElapsedTimer sinceHandOver;
    connect(&a, &LeaseKeeper::lost, this, [&](const QString &id, bool over) {
        QVERIFY(over);
        handedOver = id;
        sinceHandOver.start();
        a.holdRelease(id); // its recorder never stops: releaseHeld() is not called
    });
    QString error;
    QVERIFY2(a.start(sa, &error), qPrintable(error));
    QTRY_COMPARE(claimedA.size(), 2);
    QCOMPARE(a.handOverLimitMs(), limitMs);

    LeaseKeeper::Settings sb = sa;
    sb.node = u"node-b"_qs;
    sb.peers = {{u"node-a"_qs, 1}, {u"node-b"_qs, 1}};
    QVERIFY2(b.start(sb, &error), qPrintable(error));
    a.setPeers(sb.peers);
    QTRY_VERIFY_WITH_TIMEOUT(!handedOver.isEmpty(), int(leaseMs));
    const QString kept = handedOver == u"arc0"_qs ? u"arc1"_qs : u"arc0"_qs;
    QCOMPARE(a.heldBack(), QStringList{handedOver});
    QVERIFY(fences.value(handedOver)()); // still its own: its last segment may be written

    // Past the limit, and not before: given up (its work fenced off at that moment), left to
    // expire, and node-b takes it within a lease period (and a look), as from a dead node. (The
    // old code renewed it for as long as the work did not stop: node-b never had it.)
    qint64 abandonedAt = -1;
    bool fencedWhenAbandoned = false;
    connect(&a, &LeaseKeeper::handOverAbandoned, this, [&] {
        abandonedAt = sinceHandOver.elapsed();
        fencedWhenAbandoned = !fences.value(handedOver)();
    });
    QTRY_COMPARE_WITH_TIMEOUT(claimedB.size(), 1, int(limitMs + 2 * leaseMs));
    const qint64 claimedAt = sinceHandOver.elapsed();
    QCOMPARE(claimedB.at(0).at(0).value<LeaseJob>().id, handedOver);
    QCOMPARE(claimedB.at(0).at(1).toString(), u"node-a"_qs);
    QCOMPARE(abandoned.size(), 1);
    QCOMPARE(abandoned.at(0).at(0).toString(), handedOver);
    QVERIFY(abandoned.at(0).at(1).toLongLong() >= limitMs);
    QVERIFY2(abandonedAt >= limitMs && claimedAt - abandonedAt <= leaseMs + leaseMs / 2,
             qPrintable(QStringLiteral("given up %1 ms, claimed %2 ms after the hand-over").arg(abandonedAt).arg(claimedAt)));
    QVERIFY(fencedWhenAbandoned);
    QVERIFY(fences.value(kept)());
    QVERIFY(a.heldBack().isEmpty());

    // The stuck work stops at last: nothing to free, nothing failed; node-a keeps its own.
    a.releaseHeld(handedOver);
    QCOMPARE(released.size(), 0);
    QCOMPARE(failedA.size(), 0);
    QCOMPARE(a.held(), QStringList{kept});
    QCOMPARE(b.held(), QStringList{handedOver});
    QCOMPARE(claimedA.size(), 2);
    QVERIFY(fences.value(kept)());
}

// A node that cannot reach the table stops recording before its leases expire (when another node
// may claim them), not when it hears of it after the database comes back.
void TestLease::unrenewableLeasesAreGivenUp()
{
    const QString db = m_dir.filePath(u"unrenewable.sqlite"_qs);
    const qint64 leaseMs = 2000; // given up 500 ms before it expires: room for a late timer
    LeaseStore setup;
    QString error;
    QVERIFY2(setup.open(db, &error), qPrintable(error));
    QVERIFY2(setup.add(u"rec0"_qs, "{}", &error), qPrintable(error));
    LeaseKeeper a;
    QSignalSpy claimed(&a, &LeaseKeeper::claimed);
    QSignalSpy lost(&a, &LeaseKeeper::lost);
    QSignalSpy failed(&a, &LeaseKeeper::failed);
    qint64 lostAt = 0;
    connect(&a, &LeaseKeeper::lost, this, [&lostAt] { lostAt = QDateTime::currentMSecsSinceEpoch(); });
    QVERIFY2(a.start({db, u"node-a"_qs, leaseMs, 10}, &error), qPrintable(error));
    QTRY_COMPARE(claimed.size(), 1);
    // The table goes away under the keeper (any connection to the file will do): its renewals
    // fail from now on.
    QSqlQuery q(QSqlDatabase::database(QSqlDatabase::connectionNames().filter(u"dvr-lease"_qs).first()));
    QVERIFY2(q.exec(u"ALTER TABLE dvr_leases RENAME TO dvr_leases_gone"_qs), qPrintable(q.lastError().text()));
    QTRY_COMPARE_WITH_TIMEOUT(lost.size(), 1, 3 * int(leaseMs));
    QVERIFY(!failed.isEmpty());
    QCOMPARE(lost.at(0).at(0).toString(), u"rec0"_qs);
    QVERIFY(a.held().isEmpty());
    // Before the lease it last renewed expired.
    QVERIFY2(q.exec(u"SELECT lease_until FROM dvr_leases_gone"_qs) && q.next(), qPrintable(q.lastError().text()));
    const qint64 leaseUntil = q.value(0).toLongLong();
    QVERIFY2(lostAt < leaseUntil, qPrintable(QStringLiteral("given up %1 ms after the lease expired").arg(lostAt - leaseUntil)));

    // The table is back and nobody took the recording meanwhile: the node records it again
    // (not renews it and records nothing).
    QVERIFY2(q.exec(u"ALTER TABLE dvr_leases_gone RENAME TO dvr_leases"_qs), qPrintable(q.lastError().text()));
    q.finish();
    QTRY_COMPARE_WITH_TIMEOUT(claimed.size(), 2, 3 * int(leaseMs));
    QCOMPARE(claimed.at(1).at(0).value<LeaseJob>().id, u"rec0"_qs);
    QCOMPARE(claimed.at(1).at(1).toString(), u"node-a"_qs);
    QCOMPARE(a.held(), QStringList{u"rec0"_qs});
}

// One table, two kinds of work: a store scoped to a prefix or to a set of ids claims, renews and
// releases only its own kind (a node's copies and its archives each have their keeper and capacity).
void TestLease::scopesKeepKindsApart()
{
    OPEN_DATABASE(db);
    LeaseStore copies, archives;
    QString error;
    QVERIFY2(copies.open(db, &error), qPrintable(error));
    QVERIFY2(archives.open(db, &error), qPrintable(error));
    copies.setScope(u"copy:"_qs);
    archives.setScope({}, {u"archive:one"_qs, u"archive:tw_o"_qs});
    for (const char *id : {"copy:1", "copy:2", "archive:one", "archive:tw_o", "archive:twXo", "copyX3"})
        QVERIFY2(copies.add(QString::fromLatin1(id), "{}", &error), qPrintable(error));
    const qint64 t = 1'000'000;
    auto ids = [](const std::optional<QList<LeaseClaim>> &claims) {
        QStringList out;
        for (const LeaseClaim &c : claims.value_or(QList<LeaseClaim>{}))
            out << c.job.id;
        return out;
    };
    QCOMPARE(ids(copies.claim(u"node-a"_qs, 10, 1000, t, &error)), (QStringList{u"copy:1"_qs, u"copy:2"_qs}));
    QCOMPARE(ids(archives.claim(u"node-a"_qs, 10, 1000, t, &error)), (QStringList{u"archive:one"_qs, u"archive:tw_o"_qs}));
    // Each renews (and lists) only its own, though one node holds all four.
    QCOMPARE(copies.renew(u"node-a"_qs, 1000, t + 500, &error).value_or(QStringList{}), (QStringList{u"copy:1"_qs, u"copy:2"_qs}));
    QCOMPARE(archives.renew(u"node-a"_qs, 1000, t + 500, &error).value_or(QStringList{}),
             (QStringList{u"archive:one"_qs, u"archive:tw_o"_qs}));
    // Releasing the copies leaves the archives held.
    QVERIFY2(copies.release(u"node-a"_qs, &error), qPrintable(error));
    const auto jobs = copies.jobs(&error);
    QVERIFY2(jobs, qPrintable(error));
    QHash<QString, QString> holders;
    for (const LeaseJob &j : *jobs)
        holders.insert(j.id, j.node);
    QCOMPARE(holders.value(u"copy:1"_qs), QString());
    QCOMPARE(holders.value(u"archive:one"_qs), u"node-a"_qs);
    QCOMPARE(holders.value(u"archive:twXo"_qs), QString()); // nobody's scope
    QCOMPARE(holders.value(u"copyX3"_qs), QString());
}

// The store's PostgreSQL connection is terminated (as a restart or an administrator would): the
// next claim and renewal reconnect and succeed, nothing held is lost, and no connection is left
// counted as lost.
void TestLease::storeReconnects()
{
    if (!m_postgresError.isEmpty())
        QSKIP(qPrintable(QStringLiteral("PostgreSQL cannot run here: ") + m_postgresError));
    const QString db = database(true);
    QVERIFY(!db.isEmpty());
    LeaseStore store;
    QString error;
    QVERIFY2(store.open(db + u"?application_name=lease-store"_qs, &error), qPrintable(error));
    QVERIFY2(store.add(u"r1"_qs, "{}", &error), qPrintable(error));
    QVERIFY2(store.add(u"r2"_qs, "{}", &error), qPrintable(error));
    const qint64 t = QDateTime::currentMSecsSinceEpoch();
    QCOMPARE(store.claim(u"node-a"_qs, 1, 60000, t, &error).value_or(QList<LeaseClaim>{}).size(), 1);

    auto terminate = [&] { return m_postgres.terminateBackends(db, u"lease-store"_qs); };
    QCOMPARE(terminate(), 1);
    const auto renewed = store.renew(u"node-a"_qs, 60000, t + 10, &error);
    QVERIFY2(renewed, qPrintable(error));
    QCOMPARE(*renewed, QStringList{u"r1"_qs});
    QCOMPARE(terminate(), 1);
    const auto claims = store.claim(u"node-b"_qs, 5, 60000, t + 20, &error);
    QVERIFY2(claims, qPrintable(error));
    QCOMPARE(claims->size(), 1);
    QCOMPARE(claims->first().job.id, u"r2"_qs);
    QVERIFY2(iptv::lostSqlConnections().isEmpty(), qPrintable(iptv::lostSqlConnections().join(u"; ")));
}

// A second process started under a node's name while the first still runs (a rolling deploy
// with a fixed node id, a service started twice) finds the liveness lock held by the first's
// session: it takes none of the first's work (both would record it), and takes it back once the
// first has ended.
void TestLease::secondProcessOfANodeWaitsForTheFirst()
{
    if (!m_postgresError.isEmpty())
        QSKIP(qPrintable(QStringLiteral("PostgreSQL cannot run here: ") + m_postgresError));
    const QString db = database(true);
    QVERIFY(!db.isEmpty());
    const qint64 leaseMs = 2000, graceMs = 600;
    {
        LeaseStore setup;
        QString error;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        for (int i = 0; i < 3; ++i)
            QVERIFY2(setup.add(QStringLiteral("rec%1").arg(i), "{}", &error), qPrintable(error));
    }
    LeaseKeeper first, second;
    QSignalSpy claimedFirst(&first, &LeaseKeeper::claimed);
    QSignalSpy claimedSecond(&second, &LeaseKeeper::claimed);
    LeaseKeeper::Settings s{db, u"node-a"_qs, leaseMs, 10};
    s.livenessGraceMs = graceMs;
    QString error;
    QVERIFY2(first.start(s, &error), qPrintable(error));
    QTRY_COMPARE(claimedFirst.size(), 3);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u"^node-a finds its liveness lock held by another session"_qs));
    QVERIFY2(second.start(s, &error), qPrintable(error));
    // Two lease periods: the second reclaims nothing, the first keeps all three.
    QTest::qWait(int(2 * leaseMs));
    QCOMPARE(claimedSecond.size(), 0);
    QCOMPARE(first.held().size(), 3);
    first.stop(); // its session ends: the lock is free
    QTRY_COMPARE_WITH_TIMEOUT(claimedSecond.size(), 3, int(3 * leaseMs));
}

void TestLease::goneNodeIsTakenOverBeforeItsLeaseExpires()
{
    if (!m_postgresError.isEmpty())
        QSKIP(qPrintable(QStringLiteral("PostgreSQL cannot run here: ") + m_postgresError));
    const QString db = database(true);
    QVERIFY(!db.isEmpty());
    const qint64 leaseMs = 20000, graceMs = 600;
    {
        LeaseStore setup;
        QString error;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        for (int i = 0; i < 3; ++i)
            QVERIFY2(setup.add(QStringLiteral("rec%1").arg(i), "{}", &error), qPrintable(error));
    }
    LeaseKeeper a, b;
    QSignalSpy claimedA(&a, &LeaseKeeper::claimed);
    QSignalSpy lostA(&a, &LeaseKeeper::lost);
    QSignalSpy claimedB(&b, &LeaseKeeper::claimed);
    LeaseKeeper::Settings sa{db + u"?application_name=lease-a"_qs, u"node-a"_qs, leaseMs, 10};
    sa.livenessGraceMs = graceMs;
    LeaseKeeper::Settings sb{db, u"node-b"_qs, leaseMs, 10};
    sb.livenessGraceMs = graceMs;
    QString error;
    QVERIFY2(a.start(sa, &error), qPrintable(error));
    QTRY_COMPARE(claimedA.size(), 3);
    QVERIFY2(b.start(sb, &error), qPrintable(error));

    // node-a's connections (its store's and its liveness thread's) terminated: it opens others at
    // its next check, takes its lock again within the grace period and keeps its work; node-b
    // takes nothing (three grace periods).
    QCOMPARE(m_postgres.terminateBackends(db, u"lease-a"_qs), 2);
    QTest::qWait(int(3 * graceMs));
    QCOMPARE(claimedB.size(), 0);
    QCOMPARE(lostA.size(), 0);
    QCOMPARE(a.held().size(), 3);
    QVERIFY(!a.livenessLost());

    // node-a's process ends (its keeper stops, its session closes, its leases stay unexpired).
    QElapsedTimer sinceDeath;
    a.stop();
    sinceDeath.start();
    QTRY_COMPARE_WITH_TIMEOUT(claimedB.size(), 3, int(leaseMs / 2));
    const qint64 took = sinceDeath.elapsed();
    qInfo().noquote() << QStringLiteral("node-b took the recordings over %1 ms after node-a's session ended (grace %2 ms, lease %3 ms)")
                             .arg(took).arg(graceMs).arg(leaseMs);
    QVERIFY2(took >= graceMs, qPrintable(QStringLiteral("%1 ms: before the grace period").arg(took)));
    QVERIFY2(took < leaseMs / 4, qPrintable(QStringLiteral("%1 ms").arg(took)));
    for (const QList<QVariant> &c : claimedB) {
        QCOMPARE(c.at(1).toString(), u"node-a"_qs);
        const LeaseJob job = c.at(0).value<LeaseJob>();
        QVERIFY(job.holderGone);
        QCOMPARE(job.takeovers, 1);
    }
    QCOMPARE(b.held().size(), 3);
}

void TestLease::nodeWithoutItsSessionStopsFirst()
{
    if (!m_postgresError.isEmpty())
        QSKIP(qPrintable(QStringLiteral("PostgreSQL cannot run here: ") + m_postgresError));
    const QString db = database(true);
    QVERIFY(!db.isEmpty());
    const qint64 leaseMs = 20000, graceMs = 1000;
    // node-a logs in as a role of its own, which the test can stop from logging in again.
    QString error;
    const QString asA = m_postgres.createNodeRole(db, u"lease_a"_qs);
    QVERIFY(!asA.isEmpty());
    auto loginAgain = qScopeGuard([&] { m_postgres.allowLogin(db, u"lease_a"_qs, true); });
    {
        LeaseStore setup;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        for (int i = 0; i < 3; ++i)
            QVERIFY2(setup.add(QStringLiteral("rec%1").arg(i), "{}", &error), qPrintable(error));
    }
    LeaseKeeper a, b;
    QElapsedTimer clock;
    clock.start();
    qint64 lastLostAt = -1, firstClaimedAt = -1;
    connect(&a, &LeaseKeeper::lost, this, [&] { lastLostAt = clock.elapsed(); });
    connect(&b, &LeaseKeeper::claimed, this, [&] {
        if (firstClaimedAt < 0)
            firstClaimedAt = clock.elapsed();
    });
    QSignalSpy claimedA(&a, &LeaseKeeper::claimed);
    QSignalSpy lostA(&a, &LeaseKeeper::lost);
    QSignalSpy claimedB(&b, &LeaseKeeper::claimed);
    LeaseKeeper::Settings sa{asA + u"?application_name=lease-a"_qs, u"node-a"_qs, leaseMs, 10};
    sa.livenessGraceMs = graceMs;
    LeaseKeeper::Settings sb{db, u"node-b"_qs, leaseMs, 10};
    sb.livenessGraceMs = graceMs;
    QVERIFY2(a.start(sa, &error), qPrintable(error));
    QTRY_COMPARE(claimedA.size(), 3);
    QVERIFY2(b.start(sb, &error), qPrintable(error));

    // node-a's session ends and it cannot log in again: it stops everything it holds, and only
    // then may node-b claim it (long before the leases expire).
    QVERIFY(m_postgres.allowLogin(db, u"lease_a"_qs, false));
    const qint64 cutAt = clock.elapsed();
    QCOMPARE(m_postgres.terminateBackends(db, u"lease-a"_qs), 2); // its store's session and its liveness thread's
    QTRY_COMPARE_WITH_TIMEOUT(lostA.size(), 3, int(leaseMs / 4));
    QVERIFY(a.held().isEmpty());
    // Given up at the deadline (its keeper's thread saw it pass) or by the liveness thread's word:
    // that word comes at its next check.
    QTRY_VERIFY_WITH_TIMEOUT(a.livenessLost(), int(leaseMs / 4));
    QTRY_COMPARE_WITH_TIMEOUT(claimedB.size(), 3, int(leaseMs / 2));
    qInfo().noquote() << QStringLiteral("node-a stopped its work %1 ms after its session was cut; node-b claimed it %2 ms after "
                                        "(grace %3 ms, lease %4 ms)")
                             .arg(lastLostAt - cutAt).arg(firstClaimedAt - cutAt).arg(graceMs).arg(leaseMs);
    QVERIFY2(lastLostAt < firstClaimedAt, "node-b claimed before node-a had stopped: two holders");
    QVERIFY2(firstClaimedAt - cutAt < leaseMs / 2, "node-b waited for the leases to expire");
    for (const QList<QVariant> &c : claimedB)
        QVERIFY(c.at(0).value<LeaseJob>().holderGone);

    // node-a may log in again: it has its lock back and holds nothing (node-b records it all).
    QVERIFY(m_postgres.allowLogin(db, u"lease_a"_qs, true));
    QTRY_VERIFY_WITH_TIMEOUT(!a.livenessLost(), 40000);
    QCOMPARE(claimedA.size(), 3);
    QVERIFY(a.held().isEmpty());
    QCOMPARE(b.held().size(), 3);
    a.stop();
    b.stop();
}

// node-a's event loop (this thread's) blocked for 3 s, four times half the grace, while its
// liveness thread keeps its session's lock confirmed: its watchdog deadline never passes (the
// lease's three quarters are 15 s away), it keeps all it holds, and node-b takes nothing.
void TestLease::blockedEventLoopKeepsTheLock()
{
    if (!m_postgresError.isEmpty())
        QSKIP(qPrintable(QStringLiteral("PostgreSQL cannot run here: ") + m_postgresError));
    const QString db = database(true);
    QVERIFY(!db.isEmpty());
    const qint64 leaseMs = 20000, graceMs = 1500, blockMs = 3000; // diver's default grace
    QString error;
    {
        LeaseStore setup;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        for (int i = 0; i < 3; ++i)
            QVERIFY2(setup.add(QStringLiteral("rec%1").arg(i), "{}", &error), qPrintable(error));
    }
    LeaseKeeper a, b;
    QSignalSpy claimedA(&a, &LeaseKeeper::claimed);
    QSignalSpy lostA(&a, &LeaseKeeper::lost);
    QSignalSpy claimedB(&b, &LeaseKeeper::claimed);
    LeaseKeeper::Settings sa{db, u"node-a"_qs, leaseMs, 10};
    sa.livenessGraceMs = graceMs;
    LeaseKeeper::Settings sb{db, u"node-b"_qs, leaseMs, 10};
    sb.livenessGraceMs = graceMs;
    QVERIFY2(a.start(sa, &error), qPrintable(error));
    QTRY_COMPARE(claimedA.size(), 3);
    QVERIFY2(b.start(sb, &error), qPrintable(error));
    const auto deadline = a.writeDeadline();
    QVERIFY(LeaseKeeper::steadyNowMs() < deadline->load());

    bool blocked = false;
    qint64 deadlinePassedAfter = -1; ///< ms into the block; -1: never
    qint64 leastAheadMs = std::numeric_limits<qint64>::max();
    QTimer::singleShot(0, this, [&] {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < blockMs) {
            const qint64 ahead = deadline->load() - LeaseKeeper::steadyNowMs();
            leastAheadMs = std::min(leastAheadMs, ahead);
            if (deadlinePassedAfter < 0 && ahead <= 0)
                deadlinePassedAfter = t.elapsed();
            QThread::msleep(10);
        }
        blocked = true;
    });
    QTRY_VERIFY(blocked);
    QVERIFY2(deadlinePassedAfter < 0,
             qPrintable(QStringLiteral("the watchdog deadline passed %1 ms into a %2 ms block of the event loop (grace %3 ms)")
                            .arg(deadlinePassedAfter).arg(blockMs).arg(graceMs)));
    qInfo().noquote() << QStringLiteral("during the %1 ms block the deadline stayed at least %2 ms ahead").arg(blockMs).arg(leastAheadMs);
    // Two grace periods after the block: node-b has looked at node-a's lock again and again.
    QTest::qWait(int(2 * graceMs));
    QCOMPARE(lostA.size(), 0);
    QCOMPARE(claimedA.size(), 3);
    QCOMPARE(claimedB.size(), 0);
    QVERIFY(!a.livenessLost());
    QCOMPARE(a.held().size(), 3);
    QVERIFY(LeaseKeeper::steadyNowMs() < deadline->load());
    a.stop();
    b.stop();
}

// node-a's liveness session alone is terminated and cannot log in again, its store's session
// staying open: its watchdog deadline passes within half the grace of the cut, its keeper learns
// it and gives everything up; allowed to log in again, it has its lock back and takes back what
// nobody took (no other node here).
void TestLease::nodeWithoutItsLivenessSessionStops()
{
    if (!m_postgresError.isEmpty())
        QSKIP(qPrintable(QStringLiteral("PostgreSQL cannot run here: ") + m_postgresError));
    const QString db = database(true);
    QVERIFY(!db.isEmpty());
    const qint64 leaseMs = 20000, graceMs = 1000;
    QString error;
    const QString asA = m_postgres.createNodeRole(db, u"lease_a"_qs);
    QVERIFY(!asA.isEmpty());
    auto loginAgain = qScopeGuard([&] { m_postgres.allowLogin(db, u"lease_a"_qs, true); });
    {
        LeaseStore setup;
        QVERIFY2(setup.open(db, &error), qPrintable(error));
        for (int i = 0; i < 3; ++i)
            QVERIFY2(setup.add(QStringLiteral("rec%1").arg(i), "{}", &error), qPrintable(error));
    }
    LeaseKeeper a;
    QSignalSpy claimedA(&a, &LeaseKeeper::claimed);
    QSignalSpy lostA(&a, &LeaseKeeper::lost);
    LeaseKeeper::Settings sa{asA + u"?application_name=lease-a"_qs, u"node-a"_qs, leaseMs, 10};
    sa.livenessGraceMs = graceMs;
    QVERIFY2(a.start(sa, &error), qPrintable(error));
    QTRY_COMPARE(claimedA.size(), 3);
    const auto deadline = a.writeDeadline();

    QVERIFY(m_postgres.allowLogin(db, u"lease_a"_qs, false));
    // The cut is when pg_terminate_backend() has signalled the session, i.e. when the call
    // returns: from then on the session answers nothing more. Before it (the test's own
    // connection being opened, the query on its way) node-a's liveness thread goes on confirming
    // every grace/4, and a confirmation sent in that window moves the deadline on rightly; a time
    // taken before the call counted it against the keeper (556 ms > 500 ms under load).
    const qint64 cutAsked = LeaseKeeper::steadyNowMs();
    QCOMPARE(m_postgres.terminateLivenessSessions(db, u"lease-a"_qs), 1);
    const qint64 cutAt = LeaseKeeper::steadyNowMs();
    qInfo().noquote() << QStringLiteral("cutting node-a's liveness session took %1 ms").arg(cutAt - cutAsked);
    // Every confirmation that succeeded was sent before the cut: the deadline is at most half the grace after it.
    QTRY_VERIFY_WITH_TIMEOUT(LeaseKeeper::steadyNowMs() >= deadline->load(), int(leaseMs / 4));
    const qint64 deadlineAfterCut = deadline->load() - cutAt;
    QTRY_COMPARE_WITH_TIMEOUT(lostA.size(), 3, int(leaseMs / 4));
    const qint64 lostAfterCut = LeaseKeeper::steadyNowMs() - cutAt;
    qInfo().noquote() << QStringLiteral("node-a's watchdog deadline was %1 ms after its liveness session was cut; its keeper gave "
                                        "its work up %2 ms after (grace %3 ms)")
                             .arg(deadlineAfterCut).arg(lostAfterCut).arg(graceMs);
    QVERIFY2(deadlineAfterCut <= graceMs / 2, qPrintable(QStringLiteral("the deadline was %1 ms after the cut").arg(deadlineAfterCut)));
    QTRY_VERIFY_WITH_TIMEOUT(a.livenessLost(), int(leaseMs / 4)); // the liveness thread's word, at its next check
    QVERIFY(a.held().isEmpty());

    QVERIFY(m_postgres.allowLogin(db, u"lease_a"_qs, true));
    QTRY_VERIFY_WITH_TIMEOUT(!a.livenessLost(), 40000);
    QTRY_COMPARE_WITH_TIMEOUT(claimedA.size(), 6, 10000);
    QCOMPARE(a.held().size(), 3);
    QVERIFY(LeaseKeeper::steadyNowMs() < deadline->load());
    a.stop();
}

void TestLease::fairSharesAddUp_data()
{
    QTest::addColumn<QList<LeasePeer>>("peers");
    QTest::addColumn<int>("total");
    QTest::addColumn<QList<int>>("shares");
    const auto peers = [](QList<int> weights) {
        QList<LeasePeer> out;
        for (int i = 0; i < weights.size(); ++i)
            out.append({QStringLiteral("node-%1").arg(QChar(u'a' + i)), weights.at(i)});
        return out;
    };
    QTest::newRow("two equal, four") << peers({1, 1}) << 4 << QList<int>{2, 2};
    QTest::newRow("three equal, four: the first rounds up") << peers({1, 1, 1}) << 4 << QList<int>{2, 1, 1};
    QTest::newRow("three equal, five") << peers({1, 1, 1}) << 5 << QList<int>{2, 2, 1};
    QTest::newRow("more nodes than work") << peers({1, 1, 1}) << 1 << QList<int>{1, 0, 0};
    QTest::newRow("by capacity") << peers({30, 10}) << 4 << QList<int>{3, 1};
    QTest::newRow("by capacity, largest remainder") << peers({10, 20, 10}) << 3 << QList<int>{1, 1, 1};
    QTest::newRow("a small node, rounding up") << peers({1, 40}) << 4 << QList<int>{0, 4};
    QTest::newRow("no weights: equal") << peers({0, 0}) << 3 << QList<int>{2, 1};
    QTest::newRow("nothing") << peers({1, 1}) << 0 << QList<int>{0, 0};
}

// The share-out of archives among nodes: in proportion to capacity, adding up to the work, the
// same on every node.
void TestLease::fairSharesAddUp()
{
    QFETCH(QList<LeasePeer>, peers);
    QFETCH(int, total);
    QFETCH(QList<int>, shares);
    const QHash<QString, int> got = fairShares(peers, total);
    QList<int> ordered;
    for (const LeasePeer &p : peers)
        ordered << got.value(p.node, -1);
    QCOMPARE(ordered, shares);
}

QTEST_GUILESS_MAIN(TestLease)
#include "tst_lease.moc"
