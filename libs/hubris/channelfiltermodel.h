#pragma once

// The channels the guide grid shows: the lineup without the channels the parental control hides,
// and only favourites when the viewer asks for them. Rows map back to the guide's channel index
// (the channel list's row) with channelAt() / rowOfChannel().

#include "channellistmodel.h"
#include "parentalcontrol.h"

#include <QSortFilterProxyModel>

namespace iptv::hubris {

class ChannelFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT
    Q_PROPERTY(bool favouritesOnly READ favouritesOnly WRITE setFavouritesOnly NOTIFY favouritesOnlyChanged)
    Q_PROPERTY(int count READ count NOTIFY countChanged)
public:
    /// `parental` may be null (nothing hidden).
    ChannelFilterModel(ChannelListModel *channels, ParentalControl *parental, QObject *parent = nullptr);

    bool favouritesOnly() const { return m_favouritesOnly; }
    void setFavouritesOnly(bool on);
    int count() const { return rowCount(); }

    /// The guide's channel index of `row`, -1 when out of range.
    Q_INVOKABLE int channelAt(int row) const;
    /// The row showing `channel`, or the nearest shown row after it (before it at the end);
    /// -1 when nothing is shown.
    Q_INVOKABLE int rowOfChannel(int channel) const;

Q_SIGNALS:
    void favouritesOnlyChanged();
    void countChanged();

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    ChannelListModel *m_channels;
    ParentalControl *m_parental;
    bool m_favouritesOnly = false;
};

} // namespace iptv::hubris
