// The iptvnext store and server on a real PostgreSQL, started for the test in a temporary
// directory on a free port (as the postgres user when the test runs as root). Skipped with a
// message when the PostgreSQL server binaries or the QPSQL driver are not installed.

#include "testhttp.h"

#include <config.h>
#include <server.h>
#include <store.h>

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSqlDatabase>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

using namespace iptv::epg;
using namespace iptv::next;

namespace {
const QString Data = QStringLiteral(IPTV_TEST_DATA "/iptvnext/");

QString postgresBinDir()
{
    QDir root(QStringLiteral("/usr/lib/postgresql"));
    QStringList versions = root.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
    std::sort(versions.begin(), versions.end(), [](const QString &a, const QString &b) { return a.toInt() > b.toInt(); });
    for (const QString &v : versions) {
        const QString bin = root.filePath(v + u"/bin");
        if (QFile::exists(bin + u"/initdb") && QFile::exists(bin + u"/pg_ctl"))
            return bin;
    }
    return {};
}
} // namespace

class TestIptvNextPostgres : public QObject
{
    Q_OBJECT

private:
    // PostgreSQL refuses to run as root: run its tools as the postgres user then.
    bool run(const QString &program, const QStringList &args, QString *output)
    {
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        if (::geteuid() == 0)
            p.start(QStringLiteral("runuser"), QStringList{u"-u"_qs, u"postgres"_qs, u"--"_qs, program} + args);
        else
            p.start(program, args);
        const bool ok = p.waitForFinished(120000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
        *output = QString::fromLocal8Bit(p.readAll());
        return ok;
    }

    QString m_bin;
    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_pgData;
    bool m_running = false;
    QString m_uri;

private Q_SLOTS:
    void initTestCase()
    {
        m_bin = postgresBinDir();
        if (m_bin.isEmpty())
            QSKIP("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)");
        if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL")))
            QSKIP("Qt's QPSQL driver is not installed (apt-get install libqt6sql6-psql)");

        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_pgData = m_dir->filePath(QStringLiteral("pgdata"));
        QString out;
        if (::geteuid() == 0) {
            QVERIFY(QFile::setPermissions(m_dir->path(), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner
                                                             | QFile::ReadOther | QFile::ExeOther));
            QVERIFY(QDir().mkpath(m_pgData));
            QProcess chown;
            chown.start(QStringLiteral("chown"), {u"postgres:postgres"_qs, m_pgData});
            QVERIFY(chown.waitForFinished() && chown.exitCode() == 0);
        }
        QVERIFY2(run(m_bin + u"/initdb", {u"-D"_qs, m_pgData, u"-U"_qs, u"iptv"_qs, u"-A"_qs, u"trust"_qs, u"-E"_qs,
                                           u"UTF8"_qs, u"--no-sync"_qs},
                     &out),
                 qPrintable(out));

        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close();
        const QString options = QStringLiteral("-p %1 -k %2 -c listen_addresses=127.0.0.1 -c fsync=off").arg(port).arg(m_pgData);
        QVERIFY2(run(m_bin + u"/pg_ctl", {u"-D"_qs, m_pgData, u"-o"_qs, options, u"-l"_qs, m_pgData + u"/server.log",
                                          u"-w"_qs, u"-t"_qs, u"60"_qs, u"start"_qs},
                     &out),
                 qPrintable(out));
        m_running = true;
        m_uri = QStringLiteral("postgresql://iptv@127.0.0.1:%1/postgres").arg(port);
    }

    void cleanupTestCase()
    {
        if (!m_running)
            return;
        QString out;
        if (!run(m_bin + u"/pg_ctl", {u"-D"_qs, m_pgData, u"-m"_qs, u"fast"_qs, u"-w"_qs, u"stop"_qs}, &out))
            qWarning("pg_ctl stop failed: %s", qPrintable(out));
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
        const QString port = QUrl(m_uri).port() > 0 ? QString::number(QUrl(m_uri).port()) : QString();
        QVERIFY2(run(m_bin + u"/createdb", {u"-h"_qs, u"127.0.0.1"_qs, u"-p"_qs, port, u"-U"_qs, u"iptv"_qs, u"iptvnext_server"_qs}, &out),
                 qPrintable(out));
        QTemporaryDir dir;
        ServerConfig c;
        c.bindAddress = QHostAddress::LocalHost;
        c.port = 0;
        c.eventsPort = 0;
        c.dataDir = dir.path();
        c.database = QString(m_uri).replace(u"/postgres"_qs, u"/iptvnext_server"_qs);
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
