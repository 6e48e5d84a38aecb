#include "redisclient.h"

#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QSocketNotifier>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <vector>

Q_LOGGING_CATEGORY(lcRedis, "iptv.redis")

using namespace Qt::StringLiterals;

namespace iptv::redis {

// One hiredis connection and its socket notifiers. hiredis drives the notifiers through the
// ev.* hooks; the context frees itself after a failed connect or a disconnect, and says so
// through ev.cleanup, after which ctx is null until the next attempt.
struct RedisLink
{
    RedisClient *owner = nullptr;
    redisAsyncContext *ctx = nullptr;
    QSocketNotifier *reader = nullptr;
    QSocketNotifier *writer = nullptr;
    bool subscriber = false;

    void dropNotifiers()
    {
        for (QSocketNotifier *n : {reader, writer}) {
            if (n) {
                n->setEnabled(false);
                n->disconnect();
                n->deleteLater(); // may be inside its own activated() right now
            }
        }
        reader = writer = nullptr;
    }
};

namespace {

Reply copyReply(const redisReply *r)
{
    Reply out;
    if (!r)
        return out;
    switch (r->type) {
    case REDIS_REPLY_STRING: out.type = Reply::Type::String; break;
    case REDIS_REPLY_STATUS: out.type = Reply::Type::Status; break;
    case REDIS_REPLY_ERROR: out.type = Reply::Type::Error; break;
    case REDIS_REPLY_INTEGER: out.type = Reply::Type::Integer; break;
    case REDIS_REPLY_ARRAY: out.type = Reply::Type::Array; break;
    default: out.type = Reply::Type::Nil; break;
    }
    out.integer = r->integer;
    if (r->str)
        out.string = QByteArray(r->str, qsizetype(r->len));
    for (size_t i = 0; i < r->elements; ++i)
        out.elements.append(copyReply(r->element[i]));
    return out;
}

void onReply(redisAsyncContext *, void *reply, void *privateData)
{
    auto *callback = static_cast<RedisClient::Callback *>(privateData);
    if (*callback) {
        if (reply) {
            (*callback)(copyReply(static_cast<redisReply *>(reply)));
        } else {
            Reply lost;
            lost.type = Reply::Type::Error;
            lost.string = "connection lost before the reply";
            (*callback)(lost);
        }
    }
    delete callback;
}

RedisLink *linkOf(const redisAsyncContext *context)
{
    return static_cast<RedisLink *>(context->ev.data);
}

void hookAddRead(void *data)
{
    auto *link = static_cast<RedisLink *>(data);
    if (!link->reader) {
        link->reader = new QSocketNotifier(link->ctx->c.fd, QSocketNotifier::Read);
        QObject::connect(link->reader, &QSocketNotifier::activated, link->reader, [link]() {
            if (link->ctx)
                redisAsyncHandleRead(link->ctx);
        });
    }
    link->reader->setEnabled(true);
}

void hookDelRead(void *data)
{
    auto *link = static_cast<RedisLink *>(data);
    if (link->reader)
        link->reader->setEnabled(false);
}

void hookAddWrite(void *data)
{
    auto *link = static_cast<RedisLink *>(data);
    if (!link->writer) {
        link->writer = new QSocketNotifier(link->ctx->c.fd, QSocketNotifier::Write);
        QObject::connect(link->writer, &QSocketNotifier::activated, link->writer, [link]() {
            if (link->ctx)
                redisAsyncHandleWrite(link->ctx);
        });
    }
    link->writer->setEnabled(true);
}

void hookDelWrite(void *data)
{
    auto *link = static_cast<RedisLink *>(data);
    if (link->writer)
        link->writer->setEnabled(false);
}

void hookCleanup(void *data)
{
    auto *link = static_cast<RedisLink *>(data);
    link->dropNotifiers();
    link->ctx = nullptr;
}

} // namespace

RedisClient::RedisClient(QObject *parent)
    : QObject(parent)
    , m_command(new RedisLink)
    , m_subscriber(new RedisLink)
{
    m_command->owner = this;
    m_subscriber->owner = this;
    m_subscriber->subscriber = true;
    m_reconnect.setSingleShot(true);
    connect(&m_reconnect, &QTimer::timeout, this, [this]() {
        if (!m_open)
            return;
        if (!m_command->ctx)
            connectLink(*m_command);
        if (!m_subscriber->ctx)
            connectLink(*m_subscriber);
    });
}

RedisClient::~RedisClient()
{
    m_open = false;
    for (RedisLink *link : {m_command, m_subscriber}) {
        link->owner = nullptr; // callbacks during the free must not reach a half-destroyed client
        if (link->ctx)
            redisAsyncFree(link->ctx);
        link->dropNotifiers();
        delete link;
    }
}

void RedisClient::open(const QString &host, quint16 port)
{
    m_host = host;
    m_port = port;
    m_open = true;
    m_attempt = 0;
    connectLink(*m_command);
    connectLink(*m_subscriber);
}

void RedisClient::close()
{
    m_open = false;
    m_reconnect.stop();
    for (RedisLink *link : {m_command, m_subscriber}) {
        if (link->ctx)
            redisAsyncDisconnect(link->ctx);
    }
}

void RedisClient::connectLink(RedisLink &link)
{
    redisAsyncContext *ctx = redisAsyncConnect(m_host.toUtf8().constData(), m_port);
    if (!ctx || ctx->err) {
        const QString why = ctx ? QString::fromUtf8(ctx->errstr) : u"out of memory"_s;
        if (ctx)
            redisAsyncFree(ctx);
        linkDown(link, why);
        return;
    }
    link.ctx = ctx;
    ctx->ev.data = &link;
    ctx->ev.addRead = hookAddRead;
    ctx->ev.delRead = hookDelRead;
    ctx->ev.addWrite = hookAddWrite;
    ctx->ev.delWrite = hookDelWrite;
    ctx->ev.cleanup = hookCleanup;
    redisAsyncSetConnectCallback(ctx, &RedisClient::onConnect);
    redisAsyncSetDisconnectCallback(ctx, &RedisClient::onDisconnect);
}

void RedisClient::onConnect(const redisAsyncContext *context, int status)
{
    RedisLink *link = linkOf(context);
    if (!link->owner)
        return;
    if (status != REDIS_OK)
        link->owner->linkDown(*link, QString::fromUtf8(context->errstr)); // hiredis frees the context
    else
        link->owner->linkUp(*link);
}

void RedisClient::onDisconnect(const redisAsyncContext *context, int status)
{
    RedisLink *link = linkOf(context);
    if (!link->owner)
        return;
    link->owner->linkDown(*link, status == REDIS_OK ? u"closed"_s : QString::fromUtf8(context->errstr));
}

void RedisClient::linkUp(RedisLink &link)
{
    if (link.subscriber) {
        m_subscriberReady = true;
        for (const QByteArray &channel : std::as_const(m_channels))
            redisAsyncCommand(link.ctx, &RedisClient::onMessage, this, "SUBSCRIBE %b", channel.constData(), size_t(channel.size()));
    } else {
        m_commandReady = true;
    }
    if (isConnected()) {
        m_attempt = 0;
        qCInfo(lcRedis, "connected to %s:%u", qPrintable(m_host), m_port);
        Q_EMIT connected();
    }
}

void RedisClient::linkDown(RedisLink &link, const QString &reason)
{
    const bool wasConnected = isConnected();
    (link.subscriber ? m_subscriberReady : m_commandReady) = false;
    if (wasConnected) {
        qCWarning(lcRedis, "lost %s:%u: %s", qPrintable(m_host), m_port, qPrintable(reason));
        Q_EMIT disconnected(reason);
    }
    if (m_open)
        scheduleReconnect();
}

void RedisClient::scheduleReconnect()
{
    if (m_reconnect.isActive())
        return;
    // 250 ms doubling to 10 s, with full jitter, so that nodes restarting together spread out.
    const int cap = std::min(10'000, 250 << std::min(m_attempt, 6));
    ++m_attempt;
    m_reconnect.start(cap / 2 + int(QRandomGenerator::global()->bounded(cap / 2 + 1)));
}

bool RedisClient::command(const QList<QByteArray> &argv, Callback callback)
{
    if (!m_commandReady || !m_command->ctx || argv.isEmpty())
        return false;
    std::vector<const char *> args;
    std::vector<size_t> lengths;
    args.reserve(size_t(argv.size()));
    lengths.reserve(size_t(argv.size()));
    for (const QByteArray &a : argv) {
        args.push_back(a.constData());
        lengths.push_back(size_t(a.size()));
    }
    auto *cb = new Callback(std::move(callback));
    if (redisAsyncCommandArgv(m_command->ctx, onReply, cb, int(args.size()), args.data(), lengths.data()) != REDIS_OK) {
        delete cb;
        return false;
    }
    return true;
}

bool RedisClient::publish(const QByteArray &channel, const QByteArray &message)
{
    return command({"PUBLISH", channel, message});
}

void RedisClient::subscribe(const QByteArray &channel)
{
    if (m_channels.contains(channel))
        return;
    m_channels.insert(channel);
    if (m_subscriberReady && m_subscriber->ctx)
        redisAsyncCommand(m_subscriber->ctx, &RedisClient::onMessage, this, "SUBSCRIBE %b", channel.constData(), size_t(channel.size()));
}

void RedisClient::unsubscribe(const QByteArray &channel)
{
    if (!m_channels.remove(channel))
        return;
    if (m_subscriberReady && m_subscriber->ctx)
        redisAsyncCommand(m_subscriber->ctx, nullptr, nullptr, "UNSUBSCRIBE %b", channel.constData(), size_t(channel.size()));
}

void RedisClient::onMessage(redisAsyncContext *context, void *reply, void *privateData)
{
    Q_UNUSED(context);
    auto *self = static_cast<RedisClient *>(privateData);
    const auto *r = static_cast<const redisReply *>(reply);
    if (!r || !self || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return;
    const redisReply *kind = r->element[0];
    if (kind->type == REDIS_REPLY_STRING && QByteArrayView(kind->str, qsizetype(kind->len)) == "message") {
        Q_EMIT self->messageReceived(QByteArray(r->element[1]->str, qsizetype(r->element[1]->len)),
                                     QByteArray(r->element[2]->str, qsizetype(r->element[2]->len)));
    }
}

} // namespace iptv::redis
