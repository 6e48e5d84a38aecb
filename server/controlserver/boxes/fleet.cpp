#include "fleet.h"

#include <core/httputil.h>
#include <protocol/message.h>

#include <QJsonArray>
#include <QSet>

#include <algorithm>
#include <cmath>
#include <map>

namespace iptv::control {

namespace {
constexpr qsizetype PoolCap = 60000;
}

quint16 StringPool::intern(const QString &s)
{
    if (s.isEmpty())
        return 0;
    const auto it = m_index.constFind(s);
    if (it != m_index.cend())
        return *it;
    if (m_strings.size() >= PoolCap)
        return 0;
    const quint16 index = quint16(m_strings.size());
    m_strings.append(s);
    m_index.insert(s, index);
    return index;
}

bool FleetFilter::isEmpty() const
{
    return model.isEmpty() && version.isEmpty() && releaseChannel.isEmpty() && currentChannel.isEmpty() && tag.isEmpty()
        && state.isEmpty() && !online && text.isEmpty() && ids.isEmpty();
}

std::optional<FleetFilter> FleetFilter::fromJson(const QJsonObject &o, QString *error)
{
    FleetFilter f;
    f.model = o.value(u"model").toString();
    f.version = o.value(u"version").toString();
    f.releaseChannel = o.value(u"channel").toString();
    f.currentChannel = o.value(u"current").toString();
    f.tag = o.value(u"tag").toString();
    f.state = o.value(u"state").toString();
    f.text = o.value(u"q").toString();
    if (!f.releaseChannel.isEmpty() && !releaseChannelFromName(f.releaseChannel)) {
        *error = QStringLiteral("channel: expected clean or experimental, got \"%1\"").arg(f.releaseChannel);
        return std::nullopt;
    }
    if (!f.state.isEmpty() && !boxStateFromName(f.state)) {
        *error = QStringLiteral("state: expected pending, approved or rejected, got \"%1\"").arg(f.state);
        return std::nullopt;
    }
    const QJsonValue online = o.value(u"online");
    if (online.isBool())
        f.online = online.toBool();
    else if (online.isString() && !online.toString().isEmpty())
        f.online = iptv::http::parseBool(online.toString());
    const QJsonValue ids = o.value(u"ids");
    if (ids.isArray()) {
        for (const QJsonValue &v : ids.toArray()) {
            const qint64 id = v.isString() ? v.toString().toLongLong() : v.toInteger();
            if (id <= 0) {
                *error = QStringLiteral("ids: expected positive box ids");
                return std::nullopt;
            }
            f.ids.append(id);
        }
    } else if (ids.isString() && !ids.toString().isEmpty()) {
        for (const QString &part : ids.toString().split(u',', Qt::SkipEmptyParts)) {
            bool ok = false;
            const qint64 id = part.trimmed().toLongLong(&ok);
            if (!ok || id <= 0) {
                *error = QStringLiteral("ids: \"%1\" is not a box id").arg(part);
                return std::nullopt;
            }
            f.ids.append(id);
        }
    }
    return f;
}

Fleet::~Fleet()
{
    qDeleteAll(m_boxes);
}

void Fleet::load(const QList<BoxRow> &rows)
{
    qDeleteAll(m_boxes);
    m_boxes.clear();
    m_byId.clear();
    m_bySerial.clear();
    m_online = 0;
    m_boxes.reserve(rows.size());
    for (const BoxRow &r : rows)
        add(r);
}

BoxInfo *Fleet::add(const BoxRow &row)
{
    auto *b = new BoxInfo;
    b->id = row.id;
    b->serial = row.serial;
    b->secretHash = row.secretHash;
    b->tokenHash = row.tokenHash;
    b->state = row.state;
    b->releaseChannel = releaseChannelFromName(row.releaseChannel).value_or(ReleaseChannel::Clean);
    b->lastSeen = row.lastSeen;
    setIdentity(b, row.mac, row.model, row.softwareVersion, row.currentChannel);
    setTags(b, row.tags);
    // Ids only grow, so appending keeps m_boxes in id order.
    if (!m_boxes.isEmpty() && m_boxes.last()->id > b->id) {
        m_boxes.insert(std::lower_bound(m_boxes.begin(), m_boxes.end(), b->id,
                                        [](const BoxInfo *x, qint64 id) { return x->id < id; }),
                       b);
    } else {
        m_boxes.append(b);
    }
    m_byId.insert(b->id, b);
    m_bySerial.insert(b->serial, b);
    return b;
}

BoxInfo *Fleet::byId(qint64 id)
{
    return m_byId.value(id);
}

const BoxInfo *Fleet::byId(qint64 id) const
{
    return m_byId.value(id);
}

BoxInfo *Fleet::bySerial(const QString &serial)
{
    return m_bySerial.value(serial);
}

void Fleet::setOnline(BoxInfo *box, bool online, bool elsewhere)
{
    box->heldElsewhere = online && elsewhere;
    if (box->online == online)
        return;
    box->online = online;
    m_online += online ? 1 : -1;
}

void Fleet::applyTelemetry(BoxInfo *box, const iptv::protocol::Telemetry &t, qint64 now)
{
    box->lastSeen = now;
    ++box->telemetryCount;
    box->cpuPermille = t.cpuPercent < 0 ? qint16(-1) : qint16(std::clamp(t.cpuPercent * 10.0, 0.0, 10000.0));
    box->memoryUsedKb = t.memoryUsedKb < 0 ? 0 : quint32(std::min<qint64>(t.memoryUsedKb, UINT32_MAX));
    box->memoryTotalKb = t.memoryTotalKb < 0 ? 0 : quint32(std::min<qint64>(t.memoryTotalKb, UINT32_MAX));
    box->temperatureDeci = t.temperatureC <= -1000 ? qint16(-10000) : qint16(std::clamp(t.temperatureC * 10.0, -2000.0, 3000.0));
    box->uptimeSeconds = t.uptimeSeconds < 0 ? 0 : quint32(std::min<qint64>(t.uptimeSeconds, UINT32_MAX));
    box->errorEvents = quint32(std::max(0, t.errorEvents));
    box->bufferingEvents = quint32(std::max(0, t.bufferingEvents));
    if (!t.softwareVersion.isEmpty())
        box->version = m_pool.intern(t.softwareVersion.left(64));
    box->currentChannel = m_pool.intern(t.currentChannel.left(128));
    box->playerState = m_pool.intern(t.playerState.left(32));
}

void Fleet::setIdentity(BoxInfo *box, const QString &mac, const QString &model, const QString &version,
                        const QString &channel)
{
    if (!mac.isEmpty())
        box->mac = mac.left(64);
    if (!model.isEmpty())
        box->model = m_pool.intern(model.left(64));
    if (!version.isEmpty())
        box->version = m_pool.intern(version.left(64));
    if (!channel.isEmpty())
        box->currentChannel = m_pool.intern(channel.left(128));
}

void Fleet::setTags(BoxInfo *box, const QStringList &tags)
{
    box->tags.clear();
    for (const QString &t : tags) {
        if (const quint16 i = m_pool.intern(t))
            box->tags.append(i);
    }
    box->tags.squeeze();
}

QStringList Fleet::tags(const BoxInfo &box) const
{
    QStringList out;
    for (quint16 t : box.tags)
        out.append(m_pool.at(t));
    return out;
}

bool Fleet::matches(const BoxInfo &b, const FleetFilter &f) const
{
    // A filter value no box ever reported cannot match: find() returns -1.
    if (!f.model.isEmpty() && b.model != m_pool.find(f.model))
        return false;
    if (!f.version.isEmpty() && b.version != m_pool.find(f.version))
        return false;
    if (!f.currentChannel.isEmpty() && b.currentChannel != m_pool.find(f.currentChannel))
        return false;
    if (!f.releaseChannel.isEmpty() && releaseChannelName(b.releaseChannel) != f.releaseChannel)
        return false;
    if (!f.state.isEmpty() && boxStateName(b.state) != f.state)
        return false;
    if (f.online && b.online != *f.online)
        return false;
    if (!f.tag.isEmpty()) {
        const int t = m_pool.find(f.tag);
        if (t <= 0 || !b.tags.contains(quint16(t)))
            return false;
    }
    if (!f.text.isEmpty() && !b.serial.contains(f.text, Qt::CaseInsensitive) && !b.mac.contains(f.text, Qt::CaseInsensitive)
        && QString::number(b.id) != f.text)
        return false;
    return true;
}

QList<qint64> Fleet::select(const FleetFilter &filter) const
{
    QList<qint64> out;
    if (!filter.ids.isEmpty()) {
        // Explicit lists (an operator may send 100,000 ids): each id looked up once, in id order,
        // never the fleet scanned and the list searched for every box.
        QList<qint64> ids = filter.ids;
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        for (qint64 id : std::as_const(ids)) {
            const BoxInfo *b = byId(id);
            if (b && matches(*b, filter))
                out.append(id);
        }
        return out;
    }
    for (const BoxInfo *b : m_boxes) {
        if (matches(*b, filter))
            out.append(b->id);
    }
    return out;
}

QList<QJsonObject> Fleet::list(const FleetFilter &filter, int offset, int limit, qsizetype *total) const
{
    QList<QJsonObject> out;
    qsizetype n = 0;
    const QSet<qint64> ids(filter.ids.cbegin(), filter.ids.cend());
    for (const BoxInfo *b : m_boxes) {
        if ((!ids.isEmpty() && !ids.contains(b->id)) || !matches(*b, filter))
            continue;
        if (n >= offset && out.size() < limit)
            out.append(boxJson(*b));
        ++n;
    }
    *total = n;
    return out;
}

QJsonObject Fleet::boxJson(const BoxInfo &b) const
{
    QJsonObject o{{u"id"_qs, b.id},
                  {u"serial"_qs, b.serial},
                  {u"mac"_qs, b.mac},
                  {u"model"_qs, m_pool.at(b.model)},
                  {u"state"_qs, boxStateName(b.state)},
                  {u"releaseChannel"_qs, releaseChannelName(b.releaseChannel)},
                  {u"softwareVersion"_qs, m_pool.at(b.version)},
                  {u"currentChannel"_qs, m_pool.at(b.currentChannel)},
                  {u"playerState"_qs, m_pool.at(b.playerState)},
                  {u"online"_qs, b.online},
                  {u"lastSeen"_qs, b.lastSeen},
                  {u"tags"_qs, QJsonArray::fromStringList(tags(b))}};
    if (b.telemetryCount) {
        QJsonObject t;
        if (b.cpuPermille >= 0)
            t.insert(u"cpuPercent"_qs, b.cpuPermille / 10.0);
        if (b.memoryTotalKb) {
            t.insert(u"memoryUsedKb"_qs, qint64(b.memoryUsedKb));
            t.insert(u"memoryTotalKb"_qs, qint64(b.memoryTotalKb));
        }
        if (b.temperatureDeci > -10000)
            t.insert(u"temperatureC"_qs, b.temperatureDeci / 10.0);
        t.insert(u"uptimeSeconds"_qs, qint64(b.uptimeSeconds));
        t.insert(u"errorEvents"_qs, qint64(b.errorEvents));
        t.insert(u"bufferingEvents"_qs, qint64(b.bufferingEvents));
        o.insert(u"telemetry"_qs, t);
    }
    return o;
}

void FleetShare::add(const FleetShare &o)
{
    online += o.online;
    reporting += o.reporting;
    withErrors += o.withErrors;
    buffering += o.buffering;
    for (const auto &[channel, byVersion] : o.versions) {
        for (const auto &[version, n] : byVersion)
            versions[channel][version] += n;
    }
    for (const auto &[model, n] : o.models)
        models[model] += n;
    for (const auto &[player, n] : o.players)
        players[player] += n;
}

namespace {
QCborMap countsCbor(const std::map<QString, int> &counts)
{
    QCborMap m;
    for (const auto &[k, n] : counts)
        m.insert(k, n);
    return m;
}
std::map<QString, int> countsFromCbor(const QCborMap &m)
{
    std::map<QString, int> out;
    for (auto it = m.cbegin(); it != m.cend(); ++it) {
        if (const qint64 n = it.value().toInteger(); n > 0)
            out[it.key().toString()] += int(n);
    }
    return out;
}
} // namespace

QCborMap FleetShare::toCbor() const
{
    QCborMap v;
    for (const auto &[channel, byVersion] : versions)
        v.insert(channel, countsCbor(byVersion));
    return {{u"online"_qs, online},         {u"reporting"_qs, reporting},   {u"errors"_qs, withErrors},
            {u"buffering"_qs, buffering},   {u"versions"_qs, v},            {u"models"_qs, countsCbor(models)},
            {u"players"_qs, countsCbor(players)}};
}

FleetShare FleetShare::fromCbor(const QCborMap &m)
{
    FleetShare s;
    s.online = int(m.value(u"online"_qs).toInteger());
    s.reporting = int(m.value(u"reporting"_qs).toInteger());
    s.withErrors = int(m.value(u"errors"_qs).toInteger());
    s.buffering = int(m.value(u"buffering"_qs).toInteger());
    const QCborMap v = m.value(u"versions"_qs).toMap();
    for (auto it = v.cbegin(); it != v.cend(); ++it) {
        if (auto counts = countsFromCbor(it.value().toMap()); !counts.empty())
            s.versions[it.key().toString()] = std::move(counts);
    }
    s.models = countsFromCbor(m.value(u"models"_qs).toMap());
    s.players = countsFromCbor(m.value(u"players"_qs).toMap());
    return s;
}

FleetShare Fleet::share(bool heldHere) const
{
    // Counted by pool index (one array slot per interned string) and named once at the end: the
    // scan over every box runs each second while an operator watches and telemetry flows.
    FleetShare s;
    const qsizetype poolSize = m_pool.size();
    std::vector<int> versionCounts[2] = {std::vector<int>(poolSize), std::vector<int>(poolSize)}; // clean, experimental
    std::vector<int> byModel(poolSize), byPlayer(poolSize);
    for (const BoxInfo *b : m_boxes) {
        if (!b->online || (heldHere && b->heldElsewhere))
            continue;
        ++s.online;
        ++versionCounts[b->releaseChannel == ReleaseChannel::Experimental][b->version];
        ++byModel[b->model];
        if (b->telemetryCount) {
            ++s.reporting;
            if (b->errorEvents)
                ++s.withErrors;
            if (b->bufferingEvents)
                ++s.buffering;
            ++byPlayer[b->playerState];
        }
    }
    const auto named = [this](const std::vector<int> &counts) {
        std::map<QString, int> out;
        for (size_t i = 0; i < counts.size(); ++i) {
            if (counts[i])
                out[m_pool.at(quint16(i))] += counts[i];
        }
        return out;
    };
    for (const ReleaseChannel c : {ReleaseChannel::Clean, ReleaseChannel::Experimental}) {
        if (auto counts = named(versionCounts[c == ReleaseChannel::Experimental]); !counts.empty())
            s.versions[releaseChannelName(c)] = std::move(counts);
    }
    s.models = named(byModel);
    s.players = named(byPlayer);
    return s;
}

QJsonObject Fleet::summary(const FleetShare &online) const
{
    // The registry counts are this node's; what the online boxes report comes from `online`.
    int pending = 0, rejected = 0, approved = 0;
    for (const BoxInfo *b : m_boxes) {
        switch (b->state) {
        case BoxState::Pending: ++pending; break;
        case BoxState::Rejected: ++rejected; break;
        case BoxState::Approved: ++approved; break;
        }
    }
    auto toJson = [](const std::map<QString, int> &m) {
        QJsonObject o;
        for (const auto &[k, n] : m)
            o.insert(k.isEmpty() ? u"unknown"_qs : k, n);
        return o;
    };
    QJsonObject v;
    for (const auto &[channel, byVersion] : online.versions)
        v.insert(channel, toJson(byVersion));
    const int reporting = online.reporting;
    auto rate = [reporting](int n) { return reporting ? std::round(1e4 * n / reporting) / 1e4 : 0.0; };
    return QJsonObject{{u"boxes"_qs, qint64(m_boxes.size())},
                       {u"online"_qs, online.online},
                       {u"approved"_qs, approved},
                       {u"pending"_qs, pending},
                       {u"rejected"_qs, rejected},
                       {u"versions"_qs, v},
                       {u"models"_qs, toJson(online.models)},
                       {u"playerStates"_qs, toJson(online.players)},
                       {u"reporting"_qs, reporting},
                       {u"boxesWithErrors"_qs, online.withErrors},
                       {u"errorRate"_qs, rate(online.withErrors)},
                       {u"bufferingRate"_qs, rate(online.buffering)}};
}

} // namespace iptv::control
