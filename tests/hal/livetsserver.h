#pragma once

// Endless live MPEG-TS streams for player tests, made here and now: each source is a solid
// picture of its own brightness (H.264, 25 fps, a keyframe every 0.48 s) with AAC silence,
// encoded by libs/media as it plays and served over HTTP like recast's /live/<id>.ts: a new
// viewer gets the latest GOP at once (the keyframe cache), then the live packets.
//
//   http://127.0.0.1:<port>/<name>.ts   the source called <name>
//   /stall.ts                           accepted, the request read, never answered
//   /silent.ts                          200 OK, then not a byte
//   /garbage.ts                         200 OK, then endless random bytes
//   /ends.ts                            the first source's cached GOP, then the connection closes
//   anything else                       404

#include <media/codec.h>
#include <media/keyframecache.h>
#include <media/tsmuxer.h>

#include <QElapsedTimer>
#include <QMap>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrl>

#include <memory>

class LiveTsServer : public QObject
{
    Q_OBJECT
public:
    explicit LiveTsServer(QObject *parent = nullptr);
    ~LiveTsServer() override;

    /// A source whose every pixel has luma `y` (16-235).
    bool addSource(const QString &name, int y, QString *error);
    bool listen();
    QUrl url(const QString &path) const;
    /// Requests seen so far, by path.
    int requests(const QString &path) const { return m_requests.value(path); }

Q_SIGNALS:
    void requested(const QString &path);

private:
    struct Source
    {
        QString name;
        int y = 128;
        iptv::media::VideoEncoder video;
        iptv::media::AudioEncoder audio;
        iptv::media::TsMuxer muxer;
        iptv::media::KeyframeCache cache{4 * 1024 * 1024};
        iptv::media::Frame picture;
        iptv::media::Frame sound;
        qint64 frameIndex = 0;
        QList<QPointer<QTcpSocket>> viewers;
    };

    void tick();
    void encode(Source &s);
    void publish(Source &s, const QByteArray &bytes, bool keyframe);
    void onConnection(QTcpSocket *socket);
    void serve(QTcpSocket *socket, const QString &path);

    QTcpServer m_server;
    QTimer m_clock;
    QElapsedTimer m_sinceStart;
    std::vector<std::unique_ptr<Source>> m_sources;
    QList<QPointer<QTcpSocket>> m_garbage;
    QList<QPointer<QTcpSocket>> m_held; ///< stalled and silent connections, kept open
    QMap<QString, int> m_requests;
};
