#pragma once

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <functional>

struct redisAsyncContext;

namespace iptv::redis {

struct RedisLink; // one hiredis connection with its socket notifiers (redisclient.cpp)

/// One Redis reply, copied out of hiredis's.
struct Reply
{
    enum class Type : quint8 { Nil, Status, Error, Integer, String, Array };
    Type type = Type::Nil;
    qint64 integer = 0;
    QByteArray string; ///< String, Status and Error replies
    QList<Reply> elements;

    bool isError() const { return type == Type::Error; }
};

/// An asynchronous Redis client on the Qt event loop: commands on one connection, pub/sub on a
/// second (Redis reserves a subscribed connection for messages). Both reconnect by themselves
/// with a jittered backoff and the subscriptions are renewed, so a Redis restart costs the
/// messages published while it was down and nothing else.
class RedisClient : public QObject
{
    Q_OBJECT

public:
    using Callback = std::function<void(const Reply &)>;

    explicit RedisClient(QObject *parent = nullptr);
    ~RedisClient() override;

    void open(const QString &host, quint16 port);
    void close();
    bool isConnected() const { return m_commandReady && m_subscriberReady; }

    /// Sends a command; the callback gets the reply, or an Error reply when the connection is
    /// lost first. Returns false (and calls nothing) when not connected.
    bool command(const QList<QByteArray> &argv, Callback callback = {});
    bool publish(const QByteArray &channel, const QByteArray &message);
    void subscribe(const QByteArray &channel);
    void unsubscribe(const QByteArray &channel);

Q_SIGNALS:
    void connected();
    void disconnected(const QString &reason);
    void messageReceived(const QByteArray &channel, const QByteArray &message);

private:
    friend struct RedisLink;
    void connectLink(RedisLink &link);
    void linkUp(RedisLink &link);
    void linkDown(RedisLink &link, const QString &reason);
    void scheduleReconnect();
    static void onConnect(const redisAsyncContext *context, int status);
    static void onDisconnect(const redisAsyncContext *context, int status);
    static void onMessage(redisAsyncContext *context, void *reply, void *privateData);

    QString m_host;
    quint16 m_port = 0;
    RedisLink *m_command = nullptr;
    RedisLink *m_subscriber = nullptr;
    bool m_commandReady = false;
    bool m_subscriberReady = false;
    bool m_open = false;
    QSet<QByteArray> m_channels;
    QTimer m_reconnect;
    int m_attempt = 0;
};

} // namespace iptv::redis
