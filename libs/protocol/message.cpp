#include "message.h"

#include <QCborArray>
#include <QCborStreamReader>
#include <QCborStreamWriter>
#include <QCborValue>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStringDecoder>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <string_view>
#include <utility>

using namespace Qt::StringLiterals;

namespace iptv::protocol {

namespace {

struct NamedType
{
    MessageType type;
    QLatin1StringView name;
};

constexpr std::array s_types{
    NamedType{MessageType::Hello, "hello"_L1},
    NamedType{MessageType::Welcome, "welcome"_L1},
    NamedType{MessageType::Telemetry, "telemetry"_L1},
    NamedType{MessageType::Event, "event"_L1},
    NamedType{MessageType::Command, "command"_L1},
    NamedType{MessageType::Ack, "ack"_L1},
    NamedType{MessageType::Result, "result"_L1},
    NamedType{MessageType::GuideUpdated, "guide-updated"_L1},
    NamedType{MessageType::ReleaseAvailable, "release-available"_L1},
    NamedType{MessageType::Ping, "ping"_L1},
    NamedType{MessageType::Pong, "pong"_L1},
    NamedType{MessageType::Error, "error"_L1},
    NamedType{MessageType::Subscribe, "subscribe"_L1},
    NamedType{MessageType::Update, "update"_L1},
    NamedType{MessageType::Ticket, "ticket"_L1},
};

constexpr std::array s_errors{
    "none"_L1, "bad-frame"_L1, "too-large"_L1, "unknown-type"_L1, "unsupported-version"_L1,
    "bad-request"_L1, "unauthorized"_L1, "pending-approval"_L1, "rejected"_L1, "replay"_L1,
    "forbidden"_L1, "overloaded"_L1, "not-found"_L1, "conflict"_L1, "expired"_L1, "internal"_L1,
};
static_assert(s_errors.size() == size_t(ErrorCode::Internal) + 1);

constexpr std::array s_commands{
    "unknown"_L1, "reboot"_L1, "factory-reset"_L1, "tune"_L1, "message"_L1, "collect-logs"_L1,
    "screenshot"_L1, "set-config"_L1, "install-release"_L1,
};
static_assert(s_commands.size() == size_t(CommandKind::InstallRelease) + 1);

qint64 bounded(qint64 low, qint64 value, qint64 high)
{
    return std::clamp(value, low, high);
}

const QString s_keyType = u"t"_s;
const QString s_keyId = u"id"_s;
const QString s_keyRe = u"re"_s;

QString cborTypeName(const QCborValue &v)
{
    switch (v.type()) {
    case QCborValue::Integer: return u"integer"_s;
    case QCborValue::Double: return u"number"_s;
    case QCborValue::String: return u"text"_s;
    case QCborValue::ByteArray: return u"bytes"_s;
    case QCborValue::Array: return u"array"_s;
    case QCborValue::Map: return u"map"_s;
    case QCborValue::True:
    case QCborValue::False: return u"boolean"_s;
    case QCborValue::Null: return u"null"_s;
    default: return u"other"_s;
    }
}

// A streaming pass over the frame before any QCborValue is built: depth, container sizes and
// string sizes are checked against the limits, and malformed CBOR is found with its offset.
bool checkStructure(QCborStreamReader &reader, int depth, const DecodeLimits &limits, DecodeResult *result)
{
    const auto fail = [&](ErrorCode code, const QString &why) {
        result->error = code;
        result->errorText = why + u" at byte "_s + QString::number(reader.currentOffset());
        return false;
    };
    if (reader.lastError() != QCborError::NoError)
        return fail(ErrorCode::BadFrame, reader.lastError().toString());
    if (reader.isArray() || reader.isMap()) {
        if (depth >= limits.maxDepth)
            return fail(ErrorCode::TooLarge, u"nesting deeper than %1"_s.arg(limits.maxDepth));
        if (reader.isLengthKnown() && qint64(reader.length()) > qint64(limits.maxItems))
            return fail(ErrorCode::TooLarge, u"container of %1 items (limit %2)"_s.arg(reader.length()).arg(limits.maxItems));
        if (!reader.enterContainer())
            return fail(ErrorCode::BadFrame, reader.lastError().toString());
        qsizetype items = 0;
        while (reader.lastError() == QCborError::NoError && reader.hasNext()) {
            if (++items > limits.maxItems * (2))
                return fail(ErrorCode::TooLarge, u"container over %1 items"_s.arg(limits.maxItems));
            if (!checkStructure(reader, depth + 1, limits, result))
                return false;
        }
        if (reader.lastError() != QCborError::NoError)
            return fail(ErrorCode::BadFrame, reader.lastError().toString());
        if (!reader.leaveContainer())
            return fail(ErrorCode::BadFrame, reader.lastError().toString());
        return true;
    }
    if (reader.isString() || reader.isByteArray()) {
        // Strings may come in chunks (indefinite length); each chunk is sized before it is read,
        // and the reader itself refuses a chunk longer than the bytes left in the frame.
        if (reader.isLengthKnown()) {
            // One piece: sized, then skipped. UTF-8 is checked when the value is built.
            if (reader.length() > quint64(limits.maxStringBytes))
                return fail(ErrorCode::TooLarge, u"string over %1 bytes"_s.arg(limits.maxStringBytes));
            if (!reader.next())
                return fail(ErrorCode::BadFrame, reader.lastError().toString());
            return true;
        }
        const bool text = reader.isString();
        qsizetype total = 0;
        for (;;) {
            const qsizetype chunk = reader.currentStringChunkSize();
            if (chunk > 0 && (total += chunk) > limits.maxStringBytes)
                return fail(ErrorCode::TooLarge, u"string over %1 bytes"_s.arg(limits.maxStringBytes));
            const QCborStreamReader::StringResultCode status = text ? reader.readString().status
                                                                    : reader.readByteArray().status;
            if (status == QCborStreamReader::EndOfString)
                return true;
            if (status == QCborStreamReader::Error)
                return fail(ErrorCode::BadFrame, reader.lastError().toString());
        }
    }
    if (reader.isTag()) {
        // A chain of tags nests like containers do (and recursed without bound before).
        if (depth >= limits.maxDepth)
            return fail(ErrorCode::TooLarge, u"nesting deeper than %1"_s.arg(limits.maxDepth));
        reader.next();
        if (!reader.hasNext() && reader.lastError() != QCborError::NoError)
            return fail(ErrorCode::BadFrame, reader.lastError().toString());
        return checkStructure(reader, depth + 1, limits, result);
    }
    if (!reader.next())
        return fail(ErrorCode::BadFrame, reader.lastError().toString());
    return true;
}

// The structure pass's depth rule on a built value: containers and tags each add a level.
bool checkDepth(const QCborValue &value, int depth, int maxDepth)
{
    if (value.isMap() || value.isArray()) {
        if (depth >= maxDepth)
            return false;
        if (value.isMap()) {
            const QCborMap map = value.toMap();
            for (auto it = map.cbegin(); it != map.cend(); ++it) {
                if (!checkDepth(it.key(), depth + 1, maxDepth) || !checkDepth(it.value(), depth + 1, maxDepth))
                    return false;
            }
        } else {
            for (const QCborValue &item : value.toArray()) {
                if (!checkDepth(item, depth + 1, maxDepth))
                    return false;
            }
        }
        return true;
    }
    if (value.isTag())
        return checkDepth(value.taggedValue(), depth + 1, maxDepth);
    return true;
}

// The unsigned integer a top-level key of `frame` holds, read from the bytes: QCborValue keeps
// one above 2^63 - 1 as a double, and the envelope's ids use the whole unsigned range.
std::optional<quint64> unsignedEntry(QByteArrayView frame, QStringView key)
{
    QCborStreamReader reader(frame.data(), frame.size());
    if (!reader.isMap() || !reader.enterContainer())
        return std::nullopt;
    while (reader.lastError() == QCborError::NoError && reader.hasNext()) {
        bool match = false;
        if (reader.isString()) {
            QString name;
            auto chunk = reader.readString();
            while (chunk.status == QCborStreamReader::Ok) {
                name += chunk.data;
                chunk = reader.readString();
            }
            if (chunk.status != QCborStreamReader::EndOfString)
                return std::nullopt;
            match = name == key;
        } else if (!reader.next()) {
            return std::nullopt;
        }
        if (match)
            return reader.isUnsignedInteger() ? std::optional<quint64>(reader.toUnsignedInteger()) : std::nullopt;
        if (!reader.next()) // the value, containers and all
            return std::nullopt;
    }
    return std::nullopt;
}

// `frame`: the CBOR the map was read from (for ids over 2^63 - 1), or empty.
void fromMap(QCborMap map, DecodeResult *result, QByteArrayView frame)
{
    Message &m = result->message;
    const QCborValue t = map.take(s_keyType);
    if (!t.isString()) {
        result->error = ErrorCode::BadFrame;
        result->errorText = t.isUndefined() ? u"no message type (\"t\")"_s
                                            : u"message type (\"t\") is %1, not text"_s.arg(cborTypeName(t));
        return;
    }
    m.name = t.toString();
    m.type = typeFromName(m.name);
    const auto readId = [&](const QString &key, quint64 *out) {
        const QCborValue v = map.take(key);
        if (v.isUndefined())
            return true;
        if (v.isDouble() && v.toDouble() >= 0x1p63 && !frame.isEmpty()) {
            if (const auto exact = unsignedEntry(frame, key)) {
                *out = *exact;
                return true;
            }
        }
        if (!v.isInteger() || v.toInteger() < 0) {
            result->error = ErrorCode::BadFrame;
            result->errorText = u"\"%1\" is %2, not a non-negative integer"_s.arg(key, cborTypeName(v));
            return false;
        }
        *out = quint64(v.toInteger());
        return true;
    };
    if (!readId(s_keyId, &m.id) || !readId(s_keyRe, &m.replyTo))
        return;
    for (const QString &key : {s_keyType, s_keyId, s_keyRe}) {
        if (map.contains(key)) {
            result->error = ErrorCode::BadFrame;
            result->errorText = u"envelope key \"%1\" appears twice"_s.arg(key);
            return;
        }
    }
    m.body = std::move(map);
    if (m.type == MessageType::Unknown) {
        result->error = ErrorCode::UnknownType;
        result->errorText = u"unknown message type \"%1\""_s.arg(m.name.left(64));
    }
}

QCborMap envelope(const Message &message)
{
    QCborMap map = message.body;
    map.insert(s_keyType, message.name.isEmpty() ? typeName(message.type) : message.name);
    // A QCborMap holds integers up to 2^63 - 1; a larger id (only encodeJson() comes here, and a
    // JSON number that large is a double to its readers anyway) is written as the nearest double.
    const auto id = [](quint64 v) { return v <= quint64(INT64_MAX) ? QCborValue(qint64(v)) : QCborValue(double(v)); };
    if (message.id)
        map.insert(s_keyId, id(message.id));
    if (message.replyTo)
        map.insert(s_keyRe, id(message.replyTo));
    return map;
}

// Reads typed fields out of a body and remembers the first problem, so fromBody() stays a list
// of fields rather than a ladder of checks.
class BodyReader
{
public:
    BodyReader(const QCborMap &body, QString *error) : m_body(body), m_error(error) {}

    bool ok() const { return m_ok; }

    QString text(QLatin1StringView key, bool required = false)
    {
        const QCborValue v = value(key, required);
        if (v.isString())
            return v.toString();
        if (!v.isUndefined())
            wrongType(key, v, u"text"_s);
        return {};
    }
    qint64 integer(QLatin1StringView key, qint64 fallback, bool required = false)
    {
        const QCborValue v = value(key, required);
        if (v.isInteger())
            return v.toInteger();
        // JSON peers send whole numbers as doubles; one outside qint64 is not an integer (and
        // converting it would be undefined behaviour).
        if (v.isDouble() && std::abs(v.toDouble()) < 9.2e18 && v.toDouble() == double(qint64(v.toDouble())))
            return qint64(v.toDouble());
        if (!v.isUndefined())
            wrongType(key, v, u"integer"_s);
        return fallback;
    }
    double number(QLatin1StringView key, double fallback)
    {
        const QCborValue v = value(key, false);
        if (v.isInteger() || v.isDouble())
            return v.toDouble();
        if (!v.isUndefined())
            wrongType(key, v, u"number"_s);
        return fallback;
    }
    bool boolean(QLatin1StringView key, bool fallback)
    {
        const QCborValue v = value(key, false);
        if (v.isBool())
            return v.toBool();
        if (!v.isUndefined())
            wrongType(key, v, u"boolean"_s);
        return fallback;
    }
    /// Bytes arrive as a CBOR byte string, or base64url text from JSON peers.
    QByteArray bytes(QLatin1StringView key, bool required = false)
    {
        const QCborValue v = value(key, required);
        if (v.isByteArray())
            return v.toByteArray();
        if (v.isString()) {
            auto decoded = QByteArray::fromBase64Encoding(v.toString().toLatin1(),
                                                          QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
            if (decoded)
                return *decoded;
        }
        if (!v.isUndefined())
            wrongType(key, v, u"bytes"_s);
        return {};
    }
    QDateTime time(QLatin1StringView key, bool required = false)
    {
        const qint64 ms = integer(key, -1, required);
        return ms >= 0 ? QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC) : QDateTime();
    }
    QCborMap map(QLatin1StringView key)
    {
        const QCborValue v = value(key, false);
        if (v.isMap())
            return v.toMap();
        if (!v.isUndefined())
            wrongType(key, v, u"map"_s);
        return {};
    }
    QCborArray array(QLatin1StringView key)
    {
        const QCborValue v = value(key, false);
        if (v.isArray())
            return v.toArray();
        if (!v.isUndefined())
            wrongType(key, v, u"array"_s);
        return {};
    }
    void fail(const QString &why)
    {
        if (m_ok && m_error)
            *m_error = why;
        m_ok = false;
    }

private:
    QCborValue value(QLatin1StringView key, bool required)
    {
        QCborValue v = m_body.value(key);
        if (v.isUndefined() && required)
            fail(u"missing field \"%1\""_s.arg(key));
        return v;
    }
    void wrongType(QLatin1StringView key, const QCborValue &v, const QString &expected)
    {
        fail(u"field \"%1\" is %2, not %3"_s.arg(key, cborTypeName(v), expected));
    }

    const QCborMap &m_body;
    QString *m_error;
    bool m_ok = true;
};

template<typename T>
std::optional<T> checked(const BodyReader &reader, T value)
{
    return reader.ok() ? std::optional<T>(std::move(value)) : std::nullopt;
}

void insertText(QCborMap &map, QLatin1StringView key, const QString &value)
{
    if (!value.isEmpty())
        map.insert(key, value);
}
void insertTime(QCborMap &map, QLatin1StringView key, const QDateTime &value)
{
    if (value.isValid())
        map.insert(key, value.toMSecsSinceEpoch());
}
void insertBytes(QCborMap &map, QLatin1StringView key, const QByteArray &value)
{
    if (!value.isEmpty())
        map.insert(key, value);
}

} // namespace

QString typeName(MessageType type)
{
    for (const NamedType &t : s_types) {
        if (t.type == type)
            return t.name;
    }
    return {};
}

MessageType typeFromName(QStringView name)
{
    for (const NamedType &t : s_types) {
        if (name == t.name)
            return t.type;
    }
    return MessageType::Unknown;
}

QString errorCodeName(ErrorCode code)
{
    return s_errors[size_t(code)];
}

ErrorCode errorCodeFromName(QStringView name)
{
    for (size_t i = 0; i < s_errors.size(); ++i) {
        if (name == s_errors[i])
            return ErrorCode(i);
    }
    return ErrorCode::Internal;
}

QString commandName(CommandKind kind)
{
    return s_commands[size_t(kind)];
}

CommandKind commandFromName(QStringView name)
{
    for (size_t i = 1; i < s_commands.size(); ++i) {
        if (name == s_commands[i])
            return CommandKind(i);
    }
    return CommandKind::Unknown;
}

DecodeResult decode(QByteArrayView frame, const DecodeLimits &limits)
{
    DecodeResult result;
    if (frame.size() > limits.maxFrameBytes) {
        result.error = ErrorCode::TooLarge;
        result.errorText = u"frame of %1 bytes (limit %2)"_s.arg(frame.size()).arg(limits.maxFrameBytes);
        return result;
    }
    if (frame.isEmpty()) {
        result.error = ErrorCode::BadFrame;
        result.errorText = u"empty frame"_s;
        return result;
    }
    const QByteArray bytes = QByteArray::fromRawData(frame.data(), frame.size());
    if (frame.size() <= std::min(limits.maxItems, limits.maxStringBytes)) {
        // A frame this small cannot hold more items or longer strings than the limits allow,
        // and what it builds is bounded by its size: parsed once, then only the depth checked.
        QCborParserError parseError;
        const QCborValue value = QCborValue::fromCbor(bytes, &parseError);
        if (parseError.error != QCborError::NoError) {
            // A header claiming more items or bytes than the frame holds, or nesting past Qt's own
            // limit: over a limit, as the streaming pass would say.
            const bool tooLarge = parseError.error == QCborError::DataTooLarge || parseError.error == QCborError::NestingTooDeep;
            result.error = tooLarge ? ErrorCode::TooLarge : ErrorCode::BadFrame;
            if (parseError.error == QCborError::NestingTooDeep) {
                result.errorText = u"nesting deeper than %1"_s.arg(limits.maxDepth);
                return result;
            }
            result.errorText = (parseError.offset == 0 && !value.isMap() ? u"not CBOR: "_s : QString())
                + parseError.errorString() + u" at byte "_s + QString::number(parseError.offset);
            return result;
        }
        if (!value.isMap()) {
            result.error = ErrorCode::BadFrame;
            result.errorText = u"a message is a CBOR map, this frame starts with another type"_s;
            return result;
        }
        if (parseError.offset != frame.size()) {
            result.error = ErrorCode::BadFrame;
            result.errorText = u"%1 bytes after the message"_s.arg(frame.size() - parseError.offset);
            return result;
        }
        if (!checkDepth(value, 0, limits.maxDepth)) {
            result.error = ErrorCode::TooLarge;
            result.errorText = u"nesting deeper than %1"_s.arg(limits.maxDepth);
            return result;
        }
        fromMap(value.toMap(), &result, frame);
        return result;
    }
    QCborStreamReader reader(bytes);
    if (!reader.isMap()) {
        result.error = ErrorCode::BadFrame;
        result.errorText = reader.lastError() != QCborError::NoError
            ? u"not CBOR: "_s + reader.lastError().toString()
            : u"a message is a CBOR map, this frame starts with another type"_s;
        return result;
    }
    if (!checkStructure(reader, 0, limits, &result))
        return result;
    if (reader.currentOffset() != frame.size()) {
        result.error = ErrorCode::BadFrame;
        result.errorText = u"%1 bytes after the message"_s.arg(frame.size() - reader.currentOffset());
        return result;
    }
    QCborParserError parseError;
    const QCborValue value = QCborValue::fromCbor(bytes, &parseError);
    if (parseError.error != QCborError::NoError) {
        result.error = ErrorCode::BadFrame;
        result.errorText = parseError.errorString() + u" at byte "_s + QString::number(parseError.offset);
        return result;
    }
    fromMap(value.toMap(), &result, frame);
    return result;
}

DecodeResult decode(const QByteArray &frame, const DecodeLimits &limits)
{
    DecodeResult result = decode(QByteArrayView(frame), limits);
    if (result.ok())
        result.message.frame = frame;
    return result;
}

DecodeResult decodeJson(QByteArrayView frame, const DecodeLimits &limits)
{
    DecodeResult result;
    if (frame.size() > limits.maxFrameBytes) {
        result.error = ErrorCode::TooLarge;
        result.errorText = u"frame of %1 bytes (limit %2)"_s.arg(frame.size()).arg(limits.maxFrameBytes);
        return result;
    }
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromRawData(frame.data(), frame.size()), &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        result.error = ErrorCode::BadFrame;
        result.errorText = u"not JSON: "_s + parseError.errorString() + u" at offset "_s
            + QString::number(parseError.offset);
        return result;
    }
    if (!doc.isObject()) {
        result.error = ErrorCode::BadFrame;
        result.errorText = u"a message is a JSON object"_s;
        return result;
    }
    // Re-check the limits on the CBOR form so that both encodings get the same rules.
    const QByteArray cbor = QCborValue::fromJsonValue(doc.object()).toCbor();
    DecodeLimits cborLimits = limits;
    cborLimits.maxFrameBytes = std::max(limits.maxFrameBytes, cbor.size());
    return decode(QByteArrayView(cbor), cborLimits);
}

namespace {

void appendHead(QByteArray &out, quint8 major, quint64 value)
{
    const char m = char(major << 5);
    if (value < 24) {
        out.append(char(m | char(value)));
    } else if (value <= 0xff) {
        out.append(char(m | 24)).append(char(value));
    } else if (value <= 0xffff) {
        out.append(char(m | 25)).append(char(value >> 8)).append(char(value));
    } else if (value <= 0xffffffffu) {
        out.append(char(m | 26));
        for (int shift = 24; shift >= 0; shift -= 8)
            out.append(char(value >> shift));
    } else {
        out.append(char(m | 27));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.append(char(value >> shift));
    }
}

// "t", "id" and "re" after the body's entries, as QCborStreamWriter writes them.
void appendEnvelope(QByteArray &out, const QByteArray &type, quint64 id, quint64 replyTo)
{
    out.append(char(0x61)).append('t');
    appendHead(out, 3, quint64(type.size()));
    out.append(type);
    if (id) {
        out.append(char(0x62)).append("id", 2);
        appendHead(out, 0, id);
    }
    if (replyTo) {
        out.append(char(0x62)).append("re", 2);
        appendHead(out, 0, replyTo);
    }
}

// The head of a definite-length map: its entry count and the head's size; false for anything else.
bool readMapHead(QByteArrayView cbor, quint64 *entries, qsizetype *headSize)
{
    if (cbor.isEmpty() || (quint8(cbor[0]) >> 5) != 5)
        return false;
    const quint8 info = quint8(cbor[0]) & 0x1f;
    if (info < 24) {
        *entries = info;
        *headSize = 1;
        return true;
    }
    if (info > 27)
        return false; // indefinite length, or reserved
    const qsizetype bytes = qsizetype(1) << (info - 24);
    if (cbor.size() < 1 + bytes)
        return false;
    quint64 n = 0;
    for (qsizetype i = 1; i <= bytes; ++i)
        n = (n << 8) | quint8(cbor[i]);
    *entries = n;
    *headSize = 1 + bytes;
    return true;
}

} // namespace

QByteArray encode(const Message &message)
{
    const QString &name = message.name.isEmpty() ? typeName(message.type) : message.name;
    if (!message.body.isEmpty()) {
        // The body's entries, then the envelope, without copying the body into a new map. A body
        // entry named like an envelope key (no decoded message has one) gives way to the envelope.
        const auto isEnvelopeKey = [](const QCborValue &key) {
            return key.isString() && (key == s_keyType || key == s_keyId || key == s_keyRe);
        };
        qsizetype shadowed = 0;
        for (const QString &key : {s_keyType, s_keyId, s_keyRe})
            shadowed += message.body.contains(key);
        QByteArray out;
        out.reserve(256);
        QCborStreamWriter writer(&out);
        writer.startMap(quint64(message.body.size() - shadowed) + 1 + (message.id != 0) + (message.replyTo != 0));
        for (auto it = message.body.cbegin(); it != message.body.cend(); ++it) {
            if (shadowed && isEnvelopeKey(it.key()))
                continue;
            it.key().toCbor(writer);
            it.value().toCbor(writer);
        }
        writer.append(QLatin1StringView("t"));
        writer.append(name);
        // Unsigned, over the whole 64-bit range (the same bytes as a qint64 up to 2^63 - 1).
        if (message.id) {
            writer.append(QLatin1StringView("id"));
            writer.append(quint64(message.id));
        }
        if (message.replyTo) {
            writer.append(QLatin1StringView("re"));
            writer.append(quint64(message.replyTo));
        }
        writer.endMap();
        return out;
    }
    const QByteArray type = name.toUtf8();
    QByteArray out;
    out.reserve(24 + type.size());
    appendHead(out, 5, 1 + (message.id != 0) + (message.replyTo != 0)); // map
    appendEnvelope(out, type, message.id, message.replyTo);
    return out;
}

QByteArray encode(MessageType type, quint64 id, QByteArrayView bodyCbor, quint64 replyTo)
{
    quint64 entries = 0;
    qsizetype headSize = 0;
    if (!readMapHead(bodyCbor, &entries, &headSize))
        return encode(Message(type, id, QCborValue::fromCbor(bodyCbor.toByteArray()).toMap(), replyTo));
    const QByteArray name = typeName(type).toUtf8();
    QByteArray out;
    out.reserve(bodyCbor.size() + 32 + name.size());
    appendHead(out, 5, entries + 1 + (id != 0) + (replyTo != 0));
    out.append(bodyCbor.sliced(headSize));
    appendEnvelope(out, name, id, replyTo);
    return out;
}

QJsonObject storedBodyJson(const QByteArray &cbor)
{
    if (cbor.isEmpty())
        return {};
    QCborMap map = QCborValue::fromCbor(cbor).toMap();
    map.remove(s_keyType);
    map.remove(s_keyId);
    map.remove(s_keyRe);
    return map.toJsonObject();
}

QByteArray encodeJson(const Message &message)
{
    return QJsonDocument(envelope(message).toJsonObject()).toJson(QJsonDocument::Compact);
}

int negotiateVersion(int peerMin, int peerMax)
{
    const int best = std::min(peerMax, kProtocolVersion);
    return best >= std::max(peerMin, kMinProtocolVersion) ? best : -1;
}

Message errorMessage(ErrorCode code, const QString &text, quint64 replyTo, int retryAfterSeconds)
{
    ErrorBody body;
    body.code = code;
    body.text = text;
    body.retryAfterSeconds = retryAfterSeconds;
    return Message(MessageType::Error, 0, body.toBody(), replyTo);
}

// ---- Hello

QCborMap Hello::toBody() const
{
    QCborMap m;
    m.insert("v"_L1, QCborArray{minVersion, maxVersion});
    m.insert("role"_L1, role);
    insertText(m, "serial"_L1, serial);
    insertText(m, "mac"_L1, mac);
    insertText(m, "model"_L1, model);
    insertText(m, "sw"_L1, softwareVersion);
    insertText(m, "rch"_L1, releaseChannel);
    insertBytes(m, "token"_L1, token);
    insertBytes(m, "secret"_L1, secret);
    if (telemetryWindow > 0)
        m.insert("win"_L1, telemetryWindow);
    insertText(m, "account"_L1, account);
    return m;
}

std::optional<Hello> Hello::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    Hello h;
    const QCborArray versions = r.array("v"_L1);
    if (versions.size() != 2 || !versions.at(0).isInteger() || !versions.at(1).isInteger()
        || versions.at(0).toInteger() > versions.at(1).toInteger()) {
        r.fail(u"field \"v\" must be [min, max] protocol versions"_s);
    } else {
        h.minVersion = int(bounded(0, versions.at(0).toInteger(), 1 << 20));
        h.maxVersion = int(bounded(0, versions.at(1).toInteger(), 1 << 20));
    }
    const QString role = r.text("role"_L1);
    if (!role.isEmpty())
        h.role = role;
    h.serial = r.text("serial"_L1);
    h.mac = r.text("mac"_L1);
    h.model = r.text("model"_L1);
    h.softwareVersion = r.text("sw"_L1);
    h.releaseChannel = r.text("rch"_L1);
    h.token = r.bytes("token"_L1);
    h.secret = r.bytes("secret"_L1);
    h.telemetryWindow = int(bounded(0, r.integer("win"_L1, 0), 1 << 16));
    h.account = r.text("account"_L1);
    if (r.ok() && h.role == "box"_L1 && h.serial.isEmpty())
        r.fail(u"missing field \"serial\""_s);
    if (r.ok() && h.role != "box"_L1 && h.role != "operator"_L1)
        r.fail(u"field \"role\" must be box or operator, not \"%1\""_s.arg(h.role.left(32)));
    return checked(r, h);
}

// ---- Welcome

QCborMap Welcome::toBody() const
{
    QCborMap m;
    m.insert("v"_L1, version);
    insertText(m, "box"_L1, boxId);
    insertText(m, "state"_L1, state);
    insertBytes(m, "token"_L1, token);
    m.insert("hb"_L1, heartbeatSeconds);
    m.insert("tel"_L1, telemetrySeconds);
    insertText(m, "rch"_L1, releaseChannel);
    insertTime(m, "ts"_L1, serverTime);
    return m;
}

std::optional<Welcome> Welcome::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    Welcome w;
    w.version = int(r.integer("v"_L1, 0, true));
    w.boxId = r.text("box"_L1);
    w.state = r.text("state"_L1, true);
    w.token = r.bytes("token"_L1);
    w.heartbeatSeconds = int(bounded(1, r.integer("hb"_L1, 30), 3600));
    w.telemetrySeconds = int(bounded(1, r.integer("tel"_L1, 60), 86400));
    w.releaseChannel = r.text("rch"_L1);
    w.serverTime = r.time("ts"_L1);
    return checked(r, w);
}

// ---- TicketBody

QCborMap TicketBody::toBody() const
{
    QCborMap m;
    insertText(m, "aud"_L1, audience);
    insertBytes(m, "ticket"_L1, ticket);
    insertTime(m, "exp"_L1, expires);
    return m;
}

std::optional<TicketBody> TicketBody::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    TicketBody t;
    t.audience = r.text("aud"_L1);
    t.ticket = r.bytes("ticket"_L1);
    t.expires = r.time("exp"_L1);
    return checked(r, t);
}

// ---- Telemetry

QCborMap Telemetry::toBody() const
{
    // One list of fields: toCbor()'s (what boxes send); the map is read back from it.
    return QCborValue::fromCbor(toCbor()).toMap();
}

QByteArray Telemetry::toCbor() const
{
    // Written directly, without building a map: the fields a box reports, in this order.
    const qint64 ms = time.isValid() ? time.toMSecsSinceEpoch() : 0;
    const quint64 entries = time.isValid() + (cpuPercent >= 0) + (memoryUsedKb >= 0) + (memoryTotalKb >= 0)
        + (temperatureC > -1000) + (uptimeSeconds >= 0) + !softwareVersion.isEmpty() + !releaseChannel.isEmpty()
        + !currentChannel.isEmpty() + !playerState.isEmpty() + (bufferingEvents != 0) + (bufferingMs != 0)
        + (errorEvents != 0) + !zapTimesMs.isEmpty() + !zapParts.isEmpty() + frameStats.has_value();
    QByteArray out;
    out.reserve(160);
    QCborStreamWriter w(&out);
    const auto text = [&w](QLatin1StringView key, const QString &value) {
        if (!value.isEmpty()) {
            w.append(key);
            w.append(value);
        }
    };
    w.startMap(entries);
    if (time.isValid()) {
        w.append("ts"_L1);
        w.append(ms);
    }
    if (cpuPercent >= 0) {
        w.append("cpu"_L1);
        w.append(cpuPercent);
    }
    if (memoryUsedKb >= 0) {
        w.append("mem"_L1);
        w.append(memoryUsedKb);
    }
    if (memoryTotalKb >= 0) {
        w.append("memTotal"_L1);
        w.append(memoryTotalKb);
    }
    if (temperatureC > -1000) {
        w.append("temp"_L1);
        w.append(temperatureC);
    }
    if (uptimeSeconds >= 0) {
        w.append("up"_L1);
        w.append(uptimeSeconds);
    }
    text("sw"_L1, softwareVersion);
    text("rch"_L1, releaseChannel);
    text("ch"_L1, currentChannel);
    text("player"_L1, playerState);
    if (bufferingEvents) {
        w.append("buf"_L1);
        w.append(qint64(bufferingEvents));
    }
    if (bufferingMs) {
        w.append("bufMs"_L1);
        w.append(bufferingMs);
    }
    if (errorEvents) {
        w.append("err"_L1);
        w.append(qint64(errorEvents));
    }
    if (!zapTimesMs.isEmpty()) {
        w.append("zap"_L1);
        w.startArray(quint64(zapTimesMs.size()));
        for (int z : zapTimesMs)
            w.append(qint64(z));
        w.endArray();
    }
    if (!zapParts.isEmpty()) {
        // Each zap an array of its seven parts in ZapParts' order, -1 for a part not reached:
        // a few bytes a zap.
        w.append("zp"_L1);
        const qsizetype n = qMin(zapParts.size(), kMaxZapParts);
        w.startArray(quint64(n));
        for (qsizetype i = zapParts.size() - n; i < zapParts.size(); ++i) {
            const ZapParts &z = zapParts[i];
            w.startArray(7);
            for (int part : {z.tuneMs, z.connectedMs, z.openedMs, z.keyframeMs, z.decodedMs, z.shownMs, z.paintedMs})
                w.append(qint64(qMax(-1, part)));
            w.endArray();
        }
        w.endArray();
    }
    if (frameStats) {
        w.append("ft"_L1);
        w.startMap(5);
        w.append("n"_L1);
        w.append(qint64(frameStats->frames));
        w.append("p50"_L1);
        w.append(frameStats->p50);
        w.append("p95"_L1);
        w.append(frameStats->p95);
        w.append("p99"_L1);
        w.append(frameStats->p99);
        w.append("max"_L1);
        w.append(frameStats->max);
        w.endMap();
    }
    w.endMap();
    return out;
}

std::optional<Telemetry> Telemetry::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    Telemetry t;
    t.time = r.time("ts"_L1);
    t.cpuPercent = r.number("cpu"_L1, -1);
    t.memoryUsedKb = r.integer("mem"_L1, -1);
    t.memoryTotalKb = r.integer("memTotal"_L1, -1);
    t.temperatureC = r.number("temp"_L1, -1000);
    t.uptimeSeconds = r.integer("up"_L1, -1);
    t.softwareVersion = r.text("sw"_L1);
    t.releaseChannel = r.text("rch"_L1);
    t.currentChannel = r.text("ch"_L1);
    t.playerState = r.text("player"_L1);
    t.bufferingEvents = int(bounded(0, r.integer("buf"_L1, 0), INT_MAX));
    t.bufferingMs = qMax<qint64>(0, r.integer("bufMs"_L1, 0));
    t.errorEvents = int(bounded(0, r.integer("err"_L1, 0), INT_MAX));
    const QCborArray zaps = r.array("zap"_L1);
    for (const QCborValue &z : zaps) {
        if (!z.isInteger() && !z.isDouble()) {
            r.fail(u"field \"zap\" holds %1, not milliseconds"_s.arg(cborTypeName(z)));
            break;
        }
        // Doubles are clamped before they become integers (a huge one would be undefined behaviour).
        const double ms = z.isInteger() ? double(z.toInteger()) : z.toDouble();
        t.zapTimesMs.append(std::isfinite(ms) ? int(std::clamp(ms, 0.0, double(INT_MAX))) : 0);
    }
    const QCborArray zp = r.array("zp"_L1);
    for (const QCborValue &z : zp) {
        const QCborArray parts = z.toArray();
        const bool integers = std::all_of(parts.begin(), parts.end(), [](const QCborValue &v) { return v.isInteger(); });
        if (!z.isArray() || parts.size() != 7 || !integers) {
            r.fail(u"field \"zp\" holds %1, not the seven parts of a zap in ms"_s.arg(cborTypeName(z)));
            break;
        }
        if (t.zapParts.size() >= Telemetry::kMaxZapParts)
            break;
        int ms[7];
        for (int i = 0; i < 7; ++i)
            ms[i] = int(bounded(-1, parts.at(i).toInteger(), INT_MAX));
        t.zapParts.append(ZapParts{ms[0], ms[1], ms[2], ms[3], ms[4], ms[5], ms[6]});
    }
    const QCborMap ft = r.map("ft"_L1);
    if (!ft.isEmpty()) {
        BodyReader f(ft, error);
        FrameStats s;
        s.frames = int(bounded(0, f.integer("n"_L1, 0), INT_MAX));
        s.p50 = f.number("p50"_L1, 0);
        s.p95 = f.number("p95"_L1, 0);
        s.p99 = f.number("p99"_L1, 0);
        s.max = f.number("max"_L1, 0);
        if (!f.ok())
            r.fail(u"in \"ft\": "_s + (error ? *error : QString()));
        t.frameStats = s;
    }
    return checked(r, t);
}

// ---- decodeTelemetry: the plain shape, streamed

namespace {

enum class TelemetryKey : quint8 {
    Unknown, Type, Id, Re, Ts, Cpu, Mem, MemTotal, Temp, Up, Sw, Rch, Ch, Player, Buf, BufMs, Err, Zap, Ft, Zp
};

TelemetryKey telemetryKey(QByteArrayView key)
{
    static constexpr std::pair<std::string_view, TelemetryKey> s_keys[] = {
        {"t", TelemetryKey::Type}, {"id", TelemetryKey::Id}, {"re", TelemetryKey::Re}, {"ts", TelemetryKey::Ts},
        {"cpu", TelemetryKey::Cpu}, {"mem", TelemetryKey::Mem}, {"memTotal", TelemetryKey::MemTotal},
        {"temp", TelemetryKey::Temp}, {"up", TelemetryKey::Up}, {"sw", TelemetryKey::Sw}, {"rch", TelemetryKey::Rch},
        {"ch", TelemetryKey::Ch}, {"player", TelemetryKey::Player}, {"buf", TelemetryKey::Buf},
        {"bufMs", TelemetryKey::BufMs}, {"err", TelemetryKey::Err}, {"zap", TelemetryKey::Zap}, {"ft", TelemetryKey::Ft},
        {"zp", TelemetryKey::Zp},
    };
    const std::string_view k(key.data(), size_t(key.size()));
    for (const auto &[name, id] : s_keys) {
        if (name == k)
            return id;
    }
    return TelemetryKey::Unknown;
}

// Reads values the way QCborValue::fromCbor() + BodyReader would see them, and says false for
// anything they would see differently or refuse: the caller then leaves the frame to decode().
class PlainReader
{
public:
    explicit PlainReader(QByteArrayView frame) : r(frame.data(), frame.size()) {}

    QCborStreamReader r;

    /// A definite-length text string of at most 15 bytes into `buf` (keys, the type name); a
    /// longer one (no name we know is) is read and checked, and *tooLong set. A string in chunks
    /// is refused: its pieces could spell a name we know.
    bool shortText(char (&buf)[16], QByteArrayView *out, bool *tooLong)
    {
        *tooLong = false;
        if (!r.isString() || !r.isLengthKnown())
            return false;
        if (r.length() > 15) {
            *tooLong = true;
            QString ignored;
            return text(&ignored);
        }
        const qsizetype n = qsizetype(r.length());
        auto chunk = r.readStringChunk(buf, sizeof buf);
        qsizetype got = 0;
        while (chunk.status == QCborStreamReader::Ok) {
            got += chunk.data;
            chunk = r.readStringChunk(buf + got, qsizetype(sizeof buf) - got);
        }
        if (chunk.status != QCborStreamReader::EndOfString || got != n)
            return false;
        *out = QByteArrayView(buf, n);
        return true;
    }
    /// UTF-8 text (fromCbor() refuses invalid UTF-8 as a malformed frame).
    bool text(QString *out)
    {
        if (!r.isString())
            return false;
        out->clear();
        auto chunk = r.readString();
        while (chunk.status == QCborStreamReader::Ok) {
            *out += chunk.data;
            chunk = r.readString();
        }
        return chunk.status == QCborStreamReader::EndOfString;
    }
    /// An integer QCborValue holds as one (not as a double: beyond the range of qint64).
    bool integer(qint64 *out)
    {
        if (r.isUnsignedInteger() && r.toUnsignedInteger() <= quint64(INT64_MAX)) {
            *out = qint64(r.toUnsignedInteger());
            return r.next();
        }
        if (r.isNegativeInteger() && quint64(r.toNegativeInteger()) <= quint64(INT64_MAX)) {
            *out = -qint64(quint64(r.toNegativeInteger()));
            return r.next();
        }
        return false;
    }
    /// An envelope id: unsigned, the whole 64-bit range (decode() reads those from the frame too).
    bool unsignedInteger(quint64 *out)
    {
        if (!r.isUnsignedInteger())
            return false;
        *out = r.toUnsignedInteger();
        return r.next();
    }
    /// BodyReader::number(): an integer, or a floating-point value of any width.
    bool number(double *out)
    {
        qint64 i = 0;
        if (r.isInteger())
            return integer(&i) && (*out = double(i), true);
        if (r.isDouble())
            *out = r.toDouble();
        else if (r.isFloat())
            *out = double(r.toFloat());
        else if (r.isFloat16())
            *out = double(float(r.toFloat16()));
        else
            return false;
        return r.next();
    }
    /// Passes over the value of a key this build does not know: simple values only.
    bool skip()
    {
        if (r.isString()) {
            QString ignored;
            return text(&ignored);
        }
        if (r.isContainer() || r.isTag() || r.isInvalid())
            return false;
        return r.next();
    }
};

bool validUtf8(QByteArrayView bytes)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringConverter::Flag::Stateless);
    const QString decoded = decoder.decode(bytes); // converted when it becomes a QString
    return !decoder.hasError();
}

} // namespace

namespace {

// "zap": milliseconds, clamped as Telemetry::fromBody() clamps them.
bool readZaps(PlainReader &p, QList<int> *out)
{
    if (!p.r.isArray() || !p.r.enterContainer())
        return false;
    double ms = 0;
    while (p.r.hasNext()) {
        if (!p.number(&ms))
            return false;
        out->append(std::isfinite(ms) ? int(std::clamp(ms, 0.0, double(INT_MAX))) : 0);
    }
    return p.r.lastError() == QCborError::NoError && p.r.leaveContainer();
}

// "zp": arrays of seven integers; fromBody() reads the same (a part out of range is clamped,
// more than kMaxZapParts zaps: the first ones).
bool readZapParts(PlainReader &p, QList<ZapParts> *out)
{
    if (!p.r.isArray() || !p.r.enterContainer())
        return false;
    while (p.r.hasNext()) {
        if (!p.r.isArray() || !p.r.isLengthKnown() || p.r.length() != 7 || !p.r.enterContainer())
            return false;
        int ms[7];
        for (int &part : ms) {
            qint64 v = 0;
            if (!p.integer(&v))
                return false;
            part = int(bounded(-1, v, INT_MAX));
        }
        if (p.r.hasNext() || p.r.lastError() != QCborError::NoError || !p.r.leaveContainer())
            return false;
        if (out->size() < Telemetry::kMaxZapParts)
            out->append(ZapParts{ms[0], ms[1], ms[2], ms[3], ms[4], ms[5], ms[6]});
    }
    return p.r.lastError() == QCborError::NoError && p.r.leaveContainer();
}

// "ft": the five known fields, each once; an empty map reports nothing, as in fromBody().
bool readFrameStats(PlainReader &p, std::optional<FrameStats> *out)
{
    if (!p.r.isMap() || !p.r.enterContainer())
        return false;
    FrameStats s;
    const std::pair<std::string_view, double *> numbers[] = {{"p50", &s.p50}, {"p95", &s.p95}, {"p99", &s.p99}, {"max", &s.max}};
    quint32 seen = 0;
    char buf[16];
    while (p.r.hasNext()) {
        QByteArrayView name;
        bool tooLong = false;
        if (!p.shortText(buf, &name, &tooLong) || tooLong)
            return false;
        const std::string_view field(name.data(), size_t(name.size()));
        const auto at = std::find_if(std::begin(numbers), std::end(numbers), [&](const auto &n) { return n.first == field; });
        const quint32 bit = field == "n" ? 1u : at != std::end(numbers) ? 2u << (at - std::begin(numbers)) : 0u;
        if (!bit || (seen & bit))
            return false;
        seen |= bit;
        qint64 frames = 0;
        if (bit == 1u) {
            if (!p.integer(&frames))
                return false;
            s.frames = int(bounded(0, frames, INT_MAX));
        } else if (!p.number(at->second)) {
            return false;
        }
    }
    if (p.r.lastError() != QCborError::NoError || !p.r.leaveContainer())
        return false;
    if (seen)
        *out = s;
    return true;
}

} // namespace

bool decodeTelemetry(QByteArrayView frame, const DecodeLimits &limits, TelemetryMessage *out)
{
    // The sizes decode()'s one-pass path takes: no string or container here can pass a limit.
    if (frame.isEmpty() || frame.size() > limits.maxFrameBytes || frame.size() > std::min(limits.maxItems, limits.maxStringBytes)
        || limits.maxDepth < 2)
        return false;
    PlainReader p(frame);
    QCborStreamReader &r = p.r;
    if (!r.isMap() || !r.enterContainer())
        return false;
    Telemetry t;
    quint64 id = 0, replyTo = 0;
    quint32 seen = 0;
    char buf[16];
    while (r.hasNext()) {
        QByteArrayView name;
        bool tooLong = false;
        if (!p.shortText(buf, &name, &tooLong))
            return false;
        const TelemetryKey key = tooLong ? TelemetryKey::Unknown : telemetryKey(name);
        if (key == TelemetryKey::Unknown) {
            if ((!tooLong && !validUtf8(name)) || !p.skip())
                return false;
            continue;
        }
        const quint32 bit = 1u << quint8(key);
        if (seen & bit)
            return false; // decode() says which envelope key came twice; a body key: its first value
        seen |= bit;
        qint64 i = 0;
        QByteArrayView type;
        bool ok = true;
        switch (key) {
        case TelemetryKey::Type: ok = p.shortText(buf, &type, &tooLong) && !tooLong && type == "telemetry"; break;
        case TelemetryKey::Id: ok = p.unsignedInteger(&id); break;
        case TelemetryKey::Re: ok = p.unsignedInteger(&replyTo); break;
        case TelemetryKey::Ts:
            ok = p.integer(&i);
            t.time = i >= 0 ? QDateTime::fromMSecsSinceEpoch(i, Qt::UTC) : QDateTime();
            break;
        case TelemetryKey::Cpu: ok = p.number(&t.cpuPercent); break;
        case TelemetryKey::Temp: ok = p.number(&t.temperatureC); break;
        case TelemetryKey::Mem: ok = p.integer(&t.memoryUsedKb); break;
        case TelemetryKey::MemTotal: ok = p.integer(&t.memoryTotalKb); break;
        case TelemetryKey::Up: ok = p.integer(&t.uptimeSeconds); break;
        case TelemetryKey::Sw: ok = p.text(&t.softwareVersion); break;
        case TelemetryKey::Rch: ok = p.text(&t.releaseChannel); break;
        case TelemetryKey::Ch: ok = p.text(&t.currentChannel); break;
        case TelemetryKey::Player: ok = p.text(&t.playerState); break;
        case TelemetryKey::Buf: ok = p.integer(&i) && (t.bufferingEvents = int(bounded(0, i, INT_MAX)), true); break;
        case TelemetryKey::Err: ok = p.integer(&i) && (t.errorEvents = int(bounded(0, i, INT_MAX)), true); break;
        case TelemetryKey::BufMs: ok = p.integer(&i) && (t.bufferingMs = qMax<qint64>(0, i), true); break;
        case TelemetryKey::Zap: ok = readZaps(p, &t.zapTimesMs); break;
        case TelemetryKey::Ft: ok = readFrameStats(p, &t.frameStats); break;
        case TelemetryKey::Zp: ok = readZapParts(p, &t.zapParts); break;
        case TelemetryKey::Unknown: break;
        }
        if (!ok)
            return false;
    }
    if (r.lastError() != QCborError::NoError || !r.leaveContainer() || r.currentOffset() != frame.size()
        || !(seen & (1u << quint8(TelemetryKey::Type))) || !(seen & (1u << quint8(TelemetryKey::Id))))
        return false;
    out->id = id;
    out->replyTo = replyTo;
    out->telemetry = std::move(t);
    return true;
}

// ---- BoxEvent

QCborMap BoxEvent::toBody() const
{
    QCborMap m;
    insertTime(m, "ts"_L1, time);
    m.insert("kind"_L1, kind);
    insertText(m, "sev"_L1, severity);
    insertText(m, "text"_L1, text);
    if (!data.isEmpty())
        m.insert("data"_L1, data);
    return m;
}

std::optional<BoxEvent> BoxEvent::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    BoxEvent e;
    e.time = r.time("ts"_L1);
    e.kind = r.text("kind"_L1, true);
    e.severity = r.text("sev"_L1);
    if (e.severity.isEmpty())
        e.severity = u"info"_s;
    e.text = r.text("text"_L1);
    e.data = r.map("data"_L1);
    return checked(r, e);
}

// ---- InstallReport

namespace {
constexpr std::pair<InstallReport::Phase, QLatin1StringView> s_installPhases[] = {
    {InstallReport::Phase::Started, "started"_L1},     {InstallReport::Phase::Installed, "installed"_L1},
    {InstallReport::Phase::Failed, "failed"_L1},       {InstallReport::Phase::Committed, "committed"_L1},
    {InstallReport::Phase::RolledBack, "rolled-back"_L1},
};
} // namespace

QString InstallReport::phaseName(Phase phase)
{
    for (const auto &[p, name] : s_installPhases) {
        if (p == phase)
            return name;
    }
    return {};
}

QCborMap InstallReport::toBody() const
{
    QCborMap m;
    m.insert("phase"_L1, phaseName(phase));
    m.insert("version"_L1, version);
    m.insert("ok"_L1, ok);
    if (rolloutId)
        m.insert("rollout"_L1, qint64(rolloutId));
    insertText(m, "previous"_L1, previous);
    insertText(m, "to"_L1, rolledBackTo);
    return m;
}

BoxEvent InstallReport::toEvent(const QString &text, const QDateTime &time) const
{
    BoxEvent e;
    e.time = time;
    e.kind = phase == Phase::RolledBack ? u"rollback"_s : u"install"_s;
    e.severity = ok ? u"info"_s : u"error"_s;
    e.text = text;
    e.data = toBody();
    return e;
}

std::optional<InstallReport> InstallReport::fromBody(const QCborMap &data, QString *error)
{
    BodyReader r(data, error);
    InstallReport rep;
    const QString phase = r.text("phase"_L1, true);
    rep.version = r.text("version"_L1, true);
    const qint64 rollout = r.integer("rollout"_L1, 0);
    rep.previous = r.text("previous"_L1);
    rep.rolledBackTo = r.text("to"_L1);
    if (!r.ok())
        return std::nullopt;
    bool known = false;
    for (const auto &[p, name] : s_installPhases) {
        if (phase == name) {
            rep.phase = p;
            known = true;
        }
    }
    // "ok" is optional: each phase has its verdict (reports from boxes before 2.6 left it out).
    rep.ok = r.boolean("ok"_L1, rep.phase == Phase::Started || rep.phase == Phase::Installed || rep.phase == Phase::Committed);
    if (!known)
        r.fail(u"unknown install phase \"%1\" (started, installed, failed, committed or rolled-back)"_s.arg(phase.left(32)));
    else if (rep.version.isEmpty() || rep.version.size() > kMaxVersionChars)
        r.fail(u"field \"version\" has %1 characters, not 1 to %2"_s.arg(rep.version.size()).arg(kMaxVersionChars));
    else if (rep.previous.size() > kMaxVersionChars || rep.rolledBackTo.size() > kMaxVersionChars)
        r.fail(u"field \"%1\" is over %2 characters"_s.arg(rep.previous.size() > kMaxVersionChars ? u"previous"_s : u"to"_s)
                   .arg(kMaxVersionChars));
    else if (rollout < 0)
        r.fail(u"field \"rollout\" is negative (%1)"_s.arg(rollout));
    rep.rolloutId = quint64(qMax<qint64>(0, rollout));
    return checked(r, rep);
}

std::optional<InstallReport> InstallReport::fromEvent(const BoxEvent &event, QString *error)
{
    if (event.kind != "install"_L1 && event.kind != "rollback"_L1) {
        if (error)
            error->clear();
        return std::nullopt;
    }
    auto report = fromBody(event.data, error);
    if (report && (event.kind == "rollback"_L1) != (report->phase == Phase::RolledBack)) {
        if (error)
            *error = u"an event of kind \"%1\" with install phase \"%2\""_s.arg(event.kind, phaseName(report->phase));
        return std::nullopt;
    }
    return report;
}

// ---- Command, ack, result

QCborMap Command::toBody() const
{
    QCborMap m;
    m.insert("cmd"_L1, qint64(commandId));
    m.insert("name"_L1, commandName(kind));
    if (!args.isEmpty())
        m.insert("args"_L1, args);
    insertTime(m, "exp"_L1, expires);
    return m;
}

std::optional<Command> Command::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    Command c;
    c.commandId = quint64(qMax<qint64>(0, r.integer("cmd"_L1, 0, true)));
    const QString name = r.text("name"_L1, true);
    c.kind = commandFromName(name);
    if (r.ok() && c.kind == CommandKind::Unknown)
        r.fail(u"unknown command \"%1\""_s.arg(name.left(64)));
    c.args = r.map("args"_L1);
    c.expires = r.time("exp"_L1);
    return checked(r, c);
}

QCborMap CommandAck::toBody() const
{
    QCborMap m;
    if (commandId)
        m.insert("cmd"_L1, qint64(commandId));
    return m;
}

std::optional<CommandAck> CommandAck::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    CommandAck a;
    a.commandId = quint64(qMax<qint64>(0, r.integer("cmd"_L1, 0)));
    return checked(r, a);
}

QCborMap CommandResult::toBody() const
{
    QCborMap m;
    m.insert("cmd"_L1, qint64(commandId));
    m.insert("ok"_L1, ok);
    insertText(m, "text"_L1, text);
    insertBytes(m, "data"_L1, data);
    insertText(m, "mime"_L1, mimeType);
    return m;
}

std::optional<CommandResult> CommandResult::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    CommandResult c;
    c.commandId = quint64(qMax<qint64>(0, r.integer("cmd"_L1, 0, true)));
    c.ok = r.boolean("ok"_L1, false);
    if (r.ok() && !body.contains("ok"_L1))
        r.fail(u"missing field \"ok\""_s);
    c.text = r.text("text"_L1);
    c.data = r.bytes("data"_L1);
    c.mimeType = r.text("mime"_L1);
    return checked(r, c);
}

// ---- Guide and releases

QCborMap GuideUpdated::toBody() const
{
    QCborMap m;
    m.insert("version"_L1, version);
    insertText(m, "url"_L1, url);
    if (size)
        m.insert("size"_L1, size);
    return m;
}

std::optional<GuideUpdated> GuideUpdated::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    GuideUpdated g;
    g.version = r.text("version"_L1, true);
    g.url = r.text("url"_L1);
    g.size = qMax<qint64>(0, r.integer("size"_L1, 0));
    return checked(r, g);
}

QCborMap ReleaseAvailable::toBody() const
{
    QCborMap m;
    m.insert("version"_L1, version);
    m.insert("channel"_L1, channel);
    insertText(m, "minBox"_L1, minBoxVersion);
    m.insert("url"_L1, url);
    insertBytes(m, "sha256"_L1, sha256);
    m.insert("size"_L1, size);
    if (rolloutId)
        m.insert("rollout"_L1, qint64(rolloutId));
    if (force)
        m.insert("force"_L1, true);
    return m;
}

std::optional<ReleaseAvailable> ReleaseAvailable::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    ReleaseAvailable a;
    a.version = r.text("version"_L1, true);
    a.channel = r.text("channel"_L1, true);
    a.minBoxVersion = r.text("minBox"_L1);
    a.url = r.text("url"_L1, true);
    a.sha256 = r.bytes("sha256"_L1);
    if (r.ok() && !a.sha256.isEmpty() && a.sha256.size() != 32)
        r.fail(u"field \"sha256\" has %1 bytes, not 32"_s.arg(a.sha256.size()));
    a.size = qMax<qint64>(0, r.integer("size"_L1, 0, true));
    a.rolloutId = quint64(qMax<qint64>(0, r.integer("rollout"_L1, 0)));
    a.force = r.boolean("force"_L1, false);
    return checked(r, a);
}

// ---- Error

QCborMap ErrorBody::toBody() const
{
    QCborMap m;
    m.insert("code"_L1, errorCodeName(code));
    insertText(m, "text"_L1, text);
    if (retryAfterSeconds > 0)
        m.insert("retryAfter"_L1, retryAfterSeconds);
    return m;
}

std::optional<ErrorBody> ErrorBody::fromBody(const QCborMap &body, QString *error)
{
    BodyReader r(body, error);
    ErrorBody e;
    e.code = errorCodeFromName(r.text("code"_L1, true));
    e.text = r.text("text"_L1);
    e.retryAfterSeconds = int(bounded(0, r.integer("retryAfter"_L1, 0), 86400));
    return checked(r, e);
}

} // namespace iptv::protocol
