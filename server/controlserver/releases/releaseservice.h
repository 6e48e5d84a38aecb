#pragma once

// Releases and staged rollouts in the running server: the glue between the rollout logic
// (releasestore.h, rollout.h: pure state, no network), the signed bundles (libs/payload), the
// box sessions and the operator API.
//
// - Uploads (POST /api/releases) are verified against the trusted keys before anything is kept;
//   accepted bundles live in <releases dir>/<version>.bundle, their metadata in the store.
// - Offers: a timer (and a coalesced kick when a group opens, a box comes online or reports) asks
//   every running rollout for nextTargets() among the boxes online on this node and sends each a
//   ReleaseAvailable{version, channel, minBox, url, sha256, size, rolloutId}, then markOffered().
//   ReleaseAvailable rather than an install-release command: a rollout to 10,000 boxes would
//   otherwise write 10,000 command rows that duplicate what rollout_targets already track, and the
//   rollout's own retry/timeout policy (maxOffers, resultTimeout) would fight the command expiry.
// - Outcomes: boxes (libs/boxlink UpdateInstaller, fleetsim) report BoxEvents kind "install"
//   (data.phase started | installed | committed | failed, data.version, data.rollout) and
//   "rollback" (data.version = the version rolled back from): started and installed ->
//   markInstalling (an installed release runs on trial until the box's health check), committed
//   -> success, failed/rollback -> failure. A box that comes back online running the release is
//   installing; a box offered a release it already committed answers "committed".
// - Progress goes to operators on the "rollouts" topic (at most twice a second per rollout);
//   halts and completions are audited and logged.
// - Downloads: GET /box/releases/<version>.bundle with the box's session token as Bearer,
//   streamed from the file.
//
// One node must drive a rollout (rollout.h). A node drives the rollouts it created or loaded at its
// start and offers only to boxes connected to it: offers are not routed over the FleetBus yet, so
// a cluster runs rollouts from one node.

#include "rollout.h"

#include "store/releasestore.h"

#include <payload/bundle.h>
#include <payload/keys.h>

#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QTemporaryFile>
#include <QStringList>
#include <QThreadPool>
#include <QTimer>

#include <functional>
#include <map>
#include <memory>
#include <optional>

QT_BEGIN_NAMESPACE
class QCommandLineParser;
QT_END_NAMESPACE

namespace iptv {
class Counter;
class Gauge;
class MetricsRegistry;
}

namespace iptv::protocol {
struct BoxEvent;
}

namespace iptv::control {

class AuditLog;
class BoxSender;
class Fleet;
class HttpApi;
class LiveUpdates;
struct ActionResult;
struct ControlConfig;
struct OperatorIdentity;

struct ReleaseConfig
{
    QString directory;              ///< bundles; empty = <data dir>/releases
    QStringList trustedKeyFiles;    ///< Ed25519 public keys (iptv-payload keygen .pub files)
    QString publicUrl;              ///< how boxes reach the HTTP port, e.g. http://control.example:8421; empty = derived
    int resultTimeoutSeconds = 1800; ///< default rollout threshold: offered without a result this long = an attempt failed
    int maxOffers = 2;              ///< default rollout threshold: attempts per box
    int offersPerSecond = 500;      ///< ReleaseAvailable messages per rollout per second (download load)
};

/// Declares --releases-dir, --trust-key (repeatable), --release-url.
void addReleaseCommandLineOptions(QCommandLineParser *parser);
/// [releases] of the config file named in `control` (when any), then the flags.
bool loadReleaseConfig(const QCommandLineParser &parser, const ControlConfig &control, ReleaseConfig *config,
                       QString *error);
/// Only the [releases] section of an INI file.
bool loadReleaseConfigFile(const QString &path, ReleaseConfig *config, QString *error);

class ReleaseService : public QObject
{
    Q_OBJECT
public:
    /// Boxes are planned from `fleet` and reached through `boxes`; progress goes out through
    /// `live`, actions to `audit`, metrics to `metrics`. `control` is the server's configuration
    /// (data directory, database, bind address) and outlives the service.
    ReleaseService(const ControlConfig &control, const Fleet *fleet, BoxSender *boxes, LiveUpdates *live, AuditLog *audit,
                   iptv::MetricsRegistry *registry, QObject *parent = nullptr);
    ~ReleaseService() override;

    /// Before start().
    void setConfig(ReleaseConfig config) { m_config = std::move(config); }
    const ReleaseConfig &config() const { return m_config; }

    /// Opens the release tables, loads the trusted keys and the active rollouts, registers the
    /// routes on `http` (listening already: downloads go to its port) and starts the timer.
    /// `hashKey` keys the box token hashes (downloads present a box's token). Called by
    /// ControlServer::start once the store is open.
    bool start(HttpApi *http, const QByteArray &hashKey, QString *error);
    void stop();

    QString releasesDir() const { return m_dir; }
    const QList<iptv::payload::PublicKey> &trustedKeys() const { return m_keys; }
    ReleaseStore *store() const { return m_store.get(); }
    /// The active (draft/running/paused/halted) rollout with this id, or null.
    Rollout *activeRollout(quint64 id) const;
    QList<Rollout *> activeRollouts() const;

    // ---- operator actions (HTTP), each audited
    using UploadDone = std::function<void(const ActionResult &)>;
    /// Writes and verifies the bundle on a worker thread (signature, every file's hash) and calls
    /// `done` on this thread; the event loop keeps serving meanwhile.
    void uploadRelease(const OperatorIdentity &op, const QByteArray &bundle, UploadDone done);
    /// Tests: runs on the worker thread before each upload is verified (to hold it there).
    void setVerifyHook(std::function<void()> hook) { m_verifyHook = std::move(hook); }
    ActionResult listReleases(const QString &channel);
    ActionResult releaseDetail(const QString &version);
    ActionResult deleteRelease(const OperatorIdentity &op, const QString &version);
    ActionResult createRollout(const OperatorIdentity &op, const QJsonObject &request);
    ActionResult listRollouts(bool activeOnly);
    ActionResult rolloutDetail(const QString &id);
    ActionResult rolloutAction(const OperatorIdentity &op, const QString &id, const QString &verb, const QJsonObject &body);
    ActionResult rolloutTargets(const QString &id, const QString &state, const QString &group, int offset, int limit);
    /// The bundle file for a box download: the box must present its session token; `boxHint` ("b-12",
    /// from the URL the offer carried) makes the check one hash instead of a scan.
    ActionResult authorizeDownload(const QString &bearer, const QString &boxHint, const QString &version,
                                   QString *filePath);

    /// Offers now (tests; the timer does it every second).
    void drive();

    // ---- from the server (ControlServer connects its signals to these)
    /// A box's session opened here: a box already running a rollout's release has succeeded.
    void onBoxConnected(qint64 boxId, bool approved);
    /// A box reported an event: install and rollback events are rollout results.
    void onBoxEvent(qint64 boxId, const iptv::protocol::BoxEvent &event);

Q_SIGNALS:
    /// A ReleaseAvailable went to these boxes (numeric box ids).
    void offered(quint64 rolloutId, const QList<qint64> &boxIds);

private:
    struct Tracked
    {
        std::unique_ptr<Rollout> rollout;
        qint64 lastPublishMs = -1000000;
        bool publishPending = false;
        qint64 windowStartMs = -1000000; ///< offers per second: the current one-second window
        int offeredInWindow = 0;
    };
    /// What the worker gives back for an upload.
    struct VerifiedUpload
    {
        QString writeError; ///< the bundle could not be written to the temporary file
        iptv::payload::BundleResult result;
        QByteArray sha256;  ///< hex
        qint64 size = 0;
    };
    /// Back on the loop: checks the version, renames the file into place, stores and audits.
    ActionResult storeUpload(const OperatorIdentity &op, QTemporaryFile *tmp, const VerifiedUpload &v,
                             const std::function<ActionResult(int, const QString &, const QString &)> &refuse);
    void adopt(std::unique_ptr<Rollout> rollout);
    void tick();
    void kick();
    void notePublish(quint64 id);
    void publishRollout(quint64 id);
    void publishRelease(const QString &kind, const QJsonObject &release);
    /// Active rollout in memory, else loaded from the store (a finished one); null with *error.
    std::unique_ptr<Rollout> loadFinished(quint64 id, QString *error);
    QString downloadUrl(const QString &version, qint64 boxId) const;
    /// Online here, or (in a cluster) on another node: the offer then goes as an install-release
    /// command routed to that node, and its result comes back as an update on "commands"
    /// (followed through LiveUpdates while such offers wait).
    bool reachable(qint64 boxId) const;
    void onPublished(const QString &topic, const QCborMap &update);
    void unfollowCommands();

    const ControlConfig &m_control;
    const Fleet *m_fleet;
    BoxSender *m_boxes;
    LiveUpdates *m_live;
    AuditLog *m_audit;
    ReleaseConfig m_config;
    QString m_connection;
    QString m_dir;
    QByteArray m_hashKey;
    QString m_baseUrl;
    std::unique_ptr<ReleaseStore> m_store;
    QList<iptv::payload::PublicKey> m_keys;
    std::map<quint64, Tracked> m_rollouts;
    struct RemoteOffer
    {
        quint64 rollout = 0;
        qint64 box = 0;
    };
    QHash<qint64, RemoteOffer> m_remoteOffers; ///< install-release commands to other nodes' boxes, by command id
    QHash<quint64, QJsonObject> m_finished; ///< finished rollouts as the API shows them (they no longer change)
    QTimer m_timer;
    QTimer m_kick;
    QTimer m_publish;
    QElapsedTimer m_clock;
    bool m_started = false;
    bool m_followsCommands = false; ///< while remote offers wait for their command results

    iptv::Counter *m_offers = nullptr;
    iptv::Counter *m_resultsOk = nullptr;
    iptv::Counter *m_resultsFailed = nullptr;
    iptv::Counter *m_badReports = nullptr;
    iptv::Gauge *m_uploadsVerifying = nullptr;
    int m_uploadsRunning = 0;
    std::function<void()> m_verifyHook;
    QThreadPool m_uploadPool; ///< one thread: uploads are verified one at a time
    QObject m_uploads;        ///< parent of the running verifications' watchers (deleted before the pool waits)
    iptv::Counter *m_downloads = nullptr;
};

/// Adds the release, rollout and box download routes to `http`.
void addReleaseRoutes(HttpApi *http, ReleaseService *service);

} // namespace iptv::control
