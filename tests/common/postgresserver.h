#pragma once

// A throwaway PostgreSQL for tests: initdb in a temporary directory, pg_ctl start on a free
// loopback port with fsync off, stopped with the object. PostgreSQL refuses to run as root, so
// its tools run as the postgres user then. Tests skip with the reason from skipReason() (or
// startOrSkipReason()) when the server binaries or Qt's QPSQL driver are missing.
//
// What the tests do with it besides, in one place: a fresh database per test (freshDatabase),
// statements as the superuser (exec), a node's own login role that the test can forbid to log
// in again (createNodeRole, allowLogin), and cutting a node's sessions (terminateBackends).

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QAtomicInteger>
#include <QDebug>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTcpServer>
#include <QUrl>
#include <QTemporaryDir>

#include <algorithm>
#include <memory>

#include <unistd.h>

class PostgresServer
{
public:
    /// Why the tests cannot run here, or empty when they can.
    static QString skipReason()
    {
        if (binDir().isEmpty())
            return QStringLiteral("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)");
        if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL")))
            return QStringLiteral("Qt's QPSQL driver is not installed (apt-get install libqt6sql6-psql)");
        return {};
    }

    ~PostgresServer() { stop(); }

    /// skipReason(), then start(): empty when the server runs, else why the tests that need it
    /// skip (with the tools' output when it did not start). For initTestCase().
    QString startOrSkipReason()
    {
        QString why = skipReason();
        if (!why.isEmpty())
            return why;
        QString output;
        if (!start(&output))
            return QStringLiteral("the server did not start: ") + output;
        return {};
    }

    /// A new database `<prefix><n>` (n counts the databases made so far); its uri(), or empty
    /// with a warning when it could not be made.
    QString freshDatabase(const QString &prefix)
    {
        const QString name = prefix + QString::number(++m_databases);
        QString error;
        if (!createDatabase(name, &error)) {
            qWarning().noquote() << "creating the database" << name << ":" << error;
            return {};
        }
        return uri(name);
    }

    /// Runs `statement` as the test's superuser on the database of `databaseUri` (one of
    /// uri()'s), through a connection of its own; false with a warning when it fails.
    bool exec(const QString &databaseUri, const QString &statement)
    {
        return withConnection(databaseUri, [&](QSqlDatabase db) {
            QSqlQuery q(db);
            if (!q.exec(statement)) {
                qWarning().noquote() << statement << ":" << q.lastError().text();
                return false;
            }
            return true;
        });
    }

    /// Terminates the sessions whose application_name is `applicationName` (a node's, set by
    /// `?application_name=` in its URI): how many, or -1.
    int terminateBackends(const QString &databaseUri, const QString &applicationName)
    {
        int n = -1;
        withConnection(databaseUri, [&](QSqlDatabase db) {
            QSqlQuery q(db);
            q.prepare(QStringLiteral("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ?"));
            q.addBindValue(applicationName);
            if (q.exec() && q.next())
                n = q.value(0).toInt();
            else
                qWarning().noquote() << "terminating" << applicationName << ":" << q.lastError().text();
            return n >= 0;
        });
        return n;
    }

    /// Terminates only the sessions of `applicationName` that hold a Diver liveness lock (a
    /// LeaseKeeper's liveness thread: its own connection), leaving the node's other sessions
    /// open: how many, or -1.
    int terminateLivenessSessions(const QString &databaseUri, const QString &applicationName)
    {
        int n = -1;
        withConnection(databaseUri, [&](QSqlDatabase db) {
            QSqlQuery q(db);
            // 1685484081 = 0x64767231 ("dvr1"), the liveness locks' first key (libs/dvr/lease.cpp).
            q.prepare(QStringLiteral("SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a WHERE a.application_name = ? "
                                     "AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' "
                                     "AND l.classid = 1685484081 AND l.objsubid = 2 AND l.granted)"));
            q.addBindValue(applicationName);
            if (q.exec() && q.next())
                n = q.value(0).toInt();
            else
                qWarning().noquote() << "terminating the liveness sessions of" << applicationName << ":" << q.lastError().text();
            return n >= 0;
        });
        return n;
    }

    /// A login role of a node's own (a superuser, made again when it was there), which the test
    /// can forbid to log in (allowLogin): `databaseUri` as that role, or empty with a warning.
    QString createNodeRole(const QString &databaseUri, const QString &role)
    {
        if (!exec(databaseUri, QStringLiteral("DROP ROLE IF EXISTS %1").arg(role))
            || !exec(databaseUri, QStringLiteral("CREATE ROLE %1 LOGIN SUPERUSER").arg(role)))
            return {};
        return uriAs(databaseUri, role);
    }
    /// Lets a role log in, or not (its open sessions stay: terminateBackends() ends them).
    bool allowLogin(const QString &databaseUri, const QString &role, bool allowed)
    {
        return exec(databaseUri, QStringLiteral("ALTER ROLE %1 %2").arg(role, allowed ? u"LOGIN" : u"NOLOGIN"));
    }
    /// `databaseUri` with another user.
    static QString uriAs(QString databaseUri, const QString &role)
    {
        return databaseUri.replace(QRegularExpression(QStringLiteral("//[^@]*@")), QStringLiteral("//%1@").arg(role));
    }

    /// initdb + start; false with the tools' output in *error.
    bool start(QString *error)
    {
        m_bin = binDir();
        m_dir = std::make_unique<QTemporaryDir>();
        if (!m_dir->isValid()) {
            *error = QStringLiteral("no temporary directory");
            return false;
        }
        m_data = m_dir->filePath(QStringLiteral("pgdata"));
        if (::geteuid() == 0) {
            QFile::setPermissions(m_dir->path(), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadOther
                                                     | QFile::ExeOther);
            QDir().mkpath(m_data);
            if (!run(QStringLiteral("chown"), {QStringLiteral("postgres:postgres"), m_data}, error, false))
                return false;
        }
        if (!run(m_bin + QStringLiteral("/initdb"),
                 {QStringLiteral("-D"), m_data, QStringLiteral("-U"), QStringLiteral("iptv"), QStringLiteral("-A"),
                  QStringLiteral("trust"), QStringLiteral("-E"), QStringLiteral("UTF8"), QStringLiteral("--no-sync")},
                 error))
            return false;
        // A free port is only free until someone binds it: between the probe's close and the
        // postmaster's bind, another test running beside this one (ctest -j) or any outgoing
        // connection may take it. Then the postmaster says so in its log, and a new port is tried.
        for (int attempt = 1;; ++attempt) {
            QTcpServer probe;
            probe.listen(QHostAddress::LocalHost, 0);
            m_port = probe.serverPort();
            probe.close();
            m_options = QStringLiteral("-p %1 -k %2 -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200")
                            .arg(m_port)
                            .arg(m_data);
            const qint64 logBefore = QFileInfo(m_data + QStringLiteral("/server.log")).size();
            if (startAgain(error))
                return true;
            QFile log(m_data + QStringLiteral("/server.log"));
            const bool portTaken = log.open(QIODevice::ReadOnly) && log.seek(logBefore) && log.readAll().contains("could not bind");
            if (!portTaken || attempt == 5)
                return false;
            qWarning("PostgreSQL could not bind port %u (taken since it was found free): another one", unsigned(m_port));
        }
    }

    /// Starts the server stopped by stopKeepingData() again, on the same port and data.
    bool startAgain(QString *error)
    {
        if (!run(m_bin + QStringLiteral("/pg_ctl"),
                 {QStringLiteral("-D"), m_data, QStringLiteral("-o"), m_options, QStringLiteral("-l"),
                  m_data + QStringLiteral("/server.log"), QStringLiteral("-w"), QStringLiteral("-t"), QStringLiteral("60"),
                  QStringLiteral("start")},
                 error))
            return false;
        m_running = true;
        return true;
    }

    /// Stops the server (fast: clients are disconnected), keeping its data for startAgain():
    /// what clients see of a database restart.
    bool stopKeepingData(QString *error)
    {
        m_running = false;
        return run(m_bin + QStringLiteral("/pg_ctl"),
                   {QStringLiteral("-D"), m_data, QStringLiteral("-m"), QStringLiteral("fast"), QStringLiteral("-w"),
                    QStringLiteral("stop")},
                   error);
    }

    void stop()
    {
        if (!m_running)
            return;
        m_running = false;
        QString out;
        if (!run(m_bin + QStringLiteral("/pg_ctl"),
                 {QStringLiteral("-D"), m_data, QStringLiteral("-m"), QStringLiteral("fast"), QStringLiteral("-w"),
                  QStringLiteral("stop")},
                 &out))
            qWarning("pg_ctl stop failed: %s", qPrintable(out));
    }

    /// A database of its own for one test.
    bool createDatabase(const QString &name, QString *error)
    {
        return run(m_bin + QStringLiteral("/createdb"),
                   {QStringLiteral("-h"), QStringLiteral("127.0.0.1"), QStringLiteral("-p"), QString::number(m_port),
                    QStringLiteral("-U"), QStringLiteral("iptv"), name},
                   error);
    }

    /// postgresql://iptv@127.0.0.1:<port>/<database>
    QString uri(const QString &database = QStringLiteral("postgres")) const
    {
        return QStringLiteral("postgresql://iptv@127.0.0.1:%1/%2").arg(m_port).arg(database);
    }
    quint16 port() const { return m_port; }

private:
    /// Runs `body` on a QPSQL connection of its own to the database of `databaseUri`, as the
    /// superuser; false when it cannot be opened (with a warning) or `body` says so.
    template <typename Body>
    bool withConnection(const QString &databaseUri, Body body)
    {
        static QAtomicInteger<int> connections;
        const QString name = QStringLiteral("postgresserver-%1").arg(connections.fetchAndAddRelaxed(1));
        bool ok = false;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
            db.setHostName(QStringLiteral("127.0.0.1"));
            db.setPort(m_port);
            db.setUserName(QStringLiteral("iptv"));
            db.setDatabaseName(QUrl(databaseUri).path().mid(1));
            if (!db.open())
                qWarning().noquote() << "connecting to" << databaseUri << ":" << db.lastError().text();
            else
                ok = body(db);
            db.close();
        }
        QSqlDatabase::removeDatabase(name);
        return ok;
    }

    static QString binDir()
    {
        QDir root(QStringLiteral("/usr/lib/postgresql"));
        QStringList versions = root.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
        std::sort(versions.begin(), versions.end(), [](const QString &a, const QString &b) { return a.toInt() > b.toInt(); });
        for (const QString &v : versions) {
            const QString bin = root.filePath(v + QStringLiteral("/bin"));
            if (QFile::exists(bin + QStringLiteral("/initdb")) && QFile::exists(bin + QStringLiteral("/pg_ctl")))
                return bin;
        }
        return {};
    }

    static bool run(const QString &program, const QStringList &args, QString *output, bool asPostgres = true)
    {
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        if (asPostgres && ::geteuid() == 0)
            p.start(QStringLiteral("runuser"), QStringList{QStringLiteral("-u"), QStringLiteral("postgres"), QStringLiteral("--"), program} + args);
        else
            p.start(program, args);
        const bool ok = p.waitForFinished(120000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
        *output = QString::fromLocal8Bit(p.readAll());
        return ok;
    }

    QString m_bin;
    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_data;
    QString m_options;
    quint16 m_port = 0;
    bool m_running = false;
    int m_databases = 0;
};
