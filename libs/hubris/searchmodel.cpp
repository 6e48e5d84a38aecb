#include "searchmodel.h"

#include <epg/search.h>

namespace iptv::hubris {

SearchModel::SearchModel(GuideStore *store, QObject *parent) : QAbstractListModel(parent), m_store(store)
{
    connect(store, &GuideStore::guideChanged, this, &SearchModel::run);
}

void SearchModel::setParentalControl(ParentalControl *parental)
{
    m_parental = parental;
    connect(parental, &ParentalControl::changed, this, &SearchModel::run);
    run();
}

int SearchModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_hits.size());
}

QVariant SearchModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid) || !m_guide)
        return {};
    const epg::SearchHit &hit = m_hits.at(index.row());
    const epg::Airing &a = hit.airing;
    switch (role) {
    case Qt::DisplayRole:
    case TitleRole: return m_guide->title(a.programme);
    case AiringRole: return qint64(a.index);
    case ChannelNameRole: return m_guide->channelName(int(a.channel));
    case ChannelNumberRole: return m_guide->channelNumber(int(a.channel));
    case StartRole: return a.start;
    case StopRole: return a.stop;
    case TitleMatchRole: return hit.titleMatch;
    case IsNewRole: return bool(a.flags & epg::FlagNew);
    default: return {};
    }
}

QHash<int, QByteArray> SearchModel::roleNames() const
{
    return {{AiringRole, "airing"}, {TitleRole, "title"}, {ChannelNameRole, "channelName"},
            {ChannelNumberRole, "channelNumber"}, {StartRole, "start"}, {StopRole, "stop"},
            {TitleMatchRole, "titleMatch"}, {IsNewRole, "isNew"}};
}

void SearchModel::setQuery(const QString &query)
{
    if (query == m_query)
        return;
    m_query = query;
    Q_EMIT queryChanged();
    run();
}

void SearchModel::setNewOnly(bool on)
{
    if (on == m_newOnly)
        return;
    m_newOnly = on;
    Q_EMIT filtersChanged();
    run();
}

void SearchModel::setCategory(const QString &category)
{
    if (category == m_category)
        return;
    m_category = category;
    Q_EMIT filtersChanged();
    run();
}

void SearchModel::setDay(int day)
{
    day = qMax(0, day);
    if (day == m_day)
        return;
    m_day = day;
    Q_EMIT filtersChanged();
    run();
}

void SearchModel::run()
{
    QElapsedTimer clock;
    clock.start();
    beginResetModel();
    m_guide = m_store->guide();
    m_hits.clear();
    m_total = 0;
    if (m_guide && !m_query.trimmed().isEmpty()) {
        epg::SearchQuery q;
        q.text = m_query;
        q.now = m_store->now();
        q.from = q.now;
        q.newOnly = m_newOnly;
        q.category = m_category;
        q.limit = m_limit;
        if (m_day > 0) {
            const qint64 midnight = q.now - q.now % 86400;
            q.from = qMax(q.now, midnight + qint64(m_day - 1) * 86400);
            q.to = midnight + qint64(m_day) * 86400;
        }
        bool everyChannelHidden = false;
        if (m_parental && !m_parental->isUnlocked()) {
            if (m_parental->lockedChannelCount() > 0) {
                for (int c = 0; c < m_guide->channelCount(); ++c) {
                    if (!m_parental->hidesChannel(c))
                        q.channels.append(c);
                }
                everyChannelHidden = q.channels.isEmpty();
            }
            if (m_parental->ratingLimit() > 0)
                q.limit = m_limit * 2; // room for the programmes taken out below
        }
        const epg::SearchResult result = everyChannelHidden ? epg::SearchResult() : m_guide->searchIndex().search(q);
        m_total = int(result.totalProgrammes);
        for (const epg::SearchHit &hit : result.hits) {
            if (m_parental && m_parental->hidesProgramme(hit.airing.programme)) {
                --m_total; // of those seen: a lower bound, like the index's own total
                continue;
            }
            if (m_hits.size() < m_limit)
                m_hits.append(hit);
        }
    }
    endResetModel();
    m_lastMs = clock.nsecsElapsed() / 1e6;
    Q_EMIT resultsChanged();
}

} // namespace iptv::hubris
