#pragma once

// Every viewer's recordings on diver (GET /api/recordings as the operator), one compact row per
// recording. Built for ~150,000 rows, as FleetModel is for 100,000 boxes: the list's JSON is parsed
// off the UI thread (parse()), a snapshot is applied in slices within a time budget per turn of
// the event loop (new rows inserted as blocks, changed rows signalled cell by cell, rows gone
// removed in ranges at the end), and diver's events (started, finished, gap, failed, deleted)
// change single rows in between. Never a reset after the first load, so a view keeps its
// selection and scroll position across refreshes.

#include <QAbstractTableModel>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QSet>
#include <QSortFilterProxyModel>
#include <QString>
#include <QTimer>

namespace iptv::cerberus {

struct RecordingRow
{
    qint64 id = 0;
    qint64 rule = 0;
    QString owner;
    QString channel;     ///< the guide's channel id
    QString channelName;
    QString title;
    QString reason;
    qint64 start = 0;    ///< the airing (Unix s)
    qint64 stop = 0;
    qint64 recordStart = 0; ///< what is recorded, with padding
    qint64 recordStop = 0;
    qint64 keepUntil = 0;
    qint64 bytes = 0;
    qint32 segments = 0;
    qint32 gaps = 0;
    quint8 state = Recording;
    bool kept = false;
    bool archived = false;

    enum State : quint8 { Recording, Finished, Failed, Partial, Unknown };
    static quint8 stateFromName(QStringView s);
    static QString stateName(quint8 s);
    bool sameAs(const RecordingRow &o) const;
};

class RecordingsModel : public QAbstractTableModel
{
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    Q_PROPERTY(bool loading READ isLoading NOTIFY loadingChanged)

public:
    enum Column { OwnerColumn, ChannelColumn, TitleColumn, StartColumn, EndColumn, LengthColumn, StateColumn, SizeColumn,
                  KeptColumn, KeepUntilColumn, ColumnCount };
    Q_ENUM(Column)
    enum Roles { IdRole = Qt::UserRole + 1, OwnerRole, ChannelRole, StateRole, KeptRole, RuleRole, SortRole };
    Q_ENUM(Roles)

    explicit RecordingsModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    /// Parses a GET /api/recordings body; thread-safe (runs on a worker). Strings that repeat
    /// (owners, channels, titles) share one copy. Empty with `error` set when it is not the list.
    static QList<RecordingRow> parse(const QByteArray &body, QString *error);
    /// One page of the list (?limit=): its rows, and its "next" cursor in *next (empty: the last
    /// page, or a diver that answers whole). `strings`, kept from page to page by the caller,
    /// makes a string that repeats across pages one copy too; used by one thread at a time.
    static QList<RecordingRow> parse(const QByteArray &body, QString *error, QString *next, QSet<QString> *strings);
    static RecordingRow fromJson(const QJsonObject &o);

    /// A snapshot is being read (by pages, over several answers): what events say from now on
    /// (upsert(), remove()) is newer than the pages, and applySnapshot() keeps it: a recording
    /// deleted meanwhile is not added back by an older page, one made or changed meanwhile is
    /// neither removed (its page was read before it existed) nor set back.
    void beginSnapshot();
    /// The reading failed: no snapshot comes (events are plain again).
    void cancelSnapshot();
    /// Makes the rows these (a full list): applied over the next turns of the event loop, then
    /// snapshotApplied(). A snapshot given while one is applied replaces what is left of it.
    void applySnapshot(QList<RecordingRow> rows);
    /// Applies what is left of the snapshot now, without the time budget (tests, benchmarks).
    void finishSnapshot();
    bool isLoading() const { return m_loading; }
    void setSliceBudget(int ms) { m_budgetMs = ms; }

    /// One recording as an event or an answer has it: its row changes, or it is added.
    void upsert(const RecordingRow &r);
    void upsert(const QJsonObject &o) { upsert(fromJson(o)); }
    /// A gap or a failure (events that carry the id and why only).
    void noteReason(qint64 id, const QString &reason, bool failed);
    void remove(qint64 id);
    void clear();

    int rowOf(qint64 id) const { return m_rowOf.value(id, -1); }
    const RecordingRow &row(int r) const { return m_rows.at(r); }
    /// Distinct owners, channels (names) and states, for the filter pickers.
    QStringList distinct(Column column) const;
    /// Recordings each rule made (the rules table's outcome).
    QHash<qint64, int> countByRule() const;

    static QString formatBytes(qint64 bytes);
    static QString formatDuration(qint64 seconds);

Q_SIGNALS:
    void countChanged();
    void loadingChanged(bool loading);
    /// A snapshot is applied: `count` rows now, `ms` spent on the UI thread in all its slices.
    void snapshotApplied(int count, double ms);

private:
    void applySlice(bool budgeted);
    void insertBlock(QList<RecordingRow> &added);
    void reindexFrom(int row);

    QList<RecordingRow> m_rows;
    QHash<qint64, int> m_rowOf;
    QList<RecordingRow> m_snapshot;
    qsizetype m_snapshotDone = 0;
    QSet<qint64> m_snapshotIds;
    bool m_reading = false;       ///< between beginSnapshot() and applySnapshot()
    QSet<qint64> m_newerIds;      ///< upserted by events while the snapshot was read
    QSet<qint64> m_deletedIds;    ///< removed by events while the snapshot was read
    double m_snapshotMs = 0;
    QTimer m_slice;
    int m_budgetMs = 16;
    bool m_loading = false;
};

/// Filters (owner substring, channel, state) and sorts the recordings by their values, reading
/// the rows directly rather than through QVariants: 150,000 rows sort in a fraction of a second.
class RecordingsProxy : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    explicit RecordingsProxy(RecordingsModel *source, QObject *parent = nullptr);
    void setOwnerFilter(const QString &text);
    void setChannelFilter(const QString &channelName);
    void setStateFilter(const QString &state);
    qint64 idAt(int proxyRow) const;

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override;

private:
    RecordingsModel *m_source;
    QString m_owner;
    QString m_channel;
    int m_state = -1;
};

} // namespace iptv::cerberus
