#include "plancheck.h"

#include <QHash>

#include <algorithm>
#include <map>

namespace iptv::dvr {

namespace {

/// Minutes from the epoch as the capacity book counts them (both ends to the nearest minute, at
/// least the minute a recording starts in).
std::pair<int, int> minutesOf(qint64 from, qint64 to)
{
    const int a = int((from + 30) / 60);
    const int b = int((to + 30) / 60);
    return {a, to > from ? std::max(b, a + 1) : b};
}

QString text(const AiringRef &r)
{
    return QStringLiteral("rule %1 %2 %3 \"%4\"").arg(r.ruleId).arg(r.channelId).arg(r.start).arg(r.title);
}

/// Streams per node: for each node, each channel's recorded minutes (merged), and the load.
class Streams
{
public:
    /// With `only`, the recordings for which it holds (the committed ones).
    Streams(const CapacityOptions &capacity, const PlannedRecordings &recordings,
            const std::function<bool(const PlannedRecording &)> &only = {})
        : m_capacity(capacity)
    {
        for (const RecorderNode &n : capacity.nodes)
            m_nodes.insert(n.id, Node{n.capacity, {}, {}});
        for (const PlannedRecording &r : recordings) {
            if (capacity.archivedChannels.contains(r.channelId) || (only && !only(r)))
                continue;
            auto it = m_nodes.find(r.nodeId);
            if (it == m_nodes.end())
                continue;
            const auto [a, b] = minutesOf(r.recordStart, r.recordStop);
            it->channels[r.channelId].push_back({a, b});
        }
        for (Node &n : m_nodes) {
            for (auto &spans : n.channels) {
                std::sort(spans.begin(), spans.end());
                std::vector<std::pair<int, int>> merged;
                for (const auto &s : spans) {
                    if (!merged.empty() && s.first <= merged.back().second)
                        merged.back().second = std::max(merged.back().second, s.second);
                    else
                        merged.push_back(s);
                }
                spans = std::move(merged);
                for (const auto &[a, b] : spans) {
                    ++n.load[a];
                    --n.load[b];
                }
            }
            int running = 0;
            for (auto &[minute, delta] : n.load) // the deltas become the load from that minute on
                delta = (running += delta);
        }
    }

    /// Minutes where a node streams more channels than it may, or a channel is pulled by more
    /// nodes than it may be, beyond what `committed` (the committed recordings' streams alone)
    /// take there; one line per node or channel.
    QStringList overloads(const Streams &committed) const
    {
        QStringList out;
        for (auto it = m_nodes.cbegin(); it != m_nodes.cend(); ++it) {
            const auto mine = committed.m_nodes.constFind(it.key());
            std::vector<int> minutes; // where either load changes
            for (const auto &[minute, load] : it->load)
                minutes.push_back(minute);
            if (mine != committed.m_nodes.cend())
                for (const auto &[minute, load] : mine->load)
                    minutes.push_back(minute);
            std::sort(minutes.begin(), minutes.end());
            for (const int minute : minutes) {
                const int load = loadAt(*it, minute);
                if (load > it->capacity && (mine == committed.m_nodes.cend() || load > loadAt(*mine, minute))) {
                    out << QStringLiteral("node %1 streams %2 channels at minute %3 (capacity %4)")
                               .arg(it.key())
                               .arg(load)
                               .arg(minute)
                               .arg(it->capacity);
                    break;
                }
            }
        }
        if (m_capacity.channelStreamLimit > 0) {
            const QHash<QString, std::map<int, int>> pulls = pullsPerChannel(), committedPulls = committed.pullsPerChannel();
            for (auto c = pulls.cbegin(); c != pulls.cend(); ++c) {
                const std::map<int, int> mine = committedPulls.value(c.key());
                std::vector<int> minutes;
                for (const auto &[minute, n] : *c)
                    minutes.push_back(minute);
                for (const auto &[minute, n] : mine)
                    minutes.push_back(minute);
                std::sort(minutes.begin(), minutes.end());
                const auto at = [](const std::map<int, int> &m, int minute) {
                    auto it = m.upper_bound(minute);
                    return it == m.begin() ? 0 : std::prev(it)->second;
                };
                for (const int minute : minutes) {
                    const int running = at(*c, minute);
                    if (running > m_capacity.channelStreamLimit && running > at(mine, minute)) {
                        out << QStringLiteral("channel %1 pulled by %2 nodes at minute %3").arg(c.key()).arg(running).arg(minute);
                        break;
                    }
                }
            }
        }
        return out;
    }

    /// Whether a recording of `channel` over [from, to) fits on some node.
    bool fits(const QString &channel, qint64 from, qint64 to) const
    {
        if (m_capacity.archivedChannels.contains(channel))
            return true;
        const auto [a, b] = minutesOf(from, to);
        for (auto it = m_nodes.cbegin(); it != m_nodes.cend(); ++it) {
            const std::vector<std::pair<int, int>> none;
            const auto own = it->channels.constFind(channel);
            const std::vector<std::pair<int, int>> &streaming = own == it->channels.cend() ? none : *own;
            bool ok = true;
            for (int m = a; m < b && ok; ++m) {
                const bool shared = std::any_of(streaming.begin(), streaming.end(),
                                                [&](const auto &s) { return s.first <= m && m < s.second; });
                if (shared)
                    continue;
                ok = loadAt(*it, m) < it->capacity;
                if (ok && m_capacity.channelStreamLimit > 0) {
                    int pulling = 0;
                    for (const Node &n : m_nodes) {
                        const auto c = n.channels.constFind(channel);
                        if (c != n.channels.cend()
                            && std::any_of(c->begin(), c->end(), [&](const auto &s) { return s.first <= m && m < s.second; }))
                            ++pulling;
                    }
                    ok = pulling + 1 <= m_capacity.channelStreamLimit;
                }
            }
            if (ok)
                return true;
        }
        return false;
    }

private:
    struct Node
    {
        int capacity = 0;
        QHash<QString, std::vector<std::pair<int, int>>> channels;
        std::map<int, int> load; ///< minute -> load from it on (after the constructor)
    };
    /// Per channel: minute -> the nodes pulling it from that minute on.
    QHash<QString, std::map<int, int>> pullsPerChannel() const
    {
        QHash<QString, std::map<int, int>> pulls;
        for (const Node &n : m_nodes)
            for (auto c = n.channels.cbegin(); c != n.channels.cend(); ++c)
                for (const auto &[a, b] : *c) {
                    ++pulls[c.key()][a];
                    --pulls[c.key()][b];
                }
        for (std::map<int, int> &deltas : pulls) {
            int running = 0;
            for (auto &[minute, delta] : deltas)
                delta = (running += delta);
        }
        return pulls;
    }
    static int loadAt(const Node &n, int minute)
    {
        auto it = n.load.upper_bound(minute);
        return it == n.load.begin() ? 0 : std::prev(it)->second;
    }
    CapacityOptions m_capacity;
    QHash<QString, Node> m_nodes;
};

} // namespace

QString PlanCheck::outcomeKey(qint64 ruleId, const QString &channelId, qint64 start)
{
    return QStringLiteral("%1/%2/%3").arg(ruleId).arg(channelId).arg(start);
}

QStringList PlanCheck::problems(const SchedulePlan &plan) const
{
    QStringList out;
    QHash<qint64, const RecordingRule *> ruleOf;
    for (const RecordingRule &r : rules)
        ruleOf.insert(r.id, &r);
    QSet<QString> committedKeys; // the committed recordings the plan holds: outcomeKey @ node
    for (const CommittedRecording &c : committed)
        committedKeys.insert(outcomeKey(c.airing.ruleId, c.airing.channelId, c.airing.start) + u'@' + c.nodeId);
    const auto isCommitted = [&](const PlannedRecording &p) {
        return !committedKeys.isEmpty() && committedKeys.contains(outcomeKey(p.ruleId, p.channelId, p.start) + u'@' + p.nodeId);
    };
    const Streams streams(capacity, plan.recordings);
    out << streams.overloads(Streams(capacity, plan.recordings, isCommitted));

    // Every outcome once, and only for matched airings.
    QHash<QString, const PlannedRecording *> planned;
    QHash<qint64, int> plannedOfRule, committedOfRule;
    QSet<QString> outcomes;
    for (const PlannedRecording &p : plan.recordings) {
        const QString k = outcomeKey(p.ruleId, p.channelId, p.start);
        if (outcomes.contains(k))
            out << QStringLiteral("planned twice: %1").arg(k);
        outcomes.insert(k);
        planned.insert(k, &p);
        ++plannedOfRule[p.ruleId];
        if (isCommitted(p))
            ++committedOfRule[p.ruleId];
        if (p.stop <= now)
            out << QStringLiteral("planned after its end: %1").arg(k);
        const RecordingRule *r = ruleOf.value(p.ruleId);
        if (r && (p.recordStart != std::max(now, p.start - r->prePadding) || p.recordStop != p.stop + r->postPadding))
            out << QStringLiteral("wrong padding: %1").arg(k);
    }
    for (const SkippedAiring &sk : plan.skipped) {
        const QString k = outcomeKey(sk.airing.ruleId, sk.airing.channelId, sk.airing.start);
        if (outcomes.contains(k))
            out << QStringLiteral("two outcomes: %1").arg(k);
        outcomes.insert(k);
    }
    if (!matched.isEmpty() && outcomes != matched) {
        for (const QString &k : matched)
            if (!outcomes.contains(k))
                out << QStringLiteral("no outcome: %1").arg(k);
        for (const QString &k : std::as_const(outcomes))
            if (!matched.contains(k))
                out << QStringLiteral("outcome for an airing not matched: %1").arg(k);
    }

    // Keep-N: never more planned than the rule may keep (its recordings being made are planned
    // whatever it keeps: then nothing more).
    for (const RecordingRule &r : rules) {
        if (r.keep <= 0)
            continue;
        int kept = 0;
        if (r.keepPolicy == KeepPolicy::StopWhenFull)
            for (const RecordedEpisode &h : history)
                kept += h.ruleId == r.id && h.kept;
        if (plannedOfRule.value(r.id) > std::max({0, r.keep - kept, committedOfRule.value(r.id)}))
            out << QStringLiteral("rule %1 plans %2 episodes, keeps %3, keep %4").arg(r.id).arg(plannedOfRule.value(r.id)).arg(kept).arg(r.keep);
    }

    // The rules in the priority order (rule.h, priorityOrder).
    QHash<qint64, int> positionOf;
    {
        const std::vector<int> order = priorityOrder(int(rules.size()), [&](int i) -> const RecordingRule & { return rules[i]; });
        for (size_t i = 0; i < order.size(); ++i)
            positionOf.insert(rules[order[i]].id, int(i));
    }
    auto before = [&](const RecordingRule &x, const RecordingRule &y) { return positionOf.value(x.id) < positionOf.value(y.id); };

    for (const SkippedAiring &sk : plan.skipped) {
        const RecordingRule *r = ruleOf.value(sk.airing.ruleId);
        const QString what = text(sk.airing) + u": " + skipReasonName(sk.reason);
        if (!r) {
            out << what + u" of an unknown rule";
            continue;
        }
        switch (sk.reason) {
        case SkipReason::OutsideWindow:
        case SkipReason::NotNew:
        case SkipReason::Cancelled: // the viewer's word: nothing to check
            break;
        case SkipReason::AlreadyRecorded: {
            const AiringRef rel = sk.relatedTo.value(0);
            const EpisodeIdentity id = identityAt ? identityAt(sk.airing.channelId, sk.airing.start) : EpisodeIdentity{};
            // Scope "rule": the rule's own history; "all": its viewer's (a rule gone: the row's owner).
            const auto inScope = [&](const RecordedEpisode &h) {
                if (r->duplicateScope == DuplicateScope::Rule)
                    return h.ruleId == r->id;
                const RecordingRule *of = ruleOf.value(h.ruleId);
                return (of ? of->owner : h.owner) == r->owner;
            };
            const bool found = std::any_of(history.cbegin(), history.cend(), [&](const RecordedEpisode &h) {
                return h.channelId == rel.channelId && h.recordedAt == rel.start && inScope(h)
                    && (!identityAt || sameEpisode(h.identity, id, r->duplicateMethod) != DuplicateLayer::None);
            });
            if (!found)
                out << what + u": not the same episode as a recording in the history of its rule or viewer";
            break;
        }
        case SkipReason::Duplicate:
        case SkipReason::Moved: {
            const AiringRef rel = sk.relatedTo.value(0);
            const PlannedRecording *p = planned.value(outcomeKey(rel.ruleId, rel.channelId, rel.start));
            if (!p) {
                out << what + u": points at " + text(rel) + u", which is not planned";
                break;
            }
            if (sk.layer == DuplicateLayer::None && p->ruleId != r->id)
                out << what + u": points at another rule's recording";
            if (sk.layer != DuplicateLayer::None && r->duplicateScope != DuplicateScope::AllRules)
                out << what + u": a duplicate of another rule's recording, but the rule's scope is not all rules";
            if (const RecordingRule *of = ruleOf.value(p->ruleId); of && of->owner != r->owner)
                out << what + u": a duplicate of another viewer's recording";
            if (identityAt) {
                const EpisodeIdentity id = identityAt(sk.airing.channelId, sk.airing.start);
                const quint8 methods = r->duplicateScope == DuplicateScope::None ? quint8(DuplicateAllLayers) : r->duplicateMethod;
                if (!(id == p->identity) && sameEpisode(id, p->identity, methods) == DuplicateLayer::None)
                    out << what + u": points at " + text(rel) + u", another episode";
            }
            break;
        }
        case SkipReason::KeepLimit: {
            const int n = plannedOfRule.value(r->id);
            if (r->keep <= 0 || sk.planned != n || sk.planned + sk.kept < sk.keep)
                out << what + QStringLiteral(": keep %1, kept %2, planned %3 (plan has %4)").arg(sk.keep).arg(sk.kept).arg(sk.planned).arg(n);
            break;
        }
        case SkipReason::Conflict: {
            const qint64 from = std::max(now, sk.airing.start - r->prePadding), to = sk.airing.stop + r->postPadding;
            if (streams.fits(sk.airing.channelId, from, to))
                out << what + u": it fits";
            for (const AiringRef &in : sk.relatedTo)
                if (!planned.contains(outcomeKey(in.ruleId, in.channelId, in.start)))
                    out << what + u": names " + text(in) + u", which is not planned";
            for (const AiringRef &alt : sk.alternatives)
                if (!streams.fits(alt.channelId, std::max(now, alt.start - r->prePadding), alt.stop + r->postPadding))
                    out << what + u": alternative " + text(alt) + u" does not fit";
            if (priority) {
                // Taking away every recording of a later rule in its way (one stream: another
                // channel's recording at the same time is in the way) must not make room.
                bool blockedByEarlier = false;
                for (const PlannedRecording &p : plan.recordings) {
                    if (p.channelId == sk.airing.channelId || capacity.archivedChannels.contains(p.channelId))
                        continue;
                    const auto [a, b] = minutesOf(p.recordStart, p.recordStop);
                    const auto [x, y] = minutesOf(from, to);
                    if (a >= y || b <= x)
                        continue;
                    const RecordingRule *o = ruleOf.value(p.ruleId);
                    if (!o || !before(*r, *o) || isCommitted(p)) // being recorded: never taken away
                        blockedByEarlier = true;
                }
                if (!blockedByEarlier) {
                    // Its other airings may all be blocked by earlier ones: it is the episode that
                    // must fit nowhere, so each airing of it in a conflict is looked at; this one
                    // could take the place of later recordings only.
                    out << what + u": only recordings of later rules are in its way";
                }
            }
            break;
        }
        }
    }

    // Every committed recording planned at its airing on its node, unless the plan says why not;
    // one ignored while its rule, its airing and its node are there must have another committed
    // recording of its rule holding its episode (a skip pointing at it).
    const auto skipOf = [&](const QString &key) -> const SkippedAiring * {
        for (const SkippedAiring &sk : plan.skipped)
            if (outcomeKey(sk.airing.ruleId, sk.airing.channelId, sk.airing.start) == key)
                return &sk;
        return nullptr;
    };
    for (const CommittedRecording &c : committed) {
        const QString k = outcomeKey(c.airing.ruleId, c.airing.channelId, c.airing.start);
        const bool ignored = std::any_of(plan.ignoredCommitted.cbegin(), plan.ignoredCommitted.cend(),
                                         [&](const IgnoredCommitted &i) { return i.recording == c; });
        const PlannedRecording *p = planned.value(k);
        if (!ignored) {
            if (!p)
                out << QStringLiteral("committed %1 on %2: not planned, and not reported ignored").arg(k, c.nodeId);
            else if (p->nodeId != (capacity.archivedChannels.contains(c.airing.channelId) ? QString() : c.nodeId))
                out << QStringLiteral("committed %1 on %2: planned on %3").arg(k, c.nodeId, p->nodeId);
            continue;
        }
        const RecordingRule *r = ruleOf.value(c.airing.ruleId);
        const bool nodeKnown = capacity.archivedChannels.contains(c.airing.channelId)
            || std::any_of(capacity.nodes.cbegin(), capacity.nodes.cend(), [&](const RecorderNode &n) { return n.id == c.nodeId; });
        if (!r || !r->enabled || !nodeKnown || matched.isEmpty() || !matched.contains(k))
            continue; // its rule, node or airing is gone (or not known here)
        const SkippedAiring *sk = skipOf(k);
        if (sk && (sk->reason == SkipReason::OutsideWindow || sk->reason == SkipReason::NotNew || sk->reason == SkipReason::Cancelled))
            continue; // its rule leaves it out
        const AiringRef holder = sk ? sk->relatedTo.value(0) : AiringRef{};
        const bool heldByAnother = sk && (sk->reason == SkipReason::Duplicate || sk->reason == SkipReason::Moved)
            && holder.ruleId == c.airing.ruleId
            && std::any_of(committed.cbegin(), committed.cend(), [&](const CommittedRecording &o) {
                   return o.airing.ruleId == holder.ruleId && o.airing.channelId == holder.channelId && o.airing.start == holder.start;
               })
            && planned.contains(outcomeKey(holder.ruleId, holder.channelId, holder.start));
        if (!heldByAnother)
            out << QStringLiteral("committed %1 on %2: ignored (%3) while its rule, airing and node are there").arg(k, c.nodeId, [&] {
                for (const IgnoredCommitted &i : plan.ignoredCommitted)
                    if (i.recording == c)
                        return i.reason;
                return QString();
            }());
    }
    return out;
}

} // namespace iptv::dvr
