#include "linktransport.h"

#include <wsserver/wsclient.h>

#include <QTimer>
#include <QWebSocket>

namespace iptv::boxlink {

namespace {

class WebSocketLink final : public LinkSocket
{
public:
    WebSocketLink(const QUrl &url, qsizetype maxMessageBytes, LinkHandler *handler) : m_socket(new QWebSocket)
    {
        m_socket->setMaxAllowedIncomingMessageSize(quint64(maxMessageBytes));
        m_socket->setMaxAllowedIncomingFrameSize(quint64(maxMessageBytes));
        QObject::connect(m_socket, &QWebSocket::connected, m_socket, [handler] { handler->linkConnected(); });
        QObject::connect(m_socket, &QWebSocket::binaryMessageReceived, m_socket,
                         [handler](const QByteArray &message) { handler->linkMessage(message, false); });
        QObject::connect(m_socket, &QWebSocket::textMessageReceived, m_socket,
                         [handler](const QString &message) { handler->linkMessage(message.toUtf8(), true); });
        QWebSocket *socket = m_socket;
        QObject::connect(m_socket, &QWebSocket::disconnected, m_socket, [socket, handler] {
            handler->linkClosed(socket->closeReason().isEmpty()
                                    ? QStringLiteral("connection closed")
                                    : QStringLiteral("closed by the server: %1").arg(socket->closeReason()));
        });
        // Qt 6.4 names the signal error(); errorOccurred() came in 6.5.
        QObject::connect(m_socket, QOverload<QAbstractSocket::SocketError>::of(&QWebSocket::error), m_socket,
                         [socket, handler](QAbstractSocket::SocketError) { handler->linkClosed(socket->errorString()); });
        m_socket->open(url);
    }
    ~WebSocketLink() override { abort(); }

    void sendBinary(const QByteArray &message) override
    {
        if (m_socket)
            m_socket->sendBinaryMessage(message);
    }
    void sendText(const QByteArray &utf8) override
    {
        if (m_socket)
            m_socket->sendTextMessage(QString::fromUtf8(utf8));
    }
    void close() override
    {
        QWebSocket *socket = std::exchange(m_socket, nullptr);
        if (!socket)
            return;
        socket->disconnect();
        if (socket->state() != QAbstractSocket::ConnectedState) {
            socket->abort();
            socket->deleteLater();
            return;
        }
        // Let the close handshake finish, but do not wait for a server that never answers.
        QObject::connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater);
        QTimer::singleShot(2000, socket, &QObject::deleteLater);
        socket->close();
    }
    void abort() override
    {
        QWebSocket *socket = std::exchange(m_socket, nullptr);
        if (!socket)
            return;
        socket->disconnect();
        socket->abort();
        socket->deleteLater(); // we may be inside one of its signals
    }

private:
    QWebSocket *m_socket;
};

class PoolLink final : public LinkSocket, private ws::ClientHandler
{
public:
    PoolLink(ws::ClientPool *pool, const QUrl &url, LinkHandler *handler) : m_pool(pool), m_handler(handler)
    {
        m_id = m_pool->open(url, this);
    }
    ~PoolLink() override { abort(); }

    void sendBinary(const QByteArray &message) override { m_pool->sendBinary(m_id, message); }
    void sendText(const QByteArray &utf8) override { m_pool->sendText(m_id, utf8); }
    void close() override
    {
        if (m_id)
            m_pool->close(std::exchange(m_id, 0));
    }
    void abort() override
    {
        if (m_id)
            m_pool->abort(std::exchange(m_id, 0));
    }

private:
    void wsConnected(ws::ConnectionId) override { m_handler->linkConnected(); }
    void wsMessage(ws::ConnectionId, const QByteArray &message, bool text) override { m_handler->linkMessage(message, text); }
    void wsClosed(ws::ConnectionId, quint16, const QString &reason) override
    {
        m_id = 0; // the pool has let go of it
        m_handler->linkClosed(reason);
    }

    ws::ClientPool *m_pool;
    LinkHandler *m_handler;
    ws::ConnectionId m_id = 0;
};

} // namespace

std::unique_ptr<LinkSocket> WebSocketTransport::open(const QUrl &url, qsizetype maxMessageBytes, LinkHandler *handler)
{
    return std::make_unique<WebSocketLink>(url, maxMessageBytes, handler);
}

WebSocketTransport *WebSocketTransport::instance()
{
    static WebSocketTransport transport;
    return &transport;
}

std::unique_ptr<LinkSocket> PoolTransport::open(const QUrl &url, qsizetype, LinkHandler *handler)
{
    return std::make_unique<PoolLink>(m_pool, url, handler);
}

} // namespace iptv::boxlink
