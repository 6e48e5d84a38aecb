#include "store.h"

#include "codec.h"

#include <core/sqldatabase.h>

#include <QAtomicInteger>
#include <QCborValue>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>

Q_LOGGING_CATEGORY(lcStore, "iptv.next.store")

namespace iptv::next {

using namespace iptv::epg;

namespace {

QAtomicInteger<quint64> s_connectionCounter;
constexpr int SchemaVersion = 1;
// Rows per multi-row INSERT: one round trip per chunk matters on PostgreSQL, and SQLite accepts
// up to 32766 bound variables per statement.
constexpr int InsertChunk = 200;

} // namespace

GuideStore::GuideStore()
    : m_connection(QStringLiteral("iptvnext-store-%1").arg(s_connectionCounter.fetchAndAddRelaxed(1)))
{
}

GuideStore::~GuideStore()
{
    close();
}

bool GuideStore::open(const QString &location, QString *error)
{
    close();
    const auto backend = openSqlDatabase(location, m_connection, error);
    if (!backend)
        return false;
    m_postgres = *backend == SqlBackend::PostgreSQL;
    if (!createSchema(error)) {
        close();
        return false;
    }
    qCDebug(lcStore) << "opened" << (m_postgres ? "PostgreSQL" : "SQLite") << "store" << m_connection;
    return true;
}

void GuideStore::close()
{
    closeSqlDatabase(m_connection);
}

bool GuideStore::isOpen() const
{
    return QSqlDatabase::contains(m_connection) && QSqlDatabase::database(m_connection, false).isOpen();
}

QString GuideStore::driverName() const
{
    return m_postgres ? QStringLiteral("QPSQL") : QStringLiteral("QSQLITE");
}

bool GuideStore::createSchema(QString *error)
{
    const QString blob = m_postgres ? QStringLiteral("BYTEA") : QStringLiteral("BLOB");
    const QStringList statements = {
        QStringLiteral("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS sources (key TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                       "last_attempt BIGINT NOT NULL DEFAULT 0, last_success BIGINT NOT NULL DEFAULT 0, "
                       "last_ok INTEGER NOT NULL DEFAULT 0, last_error TEXT, report TEXT, "
                       "channel_count BIGINT NOT NULL DEFAULT 0, programme_count BIGINT NOT NULL DEFAULT 0, content %1)")
            .arg(blob),
        QStringLiteral("CREATE TABLE IF NOT EXISTS channels (source TEXT NOT NULL, position INTEGER NOT NULL, "
                       "id TEXT NOT NULL, data %1 NOT NULL, PRIMARY KEY (source, position))")
            .arg(blob),
        QStringLiteral("CREATE TABLE IF NOT EXISTS programmes (source TEXT NOT NULL, channel TEXT NOT NULL, "
                       "start BIGINT NOT NULL, stop BIGINT NOT NULL, data %1 NOT NULL)")
            .arg(blob),
        QStringLiteral("CREATE INDEX IF NOT EXISTS programmes_by_source ON programmes (source, channel, start)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS guides (version BIGINT PRIMARY KEY, checksum TEXT NOT NULL, "
                       "path TEXT NOT NULL, created BIGINT NOT NULL, valid_from BIGINT NOT NULL, "
                       "valid_until BIGINT NOT NULL, file_size BIGINT NOT NULL, channels BIGINT NOT NULL, "
                       "airings BIGINT NOT NULL, programmes BIGINT NOT NULL)"),
    };
    for (const QString &s : statements) {
        if (!execSql(m_connection, s, error))
            return false;
    }
    return checkSchemaVersion(m_connection, QStringLiteral("iptvnext"), SchemaVersion, {}, error);
}

GuideStore::SourceWriter::SourceWriter(GuideStore *store, QString key, QString kind)
    : m_store(store), m_key(std::move(key)), m_kind(std::move(kind)),
      m_programmeInsert(store->m_connection, QStringLiteral("INSERT INTO programmes (source, channel, start, stop, data) VALUES "),
                        QStringLiteral("(?,?,?,?,?)"), InsertChunk),
      m_channelInsert(store->m_connection, QStringLiteral("INSERT INTO channels (source, position, id, data) VALUES "),
                      QStringLiteral("(?,?,?,?)"), InsertChunk)
{
    QSqlDatabase db = QSqlDatabase::database(m_store->m_connection, false);
    if (!db.transaction()) {
        m_error = QStringLiteral("cannot start a transaction: %1").arg(sqlErrorText(db.lastError()));
        return;
    }
    m_active = true;
    for (const char *table : {"channels", "programmes"}) {
        QSqlQuery q(db);
        q.prepare(QStringLiteral("DELETE FROM %1 WHERE source = ?").arg(QLatin1String(table)));
        q.addBindValue(m_key);
        if (!q.exec()) {
            fail(QStringLiteral("delete old %1").arg(QLatin1String(table)), sqlErrorText(q.lastError()));
            return;
        }
    }
}

GuideStore::SourceWriter::~SourceWriter()
{
    rollback();
}

bool GuideStore::SourceWriter::fail(const QString &what, const QString &why)
{
    m_error = what + u": " + why;
    rollback();
    return false;
}

void GuideStore::SourceWriter::rollback()
{
    if (!m_active)
        return;
    m_active = false;
    // No statement may be open across the transaction's end.
    m_programmeInsert.reset();
    m_channelInsert.reset();
    QSqlDatabase::database(m_store->m_connection, false).rollback();
}

bool GuideStore::SourceWriter::flush(SqlBatchInsert &insert, QList<QVariantList> *rows, const QString &what)
{
    QString why;
    const bool ok = insert.insert(rows->size(), [rows](QSqlQuery &q, qsizetype i) {
        for (const QVariant &v : rows->at(i))
            q.addBindValue(v);
    }, &why);
    rows->clear();
    return ok || fail(what, why);
}

bool GuideStore::SourceWriter::addChannel(const Channel &c)
{
    if (!m_active)
        return false;
    m_pendingChannels.append(QVariantList{m_key, int(m_channels++), c.id, channelToCbor(c).toCborValue().toCbor()});
    return m_pendingChannels.size() < InsertChunk || flushChannels();
}

bool GuideStore::SourceWriter::addProgramme(const Programme &p)
{
    if (!m_active)
        return false;
    ++m_programmes;
    m_pendingProgrammes.append(
        QVariantList{m_key, p.channelId, p.start, p.stop, programmeToCbor(p).toCborValue().toCbor()});
    return m_pendingProgrammes.size() < InsertChunk || flushProgrammes();
}

bool GuideStore::SourceWriter::commit(const QByteArray &content, qint64 when, const QByteArray &reportJson)
{
    if (!m_active)
        return false;
    if (!flushChannels() || !flushProgrammes())
        return false;
    m_programmeInsert.reset();
    m_channelInsert.reset();
    QSqlDatabase db = QSqlDatabase::database(m_store->m_connection, false);
    QSqlQuery q(db);
    // Upsert works the same on SQLite (3.24+) and PostgreSQL.
    q.prepare(QStringLiteral(
        "INSERT INTO sources (key, kind, last_attempt, last_success, last_ok, last_error, report, channel_count, "
        "programme_count, content) VALUES (?,?,?,?,1,'',?,?,?,?) ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, "
        "last_attempt = excluded.last_attempt, last_success = excluded.last_success, last_ok = 1, last_error = '', "
        "report = excluded.report, channel_count = excluded.channel_count, programme_count = excluded.programme_count, "
        "content = excluded.content"));
    q.addBindValue(m_key);
    q.addBindValue(m_kind);
    q.addBindValue(when);
    q.addBindValue(when);
    q.addBindValue(QString::fromUtf8(reportJson));
    q.addBindValue(m_channels);
    q.addBindValue(m_programmes);
    q.addBindValue(content.isNull() ? QByteArray("") : content);
    if (!q.exec())
        return fail(QStringLiteral("update source"), sqlErrorText(q.lastError()));
    if (!db.commit())
        return fail(QStringLiteral("commit"), sqlErrorText(db.lastError()));
    m_active = false;
    return true;
}

std::unique_ptr<GuideStore::SourceWriter> GuideStore::beginReplace(const QString &key, const QString &kind)
{
    return std::unique_ptr<SourceWriter>(new SourceWriter(this, key, kind));
}

bool GuideStore::replaceSource(const QString &key, const QString &kind, const QList<Channel> &channels,
                               const QList<Programme> &programmes, const QByteArray &content, qint64 when,
                               const QByteArray &reportJson, QString *error)
{
    auto w = beginReplace(key, kind);
    bool ok = w->isActive();
    for (qsizetype i = 0; ok && i < channels.size(); ++i)
        ok = w->addChannel(channels[i]);
    for (qsizetype i = 0; ok && i < programmes.size(); ++i)
        ok = w->addProgramme(programmes[i]);
    if (ok)
        ok = w->commit(content, when, reportJson);
    if (!ok)
        *error = w->error();
    return ok;
}

bool GuideStore::recordFailure(const QString &key, const QString &kind, qint64 when, const QString &message,
                               const QByteArray &reportJson, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral(
        "INSERT INTO sources (key, kind, last_attempt, last_ok, last_error, report) VALUES (?,?,?,0,?,?) "
        "ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, last_attempt = excluded.last_attempt, last_ok = 0, "
        "last_error = excluded.last_error, report = excluded.report"));
    q.addBindValue(key);
    q.addBindValue(kind);
    q.addBindValue(when);
    q.addBindValue(message);
    q.addBindValue(QString::fromUtf8(reportJson));
    if (!q.exec()) {
        *error = sqlErrorText(q.lastError());
        return false;
    }
    return true;
}

bool GuideStore::recordUnchanged(const QString &key, qint64 when, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("UPDATE sources SET last_attempt = ?, last_success = ?, last_ok = 1, last_error = '' "
                             "WHERE key = ?"));
    q.addBindValue(when);
    q.addBindValue(when);
    q.addBindValue(key);
    if (!q.exec()) {
        *error = sqlErrorText(q.lastError());
        return false;
    }
    return true;
}

namespace {
SourceRecord sourceFromQuery(const QSqlQuery &q)
{
    SourceRecord r;
    r.key = q.value(0).toString();
    r.kind = q.value(1).toString();
    r.lastAttempt = q.value(2).toLongLong();
    r.lastSuccess = q.value(3).toLongLong();
    r.lastOk = q.value(4).toInt() != 0;
    r.lastError = q.value(5).toString();
    r.lastReport = q.value(6).toString().toUtf8();
    r.channelCount = q.value(7).toLongLong();
    r.programmeCount = q.value(8).toLongLong();
    return r;
}
const char *const SourceColumns =
    "SELECT key, kind, last_attempt, last_success, last_ok, last_error, report, channel_count, programme_count FROM sources";
} // namespace

std::optional<SourceRecord> GuideStore::source(const QString &key, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QLatin1String(SourceColumns) + u" WHERE key = ?");
    q.addBindValue(key);
    if (!q.exec()) {
        if (error)
            *error = sqlErrorText(q.lastError());
        return std::nullopt;
    }
    if (!q.next())
        return std::nullopt;
    return sourceFromQuery(q);
}

QList<SourceRecord> GuideStore::sources(QString *error)
{
    QList<SourceRecord> out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QLatin1String(SourceColumns) + u" ORDER BY key")) {
        if (error)
            *error = sqlErrorText(q.lastError());
        return out;
    }
    while (q.next())
        out.append(sourceFromQuery(q));
    return out;
}

QByteArray GuideStore::sourceContent(const QString &key, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT content FROM sources WHERE key = ? AND last_success > 0"));
    q.addBindValue(key);
    if (!q.exec()) {
        if (error)
            *error = sqlErrorText(q.lastError());
        return {};
    }
    return q.next() ? q.value(0).toByteArray() : QByteArray();
}

namespace {
/// Runs `sql` with the source key bound and hands each row's CBOR record to `onRecord`; false
/// with *error on an SQL error or a row that does not decode.
bool forEachRecord(const QString &connection, const QString &sql, const QString &key, const char *what,
                   const std::function<void(const QCborMap &)> &onRecord, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(connection, false));
    q.setForwardOnly(true);
    q.prepare(sql);
    q.addBindValue(key);
    if (!q.exec()) {
        *error = sqlErrorText(q.lastError());
        return false;
    }
    while (q.next()) {
        const QCborValue v = QCborValue::fromCbor(q.value(0).toByteArray());
        if (!v.isMap()) {
            *error = QStringLiteral("undecodable %1 record in source %2").arg(QLatin1String(what), key);
            return false;
        }
        onRecord(v.toMap());
    }
    return true;
}
} // namespace

bool GuideStore::countInWindow(const QString &key, qint64 from, qint64 until, qint64 *programmes, qint64 *channels,
                               QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT COUNT(*), COUNT(DISTINCT channel) FROM programmes WHERE source = ? AND start < ? "
                             "AND (stop > ? OR (stop = 0 AND start >= ?))"));
    q.addBindValue(key);
    q.addBindValue(until);
    q.addBindValue(from);
    q.addBindValue(from);
    if (!q.exec() || !q.next()) {
        *error = sqlErrorText(q.lastError());
        return false;
    }
    *programmes = q.value(0).toLongLong();
    *channels = q.value(1).toLongLong();
    return true;
}

bool GuideStore::loadChannels(const QString &key, QList<Channel> *out, QString *error)
{
    out->clear();
    return forEachRecord(m_connection, QStringLiteral("SELECT data FROM channels WHERE source = ? ORDER BY position"), key,
                         "channel", [out](const QCborMap &m) { out->append(channelFromCbor(m)); }, error);
}

bool GuideStore::forEachProgramme(const QString &key, const std::function<void(Programme &&)> &sink, QString *error)
{
    return forEachRecord(m_connection, QStringLiteral("SELECT data FROM programmes WHERE source = ? ORDER BY channel, start"),
                         key, "programme", [&sink, &key](const QCborMap &m) {
                             Programme p = programmeFromCbor(m);
                             p.origin.source = key;
                             sink(std::move(p));
                         }, error);
}

qint64 GuideStore::addGuide(GuideVersion g, QString *error)
{
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    if (!db.transaction()) {
        *error = sqlErrorText(db.lastError());
        return 0;
    }
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("SELECT COALESCE(MAX(version), 0) FROM guides")) || !q.next()) {
        *error = sqlErrorText(q.lastError());
        db.rollback();
        return 0;
    }
    g.version = q.value(0).toLongLong() + 1;
    q.prepare(QStringLiteral("INSERT INTO guides (version, checksum, path, created, valid_from, valid_until, file_size, "
                             "channels, airings, programmes) VALUES (?,?,?,?,?,?,?,?,?,?)"));
    q.addBindValue(g.version);
    q.addBindValue(QString::fromLatin1(g.checksum));
    q.addBindValue(g.path);
    q.addBindValue(g.createdAt);
    q.addBindValue(g.validFrom);
    q.addBindValue(g.validUntil);
    q.addBindValue(g.fileSize);
    q.addBindValue(g.channels);
    q.addBindValue(g.airings);
    q.addBindValue(g.programmes);
    if (!q.exec()) {
        *error = sqlErrorText(q.lastError());
        db.rollback();
        return 0;
    }
    if (!db.commit()) {
        *error = sqlErrorText(db.lastError());
        db.rollback();
        return 0;
    }
    return g.version;
}

QList<GuideVersion> GuideStore::guides(QString *error)
{
    QList<GuideVersion> out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QStringLiteral("SELECT version, checksum, path, created, valid_from, valid_until, file_size, channels, "
                               "airings, programmes FROM guides ORDER BY version DESC"))) {
        if (error)
            *error = sqlErrorText(q.lastError());
        return out;
    }
    while (q.next()) {
        GuideVersion g;
        g.version = q.value(0).toLongLong();
        g.checksum = q.value(1).toString().toLatin1();
        g.path = q.value(2).toString();
        g.createdAt = q.value(3).toLongLong();
        g.validFrom = q.value(4).toLongLong();
        g.validUntil = q.value(5).toLongLong();
        g.fileSize = q.value(6).toLongLong();
        g.channels = q.value(7).toLongLong();
        g.airings = q.value(8).toLongLong();
        g.programmes = q.value(9).toLongLong();
        out.append(g);
    }
    return out;
}

bool GuideStore::removeGuide(qint64 version, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("DELETE FROM guides WHERE version = ?"));
    q.addBindValue(version);
    if (!q.exec()) {
        *error = sqlErrorText(q.lastError());
        return false;
    }
    return true;
}

} // namespace iptv::next
