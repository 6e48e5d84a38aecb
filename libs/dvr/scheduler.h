#pragma once

// The DVR scheduler: recording rules (rule.h) + the guide held in memory (epg::Guide) + what is
// already recorded (duplicate.h) + recorder capacity (conflict.h) -> a plan of airings to record,
// and a reason for every airing a rule matched that is not in the plan. See docs/dvr-scheduler.md.
//
// Evaluation has two stages:
//  1. Matching: each rule's candidates, the airings it matches (title, series id, regex or the one
//     airing; a rule's channel narrows the match), each with its episode identity and, when the
//     rule's time window or new-only setting excludes it, that reason. Costly (the whole guide);
//     kept between evaluations and updated incrementally: after a guide change only the airings
//     that changed are matched again, against the rules that could match them.
//  2. Planning: duplicates, keep-N and capacity over all candidates, in the priority order below.
//     A full evaluation plans from nothing (greedy, deterministic). After a guide change, a
//     history change or time moving on, the last plan is repaired instead: what the change did
//     not touch stays where it is, what it touched is planned again in priority order (displacing
//     only later recordings), freed capacity goes to the conflicts, and every outcome stays true
//     (docs/dvr-scheduler.md, "Guide changes"). A repair does not equal a full evaluation: it
//     avoids the ripple a greedy pass has in a full book.
//
// Priority order (deterministic; a conflict is won by the first in this order):
//  1. the round: each viewer's (owner's) rules in its own order (higher priority, then 2. and 3.)
//     are its first, second, ... rule, and every viewer's first comes before anyone's second (a
//     box's priority orders only its own rules; priorityOrder() in rule.h);
//  2. a single-airing rule before a series rule;
//  3. the older rule (earlier `created`), then the lower rule id;
//  4. within a rule, the episode whose first eligible airing starts earlier, then the lower
//     channel id (string order).
// Each episode (the airings of one rule that are the same episode, duplicate.h) takes the
// earliest of its airings that fits; when none fits, it is dropped with the reason "no capacity"
// only after trying to make room by moving one recording that blocks it to another airing of
// that recording's episode (an earlier or later one that fits): an episode is moved before it is
// dropped. Nodes are chosen to share a channel stream already running, then by the most free
// streams (never stacking recordings on one node while another is free: MythTV #964).
//
// Recordings being made (setCommitted) come before all of this: placed first where they record,
// whatever the capacity there, as their episodes' placements, and never moved by a plan or a repair.

#include "conflict.h"
#include "duplicate.h"
#include "rule.h"

#include <QList>
#include <QString>

#include <algorithm>
#include <iterator>
#include <functional>
#include <memory>
#include <vector>

namespace iptv::epg {
class Guide;
}

namespace iptv::dvr {

/// An airing as reports name it: stable across guide versions (channel id and start).
struct AiringRef
{
    qint64 ruleId = 0;
    QString channelId;
    qint64 start = 0;
    qint64 stop = 0;
    QString title;
    friend bool operator==(const AiringRef &, const AiringRef &) = default;
};

struct PlannedRecording
{
    qint64 ruleId = 0;
    QString owner;
    QString channelId;
    qint64 start = 0, stop = 0;              ///< the airing
    qint64 recordStart = 0, recordStop = 0;  ///< with padding (never before `now`)
    QString title;
    QString nodeId;                          ///< the recorder node; empty for an archived channel
    EpisodeIdentity identity;
    AiringRef ref() const { return {ruleId, channelId, start, stop, title}; }
    friend bool operator==(const PlannedRecording &, const PlannedRecording &) = default;
};

/// A recording already being made (its copy records now): a full plan keeps it where it records,
/// whatever the plan would choose (Scheduler::setCommitted, docs/dvr-scheduler.md, "Recordings in
/// progress").
struct CommittedRecording
{
    AiringRef airing; ///< ruleId, channelId and start are read; the rest is not
    QString nodeId;   ///< the node recording it; empty for an archived channel
    friend bool operator==(const CommittedRecording &, const CommittedRecording &) = default;
};

/// A committed recording the plan does not hold, and why (its rule is gone, its airing left the
/// guide or ended, ...).
struct IgnoredCommitted
{
    CommittedRecording recording;
    QString reason;
    friend bool operator==(const IgnoredCommitted &, const IgnoredCommitted &) = default;
};

/// A channel's name for a person ("3 Demo News"), from its id.
using ChannelNames = std::function<QString(const QString &channelId)>;

enum class SkipReason : quint8 {
    OutsideWindow,   ///< the rule's days or time of day exclude it
    NotNew,          ///< new episodes only, and this airing is a repeat
    AlreadyRecorded, ///< the episode is in the recorded history (relatedTo: that recording)
    Duplicate,       ///< another airing of the episode is planned (relatedTo: that one)
    Moved,           ///< no capacity here; the episode is planned at another airing (relatedTo)
    KeepLimit,       ///< keep-N reached
    Conflict,        ///< no capacity (relatedTo: the recordings it conflicts with; alternatives)
    Cancelled,       ///< the viewer skipped this airing (setCancelled): never planned, the rule stays
};
QString skipReasonName(SkipReason reason);

struct SkippedAiring
{
    AiringRef airing;
    SkipReason reason = SkipReason::Conflict;
    QList<AiringRef> relatedTo;  ///< the duplicate, the airing it moved to, or the conflicting recordings
    /// For Conflict: airings of the same episode elsewhere (any channel or time, also outside
    /// the rule's window) that have capacity now, earliest first; empty when there are none.
    QList<AiringRef> alternatives;
    DuplicateLayer layer = DuplicateLayer::None; ///< AlreadyRecorded, Duplicate of another rule: the deciding layer
    QString note;                ///< e.g. "moved to make room for ..."
    int keep = 0, kept = 0, planned = 0; ///< KeepLimit: N, kept in the library, planned
    /// One line for a person: why, and what instead (made on demand: plans hold many skips).
    /// `names` gives the channels' names for people (else their ids are written).
    QString detail(const ChannelNames &names = {}) const;
    friend bool operator==(const SkippedAiring &, const SkippedAiring &) = default;
};

/// Something about a whole rule: its airing left the guide, nothing matches, ...
struct RuleReport
{
    qint64 ruleId = 0;
    QString message;
    friend bool operator==(const RuleReport &, const RuleReport &) = default;
};

/// Reads a list of non-empty lists as one (SkippedAirings, PlannedRecordings).
template<typename T>
class ChunkedIterator
{
public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T *;
    using reference = const T &;
    ChunkedIterator() = default;
    ChunkedIterator(const QList<QList<T>> *chunks, qsizetype chunk)
        : m_chunks(chunks)
        , m_chunk(chunk)
    {
    }
    reference operator*() const { return (*m_chunks)[m_chunk][m_at]; }
    pointer operator->() const { return &**this; }
    ChunkedIterator &operator++()
    {
        if (++m_at == (*m_chunks)[m_chunk].size()) {
            ++m_chunk;
            m_at = 0;
        }
        return *this;
    }
    ChunkedIterator operator++(int)
    {
        ChunkedIterator was = *this;
        ++*this;
        return was;
    }
    friend bool operator==(const ChunkedIterator &a, const ChunkedIterator &b) { return a.m_chunk == b.m_chunk && a.m_at == b.m_at; }
    friend bool operator!=(const ChunkedIterator &a, const ChunkedIterator &b) { return !(a == b); }

private:
    const QList<QList<T>> *m_chunks = nullptr;
    qsizetype m_chunk = 0, m_at = 0;
};

/// A list kept as a list of non-empty, implicitly shared lists (chunks): a copy shares every
/// chunk, and a plan made from the last one takes over the chunks it did not change. Read like
/// one list (iteration, size, index).
template<typename T>
class ChunkedList
{
public:
    using Chunk = QList<T>;
    using const_iterator = ChunkedIterator<T>;

    qsizetype size() const { return m_ends.isEmpty() ? 0 : m_ends.last(); }
    bool isEmpty() const { return m_chunks.isEmpty(); }
    const T &at(qsizetype i) const
    {
        Q_ASSERT(i >= 0 && i < size());
        const qsizetype chunk = chunkOf(i);
        return m_chunks[chunk][i - (chunk ? m_ends[chunk - 1] : 0)];
    }
    const T &operator[](qsizetype i) const { return at(i); }
    const T &first() const { return m_chunks.first().first(); }
    const T &last() const { return m_chunks.last().last(); }
    const_iterator begin() const { return {&m_chunks, 0}; }
    const_iterator end() const { return {&m_chunks, m_chunks.size()}; }
    const_iterator cbegin() const { return begin(); }
    const_iterator cend() const { return end(); }
    /// Appends a chunk (shared, not copied); an empty one is left out.
    void appendChunk(const Chunk &chunk)
    {
        if (chunk.isEmpty())
            return;
        m_chunks.append(chunk);
        m_ends.append(size() + chunk.size());
    }
    /// Room for `chunks` chunks in all (a plan put together from its parts knows how many).
    void reserveChunks(qsizetype chunks)
    {
        m_chunks.reserve(chunks);
        m_ends.reserve(chunks);
    }
    /// The non-empty chunks, in order.
    const QList<Chunk> &chunks() const { return m_chunks; }
    QList<T> toList() const
    {
        QList<T> out;
        out.reserve(size());
        for (const Chunk &chunk : m_chunks)
            out.append(chunk);
        return out;
    }
    /// Equal values in the same order, however they are chunked (shared chunks compare at once).
    friend bool operator==(const ChunkedList &a, const ChunkedList &b)
    {
        if (a.size() != b.size())
            return false;
        if (a.m_ends == b.m_ends) {
            for (qsizetype i = 0; i < a.m_chunks.size(); ++i)
                if (a.m_chunks[i] != b.m_chunks[i])
                    return false;
            return true;
        }
        return std::equal(a.begin(), a.end(), b.begin());
    }
    friend bool operator!=(const ChunkedList &a, const ChunkedList &b) { return !(a == b); }

protected:
    qsizetype chunkOf(qsizetype i) const { return std::upper_bound(m_ends.cbegin(), m_ends.cend(), i) - m_ends.cbegin(); }
    QList<Chunk> m_chunks;
    QList<qsizetype> m_ends; ///< per chunk: the index after its last value
};

/// The skipped airings of a plan, rule by rule in priority order (each rule's by start, channel).
/// A rule's skips are in parts of a few dozen (never two rules' in one part), each an implicitly
/// shared list that the next plan takes over as it is while its skips stay the same: an update
/// copies only the parts it changed, also within a rule it re-matched (a rule of a daily show has
/// hundreds of skips, and a guide change touches a few of them).
class SkippedAirings : public ChunkedList<SkippedAiring>
{
public:
    /// Skips per part as a full plan makes them (an update's parts may hold up to twice as many).
    static constexpr qsizetype PartSize = 32;

    /// Appends a part of one rule's skips (shared, not copied); an empty one is left out.
    void appendPart(const QList<SkippedAiring> &part) { appendChunk(part); }
    /// The non-empty parts, in order.
    const QList<QList<SkippedAiring>> &parts() const { return chunks(); }
};

/// The planned recordings of a plan by record start, channel id, rule, in chunks of a few dozen:
/// each chunk is an implicitly shared list that the next plan takes over as it is when the change
/// put no recording in it and took none out, so an update copies only the chunks it changed
/// (a plan has ~93,000 recordings at the benchmark's size, an update changes a few hundred).
/// Read like a list (iteration, size, index); changed only by copy-on-write of one chunk.
class PlannedRecordings : public ChunkedList<PlannedRecording>
{
public:
    /// Recordings per chunk as a plan makes them (an update's chunks may hold up to twice as many).
    static constexpr qsizetype ChunkSize = 32;

    /// The recordings of `list`, in its order, in chunks of ChunkSize.
    static PlannedRecordings fromList(const QList<PlannedRecording> &list);
    /// Appends one recording to the last chunk, or to a new one when it holds ChunkSize.
    void append(const PlannedRecording &recording);
    /// Takes out recording `i`: only its chunk is copied (when shared) and changed.
    void removeAt(qsizetype i);
    /// Whether both hold the very same chunks (shared, not copies), so that they are equal without
    /// a comparison: a plan that changed no recording shares every chunk of the last one.
    bool isSharedWith(const PlannedRecordings &other) const
    {
        if (m_chunks.isSharedWith(other.m_chunks))
            return true;
        if (m_chunks.size() != other.m_chunks.size())
            return false;
        for (qsizetype i = 0; i < m_chunks.size(); ++i)
            if (!m_chunks[i].isSharedWith(other.m_chunks[i]))
                return false;
        return true;
    }
};

struct SchedulePlan
{
    PlannedRecordings recordings;       ///< by recordStart, channel, rule
    SkippedAirings skipped;             ///< by rule (priority order), start, channel
    QList<RuleReport> ruleReports;
    int conflicts = 0;                  ///< skipped with reason Conflict
    /// The committed recordings (Scheduler::setCommitted) this plan does not hold, with why.
    QList<IgnoredCommitted> ignoredCommitted;
};

/// What an update changed in the plan, for the events the server sends.
struct ScheduleChanges
{
    QList<PlannedRecording> added;
    QList<PlannedRecording> removed;   ///< no longer planned (see `skipped` of the plan for why)
    QList<std::pair<PlannedRecording, PlannedRecording>> moved; ///< same rule and episode, new time or channel
    QList<AiringRef> lost;             ///< planned airings whose programme left the guide
    int airingsChanged = 0;            ///< airings added, removed or changed by the guide update
    int rulesRematched = 0;            ///< rules whose candidates changed
};

struct SchedulerOptions
{
    CapacityOptions capacity;
    /// A single-airing rule whose airing moved follows it when the same programme starts on the
    /// same channel within this many seconds of the old start.
    qint64 followMoveWithin = 24 * 3600;
    /// Threads indexing a guide and matching the rules in a full evaluation; 0 = one per core.
    int matchThreads = 0;
    /// A re-matched rule's candidates are grouped into episodes again whole, instead of only
    /// where they changed (the same episodes: tst_dvrscheduler compares the two).
    bool regroupWhole = false;
    /// A repair groups the re-matched rules' candidates into episodes on the threads
    /// (matchThreads) when they have at least this many candidates in all, else one rule after
    /// another on the calling thread (starting threads costs more than a small update's grouping).
    /// The same episodes either way: tst_dvrscheduler compares the two.
    int regroupOnThreadsFrom = 20000;
    /// A repair does not try again to place a queued episode whose last try (in an earlier repair)
    /// failed while nothing that try read changed (the same plans: tst_dvrscheduler compares).
    bool memoizeFailedTries = true;
    /// A repair makes a rebuilt rule's outcomes walking every candidate of it, instead of only
    /// those near what changed, taking the other parts of its skips over (the same outcomes:
    /// tst_dvrscheduler compares the two).
    bool walkRebuiltWhole = false;
    /// upsertRule() and removeRule() keep the plan and the next plan() repairs it (docs/dvr-scheduler.md,
    /// "Rule changes"), instead of a full plan: a few ms instead of about a second at the benchmark's
    /// size. The repaired plan keeps the repair's promises, not a full plan's placements (recordings
    /// stay where they are; tst_dvrscheduler::rulesAddedOneByOneAgainstFullPlan).
    bool repairRuleChanges = true;
};

class Scheduler
{
public:
    explicit Scheduler(SchedulerOptions options = {});
    ~Scheduler();

    const SchedulerOptions &options() const;
    void setCapacity(const CapacityOptions &capacity);

    /// Replaces every rule (invalid ones are skipped and reported in the plan's ruleReports).
    void setRules(const QList<RecordingRule> &rules);
    /// Adds or replaces (same id) one rule; matches only it again.
    void upsertRule(const RecordingRule &rule);
    void removeRule(qint64 ruleId);
    /// The rules as the scheduler holds them (single-airing rules follow moved airings).
    QList<RecordingRule> rules() const;

    void setHistory(const QList<RecordedEpisode> &history);
    /// The airings viewers skipped (`ruleId`, `channelId`, `start`; the rest is not read): a
    /// rule's airing here is a candidate filtered as Cancelled, like one outside its window. The
    /// rules whose cancelled airings changed are matched again.
    void setCancelled(const QList<AiringRef> &airings);

    /// The recordings being made now (their copies record): a full plan places each first, at its
    /// airing and on its node, whatever its capacity there, before every other episode, and counts
    /// it as its episode's placement (duplicates, keep-N); a repair never moves or displaces one.
    /// An entry whose rule is gone, disabled or invalid, whose airing is not a candidate of its rule
    /// (left the guide, ended, filtered by its window, new-only or a cancel), whose node is unknown,
    /// or whose episode another entry already holds, is ignored: SchedulePlan::ignoredCommitted says
    /// why (and a debug line). A change that the last plan already holds (the new entries planned
    /// there, and no node over capacity by a committed one) keeps the plan for a repair; any other
    /// makes the next plan a full one.
    void setCommitted(const QList<CommittedRecording> &recordings);
    const QList<CommittedRecording> &committed() const;

    /// Full evaluation: matches every rule against `guide`, then plans.
    SchedulePlan evaluate(std::shared_ptr<const epg::Guide> guide, qint64 now);
    /// After a guide change (a delta applied): matches again only the airings that differ from
    /// the guide of the last evaluate()/update(), then repairs the last plan (stable: recordings
    /// the change did not touch stay where they are; docs/dvr-scheduler.md, "Guide changes").
    SchedulePlan update(std::shared_ptr<const epg::Guide> guide, qint64 now, ScheduleChanges *changes = nullptr);
    /// Plans again from the current matches: a repair of the last plan when time moved on or the
    /// history changed; a full plan after a rule or capacity change.
    SchedulePlan plan(qint64 now);
    const SchedulePlan &lastPlan() const;
    /// The last plan's outcomes (recordings, skipped airings with their conflicts' recordings in
    /// the way and alternatives, rule reports) made again from scratch from its placements, the
    /// plan itself untouched: what a repair, which patches them where it changed the plan, must
    /// give (tst_dvrscheduler checks it after every repair).
    SchedulePlan outcomesFromScratch();

    /// The identity of an airing of the current guide (for history entries of recordings made).
    EpisodeIdentity identityAt(const QString &channelId, qint64 start) const;

    struct Private;
private:
    std::unique_ptr<Private> d;
};

} // namespace iptv::dvr
