#include "guidegrid.h"

namespace iptv::hubris {

GuideGrid::GuideGrid(GuideStore *store, QObject *parent) : QObject(parent), m_store(store)
{
    connect(store, &GuideStore::guideChanged, this, &GuideGrid::guideChanged);
    connect(store, &GuideStore::guideChanged, this, [this] {
        ++m_revision;
        Q_EMIT revisionChanged();
    });
}

void GuideGrid::setParentalControl(ParentalControl *parental)
{
    m_parental = parental;
    connect(parental, &ParentalControl::changed, this, [this] {
        ++m_revision;
        Q_EMIT revisionChanged();
    });
}

bool GuideGrid::hides(const epg::Airing &a) const
{
    return m_parental && (m_parental->hidesChannel(int(a.channel)) || m_parental->hidesProgramme(a.programme));
}

qint64 GuideGrid::windowStart() const
{
    const auto g = m_store->guide();
    return g ? g->info().validFrom : 0;
}

qint64 GuideGrid::windowEnd() const
{
    const auto g = m_store->guide();
    return g ? g->info().validUntil : 0;
}

QVariantMap GuideGrid::airingMap(const epg::Airing &a) const
{
    const auto g = m_store->guide();
    const bool locked = hides(a);
    return {{QStringLiteral("airing"), qint64(a.index)},
            {QStringLiteral("channel"), qint64(a.channel)},
            {QStringLiteral("start"), a.start},
            {QStringLiteral("stop"), a.stop},
            {QStringLiteral("title"), locked ? tr("Locked") : g->title(a.programme)},
            {QStringLiteral("category"), locked ? QString() : g->category(a.programme)},
            {QStringLiteral("isNew"), bool(a.flags & epg::FlagNew)},
            {QStringLiteral("locked"), locked}};
}

QVariantList GuideGrid::airings(int channel, qint64 from, qint64 to) const
{
    QVariantList out;
    const auto g = m_store->guide();
    if (!g || channel < 0 || channel >= g->channelCount() || to <= from)
        return out;
    QList<epg::Airing> list;
    g->window(channel, 1, from, to, &list);
    out.reserve(list.size());
    for (const epg::Airing &a : std::as_const(list))
        out.append(airingMap(a));
    return out;
}

QVariantMap GuideGrid::airingAt(int channel, qint64 t) const
{
    const auto g = m_store->guide();
    if (!g || channel < 0 || channel >= g->channelCount())
        return {};
    const epg::Airing a = g->airingAt(channel, t);
    return a.isValid() ? airingMap(a) : QVariantMap();
}

QVariantMap GuideGrid::details(int airing) const
{
    const auto g = m_store->guide();
    if (!g || airing < 0 || quint32(airing) >= g->airingCount())
        return {};
    const epg::Airing a = g->airing(quint32(airing));
    QVariantMap m = airingMap(a);
    if (m.value(QStringLiteral("locked")).toBool())
        return m; // no title, no description until the PIN is entered
    m.insert(QStringLiteral("subTitle"), g->subTitle(a.programme));
    m.insert(QStringLiteral("description"), g->description(a.programme));
    m.insert(QStringLiteral("episode"), g->episode(a.programme));
    m.insert(QStringLiteral("channelName"), g->channelName(int(a.channel)));
    m.insert(QStringLiteral("channelNumber"), g->channelNumber(int(a.channel)));
    return m;
}

} // namespace iptv::hubris
