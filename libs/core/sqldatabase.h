#pragma once

// Opening the servers' SQL databases (QtSql): a file path means SQLite, a postgresql:// URI means
// PostgreSQL (QPSQL), with the session settings every store wants; and what every store does with
// them: statements whose errors say which statement failed, a schema version kept in the table
// meta, multi-row inserts in chunks. Its own target (iptv_core_sql), so programs without a
// database do not link QtSql.

#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <optional>

QT_BEGIN_NAMESPACE
class QSqlError;
class QSqlQuery;
QT_END_NAMESPACE

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

// A PostgreSQL connection that drops (the server restarted, the backend was terminated, the
// network went) is opened again, with backoff, by the store using it:
//   return withReconnect(m_connection, error, [&]() -> bool { ...the store's statements... });
// runs the statements; when they failed and the connection turns out to be gone (a trivial
// statement fails too), it reopens the connection and runs them once more. While the server
// cannot be reached, the operation fails at once with the reason (its caller reports the
// error), and reopening is tried again after a backoff window (0.5 s doubling to 30 s). A
// connection lost and found again is logged once each (iptv.core.sql). SQLite: never lost.
// A statement retried on the new connection had not run on the old one when the server closed
// it (a terminated backend, a restart); a network cut in the middle of a commit can leave it
// made twice where it is not idempotent (a rule inserted without an id).

/// Whether connection `name` is gone: known lost already, or (PostgreSQL) a trivial statement
/// fails on it now. Called after a failure; marks it lost (and logs it, once) when it is.
bool checkSqlConnectionLost(const QString &name, const QString &failure);
/// Reopens connection `name` when it is known lost and its backoff window has passed; true
/// when it is usable (it was never lost, or it is open again), else false with *error saying
/// since when it is lost and why.
bool ensureSqlConnection(const QString &name, QString *error);
/// The connections known lost now, each as "<name>: lost <n> s ago (<why>)" (health checks).
QStringList lostSqlConnections();

/// Runs `operation` (returning bool or std::optional, *error set on failure) with the
/// reconnection described above.
template <typename Operation>
auto withReconnect(const QString &name, QString *error, Operation operation) -> decltype(operation())
{
    using Result = decltype(operation());
    error->clear(); // set by a failure (a row not found is no failure)
    if (!ensureSqlConnection(name, error))
        return Result{};
    Result result = operation();
    if (result || error->isEmpty() || !checkSqlConnectionLost(name, *error))
        return result;
    if (!ensureSqlConnection(name, error))
        return Result{};
    return operation();
}

/// A QtSql error as one line of text.
QString sqlErrorText(const QSqlError &error);

/// Runs `sql` on connection `connection`; false with *error = "<the statement's start>: <why>".
bool execSql(const QString &connection, const QString &sql, QString *error);

/// Runs a store's schema statements (CREATE TABLE IF NOT EXISTS …) in one transaction. On
/// PostgreSQL under a transaction-scoped advisory lock: two processes creating the same table at
/// the same moment make one of them fail (pg_type's unique index), and several nodes on one
/// database may well start together.
bool execSchema(const QString &connection, const QStringList &statements, QString *error);

/// Upgrades the schema one version: from `from` to from + 1; false with *error set.
using SchemaUpgrade = std::function<bool(int from, QString *error)>;

/// Checks the schema version kept in table meta (key TEXT, value; key 'schema') against
/// `version`, the one this program writes: a new database (no row) gets it; an older one is
/// taken up one version at a time with `upgrade` (none given: refused); a newer one is refused,
/// naming `program`, since this program would misread it.
bool checkSchemaVersion(const QString &connection, const QString &program, int version, const SchemaUpgrade &upgrade,
                        QString *error);

/// A multi-row INSERT sent `chunkRows` rows per statement (one round trip per chunk matters on
/// PostgreSQL; SQLite takes up to 32766 bound values per statement). The full-chunk statement is
/// prepared once and kept until reset(): reset() before the transaction it ran in ends.
class SqlBatchInsert
{
public:
    /// `head` like "INSERT INTO t (a, b) VALUES ", `row` like "(?,?)".
    SqlBatchInsert(QString connection, QString head, QString row, int chunkRows);
    ~SqlBatchInsert();

    /// Inserts rows 0..count-1, bindRow(query, i) binding row i with addBindValue(). False with
    /// *error naming the statement and the rows on the first failure.
    bool insert(qsizetype count, const std::function<void(QSqlQuery &, qsizetype)> &bindRow, QString *error);
    void reset();

private:
    QString m_connection, m_head, m_row;
    int m_chunkRows;
    std::unique_ptr<QSqlQuery> m_full;
};

} // namespace iptv
