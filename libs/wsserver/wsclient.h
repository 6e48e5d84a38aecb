#pragma once

// The client side of the lean WebSocket endpoint: many outgoing ws:// connections on one thread,
// all in one epoll set behind one QSocketNotifier, each a small record with buffers only while a
// frame or a write is partial. It exists for load generators (tools/fleetsim runs 5,000 boxes a
// process): one QWebSocket a connection costs a QObject tree, a notifier and a 16 KB write chunk
// each, and Qt's poll()-based dispatcher scans every socket on every turn, so with thousands of
// them the generator, not the server under test, became the limit. A single box keeps QWebSocket
// (TLS, proxies); this speaks plain ws:// only.
//
// Callbacks go to the ClientHandler given to open(), never from inside open() or close(); after
// close() or abort() the handler hears nothing more of that connection and may be destroyed.

#include "wsframe.h"
#include "wsserver.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QSet>
#include <QObject>
#include <QRandomGenerator>
#include <QTimer>
#include <QUrl>

#include <sys/socket.h>

#include <vector>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
QT_END_NAMESPACE

namespace iptv::ws {

class ClientHandler
{
public:
    /// The server accepted the upgrade: messages may be sent now.
    virtual void wsConnected(ConnectionId id) = 0;
    virtual void wsMessage(ConnectionId id, const QByteArray &message, bool text) = 0;
    /// The connection ended (refused, dropped, closed by the server); `reason` says why.
    virtual void wsClosed(ConnectionId id, quint16 code, const QString &reason) = 0;

protected:
    ~ClientHandler() = default;
};

struct ClientOptions
{
    qsizetype maxMessageBytes = 1024 * 1024;      ///< bigger messages close with 1009
    qsizetype maxResponseBytes = 8 * 1024;        ///< a longer upgrade response is refused
    qsizetype maxOutboundBytes = 8 * 1024 * 1024; ///< a server that stops reading is dropped here
    int closeTimeoutMs = 2000;                    ///< wait this long for the server's close frame
};

class ClientPool : public QObject
{
    Q_OBJECT

public:
    explicit ClientPool(ClientOptions options = {}, QObject *parent = nullptr);
    ~ClientPool() override;

    /// Starts connecting to a ws:// URL. Always returns an id; a failure (bad URL, no descriptor
    /// left, refused) arrives as wsClosed() from the event loop, like any other.
    ConnectionId open(const QUrl &url, ClientHandler *handler);
    bool sendBinary(ConnectionId id, QByteArrayView message);
    bool sendText(ConnectionId id, QByteArrayView utf8);
    /// Starts the closing handshake; the handler is released at once, the socket lingers until
    /// the server answers or closeTimeoutMs passes.
    void close(ConnectionId id, quint16 code = CloseNormal, QByteArrayView reason = {});
    /// Drops the connection now, without a close frame (a cut cable); no callback.
    void abort(ConnectionId id);

    bool isOpen(ConnectionId id) const;
    int connectionCount() const { return m_table.count(); }

private:
    struct Connection;
    struct Endpoint
    {
        sockaddr_storage address{};
        socklen_t length = 0;
        QByteArray host;     ///< the Host header
        QByteArray resource; ///< path and query
        QString error;       ///< why the URL cannot be used, if so
    };
    const Endpoint &endpoint(const QUrl &url);
    Connection *find(ConnectionId id) const;
    /// The owner lets go of `id`: no more callbacks; the connection, if it still has one.
    Connection *letGo(ConnectionId id);
    void dispatch();
    void connected(Connection *c);
    void readFrom(Connection *c);
    void handleData(Connection *c, QByteArrayView data);
    bool write(Connection *c, QByteArrayView bytes);
    void flush(Connection *c);
    void setInterest(Connection *c, bool out);
    void finish(Connection *c, quint16 code, const QString &reason);
    void failLater(ConnectionId id, ClientHandler *handler, const QString &reason);
    void sweepClosing();
    quint32 mask() { return m_random.generate(); }

    ClientOptions m_options;
    int m_epoll = -1;
    QSocketNotifier *m_notifier = nullptr;
    ConnectionTable<Connection> m_table;
    std::vector<ConnectionId> m_corked;    ///< written to during a dispatch, sent at its end
    QHash<QString, Endpoint> m_endpoints;  ///< by URL without fragment: resolved once
    QSet<ConnectionId> m_cancelledFailures; ///< failed opens let go of before their callback
    int m_closing = 0;
    QByteArray m_readBuffer;
    QElapsedTimer m_clock;
    QTimer m_closeSweep;
    QRandomGenerator m_random;
};

} // namespace iptv::ws
