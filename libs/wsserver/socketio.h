#pragma once

// The non-blocking socket chores both ends of the lean WebSocket endpoint share (ws::Server,
// ws::ClientPool): send now or keep the rest for EPOLLOUT, flush what waits, read a few chunks a
// turn, and set what epoll watches. Internal to libs/wsserver.

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <functional>

namespace iptv::ws::io {

enum class Result : quint8 {
    Done,     ///< everything went (or, reading: the socket is drained for now)
    Pending,  ///< bytes wait in the out buffer: watch for EPOLLOUT
    Overflow, ///< the out buffer would pass its limit: the peer stopped reading
    Closed,   ///< reading: the peer closed the connection
    Failed,   ///< a socket error; *error says which
};

/// Sends `bytes` at once when nothing waits before them, else appends them to `out`.
Result sendOrQueue(int fd, QByteArray &out, QByteArrayView bytes, qsizetype maxOut, QString *error);
/// Sends what waits in `out`; Done releases the buffer (idle connections hold none).
Result flush(int fd, QByteArray &out, QString *error);
/// Reads up to four chunks into `buffer`, handing each to `consume` (which returns false when it
/// ended the connection), so one busy peer cannot starve the rest of the turn.
Result readSome(int fd, QByteArray &buffer, const std::function<bool(QByteArrayView)> &consume, QString *error);
/// What epoll watches on `fd`: input and hang-up, plus output while `writable`.
void watch(int epoll, int fd, quint64 tag, bool writable);

} // namespace iptv::ws::io
