#pragma once

// A tiny control server for the box-side tests: it speaks the real protocol (libs/protocol) over a
// real QWebSocketServer, with switches for the faults a box must survive (refused tokens,
// overload, silence, unacknowledged telemetry). Not the real server: server/controlserver is.

#include <protocol/message.h>

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <QRandomGenerator>
#include <QUrl>
#include <QWebSocket>
#include <QWebSocketServer>

#include <map>

class FakeControlServer : public QObject
{
    Q_OBJECT

public:
    struct HelloSeen
    {
        QString serial;
        bool withToken = false;
        bool withSecret = false;
        qint64 atMs = 0;
        int telemetryWindow = 0;
    };
    struct Session
    {
        QWebSocket *socket = nullptr;
        QString serial;
        quint64 nextId = 1;
        quint64 lastPeerId = 0;
        int telemetrySeen = 0;
        bool online = false;
    };

    bool autoApprove = true;
    bool ackTelemetry = true;
    int ackEvery = 1;          ///< ack only every n-th telemetry (cumulative acks, version 2)
    int welcomeVersion = iptv::protocol::kProtocolVersion;
    bool silent = false;       ///< answer nothing, not even pings
    int overloadHellos = 0;    ///< refuse this many hellos with Overloaded
    int retryAfterSeconds = 1;
    int heartbeatSeconds = 30;
    int telemetrySeconds = 60;

    QList<HelloSeen> hellos;
    QList<iptv::protocol::Message> received; ///< everything boxes sent, in order
    QList<QString> replayErrors;             ///< serials that sent a non-increasing id
    QHash<QString, QByteArray> secrets;      ///< serial -> enrolled secret
    QHash<QByteArray, QString> tokens;       ///< valid token -> serial
    std::map<QWebSocket *, Session> sessions;
    QElapsedTimer clock;

    explicit FakeControlServer(QObject *parent = nullptr)
        : QObject(parent), m_server(QStringLiteral("fake"), QWebSocketServer::NonSecureMode)
    {
        clock.start();
        connect(&m_server, &QWebSocketServer::newConnection, this, &FakeControlServer::accept);
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    QUrl url() const { return QUrl(QStringLiteral("ws://127.0.0.1:%1/box").arg(m_server.serverPort())); }
    int onlineCount() const
    {
        int n = 0;
        for (const auto &[socket, s] : sessions)
            n += s.online ? 1 : 0;
        return n;
    }
    int count(iptv::protocol::MessageType type) const
    {
        int n = 0;
        for (const auto &m : received)
            n += m.type == type ? 1 : 0;
        return n;
    }
    QList<iptv::protocol::Message> ofType(iptv::protocol::MessageType type) const
    {
        QList<iptv::protocol::Message> out;
        for (const auto &m : received) {
            if (m.type == type)
                out.append(m);
        }
        return out;
    }
    Session *sessionFor(const QString &serial)
    {
        for (auto &[socket, s] : sessions) {
            if (s.serial == serial)
                return &s;
        }
        return nullptr;
    }

    void send(Session &s, iptv::protocol::MessageType type, const QCborMap &body, quint64 re = 0)
    {
        s.socket->sendBinaryMessage(iptv::protocol::encode(iptv::protocol::Message(type, s.nextId++, body, re)));
    }
    /// Approves a pending box on its open connection.
    bool approve(const QString &serial)
    {
        Session *s = sessionFor(serial);
        if (!s)
            return false;
        welcome(*s, true);
        return true;
    }
    bool sendCommand(const QString &serial, const iptv::protocol::Command &command)
    {
        Session *s = sessionFor(serial);
        if (!s)
            return false;
        send(*s, iptv::protocol::MessageType::Command, command.toBody());
        return true;
    }
    void dropAll()
    {
        // abort() emits disconnected(), which erases the session: iterate over a copy.
        QList<QWebSocket *> sockets;
        for (auto &[socket, s] : sessions)
            sockets.append(socket);
        for (QWebSocket *socket : sockets)
            socket->abort();
    }

Q_SIGNALS:
    void messageReceived(const iptv::protocol::Message &message);

private:
    void accept()
    {
        while (QWebSocket *socket = m_server.nextPendingConnection()) {
            socket->setParent(this);
            sessions[socket].socket = socket;
            connect(socket, &QWebSocket::binaryMessageReceived, this,
                    [this, socket](const QByteArray &frame) { onFrame(socket, frame); });
            connect(socket, &QWebSocket::disconnected, this, [this, socket] {
                sessions.erase(socket);
                socket->deleteLater();
            });
        }
    }
    void welcome(Session &s, bool approved)
    {
        using namespace iptv::protocol;
        Welcome w;
        w.version = welcomeVersion;
        w.boxId = QStringLiteral("box-") + s.serial;
        w.state = approved ? QStringLiteral("approved") : QStringLiteral("pending");
        w.heartbeatSeconds = heartbeatSeconds;
        w.telemetrySeconds = telemetrySeconds;
        w.releaseChannel = QStringLiteral("experimental");
        w.serverTime = QDateTime::currentDateTimeUtc();
        if (approved) {
            QByteArray token(16, Qt::Uninitialized);
            for (char &c : token)
                c = char(QRandomGenerator::global()->bounded(256));
            tokens.insert(token, s.serial);
            w.token = token;
        }
        s.online = approved;
        send(s, MessageType::Welcome, w.toBody());
    }
    void onFrame(QWebSocket *socket, const QByteArray &frame)
    {
        using namespace iptv::protocol;
        auto it = sessions.find(socket);
        if (it == sessions.end())
            return;
        Session &s = it->second;
        DecodeResult d = decode(frame);
        if (!d.ok())
            return;
        const Message &m = d.message;
        if (m.id <= s.lastPeerId)
            replayErrors.append(s.serial);
        s.lastPeerId = m.id;
        received.append(m);
        Q_EMIT messageReceived(m);
        if (silent)
            return;
        switch (m.type) {
        case MessageType::Hello: {
            QString error;
            const auto hello = Hello::fromBody(m.body, &error);
            if (!hello)
                return;
            s.serial = hello->serial;
            hellos.append({hello->serial, !hello->token.isEmpty(), !hello->secret.isEmpty(), clock.elapsed(),
                           hello->telemetryWindow});
            if (overloadHellos > 0) {
                --overloadHellos;
                const Message e = errorMessage(ErrorCode::Overloaded, QStringLiteral("busy"), m.id, retryAfterSeconds);
                send(s, MessageType::Error, e.body, e.replyTo);
                socket->close();
                return;
            }
            if (!hello->token.isEmpty()) {
                if (tokens.value(hello->token) == hello->serial) {
                    s.online = true;
                    Welcome w;
        w.version = welcomeVersion;
                    w.boxId = QStringLiteral("box-") + s.serial;
                    w.state = QStringLiteral("approved");
                    w.heartbeatSeconds = heartbeatSeconds;
                    w.telemetrySeconds = telemetrySeconds;
                    send(s, MessageType::Welcome, w.toBody());
                } else {
                    const Message e = errorMessage(ErrorCode::Unauthorized, QStringLiteral("unknown token"), m.id);
                    send(s, MessageType::Error, e.body, e.replyTo);
                    socket->close();
                }
                return;
            }
            if (secrets.contains(hello->serial) && secrets.value(hello->serial) != hello->secret) {
                const Message e = errorMessage(ErrorCode::Unauthorized, QStringLiteral("secret mismatch"), m.id);
                send(s, MessageType::Error, e.body, e.replyTo);
                socket->close();
                return;
            }
            secrets.insert(hello->serial, hello->secret);
            welcome(s, autoApprove);
            return;
        }
        case MessageType::Telemetry:
            if (ackTelemetry && ++s.telemetrySeen % ackEvery == 0)
                send(s, MessageType::Ack, {}, m.id);
            return;
        case MessageType::Ping:
            send(s, MessageType::Pong, {}, m.id);
            return;
        default:
            return;
        }
    }

    QWebSocketServer m_server;
};
