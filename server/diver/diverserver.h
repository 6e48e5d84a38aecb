#pragma once

// diver: the network DVR server. It holds iptvnext's guide in memory (kept current by deltas),
// turns viewers' rules into a plan with libs/dvr's scheduler, records what the plan says when it
// is due (DiverCORE: libs/dvr's Recorder, one remuxing thread per channel stream), and serves
// the recordings, the channels' archives (timeshift, catch-up) and an HTTP/JSON API with
// WebSocket events. One stored copy per airing however many viewers recorded it; on an archived
// channel a recording is a range of the archive.
//
// A copy that is due is put in the lease table (libs/dvr/lease.h) rather than recorded at once;
// the node's LeaseKeeper claims up to its capacity and the node records what it claimed. Several
// nodes on one PostgreSQL database and one shared storage path so share the work, and a node that
// dies has its copies taken over by another once its database session has ended (its liveness
// lock free for `liveness_grace_ms`), or at the latest within one lease period, written on in the
// same folder after a gap. A copy's recorder stops at its end only once the store has sealed that
// end (an extension another node made a moment before is recorded to). One node on SQLite works the same way, its lease table in its own file.
// On PostgreSQL the nodes also tell each other what they changed (clusterlink.h): a rule saved on
// one node is planned on every node within a second, and each plans with the capacity of all
// the live nodes. A channel archive has a lease too: one node records it, every node serves it.
//
// Boxes authenticate with the ticket the control server signed for them (boxauth.h); operators
// with diver's admin token. A box sees and changes only its own rules and recordings.

#include "boxauth.h"
#include "clusterlink.h"
#include "config.h"
#include "playbacktoken.h"
#include "recordingstore.h"

#include <core/metrics.h>
#include <dvr/lease.h>
#include <dvr/planindex.h>
#include <dvr/playout.h>
#include <dvr/retention.h>
#include <dvr/rulestore.h>
#include <dvr/scheduler.h>
#include <epg/guide.h>

#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QSet>
#include <QFileSystemWatcher>
#include <QThreadPool>
#include <QTimer>

#include <atomic>
#include <functional>
#include <memory>

QT_BEGIN_NAMESPACE
class QWebSocket;
QT_END_NAMESPACE

namespace iptv::epg {
class GuideSync;
}
namespace iptv::http {
class Router;
struct Reply;
struct RouteContext;
}
namespace iptv::dvr {
class Recorder;
struct ArchiveSegment;
struct RetainedArchive;
class StoragePool;
}

namespace iptv::diver {

class DiverServer : public QObject
{
    Q_OBJECT
public:
    /// Timeshift's sliding playlist reaches back `[archive] hours` less this: a segment leaving it
    /// is served that much longer (timeshiftWindowMs()).
    static constexpr qint64 kTimeshiftGuardSeconds = 600;
    explicit DiverServer(DiverConfig config, QObject *parent = nullptr);
    ~DiverServer() override;

    /// Opens the database, loads rules and the recordings in progress (resuming them), the guide
    /// (cache, then the server or the file), and listens.
    bool start(QString *error);
    /// Stops cleanly: every recording's segment in progress is written and its lease freed (they
    /// resume on the next start, or on another node at once, if still due), sockets closed.
    void stop();

    const DiverConfig &config() const { return m_config; }
    /// The threads thumbnails are decoded on (server/thumbnail_threads, below the recorders).
    QThreadPool &thumbnailPool() { return m_thumbnailPool; }
    quint16 httpPort() const;
    std::shared_ptr<const epg::Guide> guide() const { return m_guide; }
    const dvr::SchedulePlan &plan() const { return m_plan; }
    BoxAuth &auth() { return m_auth; }
    RecordingStore &recordings() { return m_store; }
    /// Recordings being written now (copies and archives).
    int activeRecorders() const { return int(m_copies.size() + activeArchives().size()); }
    /// Archived channels this node records now (it holds their leases; another node records the rest).
    QStringList activeArchives() const;
    /// Copies this node records now (it holds their leases).
    QList<qint64> activeCopies() const { return m_copies.keys(); }
    /// Plans again now and starts what is due (also every second by itself).
    void reconcile();
    /// What starting due recordings cost (startDue(), every second): tests and bench_diverapi
    /// check that a tick reads what has come due, not the plan.
    struct DueStats
    {
        qint64 ticks = 0;     ///< startDue() calls
        qint64 examined = 0;  ///< plan items read (newly due, or due and not yet made)
        qint64 lookups = 0;   ///< of them, those that asked the database (not known made for their end)
        qint64 plans = 0;     ///< plans taken in (each read its due items once)
    };
    const DueStats &dueStats() const { return m_dueStats; }
    /// The nodes this node plans for: every live node on PostgreSQL (this one included), else this one.
    QList<ClusterNode> clusterNodes() const { return m_liveNodes; }
    /// The cluster's archived channels: every live node's [archive] channels together (this node's own on SQLite).
    QSet<QString> archivedChannels() const { return m_archivedChannels; }
    /// Recorders asked to stop that are still writing their last segment (off the event loop).
    int stoppingRecorders() const { return int(m_stoppingRecorders.size()); }
    /// Copies and archives this node holds the lease of.
    int leasesHeld() const;
    /// This node is the cluster's planner (holds the `planner` lease): its plan alone makes
    /// copies (docs/dvr-scheduler.md, "Several nodes: one planner"). Always, once started, on SQLite.
    bool isPlanner() const { return m_isPlanner; }
    /// Tests: while held, this node does not read the change log (it has not heard of the
    /// others' changes yet, as when their notifications are late); released, it reads at once.
    void holdClusterChanges(bool hold);
    /// Tests: called with every recorder made, before it starts (a disk made slow, say).
    void setRecorderHook(std::function<void(dvr::Recorder &)> hook) { m_recorderHook = std::move(hook); }
    /// Tests: called when a copy's recorder reaches its end (UTC s), before this node checks
    /// the end in the store (another node's extension can be made to land just then).
    void setCopyEndHook(std::function<void(qint64 copyId, qint64 recordStop)> hook) { m_copyEndHook = std::move(hook); }

Q_SIGNALS:
    void guideLoaded();
    void planChanged();
    /// Everything the events socket sends: {"type": scheduled|started|gap|failed|finished|deleted, …}.
    void event(const QJsonObject &event, const QString &owner);

private:
    struct ActiveCopy
    {
        CopyRow row;
        dvr::Recorder *recorder = nullptr;
        /// What the folder held when this node's recorder started on it (a copy resumed or taken
        /// over): the recorder counts its own run only.
        qint64 baseSegments = 0, baseBytes = 0, baseGaps = 0;
        /// The end (UTC ms) of what the folder held when the recorder started (0: nothing): the
        /// first segment written after it says how much is missing between them (a `gap` event).
        qint64 resumedAfterMs = 0;
        QString previousNode; ///< the node that recorded it before (empty: this one, restarted)
        bool takenOver = false; ///< previousNode's lease expired or its session ended (it died); else it handed the copy over
        bool holderGone = false; ///< taken over because previousNode's session ended (its liveness lock was free)
        /// The row with the copy's figures now: what was there, and what this run wrote.
        CopyRow withFigures() const;
    };
    /// An archived channel: served by every node, recorded by the one holding its lease.
    struct ActiveArchive
    {
        QString channelId;
        QString directory;
        dvr::Recorder *recorder = nullptr; ///< null: another node records it (or it is to start again)
        bool held = false;                 ///< this node holds its lease
        qint64 retryAt = 0;                ///< held, and its recorder did not start: try again then
        bool awaitsFolder = false;         ///< held, its last recorder still stopping: it starts once that has
    };
    /// A recorder asked to stop whose threads have not ended yet.
    struct StoppingRecorder
    {
        dvr::Recorder *recorder = nullptr;
        bool finish = false;
        std::function<void()> then; ///< what follows its stop (run on this thread)
    };

    qint64 now() const;
    void onGuide(std::shared_ptr<const epg::Guide> previous, std::shared_ptr<const epg::Guide> current);
    void resumeCopies();
    /// Puts a copy in the lease table (once per start; the table ignores ids it has).
    void offerCopy(const CopyRow &copy);
    void onLeaseClaimed(const dvr::LeaseJob &job, const QString &previousNode);
    void onLeaseLost(const QString &leaseId);
    /// The copies recorded here follow their rows' ends (moved by any node's planning).
    void followCopyEnds();
    void replan(bool guideChanged);
    /// A plan made soon (when the event loop next turns) for a rule change, then `then` (the
    /// change's answer, which carries the new plan's outcome). A rule change plans the whole book
    /// (about half a second at 10,000 rules), so the changes that come while one plan is made are
    /// one plan, not one each: a burst of "record this" presses waits for about two plans, not
    /// for as many as there are presses.
    void planSoon(std::function<void()> then);
    /// Makes the viewers' recordings (and copies) the plan has due: on the planner only.
    void startDue(qint64 now);
    /// The settings every lease keeper of this node shares (database, node, lease period,
    /// liveness grace, hand-over limit): the copies', the archives' and the planner's.
    dvr::LeaseKeeper::Settings leaseSettings() const;
    /// Starts this node's bid for the `planner` lease (once it can plan: a guide and the rules).
    void startPlanner();
    /// This node holds `planner` now: the rules and history read again (several nodes), a full
    /// plan, then what it has due.
    void onPlannerClaimed(const dvr::LeaseJob &job, const QString &previousNode);
    /// This node makes no more copies (lost its lease, or a copy insert was fenced off):
    /// `giveBack` hands the lease back to the keeper, which takes it back when nobody took it.
    void stopPlanning(const QString &why, bool giveBack);
    /// Reads `[guide] file` again after it changed; a file that does not read keeps the last guide.
    void reloadGuideFile();
    /// "finished" for the recordings of archived channels whose range the archive has passed (or
    /// stopped short of: their state then says "partial").
    void finishArchiveRanges(qint64 now);
    /// How much of a recording on an archived channel its archive holds (nullopt: no folder of
    /// the archive on this node's storage, or its index cannot be read). A coverage that can no
    /// longer change (the archive has gone past the range) is kept, not read again.
    std::optional<dvr::RangeCoverage> rangeCoverage(const RecordingRow &r, qint64 nowMs) const;
    /// An archive whose newest segment ended this long ago has stopped (its source or recorder).
    qint64 archiveStaleMs() const;
    /// How far back timeshift's sliding playlist reaches: `[archive] hours` less
    /// kTimeshiftGuardSeconds, so that a segment that left the playlist is still served that long
    /// (a player that loaded the playlist a moment before fetches it: RFC 8216 6.2.2).
    qint64 timeshiftWindowMs() const;
    /// The folder of a channel's archive: the one this node serves, else one left on its storage
    /// (the channel archived no more, or not in this node's guide): empty when there is none.
    /// Recordings on the channel (ranges of it) are served and retained from it whatever the
    /// archive set is now.
    QString archiveFolderOf(const QString &channelId) const;
    /// The archives on this node's storage that no node archives any more and nothing writes:
    /// kept for the recordings that are ranges of them, the rest goes (dvr::RetainedArchive::closed).
    QList<dvr::RetainedArchive> closedArchives() const;
    /// Makes the viewer's recording of a due airing (and its copy), or finds it made. True when it
    /// is there (or deleted by the viewer: not made again) and follows the plan's end: nothing to
    /// do for it until a plan moves its end. False: not made yet (a failure, a pause, the
    /// database away): asked again at the next tick.
    bool ensureRecording(const dvr::PlannedRecording &p, qint64 now);
    /// A recording in progress whose programme the guide now ends later records on to that end.
    /// False when the database failed (asked again).
    bool followGuideEnd(RecordingRow recording, const dvr::PlannedRecording &p);
    /// Where a recording of an archived channel that starts at `from` (now, for a programme on
    /// air) begins instead: the programme's start less its pre-padding, or the archive's first
    /// second (archiveFrom), whichever is later; never after `from`.
    qint64 archiveRangeStart(const dvr::PlannedRecording &p, qint64 from);
    /// Moves a copy's end later: its row (grown only, atomically against other nodes' moves), and
    /// its recorder when it records here; the node recording it is told at once.
    void extendCopy(CopyRow &copy, qint64 recordStop);
    bool reopenCopy(CopyRow *copy, qint64 recordStop);
    /// Moves the end of a copy recorded here: its row in memory and its recorder's stop.
    void moveActiveCopyEnd(ActiveCopy *active, qint64 recordStop);
    bool startCopy(CopyRow *copy, QString *error);
    /// The episodes of these recordings count as recorded (duplicates, keep-N) from now on.
    void addToHistory(const QList<RecordingRow> &recordings);
    /// The facts and identity of the history episode's airing (channel, start) in the guide.
    bool factsFromGuide(dvr::RecordedEpisode *episode) const;
    void rememberHistoryFacts();
    void onCopyState(qint64 copyId);
    /// A segment written by a copy resumed or taken over here, the first after what was there.
    void onResumedSegment(ActiveCopy *c, const dvr::ArchiveSegment &segment);
    void onCopyFinished(qint64 copyId);
    void onCopyStopped(qint64 copyId);
    /// Its viewers told that a copy ended unfinished: `finished` (and the history) when it holds
    /// something, else `failed` with `reason`.
    void tellViewersCopyEnded(qint64 copyId, bool holds, const QString &reason);
    /// The copy's recorder reached its end: sealed in the store, the recorder stops there; an
    /// end another node moved later meanwhile (not heard here yet), the recorder goes on to it.
    void onCopyEndReached(qint64 copyId, qint64 stopAtMs);
    void startArchives();
    void onArchiveClaimed(const dvr::LeaseJob &job, const QString &previousNode);
    void onArchiveLost(const QString &leaseId, bool handedOver);
    /// The live nodes the archives are shared out among, with their capacities as weights.
    QList<dvr::LeasePeer> archivePeers() const;
    /// Starts the recorder of an archive this node holds; false (and a retry later) when it cannot,
    /// or when the folder's last recorder is still stopping (it starts once that one has).
    bool startArchiveRecorder(ActiveArchive *archive);
    /// The fencing epoch a recorder of `leaseId` writes `directory` with (RecorderSettings::epoch):
    /// the lease's as last claimed, or, when the folder names a higher one (the lease table was made
    /// again while the storage was kept), the lease's raised past it while this node still holds it
    /// with its own. 0 with *error when it cannot be (another node claimed it meanwhile).
    qint64 writerEpoch(dvr::LeaseKeeper &keeper, const QString &leaseId, const QString &directory, QString *error);
    /// Stops a recorder without waiting for it: its threads write what they hold (and complete
    /// the recording when `finish`) on their own; once they have, `then` runs here and the
    /// recorder is deleted. Until then its folder takes no other recorder (whenFolderFree).
    void stopRecorder(dvr::Recorder *recorder, bool finish, std::function<void()> then = {});
    void onRecorderStopped(dvr::Recorder *recorder);
    /// Runs `action` now when no recorder is stopping in `directory`, else once the last one has.
    void whenFolderFree(const QString &directory, std::function<void()> action);
    bool folderBusy(const QString &directory) const;
    /// Writes a copy's row; one the database does not take now is kept and written again every
    /// second (reconcile) until it does: a recording's state is never dropped.
    /// `claim`: this node has just claimed the copy's lease (RecordingStore::updateCopy).
    void saveCopy(const CopyRow &row, bool claim = false);
    /// Finishes a copy's lease; kept and tried again the same way while the database is unreachable.
    void finishCopyLease(qint64 copyId, const QString &state);
    void finishLease(const QString &leaseId, const QString &state);
    void retryUnsaved();
    /// The error is a database connection known lost (logged once already by iptv.core.sql).
    bool databaseTrouble(const QString &error) const;
    /// Tells the other nodes (PostgreSQL) what changed here; a no-op on one node.
    void announce(ClusterChange::Kind kind, qint64 item = 0);
    /// Heartbeat, the live nodes (and the plan's capacity from them), the other nodes' changes.
    void pollCluster();
    /// Sets diver_cluster_leases_held from the lease table.
    void countClusterLeases();
    /// Reads the live nodes; true when they changed (the scheduler's capacity is set from them).
    bool refreshNodes();
    /// Applies what the other nodes changed (rules, history, copies, nodes) and plans again.
    void applyClusterChanges();
    QString sourceFor(const QString &channelId) const;
    void publish(const QString &type, const QJsonObject &body, const QString &owner);
    /// On a recorder's thread: frees space on the disk holding `directory` (retention, for space).
    qint64 recoverSpace(const QString &directory, qint64 needBytes);
    void sweepRetention();

    // What a viewer changes besides rules (viewerchanges.cpp)
    /// Stops the viewer's recording in progress and keeps what is recorded: it ends now, its rule
    /// plans the airing no more, and the copy records on only as long as other viewers need it.
    /// A recording not in progress comes back as it is.
    std::optional<RecordingRow> stopRecording(RecordingRow row, QString *error);
    /// Removes the folder of a copy deleted with its last viewer's recording, unless a new copy
    /// of the same airing (recorded again at once, here or on another node) has taken it up.
    void removeCopyFolder(const CopyRow &copy);
    /// Retention's expiry, per viewer: each expired recording's row (deleteRecording(), its copy
    /// with the last viewer's row), "deleted" published to its viewer. The retention ids of those
    /// whose rows are gone now (expired here, or deleted meanwhile); the others stay as they are.
    QSet<QString> expireRecordings(const dvr::RetentionPlan &plan, const QHash<QString, RecordingRow> &rowOf);
    /// After a viewer's recording's row was deleted (by the viewer, or by retention): its copy,
    /// when that went with it, stopped, announced and its folder removed once free.
    void recordingDeleted(const RecordingRow &row, const RecordingDeletion &deleted);
    /// Copy folders nothing has written to for kOrphanAgeSeconds, listed before the rows are read.
    QStringList orphanCandidates() const;
    /// Removes those of `candidates` no copy row (nor a copy recorded here) names.
    void sweepOrphans(const QStringList &candidates, const QList<CopyRow> &copies);
    /// Gives the scheduler the skipped airings from the store (at start; after a node changed a rule's).
    bool reloadCancelled(QString *error);

    // HTTP (diverroutes.cpp)
    void setupRoutes();
    std::optional<Identity> identify(const http::RouteContext &c, http::Reply *refusal) const;
    /// Whether `given` is the admin token (compared in constant time); never when none is set.
    bool isAdminToken(QByteArrayView given) const;
    /// The 401's detail for a credential that is neither the admin token nor a box ticket.
    QString adminTokenRefusal() const;
    /// Of a playback route: a request with ?playback=<token> is its viewer's for the token's
    /// resource (*grant, which the route checks against what is asked); any other, identify().
    std::optional<Identity> identifyPlayback(const http::RouteContext &c, std::optional<PlaybackGrant> *grant,
                                             http::Reply *refusal) const;
    /// A playback token for recording `r` (its viewer's): valid for its length plus a margin.
    QByteArray recordingToken(const RecordingRow &r) const;
    /// A playback token for `owner`'s catch-up and timeshift of `channel`: from the start of the
    /// catch-up window now, valid for the window's length plus a margin.
    QByteArray archiveToken(const QString &owner, const QString &channel) const;
    /// When an archive token issued now expires.
    qint64 archiveTokenExpiry() const;
    /// `copies`: every copy by id when the caller has them (a list), else the copy is read.
    /// `playable`: its playlist URL carries a playback token for its viewer (a box's answers).
    QJsonObject recordingJson(const RecordingRow &r, const QString &base, bool playable,
                              const QHash<qint64, CopyRow> *copies = nullptr) const;
    QJsonObject plannedJson(const dvr::PlannedRecording &p) const;
    /// For a box, `viewerRules` (its rules' ids): other viewers' airings in it are "another recording".
    QJsonObject skippedJson(const dvr::SkippedAiring &s, const QSet<qint64> *viewerRules = nullptr) const;
    QString channelNameOf(const QString &channelId) const;
    /// A channel as a viewer reads it: number and name ("3 Demo News"), the name, or the id.
    QString channelLabelOf(const QString &channelId) const;
    /// GET /api/status and GET /api/upcoming, for `who` (named: bench_diverapi counts their cost).
    http::Reply statusReply(const Identity &who);
    http::Reply upcomingReply(const Identity &who);
    void acceptEvents(QWebSocket *socket);

    DiverConfig m_config;
    QByteArray m_adminTokenDigest; ///< secretDigest() of m_config.adminToken, made once; empty when none
    iptv::MetricsRegistry m_metrics;
    BoxAuth m_auth;
    PlaybackTokens m_playback;
    RecordingStore m_store;
    dvr::RuleStore m_rules;
    dvr::Scheduler m_scheduler;
    std::unique_ptr<dvr::StoragePool> m_storage;
    dvr::LeaseKeeper m_leases;        ///< copies ("copy:<id>")
    dvr::LeaseKeeper m_archiveLeases; ///< channel archives ("archive:<channel>"), one node each
    bool m_archiveLeasesStarted = false;
    /// The cluster's one planner ("planner", capacity 1): whoever holds it makes the copies.
    dvr::LeaseKeeper m_plannerLeases;
    bool m_plannerStarted = false;
    bool m_isPlanner = false;   ///< isPlanner(): set on claimed("planner"), cleared first on lost
    qint64 m_plannerEpoch = 0;  ///< the epoch this node holds `planner` with (the copy insert's fence)
    Counter *m_plannerClaims = nullptr; ///< diver_planner_claims_total
    QSet<QString> m_archivedChannels; ///< archivedChannels()
    /// m_archivedChannels is the cluster's (read from every node's row at least once; always on
    /// SQLite): until then no archive counts as closed.
    bool m_archivedChannelsKnown = false;
    QHash<std::pair<QString, QString>, iptv::Gauge *> m_clusterLeaseGauges; ///< (node, kind)
    QHash<qint64, CopyRow> m_unsavedCopies;       ///< copy rows to write again (saveCopy)
    QSet<qint64> m_unsavedClaims;                 ///< of them, those written as a claim
    QHash<qint64, qint64> m_unsavedEnds;          ///< copy id -> later end to write again (extendCopy)
    QHash<QString, QString> m_unfinishedLeases;   ///< lease id -> final state to write again
    QSet<qint64> m_offered;          ///< copies put in the lease table since this start
    QHash<QString, qint64> m_leaseEpochs; ///< lease id -> its epoch as this node last claimed (or raised) it
    QString m_leaseError;            ///< why the lease keeper did not start
    std::unique_ptr<ClusterLink> m_cluster; ///< PostgreSQL only
    QList<ClusterNode> m_liveNodes;
    QTimer m_clusterPoll;
    bool m_clusterResync = false;    ///< the change log could not be read: reload everything
    bool m_clusterChangesHeld = false; ///< tests: the change log is not read (holdClusterChanges)
    epg::GuideSync *m_sync = nullptr;
    QFileSystemWatcher *m_guideWatch = nullptr; ///< `[guide] file`: read again when it is replaced
    QTimer m_guideReload;                       ///< lets a write finish before the file is read
    std::shared_ptr<const epg::Guide> m_guide;
    dvr::SchedulePlan m_plan;
    /// m_plan by owner and rule, made with every plan: what a box asks costs its own items.
    dvr::PlanIndex m_planIndex;
    bool m_planned = false;
    QList<std::function<void()>> m_afterPlan; ///< planSoon()'s answers waiting for the next plan
    bool m_planQueued = false;
    Counter *m_plansTotal = nullptr;
    Counter *m_archiveHandOversGivenUp = nullptr; ///< diver_archive_handovers_given_up_total
    Counter *m_planSeconds = nullptr;
    /// startDue()'s place in the plan, which is in record-start order: what comes due is read
    /// from `next` on, not found by walking the plan (~150,000 recordings) every second.
    struct DueKey
    {
        qint64 ruleId = 0;
        QString channelId;
        qint64 start = 0;
        friend bool operator==(const DueKey &, const DueKey &) = default;
        friend size_t qHash(const DueKey &k, size_t seed = 0) { return qHashMulti(seed, k.ruleId, k.channelId, k.start); }
    };
    struct DueIndex
    {
        dvr::PlannedRecordings plan; ///< the plan `next` is a place in (shared with m_plan)
        qsizetype next = 0;          ///< its first recording not yet due
        /// Due recordings whose viewer's recording is there (ensureRecording() true), with the
        /// airing's and the recording's end it follows: looked at again only when a plan moves
        /// an end. Made again with each plan from the last one's.
        QHash<DueKey, std::pair<qint64, qint64>> made;
        QList<dvr::PlannedRecording> waiting; ///< due, not made yet: tried every tick
    };
    DueIndex m_due;
    DueStats m_dueStats;
    qint64 m_lastPlanAt = 0;
    qint64 m_lastSweepAt = 0;
    qint64 m_lastOrphanSweepAt = 0; ///< sweepOrphans(), at the first sweep and then every kOrphanSweepSeconds
    qint64 m_lastFollowAt = 0;
    QTimer m_tick;
    http::Router *m_router = nullptr;
    QHash<qint64, ActiveCopy *> m_copies;        ///< copy id -> its recorder
    QHash<QString, ActiveArchive *> m_archives;  ///< channel id -> its archive recorder
    QHash<qint64, RecordingRow> m_archiveRanges; ///< recordings of archived channels made here, not yet ended
    /// Coverages that can no longer change, by recording, with the range they are of.
    mutable QHash<qint64, std::pair<dvr::TimeRange, dvr::RangeCoverage>> m_settledCoverage;
    QList<StoppingRecorder> m_stoppingRecorders;
    QHash<QString, QList<std::function<void()>>> m_folderWaiters; ///< folder -> what waits for its recorder to stop
    /// Folder -> the thumbnail requests waiting while one makes its thumbnails (one at a time a
    /// folder: the others then find most of theirs made).
    QHash<QString, QList<std::function<void()>>> m_thumbnailQueue;
    int m_thumbnailJobs = 0;                       ///< thumbnail requests admitted, not answered yet
    QHash<QString, int> m_thumbnailJobsByOwner;    ///< the same by viewer ("" for the operators)
    std::atomic_bool m_thumbnailsStop{false};      ///< set at stop(): decodes in progress give up
    QThreadPool m_thumbnailPool;                   ///< after m_thumbnailsStop: its destructor waits for its jobs
    std::function<void(dvr::Recorder &)> m_recorderHook;
    std::function<void(qint64, qint64)> m_copyEndHook;
    QHash<qint64, qint64> m_unsealedEnds; ///< copy id -> the end (ms) its recorder reached, not yet sealed (retried)
    struct EventClient
    {
        QWebSocket *socket;
        Identity identity;
    };
    QList<EventClient> m_eventClients;
    /// Of m_eventClients, the boxes' by owner and the operators': an event goes to its viewer's
    /// and the operators' sockets, not through a walk of thousands.
    QMultiHash<QString, QWebSocket *> m_viewerSockets;
    QList<QWebSocket *> m_operatorSockets;
    QHash<QString, qint64> m_retryAt; ///< "channel@start" of a copy that failed to start -> when to try again
    bool m_stopping = false;
};

} // namespace iptv::diver
