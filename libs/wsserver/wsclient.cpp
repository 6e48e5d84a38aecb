#include "wsclient.h"

#include "socketio.h"

#include <QHostAddress>
#include <QLoggingCategory>
#include <QSocketNotifier>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcWsClient, "iptv.ws.client")

using namespace Qt::StringLiterals;

namespace iptv::ws {

struct ClientPool::Connection
{
    enum State : quint8 { Connecting, Upgrading, Open, Closing, Dead };
    int fd = -1;
    quint32 generation = 0;
    State state = Connecting;
    bool writeInterest = false;
    bool corked = false; ///< written to in this dispatch: sent at its end
    qint64 closingSinceMs = 0;
    ClientHandler *handler = nullptr; ///< null once the owner let go (close, abort)
    QByteArray key;  ///< Sec-WebSocket-Key until the upgrade is answered
    QByteArray in;   ///< bytes received but not yet a whole frame (or response head)
    QByteArray out;  ///< bytes the kernel did not take yet
    FrameParser parser;

    ConnectionId id() const { return ConnectionTable<Connection>::idOf(this); }
    bool dead() const { return state == Dead; }
};

namespace {
constexpr qsizetype kReadChunk = 64 * 1024;
constexpr quint32 kNoDescriptor = 0xffffffffu; // the fd half of an id whose open failed at once
} // namespace

ClientPool::ClientPool(ClientOptions options, QObject *parent)
    : QObject(parent)
    , m_options(options)
    , m_readBuffer(kReadChunk, Qt::Uninitialized)
    , m_random(QRandomGenerator::securelySeeded())
{
    m_clock.start();
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (m_epoll < 0) {
        qCCritical(lcWsClient, "epoll_create1: %s", strerror(errno));
        return;
    }
    m_notifier = new QSocketNotifier(m_epoll, QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &ClientPool::dispatch);
    m_closeSweep.setInterval(250);
    connect(&m_closeSweep, &QTimer::timeout, this, &ClientPool::sweepClosing);
}

ClientPool::~ClientPool()
{
    if (m_epoll >= 0)
        ::close(m_epoll);
}

const ClientPool::Endpoint &ClientPool::endpoint(const QUrl &url)
{
    const QString key = url.toString(QUrl::RemoveFragment);
    if (auto it = m_endpoints.constFind(key); it != m_endpoints.cend())
        return *it;
    Endpoint e;
    if (url.scheme() != "ws"_L1) {
        e.error = url.scheme() == "wss"_L1 ? u"wss:// needs TLS, which this pool does not speak (use QWebSocket)"_s
                                           : u"not a ws:// URL: %1"_s.arg(url.toDisplayString());
        return *m_endpoints.insert(key, e);
    }
    const QString host = url.host();
    const int port = url.port(80);
    e.host = (url.host(QUrl::FullyEncoded) + (url.port() > 0 ? u":%1"_s.arg(port) : QString())).toUtf8();
    if (e.host.contains(':') && !e.host.startsWith('[') && QHostAddress(host).protocol() == QAbstractSocket::IPv6Protocol)
        e.host = '[' + url.host(QUrl::FullyEncoded).toUtf8() + ']' + (url.port() > 0 ? ':' + QByteArray::number(port) : QByteArray());
    e.resource = url.path(QUrl::FullyEncoded).toUtf8();
    if (e.resource.isEmpty())
        e.resource = "/";
    if (url.hasQuery())
        e.resource += '?' + url.query(QUrl::FullyEncoded).toUtf8();
    // Resolved once per URL, blocking: a load generator names a few servers, usually by address.
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *found = nullptr;
    const int rc = getaddrinfo(host.toUtf8().constData(), QByteArray::number(port).constData(), &hints, &found);
    if (rc != 0 || !found) {
        e.error = u"cannot resolve %1: %2"_s.arg(host, QString::fromLocal8Bit(gai_strerror(rc)));
    } else {
        memcpy(&e.address, found->ai_addr, found->ai_addrlen);
        e.length = found->ai_addrlen;
    }
    if (found)
        freeaddrinfo(found);
    return *m_endpoints.insert(key, e);
}

ConnectionId ClientPool::open(const QUrl &url, ClientHandler *handler)
{
    const quint32 generation = m_table.nextGeneration();
    const ConnectionId failedId = (ConnectionId(generation) << 32) | kNoDescriptor;
    const Endpoint &e = endpoint(url);
    if (!e.error.isEmpty()) {
        failLater(failedId, handler, e.error);
        return failedId;
    }
    if (m_epoll < 0) {
        failLater(failedId, handler, u"no epoll set"_s);
        return failedId;
    }
    const int fd = ::socket(e.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        failLater(failedId, handler, u"socket: "_s + QString::fromLocal8Bit(strerror(errno)));
        return failedId;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); // small messages, each urgent
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&e.address), e.length) != 0 && errno != EINPROGRESS) {
        const QString why = u"connect: "_s + QString::fromLocal8Bit(strerror(errno));
        ::close(fd);
        failLater(failedId, handler, why);
        return failedId;
    }
    auto *c = new Connection;
    c->fd = fd;
    c->generation = generation;
    c->handler = handler;
    c->parser = FrameParser(m_options.maxMessageBytes, FrameParser::Role::Client);
    QByteArray nonce(16, Qt::Uninitialized);
    m_random.fillRange(reinterpret_cast<quint32 *>(nonce.data()), 4);
    c->key = nonce.toBase64();
    c->out = HandshakeResponse::request(e.host, e.resource, c->key);
    c->writeInterest = true; // connect() completes with EPOLLOUT; the request goes then
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = c->id();
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
        const QString why = u"epoll_ctl: "_s + QString::fromLocal8Bit(strerror(errno));
        ::close(fd);
        delete c;
        failLater(failedId, handler, why);
        return failedId;
    }
    m_table.add(c);
    return c->id();
}

void ClientPool::failLater(ConnectionId id, ClientHandler *handler, const QString &reason)
{
    // Queued so that open() never calls back into a caller that is still setting up.
    QMetaObject::invokeMethod(this, [this, id, handler, reason]() {
        if (m_cancelledFailures.remove(id)) // let go of (close/abort) before this ran
            return;
        handler->wsClosed(id, CloseAbnormal, reason);
    }, Qt::QueuedConnection);
}

ClientPool::Connection *ClientPool::find(ConnectionId id) const
{
    return m_table.find(id);
}

bool ClientPool::isOpen(ConnectionId id) const
{
    const Connection *c = find(id);
    return c && c->state == Connection::Open;
}

void ClientPool::dispatch()
{
    m_table.dispatch(m_epoll, [this](const epoll_event &event) {
        Connection *c = find(event.data.u64);
        if (!c)
            return; // finished earlier in this round
        const quint32 what = event.events;
        if (c->state == Connection::Connecting && (what & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            connected(c);
            return;
        }
        if (what & EPOLLOUT)
            flush(c);
        if (!c->dead() && (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
            readFrom(c);
    }, [this] {
        // What handlers wrote during the dispatch: one write per connection.
        for (const ConnectionId id : std::exchange(m_corked, {})) {
            if (Connection *c = find(id)) {
                c->corked = false;
                flush(c);
            }
        }
    });
}


void ClientPool::connected(Connection *c)
{
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0)
        error = errno;
    if (error != 0) {
        finish(c, CloseAbnormal, u"connect: "_s + QString::fromLocal8Bit(strerror(error)));
        return;
    }
    c->state = Connection::Upgrading;
    flush(c); // the upgrade request
}

void ClientPool::readFrom(Connection *c)
{
    const ConnectionId id = c->id();
    QString error;
    const io::Result r = io::readSome(c->fd, m_readBuffer, [&](QByteArrayView data) {
        handleData(c, data);
        return find(id) != nullptr;
    }, &error);
    if (!find(id))
        return;
    if (r == io::Result::Closed)
        finish(c, CloseAbnormal, c->state == Connection::Upgrading ? u"the server closed the connection during the upgrade"_s
                                                                    : u"connection closed by the server without a close frame"_s);
    else if (r == io::Result::Failed)
        finish(c, CloseAbnormal, error);
}

void ClientPool::handleData(Connection *c, QByteArrayView data)
{
    const ConnectionId id = c->id();
    // Whole frames in one read (the common case) are parsed straight from the read buffer; only
    // a partial rest is kept.
    QByteArray buffer = c->in.isEmpty() ? QByteArray::fromRawData(data.data(), data.size()) : c->in + data;
    c->in = QByteArray();
    qsizetype offset = 0;
    if (c->state == Connection::Upgrading) {
        const HandshakeResponse r = HandshakeResponse::parse(buffer, c->key, m_options.maxResponseBytes);
        if (r.status == HandshakeResponse::Status::Incomplete) {
            c->in = buffer;
            c->in.detach();
            return;
        }
        if (r.status == HandshakeResponse::Status::Bad) {
            QString why = r.error;
            if (r.retryAfterSeconds >= 0)
                why += u" (retry after %1 s)"_s.arg(r.retryAfterSeconds);
            finish(c, CloseAbnormal, why);
            return;
        }
        offset = r.consumed;
        c->key = QByteArray();
        c->state = Connection::Open;
        if (c->handler)
            c->handler->wsConnected(id);
        if (!find(id))
            return;
    }
    while (c->state == Connection::Open || c->state == Connection::Closing) {
        qsizetype used = 0;
        FrameParser::Event e = c->parser.next(QByteArrayView(buffer).sliced(offset), &used);
        offset += used;
        switch (e.kind) {
        case FrameParser::Event::None:
            if (offset < buffer.size()) {
                c->in = buffer.sliced(offset);
                c->in.detach();
            }
            return;
        case FrameParser::Event::Message:
            if (c->state == Connection::Open && c->handler)
                c->handler->wsMessage(id, e.payload, e.text);
            break;
        case FrameParser::Event::Ping:
            write(c, encodeFrame(Opcode::Pong, e.payload, mask()));
            break;
        case FrameParser::Event::Pong:
            break;
        case FrameParser::Event::Close:
            if (c->state == Connection::Open)
                write(c, e.code == 1005 ? encodeFrame(Opcode::Close, {}, mask()) : encodeClose(e.code, {}, mask()));
            if (find(id))
                finish(c, e.code, e.payload.isEmpty() ? u"closed by the server (%1)"_s.arg(e.code)
                                                      : u"closed by the server: %1"_s.arg(QString::fromUtf8(e.payload)));
            return;
        case FrameParser::Event::Error:
            qCDebug(lcWsClient, "connection %d: %s", c->fd, qPrintable(e.error));
            write(c, encodeClose(e.code, e.error.toUtf8(), mask()));
            if (find(id))
                finish(c, e.code, e.error);
            return;
        }
        if (!find(id))
            return;
    }
}

bool ClientPool::write(Connection *c, QByteArrayView bytes)
{
    if (c->state == Connection::Dead)
        return false;
    if (m_table.dispatching() && c->state == Connection::Open && (c->corked || c->out.isEmpty())) {
        // Inside a dispatch, what a handler sends waits for its end: several messages to one
        // server (samples freed by one ack) then leave in one segment, and the server reads
        // them at once and answers them with one ack.
        if (!c->corked) {
            c->corked = true;
            m_corked.push_back(c->id());
        }
        c->out.append(bytes);
        return true;
    }
    QString error;
    switch (io::sendOrQueue(c->fd, c->out, bytes, m_options.maxOutboundBytes, &error)) {
    case io::Result::Done:
        return true;
    case io::Result::Pending:
        setInterest(c, true);
        return true;
    case io::Result::Overflow:
        finish(c, CloseAbnormal, u"the server stopped reading (%1 bytes waiting)"_s.arg(c->out.size()));
        return false;
    default:
        finish(c, CloseAbnormal, error);
        return false;
    }
}

void ClientPool::flush(Connection *c)
{
    QString error;
    switch (io::flush(c->fd, c->out, &error)) {
    case io::Result::Done:
        setInterest(c, false);
        return;
    case io::Result::Pending:
        setInterest(c, true); // the rest when the kernel takes more
        return;
    default:
        finish(c, CloseAbnormal, error);
        return;
    }
}

void ClientPool::setInterest(Connection *c, bool out)
{
    if (c->writeInterest == out)
        return;
    c->writeInterest = out;
    io::watch(m_epoll, c->fd, c->id(), out);
}

bool ClientPool::sendBinary(ConnectionId id, QByteArrayView message)
{
    Connection *c = find(id);
    return c && c->state == Connection::Open && write(c, encodeFrame(Opcode::Binary, message, mask()));
}

bool ClientPool::sendText(ConnectionId id, QByteArrayView utf8)
{
    Connection *c = find(id);
    return c && c->state == Connection::Open && write(c, encodeFrame(Opcode::Text, utf8, mask()));
}

ClientPool::Connection *ClientPool::letGo(ConnectionId id)
{
    Connection *c = find(id);
    if (c)
        c->handler = nullptr;
    else if (quint32(id) == kNoDescriptor)
        m_cancelledFailures.insert(id); // its queued failure is not delivered
    return c;
}

void ClientPool::close(ConnectionId id, quint16 code, QByteArrayView reason)
{
    Connection *c = letGo(id);
    if (!c)
        return;
    if (c->state != Connection::Open) {
        finish(c, code, {});
        return;
    }
    c->state = Connection::Closing;
    c->closingSinceMs = m_clock.elapsed();
    ++m_closing;
    m_closeSweep.start();
    write(c, encodeClose(code, reason, mask()));
}

void ClientPool::abort(ConnectionId id)
{
    if (Connection *c = letGo(id))
        finish(c, CloseAbnormal, {});
}

void ClientPool::finish(Connection *c, quint16 code, const QString &reason)
{
    if (c->state == Connection::Dead)
        return;
    if (c->state == Connection::Closing)
        --m_closing;
    const ConnectionId id = c->id();
    c->state = Connection::Dead;
    epoll_ctl(m_epoll, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    c->in = QByteArray();
    c->out = QByteArray();
    ClientHandler *handler = std::exchange(c->handler, nullptr);
    m_table.retire(c, this); // the caller may be inside a callback of this connection
    if (handler)
        handler->wsClosed(id, code, reason);
}

void ClientPool::sweepClosing()
{
    if (m_closing == 0) {
        m_closeSweep.stop();
        return;
    }
    const qint64 now = m_clock.elapsed();
    for (Connection *c : m_table.slots()) {
        if (c && c->state == Connection::Closing && now - c->closingSinceMs > m_options.closeTimeoutMs)
            finish(c, CloseAbnormal, {});
    }
}

} // namespace iptv::ws
