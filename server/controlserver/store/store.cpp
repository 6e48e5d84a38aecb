#include "store.h"

#include <core/sqldatabase.h>

#include <QAtomicInteger>
#include <functional>
#include <QLoggingCategory>
#include <QSet>
#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>

Q_LOGGING_CATEGORY(lcStore, "iptv.control.store")

namespace iptv::control {

namespace {

QAtomicInteger<quint64> s_connectionCounter;
constexpr int SchemaVersion = 1;
constexpr int InsertChunk = 100; // rows per multi-row INSERT: one round trip per chunk on PostgreSQL

// Tags are stored as ",a,b," so that "has tag x" is a LIKE '%,x,%' in SQL and a split in C++.
QString joinTags(const QStringList &tags)
{
    return tags.isEmpty() ? QString() : u',' + tags.join(u',') + u',';
}

QStringList splitTags(const QString &text)
{
    return text.split(u',', Qt::SkipEmptyParts);
}

const QString s_commandColumns = QStringLiteral(
    "id, batch_id, box_id, kind, args, state, created, delivered, acknowledged, finished, expires, issued_by, "
    "result_text, result_mime");

CommandRow readCommand(const QSqlQuery &q, bool withData)
{
    CommandRow c;
    c.id = q.value(0).toLongLong();
    c.batchId = q.value(1).toLongLong();
    c.boxId = q.value(2).toLongLong();
    c.kind = q.value(3).toString();
    c.args = q.value(4).toByteArray();
    c.state = commandStateFromName(q.value(5).toString()).value_or(CommandState::Queued);
    c.created = q.value(6).toLongLong();
    c.delivered = q.value(7).toLongLong();
    c.acknowledged = q.value(8).toLongLong();
    c.finished = q.value(9).toLongLong();
    c.expires = q.value(10).toLongLong();
    c.issuedBy = q.value(11).toString();
    c.resultText = q.value(12).toString();
    c.resultMime = q.value(13).toString();
    if (withData)
        c.resultData = q.value(14).toByteArray();
    return c;
}

const QString s_boxColumns = QStringLiteral(
    "id, serial, mac, model, secret_hash, token_hash, state, release_channel, tags, software_version, "
    "current_channel, enrolled_at, last_seen, telemetry");

BoxRow readBox(const QSqlQuery &q)
{
    BoxRow b;
    b.id = q.value(0).toLongLong();
    b.serial = q.value(1).toString();
    b.mac = q.value(2).toString();
    b.model = q.value(3).toString();
    b.secretHash = q.value(4).toByteArray();
    b.tokenHash = q.value(5).toByteArray();
    b.state = boxStateFromName(q.value(6).toString()).value_or(BoxState::Pending);
    b.releaseChannel = q.value(7).toString();
    b.tags = splitTags(q.value(8).toString());
    b.softwareVersion = q.value(9).toString();
    b.currentChannel = q.value(10).toString();
    b.enrolledAt = q.value(11).toLongLong();
    b.lastSeen = q.value(12).toLongLong();
    b.telemetry = q.value(13).toByteArray();
    return b;
}

} // namespace

ControlStore::ControlStore()
    : m_connection(QStringLiteral("controlserver-store-%1").arg(s_connectionCounter.fetchAndAddRelaxed(1)))
{
}

ControlStore::~ControlStore()
{
    close();
}

bool ControlStore::fail(const QString &what, const QString &why, QString *error)
{
    m_lastError = what + u": " + why;
    qCWarning(lcStore).noquote() << m_lastError;
    if (error)
        *error = m_lastError;
    return false;
}

bool ControlStore::open(const QString &location, QString *error)
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

void ControlStore::close()
{
    closeSqlDatabase(m_connection);
}

bool ControlStore::isOpen() const
{
    return QSqlDatabase::contains(m_connection) && QSqlDatabase::database(m_connection, false).isOpen();
}

bool ControlStore::exec(const QString &sql, QString *error)
{
    QString why;
    if (!execSql(m_connection, sql, &why))
        return fail(QStringLiteral("create schema"), why, error);
    return true;
}

bool ControlStore::createSchema(QString *error)
{
    const QString blob = m_postgres ? QStringLiteral("BYTEA") : QStringLiteral("BLOB");
    const QString serial = m_postgres ? QStringLiteral("BIGSERIAL PRIMARY KEY") : QStringLiteral("INTEGER PRIMARY KEY");
    const QStringList statements = {
        QStringLiteral("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value %1)").arg(blob),
        QStringLiteral("CREATE TABLE IF NOT EXISTS boxes (id %1, serial TEXT NOT NULL UNIQUE, mac TEXT, model TEXT, "
                       "secret_hash %2, token_hash %2, state TEXT NOT NULL, release_channel TEXT NOT NULL, tags TEXT, "
                       "software_version TEXT, current_channel TEXT, enrolled_at BIGINT NOT NULL DEFAULT 0, "
                       "last_seen BIGINT NOT NULL DEFAULT 0, telemetry %2)")
            .arg(serial, blob),
        QStringLiteral("CREATE TABLE IF NOT EXISTS telemetry (box_id BIGINT NOT NULL, time BIGINT NOT NULL, data %1)").arg(blob),
        QStringLiteral("CREATE INDEX IF NOT EXISTS telemetry_by_box ON telemetry (box_id, time)"),
        QStringLiteral("CREATE INDEX IF NOT EXISTS telemetry_by_time ON telemetry (time)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS events (id %1, box_id BIGINT NOT NULL, time BIGINT NOT NULL, "
                       "kind TEXT, severity TEXT, text TEXT, data %2)")
            .arg(serial, blob),
        QStringLiteral("CREATE INDEX IF NOT EXISTS events_by_box ON events (box_id, id)"),
        QStringLiteral("CREATE INDEX IF NOT EXISTS events_by_time ON events (time)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS commands (id %1, batch_id BIGINT NOT NULL, box_id BIGINT NOT NULL, "
                       "kind TEXT NOT NULL, args %2, state TEXT NOT NULL, created BIGINT NOT NULL, "
                       "delivered BIGINT NOT NULL DEFAULT 0, acknowledged BIGINT NOT NULL DEFAULT 0, "
                       "finished BIGINT NOT NULL DEFAULT 0, expires BIGINT NOT NULL, issued_by TEXT, "
                       "result_text TEXT, result_mime TEXT, result_data %2)")
            .arg(serial, blob),
        QStringLiteral("CREATE INDEX IF NOT EXISTS commands_by_batch ON commands (batch_id)"),
        QStringLiteral("CREATE INDEX IF NOT EXISTS commands_by_box ON commands (box_id, id)"),
        QStringLiteral("CREATE INDEX IF NOT EXISTS commands_by_state ON commands (state)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS operators (account TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
                       "role TEXT NOT NULL, created BIGINT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS operator_tokens (token_hash %1 PRIMARY KEY, account TEXT NOT NULL, "
                       "expires BIGINT NOT NULL)")
            .arg(blob),
        QStringLiteral("CREATE TABLE IF NOT EXISTS audit (id %1, time BIGINT NOT NULL, account TEXT, action TEXT NOT NULL, "
                       "target TEXT, outcome TEXT NOT NULL, detail TEXT)")
            .arg(serial),
        QStringLiteral("CREATE INDEX IF NOT EXISTS audit_by_account ON audit (account, id)"),
    };
    for (const QString &s : statements) {
        if (!exec(s, error))
            return false;
    }
    // Upgrades from older versions are passed here, one step per version.
    return checkSchemaVersion(m_connection, QStringLiteral("controlserver"), SchemaVersion, {}, error);
}

QByteArray ControlStore::meta(const QString &key)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT value FROM meta WHERE key = ?"));
    q.addBindValue(key);
    if (!q.exec() || !q.next())
        return {};
    return q.value(0).toByteArray();
}

bool ControlStore::setMeta(const QString &key, const QByteArray &value, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
    q.addBindValue(key);
    q.addBindValue(value);
    if (!q.exec())
        return fail(QStringLiteral("set meta %1").arg(key), sqlErrorText(q.lastError()), error);
    return true;
}

// ---- boxes

bool ControlStore::insertBox(BoxRow *row, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("INSERT INTO boxes (serial, mac, model, secret_hash, token_hash, state, release_channel, tags, "
                             "software_version, current_channel, enrolled_at, last_seen) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"));
    q.addBindValue(row->serial);
    q.addBindValue(row->mac);
    q.addBindValue(row->model);
    q.addBindValue(row->secretHash);
    q.addBindValue(row->tokenHash);
    q.addBindValue(boxStateName(row->state));
    q.addBindValue(row->releaseChannel);
    q.addBindValue(joinTags(row->tags));
    q.addBindValue(row->softwareVersion);
    q.addBindValue(row->currentChannel);
    q.addBindValue(row->enrolledAt);
    q.addBindValue(row->lastSeen);
    if (!q.exec() || !q.next())
        return fail(QStringLiteral("insert box %1").arg(row->serial), sqlErrorText(q.lastError()), error);
    row->id = q.value(0).toLongLong();
    return true;
}

bool ControlStore::updateBoxIdentity(qint64 id, const QString &mac, const QString &model, const QByteArray &secretHash,
                                     QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("UPDATE boxes SET mac = ?, model = ?, secret_hash = ? WHERE id = ?"));
    q.addBindValue(mac);
    q.addBindValue(model);
    q.addBindValue(secretHash);
    q.addBindValue(id);
    if (!q.exec())
        return fail(QStringLiteral("update box %1").arg(id), sqlErrorText(q.lastError()), error);
    return true;
}

bool ControlStore::setBoxState(qint64 id, BoxState state, const QByteArray &tokenHash, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("UPDATE boxes SET state = ?, token_hash = ? WHERE id = ?"));
    q.addBindValue(boxStateName(state));
    q.addBindValue(tokenHash);
    q.addBindValue(id);
    if (!q.exec())
        return fail(QStringLiteral("set state of box %1").arg(id), sqlErrorText(q.lastError()), error);
    return true;
}

bool ControlStore::setBoxToken(qint64 id, const QByteArray &tokenHash, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("UPDATE boxes SET token_hash = ? WHERE id = ?"));
    q.addBindValue(tokenHash);
    q.addBindValue(id);
    if (!q.exec())
        return fail(QStringLiteral("set token of box %1").arg(id), sqlErrorText(q.lastError()), error);
    return true;
}

bool ControlStore::setBoxTags(qint64 id, const QStringList &tags, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("UPDATE boxes SET tags = ? WHERE id = ?"));
    q.addBindValue(joinTags(tags));
    q.addBindValue(id);
    if (!q.exec())
        return fail(QStringLiteral("set tags of box %1").arg(id), sqlErrorText(q.lastError()), error);
    return true;
}

bool ControlStore::setBoxReleaseChannel(qint64 id, const QString &channel, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("UPDATE boxes SET release_channel = ? WHERE id = ?"));
    q.addBindValue(channel);
    q.addBindValue(id);
    if (!q.exec())
        return fail(QStringLiteral("set release channel of box %1").arg(id), sqlErrorText(q.lastError()), error);
    return true;
}

bool ControlStore::selectByIds(const QString &select, const QList<qint64> &ids, const std::function<void(const QSqlQuery &)> &read,
                               const QString &what, QString *error, const QString &idColumn)
{
    constexpr qsizetype Chunk = 500;
    for (qsizetype start = 0; start < ids.size(); start += Chunk) {
        const qsizetype n = std::min(Chunk, ids.size() - start);
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.setForwardOnly(true);
        QStringList marks(n, u"?"_qs);
        q.prepare(select + (select.contains(u" WHERE "_qs) ? u" AND "_qs : u" WHERE "_qs) + idColumn + u" IN ("_qs
                  + marks.join(u',') + u')');
        for (qsizetype i = 0; i < n; ++i)
            q.addBindValue(ids.at(start + i));
        if (!q.exec())
            return fail(QStringLiteral("load %1 %2").arg(n).arg(what), sqlErrorText(q.lastError()), error);
        while (q.next())
            read(q);
    }
    return true;
}

QList<BoxRow> ControlStore::loadBoxes(const QList<qint64> &ids, QString *error)
{
    QList<BoxRow> out;
    const QString cols = QString(s_boxColumns).replace(u", telemetry"_qs, u", NULL"_qs);
    selectByIds(QStringLiteral("SELECT %1 FROM boxes").arg(cols), ids, [&out](const QSqlQuery &q) { out.append(readBox(q)); },
                u"boxes"_qs, error);
    return out;
}

QList<CommandRow> ControlStore::commands(const QList<qint64> &ids, QString *error)
{
    QList<CommandRow> out;
    selectByIds(QStringLiteral("SELECT %1 FROM commands").arg(s_commandColumns), ids,
                [&out](const QSqlQuery &q) { out.append(readCommand(q, false)); }, u"commands"_qs, error);
    return out;
}

QList<CommandRow> ControlStore::deliverableCommands(const QList<qint64> &boxIds, QString *error)
{
    QList<CommandRow> out;
    selectByIds(QStringLiteral("SELECT %1 FROM commands WHERE state IN ('queued','delivered')").arg(s_commandColumns), boxIds,
                [&out](const QSqlQuery &q) { out.append(readCommand(q, false)); }, u"boxes' commands"_qs, error,
                QStringLiteral("box_id"));
    // A state change still queued here (a result, an expiry) wins over the row.
    applyQueued(&out, false);
    out.removeIf([](const CommandRow &r) { return r.state != CommandState::Queued && r.state != CommandState::Delivered; });
    return out;
}

QList<BoxRow> ControlStore::loadBoxes(QString *error)
{
    QList<BoxRow> out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    // The latest telemetry blob stays in the database; the in-memory fleet keeps compact fields.
    const QString cols = QString(s_boxColumns).replace(u", telemetry"_qs, u", NULL"_qs);
    if (!q.exec(QStringLiteral("SELECT %1 FROM boxes ORDER BY id").arg(cols))) {
        fail(QStringLiteral("load boxes"), sqlErrorText(q.lastError()), error);
        return out;
    }
    while (q.next())
        out.append(readBox(q));
    return out;
}

std::optional<BoxRow> ControlStore::box(qint64 id, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT %1 FROM boxes WHERE id = ?").arg(s_boxColumns));
    q.addBindValue(id);
    if (!q.exec()) {
        fail(QStringLiteral("read box %1").arg(id), sqlErrorText(q.lastError()), error);
        return std::nullopt;
    }
    if (!q.next())
        return std::nullopt;
    BoxRow row = readBox(q);
    // What is queued and not yet flushed is newer than the row (the latest state goes every few seconds).
    if (const auto it = m_seen.constFind(id); it != m_seen.cend()) {
        row.lastSeen = it->lastSeen;
        row.softwareVersion = it->softwareVersion;
        row.currentChannel = it->currentChannel;
        if (!it->telemetry.isEmpty())
            row.telemetry = it->telemetry;
    }
    return row;
}

// ---- queued writes

void ControlStore::queueBoxSeen(qint64 boxId, qint64 lastSeen, const QString &softwareVersion,
                                const QString &currentChannel, const QByteArray &telemetry)
{
    Seen &s = m_seen[boxId];
    s.lastSeen = lastSeen;
    s.softwareVersion = softwareVersion;
    s.currentChannel = currentChannel;
    if (!telemetry.isEmpty())
        s.telemetry = telemetry;
}

void ControlStore::queueTelemetry(qint64 boxId, qint64 time, const QByteArray &data)
{
    if (m_telemetry.size() >= m_queueLimit) {
        m_telemetry.removeFirst();
        ++m_dropped.telemetry;
    }
    m_telemetry.append({boxId, TelemetrySample{time, data}});
}

void ControlStore::queueEvent(const EventRow &event)
{
    if (m_events.size() >= m_queueLimit) {
        m_events.removeFirst();
        ++m_dropped.events;
    }
    m_events.append(event);
}

void ControlStore::queueCommandState(qint64 commandId, CommandState state, qint64 when, const QString &resultText,
                                     const QByteArray &resultData, const QString &resultMime)
{
    m_commandUpdates.append({commandId, state, when, resultText, resultData, resultMime});
}

qsizetype ControlStore::pendingWrites() const
{
    return m_seen.size() + m_telemetry.size() + m_events.size() + m_commandUpdates.size();
}

bool ControlStore::flush(QString *error, bool withLatest)
{
    if (pendingWrites() - (withLatest ? 0 : m_seen.size()) == 0)
        return true;
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    if (!db.transaction())
        return fail(QStringLiteral("flush"), sqlErrorText(db.lastError()), error);
    auto abort = [&](const QString &what, const QSqlQuery &q) {
        const QString why = sqlErrorText(q.lastError());
        db.rollback();
        return fail(what, why, error);
    };

    if (withLatest && !m_seen.isEmpty()) {
        QSqlQuery q(db);
        QSqlQuery qt(db);
        q.prepare(QStringLiteral("UPDATE boxes SET last_seen = ?, software_version = ?, current_channel = ? WHERE id = ?"));
        qt.prepare(QStringLiteral("UPDATE boxes SET last_seen = ?, software_version = ?, current_channel = ?, telemetry = ? WHERE id = ?"));
        for (auto it = m_seen.cbegin(); it != m_seen.cend(); ++it) {
            QSqlQuery &u = it->telemetry.isEmpty() ? q : qt;
            u.addBindValue(it->lastSeen);
            u.addBindValue(it->softwareVersion);
            u.addBindValue(it->currentChannel);
            if (!it->telemetry.isEmpty())
                u.addBindValue(it->telemetry);
            u.addBindValue(it.key());
            if (!u.exec())
                return abort(QStringLiteral("update last seen"), u);
        }
    }

    // Multi-row inserts, InsertChunk rows per statement.
    auto insertRows = [&](const QString &head, const QString &rowPlaceholder, qsizetype count,
                          const std::function<void(QSqlQuery &, qsizetype)> &bindRow, const QString &what) {
        SqlBatchInsert insert(m_connection, head, rowPlaceholder, InsertChunk);
        QString why;
        if (insert.insert(count, bindRow, &why))
            return true;
        insert.reset();
        db.rollback();
        return fail(what, why, error);
    };

    if (!m_telemetry.isEmpty()
        && !insertRows(QStringLiteral("INSERT INTO telemetry (box_id, time, data) VALUES "), QStringLiteral("(?,?,?)"),
                       m_telemetry.size(),
                       [this](QSqlQuery &q, qsizetype i) {
                           const auto &[box, s] = m_telemetry.at(i);
                           q.addBindValue(box);
                           q.addBindValue(s.time);
                           q.addBindValue(s.data);
                       },
                       QStringLiteral("insert telemetry")))
        return false;

    if (!m_events.isEmpty()
        && !insertRows(QStringLiteral("INSERT INTO events (box_id, time, kind, severity, text, data) VALUES "),
                       QStringLiteral("(?,?,?,?,?,?)"), m_events.size(),
                       [this](QSqlQuery &q, qsizetype i) {
                           const EventRow &e = m_events.at(i);
                           q.addBindValue(e.boxId);
                           q.addBindValue(e.time);
                           q.addBindValue(e.kind);
                           q.addBindValue(e.severity);
                           q.addBindValue(e.text);
                           q.addBindValue(e.data);
                       },
                       QStringLiteral("insert events")))
        return false;

    if (!m_commandUpdates.isEmpty()) {
        QSqlQuery q(db);
        for (const CommandUpdate &u : std::as_const(m_commandUpdates)) {
            // A state only moves forward; an update that arrives after a later one (or after the
            // expiry sweep) must not move it back.
            QString column;
            switch (u.state) {
            case CommandState::Queued: column = QStringLiteral("created"); break;
            case CommandState::Delivered: column = QStringLiteral("delivered"); break;
            case CommandState::Acknowledged: column = QStringLiteral("acknowledged"); break;
            default: column = QStringLiteral("finished"); break;
            }
            const bool result = isFinal(u.state) && u.state != CommandState::Expired;
            q.prepare(QStringLiteral("UPDATE commands SET state = ?, %1 = ?%2 WHERE id = ? AND state NOT IN "
                                     "('succeeded','failed','expired')")
                          .arg(column, result ? u", result_text = ?, result_data = ?, result_mime = ?"_qs : QString()));
            q.addBindValue(commandStateName(u.state));
            q.addBindValue(u.when);
            if (result) {
                q.addBindValue(u.resultText);
                q.addBindValue(u.resultData);
                q.addBindValue(u.resultMime);
            }
            q.addBindValue(u.id);
            if (!q.exec())
                return abort(QStringLiteral("update command state"), q);
        }
    }

    if (!db.commit()) {
        // Left open, the failed transaction would swallow every later statement of this connection.
        const QString why = sqlErrorText(db.lastError());
        db.rollback();
        return fail(QStringLiteral("flush commit"), why, error);
    }
    ++m_flushCount;
    for (const EventRow &e : std::as_const(m_events))
        m_eventBoxes.append(e.boxId);
    if (withLatest)
        m_seen.clear();
    m_telemetry.clear();
    m_events.clear();
    m_commandUpdates.clear();
    return true;
}

// ---- telemetry and events

QList<TelemetrySample> ControlStore::telemetry(qint64 boxId, qint64 since, int limit, QString *error)
{
    QList<TelemetrySample> out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT time, data FROM telemetry WHERE box_id = ? AND time >= ? ORDER BY time DESC LIMIT ?"));
    q.addBindValue(boxId);
    q.addBindValue(since);
    q.addBindValue(limit);
    if (!q.exec()) {
        fail(QStringLiteral("read telemetry"), sqlErrorText(q.lastError()), error);
        return out;
    }
    while (q.next())
        out.append({q.value(0).toLongLong(), q.value(1).toByteArray()});
    // Reads see what is queued: samples not flushed yet are merged in, so an operator's GET needs
    // no flush of everything (one per request from a polling console).
    // Of samples with the same time, the queued ones (the later queued first) are the newer.
    QList<TelemetrySample> merged;
    for (auto it = m_telemetry.crbegin(); it != m_telemetry.crend(); ++it) {
        if (it->first == boxId && it->second.time >= since)
            merged.append(it->second);
    }
    if (merged.isEmpty())
        return out;
    merged.append(out);
    std::stable_sort(merged.begin(), merged.end(), [](const TelemetrySample &a, const TelemetrySample &b) { return a.time > b.time; });
    if (merged.size() > limit)
        merged.resize(limit);
    return merged;
}

QList<EventRow> ControlStore::events(qint64 boxId, int limit, QString *error)
{
    QList<EventRow> out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    // Reads see what is queued: events not flushed yet (id 0) are newer than every row, newest first.
    for (auto it = m_events.crbegin(); it != m_events.crend() && out.size() < limit; ++it) {
        if (it->boxId == boxId)
            out.append(*it);
    }
    if (out.size() >= limit)
        return out;
    q.prepare(QStringLiteral("SELECT id, box_id, time, kind, severity, text, data FROM events WHERE box_id = ? "
                             "ORDER BY id DESC LIMIT ?"));
    q.addBindValue(boxId);
    q.addBindValue(limit - int(out.size()));
    if (!q.exec()) {
        fail(QStringLiteral("read events"), sqlErrorText(q.lastError()), error);
        return out;
    }
    while (q.next()) {
        out.append({q.value(0).toLongLong(), q.value(1).toLongLong(), q.value(2).toLongLong(), q.value(3).toString(),
                    q.value(4).toString(), q.value(5).toString(), q.value(6).toByteArray()});
    }
    return out;
}

bool ControlStore::prune(qint64 telemetryBefore, qint64 eventsBefore, int maxEventsPerBox, QString *error)
{
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    QSqlQuery q(db);
    q.prepare(QStringLiteral("DELETE FROM telemetry WHERE time < ?"));
    q.addBindValue(telemetryBefore);
    if (!q.exec())
        return fail(QStringLiteral("prune telemetry"), sqlErrorText(q.lastError()), error);
    q.prepare(QStringLiteral("DELETE FROM events WHERE time < ?"));
    q.addBindValue(eventsBefore);
    if (!q.exec())
        return fail(QStringLiteral("prune events"), sqlErrorText(q.lastError()), error);
    const QSet<qint64> boxes(m_eventBoxes.cbegin(), m_eventBoxes.cend());
    m_eventBoxes.clear();
    for (qint64 box : boxes) {
        q.prepare(QStringLiteral("DELETE FROM events WHERE box_id = ? AND id < (SELECT MIN(id) FROM "
                                 "(SELECT id FROM events WHERE box_id = ? ORDER BY id DESC LIMIT ?) AS newest)"));
        q.addBindValue(box);
        q.addBindValue(box);
        q.addBindValue(maxEventsPerBox);
        if (!q.exec())
            return fail(QStringLiteral("cap events"), sqlErrorText(q.lastError()), error);
    }
    return true;
}

// ---- commands

bool ControlStore::insertCommands(QList<CommandRow> *rows, QString *error)
{
    if (rows->isEmpty())
        return true;
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    if (!db.transaction())
        return fail(QStringLiteral("insert commands"), sqlErrorText(db.lastError()), error);
    auto abort = [&](const QSqlQuery &q) {
        const QString why = sqlErrorText(q.lastError());
        db.rollback();
        return fail(QStringLiteral("insert commands"), why, error);
    };
    // A command to 100,000 boxes is 100,000 rows: InsertChunk rows per statement (one round trip
    // each on PostgreSQL), not one statement per box. A batch without an id is named by its first
    // row's, so that row goes first, alone.
    qint64 batch = rows->first().batchId;
    const QString head = QStringLiteral(
        "INSERT INTO commands (batch_id, box_id, kind, args, state, created, expires, issued_by) VALUES ");
    const QString row = QStringLiteral("(?,?,?,?,?,?,?,?)");
    QSqlQuery full(db);
    bool fullPrepared = false;
    for (qsizetype start = 0; start < rows->size();) {
        const qsizetype n = batch == 0 ? 1 : std::min<qsizetype>(InsertChunk, rows->size() - start);
        QSqlQuery partial(db);
        QSqlQuery &q = n == InsertChunk ? full : partial;
        if (n != InsertChunk || !fullPrepared) {
            if (!q.prepare(head + QStringList(n, row).join(u',') + u" RETURNING id"))
                return abort(q);
            fullPrepared = fullPrepared || n == InsertChunk;
        }
        for (qsizetype i = start; i < start + n; ++i) {
            const CommandRow &r = rows->at(i);
            q.addBindValue(batch);
            q.addBindValue(r.boxId);
            q.addBindValue(r.kind);
            q.addBindValue(r.args);
            q.addBindValue(commandStateName(r.state));
            q.addBindValue(r.created);
            q.addBindValue(r.expires);
            q.addBindValue(r.issuedBy);
        }
        if (!q.exec())
            return abort(q);
        // Ids are handed out in the order the rows are inserted; RETURNING's order is not
        // promised (SQLite), so they are matched to rows in ascending order.
        QList<qint64> ids;
        ids.reserve(n);
        while (q.next())
            ids.append(q.value(0).toLongLong());
        q.finish();
        if (ids.size() != n) {
            db.rollback();
            return fail(QStringLiteral("insert commands"),
                        QStringLiteral("%1 ids returned for %2 rows").arg(ids.size()).arg(n), error);
        }
        std::sort(ids.begin(), ids.end());
        for (qsizetype i = 0; i < n; ++i)
            (*rows)[start + i].id = ids.at(i);
        if (batch == 0) {
            batch = ids.first();
            QSqlQuery u(db);
            u.prepare(QStringLiteral("UPDATE commands SET batch_id = ? WHERE id = ?"));
            u.addBindValue(batch);
            u.addBindValue(batch);
            if (!u.exec())
                return abort(u);
        }
        start += n;
    }
    for (CommandRow &r : *rows)
        r.batchId = batch;
    if (!db.commit()) {
        const QString why = sqlErrorText(db.lastError());
        db.rollback();
        return fail(QStringLiteral("insert commands commit"), why, error);
    }
    return true;
}

QList<CommandRow> ControlStore::activeCommands(QString *error)
{
    QList<CommandRow> out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    if (!q.exec(QStringLiteral("SELECT %1 FROM commands WHERE state IN ('queued','delivered','acknowledged') ORDER BY id")
                    .arg(s_commandColumns))) {
        fail(QStringLiteral("load commands"), sqlErrorText(q.lastError()), error);
        return out;
    }
    while (q.next())
        out.append(readCommand(q, false));
    return out;
}

QList<CommandRow> ControlStore::commands(const CommandQuery &query, bool withData, QString *error)
{
    QList<CommandRow> out;
    QStringList where;
    QVariantList binds;
    if (query.batchId) {
        where.append(QStringLiteral("batch_id = ?"));
        binds.append(query.batchId);
    }
    if (query.boxId) {
        where.append(QStringLiteral("box_id = ?"));
        binds.append(query.boxId);
    }
    if (query.state) {
        where.append(QStringLiteral("state = ?"));
        binds.append(commandStateName(*query.state));
    }
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT %1%2 FROM commands%3 ORDER BY id DESC LIMIT ? OFFSET ?")
                  .arg(s_commandColumns, withData ? u", result_data"_qs : QString(),
                       where.isEmpty() ? QString() : u" WHERE "_qs + where.join(u" AND "_qs)));
    for (const QVariant &b : std::as_const(binds))
        q.addBindValue(b);
    q.addBindValue(query.limit);
    q.addBindValue(query.offset);
    if (!q.exec()) {
        fail(QStringLiteral("list commands"), sqlErrorText(q.lastError()), error);
        return out;
    }
    while (q.next())
        out.append(readCommand(q, withData));
    if (m_commandUpdates.isEmpty())
        return out;
    // Reads see what is queued. With a state filter, a queued state change moves rows in and out
    // of it: rows that left are dropped, rows that entered are read by id (the queue holds at
    // most a flush interval of changes). Paging with a state filter is then approximate.
    if (query.state) {
        QSet<qint64> entered;
        for (const CommandUpdate &u : std::as_const(m_commandUpdates)) {
            if (u.state == *query.state)
                entered.insert(u.id);
        }
        for (const CommandRow &r : std::as_const(out))
            entered.remove(r.id);
        if (!entered.isEmpty()) {
            for (CommandRow &r : commands(QList<qint64>(entered.cbegin(), entered.cend()), error)) {
                if ((query.batchId && r.batchId != query.batchId) || (query.boxId && r.boxId != query.boxId))
                    continue;
                if (withData) {
                    if (const auto full = command(r.id, true, error))
                        r = *full;
                }
                out.append(r);
            }
        }
    }
    applyQueued(&out, withData);
    if (query.state) {
        out.removeIf([&](const CommandRow &r) { return r.state != *query.state; });
        std::sort(out.begin(), out.end(), [](const CommandRow &a, const CommandRow &b) { return a.id > b.id; });
        if (out.size() > query.limit)
            out.resize(query.limit);
    }
    return out;
}

void ControlStore::applyQueued(QList<CommandRow> *rows, bool withData) const
{
    if (m_commandUpdates.isEmpty() || rows->isEmpty())
        return;
    QHash<qint64, qsizetype> index;
    index.reserve(rows->size());
    for (qsizetype i = 0; i < rows->size(); ++i)
        index.insert(rows->at(i).id, i);
    // In queue order, with flush()'s rule: a final state is never left.
    for (const CommandUpdate &u : std::as_const(m_commandUpdates)) {
        const auto it = index.constFind(u.id);
        if (it == index.cend())
            continue;
        CommandRow &r = (*rows)[*it];
        if (isFinal(r.state))
            continue;
        r.state = u.state;
        switch (u.state) {
        case CommandState::Queued: r.created = u.when; break;
        case CommandState::Delivered: r.delivered = u.when; break;
        case CommandState::Acknowledged: r.acknowledged = u.when; break;
        default: r.finished = u.when; break;
        }
        if (isFinal(u.state) && u.state != CommandState::Expired) {
            r.resultText = u.resultText;
            r.resultMime = u.resultMime;
            if (withData)
                r.resultData = u.resultData;
        }
    }
}



std::optional<CommandRow> ControlStore::command(qint64 id, bool withData, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT %1%2 FROM commands WHERE id = ?").arg(s_commandColumns, withData ? u", result_data"_qs : QString()));
    q.addBindValue(id);
    if (!q.exec()) {
        fail(QStringLiteral("read command"), sqlErrorText(q.lastError()), error);
        return std::nullopt;
    }
    if (!q.next())
        return std::nullopt;
    QList<CommandRow> row{readCommand(q, withData)};
    applyQueued(&row, withData); // reads see what is queued
    return row.first();
}

QHash<QString, qint64> ControlStore::commandCountsByState(QString *error)
{
    QHash<QString, qint64> out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QStringLiteral("SELECT state, COUNT(*) FROM commands GROUP BY state"))) {
        fail(QStringLiteral("count commands"), sqlErrorText(q.lastError()), error);
        return out;
    }
    while (q.next())
        out.insert(q.value(0).toString(), q.value(1).toLongLong());
    return out;
}

// ---- operators

bool ControlStore::insertOperator(const OperatorRow &row, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("INSERT INTO operators (account, password_hash, role, created, disabled) VALUES (?, ?, ?, ?, ?)"));
    q.addBindValue(row.account);
    q.addBindValue(QString::fromLatin1(row.passwordHash));
    q.addBindValue(row.role);
    q.addBindValue(row.created);
    q.addBindValue(row.disabled ? 1 : 0);
    if (!q.exec())
        return fail(QStringLiteral("insert operator %1").arg(row.account), sqlErrorText(q.lastError()), error);
    return true;
}

bool ControlStore::updateOperator(const OperatorRow &row, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("UPDATE operators SET password_hash = ?, role = ?, disabled = ? WHERE account = ?"));
    q.addBindValue(QString::fromLatin1(row.passwordHash));
    q.addBindValue(row.role);
    q.addBindValue(row.disabled ? 1 : 0);
    q.addBindValue(row.account);
    if (!q.exec())
        return fail(QStringLiteral("update operator %1").arg(row.account), sqlErrorText(q.lastError()), error);
    return true;
}

std::optional<OperatorRow> ControlStore::operatorAccount(const QString &account, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT account, password_hash, role, created, disabled FROM operators WHERE account = ?"));
    q.addBindValue(account);
    if (!q.exec()) {
        fail(QStringLiteral("read operator"), sqlErrorText(q.lastError()), error);
        return std::nullopt;
    }
    if (!q.next())
        return std::nullopt;
    return OperatorRow{q.value(0).toString(), q.value(1).toString().toLatin1(), q.value(2).toString(),
                       q.value(3).toLongLong(), q.value(4).toInt() != 0};
}

QList<OperatorRow> ControlStore::operators(QString *error)
{
    QList<OperatorRow> out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QStringLiteral("SELECT account, role, created, disabled FROM operators ORDER BY account"))) {
        fail(QStringLiteral("list operators"), sqlErrorText(q.lastError()), error);
        return out;
    }
    while (q.next())
        out.append(OperatorRow{q.value(0).toString(), {}, q.value(1).toString(), q.value(2).toLongLong(), q.value(3).toInt() != 0});
    return out;
}

qint64 ControlStore::operatorCount(QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.exec(QStringLiteral("SELECT COUNT(*) FROM operators")) || !q.next()) {
        fail(QStringLiteral("count operators"), sqlErrorText(q.lastError()), error);
        return -1;
    }
    return q.value(0).toLongLong();
}

bool ControlStore::insertOperatorToken(const QByteArray &tokenHash, const QString &account, qint64 expires, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("INSERT INTO operator_tokens (token_hash, account, expires) VALUES (?, ?, ?)"));
    q.addBindValue(tokenHash);
    q.addBindValue(account);
    q.addBindValue(expires);
    if (!q.exec())
        return fail(QStringLiteral("insert token"), sqlErrorText(q.lastError()), error);
    return true;
}

QString ControlStore::tokenAccount(const QByteArray &tokenHash, qint64 now, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT account FROM operator_tokens WHERE token_hash = ? AND expires > ?"));
    q.addBindValue(tokenHash);
    q.addBindValue(now);
    if (!q.exec()) {
        fail(QStringLiteral("read token"), sqlErrorText(q.lastError()), error);
        return {};
    }
    return q.next() ? q.value(0).toString() : QString();
}

bool ControlStore::deleteOperatorToken(const QByteArray &tokenHash, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("DELETE FROM operator_tokens WHERE token_hash = ?"));
    q.addBindValue(tokenHash);
    if (!q.exec())
        return fail(QStringLiteral("delete token"), sqlErrorText(q.lastError()), error);
    return true;
}

bool ControlStore::deleteOperatorTokens(const QString &account, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("DELETE FROM operator_tokens WHERE account = ?"));
    q.addBindValue(account);
    if (!q.exec())
        return fail(QStringLiteral("delete tokens"), sqlErrorText(q.lastError()), error);
    return true;
}

bool ControlStore::pruneOperatorTokens(qint64 now, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("DELETE FROM operator_tokens WHERE expires <= ?"));
    q.addBindValue(now);
    if (!q.exec())
        return fail(QStringLiteral("prune tokens"), sqlErrorText(q.lastError()), error);
    return true;
}

// ---- audit

bool ControlStore::enrollBox(BoxRow *row, AuditRow *audit, QString (*targetOf)(qint64), QString *error)
{
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    if (!db.transaction())
        return fail(QStringLiteral("enroll %1").arg(row->serial), sqlErrorText(db.lastError()), error);
    if (!insertBox(row, error)) {
        db.rollback();
        return false;
    }
    audit->target = targetOf(row->id);
    if (!appendAudit(audit, error)) {
        db.rollback();
        row->id = 0;
        return false;
    }
    if (!db.commit()) {
        row->id = 0;
        return fail(QStringLiteral("enroll %1 commit").arg(row->serial), sqlErrorText(db.lastError()), error);
    }
    return true;
}

bool ControlStore::appendAudit(AuditRow *row, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("INSERT INTO audit (time, account, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?) RETURNING id"));
    q.addBindValue(row->time);
    q.addBindValue(row->account);
    q.addBindValue(row->action);
    q.addBindValue(row->target);
    q.addBindValue(row->outcome);
    q.addBindValue(row->detail);
    if (!q.exec() || !q.next())
        return fail(QStringLiteral("append audit"), sqlErrorText(q.lastError()), error);
    row->id = q.value(0).toLongLong();
    return true;
}

QList<AuditRow> ControlStore::audit(const QString &account, int limit, int offset, QString *error)
{
    QList<AuditRow> out;
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT id, time, account, action, target, outcome, detail FROM audit%1 ORDER BY id DESC LIMIT ? OFFSET ?")
                  .arg(account.isEmpty() ? QString() : u" WHERE account = ?"_qs));
    if (!account.isEmpty())
        q.addBindValue(account);
    q.addBindValue(limit);
    q.addBindValue(offset);
    if (!q.exec()) {
        fail(QStringLiteral("read audit"), sqlErrorText(q.lastError()), error);
        return out;
    }
    while (q.next()) {
        out.append({q.value(0).toLongLong(), q.value(1).toLongLong(), q.value(2).toString(), q.value(3).toString(),
                    q.value(4).toString(), q.value(5).toString(), q.value(6).toString()});
    }
    return out;
}

} // namespace iptv::control
