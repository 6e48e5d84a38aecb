#pragma once

// WebSocket announcements on /events: every client gets the current guide's announcement when it
// connects and every later one as it happens ({"type":"guide-updated","version":...}).
//
// Clients reach the hub two ways: a QWebSocketServer on its own port (default HTTP port + 1), and,
// since Qt HTTP Server 6.4 can hand over upgraded connections, on the HTTP port itself.

#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QObject>

QT_BEGIN_NAMESPACE
class QAbstractHttpServer;
class QWebSocket;
class QWebSocketServer;
QT_END_NAMESPACE

namespace iptv::next {

class EventHub : public QObject
{
    Q_OBJECT
public:
    explicit EventHub(QObject *parent = nullptr);
    ~EventHub() override;

    /// Listens on its own port; returns the port (useful with 0) or 0 on failure.
    quint16 listen(const QHostAddress &address, quint16 port, QString *error);
    /// Accepts WebSocket upgrades the HTTP server receives.
    void attach(QAbstractHttpServer *server);

    /// Sends to every client and remembers it for clients that connect later.
    void announce(const QJsonObject &message);
    int clientCount() const { return int(m_clients.size()); }
    quint16 port() const;
    void closeAll();

Q_SIGNALS:
    void clientCountChanged(int count);

private:
    void adopt(QWebSocket *socket);

    QWebSocketServer *m_server = nullptr;
    QList<QWebSocket *> m_clients;
    QJsonObject m_last;
};

} // namespace iptv::next
