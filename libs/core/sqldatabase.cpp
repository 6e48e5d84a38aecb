#include "sqldatabase.h"

#include <QDir>
#include <QFileInfo>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QUrl>
#include <QUrlQuery>

namespace iptv {

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
        if (!pg.options.isEmpty())
            db.setConnectOptions(pg.options);
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

    const QStringList session = postgres
        // CREATE ... IF NOT EXISTS would log a NOTICE per table at every start.
        ? QStringList{QStringLiteral("SET client_min_messages TO WARNING")}
        // WAL lets reads run beside a write transaction; with synchronous=NORMAL a commit survives
        // a process kill (not a power cut between checkpoints) at a fraction of FULL's fsyncs.
        : QStringList{QStringLiteral("PRAGMA journal_mode=WAL"), QStringLiteral("PRAGMA synchronous=NORMAL")};
    for (const QString &sql : session) {
        QSqlQuery q(db);
        if (!q.exec(sql)) {
            const QString why = sql + u": " + q.lastError().text().trimmed();
            q = QSqlQuery();
            db.close();
            return fail(db, why);
        }
    }
    return postgres ? SqlBackend::PostgreSQL : SqlBackend::SQLite;
}

void closeSqlDatabase(const QString &name)
{
    if (!QSqlDatabase::contains(name))
        return;
    {
        QSqlDatabase db = QSqlDatabase::database(name, false);
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
}

} // namespace iptv
