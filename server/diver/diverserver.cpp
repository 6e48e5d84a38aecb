#include "diverserver.h"

#include <QElapsedTimer>

#include <core/httprouter.h>
#include <core/secrets.h>
#include <core/sqldatabase.h>
#include <core/threadpriority.h>
#include <dvr/recorder.h>
#include <dvr/retention.h>
#include <dvr/storage.h>
#include <epg/sync/guidesync.h>

#include <QAbstractHttpServer>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QHttpServer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QMutex>
#include <QRegularExpression>
#include <QSet>
#include <QStorageInfo>
#include <QUrlQuery>
#include <QWebSocket>

#include <algorithm>
#include <utility>
#include <limits>

Q_LOGGING_CATEGORY(lcDiver, "iptv.diver", QtInfoMsg)

namespace iptv::diver {

namespace {
/// A planned recording starts this long before its time (the source's first keyframe).
constexpr qint64 kLeadSeconds = 2;
/// Recording threads run at nice 5: when 100 of them saturate the cores, the HTTP thread (a
/// viewer's playback start) goes first; a recorder's socket and write queue absorb the wait.
constexpr int kRecorderNiceness = 5;
/// The plan is made again at least this often (time moves on; a recording ends).
constexpr qint64 kReplanSeconds = 30;
/// Retention (reading every recording and its copy from the store) runs this often, not every
/// tick; a recorder short of space asks for it at once (recoverSpace).
constexpr qint64 kSweepSeconds = 30;
/// Folders below recordings/ that no copy names (a crash after an expiry's commit, before its
/// folder went) are looked for this often, and removed once nothing has written to them for this long.
constexpr qint64 kOrphanSweepSeconds = 600;
constexpr qint64 kOrphanAgeSeconds = 600;
/// The copies recorded here read their ends from the store this often (another node may have
/// planned a viewer's longer padding).
constexpr qint64 kFollowSeconds = 5;
/// Bytes a second of recording is budgeted at when a storage folder is chosen (5 Mbit/s).
constexpr qint64 kBytesPerSecond = 5'000'000 / 8;
/// A recording that could not start (no storage, no stream URL) is tried again after this.
constexpr qint64 kRetrySeconds = 10;
/// Several nodes: the heartbeat and the read of the others' changes (a fallback for a missed
/// notification) run every third of the lease period, at most this far apart.
constexpr qint64 kClusterPollMaxMs = 5000;

/// The planner's row in the lease table: the node holding it makes the copies from its plan.
const QString kPlannerLease = QStringLiteral("planner");

/// A copy's row in the lease table.
QString leaseIdOf(qint64 copyId)
{
    return QStringLiteral("copy:%1").arg(copyId);
}

/// A channel archive's row in the lease table: the node holding it records the archive.
QString archiveLeaseIdOf(const QString &channelId)
{
    return u"archive:"_qs + channelId;
}

/// The recordings of `of` that `in` does not have (equal in every field): hashed by rule, channel
/// and start, so a plan of 100k recordings is compared in one pass, not one search per recording.
QList<dvr::PlannedRecording> notIn(const dvr::PlannedRecordings &of, const dvr::PlannedRecordings &in)
{
    QMultiHash<std::pair<qint64, qint64>, const dvr::PlannedRecording *> byAiring;
    byAiring.reserve(in.size());
    for (const dvr::PlannedRecording &p : in)
        byAiring.insert({p.ruleId, p.start}, &p);
    QList<dvr::PlannedRecording> out;
    for (const dvr::PlannedRecording &p : of) {
        bool found = false;
        for (auto it = byAiring.constFind({p.ruleId, p.start}); it != byAiring.cend() && it.key() == std::pair{p.ruleId, p.start}; ++it)
            if (**it == p) {
                found = true;
                break;
            }
        if (!found)
            out.append(p);
    }
    return out;
}

QString isoName(qint64 utcSeconds)
{
    return QDateTime::fromSecsSinceEpoch(utcSeconds, Qt::UTC).toString(QStringLiteral("yyyyMMdd'T'HHmmss'Z'"));
}

/// A copy's folder below a storage folder: recordings/<channel folder>/<airing start>-copy<id>.
QString copyFolderName(const QString &channelId, qint64 airingStart, qint64 copyId)
{
    // Joined, not arg()'d in two steps: the second would take a "%2" of the first's for its own.
    return u"recordings/"_qs + dvr::channelFolderName(channelId) + u'/' + isoName(airingStart) + u"-copy"_qs + QString::number(copyId);
}

/// A channel's archive below a storage folder: archive/<channel folder>.
QString archiveFolderName(const QString &channelId)
{
    return u"archive/"_qs + dvr::channelFolderName(channelId);
}

/// The name of a copy's folder (copyFolderName), or of a copy made before copies had folders of
/// their own ("<airing start>" alone). Nothing else below recordings/<channel>/ is a copy's.
const QRegularExpression &copyFolderPattern()
{
    static const QRegularExpression re(QStringLiteral(R"(^\d{8}T\d{6}Z(?:-copy(\d+))?$)"));
    return re;
}

/// A copy's folder as "<channel folder>/<its name>": the same whatever the storage folder is
/// called on a node (mounted elsewhere on another, given as a relative path before).
QString copyFolderKey(const QString &directory)
{
    const QString clean = QDir::cleanPath(directory);
    const qsizetype last = clean.lastIndexOf(u'/');
    const qsizetype before = last > 0 ? clean.lastIndexOf(u'/', last - 1) : -1;
    return clean.mid(before + 1);
}
} // namespace

// What the recorders' threads may ask retention to free, kept current by the server's thread.
/// After a recovery for space that freed nothing on a disk, how long before it is tried there again.
constexpr qint64 kFutileRecoveryMs = 10'000;

struct RetentionSnapshot
{
    QMutex mutex;
    QList<dvr::RetainedArchive> archives;
    QList<dvr::RetainedRecording> recordings;
    /// One recovery at a time (recorders short of space on one disk would otherwise each plan
    /// and delete for the same shortage), and per disk (device) when a recovery that freed
    /// nothing there may be tried again: a disk that stays full is not searched at every segment.
    QMutex recovering;
    QHash<QByteArray, qint64> futileUntilMs; ///< guarded by `recovering`
};
Q_GLOBAL_STATIC(RetentionSnapshot, s_retention)

DiverServer::DiverServer(DiverConfig config, QObject *parent)
    : QObject(parent), m_config(std::move(config)), m_auth(this)
{
    m_thumbnailPool.setMaxThreadCount(m_config.thumbnailThreads);
    m_config.makePathsAbsolute();
    if (!m_config.adminToken.isEmpty())
        m_adminTokenDigest = secretDigest(m_config.adminToken.toUtf8());
    connect(&m_tick, &QTimer::timeout, this, &DiverServer::reconcile);
    connect(&m_clusterPoll, &QTimer::timeout, this, &DiverServer::pollCluster);
    connect(&m_leases, &dvr::LeaseKeeper::claimed, this, &DiverServer::onLeaseClaimed);
    connect(&m_leases, &dvr::LeaseKeeper::lost, this, &DiverServer::onLeaseLost);
    connect(&m_leases, &dvr::LeaseKeeper::failed, this, [this](const QString &error) {
        if (!databaseTrouble(error))
            qCWarning(lcDiver).noquote() << "lease table:" << error << "(the copies held go on until their leases expire)";
    });
    connect(&m_archiveLeases, &dvr::LeaseKeeper::claimed, this, &DiverServer::onArchiveClaimed);
    connect(&m_archiveLeases, &dvr::LeaseKeeper::lost, this, &DiverServer::onArchiveLost);
    // Handed over to balance the archives: the node it goes to claims it now, not at its next look.
    connect(&m_archiveLeases, &dvr::LeaseKeeper::released, this, [this] { announce(ClusterChange::Kind::Leases); });
    m_archiveHandOversGivenUp = m_metrics.counter(
        QStringLiteral("diver_archive_handovers_given_up_total"),
        QStringLiteral("Archives handed over whose recorder did not stop within [server] handover_limit_seconds: fenced off and left "
                       "to expire for another node."));
    // The keeper's warning names the lease and how long it waited.
    connect(&m_archiveLeases, &dvr::LeaseKeeper::handOverAbandoned, this, [this] { m_archiveHandOversGivenUp->increment(); });
    m_metrics.gaugeCallback(QStringLiteral("diver_archive_handovers_waiting"),
                            QStringLiteral("Archives handed over whose recorder is still stopping (their lease held back meanwhile)."),
                            [this] { return double(m_archiveLeases.heldBack().size()); });
    connect(&m_archiveLeases, &dvr::LeaseKeeper::failed, this, [this](const QString &error) {
        if (!databaseTrouble(error))
            qCWarning(lcDiver).noquote() << "lease table (archives):" << error << "(the archives held go on until their leases expire)";
    });
    connect(&m_plannerLeases, &dvr::LeaseKeeper::claimed, this, &DiverServer::onPlannerClaimed);
    connect(&m_plannerLeases, &dvr::LeaseKeeper::lost, this, [this](const QString &, bool) {
        stopPlanning(m_plannerLeases.livenessLost() ? u"it could not confirm its liveness lock"_qs
                                                    : u"its lease expired or another node holds it"_qs,
                     false);
    });
    connect(&m_plannerLeases, &dvr::LeaseKeeper::failed, this, [this](const QString &error) {
        if (!databaseTrouble(error))
            qCWarning(lcDiver).noquote() << "lease table (planner):" << error;
    });
    m_metrics.gaugeCallback(QStringLiteral("diver_planner"),
                            QStringLiteral("1 while this node is the cluster's planner (its plan makes the copies), else 0."),
                            [this] { return m_isPlanner ? 1.0 : 0.0; });
    m_plannerClaims = m_metrics.counter(QStringLiteral("diver_planner_claims_total"),
                                        QStringLiteral("Times this node became the planner (claimed or took back the planner lease)."));
    m_metrics.gaugeCallback(QStringLiteral("diver_recorders_active"), QStringLiteral("Recorders writing now (copies and archives)."),
                            [this] { return double(activeRecorders()); });
    m_metrics.gaugeCallback(QStringLiteral("diver_recorders_stopping"),
                            QStringLiteral("Recorders asked to stop that are still writing their last segment."),
                            [this] { return double(m_stoppingRecorders.size()); });
    m_plansTotal = m_metrics.counter(QStringLiteral("diver_plans_total"),
                                     QStringLiteral("Plans made (full, repaired after a guide change, or as time moves on)."));
    m_planSeconds = m_metrics.counter(QStringLiteral("diver_plan_seconds_total"),
                                      QStringLiteral("Time spent making plans (on the thread that serves requests)."));
    m_metrics.gaugeCallback(QStringLiteral("diver_plan_recordings"), QStringLiteral("Recordings in the plan."),
                            [this] { return double(m_plan.recordings.size()); });
    m_metrics.gaugeCallback(QStringLiteral("diver_plan_conflicts"), QStringLiteral("Airings not recorded for lack of capacity."),
                            [this] { return double(m_plan.conflicts); });
    m_metrics.gaugeCallback(QStringLiteral("diver_leases_held"),
                            QStringLiteral("Copies this node holds the lease of (records, or is about to)."),
                            [this] { return double(m_leases.held().size()); });
    m_metrics.gaugeCallback(QStringLiteral("diver_cluster_nodes"), QStringLiteral("Live nodes the plan is made for (this one included)."),
                            [this] { return double(m_liveNodes.size()); });
    m_metrics.gaugeCallback(QStringLiteral("diver_cluster_capacity"),
                            QStringLiteral("Channel streams the live nodes record at once together: the plan's capacity."), [this] {
                                int total = 0;
                                for (const ClusterNode &n : std::as_const(m_liveNodes))
                                    total += n.capacity;
                                return double(total);
                            });
    m_metrics.gaugeCallback(QStringLiteral("diver_database_connections_lost"),
                            QStringLiteral("Database connections lost and not yet open again (the node is degraded meanwhile)."),
                            [] { return double(lostSqlConnections().size()); });
    m_metrics.gaugeCallback(QStringLiteral("diver_event_clients"), QStringLiteral("WebSocket event clients."),
                            [this] { return double(m_eventClients.size()); });
}

DiverServer::~DiverServer()
{
    stop();
}

qint64 DiverServer::now() const
{
    return QDateTime::currentSecsSinceEpoch();
}

quint16 DiverServer::httpPort() const
{
    return m_router ? m_router->port() : 0;
}

bool DiverServer::start(QString *error)
{
    // Without an admin token, a request from loopback without a credential is the operator's
    // (a developer's machine). Listening beyond loopback so, anyone who reaches the port through
    // something on this host would be: refused, as Docker refuses a TCP socket without TLS.
    if (m_config.adminToken.isEmpty()) {
        if (!m_config.bindAddress.isLoopback()) {
            *error = QStringLiteral("no [server] admin_token while listening on %1: set admin_token (operators' bearer "
                                    "token), or bind=127.0.0.1 for a developer's machine")
                         .arg(m_config.bindAddress.toString());
            return false;
        }
        qCWarning(lcDiver).noquote() << "no [server] admin_token: any request from this machine without a credential is the"
                                     << "operator's (a reverse proxy here must send X-Forwarded-For or Forwarded, or set admin_token)";
    }
    if (!QDir().mkpath(m_config.dataDir)) {
        *error = QStringLiteral("cannot create the data folder %1").arg(m_config.dataDir);
        return false;
    }
    const QString db = m_config.effectiveDatabase();
    if (!m_store.open(db, error) || !m_rules.open(db, error))
        return false;
    // Playback tokens signed here play from any node of the cluster: one secret for all.
    if (!m_config.playbackSecret.isEmpty()) {
        m_playback.setSecret(m_config.playbackSecret);
    } else if (const auto secret = m_store.sharedSecret(QStringLiteral("playback"), error); secret && secret->size() >= 16) {
        m_playback.setSecret(*secret);
    } else {
        *error = QStringLiteral("the playback secret (dvr_secrets) cannot be read: %1").arg(secret ? u"too short"_qs : *error);
        return false;
    }
    m_storage = std::make_unique<dvr::StoragePool>(m_config.effectiveStoragePaths(), m_config.minFreeBytes);
    for (const QString &path : m_storage->paths()) {
        if (!QDir().mkpath(path)) {
            *error = QStringLiteral("cannot create the storage folder %1").arg(path);
            return false;
        }
    }

    // Several nodes: listening before the rules are read, so that nothing changed in between is missed.
    QStringList ownArchives(m_config.archivedChannels.cbegin(), m_config.archivedChannels.cend());
    ownArchives.sort();
    m_liveNodes = {ClusterNode{m_config.nodeId, m_config.capacity, 0}};
    m_archivedChannels = m_config.archivedChannels;
    m_archivedChannelsKnown = true;
    if (PostgresParams pg; parsePostgresUri(db, &pg)) {
        m_archivedChannelsKnown = false; // until the nodes' rows are read (refreshNodes)
        m_cluster = std::make_unique<ClusterLink>();
        if (!m_cluster->open(db, m_config.nodeId, m_config.capacity, ownArchives, error)) {
            m_cluster.reset();
            return false;
        }
        connect(m_cluster.get(), &ClusterLink::changed, this, &DiverServer::applyClusterChanges);
        m_clusterPoll.setInterval(int(qBound<qint64>(200, qint64(m_config.leaseSeconds) * 1000 / 3, kClusterPollMaxMs)));
        refreshNodes();
        m_clusterPoll.start();
    }
    dvr::CapacityOptions capacity;
    capacity.nodes.clear(); // not the default node
    for (const ClusterNode &n : std::as_const(m_liveNodes))
        capacity.nodes.append(dvr::RecorderNode{n.name, n.capacity});
    capacity.archivedChannels = m_archivedChannels;
    capacity.channelStreamLimit = m_config.channelStreams;
    m_scheduler.setCapacity(capacity);
    const auto rules = m_rules.rules(error);
    if (!rules)
        return false;
    m_scheduler.setRules(*rules);
    const auto history = m_rules.history(error);
    if (!history)
        return false;
    m_scheduler.setHistory(*history);
    if (!reloadCancelled(error))
        return false;

    if (!m_config.ticketKeyFiles.isEmpty() && !m_auth.loadKeyFiles(m_config.ticketKeyFiles, error))
        return false;
    if (m_config.controlServer.isValid())
        m_auth.fetchFrom(m_config.controlServer);

    if (m_config.realtimeHttp) {
        // This thread answers HTTP: a playback start goes before the recorders' threads (and
        // anything else normal on the node) instead of waiting for a core behind them.
        QString why;
        if (iptv::setRealtimeThread(1, &why))
            qCInfo(lcDiver) << "HTTP thread: real-time (SCHED_RR 1)";
        else
            qCWarning(lcDiver).noquote() << "server/http_priority=realtime:" << why + u"; the HTTP thread runs normal"_qs;
    }
    // Whether playback starts wait for a core (then http_priority=realtime is the cure).
    m_metrics.gaugeCallback(QStringLiteral("diver_http_thread_wait_seconds"),
                            QStringLiteral("Time the HTTP thread has waited for a core since the start (runnable, not running)."),
                            [tid = iptv::currentThreadId()] {
                                const auto t = iptv::threadCpuTimes(tid);
                                return t ? t->waitingSeconds : 0.0;
                            });
    m_metrics.gaugeCallback(QStringLiteral("diver_thumbnail_requests"),
                            QStringLiteral("Thumbnail track requests admitted and not answered yet (waiting or being made)."),
                            [this] { return double(m_thumbnailJobs); });
    m_router = new http::Router(&m_metrics, QStringLiteral("diver"), this);
    http::ConnectionLimits limits;
    limits.idleTimeoutMs = m_config.idleTimeoutSeconds * 1000;
    limits.maxConnections = m_config.maxConnections;
    limits.maxConnectionsPerPeer = m_config.maxConnectionsPerAddress;
    limits.maxFileStreams = m_config.maxDownloads;
    limits.maxFileStreamsPerPeer = m_config.maxDownloadsPerAddress;
    m_router->setConnectionLimits(limits);
    setupRoutes();
    if (!m_router->listen(m_config.bindAddress, m_config.port, error))
        return false;
    m_router->acceptWebSocketsAt(QStringLiteral("/events"),
                                 QStringLiteral("/events speaks WebSocket: recording events (?ticket=<the box's ticket>)"));
    QAbstractHttpServer *http = m_router->httpServer();
    connect(http, &QAbstractHttpServer::newWebSocketConnection, this, [this, http] {
        while (http->hasPendingWebSocketConnections())
            acceptEvents(http->nextPendingWebSocketConnection().release());
    });

    m_sync = new epg::GuideSync(m_config.guideFile.isEmpty() ? m_config.guideCacheFile() : QString(), this);
    connect(m_sync, &epg::GuideSync::guideChanged, this, &DiverServer::onGuide);
    if (!m_config.guideFile.isEmpty()) {
        QString guideError;
        auto guide = epg::Guide::open(m_config.guideFile, &guideError, m_config.guideLimits);
        if (!guide) {
            *error = guideError;
            return false;
        }
        onGuide(nullptr, guide);
        if (!m_leaseError.isEmpty()) {
            *error = m_leaseError;
            return false;
        }
        // The folder is watched too: a guide is replaced by renaming a new file over it, which
        // ends a watch on the file itself.
        m_guideWatch = new QFileSystemWatcher(this);
        m_guideWatch->addPath(m_config.guideFile);
        m_guideWatch->addPath(QFileInfo(m_config.guideFile).absolutePath());
        m_guideReload.setSingleShot(true);
        m_guideReload.setInterval(200);
        connect(&m_guideReload, &QTimer::timeout, this, &DiverServer::reloadGuideFile);
        connect(m_guideWatch, &QFileSystemWatcher::fileChanged, &m_guideReload, qOverload<>(&QTimer::start));
        connect(m_guideWatch, &QFileSystemWatcher::directoryChanged, &m_guideReload, qOverload<>(&QTimer::start));
    } else {
        m_sync->setServer(m_config.guideServer);
        m_sync->setLimits(m_config.guideLimits);
        m_sync->loadCache();
        m_sync->setRefreshInterval(m_config.guideRefreshSeconds * 1000);
    }
    m_tick.start(1000);
    // The URI may hold a password.
    PostgresParams pg;
    const QString dbName = parsePostgresUri(db, &pg) ? QStringLiteral("postgresql://%1:%2/%3").arg(pg.host).arg(pg.port).arg(pg.database)
                                                     : db;
    qCInfo(lcDiver).noquote() << "diver up on port" << httpPort() << "node" << m_config.nodeId << "capacity" << m_config.capacity
                              << "lease" << m_config.leaseSeconds << "s storage" << m_storage->paths().join(u", ") << "database"
                              << dbName;
    return true;
}

void DiverServer::stop()
{
    if (m_stopping)
        return;
    m_stopping = true;
    m_tick.stop();
    m_clusterPoll.stop();
    // Nothing is planned here any more: another node plans from now on, at once (told).
    m_isPlanner = false;
    if (m_plannerStarted) {
        m_plannerLeases.release();
        m_plannerStarted = false;
        announce(ClusterChange::Kind::Leases);
    }
    // Thumbnails: those waiting are dropped, those at work stop at their next segment.
    m_thumbnailsStop = true;
    m_thumbnailPool.clear();
    if (!m_thumbnailPool.waitForDone(30000))
        qCWarning(lcDiver) << "thumbnails still being made after 30 s of stopping";
    // Every recorder writes its segment in progress; copies stay "recording" in the store, so
    // the next start resumes those still due. All are asked first, then waited for: their last
    // writes and syncs run side by side, not one recorder after the other.
    for (ActiveCopy *c : std::as_const(m_copies)) {
        c->recorder->disconnect(this);
        c->recorder->requestStop(false);
    }
    for (ActiveArchive *a : std::as_const(m_archives)) {
        if (a->recorder) {
            a->recorder->disconnect(this);
            a->recorder->requestStop(false);
        }
    }
    for (ActiveCopy *c : std::as_const(m_copies)) {
        c->recorder->stop(false);
        delete c->recorder;
        delete c;
    }
    m_copies.clear();
    // Those stopping already (asked before): waited for too, then what was to follow their stop
    // (a deleted copy's folder removed, a lease finished); nothing starts after them now.
    for (const StoppingRecorder &r : std::exchange(m_stoppingRecorders, {})) {
        r.recorder->disconnect(this);
        r.recorder->stop(r.finish);
        delete r.recorder;
        if (r.then)
            r.then();
    }
    for (const auto &actions : std::exchange(m_folderWaiters, {})) {
        for (const auto &action : actions)
            action();
    }
    // Freed, not left to expire: another node (or this one, started again) goes on at once.
    m_leases.release();
    for (ActiveArchive *a : std::as_const(m_archives)) {
        if (a->recorder) {
            a->recorder->stop(false);
            delete a->recorder;
        }
        delete a;
    }
    m_archives.clear();
    m_archiveLeases.release(); // another node records them on at once
    // Once its leases are free: the others plan without this node's capacity, and claim what it
    // held, at once (told, not at their next look).
    if (m_cluster)
        m_cluster->leave();
    for (const EventClient &c : std::as_const(m_eventClients)) {
        c.socket->disconnect(this);
        c.socket->close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("diver stops"));
        c.socket->deleteLater();
    }
    m_eventClients.clear();
    m_viewerSockets.clear();
    m_operatorSockets.clear();
    if (m_router)
        m_router->close();
    m_store.close();
    m_rules.close();
}

void DiverServer::resumeCopies()
{
    // Once the guide is there (it names the channels' streams): copies that were recording when
    // a node stopped or was killed are in the lease table already; those of a database written
    // before there was one are put there. Then the keeper claims: first what this node held
    // (restarted under its name), then free and expired copies up to its capacity. A claimed copy
    // goes on where it stands, the gap marked in the same recording.
    QString why;
    const auto open = m_store.copies(&why, CopyState::Recording);
    if (!open) {
        m_leaseError = QStringLiteral("cannot read the recordings in progress: %1").arg(why);
        qCCritical(lcDiver).noquote() << m_leaseError;
        return;
    }
    dvr::LeaseKeeper::Settings settings = leaseSettings();
    settings.capacity = m_config.capacity;
    settings.scope = QStringLiteral("copy:");
    if (!m_leases.start(settings, &why)) {
        m_leaseError = QStringLiteral("the lease table: %1").arg(why);
        qCCritical(lcDiver).noquote() << m_leaseError << "(no copy is recorded on this node)";
        return;
    }
    for (const CopyRow &copy : *open)
        offerCopy(copy);
}

void DiverServer::offerCopy(const CopyRow &copy)
{
    if (m_offered.contains(copy.id) || copy.state != CopyState::Recording)
        return;
    const QJsonObject spec{{u"copy"_qs, copy.id}, {u"channel"_qs, copy.channelId}, {u"start"_qs, copy.airingStart}};
    QString error;
    if (!m_leases.store().add(leaseIdOf(copy.id), QJsonDocument(spec).toJson(QJsonDocument::Compact), &error)) {
        qCWarning(lcDiver).noquote() << "copy" << copy.id << "of" << copy.channelId << "is not offered to the nodes:" << error;
        return;
    }
    m_offered.insert(copy.id);
    m_leases.claimNow();
}

void DiverServer::onLeaseClaimed(const dvr::LeaseJob &job, const QString &previousNode)
{
    if (job.epoch > m_leaseEpochs.value(job.id))
        m_leaseEpochs.insert(job.id, job.epoch);
    const qint64 copyId = QJsonDocument::fromJson(job.spec).object().value(u"copy"_qs).toInteger();
    QString error;
    auto release = [&](const QString &state, const QString &why) {
        QString e;
        finishLease(job.id, state);
        if (!why.isEmpty())
            qCWarning(lcDiver).noquote() << "copy" << copyId << ":" << why;
    };
    std::optional<CopyRow> copy = copyId > 0 ? m_store.copy(copyId, &error) : std::nullopt;
    if (!copy) {
        release(u"failed"_qs, error.isEmpty() ? QStringLiteral("lease %1 names no stored copy").arg(job.id) : error);
        return;
    }
    if (m_copies.contains(copyId))
        return;
    if (copy->state != CopyState::Recording) {
        release(copy->state == CopyState::Finished ? u"done"_qs : u"failed"_qs, {}); // ended before its lease was
        return;
    }
    if (copy->recordStop <= now()) {
        // Ended while no node recorded it: finished with what it holds, failed when that is
        // nothing (it never started: the reason says why).
        const bool holds = copy->segments > 0;
        copy->state = holds ? CopyState::Finished : CopyState::Failed;
        if (holds || copy->reason.isEmpty())
            copy->reason = QStringLiteral("no node was recording when it was due to end");
        saveCopy(*copy);
        release(holds ? u"done"_qs : u"failed"_qs, copy->reason);
        tellViewersCopyEnded(copyId, holds, copy->reason);
        return;
    }
    if (folderBusy(copy->directory)) {
        // This node's last recorder of it (its lease was lost a moment ago) still writes there.
        whenFolderFree(copy->directory, [this, job, previousNode] {
            if (!m_stopping && m_leases.held().contains(job.id))
                onLeaseClaimed(job, previousNode);
        });
        return;
    }
    const QString from = copy->node;
    copy->node = m_config.nodeId;
    if (!startCopy(&*copy, &error)) {
        // No stream URL for a moment, storage not mounted yet: tried again every kRetrySeconds
        // while the lease is held, until the copy's end; the viewers hear it once, as a gap.
        const QString reason = QStringLiteral("does not start: %1 (tried again every %2 s)").arg(error).arg(kRetrySeconds);
        const bool first = copy->reason != reason;
        copy->reason = reason;
        saveCopy(*copy, true);
        if (first) {
            qCWarning(lcDiver).noquote() << "copy" << copyId << "of" << copy->channelId << reason;
            QString e;
            if (const auto viewers = m_store.recordingsOfCopy(copyId, &e)) {
                for (const RecordingRow &r : *viewers)
                    publish(QStringLiteral("gap"), QJsonObject{{u"id"_qs, r.id}, {u"reason"_qs, reason}}, r.owner);
            }
        }
        QTimer::singleShot(kRetrySeconds * 1000, this, [this, job, previousNode, copyId] {
            if (!m_stopping && !m_copies.contains(copyId) && m_leases.held().contains(job.id))
                onLeaseClaimed(job, previousNode);
        });
        return;
    }
    saveCopy(*copy, true);
    if (ActiveCopy *active = m_copies.value(copyId)) {
        active->takenOver = !previousNode.isEmpty() && previousNode != m_config.nodeId;
        active->holderGone = active->takenOver && job.holderGone;
        active->previousNode = active->takenOver ? previousNode : from != m_config.nodeId ? from : QString();
    }
    if (!previousNode.isEmpty() && previousNode != m_config.nodeId)
        qCWarning(lcDiver).noquote() << "copy" << copyId << "of" << copy->channelId << "taken over from node" << previousNode
                                     << (job.holderGone ? "(its process or database session ended)" : "(its lease expired)")
                                     << "; writing on in" << copy->directory;
    else if (!from.isEmpty())
        qCInfo(lcDiver).noquote() << "copy" << copyId << "of" << copy->channelId << "resumes in" << copy->directory;
    else
        qCInfo(lcDiver).noquote() << "copy" << copyId << "of" << copy->channelId << "records into" << copy->directory;
}

void DiverServer::followCopyEnds()
{
    QString error;
    const auto open = m_store.copies(&error, CopyState::Recording);
    if (!open) {
        qCWarning(lcDiver).noquote() << "cannot read the copies in progress:" << error;
        return;
    }
    QSet<qint64> still;
    for (const CopyRow &row : *open) {
        still.insert(row.id);
        ActiveCopy *c = m_copies.value(row.id);
        // Later (a viewer's longer padding), or earlier (its viewers stopped it, on any node; a
        // row this node could not write yet is its own older end, not a stop).
        if (c && (row.recordStop > c->row.recordStop || (row.recordStop < c->row.recordStop && !m_unsavedEnds.contains(row.id)))) {
            qCInfo(lcDiver).noquote() << "copy" << row.id << "of" << row.channelId << "now ends at" << row.recordStop;
            moveActiveCopyEnd(c, row.recordStop);
        }
    }
    // A copy recorded here whose row is gone was deleted on another node (its last viewer's
    // recording): nobody wants what this node writes.
    for (const qint64 id : m_copies.keys()) {
        if (still.contains(id))
            continue;
        if (const auto row = m_store.copy(id, &error); row || !error.isEmpty())
            continue; // there, in another state (this node's own finish is on its way), or unreadable
        ActiveCopy *c = m_copies.take(id);
        qCInfo(lcDiver).noquote() << "copy" << id << "of" << c->row.channelId << "was deleted on another node: its recorder stops";
        // What it wrote after the other node removed the folder goes too, once it has stopped.
        stopRecorder(c->recorder, false, [this, id, row = c->row] {
            finishCopyLease(id, u"failed"_qs);
            removeCopyFolder(row);
        });
        delete c;
    }
}

void DiverServer::onLeaseLost(const QString &leaseId)
{
    // Another node holds it now (this node did not renew in time): stop writing, finish nothing.
    const qint64 copyId = leaseId.startsWith(u"copy:") ? leaseId.mid(5).toLongLong() : 0;
    // What this node could not write of it yet is the new holder's business now; a claim again
    // comes with a new epoch.
    m_leaseEpochs.remove(leaseId);
    m_unsavedCopies.remove(copyId);
    m_unsavedClaims.remove(copyId);
    ActiveCopy *c = m_copies.take(copyId);
    if (!c)
        return;
    qCWarning(lcDiver).noquote() << "copy" << copyId << "of" << c->row.channelId
                                 << (m_leases.livenessLost()
                                         ? "is no longer this node's (it could not confirm its liveness lock): its recorder stops"
                                         : "was taken over by another node (this node's lease expired): its recorder stops");
    stopRecorder(c->recorder, false);
    delete c;
}

void DiverServer::reloadGuideFile()
{
    if (!m_guideWatch->files().contains(m_config.guideFile) && QFile::exists(m_config.guideFile))
        m_guideWatch->addPath(m_config.guideFile);
    QString error;
    auto guide = epg::Guide::open(m_config.guideFile, &error, m_config.guideLimits);
    if (!guide) {
        qCWarning(lcDiver).noquote() << "the guide file changed but does not read; the last guide stays:" << error;
        return;
    }
    if (m_guide && guide->info().checksum == m_guide->info().checksum)
        return;
    onGuide(m_guide, std::move(guide));
}

void DiverServer::onGuide(std::shared_ptr<const epg::Guide> previous, std::shared_ptr<const epg::Guide> current)
{
    Q_UNUSED(previous)
    const bool first = !m_guide;
    m_guide = std::move(current);
    if (first)
        resumeCopies();
    qCInfo(lcDiver).noquote() << "guide" << m_guide->info().checksum.left(12) << ":" << m_guide->channelCount() << "channels,"
                              << m_guide->airingCount() << "airings";
    rememberHistoryFacts();
    replan(true);
    startArchives();
    if (first)
        startPlanner();
    Q_EMIT guideLoaded();
}

dvr::LeaseKeeper::Settings DiverServer::leaseSettings() const
{
    dvr::LeaseKeeper::Settings settings;
    settings.location = m_config.effectiveDatabase();
    settings.node = m_config.nodeId;
    settings.leaseMs = qint64(m_config.leaseSeconds) * 1000;
    settings.livenessGraceMs = m_config.livenessGraceMs;
    // Read only by a keeper that hands leases over (archives); copies and the planner never do.
    settings.handOverLimitMs = qint64(m_config.handOverLimitSeconds) * 1000;
    return settings;
}

void DiverServer::startPlanner()
{
    // Every node bids once it could plan (the rules were read at start, the guide is here); one
    // holds the lease (FOR UPDATE SKIP LOCKED), the others take it when it dies or stops.
    dvr::LeaseKeeper::Settings settings = leaseSettings();
    settings.capacity = 1;
    settings.scope = kPlannerLease;
    settings.ids = {kPlannerLease};
    QString error;
    if (!m_plannerLeases.start(settings, &error)) {
        qCCritical(lcDiver).noquote() << "the planner's lease:" << error << "(this node makes no copies)";
        return;
    }
    if (!m_plannerLeases.store().add(kPlannerLease, QByteArrayLiteral("{}"), &error)) {
        qCCritical(lcDiver).noquote() << "the planner's lease row:" << error << "(this node makes no copies)";
        m_plannerLeases.stop();
        return;
    }
    m_plannerStarted = true;
}

void DiverServer::onPlannerClaimed(const dvr::LeaseJob &job, const QString &previousNode)
{
    if (m_stopping)
        return;
    m_plannerEpoch = job.epoch;
    m_isPlanner = true;
    m_plannerClaims->increment();
    qCInfo(lcDiver).noquote() << "node" << m_config.nodeId << "is the planner (epoch" << job.epoch
                              << (previousNode.isEmpty() || previousNode == m_config.nodeId ? u")"_qs
                                                                                           : u", after "_qs + previousNode + u')');
    if (m_cluster) {
        // The plan this node kept was repaired in the order it heard the changes, which the
        // last planner's need not have been: a full plan from what the database holds now, as
        // a fresh start would make (docs/dvr-scheduler.md, "The planner lease").
        QString error;
        if (const auto rules = m_rules.rules(&error))
            m_scheduler.setRules(*rules);
        else
            qCWarning(lcDiver).noquote() << "the new planner cannot read the rules:" << error << "(it plans with those it has)";
        if (const auto history = m_rules.history(&error))
            m_scheduler.setHistory(*history);
        else
            qCWarning(lcDiver).noquote() << "the new planner cannot read the history:" << error << "(it plans with what it has)";
        if (!reloadCancelled(&error))
            qCWarning(lcDiver).noquote() << "the new planner cannot read the skipped airings:" << error;
        m_planned = false;
        replan(false);
    }
    startDue(now());
}

void DiverServer::stopPlanning(const QString &why, bool giveBack)
{
    const bool was = std::exchange(m_isPlanner, false);
    if (giveBack)
        m_plannerLeases.giveBack(kPlannerLease);
    if (was)
        qCWarning(lcDiver).noquote() << "node" << m_config.nodeId << "is no longer the planner (epoch" << m_plannerEpoch << "):" << why
                                     << "; it makes no more copies";
}

void DiverServer::replan(bool guideChanged)
{
    if (!m_guide)
        return;
    const qint64 t = now();
    dvr::ScheduleChanges changes;
    const dvr::PlannedRecordings before = m_plan.recordings;
    QElapsedTimer planning;
    planning.start();
    if (!m_planned) {
        m_plan = m_scheduler.evaluate(m_guide, t);
        m_planned = true;
    } else if (guideChanged) {
        m_plan = m_scheduler.update(m_guide, t, &changes);
    } else {
        m_plan = m_scheduler.plan(t);
    }
    m_planIndex.index(m_plan);
    m_plansTotal->increment();
    m_planSeconds->increment(double(planning.nsecsElapsed()) / 1e9);
    m_lastPlanAt = t;
    // "scheduled" for what is new in the plan, "unscheduled" for what left it (nothing to compare
    // when the plan kept the last one's list: 93,000 recordings at the benchmark's size).
    // Only the planner tells the boxes: another node's plan may place an airing elsewhere.
    if (!m_isPlanner || m_plan.recordings.isSharedWith(before)) {
        Q_EMIT planChanged();
        return;
    }
    for (const auto &p : notIn(m_plan.recordings, before))
        publish(QStringLiteral("scheduled"), plannedJson(p), p.owner);
    for (const auto &p : notIn(before, m_plan.recordings)) {
        if (p.recordStart > t)
            publish(QStringLiteral("unscheduled"), plannedJson(p), p.owner);
    }
    Q_EMIT planChanged();
}

void DiverServer::planSoon(std::function<void()> then)
{
    m_afterPlan.append(std::move(then));
    if (std::exchange(m_planQueued, true))
        return;
    // Queued behind what the event loop holds now: the requests read meanwhile join this plan.
    QTimer::singleShot(0, this, [this] {
        m_planQueued = false;
        const QList<std::function<void()>> waiting = std::exchange(m_afterPlan, {});
        if (!m_stopping) { // stopping: nothing is started any more; the answers say what was planned
            replan(false);
            startDue(now());
        }
        for (const auto &answer : waiting)
            answer();
    });
}

void DiverServer::reconcile()
{
    if (m_stopping)
        return;
    if (!m_unsavedCopies.isEmpty() || !m_unsavedEnds.isEmpty() || !m_unfinishedLeases.isEmpty() || !m_unsealedEnds.isEmpty())
        retryUnsaved();
    if (!m_guide)
        return;
    const qint64 t = now();
    if (t - m_lastPlanAt >= kReplanSeconds)
        replan(false);
    startDue(t);
    finishArchiveRanges(t);
    if (t - m_lastFollowAt >= kFollowSeconds && !m_copies.isEmpty()) {
        m_lastFollowAt = t;
        followCopyEnds();
    }
    if (t - m_lastSweepAt >= kSweepSeconds) {
        m_lastSweepAt = t;
        sweepRetention();
    }
    for (ActiveArchive *a : std::as_const(m_archives)) {
        if (a->held && !a->recorder && a->retryAt <= t)
            startArchiveRecorder(a);
    }
}

void DiverServer::finishArchiveRanges(qint64 t)
{
    // A range of an archive has no recorder to say it is done: it is once the archive holds its
    // end (the archive's times are when its media arrived, so a segment or so after the range's
    // end), or has stopped short of it (partial).
    const qint64 nowMs = t * 1000;
    for (auto it = m_archiveRanges.begin(); it != m_archiveRanges.end();) {
        if (it->recordStop > t) {
            ++it;
            continue;
        }
        const std::optional<dvr::RangeCoverage> coverage = rangeCoverage(*it, nowMs);
        // Not served here: done when the archive's segment holding its end would be written.
        const bool done = coverage ? coverage->ended() : it->recordStop + qint64(m_config.segmentSeconds) + 1 <= t;
        if (!done) {
            ++it;
            continue;
        }
        QString error;
        const auto row = m_store.recording(it.key(), &error);
        if (row && !row->deleted)
            publish(QStringLiteral("finished"), recordingJson(*row, {}, false), row->owner);
        it = m_archiveRanges.erase(it);
    }
}

qint64 DiverServer::timeshiftWindowMs() const
{
    return qMax<qint64>(kTimeshiftGuardSeconds, qint64(m_config.archiveHours) * 3600 - kTimeshiftGuardSeconds) * 1000;
}

qint64 DiverServer::archiveStaleMs() const
{
    // [archive] stale_seconds, and never less than a segment can take (cut at the first
    // keyframe after segmentSeconds, up to three times it without one) and a second more.
    return qMax<qint64>(qint64(m_config.archiveStaleSeconds) * 1000, qint64(m_config.segmentSeconds * 3000) + 1000);
}

QString DiverServer::archiveFolderOf(const QString &channelId) const
{
    if (const ActiveArchive *a = m_archives.value(channelId))
        return a->directory;
    const QString relative = archiveFolderName(channelId);
    const QString root = m_storage ? m_storage->locate(relative) : QString();
    return root.isEmpty() ? QString() : QDir(root).filePath(relative);
}

QList<dvr::RetainedArchive> DiverServer::closedArchives() const
{
    // An archive no node archives any more: nothing writes it, and only recordings on the
    // channel (ranges of it, whose chunks they keep) still need it. Not while the cluster's set
    // is unknown, a recorder still stops in it, or anything was written into it lately (a node
    // that has just started archiving it again, before this one has heard).
    QList<dvr::RetainedArchive> out;
    if (!m_archivedChannelsKnown || !m_storage)
        return out;
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    for (const QString &path : m_storage->paths()) {
        const QDir root(QDir(path).filePath(u"archive"_qs));
        for (const QString &folder : root.entryList(QDir::Dirs | QDir::NoDotAndDotDot | QDir::NoSymLinks)) {
            const std::optional<QString> id = dvr::channelIdOfFolder(folder);
            if (!id)
                continue; // no channel's archive (archiveFolderName): not retention's
            const QString &channelId = *id;
            if (m_archivedChannels.contains(channelId) || m_archives.contains(channelId))
                continue;
            const QString directory = root.filePath(folder);
            if (folderBusy(directory))
                continue;
            // Only a folder of chunks: one holding other folders (the archive of a channel id
            // with a '/', written a level deeper before folders were encoded) is left alone,
            // not taken for an empty archive and removed with what is inside.
            const QStringList inside = QDir(directory).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
            if (std::any_of(inside.cbegin(), inside.cend(), [](const QString &n) { return !dvr::ArchiveWriter::chunkStartMs(n); })) {
                qCDebug(lcDiver).noquote() << "retention: the folder" << directory << "holds more than an archive's chunks: left alone";
                continue;
            }
            dvr::ArchiveReader newest; // the last chunk only
            QString error;
            if (!newest.load(directory, nowMs, nowMs, &error)) {
                qCWarning(lcDiver).noquote() << "the archive of" << channelId << "(archived no more) cannot be read:" << error;
                continue;
            }
            const QFileInfo journal(QDir(directory).filePath(u".journal.log"_qs));
            const qint64 lastWriteMs = std::max(newest.endMs(), journal.exists() ? journal.lastModified().toMSecsSinceEpoch() : 0);
            if (lastWriteMs > nowMs - archiveStaleMs())
                continue;
            dvr::RetainedArchive closed{directory, qint64(m_config.archiveHours) * 3600 * 1000};
            closed.closed = true;
            out.append(closed);
        }
    }
    return out;
}

std::optional<dvr::RangeCoverage> DiverServer::rangeCoverage(const RecordingRow &r, qint64 nowMs) const
{
    if (r.copyId != 0)
        return std::nullopt;
    const QString directory = archiveFolderOf(r.channelId);
    if (directory.isEmpty())
        return std::nullopt;
    const dvr::TimeRange range{r.recordStart * 1000, r.recordStop * 1000};
    if (const auto it = m_settledCoverage.constFind(r.id); it != m_settledCoverage.cend() && it->first == range)
        return it->second;
    dvr::ArchiveReader reader;
    QString error;
    if (!reader.load(directory, range.fromMs, range.toMs, &error)) {
        qCWarning(lcDiver).noquote() << "recording" << r.id << ": the archive of" << r.channelId << "cannot be read:" << error;
        return std::nullopt;
    }
    const dvr::RangeCoverage coverage = dvr::archiveRangeCoverage(reader, range, nowMs, archiveStaleMs());
    if (reader.finished() || reader.endMs() >= range.toMs)
        m_settledCoverage.insert(r.id, {range, coverage});
    return coverage;
}

void DiverServer::startDue(qint64 t)
{
    // The plan is in record-start order: what is due is a prefix of it, read from m_due.next on
    // as it comes due. A new plan is read from its start once (its recordings in progress start
    // it: their record start is the plan's time), each one made under the last plan for the
    // same end passing without a lookup; then each tick reads what has come due since, and what
    // is still waiting to be made.
    // The one gate of every caller (planSoon, reconcile, pollCluster after a node change,
    // applyClusterChanges, the airing skip route, the planner's claim): a node that is not the
    // planner makes no copy, however its own plan differs.
    if (!m_isPlanner)
        return;
    ++m_dueStats.ticks;
    QHash<DueKey, std::pair<qint64, qint64>> before;
    if (!m_due.plan.isSharedWith(m_plan.recordings)) {
        ++m_dueStats.plans;
        m_due.plan = m_plan.recordings;
        m_due.next = 0;
        m_due.waiting.clear(); // due under the new plan still: read again with its prefix
        before = std::exchange(m_due.made, {});
    }
    auto examine = [&](const dvr::PlannedRecording &p) {
        ++m_dueStats.examined;
        if (p.recordStop <= t)
            return; // ended before it was made (the database away all along): nothing to start
        DueKey key{p.ruleId, p.channelId, p.start};
        const std::pair<qint64, qint64> ends{p.stop, p.recordStop};
        if (const auto it = before.constFind(key); it != before.cend() && *it == ends) {
            m_due.made.insert(std::move(key), ends);
            return;
        }
        ++m_dueStats.lookups;
        if (ensureRecording(p, t))
            m_due.made.insert(std::move(key), ends);
        else
            m_due.waiting.append(p);
    };
    if (!m_due.waiting.isEmpty()) {
        const QList<dvr::PlannedRecording> waiting = std::exchange(m_due.waiting, {});
        for (const dvr::PlannedRecording &p : waiting)
            examine(p);
    }
    const dvr::PlannedRecordings &plan = m_due.plan;
    for (; m_due.next < plan.size() && plan.at(m_due.next).recordStart <= t + kLeadSeconds; ++m_due.next)
        examine(plan.at(m_due.next));
}

QString DiverServer::sourceFor(const QString &channelId) const
{
    if (!m_config.sourceTemplate.isEmpty())
        return QString(m_config.sourceTemplate).replace(QStringLiteral("{id}"), channelId);
    const int index = m_guide ? m_guide->channelIndex(channelId) : -1;
    return index >= 0 ? m_guide->channelStreamUrl(index) : QString();
}

bool DiverServer::ensureRecording(const dvr::PlannedRecording &p, qint64 t)
{
    if (!m_isPlanner)
        return false; // gave the role up during this tick (a fenced insert)
    QString error;
    const auto existing = m_store.recordingOf(p.owner, p.ruleId, p.channelId, p.start, &error);
    if (existing) // made already, maybe by another of the owner's rules (or deleted by the viewer: not made again)
        return followGuideEnd(*existing, p);
    if (!error.isEmpty())
        return false;
    // A recording deleted while it records has its airing skipped before its row goes: one
    // deleted on another node that this node has not heard of yet is not made again here.
    // (Asked again while it is planned: the plan leaves it once this node hears of the skip.)
    const std::optional<bool> skipped = m_rules.isCancelled(p.ruleId, p.channelId, p.start, &error);
    if (!skipped || *skipped)
        return false;
    RecordingRow r;
    r.owner = p.owner;
    r.ruleId = p.ruleId;
    r.channelId = p.channelId;
    r.title = p.title;
    r.airingStart = p.start;
    r.airingStop = p.stop;
    r.recordStart = std::max(p.recordStart, t);
    r.recordStop = p.recordStop;
    r.created = t;
    if (m_config.recordingDays > 0) // the operator's default: that many days after the airing's end
        r.keepUntil = p.recordStop + qint64(m_config.recordingDays) * 86400;
    if (m_archivedChannels.contains(p.channelId))
        r.recordStart = archiveRangeStart(p, r.recordStart);
    if (!m_archivedChannels.contains(p.channelId)) {
        // One stored copy per airing: a second viewer's recording joins the first's copy, which
        // grows to the widest padding asked for.
        auto copy = m_store.copyOf(p.channelId, p.start, &error);
        if (!error.isEmpty()) {
            qCWarning(lcDiver).noquote() << "recording" << p.title << ":" << error;
            return false;
        }
        if (!copy) {
            CopyRow c;
            c.channelId = p.channelId;
            c.airingStart = p.start;
            c.recordStart = r.recordStart;
            c.recordStop = p.recordStop;
            const QString key = p.channelId + u'@' + QString::number(p.start);
            if (m_retryAt.value(key) > t)
                return false; // failed a moment ago: tried again after a pause, not every second
            // Made once (another node planning the same airing finds it); recorded by whichever
            // node claims it from the lease table.
            // Its folder is named by its id as well as the airing: a copy deleted and made again
            // at once for the same airing (its last viewer deleted it, another records it) never
            // shares the folder of the one being deleted (whose recorder may still write, whose
            // folder goes). Copies made before keep the folder their row names.
            // The planner's watchdog first, as a recorder's: past it, another node may hold
            // the lease already (this thread was blocked).
            if (dvr::LeaseKeeper::steadyNowMs() >= m_plannerLeases.writeDeadline()->load()) {
                stopPlanning(QStringLiteral("its watchdog deadline passed (epoch %1): the copy of %2 at %3 is not made")
                                 .arg(m_plannerEpoch)
                                 .arg(c.channelId, isoName(c.airingStart)),
                             true);
                return false;
            }
            const auto root = m_storage->choose((c.recordStop - c.recordStart) * kBytesPerSecond, &error);
            std::optional<CopyRow> made;
            const PlannerFence fence{kPlannerLease, m_config.nodeId, m_plannerEpoch, QDateTime::currentMSecsSinceEpoch()};
            bool fenced = false;
            if (!root)
                error = QStringLiteral("no storage for the copy of %1 at %2: %3").arg(c.channelId, isoName(c.airingStart), error);
            else if (!(made = m_store.ensureCopy(
                           c, &error,
                           [&](qint64 id) { return QDir(*root).filePath(copyFolderName(c.channelId, c.airingStart, id)); }, &fence,
                           &fenced)))
                error = QStringLiteral("the copy is not stored: %1").arg(error);
            if (fenced) {
                // Another node plans now: not retried, and no "failed" for the viewer (the new
                // planner records the airing if its plan has it).
                stopPlanning(error, true);
                return false;
            }
            if (!made) {
                m_retryAt.insert(key, t + kRetrySeconds);
                qCWarning(lcDiver).noquote() << "cannot record" << p.title << "on" << p.channelId << ":" << error
                                             << QStringLiteral("(again in %1 s)").arg(kRetrySeconds);
                publish(QStringLiteral("failed"),
                        QJsonObject{{u"title"_qs, p.title}, {u"channel"_qs, p.channelId}, {u"start"_qs, p.start},
                                    {u"reason"_qs, error}},
                        p.owner);
                return false;
            }
            m_retryAt.remove(key);
            copy = made;
        } else if (copy->state != CopyState::Recording && p.recordStop > t) {
            // Stopped by its viewers, or failed, while the programme is still on: recorded again
            // in the same folder (the time between is a gap), not a dead copy joined.
            if (!reopenCopy(&*copy, p.recordStop)) {
                publish(QStringLiteral("failed"),
                        QJsonObject{{u"title"_qs, p.title}, {u"channel"_qs, p.channelId}, {u"start"_qs, p.start},
                                    {u"reason"_qs, QStringLiteral("its stored copy cannot be recorded again")}},
                        p.owner);
                return false;
            }
        } else if (copy->recordStop < p.recordStop) {
            extendCopy(*copy, p.recordStop);
        }
        offerCopy(*copy);
        r.copyId = copy->id;
    }
    bool copyGone = false;
    const auto id = m_store.insertRecording(r, &error, &copyGone);
    if (!id) {
        if (copyGone) // its last viewer's recording deleted meanwhile (another node): made again next time
            qCInfo(lcDiver).noquote() << "recording" << p.title << "on" << p.channelId << "for" << p.owner << ":" << error
                                      << "(a new copy is made)";
        else
            qCWarning(lcDiver).noquote() << "cannot store the recording of" << p.title << ":" << error;
        return false;
    }
    if (*id == 0)
        return true; // another node made it at the same moment, and said so
    r.id = *id;
    // A range of an archive costs no capacity: it counts as recorded from now on. A copy stays in
    // the plan while it records (so it holds its stream against later requests) and joins the
    // history when it finishes.
    if (r.copyId == 0) {
        addToHistory({r});
        m_archiveRanges.insert(r.id, r); // its "finished" when its range has passed (finishArchiveRanges)
    }
    qCInfo(lcDiver).noquote() << "recording" << r.id << p.title << "on" << p.channelId << "for" << p.owner
                              << (r.copyId ? QStringLiteral("(copy %1)").arg(r.copyId) : QStringLiteral("(archive)"));
    publish(QStringLiteral("started"), recordingJson(r, {}, false), r.owner);
    return true;
}

qint64 DiverServer::archiveRangeStart(const dvr::PlannedRecording &p, qint64 from)
{
    // "Record now" on a programme on air: the archive holds what has been shown of it, so the
    // recording has it from the programme's start (with the rule's pre-padding), or from the
    // archive's first second when the archive began later. A copy could only start now.
    const ActiveArchive *a = m_archives.value(p.channelId);
    if (!a)
        return from;
    QString error;
    const auto rule = m_rules.rule(p.ruleId, &error);
    const qint64 wanted = p.start - (rule ? rule->prePadding : 0);
    if (wanted >= from)
        return from;
    const qint64 firstMs = dvr::ArchiveReader::firstSegmentMs(a->directory);
    if (firstMs <= 0)
        return from; // nothing archived yet
    return std::min(from, std::max(wanted, firstMs / 1000));
}

bool DiverServer::reopenCopy(CopyRow *copy, qint64 recordStop)
{
    QString error;
    const QString was = copyStateName(copy->state);
    // The viewers whose recordings ended with the copy keep them as they ended: their spans end
    // where the copy does now (a playlist served complete has its span stored already).
    if (const auto viewers = m_store.recordingsOfCopy(copy->id, &error)) {
        dvr::ArchiveReader reader;
        QString why;
        for (const RecordingRow &r : *viewers) {
            if (r.deleted || r.stopped != 0 || r.spanEnd >= 0 || r.recordStop > now())
                continue;
            if (reader.directory().isEmpty() && !reader.load(copy->directory, &why)) {
                qCWarning(lcDiver).noquote() << "copy" << copy->id << ": its index does not read (" << why
                                             << "); its ended recordings end where their playlists are next read";
                break;
            }
            const QList<dvr::ArchiveSegment> segments = reader.segments();
            if (!m_store.endRecordingSpan(r.id, segments.isEmpty() ? 0 : segments.last().sequence + 1, &why))
                qCWarning(lcDiver).noquote() << "recording" << r.id << ": its end is not stored:" << why;
        }
    }
    error.clear();
    const auto row = m_store.reopenCopy(copy->id, recordStop, &error);
    if (!row) {
        qCWarning(lcDiver).noquote() << "copy" << copy->id << "of" << copy->channelId << "is not recorded again:" << error;
        return false;
    }
    // Its lease was finished with it: pending again, for this node or any to claim.
    if (!m_leases.store().reopen(leaseIdOf(copy->id), &error)) {
        qCWarning(lcDiver).noquote() << "copy" << copy->id << "of" << copy->channelId << "is not offered again:" << error;
        return false;
    }
    *copy = *row;
    m_offered.remove(copy->id);
    announce(ClusterChange::Kind::CopyEnd, copy->id);
    qCInfo(lcDiver).noquote() << "copy" << copy->id << "of" << copy->channelId << "(" << was << ") records again until"
                              << copy->recordStop << "in" << copy->directory;
    return true;
}

void DiverServer::extendCopy(CopyRow &copy, qint64 recordStop)
{
    QString error;
    const std::optional<qint64> stored = m_store.extendCopyEnd(copy.id, recordStop, &error);
    if (!stored) {
        // Kept and written again every second (grown only, so never over a later stop).
        if (!m_unsavedEnds.contains(copy.id))
            qCWarning(lcDiver).noquote() << "copy" << copy.id << "of" << copy.channelId << ": its later end is not saved:" << error
                                         << "(tried again every second)";
        m_unsavedEnds.insert(copy.id, std::max(recordStop, m_unsavedEnds.value(copy.id)));
    } else {
        m_unsavedEnds.remove(copy.id);
        if (*stored > 0 && *stored < recordStop)
            qCInfo(lcDiver).noquote() << "copy" << copy.id << "of" << copy.channelId << "ended at"
                                      << QDateTime::fromSecsSinceEpoch(*stored, Qt::UTC).toString(Qt::ISODate)
                                      << "already (its recorder stopped there): it is not extended";
        if (*stored > 0)
            recordStop = *stored; // another node's end, later still (or the end its recorder stopped at)
        if (recordStop > copy.recordStop)
            announce(ClusterChange::Kind::CopyEnd, copy.id); // the node recording it follows at once
    }
    copy.recordStop = recordStop;
    if (ActiveCopy *active = m_copies.value(copy.id); active && active->row.recordStop < recordStop)
        moveActiveCopyEnd(active, recordStop);
}

void DiverServer::moveActiveCopyEnd(ActiveCopy *active, qint64 recordStop)
{
    active->row.recordStop = recordStop;
    active->recorder->setStopAt(recordStop * 1000);
}

bool DiverServer::followGuideEnd(RecordingRow r, const dvr::PlannedRecording &p)
{
    // The guide is what ends a recording: a programme that runs over (a match into extra time)
    // is recorded to its new end. An end the guide moves earlier is not followed while recording:
    // minutes already promised are kept rather than cut.
    if (r.deleted || r.stopped != 0 || r.spanEnd >= 0 || p.recordStop <= r.recordStop)
        return true; // a recording the viewer stopped stays stopped; one whose playlist ended, ended
    QString error;
    std::optional<CopyRow> copy;
    if (r.copyId != 0) {
        copy = m_store.copy(r.copyId, &error);
        if (!copy)
            return error.isEmpty(); // gone (its copy with it): nothing to follow; else asked again
        if (copy->state != CopyState::Recording)
            return true; // finished before the guide said it runs on: nothing to write into any more
    }
    // The end alone, and only while the recording is not stopped: a stop made meanwhile on
    // another node is not undone (nor its copy made to run on for it).
    const std::optional<bool> moved = m_store.extendRecordingEnd(r.id, p.stop, p.recordStop, &error);
    if (!moved) {
        qCWarning(lcDiver).noquote() << "recording" << r.id << ": its new end is not stored:" << error;
        return false;
    }
    if (!*moved)
        return true; // stopped meanwhile, or moved already
    if (copy && copy->recordStop < p.recordStop)
        extendCopy(*copy, p.recordStop);
    qCInfo(lcDiver).noquote() << "recording" << r.id << r.title << "on" << r.channelId << "runs on to"
                              << QDateTime::fromSecsSinceEpoch(p.recordStop, Qt::UTC).toString(Qt::ISODate)
                              << "(the guide moved its end)";
    if (auto range = m_archiveRanges.find(r.id); range != m_archiveRanges.end())
        range->recordStop = p.recordStop; // its "finished" comes at the new end
    return true;
}

bool DiverServer::factsFromGuide(dvr::RecordedEpisode *episode) const
{
    if (!m_guide)
        return false;
    const int c = m_guide->channelIndex(episode->channelId);
    const epg::Airing a = c < 0 ? epg::Airing{} : m_guide->airingAt(c, episode->recordedAt);
    if (!a.isValid() || a.start != episode->recordedAt)
        return false;
    const epg::Programme p = m_guide->programmeRecord(a);
    episode->subTitle = m_guide->subTitle(a.programme);
    episode->description = m_guide->description(a.programme);
    episode->episodeNums = p.episodeNums;
    // What the scheduler's guide index makes of the same fields (tst_dvrduplicate).
    episode->identity = dvr::episodeIdentity(m_guide->title(a.programme), episode->subTitle, episode->description,
                                             episode->episodeNums);
    return true;
}

void DiverServer::addToHistory(const QList<RecordingRow> &recordings)
{
    QString error;
    bool added = false;
    for (const RecordingRow &r : recordings) {
        dvr::RecordedEpisode episode;
        episode.ruleId = r.ruleId;
        episode.owner = r.owner;
        episode.title = r.title;
        episode.recordedAt = r.airingStart;
        episode.channelId = r.channelId;
        episode.factsKnown = factsFromGuide(&episode);
        if (!episode.factsKnown) // gone from the guide: the title is all there is (a later guide may say more)
            episode.identity.title = dvr::episodeIdentity(r.title, {}, {}, {}).title;
        if (m_rules.addHistory(episode, &error))
            added = true;
        else
            qCWarning(lcDiver).noquote() << "the history of" << r.title << "is not stored:" << error;
    }
    if (added) {
        if (auto history = m_rules.history(&error))
            m_scheduler.setHistory(*history);
        announce(ClusterChange::Kind::History);
    }
}

void DiverServer::rememberHistoryFacts()
{
    // History rows kept before rule schema 4 have no facts and only a title key: their airings,
    // when a guide still has them with the same title, give them the rest of their keys. Those
    // whose airing started before the guide's first airing never will (a guide's window only
    // moves on): they are settled with their title key, and not read again.
    // Only rows without facts are read: on every guide load, not the whole history.
    QString error;
    qint64 firstStart = std::numeric_limits<qint64>::max();
    for (int c = 0; c < m_guide->channelCount(); ++c) {
        const auto [begin, end] = m_guide->channelAirings(c);
        if (begin < end)
            firstStart = std::min(firstStart, m_guide->airing(begin).start);
    }
    const int settled = firstStart == std::numeric_limits<qint64>::max() ? 0 : m_rules.settleWithoutFacts(firstStart, &error);
    if (settled < 0)
        qCWarning(lcDiver).noquote() << error;
    else if (settled > 0)
        qCInfo(lcDiver).noquote() << "history kept before rule schema 4:" << settled
                                  << "episodes aired before the guide's window keep only their title key (they match no episode)";
    const auto history = m_rules.history(&error, true);
    if (!history) {
        qCWarning(lcDiver).noquote() << "reading the recorded history:" << error;
        return;
    }
    int remembered = 0, missing = 0;
    for (dvr::RecordedEpisode e : *history) {
        const quint64 titleKey = e.identity.title;
        if (!factsFromGuide(&e) || e.identity.title != titleKey) {
            ++missing; // not in this guide, or another programme airs then now
            continue;
        }
        if (m_rules.rememberFacts(e, &error))
            ++remembered;
        else
            qCWarning(lcDiver).noquote() << error;
    }
    if (!remembered) {
        if (missing)
            qCDebug(lcDiver).noquote() << "history kept before rule schema 4:" << missing << "episodes not found in the guide yet";
        return;
    }
    qCInfo(lcDiver).noquote() << "history kept before rule schema 4:" << remembered << "episodes' keys made again from the guide,"
                              << missing << "not in the guide (they match no episode)";
    if (auto h = m_rules.history(&error))
        m_scheduler.setHistory(*h);
    announce(ClusterChange::Kind::History);
}

bool DiverServer::startCopy(CopyRow *copy, QString *error)
{
    const QString source = sourceFor(copy->channelId);
    if (source.isEmpty()) {
        *error = QStringLiteral("channel %1 has no stream URL in the guide and no [recording] source_template is set")
                     .arg(copy->channelId);
        return false;
    }
    const qint64 epoch = writerEpoch(m_leases, leaseIdOf(copy->id), copy->directory, error);
    if (epoch == 0)
        return false;
    auto *active = new ActiveCopy{*copy, new dvr::Recorder};
    dvr::RecorderSettings s;
    s.epoch = epoch;
    s.source = source;
    s.directory = copy->directory;
    s.segmentSeconds = m_config.segmentSeconds;
    s.niceness = kRecorderNiceness;
    s.stopAtMs = copy->recordStop * 1000;
    s.confirmEnd = true; // onCopyEndReached: an end moved on another node a moment before is not cut short
    s.minFreeBytes = m_config.minFreeBytes;
    // Checked from the recorder's own threads: the keeper's thread has shown in time that this
    // node still holds the copy (LeaseKeeper::writeFence).
    s.writeFence = m_leases.writeFence(leaseIdOf(copy->id));
    active->recorder->setSpaceRecovery([this, dir = copy->directory](qint64 need) { return recoverSpace(dir, need); });
    const qint64 id = copy->id;
    connect(active->recorder, &dvr::Recorder::stateChanged, this, [this, id] { onCopyState(id); });
    connect(active->recorder, &dvr::Recorder::gapStarted, this, [this, id](const QString &reason) {
        ActiveCopy *c = m_copies.value(id);
        if (!c)
            return;
        QString e;
        if (const auto viewers = m_store.recordingsOfCopy(id, &e)) {
            for (const RecordingRow &r : *viewers)
                publish(QStringLiteral("gap"), QJsonObject{{u"id"_qs, r.id}, {u"reason"_qs, reason}}, r.owner);
        }
    });
    connect(active->recorder, &dvr::Recorder::finished, this, [this, id] { onCopyFinished(id); });
    connect(active->recorder, &dvr::Recorder::stopped, this, [this, id] { onCopyStopped(id); });
    connect(active->recorder, &dvr::Recorder::endReached, this, [this, id](qint64 atMs) { onCopyEndReached(id, atMs); });
    connect(active->recorder, &dvr::Recorder::segmentWritten, this, [this, id](const dvr::ArchiveSegment &segment) {
        ActiveCopy *c = m_copies.value(id);
        if (c && c->resumedAfterMs > 0)
            onResumedSegment(c, segment);
    });
    if (m_recorderHook)
        m_recorderHook(*active->recorder);
    if (!active->recorder->start(s, error)) {
        delete active->recorder;
        delete active;
        return false;
    }
    // A copy resumed or taken over: its figures go on from what the folder holds (the segment a
    // dead node's journal held included, listed by the start), and the gap before this run's
    // first segment is one more.
    dvr::ArchiveReader held;
    QString e;
    if (held.load(copy->directory, &e)) {
        const QList<dvr::ArchiveSegment> before = held.segments();
        active->baseSegments = before.size();
        for (const dvr::ArchiveSegment &segment : before) {
            active->baseBytes += segment.bytes;
            active->baseGaps += segment.gap ? 1 : 0;
        }
        if (!before.isEmpty()) {
            ++active->baseGaps;
            active->resumedAfterMs = before.last().endMs();
        }
    }
    m_copies.insert(id, active);
    return true;
}

void DiverServer::onResumedSegment(ActiveCopy *c, const dvr::ArchiveSegment &segment)
{
    // The first segment of a copy resumed here (after a restart) or taken over (another node
    // died): the gap before it is exact now, from the index, and the viewers are told.
    const qint64 missingMs = std::max<qint64>(0, segment.startMs - std::exchange(c->resumedAfterMs, 0));
    const QString missing = QString::number(double(missingMs) / 1000, 'f', 1);
    const QString reason = c->previousNode.isEmpty() ? QStringLiteral("resumed after a restart: %1 s missing").arg(missing)
        : c->takenOver ? QStringLiteral("node %1 stopped recording (%2); node %3 records on: %4 s missing")
                             .arg(c->previousNode,
                                  c->holderGone ? QStringLiteral("its process or database session ended") : QStringLiteral("its lease expired"),
                                  m_config.nodeId, missing)
                       : QStringLiteral("node %1 handed it over; node %2 records on: %3 s missing")
                             .arg(c->previousNode, m_config.nodeId, missing);
    qCInfo(lcDiver).noquote() << "copy" << c->row.id << "of" << c->row.channelId << ":" << reason;
    QString e;
    if (const auto viewers = m_store.recordingsOfCopy(c->row.id, &e)) {
        for (const RecordingRow &r : *viewers) {
            if (r.stopped == 0 && !r.deleted)
                publish(QStringLiteral("gap"),
                        QJsonObject{{u"id"_qs, r.id}, {u"reason"_qs, reason}, {u"missing"_qs, double(missingMs) / 1000}}, r.owner);
        }
    }
}

CopyRow DiverServer::ActiveCopy::withFigures() const
{
    CopyRow r = row;
    const auto stats = recorder->stats();
    r.segments = baseSegments + qint64(stats.segments);
    r.bytes = baseBytes + qint64(stats.bytes);
    r.gaps = baseGaps + qint64(stats.gaps);
    return r;
}

void DiverServer::onCopyState(qint64 copyId)
{
    ActiveCopy *c = m_copies.value(copyId);
    if (!c)
        return;
    const auto state = c->recorder->state();
    c->row = c->withFigures();
    c->row.reason = c->recorder->reason();
    QString e;
    saveCopy(c->row);
    if (state == dvr::Recorder::State::Error) {
        if (const auto viewers = m_store.recordingsOfCopy(copyId, &e)) {
            for (const RecordingRow &r : *viewers)
                publish(QStringLiteral("failed"), QJsonObject{{u"id"_qs, r.id}, {u"reason"_qs, c->row.reason}}, r.owner);
        }
    }
}

void DiverServer::onCopyFinished(qint64 copyId)
{
    ActiveCopy *c = m_copies.take(copyId);
    if (!c)
        return;
    c->row = c->withFigures();
    c->row.state = CopyState::Finished;
    QString e;
    saveCopy(c->row);
    finishCopyLease(copyId, u"done"_qs);
    stopRecorder(c->recorder, true); // ended already (finished() is its last word but stopped())
    qCInfo(lcDiver).noquote() << "copy" << copyId << "of" << c->row.channelId << "finished:" << c->row.segments << "segments,"
                              << c->row.gaps << "gaps";
    if (const auto viewers = m_store.recordingsOfCopy(copyId, &e)) {
        // A viewer who joined as its recorder reached its end (the seal came first, so the
        // extension was refused) still needs it: recorded again, to that viewer's end.
        qint64 needed = 0;
        for (const RecordingRow &r : *viewers)
            if (r.stopped == 0 && !r.deleted)
                needed = std::max(needed, r.recordStop);
        if (needed > now()) {
            CopyRow row = c->row;
            delete c;
            if (reopenCopy(&row, needed))
                offerCopy(row);
            return;
        }
        addToHistory(*viewers);
        for (const RecordingRow &r : *viewers) {
            if (r.stopped == 0) // a viewer who stopped theirs heard "finished" then
                publish(QStringLiteral("finished"), recordingJson(r, {}, false), r.owner);
        }
    }
    delete c;
    replan(false);
}

void DiverServer::onCopyStopped(qint64 copyId)
{
    // The recorder ended by itself without finishing (finished() comes first and takes the copy):
    // its end line could not be written. Every segment cut is written and indexed; the copy ends
    // here with the reason, rather than holding its lease and a slot until a restart.
    ActiveCopy *c = m_copies.take(copyId);
    if (!c)
        return;
    if (c->recorder->fenced()) {
        // Stopped by itself at its watchdog deadline (this thread did not run for too long, and
        // another node may have taken the copy over), or its folder names a higher epoch (another
        // node did). Nothing is written to its row; its lease is given back, and taken back
        // (recorded on after a gap) when nobody took it.
        qCWarning(lcDiver).noquote() << "copy" << copyId << "of" << c->row.channelId
                                     << "stopped by its write fence (its watchdog deadline passed, or another node's epoch is in "
                                        "its folder): another node may record it now";
        stopRecorder(c->recorder, false);
        m_leases.giveBack(leaseIdOf(copyId));
        delete c;
        return;
    }
    c->row = c->withFigures();
    const bool holds = c->row.segments > 0;
    c->row.state = holds ? CopyState::Finished : CopyState::Failed;
    c->row.reason = c->recorder->reason();
    saveCopy(c->row);
    finishCopyLease(copyId, holds ? u"done"_qs : u"failed"_qs);
    qCWarning(lcDiver).noquote() << "copy" << copyId << "of" << c->row.channelId << "ended without finishing:" << c->row.reason;
    stopRecorder(c->recorder, false);
    tellViewersCopyEnded(copyId, holds, c->row.reason);
    delete c;
    replan(false);
}

void DiverServer::tellViewersCopyEnded(qint64 copyId, bool holds, const QString &reason)
{
    // A copy ended without its recorder finishing it: what it holds is its viewers' recording
    // (finished, in the history), or nothing was recorded (failed, with why).
    QString e;
    const auto viewers = m_store.recordingsOfCopy(copyId, &e);
    if (!viewers)
        return;
    if (holds)
        addToHistory(*viewers);
    for (const RecordingRow &r : *viewers) {
        if (r.stopped == 0 && !r.deleted)
            publish(holds ? QStringLiteral("finished") : QStringLiteral("failed"),
                    holds ? recordingJson(r, {}, false) : QJsonObject{{u"id"_qs, r.id}, {u"reason"_qs, reason}}, r.owner);
    }
}

void DiverServer::onCopyEndReached(qint64 copyId, qint64 stopAtMs)
{
    ActiveCopy *c = m_copies.value(copyId);
    if (!c || c->recorder->settings().stopAtMs != stopAtMs) {
        m_unsealedEnds.remove(copyId);
        return; // stopped since, or its end moved meanwhile (it says so again at the new one)
    }
    if (m_copyEndHook)
        m_copyEndHook(copyId, stopAtMs / 1000);
    // Another node may have moved the end later a moment ago (a viewer's longer padding) without
    // this node having heard it yet (copy-end, ~50 ms): the store decides, in one conditional
    // UPDATE that fails when the end moved; once sealed, the end moves no more.
    QString error;
    const auto sealed = m_store.sealCopyEnd(copyId, stopAtMs / 1000, &error);
    if (!sealed) {
        // Not known: it records on (nothing cut short) and is asked again every second; a node
        // that cannot reach the database for long loses its lease and stops anyway.
        if (!m_unsealedEnds.contains(copyId) && !databaseTrouble(error))
            qCWarning(lcDiver).noquote() << "copy" << copyId << "of" << c->row.channelId << "reached its end, which cannot be checked:"
                                         << error << "(it records on; tried again every second)";
        m_unsealedEnds.insert(copyId, stopAtMs);
        return;
    }
    m_unsealedEnds.remove(copyId);
    if (!sealed->sealed && sealed->recordStop * 1000 > stopAtMs) {
        qCInfo(lcDiver).noquote() << "copy" << copyId << "of" << c->row.channelId << "reached its end, but another node moved it to"
                                  << QDateTime::fromSecsSinceEpoch(sealed->recordStop, Qt::UTC).toString(Qt::ISODate)
                                  << "a moment before: it records on";
        moveActiveCopyEnd(c, sealed->recordStop);
        return;
    }
    c->recorder->confirmEnd(stopAtMs);
}

void DiverServer::saveCopy(const CopyRow &row, bool claim)
{
    QString error;
    claim = claim || m_unsavedClaims.contains(row.id); // a claim not written yet still is one
    bool written = false;
    if (m_store.updateCopy(row, &error, claim, &written)) {
        if (!written && !claim)
            qCInfo(lcDiver).noquote() << "copy" << row.id << "of" << row.channelId
                                      << "is gone or another node's now: this node's figures for it are not written";
        m_unsavedCopies.remove(row.id);
        m_unsavedClaims.remove(row.id);
        return;
    }
    // Never dropped while this node records it: kept (its latest state) and written again every
    // second until the database takes it (onLeaseLost drops it).
    if (!m_unsavedCopies.contains(row.id))
        qCWarning(lcDiver).noquote() << "copy" << row.id << "of" << row.channelId << "is not saved:" << error << "(tried again every second)";
    m_unsavedCopies.insert(row.id, row);
    if (claim)
        m_unsavedClaims.insert(row.id);
}

void DiverServer::finishCopyLease(qint64 copyId, const QString &state)
{
    finishLease(leaseIdOf(copyId), state);
}

int DiverServer::leasesHeld() const
{
    return int(m_leases.held().size());
}

void DiverServer::finishLease(const QString &leaseId, const QString &state)
{
    QString error;
    m_leaseEpochs.remove(leaseId);
    if (m_leases.finish(leaseId, state, &error)) {
        m_unfinishedLeases.remove(leaseId);
        return;
    }
    if (lostSqlConnections().isEmpty()) { // refused, not unreachable: taken over, or unknown
        qCWarning(lcDiver).noquote() << error;
        m_unfinishedLeases.remove(leaseId);
        return;
    }
    if (!m_unfinishedLeases.contains(leaseId))
        qCWarning(lcDiver).noquote() << error << "(tried again every second)";
    m_unfinishedLeases.insert(leaseId, state);
}

void DiverServer::retryUnsaved()
{
    const QList<CopyRow> copies = m_unsavedCopies.values();
    for (const CopyRow &row : copies)
        saveCopy(row);
    const QHash<qint64, qint64> ends = m_unsavedEnds;
    for (auto it = ends.cbegin(); it != ends.cend(); ++it) {
        QString error;
        if (const auto stored = m_store.extendCopyEnd(it.key(), it.value(), &error)) {
            m_unsavedEnds.remove(it.key());
            announce(ClusterChange::Kind::CopyEnd, it.key());
        }
    }
    const QHash<qint64, qint64> unsealed = m_unsealedEnds;
    for (auto it = unsealed.cbegin(); it != unsealed.cend(); ++it)
        onCopyEndReached(it.key(), it.value());
    const QHash<QString, QString> leases = m_unfinishedLeases;
    for (auto it = leases.cbegin(); it != leases.cend(); ++it)
        finishLease(it.key(), it.value());
}

bool DiverServer::databaseTrouble(const QString &error) const
{
    // A connection known lost is logged once where it is (iptv.core.sql) and again when it is
    // back; the failures in between say nothing new.
    return error.contains(u"the database connection is lost");
}

void DiverServer::announce(ClusterChange::Kind kind, qint64 item)
{
    QString error;
    if (m_cluster && !m_cluster->announce(kind, item, &error))
        qCWarning(lcDiver).noquote() << error << "(the others read it on their next poll of the log, or not at all)";
}

bool DiverServer::refreshNodes()
{
    QString error;
    if (!m_cluster->heartbeat(QDateTime::currentMSecsSinceEpoch(), &error)) {
        if (!databaseTrouble(error))
            qCWarning(lcDiver).noquote() << error;
        return false;
    }
    // Alive: seen within a lease period and a poll (a heartbeat a little late is no death).
    const qint64 aliveMs = qint64(m_config.leaseSeconds) * 1000 + m_clusterPoll.interval();
    auto nodes = m_cluster->liveNodes(aliveMs, &error);
    if (!nodes) {
        qCWarning(lcDiver).noquote() << error << "(planning with the nodes known before)";
        return false;
    }
    if (std::none_of(nodes->cbegin(), nodes->cend(), [this](const ClusterNode &n) { return n.name == m_config.nodeId; })) {
        nodes->append({m_config.nodeId, m_config.capacity, 0, m_archiveLeasesStarted});
        std::sort(nodes->begin(), nodes->end(), [](const ClusterNode &a, const ClusterNode &b) { return a.name < b.name; });
    }
    auto sameNodes = [](const QList<ClusterNode> &a, const QList<ClusterNode> &b) {
        return a.size() == b.size()
            && std::equal(a.cbegin(), a.cend(), b.cbegin(), [](const ClusterNode &x, const ClusterNode &y) {
                   return x.name == y.name && x.capacity == y.capacity && x.archiving == y.archiving;
               });
    };
    // The cluster archives every channel any node's [archive] lists (a node that died or stopped
    // included: its archives go on elsewhere): the same set on every node, and a node configured
    // with none records and serves them all the same.
    QSet<QString> archived = m_config.archivedChannels;
    if (const auto all = m_cluster->archivedChannels(&error)) {
        archived.unite(*all);
        m_archivedChannelsKnown = true;
    } else
        archived.unite(m_archivedChannels); // kept as they were
    const bool archivesChanged = archived != m_archivedChannels;
    if (sameNodes(*nodes, m_liveNodes) && !archivesChanged)
        return false;
    m_liveNodes = *nodes;
    m_archivedChannels = archived;
    dvr::CapacityOptions capacity = m_scheduler.options().capacity;
    capacity.nodes.clear();
    capacity.archivedChannels = m_archivedChannels;
    QStringList names;
    int total = 0;
    for (const ClusterNode &n : std::as_const(m_liveNodes)) {
        capacity.nodes.append(dvr::RecorderNode{n.name, n.capacity});
        names << QStringLiteral("%1 (%2)").arg(n.name).arg(n.capacity);
        total += n.capacity;
    }
    m_scheduler.setCapacity(capacity);
    qCInfo(lcDiver).noquote() << "planning for" << m_liveNodes.size() << "live nodes, capacity" << total << ":" << names.join(u", ");
    if (archivesChanged) {
        QStringList list(m_archivedChannels.cbegin(), m_archivedChannels.cend());
        list.sort();
        qCInfo(lcDiver).noquote() << "the cluster archives" << list.size() << "channels:" << list.join(u", ");
        startArchives();
    } else if (m_archiveLeasesStarted) {
        m_archiveLeases.setPeers(archivePeers());
    }
    return true;
}

QList<dvr::LeasePeer> DiverServer::archivePeers() const
{
    // Only the nodes that claim archives (this one included, once its leases run): a node that
    // cannot yet (no guide: its archive leases have not started) counted in would be handed its
    // share, and nobody would claim it.
    QList<dvr::LeasePeer> peers;
    for (const ClusterNode &n : std::as_const(m_liveNodes)) {
        if (n.archiving || n.name == m_config.nodeId)
            peers.append({n.name, n.capacity});
    }
    return peers;
}

void DiverServer::pollCluster()
{
    if (m_stopping || !m_cluster)
        return;
    if (QString error; !m_cluster->checkListening(&error) && !databaseTrouble(error))
        qCWarning(lcDiver).noquote() << error << "(the others' changes are read every poll meanwhile)";
    if (refreshNodes() && m_guide) {
        replan(false);
        startDue(now());
    }
    applyClusterChanges();
    countClusterLeases();
}

void DiverServer::countClusterLeases()
{
    // Every node's leases by kind, as the shared table has them: any node's /metrics shows the
    // whole cluster's share-out. A node gone keeps its series, at 0.
    QString error;
    const auto held = m_leases.store().held(QDateTime::currentMSecsSinceEpoch(), &error);
    if (!held)
        return;
    QHash<std::pair<QString, QString>, int> counts;
    for (const ClusterNode &n : std::as_const(m_liveNodes)) {
        counts.insert({n.name, u"copy"_qs}, 0);
        counts.insert({n.name, u"archive"_qs}, 0);
    }
    for (auto it = m_clusterLeaseGauges.cbegin(); it != m_clusterLeaseGauges.cend(); ++it)
        counts.insert(it.key(), 0);
    for (const dvr::LeaseJob &j : *held)
        ++counts[{j.node, j.id.section(u':', 0, 0)}];
    for (auto it = counts.cbegin(); it != counts.cend(); ++it) {
        iptv::Gauge *&gauge = m_clusterLeaseGauges[it.key()];
        if (!gauge)
            gauge = m_metrics.gauge(QStringLiteral("diver_cluster_leases_held"),
                                    QStringLiteral("Leases each node of the cluster holds now, by kind (copy, archive, planner)."),
                                    {{QStringLiteral("node"), it.key().first}, {QStringLiteral("kind"), it.key().second}});
        gauge->set(it.value());
    }
}

void DiverServer::holdClusterChanges(bool hold)
{
    m_clusterChangesHeld = hold;
    if (!hold)
        applyClusterChanges();
}

void DiverServer::applyClusterChanges()
{
    if (m_stopping || !m_cluster || m_clusterChangesHeld)
        return;
    QString error;
    const auto changes = m_cluster->pending(&error);
    if (!changes) {
        if (!databaseTrouble(error))
            qCWarning(lcDiver).noquote() << error << "(everything is read again once the log can be read)";
        m_clusterResync = true;
        return;
    }
    bool changed = false, history = false, copies = false, cancelled = false;
    if (m_clusterResync) {
        // Changes may have been missed: every rule and the history again.
        const auto rules = m_rules.rules(&error);
        if (!rules) {
            qCWarning(lcDiver).noquote() << "reloading the rules:" << error;
            return;
        }
        m_scheduler.setRules(*rules);
        m_clusterResync = false;
        changed = history = copies = cancelled = true;
    }
    for (const ClusterChange &c : *changes) {
        switch (c.kind) {
        case ClusterChange::Kind::Rule:
            cancelled = true; // its skipped airings may have changed with it
            if (const auto rule = m_rules.rule(c.item, &error)) {
                m_scheduler.upsertRule(*rule);
                qCInfo(lcDiver).noquote() << "rule" << c.item << "was saved on node" << c.node << ": planned here too";
                changed = true;
            } // else removed since: its own entry follows
            break;
        case ClusterChange::Kind::RuleRemoved:
            m_scheduler.removeRule(c.item);
            qCInfo(lcDiver).noquote() << "rule" << c.item << "was removed on node" << c.node;
            changed = true;
            break;
        case ClusterChange::Kind::History: history = true; break;
        case ClusterChange::Kind::CopyRemoved:
        case ClusterChange::Kind::CopyEnd: copies = true; break;
        case ClusterChange::Kind::Nodes:
            changed |= refreshNodes();
            m_leases.claimNow(); // a node that stopped cleanly has freed its copies
            if (m_plannerStarted)
                m_plannerLeases.claimNow(); // and the planner's lease, when it held it
            break;
        case ClusterChange::Kind::Leases:
            m_leases.claimNow();
            if (m_archiveLeasesStarted)
                m_archiveLeases.claimNow();
            if (m_plannerStarted)
                m_plannerLeases.claimNow();
            break;
        case ClusterChange::Kind::Unknown: break; // a newer node's: read by it
        }
    }
    if (history) {
        if (const auto h = m_rules.history(&error)) {
            m_scheduler.setHistory(*h);
            changed = true;
        } else {
            qCWarning(lcDiver).noquote() << "reloading the recorded history:" << error;
        }
    }
    if (cancelled) {
        if (reloadCancelled(&error))
            changed = true;
        else
            qCWarning(lcDiver).noquote() << "reloading the skipped airings:" << error;
    }
    if (copies && !m_copies.isEmpty())
        followCopyEnds();
    if (changed && m_guide) {
        replan(false);
        startDue(now());
    }
}

void DiverServer::startArchives()
{
    // Every node knows every archived channel's folder (it serves catch-up and timeshift from
    // it); one node records it: the one holding its lease, taken over by another within a lease
    // period when that node dies. Two nodes never write one archive.
    if (!m_guide || m_stopping)
        return;
    QString error;
    // A channel no node archives any more: its recorder (if here) stops, its lease is not renewed.
    for (auto it = m_archives.begin(); it != m_archives.end();) {
        if (m_archivedChannels.contains(it.key())) {
            ++it;
            continue;
        }
        ActiveArchive *a = it.value();
        if (a->recorder) {
            qCInfo(lcDiver).noquote() << "the archive of" << a->channelId << "stops: no node's [archive] lists it any more";
            stopRecorder(a->recorder, false);
        }
        delete a;
        it = m_archives.erase(it);
    }
    for (const QString &channelId : std::as_const(m_archivedChannels)) {
        if (m_archives.contains(channelId) || m_guide->channelIndex(channelId) < 0)
            continue;
        const QString relative = archiveFolderName(channelId);
        const auto dir = m_storage->place(relative, 3600 * kBytesPerSecond, &error);
        if (!dir) {
            qCWarning(lcDiver).noquote() << "no storage for the archive of" << channelId << ":" << error;
            continue;
        }
        // Held already when this node holds its lease (it claims only what is in its guide).
        m_archives.insert(channelId, new ActiveArchive{channelId, *dir, nullptr,
                                                       m_archiveLeases.held().contains(archiveLeaseIdOf(channelId))});
    }
    // This node claims only the archives it can record: a channel its guide lacks (a regional
    // lineup, a guide not yet updated) or that has no storage here is left to the nodes that can
    // (the share-out gives each node what the others do not take: LeaseKeeper). One claimed
    // here could not be recorded, and nobody would.
    QStringList ids;
    for (const ActiveArchive *a : std::as_const(m_archives)) {
        if (m_guide->channelIndex(a->channelId) >= 0)
            ids << archiveLeaseIdOf(a->channelId);
    }
    ids.sort();
    if (ids.isEmpty() && !m_archiveLeasesStarted)
        return;
    if (!m_archiveLeasesStarted) {
        dvr::LeaseKeeper::Settings settings = leaseSettings();
        settings.capacity = int(ids.size());
        settings.ids = ids;
        settings.peers = archivePeers(); // shared out among the live nodes
        // The cluster's archives, not this node's (its guide may lack some): every node computes
        // the same shares, and one whose guide lacks a channel is not given a share too small.
        settings.shareTotal = int(m_archivedChannels.size());
        if (!m_archiveLeases.start(settings, &error)) {
            qCCritical(lcDiver).noquote() << "the lease table (archives):" << error << "(no archive is recorded on this node)";
            return;
        }
        m_archiveLeasesStarted = true;
        if (m_cluster)
            m_cluster->setArchiving(true); // the others share the archives out with this node from now on
    } else {
        m_archiveLeases.setPeers(archivePeers());
        m_archiveLeases.setShareTotal(int(m_archivedChannels.size()));
        // An empty scope would mean every archive: none is held then.
        m_archiveLeases.setIds(ids.isEmpty() ? QStringList{u"archive:"_qs} : ids);
    }
    for (const ActiveArchive *a : std::as_const(m_archives)) {
        const QJsonObject spec{{u"archive"_qs, a->channelId}};
        if (!m_archiveLeases.store().add(archiveLeaseIdOf(a->channelId), QJsonDocument(spec).toJson(QJsonDocument::Compact), &error))
            qCWarning(lcDiver).noquote() << "the archive of" << a->channelId << "is not offered to the nodes:" << error;
    }
    m_archiveLeases.claimNow();
}

QStringList DiverServer::activeArchives() const
{
    QStringList out;
    for (const ActiveArchive *a : std::as_const(m_archives)) {
        if (a->recorder)
            out << a->channelId;
    }
    out.sort();
    return out;
}

void DiverServer::onArchiveClaimed(const dvr::LeaseJob &job, const QString &previousNode)
{
    const QString channelId = job.id.mid(int(archiveLeaseIdOf({}).size()));
    // Claimed only from the keeper's scope, which startArchives() builds from m_archives and sets
    // (setIds) on this thread right after changing it; claims, renewals and take-backs stay in it.
    ActiveArchive *a = m_archives.value(channelId);
    Q_ASSERT_X(a, "DiverServer::onArchiveClaimed", "an archive lease claimed outside the keeper's scope");
    a->held = true;
    if (job.epoch > m_leaseEpochs.value(job.id))
        m_leaseEpochs.insert(job.id, job.epoch);
    if (startArchiveRecorder(a) && !previousNode.isEmpty() && previousNode != m_config.nodeId)
        qCWarning(lcDiver).noquote() << "the archive of" << channelId << "taken over from node" << previousNode
                                     << "(its lease expired); writing on in" << a->directory;
}

void DiverServer::onArchiveLost(const QString &leaseId, bool handedOver)
{
    m_leaseEpochs.remove(leaseId); // claimed again, it comes with a new epoch
    ActiveArchive *a = m_archives.value(leaseId.mid(int(archiveLeaseIdOf({}).size())));
    if (!a)
        return;
    a->held = false;
    if (!a->recorder)
        return;
    if (handedOver)
        qCInfo(lcDiver).noquote() << "the archive of" << a->channelId << "goes to another node (balancing the archives):"
                                  << "its recorder stops, the next node writes on after a marked gap";
    else
        qCWarning(lcDiver).noquote() << "the archive of" << a->channelId
                                     << (m_archiveLeases.livenessLost()
                                             ? "is no longer this node's (it could not confirm its liveness lock): its recorder stops"
                                             : "was taken over by another node (this node's lease expired): its recorder stops");
    std::function<void()> then;
    if (handedOver) {
        // Freed once the recorder has written its last: the next node never writes beside it.
        m_archiveLeases.holdRelease(leaseId);
        then = [this, leaseId] { m_archiveLeases.releaseHeld(leaseId); };
    }
    stopRecorder(a->recorder, false, std::move(then));
    a->recorder = nullptr;
}

bool DiverServer::startArchiveRecorder(ActiveArchive *a)
{
    if (a->recorder)
        return true;
    if (folderBusy(a->directory)) {
        if (!std::exchange(a->awaitsFolder, true)) {
            whenFolderFree(a->directory, [this, channelId = a->channelId] {
                ActiveArchive *archive = m_archives.value(channelId);
                if (!archive)
                    return;
                archive->awaitsFolder = false;
                if (!m_stopping && archive->held)
                    startArchiveRecorder(archive);
            });
        }
        return false;
    }
    QString error;
    const qint64 epoch = writerEpoch(m_archiveLeases, archiveLeaseIdOf(a->channelId), a->directory, &error);
    if (epoch == 0) {
        a->retryAt = now() + kRetrySeconds;
        qCWarning(lcDiver).noquote() << "the archive of" << a->channelId << "does not start:" << error
                                     << QStringLiteral("(again in %1 s)").arg(kRetrySeconds);
        return false;
    }
    auto *recorder = new dvr::Recorder;
    dvr::RecorderSettings s;
    s.epoch = epoch;
    s.source = sourceFor(a->channelId);
    s.directory = a->directory;
    s.chunkMs = 3600 * 1000;
    s.segmentSeconds = m_config.segmentSeconds;
    s.niceness = kRecorderNiceness;
    s.minFreeBytes = m_config.minFreeBytes;
    // Also closed when a hand-over of the archive that did not stop in time is given up.
    s.writeFence = m_archiveLeases.writeFence(archiveLeaseIdOf(a->channelId));
    recorder->setSpaceRecovery([this, dir = a->directory](qint64 need) { return recoverSpace(dir, need); });
    connect(recorder, &dvr::Recorder::stopped, this, [this, recorder, channelId = a->channelId] {
        // Only a fenced archive recorder stops by itself: this thread did not show in time that
        // the node still holds the archive. Given back, and taken back if nobody took it.
        ActiveArchive *archive = m_archives.value(channelId);
        if (!archive || archive->recorder != recorder || !recorder->fenced())
            return;
        qCWarning(lcDiver).noquote() << "the archive of" << channelId
                                     << "stopped by its write fence (its watchdog deadline passed, or another node's epoch is in "
                                        "its folder): another node may write it now";
        archive->recorder = nullptr;
        stopRecorder(recorder, false);
        m_archiveLeases.giveBack(archiveLeaseIdOf(channelId));
    });
    if (m_recorderHook)
        m_recorderHook(*recorder);
    if (s.source.isEmpty() || !recorder->start(s, &error)) {
        a->retryAt = now() + kRetrySeconds;
        qCWarning(lcDiver).noquote() << "the archive of" << a->channelId << "does not start:"
                                     << (s.source.isEmpty() ? QStringLiteral("no stream URL") : error)
                                     << QStringLiteral("(again in %1 s)").arg(kRetrySeconds);
        delete recorder;
        return false;
    }
    a->recorder = recorder;
    qCInfo(lcDiver).noquote() << "archiving" << a->channelId << "into" << a->directory << "for" << m_config.archiveHours << "h";
    return true;
}

qint64 DiverServer::writerEpoch(dvr::LeaseKeeper &keeper, const QString &leaseId, const QString &directory, QString *error)
{
    const qint64 epoch = m_leaseEpochs.value(leaseId);
    const qint64 folder = dvr::ArchiveWriter::folderEpoch(directory);
    if (epoch > 0 && folder <= epoch)
        return epoch;
    if (epoch == 0) {
        *error = QStringLiteral("lease %1 was claimed without an epoch").arg(leaseId);
        return 0;
    }
    // Only the table's holder with the epoch it was given raises it: a node that lost the lease
    // meanwhile (another claimed it, with the epoch after) raises nothing and writes nothing.
    const std::optional<qint64> raised = keeper.store().raiseEpoch(leaseId, m_config.nodeId, epoch, folder + 1, error);
    if (!raised)
        return 0;
    if (*raised == 0) {
        *error = QStringLiteral("%1 names epoch %2, above this node's %3 of lease %4, and the lease is no longer this node's "
                                "with it (another node claimed it)")
                     .arg(directory)
                     .arg(folder)
                     .arg(epoch)
                     .arg(leaseId);
        return 0;
    }
    qCWarning(lcDiver).noquote() << directory << "names epoch" << folder << ", above the lease table's" << epoch << "for" << leaseId
                                 << "(the table was made again while the storage was kept): raised to" << *raised;
    m_leaseEpochs.insert(leaseId, *raised);
    return *raised;
}

void DiverServer::stopRecorder(dvr::Recorder *recorder, bool finish, std::function<void()> then)
{
    // A recorder's last write and sync can take seconds on a busy disk (one took over 10 s):
    // never on this thread, which answers HTTP and renews the leases.
    recorder->disconnect(this);
    recorder->setParent(this); // deleted with the server at the latest
    m_stoppingRecorders.append({recorder, finish, std::move(then)});
    connect(recorder, &dvr::Recorder::stopped, this, [this, recorder] { onRecorderStopped(recorder); });
    recorder->requestStop(finish);
    if (recorder->isStopped()) // ended before (its end time came) and said so already
        QMetaObject::invokeMethod(this, [this, recorder] { onRecorderStopped(recorder); }, Qt::QueuedConnection);
}

void DiverServer::onRecorderStopped(dvr::Recorder *recorder)
{
    const auto it = std::find_if(m_stoppingRecorders.begin(), m_stoppingRecorders.end(),
                                 [recorder](const StoppingRecorder &r) { return r.recorder == recorder; });
    if (it == m_stoppingRecorders.end())
        return; // reported twice (stopped before it was asked), or waited for by stop()
    const StoppingRecorder stopped = *it;
    m_stoppingRecorders.erase(it);
    const QString directory = recorder->directory();
    recorder->disconnect(this);
    recorder->deleteLater(); // its threads have ended: no wait
    if (stopped.then)
        stopped.then();
    if (!folderBusy(directory)) {
        for (const auto &action : m_folderWaiters.take(directory))
            action();
    }
}

bool DiverServer::folderBusy(const QString &directory) const
{
    return std::any_of(m_stoppingRecorders.cbegin(), m_stoppingRecorders.cend(),
                       [&directory](const StoppingRecorder &r) { return r.recorder->directory() == directory; });
}

void DiverServer::whenFolderFree(const QString &directory, std::function<void()> action)
{
    if (folderBusy(directory))
        m_folderWaiters[directory].append(std::move(action));
    else
        action();
}

void DiverServer::sweepRetention()
{
    // The snapshot the recorders' threads free space from, and the archive window applied here.
    QList<dvr::RetainedArchive> archives;
    for (const ActiveArchive *a : std::as_const(m_archives)) {
        if (a->recorder) // the window is kept by the node that writes the archive
            archives.append({a->directory, qint64(m_config.archiveHours) * 3600 * 1000});
    }
    archives.append(closedArchives()); // archived no more: kept for their recordings only
    QList<dvr::RetainedRecording> recordings;
    QString e;
    const bool orphans = now() - m_lastOrphanSweepAt >= kOrphanSweepSeconds;
    const QStringList candidates = orphans ? orphanCandidates() : QStringList();
    const auto rows = m_store.recordings(&e, {}, false);
    if (!rows)
        return;
    // Read once a sweep, not once per recording: thousands of recordings on PostgreSQL would keep
    // this thread (HTTP, lease renewals) busy for seconds.
    const auto copyRows = m_store.copies(&e);
    const auto ruleRows = m_rules.rules(&e);
    if (!copyRows || !ruleRows) {
        qCWarning(lcDiver).noquote() << "retention: cannot read the copies or rules:" << e;
        return;
    }
    if (orphans) {
        m_lastOrphanSweepAt = now();
        sweepOrphans(candidates, *copyRows);
    }
    QHash<qint64, const CopyRow *> copyById;
    for (const CopyRow &copy : *copyRows)
        copyById.insert(copy.id, &copy);
    QHash<qint64, const dvr::RecordingRule *> ruleById;
    for (const dvr::RecordingRule &rule : *ruleRows)
        ruleById.insert(rule.id, &rule);
    const qint64 t = now();
    // Retention is a viewer's: each viewer's recording is retained (keep-until, keep-N of the
    // viewer's series rule) on its own, whoever else recorded the airing. A recording that
    // expires loses the viewer's entitlement (its row); the files go only with the last
    // recording that references them: a copy with its last viewer's row (deleteRecording), an
    // archive's chunks with the archive's window once no kept range overlaps them.
    QHash<QString, RecordingRow> rowOf; ///< by retention id ("rec:<id>")
    for (const RecordingRow &r : *rows) {
        dvr::RetainedRecording rr;
        rr.id = QStringLiteral("rec:%1").arg(r.id);
        rr.range = {r.recordStart * 1000, r.recordStop * 1000};
        bool settled = true;    ///< recorded to its end: neither keep-until nor keep-N deletes what is still recorded
        bool anEpisode = true;  ///< counts toward keep-N (a recording that failed or holds nothing does not)
        if (r.copyId == 0) {
            // Its archive's folder whether the channel is archived now or not (its chunks stay
            // as long as it does).
            rr.directory = archiveFolderOf(r.channelId);
            if (rr.directory.isEmpty())
                continue; // nothing of it on this node's storage
            settled = r.stopped != 0 || r.recordStop <= t;
        } else {
            if (m_copies.contains(r.copyId))
                continue; // written now by this node
            const CopyRow *copy = copyById.value(r.copyId);
            if (!copy || copy->state == CopyState::Recording || folderBusy(copy->directory))
                continue; // written now, here or on another node (or its recorder still stopping)
            // Not an own copy for the plan: its folder goes with its last viewer's row
            // (expireRecordings), never from the plan by one viewer's expiry.
            rr.directory = copy->directory;
            // A failed or empty copy is not one of the episodes kept: counted, it would push good
            // older episodes out (a source down for the last two episodes of a keep-2 rule).
            anEpisode = copy->state == CopyState::Finished && copy->segments > 0;
        }
        if (settled) {
            rr.keepUntilMs = r.keepUntil * 1000; // applies to a kept recording too
            // Keep-N applies to a viewer's own series episodes, not to what the viewer keeps.
            const dvr::RecordingRule *rule = ruleById.value(r.ruleId);
            if (!r.kept && rule && rule->keep > 0 && rule->keepPolicy == dvr::KeepPolicy::ReplaceOldest) {
                if (r.copyId == 0) {
                    const auto coverage = rangeCoverage(r, t * 1000);
                    anEpisode = coverage && coverage->ended() && coverage->coveredToMs > 0;
                }
                if (anEpisode) {
                    rr.group = QStringLiteral("%1:%2").arg(r.owner).arg(r.ruleId);
                    rr.keepEpisodes = rule->keep;
                }
            }
        }
        rowOf.insert(rr.id, r);
        recordings.append(rr);
    }
    {
        QMutexLocker lock(&s_retention->mutex);
        s_retention->archives = archives;
        s_retention->recordings = recordings;
    }
    dvr::RetentionPlan plan = dvr::Retention::plan(archives, recordings, t * 1000);
    if (plan.deletions.isEmpty() && plan.expiredRecordings.isEmpty())
        return;
    // The expired recordings' rows first, each with its copy when it was the copy's last; the
    // archive chunks after, from the recordings as they are then: one whose row stays (kept or
    // its keep-until moved meanwhile on another node, or not deleted) keeps the chunks its range
    // is in, which the plan made without it would have deleted.
    const QSet<QString> expired = expireRecordings(plan, rowOf);
    if (expired.size() < plan.expiredRecordings.size()) {
        QList<dvr::RetainedRecording> remaining;
        for (dvr::RetainedRecording rr : std::as_const(recordings)) {
            if (expired.contains(rr.id))
                continue;
            if (plan.expiredRecordings.contains(rr.id)) { // stays until the next sweep decides again
                rr.keepUntilMs = 0;
                rr.group.clear();
                rr.keepEpisodes = 0;
            }
            remaining.append(rr);
        }
        plan = dvr::Retention::plan(archives, remaining, t * 1000);
    }
    QStringList errors;
    const qint64 freed = dvr::Retention::apply(plan, &errors);
    qCInfo(lcDiver).noquote() << "retention freed" << freed << "bytes of archives," << plan.deletions.size() << "deletions;"
                              << expired.size() << "recordings expired"
                              << (errors.isEmpty() ? QString() : u"; failed: "_qs + errors.join(u"; "));
}

QSet<QString> DiverServer::expireRecordings(const dvr::RetentionPlan &plan, const QHash<QString, RecordingRow> &rowOf)
{
    QSet<QString> gone;
    for (const QString &id : plan.expiredRecordings) {
        const auto it = rowOf.constFind(id);
        if (it == rowOf.cend())
            continue;
        const RecordingRow &decided = *it;
        QString e;
        // Read again: the viewer may have kept it, or moved its keep-until, since the sweep read
        // it (on this node's thread no, but on another node sharing the database yes).
        const auto fresh = m_store.recording(decided.id, &e);
        if (!fresh) {
            if (!e.isEmpty())
                qCWarning(lcDiver).noquote() << "retention: recording" << decided.id << "is not expired (tried again at the next sweep):" << e;
            else
                gone.insert(id); // deleted already
            continue;
        }
        if (fresh->kept != decided.kept || fresh->keepUntil != decided.keepUntil || fresh->copyId != decided.copyId) {
            qCInfo(lcDiver).noquote() << "retention: recording" << decided.id << "changed meanwhile; decided on again at the next sweep";
            continue;
        }
        const auto deleted = m_store.deleteRecording(decided.id, RecordingStore::Unchanged{decided.kept, decided.keepUntil, decided.copyId}, &e);
        if (!deleted) {
            qCWarning(lcDiver).noquote() << "retention: recording" << decided.id << "is not expired (tried again at the next sweep):" << e;
            continue;
        }
        if (deleted->changed) {
            qCInfo(lcDiver).noquote() << "retention: recording" << decided.id << "changed as it was deleted; decided on again at the next sweep";
            continue;
        }
        gone.insert(id);
        if (!deleted->removed)
            continue;
        qCInfo(lcDiver).noquote() << "retention: recording" << decided.id << "of" << decided.owner << "(" << decided.title << ")"
                                  << "expired"
                                  << (deleted->copy ? QStringLiteral("with its copy %1, the last recording in it").arg(deleted->copy->id)
                                                    : decided.copyId != 0 ? QStringLiteral("; its copy stays for its other viewers")
                                                                          : QStringLiteral("; the archive's chunks go with its window"));
        recordingDeleted(decided, *deleted);
        publish(QStringLiteral("deleted"), QJsonObject{{u"id"_qs, decided.id}, {u"reason"_qs, u"retention"_qs}}, decided.owner);
    }
    return gone;
}

void DiverServer::recordingDeleted(const RecordingRow &row, const RecordingDeletion &deleted)
{
    m_settledCoverage.remove(row.id);
    if (deleted.copy) {
        const CopyRow copy = *deleted.copy;
        if (ActiveCopy *active = m_copies.take(copy.id)) {
            // Its lease ends with it (else renewed until a restart, holding capacity).
            stopRecorder(active->recorder, false, [this, id = copy.id] { finishCopyLease(id, u"deleted"_qs); });
            delete active;
        }
        announce(ClusterChange::Kind::CopyRemoved, copy.id);
        // Once its recorder has written its last: nothing is written into it after; after the
        // commit, so a crash between leaves an orphan folder (sweepOrphans), never a row whose
        // files are gone.
        whenFolderFree(copy.directory, [this, copy] { removeCopyFolder(copy); });
    } else if (row.copyId == 0) {
        m_lastSweepAt = 0; // a range of an archive: chunks it alone held go at the next sweep
    }
}

QStringList DiverServer::orphanCandidates() const
{
    // Listed before the rows are read: a copy's folder is made by its recorder, after its row
    // was committed, so a folder seen here whose row the later read does not find has none.
    QStringList out;
    const qint64 before = QDateTime::currentSecsSinceEpoch() - kOrphanAgeSeconds;
    for (const QString &root : m_storage->paths()) {
        QDir recordings(QDir(root).filePath(u"recordings"_qs));
        for (const QString &channel : recordings.entryList(QDir::Dirs | QDir::NoDotAndDotDot | QDir::NoSymLinks)) {
            QDir dir(recordings.filePath(channel));
            for (const QFileInfo &folder : dir.entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot | QDir::NoSymLinks)) {
                // Only what is named as a copy's folder: not a level more (a channel id with a
                // '/' made one before its folder was encoded), nor what an operator put there.
                if (!copyFolderPattern().match(folder.fileName()).hasMatch())
                    continue;
                // Written to lately: a recorder (maybe another node's, of a copy just deleted)
                // may still be at it.
                if (folder.lastModified().toSecsSinceEpoch() < before)
                    out.append(QDir::cleanPath(folder.absoluteFilePath()));
            }
        }
    }
    return out;
}

void DiverServer::sweepOrphans(const QStringList &candidates, const QList<CopyRow> &copies)
{
    // A folder is a copy's when a row names it by its channel folder and name, or by its copy
    // id: not by its whole path, which another node (its storage mounted elsewhere), or this one
    // under another configuration (a relative storage path), wrote otherwise.
    QSet<QString> named;
    QSet<qint64> ids;
    for (const CopyRow &c : copies) {
        named.insert(copyFolderKey(c.directory));
        ids.insert(c.id);
    }
    for (const ActiveCopy *c : std::as_const(m_copies)) {
        named.insert(copyFolderKey(c->row.directory));
        ids.insert(c->row.id);
    }
    for (const QString &folder : candidates) {
        const QRegularExpressionMatch name = copyFolderPattern().match(QFileInfo(folder).fileName());
        if (named.contains(copyFolderKey(folder)) || (name.hasCaptured(1) && ids.contains(name.captured(1).toLongLong()))
            || folderBusy(folder))
            continue;
        if (QDir(folder).removeRecursively())
            qCInfo(lcDiver).noquote() << "retention: removed the orphan folder" << folder << "(no copy names it)";
        else
            qCWarning(lcDiver).noquote() << "retention: the orphan folder" << folder << "could not be removed";
    }
}

qint64 DiverServer::recoverSpace(const QString &directory, qint64 needBytes)
{
    // Only what lies on the disk short of space is deleted for it.
    const QByteArray device = QStorageInfo(directory).device();
    const auto onTheDisk = [&device](const QString &folder) { return QStorageInfo(folder).device() == device; };
    QMutexLocker recovering(&s_retention->recovering);
    const qint64 startedMs = QDateTime::currentMSecsSinceEpoch();
    if (s_retention->futileUntilMs.value(device) > startedMs)
        return 0;

    // On a recorder's thread: only the snapshot is read here; the store catches up on the next
    // sweep (a copy whose folder is gone is dropped then).
    QList<dvr::RetainedArchive> archives;
    QList<dvr::RetainedRecording> recordings;
    {
        QMutexLocker lock(&s_retention->mutex);
        archives = s_retention->archives;
        recordings = s_retention->recordings;
    }
    // A recording expires on the server's thread, from its row as it is then (expireRecordings),
    // never here from the snapshot (up to a sweep old: a keep-until moved since would count as
    // passed): every recording in it holds its chunks here, and one it says has expired asks
    // for a sweep at once, which deletes its row and then what only it held.
    if (!dvr::Retention::expired(recordings, startedMs).isEmpty())
        QMetaObject::invokeMethod(this, [this] { m_lastSweepAt = 0; }, Qt::QueuedConnection);
    for (dvr::RetainedRecording &r : recordings) {
        r.keepUntilMs = 0;
        r.group.clear();
        r.keepEpisodes = 0;
    }
    dvr::RetentionPlan plan = dvr::Retention::planForSpace(archives, recordings, startedMs, needBytes, onTheDisk);
    QStringList errors;
    const qint64 freed = dvr::Retention::apply(plan, &errors);
    qCWarning(lcDiver).noquote() << "disk space low on" << device << "(" << directory << "): retention freed" << freed << "of"
                                 << needBytes << "bytes needed"
                                 << (freed > 0 ? QString() : QStringLiteral("; not tried again there for %1 s").arg(kFutileRecoveryMs / 1000))
                                 << (errors.isEmpty() ? QString() : u"; failed: "_qs + errors.join(u"; "));
    if (freed <= 0)
        s_retention->futileUntilMs.insert(device, QDateTime::currentMSecsSinceEpoch() + kFutileRecoveryMs);
    return freed;
}

void DiverServer::publish(const QString &type, const QJsonObject &body, const QString &owner)
{
    QJsonObject message = body;
    message.insert(QStringLiteral("type"), type);
    Q_EMIT event(message, owner);
    // Thousands of boxes listen: the viewer's sockets and the operators', not a walk of them all.
    const auto viewer = m_viewerSockets.equal_range(owner);
    if (m_operatorSockets.isEmpty() && viewer.first == viewer.second)
        return;
    const QString text = QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Compact));
    for (QWebSocket *socket : std::as_const(m_operatorSockets))
        socket->sendTextMessage(text);
    for (auto it = viewer.first; it != viewer.second; ++it)
        (*it)->sendTextMessage(text);
}

namespace {
/// Closes an /events socket with 1008 and `why`; one whose peer does not answer the close (gone
/// without a word) is dropped 10 s later.
void closeEventSocket(QWebSocket *socket, const QString &why)
{
    socket->close(QWebSocketProtocol::CloseCodePolicyViolated, why);
    QTimer::singleShot(10000, socket, [socket] { socket->abort(); });
}
} // namespace

void DiverServer::acceptEvents(QWebSocket *socket)
{
    // /events?ticket=<a box's ticket> (its own recordings) or ?token=<admin token> (everyone's).
    const QUrlQuery query(socket->requestUrl());
    std::optional<Identity> identity;
    QString why = QStringLiteral("a ticket or the admin token is required");
    if (socket->requestUrl().path() != u"/events"_qs) {
        why = QStringLiteral("no such WebSocket path; use /events");
    } else if (const QString token = query.queryItemValue(QStringLiteral("token")); !token.isEmpty()) {
        if (isAdminToken(token.toUtf8()))
            identity = Identity{true, {}};
        else
            why = adminTokenRefusal();
    } else if (const QString ticket = query.queryItemValue(QStringLiteral("ticket"), QUrl::FullyDecoded); !ticket.isEmpty()) {
        identity = m_auth.verifyTicket(ticket.toLatin1(), now(), &why);
    } else if (m_config.adminToken.isEmpty() && socket->peerAddress().isLoopback()) {
        // As for HTTP (identify()): not when a proxy on this machine passed it on.
        const QNetworkRequest &r = socket->request();
        if (!r.hasRawHeader("Forwarded") && !r.hasRawHeader("X-Forwarded-For") && !r.hasRawHeader("X-Real-IP"))
            identity = Identity{true, {}};
    }
    if (!identity) {
        socket->close(QWebSocketProtocol::CloseCodePolicyViolated, why.left(120));
        socket->deleteLater();
        return;
    }
    // A box (or the operators together) holds a few sockets at most: a new one past them closes
    // the oldest, which a box that reconnected after a dropped network leaves behind unseen.
    const auto sameOwner = [&identity](const EventClient &c) {
        return c.identity.isOperator == identity->isOperator && c.identity.owner == identity->owner
            && c.socket->state() == QAbstractSocket::ConnectedState;
    };
    for (qsizetype open = std::count_if(m_eventClients.cbegin(), m_eventClients.cend(), sameOwner);
         open >= m_config.maxEventSocketsPerOwner; --open) {
        const auto oldest = std::find_if(m_eventClients.cbegin(), m_eventClients.cend(), sameOwner);
        qCInfo(lcDiver).noquote() << "events: closing the oldest socket of" << (identity->isOperator ? u"the operators"_qs : identity->owner)
                                  << "for a new one (at most" << m_config.maxEventSocketsPerOwner << "each)";
        closeEventSocket(oldest->socket,
                         QStringLiteral("replaced by a newer connection (at most %1 each)").arg(m_config.maxEventSocketsPerOwner));
    }
    socket->setParent(this);
    m_eventClients.append({socket, *identity});
    if (identity->isOperator)
        m_operatorSockets.append(socket);
    else
        m_viewerSockets.insert(identity->owner, socket);
    connect(socket, &QWebSocket::disconnected, this, [this, socket, identity = *identity] {
        m_eventClients.removeIf([socket](const EventClient &c) { return c.socket == socket; });
        if (identity.isOperator)
            m_operatorSockets.removeOne(socket);
        else
            m_viewerSockets.remove(identity.owner, socket);
        socket->deleteLater();
    });
    // A ticket is good until it expires, and so is the socket it opened: the box opens a new
    // one with its fresh ticket.
    if (identity->expiresAt > 0) {
        const qint64 leftMs = qBound(qint64(0), (identity->expiresAt - now()) * 1000, qint64(std::numeric_limits<int>::max()));
        QTimer::singleShot(int(leftMs), socket, [socket] {
            closeEventSocket(socket, QStringLiteral("ticket expired; reconnect with a fresh ticket"));
        });
    }
    socket->sendTextMessage(QString::fromUtf8(QJsonDocument(QJsonObject{{u"type"_qs, u"hello"_qs},
                                                                        {u"node"_qs, m_config.nodeId},
                                                                        {u"owner"_qs, identity->owner}})
                                                  .toJson(QJsonDocument::Compact)));
}

} // namespace iptv::diver
