#include "dvrmodels.h"

#include <QDateTime>
#include <QJsonArray>
#include <QLocale>

namespace iptv::hubris {

QString formatAiringTime(qint64 start, qint64 stop)
{
    const QDateTime from = QDateTime::fromSecsSinceEpoch(start);
    const QDateTime to = QDateTime::fromSecsSinceEpoch(stop);
    const QLocale c = QLocale::c();
    return c.toString(from, QStringLiteral("ddd d MMM hh:mm")) + QChar(0x2013) + c.toString(to, QStringLiteral("hh:mm"));
}

QString skippedReasonText(const QJsonObject &skipped)
{
    // A conflict in a few words: what is in the way, and where the episode fits (diver's detail
    // says the same with UTC dates and channel numbers, too long for a toast).
    const QString reason = skipped.value(u"reason").toString();
    const QJsonArray related = skipped.value(u"relatedTo").toArray();
    // A repeat: which airing records (or recorded) the episode, in the viewer's time (diver's
    // detail has UTC dates and straight quotes).
    if ((reason == u"duplicate" || reason == u"already-recorded") && !related.isEmpty()) {
        const QJsonObject r = related.first().toObject();
        const QString when = formatAiringTime(r.value(u"start").toInteger(), r.value(u"stop").toInteger());
        const QString channel = r.value(u"channelName").toString(r.value(u"channel").toString());
        return reason == u"duplicate" ? QObject::tr("a repeat: this episode is recorded %1 on %2").arg(when, channel)
                                      : QObject::tr("a repeat: this episode was recorded %1 on %2").arg(when, channel);
    }
    if (reason != u"conflict" || related.isEmpty())
        return skipped.value(u"detail").toString();
    // The viewer's own recordings by title; other viewers' (diver names them no further) counted.
    QStringList inTheWay;
    int others = 0;
    for (const QJsonValue &v : skipped.value(u"relatedTo").toArray()) {
        if (v.toObject().value(u"other").toBool())
            ++others;
        else
            inTheWay.append(u'“' + v.toObject().value(u"title").toString() + u'”');
    }
    if (others > 0)
        inTheWay.append(others == 1 ? QObject::tr("another recording") : QObject::tr("%1 other recordings").arg(others));
    QString text = inTheWay.size() == 1 ? QObject::tr("a conflict with %1").arg(inTheWay.first())
                                        : QObject::tr("a conflict with %1 and %2").arg(QStringList(inTheWay.mid(0, inTheWay.size() - 1)).join(u", "_qs), inTheWay.last());
    const QJsonArray alternatives = skipped.value(u"alternatives").toArray();
    if (!alternatives.isEmpty()) {
        const QJsonObject a = alternatives.first().toObject();
        text += QObject::tr("; it fits %1 on %2 (green in Upcoming recordings)")
                    .arg(formatAiringTime(a.value(u"start").toInteger(), a.value(u"stop").toInteger()),
                         a.value(u"channelName").toString(a.value(u"channel").toString()));
    }
    return text;
}

QString skippedSummaryText(const QJsonArray &skipped)
{
    if (skipped.size() == 1)
        return skippedReasonText(skipped.first().toObject());
    // Several: how many for each reason, in words (a series' repeats are most of them).
    auto kind = [](const QString &reason) {
        if (reason == u"duplicate" || reason == u"already-recorded")
            return QObject::tr("repeats");
        if (reason == u"conflict")
            return QObject::tr("in conflict");
        if (reason == u"keep-limit")
            return QObject::tr("over the keep limit");
        if (reason == u"not-new")
            return QObject::tr("not new");
        if (reason == u"outside-window")
            return QObject::tr("outside the rule's hours");
        if (reason == u"cancelled")
            return QObject::tr("skipped");
        if (reason == u"moved")
            return QObject::tr("recorded at another airing");
        return reason;
    };
    QStringList kinds;
    QList<int> counts;
    for (const QJsonValue &v : skipped) {
        const QString k = kind(v.toObject().value(u"reason").toString());
        const qsizetype at = kinds.indexOf(k);
        if (at < 0) {
            kinds.append(k);
            counts.append(1);
        } else {
            ++counts[at];
        }
    }
    if (kinds.size() == 1)
        return kinds.first();
    QStringList parts;
    for (qsizetype i = 0; i < kinds.size(); ++i)
        parts.append(QStringLiteral("%1 %2").arg(counts.at(i)).arg(kinds.at(i)));
    return parts.join(u", "_qs);
}

DvrRecording DvrRecording::fromJson(const QJsonObject &o)
{
    DvrRecording r;
    r.id = o.value(u"id").toInteger();
    r.title = o.value(u"title").toString();
    r.channel = o.value(u"channel").toString();
    r.channelName = o.value(u"channelName").toString();
    r.start = o.value(u"start").toInteger();
    r.stop = o.value(u"stop").toInteger();
    r.recordStart = o.value(u"recordStart").toInteger(r.start);
    r.recordStop = o.value(u"recordStop").toInteger(r.stop);
    r.state = o.value(u"state").toString();
    r.reason = o.value(u"reason").toString();
    for (const QJsonValue &m : o.value(u"missing").toArray()) {
        const qint64 from = m.toObject().value(u"from").toInteger(), to = m.toObject().value(u"to").toInteger();
        if (to > from)
            r.missing.append({from, to});
    }
    r.kept = o.value(u"kept").toBool();
    r.keepUntil = o.value(u"keepUntil").toInteger();
    r.position = o.value(u"position").toInteger();
    r.segments = o.value(u"segments").toInteger();
    r.playlist = o.value(u"playlist").toString();
    return r;
}

DvrUpcoming DvrUpcoming::plannedFromJson(const QJsonObject &o)
{
    DvrUpcoming u;
    u.rule = o.value(u"rule").toInteger();
    u.ruleKind = o.value(u"ruleKind").toString();
    u.title = o.value(u"title").toString();
    u.channel = o.value(u"channel").toString();
    u.channelName = o.value(u"channelName").toString();
    u.start = o.value(u"start").toInteger();
    u.stop = o.value(u"stop").toInteger();
    return u;
}

DvrUpcoming DvrUpcoming::skippedFromJson(const QJsonObject &o)
{
    DvrUpcoming u = plannedFromJson(o);
    u.planned = false;
    u.reason = o.value(u"reason").toString();
    u.detail = o.value(u"detail").toString();
    u.why = skippedReasonText(o);
    QStringList alternatives;
    for (const QJsonValue &v : o.value(u"alternatives").toArray()) {
        const QJsonObject a = v.toObject();
        // The channel as the viewer knows it (diver sends its name; an older one only the id).
        const QString channel = a.value(u"channelName").toString(a.value(u"channel").toString());
        alternatives.append(formatAiringTime(a.value(u"start").toInteger(), a.value(u"stop").toInteger()) + u"  "_qs
                            + a.value(u"title").toString() + u" ("_qs + channel + u')');
        if (u.alternativeChannel.isEmpty() && !a.value(u"channel").toString().isEmpty()) {
            u.alternativeChannel = a.value(u"channel").toString();
            u.alternativeStart = a.value(u"start").toInteger();
            u.alternative = QObject::tr("%1 on %2").arg(formatAiringTime(u.alternativeStart, a.value(u"stop").toInteger()), channel);
        }
    }
    u.alternatives = alternatives.join(u'\n');
    return u;
}

// ---- the library

template <typename Model, typename T, typename KeyOf>
void replaceRows(Model *model, QList<T> &items, const QList<T> &next, KeyOf keyOf)
{
    // Rows no longer there go first, from the back.
    QSet<decltype(keyOf(next.value(0)))> keep;
    for (const T &t : next)
        keep.insert(keyOf(t));
    for (int i = int(items.size()) - 1; i >= 0; --i) {
        if (!keep.contains(keyOf(items[i]))) {
            model->beginRemoveRows({}, i, i);
            items.removeAt(i);
            model->endRemoveRows();
        }
    }
    // Then each position: the same row (updated in place), one moved up from below, or a new one.
    for (int i = 0; i < next.size(); ++i) {
        int found = -1;
        for (int j = i; j < items.size() && found < 0; ++j) {
            if (keyOf(items[j]) == keyOf(next[i]))
                found = j;
        }
        if (found < 0) {
            model->beginInsertRows({}, i, i);
            items.insert(i, next[i]);
            model->endInsertRows();
            continue;
        }
        if (found != i) {
            model->beginMoveRows({}, found, found, {}, i);
            items.move(found, i);
            model->endMoveRows();
        }
        if (!(items[i] == next[i])) {
            items[i] = next[i];
            Q_EMIT model->dataChanged(model->index(i), model->index(i));
        }
    }
}

int DvrRecordingsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_items.size());
}

QVariant DvrRecordingsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const DvrRecording &r = m_items.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case TitleRole: return r.title;
    case IdRole: return r.id;
    case ChannelRole: return r.channel;
    case ChannelNameRole: return r.channelName;
    case StartRole: return r.start;
    case StopRole: return r.stop;
    case WhenRole: return formatAiringTime(r.start, r.stop);
    case StateRole: return r.state;
    case ReasonRole: return r.reason;
    case KeptRole: return r.kept;
    case PositionRole: return r.position;
    // The playlist's length: a recording begun while the programme was on is shorter than it.
    case DurationRole: return r.recordStop - r.recordStart;
    case PlaylistRole: return r.playlist;
    case RecordStartRole: return r.recordStart;
    case MissingRole: return missingText(r);
    case KeepUntilRole: return r.keepUntil;
    case KeepTextRole: return keepText(r);
    default: return {};
    }
}

QHash<int, QByteArray> DvrRecordingsModel::roleNames() const
{
    return {{IdRole, "recordingId"}, {TitleRole, "title"}, {ChannelRole, "channel"}, {ChannelNameRole, "channelName"},
            {StartRole, "start"}, {StopRole, "stop"}, {WhenRole, "when"}, {StateRole, "state"}, {ReasonRole, "reason"},
            {KeptRole, "kept"}, {PositionRole, "position"}, {DurationRole, "duration"}, {PlaylistRole, "playlist"},
            {RecordStartRole, "recordStart"}, {MissingRole, "missing"}, {KeepUntilRole, "keepUntil"},
            {KeepTextRole, "keepText"}};
}

QString DvrRecordingsModel::keepText(const DvrRecording &r)
{
    if (r.keepUntil > 0) {
        const QString day = QLocale::c().toString(QDateTime::fromSecsSinceEpoch(r.keepUntil), u"ddd d MMM"_qs);
        return r.kept ? QObject::tr("kept until %1").arg(day) : QObject::tr("to be deleted %1").arg(day);
    }
    return r.kept ? QObject::tr("kept") : QString();
}

QString DvrRecordingsModel::missingText(const DvrRecording &r)
{
    QStringList parts;
    const QDate day = QDateTime::fromSecsSinceEpoch(r.recordStart).date();
    auto at = [&](qint64 t) {
        const QDateTime local = QDateTime::fromSecsSinceEpoch(t);
        return local.date() == day ? local.toString(u"HH:mm"_qs) : local.toString(u"ddd HH:mm"_qs);
    };
    for (const auto &[from, to] : r.missing)
        parts << at(from) + u'\u2013' + at(to);
    return parts.join(u", "_qs);
}

int DvrRecordingsModel::rowOf(qint64 id) const
{
    for (int i = 0; i < m_items.size(); ++i) {
        if (m_items[i].id == id)
            return i;
    }
    return -1;
}

QVariantMap DvrRecordingsModel::get(int row) const
{
    QVariantMap m;
    if (row < 0 || row >= m_items.size())
        return m;
    const QHash<int, QByteArray> names = roleNames();
    for (auto it = names.cbegin(); it != names.cend(); ++it)
        m.insert(QString::fromLatin1(it.value()), data(index(row), it.key()));
    return m;
}

void DvrRecordingsModel::setItems(const QList<DvrRecording> &next)
{
    const int before = int(m_items.size());
    replaceRows(this, m_items, next, [](const DvrRecording &r) { return r.id; });
    if (before != m_items.size())
        Q_EMIT countChanged();
}

// ---- upcoming

int DvrUpcomingModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_items.size());
}

QVariant DvrUpcomingModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const DvrUpcoming &u = m_items.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case TitleRole: return u.title;
    case ChannelRole: return u.channel;
    case ChannelNameRole: return u.channelName;
    case StartRole: return u.start;
    case StopRole: return u.stop;
    case WhenRole: return formatAiringTime(u.start, u.stop);
    case PlannedRole: return u.planned;
    case ReasonRole: return u.reason;
    case DetailRole: return u.detail;
    case WhyRole: return u.why;
    case AlternativesRole: return u.alternatives;
    case RuleRole: return u.rule;
    case AlternativeRole: return u.alternative;
    default: return {};
    }
}

QHash<int, QByteArray> DvrUpcomingModel::roleNames() const
{
    return {{TitleRole, "title"}, {ChannelRole, "channel"}, {ChannelNameRole, "channelName"}, {StartRole, "start"},
            {StopRole, "stop"}, {WhenRole, "when"}, {PlannedRole, "planned"}, {ReasonRole, "reason"},
            {DetailRole, "detail"}, {AlternativesRole, "alternatives"}, {RuleRole, "rule"}, {AlternativeRole, "alternative"},
            {WhyRole, "why"}};
}

int DvrUpcomingModel::conflicts() const
{
    return int(std::count_if(m_items.cbegin(), m_items.cend(), [](const DvrUpcoming &u) { return u.reason == u"conflict"; }));
}

QVariantMap DvrUpcomingModel::get(int row) const
{
    QVariantMap m;
    if (row < 0 || row >= m_items.size())
        return m;
    const QHash<int, QByteArray> names = roleNames();
    for (auto it = names.cbegin(); it != names.cend(); ++it)
        m.insert(QString::fromLatin1(it.value()), data(index(row), it.key()));
    return m;
}

void DvrUpcomingModel::setItems(QList<DvrUpcoming> next)
{
    std::stable_sort(next.begin(), next.end(), [](const DvrUpcoming &a, const DvrUpcoming &b) { return a.start < b.start; });
    replaceRows(this, m_items, next, [](const DvrUpcoming &u) { return u.key(); });
    Q_EMIT countChanged(); // conflicts may change with the same count
}

} // namespace iptv::hubris
