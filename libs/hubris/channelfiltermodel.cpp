#include "channelfiltermodel.h"

namespace iptv::hubris {

ChannelFilterModel::ChannelFilterModel(ChannelListModel *channels, ParentalControl *parental, QObject *parent)
    : QSortFilterProxyModel(parent), m_channels(channels), m_parental(parental)
{
    setSourceModel(channels);
    // Favourites change by dataChanged (re-filtered by the proxy itself); locks by the parental
    // control's changed().
    setFilterRole(ChannelListModel::FavouriteRole);
    if (m_parental)
        connect(m_parental, &ParentalControl::changed, this, &ChannelFilterModel::invalidateFilter);
    connect(this, &QAbstractItemModel::rowsInserted, this, &ChannelFilterModel::countChanged);
    connect(this, &QAbstractItemModel::rowsRemoved, this, &ChannelFilterModel::countChanged);
    connect(this, &QAbstractItemModel::modelReset, this, &ChannelFilterModel::countChanged);
    connect(this, &QAbstractItemModel::layoutChanged, this, &ChannelFilterModel::countChanged);
}

void ChannelFilterModel::setFavouritesOnly(bool on)
{
    if (on == m_favouritesOnly)
        return;
    m_favouritesOnly = on;
    invalidateFilter();
    Q_EMIT favouritesOnlyChanged();
}

bool ChannelFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    if (m_parental && m_parental->hidesChannel(sourceRow))
        return false;
    return !m_favouritesOnly
           || m_channels->data(m_channels->index(sourceRow, 0, sourceParent), ChannelListModel::FavouriteRole).toBool();
}

int ChannelFilterModel::channelAt(int row) const
{
    if (row < 0 || row >= rowCount())
        return -1;
    return mapToSource(index(row, 0)).row();
}

int ChannelFilterModel::rowOfChannel(int channel) const
{
    const int rows = rowCount();
    if (rows == 0)
        return -1;
    for (int row = 0; row < rows; ++row) {
        if (channelAt(row) >= channel)
            return row;
    }
    return rows - 1;
}

} // namespace iptv::hubris
