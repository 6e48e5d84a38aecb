#include "socketio.h"

#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <sys/socket.h>

namespace iptv::ws::io {

namespace {
bool transient(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}
QString errorText(int e)
{
    return QString::fromLocal8Bit(strerror(e));
}
} // namespace

Result sendOrQueue(int fd, QByteArray &out, QByteArrayView bytes, qsizetype maxOut, QString *error)
{
    if (out.isEmpty()) {
        const ssize_t n = ::send(fd, bytes.data(), size_t(bytes.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == bytes.size())
            return Result::Done;
        if (n < 0 && !transient(errno)) {
            *error = errorText(errno);
            return Result::Failed;
        }
        out = bytes.sliced(std::max<ssize_t>(n, 0)).toByteArray();
        return Result::Pending;
    }
    if (out.size() + bytes.size() > maxOut)
        return Result::Overflow;
    out.append(bytes);
    return Result::Pending;
}

Result flush(int fd, QByteArray &out, QString *error)
{
    if (out.isEmpty())
        return Result::Done;
    const ssize_t n = ::send(fd, out.constData(), size_t(out.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        if (transient(errno))
            return Result::Pending;
        *error = errorText(errno);
        return Result::Failed;
    }
    if (n == out.size()) {
        out = QByteArray(); // give the memory back: most connections are idle most of the time
        return Result::Done;
    }
    out.remove(0, n);
    return Result::Pending;
}

Result readSome(int fd, QByteArray &buffer, const std::function<bool(QByteArrayView)> &consume, QString *error)
{
    // Level-triggered: a few reads a turn, the rest on the next.
    for (int reads = 0; reads < 4; ++reads) {
        const ssize_t n = ::recv(fd, buffer.data(), size_t(buffer.size()), 0);
        if (n > 0) {
            if (!consume(QByteArrayView(buffer.constData(), n)))
                return Result::Done;
            if (n < buffer.size())
                return Result::Done;
            continue;
        }
        if (n == 0)
            return Result::Closed;
        if (transient(errno))
            return Result::Done;
        *error = errorText(errno);
        return Result::Failed;
    }
    return Result::Done;
}

void watch(int epoll, int fd, quint64 tag, bool writable)
{
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (writable ? EPOLLOUT : 0u);
    ev.data.u64 = tag;
    epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &ev);
}

} // namespace iptv::ws::io
