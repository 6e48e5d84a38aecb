// The control protocol codec: every typed body round-trips through CBOR and JSON, hostile and
// malformed frames get the right error code, and versions negotiate as documented.
#include <protocol/message.h>

#include <QCborArray>
#include <QCborStreamWriter>
#include <QCborValue>
#include <QTest>

using namespace Qt::StringLiterals;
using namespace iptv::protocol;

namespace {

QByteArray cbor(const QCborValue &v)
{
    return v.toCbor();
}

QByteArray nested(int depth)
{
    QCborValue v = QCborMap{{u"leaf"_s, 1}};
    for (int i = 0; i < depth; ++i)
        v = QCborMap{{u"n"_s, v}};
    QCborMap m = v.toMap();
    m.insert(u"t"_s, u"event"_s);
    return QCborValue(m).toCbor();
}

Telemetry fullSample()
{
    Telemetry t;
    t.time = QDateTime::fromMSecsSinceEpoch(1'790'000'000'000, Qt::UTC);
    t.cpuPercent = 23.5;
    t.memoryUsedKb = 412'000;
    t.memoryTotalKb = 1'024'000;
    t.temperatureC = 61.5;
    t.uptimeSeconds = 86'400;
    t.softwareVersion = u"2.4.1"_s;
    t.releaseChannel = u"clean"_s;
    t.currentChannel = u"bbc-one"_s;
    t.playerState = u"playing"_s;
    t.bufferingEvents = 2;
    t.bufferingMs = 1800;
    t.errorEvents = 1;
    t.zapTimesMs = {640, 720};
    t.zapParts = {ZapParts{1, 12, 40, 41, 55, 180, 260}, ZapParts{0, 9, -1, -1, -1, -1, -1}};
    t.frameStats = FrameStats{60, 16.6, 20.0, 33.3, 50.0};
    return t;
}

// A telemetry frame written entry by entry: `entries` is CBOR of the key/value pairs.
QByteArray rawMap(int count, const QByteArray &entries)
{
    QByteArray out;
    QCborStreamWriter w(&out);
    w.startMap(quint64(count)); // a definite-length map's head is all startMap() writes
    return out + entries;
}

QByteArray pair(const QString &key, const QCborValue &value)
{
    return QCborValue(key).toCbor() + value.toCbor();
}

// The envelope and a short body, plus what a row adds.
QByteArray telemetryFrame(int extraCount, const QByteArray &extra, quint64 id = 9)
{
    return rawMap(3 + extraCount, pair(u"t"_s, u"telemetry"_s) + pair(u"id"_s, qint64(id))
                                      + pair(u"cpu"_s, 12.5) + extra);
}

} // namespace

class TstProtocolCodec : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void typeNames()
    {
        for (int i = int(MessageType::Hello); i <= int(MessageType::Update); ++i) {
            const auto type = MessageType(i);
            QVERIFY(!typeName(type).isEmpty());
            QCOMPARE(typeFromName(typeName(type)), type);
        }
        QCOMPARE(typeFromName(u"bogus"), MessageType::Unknown);
        for (int i = 0; i <= int(ErrorCode::Internal); ++i)
            QCOMPARE(errorCodeFromName(errorCodeName(ErrorCode(i))), ErrorCode(i));
        for (int i = 1; i <= int(CommandKind::InstallRelease); ++i)
            QCOMPARE(commandFromName(commandName(CommandKind(i))), CommandKind(i));
    }

    void bodilessEncodingIsQCborValues_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<quint64>("id");
        QTest::addColumn<quint64>("re");
        QTest::newRow("ack, small ids") << int(MessageType::Ack) << quint64(1) << quint64(23);
        QTest::newRow("ack, one-byte ids") << int(MessageType::Ack) << quint64(24) << quint64(255);
        QTest::newRow("ack, two-byte ids") << int(MessageType::Ack) << quint64(256) << quint64(65535);
        QTest::newRow("ack, four-byte ids") << int(MessageType::Ack) << quint64(65536) << quint64(0xffffffffu);
        QTest::newRow("ack, eight-byte ids") << int(MessageType::Ack) << quint64(0x100000000ULL) << quint64(INT64_MAX);
        QTest::newRow("pong without id") << int(MessageType::Pong) << quint64(0) << quint64(9);
        QTest::newRow("ping without re") << int(MessageType::Ping) << quint64(7) << quint64(0);
        QTest::newRow("beyond int64") << int(MessageType::Ack) << quint64(UINT64_MAX) << quint64(1);
        QTest::newRow("re beyond int64") << int(MessageType::Pong) << quint64(3) << quint64(UINT64_MAX);
    }
    void bodilessEncodingIsQCborValues()
    {
        // The direct writer must give the very bytes the general path (QCborValue) gives, and
        // ids above 2^63 - 1 (which a QCborValue holds only as a double) as unsigned integers.
        QFETCH(int, type);
        QFETCH(quint64, id);
        QFETCH(quint64, re);
        const Message m(MessageType(type), id, {}, re);
        QByteArray expected;
        QCborStreamWriter w(&expected);
        w.startMap(1 + (id != 0) + (re != 0));
        w.append(u"t"_s);
        w.append(typeName(m.type));
        if (id) {
            w.append(u"id"_s);
            w.append(id);
        }
        if (re) {
            w.append(u"re"_s);
            w.append(re);
        }
        w.endMap();
        QCOMPARE(encode(m).toHex(), expected.toHex());
        if (id <= quint64(INT64_MAX) && re <= quint64(INT64_MAX)) {
            QCborMap general;
            general.insert(u"t"_s, typeName(m.type));
            if (id)
                general.insert(u"id"_s, qint64(id));
            if (re)
                general.insert(u"re"_s, qint64(re));
            QCOMPARE(encode(m).toHex(), QCborValue(general).toCbor().toHex());
        }
        const DecodeResult back = decode(encode(m));
        QVERIFY2(back.ok(), qPrintable(back.errorText));
        QCOMPARE(back.message.id, id);
        QCOMPARE(back.message.replyTo, re);
    }

    void idsUseTheWholeUnsignedRange_data()
    {
        QTest::addColumn<quint64>("id");
        QTest::newRow("1") << quint64(1);
        QTest::newRow("2^63 - 1") << quint64(INT64_MAX);
        QTest::newRow("2^63") << (quint64(1) << 63);
        QTest::newRow("2^64 - 1") << quint64(UINT64_MAX);
    }
    void idsUseTheWholeUnsignedRange()
    {
        // docs/protocol.md: "id" and "re" are unsigned; every encoder and both decoders keep them.
        QFETCH(quint64, id);
        const QCborMap body{{u"kind"_s, u"boot"_s}};
        const QList<QByteArray> frames{encode(Message(MessageType::Ping, id, {}, id)),
                                       encode(Message(MessageType::Event, id, body, id)),
                                       encode(MessageType::Event, id, QCborValue(body).toCbor(), id),
                                       encode(MessageType::Telemetry, id, Telemetry{}.toCbor(), id)};
        for (const QByteArray &frame : frames) {
            // Unsigned in the frame: major type 0 for both ids.
            const QByteArray head = QByteArray("\x62id", 3);
            QVERIFY2(frame.contains(head) && (quint8(frame.at(frame.indexOf(head) + 3)) >> 5) == 0, frame.toHex().constData());
            const DecodeResult r = decode(frame);
            QVERIFY2(r.ok(), qPrintable(r.errorText));
            QCOMPARE(r.message.id, id);
            QCOMPARE(r.message.replyTo, id);
            QCOMPARE(encode(r.message).toHex(), encode(decode(encode(r.message)).message).toHex());
        }
        TelemetryMessage fast;
        QVERIFY(decodeTelemetry(frames.last(), DecodeLimits(), &fast));
        QCOMPARE(fast.id, id);
        QCOMPARE(fast.replyTo, id);
    }

    void bodyEnvelopeKeysGiveWay()
    {
        // A body holding "t", "id" or "re" (no decoded message does) is written with the
        // envelope's values, once each: still one valid map.
        const Message m(MessageType::Event, 5, QCborMap{{u"id"_s, 99}, {u"kind"_s, u"boot"_s}, {u"t"_s, u"x"_s}}, 4);
        const DecodeResult r = decode(encode(m));
        QVERIFY2(r.ok(), qPrintable(r.errorText));
        QCOMPARE(r.message.type, MessageType::Event);
        QCOMPARE(r.message.id, 5u);
        QCOMPARE(r.message.replyTo, 4u);
        QCOMPARE(r.message.body, (QCborMap{{u"kind"_s, u"boot"_s}}));
    }

    void idsAreIntegers_data()
    {
        QTest::addColumn<QByteArray>("frame");
        QTest::addColumn<bool>("json");
        // A double is no id, however large: only major type 0 reads as one.
        QTest::newRow("CBOR double 2^64") << cbor(QCborMap{{u"t"_s, u"ping"_s}, {u"id"_s, 0x1p64}}) << false;
        QTest::newRow("CBOR double 2^63") << cbor(QCborMap{{u"t"_s, u"ping"_s}, {u"id"_s, 0x1p63}}) << false;
        QTest::newRow("CBOR double re") << cbor(QCborMap{{u"t"_s, u"ping"_s}, {u"re"_s, 0x1p63}}) << false;
        // JSON numbers beyond 2^63 - 1 are doubles to the parser: not exact, refused.
        QTest::newRow("JSON 2^63") << QByteArray("{\"t\":\"ping\",\"id\":9223372036854775808}") << true;
        QTest::newRow("JSON 2^64 - 1") << QByteArray("{\"t\":\"ping\",\"id\":18446744073709551615}") << true;
    }
    void idsAreIntegers()
    {
        QFETCH(QByteArray, frame);
        QFETCH(bool, json);
        const DecodeResult r = json ? decodeJson(frame) : decode(frame);
        QCOMPARE(r.error, ErrorCode::BadFrame);
        QVERIFY2(r.errorText.contains(u"not a non-negative integer"_s), qPrintable(r.errorText));
    }

    void jsonIdsUpToInt64()
    {
        const DecodeResult r = decodeJson("{\"t\":\"ping\",\"id\":9223372036854775807}");
        QVERIFY2(r.ok(), qPrintable(r.errorText));
        QCOMPARE(r.message.id, quint64(INT64_MAX));
    }

    void bodyEncodingIsQCborValues()
    {
        // Messages with a body are written straight from the body's entries: the same bytes as
        // building the whole map first.
        Telemetry t;
        t.cpuPercent = 12.5;
        t.memoryUsedKb = 1 << 20;
        t.currentChannel = u"bbc-one ü"_s;
        t.zapTimesMs = {640, 720};
        const QList<Message> messages{Message(MessageType::Telemetry, 300, t.toBody()),
                                      Message(MessageType::Ack, 9, QCborMap{{u"cmd"_s, 7}}, 8),
                                      Message(MessageType::Event, 70000, QCborMap{{u"data"_s, QCborMap{{u"n"_s, QCborArray{1, 2.5, u"x"_s}}}}})};
        for (const Message &m : messages) {
            QCborMap general = m.body;
            general.insert(u"t"_s, typeName(m.type));
            if (m.id)
                general.insert(u"id"_s, qint64(m.id));
            if (m.replyTo)
                general.insert(u"re"_s, qint64(m.replyTo));
            QCOMPARE(encode(m).toHex(), QCborValue(general).toCbor().toHex());
        }
    }

    void storedTelemetryLeavesTheEnvelopeOut()
    {
        Telemetry t;
        t.cpuPercent = 12.5;
        t.currentChannel = u"bbc-one"_s;
        const QByteArray frame = encode(Message(MessageType::Telemetry, 5, t.toBody()));
        const DecodeResult d = decode(frame);
        QVERIFY(d.ok());
        QCOMPARE(d.message.frame, frame); // kept, shared
        const QJsonObject o = storedBodyJson(frame);
        QCOMPARE(o.value(u"ch").toString(), u"bbc-one"_s);
        QCOMPARE(o.value(u"cpu").toDouble(), 12.5);
        QVERIFY(!o.contains(u"t"_s) && !o.contains(u"id"_s));
        // A body stored on its own (older rows) reads the same.
        QCOMPARE(storedBodyJson(t.toBody().toCborValue().toCbor()), o);
    }

    void envelopeRoundTrip_data()
    {
        QTest::addColumn<bool>("json");
        QTest::newRow("cbor") << false;
        QTest::newRow("json") << true;
    }
    void envelopeRoundTrip()
    {
        QFETCH(bool, json);
        Message m(MessageType::Ack, 42, QCborMap{{u"cmd"_s, 7}, {u"future-field"_s, u"kept"_s}}, 41);
        const DecodeResult r = json ? decodeJson(encodeJson(m)) : decode(encode(m));
        QVERIFY2(r.ok(), qPrintable(r.errorText));
        QCOMPARE(r.message.type, MessageType::Ack);
        QCOMPARE(r.message.name, u"ack"_s);
        QCOMPARE(r.message.id, 42u);
        QCOMPARE(r.message.replyTo, 41u);
        QVERIFY(!r.message.body.contains(u"t"_s));
        QCOMPARE(r.message.body.value(u"future-field"_s).toString(), u"kept"_s);
        const auto ack = CommandAck::fromBody(r.message.body, nullptr);
        QVERIFY(ack);
        QCOMPARE(ack->commandId, 7u);
    }

    void compactTelemetry()
    {
        // A typical telemetry frame stays well under 200 bytes: 19,000 boxes at one a minute
        // and 50,000 a second under load both depend on it.
        Telemetry t = fullSample();
        t.frameStats.reset(); // development builds only
        const QByteArray frame = encode(Message(MessageType::Telemetry, 1234, t.toBody()));
        QVERIFY2(frame.size() < 200, QByteArray::number(frame.size()));
    }

    void telemetryToCborIsQCborValues_data()
    {
        QTest::addColumn<int>("variant");
        QTest::newRow("full") << 0;
        QTest::newRow("empty") << 1;
        QTest::newRow("no time, negatives") << 2;
        QTest::newRow("unicode text") << 3;
    }
    void telemetryToCborIsQCborValues()
    {
        QFETCH(int, variant);
        Telemetry t = fullSample();
        if (variant == 1)
            t = Telemetry();
        if (variant == 2) {
            t.time = {};
            t.bufferingEvents = -3;
            t.errorEvents = -1;
            t.zapTimesMs = {-5, 0, INT_MAX};
            t.frameStats.reset();
        }
        if (variant == 3)
            t.currentChannel = u"Das Erste \u00e9\u4e2d"_s;
        QCOMPARE(t.toCbor().toHex(), QCborValue(t.toBody()).toCbor().toHex());
        // Spliced into a message: the bytes encode() gives for the same body as a map.
        for (const quint64 re : {quint64(0), quint64(77)}) {
            QCOMPARE(encode(MessageType::Telemetry, 1234, t.toCbor(), re).toHex(),
                     encode(Message(MessageType::Telemetry, 1234, t.toBody(), re)).toHex());
        }
    }

    void fastTelemetryAgreesWithDecode_data()
    {
        QTest::addColumn<QByteArray>("frame");
        QTest::addColumn<bool>("fast"); // taken by decodeTelemetry(), else left to decode()
        const Telemetry full = fullSample();
        QTest::newRow("full sample") << encode(MessageType::Telemetry, 7, full.toCbor()) << true;
        QTest::newRow("with re") << encode(MessageType::Telemetry, 7, full.toCbor(), 3) << true;
        QTest::newRow("envelope only") << encode(Message(MessageType::Telemetry, 7)) << true;
        QTest::newRow("negative time") << telemetryFrame(1, pair(u"ts"_s, -5)) << true;
        QTest::newRow("huge counters clamped") << telemetryFrame(2, pair(u"buf"_s, qint64(1) << 40) + pair(u"err"_s, -4)) << true;
        QTest::newRow("zap doubles and extremes")
            << telemetryFrame(1, pair(u"zap"_s, QCborArray{1.5, -3, 1e300, qQNaN(), qint64(1) << 40})) << true;
        QTest::newRow("empty ft") << telemetryFrame(1, pair(u"ft"_s, QCborMap())) << true;
        QTest::newRow("zap parts, one empty, extremes")
            << telemetryFrame(1, pair(u"zp"_s, QCborArray{QCborArray{-9, 1, 2, 3, 4, 5, qint64(1) << 40},
                                                               QCborArray{-1, -1, -1, -1, -1, -1, -1}}))
            << true;
        QTest::newRow("unknown simple fields") << telemetryFrame(4, pair(u"hdmi"_s, true) + pair(u"x"_s, QCborValue())
                                                                     + pair(u"a-rather-long-field-name"_s, u"v"_s)
                                                                     + pair(u"blob"_s, QByteArray("\x00\x01", 2))) << true;
        QByteArray half = telemetryFrame(0, {});
        half.replace(QCborValue(12.5).toCbor(), QByteArray::fromHex("f94a40")); // 12.5 as float16
        QTest::newRow("float16 cpu") << half << true;
        QByteArray indefinite = telemetryFrame(0, {});
        indefinite[0] = char(0xbf);
        indefinite.append(char(0xff));
        QTest::newRow("indefinite map") << indefinite << true;
        QTest::newRow("id beyond qint64") << rawMap(2, pair(u"t"_s, u"telemetry"_s) + QCborValue(u"id"_s).toCbor()
                                                       + QByteArray::fromHex("1bffffffffffffffff")) << true;

        // Left to decode(): errors, and shapes it reads differently.
        QTest::newRow("another type") << encode(Message(MessageType::Event, 7, QCborMap{{u"kind"_s, u"boot"_s}})) << false;
        QTest::newRow("no id") << encode(Message(MessageType::Telemetry, 0, full.toBody())) << false;
        QTest::newRow("negative id") << rawMap(2, pair(u"t"_s, u"telemetry"_s) + pair(u"id"_s, -1)) << false;

        QTest::newRow("type twice") << telemetryFrame(1, pair(u"t"_s, u"telemetry"_s)) << false;
        QTest::newRow("field twice") << telemetryFrame(1, pair(u"cpu"_s, 1)) << false;
        QTest::newRow("integer field as double") << telemetryFrame(1, pair(u"mem"_s, 100.0)) << false;
        QTest::newRow("text field as integer") << telemetryFrame(1, pair(u"sw"_s, 2)) << false;
        QTest::newRow("unknown container") << telemetryFrame(1, pair(u"extra"_s, QCborArray{1})) << false;
        QTest::newRow("zap part as double") << telemetryFrame(1, pair(u"zp"_s, QCborArray{QCborArray{1, 2, 3, 4, 5.0, 6, 7}})) << false;
        QTest::newRow("zap of six parts") << telemetryFrame(1, pair(u"zp"_s, QCborArray{QCborArray{1, 2, 3, 4, 5, 6}})) << false;
        QTest::newRow("unknown ft field") << telemetryFrame(1, pair(u"ft"_s, QCborMap{{u"n"_s, 1}, {u"p42"_s, 2}})) << false;
        QTest::newRow("tagged value") << telemetryFrame(1, pair(u"ts"_s, QCborValue(QCborKnownTags::UnixTime_t, 5))) << false;
        QTest::newRow("integer key") << telemetryFrame(1, QCborValue(5).toCbor() + QCborValue(1).toCbor()) << false;
        QTest::newRow("trailing bytes") << telemetryFrame(0, {}) + QByteArray(1, char(0)) << false;
        QTest::newRow("truncated") << telemetryFrame(0, {}).chopped(1) << false;
        QByteArray badText = telemetryFrame(1, pair(u"sw"_s, u"ab"_s));
        badText.replace("ab", "\xff\xfe");
        QTest::newRow("invalid UTF-8 value") << badText << false;
        QByteArray badKey = telemetryFrame(1, pair(u"zz"_s, 1));
        badKey.replace("zz", "\xc3\x28");
        QTest::newRow("invalid UTF-8 unknown key") << badKey << false;
        QByteArray chunked = telemetryFrame(1, QByteArray::fromHex("7f616d62656dff") + QCborValue(5).toCbor());
        QTest::newRow("known key in chunks") << chunked << false; // "m" + "em": decode() reads "mem"
        QTest::newRow("not a map") << QCborValue(QCborArray{1, 2}).toCbor() << false;
        QTest::newRow("empty") << QByteArray() << false;
    }
    void fastTelemetryAgreesWithDecode()
    {
        QFETCH(QByteArray, frame);
        QFETCH(bool, fast);
        TelemetryMessage m;
        QCOMPARE(decodeTelemetry(frame, DecodeLimits(), &m), fast);
        if (!fast)
            return;
        const DecodeResult general = decode(frame);
        QVERIFY2(general.ok(), qPrintable(general.errorText));
        QCOMPARE(general.message.type, MessageType::Telemetry);
        QString error;
        const auto t = Telemetry::fromBody(general.message.body, &error);
        QVERIFY2(t, qPrintable(error));
        QCOMPARE(m.id, general.message.id);
        QCOMPARE(m.replyTo, general.message.replyTo);
        QCOMPARE(m.telemetry.toCbor().toHex(), t->toCbor().toHex()); // readable on failure
        QVERIFY(m.telemetry == *t);
    }

    void fastTelemetryKeepsTheLimits()
    {
        const QByteArray frame = encode(MessageType::Telemetry, 7, fullSample().toCbor());
        TelemetryMessage m;
        DecodeLimits flat;
        flat.maxDepth = 1; // "zap" and "ft" are one level down
        QVERIFY(!decodeTelemetry(frame, flat, &m));
        QCOMPARE(decode(frame, flat).error, ErrorCode::TooLarge);
        DecodeLimits small;
        small.maxFrameBytes = frame.size() - 1;
        QVERIFY(!decodeTelemetry(frame, small, &m));
        QCOMPARE(decode(frame, small).error, ErrorCode::TooLarge);
    }

    void helloRoundTrip()
    {
        Hello h;
        h.serial = u"SN-0001"_s;
        h.mac = u"00:11:22:33:44:55"_s;
        h.model = u"HX-400"_s;
        h.softwareVersion = u"1.2.3"_s;
        h.releaseChannel = u"experimental"_s;
        h.secret = QByteArray(32, '\x7f');
        h.telemetryWindow = 8;
        for (bool json : {false, true}) {
            const Message m(MessageType::Hello, 1, h.toBody());
            const DecodeResult r = json ? decodeJson(encodeJson(m)) : decode(encode(m));
            QVERIFY2(r.ok(), qPrintable(r.errorText));
            QString error;
            const auto back = Hello::fromBody(r.message.body, &error);
            QVERIFY2(back, qPrintable(error));
            QCOMPARE(back->serial, h.serial);
            QCOMPARE(back->mac, h.mac);
            QCOMPARE(back->model, h.model);
            QCOMPARE(back->softwareVersion, h.softwareVersion);
            QCOMPARE(back->releaseChannel, h.releaseChannel);
            QCOMPARE(back->secret, h.secret); // base64url in JSON, bytes in CBOR
            QCOMPARE(back->token, QByteArray());
            QCOMPARE(back->role, u"box"_s);
            QCOMPARE(back->minVersion, kMinProtocolVersion);
            QCOMPARE(back->maxVersion, kProtocolVersion);
            QCOMPARE(back->telemetryWindow, 8);
        }
        // A box that says nothing of its window: 0, acknowledged sample by sample.
        Hello quiet = h;
        quiet.telemetryWindow = 0;
        const auto back = Hello::fromBody(quiet.toBody(), nullptr);
        QVERIFY(back);
        QCOMPARE(back->telemetryWindow, 0);
        QVERIFY(!quiet.toBody().contains(u"win"_s));
    }

    void typedRoundTrips()
    {
        QString error;
        Welcome w;
        w.boxId = u"b-17"_s;
        w.state = u"approved"_s;
        w.token = "tok";
        w.heartbeatSeconds = 20;
        w.telemetrySeconds = 45;
        w.releaseChannel = u"clean"_s;
        w.serverTime = QDateTime::fromMSecsSinceEpoch(1'790'000'000'123, Qt::UTC);
        auto w2 = Welcome::fromBody(decode(encode(Message(MessageType::Welcome, 1, w.toBody()))).message.body, &error);
        QVERIFY2(w2, qPrintable(error));
        QCOMPARE(w2->boxId, w.boxId);
        QCOMPARE(w2->token, w.token);
        QCOMPARE(w2->heartbeatSeconds, 20);
        QCOMPARE(w2->telemetrySeconds, 45);
        QCOMPARE(w2->serverTime, w.serverTime);

        Telemetry t;
        t.cpuPercent = 12.5;
        t.temperatureC = 0; // zero degrees is a reading, not "absent"
        t.zapTimesMs = {300, 1200};
        t.frameStats = FrameStats{600, 16.6, 18.0, 33.2, 80.1};
        t.bufferingEvents = 2;
        t.bufferingMs = 1500;
        t.errorEvents = 1;
        t.zapParts = {ZapParts{2, 10, 30, 31, 40, 200, 290}};
        auto t2 = Telemetry::fromBody(t.toBody(), &error);
        QVERIFY2(t2, qPrintable(error));
        QCOMPARE(t2->zapParts, t.zapParts);
        QVERIFY(!Telemetry::fromBody(QCborMap{{u"zp"_s, QCborArray{1}}}, &error));
        QVERIFY2(error.contains(u"zp"_s), qPrintable(error));
        QCOMPARE(t2->cpuPercent, 12.5);
        QCOMPARE(t2->temperatureC, 0.0);
        QCOMPARE(t2->memoryUsedKb, -1); // absent stays absent
        QCOMPARE(t2->zapTimesMs, t.zapTimesMs);
        QVERIFY(t2->frameStats);
        QCOMPARE(t2->frameStats->p99, 33.2);
        QCOMPARE(t2->bufferingMs, 1500);

        Command c;
        c.commandId = 99;
        c.kind = CommandKind::Tune;
        c.args = QCborMap{{u"channel"_s, u"arte"_s}};
        c.expires = QDateTime::fromMSecsSinceEpoch(1'790'000'600'000, Qt::UTC);
        auto c2 = Command::fromBody(c.toBody(), &error);
        QVERIFY2(c2, qPrintable(error));
        QCOMPARE(c2->kind, CommandKind::Tune);
        QCOMPARE(c2->commandId, 99u);
        QCOMPARE(c2->args.value(u"channel"_s).toString(), u"arte"_s);
        QCOMPARE(c2->expires, c.expires);

        CommandResult res;
        res.commandId = 99;
        res.ok = true;
        res.data = QByteArray("\x89PNG", 4);
        res.mimeType = u"image/png"_s;
        auto res2 = CommandResult::fromBody(decodeJson(encodeJson(Message(MessageType::Result, 3, res.toBody()))).message.body, &error);
        QVERIFY2(res2, qPrintable(error));
        QVERIFY(res2->ok);
        QCOMPARE(res2->data, res.data);

        ReleaseAvailable ra;
        ra.version = u"2.0.0"_s;
        ra.channel = u"experimental"_s;
        ra.url = u"http://h:8421/box/releases/2.0.0"_s;
        ra.sha256 = QByteArray(32, 'x');
        ra.size = 123456;
        ra.rolloutId = 5;
        auto ra2 = ReleaseAvailable::fromBody(ra.toBody(), &error);
        QVERIFY2(ra2, qPrintable(error));
        QCOMPARE(ra2->sha256, ra.sha256);
        QCOMPARE(ra2->rolloutId, 5u);
        QVERIFY(!ra2->force);

        BoxEvent e;
        e.kind = u"buffering"_s;
        e.data = QCborMap{{u"ms"_s, 800}};
        auto e2 = BoxEvent::fromBody(e.toBody(), &error);
        QVERIFY2(e2, qPrintable(error));
        QCOMPARE(e2->severity, u"info"_s);
        QCOMPARE(e2->data.value(u"ms"_s).toInteger(), 800);

        const Message err = errorMessage(ErrorCode::Overloaded, u"busy"_s, 12, 7);
        const DecodeResult er = decode(encode(err));
        QVERIFY(er.ok());
        QCOMPARE(er.message.replyTo, 12u);
        auto eb = ErrorBody::fromBody(er.message.body, &error);
        QVERIFY(eb);
        QCOMPARE(eb->code, ErrorCode::Overloaded);
        QCOMPARE(eb->retryAfterSeconds, 7);
    }

    void badBodies_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<QCborMap>("body");
        QTest::addColumn<QString>("expected");
        QTest::newRow("hello without serial") << int(MessageType::Hello) << QCborMap{{u"v"_s, QCborArray{1, 1}}}
                                              << u"missing field \"serial\""_s;
        QTest::newRow("hello bad versions") << int(MessageType::Hello)
                                            << QCborMap{{u"v"_s, QCborArray{3, 1}}, {u"serial"_s, u"x"_s}}
                                            << u"[min, max]"_s;
        QTest::newRow("hello serial is a number") << int(MessageType::Hello)
                                                  << QCborMap{{u"v"_s, QCborArray{1, 1}}, {u"serial"_s, 5}}
                                                  << u"field \"serial\" is integer, not text"_s;
        QTest::newRow("hello odd role") << int(MessageType::Hello)
                                        << QCborMap{{u"v"_s, QCborArray{1, 1}}, {u"role"_s, u"root"_s}}
                                        << u"must be box or operator"_s;
        QTest::newRow("command unknown name") << int(MessageType::Command)
                                              << QCborMap{{u"cmd"_s, 1}, {u"name"_s, u"format-disk"_s}}
                                              << u"unknown command"_s;
        QTest::newRow("command without id") << int(MessageType::Command) << QCborMap{{u"name"_s, u"reboot"_s}}
                                            << u"missing field \"cmd\""_s;
        QTest::newRow("result without ok") << int(MessageType::Result) << QCborMap{{u"cmd"_s, 1}}
                                           << u"missing field \"ok\""_s;
        QTest::newRow("telemetry cpu as text") << int(MessageType::Telemetry) << QCborMap{{u"cpu"_s, u"high"_s}}
                                               << u"field \"cpu\" is text, not number"_s;
        QTest::newRow("telemetry zap of text") << int(MessageType::Telemetry)
                                               << QCborMap{{u"zap"_s, QCborArray{1, u"x"_s}}} << u"\"zap\""_s;
        QTest::newRow("release short hash") << int(MessageType::ReleaseAvailable)
                                            << QCborMap{{u"version"_s, u"1"_s}, {u"channel"_s, u"clean"_s},
                                                        {u"url"_s, u"u"_s}, {u"size"_s, 1},
                                                        {u"sha256"_s, QByteArray("abc")}}
                                            << u"not 32"_s;
    }
    void badBodies()
    {
        QFETCH(int, type);
        QFETCH(QCborMap, body);
        QFETCH(QString, expected);
        QString error;
        bool parsed = true;
        switch (MessageType(type)) {
        case MessageType::Hello: parsed = Hello::fromBody(body, &error).has_value(); break;
        case MessageType::Command: parsed = Command::fromBody(body, &error).has_value(); break;
        case MessageType::Result: parsed = CommandResult::fromBody(body, &error).has_value(); break;
        case MessageType::Telemetry: parsed = Telemetry::fromBody(body, &error).has_value(); break;
        case MessageType::ReleaseAvailable: parsed = ReleaseAvailable::fromBody(body, &error).has_value(); break;
        default: QFAIL("no reader in the table");
        }
        QVERIFY(!parsed);
        QVERIFY2(error.contains(expected), qPrintable(error));
    }

    void badFrames_data()
    {
        QTest::addColumn<QByteArray>("frame");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("expected");
        const QByteArray good = encode(Message(MessageType::Ping, 1));
        QTest::newRow("empty") << QByteArray() << int(ErrorCode::BadFrame) << u"empty"_s;
        QTest::newRow("not a map") << cbor(QCborArray{1, 2}) << int(ErrorCode::BadFrame) << u"CBOR map"_s;
        QTest::newRow("garbage") << QByteArray("\xff\xff\xff", 3) << int(ErrorCode::BadFrame) << QString();
        QTest::newRow("truncated") << good.left(good.size() - 1) << int(ErrorCode::BadFrame) << QString();
        QTest::newRow("trailing bytes") << good + good << int(ErrorCode::BadFrame) << u"after the message"_s;
        QTest::newRow("no type") << cbor(QCborMap{{u"id"_s, 1}}) << int(ErrorCode::BadFrame) << u"no message type"_s;
        QTest::newRow("type not text") << cbor(QCborMap{{u"t"_s, 3}}) << int(ErrorCode::BadFrame) << u"not text"_s;
        QTest::newRow("negative id") << cbor(QCborMap{{u"t"_s, u"ping"_s}, {u"id"_s, -4}}) << int(ErrorCode::BadFrame)
                                     << u"non-negative"_s;
        QTest::newRow("unknown type") << cbor(QCborMap{{u"t"_s, u"format-disk"_s}}) << int(ErrorCode::UnknownType)
                                      << u"format-disk"_s;
        QTest::newRow("too deep") << nested(20) << int(ErrorCode::TooLarge) << u"nesting"_s;
        QCborArray many;
        for (int i = 0; i < 5000; ++i)
            many.append(i);
        QTest::newRow("too many items") << cbor(QCborMap{{u"t"_s, u"event"_s}, {u"x"_s, many}})
                                        << int(ErrorCode::TooLarge) << u"5000 items"_s;
        QTest::newRow("frame too large") << QByteArray(2 * 1024 * 1024, 'a') << int(ErrorCode::TooLarge)
                                         << u"limit"_s;
        // Tags nest like containers: a chain of them is refused, not followed down the stack,
        // in a small frame (parsed at once) and a large one (the streaming pass first).
        QTest::newRow("tag chain, small frame") << QByteArray("\xa1\x61t").append(QByteArray(3000, '\xd1')).append('\x01')
                                                << int(ErrorCode::TooLarge) << u"nesting"_s;
        QTest::newRow("tag chain, large frame") << QByteArray("\xa1\x61t").append(QByteArray(9000, '\xd1')).append('\x01')
                                                << int(ErrorCode::TooLarge) << u"nesting"_s;
        // A definite-length array header claiming 2^32 items in a 10-byte frame.
        QTest::newRow("lying length") << QByteArray("\xa1\x61t\x9b\x00\x00\x00\x01\x00\x00\x00\x00", 12)
                                      << int(ErrorCode::TooLarge) << QString();
        // Indefinite-length text in chunks adding up past the string limit.
        QByteArray chunks("\xa2\x61t\x65" "event" "\x61x\x7f", 12);
        for (int i = 0; i < 40; ++i)
            chunks += QByteArray("\x79\x80\x00", 3) + QByteArray(0x8000, 'z');
        chunks += '\xff';
        QTest::newRow("chunked string") << chunks << int(ErrorCode::TooLarge) << u"string over"_s;
    }
    void badFrames()
    {
        QFETCH(QByteArray, frame);
        QFETCH(int, code);
        QFETCH(QString, expected);
        DecodeLimits limits;
        limits.maxStringBytes = 1024 * 1024;
        limits.maxFrameBytes = 2 * 1024 * 1024 - 1;
        const DecodeResult r = decode(frame, limits);
        QVERIFY2(int(r.error) == code, qPrintable(r.errorText));
        QVERIFY(!r.errorText.isEmpty());
        if (!expected.isEmpty())
            QVERIFY2(r.errorText.contains(expected), qPrintable(r.errorText));
    }

    void badJson_data()
    {
        QTest::addColumn<QByteArray>("frame");
        QTest::addColumn<int>("code");
        QTest::newRow("not json") << QByteArray("{\"t\":") << int(ErrorCode::BadFrame);
        QTest::newRow("array") << QByteArray("[1,2]") << int(ErrorCode::BadFrame);
        QTest::newRow("unknown") << QByteArray("{\"t\":\"nope\"}") << int(ErrorCode::UnknownType);
        QTest::newRow("fractional id") << QByteArray("{\"t\":\"ping\",\"id\":1.5}") << int(ErrorCode::BadFrame);
        QTest::newRow("ok") << QByteArray("{\"t\":\"ping\",\"id\":3}") << int(ErrorCode::None);
    }
    void badJson()
    {
        QFETCH(QByteArray, frame);
        QFETCH(int, code);
        QCOMPARE(int(decodeJson(frame).error), code);
    }

    void negotiate_data()
    {
        QTest::addColumn<int>("peerMin");
        QTest::addColumn<int>("peerMax");
        QTest::addColumn<int>("chosen");
        QTest::newRow("same") << kMinProtocolVersion << kProtocolVersion << kProtocolVersion;
        QTest::newRow("newer peer") << kMinProtocolVersion << kProtocolVersion + 3 << kProtocolVersion;
        QTest::newRow("peer only newer") << kProtocolVersion + 1 << kProtocolVersion + 2 << -1;
        QTest::newRow("peer only older") << 0 << kMinProtocolVersion - 1 << -1;
    }
    void negotiate()
    {
        QFETCH(int, peerMin);
        QFETCH(int, peerMax);
        QFETCH(int, chosen);
        QCOMPARE(negotiateVersion(peerMin, peerMax), chosen);
    }

    // Install reports: an event's data as the box writes it, through the frame, read back.
    void installReportRoundTrip_data()
    {
        QTest::addColumn<int>("phase");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<qulonglong>("rollout");
        QTest::addColumn<QString>("kind");
        QTest::newRow("started") << int(InstallReport::Phase::Started) << true << 7ull << u"install"_s;
        QTest::newRow("installed, no rollout") << int(InstallReport::Phase::Installed) << true << 0ull << u"install"_s;
        QTest::newRow("failed") << int(InstallReport::Phase::Failed) << false << 9007199254740993ull << u"install"_s;
        QTest::newRow("committed") << int(InstallReport::Phase::Committed) << true << 1ull << u"install"_s;
        QTest::newRow("rolled back") << int(InstallReport::Phase::RolledBack) << false << 0ull << u"rollback"_s;
    }
    void installReportRoundTrip()
    {
        QFETCH(int, phase);
        QFETCH(bool, ok);
        QFETCH(qulonglong, rollout);
        QFETCH(QString, kind);
        InstallReport report{InstallReport::Phase(phase), u"2.5.0-rc.1"_s, ok, rollout};
        if (report.phase == InstallReport::Phase::Committed)
            report.previous = u"2.4.1"_s;
        const BoxEvent event = report.toEvent(u"text"_s);
        QCOMPARE(event.kind, kind);
        QCOMPARE(event.severity, ok ? u"info"_s : u"error"_s);
        const DecodeResult r = decode(encode(Message(MessageType::Event, 3, event.toBody())));
        QVERIFY2(r.ok(), qPrintable(r.errorText));
        QString error = u"stale"_s;
        const auto back = BoxEvent::fromBody(r.message.body, &error);
        QVERIFY(back);
        const auto read = InstallReport::fromEvent(*back, &error);
        QVERIFY2(read, qPrintable(error));
        QCOMPARE(*read, report);
        QCOMPARE(back->data.value(u"phase"_s).toString(), InstallReport::phaseName(report.phase));
    }

    void installReportOfOtherEvents()
    {
        BoxEvent e;
        e.kind = u"buffering"_s;
        e.data = {{u"phase"_s, 5}};
        QString error = u"stale"_s;
        QVERIFY(!InstallReport::fromEvent(e, &error));
        QVERIFY(error.isEmpty()); // not an install: no error to log
    }

    // "ok" left out (boxes before the typed report): the phase gives the verdict.
    void installReportVerdictFromPhase_data()
    {
        QTest::addColumn<QString>("phase");
        QTest::addColumn<bool>("ok");
        QTest::newRow("installed") << u"installed"_s << true;
        QTest::newRow("committed") << u"committed"_s << true;
        QTest::newRow("failed") << u"failed"_s << false;
        QTest::newRow("rolled-back") << u"rolled-back"_s << false;
    }
    void installReportVerdictFromPhase()
    {
        QFETCH(QString, phase);
        QFETCH(bool, ok);
        QString error;
        const auto r = InstallReport::fromBody({{u"phase"_s, phase}, {u"version"_s, u"1.0"_s}}, &error);
        QVERIFY2(r, qPrintable(error));
        QCOMPARE(r->ok, ok);
    }

    void badInstallReports_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QCborMap>("data");
        QTest::addColumn<QString>("expected");
        const QString v = u"2.5.0"_s;
        QTest::newRow("no data") << u"install"_s << QCborMap() << u"missing field \"phase\""_s;
        QTest::newRow("no version") << u"install"_s << QCborMap{{u"phase"_s, u"started"_s}}
                                    << u"missing field \"version\""_s;
        QTest::newRow("unknown phase") << u"install"_s << QCborMap{{u"phase"_s, u"halfway"_s}, {u"version"_s, v}}
                                       << u"unknown install phase \"halfway\""_s;
        QTest::newRow("phase is a number") << u"install"_s << QCborMap{{u"phase"_s, 2}, {u"version"_s, v}}
                                           << u"field \"phase\" is integer, not text"_s;
        QTest::newRow("version is bytes") << u"install"_s << QCborMap{{u"phase"_s, u"started"_s}, {u"version"_s, QByteArray("2")}}
                                          << u"field \"version\" is"_s;
        QTest::newRow("empty version") << u"install"_s << QCborMap{{u"phase"_s, u"started"_s}, {u"version"_s, u""_s}}
                                       << u"has 0 characters, not 1 to 64"_s;
        QTest::newRow("long version") << u"install"_s
                                      << QCborMap{{u"phase"_s, u"started"_s}, {u"version"_s, QString(65, u'9')}}
                                      << u"has 65 characters"_s;
        QTest::newRow("ok as text") << u"install"_s
                                    << QCborMap{{u"phase"_s, u"failed"_s}, {u"version"_s, v}, {u"ok"_s, u"no"_s}}
                                    << u"field \"ok\" is text, not boolean"_s;
        QTest::newRow("rollout as text") << u"install"_s
                                         << QCborMap{{u"phase"_s, u"started"_s}, {u"version"_s, v}, {u"rollout"_s, u"7"_s}}
                                         << u"field \"rollout\" is text, not integer"_s;
        QTest::newRow("negative rollout") << u"install"_s
                                          << QCborMap{{u"phase"_s, u"started"_s}, {u"version"_s, v}, {u"rollout"_s, -3}}
                                          << u"\"rollout\" is negative"_s;
        QTest::newRow("long rollback target") << u"rollback"_s
                                              << QCborMap{{u"phase"_s, u"rolled-back"_s}, {u"version"_s, v}, {u"to"_s, QString(65, u'1')}}
                                              << u"field \"to\" is over 64"_s;
        QTest::newRow("install kind, rollback phase") << u"install"_s
                                                      << QCborMap{{u"phase"_s, u"rolled-back"_s}, {u"version"_s, v}}
                                                      << u"kind \"install\" with install phase \"rolled-back\""_s;
        QTest::newRow("rollback kind, install phase") << u"rollback"_s
                                                      << QCborMap{{u"phase"_s, u"committed"_s}, {u"version"_s, v}}
                                                      << u"kind \"rollback\" with install phase \"committed\""_s;
    }
    void badInstallReports()
    {
        QFETCH(QString, kind);
        QFETCH(QCborMap, data);
        QFETCH(QString, expected);
        BoxEvent e;
        e.kind = kind;
        e.data = data;
        QString error;
        QVERIFY(!InstallReport::fromEvent(e, &error));
        QVERIFY2(error.contains(expected), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TstProtocolCodec)
#include "tst_protocolcodec.moc"
