// The iptvnext store and server on a real PostgreSQL, started for the test in a temporary
// directory on a free port (as the postgres user when the test runs as root). Skipped with a
// message when the PostgreSQL server binaries or the QPSQL driver are not installed.

#include "../common/postgresserver.h"
#include "testhttp.h"

#include <config.h>
#include <server.h>
#include <store.h>

#include <QSqlDatabase>
#include <QTest>

using namespace iptv::epg;
using namespace iptv::next;

namespace {
const QString Data = QStringLiteral(IPTV_TEST_DATA "/iptvnext/");
} // namespace

class TestIptvNextPostgres : public QObject
{
    Q_OBJECT

private:
    PostgresServer m_postgres;
    QString m_uri;

private Q_SLOTS:
    void initTestCase()
    {
        if (const QString why = PostgresServer::skipReason(); !why.isEmpty())
            QSKIP(qPrintable(why));
        QString error;
        QVERIFY2(m_postgres.start(&error), qPrintable(error));
        m_uri = m_postgres.uri();
    }

    void storeRoundTrip()
    {
        GuideStore store;
        QString error;
        QVERIFY2(store.open(m_uri, &error), qPrintable(error));
        QCOMPARE(store.driverName(), u"QPSQL"_qs);

        Channel one;
        one.id = QStringLiteral("one.test");
        one.displayNames = {{u"en"_qs, u"Channel One"_qs}};
        QList<Programme> programmes;
        for (int i = 0; i < 450; ++i) {
            Programme p;
            p.channelId = one.id;
            p.start = 1767225600 + i * 1800;
            p.stop = p.start + 1800;
            p.titles = {{u"en"_qs, QStringLiteral("Show %1 — ünïcødé").arg(i)}};
            p.descs = {{QString(), QString(2000, u'x')}};
            programmes.append(p);
        }
        QVERIFY2(store.replaceSource(u"a.xml"_qs, u"xmltv"_qs, {one}, programmes, {}, 1000, "{}", &error), qPrintable(error));
        {
            // A half-written replacement is rolled back.
            auto writer = store.beginReplace(u"a.xml"_qs, u"xmltv"_qs);
            QVERIFY(writer->isActive());
            QVERIFY(writer->addProgramme(programmes.first()));
        }
        QList<Programme> back;
        QVERIFY(store.forEachProgramme(u"a.xml"_qs, [&](Programme &&p) { back.append(std::move(p)); }, &error));
        QCOMPARE(back, programmes);
        QList<Channel> channels;
        QVERIFY(store.loadChannels(u"a.xml"_qs, &channels, &error));
        QCOMPARE(channels, QList<Channel>{one});
        QVERIFY(store.recordFailure(u"a.xml"_qs, u"xmltv"_qs, 2000, u"HTTP 404"_qs, "{}", &error));
        QCOMPARE(store.source(u"a.xml"_qs)->lastError, u"HTTP 404"_qs);
        QCOMPARE(store.source(u"a.xml"_qs)->programmeCount, 450);

        const QByteArray m3u = "#EXTM3U\n#EXTINF:-1,One\nhttp://one\n\0binary"; // bytea keeps any byte
        QVERIFY(store.replaceSource(u"lineup"_qs, u"m3u"_qs, {}, {}, m3u, 5, "{}", &error));
        QCOMPARE(store.sourceContent(u"lineup"_qs), m3u);

        GuideVersion v;
        v.checksum = "abc";
        v.path = QStringLiteral("/x");
        QCOMPARE(store.addGuide(v, &error), 1);
        QCOMPARE(store.guides().first().checksum, QByteArray("abc"));
    }

    void serverOnPostgres()
    {
        // A database of its own, so the store test's rows do not show up here.
        QString out;
        QVERIFY2(m_postgres.createDatabase(u"iptvnext_server"_qs, &out), qPrintable(out));
        QTemporaryDir dir;
        ServerConfig c;
        c.bindAddress = QHostAddress::LocalHost;
        c.port = 0;
        c.eventsPort = 0;
        c.dataDir = dir.path();
        c.database = m_postgres.uri(u"iptvnext_server"_qs);
        c.xmltvSources = {Data + u"guide-a.xml"};
        c.refreshMinutes = 0;
        c.days = 2;
        c.from = 1767225600;
        c.fixedNow = 1767225600 + 18 * 3600;
        c.compressionLevel = 3;
        QByteArray etag;
        QNetworkAccessManager nam;
        {
            IptvNextServer server(c);
            QSignalSpy changed(&server, &IptvNextServer::guideChanged);
            QString error;
            QVERIFY2(server.start(&error), qPrintable(error));
            QVERIFY(changed.wait(30000));
            const HttpResult r = httpGet(nam, QUrl(QStringLiteral("http://127.0.0.1:%1/guide").arg(server.httpPort())));
            QCOMPARE(r.status, 200);
            etag = r.header("ETag");
            const QJsonObject status = httpGet(nam, QUrl(QStringLiteral("http://127.0.0.1:%1/api/status").arg(server.httpPort()))).json();
            QCOMPARE(status[u"store"].toString(), u"QPSQL"_qs);
        }
        // A second node on the same database: it serves the stored guide before any refresh.
        c.refreshOnStart = false;
        IptvNextServer again(c);
        QString error;
        QVERIFY2(again.start(&error), qPrintable(error));
        QVERIFY(again.hasGuide());
        QCOMPARE(httpGet(nam, QUrl(QStringLiteral("http://127.0.0.1:%1/guide").arg(again.httpPort()))).header("ETag"), etag);
    }
};

QTEST_GUILESS_MAIN(TestIptvNextPostgres)
#include "tst_iptvnextpostgres.moc"
