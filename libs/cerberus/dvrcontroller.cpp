#include "dvrcontroller.h"

#include <QDateTime>
#include <QJsonArray>
#include <QLoggingCategory>
#include <QUrl>
#include <QtConcurrent/QtConcurrentRun>

#include <utility>

Q_LOGGING_CATEGORY(lcDvr, "iptv.cerberus.dvr")

namespace iptv::cerberus {

namespace {

QString stamp(qint64 t)
{
    if (t <= 0)
        return {};
    const QDateTime d = QDateTime::fromSecsSinceEpoch(t);
    return d.toString(d.date() == QDate::currentDate() ? u"HH:mm"_qs : u"ddd d MMM HH:mm"_qs);
}

QString minuteOfDay(int m)
{
    return QStringLiteral("%1:%2").arg(m / 60, 2, 10, QLatin1Char('0')).arg(m % 60, 2, 10, QLatin1Char('0'));
}

/// {"days": [1…7], "from": minute, "to": minute, "timeZone": …} as "Mon–Fri 20:00–23:00".
QString windowText(const QJsonObject &w)
{
    if (w.isEmpty())
        return QObject::tr("any time");
    static const char *names[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    QList<int> days;
    for (const QJsonValue &d : w.value(u"days").toArray())
        days.append(d.toInt());
    std::sort(days.begin(), days.end());
    QString dayText;
    if (days.size() == 7 || days.isEmpty()) {
        dayText = QObject::tr("daily");
    } else {
        QStringList parts;
        for (qsizetype i = 0; i < days.size();) {
            qsizetype j = i;
            while (j + 1 < days.size() && days[j + 1] == days[j] + 1)
                ++j;
            const QString a = QString::fromLatin1(names[qBound(1, days[i], 7) - 1]);
            const QString b = QString::fromLatin1(names[qBound(1, days[j], 7) - 1]);
            parts.append(j - i >= 2 ? a + u'–' + b : i == j ? a : a + u',' + b);
            i = j + 1;
        }
        dayText = parts.join(u',');
    }
    const int from = w.value(u"from").toInt(), to = w.value(u"to").toInt();
    QString text = from == to ? dayText : dayText + u' ' + minuteOfDay(from) + u'–' + minuteOfDay(to);
    const QString tz = w.value(u"timeZone").toString();
    if (!tz.isEmpty())
        text += u" ("_qs + tz + u')';
    return text;
}

QString ruleWhat(const QJsonObject &o)
{
    const QString kind = o.value(u"kind").toString();
    QString what;
    if (kind == u"single")
        what = QObject::tr("one airing at %1").arg(stamp(o.value(u"start").toInteger()));
    else if (kind == u"series-id")
        what = o.value(u"seriesId").toString();
    else if (kind == u"title")
        what = u'"' + o.value(u"title").toString() + u'"';
    else if (kind == u"regex")
        what = u'/' + o.value(u"pattern").toString() + u'/';
    if (!o.value(u"enabled").toBool(true))
        what += QObject::tr(" (disabled)");
    return what;
}

QString airingsText(const QJsonArray &items)
{
    QStringList out;
    for (const QJsonValue &v : items) {
        const QJsonObject a = v.toObject();
        if (a.value(u"other").toBool()) {
            out.append(QObject::tr("another recording at %1").arg(stamp(a.value(u"start").toInteger())));
            continue;
        }
        out.append(QStringLiteral("\"%1\" on %2 at %3")
                       .arg(a.value(u"title").toString(), a.value(u"channelName").toString(a.value(u"channel").toString()),
                            stamp(a.value(u"start").toInteger())));
    }
    return out.join(u"; "_qs);
}

} // namespace

DvrController::DvrController(DiverClient *client, QObject *parent)
    : QObject(parent), m_client(client), m_recordings(new RecordingsModel(this))
{
    m_rules = new JsonTableModel(
        u"id"_qs,
        {{u"owner"_qs, tr("Owner")},
         {u"kind"_qs, tr("Kind")},
         {u"what"_qs, tr("Records"), [](const QJsonObject &o) { return ruleWhat(o); }},
         {u"channel"_qs, tr("Channel"),
          [this](const QJsonObject &o) {
              // Rules name the channel by id; its name as recordings and the plan have it.
              const QString id = o.value(u"channel").toString();
              return id.isEmpty() ? tr("any") : m_channelNames.value(id, id);
          }},
         {u"window"_qs, tr("Window"),
          [](const QJsonObject &o) {
              return o.value(u"kind").toString() == u"single" ? QString() : windowText(o.value(u"window").toObject());
          }},
         {u"newOnly"_qs, tr("New only"), [](const QJsonObject &o) { return o.value(u"newOnly").toBool() ? tr("yes") : QString(); }},
         {u"keep"_qs, tr("Keep"),
          [](const QJsonObject &o) {
              const int n = o.value(u"keep").toInt();
              if (n <= 0)
                  return tr("all");
              return o.value(u"keepPolicy").toString() == u"replace-oldest" ? tr("%1, replace oldest").arg(n) : tr("%1, then stop").arg(n);
          }},
         {u"priority"_qs, tr("Priority")},
         // The operator's tier (diver leaves it out at 0): before the boxes' own priorities.
         {u"operatorPriority"_qs, tr("Operator tier"),
          [](const QJsonObject &o) { return QString::number(o.value(u"operatorPriority").toInt()); }},
         {u"outcome"_qs, tr("Outcome"), [this](const QJsonObject &o) { return ruleOutcome(o.value(u"id").toInteger()); },
          [this](const QJsonObject &o) { return m_planOfRule.value(o.value(u"id").toInteger()).second > 0 ? u"#c0392b"_qs : QString(); }}},
        this);
    m_upcoming = new JsonTableModel(
        u"key"_qs,
        {{u"start"_qs, tr("Airs"), [](const QJsonObject &o) { return stamp(o.value(u"start").toInteger()); }},
         {u"channelName"_qs, tr("Channel")},
         {u"title"_qs, tr("Title")},
         {u"owner"_qs, tr("Owner")},
         {u"rule"_qs, tr("Rule"),
          [](const QJsonObject &o) { return QStringLiteral("#%1 %2").arg(o.value(u"rule").toInteger()).arg(o.value(u"ruleKind").toString()); }},
         {u"status"_qs, tr("Outcome"), {},
          [](const QJsonObject &o) {
              const QString s = o.value(u"status").toString();
              return s == u"conflict" ? u"#c0392b"_qs : s == u"planned" ? u"#1e7e34"_qs : u"#80868b"_qs;
          }},
         {u"detail"_qs, tr("Why, and where it fits"),
          [](const QJsonObject &o) {
              QString d = o.value(u"detail").toString();
              if (o.value(u"status").toString() == u"planned")
                  return o.value(u"node").toString().isEmpty() ? tr("from the channel's archive")
                                                               : tr("recorded by %1").arg(o.value(u"node").toString());
              const QJsonArray alt = o.value(u"alternatives").toArray();
              if (!alt.isEmpty() && !d.contains(u"it fits at"))
                  d += tr("; alternatives: %1").arg(airingsText(alt));
              return d;
          }}},
        this);

    m_poll.setInterval(10000);
    connect(&m_poll, &QTimer::timeout, this, &DvrController::poll);
    m_upcomingSoon.setSingleShot(true);
    m_upcomingSoon.setInterval(400);
    connect(&m_upcomingSoon, &QTimer::timeout, this, [this] {
        fetchUpcoming();
        fetchStatus();
    });
    connect(m_client, &DiverClient::eventReceived, this, &DvrController::onEvent);
    connect(m_client, &DiverClient::eventsConnectedChanged, this, [this](bool up) {
        // Events missed while the stream was down: the library again.
        if (up && m_running)
            refreshRecordings();
    });
    connect(m_recordings, &RecordingsModel::snapshotApplied, this, [this](int count) {
        m_recordedOfRule = m_recordings->countByRule();
        if (m_rules->rowCount())
            Q_EMIT m_rules->dataChanged(m_rules->index(0, m_rules->columnCount() - 1),
                                        m_rules->index(m_rules->rowCount() - 1, m_rules->columnCount() - 1));
        Q_EMIT recordingsLoaded(count);
    });
    connect(&m_parse, &QFutureWatcher<ParsedPage>::finished, this, [this] {
        ParsedPage page = m_parse.result();
        if (!page.error.isEmpty()) {
            m_recordingsInFlight = false;
            m_pageRows.clear();
            m_pageStrings.clear();
            m_recordings->cancelSnapshot();
            Q_EMIT failed(tr("Recordings"), ApiError{200, u"bad-reply"_qs, page.error});
            return;
        }
        m_pageRows.append(std::move(page.rows));
        ++m_pages;
        Q_EMIT recordingsPageLoaded(m_pages, int(m_pageRows.size()));
        // (A cursor that comes back as it went would ask for the same page for ever.)
        if (!page.next.isEmpty() && page.next != m_pageCursor) {
            fetchRecordingsPage(page.next);
            return;
        }
        m_recordingsInFlight = false;
        m_pageStrings.clear(); // the rows keep their strings
        m_recordings->applySnapshot(std::exchange(m_pageRows, {}));
    });
}

void DvrController::setPollInterval(int ms, int libraryEvery)
{
    m_poll.setInterval(ms);
    m_libraryEvery = std::max(1, libraryEvery);
}

void DvrController::setState(ConnectionState state, const QString &error)
{
    if (m_state == state && m_error == error)
        return;
    m_state = state;
    m_error = error;
    Q_EMIT connectionChanged();
}

void DvrController::noteReply(const ApiReply &r)
{
    if (r.status == 401)
        // diver reads a token it does not know as a box's ticket, and its detail says so: the
        // operator is told which setting to look at.
        setState(Unreachable, tr("diver refused the DVR token (its [server] admin_token; none only on diver's own machine "
                                 "when it has none): %1").arg(r.error.message));
    else if (r.status == 0)
        setState(Unreachable, r.error.toString());
    else
        setState(Connected);
}

void DvrController::start()
{
    if (!m_client->isConfigured()) {
        setState(NotConfigured);
        return;
    }
    m_running = true;
    setState(Connecting);
    m_client->openEvents();
    refresh();
    m_poll.start();
}

void DvrController::stop()
{
    m_running = false;
    m_poll.stop();
    m_client->closeEvents();
}

void DvrController::refresh()
{
    fetchStatus();
    fetchRules();
    fetchUpcoming();
    refreshRecordings();
}

void DvrController::poll()
{
    ++m_ticks;
    fetchStatus();
    fetchRules();
    fetchUpcoming();
    if (!m_client->isEventsConnected() || m_ticks % m_libraryEvery == 0)
        refreshRecordings();
}

void DvrController::fetchStatus()
{
    m_client->get(u"/api/status"_qs, this, [this](const ApiReply &r) {
        noteReply(r);
        if (!r.ok())
            return;
        m_status = r.json;
        Q_EMIT statusChanged();
    });
}

void DvrController::fetchRules()
{
    m_client->get(u"/api/rules"_qs, this, [this](const ApiReply &r) {
        if (!r.ok())
            return;
        QList<QJsonObject> rows;
        m_ruleOwner.clear();
        for (const QJsonValue &v : r.json.value(u"rules").toArray()) {
            rows.append(v.toObject());
            m_ruleOwner.insert(rows.last().value(u"id").toInteger(), rows.last().value(u"owner").toString());
        }
        m_rules->setRows(rows);
        Q_EMIT rulesLoaded(int(rows.size()));
    });
}

void DvrController::fetchUpcoming()
{
    m_client->get(u"/api/upcoming"_qs, this, [this](const ApiReply &r) {
        if (!r.ok())
            return;
        QList<QJsonObject> rows;
        m_planOfRule.clear();
        auto keyed = [](QJsonObject o, const QString &status) {
            o.insert(u"status"_qs, status);
            o.insert(u"key"_qs, QStringLiteral("%1|%2|%3|%4")
                                   .arg(status, QString::number(o.value(u"rule").toInteger()), o.value(u"channel").toString(),
                                        QString::number(o.value(u"start").toInteger())));
            return o;
        };
        const QJsonArray planned = r.json.value(u"planned").toArray();
        const QJsonArray skipped = r.json.value(u"skipped").toArray();
        for (const QJsonArray *list : {&planned, &skipped}) {
            for (const QJsonValue &v : *list) {
                const QJsonObject o = v.toObject();
                if (!o.value(u"channelName").toString().isEmpty())
                    m_channelNames.insert(o.value(u"channel").toString(), o.value(u"channelName").toString());
            }
        }
        for (const QJsonValue &v : planned) {
            rows.append(keyed(v.toObject(), u"planned"_qs));
            ++m_planOfRule[rows.last().value(u"rule").toInteger()].first;
        }
        for (const QJsonValue &v : skipped) {
            QJsonObject o = keyed(v.toObject(), v.toObject().value(u"reason").toString());
            const qint64 rule = o.value(u"rule").toInteger();
            if (!o.contains(u"owner"))
                o.insert(u"owner"_qs, m_ruleOwner.value(rule));
            if (o.value(u"status").toString() == u"conflict")
                ++m_planOfRule[rule].second;
            rows.append(o);
        }
        std::stable_sort(rows.begin(), rows.end(), [](const QJsonObject &a, const QJsonObject &b) {
            return a.value(u"start").toInteger() < b.value(u"start").toInteger();
        });
        m_upcoming->setRows(rows);
        if (m_rules->rowCount())
            Q_EMIT m_rules->dataChanged(m_rules->index(0, 0), m_rules->index(m_rules->rowCount() - 1, m_rules->columnCount() - 1));
        Q_EMIT upcomingLoaded(int(planned.size()), int(skipped.size()));
    });
}

void DvrController::refreshRecordings()
{
    if (m_recordingsInFlight)
        return;
    m_recordingsInFlight = true;
    m_pageRows.clear();
    m_pageStrings.clear();
    m_pages = 0;
    m_recordings->beginSnapshot();
    fetchRecordingsPage({});
}

void DvrController::fetchRecordingsPage(const QString &cursor)
{
    // Page by page (diver's keyset cursor: a recording made or deleted meanwhile moves no other
    // across a page's edge), each parsed on a worker thread while the UI goes on; the pages are
    // one snapshot, applied in slices. A diver that does not page answers the whole list, with
    // no "next": one page.
    m_pageCursor = cursor;
    QString path = QStringLiteral("/api/recordings?limit=%1").arg(m_pageSize);
    if (!cursor.isEmpty())
        path += u"&cursor="_qs + QString::fromLatin1(QUrl::toPercentEncoding(cursor));
    m_client->call(
        "GET", path, {}, this,
        [this](const ApiReply &r) {
            noteReply(r);
            if (!r.ok()) {
                m_recordingsInFlight = false;
                m_pageRows.clear();
                m_pageStrings.clear();
                m_recordings->cancelSnapshot();
                return;
            }
            const QByteArray body = r.body;
            QSet<QString> *strings = &m_pageStrings; // only the worker touches it until it finishes
            m_parse.setFuture(QtConcurrent::run([body, strings] {
                ParsedPage page;
                page.rows = RecordingsModel::parse(body, &page.error, &page.next, strings);
                return page;
            }));
        },
        false);
}

void DvrController::onEvent(const QJsonObject &event)
{
    const QString type = event.value(u"type").toString();
    const qint64 id = event.value(u"id").toInteger();
    if (type == u"started" || type == u"finished") {
        if (m_recordings->rowOf(id) < 0) // started, then finished: one recording
            ++m_recordedOfRule[event.value(u"rule").toInteger()];
        m_recordings->upsert(event);
        m_upcomingSoon.start();
    } else if (type == u"gap" || type == u"failed") {
        m_recordings->noteReason(id, event.value(u"reason").toString(), type == u"failed");
    } else if (type == u"deleted") {
        m_recordings->remove(id);
        m_upcomingSoon.start();
    } else if (type == u"scheduled" || type == u"unscheduled") {
        m_upcomingSoon.start();
    }
}

void DvrController::deleteRecording(qint64 id)
{
    m_client->call("DELETE", QStringLiteral("/api/recordings/%1").arg(id), {}, this, [this, id](const ApiReply &r) {
        if (!r.ok() && r.status != 404) {
            Q_EMIT failed(tr("Delete recording %1").arg(id), r.error);
            return;
        }
        m_recordings->remove(id);
        Q_EMIT done(r.ok() ? tr("Recording %1 deleted").arg(id) : tr("Recording %1 was already gone").arg(id));
    });
}

void DvrController::setKept(qint64 id, bool kept)
{
    m_client->call("PUT", QStringLiteral("/api/recordings/%1").arg(id), {{u"kept"_qs, kept}}, this, [this, id, kept](const ApiReply &r) {
        if (!r.ok()) {
            Q_EMIT failed(kept ? tr("Keep recording %1").arg(id) : tr("Unkeep recording %1").arg(id), r.error);
            return;
        }
        m_recordings->upsert(r.json);
        Q_EMIT done(kept ? tr("Recording %1 kept").arg(id) : tr("Recording %1 no longer kept").arg(id));
    });
}

void DvrController::deleteRule(qint64 id)
{
    m_client->call("DELETE", QStringLiteral("/api/rules/%1").arg(id), {}, this, [this, id](const ApiReply &r) {
        if (!r.ok() && r.status != 404) {
            Q_EMIT failed(tr("Delete rule %1").arg(id), r.error);
            return;
        }
        Q_EMIT done(tr("Rule %1 deleted").arg(id));
        fetchRules();
        fetchUpcoming();
        fetchStatus();
    });
}

QString DvrController::ruleOutcome(qint64 ruleId) const
{
    const auto plan = m_planOfRule.value(ruleId);
    const int recorded = m_recordedOfRule.value(ruleId);
    QStringList parts;
    parts.append(tr("%1 planned").arg(plan.first));
    if (plan.second)
        parts.append(plan.second == 1 ? tr("1 conflict") : tr("%1 conflicts").arg(plan.second));
    parts.append(tr("%1 recorded").arg(recorded));
    return parts.join(u" · "_qs);
}

} // namespace iptv::cerberus
