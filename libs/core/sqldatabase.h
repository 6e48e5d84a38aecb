#pragma once

// Opening the servers' SQL databases (QtSql): a file path means SQLite, a postgresql:// URI means
// PostgreSQL (QPSQL), with the session settings every store wants. Its own target
// (iptv_core_sql), so programs without a database do not link QtSql.

#include <QString>

#include <optional>

namespace iptv {

/// The parts of postgresql://user:pass@host:port/db?opt=value (also postgres://).
struct PostgresParams
{
    QString host, user, password, database;
    int port = 5432;
    QString options; ///< libpq connect options from the query, "k=v;k=v"
};

/// Parses a PostgreSQL URI. Returns false when `uri` is not one (e.g. a file path).
bool parsePostgresUri(const QString &uri, PostgresParams *params);

enum class SqlBackend : quint8 { SQLite, PostgreSQL };

/// Opens `location` (SQLite file, whose directory is created, or PostgreSQL URI) as the QtSql
/// connection `name`. Returns the backend, or nullopt with *error set and no connection left behind.
std::optional<SqlBackend> openSqlDatabase(const QString &location, const QString &name, QString *error);

/// Closes and removes the connection `name`, if there is one.
void closeSqlDatabase(const QString &name);

} // namespace iptv
