#include "dashboardmodel.h"

#include "fleetmodel.h"

#include <QColor>
#include <QJsonArray>

namespace iptv::cerberus {

int AlertModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_alerts.size());
}

QVariant AlertModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_alerts.size())
        return {};
    const Alert &a = m_alerts.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        return QString(a.time.toString(u"HH:mm:ss"_qs) + u"  "_qs + a.text);
    case Qt::DecorationRole:
        return a.severity == Critical ? QColor(0xc0, 0x39, 0x2b) : a.severity == Warning ? QColor(0xe0, 0xa0, 0x20) : QColor(0x2e, 0x86, 0xc1);
    case SeverityRole: return a.severity;
    case KindRole: return a.kind;
    case TextRole: return a.text;
    case TimeRole: return a.time;
    case SubjectRole: return a.subject;
    default: return {};
    }
}

QHash<int, QByteArray> AlertModel::roleNames() const
{
    return {{Qt::DisplayRole, "display"}, {SeverityRole, "severity"}, {KindRole, "kind"},
            {TextRole, "text"}, {TimeRole, "time"}, {SubjectRole, "subject"}};
}

void AlertModel::raise(const Alert &alert)
{
    for (int i = 0; i < m_alerts.size(); ++i) {
        if (m_alerts.at(i).kind == alert.kind && m_alerts.at(i).subject == alert.subject) {
            beginRemoveRows({}, i, i);
            m_alerts.removeAt(i);
            endRemoveRows();
            break;
        }
    }
    beginInsertRows({}, 0, 0);
    m_alerts.prepend(alert);
    endInsertRows();
    if (m_alerts.size() > MaxAlerts) {
        beginRemoveRows({}, MaxAlerts, int(m_alerts.size()) - 1);
        m_alerts.resize(MaxAlerts);
        endRemoveRows();
    }
}

void AlertModel::dismiss(int row)
{
    if (row < 0 || row >= m_alerts.size())
        return;
    beginRemoveRows({}, row, row);
    m_alerts.removeAt(row);
    endRemoveRows();
}

void AlertModel::clear()
{
    beginResetModel();
    m_alerts.clear();
    endResetModel();
}

int AlertModel::countOf(Severity s) const
{
    return int(std::count_if(m_alerts.cbegin(), m_alerts.cend(), [s](const Alert &a) { return a.severity == s; }));
}

DashboardModel::DashboardModel(QObject *parent)
    : QObject(parent), m_alerts(new AlertModel(this))
{
}

QMap<QString, QMap<QString, int>> DashboardModel::versionsByChannel() const
{
    QMap<QString, QMap<QString, int>> out;
    if (m_fleet && m_fleet->rowCount() > 0) {
        // Counted per (channel, pooled version) first: 100,000 rows cost a millisecond.
        QHash<quint32, int> counts;
        for (int i = 0; i < m_fleet->rowCount(); ++i) {
            const FleetRow &r = m_fleet->row(i);
            if (r.state == FleetRow::Approved)
                ++counts[(quint32(r.releaseChannel) << 16) | r.version];
        }
        for (auto it = counts.cbegin(); it != counts.cend(); ++it) {
            const QString v = m_fleet->string(quint16(it.key() & 0xffff));
            out[FleetModel::releaseChannelName(quint8(it.key() >> 16))][v.isEmpty() ? u"unknown"_qs : v] += it.value();
        }
        return out;
    }
    const QJsonObject v = m_summary.value(u"versions").toObject();
    for (auto ch = v.begin(); ch != v.end(); ++ch) {
        const QJsonObject versions = ch.value().toObject();
        for (auto it = versions.begin(); it != versions.end(); ++it)
            out[ch.key()][it.key()] = it.value().toInt();
    }
    return out;
}

QMap<QString, int> DashboardModel::models() const
{
    QMap<QString, int> out;
    const QJsonObject m = m_summary.value(u"models").toObject();
    for (auto it = m.begin(); it != m.end(); ++it)
        out[it.key()] = it.value().toInt();
    return out;
}

void DashboardModel::applySummary(const QJsonObject &summary)
{
    m_summary = summary;
    const double now = double(QDateTime::currentMSecsSinceEpoch());
    m_onlineHistory.append({now, double(online())});
    m_errorHistory.append({now, errorRate() * 100});
    const double horizon = now - 3600 * 1000.0;
    while (!m_onlineHistory.isEmpty() && m_onlineHistory.first().x() < horizon)
        m_onlineHistory.removeFirst();
    while (!m_errorHistory.isEmpty() && m_errorHistory.first().x() < horizon)
        m_errorHistory.removeFirst();
    Q_EMIT changed();
}

void DashboardModel::noteOffline(const QList<qint64> &ids, int count)
{
    AlertModel::Alert a;
    a.time = QDateTime::currentDateTime();
    a.kind = u"box-offline"_qs;
    if (count > 20) {
        // A storm is one alert, not hundreds.
        a.severity = AlertModel::Critical;
        a.subject = u"many"_qs;
        a.text = tr("%n boxes went offline at once", nullptr, count);
        m_alerts->raise(a);
        return;
    }
    a.severity = AlertModel::Warning;
    for (qint64 id : ids) {
        a.subject = QString::number(id);
        a.text = tr("Box b-%1 went offline").arg(id);
        m_alerts->raise(a);
    }
}

void DashboardModel::noteTemperature(qint64 id, const QString &serial, double celsius)
{
    m_alerts->raise({AlertModel::Critical, u"temperature"_qs, QString::number(id),
                     tr("%1 is at %2 °C").arg(serial.isEmpty() ? u"b-"_qs + QString::number(id) : serial)
                         .arg(celsius, 0, 'f', 1),
                     QDateTime::currentDateTime()});
}

void DashboardModel::noteRollout(const QJsonObject &rollout)
{
    const QString state = rollout.value(u"state").toString();
    const QString id = rollout.value(u"id").toVariant().toString();
    if (state == u"halted") {
        m_alerts->raise({AlertModel::Critical, u"rollout-halted"_qs, id,
                         tr("Rollout %1 of %2 halted: %3").arg(id, rollout.value(u"version").toString(),
                                                                rollout.value(u"reason").toString()),
                         QDateTime::currentDateTime()});
    } else if (state == u"completed") {
        m_alerts->raise({AlertModel::Info, u"rollout-completed"_qs, id,
                         tr("Rollout %1 of %2 completed").arg(id, rollout.value(u"version").toString()),
                         QDateTime::currentDateTime()});
    }
}

} // namespace iptv::cerberus
