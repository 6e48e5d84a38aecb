#pragma once

// The control protocol between boxes, operators and the control server (docs/protocol.md).
//
// A message is one CBOR map in one binary WebSocket frame (operators may also send the same map
// as JSON in a text frame). Three keys make the envelope: "t" (type name), "id" (the sender's
// sequence number, strictly increasing within a session; 0 or absent: none, not replay-checked)
// and "re" (the id this answers). Every other key is the body. Readers ignore keys they do not
// know, so fields can be added without a version bump; a new version is negotiated in the hello
// only for changes old peers would misread.

#include <QByteArray>
#include <QCborMap>
#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace iptv::protocol {

/// 2: the server's telemetry ack is cumulative (acknowledges every telemetry up to `re`).
inline constexpr int kProtocolVersion = 2;    ///< the newest version this build speaks
inline constexpr int kMinProtocolVersion = 1; ///< the oldest version this build still speaks
/// From this version on, one telemetry ack answers every earlier telemetry of the session too.
inline constexpr int kCumulativeAckVersion = 2;

enum class MessageType : quint8 {
    Unknown,
    Hello,            ///< box/operator -> server: versions, identity, credentials
    Welcome,          ///< server -> peer: chosen version, box id, enrollment state, token
    Telemetry,        ///< box -> server: periodic state (acknowledged by Ack)
    Event,            ///< box -> server: buffering, errors, boots, installs
    Command,          ///< server -> box: an operator's command
    Ack,              ///< either way: "re" received (telemetry, command delivery)
    Result,           ///< box -> server: a command's outcome (and its data: logs, screenshot)
    GuideUpdated,     ///< server -> box: a new guide version is available
    ReleaseAvailable, ///< server -> box: install this release
    Ping,
    Pong,
    Error,            ///< either way: a request failed; "re" names it when it had an id
    Subscribe,        ///< operator -> server: live topics (fleet, box:<id>, rollouts, commands)
    Update,           ///< server -> operator: a change in a subscribed topic
    Ticket,           ///< box -> server: ask for an identity ticket; server -> box: the ticket ("re")
};

/// Wire name of a type ("hello", "guide-updated", ...); empty for Unknown.
QString typeName(MessageType type);
/// Type for a wire name; Unknown when the name is not one of ours.
MessageType typeFromName(QStringView name);

enum class ErrorCode : quint8 {
    None,
    BadFrame,           ///< not a CBOR/JSON map, or an envelope key of the wrong type
    TooLarge,           ///< frame, string or container over the limits
    UnknownType,        ///< "t" names no message type of this version
    UnsupportedVersion, ///< no common protocol version
    BadRequest,         ///< a body field is missing or of the wrong type
    Unauthorized,       ///< bad or missing token/secret
    PendingApproval,    ///< the box is enrolled but an operator has not approved it yet
    Rejected,           ///< the box (or operator) is blocked
    Replay,             ///< a message id that is not above the last one of the session
    Forbidden,          ///< the operator's role does not allow this
    Overloaded,         ///< admission control: come back after "retryAfter" seconds
    NotFound,
    Conflict,
    Expired,
    Internal,
};
QString errorCodeName(ErrorCode code);
ErrorCode errorCodeFromName(QStringView name);

/// One decoded message. The body holds every key except the envelope's.
struct Message
{
    MessageType type = MessageType::Unknown;
    QString name;        ///< the type as it came on the wire (kept for "unknown type" errors)
    quint64 id = 0;      ///< sender's sequence number, the whole unsigned 64-bit range; 0 = none
    quint64 replyTo = 0; ///< "re": the id this answers; 0 = none
    QCborMap body;
    /// decode() of a QByteArray: the frame it came from, shared, not copied. The server stores
    /// telemetry as it came instead of encoding the body again (see storedBodyJson()).
    QByteArray frame;

    Message() = default;
    Message(MessageType t, quint64 messageId = 0, QCborMap b = {}, quint64 re = 0)
        : type(t), name(typeName(t)), id(messageId), replyTo(re), body(std::move(b)) {}
};

/// What a peer may send. The server applies these to every frame before anything else.
struct DecodeLimits
{
    qsizetype maxFrameBytes = 1024 * 1024; ///< results may carry a screenshot or a log excerpt
    int maxDepth = 8;
    qsizetype maxItems = 4096;             ///< elements in one array or map
    qsizetype maxStringBytes = 1024 * 1024;
};

struct DecodeResult
{
    Message message;
    ErrorCode error = ErrorCode::None;
    QString errorText; ///< what and why, for the peer and the log
    bool ok() const { return error == ErrorCode::None; }
};

/// Decodes a binary frame. Checks structure and limits with a streaming pass first, so a hostile
/// frame costs no more than its own size.
DecodeResult decode(QByteArrayView frame, const DecodeLimits &limits = {});
/// The same, keeping a shared copy of `frame` in the message (Message::frame).
DecodeResult decode(const QByteArray &frame, const DecodeLimits &limits = {});
/// Decodes a text frame holding the same map as JSON (operators and scripts).
DecodeResult decodeJson(QByteArrayView frame, const DecodeLimits &limits = {});

/// CBOR, in the order body keys, t, id, re. Bodiless messages (ack, ping, pong: most of the
/// server's frames under telemetry load) are written directly, byte for byte the same.
QByteArray encode(const Message &message);
/// The same for a body already encoded as a CBOR map (Telemetry::toCbor()), spliced in as it is:
/// the bytes encode(Message(type, id, body, replyTo)) gives. The body holds no envelope key.
QByteArray encode(MessageType type, quint64 id, QByteArrayView bodyCbor, quint64 replyTo = 0);
QByteArray encodeJson(const Message &message);
/// A stored message or body (CBOR) as the JSON object of its body: envelope keys left out.
QJsonObject storedBodyJson(const QByteArray &cbor);

/// The highest version both sides speak, or -1.
int negotiateVersion(int peerMin, int peerMax);

/// An Error message answering `replyTo`.
Message errorMessage(ErrorCode code, const QString &text, quint64 replyTo = 0, int retryAfterSeconds = 0);

// ---- Typed bodies. fromBody() returns nullopt and fills *error on a missing or mistyped field.

struct Hello
{
    int minVersion = kMinProtocolVersion;
    int maxVersion = kProtocolVersion;
    QString role = QStringLiteral("box"); ///< "box" or "operator"
    // box
    QString serial;
    QString mac;
    QString model;
    QString softwareVersion;
    QString releaseChannel; ///< what the box runs now: clean | experimental
    QByteArray token;       ///< session credential issued at approval
    QByteArray secret;      ///< the box's own secret, sent to enroll or to get a new token
    /// "win": telemetry samples the box keeps in flight (0 = not said). A version-2 server may
    /// then acknowledge every win/2 samples, or after a short delay, instead of each one.
    int telemetryWindow = 0;
    // operator
    QString account;

    QCborMap toBody() const;
    static std::optional<Hello> fromBody(const QCborMap &body, QString *error);
};

struct Welcome
{
    int version = kProtocolVersion;
    QString boxId;                        ///< for boxes
    QString state;                        ///< boxes: approved | pending; operators: role name
    QByteArray token;                     ///< a newly issued token (store it), else empty
    int heartbeatSeconds = 30;
    int telemetrySeconds = 60;
    QString releaseChannel;               ///< the channel the box belongs to
    QDateTime serverTime;

    QCborMap toBody() const;
    static std::optional<Welcome> fromBody(const QCborMap &body, QString *error);
};

/// A box's identity ticket (boxticket.h). The box asks with "aud" (the server it is for, may be
/// empty); the control server answers with "ticket" (the signed text) and "exp".
struct TicketBody
{
    QString audience;
    QByteArray ticket;
    QDateTime expires;

    QCborMap toBody() const;
    static std::optional<TicketBody> fromBody(const QCborMap &body, QString *error);
};

/// Frame-time statistics from development builds (milliseconds).
struct FrameStats
{
    int frames = 0;
    double p50 = 0, p95 = 0, p99 = 0, max = 0;

    bool operator==(const FrameStats &) const = default;
};

/// The parts of one zap, each in ms after the key (-1: not reached or not known): key to play(),
/// connected, the container's header, the first keyframe packet, decoded, handed to the video
/// sink, and the first frame the window painted with it.
struct ZapParts
{
    int tuneMs = -1;
    int connectedMs = -1;
    int openedMs = -1;
    int keyframeMs = -1;
    int decodedMs = -1;
    int shownMs = -1;
    int paintedMs = -1;

    bool operator==(const ZapParts &) const = default;
};

struct Telemetry
{
    QDateTime time;
    double cpuPercent = -1;     ///< -1 = not reported
    qint64 memoryUsedKb = -1;
    qint64 memoryTotalKb = -1;
    double temperatureC = -1000;///< -1000 = not reported
    qint64 uptimeSeconds = -1;
    QString softwareVersion;
    QString releaseChannel;
    QString currentChannel;
    QString playerState;        ///< stopped | playing | buffering | paused | error
    int bufferingEvents = 0;    ///< since the previous telemetry
    qint64 bufferingMs = 0;
    int errorEvents = 0;
    QList<int> zapTimesMs;      ///< channel changes since the previous telemetry
    QList<ZapParts> zapParts;   ///< their parts ("zp": [tune, conn, open, key, dec, shown, paint] each), at most kMaxZapParts
    std::optional<FrameStats> frameStats;

    static constexpr qsizetype kMaxZapParts = 64;

    /// The body as a map: toCbor() read back.
    QCborMap toBody() const;
    /// The body as CBOR, written directly (what a box sends every sample); the bytes a QCborMap
    /// of the same entries encodes to.
    QByteArray toCbor() const;
    static std::optional<Telemetry> fromBody(const QCborMap &body, QString *error);

    bool operator==(const Telemetry &) const = default;
};

/// A telemetry message as decodeTelemetry() reads it.
struct TelemetryMessage
{
    quint64 id = 0;
    quint64 replyTo = 0;
    Telemetry telemetry;
};

/// The server's fast path for the frame it gets most: a telemetry message in the shape boxes send
/// (a definite-length map of text keys, each known field of its own type, nothing nested but
/// "zap", "zp" and "ft") is read straight into *out, with no QCborValue tree built. Anything else (any
/// other type, any error, an unusual encoding) returns false, and decode() then gives the message
/// or the error. When it returns true, decode() and Telemetry::fromBody() give the same id, "re"
/// and sample (tests and fuzz_protocol hold it to that).
bool decodeTelemetry(QByteArrayView frame, const DecodeLimits &limits, TelemetryMessage *out);

struct BoxEvent
{
    QDateTime time;
    QString kind;     ///< buffering | error | boot | install | rollback | zap | ...
    QString severity; ///< info | warning | error
    QString text;
    QCborMap data;

    QCborMap toBody() const;
    static std::optional<BoxEvent> fromBody(const QCborMap &body, QString *error);
};

/// What a box reports about an install: the data map of an event of kind "install" (or
/// "rollback" for RolledBack). The release service reads rollout results from it.
struct InstallReport
{
    enum class Phase : quint8 {
        Started,    ///< downloading (ok)
        Installed,  ///< unpacked into a slot, pending until the next start (ok)
        Failed,     ///< refused or could not install (not ok)
        Committed,  ///< the new release passed its health check (ok)
        RolledBack, ///< the release failed its health check; the box went back (not ok)
    };
    static constexpr qsizetype kMaxVersionChars = 64;

    Phase phase = Phase::Started;
    QString version;       ///< the release this is about (for RolledBack: the one given up)
    bool ok = false;
    quint64 rolloutId = 0; ///< the offer's rollout; 0 = an operator's install-release command
    QString previous;      ///< Committed: the release it replaced
    QString rolledBackTo;  ///< RolledBack: the release now running (empty: the built-in one)

    /// Wire name of a phase ("started", "rolled-back", ...).
    static QString phaseName(Phase phase);
    /// The event's data map.
    QCborMap toBody() const;
    /// The event that carries it (kind, severity from ok, this as data).
    BoxEvent toEvent(const QString &text, const QDateTime &time = {}) const;
    /// Reads an event's data: every field typed, the phase one of ours, the version bounded.
    static std::optional<InstallReport> fromBody(const QCborMap &data, QString *error);
    /// The report of an install or rollback event; nullopt with an empty *error for other kinds.
    static std::optional<InstallReport> fromEvent(const BoxEvent &event, QString *error);

    bool operator==(const InstallReport &) const = default;
};

enum class CommandKind : quint8 {
    Unknown,
    Reboot,
    FactoryReset,
    Tune,           ///< args: channel
    ShowMessage,    ///< args: text, seconds
    CollectLogs,    ///< args: lines
    Screenshot,
    SetConfig,      ///< args: a map of settings
    InstallRelease, ///< args: version, url, sha256, size, channel, force
};
QString commandName(CommandKind kind);
CommandKind commandFromName(QStringView name);

struct Command
{
    quint64 commandId = 0; ///< the server's id; ack and result name it
    CommandKind kind = CommandKind::Unknown;
    QCborMap args;
    QDateTime expires;

    QCborMap toBody() const;
    static std::optional<Command> fromBody(const QCborMap &body, QString *error);
};

/// Box -> server ack of a command ("cmd" set) or server -> box ack of telemetry ("re" only).
struct CommandAck
{
    quint64 commandId = 0;
    QCborMap toBody() const;
    static std::optional<CommandAck> fromBody(const QCborMap &body, QString *error);
};

struct CommandResult
{
    quint64 commandId = 0;
    bool ok = false;
    QString text;     ///< what happened, for the operator
    QByteArray data;  ///< logs (text) or a screenshot (image bytes)
    QString mimeType; ///< of data

    QCborMap toBody() const;
    static std::optional<CommandResult> fromBody(const QCborMap &body, QString *error);
};

struct GuideUpdated
{
    QString version;
    QString url;
    qint64 size = 0;

    QCborMap toBody() const;
    static std::optional<GuideUpdated> fromBody(const QCborMap &body, QString *error);
};

struct ReleaseAvailable
{
    QString version;
    QString channel;
    QString minBoxVersion;
    QString url;
    QByteArray sha256;
    qint64 size = 0;
    quint64 rolloutId = 0;
    bool force = false; ///< an operator's rollback: install even if older

    QCborMap toBody() const;
    static std::optional<ReleaseAvailable> fromBody(const QCborMap &body, QString *error);
};

struct ErrorBody
{
    ErrorCode code = ErrorCode::Internal;
    QString text;
    int retryAfterSeconds = 0;

    QCborMap toBody() const;
    static std::optional<ErrorBody> fromBody(const QCborMap &body, QString *error);
};

} // namespace iptv::protocol
