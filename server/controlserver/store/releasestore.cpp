#include "releasestore.h"

#include <core/sqldatabase.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <array>
#include <cmath>

Q_LOGGING_CATEGORY(lcReleaseStore, "iptv.control.releases")

namespace iptv::control {

namespace {

// SQLite: rows per multi-row INSERT of targets. Qt's SQLite driver looks every placeholder up
// by position (sqlite3_bind_parameter_name walks a list), so big statements cost quadratically:
// 100,000 rows took ~2.3 s at 500 rows per statement and ~1.1 s at 20 on a loaded 2-core box.
constexpr int SqliteTargetChunk = 20;
// PostgreSQL: rows per INSERT ... SELECT FROM unnest(arrays). Qt's QPSQL sends a prepared
// statement as EXECUTE with every value spelled out, which the server parses value by value
// (100,000 rows as 1,000-row VALUES lists: ~4-6 s); eleven array literals parse in one go.
constexpr int PostgresTargetChunk = 20000;

// rollout_targets.box_id is TEXT and holds the id as the API spells it ("b-12"); in memory a
// target carries the numeric id. These convert at the store (and JSON) boundary.
QString boxIdText(qint64 id)
{
    return u"b-"_qs + QString::number(id);
}

// 0 when `text` is not "b-<positive number>".
qint64 parseBoxIdText(QStringView text)
{
    if (!text.startsWith(u"b-"))
        return 0;
    bool ok = false;
    const qint64 id = text.mid(2).toLongLong(&ok);
    return ok && id > 0 ? id : 0;
}

// A PostgreSQL array literal of texts: {"a","b\"c"}.
QString pgTextArray(const QStringList &values)
{
    QString out;
    out.reserve(values.size() * 16 + 2);
    out += u'{';
    for (qsizetype i = 0; i < values.size(); ++i) {
        if (i > 0)
            out += u',';
        out += u'"';
        for (QChar c : values.at(i)) {
            if (c == u'"' || c == u'\\')
                out += u'\\';
            out += c;
        }
        out += u'"';
    }
    out += u'}';
    return out;
}

QString pgNumberArray(const QList<qint64> &values)
{
    QString out;
    out.reserve(values.size() * 8 + 2);
    out += u'{';
    for (qsizetype i = 0; i < values.size(); ++i) {
        if (i > 0)
            out += u',';
        out += QString::number(values.at(i));
    }
    out += u'}';
    return out;
}


template<typename E, size_t N>
QString nameOf(const std::array<QStringView, N> &names, E value)
{
    const auto i = size_t(value);
    return i < N ? names[i].toString() : QString();
}

template<typename E, size_t N>
std::optional<E> valueOf(const std::array<QStringView, N> &names, QStringView name)
{
    for (size_t i = 0; i < N; ++i) {
        if (names[i] == name)
            return E(i);
    }
    return std::nullopt;
}

constexpr std::array<QStringView, 6> s_rolloutStates{u"draft", u"running", u"paused", u"halted", u"aborted", u"completed"};
constexpr std::array<QStringView, 4> s_groupStates{u"pending", u"open", u"succeeded", u"halted"};
constexpr std::array<QStringView, 6> s_targetStates{u"pending", u"offered", u"installing", u"succeeded", u"failed", u"skipped"};
constexpr std::array<QStringView, 2> s_errorScopes{u"rollout", u"group"};

// A null QString binds as SQL NULL; the text columns are NOT NULL with '' for "none".
QVariant text(const QString &s)
{
    return s.isNull() ? QVariant(QStringLiteral("")) : QVariant(s);
}

// quint64 ids and seeds live in signed BIGINT columns.
qint64 toSql(quint64 v)
{
    return qint64(v);
}

Release releaseFromQuery(const QSqlQuery &q)
{
    Release r;
    r.version = q.value(0).toString();
    r.channel = releaseChannelFromName(q.value(1).toString()).value_or(ReleaseChannel::Clean);
    r.minBoxVersion = q.value(2).toString();
    r.sha256 = q.value(3).toString().toLatin1();
    r.size = q.value(4).toLongLong();
    r.filePath = q.value(5).toString();
    r.manifestJson = q.value(6).toString().toUtf8();
    r.signatureKeyId = q.value(7).toString();
    r.uploadedBy = q.value(8).toString();
    r.uploadedAt = q.value(9).toLongLong();
    return r;
}

const QString s_releaseColumns = QStringLiteral(
    "version, channel, min_box_version, sha256, size, file_path, manifest, key_id, uploaded_by, uploaded_at");
const QString s_rolloutColumns = QStringLiteral(
    "id, release_version, channel, state, group_plan, success_threshold, error_threshold, min_results, error_scope, "
    "result_timeout_ms, max_offers, seed, force, current_group, reason, created_by, created_at, updated_at, started_at, "
    "finished_at");

RolloutRecord rolloutFromQuery(const QSqlQuery &q)
{
    RolloutRecord r;
    r.id = quint64(q.value(0).toLongLong());
    r.releaseVersion = q.value(1).toString();
    r.channel = releaseChannelFromName(q.value(2).toString()).value_or(ReleaseChannel::Clean);
    r.state = rolloutStateFromName(q.value(3).toString()).value_or(RolloutState::Halted);
    r.groupPlanJson = q.value(4).toString().toUtf8();
    r.thresholds.successThreshold = q.value(5).toDouble();
    r.thresholds.errorThreshold = q.value(6).toDouble();
    r.thresholds.minResults = q.value(7).toInt();
    r.thresholds.errorScope = errorScopeFromName(q.value(8).toString()).value_or(ErrorScope::Rollout);
    r.thresholds.resultTimeoutMs = q.value(9).toLongLong();
    r.thresholds.maxOffers = q.value(10).toInt();
    r.seed = quint64(q.value(11).toLongLong());
    r.force = q.value(12).toInt() != 0;
    r.currentGroup = q.value(13).toInt();
    r.reason = q.value(14).toString();
    r.createdBy = q.value(15).toString();
    r.createdAt = q.value(16).toLongLong();
    r.updatedAt = q.value(17).toLongLong();
    r.startedAt = q.value(18).toLongLong();
    r.finishedAt = q.value(19).toLongLong();
    return r;
}

} // namespace

QString rolloutStateName(RolloutState state) { return nameOf(s_rolloutStates, state); }
std::optional<RolloutState> rolloutStateFromName(QStringView name) { return valueOf<RolloutState>(s_rolloutStates, name); }
QString groupStateName(GroupState state) { return nameOf(s_groupStates, state); }
std::optional<GroupState> groupStateFromName(QStringView name) { return valueOf<GroupState>(s_groupStates, name); }
QString targetStateName(TargetState state) { return nameOf(s_targetStates, state); }
std::optional<TargetState> targetStateFromName(QStringView name) { return valueOf<TargetState>(s_targetStates, name); }
QString errorScopeName(ErrorScope scope) { return nameOf(s_errorScopes, scope); }
std::optional<ErrorScope> errorScopeFromName(QStringView name) { return valueOf<ErrorScope>(s_errorScopes, name); }

bool isActive(RolloutState state)
{
    return state != RolloutState::Aborted && state != RolloutState::Completed;
}

bool isTerminal(TargetState state)
{
    return state == TargetState::Succeeded || state == TargetState::Failed || state == TargetState::Skipped;
}

QJsonObject Release::toJson() const
{
    return QJsonObject{
        {u"version"_qs, version},
        {u"channel"_qs, releaseChannelName(channel)},
        {u"minBoxVersion"_qs, minBoxVersion},
        {u"sha256"_qs, QString::fromLatin1(sha256)},
        {u"size"_qs, size},
        {u"keyId"_qs, signatureKeyId},
        {u"uploadedBy"_qs, uploadedBy},
        {u"uploadedAt"_qs, uploadedAt},
        {u"manifest"_qs, QJsonDocument::fromJson(manifestJson).object()},
    };
}

QJsonObject TargetRecord::toJson() const
{
    return QJsonObject{
        {u"boxId"_qs, boxIdText(boxId)},
        {u"group"_qs, group},
        {u"state"_qs, targetStateName(state)},
        {u"attempts"_qs, attempts},
        {u"fromVersion"_qs, fromVersion},
        {u"error"_qs, error},
        {u"offeredAt"_qs, offeredAt},
        {u"finishedAt"_qs, finishedAt},
        {u"updatedAt"_qs, updatedAt},
    };
}

QJsonObject RolloutThresholds::toJson() const
{
    return QJsonObject{
        {u"successThreshold"_qs, successThreshold},
        {u"errorThreshold"_qs, errorThreshold},
        {u"minResults"_qs, minResults},
        {u"errorScope"_qs, errorScopeName(errorScope)},
        {u"resultTimeoutSeconds"_qs, double(resultTimeoutMs) / 1000.0},
        {u"maxOffers"_qs, maxOffers},
    };
}

bool RolloutThresholds::fromJson(const QJsonObject &json, RolloutThresholds *out, QString *error)
{
    RolloutThresholds t = *out;
    auto number = [&](const QString &key, double *value) {
        const QJsonValue v = json.value(key);
        if (v.isUndefined())
            return true;
        if (!v.isDouble()) {
            *error = QStringLiteral("thresholds: \"%1\" must be a number").arg(key);
            return false;
        }
        *value = v.toDouble();
        return true;
    };
    double minResults = t.minResults, timeout = double(t.resultTimeoutMs) / 1000.0, maxOffers = t.maxOffers;
    if (!number(u"successThreshold"_qs, &t.successThreshold) || !number(u"errorThreshold"_qs, &t.errorThreshold)
        || !number(u"minResults"_qs, &minResults) || !number(u"resultTimeoutSeconds"_qs, &timeout)
        || !number(u"maxOffers"_qs, &maxOffers))
        return false;
    t.minResults = int(minResults);
    t.resultTimeoutMs = qint64(std::llround(timeout * 1000.0));
    t.maxOffers = int(maxOffers);
    if (json.contains(u"errorScope"_qs)) {
        const auto scope = errorScopeFromName(json.value(u"errorScope"_qs).toString());
        if (!scope) {
            *error = QStringLiteral("thresholds: \"errorScope\" must be \"rollout\" or \"group\"");
            return false;
        }
        t.errorScope = *scope;
    }
    if (const QString why = t.validate(); !why.isEmpty()) {
        *error = u"thresholds: "_qs + why;
        return false;
    }
    *out = t;
    return true;
}

QString RolloutThresholds::validate() const
{
    if (!(successThreshold > 0.0 && successThreshold <= 1.0))
        return QStringLiteral("successThreshold %1 is not in (0, 1]").arg(successThreshold);
    if (!(errorThreshold >= 0.0 && errorThreshold < 1.0))
        return QStringLiteral("errorThreshold %1 is not in [0, 1)").arg(errorThreshold);
    if (minResults < 1 || minResults > 1000000)
        return QStringLiteral("minResults %1 is not in [1, 1000000]").arg(minResults);
    if (resultTimeoutMs < 1000)
        return QStringLiteral("resultTimeoutSeconds must be at least 1");
    if (maxOffers < 1 || maxOffers > 100)
        return QStringLiteral("maxOffers %1 is not in [1, 100]").arg(maxOffers);
    return {};
}

ReleaseStore::ReleaseStore(QString connectionName)
    : m_connection(std::move(connectionName))
{
    m_postgres = QSqlDatabase::database(m_connection, false).driverName() == u"QPSQL";
}

ReleaseStore::~ReleaseStore()
{
    if (m_depth > 0)
        QSqlDatabase::database(m_connection, false).rollback();
}

bool ReleaseStore::exec(const QString &sql, QString *error)
{
    return execSql(m_connection, sql, error);
}

QSqlQuery *ReleaseStore::cached(std::unique_ptr<QSqlQuery> &slot, const QString &sql, QString *error)
{
    if (!slot) {
        auto q = std::make_unique<QSqlQuery>(QSqlDatabase::database(m_connection, false));
        if (!q->prepare(sql)) {
            *error = QStringLiteral("prepare %1: %2").arg(sql.left(40), sqlErrorText(q->lastError()));
            return nullptr;
        }
        slot = std::move(q);
    }
    return slot.get();
}

bool ReleaseStore::createSchema(QString *error)
{
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    if (!db.isOpen()) {
        *error = QStringLiteral("release store: database connection %1 is not open").arg(m_connection);
        return false;
    }
    m_postgres = db.driverName() == u"QPSQL";
    const QString idColumn = m_postgres ? QStringLiteral("BIGSERIAL PRIMARY KEY") : QStringLiteral("INTEGER PRIMARY KEY AUTOINCREMENT");
    const QStringList statements = {
        QStringLiteral("CREATE TABLE IF NOT EXISTS releases (version TEXT PRIMARY KEY, channel TEXT NOT NULL, "
                       "min_box_version TEXT NOT NULL DEFAULT '', sha256 TEXT NOT NULL, size BIGINT NOT NULL, "
                       "file_path TEXT NOT NULL, manifest TEXT NOT NULL, key_id TEXT NOT NULL DEFAULT '', "
                       "uploaded_by TEXT NOT NULL DEFAULT '', uploaded_at BIGINT NOT NULL)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS rollouts (id %1, release_version TEXT NOT NULL REFERENCES releases(version), "
                       "channel TEXT NOT NULL, state TEXT NOT NULL, group_plan TEXT NOT NULL, "
                       "success_threshold DOUBLE PRECISION NOT NULL, error_threshold DOUBLE PRECISION NOT NULL, "
                       "min_results INTEGER NOT NULL, error_scope TEXT NOT NULL, result_timeout_ms BIGINT NOT NULL, "
                       "max_offers INTEGER NOT NULL, seed BIGINT NOT NULL, force INTEGER NOT NULL, "
                       "current_group INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL, "
                       "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, started_at BIGINT NOT NULL DEFAULT 0, "
                       "finished_at BIGINT NOT NULL DEFAULT 0)")
            .arg(idColumn),
        QStringLiteral("CREATE TABLE IF NOT EXISTS rollout_groups (rollout_id BIGINT NOT NULL REFERENCES rollouts(id), "
                       "idx INTEGER NOT NULL, size INTEGER NOT NULL, state TEXT NOT NULL, opened_at BIGINT NOT NULL DEFAULT 0, "
                       "closed_at BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (rollout_id, idx))"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS rollout_targets (rollout_id BIGINT NOT NULL REFERENCES rollouts(id), "
                       "box_id TEXT NOT NULL, group_index INTEGER NOT NULL, position INTEGER NOT NULL, state TEXT NOT NULL, "
                       "attempts INTEGER NOT NULL DEFAULT 0, from_version TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', "
                       "offered_at BIGINT NOT NULL DEFAULT 0, finished_at BIGINT NOT NULL DEFAULT 0, "
                       "updated_at BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (rollout_id, box_id))"),
        // A box's history across rollouts (operator API: "which releases did this box get").
        QStringLiteral("CREATE INDEX IF NOT EXISTS rollout_targets_by_box ON rollout_targets (box_id)"),
    };
    for (const QString &s : statements) {
        if (!exec(s, error))
            return false;
    }
    return true;
}

bool ReleaseStore::addRelease(const Release &r, QString *error)
{
    if (r.version.isEmpty()) {
        *error = QStringLiteral("release: empty version");
        return false;
    }
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(u"INSERT INTO releases (" + s_releaseColumns + u") VALUES (?,?,?,?,?,?,?,?,?,?)");
    for (const QVariant &v : {text(r.version), QVariant(releaseChannelName(r.channel)), text(r.minBoxVersion),
                              text(QString::fromLatin1(r.sha256)), QVariant(r.size), text(r.filePath),
                              text(QString::fromUtf8(r.manifestJson)), text(r.signatureKeyId),
                              text(r.uploadedBy), QVariant(r.uploadedAt)})
        q.addBindValue(v);
    if (!q.exec()) {
        *error = release(r.version).has_value() ? QStringLiteral("release %1 already exists").arg(r.version)
                                                : QStringLiteral("store release %1: %2").arg(r.version, sqlErrorText(q.lastError()));
        return false;
    }
    return true;
}

std::optional<Release> ReleaseStore::release(const QString &version, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(u"SELECT " + s_releaseColumns + u" FROM releases WHERE version = ?");
    q.addBindValue(version);
    if (!q.exec()) {
        if (error)
            *error = sqlErrorText(q.lastError());
        return std::nullopt;
    }
    if (!q.next())
        return std::nullopt;
    return releaseFromQuery(q);
}

QList<Release> ReleaseStore::releases(std::optional<ReleaseChannel> channel, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(u"SELECT " + s_releaseColumns + u" FROM releases" + (channel ? u" WHERE channel = ?"_qs : QString())
              + u" ORDER BY uploaded_at DESC, version DESC");
    if (channel)
        q.addBindValue(releaseChannelName(*channel));
    QList<Release> out;
    if (!q.exec()) {
        if (error)
            *error = sqlErrorText(q.lastError());
        return out;
    }
    while (q.next())
        out.append(releaseFromQuery(q));
    return out;
}

bool ReleaseStore::removeRelease(const QString &version, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT id FROM rollouts WHERE release_version = ? LIMIT 1"));
    q.addBindValue(version);
    if (!q.exec()) {
        *error = sqlErrorText(q.lastError());
        return false;
    }
    if (q.next()) {
        *error = QStringLiteral("release %1 is used by rollout %2").arg(version).arg(q.value(0).toLongLong());
        return false;
    }
    q.finish();
    q.prepare(QStringLiteral("DELETE FROM releases WHERE version = ?"));
    q.addBindValue(version);
    if (!q.exec()) {
        *error = sqlErrorText(q.lastError());
        return false;
    }
    if (q.numRowsAffected() == 0) {
        *error = QStringLiteral("no release %1").arg(version);
        return false;
    }
    return true;
}

bool ReleaseStore::begin(QString *error)
{
    if (m_depth++ > 0)
        return true;
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    if (!db.transaction()) {
        m_depth = 0;
        *error = QStringLiteral("cannot start a transaction: %1").arg(sqlErrorText(db.lastError()));
        return false;
    }
    return true;
}

bool ReleaseStore::commit(QString *error)
{
    if (m_depth == 0 || --m_depth > 0)
        return true;
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    if (!db.commit()) {
        *error = QStringLiteral("commit: %1").arg(sqlErrorText(db.lastError()));
        db.rollback();
        return false;
    }
    return true;
}

void ReleaseStore::rollback()
{
    if (m_depth == 0)
        return;
    m_depth = 0;
    QSqlDatabase::database(m_connection, false).rollback();
}

quint64 ReleaseStore::insertRollout(const RolloutRecord &r, const QList<GroupRecord> &groups,
                                    const QList<TargetRecord> &targets, QString *error)
{
    if (!begin(error))
        return 0;
    auto fail = [&](const QString &what, const QSqlQuery &q) -> quint64 {
        *error = QStringLiteral("store rollout: %1: %2").arg(what, sqlErrorText(q.lastError()));
        rollback();
        return 0;
    };
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    quint64 id = 0;
    {
        QSqlQuery q(db);
        // RETURNING works on PostgreSQL and SQLite >= 3.35 alike, unlike lastInsertId().
        q.prepare(u"INSERT INTO rollouts (" + s_rolloutColumns.mid(4)
                  + u") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id");
        const RolloutThresholds &t = r.thresholds;
        for (const QVariant &v :
             {text(r.releaseVersion), QVariant(releaseChannelName(r.channel)), QVariant(rolloutStateName(r.state)),
              text(QString::fromUtf8(r.groupPlanJson)), QVariant(t.successThreshold), QVariant(t.errorThreshold),
              QVariant(t.minResults), QVariant(errorScopeName(t.errorScope)), QVariant(t.resultTimeoutMs),
              QVariant(t.maxOffers), QVariant(toSql(r.seed)), QVariant(int(r.force)), QVariant(r.currentGroup),
              text(r.reason), text(r.createdBy), QVariant(r.createdAt), QVariant(r.updatedAt),
              QVariant(r.startedAt), QVariant(r.finishedAt)})
            q.addBindValue(v);
        if (!q.exec() || !q.next())
            return fail(u"insert rollout"_qs, q);
        id = quint64(q.value(0).toLongLong());
    }
    {
        QSqlQuery q(db);
        q.prepare(QStringLiteral("INSERT INTO rollout_groups (rollout_id, idx, size, state, opened_at, closed_at) "
                                 "VALUES (?,?,?,?,?,?)"));
        for (const GroupRecord &g : groups) {
            for (const QVariant &v : {QVariant(toSql(id)), QVariant(g.index), QVariant(g.size),
                                      QVariant(groupStateName(g.state)), QVariant(g.openedAt), QVariant(g.closedAt)})
                q.addBindValue(v);
            if (!q.exec())
                return fail(QStringLiteral("insert group %1").arg(g.index), q);
        }
    }
    const bool ok = m_postgres ? insertTargetsPostgres(id, targets, error) : insertTargetsSqlite(id, targets, error);
    if (!ok) {
        rollback();
        return 0;
    }
    if (!commit(error))
        return 0;
    return id;
}

bool ReleaseStore::insertTargetsSqlite(quint64 id, const QList<TargetRecord> &targets, QString *error)
{
    SqlBatchInsert insert(m_connection,
                          QStringLiteral("INSERT INTO rollout_targets (rollout_id, box_id, group_index, position, state, "
                                         "attempts, from_version, error, offered_at, finished_at, updated_at) VALUES "),
                          QStringLiteral("(?,?,?,?,?,?,?,?,?,?,?)"), SqliteTargetChunk);
    QString why;
    const bool ok = insert.insert(targets.size(), [&](QSqlQuery &q, qsizetype i) {
        const TargetRecord &t = targets.at(i);
        q.addBindValue(toSql(id));
        q.addBindValue(boxIdText(t.boxId));
        q.addBindValue(t.group);
        q.addBindValue(t.position);
        q.addBindValue(targetStateName(t.state));
        q.addBindValue(t.attempts);
        q.addBindValue(text(t.fromVersion));
        q.addBindValue(text(t.error));
        q.addBindValue(t.offeredAt);
        q.addBindValue(t.finishedAt);
        q.addBindValue(t.updatedAt);
    }, &why);
    if (!ok)
        *error = QStringLiteral("store rollout: insert targets: %1").arg(why);
    return ok;
}

bool ReleaseStore::insertTargetsPostgres(quint64 id, const QList<TargetRecord> &targets, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    if (!q.prepare(QStringLiteral("INSERT INTO rollout_targets (rollout_id, box_id, group_index, position, state, attempts, "
                                  "from_version, error, offered_at, finished_at, updated_at) SELECT ?::bigint, * FROM "
                                  "unnest(?::text[], ?::int[], ?::int[], ?::text[], ?::int[], ?::text[], ?::text[], "
                                  "?::bigint[], ?::bigint[], ?::bigint[])"))) {
        *error = QStringLiteral("store rollout: prepare target insert: %1").arg(sqlErrorText(q.lastError()));
        return false;
    }
    for (qsizetype start = 0; start < targets.size(); start += PostgresTargetChunk) {
        const qsizetype n = qMin<qsizetype>(PostgresTargetChunk, targets.size() - start);
        QStringList boxes, states, versions, errors;
        QList<qint64> groups, positions, attempts, offered, finished, updated;
        for (qsizetype i = start; i < start + n; ++i) {
            const TargetRecord &t = targets.at(i);
            boxes.append(boxIdText(t.boxId));
            groups.append(t.group);
            positions.append(t.position);
            states.append(targetStateName(t.state));
            attempts.append(t.attempts);
            versions.append(t.fromVersion);
            errors.append(t.error);
            offered.append(t.offeredAt);
            finished.append(t.finishedAt);
            updated.append(t.updatedAt);
        }
        int bind = 0;
        q.bindValue(bind++, toSql(id));
        for (const QString &v : {pgTextArray(boxes), pgNumberArray(groups), pgNumberArray(positions), pgTextArray(states),
                                 pgNumberArray(attempts), pgTextArray(versions), pgTextArray(errors), pgNumberArray(offered),
                                 pgNumberArray(finished), pgNumberArray(updated)})
            q.bindValue(bind++, v);
        if (!q.exec()) {
            *error = QStringLiteral("store rollout: insert targets (rows %1..%2 of %3): %4")
                         .arg(start).arg(start + n - 1).arg(targets.size()).arg(sqlErrorText(q.lastError()));
            return false;
        }
    }
    return true;
}

bool ReleaseStore::updateRollout(const RolloutRecord &r, QString *error)
{
    QSqlQuery *q = cached(m_updateRollout,
                          QStringLiteral("UPDATE rollouts SET state = ?, success_threshold = ?, error_threshold = ?, "
                                         "min_results = ?, error_scope = ?, result_timeout_ms = ?, max_offers = ?, "
                                         "current_group = ?, reason = ?, updated_at = ?, started_at = ?, finished_at = ? "
                                         "WHERE id = ?"),
                          error);
    if (!q)
        return false;
    const RolloutThresholds &t = r.thresholds;
    int i = 0;
    for (const QVariant &v : {QVariant(rolloutStateName(r.state)), QVariant(t.successThreshold),
                              QVariant(t.errorThreshold), QVariant(t.minResults), QVariant(errorScopeName(t.errorScope)),
                              QVariant(t.resultTimeoutMs), QVariant(t.maxOffers), QVariant(r.currentGroup),
                              text(r.reason), QVariant(r.updatedAt), QVariant(r.startedAt), QVariant(r.finishedAt),
                              QVariant(toSql(r.id))})
        q->bindValue(i++, v);
    if (!q->exec()) {
        *error = QStringLiteral("update rollout %1: %2").arg(r.id).arg(sqlErrorText(q->lastError()));
        return false;
    }
    q->finish();
    return true;
}

bool ReleaseStore::updateGroup(quint64 rolloutId, const GroupRecord &g, QString *error)
{
    QSqlQuery *q = cached(m_updateGroup,
                          QStringLiteral("UPDATE rollout_groups SET state = ?, opened_at = ?, closed_at = ? "
                                         "WHERE rollout_id = ? AND idx = ?"),
                          error);
    if (!q)
        return false;
    int i = 0;
    for (const QVariant &v : {QVariant(groupStateName(g.state)), QVariant(g.openedAt), QVariant(g.closedAt),
                              QVariant(toSql(rolloutId)), QVariant(g.index)})
        q->bindValue(i++, v);
    if (!q->exec()) {
        *error = QStringLiteral("update rollout %1 group %2: %3").arg(rolloutId).arg(g.index).arg(sqlErrorText(q->lastError()));
        return false;
    }
    q->finish();
    return true;
}

bool ReleaseStore::updateTargets(quint64 rolloutId, const QList<const TargetRecord *> &targets, QString *error)
{
    if (targets.isEmpty())
        return true;
    QSqlQuery *q = cached(m_updateTarget,
                          QStringLiteral("UPDATE rollout_targets SET state = ?, attempts = ?, error = ?, offered_at = ?, "
                                         "finished_at = ?, updated_at = ? WHERE rollout_id = ? AND box_id = ?"),
                          error);
    if (!q)
        return false;
    // Several rows: one transaction, so SQLite syncs once and PostgreSQL commits once.
    const bool batch = targets.size() > 1;
    if (batch && !begin(error))
        return false;
    for (const TargetRecord *t : targets) {
        q->bindValue(0, targetStateName(t->state));
        q->bindValue(1, t->attempts);
        q->bindValue(2, text(t->error));
        q->bindValue(3, t->offeredAt);
        q->bindValue(4, t->finishedAt);
        q->bindValue(5, t->updatedAt);
        q->bindValue(6, toSql(rolloutId));
        q->bindValue(7, boxIdText(t->boxId));
        if (!q->exec()) {
            *error = QStringLiteral("update rollout %1 target %2: %3").arg(rolloutId).arg(boxIdText(t->boxId), sqlErrorText(q->lastError()));
            if (batch)
                rollback();
            return false;
        }
    }
    q->finish();
    return !batch || commit(error);
}

std::optional<RolloutRecord> ReleaseStore::rollout(quint64 id, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(u"SELECT " + s_rolloutColumns + u" FROM rollouts WHERE id = ?");
    q.addBindValue(toSql(id));
    if (!q.exec()) {
        if (error)
            *error = sqlErrorText(q.lastError());
        return std::nullopt;
    }
    if (!q.next()) {
        if (error)
            *error = QStringLiteral("no rollout %1").arg(id);
        return std::nullopt;
    }
    return rolloutFromQuery(q);
}

QList<RolloutRecord> ReleaseStore::rollouts(bool activeOnly, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    QList<RolloutRecord> out;
    if (!q.exec(u"SELECT " + s_rolloutColumns + u" FROM rollouts"
                + (activeOnly ? u" WHERE state IN ('draft', 'running', 'paused', 'halted')"_qs : QString())
                + u" ORDER BY id DESC")) {
        if (error)
            *error = sqlErrorText(q.lastError());
        return out;
    }
    while (q.next())
        out.append(rolloutFromQuery(q));
    return out;
}

bool ReleaseStore::loadGroups(quint64 rolloutId, QList<GroupRecord> *out, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT idx, size, state, opened_at, closed_at FROM rollout_groups WHERE rollout_id = ? ORDER BY idx"));
    q.addBindValue(toSql(rolloutId));
    if (!q.exec()) {
        *error = sqlErrorText(q.lastError());
        return false;
    }
    out->clear();
    while (q.next()) {
        GroupRecord g;
        g.index = q.value(0).toInt();
        g.size = q.value(1).toInt();
        const auto state = groupStateFromName(q.value(2).toString());
        if (!state) {
            *error = QStringLiteral("rollout %1 group %2: unknown state \"%3\"").arg(rolloutId).arg(g.index).arg(q.value(2).toString());
            return false;
        }
        g.state = *state;
        g.openedAt = q.value(3).toLongLong();
        g.closedAt = q.value(4).toLongLong();
        out->append(g);
    }
    return true;
}

bool ReleaseStore::loadTargets(quint64 rolloutId, QList<TargetRecord> *out, QString *error)
{
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT box_id, group_index, position, state, attempts, from_version, error, offered_at, "
                             "finished_at, updated_at FROM rollout_targets WHERE rollout_id = ? "
                             "ORDER BY group_index, position"));
    q.addBindValue(toSql(rolloutId));
    if (!q.exec()) {
        *error = sqlErrorText(q.lastError());
        return false;
    }
    out->clear();
    while (q.next()) {
        TargetRecord t;
        t.boxId = parseBoxIdText(q.value(0).toString());
        if (t.boxId == 0) {
            *error = QStringLiteral("rollout %1: target box id \"%2\" is not of the form b-<number>")
                         .arg(rolloutId)
                         .arg(q.value(0).toString());
            return false;
        }
        t.group = q.value(1).toInt();
        t.position = q.value(2).toInt();
        const auto state = targetStateFromName(q.value(3).toString());
        if (!state) {
            *error = QStringLiteral("rollout %1 target %2: unknown state \"%3\"").arg(rolloutId).arg(boxIdText(t.boxId), q.value(3).toString());
            return false;
        }
        t.state = *state;
        t.attempts = q.value(4).toInt();
        t.fromVersion = q.value(5).toString();
        t.error = q.value(6).toString();
        t.offeredAt = q.value(7).toLongLong();
        t.finishedAt = q.value(8).toLongLong();
        t.updatedAt = q.value(9).toLongLong();
        out->append(std::move(t));
    }
    return true;
}

} // namespace iptv::control
