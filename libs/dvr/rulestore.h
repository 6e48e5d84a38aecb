#pragma once

// Where Diver keeps recording rules and the recorded-episode history that duplicate detection
// reads (QtSql): SQLite by default, PostgreSQL for a postgresql:// URI, the same SQL for both.
//
// Tables (created at open; their version is the meta row 'schema.rules', so the store can share
// a database with the recorder's tables):
//   dvr_rules    id, kind, owner, enabled, priority, created, operator_priority (since version 6),
//                and the whole rule as JSON (spec):
//                the columns are for listing and filtering; spec is what is read back
//   dvr_history  one row per recorded episode: rule, its viewer (owner, since version 5), title,
//                channel, airing start, kept, and the episode identity's keys (64-bit, stored as BIGINT)
//   dvr_cancelled  the airings a viewer skipped (rule, channel, start, stop; since version 2):
//                the scheduler plans them for no one (Scheduler::setCancelled)
//
// A RuleStore is one database connection, used from the thread that opened it.

#include "duplicate.h"
#include "rule.h"
#include "scheduler.h"

#include <QList>
#include <QString>

#include <optional>

namespace iptv::dvr {

class RuleStore
{
public:
    RuleStore();
    ~RuleStore();

    /// Opens (and creates the tables of) an SQLite file or a postgresql:// URI.
    bool open(const QString &location, QString *error);
    void close();

    /// The most rules an owner may have, and the most regex rules of them (-1: no limit).
    struct RuleLimits
    {
        int rules = -1;
        int regexRules = -1;
    };
    /// What save() did.
    enum class SaveOutcome {
        Saved,
        Repeated,        ///< a new rule whose requestKey was saved already: *rule is the stored one
        OverRuleLimit,   ///< a new rule past RuleLimits::rules: nothing written
        OverRegexLimit,  ///< a rule made a regex rule past RuleLimits::regexRules: nothing written
    };
    struct SaveResult
    {
        SaveOutcome outcome = SaveOutcome::Saved;
        /// The owner's rules (OverRuleLimit) or regex rules (OverRegexLimit) counted.
        int counted = 0;
    };
    /// Inserts a rule with id 0 (its new id is written back into *rule) or replaces the rule with
    /// that id (false, "no such rule", when it is gone: a deleted rule is never made again). The rule is validated first (without a guide); false with *error otherwise.
    /// A new rule saved with a `requestKey` already saved is not inserted again: *rule becomes the
    /// stored one and *repeated is set (a client sending a request again, HTTP's Idempotency-Key).
    bool save(RecordingRule *rule, QString *error, const QString &requestKey = {}, bool *repeated = nullptr);
    /// save(), refused (true, with the outcome and the count) when a new rule, or a rule made a
    /// regex rule, takes its owner past `limits`. The count and the write are one transaction
    /// under a lock on the owner (PostgreSQL: a transaction-scoped advisory lock on the owner;
    /// SQLite: the database's write lock from the start), so two nodes or connections saving
    /// at the limit at once let one rule through, not two.
    std::optional<SaveResult> save(RecordingRule *rule, const RuleLimits &limits, QString *error, const QString &requestKey = {});
    bool remove(qint64 id, QString *error);
    std::optional<RecordingRule> rule(qint64 id, QString *error);
    /// Every rule, by id; or one owner's when `owner` is given. With a `limit` (>= 0), at most
    /// that many, of ids above `afterId` only: a page of the list.
    std::optional<QList<RecordingRule>> rules(QString *error, const QString &owner = {}, qint64 afterId = 0, int limit = -1);
    struct RuleCounts
    {
        int all = 0;
        int regex = 0;
    };
    /// How many rules `owner` has, and how many of them are regex rules (counted, not read).
    std::optional<RuleCounts> ruleCounts(const QString &owner, QString *error);
    /// Whether a rule was saved under `requestKey` (save()'s); nullopt with *error when the
    /// database fails.
    std::optional<bool> hasRequest(const QString &requestKey, QString *error);

    /// Stores an episode recorded: its identity's keys and the facts they are made of. Once per
    /// rule, channel and airing start: stored again, nothing changes.
    bool addHistory(const RecordedEpisode &episode, QString *error);
    /// The history in the order kept; with `withoutFacts`, only rows kept before schema 4 whose
    /// facts are not known yet (rememberFacts() fills them in).
    std::optional<QList<RecordedEpisode>> history(QString *error, bool withoutFacts = false);
    /// Gives a history row kept without facts (factsKnown false, from before schema 4) the facts
    /// and identity of its airing, found in a guide (by historyId). True with nothing written when
    /// the row has its facts already (another node was first).
    bool rememberFacts(const RecordedEpisode &episode, QString *error);
    /// Rows still without facts whose airing started before `startedBefore` (UTC seconds; the
    /// first airing of the guide in use: a guide's window only moves on) will never be found in
    /// a guide: they keep their title key alone for good and are no longer read by
    /// history(error, true). The rows settled, or -1 with *error.
    int settleWithoutFacts(qint64 startedBefore, QString *error);

    /// Skips the airing (`ruleId`, `channelId`, `start`, `stop`) of a rule; skipping it again changes nothing.
    bool addCancelled(const AiringRef &airing, QString *error);
    /// Takes the skip back; false with *error only when the database fails (none there is no error).
    bool removeCancelled(qint64 ruleId, const QString &channelId, qint64 start, QString *error);
    /// Whether the airing of a rule is skipped, read now (another node may have skipped it
    /// since this one read them all); nullopt with *error when the database fails.
    std::optional<bool> isCancelled(qint64 ruleId, const QString &channelId, qint64 start, QString *error);
    /// Every skipped airing that ends after `endsAfter` (UTC seconds), by rule and start; the
    /// older ones are deleted (they are of no use once aired).
    std::optional<QList<AiringRef>> cancelled(qint64 endsAfter, QString *error);

private:
    bool fail(const QString &what, const QString &why, QString *error);
    bool rekeyHistoryWithoutFacts(QString *why);
    QString m_connection;
    bool m_postgres = false;
};

} // namespace iptv::dvr
