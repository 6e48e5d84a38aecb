#include "boxdetailcontroller.h"

#include <QDateTime>
#include <QJsonArray>

#include <algorithm>

namespace iptv::cerberus {

namespace {

QString stateColor(const QJsonObject &o)
{
    const QString s = o.value(u"state").toString();
    if (s == u"succeeded")
        return u"#2ea043"_qs;
    if (s == u"failed" || s == u"expired")
        return u"#c0392b"_qs;
    return u"#b86e00"_qs;
}

QString severityColor(const QJsonObject &o)
{
    const QString s = o.value(u"severity").toString();
    if (s == u"error")
        return u"#c0392b"_qs;
    if (s == u"warning")
        return u"#b86e00"_qs;
    return {};
}

double eventTimeMs(const QJsonValue &v)
{
    if (v.isDouble())
        return v.toDouble() * 1000;
    const QDateTime t = QDateTime::fromString(v.toString(), Qt::ISODateWithMs);
    return t.isValid() ? double(t.toMSecsSinceEpoch()) : double(QDateTime::currentMSecsSinceEpoch());
}

} // namespace

BoxDetailController::BoxDetailController(ControlClient *client, QObject *parent)
    : QObject(parent), m_client(client)
{
    auto time = [](const char *key) {
        return [k = QString::fromLatin1(key)](const QJsonObject &o) {
            return JsonTableModel::formatTime(qint64(eventTimeMs(o.value(k)) / 1000));
        };
    };
    m_events = new JsonTableModel(u"id"_qs,
                                  {{u"time"_qs, tr("Time"), time("time")},
                                   {u"severity"_qs, tr("Severity"), {}, severityColor},
                                   {u"kind"_qs, tr("Event")},
                                   {u"text"_qs, tr("Details")}},
                                  this);
    m_commands = new JsonTableModel(u"id"_qs,
                                    {{u"id"_qs, tr("Command")},
                                     {u"kind"_qs, tr("Kind")},
                                     {u"state"_qs, tr("State"), {}, stateColor},
                                     {u"created"_qs, tr("Issued"), time("created")},
                                     {u"issuedBy"_qs, tr("By")},
                                     {u"resultText"_qs, tr("Result")}},
                                    this);
    connect(client, &ControlClient::liveUpdate, this, &BoxDetailController::onUpdate);
    connect(client, &ControlClient::liveResynced, this, [this] {
        if (m_box)
            refresh();
    });
}

BoxDetailController::~BoxDetailController()
{
    setBox(0);
}

QString BoxDetailController::metricTitle(Metric m)
{
    switch (m) {
    case Cpu: return tr("CPU");
    case Memory: return tr("Memory");
    case Temperature: return tr("Temperature");
    case Buffering: return tr("Buffering");
    case ZapTime: return tr("Zap time");
    case FrameTime: return tr("Frame time p95");
    default: return {};
    }
}

QString BoxDetailController::metricUnit(Metric m)
{
    switch (m) {
    case Cpu:
    case Memory: return u"%"_qs;
    case Temperature: return u"°C"_qs;
    default: return u"ms"_qs;
    }
}

void BoxDetailController::setBox(qint64 id)
{
    if (id == m_box)
        return;
    if (m_box) {
        m_client->removeTopic(u"box:"_qs + ControlClient::boxIdText(m_box));
        m_client->removeTopic(u"commands"_qs);
    }
    m_box = id;
    ++m_generation;
    m_detail = {};
    for (auto &s : m_series)
        s.clear();
    m_events->clear();
    m_commands->clear();
    m_retrievals.clear();
    Q_EMIT boxChanged();
    Q_EMIT detailChanged();
    Q_EMIT seriesReset();
    if (!m_box)
        return;
    m_client->addTopic(u"box:"_qs + ControlClient::boxIdText(m_box));
    m_client->addTopic(u"commands"_qs);
    refresh();
}

void BoxDetailController::refresh()
{
    if (!m_box)
        return;
    const QString base = u"/api/boxes/"_qs + ControlClient::boxIdText(m_box);
    const int gen = m_generation;
    m_client->get(base, {}, this, [this, gen](const ApiReply &r) {
        if (gen != m_generation || !r.ok())
            return;
        m_detail = r.json;
        Q_EMIT detailChanged();
    });
    QUrlQuery tq;
    tq.addQueryItem(u"limit"_qs, QString::number(m_maxPoints));
    m_client->get(base + u"/telemetry"_qs, tq, this, [this, gen](const ApiReply &r) {
        if (gen != m_generation || !r.ok())
            return;
        QList<std::pair<double, QJsonObject>> samples;
        for (const QJsonValue &v : r.json.value(u"samples").toArray()) {
            const QJsonObject s = v.toObject();
            samples.append({s.value(u"time").toDouble() * 1000, s.value(u"telemetry").toObject()});
        }
        std::sort(samples.begin(), samples.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
        for (auto &s : m_series)
            s.clear();
        for (const auto &[t, tel] : samples)
            addSample(t, tel);
        Q_EMIT seriesReset();
    });
    QUrlQuery eq;
    eq.addQueryItem(u"limit"_qs, u"200"_qs);
    m_client->get(base + u"/events"_qs, eq, this, [this, gen](const ApiReply &r) {
        if (gen != m_generation || !r.ok())
            return;
        QList<QJsonObject> rows;
        for (const QJsonValue &v : r.json.value(u"events").toArray())
            rows.append(v.toObject());
        m_events->setRows(rows);
    });
    QUrlQuery cq;
    cq.addQueryItem(u"box"_qs, ControlClient::boxIdText(m_box));
    cq.addQueryItem(u"limit"_qs, u"200"_qs);
    m_client->get(u"/api/commands"_qs, cq, this, [this, gen](const ApiReply &r) {
        if (gen != m_generation || !r.ok())
            return;
        QList<QJsonObject> rows;
        for (const QJsonValue &v : r.json.value(u"items").toArray())
            rows.append(v.toObject());
        std::sort(rows.begin(), rows.end(), [](const QJsonObject &a, const QJsonObject &b) {
            return a.value(u"id").toInteger() > b.value(u"id").toInteger();
        });
        m_commands->setRows(rows);
    });
}

void BoxDetailController::addSample(double t, const QJsonObject &tel)
{
    auto put = [this, t](Metric m, double v) { m_series[m].append({t, v}); };
    if (tel.contains(u"cpu"))
        put(Cpu, tel.value(u"cpu").toDouble());
    const double mem = tel.value(u"mem").toDouble(-1), total = tel.value(u"memTotal").toDouble(0);
    if (mem >= 0 && total > 0)
        put(Memory, 100.0 * mem / total);
    if (tel.contains(u"temp"))
        put(Temperature, tel.value(u"temp").toDouble());
    // Buffering: time spent buffering since the previous sample (absent = none).
    put(Buffering, tel.value(u"bufMs").toDouble(0));
    for (const QJsonValue &z : tel.value(u"zap").toArray())
        put(ZapTime, z.toDouble());
    const QJsonObject ft = tel.value(u"ft").toObject();
    if (!ft.isEmpty())
        put(FrameTime, ft.value(u"p95").toDouble());
}

void BoxDetailController::trimSeries()
{
    for (auto &s : m_series) {
        if (s.size() > m_maxPoints)
            s.remove(0, s.size() - m_maxPoints);
    }
}

void BoxDetailController::onUpdate(const QString &topic, const QJsonObject &u)
{
    const QString kind = u.value(u"kind").toString();
    if (topic == u"commands") {
        const qint64 id = u.value(u"command").toInteger();
        if (ControlClient::parseBoxId(u.value(u"box")) != m_box)
            return;
        const QString state = u.value(u"state").toString();
        if (m_commands->rowOf(id) >= 0) {
            m_commands->upsert({{u"id"_qs, id}, {u"state"_qs, state}});
        } else {
            // Issued elsewhere (another console, a script): fetch the whole row.
            const int gen = m_generation;
            m_client->get(u"/api/commands/"_qs + QString::number(id), {}, this, [this, gen](const ApiReply &r) {
                if (gen == m_generation && r.ok())
                    m_commands->upsert(r.json, true);
            });
        }
        if (m_retrievals.contains(id)) {
            if (state == u"succeeded") {
                fetchResult(id, m_retrievals.take(id));
            } else if (state == u"failed" || state == u"expired") {
                const QString what = m_retrievals.take(id);
                // The result text says why; read it for the message.
                m_client->get(u"/api/commands/"_qs + QString::number(id), {}, this, [this, what, state](const ApiReply &r) {
                    Q_EMIT retrievalFailed(what, r.json.value(u"resultText").toString(state));
                    if (r.ok())
                        m_commands->upsert(r.json);
                });
            }
        } else if (state == u"succeeded" || state == u"failed") {
            const int gen = m_generation;
            m_client->get(u"/api/commands/"_qs + QString::number(id), {}, this, [this, gen](const ApiReply &r) {
                if (gen == m_generation && r.ok())
                    m_commands->upsert(r.json);
            });
        }
        return;
    }
    if (topic != u"box:"_qs + ControlClient::boxIdText(m_box))
        return;
    if (kind == u"telemetry") {
        const QJsonObject tel = u.value(u"telemetry").toObject();
        const double t = double(QDateTime::currentMSecsSinceEpoch());
        addSample(t, tel);
        trimSeries();
        QJsonObject latest = m_detail.value(u"latestTelemetry").toObject();
        for (auto it = tel.begin(); it != tel.end(); ++it)
            latest.insert(it.key(), it.value());
        m_detail.insert(u"latestTelemetry"_qs, latest);
        m_detail.insert(u"online"_qs, true);
        Q_EMIT sampleAppended(t);
        Q_EMIT detailChanged();
    } else if (kind == u"event") {
        QJsonObject e = u.value(u"event").toObject();
        const QString liveId = u"live-"_qs + QString::number(QDateTime::currentMSecsSinceEpoch()) + u'-'
            + QString::number(m_events->rowCount());
        QJsonObject row{{u"id"_qs, liveId},
                        {u"time"_qs, e.value(u"ts").isString() ? e.value(u"ts") : QJsonValue(QDateTime::currentSecsSinceEpoch())},
                        {u"kind"_qs, e.value(u"kind")},
                        {u"severity"_qs, e.value(u"sev").toString(u"info"_qs)},
                        {u"text"_qs, e.value(u"text")}};
        m_events->upsert(row, true);
        m_events->trim(500);
    }
}

bool BoxDetailController::retrieve(const QString &kind, const QJsonObject &args)
{
    if (!m_box)
        return false;
    if (!m_client->permissions()->canCommand()) {
        Q_EMIT retrievalFailed(kind, tr("needs the operator role"));
        return false;
    }
    QJsonObject body{{u"kind"_qs, kind}, {u"target"_qs, QJsonObject{{u"box"_qs, ControlClient::boxIdText(m_box)}}}};
    if (!args.isEmpty())
        body.insert(u"args"_qs, args);
    const int gen = m_generation;
    m_client->post(u"/api/commands"_qs, body, this, [this, kind, gen](const ApiReply &r) {
        if (gen != m_generation)
            return;
        if (!r.ok()) {
            Q_EMIT retrievalFailed(kind, r.error.toString());
            return;
        }
        const QJsonArray ids = r.json.value(u"commands").toArray();
        if (ids.isEmpty())
            return;
        const qint64 id = ids.first().toInteger();
        m_retrievals.insert(id, kind);
        m_commands->upsert({{u"id"_qs, id}, {u"kind"_qs, kind}, {u"state"_qs, u"queued"_qs},
                            {u"created"_qs, QDateTime::currentSecsSinceEpoch()}, {u"issuedBy"_qs, m_client->account()}},
                           true);
        // The box may have answered before this reply arrived (its push came first): look once.
        m_client->get(u"/api/commands/"_qs + QString::number(id), {}, this, [this, id, gen](const ApiReply &c) {
            if (gen != m_generation || !c.ok() || !m_retrievals.contains(id))
                return;
            m_commands->upsert(c.json);
            const QString state = c.json.value(u"state").toString();
            if (state == u"succeeded")
                fetchResult(id, m_retrievals.take(id));
            else if (state == u"failed" || state == u"expired")
                Q_EMIT retrievalFailed(m_retrievals.take(id), c.json.value(u"resultText").toString(state));
        });
    });
    return true;
}

bool BoxDetailController::requestScreenshot()
{
    return retrieve(u"screenshot"_qs, {});
}

bool BoxDetailController::requestLogs(int lines)
{
    return retrieve(u"collect-logs"_qs, {{u"lines"_qs, lines}});
}

void BoxDetailController::fetchResult(qint64 commandId, const QString &kind)
{
    m_client->get(u"/api/commands/"_qs + QString::number(commandId) + u"/data"_qs, {}, this,
                  [this, commandId, kind](const ApiReply &r) {
                      if (!r.ok()) {
                          Q_EMIT retrievalFailed(kind, r.error.toString());
                          return;
                      }
                      if (kind == u"screenshot") {
                          QImage image;
                          if (!image.loadFromData(r.body)) {
                              Q_EMIT retrievalFailed(kind, tr("the box sent %1 bytes that are not an image (%2)")
                                                               .arg(r.body.size())
                                                               .arg(QString::fromLatin1(r.contentType)));
                              return;
                          }
                          Q_EMIT screenshotReady(commandId, image);
                      } else {
                          Q_EMIT logsReady(commandId, QString::fromUtf8(r.body));
                      }
                  });
}

} // namespace iptv::cerberus
