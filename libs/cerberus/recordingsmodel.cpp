#include "recordingsmodel.h"
#include "jsontablemodel.h"

#include <QColor>
#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>

#include <algorithm>

namespace iptv::cerberus {

namespace {
constexpr int SliceRows = 2048; ///< rows merged between looks at the clock
}

quint8 RecordingRow::stateFromName(QStringView s)
{
    if (s == u"recording")
        return Recording;
    if (s == u"finished")
        return Finished;
    if (s == u"failed")
        return Failed;
    if (s == u"partial")
        return Partial;
    return Unknown;
}

QString RecordingRow::stateName(quint8 s)
{
    switch (s) {
    case Recording: return u"recording"_qs;
    case Finished: return u"finished"_qs;
    case Failed: return u"failed"_qs;
    case Partial: return u"partial"_qs;
    default: return u"unknown"_qs;
    }
}

bool RecordingRow::sameAs(const RecordingRow &o) const
{
    return id == o.id && rule == o.rule && owner == o.owner && channel == o.channel && channelName == o.channelName
        && title == o.title && reason == o.reason && start == o.start && stop == o.stop && recordStart == o.recordStart
        && recordStop == o.recordStop && keepUntil == o.keepUntil && bytes == o.bytes && segments == o.segments
        && gaps == o.gaps && state == o.state && kept == o.kept && archived == o.archived;
}

RecordingsModel::RecordingsModel(QObject *parent)
    : QAbstractTableModel(parent)
{
    m_slice.setSingleShot(true);
    connect(&m_slice, &QTimer::timeout, this, [this] { applySlice(true); });
}

int RecordingsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int RecordingsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString RecordingsModel::formatBytes(qint64 bytes)
{
    if (bytes <= 0)
        return u"–"_qs;
    if (bytes < 1024 * 1024)
        return QString::number(bytes / 1024.0, 'f', 0) + u" KB"_qs;
    if (bytes < 1024LL * 1024 * 1024)
        return QString::number(bytes / (1024.0 * 1024), 'f', 1) + u" MB"_qs;
    return QString::number(bytes / (1024.0 * 1024 * 1024), 'f', 2) + u" GB"_qs;
}

QString RecordingsModel::formatDuration(qint64 seconds)
{
    if (seconds <= 0)
        return u"–"_qs;
    const qint64 h = seconds / 3600, m = seconds / 60 % 60;
    if (h)
        return QStringLiteral("%1 h %2 min").arg(h).arg(m, 2, 10, QLatin1Char('0'));
    return m ? QStringLiteral("%1 min").arg(m) : QStringLiteral("%1 s").arg(seconds);
}

static QString formatStamp(qint64 t)
{
    if (t <= 0)
        return {};
    const QDateTime d = QDateTime::fromSecsSinceEpoch(t);
    return d.toString(d.date() == QDate::currentDate() ? u"HH:mm"_qs : u"yyyy-MM-dd HH:mm"_qs);
}

QVariant RecordingsModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const RecordingRow &r = m_rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case OwnerColumn: return r.owner;
        case ChannelColumn: return r.channelName.isEmpty() ? r.channel : r.channelName;
        case TitleColumn: return r.title;
        case StartColumn: return formatStamp(r.recordStart);
        case EndColumn: return formatStamp(r.recordStop);
        case LengthColumn: return formatDuration(r.recordStop - r.recordStart);
        case StateColumn: {
            QString text = RecordingRow::stateName(r.state);
            if (r.state == RecordingRow::Recording)
                text.prepend(u"● "_qs);
            if (r.gaps > 0 && r.state != RecordingRow::Failed)
                text += r.gaps == 1 ? u" · 1 gap"_qs : QStringLiteral(" · %1 gaps").arg(r.gaps);
            return text;
        }
        case SizeColumn: return r.archived && r.bytes == 0 ? tr("in archive") : formatBytes(r.bytes);
        case KeptColumn: return r.kept ? tr("kept") : QString();
        case KeepUntilColumn: return r.keepUntil ? formatStamp(r.keepUntil) : QString();
        default: return {};
        }
    case Qt::ToolTipRole: {
        QString tip = QStringLiteral("#%1 %2 — %3 on %4\nrule %5%6")
                          .arg(r.id)
                          .arg(r.title, r.owner, r.channelName.isEmpty() ? r.channel : r.channelName)
                          .arg(r.rule)
                          .arg(r.archived ? tr(", a range of the channel's archive") : QString());
        tip += QStringLiteral("\n%1 segments, %2").arg(r.segments).arg(formatBytes(r.bytes));
        if (!r.reason.isEmpty())
            tip += u"\n"_qs + r.reason;
        return tip;
    }
    case Qt::ForegroundRole:
        if (index.column() == StateColumn) {
            switch (r.state) {
            case RecordingRow::Recording: return QColor(0xc0, 0x39, 0x2b);
            case RecordingRow::Failed: return QColor(0xc0, 0x39, 0x2b);
            case RecordingRow::Partial: return QColor(0xb8, 0x6e, 0x00);
            default: return r.gaps ? QColor(0xb8, 0x6e, 0x00) : QVariant();
            }
        }
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() == SizeColumn || index.column() == LengthColumn)
            return int(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case IdRole: return r.id;
    case OwnerRole: return r.owner;
    case ChannelRole: return r.channel;
    case StateRole: return RecordingRow::stateName(r.state);
    case KeptRole: return r.kept;
    case RuleRole: return r.rule;
    case SortRole:
        switch (index.column()) {
        case StartColumn: return r.recordStart;
        case EndColumn: return r.recordStop;
        case LengthColumn: return r.recordStop - r.recordStart;
        case SizeColumn: return r.bytes;
        case KeepUntilColumn: return r.keepUntil;
        default: return data(index, Qt::DisplayRole);
        }
    default: return {};
    }
}

QVariant RecordingsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case OwnerColumn: return tr("Owner");
    case ChannelColumn: return tr("Channel");
    case TitleColumn: return tr("Title");
    case StartColumn: return tr("Start");
    case EndColumn: return tr("End");
    case LengthColumn: return tr("Length");
    case StateColumn: return tr("State");
    case SizeColumn: return tr("Size");
    case KeptColumn: return tr("Kept");
    case KeepUntilColumn: return tr("Keep until");
    default: return {};
    }
}

QHash<int, QByteArray> RecordingsModel::roleNames() const
{
    QHash<int, QByteArray> r = QAbstractTableModel::roleNames();
    r.insert(IdRole, "recordingId");
    r.insert(OwnerRole, "owner");
    r.insert(ChannelRole, "channel");
    r.insert(StateRole, "state");
    r.insert(KeptRole, "kept");
    r.insert(RuleRole, "rule");
    r.insert(SortRole, "sortValue");
    return r;
}

RecordingRow RecordingsModel::fromJson(const QJsonObject &o)
{
    RecordingRow r;
    r.id = o.value(u"id").toInteger();
    r.rule = o.value(u"rule").toInteger();
    r.owner = o.value(u"owner").toString();
    r.channel = o.value(u"channel").toString();
    r.channelName = o.value(u"channelName").toString();
    r.title = o.value(u"title").toString();
    r.reason = o.value(u"reason").toString();
    r.start = o.value(u"start").toInteger();
    r.stop = o.value(u"stop").toInteger();
    r.recordStart = o.value(u"recordStart").toInteger(r.start);
    r.recordStop = o.value(u"recordStop").toInteger(r.stop);
    r.keepUntil = o.value(u"keepUntil").toInteger();
    r.bytes = o.value(u"bytes").toInteger();
    r.segments = qint32(o.value(u"segments").toInteger());
    r.gaps = qint32(o.value(u"gaps").toInteger());
    r.state = RecordingRow::stateFromName(o.value(u"state").toString());
    r.kept = o.value(u"kept").toBool();
    r.archived = o.value(u"archived").toBool();
    return r;
}

QList<RecordingRow> RecordingsModel::parse(const QByteArray &body, QString *error)
{
    QString next;
    QSet<QString> strings;
    return parse(body, error, &next, &strings);
}

QList<RecordingRow> RecordingsModel::parse(const QByteArray &body, QString *error, QString *next, QSet<QString> *strings)
{
    next->clear();
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &pe);
    if (pe.error != QJsonParseError::NoError) {
        *error = QStringLiteral("recordings: invalid JSON at offset %1: %2").arg(pe.offset).arg(pe.errorString());
        return {};
    }
    const QJsonValue list = doc.object().value(u"recordings");
    if (!list.isArray()) {
        *error = u"recordings: the answer has no \"recordings\" array"_qs;
        return {};
    }
    const QJsonValue cursor = doc.object().value(u"next");
    if (!cursor.isNull() && !cursor.isUndefined() && !cursor.isString()) {
        *error = u"recordings: \"next\" is neither a cursor nor null"_qs;
        return {};
    }
    *next = cursor.toString();
    const QJsonArray items = list.toArray();
    QList<RecordingRow> rows;
    rows.reserve(items.size());
    // One copy of each string that repeats: 150,000 recordings have a few thousand owners,
    // channels and titles.
    auto shared = [strings](QString &s) {
        const auto it = strings->constFind(s);
        if (it != strings->cend())
            s = *it;
        else
            strings->insert(s);
    };
    for (const QJsonValue &v : items) {
        RecordingRow r = fromJson(v.toObject());
        if (r.id <= 0)
            continue;
        shared(r.owner);
        shared(r.channel);
        shared(r.channelName);
        shared(r.title);
        rows.append(std::move(r));
    }
    return rows;
}

void RecordingsModel::beginSnapshot()
{
    m_reading = true;
    m_newerIds.clear();
    m_deletedIds.clear();
}

void RecordingsModel::cancelSnapshot()
{
    m_reading = false;
    m_newerIds.clear();
    m_deletedIds.clear();
}

void RecordingsModel::applySnapshot(QList<RecordingRow> rows)
{
    m_snapshot = std::move(rows);
    m_snapshotDone = 0;
    m_snapshotIds.clear();
    m_snapshotIds.reserve(m_snapshot.size());
    if (m_reading) {
        // Events came while the pages were read: theirs is the newer word.
        if (!m_newerIds.isEmpty() || !m_deletedIds.isEmpty()) {
            m_snapshot.removeIf([this](const RecordingRow &r) { return m_newerIds.contains(r.id) || m_deletedIds.contains(r.id); });
            for (const qint64 id : std::as_const(m_newerIds))
                m_snapshotIds.insert(id);
        }
        cancelSnapshot();
    }
    m_snapshotMs = 0;
    if (!m_loading) {
        m_loading = true;
        Q_EMIT loadingChanged(true);
    }
    applySlice(true);
}

void RecordingsModel::finishSnapshot()
{
    m_slice.stop();
    if (m_loading)
        applySlice(false);
}

void RecordingsModel::insertBlock(QList<RecordingRow> &added)
{
    if (added.isEmpty())
        return;
    const int first = int(m_rows.size());
    beginInsertRows({}, first, first + int(added.size()) - 1);
    if (m_rows.capacity() < first + added.size())
        m_rows.reserve(std::max<qsizetype>(first + added.size(), m_rows.capacity() * 2));
    for (RecordingRow &r : added) {
        m_rowOf.insert(r.id, int(m_rows.size()));
        m_rows.append(std::move(r));
    }
    endInsertRows();
    added.clear();
    Q_EMIT countChanged();
}

void RecordingsModel::applySlice(bool budgeted)
{
    QElapsedTimer clock;
    clock.start();
    QList<RecordingRow> added;
    while (m_snapshotDone < m_snapshot.size()) {
        const qsizetype end = std::min(m_snapshot.size(), m_snapshotDone + SliceRows);
        for (; m_snapshotDone < end; ++m_snapshotDone) {
            RecordingRow &r = m_snapshot[m_snapshotDone];
            m_snapshotIds.insert(r.id);
            const int row = m_rowOf.value(r.id, -1);
            if (row < 0) {
                added.append(std::move(r));
            } else if (!m_rows.at(row).sameAs(r)) {
                m_rows[row] = std::move(r);
                Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
            }
        }
        insertBlock(added);
        if (budgeted && clock.elapsed() >= m_budgetMs)
            break;
    }
    if (m_snapshotDone < m_snapshot.size()) {
        m_snapshotMs += clock.nsecsElapsed() / 1e6;
        m_slice.start(0); // the rest after the event loop had its turn
        return;
    }
    // What the list no longer has was deleted (by another operator, a box, retention): removed
    // in runs of adjacent rows, from the end, and the index rebuilt once.
    int lowest = -1;
    for (int i = int(m_rows.size()) - 1; i >= 0;) {
        if (m_snapshotIds.contains(m_rows.at(i).id)) {
            --i;
            continue;
        }
        int first = i;
        while (first > 0 && !m_snapshotIds.contains(m_rows.at(first - 1).id))
            --first;
        beginRemoveRows({}, first, i);
        for (int k = first; k <= i; ++k)
            m_rowOf.remove(m_rows.at(k).id);
        m_rows.remove(first, i - first + 1);
        endRemoveRows();
        lowest = first;
        i = first - 1;
    }
    if (lowest >= 0) {
        reindexFrom(lowest);
        Q_EMIT countChanged();
    }
    m_snapshot.clear();
    m_snapshot.squeeze();
    m_snapshotIds.clear();
    m_snapshotDone = 0;
    m_snapshotMs += clock.nsecsElapsed() / 1e6;
    m_loading = false;
    Q_EMIT loadingChanged(false);
    Q_EMIT snapshotApplied(int(m_rows.size()), m_snapshotMs);
}

void RecordingsModel::reindexFrom(int row)
{
    for (int i = row; i < m_rows.size(); ++i)
        m_rowOf.insert(m_rows.at(i).id, i);
}

void RecordingsModel::upsert(const RecordingRow &r)
{
    if (r.id <= 0)
        return;
    if (m_loading)
        m_snapshotIds.insert(r.id); // newer than the list being applied: not removed at its end
    if (m_reading) {
        m_newerIds.insert(r.id);
        m_deletedIds.remove(r.id);
    }
    const int row = m_rowOf.value(r.id, -1);
    if (row >= 0) {
        if (!m_rows.at(row).sameAs(r)) {
            m_rows[row] = r;
            Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
        }
        return;
    }
    QList<RecordingRow> one{r};
    insertBlock(one);
}

void RecordingsModel::noteReason(qint64 id, const QString &reason, bool failed)
{
    const int row = rowOf(id);
    if (row < 0)
        return;
    RecordingRow &r = m_rows[row];
    r.reason = reason;
    if (failed)
        r.state = RecordingRow::Failed;
    else
        ++r.gaps;
    Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

void RecordingsModel::remove(qint64 id)
{
    if (m_reading) {
        m_deletedIds.insert(id);
        m_newerIds.remove(id);
    }
    const int row = rowOf(id);
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    m_rowOf.remove(id);
    endRemoveRows();
    reindexFrom(row);
    m_snapshotIds.remove(id);
    for (qsizetype i = m_snapshotDone; i < m_snapshot.size(); ++i) {
        if (m_snapshot.at(i).id == id) {
            m_snapshot.removeAt(i); // the list being applied is older than the deletion
            break;
        }
    }
    Q_EMIT countChanged();
}

void RecordingsModel::clear()
{
    m_slice.stop();
    beginResetModel();
    m_rows.clear();
    m_rowOf.clear();
    m_snapshot.clear();
    m_snapshotIds.clear();
    m_snapshotDone = 0;
    cancelSnapshot();
    endResetModel();
    if (m_loading) {
        m_loading = false;
        Q_EMIT loadingChanged(false);
    }
    Q_EMIT countChanged();
}

QStringList RecordingsModel::distinct(Column column) const
{
    QSet<QString> seen;
    for (const RecordingRow &r : m_rows) {
        switch (column) {
        case OwnerColumn: seen.insert(r.owner); break;
        case ChannelColumn: seen.insert(r.channelName.isEmpty() ? r.channel : r.channelName); break;
        case StateColumn: seen.insert(RecordingRow::stateName(r.state)); break;
        default: break;
        }
    }
    QStringList out(seen.begin(), seen.end());
    out.sort(Qt::CaseInsensitive);
    return out;
}

QHash<qint64, int> RecordingsModel::countByRule() const
{
    QHash<qint64, int> out;
    for (const RecordingRow &r : m_rows)
        ++out[r.rule];
    return out;
}

// ---- the proxy

RecordingsProxy::RecordingsProxy(RecordingsModel *source, QObject *parent)
    : QSortFilterProxyModel(parent), m_source(source)
{
    setSourceModel(source);
}

void RecordingsProxy::setOwnerFilter(const QString &text)
{
    if (m_owner == text)
        return;
    m_owner = text;
    invalidateFilter();
}

void RecordingsProxy::setChannelFilter(const QString &channelName)
{
    if (m_channel == channelName)
        return;
    m_channel = channelName;
    invalidateFilter();
}

void RecordingsProxy::setStateFilter(const QString &state)
{
    const int s = state.isEmpty() ? -1 : RecordingRow::stateFromName(state);
    if (m_state == s)
        return;
    m_state = s;
    invalidateFilter();
}

qint64 RecordingsProxy::idAt(int proxyRow) const
{
    const QModelIndex src = mapToSource(index(proxyRow, 0));
    return src.isValid() ? m_source->row(src.row()).id : 0;
}

bool RecordingsProxy::filterAcceptsRow(int sourceRow, const QModelIndex &) const
{
    const RecordingRow &r = m_source->row(sourceRow);
    if (m_state >= 0 && r.state != m_state)
        return false;
    if (!m_channel.isEmpty() && r.channelName != m_channel && r.channel != m_channel)
        return false;
    if (!m_owner.isEmpty() && !r.owner.contains(m_owner, Qt::CaseInsensitive))
        return false;
    return true;
}

bool RecordingsProxy::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    const RecordingRow &a = m_source->row(left.row());
    const RecordingRow &b = m_source->row(right.row());
    auto text = [](const QString &x, const QString &y, qint64 ia, qint64 ib) {
        const int c = x.compare(y, Qt::CaseInsensitive);
        return c != 0 ? c < 0 : ia < ib;
    };
    auto num = [&a, &b](qint64 x, qint64 y) { return x != y ? x < y : a.id < b.id; };
    switch (left.column()) {
    case RecordingsModel::OwnerColumn: return text(a.owner, b.owner, a.recordStart, b.recordStart);
    case RecordingsModel::ChannelColumn: return text(a.channelName, b.channelName, a.recordStart, b.recordStart);
    case RecordingsModel::TitleColumn: return text(a.title, b.title, a.recordStart, b.recordStart);
    case RecordingsModel::StartColumn: return num(a.recordStart, b.recordStart);
    case RecordingsModel::EndColumn: return num(a.recordStop, b.recordStop);
    case RecordingsModel::LengthColumn: return num(a.recordStop - a.recordStart, b.recordStop - b.recordStart);
    case RecordingsModel::StateColumn: return num(a.state, b.state);
    case RecordingsModel::SizeColumn: return num(a.bytes, b.bytes);
    case RecordingsModel::KeptColumn: return num(a.kept, b.kept);
    case RecordingsModel::KeepUntilColumn: return num(a.keepUntil, b.keepUntil);
    default: return a.id < b.id;
    }
}

} // namespace iptv::cerberus
