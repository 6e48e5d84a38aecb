#pragma once

// A table over JSON objects from the API (events, commands, audit entries, releases, rollouts,
// rollout groups) with rows identified by one key. Upserts change only the rows that changed and
// insert new ones; setRows() replaces the content the same way (no reset unless it was empty).

#include <QAbstractTableModel>
#include <QHash>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>

#include <functional>

namespace iptv::cerberus {

class JsonTableModel : public QAbstractTableModel
{
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)

public:
    enum Roles { ObjectRole = Qt::UserRole + 1, IdRole, FirstColumnRole = Qt::UserRole + 16 };

    struct Column
    {
        QString key;   ///< the JSON key shown (and its role name)
        QString title;
        /// Display text; default: the value as text.
        std::function<QString(const QJsonObject &)> format = {};
        /// Foreground colour name ("#c0392b") or empty.
        std::function<QString(const QJsonObject &)> color = {};
    };

    JsonTableModel(QString idKey, QList<Column> columns, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    /// Makes the rows exactly `rows` (in that order when it was empty; else changed rows update,
    /// new ones are appended, missing ones removed).
    void setRows(const QList<QJsonObject> &rows);
    /// Merges `o` into the row with its id, or inserts it (at the top when `prepend`).
    void upsert(const QJsonObject &o, bool prepend = false);
    void clear();
    /// Drops rows beyond `max` from the end.
    void trim(int max);

    QJsonObject rowObject(int row) const { return m_rows.value(row); }
    int rowOf(const QJsonValue &id) const { return m_rowOf.value(idText(id), -1); }
    QList<QJsonObject> rows() const { return m_rows; }

    /// "2026-11-25 18:52:03" (local) from epoch seconds; "" for 0.
    static QString formatTime(qint64 epochSeconds);

Q_SIGNALS:
    void countChanged();

private:
    static QString idText(const QJsonValue &v);
    void reindex();

    QString m_idKey;
    QList<Column> m_columns;
    QList<QJsonObject> m_rows;
    QHash<QString, int> m_rowOf;
};

} // namespace iptv::cerberus
