// RFC 6455 on bytes: the upgrade request checks, the accept key of the RFC's own example, the
// server's upgrade response as a client checks it, and the frame parser on masked, fragmented,
// interleaved, oversized and malformed input, from both sides.
#include <wsserver/wsframe.h>

#include <QTest>

using namespace Qt::StringLiterals;
using namespace iptv::ws;

namespace {

QByteArray request(const QByteArray &extra = {}, const QByteArray &line = "GET /box HTTP/1.1")
{
    return line + "\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n";
}

/// A client frame: masked with a fixed key.
QByteArray clientFrame(quint8 opcode, const QByteArray &payload, bool fin = true, bool mask = true)
{
    QByteArray f;
    f.append(char((fin ? 0x80 : 0) | opcode));
    const qsizetype n = payload.size();
    const char maskBit = mask ? char(0x80) : char(0);
    if (n < 126) {
        f.append(char(maskBit | char(n)));
    } else if (n < 65536) {
        f.append(char(maskBit | 126)).append(char(n >> 8)).append(char(n & 0xff));
    } else {
        f.append(char(maskBit | 127));
        for (int s = 56; s >= 0; s -= 8)
            f.append(char((quint64(n) >> s) & 0xff));
    }
    const char key[4] = {0x12, 0x34, 0x56, 0x78};
    if (mask)
        f.append(key, 4);
    for (qsizetype i = 0; i < n; ++i)
        f.append(mask ? char(payload[i] ^ key[i & 3]) : payload[i]);
    return f;
}

} // namespace

class TstWsFrame : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void acceptKeyOfTheRfc()
    {
        // RFC 6455 section 1.3.
        QCOMPARE(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), QByteArray("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    void handshake_data()
    {
        QTest::addColumn<QByteArray>("data");
        QTest::addColumn<int>("status");
        QTest::addColumn<int>("http");
        QTest::newRow("ok") << request() << int(Handshake::Status::Ok) << 0;
        QTest::newRow("ok with query") << request({}, "GET /box?serial=1 HTTP/1.1") << int(Handshake::Status::Ok) << 0;
        QTest::newRow("incomplete") << request().left(40) << int(Handshake::Status::Incomplete) << 0;
        QTest::newRow("wrong path") << request({}, "GET /other HTTP/1.1") << int(Handshake::Status::Bad) << 404;
        QTest::newRow("post") << request({}, "POST /box HTTP/1.1") << int(Handshake::Status::Bad) << 405;
        QTest::newRow("http/1.0 garbage") << request({}, "GET /box") << int(Handshake::Status::Bad) << 400;
        QByteArray noUpgrade = request();
        noUpgrade.replace("Upgrade: websocket\r\n", "");
        QTest::newRow("no upgrade") << noUpgrade << int(Handshake::Status::Bad) << 400;
        QByteArray v8 = request();
        v8.replace("Version: 13", "Version: 8");
        QTest::newRow("old version") << v8 << int(Handshake::Status::Bad) << 426;
        QByteArray shortKey = request();
        shortKey.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=");
        QTest::newRow("short key") << shortKey << int(Handshake::Status::Bad) << 400;
        QTest::newRow("huge header") << request("X-Junk: " + QByteArray(9000, 'j') + "\r\n")
                                     << int(Handshake::Status::Bad) << 431;
        QTest::newRow("endless header") << QByteArray(9000, 'x') << int(Handshake::Status::Bad) << 431;
        QTest::newRow("header without colon") << request("nonsense\r\n") << int(Handshake::Status::Bad) << 400;
    }
    void handshake()
    {
        QFETCH(QByteArray, data);
        QFETCH(int, status);
        QFETCH(int, http);
        const Handshake h = Handshake::parse(data, "/box");
        QCOMPARE(int(h.status), status);
        QCOMPARE(h.httpStatus, http);
        if (h.status == Handshake::Status::Ok) {
            QCOMPARE(h.consumed, data.size());
            QVERIFY(h.response().contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        }
        if (h.status == Handshake::Status::Bad) {
            QVERIFY(!h.error.isEmpty());
            QVERIFY(h.errorResponse().startsWith(QByteArray(QByteArray("HTTP/1.1 ") + QByteArray::number(http))));
        }
    }

    void handshakeLeavesFrames()
    {
        const QByteArray data = request() + clientFrame(0x2, "after");
        const Handshake h = Handshake::parse(data, "/box");
        QCOMPARE(int(h.status), int(Handshake::Status::Ok));
        FrameParser p;
        qsizetype used = 0;
        const auto e = p.next(QByteArrayView(data).sliced(h.consumed), &used);
        QCOMPARE(e.kind, FrameParser::Event::Message);
        QCOMPARE(e.payload, "after");
    }

    void serverFrames_data()
    {
        QTest::addColumn<int>("size");
        QTest::addColumn<int>("header");
        QTest::newRow("small") << 5 << 2;
        QTest::newRow("125") << 125 << 2;
        QTest::newRow("126") << 126 << 4;
        QTest::newRow("65535") << 65535 << 4;
        QTest::newRow("65536") << 65536 << 10;
    }
    void serverFrames()
    {
        QFETCH(int, size);
        QFETCH(int, header);
        const QByteArray f = encodeFrame(Opcode::Binary, QByteArray(size, 'a'));
        QCOMPARE(f.size(), size + header);
        QCOMPARE(quint8(f[0]), quint8(0x82));
        QCOMPARE(quint8(f[1]) & 0x80, 0); // servers never mask
    }

    void messages()
    {
        FrameParser p;
        // Two whole frames, then a fragmented text message with a ping in the middle, in one buffer.
        const QByteArray big(70000, 'b');
        QByteArray stream = clientFrame(0x2, "one") + clientFrame(0x2, big) + clientFrame(0x1, u"grü"_s.toUtf8(), false)
            + clientFrame(0x9, "ping!") + clientFrame(0x0, "ße", false) + clientFrame(0x0, "!", true);
        QList<FrameParser::Event> events;
        // Feed it one byte more at a time to check that every split point works.
        QByteArray buffer;
        for (char ch : std::as_const(stream)) {
            buffer.append(ch);
            for (;;) {
                qsizetype used = 0;
                auto e = p.next(buffer, &used);
                buffer.remove(0, used);
                if (e.kind == FrameParser::Event::None)
                    break;
                events.append(e);
            }
        }
        QCOMPARE(events.size(), 4);
        QCOMPARE(events[0].payload, "one");
        QCOMPARE(events[1].payload, big);
        QCOMPARE(events[2].kind, FrameParser::Event::Ping);
        QCOMPARE(events[2].payload, "ping!");
        QCOMPARE(events[3].kind, FrameParser::Event::Message);
        QVERIFY(events[3].text);
        QCOMPARE(QString::fromUtf8(events[3].payload), u"grüße!"_s);
        QVERIFY(buffer.isEmpty());
    }

    void close_data()
    {
        QTest::addColumn<QByteArray>("payload");
        QTest::addColumn<int>("code");
        QTest::newRow("no code") << QByteArray() << 1005;
        QTest::newRow("normal with reason") << QByteArray("\x03\xe8" "bye", 5) << 1000;
        QTest::newRow("application code") << QByteArray("\x0f\xa0", 2) << 4000;
    }
    void close()
    {
        QFETCH(QByteArray, payload);
        QFETCH(int, code);
        FrameParser p;
        qsizetype used = 0;
        const auto e = p.next(clientFrame(0x8, payload), &used);
        QCOMPARE(e.kind, FrameParser::Event::Close);
        QCOMPARE(int(e.code), code);
    }

    void violations_data()
    {
        QTest::addColumn<QByteArray>("data");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("why");
        QTest::newRow("unmasked") << clientFrame(0x2, "x", true, false) << 1002 << u"masked"_s;
        QByteArray rsv = clientFrame(0x2, "x");
        rsv[0] = char(rsv[0] | 0x40);
        QTest::newRow("reserved bit") << rsv << 1002 << u"reserved"_s;
        QTest::newRow("unknown opcode") << clientFrame(0x3, "x") << 1002 << u"opcode"_s;
        QTest::newRow("fragmented ping") << clientFrame(0x9, "x", false) << 1002 << u"control"_s;
        QTest::newRow("long ping") << clientFrame(0x9, QByteArray(126, 'p')) << 1002 << u"control"_s;
        QTest::newRow("stray continuation") << clientFrame(0x0, "x") << 1002 << u"continuation"_s;
        QTest::newRow("interleaved message") << clientFrame(0x2, "a", false) + clientFrame(0x2, "b") << 1002
                                             << u"fragmented"_s;
        QTest::newRow("too big") << clientFrame(0x2, QByteArray(2000, 'x')) << 1009 << u"over"_s;
        QTest::newRow("too big in pieces") << clientFrame(0x2, QByteArray(600, 'x'), false)
                + clientFrame(0x0, QByteArray(600, 'x')) << 1009 << u"over"_s;
        // The length alone decides: a header announcing 2^40 bytes is refused before any payload.
        QTest::newRow("huge announced") << QByteArray("\x82\xff\x00\x00\x01\x00\x00\x00\x00\x00", 10) << 1009 << u"over"_s;
        QTest::newRow("high length bit") << QByteArray("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00", 10) << 1002
                                         << u"high bit"_s;
        QTest::newRow("bad utf-8") << clientFrame(0x1, "\xc3\x28") << 1007 << u"UTF-8"_s;
        QTest::newRow("one-byte close") << clientFrame(0x8, "x") << 1002 << u"one-byte"_s;
        QTest::newRow("reserved close code") << clientFrame(0x8, QByteArray("\x03\xed", 2)) << 1002 << u"close code"_s;
    }
    void violations()
    {
        QFETCH(QByteArray, data);
        QFETCH(int, code);
        QFETCH(QString, why);
        FrameParser p(1024);
        qsizetype used = 0;
        FrameParser::Event e;
        QByteArrayView rest = data;
        do {
            e = p.next(rest, &used);
            rest = rest.sliced(used);
        } while (e.kind == FrameParser::Event::Message || (e.kind == FrameParser::Event::None && used > 0));
        QCOMPARE(e.kind, FrameParser::Event::Error);
        QCOMPARE(int(e.code), code);
        QVERIFY2(e.error.contains(why), qPrintable(e.error));
        // A failed parser stays failed.
        QCOMPARE(p.next(clientFrame(0x2, "x"), &used).kind, FrameParser::Event::None);
    }

    void response_data()
    {
        QTest::addColumn<QByteArray>("data");
        QTest::addColumn<int>("status");
        QTest::addColumn<int>("http");
        QTest::addColumn<QString>("why");
        const QByteArray ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        QTest::newRow("ok") << ok << int(HandshakeResponse::Status::Ok) << 101 << QString();
        QTest::newRow("incomplete") << ok.left(60) << int(HandshakeResponse::Status::Incomplete) << 0 << QString();
        QTest::newRow("wrong accept") << QByteArray(ok).replace("s3pP", "AAAA") << int(HandshakeResponse::Status::Bad) << 101
                                      << u"Accept"_s;
        QTest::newRow("no upgrade header") << QByteArray(ok).replace("Upgrade: websocket\r\n", "")
                                           << int(HandshakeResponse::Status::Bad) << 101 << u"Upgrade"_s;
        QTest::newRow("503 with retry-after")
            << QByteArray("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n")
            << int(HandshakeResponse::Status::Bad) << 503 << u"503 Service Unavailable"_s;
        QTest::newRow("404") << QByteArray("HTTP/1.1 404 Not Found\r\n\r\n") << int(HandshakeResponse::Status::Bad) << 404
                             << u"404"_s;
        QTest::newRow("not http") << QByteArray("SSH-2.0-OpenSSH\r\n\r\n") << int(HandshakeResponse::Status::Bad) << 0
                                  << u"status line"_s;
        QTest::newRow("endless") << QByteArray(9000, 'x') << int(HandshakeResponse::Status::Bad) << 0 << u"over"_s;
        QTest::newRow("header without colon") << QByteArray("HTTP/1.1 101 OK\r\nnonsense\r\n\r\n")
                                              << int(HandshakeResponse::Status::Bad) << 101 << u"malformed"_s;
    }
    void response()
    {
        QFETCH(QByteArray, data);
        QFETCH(int, status);
        QFETCH(int, http);
        QFETCH(QString, why);
        const HandshakeResponse r = HandshakeResponse::parse(data, "dGhlIHNhbXBsZSBub25jZQ==");
        QCOMPARE(int(r.status), status);
        QCOMPARE(r.httpStatus, http);
        QVERIFY2(r.error.contains(why), qPrintable(r.error));
        if (r.status == HandshakeResponse::Status::Ok)
            QCOMPARE(r.consumed, data.size());
        if (http == 503)
            QCOMPARE(r.retryAfterSeconds, 7);
    }

    void requestAnsweredByTheServerSide()
    {
        // What a client sends, the server side accepts, and the server's answer the client takes.
        const QByteArray key = "AQIDBAUGBwgJCgsMDQ4PEA==";
        const QByteArray req = HandshakeResponse::request("127.0.0.1:8420", "/box?x=1", key);
        const Handshake h = Handshake::parse(req, "/box");
        QCOMPARE(h.status, Handshake::Status::Ok);
        QCOMPARE(h.key, key);
        const HandshakeResponse r = HandshakeResponse::parse(QByteArray(h.response() + "\x82\x01x"), key);
        QCOMPARE(r.status, HandshakeResponse::Status::Ok);
        QCOMPARE(r.consumed, h.response().size());
    }

    void clientSideFrames()
    {
        // A client's parser takes the server's unmasked frames and refuses masked ones.
        FrameParser client(1024, FrameParser::Role::Client);
        qsizetype used = 0;
        const QByteArray frame = encodeFrame(Opcode::Binary, "hello");
        FrameParser::Event e = client.next(frame, &used);
        QCOMPARE(e.kind, FrameParser::Event::Message);
        QCOMPARE(e.payload, QByteArray("hello"));
        QCOMPARE(used, frame.size());
        e = client.next(clientFrame(0x2, "x"), &used);
        QCOMPARE(e.kind, FrameParser::Event::Error);
        QCOMPARE(int(e.code), 1002);
        QVERIFY2(e.error.contains(u"must not be masked"_s), qPrintable(e.error));

        // What a client encodes (masked), a server's parser reads back, whatever the size.
        for (const qsizetype n : {0, 5, 125, 126, 65535, 65536}) {
            const QByteArray payload(n, 'z');
            FrameParser server(1 << 20);
            const QByteArray masked = encodeFrame(Opcode::Binary, payload, 0xa1b2c3d4u);
            QCOMPARE(masked.size(), encodeFrame(Opcode::Binary, payload).size() + 4);
            e = server.next(masked, &used);
            QCOMPARE(e.kind, FrameParser::Event::Message);
            QCOMPARE(e.payload, payload);
        }
        e = FrameParser().next(encodeClose(4001, "bye", 7u), &used);
        QCOMPARE(e.kind, FrameParser::Event::Close);
        QCOMPARE(int(e.code), 4001);
        QCOMPARE(e.payload, QByteArray("bye"));
    }
};

QTEST_GUILESS_MAIN(TstWsFrame)
#include "tst_wsframe.moc"
