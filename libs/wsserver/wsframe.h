#pragma once

// The pure parts of RFC 6455 (no sockets), so they can be tested and fuzzed on bytes alone:
// the opening handshake and the frame parser of the server side.

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

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

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
QByteArray acceptKey(QByteArrayView key);

/// One unmasked server frame (FIN set).
QByteArray encodeFrame(Opcode opcode, QByteArrayView payload);
QByteArray encodeClose(quint16 code, QByteArrayView reason = {});

/// Server side frame parser: feed bytes, get whole messages and control frames. Client frames
/// must be masked; fragments are joined up to the message limit; control frames may come
/// between fragments. Every violation ends with a close code and a reason.
class FrameParser
{
public:
    struct Event
    {
        enum Kind : quint8 { None, Message, Ping, Pong, Close, Error };
        Kind kind = None;
        bool text = false;     ///< Message: a text message (UTF-8 checked)
        QByteArray payload;    ///< Message/Ping/Pong payload; Close: the reason
        quint16 code = 0;      ///< Close: the peer's code (1005 when none); Error: the code to send
        QString error;         ///< Error: why
    };

    explicit FrameParser(qsizetype maxMessageBytes = 1024 * 1024) : m_maxMessage(maxMessageBytes) {}

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
};

} // namespace iptv::ws
