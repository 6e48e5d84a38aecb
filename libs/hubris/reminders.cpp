#include "reminders.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QSaveFile>

Q_LOGGING_CATEGORY(lcReminders, "iptv.hubris.reminders", QtInfoMsg)

namespace iptv::hubris {

Reminders::Reminders(GuideStore *store, const QString &file, QObject *parent)
    : QAbstractListModel(parent), m_store(store), m_file(file)
{
    load();
    m_timer.setInterval(5000);
    connect(&m_timer, &QTimer::timeout, this, &Reminders::check);
    m_timer.start();
}

int Reminders::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_items.size());
}

QVariant Reminders::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Reminder &r = m_items.at(index.row());
    const auto guide = m_store->guide();
    const int channel = guide ? guide->channelIndex(r.channelId) : -1;
    switch (role) {
    case Qt::DisplayRole:
    case TitleRole: return r.title;
    case ChannelRole: return channel;
    case ChannelNameRole: return channel >= 0 ? guide->channelName(channel) : r.channelId;
    case StartRole: return r.start;
    default: return {};
    }
}

QHash<int, QByteArray> Reminders::roleNames() const
{
    return {{TitleRole, "title"}, {ChannelRole, "channel"}, {ChannelNameRole, "channelName"}, {StartRole, "start"}};
}

int Reminders::rowOf(const QString &channelId, qint64 start) const
{
    for (int i = 0; i < m_items.size(); ++i) {
        if (m_items[i].channelId == channelId && m_items[i].start == start)
            return i;
    }
    return -1;
}

bool Reminders::isSet(int airing) const
{
    const auto guide = m_store->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount())
        return false;
    const epg::Airing a = guide->airing(quint32(airing));
    return rowOf(guide->channelId(int(a.channel)), a.start) >= 0;
}

bool Reminders::toggle(int airing)
{
    const auto guide = m_store->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount())
        return false;
    const epg::Airing a = guide->airing(quint32(airing));
    // Kept by channel id and start, not by index: a new guide renumbers airings.
    const QString channelId = guide->channelId(int(a.channel));
    if (const int row = rowOf(channelId, a.start); row >= 0) {
        beginRemoveRows({}, row, row);
        m_items.removeAt(row);
        endRemoveRows();
        Q_EMIT countChanged();
        save();
        return false;
    }
    if (a.stop <= m_store->now())
        return false; // over already
    Reminder r{channelId, a.start, a.stop, guide->title(a.programme), false};
    int row = 0;
    while (row < m_items.size() && m_items[row].start <= r.start)
        ++row;
    beginInsertRows({}, row, row);
    m_items.insert(row, r);
    endInsertRows();
    Q_EMIT countChanged();
    save();
    return true;
}

void Reminders::check()
{
    const qint64 now = m_store->now();
    bool changed = false;
    for (int i = 0; i < m_items.size();) {
        Reminder &r = m_items[i];
        if (r.stop <= now) { // over: gone
            beginRemoveRows({}, i, i);
            m_items.removeAt(i);
            endRemoveRows();
            changed = true;
            continue;
        }
        if (!r.prompted && r.start - m_leadSeconds <= now) {
            r.prompted = true;
            changed = true;
            const auto guide = m_store->guide();
            const int channel = guide ? guide->channelIndex(r.channelId) : -1;
            Q_EMIT due(r.title, channel, channel >= 0 ? guide->channelName(channel) : r.channelId, r.start);
        }
        ++i;
    }
    if (changed) {
        Q_EMIT countChanged();
        save();
    }
}

void Reminders::load()
{
    QFile f(m_file);
    if (!f.exists())
        return;
    if (!f.open(QIODevice::ReadOnly)) {
        m_lastError = QStringLiteral("cannot read %1: %2").arg(m_file, f.errorString());
        qCWarning(lcReminders).noquote() << m_lastError;
        return;
    }
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &error);
    if (!doc.isArray()) {
        m_lastError = QStringLiteral("%1 is damaged (%2); reminders start empty").arg(m_file, error.errorString());
        qCWarning(lcReminders).noquote() << m_lastError;
        return;
    }
    for (const QJsonValue &v : doc.array()) {
        const QJsonObject o = v.toObject();
        Reminder r{o.value(u"channel").toString(), o.value(u"start").toInteger(), o.value(u"stop").toInteger(),
                   o.value(u"title").toString(), o.value(u"prompted").toBool()};
        if (!r.channelId.isEmpty() && r.stop > r.start)
            m_items.append(r);
    }
    std::sort(m_items.begin(), m_items.end(), [](const Reminder &a, const Reminder &b) { return a.start < b.start; });
}

void Reminders::save()
{
    QJsonArray list;
    for (const Reminder &r : std::as_const(m_items))
        list.append(QJsonObject{{u"channel"_qs, r.channelId}, {u"start"_qs, r.start}, {u"stop"_qs, r.stop},
                                {u"title"_qs, r.title}, {u"prompted"_qs, r.prompted}});
    QSaveFile f(m_file);
    const QByteArray body = QJsonDocument(list).toJson(QJsonDocument::Compact);
    if (!f.open(QIODevice::WriteOnly) || f.write(body) != body.size() || !f.commit()) {
        m_lastError = QStringLiteral("cannot save %1: %2").arg(m_file, f.errorString());
        qCWarning(lcReminders).noquote() << m_lastError;
    }
}

} // namespace iptv::hubris
