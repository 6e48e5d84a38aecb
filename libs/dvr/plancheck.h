#pragma once

// An independent check of what a plan promises (docs/dvr-scheduler.md), written against the
// plan's lists, the rules and the capacity options only, never the scheduler's own bookkeeping:
// the tests run it after every update over random guide changes, the benchmark after its delta.
// It checks that capacity holds, every matched airing has one outcome and every reason is true.

#include "scheduler.h"

#include <QSet>
#include <QStringList>

#include <functional>

namespace iptv::dvr {

struct PlanCheck
{
    QList<RecordingRule> rules;
    CapacityOptions capacity;
    QList<RecordedEpisode> history;
    qint64 now = 0;
    /// The identity of an airing of the guide planned from (Scheduler::identityAt).
    std::function<EpisodeIdentity(const QString &channelId, qint64 start)> identityAt;
    /// The airings the rules match that have not ended, as outcomeKey(); each must have exactly
    /// one outcome and nothing else may have one. Empty: not checked.
    QSet<QString> matched;
    /// Also checks, by brute force, that no conflict could be recorded by taking away only
    /// recordings later than it in the priority order (meaningful for one node of one stream).
    bool priority = false;
    /// The recordings being made (Scheduler::setCommitted): each is planned at its airing on its
    /// node unless the plan says it ignored it (SchedulePlan::ignoredCommitted); they may hold a
    /// node or a channel's pulls over its limit (they record), but the rest of the plan may not
    /// add to that; a conflict they block counts as blocked by an earlier recording.
    QList<CommittedRecording> committed;

    static QString outcomeKey(qint64 ruleId, const QString &channelId, qint64 start);
    /// The problems found, one line each; empty when the plan keeps every promise checked.
    QStringList problems(const SchedulePlan &plan) const;
};

} // namespace iptv::dvr
