#include "wsframe.h"

#include <QCryptographicHash>
#include <QList>

using namespace Qt::StringLiterals;

namespace iptv::ws {

namespace {

QByteArrayView trimmed(QByteArrayView v)
{
    while (!v.isEmpty() && (v.front() == ' ' || v.front() == '\t'))
        v = v.sliced(1);
    while (!v.isEmpty() && (v.back() == ' ' || v.back() == '\t'))
        v.chop(1);
    return v;
}

bool equalsIgnoreCase(QByteArrayView a, QByteArrayView b)
{
    return a.compare(b, Qt::CaseInsensitive) == 0;
}

/// True when the comma-separated header value holds `token` (case-insensitive).
bool hasToken(QByteArrayView value, QByteArrayView token)
{
    while (!value.isEmpty()) {
        const qsizetype comma = value.indexOf(',');
        const QByteArrayView item = trimmed(comma < 0 ? value : value.first(comma));
        if (equalsIgnoreCase(item, token))
            return true;
        if (comma < 0)
            break;
        value = value.sliced(comma + 1);
    }
    return false;
}

/// An HTTP/1.1 head as it arrives: complete or not, its first line, and the header lines after it.
struct HttpHead
{
    qsizetype consumed = 0;   ///< 0: not complete yet
    bool tooLarge = false;    ///< no end within maxBytes
    QByteArrayView firstLine;
    QByteArrayView fields;    ///< the header lines, each ending in CRLF
};

HttpHead splitHead(QByteArrayView data, qsizetype maxBytes)
{
    HttpHead head;
    const qsizetype end = data.first(std::min(data.size(), maxBytes)).indexOf("\r\n\r\n");
    if (end < 0) {
        head.tooLarge = data.size() >= maxBytes;
        return head;
    }
    head.consumed = end + 4;
    const QByteArrayView lines = data.first(end + 2);
    const qsizetype firstEnd = lines.indexOf("\r\n");
    head.firstLine = lines.first(firstEnd);
    head.fields = lines.sliced(firstEnd + 2);
    return head;
}

/// Calls `field(name, value)` for each header line (value trimmed); false at a line without a name.
template<typename Field>
bool forEachField(QByteArrayView fields, Field field)
{
    while (!fields.isEmpty()) {
        const qsizetype lineEnd = fields.indexOf("\r\n");
        const QByteArrayView line = fields.first(lineEnd);
        fields = fields.sliced(lineEnd + 2);
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            return false;
        field(line.first(colon), trimmed(line.sliced(colon + 1)));
    }
    return true;
}

bool validCloseCode(quint16 code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

} // namespace

Handshake Handshake::parse(QByteArrayView data, QByteArrayView path, qsizetype maxBytes)
{
    Handshake h;
    const auto bad = [&h](int status, const QString &why) {
        h.status = Status::Bad;
        h.httpStatus = status;
        h.error = why;
        return h;
    };
    const HttpHead head = splitHead(data, maxBytes);
    if (head.tooLarge)
        return bad(431, u"request header over %1 bytes"_s.arg(maxBytes));
    if (!head.consumed)
        return h;
    h.consumed = head.consumed;
    const QByteArrayView requestLine = head.firstLine;

    const QList<QByteArrayView> parts = [&] {
        QList<QByteArrayView> out;
        QByteArrayView v = requestLine;
        for (qsizetype sp; (sp = v.indexOf(' ')) >= 0; v = v.sliced(sp + 1))
            out.append(v.first(sp));
        out.append(v);
        return out;
    }();
    if (parts.size() != 3 || !parts[2].startsWith("HTTP/1."))
        return bad(400, u"not an HTTP/1.1 request line"_s);
    if (parts[0] != "GET")
        return bad(405, u"method %1 (a WebSocket upgrade is a GET)"_s.arg(QString::fromLatin1(parts[0].first(std::min<qsizetype>(parts[0].size(), 16)))));
    QByteArrayView target = parts[1];
    if (const qsizetype q = target.indexOf('?'); q >= 0)
        target = target.first(q);
    h.path = target.toByteArray();
    if (target != path)
        return bad(404, u"no WebSocket endpoint at %1"_s.arg(QString::fromLatin1(h.path.left(128))));

    QByteArrayView upgrade, connection, version;
    const bool wellFormed = forEachField(head.fields, [&](QByteArrayView name, QByteArrayView value) {
        if (equalsIgnoreCase(name, "upgrade"))
            upgrade = value;
        else if (equalsIgnoreCase(name, "connection"))
            connection = value;
        else if (equalsIgnoreCase(name, "sec-websocket-key"))
            h.key = value.toByteArray();
        else if (equalsIgnoreCase(name, "sec-websocket-version"))
            version = value;
        else if (equalsIgnoreCase(name, "x-forwarded-for") || (equalsIgnoreCase(name, "x-real-ip") && h.forwardedFor.isEmpty()))
            h.forwardedFor = value.first(std::min<qsizetype>(value.size(), 64)).toByteArray();
    });
    if (!wellFormed)
        return bad(400, u"malformed header line"_s);
    if (!hasToken(upgrade, "websocket") || !hasToken(connection, "upgrade"))
        return bad(400, u"not a WebSocket upgrade (Upgrade: websocket and Connection: Upgrade are required)"_s);
    if (version != "13")
        return bad(426, u"WebSocket version %1 (this server speaks 13)"_s.arg(QString::fromLatin1(version.first(std::min<qsizetype>(version.size(), 8)))));
    const auto decoded = QByteArray::fromBase64Encoding(h.key, QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || decoded.decoded.size() != 16)
        return bad(400, u"Sec-WebSocket-Key is not 16 bytes in base64"_s);
    h.status = Status::Ok;
    return h;
}

QByteArray Handshake::response() const
{
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
        + acceptKey(key) + "\r\n\r\n";
}

QByteArray Handshake::errorResponse() const
{
    const char *reason = httpStatus == 404 ? "Not Found"
        : httpStatus == 405                ? "Method Not Allowed"
        : httpStatus == 426                ? "Upgrade Required"
        : httpStatus == 431                ? "Request Header Fields Too Large"
        : httpStatus == 503                ? "Service Unavailable"
                                           : "Bad Request";
    const QByteArray body = error.toUtf8() + '\n';
    QByteArray out = "HTTP/1.1 " + QByteArray::number(httpStatus) + ' ' + reason + "\r\n";
    if (httpStatus == 426)
        out += "Sec-WebSocket-Version: 13\r\n";
    out += "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: " + QByteArray::number(body.size())
        + "\r\n\r\n" + body;
    return out;
}

QByteArray acceptKey(QByteArrayView key)
{
    QCryptographicHash sha1(QCryptographicHash::Sha1);
    sha1.addData(key);
    sha1.addData("258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    return sha1.result().toBase64();
}

QByteArray HandshakeResponse::request(QByteArrayView host, QByteArrayView resource, QByteArrayView key)
{
    QByteArray out;
    out.reserve(160 + host.size() + resource.size());
    out.append("GET ").append(resource.isEmpty() ? QByteArrayView("/") : resource).append(" HTTP/1.1\r\nHost: ").append(host);
    out.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ");
    out.append(key).append("\r\n\r\n");
    return out;
}

HandshakeResponse HandshakeResponse::parse(QByteArrayView data, QByteArrayView key, qsizetype maxBytes)
{
    HandshakeResponse r;
    const auto bad = [&r](const QString &why) {
        r.status = Status::Bad;
        r.error = why;
        return r;
    };
    const HttpHead head = splitHead(data, maxBytes);
    if (head.tooLarge)
        return bad(u"response header over %1 bytes"_s.arg(maxBytes));
    if (!head.consumed)
        return r;
    r.consumed = head.consumed;
    const QByteArrayView statusLine = head.firstLine;
    // "HTTP/1.1 101 Switching Protocols"
    if (!statusLine.startsWith("HTTP/1.") || statusLine.size() < 12 || statusLine[8] != ' ')
        return bad(u"not an HTTP/1.1 status line"_s);
    bool numeric = false;
    r.httpStatus = statusLine.sliced(9, 3).toInt(&numeric);
    if (!numeric)
        return bad(u"not an HTTP/1.1 status line"_s);

    QByteArrayView upgrade, connection, accept;
    const bool wellFormed = forEachField(head.fields, [&](QByteArrayView name, QByteArrayView value) {
        if (equalsIgnoreCase(name, "upgrade"))
            upgrade = value;
        else if (equalsIgnoreCase(name, "connection"))
            connection = value;
        else if (equalsIgnoreCase(name, "sec-websocket-accept"))
            accept = value;
        else if (equalsIgnoreCase(name, "retry-after"))
            r.retryAfterSeconds = std::max(-1, value.toInt());
    });
    if (!wellFormed)
        return bad(u"malformed header line"_s);
    if (r.httpStatus != 101) {
        const QByteArrayView reason = statusLine.size() > 13 ? statusLine.sliced(13) : QByteArrayView();
        return bad(u"the server answered HTTP %1 %2"_s.arg(r.httpStatus).arg(QString::fromLatin1(reason.first(std::min<qsizetype>(reason.size(), 64)))).trimmed());
    }
    if (!hasToken(upgrade, "websocket") || !hasToken(connection, "upgrade"))
        return bad(u"101 without Upgrade: websocket and Connection: Upgrade"_s);
    if (accept != acceptKey(key))
        return bad(u"Sec-WebSocket-Accept does not match the key sent"_s);
    r.status = Status::Ok;
    return r;
}

QByteArray encodeFrame(Opcode opcode, QByteArrayView payload, std::optional<quint32> mask)
{
    QByteArray out;
    const qsizetype n = payload.size();
    out.reserve(n + 14);
    out.append(char(0x80 | quint8(opcode)));
    const char maskBit = mask ? char(0x80) : char(0);
    if (n < 126) {
        out.append(char(n | maskBit));
    } else if (n < 65536) {
        out.append(char(126 | maskBit)).append(char(n >> 8)).append(char(n & 0xff));
    } else {
        out.append(char(127 | maskBit));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.append(char((quint64(n) >> shift) & 0xff));
    }
    if (!mask) {
        out.append(payload);
        return out;
    }
    const char key[4] = {char(*mask >> 24), char(*mask >> 16), char(*mask >> 8), char(*mask)};
    out.append(key, 4);
    const qsizetype start = out.size();
    out.append(payload);
    char *p = out.data() + start;
    for (qsizetype i = 0; i < n; ++i)
        p[i] = char(p[i] ^ key[i & 3]);
    return out;
}

QByteArray encodeClose(quint16 code, QByteArrayView reason, std::optional<quint32> mask)
{
    QByteArray payload;
    payload.append(char(code >> 8)).append(char(code & 0xff)).append(reason.first(std::min<qsizetype>(reason.size(), 123)));
    return encodeFrame(Opcode::Close, payload, mask);
}

FrameParser::Event FrameParser::fail(quint16 code, const QString &why)
{
    m_failed = true;
    m_fragments.clear();
    Event e;
    e.kind = Event::Error;
    e.code = code;
    e.error = why;
    return e;
}

FrameParser::Event FrameParser::next(QByteArrayView data, qsizetype *consumed)
{
    *consumed = 0;
    if (m_failed)
        return {};
    qsizetype offset = 0;
    for (;;) {
        const QByteArrayView d = data.sliced(offset);
        if (d.size() < 2) {
            *consumed = offset;
            return {};
        }
        const auto b0 = quint8(d[0]);
        const auto b1 = quint8(d[1]);
        const bool fin = b0 & 0x80;
        const auto opcode = Opcode(b0 & 0x0f);
        if (b0 & 0x70)
            return fail(CloseProtocolError, u"reserved bits set (no extension was negotiated)"_s);
        const bool masked = b1 & 0x80;
        if (masked == m_client)
            return fail(CloseProtocolError, m_client ? u"server frames must not be masked"_s : u"client frames must be masked"_s);
        const bool control = quint8(opcode) >= 0x8;
        if (!(opcode == Opcode::Continuation || opcode == Opcode::Text || opcode == Opcode::Binary
              || opcode == Opcode::Close || opcode == Opcode::Ping || opcode == Opcode::Pong))
            return fail(CloseProtocolError, u"unknown opcode 0x%1"_s.arg(quint8(opcode), 0, 16));
        quint64 length = b1 & 0x7f;
        qsizetype header = 2;
        if (length == 126) {
            if (d.size() < 4) {
                *consumed = offset;
                return {};
            }
            length = (quint64(quint8(d[2])) << 8) | quint8(d[3]);
            header = 4;
        } else if (length == 127) {
            if (d.size() < 10) {
                *consumed = offset;
                return {};
            }
            length = 0;
            for (int i = 2; i < 10; ++i)
                length = (length << 8) | quint8(d[i]);
            if (length >> 63)
                return fail(CloseProtocolError, u"frame length with the high bit set"_s);
            header = 10;
        }
        if (control && (!fin || length > 125))
            return fail(CloseProtocolError, u"control frames are single frames of at most 125 bytes"_s);
        if (!control) {
            if (opcode == Opcode::Continuation && !m_inFragmented)
                return fail(CloseProtocolError, u"continuation frame without a message to continue"_s);
            if (opcode != Opcode::Continuation && m_inFragmented)
                return fail(CloseProtocolError, u"new message before the fragmented one ended"_s);
            if (quint64(m_fragments.size()) + length > quint64(m_maxMessage))
                return fail(CloseTooBig, u"message over %1 bytes"_s.arg(m_maxMessage));
        }
        if (masked)
            header += 4;
        if (quint64(d.size()) < quint64(header) + length) {
            *consumed = offset;
            return {};
        }
        QByteArray payload(d.data() + header, qsizetype(length));
        if (masked) {
            const char *mask = d.data() + header - 4;
            char *p = payload.data();
            for (qsizetype i = 0; i < qsizetype(length); ++i)
                p[i] = char(p[i] ^ mask[i & 3]);
        }
        const qsizetype frameSize = header + qsizetype(length);

        if (control) {
            *consumed = offset + frameSize;
            Event e;
            if (opcode == Opcode::Ping) {
                e.kind = Event::Ping;
                e.payload = std::move(payload);
            } else if (opcode == Opcode::Pong) {
                e.kind = Event::Pong;
                e.payload = std::move(payload);
            } else {
                e.kind = Event::Close;
                e.code = 1005;
                if (payload.size() == 1)
                    return fail(CloseProtocolError, u"close frame with a one-byte payload"_s);
                if (payload.size() >= 2) {
                    e.code = quint16((quint8(payload[0]) << 8) | quint8(payload[1]));
                    if (!validCloseCode(e.code))
                        return fail(CloseProtocolError, u"close code %1 is not one a peer may send"_s.arg(e.code));
                    e.payload = payload.sliced(2);
                    if (!QByteArrayView(e.payload).isValidUtf8())
                        return fail(CloseInvalidPayload, u"close reason is not UTF-8"_s);
                }
            }
            return e;
        }
        if (!fin) {
            if (opcode != Opcode::Continuation) {
                m_inFragmented = true;
                m_fragmentedText = opcode == Opcode::Text;
            }
            m_fragments += payload;
            offset += frameSize;
            continue;
        }
        Event e;
        e.kind = Event::Message;
        if (opcode == Opcode::Continuation) {
            e.text = m_fragmentedText;
            e.payload = std::move(m_fragments);
            e.payload += payload;
            m_fragments = QByteArray();
            m_inFragmented = false;
        } else {
            e.text = opcode == Opcode::Text;
            e.payload = std::move(payload);
        }
        if (e.text && !QByteArrayView(e.payload).isValidUtf8())
            return fail(CloseInvalidPayload, u"text message is not UTF-8"_s);
        *consumed = offset + frameSize;
        return e;
    }
}

} // namespace iptv::ws
