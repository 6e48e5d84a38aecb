#include "fleetfilterproxy.h"

#include <algorithm>
#include <numeric>

namespace iptv::cerberus {

FleetFilterProxy::FleetFilterProxy(QObject *parent)
    : QSortFilterProxyModel(parent)
{
    setDynamicSortFilter(true);
    setSortCaseSensitivity(Qt::CaseInsensitive);
    connect(this, &QAbstractItemModel::rowsInserted, this, &FleetFilterProxy::countChanged);
    connect(this, &QAbstractItemModel::rowsRemoved, this, &FleetFilterProxy::countChanged);
    connect(this, &QAbstractItemModel::modelReset, this, &FleetFilterProxy::countChanged);
    connect(this, &QAbstractItemModel::layoutChanged, this, &FleetFilterProxy::countChanged);
}

void FleetFilterProxy::setFleetModel(FleetModel *model)
{
    if (m_fleet)
        m_fleet->disconnect(this);
    m_fleet = model;
    m_keysValid = false;
    if (model) {
        // Connected before setSourceModel() so the keys are current when the proxy's own
        // handlers of the same signals compare rows.
        connect(model, &QAbstractItemModel::dataChanged, this, [this](const QModelIndex &tl, const QModelIndex &br) {
            if (m_keysValid && m_keyColumn >= tl.column() && m_keyColumn <= br.column())
                updateKeys(tl.row(), br.row());
        });
        connect(model, &QAbstractItemModel::rowsInserted, this, [this](const QModelIndex &, int first, int last) {
            if (!m_keysValid)
                return;
            if (m_keyColumn == FleetModel::SerialColumn)
                m_keysValid = false; // a global order: rebuilt before the next full sort
            else
                updateKeys(first, last);
        });
        connect(model, &QAbstractItemModel::modelReset, this, [this] { m_keysValid = false; });
    }
    setSourceModel(model);
    prepare();
}

void FleetFilterProxy::sort(int column, Qt::SortOrder order)
{
    if (column != m_keyColumn) {
        m_keyColumn = column;
        m_keysValid = false;
    }
    if (!m_keysValid)
        rebuildKeys();
    QSortFilterProxyModel::sort(column, order);
}

void FleetFilterProxy::rebuildPoolRanks()
{
    const StringPool &pool = m_fleet->pool();
    QList<quint32> order(pool.size());
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&pool](quint32 a, quint32 b) {
        return QString::compare(pool.at(quint16(a)), pool.at(quint16(b)), Qt::CaseInsensitive) < 0;
    });
    m_poolRank.resize(pool.size());
    for (qsizetype i = 0; i < order.size(); ++i)
        m_poolRank[order[i]] = quint32(i);
}

quint64 FleetFilterProxy::keyOf(const FleetRow &r) const
{
    switch (m_keyColumn) {
    case FleetModel::StatusColumn: return r.state != FleetRow::Approved ? 2 + r.state : (r.online ? 0 : 1);
    case FleetModel::ModelColumn: return m_poolRank.value(r.model);
    case FleetModel::VersionColumn: return m_poolRank.value(r.version);
    case FleetModel::ReleaseChannelColumn: return r.releaseChannel;
    case FleetModel::CurrentChannelColumn: return m_poolRank.value(r.currentChannel);
    case FleetModel::LastSeenColumn: return quint64(qMax<qint64>(0, r.lastSeen));
    case FleetModel::HealthColumn:
        return (quint64(m_fleet->health(r)) << 56) | (quint64(qMin<quint32>(r.errors, 0xffffff)) << 24)
            | quint64(r.temperatureDeci + 20000);
    case FleetModel::TagsColumn: return m_poolRank.value(r.tags);
    default: return quint64(r.id);
    }
}

void FleetFilterProxy::rebuildKeys()
{
    if (!m_fleet || m_keyColumn < 0)
        return;
    const int n = m_fleet->rowCount();
    m_keys.resize(n);
    if (m_keyColumn == FleetModel::SerialColumn) {
        rebuildSerialKeys();
    } else {
        rebuildPoolRanks();
        for (int i = 0; i < n; ++i)
            m_keys[i] = keyOf(m_fleet->row(i));
    }
    m_keysValid = true;
}

void FleetFilterProxy::rebuildSerialKeys()
{
    // Serials are one global order, so the key is a rank. Comparing 100,000 QStrings directly
    // took most of the first sort after a load (60 ms of CPU with serials in random order);
    // instead each serial is packed into an integer that orders like the string: the prefix
    // all serials share is skipped, the next 8 UTF-16 units (4 when one is outside Latin-1)
    // fill 64 bits, and only equal packed values compare strings.
    const int n = m_fleet->rowCount();
    qsizetype common = n ? m_fleet->row(0).serial.size() : 0;
    bool latin1 = true;
    for (int i = 0; i < n; ++i) {
        const QString &s = m_fleet->row(i).serial;
        const QString &first = m_fleet->row(0).serial;
        common = std::min(common, s.size());
        qsizetype k = 0;
        while (k < common && s.at(k) == first.at(k))
            ++k;
        common = k;
        for (QChar c : s)
            latin1 = latin1 && c.unicode() <= 0xff;
    }
    const int units = latin1 ? 8 : 4, bits = latin1 ? 8 : 16;
    struct Entry
    {
        quint64 packed;
        int row;
    };
    QList<Entry> order(n);
    for (int i = 0; i < n; ++i) {
        const QString &s = m_fleet->row(i).serial;
        quint64 packed = 0;
        for (int u = 0; u < units; ++u) {
            const qsizetype at = common + u;
            packed = (packed << bits) | (at < s.size() ? s.at(at).unicode() : 0u);
        }
        order[i] = {packed, i};
    }
    std::sort(order.begin(), order.end(), [this](const Entry &a, const Entry &b) {
        if (a.packed != b.packed)
            return a.packed < b.packed;
        return m_fleet->row(a.row).serial < m_fleet->row(b.row).serial;
    });
    for (int i = 0; i < n; ++i)
        m_keys[order[i].row] = quint64(i);
}

void FleetFilterProxy::updateKeys(int firstRow, int lastRow)
{
    if (m_keyColumn == FleetModel::SerialColumn) {
        m_keysValid = false;
        return;
    }
    if (m_poolRank.size() != m_fleet->pool().size()) {
        // New strings shift the ranks of later ones (order among the old ones is kept), so every
        // key is refreshed; the pool grows rarely.
        rebuildKeys();
        return;
    }
    if (m_keys.size() < m_fleet->rowCount())
        m_keys.resize(m_fleet->rowCount());
    for (int i = firstRow; i <= lastRow; ++i)
        m_keys[i] = keyOf(m_fleet->row(i));
}

void FleetFilterProxy::setFilter(const FleetFilter &filter)
{
    if (filter == m_filter)
        return;
    m_filter = filter;
    prepare();
    if (!m_keysValid && sortColumn() >= 0)
        rebuildKeys();
    // A full rebuild, not invalidateFilter(): that one removes and inserts the changed rows
    // interval by interval, each a move of the whole mapping (quadratic when 20,000 scattered
    // rows leave a 100,000-row view); the rebuild filters in one pass and sorts once.
    invalidate();
    Q_EMIT filterChanged();
    Q_EMIT countChanged();
}

void FleetFilterProxy::setText(const QString &text)
{
    FleetFilter f = m_filter;
    f.text = text;
    setFilter(f);
}

void FleetFilterProxy::prepare()
{
    m_poolCache.clear();
    m_tagCache.clear();
    m_tokens = m_filter.text.split(u' ', Qt::SkipEmptyParts);
    for (QString &t : m_tokens)
        t = t.toCaseFolded();
    for (int c = 0; c < 2; ++c) {
        m_tokenMatchesChannel[c].clear();
        const QString name = FleetModel::releaseChannelName(quint8(c));
        for (const QString &t : std::as_const(m_tokens))
            m_tokenMatchesChannel[c].append(name.contains(t));
    }
    m_poolCache.resize(m_tokens.size());
    if (!m_fleet)
        return;
    const StringPool &pool = m_fleet->pool();
    m_model = m_filter.model.isEmpty() ? -2 : pool.find(m_filter.model);
    m_version = m_filter.version.isEmpty() ? -2 : pool.find(m_filter.version);
    m_current = m_filter.currentChannel.isEmpty() ? -2 : pool.find(m_filter.currentChannel);
    m_channel = m_filter.releaseChannel.isEmpty() ? -1 : (m_filter.releaseChannel == u"experimental" ? 1 : 0);
}

bool FleetFilterProxy::tokenMatchesPooled(int token, quint16 index) const
{
    if (index == 0)
        return false;
    QByteArray &cache = m_poolCache[token];
    if (cache.size() <= index)
        cache.resize(m_fleet->pool().size(), 0);
    char &c = cache[index];
    if (c == 0)
        c = m_fleet->string(index).contains(m_tokens.at(token), Qt::CaseInsensitive) ? 1 : 2;
    return c == 1;
}

bool FleetFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex &) const
{
    if (!m_fleet)
        return true;
    const FleetRow &r = m_fleet->row(sourceRow);
    const FleetFilter &f = m_filter;
    if (f.presence != FleetFilter::Presence::Any && r.online != (f.presence == FleetFilter::Presence::Online))
        return false;
    // A value no box had when the filter was set gets its pool index only when a box reports it.
    auto pooled = [this](int prepared, const QString &wanted, quint16 have) {
        if (prepared == -2)
            return true;
        if (prepared >= 0)
            return have == prepared;
        return m_fleet->string(have) == wanted;
    };
    if (!pooled(m_model, f.model, r.model) || !pooled(m_version, f.version, r.version)
        || !pooled(m_current, f.currentChannel, r.currentChannel))
        return false;
    if (m_channel >= 0 && r.releaseChannel != m_channel)
        return false;
    if (!f.tag.isEmpty()) {
        if (!r.tags)
            return false;
        if (m_tagCache.size() <= r.tags)
            m_tagCache.resize(m_fleet->pool().size(), 0);
        char &c = m_tagCache[r.tags];
        if (c == 0)
            c = m_fleet->string(r.tags).split(u", "_qs).contains(f.tag) ? 1 : 2;
        if (c != 1)
            return false;
    }
    if (f.problemsOnly) {
        const auto h = m_fleet->health(r);
        if (h != FleetModel::HealthWarning && h != FleetModel::HealthAlarm)
            return false;
    }
    for (int t = 0; t < m_tokens.size(); ++t) {
        if (r.serial.contains(m_tokens.at(t), Qt::CaseInsensitive) || tokenMatchesPooled(t, r.model)
            || tokenMatchesPooled(t, r.version) || tokenMatchesPooled(t, r.currentChannel) || tokenMatchesPooled(t, r.tags)
            || m_tokenMatchesChannel[r.releaseChannel ? 1 : 0].at(t))
            continue;
        return false;
    }
    return true;
}

bool FleetFilterProxy::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    if (!m_fleet)
        return QSortFilterProxyModel::lessThan(left, right);
    if (m_keysValid && left.column() == m_keyColumn) {
        const quint64 ka = m_keys.at(left.row()), kb = m_keys.at(right.row());
        return ka < kb;
    }
    const FleetRow &a = m_fleet->row(left.row());
    const FleetRow &b = m_fleet->row(right.row());
    auto text = [this](quint16 x, quint16 y) {
        return x != y && QString::compare(m_fleet->string(x), m_fleet->string(y), Qt::CaseInsensitive) < 0;
    };
    auto statusKey = [](const FleetRow &r) { return r.state != FleetRow::Approved ? 2 + r.state : (r.online ? 0 : 1); };
    switch (left.column()) {
    case FleetModel::StatusColumn: return statusKey(a) < statusKey(b);
    case FleetModel::SerialColumn: return a.serial < b.serial;
    case FleetModel::ModelColumn: return text(a.model, b.model);
    case FleetModel::VersionColumn: return text(a.version, b.version);
    case FleetModel::ReleaseChannelColumn: return a.releaseChannel < b.releaseChannel;
    case FleetModel::CurrentChannelColumn: return text(a.currentChannel, b.currentChannel);
    case FleetModel::LastSeenColumn: return a.lastSeen < b.lastSeen;
    case FleetModel::HealthColumn: {
        const int ha = m_fleet->health(a), hb = m_fleet->health(b);
        if (ha != hb)
            return ha < hb;
        if (a.errors != b.errors)
            return a.errors < b.errors;
        return a.temperatureDeci < b.temperatureDeci;
    }
    case FleetModel::TagsColumn: return text(a.tags, b.tags);
    default: return a.id < b.id;
    }
}

QList<qint64> FleetFilterProxy::visibleIds() const
{
    QList<qint64> ids;
    const int n = rowCount();
    ids.reserve(n);
    for (int i = 0; i < n; ++i)
        ids.append(idAt(i));
    return ids;
}

qint64 FleetFilterProxy::idAt(int proxyRow) const
{
    if (!m_fleet)
        return 0;
    const QModelIndex src = mapToSource(index(proxyRow, 0));
    return src.isValid() ? m_fleet->row(src.row()).id : 0;
}

} // namespace iptv::cerberus
