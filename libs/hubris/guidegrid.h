#pragma once

// What the guide grid and the details page read: the airings of one channel in a time window
// (only visible rows ask, so 1,000 channels x 14 days never exist as items) and one airing's
// details. Everything comes from the guide in memory.

#include "guidestore.h"
#include "parentalcontrol.h"

#include <QObject>
#include <QVariantList>

namespace iptv::hubris {

class GuideGrid : public QObject
{
    Q_OBJECT
    Q_PROPERTY(qint64 windowStart READ windowStart NOTIFY guideChanged)
    Q_PROPERTY(qint64 windowEnd READ windowEnd NOTIFY guideChanged)
    /// Goes up whenever what airings() returns may have changed (a new guide, a lock): bindings
    /// that call airings() name it to be evaluated again.
    Q_PROPERTY(int revision READ revision NOTIFY revisionChanged)
public:
    explicit GuideGrid(GuideStore *store, QObject *parent = nullptr);
    /// Programmes it hides are shown as "Locked" cells without a title, and have no details.
    void setParentalControl(ParentalControl *parental);
    int revision() const { return m_revision; }

    qint64 windowStart() const;
    qint64 windowEnd() const;

    /// The airings of `channel` overlapping [from, to): {airing, start, stop, title, category,
    /// isNew, locked}, in time order.
    Q_INVOKABLE QVariantList airings(int channel, qint64 from, qint64 to) const;
    /// The airing of `channel` at time `t` ({} when nothing airs).
    Q_INVOKABLE QVariantMap airingAt(int channel, qint64 t) const;
    /// Everything the details page shows about airing `airing`.
    Q_INVOKABLE QVariantMap details(int airing) const;
    /// Now, on the guide's clock.
    Q_INVOKABLE qint64 now() const { return m_store->now(); }

    /// The guide in memory (null before the first one), for C++ views that read it directly.
    std::shared_ptr<const epg::Guide> data() const { return m_store->guide(); }
    /// Whether the parental control hides `a` (shown as a "Locked" cell).
    bool hides(const epg::Airing &a) const;

Q_SIGNALS:
    void guideChanged();
    void revisionChanged();

private:
    QVariantMap airingMap(const epg::Airing &a) const;

    GuideStore *m_store;
    ParentalControl *m_parental = nullptr;
    int m_revision = 0;
};

} // namespace iptv::hubris
