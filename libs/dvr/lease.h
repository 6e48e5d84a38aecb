#pragma once

// Recorder nodes share recordings through one SQL table: a node claims a recording by taking its
// lease (node, lease_until) and renews it while it records; a node that dies stops renewing and
// another node takes the recording over once the lease has expired, within one lease period. A
// holder that renews late (its thread was blocked) keeps what nobody took meanwhile: on one node
// (SQLite), a blocked event loop costs its recordings nothing; on PostgreSQL its work stopped at
// the watchdog deadline (below), and is taken back after a gap.
//
// PostgreSQL (several nodes): a claim selects free or expired rows `FOR UPDATE SKIP LOCKED`, so
// nodes claiming at the same moment get different recordings without waiting on each other.
// SQLite (one node, the default): the claim runs in a `BEGIN IMMEDIATE` transaction. In both the
// UPDATE repeats the claim's condition, so a row is never held by two nodes.
//
// Times are the nodes' wall clocks in UTC ms: nodes are expected to be NTP-synchronised, and the
// lease period must be well above their skew.
//
// Liveness (PostgreSQL, LeaseKeeper::Settings::livenessGraceMs > 0): a dead node need not be
// waited for until its leases expire. Each keeper holds a session-level advisory lock keyed by its
// scope and node name for as long as it lives, on a connection of its own used by a thread of its
// own (the liveness thread: a blocked event loop leaves the session, and so the lock, alive and
// confirmed); PostgreSQL frees it the moment that session ends (a kill -9 or a crash closes the
// socket; a terminated backend; a restart). A node whose lock has been free for the grace period
// is gone: the others claim its recordings then, whatever its leases say, the claim repeating the
// lock's check in its UPDATE (the keeper's thread looks at the others' locks). The liveness thread
// keeps checking its own lock (livenessIntervalMs); when it cannot confirm it for half the grace
// period (its connection dropped and could not be opened again, or the lock was taken by another
// session) the work stops at the watchdog deadline (below), and the keeper's thread, told by a
// queued call, gives up its recordings: since the lock was held when it was last confirmed,
// nobody may claim them before that moment plus the grace period, so it stops first. The lease expiry stays the fallback
// for a node alive to PostgreSQL but stuck (stopped, partitioned with its session still open).
//
// The watchdog (PostgreSQL): what a keeper holds is worked on by other threads (recorders) that
// go on when the keeper's own thread (or its liveness thread) hangs: the others claim the work
// when its leases expire, or once its lock has been free for the grace. writeDeadline() is the
// moment, on the monotonic clock, after which the others may claim (or may soon), the earlier of
// two parts each advanced by its own thread: three quarters of a lease period after the last
// renewal was sent (the keeper's thread) and, with liveness, half the grace after the last
// confirmation of the lock was sent (the liveness thread). A keeper's thread blocked for less than
// three quarters of a lease costs nothing while its liveness thread confirms the lock. The workers check it from
// their own threads (RecorderSettings::writeFence) and stop by themselves once it has passed, so
// two nodes never work on one item whatever this thread does. When the thread runs again, it
// gives everything up (lost) and takes back what nobody took meanwhile, as after a lost lock.
// SQLite (one node) has no deadline: a blocked event loop costs its recordings nothing.
//
// Fencing: the watchdog stops a writer that knows it may be late, not one stalled inside a write
// (a SIGSTOP, a VM frozen, an NFS write hanging) that goes on afterwards. So every claim (a
// takeover, a restart's reclaim, a takeback after a stall) raises the row's epoch (a fencing
// token, as Kleppmann's "How to do distributed locking" describes), and the recorder writes it
// into the folder: the folder refuses a writer of a lower epoch (archive.h, "Fencing").
//
// A hand-over (balancing) whose work does not stop: the lease is held back (holdRelease) and
// renewed until the work has stopped, but for at most Settings::handOverLimitMs. Past it (a
// recorder stuck on its source or its disk) the keeper says so (handOverAbandoned, a warning),
// closes that lease's write fence (writeFence(id): the work writes nothing more from then on) and
// stops renewing it: another node takes it when it expires, within one lease period. The fence
// closes on the keeper's thread before the lease's last renewal can expire (a thread that runs
// that late has had every fence closed by the watchdog deadline already), so the two never write
// at once; a write in flight then is the folder's epoch's to refuse, as for any stalled writer.

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <QVariantList>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

namespace iptv::dvr {

/// One recording as the lease table holds it.
struct LeaseJob
{
    QString id;
    QByteArray spec;          ///< what to record (JSON, owned by the caller)
    QString state;            ///< "pending" (to record or recording), "done", "failed"
    QString node;             ///< the holder; empty when free
    qint64 leaseUntilMs = 0;
    int takeovers = 0;        ///< how often a node took it from another whose lease expired (or who was gone)
    /// Claimed from a holder whose lease had not expired: its liveness lock was free (it is gone).
    bool holderGone = false;
    /// The fencing token: raised by every claim (a takeover, a takeback, a restart's reclaim), so
    /// the holder's writer names a higher epoch than any earlier holder's (ArchiveWriterSettings::epoch).
    qint64 epoch = 0;
};

/// A claimed recording: its job, and the node it was taken from (empty when it was free).
struct LeaseClaim
{
    LeaseJob job;
    QString previousNode;
};

/// A node sharing a kind of work with the others, and its weight (its capacity) in the share-out.
struct LeasePeer
{
    QString node;
    int weight = 1;
};

/// How many of `total` items each of `peers` should hold: in proportion to their weights
/// (largest remainders; equal weights when none is positive), the rounding going to the peers
/// first in the list. The counts add up to `total`, and every node computing it from the same
/// list (nodes sorted by name) gets the same answer.
QHash<QString, int> fairShares(const QList<LeasePeer> &peers, int total);

class LeaseStore
{
public:
    LeaseStore();
    ~LeaseStore();
    LeaseStore(const LeaseStore &) = delete;
    LeaseStore &operator=(const LeaseStore &) = delete;

    /// SQLite file or postgresql:// URI (see core/sqldatabase.h); creates the table.
    bool open(const QString &location, QString *error);
    void close();
    bool isPostgres() const { return m_postgres; }
    /// Claims, renewals and releases see only the recordings whose id starts with `prefix`, or
    /// (`ids` not empty) only those ids: one table, several kinds of work, each with its own
    /// keeper and capacity. By default: all.
    void setScope(const QString &prefix, const QStringList &ids = {})
    {
        m_scopePrefix = prefix;
        m_scopeIds = ids;
    }

    /// Adds a recording to be claimed (an existing id is left as it is).
    bool add(const QString &id, const QByteArray &spec, QString *error);
    /// Claims up to `max` pending recordings that are free or whose lease expired before `nowMs`,
    /// or (PostgreSQL) that one of `goneNodes` holds while no session holds its liveness lock.
    std::optional<QList<LeaseClaim>> claim(const QString &node, int max, qint64 leaseMs, qint64 nowMs, QString *error,
                                           const QStringList &goneNodes = {});
    /// PostgreSQL: takes this node's liveness lock (scope and node) on this store's connection, or
    /// confirms that this session still holds it. Held: this session held it already (it was
    /// never free since); Taken: this session took it now (the first time, or the connection was
    /// opened again); HeldElsewhere: another session holds it (this node's previous process, not
    /// yet ended; try again); nullopt with *error: the database could not be asked. SQLite: Held.
    enum class Liveness : quint8 { Held, Taken, HeldElsewhere };
    std::optional<Liveness> holdLiveness(const QString &node, QString *error);
    /// PostgreSQL: the nodes other than `node` that hold a lease in scope not expired at `nowMs`
    /// while no session holds their liveness lock (their process or session has ended). SQLite: none.
    std::optional<QStringList> nodesWithoutLiveness(const QString &node, qint64 nowMs, QString *error);
    /// Takes back, renewed, every pending recording the table says `node` holds, expired or not
    /// (previousNode is `node`): a node restarted under its name goes on at once instead of
    /// waiting for its own leases to expire.
    std::optional<QList<LeaseClaim>> reclaim(const QString &node, qint64 leaseMs, qint64 nowMs, QString *error);
    /// Extends `node`'s leases to nowMs + leaseMs, also those that expired but nobody claimed
    /// since; the ids it still holds (a recording missing from the list was taken over: the node
    /// must stop recording it).
    /// `except`: leases not renewed (left to expire), not in the list either.
    std::optional<QStringList> renew(const QString &node, qint64 leaseMs, qint64 nowMs, QString *error,
                                     const QStringList &except = {});
    /// The node is done with a recording: its final state ("done" or "failed"), lease released.
    bool finish(const QString &id, const QString &node, const QString &state, QString *error);
    /// A finished job to be done again (a recording reopened): pending and free, whatever node
    /// finished it. Nothing changes while it is pending.
    bool reopen(const QString &id, QString *error);
    /// Raises the epoch of `id` from `from` (the one `node` was given) to `to` (at least from + 1),
    /// only while `node` holds it with that epoch: the new epoch, 0 when the row moved on (another
    /// node claimed it), nullopt with *error when the database fails. A holder whose folder names a
    /// higher epoch than the table (the table was made again) raises its own past it.
    std::optional<qint64> raiseEpoch(const QString &id, const QString &node, qint64 from, qint64 to, QString *error);
    /// Frees every recording `node` holds, still pending (a clean stop: another node, or this one
    /// started again, claims them at once instead of after their leases expired).
    bool release(const QString &node, QString *error);
    /// Frees one recording `node` holds (it hands it to another node); false when it does not hold it.
    bool releaseOne(const QString &id, const QString &node, QString *error);
    /// When the first lease in scope that another node holds expires (UTC ms; 0: none held by
    /// another, or all expired already at `nowMs`): a node with room claims it then, not at its
    /// next look.
    std::optional<qint64> nextExpiry(const QString &node, qint64 nowMs, QString *error);
    /// The pending recordings in scope, whoever holds them (spec not read).
    std::optional<QList<LeaseJob>> scopedJobs(QString *error);
    /// The recordings held now (a lease not expired at `nowMs`), whatever the scope: id and node (metrics).
    std::optional<QList<LeaseJob>> held(qint64 nowMs, QString *error);
    /// Every recording (operators, tests).
    std::optional<QList<LeaseJob>> jobs(QString *error);

private:
    bool exec(const QString &sql, QString *error);
    std::optional<QList<LeaseClaim>> take(const QString &node, bool own, int max, qint64 leaseMs, qint64 nowMs, QString *error,
                                          const QStringList &goneNodes = {});
    /// "No session holds the liveness lock of dvr_leases.node", and the values to bind for it.
    static QString unlockedCondition();
    QVariantList unlockedValues() const;
    /// The scope's part of the liveness key.
    QString livenessScope() const;

    /// "id LIKE ?" or "id IN (?, …)", and the values to bind after the rest.
    QString scopeCondition() const;
    QVariantList scopeValues() const;

    /// The liveness lock's second key, computed by the server: hashtext(scope, US, node).
    static QString livenessKeySql(const QString &nodeExpression);

    QString m_connection;
    QString m_livenessToken; ///< set in this session once it holds the lock (a new session has none)
    QString m_scopePrefix;
    QStringList m_scopeIds;
    bool m_postgres = false;
};

/// A node's side of the lease table: renews its leases every third of the lease period, looks for
/// work every tenth, and, with room for more, looks again the moment the first lease another node
/// holds expires: a dead node's recordings move one lease period after its last renewal (at most
/// one period after its death), not at the next look; with liveness (Settings::livenessGraceMs,
/// PostgreSQL), a grace period after its session ended. It says what it gained and lost. Its first look also takes back what the table says this node
/// holds (it was restarted, or killed, under the same name). Runs in the thread it lives in.
///
/// Balanced (setPeers): the work in scope is shared out among the peers by fairShares(), instead
/// of each node claiming up to its capacity. A node claims up to its share; a node over its share
/// hands one item back (lost(id, true), then the lease freed, then released(id)) when a peer is
/// under its own, so a node that joins gets its share within a few looks. A peer holding a lease
/// that has expired is dead for the share-out (its heartbeat may still look recent): the living
/// take its work over within one lease period, as without balancing. The peers' scopes may
/// differ (Settings::ids: a node lists only what it can do): an item in this node's scope that no
/// other node took for a lease period is claimed beyond the share and kept (never handed over),
/// so nothing that one node can do is left undone for the share-out's sake.
class LeaseKeeper : public QObject
{
    Q_OBJECT
public:
    struct Settings
    {
        QString location;    ///< the database
        QString node;        ///< this node's name (unique among nodes)
        qint64 leaseMs = 30000;
        int capacity = 100;  ///< recordings this node holds at most
        QString scope;       ///< only recordings whose id starts with this (LeaseStore::setScope)
        QStringList ids;     ///< or, when not empty, only these
        QList<LeasePeer> peers; ///< not empty: balanced among these (see above); capacity is not used
        /// Balanced: how many items are shared out among the peers, the same on every node (the
        /// peers' scopes together); 0: the ids in this node's scope (or, without ids, its rows).
        int shareTotal = 0;
        /// PostgreSQL: a node whose liveness lock stays free this long is gone, and its recordings
        /// are claimed then instead of at their leases' expiry; this node stops its own when it
        /// cannot confirm its lock for half of it. The lock is held on a second connection, by a
        /// thread of the keeper's own. 0: off (leases only; SQLite never has it).
        qint64 livenessGraceMs = 0;
        /// How often the own lock is confirmed and the others' are looked at (with a grace set).
        qint64 livenessIntervalMs = 250;
        /// How long a lease held back for a hand-over (holdRelease) is renewed while its work
        /// stops; past it, it is given up (see the top of this file). 0: three lease periods.
        qint64 handOverLimitMs = 0;
    };

    explicit LeaseKeeper(QObject *parent = nullptr);
    ~LeaseKeeper() override;

    /// Opens the store and starts: claims at once, then as described above.
    bool start(const Settings &settings, QString *error);
    /// Stops renewing (a crash, for the others: the leases expire).
    void stop();
    /// Stops and frees what this node holds (a clean stop: the others claim it at once).
    void release();
    /// Looks for work now instead of at the next tick (a recording was just added).
    void claimNow();
    /// The nodes the work is balanced among (this one included), sorted by name; looks at once.
    void setPeers(const QList<LeasePeer> &peers);
    /// Settings::shareTotal from now on (looks at once).
    void setShareTotal(int total);
    /// The ids in scope from now on (Settings::ids); one held that is no longer in it is lost.
    void setIds(const QStringList &ids);
    /// Releases one recording with its final state.
    bool finish(const QString &id, const QString &state, QString *error);
    /// In a lost(id, true) handler (a hand-over): the lease is not freed when the handler returns
    /// but by releaseHeld(id), once the work has stopped (a recorder writing its last segment), so
    /// the next node never writes beside this one. Never freed, it expires as a dead node's does.
    void holdRelease(const QString &id);
    /// Frees the lease held back by holdRelease(): the other nodes may claim it now (released()).
    /// Nothing once the hand-over was given up (handOverAbandoned()).
    void releaseHeld(const QString &id);
    /// The leases held back for a hand-over now (holdRelease), their work not stopped yet.
    QStringList heldBack() const { return m_heldBack.keys(); }
    /// How long a hand-over's work may take to stop (Settings::handOverLimitMs, its default applied).
    qint64 handOverLimitMs() const;
    /// What the work on `id` checks from its own threads before every write (RecorderSettings::
    /// writeFence): true while the watchdog deadline (writeDeadline()) is ahead and this lease was
    /// not given up after a hand-over that did not stop in time. Ask for it once `id` is claimed.
    std::function<bool()> writeFence(const QString &id);

    QStringList held() const { return m_held; }
    /// The watchdog's deadline (see the top of this file), readable from any thread: the work
    /// held may go on while steadyNowMs() is below it. Shared: it outlives the keeper.
    std::shared_ptr<const std::atomic<qint64>> writeDeadline() const { return m_deadline; }
    /// The monotonic clock of writeDeadline(), in ms.
    static qint64 steadyNowMs();
    /// The work on `id` stopped by itself (its watchdog deadline passed) while this node still
    /// holds it: it is no longer held here, and is taken back (claimed() again) at the next
    /// renewal when nobody took it meanwhile and the deadline is ahead again.
    void giveBack(const QString &id);
    /// Liveness is on (PostgreSQL and a grace set) and this node's liveness thread could not
    /// confirm its lock for half the grace (as this thread learnt it): it holds nothing until it
    /// has it again.
    bool livenessLost() const { return m_livenessLost; }
    LeaseStore &store() { return m_store; }

Q_SIGNALS:
    /// This node now records `job` (previousNode: who held it before its lease expired).
    void claimed(const iptv::dvr::LeaseJob &job, const QString &previousNode);
    /// Another node holds `id` now, or may soon (this node could not renew it for 3/4 of
    /// a period), or (handedOver) this node gives it to another to balance the work: stop
    /// recording it (before this returns: its lease is freed right after).
    void lost(const QString &id, bool handedOver);
    /// `id` was handed over and its lease is free: the other nodes may claim it now.
    void released(const QString &id);
    /// The database could not be reached or refused (the node keeps what it holds until its leases expire).
    void failed(const QString &error);
    /// The work on `id`, handed over, did not stop within the hand-over limit (waitedMs after
    /// lost(id, true)): its write fence is closed, its lease no longer renewed, and it expires
    /// for another node to claim. releaseHeld(id) does nothing from now on.
    void handOverAbandoned(const QString &id, qint64 waitedMs);

private:
    class LivenessThread;
    struct Watchdog;

    void tick();
    /// Liveness, on this thread: gives everything up when the watchdog deadline passed while
    /// this thread was blocked, and looks at the other nodes' locks (claims what gone nodes held).
    void watchOthers();
    /// From the liveness thread (queued): this node's lock could not be confirmed for half the
    /// grace, or was taken again after that: it stops everything it holds. `generation`: the
    /// start() it belongs to (a report from a keeper's earlier run is ignored).
    void livenessGone(quint64 generation, const QString &why);
    /// From the liveness thread (queued): the lock is confirmed again after livenessGone().
    void livenessBack(quint64 generation);
    bool livenessOn() const { return m_settings.livenessGraceMs > 0 && m_store.isPostgres(); }
    /// The nodes whose liveness lock was free for the grace period (claimable from now).
    QStringList goneNodes() const;
    /// Balanced: how many more this node may claim now (0 when none), after handing one over
    /// when it holds more than its share.
    int balance(qint64 nowMs);
    /// Emits claimed() for these leases, renewed after this node had given them up.
    void takeBack(const QStringList &ids);
    /// Frees a lease handed over (after lost(id, true)); released() or failed().
    void freeHandedOver(const QString &id);
    /// Gives up the hand-overs whose work did not stop within the limit (before a renewal).
    void abandonStuckHandOvers();

    /// With room for more: a look the moment the first lease another node holds expires.
    void watchExpiry(qint64 nowMs);
    /// The renewal's part of the deadline from the last renewal sent (PostgreSQL; none on SQLite).
    void updateDeadline();
    /// This thread did not run until after the deadline (its work stopped by itself): gives
    /// everything up, to take back what is still its own; true when it did.
    bool stopIfOverdue();

    Settings m_settings;
    LeaseStore m_store;
    QTimer m_timer;
    QTimer m_expiry; ///< watchExpiry()
    QStringList m_held;
    qint64 m_lastRenewMs = 0;
    bool m_reclaim = false; ///< the first look takes back this node's own leases
    /// Handed over, freed once their work has stopped (holdRelease): since when (steadyNowMs()).
    QHash<QString, qint64> m_heldBack;
    /// Hand-overs given up (abandonStuckHandOvers): not renewed, so that they expire, until this
    /// node claims them again.
    QSet<QString> m_abandoned;
    /// Balanced: this node's share at the last look, the items it claimed beyond it because no
    /// other node took them (never handed over), and the items in scope seen free since when
    /// (steadyNowMs()).
    int m_share = 0;
    QSet<QString> m_pinned;
    QHash<QString, qint64> m_unclaimedSince;
    /// The per-lease part of writeFence(): set when the lease is given up.
    QHash<QString, std::shared_ptr<std::atomic<bool>>> m_revoked;
    // Liveness (PostgreSQL, livenessGraceMs > 0). Durations on the monotonic clock.
    QTimer m_liveness; ///< watchOthers()
    QElapsedTimer m_clock;
    std::unique_ptr<LivenessThread> m_livenessThread; ///< holds and confirms this node's lock
    quint64 m_generation = 0;         ///< start() count: the liveness thread's reports carry it
    bool m_livenessLost = false;      ///< stopped everything for want of the lock (livenessLost())
    bool m_renewNow = false;          ///< the next tick renews, whenever the last renewal was
    QHash<QString, qint64> m_freeSince; ///< other nodes seen without their lock, since when
    // The watchdog (steadyNowMs() values).
    qint64 m_renewSentAt = 0;  ///< when the last renewal (or reclaim) that succeeded was sent
    std::shared_ptr<std::atomic<qint64>> m_deadline = std::make_shared<std::atomic<qint64>>(0);
    /// The deadline's two parts, the liveness thread's and this thread's.
    std::shared_ptr<Watchdog> m_watchdog;
};

} // namespace iptv::dvr

Q_DECLARE_METATYPE(iptv::dvr::LeaseJob)
