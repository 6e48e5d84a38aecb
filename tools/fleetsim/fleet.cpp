#include "fleet.h"

#include <wsserver/wsclient.h>

#include <QCryptographicHash>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QDir>
#include <QJsonArray>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>

#include <zlib.h>

#include <algorithm>
#include <unistd.h>

namespace iptv::fleetsim {

using namespace iptv::protocol;
using boxlink::BoxLink;

namespace {

QString macFor(int number)
{
    // 02:... is a locally administered address: never a real vendor's.
    return QStringLiteral("02:51:%1:%2:%3:%4")
        .arg((number >> 24) & 0xff, 2, 16, QLatin1Char('0'))
        .arg((number >> 16) & 0xff, 2, 16, QLatin1Char('0'))
        .arg((number >> 8) & 0xff, 2, 16, QLatin1Char('0'))
        .arg(number & 0xff, 2, 16, QLatin1Char('0'));
}

void appendChunk(QByteArray &png, const char *type, const QByteArray &data)
{
    const quint32 length = quint32(data.size());
    const char be[4] = {char(length >> 24), char(length >> 16), char(length >> 8), char(length)};
    png.append(be, 4);
    QByteArray typed(type, 4);
    typed.append(data);
    png.append(typed);
    const quint32 crc = quint32(crc32(0, reinterpret_cast<const Bytef *>(typed.constData()), uInt(typed.size())));
    const char c[4] = {char(crc >> 24), char(crc >> 16), char(crc >> 8), char(crc)};
    png.append(c, 4);
}

/// A small real PNG (a colour gradient with a band from the box's number), without QtGui.
QByteArray screenshotPng(int number)
{
    constexpr int W = 160, H = 90;
    QByteArray raw;
    raw.reserve((W * 3 + 1) * H);
    for (int y = 0; y < H; ++y) {
        raw.append(char(0)); // filter: none
        for (int x = 0; x < W; ++x) {
            const bool band = y > 40 && y < 50 && x < (number % W);
            raw.append(char(band ? 255 : x * 255 / W));
            raw.append(char(band ? 255 : y * 255 / H));
            raw.append(char(band ? 255 : (number * 37) & 0xff));
        }
    }
    uLongf packedSize = compressBound(uLong(raw.size()));
    QByteArray packed(qsizetype(packedSize), Qt::Uninitialized);
    compress(reinterpret_cast<Bytef *>(packed.data()), &packedSize, reinterpret_cast<const Bytef *>(raw.constData()),
             uLong(raw.size()));
    packed.resize(qsizetype(packedSize));
    QByteArray ihdr;
    for (quint32 v : {quint32(W), quint32(H)}) {
        const char be[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
        ihdr.append(be, 4);
    }
    ihdr.append(char(8)); // bit depth
    ihdr.append(char(2)); // colour type: RGB
    ihdr.append(3, char(0));
    QByteArray png("\x89PNG\r\n\x1a\n", 8);
    appendChunk(png, "IHDR", ihdr);
    appendChunk(png, "IDAT", packed);
    appendChunk(png, "IEND", {});
    return png;
}

qint64 epochMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

} // namespace

// ---- SimBox: one simulated box. Kept small: thousands live in one process.

class SimBox final : public boxlink::TelemetrySource, public boxlink::CommandHandler
{
public:
    SimBox(Fleet *fleet, int number, boxlink::BoxLinkConfig config);

    BoxLink *link() { return m_link.get(); }
    QByteArray token() const { return m_store.token(); }
    QString serial() const { return m_serial; }
    Telemetry sample() override;
    void execute(const Command &command, const boxlink::CommandReply &reply) override;
    void install(const ReleaseAvailable &release, const boxlink::CommandReply &reply);

private:
    quint64 random()
    {
        m_rng ^= m_rng << 13;
        m_rng ^= m_rng >> 7;
        m_rng ^= m_rng << 17;
        return m_rng;
    }
    int uniform(int lo, int hi) { return lo + int(random() % quint64(hi - lo + 1)); }
    void finishInstall(const ReleaseAvailable &release, bool ok, const QString &why, const boxlink::CommandReply &reply);

    Fleet *m_fleet;
    int m_number;
    quint64 m_rng;
    qint64 m_bootMs;
    float m_cpu = 10;
    int m_channel = 1;
    bool m_installing = false;
    boxlink::MemoryCredentialStore m_store;
    QString m_serial;
    std::unique_ptr<BoxLink> m_link;
};

SimBox::SimBox(Fleet *fleet, int number, boxlink::BoxLinkConfig config)
    : m_fleet(fleet), m_number(number), m_rng(0x9e3779b97f4a7c15ULL ^ (quint64(number) * 0xbf58476d1ce4e5b9ULL) ^ fleet->config().seed),
      m_bootMs(epochMs())
{
    if (m_rng == 0)
        m_rng = 1;
    // The secret follows from the seed and the serial, so a second run of the same fleet against
    // the same server is the same boxes (a random one would be refused: the server keeps a hash).
    m_serial = config.serial;
    const QByteArray label = "fleetsim-secret:" + QByteArray::number(fleet->config().seed) + ':' + config.serial.toUtf8();
    m_store = boxlink::MemoryCredentialStore(QCryptographicHash::hash(label, QCryptographicHash::Sha256));
    if (const QByteArray token = fleet->savedToken(config.serial); !token.isEmpty())
        m_store.setToken(token);
    m_channel = uniform(1, 200);
    m_link = std::make_unique<BoxLink>(std::move(config), &m_store, fleet->scheduler());
    m_link->setTelemetrySource(this);
    m_link->setCommandHandler(this);
    QObject::connect(m_link.get(), &BoxLink::stateChanged, m_link.get(),
                     [this, previous = BoxLink::State::Stopped](BoxLink::State state) mutable {
                         m_fleet->boxStateChanged(previous, state);
                         previous = state;
                     });
    QObject::connect(m_link.get(), &BoxLink::releaseAvailable, m_link.get(),
                     [this](const ReleaseAvailable &release) { install(release, {}); });
}

Telemetry SimBox::sample()
{
    Telemetry t;
    t.time = QDateTime::currentDateTimeUtc();
    // A random walk, so graphs of a simulated fleet look like boxes, not noise.
    m_cpu = std::clamp(m_cpu + float(uniform(-50, 50)) / 10.0f, 2.0f, 95.0f);
    t.cpuPercent = double(int(m_cpu * 10)) / 10.0;
    t.memoryTotalKb = 1024 * 1024;
    t.memoryUsedKb = 300 * 1024 + uniform(0, 400 * 1024);
    t.temperatureC = 45.0 + double(uniform(0, 250)) / 10.0;
    t.uptimeSeconds = (epochMs() - m_bootMs) / 1000;
    t.currentChannel = QStringLiteral("ch-%1").arg(m_channel);
    const int roll = uniform(0, 99);
    t.playerState = roll < 90 ? QStringLiteral("playing") : roll < 95 ? QStringLiteral("paused") : QStringLiteral("buffering");
    if (roll >= 95) {
        t.bufferingEvents = 1;
        t.bufferingMs = uniform(200, 3000);
    }
    if (uniform(0, 9) == 0) {
        m_channel = uniform(1, 200);
        t.zapTimesMs = {uniform(250, 1500)};
    }
    if (uniform(0, 199) == 0)
        t.errorEvents = 1;
    return t;
}

void SimBox::execute(const Command &command, const boxlink::CommandReply &reply)
{
    switch (command.kind) {
    case CommandKind::Reboot:
    case CommandKind::FactoryReset: {
        reply.succeed(command.kind == CommandKind::Reboot ? QStringLiteral("rebooting")
                                                          : QStringLiteral("factory reset (simulated: settings only)"));
        m_bootMs = epochMs() + m_fleet->config().rebootDelayMs;
        m_link->reconnectAfter(m_fleet->config().rebootDelayMs);
        return;
    }
    case CommandKind::Tune: {
        const QString channel = command.args.value(QLatin1String("channel")).toString();
        if (channel.isEmpty()) {
            reply.fail(QStringLiteral("tune: no \"channel\" argument"));
            return;
        }
        reply.succeed(QStringLiteral("tuned to %1").arg(channel));
        return;
    }
    case CommandKind::ShowMessage:
        reply.succeed(QStringLiteral("shown"));
        return;
    case CommandKind::CollectLogs: {
        const int lines = int(std::clamp<qint64>(command.args.value(QLatin1String("lines")).toInteger(100), 1, 5000));
        QByteArray text;
        const QDateTime now = QDateTime::currentDateTimeUtc();
        for (int i = 0; i < lines; ++i) {
            text += now.addSecs(i - lines).toString(Qt::ISODate).toLatin1() + " " + m_link->config().serial.toLatin1()
                    + " hubris[412]: " + (i % 7 == 0 ? "player: buffering 320 ms" : "guide: grid shown in 4 ms") + '\n';
        }
        reply.succeed(QStringLiteral("%1 lines").arg(lines), text, QStringLiteral("text/plain"));
        return;
    }
    case CommandKind::Screenshot:
        reply.succeed(QStringLiteral("160x90"), screenshotPng(m_number), QStringLiteral("image/png"));
        return;
    case CommandKind::SetConfig:
        reply.succeed(QStringLiteral("%1 settings applied").arg(command.args.size()));
        return;
    case CommandKind::InstallRelease: {
        QString error;
        const auto release = ReleaseAvailable::fromBody(command.args, &error);
        if (!release) {
            reply.fail(QStringLiteral("install-release: %1").arg(error));
            return;
        }
        install(*release, reply);
        return;
    }
    case CommandKind::Unknown:
        break;
    }
    reply.fail(QStringLiteral("not simulated"));
}

void SimBox::install(const ReleaseAvailable &release, const boxlink::CommandReply &reply)
{
    if (m_installing) {
        reply.fail(QStringLiteral("an install is already running"));
        return;
    }
    m_installing = true;
    m_link->sendEvent(InstallReport{InstallReport::Phase::Started, release.version, true, release.rolloutId}
                          .toEvent(QStringLiteral("installing %1").arg(release.version)));

    const bool fail = uniform(0, 99) < m_fleet->config().installFailPercent;
    if (m_fleet->config().installMode == QLatin1String("download") && !release.url.isEmpty()) {
        QNetworkRequest request{QUrl(release.url)};
        const QByteArray token = m_store.token().toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
        request.setRawHeader("Authorization", "Bearer " + token);
        QNetworkReply *download = m_fleet->network()->get(request);
        const qint64 limit = release.size > 0 ? release.size : 256LL * 1024 * 1024;
        QObject::connect(download, &QNetworkReply::downloadProgress, download, [download, limit](qint64 received, qint64) {
            if (received > limit)
                download->abort();
        });
        QObject::connect(download, &QNetworkReply::finished, m_link.get(), [this, download, release, reply, fail] {
            download->deleteLater();
            const QByteArray body = download->readAll();
            if (download->error() != QNetworkReply::NoError) {
                finishInstall(release, false, QStringLiteral("download failed: %1").arg(download->errorString()), reply);
                return;
            }
            if (!release.sha256.isEmpty() && QCryptographicHash::hash(body, QCryptographicHash::Sha256) != release.sha256) {
                finishInstall(release, false, QStringLiteral("sha256 mismatch"), reply);
                return;
            }
            finishInstall(release, !fail, fail ? QStringLiteral("simulated failure after download") : QString(), reply);
        });
        return;
    }
    // Simulated: the time a box takes to download, verify and unpack, then the injected outcome.
    QTimer::singleShot(uniform(200, 1500), m_link.get(), [this, release, reply, fail] {
        finishInstall(release, !fail, fail ? QStringLiteral("simulated failure: new slot did not start") : QString(), reply);
    });
}

void SimBox::finishInstall(const ReleaseAvailable &release, bool ok, const QString &why, const boxlink::CommandReply &reply)
{
    m_installing = false;
    m_fleet->installFinished(ok);
    BoxEvent event = InstallReport{ok ? InstallReport::Phase::Committed : InstallReport::Phase::Failed, release.version, ok,
                                   release.rolloutId}
                         .toEvent(ok ? QStringLiteral("installed and committed %1").arg(release.version)
                                     : QStringLiteral("install of %1 failed: %2").arg(release.version, why));
    if (ok)
        m_link->setSoftwareVersion(release.version, release.channel);
    m_link->sendEvent(event);
    if (ok)
        reply.succeed(event.text);
    else
        reply.fail(event.text);
}

// ---- FleetSnapshot

namespace {
QJsonObject statsJson(const boxlink::BoxLinkStats &s)
{
    return QJsonObject{
        {QStringLiteral("connectAttempts"), double(s.connectAttempts)},
        {QStringLiteral("sessions"), double(s.sessions)},
        {QStringLiteral("telemetrySent"), double(s.telemetrySent)},
        {QStringLiteral("telemetryAcked"), double(s.telemetryAcked)},
        {QStringLiteral("telemetryDropped"), double(s.telemetryDropped)},
        {QStringLiteral("telemetryResent"), double(s.telemetryResent)},
        {QStringLiteral("commandsReceived"), double(s.commandsReceived)},
        {QStringLiteral("commandsDuplicate"), double(s.commandsDuplicate)},
        {QStringLiteral("commandsExpired"), double(s.commandsExpired)},
        {QStringLiteral("resultsSent"), double(s.resultsSent)},
        {QStringLiteral("eventsSent"), double(s.eventsSent)},
        {QStringLiteral("errorsReceived"), double(s.errorsReceived)},
        {QStringLiteral("deadConnections"), double(s.deadConnections)},
        {QStringLiteral("reenrollments"), double(s.reenrollments)},
    };
}

boxlink::BoxLinkStats statsFromJson(const QJsonObject &o)
{
    boxlink::BoxLinkStats s;
    const auto get = [&o](const char *key) { return quint64(o.value(QLatin1String(key)).toDouble()); };
    s.connectAttempts = get("connectAttempts");
    s.sessions = get("sessions");
    s.telemetrySent = get("telemetrySent");
    s.telemetryAcked = get("telemetryAcked");
    s.telemetryDropped = get("telemetryDropped");
    s.telemetryResent = get("telemetryResent");
    s.commandsReceived = get("commandsReceived");
    s.commandsDuplicate = get("commandsDuplicate");
    s.commandsExpired = get("commandsExpired");
    s.resultsSent = get("resultsSent");
    s.eventsSent = get("eventsSent");
    s.errorsReceived = get("errorsReceived");
    s.deadConnections = get("deadConnections");
    s.reenrollments = get("reenrollments");
    return s;
}

void add(boxlink::BoxLinkStats &a, const boxlink::BoxLinkStats &b)
{
    a.connectAttempts += b.connectAttempts;
    a.sessions += b.sessions;
    a.telemetrySent += b.telemetrySent;
    a.telemetryAcked += b.telemetryAcked;
    a.telemetryDropped += b.telemetryDropped;
    a.telemetryResent += b.telemetryResent;
    a.commandsReceived += b.commandsReceived;
    a.commandsDuplicate += b.commandsDuplicate;
    a.commandsExpired += b.commandsExpired;
    a.resultsSent += b.resultsSent;
    a.eventsSent += b.eventsSent;
    a.errorsReceived += b.errorsReceived;
    a.deadConnections += b.deadConnections;
    a.reenrollments += b.reenrollments;
}

qint64 latest(qint64 a, qint64 b)
{
    // -1 (not yet) in either means not yet for the whole.
    return (a < 0 || b < 0) ? -1 : std::max(a, b);
}
} // namespace

QJsonObject FleetSnapshot::toJson() const
{
    return QJsonObject{
        {QStringLiteral("boxes"), boxes},
        {QStringLiteral("stopped"), stopped},
        {QStringLiteral("disconnected"), disconnected},
        {QStringLiteral("connecting"), connecting},
        {QStringLiteral("pending"), pending},
        {QStringLiteral("online"), online},
        {QStringLiteral("totals"), statsJson(totals)},
        {QStringLiteral("telemetryRtt"), telemetryRtt.toJson()},
        {QStringLiteral("commandHandling"), commandHandling.toJson()},
        {QStringLiteral("connectToOnline"), connectToOnline.toJson()},
        {QStringLiteral("installsOk"), double(installsOk)},
        {QStringLiteral("installsFailed"), double(installsFailed)},
        {QStringLiteral("allOnlineAtMs"), double(allOnlineAtMs)},
        {QStringLiteral("stormAtMs"), double(stormAtMs)},
        {QStringLiteral("stormRecoveredAtMs"), double(stormRecoveredAtMs)},
        {QStringLiteral("rssKb"), double(rssKb)},
        {QStringLiteral("baselineRssKb"), double(baselineRssKb)},
    };
}

FleetSnapshot FleetSnapshot::fromJson(const QJsonObject &o)
{
    FleetSnapshot s;
    s.boxes = o.value(QLatin1String("boxes")).toInt();
    s.stopped = o.value(QLatin1String("stopped")).toInt();
    s.disconnected = o.value(QLatin1String("disconnected")).toInt();
    s.connecting = o.value(QLatin1String("connecting")).toInt();
    s.pending = o.value(QLatin1String("pending")).toInt();
    s.online = o.value(QLatin1String("online")).toInt();
    s.totals = statsFromJson(o.value(QLatin1String("totals")).toObject());
    s.telemetryRtt = boxlink::LatencyHistogram::fromJson(o.value(QLatin1String("telemetryRtt")).toArray());
    s.commandHandling = boxlink::LatencyHistogram::fromJson(o.value(QLatin1String("commandHandling")).toArray());
    s.connectToOnline = boxlink::LatencyHistogram::fromJson(o.value(QLatin1String("connectToOnline")).toArray());
    s.installsOk = quint64(o.value(QLatin1String("installsOk")).toDouble());
    s.installsFailed = quint64(o.value(QLatin1String("installsFailed")).toDouble());
    s.allOnlineAtMs = qint64(o.value(QLatin1String("allOnlineAtMs")).toDouble(-1));
    s.stormAtMs = qint64(o.value(QLatin1String("stormAtMs")).toDouble(-1));
    s.stormRecoveredAtMs = qint64(o.value(QLatin1String("stormRecoveredAtMs")).toDouble(-1));
    s.rssKb = qint64(o.value(QLatin1String("rssKb")).toDouble());
    s.baselineRssKb = qint64(o.value(QLatin1String("baselineRssKb")).toDouble());
    return s;
}

void FleetSnapshot::merge(const FleetSnapshot &o)
{
    boxes += o.boxes;
    stopped += o.stopped;
    disconnected += o.disconnected;
    connecting += o.connecting;
    pending += o.pending;
    online += o.online;
    add(totals, o.totals);
    telemetryRtt.merge(o.telemetryRtt);
    commandHandling.merge(o.commandHandling);
    connectToOnline.merge(o.connectToOnline);
    installsOk += o.installsOk;
    installsFailed += o.installsFailed;
    allOnlineAtMs = latest(allOnlineAtMs, o.allOnlineAtMs);
    stormAtMs = latest(stormAtMs, o.stormAtMs);
    stormRecoveredAtMs = latest(stormRecoveredAtMs, o.stormRecoveredAtMs);
    rssKb += o.rssKb;
    baselineRssKb += o.baselineRssKb;
}

// ---- Fleet

Fleet::Fleet(FleetConfig config, QObject *parent) : QObject(parent), m_config(std::move(config))
{
    m_ramp.setInterval(10);
    connect(&m_ramp, &QTimer::timeout, this, &Fleet::startSome);
}

Fleet::~Fleet()
{
    saveTokens();
    m_boxes.clear();
}

void Fleet::loadTokens()
{
    if (m_config.tokenDir.isEmpty())
        return;
    // One file per process share; older files first, so a box's newest token wins when the
    // fleet was split differently before.
    QDir dir(m_config.tokenDir);
    const QFileInfoList files = dir.entryInfoList({QStringLiteral("*.tokens")}, QDir::Files, QDir::Time | QDir::Reversed);
    for (const QFileInfo &info : files) {
        QFile f(info.filePath());
        if (!f.open(QIODevice::ReadOnly))
            continue;
        while (!f.atEnd()) {
            const QList<QByteArray> parts = f.readLine().trimmed().split(' ');
            if (parts.size() == 2)
                m_savedTokens.insert(QString::fromUtf8(parts[0]), QByteArray::fromBase64(parts[1]));
        }
    }
}

void Fleet::saveTokens()
{
    if (m_config.tokenDir.isEmpty() || m_tokensSaved || m_boxes.empty())
        return;
    m_tokensSaved = true;
    QDir().mkpath(m_config.tokenDir);
    QSaveFile f(QDir(m_config.tokenDir).filePath(QStringLiteral("%1%2.tokens").arg(m_config.serialPrefix).arg(m_config.first)));
    if (!f.open(QIODevice::WriteOnly))
        return;
    for (const auto &box : m_boxes) {
        const QByteArray token = box->token();
        if (!token.isEmpty())
            f.write(box->serial().toUtf8() + ' ' + token.toBase64() + '\n');
    }
    f.commit();
}

qint64 Fleet::residentKb()
{
    QFile statm(QStringLiteral("/proc/self/statm"));
    if (!statm.open(QIODevice::ReadOnly))
        return 0;
    const QList<QByteArray> fields = statm.readAll().split(' ');
    if (fields.size() < 2)
        return 0;
    return fields.at(1).toLongLong() * (sysconf(_SC_PAGESIZE) / 1024);
}

QNetworkAccessManager *Fleet::network()
{
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    return m_network;
}

void Fleet::start()
{
    loadTokens();
    m_baselineRssKb = residentKb();
    m_counts[int(BoxLink::State::Stopped)] = m_config.boxes;
    m_boxes.reserve(size_t(m_config.boxes));
    if (m_config.transport == QLatin1String("epoll") && !m_pool) {
        m_pool = std::make_unique<ws::ClientPool>();
        m_poolTransport = std::make_unique<boxlink::PoolTransport>(m_pool.get());
    }
    for (int i = 0; i < m_config.boxes; ++i) {
        const int number = m_config.first + i;
        boxlink::BoxLinkConfig c;
        const qsizetype endpoints = 1 + m_config.moreServers.size();
        const qsizetype endpoint = qsizetype(number % endpoints);
        c.serverUrl = endpoint == 0 ? m_config.server : m_config.moreServers.at(endpoint - 1);
        if (m_poolTransport && c.serverUrl.scheme() == QLatin1String("ws"))
            c.transport = m_poolTransport.get();
        c.serial = QStringLiteral("%1%2").arg(m_config.serialPrefix).arg(number, 6, 10, QLatin1Char('0'));
        c.mac = macFor(number);
        c.model = m_config.model;
        c.softwareVersion = m_config.softwareVersion;
        c.releaseChannel = m_config.releaseChannel;
        c.telemetryMs = m_config.telemetryInterval > 0 ? std::max(1, int(m_config.telemetryInterval * 1000)) : 0;
        c.heartbeatMs = m_config.heartbeatMs;
        c.telemetryWindow = m_config.telemetryWindow;
        c.backoffBaseMs = m_config.backoffBaseMs;
        c.backoffCapMs = m_config.backoffCapMs;
        c.backoffSeed = m_config.seed * 1000003ULL + quint64(number) + 1;
        m_boxes.push_back(std::make_unique<SimBox>(this, number, std::move(c)));
        m_boxes.back()->link()->setLatencySinks(&m_telemetryRtt, &m_commandHandling, &m_connectToOnline);
    }
    m_rampLastMs = boxlink::DeadlineScheduler::now();
    startSome();
    if (m_started < int(m_boxes.size()))
        m_ramp.start();
}

void Fleet::startSome()
{
    int batch;
    if (m_config.connectRate > 0) {
        const qint64 now = boxlink::DeadlineScheduler::now();
        m_rampCredit += m_config.connectRate * double(now - m_rampLastMs) / 1000.0;
        m_rampLastMs = now;
        batch = int(m_rampCredit);
        m_rampCredit -= batch;
        if (m_started == 0)
            batch = std::max(batch, 1);
    } else {
        // Unlimited, but in slices, so the event loop keeps reading while thousands connect.
        batch = 500;
    }
    const int end = std::min(int(m_boxes.size()), m_started + batch);
    for (; m_started < end; ++m_started)
        m_boxes[size_t(m_started)]->link()->start();
    if (m_started >= int(m_boxes.size()))
        m_ramp.stop();
}

void Fleet::storm()
{
    m_stormAtMs = epochMs();
    m_stormRecoveredAtMs = -1;
    for (auto &box : m_boxes)
        box->link()->dropConnection();
}

void Fleet::stop()
{
    saveTokens();
    m_ramp.stop();
    for (auto &box : m_boxes)
        box->link()->stop();
}

void Fleet::boxStateChanged(BoxLink::State from, BoxLink::State to)
{
    --m_counts[int(from)];
    ++m_counts[int(to)];
    if (to == BoxLink::State::Online && m_counts[int(BoxLink::State::Online)] == m_config.boxes) {
        const qint64 now = epochMs();
        if (m_allOnlineAtMs < 0)
            m_allOnlineAtMs = now;
        if (m_stormAtMs >= 0 && m_stormRecoveredAtMs < 0)
            m_stormRecoveredAtMs = now;
    }
}

void Fleet::installFinished(bool ok)
{
    ++(ok ? m_installsOk : m_installsFailed);
}

FleetSnapshot Fleet::snapshot() const
{
    FleetSnapshot s;
    s.boxes = m_config.boxes;
    s.stopped = m_counts[int(BoxLink::State::Stopped)];
    s.disconnected = m_counts[int(BoxLink::State::Disconnected)];
    s.connecting = m_counts[int(BoxLink::State::Connecting)];
    s.pending = m_counts[int(BoxLink::State::Pending)];
    s.online = m_counts[int(BoxLink::State::Online)];
    for (const auto &box : m_boxes)
        add(s.totals, const_cast<SimBox &>(*box).link()->stats());
    s.telemetryRtt = m_telemetryRtt;
    s.commandHandling = m_commandHandling;
    s.connectToOnline = m_connectToOnline;
    s.installsOk = m_installsOk;
    s.installsFailed = m_installsFailed;
    s.allOnlineAtMs = m_allOnlineAtMs;
    s.stormAtMs = m_stormAtMs;
    s.stormRecoveredAtMs = m_stormRecoveredAtMs;
    s.rssKb = residentKb();
    s.baselineRssKb = m_baselineRssKb;
    return s;
}

} // namespace iptv::fleetsim
