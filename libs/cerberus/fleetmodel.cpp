#include "fleetmodel.h"

#include <QColor>
#include <QDateTime>
#include <QJsonArray>
#include <QLoggingCategory>

#include <algorithm>

Q_LOGGING_CATEGORY(lcFleetModel, "iptv.cerberus.fleetmodel")

namespace iptv::cerberus {

namespace {

constexpr quint32 bit(int column) { return 1u << column; }

qint64 boxId(const QJsonValue &v)
{
    if (v.isDouble())
        return v.toInteger();
    QStringView t = QStringView(v.toString());
    if (t.startsWith(u"b-"))
        t = t.mid(2);
    return t.toLongLong();
}

quint8 stateFromName(const QString &s)
{
    if (s == u"pending")
        return FleetRow::Pending;
    if (s == u"rejected")
        return FleetRow::Rejected;
    return FleetRow::Approved;
}

template<typename T, typename V>
bool assign(T &field, V value)
{
    const T v = T(value);
    if (field == v)
        return false;
    field = v;
    return true;
}

} // namespace

quint16 StringPool::intern(const QString &s)
{
    if (s.isEmpty())
        return 0;
    const auto it = m_index.constFind(s);
    if (it != m_index.cend())
        return it.value();
    if (m_strings.size() >= 0xffff)
        return 0; // a flood of distinct values: they read as empty rather than grow without end
    const auto index = quint16(m_strings.size());
    m_strings.append(s);
    m_index.insert(s, index);
    return index;
}

FleetModel::FleetModel(QObject *parent)
    : QAbstractTableModel(parent)
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, [this] { flush(true); });
}

int FleetModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int FleetModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString FleetModel::stateName(quint8 s)
{
    switch (s) {
    case FleetRow::Pending: return u"pending"_qs;
    case FleetRow::Rejected: return u"rejected"_qs;
    default: return u"approved"_qs;
    }
}

QStringList FleetModel::tagsOf(const FleetRow &r) const
{
    return r.tags ? m_pool.at(r.tags).split(u", "_qs) : QStringList();
}

FleetModel::HealthLevel FleetModel::health(const FleetRow &r) const
{
    const bool hasTemp = r.temperatureDeci != FleetRow::kNoTemperature;
    if (!hasTemp && r.cpuPermille < 0 && r.errors == 0)
        return HealthUnknown;
    const double t = r.temperatureDeci / 10.0;
    if ((hasTemp && t >= m_health.alarmTemperatureC) || r.errors >= m_health.alarmErrors)
        return HealthAlarm;
    if ((hasTemp && t >= m_health.warnTemperatureC) || r.cpuPermille >= m_health.warnCpuPercent * 10 || r.errors > 0)
        return HealthWarning;
    return HealthOk;
}

QString FleetModel::healthText(const FleetRow &r) const
{
    QStringList parts;
    if (r.temperatureDeci != FleetRow::kNoTemperature)
        parts.append(QString::number(r.temperatureDeci / 10.0, 'f', 0) + u" °C"_qs);
    if (r.cpuPermille >= 0)
        parts.append(QString::number(r.cpuPermille / 10.0, 'f', 0) + u" % cpu"_qs);
    if (r.errors)
        parts.append(r.errors == 1 ? u"1 error"_qs : QString::number(r.errors) + u" errors"_qs);
    return parts.isEmpty() ? u"–"_qs : parts.join(u" · "_qs);
}

QVariant FleetModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const FleetRow &r = m_rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case StatusColumn:
            if (r.state != FleetRow::Approved)
                return stateName(r.state);
            return r.online ? u"online"_qs : u"offline"_qs;
        case SerialColumn: return r.serial;
        case ModelColumn: return m_pool.at(r.model);
        case VersionColumn: return m_pool.at(r.version);
        case ReleaseChannelColumn: return releaseChannelName(r.releaseChannel);
        case CurrentChannelColumn: return m_pool.at(r.currentChannel);
        case LastSeenColumn: {
            if (!r.lastSeen)
                return u"never"_qs;
            const QDateTime t = QDateTime::fromSecsSinceEpoch(r.lastSeen);
            return t.date() == QDate::currentDate() ? t.toString(u"HH:mm:ss"_qs) : t.toString(u"yyyy-MM-dd HH:mm"_qs);
        }
        case HealthColumn: return healthText(r);
        case TagsColumn: return m_pool.at(r.tags);
        default: return {};
        }
    case Qt::DecorationRole:
        if (index.column() == StatusColumn) {
            if (r.state == FleetRow::Pending)
                return QColor(0xe0, 0xa0, 0x20);
            if (r.state == FleetRow::Rejected)
                return QColor(0xc0, 0x39, 0x2b);
            return r.online ? QColor(0x2e, 0xa0, 0x43) : QColor(0x9a, 0xa0, 0xa6);
        }
        return {};
    case Qt::ForegroundRole:
        if (index.column() == HealthColumn) {
            switch (health(r)) {
            case HealthAlarm: return QColor(0xc0, 0x39, 0x2b);
            case HealthWarning: return QColor(0xb8, 0x6e, 0x00);
            default: return {};
            }
        }
        if (!r.online && index.column() != StatusColumn)
            return QColor(0x80, 0x86, 0x8b);
        return {};
    case Qt::ToolTipRole:
        if (index.column() == HealthColumn) {
            QString tip = healthText(r);
            if (r.memoryTotalKb)
                tip += QStringLiteral("\nmemory %1 / %2 MB").arg(r.memoryUsedKb / 1024).arg(r.memoryTotalKb / 1024);
            if (r.buffering)
                tip += QStringLiteral("\n%1 buffering events").arg(r.buffering);
            return tip;
        }
        return {};
    case BoxIdRole: return r.id;
    case OnlineRole: return r.online;
    case StateRole: return stateName(r.state);
    case SerialRole: return r.serial;
    case ModelRole: return m_pool.at(r.model);
    case VersionRole: return m_pool.at(r.version);
    case ReleaseChannelRole: return releaseChannelName(r.releaseChannel);
    case CurrentChannelRole: return m_pool.at(r.currentChannel);
    case LastSeenRole: return r.lastSeen ? QDateTime::fromSecsSinceEpoch(r.lastSeen) : QDateTime();
    case TemperatureRole: return r.temperatureDeci == FleetRow::kNoTemperature ? QVariant() : QVariant(r.temperatureDeci / 10.0);
    case CpuRole: return r.cpuPermille < 0 ? QVariant() : QVariant(r.cpuPermille / 10.0);
    case MemoryRole: return r.memoryTotalKb ? QVariant(double(r.memoryUsedKb) / r.memoryTotalKb) : QVariant();
    case ErrorsRole: return r.errors;
    case TagsRole: return tagsOf(r);
    case HealthRole: return health(r);
    default: return {};
    }
}

QVariant FleetModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case StatusColumn: return tr("Status");
    case SerialColumn: return tr("Serial");
    case ModelColumn: return tr("Model");
    case VersionColumn: return tr("Software");
    case ReleaseChannelColumn: return tr("Release");
    case CurrentChannelColumn: return tr("Watching");
    case LastSeenColumn: return tr("Last seen");
    case HealthColumn: return tr("Health");
    case TagsColumn: return tr("Tags");
    default: return {};
    }
}

QHash<int, QByteArray> FleetModel::roleNames() const
{
    QHash<int, QByteArray> r = QAbstractTableModel::roleNames();
    r.insert(BoxIdRole, "boxId");
    r.insert(OnlineRole, "online");
    r.insert(StateRole, "state");
    r.insert(SerialRole, "serial");
    r.insert(ModelRole, "model");
    r.insert(VersionRole, "softwareVersion");
    r.insert(ReleaseChannelRole, "releaseChannel");
    r.insert(CurrentChannelRole, "currentChannel");
    r.insert(LastSeenRole, "lastSeen");
    r.insert(TemperatureRole, "temperature");
    r.insert(CpuRole, "cpu");
    r.insert(MemoryRole, "memory");
    r.insert(ErrorsRole, "errors");
    r.insert(TagsRole, "tags");
    r.insert(HealthRole, "health");
    return r;
}

void FleetModel::setTagsFromJson(FleetRow &r, const QJsonValue &v)
{
    QStringList tags;
    for (const QJsonValue &t : v.toArray())
        tags.append(t.toString());
    tags.sort();
    r.tags = m_pool.intern(tags.join(u", "_qs));
}

quint32 FleetModel::merge(FleetRow &r, const QJsonObject &box, const QJsonObject &telemetryIn, int presence)
{
    quint32 changed = 0;
    const int onlineBefore = r.online;
    const quint8 stateBefore = r.state;
    if (!box.isEmpty()) {
        auto text = [&box](QStringView key, QString *out) {
            const auto it = box.constFind(key);
            if (it == box.constEnd())
                return false;
            *out = it->toString();
            return true;
        };
        QString s;
        if (text(u"serial", &s) && r.serial != s) {
            r.serial = s;
            changed |= bit(SerialColumn);
        }
        if (text(u"model", &s) && assign(r.model, m_pool.intern(s)))
            changed |= bit(ModelColumn);
        if (text(u"softwareVersion", &s) && assign(r.version, m_pool.intern(s)))
            changed |= bit(VersionColumn);
        if (text(u"currentChannel", &s) && assign(r.currentChannel, m_pool.intern(s)))
            changed |= bit(CurrentChannelColumn);
        if (text(u"releaseChannel", &s) && assign(r.releaseChannel, s == u"experimental" ? 1 : 0))
            changed |= bit(ReleaseChannelColumn);
        if (text(u"state", &s) && assign(r.state, stateFromName(s)))
            changed |= bit(StatusColumn);
        if (box.contains(u"online") && assign(r.online, box.value(u"online").toBool()))
            changed |= bit(StatusColumn);
        if (box.contains(u"lastSeen") && assign(r.lastSeen, box.value(u"lastSeen").toInteger()))
            changed |= bit(LastSeenColumn);
        if (box.contains(u"tags")) {
            const quint16 before = r.tags;
            setTagsFromJson(r, box.value(u"tags"));
            if (before != r.tags)
                changed |= bit(TagsColumn);
        }
    }
    const QJsonObject boxTelemetry = box.value(u"telemetry").toObject();
    for (const QJsonObject *tp : {&boxTelemetry, &telemetryIn}) {
        const QJsonObject &t = *tp;
        if (t.isEmpty())
            continue;
        // The fleet list spells telemetry out ("cpuPercent"); a box's own message is terse ("cpu")
        // and leaves out counters that are zero.
        const bool terse = !t.contains(u"errorEvents") && !t.contains(u"cpuPercent") && !t.contains(u"temperatureC");
        auto num = [&t](QStringView longKey, QStringView shortKey, double fallback) {
            auto it = t.constFind(longKey);
            if (it == t.constEnd())
                it = t.constFind(shortKey);
            return it == t.constEnd() ? fallback : it->toDouble(fallback);
        };
        quint32 h = 0;
        const double cpu = num(u"cpuPercent", u"cpu", -1);
        if (cpu >= 0 && assign(r.cpuPermille, qint16(qBound(0.0, cpu * 10, 30000.0))))
            h |= bit(HealthColumn);
        const double temp = num(u"temperatureC", u"temp", -1000);
        if (temp > -1000) {
            const qint16 before = r.temperatureDeci;
            if (assign(r.temperatureDeci, qint16(qBound(-2000.0, temp * 10, 3000.0)))) {
                h |= bit(HealthColumn);
                const double alarm = m_health.alarmTemperatureC * 10;
                if (r.temperatureDeci >= alarm && (before == FleetRow::kNoTemperature || before < alarm))
                    Q_EMIT temperatureAlarm(r.id, r.serial, temp);
            }
        }
        const double mem = num(u"memoryUsedKb", u"mem", -1);
        if (mem >= 0)
            assign(r.memoryUsedKb, quint32(mem));
        const double memTotal = num(u"memoryTotalKb", u"memTotal", -1);
        if (memTotal >= 0)
            assign(r.memoryTotalKb, quint32(memTotal));
        const double err = num(u"errorEvents", u"err", terse ? 0 : -1);
        if (err >= 0 && assign(r.errors, quint32(err)))
            h |= bit(HealthColumn);
        const double buf = num(u"bufferingEvents", u"buf", terse ? 0 : -1);
        if (buf >= 0)
            assign(r.buffering, quint32(buf));
        if (terse) {
            // A live sample: the box is online now and may report version and channel changes.
            const QString sw = t.value(u"sw").toString();
            if (!sw.isEmpty() && assign(r.version, m_pool.intern(sw)))
                changed |= bit(VersionColumn);
            const QString ch = t.value(u"ch").toString();
            if (!ch.isEmpty() && assign(r.currentChannel, m_pool.intern(ch)))
                changed |= bit(CurrentChannelColumn);
            if (assign(r.lastSeen, QDateTime::currentSecsSinceEpoch()))
                changed |= bit(LastSeenColumn);
            if (assign(r.online, true))
                changed |= bit(StatusColumn);
        }
        changed |= h;
    }
    if (presence >= 0 && assign(r.online, presence == 1)) {
        changed |= bit(StatusColumn);
        if (presence == 1 && assign(r.lastSeen, QDateTime::currentSecsSinceEpoch()))
            changed |= bit(LastSeenColumn);
    }
    if (r.online != bool(onlineBefore))
        m_online += r.online ? 1 : -1;
    if (r.state != stateBefore)
        changed |= bit(StatusColumn);
    return changed;
}

void FleetModel::applyBoxes(const QList<QJsonObject> &boxes)
{
    QList<std::pair<int, quint32>> changes;
    QList<FleetRow> added;
    QHash<qint64, int> addedAt;
    const int onlineBefore = m_online;
    for (const QJsonObject &o : boxes) {
        const qint64 id = boxId(o.value(u"id"));
        if (id <= 0)
            continue;
        const int row = m_rowOf.value(id, -1);
        if (row >= 0) {
            if (const quint32 mask = merge(m_rows[row], o, {}, -1))
                changes.append({row, mask});
            continue;
        }
        const int a = addedAt.value(id, -1);
        if (a >= 0) {
            merge(added[a], o, {}, -1);
            continue;
        }
        FleetRow r;
        r.id = id;
        merge(r, o, {}, -1);
        addedAt.insert(id, int(added.size()));
        added.append(std::move(r));
    }
    emitChanged(changes);
    if (!added.isEmpty()) {
        const int first = int(m_rows.size());
        beginInsertRows({}, first, first + int(added.size()) - 1);
        // Grown geometrically, not to the exact size: one exact reserve per page of the first
        // load copied every row again with each of the 100 pages.
        if (m_rows.capacity() < first + added.size())
            m_rows.reserve(std::max<qsizetype>(first + added.size(), m_rows.capacity() * 2));
        for (FleetRow &r : added) {
            m_rowOf.insert(r.id, int(m_rows.size()));
            m_rows.append(std::move(r));
        }
        endInsertRows();
        Q_EMIT countChanged();
    }
    if (m_online != onlineBefore)
        Q_EMIT onlineCountChanged();
}

void FleetModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_rowOf.clear();
    m_pending.clear();
    m_pendingOrder.clear();
    m_pool = StringPool();
    m_online = 0;
    endResetModel();
    Q_EMIT countChanged();
    Q_EMIT onlineCountChanged();
}

void FleetModel::scheduleFlush()
{
    if (!m_timer.isActive())
        m_timer.start(m_interval);
}

void FleetModel::queueBox(const QJsonObject &box)
{
    const qint64 id = boxId(box.value(u"id"));
    if (id <= 0)
        return;
    auto it = m_pending.find(id);
    if (it == m_pending.end()) {
        it = m_pending.insert(id, {});
        m_pendingOrder.append(id);
    }
    for (auto k = box.begin(); k != box.end(); ++k)
        it->box.insert(k.key(), k.value());
    scheduleFlush();
}

void FleetModel::queueTelemetry(qint64 id, const QJsonObject &telemetry)
{
    auto it = m_pending.find(id);
    if (it == m_pending.end()) {
        it = m_pending.insert(id, {});
        m_pendingOrder.append(id);
    }
    if (it->telemetry.isEmpty()) {
        it->telemetry = telemetry;
    } else {
        for (auto k = telemetry.begin(); k != telemetry.end(); ++k)
            it->telemetry.insert(k.key(), k.value());
    }
    scheduleFlush();
}

void FleetModel::queuePresence(qint64 id, bool online)
{
    auto it = m_pending.find(id);
    if (it == m_pending.end()) {
        it = m_pending.insert(id, {});
        m_pendingOrder.append(id);
    }
    it->presence = online ? 1 : 0;
    scheduleFlush();
}

void FleetModel::flushPending()
{
    m_timer.stop();
    flush(false);
}

void FleetModel::flush(bool budgeted)
{
    QElapsedTimer clock;
    clock.start();
    QList<std::pair<int, quint32>> changes;
    QList<QJsonObject> unknown; // boxes we have not listed yet: inserted as a block
    const int onlineBefore = m_online;
    qsizetype done = 0;
    int updates = 0;
    int rowsChanged = 0;
    // In chunks, each merged and signalled before the clock is looked at, so the budget covers
    // the views' and proxies' work on the signals too.
    while (done < m_pendingOrder.size()) {
        const qsizetype end = std::min(m_pendingOrder.size(), done + 256);
        for (; done < end; ++done) {
            const qint64 id = m_pendingOrder.at(done);
            const Pending p = m_pending.take(id);
            ++updates;
            const int row = m_rowOf.value(id, -1);
            if (row < 0) {
                // Only a full box record can make a row; a bare telemetry or presence update of a
                // box we have not listed waits for the next page of the list.
                if (p.box.contains(u"serial"))
                    unknown.append(p.box);
                continue;
            }
            if (const quint32 mask = merge(m_rows[row], p.box, p.telemetry, p.presence))
                changes.append({row, mask});
        }
        rowsChanged += int(changes.size());
        emitChanged(changes);
        changes.clear();
        if (budgeted && clock.elapsed() >= m_budgetMs)
            break;
    }
    m_pendingOrder.remove(0, done);
    if (m_online != onlineBefore)
        Q_EMIT onlineCountChanged();
    if (!unknown.isEmpty())
        applyBoxes(unknown);
    if (!m_pendingOrder.isEmpty())
        m_timer.start(0); // the rest after the event loop had its turn
    const double ms = clock.nsecsElapsed() / 1e6;
    if (updates)
        Q_EMIT flushed(updates, rowsChanged, ms);
}

void FleetModel::emitChanged(QList<std::pair<int, quint32>> &changes)
{
    if (changes.isEmpty())
        return;
    std::sort(changes.begin(), changes.end());
    // Consecutive rows with the same changed columns become one range, and each run of adjacent
    // changed columns one dataChanged: exactly the changed cells, in few signals.
    qsizetype i = 0;
    while (i < changes.size()) {
        const int firstRow = changes[i].first;
        const quint32 mask = changes[i].second;
        qsizetype j = i + 1;
        while (j < changes.size() && changes[j].second == mask && changes[j].first == changes[j - 1].first + 1)
            ++j;
        const int lastRow = changes[j - 1].first;
        for (int c = 0; c < ColumnCount;) {
            if (!(mask & bit(c))) {
                ++c;
                continue;
            }
            int e = c;
            while (e + 1 < ColumnCount && (mask & bit(e + 1)))
                ++e;
            Q_EMIT dataChanged(index(firstRow, c), index(lastRow, e));
            c = e + 1;
        }
        i = j;
    }
}

QStringList FleetModel::distinctValues(Column column) const
{
    // A flag per pooled string rather than a set: runs in the same turn as the end of the first
    // load, over every row.
    QList<bool> seen(m_pool.size(), false);
    for (const FleetRow &r : m_rows) {
        switch (column) {
        case ModelColumn: seen[r.model] = true; break;
        case VersionColumn: seen[r.version] = true; break;
        case CurrentChannelColumn: seen[r.currentChannel] = true; break;
        case TagsColumn: seen[r.tags] = true; break;
        default: break;
        }
    }
    QStringList out;
    if (column == TagsColumn) {
        QSet<QString> tags;
        for (qsizetype s = 1; s < seen.size(); ++s) {
            if (seen[s])
                for (const QString &t : m_pool.at(quint16(s)).split(u", "_qs))
                    tags.insert(t);
        }
        out = QStringList(tags.begin(), tags.end());
    } else if (column == ReleaseChannelColumn) {
        out = {u"clean"_qs, u"experimental"_qs};
    } else {
        for (qsizetype s = 1; s < seen.size(); ++s) {
            if (seen[s])
                out.append(m_pool.at(quint16(s)));
        }
    }
    out.sort(Qt::CaseInsensitive);
    return out;
}

qint64 FleetModel::approximateBytes() const
{
    qint64 bytes = m_rows.capacity() * qint64(sizeof(FleetRow));
    for (const FleetRow &r : m_rows)
        bytes += r.serial.capacity() * 2 + 24; // heap block: header + UTF-16 + terminator
    bytes += m_rowOf.capacity() * 24;              // QHash span entry + node
    return bytes;
}

} // namespace iptv::cerberus
