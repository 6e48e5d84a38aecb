#pragma once

// The ws::Server both endpoint tests talk to: listens on a free loopback port at /box and echoes
// binary as binary, text as text; "close-me" closes with 4001, "abort-me" drops the connection.

#include <wsserver/wsserver.h>

#include <QUrl>

#include <memory>

namespace wstest {

inline std::unique_ptr<iptv::ws::Server> echoServer(iptv::ws::ServerOptions options = {})
{
    using iptv::ws::ConnectionId;
    using iptv::ws::Server;
    options.path = "/box";
    auto server = std::make_unique<Server>(options);
    QString error;
    if (!server->listen(QHostAddress::LocalHost, 0, &error))
        qWarning("%s", qPrintable(error));
    QObject::connect(server.get(), &Server::messageReceived, server.get(),
                     [s = server.get()](ConnectionId id, const QByteArray &m, bool text) {
                         if (m == "close-me")
                             s->close(id, 4001, "asked to");
                         else if (m == "abort-me")
                             s->abort(id);
                         else
                             text ? s->sendText(id, m) : s->sendBinary(id, m);
                     });
    return server;
}

inline QUrl boxUrl(quint16 port, const QString &path = QStringLiteral("/box"))
{
    return QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(port).arg(path));
}

} // namespace wstest
