// ControlStore on SQLite: schema, boxes, batched telemetry/events, command lifecycle rows,
// operators, tokens, audit, pruning, and persistence across reopen.

#include "store/store.h"
#include "domain/credentials.h"

#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::control;

class TestControlStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_path = m_dir->filePath(QStringLiteral("c.sqlite"));
    }

    void boxes()
    {
        ControlStore s;
        QString error;
        QVERIFY2(s.open(m_path, &error), qPrintable(error));
        BoxRow b;
        b.serial = QStringLiteral("SN-1");
        b.mac = QStringLiteral("00:11:22:33:44:55");
        b.model = QStringLiteral("m1");
        b.secretHash = keyedHash("k", "secret");
        b.tags = {QStringLiteral("lab"), QStringLiteral("eu")};
        QVERIFY2(s.insertBox(&b, &error), qPrintable(error));
        QVERIFY(b.id > 0);
        BoxRow dup = b;
        QVERIFY(!s.insertBox(&dup, &error)); // serial is unique
        QVERIFY(error.contains(u"insert box"));

        QVERIFY(s.setBoxState(b.id, BoxState::Approved, "tokhash", &error));
        QVERIFY(s.setBoxTags(b.id, {QStringLiteral("x")}, &error));
        QVERIFY(s.setBoxReleaseChannel(b.id, QStringLiteral("experimental"), &error));
        s.queueBoxSeen(b.id, 1234, QStringLiteral("1.2.0"), QStringLiteral("ch1"), "\xa0");
        QVERIFY(s.flush(&error));
        auto r = s.box(b.id);
        QVERIFY(r);
        QCOMPARE(r->state, BoxState::Approved);
        QCOMPARE(r->tokenHash, QByteArray("tokhash"));
        QCOMPARE(r->tags, QStringList{QStringLiteral("x")});
        QCOMPARE(r->releaseChannel, u"experimental"_qs);
        QCOMPARE(r->lastSeen, 1234);
        QCOMPARE(r->softwareVersion, u"1.2.0"_qs);
        QCOMPARE(r->telemetry, QByteArray("\xa0"));
        s.close();

        ControlStore again;
        QVERIFY(again.open(m_path, &error));
        const auto all = again.loadBoxes(&error);
        QCOMPARE(all.size(), 1);
        QCOMPARE(all.first().serial, u"SN-1"_qs);
        QCOMPARE(all.first().secretHash, b.secretHash);
        QVERIFY(all.first().telemetry.isEmpty()); // the blob is not loaded with the fleet
    }

    void enrollmentIsOneTransaction()
    {
        ControlStore s;
        QString error;
        QVERIFY2(s.open(m_path, &error), qPrintable(error));
        QString (*targetOf)(qint64) = [](qint64 id) -> QString { return u"b-"_qs + QString::number(id); };
        QList<qint64> ids;
        for (int i = 0; i < 3; ++i) {
            BoxRow b;
            b.serial = QStringLiteral("EN-%1").arg(i);
            AuditRow a{0, 100 + i, u"system"_qs, u"box.enroll"_qs, {}, u"ok"_qs, u"first contact"_qs};
            QVERIFY2(s.enrollBox(&b, &a, targetOf, &error), qPrintable(error));
            QCOMPARE(a.target, targetOf(b.id));
            ids.append(b.id);
        }
        // A second enrollment of a serial fails whole: no audit entry without its box.
        BoxRow dup;
        dup.serial = QStringLiteral("EN-0");
        AuditRow a{0, 200, u"system"_qs, u"box.enroll"_qs, {}, u"ok"_qs, u"again"_qs};
        QVERIFY(!s.enrollBox(&dup, &a, targetOf, &error));
        QCOMPARE(dup.id, 0);
        const QList<AuditRow> entries = s.audit(u"system"_qs, 100, 0, &error);
        QCOMPARE(entries.size(), 3);
        for (const AuditRow &e : entries)
            QVERIFY(e.detail != u"again"_qs);

        // Several rows by id in one call; ids that do not exist are left out.
        error.clear();
        const QList<BoxRow> rows = s.loadBoxes(QList<qint64>{ids[2], 999999, ids[0]}, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(rows.size(), 2);
        QStringList serials;
        for (const BoxRow &r : rows)
            serials.append(r.serial);
        serials.sort();
        QCOMPARE(serials, (QStringList{u"EN-0"_qs, u"EN-2"_qs}));
    }

    void telemetryAndEventsBatchedAndPruned()
    {
        ControlStore s;
        QString error;
        QVERIFY(s.open(m_path, &error));
        for (int i = 0; i < 250; ++i)
            s.queueTelemetry(7, 1000 + i, QByteArray::number(i));
        for (int i = 0; i < 30; ++i)
            s.queueEvent({0, 7, 2000 + i, QStringLiteral("error"), QStringLiteral("error"), QStringLiteral("e%1").arg(i), {}});
        QCOMPARE(s.pendingWrites(), 280);
        QVERIFY2(s.flush(&error), qPrintable(error));
        QCOMPARE(s.pendingWrites(), 0);
        QCOMPARE(s.telemetry(7, 0, 1000, &error).size(), 250);
        const auto recent = s.telemetry(7, 1200, 10, &error);
        QCOMPARE(recent.size(), 10);
        QCOMPARE(recent.first().time, 1249); // newest first
        QCOMPARE(s.events(7, 100, &error).size(), 30);

        QVERIFY2(s.prune(1100, 0, 10, &error), qPrintable(error));
        QCOMPARE(s.telemetry(7, 0, 1000, &error).size(), 150);
        const auto ev = s.events(7, 100, &error);
        QCOMPARE(ev.size(), 10);
        QCOMPARE(ev.first().text, u"e29"_qs);
    }

    void failedFlushKeepsEverythingQueued()
    {
        ControlStore s;
        QString error;
        QVERIFY(s.open(m_path, &error));
        for (int i = 0; i < 5; ++i)
            s.queueTelemetry(7, 1000 + i, QByteArray::number(i));
        s.queueEvent({0, 7, 2000, QStringLiteral("error"), QStringLiteral("error"), QStringLiteral("e"), {}});
        // Another client takes the events table away: the flush fails half-way through.
        {
            QSqlDatabase other = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("other"));
            other.setDatabaseName(m_path);
            QVERIFY(other.open());
            QVERIFY(QSqlQuery(other).exec(QStringLiteral("ALTER TABLE events RENAME TO events_away")));
        }
        QVERIFY(!s.flush(&error));
        QVERIFY2(error.contains(u"insert events"), qPrintable(error));
        QCOMPARE(s.pendingWrites(), 6); // nothing lost
        // Rolled back: the telemetry written before the failure is not half there, and the
        // connection is not left inside the failed transaction.
        {
            QSqlDatabase other = QSqlDatabase::database(QStringLiteral("other"));
            QSqlQuery count(other);
            QVERIFY(count.exec(QStringLiteral("SELECT COUNT(*) FROM telemetry")) && count.next());
            QCOMPARE(count.value(0).toInt(), 0);
        }
        QCOMPARE(s.telemetry(7, 0, 100, &error).size(), 5); // reads still see the queue, once
        {
            QSqlDatabase other = QSqlDatabase::database(QStringLiteral("other"));
            QVERIFY(QSqlQuery(other).exec(QStringLiteral("ALTER TABLE events_away RENAME TO events")));
            other.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("other"));
        QVERIFY2(s.flush(&error), qPrintable(error));
        QCOMPARE(s.pendingWrites(), 0);
        QCOMPARE(s.telemetry(7, 0, 100, &error).size(), 5);
        QCOMPARE(s.events(7, 100, &error).size(), 1);
    }

    // Reads see what is queued: the same reads give the same answers before and after the flush
    // (events not flushed yet have id 0), so the operator API needs no flush before reading.
    void readsSeeWhatIsQueued()
    {
        ControlStore s;
        QString error;
        QVERIFY(s.open(m_path, &error));
        QList<CommandRow> rows;
        for (int box = 1; box <= 4; ++box)
            rows.append(CommandRow{0, 0, box, QStringLiteral("reboot"), "\xa0", CommandState::Queued, 100, 0, 0, 0, 500,
                                   QStringLiteral("admin"), {}, {}, {}});
        QVERIFY2(s.insertCommands(&rows, &error), qPrintable(error));
        for (int i = 0; i < 6; ++i)
            s.queueTelemetry(7, 1000 + 2 * i, QByteArray::number(i));
        for (int i = 0; i < 3; ++i)
            s.queueEvent({0, 7, 2000 + i, QStringLiteral("error"), QStringLiteral("error"), QStringLiteral("e%1").arg(i), {}});
        QVERIFY2(s.flush(&error), qPrintable(error));
        // Some rows in the table, newer ones queued, another box's in between.
        for (int i = 6; i < 10; ++i) {
            s.queueTelemetry(7, 1000 + 2 * i, QByteArray::number(i));
            s.queueTelemetry(8, 1000 + 2 * i, "other box");
        }
        s.queueTelemetry(7, 1001, "late sample"); // older than rows in the table
        for (int i = 3; i < 5; ++i)
            s.queueEvent({0, 7, 2000 + i, QStringLiteral("error"), QStringLiteral("error"), QStringLiteral("e%1").arg(i), {}});
        s.queueEvent({0, 8, 2009, QStringLiteral("boot"), QStringLiteral("info"), QStringLiteral("other"), {}});
        s.queueCommandState(rows[0].id, CommandState::Delivered, 110);
        s.queueCommandState(rows[0].id, CommandState::Succeeded, 112, QStringLiteral("done"), "logs", QStringLiteral("text/plain"));
        s.queueCommandState(rows[0].id, CommandState::Expired, 113); // too late: final stays
        s.queueCommandState(rows[1].id, CommandState::Delivered, 120);
        s.queueCommandState(rows[2].id, CommandState::Expired, 130);

        const auto reads = [&] {
            QStringList out;
            for (const TelemetrySample &t : s.telemetry(7, 0, 100, &error))
                out.append(QStringLiteral("t %1 %2").arg(t.time).arg(QString::fromLatin1(t.data)));
            for (const TelemetrySample &t : s.telemetry(7, 1004, 3, &error))
                out.append(QStringLiteral("t3 %1").arg(t.time));
            for (const TelemetrySample &t : s.telemetry(7, 1015, 100, &error))
                out.append(QStringLiteral("tsince %1").arg(t.time));
            for (const EventRow &e : s.events(7, 4, &error))
                out.append(QStringLiteral("e %1 %2").arg(e.text).arg(e.time));
            const auto command = [](const CommandRow &c) {
                return QStringLiteral("c %1 %2 %3/%4/%5 %6 %7 %8").arg(c.id).arg(commandStateName(c.state)).arg(c.delivered)
                    .arg(c.acknowledged).arg(c.finished).arg(c.resultText, c.resultMime, QString::fromLatin1(c.resultData));
            };
            for (const CommandRow &r : rows) {
                out.append(command(*s.command(r.id, false)));
                out.append(command(*s.command(r.id, true)));
            }
            for (int st = 0; st < kCommandStateCount; ++st) {
                for (const CommandRow &c : s.commands({0, 0, CommandState(st), 100, 0}, st == 3, &error))
                    out.append(u"by state "_qs + command(c));
            }
            for (const CommandRow &c : s.commands({0, 0, CommandState::Queued, 1, 0}, false, &error))
                out.append(u"first queued "_qs + command(c));
            for (const CommandRow &c : s.commands({0, 2, std::nullopt, 100, 0}, false, &error))
                out.append(u"box 2 "_qs + command(c));
            return out;
        };
        const QStringList queued = reads();
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QVERIFY2(queued.contains(u"t 1018 9"_qs), qPrintable(queued.join(u'\n')));
        QVERIFY(queued.contains(u"e e4 2004"_qs));
        QVERIFY(queued.contains(QStringLiteral("c %1 succeeded 110/0/112 done text/plain logs").arg(rows[0].id)));
        QVERIFY2(s.flush(&error), qPrintable(error));
        QCOMPARE(s.pendingWrites(), 0);
        const QStringList flushed = reads();
        QCOMPARE(queued, flushed);
    }

    void queuesAreBounded()
    {
        ControlStore s;
        QString error;
        QVERIFY(s.open(m_path, &error));
        s.setQueueLimit(10);
        for (int i = 0; i < 25; ++i)
            s.queueTelemetry(7, 1000 + i, QByteArray::number(i));
        for (int i = 0; i < 12; ++i)
            s.queueEvent({0, 7, 2000 + i, QStringLiteral("error"), QStringLiteral("error"), QStringLiteral("e%1").arg(i), {}});
        s.queueCommandState(1, CommandState::Delivered, 3000); // never dropped
        QCOMPARE(s.pendingWrites(), 21);
        const ControlStore::QueueLosses dropped = s.takeDropped();
        QCOMPARE(dropped.telemetry, 15);
        QCOMPARE(dropped.events, 2);
        QCOMPARE(s.takeDropped().telemetry, 0); // counted once
        QVERIFY2(s.flush(&error), qPrintable(error));
        const auto kept = s.telemetry(7, 0, 100, &error);
        QCOMPARE(kept.size(), 10);
        QCOMPARE(kept.last().time, 1015); // the oldest went first
        QCOMPARE(s.events(7, 100, &error).last().text, u"e2"_qs);
    }

    void commands()
    {
        ControlStore s;
        QString error;
        QVERIFY(s.open(m_path, &error));
        QList<CommandRow> rows;
        for (int box = 1; box <= 3; ++box)
            rows.append(CommandRow{0, 0, box, QStringLiteral("reboot"), "\xa0", CommandState::Queued, 100, 0, 0, 0, 500,
                                   QStringLiteral("admin"), {}, {}, {}});
        QVERIFY2(s.insertCommands(&rows, &error), qPrintable(error));
        QVERIFY(rows[0].id > 0);
        QCOMPARE(rows[0].batchId, rows[0].id);
        QCOMPARE(rows[2].batchId, rows[0].id);

        s.queueCommandState(rows[0].id, CommandState::Delivered, 110);
        s.queueCommandState(rows[0].id, CommandState::Acknowledged, 111);
        s.queueCommandState(rows[0].id, CommandState::Succeeded, 112, QStringLiteral("done"), "logs", QStringLiteral("text/plain"));
        s.queueCommandState(rows[0].id, CommandState::Expired, 113); // too late: final stays
        s.queueCommandState(rows[1].id, CommandState::Expired, 120);
        QVERIFY2(s.flush(&error), qPrintable(error));

        auto c = s.command(rows[0].id, true);
        QVERIFY(c);
        QCOMPARE(c->state, CommandState::Succeeded);
        QCOMPARE(c->delivered, 110);
        QCOMPARE(c->acknowledged, 111);
        QCOMPARE(c->finished, 112);
        QCOMPARE(c->resultText, u"done"_qs);
        QCOMPARE(c->resultData, QByteArray("logs"));
        QCOMPARE(s.command(rows[0].id, false)->resultData, QByteArray());
        // Several by id at once (routed commands), without result data; unknown ids left out.
        const QList<CommandRow> some = s.commands(QList<qint64>{rows[2].id, 424242, rows[0].id}, &error);
        QCOMPARE(some.size(), 2);
        for (const CommandRow &r : some) {
            QVERIFY(r.id == rows[0].id || r.id == rows[2].id);
            QVERIFY(r.resultData.isEmpty());
        }

        const auto active = s.activeCommands(&error);
        QCOMPARE(active.size(), 1);
        QCOMPARE(active.first().boxId, 3);
        QCOMPARE(s.commands({rows[0].batchId, 0, std::nullopt, 100, 0}, false, &error).size(), 3);
        QCOMPARE(s.commands({0, 2, std::nullopt, 100, 0}, false, &error).size(), 1);
        QCOMPARE(s.commands({0, 0, CommandState::Expired, 100, 0}, false, &error).size(), 1);
        const auto counts = s.commandCountsByState(&error);
        QCOMPARE(counts.value(u"succeeded"_qs), 1);
        QCOMPARE(counts.value(u"queued"_qs), 1);
    }

    void commandsForManyBoxes()
    {
        // More rows than one statement takes: every row gets its own id, in row order, and the
        // batch is named by the first.
        ControlStore s;
        QString error;
        QVERIFY(s.open(m_path, &error));
        QList<CommandRow> rows;
        for (int box = 1; box <= 1234; ++box)
            rows.append(CommandRow{0, 0, box, QStringLiteral("message"), "\xa0", CommandState::Queued, 100, 0, 0, 0, 500,
                                   QStringLiteral("admin"), {}, {}, {}});
        QVERIFY2(s.insertCommands(&rows, &error), qPrintable(error));
        for (qsizetype i = 0; i < rows.size(); ++i) {
            QCOMPARE(rows[i].batchId, rows[0].id);
            if (i > 0)
                QVERIFY(rows[i].id > rows[i - 1].id);
            const auto stored = s.command(rows[i].id, false);
            QVERIFY(stored);
            QCOMPARE(stored->boxId, rows[i].boxId);
            QCOMPARE(stored->batchId, rows[0].id);
        }
        QCOMPARE(s.commands({rows[0].id, 0, std::nullopt, 2000, 0}, false, &error).size(), 1234);
        // A batch already named keeps its id.
        QList<CommandRow> more = rows.mid(0, 3);
        for (CommandRow &r : more)
            r.batchId = 77;
        QVERIFY2(s.insertCommands(&more, &error), qPrintable(error));
        QCOMPARE(s.commands({77, 0, std::nullopt, 10, 0}, false, &error).size(), 3);
    }

    void operatorsTokensAudit()
    {
        ControlStore s;
        QString error;
        QVERIFY(s.open(m_path, &error));
        QCOMPARE(s.operatorCount(&error), 0);
        const QByteArray hash = hashPassword(QStringLiteral("pw"), 1, 8192 * 1024);
        QVERIFY(!hash.isEmpty());
        QVERIFY(s.insertOperator({QStringLiteral("alice"), hash, QStringLiteral("viewer"), 1, false}, &error));
        QVERIFY(!s.insertOperator({QStringLiteral("alice"), hash, QStringLiteral("viewer"), 1, false}, &error));
        auto op = s.operatorAccount(QStringLiteral("alice"));
        QVERIFY(op);
        QVERIFY(verifyPassword(op->passwordHash, QStringLiteral("pw")));
        QVERIFY(!verifyPassword(op->passwordHash, QStringLiteral("wrong")));
        op->role = QStringLiteral("admin");
        QVERIFY(s.updateOperator(*op, &error));
        QCOMPARE(s.operators(&error).first().role, u"admin"_qs);

        QVERIFY(s.insertOperatorToken("h1", QStringLiteral("alice"), 100, &error));
        QCOMPARE(s.tokenAccount("h1", 50), u"alice"_qs);
        QCOMPARE(s.tokenAccount("h1", 100), QString()); // expired
        QVERIFY(s.pruneOperatorTokens(100, &error));
        QCOMPARE(s.tokenAccount("h1", 0), QString());

        AuditRow a{0, 5, QStringLiteral("alice"), QStringLiteral("login"), {}, QStringLiteral("ok"), {}};
        QVERIFY(s.appendAudit(&a, &error));
        AuditRow b{0, 6, QStringLiteral("bob"), QStringLiteral("login"), {}, QStringLiteral("denied"), QStringLiteral("bad password")};
        QVERIFY(s.appendAudit(&b, &error));
        QVERIFY(b.id > a.id);
        QCOMPARE(s.audit({}, 10, 0, &error).size(), 2);
        QCOMPARE(s.audit(QStringLiteral("bob"), 10, 0, &error).first().outcome, u"denied"_qs);
    }

    void metaAndNewerSchemaRefused()
    {
        QString error;
        {
            ControlStore s;
            QVERIFY(s.open(m_path, &error));
            QVERIFY(s.setMeta(QStringLiteral("k"), "v1", &error));
            QVERIFY(s.setMeta(QStringLiteral("k"), "v2", &error));
            QCOMPARE(s.meta(QStringLiteral("k")), QByteArray("v2"));
            QVERIFY(s.setMeta(QStringLiteral("schema"), "99", &error));
        }
        ControlStore s;
        QVERIFY(!s.open(m_path, &error));
        QVERIFY2(error.contains(u"newer"), qPrintable(error));
    }

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_path;
};

QTEST_GUILESS_MAIN(TestControlStore)
#include "tst_controlstore.moc"
