#include "events.h"

#include <QAbstractHttpServer>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QWebSocket>
#include <QWebSocketServer>

Q_LOGGING_CATEGORY(lcEvents, "iptv.next.events")

namespace iptv::next {

EventHub::EventHub(QObject *parent)
    : QObject(parent)
{
}

EventHub::~EventHub()
{
    closeAll();
}

quint16 EventHub::listen(const QHostAddress &address, quint16 port, QString *error)
{
    m_server = new QWebSocketServer(QStringLiteral("iptvnext"), QWebSocketServer::NonSecureMode, this);
    if (!m_server->listen(address, port)) {
        *error = QStringLiteral("cannot listen for WebSockets on port %1: %2").arg(port).arg(m_server->errorString());
        delete m_server;
        m_server = nullptr;
        return 0;
    }
    connect(m_server, &QWebSocketServer::newConnection, this, [this] {
        while (m_server->hasPendingConnections())
            adopt(m_server->nextPendingConnection());
    });
    return m_server->serverPort();
}

void EventHub::attach(QAbstractHttpServer *server)
{
    connect(server, &QAbstractHttpServer::newWebSocketConnection, this, [this, server] {
        while (server->hasPendingWebSocketConnections())
            adopt(server->nextPendingWebSocketConnection().release());
    });
}

quint16 EventHub::port() const
{
    return m_server ? m_server->serverPort() : 0;
}

void EventHub::adopt(QWebSocket *socket)
{
    if (!socket)
        return;
    const QString path = socket->requestUrl().path();
    if (path != u"/events" && path != u"/events/") {
        qCDebug(lcEvents) << "rejecting WebSocket for" << path;
        socket->close(QWebSocketProtocol::CloseCodePolicyViolated, QStringLiteral("unknown path; use /events"));
        socket->deleteLater();
        return;
    }
    socket->setParent(this);
    m_clients.append(socket);
    connect(socket, &QWebSocket::disconnected, this, [this, socket] {
        m_clients.removeOne(socket);
        socket->deleteLater();
        Q_EMIT clientCountChanged(clientCount());
    });
    qCDebug(lcEvents) << "client" << socket->peerAddress().toString() << "connected;" << m_clients.size() << "clients";
    if (!m_last.isEmpty())
        socket->sendTextMessage(QString::fromUtf8(QJsonDocument(m_last).toJson(QJsonDocument::Compact)));
    Q_EMIT clientCountChanged(clientCount());
}

void EventHub::announce(const QJsonObject &message)
{
    m_last = message;
    const QString text = QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Compact));
    for (QWebSocket *s : std::as_const(m_clients))
        s->sendTextMessage(text);
    qCInfo(lcEvents) << "announced" << message.value(u"type").toString() << "to" << m_clients.size() << "clients";
}

void EventHub::closeAll()
{
    const auto clients = m_clients;
    m_clients.clear();
    for (QWebSocket *s : clients) {
        s->disconnect(this);
        s->close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("server stopping"));
        s->deleteLater();
    }
    if (m_server)
        m_server->close();
}

} // namespace iptv::next
