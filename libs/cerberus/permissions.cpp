#include "permissions.h"

namespace iptv::cerberus {

Permissions::Permissions(QObject *parent)
    : QObject(parent)
{
}

Permissions::Role Permissions::roleFromName(QStringView name)
{
    if (name == u"viewer")
        return Role::Viewer;
    if (name == u"operator")
        return Role::Operator;
    if (name == u"admin")
        return Role::Admin;
    return Role::None;
}

void Permissions::setRole(const QString &role)
{
    const Role r = roleFromName(role);
    if (r == m_role)
        return;
    m_role = r;
    Q_EMIT changed();
}

QString Permissions::role() const
{
    switch (m_role) {
    case Role::Viewer: return u"viewer"_qs;
    case Role::Operator: return u"operator"_qs;
    case Role::Admin: return u"admin"_qs;
    case Role::None: break;
    }
    return {};
}

} // namespace iptv::cerberus
