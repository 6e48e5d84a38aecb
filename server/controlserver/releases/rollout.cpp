#include "rollout.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QRandomGenerator>

#include <algorithm>
#include <cmath>

#include <payload/version.h>

Q_LOGGING_CATEGORY(lcRollout, "iptv.control.rollout")

namespace iptv::control {

// ---------------------------------------------------------------------------------------------
// versions

int compareReleaseVersions(QStringView a, QStringView b)
{
    return iptv::payload::compareVersions(a, b);
}

bool isValidReleaseVersion(QStringView version)
{
    return iptv::payload::isValidVersion(version);
}

// ---------------------------------------------------------------------------------------------
// planning

QJsonObject GroupPlan::toJson() const
{
    QJsonArray values;
    for (double v : sizes)
        values.append(v);
    return QJsonObject{{kind == Kind::Percent ? u"percent"_qs : u"count"_qs, values}};
}

bool GroupPlan::fromJson(const QJsonObject &json, GroupPlan *out, QString *error)
{
    const bool percent = json.contains(u"percent"_qs);
    const bool count = json.contains(u"count"_qs);
    if (percent == count) {
        *error = QStringLiteral("groups: give exactly one of \"percent\" or \"count\"");
        return false;
    }
    const QJsonValue v = json.value(percent ? u"percent"_qs : u"count"_qs);
    if (!v.isArray()) {
        *error = QStringLiteral("groups: \"%1\" must be an array of numbers").arg(percent ? u"percent" : u"count");
        return false;
    }
    GroupPlan plan;
    plan.kind = percent ? Kind::Percent : Kind::Count;
    plan.sizes.clear();
    for (const QJsonValue &x : v.toArray()) {
        if (!x.isDouble()) {
            *error = QStringLiteral("groups: \"%1\" must be an array of numbers").arg(percent ? u"percent" : u"count");
            return false;
        }
        plan.sizes.append(x.toDouble());
    }
    if (const QString why = plan.validate(); !why.isEmpty()) {
        *error = u"groups: "_qs + why;
        return false;
    }
    *out = plan;
    return true;
}

QString GroupPlan::validate() const
{
    if (sizes.isEmpty())
        return QStringLiteral("no groups");
    if (sizes.size() > 100)
        return QStringLiteral("%1 groups, at most 100").arg(sizes.size());
    double previous = 0;
    for (qsizetype i = 0; i < sizes.size(); ++i) {
        const double v = sizes.at(i);
        if (kind == Kind::Percent) {
            if (!(v > previous && v <= 100.0))
                return QStringLiteral("percent[%1] = %2: cumulative percentages must increase within (0, 100]").arg(i).arg(v);
            previous = v;
        } else if (!(v >= 1.0 && v <= 1e9 && v == std::floor(v))) {
            return QStringLiteral("count[%1] = %2: counts must be whole numbers >= 1").arg(i).arg(v);
        }
    }
    return {};
}

QList<int> GroupPlan::groupSizes(int eligible) const
{
    QList<int> out;
    int assigned = 0;
    for (qsizetype i = 0; i < sizes.size() && assigned < eligible; ++i) {
        int size = 0;
        if (i == sizes.size() - 1) {
            size = eligible - assigned;
        } else if (kind == Kind::Percent) {
            // Rounded up so that a small first group still holds a box; the epsilon keeps
            // 1 % of 10,000 at 100 despite binary fractions.
            const int reached = int(std::min<double>(eligible, std::ceil(sizes.at(i) * eligible / 100.0 - 1e-9)));
            size = reached - assigned;
        } else {
            size = int(std::min<double>(sizes.at(i), eligible - assigned));
        }
        if (size > 0) {
            out.append(size);
            assigned += size;
        }
    }
    return out;
}

QJsonObject RolloutPlan::summary() const
{
    QJsonArray groups;
    for (int s : groupSizes)
        groups.append(s);
    return QJsonObject{
        {u"version"_qs, release.version},
        {u"channel"_qs, releaseChannelName(channel)},
        {u"eligible"_qs, eligible},
        {u"groups"_qs, groups},
        {u"upToDate"_qs, upToDate},
        {u"newer"_qs, newer},
        {u"otherChannel"_qs, otherChannel},
        {u"skipped"_qs, skipped},
        {u"seed"_qs, QString::number(options.seed)},
        {u"force"_qs, options.force},
    };
}

std::optional<RolloutPlan> RolloutPlanner::plan(const Release &release, ReleaseChannel channel,
                                                const QList<BoxCandidate> &boxes, const RolloutOptions &options,
                                                QString *error, RolloutRefusal *refusal)
{
    if (refusal)
        *refusal = RolloutRefusal::Invalid;
    if (!isValidReleaseVersion(release.version)) {
        *error = QStringLiteral("release version \"%1\" is not a valid version").arg(release.version);
        return std::nullopt;
    }
    if (release.channel == ReleaseChannel::Experimental && channel == ReleaseChannel::Clean) {
        *error = QStringLiteral("release %1 is experimental; it can only go to the experimental channel").arg(release.version);
        return std::nullopt;
    }
    if (const QString why = options.groups.validate(); !why.isEmpty()) {
        *error = u"groups: "_qs + why;
        return std::nullopt;
    }
    if (const QString why = options.thresholds.validate(); !why.isEmpty()) {
        *error = u"thresholds: "_qs + why;
        return std::nullopt;
    }

    RolloutPlan plan;
    plan.release = release;
    plan.channel = channel;
    plan.options = options;
    while (plan.options.seed == 0)
        plan.options.seed = QRandomGenerator::global()->generate64();

    // Sorted by numeric id first, so the sample depends on the seed and the fleet, not on list order.
    QList<const BoxCandidate *> sorted;
    sorted.reserve(boxes.size());
    for (const BoxCandidate &b : boxes)
        sorted.append(&b);
    std::sort(sorted.begin(), sorted.end(), [](const BoxCandidate *a, const BoxCandidate *b) { return a->boxId < b->boxId; });

    QList<const BoxCandidate *> eligible;
    const bool checkMinimum = !release.minBoxVersion.isEmpty();
    for (qsizetype i = 0; i < sorted.size(); ++i) {
        const BoxCandidate &b = *sorted.at(i);
        if (b.boxId <= 0 || (i > 0 && sorted.at(i - 1)->boxId == b.boxId))
            continue; // a box listed twice is planned once
        if (b.channel != channel) {
            ++plan.otherChannel;
            continue;
        }
        auto skip = [&](const QString &why) {
            TargetRecord t;
            t.boxId = b.boxId;
            t.group = -1;
            t.position = plan.skipped++;
            t.state = TargetState::Skipped;
            t.fromVersion = b.version;
            t.error = why;
            plan.targets.append(t);
        };
        if (!isValidReleaseVersion(b.version)) {
            skip(QStringLiteral("box reports no valid software version (\"%1\")").arg(b.version));
            continue;
        }
        const int c = compareReleaseVersions(b.version, release.version);
        if (c == 0) {
            ++plan.upToDate;
            continue;
        }
        if (c > 0 && !options.force) {
            ++plan.newer;
            continue;
        }
        if (checkMinimum && compareReleaseVersions(b.version, release.minBoxVersion) < 0) {
            skip(QStringLiteral("box version %1 is below the release's minimum %2").arg(b.version, release.minBoxVersion));
            continue;
        }
        eligible.append(&b);
    }
    plan.eligible = int(eligible.size());
    if (eligible.isEmpty()) {
        if (refusal)
            *refusal = RolloutRefusal::Conflict;
        *error = QStringLiteral("no box on the %1 channel needs release %2 (%3 at that version, %4 newer%5, %6 skipped, "
                                "%7 on the other channel)")
                     .arg(releaseChannelName(channel), release.version)
                     .arg(plan.upToDate)
                     .arg(plan.newer)
                     .arg(options.force ? QString() : u" without force"_qs)
                     .arg(plan.skipped)
                     .arg(plan.otherChannel);
        return std::nullopt;
    }

    // Fisher-Yates with QRandomGenerator: bounded() is defined by Qt, so a seed gives the same
    // sample on every platform (std::shuffle's distribution is implementation-defined).
    QRandomGenerator rng(plan.options.seed);
    for (qsizetype i = eligible.size() - 1; i > 0; --i)
        std::swap(eligible[i], eligible[qsizetype(rng.bounded(quint64(i + 1)))]);

    plan.groupSizes = options.groups.groupSizes(plan.eligible);
    plan.targets.reserve(plan.targets.size() + eligible.size());
    qsizetype next = 0;
    for (int g = 0; g < plan.groupSizes.size(); ++g) {
        for (int p = 0; p < plan.groupSizes.at(g); ++p) {
            TargetRecord t;
            t.boxId = eligible.at(next)->boxId;
            t.fromVersion = eligible.at(next)->version;
            t.group = g;
            t.position = p;
            plan.targets.append(std::move(t));
            ++next;
        }
    }
    return plan;
}

// ---------------------------------------------------------------------------------------------
// progress

QJsonObject GroupProgress::toJson() const
{
    return QJsonObject{
        {u"index"_qs, index},
        {u"state"_qs, groupStateName(state)},
        {u"size"_qs, size},
        {u"required"_qs, required},
        {u"pending"_qs, pending},
        {u"offered"_qs, offered},
        {u"installing"_qs, installing},
        {u"succeeded"_qs, succeeded},
        {u"failed"_qs, failed},
        {u"skipped"_qs, skipped},
        {u"openedAt"_qs, openedAt},
        {u"closedAt"_qs, closedAt},
    };
}

QJsonObject RolloutProgress::toJson() const
{
    QJsonArray g;
    for (const GroupProgress &p : groups)
        g.append(p.toJson());
    return QJsonObject{
        {u"id"_qs, QString::number(id)},
        {u"version"_qs, version},
        {u"channel"_qs, releaseChannelName(channel)},
        {u"state"_qs, rolloutStateName(state)},
        {u"reason"_qs, reason},
        {u"force"_qs, force},
        {u"currentGroup"_qs, currentGroup},
        {u"total"_qs, total},
        {u"plannedSkipped"_qs, plannedSkipped},
        {u"pending"_qs, pending},
        {u"offered"_qs, offered},
        {u"installing"_qs, installing},
        {u"succeeded"_qs, succeeded},
        {u"failed"_qs, failed},
        {u"skipped"_qs, skipped},
        {u"thresholds"_qs, thresholds.toJson()},
        {u"groups"_qs, g},
    };
}

// ---------------------------------------------------------------------------------------------
// the state machine

Rollout::Rollout(ReleaseStore *store, Clock clock)
    : m_store(store), m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentMSecsSinceEpoch(); }))
{
}

Rollout::~Rollout() = default;

std::unique_ptr<Rollout> Rollout::create(ReleaseStore *store, const RolloutPlan &plan, QString *error, Clock clock,
                                         RolloutRefusal *refusal)
{
    if (refusal)
        *refusal = RolloutRefusal::Internal;
    std::unique_ptr<Rollout> r(new Rollout(store, std::move(clock)));
    QString why;
    const auto stored = store->release(plan.release.version, &why);
    if (!stored) {
        *error = why.isEmpty() ? QStringLiteral("release %1 is not in the store").arg(plan.release.version)
                               : QStringLiteral("release %1: %2").arg(plan.release.version, why);
        return nullptr;
    }
    const QList<RolloutRecord> active = store->rollouts(true, &why);
    if (!why.isEmpty()) {
        *error = QStringLiteral("list rollouts: %1").arg(why);
        return nullptr;
    }
    for (const RolloutRecord &other : active) {
        if (other.channel == plan.channel) {
            if (refusal)
                *refusal = RolloutRefusal::Conflict;
            *error = QStringLiteral("the %1 channel already has rollout %2 (%3 of %4); abort or complete it first")
                         .arg(releaseChannelName(plan.channel))
                         .arg(other.id)
                         .arg(rolloutStateName(other.state), other.releaseVersion);
            return nullptr;
        }
    }

    const qint64 t = r->now();
    RolloutRecord record;
    record.releaseVersion = plan.release.version;
    record.channel = plan.channel;
    record.state = RolloutState::Draft;
    record.groupPlanJson = QJsonDocument(plan.options.groups.toJson()).toJson(QJsonDocument::Compact);
    record.thresholds = plan.options.thresholds;
    record.seed = plan.options.seed;
    record.force = plan.options.force;
    record.createdBy = plan.options.createdBy;
    record.createdAt = record.updatedAt = t;
    QList<GroupRecord> groups;
    for (int g = 0; g < plan.groupSizes.size(); ++g)
        groups.append(GroupRecord{g, plan.groupSizes.at(g), GroupState::Pending, 0, 0});
    record.id = store->insertRollout(record, groups, plan.targets, error);
    if (record.id == 0)
        return nullptr;
    qCInfo(lcRollout).noquote() << "rollout" << record.id << "of" << record.releaseVersion << "to"
                                << releaseChannelName(record.channel) << "planned:" << plan.eligible << "boxes in"
                                << groups.size() << "groups by" << record.createdBy;
    if (!r->init(std::move(record), *stored, std::move(groups), plan.targets, error))
        return nullptr;
    return r;
}

std::unique_ptr<Rollout> Rollout::load(ReleaseStore *store, quint64 id, QString *error, Clock clock)
{
    std::unique_ptr<Rollout> r(new Rollout(store, std::move(clock)));
    auto record = store->rollout(id, error);
    if (!record)
        return nullptr;
    auto release = store->release(record->releaseVersion, error);
    if (!release) {
        if (error->isEmpty())
            *error = QStringLiteral("rollout %1: release %2 is not in the store").arg(id).arg(record->releaseVersion);
        return nullptr;
    }
    QList<GroupRecord> groups;
    QList<TargetRecord> targets;
    if (!store->loadGroups(id, &groups, error) || !store->loadTargets(id, &targets, error))
        return nullptr;
    if (!r->init(std::move(*record), std::move(*release), std::move(groups), std::move(targets), error))
        return nullptr;
    return r;
}

std::vector<std::unique_ptr<Rollout>> Rollout::loadActive(ReleaseStore *store, QString *error, Clock clock)
{
    std::vector<std::unique_ptr<Rollout>> out;
    QString why;
    const QList<RolloutRecord> active = store->rollouts(true, &why);
    if (!why.isEmpty()) {
        *error = QStringLiteral("list rollouts: %1").arg(why);
        return out;
    }
    for (const RolloutRecord &record : active) {
        auto r = load(store, record.id, error, clock);
        if (!r)
            return {};
        out.push_back(std::move(r));
    }
    return out;
}

bool Rollout::init(RolloutRecord record, Release release, QList<GroupRecord> groups, QList<TargetRecord> targets,
                   QString *error)
{
    m_record = std::move(record);
    m_release = std::move(release);
    m_groups = std::move(groups);
    m_targets = std::move(targets);
    m_counts = QList<Counts>(m_groups.size());
    m_groupRange = QList<std::pair<int, int>>(m_groups.size(), {0, 0});
    m_index.reserve(m_targets.size());
    for (int g = 0; g < m_groups.size(); ++g) {
        if (m_groups.at(g).index != g) {
            *error = QStringLiteral("rollout %1: group %2 is missing").arg(m_record.id).arg(g);
            return false;
        }
    }
    int previousGroup = -1;
    QList<std::pair<qint64, int>> outstanding;
    for (int i = 0; i < m_targets.size(); ++i) {
        const TargetRecord &t = m_targets.at(i);
        if (t.group < -1 || t.group >= m_groups.size() || t.group < previousGroup) {
            *error = QStringLiteral("rollout %1: target %2 has group %3 out of order").arg(m_record.id).arg(t.boxId).arg(t.group);
            return false;
        }
        if (t.group >= 0) {
            if (t.group != previousGroup)
                m_groupRange[t.group].first = i;
            m_groupRange[t.group].second = i + 1;
            ++m_counts[t.group][t.state];
            if (t.state == TargetState::Offered || t.state == TargetState::Installing)
                outstanding.append({t.offeredAt, i});
        }
        previousGroup = t.group;
        m_index.insert(t.boxId, i);
    }
    for (int g = 0; g < m_groups.size(); ++g) {
        int n = 0;
        for (int s = 0; s < 6; ++s)
            n += m_counts.at(g).byState[s];
        if (n != m_groups.at(g).size) {
            *error = QStringLiteral("rollout %1: group %2 has %3 targets, planned %4").arg(m_record.id).arg(g).arg(n).arg(m_groups.at(g).size);
            return false;
        }
    }
    std::sort(outstanding.begin(), outstanding.end());
    m_deadlines.assign(outstanding.begin(), outstanding.end());
    return true;
}

int Rollout::requiredSuccesses(int group) const
{
    const int size = m_groups.at(group).size;
    return std::clamp(int(std::ceil(m_record.thresholds.successThreshold * size - 1e-9)), 1, size);
}

void Rollout::touchRollout()
{
    m_record.updatedAt = now();
    m_rolloutDirty = true;
}

void Rollout::touchGroup(int group)
{
    if (!m_dirtyGroups.contains(group))
        m_dirtyGroups.append(group);
}

void Rollout::touchTarget(int index)
{
    m_targets[index].updatedAt = now();
    m_dirtyTargets.append(index);
    m_progressDirty = true;
}

void Rollout::setTargetState(int index, TargetState state)
{
    TargetRecord &t = m_targets[index];
    if (t.group >= 0) {
        --m_counts[t.group][t.state];
        ++m_counts[t.group][state];
    }
    t.state = state;
    touchTarget(index);
}

void Rollout::flush()
{
    ++m_batchDepth;
    if (m_batchDepth > 1) {
        --m_batchDepth;
        return; // the outer reportResults() flushes
    }
    if (!m_dirtyTargets.isEmpty() || !m_dirtyGroups.isEmpty() || m_rolloutDirty) {
        QString error;
        bool ok = m_store->begin(&error);
        if (ok && !m_dirtyTargets.isEmpty()) {
            std::sort(m_dirtyTargets.begin(), m_dirtyTargets.end());
            m_dirtyTargets.erase(std::unique(m_dirtyTargets.begin(), m_dirtyTargets.end()), m_dirtyTargets.end());
            QList<const TargetRecord *> rows;
            rows.reserve(m_dirtyTargets.size());
            for (int i : std::as_const(m_dirtyTargets))
                rows.append(&m_targets.at(i));
            ok = m_store->updateTargets(m_record.id, rows, &error);
        }
        for (int g : std::as_const(m_dirtyGroups)) {
            if (ok)
                ok = m_store->updateGroup(m_record.id, m_groups.at(g), &error);
        }
        if (ok && m_rolloutDirty)
            ok = m_store->updateRollout(m_record, &error);
        if (ok)
            ok = m_store->commit(&error);
        else
            m_store->rollback();
        if (!ok) {
            m_storeError = error;
            qCWarning(lcRollout).noquote() << "rollout" << m_record.id << "store write failed:" << error;
        }
    }
    m_dirtyTargets.clear();
    m_dirtyGroups.clear();
    const bool rolloutChangedNow = m_rolloutDirty;
    const bool progressNow = m_progressDirty;
    m_rolloutDirty = m_progressDirty = false;
    const QList<int> opened = std::exchange(m_openedGroups, {});
    const QString haltedReason = std::exchange(m_haltedReason, {});
    const bool completedNow = std::exchange(m_completed, false);
    --m_batchDepth;
    // Signals last: a slot may call back into the rollout (e.g. offer the new group at once).
    if (rolloutChangedNow)
        Q_EMIT rolloutChanged();
    if (progressNow)
        Q_EMIT progressChanged();
    for (int g : opened)
        Q_EMIT groupOpened(g);
    if (!haltedReason.isEmpty())
        Q_EMIT halted(haltedReason);
    if (completedNow)
        Q_EMIT completed();
}

void Rollout::openGroup(int group)
{
    GroupRecord &g = m_groups[group];
    g.state = GroupState::Open;
    g.openedAt = now();
    m_record.currentGroup = group;
    touchGroup(group);
    touchRollout();
    m_openedGroups.append(group);
    qCInfo(lcRollout) << "rollout" << m_record.id << "opened group" << group << "of" << m_groups.size() << "with"
                      << g.size << "boxes";
}

QString Rollout::haltCause() const
{
    const RolloutThresholds &th = m_record.thresholds;
    auto exceeded = [&](const Counts &c) {
        const int results = c.results();
        const int failed = c[TargetState::Failed];
        return results >= th.minResults && double(failed) > th.errorThreshold * double(results);
    };
    if (th.errorScope == ErrorScope::Rollout) {
        Counts all;
        for (int g = 0; g <= m_record.currentGroup && g < m_counts.size(); ++g) {
            for (int s = 0; s < 6; ++s)
                all.byState[s] += m_counts.at(g).byState[s];
        }
        // Results of groups not opened yet (boxes updated by hand) count too: they are real.
        for (int g = m_record.currentGroup + 1; g < m_counts.size(); ++g) {
            all[TargetState::Succeeded] += m_counts.at(g)[TargetState::Succeeded];
            all[TargetState::Failed] += m_counts.at(g)[TargetState::Failed];
        }
        if (exceeded(all))
            return QStringLiteral("error threshold exceeded: %1 of %2 results failed (%3 %, threshold %4 %)")
                .arg(all[TargetState::Failed])
                .arg(all.results())
                .arg(100.0 * all[TargetState::Failed] / all.results(), 0, 'f', 2)
                .arg(100.0 * th.errorThreshold, 0, 'f', 2);
    } else {
        for (int g = 0; g < m_counts.size(); ++g) {
            const Counts &c = m_counts.at(g);
            if (exceeded(c))
                return QStringLiteral("error threshold exceeded in group %1: %2 of %3 results failed (%4 %, threshold %5 %)")
                    .arg(g)
                    .arg(c[TargetState::Failed])
                    .arg(c.results())
                    .arg(100.0 * c[TargetState::Failed] / c.results(), 0, 'f', 2)
                    .arg(100.0 * th.errorThreshold, 0, 'f', 2);
        }
    }
    const int g = m_record.currentGroup;
    if (g >= 0 && m_groups.at(g).state != GroupState::Succeeded) {
        const Counts &c = m_counts.at(g);
        const int required = requiredSuccesses(g);
        if (c.finished() == m_groups.at(g).size && c[TargetState::Succeeded] < required)
            return QStringLiteral("group %1 finished below the success threshold: %2 of %3 succeeded, %4 needed")
                .arg(g)
                .arg(c[TargetState::Succeeded])
                .arg(m_groups.at(g).size)
                .arg(required);
    }
    return {};
}

void Rollout::halt(const QString &reason)
{
    m_record.state = RolloutState::Halted;
    m_record.reason = reason;
    touchRollout();
    const int g = m_record.currentGroup;
    if (g >= 0 && m_groups.at(g).state == GroupState::Open) {
        m_groups[g].state = GroupState::Halted;
        touchGroup(g);
    }
    m_haltedReason = reason;
    qCWarning(lcRollout).noquote() << "rollout" << m_record.id << "halted:" << reason;
}

void Rollout::evaluate()
{
    const RolloutState s = m_record.state;
    if (s != RolloutState::Running && s != RolloutState::Paused)
        return;
    if (const QString cause = haltCause(); !cause.isEmpty()) {
        halt(cause);
        return;
    }
    if (s != RolloutState::Running)
        return;
    for (;;) {
        const int g = m_record.currentGroup;
        if (m_groups.at(g).state != GroupState::Open || m_counts.at(g)[TargetState::Succeeded] < requiredSuccesses(g))
            break;
        m_groups[g].state = GroupState::Succeeded;
        m_groups[g].closedAt = now();
        touchGroup(g);
        touchRollout();
        if (g + 1 >= m_groups.size())
            break;
        openGroup(g + 1);
        // Boxes of the new group may have reported already (updated by hand): check again.
        if (const QString cause = haltCause(); !cause.isEmpty()) {
            halt(cause);
            return;
        }
    }
    const int last = int(m_groups.size()) - 1;
    if (m_record.currentGroup == last && m_groups.at(last).state == GroupState::Succeeded) {
        for (int g = 0; g < m_groups.size(); ++g) {
            if (m_counts.at(g).finished() != m_groups.at(g).size)
                return; // boxes still installing, or not offered yet
        }
        finish(RolloutState::Completed, u"all groups finished"_qs, {});
    }
}

void Rollout::finish(RolloutState state, const QString &reason, const QString &skipText)
{
    m_record.state = state;
    m_record.reason = reason;
    m_record.finishedAt = now();
    touchRollout();
    for (int g = 0; g < m_groups.size(); ++g) {
        GroupRecord &gr = m_groups[g];
        if (gr.state == GroupState::Open) {
            gr.state = state == RolloutState::Completed ? GroupState::Succeeded : GroupState::Halted;
            gr.closedAt = now();
            touchGroup(g);
        }
    }
    if (!skipText.isEmpty()) {
        for (int i = 0; i < m_targets.size(); ++i) {
            if (m_targets.at(i).state == TargetState::Pending) {
                m_targets[i].error = skipText;
                setTargetState(i, TargetState::Skipped);
            }
        }
    }
    m_deadlines.clear();
    if (state == RolloutState::Completed)
        m_completed = true;
    qCInfo(lcRollout).noquote() << "rollout" << m_record.id << (rolloutStateName(state) + u": " + reason);
}

bool Rollout::start(QString *error)
{
    if (m_record.state != RolloutState::Draft) {
        *error = QStringLiteral("rollout %1 is %2; only a draft can start").arg(m_record.id).arg(rolloutStateName(m_record.state));
        return false;
    }
    m_record.state = RolloutState::Running;
    m_record.startedAt = now();
    touchRollout();
    openGroup(0);
    evaluate();
    flush();
    return true;
}

bool Rollout::pause(QString *error)
{
    if (m_record.state != RolloutState::Running) {
        *error = QStringLiteral("rollout %1 is %2; only a running rollout can pause").arg(m_record.id).arg(rolloutStateName(m_record.state));
        return false;
    }
    m_record.state = RolloutState::Paused;
    touchRollout();
    flush();
    return true;
}

bool Rollout::resume(QString *error)
{
    const RolloutState s = m_record.state;
    if (s != RolloutState::Paused && s != RolloutState::Halted) {
        *error = QStringLiteral("rollout %1 is %2; only a paused or halted rollout can resume").arg(m_record.id).arg(rolloutStateName(s));
        return false;
    }
    if (s == RolloutState::Halted) {
        if (const QString cause = haltCause(); !cause.isEmpty()) {
            *error = QStringLiteral("rollout %1 cannot resume: %2; change the thresholds first").arg(m_record.id).arg(cause);
            return false;
        }
        const int g = m_record.currentGroup;
        if (g >= 0 && m_groups.at(g).state == GroupState::Halted) {
            m_groups[g].state = GroupState::Open;
            touchGroup(g);
        }
        m_record.reason.clear();
    }
    m_record.state = RolloutState::Running;
    touchRollout();
    evaluate();
    flush();
    return true;
}

bool Rollout::abort(const QString &reason, QString *error)
{
    if (!isActive(m_record.state)) {
        *error = QStringLiteral("rollout %1 is already %2").arg(m_record.id).arg(rolloutStateName(m_record.state));
        return false;
    }
    const QString why = reason.isEmpty() ? u"aborted by an operator"_qs : reason;
    finish(RolloutState::Aborted, why, u"rollout aborted before the box was offered: "_qs + why);
    flush();
    return true;
}

bool Rollout::complete(QString *error)
{
    const RolloutState s = m_record.state;
    if (s != RolloutState::Running && s != RolloutState::Paused) {
        *error = QStringLiteral("rollout %1 is %2; only a running or paused rollout can complete").arg(m_record.id).arg(rolloutStateName(s));
        return false;
    }
    if (m_record.currentGroup != m_groups.size() - 1) {
        *error = QStringLiteral("rollout %1 has opened group %2 of %3; complete it once the last group is open (or abort it)")
                     .arg(m_record.id)
                     .arg(m_record.currentGroup + 1)
                     .arg(m_groups.size());
        return false;
    }
    finish(RolloutState::Completed, u"completed by an operator"_qs, u"rollout completed before the box was offered"_qs);
    flush();
    return true;
}

bool Rollout::setThresholds(const RolloutThresholds &thresholds, QString *error)
{
    if (!isActive(m_record.state)) {
        *error = QStringLiteral("rollout %1 is %2; its thresholds are final").arg(m_record.id).arg(rolloutStateName(m_record.state));
        return false;
    }
    if (const QString why = thresholds.validate(); !why.isEmpty()) {
        *error = u"thresholds: "_qs + why;
        return false;
    }
    m_record.thresholds = thresholds;
    touchRollout();
    evaluate();
    flush();
    return true;
}

QList<qint64> Rollout::nextTargets(int maxN, const std::function<bool(qint64)> &accept) const
{
    QList<qint64> out;
    if (m_record.state != RolloutState::Running)
        return out;
    for (int g = 0; g <= m_record.currentGroup && out.size() < maxN; ++g) {
        if (m_counts.at(g)[TargetState::Pending] == 0)
            continue; // whole group offered: skip without a scan
        for (int i = m_groupRange.at(g).first; i < m_groupRange.at(g).second && out.size() < maxN; ++i) {
            const TargetRecord &t = m_targets.at(i);
            if (t.state == TargetState::Pending && (!accept || accept(t.boxId)))
                out.append(t.boxId);
        }
    }
    return out;
}

bool Rollout::isOfferable(qint64 boxId) const
{
    const auto it = m_index.constFind(boxId);
    if (it == m_index.constEnd() || m_record.state != RolloutState::Running)
        return false;
    const TargetRecord &t = m_targets.at(*it);
    return t.state == TargetState::Pending && t.group >= 0 && t.group <= m_record.currentGroup;
}

int Rollout::markOffered(const QList<qint64> &boxIds)
{
    int n = 0;
    const qint64 t = now();
    for (const qint64 id : boxIds) {
        if (!isOfferable(id))
            continue;
        const int i = m_index.value(id);
        TargetRecord &target = m_targets[i];
        ++target.attempts;
        target.offeredAt = t;
        setTargetState(i, TargetState::Offered);
        m_deadlines.emplace_back(t, i);
        ++n;
    }
    flush();
    return n;
}

bool Rollout::markInstalling(qint64 boxId)
{
    const auto it = m_index.constFind(boxId);
    if (it == m_index.constEnd() || m_targets.at(*it).state != TargetState::Offered)
        return false;
    setTargetState(*it, TargetState::Installing);
    flush();
    return true;
}

void Rollout::applyResult(int index, bool ok, const QString &text)
{
    TargetRecord &t = m_targets[index];
    t.error = ok ? QString() : (text.isEmpty() ? u"install failed"_qs : text.left(2000));
    t.finishedAt = now();
    setTargetState(index, ok ? TargetState::Succeeded : TargetState::Failed);
}

Rollout::ReportOutcome Rollout::reportResult(qint64 boxId, bool ok, const QString &text)
{
    const auto it = m_index.constFind(boxId);
    if (it == m_index.constEnd())
        return ReportOutcome::UnknownBox;
    const TargetRecord &t = m_targets.at(*it);
    if (t.state == TargetState::Skipped)
        return ReportOutcome::Ignored;
    if (t.state == (ok ? TargetState::Succeeded : TargetState::Failed))
        return ReportOutcome::Duplicate;
    applyResult(*it, ok, text);
    evaluate();
    flush();
    return ReportOutcome::Recorded;
}

int Rollout::reportResults(const QList<BoxResult> &results)
{
    ++m_batchDepth;
    int recorded = 0;
    for (const BoxResult &r : results)
        recorded += reportResult(r.boxId, r.ok, r.text) == ReportOutcome::Recorded ? 1 : 0;
    --m_batchDepth;
    flush();
    return recorded;
}

int Rollout::expireOverdue()
{
    const RolloutState s = m_record.state;
    if (!isActive(s) || s == RolloutState::Draft)
        return 0;
    const qint64 t = now();
    const qint64 timeout = m_record.thresholds.resultTimeoutMs;
    int expired = 0;
    while (!m_deadlines.empty() && m_deadlines.front().first + timeout <= t) {
        const auto [offeredAt, i] = m_deadlines.front();
        m_deadlines.pop_front();
        TargetRecord &target = m_targets[i];
        // Stale entry: the box reported, or was offered again since.
        if ((target.state != TargetState::Offered && target.state != TargetState::Installing) || target.offeredAt != offeredAt)
            continue;
        ++expired;
        const QString why = QStringLiteral("no result within %1 s (attempt %2 of %3)")
                                .arg(timeout / 1000)
                                .arg(target.attempts)
                                .arg(m_record.thresholds.maxOffers);
        if (target.attempts < m_record.thresholds.maxOffers) {
            target.error = why;
            setTargetState(i, TargetState::Pending);
        } else {
            applyResult(i, false, why);
        }
    }
    if (expired > 0) {
        evaluate();
        flush();
    }
    return expired;
}

qint64 Rollout::nextDeadline() const
{
    return m_deadlines.empty() ? 0 : m_deadlines.front().first + m_record.thresholds.resultTimeoutMs;
}

RolloutProgress Rollout::progress() const
{
    RolloutProgress p;
    p.id = m_record.id;
    p.version = m_record.releaseVersion;
    p.channel = m_record.channel;
    p.state = m_record.state;
    p.reason = m_record.reason;
    p.force = m_record.force;
    p.currentGroup = m_record.currentGroup;
    p.thresholds = m_record.thresholds;
    p.plannedSkipped = m_groupRange.isEmpty() ? int(m_targets.size()) : m_groupRange.first().first;
    for (int g = 0; g < m_groups.size(); ++g) {
        const Counts &c = m_counts.at(g);
        GroupProgress gp;
        gp.index = g;
        gp.state = m_groups.at(g).state;
        gp.size = m_groups.at(g).size;
        gp.required = requiredSuccesses(g);
        gp.pending = c[TargetState::Pending];
        gp.offered = c[TargetState::Offered];
        gp.installing = c[TargetState::Installing];
        gp.succeeded = c[TargetState::Succeeded];
        gp.failed = c[TargetState::Failed];
        gp.skipped = c[TargetState::Skipped];
        gp.openedAt = m_groups.at(g).openedAt;
        gp.closedAt = m_groups.at(g).closedAt;
        p.total += gp.size;
        p.pending += gp.pending;
        p.offered += gp.offered;
        p.installing += gp.installing;
        p.succeeded += gp.succeeded;
        p.failed += gp.failed;
        p.skipped += gp.skipped;
        p.groups.append(gp);
    }
    return p;
}

std::optional<TargetRecord> Rollout::target(qint64 boxId) const
{
    const auto it = m_index.constFind(boxId);
    if (it == m_index.constEnd())
        return std::nullopt;
    return m_targets.at(*it);
}

QList<TargetRecord> Rollout::targets(std::optional<TargetState> state, int group, int offset, int limit) const
{
    QList<TargetRecord> out;
    int skippedRows = 0;
    for (const TargetRecord &t : m_targets) {
        if ((state && t.state != *state) || (group != -2 && t.group != group))
            continue;
        if (skippedRows++ < offset)
            continue;
        if (out.size() >= limit)
            break;
        out.append(t);
    }
    return out;
}

} // namespace iptv::control
