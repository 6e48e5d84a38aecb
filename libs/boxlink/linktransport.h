#pragma once

// What a BoxLink sends its frames over. A box uses QWebSocket (TLS, proxies, one connection);
// tools/fleetsim runs thousands of links a process over one ws::ClientPool (one epoll set), so
// that the load generator costs less than the server it loads. Both carry the same BoxLink.

#include <QByteArray>
#include <QString>
#include <QUrl>

#include <memory>

namespace iptv::ws {
class ClientPool;
}

namespace iptv::boxlink {

/// Receives one connection's events. None arrive after the LinkSocket's close() or abort().
class LinkHandler
{
public:
    virtual void linkConnected() = 0;
    virtual void linkMessage(const QByteArray &message, bool text) = 0;
    /// The connection ended; `reason` says why (refused, dropped, closed by the server).
    virtual void linkClosed(const QString &reason) = 0;

protected:
    ~LinkHandler() = default;
};

/// One connection. Destroying it without close() aborts it.
class LinkSocket
{
public:
    virtual ~LinkSocket() = default;
    virtual void sendBinary(const QByteArray &message) = 0;
    virtual void sendText(const QByteArray &utf8) = 0;
    /// Closing handshake in the background; the handler hears nothing more.
    virtual void close() = 0;
    /// Drops the connection now, without a close frame.
    virtual void abort() = 0;
};

class LinkTransport
{
public:
    virtual ~LinkTransport() = default;
    /// Starts connecting; events go to `handler`, never from inside this call.
    virtual std::unique_ptr<LinkSocket> open(const QUrl &url, qsizetype maxMessageBytes, LinkHandler *handler) = 0;
};

/// QWebSocket, one a connection: ws:// and wss://. What a box uses; the default.
class WebSocketTransport final : public LinkTransport
{
public:
    std::unique_ptr<LinkSocket> open(const QUrl &url, qsizetype maxMessageBytes, LinkHandler *handler) override;
    /// The process-wide instance BoxLink uses when none is configured.
    static WebSocketTransport *instance();
};

/// Every connection in one ws::ClientPool (ws:// only; the pool's own message limit applies).
class PoolTransport final : public LinkTransport
{
public:
    explicit PoolTransport(ws::ClientPool *pool) : m_pool(pool) {}
    std::unique_ptr<LinkSocket> open(const QUrl &url, qsizetype maxMessageBytes, LinkHandler *handler) override;

private:
    ws::ClientPool *m_pool;
};

} // namespace iptv::boxlink
