#pragma once

// The operator WebSocket (port 8422): hello with a token from POST /api/login, then
// subscribe{topics} (fleet | box:<id> | commands | rollouts; each subscribe replaces the set)
// and update pushes. Binary CBOR frames and JSON text frames are both accepted and each is
// answered in kind.
//
// Pushes: box telemetry and events of subscribed boxes as they arrive, command state changes as
// they happen, and on "fleet" the presence changes (boxes online/offline), the records of boxes
// whose table-visible fields changed (kind "boxes", at most MaxBoxesPerPush a second, oldest
// change first) and the fleet summary, all coalesced to at most one update a second, so a
// reconnect storm is a few updates, not 19,000. Sessions' subscriptions are followed in
// LiveUpdates (liveupdates.h), which decides what is built and brings the updates of every node
// of a cluster; this node's presence and box records go out through it too, the summary is the
// cluster's and pushed here only.

#include "operators.h"

#include "boxes/fleet.h"

#include <protocol/message.h>

#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QSet>

QT_BEGIN_NAMESPACE
class QWebSocket;
class QWebSocketServer;
QT_END_NAMESPACE

namespace iptv::control {

class LiveUpdates;

class OperatorHub : public QObject
{
    Q_OBJECT
public:
    /// Sessions log in with `operators`' tokens; updates come from `live`, box records from
    /// `fleet`; the welcome announces `heartbeatSeconds`.
    OperatorHub(OperatorDirectory *operators, const Fleet *fleet, LiveUpdates *live, int heartbeatSeconds,
                QObject *parent = nullptr);
    ~OperatorHub() override;

    bool listen(const QHostAddress &address, quint16 port, QString *error);
    quint16 port() const;
    void close();

    /// True when some operator session here subscribes to `topic`.
    bool hasSubscribers(const QString &topic) const { return m_topicCounts.value(topic) > 0; }
    void notePresence(qint64 boxId, bool online);

    /// What an operator's fleet table shows of a box, coarse enough that telemetry noise is no
    /// change: health by 5 °C and 10 % CPU steps and exact error counts, last seen by 5 minutes.
    /// Presence is left out (it has its own push); tags change only through operator actions.
    struct ShownBox
    {
        qint64 lastSeenStep = 0;
        quint32 errors = 0;
        qint16 temperatureStep = 0;
        qint16 cpuStep = 0;
        quint16 model = 0;
        quint16 version = 0;
        quint16 currentChannel = 0;
        BoxState state = BoxState::Pending;
        ReleaseChannel releaseChannel = ReleaseChannel::Clean;
        bool operator==(const ShownBox &) const = default;
    };
    static ShownBox shown(const BoxInfo &box);
    /// The box's shown record changed: its record goes out with a coming tick (kind "boxes").
    void noteBoxChanged(qint64 boxId);
    static constexpr qsizetype MaxBoxesPerPush = 1000;
    /// Once a second: coalesced presence, changed boxes and summary updates on "fleet".
    void tick();
    int sessionCount() const { return int(m_sessions.size()); }

private:
    struct Session
    {
        QWebSocket *socket = nullptr;
        std::optional<OperatorIdentity> identity;
        QSet<QString> topics;
        bool json = false;
        quint64 lastInId = 0;
        quint64 nextOutId = 1;
    };
    void adopt(QWebSocket *socket);
    void onFrame(Session *s, const QByteArray &frame, bool json);
    void send(Session *s, const iptv::protocol::Message &m);
    void fail(Session *s, iptv::protocol::ErrorCode code, const QString &text, quint64 re, bool close);
    void setTopics(Session *s, const QSet<QString> &topics);
    void push(const QString &topic, const QCborMap &update);
    QCborMap summaryUpdate();

    OperatorDirectory *m_operators;
    const Fleet *m_fleet;
    LiveUpdates *m_live;
    int m_heartbeatSeconds;
    QWebSocketServer *m_ws = nullptr;
    QHash<QWebSocket *, Session *> m_sessions;
    QHash<QString, int> m_topicCounts;
    QList<qint64> m_cameOnline;
    QList<qint64> m_wentOffline;
    // Boxes to push, in the order they first changed; a box is in the list once however often
    // it changes, so the backlog is bounded by the fleet and each push by MaxBoxesPerPush.
    QList<qint64> m_changedOrder;
    QSet<qint64> m_changed;
};

} // namespace iptv::control
