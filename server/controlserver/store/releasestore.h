#pragma once

// Releases and staged rollouts in SQL (QtSql; SQLite and PostgreSQL), on a connection the server
// opened (ReleaseStore never opens or closes it). Tables:
//   releases         one signed bundle per version: channel, minimum box version, sha256, size,
//                    file path, manifest JSON, signing key id, who uploaded it and when;
//   rollouts         a release going out to a channel: state, group plan, thresholds, seed, audit;
//   rollout_groups   (rollout, index): planned size, state, opened/closed times;
//   rollout_targets  (rollout, box): group, position in the group's random order, state, attempts,
//                    error text, the box's version when planned, timestamps.
// Per-group counters are not stored: they follow from the targets and are rebuilt on load.
// All times are milliseconds since the epoch (UTC).

#include "domain/releasechannel.h"

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <memory>
#include <optional>

QT_BEGIN_NAMESPACE
class QSqlQuery;
QT_END_NAMESPACE

namespace iptv::control {

enum class RolloutState : quint8 { Draft, Running, Paused, Halted, Aborted, Completed };
enum class GroupState : quint8 { Pending, Open, Succeeded, Halted };
enum class TargetState : quint8 { Pending, Offered, Installing, Succeeded, Failed, Skipped };
/// Which results the error threshold looks at (see rollout.h).
enum class ErrorScope : quint8 { Rollout, Group };

QString rolloutStateName(RolloutState state);
std::optional<RolloutState> rolloutStateFromName(QStringView name);
QString groupStateName(GroupState state);
std::optional<GroupState> groupStateFromName(QStringView name);
QString targetStateName(TargetState state);
std::optional<TargetState> targetStateFromName(QStringView name);
QString errorScopeName(ErrorScope scope);
std::optional<ErrorScope> errorScopeFromName(QStringView name);

/// True for a rollout that can still change (draft, running, paused, halted).
bool isActive(RolloutState state);
/// True for succeeded, failed and skipped.
bool isTerminal(TargetState state);

struct Release
{
    QString version;
    ReleaseChannel channel = ReleaseChannel::Clean;
    QString minBoxVersion;   ///< boxes below this cannot install it; empty = any
    QByteArray sha256;       ///< of the bundle file, lowercase hex
    qint64 size = 0;
    QString filePath;        ///< where the server keeps the bundle
    QByteArray manifestJson;
    QString signatureKeyId;
    QString uploadedBy;
    qint64 uploadedAt = 0;

    /// For the operator API (without the server-side file path).
    QJsonObject toJson() const;
};

struct RolloutThresholds
{
    double successThreshold = 0.95; ///< fraction of a group that must succeed before the next opens
    double errorThreshold = 0.05;   ///< failure fraction above which the rollout halts
    int minResults = 20;            ///< results needed before the error threshold applies
    ErrorScope errorScope = ErrorScope::Rollout;
    qint64 resultTimeoutMs = 30 * 60 * 1000; ///< offered, no result for this long: a failed attempt
    int maxOffers = 2;              ///< attempts per box before a timeout counts as a failure

    QJsonObject toJson() const;
    /// Reads the keys present over the defaults; false with `error` on a bad value.
    static bool fromJson(const QJsonObject &json, RolloutThresholds *out, QString *error);
    /// Empty when the values are usable, else what is wrong.
    QString validate() const;
};

struct RolloutRecord
{
    quint64 id = 0;
    QString releaseVersion;
    ReleaseChannel channel = ReleaseChannel::Clean;
    RolloutState state = RolloutState::Draft;
    QByteArray groupPlanJson; ///< the plan as the operator gave it, e.g. {"percent":[1,10,50,100]}
    RolloutThresholds thresholds;
    quint64 seed = 0;
    bool force = false;       ///< rollback allowed (audited by the caller)
    int currentGroup = -1;    ///< highest opened group; -1 before start
    QString reason;           ///< why it halted, was aborted or completed
    QString createdBy;
    qint64 createdAt = 0;
    qint64 updatedAt = 0;
    qint64 startedAt = 0;
    qint64 finishedAt = 0;
};

struct GroupRecord
{
    int index = 0;
    int size = 0;
    GroupState state = GroupState::Pending;
    qint64 openedAt = 0;
    qint64 closedAt = 0;
};

struct TargetRecord
{
    qint64 boxId = 0;         ///< stored (and shown by toJson) as "b-12"
    int group = -1;           ///< -1 for boxes skipped when planning (no group)
    int position = 0;         ///< order inside the group (the random sample's order)
    TargetState state = TargetState::Pending;
    int attempts = 0;         ///< times offered
    QString fromVersion;      ///< the box's version when planned
    QString error;
    qint64 offeredAt = 0;
    qint64 finishedAt = 0;
    qint64 updatedAt = 0;

    /// For the operator API.
    QJsonObject toJson() const;
};

class ReleaseStore
{
public:
    /// Uses the open connection `connectionName` (QSqlDatabase::database(name)); call createSchema() once.
    explicit ReleaseStore(QString connectionName);
    ~ReleaseStore();
    ReleaseStore(const ReleaseStore &) = delete;
    ReleaseStore &operator=(const ReleaseStore &) = delete;

    bool createSchema(QString *error);
    bool isPostgres() const { return m_postgres; }
    QString connectionName() const { return m_connection; }

    /// Fails when the version is already stored.
    bool addRelease(const Release &release, QString *error);
    std::optional<Release> release(const QString &version, QString *error = nullptr);
    /// Newest upload first; all channels when `channel` is empty.
    QList<Release> releases(std::optional<ReleaseChannel> channel = std::nullopt, QString *error = nullptr);
    /// Refused while a rollout refers to the release.
    bool removeRelease(const QString &version, QString *error);

    /// Stores a new rollout with its groups and targets in one transaction (multi-row prepared
    /// inserts); returns its id, 0 on error.
    quint64 insertRollout(const RolloutRecord &rollout, const QList<GroupRecord> &groups,
                          const QList<TargetRecord> &targets, QString *error);
    bool updateRollout(const RolloutRecord &rollout, QString *error);
    bool updateGroup(quint64 rolloutId, const GroupRecord &group, QString *error);
    /// Writes state, attempts, error and times of these targets (one prepared statement).
    bool updateTargets(quint64 rolloutId, const QList<const TargetRecord *> &targets, QString *error);

    std::optional<RolloutRecord> rollout(quint64 id, QString *error = nullptr);
    /// Newest first; only draft/running/paused/halted ones when `activeOnly`.
    QList<RolloutRecord> rollouts(bool activeOnly = false, QString *error = nullptr);
    bool loadGroups(quint64 rolloutId, QList<GroupRecord> *out, QString *error);
    /// Ordered by group, then position (skipped ones, group -1, first).
    bool loadTargets(quint64 rolloutId, QList<TargetRecord> *out, QString *error);

    /// A transaction around several updates (e.g. a batch of results); nests by counting.
    bool begin(QString *error);
    bool commit(QString *error);
    void rollback();

private:
    bool exec(const QString &sql, QString *error);
    bool insertTargetsSqlite(quint64 rolloutId, const QList<TargetRecord> &targets, QString *error);
    bool insertTargetsPostgres(quint64 rolloutId, const QList<TargetRecord> &targets, QString *error);
    QSqlQuery *cached(std::unique_ptr<QSqlQuery> &slot, const QString &sql, QString *error);

    QString m_connection;
    bool m_postgres = false;
    int m_depth = 0;
    std::unique_ptr<QSqlQuery> m_updateTarget, m_updateGroup, m_updateRollout;
};

} // namespace iptv::control
