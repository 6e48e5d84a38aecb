#pragma once

// The pure parts of RFC 6455 (no sockets), so they can be tested and fuzzed on bytes alone:
// the opening handshake of both sides and the frame parser.

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <optional>

namespace iptv::ws {

enum class Opcode : quint8 { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

/// Close codes of RFC 6455 section 7.4.1 that the server sends.
enum CloseCode : quint16 {
    CloseNormal = 1000,
    CloseGoingAway = 1001,
    CloseProtocolError = 1002,
    CloseUnsupportedData = 1003,
    CloseAbnormal = 1006,     ///< never sent: the connection dropped without a close frame
    CloseInvalidPayload = 1007,
    ClosePolicyViolation = 1008,
    CloseTooBig = 1009,
    CloseInternalError = 1011,
};

/// The client's upgrade request, parsed and checked.
struct Handshake
{
    enum class Status { Incomplete, Ok, Bad };
    Status status = Status::Incomplete;
    int httpStatus = 0;       ///< with Bad: 400, 404, 405, 426, 431
    QString error;            ///< with Bad: why, for the log and the response body
    qsizetype consumed = 0;   ///< bytes of the request (data after it are frames)
    QByteArray path;
    QByteArray key;           ///< Sec-WebSocket-Key
    QByteArray forwardedFor;  ///< X-Forwarded-For / X-Real-IP from a load balancer, if any

    /// Parses `data` (what arrived so far) for a GET upgrade to `path` (exact match, query ignored).
    static Handshake parse(QByteArrayView data, QByteArrayView path, qsizetype maxBytes = 8192);
    /// The 101 response.
    QByteArray response() const;
    /// A plain HTTP error response for Bad.
    QByteArray errorResponse() const;
};

/// The server's answer to a client's upgrade request, parsed and checked (the client side).
struct HandshakeResponse
{
    enum class Status { Incomplete, Ok, Bad };
    Status status = Status::Incomplete;
    int httpStatus = 0;       ///< the status the server sent (101 with Ok)
    QString error;            ///< with Bad: why
    int retryAfterSeconds = -1; ///< a Retry-After header (503 from admission control), or -1
    qsizetype consumed = 0;   ///< bytes of the response head (data after it are frames)

    /// The upgrade request for `resource` (path and query) on `host` ("name:port").
    static QByteArray request(QByteArrayView host, QByteArrayView resource, QByteArrayView key);
    /// Parses what arrived so far against the request's Sec-WebSocket-Key.
    static HandshakeResponse parse(QByteArrayView data, QByteArrayView key, qsizetype maxBytes = 8192);
};

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
QByteArray acceptKey(QByteArrayView key);

/// One frame with FIN set: unmasked as a server sends it, or masked with `mask` as a client must.
QByteArray encodeFrame(Opcode opcode, QByteArrayView payload, std::optional<quint32> mask = std::nullopt);
QByteArray encodeClose(quint16 code, QByteArrayView reason = {}, std::optional<quint32> mask = std::nullopt);

/// Frame parser of either side: feed bytes, get whole messages and control frames. A server
/// takes only masked frames and a client only unmasked ones; fragments are joined up to the
/// message limit; control frames may come between fragments. Every violation ends with a close
/// code and a reason.
class FrameParser
{
public:
    enum class Role : quint8 { Server, Client };

    struct Event
    {
        enum Kind : quint8 { None, Message, Ping, Pong, Close, Error };
        Kind kind = None;
        bool text = false;     ///< Message: a text message (UTF-8 checked)
        QByteArray payload;    ///< Message/Ping/Pong payload; Close: the reason
        quint16 code = 0;      ///< Close: the peer's code (1005 when none); Error: the code to send
        QString error;         ///< Error: why
    };

    explicit FrameParser(qsizetype maxMessageBytes = 1024 * 1024, Role role = Role::Server)
        : m_maxMessage(maxMessageBytes), m_client(role == Role::Client) {}

    /// Parses one event from the front of `data`; `*consumed` says how many bytes it used
    /// (0 with None: more bytes needed). Call again with the rest until None.
    Event next(QByteArrayView data, qsizetype *consumed);

    /// Bytes held for a fragmented message (memory accounting).
    qsizetype pendingBytes() const { return m_fragments.size(); }

private:
    Event fail(quint16 code, const QString &why);

    qsizetype m_maxMessage;
    QByteArray m_fragments;
    bool m_inFragmented = false;
    bool m_fragmentedText = false;
    bool m_failed = false;
    bool m_client = false;
};

} // namespace iptv::ws
