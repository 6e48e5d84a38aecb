#pragma once

// A plan's items by owner and by rule, for what a box asks on every request (diver's
// GET /api/status and GET /api/upcoming, a rule's outcome): made once per plan, so that a box's
// question costs its own items, not the plan's (~150,000 recordings and ~23,000 conflicts at an
// operator's size). A plan repaired from the last one shares the chunks of recordings and the
// rules' parts of skipped airings the repair did not change (PlannedRecordings, SkippedAirings);
// indexing it reads only those that are new.
//
// The index holds the plan's lists (shared, not copied): the items it hands out stay valid until
// it indexes another plan, whatever happens to the caller's copy of the plan.

#include "scheduler.h"

#include <QHash>
#include <QList>
#include <QSet>
#include <QString>

#include <vector>

namespace iptv::dvr {

class PlanIndex
{
public:
    /// What the last index() did.
    struct Stats
    {
        bool rebuilt = false;        ///< every recording was read
        qsizetype chunksRead = 0;    ///< chunks of recordings read (new in this plan)
        qsizetype chunksKept = 0;    ///< chunks shared with the plan indexed before, not read
        qsizetype ownersChanged = 0; ///< owners whose list of recordings was made again
        qsizetype partsRead = 0;     ///< rules' parts of skipped airings read (new in this plan)
        qsizetype partsKept = 0;     ///< parts shared with the plan indexed before, not read
    };

    /// Indexes `plan`. The chunks of recordings and the rules' parts of skipped airings it shares
    /// with the plan indexed last (a repair's) are not read again; with most chunks new, every
    /// recording is read.
    void index(const SchedulePlan &plan);
    /// Indexes `plan` reading every recording and skipped airing.
    void rebuild(const SchedulePlan &plan);

    /// The owner's planned recordings, in the plan's order (by record start, channel, rule).
    QList<const PlannedRecording *> recordingsOf(const QString &owner) const;
    qsizetype recordingCount(const QString &owner) const;
    /// The skipped airings of these rules, in the plan's order (rule by rule in priority order,
    /// each rule's by start, channel).
    QList<const SkippedAiring *> skippedOf(const QSet<qint64> &ruleIds) const;
    QList<const SkippedAiring *> skippedOf(qint64 ruleId) const;
    /// How many of the skipped airings of these rules are conflicts (reason Conflict).
    qsizetype conflictsOf(const QSet<qint64> &ruleIds) const;
    /// The plan's reports about the rule, in its order.
    QList<const RuleReport *> reportsOf(qint64 ruleId) const;

    const Stats &lastStats() const { return m_stats; }

private:
    /// An owner's recording: where it is in the plan (chunk key, index in the chunk) and itself.
    struct Entry
    {
        quint64 chunkKey = 0;
        qsizetype at = 0;
        const PlannedRecording *recording = nullptr;
        bool operator<(const Entry &o) const { return chunkKey != o.chunkKey ? chunkKey < o.chunkKey : at < o.at; }
    };
    /// Skipped airings [from, to) of part `part` are rule `ruleId`'s; `conflicts` of them are conflicts.
    struct SkipRange
    {
        qint64 ruleId = 0;
        qsizetype part = 0, from = 0, to = 0, conflicts = 0;
    };

    /// The recordings of `plan` by owner, from the chunks it shares with the plan indexed before
    /// and those it does not; false (nothing changed) when a rebuild is the better way.
    bool indexRecordings(const SchedulePlan &plan);
    void rebuildRecordings(const SchedulePlan &plan);
    /// Adds the recordings of chunk `chunk` of m_recordings to their owners' lists.
    void addChunk(qsizetype chunk, QHash<QString, std::vector<Entry>> *byOwner) const;
    /// The skipped airings and reports of `plan` by rule: a part shared with the plan indexed
    /// before keeps its ranges, a new one is read.
    void indexSkipped(const SchedulePlan &plan);
    QList<SkipRange> rangesOf(const QSet<qint64> &ruleIds) const;

    PlannedRecordings m_recordings;
    SkippedAirings m_skipped;
    QList<RuleReport> m_reports;
    /// Per chunk of m_recordings: a key increasing with the chunk's place. A chunk keeps its key
    /// while plans share it; new chunks get keys between their neighbours'.
    std::vector<quint64> m_chunkKeys;
    QHash<QString, std::vector<Entry>> m_byOwner; ///< each by (chunk key, index): the plan's order
    QHash<qint64, QList<SkipRange>> m_skippedByRule;
    /// Per part of m_skipped (by its data, which a plan sharing it shares): its size and ranges.
    QHash<const SkippedAiring *, std::pair<qsizetype, QList<SkipRange>>> m_partRanges;
    QHash<qint64, QList<qsizetype>> m_reportsByRule;
    Stats m_stats;
};

} // namespace iptv::dvr
