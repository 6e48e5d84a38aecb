#include <core/sqldatabase.h>

#include <QDir>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv;

// The servers' stores all open their database through openSqlDatabase(); what they rely on is
// checked here once: the backend chosen from the location, the session settings, and that a
// failure leaves no connection behind.
class TestSqlDatabase : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void postgresUri_data()
    {
        QTest::addColumn<QString>("uri");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<QString>("host");
        QTest::addColumn<int>("port");
        QTest::addColumn<QString>("user");
        QTest::addColumn<QString>("password");
        QTest::addColumn<QString>("database");
        QTest::newRow("full") << u"postgresql://iptv:s3cret@db.example:6543/guide"_qs << true << u"db.example"_qs << 6543
                              << u"iptv"_qs << u"s3cret"_qs << u"guide"_qs;
        QTest::newRow("short scheme, default port") << u"postgres://u@localhost/g"_qs << true << u"localhost"_qs << 5432
                                                    << u"u"_qs << QString() << u"g"_qs;
        QTest::newRow("escaped password") << u"postgresql://u:p%40ss@h/d"_qs << true << u"h"_qs << 5432 << u"u"_qs
                                          << u"p@ss"_qs << u"d"_qs;
        QTest::newRow("sqlite path") << u"/var/lib/iptvnext/iptvnext.sqlite"_qs << false << QString() << 0 << QString()
                                     << QString() << QString();
    }

    void postgresUri()
    {
        QFETCH(QString, uri);
        QFETCH(bool, valid);
        PostgresParams p;
        QCOMPARE(parsePostgresUri(uri, &p), valid);
        if (!valid)
            return;
        QTEST(p.host, "host");
        QTEST(p.port, "port");
        QTEST(p.user, "user");
        QTEST(p.password, "password");
        QTEST(p.database, "database");
    }

    void execSqlNamesTheStatement()
    {
        QTemporaryDir dir;
        const QString name = u"tst-exec"_qs;
        QString error;
        QVERIFY2(openSqlDatabase(dir.filePath(u"s.sqlite"_qs), name, &error), qPrintable(error));
        QVERIFY2(execSql(name, u"CREATE TABLE t (a INTEGER NOT NULL)"_qs, &error), qPrintable(error));
        QVERIFY(!execSql(name, u"INSERT INTO nowhere (a) VALUES (1)"_qs, &error));
        QVERIFY2(error.startsWith(u"INSERT INTO nowhere (a) VALUES (1): "), qPrintable(error));
        QVERIFY2(error.contains(u"nowhere"), qPrintable(error));
        closeSqlDatabase(name);
    }

    void schemaVersion()
    {
        QTemporaryDir dir;
        const QString name = u"tst-schema"_qs;
        QString error;
        QVERIFY2(openSqlDatabase(dir.filePath(u"s.sqlite"_qs), name, &error), qPrintable(error));
        QVERIFY(execSql(name, u"CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB)"_qs, &error));
        auto stored = [&name] {
            QSqlQuery q(QSqlDatabase::database(name, false));
            return q.exec(u"SELECT value FROM meta WHERE key = 'schema'"_qs) && q.next() ? q.value(0).toString().toInt() : -1;
        };
        // New: written. Same: fine, no upgrade asked for.
        QVERIFY2(checkSchemaVersion(name, u"tst"_qs, 1, {}, &error), qPrintable(error));
        QCOMPARE(stored(), 1);
        QVERIFY2(checkSchemaVersion(name, u"tst"_qs, 1, {}, &error), qPrintable(error));
        // Older without an upgrade: refused, and left as it was.
        QVERIFY(!checkSchemaVersion(name, u"tst"_qs, 3, {}, &error));
        QVERIFY2(error.contains(u"older"), qPrintable(error));
        QCOMPARE(stored(), 1);
        // Older with upgrades: one step at a time, the version kept after each.
        QList<int> steps;
        const SchemaUpgrade upgrade = [&](int from, QString *why) {
            steps.append(from);
            if (from == 2) {
                *why = u"no room"_qs;
                return false;
            }
            return true;
        };
        QVERIFY(!checkSchemaVersion(name, u"tst"_qs, 4, upgrade, &error));
        QCOMPARE(steps, (QList<int>{1, 2}));
        QCOMPARE(error, u"upgrading the database schema from 2 to 3: no room"_qs);
        QCOMPARE(stored(), 2);
        steps.clear();
        QVERIFY2(checkSchemaVersion(name, u"tst"_qs, 2, upgrade, &error), qPrintable(error));
        QVERIFY(steps.isEmpty());
        // Newer: refused, naming the program.
        QVERIFY(!checkSchemaVersion(name, u"tst"_qs, 1, upgrade, &error));
        QCOMPARE(error, u"database schema 2 is newer than this tst understands (1)"_qs);
        closeSqlDatabase(name);
    }

    void batchInsert_data()
    {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("badRow"); // -1: none
        QTest::addColumn<QString>("error");
        QTest::newRow("none") << 0 << -1 << QString();
        QTest::newRow("less than a chunk") << 7 << -1 << QString();
        QTest::newRow("chunks and a rest") << 250 << -1 << QString();
        QTest::newRow("exact chunks") << 300 << -1 << QString();
        QTest::newRow("bad row in a full chunk") << 250 << 130 << u"rows 100..199 of 250"_qs;
        QTest::newRow("bad row in the rest") << 250 << 249 << u"rows 200..249 of 250"_qs;
    }
    void batchInsert()
    {
        QFETCH(int, rows);
        QFETCH(int, badRow);
        QFETCH(QString, error);
        QTemporaryDir dir;
        const QString name = u"tst-batch"_qs;
        QString why;
        QVERIFY2(openSqlDatabase(dir.filePath(u"s.sqlite"_qs), name, &why), qPrintable(why));
        QVERIFY(execSql(name, u"CREATE TABLE t (a INTEGER NOT NULL, b TEXT)"_qs, &why));
        {
            SqlBatchInsert insert(name, u"INSERT INTO t (a, b) VALUES "_qs, u"(?,?)"_qs, 100);
            // Twice through the same object: the kept full-chunk statement is reused.
            for (int round = 0; round < 2; ++round) {
                const bool ok = insert.insert(rows, [badRow](QSqlQuery &q, qsizetype i) {
                    q.addBindValue(i == badRow ? QVariant() : QVariant(qint64(i)));
                    q.addBindValue(QString::number(i));
                }, &why);
                QCOMPARE(ok, badRow < 0);
                if (!ok) {
                    QVERIFY2(why.startsWith(u"INSERT INTO t (a, b) VALUES (?,?) ("_qs + error + u"): "), qPrintable(why));
                    break;
                }
            }
        }
        if (badRow < 0) {
            QSqlQuery q(QSqlDatabase::database(name, false));
            QVERIFY(q.exec(u"SELECT COUNT(*), COALESCE(SUM(a), 0), COUNT(DISTINCT b) FROM t"_qs) && q.next());
            QCOMPARE(q.value(0).toInt(), 2 * rows);
            QCOMPARE(q.value(1).toLongLong(), qint64(rows) * (rows - 1));
            QCOMPARE(q.value(2).toInt(), rows);
        }
        closeSqlDatabase(name);
    }

    void sqliteFileWithSettings()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString name = u"tst-sqlite"_qs;
        QString error;
        // The directory does not exist yet: opening creates it.
        const auto backend = openSqlDatabase(dir.filePath(u"sub/dir/store.sqlite"_qs), name, &error);
        QVERIFY2(backend, qPrintable(error));
        QCOMPARE(*backend, SqlBackend::SQLite);
        {
            QSqlDatabase db = QSqlDatabase::database(name, false);
            QVERIFY(db.isOpen());
            QSqlQuery q(db);
            QVERIFY(q.exec(u"PRAGMA journal_mode"_qs) && q.next());
            QCOMPARE(q.value(0).toString(), u"wal"_qs);
            QVERIFY(q.exec(u"PRAGMA synchronous"_qs) && q.next());
            QCOMPARE(q.value(0).toInt(), 1); // NORMAL
        }
        closeSqlDatabase(name);
        QVERIFY(!QSqlDatabase::contains(name));
        closeSqlDatabase(name); // closing twice is harmless
    }

    void failureLeavesNoConnection()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString name = u"tst-bad"_qs;
        QString error;
        // A directory where the database file should be: SQLite cannot open it.
        QVERIFY(QDir(dir.path()).mkdir(u"taken"_qs));
        QVERIFY(!openSqlDatabase(dir.filePath(u"taken"_qs), name, &error));
        QVERIFY2(error.startsWith(u"cannot open database " + dir.filePath(u"taken"_qs) + u": "), qPrintable(error));
        QVERIFY(!QSqlDatabase::contains(name));
    }

    void postgresErrorHidesPassword()
    {
        const QString name = u"tst-pg"_qs;
        QString error;
        // Nothing listens on port 1; the message names the database, never the password.
        const auto backend = openSqlDatabase(u"postgresql://u:s3cret@127.0.0.1:1/guide?connect_timeout=2"_qs, name, &error);
        QVERIFY(!backend);
        QVERIFY2(!error.contains(u"s3cret"), qPrintable(error));
        QVERIFY(!QSqlDatabase::contains(name));
    }
};

QTEST_GUILESS_MAIN(TestSqlDatabase)
#include "tst_sqldatabase.moc"
