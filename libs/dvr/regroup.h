#pragma once

// A rule's candidates grouped into episodes (duplicate.h), whole or again after a change.
//
// Grouping (what the scheduler's plan does for each rule): the candidates are walked in their
// order (by start, then channel); one that is not eligible (ended, filtered) has no episode; one
// that is the same episode (sameEpisode under the rule's duplicate method) as the first airing
// of an episode met before joins the first such episode; else it begins a new one. Episodes are
// numbered in the order of their first airings. With duplicate scope "none" every eligible
// candidate is an episode of its own. The relation is not transitive, so who joins whom depends
// on which candidates are first airings ("heads").
//
// Regrouping (after an update changed the rule's candidates, or time ended some) gives exactly
// what grouping whole gives, but asks the duplicate index only for the candidates the change may
// concern. A candidate is found the same way as before when no key of it (on the rule's layers)
// is "dirty": a head's episode can only be joined by candidates sharing a key with that head, so
// a candidate none of whose keys is shared with a candidate that came, went, or became or
// stopped being a head sees the same heads before it, and joins the same one (or is a head
// again). The dirty keys are those of the candidates gone (given), of those that came or whose
// eligibility changed, and of every candidate found again that is a head now or was the first
// airing of its episode before (met in order: a candidate is only decided by those before it).
// docs/dvr-scheduler.md, "The repair's contract"; tst_dvrscheduler::regroupEqualsGroupingWhole.

#include "duplicate.h"

#include <vector>

namespace iptv::dvr {

/// Keys (layer, key) that may have changed who heads an episode: a small exact set with a
/// bitmap in front (most candidates share none of them).
class DirtyKeys
{
public:
    explicit DirtyKeys(quint8 methods)
        : m_methods(methods)
    {
    }
    void add(const EpisodeIdentity &identity)
    {
        const quint64 keys[4] = {identity.ids, identity.episode, identity.subTitle, identity.description};
        for (int i = 0; i < 4; ++i)
            if ((m_methods & (1 << i)) && keys[i]) {
                const quint64 tagged = tag(keys[i], i);
                quint64 &word = m_bits[tagged >> 58];
                const quint64 bit = quint64(1) << ((tagged >> 52) & 63);
                if (!(word & bit) || !contains(tagged)) {
                    word |= bit;
                    m_keys.push_back(tagged);
                }
            }
    }
    /// Whether a key of `identity` on the rule's layers is dirty.
    bool any(const EpisodeIdentity &identity) const
    {
        if (m_keys.empty())
            return false;
        const quint64 keys[4] = {identity.ids, identity.episode, identity.subTitle, identity.description};
        for (int i = 0; i < 4; ++i)
            if ((m_methods & (1 << i)) && keys[i]) {
                const quint64 tagged = tag(keys[i], i);
                if ((m_bits[tagged >> 58] >> ((tagged >> 52) & 63) & 1) && contains(tagged))
                    return true;
            }
        return false;
    }

private:
    /// A key of layer `i` (the layers' keys as in EpisodeIdentity::key); keys are hashes, and the
    /// layer is mixed in so that layers never meet. The top 12 bits pick one of 4,096 bits.
    static quint64 tag(quint64 key, int i) { return (key ^ quint64(i + 1)) * 0x9e3779b97f4a7c15ULL; }
    bool contains(quint64 tagged) const
    {
        for (const quint64 k : m_keys)
            if (k == tagged)
                return true;
        return false;
    }
    quint8 m_methods;
    quint64 m_bits[64] = {};
    std::vector<quint64> m_keys;
};

/// A rule's grouping: per candidate its episode's number (from 0, in the order of their first
/// airings), or -1.
struct EpisodeGrouping
{
    std::vector<int> groupOf;
    int episodes = 0;
    /// Regrouping only: per episode, the number it had before when it has exactly the members
    /// `before` gave that episode (the same candidates), else -1.
    std::vector<int> fromBefore;
    int asked = 0; ///< Regrouping only: candidates found again (the duplicate index asked)
};

/// Groups candidates 0..n-1 whole. `identity(i)` and `eligible(i)` describe candidate i;
/// `byIdentity` false (duplicate scope "none"): every eligible candidate is an episode.
/// `index` is scratch (cleared).
template<typename IdentityOf, typename Eligible>
EpisodeGrouping groupWhole(size_t n, quint8 methods, bool byIdentity, IdentityOf identity, Eligible eligible,
                           DuplicateIndex &index)
{
    EpisodeGrouping g;
    g.groupOf.assign(n, -1);
    index.clear();
    for (size_t i = 0; i < n; ++i) {
        if (!eligible(i))
            continue;
        if (byIdentity) {
            if (const auto m = index.find(identity(i), methods)) {
                g.groupOf[i] = m.entry; // heads only: entry numbers are episode numbers
                continue;
            }
            index.add(identity(i), 0);
        }
        g.groupOf[i] = g.episodes++;
    }
    return g;
}

/// Groups candidates 0..n-1 again, giving what groupWhole() gives, from the grouping they had:
/// `before(i)` is candidate i's episode number in it (-1: none: it came, or was not eligible),
/// `cameOrChanged(i)` whether it is not the candidate it was (it came, or its eligibility
/// changed; its identity is then read as new), and `gone` the identities of the candidates of
/// that grouping that are no longer in the list. Candidates keep their relative order.
/// `index` is scratch (cleared).
template<typename IdentityOf, typename Eligible, typename Before, typename CameOrChanged>
EpisodeGrouping regroup(size_t n, quint8 methods, bool byIdentity, IdentityOf identity, Eligible eligible, Before before,
                        CameOrChanged cameOrChanged, const std::vector<EpisodeIdentity> &gone, int episodesBefore,
                        DuplicateIndex &index)
{
    EpisodeGrouping g;
    g.groupOf.assign(n, -1);
    index.clear();
    DirtyKeys dirty(methods);
    if (byIdentity)
        for (const EpisodeIdentity &x : gone)
            dirty.add(x);
    // Per episode before: its first member met (its head, unless that went: then every member
    // shares a dirty key with it), the number of the episode that head heads now, and whether
    // a member of it was found again (then its members are not all where they were).
    std::vector<char> headMet(size_t(episodesBefore), 0), beforeTouched(size_t(episodesBefore), 0);
    std::vector<int> nowOf(size_t(episodesBefore), -1);
    std::vector<int> from; // per episode now: the episode before, -1 when found again
    std::vector<char> nowTouched;
    // The heads decided as before, not in the index yet: the index is read only by a candidate
    // found again, which is decided by the heads before it, so they are added (in their order:
    // an entry's number is its episode's) just before one is; those after the last never are.
    std::vector<size_t> unindexed;
    auto begin = [&](int was) {
        from.push_back(was);
        nowTouched.push_back(0);
        return g.episodes++;
    };
    for (size_t i = 0; i < n; ++i) {
        const int was = before(i);
        Q_ASSERT(was < episodesBefore);
        const bool head = was >= 0 && !std::exchange(headMet[size_t(was)], 1);
        const bool changed = cameOrChanged(i);
        if (!eligible(i)) {
            // Left its episode (ended, filtered): those after it may be found otherwise.
            if (was >= 0 || changed) {
                if (byIdentity)
                    dirty.add(identity(i));
                if (was >= 0)
                    beforeTouched[size_t(was)] = 1;
            }
            continue;
        }
        int now = -1;
        if (!changed && was >= 0 && !(byIdentity && dirty.any(identity(i)))) {
            if (head) {
                now = begin(was);
                nowOf[size_t(was)] = now;
                if (byIdentity)
                    unindexed.push_back(i);
            } else {
                now = nowOf[size_t(was)]; // its head is unchanged, and heads an episode now
            }
        }
        if (now < 0) {
            ++g.asked;
            bool isHead = true;
            if (byIdentity) {
                for (const size_t k : unindexed)
                    index.add(identity(k), 0);
                unindexed.clear();
                if (const auto m = index.find(identity(i), methods)) {
                    now = m.entry;
                    isHead = false;
                } else {
                    index.add(identity(i), 0);
                }
            }
            if (isHead)
                now = begin(-1);
            if (byIdentity && (isHead || head))
                dirty.add(identity(i));
            nowTouched[size_t(now)] = 1;
            if (was >= 0)
                beforeTouched[size_t(was)] = 1;
        }
        g.groupOf[i] = now;
    }
    g.fromBefore.assign(size_t(g.episodes), -1);
    for (int e = 0; e < g.episodes; ++e)
        if (from[size_t(e)] >= 0 && !nowTouched[size_t(e)] && !beforeTouched[size_t(from[size_t(e)])])
            g.fromBefore[size_t(e)] = from[size_t(e)];
    return g;
}

} // namespace iptv::dvr
