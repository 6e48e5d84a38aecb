#pragma once

// What the guide grid and the details page read: the airings of one channel in a time window
// (only visible rows ask, so 1,000 channels x 14 days never exist as items) and one airing's
// details. Everything comes from the guide in memory.

#include "guidestore.h"

#include <QObject>
#include <QVariantList>

namespace iptv::hubris {

class GuideGrid : public QObject
{
    Q_OBJECT
    Q_PROPERTY(qint64 windowStart READ windowStart NOTIFY guideChanged)
    Q_PROPERTY(qint64 windowEnd READ windowEnd NOTIFY guideChanged)
public:
    explicit GuideGrid(GuideStore *store, QObject *parent = nullptr);

    qint64 windowStart() const;
    qint64 windowEnd() const;

    /// The airings of `channel` overlapping [from, to): {airing, start, stop, title, category,
    /// isNew}, in time order.
    Q_INVOKABLE QVariantList airings(int channel, qint64 from, qint64 to) const;
    /// The airing of `channel` at time `t` ({} when nothing airs).
    Q_INVOKABLE QVariantMap airingAt(int channel, qint64 t) const;
    /// Everything the details page shows about airing `airing`.
    Q_INVOKABLE QVariantMap details(int airing) const;
    /// Now, on the guide's clock.
    Q_INVOKABLE qint64 now() const { return m_store->now(); }

Q_SIGNALS:
    void guideChanged();

private:
    QVariantMap airingMap(const epg::Airing &a) const;

    GuideStore *m_store;
};

} // namespace iptv::hubris
