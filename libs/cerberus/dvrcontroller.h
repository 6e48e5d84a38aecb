#pragma once

// The console's DVR page: what diver holds, for the operator. diver's status (its node,
// recorders, capacity, plan, conflicts, guide, archives), every viewer's recordings
// (RecordingsModel), every rule, and the upcoming plan with the airings left out (conflicts with
// their reason and alternatives). Kept current by diver's event stream (recordings change row by
// row as they start, finish, fail and go) and by polling (status, rules, plan every interval;
// the whole library less often while events flow). Actions: delete a recording, keep or unkeep
// it, delete a rule; each changes diver and then what is shown.

#include "diverclient.h"
#include "jsontablemodel.h"
#include "recordingsmodel.h"

#include <QFutureWatcher>
#include <QSet>
#include <QJsonObject>
#include <QObject>
#include <QTimer>

#include <algorithm>

namespace iptv::cerberus {

class DvrController : public QObject
{
    Q_OBJECT
    Q_PROPERTY(ConnectionState connectionState READ connectionState NOTIFY connectionChanged)

public:
    enum ConnectionState { NotConfigured, Connecting, Connected, Unreachable };
    Q_ENUM(ConnectionState)

    explicit DvrController(DiverClient *client, QObject *parent = nullptr);

    DiverClient *client() const { return m_client; }
    RecordingsModel *recordings() const { return m_recordings; }
    JsonTableModel *rules() const { return m_rules; }
    /// Planned airings and the ones left out, one table (`status`: planned, or the reason).
    JsonTableModel *upcoming() const { return m_upcoming; }
    QJsonObject status() const { return m_status; }
    ConnectionState connectionState() const { return m_state; }
    /// Why diver is not reachable (the last error), or empty.
    QString connectionError() const { return m_error; }

    /// Status, rules and plan every `ms`; the whole library every `libraryEvery` of them while
    /// the event stream is up (every time while it is down).
    void setPollInterval(int ms, int libraryEvery = 6);
    /// Recordings asked for a page (diver's most, 1,000, by default; tests ask for fewer).
    void setPageSize(int recordings) { m_pageSize = std::max(1, recordings); }
    /// Loads everything and keeps it current (no-op without a diver).
    void start();
    void stop();
    /// Asks diver for everything now.
    void refresh();
    void refreshRecordings();
    /// Recordings read so far by the library's pages in flight (0 when none are).
    int recordingsRead() const { return m_recordingsInFlight ? int(m_pageRows.size()) : 0; }

    void deleteRecording(qint64 id);
    void setKept(qint64 id, bool kept);
    void deleteRule(qint64 id);

    /// "3 planned · 1 conflict · 12 recorded" for a rule.
    QString ruleOutcome(qint64 ruleId) const;

Q_SIGNALS:
    void connectionChanged();
    void statusChanged();
    void rulesLoaded(int count);
    void upcomingLoaded(int planned, int skipped);
    /// A page of the library arrived and is parsed: `rows` of it so far, in `pages` pages.
    void recordingsPageLoaded(int pages, int rows);
    /// A full list of recordings is applied.
    void recordingsLoaded(int count);
    /// An action was done (deleted, kept, ...), in words for the status bar.
    void done(const QString &message);
    void failed(const QString &what, const iptv::cerberus::ApiError &error);

private:
    void poll();
    void fetchStatus();
    void fetchRules();
    void fetchUpcoming();
    /// The library's page after `cursor` (empty: the first); the next one when it is parsed.
    void fetchRecordingsPage(const QString &cursor);
    void onEvent(const QJsonObject &event);
    void setState(ConnectionState state, const QString &error = {});
    void noteReply(const ApiReply &r);

    DiverClient *m_client;
    RecordingsModel *m_recordings;
    JsonTableModel *m_rules;
    JsonTableModel *m_upcoming;
    QJsonObject m_status;
    QHash<qint64, QString> m_ruleOwner;
    QHash<QString, QString> m_channelNames; ///< channel id -> name, as the plan has it
    QHash<qint64, std::pair<int, int>> m_planOfRule; ///< rule -> planned, conflicts
    QHash<qint64, int> m_recordedOfRule;
    QTimer m_poll;
    QTimer m_upcomingSoon; ///< scheduled/unscheduled events come in bursts
    /// A page of the library parsed on a worker.
    struct ParsedPage
    {
        QList<RecordingRow> rows;
        QString next;  ///< the cursor of the page after; empty: the last
        QString error;
    };
    QFutureWatcher<ParsedPage> m_parse;
    /// The pages of the library read so far, applied as one snapshot after the last.
    QList<RecordingRow> m_pageRows;
    QSet<QString> m_pageStrings; ///< the strings of those rows (owners, channels, titles), one copy each
    QString m_pageCursor;        ///< the cursor of the page in flight
    int m_pages = 0;
    int m_pageSize = 1000;
    ConnectionState m_state = NotConfigured;
    QString m_error;
    int m_libraryEvery = 6;
    int m_ticks = 0;
    bool m_recordingsInFlight = false;
    bool m_running = false;
};

} // namespace iptv::cerberus
