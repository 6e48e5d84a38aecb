#pragma once

// The fleet at a glance: counts, versions per release channel, error and buffering rates with a
// short history for charts, and alerts (a rollout halted, boxes went offline, a box too hot),
// each alert kept once per subject and newest first.

#include <QAbstractListModel>
#include <QDateTime>
#include <QJsonObject>
#include <QObject>
#include <QPointF>
#include <QVariantMap>

namespace iptv::cerberus {

class FleetModel;

class AlertModel : public QAbstractListModel
{
    Q_OBJECT
public:
    enum Severity { Info, Warning, Critical };
    Q_ENUM(Severity)
    enum Roles { SeverityRole = Qt::UserRole + 1, KindRole, TextRole, TimeRole, SubjectRole };

    struct Alert
    {
        Severity severity = Warning;
        QString kind;    ///< rollout-halted | box-offline | temperature
        QString subject; ///< what it is about (rollout id, box id); one alert per kind+subject
        QString text;
        QDateTime time;
    };

    using QAbstractListModel::QAbstractListModel;
    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    /// Adds the alert at the top, replacing an older one of the same kind and subject.
    void raise(const Alert &alert);
    void dismiss(int row);
    void clear();
    const Alert &at(int row) const { return m_alerts.at(row); }
    int countOf(Severity s) const;

private:
    QList<Alert> m_alerts;
    static constexpr int MaxAlerts = 500;
};

class DashboardModel : public QObject
{
    Q_OBJECT
    Q_PROPERTY(int boxes READ boxes NOTIFY changed)
    Q_PROPERTY(int online READ online NOTIFY changed)
    Q_PROPERTY(int pending READ pending NOTIFY changed)
    Q_PROPERTY(double errorRate READ errorRate NOTIFY changed)
    Q_PROPERTY(double bufferingRate READ bufferingRate NOTIFY changed)

public:
    explicit DashboardModel(QObject *parent = nullptr);

    int boxes() const { return m_summary.value(u"boxes").toInt(); }
    int online() const { return m_summary.value(u"online").toInt(); }
    int pending() const { return m_summary.value(u"pending").toInt(); }
    double errorRate() const { return m_summary.value(u"errorRate").toDouble(); }
    double bufferingRate() const { return m_summary.value(u"bufferingRate").toDouble(); }
    int boxesWithErrors() const { return m_summary.value(u"boxesWithErrors").toInt(); }
    /// channel -> (version -> boxes): of every box in the fleet model when one is set (the
    /// server's summary counts only boxes reporting since it started), else of the summary.
    QMap<QString, QMap<QString, int>> versionsByChannel() const;
    void setFleetModel(const FleetModel *model) { m_fleet = model; }
    QMap<QString, int> models() const;
    QJsonObject summary() const { return m_summary; }
    /// (epoch ms, value) samples, one per summary, the last hour.
    const QList<QPointF> &onlineHistory() const { return m_onlineHistory; }
    const QList<QPointF> &errorRateHistory() const { return m_errorHistory; }
    AlertModel *alerts() const { return m_alerts; }

    void applySummary(const QJsonObject &summary);
    void noteOffline(const QList<qint64> &ids, int count);
    void noteTemperature(qint64 id, const QString &serial, double celsius);
    /// A rollout's state (a "rollouts" push or a list entry): halts raise an alert.
    void noteRollout(const QJsonObject &rollout);

Q_SIGNALS:
    void changed();

private:
    QJsonObject m_summary;
    QList<QPointF> m_onlineHistory;
    QList<QPointF> m_errorHistory;
    AlertModel *m_alerts;
    const FleetModel *m_fleet = nullptr;
};

} // namespace iptv::cerberus
