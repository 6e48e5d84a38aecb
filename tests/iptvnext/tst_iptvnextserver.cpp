// The iptvnext server in-process: HTTP guide download with ETag/304, deltas, the JSON API,
// health and metrics, WebSocket announcements, failed refreshes and restarts.

#include "testhttp.h"
#include "../common/promtool.h"

#include <config.h>
#include <events.h>
#include <server.h>

#include <core/httputil.h>
#include <epg/guide.h>
#include <epg/guidedelta.h>
#include <epg/xmltvreader.h>

#include <QDir>
#include <QHttpServer>
#include <QHttpServerResponse>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QJsonArray>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>

using namespace iptv::next;

namespace {
const QString Data = QStringLiteral(IPTV_TEST_DATA "/iptvnext/");
constexpr qint64 From = 1767225600;          // 2026-01-01T00:00:00Z
constexpr qint64 Now = From + 18 * 3600 + 1800; // 18:30
constexpr int WaitMs = 20000;

bool copyOver(const QString &from, const QString &to)
{
    QFile::remove(to);
    return QFile::copy(from, to) && QFile::setPermissions(to, QFile::ReadOwner | QFile::WriteOwner);
}

QByteArray readData(const QString &name)
{
    QFile f(Data + name);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

/// The bytes through `tool -c` (gzip, xz); empty when the tool is missing.
QByteArray compress(const QString &tool, const QByteArray &bytes)
{
    if (QStandardPaths::findExecutable(tool).isEmpty())
        return {};
    QProcess p;
    p.start(tool, {u"-c"_qs});
    if (!p.waitForStarted())
        return {};
    p.write(bytes);
    p.closeWriteChannel();
    p.waitForFinished(30000);
    return p.readAllStandardOutput();
}

/// The guide with only its first `count` programmes: whole and valid, just smaller.
QByteArray onlyFirstProgrammes(const QByteArray &xml, int count)
{
    QByteArray out = xml;
    qsizetype at = 0;
    for (int i = 0; i <= count && at >= 0; ++i)
        at = out.indexOf("<programme ", at + 1);
    const qsizetype end = out.lastIndexOf("</tv>");
    if (at >= 0 && end > at)
        out.remove(at, end - at);
    return out;
}
} // namespace

class TestIptvNextServer : public QObject
{
    Q_OBJECT

private:
    ServerConfig config() const
    {
        ServerConfig c;
        c.bindAddress = QHostAddress::LocalHost;
        c.port = 0;
        c.eventsPort = -1; // with port 0: any free port
        c.dataDir = m_dir->filePath(QStringLiteral("data"));
        c.xmltvSources = {m_source};
        c.refreshMinutes = 0;
        c.days = 2;
        c.from = From;
        c.fixedNow = Now;
        c.compressionLevel = 3;
        return c;
    }
    void startServer(const ServerConfig &c, bool waitForGuide)
    {
        m_server = std::make_unique<IptvNextServer>(c);
        QSignalSpy changed(m_server.get(), &IptvNextServer::guideChanged);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
        if (waitForGuide && !m_server->hasGuide())
            QVERIFY(changed.wait(WaitMs));
    }
    QUrl url(const QString &pathAndQuery) const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_server->httpPort()).arg(pathAndQuery));
    }
    HttpResult get(const QString &path, const QList<std::pair<QByteArray, QByteArray>> &headers = {})
    {
        return httpGet(m_nam, url(path), headers);
    }
    bool refreshAndWait()
    {
        QSignalSpy finished(m_server.get(), &IptvNextServer::refreshFinished);
        const HttpResult r = httpRequest(m_nam, "POST", url(QStringLiteral("/api/refresh")));
        if (r.status != 202)
            return false;
        // A small refresh may finish while the reply is still on its way.
        return !finished.isEmpty() || finished.wait(WaitMs);
    }

    bool writeSource(const QByteArray &bytes)
    {
        QFile f(m_source);
        return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(bytes) == bytes.size();
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_source;
    QNetworkAccessManager m_nam;
    std::unique_ptr<IptvNextServer> m_server;

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_source = m_dir->filePath(QStringLiteral("source.xml"));
        QVERIFY(copyOver(Data + u"guide-a.xml", m_source));
        startServer(config(), true);
    }

    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    void guideDownloadAndEtag()
    {
        const HttpResult r = get(QStringLiteral("/guide"));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.header("Content-Type"), QByteArray("application/vnd.iptv.guide"));
        QString error;
        const auto guide = iptv::epg::Guide::fromBytes(r.body, &error);
        QVERIFY2(guide, qPrintable(error));
        QCOMPARE(r.header("ETag"), '"' + guide->info().checksum + '"');
        QCOMPARE(guide->channelCount(), 3);
        QCOMPARE(guide->info().validFrom, From);

        QCOMPARE(r.header("Cache-Control"), QByteArray("no-cache"));
        QCOMPARE(r.header("Content-Length"), QByteArray::number(r.body.size()));
        const QByteArray lastModified = r.header("Last-Modified");
        QVERIFY(lastModified.endsWith(" GMT"));

        // RFC 9110 15.4.5: a 304 has no content (no Content-Type, no Content-Length other than the
        // 200's) and repeats the validators and Cache-Control of the 200.
        const HttpResult again = get(QStringLiteral("/guide"), {{"If-None-Match", r.header("ETag")}});
        QCOMPARE(again.status, 304);
        QVERIFY(again.body.isEmpty());
        QCOMPARE(again.header("ETag"), r.header("ETag"));
        QCOMPARE(again.header("Cache-Control"), QByteArray("no-cache"));
        QCOMPARE(again.header("Last-Modified"), lastModified);
        QCOMPARE(again.header("Content-Type"), QByteArray());
        QCOMPARE(again.header("Content-Length"), QByteArray());

        // HEAD (curl -I): the headers of the GET, Content-Length included, without the body.
        const HttpResult head = httpRequest(m_nam, "HEAD", url(QStringLiteral("/guide")));
        QCOMPARE(head.status, 200);
        QCOMPARE(head.header("ETag"), r.header("ETag"));
        QCOMPARE(head.header("Content-Type"), QByteArray("application/vnd.iptv.guide"));
        QCOMPARE(head.header("Content-Length"), QByteArray::number(r.body.size()));
        QCOMPARE(head.header("X-Content-Length"), QByteArray());
        QVERIFY(head.body.isEmpty());

        const HttpResult stale = get(QStringLiteral("/guide"), {{"If-None-Match", "\"0123\""}});
        QCOMPARE(stale.status, 200);

        // If-Modified-Since (RFC 9110 13.1.3): 304 from Last-Modified on; 200 before it; ignored
        // when If-None-Match is sent, and when it is not a date.
        QCOMPARE(get(QStringLiteral("/guide"), {{"If-Modified-Since", lastModified}}).status, 304);
        const QByteArray later = iptv::http::httpDate(m_server->guideVersion().createdAt + 3600);
        QCOMPARE(get(QStringLiteral("/guide"), {{"If-Modified-Since", later}}).status, 304);
        const QByteArray earlier = iptv::http::httpDate(m_server->guideVersion().createdAt - 1);
        QCOMPARE(get(QStringLiteral("/guide"), {{"If-Modified-Since", earlier}}).status, 200);
        QCOMPARE(get(QStringLiteral("/guide"), {{"If-None-Match", "\"0123\""}, {"If-Modified-Since", later}}).status, 200);
        QCOMPARE(get(QStringLiteral("/guide"), {{"If-Modified-Since", "yesterday"}}).status, 200);

        const HttpResult byVersion = get(u"/guide/"_qs + QString::fromLatin1(guide->info().checksum));
        QCOMPARE(byVersion.status, 200);
        QCOMPARE(byVersion.body, r.body);
        QVERIFY(byVersion.header("Cache-Control").contains("immutable"));
    }

    void jsonApi()
    {
        HttpResult r = get(QStringLiteral("/api/channels"));
        QCOMPARE(r.status, 200);
        const QJsonArray channels = r.json().value(u"channels").toArray();
        QCOMPARE(channels.size(), 3);
        QCOMPARE(channels.at(0)[u"id"].toString(), u"one.test"_qs);
        QCOMPARE(channels.at(0)[u"name"].toString(), u"Channel One"_qs);
        QCOMPARE(channels.at(0)[u"icon"].toString(), u"http://logos.test/one.png"_qs);

        // The server clock is pinned at 18:30.
        r = get(QStringLiteral("/api/now?channel=one.test"));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json()[u"at"].toInteger(), Now);
        QCOMPARE(r.json()[u"now"][u"title"].toString(), u"News at Six"_qs);
        QCOMPARE(r.json()[u"now"][u"category"].toString(), u"News"_qs);
        QVERIFY(r.json()[u"now"][u"flags"].toArray().contains(u"new"_qs));
        QCOMPARE(r.json()[u"next"][u"title"].toString(), u"Mystery Island"_qs);
        QCOMPARE(r.json()[u"next"][u"start"].toInteger(), From + 19 * 3600); // 20:00 +0100

        r = get(QStringLiteral("/api/now?channel=two.test&at=2026-01-01T20:00:00Z"));
        QCOMPARE(r.json()[u"now"][u"title"].toString(), u"Mystery Island"_qs);
        QVERIFY(r.json()[u"next"].isNull());

        r = get(QStringLiteral("/api/nownext"));
        QCOMPARE(r.status, 200);
        const QJsonArray all = r.json()[u"channels"].toArray();
        QCOMPARE(all.size(), 3);
        QCOMPARE(all.at(1)[u"id"].toString(), u"two.test"_qs);
        QCOMPARE(all.at(1)[u"now"][u"title"].toString(), u"Football Live"_qs);
        QCOMPARE(all.at(1)[u"next"][u"title"].toString(), u"Mystery Island"_qs);
        QCOMPARE(all.at(2)[u"now"][u"title"].toString(), u"Quiz Night"_qs);
        // Answers are reused until the next airing boundary, and only until then.
        r = get(QStringLiteral("/api/nownext?at=2026-01-01T18:45:00Z"));
        QCOMPARE(r.json()[u"at"].toInteger(), Now + 900);
        QCOMPARE(r.json()[u"channels"][1][u"now"][u"title"].toString(), u"Football Live"_qs);
        r = get(QStringLiteral("/api/nownext?at=2026-01-01T19:45:00Z"));
        QCOMPARE(r.json()[u"channels"][0][u"now"][u"title"].toString(), u"Mystery Island"_qs);
        QCOMPARE(r.json()[u"channels"][1][u"now"][u"title"].toString(), u"Mystery Island"_qs);
        QCOMPARE(r.json()[u"channels"][1][u"next"], QJsonValue());
        r = get(QStringLiteral("/api/nownext?at=2026-01-01T18:00:00Z"));
        QCOMPARE(r.json()[u"channels"][1][u"now"][u"title"].toString(), u"Cooking Today"_qs);

        r = get(QStringLiteral("/api/window?channels=one.test&from=2026-01-01T18:00:00Z&to=2026-01-01T22:00:00Z"));
        QCOMPARE(r.status, 200);
        QJsonArray airings = r.json()[u"channels"][0][u"airings"].toArray();
        QCOMPARE(airings.size(), 3);
        QCOMPARE(airings.at(2)[u"title"].toString(), u"The Long Film"_qs);

        r = get(QStringLiteral("/api/window?first=1&count=2&from=%1&to=%2").arg(From + 18 * 3600).arg(From + 19 * 3600));
        QCOMPARE(r.status, 200);
        const QJsonArray paged = r.json()[u"channels"].toArray();
        QCOMPARE(paged.size(), 2);
        QCOMPARE(paged.at(0)[u"id"].toString(), u"two.test"_qs);
        QCOMPARE(paged.at(0)[u"airings"].toArray().size(), 2); // Cooking Today, Football Live

        r = get(QStringLiteral("/api/programme?channel=one.test&start=2026-01-01T19:00:00Z"));
        QCOMPARE(r.status, 200);
        const QJsonObject p = r.json();
        QCOMPARE(p[u"titles"][0][u"text"].toString(), u"Mystery Island"_qs);
        QCOMPARE(p[u"subTitles"][0][u"text"].toString(), u"The Cave"_qs);
        QCOMPARE(p[u"startUtcOffset"].toInt(), 3600);
        QCOMPARE(p[u"channelName"].toString(), u"Channel One"_qs);
        bool actor = false;
        for (const QJsonValue &c : p[u"credits"].toArray())
            actor = actor || (c[u"name"].toString() == u"Bo Actor" && c[u"character"].toString() == u"Captain");
        QVERIFY(actor);
    }

    void search_data()
    {
        QTest::addColumn<QString>("query");
        QTest::addColumn<QString>("firstTitle");
        QTest::addColumn<bool>("titleMatch");
        QTest::newRow("title word") << u"q=mystery"_qs << u"Mystery Island"_qs << true;
        QTest::newRow("prefix, two words") << u"q=myst+isl"_qs << u"Mystery Island"_qs << true;
        QTest::newRow("description word") << u"q=castaways"_qs << u"Mystery Island"_qs << false;
        QTest::newRow("credits") << u"q=bo%20actor"_qs << u"Mystery Island"_qs << false;
        QTest::newRow("new only") << u"q=news&new=1"_qs << u"News at Six"_qs << true;
        QTest::newRow("channel filter") << u"q=mystery&channel=two.test"_qs << u"Mystery Island"_qs << true;
        QTest::newRow("no match") << u"q=zzzz"_qs << QString() << false;
    }

    void search()
    {
        QFETCH(QString, query);
        QFETCH(QString, firstTitle);
        QFETCH(bool, titleMatch);
        const HttpResult r = get(u"/api/search?"_qs + query);
        QCOMPARE(r.status, 200);
        const QJsonArray hits = r.json()[u"hits"].toArray();
        if (firstTitle.isEmpty()) {
            QCOMPARE(hits.size(), 0);
            return;
        }
        QVERIFY2(!hits.isEmpty(), r.body.constData());
        QCOMPARE(hits.at(0)[u"title"].toString(), firstTitle);
        QCOMPARE(hits.at(0)[u"titleMatch"].toBool(), titleMatch);
        if (query.contains(u"channel=two.test")) {
            for (const QJsonValue &h : hits)
                QCOMPARE(h[u"channel"].toString(), u"two.test"_qs);
        }
    }

    void searchSaysWhetherTotalIsExact()
    {
        // Every programme matches a one-letter prefix of its own title; the answer says how far
        // 'total' can be trusted, and the limit it applied.
        HttpResult r = get(u"/api/search?q=n&limit=500"_qs);
        QCOMPARE(r.status, 200);
        QVERIFY(r.json().contains(u"totalExact"));
        QCOMPARE(r.json()[u"limit"].toInt(), 500);
        if (r.json()[u"totalExact"].toBool())
            QVERIFY(r.json()[u"total"].toInteger() >= r.json()[u"hits"].toArray().size());
        r = get(u"/api/search?q=n&limit=1"_qs);
        QCOMPARE(r.json()[u"limit"].toInt(), 1);
        QCOMPARE(r.json()[u"hits"].toArray().size(), 1);
        if (!r.json()[u"totalExact"].toBool())
            QVERIFY(r.json()[u"total"].toInteger() >= 1); // a lower bound, said so
        QCOMPARE(get(u"/api/search?q=n&limit=501"_qs).status, 400);
        QCOMPARE(get(u"/api/search?q=n&limit=0"_qs).status, 400);
    }

    void errors_data()
    {
        QTest::addColumn<QByteArray>("verb");
        QTest::addColumn<QString>("path");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("error");
        QTest::newRow("now without channel") << QByteArray("GET") << u"/api/now"_qs << 400 << u"missing-parameter"_qs;
        QTest::newRow("unknown channel") << QByteArray("GET") << u"/api/now?channel=nope"_qs << 404 << u"unknown-channel"_qs;
        QTest::newRow("bad time") << QByteArray("GET") << u"/api/now?channel=one.test&at=soon"_qs << 400 << u"bad-parameter"_qs;
        QTest::newRow("inverted window") << QByteArray("GET")
                                         << u"/api/window?from=2026-01-01T20:00:00Z&to=2026-01-01T19:00:00Z"_qs << 400
                                         << u"bad-window"_qs;
        QTest::newRow("window count") << QByteArray("GET") << u"/api/window?count=0"_qs << 400 << u"bad-parameter"_qs;
        QTest::newRow("search without words") << QByteArray("GET") << u"/api/search"_qs << 400 << u"missing-parameter"_qs;
        QTest::newRow("nothing airs") << QByteArray("GET") << u"/api/programme?channel=one.test&start=2026-01-05T00:00:00Z"_qs
                                      << 404 << u"no-programme"_qs;
        QTest::newRow("delta without base") << QByteArray("GET") << u"/guide/delta"_qs << 400 << u"missing-parameter"_qs;
        QTest::newRow("delta from unknown base") << QByteArray("GET") << u"/guide/delta?from=abc"_qs << 404 << u"unknown-base"_qs;
        QTest::newRow("unknown version") << QByteArray("GET") << u"/guide/deadbeef"_qs << 404 << u"unknown-version"_qs;
        QTest::newRow("no such path") << QByteArray("GET") << u"/nowhere"_qs << 404 << u"not-found"_qs;
        QTest::newRow("POST to the guide") << QByteArray("POST") << u"/guide"_qs << 405 << u"method-not-allowed"_qs;
        QTest::newRow("GET to refresh") << QByteArray("GET") << u"/api/refresh"_qs << 405 << u"method-not-allowed"_qs;
        QTest::newRow("events without upgrade") << QByteArray("GET") << u"/events"_qs << 426 << u"websocket-only"_qs;
    }

    void errors()
    {
        QFETCH(QByteArray, verb);
        QFETCH(QString, path);
        QFETCH(int, status);
        QFETCH(QString, error);
        const HttpResult r = httpRequest(m_nam, verb, url(path));
        QCOMPARE(r.status, status);
        QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
        QCOMPARE(r.json()[u"error"].toString(), error);
        QVERIFY(!r.json()[u"detail"].toString().isEmpty());
    }

    void healthAndMetrics()
    {
        HttpResult r = get(QStringLiteral("/healthz"));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json()[u"status"].toString(), u"ok"_qs);
        QVERIFY(r.json()[u"coversNow"].toBool());

        get(QStringLiteral("/guide"));
        get(QStringLiteral("/nowhere"));
        r = get(QStringLiteral("/metrics"));
        QCOMPARE(r.status, 200);
        QVERIFY(r.header("Content-Type").startsWith("text/plain"));
        const QByteArray m = r.body;
        QVERIFY(m.contains("# TYPE iptvnext_http_requests_total counter"));
        QVERIFY(m.contains("iptvnext_http_requests_total{route=\"/healthz\",status=\"200\"} 1"));
        QVERIFY(m.contains("iptvnext_http_requests_total{route=\"/guide\",status=\"200\"} 1"));
        QVERIFY(m.contains("iptvnext_http_requests_total{route=\"unmatched\",status=\"404\"} 1"));
        QVERIFY(m.contains("iptvnext_http_request_duration_seconds_bucket{route=\"/guide\",le=\"+Inf\"} 1"));
        QVERIFY(m.contains("iptvnext_guide_channels 3"));
        QVERIFY(m.contains(QByteArray("iptvnext_guide_bytes " + QByteArray::number(m_server->guideBytes().size()))));
        QVERIFY(m.contains(QByteArray("iptvnext_guide_airings " + QByteArray::number(m_server->guide()->airingCount()))));
        QVERIFY(m.contains("iptvnext_refresh_total 1"));
        QVERIFY(m.contains("iptvnext_refresh_failures_total 0"));
        QVERIFY(m.contains(QByteArray("iptvnext_refresh_last_success_timestamp_seconds " + QByteArray::number(Now))));
        QVERIFY(m.contains("iptvnext_refresh_duration_seconds_count 1"));

        const auto problems = promtoolProblems(m);
        if (!problems)
            QSKIP("promtool (Debian package prometheus) is not installed");
        QVERIFY2(problems->isEmpty(), qPrintable(*problems));
    }

    void healthWithoutGuide()
    {
        m_server.reset();
        ServerConfig c = config();
        c.xmltvSources.clear();
        c.dataDir = m_dir->filePath(QStringLiteral("empty"));
        startServer(c, false);
        QVERIFY(!m_server->hasGuide());
        HttpResult r = get(QStringLiteral("/healthz"));
        QCOMPARE(r.status, 503);
        QCOMPARE(r.json()[u"status"].toString(), u"unavailable"_qs);
        r = get(QStringLiteral("/guide"));
        QCOMPARE(r.status, 503);
        QCOMPARE(r.json()[u"error"].toString(), u"no-guide"_qs);
        QCOMPARE(httpRequest(m_nam, "POST", url(QStringLiteral("/api/refresh"))).status, 409);
    }

    void failedRefreshKeepsGuide_data()
    {
        QTest::addColumn<QString>("replacement"); // empty: delete the source
        QTest::addColumn<QString>("errorContains");
        QTest::newRow("garbage") << u"garbage.xml"_qs << QString();
        QTest::newRow("missing file") << QString() << u"does not exist"_qs;
    }

    void failedRefreshKeepsGuide()
    {
        QFETCH(QString, replacement);
        QFETCH(QString, errorContains);
        const QByteArray etag = get(QStringLiteral("/guide")).header("ETag");
        QVERIFY(!etag.isEmpty());
        if (replacement.isEmpty())
            QVERIFY(QFile::remove(m_source));
        else
            QVERIFY(copyOver(Data + replacement, m_source));

        QSignalSpy changed(m_server.get(), &IptvNextServer::guideChanged);
        QVERIFY(refreshAndWait());
        QCOMPARE(changed.size(), 0);

        const HttpResult r = get(QStringLiteral("/guide"));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.header("ETag"), etag);

        const QJsonObject status = get(QStringLiteral("/api/status")).json();
        QVERIFY(status[u"guide"][u"served"].toBool());
        const QJsonObject last = status[u"lastRefresh"].toObject();
        QCOMPARE(last[u"ok"].toBool(), false);
        QCOMPARE(last[u"trigger"].toString(), u"api"_qs);
        QCOMPARE(last[u"compile"][u"attempted"].toBool(), false);
        const QJsonObject source = last[u"sources"][0].toObject();
        QCOMPARE(source[u"ok"].toBool(), false);
        const QString error = source[u"error"].toString();
        QVERIFY(!error.isEmpty());
        if (!errorContains.isEmpty())
            QVERIFY2(error.contains(errorContains), qPrintable(error));
        else
            QVERIFY2(!source[u"diagnostics"].toArray().isEmpty(), qPrintable(error));
        // The persisted per-source status says the same, and the stored data is the last good one.
        const QJsonObject stored = status[u"sources"][0].toObject();
        QCOMPARE(stored[u"ok"].toBool(), false);
        QCOMPARE(stored[u"error"].toString(), error);
        QVERIFY(stored[u"storedProgrammes"].toInteger() > 0);
        const QByteArray metrics = get(QStringLiteral("/metrics")).body;
        QVERIFY(metrics.contains("iptvnext_refresh_failures_total 1"));
        const QByteArray label = "{source=\"" + m_source.toUtf8() + "\"}";
        QVERIFY(metrics.contains(QByteArray("iptvnext_source_ok" + label + " 0")));
        QVERIFY(metrics.contains(QByteArray("iptvnext_source_failures_total" + label + " 1")));
        QVERIFY(metrics.contains(QByteArray("iptvnext_source_programmes" + label + " 9"))); // the last good read
    }

    void truncatedSourceKeepsGuide_data()
    {
        QTest::addColumn<QString>("compressor"); // empty: plain XML
        QTest::newRow("plain XMLTV cut mid-element") << QString();
        QTest::newRow("half a .gz") << u"gzip"_qs;
        QTest::newRow("half a .xz") << u"xz"_qs;
    }

    void truncatedSourceKeepsGuide()
    {
        QFETCH(QString, compressor);
        QByteArray bytes = readData(u"guide-a.xml"_qs);
        if (!compressor.isEmpty()) {
            bytes = compress(compressor, bytes);
            if (bytes.isEmpty())
                QSKIP("compressor not installed");
        }
        const QByteArray etag = get(QStringLiteral("/guide")).header("ETag");
        const qint64 airings = m_server->guide()->airingCount();
        QVERIFY(writeSource(bytes.left(bytes.size() / 2)));

        QSignalSpy changed(m_server.get(), &IptvNextServer::guideChanged);
        QVERIFY(refreshAndWait());
        QCOMPARE(changed.size(), 0);
        QCOMPARE(get(QStringLiteral("/guide")).header("ETag"), etag);
        QCOMPARE(m_server->guide()->airingCount(), airings);

        // A failed refresh, counted, and said by /healthz and /api/status with the reason.
        const QJsonObject status = get(QStringLiteral("/api/status")).json();
        QCOMPARE(status[u"state"].toString(), u"degraded"_qs);
        const QJsonObject source = status[u"lastRefresh"][u"sources"][0].toObject();
        QCOMPARE(source[u"ok"].toBool(), false);
        // A cut in the middle of the XML leaves a readable part ("incomplete"); half of a small
        // compressed file does not even decompress its first block ("unreadable").
        const QString error = source[u"error"].toString();
        QVERIFY2(error.contains(u"fatal error"), qPrintable(error));
        if (compressor.isEmpty()) {
            QCOMPARE(source[u"incomplete"].toBool(), true);
            QVERIFY2(error.startsWith(u"incomplete read, nothing stored: "), qPrintable(error));
        }
        QCOMPARE(source[u"diagnostics"][0][u"fatal"].toBool(), true);
        const QJsonObject stored = status[u"sources"][0].toObject();
        QCOMPARE(stored[u"state"].toString(), u"failed"_qs);
        QCOMPARE(stored[u"storedProgrammes"].toInteger(), 9);

        HttpResult health = get(QStringLiteral("/healthz"));
        QCOMPARE(health.status, 200); // the last good guide is still served
        QCOMPARE(health.json()[u"status"].toString(), u"degraded"_qs);
        QVERIFY2(health.json()[u"problems"][0].toString().contains(u"fatal error"), health.body.constData());
        QCOMPARE(get(QStringLiteral("/healthz?strict=1")).status, 503);
        QVERIFY(get(QStringLiteral("/metrics")).body.contains("iptvnext_refresh_failures_total 1"));

        // The grabber finishes writing: the source is whole again and all is well.
        QVERIFY(writeSource(readData(u"guide-a.xml"_qs)));
        QVERIFY(refreshAndWait());
        health = get(QStringLiteral("/healthz?strict=1"));
        QCOMPARE(health.status, 200);
        QCOMPARE(health.json()[u"status"].toString(), u"ok"_qs);
    }

    void shrunkSourceIsHeldBack()
    {
        const QByteArray etag = get(QStringLiteral("/guide")).header("ETag");
        // A whole, valid file with 2 of the 9 programmes: below half of the stored data in the window.
        QVERIFY(writeSource(onlyFirstProgrammes(readData(u"guide-a.xml"_qs), 3)));
        QSignalSpy changed(m_server.get(), &IptvNextServer::guideChanged);
        QVERIFY(refreshAndWait());
        QCOMPARE(changed.size(), 0);
        QCOMPARE(get(QStringLiteral("/guide")).header("ETag"), etag);

        QJsonObject status = get(QStringLiteral("/api/status")).json();
        QJsonObject source = status[u"lastRefresh"][u"sources"][0].toObject();
        QCOMPARE(source[u"held"].toBool(), true);
        QCOMPARE(source[u"window"][u"programmes"].toInteger(), 2);
        QCOMPARE(source[u"stored"][u"programmes"].toInteger(), 8); // one of the 9 is before the window
        QVERIFY2(source[u"error"].toString().startsWith(u"held back: 2 programmes"), qPrintable(source[u"error"].toString()));
        QCOMPARE(status[u"sources"][0][u"state"].toString(), u"held"_qs);
        QCOMPARE(get(QStringLiteral("/healthz")).json()[u"status"].toString(), u"degraded"_qs);
        const QByteArray label = "{source=\"" + m_source.toUtf8() + "\"}";
        QVERIFY(get(QStringLiteral("/metrics")).body.contains(QByteArray("iptvnext_source_held" + label + " 1")));

        // Still held on the next refresh; an operator accepts it, and the smaller guide goes out.
        QVERIFY(refreshAndWait());
        QCOMPARE(changed.size(), 0);
        QCOMPARE(httpRequest(m_nam, "POST", url(u"/api/sources/accept?source=nowhere.xml"_qs)).status, 404);
        QCOMPARE(httpRequest(m_nam, "POST", url(u"/api/sources/accept"_qs)).status, 400);
        QSignalSpy finished(m_server.get(), &IptvNextServer::refreshFinished);
        const HttpResult accepted = httpRequest(
            m_nam, "POST", url(u"/api/sources/accept?source="_qs + QString::fromUtf8(QUrl::toPercentEncoding(m_source))));
        QCOMPARE(accepted.status, 202);
        QVERIFY(!finished.isEmpty() || finished.wait(WaitMs));
        QCOMPARE(changed.size(), 1);
        QCOMPARE(m_server->guide()->airingCount(), 2);
        status = get(QStringLiteral("/api/status")).json();
        QCOMPARE(status[u"sources"][0][u"state"].toString(), u"ok"_qs);
        QCOMPARE(status[u"state"].toString(), u"ok"_qs);
        QVERIFY(get(QStringLiteral("/metrics")).body.contains(QByteArray("iptvnext_source_held" + label + " 0")));
        // The acceptance was for that read only: the guard compares with the new data from now on.
        QVERIFY(!status[u"sources"][0].toObject().contains(u"accepted"));
    }

    void heldSourceRecovers()
    {
        QVERIFY(writeSource(onlyFirstProgrammes(readData(u"guide-a.xml"_qs), 3)));
        QVERIFY(refreshAndWait());
        QCOMPARE(get(QStringLiteral("/api/status")).json()[u"sources"][0][u"state"].toString(), u"held"_qs);
        QVERIFY(writeSource(readData(u"guide-a.xml"_qs)));
        QSignalSpy changed(m_server.get(), &IptvNextServer::guideChanged);
        QVERIFY(refreshAndWait());
        QCOMPARE(changed.size(), 0); // the same guide as before the shrink
        QCOMPARE(get(QStringLiteral("/api/status")).json()[u"sources"][0][u"state"].toString(), u"ok"_qs);
        QCOMPARE(get(QStringLiteral("/healthz")).json()[u"status"].toString(), u"ok"_qs);
    }

    void shrinkGuardOff()
    {
        m_server.reset();
        ServerConfig c = config();
        c.shrinkGuardPercent = 0;
        startServer(c, true);
        // The restarted server serves its stored guide at once; let its start-up refresh end first.
        QTRY_VERIFY_WITH_TIMEOUT(m_server->lastReport().has_value() && !m_server->isRefreshing(), WaitMs);
        QVERIFY(writeSource(onlyFirstProgrammes(readData(u"guide-a.xml"_qs), 3)));
        QSignalSpy changed(m_server.get(), &IptvNextServer::guideChanged);
        QVERIFY(refreshAndWait());
        QCOMPARE(changed.size(), 1);
        QCOMPARE(m_server->guide()->airingCount(), 2);
    }

    void keptListsEachGuideOnce()
    {
        // A, B, then A again (a source that came back): A's newest version only, no duplicate.
        QVERIFY(copyOver(Data + u"guide-b.xml", m_source));
        QVERIFY(refreshAndWait());
        QVERIFY(copyOver(Data + u"guide-a.xml", m_source));
        QVERIFY(refreshAndWait());
        const QJsonArray kept = get(QStringLiteral("/api/status")).json()[u"kept"].toArray();
        QStringList checksums;
        for (const QJsonValue &v : kept)
            checksums.append(v[u"checksum"].toString());
        QCOMPARE(checksums.size(), 2);
        QCOMPARE(checksums.removeDuplicates(), 0);
        QCOMPARE(kept[0][u"version"].toInteger(), 3);
        QCOMPARE(kept[1][u"version"].toInteger(), 2);
        // The file of the first version is the current one's: still there.
        QCOMPARE(get(u"/guide/"_qs + checksums.first()).status, 200);
    }

    void deltaAndAnnouncements()
    {
        const QByteArray oldChecksum = m_server->guideVersion().checksum;
        const QByteArray oldBytes = m_server->guideBytes();

        // One client on the events port, one on the HTTP port itself.
        QWebSocket onEventsPort, onHttpPort;
        QSignalSpy messages(&onEventsPort, &QWebSocket::textMessageReceived);
        QSignalSpy messages2(&onHttpPort, &QWebSocket::textMessageReceived);
        QVERIFY(m_server->eventsPort() != 0);
        onEventsPort.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/events").arg(m_server->eventsPort())));
        onHttpPort.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/events").arg(m_server->httpPort())));
        QVERIFY(messages.wait(WaitMs));
        QTRY_COMPARE_WITH_TIMEOUT(messages2.size(), 1, WaitMs);
        QJsonObject hello = QJsonDocument::fromJson(messages.at(0).at(0).toString().toUtf8()).object();
        QCOMPARE(hello[u"type"].toString(), u"guide-updated"_qs);
        QCOMPARE(hello[u"checksum"].toString().toLatin1(), oldChecksum);
        QCOMPARE(hello[u"validFrom"].toInteger(), From);
        QCOMPARE(hello[u"validUntil"].toInteger(), From + 2 * 86400);
        QCOMPARE(hello[u"version"].toInteger(), 1);

        QVERIFY(copyOver(Data + u"guide-b.xml", m_source));
        QVERIFY(refreshAndWait());
        QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 2, WaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(messages2.size(), 2, WaitMs);
        const QJsonObject update = QJsonDocument::fromJson(messages.at(1).at(0).toString().toUtf8()).object();
        const QByteArray newChecksum = update[u"checksum"].toString().toLatin1();
        QVERIFY(newChecksum != oldChecksum);
        QCOMPARE(update[u"version"].toInteger(), 2);
        QCOMPARE(get(QStringLiteral("/guide")).header("ETag"), '"' + newChecksum + '"');

        // Deltas are made in the background after a compile: 503 delta-pending until then.
        HttpResult delta;
        QTRY_COMPARE_WITH_TIMEOUT((delta = get(u"/guide/delta?from="_qs + QString::fromLatin1(oldChecksum))).status, 200, WaitMs);
        QCOMPARE(delta.header("ETag"), '"' + newChecksum + '"');
        QVERIFY(delta.body.size() < m_server->guideBytes().size());
        QString error;
        const QByteArray rebuilt = iptv::epg::GuideDelta::apply(oldBytes, delta.body, &error);
        QVERIFY2(!rebuilt.isEmpty(), qPrintable(error));
        const auto guide = iptv::epg::Guide::fromBytes(rebuilt, &error);
        QVERIFY2(guide, qPrintable(error));
        QCOMPARE(guide->info().checksum, newChecksum);

        // The same delta again comes from the cache, byte for byte.
        QCOMPARE(get(u"/guide/delta?from="_qs + QString::fromLatin1(oldChecksum)).body, delta.body);
        QCOMPARE(get(u"/guide/delta?from="_qs + QString::fromLatin1(newChecksum)).status, 304);
        // The old version stays downloadable for boxes that still name it.
        QCOMPARE(get(u"/guide/"_qs + QString::fromLatin1(oldChecksum)).body, oldBytes);
        const QJsonObject status = get(QStringLiteral("/api/status")).json();
        QCOMPARE(status[u"kept"].toArray().size(), 2);

        const HttpResult window = get(QStringLiteral("/api/now?channel=two.test"));
        QCOMPARE(window.json()[u"now"][u"title"].toString(), u"Football Extra"_qs);
    }

    void unchangedRefreshKeepsVersion()
    {
        QSignalSpy changed(m_server.get(), &IptvNextServer::guideChanged);
        QVERIFY(refreshAndWait());
        QCOMPARE(changed.size(), 0);
        const QJsonObject status = get(QStringLiteral("/api/status")).json();
        QVERIFY(status[u"lastRefresh"][u"ok"].toBool());
        QVERIFY(status[u"lastRefresh"][u"compile"][u"unchanged"].toBool());
        QCOMPARE(status[u"guide"][u"version"].toInteger(), 1);
    }

    void restartServesStoredGuide()
    {
        const QByteArray etag = get(QStringLiteral("/guide")).header("ETag");
        m_server.reset();
        // The source is broken now: whatever is served comes from the store and the guide file.
        QVERIFY(copyOver(Data + u"garbage.xml", m_source));
        ServerConfig c = config();
        startServer(c, false);
        QVERIFY(m_server->hasGuide()); // before any refresh finished
        QCOMPARE(get(QStringLiteral("/guide")).header("ETag"), etag);
        // The start-up refresh fails (it may already have while /guide was answered).
        QTRY_VERIFY_WITH_TIMEOUT(m_server->lastReport().has_value() && !m_server->isRefreshing(), WaitMs);
        QCOMPARE(m_server->lastReport()->ok(), false);
        QCOMPARE(get(QStringLiteral("/guide")).header("ETag"), etag);
    }

    void missingGuideFileIsRecompiled()
    {
        const QByteArray checksum = m_server->guideVersion().checksum;
        const QString path = m_server->guideVersion().path;
        m_server.reset();
        QVERIFY(QFile::remove(path));
        ServerConfig c = config();
        c.refreshOnStart = false;
        startServer(c, true);
        QVERIFY(m_server->hasGuide());
        QCOMPARE(m_server->guideVersion().checksum, checksum);
        QVERIFY(QFile::exists(path));
        QCOMPARE(get(QStringLiteral("/guide")).status, 200);
    }

    void lineupOrdersChannels()
    {
        m_server.reset();
        ServerConfig c = config();
        c.dataDir = m_dir->filePath(QStringLiteral("with-lineup"));
        c.lineup = Data + u"lineup.m3u";
        startServer(c, true);
        const QJsonArray channels = get(QStringLiteral("/api/channels")).json()[u"channels"].toArray();
        QCOMPARE(channels.size(), 3);
        QCOMPARE(channels.at(0)[u"id"].toString(), u"two.test"_qs);
        QCOMPARE(channels.at(0)[u"number"].toInt(), 2);
        QCOMPARE(channels.at(0)[u"streamUrl"].toString(), u"http://streams.test/two.m3u8"_qs);
        QCOMPARE(channels.at(1)[u"id"].toString(), u"one.test"_qs);
        QCOMPARE(channels.at(2)[u"number"].toInt(), 9);
        const QJsonObject lineup = get(QStringLiteral("/api/status")).json()[u"lastRefresh"][u"compile"][u"lineup"].toObject();
        QCOMPARE(lineup[u"entries"].toInt(), 3);
        QCOMPARE(lineup[u"mapped"].toInt(), 2);
        QCOMPARE(lineup[u"droppedProgrammes"].toInt(), 1); // Quiz Night on three.test
        QCOMPARE(lineup[u"guideChannelsNotInLineup"].toArray(), QJsonArray{u"three.test"_qs});
    }

    void defaultTimeZone()
    {
        m_server.reset();
        ServerConfig c = config();
        c.dataDir = m_dir->filePath(QStringLiteral("zone"));
        c.xmltvSources = {Data + u"guide-local-times.xml"};
        c.timeZone = QTimeZone("America/New_York");
        startServer(c, true);
        // 13:00 in New York is 18:00 UTC; a time with its own offset ignores the zone.
        HttpResult r = get(QStringLiteral("/api/now?channel=local.test&at=2026-01-01T18:10:00Z"));
        QCOMPARE(r.json()[u"now"][u"title"].toString(), u"Lunchtime Local"_qs);
        QCOMPARE(r.json()[u"now"][u"start"].toInteger(), From + 18 * 3600);
        r = get(QStringLiteral("/api/now?channel=local.test&at=2026-01-01T14:10:00Z"));
        QCOMPARE(r.json()[u"now"][u"title"].toString(), u"With Its Own Offset"_qs);
    }

    void httpSources()
    {
        // An origin server for the sources: the guide is there, the lineup is not.
        QHttpServer origin;
        QFile f(Data + u"guide-b.xml");
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray body = f.readAll();
        origin.route(QStringLiteral("/guide.xml"), [body] { return QHttpServerResponse("application/xml", body); });
        const quint16 originPort = origin.listen(QHostAddress::LocalHost, 0);
        QVERIFY(originPort);
        const QString base = QStringLiteral("http://127.0.0.1:%1").arg(originPort);

        m_server.reset();
        ServerConfig c = config();
        c.dataDir = m_dir->filePath(QStringLiteral("http"));
        c.xmltvSources = {base + u"/guide.xml"};
        c.lineup = base + u"/missing.m3u";
        startServer(c, true);
        QCOMPARE(get(QStringLiteral("/api/now?channel=two.test")).json()[u"now"][u"title"].toString(), u"Football Extra"_qs);
        // Without a lineup ever read, every guide channel is served; the refresh reports the failure.
        QCOMPARE(m_server->guide()->channelCount(), 3);
        QTRY_VERIFY_WITH_TIMEOUT(!m_server->isRefreshing(), WaitMs);
        const QJsonObject last = get(QStringLiteral("/api/status")).json()[u"lastRefresh"].toObject();
        QCOMPARE(last[u"ok"].toBool(), false);
        QCOMPARE(last[u"compile"][u"ok"].toBool(), true);
        QCOMPARE(last[u"sources"][0][u"ok"].toBool(), true);
        QCOMPARE(last[u"sources"][1][u"ok"].toBool(), false);
        QVERIFY2(last[u"sources"][1][u"error"].toString().contains(u"HTTP 404"), qPrintable(last[u"sources"][1][u"error"].toString()));
    }

    void conditionalDownloads()
    {
        // An origin that answers If-None-Match like a CDN does, and counts full downloads.
        QHttpServer origin;
        QFile f(Data + u"guide-a.xml");
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray body = f.readAll();
        int fullDownloads = 0;
        origin.route(QStringLiteral("/guide.xml"), [&](const QHttpServerRequest &req) {
            if (req.value("If-None-Match") == "\"v1\"")
                return QHttpServerResponse(QHttpServerResponse::StatusCode::NotModified);
            ++fullDownloads;
            QHttpServerResponse r("application/xml", body);
            r.addHeader("ETag", "\"v1\"");
            return r;
        });
        const quint16 originPort = origin.listen(QHostAddress::LocalHost, 0);
        QVERIFY(originPort);

        m_server.reset();
        ServerConfig c = config();
        c.dataDir = m_dir->filePath(QStringLiteral("conditional"));
        c.xmltvSources = {QStringLiteral("http://127.0.0.1:%1/guide.xml").arg(originPort)};
        startServer(c, true);
        QTRY_VERIFY_WITH_TIMEOUT(!m_server->isRefreshing(), WaitMs);
        QCOMPARE(fullDownloads, 1);
        const QByteArray checksum = m_server->guideVersion().checksum;

        QVERIFY(refreshAndWait());
        QCOMPARE(fullDownloads, 1);
        const QJsonObject last = get(QStringLiteral("/api/status")).json()[u"lastRefresh"].toObject();
        QVERIFY(last[u"ok"].toBool());
        QVERIFY(last[u"sources"][0][u"notModified"].toBool());
        QCOMPARE(last[u"sources"][0][u"programmes"].toInteger(), 9);
        QCOMPARE(last[u"compile"][u"attempted"].toBool(), false); // same window, nothing new
        QCOMPARE(m_server->guideVersion().checksum, checksum);
    }

    void xmltvExport()
    {
        // Built in the background on first request: 503 export-pending until then.
        HttpResult r = get(QStringLiteral("/xmltv"));
        if (r.status == 503)
            QCOMPARE(r.json()[u"error"].toString(), u"export-pending"_qs);
        QTRY_COMPARE_WITH_TIMEOUT((r = get(QStringLiteral("/xmltv"))).status, 200, WaitMs);
        QVERIFY(r.header("Content-Type").startsWith("application/xml"));
        iptv::DiagnosticList diags;
        bool ok = false;
        const iptv::epg::GuideData data = iptv::epg::XmltvReader::readAllBytes(r.body, &diags, &ok);
        QVERIFY(ok);
        QCOMPARE(diags.errorCount(), 0);
        QCOMPARE(data.channels.size(), 3);
        QCOMPARE(data.programmes.size(), qsizetype(m_server->guide()->airingCount()));
        bool found = false;
        for (const auto &p : data.programmes) {
            if (p.title() == u"Mystery Island" && p.channelId == u"one.test") {
                found = true;
                QCOMPARE(p.start, From + 19 * 3600);
                QCOMPARE(p.startUtcOffset, 3600);
                QCOMPARE(p.subTitles.value(0).text, u"The Cave"_qs);
            }
        }
        QVERIFY(found);
    }
};

QTEST_MAIN(TestIptvNextServer)
#include "tst_iptvnextserver.moc"
