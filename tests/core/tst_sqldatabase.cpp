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
