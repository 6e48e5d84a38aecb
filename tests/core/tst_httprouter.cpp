// iptv::http::Router against a real Qt HTTP Server on 127.0.0.1, read byte for byte over a
// socket so that what HEAD and 304 put on the wire is visible.

#include <core/httprouter.h>
#include <core/metrics.h>

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QDir>
#include <QHttpServer>
#include <QFile>
#include <QTest>
#include <QTimer>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace iptv;
using namespace iptv::http;
using Method = QHttpServerRequest::Method;

namespace {

struct RawReply
{
    int status = 0;
    QList<std::pair<QByteArray, QByteArray>> headers;
    QByteArray body;
    QByteArray header(const char *name) const
    {
        for (const auto &[k, v] : headers) {
            if (k.compare(name, Qt::CaseInsensitive) == 0)
                return v;
        }
        return {};
    }
    bool hasHeader(const char *name) const
    {
        for (const auto &h : headers) {
            if (h.first.compare(name, Qt::CaseInsensitive) == 0)
                return true;
        }
        return false;
    }
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

/// A connected TCP socket to 127.0.0.1:`port` whose receive buffer is `receiveBuffer` bytes
/// (0: the system's), made with the system calls so that the option holds before the handshake;
/// -1 on failure.
int rawConnect(quint16 port, int receiveBuffer = 0)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (receiveBuffer > 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&to), sizeof to) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

QByteArray pseudoRandomBytes(qsizetype size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    quint32 x = 2463534242u;
    for (char &c : bytes) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        c = char(x);
    }
    return bytes;
}

} // namespace

class TestHttpRouter : public QObject
{
    Q_OBJECT

    MetricsRegistry m_metrics;
    Router *m_router = nullptr;
    QTemporaryDir m_files;
    int m_asyncCalls = 0;

    /// Sends one request on a fresh connection and reads one answer (headers, then as many body
    /// bytes as Content-Length says, none for HEAD and 304). Then waits a little for extra bytes
    /// that must not be there.
    RawReply request(const QByteArray &method, const QByteArray &path, const QByteArray &extraHeaders = {})
    {
        RawReply r;
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, m_router->port());
        if (!s.waitForConnected(5000))
            return r;
        s.write(method + ' ' + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extraHeaders + "\r\n");
        QByteArray data;
        QSignalSpy ready(&s, &QTcpSocket::readyRead);
        qsizetype headerEnd = -1;
        while (headerEnd < 0) {
            if (!ready.wait(5000))
                return r;
            data += s.readAll();
            headerEnd = data.indexOf("\r\n\r\n");
        }
        const QList<QByteArray> lines = data.left(headerEnd).split('\n');
        r.status = lines.value(0).split(' ').value(1).toInt();
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray line = lines[i].trimmed();
            const qsizetype colon = line.indexOf(':');
            r.headers.append({line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
        }
        r.body = data.mid(headerEnd + 4);
        const qint64 length = method == "HEAD" || r.status == 304 ? 0 : r.header("Content-Length").toLongLong();
        while (r.body.size() < length && ready.wait(5000))
            r.body += s.readAll();
        // Anything after the answer (a body after HEAD or 304) would arrive with or right after it.
        ready.wait(50);
        r.body += s.readAll();
        return r;
    }

    /// Writes `bytes` on `s` (connecting it first if it is not) and reads until the server closes
    /// it, or until what came in holds `enough`, or `ms` pass.
    QByteArray exchange(QTcpSocket &s, const QByteArray &bytes, const QByteArray &enough = {}, int ms = 10000)
    {
        if (s.state() != QAbstractSocket::ConnectedState) {
            s.connectToHost(QHostAddress::LocalHost, m_router->port());
            if (!s.waitForConnected(5000))
                return {};
        }
        s.write(bytes);
        QByteArray data;
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < ms && s.state() == QAbstractSocket::ConnectedState
               && (enough.isEmpty() || !data.contains(enough))) {
            QSignalSpy ready(&s, &QTcpSocket::readyRead);
            if (s.bytesAvailable() == 0)
                ready.wait(int(qMax<qint64>(1, qMin<qint64>(200, ms - clock.elapsed()))));
            data += s.readAll();
        }
        return data + s.readAll();
    }
    QByteArray exchange(const QByteArray &bytes)
    {
        QTcpSocket s;
        return exchange(s, bytes);
    }

private Q_SLOTS:
    void init()
    {
        m_router = new Router(&m_metrics, QStringLiteral("test"), this);
        m_router->setDefaultHeader("Cache-Control", "no-store");
        m_router->addRoute(Method::Get, QStringLiteral("/items/<id>"), [](RouteContext &c) {
            return Reply::json({{QStringLiteral("id"), c.params.value(0)}, {QStringLiteral("q"), c.query("q")}});
        });
        m_router->addRoute(Method::Delete, QStringLiteral("/items/<id>"), [](RouteContext &c) {
            return Reply::error(ApiError::conflict(QStringLiteral("item %1 is in use").arg(c.params.value(0))));
        });
        m_router->addRoute(Method::Get, QStringLiteral("/cached"), [](RouteContext &c) {
            if (c.request.value("If-None-Match") == "\"v1\"")
                return Reply{304, {}, "text/plain", {{"ETag", "\"v1\""}, {"Cache-Control", "no-cache"}}, {}};
            return Reply{200, "0123456789", "text/plain", {{"ETag", "\"v1\""}, {"Cache-Control", "no-cache"}}, {}};
        });
        m_router->addRoute(Method::Post, QStringLiteral("/numbers"), [](RouteContext &c) {
            Reply bad;
            const auto n = c.intQuery("n", 5, 1, 10, &bad);
            if (!n)
                return bad;
            return Reply::json({{QStringLiteral("n"), *n}}, 201);
        });
        m_router->addRoute(
            Method::Get, QStringLiteral("/private"),
            [](RouteContext &c) {
                return Reply::json({{QStringLiteral("user"), std::any_cast<QString>(c.identity)}});
            },
            2);
        m_router->setAuthHook([](RouteContext &c, const Router::RouteInfo &route) -> std::optional<Reply> {
            const QByteArray user = c.request.value("X-User");
            if (user.isEmpty())
                return Reply::error(ApiError::unauthorized(QStringLiteral("who are you?")));
            if (route.access.value_or(0) > 1 && user != "admin")
                return Reply::error(ApiError::forbidden(QStringLiteral("%1 may not").arg(QString::fromLatin1(user))));
            c.identity = QString::fromLatin1(user);
            return std::nullopt;
        });
        m_router->addAsyncRoute(Method::Post, QStringLiteral("/slow"), [this](RouteContext &c, Router::Respond respond) {
            const QString what = c.query("what"); // the request is gone by the time the answer is sent
            ++m_asyncCalls;
            QTimer::singleShot(0, this, [respond, what] { respond(Reply::json({{QStringLiteral("done"), what}}, 202)); });
        });
        m_router->addRoute(Method::Get, QStringLiteral("/file/<name>"), [this](RouteContext &c) {
            Reply reply;
            reply.mimeType = "application/octet-stream";
            reply.filePath = m_files.filePath(c.params.value(0));
            reply.addHeader("ETag", "\"f1\"");
            return reply;
        });
        m_router->addRoute(Method::Post, QStringLiteral("/upload"), [](RouteContext &c) {
            return Reply::json({{QStringLiteral("bytes"), qint64(c.request.body().size())}});
        });
        m_router->setMaxBodyBytes(Method::Post, QStringLiteral("/upload"), 3 * 1024 * 1024);
        m_router->addRoute(Method::Get, QStringLiteral("/part/<name>"), [this](RouteContext &c) {
            Reply reply;
            reply.status = 206;
            reply.mimeType = "application/octet-stream";
            reply.filePath = m_files.filePath(c.params.value(0));
            reply.fileOffset = 10;
            reply.fileLength = 100;
            return reply;
        });
        // Answers long after the idle timeout: a request awaiting its answer is not idle.
        m_router->addAsyncRoute(Method::Get, QStringLiteral("/late"), [this](RouteContext &, Router::Respond respond) {
            QTimer::singleShot(3 * m_router->connectionLimits().idleTimeoutMs, this,
                               [respond] { respond(Reply::json({{QStringLiteral("late"), true}})); });
        });
        QString error;
        QVERIFY2(m_router->listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
    }

    void cleanup()
    {
        delete m_router;
        m_router = nullptr;
        m_asyncCalls = 0;
    }

    void routeWithParameter()
    {
        const RawReply r = request("GET", "/items/42?q=a%20b");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json().value(u"id").toString(), u"42"_qs);
        QCOMPARE(r.json().value(u"q").toString(), u"a b"_qs);
        QCOMPARE(r.header("Cache-Control"), QByteArray("no-store"));
        const QByteArray m = m_metrics.render();
        QVERIFY2(m.contains("test_http_requests_total{route=\"/items/<id>\",status=\"200\"} 1"), m.constData());
        QVERIFY(m.contains("test_http_request_duration_seconds_count{route=\"/items/<id>\"} 1"));
    }

    // A file answer: every byte, its Content-Length and the route's headers, then the connection
    // closes (the body is written as the socket drains, not by Qt HTTP Server's 512-byte steps).
    void fileIsSentWholeThenTheConnectionCloses()
    {
        QByteArray bytes(5 * 1024 * 1024 + 123, Qt::Uninitialized);
        quint32 x = 2463534242u;
        for (char &c : bytes) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            c = char(x);
        }
        QFile f(m_files.filePath(u"bundle.bin"_qs));
        QVERIFY(f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size());
        f.close();

        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, m_router->port());
        QVERIFY(s.waitForConnected(5000));
        s.write("GET /file/bundle.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QSignalSpy closed(&s, &QTcpSocket::disconnected);
        QByteArray data;
        connect(&s, &QTcpSocket::readyRead, this, [&] { data += s.readAll(); });
        QVERIFY(closed.wait(20000));
        data += s.readAll();
        const qsizetype headerEnd = data.indexOf("\r\n\r\n");
        QVERIFY(headerEnd > 0);
        const QByteArray head = data.left(headerEnd);
        QVERIFY2(head.startsWith("HTTP/1.1 200"), head.constData());
        QVERIFY2(head.contains(QByteArray(QByteArray("Content-Length: ") + QByteArray::number(bytes.size()))), head.constData());
        QVERIFY2(head.contains("ETag: \"f1\""), head.constData());
        QVERIFY2(head.contains("Connection: close"), head.constData());
        QVERIFY2(!head.contains("chunked"), head.constData());
        QCOMPARE(data.size() - headerEnd - 4, bytes.size());
        QVERIFY(data.mid(headerEnd + 4) == bytes);

        const RawReply h = request("HEAD", "/file/bundle.bin");
        QCOMPARE(h.status, 200);
        QCOMPARE(h.header("Content-Length"), QByteArray::number(bytes.size()));
        QVERIFY(h.body.isEmpty());
        QCOMPARE(request("GET", "/file/missing.bin").status, 500);
    }

    void headHasTheGetHeadersAndNoBody()
    {
        const RawReply r = request("HEAD", "/cached");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.header("Content-Length"), QByteArray("10"));
        QCOMPARE(r.header("Content-Type"), QByteArray("text/plain"));
        QCOMPARE(r.header("ETag"), QByteArray("\"v1\""));
        QCOMPARE(r.header("Cache-Control"), QByteArray("no-cache")); // the route's, not the default
        QVERIFY2(r.body.isEmpty(), r.body.constData());
    }

    void notModifiedHasNoContentHeaders()
    {
        const RawReply r = request("GET", "/cached", "If-None-Match: \"v1\"\r\n");
        QCOMPARE(r.status, 304);
        QCOMPARE(r.header("ETag"), QByteArray("\"v1\""));
        QVERIFY(!r.hasHeader("Content-Type"));
        QVERIFY(!r.hasHeader("Content-Length"));
        QVERIFY(r.body.isEmpty());
    }

    void wrongMethodIs405WithAllow()
    {
        const RawReply r = request("POST", "/items/7");
        QCOMPARE(r.status, 405);
        QCOMPARE(r.header("Allow"), QByteArray("GET, HEAD, DELETE"));
        QCOMPARE(r.json().value(u"error").toString(), u"method-not-allowed"_qs);
        QVERIFY(r.json().value(u"detail").toString().contains(u"/items/7"));
        QVERIFY(m_metrics.render().contains("test_http_requests_total{route=\"/items/<id>\",status=\"405\"} 1"));
    }

    void unmatchedIs404()
    {
        const RawReply r = request("GET", "/nothing/here");
        QCOMPARE(r.status, 404);
        QCOMPARE(r.json().value(u"error").toString(), u"not-found"_qs);
        QCOMPARE(r.json().value(u"detail").toString(), u"no resource /nothing/here"_qs);
        QVERIFY(!r.json().contains(u"code"));
        QVERIFY(m_metrics.render().contains("test_http_requests_total{route=\"unmatched\",status=\"404\"} 1"));
    }

    void typedErrorGivesTheStatus()
    {
        const RawReply r = request("DELETE", "/items/3");
        QCOMPARE(r.status, 409);
        QCOMPARE(r.json(), QJsonObject({{u"error"_qs, u"conflict"_qs}, {u"detail"_qs, u"item 3 is in use"_qs}}));
    }

    // The path is split at its '/' first and each segment decoded after: an encoded slash is
    // part of a parameter (a channel id "bbc.co.uk/one"), not a separator; decoded once only.
    void segmentsAreDecodedAfterTheSplit_data()
    {
        QTest::addColumn<QByteArray>("path");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("id");
        QTest::newRow("slash") << QByteArray("/items/bbc.co.uk%2Fone") << 200 << u"bbc.co.uk/one"_qs;
        QTest::newRow("lower-case hex") << QByteArray("/items/a%2fb") << 200 << u"a/b"_qs;
        QTest::newRow("space, hash, question mark") << QByteArray("/items/a%20b%23c%3Fd") << 200 << u"a b#c?d"_qs;
        QTest::newRow("UTF-8") << QByteArray("/items/%C3%A9t%C3%A9") << 200 << u"\u00e9t\u00e9"_qs;
        QTest::newRow("percent, decoded once") << QByteArray("/items/a%252Fb") << 200 << u"a%2Fb"_qs;
        QTest::newRow("only a slash") << QByteArray("/items/%2F") << 200 << u"/"_qs;
        QTest::newRow("a real slash splits") << QByteArray("/items/a/b") << 404 << QString();
        QTest::newRow("encoded separator of a literal") << QByteArray("/items%2F42") << 404 << QString();
    }
    void segmentsAreDecodedAfterTheSplit()
    {
        QFETCH(QByteArray, path);
        QFETCH(int, status);
        QFETCH(QString, id);
        const RawReply r = request("GET", path);
        QCOMPARE(r.status, status);
        if (status == 200)
            QCOMPARE(r.json().value(u"id").toString(), id);
        // The body limit is found by the same segments.
        QCOMPARE(m_router->maxBodyBytes(Method::Post, u"/upload"_qs), 3 * 1024 * 1024);
        QCOMPARE(m_router->maxBodyBytes(Method::Post, u"/upload%2Fmore"_qs), Router::DefaultMaxBodyBytes);
    }

    void intQuery_data()
    {
        QTest::addColumn<QByteArray>("query");
        QTest::addColumn<int>("status");
        QTest::addColumn<int>("n");
        QTest::newRow("absent") << QByteArray() << 201 << 5;
        QTest::newRow("in range") << QByteArray("?n=10") << 201 << 10;
        QTest::newRow("too big") << QByteArray("?n=11") << 400 << 0;
        QTest::newRow("not a number") << QByteArray("?n=ten") << 400 << 0;
    }
    void intQuery()
    {
        QFETCH(QByteArray, query);
        QFETCH(int, status);
        QFETCH(int, n);
        const RawReply r = request("POST", "/numbers" + query, "Content-Length: 0\r\n");
        QCOMPARE(r.status, status);
        if (status == 201) {
            QCOMPARE(r.json().value(u"n").toInt(), n);
        } else {
            QCOMPARE(r.json().value(u"error").toString(), u"bad-request"_qs);
            QVERIFY(r.json().value(u"detail").toString().startsWith(u"n: expected a number from 1 to 10"));
        }
    }

    void authHook_data()
    {
        QTest::addColumn<QByteArray>("headers");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("answer");
        QTest::newRow("nobody") << QByteArray() << 401 << u"unauthorized"_qs;
        QTest::newRow("too weak") << QByteArray("X-User: bob\r\n") << 403 << u"forbidden"_qs;
        QTest::newRow("admin") << QByteArray("X-User: admin\r\n") << 200 << u"admin"_qs;
    }
    void authHook()
    {
        QFETCH(QByteArray, headers);
        QFETCH(int, status);
        QFETCH(QString, answer);
        const RawReply r = request("GET", "/private", headers);
        QCOMPARE(r.status, status);
        QCOMPARE(r.json().value(status == 200 ? u"user" : u"error").toString(), answer);
    }

    // A body larger than the route's limit is refused from its head (Content-Length), before it
    // is sent, and a chunked one once it passes the limit: 413, and the connection closes.
    // Qt HTTP Server alone would read any body whole into memory first.
    void bodyOverTheLimitIs413BeforeItIsRead()
    {
        const QByteArray announced = exchange("POST /numbers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                              "Content-Length: 2000000\r\n\r\n");
        QVERIFY2(announced.startsWith("HTTP/1.1 413 "), announced.constData());
        QVERIFY2(announced.contains("\"error\":\"payload-too-large\""), announced.constData());
        QVERIFY2(announced.contains("1048576"), announced.constData()); // the limit, said
        QVERIFY(announced.contains("Connection: close"));
        QVERIFY2(m_metrics.render().contains("test_http_requests_total{route=\"refused\",status=\"413\"} 1"), m_metrics.render().constData());

        QByteArray chunked = "POST /numbers HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        const QByteArray chunk(256 * 1024, 'x');
        for (int i = 0; i < 5; ++i)
            chunked += QByteArray::number(chunk.size(), 16) + "\r\n" + chunk + "\r\n";
        const QByteArray streamed = exchange(chunked);
        QVERIFY2(streamed.startsWith("HTTP/1.1 413 "), streamed.left(200).constData());

        // The upload route takes more; beyond its own limit it is refused all the same.
        const QByteArray big = exchange("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4000000\r\n\r\n");
        QVERIFY2(big.startsWith("HTTP/1.1 413 "), big.constData());
        QVERIFY2(big.contains("3145728"), big.constData());

        // A head beyond 64 KiB: 431.
        const QByteArray head = exchange("GET /items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + QByteArray(70 * 1024, 'h') + "\r\n\r\n");
        QVERIFY2(head.startsWith("HTTP/1.1 431 "), head.left(200).constData());
    }

    // Bodies within their limits are read as before, one request after the other on a connection
    // (the limit follows each request's framing: Content-Length, chunks and trailers).
    void bodiesWithinTheLimitsAreRead()
    {
        const QByteArray upload(2 * 1024 * 1024, 'u');
        QTcpSocket s;
        const QByteArray first = exchange(s, "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
                                                 + QByteArray::number(upload.size()) + "\r\n\r\n" + upload,
                                          "{\"bytes\":2097152}");
        QVERIFY2(first.startsWith("HTTP/1.1 200 ") && first.contains("{\"bytes\":2097152}"), first.left(300).constData());
        const QByteArray chunked = exchange(s, "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                               "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                                            "{\"bytes\":11}");
        QVERIFY2(chunked.startsWith("HTTP/1.1 200 ") && chunked.contains("{\"bytes\":11}"), chunked.constData());
        const QByteArray last = exchange(s, "POST /numbers?n=3 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}", "{\"n\":3}");
        QVERIFY2(last.startsWith("HTTP/1.1 201 ") && last.contains("{\"n\":3}"), last.constData());
        QCOMPARE(m_router->maxBodyBytes(Method::Post, u"/upload"_qs), 3 * 1024 * 1024);
        QCOMPARE(m_router->maxBodyBytes(Method::Post, u"/numbers"_qs), Router::DefaultMaxBodyBytes);
    }

    // RFC 9110 14: one byte range is a part (clipped to the representation), a start at or past
    // the end unsatisfiable, anything else ignored (the whole); numbers of any length.
    void byteRange_data()
    {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<qint64>("size");
        QTest::addColumn<int>("kind");
        QTest::addColumn<qint64>("first");
        QTest::addColumn<qint64>("last");
        const int whole = ByteRange::Whole, part = ByteRange::Part, none = ByteRange::Unsatisfiable;
        QTest::newRow("absent") << QByteArray() << qint64(100) << whole << qint64(0) << qint64(0);
        QTest::newRow("first-last") << QByteArray("bytes=0-9") << qint64(100) << part << qint64(0) << qint64(9);
        QTest::newRow("unit in any case") << QByteArray(" BYTES=10-19 ") << qint64(100) << part << qint64(10) << qint64(19);
        QTest::newRow("open end") << QByteArray("bytes=90-") << qint64(100) << part << qint64(90) << qint64(99);
        QTest::newRow("last past the end") << QByteArray("bytes=90-1000") << qint64(100) << part << qint64(90) << qint64(99);
        QTest::newRow("huge last") << QByteArray("bytes=0-99999999999999999999999") << qint64(100) << part << qint64(0) << qint64(99);
        QTest::newRow("suffix") << QByteArray("bytes=-10") << qint64(100) << part << qint64(90) << qint64(99);
        QTest::newRow("suffix longer") << QByteArray("bytes=-1000") << qint64(100) << part << qint64(0) << qint64(99);
        QTest::newRow("huge suffix") << QByteArray("bytes=-99999999999999999999") << qint64(100) << part << qint64(0) << qint64(99);
        QTest::newRow("at the end") << QByteArray("bytes=100-") << qint64(100) << none << qint64(0) << qint64(0);
        QTest::newRow("huge first") << QByteArray("bytes=99999999999999999999-") << qint64(100) << none << qint64(0) << qint64(0);
        // Numbers whose digits overflow 64 bits into a negative or a small value: the review's
        // crash (a negative first byte read as a huge length) and a range served from byte 0.
        QTest::newRow("first wrapping negative") << QByteArray("bytes=9999999999999999999-") << qint64(100) << none << qint64(0) << qint64(0);
        QTest::newRow("first wrapping to zero") << QByteArray("bytes=18446744073709551616-") << qint64(100) << none << qint64(0) << qint64(0);
        QTest::newRow("first at the maximum") << QByteArray("bytes=9223372036854775807-") << qint64(100) << none << qint64(0) << qint64(0);
        QTest::newRow("first past the maximum") << QByteArray("bytes=9223372036854775808-") << qint64(100) << none << qint64(0) << qint64(0);
        QTest::newRow("last wrapping negative") << QByteArray("bytes=10-9999999999999999999") << qint64(100) << part << qint64(10) << qint64(99);
        QTest::newRow("last wrapping to zero") << QByteArray("bytes=10-18446744073709551616") << qint64(100) << part << qint64(10) << qint64(99);
        QTest::newRow("suffix wrapping negative") << QByteArray("bytes=-9999999999999999999") << qint64(100) << part << qint64(0) << qint64(99);
        QTest::newRow("suffix wrapping to zero") << QByteArray("bytes=-18446744073709551616") << qint64(100) << part << qint64(0) << qint64(99);
        QTest::newRow("zero suffix") << QByteArray("bytes=-0") << qint64(100) << none << qint64(0) << qint64(0);
        QTest::newRow("empty file") << QByteArray("bytes=0-") << qint64(0) << none << qint64(0) << qint64(0);
        QTest::newRow("empty file suffix") << QByteArray("bytes=-5") << qint64(0) << none << qint64(0) << qint64(0);
        QTest::newRow("several") << QByteArray("bytes=0-9,20-29") << qint64(100) << whole << qint64(0) << qint64(0);
        QTest::newRow("last before first") << QByteArray("bytes=5-3") << qint64(100) << whole << qint64(0) << qint64(0);
        QTest::newRow("no numbers") << QByteArray("bytes=-") << qint64(100) << whole << qint64(0) << qint64(0);
        QTest::newRow("not numbers") << QByteArray("bytes=abc") << qint64(100) << whole << qint64(0) << qint64(0);
        QTest::newRow("signed") << QByteArray("bytes=+1-2") << qint64(100) << whole << qint64(0) << qint64(0);
        QTest::newRow("other unit") << QByteArray("items=0-1") << qint64(100) << whole << qint64(0) << qint64(0);
        QTest::newRow("no unit") << QByteArray("0-1") << qint64(100) << whole << qint64(0) << qint64(0);
        QTest::newRow("space inside") << QByteArray("bytes= 0-1") << qint64(100) << whole << qint64(0) << qint64(0);
    }
    void byteRange()
    {
        QFETCH(QByteArray, header);
        QFETCH(qint64, size);
        QFETCH(int, kind);
        QFETCH(qint64, first);
        QFETCH(qint64, last);
        const ByteRange r = iptv::http::byteRange(header, size);
        QCOMPARE(int(r.kind), kind);
        if (kind == ByteRange::Part) {
            QCOMPARE(r.first, first);
            QCOMPARE(r.last, last);
        }
    }

    void asyncAnswerComesLater()
    {
        const RawReply r = request("POST", "/slow?what=x", "Content-Length: 0\r\n");
        QCOMPARE(m_asyncCalls, 1);
        QCOMPARE(r.status, 202);
        QCOMPARE(r.json().value(u"done").toString(), u"x"_qs);
        QVERIFY(m_metrics.render().contains("test_http_requests_total{route=\"/slow\",status=\"202\"} 1"));
    }

    // Qt HTTP Server alone keeps a silent connection forever: ~20,000 of them took every
    // descriptor. A connection that sends no whole head within the idle timeout (of opening, of
    // the head's first byte, of its last answer) is closed; one awaiting its answer is not.
    void idleConnectionsAreClosed()
    {
        ConnectionLimits limits;
        limits.idleTimeoutMs = 300;
        m_router->setConnectionLimits(limits);

        QTcpSocket silent;
        silent.connectToHost(QHostAddress::LocalHost, m_router->port());
        QVERIFY(silent.waitForConnected(5000));
        QSignalSpy silentClosed(&silent, &QTcpSocket::disconnected);
        QVERIFY(silentClosed.wait(5000));

        // A head trickled in a byte at a time, each well within the timeout: closed all the same.
        QTcpSocket trickle;
        trickle.connectToHost(QHostAddress::LocalHost, m_router->port());
        QVERIFY(trickle.waitForConnected(5000));
        QSignalSpy trickleClosed(&trickle, &QTcpSocket::disconnected);
        QTimer drip;
        int sent = 0;
        connect(&drip, &QTimer::timeout, this, [&] { trickle.write(QByteArray(1, "GET /items/1 HTTP/1.1\r\nX: "[qMin(sent++, 25)])); });
        drip.start(50);
        QVERIFY(trickleClosed.wait(5000));
        drip.stop();
        QVERIFY2(sent >= 1 && sent < 60, QByteArray::number(sent).constData()); // closed while bytes kept coming

        // Keep-alive: an answer, then silence: closed.
        QTcpSocket kept;
        const QByteArray first = exchange(kept, "GET /items/7 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "\"id\":\"7\"");
        QVERIFY2(first.startsWith("HTTP/1.1 200 "), first.constData());
        if (kept.state() == QAbstractSocket::ConnectedState) {
            QSignalSpy keptClosed(&kept, &QTcpSocket::disconnected);
            QVERIFY(keptClosed.wait(5000));
        }

        // An answer that takes three idle timeouts comes on an open connection.
        const RawReply late = request("GET", "/late");
        QCOMPARE(late.status, 200);
        QCOMPARE(late.json().value(u"late").toBool(), true);
        QTRY_COMPARE_WITH_TIMEOUT(m_router->openConnections(), 0, 5000);
        QVERIFY2(m_metrics.render().contains("test_http_idle_closed_total 3"), m_metrics.render().constData());
    }

    // Connections past the caps (per address, overall) are answered 503 and closed at once;
    // a slot freed is taken again.
    void connectionCapsRefuseWith503()
    {
        ConnectionLimits limits;
        limits.maxConnectionsPerPeer = 2;
        limits.maxConnections = 3;
        m_router->setConnectionLimits(limits);
        QCOMPARE(m_router->maxConnections(), 3);

        const auto open = [this](QTcpSocket &s, const char *from) {
            if (!s.bind(QHostAddress(QLatin1String(from))))
                return false;
            s.connectToHost(QHostAddress::LocalHost, m_router->port());
            return s.waitForConnected(5000);
        };
        QTcpSocket a1, a2, a3, b1, c1;
        QVERIFY(open(a1, "127.0.0.1"));
        QVERIFY(open(a2, "127.0.0.1"));
        QTRY_COMPARE(m_router->openConnections(), 2);
        const QByteArray perPeer = exchange(a3, "GET /items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QVERIFY2(perPeer.startsWith("HTTP/1.1 503 ") && perPeer.contains("too-many-connections") && perPeer.contains("Retry-After: 5"),
                 perPeer.constData());
        QVERIFY2(perPeer.contains("from 127.0.0.1"), perPeer.constData());

        // Another address gets in, and is answered; past the overall cap, a third is refused.
        QVERIFY(open(b1, "127.0.0.2"));
        const QByteArray other = exchange(b1, "GET /items/2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "\"id\":\"2\"");
        QVERIFY2(other.startsWith("HTTP/1.1 200 "), other.constData());
        QCOMPARE(m_router->openConnections(), 3);
        const QByteArray overall = exchange(c1, "GET /items/3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QVERIFY2(overall.startsWith("HTTP/1.1 503 ") && overall.contains("its most"), overall.constData());
        QCOMPARE(m_router->openConnections(), 3);

        a1.disconnectFromHost();
        QTRY_COMPARE(m_router->openConnections(), 2);
        QTcpSocket a4;
        const QByteArray again = exchange(a4, "GET /items/4 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "\"id\":\"4\"");
        QVERIFY2(again.startsWith("HTTP/1.1 200 "), again.constData());
        const QByteArray m = m_metrics.render();
        QVERIFY2(m.contains("test_http_connections_refused_total{cap=\"per-peer\"} 1"), m.constData());
        QVERIFY2(m.contains("test_http_connections_refused_total{cap=\"total\"} 1"), m.constData());
        QVERIFY2(m.contains("test_http_connections 3"), m.constData());
    }

    // accept() failing for want of descriptors (EMFILE) makes Qt pause the listening socket and
    // never resume it: the server was deaf until restarted. It resumes after acceptRetryMs.
    void acceptResumesAfterRunningOutOfDescriptors()
    {
        ConnectionLimits limits;
        limits.acceptRetryMs = 50;
        m_router->setConnectionLimits(limits);
        QTcpServer *tcp = m_router->httpServer()->servers().value(0);
        QVERIFY(tcp);
        QSignalSpy acceptErrors(tcp, &QTcpServer::acceptError);

        const int client = rawConnect(m_router->port()); // in the listen backlog, not accepted yet
        QVERIFY(client >= 0);
        rlimit before{};
        QCOMPARE(::getrlimit(RLIMIT_NOFILE, &before), 0);
        int highest = 0;
        for (const QString &fd : QDir(u"/proc/self/fd"_qs).entryList(QDir::Files | QDir::System | QDir::NoDotAndDotDot))
            highest = qMax(highest, fd.toInt());
        rlimit low = before;
        low.rlim_cur = rlim_t(highest + 8);
        QCOMPARE(::setrlimit(RLIMIT_NOFILE, &low), 0);
        QList<int> fillers;
        for (int fd = ::open("/dev/null", O_RDONLY); fd >= 0; fd = ::open("/dev/null", O_RDONLY))
            fillers.append(fd);
        const bool failed = acceptErrors.wait(5000);
        for (const int fd : std::as_const(fillers))
            ::close(fd);
        QCOMPARE(::setrlimit(RLIMIT_NOFILE, &before), 0);
        QVERIFY(failed);

        // Descriptors free again: the connection waiting in the backlog is taken and answered.
        QTcpSocket waiting;
        QVERIFY(waiting.setSocketDescriptor(client));
        const QByteArray answer = exchange(waiting, "GET /items/5 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "\"id\":\"5\"", 5000);
        QVERIFY2(answer.startsWith("HTTP/1.1 200 "), answer.constData());
        QCOMPARE(request("GET", "/items/6").status, 200);
        QVERIFY2(m_metrics.render().contains("test_http_accept_errors_total 1"), m_metrics.render().constData());
    }

    // A file answer to a client that reads nothing holds at most FileStreamHighWater (plus a
    // chunk) in memory, however large the file; one address gets maxFileStreamsPerPeer at once
    // (then 503 with Retry-After); the reader that starts reading gets every byte.
    void fileStreamsKeepMemoryBoundedAndAreCapped()
    {
        ConnectionLimits limits;
        QCOMPARE(limits.maxFileStreamsPerPeer, 0); // no cap unless the server sets one
        limits.maxFileStreamsPerPeer = 1;
        m_router->setConnectionLimits(limits);
        const QByteArray bytes = pseudoRandomBytes(24 * 1024 * 1024);
        QFile f(m_files.filePath(u"big.bin"_qs));
        QVERIFY(f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size());
        f.close();

        const int fd = rawConnect(m_router->port(), 4096);
        QVERIFY(fd >= 0);
        const QByteArray ask = "GET /file/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        QCOMPARE(::send(fd, ask.constData(), size_t(ask.size()), 0), ssize_t(ask.size()));
        QTRY_COMPARE(m_router->openFileStreams(), 1);
        // Stalled: the kernel's buffers full, the rest queued in the socket up to the mark.
        QTRY_VERIFY(m_router->queuedBytes() > 0);
        QTRY_VERIFY_WITH_TIMEOUT(m_metrics.render().contains("test_http_queued_bytes"), 1000);
        QVERIFY2(m_router->queuedBytes() <= Router::FileStreamHighWater + 256 * 1024,
                 QByteArray::number(m_router->queuedBytes()).constData());

        const RawReply second = request("GET", "/file/big.bin");
        QCOMPARE(second.status, 503);
        QCOMPARE(second.json().value(u"error").toString(), u"too-many-downloads"_qs);
        QCOMPARE(second.header("Retry-After"), QByteArray("1"));
        QVERIFY(m_router->queuedBytes() <= Router::FileStreamHighWater + 256 * 1024);

        QTcpSocket reader;
        QVERIFY(reader.setSocketDescriptor(fd));
        const QByteArray data = exchange(reader, {}, {}, 20000);
        const qsizetype headerEnd = data.indexOf("\r\n\r\n");
        QVERIFY(headerEnd > 0);
        QCOMPARE(data.size() - headerEnd - 4, bytes.size());
        QVERIFY(data.mid(headerEnd + 4) == bytes);
        QTRY_COMPARE(m_router->openFileStreams(), 0);
        QCOMPARE(request("GET", "/file/bundle-missing.bin").status, 500);
    }

    // A part of a file (fileOffset, fileLength) is streamed with its own Content-Length; a file
    // that is there but cannot be opened is 503 with the reason, not "missing".
    void filePartsAndUnopenableFiles()
    {
        const QByteArray bytes = pseudoRandomBytes(1000);
        QFile f(m_files.filePath(u"small.bin"_qs));
        QVERIFY(f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size());
        f.close();
        const RawReply part = request("GET", "/part/small.bin");
        QCOMPARE(part.status, 206);
        QCOMPARE(part.header("Content-Length"), QByteArray("100"));
        QVERIFY(part.body == bytes.mid(10, 100));

        QVERIFY(QDir(m_files.path()).mkpath(u"adir"_qs)); // there, and no file to open
        const RawReply unopenable = request("GET", "/file/adir");
        QCOMPARE(unopenable.status, 503);
        QCOMPARE(unopenable.header("Retry-After"), QByteArray("5"));
        QVERIFY2(unopenable.json().value(u"detail").toString().startsWith(u"cannot open adir now: "), unopenable.body.constData());
    }
};

QTEST_GUILESS_MAIN(TestHttpRouter)
#include "tst_httprouter.moc"
