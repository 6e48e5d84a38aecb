#include "server.h"

#include "events.h"
#include "httpapi.h"

#include <core/httputil.h>
#include <epg/guidedelta.h>
#include <epg/xmltvwriter.h>

#include <QBuffer>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QtConcurrent>

Q_LOGGING_CATEGORY(lcServer, "iptv.next.server")

namespace iptv::next {

using namespace iptv::epg;
using iptv::MetricLabels;

namespace {

QByteArray readFileBytes(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool isHttpUrl(const QString &key)
{
    return key.startsWith(u"http://", Qt::CaseInsensitive) || key.startsWith(u"https://", Qt::CaseInsensitive);
}

QString generatorName()
{
    return QStringLiteral("iptvnext " IPTVNEXT_VERSION);
}

} // namespace

IptvNextServer::IptvNextServer(ServerConfig config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
{
    m_refreshTotal = m_metrics.counter(QStringLiteral("iptvnext_refresh_total"), QStringLiteral("Refreshes run (including start-up recompiles)."));
    m_refreshFailures = m_metrics.counter(QStringLiteral("iptvnext_refresh_failures_total"),
                                          QStringLiteral("Refreshes where a source failed or no guide could be compiled."));
    m_refreshDuration = m_metrics.histogram(QStringLiteral("iptvnext_refresh_duration_seconds"),
                                            QStringLiteral("Wall time of a refresh: download, parse, store, compile."),
                                            {1, 5, 15, 30, 60, 120, 300, 600, 1200});
    m_lastSuccessGauge = m_metrics.gauge(QStringLiteral("iptvnext_refresh_last_success_timestamp_seconds"),
                                         QStringLiteral("When a refresh last produced a guide (UTC epoch seconds)."));
    m_metrics.gaugeCallback(QStringLiteral("iptvnext_refresh_running"), QStringLiteral("1 while a refresh runs."),
                            [this] { return m_refreshing ? 1.0 : 0.0; });

    m_schedule.setTimerType(Qt::VeryCoarseTimer);
    connect(&m_schedule, &QTimer::timeout, this, [this] {
        m_nextRefresh = now() + m_schedule.interval() / 1000;
        requestRefresh(QStringLiteral("schedule"));
    });
    connect(&m_jobWatcher, &QFutureWatcher<RefreshReport>::finished, this, &IptvNextServer::jobFinished);
}

IptvNextServer::~IptvNextServer()
{
    stop();
}

qint64 IptvNextServer::now() const
{
    return m_config.fixedNow > 0 ? m_config.fixedNow : QDateTime::currentSecsSinceEpoch();
}

quint16 IptvNextServer::httpPort() const
{
    return m_http ? m_http->port() : 0;
}

quint16 IptvNextServer::eventsPort() const
{
    return m_events ? m_events->port() : 0;
}

JobSettings IptvNextServer::jobSettings() const
{
    JobSettings s;
    s.database = m_config.effectiveDatabase();
    s.guidesDir = m_config.guidesDir();
    s.xmltv = m_config.xmltvSources;
    s.lineup = m_config.lineup;
    s.days = m_config.days;
    s.from = m_config.from;
    s.now = now();
    s.zone = m_config.timeZone;
    s.keep = m_config.keepGuides;
    s.compressionLevel = m_config.compressionLevel;
    s.generator = generatorName();
    s.abort = m_abort;
    s.shrinkGuard = m_config.shrinkGuardPercent / 100.0;
    s.acceptShrink = m_acceptShrink;
    return s;
}

bool IptvNextServer::acceptSource(const QString &key, QString *error)
{
    if (!m_config.xmltvSources.contains(key)) {
        *error = QStringLiteral("\"%1\" is not a configured XMLTV source; see /api/status").arg(key);
        return false;
    }
    qCInfo(lcServer) << "operator accepted the next read of" << key << "however much it shrank";
    m_acceptShrink.insert(key);
    requestRefresh(QStringLiteral("accept"));
    return true;
}

QList<std::pair<QString, std::optional<SourceRecord>>> IptvNextServer::configuredSources()
{
    QHash<QString, SourceRecord> records;
    for (const SourceRecord &r : m_store.sources())
        records.insert(r.key, r);
    QStringList keys = m_config.xmltvSources;
    if (!m_config.lineup.isEmpty())
        keys.append(m_config.lineup);
    QList<std::pair<QString, std::optional<SourceRecord>>> out;
    for (const QString &key : std::as_const(keys)) {
        const auto it = records.constFind(key);
        out.append({key, it != records.cend() ? std::optional(*it) : std::nullopt});
    }
    return out;
}

QStringList IptvNextServer::problems()
{
    QStringList out;
    if (!m_guide)
        out.append(QStringLiteral("no guide compiled yet"));
    else if (const qint64 t = now(); t < m_guide->info().validFrom || t >= m_guide->info().validUntil)
        out.append(QStringLiteral("the served guide does not cover the current time"));
    for (const auto &[key, record] : configuredSources()) {
        if (record && !record->lastOk)
            out.append(key + u": " + record->lastError);
    }
    if (m_lastReport && m_lastReport->compile.attempted && !m_lastReport->compile.ok)
        out.append(u"compile: "_qs + m_lastReport->compile.error);
    return out;
}

bool IptvNextServer::start(QString *error)
{
    if (m_started)
        return true;
    m_startedAt = now();
    if (!QDir().mkpath(m_config.dataDir)) {
        *error = QStringLiteral("cannot create data directory %1").arg(m_config.dataDir);
        return false;
    }
    if (!m_store.open(m_config.effectiveDatabase(), error))
        return false;

    // Serve the last compiled guide before anything else, so a restart never leaves boxes without one.
    bool needRecompile = false;
    const QList<GuideVersion> versions = m_store.guides();
    if (!versions.isEmpty()) {
        const GuideVersion &latest = versions.first();
        QByteArray bytes = readFileBytes(latest.path);
        QString openError;
        auto guide = bytes.isEmpty() ? nullptr : Guide::fromBytes(bytes, &openError, latest.path);
        if (guide && guide->info().checksum == latest.checksum) {
            install(guide, bytes, latest, true);
            qCInfo(lcServer).nospace() << "serving stored guide v" << latest.version << " " << latest.checksum;
        } else {
            qCWarning(lcServer) << "stored guide" << latest.path << "is missing or unreadable" << openError
                                << "; recompiling from the store";
            needRecompile = true;
        }
    }
    if (!needRecompile && !m_guide) {
        // No guide ever compiled, but sources stored (e.g. the guide files were wiped with their table).
        for (const SourceRecord &r : m_store.sources()) {
            if (r.kind == KindXmltv && r.lastSuccess > 0)
                needRecompile = true;
        }
    }

    m_network = new QNetworkAccessManager(this);
    m_http = new HttpApi(this);
    if (!m_http->listen(m_config.bindAddress, m_config.port, error))
        return false;
    m_events = new EventHub(this);
    m_events->attach(m_http->httpServer());
    if (m_guide)
        m_events->announce(announcement());
    // With --port 0 (tests) the events port is chosen by the system too (effectiveEventsPort() is 0).
    if (m_config.eventsPort != 0 && !m_events->listen(m_config.bindAddress, m_config.effectiveEventsPort(), error))
        return false;
    m_metrics.gaugeCallback(QStringLiteral("iptvnext_events_clients"), QStringLiteral("Connected /events WebSocket clients."),
                            [this] { return m_events ? double(m_events->clientCount()) : 0.0; });
    qCInfo(lcServer).nospace() << "iptvnext listening on HTTP port " << httpPort() << ", events on "
                               << (eventsPort() ? QString::number(eventsPort()) : u"the HTTP port only"_qs)
                               << ", data in " << m_config.dataDir << ", store " << m_store.driverName();

    m_started = true;
    if (needRecompile) {
        m_refreshing = true;
        m_abort = std::make_shared<std::atomic_bool>(false);
        launchJob(QStringLiteral("recompile"), {}, true);
    }
    if (m_config.refreshOnStart)
        requestRefresh(QStringLiteral("start"));
    if (m_config.refreshMinutes > 0) {
        m_schedule.start(m_config.refreshMinutes * 60 * 1000);
        m_nextRefresh = now() + m_config.refreshMinutes * 60;
    }
    return true;
}

void IptvNextServer::stop()
{
    if (m_stopping)
        return;
    m_stopping = true;
    m_schedule.stop();
    if (m_http)
        m_http->close();
    if (m_abort)
        m_abort->store(true);
    const auto replies = m_replies;
    for (QNetworkReply *r : replies)
        r->abort();
    // The job checks the abort flag between sources and programmes (the reader's cancel hook),
    // so this wait is short.
    if (m_jobWatcher.isRunning()) {
        qCInfo(lcServer) << "waiting for the running refresh to stop";
        m_jobWatcher.waitForFinished();
    }
    for (QFutureWatcher<QByteArray> *job : std::as_const(m_deltaJobs))
        job->waitForFinished();
    if (m_xmltvJob)
        m_xmltvJob->waitForFinished();
    if (m_events)
        m_events->closeAll();
    m_store.close();
    if (m_started)
        qCInfo(lcServer) << "stopped";
}

bool IptvNextServer::requestRefresh(const QString &trigger)
{
    if (m_stopping || !m_started)
        return false;
    if (m_config.xmltvSources.isEmpty()) {
        qCInfo(lcServer) << "refresh requested but no XMLTV source is configured";
        return false;
    }
    if (m_refreshing) {
        m_refreshPending = true;
        m_pendingTrigger = trigger;
        return true;
    }
    startFetches(trigger);
    return true;
}

void IptvNextServer::startFetches(const QString &trigger)
{
    m_refreshing = true;
    m_trigger = trigger;
    m_abort = std::make_shared<std::atomic_bool>(false);
    m_fetched.clear();
    m_refreshClock.start();
    Q_EMIT refreshStarted(trigger);
    qCInfo(lcServer) << "refresh started:" << trigger;

    QList<std::pair<QString, QString>> sources;
    for (const QString &key : std::as_const(m_config.xmltvSources))
        sources.append({key, KindXmltv});
    if (!m_config.lineup.isEmpty())
        sources.append({m_config.lineup, KindM3u});

    for (const auto &[key, kind] : sources) {
        FetchedSource fs;
        fs.key = key;
        fs.kind = kind;
        const qsizetype index = m_fetched.size();
        if (isHttpUrl(key)) {
            QNetworkRequest request{QUrl(key)};
            request.setTransferTimeout(m_config.downloadTimeoutSeconds * 1000);
            request.setHeader(QNetworkRequest::UserAgentHeader, generatorName());
            // Conditional GET: an unchanged guide costs a 304 instead of a download and a parse.
            if (const auto v = m_validators.constFind(key); v != m_validators.cend()) {
                if (!v->first.isEmpty())
                    request.setRawHeader("If-None-Match", v->first);
                if (!v->second.isEmpty())
                    request.setRawHeader("If-Modified-Since", v->second);
            }
            QNetworkReply *reply = m_network->get(request);
            reply->setProperty("iptvnextStarted", QDateTime::currentMSecsSinceEpoch());
            m_replies.append(reply);
            connect(reply, &QNetworkReply::downloadProgress, reply, [this, reply](qint64 received, qint64) {
                if (received > m_config.maxDownloadBytes) {
                    reply->setProperty("iptvnextTooLarge", true);
                    reply->abort();
                }
            });
            connect(reply, &QNetworkReply::finished, this, [this, reply, index] {
                FetchedSource &f = m_fetched[index];
                f.fetchMs = QDateTime::currentMSecsSinceEpoch() - reply->property("iptvnextStarted").toLongLong();
                const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
                if (status == 304) {
                    f.notModified = true;
                } else if (reply->property("iptvnextTooLarge").toBool())
                    f.fetchError = QStringLiteral("download larger than %1 bytes").arg(m_config.maxDownloadBytes);
                else if (reply->error() != QNetworkReply::NoError)
                    f.fetchError = status ? QStringLiteral("HTTP %1: %2").arg(status).arg(reply->errorString())
                                          : QStringLiteral("download failed: %1").arg(reply->errorString());
                else {
                    f.bytes = reply->readAll();
                    f.etag = reply->rawHeader("ETag");
                    f.lastModified = reply->rawHeader("Last-Modified");
                }
                m_replies.removeOne(reply);
                reply->deleteLater();
                fetchFinished();
            });
        } else if (key.startsWith(u"file:", Qt::CaseInsensitive)) {
            fs.localPath = QUrl(key).toLocalFile();
        } else {
            fs.localPath = key;
        }
        if (!fs.localPath.isEmpty() && !QFileInfo::exists(fs.localPath))
            fs.fetchError = QStringLiteral("file %1 does not exist").arg(fs.localPath);
        m_fetched.append(fs);
    }
    if (m_replies.isEmpty())
        fetchFinished();
}

void IptvNextServer::fetchFinished()
{
    if (!m_replies.isEmpty())
        return;
    if (m_stopping) {
        m_refreshing = false;
        return;
    }
    launchJob(m_trigger, m_fetched, windowMoved());
}

bool IptvNextServer::windowMoved() const
{
    // Unchanged sources still need a compile when there is no guide, or when the default window
    // (from the start of the current UTC day) has moved on since the served one was made.
    if (!m_guide)
        return true;
    return m_config.from == 0 && m_guide->info().validFrom != startOfUtcDay(now());
}

void IptvNextServer::launchJob(const QString &trigger, QList<FetchedSource> sources, bool forceCompile)
{
    m_trigger = trigger;
    if (!m_refreshClock.isValid())
        m_refreshClock.start();
    JobSettings settings = jobSettings();
    m_jobWatcher.setFuture(QtConcurrent::run([settings, sources = std::move(sources), forceCompile, trigger] {
        RefreshReport r = runRefresh(settings, sources, forceCompile);
        r.trigger = trigger;
        return r;
    }));
}

void IptvNextServer::jobFinished()
{
    RefreshReport report = m_jobWatcher.result();
    report.durationMs = m_refreshClock.isValid() ? m_refreshClock.elapsed() : report.durationMs;
    m_refreshClock.invalidate();
    m_refreshTotal->increment();
    m_refreshDuration->observe(report.durationMs / 1000.0);
    if (!report.ok())
        m_refreshFailures->increment();

    for (const SourceOutcome &s : std::as_const(report.sources)) {
        if (s.ok && !s.notModified)
            m_acceptShrink.remove(s.key);
        // Validators only for data that made it into the store: a body that failed to parse
        // must be downloaded whole next time, not answered with a 304.
        if (!s.ok) {
            m_validators.remove(s.key);
        } else if (!s.notModified) {
            for (const FetchedSource &f : std::as_const(m_fetched)) {
                if (f.key == s.key && (!f.etag.isEmpty() || !f.lastModified.isEmpty()))
                    m_validators.insert(s.key, {f.etag, f.lastModified});
            }
        }
        const MetricLabels labels{{QStringLiteral("source"), s.key}};
        m_metrics.gauge(QStringLiteral("iptvnext_source_ok"), QStringLiteral("1 when the source's last read succeeded."), labels)
            ->set(s.ok ? 1 : 0);
        m_metrics.counter(QStringLiteral("iptvnext_source_failures_total"),
                          QStringLiteral("Failed reads of a source (held back ones included)."), labels)
            ->increment(s.ok ? 0 : 1);
        if (s.kind == KindXmltv) {
            m_metrics.gauge(QStringLiteral("iptvnext_source_held"),
                            QStringLiteral("1 while the source's last read is held back by the shrink guard."), labels)
                ->set(s.held ? 1 : 0);
        }
        if (s.ok) {
            m_metrics.gauge(QStringLiteral("iptvnext_source_programmes"),
                            QStringLiteral("Programmes in the source's last good read."), labels)
                ->set(double(s.programmes));
            m_metrics.gauge(QStringLiteral("iptvnext_source_last_success_timestamp_seconds"),
                            QStringLiteral("When the source was last read successfully."), labels)
                ->set(double(now()));
        }
    }
    m_fetched.clear(); // drop downloaded bodies; the job is done with them
    if (report.compile.ok && report.compile.guide) {
        m_lastSuccess = now();
        m_lastSuccessGauge->set(double(m_lastSuccess));
        if (report.compile.version.checksum != m_version.checksum)
            install(report.compile.guide, report.compile.fileBytes, report.compile.version, true);
        else
            reloadKeptVersions();
    }
    if (report.ok()) {
        qCInfo(lcServer).nospace() << "refresh (" << report.trigger << ") done in " << report.durationMs << " ms"
                                   << (report.compile.unchanged ? ", guide unchanged" : "");
    } else {
        QStringList why;
        for (const SourceOutcome &s : std::as_const(report.sources)) {
            if (!s.ok)
                why.append(s.key + u": " + s.error);
        }
        if (report.compile.attempted && !report.compile.ok)
            why.append(u"compile: "_qs + report.compile.error);
        if (!report.compile.attempted && report.trigger != u"recompile")
            why.append(QStringLiteral("no source updated; the guide was not recompiled"));
        qCWarning(lcServer).noquote() << QStringLiteral("refresh (%1) failed; still serving").arg(report.trigger)
                                      << (m_guide ? u"v"_qs + QString::number(m_version.version) : u"no guide"_qs)
                                      << "-" << why.join(u"; ");
    }
    // Keep the last real refresh's report for /api/status, not a start-up recompile's.
    if (report.trigger != u"recompile" || !m_lastReport)
        m_lastReport = report;
    m_refreshing = false;
    Q_EMIT refreshFinished(report.ok());
    if (m_refreshPending && !m_stopping) {
        m_refreshPending = false;
        startFetches(m_pendingTrigger);
    }
}

void IptvNextServer::install(std::shared_ptr<const Guide> guide, QByteArray bytes, const GuideVersion &version,
                             bool announce)
{
    m_guide = std::move(guide);
    m_guideBytes = std::move(bytes);
    m_version = version;
    m_deltas.clear();
    m_deltaErrors.clear();
    m_deltaPending.clear();
    m_xmltv.clear();
    m_xmltvChecksum.clear();
    reloadKeptVersions();
    updateGuideMetrics();
    // Newest base first: the boxes most likely to ask hold the previous version.
    for (const GuideVersion &v : std::as_const(m_kept)) {
        if (v.checksum != m_version.checksum)
            computeDelta(v.checksum, v.path);
    }
    if (announce && m_events)
        m_events->announce(announcement());
    Q_EMIT guideChanged(m_version.version, m_version.checksum);
}

void IptvNextServer::reloadKeptVersions()
{
    m_kept.clear();
    for (const GuideVersion &v : m_store.guides()) {
        if (QFileInfo::exists(v.path))
            m_kept.append(v);
    }
}

void IptvNextServer::updateGuideMetrics()
{
    const GuideInfo &info = m_guide->info();
    const auto set = [this](const char *name, const char *help, double v) {
        m_metrics.gauge(QLatin1String(name), QLatin1String(help))->set(v);
    };
    set("iptvnext_guide_bytes", "Size of the served guide file.", double(m_guideBytes.size()));
    set("iptvnext_guide_channels", "Channels in the served guide.", info.channelCount);
    set("iptvnext_guide_airings", "Airings in the served guide.", info.airingCount);
    set("iptvnext_guide_programmes", "Distinct programme records in the served guide.", info.programmeCount);
    set("iptvnext_guide_version", "Version number of the served guide.", double(m_version.version));
    set("iptvnext_guide_valid_from_seconds", "Start of the served guide's window (UTC epoch seconds).", double(info.validFrom));
    set("iptvnext_guide_valid_until_seconds", "End of the served guide's window (UTC epoch seconds).", double(info.validUntil));
    set("iptvnext_guide_kept_versions", "Compiled versions kept for deltas.", double(m_kept.size()));
}

void IptvNextServer::computeDelta(const QByteArray &base, const QString &basePath)
{
    if (m_deltaPending.contains(base) || m_deltas.contains(base))
        return;
    m_deltaPending.insert(base);
    const QByteArray target = m_guideBytes;
    const QByteArray targetChecksum = m_version.checksum;
    auto *job = new QFutureWatcher<QByteArray>(this);
    m_deltaJobs.append(job);
    auto error = std::make_shared<QString>();
    connect(job, &QFutureWatcher<QByteArray>::finished, this, [this, job, base, targetChecksum, error] {
        m_deltaJobs.removeOne(job);
        job->deleteLater();
        if (m_version.checksum != targetChecksum)
            return; // a newer guide arrived meanwhile; its own jobs are running
        m_deltaPending.remove(base);
        const QByteArray delta = job->result();
        if (delta.isEmpty()) {
            qCWarning(lcServer) << "delta from" << base << "failed:" << *error;
            m_deltaErrors.insert(base, *error);
        } else {
            m_deltas.insert(base, delta);
        }
        Q_EMIT deltaReady(base, !delta.isEmpty());
    });
    job->setFuture(QtConcurrent::run([basePath, target, error] {
        const QByteArray old = readFileBytes(basePath);
        if (old.isEmpty()) {
            *error = QStringLiteral("cannot read %1").arg(basePath);
            return QByteArray();
        }
        return GuideDelta::make(old, target, error.get());
    }));
}

bool IptvNextServer::isKnownVersion(const QByteArray &checksum) const
{
    if (checksum.isEmpty())
        return false;
    if (checksum == m_version.checksum)
        return true;
    for (const GuideVersion &v : m_kept) {
        if (v.checksum == checksum)
            return true;
    }
    return false;
}

QByteArray IptvNextServer::versionBytes(const QByteArray &checksum) const
{
    if (checksum.isEmpty())
        return {};
    if (checksum == m_version.checksum)
        return m_guideBytes;
    for (const GuideVersion &v : m_kept) {
        if (v.checksum == checksum)
            return readFileBytes(v.path);
    }
    return {};
}

IptvNextServer::DeltaState IptvNextServer::deltaFrom(const QByteArray &checksum, QByteArray *delta, QString *error)
{
    if (const auto it = m_deltas.constFind(checksum); it != m_deltas.cend()) {
        *delta = *it;
        return DeltaState::Ready;
    }
    if (const auto it = m_deltaErrors.constFind(checksum); it != m_deltaErrors.cend()) {
        *error = *it;
        return DeltaState::Failed;
    }
    if (!m_deltaPending.contains(checksum)) {
        for (const GuideVersion &v : std::as_const(m_kept)) {
            if (v.checksum == checksum)
                computeDelta(v.checksum, v.path);
        }
    }
    if (!m_deltaPending.contains(checksum)) {
        *error = QStringLiteral("version %1 is not kept").arg(QString::fromLatin1(checksum));
        return DeltaState::Failed;
    }
    return DeltaState::Pending;
}

bool IptvNextServer::xmltvExport(QByteArray *xml)
{
    if (!m_guide)
        return false;
    if (m_xmltvChecksum == m_version.checksum && !m_xmltv.isEmpty()) {
        *xml = m_xmltv;
        return true;
    }
    if (m_xmltvJob)
        return false; // building; a job for an older version restarts itself for this one
    const auto guide = m_guide;
    const QByteArray checksum = m_version.checksum;
    const QString source = QStringLiteral("iptvnext guide v%1").arg(m_version.version);
    m_xmltvJob = new QFutureWatcher<QByteArray>(this);
    connect(m_xmltvJob, &QFutureWatcher<QByteArray>::finished, this, [this, checksum] {
        m_xmltvJob->deleteLater();
        const QByteArray result = m_xmltvJob->result();
        m_xmltvJob = nullptr;
        if (checksum == m_version.checksum) {
            m_xmltv = result;
            m_xmltvChecksum = checksum;
        }
    });
    m_xmltvJob->setFuture(QtConcurrent::run([guide, source] {
        QBuffer buffer;
        buffer.open(QIODevice::WriteOnly);
        XmltvWriter writer(&buffer);
        writer.writeStart(generatorName(), source);
        const Guide &g = *guide;
        for (int c = 0; c < g.channelCount(); ++c)
            writer.writeChannel(g.channelRecord(c));
        for (int c = 0; c < g.channelCount(); ++c) {
            const auto [first, count] = g.channelAirings(c);
            for (quint32 i = first; i < first + count; ++i)
                writer.writeProgramme(g.programmeRecord(g.airing(i)));
        }
        writer.writeEnd();
        return buffer.data();
    }));
    return false;
}

QJsonObject IptvNextServer::announcement() const
{
    QJsonObject o{{QStringLiteral("type"), QStringLiteral("guide-updated")}};
    if (!m_guide)
        return o;
    const GuideInfo &info = m_guide->info();
    o.insert(QStringLiteral("version"), m_version.version);
    o.insert(QStringLiteral("checksum"), QString::fromLatin1(m_version.checksum));
    o.insert(QStringLiteral("validFrom"), info.validFrom);
    o.insert(QStringLiteral("validUntil"), info.validUntil);
    o.insert(QStringLiteral("createdAt"), info.createdAt);
    o.insert(QStringLiteral("size"), qint64(m_guideBytes.size()));
    o.insert(QStringLiteral("url"), QString(u"/guide/"_qs + QString::fromLatin1(m_version.checksum)));
    return o;
}

QJsonObject IptvNextServer::statusJson()
{
    using iptv::http::isoUtc;
    QJsonObject guide{{QStringLiteral("served"), m_guide != nullptr}};
    if (m_guide) {
        const GuideInfo &info = m_guide->info();
        guide.insert(QStringLiteral("version"), m_version.version);
        guide.insert(QStringLiteral("checksum"), QString::fromLatin1(m_version.checksum));
        guide.insert(QStringLiteral("formatVersion"), info.formatVersion);
        guide.insert(QStringLiteral("validFrom"), info.validFrom);
        guide.insert(QStringLiteral("validUntil"), info.validUntil);
        guide.insert(QStringLiteral("validFromIso"), isoUtc(info.validFrom));
        guide.insert(QStringLiteral("validUntilIso"), isoUtc(info.validUntil));
        guide.insert(QStringLiteral("createdAt"), info.createdAt);
        guide.insert(QStringLiteral("channels"), qint64(info.channelCount));
        guide.insert(QStringLiteral("airings"), qint64(info.airingCount));
        guide.insert(QStringLiteral("programmes"), qint64(info.programmeCount));
        guide.insert(QStringLiteral("fileSize"), qint64(m_guideBytes.size()));
        guide.insert(QStringLiteral("bodySize"), qint64(info.bodySize));
        guide.insert(QStringLiteral("generator"), info.generator);
        const qint64 t = now();
        guide.insert(QStringLiteral("coversNow"), t >= info.validFrom && t < info.validUntil);
    }
    QJsonArray kept;
    for (const GuideVersion &v : std::as_const(m_kept)) {
        kept.append(QJsonObject{{QStringLiteral("version"), v.version},
                                {QStringLiteral("checksum"), QString::fromLatin1(v.checksum)},
                                {QStringLiteral("createdAt"), v.createdAt},
                                {QStringLiteral("fileSize"), v.fileSize}});
    }
    QJsonArray sources;
    for (const auto &[key, record] : configuredSources()) {
        QJsonObject s{{QStringLiteral("source"), key},
                      {QStringLiteral("kind"), key == m_config.lineup ? QString(KindM3u) : QString(KindXmltv)}};
        if (record) {
            s.insert(QStringLiteral("lastAttempt"), record->lastAttempt);
            s.insert(QStringLiteral("lastSuccess"), record->lastSuccess);
            s.insert(QStringLiteral("ok"), record->lastOk);
            if (!record->lastError.isEmpty())
                s.insert(QStringLiteral("error"), record->lastError);
            const QJsonDocument lastReport = QJsonDocument::fromJson(record->lastReport);
            s.insert(QStringLiteral("state"), record->lastOk ? u"ok"_qs
                                              : lastReport[u"held"_qs].toBool() ? u"held"_qs
                                                                                : u"failed"_qs);
            if (m_acceptShrink.contains(key))
                s.insert(QStringLiteral("accepted"), true);
            s.insert(QStringLiteral("storedChannels"), record->channelCount);
            s.insert(QStringLiteral("storedProgrammes"), record->programmeCount);
            if (lastReport.isObject())
                s.insert(QStringLiteral("lastReport"), lastReport.object());
        } else {
            s.insert(QStringLiteral("ok"), QJsonValue::Null);
        }
        sources.append(s);
    }
    const QStringList degraded = problems();
    QJsonObject o{{QStringLiteral("service"), QStringLiteral("iptvnext")},
                  {QStringLiteral("state"), degraded.isEmpty() ? u"ok"_qs : u"degraded"_qs},
                  {QStringLiteral("problems"), QJsonArray::fromStringList(degraded)},
                  {QStringLiteral("version"), QStringLiteral(IPTVNEXT_VERSION)},
                  {QStringLiteral("now"), now()},
                  {QStringLiteral("startedAt"), m_startedAt},
                  {QStringLiteral("store"), m_store.driverName()},
                  {QStringLiteral("guide"), guide},
                  {QStringLiteral("kept"), kept},
                  {QStringLiteral("refreshing"), m_refreshing},
                  {QStringLiteral("refreshMinutes"), m_config.refreshMinutes},
                  {QStringLiteral("sources"), sources},
                  {QStringLiteral("lastRefresh"), m_lastReport ? QJsonValue(m_lastReport->toJson()) : QJsonValue()}};
    if (m_schedule.isActive())
        o.insert(QStringLiteral("nextRefresh"), m_nextRefresh);
    if (m_lastSuccess)
        o.insert(QStringLiteral("lastSuccess"), m_lastSuccess);
    return o;
}

} // namespace iptv::next
