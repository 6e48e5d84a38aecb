#pragma once

// The fleet table: one compact record per box, fed by the controlserver's box JSON (GET
// /api/boxes pages, live pushes). Built for 100,000 rows: strings shared by many boxes (models,
// versions, channels, tag sets) are interned once, lookups go through a hash from box id to row,
// and changes never reset the model after the first load: new boxes are inserted, changed boxes
// emit dataChanged for exactly the cells that changed.
//
// Live updates come in bursts (a telemetry push per box, a presence list after a reconnect storm),
// so they are queued and applied together at most every coalesceInterval() ms, within a time budget
// per turn of the event loop; the UI thread never spends longer than that on them.

#include <QAbstractTableModel>
#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>
#include <QTimer>

namespace iptv::cerberus {

/// Strings that many boxes share, stored once and named by a 16-bit index (0 = empty).
class StringPool
{
public:
    StringPool() { m_strings.append(QString()); }
    quint16 intern(const QString &s);
    const QString &at(quint16 index) const { return m_strings.at(index); }
    /// Index of `s`, or -1 when no box has it.
    int find(const QString &s) const
    {
        if (s.isEmpty())
            return 0;
        const auto it = m_index.constFind(s);
        return it == m_index.cend() ? -1 : int(it.value());
    }
    qsizetype size() const { return m_strings.size(); }

private:
    QList<QString> m_strings;
    QHash<QString, quint16> m_index;
};

/// One box as the table holds it (about 64 bytes plus its serial).
struct FleetRow
{
    qint64 id = 0;
    QString serial;
    qint64 lastSeen = 0;          ///< epoch s; 0 = never
    quint32 memoryUsedKb = 0;
    quint32 memoryTotalKb = 0;
    quint32 errors = 0;           ///< error events in the latest telemetry
    quint32 buffering = 0;
    qint16 temperatureDeci = kNoTemperature;
    qint16 cpuPermille = -1;      ///< -1 = unknown
    quint16 model = 0;            ///< StringPool indexes
    quint16 version = 0;
    quint16 currentChannel = 0;
    quint16 tags = 0;             ///< the box's tags joined with ", " (one pooled string per distinct set)
    quint8 state = 0;             ///< BoxState
    quint8 releaseChannel = 0;    ///< 0 clean, 1 experimental
    bool online = false;

    static constexpr qint16 kNoTemperature = -10000;
    enum BoxState : quint8 { Approved, Pending, Rejected };
};

/// Where health turns into a warning or an alarm.
struct HealthThresholds
{
    double warnTemperatureC = 75;
    double alarmTemperatureC = 85;
    double warnCpuPercent = 90;
    quint32 alarmErrors = 10;
};

class FleetModel : public QAbstractTableModel
{
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    Q_PROPERTY(int onlineCount READ onlineCount NOTIFY onlineCountChanged)

public:
    enum Column { StatusColumn, SerialColumn, ModelColumn, VersionColumn, ReleaseChannelColumn, CurrentChannelColumn,
                  LastSeenColumn, HealthColumn, TagsColumn, ColumnCount };
    Q_ENUM(Column)

    enum Roles {
        BoxIdRole = Qt::UserRole + 1,
        OnlineRole,
        StateRole,
        SerialRole,
        ModelRole,
        VersionRole,
        ReleaseChannelRole,
        CurrentChannelRole,
        LastSeenRole,      ///< QDateTime
        TemperatureRole,   ///< °C, or null
        CpuRole,           ///< percent, or null
        MemoryRole,        ///< used fraction 0..1, or null
        ErrorsRole,
        TagsRole,          ///< QStringList
        HealthRole,        ///< HealthLevel
    };
    Q_ENUM(Roles)

    enum HealthLevel { HealthUnknown, HealthOk, HealthWarning, HealthAlarm };
    Q_ENUM(HealthLevel)

    explicit FleetModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    /// Without QAbstractItemModel::hasIndex()'s two virtual calls: a proxy sorting 100,000 rows
    /// asks for two indexes per comparison, about 3.4 million of them.
    QModelIndex index(int row, int column, const QModelIndex &parent = {}) const override
    {
        if (parent.isValid() || row < 0 || column < 0 || row >= m_rows.size() || column >= ColumnCount)
            return {};
        return createIndex(row, column);
    }
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    /// Applies a page of box JSON at once (the initial load and refreshes): unknown boxes are
    /// inserted as one block, known ones updated cell by cell.
    void applyBoxes(const QList<QJsonObject> &boxes);
    /// Drops every row (a new login); the only reset.
    void clear();

    // Coalesced live updates (applied on the next flush).
    void queueBox(const QJsonObject &box);
    /// `telemetry` in either form: the fleet list's {"cpuPercent", "temperatureC", ...} or a box's
    /// own telemetry message body {"cpu", "temp", "mem", "sw", "ch", "err", ...}.
    void queueTelemetry(qint64 id, const QJsonObject &telemetry);
    void queuePresence(qint64 id, bool online);
    /// Applies everything queued now, ignoring the time budget (tests, benchmarks).
    void flushPending();
    int pendingCount() const { return int(m_pending.size()); }
    void setCoalesceInterval(int ms) { m_interval = ms; }
    int coalesceInterval() const { return m_interval; }
    /// Longest a flush may run before it yields to the event loop (the rest follows at once).
    void setFlushBudget(int ms) { m_budgetMs = ms; }

    int rowOf(qint64 id) const { return m_rowOf.value(id, -1); }
    const FleetRow &row(int r) const { return m_rows.at(r); }
    const QString &string(quint16 index) const { return m_pool.at(index); }
    const StringPool &pool() const { return m_pool; }
    QStringList tagsOf(const FleetRow &r) const;
    int onlineCount() const { return m_online; }
    HealthLevel health(const FleetRow &r) const;
    void setHealthThresholds(const HealthThresholds &t) { m_health = t; }
    const HealthThresholds &healthThresholds() const { return m_health; }
    /// Distinct values seen for a column (filter pickers): models, versions, channels, tags.
    QStringList distinctValues(Column column) const;
    static QString releaseChannelName(quint8 c) { return c == 1 ? u"experimental"_qs : u"clean"_qs; }
    static QString stateName(quint8 s);
    /// Bytes the model holds per row (records, serials, the id hash), for the benchmark.
    qint64 approximateBytes() const;

Q_SIGNALS:
    void countChanged();
    void onlineCountChanged();
    /// A box crossed the alarm temperature upwards.
    void temperatureAlarm(qint64 id, const QString &serial, double celsius);
    /// One coalesced flush applied `updates` changes to `rows` rows in `ms` milliseconds.
    void flushed(int updates, int rows, double ms);

private:
    struct Pending
    {
        QJsonObject box;       ///< merged box JSON (keys of the latest win)
        QJsonObject telemetry; ///< merged telemetry
        int presence = -1;     ///< -1 unchanged, 0 offline, 1 online
    };
    void scheduleFlush();
    void flush(bool budgeted);
    /// Writes `box` and `telemetry` onto `r`; returns the changed columns as a bit mask.
    quint32 merge(FleetRow &r, const QJsonObject &box, const QJsonObject &telemetry, int presence);
    void emitChanged(QList<std::pair<int, quint32>> &changes);
    void setTagsFromJson(FleetRow &r, const QJsonValue &v);
    QString healthText(const FleetRow &r) const;

    QList<FleetRow> m_rows;
    QHash<qint64, int> m_rowOf;
    StringPool m_pool;
    QHash<qint64, Pending> m_pending;
    QList<qint64> m_pendingOrder; ///< first-come order, so inserted rows keep arrival order
    QTimer m_timer;
    int m_budgetMs = 20;
    int m_interval = 150;
    int m_online = 0;
    HealthThresholds m_health;
};

} // namespace iptv::cerberus
