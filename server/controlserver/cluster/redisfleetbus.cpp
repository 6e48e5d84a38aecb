#include "redisfleetbus.h"

#include <redis/redisclient.h>

#include <QCborValue>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcFleetBus, "iptv.control.bus")

using namespace Qt::StringLiterals;

namespace iptv::control {

namespace {
// Batches stay well under Redis's limits and the protocol's frame size on the way out.
constexpr qsizetype kMaxBatch = 4096;
const QString s_origin = u"from"_s;
const QString s_items = u"items"_s;
} // namespace

RedisFleetBus::RedisFleetBus(const QString &nodeId, const QString &host, quint16 port, const QString &prefix, QObject *parent)
    : FleetBus(parent)
    , m_nodeId(nodeId)
    , m_routesChannel((prefix + u":routes"_s).toUtf8())
    , m_updatesChannel((prefix + u":updates"_s).toUtf8())
    , m_redis(new redis::RedisClient(this))
{
    m_flush.setSingleShot(true);
    m_flush.setInterval(0);
    connect(&m_flush, &QTimer::timeout, this, &RedisFleetBus::flush);
    connect(m_redis, &redis::RedisClient::messageReceived, this, &RedisFleetBus::receive);
    connect(m_redis, &redis::RedisClient::connected, this, [this]() {
        qCInfo(lcFleetBus, "node %s joined the cluster bus", qPrintable(m_nodeId));
        Q_EMIT connectionChanged(true);
        flush();
    });
    connect(m_redis, &redis::RedisClient::disconnected, this, [this](const QString &why) {
        qCWarning(lcFleetBus, "cluster bus lost (%s); commands wait in the database", qPrintable(why));
        Q_EMIT connectionChanged(false);
    });
    m_redis->subscribe(m_routesChannel);
    m_redis->subscribe(m_updatesChannel);
    m_redis->open(host, port);
}

RedisFleetBus::~RedisFleetBus() = default;

bool RedisFleetBus::isConnected() const
{
    return m_redis->isConnected();
}

void RedisFleetBus::routeCommand(qint64 boxId, qint64 commandId)
{
    // This node's own sessions were served by the caller; the route is for the others.
    m_pendingRoutes.append(boxId);
    m_pendingRoutes.append(commandId);
    if (!m_flush.isActive())
        m_flush.start();
}

void RedisFleetBus::publish(const QString &topic, const QCborMap &update)
{
    m_pendingUpdates.append(topic);
    m_pendingUpdates.append(update);
    if (!m_flush.isActive())
        m_flush.start();
}

void RedisFleetBus::flush()
{
    const auto send = [this](const QByteArray &channel, QCborArray &pending) {
        for (qsizetype start = 0; start < pending.size(); start += kMaxBatch * 2) {
            const qsizetype end = std::min(pending.size(), start + kMaxBatch * 2);
            QCborArray batch;
            for (qsizetype i = start; i < end; ++i)
                batch.append(pending.at(i));
            const QByteArray message = QCborValue(QCborMap{{s_origin, m_nodeId}, {s_items, batch}}).toCbor();
            if (!m_redis->publish(channel, message)) {
                // Routes: the commands are in the database and reach the box when it reconnects.
                // Updates: live views catch up with the next one.
                const quint64 lost = quint64(pending.size() - start) / 2;
                if (m_publishFailures / 10000 != (m_publishFailures + lost) / 10000 || m_publishFailures == 0)
                    qCWarning(lcFleetBus, "cluster bus down: %llu messages not published so far", m_publishFailures + lost);
                m_publishFailures += lost;
                break;
            }
        }
        pending = QCborArray();
    };
    // Updates first: a node that starts following "commands" (a rollout's results) says so before
    // the routes of the commands whose states it waits for.
    send(m_updatesChannel, m_pendingUpdates);
    send(m_routesChannel, m_pendingRoutes);
}

void RedisFleetBus::receive(const QByteArray &channel, const QByteArray &message)
{
    const QCborMap envelope = QCborValue::fromCbor(message).toMap();
    if (envelope.value(s_origin).toString() == m_nodeId)
        return; // our own
    const QCborArray items = envelope.value(s_items).toArray();
    if (channel == m_routesChannel) {
        for (qsizetype i = 0; i + 1 < items.size(); i += 2)
            Q_EMIT commandRouted(items.at(i).toInteger(), items.at(i + 1).toInteger());
    } else if (channel == m_updatesChannel) {
        for (qsizetype i = 0; i + 1 < items.size(); i += 2)
            Q_EMIT published(items.at(i).toString(), items.at(i + 1).toMap());
    }
}

} // namespace iptv::control
