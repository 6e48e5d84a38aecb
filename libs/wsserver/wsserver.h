#pragma once

// A lean RFC 6455 server endpoint for tens of thousands of long-lived, mostly idle connections
// on one thread. The sockets live in one epoll set watched by one QSocketNotifier; a connection
// is a small record (about 120 bytes) that holds buffers only while a frame or a write is
// partial. No QObject, timer or notifier per connection.
//
// Every adopted connection ends with exactly one disconnected(), whether it got through the
// upgrade or not, and whoever closed it. Calls from inside a signal handler are safe: a
// connection closed there is freed after the current dispatch. disconnected() can come from
// inside any call that writes (sendBinary, sendText, close: a reset peer, the outbound limit),
// so a receiver must not free there what the caller of that send may still be using.

#include "connectiontable.h"
#include "wsframe.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QObject>
#include <QTimer>

#include <vector>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
QT_END_NAMESPACE

namespace iptv::ws {

struct ServerOptions
{
    QByteArray path = "/";                     ///< the one endpoint upgraded; others get 404
    qsizetype maxMessageBytes = 1024 * 1024;   ///< bigger messages close with 1009
    qsizetype maxHandshakeBytes = 8 * 1024;    ///< bigger upgrade requests get 431
    qsizetype maxOutboundBytes = 8 * 1024 * 1024; ///< a peer that stops reading is dropped here
    int closeTimeoutMs = 5000;                 ///< wait this long for the peer's close frame
};

class Server : public QObject
{
    Q_OBJECT

public:
    explicit Server(ServerOptions options = {}, QObject *parent = nullptr);
    ~Server() override;

    /// Listens and accepts every connection itself (tests, simple setups).
    bool listen(const QHostAddress &address, quint16 port, QString *error);
    quint16 serverPort() const { return m_port; }
    /// Takes over a connected TCP socket accepted elsewhere (after admission control).
    /// Returns its id; 0 when it could not be added (the descriptor is closed then).
    ConnectionId adopt(qintptr descriptor);

    /// False when the connection is not open, or ended in this very call (disconnected() was
    /// emitted before it returns).
    bool sendBinary(ConnectionId id, QByteArrayView message);
    bool sendText(ConnectionId id, QByteArrayView utf8);
    /// Starts the closing handshake; disconnected() follows when the peer answers or times out.
    void close(ConnectionId id, quint16 code = CloseNormal, QByteArrayView reason = {});
    /// Drops the connection now (disconnected() is emitted before this returns).
    void abort(ConnectionId id, const QString &reason = QStringLiteral("aborted"));
    /// Closes every connection with `code` and stops listening.
    void closeAll(quint16 code = CloseGoingAway);

    bool isOpen(ConnectionId id) const;
    QHostAddress peerAddress(ConnectionId id) const;
    int connectionCount() const { return m_table.count(); }

Q_SIGNALS:
    void upgraded(iptv::ws::ConnectionId id);
    void messageReceived(iptv::ws::ConnectionId id, const QByteArray &message, bool text);
    void disconnected(iptv::ws::ConnectionId id, quint16 code, const QString &reason);
    void handshakeFailed(iptv::ws::ConnectionId id, int httpStatus, const QString &reason);

private:
    struct Connection;
    Connection *find(ConnectionId id) const;
    void dispatch();
    void acceptAll();
    void readFrom(Connection *c);
    void process(Connection *c, QByteArrayView data);
    void handleData(Connection *c);
    bool write(Connection *c, QByteArrayView bytes);
    void flush(Connection *c);
    void setWriteInterest(Connection *c, bool on);
    void finish(Connection *c, quint16 code, const QString &reason);
    void sweepClosing();

    ServerOptions m_options;
    int m_epoll = -1;
    int m_listenFd = -1;
    quint16 m_port = 0;
    QSocketNotifier *m_notifier = nullptr;
    ConnectionTable<Connection> m_table;
    int m_closing = 0;
    QByteArray m_readBuffer;
    QElapsedTimer m_clock;
    QTimer m_closeSweep;
};

} // namespace iptv::ws
