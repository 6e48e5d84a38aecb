#include "wsserver.h"

#include "socketio.h"

#include <QLoggingCategory>
#include <QSocketNotifier>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcWs, "iptv.ws")

using namespace Qt::StringLiterals;

namespace iptv::ws {

struct Server::Connection
{
    enum State : quint8 { Handshake, Open, Closing, Dead };
    int fd = -1;
    quint32 generation = 0;
    State state = Handshake;
    bool writeInterest = false;
    bool closeAfterWrite = false; ///< a handshake error response: close once it is out
    qint64 closingSinceMs = 0;
    QByteArray in;  ///< bytes received but not yet a whole frame
    QByteArray out; ///< bytes the kernel did not take yet
    FrameParser parser;

    ConnectionId id() const { return ConnectionTable<Connection>::idOf(this); }
    bool dead() const { return state == Dead; }
};

namespace {
constexpr quint32 kListenerGeneration = 0; // connections start at 1 (ConnectionTable::nextGeneration)
constexpr qsizetype kReadChunk = 64 * 1024;
} // namespace

Server::Server(ServerOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_readBuffer(kReadChunk, Qt::Uninitialized)
{
    m_clock.start();
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (m_epoll < 0) {
        qCCritical(lcWs, "epoll_create1: %s", strerror(errno));
        return;
    }
    m_notifier = new QSocketNotifier(m_epoll, QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &Server::dispatch);
    m_closeSweep.setInterval(500);
    connect(&m_closeSweep, &QTimer::timeout, this, &Server::sweepClosing);
}

Server::~Server()
{
    if (m_listenFd >= 0)
        ::close(m_listenFd);
    if (m_epoll >= 0)
        ::close(m_epoll);
}

bool Server::listen(const QHostAddress &address, quint16 port, QString *error)
{
    const bool v6 = address.protocol() == QAbstractSocket::IPv6Protocol;
    m_listenFd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m_listenFd < 0) {
        *error = u"socket: "_s + QString::fromLocal8Bit(strerror(errno));
        return false;
    }
    const int one = 1;
    setsockopt(m_listenFd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (v6) {
        auto *a = reinterpret_cast<sockaddr_in6 *>(&storage);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        const Q_IPV6ADDR ip = address.toIPv6Address();
        memcpy(&a->sin6_addr, &ip, sizeof ip);
        length = sizeof *a;
    } else {
        auto *a = reinterpret_cast<sockaddr_in *>(&storage);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(address == QHostAddress::Any ? INADDR_ANY : address.toIPv4Address());
        length = sizeof *a;
    }
    if (::bind(m_listenFd, reinterpret_cast<sockaddr *>(&storage), length) != 0 || ::listen(m_listenFd, 4096) != 0) {
        *error = u"cannot listen on %1:%2: %3"_s.arg(address.toString()).arg(port).arg(QString::fromLocal8Bit(strerror(errno)));
        ::close(m_listenFd);
        m_listenFd = -1;
        return false;
    }
    getsockname(m_listenFd, reinterpret_cast<sockaddr *>(&storage), &length);
    m_port = ntohs(v6 ? reinterpret_cast<sockaddr_in6 *>(&storage)->sin6_port : reinterpret_cast<sockaddr_in *>(&storage)->sin_port);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (quint64(kListenerGeneration) << 32) | quint32(m_listenFd);
    epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_listenFd, &ev);
    return true;
}

ConnectionId Server::adopt(qintptr descriptor)
{
    const int fd = int(descriptor);
    const int flags = fcntl(fd, F_GETFL);
    const int one = 1;
    if (m_epoll < 0 || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        ::close(fd);
        return 0;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); // commands and acks are small and urgent
    auto *c = new Connection;
    c->fd = fd;
    c->generation = m_table.nextGeneration();
    c->parser = FrameParser(m_options.maxMessageBytes);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = c->id();
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
        qCWarning(lcWs, "epoll_ctl add: %s", strerror(errno));
        ::close(fd);
        delete c;
        return 0;
    }
    m_table.add(c);
    return c->id();
}

Server::Connection *Server::find(ConnectionId id) const
{
    return m_table.find(id);
}

bool Server::isOpen(ConnectionId id) const
{
    const Connection *c = find(id);
    return c && c->state == Connection::Open;
}

QHostAddress Server::peerAddress(ConnectionId id) const
{
    const Connection *c = find(id);
    if (!c)
        return {};
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (getpeername(c->fd, reinterpret_cast<sockaddr *>(&storage), &length) != 0)
        return {};
    return QHostAddress(reinterpret_cast<sockaddr *>(&storage));
}

void Server::dispatch()
{
    m_table.dispatch(m_epoll, [this](const epoll_event &event) {
        const quint64 tag = event.data.u64;
        if (quint32(tag >> 32) == kListenerGeneration && int(quint32(tag)) == m_listenFd) {
            acceptAll();
            return;
        }
        Connection *c = find(tag);
        if (!c)
            return; // finished earlier in this round
        if (event.events & EPOLLOUT)
            flush(c);
        if (!c->dead() && (event.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
            readFrom(c);
    }, [] {});
}

void Server::acceptAll()
{
    for (;;) {
        const int fd = accept4(m_listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                qCWarning(lcWs, "accept: %s", strerror(errno));
            return;
        }
        adopt(fd);
    }
}

void Server::readFrom(Connection *c)
{
    const ConnectionId id = c->id();
    QString error;
    const io::Result r = io::readSome(c->fd, m_readBuffer, [&](QByteArrayView data) {
        process(c, data);
        return find(id) != nullptr;
    }, &error);
    if (!find(id))
        return;
    if (r == io::Result::Closed)
        finish(c, CloseAbnormal, u"connection closed by the peer without a close frame"_s);
    else if (r == io::Result::Failed)
        finish(c, CloseAbnormal, error);
}

void Server::process(Connection *c, QByteArrayView data)
{
    const ConnectionId id = c->id();
    if (c->in.isEmpty()) {
        // The common case, whole frames in one read: parsed straight from the read buffer, and
        // only a partial rest is copied (detach() on raw data makes the copy).
        c->in = QByteArray::fromRawData(data.data(), data.size());
        handleData(c);
        if (find(id) && !c->in.isEmpty())
            c->in.detach();
        return;
    }
    c->in.append(data);
    handleData(c);
}

void Server::handleData(Connection *c)
{
    const ConnectionId id = c->id();
    qsizetype offset = 0;
    const auto rest = [&]() { return QByteArrayView(c->in).sliced(offset); };
    if (c->state == Connection::Handshake) {
        Handshake h = Handshake::parse(rest(), m_options.path, m_options.maxHandshakeBytes);
        if (h.status == Handshake::Status::Incomplete)
            return;
        if (h.status == Handshake::Status::Bad) {
            c->in = QByteArray();
            Q_EMIT handshakeFailed(id, h.httpStatus, h.error);
            if (find(id)) {
                c->closeAfterWrite = true;
                c->state = Connection::Closing;
                c->closingSinceMs = m_clock.elapsed();
                ++m_closing;
                m_closeSweep.start();
                write(c, h.errorResponse());
                if (find(id) && c->out.isEmpty())
                    finish(c, CloseProtocolError, h.error);
            }
            return;
        }
        offset = h.consumed;
        c->state = Connection::Open;
        if (!write(c, h.response()))
            return;
        Q_EMIT upgraded(id);
        if (!find(id))
            return;
    }
    while (c->state == Connection::Open || c->state == Connection::Closing) {
        qsizetype used = 0;
        FrameParser::Event e = c->parser.next(rest(), &used);
        offset += used;
        if (e.kind == FrameParser::Event::None)
            break;
        switch (e.kind) {
        case FrameParser::Event::Message:
            if (c->state == Connection::Open)
                Q_EMIT messageReceived(id, e.payload, e.text);
            break;
        case FrameParser::Event::Ping:
            write(c, encodeFrame(Opcode::Pong, e.payload));
            break;
        case FrameParser::Event::Pong:
            break;
        case FrameParser::Event::Close:
            if (c->state == Connection::Open)
                write(c, e.code == 1005 ? encodeFrame(Opcode::Close, {}) : encodeClose(e.code));
            if (find(id))
                finish(c, e.code, QString::fromUtf8(e.payload));
            return;
        case FrameParser::Event::Error:
            qCDebug(lcWs, "connection %d: %s", c->fd, qPrintable(e.error));
            write(c, encodeClose(e.code, e.error.toUtf8()));
            if (find(id))
                finish(c, e.code, e.error);
            return;
        case FrameParser::Event::None:
            break;
        }
        if (!find(id))
            return;
    }
    if (find(id))
        c->in = offset >= c->in.size() ? QByteArray() : c->in.sliced(offset);
}

bool Server::write(Connection *c, QByteArrayView bytes)
{
    if (c->state == Connection::Dead)
        return false;
    QString error;
    switch (io::sendOrQueue(c->fd, c->out, bytes, m_options.maxOutboundBytes, &error)) {
    case io::Result::Done:
        return true;
    case io::Result::Pending:
        setWriteInterest(c, true);
        return true;
    case io::Result::Overflow:
        finish(c, ClosePolicyViolation, u"peer stopped reading (%1 bytes waiting)"_s.arg(c->out.size()));
        return false;
    default:
        finish(c, CloseAbnormal, error);
        return false;
    }
}

void Server::flush(Connection *c)
{
    QString error;
    switch (io::flush(c->fd, c->out, &error)) {
    case io::Result::Done:
        setWriteInterest(c, false);
        if (c->closeAfterWrite)
            finish(c, CloseProtocolError, u"handshake refused"_s);
        return;
    case io::Result::Pending:
        return;
    default:
        finish(c, CloseAbnormal, error);
        return;
    }
}

void Server::setWriteInterest(Connection *c, bool on)
{
    if (c->writeInterest == on)
        return;
    c->writeInterest = on;
    io::watch(m_epoll, c->fd, c->id(), on);
}

bool Server::sendBinary(ConnectionId id, QByteArrayView message)
{
    Connection *c = find(id);
    return c && c->state == Connection::Open && write(c, encodeFrame(Opcode::Binary, message));
}

bool Server::sendText(ConnectionId id, QByteArrayView utf8)
{
    Connection *c = find(id);
    return c && c->state == Connection::Open && write(c, encodeFrame(Opcode::Text, utf8));
}

void Server::close(ConnectionId id, quint16 code, QByteArrayView reason)
{
    Connection *c = find(id);
    if (!c || c->state == Connection::Closing)
        return;
    if (c->state == Connection::Handshake) {
        finish(c, code, QString::fromUtf8(reason));
        return;
    }
    c->state = Connection::Closing;
    c->closingSinceMs = m_clock.elapsed();
    ++m_closing;
    m_closeSweep.start();
    write(c, encodeClose(code, reason));
}

void Server::abort(ConnectionId id, const QString &reason)
{
    if (Connection *c = find(id))
        finish(c, CloseAbnormal, reason);
}

void Server::closeAll(quint16 code)
{
    if (m_listenFd >= 0) {
        epoll_ctl(m_epoll, EPOLL_CTL_DEL, m_listenFd, nullptr);
        ::close(m_listenFd);
        m_listenFd = -1;
    }
    for (Connection *c : m_table.slots()) {
        if (c && !c->dead())
            close(c->id(), code, "server going away");
    }
}

void Server::finish(Connection *c, quint16 code, const QString &reason)
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
    m_table.retire(c, this); // the caller may be inside a signal handler of this connection
    Q_EMIT disconnected(id, code, reason);
}

void Server::sweepClosing()
{
    if (m_closing == 0) {
        m_closeSweep.stop();
        return;
    }
    const qint64 now = m_clock.elapsed();
    for (Connection *c : m_table.slots()) {
        if (c && c->state == Connection::Closing && now - c->closingSinceMs > m_options.closeTimeoutMs)
            finish(c, CloseAbnormal, u"no close frame from the peer within %1 ms"_s.arg(m_options.closeTimeoutMs));
    }
}

} // namespace iptv::ws
