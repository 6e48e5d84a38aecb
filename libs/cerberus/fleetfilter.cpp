#include "fleetfilter.h"

#include <QSettings>

namespace iptv::cerberus {

namespace {
const QString s_group = u"cerberus/filters"_qs;
}

bool FleetFilter::isEmpty() const
{
    return *this == FleetFilter();
}

QVariantMap FleetFilter::toVariantMap() const
{
    QVariantMap m;
    m.insert(u"text"_qs, text);
    m.insert(u"presence"_qs, int(presence));
    m.insert(u"model"_qs, model);
    m.insert(u"version"_qs, version);
    m.insert(u"releaseChannel"_qs, releaseChannel);
    m.insert(u"currentChannel"_qs, currentChannel);
    m.insert(u"tag"_qs, tag);
    m.insert(u"problemsOnly"_qs, problemsOnly);
    return m;
}

FleetFilter FleetFilter::fromVariantMap(const QVariantMap &m)
{
    FleetFilter f;
    f.text = m.value(u"text"_qs).toString();
    f.presence = Presence(qBound(0, m.value(u"presence"_qs).toInt(), 2));
    f.model = m.value(u"model"_qs).toString();
    f.version = m.value(u"version"_qs).toString();
    f.releaseChannel = m.value(u"releaseChannel"_qs).toString();
    f.currentChannel = m.value(u"currentChannel"_qs).toString();
    f.tag = m.value(u"tag"_qs).toString();
    f.problemsOnly = m.value(u"problemsOnly"_qs).toBool();
    return f;
}

QJsonObject FleetFilter::toServerFilter() const
{
    QJsonObject o;
    if (!model.isEmpty())
        o.insert(u"model"_qs, model);
    if (!version.isEmpty())
        o.insert(u"version"_qs, version);
    if (!releaseChannel.isEmpty())
        o.insert(u"channel"_qs, releaseChannel);
    if (!currentChannel.isEmpty())
        o.insert(u"current"_qs, currentChannel);
    if (!tag.isEmpty())
        o.insert(u"tag"_qs, tag);
    if (presence != Presence::Any)
        o.insert(u"online"_qs, presence == Presence::Online);
    return o;
}

QString FleetFilter::describe() const
{
    QStringList parts;
    if (presence == Presence::Online)
        parts.append(u"online"_qs);
    else if (presence == Presence::Offline)
        parts.append(u"offline"_qs);
    if (!model.isEmpty())
        parts.append(u"model "_qs + model);
    if (!version.isEmpty())
        parts.append(u"version "_qs + version);
    if (!releaseChannel.isEmpty())
        parts.append(releaseChannel);
    if (!currentChannel.isEmpty())
        parts.append(u"watching "_qs + currentChannel);
    if (!tag.isEmpty())
        parts.append(u"tag "_qs + tag);
    if (problemsOnly)
        parts.append(u"with problems"_qs);
    if (!text.trimmed().isEmpty())
        parts.append(u"\u201c"_qs + text.trimmed() + u"\u201d"_qs);
    return parts.isEmpty() ? u"all boxes"_qs : parts.join(u" · "_qs);
}

QStringList SavedFilters::names()
{
    QSettings s;
    s.beginGroup(s_group);
    QStringList n = s.childGroups();
    n.sort(Qt::CaseInsensitive);
    return n;
}

FleetFilter SavedFilters::load(const QString &name)
{
    QSettings s;
    s.beginGroup(s_group);
    s.beginGroup(name);
    QVariantMap m;
    for (const QString &k : s.childKeys())
        m.insert(k, s.value(k));
    return FleetFilter::fromVariantMap(m);
}

void SavedFilters::save(const QString &name, const FleetFilter &filter)
{
    QSettings s;
    s.beginGroup(s_group);
    s.remove(name);
    s.beginGroup(name);
    const QVariantMap m = filter.toVariantMap();
    for (auto it = m.cbegin(); it != m.cend(); ++it)
        s.setValue(it.key(), it.value());
}

void SavedFilters::remove(const QString &name)
{
    QSettings s;
    s.beginGroup(s_group);
    s.remove(name);
}

} // namespace iptv::cerberus
