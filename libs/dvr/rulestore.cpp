#include "rulestore.h"

#include <core/sqldatabase.h>

#include <QAtomicInteger>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>

Q_LOGGING_CATEGORY(lcRuleStore, "iptv.dvr.rulestore")

namespace iptv::dvr {

namespace {
QAtomicInteger<quint64> s_connectionCounter;
// 2: dvr_cancelled (a version 1 database is taken up by creating it, below).
// 3: dvr_rules.request_key, so that a save retried is made once (save()).
// 4: identity keys are SipHash-2-4 with a constant key (duplicate.cpp), the same in every
//    process; dvr_history keeps the facts they are made of (subtitle, description, episode_nums;
//    facts = 1). Older rows had keys of Qt's process-seeded qHash, useless in the next process:
//    their title key is made again from the kept title, the others are 0 (facts = 0) until the
//    diver finds their airing in a guide (rememberFacts()), or for good (facts = 2) once their
//    airing started before every guide's window (settleWithoutFacts()).
// 5: dvr_history.owner, the viewer whose rule recorded the episode: duplicates with scope "all"
//    are the viewer's own episodes, also once the rule is deleted. The upgrade fills it from the
//    rules still there (a row of a rule deleted before it stays without one and counts for no one).
// 6: dvr_rules.operator_priority, the operator's tier (RecordingRule::operatorPriority; 0 for the
//    rules before it, whose spec has none).
constexpr int SchemaVersion = 6;
const QString s_schemaKey = QStringLiteral("schema.rules");
/// The first key of the rules' per-owner advisory locks ("dvrr"; lease.cpp's liveness locks use
/// another), the second the owner's hashtext(): two owners sharing a hash only wait on each other.
constexpr qint32 kRuleOwnerLockClass = 0x64767272;
} // namespace

RuleStore::RuleStore()
    : m_connection(QStringLiteral("dvr-rules-%1").arg(s_connectionCounter.fetchAndAddRelaxed(1)))
{
}

RuleStore::~RuleStore()
{
    close();
}

bool RuleStore::fail(const QString &what, const QString &why, QString *error)
{
    const QString text = QStringLiteral("rule store: %1: %2").arg(what, why);
    qCWarning(lcRuleStore).noquote() << text;
    if (error)
        *error = text;
    return false;
}

bool RuleStore::open(const QString &location, QString *error)
{
    close();
    const auto backend = openSqlDatabase(location, m_connection, error);
    if (!backend)
        return false;
    m_postgres = *backend == SqlBackend::PostgreSQL;
    // Ids are never used again once deleted, on SQLite as on PostgreSQL: a client holding a
    // deleted rule's or recording's id must get 404, not someone's newer one.
    const QString serial = m_postgres ? QStringLiteral("BIGSERIAL PRIMARY KEY") : QStringLiteral("INTEGER PRIMARY KEY AUTOINCREMENT");
    const QString blob = m_postgres ? QStringLiteral("BYTEA") : QStringLiteral("BLOB");
    const QStringList statements = {
        QStringLiteral("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value %1)").arg(blob),
        QStringLiteral("CREATE TABLE IF NOT EXISTS dvr_rules (id %1, kind TEXT NOT NULL, owner TEXT, "
                       "enabled INTEGER NOT NULL, priority INTEGER NOT NULL, created BIGINT NOT NULL, spec TEXT NOT NULL, "
                       "request_key TEXT, operator_priority INTEGER NOT NULL DEFAULT 0)")
            .arg(serial),
        QStringLiteral("CREATE INDEX IF NOT EXISTS dvr_rules_by_owner ON dvr_rules (owner, id)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS dvr_history (id %1, rule_id BIGINT NOT NULL, title TEXT, "
                       "channel_id TEXT, recorded_at BIGINT NOT NULL, kept INTEGER NOT NULL, title_key BIGINT, "
                       "ids_key BIGINT, episode_key BIGINT, subtitle_key BIGINT, description_key BIGINT, series_key BIGINT, "
                       "subtitle TEXT, description TEXT, episode_nums TEXT, facts INTEGER NOT NULL DEFAULT 0, owner TEXT)")
            .arg(serial),
        QStringLiteral("CREATE INDEX IF NOT EXISTS dvr_history_by_rule ON dvr_history (rule_id)"),
        QStringLiteral("CREATE TABLE IF NOT EXISTS dvr_cancelled (rule_id BIGINT NOT NULL, channel_id TEXT NOT NULL, "
                       "start BIGINT NOT NULL, stop BIGINT NOT NULL, PRIMARY KEY (rule_id, channel_id, start))"),
    };
    if (QString why; !execSchema(m_connection, statements, &why)) {
        close();
        return fail(QStringLiteral("create schema"), why, error);
    }
    QSqlQuery q(QSqlDatabase::database(m_connection, false));
    q.prepare(QStringLiteral("SELECT value FROM meta WHERE key = ?"));
    q.addBindValue(s_schemaKey);
    if (!q.exec()) {
        const QString why = sqlErrorText(q.lastError());
        close();
        return fail(QStringLiteral("read schema version"), why, error);
    }
    if (q.next()) {
        const int version = q.value(0).toByteArray().toInt();
        if (version >= 1 && version < SchemaVersion) {
            // Version 2 only added dvr_cancelled, made by the statements above; versions 3 to 6
            // add columns (another node may have added them a moment ago: look first).
            QString why;
            auto addColumn = [&](const QString &table, const QString &column, const QString &type) {
                QSqlQuery probe(QSqlDatabase::database(m_connection, false));
                return probe.exec(QStringLiteral("SELECT %1 FROM %2 WHERE 1 = 0").arg(column, table))
                    || execSql(m_connection, QStringLiteral("ALTER TABLE %1 ADD COLUMN %2 %3").arg(table, column, type), &why);
            };
            const bool columns = addColumn(u"dvr_rules"_qs, u"request_key"_qs, u"TEXT"_qs)
                && addColumn(u"dvr_history"_qs, u"subtitle"_qs, u"TEXT"_qs)
                && addColumn(u"dvr_history"_qs, u"description"_qs, u"TEXT"_qs)
                && addColumn(u"dvr_history"_qs, u"episode_nums"_qs, u"TEXT"_qs)
                && addColumn(u"dvr_history"_qs, u"facts"_qs, u"INTEGER NOT NULL DEFAULT 0"_qs)
                && addColumn(u"dvr_history"_qs, u"owner"_qs, u"TEXT"_qs)
                && addColumn(u"dvr_rules"_qs, u"operator_priority"_qs, u"INTEGER NOT NULL DEFAULT 0"_qs)
                && execSql(m_connection,
                           QStringLiteral("UPDATE dvr_history SET owner = (SELECT owner FROM dvr_rules WHERE dvr_rules.id = "
                                          "dvr_history.rule_id) WHERE owner IS NULL"),
                           &why);
            if (!columns || !rekeyHistoryWithoutFacts(&why)) {
                close();
                return fail(QStringLiteral("upgrade the rule tables from version %1").arg(version), why, error);
            }
            QSqlQuery up(QSqlDatabase::database(m_connection, false));
            up.prepare(QStringLiteral("UPDATE meta SET value = ? WHERE key = ?"));
            up.addBindValue(QByteArray::number(SchemaVersion));
            up.addBindValue(s_schemaKey);
            if (!up.exec()) {
                why = sqlErrorText(up.lastError());
                close();
                return fail(QStringLiteral("upgrade the rule tables from version %1").arg(version), why, error);
            }
            qCInfo(lcRuleStore).noquote() << "rule tables upgraded from version" << version << "to" << SchemaVersion;
        } else if (version != SchemaVersion) {
            close();
            return fail(QStringLiteral("open %1").arg(location),
                        QStringLiteral("its rule tables are version %1, this program reads version %2")
                            .arg(version)
                            .arg(SchemaVersion),
                        error);
        }
    } else {
        QSqlQuery ins(QSqlDatabase::database(m_connection, false));
        // Another node opening the same database may write it at the same moment.
        ins.prepare(QStringLiteral("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"));
        ins.addBindValue(s_schemaKey);
        ins.addBindValue(QByteArray::number(SchemaVersion));
        if (!ins.exec()) {
            const QString why = sqlErrorText(ins.lastError());
            close();
            return fail(QStringLiteral("write schema version"), why, error);
        }
    }
    // After the upgrade above: an older table has no request_key before it.
    if (QString why; !execSql(m_connection,
                              QStringLiteral("CREATE UNIQUE INDEX IF NOT EXISTS dvr_rules_by_request ON dvr_rules (request_key)"),
                              &why)) {
        close();
        return fail(QStringLiteral("create schema"), why, error);
    }
    return true;
}

void RuleStore::close()
{
    closeSqlDatabase(m_connection);
}

namespace {
std::optional<RecordingRule> readRule(const QSqlQuery &q, QString *why)
{
    const qint64 id = q.value(0).toLongLong();
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(q.value(1).toString().toUtf8(), &parseError);
    if (!doc.isObject()) {
        *why = QStringLiteral("rule %1: stored spec is not a JSON object (%2)").arg(id).arg(parseError.errorString());
        return std::nullopt;
    }
    auto r = RecordingRule::fromJson(doc.object(), why);
    if (r)
        r->id = id;
    else
        *why = QStringLiteral("rule %1: %2").arg(id).arg(*why);
    return r;
}
} // namespace

bool RuleStore::save(RecordingRule *rule, QString *error, const QString &requestKey, bool *repeated)
{
    const auto saved = save(rule, RuleLimits{}, error, requestKey);
    if (repeated)
        *repeated = saved && saved->outcome == SaveOutcome::Repeated;
    return saved.has_value();
}

std::optional<RuleStore::SaveResult> RuleStore::save(RecordingRule *rule, const RuleLimits &limits, QString *error,
                                                     const QString &requestKey)
{
    // A new rule is inserted under a key made once per call, outside the retry: when a network
    // cut hides whether the COMMIT was made, the statement retried finds its own row instead of
    // inserting the rule twice. A client's key (a request it sends again) works the same way.
    const QString key = requestKey.isEmpty() ? QUuid::createUuid().toString(QUuid::WithoutBraces) : requestKey;
    const QString what = QStringLiteral("save rule %1").arg(rule->id);
    return withReconnect(m_connection, error, [&]() -> std::optional<SaveResult> {
        QString why;
        if (!rule->validate(&why)) {
            fail(QStringLiteral("save"), why, error);
            return std::nullopt;
        }
        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
        // The owner's rules are counted and the rule written in one transaction that holds the
        // owner's lock from the start: counted first and written after, two nodes (or two
        // connections) at the limit would each let one more through. SQLite takes its write
        // lock at BEGIN IMMEDIATE (a plain BEGIN reads under a shared lock that two connections
        // hold at once); PostgreSQL, a lock on the owner that the transaction's end releases.
        const bool begun = m_postgres ? db.transaction() : execSql(m_connection, QStringLiteral("BEGIN IMMEDIATE"), &why);
        if (!begun) {
            fail(what, m_postgres ? sqlErrorText(db.lastError()) : why, error);
            return std::nullopt;
        }
        QSqlQuery q(db);
        const auto rollBack = [&](const QString &failure) -> std::optional<SaveResult> {
            fail(what, failure, error);
            q.finish();
            db.rollback();
            return std::nullopt;
        };
        const auto commit = [&](SaveResult result) -> std::optional<SaveResult> {
            q.finish();
            if (result.outcome == SaveOutcome::Saved ? !db.commit() : !db.rollback())
                return rollBack(sqlErrorText(db.lastError()));
            return result;
        };
        if (m_postgres) {
            q.prepare(QStringLiteral("SELECT pg_advisory_xact_lock(?, hashtext(?))"));
            q.addBindValue(kRuleOwnerLockClass);
            q.addBindValue(rule->owner);
            if (!q.exec())
                return rollBack(QStringLiteral("lock the rules of \"%1\": %2").arg(rule->owner, sqlErrorText(q.lastError())));
        }
        if (rule->id == 0 && !requestKey.isEmpty()) {
            q.prepare(QStringLiteral("SELECT id, spec FROM dvr_rules WHERE request_key = ?"));
            q.addBindValue(key);
            if (!q.exec())
                return rollBack(QStringLiteral("look up request %1: %2").arg(key.left(64), sqlErrorText(q.lastError())));
            if (q.next()) {
                auto stored = readRule(q, &why);
                if (!stored)
                    return rollBack(why);
                *rule = *stored;
                return commit({SaveOutcome::Repeated, 0});
            }
        }
        // What the write adds: a rule, and a regex rule where there was none.
        bool wasRegex = false;
        if (rule->id != 0 && rule->kind == RuleKind::Regex && limits.regexRules >= 0) {
            q.prepare(QStringLiteral("SELECT kind FROM dvr_rules WHERE id = ?"));
            q.addBindValue(rule->id);
            if (!q.exec())
                return rollBack(sqlErrorText(q.lastError()));
            if (!q.next())
                return rollBack(QStringLiteral("no such rule (deleted)"));
            wasRegex = q.value(0).toString() == ruleKindName(RuleKind::Regex);
        }
        const bool addsRule = rule->id == 0 && limits.rules >= 0;
        const bool addsRegex = rule->kind == RuleKind::Regex && !wasRegex && limits.regexRules >= 0;
        if (addsRule || addsRegex) {
            q.prepare(QStringLiteral("SELECT COUNT(*), COALESCE(SUM(CASE WHEN kind = ? THEN 1 ELSE 0 END), 0) FROM dvr_rules "
                                     "WHERE owner = ?"));
            q.addBindValue(ruleKindName(RuleKind::Regex));
            q.addBindValue(rule->owner);
            if (!q.exec() || !q.next())
                return rollBack(QStringLiteral("count the rules of \"%1\": %2").arg(rule->owner, sqlErrorText(q.lastError())));
            const int all = q.value(0).toInt(), regex = q.value(1).toInt();
            if (addsRule && all >= limits.rules)
                return commit({SaveOutcome::OverRuleLimit, all});
            if (addsRegex && regex >= limits.regexRules)
                return commit({SaveOutcome::OverRegexLimit, regex});
        }
        const QByteArray spec = QJsonDocument(rule->toJson()).toJson(QJsonDocument::Compact);
        if (rule->id == 0) {
            q.prepare(QStringLiteral("INSERT INTO dvr_rules (kind, owner, enabled, priority, created, spec, operator_priority, "
                                     "request_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_key) DO UPDATE SET "
                                     "request_key = excluded.request_key RETURNING id"));
        } else {
            // Only a rule that is still there: one deleted meanwhile (by another node, between
            // the caller reading it and this) is not made again.
            q.prepare(QStringLiteral("UPDATE dvr_rules SET kind = ?, owner = ?, enabled = ?, priority = ?, created = ?, spec = ?, "
                                     "operator_priority = ? WHERE id = ? RETURNING id"));
        }
        q.addBindValue(ruleKindName(rule->kind));
        q.addBindValue(rule->owner);
        q.addBindValue(rule->enabled ? 1 : 0);
        q.addBindValue(rule->priority);
        q.addBindValue(rule->created);
        q.addBindValue(QString::fromUtf8(spec));
        q.addBindValue(rule->operatorPriority);
        q.addBindValue(rule->id ? QVariant(rule->id) : QVariant(key));
        if (!q.exec())
            return rollBack(sqlErrorText(q.lastError()));
        if (!q.next())
            return rollBack(QStringLiteral("no such rule (deleted)"));
        const qint64 id = q.value(0).toLongLong();
        const auto done = commit({SaveOutcome::Saved, 0});
        if (done)
            rule->id = id;
        return done;
    });
}

bool RuleStore::remove(qint64 id, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        // The rule and its skipped airings go together, or neither.
        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
        if (!db.transaction())
            return fail(QStringLiteral("remove rule %1").arg(id), sqlErrorText(db.lastError()), error);
        const auto rollBack = [&](const QString &what, const QSqlError &why) {
            fail(what, sqlErrorText(why), error);
            db.rollback();
            return false;
        };
        QSqlQuery skips(db);
        skips.prepare(QStringLiteral("DELETE FROM dvr_cancelled WHERE rule_id = ?"));
        skips.addBindValue(id);
        if (!skips.exec())
            return rollBack(QStringLiteral("remove the skipped airings of rule %1").arg(id), skips.lastError());
        QSqlQuery q(db);
        q.prepare(QStringLiteral("DELETE FROM dvr_rules WHERE id = ?"));
        q.addBindValue(id);
        if (!q.exec())
            return rollBack(QStringLiteral("remove rule %1").arg(id), q.lastError());
        skips.finish();
        q.finish();
        if (!db.commit())
            return rollBack(QStringLiteral("remove rule %1").arg(id), db.lastError());
        return true;
    });
}


std::optional<RecordingRule> RuleStore::rule(qint64 id, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<RecordingRule> {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.prepare(QStringLiteral("SELECT id, spec FROM dvr_rules WHERE id = ?"));
        q.addBindValue(id);
        if (!q.exec()) {
            fail(QStringLiteral("read rule %1").arg(id), sqlErrorText(q.lastError()), error);
            return std::nullopt;
        }
        if (!q.next()) {
            fail(QStringLiteral("read rule %1").arg(id), QStringLiteral("no such rule"), error);
            return std::nullopt;
        }
        QString why;
        auto r = readRule(q, &why);
        if (!r)
            fail(QStringLiteral("read"), why, error);
        return r;
    });
}

std::optional<QList<RecordingRule>> RuleStore::rules(QString *error, const QString &owner, qint64 afterId, int limit)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<RecordingRule>> {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.setForwardOnly(true);
        QString sql = QStringLiteral("SELECT id, spec FROM dvr_rules WHERE id > ?");
        if (!owner.isEmpty())
            sql += QStringLiteral(" AND owner = ?");
        sql += QStringLiteral(" ORDER BY id");
        if (limit >= 0)
            sql += QStringLiteral(" LIMIT ?");
        q.prepare(sql);
        q.addBindValue(afterId);
        if (!owner.isEmpty())
            q.addBindValue(owner);
        if (limit >= 0)
            q.addBindValue(limit);
        if (!q.exec()) {
            fail(QStringLiteral("list rules"), sqlErrorText(q.lastError()), error);
            return std::nullopt;
        }
        QList<RecordingRule> out;
        while (q.next()) {
            QString why;
            auto r = readRule(q, &why);
            if (!r) {
                fail(QStringLiteral("list rules"), why, error);
                return std::nullopt;
            }
            out.append(*r);
        }
        return out;
    });
}

std::optional<RuleStore::RuleCounts> RuleStore::ruleCounts(const QString &owner, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<RuleCounts> {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.prepare(QStringLiteral("SELECT COUNT(*), COALESCE(SUM(CASE WHEN kind = ? THEN 1 ELSE 0 END), 0) FROM dvr_rules WHERE owner = ?"));
        q.addBindValue(ruleKindName(RuleKind::Regex));
        q.addBindValue(owner);
        if (!q.exec() || !q.next()) {
            fail(QStringLiteral("count rules"), sqlErrorText(q.lastError()), error);
            return std::nullopt;
        }
        return RuleCounts{q.value(0).toInt(), q.value(1).toInt()};
    });
}

std::optional<bool> RuleStore::hasRequest(const QString &requestKey, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<bool> {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.prepare(QStringLiteral("SELECT id FROM dvr_rules WHERE request_key = ?"));
        q.addBindValue(requestKey);
        if (!q.exec()) {
            fail(QStringLiteral("look up request %1").arg(requestKey.left(64)), sqlErrorText(q.lastError()), error);
            return std::nullopt;
        }
        return q.next();
    });
}

namespace {

QString episodeNumsText(const QList<epg::EpisodeNum> &nums)
{
    QJsonArray a;
    for (const epg::EpisodeNum &n : nums)
        a.append(QJsonArray{n.system, n.value});
    return QString::fromUtf8(QJsonDocument(a).toJson(QJsonDocument::Compact));
}

QList<epg::EpisodeNum> episodeNumsOf(const QString &text)
{
    QList<epg::EpisodeNum> out;
    const QJsonArray a = QJsonDocument::fromJson(text.toUtf8()).array();
    for (const QJsonValue &v : a) {
        epg::EpisodeNum n;
        n.system = v[0].toString();
        n.value = v[1].toString();
        out.append(n);
    }
    return out;
}

void bindKeys(QSqlQuery &q, const EpisodeIdentity &i)
{
    for (const quint64 k : {i.title, i.ids, i.episode, i.subTitle, i.description, i.series})
        q.addBindValue(qint64(k)); // BIGINT is signed: the bits round-trip
}

} // namespace

bool RuleStore::rekeyHistoryWithoutFacts(QString *why)
{
    // Rows kept before version 4: the title is all that is known of them.
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("SELECT id, title FROM dvr_history WHERE facts = 0"))) {
        *why = sqlErrorText(q.lastError());
        return false;
    }
    QList<std::pair<qint64, QString>> rows;
    while (q.next())
        rows.append({q.value(0).toLongLong(), q.value(1).toString()});
    for (const auto &[id, title] : std::as_const(rows)) {
        QSqlQuery up(db);
        up.prepare(QStringLiteral("UPDATE dvr_history SET title_key = ?, ids_key = ?, episode_key = ?, subtitle_key = ?, "
                                  "description_key = ?, series_key = ? WHERE id = ? AND facts = 0"));
        EpisodeIdentity identity;
        identity.title = episodeIdentity(title, {}, {}, {}).title;
        bindKeys(up, identity);
        up.addBindValue(id);
        if (!up.exec()) {
            *why = sqlErrorText(up.lastError());
            return false;
        }
    }
    if (!rows.isEmpty())
        qCInfo(lcRuleStore).noquote() << rows.size()
                                      << "history rows kept keys of an unstable hash: their title keys are made again, "
                                         "the rest when their airings are found in a guide";
    return true;
}

bool RuleStore::addHistory(const RecordedEpisode &e, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        // Once per rule and airing: a copy recorded again after it finished (reopened for a
        // later viewer) finishes again with the same viewers.
        QSqlQuery seen(QSqlDatabase::database(m_connection, false));
        seen.prepare(QStringLiteral("SELECT 1 FROM dvr_history WHERE rule_id = ? AND channel_id = ? AND recorded_at = ?"));
        seen.addBindValue(e.ruleId);
        seen.addBindValue(e.channelId);
        seen.addBindValue(e.recordedAt);
        if (!seen.exec())
            return fail(QStringLiteral("read the history of rule %1").arg(e.ruleId), sqlErrorText(seen.lastError()), error);
        if (seen.next())
            return true;
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.prepare(QStringLiteral("INSERT INTO dvr_history (rule_id, title, channel_id, recorded_at, kept, title_key, ids_key, "
                                 "episode_key, subtitle_key, description_key, series_key, subtitle, description, episode_nums, "
                                 "facts, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        q.addBindValue(e.ruleId);
        q.addBindValue(e.title);
        q.addBindValue(e.channelId);
        q.addBindValue(e.recordedAt);
        q.addBindValue(e.kept ? 1 : 0);
        bindKeys(q, e.identity);
        q.addBindValue(e.subTitle);
        q.addBindValue(e.description);
        q.addBindValue(episodeNumsText(e.episodeNums));
        q.addBindValue(e.factsKnown ? 1 : 0);
        q.addBindValue(e.owner);
        if (!q.exec())
            return fail(QStringLiteral("add history"), sqlErrorText(q.lastError()), error);
        return true;
    });
}

bool RuleStore::rememberFacts(const RecordedEpisode &e, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.prepare(QStringLiteral("UPDATE dvr_history SET title_key = ?, ids_key = ?, episode_key = ?, subtitle_key = ?, "
                                 "description_key = ?, series_key = ?, subtitle = ?, description = ?, episode_nums = ?, "
                                 "facts = 1 WHERE id = ? AND facts = 0"));
        bindKeys(q, e.identity);
        q.addBindValue(e.subTitle);
        q.addBindValue(e.description);
        q.addBindValue(episodeNumsText(e.episodeNums));
        q.addBindValue(e.historyId);
        if (!q.exec())
            return fail(QStringLiteral("remember the facts of history row %1").arg(e.historyId), sqlErrorText(q.lastError()),
                        error);
        return true;
    });
}

std::optional<QList<RecordedEpisode>> RuleStore::history(QString *error, bool withoutFacts)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<RecordedEpisode>> {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.setForwardOnly(true);
        if (!q.exec(QStringLiteral("SELECT rule_id, title, channel_id, recorded_at, kept, title_key, ids_key, episode_key, "
                                   "subtitle_key, description_key, series_key, id, subtitle, description, episode_nums, facts, "
                                   "owner FROM dvr_history%1 ORDER BY id")
                        .arg(withoutFacts ? QLatin1String(" WHERE facts = 0") : QLatin1String()))) {
            fail(QStringLiteral("read history"), sqlErrorText(q.lastError()), error);
            return std::nullopt;
        }
        QList<RecordedEpisode> out;
        while (q.next()) {
            RecordedEpisode e;
            e.ruleId = q.value(0).toLongLong();
            e.title = q.value(1).toString();
            e.channelId = q.value(2).toString();
            e.recordedAt = q.value(3).toLongLong();
            e.kept = q.value(4).toInt() != 0;
            e.identity.title = quint64(q.value(5).toLongLong());
            e.identity.ids = quint64(q.value(6).toLongLong());
            e.identity.episode = quint64(q.value(7).toLongLong());
            e.identity.subTitle = quint64(q.value(8).toLongLong());
            e.identity.description = quint64(q.value(9).toLongLong());
            e.identity.series = quint64(q.value(10).toLongLong());
            e.historyId = q.value(11).toLongLong();
            e.subTitle = q.value(12).toString();
            e.description = q.value(13).toString();
            e.episodeNums = episodeNumsOf(q.value(14).toString());
            e.factsKnown = q.value(15).toInt() == 1;
            e.owner = q.value(16).toString();
            out.append(e);
        }
        return out;
    });
}

int RuleStore::settleWithoutFacts(qint64 startedBefore, QString *error)
{
    int settled = -1;
    withReconnect(m_connection, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.prepare(QStringLiteral("UPDATE dvr_history SET facts = 2 WHERE facts = 0 AND recorded_at < ?"));
        q.addBindValue(startedBefore);
        if (!q.exec())
            return fail(QStringLiteral("settle the history rows without facts"), sqlErrorText(q.lastError()), error);
        settled = q.numRowsAffected();
        return true;
    });
    return settled;
}

bool RuleStore::addCancelled(const AiringRef &a, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.prepare(QStringLiteral("INSERT INTO dvr_cancelled (rule_id, channel_id, start, stop) VALUES (?, ?, ?, ?) "
                                 "ON CONFLICT (rule_id, channel_id, start) DO NOTHING"));
        q.addBindValue(a.ruleId);
        q.addBindValue(a.channelId);
        q.addBindValue(a.start);
        q.addBindValue(a.stop);
        if (!q.exec())
            return fail(QStringLiteral("skip the airing of rule %1 on %2 at %3").arg(a.ruleId).arg(a.channelId).arg(a.start),
                        sqlErrorText(q.lastError()), error);
        return true;
    });
}

bool RuleStore::removeCancelled(qint64 ruleId, const QString &channelId, qint64 start, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> bool {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.prepare(QStringLiteral("DELETE FROM dvr_cancelled WHERE rule_id = ? AND channel_id = ? AND start = ?"));
        q.addBindValue(ruleId);
        q.addBindValue(channelId);
        q.addBindValue(start);
        if (!q.exec())
            return fail(QStringLiteral("take back the skip of rule %1 on %2 at %3").arg(ruleId).arg(channelId).arg(start),
                        sqlErrorText(q.lastError()), error);
        return true;
    });
}

std::optional<bool> RuleStore::isCancelled(qint64 ruleId, const QString &channelId, qint64 start, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<bool> {
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.setForwardOnly(true);
        q.prepare(QStringLiteral("SELECT 1 FROM dvr_cancelled WHERE rule_id = ? AND channel_id = ? AND start = ?"));
        q.addBindValue(ruleId);
        q.addBindValue(channelId);
        q.addBindValue(start);
        if (!q.exec()) {
            fail(QStringLiteral("read whether rule %1 skips the airing on %2 at %3").arg(ruleId).arg(channelId).arg(start),
                 sqlErrorText(q.lastError()), error);
            return std::nullopt;
        }
        return q.next();
    });
}

std::optional<QList<AiringRef>> RuleStore::cancelled(qint64 endsAfter, QString *error)
{
    return withReconnect(m_connection, error, [&]() -> std::optional<QList<AiringRef>> {
        QSqlQuery prune(QSqlDatabase::database(m_connection, false));
        prune.prepare(QStringLiteral("DELETE FROM dvr_cancelled WHERE stop <= ?"));
        prune.addBindValue(endsAfter);
        if (!prune.exec()) {
            fail(QStringLiteral("delete the skipped airings that have aired"), sqlErrorText(prune.lastError()), error);
            return std::nullopt;
        }
        QSqlQuery q(QSqlDatabase::database(m_connection, false));
        q.setForwardOnly(true);
        if (!q.exec(QStringLiteral("SELECT rule_id, channel_id, start, stop FROM dvr_cancelled ORDER BY rule_id, start, channel_id"))) {
            fail(QStringLiteral("read the skipped airings"), sqlErrorText(q.lastError()), error);
            return std::nullopt;
        }
        QList<AiringRef> out;
        while (q.next())
            out.append({q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toLongLong(), q.value(3).toLongLong(), {}});
        return out;
    });
}

} // namespace iptv::dvr
