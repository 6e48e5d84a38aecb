#include "channellistmodel.h"

namespace iptv::hubris {

ChannelListModel::ChannelListModel(GuideStore *store, QObject *parent) : QAbstractListModel(parent), m_store(store)
{
    connect(store, &GuideStore::guideChanged, this, &ChannelListModel::reset);
    reset();
}

void ChannelListModel::reset()
{
    const int before = rowCount();
    beginResetModel();
    m_guide = m_store->guide();
    endResetModel();
    if (rowCount() != before)
        Q_EMIT countChanged();
}

int ChannelListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() || !m_guide ? 0 : m_guide->channelCount();
}

QVariant ChannelListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid) || !m_guide)
        return {};
    const int c = index.row();
    switch (role) {
    case Qt::DisplayRole:
    case NameRole: return m_guide->channelName(c);
    case IndexRole: return c;
    case NumberRole: return m_guide->channelNumber(c) > 0 ? m_guide->channelNumber(c) : c + 1;
    case IdRole: return m_guide->channelId(c);
    case GroupRole: return m_guide->channelGroup(c);
    case StreamRole: return m_guide->channelStreamUrl(c);
    case FavouriteRole: return m_favourites.contains(m_guide->channelId(c));
    default: break;
    }
    const qint64 now = m_store->now();
    const auto [current, next] = m_guide->nowNext(c, now);
    switch (role) {
    case NowTitleRole: return current.isValid() ? m_guide->title(current.programme) : QString();
    case NowStartRole: return current.isValid() ? current.start : 0;
    case NowStopRole: return current.isValid() ? current.stop : 0;
    case NowProgressRole:
        return current.isValid() ? double(now - current.start) / double(current.stop - current.start) : 0.0;
    case NextTitleRole: return next.isValid() ? m_guide->title(next.programme) : QString();
    case NextStartRole: return next.isValid() ? next.start : 0;
    default: return {};
    }
}

QHash<int, QByteArray> ChannelListModel::roleNames() const
{
    return {{IndexRole, "channelIndex"}, {NumberRole, "number"},       {NameRole, "name"},
            {IdRole, "channelId"},       {GroupRole, "group"},         {StreamRole, "stream"},
            {NowTitleRole, "nowTitle"},  {NowStartRole, "nowStart"},   {NowStopRole, "nowStop"},
            {NowProgressRole, "nowProgress"}, {NextTitleRole, "nextTitle"}, {NextStartRole, "nextStart"},
            {FavouriteRole, "favourite"}};
}

int ChannelListModel::rowOfNumber(int number) const
{
    for (int row = 0; row < rowCount(); ++row) {
        if (data(index(row), NumberRole).toInt() == number)
            return row;
    }
    return -1;
}

bool ChannelListModel::numberMayContinue(int prefix) const
{
    for (int row = 0; row < rowCount(); ++row) {
        for (int n = data(index(row), NumberRole).toInt() / 10; n > 0; n /= 10) {
            if (n == prefix)
                return true;
        }
    }
    return false;
}

QVariantMap ChannelListModel::get(int row) const
{
    QVariantMap map;
    if (row < 0 || row >= rowCount())
        return map;
    const auto names = roleNames();
    for (auto it = names.begin(); it != names.end(); ++it)
        map.insert(QString::fromLatin1(it.value()), data(index(row), it.key()));
    return map;
}

void ChannelListModel::setFavourites(const QSet<QString> &ids)
{
    m_favourites = ids;
    if (rowCount() > 0)
        Q_EMIT dataChanged(index(0), index(rowCount() - 1), {FavouriteRole});
    Q_EMIT favouritesChanged();
}

void ChannelListModel::toggleFavourite(int row)
{
    if (row < 0 || row >= rowCount())
        return;
    const QString id = m_guide->channelId(row);
    if (!m_favourites.remove(id))
        m_favourites.insert(id);
    Q_EMIT dataChanged(index(row), index(row), {FavouriteRole});
    Q_EMIT favouritesChanged();
}

void ChannelListModel::tick()
{
    if (rowCount() > 0)
        Q_EMIT dataChanged(index(0), index(rowCount() - 1),
                           {NowTitleRole, NowStartRole, NowStopRole, NowProgressRole, NextTitleRole, NextStartRole});
}

} // namespace iptv::hubris
