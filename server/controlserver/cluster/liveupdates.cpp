#include "liveupdates.h"

#include "fleetbus.h"

#include <QCborArray>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcLive, "iptv.control.live")

using namespace Qt::StringLiterals;

namespace iptv::control {

namespace {
const QString s_topic = u"cluster:live"_s; // interest and fleet shares between nodes
const QString s_fleet = u"fleet"_s;
bool isBoxTopic(const QString &topic)
{
    return topic.startsWith(u"box:");
}
} // namespace

LiveUpdates::LiveUpdates(Fleet *fleet, QObject *parent)
    : QObject(parent)
    , m_fleet(fleet)
{
    m_clock.start();
    m_announce.setSingleShot(true);
    m_announce.setInterval(0);
    connect(&m_announce, &QTimer::timeout, this, [this] { announce(false); });
}

void LiveUpdates::attach(FleetBus *bus)
{
    if (m_bus)
        m_bus->disconnect(this);
    m_bus = bus;
    m_nodeId = bus->nodeId();
    connect(bus, &FleetBus::published, this, &LiveUpdates::receive);
    if (isClustered())
        scheduleAnnounce();
}

bool LiveUpdates::isClustered() const
{
    return m_bus && m_bus->isShared();
}

void LiveUpdates::follow(const QString &topic)
{
    if (++m_local[topic] > 1)
        return;
    m_localBoxTopics += isBoxTopic(topic);
    countFollowers();
    if (isClustered())
        scheduleAnnounce();
}

void LiveUpdates::unfollow(const QString &topic)
{
    const auto it = m_local.find(topic);
    if (it == m_local.end() || --*it > 0)
        return;
    m_local.erase(it);
    m_localBoxTopics -= isBoxTopic(topic);
    countFollowers();
    if (isClustered())
        scheduleAnnounce();
}

void LiveUpdates::countFollowers()
{
    m_fleetFollowers = m_local.value(s_fleet) + m_remote.value(s_fleet);
    m_boxFollowers = m_localBoxTopics + m_remoteBoxTopics;
}

void LiveUpdates::publish(const QString &topic, const QCborMap &update)
{
    if (m_local.value(topic) > 0)
        Q_EMIT updated(topic, update);
    if (m_bus && m_remote.value(topic) > 0)
        m_bus->publish(topic, update);
}

void LiveUpdates::scheduleAnnounce()
{
    if (!m_announce.isActive())
        m_announce.start();
}

void LiveUpdates::announce(bool withShare)
{
    if (!isClustered())
        return;
    m_announce.stop();
    QCborArray topics;
    for (auto it = m_local.cbegin(); it != m_local.cend(); ++it)
        topics.append(it.key());
    QCborMap message{{u"node"_s, m_nodeId}, {u"topics"_s, topics}};
    if (withShare) {
        message.insert(u"share"_s, m_own.toCbor());
        m_sentShare = m_own;
        m_shareDue = false;
    }
    m_lastHeartbeatMs = m_clock.elapsed();
    m_bus->publish(s_topic, message);
}

void LiveUpdates::receive(const QString &topic, const QCborMap &message)
{
    if (topic != s_topic) {
        // Another node's update: it sent it because this node follows the topic, unless that
        // changed on the way.
        if (m_local.value(topic) > 0)
            Q_EMIT updated(topic, message);
        return;
    }
    const QString node = message.value(u"node"_s).toString();
    if (node.isEmpty() || node == m_nodeId)
        return;
    const bool known = m_peers.contains(node);
    Peer &peer = m_peers[node];
    peer.heardMs = m_clock.elapsed();
    if (!known) {
        qCInfo(lcLive, "node %s follows live updates with this one", qPrintable(node));
        // A node that just started (or came back) learns this node's interest and share now,
        // not at the next heartbeat.
        scheduleAnnounce();
        m_shareDue = true;
    }
    if (const QCborValue topics = message.value(u"topics"_s); topics.isArray()) {
        QSet<QString> set;
        for (const QCborValue &t : topics.toArray())
            set.insert(t.toString());
        setPeerTopics(peer, set);
    }
    if (const QCborValue share = message.value(u"share"_s); share.isMap()) {
        FleetShare s = FleetShare::fromCbor(share.toMap());
        if (!peer.hasShare || !(s == peer.share)) {
            peer.share = std::move(s);
            peer.hasShare = true;
            m_peersChanged = true;
        }
    }
}

void LiveUpdates::setPeerTopics(Peer &peer, const QSet<QString> &topics)
{
    for (const QString &t : std::as_const(peer.topics)) {
        if (topics.contains(t))
            continue;
        if (--m_remote[t] <= 0)
            m_remote.remove(t);
        m_remoteBoxTopics -= isBoxTopic(t);
    }
    for (const QString &t : topics) {
        if (peer.topics.contains(t))
            continue;
        ++m_remote[t];
        m_remoteBoxTopics += isBoxTopic(t);
        if (t == s_fleet)
            m_shareDue = true; // someone there starts watching the fleet: it needs this node's share
    }
    peer.topics = topics;
    countFollowers();
}

void LiveUpdates::dropPeer(const QString &node)
{
    const auto it = m_peers.find(node);
    if (it == m_peers.end())
        return;
    setPeerTopics(*it, {});
    if (it->hasShare)
        m_peersChanged = true;
    m_peers.erase(it);
}

const FleetShare &LiveUpdates::ownShare()
{
    if (m_ownStale) {
        m_own = m_fleet->share(true);
        m_ownStale = false;
    }
    return m_own;
}

QJsonObject LiveUpdates::summary()
{
    FleetShare all = ownShare();
    for (const Peer &p : std::as_const(m_peers)) {
        if (p.hasShare)
            all.add(p.share);
    }
    return m_fleet->summary(all);
}

bool LiveUpdates::takeSummaryChanged()
{
    const bool changed = m_fleetChanged || m_peersChanged;
    m_fleetChanged = m_peersChanged = false;
    return changed;
}

void LiveUpdates::tick()
{
    if (!isClustered())
        return;
    const qint64 now = m_clock.elapsed();
    const qint64 expire = 4 * m_heartbeatMs;
    QStringList silent;
    for (auto it = m_peers.cbegin(); it != m_peers.cend(); ++it) {
        if (now - it->heardMs > expire)
            silent.append(it.key());
    }
    for (const QString &node : std::as_const(silent)) {
        qCInfo(lcLive, "node %s not heard from for %lld ms: its live interest and fleet share are dropped",
               qPrintable(node), expire);
        dropPeer(node);
    }
    // The share goes with every heartbeat (GET /api/fleet/summary counts the whole cluster too),
    // and within a second of a change while anyone watches the fleet.
    const bool heartbeat = now - m_lastHeartbeatMs >= m_heartbeatMs;
    if (heartbeat) {
        ownShare();
        announce(true);
    } else if (watchesFleet() && (m_shareDue || !(ownShare() == m_sentShare))) {
        announce(true);
    }
}

} // namespace iptv::control
