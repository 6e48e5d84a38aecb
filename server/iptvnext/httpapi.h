#pragma once

// The iptvnext HTTP interface (Qt HTTP Server 6.4):
//   GET  /guide                      current compiled guide; ETag "<checksum>", If-None-Match -> 304
//   GET  /guide/<checksum>           a kept version (immutable)
//   GET  /guide/delta?from=<sum>     zstd patch from a kept version to the current one;
//                                    404 {"error":"unknown-base"} when the base is not kept
//   GET  /api/channels | now | nownext | window | programme | search | status
//   POST /api/refresh                start a refresh (202)
//   GET  /xmltv                      the served guide as XMLTV
//   GET  /healthz                    200 when a guide is served, else 503
//   GET  /metrics                    Prometheus text format
// Times in the JSON API are UTC epoch seconds; query times accept epoch seconds or ISO 8601.
// Every error is {"error":"<code>","detail":"<human text>"} with the matching status.

#include <QByteArray>
#include <QHostAddress>
#include <QObject>

QT_BEGIN_NAMESPACE
class QAbstractHttpServer;
QT_END_NAMESPACE

namespace iptv::http {
class Router;
}

namespace iptv::next {

class IptvNextServer;

class HttpApi : public QObject
{
    Q_OBJECT
public:
    explicit HttpApi(IptvNextServer *server);
    ~HttpApi() override;

    bool listen(const QHostAddress &address, quint16 port, QString *error);
    void close();
    quint16 port() const;
    QAbstractHttpServer *httpServer() const;

private:
    void setupRoutes();

    /// /api/nownext for every channel is the same answer for any time until the first airing
    /// boundary on any channel, so it is built once per such interval (and per guide version).
    struct NowNextCache
    {
        QByteArray checksum;
        qint64 from = 0;
        qint64 until = 0;
        QByteArray channelsJson;
    };
    QByteArray nowNextChannels(qint64 at);

    IptvNextServer *m_server;
    NowNextCache m_nowNext;
    iptv::http::Router *m_router;
};

} // namespace iptv::next
