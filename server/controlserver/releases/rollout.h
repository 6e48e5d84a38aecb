#pragma once

// Staged rollouts of a release to a release channel: planning (RolloutPlanner) and the state
// machine (Rollout). Pure logic over a ReleaseStore; the server does the networking: it asks
// nextTargets() whom to send ReleaseAvailable, tells markOffered()/markInstalling(), feeds the
// boxes' results to reportResult(), calls expireOverdue() from a timer and pushes the signals to
// operators.
//
// States: draft --start--> running <--pause/resume--> paused; running|paused --(error threshold
// or a group finished below the success threshold)--> halted --resume (only when the cause is
// gone, e.g. the operator raised the threshold)--> running; any active state --abort--> aborted;
// running|paused --complete (last group open)--> completed, or automatically once the last group
// has succeeded and every target has finished.
//
// Thresholds (RolloutThresholds in releasestore.h), exactly:
// - Success: group g (the newest opened one) succeeds when succeeded(g) >= ceil(successThreshold
//   x size(g)); then group g+1 opens (only while running). Boxes of earlier groups that were not
//   offered yet (offline) are still offered later. If every target of g has finished (succeeded,
//   failed or skipped) and the count is still short, the rollout halts: it cannot progress.
// - Error: results = succeeded + failed (boxes still offered/installing do not count). With scope
//   Rollout: over all groups together; with scope Group: per opened group. The rollout halts
//   when some scope has results >= minResults and failed > errorThreshold x results (strictly
//   above: 2 failures in 100 results do not halt at 0.02, 3 do). Checked after every result and
//   timeout while running or paused.
// - Timeouts: a box offered (or installing) without a result for resultTimeoutMs has failed one
//   attempt: it goes back to pending to be offered again while attempts < maxOffers, else it
//   counts as failed ("no result within N s"). Boxes never offered (offline) never time out;
//   they hold their group until they come online, the operator lowers successThreshold, or
//   completes/aborts the rollout.
// - Reports: the latest result of a box wins (a box that reported success and later rolled back
//   after its health check reports failure); counters follow. Reports of boxes that were planned
//   as skipped are ignored. Reports still count after a halt; after abort/complete they are
//   stored but nothing is evaluated and no timeouts apply. On abort and manual complete,
//   never-offered boxes become skipped.
// - One active (draft/running/paused/halted) rollout per channel. The object keeps every target
//   in memory (about 150 bytes each) and writes each change through to the store, so a restart
//   continues from load(); with several server nodes one node must own a rollout.

#include "store/releasestore.h"

#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QStringList>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace iptv::control {

/// Semantic version order (numeric parts as numbers, pre-release below release); <0, 0, >0.
/// Invalid versions sort below valid ones.
int compareReleaseVersions(QStringView a, QStringView b);
bool isValidReleaseVersion(QStringView version);

/// One box as the fleet knows it when a rollout is planned.
struct BoxCandidate
{
    qint64 boxId = 0; ///< the fleet's numeric id (0 = none: not planned)
    QString version; ///< its current software version
    ReleaseChannel channel = ReleaseChannel::Clean;
};

/// How the eligible boxes are cut into groups. Percent: cumulative share of the eligible boxes
/// reached after each group ([1, 10, 50, 100] = 1 %, then up to 10 %, ...), rounded up.
/// Count: boxes per group. Either way the last group takes all the rest, and groups that come
/// out empty (tiny fleets) are dropped.
struct GroupPlan
{
    enum class Kind : quint8 { Percent, Count };
    Kind kind = Kind::Percent;
    QList<double> sizes{1, 10, 50, 100};

    /// {"percent": [...]} or {"count": [...]}.
    QJsonObject toJson() const;
    static bool fromJson(const QJsonObject &json, GroupPlan *out, QString *error);
    /// Empty when usable, else what is wrong.
    QString validate() const;
    /// Group sizes for `eligible` boxes (sum = eligible, no zeros); needs validate() to pass.
    QList<int> groupSizes(int eligible) const;
};

struct RolloutOptions
{
    GroupPlan groups;
    RolloutThresholds thresholds;
    quint64 seed = 0;  ///< of the random sample; 0 = pick one (stored with the rollout)
    bool force = false; ///< allow boxes newer than the release (a rollback; the caller audits it)
    QString createdBy;
};

struct RolloutPlan
{
    Release release;
    ReleaseChannel channel = ReleaseChannel::Clean;
    RolloutOptions options; ///< seed filled in
    QList<int> groupSizes;
    QList<TargetRecord> targets; ///< skipped ones (group -1) first, then by group and position
    int eligible = 0;
    int upToDate = 0;      ///< excluded: already at the release's version
    int newer = 0;         ///< excluded: above it (not forced)
    int otherChannel = 0;  ///< excluded: on the other release channel
    int skipped = 0;       ///< kept as skipped targets with the reason (below minimum, no valid version)

    QJsonObject summary() const;
};

/// Why a rollout could not be planned or stored, beside the text: what an API answers with.
enum class RolloutRefusal : quint8 {
    Invalid,  ///< the request is wrong (groups, thresholds, an experimental release to clean)
    Conflict, ///< right, but not now: no box needs the release, the channel has an active rollout
    Internal, ///< the store failed
};

class RolloutPlanner
{
public:
    /// Picks the boxes of `channel` that need `release`, in a seeded random order cut into groups.
    /// Fails (with what and why, and *refusal) on an invalid plan or thresholds, an experimental
    /// release to the clean channel, or when no box is eligible (Conflict).
    static std::optional<RolloutPlan> plan(const Release &release, ReleaseChannel channel,
                                           const QList<BoxCandidate> &boxes, const RolloutOptions &options,
                                           QString *error, RolloutRefusal *refusal = nullptr);
};

struct GroupProgress
{
    int index = 0;
    GroupState state = GroupState::Pending;
    int size = 0;
    int required = 0; ///< successes needed to open the next group
    int pending = 0, offered = 0, installing = 0, succeeded = 0, failed = 0, skipped = 0;
    qint64 openedAt = 0, closedAt = 0;
    QJsonObject toJson() const;
};

struct RolloutProgress
{
    quint64 id = 0;
    QString version;
    ReleaseChannel channel = ReleaseChannel::Clean;
    RolloutState state = RolloutState::Draft;
    QString reason;
    bool force = false;
    int currentGroup = -1;
    int total = 0;          ///< targets in groups
    int plannedSkipped = 0; ///< skipped when planned (no group)
    int pending = 0, offered = 0, installing = 0, succeeded = 0, failed = 0, skipped = 0;
    RolloutThresholds thresholds;
    QList<GroupProgress> groups;
    QJsonObject toJson() const;
};

class Rollout : public QObject
{
    Q_OBJECT

public:
    using Clock = std::function<qint64()>; ///< ms since the epoch

    /// Stores a planned rollout (state draft). Refused while another rollout of the same channel
    /// is active, or when the release is not in the store.
    static std::unique_ptr<Rollout> create(ReleaseStore *store, const RolloutPlan &plan, QString *error,
                                           Clock clock = {}, RolloutRefusal *refusal = nullptr);
    /// Rebuilds a stored rollout (after a restart) and continues where it stopped.
    static std::unique_ptr<Rollout> load(ReleaseStore *store, quint64 id, QString *error, Clock clock = {});
    /// Every active (draft/running/paused/halted) rollout in the store, for the server's start.
    static std::vector<std::unique_ptr<Rollout>> loadActive(ReleaseStore *store, QString *error, Clock clock = {});
    ~Rollout() override;

    quint64 id() const { return m_record.id; }
    RolloutState state() const { return m_record.state; }
    const RolloutRecord &record() const { return m_record; }
    const Release &release() const { return m_release; }
    ReleaseChannel channel() const { return m_record.channel; }
    bool isForced() const { return m_record.force; }
    int currentGroup() const { return m_record.currentGroup; }
    int groupCount() const { return int(m_groups.size()); }

    // Operator actions; false with the reason when the current state does not allow it.
    bool start(QString *error);
    bool pause(QString *error);
    bool resume(QString *error);
    bool abort(const QString &reason, QString *error);
    bool complete(QString *error);
    /// Takes effect at once (may open a group, or halt).
    bool setThresholds(const RolloutThresholds &thresholds, QString *error);

    /// Up to maxN boxes of opened groups not offered yet, in sample order; `accept` filters
    /// (e.g. online boxes). Empty unless running.
    QList<qint64> nextTargets(int maxN, const std::function<bool(qint64)> &accept = {}) const;
    /// True when the box should be offered the release now (e.g. it just came online).
    bool isOfferable(qint64 boxId) const;
    /// The server sent ReleaseAvailable to these boxes; returns how many were offerable.
    int markOffered(const QList<qint64> &boxIds);
    /// The box started installing (its event/ack); false when it was not offered.
    bool markInstalling(qint64 boxId);

    enum class ReportOutcome : quint8 { Recorded, Duplicate, Ignored, UnknownBox };
    struct BoxResult
    {
        qint64 boxId = 0;
        bool ok = false;
        QString text;
    };
    ReportOutcome reportResult(qint64 boxId, bool ok, const QString &text = {});
    /// Many results in one store transaction (and one progressChanged); returns how many were recorded.
    int reportResults(const QList<BoxResult> &results);

    /// Applies the result timeout at clock(); returns how many attempts timed out.
    int expireOverdue();
    /// When expireOverdue() may next have work (ms since the epoch); 0 = nothing outstanding.
    qint64 nextDeadline() const;

    RolloutProgress progress() const;
    std::optional<TargetRecord> target(qint64 boxId) const;
    /// Targets filtered by state and group (-2 = any, -1 = planned-skipped), for the API.
    QList<TargetRecord> targets(std::optional<TargetState> state, int group, int offset, int limit) const;
    /// The last store write error; the rollout keeps going in memory when a write fails.
    QString lastStoreError() const { return m_storeError; }

Q_SIGNALS:
    /// State, current group, thresholds or reason changed.
    void rolloutChanged();
    /// Counters changed (a result, an offer, a timeout). Frequent: throttle before pushing.
    void progressChanged();
    void groupOpened(int index);
    void halted(const QString &reason);
    void completed();

private:
    struct Counts
    {
        int byState[6] = {};
        int &operator[](TargetState s) { return byState[int(s)]; }
        int operator[](TargetState s) const { return byState[int(s)]; }
        int results() const { return (*this)[TargetState::Succeeded] + (*this)[TargetState::Failed]; }
        int finished() const { return results() + (*this)[TargetState::Skipped]; }
    };

    Rollout(ReleaseStore *store, Clock clock);
    bool init(RolloutRecord record, Release release, QList<GroupRecord> groups, QList<TargetRecord> targets,
              QString *error);
    qint64 now() const { return m_clock(); }
    int requiredSuccesses(int group) const;
    void setTargetState(int index, TargetState state);
    void applyResult(int index, bool ok, const QString &text);
    /// Why the rollout must halt now, or empty.
    QString haltCause() const;
    void evaluate();
    void openGroup(int group);
    void halt(const QString &reason);
    void finish(RolloutState state, const QString &reason, const QString &skipText);
    void touchRollout();
    void touchGroup(int group);
    void touchTarget(int index);
    /// Writes what changed in one transaction and emits the signals.
    void flush();

    ReleaseStore *m_store;
    Clock m_clock;
    RolloutRecord m_record;
    Release m_release;
    QList<GroupRecord> m_groups;
    QList<Counts> m_counts;                    ///< per group
    QList<std::pair<int, int>> m_groupRange;   ///< [begin, end) into m_targets
    QList<TargetRecord> m_targets;
    QHash<qint64, int> m_index;
    std::deque<std::pair<qint64, int>> m_deadlines; ///< (offeredAt, target), in offer order

    // changes not yet written / signalled
    QList<int> m_dirtyTargets;
    QList<int> m_dirtyGroups;
    bool m_rolloutDirty = false;
    bool m_progressDirty = false;
    QList<int> m_openedGroups;
    QString m_haltedReason;
    bool m_completed = false;
    int m_batchDepth = 0;
    QString m_storeError;
};

} // namespace iptv::control
