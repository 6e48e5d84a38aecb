// What one WebSocket connection costs the server, lean (libs/wsserver) against QWebSocketServer:
// the server process accepts N connections, echoes one 150-byte message on each (so every
// connection has read and written once, like a box after its hello), and prints its resident
// memory per connection. Clients run in a second process of this same program.
//
//   bench_wsmemory server lean|qt N PORT      # prints one JSON line when N have echoed
//   bench_wsmemory client N PORT
//   bench/controlserver/wsmemory.sh [N]         # both, for both servers
#include <wsserver/wsserver.h>

#include <QCoreApplication>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>
#include <QWebSocket>
#include <QWebSocketServer>

#include <cstdio>
#include <malloc.h>

using namespace Qt::StringLiterals;

namespace {

long residentKb()
{
    QFile f(u"/proc/self/status"_s);
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').first().toLong();
    }
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 4) {
        std::fprintf(stderr, "usage: bench_wsmemory server lean|qt N PORT | client N PORT\n");
        return 2;
    }
    if (args[1] == u"client") {
        const int n = args[2].toInt();
        const QUrl url(u"ws://127.0.0.1:%1/box"_s.arg(args[3]));
        int opened = 0;
        for (int i = 0; i < n; ++i) {
            auto *ws = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, &app);
            QObject::connect(ws, &QWebSocket::connected, ws, [ws, &opened, n] {
                ws->sendBinaryMessage(QByteArray(150, 'x'));
                if (++opened == n)
                    std::fprintf(stderr, "client: %d open\n", n);
            });
            ws->open(url);
        }
        return app.exec();
    }

    const bool lean = args[2] == u"lean";
    const int n = args[3].toInt();
    const quint16 port = quint16(args[4].toUInt());
    const long baseKb = residentKb();
    int echoed = 0;
    const auto report = [&] {
        QTimer::singleShot(500, &app, [&] {
            malloc_trim(0);
            const long kb = residentKb();
            const QJsonObject out{{u"server"_s, lean ? u"lean"_s : u"QWebSocketServer"_s}, {u"connections"_s, n},
                                  {u"residentKb"_s, double(kb)}, {u"baseKb"_s, double(baseKb)},
                                  {u"perConnectionKb"_s, double(kb - baseKb) / n}};
            std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Compact).constData());
            std::fflush(stdout);
            app.quit();
        });
    };
    if (lean) {
        iptv::ws::ServerOptions options;
        options.path = "/box";
        auto *server = new iptv::ws::Server(options, &app);
        QString error;
        if (!server->listen(QHostAddress::LocalHost, port, &error)) {
            std::fprintf(stderr, "%s\n", qPrintable(error));
            return 1;
        }
        QObject::connect(server, &iptv::ws::Server::messageReceived, server,
                         [&, server](iptv::ws::ConnectionId id, const QByteArray &m, bool) {
                             server->sendBinary(id, m);
                             if (++echoed == n)
                                 report();
                         });
    } else {
        auto *server = new QWebSocketServer(u"bench"_s, QWebSocketServer::NonSecureMode, &app);
        if (!server->listen(QHostAddress::LocalHost, port)) {
            std::fprintf(stderr, "%s\n", qPrintable(server->errorString()));
            return 1;
        }
        QObject::connect(server, &QWebSocketServer::newConnection, server, [&, server] {
            while (QWebSocket *ws = server->nextPendingConnection()) {
                QObject::connect(ws, &QWebSocket::binaryMessageReceived, ws, [&, ws](const QByteArray &m) {
                    ws->sendBinaryMessage(m);
                    if (++echoed == n)
                        report();
                });
            }
        });
    }
    return app.exec();
}
