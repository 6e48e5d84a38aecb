#pragma once

// Filter and sort over FleetModel. Both read the model's compact rows directly instead of going
// through data() and QVariant, and text matches against pooled strings (models, versions,
// channels, tag sets) are decided once per distinct string, not once per row: a filter over
// 100,000 boxes costs one case-insensitive search per serial plus table lookups.

#include "fleetfilter.h"
#include "fleetmodel.h"

#include <QSortFilterProxyModel>

namespace iptv::cerberus {

class FleetFilterProxy : public QSortFilterProxyModel
{
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)

public:
    explicit FleetFilterProxy(QObject *parent = nullptr);

    void setFleetModel(FleetModel *model);
    FleetModel *fleetModel() const { return m_fleet; }

    void setFilter(const FleetFilter &filter);
    const FleetFilter &filter() const { return m_filter; }
    /// Changes only the free text (the search box).
    void setText(const QString &text);

    /// Box ids of the rows shown, in view order.
    QList<qint64> visibleIds() const;
    /// Box id of a proxy row.
    qint64 idAt(int proxyRow) const;

    void sort(int column, Qt::SortOrder order = Qt::AscendingOrder) override;

Q_SIGNALS:
    void countChanged();
    void filterChanged();

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override;

private:
    void prepare();
    // Sort keys: one integer per source row for the sort column, so that the proxy's sort and
    // its re-sorts on updates compare integers instead of strings.
    void rebuildKeys();
    void rebuildSerialKeys();
    void updateKeys(int firstRow, int lastRow);
    quint64 keyOf(const FleetRow &r) const;
    void rebuildPoolRanks();
    bool tokenMatchesPooled(int token, quint16 index) const;

    FleetModel *m_fleet = nullptr;
    FleetFilter m_filter;
    // Prepared from m_filter: pool indexes (-1 = no box can match), tokens, per-token pool caches.
    int m_model = 0, m_version = 0, m_current = 0;
    int m_channel = -1; ///< -1 any, 0 clean, 1 experimental
    QStringList m_tokens;
    QList<bool> m_tokenMatchesChannel[2];
    mutable QList<QByteArray> m_poolCache; ///< per token: per pool index 0 unknown, 1 match, 2 no
    mutable QByteArray m_tagCache;         ///< per tag-set pool index, same encoding

    QList<quint64> m_keys;     ///< per source row, for m_keyColumn
    int m_keyColumn = -1;
    bool m_keysValid = false;
    QList<quint32> m_poolRank; ///< pool index -> rank in case-insensitive order
};

} // namespace iptv::cerberus
