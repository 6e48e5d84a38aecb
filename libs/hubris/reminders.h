#pragma once

// Reminders: the viewer marks a programme in the guide; when it is about to start, the box
// prompts, and OK tunes to it. Kept on the box (reminders.json) across restarts; a reminder whose
// programme has ended is dropped.

#include "guidestore.h"

#include <QAbstractListModel>
#include <QTimer>

namespace iptv::hubris {

class Reminders : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
public:
    enum Role { TitleRole = Qt::UserRole + 1, ChannelRole, ChannelNameRole, StartRole };

    /// `file` keeps them; `leadSeconds` before the start the prompt comes.
    Reminders(GuideStore *store, const QString &file, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    /// Adds or removes the reminder of `airing` (an index of the guide); true when it is now set.
    Q_INVOKABLE bool toggle(int airing);
    Q_INVOKABLE bool isSet(int airing) const;
    void setLeadSeconds(int seconds) { m_leadSeconds = seconds; }
    QString lastError() const { return m_lastError; }

public Q_SLOTS:
    /// Prompts for what starts now (called every few seconds, and when the clock jumps).
    void check();

Q_SIGNALS:
    void countChanged();
    /// `title` on `channel` (a row of the channel list) starts at `start`.
    void due(const QString &title, int channel, const QString &channelName, qint64 start);

private:
    struct Reminder
    {
        QString channelId;
        qint64 start = 0;
        qint64 stop = 0;
        QString title;
        bool prompted = false;
    };
    void load();
    void save();
    int rowOf(const QString &channelId, qint64 start) const;

    GuideStore *m_store;
    QString m_file;
    QList<Reminder> m_items; ///< by start
    int m_leadSeconds = 60;
    QTimer m_timer;
    QString m_lastError;
};

} // namespace iptv::hubris
