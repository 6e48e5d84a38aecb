#include "fleetcontroller.h"

#include <QJsonArray>
#include <QLoggingCategory>

#include <algorithm>

Q_LOGGING_CATEGORY(lcFleet, "iptv.cerberus.fleet")

namespace iptv::cerberus {

FleetController::FleetController(ControlClient *client, FleetModel *model, QObject *parent)
    : QObject(parent), m_client(client), m_model(model)
{
    m_sweep.setInterval(3000);
    connect(&m_sweep, &QTimer::timeout, this, [this] {
        if (m_loading || m_total == 0)
            return;
        if (m_sweepOffset >= m_total)
            m_sweepOffset = 0;
        fetchPage(m_sweepOffset, false);
        m_sweepOffset += m_pageSize;
    });
    connect(client, &ControlClient::liveUpdate, this, &FleetController::onUpdate);
    connect(client, &ControlClient::liveResynced, this, [this] {
        // Possibly another server now: polling at full speed until it says it pushes boxes.
        if (m_serverPushesBoxes) {
            m_serverPushesBoxes = false;
            applySweepInterval();
        }
        // Pushes were missed while the connection was down: sweep everything again soon.
        if (!m_loading && m_subscribed) {
            m_sweepOffset = 0;
            fetchPage(0, false);
        }
    });
}

FleetController::~FleetController()
{
    stop();
}

void FleetController::setSweepInterval(int ms)
{
    m_sweepMs = std::max(0, ms);
    applySweepInterval();
}

void FleetController::applySweepInterval()
{
    if (m_sweepMs <= 0) {
        m_sweep.stop();
        return;
    }
    m_sweep.setInterval(m_serverPushesBoxes ? m_sweepMs * 10 : m_sweepMs); // restarts a running timer
    if (m_subscribed && !m_sweep.isActive())
        m_sweep.start();
}

void FleetController::start()
{
    ++m_generation;
    m_model->clear();
    m_total = 0;
    m_sweepOffset = 0;
    m_loading = true;
    m_loadClock.start();
    Q_EMIT loadingChanged();
    if (!m_subscribed) {
        m_client->addTopic(u"fleet"_qs);
        m_subscribed = true;
    }
    m_client->get(u"/api/fleet/summary"_qs, {}, this, [this](const ApiReply &r) {
        if (r.ok())
            Q_EMIT summaryReceived(r.json);
    });
    fetchPage(0, true);
    if (m_sweepMs > 0)
        m_sweep.start();
}

void FleetController::stop()
{
    ++m_generation;
    m_sweep.stop();
    if (m_subscribed) {
        m_client->removeTopic(u"fleet"_qs);
        m_subscribed = false;
    }
    if (m_loading) {
        m_loading = false;
        Q_EMIT loadingChanged();
    }
}

void FleetController::fetchPage(int offset, bool initial)
{
    QUrlQuery q;
    q.addQueryItem(u"offset"_qs, QString::number(offset));
    q.addQueryItem(u"limit"_qs, QString::number(m_pageSize));
    const int generation = m_generation;
    m_client->get(u"/api/boxes"_qs, q, this, [this, offset, initial, generation](const ApiReply &r) {
        if (generation != m_generation)
            return;
        if (!r.ok()) {
            if (initial) {
                m_loading = false;
                Q_EMIT loadingChanged();
            }
            return;
        }
        const QJsonArray items = r.json.value(u"items").toArray();
        QList<QJsonObject> boxes;
        boxes.reserve(items.size());
        for (const QJsonValue &v : items)
            boxes.append(v.toObject());
        m_model->applyBoxes(boxes);
        m_total = r.json.value(u"total").toInt(m_model->rowCount());
        const int next = offset + int(items.size());
        if (initial) {
            Q_EMIT progress(m_model->rowCount(), m_total);
            if (next < m_total && !items.isEmpty()) {
                fetchPage(next, true);
            } else {
                m_loading = false;
                qCInfo(lcFleet).noquote() << "fleet loaded:" << m_model->rowCount() << "boxes in" << m_loadClock.elapsed() << "ms";
                Q_EMIT loadingChanged();
                Q_EMIT loaded();
            }
        }
    });
}

void FleetController::onUpdate(const QString &topic, const QJsonObject &u)
{
    const QString kind = u.value(u"kind").toString();
    if (topic == u"fleet") {
        if (kind == u"summary") {
            Q_EMIT summaryReceived(u.value(u"summary").toObject());
        } else if (kind == u"presence") {
            const QJsonArray online = u.value(u"online").toArray();
            const QJsonArray offline = u.value(u"offline").toArray();
            for (const QJsonValue &v : online)
                m_model->queuePresence(ControlClient::parseBoxId(v), true);
            QList<qint64> gone;
            for (const QJsonValue &v : offline) {
                const qint64 id = ControlClient::parseBoxId(v);
                gone.append(id);
                m_model->queuePresence(id, false);
            }
            const int offlineCount = u.value(u"offlineCount").toInt(int(offline.size()));
            if (offlineCount > 0)
                Q_EMIT boxesWentOffline(gone, offlineCount);
            // The server names at most 1000 boxes per push; beyond that only counts arrive, so a
            // storm is caught up by sweeping the list again.
            if (u.value(u"onlineCount").toInt() > online.size() || offlineCount > offline.size()) {
                m_sweepOffset = 0;
                if (!m_loading)
                    fetchPage(0, false);
            }
            // A box we have never listed (newly enrolled) appears with the next sweep.
        } else if (kind == u"boxes") {
            // The server pushes changed box records (an empty list right after subscribing says
            // so): the sweep only has to catch what is not pushed, so it slows down.
            if (!m_serverPushesBoxes) {
                m_serverPushesBoxes = true;
                applySweepInterval();
            }
            for (const QJsonValue &v : u.value(u"items").toArray())
                m_model->queueBox(v.toObject());
        }
        return;
    }
    if (topic.startsWith(u"box:") && kind == u"telemetry")
        m_model->queueTelemetry(ControlClient::parseBoxId(u.value(u"box")), u.value(u"telemetry").toObject());
}

} // namespace iptv::cerberus
