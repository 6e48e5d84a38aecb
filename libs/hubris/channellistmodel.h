#pragma once

// The lineup as the box shows it: every channel of the guide in lineup order with its number,
// name, group, stream and what is on now and next. Now/next are read from the guide in memory
// when a row is painted (microseconds); tick() refreshes them as programmes change.

#include "guidestore.h"

#include <QAbstractListModel>
#include <QSet>

namespace iptv::hubris {

class ChannelListModel : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
public:
    enum Role {
        IndexRole = Qt::UserRole + 1, ///< the channel's index in the guide
        NumberRole,
        NameRole,
        IdRole,
        GroupRole,
        StreamRole,
        NowTitleRole,
        NowStartRole, ///< UTC seconds
        NowStopRole,
        NowProgressRole, ///< 0 to 1
        NextTitleRole,
        NextStartRole,
        FavouriteRole,
    };
    Q_ENUM(Role)

    explicit ChannelListModel(GuideStore *store, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    /// The row of the channel with lineup number `number`, -1 when there is none.
    Q_INVOKABLE int rowOfNumber(int number) const;
    /// Whether some channel's number starts with `prefix` and is longer (more digits may come).
    Q_INVOKABLE bool numberMayContinue(int prefix) const;
    Q_INVOKABLE QVariantMap get(int row) const;

    /// Favourites (by channel id), kept by the caller (settings).
    void setFavourites(const QSet<QString> &ids);
    Q_INVOKABLE void toggleFavourite(int row);
    QSet<QString> favourites() const { return m_favourites; }

public Q_SLOTS:
    /// Now/next may have changed (call each minute and on wake).
    void tick();

Q_SIGNALS:
    void countChanged();
    void favouritesChanged();

private:
    void reset();

    GuideStore *m_store;
    std::shared_ptr<const epg::Guide> m_guide;
    QSet<QString> m_favourites;
};

} // namespace iptv::hubris
