#include "releaseservice.h"

#include "boxsender.h"

#include "boxes/fleet.h"
#include "cluster/liveupdates.h"
#include "domain/actionresult.h"
#include "domain/auditlog.h"
#include "domain/config.h"
#include "domain/credentials.h"
#include "http/httpapi.h"

#include <core/configfile.h>
#include <core/metrics.h>
#include <core/numbers.h>
#include <core/sqldatabase.h>
#include <payload/bundle.h>

#include <QCborMap>
#include <QCommandLineParser>
#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QSettings>
#include <QTemporaryFile>
#include <QtConcurrent/QtConcurrentRun>

Q_LOGGING_CATEGORY(lcReleases, "iptv.control.releases")

namespace iptv::control {

using namespace iptv::protocol;

namespace {

// Progress pushes per rollout: a result a millisecond from 10,000 boxes must not become 10,000
// updates to every console.
constexpr qint64 PublishIntervalMs = 500;

ReleaseChannel fromPayload(iptv::payload::Channel c)
{
    return c == iptv::payload::Channel::Experimental ? ReleaseChannel::Experimental : ReleaseChannel::Clean;
}

QString signatureName(iptv::payload::SignatureState s)
{
    // The names Cerberus shows (libs/cerberus releasecontroller.cpp).
    switch (s) {
    case iptv::payload::SignatureState::NotChecked: return u"not-checked"_qs;
    case iptv::payload::SignatureState::Valid: return u"valid"_qs;
    case iptv::payload::SignatureState::Invalid: return u"invalid"_qs;
    case iptv::payload::SignatureState::UnknownKey: return u"unknown-key"_qs;
    case iptv::payload::SignatureState::Missing: return u"missing"_qs;
    }
    return {};
}

QJsonObject rolloutJson(const Rollout &r)
{
    QJsonObject o = r.progress().toJson();
    const RolloutRecord &rec = r.record();
    o.insert(u"groupPlan"_qs, QJsonDocument::fromJson(rec.groupPlanJson).object());
    o.insert(u"seed"_qs, QString::number(rec.seed));
    o.insert(u"createdBy"_qs, rec.createdBy);
    o.insert(u"createdAt"_qs, rec.createdAt);
    o.insert(u"updatedAt"_qs, rec.updatedAt);
    o.insert(u"startedAt"_qs, rec.startedAt);
    o.insert(u"finishedAt"_qs, rec.finishedAt);
    return o;
}

ActionResult notFound(const QString &what)
{
    return ActionResult::error(404, u"not-found"_qs, what);
}

} // namespace

// ---- configuration

void addReleaseCommandLineOptions(QCommandLineParser *parser)
{
    parser->addOptions({
        {QStringLiteral("releases-dir"), QStringLiteral("Directory for release bundles (default <data-dir>/releases)."),
         QStringLiteral("dir")},
        {QStringLiteral("trust-key"),
         QStringLiteral("Ed25519 public key (.pub) trusted to sign release bundles; repeat for several."), QStringLiteral("file")},
        {QStringLiteral("release-url"),
         QStringLiteral("Base URL boxes download bundles from, e.g. http://control.example:8421 (default: the bind "
                        "address, or 127.0.0.1, and the HTTP port)."),
         QStringLiteral("url")},
    });
}

bool loadReleaseConfigFile(const QString &path, ReleaseConfig *config, QString *error)
{
    iptv::config::IniFile file;
    if (!file.open(path, error))
        return false;
    auto resolve = [&file](const QString &p) { return file.resolve(p); };
    QSettings &s = file.settings();
    s.beginGroup(u"releases"_qs);
    if (s.contains(u"directory"_qs))
        config->directory = resolve(s.value(u"directory"_qs).toString());
    if (s.contains(u"trusted_keys"_qs)) {
        // QSettings reads "a.pub, b.pub" as a list already; a single name comes as a string.
        config->trustedKeyFiles.clear();
        for (const QString &k : s.value(u"trusted_keys"_qs).toStringList()) {
            if (!k.trimmed().isEmpty())
                config->trustedKeyFiles.append(resolve(k.trimmed()));
        }
    }
    if (s.contains(u"public_url"_qs))
        config->publicUrl = s.value(u"public_url"_qs).toString();
    if (s.contains(u"result_timeout_seconds"_qs)
        && !parseIntInRange(u"releases/result_timeout_seconds"_qs, s.value(u"result_timeout_seconds"_qs).toString(), 1, 7 * 86400,
                     &config->resultTimeoutSeconds, error))
        return false;
    if (s.contains(u"max_offers"_qs)
        && !parseIntInRange(u"releases/max_offers"_qs, s.value(u"max_offers"_qs).toString(), 1, 100, &config->maxOffers, error))
        return false;
    if (s.contains(u"offers_per_second"_qs)
        && !parseIntInRange(u"releases/offers_per_second"_qs, s.value(u"offers_per_second"_qs).toString(), 1, 1000000,
                     &config->offersPerSecond, error))
        return false;
    return true;
}

bool loadReleaseConfig(const QCommandLineParser &parser, const ControlConfig &control, ReleaseConfig *config,
                       QString *error)
{
    if (!control.configFile.isEmpty() && !loadReleaseConfigFile(control.configFile, config, error))
        return false;
    if (parser.isSet(u"releases-dir"_qs))
        config->directory = parser.value(u"releases-dir"_qs);
    if (parser.isSet(u"trust-key"_qs))
        config->trustedKeyFiles = parser.values(u"trust-key"_qs);
    if (parser.isSet(u"release-url"_qs))
        config->publicUrl = parser.value(u"release-url"_qs);
    if (!config->publicUrl.isEmpty()) {
        const QUrl url(config->publicUrl);
        if (!url.isValid() || (url.scheme() != u"http" && url.scheme() != u"https") || url.host().isEmpty()) {
            *error = QStringLiteral("release URL \"%1\": expected http(s)://host[:port]").arg(config->publicUrl);
            return false;
        }
    }
    return true;
}

// ---- service

ReleaseService::ReleaseService(const ControlConfig &control, const Fleet *fleet, BoxSender *boxes, LiveUpdates *live,
                               AuditLog *audit, iptv::MetricsRegistry *registry, QObject *parent)
    : QObject(parent), m_control(control), m_fleet(fleet), m_boxes(boxes), m_live(live), m_audit(audit)
{
    m_connection = QStringLiteral("controlserver-releases-%1").arg(quintptr(this), 0, 16);
    m_clock.start();
    auto &metrics = *registry;
    m_offers = metrics.counter(u"controlserver_release_offers_total"_qs, u"ReleaseAvailable messages sent to boxes by rollouts."_qs);
    m_resultsOk = metrics.counter(u"controlserver_release_results_total"_qs, u"Install outcomes reported to rollouts."_qs,
                                  {{u"outcome"_qs, u"succeeded"_qs}});
    m_resultsFailed = metrics.counter(u"controlserver_release_results_total"_qs, u"Install outcomes reported to rollouts."_qs,
                                      {{u"outcome"_qs, u"failed"_qs}});
    m_uploadsVerifying = metrics.gauge(u"controlserver_release_uploads_verifying"_qs,
                                       u"Uploaded bundles being written and verified on the worker thread."_qs);
    m_uploadPool.setObjectName(u"release-verify"_qs);
    m_uploadPool.setMaxThreadCount(1);
    m_badReports = metrics.counter(u"controlserver_release_bad_reports_total"_qs,
                                   u"Install or rollback events whose report could not be read (ignored)."_qs);
    m_downloads = metrics.counter(u"controlserver_release_downloads_total"_qs, u"Bundle downloads served to boxes."_qs);
    metrics.gaugeCallback(u"controlserver_rollouts_active"_qs, u"Rollouts in draft, running, paused or halted state."_qs,
                          [this] { return double(m_rollouts.size()); });
    connect(m_live, &LiveUpdates::updated, this, &ReleaseService::onPublished);
    connect(&m_timer, &QTimer::timeout, this, &ReleaseService::tick);
    m_kick.setSingleShot(true);
    connect(&m_kick, &QTimer::timeout, this, &ReleaseService::drive);
    m_publish.setSingleShot(true);
    connect(&m_publish, &QTimer::timeout, this, [this] {
        for (auto &[id, t] : m_rollouts) {
            if (t.publishPending)
                notePublish(id);
        }
    });
}

ReleaseService::~ReleaseService()
{
    stop();
}

bool ReleaseService::start(HttpApi *http, const QByteArray &hashKey, QString *error)
{
    const ControlConfig &control = m_control;
    m_dir = m_config.directory.isEmpty() ? QDir(control.dataDir).filePath(u"releases"_qs) : m_config.directory;
    if (!QDir().mkpath(m_dir)) {
        *error = QStringLiteral("releases directory %1 cannot be created").arg(m_dir);
        return false;
    }
    QString keyError;
    m_keys = iptv::payload::loadPublicKeys(m_config.trustedKeyFiles, &keyError);
    if (!keyError.isEmpty()) {
        *error = QStringLiteral("trusted release key: %1").arg(keyError);
        return false;
    }
    if (m_keys.isEmpty())
        qCWarning(lcReleases) << "no trusted release keys (--trust-key): release uploads are refused";

    // The same hashing key as the box tokens (ControlServer keeps it in the store's meta table).
    m_hashKey = hashKey;

    // Our own connection to the server's database: the release tables live next to the others,
    // and the store helpers (releasestore.h) work on a named connection.
    const QString location = control.effectiveDatabase();
    QString openError;
    if (!openSqlDatabase(location, m_connection, &openError)) {
        *error = u"release store: "_qs + openError;
        return false;
    }
    m_store = std::make_unique<ReleaseStore>(m_connection);
    if (!m_store->createSchema(error))
        return false;
    QString loadError;
    auto active = Rollout::loadActive(m_store.get(), &loadError);
    if (!loadError.isEmpty()) {
        *error = QStringLiteral("active rollouts: %1").arg(loadError);
        return false;
    }
    for (auto &r : active) {
        qCInfo(lcReleases).noquote() << "rollout" << r->id() << "of" << r->release().version << "to"
                                     << releaseChannelName(r->channel()) << "continues:" << rolloutStateName(r->state());
        adopt(std::move(r));
    }

    if (!m_config.publicUrl.isEmpty()) {
        m_baseUrl = m_config.publicUrl;
        while (m_baseUrl.endsWith(u'/'))
            m_baseUrl.chop(1);
    } else {
        const QHostAddress a = control.bindAddress;
        QString host = u"127.0.0.1"_qs;
        if (!a.isNull() && a != QHostAddress::Any && a != QHostAddress::AnyIPv4 && a != QHostAddress::AnyIPv6)
            host = a.protocol() == QAbstractSocket::IPv6Protocol ? u'[' + a.toString() + u']' : a.toString();
        else
            qCInfo(lcReleases) << "boxes download bundles from 127.0.0.1; set --release-url for boxes on other hosts";
        m_baseUrl = QStringLiteral("http://%1:%2").arg(host).arg(http->port());
    }

    addReleaseRoutes(http, this);
    m_timer.start(1000);
    m_started = true;
    qCInfo(lcReleases).noquote() << "releases in" << m_dir << "," << m_keys.size() << "trusted keys,"
                                 << m_rollouts.size() << "active rollouts; downloads from" << m_baseUrl;
    return true;
}

void ReleaseService::stop()
{
    if (!m_started)
        return;
    m_started = false;
    m_timer.stop();
    m_kick.stop();
    m_publish.stop();
    m_rollouts.clear();
    m_remoteOffers.clear();
    unfollowCommands();
    m_store.reset();
    closeSqlDatabase(m_connection);
}

Rollout *ReleaseService::activeRollout(quint64 id) const
{
    const auto it = m_rollouts.find(id);
    return it == m_rollouts.end() ? nullptr : it->second.rollout.get();
}

QList<Rollout *> ReleaseService::activeRollouts() const
{
    QList<Rollout *> out;
    for (const auto &[id, t] : m_rollouts)
        out.append(t.rollout.get());
    return out;
}

void ReleaseService::adopt(std::unique_ptr<Rollout> rollout)
{
    Rollout *r = rollout.get();
    const quint64 id = r->id();
    connect(r, &Rollout::progressChanged, this, [this, id] { notePublish(id); });
    connect(r, &Rollout::rolloutChanged, this, [this, id] { notePublish(id); });
    connect(r, &Rollout::groupOpened, this, [this, r](int index) {
        qCInfo(lcReleases).noquote() << "rollout" << r->id() << "of" << r->release().version << ": group" << index + 1 << "of"
                                     << r->groupCount() << "open";
        kick();
    });
    connect(r, &Rollout::halted, this, [this, r](const QString &reason) {
        qCWarning(lcReleases).noquote() << "rollout" << r->id() << "of" << r->release().version << "to"
                                        << releaseChannelName(r->channel()) << "HALTED:" << reason;
        m_audit->audit(u"system"_qs, u"rollout.halt"_qs, QStringLiteral("rollout %1").arg(r->id()), u"halted"_qs,
                        QStringLiteral("%1 to %2: %3").arg(r->release().version, releaseChannelName(r->channel()), reason));
    });
    connect(r, &Rollout::completed, this, [this, r] {
        const RolloutProgress p = r->progress();
        qCInfo(lcReleases).noquote() << "rollout" << r->id() << "of" << r->release().version << "completed:" << p.succeeded
                                     << "succeeded," << p.failed << "failed," << p.skipped << "skipped";
        m_audit->audit(u"system"_qs, u"rollout.complete"_qs, QStringLiteral("rollout %1").arg(r->id()), u"ok"_qs,
                        QStringLiteral("%1 to %2: %3 succeeded, %4 failed, %5 skipped")
                            .arg(r->release().version, releaseChannelName(r->channel()))
                            .arg(p.succeeded).arg(p.failed).arg(p.skipped));
    });
    m_rollouts[id].rollout = std::move(rollout);
}

bool ReleaseService::reachable(qint64 boxId) const
{
    // The cluster's presence marks boxes other nodes hold as online in this node's fleet.
    return m_boxes->isOnlineHere(boxId) || m_boxes->isOnlineInCluster(boxId);
}

void ReleaseService::onPublished(const QString &topic, const QCborMap &update)
{
    if (topic != u"commands"_qs || m_remoteOffers.isEmpty())
        return;
    const qint64 command = update.value(u"command"_qs).toInteger();
    const auto it = m_remoteOffers.constFind(command);
    if (it == m_remoteOffers.cend())
        return;
    const QString state = update.value(u"state"_qs).toString();
    const bool ok = state == u"succeeded"_qs;
    if (!ok && state != u"failed"_qs && state != u"expired"_qs)
        return; // delivered, acknowledged: the install is under way
    const RemoteOffer offer = *it;
    m_remoteOffers.erase(it);
    if (m_remoteOffers.isEmpty())
        unfollowCommands();
    Rollout *r = activeRollout(offer.rollout);
    if (!r)
        return;
    const QString text = ok ? QStringLiteral("installed (command %1, through another node)").arg(command)
                            : QStringLiteral("install-release command %1 %2").arg(command).arg(state);
    if (r->reportResult(offer.box, ok, text) == Rollout::ReportOutcome::Recorded)
        (ok ? m_resultsOk : m_resultsFailed)->increment();
    kick();
}

QString ReleaseService::downloadUrl(const QString &version, qint64 boxId) const
{
    // The box id in the query lets the download check one token hash instead of scanning the fleet.
    return QStringLiteral("%1/box/releases/%2.bundle?box=%3").arg(m_baseUrl, version, boxIdText(boxId));
}

void ReleaseService::kick()
{
    // Coalesced: a burst of results or reconnects becomes one pass over the rollouts.
    if (m_started && !m_kick.isActive())
        m_kick.start(20);
}

void ReleaseService::tick()
{
    for (auto &[id, t] : m_rollouts)
        t.rollout->expireOverdue();
    drive();
    // Finished rollouts leave memory (their final state was pushed; the API reloads them on demand).
    for (auto it = m_rollouts.begin(); it != m_rollouts.end();) {
        if (isActive(it->second.rollout->state())) {
            ++it;
            continue;
        }
        if (it->second.publishPending)
            publishRollout(it->first);
        it = m_rollouts.erase(it);
    }
}

void ReleaseService::drive()
{
    if (!m_started)
        return;
    const qint64 nowMs = m_clock.elapsed();
    for (auto &[id, t] : m_rollouts) {
        Rollout *r = t.rollout.get();
        if (r->state() != RolloutState::Running)
            continue;
        if (nowMs - t.windowStartMs >= 1000) {
            t.windowStartMs = nowMs;
            t.offeredInWindow = 0;
        }
        const int budget = m_config.offersPerSecond - t.offeredInWindow;
        if (budget <= 0)
            continue;
        const QList<qint64> boxes = r->nextTargets(budget, [this](qint64 box) { return reachable(box); });
        if (boxes.isEmpty())
            continue;
        const Release &rel = r->release();
        ReleaseAvailable offer;
        offer.version = rel.version;
        // The channel the box is on (the rollout's), which a box adopts as its own after installing.
        offer.channel = releaseChannelName(r->channel());
        offer.minBoxVersion = rel.minBoxVersion;
        offer.sha256 = QByteArray::fromHex(rel.sha256);
        offer.size = rel.size;
        offer.rolloutId = r->id();
        offer.force = r->isForced();
        QList<qint64> remote;
        QList<QCborMap> remoteArgs;
        for (const qint64 box : boxes) {
            offer.url = downloadUrl(rel.version, box);
            if (m_boxes->sendToBox(box, MessageType::ReleaseAvailable, offer.toBody()))
                continue;
            // Held by another node: an install-release command with the same fields, which the
            // bus routes there; the bundle still comes from this node's download URL.
            remote.append(box);
            remoteArgs.append(offer.toBody());
        }
        if (!remote.isEmpty()) {
            if (!m_followsCommands) {
                // The results come as command states from the nodes that hold the boxes: this node
                // follows "commands" while it waits for any, and says so before the routes go out.
                m_followsCommands = true;
                m_live->follow(u"commands"_qs);
                m_live->announceInterest();
            }
            QString error;
            const qint64 expires = QDateTime::currentSecsSinceEpoch() + 3600;
            const QList<qint64> ids = m_boxes->issueServerCommands(QStringLiteral("rollout %1").arg(r->id()),
                                                                    CommandKind::InstallRelease, remote, remoteArgs, expires, &error);
            if (ids.isEmpty())
                qCWarning(lcReleases).noquote() << "rollout" << r->id() << "could not offer to" << remote.size()
                                                << "boxes on other nodes:" << error;
            for (qsizetype i = 0; i < ids.size(); ++i)
                m_remoteOffers.insert(ids.at(i), RemoteOffer{r->id(), remote.at(i)});
            if (m_remoteOffers.isEmpty())
                unfollowCommands(); // nothing was issued: no result to wait for
        }
        r->markOffered(boxes);
        t.offeredInWindow += int(boxes.size());
        m_offers->increment(double(boxes.size()));
        qCDebug(lcReleases).noquote() << "rollout" << r->id() << "offered" << rel.version << "to" << boxes.size() << "boxes";
        Q_EMIT offered(r->id(), boxes);
    }
}

void ReleaseService::onBoxConnected(qint64 boxId, bool approved)
{
    if (!approved || m_rollouts.empty())
        return;
    const BoxInfo *box = m_fleet->byId(boxId);
    if (!box)
        return;
    const QString version = m_fleet->string(box->version);
    bool offerable = false;
    for (auto &[rid, t] : m_rollouts) {
        Rollout *r = t.rollout.get();
        const auto target = r->target(boxId);
        if (!target || isTerminal(target->state))
            continue;
        // Back with the release's version and no result yet: it installed and restarted into it,
        // on trial until its health check. The check's result (committed or rolled back) comes as
        // an event; if it was lost, the offer made again when the result times out is answered
        // with "committed" by a box that runs it for good.
        if (version == r->release().version && target->state == TargetState::Offered) {
            r->markInstalling(boxId);
            continue;
        }
        offerable = offerable || r->isOfferable(boxId);
    }
    if (offerable)
        kick();
}

void ReleaseService::onBoxEvent(qint64 boxId, const BoxEvent &event)
{
    if (m_rollouts.empty() || (event.kind != u"install" && event.kind != u"rollback"))
        return;
    QString error;
    const auto report = InstallReport::fromEvent(event, &error);
    if (!report) {
        m_badReports->increment();
        qCWarning(lcReleases).noquote() << boxIdText(boxId) << "sent an unreadable" << event.kind
                                        << "event:" << error;
        return;
    }
    Rollout *r = report->rolloutId ? activeRollout(report->rolloutId) : nullptr;
    if (!r) {
        // An install without a rollout id (an operator's install-release command): the rollout of
        // that version that targets the box, if any.
        for (auto &[id, t] : m_rollouts) {
            if (t.rollout->release().version == report->version && t.rollout->target(boxId)) {
                r = t.rollout.get();
                break;
            }
        }
    }
    if (!r || r->release().version != report->version)
        return;
    // Started and installed are progress: an installed release runs on trial after the box
    // restarts, and only its health check decides. Committed holds; failed and rolled back do not.
    if (report->phase == InstallReport::Phase::Started || report->phase == InstallReport::Phase::Installed) {
        r->markInstalling(boxId);
        return;
    }
    const bool ok = report->phase == InstallReport::Phase::Committed;
    const auto outcome = r->reportResult(boxId, ok, event.text.left(500));
    if (outcome == Rollout::ReportOutcome::Recorded)
        (ok ? m_resultsOk : m_resultsFailed)->increment();
    kick();
}

void ReleaseService::notePublish(quint64 id)
{
    const auto it = m_rollouts.find(id);
    if (it == m_rollouts.end())
        return;
    Tracked &t = it->second;
    const qint64 nowMs = m_clock.elapsed();
    const qint64 wait = t.lastPublishMs + PublishIntervalMs - nowMs;
    if (wait <= 0) {
        publishRollout(id);
        return;
    }
    t.publishPending = true;
    if (!m_publish.isActive() || m_publish.remainingTime() > wait)
        m_publish.start(int(wait));
}

void ReleaseService::unfollowCommands()
{
    if (!m_followsCommands)
        return;
    m_followsCommands = false;
    m_live->unfollow(u"commands"_qs);
}

void ReleaseService::publishRollout(quint64 id)
{
    const auto it = m_rollouts.find(id);
    if (it == m_rollouts.end())
        return;
    Tracked &t = it->second;
    t.publishPending = false;
    t.lastPublishMs = m_clock.elapsed();
    LiveUpdates *live = m_live;
    if (!live->wants(u"rollouts"_qs))
        return;
    live->publish(u"rollouts"_qs, QCborMap::fromJsonObject({{u"topic"_qs, u"rollouts"_qs},
                                                            {u"kind"_qs, u"rollout"_qs},
                                                            {u"rollout"_qs, rolloutJson(*t.rollout)}}));
}

void ReleaseService::publishRelease(const QString &kind, const QJsonObject &release)
{
    LiveUpdates *live = m_live;
    if (!live->wants(u"rollouts"_qs))
        return;
    live->publish(u"rollouts"_qs, QCborMap::fromJsonObject({{u"topic"_qs, u"rollouts"_qs},
                                                            {u"kind"_qs, u"release"_qs},
                                                            {u"action"_qs, kind},
                                                            {u"release"_qs, release}}));
}

std::unique_ptr<Rollout> ReleaseService::loadFinished(quint64 id, QString *error)
{
    return Rollout::load(m_store.get(), id, error);
}

// ---- releases

void ReleaseService::uploadRelease(const OperatorIdentity &op, const QByteArray &bundle, UploadDone done)
{
    auto refuse = [this, account = op.account](int status, const QString &code, const QString &message) {
        m_audit->audit(account, u"release.upload"_qs, {}, u"refused"_qs, QStringLiteral("%1: %2").arg(code, message));
        qCWarning(lcReleases).noquote() << account << "release upload refused:" << code << message;
        return ActionResult::error(status, code, message);
    };
    if (bundle.isEmpty())
        return done(refuse(400, u"bad-request"_qs, u"body: the bundle bytes (iptv-payload build), got nothing"_qs));
    if (m_keys.isEmpty())
        return done(refuse(422, u"UnknownKey"_qs,
                           u"this server trusts no release key (--trust-key / releases/trusted_keys): no bundle can be verified"_qs));

    // Verified from a file in the releases directory, so an accepted bundle is renamed into place
    // rather than written twice; a refused one is deleted with the temporary file. Writing it,
    // checking the signature and hashing every file of a large bundle take long: a worker does it
    // (one upload at a time) and the loop goes on answering boxes and operators meanwhile.
    auto tmp = std::make_shared<QTemporaryFile>(QDir(m_dir).filePath(u".upload-XXXXXX"_qs));
    if (!tmp->open())
        return done(refuse(500, u"internal"_qs, QStringLiteral("cannot write to %1: %2").arg(m_dir, tmp->errorString())));
    auto *watcher = new QFutureWatcher<VerifiedUpload>(&m_uploads);
    connect(watcher, &QFutureWatcher<VerifiedUpload>::finished, &m_uploads,
            [this, watcher, op, tmp, refuse, done = std::move(done)] {
                watcher->deleteLater();
                m_uploadsVerifying->set(--m_uploadsRunning);
                if (!m_started)
                    return done(ActionResult::error(503, u"unavailable"_qs, u"the release service stopped"_qs));
                const VerifiedUpload v = watcher->result();
                if (!v.writeError.isEmpty())
                    return done(refuse(500, u"internal"_qs, v.writeError));
                done(storeUpload(op, tmp.get(), v, refuse));
            });
    m_uploadsVerifying->set(++m_uploadsRunning);
    watcher->setFuture(QtConcurrent::run(&m_uploadPool, [tmp, bundle, keys = m_keys, dir = m_dir, hook = m_verifyHook] {
        if (hook)
            hook();
        VerifiedUpload v;
        if (tmp->write(bundle) != bundle.size() || !tmp->flush()) {
            v.writeError = QStringLiteral("cannot write to %1: %2").arg(dir, tmp->errorString());
            return v;
        }
        v.result = iptv::payload::verifyBundle(tmp->fileName(), keys);
        v.sha256 = QCryptographicHash::hash(bundle, QCryptographicHash::Sha256).toHex();
        v.size = bundle.size();
        return v;
    }));
}

ActionResult ReleaseService::storeUpload(const OperatorIdentity &op, QTemporaryFile *tmp, const VerifiedUpload &v,
                                         const std::function<ActionResult(int, const QString &, const QString &)> &refuse)
{
    const iptv::payload::BundleResult &r = v.result;
    if (!r.ok())
        return refuse(422, iptv::payload::errorName(r.status.error), r.status.toString());
    const QString version = r.manifest.version;
    if (!isValidReleaseVersion(version) || version.contains(u'/'))
        return refuse(422, u"BadManifest"_qs, QStringLiteral("version \"%1\" cannot name a release").arg(version.left(64)));
    if (m_store->release(version))
        return refuse(409, u"conflict"_qs, QStringLiteral("release %1 is already uploaded (delete it first)").arg(version));

    const QString path = QDir(m_dir).filePath(version + u".bundle"_qs);
    QFile::remove(path); // a leftover of a release deleted from the store only
    tmp->close();
    if (!tmp->rename(path))
        return refuse(500, u"internal"_qs, QStringLiteral("cannot store %1: %2").arg(path, tmp->errorString()));
    tmp->setAutoRemove(false);

    Release rel;
    rel.version = version;
    rel.channel = fromPayload(r.manifest.channel);
    rel.minBoxVersion = r.manifest.minBoxVersion;
    rel.sha256 = v.sha256;
    rel.size = v.size;
    rel.filePath = path;
    rel.manifestJson = r.manifestBytes;
    rel.signatureKeyId = r.signatureKeyId;
    rel.uploadedBy = op.account;
    rel.uploadedAt = QDateTime::currentMSecsSinceEpoch();
    QString error;
    if (!m_store->addRelease(rel, &error)) {
        QFile::remove(path);
        return refuse(500, u"internal"_qs, QStringLiteral("release %1 not stored: %2").arg(version, error));
    }
    m_audit->audit(op.account, u"release.upload"_qs, version, u"ok"_qs,
                    QStringLiteral("%1, %2 bytes, sha256 %3, key %4, min box %5")
                        .arg(releaseChannelName(rel.channel)).arg(rel.size).arg(QString::fromLatin1(rel.sha256), rel.signatureKeyId,
                                                                          rel.minBoxVersion.isEmpty() ? u"-"_qs : rel.minBoxVersion));
    qCInfo(lcReleases).noquote() << op.account << "uploaded release" << version << releaseChannelName(rel.channel) << rel.size << "bytes";
    QJsonObject json = rel.toJson();
    json.insert(u"signature"_qs, signatureName(r.signature));
    publishRelease(u"uploaded"_qs, json);
    return ActionResult::success({{u"release"_qs, json}}, 201);
}

ActionResult ReleaseService::listReleases(const QString &channel)
{
    std::optional<ReleaseChannel> ch;
    if (!channel.isEmpty()) {
        ch = releaseChannelFromName(channel);
        if (!ch)
            return ActionResult::error(400, u"bad-request"_qs, QStringLiteral("channel: clean or experimental, got \"%1\"").arg(channel.left(40)));
    }
    QString error;
    const QList<Release> list = m_store->releases(ch, &error);
    if (!error.isEmpty())
        return ActionResult::error(500, u"internal"_qs, error);
    QJsonArray items;
    for (const Release &r : list) {
        QJsonObject o = r.toJson();
        o.remove(u"manifest"_qs); // the list stays small; GET /api/releases/<version> has it
        items.append(o);
    }
    return ActionResult::success({{u"items"_qs, items}});
}

ActionResult ReleaseService::releaseDetail(const QString &version)
{
    QString error;
    const auto rel = m_store->release(version, &error);
    if (!rel)
        return error.isEmpty() ? notFound(QStringLiteral("no release %1").arg(version.left(64)))
                               : ActionResult::error(500, u"internal"_qs, error);
    QJsonObject o = rel->toJson();
    // The signature as it stands now, against the keys trusted now (a key may have been removed).
    const iptv::payload::BundleResult r = iptv::payload::inspectBundle(rel->filePath, m_keys);
    o.insert(u"signature"_qs, r.hasManifest ? signatureName(r.signature) : u"unreadable"_qs);
    if (!r.ok())
        o.insert(u"fileError"_qs, r.status.toString());
    QJsonArray rollouts;
    for (const RolloutRecord &rec : m_store->rollouts(false)) {
        if (rec.releaseVersion == version)
            rollouts.append(QJsonObject{{u"id"_qs, QString::number(rec.id)}, {u"channel"_qs, releaseChannelName(rec.channel)},
                                        {u"state"_qs, rolloutStateName(rec.state)}});
    }
    o.insert(u"rollouts"_qs, rollouts);
    return ActionResult::success({{u"release"_qs, o}});
}

ActionResult ReleaseService::deleteRelease(const OperatorIdentity &op, const QString &version)
{
    QString error;
    const auto rel = m_store->release(version, &error);
    if (!rel) {
        m_audit->audit(op.account, u"release.delete"_qs, version.left(64), u"failed"_qs, u"no such release"_qs);
        return notFound(QStringLiteral("no release %1").arg(version.left(64)));
    }
    if (!m_store->removeRelease(version, &error)) {
        m_audit->audit(op.account, u"release.delete"_qs, version, u"refused"_qs, error);
        return ActionResult::error(409, u"conflict"_qs, error);
    }
    QFile::remove(rel->filePath);
    m_audit->audit(op.account, u"release.delete"_qs, version, u"ok"_qs);
    qCInfo(lcReleases).noquote() << op.account << "deleted release" << version;
    publishRelease(u"deleted"_qs, {{u"version"_qs, version}});
    return ActionResult::success({{u"version"_qs, version}, {u"status"_qs, u"deleted"_qs}});
}

// ---- rollouts

ActionResult ReleaseService::createRollout(const OperatorIdentity &op, const QJsonObject &request)
{
    const QString version = request.value(u"release").toString(request.value(u"version").toString());
    auto refuse = [&](int status, const QString &code, const QString &message) {
        m_audit->audit(op.account, u"rollout.create"_qs, version.left(64), u"refused"_qs, message);
        return ActionResult::error(status, code, message);
    };
    if (version.isEmpty())
        return refuse(400, u"bad-request"_qs, u"release: the version to roll out"_qs);
    QString error;
    const auto rel = m_store->release(version, &error);
    if (!rel)
        return error.isEmpty() ? refuse(404, u"not-found"_qs, QStringLiteral("no release %1 (POST /api/releases first)").arg(version.left(64)))
                               : refuse(500, u"internal"_qs, error);
    ReleaseChannel channel = rel->channel;
    if (request.contains(u"channel")) {
        const auto ch = releaseChannelFromName(request.value(u"channel").toString());
        if (!ch)
            return refuse(400, u"bad-request"_qs, u"channel: clean or experimental"_qs);
        channel = *ch;
    }
    for (const auto &[rid, t] : m_rollouts) {
        if (t.rollout->channel() == channel && isActive(t.rollout->state()))
            return refuse(409, u"conflict"_qs, QStringLiteral("the %1 channel already has rollout %2 (%3, %4); abort or complete it first")
                                                   .arg(releaseChannelName(channel)).arg(rid)
                                                   .arg(t.rollout->release().version, rolloutStateName(t.rollout->state())));
    }
    RolloutOptions options;
    if (request.contains(u"groups")) {
        if (!request.value(u"groups").isObject()
            || !GroupPlan::fromJson(request.value(u"groups").toObject(), &options.groups, &error))
            return refuse(400, u"bad-request"_qs, u"groups: "_qs + (error.isEmpty() ? u"expected {percent:[...]} or {count:[...]}"_qs : error));
    }
    options.thresholds.resultTimeoutMs = qint64(m_config.resultTimeoutSeconds) * 1000;
    options.thresholds.maxOffers = m_config.maxOffers;
    if (request.contains(u"thresholds")) {
        if (!request.value(u"thresholds").isObject()
            || !RolloutThresholds::fromJson(request.value(u"thresholds").toObject(), &options.thresholds, &error))
            return refuse(400, u"bad-request"_qs, error.isEmpty() ? u"thresholds: expected an object"_qs : error);
    }
    options.force = request.value(u"force").toBool();
    const QJsonValue seed = request.value(u"seed");
    if (seed.isString())
        options.seed = seed.toString().toULongLong();
    else if (seed.isDouble())
        options.seed = quint64(seed.toInteger());
    options.createdBy = op.account;

    // Candidates: every approved box as the in-memory fleet knows it now.
    FleetFilter approved;
    approved.state = u"approved"_qs;
    const Fleet &fleet = *m_fleet;
    QList<BoxCandidate> boxes;
    for (qint64 id : fleet.select(approved)) {
        const BoxInfo *b = fleet.byId(id);
        boxes.append({id, fleet.string(b->version), b->releaseChannel});
    }
    const auto refuseFor = [&](RolloutRefusal why) {
        switch (why) {
        case RolloutRefusal::Invalid: return refuse(400, u"bad-request"_qs, error);
        case RolloutRefusal::Conflict: return refuse(409, u"conflict"_qs, error);
        case RolloutRefusal::Internal: break;
        }
        return refuse(500, u"internal"_qs, error);
    };
    RolloutRefusal why = RolloutRefusal::Internal;
    const auto plan = RolloutPlanner::plan(*rel, channel, boxes, options, &error, &why);
    if (!plan)
        return refuseFor(why);
    auto rollout = Rollout::create(m_store.get(), *plan, &error, {}, &why);
    if (!rollout)
        return refuseFor(why);
    const quint64 id = rollout->id();
    const QString target = QStringLiteral("rollout %1").arg(id);
    const QString planText = QString::fromUtf8(QJsonDocument(plan->summary()).toJson(QJsonDocument::Compact));
    m_audit->audit(op.account, u"rollout.create"_qs, target, u"ok"_qs,
                    QStringLiteral("%1 to %2%3: %4").arg(version, releaseChannelName(channel),
                                                         options.force ? u" FORCED (versions may go down)"_qs : QString(), planText));
    if (options.force)
        qCWarning(lcReleases).noquote() << op.account << "created FORCED rollout" << id << "of" << version << "(rollback allowed)";
    qCInfo(lcReleases).noquote() << op.account << "created rollout" << id << "of" << version << "to" << releaseChannelName(channel) << planText;
    Rollout *r = rollout.get();
    adopt(std::move(rollout));
    if (request.value(u"start").toBool()) {
        if (!r->start(&error)) {
            m_audit->audit(op.account, u"rollout.start"_qs, target, u"failed"_qs, error);
            return ActionResult::error(500, u"internal"_qs, error);
        }
        m_audit->audit(op.account, u"rollout.start"_qs, target, u"ok"_qs);
        kick();
    }
    notePublish(id);
    return ActionResult::success({{u"rollout"_qs, rolloutJson(*r)}, {u"plan"_qs, plan->summary()}}, 201);
}

ActionResult ReleaseService::listRollouts(bool activeOnly)
{
    QString error;
    const QList<RolloutRecord> records = m_store->rollouts(activeOnly, &error);
    if (!error.isEmpty())
        return ActionResult::error(500, u"internal"_qs, error);
    QJsonArray items;
    for (const RolloutRecord &rec : records) {
        if (Rollout *r = activeRollout(rec.id)) {
            items.append(rolloutJson(*r));
            continue;
        }
        // Finished: it no longer changes, so its full state is loaded once and kept.
        auto cached = m_finished.constFind(rec.id);
        if (cached == m_finished.constEnd() && !isActive(rec.state)) {
            QString why;
            if (const auto r = loadFinished(rec.id, &why))
                cached = m_finished.insert(rec.id, rolloutJson(*r));
        }
        if (cached != m_finished.constEnd()) {
            items.append(*cached);
            continue;
        }
        items.append(QJsonObject{{u"id"_qs, QString::number(rec.id)},
                                 {u"version"_qs, rec.releaseVersion},
                                 {u"channel"_qs, releaseChannelName(rec.channel)},
                                 {u"state"_qs, rolloutStateName(rec.state)},
                                 {u"reason"_qs, rec.reason},
                                 {u"force"_qs, rec.force},
                                 {u"currentGroup"_qs, rec.currentGroup},
                                 {u"createdBy"_qs, rec.createdBy},
                                 {u"createdAt"_qs, rec.createdAt},
                                 {u"finishedAt"_qs, rec.finishedAt}});
    }
    return ActionResult::success({{u"items"_qs, items}});
}

ActionResult ReleaseService::rolloutDetail(const QString &idText)
{
    const quint64 id = idText.toULongLong();
    if (Rollout *r = activeRollout(id))
        return ActionResult::success({{u"rollout"_qs, rolloutJson(*r)}});
    if (const auto cached = m_finished.constFind(id); cached != m_finished.constEnd())
        return ActionResult::success({{u"rollout"_qs, *cached}});
    QString error;
    const auto r = id ? loadFinished(id, &error) : nullptr;
    if (!r)
        return notFound(QStringLiteral("no rollout %1").arg(idText.left(40)));
    return ActionResult::success({{u"rollout"_qs, rolloutJson(*r)}});
}

ActionResult ReleaseService::rolloutAction(const OperatorIdentity &op, const QString &idText, const QString &verb,
                                           const QJsonObject &body)
{
    const quint64 id = idText.toULongLong();
    const QString target = QStringLiteral("rollout %1").arg(idText.left(40));
    const QString action = u"rollout."_qs + verb;
    Rollout *r = activeRollout(id);
    if (!r) {
        QString error;
        const bool exists = id && loadFinished(id, &error);
        m_audit->audit(op.account, action, target, u"failed"_qs, exists ? u"finished"_qs : u"no such rollout"_qs);
        return exists ? ActionResult::error(409, u"conflict"_qs, QStringLiteral("%1 is finished").arg(target))
                      : notFound(QStringLiteral("no %1").arg(target));
    }
    QString error;
    QString detail;
    bool ok = false;
    if (verb == u"start") {
        ok = r->start(&error);
    } else if (verb == u"pause") {
        ok = r->pause(&error);
    } else if (verb == u"resume") {
        ok = r->resume(&error);
    } else if (verb == u"abort") {
        detail = body.value(u"reason").toString(QStringLiteral("aborted by %1").arg(op.account)).left(500);
        ok = r->abort(detail, &error);
    } else if (verb == u"complete") {
        ok = r->complete(&error);
    } else if (verb == u"thresholds") {
        RolloutThresholds t = r->record().thresholds;
        ok = RolloutThresholds::fromJson(body.value(u"thresholds").isObject() ? body.value(u"thresholds").toObject() : body, &t, &error);
        if (!ok) {
            m_audit->audit(op.account, action, target, u"failed"_qs, error);
            return ActionResult::error(400, u"bad-request"_qs, error);
        }
        detail = QString::fromUtf8(QJsonDocument(t.toJson()).toJson(QJsonDocument::Compact));
        ok = r->setThresholds(t, &error);
    } else {
        return notFound(QStringLiteral("no action %1 (start, pause, resume, abort, complete, thresholds)").arg(verb.left(40)));
    }
    m_audit->audit(op.account, action, target, ok ? u"ok"_qs : u"refused"_qs, ok ? detail : error);
    if (!ok)
        return ActionResult::error(409, u"conflict"_qs, error);
    qCInfo(lcReleases).noquote() << op.account << verb << target << "->" << rolloutStateName(r->state());
    kick();
    notePublish(id);
    return ActionResult::success({{u"rollout"_qs, rolloutJson(*r)}});
}

ActionResult ReleaseService::rolloutTargets(const QString &idText, const QString &state, const QString &group, int offset,
                                            int limit)
{
    const quint64 id = idText.toULongLong();
    std::unique_ptr<Rollout> loaded;
    Rollout *r = activeRollout(id);
    QString error;
    if (!r && id) {
        loaded = loadFinished(id, &error);
        r = loaded.get();
    }
    if (!r)
        return notFound(QStringLiteral("no rollout %1").arg(idText.left(40)));
    std::optional<TargetState> st;
    if (!state.isEmpty()) {
        st = targetStateFromName(state);
        if (!st)
            return ActionResult::error(400, u"bad-request"_qs,
                                       u"state: pending, offered, installing, succeeded, failed or skipped"_qs);
    }
    int g = -2;
    if (group == u"skipped") {
        g = -1;
    } else if (!group.isEmpty()) {
        bool ok = false;
        g = group.toInt(&ok);
        if (!ok || g < 0 || g >= r->groupCount())
            return ActionResult::error(400, u"bad-request"_qs,
                                       QStringLiteral("group: 0 to %1, or skipped").arg(r->groupCount() - 1));
    }
    QJsonArray items;
    for (const TargetRecord &t : r->targets(st, g, offset, limit))
        items.append(t.toJson());
    return ActionResult::success({{u"rollout"_qs, QString::number(id)}, {u"offset"_qs, offset}, {u"limit"_qs, limit},
                                  {u"items"_qs, items}});
}

ActionResult ReleaseService::authorizeDownload(const QString &bearer, const QString &boxHint, const QString &version,
                                               QString *filePath)
{
    const QByteArray token = fromBase64Url(bearer);
    if (token.isEmpty())
        return ActionResult::error(401, u"unauthorized"_qs, u"send Authorization: Bearer <box token>"_qs);
    const QByteArray hash = keyedHash(m_hashKey, token);
    const Fleet &fleet = *m_fleet;
    const BoxInfo *box = nullptr;
    if (!boxHint.isEmpty()) {
        const BoxInfo *b = fleet.byId(parseBoxId(boxHint));
        if (b && b->state == BoxState::Approved && constantTimeEqual(b->tokenHash, hash))
            box = b;
    } else {
        // No hint (a hand-made URL): one hash comparison per approved box.
        FleetFilter approved;
        approved.state = u"approved"_qs;
        for (qint64 id : fleet.select(approved)) {
            const BoxInfo *b = fleet.byId(id);
            if (constantTimeEqual(b->tokenHash, hash)) {
                box = b;
                break;
            }
        }
    }
    if (!box)
        return ActionResult::error(401, u"unauthorized"_qs, u"the box token is not valid"_qs);
    const auto rel = m_store->release(version);
    if (!rel || !QFileInfo::exists(rel->filePath))
        return notFound(QStringLiteral("no release %1").arg(version.left(64)));
    *filePath = rel->filePath;
    m_downloads->increment();
    qCDebug(lcReleases).noquote() << boxIdText(box->id) << "downloads" << version;
    return ActionResult::success({});
}

} // namespace iptv::control
