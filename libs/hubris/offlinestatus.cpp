#include "offlinestatus.h"

#include <QLocale>

namespace iptv::hubris {

OfflineStatus::OfflineStatus(GuideStore *store, ControlLink *link, QObject *parent)
    : QObject(parent), m_store(store), m_link(link)
{
    connect(store, &GuideStore::statusChanged, this, &OfflineStatus::changed);
    connect(store, &GuideStore::guideChanged, this, &OfflineStatus::changed);
    if (link)
        connect(link, &ControlLink::onlineChanged, this, &OfflineStatus::changed);
}

bool OfflineStatus::isOffline() const
{
    return m_store->isOffline() || (m_link && m_link->isUnreachable());
}

QString OfflineStatus::text() const
{
    const bool guide = m_store->isOffline();
    const bool control = m_link && m_link->isUnreachable();
    if (!m_store->isLoaded())
        return guide ? tr("Offline · no guide on the box yet") : m_store->status();
    if (!guide && !control)
        return {};
    const QString until = QLocale().toString(m_store->validUntil().toLocalTime(), QLocale::ShortFormat);
    if (guide && control)
        return tr("Offline · guide and control servers unreachable · guide on the box until %1").arg(until);
    if (guide)
        return tr("Offline · guide server unreachable · guide on the box until %1").arg(until);
    return tr("Control server unreachable");
}

} // namespace iptv::hubris
