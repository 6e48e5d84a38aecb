#include "scheduler.h"

#include "guideindex.h"

#include <epg/guide.h>

#include <QDateTime>
#include <QElapsedTimer>
#include <QHash>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QTimeZone>
#include <QVarLengthArray>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
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

QString refText(const AiringRef &r)
{
    return QStringLiteral("\"%1\" on %2 at %3").arg(r.title, r.channelId, timeText(r.start));
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
    std::vector<Candidate> candidates; ///< by start, then channel id
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

bool isRepeat(quint8 flags)
{
    return (flags & epg::FlagPreviouslyShown) && !(flags & epg::FlagNew);
}

/// One episode's capacity decision in pass 1 of the last plan (docs/dvr-scheduler.md,
/// "Planning incrementally").
struct GroupMemo
{
    int tried = -2;             ///< -2: not tried (skipped before capacity), -1: no airing fitted, else the airing taken
    int node = -1;              ///< where it was placed
    int channel = -1;           ///< its placement: channel and epoch minutes [from, to); from == to: none
    int from = 0, to = 0;
};

/// A conflict's alternatives in the last plan and the minutes of the final book they read.
struct AlternativesMemo
{
    QList<AiringRef> alternatives;
    std::vector<std::pair<int, int>> read; ///< epoch minutes of every airing tried, [from, to)
};

/// An episode's final state (after pass 2): what its airings' outcomes are made of, with the
/// candidates, the keep counts and, for conflicts, the book and the alternatives.
struct FinalGroup
{
    int chosen = -1, node = -1;
    SkipReason status = SkipReason::Conflict; ///< when none is chosen
    DuplicateLayer layer = DuplicateLayer::None;
    AiringRef related;
    QString note;
    friend bool operator==(const FinalGroup &, const FinalGroup &) = default;
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

struct RuleMemo
{
    int alive = -1;                 ///< airings grouped (not ended, not filtered); -1: rule not planned
    std::vector<GroupMemo> groups;  ///< in the rule's episode order
    std::vector<int> groupOf;       ///< per candidate: its episode (index into groups), -1 none
    QHash<int, AlternativesMemo> alternatives; ///< by episode (index into groups)
    /// The rule's outcomes (shared with the plan) and what they were made of.
    bool hasOutcomes = false;
    std::vector<FinalGroup> finals; ///< per episode
    int planned = 0, kept = 0;
    QList<PlannedRecording> recordings;
    QList<SkippedAiring> skipped;
    std::vector<RecordingKey> recordingKeys; ///< parallel to recordings
};

/// A dropped episode's second chance in pass 2 of the last plan: what it read and what it did.
struct RescueMemo
{
    std::pair<int, int> step;    ///< the episode: its rule's place in the priority order, its index in the rule
    bool rescued = false;
    int airing = -1, node = -1;  ///< the airing it took and where
    int blockerSlot = -1, blockerGroup = -1; ///< the recording moved: rule slot, episode index in the rule
    int blockerAiring = -1, blockerNode = -1; ///< where it went
    /// The placements changed (node, channel, epoch minutes [from, to), rule slot; from == to:
    /// none): the episode's, the blocker's before and after.
    std::array<int, 5> placed{}, blockerWas{}, blockerIs{};
    std::vector<std::pair<int, int>> read; ///< epoch minutes of every airing it tried and every move
};

/// Pass 1 of the last plan, kept so that the next one can reuse every decision whose inputs did
/// not change. Valid while the rule slots, their order and the capacity options stay the same.
struct PlanMemo
{
    bool valid = false;
    qint64 now = 0;
    std::vector<RuleMemo> rules; ///< by rule slot
    std::vector<RescueMemo> rescues; ///< pass 2, in its order
    std::vector<RecordingKey> recordingKeys; ///< parallel to the plan's recordings
    int channelCount = 0;        ///< channel keys then (more reorder the channel ranks)
};

/// The minutes where the capacity book of the plan being made may differ from the last plan's at
/// the same point of pass 1: the placements one has and the other has not (counted per placement,
/// so that the same recording placed again cancels out), and the minutes they cover.
class DirtyMinutes
{
public:
    explicit DirtyMinutes(int base)
        : m_base(base)
    {
    }
    /// Adds (+1, the new plan placed it) or removes (-1, the last plan had it) a placement.
    /// `tag` tells placements apart that are otherwise the same (the rule slot, where it matters).
    void change(int node, int channel, int from, int to, int delta, int tag = 0)
    {
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
    /// Whether any minute of [from, to) (epoch minutes) may differ.
    bool any(int from, int to) const
    {
        from = std::max(from - m_base, 0);
        to = std::min(to - m_base, int(m_minutes.size()));
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
    /// Marks [from, to) (epoch minutes) as differing for good (a placement of a recording whose
    /// airing may be named differently: its rule was matched again).
    void touch(int from, int to)
    {
        from = std::max(from, m_base);
        if (from >= to)
            return;
        m_touched = true;
        cover(from - m_base, to - m_base, 1);
    }
    bool isClean() const { return m_count.isEmpty() && !m_touched; }

private:
    void cover(int from, int to, int delta)
    {
        if (int(m_minutes.size()) < to) {
            m_minutes.resize(size_t(to) + 24 * 60, 0);
            m_hours.resize(m_minutes.size() / 60 + 1, 0);
        }
        for (int m = from; m < to; ++m) {
            m_minutes[size_t(m)] += delta;
            m_hours[size_t(m / 60)] += delta;
        }
    }
    int m_base = 0;
    bool m_touched = false;
    QHash<std::pair<quint64, quint64>, int> m_count;
    std::vector<int> m_minutes; ///< placements differing, per minute from m_base
    std::vector<int> m_hours;   ///< the same summed per hour, to skip clean hours
};

} // namespace

const SkippedAiring &SkippedAirings::at(qsizetype i) const
{
    Q_ASSERT(i >= 0 && i < size());
    const qsizetype part = std::upper_bound(m_ends.cbegin(), m_ends.cend(), i) - m_ends.cbegin();
    return m_parts[part][i - (part ? m_ends[part - 1] : 0)];
}

void SkippedAirings::appendPart(const QList<SkippedAiring> &part)
{
    if (part.isEmpty())
        return;
    m_parts.append(part);
    m_ends.append(size() + part.size());
}

QList<SkippedAiring> SkippedAirings::toList() const
{
    QList<SkippedAiring> out;
    out.reserve(size());
    for (const QList<SkippedAiring> &part : m_parts)
        out.append(part);
    return out;
}

bool operator==(const SkippedAirings &a, const SkippedAirings &b)
{
    if (a.size() != b.size())
        return false;
    if (a.m_ends == b.m_ends) { // the same parts: shared ones compare at once
        for (qsizetype i = 0; i < a.m_parts.size(); ++i)
            if (a.m_parts[i] != b.m_parts[i])
                return false;
        return true;
    }
    return std::equal(a.begin(), a.end(), b.begin());
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
    }
    return {};
}

QString SkippedAiring::detail() const
{
    const QString extra = note.isEmpty() ? QString() : u" (" + note + u')';
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
        QStringList names;
        for (int i = 0; i < relatedTo.size() && i < 3; ++i)
            names << refText(relatedTo[i]);
        QString text = QStringLiteral("no capacity: conflicts with ") + names.join(u", ");
        if (relatedTo.size() > 3)
            text += QStringLiteral(" and %1 more").arg(relatedTo.size() - 3);
        text += alternatives.isEmpty() ? QStringLiteral("; no other airing of this episode fits")
                                       : QStringLiteral("; it fits at %1").arg(refText(alternatives.first()));
        return text;
    }
    }
    return {};
}

struct Scheduler::Private
{
    SchedulerOptions options;
    std::vector<RuleState> rules;
    std::vector<int> order; ///< rule slots in priority order
    QHash<quint64, QList<int>> titleRules, seriesRules;
    QList<int> regexRules;
    QHash<QPair<int, qint64>, QList<int>> singleRules;
    QHash<QString, int> channelIds;
    QStringList channelNames;
    QHash<QString, int> titleIds;
    QStringList titleNames;
    std::unique_ptr<GuideIndex> index;
    QList<RecordedEpisode> history;
    SchedulePlan last;
    PlanMemo memo;
    /// Rule slots whose candidates changed since the last plan (update()'s partial rematch).
    QSet<int> rematched;
    /// Title keys of the airings that came or went since the last plan: conflicts of these titles
    /// look for alternatives again.
    QSet<quint64> retitled;


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
    AiringRef ref(const RuleState &rs, const Candidate &c) const
    {
        return {rs.rule.id, channelNames[c.channel], c.start, c.stop, titleNames[c.title]};
    }

    // The plan's part (plan() and what update() tells of it).
    /// The recordings of the rules whose outcomes the last plan rebuilt: (before, after) per rule;
    /// meaningful when changesKnown (the plan before was kept to compare with).
    std::vector<std::pair<QList<PlannedRecording>, QList<PlannedRecording>>> changedParts;
    bool changesKnown = false;

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
    rs.titleKey = r.kind == RuleKind::Title ? titleKey(r.title) : 0;
    rs.seriesKey = r.kind == RuleKind::SeriesId ? seriesKey(r.seriesId) : 0;
    rs.regex = r.kind == RuleKind::Regex && rs.valid ? TitlePattern(r.pattern) : TitlePattern();
    rs.channel = r.channelId.isEmpty() ? -1 : channelKey(r.channelId);
    rs.zone = r.window.timeZone.isEmpty() ? QTimeZone() : QTimeZone(r.window.timeZone.toUtf8());
    rankChannels();
}

void Scheduler::Private::rebuildRuleMaps()
{
    titleRules.clear();
    seriesRules.clear();
    regexRules.clear();
    singleRules.clear();
    order.clear();
    for (int s = 0; s < int(rules.size()); ++s) {
        const RuleState &rs = rules[size_t(s)];
        order.push_back(s);
        if (!rs.valid)
            continue;
        switch (rs.rule.kind) {
        case RuleKind::Single: singleRules[{rs.channel, rs.rule.start}].append(s); break;
        case RuleKind::SeriesId: seriesRules[rs.seriesKey].append(s); break;
        case RuleKind::Title: titleRules[rs.titleKey].append(s); break;
        case RuleKind::Regex: regexRules.append(s); break;
        }
    }
    // The priority order (see scheduler.h): priority, single before series, older, lower id.
    std::sort(order.begin(), order.end(), [&](int a, int b) {
        const RecordingRule &x = rules[size_t(a)].rule, &y = rules[size_t(b)].rule;
        if (x.priority != y.priority)
            return x.priority > y.priority;
        if (x.isSeries() != y.isSeries())
            return !x.isSeries();
        if (x.created != y.created)
            return x.created < y.created;
        if (x.id != y.id)
            return x.id < y.id;
        return a < b;
    });
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

SchedulePlan Scheduler::Private::plan(qint64 now)
{
    QElapsedTimer timer;
    timer.start();
    const double cpu0 = processCpuMs();
    SchedulePlan out;
    const CapacityOptions &cap = options.capacity;
    CapacityBook book(cap, int(channelNames.size()), now);
    std::vector<bool> archived(size_t(channelNames.size()), false);
    for (int c = 0; c < channelNames.size(); ++c)
        archived[size_t(c)] = cap.archivedChannels.contains(channelNames[c]);

    DuplicateIndex historyIndex;
    QHash<qint64, int> keptOfRule;
    for (const RecordedEpisode &h : std::as_const(history)) {
        historyIndex.add(h.identity, h.ruleId);
        if (h.kept)
            ++keptOfRule[h.ruleId];
    }
    auto historyRef = [&](int entry) {
        const RecordedEpisode &h = history[entry];
        return AiringRef{h.ruleId, h.channelId, h.recordedAt, 0, h.title};
    };

    struct Group
    {
        int slot = 0;
        std::vector<const Candidate *> airings; ///< by start
        int chosen = -1;
        int node = -1;
        SkipReason status = SkipReason::Conflict;
        AiringRef related;
        DuplicateLayer layer = DuplicateLayer::None;
        QString note;
    };
    std::vector<Group> groups;
    std::vector<std::vector<int>> candidateGroup(rules.size()); ///< per slot and candidate: its group, -1 none
    std::vector<std::vector<int>> candidatePosition(rules.size()); ///< and its place in the group's airings
    DuplicateIndex plannedIndex;
    std::vector<int> plannedGroupOfEntry;
    QHash<int, int> plannedOfSlot;
    std::vector<int> dropped;

    auto interval = [&](const RuleState &rs, const Candidate &c) {
        return std::pair<qint64, qint64>{std::max(now, c.start - rs.rule.prePadding), c.stop + rs.rule.postPadding};
    };
    auto placeGroup = [&](int gi, int k, int node) {
        Group &g = groups[size_t(gi)];
        const RuleState &rs = rules[size_t(g.slot)];
        const Candidate &c = *g.airings[size_t(k)];
        const auto [from, to] = interval(rs, c);
        book.place(gi, node, c.channel, from, to, archived[size_t(c.channel)]);
        g.chosen = k;
        g.node = node;
    };
    auto unplaceGroup = [&](int gi) {
        Group &g = groups[size_t(gi)];
        book.unplace(gi);
        g.chosen = -1;
        g.node = -1;
    };
    auto tryPlace = [&](int gi, int k) {
        const Group &g = groups[size_t(gi)];
        const RuleState &rs = rules[size_t(g.slot)];
        const Candidate &c = *g.airings[size_t(k)];
        const auto [from, to] = interval(rs, c);
        const int node = book.choose(c.channel, from, to, archived[size_t(c.channel)]);
        if (node >= 0)
            placeGroup(gi, k, node);
        return node >= 0;
    };
    // Planned groups whose recording overlaps [from, to) on a node and costs capacity there.
    auto overlapping = [&](qint64 from, qint64 to, int exceptChannel, int limit) {
        return book.overlapping(from, to, exceptChannel, limit);
    };
    auto keepReached = [&](int slot) {
        const RecordingRule &r = rules[size_t(slot)].rule;
        if (r.keep <= 0)
            return false;
        const int kept = r.keepPolicy == KeepPolicy::StopWhenFull ? keptOfRule.value(r.id) : 0;
        return plannedOfSlot.value(slot) + kept >= r.keep;
    };
    auto planned = [&](int gi) {
        const Group &g = groups[size_t(gi)];
        ++plannedOfSlot[g.slot];
        plannedIndex.add(g.airings.front()->identity, rules[size_t(g.slot)].rule.id);
        plannedGroupOfEntry.push_back(gi);
    };


    // Reuse of the last plan's pass 1 (docs/dvr-scheduler.md, "Planning incrementally"): an
    // episode's capacity decision is taken again from the memo when its rule's episodes are the
    // same as then and none of the minutes its tries read differ from the last plan's book at the
    // same point of the pass; everything else (history, duplicates, keep-N) is decided afresh.
    const bool replay = memo.valid && memo.rules.size() == rules.size();
    PlanMemo next;
    next.valid = true;
    next.now = now;
    next.rules.resize(rules.size());
    DirtyMinutes dirty(book.epochMinutes(now, now + 60).first);
    int reused = 0, decided = 0;
    std::vector<char> sameGroupsOf(rules.size(), 0);
    std::vector<int> baseOf(rules.size(), 0);
    auto intervalAt = [&](const RuleState &rs, const Candidate &c, qint64 at) {
        return std::pair<qint64, qint64>{std::max(at, c.start - rs.rule.prePadding), c.stop + rs.rule.postPadding};
    };
    // Whether the last plan's tries of airings [0, last] of group gi read the same book as now.
    auto sameTries = [&](int gi, int last) {
        const Group &g = groups[size_t(gi)];
        const RuleState &rs = rules[size_t(g.slot)];
        for (int k = 0; k <= last; ++k) {
            const Candidate &c = *g.airings[size_t(k)];
            const auto span = interval(rs, c);
            if (span != intervalAt(rs, c, memo.now))
                return false;
            if (archived[size_t(c.channel)])
                continue;
            const auto [a, b] = book.epochMinutes(span.first, span.second);
            if (dirty.any(a, b))
                return false;
        }
        return true;
    };
    auto memoOf = [&](int gi, int tried) {
        const Group &g = groups[size_t(gi)];
        GroupMemo m;
        m.tried = tried;
        if (tried >= 0 && g.chosen >= 0) {
            const Candidate &c = *g.airings[size_t(g.chosen)];
            m.node = g.node;
            if (!archived[size_t(c.channel)]) {
                const auto [from, to] = interval(rules[size_t(g.slot)], c);
                std::tie(m.from, m.to) = book.epochMinutes(from, to);
                m.channel = c.channel;
            }
        }
        return m;
    };
    // The same differences told apart by rule, for pass 2 and the outcomes (which name the
    // recordings in the way and move them): placements of a rule grouped again count as differing
    // even where they are the same (an episode's index, its airings, may have changed).
    DirtyMinutes tagged(book.epochMinutes(now, now + 60).first);
    auto changeDirty = [&](const GroupMemo &m, int delta, int slot, bool regrouped) {
        if (m.from >= m.to)
            return;
        dirty.change(m.node, m.channel, m.from, m.to, delta);
        tagged.change(m.node, m.channel, m.from, m.to, delta, slot);
        if (regrouped)
            tagged.touch(m.from, m.to);
    };

    // Pass 1: every rule in priority order, each of its episodes taking the earliest airing that fits.
    for (const int slot : order) {
        const RuleState &rs = rules[size_t(slot)];
        const RecordingRule &r = rs.rule;
        if (!rs.valid) {
            out.ruleReports.append({r.id, QStringLiteral("invalid, not scheduled: %1").arg(rs.error)});
            continue;
        }
        if (!r.enabled)
            continue;
        const int base = int(groups.size());
        const bool any = !rs.candidates.empty();
        std::vector<int> &groupOf = candidateGroup[size_t(slot)];
        std::vector<int> &positionOf = candidatePosition[size_t(slot)];
        groupOf.assign(rs.candidates.size(), -1);
        positionOf.assign(rs.candidates.size(), -1);
        // The rule's episodes are the last plan's when its candidates did not change and as many
        // are still on (fewer when airings ended: the set only shrinks as time moves on).
        RuleMemo &memoNext = next.rules[size_t(slot)];
        memoNext.alive = 0;
        for (const Candidate &c : rs.candidates)
            memoNext.alive += c.stop > now && c.filter == NoFilter;
        RuleMemo *memoLast = replay ? &memo.rules[size_t(slot)] : nullptr;
        const bool sameGroups = memoLast && !rematched.contains(slot) && memoLast->alive == memoNext.alive
            && memoLast->groupOf.size() == rs.candidates.size();
        sameGroupsOf[size_t(slot)] = sameGroups;
        baseOf[size_t(slot)] = base;
        if (sameGroups) {
            // The same airings grouped the same way: the last plan's grouping, without the
            // duplicate index it was made with.
            groups.resize(size_t(base) + memoLast->groups.size());
            for (size_t gi = size_t(base); gi < groups.size(); ++gi)
                groups[gi].slot = slot;
            for (size_t ci = 0; ci < rs.candidates.size(); ++ci) {
                const int rel = memoLast->groupOf[ci];
                if (rel < 0)
                    continue;
                Group &g = groups[size_t(base + rel)];
                groupOf[ci] = base + rel;
                positionOf[ci] = int(g.airings.size());
                g.airings.push_back(&rs.candidates[ci]);
            }
            memoNext.groupOf = std::move(memoLast->groupOf);
        } else {
            DuplicateIndex local;
            memoNext.groupOf.assign(rs.candidates.size(), -1);
            for (size_t ci = 0; ci < rs.candidates.size(); ++ci) {
                const Candidate &c = rs.candidates[ci];
                if (c.stop <= now || c.filter != NoFilter)
                    continue;
                if (r.duplicateScope != DuplicateScope::None) {
                    if (const auto m = local.find(c.identity, r.duplicateMethod)) {
                        groupOf[ci] = base + m.entry;
                        positionOf[ci] = int(groups[size_t(base + m.entry)].airings.size());
                        groups[size_t(base + m.entry)].airings.push_back(&c);
                        memoNext.groupOf[ci] = m.entry;
                        continue;
                    }
                    local.add(c.identity, 0);
                }
                groupOf[ci] = int(groups.size());
                positionOf[ci] = 0;
                memoNext.groupOf[ci] = int(groups.size()) - base;
                Group g;
                g.slot = slot;
                g.airings.push_back(&c);
                groups.push_back(std::move(g));
            }
            if (memoLast) // its placements are all decided afresh: all of them differ until placed again
                for (const GroupMemo &m : memoLast->groups)
                    changeDirty(m, -1, slot, true);
        }
        memoNext.groups.reserve(size_t(int(groups.size()) - base));
        if (!any) {
            if (r.kind == RuleKind::Single) {
                if (r.start >= now)
                    out.ruleReports.append({r.id, QStringLiteral("no airing starts at %1 on %2 in the guide (removed)")
                                                      .arg(timeText(r.start), r.channelId)});
            } else {
                out.ruleReports.append({r.id, QStringLiteral("no airing in the guide matches")});
            }
        }
        for (int gi = base; gi < int(groups.size()); ++gi) {
            Group &g = groups[size_t(gi)];
            const GroupMemo *was = sameGroups ? &memoLast->groups[size_t(gi - base)] : nullptr;
            // Records the decision and what differs from the last plan's placement of this episode.
            auto decide = [&](int tried) {
                memoNext.groups.push_back(memoOf(gi, tried));
                if (!memoLast)
                    return;
                const GroupMemo &is = memoNext.groups.back();
                if (was && was->node == is.node && was->channel == is.channel && was->from == is.from
                    && was->to == is.to)
                    return; // the same placement: +1 and -1 cancel
                changeDirty(is, 1, slot, !was);
                if (was)
                    changeDirty(*was, -1, slot, false);
            };
            const EpisodeIdentity &id = g.airings.front()->identity;
            if (r.duplicateScope != DuplicateScope::None) {
                const qint64 owner = r.duplicateScope == DuplicateScope::Rule ? (r.id ? r.id : -1) : 0;
                if (const auto m = historyIndex.find(id, r.duplicateMethod, owner)) {
                    g.status = SkipReason::AlreadyRecorded;
                    g.related = historyRef(m.entry);
                    g.layer = m.layer;
                    decide(-2);
                    continue;
                }
                if (r.duplicateScope == DuplicateScope::AllRules) {
                    if (const auto m = plannedIndex.find(id, r.duplicateMethod)) {
                        const Group &other = groups[size_t(plannedGroupOfEntry[size_t(m.entry)])];
                        g.status = SkipReason::Duplicate;
                        g.related = ref(rules[size_t(other.slot)], *other.airings[size_t(other.chosen)]);
                        g.layer = m.layer;
                        decide(-2);
                        continue;
                    }
                }
            }
            if (keepReached(slot)) {
                g.status = SkipReason::KeepLimit;
                decide(-2);
                continue;
            }
            int tried = -1;
            if (was && was->tried != -2
                && sameTries(gi, was->tried >= 0 ? was->tried : int(g.airings.size()) - 1)) {
                // The same tries over the same minutes: the same outcome, without asking the book.
                if (was->tried >= 0) {
                    placeGroup(gi, was->tried, was->node);
                    tried = was->tried;
                }
                ++reused;
            } else {
                for (int k = 0; k < int(g.airings.size()) && tried < 0; ++k)
                    if (tryPlace(gi, k))
                        tried = k;
                ++decided;
            }
            decide(tried);
            if (tried >= 0)
                planned(gi);
            else
                dropped.push_back(gi);
        }
    }
    PlanMemo previous = std::exchange(memo, std::move(next));
    rematched.clear();

    const qint64 pass1 = timer.elapsed();
    const double cpu1 = processCpuMs();
    // Pass 2: a dropped episode gets in when one recording blocking it can move to another airing
    // of its own episode. Lower-priority blockers are moved first.
    //
    // Replayed like pass 1 (docs/dvr-scheduler.md, "Planning incrementally"): `tagged` holds the
    // difference between this plan's book and the last one's at the same point of the pass. An
    // episode dropped then and now, at the same time, of a rule grouped the same way, whose tries
    // and moves read no differing minute, does what it did then (the blockers it found are the
    // same placements, `overlapping` depends only on the set placed); every other step is made
    // afresh, and the difference of the two steps' effects goes into `tagged`.
    std::vector<int> positionOf(rules.size(), -1);
    for (size_t i = 0; i < order.size(); ++i)
        positionOf[size_t(order[i])] = int(i);
    auto placementOf = [&](const Group &g) {
        std::array<int, 5> m{};
        if (g.chosen < 0)
            return m;
        const Candidate &c = *g.airings[size_t(g.chosen)];
        if (archived[size_t(c.channel)])
            return m;
        const auto [from, to] = interval(rules[size_t(g.slot)], c);
        const auto [a, b] = book.epochMinutes(from, to);
        return std::array<int, 5>{g.node, c.channel, a, b, g.slot};
    };
    auto changeTagged = [&](const std::array<int, 5> &m, int delta) {
        if (m[2] < m[3])
            tagged.change(m[0], m[1], m[2], m[3], delta, m[4]);
    };
    auto effect = [&](const RescueMemo &m, int delta) {
        if (!m.rescued)
            return;
        changeTagged(m.placed, delta);
        changeTagged(m.blockerWas, -delta);
        changeTagged(m.blockerIs, delta);
    };
    const std::vector<RescueMemo> noRescues;
    const std::vector<RescueMemo> &lastRescues = replay ? previous.rescues : noRescues;
    size_t lastAt = 0;
    int rescuesReused = 0;
    for (const int gi : dropped) {
        Group &g = groups[size_t(gi)];
        const std::pair<int, int> step{positionOf[size_t(g.slot)], gi - baseOf[size_t(g.slot)]};
        for (; lastAt < lastRescues.size() && lastRescues[lastAt].step < step; ++lastAt)
            effect(lastRescues[lastAt], -1); // a step the last plan made and this one does not
        const RescueMemo *was = lastAt < lastRescues.size() && lastRescues[lastAt].step == step ? &lastRescues[lastAt++] : nullptr;
        if (keepReached(g.slot)) {
            if (was)
                effect(*was, -1);
            continue;
        }
        const RuleState &rs = rules[size_t(g.slot)];
        if (was && previous.now == now && sameGroupsOf[size_t(g.slot)]
            && std::none_of(was->read.cbegin(), was->read.cend(), [&](const std::pair<int, int> &m) {
                   return tagged.any(m.first, m.second);
               })) {
            memo.rescues.push_back(*was);
            ++rescuesReused;
            if (!was->rescued)
                continue;
            const int bi = baseOf[size_t(was->blockerSlot)] + was->blockerGroup;
            Group &b = groups[size_t(bi)];
            unplaceGroup(bi);
            placeGroup(gi, was->airing, was->node);
            placeGroup(bi, was->blockerAiring, was->blockerNode);
            b.note = QStringLiteral("moved to make room for %1").arg(refText(ref(rs, *g.airings[size_t(was->airing)])));
            planned(gi);
            continue;
        }
        RescueMemo m;
        m.step = step;
        auto read = [&](const RuleState &of, const Candidate &c) {
            const auto [from, to] = interval(of, c);
            m.read.push_back(book.epochMinutes(from, to));
        };
        bool rescued = false;
        int attempts = 0;
        for (int k = 0; k < int(g.airings.size()) && !rescued && attempts < MaxMovesTried; ++k) {
            const Candidate &c = *g.airings[size_t(k)];
            const auto [from, to] = interval(rs, c);
            read(rs, c);
            std::vector<int> blockers = overlapping(from, to, c.channel, MaxMovesTried);
            std::reverse(blockers.begin(), blockers.end());
            const bool fitsNow = book.choose(c.channel, from, to, archived[size_t(c.channel)]) >= 0;
            for (const int bi : blockers) {
                Group &b = groups[size_t(bi)];
                if (b.airings.size() < 2)
                    continue;
                const int bChosen = b.chosen, bNode = b.node;
                if (!fitsNow && !book.mayFitWithout(bi, c.channel, from, to)) {
                    // Taking b away cannot make room: each move of b would fail. Counted as tried
                    // (the bound stays), without unplacing and placing b again for nothing.
                    for (int alt = 0; alt < int(b.airings.size()) && attempts < MaxMovesTried; ++alt)
                        if (alt != bChosen && b.airings[size_t(alt)]->stop > now)
                            ++attempts;
                    if (attempts >= MaxMovesTried)
                        break;
                    continue;
                }
                const std::array<int, 5> bWas = placementOf(b);
                for (int alt = 0; alt < int(b.airings.size()) && !rescued && attempts < MaxMovesTried; ++alt) {
                    if (alt == bChosen || b.airings[size_t(alt)]->stop <= now)
                        continue;
                    ++attempts;
                    read(rules[size_t(b.slot)], *b.airings[size_t(alt)]);
                    unplaceGroup(bi);
                    if (tryPlace(gi, k)) {
                        if (tryPlace(bi, alt)) {
                            rescued = true;
                            b.note = QStringLiteral("moved to make room for %1").arg(refText(ref(rs, c)));
                            m.rescued = true;
                            m.airing = k;
                            m.node = g.node;
                            m.blockerSlot = b.slot;
                            m.blockerGroup = bi - baseOf[size_t(b.slot)];
                            m.blockerAiring = alt;
                            m.blockerNode = b.node;
                            m.placed = placementOf(g);
                            m.blockerWas = bWas;
                            m.blockerIs = placementOf(b);
                            break;
                        }
                        unplaceGroup(gi);
                    }
                    placeGroup(bi, bChosen, bNode);
                }
                if (rescued || attempts >= MaxMovesTried)
                    break;
            }
        }
        if (was)
            effect(*was, -1);
        effect(m, 1);
        memo.rescues.push_back(std::move(m));
        if (rescued)
            planned(gi);
    }
    for (; lastAt < lastRescues.size(); ++lastAt)
        effect(lastRescues[lastAt], -1);

    const qint64 pass2 = timer.elapsed();
    const double cpu2 = processCpuMs();
    // The plan and a reason for every airing left out, rule by rule in priority order, each
    // rule's airings by start: the order of `skipped` without sorting it.
    const GuideIndex *ix = index.get();
    // The final book against the last plan's: conflicts whose alternatives read none of the
    // minutes that differ, of a rule whose episodes are the same and a title no airing of which
    // came or went, have the same alternatives.
    // `tagged` now holds the difference between the final books (after pass 2).
    const DirtyMinutes &finalDirty = tagged;
    memo.channelCount = int(channelNames.size());
    const bool reuseAlternatives = replay && previous.now == now && previous.channelCount == memo.channelCount;
    // A rule's outcomes are taken over from the last plan when everything they are made of is the
    // same (below); needs the same channel ranks (the recordings' order) and capacity options.
    const bool reuseOutcomes = replay && previous.channelCount == memo.channelCount;
    int alternativesReused = 0;
    // Airings of the same episode anywhere in the guide that fit now: the alternatives of a conflict.
    auto alternativesFor = [&](const Group &g, std::vector<std::pair<int, int>> &read) {
        QList<AiringRef> alts;
        if (!ix)
            return alts;
        const RuleState &rs = rules[size_t(g.slot)];
        const EpisodeIdentity &id = g.airings.front()->identity;
        const quint8 methods = rs.rule.duplicateScope == DuplicateScope::None ? quint8(DuplicateAllLayers)
                                                                               : rs.rule.duplicateMethod;
        std::vector<epg::Airing> airings;
        const QString &title = titleNames[g.airings.front()->title];
        for (const quint32 t : ix->titlesByKey.value(titleKey(title))) {
            ix->forProgrammesTitled(t, [&](quint32 p) {
                const EpisodeIdentity pid = ix->identity(p);
                if (pid != id && sameEpisode(pid, id, methods) == DuplicateLayer::None)
                    return;
                ix->forAirings(p, [&](quint32 i) {
                    const epg::Airing a = ix->guide->airing(i);
                    if (a.stop <= now)
                        return;
                    const int ch = ix->channelKey[a.channel];
                    for (const Candidate *own : g.airings)
                        if (own->channel == ch && own->start == a.start)
                            return;
                    airings.push_back(a);
                });
            });
        }
        std::sort(airings.begin(), airings.end(), [&](const epg::Airing &a, const epg::Airing &b) {
            if (a.start != b.start)
                return a.start < b.start;
            return channelRank[size_t(ix->channelKey[a.channel])] < channelRank[size_t(ix->channelKey[b.channel])];
        });
        for (const epg::Airing &a : airings) {
            const int ch = ix->channelKey[a.channel];
            const qint64 from = std::max(now, a.start - rs.rule.prePadding), to = a.stop + rs.rule.postPadding;
            if (!archived[size_t(ch)])
                read.push_back(book.epochMinutes(from, to));
            if (book.choose(ch, from, to, archived[size_t(ch)]) < 0)
                continue;
            alts.append(AiringRef{rs.rule.id, channelNames[ch], a.start, a.stop, title});
            if (alts.size() >= 5)
                break;
        }
        return alts;
    };
    const QList<RecorderNode> &nodes = cap.nodes;
    // An episode's other airings all name the same related airing: one list per episode, shared
    // (implicitly) by its skips, instead of one allocation per skip (~230k at the benchmark's size).
    std::vector<QList<AiringRef>> relatedOf(groups.size());
    std::vector<int> active; // slots in priority order that have outcomes
    for (const int slot : order)
        if (rules[size_t(slot)].valid && rules[size_t(slot)].rule.enabled)
            active.push_back(slot);
    auto finalOf = [&](const Group &g) {
        FinalGroup f;
        f.chosen = g.chosen;
        f.node = g.node;
        if (g.chosen >= 0) {
            f.note = g.note;
        } else {
            f.status = g.status;
            if (g.status == SkipReason::AlreadyRecorded || g.status == SkipReason::Duplicate) {
                f.layer = g.layer;
                f.related = g.related;
            }
        }
        return f;
    };
    // Whether the rule's outcomes in the last plan are its outcomes now: the same candidates
    // grouped the same way, the same final state of every episode, the same keep counts, the
    // same time (or none of its airings near it), and for each conflict the same recordings in
    // the way (no differing placement in its minutes) and the same alternatives (reused).
    std::vector<char> rebuilt(rules.size(), 0);
    std::atomic<int> conflicts{0};
    std::atomic<int> alternativesReusedCount{0}, outcomesReused{0};
    auto sameOutcomes = [&](int slot, const RuleMemo &was, RuleMemo &is) {
        const RuleState &rs = rules[size_t(slot)];
        if (!reuseOutcomes || !was.hasOutcomes || !sameGroupsOf[size_t(slot)] || was.finals.size() != is.finals.size()
            || was.planned != is.planned || was.kept != is.kept)
            return false;
        const bool sameTime = previous.now == now;
        if (!sameTime && !rs.candidates.empty()
            && rs.candidates.front().start - rs.rule.prePadding < std::max(now, previous.now) + 60)
            return false;
        for (size_t i = 0; i < is.finals.size(); ++i)
            if (!(was.finals[i] == is.finals[i]))
                return false;
        const int base = baseOf[size_t(slot)];
        bool conflictsDirty = false;
        for (size_t i = 0; i < is.finals.size(); ++i) {
            const FinalGroup &f = is.finals[i];
            if (f.chosen >= 0 || f.status != SkipReason::Conflict)
                continue;
            if (!sameTime)
                return false;
            const Group &g = groups[size_t(base) + i];
            // The alternatives, as a rebuilt rule would reuse them.
            if (!reuseAlternatives || retitled.contains(titleKey(titleNames[g.airings.front()->title])))
                return false;
            auto it = was.alternatives.constFind(int(i));
            if (it == was.alternatives.cend())
                return false;
            for (const auto &[x, y] : it->read)
                if (finalDirty.any(x, y))
                    return false;
            for (const Candidate *c : g.airings) {
                const auto [from, to] = interval(rs, *c);
                const auto [x, y] = book.epochMinutes(from, to);
                conflictsDirty = conflictsDirty || finalDirty.any(x, y);
            }
        }
        if (!conflictsDirty)
            return true;
        // Some placement in the way of a conflict differs: the recordings it names are asked for
        // again (what a rebuilt rule would do) and compared with the last plan's, which costs far
        // less than building the rule's outcomes again (a full book differs nearly everywhere
        // after a change that ripples, while the streams in the way of one airing often do not).
        const std::vector<int> &groupOf = candidateGroup[size_t(slot)];
        qsizetype at = 0;
        for (size_t ci = 0; ci < rs.candidates.size(); ++ci) {
            const Candidate &c = rs.candidates[ci];
            if (c.stop <= now)
                continue;
            if (c.filter != NoFilter) {
                ++at;
                continue;
            }
            const Group &g = groups[size_t(groupOf[ci])];
            if (g.chosen >= 0) {
                at += g.chosen != candidatePosition[size_t(slot)][ci];
                continue;
            }
            if (at >= was.skipped.size())
                return false;
            const SkippedAiring &sk = was.skipped[at++];
            if (g.status != SkipReason::Conflict)
                continue;
            const auto [from, to] = interval(rs, c);
            const auto [x, y] = book.epochMinutes(from, to);
            if (!finalDirty.any(x, y))
                continue;
            const std::vector<int> inTheWay = overlapping(from, to, c.channel, MaxConflictsNamed);
            if (qsizetype(inTheWay.size()) != sk.relatedTo.size())
                return false;
            for (size_t j = 0; j < inTheWay.size(); ++j) {
                const Group &b = groups[size_t(inTheWay[j])];
                if (!(ref(rules[size_t(b.slot)], *b.airings[size_t(b.chosen)]) == sk.relatedTo[qsizetype(j)]))
                    return false;
            }
        }
        return true;
    };
    auto outcomesOf = [&](size_t at) {
        const int slot = active[at];
        const RuleState &rs = rules[size_t(slot)];
        RuleMemo &is = memo.rules[size_t(slot)];
        RuleMemo *was = replay ? &previous.rules[size_t(slot)] : nullptr;
        const int base = baseOf[size_t(slot)];
        is.finals.resize(is.groups.size());
        for (size_t i = 0; i < is.finals.size(); ++i)
            is.finals[i] = finalOf(groups[size_t(base) + i]);
        is.planned = plannedOfSlot.value(slot);
        is.kept = rs.rule.keepPolicy == KeepPolicy::StopWhenFull ? keptOfRule.value(rs.rule.id) : 0;
        is.hasOutcomes = true;
        int conflictsHere = 0;
        if (was && sameOutcomes(slot, *was, is)) {
            is.recordings = std::move(was->recordings);
            is.skipped = std::move(was->skipped);
            is.recordingKeys = std::move(was->recordingKeys);
            is.alternatives = std::move(was->alternatives);
            for (const FinalGroup &f : is.finals)
                if (f.chosen < 0 && f.status == SkipReason::Conflict)
                    conflictsHere += int(groups[size_t(base) + (&f - is.finals.data())].airings.size());
            conflicts.fetch_add(conflictsHere, std::memory_order_relaxed);
            outcomesReused.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        rebuilt[size_t(slot)] = 1;
        is.recordings.clear();
        is.skipped.clear();
        is.recordingKeys.clear();
        is.skipped.reserve(qsizetype(rs.candidates.size()));
        int alternativesGroup = -1;
        QList<AiringRef> groupAlternatives;
        const std::vector<int> &groupOf = candidateGroup[size_t(slot)];
        for (size_t ci = 0; ci < rs.candidates.size(); ++ci) {
            const Candidate &c = rs.candidates[ci];
            if (c.stop <= now)
                continue;
            SkippedAiring sk;
            sk.airing = ref(rs, c);
            if (c.filter != NoFilter) {
                sk.reason = SkipReason(c.filter);
                is.skipped.append(std::move(sk));
                continue;
            }
            const Group &g = groups[size_t(groupOf[ci])];
            const int k = candidatePosition[size_t(slot)][ci];
            if (g.chosen >= 0) {
                const Candidate &chosen = *g.airings[size_t(g.chosen)];
                if (k == g.chosen) {
                    const auto [from, to] = interval(rs, c);
                    PlannedRecording p;
                    p.ruleId = rs.rule.id;
                    p.owner = rs.rule.owner;
                    p.channelId = sk.airing.channelId;
                    p.start = c.start;
                    p.stop = c.stop;
                    p.recordStart = from;
                    p.recordStop = to;
                    p.title = sk.airing.title;
                    p.nodeId = archived[size_t(c.channel)] ? QString() : nodes[g.node].id;
                    p.identity = c.identity;
                    is.recordingKeys.push_back({from, channelRank[size_t(c.channel)], rs.rule.id, int(at), int(ci), slot});
                    is.recordings.append(std::move(p));
                    continue;
                }
                sk.reason = k < g.chosen ? SkipReason::Moved : SkipReason::Duplicate;
                QList<AiringRef> &related = relatedOf[size_t(groupOf[ci])];
                if (related.isEmpty())
                    related = {ref(rs, chosen)};
                sk.relatedTo = related;
                sk.note = g.note;
                is.skipped.append(std::move(sk));
                continue;
            }
            sk.reason = g.status;
            switch (g.status) {
            case SkipReason::AlreadyRecorded:
            case SkipReason::Duplicate: {
                QList<AiringRef> &related = relatedOf[size_t(groupOf[ci])];
                if (related.isEmpty())
                    related = {g.related};
                sk.relatedTo = related;
                sk.layer = g.layer;
                break;
            }
            case SkipReason::KeepLimit:
                sk.keep = rs.rule.keep;
                sk.kept = is.kept;
                sk.planned = is.planned;
                break;
            default: {
                const auto [from, to] = interval(rs, c);
                for (const int bi : overlapping(from, to, c.channel, MaxConflictsNamed)) {
                    const Group &b = groups[size_t(bi)];
                    sk.relatedTo.append(ref(rules[size_t(b.slot)], *b.airings[size_t(b.chosen)]));
                }
                if (alternativesGroup != groupOf[ci]) {
                    alternativesGroup = groupOf[ci];
                    const int rel = groupOf[ci] - base;
                    const AlternativesMemo *wasAlternatives = nullptr;
                    if (was && reuseAlternatives && sameGroupsOf[size_t(slot)]
                        && !retitled.contains(titleKey(titleNames[g.airings.front()->title]))) {
                        auto it = was->alternatives.constFind(rel);
                        if (it != was->alternatives.cend()) {
                            wasAlternatives = &*it;
                            for (const auto &[x, y] : wasAlternatives->read)
                                if (finalDirty.any(x, y)) {
                                    wasAlternatives = nullptr;
                                    break;
                                }
                        }
                    }
                    AlternativesMemo &memoAlternatives = is.alternatives[rel];
                    if (wasAlternatives) {
                        memoAlternatives = *wasAlternatives;
                        alternativesReusedCount.fetch_add(1, std::memory_order_relaxed);
                    } else {
                        memoAlternatives.alternatives = alternativesFor(g, memoAlternatives.read);
                    }
                    groupAlternatives = memoAlternatives.alternatives;
                }
                sk.alternatives = groupAlternatives;
                ++conflictsHere;
                break;
            }
            }
            is.skipped.append(std::move(sk));
        }
        conflicts.fetch_add(conflictsHere, std::memory_order_relaxed);
    };
    inChunks(std::clamp(threads(), 1, std::max(1, int(active.size()) / 16)), active.size(), 8, outcomesOf);
    out.conflicts = conflicts.load();
    alternativesReused = alternativesReusedCount.load();
    for (const int slot : active)
        out.skipped.appendPart(memo.rules[size_t(slot)].skipped);

    // The recordings by record start, channel id, rule: the last plan's list less the rebuilt
    // rules' recordings, merged with theirs (all of them sorted when nothing is reused).
    std::vector<std::pair<RecordingKey, const PlannedRecording *>> fresh;
    for (const int slot : active) {
        const RuleMemo &m = memo.rules[size_t(slot)];
        if (!reuseOutcomes || rebuilt[size_t(slot)])
            for (qsizetype i = 0; i < m.recordings.size(); ++i)
                fresh.emplace_back(m.recordingKeys[size_t(i)], &m.recordings[i]);
    }
    std::sort(fresh.begin(), fresh.end(), [](const auto &x, const auto &y) { return x.first < y.first; });
    changedParts.clear();
    changesKnown = reuseOutcomes;
    if (reuseOutcomes) {
        for (const int slot : active)
            if (rebuilt[size_t(slot)])
                changedParts.push_back({previous.rules[size_t(slot)].recordings, memo.rules[size_t(slot)].recordings});
        out.recordings.reserve(last.recordings.size() + qsizetype(fresh.size()));
        memo.recordingKeys.reserve(previous.recordingKeys.size() + fresh.size());
        auto nextFresh = fresh.cbegin();
        for (size_t i = 0; i < previous.recordingKeys.size(); ++i) {
            const RecordingKey &key = previous.recordingKeys[i];
            if (rebuilt[size_t(key.slot)])
                continue;
            for (; nextFresh != fresh.cend() && nextFresh->first < key; ++nextFresh) {
                out.recordings.append(*nextFresh->second);
                memo.recordingKeys.push_back(nextFresh->first);
            }
            out.recordings.append(last.recordings[qsizetype(i)]);
            memo.recordingKeys.push_back(key);
        }
        for (; nextFresh != fresh.cend(); ++nextFresh) {
            out.recordings.append(*nextFresh->second);
            memo.recordingKeys.push_back(nextFresh->first);
        }
    } else {
        out.recordings.reserve(qsizetype(fresh.size()));
        memo.recordingKeys.reserve(fresh.size());
        for (const auto &[key, p] : fresh) {
            out.recordings.append(*p);
            memo.recordingKeys.push_back(key);
        }
    }
    last = out;
    retitled.clear();
    qCDebug(lcScheduler) << "plan:" << groups.size() << "episodes," << dropped.size() << "dropped in pass 1;"
                         << reused << "capacity decisions reused," << decided << "made," << alternativesReused
                         << "conflicts' alternatives reused," << rescuesReused << "second chances reused,"
                         << outcomesReused.load() << "rules' outcomes reused; pass 1"
                         << pass1 << "ms, pass 2" << pass2 - pass1 << "ms, outcomes" << timer.elapsed() - pass2
                         << "ms wall; CPU" << qRound(cpu1 - cpu0) << "/" << qRound(cpu2 - cpu1) << "/"
                         << qRound(processCpuMs() - cpu2) << "ms";
    return out;
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
    d->memo.valid = false;
}

void Scheduler::setRules(const QList<RecordingRule> &rules)
{
    d->memo.valid = false;
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
    auto it = std::find_if(d->rules.begin(), d->rules.end(), [&](const RuleState &rs) { return rs.rule.id == rule.id; });
    if (it == d->rules.end())
        it = d->rules.insert(d->rules.end(), RuleState{});
    d->memo.valid = false;
    it->rule = rule;
    d->compile(*it);
    d->rebuildRuleMaps();
    d->matchRule(*it);
}

void Scheduler::removeRule(qint64 ruleId)
{
    d->memo.valid = false;
    d->rules.erase(std::remove_if(d->rules.begin(), d->rules.end(), [&](const RuleState &rs) { return rs.rule.id == ruleId; }),
                   d->rules.end());
    d->rebuildRuleMaps();
}

QList<RecordingRule> Scheduler::rules() const
{
    QList<RecordingRule> out;
    for (const RuleState &rs : d->rules)
        out.append(rs.rule);
    return out;
}

void Scheduler::setHistory(const QList<RecordedEpisode> &history)
{
    d->history = history;
}

SchedulePlan Scheduler::evaluate(std::shared_ptr<const epg::Guide> guide, qint64 now)
{
    QElapsedTimer timer;
    timer.start();
    d->index = d->buildIndex(std::move(guide));
    const qint64 indexed = timer.elapsed();
    d->memo.valid = false; // every rule matched again
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
    if (!d->index) {
        SchedulePlan p = evaluate(std::move(guide), now);
        if (changes) {
            *changes = {};
            changes->added = p.recordings;
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
        d->retitled.insert(ix.titleKeyOf.value(oldIndex->titleOf(h)));
        const int channel = oldIndex->channelKey[a.channel];
        for (const int s : d->rulesFor(*oldIndex, a)) {
            leaving[s].emplace_back(a.start, channel);
            touched.insert(s);
            if (d->rules[size_t(s)].rule.kind == RuleKind::Single)
                singleLost.push_back({s, oldIndex->fingerprintOf(h)});
        }
    }
    for (auto it = leaving.begin(); it != leaving.end(); ++it) {
        std::sort(it->begin(), it->end());
        auto &cands = d->rules[size_t(it.key())].candidates;
        cands.erase(std::remove_if(cands.begin(), cands.end(),
                                   [&](const Candidate &c) {
                                       return std::binary_search(it->begin(), it->end(), std::pair<qint64, int>{c.start, c.channel});
                                   }),
                    cands.end());
    }
    QHash<int, std::vector<Candidate>> joining; // slot -> new candidates
    auto insert = [&](int s, const epg::Airing &a) {
        joining[s].push_back(d->candidate(ix, a, d->rules[size_t(s)]));
        touched.insert(s);
    };
    std::vector<std::pair<quint32, QList<int>>> cameRules; // airing, the rules that may match it
    std::vector<quint32> fresh;
    for (const quint32 j : came) {
        const epg::Airing a = ng.airing(j);
        d->retitled.insert(ix.titleKeyOf.value(ix.titleOf(ix.handleOf(a))));
        QList<int> slots = d->rulesFor(ix, a);
        if (slots.isEmpty())
            continue;
        fresh.push_back(ix.handleOf(a));
        cameRules.emplace_back(j, std::move(slots));
    }
    // A programme that came with the text of one that went (moved, or aired again) has its
    // identity: the fingerprint is of exactly what the identity reads. The others are computed in
    // description order (one block read per few, not per one).
    if (!fresh.empty()) {
        QHash<quint64, EpisodeIdentity> known;
        for (size_t oc = 0; oc < oldIndex->parts.size(); ++oc) {
            const ChannelPart &old = *oldIndex->parts[oc];
            const int nc = size_t(old.channel) < ix.guideChannel.size() ? ix.guideChannel[size_t(old.channel)] : -1;
            if (nc >= 0 && ix.parts[size_t(nc)].get() == &old)
                continue; // shared: nothing of it went
            for (quint32 local = 0; local < old.programmeCount(); ++local)
                if (old.identityState[local].load(std::memory_order_acquire) == 2)
                    known.insert(old.fingerprint[local], old.identities[local]);
        }
        for (const quint32 h : fresh) {
            auto it = known.constFind(ix.fingerprintOf(h));
            if (it != known.cend() && !ix.hasIdentity(h))
                ix.setIdentity(h, *it);
        }
    }
    ix.computeIdentities(std::move(fresh), d->threads());
    for (const auto &[j, slots] : cameRules) {
        const epg::Airing a = ng.airing(j);
        for (const int s : slots)
            insert(s, a);
    }
    auto less = [&](const Candidate &x, const Candidate &y) { return d->candidateLess(x, y); };
    for (auto it = joining.begin(); it != joining.end(); ++it) {
        std::sort(it->begin(), it->end(), less);
        auto &cands = d->rules[size_t(it.key())].candidates;
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
            compare(before.recordings, p.recordings);
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
    return d->plan(now);
}

const SchedulePlan &Scheduler::lastPlan() const
{
    return d->last;
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
