#include "recordingstore.h"

#include <core/sqldatabase.h>

#include <QAtomicInteger>
#include <QDateTime>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>

#include <algorithm>

namespace iptv::diver {

namespace {
QAtomicInteger<quint64> s_connections;

const char *const s_copyColumns = "id, channel_id, airing_start, record_start, record_stop, node, directory, state, "
                                  "reason, segments, bytes, gaps";
const char *const s_recordingColumns = "id, owner, rule_id, channel_id, title, airing_start, airing_stop, record_start, "
                                       "record_stop, copy_id, kept, position, created, deleted, stopped, keep_until, span_end";

CopyRow copyFrom(const QSqlQuery &q)
{
    CopyRow c;
    c.id = q.value(0).toLongLong();
    c.channelId = q.value(1).toString();
    c.airingStart = q.value(2).toLongLong();
    c.recordStart = q.value(3).toLongLong();
    c.recordStop = q.value(4).toLongLong();
    c.node = q.value(5).toString();
    c.directory = q.value(6).toString();
    c.state = CopyState(std::clamp(q.value(7).toInt(), 0, int(CopyState::Failed)));
    c.reason = q.value(8).toString();
    c.segments = q.value(9).toLongLong();
    c.bytes = q.value(10).toLongLong();
    c.gaps = q.value(11).toLongLong();
    return c;
}

RecordingRow recordingFrom(const QSqlQuery &q)
{
    RecordingRow r;
    r.id = q.value(0).toLongLong();
    r.owner = q.value(1).toString();
    r.ruleId = q.value(2).toLongLong();
    r.channelId = q.value(3).toString();
    r.title = q.value(4).toString();
    r.airingStart = q.value(5).toLongLong();
    r.airingStop = q.value(6).toLongLong();
    r.recordStart = q.value(7).toLongLong();
    r.recordStop = q.value(8).toLongLong();
    r.copyId = q.value(9).toLongLong();
    r.kept = q.value(10).toInt() != 0;
    r.positionSeconds = q.value(11).toLongLong();
    r.created = q.value(12).toLongLong();
    r.deleted = q.value(13).toInt() != 0;
    r.stopped = q.value(14).toLongLong();
    r.keepUntil = q.value(15).toLongLong();
    r.spanEnd = q.value(16).toLongLong();
    return r;
}
} // namespace

QString pageCursorText(QLatin1StringView prefix, std::initializer_list<qint64> values)
{
    QByteArray key;
    for (const qint64 v : values)
        key += (key.isEmpty() ? QByteArray() : QByteArrayLiteral(":")) + QByteArray::number(v);
    return prefix + QString::fromLatin1(key.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

std::optional<QList<qint64>> pageCursorValues(const QString &text, QLatin1StringView prefix, qsizetype count, QString *why)
{
    const auto refuse = [&](const QString &what) {
        *why = QStringLiteral("cursor \"%1\": %2 (pass the \"next\" of the page before, as it is)").arg(text.left(64), what);
        return std::nullopt;
    };
    if (!text.startsWith(prefix))
        return refuse(u"not a cursor of this list"_qs);
    const QString body = text.mid(prefix.size());
    const auto decoded = QByteArray::fromBase64Encoding(body.toLatin1(), QByteArray::Base64UrlEncoding
                                                                            | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || body.isEmpty())
        return refuse(u"not base64url"_qs);
    // Every value a number, as many as the list's order has, the last (an id) a real one.
    QList<qint64> values;
    for (const QByteArray &part : decoded.decoded.split(':')) {
        bool ok = false;
        values.append(part.toLongLong(&ok));
        if (!ok)
            return refuse(u"not a place in the list"_qs);
    }
    if (values.size() != count || values.constLast() <= 0)
        return refuse(u"not a place in the list"_qs);
    return values;
}

QString RecordingCursor::toText() const
{
    return pageCursorText(QLatin1StringView("r1."), {airingStart, id});
}

std::optional<RecordingCursor> RecordingCursor::fromText(const QString &text, QString *why)
{
    const auto values = pageCursorValues(text, QLatin1StringView("r1."), 2, why);
    if (!values)
        return std::nullopt;
    return RecordingCursor{values->at(0), values->at(1)};
}

QString copyStateName(CopyState state)
{
    switch (state) {
    case CopyState::Recording: return QStringLiteral("recording");
    case CopyState::Finished: return QStringLiteral("finished");
    case CopyState::Failed: return QStringLiteral("failed");
    }
    return {};
}

RecordingStore::RecordingStore() : m_connection(QStringLiteral("diver-recordings-%1").arg(s_connections.fetchAndAddRelaxed(1))) {}

RecordingStore::~RecordingStore()
{
    close();
}

void RecordingStore::close()
{
    closeSqlDatabase(m_connection);
}

bool RecordingStore::open(const QString &location, QString *error)
{
    close();
    const auto backend = openSqlDatabase(location, m_connection, error);
    if (!backend)
        return false;
    const bool pg = *backend == SqlBackend::PostgreSQL;
    m_postgres = pg;
    // Ids are never used again once deleted, on SQLite as on PostgreSQL: a client holding a
    // deleted rule's or recording's id must get 404, not someone's newer one.
    const QString serial = pg ? QStringLiteral("BIGSERIAL PRIMARY KEY") : QStringLiteral("INTEGER PRIMARY KEY AUTOINCREMENT");
    const QStringList statements = {
        QStringLiteral("CREATE TABLE IF NOT EXISTS dvr_copies (id %1, channel_id TEXT NOT NULL, airing_start BIGINT NOT NULL, "
                       "record_start BIGINT NOT NULL, record_stop BIGINT NOT NULL, node TEXT NOT NULL, directory TEXT NOT NULL, "
                       "state INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '', segments BIGINT NOT NULL DEFAULT 0, "
                       "bytes BIGINT NOT NULL DEFAULT 0, gaps BIGINT NOT NULL DEFAULT 0, UNIQUE (channel_id, airing_start))")
            .arg(serial),
        QStringLiteral("CREATE TABLE IF NOT EXISTS dvr_recordings (id %1, owner TEXT NOT NULL, rule_id BIGINT NOT NULL, "
                       "channel_id TEXT NOT NULL, title TEXT NOT NULL, airing_start BIGINT NOT NULL, airing_stop BIGINT NOT NULL, "
                       "record_start BIGINT NOT NULL, record_stop BIGINT NOT NULL, copy_id BIGINT NOT NULL, "
                       "kept INTEGER NOT NULL DEFAULT 0, position BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL, "
                       "deleted INTEGER NOT NULL DEFAULT 0, stopped BIGINT NOT NULL DEFAULT 0, keep_until BIGINT NOT NULL DEFAULT 0, "
                       "span_end BIGINT NOT NULL DEFAULT -1, UNIQUE (owner, rule_id, channel_id, airing_start))")
            .arg(serial),
        QStringLiteral("CREATE INDEX IF NOT EXISTS dvr_recordings_by_copy ON dvr_recordings (copy_id)"),
        // The library's order (recordingsPage): a page is read from its cursor on, not sorted whole.
        QStringLiteral("CREATE INDEX IF NOT EXISTS dvr_recordings_by_airing ON dvr_recordings (airing_start, id)"),
        QStringLiteral("CREATE INDEX IF NOT EXISTS dvr_recordings_by_owner_airing ON dvr_recordings (owner, airing_start, id)"),
        // Secrets the cluster's nodes share (the playback tokens' key), made by the first node.
        QStringLiteral("CREATE TABLE IF NOT EXISTS dvr_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)"),
    };
    if (!execSchema(m_connection, statements, error)) {
        // The URI may hold a password: name the database by what openSqlDatabase() accepted.
        *error = QStringLiteral("recording store %1: %2").arg(pg ? u"(PostgreSQL)"_qs : location, *error);
        close();
        return false;
    }
    // A table made before recordings could be stopped has no `stopped` column: added (on
    // PostgreSQL with IF NOT EXISTS, as several nodes may start at once).
    if (!QSqlDatabase::database(m_connection, false).record(QStringLiteral("dvr_recordings")).contains(QStringLiteral("stopped"))
        && !execSchema(m_connection,
                       {pg ? QStringLiteral("ALTER TABLE dvr_recordings ADD COLUMN IF NOT EXISTS stopped BIGINT NOT NULL DEFAULT 0")
                           : QStringLiteral("ALTER TABLE dvr_recordings ADD COLUMN stopped BIGINT NOT NULL DEFAULT 0")},
                       error)) {
        *error = QStringLiteral("recording store %1: adding the column stopped: %2").arg(pg ? u"(PostgreSQL)"_qs : location, *error);
        close();
        return false;
    }
    // A table made before recordings had a keep-until has no `keep_until` (0: until deleted).
    if (!QSqlDatabase::database(m_connection, false).record(QStringLiteral("dvr_recordings")).contains(QStringLiteral("keep_until"))
        && !execSchema(m_connection,
                       {pg ? QStringLiteral("ALTER TABLE dvr_recordings ADD COLUMN IF NOT EXISTS keep_until BIGINT NOT NULL DEFAULT 0")
                           : QStringLiteral("ALTER TABLE dvr_recordings ADD COLUMN keep_until BIGINT NOT NULL DEFAULT 0")},
                       error)) {
        *error = QStringLiteral("recording store %1: adding the column keep_until: %2").arg(pg ? u"(PostgreSQL)"_qs : location, *error);
        close();
        return false;
    }
    // A table made before a viewer's span ended with its playlist has no `span_end` (-1: follows the copy).
    if (!QSqlDatabase::database(m_connection, false).record(QStringLiteral("dvr_recordings")).contains(QStringLiteral("span_end"))
        && !execSchema(m_connection,
                       {pg ? QStringLiteral("ALTER TABLE dvr_recordings ADD COLUMN IF NOT EXISTS span_end BIGINT NOT NULL DEFAULT -1")
                           : QStringLiteral("ALTER TABLE dvr_recordings ADD COLUMN span_end BIGINT NOT NULL DEFAULT -1")},
                       error)) {
        *error = QStringLiteral("recording store %1: adding the column span_end: %2").arg(pg ? u"(PostgreSQL)"_qs : location, *error);
        close();
        return false;
    }
    // A table made before a copy's end was sealed when its recorder stopped has no `end_sealed`.
    if (!QSqlDatabase::database(m_connection, false).record(QStringLiteral("dvr_copies")).contains(QStringLiteral("end_sealed"))
        && !execSchema(m_connection,
                       {pg ? QStringLiteral("ALTER TABLE dvr_copies ADD COLUMN IF NOT EXISTS end_sealed INTEGER NOT NULL DEFAULT 0")
                           : QStringLiteral("ALTER TABLE dvr_copies ADD COLUMN end_sealed INTEGER NOT NULL DEFAULT 0")},
                       error)) {
        *error = QStringLiteral("recording store %1: adding the column end_sealed: %2").arg(pg ? u"(PostgreSQL)"_qs : location, *error);
        close();
        return false;
    }
    return true;
}

namespace {
/// A prepared statement on `connection`; run() says which statement failed and why.
struct Statement
{
    QSqlQuery q;
    Statement(const QString &connection, const QString &sql) : q(QSqlDatabase::database(connection, false)) { q.prepare(sql); }
    Statement &bind(const QVariant &v)
    {
        // A null QString would be SQL NULL; the text columns hold "" for none.
        if (v.typeId() == QMetaType::QString && v.toString().isNull())
            q.addBindValue(QString(u""_qs));
        else
            q.addBindValue(v);
        return *this;
    }
    bool run(QString *error)
    {
        if (q.exec())
            return true;
        *error = QStringLiteral("%1: %2").arg(q.lastQuery().left(48), sqlErrorText(q.lastError()));
        return false;
    }
};
} // namespace

template <typename Body>
auto RecordingStore::inTransaction(QString *error, Body body) -> decltype(body())
{
    using Result = decltype(body());
    if (!execSql(m_connection, m_postgres ? QStringLiteral("BEGIN") : QStringLiteral("BEGIN IMMEDIATE"), error))
        return Result{};
    Result result = body();
    if (!result) {
        QString ignored;
        execSql(m_connection, QStringLiteral("ROLLBACK"), &ignored);
        return result;
    }
    if (!execSql(m_connection, QStringLiteral("COMMIT"), error))
        return Result{};
    return result;
}

std::optional<QByteArray> RecordingStore::sharedSecret(const QString &name, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QByteArray> {
        // The first node to ask makes it; every other node (at once or later) reads that one.
        QByteArray random(32, Qt::Uninitialized);
        QRandomGenerator::system()->generate(reinterpret_cast<quint32 *>(random.data()),
                                             reinterpret_cast<quint32 *>(random.data() + random.size()));
        if (!Statement(m_connection, QStringLiteral("INSERT INTO dvr_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"))
                 .bind(name)
                 .bind(QString::fromLatin1(random.toBase64()))
                 .run(error))
            return std::nullopt;
        Statement s(m_connection, QStringLiteral("SELECT value FROM dvr_secrets WHERE name = ?"));
        if (!s.bind(name).run(error))
            return std::nullopt;
        if (!s.q.next()) {
            *error = QStringLiteral("the secret %1 is not in dvr_secrets after its insert").arg(name);
            return std::nullopt;
        }
        return QByteArray::fromBase64(s.q.value(0).toString().toLatin1());
    });
}

std::optional<qint64> RecordingStore::insertCopy(const CopyRow &c, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<qint64> {
        Statement s(m_connection, QStringLiteral("INSERT INTO dvr_copies (channel_id, airing_start, record_start, record_stop, node, "
                                                 "directory, state, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"));
        s.bind(c.channelId).bind(c.airingStart).bind(c.recordStart).bind(c.recordStop).bind(c.node).bind(c.directory)
            .bind(int(c.state)).bind(c.reason);
        if (!s.run(error) || !s.q.next())
            return std::nullopt;
        return s.q.value(0).toLongLong();
    });
}

std::optional<CopyRow> RecordingStore::ensureCopy(const CopyRow &c, QString *error, const std::function<QString(qint64)> &directoryOf,
                                                  const PlannerFence *fence, bool *fenced)
{
    if (fenced)
        *fenced = false;
    return withReconnect(m_connection, error, [&]() -> std::optional<CopyRow> {
        // The first insert makes the copy, a second finds it (the unique key is the airing,
        // channel and start). SQLite: the write lock first, so the fence read below and the
        // insert are one.
        if (!execSql(m_connection, m_postgres ? QStringLiteral("BEGIN") : QStringLiteral("BEGIN IMMEDIATE"), error))
            return std::nullopt;
        if (fence) {
            // The planner's row held (FOR SHARE) until the commit: a node claiming it meanwhile
            // skips it (SKIP LOCKED) until then, so no copy from a plan whose lease has passed
            // to another node is ever committed after that node's claim.
            Statement held(m_connection,
                           QStringLiteral("SELECT epoch FROM dvr_leases WHERE id = ? AND node = ? AND epoch = ? AND state = 'pending' "
                                          "AND lease_until > ?")
                               + (m_postgres ? QStringLiteral(" FOR SHARE") : QString()));
            const bool read = held.bind(fence->leaseId).bind(fence->node).bind(fence->epoch).bind(fence->nowMs).run(error);
            const bool holds = read && held.q.next();
            held.q.finish();
            if (!holds) {
                if (read) {
                    *error = QStringLiteral("not the planner (epoch %1): node %2 no longer holds the lease %3 with that epoch, so "
                                            "the copy of %4 at %5 is not made")
                                 .arg(fence->epoch)
                                 .arg(fence->node, fence->leaseId, c.channelId)
                                 .arg(c.airingStart);
                    if (fenced)
                        *fenced = true;
                }
                QString ignored;
                execSql(m_connection, QStringLiteral("ROLLBACK"), &ignored);
                return std::nullopt;
            }
        }
        Statement insert(m_connection, QStringLiteral("INSERT INTO dvr_copies (channel_id, airing_start, record_start, record_stop, "
                                                      "node, directory, state, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                                                      "ON CONFLICT (channel_id, airing_start) DO NOTHING RETURNING id"));
        insert.bind(c.channelId).bind(c.airingStart).bind(c.recordStart).bind(c.recordStop).bind(c.node).bind(c.directory)
            .bind(int(c.state)).bind(c.reason);
        std::optional<CopyRow> stored;
        bool ok = insert.run(error);
        const qint64 madeId = ok && insert.q.next() ? insert.q.value(0).toLongLong() : 0; // 0: another node's
        insert.q.finish(); // SQLite commits no transaction with a statement in progress
        if (ok && madeId > 0 && directoryOf) {
            // Made by this call: its folder is named by its id, in the same transaction.
            Statement name(m_connection, QStringLiteral("UPDATE dvr_copies SET directory = ? WHERE id = ?"));
            ok = name.bind(directoryOf(madeId)).bind(madeId).run(error);
        }
        if (ok)
            stored = copyOf(c.channelId, c.airingStart, error);
        if (!stored) {
            if (error->isEmpty())
                *error = QStringLiteral("the copy of %1 at %2 was not stored").arg(c.channelId).arg(c.airingStart);
            QString ignored;
            execSql(m_connection, QStringLiteral("ROLLBACK"), &ignored);
            return std::nullopt;
        }
        if (!execSql(m_connection, QStringLiteral("COMMIT"), error))
            return std::nullopt;
        return stored;
    });
}

bool RecordingStore::updateCopy(const CopyRow &c, QString *error, bool claim, bool *written)
{
    if (written)
        *written = false;
    return withReconnect(m_connection, error, [&]() -> bool {
        // The recording node's figures and state, never the end: a node writing what its
        // recorder did with a row it read before another node moved the end (a viewer's stop, a
        // longer padding) would otherwise put the old end back (a lost update). The end moves
        // only by extendCopyEnd() and endCopyAt(), each one conditional UPDATE of that column.
        const QString update = QStringLiteral("UPDATE dvr_copies SET record_start = ?, node = ?, directory = ?, state = ?, "
                                              "reason = ?, segments = ?, bytes = ?, gaps = ? WHERE id = ?");
        Statement s(m_connection, claim ? update : update + QStringLiteral(" AND (node IS NULL OR node = '' OR node = ?)"));
        s.bind(c.recordStart).bind(c.node).bind(c.directory).bind(int(c.state)).bind(c.reason).bind(c.segments).bind(c.bytes)
            .bind(c.gaps).bind(c.id);
        if (!claim)
            s.bind(c.node);
        if (!s.run(error))
            return false;
        if (written)
            *written = s.q.numRowsAffected() > 0;
        return true;
    });
}

std::optional<qint64> RecordingStore::extendCopyEnd(qint64 id, qint64 recordStop, QString *error)
{
    return moveCopyEnd(id, recordStop, true, error);
}

std::optional<qint64> RecordingStore::endCopyAt(qint64 id, qint64 recordStop, QString *error)
{
    return moveCopyEnd(id, recordStop, false, error);
}

std::optional<qint64> RecordingStore::moveCopyEnd(qint64 id, qint64 recordStop, bool later, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<qint64> {
        // One statement, conditional on the direction: PostgreSQL re-reads the row it waited for
        // (READ COMMITTED), so an end moved meanwhile by another node is compared, not overwritten.
        // A sealed end (its recorder stopped there) moves no more.
        Statement s(m_connection, later ? QStringLiteral("UPDATE dvr_copies SET record_stop = ? WHERE id = ? AND record_stop < ? "
                                                         "AND end_sealed = 0")
                                        : QStringLiteral("UPDATE dvr_copies SET record_stop = ? WHERE id = ? AND record_stop > ? "
                                                         "AND end_sealed = 0"));
        if (!s.bind(recordStop).bind(id).bind(recordStop).run(error))
            return std::nullopt;
        Statement read(m_connection, QStringLiteral("SELECT record_stop FROM dvr_copies WHERE id = ?"));
        if (!read.bind(id).run(error))
            return std::nullopt;
        error->clear();
        return read.q.next() ? read.q.value(0).toLongLong() : 0;
    });
}

std::optional<CopyRow> RecordingStore::reopenCopy(qint64 id, qint64 recordStop, QString *error)
{
    if (!withReconnect(m_connection, error, [&]() -> bool {
            Statement s(m_connection, QStringLiteral("UPDATE dvr_copies SET state = ?, reason = '', end_sealed = 0, record_stop = "
                                                     "CASE WHEN record_stop < ? THEN ? ELSE record_stop END WHERE id = ? AND state <> ?"));
            return s.bind(int(CopyState::Recording)).bind(recordStop).bind(recordStop).bind(id).bind(int(CopyState::Recording)).run(error);
        }))
        return std::nullopt;
    auto row = copy(id, error);
    if (!row && error->isEmpty())
        *error = QStringLiteral("copy %1 is gone (deleted meanwhile)").arg(id);
    return row;
}

std::optional<RecordingStore::SealedEnd> RecordingStore::sealCopyEnd(qint64 id, qint64 recordStop, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<SealedEnd> {
        // One statement against moveCopyEnd()'s: on PostgreSQL the row lock orders them, and the
        // one that waited re-reads the row (READ COMMITTED). An extension first: its end is
        // later, nothing is sealed, the recorder goes on. The seal first: the extension finds
        // the end sealed and leaves it.
        Statement seal(m_connection, QStringLiteral("UPDATE dvr_copies SET end_sealed = 1 WHERE id = ? AND record_stop <= ?"));
        if (!seal.bind(id).bind(recordStop).run(error))
            return std::nullopt;
        Statement read(m_connection, QStringLiteral("SELECT record_stop, end_sealed FROM dvr_copies WHERE id = ?"));
        if (!read.bind(id).run(error))
            return std::nullopt;
        error->clear();
        if (!read.q.next())
            return SealedEnd{true, 0};
        return SealedEnd{read.q.value(1).toInt() != 0, read.q.value(0).toLongLong()};
    });
}

bool RecordingStore::removeCopy(qint64 id, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        return Statement(m_connection, QStringLiteral("DELETE FROM dvr_copies WHERE id = ?")).bind(id).run(error);
    });
}

std::optional<CopyRow> RecordingStore::copy(qint64 id, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<CopyRow> {
        Statement s(m_connection, QStringLiteral("SELECT %1 FROM dvr_copies WHERE id = ?").arg(QLatin1String(s_copyColumns)));
        if (!s.bind(id).run(error))
            return std::nullopt;
        error->clear();
        return s.q.next() ? std::optional<CopyRow>(copyFrom(s.q)) : std::nullopt;
    });
}

std::optional<CopyRow> RecordingStore::copyOf(const QString &channelId, qint64 airingStart, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<CopyRow> {
        Statement s(m_connection, QStringLiteral("SELECT %1 FROM dvr_copies WHERE channel_id = ? AND airing_start = ?")
                                      .arg(QLatin1String(s_copyColumns)));
        if (!s.bind(channelId).bind(airingStart).run(error))
            return std::nullopt;
        error->clear();
        return s.q.next() ? std::optional<CopyRow>(copyFrom(s.q)) : std::nullopt;
    });
}

std::optional<QList<CopyRow>> RecordingStore::copies(QString *error, std::optional<CopyState> state)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<CopyRow>> {
        Statement s(m_connection, state ? QStringLiteral("SELECT %1 FROM dvr_copies WHERE state = ? ORDER BY id").arg(QLatin1String(s_copyColumns))
                                        : QStringLiteral("SELECT %1 FROM dvr_copies ORDER BY id").arg(QLatin1String(s_copyColumns)));
        if (state)
            s.bind(int(*state));
        if (!s.run(error))
            return std::nullopt;
        QList<CopyRow> out;
        while (s.q.next())
            out.append(copyFrom(s.q));
        return out;
    });
}

std::optional<QList<CopyRow>> RecordingStore::copiesOfOwner(const QString &owner, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<CopyRow>> {
        // By the (owner, ...) unique index of dvr_recordings, then the copies' primary key.
        Statement s(m_connection, QStringLiteral("SELECT %1 FROM dvr_copies WHERE id IN "
                                                 "(SELECT copy_id FROM dvr_recordings WHERE owner = ? AND deleted = 0) ORDER BY id")
                                      .arg(QLatin1String(s_copyColumns)));
        if (!s.bind(owner).run(error))
            return std::nullopt;
        QList<CopyRow> out;
        while (s.q.next())
            out.append(copyFrom(s.q));
        return out;
    });
}

std::optional<QList<OpenCopyRecording>> RecordingStore::openCopyRecordings(QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<OpenCopyRecording>> {
        // The lease row's holder, when it holds it (pending); a copy nobody holds now has none.
        Statement s(m_connection,
                    QStringLiteral("SELECT r.id, r.owner, r.rule_id, r.channel_id, r.airing_start, r.copy_id, COALESCE(l.node, '') "
                                   "FROM dvr_recordings r JOIN dvr_copies c ON c.id = r.copy_id "
                                   "LEFT JOIN dvr_leases l ON l.id = 'copy:' || CAST(c.id AS TEXT) AND l.state = 'pending' "
                                   "WHERE c.state = ? AND r.deleted = 0 AND r.stopped = 0 "
                                   "ORDER BY r.airing_start, r.channel_id, r.owner, r.rule_id"));
        if (!s.bind(int(CopyState::Recording)).run(error))
            return std::nullopt;
        QList<OpenCopyRecording> out;
        while (s.q.next())
            out.append({s.q.value(0).toLongLong(), s.q.value(1).toString(), s.q.value(2).toLongLong(), s.q.value(3).toString(),
                        s.q.value(4).toLongLong(), s.q.value(5).toLongLong(), s.q.value(6).toString()});
        return out;
    });
}

std::optional<QList<CopyRow>> RecordingStore::copiesWithIds(const QList<qint64> &ids, QString *error)
{
    QList<CopyRow> out;
    if (ids.isEmpty())
        return out;
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<CopyRow>> {
        out.clear();
        // The ids are numbers: written into the statement, one statement for a page's copies.
        QStringList list;
        list.reserve(ids.size());
        for (const qint64 id : ids)
            list.append(QString::number(id));
        Statement s(m_connection, QStringLiteral("SELECT %1 FROM dvr_copies WHERE id IN (%2)")
                                      .arg(QLatin1String(s_copyColumns), list.join(u',')));
        if (!s.run(error))
            return std::nullopt;
        while (s.q.next())
            out.append(copyFrom(s.q));
        return out;
    });
}

std::optional<qint64> RecordingStore::insertRecording(const RecordingRow &r, QString *error, bool *copyGone)
{
    if (copyGone)
        *copyGone = false;
    auto insert = [&]() -> std::optional<qint64> {
        Statement s(m_connection,
                    QStringLiteral("INSERT INTO dvr_recordings (owner, rule_id, channel_id, title, airing_start, airing_stop, "
                                   "record_start, record_stop, copy_id, kept, position, created, deleted, keep_until) "
                                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) "
                                   "ON CONFLICT (owner, rule_id, channel_id, airing_start) DO NOTHING RETURNING id"));
        s.bind(r.owner).bind(r.ruleId).bind(r.channelId).bind(r.title).bind(r.airingStart).bind(r.airingStop)
            .bind(r.recordStart).bind(r.recordStop).bind(r.copyId).bind(int(r.kept)).bind(r.positionSeconds)
            .bind(r.created ? r.created : QDateTime::currentSecsSinceEpoch())
            .bind(r.keepUntil);
        if (!s.run(error))
            return std::nullopt;
        return s.q.next() ? s.q.value(0).toLongLong() : 0;
    };
    return withReconnect(m_connection, error, [&]() -> std::optional<qint64> {
        if (r.copyId == 0)
            return insert(); // a range of an archive: nothing to hold
        return inTransaction(error, [&]() -> std::optional<qint64> {
            // The copy's row held until this row is in: a deleteRecording() of its last viewer
            // (FOR UPDATE) waits for it, or went first and the copy is not there any more.
            Statement held(m_connection, m_postgres ? QStringLiteral("SELECT id FROM dvr_copies WHERE id = ? FOR KEY SHARE")
                                                    : QStringLiteral("SELECT id FROM dvr_copies WHERE id = ?"));
            if (!held.bind(r.copyId).run(error))
                return std::nullopt;
            if (!held.q.next()) {
                if (copyGone)
                    *copyGone = true;
                *error = QStringLiteral("copy %1 was deleted meanwhile (its last viewer's recording)").arg(r.copyId);
                return std::nullopt;
            }
            return insert();
        });
    });
}

bool RecordingStore::setViewerState(qint64 id, std::optional<qint64> positionSeconds, std::optional<bool> kept, QString *error,
                                    std::optional<qint64> keepUntil)
{
    if (!positionSeconds && !kept && !keepUntil)
        return true;
    return withReconnect(m_connection, error, [&]() -> bool {
        QStringList set;
        if (positionSeconds)
            set << QStringLiteral("position = ?");
        if (kept)
            set << QStringLiteral("kept = ?");
        if (keepUntil)
            set << QStringLiteral("keep_until = ?");
        Statement s(m_connection, QStringLiteral("UPDATE dvr_recordings SET %1 WHERE id = ?").arg(set.join(u", ")));
        if (positionSeconds)
            s.bind(*positionSeconds);
        if (kept)
            s.bind(int(*kept));
        if (keepUntil)
            s.bind(*keepUntil);
        return s.bind(id).run(error);
    });
}

std::optional<bool> RecordingStore::stopRecordingAt(qint64 id, qint64 at, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<bool> {
        // A transition, not a write of what was read: a stop made meanwhile by another node (or
        // an end that came) leaves the row as it is.
        Statement s(m_connection, QStringLiteral("UPDATE dvr_recordings SET stopped = ?, "
                                                 "record_stop = CASE WHEN record_start > ? THEN record_start ELSE ? END "
                                                 "WHERE id = ? AND stopped = 0 AND record_stop > ?"));
        if (!s.bind(at).bind(at).bind(at).bind(id).bind(at).run(error))
            return std::nullopt;
        return s.q.numRowsAffected() > 0;
    });
}

std::optional<bool> RecordingStore::extendRecordingEnd(qint64 id, qint64 airingStop, qint64 recordStop, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<bool> {
        Statement s(m_connection, QStringLiteral("UPDATE dvr_recordings SET airing_stop = ?, record_stop = ? "
                                                 "WHERE id = ? AND stopped = 0 AND record_stop < ?"));
        if (!s.bind(airingStop).bind(recordStop).bind(id).bind(recordStop).run(error))
            return std::nullopt;
        return s.q.numRowsAffected() > 0;
    });
}

std::optional<qint64> RecordingStore::endRecordingSpan(qint64 id, qint64 spanEnd, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<qint64> {
        // Once: a span another node (or request) ended first stays where it ended.
        Statement s(m_connection, QStringLiteral("UPDATE dvr_recordings SET span_end = ? WHERE id = ? AND span_end < 0"));
        if (!s.bind(qMax<qint64>(0, spanEnd)).bind(id).run(error))
            return std::nullopt;
        Statement read(m_connection, QStringLiteral("SELECT span_end FROM dvr_recordings WHERE id = ?"));
        if (!read.bind(id).run(error))
            return std::nullopt;
        return read.q.next() ? read.q.value(0).toLongLong() : qint64(-1);
    });
}

std::optional<RecordingDeletion> RecordingStore::deleteRecording(qint64 id, QString *error)
{
    return deleteRow(id, nullptr, error);
}

std::optional<RecordingDeletion> RecordingStore::deleteRecording(qint64 id, const Unchanged &unchanged, QString *error)
{
    return deleteRow(id, &unchanged, error);
}

std::optional<RecordingDeletion> RecordingStore::deleteRow(qint64 id, const Unchanged *unchanged, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<RecordingDeletion> {
        return inTransaction(error, [&]() -> std::optional<RecordingDeletion> {
            RecordingDeletion out;
            Statement which(m_connection, QStringLiteral("SELECT copy_id FROM dvr_recordings WHERE id = ?"));
            if (!which.bind(id).run(error))
                return std::nullopt;
            if (!which.q.next())
                return out; // gone already
            const qint64 copyId = which.q.value(0).toLongLong();
            std::optional<CopyRow> copy;
            if (copyId != 0) {
                // Held until the end: a viewer joining the copy (insertRecording, FOR KEY SHARE)
                // waits, and finds it deleted or not; one that joined before is seen below.
                Statement held(m_connection, QStringLiteral("SELECT %1 FROM dvr_copies WHERE id = ?%2")
                                                 .arg(QLatin1String(s_copyColumns), m_postgres ? u" FOR UPDATE"_qs : QString()));
                if (!held.bind(copyId).run(error))
                    return std::nullopt;
                if (held.q.next())
                    copy = copyFrom(held.q);
            }
            // As it was, in the statement itself: PostgreSQL checks the condition again on a row
            // another transaction changed meanwhile (READ COMMITTED), SQLite has one writer.
            Statement remove(m_connection, unchanged ? QStringLiteral("DELETE FROM dvr_recordings WHERE id = ? AND kept = ? AND "
                                                                      "keep_until = ? AND copy_id = ?")
                                                     : QStringLiteral("DELETE FROM dvr_recordings WHERE id = ?"));
            remove.bind(id);
            if (unchanged)
                remove.bind(unchanged->kept ? 1 : 0).bind(unchanged->keepUntil).bind(unchanged->copyId);
            if (!remove.run(error))
                return std::nullopt;
            out.removed = remove.q.numRowsAffected() > 0;
            if (unchanged && !out.removed) {
                out.changed = true;
                error->clear();
                return out;
            }
            if (copy) {
                Statement last(m_connection, QStringLiteral("DELETE FROM dvr_copies WHERE id = ? AND NOT EXISTS "
                                                            "(SELECT 1 FROM dvr_recordings WHERE copy_id = ?)"));
                if (!last.bind(copyId).bind(copyId).run(error))
                    return std::nullopt;
                if (last.q.numRowsAffected() > 0)
                    out.copy = copy;
            }
            error->clear();
            return out;
        });
    });
}

bool RecordingStore::removeRecording(qint64 id, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        return Statement(m_connection, QStringLiteral("DELETE FROM dvr_recordings WHERE id = ?")).bind(id).run(error);
    });
}

std::optional<RecordingRow> RecordingStore::recording(qint64 id, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<RecordingRow> {
        Statement s(m_connection, QStringLiteral("SELECT %1 FROM dvr_recordings WHERE id = ?").arg(QLatin1String(s_recordingColumns)));
        if (!s.bind(id).run(error))
            return std::nullopt;
        error->clear();
        return s.q.next() ? std::optional<RecordingRow>(recordingFrom(s.q)) : std::nullopt;
    });
}

std::optional<QList<RecordingRow>> RecordingStore::recordings(QString *error, const QString &owner, bool withDeleted)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<RecordingRow>> {
        QString sql = QStringLiteral("SELECT %1 FROM dvr_recordings WHERE 1 = 1").arg(QLatin1String(s_recordingColumns));
        if (!owner.isEmpty())
            sql += QStringLiteral(" AND owner = ?");
        if (!withDeleted)
            sql += QStringLiteral(" AND deleted = 0");
        sql += QStringLiteral(" ORDER BY airing_start DESC, id DESC");
        Statement s(m_connection, sql);
        if (!owner.isEmpty())
            s.bind(owner);
        if (!s.run(error))
            return std::nullopt;
        QList<RecordingRow> out;
        while (s.q.next())
            out.append(recordingFrom(s.q));
        return out;
    });
}

std::optional<QList<RecordingRow>> RecordingStore::recordingsPage(QString *error, const QString &owner, int limit,
                                                                  const std::optional<RecordingCursor> &after)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<RecordingRow>> {
        // Row values compare as the order does: (airing_start, id) before the cursor's, descending.
        QString sql = QStringLiteral("SELECT %1 FROM dvr_recordings WHERE deleted = 0").arg(QLatin1String(s_recordingColumns));
        if (!owner.isEmpty())
            sql += QStringLiteral(" AND owner = ?");
        if (after)
            sql += QStringLiteral(" AND (airing_start, id) < (?, ?)");
        sql += QStringLiteral(" ORDER BY airing_start DESC, id DESC LIMIT ?");
        Statement s(m_connection, sql);
        if (!owner.isEmpty())
            s.bind(owner);
        if (after)
            s.bind(after->airingStart).bind(after->id);
        if (!s.bind(qint64(std::max(limit, 0))).run(error))
            return std::nullopt;
        QList<RecordingRow> out;
        while (s.q.next())
            out.append(recordingFrom(s.q));
        return out;
    });
}

std::optional<QList<RecordingRow>> RecordingStore::recordingsOfCopy(qint64 copyId, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<RecordingRow>> {
        Statement s(m_connection, QStringLiteral("SELECT %1 FROM dvr_recordings WHERE copy_id = ? ORDER BY id").arg(QLatin1String(s_recordingColumns)));
        if (!s.bind(copyId).run(error))
            return std::nullopt;
        QList<RecordingRow> out;
        while (s.q.next())
            out.append(recordingFrom(s.q));
        return out;
    });
}

std::optional<RecordingRow> RecordingStore::recordingOf(const QString &owner, qint64 ruleId, const QString &channelId,
                                                        qint64 airingStart, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<RecordingRow> {
        // The rule's own row first; else another of the owner's rules made it (one airing is one
        // recording in a viewer's library, whichever of their rules asked for it).
        Statement s(m_connection, QStringLiteral("SELECT %1 FROM dvr_recordings WHERE owner = ? AND channel_id = ? AND airing_start = ? "
                                                 "ORDER BY CASE WHEN rule_id = ? THEN 0 ELSE 1 END, id LIMIT 1")
                                      .arg(QLatin1String(s_recordingColumns)));
        if (!s.bind(owner).bind(channelId).bind(airingStart).bind(ruleId).run(error))
            return std::nullopt;
        error->clear();
        return s.q.next() ? std::optional<RecordingRow>(recordingFrom(s.q)) : std::nullopt;
    });
}

} // namespace iptv::diver
