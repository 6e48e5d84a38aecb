#include "scheduler.h"

#include "guideindex.h"
#include "regroup.h"

#include <epg/guide.h>

#include <QDateTime>
#include <QElapsedTimer>
#include <QHash>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QSet>
#include <QTimeZone>
#include <QVarLengthArray>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>
#include <tuple>

#include <time.h>

Q_LOGGING_CATEGORY(lcScheduler, "iptv.dvr.scheduler")

namespace iptv::dvr {

namespace {

constexpr quint8 NoFilter = 0xff;
/// Moves tried to make room for one dropped episode (pass 2), so a full node costs bounded time.
constexpr int MaxMovesTried = 32;
/// Recordings a conflict names (one per stream in the way).
constexpr int MaxConflictsNamed = 8;
/// Displacements in a chain started by one repaired episode (it displaces a later recording, which
/// displaces a later one, ...): the order strictly increases along a chain, this bounds its length.
constexpr int MaxDisplacementChain = 32;

/// This thread's CPU time (the figure to compare on a loaded machine).
qint64 threadCpuNs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/// CPU time of the whole process (all threads) in ms: the comparable figure on a loaded machine.
double processCpuMs()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

QString timeText(qint64 t)
{
    return QDateTime::fromSecsSinceEpoch(t, Qt::UTC).toString(u"yyyy-MM-dd HH:mm"_qs);
}

QString refText(const AiringRef &r, const ChannelNames &names = {})
{
    return QStringLiteral("\"%1\" on %2 at %3").arg(r.title, names ? names(r.channelId) : r.channelId, timeText(r.start));
}

/// A note made while planning (its airings as refText writes them, by channel id) with the
/// channels named: `"<title>" on <id> at`.
QString namedNote(const QString &note, const ChannelNames &names)
{
    if (!names || note.isEmpty())
        return note;
    static const QRegularExpression airing(u"(\"[^\"]*\" on )(\\S+)( at )"_qs);
    QString out;
    qsizetype from = 0;
    for (auto it = airing.globalMatch(note); it.hasNext();) {
        const QRegularExpressionMatch m = it.next();
        out += QStringView(note).mid(from, m.capturedStart(2) - from);
        out += names(m.captured(2));
        from = m.capturedEnd(2);
    }
    return out + QStringView(note).mid(from);
}

/// One airing a rule matched. Everything the planning stage needs, so it never asks the guide.
struct Candidate
{
    int channel = 0; ///< the scheduler's channel key (stable across guide versions)
    qint64 start = 0, stop = 0;
    quint8 flags = 0;
    int title = 0;   ///< the scheduler's title key
    /// The programme (a GuideIndex handle) in the guide version it was matched in: read only while
    /// matching (the identity is filled in after all rules are matched), stale after a guide change.
    quint32 programme = 0;
    quint8 filter = NoFilter; ///< a SkipReason (OutsideWindow, NotNew) or NoFilter
    EpisodeIdentity identity;
};

struct RuleState
{
    RecordingRule rule;
    bool valid = true;
    QString error;
    quint64 titleKey = 0;
    quint64 seriesKey = 0;
    TitlePattern regex; ///< a Regex rule's pattern
    QTimeZone zone; ///< the window's, made once (TimeWindow::contains would make it per airing)
    int channel = -1; ///< scheduler channel key of rule.channelId, -1 = any
    /// The viewer (rule.owner) as a number: duplicates (scope "all") and the history are looked up
    /// among the same viewer's episodes only (Private::viewerKey).
    quint32 viewer = 0;
    std::vector<Candidate> candidates; ///< by start, then channel id
    /// Removed (removeRule) while the plan is kept: a tombstone holding its slot, so that the slot
    /// indexes PlanState and the repair keep stay as they are. Not valid, in no map and not in the
    /// priority order; a repair retires its episodes, and the next full plan erases it. An upsert
    /// of the same id takes the slot again.
    bool removed = false;
};

/// A planned recording as update() matches the plans before and after: rule, channel, start.
struct AiringKey
{
    qint64 ruleId = 0;
    QString channelId;
    qint64 start = 0;
    friend bool operator==(const AiringKey &, const AiringKey &) = default;
};
size_t qHash(const AiringKey &k, size_t seed = 0)
{
    return qHashMulti(seed, k.ruleId, k.channelId, k.start);
}
AiringKey airingKey(const PlannedRecording &r)
{
    return {r.ruleId, r.channelId, r.start};
}

/// a == b, first by the data they share (a skip's names are copies of the scheduler's channel
/// ids and titles, so the equal ones mostly share it): no character compared. The shared case
/// inlined (the outcomes ask it ~600k times after the benchmark's delta).
Q_NEVER_INLINE bool sameCharacters(const QString &a, const QString &b)
{
    return a == b;
}
Q_ALWAYS_INLINE bool sameText(const QString &a, const QString &b)
{
    return (a.constData() == b.constData() && a.size() == b.size()) || sameCharacters(a, b);
}

bool isRepeat(quint8 flags)
{
    return (flags & epg::FlagPreviouslyShown) && !(flags & epg::FlagNew);
}

/// An episode of a rule (its airings that are the same episode, duplicate.h) and its state in the
/// current plan. Kept between plans: an update repairs the episodes its change touched and keeps
/// the others as they are (docs/dvr-scheduler.md, "Guide changes"). Its id (its index in
/// PlanState::episodes) is its placement id in the capacity book; its place in the priority order
/// is its rule's position and its rank, not its id: an episode that a regrouping leaves with the
/// same members keeps its id and state, and the others of its rule take new ids after all others.
struct Episode
{
    int slot = -1;            ///< the rule slot; -1: retired (its rule was grouped again)
    int rank = 0;             ///< its place among its rule's episodes (by first airing when grouped)
    std::vector<int> airings; ///< the rule's candidate indexes, by start (not ended, not filtered)
    int chosen = -1;          ///< the candidate recorded, -1 none
    int node = -1;
    /// The chosen airing's channel key and start, to find it again after the rule's candidates
    /// changed (an update's rematch).
    int chosenChannel = -1;
    qint64 chosenStart = 0;
    int from = 0, to = 0; ///< its placement's epoch minutes (from == to: archived, costs nothing)
    SkipReason status = SkipReason::Conflict; ///< when none is chosen
    AiringRef related;                        ///< AlreadyRecorded, Duplicate of another rule's
    int relatedEpisode = -1;                  ///< Duplicate: the episode planned that it duplicates
    DuplicateLayer layer = DuplicateLayer::None;
    QString note;
    int plannedEntry = -1; ///< its entry in PlanState::plannedIndex while planned
    bool conflictIndexed = false; ///< in PlanState::conflictsByHour (a conflict now or before)
    /// What its rule's outcomes show of it may differ from what they showed when last made: its
    /// placement (airing, node, span, note), reason or what it names changed since, or it is new.
    /// Cleared when its rule's outcomes are made; a rebuilt rule walks again only the candidates
    /// near such episodes (Private::makeOutcomes).
    bool outcomeDirty = true;
};

/// A conflict's alternatives in the last plan and the minutes of the final book they read.
struct AlternativesMemo
{
    QList<AiringRef> alternatives;
    std::vector<std::pair<int, int>> read; ///< epoch minutes of every airing tried, [from, to)
    /// Every airing of the same episode in the guide but the episode's own (channel key, start,
    /// stop), by start and channel id: what the alternatives are chosen from. The same while no
    /// airing of its title comes or goes (and no channel is added: channel ranks order it).
    struct Airing
    {
        int channel = 0;
        qint64 start = 0, stop = 0;
    };
    std::shared_ptr<const std::vector<Airing>> airings;
    /// The episode's own airings (channel key, start) that `airings` leaves out: a re-grouped rule's
    /// episode with the same own airings takes the memo over.
    std::vector<std::pair<int, qint64>> own;
};

/// Where a recording goes in the plan's list (by record start, channel id, rule; then the order
/// a serial walk of the rules and their candidates met it).
struct RecordingKey
{
    qint64 recordStart = 0;
    int rank = 0; ///< the channel's rank in channel id order
    qint64 ruleId = 0;
    int position = 0, candidate = 0; ///< the rule's place among the planned rules, the candidate's in the rule
    int slot = 0;                    ///< not ordered on: the rule slot
    bool operator<(const RecordingKey &o) const
    {
        return std::tie(recordStart, rank, ruleId, position, candidate)
            < std::tie(o.recordStart, o.rank, o.ruleId, o.position, o.candidate);
    }
};

/// Where a rule's Conflict skip is in its parts (RuleOutcomes::skipped), and its candidate.
struct ConflictSkip
{
    int part = 0;
    int at = 0; ///< in the part
    int candidate = 0;
    /// What the book's answer it names (the recordings in its way) read: where no placement
    /// changed there, the answer is the same (DirtyMinutes::anyWithin).
    CapacityBook::Reach reach;
};

/// A rule's outcomes in the current plan (shared with it) and its conflicts' alternatives.
struct RuleOutcomes
{
    QList<PlannedRecording> recordings;
    /// Its skips by start, channel, in parts of SkippedAirings::PartSize (up to twice that after
    /// an update): each an implicitly shared list of the plan's skipped airings, taken over by
    /// the next plan while its skips stay the same.
    QList<QList<SkippedAiring>> skipped;
    std::vector<RecordingKey> recordingKeys;   ///< parallel to recordings
    QHash<int, AlternativesMemo> alternatives; ///< by episode id
    int conflicts = 0;                         ///< skipped airings with reason Conflict
    std::vector<ConflictSkip> conflictSkips;   ///< the Conflict skips, in order
    /// Per part of `skipped`: its last skip's airing (start, channel key). A candidate belongs to
    /// the first part whose last skip is not before it (the last part for one after them all):
    /// where a rebuilt rule's walk takes a part over whole when none of its candidates changed.
    std::vector<std::pair<qint64, int>> partLast;
    /// The keep-N figures its keep-limit skips showed (keep, kept, planned): -1, none made yet.
    int shownKeep = -1, shownKept = 0, shownPlanned = 0;
};

/// A repair's try that failed to place a queued episode (every airing: pass 2's move, then the
/// displacement of later recordings), and what it read: the same try fails again while no minute
/// of those hours changed in the book, the time is the same and the order within its rule up to
/// it is (Private::unchangedSince). A full plan makes no such try, so none is known after it.
struct FailedTry
{
    quint64 clock = 0; ///< PlanState::clock after the try
    qint64 now = 0;
    /// Epoch hours [first, last] read: its airings' spans, and of every recording in the way of
    /// one, its span and those of its episode's airings (where a move would take it).
    std::vector<std::pair<int, int>> hours;
};

/// The current plan as the next one repairs it: the episodes and their state, the final capacity
/// book (placement id = episode id), the planned episodes' identities (for duplicates across
/// rules) and every rule's outcomes. Valid while the rule slots, their order and the capacity
/// options stay the same.
struct PlanState
{
    bool valid = false;
    qint64 now = 0;
    int channelCount = 0; ///< channel keys then (more reorder the channel ranks)
    std::unique_ptr<CapacityBook> book;
    std::vector<Episode> episodes;
    std::vector<std::vector<int>> ids;     ///< per slot: its episodes' ids by rank (the order within the rule)
    std::vector<std::vector<int>> groupOf; ///< per slot and candidate: its episode id, -1 none
    std::vector<qint64> groupedAt;         ///< per slot: the time its candidates were last grouped
    DuplicateIndex plannedIndex;           ///< the planned episodes' identities, owner = rule id, group = viewer
    std::vector<int> episodeOfEntry;       ///< plannedIndex entry -> episode id
    std::vector<int> plannedOf;            ///< per slot: episodes planned
    std::vector<RuleOutcomes> outcomes;    ///< per slot
    /// Per chunk of the plan's recordings (PlannedRecordings::chunks()), parallel to it: their keys.
    std::vector<std::vector<RecordingKey>> recordingKeys;
    /// The episodes dropped as conflicts, by every epoch hour their airings' spans touch (from
    /// conflictHourBase), and those with an airing on an archived channel: where a repair looks for
    /// the conflicts that freed minutes or time moving on may let in. An entry stays when its
    /// episode stops being a conflict (it is filtered when read, and dropped from the hour then);
    /// spans only shrink (time cuts them), so an hour's list holds every conflict touching it.
    std::vector<std::vector<int>> conflictsByHour;
    std::vector<int> conflictsArchived;
    int conflictHourBase = 0;
    /// Per episode: the episodes settled as its duplicates (another rule's, scope "all"); stale
    /// entries are filtered when read.
    std::vector<std::vector<int>> duplicatesOf;
    /// Episodes whose placement a repair changed since their duplicates were last checked.
    std::vector<int> placementChanged;
    /// Per slot: its planned count changed since keep-N was last checked for it.
    std::vector<char> keepCheck;
    /// The slots whose keepCheck was set (each once while it is set): what a repair checks.
    std::vector<int> keepQueue;
    /// The slots with a rule report in the last plan, in priority order.
    std::vector<int> reported;
    /// Counts the repairs' changes to the book: hourChanged[h] is its value at the last placement
    /// made or taken away (or renamed, or whose order changed) touching epoch hour
    /// conflictHourBase + h. What FailedTry compares with.
    quint64 clock = 0;
    std::vector<quint64> hourChanged;
    QHash<int, FailedTry> failedTries; ///< by episode id
    /// A committed recording was placed where it did not fit (its node full): the book is over
    /// capacity there until a full plan, so losing the entry's protection needs one.
    bool committedOverbooked = false;
};

/// The minutes where a repair changed the capacity book: the placements it made and those it
/// took away (counted per placement and tag, so that a recording put back where it was cancels
/// out), and the minutes they cover. A rule whose episodes the repair did not change reads its
/// conflicts again only where a minute differs.
class DirtyMinutes
{
public:
    /// With `perNode`, the minutes are kept per node too (anyWithin()).
    explicit DirtyMinutes(int base, bool perNode = false)
        : m_base(base)
        , m_perNode(perNode)
    {
    }
    /// Adds (+1, the repair placed it) or removes (-1, the repair took it away) a placement.
    /// `tag` tells placements apart that are otherwise the same: the episode id, since a conflict
    /// names the recordings in its way by it (a re-grouped rule's recording kept where it was has
    /// a new id, and may now be named before or instead of another of the same stream).
    void change(int node, int channel, int from, int to, int delta, int tag = 0)
    {
        Q_ASSERT(m_prefix.empty()); // not after freeze()
        from = std::max(from, m_base); // minutes before the plan's origin are never read
        if (from >= to)
            return;
        const std::pair<quint64, quint64> key{(quint64(quint8(node)) << 56) | (quint64(quint32(channel) & 0xfffff) << 36)
                                                  | (quint64(quint32(from - m_base) & 0xfffff) << 16)
                                                  | quint64(quint32(to - from) & 0xffff),
                                              quint64(quint32(tag))};
        int &count = m_count[key];
        const int before = count;
        count += delta;
        if ((before == 0) == (count == 0))
            return;
        cover(from - m_base, to - m_base, count == 0 ? -1 : 1);
        if (count == 0)
            m_count.remove(key);
    }
    /// No more changes: any() then answers from the minutes differing counted up to each minute
    /// (two reads, where the outcomes ask it for every conflict and every alternative's airing).
    void freeze()
    {
        m_prefix.assign(m_minutes.size() + 1, 0);
        for (size_t m = 0; m < m_minutes.size(); ++m)
            m_prefix[m + 1] = m_prefix[m] + (m_minutes[m] > 0 ? 1 : 0);
        if (!m_perNode)
            return;
        // Per node, a bit per minute where a placement differs: from the placements counted
        // (each key holds its node and span), a few KiB, not another count per minute.
        for (auto it = m_count.cbegin(); it != m_count.cend(); ++it) {
            const quint64 k = it.key().first;
            const size_t node = size_t(k >> 56);
            const int from = int((k >> 16) & 0xfffff), to = from + int(k & 0xffff);
            if (m_nodeBits.size() <= node)
                m_nodeBits.resize(node + 1);
            std::vector<quint64> &bits = m_nodeBits[node];
            if (bits.size() * 64 < size_t(to))
                bits.resize(size_t(to) / 64 + 1 + 24 * 60 / 64, 0);
            for (int m = from; m < to;) {
                const int end = std::min(to, (m / 64 + 1) * 64);
                const quint64 span = end - m == 64 ? ~quint64(0) : ((quint64(1) << (end - m)) - 1);
                bits[size_t(m / 64)] |= span << (m % 64);
                m = end;
            }
        }
    }
    /// After freeze(), with per-node minutes: whether a minute of [from, to) (epoch minutes) may
    /// differ where a CapacityBook::overlapping() answer of that range read (`reach`): on the
    /// nodes before reach.node, or on reach.node before reach.until. An answer whose reach is
    /// not known (the default) read everything: any().
    bool anyWithin(const CapacityBook::Reach &reach, int from, int to) const
    {
        if (!m_perNode || reach.node == INT_MAX)
            return any(from, to);
        from = std::max(from - m_base, 0);
        to -= m_base;
        const int last = std::min(reach.node, int(m_nodeBits.size()) - 1);
        for (int n = 0; n <= last; ++n) {
            const std::vector<quint64> &bits = m_nodeBits[size_t(n)];
            const int end = std::min({to, n == reach.node ? reach.until - m_base : to, int(bits.size() * 64)});
            for (int m = from; m < end;) {
                const int wordEnd = std::min(end, (m / 64 + 1) * 64);
                const quint64 span = wordEnd - m == 64 ? ~quint64(0) : ((quint64(1) << (wordEnd - m)) - 1);
                if (bits[size_t(m / 64)] & (span << (m % 64)))
                    return true;
                m = wordEnd;
            }
        }
        return false;
    }
    /// Whether any minute of [from, to) (epoch minutes) may differ.
    bool any(int from, int to) const
    {
        from = std::max(from - m_base, 0);
        to = std::min(to - m_base, int(m_minutes.size()));
        if (!m_prefix.empty())
            return from < to && m_prefix[size_t(to)] != m_prefix[size_t(from)];
        for (int h = from / 60; from < to; ++h) {
            const int end = std::min(to, (h + 1) * 60);
            if (m_hours[size_t(h)] > 0)
                for (int m = from; m < end; ++m)
                    if (m_minutes[size_t(m)] > 0)
                        return true;
            from = end;
        }
        return false;
    }
    bool isClean() const { return m_count.isEmpty(); }

private:
    void cover(int from, int to, int delta)
    {
        if (int(m_minutes.size()) < to) {
            m_minutes.resize(size_t(to) + 24 * 60, 0);
            m_hours.resize(m_minutes.size() / 60 + 1, 0);
        }
        // Hour by hour: the minutes' loop has no division and vectorises.
        while (from < to) {
            const int hour = from / 60;
            const int end = std::min(to, (hour + 1) * 60);
            for (int m = from; m < end; ++m)
                m_minutes[size_t(m)] += delta;
            m_hours[size_t(hour)] += delta * (end - from);
            from = end;
        }
    }
    int m_base = 0;
    bool m_perNode = false;
    std::vector<std::vector<quint64>> m_nodeBits; ///< after freeze(), per node: bit m, minute m_base + m differs
    QHash<std::pair<quint64, quint64>, int> m_count;
    std::vector<int> m_minutes; ///< placements differing, per minute from m_base
    std::vector<int> m_hours;   ///< the same summed per hour, to skip clean hours
    std::vector<int> m_prefix;  ///< after freeze(): minutes differing before each minute
};

} // namespace

PlannedRecordings PlannedRecordings::fromList(const QList<PlannedRecording> &list)
{
    PlannedRecordings out;
    for (qsizetype i = 0; i < list.size(); i += ChunkSize)
        out.appendChunk(list.mid(i, ChunkSize));
    return out;
}

void PlannedRecordings::append(const PlannedRecording &recording)
{
    if (m_chunks.isEmpty() || m_chunks.last().size() >= ChunkSize) {
        appendChunk(Chunk{recording});
        return;
    }
    m_chunks.last().append(recording);
    ++m_ends.last();
}

void PlannedRecordings::removeAt(qsizetype i)
{
    Q_ASSERT(i >= 0 && i < size());
    const qsizetype chunk = chunkOf(i);
    m_chunks[chunk].removeAt(i - (chunk ? m_ends[chunk - 1] : 0));
    for (qsizetype c = chunk; c < m_ends.size(); ++c)
        --m_ends[c];
    if (m_chunks[chunk].isEmpty()) {
        m_chunks.removeAt(chunk);
        m_ends.removeAt(chunk);
    }
}

QString skipReasonName(SkipReason reason)
{
    switch (reason) {
    case SkipReason::OutsideWindow: return u"outside-window"_qs;
    case SkipReason::NotNew: return u"not-new"_qs;
    case SkipReason::AlreadyRecorded: return u"already-recorded"_qs;
    case SkipReason::Duplicate: return u"duplicate"_qs;
    case SkipReason::Moved: return u"moved"_qs;
    case SkipReason::KeepLimit: return u"keep-limit"_qs;
    case SkipReason::Conflict: return u"conflict"_qs;
    case SkipReason::Cancelled: return u"cancelled"_qs;
    }
    return {};
}

QString SkippedAiring::detail(const ChannelNames &names) const
{
    const auto refText = [&names](const AiringRef &r) { return ::iptv::dvr::refText(r, names); };
    const QString extra = note.isEmpty() ? QString() : u" (" + namedNote(note, names) + u')';
    switch (reason) {
    case SkipReason::OutsideWindow: return QStringLiteral("outside the rule's days or time of day");
    case SkipReason::NotNew: return QStringLiteral("a repeat (previously shown), and the rule records new episodes only");
    case SkipReason::AlreadyRecorded:
        return QStringLiteral("already recorded: %1 (same %2)").arg(refText(relatedTo.value(0)), duplicateLayerName(layer));
    case SkipReason::Duplicate:
        if (layer == DuplicateLayer::None) // another airing of the same episode in this rule
            return QStringLiteral("the same episode is recorded at %1%2").arg(refText(relatedTo.value(0)), extra);
        return QStringLiteral("duplicate of %1, rule %2 (same %3)")
            .arg(refText(relatedTo.value(0)))
            .arg(relatedTo.value(0).ruleId)
            .arg(duplicateLayerName(layer));
    case SkipReason::Moved:
        return QStringLiteral("recorded at another airing instead: %1%2").arg(refText(relatedTo.value(0)), extra);
    case SkipReason::KeepLimit:
        return QStringLiteral("keep %1 episodes reached (%2 kept, %3 planned)").arg(keep).arg(kept).arg(planned);
    case SkipReason::Conflict: {
        QStringList airings;
        for (int i = 0; i < relatedTo.size() && i < 3; ++i)
            airings << refText(relatedTo[i]);
        QString text = QStringLiteral("no capacity: conflicts with ") + airings.join(u", ");
        if (relatedTo.size() > 3)
            text += QStringLiteral(" and %1 more").arg(relatedTo.size() - 3);
        text += alternatives.isEmpty() ? QStringLiteral("; no other airing of this episode fits")
                                       : QStringLiteral("; it fits at %1").arg(refText(alternatives.first()));
        return text;
    }
    case SkipReason::Cancelled: return QStringLiteral("skipped by the viewer");
    }
    return {};
}

struct Scheduler::Private
{
    SchedulerOptions options;
    std::vector<RuleState> rules;
    std::vector<int> order; ///< rule slots in priority order
    /// Viewers (rule owners) numbered from 1 as they are first seen; never forgotten (a few).
    QHash<QString, quint32> viewers;
    QHash<qint64, quint32> viewerOfRule; ///< rule id -> its viewer's number
    quint32 viewerKey(const QString &owner)
    {
        const auto it = viewers.constFind(owner);
        return it != viewers.cend() ? *it : *viewers.insert(owner, quint32(viewers.size() + 1));
    }
    /// The viewer a recorded episode belongs to: its rule's, or the one it names when its rule is
    /// gone (no rule has a viewer that is not known: 0 then, which no rule has).
    quint32 viewerOf(const RecordedEpisode &h) const
    {
        const auto it = viewerOfRule.constFind(h.ruleId);
        return it != viewerOfRule.cend() ? *it : viewers.value(h.owner);
    }
    QHash<quint64, QList<int>> titleRules, seriesRules;
    QList<int> regexRules;
    QHash<QPair<int, qint64>, QList<int>> singleRules;
    QHash<QString, int> channelIds;
    QStringList channelNames;
    QHash<QString, int> titleIds;
    QStringList titleNames;
    std::unique_ptr<GuideIndex> index;
    QList<RecordedEpisode> history;
    /// setCommitted(): the recordings being made now, placed first (docs/dvr-scheduler.md,
    /// "Recordings in progress").
    QList<CommittedRecording> committed;
    /// A committed recording resolved for the plan being made: its rule slot, candidate, node and
    /// its index in `committed`.
    struct CommittedPlace
    {
        int slot = -1, candidate = -1, node = -1, entry = -1;
    };
    /// The committed airings of the plan being made (slot, channel key, start): never moved or
    /// displaced (Private::isCommitted). Empty when nothing is committed: one test per check.
    std::set<std::tuple<int, int, qint64>> committedKeys;
    /// The committed recordings against the rules and candidates now (planNow; after
    /// startPlanning): committedKeys set, their places in the priority order returned, the entries
    /// that cannot be placed added to `ignored` with why.
    std::vector<CommittedPlace> resolveCommitted(QList<IgnoredCommitted> *ignored);
    /// Places each committed recording (resolveCommitted) at its airing and node, whatever the
    /// capacity there (it is recording), as its episode's placement: planned (duplicates, keep-N).
    /// One already there stays; one placed elsewhere (a repair) is moved there. Before the passes
    /// of a full plan, after the history step of a repair. With `queue` (a repair), recordings on
    /// its node that leave it no stream (not committed; the last in the order first) are taken
    /// away and queued, as a displacement does.
    void placeCommitted(const std::vector<CommittedPlace> &places, QList<IgnoredCommitted> *ignored,
                        std::set<std::pair<qint64, int>> *queue = nullptr);
    /// Whether the episode's placement is a committed recording (never moved nor displaced).
    bool isCommitted(int id) const
    {
        if (committedKeys.empty())
            return false;
        const Episode &e = state.episodes[size_t(id)];
        return e.slot >= 0 && e.chosen >= 0 && committedKeys.count({e.slot, e.chosenChannel, e.chosenStart});
    }
    /// setCancelled(): rule id -> its skipped airings (channel id, start), read by candidate().
    QHash<qint64, QSet<std::pair<QString, qint64>>> cancelled;
    SchedulePlan last;
    /// The current plan, as the next plan() repairs it (docs/dvr-scheduler.md, "Guide changes").
    PlanState state;
    /// Rule slots whose candidates changed since the last plan (update()'s partial rematch).
    QSet<int> rematched;
    /// Rule slots whose rule was added, changed or removed since the last plan (upsertRule,
    /// removeRule): re-matched whole, and none of their old recordings is kept (padding, keep-N,
    /// the duplicate method or the order may differ): they are unplaced and the new episodes queued.
    QSet<int> rulesChanged;
    /// A rule change since the last plan changed the order of other rules among themselves (a
    /// viewer's rule added before its others moves them to later rounds): the repair offers the
    /// recordings of the rules that became later to the conflicts that became earlier than them.
    bool reordered = false;
    /// After a rule change at `slot` (orderBefore: the priority order before it): keeps the plan
    /// for the next plan() to repair when it can be sure to, else drops it (a full plan).
    void keepPlanAfterRuleChange(int slot, const std::vector<int> &orderBefore, bool viewerChanged);
    /// How update() changed a re-matched rule's candidates since the last plan: the repair groups
    /// again only the episodes the change may concern (regroup.h).
    struct CandidateEdits
    {
        size_t before = 0;              ///< candidates before
        std::vector<int> removed;       ///< their indexes before, ascending
        std::vector<std::pair<qint64, int>> removedAt; ///< their (start, channel key), parallel to removed
        std::vector<int> inserted;      ///< indexes after (the removed ones taken out), ascending
        std::vector<EpisodeIdentity> gone; ///< the identities of the removed ones (not filtered)
        bool whole = false;             ///< matched again whole (or edited twice): grouped whole
    };
    QHash<int, CandidateEdits> candidateEdits;
    /// A re-matched rule's candidates as a repair re-grouped them incrementally: what its outcomes
    /// read to walk again only the candidates near what changed (kept from candidateEdits, which the
    /// regrouping consumes, until the outcomes are made).
    struct Renumbering
    {
        std::vector<int> nowOf;                        ///< candidate index then -> now, -1 removed
        std::vector<int> inserted;                     ///< indexes now of the candidates that came
        std::vector<std::pair<qint64, int>> removedAt; ///< (start, channel key) of those that went
        bool known = false; ///< re-grouped incrementally (else grouped whole: not known)
    };
    QHash<int, Renumbering> renumbered;
    /// (channel key, start) of the airings that came or changed since the last plan: a recording
    /// there is not kept as it was.
    QSet<QPair<int, qint64>> cameAirings;
    /// The history changed since the last plan: every episode's history check is made again.
    bool historyChanged = false;
    /// Title keys of the airings that came or went since the last plan: conflicts of these titles
    /// look for alternatives again.
    QSet<quint64> retitled;
    /// Title key -> the airings of that title that came or went since the last plan: a conflict's
    /// alternatives are searched again only when one of them is of its episode. Their identities
    /// are computed when first read (most titles have no conflict asking).
    QHash<quint64, QList<ProgrammeRef>> changedIdentities;
    /// Title ref -> titleKey() of its title, 0 until asked (a key is never 0): kept across plans
    /// (title refs never change), filled by whichever outcome thread asks first.
    std::unique_ptr<std::atomic<quint64>[]> titleKeys;
    qsizetype titleKeysSize = 0;
    /// Makes room in titleKeys for every title ref (before the threads ask).
    void growTitleKeys()
    {
        if (titleKeysSize == titleNames.size())
            return;
        auto grown = std::make_unique<std::atomic<quint64>[]>(size_t(titleNames.size()));
        for (qsizetype t = 0; t < titleNames.size(); ++t)
            grown[size_t(t)].store(t < titleKeysSize ? titleKeys[size_t(t)].load(std::memory_order_relaxed) : 0,
                                   std::memory_order_relaxed);
        titleKeys = std::move(grown);
        titleKeysSize = titleNames.size();
    }
    /// Whether airings of the title (ref) came or went since the last plan; any thread.
    bool isRetitled(int title) const
    {
        if (retitled.isEmpty())
            return false;
        Q_ASSERT(title < titleKeysSize);
        std::atomic<quint64> &slot = titleKeys[size_t(title)];
        quint64 key = slot.load(std::memory_order_relaxed);
        if (!key) {
            key = titleKey(titleNames[title]);
            slot.store(key, std::memory_order_relaxed);
        }
        return retitled.contains(key);
    }
    /// Whether an airing that came or went since the last plan may be of the episode (its own
    /// airings or those elsewhere that its conflict's alternatives are chosen from); any thread.
    bool episodeRetitled(int id) const
    {
        const Episode &e = state.episodes[size_t(id)];
        const RuleState &rs = rules[size_t(e.slot)];
        const Candidate &front = rs.candidates[size_t(e.airings.front())];
        if (!isRetitled(front.title))
            return false;
        const quint8 methods = rs.rule.duplicateScope == DuplicateScope::None ? quint8(DuplicateAllLayers)
                                                                               : rs.rule.duplicateMethod;
        const auto it = changedIdentities.constFind(titleKeys[size_t(front.title)].load(std::memory_order_relaxed));
        if (it == changedIdentities.cend())
            return true; // not known: may be
        for (const ProgrammeRef &changed : *it) {
            const EpisodeIdentity x = changed.identity();
            if (x == front.identity || sameEpisode(x, front.identity, methods) != DuplicateLayer::None)
                return true;
        }
        return false;
    }


    int channelKey(const QString &id)
    {
        auto it = channelIds.constFind(id);
        if (it != channelIds.cend())
            return *it;
        const int k = int(channelNames.size());
        channelIds.insert(id, k);
        channelNames.append(id);
        return k;
    }
    int titleRef(const QString &t)
    {
        auto it = titleIds.constFind(t);
        if (it != titleIds.cend())
            return *it;
        const int k = int(titleNames.size());
        titleIds.insert(t, k);
        titleNames.append(t);
        return k;
    }
    std::vector<int> channelRank; ///< channel key -> its place in channel id (string) order
    /// Brings channelRank up to date after channel keys were added.
    void rankChannels()
    {
        if (channelRank.size() == size_t(channelNames.size()))
            return;
        std::vector<int> byName(size_t(channelNames.size()));
        std::iota(byName.begin(), byName.end(), 0);
        std::sort(byName.begin(), byName.end(), [&](int a, int b) { return channelNames[a] < channelNames[b]; });
        channelRank.assign(byName.size(), 0);
        for (size_t i = 0; i < byName.size(); ++i)
            channelRank[size_t(byName[i])] = int(i);
    }
    bool candidateLess(const Candidate &a, const Candidate &b) const
    {
        if (a.start != b.start)
            return a.start < b.start;
        return channelRank[size_t(a.channel)] < channelRank[size_t(b.channel)];
    }

    /// Threads for the work split by rules or programmes (SchedulerOptions::matchThreads).
    int threads() const
    {
        return options.matchThreads > 0 ? options.matchThreads : std::max(1, int(std::thread::hardware_concurrency()));
    }
    /// Indexes `guide`, sharing the channel parts of `previous` (emptied) that air the same.
    std::unique_ptr<GuideIndex> buildIndex(std::shared_ptr<const epg::Guide> guide, GuideIndex *previous = nullptr);
    void compile(RuleState &rs);
    void rebuildRuleMaps();
    Candidate candidate(const GuideIndex &ix, const epg::Airing &a, const RuleState &rs, bool deferIdentity = false) const;
    /// The rule's candidates in the current index; with deferIdentity, without their identities.
    /// With regexTitles, a regex rule takes the title refs there (matchRegexTitles) instead of
    /// trying every title.
    void matchRule(RuleState &rs, bool deferIdentity = false, const std::vector<int> *regexTitles = nullptr);
    /// Every regex rule's matching title refs, by rule slot (ascending refs).
    std::vector<std::vector<int>> matchRegexTitles() const;
    /// matchRule() for every rule, on options.matchThreads threads.
    void matchAll();
    QList<int> rulesFor(const GuideIndex &ix, const epg::Airing &a) const;
    SchedulePlan plan(qint64 now);
    /// The greedy plan in priority order (pass 1, pass 2, outcomes): a full evaluation's.
    SchedulePlan fullPlan(qint64 now);
    /// The last plan repaired where the rules' matches, the time or the history changed.
    SchedulePlan repairPlan(qint64 now);

    // Planning: the state of the plan being made (planNow, archived, ... set by startPlanning()).
    /// The episodes a repair plans again, in the priority order (Private::queueKey).
    using RepairQueue = std::set<std::pair<qint64, int>>;
    /// What a repair has changed so far.
    struct Repair
    {
        DirtyMinutes diff;         ///< placements changed, per minute (tagged by episode id): the recordings a conflict names
        DirtyMinutes room;         ///< the same untagged: where the capacity differs (a conflict's alternatives)
        std::vector<char> changed; ///< per slot: its episodes changed (its outcomes are made again)
        /// Placements taken away and not put back: epoch minutes [from, to), node, channel, slot
        /// -> how many times (a placement made again cancels one).
        std::map<std::array<int, 5>, int> freed;
        QHash<int, int> depth;             ///< displaced episode -> displacements in the chain before it
        QHash<int, QString> displacedNote; ///< displaced episode -> "moved to make room for ..."
        /// Conflicts queued only because capacity was freed in their minutes -> their airings
        /// there: only those can fit now, or have only later recordings in their way.
        QHash<int, std::vector<int>> freedOnly;
        int repaired = 0, displaced = 0;
        int triesSpared = 0; ///< queued episodes left conflicts by their FailedTry
        size_t offered = 0;  ///< conflicts offered freed capacity (each round's, once each)
        /// Episodes (un)placed: their placement before the repair first touched them. A rule's
        /// outcomes are made again only when one of its episodes ends up placed differently (a
        /// move tried and undone, a recording displaced and put back, change nothing).
        struct Placement
        {
            int chosen = -1, node = -1, from = 0, to = 0;
            QString note;
        };
        QHash<int, Placement> placedBefore;
        void remember(int id, const Episode &e)
        {
            if (!placedBefore.contains(id))
                placedBefore.insert(id, {e.chosen, e.node, e.from, e.to, e.note});
        }
        /// Marks `changed` the rules of the episodes placed otherwise than before (and them dirty).
        void settlePlacements(std::vector<Episode> &episodes)
        {
            for (auto it = placedBefore.cbegin(); it != placedBefore.cend(); ++it) {
                Episode &e = episodes[size_t(it.key())];
                const Placement &was = *it;
                if (e.slot >= 0
                    && (e.chosen != was.chosen || e.node != was.node
                        || (e.chosen >= 0 && (e.from != was.from || e.to != was.to || e.note != was.note)))) {
                    changed[size_t(e.slot)] = 1;
                    e.outcomeDirty = true;
                }
            }
            placedBefore.clear();
        }
    };
    Repair *repair = nullptr; ///< set while a repair runs: placements record what they change
    qint64 planNow = 0;
    std::vector<char> archived; ///< per channel key: in a permanent archive (costs no capacity)
    DuplicateIndex historyIndex;
    QHash<qint64, int> keptOfRule;
    std::vector<int> position;    ///< rule slot -> its place in the priority order
    /// An episode's place in the priority order (its rule's position, then its rank), and its id to
    /// tell apart in a set: what the repair's queue and its "later in the order" checks compare.
    using QueueKey = std::pair<qint64, int>;
    QueueKey queueKey(int id) const
    {
        const Episode &e = state.episodes[size_t(id)];
        return {(qint64(position[size_t(e.slot)]) << 32) | qint64(quint32(e.rank)), id};
    }
    /// Notes a change of the book over epoch minutes [from, to) (PlanState::clock).
    void bookChanged(int from, int to)
    {
        if (from >= to)
            return;
        ++state.clock;
        const int first = std::max(from / 60 - state.conflictHourBase, 0), last = (to - 1) / 60 - state.conflictHourBase;
        if (last < 0)
            return;
        if (state.hourChanged.size() <= size_t(last))
            state.hourChanged.resize(size_t(last) + 1, 0);
        for (int h = first; h <= last; ++h)
            state.hourChanged[size_t(h)] = state.clock;
    }
    /// Whether the book read by a failed try is as it was then (and the time is the same).
    bool unchangedSince(const FailedTry &t) const
    {
        if (t.now != planNow)
            return false;
        for (const auto &[first, last] : t.hours)
            for (int h = std::max(first - state.conflictHourBase, 0);
                 h <= last - state.conflictHourBase && size_t(h) < state.hourChanged.size(); ++h)
                if (state.hourChanged[size_t(h)] > t.clock)
                    return false;
        return true;
    }
    void startPlanning(qint64 now);
    std::pair<qint64, qint64> intervalOf(const RuleState &rs, const Candidate &c) const
    {
        return {std::max(planNow, c.start - rs.rule.prePadding), c.stop + rs.rule.postPadding};
    }
    /// Places (unplaces) an episode's recording in the book; with `freeing`, the minutes count as
    /// freed (offered to the conflicts in them) unless the same placement is made again.
    void bookPlace(int id, int ci, int node);
    void bookUnplace(int id, bool freeing);
    /// A re-grouped rule's new episode `id` takes over the placement of its old episode `old`, a
    /// recording of the same airing `ci` (unchanged, and the same span: time has not moved).
    void takePlacementOver(int old, int id, int ci);
    /// Counts an episode as planned or not (keep-N, duplicates across rules).
    void setPlanned(int id, bool planned);
    bool tryPlace(int id, int ci);
    bool keepReached(int slot) const;
    /// The history, duplicate-across-rules and keep-N checks: true when one settles the episode
    /// (its status set), false when it is left to capacity (status Conflict until placed). An
    /// episode whose reason or what it names changed is marked Episode::outcomeDirty.
    bool settledBeforeCapacity(int id);
    bool settleBeforeCapacity(int id);
    /// Groups the rule's candidates (not ended, not filtered) into new episodes.
    void groupEpisodes(int slot);
    /// A re-matched rule's candidates grouped into episodes, as groupEpisodes() groups them, from
    /// its last grouping (`was`: its groupOf then, `oldIds`: its episodes then by rank) and its
    /// candidateEdits: only the candidates the change may concern are found again (regroup.h).
    /// An episode whose members are all as they were keeps its id, state and airing list (its
    /// candidate indexes made those of now; keptOld[its old rank] set); the others take new ids.
    /// Whole, and no id kept, when the edits do not tell the candidates apart. Returns the
    /// candidates found again (all when grouped whole). In two steps: regroupFind() reads and
    /// changes nothing (the re-matched rules' are made on the threads), regroupEpisodes() applies.
    struct Regrouping
    {
        bool whole = false;             ///< grouped whole: `episodes` numbered from 0, `groupOf`
        std::vector<Episode> episodes;
        std::vector<int> groupOf;
        EpisodeGrouping g;              ///< else: the grouping now, and per candidate now
        std::vector<int> before;        ///< its episode's rank in the last grouping (-1 none)
        std::vector<char> changed;      ///< it came, or its eligibility changed
        std::vector<int> nowOf;         ///< candidate index then -> now (-1 removed)
        std::vector<int> same, members; ///< per episode now: its rank before if all its members were in it, its members
        size_t asked = 0;               ///< candidates found again
    };
    /// The grouping of `slot`'s candidates now from its last one (`was`: its groupOf then), with
    /// `index` as scratch: a function of the rule's candidates, edits and last episodes only, so
    /// every re-matched rule's is made at once (on the threads), before any is applied.
    Regrouping regroupFind(int slot, const std::vector<int> &was, DuplicateIndex &index) const;
    size_t regroupEpisodes(int slot, Regrouping found, const std::vector<int> &oldIds, std::vector<char> &keptOld,
                           Renumbering *renumbering = nullptr);
    /// The grouping itself: the rule's episodes appended to `episodes`, numbered from `base`
    /// (groupOf: per candidate, its episode's number or -1). `local` is a scratch index.
    void groupInto(int slot, DuplicateIndex &local, std::vector<int> &groupOf, std::vector<Episode> &episodes,
                   int base) const;
    DuplicateIndex groupIndex; ///< groupEpisodes()' scratch index
    /// groupEpisodes() for every valid, enabled rule (a full plan), on the threads.
    void groupAllEpisodes();
    /// Adds a conflict to PlanState::conflictsByHour (once: its spans only shrink).
    void indexConflict(int id);
    /// The conflicts that may have an airing in the epoch minutes [from, to) (a superset), added
    /// to `out` (unsorted, maybe repeated); stale entries of the hours read are dropped.
    void conflictsIn(int from, int to, std::vector<int> &out);
    /// The rules' reports in priority order; `reported` gets the slots reported.
    QList<RuleReport> ruleReports(std::vector<int> *reported = nullptr) const;
    /// Appends the rule's report if it has one.
    bool reportOf(int slot, QList<RuleReport> &out) const;
    /// A repair's reports: those of the last plan's reported rules and of `changed` (the rules
    /// re-matched) made again (PlanState::reported kept).
    QList<RuleReport> ruleReportsAfter(std::vector<int> changed);
    /// An episode a repair found fitting on none of the airings it tries (`airings`, its
    /// candidate indexes): the streams in the way of each (CapacityBook::overlapping, the first
    /// MaxMovesTried), asked once, for its move and then its displacement. What is in the way
    /// depends only on the placements in the book, and a move tried and undone, or a displacement
    /// undone, puts the same placements back.
    struct Blocked
    {
        explicit Blocked(std::vector<int> tried)
            : airings(std::move(tried))
            , way(airings.size())
            , asked(airings.size(), 0)
        {
        }
        std::vector<int> airings;
        std::vector<std::vector<int>> way;
        std::vector<char> asked;
        /// Epoch minutes [from, to) of the airings a move tried to take a recording in the way to
        /// (what a failed try read besides the episode's own airings: FailedTry).
        std::vector<std::pair<int, int>> movesTried;
    };
    /// What is in the way of blocked.airings[k].
    const std::vector<int> &inTheWay(Blocked &blocked, const RuleState &rs, size_t k) const;
    /// Pass 2's second chance: one recording in the way (for which movable() holds) moves to
    /// another airing of its own episode so that this one fits. Places the episode if so. With
    /// `blocked` (a repair), only its airings are tried, known to fit nowhere now.
    template<typename Movable>
    bool moveOneBlocker(int id, Movable movable, Blocked *blocked = nullptr);
    /// Keeps a failed try of the episode (FailedTry): its airings' hours and those of what is in their way.
    void rememberFailedTry(int id, const Blocked &blocked);
    /// A repair's last resort: the episode, fitting on none of blocked.airings, takes the place
    /// of recordings later in the order on the earliest of them where that makes room.
    bool displace(int id, RepairQueue &queue, Blocked &blocked);
    /// Queues the rule's episodes held back by keep-N when it plans fewer than it may keep.
    void requeueHeldBack(int slot, RepairQueue &queue);
    /// A conflict's alternatives (into `memo`: them, the minutes read); memo.airings, when set, is
    /// taken as the episode's airings elsewhere, else found.
    void alternativesFor(int id, AlternativesMemo &memo) const;
    /// The rules' outcomes (made again for `rebuild`, the others kept) and the plan's lists; with
    /// `merge`, the recordings of the rules kept are taken from `before` in order.
    /// A repair's conflicts reuse their alternatives when none of the minutes they read is in
    /// `diff` (the minutes where the capacity differs), the time is the same (or they read nothing
    /// near it) and their title's airings did not change.
    void makeOutcomes(SchedulePlan &out, const std::vector<char> &rebuild, const SchedulePlan &before, bool merge,
                      const DirtyMinutes *diff = nullptr, qint64 lastNow = 0, const DirtyMinutes *ways = nullptr);
    AiringRef ref(const RuleState &rs, const Candidate &c) const
    {
        return {rs.rule.id, channelNames[c.channel], c.start, c.stop, titleNames[c.title]};
    }

    // The plan's part (plan() and what update() tells of it).
    /// The recordings of the rules whose outcomes the last plan rebuilt: (before, after) per rule;
    /// meaningful when changesKnown (the plan before was kept to compare with).
    std::vector<std::pair<QList<PlannedRecording>, QList<PlannedRecording>>> changedParts;
    bool changesKnown = false;
    /// Scratch kept between plans (each as large as the rules or the episodes: allocated anew per
    /// plan, they came from fresh pages every time): makeOutcomes' per-slot recordings and keys
    /// of the rebuilt rules before (empty again when it returns), the repair's marks of the
    /// episodes listed (all 0 between uses).
    std::vector<QList<PlannedRecording>> wasRecordingsScratch;
    std::vector<std::vector<RecordingKey>> wasKeysScratch;
    std::vector<char> listedScratch;

    // Matching (GuideIndex, buildIndex, matchRule, matchAll, rulesFor).
    /// Title ref -> the regex rule slots matching it; a memo across guide versions (title refs are
    /// the scheduler's), cleared when the rules change.
    mutable QHash<int, QList<int>> regexSlotsByTitle;
};

std::unique_ptr<GuideIndex> Scheduler::Private::buildIndex(std::shared_ptr<const epg::Guide> guide, GuideIndex *previous)
{
    GuideIndex::Keys keys{[this](const QString &id) { return channelKey(id); },
                          [this](const QString &title) { return titleRef(title); }};
    std::unique_ptr<GuideIndex> ix = GuideIndex::build(std::move(guide), previous, threads(), keys);
    rankChannels();
    qCDebug(lcScheduler) << "index:" << ix->partsMade << "of" << ix->parts.size() << "channel parts made,"
                         << ix->handleBase.back() << "channel programmes of" << ix->guide->programmeCount() << "programmes";
    return ix;
}

void Scheduler::Private::compile(RuleState &rs)
{
    const RecordingRule &r = rs.rule;
    rs.valid = r.validate(&rs.error);
    if (!rs.valid) // a rule stored before a check it fails (reported with it, the others plan)
        qCWarning(lcScheduler).noquote() << "rule" << r.id << "is refused, not scheduled:" << rs.error;
    rs.titleKey = r.kind == RuleKind::Title ? titleKey(r.title) : 0;
    rs.seriesKey = r.kind == RuleKind::SeriesId ? seriesKey(r.seriesId) : 0;
    rs.regex = r.kind == RuleKind::Regex && rs.valid ? TitlePattern(r.pattern) : TitlePattern();
    rs.channel = r.channelId.isEmpty() ? -1 : channelKey(r.channelId);
    rs.viewer = viewerKey(r.owner);
    // Only a checked id: a zone id is opened as a file below zoneinfo (a path would be followed).
    rs.zone = r.window.timeZone.isEmpty() || !rs.valid ? QTimeZone() : timeZoneFromId(r.window.timeZone);
    rankChannels();
}

void Scheduler::Private::rebuildRuleMaps()
{
    titleRules.clear();
    seriesRules.clear();
    regexRules.clear();
    singleRules.clear();
    viewerOfRule.clear();
    std::vector<int> live; // the slots that are not tombstones (removed)
    live.reserve(rules.size());
    for (int s = 0; s < int(rules.size()); ++s) {
        const RuleState &rs = rules[size_t(s)];
        if (rs.removed)
            continue;
        live.push_back(s);
        viewerOfRule.insert(rs.rule.id, rs.viewer);
        if (!rs.valid)
            continue;
        switch (rs.rule.kind) {
        case RuleKind::Single: singleRules[{rs.channel, rs.rule.start}].append(s); break;
        case RuleKind::SeriesId: seriesRules[rs.seriesKey].append(s); break;
        case RuleKind::Title: titleRules[rs.titleKey].append(s); break;
        case RuleKind::Regex: regexRules.append(s); break;
        }
    }
    // The priority order (rule.h, priorityOrder): a viewer's priority orders its own rules only.
    order = priorityOrder(int(live.size()), [&](int i) -> const RecordingRule & { return rules[size_t(live[size_t(i)])].rule; });
    for (int &at : order)
        at = live[size_t(at)];
    regexSlotsByTitle.clear();
}

Candidate Scheduler::Private::candidate(const GuideIndex &ix, const epg::Airing &a, const RuleState &rs,
                                        bool deferIdentity) const
{
    Candidate c;
    c.channel = ix.channelKey[a.channel];
    c.start = a.start;
    c.stop = a.stop;
    c.flags = a.flags;
    const quint32 h = ix.handleOf(a);
    c.title = ix.titleOfAiring(a);
    if (rs.rule.isSeries()) {
        if (!rs.rule.window.contains(a.start, rs.zone))
            c.filter = quint8(SkipReason::OutsideWindow);
        else if (rs.rule.newOnly && isRepeat(a.flags))
            c.filter = quint8(SkipReason::NotNew);
    }
    if (c.filter == NoFilter && !cancelled.isEmpty()) {
        if (const auto it = cancelled.constFind(rs.rule.id);
            it != cancelled.cend() && it->contains({channelNames[c.channel], a.start}))
            c.filter = quint8(SkipReason::Cancelled);
    }
    c.programme = h;
    // A filtered airing never meets a duplicate check: its identity is not needed (nor computed).
    // matchAll() fills the identities in afterwards, all at once, in the guide's description order.
    if (c.filter == NoFilter && !deferIdentity)
        c.identity = ix.identity(h);
    return c;
}

void Scheduler::Private::matchRule(RuleState &rs, bool deferIdentity, const std::vector<int> *regexTitles)
{
    rs.candidates.clear();
    if (!index || !rs.valid)
        return;
    const GuideIndex &ix = *index;
    const epg::Guide &g = *ix.guide;
    const int guideChannel = rs.rule.channelId.isEmpty() ? -1 : g.channelIndex(rs.rule.channelId);
    if (!rs.rule.channelId.isEmpty() && guideChannel < 0)
        return;
    auto addProgramme = [&](quint32 h) {
        ix.forAiringsOn(h, [&](quint32 i, int channel) {
            const epg::Airing a = g.airingOn(channel, i);
            if (guideChannel < 0 || int(a.channel) == guideChannel)
                rs.candidates.push_back(candidate(ix, a, rs, deferIdentity));
        });
    };
    switch (rs.rule.kind) {
    case RuleKind::Single: {
        const epg::Airing a = g.airingAt(guideChannel, rs.rule.start);
        if (a.isValid() && a.start == rs.rule.start)
            rs.candidates.push_back(candidate(ix, a, rs, deferIdentity));
        break;
    }
    case RuleKind::SeriesId:
        ix.forProgrammesOfSeries(rs.seriesKey, addProgramme);
        break;
    case RuleKind::Title:
        for (const quint32 t : ix.titlesByKey.value(rs.titleKey))
            ix.forProgrammesTitled(t, addProgramme);
        break;
    case RuleKind::Regex:
        if (regexTitles) {
            for (const int t : *regexTitles)
                ix.forProgrammesTitled(quint32(t), addProgramme);
            break;
        }
        for (auto it = ix.channelsByTitle.cbegin(); it != ix.channelsByTitle.cend(); ++it)
            if (rs.regex.matches(titleNames[it.key()]))
                ix.forProgrammesTitled(quint32(it.key()), addProgramme);
        break;
    }
    std::sort(rs.candidates.begin(), rs.candidates.end(),
              [this](const Candidate &a, const Candidate &b) { return candidateLess(a, b); });
}

void Scheduler::Private::matchAll()
{
    // Each rule's match writes only its own candidates and reads the index and the guide (made to
    // be read by several threads). The identities (the costly part: every matched programme's
    // texts normalised and hashed) are computed after, once per programme, in description order.
    const int n = int(rules.size());
    const int workers = std::clamp(threads(), 1, std::max(1, n / 16));
    if (!index) {
        for (RuleState &rs : rules)
            matchRule(rs);
        return;
    }
    QElapsedTimer timer;
    timer.start();
    const double cpu0 = processCpuMs();
    const std::vector<std::vector<int>> regexTitles = matchRegexTitles();
    inChunks(workers, size_t(n), 16, [&](size_t i) { matchRule(rules[i], true, &regexTitles[i]); });
    // Every title has been tried against every regex rule: rulesFor() (an update's rematch) finds
    // them in the memo instead of trying the titles of the airings that change again.
    regexSlotsByTitle.clear();
    if (!regexRules.isEmpty()) {
        for (auto it = index->channelsByTitle.cbegin(); it != index->channelsByTitle.cend(); ++it)
            regexSlotsByTitle.insert(it.key(), {});
        for (const int slot : std::as_const(regexRules))
            for (const int t : regexTitles[size_t(slot)])
                regexSlotsByTitle[t].append(slot);
    }

    const qint64 matchedAt = timer.nsecsElapsed();
    const double matchedCpu = processCpuMs();
    const GuideIndex &ix = *index;
    std::vector<char> needed(ix.handleBase.back(), 0);
    QSet<int> titles;
    for (const RuleState &rs : rules)
        for (const Candidate &c : rs.candidates)
            if (c.filter == NoFilter && !needed[c.programme]) {
                needed[c.programme] = 1;
                titles.insert(c.title);
            }
    // A conflict looks for other airings of its episode among every programme of its title
    // (alternativesFor): their identities are made in the same ordered walk, not one at a time
    // later (each a block of descriptions decompressed for one programme).
    QSet<quint64> keys;
    for (const int t : std::as_const(titles))
        keys.insert(ix.titleKeyOf.value(t));
    for (const quint64 key : std::as_const(keys))
        for (const quint32 t : ix.titlesByKey.value(key))
            ix.forProgrammesTitled(t, [&](quint32 h) { needed[h] = 1; });
    std::vector<quint32> handles;
    for (quint32 h = 0; h < quint32(needed.size()); ++h)
        if (needed[h])
            handles.push_back(h);
    const qint64 neededAt = timer.nsecsElapsed();
    const double neededCpu = processCpuMs();
    const size_t identities = handles.size();
    ix.computeIdentities(std::move(handles), threads());
    const qint64 identitiesAt = timer.nsecsElapsed();
    const double identitiesCpu = processCpuMs();
    inChunks(workers, size_t(n), 16, [&](size_t i) {
        for (Candidate &c : rules[i].candidates)
            if (c.filter == NoFilter)
                c.identity = ix.knownIdentity(c.programme);
    });
    // Wall and CPU (all threads) ms of each step: where a full evaluation's matching goes.
    qCDebug(lcScheduler).nospace() << "match: rules " << matchedAt / 1000000 << " ms wall (CPU "
                                   << qRound(matchedCpu - cpu0) << "), programmes needing identities "
                                   << (neededAt - matchedAt) / 1000000 << " (" << qRound(neededCpu - matchedCpu)
                                   << "), " << identities << " identities " << (identitiesAt - neededAt) / 1000000
                                   << " (" << qRound(identitiesCpu - neededCpu) << "), filled in "
                                   << (timer.nsecsElapsed() - identitiesAt) / 1000000 << " ("
                                   << qRound(processCpuMs() - identitiesCpu) << ")";
}

std::vector<std::vector<int>> Scheduler::Private::matchRegexTitles() const
{
    // Title by title, each tried against the regex rules whose leading literal may begin it: a
    // title's text is read once (rule by rule, every title was a cache miss per rule), and a rule
    // anchored on a literal is tried only on titles starting with its first character (ASCII,
    // caselessly; a title starting beyond ASCII is tried on every rule). TitlePattern::matches()
    // decides as before; this only skips rules that it would reject at the first character.
    std::vector<std::vector<int>> out(rules.size());
    if (regexRules.isEmpty() || !index)
        return out;
    std::array<std::vector<int>, 128> byFirst;
    std::vector<int> anyTitle;
    for (const int s : regexRules) {
        const TitlePattern &p = rules[size_t(s)].regex;
        if (p.isAnchored() && !p.literal().isEmpty())
            byFirst[uchar(p.literal().front())].push_back(s);
        else
            anyTitle.push_back(s);
    }
    std::vector<int> titles;
    titles.reserve(size_t(index->channelsByTitle.size()));
    for (auto it = index->channelsByTitle.cbegin(); it != index->channelsByTitle.cend(); ++it)
        titles.push_back(it.key());
    std::mutex merge;
    std::vector<std::pair<int, int>> found; // (slot, title ref)
    onThreads(threads(), titles.size(), [&](size_t begin, size_t end) {
        std::vector<std::pair<int, int>> mine;
        auto tryRules = [&](const std::vector<int> &slots, int t, const QString &title) {
            for (const int s : slots)
                if (rules[size_t(s)].regex.matches(title))
                    mine.emplace_back(s, t);
        };
        for (size_t i = begin; i < end; ++i) {
            const QString &title = titleNames[titles[i]];
            tryRules(anyTitle, titles[i], title);
            if (title.isEmpty())
                continue;
            char16_t c = title.front().unicode();
            if (c >= 0x80) {
                for (const std::vector<int> &slots : byFirst)
                    tryRules(slots, titles[i], title);
                continue;
            }
            if (c >= u'A' && c <= u'Z')
                c += 32;
            tryRules(byFirst[c], titles[i], title);
        }
        const std::lock_guard lock(merge);
        found.insert(found.end(), mine.begin(), mine.end());
    });
    std::sort(found.begin(), found.end());
    for (const auto &[slot, t] : found)
        out[size_t(slot)].push_back(t);
    return out;
}

QList<int> Scheduler::Private::rulesFor(const GuideIndex &ix, const epg::Airing &a) const
{
    QList<int> out;
    const int channel = ix.channelKey[a.channel];
    const quint32 h = ix.handleOf(a);
    const int t = ix.titleOf(h);
    auto consider = [&](const QList<int> &slots) {
        for (const int s : slots) {
            const RuleState &rs = rules[size_t(s)];
            if (rs.channel < 0 || rs.channel == channel)
                out.append(s);
        }
    };
    // The title key from the current index: it knows every title ref (an update asks for the
    // airings of the last version too).
    consider(titleRules.value(index->titleKeyOf.value(t)));
    if (const quint64 series = ix.seriesOf(h))
        consider(seriesRules.value(series));
    if (!regexRules.isEmpty()) {
        auto it = regexSlotsByTitle.constFind(t);
        if (it == regexSlotsByTitle.cend()) {
            QList<int> slots;
            for (const int s : regexRules)
                if (rules[size_t(s)].regex.matches(titleNames[t]))
                    slots.append(s);
            it = regexSlotsByTitle.insert(t, slots);
        }
        consider(*it);
    }
    consider(singleRules.value({channel, a.start}));
    return out;
}

void Scheduler::Private::startPlanning(qint64 now)
{
    planNow = now;
    const CapacityOptions &cap = options.capacity;
    archived.assign(size_t(channelNames.size()), 0);
    for (int c = 0; c < channelNames.size(); ++c)
        archived[size_t(c)] = cap.archivedChannels.contains(channelNames[c]);
    historyIndex.clear();
    keptOfRule.clear();
    for (const RecordedEpisode &h : std::as_const(history)) {
        historyIndex.add(h.identity, h.ruleId, viewerOf(h));
        if (h.kept)
            ++keptOfRule[h.ruleId];
    }
    position.assign(rules.size(), -1);
    for (size_t i = 0; i < order.size(); ++i)
        position[size_t(order[i])] = int(i);
    repair = nullptr;
}

void Scheduler::Private::bookPlace(int id, int ci, int node)
{
    Episode &e = state.episodes[size_t(id)];
    const RuleState &rs = rules[size_t(e.slot)];
    const Candidate &c = rs.candidates[size_t(ci)];
    const auto [from, to] = intervalOf(rs, c);
    if (repair)
        repair->remember(id, e);
    state.book->place(id, node, c.channel, from, to, archived[size_t(c.channel)]);
    e.chosen = ci;
    e.node = node;
    e.chosenChannel = c.channel;
    e.chosenStart = c.start;
    e.from = e.to = 0;
    if (!archived[size_t(c.channel)])
        std::tie(e.from, e.to) = state.book->epochMinutes(from, to);
    if (repair) {
        bookChanged(e.from, e.to);
        if (!state.failedTries.isEmpty())
            state.failedTries.remove(id);
        repair->diff.change(node, c.channel, e.from, e.to, 1, id);
        repair->room.change(node, c.channel, e.from, e.to, 1);
        // The same placement made again (a try undone, a recording kept): nothing was freed.
        auto &freed = repair->freed;
        const auto it = freed.find({e.from, e.to, node, c.channel, e.slot});
        if (it != freed.end() && --it->second == 0)
            freed.erase(it);
        state.placementChanged.push_back(id);
    }
}

void Scheduler::Private::bookUnplace(int id, bool freeing)
{
    Episode &e = state.episodes[size_t(id)];
    if (e.chosen < 0)
        return;
    state.book->unplace(id);
    if (repair) {
        bookChanged(e.from, e.to);
        repair->remember(id, e);
        repair->diff.change(e.node, e.chosenChannel, e.from, e.to, -1, id);
        repair->room.change(e.node, e.chosenChannel, e.from, e.to, -1);
        if (freeing && e.from < e.to)
            ++repair->freed[{e.from, e.to, e.node, e.chosenChannel, e.slot}];
        state.placementChanged.push_back(id);
    }
    e.chosen = e.node = -1;
}

void Scheduler::Private::takePlacementOver(int old, int id, int ci)
{
    // What bookUnplace(old) then bookPlace(id) at the same node would leave, but the load and
    // streams are not counted out and in again, and neither the capacity (room) nor the freed
    // minutes change. The recordings a conflict names are tagged by episode id: `diff` sees the
    // old id go and the new one come. The rule is re-grouped, so its outcomes are made again
    // whatever `remember` would say.
    Episode &o = state.episodes[size_t(old)];
    Episode &e = state.episodes[size_t(id)];
    state.book->rename(old, id);
    e.chosen = ci;
    e.node = o.node;
    e.chosenChannel = o.chosenChannel;
    e.chosenStart = o.chosenStart;
    e.from = o.from;
    e.to = o.to;
    e.note = o.note;
    if (repair) {
        bookChanged(e.from, e.to); // what is in the way there has other ids, maybe in another order
        repair->diff.change(o.node, o.chosenChannel, o.from, o.to, -1, old);
        repair->diff.change(e.node, e.chosenChannel, e.from, e.to, 1, id);
        state.placementChanged.push_back(old);
        state.placementChanged.push_back(id);
    }
    o.chosen = o.node = -1;
}

void Scheduler::Private::setPlanned(int id, bool planned)
{
    Episode &e = state.episodes[size_t(id)];
    if (planned == (e.plannedEntry >= 0))
        return;
    if (planned) {
        const RuleState &rs = rules[size_t(e.slot)];
        e.plannedEntry = state.plannedIndex.add(rs.candidates[size_t(e.airings.front())].identity, rs.rule.id, rs.viewer);
        if (state.episodeOfEntry.size() <= size_t(e.plannedEntry))
            state.episodeOfEntry.resize(size_t(e.plannedEntry) + 1, -1);
        state.episodeOfEntry[size_t(e.plannedEntry)] = id;
        ++state.plannedOf[size_t(e.slot)];
        if (!std::exchange(state.keepCheck[size_t(e.slot)], 1))
            state.keepQueue.push_back(e.slot);
    } else {
        state.plannedIndex.remove(e.plannedEntry);
        e.plannedEntry = -1;
        if (e.slot >= 0) {
            --state.plannedOf[size_t(e.slot)];
            if (!std::exchange(state.keepCheck[size_t(e.slot)], 1))
                state.keepQueue.push_back(e.slot);
        }
    }
}

bool Scheduler::Private::tryPlace(int id, int ci)
{
    const Episode &e = state.episodes[size_t(id)];
    const RuleState &rs = rules[size_t(e.slot)];
    const Candidate &c = rs.candidates[size_t(ci)];
    const auto [from, to] = intervalOf(rs, c);
    const int node = state.book->choose(c.channel, from, to, archived[size_t(c.channel)]);
    if (node >= 0)
        bookPlace(id, ci, node);
    return node >= 0;
}

std::vector<Scheduler::Private::CommittedPlace> Scheduler::Private::resolveCommitted(QList<IgnoredCommitted> *ignored)
{
    committedKeys.clear();
    std::vector<CommittedPlace> places;
    if (committed.isEmpty())
        return places;
    QHash<qint64, int> slotOf;
    for (int slot = 0; slot < int(rules.size()); ++slot)
        if (!rules[size_t(slot)].removed)
            slotOf.insert(rules[size_t(slot)].rule.id, slot);
    auto ignore = [&](qsizetype entry, const QString &why) {
        const CommittedRecording &c = committed[entry];
        qCDebug(lcScheduler).noquote() << "committed recording of rule" << c.airing.ruleId << "on" << c.airing.channelId
                                       << "at" << timeText(c.airing.start) << "ignored:" << why;
        if (ignored)
            ignored->append({c, why});
    };
    for (qsizetype entry = 0; entry < committed.size(); ++entry) {
        const CommittedRecording &cr = committed[entry];
        const auto slot = slotOf.constFind(cr.airing.ruleId);
        if (slot == slotOf.cend()) {
            ignore(entry, QStringLiteral("its rule is gone"));
            continue;
        }
        const RuleState &rs = rules[size_t(*slot)];
        if (!rs.valid || !rs.rule.enabled) {
            ignore(entry, rs.valid ? QStringLiteral("its rule is disabled") : QStringLiteral("its rule is invalid"));
            continue;
        }
        const int channel = channelIds.value(cr.airing.channelId, -1);
        auto it = std::lower_bound(rs.candidates.cbegin(), rs.candidates.cend(), cr.airing.start,
                                   [](const Candidate &c, qint64 start) { return c.start < start; });
        while (channel >= 0 && it != rs.candidates.cend() && it->start == cr.airing.start && it->channel != channel)
            ++it;
        if (channel < 0 || it == rs.candidates.cend() || it->start != cr.airing.start) {
            ignore(entry, QStringLiteral("its airing is not in the guide, or its rule no longer matches it"));
            continue;
        }
        if (it->stop <= planNow) {
            ignore(entry, QStringLiteral("its airing has ended"));
            continue;
        }
        if (it->filter != NoFilter) {
            ignore(entry, QStringLiteral("its rule leaves the airing out (%1)").arg(skipReasonName(SkipReason(it->filter))));
            continue;
        }
        int node = -1;
        if (archived[size_t(channel)]) {
            node = options.capacity.nodes.isEmpty() ? -1 : 0; // where the book keeps archived placements
        } else {
            for (qsizetype n = 0; n < options.capacity.nodes.size() && node < 0; ++n)
                if (options.capacity.nodes[n].id == cr.nodeId)
                    node = int(n);
        }
        if (node < 0) {
            ignore(entry, QStringLiteral("its node \"%1\" is not a recorder node of the plan").arg(cr.nodeId));
            continue;
        }
        places.push_back({*slot, int(it - rs.candidates.cbegin()), node, int(entry)});
    }
    // In the priority order (an episode two entries hold goes to the first), then by airing.
    std::sort(places.begin(), places.end(), [&](const CommittedPlace &a, const CommittedPlace &b) {
        if (a.slot != b.slot)
            return position[size_t(a.slot)] < position[size_t(b.slot)];
        return a.candidate < b.candidate;
    });
    for (const CommittedPlace &p : places) {
        const Candidate &c = rules[size_t(p.slot)].candidates[size_t(p.candidate)];
        committedKeys.insert({p.slot, c.channel, c.start});
    }
    return places;
}

void Scheduler::Private::placeCommitted(const std::vector<CommittedPlace> &places, QList<IgnoredCommitted> *ignored,
                                        std::set<std::pair<qint64, int>> *queue)
{
    for (const CommittedPlace &p : places) {
        const RuleState &rs = rules[size_t(p.slot)];
        const Candidate &c = rs.candidates[size_t(p.candidate)];
        const std::vector<int> &groupOf = state.groupOf[size_t(p.slot)];
        const int id = size_t(p.candidate) < groupOf.size() ? groupOf[size_t(p.candidate)] : -1;
        if (id < 0) { // not ended, not filtered: in an episode (never met; said rather than trusted)
            const CommittedRecording &cr = committed[p.entry];
            qCWarning(lcScheduler) << "committed recording of rule" << cr.airing.ruleId << "on" << cr.airing.channelId
                                   << "at" << timeText(cr.airing.start) << "is in no episode of its rule: ignored";
            if (ignored)
                ignored->append({cr, QStringLiteral("its airing is in no episode of its rule")});
            committedKeys.erase({p.slot, c.channel, c.start});
            continue;
        }
        Episode &e = state.episodes[size_t(id)];
        if (e.chosen == p.candidate && e.node == p.node)
            continue; // a repair: kept where it records
        if (e.chosen >= 0 && e.chosen != p.candidate && committedKeys.count({p.slot, e.chosenChannel, e.chosenStart})) {
            // Two committed recordings of one episode of one rule: the one placed first holds it (a
            // full plan: the earlier airing; a repair: the one it kept).
            const CommittedRecording &cr = committed[p.entry];
            const QString why = QStringLiteral("another committed recording holds its episode (%1)")
                                    .arg(refText(ref(rs, rs.candidates[size_t(e.chosen)])));
            qCDebug(lcScheduler).noquote() << "committed recording of rule" << cr.airing.ruleId << "on"
                                           << cr.airing.channelId << "at" << timeText(cr.airing.start) << "ignored:" << why;
            if (ignored)
                ignored->append({cr, why});
            committedKeys.erase({p.slot, c.channel, c.start});
            continue;
        }
        if (e.chosen >= 0)
            bookUnplace(id, true);
        const auto [from, to] = intervalOf(rs, c);
        const bool archivedChannel = archived[size_t(c.channel)];
        // A repair placing it again (its airing changed, its rule was edited) takes the streams it
        // needs on its node from recordings not being made, the last in the order first; those
        // still fitting after go back, the others are queued (another airing, or a conflict).
        std::vector<std::pair<int, int>> removed; // (episode id, its candidate), node p.node
        while (queue && !archivedChannel && !state.book->fits(p.node, c.channel, from, to, false)) {
            int latest = -1;
            for (const int b : state.book->overlapping(from, to, c.channel, INT_MAX)) {
                const Episode &x = state.episodes[size_t(b)];
                if (x.node == p.node && !isCommitted(b) && (latest < 0 || queueKey(latest) < queueKey(b)))
                    latest = b;
            }
            if (latest < 0)
                break;
            removed.emplace_back(latest, state.episodes[size_t(latest)].chosen);
            bookUnplace(latest, true);
        }
        if (!state.book->fits(p.node, c.channel, from, to, archivedChannel))
            state.committedOverbooked = true;
        bookPlace(id, p.candidate, p.node);
        setPlanned(id, true);
        state.failedTries.remove(id);
        state.episodes[size_t(id)].outcomeDirty = true;
        if (repair)
            repair->changed[size_t(p.slot)] = 1;
        std::sort(removed.begin(), removed.end(),
                  [&](const auto &x, const auto &y) { return queueKey(x.first) < queueKey(y.first); });
        for (const auto &[b, chosen] : removed) {
            Episode &x = state.episodes[size_t(b)];
            const RuleState &xs = rules[size_t(x.slot)];
            const Candidate &xc = xs.candidates[size_t(chosen)];
            const auto [xFrom, xTo] = intervalOf(xs, xc);
            if (state.book->fits(p.node, xc.channel, xFrom, xTo, archived[size_t(xc.channel)])) {
                bookPlace(b, chosen, p.node); // not in the way after all
                continue;
            }
            setPlanned(b, false);
            requeueHeldBack(x.slot, *queue);
            x.status = SkipReason::Conflict;
            repair->displacedNote.insert(b, QStringLiteral("moved to make room for %1, being recorded").arg(refText(ref(rs, c))));
            repair->freedOnly.remove(b);
            ++repair->displaced;
            queue->insert(queueKey(b));
        }
    }
}

bool Scheduler::Private::keepReached(int slot) const
{
    const RecordingRule &r = rules[size_t(slot)].rule;
    if (r.keep <= 0)
        return false;
    const int kept = r.keepPolicy == KeepPolicy::StopWhenFull ? keptOfRule.value(r.id) : 0;
    return state.plannedOf[size_t(slot)] + kept >= r.keep;
}

bool Scheduler::Private::settledBeforeCapacity(int id)
{
    Episode &e = state.episodes[size_t(id)];
    const SkipReason status = e.status;
    const DuplicateLayer layer = e.layer;
    const AiringRef related = e.related;
    const bool settled = settleBeforeCapacity(id);
    if (e.status != status || e.layer != layer || !(e.related == related))
        e.outcomeDirty = true;
    return settled;
}

bool Scheduler::Private::settleBeforeCapacity(int id)
{
    Episode &e = state.episodes[size_t(id)];
    const RuleState &rs = rules[size_t(e.slot)];
    const RecordingRule &r = rs.rule;
    const EpisodeIdentity &identity = rs.candidates[size_t(e.airings.front())].identity;
    e.related = {};
    e.relatedEpisode = -1;
    e.layer = DuplicateLayer::None;
    if (r.duplicateScope != DuplicateScope::None) {
        const qint64 owner = r.duplicateScope == DuplicateScope::Rule ? (r.id ? r.id : -1) : 0;
        if (const auto m = historyIndex.find(identity, r.duplicateMethod, owner, rs.viewer)) {
            const RecordedEpisode &h = history[m.entry];
            e.status = SkipReason::AlreadyRecorded;
            e.related = AiringRef{h.ruleId, h.channelId, h.recordedAt, 0, h.title};
            e.layer = m.layer;
            return true;
        }
        if (r.duplicateScope == DuplicateScope::AllRules) {
            if (const auto m = state.plannedIndex.find(identity, r.duplicateMethod, 0, rs.viewer)) {
                const Episode &other = state.episodes[size_t(state.episodeOfEntry[size_t(m.entry)])];
                const RuleState &of = rules[size_t(other.slot)];
                e.status = SkipReason::Duplicate;
                e.related = ref(of, of.candidates[size_t(other.chosen)]);
                e.relatedEpisode = state.episodeOfEntry[size_t(m.entry)];
                e.layer = m.layer;
                if (state.duplicatesOf.size() <= size_t(e.relatedEpisode))
                    state.duplicatesOf.resize(std::max(state.episodes.size(), size_t(e.relatedEpisode) + 1));
                state.duplicatesOf[size_t(e.relatedEpisode)].push_back(id);
                return true;
            }
        }
    }
    if (keepReached(e.slot)) {
        e.status = SkipReason::KeepLimit;
        return true;
    }
    e.status = SkipReason::Conflict;
    return false;
}

void Scheduler::Private::groupInto(int slot, DuplicateIndex &local, std::vector<int> &groupOf,
                                   std::vector<Episode> &episodes, int base) const
{
    const RuleState &rs = rules[size_t(slot)];
    const RecordingRule &r = rs.rule;
    const int first = int(episodes.size());
    groupOf.assign(rs.candidates.size(), -1);
    local.clear();
    for (size_t ci = 0; ci < rs.candidates.size(); ++ci) {
        const Candidate &c = rs.candidates[ci];
        if (c.stop <= planNow || c.filter != NoFilter)
            continue;
        if (r.duplicateScope != DuplicateScope::None) {
            if (const auto m = local.find(c.identity, r.duplicateMethod)) {
                groupOf[ci] = base + m.entry;
                episodes[size_t(first + m.entry)].airings.push_back(int(ci));
                continue;
            }
            local.add(c.identity, 0);
        }
        groupOf[ci] = base + int(episodes.size()) - first;
        Episode e;
        e.slot = slot;
        e.rank = int(episodes.size()) - first;
        e.airings.push_back(int(ci));
        episodes.push_back(std::move(e));
    }
}

void Scheduler::Private::groupEpisodes(int slot)
{
    const int base = int(state.episodes.size());
    groupInto(slot, groupIndex, state.groupOf[size_t(slot)], state.episodes, base);
    std::vector<int> &ids = state.ids[size_t(slot)];
    ids.resize(state.episodes.size() - size_t(base));
    std::iota(ids.begin(), ids.end(), base);
    state.groupedAt[size_t(slot)] = planNow;
}

Scheduler::Private::Regrouping Scheduler::Private::regroupFind(int slot, const std::vector<int> &was,
                                                                DuplicateIndex &index) const
{
    Regrouping out;
    const RuleState &rs = rules[size_t(slot)];
    const auto edits = std::as_const(candidateEdits).constFind(slot);
    if (edits == candidateEdits.cend() || edits->whole || edits->before != was.size()
        || edits->before + edits->inserted.size() != rs.candidates.size() + edits->removed.size()) {
        out.whole = true;
        groupInto(slot, index, out.groupOf, out.episodes, 0);
        out.asked = rs.candidates.size();
        return out;
    }
    // Candidate by candidate now: its episode's rank in the last grouping, and whether it came or
    // its eligibility changed since (ended, or filtered: it left its episode).
    const size_t n = rs.candidates.size();
    const qint64 then = state.groupedAt[size_t(slot)];
    out.before.assign(n, -1);
    out.changed.assign(n, 0);
    out.nowOf.assign(was.size(), -1); // candidate index then -> now
    std::vector<int> &before = out.before;
    std::vector<char> &changed = out.changed;
    size_t old = 0, removed = 0, inserted = 0;
    for (size_t i = 0; i < n; ++i) {
        if (inserted < edits->inserted.size() && size_t(edits->inserted[inserted]) == i) {
            changed[i] = 1;
            ++inserted;
            continue;
        }
        while (removed < edits->removed.size() && size_t(edits->removed[removed]) == old) {
            ++removed;
            ++old;
        }
        Q_ASSERT(old < was.size());
        const Candidate &c = rs.candidates[i];
        before[i] = was[old] >= 0 ? state.episodes[size_t(was[old])].rank : -1;
        changed[i] = (c.filter == NoFilter && c.stop > then) != (c.filter == NoFilter && c.stop > planNow);
        out.nowOf[old] = int(i);
        ++old;
    }
    const RecordingRule &r = rs.rule;
    const bool byIdentity = r.duplicateScope != DuplicateScope::None;
    auto identity = [&](size_t i) -> const EpisodeIdentity & { return rs.candidates[i].identity; };
    auto eligible = [&](size_t i) { return rs.candidates[i].stop > planNow && rs.candidates[i].filter == NoFilter; };
    out.g = options.regroupWhole
        ? groupWhole(n, r.duplicateMethod, byIdentity, identity, eligible, index)
        : regroup(n, r.duplicateMethod, byIdentity, identity, eligible, [&](size_t i) { return before[i]; },
                  [&](size_t i) { return changed[i] != 0; }, edits->gone, int(state.ids[size_t(slot)].size()), index);
    out.asked = options.regroupWhole ? n : size_t(out.g.asked);
    // Per episode now: the rank of the episode before all of whose members it has (-1 none), and
    // its members counted; the same when it has as many as that one had.
    out.same.assign(size_t(out.g.episodes), -2);
    out.members.assign(size_t(out.g.episodes), 0);
    for (size_t i = 0; i < n; ++i) {
        const int e = out.g.groupOf[i];
        if (e < 0)
            continue;
        int &s = out.same[size_t(e)];
        const int b = changed[i] ? -1 : before[i];
        s = s == -2 ? b : (s == b ? s : -1);
        ++out.members[size_t(e)];
    }
    return out;
}

size_t Scheduler::Private::regroupEpisodes(int slot, Regrouping found, const std::vector<int> &oldIds,
                                           std::vector<char> &keptOld, Renumbering *renumbering)
{
    if (found.whole) {
        const int base = int(state.episodes.size());
        std::vector<int> &groupOf = state.groupOf[size_t(slot)];
        groupOf = std::move(found.groupOf);
        for (int &id : groupOf)
            if (id >= 0)
                id += base;
        std::move(found.episodes.begin(), found.episodes.end(), std::back_inserter(state.episodes));
        std::vector<int> &ids = state.ids[size_t(slot)];
        ids.resize(state.episodes.size() - size_t(base));
        std::iota(ids.begin(), ids.end(), base);
        state.groupedAt[size_t(slot)] = planNow;
        return found.asked;
    }
    const size_t n = rules[size_t(slot)].candidates.size();
    const EpisodeGrouping &g = found.g;
    const std::vector<int> &before = found.before, &same = found.same, &members = found.members,
                           &nowOf = found.nowOf;
    const std::vector<char> &changed = found.changed;
    std::vector<int> &ids = state.ids[size_t(slot)];
    ids.assign(size_t(g.episodes), -1);
    int fresh = 0;
    for (int e = 0; e < g.episodes; ++e) {
        const int b = same[size_t(e)];
        if (b >= 0 && state.episodes[size_t(oldIds[size_t(b)])].airings.size() == size_t(members[size_t(e)])) {
            ids[size_t(e)] = oldIds[size_t(b)];
            keptOld[size_t(b)] = 1;
        } else {
            ++fresh;
        }
    }
    // The others numbered from the end of the list, as groupEpisodes() numbers them.
    state.episodes.reserve(state.episodes.size() + size_t(fresh));
    // A failed try (FailedTry) of an episode kept holds while the order up to it is the same: the
    // same episodes before it (the rule's first `same` ranks). A recording that changed rank may
    // come before or after another of its rule now: its minutes count as changed.
    int sameOrder = 0;
    while (size_t(sameOrder) < std::min(oldIds.size(), ids.size()) && ids[size_t(sameOrder)] == oldIds[size_t(sameOrder)])
        ++sameOrder;
    for (int e = 0; e < g.episodes; ++e) {
        if (ids[size_t(e)] >= 0) {
            Episode &ep = state.episodes[size_t(ids[size_t(e)])];
            if (e >= sameOrder && !state.failedTries.isEmpty())
                state.failedTries.remove(ids[size_t(e)]);
            if (ep.rank != e && ep.chosen >= 0)
                bookChanged(ep.from, ep.to);
            ep.rank = e;
            for (int &ci : ep.airings)
                ci = nowOf[size_t(ci)];
            if (ep.chosen >= 0)
                ep.chosen = nowOf[size_t(ep.chosen)];
            Q_ASSERT(ep.chosen < 0 || ep.chosen < int(n));
            continue;
        }
        ids[size_t(e)] = int(state.episodes.size());
        Episode ep;
        ep.slot = slot;
        ep.rank = e;
        state.episodes.push_back(std::move(ep));
    }
    std::vector<int> &groupOf = state.groupOf[size_t(slot)];
    groupOf.assign(n, -1);
    for (size_t i = 0; i < n; ++i)
        if (const int e = g.groupOf[i]; e >= 0) {
            const int id = ids[size_t(e)];
            groupOf[i] = id;
            if (before[i] < 0 || changed[i] || oldIds[size_t(before[i])] != id)
                state.episodes[size_t(id)].airings.push_back(int(i));
        }
    state.groupedAt[size_t(slot)] = planNow;
    if (renumbering) {
        const CandidateEdits &edits = *std::as_const(candidateEdits).constFind(slot);
        renumbering->nowOf = std::move(found.nowOf);
        renumbering->inserted = edits.inserted;
        renumbering->removedAt = edits.removedAt;
        renumbering->known = true;
    }
    return found.asked;
}

void Scheduler::Private::groupAllEpisodes()
{
    // Grouping reads only the rule's candidates and the time: every rule is grouped on the
    // threads, then the episodes are numbered in the priority order, as groupEpisodes() one rule
    // after another would number them.
    std::vector<std::vector<Episode>> grouped(rules.size());
    onThreads(threads(), rules.size(), [&](size_t begin, size_t end) {
        DuplicateIndex local;
        for (size_t slot = begin; slot < end; ++slot)
            if (rules[slot].valid && rules[slot].rule.enabled)
                groupInto(int(slot), local, state.groupOf[slot], grouped[slot], 0);
    });
    size_t total = state.episodes.size();
    for (const std::vector<Episode> &g : grouped)
        total += g.size();
    // Room for the episodes the next updates' regroupings add (else the first one moves them all),
    // and for the per-episode lists and the planned index's entries that grow with them (else the
    // first update moves ~140k lists of duplicates to new, page-faulting memory).
    state.episodes.reserve(total + total / 4);
    state.duplicatesOf.reserve(total + total / 4);
    state.episodeOfEntry.reserve(total + total / 4);
    for (const int slot : order) {
        if (!rules[size_t(slot)].valid || !rules[size_t(slot)].rule.enabled)
            continue;
        const int base = int(state.episodes.size());
        for (int &id : state.groupOf[size_t(slot)])
            if (id >= 0)
                id += base;
        std::vector<Episode> &g = grouped[size_t(slot)];
        std::move(g.begin(), g.end(), std::back_inserter(state.episodes));
        std::vector<int> &ids = state.ids[size_t(slot)];
        ids.resize(g.size());
        std::iota(ids.begin(), ids.end(), base);
    }
}

void Scheduler::Private::indexConflict(int id)
{
    Episode &e = state.episodes[size_t(id)];
    if (e.conflictIndexed || e.slot < 0)
        return;
    e.conflictIndexed = true;
    const RuleState &rs = rules[size_t(e.slot)];
    QVarLengthArray<int, 16> hours;
    bool onArchive = false;
    for (const int ci : e.airings) {
        const Candidate &c = rs.candidates[size_t(ci)];
        if (archived[size_t(c.channel)]) {
            onArchive = true;
            continue;
        }
        const auto [a, b] = intervalOf(rs, c);
        const auto [x, y] = state.book->epochMinutes(a, b);
        for (int h = std::max(x / 60, state.conflictHourBase); h <= (y - 1) / 60; ++h)
            if (hours.isEmpty() || hours.back() != h)
                hours.append(h);
    }
    if (onArchive)
        state.conflictsArchived.push_back(id);
    std::sort(hours.begin(), hours.end());
    for (qsizetype i = 0; i < hours.size(); ++i) {
        if (i > 0 && hours[i] == hours[i - 1])
            continue;
        const size_t at = size_t(hours[i] - state.conflictHourBase);
        if (state.conflictsByHour.size() <= at)
            state.conflictsByHour.resize(at + 1);
        state.conflictsByHour[at].push_back(id);
    }
}

void Scheduler::Private::conflictsIn(int from, int to, std::vector<int> &out)
{
    auto isConflict = [&](int id) {
        const Episode &e = state.episodes[size_t(id)];
        return e.slot >= 0 && e.chosen < 0 && e.status == SkipReason::Conflict && !e.airings.empty();
    };
    const int first = std::max(from / 60, state.conflictHourBase);
    const int last = std::min((to - 1) / 60, state.conflictHourBase + int(state.conflictsByHour.size()) - 1);
    for (int h = first; h <= last; ++h) {
        std::vector<int> &ids = state.conflictsByHour[size_t(h - state.conflictHourBase)];
        // Entries of episodes no longer conflicts go (an episode that is again is added again).
        ids.erase(std::remove_if(ids.begin(), ids.end(),
                                 [&](int id) {
                                     if (isConflict(id))
                                         return false;
                                     state.episodes[size_t(id)].conflictIndexed = false;
                                     return true;
                                 }),
                  ids.end());
        out.insert(out.end(), ids.begin(), ids.end());
    }
    for (const int id : state.conflictsArchived)
        if (isConflict(id))
            out.push_back(id);
}

bool Scheduler::Private::reportOf(int slot, QList<RuleReport> &out) const
{
    const RuleState &rs = rules[size_t(slot)];
    const RecordingRule &r = rs.rule;
    if (rs.removed)
        return false;
    if (!rs.valid) {
        out.append({r.id, QStringLiteral("invalid, not scheduled: %1").arg(rs.error)});
        return true;
    }
    if (rs.regex.gaveUp()) {
        out.append({r.id, QStringLiteral("pattern too costly on the guide's title \"%1\" (matching gave up there): it matches "
                                         "nothing more until it is changed; simplify it")
                              .arg(rs.regex.costlyTitle().left(120))});
        return true;
    }
    if (!r.enabled || !rs.candidates.empty())
        return false;
    if (r.kind == RuleKind::Single) {
        if (r.start < planNow)
            return false;
        out.append({r.id, QStringLiteral("no airing starts at %1 on %2 in the guide (removed)").arg(timeText(r.start), r.channelId)});
        return true;
    }
    out.append({r.id, QStringLiteral("no airing in the guide matches")});
    return true;
}

QList<RuleReport> Scheduler::Private::ruleReports(std::vector<int> *reported) const
{
    QList<RuleReport> out;
    if (reported)
        reported->clear();
    for (const int slot : order)
        if (reportOf(slot, out) && reported)
            reported->push_back(slot);
    return out;
}

QList<RuleReport> Scheduler::Private::ruleReportsAfter(std::vector<int> changed)
{
    // A report comes or goes only with a rule's candidates (re-matched rules) or, for a single
    // rule's airing gone, with time (its start passing `now` ends it): the rules reported last
    // time and those re-matched, in priority order.
    changed.insert(changed.end(), state.reported.begin(), state.reported.end());
    std::sort(changed.begin(), changed.end(), [&](int a, int b) { return position[size_t(a)] < position[size_t(b)]; });
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    QList<RuleReport> out;
    state.reported.clear();
    for (const int slot : changed)
        if (size_t(slot) < rules.size() && reportOf(slot, out))
            state.reported.push_back(slot);
    return out;
}

SchedulePlan Scheduler::Private::plan(qint64 now)
{
    if (state.valid && state.ids.size() == rules.size())
        return repairPlan(now);
    return fullPlan(now);
}

SchedulePlan Scheduler::Private::fullPlan(qint64 now)
{
    QElapsedTimer timer;
    timer.start();
    const double cpu0 = processCpuMs();
    // The slots of rules removed while the plan was kept (tombstones) go: the state is made again.
    if (std::any_of(rules.cbegin(), rules.cend(), [](const RuleState &rs) { return rs.removed; })) {
        rules.erase(std::remove_if(rules.begin(), rules.end(), [](const RuleState &rs) { return rs.removed; }), rules.end());
        rebuildRuleMaps();
    }
    startPlanning(now);
    const SchedulePlan before = std::exchange(last, {});
    state = {};
    state.now = now;
    state.book = std::make_unique<CapacityBook>(options.capacity, int(channelNames.size()), now);
    state.ids.assign(rules.size(), {});
    state.groupOf.assign(rules.size(), {});
    state.groupedAt.assign(rules.size(), now);
    state.plannedOf.assign(rules.size(), 0);
    state.keepCheck.assign(rules.size(), 0);
    state.conflictHourBase = state.book->epochMinutes(now, now + 60).first / 60;
    state.outcomes.assign(rules.size(), {});
    rematched.clear();
    rulesChanged.clear();
    reordered = false;
    candidateEdits.clear();
    renumbered.clear();
    cameAirings.clear();
    historyChanged = false;

    // Pass 1: every rule in priority order, each of its episodes taking the earliest airing that
    // fits; the recordings being made (setCommitted) first, where they record.
    groupAllEpisodes();
    QList<IgnoredCommitted> ignoredCommitted;
    placeCommitted(resolveCommitted(&ignoredCommitted), &ignoredCommitted);
    const qint64 grouped = timer.elapsed();
    std::vector<int> dropped;
    for (const int slot : order) {
        const RuleState &rs = rules[size_t(slot)];
        if (!rs.valid || !rs.rule.enabled)
            continue;
        for (const int id : state.ids[size_t(slot)]) {
            if (state.episodes[size_t(id)].chosen >= 0) // committed: placed already
                continue;
            if (settledBeforeCapacity(id))
                continue;
            bool placed = false;
            // Placing changes the episode's placement, never its airings: no copy of them.
            for (const int ci : state.episodes[size_t(id)].airings)
                if ((placed = tryPlace(id, ci)))
                    break;
            if (placed)
                setPlanned(id, true);
            else
                dropped.push_back(id);
        }
    }
    const qint64 pass1 = timer.elapsed();
    const double cpu1 = processCpuMs();

    int lateFits = 0;
    // Pass 2: a dropped episode gets in when one recording blocking it can move to another airing
    // of its own episode. Lower-priority blockers are moved first.
    for (const int id : dropped) {
        const int slot = state.episodes[size_t(id)].slot;
        if (keepReached(slot)) {
            state.episodes[size_t(id)].status = SkipReason::KeepLimit;
            continue;
        }
        moveOneBlocker(id, [&](int b) { return !isCommitted(b); });
        if (state.episodes[size_t(id)].chosen >= 0)
            setPlanned(id, true);
    }
    // Pass 3: a move in pass 2 can leave room that an episode dropped before it could use (the
    // recording moved held more minutes than the one that took its place): the dropped episodes
    // take such room in priority order, so that no conflict fits.
    // One that fits but whose rule has planned as many as it keeps is held back by keep-N.
    for (const int id : dropped) {
        Episode &e = state.episodes[size_t(id)];
        if (e.chosen >= 0)
            continue;
        const bool held = keepReached(e.slot);
        for (const int ci : e.airings)
            if (tryPlace(id, ci)) {
                ++lateFits;
                if (held) {
                    bookUnplace(id, false);
                    e.status = SkipReason::KeepLimit;
                } else {
                    setPlanned(id, true);
                }
                break;
            }
    }
    // A duplicate names the airing its episode is planned at in the end (pass 2 may have moved it).
    for (Episode &e : state.episodes)
        if (e.chosen < 0 && e.status == SkipReason::Duplicate && e.relatedEpisode >= 0) {
            const Episode &to = state.episodes[size_t(e.relatedEpisode)];
            e.related = ref(rules[size_t(to.slot)], rules[size_t(to.slot)].candidates[size_t(to.chosen)]);
        }
    // What a repair reads instead of every episode: the conflicts by hour; keep-N holds for every
    // rule (pass 1 and 3 hold back what it would exceed, nothing is unplanned).
    for (const int id : dropped)
        if (state.episodes[size_t(id)].chosen < 0 && state.episodes[size_t(id)].status == SkipReason::Conflict)
            indexConflict(id);
    std::fill(state.keepCheck.begin(), state.keepCheck.end(), 0);
    state.keepQueue.clear();
    const qint64 pass2 = timer.elapsed();
    const double cpu2 = processCpuMs();

    SchedulePlan out;
    out.ignoredCommitted = std::move(ignoredCommitted);
    out.ruleReports = ruleReports(&state.reported);
    std::vector<char> rebuild(rules.size(), 1);
    makeOutcomes(out, rebuild, before, false);
    state.valid = true;
    qCDebug(lcScheduler) << "full plan:" << state.episodes.size() << "episodes," << dropped.size()
                         << "dropped in pass 1," << lateFits << "placed in pass 3; grouping" << grouped << "ms, pass 1"
                         << pass1 - grouped << "ms, pass 2" << pass2 - pass1 << "ms, outcomes"
                         << timer.elapsed() - pass2 << "ms wall; CPU" << qRound(cpu1 - cpu0) << "/"
                         << qRound(cpu2 - cpu1) << "/" << qRound(processCpuMs() - cpu2) << "ms";
    return out;
}

const std::vector<int> &Scheduler::Private::inTheWay(Blocked &blocked, const RuleState &rs, size_t k) const
{
    if (!blocked.asked[k]) {
        const Candidate &c = rs.candidates[size_t(blocked.airings[k])];
        const auto [from, to] = intervalOf(rs, c);
        blocked.way[k] = state.book->overlapping(from, to, c.channel, MaxMovesTried);
        blocked.asked[k] = 1;
    }
    return blocked.way[k];
}

template<typename Movable>
bool Scheduler::Private::moveOneBlocker(int id, Movable movable, Blocked *blocked)
{
    // One recording in the way is moved to another airing of its own episode if both then fit
    // (among the first MaxMovesTried streams in the way, the last in the priority order first;
    // at most MaxMovesTried moves tried).
    Episode &g = state.episodes[size_t(id)];
    const RuleState &rs = rules[size_t(g.slot)];
    int attempts = 0;
    const std::vector<int> &airings = blocked ? blocked->airings : g.airings;
    std::vector<int> asked;
    for (size_t k = 0; k < airings.size() && attempts < MaxMovesTried; ++k) {
        const int ci = airings[k];
        const Candidate &c = rs.candidates[size_t(ci)];
        const auto [from, to] = intervalOf(rs, c);
        if (!blocked)
            asked = state.book->overlapping(from, to, c.channel, MaxMovesTried);
        const std::vector<int> &way = blocked ? inTheWay(*blocked, rs, k) : asked;
        const bool fitsNow = !blocked && state.book->fitsSomewhere(c.channel, from, to, archived[size_t(c.channel)]);
        for (auto wayIt = way.rbegin(); wayIt != way.rend(); ++wayIt) {
            const int bi = *wayIt;
            Episode &b = state.episodes[size_t(bi)];
            if (b.airings.size() < 2 || !movable(bi))
                continue;
            const RuleState &bs = rules[size_t(b.slot)];
            const int bChosen = b.chosen, bNode = b.node;
            if (!fitsNow && !state.book->mayFitWithout(bi, c.channel, from, to)) {
                // Taking b away cannot make room: each move of b would fail. Counted as tried
                // (the bound stays), without unplacing and placing b again for nothing.
                for (const int alt : b.airings)
                    if (attempts < MaxMovesTried && alt != bChosen && bs.candidates[size_t(alt)].stop > planNow)
                        ++attempts;
                if (attempts >= MaxMovesTried)
                    break;
                continue;
            }
            if (!repair) {
                // A full plan: b is taken away and the episode placed once for all of b's airings
                // tried. Each try of the general way below (b away, the episode placed, b at the
                // airing, else both put back) starts from the same book, so the episode goes to
                // the same node each time and fails each time when it fails once: the same moves
                // are made, the same tries counted. (A repair takes the general way: putting a
                // placement back there also settles the minutes it freed.)
                bool away = false, placed = false;
                for (const int alt : b.airings) {
                    if (attempts >= MaxMovesTried)
                        break;
                    if (alt == bChosen || bs.candidates[size_t(alt)].stop <= planNow)
                        continue;
                    ++attempts;
                    if (!away) {
                        away = true;
                        bookUnplace(bi, false);
                        placed = tryPlace(id, ci);
                    }
                    if (!placed)
                        continue; // counted, as the general way counts each failing try
                    if (tryPlace(bi, alt)) {
                        b.note = QStringLiteral("moved to make room for %1").arg(refText(ref(rs, c)));
                        return true;
                    }
                }
                if (away) {
                    if (placed)
                        bookUnplace(id, false);
                    bookPlace(bi, bChosen, bNode);
                }
                if (attempts >= MaxMovesTried)
                    break;
                continue;
            }
            for (const int alt : b.airings) { // (un)placing b leaves its airings as they are
                if (attempts >= MaxMovesTried)
                    break;
                if (alt == bChosen || bs.candidates[size_t(alt)].stop <= planNow)
                    continue;
                ++attempts;
                // Freeing: what of b's minutes the episode does not take is offered to the
                // conflicts there; putting b back (the move undone) settles them again.
                bookUnplace(bi, true);
                if (tryPlace(id, ci)) {
                    if (blocked && !archived[size_t(bs.candidates[size_t(alt)].channel)]) {
                        const auto [altFrom, altTo] = intervalOf(bs, bs.candidates[size_t(alt)]);
                        blocked->movesTried.push_back(state.book->epochMinutes(altFrom, altTo));
                    }
                    if (tryPlace(bi, alt)) {
                        b.note = QStringLiteral("moved to make room for %1").arg(refText(ref(rs, c)));
                        return true;
                    }
                    bookUnplace(id, false);
                }
                bookPlace(bi, bChosen, bNode);
            }
            if (attempts >= MaxMovesTried)
                break;
        }
    }
    return false;
}

void Scheduler::Private::requeueHeldBack(int slot, RepairQueue &queue)
{
    const RecordingRule &r = rules[size_t(slot)].rule;
    if (r.keep <= 0)
        return;
    const int kept = r.keepPolicy == KeepPolicy::StopWhenFull ? keptOfRule.value(r.id) : 0;
    if (state.plannedOf[size_t(slot)] + kept >= r.keep)
        return;
    for (const int id : state.ids[size_t(slot)]) {
        const Episode &e = state.episodes[size_t(id)];
        if (e.chosen < 0 && e.status == SkipReason::KeepLimit && !e.airings.empty())
            queue.insert(queueKey(id));
    }
}

void Scheduler::Private::rememberFailedTry(int id, const Blocked &blocked)
{
    // What the try read: the book over the episode's airings (what fits, what is in the way, what
    // taking a recording away leaves), and over the airings a move tried to take a recording in
    // the way to. Putting a recording back (a move or a displacement undone) reads nothing.
    FailedTry t;
    t.now = planNow;
    auto read = [&](std::pair<int, int> minutes) {
        if (minutes.first < minutes.second)
            t.hours.emplace_back(minutes.first / 60, (minutes.second - 1) / 60);
    };
    const Episode &e = state.episodes[size_t(id)];
    const RuleState &rs = rules[size_t(e.slot)];
    for (const int ci : blocked.airings) {
        const Candidate &c = rs.candidates[size_t(ci)];
        if (!archived[size_t(c.channel)]) {
            const auto [a, b] = intervalOf(rs, c);
            read(state.book->epochMinutes(a, b));
        }
    }
    for (const auto &minutes : blocked.movesTried)
        read(minutes);
    std::sort(t.hours.begin(), t.hours.end());
    size_t n = 0; // merged
    for (const auto &h : t.hours) {
        if (n && h.first <= t.hours[n - 1].second + 1)
            t.hours[n - 1].second = std::max(t.hours[n - 1].second, h.second);
        else
            t.hours[n++] = h;
    }
    t.hours.resize(n);
    t.clock = state.clock;
    state.failedTries.insert(id, std::move(t));
}

bool Scheduler::Private::displace(int id, RepairQueue &queue, Blocked &blocked)
{
    // The episode fits nowhere: it takes the place of recordings later than it in the priority
    // order, the last first, on the earliest of its airings where removing such recordings makes
    // room. What it displaced and is not needed after all goes back; the rest is planned again
    // (queued: its other airings, or in turn later recordings, or a conflict).
    Episode &e = state.episodes[size_t(id)];
    const QueueKey key = queueKey(id);
    const int chain = repair->depth.value(id);
    if (chain >= MaxDisplacementChain)
        return false;
    const RuleState &rs = rules[size_t(e.slot)];
    for (size_t k = 0; k < blocked.airings.size(); ++k) {
        const int ci = blocked.airings[k];
        const Candidate &c = rs.candidates[size_t(ci)];
        const auto [from, to] = intervalOf(rs, c);
        struct Removed
        {
            QueueKey key;
            int id, chosen, node;
        };
        std::vector<Removed> removed;
        bool fits = false;
        while (int(removed.size()) < MaxMovesTried) {
            // Before any is removed: known to fit nowhere, and what is in the way already asked.
            if (!removed.empty() && state.book->fitsSomewhere(c.channel, from, to, archived[size_t(c.channel)])) {
                fits = true;
                break;
            }
            // The latest stream in the way that comes after this episode.
            int latest = -1;
            QueueKey latestKey{-1, -1};
            std::vector<int> asked;
            if (!removed.empty())
                asked = state.book->overlapping(from, to, c.channel, MaxMovesTried);
            for (const int b : removed.empty() ? inTheWay(blocked, rs, k) : asked) {
                const QueueKey bKey = queueKey(b);
                if (key < bKey && latestKey < bKey && !isCommitted(b)) { // a recording being made stays
                    latest = b;
                    latestKey = bKey;
                }
            }
            if (latest < 0)
                break;
            const Episode &b = state.episodes[size_t(latest)];
            removed.push_back({latestKey, latest, b.chosen, b.node});
            bookUnplace(latest, true);
        }
        if (!fits) {
            for (auto it = removed.rbegin(); it != removed.rend(); ++it)
                bookPlace(it->id, it->chosen, it->node);
            continue;
        }
        tryPlace(id, ci);
        std::sort(removed.begin(), removed.end(), [](const Removed &a, const Removed &b) { return a.key < b.key; });
        for (const Removed &r : removed) {
            Episode &b = state.episodes[size_t(r.id)];
            const RuleState &bs = rules[size_t(b.slot)];
            const Candidate &bc = bs.candidates[size_t(r.chosen)];
            const auto [bFrom, bTo] = intervalOf(bs, bc);
            if (state.book->fits(r.node, bc.channel, bFrom, bTo, archived[size_t(bc.channel)])) {
                bookPlace(r.id, r.chosen, r.node); // not in the way after all
                continue;
            }
            setPlanned(r.id, false);
            requeueHeldBack(b.slot, queue);
            b.status = SkipReason::Conflict;
            repair->displacedNote.insert(r.id, QStringLiteral("moved to make room for %1").arg(refText(ref(rs, c))));
            repair->depth.insert(r.id, chain + 1);
            repair->freedOnly.remove(r.id);
            ++repair->displaced;
            queue.insert(r.key);
        }
        return true;
    }
    return false;
}

SchedulePlan Scheduler::Private::repairPlan(qint64 now)
{
    QElapsedTimer timer;
    timer.start();
    const double cpu0 = processCpuMs();
    const std::vector<int> positionThen = position; // the last plan's order (rules changed since)
    startPlanning(now);
    const SchedulePlan before = last;
    const qint64 was = state.now;
    const bool channelsAdded = state.channelCount != int(channelNames.size());
    state.book->addChannels(int(channelNames.size()));
    const int nowMinute = state.book->epochMinutes(now, now + 60).first;
    Repair ctx{DirtyMinutes(nowMinute, true), DirtyMinutes(nowMinute), std::vector<char>(rules.size(), 0)};
    repair = &ctx;
    // The recordings being made: known from here on (never moved, displaced, cut by keep-N or
    // the history), placed after the history step.
    QList<IgnoredCommitted> ignoredCommitted;
    const std::vector<CommittedPlace> committedPlaces = resolveCommitted(&ignoredCommitted);
    RepairQueue queue; // (order key, episode id): the priority order
    auto enqueue = [&](int id) {
        const Episode &e = state.episodes[size_t(id)];
        if (e.slot >= 0 && !e.airings.empty() && e.chosen < 0)
            queue.insert(queueKey(id));
    };
    auto active = [&](int slot) { return rules[size_t(slot)].valid && rules[size_t(slot)].rule.enabled; };

    // 1. The rules matched again: their candidates are grouped again; an episode whose members
    // are all as they were keeps its id and state, the others are retired (recordings unplaced)
    // and new ones made; each episode keeps the recording of an unchanged airing it had (same
    // node); the others are queued.
    std::vector<int> touched(rematched.cbegin(), rematched.cend());
    std::sort(touched.begin(), touched.end(), [&](int a, int b) { return position[size_t(a)] < position[size_t(b)]; });
    size_t candidatesRegrouped = 0, candidatesAsked = 0, episodesKept = 0;
    // Their groupings now first: each reads only its own rule's candidates, edits and episodes
    // (which the steps below change one rule after another), so they are made at once, on the
    // threads when there is enough to share (SchedulerOptions::regroupOnThreadsFrom).
    std::vector<Regrouping> groupings(touched.size());
    std::vector<size_t> toFind; // indexes into touched, the largest rules first
    for (size_t k = 0; k < touched.size(); ++k)
        if (size_t(touched[k]) < rules.size() && active(touched[k])) {
            toFind.push_back(k);
            candidatesRegrouped += rules[size_t(touched[k])].candidates.size();
        }
    const int regroupThreads = candidatesRegrouped >= size_t(std::max(0, options.regroupOnThreadsFrom))
        ? std::clamp(threads(), 1, std::max(1, int(toFind.size())))
        : 1;
    if (regroupThreads > 1)
        std::stable_sort(toFind.begin(), toFind.end(), [&](size_t a, size_t b) {
            return rules[size_t(touched[a])].candidates.size() > rules[size_t(touched[b])].candidates.size();
        });
    std::atomic<size_t> nextToFind{0};
    auto findGroupings = [&](DuplicateIndex &scratch) {
        for (size_t i = nextToFind++; i < toFind.size(); i = nextToFind++)
            groupings[toFind[i]] = regroupFind(touched[toFind[i]], state.groupOf[size_t(touched[toFind[i]])], scratch);
    };
    std::vector<std::thread> helpers;
    for (int t = 1; t < regroupThreads; ++t)
        helpers.emplace_back([&] {
            DuplicateIndex scratch;
            findGroupings(scratch);
        });
    findGroupings(groupIndex);
    for (std::thread &t : helpers)
        t.join();
    // The epoch minutes of the recordings of rules changed or removed (rulesChanged): all unplaced.
    std::vector<std::pair<int, int>> changedRulesLeft;
    for (size_t at = 0; at < touched.size(); ++at) {
        const int slot = touched[at];
        if (size_t(slot) >= rules.size())
            continue;
        // (channel, start) -> the old episode recording there, its node and note. While time has
        // not moved (the spans are the same), the old episodes stay placed while the new ones are
        // made: a new episode keeping an old one's recording takes its placement over (an episode
        // that kept its id keeps its own), the others are unplaced after, and the book, the
        // minutes changed and the capacity freed end as unplacing them all and placing the kept
        // again (if they fit: they do, the book holds only what it held) make them.
        struct Kept
        {
            int id, node;
            QString note;
        };
        QHash<QPair<int, qint64>, Kept> kept;
        const bool takeOver = now == was;
        // A rule added, changed or removed keeps none of its recordings: its new episodes are
        // queued in the priority order (a changed padding or keep-N, a new duplicate method or
        // place in the order would make a kept one wrong), its old ones are unplaced (freed).
        const bool ruleChanged = rulesChanged.contains(slot);
        const std::vector<int> oldIds = std::move(state.ids[size_t(slot)]);
        state.ids[size_t(slot)].clear();
        for (const int id : oldIds) {
            Episode &e = state.episodes[size_t(id)];
            if (e.chosen >= 0) {
                if (!ruleChanged)
                    kept.insert({e.chosenChannel, e.chosenStart}, {id, e.node, e.note});
                else if (e.from < e.to)
                    changedRulesLeft.emplace_back(e.from, e.to);
                setPlanned(id, false);
                if (!takeOver)
                    bookUnplace(id, true);
            }
        }
        ctx.changed[size_t(slot)] = 1;
        state.groupOf[size_t(slot)].clear(); // its grouping now is in groupings[at]
        std::vector<char> keptOld(oldIds.size(), 0);
        if (active(slot)) {
            Renumbering renumbering;
            candidatesAsked += regroupEpisodes(slot, std::move(groupings[at]), oldIds, keptOld, &renumbering);
            renumbered.insert(slot, std::move(renumbering)); // not known when grouped whole
            const RuleState &rs = rules[size_t(slot)];
            const std::vector<int> &newIds = state.ids[size_t(slot)];
            for (size_t j = 0; j < newIds.size(); ++j) {
                const int id = newIds[j];
                // The first candidate of an episode two turns ahead asked for (its airings are
                // all over the rule's list: mostly a cache miss).
                if (j + 2 < newIds.size()) {
                    const std::vector<int> &ahead = state.episodes[size_t(newIds[j + 2])].airings;
                    if (!ahead.empty() && size_t(ahead.front()) < rs.candidates.size())
                        __builtin_prefetch(rs.candidates.data() + ahead.front());
                }
                const bool settled = settledBeforeCapacity(id);
                bool placed = false;
                for (size_t k = 0; !settled && k < state.episodes[size_t(id)].airings.size(); ++k) {
                    const int ci = state.episodes[size_t(id)].airings[k];
                    const Candidate &c = rs.candidates[size_t(ci)];
                    const auto it = kept.constFind({c.channel, c.start});
                    if (it == kept.cend() || cameAirings.contains({c.channel, c.start}))
                        continue;
                    if (takeOver) {
                        if (it->id != id)
                            takePlacementOver(it->id, id, ci);
                        else // still placed there; its duplicates may name it by a candidate index of before
                            state.placementChanged.push_back(id);
                    } else {
                        const auto [a, b] = intervalOf(rs, c);
                        if (!state.book->fits(it->node, c.channel, a, b, archived[size_t(c.channel)]))
                            continue;
                        bookPlace(id, ci, it->node);
                        state.episodes[size_t(id)].note = it->note;
                    }
                    placed = true;
                    break;
                }
                if (placed) {
                    setPlanned(id, true);
                    continue;
                }
                bookUnplace(id, true); // an episode that kept its id, and not its recording
                if (!settled)
                    enqueue(id);
            }
        }
        for (size_t k = 0; k < oldIds.size(); ++k) {
            if (keptOld[k]) {
                ++episodesKept;
                continue;
            }
            const int id = oldIds[k];
            bookUnplace(id, true);
            state.failedTries.remove(id);
            state.episodes[size_t(id)].slot = -1;
            state.episodes[size_t(id)].airings.clear();
        }
    }
    candidateEdits.clear();
    if (!changedRulesLeft.empty()) {
        // A conflict in the way of a changed rule's old recording may now be blocked only by
        // later ones (in another minute of its airing, where nothing was freed): the freed
        // capacity's offer (4) would not try it, since it does not fit. Every conflict in
        // those minutes is queued, and tries a move and a displacement of later recordings.
        std::vector<int> found;
        for (const auto &[from, to] : changedRulesLeft)
            conflictsIn(from - 1, to + 1, found);
        std::sort(found.begin(), found.end());
        found.erase(std::unique(found.begin(), found.end()), found.end());
        for (const int c : found) {
            const Episode &x = state.episodes[size_t(c)];
            if (x.slot < 0 || x.chosen >= 0 || x.status != SkipReason::Conflict)
                continue;
            state.failedTries.remove(c);
            enqueue(c);
        }
    }
    if (reordered) {
        // 1b. The other rules' order changed (a rule change moved a viewer's rules to other
        // rounds): a rule that became later than another (`demoted`) keeps its recordings, but a
        // conflict of a rule that became earlier than it may now take their place. Such
        // conflicts in the minutes of its recordings are queued, their failed tries forgotten
        // (what they read is the same, their order is not). The slots in the last plan's order,
        // from its end: demoted when a slot after it then is before it now.
        std::vector<int> then;
        for (size_t slot = 0; slot < positionThen.size() && slot < rules.size(); ++slot)
            if (positionThen[slot] >= 0 && position[slot] >= 0)
                then.push_back(int(slot));
        std::sort(then.begin(), then.end(), [&](int a, int b) { return positionThen[size_t(a)] < positionThen[size_t(b)]; });
        int minAfter = INT_MAX;
        std::vector<int> demoted;
        for (auto it = then.rbegin(); it != then.rend(); ++it) {
            if (minAfter < position[size_t(*it)])
                demoted.push_back(*it);
            minAfter = std::min(minAfter, position[size_t(*it)]);
        }
        std::vector<int> found;
        size_t offered = 0;
        for (const int slot : demoted) {
            if (!active(slot) || rematched.contains(slot))
                continue;
            for (const int id : state.ids[size_t(slot)]) {
                const Episode &e = state.episodes[size_t(id)];
                if (e.chosen < 0 || e.from >= e.to) // archived: in no one's way
                    continue;
                found.clear();
                conflictsIn(e.from - 1, e.to + 1, found);
                for (const int c : found) {
                    const Episode &x = state.episodes[size_t(c)];
                    if (x.slot < 0 || x.chosen >= 0 || x.status != SkipReason::Conflict || x.airings.empty()
                        || size_t(x.slot) >= positionThen.size() || positionThen[size_t(x.slot)] < 0
                        || !(position[size_t(x.slot)] < position[size_t(slot)]
                             && positionThen[size_t(x.slot)] > positionThen[size_t(slot)]))
                        continue;
                    state.failedTries.remove(c);
                    enqueue(c);
                    ++offered;
                }
            }
        }
        qCDebug(lcScheduler) << "repair: the order changed," << demoted.size() << "rules became later;" << offered
                             << "conflicts in their recordings' minutes queued";
    }
    if (!touched.empty())
        qCDebug(lcScheduler) << "repair: regrouping" << touched.size() << "rules found" << candidatesAsked << "of"
                             << candidatesRegrouped << "candidates again," << episodesKept << "episodes kept their ids";

    // 2. Time moved on: ended airings leave their episodes (a recording that ended is unplaced
    // and its episode queued when it has airings left, as a full evaluation would plan it again);
    // a recording under way is cut at `now`.
    if (now != was) {
        for (const int slot : order) {
            if (!active(slot) || rematched.contains(slot))
                continue;
            const RuleState &rs = rules[size_t(slot)];
            std::vector<int> &groupOf = state.groupOf[size_t(slot)];
            for (size_t ci = 0; ci < rs.candidates.size(); ++ci) {
                const Candidate &c = rs.candidates[ci];
                if (c.start - rs.rule.prePadding >= now)
                    break;
                if (c.stop > was)
                    ctx.changed[size_t(slot)] = 1; // an outcome that ends now or is cut at now
                const int id = groupOf[ci];
                if (id < 0)
                    continue;
                Episode &e = state.episodes[size_t(id)];
                if (c.stop <= now) {
                    groupOf[ci] = -1;
                    e.airings.erase(std::find(e.airings.begin(), e.airings.end(), int(ci)));
                    if (e.chosen == int(ci)) {
                        setPlanned(id, false);
                        bookUnplace(id, false);
                        enqueue(id);
                    }
                } else if (e.chosen == int(ci)) {
                    const int node = e.node;
                    bookUnplace(id, false);
                    bookPlace(id, int(ci), node);
                }
            }
        }
    }

    // 3. The history changed: episodes recorded meanwhile (or no longer recorded) and keep-N.
    if (historyChanged) {
        for (const int slot : order) {
            if (!active(slot))
                continue;
            const RuleState &rs = rules[size_t(slot)];
            const RecordingRule &r = rs.rule;
            if (r.duplicateScope == DuplicateScope::None || rematched.contains(slot))
                continue;
            const qint64 owner = r.duplicateScope == DuplicateScope::Rule ? (r.id ? r.id : -1) : 0;
            for (const int id : state.ids[size_t(slot)]) {
                Episode &e = state.episodes[size_t(id)];
                if (e.airings.empty() || isCommitted(id)) // being recorded: stays, as in a full plan
                    continue;
                const auto m = historyIndex.find(rs.candidates[size_t(e.airings.front())].identity, r.duplicateMethod, owner,
                                                 rs.viewer);
                if (m) {
                    const RecordedEpisode &h = history[m.entry];
                    const AiringRef related{h.ruleId, h.channelId, h.recordedAt, 0, h.title};
                    if (e.chosen < 0 && e.status == SkipReason::AlreadyRecorded && e.related == related && e.layer == m.layer)
                        continue;
                    if (e.chosen >= 0) {
                        setPlanned(id, false);
                        bookUnplace(id, true);
                    }
                    e.status = SkipReason::AlreadyRecorded;
                    e.related = related;
                    e.layer = m.layer;
                    e.outcomeDirty = true;
                    ctx.changed[size_t(slot)] = 1;
                } else if (e.chosen < 0 && e.status == SkipReason::AlreadyRecorded) {
                    enqueue(id);
                }
            }
        }
    }
    // The recordings being made, where they record (those whose episode lost its placement above,
    // or whose airing came again, or whose rule changed, placed again; the others stay).
    placeCommitted(committedPlaces, &ignoredCommitted, &queue);
    // Keep-N stays true: never more planned than the rule may keep (the last episodes go), and
    // episodes held back by it are planned again when there is room (a recording of the rule
    // went: its airing left the guide or ended, it was recorded, or it was displaced). Only the
    // rules whose planned count changed since they were checked, or all when the kept ones did.
    std::vector<int> keepSlots; // all after a history change, else those whose planned count changed
    if (historyChanged) {
        keepSlots = order;
    } else {
        keepSlots = std::move(state.keepQueue);
        std::sort(keepSlots.begin(), keepSlots.end(),
                  [&](int a, int b) { return position[size_t(a)] < position[size_t(b)]; });
    }
    state.keepQueue.clear();
    for (const int slot : keepSlots) {
        if (!active(slot) || rules[size_t(slot)].rule.keep <= 0 || !(historyChanged || state.keepCheck[size_t(slot)])) {
            state.keepCheck[size_t(slot)] = 0;
            continue;
        }
        state.keepCheck[size_t(slot)] = 0;
        const RecordingRule &r = rules[size_t(slot)].rule;
        const int kept = r.keepPolicy == KeepPolicy::StopWhenFull ? keptOfRule.value(r.id) : 0;
        if (historyChanged)
            ctx.changed[size_t(slot)] = 1; // the kept count its skips show
        const std::vector<int> &ids = state.ids[size_t(slot)];
        for (auto at = ids.rbegin(); at != ids.rend() && state.plannedOf[size_t(slot)] + kept > r.keep; ++at) {
            const int id = *at;
            Episode &e = state.episodes[size_t(id)];
            if (e.chosen < 0 || isCommitted(id))
                continue;
            setPlanned(id, false);
            bookUnplace(id, true);
            e.status = SkipReason::KeepLimit;
            e.outcomeDirty = true;
        }
        requeueHeldBack(slot, queue);
    }
    const qint64 unplaced = timer.elapsed();

    // 4. The queue in priority order, then the capacity freed offered to the conflicts in its
    // minutes, and duplicates whose planned airing went planned again; until nothing is left.
    // The rounds' lists of episodes made unique without sorting them (their order decides
    // nothing: each is checked against the book and queued in the priority order).
    std::vector<char> &listed = listedScratch;
    auto unique = [&](std::vector<int> &ids) {
        if (listed.size() < state.episodes.size())
            listed.resize(state.episodes.size(), 0);
        size_t n = 0;
        for (const int id : ids)
            if (!std::exchange(listed[size_t(id)], 1))
                ids[n++] = id;
        ids.resize(n);
        for (const int id : ids)
            listed[size_t(id)] = 0;
    };
    int rounds = 0;
    for (; rounds < 8; ++rounds) {
        // Time moving on cuts the padding before `now`: a conflict whose airing starts around now
        // may fit in its shorter span though nothing was freed. Offered too, in the first round.
        const bool timeMoved = rounds == 0 && was < now;
        if (!ctx.freed.empty() || timeMoved) {
            // The freed minutes merged, and the conflicts that may have an airing in them (or, as
            // time moved, one whose span now starts at `now`): from the index by hour.
            std::vector<std::pair<int, int>> merged;
            for (const auto &[f, times] : ctx.freed) {
                if (!merged.empty() && f[0] <= merged.back().second)
                    merged.back().second = std::max(merged.back().second, f[1]);
                else
                    merged.push_back({f[0], f[1]});
            }
            ctx.freed.clear();
            auto isFreed = [&](int a, int b) {
                auto it = std::upper_bound(merged.begin(), merged.end(), std::pair<int, int>{a, INT_MAX});
                if (it != merged.begin() && std::prev(it)->second > a)
                    return true;
                return it != merged.end() && it->first < b;
            };
            std::vector<int> offered;
            for (const auto &[x, y] : merged) // a minute more each side: spans round to minutes
                conflictsIn(x - 1, y + 1, offered);
            if (timeMoved)
                conflictsIn(nowMinute - 1, nowMinute + 1, offered);
            unique(offered);
            // In id order: what an offer does to one conflict depends on it alone (its own queue
            // key and airings), and the ids of a rule's episodes are near each other, so its
            // episodes, airing lists and candidates are read in step rather than all over (most
            // of the offer's time was cache misses on them: ~20k conflicts at the benchmark's size).
            std::sort(offered.begin(), offered.end());
            ctx.offered += offered.size();
            // Each conflict's episode, then its airing list, then its first candidate are asked
            // for ahead of their turn (each read needs the one before).
            for (size_t k = 0; k < offered.size(); ++k) {
                const int id = offered[k];
                if (k + 8 < offered.size())
                    __builtin_prefetch(&state.episodes[size_t(offered[k + 8])]);
                if (k + 4 < offered.size())
                    __builtin_prefetch(state.episodes[size_t(offered[k + 4])].airings.data());
                if (k + 2 < offered.size()) {
                    const Episode &ahead = state.episodes[size_t(offered[k + 2])];
                    if (ahead.slot >= 0 && !ahead.airings.empty()) {
                        const std::vector<Candidate> &cs = rules[size_t(ahead.slot)].candidates;
                        if (size_t(ahead.airings.front()) < cs.size())
                            __builtin_prefetch(cs.data() + ahead.airings.front());
                    }
                }
                const Episode &e = state.episodes[size_t(id)];
                if (e.slot < 0 || e.chosen >= 0 || e.status != SkipReason::Conflict || e.airings.empty())
                    continue;
                const RuleState &rs = rules[size_t(e.slot)];
                std::vector<int> there;
                bool cut = false; // by time: tried again, and may displace later recordings
                for (const int ci : e.airings) {
                    const Candidate &c = rs.candidates[size_t(ci)];
                    const auto [a, b] = intervalOf(rs, c);
                    const auto [x, y] = state.book->epochMinutes(a, b);
                    const bool shrunk = timeMoved && a > std::max(was, c.start - rs.rule.prePadding) && b > a;
                    cut = cut || shrunk;
                    if ((archived[size_t(c.channel)] || shrunk || isFreed(x, y))
                        && state.book->fitsSomewhere(c.channel, a, b, archived[size_t(c.channel)]))
                        there.push_back(ci);
                }
                if (there.empty()) {
                    if (cut)
                        enqueue(id);
                    continue;
                }
                const QueueKey key = queueKey(id);
                if (!queue.count(key)) {
                    queue.insert(key);
                    ctx.freedOnly.insert(id, std::move(there));
                } else if (ctx.freedOnly.contains(id)) {
                    std::vector<int> &known = ctx.freedOnly[id];
                    known.insert(known.end(), there.begin(), there.end());
                    std::sort(known.begin(), known.end());
                    known.erase(std::unique(known.begin(), known.end()), known.end());
                }
            }
        }
        // Duplicates of an episode no longer planned are planned again; of one planned at another
        // airing now, name that airing. Only the duplicates of episodes whose placement changed.
        std::vector<int> moved = std::move(state.placementChanged);
        state.placementChanged.clear();
        unique(moved);
        for (const int to : moved) {
            if (size_t(to) >= state.duplicatesOf.size())
                continue;
            std::vector<int> &dups = state.duplicatesOf[size_t(to)];
            auto isDuplicate = [&](int id) {
                const Episode &e = state.episodes[size_t(id)];
                return e.slot >= 0 && e.chosen < 0 && e.status == SkipReason::Duplicate && e.relatedEpisode == to;
            };
            dups.erase(std::remove_if(dups.begin(), dups.end(), [&](int id) { return !isDuplicate(id); }), dups.end());
            std::sort(dups.begin(), dups.end());
            dups.erase(std::unique(dups.begin(), dups.end()), dups.end());
            const Episode &target = state.episodes[size_t(to)];
            for (const int id : std::vector<int>(dups)) {
                Episode &e = state.episodes[size_t(id)];
                if (e.airings.empty())
                    continue;
                if (target.slot < 0 || target.chosen < 0) {
                    enqueue(id);
                    continue;
                }
                const AiringRef is = ref(rules[size_t(target.slot)], rules[size_t(target.slot)].candidates[size_t(target.chosen)]);
                if (!(is == e.related)) {
                    e.related = is;
                    e.outcomeDirty = true;
                    ctx.changed[size_t(e.slot)] = 1;
                }
            }
        }
        if (queue.empty())
            break;
        while (!queue.empty()) {
            const int id = queue.begin()->second;
            queue.erase(queue.begin());
            Episode &e = state.episodes[size_t(id)];
            if (e.slot < 0 || e.chosen >= 0 || e.airings.empty())
                continue;
            const int slot = e.slot;
            const SkipReason status = e.status;
            const AiringRef related = e.related;
            const DuplicateLayer layer = e.layer;
            ++ctx.repaired;
            if (settledBeforeCapacity(id)) {
                if (e.status != status || !(e.related == related) || e.layer != layer)
                    ctx.changed[size_t(slot)] = 1;
                continue;
            }
            e.note = ctx.displacedNote.value(id);
            ctx.freedOnly.remove(id);
            if (const auto memo = state.failedTries.constFind(id); memo != state.failedTries.cend()) {
                // Tried before and failed, and nothing it read changed since: it fails again.
                if (options.memoizeFailedTries && unchangedSince(*memo)) {
                    ++ctx.triesSpared;
                    e.status = SkipReason::Conflict;
                    indexConflict(id);
                    if (status != SkipReason::Conflict) {
                        e.outcomeDirty = true;
                        ctx.changed[size_t(slot)] = 1;
                    }
                    continue;
                }
                state.failedTries.erase(memo);
            }
            bool placed = false;
            for (const int ci : std::vector<int>(e.airings))
                if ((placed = tryPlace(id, ci)))
                    break;
            if (!placed) {
                // A repaired episode, or a conflict offered capacity that a later recording took
                // first in this round, moves or displaces later recordings (on every airing): an
                // earlier one is never left blocked by later ones. Both read what is in the way of
                // each airing once (Blocked).
                const QueueKey key = queueKey(id);
                const bool whole = ctx.depth.value(id) < MaxDisplacementChain; // else no displacement is tried
                Blocked blocked(e.airings);
                placed = moveOneBlocker(id, [&](int b) { return key < queueKey(b) && !isCommitted(b); }, &blocked);
                placed = placed || displace(id, queue, blocked);
                if (!placed && whole)
                    rememberFailedTry(id, blocked);
            }
            if (placed) {
                setPlanned(id, true);
            } else {
                e.status = SkipReason::Conflict;
                indexConflict(id);
                if (status != SkipReason::Conflict) {
                    e.outcomeDirty = true;
                    ctx.changed[size_t(slot)] = 1;
                }
            }
        }
    }
    state.now = now;
    rematched.clear();
    rulesChanged.clear();
    reordered = false;
    cameAirings.clear();
    historyChanged = false;
    const qint64 repaired = timer.elapsed();
    const double cpu1 = processCpuMs();

    // 5. Outcomes: the rules whose episodes changed, and those whose conflicts read minutes where
    // the book changed (the recordings in their way, their alternatives) or a title whose airings
    // came or went.
    ctx.settlePlacements(state.episodes);
    ctx.diff.freeze();
    ctx.room.freeze();
    std::vector<char> rebuild = std::move(ctx.changed);
    std::atomic<int> rebuiltForConflicts{0}, patched{0};
    growTitleKeys();
    const bool conflictsMayDiffer = !ctx.diff.isClean() || !retitled.isEmpty() || now != was;
    // The rules kept whose conflicts may read differently: each is patched on its own (its
    // outcomes only), on every core.
    std::vector<int> toPatch;
    for (const int slot : order) {
        if (!active(slot) || rebuild[size_t(slot)] || !(conflictsMayDiffer || channelsAdded))
            continue;
        if (channelsAdded)
            rebuild[size_t(slot)] = 1;
        else if (!state.outcomes[size_t(slot)].conflictSkips.empty())
            toPatch.push_back(slot);
    }
    inChunks(std::clamp(threads(), 1, std::max(1, int(toPatch.size()) / 8)), toPatch.size(), 4, [&](size_t i) {
        const int slot = toPatch[i];
        // The rule's episodes are as they were: only its conflicts may read differently (the
        // recordings in their way, their alternatives). Each whose minutes changed is asked again
        // (what a rebuilt rule would do) and compared with its skip, which costs far less than
        // making the rule's outcomes again.
        const RuleState &rs = rules[size_t(slot)];
        RuleOutcomes &o = state.outcomes[size_t(slot)];
        const std::vector<int> &groupOf = state.groupOf[size_t(slot)];
        bool dirty = false;
        int alternativesOf = -1;
        // Skips whose recordings in the way or alternatives differ: patched in place (the rule's
        // other outcomes are what they were).
        std::vector<std::pair<size_t, QList<AiringRef>>> newRelated, newAlternatives; // by conflictSkips index
        std::vector<int> way; // the recordings in the way of the conflict asked about (reused)
        QList<AiringRef> episodeAlternatives;
        bool alternativesDiffer = false;
        for (size_t at = 0; at < o.conflictSkips.size(); ++at) {
            // Its skip, candidate and episode asked for ahead of their turn (each read is
            // mostly a cache miss: rules' conflicts are all over the plan).
            if (at + 3 < o.conflictSkips.size()) {
                const ConflictSkip &ahead = o.conflictSkips[at + 3];
                if (size_t(ahead.candidate) < rs.candidates.size() && size_t(ahead.candidate) < groupOf.size()) {
                    __builtin_prefetch(rs.candidates.data() + ahead.candidate);
                    __builtin_prefetch(groupOf.data() + ahead.candidate);
                }
                if (ahead.part < std::as_const(o.skipped).size()
                    && ahead.at < std::as_const(o.skipped)[ahead.part].size())
                    __builtin_prefetch(std::as_const(o.skipped)[ahead.part].constData() + ahead.at);
            }
            if (at + 1 < o.conflictSkips.size()) {
                const int next = o.conflictSkips[at + 1].candidate;
                if (size_t(next) < groupOf.size() && groupOf[size_t(next)] >= 0)
                    __builtin_prefetch(&state.episodes[size_t(groupOf[size_t(next)])]);
            }
            const ConflictSkip &cs = o.conflictSkips[at];
            const int ci = cs.candidate;
            const Candidate &c = rs.candidates[size_t(ci)];
            const int id = size_t(ci) < groupOf.size() ? groupOf[size_t(ci)] : -1;
            const SkippedAiring &sk = std::as_const(o.skipped)[cs.part][cs.at];
            // The rule's episodes did not change: its conflicts are where its outcomes put them
            // (checked, and made again if not).
            if (id < 0 || c.stop <= now || sk.reason != SkipReason::Conflict || sk.airing.start != c.start
                || state.episodes[size_t(id)].chosen >= 0 || state.episodes[size_t(id)].status != SkipReason::Conflict) {
                dirty = true;
                break;
            }
            const auto [a, b] = intervalOf(rs, c);
            const auto [x, y] = state.book->epochMinutes(a, b);
            if (ctx.diff.anyWithin(cs.reach, x, y)) {
                // The recordings in the way now, compared with those the skip names (made only
                // when they differ). Only a change where the last answer read can change it.
                CapacityBook::Reach reach;
                state.book->overlapping(a, b, c.channel, MaxConflictsNamed, reach, way);
                o.conflictSkips[at].reach = reach;
                bool same = qsizetype(way.size()) == sk.relatedTo.size();
                for (size_t w = 0; same && w < way.size(); ++w) {
                    const Episode &e2 = state.episodes[size_t(way[w])];
                    const RuleState &r2 = rules[size_t(e2.slot)];
                    const Candidate &c2 = r2.candidates[size_t(e2.chosen)];
                    const AiringRef &had = sk.relatedTo[qsizetype(w)];
                    same = had.ruleId == r2.rule.id && had.start == c2.start && had.stop == c2.stop
                        && sameText(had.channelId, std::as_const(channelNames)[c2.channel])
                        && sameText(had.title, std::as_const(titleNames)[c2.title]);
                }
                if (!same) {
                    QList<AiringRef> names;
                    names.reserve(qsizetype(way.size()));
                    for (const int in : way) {
                        const Episode &e2 = state.episodes[size_t(in)];
                        names.append(ref(rules[size_t(e2.slot)], rules[size_t(e2.slot)].candidates[size_t(e2.chosen)]));
                    }
                    newRelated.emplace_back(at, std::move(names));
                }
            }
            if (alternativesOf == id) {
                if (alternativesDiffer)
                    newAlternatives.emplace_back(at, episodeAlternatives);
                continue;
            }
            alternativesDiffer = false;
            alternativesOf = id;
            auto it = o.alternatives.find(id);
            bool again = it == o.alternatives.end() || episodeRetitled(id);
            if (!again)
                for (const auto &[x0, y0] : it->read)
                    if ((again = ctx.room.any(x0, y0) || (now != was && x0 < nowMinute + 7 * 60)))
                        break;
            if (again) {
                AlternativesMemo memo;
                if (it != o.alternatives.end() && !episodeRetitled(id)) {
                    memo.airings = it->airings; // the same airings of its episode: only their room changed
                    memo.own = it->own;
                }
                alternativesFor(id, memo);
                alternativesDiffer = memo.alternatives != sk.alternatives;
                episodeAlternatives = memo.alternatives;
                if (alternativesDiffer)
                    newAlternatives.emplace_back(at, episodeAlternatives);
                o.alternatives.insert(id, std::move(memo));
            }
        }
        if (!dirty && (!newRelated.empty() || !newAlternatives.empty())) {
            // Only the parts of the skips patched are copied (when shared with the last plan).
            for (auto &[k, names] : newRelated)
                o.skipped[o.conflictSkips[k].part][o.conflictSkips[k].at].relatedTo = std::move(names);
            for (auto &[k, alternatives] : newAlternatives)
                o.skipped[o.conflictSkips[k].part][o.conflictSkips[k].at].alternatives = std::move(alternatives);
            ++patched;
        }
        if (dirty) {
            rebuild[size_t(slot)] = 1;
            ++rebuiltForConflicts;
        }
    });
    SchedulePlan out;
    out.ignoredCommitted = std::move(ignoredCommitted);
    out.ruleReports = ruleReportsAfter(touched);
    repair = nullptr;
    makeOutcomes(out, rebuild, before, !channelsAdded, &ctx.room, was, &ctx.diff);
    qCDebug(lcScheduler) << "repair:" << touched.size() << "rules re-grouped," << ctx.repaired << "episodes repaired,"
                         << ctx.displaced << "displaced," << ctx.triesSpared << "tries spared," << rounds << "rounds,"
                         << ctx.offered << "conflicts offered freed capacity;"
                         << std::count(rebuild.begin(), rebuild.end(), 1) << "rules' outcomes rebuilt ("
                         << rebuiltForConflicts.load() << "for their conflicts)," << patched.load()
                         << "rules' conflicts patched; unplace" << unplaced << "ms, repair"
                         << repaired - unplaced << "ms, outcomes" << timer.elapsed() - repaired << "ms wall; CPU"
                         << qRound(cpu1 - cpu0) << "/" << qRound(processCpuMs() - cpu1) << "ms";
    return out;
}

void Scheduler::Private::alternativesFor(int id, AlternativesMemo &memo) const
{
    // Airings of the same episode anywhere in the guide that fit now: the alternatives of a conflict.
    memo.alternatives.clear();
    memo.read.clear();
    const GuideIndex *ix = index.get();
    if (!ix)
        return;
    const Episode &g = state.episodes[size_t(id)];
    const RuleState &rs = rules[size_t(g.slot)];
    const Candidate &front = rs.candidates[size_t(g.airings.front())];
    const QString &title = titleNames[front.title];
    if (!memo.airings) {
        const EpisodeIdentity &identity = front.identity;
        const quint8 methods = rs.rule.duplicateScope == DuplicateScope::None ? quint8(DuplicateAllLayers)
                                                                               : rs.rule.duplicateMethod;
        auto airings = std::make_shared<std::vector<AlternativesMemo::Airing>>();
        for (const quint32 t : ix->titlesByKey.value(titleKey(title))) {
            ix->forProgrammesTitled(t, [&](quint32 p) {
                const EpisodeIdentity pid = ix->identity(p);
                if (pid != identity && sameEpisode(pid, identity, methods) == DuplicateLayer::None)
                    return;
                ix->forAirings(p, [&](quint32 i) {
                    const epg::Airing a = ix->guide->airing(i);
                    if (a.stop <= planNow)
                        return;
                    const int ch = ix->channelKey[a.channel];
                    for (const int own : g.airings)
                        if (rs.candidates[size_t(own)].channel == ch && rs.candidates[size_t(own)].start == a.start)
                            return;
                    airings->push_back({ch, a.start, a.stop});
                });
            });
        }
        std::sort(airings->begin(), airings->end(), [&](const AlternativesMemo::Airing &a, const AlternativesMemo::Airing &b) {
            if (a.start != b.start)
                return a.start < b.start;
            return channelRank[size_t(a.channel)] < channelRank[size_t(b.channel)];
        });
        memo.airings = std::move(airings);
        memo.own.clear();
        for (const int ci : g.airings)
            memo.own.emplace_back(rs.candidates[size_t(ci)].channel, rs.candidates[size_t(ci)].start);
    }
    for (const AlternativesMemo::Airing &a : *memo.airings) {
        if (a.stop <= planNow)
            continue;
        const int ch = a.channel;
        const qint64 from = std::max(planNow, a.start - rs.rule.prePadding), to = a.stop + rs.rule.postPadding;
        if (!archived[size_t(ch)])
            memo.read.push_back(state.book->epochMinutes(from, to));
        if (!state.book->fitsSomewhere(ch, from, to, archived[size_t(ch)]))
            continue;
        memo.alternatives.append(AiringRef{rs.rule.id, channelNames[ch], a.start, a.stop, title});
        if (memo.alternatives.size() >= 5)
            break;
    }
}

void Scheduler::Private::makeOutcomes(SchedulePlan &out, const std::vector<char> &rebuild, const SchedulePlan &before,
                                      bool merge, const DirtyMinutes *diff, qint64 lastNow, const DirtyMinutes *ways)
{
    const int nowMinute = state.book->epochMinutes(planNow, planNow + 60).first;
    std::atomic<int> alternativesReused{0};
    growTitleKeys();
    auto reusable = [&](const AlternativesMemo &m, int id) {
        if (!diff || episodeRetitled(id))
            return false;
        for (const auto &[x, y] : m.read)
            if (diff->any(x, y) || (lastNow != planNow && x < nowMinute + 7 * 60))
                return false;
        return true;
    };
    const QList<RecorderNode> &nodes = options.capacity.nodes;
    std::vector<int> active; // slots in priority order that have outcomes
    for (const int slot : order)
        if (rules[size_t(slot)].valid && rules[size_t(slot)].rule.enabled)
            active.push_back(slot);
    changedParts.clear();
    changesKnown = merge;
    std::vector<QList<PlannedRecording>> &wasRecordings = wasRecordingsScratch; // empty but those set here
    std::vector<std::vector<RecordingKey>> &wasKeys = wasKeysScratch;
    if (wasRecordings.size() < rules.size()) {
        wasRecordings.resize(rules.size());
        wasKeys.resize(rules.size());
    }
    std::vector<int> wasSet; // the slots whose wasRecordings and wasKeys are set, emptied at the end
    for (const int slot : active)
        if (rebuild[size_t(slot)] && merge) {
            wasRecordings[size_t(slot)] = state.outcomes[size_t(slot)].recordings;
            wasKeys[size_t(slot)] = std::move(state.outcomes[size_t(slot)].recordingKeys);
            wasSet.push_back(slot);
        }
    // Rebuilt rules that have no outcomes now (removed, disabled or refused by a change the plan
    // was repaired for): theirs go, and their recordings leave the plan's chunks.
    std::vector<int> leaving;
    for (size_t slot = 0; slot < rules.size() && slot < rebuild.size(); ++slot) {
        const RuleState &rs = rules[slot];
        if (!rebuild[slot] || (rs.valid && rs.rule.enabled))
            continue;
        if (merge && !state.outcomes[slot].recordings.isEmpty()) {
            leaving.push_back(int(slot));
            wasRecordings[slot] = state.outcomes[slot].recordings;
            wasKeys[slot] = std::move(state.outcomes[slot].recordingKeys);
            wasSet.push_back(int(slot));
        }
        state.outcomes[slot] = {};
    }
    // A rebuilt rule's skips are compared with the last plan's skips of the same airings as they
    // are made: one equal is taken over (not made), and a part of the last plan's skips that are
    // all taken over, none coming or going between them, stays as it is (shared with the last
    // plan). Only in a repair (`ways`: the placements changed per minute, tagged by episode, which
    // tells where a conflict's recordings in the way may differ); from scratch makes every skip.
    const bool reuseSkips = merge && diff && ways;
    const qsizetype partSize = SkippedAirings::PartSize;
    std::atomic<int> skipsTakenOver{0}, partsKept{0};
    std::atomic<size_t> candidatesWalked{0}, candidatesRebuilt{0};
    // Whether `had` names the recordings of `way` (placement ids), in order.
    auto namesWay = [&](const QList<AiringRef> &had, const std::vector<int> &way) {
        if (qsizetype(way.size()) != had.size())
            return false;
        for (size_t w = 0; w < way.size(); ++w) {
            const Episode &e = state.episodes[size_t(way[w])];
            const RuleState &r = rules[size_t(e.slot)];
            const Candidate &c = r.candidates[size_t(e.chosen)];
            const AiringRef &a = had[qsizetype(w)];
            if (a.ruleId != r.rule.id || a.start != c.start || a.stop != c.stop
                || !sameText(a.channelId, std::as_const(channelNames)[c.channel])
                || !sameText(a.title, std::as_const(titleNames)[c.title]))
                return false;
        }
        return true;
    };
    auto outcomesOf = [&](size_t at) {
        const int slot = active[at];
        if (!rebuild[size_t(slot)])
            return;
        const RuleState &rs = rules[size_t(slot)];
        RuleOutcomes &is = state.outcomes[size_t(slot)];
        QList<QList<SkippedAiring>> lastParts; // the last plan's skips of the rule (reuseSkips)
        if (reuseSkips)
            lastParts.swap(is.skipped);
        const QList<QList<SkippedAiring>> &wasParts = lastParts; // read only: a part is shared with the last plan
        is.recordings.clear();
        is.skipped.clear();
        is.recordingKeys.clear();
        const std::vector<ConflictSkip> lastConflictSkips = std::move(is.conflictSkips);
        is.conflictSkips.clear();
        const std::vector<std::pair<qint64, int>> lastPartLast = std::move(is.partLast);
        is.partLast.clear();
        QHash<int, AlternativesMemo> alternatives;
        const QHash<int, AlternativesMemo> lastAlternatives = std::move(is.alternatives);
        QHash<std::pair<int, qint64>, const AlternativesMemo *> lastByOwn; // made when first asked
        const int kept = rs.rule.keepPolicy == KeepPolicy::StopWhenFull ? keptOfRule.value(rs.rule.id) : 0;
        const int plannedHere = state.plannedOf[size_t(slot)];
        const bool keepShownChanged = is.shownKeep != rs.rule.keep || is.shownKept != kept || is.shownPlanned != plannedHere;
        is.shownKeep = rs.rule.keep;
        is.shownKept = kept;
        is.shownPlanned = plannedHere;
        // Only the parts near what changed are walked again (the candidates of the episodes whose
        // outcomes may differ, those that came or went, the conflicts whose minutes changed), the
        // others taken over whole, when the time is the same and the rule's candidates then and now
        // are known to correspond (not re-matched, or re-grouped incrementally).
        const Renumbering *renumbering = nullptr;
        bool selective = reuseSkips && !options.walkRebuiltWhole && lastNow == planNow && !wasParts.isEmpty()
            && lastPartLast.size() == size_t(wasParts.size());
        if (const auto r = renumbered.constFind(slot); selective && r != renumbered.cend()) {
            selective = r->known;
            renumbering = &*r;
        }
        auto nowIndex = [&](int then) { return renumbering ? renumbering->nowOf[size_t(then)] : then; };
        // An episode's other airings all name the same related airing: one list per episode,
        // shared (implicitly) by its skips, instead of one allocation per skip.
        std::vector<QList<AiringRef>> relatedOf(state.ids[size_t(slot)].size());
        const std::vector<int> &groupOf = state.groupOf[size_t(slot)];

        // The skips in order, each the last plan's (`was`: its index in part `part`) or made
        // (`made`: its index in `madeSkips`). `part` is the last plan's part it replaces or
        // comes into: a part none changed (partChanged) is taken over whole.
        struct Item
        {
            int part = 0;
            int was = -1, made = -1;
            int candidate = 0;
            bool conflict = false;
            CapacityBook::Reach reach; ///< a conflict's: what its recordings in the way read
        };
        // The reach of the last plan's conflict skip [part][at] (lastConflictSkips are in order).
        auto lastReach = [&](int part, int inPart) {
            const auto it = std::lower_bound(lastConflictSkips.begin(), lastConflictSkips.end(), std::pair{part, inPart},
                                             [](const ConflictSkip &x, const std::pair<int, int> &y) {
                                                 return std::pair{x.part, x.at} < y;
                                             });
            return it != lastConflictSkips.end() && it->part == part && it->at == inPart ? it->reach : CapacityBook::Reach{};
        };
        std::vector<Item> items;
        std::vector<SkippedAiring> madeSkips;
        std::vector<char> partChanged(size_t(wasParts.size()), 0);
        // The walk through the last plan's skips in step with the candidates (both by start, then
        // channel id): [wp][wk] is the next not passed; a skip passed without being taken over
        // went (its part changed).
        qsizetype wp = 0, wk = 0;
        int matchPart = -1, matchAt = -1;
        auto lastSkipOf = [&](const Candidate &c) -> const SkippedAiring * {
            const QString &channel = std::as_const(channelNames)[c.channel];
            while (wp < wasParts.size()) {
                const SkippedAiring &w = wasParts[wp][wk];
                const bool same = w.airing.start == c.start && sameText(w.airing.channelId, channel);
                if (!same && (w.airing.start > c.start || (w.airing.start == c.start && channel < w.airing.channelId)))
                    return nullptr;
                if (same) {
                    matchPart = int(wp);
                    matchAt = int(wk);
                } else {
                    partChanged[size_t(wp)] = 1;
                }
                if (++wk == wasParts[wp].size()) {
                    ++wp;
                    wk = 0;
                }
                if (same)
                    return &w;
            }
            return nullptr;
        };
        int takenOver = 0; // added to skipsTakenOver once (not one atomic add per skip)
        auto takeOver = [&](int ci, bool conflict, CapacityBook::Reach reach = {}) {
            items.push_back({matchPart, matchAt, -1, ci, conflict, reach});
            ++takenOver;
        };
        auto make = [&](SkippedAiring &&sk, int ci, bool conflict, const SkippedAiring *w, CapacityBook::Reach reach = {}) {
            int part = w ? matchPart : int(std::min(wp, wasParts.size() - 1));
            if (part >= 0)
                partChanged[size_t(part)] = 1;
            items.push_back({std::max(part, 0), -1, int(madeSkips.size()), ci, conflict, reach});
            madeSkips.push_back(std::move(sk));
        };
        // Whether the last plan's skip of the airing says what this one would besides its
        // reason-specific lists (the airing itself and the fields a reason sets).
        auto sameAs = [&](const SkippedAiring &w, const Candidate &c, SkipReason reason, DuplicateLayer layer = DuplicateLayer::None,
                          const QString &note = {}, int keep = 0, int keptN = 0, int planned = 0) {
            return w.reason == reason && w.airing.ruleId == rs.rule.id && w.airing.stop == c.stop
                && sameText(w.airing.title, std::as_const(titleNames)[c.title]) && w.layer == layer
                && w.keep == keep && w.kept == keptN && w.planned == planned && sameText(w.note, note);
        };
        // Its related airing is `a` alone.
        auto namesOnly = [](const SkippedAiring &w, const AiringRef &a) {
            return w.relatedTo.size() == 1 && w.relatedTo.front() == a;
        };
        // Candidates [begin, end) walked: their skips (items) and recordings. With dirtyCandidate
        // made (a walk of the parts near what changed), a candidate not marked there that had a
        // skip has it again: taken over without comparing.
        std::vector<char> dirtyCandidate;
        std::vector<int> way; // a conflict's recordings in the way when asked (reused)
        // The last plan's recordings (a walk of the parts near what changed), [lr] the next not
        // passed: lastRecording(end) takes the next over when its candidate now is before `end`.
        const QList<PlannedRecording> &lastRecordings = wasRecordings[size_t(slot)];
        const std::vector<RecordingKey> &lastKeys = wasKeys[size_t(slot)];
        size_t lr = 0;
        auto lastRecording = [&](size_t end) {
            int ci = -1;
            while (lr < lastKeys.size() && (ci = nowIndex(lastKeys[lr].candidate)) < 0)
                ++lr; // its candidate went
            if (lr == lastKeys.size() || size_t(ci) >= end)
                return false;
            Q_ASSERT(state.episodes[size_t(groupOf[size_t(ci)])].chosen == ci);
            RecordingKey key = lastKeys[lr];
            key.candidate = ci;
            key.position = int(at);
            is.recordingKeys.push_back(key);
            is.recordings.append(lastRecordings[qsizetype(lr)]);
            ++lr;
            return true;
        };
        auto walk = [&](size_t begin, size_t end) {
            size_t looked = end - begin;
            for (size_t ci = begin; ci < end; ++ci) {
                const Candidate &c = rs.candidates[ci];
                if (c.stop <= planNow)
                    continue;
                const SkippedAiring *w = lastSkipOf(c);
                if (w && !dirtyCandidate.empty() && !dirtyCandidate[ci]) {
                    const bool conflict = w->reason == SkipReason::Conflict;
                    if (conflict)
                        if (const int id = groupOf[ci]; !alternatives.contains(id))
                            alternatives.insert(id, lastAlternatives.value(id));
                    takeOver(int(ci), conflict, conflict ? lastReach(matchPart, matchAt) : CapacityBook::Reach{});
                    --looked;
                    continue;
                }
                if (c.filter != NoFilter) {
                    if (w && sameAs(*w, c, SkipReason(c.filter)) && w->relatedTo.isEmpty() && w->alternatives.isEmpty()) {
                        takeOver(int(ci), false);
                        continue;
                    }
                    SkippedAiring sk;
                    sk.airing = ref(rs, c);
                    sk.reason = SkipReason(c.filter);
                    make(std::move(sk), int(ci), false, w);
                    continue;
                }
                const int id = groupOf[ci];
                const Episode &g = state.episodes[size_t(id)];
                if (g.chosen >= 0) {
                    const Candidate &chosen = rs.candidates[size_t(g.chosen)];
                    if (int(ci) == g.chosen) {
                        if (w)
                            partChanged[size_t(matchPart)] = 1; // skipped before, recorded now
                        if (!dirtyCandidate.empty() && !dirtyCandidate[ci]) {
                            // Recorded then as now: the same recording, the last plan's next.
                            while (lr < lastKeys.size() && nowIndex(lastKeys[lr].candidate) < int(ci))
                                ++lr;
                            if (lastRecording(ci + 1)) {
                                --looked;
                                continue;
                            }
                        }
                        const auto [from, to] = intervalOf(rs, c);
                        PlannedRecording p;
                        p.ruleId = rs.rule.id;
                        p.owner = rs.rule.owner;
                        p.channelId = std::as_const(channelNames)[c.channel];
                        p.start = c.start;
                        p.stop = c.stop;
                        p.recordStart = from;
                        p.recordStop = to;
                        p.title = std::as_const(titleNames)[c.title];
                        p.nodeId = archived[size_t(c.channel)] ? QString() : nodes[g.node].id;
                        p.identity = c.identity;
                        is.recordingKeys.push_back({from, channelRank[size_t(c.channel)], rs.rule.id, int(at), int(ci), slot});
                        is.recordings.append(std::move(p));
                        continue;
                    }
                    const SkipReason reason = int(ci) < g.chosen ? SkipReason::Moved : SkipReason::Duplicate;
                    QList<AiringRef> &related = relatedOf[size_t(g.rank)];
                    if (w && sameAs(*w, c, reason, DuplicateLayer::None, g.note) && w->alternatives.isEmpty()
                        && (related.isEmpty() ? namesOnly(*w, ref(rs, chosen)) : w->relatedTo == related)) {
                        if (related.isEmpty())
                            related = w->relatedTo; // the episode's other skips share it
                        takeOver(int(ci), false);
                        continue;
                    }
                    SkippedAiring sk;
                    sk.airing = ref(rs, c);
                    sk.reason = reason;
                    if (related.isEmpty())
                        related = {ref(rs, chosen)};
                    sk.relatedTo = related;
                    sk.note = g.note;
                    make(std::move(sk), int(ci), false, w);
                    continue;
                }
                switch (g.status) {
                case SkipReason::AlreadyRecorded:
                case SkipReason::Duplicate: {
                    QList<AiringRef> &related = relatedOf[size_t(g.rank)];
                    if (w && sameAs(*w, c, g.status, g.layer) && w->alternatives.isEmpty()
                        && (related.isEmpty() ? namesOnly(*w, g.related) : w->relatedTo == related)) {
                        if (related.isEmpty())
                            related = w->relatedTo;
                        takeOver(int(ci), false);
                        continue;
                    }
                    SkippedAiring sk;
                    sk.airing = ref(rs, c);
                    sk.reason = g.status;
                    if (related.isEmpty())
                        related = {g.related};
                    sk.relatedTo = related;
                    sk.layer = g.layer;
                    make(std::move(sk), int(ci), false, w);
                    continue;
                }
                case SkipReason::KeepLimit: {
                    if (w && sameAs(*w, c, g.status, DuplicateLayer::None, {}, rs.rule.keep, kept, plannedHere)
                        && w->relatedTo.isEmpty() && w->alternatives.isEmpty()) {
                        takeOver(int(ci), false);
                        continue;
                    }
                    SkippedAiring sk;
                    sk.airing = ref(rs, c);
                    sk.reason = g.status;
                    sk.keep = rs.rule.keep;
                    sk.kept = kept;
                    sk.planned = plannedHere;
                    make(std::move(sk), int(ci), false, w);
                    continue;
                }
                default:
                    break;
                }
                // A conflict (or another reason an episode has without a placement): the recordings in
                // its way and its alternatives.
                const auto [from, to] = intervalOf(rs, c);
                const bool wasConflict = w && g.status == SkipReason::Conflict && sameAs(*w, c, SkipReason::Conflict);
                // The recordings in the way are those the last plan's skip names when no placement
                // was made or taken away in its minutes (and its span starts where it did).
                bool sameWay = false;
                CapacityBook::Reach reach;
                if (wasConflict && std::max(lastNow, c.start - rs.rule.prePadding) == from) {
                    const auto [x, y] = state.book->epochMinutes(from, to);
                    reach = lastReach(matchPart, matchAt);
                    sameWay = !ways->anyWithin(reach, x, y);
                }
                if (!sameWay) {
                    state.book->overlapping(from, to, c.channel, MaxConflictsNamed, reach, way);
                    sameWay = wasConflict && namesWay(w->relatedTo, way);
                }
                auto it = alternatives.find(id);
                if (it == alternatives.end()) {
                    const AlternativesMemo *was = nullptr;
                    if (const auto last = lastAlternatives.constFind(id); last != lastAlternatives.cend()) {
                        was = &*last;
                    } else if (merge && diff && !lastAlternatives.isEmpty()) {
                        // A re-grouped rule's episode has a new id: the memo of the one with the
                        // same own airings, if any.
                        if (lastByOwn.isEmpty())
                            for (auto m = lastAlternatives.cbegin(); m != lastAlternatives.cend(); ++m)
                                if (!m->own.empty())
                                    lastByOwn.insert(m->own.front(), &*m);
                        const Candidate &front = rs.candidates[size_t(g.airings.front())];
                        const AlternativesMemo *m = lastByOwn.value({front.channel, front.start});
                        bool same = m && m->own.size() == g.airings.size();
                        for (size_t k = 0; same && k < g.airings.size(); ++k) {
                            const Candidate &a = rs.candidates[size_t(g.airings[k])];
                            same = m->own[k] == std::pair<int, qint64>{a.channel, a.start};
                        }
                        if (same)
                            was = m;
                    }
                    if (was && reusable(*was, id)) {
                        it = alternatives.insert(id, *was);
                        alternativesReused.fetch_add(1, std::memory_order_relaxed);
                    } else {
                        it = alternatives.insert(id, {});
                        // The episode's airings elsewhere are the same while none of its came or went.
                        if (was && merge && diff && !episodeRetitled(id)) {
                            it->airings = was->airings;
                            it->own = was->own;
                        }
                        alternativesFor(id, *it);
                    }
                }
                if (sameWay && w->alternatives == it->alternatives) {
                    takeOver(int(ci), true, reach);
                    continue;
                }
                SkippedAiring sk;
                sk.airing = ref(rs, c);
                sk.reason = g.status;
                if (sameWay) {
                    sk.relatedTo = w->relatedTo;
                } else {
                    sk.relatedTo.reserve(qsizetype(way.size()));
                    for (const int bi : way) {
                        const Episode &b = state.episodes[size_t(bi)];
                        sk.relatedTo.append(ref(rules[size_t(b.slot)], rules[size_t(b.slot)].candidates[size_t(b.chosen)]));
                    }
                }
                sk.alternatives = it->alternatives;
                make(std::move(sk), int(ci), true, w, reach);
            }
            candidatesWalked.fetch_add(looked, std::memory_order_relaxed);
        };

        // The parts: a part of the last plan none of whose skips changed, went or came is taken
        // over as it is; the others made again from their skips (cut when grown past twice
        // PartSize, dropped when emptied). A rule without parts before cuts its skips into
        // PartSize each.
        auto record = [&](const Item &item, qsizetype inPart) {
            if (item.conflict)
                is.conflictSkips.push_back({int(is.skipped.size()), int(inPart), item.candidate, item.reach});
        };
        auto endPart = [&](int ci) {
            is.partLast.emplace_back(rs.candidates[size_t(ci)].start, rs.candidates[size_t(ci)].channel);
        };
        // Region r's items (from items[i], those of part r) made into parts.
        auto assemble = [&](int r, size_t &i) {
            const size_t first = i;
            while (i < items.size() && items[i].part == r)
                ++i;
            const size_t n = i - first;
            if (r < wasParts.size() && !partChanged[size_t(r)]) {
                Q_ASSERT(qsizetype(n) == wasParts[r].size());
                for (size_t k = first; k < i; ++k)
                    record(items[k], qsizetype(k - first));
                is.skipped.append(wasParts[r]);
                endPart(items[i - 1].candidate);
                partsKept.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            if (n == 0)
                return;
            const size_t pieces = wasParts.isEmpty() ? (n + size_t(partSize) - 1) / size_t(partSize)
                                  : n > 2 * size_t(partSize)  ? n / size_t(partSize)
                                                              : 1;
            for (size_t p = 0; p < pieces; ++p) {
                const size_t from = wasParts.isEmpty() ? first + p * size_t(partSize) : first + n * p / pieces;
                const size_t to = wasParts.isEmpty() ? std::min(i, from + size_t(partSize)) : first + n * (p + 1) / pieces;
                QList<SkippedAiring> part;
                part.reserve(qsizetype(to - from));
                for (size_t k = from; k < to; ++k) {
                    record(items[k], part.size());
                    if (items[k].made >= 0)
                        part.append(std::move(madeSkips[size_t(items[k].made)]));
                    else
                        part.append(wasParts[r][items[k].was]);
                }
                is.skipped.append(std::move(part));
                endPart(items[to - 1].candidate);
            }
        };
        const size_t n = rs.candidates.size();
        candidatesRebuilt.fetch_add(n, std::memory_order_relaxed);
        if (!selective) {
            items.reserve(n);
            walk(0, n);
            // The last plan's skips not passed went.
            for (qsizetype p = wp; p < wasParts.size(); ++p)
                partChanged[size_t(p)] = 1;
            const int regions = std::max(1, int(wasParts.size()));
            size_t i = 0;
            for (int r = 0; r < regions; ++r)
                assemble(r, i);
            Q_ASSERT(i == items.size());
        } else {
            // The regions: part r's are the candidates after part r - 1's last skip up to its own
            // last skip (the last part's, to the end): where the whole walk would put what it made.
            const int regions = int(wasParts.size());
            auto notAfter = [&](qint64 start, int channel, const std::pair<qint64, int> &key) {
                return start != key.first ? start < key.first
                                          : channelRank[size_t(channel)] <= channelRank[size_t(key.second)];
            };
            std::vector<size_t> ends(size_t(regions), n);
            for (int r = 0; r + 1 < regions; ++r) {
                const std::pair<qint64, int> &key = lastPartLast[size_t(r)];
                const auto notAfterKey = [&](const Candidate &c) { return notAfter(c.start, c.channel, key); };
                ends[size_t(r)] = size_t(std::partition_point(rs.candidates.begin(), rs.candidates.end(), notAfterKey)
                                         - rs.candidates.begin());
            }
            auto regionOfIndex = [&](size_t ci) {
                return int(std::upper_bound(ends.begin(), ends.end(), ci) - ends.begin());
            };
            // Per region and per candidate: what may differ. A candidate that may not is taken over
            // in a region walked again without a look at it (its last skip is its skip now).
            std::vector<char> dirty(size_t(regions), 0);
            dirtyCandidate.assign(n, 0);
            auto markDirty = [&](size_t ci) {
                dirtyCandidate[ci] = 1;
                dirty[size_t(regionOfIndex(ci))] = 1;
            };
            if (renumbering) {
                for (const int ci : renumbering->inserted)
                    markDirty(size_t(ci));
                for (const auto &[start, channel] : renumbering->removedAt) {
                    const auto r = std::partition_point(lastPartLast.begin(), lastPartLast.end(),
                                                        [&](const std::pair<qint64, int> &key) {
                                                            return !notAfter(start, channel, key);
                                                        });
                    dirty[size_t(std::min(int(r - lastPartLast.begin()), regions - 1))] = 1;
                }
            }
            // The episodes whose outcomes may differ: marked so by the repair, held back by keep-N
            // when the figures it shows changed, or a conflict whose alternatives are not reusable.
            for (const int id : state.ids[size_t(slot)]) {
                const Episode &e = state.episodes[size_t(id)];
                bool changed = e.outcomeDirty || (e.chosen < 0 && e.status == SkipReason::KeepLimit && keepShownChanged);
                if (!changed && e.chosen < 0 && e.status == SkipReason::Conflict) {
                    const auto m = lastAlternatives.constFind(id);
                    changed = m == lastAlternatives.cend() || !reusable(*m, id);
                }
                if (changed)
                    for (const int ci : e.airings)
                        markDirty(size_t(ci));
            }
            // The conflicts whose recordings in the way may differ: a placement made or taken away
            // in their minutes.
            for (const ConflictSkip &cs : lastConflictSkips) {
                const AiringRef &a = wasParts[cs.part][cs.at].airing;
                const auto [x, y] = state.book->epochMinutes(std::max(planNow, a.start - rs.rule.prePadding),
                                                             a.stop + rs.rule.postPadding);
                if (ways->anyWithin(cs.reach, x, y)) {
                    dirty[size_t(cs.part)] = 1;
                    if (const int ci = nowIndex(cs.candidate); ci >= 0)
                        dirtyCandidate[size_t(ci)] = 1;
                }
            }
            size_t lc = 0;
            for (int r = 0; r < regions; ++r) {
                const size_t begin = r ? ends[size_t(r - 1)] : 0, end = ends[size_t(r)];
                if (!dirty[size_t(r)]) {
                    // The last plan's recordings of the region are the same.
                    while (lastRecording(end)) {
                    }
                    // Taken over whole, with its conflicts (and their alternatives, reusable).
                    is.skipped.append(wasParts[r]);
                    is.partLast.push_back(lastPartLast[size_t(r)]);
                    for (; lc < lastConflictSkips.size() && lastConflictSkips[lc].part <= r; ++lc) {
                        const ConflictSkip &cs = lastConflictSkips[lc];
                        if (cs.part < r)
                            continue;
                        const int ci = nowIndex(cs.candidate);
                        is.conflictSkips.push_back({int(is.skipped.size()) - 1, cs.at, ci, cs.reach});
                        const int id = groupOf[size_t(ci)];
                        if (!alternatives.contains(id))
                            alternatives.insert(id, lastAlternatives.value(id));
                    }
                    takenOver += int(wasParts[r].size());
                    partsKept.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                while (lc < lastConflictSkips.size() && lastConflictSkips[lc].part <= r)
                    ++lc;
                items.clear();
                madeSkips.clear();
                wp = r;
                wk = 0;
                walk(begin, end);
                while (lr < lastKeys.size() && nowIndex(lastKeys[lr].candidate) < int(end)) // those not taken over
                    ++lr;
                if (wp == r) // its skips not passed went
                    partChanged[size_t(r)] = 1;
                size_t i = 0;
                assemble(r, i);
                Q_ASSERT(i == items.size());
            }
        }
        for (const int id : state.ids[size_t(slot)])
            state.episodes[size_t(id)].outcomeDirty = false;
        skipsTakenOver.fetch_add(takenOver, std::memory_order_relaxed);
        is.alternatives = std::move(alternatives);
        is.conflicts = int(is.conflictSkips.size());
    };
    inChunks(std::clamp(threads(), 1, std::max(1, int(active.size()) / 16)), active.size(), 8, outcomesOf);
    int conflicts = 0;
    qsizetype parts = 0; // ~16,000 at the benchmark's size: the list grown once, not by doubling
    for (const int slot : active)
        parts += state.outcomes[size_t(slot)].skipped.size();
    out.skipped.reserveChunks(parts);
    for (const int slot : active) {
        for (const QList<SkippedAiring> &part : std::as_const(state.outcomes[size_t(slot)].skipped))
            out.skipped.appendPart(part);
        conflicts += state.outcomes[size_t(slot)].conflicts;
    }
    out.conflicts = conflicts;

    // The recordings by record start, channel id, rule, in chunks: all of them sorted when nothing is
    // merged; else the last plan's chunks, each taken over as it is unless a rebuilt rule's
    // recording came into it or went out of it.
    std::vector<std::vector<RecordingKey>> &chunkKeys = state.recordingKeys;
    using Fresh = std::pair<RecordingKey, const PlannedRecording *>;
    // Recordings [from, to) of `sorted` as one chunk of the plan, their keys beside it in `keys`.
    auto appendChunkOf = [&](const std::vector<Fresh> &sorted, size_t from, size_t to,
                             std::vector<std::vector<RecordingKey>> &keys) {
        PlannedRecordings::Chunk chunk;
        chunk.reserve(qsizetype(to - from));
        std::vector<RecordingKey> chunkKey;
        chunkKey.reserve(to - from);
        for (size_t k = from; k < to; ++k) {
            chunk.append(*sorted[k].second);
            chunkKey.push_back(sorted[k].first);
        }
        out.recordings.appendChunk(chunk);
        keys.push_back(std::move(chunkKey));
    };
    auto chunked = [&](const std::vector<Fresh> &sorted) {
        for (size_t i = 0; i < sorted.size(); i += size_t(PlannedRecordings::ChunkSize))
            appendChunkOf(sorted, i, std::min(sorted.size(), i + size_t(PlannedRecordings::ChunkSize)), chunkKeys);
    };
    auto byKey = [](const Fresh &x, const Fresh &y) { return x.first < y.first; };
    if (!merge || before.recordings.isEmpty()) {
        std::vector<Fresh> fresh;
        for (const int slot : active) {
            const RuleOutcomes &m = state.outcomes[size_t(slot)];
            if (merge && rebuild[size_t(slot)])
                changedParts.push_back({wasRecordings[size_t(slot)], m.recordings});
            for (qsizetype i = 0; i < m.recordings.size(); ++i)
                fresh.emplace_back(m.recordingKeys[size_t(i)], &m.recordings[i]);
        }
        std::sort(fresh.begin(), fresh.end(), byKey);
        chunkKeys.clear();
        chunked(fresh);
    } else {
        // Each rebuilt rule's recordings before and now, both by key: one equal in every field stays
        // where it is (only its candidate index may differ, which orders nothing else: a rule has
        // one recording per record start and channel, but for a rule with two there, whose
        // recordings all count as changed); the others go out of or come into the chunks.
        std::vector<RecordingKey> removed;
        std::vector<Fresh> added;
        // Old key, new key: its candidate index, or its rule's place (a rule added or removed before it).
        std::vector<std::pair<RecordingKey, RecordingKey>> rekeyed;
        auto sameSpot = [](const RecordingKey &a, const RecordingKey &b) {
            return a.recordStart == b.recordStart && a.rank == b.rank;
        };
        auto hasTies = [&](const std::vector<RecordingKey> &keys) {
            for (size_t i = 1; i < keys.size(); ++i)
                if (sameSpot(keys[i - 1], keys[i]))
                    return true;
            return false;
        };
        std::vector<int> rebuilt = active;
        rebuilt.insert(rebuilt.end(), leaving.begin(), leaving.end());
        for (const int slot : rebuilt) {
            if (!rebuild[size_t(slot)])
                continue;
            const RuleOutcomes &m = state.outcomes[size_t(slot)];
            const QList<PlannedRecording> &was = wasRecordings[size_t(slot)];
            const std::vector<RecordingKey> &wasKey = wasKeys[size_t(slot)];
            changedParts.push_back({was, m.recordings});
            const bool ties = hasTies(wasKey) || hasTies(m.recordingKeys);
            size_t i = 0, j = 0;
            const size_t wasEnd = size_t(was.size()), isEnd = size_t(m.recordings.size());
            while (i < wasEnd || j < isEnd) {
                if (!ties && i < wasEnd && j < isEnd && sameSpot(wasKey[i], m.recordingKeys[j])) {
                    if (was[qsizetype(i)] == m.recordings[qsizetype(j)]) {
                        if (wasKey[i].candidate != m.recordingKeys[j].candidate
                            || wasKey[i].position != m.recordingKeys[j].position)
                            rekeyed.emplace_back(wasKey[i], m.recordingKeys[j]);
                    } else {
                        removed.push_back(wasKey[i]);
                        added.emplace_back(m.recordingKeys[j], &m.recordings[qsizetype(j)]);
                    }
                    ++i;
                    ++j;
                } else if (j >= isEnd
                           || (i < wasEnd
                               && std::tie(wasKey[i].recordStart, wasKey[i].rank)
                                   < std::tie(m.recordingKeys[j].recordStart, m.recordingKeys[j].rank))) {
                    removed.push_back(wasKey[i++]);
                } else {
                    added.emplace_back(m.recordingKeys[j], &m.recordings[qsizetype(j)]);
                    ++j;
                }
            }
        }
        Q_ASSERT(chunkKeys.size() == size_t(before.recordings.chunks().size()));
        const size_t chunks = chunkKeys.size();
        // The chunk a key belongs in: the last whose first key is not after it (the first for one
        // before them all).
        auto chunkOf = [&](const RecordingKey &key) {
            size_t lo = 0, hi = chunks;
            while (hi - lo > 1) {
                const size_t mid = (lo + hi) / 2;
                if (key < chunkKeys[mid].front())
                    hi = mid;
                else
                    lo = mid;
            }
            return lo;
        };
        auto find = [&](const RecordingKey &key) {
            const size_t c = chunkOf(key);
            const std::vector<RecordingKey> &keys = chunkKeys[c];
            const auto it = std::lower_bound(keys.begin(), keys.end(), key);
            Q_ASSERT(it != keys.end() && !(key < *it) && it->slot == key.slot);
            return std::pair<size_t, size_t>{c, size_t(it - keys.begin())};
        };
        std::vector<char> touched(chunks, 0);
        std::vector<std::pair<size_t, size_t>> gone; // chunk, index
        gone.reserve(removed.size());
        for (const RecordingKey &key : removed) {
            gone.push_back(find(key));
            touched[gone.back().first] = 1;
        }
        std::vector<std::pair<size_t, Fresh>> coming; // chunk, recording
        coming.reserve(added.size());
        for (const Fresh &f : added) {
            coming.push_back({chunkOf(f.first), f});
            touched[coming.back().first] = 1;
        }
        for (const auto &[key, now] : rekeyed) {
            const auto [c, at] = find(key);
            chunkKeys[c][at].candidate = now.candidate;
            chunkKeys[c][at].position = now.position;
        }
        std::sort(gone.begin(), gone.end());
        std::sort(coming.begin(), coming.end(), [](const auto &x, const auto &y) {
            return x.first != y.first ? x.first < y.first : x.second.first < y.second.first;
        });
        std::vector<std::vector<RecordingKey>> keys;
        keys.reserve(chunks + coming.size() / size_t(PlannedRecordings::ChunkSize) + 1);
        out.recordings.reserveChunks(qsizetype(keys.capacity()));
        auto nextGone = gone.cbegin();
        auto nextComing = coming.cbegin();
        const QList<PlannedRecordings::Chunk> &was = before.recordings.chunks();
        std::vector<Fresh> merged;
        for (size_t c = 0; c < chunks; ++c) {
            if (!touched[c]) {
                out.recordings.appendChunk(was[qsizetype(c)]);
                keys.push_back(std::move(chunkKeys[c]));
                continue;
            }
            // The chunk made again: its recordings that stay merged with those that come, then cut
            // into chunks of ChunkSize when it grew past twice that.
            merged.clear();
            const std::vector<RecordingKey> &oldKeys = chunkKeys[c];
            for (size_t k = 0; k < oldKeys.size(); ++k) {
                if (nextGone != gone.cend() && nextGone->first == c && nextGone->second == k) {
                    ++nextGone;
                    continue;
                }
                for (; nextComing != coming.cend() && nextComing->first == c && nextComing->second.first < oldKeys[k];
                     ++nextComing)
                    merged.push_back(nextComing->second);
                merged.emplace_back(oldKeys[k], &was[qsizetype(c)][qsizetype(k)]);
            }
            for (; nextComing != coming.cend() && nextComing->first == c; ++nextComing)
                merged.push_back(nextComing->second);
            if (merged.empty())
                continue;
            const size_t pieces = merged.size() > 2 * size_t(PlannedRecordings::ChunkSize)
                ? merged.size() / size_t(PlannedRecordings::ChunkSize)
                : 1;
            for (size_t p = 0; p < pieces; ++p)
                appendChunkOf(merged, merged.size() * p / pieces, merged.size() * (p + 1) / pieces, keys);
        }
        chunkKeys = std::move(keys);
    }
    state.channelCount = int(channelNames.size());
    if (diff)
        qCDebug(lcScheduler) << "outcomes:" << alternativesReused.load() << "conflicts' alternatives reused,"
                             << skipsTakenOver.load() << "skips of rebuilt rules taken over," << partsKept.load()
                             << "of their parts kept;" << candidatesWalked.load() << "of their"
                             << candidatesRebuilt.load() << "candidates walked (their skips made or compared)";
    for (const int slot : wasSet) {
        wasRecordings[size_t(slot)] = {};
        wasKeys[size_t(slot)].clear();
    }
    renumbered.clear();
    last = out;
    retitled.clear();
    changedIdentities.clear();
}

Scheduler::Scheduler(SchedulerOptions options)
    : d(std::make_unique<Private>())
{
    d->options = std::move(options);
}

Scheduler::~Scheduler() = default;

const SchedulerOptions &Scheduler::options() const
{
    return d->options;
}

void Scheduler::setCapacity(const CapacityOptions &capacity)
{
    d->options.capacity = capacity;
    d->state.valid = false;
}

void Scheduler::setRules(const QList<RecordingRule> &rules)
{
    d->state.valid = false;
    d->rules.clear();
    d->rules.reserve(size_t(rules.size()));
    for (const RecordingRule &r : rules) {
        RuleState rs;
        rs.rule = r;
        d->compile(rs);
        d->rules.push_back(std::move(rs));
    }
    d->rebuildRuleMaps();
    if (d->index)
        d->matchAll();
}

void Scheduler::upsertRule(const RecordingRule &rule)
{
    // The same id's slot (a tombstone of it too: the rule comes back there), else a new one.
    auto it = std::find_if(d->rules.begin(), d->rules.end(), [&](const RuleState &rs) { return rs.rule.id == rule.id; });
    const bool wasThere = it != d->rules.end() && !it->removed;
    const bool viewerChanged = wasThere && it->rule.owner != rule.owner;
    if (it == d->rules.end())
        it = d->rules.insert(d->rules.end(), RuleState{});
    const std::vector<int> orderBefore = d->order;
    const int slot = int(it - d->rules.begin());
    it->removed = false;
    it->rule = rule;
    d->compile(*it);
    d->rebuildRuleMaps();
    d->matchRule(*it);
    d->keepPlanAfterRuleChange(slot, orderBefore, viewerChanged);
}

void Scheduler::removeRule(qint64 ruleId)
{
    const auto it = std::find_if(d->rules.begin(), d->rules.end(),
                                 [&](const RuleState &rs) { return rs.rule.id == ruleId && !rs.removed; });
    if (it == d->rules.end())
        return;
    if (!d->state.valid || !d->index || !d->options.repairRuleChanges) { // the next plan is a full one
        d->state.valid = false;
        d->rules.erase(it);
        d->rebuildRuleMaps();
        return;
    }
    // A tombstone keeps the slot (PlanState and the repair index by slot) until the next full plan.
    const std::vector<int> orderBefore = d->order;
    it->removed = true;
    it->valid = false;
    it->candidates.clear();
    d->rebuildRuleMaps();
    d->keepPlanAfterRuleChange(int(it - d->rules.begin()), orderBefore, false);
}

void Scheduler::Private::keepPlanAfterRuleChange(int slot, const std::vector<int> &orderBefore, bool viewerChanged)
{
    if (!options.repairRuleChanges) {
        state.valid = false;
        return;
    }
    if (!state.valid || !index)
        return;
    // The repair keeps the other rules' episodes where they are. When they keep their order among
    // themselves (one viewer's rules, or a rule added or removed after a viewer's others) that is
    // all; when not (a rule added before a viewer's others moves them to later rounds, past other
    // viewers' rules), the conflicts that became earlier than a recording in their way are queued
    // (reordered; repairPlan, 1b). A changed viewer moves the rule's history rows to another
    // viewer, which the repair does not check again: a full plan then.
    auto others = [&](const std::vector<int> &o) {
        std::vector<int> out;
        out.reserve(o.size());
        for (const int s : o)
            if (s != slot)
                out.push_back(s);
        return out;
    };
    if (viewerChanged) {
        qCDebug(lcScheduler) << "rule change at slot" << slot << "moves the rule to another viewer: the next plan is a full one";
        state.valid = false;
        return;
    }
    if (others(orderBefore) != others(order)) {
        reordered = true;
    }
    if (size_t(slot) >= state.ids.size()) { // a new slot: its per-slot state, empty
        Q_ASSERT(size_t(slot) == state.ids.size() && size_t(slot) + 1 == rules.size());
        state.ids.emplace_back();
        state.groupOf.emplace_back();
        state.groupedAt.push_back(state.now);
        state.plannedOf.push_back(0);
        state.keepCheck.push_back(0);
        state.outcomes.emplace_back();
    }
    // As a re-matched rule (setCancelled's way): grouped whole, its old recordings none kept.
    rematched.insert(slot);
    rulesChanged.insert(slot);
    CandidateEdits &edits = candidateEdits[slot];
    edits = {};
    edits.whole = true;
    // The history's rows of this rule belong to its viewer through it (viewerOfRule): with the
    // rule gone or come, they may belong elsewhere; every history check is made again then.
    const qint64 id = rules[size_t(slot)].rule.id;
    if (std::any_of(history.cbegin(), history.cend(), [&](const RecordedEpisode &h) { return h.ruleId == id; }))
        historyChanged = true;
}

QList<RecordingRule> Scheduler::rules() const
{
    QList<RecordingRule> out;
    for (const RuleState &rs : d->rules)
        if (!rs.removed)
            out.append(rs.rule);
    return out;
}

void Scheduler::setHistory(const QList<RecordedEpisode> &history)
{
    d->history = history;
    d->historyChanged = true;
}

void Scheduler::setCommitted(const QList<CommittedRecording> &recordings)
{
    using Key = std::tuple<qint64, QString, qint64, QString>;
    const auto keys = [](const QList<CommittedRecording> &list) {
        std::set<Key> out;
        for (const CommittedRecording &c : list)
            out.insert({c.airing.ruleId, c.airing.channelId, c.airing.start, c.nodeId});
        return out;
    };
    const std::set<Key> was = keys(d->committed), is = keys(recordings);
    d->committed = recordings;
    if (was == is || !d->state.valid)
        return;
    const auto fullPlan = [&](const char *why) {
        qCDebug(lcScheduler) << "committed recordings changed:" << why << "- the next plan is a full one";
        d->state.valid = false;
    };
    // An entry gone (its copy finished or failed) leaves its recording where it is, as any other;
    // unless a committed recording was placed over a node's capacity: the plan holds no more than
    // it may only while they are committed.
    if (d->state.committedOverbooked
        && std::any_of(was.cbegin(), was.cend(), [&](const Key &k) { return !is.count(k); })) {
        fullPlan("an entry went while a node holds more than it may");
        return;
    }
    // An entry come is kept by the repair (never moved, displaced or cut) when the last plan holds
    // it there: the usual case, a copy made of a planned recording. An entry the plan cannot hold
    // (its rule gone, its airing not a candidate, its node unknown) is ignored by the repair as by
    // a full plan. Anything else (the episode elsewhere, or not planned) needs a full plan, which
    // plans the rest around it.
    const Private &p = *d;
    for (const CommittedRecording &c : recordings) {
        if (was.count({c.airing.ruleId, c.airing.channelId, c.airing.start, c.nodeId}))
            continue;
        const auto rule = std::find_if(p.rules.cbegin(), p.rules.cend(),
                                       [&](const RuleState &rs) { return rs.rule.id == c.airing.ruleId && !rs.removed; });
        if (rule == p.rules.cend() || !rule->valid || !rule->rule.enabled)
            continue;
        const size_t slot = size_t(rule - p.rules.cbegin());
        const int channel = p.channelIds.value(c.airing.channelId, -1);
        const auto it = std::find_if(rule->candidates.cbegin(), rule->candidates.cend(), [&](const Candidate &x) {
            return x.channel == channel && x.start == c.airing.start;
        });
        if (channel < 0 || it == rule->candidates.cend() || it->stop <= p.state.now || it->filter != NoFilter)
            continue;
        const bool archivedChannel = p.options.capacity.archivedChannels.contains(c.airing.channelId);
        if (!archivedChannel
            && std::none_of(p.options.capacity.nodes.cbegin(), p.options.capacity.nodes.cend(),
                            [&](const RecorderNode &n) { return n.id == c.nodeId; }))
            continue;
        // Candidates matched again since the last plan have indexes its grouping does not know.
        const size_t ci = size_t(it - rule->candidates.cbegin());
        if (p.rematched.contains(int(slot)) || slot >= p.state.groupOf.size() || p.state.groupOf[slot].size() != rule->candidates.size()) {
            fullPlan("a new entry's rule was matched again since the last plan");
            return;
        }
        const int id = p.state.groupOf[slot][ci];
        const Episode *e = id >= 0 ? &p.state.episodes[size_t(id)] : nullptr;
        if (!e || e->chosen != int(ci)
            || (!archivedChannel && p.options.capacity.nodes.value(e->node).id != c.nodeId)) {
            fullPlan("a new entry is not planned there");
            return;
        }
    }
}

const QList<CommittedRecording> &Scheduler::committed() const
{
    return d->committed;
}

void Scheduler::setCancelled(const QList<AiringRef> &airings)
{
    QHash<qint64, QSet<std::pair<QString, qint64>>> next;
    for (const AiringRef &a : airings)
        next[a.ruleId].insert({a.channelId, a.start});
    if (next == d->cancelled)
        return;
    QSet<qint64> changed;
    for (auto it = next.cbegin(); it != next.cend(); ++it)
        if (d->cancelled.value(it.key()) != it.value())
            changed.insert(it.key());
    for (auto it = d->cancelled.cbegin(); it != d->cancelled.cend(); ++it)
        if (!next.contains(it.key()))
            changed.insert(it.key());
    d->cancelled = std::move(next);
    // Only these rules are matched again, and the next plan repairs theirs as after a guide
    // change (docs/dvr-scheduler.md): a skipped airing's recording goes, nothing else moves.
    for (size_t slot = 0; slot < d->rules.size(); ++slot) {
        if (changed.contains(d->rules[slot].rule.id)) {
            d->matchRule(d->rules[slot]);
            d->rematched.insert(int(slot));
            d->candidateEdits[int(slot)].whole = true; // every candidate new: grouped whole
        }
    }
}

SchedulePlan Scheduler::evaluate(std::shared_ptr<const epg::Guide> guide, qint64 now)
{
    QElapsedTimer timer;
    timer.start();
    d->index = d->buildIndex(std::move(guide));
    const qint64 indexed = timer.elapsed();
    d->state.valid = false; // every rule matched again
    d->matchAll();
    const qint64 matched = timer.elapsed();
    SchedulePlan p = d->plan(now);
    qCDebug(lcScheduler) << "full evaluation:" << d->rules.size() << "rules," << p.recordings.size() << "planned,"
                         << p.skipped.size() << "skipped; index" << indexed << "ms, match" << matched - indexed
                         << "ms, plan" << timer.elapsed() - matched << "ms";
    return p;
}

SchedulePlan Scheduler::update(std::shared_ptr<const epg::Guide> guide, qint64 now, ScheduleChanges *changes)
{
    // A repair takes time to move on only (ended airings leave their episodes and candidates):
    // a clock stepped back (NTP, a restored VM) gets a full evaluation at the time it says.
    const bool clockBack = d->index && d->state.valid && now < d->state.now;
    if (clockBack)
        qCWarning(lcScheduler) << "the clock went back" << (d->state.now - now) << "s: the plan is made whole again";
    if (!d->index || clockBack) {
        const SchedulePlan before = d->last;
        SchedulePlan p = evaluate(std::move(guide), now);
        if (changes) {
            *changes = {};
            if (clockBack) {
                // What a viewer sees change: the recordings of the last plan and of this one compared whole.
                const auto key = [](const PlannedRecording &r) { return std::make_tuple(r.ruleId, r.channelId, r.start); };
                std::set<std::tuple<qint64, QString, qint64>> was, is;
                for (const PlannedRecording &r : before.recordings)
                    was.insert(key(r));
                for (const PlannedRecording &r : p.recordings) {
                    is.insert(key(r));
                    if (!was.count(key(r)))
                        changes->added.append(r);
                }
                for (const PlannedRecording &r : before.recordings)
                    if (!is.count(key(r)))
                        changes->removed.append(r);
            } else {
                changes->added = p.recordings.toList();
            }
        }
        return p;
    }
    QElapsedTimer timer;
    timer.start();
    const qint64 cpuStart = threadCpuNs();
    const SchedulePlan before = d->last;
    std::unique_ptr<GuideIndex> oldIndex = std::move(d->index);
    d->index = d->buildIndex(std::move(guide), oldIndex.get());
    const GuideIndex &ix = *d->index;
    const qint64 indexed = timer.elapsed();
    const epg::Guide &og = *oldIndex->guide, &ng = *ix.guide;

    // The airings that differ, channel by channel, matched by start; a channel whose part is
    // shared airs what it aired (the same digest): nothing of it is read.
    std::vector<quint32> gone, came;
    std::vector<bool> oldSeen(size_t(og.channelCount()), false);
    for (int nc = 0; nc < ng.channelCount(); ++nc) {
        const int key = ix.channelKey[size_t(nc)];
        const int oc = size_t(key) < oldIndex->guideChannel.size() ? oldIndex->guideChannel[size_t(key)] : -1;
        if (oc >= 0)
            oldSeen[size_t(oc)] = true;
        if (oc >= 0 && oldIndex->parts[size_t(oc)] == ix.parts[size_t(nc)])
            continue;
        const auto [nFirst, nCount] = ng.channelAirings(nc);
        quint32 i = 0, iEnd = 0, j = nFirst, jEnd = nFirst + nCount;
        if (oc >= 0) {
            std::tie(i, iEnd) = og.channelAirings(oc);
            iEnd += i;
        }
        while (i < iEnd || j < jEnd) {
            if (j >= jEnd) {
                gone.push_back(i++);
                continue;
            }
            if (i >= iEnd) {
                came.push_back(j++);
                continue;
            }
            const epg::Airing a = og.airing(i), b = ng.airing(j);
            if (a.start < b.start) {
                gone.push_back(i++);
            } else if (b.start < a.start) {
                came.push_back(j++);
            } else {
                const quint32 ha = oldIndex->handleOf(a), hb = ix.handleOf(b);
                if (a.stop != b.stop || a.flags != b.flags || oldIndex->fingerprintOf(ha) != ix.fingerprintOf(hb)) {
                    gone.push_back(i);
                    came.push_back(j);
                } else if (oldIndex->hasIdentity(ha) && !ix.hasIdentity(hb)) {
                    // The same text and numbers: the identity carries over (conflicts' alternatives
                    // would compute it again for every programme of a matched title).
                    ix.setIdentity(hb, oldIndex->knownIdentity(ha));
                }
                ++i;
                ++j;
            }
        }
    }
    for (int oc = 0; oc < og.channelCount(); ++oc) {
        if (oldSeen[size_t(oc)])
            continue;
        const auto [first, count] = og.channelAirings(oc);
        for (quint32 i = first; i < first + count; ++i)
            gone.push_back(i);
    }

    QSet<int> touched;
    std::vector<std::pair<int, quint64>> singleLost; // slot, old fingerprint
    // Candidates leave and join each rule's list in one pass per rule (a rule of a daily show has
    // thousands: erasing or inserting one at a time moved them all each time).
    QHash<int, std::vector<std::pair<qint64, int>>> leaving; // slot -> (start, channel key), sorted
    for (const quint32 i : gone) {
        const epg::Airing a = og.airing(i);
        const quint32 h = oldIndex->handleOf(a);
        // Its identity is read only if a conflict of its title asks (changedIdentities): computed
        // then. A candidate that leaves has its identity already.
        const quint64 key = ix.titleKeyOf.value(oldIndex->titleOf(h));
        d->retitled.insert(key);
        d->changedIdentities[key].append(oldIndex->ref(h));
        const int channel = oldIndex->channelKey[a.channel];
        for (const int s : d->rulesFor(*oldIndex, a)) {
            leaving[s].emplace_back(a.start, channel);
            touched.insert(s);
            if (d->rules[size_t(s)].rule.kind == RuleKind::Single)
                singleLost.push_back({s, oldIndex->fingerprintOf(h)});
        }
    }
    // What changed in each rule's list is noted (candidateEdits) for the repair, which groups again
    // only the episodes it may concern. Edits not taken by a plan yet are not known to compose:
    // such a rule is grouped whole.
    for (auto it = d->candidateEdits.begin(); it != d->candidateEdits.end(); ++it)
        it->whole = true;
    auto editsOf = [&](int s) -> Private::CandidateEdits & {
        auto it = d->candidateEdits.find(s);
        if (it == d->candidateEdits.end())
            it = d->candidateEdits.insert(s, {d->rules[size_t(s)].candidates.size(), {}, {}, {}, {}, false});
        return *it;
    };
    for (auto it = leaving.begin(); it != leaving.end(); ++it) {
        std::sort(it->begin(), it->end());
        auto &cands = d->rules[size_t(it.key())].candidates;
        Private::CandidateEdits &edits = editsOf(it.key());
        // The candidates are by start: only those between the first and the last start leaving
        // are looked up (a rule of a daily show has a fortnight of them, a delta touches a day).
        const auto byStart = [](const Candidate &c, qint64 t) { return c.start < t; };
        const size_t first = size_t(std::lower_bound(cands.begin(), cands.end(), it->front().first, byStart) - cands.begin());
        const size_t last = size_t(std::partition_point(cands.begin(), cands.end(),
                                                        [&](const Candidate &c) { return c.start <= it->back().first; })
                                   - cands.begin());
        size_t kept = first;
        for (size_t i = first; i < cands.size(); ++i) {
            if (i < last && std::binary_search(it->begin(), it->end(), std::pair<qint64, int>{cands[i].start, cands[i].channel})) {
                edits.removed.push_back(int(i));
                edits.removedAt.emplace_back(cands[i].start, cands[i].channel);
                if (cands[i].filter == NoFilter)
                    edits.gone.push_back(cands[i].identity);
                continue;
            }
            if (kept != i)
                cands[kept] = cands[i];
            ++kept;
        }
        cands.resize(kept);
    }
    QHash<int, std::vector<Candidate>> joining; // slot -> new candidates
    // The identities of the new candidates that meet duplicate checks (not filtered) are computed
    // together, in description order (one block of descriptions read per few, not per one); those
    // of the other airings that came only if a conflict of their title asks (changedIdentities).
    std::vector<quint32> needed;
    for (const quint32 j : came) {
        const epg::Airing a = ng.airing(j);
        const quint32 h = ix.handleOf(a);
        const quint64 key = ix.titleKeyOf.value(ix.titleOf(h));
        d->retitled.insert(key);
        d->changedIdentities[key].append(ix.ref(h));
        d->cameAirings.insert({ix.channelKey[a.channel], a.start});
        const QList<int> slots = d->rulesFor(ix, a);
        bool unfiltered = false;
        for (const int s : slots) {
            joining[s].push_back(d->candidate(ix, a, d->rules[size_t(s)], true));
            unfiltered |= joining[s].back().filter == NoFilter;
            touched.insert(s);
        }
        if (unfiltered)
            needed.push_back(h);
    }
    // A programme that came with the text of one that went (moved, or aired again) has its
    // identity: the fingerprint is of exactly what the identity reads. When the one that went has
    // none yet, the one computed for the new programme is given to it too.
    std::vector<std::pair<quint32, std::pair<const ChannelPart *, quint32>>> sameText; // new handle, old programme
    if (!came.empty()) {
        QHash<quint64, std::pair<const ChannelPart *, quint32>> wentBy; // fingerprint -> old part, local
        auto known = [](const std::pair<const ChannelPart *, quint32> &x) {
            return x.first->identityState[x.second].load(std::memory_order_acquire) == 2;
        };
        for (size_t oc = 0; oc < oldIndex->parts.size(); ++oc) {
            const ChannelPart &old = *oldIndex->parts[oc];
            const int nc = size_t(old.channel) < ix.guideChannel.size() ? ix.guideChannel[size_t(old.channel)] : -1;
            if (nc >= 0 && ix.parts[size_t(nc)].get() == &old)
                continue; // shared: nothing of it went
            for (quint32 local = 0; local < old.programmeCount(); ++local) {
                auto it = wentBy.find(old.fingerprint[local]);
                if (it == wentBy.end())
                    wentBy.insert(old.fingerprint[local], {&old, local});
                else if (!known(*it) && known({&old, local}))
                    *it = {&old, local}; // one whose identity is known, if any
            }
        }
        std::vector<char> isNeeded(ix.handleBase.back(), 0);
        for (const quint32 h : needed)
            isNeeded[h] = 1;
        for (const quint32 j : came) {
            const quint32 h = ix.handleOf(ng.airing(j));
            const auto it = wentBy.constFind(ix.fingerprintOf(h));
            if (it == wentBy.cend() || ix.hasIdentity(h))
                continue;
            if (known(*it))
                ix.setIdentity(h, it->first->identities[it->second]);
            else if (isNeeded[h])
                sameText.emplace_back(h, *it);
        }
    }
    const size_t neededCount = needed.size();
    const size_t computed = ix.computeIdentities(std::move(needed), d->threads());
    qCDebug(lcScheduler) << "update:" << computed << "identities computed for" << neededCount
                         << "airings that came and a rule matches unfiltered (the others' when asked)";
    for (const auto &[h, old] : sameText)
        GuideIndex::setIdentity({-1, old.second, old.first}, ix.knownIdentity(h));
    for (auto it = joining.begin(); it != joining.end(); ++it)
        for (Candidate &c : *it)
            if (c.filter == NoFilter)
                c.identity = ix.knownIdentity(c.programme);
    auto less = [&](const Candidate &x, const Candidate &y) { return d->candidateLess(x, y); };
    for (auto it = joining.begin(); it != joining.end(); ++it) {
        std::sort(it->begin(), it->end(), less);
        auto &cands = d->rules[size_t(it.key())].candidates;
        Private::CandidateEdits &edits = editsOf(it.key());
        // Where the new ones go: after the candidates there not after them (std::inplace_merge
        // keeps a candidate already there first among equals), and after the new ones before.
        for (size_t k = 0; k < it->size(); ++k)
            edits.inserted.push_back(int(std::upper_bound(cands.cbegin(), cands.cend(), (*it)[k], less) - cands.cbegin() + qsizetype(k)));
        const auto middle = cands.insert(cands.end(), it->begin(), it->end());
        std::inplace_merge(cands.begin(), middle, cands.end(), less);
    }
    // A single-airing rule follows its programme when it moved on the same channel.
    bool singleMoved = false;
    for (const auto &[s, fingerprint] : singleLost) {
        RuleState &rs = d->rules[size_t(s)];
        if (!rs.candidates.empty())
            continue;
        const int nc = ng.channelIndex(rs.rule.channelId);
        if (nc < 0)
            continue;
        const auto [first, count] = ng.channelAirings(nc);
        qint64 bestDistance = d->options.followMoveWithin + 1;
        epg::Airing best;
        for (quint32 j = first; j < first + count; ++j) {
            const epg::Airing a = ng.airing(j);
            const qint64 distance = qAbs(a.start - rs.rule.start);
            if (ix.fingerprintOf(ix.handleOf(a)) == fingerprint && distance < bestDistance) {
                bestDistance = distance;
                best = a;
            }
        }
        if (best.isValid()) {
            qCInfo(lcScheduler) << "rule" << rs.rule.id << "follows its airing on" << rs.rule.channelId << "from"
                                << timeText(rs.rule.start) << "to" << timeText(best.start);
            rs.rule.start = best.start;
            editsOf(s).inserted.push_back(int(rs.candidates.size()));
            rs.candidates.push_back(d->candidate(ix, best, rs));
            singleMoved = true;
        }
    }
    if (singleMoved)
        d->rebuildRuleMaps();
    d->rematched.unite(touched);
    const qint64 matched = timer.elapsed();
    qCDebug(lcScheduler) << "update: index made" << ix.partsMade << "of" << ng.channelCount()
                         << "channel parts (the rest shared); index and match took" << (threadCpuNs() - cpuStart) / 1000
                         << "us of this thread's CPU";

    SchedulePlan p = d->plan(now);
    QElapsedTimer changesTimer;
    changesTimer.start();
    const double changesCpu = processCpuMs();
    if (changes) {
        *changes = {};
        changes->airingsChanged = int(gone.size() + came.size());
        changes->rulesRematched = int(touched.size());
        changes->lost.clear();
        // Matched by (rule, channel, start), within the rules whose outcomes were rebuilt (a rule
        // whose outcomes were taken over has the same recordings); the lists keep the order of
        // the plans' recordings (by recordStart, channel, rule).
        QList<PlannedRecording> removed, added;
        auto byPlanOrder = [&](const PlannedRecording &a, const PlannedRecording &b) {
            if (a.recordStart != b.recordStart)
                return a.recordStart < b.recordStart;
            const int ra = d->channelRank[size_t(d->channelIds.value(a.channelId))];
            const int rb = d->channelRank[size_t(d->channelIds.value(b.channelId))];
            return ra != rb ? ra < rb : a.ruleId < b.ruleId;
        };
        auto compare = [&](const QList<PlannedRecording> &wasList, const QList<PlannedRecording> &isList) {
            QHash<AiringKey, qsizetype> was, is;
            was.reserve(wasList.size());
            is.reserve(isList.size());
            for (qsizetype i = 0; i < wasList.size(); ++i)
                was.insert(airingKey(wasList[i]), i);
            for (qsizetype i = 0; i < isList.size(); ++i)
                is.insert(airingKey(isList[i]), i);
            for (const PlannedRecording &r : wasList)
                if (!is.contains(airingKey(r)))
                    removed.append(r);
            for (const PlannedRecording &r : isList)
                if (!was.contains(airingKey(r)))
                    added.append(r);
        };
        if (d->changesKnown) {
            for (const auto &[wasList, isList] : d->changedParts)
                compare(wasList, isList);
            std::stable_sort(removed.begin(), removed.end(), byPlanOrder);
            std::stable_sort(added.begin(), added.end(), byPlanOrder);
        } else {
            compare(before.recordings.toList(), p.recordings.toList());
        }
        for (const PlannedRecording &r : std::as_const(removed)) {
            auto it = std::find_if(added.begin(), added.end(), [&](const PlannedRecording &a) {
                return a.ruleId == r.ruleId && a.identity == r.identity;
            });
            if (it != added.end()) {
                changes->moved.append({r, *it});
                added.erase(it);
                continue;
            }
            changes->removed.append(r);
            const int nc = ng.channelIndex(r.channelId);
            const epg::Airing a = nc < 0 ? epg::Airing{} : ng.airingAt(nc, r.start);
            if (!a.isValid() || a.start != r.start)
                changes->lost.append(r.ref());
        }
        changes->added = added;
        qCDebug(lcScheduler) << "update: changes" << changesTimer.elapsed() << "ms wall, CPU"
                             << qRound(processCpuMs() - changesCpu) << "ms";
    }
    qCDebug(lcScheduler) << "update:" << gone.size() << "airings gone," << came.size() << "came," << touched.size()
                         << "rules touched; index" << indexed << "ms, match" << matched - indexed << "ms, plan"
                         << timer.elapsed() - matched << "ms";
    return p;
}

SchedulePlan Scheduler::plan(qint64 now)
{
    if (d->index && d->state.valid && now < d->state.now) { // as update(): a full evaluation
        qCWarning(lcScheduler) << "the clock went back" << (d->state.now - now) << "s: the plan is made whole again";
        return evaluate(d->index->guide, now);
    }
    return d->plan(now);
}

const SchedulePlan &Scheduler::lastPlan() const
{
    return d->last;
}

SchedulePlan Scheduler::outcomesFromScratch()
{
    Private &p = *d;
    if (!p.state.valid)
        return p.last;
    // makeOutcomes() writes the rules' outcomes and the plan's lists: kept aside and put back.
    std::vector<RuleOutcomes> outcomes = p.state.outcomes;
    std::vector<std::vector<RecordingKey>> recordingKeys = p.state.recordingKeys;
    const SchedulePlan last = p.last;
    auto changedParts = p.changedParts;
    const bool changesKnown = p.changesKnown;
    const QSet<quint64> retitled = p.retitled;
    const auto changedIdentities = p.changedIdentities;
    const qint64 planNow = p.planNow;
    p.planNow = p.state.now;
    std::vector<char> dirty(p.state.episodes.size()); // what the next repair reads: as it was
    for (size_t i = 0; i < dirty.size(); ++i)
        dirty[i] = p.state.episodes[i].outcomeDirty;
    for (RuleOutcomes &o : p.state.outcomes)
        o = {};
    SchedulePlan out;
    out.ignoredCommitted = p.last.ignoredCommitted;
    out.ruleReports = p.ruleReports();
    p.makeOutcomes(out, std::vector<char>(p.rules.size(), 1), {}, false);
    for (size_t i = 0; i < dirty.size(); ++i)
        p.state.episodes[i].outcomeDirty = dirty[i];
    p.state.outcomes = std::move(outcomes);
    p.state.recordingKeys = std::move(recordingKeys);
    p.last = last;
    p.changedParts = std::move(changedParts);
    p.changesKnown = changesKnown;
    p.retitled = retitled;
    p.changedIdentities = changedIdentities;
    p.planNow = planNow;
    return out;
}

EpisodeIdentity Scheduler::identityAt(const QString &channelId, qint64 start) const
{
    if (!d->index)
        return {};
    const epg::Guide &g = *d->index->guide;
    const int c = g.channelIndex(channelId);
    const epg::Airing a = c < 0 ? epg::Airing{} : g.airingAt(c, start);
    if (!a.isValid())
        return {};
    return d->index->identity(d->index->handleOf(a));
}

} // namespace iptv::dvr
