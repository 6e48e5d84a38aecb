#include "sqldatabase.h"

#include "backoff.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QHash>
#include <QLoggingCategory>
#include <QMutex>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStringList>
#include <QUrl>
#include <QUrlQuery>

#include <algorithm>

Q_LOGGING_CATEGORY(lcSql, "iptv.core.sql", QtInfoMsg)

namespace iptv {

namespace {

void markLost(const QString &name, const QString &failure);

/// The statements every connection starts with (again after a reconnection).
bool applySession(QSqlDatabase &db, bool postgres, QString *error)
{
    const QStringList session = postgres
        // CREATE ... IF NOT EXISTS would log a NOTICE per table at every start.
        ? QStringList{QStringLiteral("SET client_min_messages TO WARNING")}
        // WAL lets reads run beside a write transaction; with synchronous=NORMAL a commit survives
        // a process kill (not a power cut between checkpoints) at a fraction of FULL's fsyncs.
        : QStringList{QStringLiteral("PRAGMA journal_mode=WAL"), QStringLiteral("PRAGMA synchronous=NORMAL")};
    for (const QString &sql : session) {
        QSqlQuery q(db);
        if (!q.exec(sql)) {
            *error = sql + u": " + q.lastError().text().trimmed();
            return false;
        }
    }
    return true;
}

/// A connection known lost, until it is open again.
struct LostConnection
{
    qint64 sinceMs = 0;
    qint64 nextAttemptMs = 0;
    QString why;
    Backoff backoff{500, 30000};
};

struct LostConnections
{
    QMutex mutex;
    QHash<QString, LostConnection> byName;
};
Q_GLOBAL_STATIC(LostConnections, s_lost)

} // namespace

bool parsePostgresUri(const QString &uri, PostgresParams *params)
{
    const QUrl url(uri, QUrl::StrictMode);
    if (!url.isValid() || (url.scheme() != u"postgresql" && url.scheme() != u"postgres"))
        return false;
    params->host = url.host().isEmpty() ? QStringLiteral("localhost") : url.host();
    params->port = url.port(5432);
    params->user = url.userName(QUrl::FullyDecoded);
    params->password = url.password(QUrl::FullyDecoded);
    params->database = url.path(QUrl::FullyDecoded).mid(1);
    // Query parameters become libpq connect options (e.g. ?sslmode=require&connect_timeout=5).
    QStringList opts;
    for (const auto &[k, v] : QUrlQuery(url).queryItems(QUrl::FullyDecoded))
        opts.append(k + u'=' + v);
    params->options = opts.join(u';');
    return true;
}

std::optional<SqlBackend> openSqlDatabase(const QString &location, const QString &name, QString *error)
{
    PostgresParams pg;
    const bool postgres = parsePostgresUri(location, &pg);
    // Every failure below removes the connection; the handle must be gone first, or
    // removeDatabase warns that it is still in use.
    const auto fail = [&](QSqlDatabase &db, const QString &why) -> std::optional<SqlBackend> {
        *error = why;
        db = {};
        QSqlDatabase::removeDatabase(name);
        return std::nullopt;
    };
    QSqlDatabase db;
    if (postgres) {
        db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        db.setHostName(pg.host);
        db.setPort(pg.port);
        db.setUserName(pg.user);
        db.setPassword(pg.password);
        db.setDatabaseName(pg.database);
        // A server that cannot be reached (a reconnection, the network gone) fails the attempt
        // after 5 s instead of blocking its thread for the system's TCP timeout.
        QString options = pg.options;
        const auto byDefault = [&options](const QString &key, const QString &value) {
            if (!options.contains(key + u'='))
                options += (options.isEmpty() ? u""_qs : u";"_qs) + key + u'=' + value;
        };
        byDefault(u"connect_timeout"_qs, u"5"_qs);
        // A connection that stops answering without failing (a network cut without a reset)
        // fails a statement waiting on it within ~15 s, instead of blocking its thread for the
        // system's TCP timeouts (minutes to hours): idle, by keepalives (5 s, then 3 probes 2 s
        // apart); data unacknowledged, by tcp_user_timeout. diver's lease keeper then stops its
        // recorders (its liveness lock unconfirmed) long before the server ends that session.
        byDefault(u"keepalives_idle"_qs, u"5"_qs);
        byDefault(u"keepalives_interval"_qs, u"2"_qs);
        byDefault(u"keepalives_count"_qs, u"3"_qs);
        byDefault(u"tcp_user_timeout"_qs, u"15000"_qs);
        db.setConnectOptions(options);
    } else {
        const QFileInfo fi(location);
        if (!QDir().mkpath(fi.absolutePath())) {
            *error = QStringLiteral("cannot create directory %1").arg(fi.absolutePath());
            return std::nullopt;
        }
        db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(location);
        // Several connections (a store, a worker thread, a service's own connection) share the
        // file: a writer makes the others wait, not fail.
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=30000"));
    }
    if (!db.isValid())
        return fail(db, QStringLiteral("SQL driver %1 is not available").arg(postgres ? u"QPSQL" : u"QSQLITE"));
    // The URI may hold a password: name only the database in messages.
    if (!db.open())
        return fail(db, QStringLiteral("cannot open database %1: %2").arg(postgres ? pg.database : location, db.lastError().text().trimmed()));

    if (QString why; !applySession(db, postgres, &why)) {
        db.close();
        return fail(db, why);
    }
    return postgres ? SqlBackend::PostgreSQL : SqlBackend::SQLite;
}

bool checkSqlConnectionLost(const QString &name, const QString &failure)
{
    {
        QMutexLocker lock(&s_lost->mutex);
        if (s_lost->byName.contains(name))
            return true;
    }
    QSqlDatabase db = QSqlDatabase::database(name, false);
    if (db.driverName() != u"QPSQL")
        return false;
    // QPSQL's isOpen() is libpq's view: false once it has seen the connection go.
    if (db.isOpen()) {
        QSqlQuery probe(db);
        if (probe.exec(QStringLiteral("SELECT 1")))
            return false; // the statement's own fault
    }
    markLost(name, failure);
    return true;
}

namespace {
void markLost(const QString &name, const QString &failure)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    QMutexLocker lock(&s_lost->mutex);
    if (s_lost->byName.contains(name))
        return;
    LostConnection &lost = s_lost->byName[name];
    lost.sinceMs = now;
    lost.nextAttemptMs = now; // the first attempt at once: a terminated backend is back in a moment
    lost.why = failure;
    qCWarning(lcSql).noquote() << "the database connection" << name
                               << QStringLiteral("is lost (%1): reconnecting, with backoff").arg(failure.simplified());
}
} // namespace

bool ensureSqlConnection(const QString &name, QString *error)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    {
        QMutexLocker lock(&s_lost->mutex);
        auto it = s_lost->byName.constFind(name);
        if (it == s_lost->byName.cend()) {
            lock.unlock();
            // Seen gone already (a failed statement of another store on it, libpq's own reading):
            // reopened before it is used, instead of failing a statement first.
            const QSqlDatabase db = QSqlDatabase::database(name, false);
            if (db.isOpen() || db.driverName() != u"QPSQL")
                return true;
            markLost(name, QStringLiteral("the client library found it closed"));
            lock.relock();
            it = s_lost->byName.constFind(name);
        }
        if (now < it->nextAttemptMs) {
            *error = QStringLiteral("the database connection is lost since %1 ms (%2); reconnecting in %3 ms")
                         .arg(now - it->sinceMs)
                         .arg(it->why)
                         .arg(it->nextAttemptMs - now);
            return false;
        }
    }
    QSqlDatabase db = QSqlDatabase::database(name, false);
    db.close();
    QString why;
    if (db.open() && applySession(db, db.driverName() == u"QPSQL", &why)) {
        QMutexLocker lock(&s_lost->mutex);
        const LostConnection lost = s_lost->byName.take(name);
        qCInfo(lcSql).noquote() << "the database connection" << name << "is open again, after"
                                << QDateTime::currentMSecsSinceEpoch() - lost.sinceMs << "ms";
        return true;
    }
    if (why.isEmpty())
        why = sqlErrorText(db.lastError());
    db.close();
    QMutexLocker lock(&s_lost->mutex);
    LostConnection &lost = s_lost->byName[name];
    lost.nextAttemptMs = now + qMax<qint64>(100, lost.backoff.next());
    *error = QStringLiteral("the database connection is lost since %1 ms and cannot be opened again (%2); next attempt in %3 ms")
                 .arg(now - lost.sinceMs)
                 .arg(why)
                 .arg(lost.nextAttemptMs - now);
    qCDebug(lcSql).noquote() << name << ":" << *error;
    return false;
}

QStringList lostSqlConnections()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    QMutexLocker lock(&s_lost->mutex);
    QStringList out;
    for (auto it = s_lost->byName.cbegin(); it != s_lost->byName.cend(); ++it)
        out << QStringLiteral("%1: lost %2 s ago (%3)").arg(it.key()).arg((now - it->sinceMs) / 1000).arg(it->why.simplified());
    out.sort();
    return out;
}

void closeSqlDatabase(const QString &name)
{
    {
        QMutexLocker lock(&s_lost->mutex);
        s_lost->byName.remove(name);
    }
    if (!QSqlDatabase::contains(name))
        return;
    {
        QSqlDatabase db = QSqlDatabase::database(name, false);
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
}

QString sqlErrorText(const QSqlError &error)
{
    return error.text().trimmed();
}

namespace {

/// The start of a statement, enough to recognise it in an error.
QString statementHead(const QString &sql)
{
    const QString simple = sql.simplified();
    return simple.size() > 60 ? simple.left(60) + u"..." : simple;
}

} // namespace

bool execSql(const QString &connection, const QString &sql, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(connection, false));
    if (!q.exec(sql)) {
        *error = QStringLiteral("%1: %2").arg(statementHead(sql), sqlErrorText(q.lastError()));
        return false;
    }
    return true;
}

bool execSchema(const QString &connection, const QStringList &statements, QString *error)
{
    const bool postgres = QSqlDatabase::database(connection, false).driverName() == u"QPSQL";
    if (!execSql(connection, QStringLiteral("BEGIN"), error))
        return false;
    // Any constant will do, as long as every store's schema takes the same one: 'iptv'.
    QStringList all = statements;
    if (postgres)
        all.prepend(QStringLiteral("SELECT pg_advisory_xact_lock(1768977526)"));
    for (const QString &sql : std::as_const(all)) {
        if (!execSql(connection, sql, error)) {
            QString ignored;
            execSql(connection, QStringLiteral("ROLLBACK"), &ignored);
            return false;
        }
    }
    return execSql(connection, QStringLiteral("COMMIT"), error);
}

bool checkSchemaVersion(const QString &connection, const QString &program, int version, const SchemaUpgrade &upgrade,
                        QString *error)
{
    QSqlQuery q(QSqlDatabase::database(connection, false));
    const QString read = QStringLiteral("SELECT value FROM meta WHERE key = 'schema'");
    if (!q.exec(read)) {
        *error = QStringLiteral("%1: %2").arg(read, sqlErrorText(q.lastError()));
        return false;
    }
    // A literal, not a bound value: meta.value is TEXT in some stores and BLOB/BYTEA in others.
    if (!q.next())
        return execSql(connection, QStringLiteral("INSERT INTO meta (key, value) VALUES ('schema', '%1')").arg(version), error);
    const QString stored = q.value(0).toString();
    q.finish();
    bool ok = false;
    const int current = stored.toInt(&ok);
    if (!ok) {
        *error = QStringLiteral("database schema version \"%1\" is not a number").arg(stored.left(20));
        return false;
    }
    if (current > version) {
        *error = QStringLiteral("database schema %1 is newer than this %2 understands (%3)").arg(current).arg(program).arg(version);
        return false;
    }
    for (int from = current; from < version; ++from) {
        if (!upgrade) {
            *error = QStringLiteral("database schema %1 is older than this %2 writes (%3) and it has no upgrade")
                         .arg(current).arg(program).arg(version);
            return false;
        }
        QString why;
        if (!upgrade(from, &why)) {
            *error = QStringLiteral("upgrading the database schema from %1 to %2: %3").arg(from).arg(from + 1).arg(why);
            return false;
        }
        if (!execSql(connection, QStringLiteral("UPDATE meta SET value = '%1' WHERE key = 'schema'").arg(from + 1), error))
            return false;
    }
    return true;
}

SqlBatchInsert::SqlBatchInsert(QString connection, QString head, QString row, int chunkRows)
    : m_connection(std::move(connection)), m_head(std::move(head)), m_row(std::move(row)), m_chunkRows(chunkRows)
{
}

SqlBatchInsert::~SqlBatchInsert() = default;

void SqlBatchInsert::reset()
{
    m_full.reset();
}

bool SqlBatchInsert::insert(qsizetype count, const std::function<void(QSqlQuery &, qsizetype)> &bindRow, QString *error)
{
    const QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    auto fail = [&](qsizetype start, qsizetype n, const QSqlQuery &q) {
        *error = QStringLiteral("%1 (rows %2..%3 of %4): %5")
                     .arg(statementHead(m_head + m_row))
                     .arg(start)
                     .arg(start + n - 1)
                     .arg(count)
                     .arg(sqlErrorText(q.lastError()));
        return false;
    };
    for (qsizetype start = 0; start < count; start += m_chunkRows) {
        const qsizetype n = std::min<qsizetype>(m_chunkRows, count - start);
        QSqlQuery partial(db);
        QSqlQuery *q = &partial;
        if (n == m_chunkRows) {
            if (!m_full) {
                m_full = std::make_unique<QSqlQuery>(db);
                if (!m_full->prepare(m_head + QStringList(m_chunkRows, m_row).join(u','))) {
                    const bool failed = fail(start, n, *m_full);
                    m_full.reset();
                    return failed;
                }
            }
            q = m_full.get();
        } else if (!partial.prepare(m_head + QStringList(n, m_row).join(u','))) {
            return fail(start, n, partial);
        }
        for (qsizetype i = start; i < start + n; ++i)
            bindRow(*q, i);
        if (!q->exec())
            return fail(start, n, *q);
    }
    return true;
}

} // namespace iptv
