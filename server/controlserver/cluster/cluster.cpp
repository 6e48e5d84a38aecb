#include "cluster.h"

#include "fleetbus.h"

#include "boxes/fleet.h"
#include "store/store.h"

#include <core/configfile.h>

#include <QCborArray>
#include <QCborMap>
#include <QHostInfo>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcCluster, "iptv.control.cluster")

using namespace Qt::StringLiterals;

namespace iptv::control {

namespace {
const QString s_topic = u"cluster:presence"_s;
} // namespace

void addClusterOptions(QCommandLineParser *parser)
{
    parser->addOptions({
        {u"redis"_s, u"Redis host[:port] shared by the nodes of a cluster (with --db postgresql://...)."_s, u"host:port"_s},
        {u"node"_s, u"This node's name in the cluster (default: host name and process id)."_s, u"name"_s},
        {u"cluster-prefix"_s, u"Prefix of the cluster's Redis channels (default iptv)."_s, u"prefix"_s},
    });
}

bool loadClusterConfig(const QCommandLineParser &parser, ClusterConfig *config, QString *error)
{
    QString redis, node, prefix;
    if (parser.isSet(u"config"_s)) {
        iptv::config::IniFile file;
        if (!file.open(parser.value(u"config"_s), error))
            return false;
        redis = file.value("cluster/redis").toString();
        node = file.value("cluster/node").toString();
        prefix = file.value("cluster/prefix").toString();
    }
    if (parser.isSet(u"redis"_s))
        redis = parser.value(u"redis"_s);
    if (parser.isSet(u"node"_s))
        node = parser.value(u"node"_s);
    if (parser.isSet(u"cluster-prefix"_s))
        prefix = parser.value(u"cluster-prefix"_s);
    if (!redis.isEmpty()) {
        const qsizetype colon = redis.lastIndexOf(u':');
        config->redisHost = colon > 0 ? redis.left(colon) : redis;
        if (colon > 0) {
            bool ok = false;
            const uint port = redis.mid(colon + 1).toUInt(&ok);
            if (!ok || port == 0 || port > 65535) {
                *error = u"--redis: not host:port: %1"_s.arg(redis);
                return false;
            }
            config->redisPort = quint16(port);
        }
    }
    config->nodeId = node.isEmpty() ? u"%1-%2"_s.arg(QHostInfo::localHostName()).arg(QCoreApplication::applicationPid()) : node;
    if (!prefix.isEmpty())
        config->prefix = prefix;
    return true;
}

ClusterPresence::ClusterPresence(Fleet *fleet, ControlStore *store, FleetBus *bus, const QString &nodeId, QObject *parent)
    : QObject(parent)
    , m_fleet(fleet)
    , m_store(store)
    , m_bus(bus)
    , m_nodeId(nodeId)
{
    connect(bus, &FleetBus::published, this, &ClusterPresence::apply);
    m_flush.setInterval(500);
    connect(&m_flush, &QTimer::timeout, this, &ClusterPresence::flush);
    m_flush.start();
}

void ClusterPresence::noteConnected(qint64 id, bool approved)
{
    if (!approved)
        return;
    m_local.insert(id);
    m_remote.remove(id);
    m_cameOnline.append(id);
    m_wentOffline.removeAll(id);
}

void ClusterPresence::noteDisconnected(qint64 id)
{
    if (!m_local.remove(id))
        return;
    m_wentOffline.append(id);
    m_cameOnline.removeAll(id);
}

void ClusterPresence::flush()
{
    if (m_cameOnline.isEmpty() && m_wentOffline.isEmpty())
        return;
    const auto array = [](const QList<qint64> &ids) {
        QCborArray a;
        for (qint64 id : ids)
            a.append(id);
        return a;
    };
    m_bus->publish(s_topic, {{u"node"_s, m_nodeId}, {u"online"_s, array(m_cameOnline)}, {u"offline"_s, array(m_wentOffline)}});
    m_cameOnline.clear();
    m_wentOffline.clear();
}

void ClusterPresence::apply(const QString &topic, const QCborMap &update)
{
    if (topic != s_topic)
        return;
    const QString node = update.value(u"node"_s).toString();
    if (node == m_nodeId)
        return;
    Fleet &fleet = *m_fleet;
    const QCborArray online = update.value(u"online"_s).toArray();
    // Boxes enrolled on another node come from the shared store, all of this update's in a few
    // queries: a fleet powering on is thousands of them, one query each stalled the node.
    QList<qint64> unknown;
    for (const QCborValue &v : online) {
        const qint64 id = v.toInteger();
        if (!m_local.contains(id) && !fleet.byId(id))
            unknown.append(id);
    }
    qsizetype learned = 0;
    if (!unknown.isEmpty()) {
        QString error;
        const QList<BoxRow> rows = m_store->loadBoxes(unknown, &error);
        if (!error.isEmpty())
            qCWarning(lcCluster).noquote() << "boxes of node" << node << "not loaded:" << error;
        for (const BoxRow &row : rows) {
            if (!fleet.byId(row.id))
                fleet.add(row);
        }
        learned = rows.size();
    }
    for (const QCborValue &v : online) {
        const qint64 id = v.toInteger();
        if (m_local.contains(id))
            continue; // it moved here since; this node's word wins
        BoxInfo *box = fleet.byId(id);
        if (!box)
            continue; // not in the shared store: nothing to show for it
        m_remote.insert(id, node);
        fleet.setOnline(box, true, true);
    }
    for (const QCborValue &v : update.value(u"offline"_s).toArray()) {
        const qint64 id = v.toInteger();
        if (m_local.contains(id) || m_remote.value(id) != node)
            continue; // held here, or already reported by the node that holds it now
        m_remote.remove(id);
        if (BoxInfo *box = fleet.byId(id))
            fleet.setOnline(box, false);
    }
    if (learned)
        qCInfo(lcCluster, "learned %lld boxes enrolled on node %s", qint64(learned), qPrintable(node));
}

} // namespace iptv::control
