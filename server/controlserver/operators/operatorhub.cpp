#include "operatorhub.h"

#include "cluster/liveupdates.h"
#include "domain/credentials.h"

#include <QCborArray>
#include <QDateTime>
#include <QLoggingCategory>
#include <QWebSocket>
#include <QWebSocketServer>

Q_LOGGING_CATEGORY(lcOperatorWs, "iptv.control.operatorws")

namespace iptv::control {

using namespace iptv::protocol;

namespace {
constexpr qsizetype MaxPresenceIds = 1000; // per coalesced update; beyond it only counts
constexpr qsizetype MaxTopics = 256;
}

OperatorHub::OperatorHub(OperatorDirectory *operators, const Fleet *fleet, LiveUpdates *live, int heartbeatSeconds,
                         QObject *parent)
    : QObject(parent), m_operators(operators), m_fleet(fleet), m_live(live), m_heartbeatSeconds(heartbeatSeconds)
{
    connect(m_live, &LiveUpdates::updated, this, &OperatorHub::push);
}

OperatorHub::~OperatorHub()
{
    close();
}

bool OperatorHub::listen(const QHostAddress &address, quint16 port, QString *error)
{
    m_ws = new QWebSocketServer(QStringLiteral("controlserver-operators"), QWebSocketServer::NonSecureMode, this);
    if (!m_ws->listen(address, port)) {
        *error = QStringLiteral("cannot listen for operator WebSockets on port %1: %2").arg(port).arg(m_ws->errorString());
        return false;
    }
    connect(m_ws, &QWebSocketServer::newConnection, this, [this] {
        while (m_ws->hasPendingConnections())
            adopt(m_ws->nextPendingConnection());
    });
    return true;
}

quint16 OperatorHub::port() const
{
    return m_ws ? m_ws->serverPort() : 0;
}

void OperatorHub::close()
{
    const auto sessions = m_sessions;
    m_sessions.clear();
    for (Session *s : sessions) {
        setTopics(s, {});
        s->socket->disconnect(this);
        s->socket->close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("server stopping"));
        s->socket->deleteLater();
        delete s;
    }
    if (m_ws)
        m_ws->close();
}

void OperatorHub::adopt(QWebSocket *socket)
{
    if (!socket)
        return;
    socket->setParent(this);
    const DecodeLimits limits;
    socket->setMaxAllowedIncomingFrameSize(quint64(limits.maxFrameBytes));
    socket->setMaxAllowedIncomingMessageSize(quint64(limits.maxFrameBytes));
    auto *s = new Session;
    s->socket = socket;
    m_sessions.insert(socket, s);
    connect(socket, &QWebSocket::binaryMessageReceived, this, [this, s](const QByteArray &f) { onFrame(s, f, false); });
    connect(socket, &QWebSocket::textMessageReceived, this, [this, s](const QString &t) { onFrame(s, t.toUtf8(), true); });
    connect(socket, &QWebSocket::disconnected, this, [this, socket] {
        Session *gone = m_sessions.take(socket);
        socket->deleteLater();
        if (!gone)
            return;
        setTopics(gone, {});
        delete gone;
    });
}

void OperatorHub::send(Session *s, const Message &m)
{
    Message out = m;
    out.id = s->nextOutId++;
    if (s->json)
        s->socket->sendTextMessage(QString::fromUtf8(encodeJson(out)));
    else
        s->socket->sendBinaryMessage(encode(out));
}

void OperatorHub::fail(Session *s, ErrorCode code, const QString &text, quint64 re, bool close)
{
    qCInfo(lcOperatorWs).noquote() << (s->identity ? s->identity->account : s->socket->peerAddress().toString())
                                   << errorCodeName(code) << text;
    send(s, errorMessage(code, text, re));
    if (close)
        s->socket->close(QWebSocketProtocol::CloseCodePolicyViolated, text.left(120));
}

void OperatorHub::onFrame(Session *s, const QByteArray &frame, bool json)
{
    s->json = json; // answered in kind
    DecodeResult d = json ? decodeJson(frame) : decode(frame);
    if (!d.ok()) {
        fail(s, d.error, d.errorText, d.message.id, !s->identity);
        return;
    }
    const Message &m = d.message;
    if (m.id) { // 0 or absent: no sequence number, nothing to replay-check
        if (m.id <= s->lastInId) {
            fail(s, ErrorCode::Replay, QStringLiteral("message id %1 is not above %2").arg(m.id).arg(s->lastInId), m.id,
                 !s->identity);
            return;
        }
        s->lastInId = m.id;
    }
    QString error;
    if (!s->identity) {
        if (m.type != MessageType::Hello) {
            fail(s, ErrorCode::Unauthorized, QStringLiteral("say hello with a token first"), m.id, true);
            return;
        }
        const auto hello = Hello::fromBody(m.body, &error);
        if (!hello) {
            fail(s, ErrorCode::BadRequest, error, m.id, true);
            return;
        }
        const int version = negotiateVersion(hello->minVersion, hello->maxVersion);
        if (version < 0) {
            fail(s, ErrorCode::UnsupportedVersion, QStringLiteral("no common protocol version"), m.id, true);
            return;
        }
        // Operator tokens are base64url text; the protocol reads a JSON string as base64url bytes.
        const QString token = toBase64Url(hello->token);
        const auto id = m_operators->authenticate(token, QDateTime::currentSecsSinceEpoch());
        if (!id) {
            fail(s, ErrorCode::Unauthorized, QStringLiteral("no valid operator token (POST /api/login)"), m.id, true);
            return;
        }
        s->identity = id;
        Welcome w;
        w.version = version;
        w.state = roleName(id->role);
        w.heartbeatSeconds = m_heartbeatSeconds;
        w.serverTime = QDateTime::currentDateTimeUtc();
        send(s, Message(MessageType::Welcome, 0, w.toBody(), m.id));
        qCInfo(lcOperatorWs).noquote() << id->account << "connected";
        return;
    }
    switch (m.type) {
    case MessageType::Ping:
        send(s, Message(MessageType::Pong, 0, {}, m.id));
        return;
    case MessageType::Pong:
        return;
    case MessageType::Subscribe: {
        const QCborValue topicsValue = m.body.value(u"topics"_qs);
        if (!topicsValue.isArray()) {
            fail(s, ErrorCode::BadRequest, QStringLiteral("topics: expected an array of strings"), m.id, false);
            return;
        }
        QSet<QString> topics;
        for (const QCborValue &v : topicsValue.toArray()) {
            const QString t = v.toString();
            const bool ok = t == u"fleet" || t == u"commands" || t == u"rollouts"
                || (t.startsWith(u"box:") && parseBoxId(QStringView(t).mid(4)) > 0);
            if (!ok) {
                fail(s, ErrorCode::BadRequest, QStringLiteral("unknown topic \"%1\" (fleet, box:<id>, commands, rollouts)").arg(t.left(64)),
                     m.id, false);
                return;
            }
            // One spelling per box, so "box:12" and "box:b-12" are the same subscription.
            topics.insert(t.startsWith(u"box:") ? u"box:"_qs + boxIdText(parseBoxId(QStringView(t).mid(4))) : t);
        }
        if (topics.size() > MaxTopics) {
            fail(s, ErrorCode::TooLarge, QStringLiteral("at most %1 topics").arg(MaxTopics), m.id, false);
            return;
        }
        setTopics(s, topics);
        // Sorted: a set's order changes from run to run, and the answer should not.
        QStringList sorted(topics.cbegin(), topics.cend());
        sorted.sort();
        QCborArray list;
        for (const QString &t : std::as_const(sorted))
            list.append(t);
        send(s, Message(MessageType::Ack, 0, {{u"topics"_qs, list}}, m.id));
        if (topics.contains(u"fleet"_qs)) {
            send(s, Message(MessageType::Update, 0, summaryUpdate()));
            // Empty: says that changed box records will be pushed, so the console can stop
            // re-reading the list to learn them.
            send(s, Message(MessageType::Update, 0,
                            {{u"topic"_qs, u"fleet"_qs}, {u"kind"_qs, u"boxes"_qs}, {u"items"_qs, QCborArray()}, {u"more"_qs, 0}}));
        }
        return;
    }
    case MessageType::Hello:
        fail(s, ErrorCode::Conflict, QStringLiteral("hello already done"), m.id, false);
        return;
    case MessageType::Unknown:
        fail(s, ErrorCode::UnknownType, QStringLiteral("unknown type \"%1\"").arg(m.name.left(64)), m.id, false);
        return;
    default:
        fail(s, ErrorCode::BadRequest,
             QStringLiteral("\"%1\" is not an operator message here; commands and changes go through the HTTP API").arg(m.name),
             m.id, false);
        return;
    }
}

void OperatorHub::setTopics(Session *s, const QSet<QString> &topics)
{
    for (const QString &t : std::as_const(s->topics)) {
        if (--m_topicCounts[t] <= 0)
            m_topicCounts.remove(t);
        m_live->unfollow(t);
    }
    s->topics = topics;
    for (const QString &t : topics) {
        ++m_topicCounts[t];
        m_live->follow(t);
    }
}

void OperatorHub::push(const QString &topic, const QCborMap &update)
{
    if (!hasSubscribers(topic))
        return;
    const Message m(MessageType::Update, 0, update);
    for (Session *s : std::as_const(m_sessions)) {
        if (s->identity && s->topics.contains(topic))
            send(s, m);
    }
}

void OperatorHub::notePresence(qint64 boxId, bool online)
{
    m_live->noteFleetChanged();
    if (!m_live->watchesFleet())
        return;
    QList<qint64> &list = online ? m_cameOnline : m_wentOffline;
    if (list.size() < MaxPresenceIds)
        list.append(boxId);
    else
        list.append(-1); // counted, not named
}

OperatorHub::ShownBox OperatorHub::shown(const BoxInfo &b)
{
    ShownBox k;
    k.lastSeenStep = b.lastSeen / 300;
    k.errors = b.errorEvents;
    k.temperatureStep = b.temperatureDeci <= -10000 ? qint16(-10000) : qint16(b.temperatureDeci / 50);
    k.cpuStep = b.cpuPermille < 0 ? qint16(-1) : qint16(b.cpuPermille / 100);
    k.model = b.model;
    k.version = b.version;
    k.currentChannel = b.currentChannel;
    k.state = b.state;
    k.releaseChannel = b.releaseChannel;
    return k;
}

void OperatorHub::noteBoxChanged(qint64 boxId)
{
    if (!m_live->watchesFleet())
        return;
    if (m_changed.contains(boxId))
        return;
    m_changed.insert(boxId);
    m_changedOrder.append(boxId);
}

QCborMap OperatorHub::summaryUpdate()
{
    return {{u"topic"_qs, u"fleet"_qs}, {u"kind"_qs, u"summary"_qs},
            {u"summary"_qs, QCborMap::fromJsonObject(m_live->summary())}};
}

void OperatorHub::tick()
{
    // Presence and box records of the boxes held here go to every node that watches the fleet;
    // the summary (over the whole cluster already) only to the sessions here.
    if (!m_live->watchesFleet()) {
        m_cameOnline.clear();
        m_wentOffline.clear();
        m_changedOrder.clear();
        m_changed.clear();
        return;
    }
    if (!m_cameOnline.isEmpty() || !m_wentOffline.isEmpty()) {
        auto ids = [](const QList<qint64> &list) {
            QCborArray a;
            for (qint64 id : list) {
                if (id > 0)
                    a.append(boxIdText(id));
            }
            return a;
        };
        m_live->publish(u"fleet"_qs, {{u"topic"_qs, u"fleet"_qs}, {u"kind"_qs, u"presence"_qs},
                                     {u"online"_qs, ids(m_cameOnline)}, {u"offline"_qs, ids(m_wentOffline)},
                                     {u"onlineCount"_qs, qint64(m_cameOnline.size())},
                                     {u"offlineCount"_qs, qint64(m_wentOffline.size())}});
        m_cameOnline.clear();
        m_wentOffline.clear();
    }
    if (!m_changedOrder.isEmpty()) {
        // The records as they are now (a box that changed five times goes once); the same shape
        // as the items of GET /api/boxes, so the console merges them like a page of the list.
        const qsizetype n = std::min(m_changedOrder.size(), MaxBoxesPerPush);
        const Fleet &fleet = *m_fleet;
        QCborArray items;
        for (qsizetype i = 0; i < n; ++i) {
            const qint64 id = m_changedOrder.at(i);
            m_changed.remove(id);
            if (const BoxInfo *b = fleet.byId(id))
                items.append(QCborMap::fromJsonObject(fleet.boxJson(*b)));
        }
        m_changedOrder.remove(0, n);
        if (!items.isEmpty())
            m_live->publish(u"fleet"_qs, {{u"topic"_qs, u"fleet"_qs}, {u"kind"_qs, u"boxes"_qs}, {u"items"_qs, items},
                                         {u"more"_qs, qint64(m_changedOrder.size())}});
    }
    if (m_live->takeSummaryChanged() && hasSubscribers(u"fleet"_qs))
        push(u"fleet"_qs, summaryUpdate());
}

} // namespace iptv::control
