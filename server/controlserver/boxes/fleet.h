#pragma once

// The fleet in memory: one compact record per known box (approved, pending or rejected), the
// latest telemetry reduced to fixed-size fields and interned strings, lookups by id and serial,
// filters and aggregates for the operator API.
//
// Memory matters here (the target is <= 10 KB per connected box including its socket), so the
// record holds small integers and indexes into a string pool instead of strings per box, and the
// full latest telemetry body stays in the store.

#include "domain/releasechannel.h"
#include "store/store.h"

#include <QCborMap>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <map>
#include <optional>

namespace iptv::protocol {
struct Telemetry;
}

namespace iptv::control {

/// Strings shared by many boxes (models, versions, channels, tags) stored once. Boxes report
/// these, so the pool is capped: past the cap new strings read as empty rather than grow it.
class StringPool
{
public:
    StringPool() { m_strings.append(QString()); } // index 0 = empty
    quint16 intern(const QString &s);
    const QString &at(quint16 index) const { return m_strings.at(index); }
    qsizetype size() const { return m_strings.size(); } ///< index 0 included
    /// Index of `s`, or -1 when never interned (so no box can have it).
    int find(const QString &s) const { return s.isEmpty() ? 0 : m_index.value(s, -1); }

private:
    QList<QString> m_strings;
    QHash<QString, quint16> m_index;
};

struct BoxInfo
{
    qint64 id = 0;
    QString serial;
    QString mac;
    QByteArray secretHash;
    QByteArray tokenHash;
    qint64 lastSeen = 0;        ///< epoch s
    qint64 lastHistory = 0;     ///< epoch s of the last stored history sample
    quint32 telemetryCount = 0; ///< since the server started
    quint32 errorEvents = 0;    ///< reported in the latest telemetry
    quint32 bufferingEvents = 0;
    quint32 memoryUsedKb = 0;
    quint32 memoryTotalKb = 0;
    quint32 uptimeSeconds = 0;
    qint16 temperatureDeci = -10000; ///< tenths of a degree; -10000 = unknown
    qint16 cpuPermille = -1;         ///< -1 = unknown
    quint16 model = 0;
    quint16 version = 0;
    quint16 currentChannel = 0;
    quint16 playerState = 0;
    BoxState state = BoxState::Pending;
    ReleaseChannel releaseChannel = ReleaseChannel::Clean;
    bool online = false;
    bool heldElsewhere = false; ///< online through another cluster node's session (that node reports it)
    QList<quint16> tags;
};

/// What the online boxes held by one node add to the fleet summary. In a cluster every node
/// sends its share, and the summary adds up the latest share of each node, so it counts every
/// box once, with the telemetry of the node that holds it.
struct FleetShare
{
    int online = 0;
    int reporting = 0; ///< online boxes that sent telemetry
    int withErrors = 0;
    int buffering = 0;
    std::map<QString, std::map<QString, int>> versions; ///< release channel -> version -> boxes
    std::map<QString, int> models;
    std::map<QString, int> players;

    void add(const FleetShare &other);
    QCborMap toCbor() const;
    static FleetShare fromCbor(const QCborMap &map);
    bool operator==(const FleetShare &) const = default;
};

struct FleetFilter
{
    QString model;
    QString version;
    QString releaseChannel;
    QString currentChannel;
    QString tag;
    QString state;
    std::optional<bool> online;
    QString text; ///< substring of serial, MAC or id
    QList<qint64> ids;

    bool isEmpty() const;
    /// Reads model, version, channel (release), current, tag, state, online, q, ids from a JSON
    /// object; false with *error on a bad value.
    static std::optional<FleetFilter> fromJson(const QJsonObject &o, QString *error);
};

class Fleet
{
public:
    /// Replaces the fleet with the store's boxes (at start).
    void load(const QList<BoxRow> &rows);
    BoxInfo *add(const BoxRow &row);

    BoxInfo *byId(qint64 id);
    const BoxInfo *byId(qint64 id) const;
    BoxInfo *bySerial(const QString &serial);
    qsizetype size() const { return m_boxes.size(); }
    int onlineCount() const { return m_online; }
    /// `elsewhere`: another cluster node holds the box's session (its share counts the box).
    void setOnline(BoxInfo *box, bool online, bool elsewhere = false);

    /// Applies a telemetry sample to the compact record.
    void applyTelemetry(BoxInfo *box, const iptv::protocol::Telemetry &t, qint64 now);
    void setIdentity(BoxInfo *box, const QString &mac, const QString &model, const QString &version,
                     const QString &channel);
    void setTags(BoxInfo *box, const QStringList &tags);
    QStringList tags(const BoxInfo &box) const;
    const QString &string(quint16 index) const { return m_pool.at(index); }

    /// Whether the box has every attribute the filter asks for; `ids` is left to select() and list().
    bool matches(const BoxInfo &box, const FleetFilter &filter) const;
    /// Ids of matching boxes in id order.
    QList<qint64> select(const FleetFilter &filter) const;
    /// A page of matching boxes as JSON; *total gets the match count.
    QList<QJsonObject> list(const FleetFilter &filter, int offset, int limit, qsizetype *total) const;
    QJsonObject boxJson(const BoxInfo &box) const;
    /// Online count, pending count, versions per release channel, player states, error rates.
    QJsonObject summary() const { return summary(share(false)); }
    /// The summary with the online part from `online` (this node's share and the other nodes').
    QJsonObject summary(const FleetShare &online) const;
    /// The online boxes' part of the summary; with `heldHere`, only the boxes with a session here.
    FleetShare share(bool heldHere) const;

private:
    QList<BoxInfo *> m_boxes; ///< id order
    QHash<qint64, BoxInfo *> m_byId;
    QHash<QString, BoxInfo *> m_bySerial;
    StringPool m_pool;
    int m_online = 0;

public:
    Fleet() = default;
    ~Fleet();
    Fleet(const Fleet &) = delete;
    Fleet &operator=(const Fleet &) = delete;
};

} // namespace iptv::control
