#include "jsontablemodel.h"

#include <QColor>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>

namespace iptv::cerberus {

JsonTableModel::JsonTableModel(QString idKey, QList<Column> columns, QObject *parent)
    : QAbstractTableModel(parent), m_idKey(std::move(idKey)), m_columns(std::move(columns))
{
}

QString JsonTableModel::idText(const QJsonValue &v)
{
    if (v.isDouble())
        return QString::number(v.toInteger());
    return v.toString();
}

QString JsonTableModel::formatTime(qint64 epochSeconds)
{
    if (epochSeconds <= 0)
        return {};
    // Some of the server's times are epoch milliseconds (release uploads); seconds stay below
    // 10^11 until the year 5138.
    if (epochSeconds > 100'000'000'000LL)
        epochSeconds /= 1000;
    const QDateTime t = QDateTime::fromSecsSinceEpoch(epochSeconds);
    // Today's times without the date: tables stay narrow on a laptop.
    return t.toString(t.date() == QDate::currentDate() ? u"HH:mm:ss"_qs : u"yyyy-MM-dd HH:mm:ss"_qs);
}

int JsonTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int JsonTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_columns.size());
}

QVariant JsonTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const QJsonObject &o = m_rows.at(index.row());
    if (role == ObjectRole)
        return o;
    if (role == IdRole)
        return o.value(m_idKey).toVariant();
    if (role >= FirstColumnRole && role < FirstColumnRole + m_columns.size())
        return o.value(m_columns.at(role - FirstColumnRole).key).toVariant();
    if (index.column() >= m_columns.size())
        return {};
    const Column &c = m_columns.at(index.column());
    if (role == Qt::DisplayRole || role == Qt::ToolTipRole) {
        if (c.format)
            return c.format(o);
        const QJsonValue v = o.value(c.key);
        if (v.isArray() || v.isObject())
            return QString::fromUtf8(QJsonDocument(v.isArray() ? QJsonDocument(v.toArray()) : QJsonDocument(v.toObject()))
                                         .toJson(QJsonDocument::Compact));
        if (v.isBool())
            return v.toBool() ? tr("yes") : tr("no");
        if (v.isDouble())
            return QString::number(v.toDouble());
        return v.toString();
    }
    if (role == Qt::ForegroundRole && c.color) {
        const QString name = c.color(o);
        return name.isEmpty() ? QVariant() : QVariant(QColor(name));
    }
    return {};
}

QVariant JsonTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation == Qt::Horizontal && role == Qt::DisplayRole && section < m_columns.size())
        return m_columns.at(section).title;
    return QAbstractTableModel::headerData(section, orientation, role);
}

QHash<int, QByteArray> JsonTableModel::roleNames() const
{
    QHash<int, QByteArray> r = QAbstractTableModel::roleNames();
    r.insert(ObjectRole, "object");
    r.insert(IdRole, "id");
    for (int i = 0; i < m_columns.size(); ++i)
        r.insert(FirstColumnRole + i, m_columns.at(i).key.toUtf8());
    return r;
}

void JsonTableModel::reindex()
{
    m_rowOf.clear();
    for (int i = 0; i < m_rows.size(); ++i)
        m_rowOf.insert(idText(m_rows.at(i).value(m_idKey)), i);
}

void JsonTableModel::setRows(const QList<QJsonObject> &rows)
{
    if (m_rows.isEmpty()) {
        if (rows.isEmpty())
            return;
        beginInsertRows({}, 0, int(rows.size()) - 1);
        m_rows = rows;
        reindex();
        endInsertRows();
        Q_EMIT countChanged();
        return;
    }
    QSet<QString> keep;
    for (const QJsonObject &o : rows)
        keep.insert(idText(o.value(m_idKey)));
    for (int i = int(m_rows.size()) - 1; i >= 0; --i) {
        if (!keep.contains(idText(m_rows.at(i).value(m_idKey)))) {
            beginRemoveRows({}, i, i);
            m_rows.removeAt(i);
            endRemoveRows();
        }
    }
    reindex();
    for (const QJsonObject &o : rows)
        upsert(o);
    Q_EMIT countChanged();
}

void JsonTableModel::upsert(const QJsonObject &o, bool prepend)
{
    const QString id = idText(o.value(m_idKey));
    const int row = m_rowOf.value(id, -1);
    if (row >= 0) {
        QJsonObject merged = m_rows.at(row);
        for (auto it = o.begin(); it != o.end(); ++it)
            merged.insert(it.key(), it.value());
        if (merged == m_rows.at(row))
            return;
        m_rows[row] = merged;
        Q_EMIT dataChanged(index(row, 0), index(row, int(m_columns.size()) - 1));
        return;
    }
    const int at = prepend ? 0 : int(m_rows.size());
    beginInsertRows({}, at, at);
    m_rows.insert(at, o);
    if (prepend)
        reindex();
    else
        m_rowOf.insert(id, at);
    endInsertRows();
    Q_EMIT countChanged();
}

void JsonTableModel::clear()
{
    if (m_rows.isEmpty())
        return;
    beginRemoveRows({}, 0, int(m_rows.size()) - 1);
    m_rows.clear();
    m_rowOf.clear();
    endRemoveRows();
    Q_EMIT countChanged();
}

void JsonTableModel::trim(int max)
{
    if (m_rows.size() <= max)
        return;
    beginRemoveRows({}, max, int(m_rows.size()) - 1);
    m_rows.resize(max);
    endRemoveRows();
    reindex();
    Q_EMIT countChanged();
}

} // namespace iptv::cerberus
