#pragma once

// Search as the viewer types: every keystroke searches the whole guide in memory (libs/epg's
// SearchIndex: accent- and case-insensitive word prefixes over titles, sub-titles, descriptions
// and credits) and the list shows programmes with their soonest airing from now. Filters: new
// only, one category, one day.

#include "guidestore.h"
#include "parentalcontrol.h"

#include <QAbstractListModel>
#include <QElapsedTimer>

#include <epg/search.h>

namespace iptv::hubris {

class SearchModel : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(QString query READ query WRITE setQuery NOTIFY queryChanged)
    Q_PROPERTY(bool newOnly READ newOnly WRITE setNewOnly NOTIFY filtersChanged)
    Q_PROPERTY(QString category READ category WRITE setCategory NOTIFY filtersChanged)
    Q_PROPERTY(int day READ day WRITE setDay NOTIFY filtersChanged)
    Q_PROPERTY(int total READ total NOTIFY resultsChanged)
    Q_PROPERTY(double lastSearchMs READ lastSearchMs NOTIFY resultsChanged)
public:
    enum Role { AiringRole = Qt::UserRole + 1, TitleRole, ChannelNameRole, ChannelNumberRole, StartRole, StopRole,
                TitleMatchRole, IsNewRole };
    explicit SearchModel(GuideStore *store, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString query() const { return m_query; }
    void setQuery(const QString &query);
    bool newOnly() const { return m_newOnly; }
    void setNewOnly(bool on);
    QString category() const { return m_category; }
    void setCategory(const QString &category);
    /// 0 = any day; 1 = today, 2 = tomorrow ... (days of the guide clock, UTC)
    int day() const { return m_day; }
    void setDay(int day);
    int total() const { return m_total; }
    double lastSearchMs() const { return m_lastMs; }
    /// Results shown at most (default 50).
    void setLimit(int limit) { m_limit = limit; }
    /// Channels and programmes it hides are left out of the results.
    void setParentalControl(ParentalControl *parental);

    Q_INVOKABLE void append(const QString &text) { setQuery(m_query + text); }
    Q_INVOKABLE void backspace() { setQuery(m_query.left(m_query.size() - 1)); }
    Q_INVOKABLE void clear() { setQuery({}); }

Q_SIGNALS:
    void queryChanged();
    void filtersChanged();
    void resultsChanged();

private:
    void run();

    GuideStore *m_store;
    ParentalControl *m_parental = nullptr;
    std::shared_ptr<const epg::Guide> m_guide;
    QString m_query;
    bool m_newOnly = false;
    QString m_category;
    int m_day = 0;
    int m_limit = 50;
    QList<epg::SearchHit> m_hits;
    int m_total = 0;
    double m_lastMs = 0;
};

} // namespace iptv::hubris
