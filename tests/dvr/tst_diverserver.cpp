// diver end to end, against a real recast channel: boxes authenticated by control-server
// tickets record an airing, play it while it records (EVENT playlist, byte ranges) and after
// (VOD, read by ffprobe); two boxes recording one airing share one stored copy and see only their
// own; a viewer stops a recording in progress and keeps it (the copy records on for the other);
// one airing of a series is skipped and taken back; rules are refused with reasons; a conflict is
// reported with a reason for the airing left out; a recording on an archived channel plays on
// (and keeps its chunks) after the channel is archived no more; an archive whose folder outlived
// its database (a higher fencing epoch in it) is recorded on; and a `kill -9` of the diver
// process resumes the recording in the same copy, with a gap.

#include "../common/diskgate.h"
#include "../common/diverticket.h"
#include "../common/postgresserver.h"
#include "../recast/recasttest.h"
#include "../common/promtool.h"

#include <config.h>
#include <core/httprouter.h>
#include <diverserver.h>

#include <dvr/archive.h>
#include <dvr/recorder.h>
#include <dvr/rule.h>
#include <dvr/rulestore.h>
#include <epg/guide.h>
#include <epg/guidewriter.h>
#include <media/hlsplaylist.h>
#include <payload/keys.h>
#include <protocol/boxticket.h>

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QProcess>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTimeZone>
#include <QTimer>
#include <QUrlQuery>
#include <QWebSocket>

#include <ctime>
#include <functional>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

using namespace recasttest;
using iptv::diver::DiverConfig;
using iptv::diver::DiverServer;
using iptv::recast::RecastServer;

namespace {
constexpr int kStartMs = 30000;
const QString kDiverBinary = QStringLiteral(IPTV_BINARY_DIR "/server/diver/diver");

ChannelConfig smallChannel(const QString &id)
{
    ChannelConfig c = tinyChannel(id);
    c.ladder = {{QStringLiteral("low"), 160, 90, 100}};
    return c;
}

struct Airing
{
    QString channel;
    qint64 start = 0;
    qint64 stop = 0;
    QString title;
    QString episode; ///< xmltv_ns
};

/// A guide file with these channels (stream URLs on recast: the channel's id, or its `streams`
/// entry) and airings.
bool writeGuide(const QString &path, const QStringList &channels, quint16 recastPort, const QList<Airing> &airings,
                const QHash<QString, QString> &streams = {})
{
    iptv::epg::GuideData data;
    for (const QString &id : channels) {
        iptv::epg::Channel ch;
        ch.id = id;
        ch.displayNames = {{QString(), id.toUpper()}};
        ch.number = int(data.channels.size()) + 1;
        if (recastPort != 0) // 0: a lineup that names no stream
            ch.streamUrl = QStringLiteral("http://127.0.0.1:%1/live/%2.ts").arg(recastPort).arg(streams.value(id, id));
        data.channels.append(ch);
    }
    for (const Airing &a : airings) {
        iptv::epg::Programme p;
        p.channelId = a.channel;
        p.start = a.start;
        p.stop = a.stop;
        p.titles = {{QString(), a.title}};
        if (!a.episode.isEmpty())
            p.episodeNums.append({QStringLiteral("xmltv_ns"), a.episode});
        data.programmes.append(p);
    }
    const qint64 from = QDateTime::currentSecsSinceEpoch() / 3600 * 3600 - 3600;
    iptv::epg::GuideBuilder builder({.from = from, .days = 2, .compressionLevel = 1, .createdAt = from});
    builder.addGuide(data);
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(builder.finish()) > 0;
}

/// Two viewers' rules for the title "Serial": STB-A keeps its last episode (the oldest replaced),
/// STB-B keeps all of them.
std::pair<iptv::dvr::RecordingRule, iptv::dvr::RecordingRule> serialRules()
{
    iptv::dvr::RecordingRule keepOne;
    keepOne.kind = iptv::dvr::RuleKind::Title;
    keepOne.owner = u"STB-A"_qs;
    keepOne.title = u"Serial"_qs;
    keepOne.keep = 1;
    keepOne.keepPolicy = iptv::dvr::KeepPolicy::ReplaceOldest;
    iptv::dvr::RecordingRule keepAll = keepOne;
    keepAll.owner = u"STB-B"_qs;
    keepAll.keep = 0;
    return {keepOne, keepAll};
}

/// Sets a file's or folder's times to `secondsAgo`.
bool age(const QString &path, qint64 secondsAgo)
{
    const time_t then = time_t(QDateTime::currentSecsSinceEpoch() - secondsAgo);
    struct timeval times[2] = {{then, 0}, {then, 0}};
    return ::utimes(QFile::encodeName(path).constData(), times) == 0;
}
} // namespace

namespace {
/// A TCP socket connected to 127.0.0.1:`port` with a receive buffer of `receiveBuffer` bytes, set
/// before the handshake (a client that reads slowly, or not at all); -1 on failure.
int slowReader(quint16 port, int receiveBuffer)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
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

/// The value of an unlabelled series in a Prometheus text exposition; -1 when absent.
double metricValue(const QByteArray &exposition, const QByteArray &name)
{
    for (const QByteArray &line : exposition.split('\n')) {
        if (line.startsWith(QByteArray(name + ' ')))
            return line.mid(name.size() + 1).toDouble();
    }
    return -1;
}
} // namespace

class TestDiverServer : public QObject
{
    Q_OBJECT

private:
    QByteArray ticket(const QString &serial, qint64 validFor = 600) const
    {
        return testutil::diverTicket(m_key, serial, validFor);
    }
    DiverConfig config(const QString &name) const
    {
        DiverConfig c;
        c.bindAddress = QHostAddress::LocalHost;
        c.port = 0;
        c.dataDir = m_dir.filePath(name);
        c.guideFile = m_dir.filePath(name + u".guide"_qs);
        c.ticketKeyFiles = {m_keyFile};
        c.adminToken = QStringLiteral("operator-secret");
        c.segmentSeconds = 1;
        c.minFreeBytes = 0;
        c.capacity = 2;
        return c;
    }
    HttpResult call(const QByteArray &verb, quint16 port, const QString &path, const QByteArray &credential,
                    const QJsonObject &body = {}, const QList<std::pair<QByteArray, QByteArray>> &extra = {})
    {
        QList<std::pair<QByteArray, QByteArray>> headers = extra;
        if (!credential.isEmpty())
            headers.append({QByteArrayLiteral("Authorization"), "Bearer " + credential});
        headers.append({QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json")});
        return httpSend(m_nam, verb, QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path)),
                        body.isEmpty() ? QByteArray() : QJsonDocument(body).toJson(QJsonDocument::Compact), headers);
    }
    QJsonArray recordingsOf(quint16 port, const QByteArray &credential)
    {
        return call("GET", port, u"/api/recordings"_qs, credential).json().value(u"recordings"_qs).toArray();
    }
    /// One recording of the list by its id (the list's order says nothing about which is first).
    QJsonObject recordingOf(quint16 port, const QByteArray &credential, const QString &id)
    {
        for (const QJsonValue &r : recordingsOf(port, credential)) {
            if (QString::number(r.toObject().value(u"id"_qs).toInteger()) == id)
                return r.toObject();
        }
        return {};
    }

    /// A fresh database on a PostgreSQL started at the first call (for the tests run on both
    /// backends); empty with *skip saying why when it cannot run here.
    QString postgresDatabase(const QString &prefix, QString *skip)
    {
        if (!m_postgres) {
            m_postgres = std::make_unique<PostgresServer>();
            m_postgresError = m_postgres->startOrSkipReason();
        }
        *skip = m_postgresError;
        return m_postgresError.isEmpty() ? m_postgres->freshDatabase(prefix) : QString();
    }

    QTemporaryDir m_dir;
    std::unique_ptr<PostgresServer> m_postgres;
    QString m_postgresError;
    std::unique_ptr<RecastServer> m_recast;
    iptv::payload::SigningKey m_key = iptv::payload::SigningKey::generate();
    QString m_keyFile;
    QNetworkAccessManager m_nam;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        iptv::media::installFfmpegLogHandler();
        m_recast = std::make_unique<RecastServer>(serverConfig(m_dir.filePath(u"recast"_qs), {smallChannel(u"one"_qs), smallChannel(u"two"_qs)}));
        QString error;
        QVERIFY2(m_recast->start(&error), qPrintable(error));
        Client client(m_recast->port());
        for (const QString &id : {u"one"_qs, u"two"_qs})
            QTRY_VERIFY_WITH_TIMEOUT(client.playlist(id, u"low"_qs).segments.size() >= 2, kStartMs);
        m_keyFile = m_dir.filePath(u"tickets.pub"_qs);
        QVERIFY2(m_key.publicKey().save(m_keyFile, &error), qPrintable(error));
    }
    void cleanupTestCase()
    {
        m_recast.reset();
    }

    // iptvnext answers 503 while it compiles its first guide (the demo starts diver beside it):
    // diver asks again within seconds, not at its next refresh five minutes later.
    void guideServerNotReadyAtStartIsAskedAgainSoon()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"lateguide"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now - 20, now + 3600, u"Film"_qs, {}}}));
        QFile file(c.guideFile);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray guide = file.readAll();
        int asked = 0;
        iptv::http::Router guideServer(nullptr, u"guide"_qs);
        guideServer.addRoute(iptv::http::Router::Method::Get, u"/guide"_qs, [&](iptv::http::RouteContext &) {
            if (++asked <= 2)
                return iptv::http::Reply::error(503, u"no-guide"_qs, u"no guide has been compiled yet"_qs);
            iptv::http::Reply r;
            r.body = guide;
            r.mimeType = "application/octet-stream";
            return r;
        });
        QString error;
        QVERIFY2(guideServer.listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
        c.guideFile.clear();
        c.guideServer = QUrl(QStringLiteral("http://127.0.0.1:%1").arg(guideServer.port()));
        c.guideRefreshSeconds = 300;
        DiverServer diver(c);
        QSignalSpy loaded(&diver, &DiverServer::guideLoaded);
        QVERIFY2(diver.start(&error), qPrintable(error));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 15000);
        QCOMPARE(asked, 3);
        QVERIFY(diver.guide());
    }

    void recordAndPlayWhileRecordingAndAfter()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"play"_qs);
        c.capacity = 1;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(),
                           {{u"one"_qs, now - 20, now + 8, u"Short News"_qs, {}}, {u"one"_qs, now + 8, now + 3600, u"Film"_qs, {}},
                            {u"two"_qs, now - 20, now + 3600, u"Other"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);

        // No identity, a tampered ticket, an expired one: refused with the reason.
        QCOMPARE(call("GET", port, u"/api/recordings"_qs, {}).status, 401);
        QByteArray tampered = a;
        tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
        const HttpResult bad = call("GET", port, u"/api/recordings"_qs, tampered);
        QCOMPARE(bad.status, 401);
        const HttpResult expired = call("GET", port, u"/api/recordings"_qs, ticket(u"STB-A"_qs, -120));
        QCOMPARE(expired.status, 401);
        QVERIFY2(expired.json().value(u"detail"_qs).toString().contains(u"expired"), expired.body.constData());

        const QJsonObject record{{u"kind"_qs, u"single"_qs}, {u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 20}};
        const HttpResult made = call("POST", port, u"/api/recordings"_qs, a, record);
        QVERIFY2(made.status == 201, made.body.constData());
        QCOMPARE(made.json().value(u"planned"_qs).toArray().size(), 1);
        QCOMPARE(made.json().value(u"rule"_qs).toObject().value(u"owner"_qs).toString(), u"STB-A"_qs);
        // The same airing for a second box: one stored copy for both.
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, b, record).status, 201);

        QJsonObject mine;
        QTRY_VERIFY_WITH_TIMEOUT((mine = recordingsOf(port, a).at(0).toObject()).value(u"segments"_qs).toInt() >= 2, 20000);
        QCOMPARE(mine.value(u"state"_qs).toString(), u"recording"_qs);
        QCOMPARE(recordingsOf(port, a).size(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, b).size(), 1, 10000);
        const auto all = diver.recordings().recordings(&error);
        QVERIFY(all && all->size() == 2);
        QCOMPARE(all->at(0).copyId, all->at(1).copyId);
        QVERIFY(all->at(0).copyId != 0);

        // One stream on this node, taken by the recording in progress (two viewers, one copy):
        // what is on the other channel now is a conflict, said so, and nothing starts.
        const HttpResult other = call("POST", port, u"/api/recordings"_qs, a,
                                      {{u"channel"_qs, u"two"_qs}, {u"start"_qs, now - 20}});
        QVERIFY2(other.status == 201, other.body.constData());
        QCOMPARE(other.json().value(u"planned"_qs).toArray().size(), 0);
        QCOMPARE(other.json().value(u"skipped"_qs).toArray().at(0).toObject().value(u"reason"_qs).toString(), u"conflict"_qs);
        QCOMPARE(diver.activeRecorders(), 1);

        // Each box sees its own only; the operator sees both.
        const QString idA = QString::number(mine.value(u"id"_qs).toInteger());
        QCOMPARE(call("GET", port, u"/api/recordings/"_qs + idA, b).status, 404);
        QCOMPARE(call("GET", port, u"/api/recordings"_qs, "operator-secret").json().value(u"recordings"_qs).toArray().size(), 2);

        // Playable while it records: EVENT, no end, segments with byte ranges.
        const HttpResult during = call("GET", port, u"/play/"_qs + idA + u"/index.m3u8"_qs, a);
        QCOMPARE(during.status, 200);
        const auto live = iptv::media::checkMediaPlaylist(during.body);
        QVERIFY2(live.ok, qPrintable(live.problems.join(u"; "_qs)));
        QVERIFY(!live.ended);
        QVERIFY(during.body.contains("#EXT-X-PLAYLIST-TYPE:EVENT"));
        QString firstSegment;
        for (const QByteArray &line : during.body.split('\n')) {
            if (!line.isEmpty() && !line.startsWith('#')) {
                firstSegment = QString::fromLatin1(line);
                break;
            }
        }
        QVERIFY(!firstSegment.isEmpty());
        // A seek far past what it holds so far (?start= beyond its last segment): not recorded
        // yet, 503 with when to ask again (its newest segment in its place would leave at the
        // next reload, RFC 8216 6.2.1; a point just past it is held until it is written:
        // growingPlaylistsOnlyAppend).
        const HttpResult beyond = call("GET", port, u"/play/"_qs + idA + u"/index.m3u8?start=3600"_qs, a);
        QCOMPARE(beyond.status, 503);
        QCOMPARE(beyond.json().value(u"error"_qs).toString(), u"not-recorded-yet"_qs);
        QVERIFY2(beyond.header("Retry-After").toInt() > 3000, beyond.header("Retry-After").constData());
        const HttpResult part = call("GET", port, u"/play/"_qs + idA + u'/' + firstSegment, a, {}, {{"Range", "bytes=0-187"}});
        QCOMPARE(part.status, 206);
        QCOMPARE(part.body.size(), 188);
        QCOMPARE(part.body.at(0), char(0x47));
        QVERIFY(part.header("Content-Range").startsWith("bytes 0-187/"));
        QCOMPARE(call("GET", port, u"/play/"_qs + idA + u'/' + firstSegment, a, {}, {{"Range", "bytes=99999999-"}}).status, 416);
        const HttpResult whole = call("GET", port, u"/play/"_qs + idA + u'/' + firstSegment, a);
        QCOMPARE(whole.status, 200);
        QCOMPARE(whole.header("Accept-Ranges"), QByteArray("bytes"));
        QCOMPARE(whole.header("Content-Type"), QByteArray("video/mp2t"));
        QCOMPARE(whole.header("Content-Length").toLongLong(), whole.body.size());
        QVERIFY(whole.body.size() > 188 && whole.body.size() % 188 == 0);
        QCOMPARE(whole.body.left(188), part.body);
        QCOMPARE(call("GET", port, u"/play/"_qs + idA + u"/..%2F..%2Fx/seg-1.ts"_qs, a).status / 100, 4);

        // Scrubbing thumbnails of what it holds so far: a WebVTT track whose images are JPEGs
        // served next to the segments, the box's playback token on each URI (fetched with its
        // ticket in the URL: one made for the recording, which outlives the ticket).
        const HttpResult vtt = call("GET", port, u"/play/"_qs + idA + u"/thumbnails.vtt?every=2&ticket=t%2Bk"_qs, a);
        QVERIFY2(vtt.status == 200, vtt.body.constData());
        QVERIFY(vtt.header("Content-Type").startsWith("text/vtt"));
        QVERIFY(vtt.body.startsWith("WEBVTT\n"));
        QVERIFY(vtt.body.contains("00:00:00.000 --> "));
        QString image;
        for (const QByteArray &line : vtt.body.split('\n')) {
            if (line.contains(".jpg")) {
                image = QString::fromLatin1(line);
                break;
            }
        }
        QVERIFY2(image.contains(u".jpg?playback=pt1."), vtt.body.constData());
        const HttpResult jpeg = httpSend(m_nam, "GET", QUrl(QStringLiteral("http://127.0.0.1:%1/play/%2/%3").arg(QString::number(port), idA, image)), {}, {});
        QCOMPARE(jpeg.status, 200);
        QCOMPARE(jpeg.header("Content-Type"), QByteArray("image/jpeg"));
        QVERIFY(jpeg.body.startsWith("\xFF\xD8\xFF"));
        // Two viewers opening the track at once: one makes what is missing, the other waits for
        // it; both get the whole track.
        {
            QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1/play/%2/thumbnails.vtt?every=3").arg(port).arg(idA)));
            request.setRawHeader("Authorization", "Bearer " + a);
            std::unique_ptr<QNetworkReply> one(m_nam.get(request)), two(m_nam.get(request));
            QTRY_VERIFY_WITH_TIMEOUT(one->isFinished() && two->isFinished(), 60000);
            QCOMPARE(one->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
            QCOMPARE(two->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
            const QByteArray first = one->readAll(), second = two->readAll();
            QVERIFY2(first.contains(".jpg"), first.constData());
            QCOMPARE(second.count(".jpg"), first.count(".jpg"));
        }
        QCOMPARE(call("GET", port, u"/play/"_qs + idA + u"/thumbnails.vtt"_qs, b).status, 404);
        QCOMPARE(call("GET", port, u"/play/"_qs + idA + u"/thumbnails.vtt?every=0"_qs, a).status, 400);

        // A resume point and "keep".
        const HttpResult put = call("PUT", port, u"/api/recordings/"_qs + idA, a, {{u"position"_qs, 3}, {u"kept"_qs, true}});
        QCOMPARE(put.status, 200);
        QCOMPARE(put.json().value(u"position"_qs).toInt(), 3);
        QVERIFY(put.json().value(u"kept"_qs).toBool());

        // After the airing (and its end): ended (EVENT with EXT-X-ENDLIST, as it grew: RFC 8216
        // 6.2.1), which ffprobe reads over HTTP.
        // (Once the copy ends, the conflict above is recorded as well: the list has two then.)
        QTRY_COMPARE_WITH_TIMEOUT(recordingOf(port, a, idA).value(u"state"_qs).toString(), u"finished"_qs, 30000);
        const HttpResult after = call("GET", port, u"/play/"_qs + idA + u"/index.m3u8"_qs, a);
        const auto vod = iptv::media::checkMediaPlaylist(after.body);
        QVERIFY2(vod.ok && vod.ended, qPrintable(vod.problems.join(u"; "_qs)));
        QVERIFY(after.body.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && after.body.endsWith("#EXT-X-ENDLIST\n"));
        if (QStandardPaths::findExecutable(u"ffprobe"_qs).isEmpty())
            QSKIP("ffprobe is not installed: the playlist was checked by our own reader only");
        const QString url = recordingOf(port, a, idA).value(u"playlist"_qs).toString();
        QVERIFY2(url.contains(u"?playback=pt1.") && !url.contains(u"ticket="), qPrintable(url)); // ffprobe plays it with its token alone
        // diver answers on this thread: wait for ffprobe with the event loop running.
        QProcess probe;
        QSignalSpy probed(&probe, &QProcess::finished);
        probe.start(u"ffprobe"_qs, {u"-v"_qs, u"error"_qs, u"-show_entries"_qs, u"format=duration"_qs, u"-of"_qs,
                                    u"default=nw=1:nk=1"_qs, url});
        QVERIFY(probed.wait(60000));
        const double seconds = probe.readAllStandardOutput().trimmed().toDouble();
        QVERIFY2(probe.exitCode() == 0 && seconds >= 3, probe.readAllStandardError().constData());
    }

    void recordingRunsOnWhenTheGuideMovesTheEnd()
    {
        // A programme that runs over (extra time): the guide file is replaced with a later end
        // while it records, and the recording goes on to that end in the same copy.
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"overrun"_qs);
        const QStringList channels{u"one"_qs};
        QVERIFY(writeGuide(c.guideFile, channels, m_recast->port(),
                           {{u"one"_qs, now - 20, now + 6, u"Cup Final"_qs, {}}, {u"one"_qs, now + 6, now + 3600, u"Film"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs);
        const HttpResult made = call("POST", port, u"/api/recordings"_qs, a,
                                     {{u"kind"_qs, u"single"_qs}, {u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 20}});
        QVERIFY2(made.status == 201, made.body.constData());
        QTRY_VERIFY_WITH_TIMEOUT(recordingsOf(port, a).at(0).toObject().value(u"segments"_qs).toInt() >= 1, 20000);

        const qint64 newStop = now + 16;
        const QString next = c.guideFile + u".new"_qs;
        QVERIFY(writeGuide(next, channels, m_recast->port(),
                           {{u"one"_qs, now - 20, newStop, u"Cup Final"_qs, {}}, {u"one"_qs, newStop, now + 3600, u"Film"_qs, {}}}));
        QVERIFY(::rename(QFile::encodeName(next).constData(), QFile::encodeName(c.guideFile).constData()) == 0);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).at(0).toObject().value(u"stop"_qs).toInteger(), newStop, 10000);
        const QJsonObject running = recordingsOf(port, a).at(0).toObject();
        QCOMPARE(running.value(u"recordStop"_qs).toInteger(), newStop);
        QCOMPARE(running.value(u"state"_qs).toString(), u"recording"_qs);

        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).at(0).toObject().value(u"state"_qs).toString(), u"finished"_qs, 40000);
        QCOMPARE(recordingsOf(port, a).size(), 1); // one recording, one copy: not a second file
        const QString id = QString::number(recordingsOf(port, a).at(0).toObject().value(u"id"_qs).toInteger());
        const auto vod = iptv::media::checkMediaPlaylist(call("GET", port, u"/play/"_qs + id + u"/index.m3u8"_qs, a).body);
        QVERIFY2(vod.ok && vod.ended, qPrintable(vod.problems.join(u"; "_qs)));
        const QDateTime first = vod.segments.first().programDateTime;
        const QDateTime last = vod.segments.last().programDateTime.addMSecs(qint64(vod.segments.last().duration * 1000));
        QVERIFY(first.isValid() && last.isValid());
        // Recorded past the old end (now + 6) to about the new one.
        QVERIFY2(last.toSecsSinceEpoch() >= newStop - 2, qPrintable(last.toString(Qt::ISODateWithMs)));
    }

    /// ffprobe's duration of a playlist URL (seconds), or -1 (and a warning) when it fails.
    double probeSeconds(const QString &url)
    {
        // diver answers on this thread: wait for ffprobe with the event loop running.
        QProcess probe;
        QSignalSpy probed(&probe, &QProcess::finished);
        probe.start(u"ffprobe"_qs, {u"-v"_qs, u"error"_qs, u"-show_entries"_qs, u"format=duration"_qs, u"-of"_qs,
                                    u"default=nw=1:nk=1"_qs, url});
        if (!probed.wait(60000) || probe.exitCode() != 0) {
            qWarning().noquote() << "ffprobe" << url << ":" << probe.readAllStandardError();
            return -1;
        }
        return probe.readAllStandardOutput().trimmed().toDouble();
    }

    // Two boxes record one airing (one copy). A stops its recording: it is finished at once,
    // with what was recorded until then (a VOD playlist ffprobe reads), A hears "finished", A's
    // rule does not record it again, and the copy records on for B. B stops too: nobody needs
    // the copy any more, it ends and is kept. On an archived channel, stopping ends the range.
    void stopRecordingAndKeepIt()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"stop"_qs);
        c.archivedChannels = {u"two"_qs};
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(),
                           {{u"one"_qs, now - 20, now + 3600, u"Long Film"_qs, {}}, {u"two"_qs, now - 20, now + 3600, u"Other"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        QWebSocket eventsA;
        QSignalSpy heardA(&eventsA, &QWebSocket::textMessageReceived);
        eventsA.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/events?ticket=%2").arg(port).arg(QString::fromLatin1(a))));
        QVERIFY2(heardA.wait(10000), qPrintable(eventsA.closeReason())); // hello
        auto heardOf = [&](const QString &type, qint64 id) {
            for (const QList<QVariant> &m : std::as_const(heardA)) {
                const QJsonObject e = QJsonDocument::fromJson(m.at(0).toString().toUtf8()).object();
                if (e.value(u"type"_qs).toString() == type && e.value(u"id"_qs).toInteger() == id)
                    return e;
            }
            return QJsonObject();
        };

        const QJsonObject film{{u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 20}};
        const HttpResult madeA = call("POST", port, u"/api/recordings"_qs, a, film);
        QCOMPARE(madeA.status, 201);
        const QString ruleA = QString::number(madeA.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger());
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, b, film).status, 201);
        QTRY_VERIFY_WITH_TIMEOUT(recordingsOf(port, a).at(0).toObject().value(u"segments"_qs).toInt() >= 3, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, b).size(), 1, 10000);
        const QString idA = QString::number(recordingsOf(port, a).at(0).toObject().value(u"id"_qs).toInteger());
        const QString idB = QString::number(recordingsOf(port, b).at(0).toObject().value(u"id"_qs).toInteger());
        QCOMPARE(call("POST", port, u"/api/recordings/"_qs + idA + u"/stop"_qs, b).status, 404); // not B's
        // An airing being recorded is not skipped: it is stopped.
        const HttpResult skipRunning = call("PUT", port, u"/api/rules/"_qs + ruleA + u"/airings/one/"_qs + QString::number(now - 20), a,
                                            {{u"cancelled"_qs, true}});
        QCOMPARE(skipRunning.status, 400);
        QVERIFY2(skipRunning.json().value(u"detail"_qs).toString().contains(u"stop the recording instead"), skipRunning.body.constData());

        const qint64 stoppedAt = QDateTime::currentSecsSinceEpoch();
        const HttpResult stop = call("POST", port, u"/api/recordings/"_qs + idA + u"/stop"_qs, a);
        QVERIFY2(stop.status == 200, stop.body.constData());
        const QJsonObject stopped = stop.json();
        QCOMPARE(stopped.value(u"state"_qs).toString(), u"finished"_qs);
        QCOMPARE(stopped.value(u"reason"_qs).toString(), u"stopped by the viewer"_qs);
        QVERIFY(qAbs(stopped.value(u"recordStop"_qs).toInteger() - stoppedAt) <= 1);
        QTRY_VERIFY_WITH_TIMEOUT(!heardOf(u"finished"_qs, idA.toLongLong()).isEmpty(), 10000);
        QCOMPARE(heardOf(u"finished"_qs, idA.toLongLong()).value(u"state"_qs).toString(), u"finished"_qs);
        // Stopping again changes nothing.
        const HttpResult again = call("POST", port, u"/api/recordings/"_qs + idA + u"/stop"_qs, a);
        QCOMPARE(again.status, 200);
        QCOMPARE(again.json().value(u"recordStop"_qs).toInteger(), stopped.value(u"recordStop"_qs).toInteger());

        // B's recording goes on in the same copy: it grows past A's end.
        QCOMPARE(diver.activeCopies().size(), 1);
        const int segmentsAtStop = recordingOf(port, b, idB).value(u"segments"_qs).toInt();
        QTRY_VERIFY_WITH_TIMEOUT(recordingOf(port, b, idB).value(u"segments"_qs).toInt() >= segmentsAtStop + 3, 20000);
        QCOMPARE(recordingOf(port, b, idB).value(u"state"_qs).toString(), u"recording"_qs);
        // A's rule does not plan the airing again: one recording of it, nothing to come.
        diver.reconcile();
        QCOMPARE(recordingsOf(port, a).size(), 1);
        QCOMPARE(call("GET", port, u"/api/upcoming"_qs, a).json().value(u"skipped"_qs).toArray().size(), 0);

        // A's playlist: complete (VOD) at once, up to the stop, while the copy grows.
        const HttpResult playA = call("GET", port, u"/play/"_qs + idA + u"/index.m3u8"_qs, a);
        const auto vodA = iptv::media::checkMediaPlaylist(playA.body);
        QVERIFY2(vodA.ok && vodA.ended, qPrintable(vodA.problems.join(u"; "_qs)));
        const QDateTime endA = vodA.segments.last().programDateTime.addMSecs(qint64(vodA.segments.last().duration * 1000));
        QVERIFY2(endA.toSecsSinceEpoch() <= stoppedAt + 2, qPrintable(endA.toString(Qt::ISODateWithMs)));
        const auto growingB = iptv::media::checkMediaPlaylist(call("GET", port, u"/play/"_qs + idB + u"/index.m3u8"_qs, b).body);
        QVERIFY(!growingB.ended && growingB.segments.size() > vodA.segments.size());
        // A reports and serves its own span, not the copy's: its figures are its playlist's
        // segments (the copy has more by now), its thumbnails end at its stop, and a segment the
        // copy wrote after the stop is not A's to serve (it is B's).
        const QJsonObject ownA = recordingOf(port, a, idA);
        QCOMPARE(ownA.value(u"segments"_qs).toInt(), int(vodA.segments.size()));
        QVERIFY2(recordingOf(port, b, idB).value(u"segments"_qs).toInt() > ownA.value(u"segments"_qs).toInt(),
                 qPrintable(QStringLiteral("A %1, B %2 segments").arg(ownA.value(u"segments"_qs).toInt())
                                .arg(recordingOf(port, b, idB).value(u"segments"_qs).toInt())));
        QStringList lastOfA, firstAfterA;
        const auto copyRows = diver.recordings().copies(&error);
        QVERIFY2(copyRows && copyRows->size() == 1, qPrintable(error));
        {
            iptv::dvr::ArchiveReader reader;
            QVERIFY2(reader.load(copyRows->at(0).directory, &error), qPrintable(error));
            const QList<iptv::dvr::ArchiveSegment> all = reader.segments();
            QVERIFY(all.size() > vodA.segments.size());
            qint64 bytesA = 0;
            for (qsizetype i = 0; i < vodA.segments.size(); ++i)
                bytesA += all.at(i).bytes;
            QCOMPARE(ownA.value(u"bytes"_qs).toInteger(), bytesA);
            lastOfA << all.at(vodA.segments.size() - 1).file;
            firstAfterA << all.at(vodA.segments.size()).file;
        }
        QCOMPARE(call("GET", port, u"/play/"_qs + idA + u'/' + lastOfA.first(), a).status, 200);
        const HttpResult afterStop = call("GET", port, u"/play/"_qs + idA + u'/' + firstAfterA.first(), a);
        QVERIFY2(afterStop.status == 404, afterStop.body.constData());
        QVERIFY2(afterStop.json().value(u"detail"_qs).toString().contains(u"the viewer stopped it"), afterStop.body.constData());
        QCOMPARE(call("GET", port, u"/play/"_qs + idB + u'/' + firstAfterA.first(), b).status, 200);
        const HttpResult thumbsA = call("GET", port, u"/play/"_qs + idA + u"/thumbnails.vtt?every=2"_qs, a);
        QVERIFY2(thumbsA.status == 200, thumbsA.body.constData());
        // The last cue ends where A's playlist ends (its span), the copy's later segments not in it.
        double spanSeconds = 0;
        for (const auto &segment : vodA.segments)
            spanSeconds += segment.duration;
        const QList<QByteArray> cues = thumbsA.body.split('\n');
        QByteArray lastTiming;
        for (const QByteArray &line : cues)
            if (line.contains("-->"))
                lastTiming = line;
        const QTime cueEnd = QTime::fromString(QString::fromLatin1(lastTiming.split(' ').last()), u"hh:mm:ss.zzz"_qs);
        QVERIFY2(cueEnd.isValid(), lastTiming.constData());
        QVERIFY2(qAbs(cueEnd.msecsSinceStartOfDay() - qint64(spanSeconds * 1000)) <= 1100,
                 qPrintable(QStringLiteral("thumbnails end at %1 s, the span is %2 s").arg(cueEnd.msecsSinceStartOfDay() / 1000.0).arg(spanSeconds)));
        for (const QByteArray &line : cues) {
            if (line.endsWith(".jpg"))
                QCOMPARE(call("GET", port, u"/play/"_qs + idA + u'/' + QString::fromLatin1(line), a).status, 200);
        }

        // B stops: the copy is needed by no one and ends, kept.
        const HttpResult stopB = call("POST", port, u"/api/recordings/"_qs + idB + u"/stop"_qs, b);
        QVERIFY2(stopB.status == 200, stopB.body.constData());
        QTRY_VERIFY_WITH_TIMEOUT(diver.activeCopies().isEmpty(), 15000);
        const auto copies = diver.recordings().copies(&error);
        QVERIFY2(copies && copies->size() == 1, qPrintable(error));
        QCOMPARE(copies->at(0).state, iptv::diver::CopyState::Finished);
        QCOMPARE(recordingOf(port, b, idB).value(u"state"_qs).toString(), u"finished"_qs);

        // On the archived channel: the range ends at the stop, and is finished once the archive has it.
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, u"two"_qs}, {u"start"_qs, now - 20}}).status, 201);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).size(), 2, 10000);
        QJsonObject range;
        for (const QJsonValue &r : recordingsOf(port, a))
            if (r.toObject().value(u"archived"_qs).toBool())
                range = r.toObject();
        const QString idR = QString::number(range.value(u"id"_qs).toInteger());
        QTRY_VERIFY_WITH_TIMEOUT(!iptv::media::checkMediaPlaylist(call("GET", port, u"/play/"_qs + idR + u"/index.m3u8"_qs, a).body)
                                      .segments.isEmpty(), 20000);
        const HttpResult stopR = call("POST", port, u"/api/recordings/"_qs + idR + u"/stop"_qs, a);
        QVERIFY2(stopR.status == 200, stopR.body.constData());
        QCOMPARE(stopR.json().value(u"state"_qs).toString(), u"finished"_qs);
        QTRY_VERIFY_WITH_TIMEOUT(!heardOf(u"finished"_qs, idR.toLongLong()).isEmpty(), 15000);
        QTRY_VERIFY_WITH_TIMEOUT(
            iptv::media::checkMediaPlaylist(call("GET", port, u"/play/"_qs + idR + u"/index.m3u8"_qs, a).body).ended, 15000);

        // Deleted while it records (B's range of the same airing): gone, and not made again by its rule.
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, b, {{u"channel"_qs, u"two"_qs}, {u"start"_qs, now - 20}}).status, 201);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, b).size(), 2, 10000);
        QString idD;
        for (const QJsonValue &r : recordingsOf(port, b))
            if (r.toObject().value(u"archived"_qs).toBool())
                idD = QString::number(r.toObject().value(u"id"_qs).toInteger());
        QCOMPARE(call("DELETE", port, u"/api/recordings/"_qs + idD, b).status, 204);
        diver.reconcile();
        QCOMPARE(recordingsOf(port, b).size(), 1);

        if (QStandardPaths::findExecutable(u"ffprobe"_qs).isEmpty())
            QSKIP("ffprobe is not installed: the playlists were checked by our own reader only");
        const double secondsA = probeSeconds(recordingOf(port, a, idA).value(u"playlist"_qs).toString());
        QVERIFY2(secondsA >= 2 && secondsA <= stoppedAt - now + 22, qPrintable(QString::number(secondsA)));
        const double secondsB = probeSeconds(recordingOf(port, b, idB).value(u"playlist"_qs).toString());
        QVERIFY2(secondsB > secondsA, qPrintable(QString::number(secondsB)));
        QVERIFY(probeSeconds(recordingOf(port, a, idR).value(u"playlist"_qs).toString()) > 0);
    }

    // A viewer stops the only recording of a programme, so its copy ends; another viewer then
    // records the same programme, still on: the copy is recorded again in its folder (not a dead
    // copy joined), the first viewer's recording keeps its own span, and the history has each
    // viewer's episode once.
    void stoppedCopyIsRecordedAgainForALaterViewer()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"reopen"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now - 20, now + 3600, u"Match"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        const QJsonObject match{{u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 20}};
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, a, match).status, 201);
        QTRY_VERIFY_WITH_TIMEOUT(!recordingsOf(port, a).isEmpty() && recordingsOf(port, a).at(0).toObject().value(u"segments"_qs).toInt() >= 2,
                                 20000);
        const QString idA = QString::number(recordingsOf(port, a).at(0).toObject().value(u"id"_qs).toInteger());
        QCOMPARE(call("POST", port, u"/api/recordings/"_qs + idA + u"/stop"_qs, a).status, 200);
        QTRY_VERIFY_WITH_TIMEOUT(diver.activeCopies().isEmpty() && diver.stoppingRecorders() == 0, 15000);
        auto onlyCopy = [&]() {
            const auto copies = diver.recordings().copies(&error);
            return copies && copies->size() == 1 ? copies->at(0) : iptv::diver::CopyRow{};
        };
        QCOMPARE(onlyCopy().state, iptv::diver::CopyState::Finished);
        const auto vodA = iptv::media::checkMediaPlaylist(call("GET", port, u"/play/"_qs + idA + u"/index.m3u8"_qs, a).body);
        QVERIFY2(vodA.ok && vodA.ended && !vodA.segments.isEmpty(), qPrintable(vodA.problems.join(u"; "_qs)));

        QCOMPARE(call("POST", port, u"/api/recordings"_qs, b, match).status, 201);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, b).size(), 1, 10000);
        const QString idB = QString::number(recordingsOf(port, b).at(0).toObject().value(u"id"_qs).toInteger());
        QCOMPARE(onlyCopy().state, iptv::diver::CopyState::Recording);
        QTRY_COMPARE_WITH_TIMEOUT(diver.activeCopies().size(), 1, 10000);
        // B's recording grows past what A's holds, and plays as one still recording (no ENDLIST:
        // the index's end line is followed by an "open" line).
        QTRY_VERIFY_WITH_TIMEOUT(recordingOf(port, b, idB).value(u"segments"_qs).toInt() >= int(vodA.segments.size()) + 3, 20000);
        const auto growingB = iptv::media::checkMediaPlaylist(call("GET", port, u"/play/"_qs + idB + u"/index.m3u8"_qs, b).body);
        QVERIFY2(growingB.ok && !growingB.ended, qPrintable(growingB.problems.join(u"; "_qs)));
        QCOMPARE(recordingOf(port, b, idB).value(u"state"_qs).toString(), u"recording"_qs);
        const auto stillA = iptv::media::checkMediaPlaylist(call("GET", port, u"/play/"_qs + idA + u"/index.m3u8"_qs, a).body);
        QVERIFY(stillA.ended);
        QCOMPARE(stillA.segments.size(), vodA.segments.size());

        // B stops: the copy finishes again; A's episode is in the history once, B's once.
        QCOMPARE(call("POST", port, u"/api/recordings/"_qs + idB + u"/stop"_qs, b).status, 200);
        QTRY_VERIFY_WITH_TIMEOUT(diver.activeCopies().isEmpty() && diver.stoppingRecorders() == 0, 15000);
        QCOMPARE(onlyCopy().state, iptv::diver::CopyState::Finished);
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, u"reopen-history"_qs);
        db.setDatabaseName(c.effectiveDatabase());
        QVERIFY(db.open());
        {
            QSqlQuery q(db);
            QVERIFY(q.exec(u"SELECT rule_id, COUNT(*) FROM dvr_history GROUP BY rule_id"_qs));
            int rules = 0;
            while (q.next()) {
                ++rules;
                QCOMPARE(q.value(1).toInt(), 1);
            }
            QCOMPARE(rules, 2);
        }
        db.close();
        db = {};
        QSqlDatabase::removeDatabase(u"reopen-history"_qs);
    }

    // A viewer's recording ends with its copy, its playlist with EXT-X-ENDLIST; then the programme
    // runs over (the guide moves its end) and another viewer records it: the same copy is
    // recorded again, and the first viewer's playlist stays as it ended (RFC 8216 6.2.1: nothing
    // changes after EXT-X-ENDLIST), its figures and segments too; the second viewer's lists the
    // whole copy, growing.
    void endedPlaylistStaysWhenItsCopyIsRecordedAgain()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"reopenended"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now - 20, now + 6, u"Final"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        const QJsonObject final{{u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 20}};
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, a, final).status, 201);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).size(), 1, 10000);
        const QString idA = QString::number(recordingsOf(port, a).at(0).toObject().value(u"id"_qs).toInteger());
        const QString playA = u"/play/"_qs + idA + u"/index.m3u8"_qs;
        QTRY_COMPARE_WITH_TIMEOUT(recordingOf(port, a, idA).value(u"state"_qs).toString(), u"finished"_qs, 30000);
        QTRY_VERIFY_WITH_TIMEOUT(diver.activeCopies().isEmpty() && diver.stoppingRecorders() == 0, 15000);
        const HttpResult ended = call("GET", port, playA, a);
        const auto vodA = iptv::media::checkMediaPlaylist(ended.body);
        QVERIFY2(vodA.ok && vodA.ended && vodA.segments.size() >= 3, ended.body.constData());
        const QJsonObject finishedA = recordingOf(port, a, idA);

        // Extra time: the guide says the programme runs on, and another box records it.
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now - 20, now + 600, u"Final"_qs, {}}}));
        QTRY_VERIFY_WITH_TIMEOUT(call("POST", port, u"/api/recordings"_qs, b, final).status == 201, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, b).size(), 1, 10000);
        const QString idB = QString::number(recordingsOf(port, b).at(0).toObject().value(u"id"_qs).toInteger());
        QTRY_VERIFY_WITH_TIMEOUT(recordingOf(port, b, idB).value(u"segments"_qs).toInt() >= int(vodA.segments.size()) + 3, 30000);
        const auto growingB = iptv::media::checkMediaPlaylist(call("GET", port, u"/play/"_qs + idB + u"/index.m3u8"_qs, b).body);
        QVERIFY2(growingB.ok && !growingB.ended && growingB.segments.size() > vodA.segments.size(),
                 qPrintable(growingB.problems.join(u"; "_qs)));

        // The first viewer's: the same text, the same figures, finished; a segment of the copy
        // recorded after it ended is not its.
        const HttpResult again = call("GET", port, playA, a);
        QCOMPARE(again.status, 200);
        QVERIFY2(again.body == ended.body, qPrintable(u"was\n%1\nis now\n%2"_qs.arg(QString::fromUtf8(ended.body), QString::fromUtf8(again.body))));
        const QJsonObject nowA = recordingOf(port, a, idA);
        QCOMPARE(nowA.value(u"state"_qs).toString(), u"finished"_qs);
        QCOMPARE(nowA.value(u"segments"_qs).toInt(), finishedA.value(u"segments"_qs).toInt());
        QCOMPARE(nowA.value(u"bytes"_qs).toInteger(), finishedA.value(u"bytes"_qs).toInteger());
        const QString later = growingB.segments.last().uri;
        QCOMPARE(call("GET", port, u"/play/"_qs + idA + u'/' + later, a).status, 404);
        QCOMPARE(call("GET", port, u"/play/"_qs + idB + u'/' + later, b).status, 200);
    }

    // A copy that cannot start (the lineup names no stream for the channel yet) is tried again
    // until its end, the viewer told once; when the stream is there, it records.
    void copyThatCannotStartIsTriedAgain()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"retry"_qs);
        const QList<Airing> airings = {{u"one"_qs, now - 20, now + 3600, u"Late Stream"_qs, {}}};
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, 0, airings));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs);
        QSignalSpy events(&diver, &DiverServer::event);
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 20}}).status, 201);
        auto copyReason = [&]() {
            const auto copies = diver.recordings().copies(&error);
            return copies && copies->size() == 1 && copies->at(0).state == iptv::diver::CopyState::Recording ? copies->at(0).reason
                                                                                                                 : QStringLiteral("(not recording)");
        };
        QTRY_VERIFY_WITH_TIMEOUT(copyReason().contains(u"does not start"), 10000);
        QVERIFY2(copyReason().contains(u"no stream URL"), qPrintable(copyReason()));
        QTRY_VERIFY_WITH_TIMEOUT(std::any_of(events.cbegin(), events.cend(),
                                             [](const QList<QVariant> &e) {
                                                 return e.at(0).toJsonObject().value(u"type"_qs).toString() == u"gap"_qs;
                                             }),
                                 10000);
        QCOMPARE(diver.activeCopies().size(), 0);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), airings)); // the lineup has it now
        QTRY_VERIFY_WITH_TIMEOUT(!recordingsOf(port, a).isEmpty() && recordingsOf(port, a).at(0).toObject().value(u"segments"_qs).toInt() >= 1,
                                 40000);
        QCOMPARE(recordingsOf(port, a).at(0).toObject().value(u"state"_qs).toString(), u"recording"_qs);
        int gaps = 0;
        for (const QList<QVariant> &e : std::as_const(events))
            gaps += e.at(0).toJsonObject().value(u"type"_qs).toString() == u"gap"_qs ? 1 : 0;
        QCOMPARE(gaps, 1); // told once, not at every try
    }

    // Keep-N (replace the oldest) counts the episodes kept: a copy that failed or holds nothing
    // (its source down) is not one, and never pushes a good older episode out.
    void keepEpisodesCountsOnlyWhatWasRecorded()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"keepn"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now + 3600, now + 5400, u"Other"_qs, {}}}));
        QVERIFY(QDir().mkpath(c.dataDir));
        QString error;
        qint64 ruleId = 0;
        {
            iptv::dvr::RuleStore rules;
            QVERIFY2(rules.open(c.effectiveDatabase(), &error), qPrintable(error));
            iptv::dvr::RecordingRule rule;
            rule.kind = iptv::dvr::RuleKind::Title;
            rule.owner = u"STB-A"_qs;
            rule.title = u"Serial"_qs;
            rule.keep = 1;
            rule.keepPolicy = iptv::dvr::KeepPolicy::ReplaceOldest;
            QVERIFY2(rules.save(&rule, &error), qPrintable(error));
            ruleId = rule.id;
            iptv::diver::RecordingStore store;
            QVERIFY2(store.open(c.effectiveDatabase(), &error), qPrintable(error));
            // Episodes a week, two and three days ago: good, good, and one whose source was down.
            const struct { qint64 daysAgo; iptv::diver::CopyState state; qint64 segments; } episodes[] = {
                {7, iptv::diver::CopyState::Finished, 3}, {3, iptv::diver::CopyState::Finished, 3}, {2, iptv::diver::CopyState::Failed, 0}};
            for (const auto &e : episodes) {
                const qint64 start = now - e.daysAgo * 86400;
                iptv::diver::CopyRow copy;
                copy.channelId = u"one"_qs;
                copy.airingStart = copy.recordStart = start;
                copy.recordStop = start + 1800;
                copy.directory = QDir(c.dataDir).filePath(u"recordings/one/"_qs + QString::number(start));
                QVERIFY(QDir().mkpath(copy.directory));
                copy.state = e.state;
                copy.segments = e.segments;
                const auto copyId = store.insertCopy(copy, &error);
                QVERIFY2(copyId, qPrintable(error));
                QVERIFY2(store.updateCopy([&] { auto r = copy; r.id = *copyId; return r; }(), &error), qPrintable(error));
                iptv::diver::RecordingRow r;
                r.owner = u"STB-A"_qs;
                r.ruleId = ruleId;
                r.channelId = u"one"_qs;
                r.title = u"Serial"_qs;
                r.airingStart = r.recordStart = start;
                r.airingStop = r.recordStop = start + 1800;
                r.copyId = *copyId;
                r.created = start;
                QVERIFY2(store.insertRecording(r, &error).value_or(0) > 0, qPrintable(error));
            }
        }
        DiverServer diver(c);
        QVERIFY2(diver.start(&error), qPrintable(error));
        const QByteArray a = ticket(u"STB-A"_qs);
        // The week-old episode goes (keep 1: the newest good one stays); the failed one stays, for
        // the viewer to see what was not recorded and why.
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(diver.httpPort(), a).size(), 2, 15000);
        QSet<qint64> starts;
        for (const QJsonValue &r : recordingsOf(diver.httpPort(), a))
            starts.insert(r.toObject().value(u"start"_qs).toInteger());
        QCOMPARE(starts, (QSet<qint64>{now - 3 * 86400, now - 2 * 86400}));
        // Its folder goes after its last recording's row (RecordingStore::deleteRecording), the others' stay.
        const auto folderOf = [&](qint64 daysAgo) {
            return QDir(c.dataDir).filePath(u"recordings/one/"_qs + QString::number(now - daysAgo * 86400));
        };
        QTRY_VERIFY_WITH_TIMEOUT(!QFileInfo::exists(folderOf(7)), 5000);
        QVERIFY(QFileInfo::exists(folderOf(3)) && QFileInfo::exists(folderOf(2)));
    }

    // Retention is per viewer: A's keep-1 series rule removes A's older episode even though B
    // recorded the same airing; B keeps it, and so does the copy (its folder) for B.
    void keepEpisodesPerViewer()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"keepnshared"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now + 3600, now + 5400, u"Other"_qs, {}}}));
        QVERIFY(QDir().mkpath(c.dataDir));
        QString error;
        QList<qint64> recordingsOfA, recordingsOfB;
        {
            iptv::dvr::RuleStore rules;
            QVERIFY2(rules.open(c.effectiveDatabase(), &error), qPrintable(error));
            auto [keepOne, keepAll] = serialRules();
            QVERIFY2(rules.save(&keepOne, &error), qPrintable(error));
            QVERIFY2(rules.save(&keepAll, &error), qPrintable(error));
            iptv::diver::RecordingStore store;
            QVERIFY2(store.open(c.effectiveDatabase(), &error), qPrintable(error));
            for (const qint64 daysAgo : {7, 3}) {
                const qint64 start = now - daysAgo * 86400;
                iptv::diver::CopyRow copy;
                copy.channelId = u"one"_qs;
                copy.airingStart = copy.recordStart = start;
                copy.recordStop = start + 1800;
                copy.directory = QDir(c.dataDir).filePath(u"recordings/one/"_qs + QString::number(start));
                QVERIFY(QDir().mkpath(copy.directory));
                copy.state = iptv::diver::CopyState::Finished;
                copy.segments = 3;
                const auto copyId = store.insertCopy(copy, &error);
                QVERIFY2(copyId, qPrintable(error));
                QVERIFY2(store.updateCopy([&] { auto r = copy; r.id = *copyId; return r; }(), &error), qPrintable(error));
                for (const iptv::dvr::RecordingRule *rule : {&keepOne, &keepAll}) {
                    iptv::diver::RecordingRow r;
                    r.owner = rule->owner;
                    r.ruleId = rule->id;
                    r.channelId = u"one"_qs;
                    r.title = u"Serial"_qs;
                    r.airingStart = r.recordStart = start;
                    r.airingStop = r.recordStop = start + 1800;
                    r.copyId = *copyId;
                    r.created = start;
                    const auto id = store.insertRecording(r, &error);
                    QVERIFY2(id.value_or(0) > 0, qPrintable(error));
                    (rule == &keepOne ? recordingsOfA : recordingsOfB).append(*id);
                }
            }
        }
        DiverServer diver(c);
        QSignalSpy events(&diver, &DiverServer::event);
        QVERIFY2(diver.start(&error), qPrintable(error));
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(diver.httpPort(), a).size(), 1, 15000);
        QCOMPARE(recordingsOf(diver.httpPort(), a).at(0).toObject().value(u"start"_qs).toInteger(), now - 3 * 86400);
        // A was told, with the reason; B was not.
        bool told = false;
        for (const QList<QVariant> &e : std::as_const(events)) {
            const QJsonObject m = e.at(0).toJsonObject();
            if (m.value(u"type"_qs) == u"deleted"_qs) {
                QCOMPARE(e.at(1).toString(), u"STB-A"_qs);
                QCOMPARE(m.value(u"id"_qs).toInteger(), recordingsOfA.at(0));
                QCOMPARE(m.value(u"reason"_qs).toString(), u"retention"_qs);
                told = true;
            }
        }
        QVERIFY(told);
        const QJsonArray ofB = recordingsOf(diver.httpPort(), b);
        QCOMPARE(ofB.size(), 2);
        const QString older = QDir(c.dataDir).filePath(u"recordings/one/"_qs + QString::number(now - 7 * 86400));
        QVERIFY2(QFileInfo::exists(older), "the copy B still has was deleted");
        // B's recording of it plays its copy still.
        const HttpResult play = call("GET", diver.httpPort(), u"/api/recordings/"_qs + QString::number(recordingsOfB.at(0)), b);
        QCOMPARE(play.status, 200);
        QCOMPARE(play.json().value(u"state"_qs).toString(), u"finished"_qs);
    }

    // keep-until: a viewer's recording past it is deleted for that viewer only (the copy stays
    // for the other); a kept one too (kept protects from keep-N and space, not from an explicit
    // keep-until), and its copy's folder with it when it was the last in it. The API refuses a
    // keep-until in the past and shows the one set.
    void keepUntilExpiresPerViewer()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"keepuntil"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now + 3600, now + 5400, u"Other"_qs, {}}}));
        QVERIFY(QDir().mkpath(c.dataDir));
        QString error;
        qint64 sharedOfA = 0, sharedOfB = 0, aloneOfA = 0;
        const qint64 sharedStart = now - 2 * 86400, aloneStart = now - 86400;
        const auto folderOf = [&](qint64 start) { return QDir(c.dataDir).filePath(u"recordings/one/"_qs + QString::number(start)); };
        {
            iptv::diver::RecordingStore store;
            QVERIFY2(store.open(c.effectiveDatabase(), &error), qPrintable(error));
            const auto copyAt = [&](qint64 start) -> qint64 {
                iptv::diver::CopyRow copy;
                copy.channelId = u"one"_qs;
                copy.airingStart = copy.recordStart = start;
                copy.recordStop = start + 1800;
                copy.directory = folderOf(start);
                QDir().mkpath(copy.directory);
                copy.state = iptv::diver::CopyState::Finished;
                copy.segments = 3;
                const auto id = store.insertCopy(copy, &error);
                if (!id)
                    return 0;
                copy.id = *id;
                return store.updateCopy(copy, &error) ? *id : 0;
            };
            const auto recordingOf = [&](const QString &owner, qint64 copyId, qint64 start, qint64 keepUntil, bool kept) -> qint64 {
                iptv::diver::RecordingRow r;
                r.owner = owner;
                r.ruleId = 1;
                r.channelId = u"one"_qs;
                r.title = u"Film"_qs;
                r.airingStart = r.recordStart = start;
                r.airingStop = r.recordStop = start + 1800;
                r.copyId = copyId;
                r.created = start;
                r.kept = kept;
                r.keepUntil = keepUntil;
                return store.insertRecording(r, &error).value_or(0);
            };
            const qint64 shared = copyAt(sharedStart), alone = copyAt(aloneStart);
            QVERIFY2(shared > 0 && alone > 0, qPrintable(error));
            sharedOfA = recordingOf(u"STB-A"_qs, shared, sharedStart, now - 3600, false);
            sharedOfB = recordingOf(u"STB-B"_qs, shared, sharedStart, 0, false);
            aloneOfA = recordingOf(u"STB-A"_qs, alone, aloneStart, now - 60, true);
            QVERIFY2(sharedOfA > 0 && sharedOfB > 0 && aloneOfA > 0, qPrintable(error));
            // The column reads back as written (and is there in a store opened again).
            const auto row = store.recording(sharedOfA, &error);
            QVERIFY2(row, qPrintable(error));
            QCOMPARE(row->keepUntil, now - 3600);
        }
        DiverServer diver(c);
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).size(), 0, 15000);
        const QJsonArray ofB = recordingsOf(port, b);
        QCOMPARE(ofB.size(), 1);
        QCOMPARE(ofB.at(0).toObject().value(u"id"_qs).toInteger(), sharedOfB);
        QCOMPARE(ofB.at(0).toObject().value(u"keepUntil"_qs).toInteger(), 0);
        QVERIFY2(QFileInfo::exists(folderOf(sharedStart)), "the copy B still has was deleted");
        QTRY_VERIFY_WITH_TIMEOUT(!QFileInfo::exists(folderOf(aloneStart)), 5000);

        // Through the API: a time in the past is refused with the reason, nothing changed.
        const QString path = u"/api/recordings/"_qs + QString::number(sharedOfB);
        const HttpResult past = call("PUT", port, path, b, {{u"keepUntil"_qs, now - 10}});
        QCOMPARE(past.status, 400);
        QVERIFY2(past.body.contains("has passed"), past.body.constData());
        QCOMPARE(call("GET", port, path, b).json().value(u"keepUntil"_qs).toInteger(), 0);
        const HttpResult wrong = call("PUT", port, path, b, {{u"keepUntil"_qs, u"tomorrow"_qs}});
        QCOMPARE(wrong.status, 400);
        // A time to come is kept and shown; null takes it back.
        const HttpResult later = call("PUT", port, path, b, {{u"keepUntil"_qs, now + 86400}});
        QVERIFY2(later.status == 200, later.body.constData());
        QCOMPARE(later.json().value(u"keepUntil"_qs).toInteger(), now + 86400);
        QCOMPARE(call("GET", port, path, b).json().value(u"keepUntil"_qs).toInteger(), now + 86400);
        const HttpResult cleared = call("PUT", port, path, b, {{u"keepUntil"_qs, QJsonValue::Null}});
        QVERIFY2(cleared.status == 200, cleared.body.constData());
        QCOMPARE(cleared.json().value(u"keepUntil"_qs).toInteger(), 0);
        // Another viewer may not set it.
        QCOMPARE(call("PUT", port, path, a, {{u"keepUntil"_qs, now + 86400}}).status, 404);
    }

    // Keep-N and keep-until on an archived channel, whose recordings are ranges of the archive
    // (no copy of their own): the viewer's row goes; the archive's chunk stays while another
    // viewer's range or the catch-up window holds it, and goes once nothing does.
    void retentionOfArchivedRanges()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"archkeep"_qs);
        c.archivedChannels = {u"two"_qs};
        c.archiveHours = 72; // the chunk of two days ago is inside the window; older ones past it
        QVERIFY(writeGuide(c.guideFile, {u"two"_qs}, m_recast->port(), {{u"two"_qs, now - 60, now + 3600, u"Live"_qs, {}}}));
        QVERIFY(QDir().mkpath(c.dataDir));
        const QString archive = QDir(c.dataDir).filePath(u"storage/archive/two"_qs);
        // One second of the archive ten minutes into an hour some days ago: each in its own chunk.
        const auto at = [&](double daysAgo) { return (now - qint64(daysAgo * 86400)) / 3600 * 3600 + 600; };
        const auto chunkOf = [&](qint64 t) {
            return QDir(archive).filePath(iptv::dvr::ArchiveWriter::chunkName(t * 1000 / 3600000 * 3600000));
        };
        const qint64 e0 = at(6), e1 = at(5), v = at(4.5), e2 = at(4), w = at(3.5), u = at(2);
        QByteArray ts;
        for (int i = 0; i < 10; ++i)
            ts += QByteArray(1, char(0x47)) + QByteArray(187, char(i));
        QString error;
        {
            iptv::dvr::ArchiveWriter writer;
            QVERIFY2(writer.open({archive, 3600 * 1000, 0}, &error), qPrintable(error));
            for (const qint64 t : {e0, e1, v, e2, w, u}) {
                iptv::dvr::StorageError written;
                QVERIFY2(writer.writeSegment(ts, t * 1000, 1000, true, &written), qPrintable(written.toString()));
            }
        }
        for (const qint64 t : {e0, e1, v, e2, w, u})
            QVERIFY2(QFileInfo(chunkOf(t)).isDir(), qPrintable(chunkOf(t)));
        QHash<QString, qint64> idOf; ///< "<owner>@<start>"
        {
            iptv::dvr::RuleStore rules;
            QVERIFY2(rules.open(c.effectiveDatabase(), &error), qPrintable(error));
            auto [keepOne, keepAll] = serialRules();
            QVERIFY2(rules.save(&keepOne, &error), qPrintable(error));
            QVERIFY2(rules.save(&keepAll, &error), qPrintable(error));
            iptv::diver::RecordingStore store;
            QVERIFY2(store.open(c.effectiveDatabase(), &error), qPrintable(error));
            const auto insert = [&](const QString &owner, qint64 ruleId, qint64 start, qint64 keepUntil, bool kept) {
                iptv::diver::RecordingRow r;
                r.owner = owner;
                r.ruleId = ruleId;
                r.channelId = u"two"_qs;
                r.title = ruleId == 0 ? u"Film"_qs : u"Serial"_qs;
                r.airingStart = r.recordStart = start;
                r.airingStop = r.recordStop = start + 1;
                r.created = start;
                r.keepUntil = keepUntil;
                r.kept = kept;
                const auto id = store.insertRecording(r, &error);
                idOf.insert(owner + u'@' + QString::number(start), id.value_or(0));
                return id.has_value();
            };
            // A's series keeps its newest episode (e2); B's keeps all, and B recorded e1 too.
            for (const qint64 t : {e0, e1, e2})
                QVERIFY2(insert(u"STB-A"_qs, keepOne.id, t, 0, false), qPrintable(error));
            QVERIFY2(insert(u"STB-B"_qs, keepAll.id, e1, 0, false), qPrintable(error));
            // Keep-until passed: A's film v (B recorded it too, without one), w (A's alone), and
            // u (kept, but a keep-until is what the viewer asked for; inside the window).
            QVERIFY2(insert(u"STB-A"_qs, 0, v, now - 3600, false), qPrintable(error));
            QVERIFY2(insert(u"STB-B"_qs, 0, v, 0, false), qPrintable(error));
            QVERIFY2(insert(u"STB-A"_qs, 0, w, now - 60, false), qPrintable(error));
            QVERIFY2(insert(u"STB-A"_qs, 0, u, now - 60, true), qPrintable(error));
        }
        DiverServer diver(c);
        QSignalSpy events(&diver, &DiverServer::event);
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        const auto startsOf = [&](const QByteArray &viewer) {
            QSet<qint64> starts;
            for (const QJsonValue &r : recordingsOf(port, viewer))
                starts.insert(r.toObject().value(u"start"_qs).toInteger());
            return starts;
        };
        QTRY_COMPARE_WITH_TIMEOUT(startsOf(a), QSet<qint64>{e2}, 15000);
        QCOMPARE(startsOf(b), (QSet<qint64>{e1, v}));
        // A was told of each, with the reason.
        QSet<qint64> told;
        for (const QList<QVariant> &e : std::as_const(events)) {
            const QJsonObject m = e.at(0).toJsonObject();
            if (m.value(u"type"_qs) == u"deleted"_qs) {
                QCOMPARE(e.at(1).toString(), u"STB-A"_qs);
                QCOMPARE(m.value(u"reason"_qs).toString(), u"retention"_qs);
                told.insert(m.value(u"id"_qs).toInteger());
            }
        }
        QCOMPARE(told, (QSet<qint64>{idOf.value(u"STB-A@%1"_qs.arg(e0)), idOf.value(u"STB-A@%1"_qs.arg(e1)),
                                     idOf.value(u"STB-A@%1"_qs.arg(v)), idOf.value(u"STB-A@%1"_qs.arg(w)),
                                     idOf.value(u"STB-A@%1"_qs.arg(u))}));
        // What no one's range holds past the window goes; B's ranges, A's newest episode and the
        // window's chunk stay.
        QTRY_VERIFY_WITH_TIMEOUT(!QFileInfo::exists(chunkOf(e0)) && !QFileInfo::exists(chunkOf(w)), 45000);
        for (const qint64 t : {e1, v, e2, u})
            QVERIFY2(QFileInfo(chunkOf(t)).isDir(), qPrintable(chunkOf(t)));
        // B's range of e1 plays still, from the archive.
        const QString ofB = QString::number(idOf.value(u"STB-B@%1"_qs.arg(e1)));
        const HttpResult played = call("GET", port, u"/play/"_qs + ofB + u"/index.m3u8"_qs, b);
        QVERIFY2(played.status == 200 && played.body.contains(".ts"), played.body.constData());

        // B deletes its recordings: their chunks go with the next sweep (past the window), the
        // window's and A's newest episode's stay.
        for (const qint64 t : {e1, v})
            QCOMPARE(call("DELETE", port, u"/api/recordings/"_qs + QString::number(idOf.value(u"STB-B@%1"_qs.arg(t))), b).status, 204);
        QTRY_VERIFY_WITH_TIMEOUT(!QFileInfo::exists(chunkOf(e1)) && !QFileInfo::exists(chunkOf(v)), 45000);
        QVERIFY(QFileInfo(chunkOf(e2)).isDir());
        QVERIFY(QFileInfo(chunkOf(u)).isDir());
        QCOMPARE(startsOf(a), QSet<qint64>{e2});
    }

    // Two of a viewer's rules planning one airing (a single recording, then a series by title):
    // one recording of it in the viewer's library, not two rows of the same minutes.
    void oneRecordingOfAnAiringPerViewer()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"twice"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now - 20, now + 3600, u"Quiz"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs);
        const HttpResult single =
            call("POST", port, u"/api/recordings"_qs, a, {{u"kind"_qs, u"single"_qs}, {u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 20}});
        QVERIFY2(single.status == 201, single.body.constData());
        diver.reconcile();
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).size(), 1, 10000);
        const QJsonObject first = recordingsOf(port, a).at(0).toObject();
        const HttpResult series = call("POST", port, u"/api/rules"_qs, a, {{u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Quiz"_qs}});
        QVERIFY2(series.status == 201, series.body.constData());
        diver.reconcile();
        const QJsonArray mine = recordingsOf(port, a);
        QCOMPARE(mine.size(), 1);
        QCOMPARE(mine.at(0).toObject().value(u"id"_qs), first.value(u"id"_qs));
        // Deleted, it stays deleted: the series does not make it again.
        QCOMPARE(call("DELETE", port, u"/api/recordings/"_qs + QString::number(first.value(u"id"_qs).toInteger()), a).status, 204);
        diver.reconcile();
        QCOMPARE(recordingsOf(port, a).size(), 0);
    }

    // A recording deleted while it records has its airing skipped first, and is deleted only
    // then: a skip the database refuses leaves the recording as it was (500), not deleted and
    // made again a second later. One deleted by another node (its airing skipped, then its row
    // deleted) that this node has not heard of yet is not made again here either.
    void deleteWhileRecordingSkipsFirst()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"deleting"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now - 20, now + 3600, u"Debate"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        const QJsonObject debate{{u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 20}};
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, a, debate).status, 201);
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, b, debate).status, 201);
        QTRY_VERIFY_WITH_TIMEOUT(recordingsOf(port, a).size() == 1 && recordingsOf(port, b).size() == 1, 10000);
        const QString idA = QString::number(recordingsOf(port, a).at(0).toObject().value(u"id"_qs).toInteger());

        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, u"deleting"_qs);
        const auto closeDb = qScopeGuard([&db] {
            db.close();
            db = {};
            QSqlDatabase::removeDatabase(u"deleting"_qs);
        });
        db.setDatabaseName(c.effectiveDatabase());
        QVERIFY(db.open());
        QSqlQuery q(db);
        QVERIFY2(q.exec(u"CREATE TRIGGER refuse_skips BEFORE INSERT ON dvr_cancelled BEGIN SELECT RAISE(ABORT, 'skips refused'); END"_qs),
                 qPrintable(q.lastError().text()));
        const HttpResult refused = call("DELETE", port, u"/api/recordings/"_qs + idA, a);
        QVERIFY2(refused.status == 500 && refused.json().value(u"detail"_qs).toString().contains(u"is not deleted"), refused.body.constData());
        diver.reconcile();
        QCOMPARE(call("GET", port, u"/api/recordings/"_qs + idA, a).status, 200);
        QCOMPARE(recordingOf(port, a, idA).value(u"state"_qs).toString(), u"recording"_qs);
        QVERIFY2(q.exec(u"DROP TRIGGER refuse_skips"_qs), qPrintable(q.lastError().text()));
        QCOMPARE(call("DELETE", port, u"/api/recordings/"_qs + idA, a).status, 204);
        diver.reconcile();
        QVERIFY(recordingsOf(port, a).isEmpty());

        // Another node deletes B's: the skip, then the row, neither announced to this node.
        const auto rowB = diver.recordings().recording(recordingsOf(port, b).at(0).toObject().value(u"id"_qs).toInteger(), &error);
        QVERIFY2(rowB, qPrintable(error));
        q.prepare(u"INSERT INTO dvr_cancelled (rule_id, channel_id, start, stop) VALUES (?, ?, ?, ?)"_qs);
        q.addBindValue(rowB->ruleId);
        q.addBindValue(rowB->channelId);
        q.addBindValue(rowB->airingStart);
        q.addBindValue(rowB->airingStop);
        QVERIFY2(q.exec(), qPrintable(q.lastError().text()));
        q.prepare(u"DELETE FROM dvr_recordings WHERE id = ?"_qs);
        q.addBindValue(rowB->id);
        QVERIFY2(q.exec() && q.numRowsAffected() == 1, qPrintable(q.lastError().text()));
        diver.reconcile();
        QVERIFY(recordingsOf(port, b).isEmpty());
    }

    // A recording stopped while it records has its airing skipped first, and is stopped only
    // then (as a delete is): a skip the database refuses leaves it recording (500), not stopped
    // with its rule free to record the airing again; a stop the database refuses takes the skip
    // back. Stopped, the skip row is there.
    void stopWhileRecordingSkipsFirst()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"stopping"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now - 20, now + 3600, u"Match"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs);
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 20}}).status, 201);
        QTRY_VERIFY_WITH_TIMEOUT(recordingsOf(port, a).size() == 1, 10000);
        const QString id = QString::number(recordingsOf(port, a).at(0).toObject().value(u"id"_qs).toInteger());
        const QString stopPath = u"/api/recordings/"_qs + id + u"/stop"_qs;

        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, u"stopping"_qs);
        const auto closeDb = qScopeGuard([&db] {
            db.close();
            db = {};
            QSqlDatabase::removeDatabase(u"stopping"_qs);
        });
        db.setDatabaseName(c.effectiveDatabase());
        QVERIFY(db.open());
        QSqlQuery q(db);
        const auto skips = [&q]() -> int {
            if (!q.exec(u"SELECT COUNT(*) FROM dvr_cancelled"_qs) || !q.next())
                return -1;
            return q.value(0).toInt();
        };
        QCOMPARE(skips(), 0);

        QVERIFY2(q.exec(u"CREATE TRIGGER refuse_skips BEFORE INSERT ON dvr_cancelled BEGIN SELECT RAISE(ABORT, 'skips refused'); END"_qs),
                 qPrintable(q.lastError().text()));
        const HttpResult noSkip = call("POST", port, stopPath, a);
        QVERIFY2(noSkip.status == 500 && noSkip.json().value(u"detail"_qs).toString().contains(u"is not stopped"), noSkip.body.constData());
        diver.reconcile();
        QCOMPARE(recordingOf(port, a, id).value(u"state"_qs).toString(), u"recording"_qs);
        QVERIFY2(q.exec(u"DROP TRIGGER refuse_skips"_qs), qPrintable(q.lastError().text()));

        QVERIFY2(q.exec(u"CREATE TRIGGER refuse_stops BEFORE UPDATE OF stopped ON dvr_recordings WHEN NEW.stopped != 0 "
                        "BEGIN SELECT RAISE(ABORT, 'stops refused'); END"_qs),
                 qPrintable(q.lastError().text()));
        const HttpResult noStop = call("POST", port, stopPath, a);
        QVERIFY2(noStop.status == 500 && noStop.json().value(u"detail"_qs).toString().contains(u"stops refused"), noStop.body.constData());
        QCOMPARE(skips(), 0); // taken back: the recording goes on, and its rule would plan it
        diver.reconcile();
        QCOMPARE(recordingOf(port, a, id).value(u"state"_qs).toString(), u"recording"_qs);
        QVERIFY2(q.exec(u"DROP TRIGGER refuse_stops"_qs), qPrintable(q.lastError().text()));

        const HttpResult stopped = call("POST", port, stopPath, a);
        QVERIFY2(stopped.status == 200, stopped.body.constData());
        QCOMPARE(stopped.json().value(u"state"_qs).toString(), u"finished"_qs);
        QCOMPARE(skips(), 1);
        diver.reconcile();
        QCOMPARE(recordingsOf(port, a).size(), 1);
    }

    // Retention expires a recording's row before it deletes the archive chunks only its range
    // held: a row that stays (here the database refuses its delete; on another node a viewer
    // kept it meanwhile) keeps its chunks, while the chunks nothing references go.
    void expiryThatFailsKeepsTheChunks()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"expiry"_qs);
        c.archiveHours = 1;
        c.archiveStaleSeconds = 5;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now + 3600, now + 7200, u"Later"_qs, {}}}));
        // A closed archive of channel one (archived no more): an hour held by a recording whose
        // keep-until has passed, and an older one nothing references; both past the window.
        const qint64 heldMs = (now - 3 * 3600) / 3600 * 3600 * 1000, olderMs = heldMs - 3600 * 1000;
        const QString archive = QDir(c.dataDir).filePath(u"storage/archive/one"_qs);
        QVERIFY(QDir().mkpath(archive));
        QString error;
        {
            QTemporaryDir written;
            iptv::dvr::ArchiveWriter writer;
            QVERIFY2(writer.open({written.path(), 3600 * 1000, 0}, &error), qPrintable(error));
            iptv::dvr::StorageError e;
            for (const qint64 at : {olderMs, heldMs})
                QVERIFY2(writer.writeSegment(QByteArray(188 * 10, '\0'), at + 60000, 6000, false, &e), qPrintable(e.toString()));
            for (const qint64 at : {olderMs, heldMs}) {
                const QString chunk = iptv::dvr::ArchiveWriter::chunkName(at);
                QVERIFY(QDir().rename(QDir(written.path()).filePath(chunk), QDir(archive).filePath(chunk)));
            }
        }
        const QString held = QDir(archive).filePath(iptv::dvr::ArchiveWriter::chunkName(heldMs));
        const QString older = QDir(archive).filePath(iptv::dvr::ArchiveWriter::chunkName(olderMs));
        {
            iptv::diver::RecordingStore store;
            QVERIFY2(store.open(c.effectiveDatabase(), &error), qPrintable(error));
            iptv::diver::RecordingRow r;
            r.owner = u"STB-E"_qs;
            r.channelId = u"one"_qs;
            r.title = u"Expired"_qs;
            r.airingStart = r.recordStart = heldMs / 1000 + 60;
            r.airingStop = r.recordStop = heldMs / 1000 + 66;
            r.created = now - 4 * 3600;
            r.keepUntil = now - 60;
            QVERIFY2(store.insertRecording(r, &error).value_or(0) > 0, qPrintable(error));
        }
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, u"expiry"_qs);
        const auto closeDb = qScopeGuard([&db] {
            db.close();
            db = {};
            QSqlDatabase::removeDatabase(u"expiry"_qs);
        });
        db.setDatabaseName(c.effectiveDatabase());
        QVERIFY(db.open());
        QSqlQuery q(db);
        QVERIFY2(q.exec(u"CREATE TRIGGER keep_rows BEFORE DELETE ON dvr_recordings BEGIN SELECT RAISE(ABORT, 'rows kept'); END"_qs),
                 qPrintable(q.lastError().text()));

        DiverServer diver(c); // sweeps at the start
        QVERIFY2(diver.start(&error), qPrintable(error));
        QTRY_VERIFY_WITH_TIMEOUT(!QFileInfo::exists(older), 10000);
        QCOMPARE(diver.recordings().recordings(&error, u"STB-E"_qs)->size(), 1);
        QVERIFY(QFileInfo::exists(held));
    }

    // Retention for space runs on a recorder's thread from a snapshot of the recordings up to a
    // sweep old: a keep-until the viewer moved later since is not taken as passed there, and the
    // chunks the recording's range is in stay (only a sweep, from the rows, expires recordings).
    void spaceRecoveryTakesNoExpiryFromItsSnapshot()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"space"_qs);
        c.archiveHours = 1;
        c.archiveStaleSeconds = 5;
        c.minFreeBytes = 1; // the recorder's disk (made full below) asks retention for space
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(), {{u"two"_qs, now - 20, now + 3600, u"Busy"_qs, {}}}));
        // A closed archive of channel one whose one chunk, past the window, a recording's range holds.
        const qint64 heldMs = (now - 3 * 3600) / 3600 * 3600 * 1000;
        const QString archive = QDir(c.dataDir).filePath(u"storage/archive/one"_qs);
        const QString held = QDir(archive).filePath(iptv::dvr::ArchiveWriter::chunkName(heldMs));
        QVERIFY(QDir().mkpath(archive));
        QString error;
        {
            QTemporaryDir written;
            iptv::dvr::ArchiveWriter writer;
            QVERIFY2(writer.open({written.path(), 3600 * 1000, 0}, &error), qPrintable(error));
            iptv::dvr::StorageError e;
            QVERIFY2(writer.writeSegment(QByteArray(188 * 10, '\0'), heldMs + 60000, 6000, false, &e), qPrintable(e.toString()));
            QVERIFY(QDir().rename(QDir(written.path()).filePath(iptv::dvr::ArchiveWriter::chunkName(heldMs)), held));
        }
        qint64 id = 0;
        {
            iptv::diver::RecordingStore store;
            QVERIFY2(store.open(c.effectiveDatabase(), &error), qPrintable(error));
            iptv::diver::RecordingRow r;
            r.owner = u"STB-S"_qs;
            r.channelId = u"one"_qs;
            r.title = u"Kept Longer"_qs;
            r.airingStart = r.recordStart = heldMs / 1000 + 60;
            r.airingStop = r.recordStop = heldMs / 1000 + 66;
            r.created = now - 4 * 3600;
            r.keepUntil = now + 3; // the snapshot of the first sweep says so
            id = store.insertRecording(r, &error).value_or(0);
            QVERIFY2(id > 0, qPrintable(error));
        }
        DiverServer diver(c);
        diver.setRecorderHook([](iptv::dvr::Recorder &r) { r.setFreeSpace([](const QString &) { return qint64(0); }); });
        QVERIFY2(diver.start(&error), qPrintable(error));
        diver.reconcile(); // the first sweep, its snapshot: the old keep-until
        const quint16 port = diver.httpPort();
        const HttpResult later = call("PUT", port, QStringLiteral("/api/recordings/%1").arg(id), ticket(u"STB-S"_qs),
                                      {{u"keepUntil"_qs, now + 86400}});
        QVERIFY2(later.status == 200, later.body.constData());
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, ticket(u"STB-T"_qs), {{u"channel"_qs, u"two"_qs}, {u"start"_qs, now - 20}}).status,
                 201);
        // The copy's disk is full from its first segment on: retention for space is asked then,
        // and again 10 s later (a disk where it freed nothing), long past the old keep-until.
        const auto copyReason = [&] {
            const auto copies = diver.recordings().copies(&error);
            return copies && copies->size() == 1 ? copies->first().reason : QString();
        };
        QTRY_VERIFY_WITH_TIMEOUT(copyReason().contains(u"retention freed"), 15000);
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentSecsSinceEpoch() > now + 16, 20000);
        QVERIFY(QFileInfo::exists(held));
        QCOMPARE(diver.recordings().recording(id, &error)->keepUntil, now + 86400);
    }

    // One airing of a series skipped: not recorded, in upcoming with reason "cancelled", still so
    // after a restart; taken back, it is planned again. Only the rule's owner may do either.
    void skipOneAiringOfASeries()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"skip"_qs);
        const qint64 at = now + 7200;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(),
                           {{u"one"_qs, at, at + 1800, u"Quiz"_qs, u"1.4."_qs}, {u"one"_qs, at + 3600, at + 5400, u"Quiz"_qs, u"1.5."_qs}}));
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        QString ruleId;
        const QString airing = QStringLiteral("/airings/one/%1").arg(at);
        {
            DiverServer diver(c);
            QString error;
            QVERIFY2(diver.start(&error), qPrintable(error));
            const quint16 port = diver.httpPort();
            const QJsonObject quiz{{u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Quiz"_qs}};
            const QList<std::pair<QByteArray, QByteArray>> once{{"Idempotency-Key", "6d1f0c2e-quiz"}};
            const HttpResult made = call("POST", port, u"/api/rules"_qs, a, quiz, once);
            QVERIFY2(made.status == 201, made.body.constData());
            QCOMPARE(made.json().value(u"planned"_qs).toArray().size(), 2);
            ruleId = QString::number(made.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger());
            // Sent again (the box lost the answer): the same rule, not a second one; another
            // box's key of the same text is its own.
            const HttpResult again = call("POST", port, u"/api/rules"_qs, a, quiz, once);
            QVERIFY2(again.status == 200, again.body.constData());
            QCOMPARE(QString::number(again.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger()), ruleId);
            QCOMPARE(again.json().value(u"planned"_qs).toArray().size(), 2);
            QCOMPARE(call("GET", port, u"/api/rules"_qs, a).json().value(u"rules"_qs).toArray().size(), 1);
            const HttpResult theirs = call("POST", port, u"/api/rules"_qs, b, quiz, once);
            QVERIFY2(theirs.status == 201, theirs.body.constData());
            QVERIFY(QString::number(theirs.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger()) != ruleId);
            QCOMPARE(call("DELETE", port, u"/api/rules/"_qs + QString::number(theirs.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger()), b).status, 204);
            const QString path = u"/api/rules/"_qs + ruleId + airing;

            QCOMPARE(call("PUT", port, path, b, {{u"cancelled"_qs, true}}).status, 404);       // not B's rule
            QCOMPARE(call("PUT", port, path, a, {{u"cancelled"_qs, u"yes"_qs}}).status, 400);
            QCOMPARE(call("PUT", port, path, a, {{u"skip"_qs, true}}).status, 400);
            const HttpResult none = call("PUT", port, u"/api/rules/"_qs + ruleId + u"/airings/one/"_qs + QString::number(at + 60), a,
                                         {{u"cancelled"_qs, true}});
            QCOMPARE(none.status, 404);
            QVERIFY2(none.json().value(u"detail"_qs).toString().contains(u"no airing"), none.body.constData());

            const HttpResult skip = call("PUT", port, path, a, {{u"cancelled"_qs, true}});
            QVERIFY2(skip.status == 200, skip.body.constData());
            QCOMPARE(skip.json().value(u"planned"_qs).toArray().size(), 1);
            QCOMPARE(skip.json().value(u"planned"_qs).toArray().at(0).toObject().value(u"start"_qs).toInteger(), at + 3600);
            const QJsonObject skipped = skip.json().value(u"skipped"_qs).toArray().at(0).toObject();
            QCOMPARE(skipped.value(u"start"_qs).toInteger(), at);
            QCOMPARE(skipped.value(u"reason"_qs).toString(), u"cancelled"_qs);
            QCOMPARE(skipped.value(u"detail"_qs).toString(), u"skipped by the viewer"_qs);
            QCOMPARE(call("PUT", port, path, a, {{u"cancelled"_qs, true}}).status, 200); // again: the same
        }
        // Kept across a restart.
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        QJsonObject up = call("GET", port, u"/api/upcoming"_qs, a).json();
        QCOMPARE(up.value(u"planned"_qs).toArray().size(), 1);
        QCOMPARE(up.value(u"skipped"_qs).toArray().size(), 1);
        QCOMPARE(up.value(u"skipped"_qs).toArray().at(0).toObject().value(u"reason"_qs).toString(), u"cancelled"_qs);
        QCOMPARE(up.value(u"conflicts"_qs).toInt(), 0);

        const HttpResult back = call("PUT", port, u"/api/rules/"_qs + ruleId + airing, a, {{u"cancelled"_qs, false}});
        QVERIFY2(back.status == 200, back.body.constData());
        QCOMPARE(back.json().value(u"planned"_qs).toArray().size(), 2);
        QCOMPARE(back.json().value(u"skipped"_qs).toArray().size(), 0);
        up = call("GET", port, u"/api/upcoming"_qs, a).json();
        QCOMPARE(up.value(u"planned"_qs).toArray().size(), 2);
        QCOMPARE(up.value(u"skipped"_qs).toArray().size(), 0);
    }

    void historyOfAnOlderSchemaIsRecognisedAfterTheUpgrade()
    {
        // A rule database of schema 3 kept its history with keys of Qt's process-seeded qHash:
        // in this process they match nothing. On start the history is upgraded in place and, its
        // airing still in the guide with the same title, its keys are made again from the guide:
        // a rerun of the recorded episode is "already recorded", not recorded again.
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"history3"_qs);
        const qint64 recorded = now / 3600 * 3600 - 3600, rerun = now + 7200; // the guide starts an hour back
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(),
                           {{u"one"_qs, recorded, recorded + 1800, u"Quiz"_qs, u"1.4."_qs},
                            {u"one"_qs, rerun, rerun + 1800, u"Quiz"_qs, u"1.4."_qs}}));
        const QByteArray a = ticket(u"STB-A"_qs);
        qint64 ruleId = 0;
        {
            DiverServer diver(c);
            QString error;
            QVERIFY2(diver.start(&error), qPrintable(error));
            const HttpResult made = call("POST", diver.httpPort(), u"/api/rules"_qs, a,
                                         {{u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Quiz"_qs}});
            QVERIFY2(made.status == 201, made.body.constData());
            QCOMPARE(made.json().value(u"planned"_qs).toArray().size(), 1); // the rerun
            ruleId = made.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger();
        }
        {
            // As a schema 3 diver left it, with the episode recorded by it.
            QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, u"schema3"_qs);
            db.setDatabaseName(c.effectiveDatabase());
            QVERIFY(db.open());
            QSqlQuery q(db);
            for (const QString &sql :
                 {u"ALTER TABLE dvr_history DROP COLUMN subtitle"_qs, u"ALTER TABLE dvr_history DROP COLUMN description"_qs,
                  u"ALTER TABLE dvr_history DROP COLUMN episode_nums"_qs, u"ALTER TABLE dvr_history DROP COLUMN facts"_qs,
                  u"UPDATE meta SET value = '3' WHERE key = 'schema.rules'"_qs,
                  u"INSERT INTO dvr_history (rule_id, title, channel_id, recorded_at, kept, title_key, ids_key, episode_key, "
                  "subtitle_key, description_key, series_key) VALUES (%1, 'Quiz', 'one', %2, 1, 5551212, 0, -7070707, 0, 0, 0)"_qs
                      .arg(ruleId)
                      .arg(recorded),
                  // An episode that aired before the guide's window: no guide will ever have it.
                  u"INSERT INTO dvr_history (rule_id, title, channel_id, recorded_at, kept, title_key, ids_key, episode_key, "
                  "subtitle_key, description_key, series_key) VALUES (%1, 'Quiz', 'one', %2, 1, 5551213, 0, 0, 0, 0, 0)"_qs
                      .arg(ruleId)
                      .arg(recorded - 3 * 86400)})
                QVERIFY2(q.exec(sql), qPrintable(sql + u": "_qs + q.lastError().text()));
        }
        QSqlDatabase::removeDatabase(u"schema3"_qs);
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        {
            // The first row has its facts from the guide; the second is settled with its title
            // key (facts = 2) and not read again on the next guide load.
            QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, u"schema4"_qs);
            db.setDatabaseName(c.effectiveDatabase());
            QVERIFY(db.open());
            QSqlQuery q(db);
            QVERIFY2(q.exec(u"SELECT recorded_at, facts FROM dvr_history ORDER BY recorded_at"_qs), qPrintable(q.lastError().text()));
            QList<std::pair<qint64, int>> rows;
            while (q.next())
                rows.append({q.value(0).toLongLong(), q.value(1).toInt()});
            const QList<std::pair<qint64, int>> expected = {{recorded - 3 * 86400, 2}, {recorded, 1}};
            QCOMPARE(rows, expected);
        }
        QSqlDatabase::removeDatabase(u"schema4"_qs);
        const QJsonObject up = call("GET", diver.httpPort(), u"/api/upcoming"_qs, a).json();
        QVERIFY2(up.value(u"planned"_qs).toArray().isEmpty(), QJsonDocument(up).toJson().constData());
        QCOMPARE(up.value(u"skipped"_qs).toArray().size(), 1);
        const QJsonObject skipped = up.value(u"skipped"_qs).toArray().at(0).toObject();
        QCOMPARE(skipped.value(u"start"_qs).toInteger(), rerun);
        QCOMPARE(skipped.value(u"reason"_qs).toString(), u"already-recorded"_qs);
    }

    void refusalsConflictsAndUpcoming()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"plan"_qs);
        c.capacity = 1;
        const qint64 at = now + 7200;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(),
                           {{u"one"_qs, at, at + 1800, u"Drama"_qs, u"0.3."_qs},
                            {u"two"_qs, at, at + 1800, u"Quiz"_qs, u"1.4."_qs},
                            {u"two"_qs, at + 7200, at + 9000, u"Quiz"_qs, u"1.4."_qs},
                            {u"one"_qs, now - 1800, now - 600, u"Old"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);

        // Events: B's socket hears about B's recordings only; a socket without a ticket is closed.
        QWebSocket eventsB, stranger;
        QSignalSpy heardB(&eventsB, &QWebSocket::textMessageReceived);
        QSignalSpy strangerClosed(&stranger, &QWebSocket::disconnected);
        eventsB.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/events?ticket=%2").arg(port).arg(QString::fromLatin1(b))));
        stranger.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/events").arg(port)));
        QVERIFY2(heardB.wait(10000), qPrintable(eventsB.closeReason())); // hello
        QCOMPARE(QJsonDocument::fromJson(heardB.at(0).at(0).toString().toUtf8()).object().value(u"owner"_qs).toString(), u"STB-B"_qs);
        QVERIFY(!strangerClosed.isEmpty() || strangerClosed.wait(10000));
        QCOMPARE(stranger.closeCode(), QWebSocketProtocol::CloseCodePolicyViolated);

        const struct
        {
            QJsonObject rule;
            QString says;
        } refused[] = {
            {{{u"kind"_qs, u"regex"_qs}, {u"pattern"_qs, u"(unclosed"_qs}}, u"pattern"_qs},
            {{{u"kind"_qs, u"regex"_qs}, {u"pattern"_qs, u"(\\w+\\s?)+$"_qs}}, u"pattern too costly"_qs},
            {{{u"kind"_qs, u"single"_qs}, {u"channel"_qs, u"nine"_qs}, {u"start"_qs, at}}, u"nine"_qs},
            {{{u"kind"_qs, u"single"_qs}, {u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 1800}}, u"ended"_qs},
            {{{u"kind"_qs, u"bogus"_qs}}, u"kind"_qs},
        };
        // A body over 1 MiB is refused from its head (413), before diver reads it.
        const HttpResult huge = httpSend(m_nam, "POST", QUrl(QStringLiteral("http://127.0.0.1:%1/api/rules").arg(port)),
                                         "{\"kind\": \"title\", \"title\": \"" + QByteArray(2 * 1024 * 1024, 'x') + "\"}",
                                         {{"Authorization", "Bearer " + a}, {"Content-Type", "application/json"}});
        QVERIFY2(huge.status == 413, huge.body.left(300).constData());
        for (const auto &r : refused) {
            const HttpResult answer = call("POST", port, u"/api/rules"_qs, a, r.rule);
            QVERIFY2(answer.status == 400, answer.body.constData());
            QVERIFY2(answer.json().value(u"detail"_qs).toString().contains(r.says, Qt::CaseInsensitive), answer.body.constData());
        }

        // A records Drama; B's Quiz at the same time finds no capacity on the only stream and goes
        // to its repeat two hours later, with the reason.
        const HttpResult drama = call("POST", port, u"/api/rules"_qs, a,
                                      {{u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Drama"_qs}, {u"priority"_qs, 5}});
        QVERIFY2(drama.status == 201, drama.body.constData());
        QCOMPARE(drama.json().value(u"planned"_qs).toArray().size(), 1);
        const HttpResult quiz = call("POST", port, u"/api/rules"_qs, b, {{u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Quiz"_qs}});
        QVERIFY2(quiz.status == 201, quiz.body.constData());
        const QJsonArray planned = quiz.json().value(u"planned"_qs).toArray();
        QCOMPARE(planned.size(), 1);
        QCOMPARE(planned.at(0).toObject().value(u"start"_qs).toInteger(), at + 7200);
        const QJsonArray skipped = quiz.json().value(u"skipped"_qs).toArray();
        QCOMPARE(skipped.size(), 1);
        // For the viewer: channels by number and name; for machines: ids in the fields.
        const QJsonObject moved = skipped.at(0).toObject();
        const QString detail = moved.value(u"detail"_qs).toString();
        QVERIFY2(detail.contains(u"\"Quiz\" on 2 TWO at") && !detail.contains(u" on two "), qPrintable(detail));
        QCOMPARE(moved.value(u"relatedTo"_qs).toArray().at(0).toObject().value(u"channel"_qs).toString(), u"two"_qs);
        QCOMPARE(moved.value(u"relatedTo"_qs).toArray().at(0).toObject().value(u"channelName"_qs).toString(), u"TWO"_qs);
        QCOMPARE(skipped.at(0).toObject().value(u"start"_qs).toInteger(), at);

        // B heard that its Quiz was scheduled (the repeat), nothing of A's Drama.
        QTRY_VERIFY_WITH_TIMEOUT(heardB.size() >= 2, 10000);
        for (int i = 1; i < heardB.size(); ++i) {
            const QJsonObject e = QJsonDocument::fromJson(heardB.at(i).at(0).toString().toUtf8()).object();
            QCOMPARE(e.value(u"owner"_qs).toString(), u"STB-B"_qs);
            QCOMPARE(e.value(u"type"_qs).toString(), u"scheduled"_qs);
            QCOMPARE(e.value(u"title"_qs).toString(), u"Quiz"_qs);
        }

        // Health and metrics (Prometheus's promtool reads them).
        QCOMPARE(call("GET", port, u"/healthz"_qs, {}).status, 200);
        const HttpResult metrics = call("GET", port, u"/metrics"_qs, {});
        QCOMPARE(metrics.status, 200);
        QVERIFY(metrics.body.contains("diver_plan_conflicts"));
        QVERIFY(metrics.body.contains("\ndiver_http_thread_wait_seconds "));
        if (const auto problems = promtoolProblems(metrics.body))
            QVERIFY2(problems->isEmpty(), qPrintable(*problems));

        // Upcoming: each box its own, the operator everything.
        const QJsonObject upB = call("GET", port, u"/api/upcoming"_qs, b).json();
        QCOMPARE(upB.value(u"planned"_qs).toArray().size(), 1);
        QCOMPARE(upB.value(u"skipped"_qs).toArray().size(), 1);
        const QJsonObject upA = call("GET", port, u"/api/upcoming"_qs, a).json();
        QCOMPARE(upA.value(u"planned"_qs).toArray().size(), 1);
        QCOMPARE(upA.value(u"skipped"_qs).toArray().size(), 0);
        QCOMPARE(call("GET", port, u"/api/upcoming"_qs, "operator-secret").json().value(u"planned"_qs).toArray().size(), 2);

        // B cannot delete A's rule; A can. The plan is repaired (docs/dvr-scheduler.md, "Rule
        // changes"): A's Drama goes, its stream freed for the conflicts; B's Quiz is no conflict
        // (it records its repeat) and stays where it is, as a recording untouched by a guide change
        // does, rather than moving back to its first airing as a full plan would put it.
        const QString dramaId = QString::number(drama.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger());
        QCOMPARE(call("DELETE", port, u"/api/rules/"_qs + dramaId, b).status, 404);
        QCOMPARE(call("DELETE", port, u"/api/rules/"_qs + dramaId, a).status, 204);
        const QJsonObject after = call("GET", port, u"/api/upcoming"_qs, b).json();
        const QJsonArray now2 = after.value(u"planned"_qs).toArray();
        QCOMPARE(now2.size(), 1);
        QCOMPARE(now2.at(0).toObject().value(u"start"_qs).toInteger(), at + 7200);
        QCOMPARE(after.value(u"conflicts"_qs).toInt(-1), 0);
        QCOMPARE(call("GET", port, u"/api/upcoming"_qs, a).json().value(u"planned"_qs).toArray().size(), 0);
        QCOMPARE(call("GET", port, u"/api/upcoming"_qs, "operator-secret").json().value(u"planned"_qs).toArray().size(), 1);
    }

    // Timeshift is a live sliding window of the channel's archive (RFC 8216 6.2.2): no playlist
    // type, its oldest segments leave as the clock goes on (EXT-X-MEDIA-SEQUENCE advances), the
    // discontinuities they take along are counted (EXT-X-DISCONTINUITY-SEQUENCE), every reload
    // agrees with the one before. A start the window has passed plays from its first segment,
    // with X-Timeshift-Clamped, where it was a 404. FFmpeg plays it live, reloading as it slides.
    void timeshiftSlidesItsWindow()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"sliding"_qs);
        c.archivedChannels = {u"one"_qs};
        c.archiveHours = 1;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now - 20, now + 3600, u"Live"_qs, {}}}));
        // Forty seconds the archive holds from about where the window starts now (an hour less
        // the guard), a gap before three of them.
        const qint64 windowSeconds = 3600 - DiverServer::kTimeshiftGuardSeconds;
        {
            QByteArray ts;
            for (int i = 0; i < 10; ++i)
                ts += QByteArray(1, char(0x47)) + QByteArray(187, char(i));
            iptv::dvr::ArchiveWriter writer;
            QString error;
            QVERIFY2(writer.open({QDir(c.dataDir).filePath(u"storage/archive/one"_qs), 3600 * 1000, 0}, &error), qPrintable(error));
            for (int i = 0; i < 40; ++i) {
                iptv::dvr::StorageError written;
                QVERIFY2(writer.writeSegment(ts, (now - windowSeconds - 4 + i) * 1000, 1000, i == 14 || i == 18 || i == 22, &written),
                         qPrintable(written.toString()));
            }
        }
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-T"_qs, 3600);
        // Two hours back: before the window (and before the archive).
        const QString timeshift = u"/catchup/one/archive-%1-now.m3u8"_qs.arg(now - 7200);

        HttpResult first;
        QTRY_VERIFY_WITH_TIMEOUT((first = call("GET", port, timeshift, a)).status == 200, 10000);
        QVERIFY2(first.header("X-Timeshift-Clamped").toLongLong() >= now - windowSeconds, first.body.constData());
        iptv::media::HlsCheck earlier = iptv::media::checkMediaPlaylist(first.body);
        QVERIFY2(earlier.ok && !earlier.ended && !earlier.segments.isEmpty(), qPrintable(earlier.problems.join(u"; "_qs)));
        QVERIFY(!first.body.contains("#EXT-X-PLAYLIST-TYPE"));
        QVERIFY(first.body.contains("#EXT-X-DISCONTINUITY-SEQUENCE:"));
        const qint64 firstSequence = earlier.mediaSequence, firstDiscontinuities = earlier.discontinuitySequence;
        // Its first segment is one of the old ones still within the window.
        QVERIFY2(earlier.segments.first().programDateTime.toSecsSinceEpoch() < now - windowSeconds + 36, first.body.constData());

        QElapsedTimer clock;
        clock.start();
        int reloads = 0;
        while (clock.elapsed() < 40000 && (earlier.mediaSequence < 26 || earlier.segments.size() < 5)) {
            QTest::qWait(400);
            const HttpResult got = call("GET", port, timeshift, a);
            QCOMPARE(got.status, 200);
            const iptv::media::HlsCheck later = iptv::media::checkMediaPlaylist(got.body);
            QVERIFY2(later.ok && !later.ended, qPrintable(later.problems.join(u"; "_qs) + u'\n' + QString::fromUtf8(got.body)));
            const QStringList problems = iptv::media::checkReload(earlier, later);
            QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u"; "_qs) + u'\n' + QString::fromUtf8(got.body)));
            earlier = later;
            ++reloads;
        }
        qInfo() << reloads << "reloads: media sequence" << firstSequence << "->" << earlier.mediaSequence << ", discontinuity sequence"
                << firstDiscontinuities << "->" << earlier.discontinuitySequence;
        // The old segments up to the three gaps left the window, the gaps counted.
        QVERIFY2(earlier.mediaSequence >= 26 && earlier.mediaSequence < 40, qPrintable(QString::number(earlier.mediaSequence)));
        QVERIFY2(firstSequence <= 14 && firstDiscontinuities == 0, "the diver took too long to start: the gaps had left already");
        QCOMPARE(earlier.discontinuitySequence, 3);
        // A start within the window is not clamped.
        const HttpResult inside = call("GET", port, u"/catchup/one/archive-%1-now.m3u8"_qs.arg(QDateTime::currentSecsSinceEpoch() - 60), a);
        QCOMPARE(inside.status, 200);
        QVERIFY(inside.header("X-Timeshift-Clamped").isEmpty());

        if (QStandardPaths::findExecutable(u"ffmpeg"_qs).isEmpty())
            QSKIP("ffmpeg is not installed: the playlists were checked by our own reader only");
        // FFmpeg, a client that follows the document: a live playlist, begun near its end, reloaded.
        const QString copied = m_dir.filePath(u"sliding-ffmpeg.ts"_qs);
        QProcess ffmpeg;
        QSignalSpy ffmpegDone(&ffmpeg, &QProcess::finished);
        ffmpeg.start(u"ffmpeg"_qs, {u"-v"_qs, u"error"_qs, u"-y"_qs, u"-i"_qs,
                                    u"http://127.0.0.1:%1%2?ticket=%3"_qs.arg(port).arg(timeshift, QString::fromLatin1(QUrl::toPercentEncoding(QString::fromLatin1(a)))),
                                    u"-t"_qs, u"6"_qs, u"-c"_qs, u"copy"_qs, u"-f"_qs, u"mpegts"_qs, copied});
        QVERIFY2(ffmpegDone.wait(60000), "ffmpeg did not finish");
        QVERIFY2(ffmpeg.exitStatus() == QProcess::NormalExit && ffmpeg.exitCode() == 0, ffmpeg.readAllStandardError().constData());
        QProcess probe;
        QSignalSpy probed(&probe, &QProcess::finished);
        probe.start(u"ffprobe"_qs, {u"-v"_qs, u"error"_qs, u"-show_entries"_qs, u"format=duration"_qs, u"-of"_qs,
                                    u"default=nw=1:nk=1"_qs, copied});
        QVERIFY(probed.wait(30000));
        const double seconds = probe.readAllStandardOutput().trimmed().toDouble();
        QVERIFY2(seconds >= 4.5, qPrintable(QString::number(seconds)));
    }

    // Segments are served within what the asker may see: through /play, the recording's own
    // range of the archive (not the rest of it, other viewers' recordings included); through
    // /catchup, a box gets the catch-up window only (the archive keeps older chunks that viewers'
    // recordings hold), an operator everything. Byte ranges follow RFC 9110 (one range; anything
    // else is ignored: the whole segment), a whole segment is cacheable privately only, and a
    // resume position is bounded by the recording's length.
    void segmentsWithinTheRecordingOrTheWindow()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"access"_qs);
        c.archivedChannels = {u"two"_qs};
        c.archiveHours = 1;
        QVERIFY(writeGuide(c.guideFile, {u"two"_qs}, m_recast->port(), {{u"two"_qs, now - 20, now + 3600, u"Live"_qs, {}}}));
        // Two segments the archive kept from hours ago (beyond its hour of catch-up), each held
        // by one viewer's recording: Y's three hours ago, X's two.
        QByteArray ts;
        for (int i = 0; i < 10; ++i)
            ts += QByteArray(1, char(0x47)) + QByteArray(187, char(i));
        const qint64 oldY = (now - 3 * 3600) * 1000, oldX = (now - 2 * 3600) * 1000;
        QString segY, segX;
        {
            iptv::dvr::ArchiveWriter writer;
            QString error;
            QVERIFY2(writer.open({QDir(c.dataDir).filePath(u"storage/archive/two"_qs), 3600 * 1000, 0}, &error), qPrintable(error));
            iptv::dvr::StorageError written;
            QVERIFY2(writer.writeSegment(ts, oldY, 1000, false, &written), qPrintable(written.toString()));
            // (The index names a segment in its chunk: the chunk of an hour is named by its start.)
            segY = iptv::dvr::ArchiveWriter::chunkName(oldY / 3600000 * 3600000) + u'/' + writer.lastWritten().file;
            QVERIFY2(writer.writeSegment(ts, oldX, 1000, true, &written), qPrintable(written.toString()));
            segX = iptv::dvr::ArchiveWriter::chunkName(oldX / 3600000 * 3600000) + u'/' + writer.lastWritten().file;
        }
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const auto recordingOfRange = [&](const QString &owner, qint64 fromMs) {
            iptv::diver::RecordingRow row;
            row.owner = owner;
            row.channelId = u"two"_qs;
            row.title = u"Old Film"_qs;
            row.airingStart = row.recordStart = fromMs / 1000;
            row.airingStop = row.recordStop = fromMs / 1000 + 1;
            row.created = now;
            QString e;
            const auto id = diver.recordings().insertRecording(row, &e);
            return id ? QString::number(*id) : QString();
        };
        const QString idY = recordingOfRange(u"STB-Y"_qs, oldY), idX = recordingOfRange(u"STB-X"_qs, oldX);
        QVERIFY(!idY.isEmpty() && !idX.isEmpty());
        const QByteArray x = ticket(u"STB-X"_qs);

        // X's recording serves its own segment, and not Y's next to it in the archive.
        const HttpResult own = call("GET", port, u"/play/"_qs + idX + u'/' + segX, x);
        QVERIFY2(own.status == 200, own.body.constData());
        QCOMPARE(own.body, ts);
        QCOMPARE(own.header("Cache-Control"), QByteArray("private, max-age=86400"));
        const HttpResult others = call("GET", port, u"/play/"_qs + idX + u'/' + segY, x);
        QVERIFY2(others.status == 404, others.body.constData());
        QCOMPARE(call("GET", port, u"/play/"_qs + idY + u'/' + segY, ticket(u"STB-Y"_qs)).status, 200);
        // Catch-up reaches back an hour for a box; the operator reads what the archive holds.
        const HttpResult old = call("GET", port, u"/catchup/two/"_qs + segY, x);
        QVERIFY2(old.status == 404 && old.json().value(u"detail"_qs).toString().contains(u"1 hours of catch-up"), old.body.constData());
        QCOMPARE(call("GET", port, u"/catchup/two/"_qs + segX, x).status, 404);
        QCOMPARE(call("GET", port, u"/catchup/two/"_qs + segY, "operator-secret").status, 200);
        // What the archive writes now is within the window.
        QString live;
        const auto liveSegment = [&] {
            const QByteArray list = call("GET", port, QStringLiteral("/catchup/two/archive-%1-now.m3u8").arg(now - 60), x).body;
            for (const QByteArray &line : list.split('\n')) {
                if (!line.isEmpty() && !line.startsWith('#'))
                    live = QString::fromLatin1(line);
            }
            return !live.isEmpty();
        };
        QTRY_VERIFY_WITH_TIMEOUT(liveSegment(), 20000);
        const HttpResult current = call("GET", port, u"/catchup/two/"_qs + live, x);
        QVERIFY2(current.status == 200 && current.body.startsWith(char(0x47)), qPrintable(live));

        // Byte ranges (RFC 9110 14): one range is 206; several, another unit, bad syntax, last
        // before first are ignored (200, the whole); a start beyond the end is 416 whatever its
        // digits (no overflow to byte 0).
        const QString path = u"/play/"_qs + idX + u'/' + segX;
        const auto ranged = [&](const QByteArray &range) { return call("GET", port, path, x, {}, {{"Range", range}}); };
        for (const QByteArray &ignored : {QByteArray("bytes=0-99,200-299"), QByteArray("bytes=abc"), QByteArray("items=0-1"),
                                          QByteArray("bytes=5-3"), QByteArray("bytes=-"), QByteArray("bytes 0-1")}) {
            const HttpResult r = ranged(ignored);
            QVERIFY2(r.status == 200 && r.body == ts, ignored.constData());
        }
        for (const QByteArray &beyond : {QByteArray("bytes=99999999999999999999-"), QByteArray("bytes=1880-"), QByteArray("bytes=-0")}) {
            const HttpResult r = ranged(beyond);
            QVERIFY2(r.status == 416, beyond.constData());
            QCOMPARE(r.header("Content-Range"), QByteArray("bytes */1880"));
        }
        const HttpResult tail = ranged("bytes=-188");
        QCOMPARE(tail.status, 206);
        QCOMPARE(tail.body, ts.right(188));
        QCOMPARE(tail.header("Content-Range"), QByteArray("bytes 1692-1879/1880"));
        const HttpResult clipped = ranged("BYTES=1800-99999999999999999999");
        QCOMPARE(clipped.status, 206);
        QCOMPARE(clipped.header("Content-Range"), QByteArray("bytes 1800-1879/1880"));

        // The same through curl, a client of its own.
        if (!QStandardPaths::findExecutable(u"curl"_qs).isEmpty()) {
            const QString url = QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path);
            for (const auto &[range, expected] : {std::pair{u"bytes=0-99,200-299"_qs, u"200 1880"_qs},
                                                  std::pair{u"bytes=99999999999999999999-"_qs, u"416"_qs},
                                                  std::pair{u"bytes=-188"_qs, u"206 188"_qs}, std::pair{u"items=0-1"_qs, u"200 1880"_qs}}) {
                QProcess curl;
                QSignalSpy done(&curl, &QProcess::finished);
                curl.start(u"curl"_qs, {u"-s"_qs, u"-o"_qs, u"/dev/null"_qs, u"-w"_qs, u"%{http_code} %{size_download}"_qs, u"-H"_qs,
                                        u"Authorization: Bearer "_qs + QString::fromLatin1(x), u"-H"_qs, u"Range: "_qs + range, url});
                QVERIFY(done.wait(30000));
                const QString got = QString::fromLatin1(curl.readAllStandardOutput());
                QVERIFY2(got.startsWith(expected), qPrintable(range + u": "_qs + got));
            }
        }

        // A resume position: a number, at most the recording's length (1 s here).
        const auto put = [&](const QByteArray &body) {
            return httpSend(m_nam, "PUT", QUrl(QStringLiteral("http://127.0.0.1:%1/api/recordings/%2").arg(port).arg(idX)), body,
                            {{"Authorization", "Bearer " + x}, {"Content-Type", "application/json"}});
        };
        const HttpResult far = put(R"({"position": 1e300})");
        QVERIFY2(far.status == 200, far.body.constData());
        QCOMPARE(far.json().value(u"position"_qs).toInteger(), 1);
        // (Beyond a double: Qt's JSON reader refuses the number itself.)
        const HttpResult infinite = put(R"({"position": 1e400})");
        QVERIFY2(infinite.status == 400, infinite.body.constData());
        const HttpResult negative = put(R"({"position": -1e300})");
        QVERIFY2(negative.status == 400 && negative.json().value(u"detail"_qs).toString().startsWith(u"position:"), negative.body.constData());
        QCOMPARE(put(R"({"position": 0.5})").json().value(u"position"_qs).toInteger(), 0);
    }

    // A player keeps the URL it was given, for hours: the playback URLs a box gets carry a
    // playback token (not its hourly ticket), which plays on after the ticket has expired, opens
    // its own recording's or channel's playlist and segments only, within what the ticket opened,
    // and plays from every node of the cluster (one secret: configured, or the database's).
    void playbackOutlivesTheTicket()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"tokens"_qs);
        c.archivedChannels = {u"two"_qs};
        c.archiveHours = 1;
        QVERIFY(writeGuide(c.guideFile, {u"two"_qs}, m_recast->port(), {{u"two"_qs, now - 20, now + 3600, u"Live"_qs, {}}}));
        // A segment of the archive two hours ago (beyond catch-up), held by a viewer's recording.
        QByteArray ts;
        for (int i = 0; i < 10; ++i)
            ts += QByteArray(1, char(0x47)) + QByteArray(187, char(i));
        const qint64 old = (now - 2 * 3600) * 1000;
        const QString storage = QDir(c.dataDir).filePath(u"storage"_qs);
        QString seg;
        {
            iptv::dvr::ArchiveWriter writer;
            QString error;
            QVERIFY2(writer.open({QDir(storage).filePath(u"archive/two"_qs), 3600 * 1000, 0}, &error), qPrintable(error));
            iptv::dvr::StorageError written;
            QVERIFY2(writer.writeSegment(ts, old, 1000, true, &written), qPrintable(written.toString()));
            seg = iptv::dvr::ArchiveWriter::chunkName(old / 3600000 * 3600000) + u'/' + writer.lastWritten().file;
        }
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const auto insert = [&](const QString &owner) {
            iptv::diver::RecordingRow row;
            row.owner = owner;
            row.channelId = u"two"_qs;
            row.title = u"Old Film"_qs;
            row.airingStart = row.recordStart = old / 1000;
            row.airingStop = row.recordStop = old / 1000 + 1;
            row.created = now;
            QString e;
            const auto id = diver.recordings().insertRecording(row, &e);
            return id ? QString::number(*id) : QString();
        };
        const QString id = insert(u"STB-P"_qs), otherId = insert(u"STB-Q"_qs);
        QVERIFY(!id.isEmpty() && !otherId.isEmpty());

        // A ticket that expires in a few seconds (diver allows a minute of clock skew).
        const QByteArray shortTicket = ticket(u"STB-P"_qs, -50);
        const QJsonObject listed = recordingOf(port, shortTicket, id);
        const QUrl playlistUrl(listed.value(u"playlist"_qs).toString());
        QVERIFY2(playlistUrl.query().contains(u"playback=pt1."), qPrintable(playlistUrl.toString()));
        QVERIFY2(!playlistUrl.query().contains(u"ticket="), qPrintable(playlistUrl.toString()));
        const HttpResult status = call("GET", port, u"/api/status"_qs, shortTicket);
        const QByteArray archiveToken = status.json().value(u"archiveTokens"_qs).toObject().value(u"two"_qs).toString().toLatin1();
        QVERIFY2(archiveToken.startsWith("pt1."), status.body.constData());
        QVERIFY(status.json().value(u"archiveTokensExpire"_qs).toInteger() > now + 3600);
        // (The operator's answers carry none.)
        QVERIFY(!call("GET", port, u"/api/status"_qs, "operator-secret").json().contains(u"archiveTokens"_qs));

        QTRY_VERIFY_WITH_TIMEOUT(call("GET", port, u"/api/recordings"_qs, shortTicket).status == 401, 30000);
        // The ticket is refused now; the playlist and its segment play on.
        const HttpResult list = httpSend(m_nam, "GET", playlistUrl, {}, {});
        QVERIFY2(list.status == 200, list.body.constData());
        QString segmentLine;
        for (const QByteArray &line : list.body.split('\n')) {
            if (!line.isEmpty() && !line.startsWith('#'))
                segmentLine = QString::fromLatin1(line);
        }
        QVERIFY2(segmentLine.contains(u"?playback=pt1."), list.body.constData());
        const HttpResult segment = httpSend(m_nam, "GET", playlistUrl.resolved(QUrl(segmentLine)), {}, {});
        QVERIFY2(segment.status == 200, segment.body.constData());
        QCOMPARE(segment.body, ts);
        // A playlist fetched with a ticket in its URL gets its segment lines with a token too
        // (one fetched with a header, none: its client sends the header again).
        const HttpResult withTicket = httpSend(
            m_nam, "GET",
            QUrl(QStringLiteral("http://127.0.0.1:%1/play/%2/index.m3u8?ticket=%3")
                     .arg(QString::number(port), id, QString::fromLatin1(QUrl::toPercentEncoding(QString::fromLatin1(ticket(u"STB-P"_qs)))))),
            {}, {});
        const HttpResult withHeader = call("GET", port, u"/play/"_qs + id + u"/index.m3u8"_qs, ticket(u"STB-P"_qs));
        QVERIFY2(withHeader.status == 200 && !withHeader.body.contains('?'), withHeader.body.constData());
        QVERIFY2(withTicket.status == 200 && withTicket.body.contains("?playback=pt1."), withTicket.body.constData());
        // Catch-up and timeshift of the channel with its token, the ticket expired.
        const auto catchup = [&](const QString &path, const QByteArray &token) {
            return httpSend(m_nam, "GET",
                            QUrl(QStringLiteral("http://127.0.0.1:%1%2?playback=%3").arg(port).arg(path, QString::fromLatin1(token))),
                            {}, {});
        };
        const HttpResult timeshift = catchup(QStringLiteral("/catchup/two/archive-%1-now.m3u8").arg(now - 60), archiveToken);
        QVERIFY2(timeshift.status == 200, timeshift.body.constData());

        // What a token does not open: another recording (its viewer's own or not), another
        // channel, a range before the window it was given for, the archive beyond catch-up,
        // the API; a forged or another secret's token.
        const QByteArray token = QUrlQuery(playlistUrl).queryItemValue(u"playback"_qs).toLatin1();
        const HttpResult other = catchup(u"/play/"_qs + otherId + u"/index.m3u8"_qs, token);
        QVERIFY2(other.status == 403 && other.json().value(u"detail"_qs).toString().contains(u"not recording " + otherId), other.body.constData());
        QCOMPARE(catchup(u"/play/"_qs + otherId + u'/' + seg, token).status, 403);
        QCOMPARE(catchup(u"/play/"_qs + otherId + u"/thumbnails.vtt"_qs, token).status, 403);
        QCOMPARE(catchup(u"/catchup/two/"_qs + seg, token).status, 403);
        QCOMPARE(catchup(u"/play/"_qs + id + u'/' + seg, archiveToken).status, 403);
        QCOMPARE(catchup(u"/catchup/one/archive-%1-now.m3u8"_qs.arg(now - 60), archiveToken).status, 403);
        const HttpResult before = catchup(QStringLiteral("/catchup/two/archive-%1-60.m3u8").arg(now - 3 * 3600), archiveToken);
        QVERIFY2(before.status == 403 && before.json().value(u"detail"_qs).toString().contains(u"from"), before.body.constData());
        const HttpResult tooOld = catchup(u"/catchup/two/"_qs + seg, archiveToken);
        QVERIFY2(tooOld.status == 404 && tooOld.json().value(u"detail"_qs).toString().contains(u"1 hours of catch-up"), tooOld.body.constData());
        for (const QString &api : QStringList{u"/api/recordings"_qs, u"/api/status"_qs, u"/api/recordings/"_qs + id}) {
            const HttpResult r = catchup(api, token);
            QVERIFY2(r.status == 401, qPrintable(api + u": "_qs + QString::fromLatin1(r.body)));
        }
        QByteArray forged = token;
        forged[forged.size() - 2] = forged.at(forged.size() - 2) == 'A' ? 'B' : 'A';
        const HttpResult refused = catchup(u"/play/"_qs + id + u'/' + seg, forged);
        QVERIFY2(refused.status == 401 && refused.json().value(u"detail"_qs).toString().contains(u"signature"), refused.body.constData());
        iptv::diver::PlaybackTokens elsewhere;
        elsewhere.setSecret("another cluster's secret");
        const QByteArray foreign = elsewhere.issue({u"STB-P"_qs, iptv::diver::PlaybackTokens::recordingResource(id.toLongLong()), now + 3600});
        QCOMPARE(catchup(u"/play/"_qs + id + u'/' + seg, foreign).status, 401);
        // It expires: content length plus a margin, never for ever.
        QString why;
        QVERIFY(!elsewhere.verify(elsewhere.issue({u"STB-P"_qs, u"recording/1"_qs, now + 10}), now + 11, &why));
        QVERIFY2(why.contains(u"expired"), qPrintable(why));
        QVERIFY(elsewhere.verify(elsewhere.issue({u"STB-P"_qs, u"recording/1"_qs, now + 10}), now + 9, &why));
        const auto scope = iptv::diver::PlaybackTokens::parseArchiveResource(iptv::diver::PlaybackTokens::archiveResource(u"a/b"_qs, 42));
        QVERIFY(scope && scope->first == u"a/b" && scope->second == 42);

        // Another node of the cluster (the same storage and secret) plays what this one gave.
        const QString shared = m_dir.filePath(u"tokens-shared"_qs);
        {
            iptv::dvr::ArchiveWriter writer;
            QVERIFY2(writer.open({QDir(shared).filePath(u"archive/two"_qs), 3600 * 1000, 0}, &error), qPrintable(error));
            iptv::dvr::StorageError written;
            QVERIFY2(writer.writeSegment(ts, old, 1000, true, &written), qPrintable(written.toString()));
        }
        DiverConfig cb = config(u"tokens-b"_qs);
        cb.storagePaths = {shared};
        cb.playbackSecret = "cluster secret shared by every node";
        QVERIFY(writeGuide(cb.guideFile, {u"two"_qs}, m_recast->port(), {}));
        {
            DiverConfig ca = c;
            ca.playbackSecret = cb.playbackSecret;
            ca.dataDir = m_dir.filePath(u"tokens-a"_qs);
            ca.storagePaths = {shared};
            ca.archivedChannels.clear();
            DiverServer a(ca), b(cb);
            QVERIFY2(a.start(&error), qPrintable(error));
            QVERIFY2(b.start(&error), qPrintable(error));
            const QString bId = [&] {
                iptv::diver::RecordingRow row;
                row.owner = u"STB-P"_qs;
                row.channelId = u"two"_qs;
                row.title = u"Old Film"_qs;
                row.airingStart = row.recordStart = old / 1000;
                row.airingStop = row.recordStop = old / 1000 + 1;
                row.created = now;
                QString e;
                // (Each node has its own database here: the same row in both.)
                const auto ia = a.recordings().insertRecording(row, &e);
                const auto ib = b.recordings().insertRecording(row, &e);
                return ia && ib && *ia == *ib ? QString::number(*ia) : QString();
            }();
            QVERIFY(!bId.isEmpty());
            const QUrl fromA(recordingOf(a.httpPort(), ticket(u"STB-P"_qs), bId).value(u"playlist"_qs).toString());
            QVERIFY2(fromA.query().contains(u"playback="), qPrintable(fromA.toString()));
            QUrl onB = fromA;
            onB.setPort(b.httpPort());
            const HttpResult played = httpSend(m_nam, "GET", onB, {}, {});
            QVERIFY2(played.status == 200 && played.body.contains("?playback=pt1."), played.body.constData());
            // A node with a secret of its own (the first one's, from its database) refuses it.
            const HttpResult foreignNode = catchup(u"/play/"_qs + id + u"/index.m3u8"_qs, QUrlQuery(fromA).queryItemValue(u"playback"_qs).toLatin1());
            QVERIFY2(foreignNode.status == 401, foreignNode.body.constData());
        }
        // Without a configured secret the nodes of one database share the one the first made.
        iptv::diver::RecordingStore first, second;
        const QString db = m_dir.filePath(u"secrets.sqlite"_qs);
        QVERIFY2(first.open(db, &error) && second.open(db, &error), qPrintable(error));
        const auto one = first.sharedSecret(u"playback"_qs, &error), two = second.sharedSecret(u"playback"_qs, &error);
        QVERIFY2(one && two, qPrintable(error));
        QCOMPARE(one->size(), 32);
        QCOMPARE(*one, *two);
        QVERIFY(*first.sharedSecret(u"other"_qs, &error) != *one);
    }

    // A box is told that another recording blocks its own, and when, never whose or what it is
    // (title, channel, rule); the operator sees everything.
    void conflictsDoNotNameOtherViewersRecordings()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"privacy"_qs);
        c.capacity = 1;
        const qint64 at = now + 7200;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(),
                           {{u"one"_qs, at, at + 1800, u"Secret Drama"_qs, {}}, {u"two"_qs, at, at + 1800, u"Solo"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        QCOMPARE(call("POST", port, u"/api/rules"_qs, a, {{u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Secret Drama"_qs}, {u"priority"_qs, 5}}).status,
                 201);
        // The largest priority a box can send orders its own rules only: A's older rule keeps the
        // stream (docs/dvr-scheduler.md, "Priority order").
        const HttpResult solo = call("POST", port, u"/api/rules"_qs, b,
                                     {{u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Solo"_qs}, {u"priority"_qs, 2147483647}});
        QVERIFY2(solo.status == 201, solo.body.constData());
        const QJsonObject upB = call("GET", port, u"/api/upcoming"_qs, b).json();
        for (const QJsonObject &skipped : {solo.json().value(u"skipped"_qs).toArray().at(0).toObject(),
                                           upB.value(u"skipped"_qs).toArray().at(0).toObject()}) {
            QCOMPARE(skipped.value(u"reason"_qs).toString(), u"conflict"_qs);
            const QByteArray text = QJsonDocument(skipped).toJson(QJsonDocument::Compact);
            QVERIFY2(!text.contains("Secret") && !text.contains("\"one\"") && !text.contains("ONE"), text.constData());
            const QJsonObject blocker = skipped.value(u"relatedTo"_qs).toArray().at(0).toObject();
            QVERIFY2(blocker.value(u"other"_qs).toBool() && blocker.value(u"start"_qs).toInteger() == at
                         && blocker.value(u"stop"_qs).toInteger() == at + 1800 && !blocker.contains(u"rule"_qs)
                         && !blocker.contains(u"channel"_qs),
                     text.constData());
            const QString detail = skipped.value(u"detail"_qs).toString();
            QVERIFY2(detail.startsWith(u"no capacity: conflicts with another recording at "), qPrintable(detail));
        }
        // Each box counts its own plan; the operator the node's.
        const auto counts = [&](const QByteArray &who) {
            const QJsonObject status = call("GET", port, u"/api/status"_qs, who).json();
            return std::pair(status.value(u"planned"_qs).toInt(-1), status.value(u"conflicts"_qs).toInt(-1));
        };
        QCOMPARE(counts(a), std::pair(1, 0));
        QCOMPARE(counts(b), std::pair(0, 1));
        QCOMPARE(counts(ticket(u"STB-C"_qs)), std::pair(0, 0));
        QCOMPARE(counts("operator-secret"), std::pair(1, 1));
        // The operator sees whose it is.
        const QJsonArray all = call("GET", port, u"/api/upcoming"_qs, "operator-secret").json().value(u"skipped"_qs).toArray();
        QCOMPARE(all.size(), 1);
        const QJsonObject seen = all.at(0).toObject().value(u"relatedTo"_qs).toArray().at(0).toObject();
        QCOMPARE(seen.value(u"title"_qs).toString(), u"Secret Drama"_qs);
        QCOMPARE(seen.value(u"channel"_qs).toString(), u"one"_qs);
        QVERIFY(all.at(0).toObject().value(u"detail"_qs).toString().contains(u"\"Secret Drama\" on 1 ONE at"));
    }

    // What a box asks on every poll (its planned and conflict counts in /api/status, its
    // /api/upcoming) is answered from the plan's index by owner (dvr::PlanIndex), not by walking
    // the whole plan: the answers are those walking the plan gives, for every box, on a plan of
    // many viewers with conflicts, and again after rules were removed and an airing skipped (the
    // index made anew from the repaired plan).
    // GET /api/recordings and GET /api/rules by pages (?limit=, ?cursor=): the pages are the
    // whole list in its order (an airing start shared by several paged by id), a box's pages
    // its own, a recording made or deleted between two pages neither skips nor repeats another,
    // no limit is the whole list as before, and a bad limit or cursor is a 400 that says why. On
    // SQLite and on PostgreSQL (a PostgreSQL started for the test; skipped when it cannot run).
    void listsByPages_data()
    {
        QTest::addColumn<bool>("postgres");
        QTest::newRow("SQLite") << false;
        QTest::newRow("PostgreSQL") << true;
    }
    void listsByPages()
    {
        QFETCH(bool, postgres);
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(postgres ? u"pages-pg"_qs : u"pages"_qs);
        if (postgres) {
            QString skip;
            c.database = postgresDatabase(u"pages"_qs, &skip);
            if (!skip.isEmpty())
                QSKIP(qPrintable(u"PostgreSQL cannot run here: "_qs + skip));
            QVERIFY(!c.database.isEmpty());
        }
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray op = "operator-secret", a = ticket(u"STB-A"_qs);
        // Rows as the store has them (ranges of an archive: no copy, no recorder), three at each
        // airing start.
        auto add = [&](const QString &owner, qint64 start, qint64 rule) -> qint64 {
            iptv::diver::RecordingRow r;
            r.owner = owner;
            r.ruleId = rule;
            r.channelId = u"one"_qs;
            r.title = u"Old"_qs;
            r.airingStart = r.recordStart = start;
            r.airingStop = r.recordStop = start + 600;
            r.created = now;
            const auto id = diver.recordings().insertRecording(r, &error);
            return id ? *id : 0;
        };
        for (int i = 0; i < 30; ++i)
            QVERIFY2(add(i % 5 == 4 ? u"STB-B"_qs : u"STB-A"_qs, now - 86400 - (i / 3) * 600, i + 1) > 0, qPrintable(error));
        auto idsOf = [](const QJsonArray &list) {
            QList<qint64> ids;
            for (const QJsonValue &v : list)
                ids.append(v.toObject().value(u"id"_qs).toInteger());
            return ids;
        };
        // Every page of `path` (and `query`) by `limit`, as `who`; `between` runs after the first.
        auto paged = [&](const QByteArray &who, const QString &path, const QString &query, int limit, int *pages,
                         const std::function<void()> &between = {}) {
            const QString key = path.mid(5); // "/api/recordings": "recordings"
            QList<qint64> ids;
            QString cursor;
            for (*pages = 0; *pages < 100;) {
                QString url = path + QStringLiteral("?limit=%1").arg(limit) + query;
                if (!cursor.isEmpty())
                    url += u"&cursor="_qs + cursor;
                const HttpResult page = call("GET", port, url, who);
                const QJsonArray list = page.json().value(key).toArray();
                if (page.status != 200 || list.size() > limit || !page.json().contains(u"next"_qs)) {
                    qWarning() << url << page.status << page.body;
                    return QList<qint64>{-1};
                }
                ids += idsOf(list);
                ++*pages;
                if (page.json().value(u"next"_qs).isNull())
                    break;
                cursor = page.json().value(u"next"_qs).toString();
                if (*pages == 1 && between)
                    between();
            }
            return ids;
        };

        // No limit: the whole list, the latest airing first, as before paging (no "next").
        const HttpResult all = call("GET", port, u"/api/recordings"_qs, op);
        QCOMPARE(all.status, 200);
        QVERIFY(!all.json().contains(u"next"_qs));
        const QList<qint64> whole = idsOf(all.json().value(u"recordings"_qs).toArray());
        QCOMPARE(whole.size(), 30);
        for (qsizetype i = 1; i < whole.size(); ++i) {
            const auto prev = diver.recordings().recording(whole[i - 1], &error), row = diver.recordings().recording(whole[i], &error);
            QVERIFY(prev->airingStart > row->airingStart || (prev->airingStart == row->airingStart && prev->id > row->id));
        }
        int pages = 0;
        QCOMPARE(paged(op, u"/api/recordings"_qs, {}, 7, &pages), whole);
        QCOMPARE(pages, 5);
        QCOMPARE(paged(op, u"/api/recordings"_qs, {}, 10, &pages), whole);
        QCOMPARE(pages, 3); // the third is the last: its "next" is null, no empty fourth
        // A box pages its own; an operator one box's with ?owner=.
        QCOMPARE(paged(a, u"/api/recordings"_qs, {}, 5, &pages), idsOf(recordingsOf(port, a)));
        QCOMPARE(pages, 5);
        QList<qint64> ofB;
        for (const qint64 id : whole)
            if (diver.recordings().recording(id, &error)->owner == u"STB-B")
                ofB.append(id);
        QCOMPARE(ofB.size(), 6);
        QCOMPARE(paged(op, u"/api/recordings"_qs, u"&owner=STB-B"_qs, 2, &pages), ofB);
        QCOMPARE(pages, 3);

        // Between the first page and the next: a recording of an older airing (a later page's),
        // one of a newer (before the cursor: not this listing's), one of the first page deleted
        // and one of a later page deleted. Nothing else is skipped or repeated.
        qint64 older = 0;
        const QList<qint64> listed = paged(op, u"/api/recordings"_qs, {}, 7, &pages, [&] {
            older = add(u"STB-A"_qs, now - 3 * 86400, 100);
            QVERIFY(add(u"STB-A"_qs, now - 3600, 101) > 0);
            QVERIFY(diver.recordings().deleteRecording(whole[2], &error));
            QVERIFY(diver.recordings().deleteRecording(whole[20], &error));
        });
        QVERIFY(older > 0);
        QList<qint64> expected = whole;
        expected.removeAt(20);
        expected.append(older);
        QCOMPARE(listed, expected);

        // Refused, with what and why.
        for (const QString &bad : {u"limit=0"_qs, u"limit=1001"_qs, u"limit=ten"_qs, u"limit="_qs, u"cursor="_qs, u"cursor=abc"_qs,
                                   u"cursor=r1.%21%21"_qs, u"limit=5&cursor=r1.MTIz"_qs, u"cursor=k1.MQ"_qs}) {
            const HttpResult r = call("GET", port, u"/api/recordings?"_qs + bad, op);
            const QString detail = r.json().value(u"detail"_qs).toString();
            QVERIFY2(r.status == 400 && r.json().value(u"error"_qs).toString() == u"bad-request"
                         && (detail.startsWith(u"limit") || detail.startsWith(u"cursor")),
                     qPrintable(bad + u": "_qs + QString::fromUtf8(r.body)));
        }

        // Rules: by id, the same way.
        for (int i = 0; i < 5; ++i)
            QCOMPARE(call("POST", port, u"/api/rules"_qs, a, {{u"kind"_qs, u"title"_qs}, {u"title"_qs, QStringLiteral("Show %1").arg(i)}}).status,
                     201);
        const HttpResult rules = call("GET", port, u"/api/rules"_qs, a);
        QVERIFY(!rules.json().contains(u"next"_qs));
        const QList<qint64> allRules = idsOf(rules.json().value(u"rules"_qs).toArray());
        QCOMPARE(allRules.size(), 5);
        QCOMPARE(paged(a, u"/api/rules"_qs, {}, 2, &pages), allRules);
        QCOMPARE(pages, 3);
        QCOMPARE(call("GET", port, u"/api/rules?cursor=r1.MTIz"_qs, a).status, 400);
        QCOMPARE(call("GET", port, u"/api/rules?limit=-1"_qs, a).status, 400);
    }

    // startDue() reads what has come due, not the plan: with 300 airings planned, a due
    // recording starts at its start (not a tick late), and the ticks after it ask the database
    // nothing and read nothing of the plan, but its due part once a new plan comes.
    void dueRecordingsStartOnTimeReadingOnlyWhatIsDue()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"due"_qs);
        const qint64 soon = now + 10;
        QList<Airing> airings{{u"one"_qs, now - 600, soon, u"Before"_qs, {}}, {u"one"_qs, soon, soon + 3600, u"Soon"_qs, {}}};
        for (int i = 0; i < 300; ++i)
            airings.append({u"two"_qs, now + 7200 + i * 300, now + 7500 + i * 300, u"Later"_qs, QStringLiteral("0.%1.").arg(i)});
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(), airings));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        QCOMPARE(call("POST", port, u"/api/rules"_qs, b, {{u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Later"_qs}}).status, 201);
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, u"one"_qs}, {u"start"_qs, soon}}).status, 201);
        QVERIFY(diver.plan().recordings.size() >= 301);
        QVERIFY2(QDateTime::currentSecsSinceEpoch() < soon - 2, "the machine was too slow to set the test up before the start");
        QVERIFY(recordingsOf(port, a).isEmpty());

        // On time: from its start (made within the lead before it), not from a tick later.
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).size(), 1, 20000);
        const QJsonObject made = recordingsOf(port, a).at(0).toObject();
        QCOMPARE(made.value(u"recordStart"_qs).toInteger(), soon);
        QCOMPARE(made.value(u"title"_qs).toString(), u"Soon"_qs);

        // Ticks now: no lookup for the recording known made, and nothing of the plan read but
        // the due part (one recording) of each new plan.
        const DiverServer::DueStats before = diver.dueStats();
        for (int i = 0; i < 20; ++i)
            diver.reconcile();
        const DiverServer::DueStats after = diver.dueStats();
        QCOMPARE(after.ticks - before.ticks, 20);
        QCOMPARE(after.lookups, before.lookups);
        QVERIFY2(after.examined - before.examined <= after.plans - before.plans,
                 qPrintable(QStringLiteral("%1 read in %2 ticks, %3 plans").arg(after.examined - before.examined).arg(20).arg(after.plans - before.plans)));
        // A new plan (A records a later airing too) reads its due part once, without a lookup
        // for what is made.
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, u"two"_qs}, {u"start"_qs, now + 7200}}).status, 201);
        const DiverServer::DueStats replanned = diver.dueStats();
        QVERIFY(replanned.plans > after.plans);
        QCOMPARE(replanned.lookups, after.lookups);
        QVERIFY(replanned.examined - after.examined <= replanned.plans - after.plans);
        QCOMPARE(recordingsOf(port, a).size(), 1);
    }

    void boxAnswersEqualWalkingThePlan()
    {
        namespace dvr = iptv::dvr;
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"walk"_qs);
        c.capacity = 1;
        const qint64 at = (now / 1800 + 6) * 1800; // hours away: nothing records
        const QStringList titles{u"News"_qs, u"Quiz"_qs, u"Drama"_qs, u"Film"_qs, u"Sport"_qs, u"Cook"_qs};
        QList<Airing> airings;
        QRandomGenerator rng(17);
        for (int slot = 0; slot < 24; ++slot) {
            for (const QString &channel : {u"one"_qs, u"two"_qs}) {
                const QString title = titles[rng.bounded(int(titles.size()))];
                airings.append({channel, at + slot * 1800, at + slot * 1800 + 1800, title, QStringLiteral("0.%1.").arg(rng.bounded(4))});
            }
        }
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(), airings));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        QStringList owners;
        for (int i = 0; i < 10; ++i)
            owners << QStringLiteral("STB-W%1").arg(i);
        QHash<QString, QSet<qint64>> rulesOf;
        for (int i = 0; i < 24; ++i) {
            const QString owner = owners[rng.bounded(int(owners.size()))];
            const HttpResult made = call("POST", port, u"/api/rules"_qs, "operator-secret",
                                         {{u"kind"_qs, u"title"_qs}, {u"title"_qs, titles[rng.bounded(int(titles.size()))]},
                                          {u"owner"_qs, owner}, {u"priority"_qs, int(rng.bounded(3))}});
            QVERIFY2(made.status == 201, made.body.constData());
            rulesOf[owner].insert(made.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger());
        }
        const auto compareAll = [&](const QString &when) {
            const dvr::SchedulePlan &plan = diver.plan();
            const qint64 t = QDateTime::currentSecsSinceEpoch();
            for (const QString &owner : owners + QStringList{u"STB-none"_qs}) {
                const QSet<qint64> mine = rulesOf.value(owner);
                QStringList planned, skipped;
                int ownPlanned = 0, conflicts = 0, upcomingConflicts = 0;
                for (const dvr::PlannedRecording &p : plan.recordings) {
                    ownPlanned += p.owner == owner;
                    if (p.owner == owner && p.recordStart > t)
                        planned << QStringLiteral("%1/%2/%3").arg(p.ruleId).arg(p.channelId).arg(p.start);
                }
                for (const dvr::SkippedAiring &sk : plan.skipped) {
                    if (!mine.contains(sk.airing.ruleId))
                        continue;
                    conflicts += sk.reason == dvr::SkipReason::Conflict;
                    if (sk.airing.stop > t && !(sk.reason == dvr::SkipReason::Cancelled && sk.airing.start <= t)) {
                        skipped << QStringLiteral("%1/%2/%3 %4").arg(sk.airing.ruleId).arg(sk.airing.channelId).arg(sk.airing.start).arg(dvr::skipReasonName(sk.reason));
                        upcomingConflicts += sk.reason == dvr::SkipReason::Conflict;
                    }
                }
                const QByteArray box = ticket(owner);
                const QJsonObject status = call("GET", port, u"/api/status"_qs, box).json();
                QVERIFY2(status.value(u"planned"_qs).toInt(-1) == ownPlanned && status.value(u"conflicts"_qs).toInt(-1) == conflicts,
                         qPrintable(QStringLiteral("%1, %2: status says %3 planned, %4 conflicts; the plan %5, %6")
                                        .arg(when, owner)
                                        .arg(status.value(u"planned"_qs).toInt(-1))
                                        .arg(status.value(u"conflicts"_qs).toInt(-1))
                                        .arg(ownPlanned)
                                        .arg(conflicts)));
                const QJsonObject upcoming = call("GET", port, u"/api/upcoming"_qs, box).json();
                QStringList answeredPlanned, answeredSkipped;
                for (const QJsonValue &v : upcoming.value(u"planned"_qs).toArray()) {
                    const QJsonObject o = v.toObject();
                    answeredPlanned << QStringLiteral("%1/%2/%3").arg(o.value(u"rule"_qs).toInteger()).arg(o.value(u"channel"_qs).toString()).arg(o.value(u"start"_qs).toInteger());
                }
                for (const QJsonValue &v : upcoming.value(u"skipped"_qs).toArray()) {
                    const QJsonObject o = v.toObject();
                    answeredSkipped << QStringLiteral("%1/%2/%3 %4").arg(o.value(u"rule"_qs).toInteger()).arg(o.value(u"channel"_qs).toString()).arg(o.value(u"start"_qs).toInteger()).arg(o.value(u"reason"_qs).toString());
                }
                QCOMPARE(answeredPlanned, planned);
                QCOMPARE(answeredSkipped, skipped);
                QCOMPARE(upcoming.value(u"conflicts"_qs).toInt(-1), upcomingConflicts);
            }
        };
        // Each rule repairs the kept plan: 4 conflicts, where a full plan of the same rules has 7
        // (an episode that came later kept a free later airing; tst_dvrscheduler::
        // rulesAddedOneByOneAgainstFullPlan has this guide and these rules).
        QVERIFY2(diver.plan().conflicts >= 4, qPrintable(QString::number(diver.plan().conflicts)));
        compareAll(u"planned"_qs);
        if (QTest::currentTestFailed())
            return;
        // Rules removed and an airing skipped: the plan is repaired, its index made anew.
        for (int i = 0; i < 3; ++i) {
            const QString owner = owners[i];
            if (rulesOf.value(owner).isEmpty())
                continue;
            const qint64 id = *rulesOf[owner].cbegin();
            QCOMPARE(call("DELETE", port, u"/api/rules/"_qs + QString::number(id), ticket(owner)).status, 204);
            rulesOf[owner].remove(id);
        }
        const dvr::PlannedRecording first = diver.plan().recordings.first();
        const HttpResult skip = call("PUT", port, QStringLiteral("/api/rules/%1/airings/%2/%3").arg(first.ruleId).arg(first.channelId).arg(first.start),
                                     ticket(first.owner), {{u"cancelled"_qs, true}});
        QVERIFY2(skip.status == 200, skip.body.constData());
        compareAll(u"after changes"_qs);
    }

    // Without an admin token, requests from loopback are the operator's: diver then listens on
    // loopback only, and a request a proxy on this machine passed on (it says so) is no operator.
    void noAdminTokenOnlyOnLoopback()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"notoken"_qs);
        c.adminToken.clear();
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now + 3600, now + 7200, u"Film"_qs, {}}}));
        c.bindAddress = QHostAddress::Any;
        {
            DiverServer open(c);
            QString error;
            QVERIFY(!open.start(&error));
            QVERIFY2(error.contains(u"admin_token") && error.contains(u"bind=127.0.0.1"), qPrintable(error));
        }
        c.bindAddress = QHostAddress::LocalHost;
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        QCOMPARE(call("GET", diver.httpPort(), u"/api/rules"_qs, {}).status, 200);
        for (const QByteArray &header : {QByteArray("X-Forwarded-For"), QByteArray("Forwarded"), QByteArray("X-Real-IP")}) {
            const HttpResult proxied = call("GET", diver.httpPort(), u"/api/rules"_qs, {}, {}, {{header, "203.0.113.7"}});
            QVERIFY2(proxied.status == 401, header.constData());
        }
        // The event stream the same: the operator's from loopback, closed when proxied.
        QWebSocket local, proxied;
        QSignalSpy hello(&local, &QWebSocket::textMessageReceived);
        QSignalSpy refused(&proxied, &QWebSocket::disconnected);
        const QUrl events(QStringLiteral("ws://127.0.0.1:%1/events").arg(diver.httpPort()));
        local.open(events);
        QNetworkRequest forwarded(events);
        forwarded.setRawHeader("X-Forwarded-For", "203.0.113.7");
        proxied.open(forwarded);
        QVERIFY(hello.wait(10000));
        QCOMPARE(QJsonDocument::fromJson(hello.at(0).at(0).toString().toUtf8()).object().value(u"owner"_qs).toString(), QString());
        QVERIFY(!refused.isEmpty() || refused.wait(10000));
        QCOMPARE(proxied.closeCode(), QWebSocketProtocol::CloseCodePolicyViolated);
        // An admin token where none is set is told so, not taken for a broken ticket.
        const HttpResult token = call("GET", diver.httpPort(), u"/api/rules"_qs, "operator-secret");
        QCOMPARE(token.status, 401);
        QVERIFY2(token.json().value(u"detail"_qs).toString().startsWith(u"admin token not accepted: this diver has no admin token"),
                 token.body.constData());
    }

    // A wrong admin token is answered as one (401, "admin token not accepted"), over HTTP and on
    // the event stream, not with what is wrong with it as a box ticket; a ticket that does not
    // verify still gets the ticket's reason.
    void wrongAdminTokenIsToldAsSuch()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"wrongtoken"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now + 3600, now + 7200, u"Film"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        QCOMPARE(call("GET", port, u"/api/rules"_qs, "operator-secret").status, 200);
        for (const QByteArray &wrong : {QByteArray("operator-secreT"), QByteArray("operator"), QByteArray("operator-secret2"),
                                        QByteArray("op erator/secret+")}) {
            const HttpResult refused = call("GET", port, u"/api/rules"_qs, wrong);
            QVERIFY2(refused.status == 401, wrong.constData());
            const QString detail = refused.json().value(u"detail"_qs).toString();
            QVERIFY2(detail.startsWith(u"admin token not accepted: it is not this diver's [server] admin_token"), qPrintable(detail));
            QVERIFY2(!detail.contains(u"not a ticket") && !detail.contains(u"ticket key"), qPrintable(detail));
        }
        // In the URL (a player's ?ticket=, the WebSocket's ?token=) the same.
        const HttpResult inUrl = call("GET", port, u"/api/rules?ticket=operator-secreT"_qs, {});
        QCOMPARE(inUrl.status, 401);
        QVERIFY2(inUrl.json().value(u"detail"_qs).toString().startsWith(u"admin token not accepted"), inUrl.body.constData());
        QWebSocket events;
        QSignalSpy closed(&events, &QWebSocket::disconnected);
        events.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/events?token=operator-secreT").arg(port)));
        QVERIFY(closed.wait(10000));
        QCOMPARE(events.closeCode(), QWebSocketProtocol::CloseCodePolicyViolated);
        QVERIFY2(events.closeReason().startsWith(u"admin token not accepted"), qPrintable(events.closeReason()));
        // A ticket's shape is a ticket: its own reason.
        QByteArray tampered = ticket(u"STB-A"_qs);
        tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
        const HttpResult badTicket = call("GET", port, u"/api/rules"_qs, tampered);
        QCOMPARE(badTicket.status, 401);
        QVERIFY2(!badTicket.json().value(u"detail"_qs).toString().contains(u"admin token"), badTicket.body.constData());
    }

    // Review: a box could keep any number of rules, each validated (a regex one's cost probe
    // three times) and planned on every change. A box keeps max_rules_per_box rules, of which
    // max_regex_rules_per_box regex ones; one more is 409 with the limit named, another box is
    // not affected, a deleted rule makes room, and a request sent again is answered with its rule.
    void rulesPerBoxAreCapped()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"caps"_qs);
        c.maxRulesPerBox = 3;
        c.maxRegexRulesPerBox = 1;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now + 3600, now + 7200, u"Film"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs);
        const auto title = [](const QString &t) { return QJsonObject{{u"kind"_qs, u"title"_qs}, {u"title"_qs, t}}; };
        const auto regex = [](const QString &p) { return QJsonObject{{u"kind"_qs, u"regex"_qs}, {u"pattern"_qs, p}}; };

        // One cost probe for a new pattern, however many times the request validates it.
        const quint64 probes = iptv::dvr::regexCostProbes();
        const HttpResult first = call("POST", port, u"/api/rules"_qs, a, regex(u"^Fil+m capped$"_qs));
        QVERIFY2(first.status == 201, first.body.constData());
        QCOMPARE(iptv::dvr::regexCostProbes(), probes + 1);
        const HttpResult secondRegex = call("POST", port, u"/api/rules"_qs, a, regex(u"^News"_qs));
        QVERIFY2(secondRegex.status == 409, secondRegex.body.constData());
        QVERIFY2(secondRegex.json().value(u"detail"_qs).toString().contains(u"max_regex_rules_per_box 1"), secondRegex.body.constData());
        QCOMPARE(iptv::dvr::regexCostProbes(), probes + 1); // refused before the probe

        const QList<std::pair<QByteArray, QByteArray>> once{{"Idempotency-Key", "caps-3"}};
        QCOMPARE(call("POST", port, u"/api/rules"_qs, a, title(u"Two"_qs)).status, 201);
        const HttpResult third = call("POST", port, u"/api/rules"_qs, a, title(u"Three"_qs), once);
        QVERIFY2(third.status == 201, third.body.constData());
        const HttpResult fourth = call("POST", port, u"/api/rules"_qs, a, title(u"Four"_qs));
        QVERIFY2(fourth.status == 409, fourth.body.constData());
        QCOMPARE(fourth.json().value(u"error"_qs).toString(), u"rule-limit"_qs);
        QVERIFY2(fourth.json().value(u"detail"_qs).toString().contains(u"has 3 rules")
                     && fourth.json().value(u"detail"_qs).toString().contains(u"max_rules_per_box 3"),
                 fourth.body.constData());
        // The third sent again (its answer lost): its rule, not a refusal.
        const HttpResult again = call("POST", port, u"/api/rules"_qs, a, title(u"Three"_qs), once);
        QVERIFY2(again.status == 200, again.body.constData());
        QCOMPARE(again.json().value(u"rule"_qs).toObject().value(u"id"_qs), third.json().value(u"rule"_qs).toObject().value(u"id"_qs));
        // A title rule made a regex one: the regex limit.
        const QString thirdId = QString::number(third.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger());
        const HttpResult toRegex = call("PUT", port, u"/api/rules/"_qs + thirdId, a, regex(u"^Three"_qs));
        QVERIFY2(toRegex.status == 409, toRegex.body.constData());
        // Changing a rule is not adding one.
        const HttpResult changed = call("PUT", port, u"/api/rules/"_qs + thirdId, a, title(u"Three again"_qs));
        QVERIFY2(changed.status == 200, changed.body.constData());

        QCOMPARE(call("POST", port, u"/api/rules"_qs, b, title(u"Four"_qs)).status, 201);
        QCOMPARE(call("DELETE", port, u"/api/rules/"_qs + thirdId, a).status, 204);
        QCOMPARE(call("POST", port, u"/api/rules"_qs, a, title(u"Four"_qs)).status, 201);
    }

    // The operator's tier (operatorPriority) comes before the turns of viewers: with one stream,
    // a box's newer rule loses to another box's older one until the operator gives it a tier. A
    // box sending a tier (on a new rule, or a change of its rule's) is 403 naming the field; a
    // box sending back the tier it read, or none, keeps the operator's. The operator's tier is
    // 0-100: outside it is 400 naming the field.
    void operatorPriorityIsTheOperators()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"tier"_qs);
        c.capacity = 1;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(),
                           {{u"one"_qs, now + 3600, now + 7200, u"Film"_qs, {}}, {u"two"_qs, now + 3600, now + 7200, u"News"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-A"_qs), b = ticket(u"STB-B"_qs), op = "operator-secret";
        const auto title = [](const QString &t) { return QJsonObject{{u"kind"_qs, u"title"_qs}, {u"title"_qs, t}}; };
        const auto plannedOf = [](const HttpResult &r) { return r.json().value(u"planned"_qs).toArray().size(); };

        const HttpResult film = call("POST", port, u"/api/rules"_qs, b, title(u"Film"_qs));
        QVERIFY2(film.status == 201 && plannedOf(film) == 1, film.body.constData());
        const HttpResult news = call("POST", port, u"/api/rules"_qs, a, title(u"News"_qs));
        QVERIFY2(news.status == 201 && plannedOf(news) == 0, news.body.constData()); // the older rule's stream
        QVERIFY(!news.json().value(u"rule"_qs).toObject().contains(u"operatorPriority"_qs)); // 0: left out
        const QString newsPath = u"/api/rules/"_qs + QString::number(news.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger());

        // A box setting it: 403, naming the field, nothing changed.
        QJsonObject raised = title(u"News"_qs);
        raised.insert(u"operatorPriority"_qs, 1);
        for (const auto &[verb, path] : {std::pair<QByteArray, QString>{"POST", u"/api/rules"_qs}, {"PUT", newsPath}}) {
            const HttpResult refused = call(verb, port, path, a, raised);
            QVERIFY2(refused.status == 403 && refused.json().value(u"error"_qs).toString() == u"forbidden"
                         && refused.json().value(u"detail"_qs).toString().startsWith(u"operatorPriority"),
                     refused.body.constData());
        }
        QCOMPARE(call("GET", port, u"/api/rules"_qs, a).json().value(u"rules"_qs).toArray().size(), 1);

        // Nor the operator out of 0-100: 400 naming the field and the range.
        for (const int tier : {-1, 101}) {
            QJsonObject outside = title(u"News"_qs);
            outside.insert(u"operatorPriority"_qs, tier);
            const HttpResult refused = call("PUT", port, newsPath, op, outside);
            QVERIFY2(refused.status == 400 && refused.json().value(u"error"_qs).toString() == u"bad-request"
                         && refused.json().value(u"detail"_qs).toString().contains(u"operatorPriority: %1 is outside 0-100"_qs.arg(tier)),
                     refused.body.constData());
        }
        QVERIFY(!call("GET", port, newsPath, op).json().contains(u"operatorPriority"_qs));

        // The operator sets it: STB-A's rule takes the stream from STB-B's older one.
        const HttpResult tiered = call("PUT", port, newsPath, op, raised);
        QVERIFY2(tiered.status == 200 && plannedOf(tiered) == 1, tiered.body.constData());
        QCOMPARE(tiered.json().value(u"rule"_qs).toObject().value(u"operatorPriority"_qs).toInt(), 1);
        const QJsonArray lostByB = call("GET", port, u"/api/upcoming"_qs, b).json().value(u"skipped"_qs).toArray();
        QCOMPARE(lostByB.size(), 1);
        QCOMPARE(lostByB.at(0).toObject().value(u"reason"_qs).toString(), u"conflict"_qs);

        // The box changes its rule: with the tier it read, or without one, the tier stays.
        QJsonObject read = call("GET", port, newsPath, a).json();
        QCOMPARE(read.value(u"operatorPriority"_qs).toInt(), 1);
        read.insert(u"postPadding"_qs, 60);
        const HttpResult sentBack = call("PUT", port, newsPath, a, read);
        QVERIFY2(sentBack.status == 200, sentBack.body.constData());
        QJsonObject without = title(u"News"_qs);
        without.insert(u"priority"_qs, 3);
        const HttpResult noTier = call("PUT", port, newsPath, a, without);
        QVERIFY2(noTier.status == 200 && plannedOf(noTier) == 1, noTier.body.constData());
        QCOMPARE(call("GET", port, newsPath, a).json().value(u"operatorPriority"_qs).toInt(), 1);
        // ... and the operator takes it back.
        QJsonObject back = title(u"News"_qs);
        back.insert(u"operatorPriority"_qs, 0);
        const HttpResult untiered = call("PUT", port, newsPath, op, back);
        QVERIFY2(untiered.status == 200 && plannedOf(untiered) == 0, untiered.body.constData());
    }

    // Review: a rule's window time zone was opened as a path below /usr/share/zoneinfo, and a
    // single rule's was never checked, so a rule stored with "../../../<a FIFO>" blocked diver's
    // start for good. Such a rule is refused with its reason (logged, and on a PUT), the others
    // load and diver starts.
    void storedRuleWithAPathForAZoneDoesNotBlockTheStart()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"zonepath"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now + 3600, now + 7200, u"Film"_qs, {}}}));
        const QString fifo = m_dir.filePath(u"zonepath.fifo"_qs);
        QVERIFY(::mkfifo(QFile::encodeName(fifo).constData(), 0600) == 0);
        const QString zone = u"../../.."_qs + fifo;
        const QByteArray a = ticket(u"STB-A"_qs);
        {
            DiverServer diver(c);
            QString error;
            QVERIFY2(diver.start(&error), qPrintable(error));
            QCOMPARE(call("POST", diver.httpPort(), u"/api/rules"_qs, a, {{u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Film"_qs}}).status, 201);
            const HttpResult refused = call("POST", diver.httpPort(), u"/api/rules"_qs, a,
                                            {{u"kind"_qs, u"single"_qs}, {u"channel"_qs, u"one"_qs}, {u"start"_qs, now + 3600},
                                             {u"window"_qs, QJsonObject{{u"timeZone"_qs, zone}}}});
            QVERIFY2(refused.status == 400 && refused.json().value(u"detail"_qs).toString().contains(u"window.timeZone"),
                     refused.body.constData());
        }
        {
            // Stored before the check existed.
            QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, u"zonepath"_qs);
            const auto closeDb = qScopeGuard([&db] {
                db.close();
                db = {};
                QSqlDatabase::removeDatabase(u"zonepath"_qs);
            });
            db.setDatabaseName(c.effectiveDatabase());
            QVERIFY(db.open());
            QSqlQuery q(db);
            q.prepare(u"INSERT INTO dvr_rules (kind, owner, enabled, priority, created, spec) VALUES ('single', 'STB-A', 1, 0, ?, ?)"_qs);
            q.addBindValue(now);
            q.addBindValue(QString::fromUtf8(QJsonDocument(QJsonObject{{u"kind"_qs, u"single"_qs}, {u"owner"_qs, u"STB-A"_qs},
                                                                       {u"channel"_qs, u"one"_qs}, {u"start"_qs, now + 3600},
                                                                       {u"window"_qs, QJsonObject{{u"timeZone"_qs, zone}}}})
                                                 .toJson(QJsonDocument::Compact)));
            QVERIFY2(q.exec(), qPrintable(q.lastError().text()));
        }
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const HttpResult rules = call("GET", diver.httpPort(), u"/api/rules"_qs, a);
        const QJsonArray listed = rules.json().value(u"rules"_qs).toArray();
        QCOMPARE(listed.size(), 2);
        // The stored rule is refused with its reason when it is saved again.
        for (const QJsonValue &r : listed) {
            if (r.toObject().value(u"kind"_qs).toString() != u"single")
                continue;
            const HttpResult again = call("PUT", diver.httpPort(), u"/api/rules/"_qs + QString::number(r.toObject().value(u"id"_qs).toInteger()), a,
                                          r.toObject());
            QVERIFY2(again.status == 400 && again.json().value(u"detail"_qs).toString().contains(u"window.timeZone"), again.body.constData());
        }
    }

    // Catch-up of the hour a spring DST change skips in the server's local time (Europe/Berlin
    // here): its chunk's name is a UTC time, served like any other, never read as a local time
    // (which that hour is not, and was refused as older than the window).
    void catchupOfTheHourSpringDstSkips()
    {
        const QByteArray oldTz = qgetenv("TZ");
        qputenv("TZ", "Europe/Berlin");
        tzset();
        const auto restoreTz = qScopeGuard([&oldTz] {
            if (oldTz.isNull())
                qunsetenv("TZ");
            else
                qputenv("TZ", oldTz);
            tzset();
        });
        // The last spring-forward: local time jumps from standard time an hour ahead, so the
        // local hour after it (on the UTC clock, the hour starting at the change + the standard
        // offset) is no local time.
        const QTimeZone berlin("Europe/Berlin");
        QVERIFY(berlin.isValid());
        QTimeZone::OffsetData change = berlin.previousTransition(QDateTime::currentDateTimeUtc());
        while (change.atUtc.isValid() && change.daylightTimeOffset == 0)
            change = berlin.previousTransition(change.atUtc);
        QVERIFY(change.atUtc.isValid());
        const qint64 skippedMs = (change.atUtc.toMSecsSinceEpoch() / 1000 + change.standardTimeOffset) * 1000;
        const QString chunk = iptv::dvr::ArchiveWriter::chunkName(skippedMs);
        QVERIFY2(!QDateTime::fromString(chunk, u"yyyyMMdd'T'HHmmss'Z'"_qs).isValid(), qPrintable(chunk)); // read as local: no time
        QCOMPARE(iptv::dvr::ArchiveWriter::chunkStartMs(chunk), std::optional<qint64>(skippedMs));

        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"dst"_qs);
        c.archivedChannels = {u"two"_qs};
        c.archiveHours = int((now * 1000 - skippedMs) / 3600000) + 2; // the window holds that hour
        QVERIFY(writeGuide(c.guideFile, {u"two"_qs}, m_recast->port(), {{u"two"_qs, now - 20, now + 3600, u"Live"_qs, {}}}));
        QByteArray ts;
        for (int i = 0; i < 10; ++i)
            ts += QByteArray(1, char(0x47)) + QByteArray(187, char(i));
        QString segment;
        {
            iptv::dvr::ArchiveWriter writer;
            QString error;
            QVERIFY2(writer.open({QDir(c.dataDir).filePath(u"storage/archive/two"_qs), 3600 * 1000, 0}, &error), qPrintable(error));
            iptv::dvr::StorageError written;
            QVERIFY2(writer.writeSegment(ts, skippedMs + 60000, 1000, false, &written), qPrintable(written.toString()));
            segment = chunk + u'/' + writer.lastWritten().file;
        }
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const HttpResult got = call("GET", diver.httpPort(), u"/catchup/two/"_qs + segment, ticket(u"STB-DST"_qs));
        QVERIFY2(got.status == 200, got.body.constData());
        QCOMPARE(got.body, ts);
    }

    // diver given relative storage paths (`diver --data-dir data`): the orphan sweep at the
    // start removes the copy folders no copy names once idle, never a finished copy's (whose row
    // a diver of before wrote with the relative path), nor a folder not named as a copy's.
    void orphanSweepUnderRelativeStorage()
    {
        const QString previous = QDir::currentPath();
        QVERIFY(QDir::setCurrent(m_dir.path()));
        const auto back = qScopeGuard([&previous] { QDir::setCurrent(previous); });
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"relative"_qs);
        c.dataDir = u"relative"_qs; // against the working folder
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now + 3600, now + 7200, u"Later"_qs, {}}}));
        QVERIFY(QDir().mkpath(c.dataDir));
        const qint64 airing = now / 60 * 60 - 7200;
        const QString iso = QDateTime::fromSecsSinceEpoch(airing, Qt::UTC).toString(u"yyyyMMdd'T'HHmmss'Z'"_qs);
        QString error, finished;
        {
            iptv::diver::RecordingStore store;
            QVERIFY2(store.open(c.effectiveDatabase(), &error), qPrintable(error));
            iptv::diver::CopyRow row;
            row.channelId = u"one"_qs;
            row.airingStart = row.recordStart = airing;
            row.recordStop = airing + 60;
            row.state = iptv::diver::CopyState::Finished;
            row.segments = 1;
            const auto made = store.ensureCopy(row, &error, [&](qint64 id) {
                return QStringLiteral("relative/storage/recordings/one/%1-copy%2").arg(iso).arg(id);
            });
            QVERIFY2(made, qPrintable(error));
            QVERIFY(QDir::isRelativePath(made->directory));
            finished = QDir(m_dir.path()).filePath(made->directory);
            iptv::diver::RecordingRow viewer;
            viewer.owner = u"STB-REL"_qs;
            viewer.ruleId = 1;
            viewer.channelId = row.channelId;
            viewer.title = u"Earlier"_qs;
            viewer.airingStart = viewer.recordStart = airing;
            viewer.airingStop = viewer.recordStop = airing + 60;
            viewer.copyId = made->id;
            viewer.created = airing;
            QVERIFY2(store.insertRecording(viewer, &error).value_or(0) > 0, qPrintable(error));
        }
        const QString recordings = m_dir.filePath(u"relative/storage/recordings/one"_qs);
        const QString orphan = QDir(recordings).filePath(u"20260101T120000Z-copy999"_qs);
        const QString notACopy = QDir(recordings).filePath(u"notes"_qs);
        for (const QString &folder : {finished, orphan, notACopy}) {
            QVERIFY(QDir().mkpath(folder));
            QFile f(QDir(folder).filePath(u"segment.ts"_qs));
            QVERIFY(f.open(QIODevice::WriteOnly) && f.write("ts") == 2);
            f.close();
            QVERIFY(age(folder, 1200));
        }
        DiverServer diver(c);
        QVERIFY2(diver.start(&error), qPrintable(error));
        QTRY_VERIFY_WITH_TIMEOUT(!QFileInfo::exists(orphan), 10000);
        QVERIFY(QFileInfo::exists(QDir(finished).filePath(u"segment.ts"_qs)));
        QVERIFY(QFileInfo::exists(notACopy));
        QVERIFY2(QDir::isAbsolutePath(diver.config().dataDir), qPrintable(diver.config().dataDir));
    }

    // Channel ids from the guide are not paths: a copy of "sky/news" or of ".." and the archive
    // of "a/b" each get one folder of their own below recordings/ or archive/ (the ids'
    // '/' and leading dots encoded), which neither the orphan sweep nor retention takes for
    // something else; a plain id's folders are named by it as before.
    void channelIdsAreNotPaths()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"ids"_qs);
        c.capacity = 4;
        c.archivedChannels = {u"a/b"_qs};
        c.sourceTemplate = QStringLiteral("http://127.0.0.1:%1/live/one.ts").arg(m_recast->port()); // every id records "one"
        const QStringList ids{u"sky/news"_qs, u".."_qs, u"plain"_qs, u"a/b"_qs};
        QList<Airing> airings;
        for (const QString &id : ids)
            airings.append({id, now - 20, now + 3600, u"News"_qs, {}});
        QVERIFY(writeGuide(c.guideFile, ids, m_recast->port(), airings));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray box = ticket(u"STB-IDS"_qs);
        for (const QString &id : {u"sky/news"_qs, u".."_qs, u"plain"_qs}) {
            const HttpResult made = call("POST", port, u"/api/recordings"_qs, box, {{u"channel"_qs, id}, {u"start"_qs, now - 20}});
            QVERIFY2(made.status == 201, made.body.constData());
        }
        QTRY_COMPARE_WITH_TIMEOUT(diver.activeCopies().size(), 3, 10000);
        const QString storage = QDir(c.dataDir).filePath(u"storage"_qs);
        const QHash<QString, QString> folderOf{{u"sky/news"_qs, u"sky%2Fnews"_qs}, {u".."_qs, u"%2E%2E"_qs}, {u"plain"_qs, u"plain"_qs}};
        for (const qint64 id : diver.activeCopies()) {
            const auto copy = diver.recordings().copy(id, &error);
            QVERIFY2(copy, qPrintable(error));
            const QFileInfo folder(QDir::cleanPath(copy->directory));
            QCOMPARE(folder.path(), QDir(storage).filePath(u"recordings/"_qs + folderOf.value(copy->channelId)));
            QVERIFY2(folder.fileName().endsWith(QStringLiteral("-copy%1").arg(id)), qPrintable(copy->directory));
            const auto holdsSegments = [&] {
                iptv::dvr::ArchiveReader reader;
                QString e;
                return reader.load(copy->directory, &e) && !reader.segments().isEmpty();
            };
            QTRY_VERIFY_WITH_TIMEOUT(holdsSegments(), 20000);
        }
        const QString archive = QDir(storage).filePath(u"archive/a%2Fb"_qs);
        QTRY_VERIFY_WITH_TIMEOUT(QDir(archive).entryList(QDir::Dirs | QDir::NoDotAndDotDot).size() >= 1, 20000);
        QCOMPARE(QDir(storage).entryList(QDir::AllEntries | QDir::NoDotAndDotDot), (QStringList{u"archive"_qs, u"recordings"_qs}));
        QCOMPARE(QDir(QDir(storage).filePath(u"archive"_qs)).entryList(QDir::Dirs | QDir::NoDotAndDotDot), QStringList{u"a%2Fb"_qs});

        // A folder of an older version for "a/b" (a level deeper) is no closed archive "a"
        // whose emptiness retention would remove with what is inside.
        const QString nested = QDir(storage).filePath(u"archive/x/y"_qs);
        {
            iptv::dvr::ArchiveWriter writer;
            QVERIFY2(writer.open({nested, 3600 * 1000, 0}, &error), qPrintable(error));
            iptv::dvr::StorageError written;
            QVERIFY2(writer.writeSegment(QByteArray(188 * 10, '\0'), (now - 3 * 3600) * 1000, 1000, false, &written),
                     qPrintable(written.toString()));
        }
        diver.stop();
        DiverServer again(c); // its first sweep at the start
        QVERIFY2(again.start(&error), qPrintable(error));
        QTRY_VERIFY_WITH_TIMEOUT(again.activeCopies().size() == 3, 10000);
        again.reconcile();
        QVERIFY(QFileInfo::exists(nested));
        QCOMPARE(QDir(QDir(storage).filePath(u"archive"_qs)).entryList(QDir::Dirs | QDir::NoDotAndDotDot),
                 (QStringList{u"a%2Fb"_qs, u"x"_qs}));
    }

    // "Record now" (what Hubris sends for a programme on air: the channel and the airing's start)
    // on an archived channel: the recording is a range of the archive, from the programme's start
    // when the archive holds it, else from the archive's first second; not from the key press.
    void recordNowOnAnArchivedChannelStartsAtTheProgrammesStart()
    {
        const qint64 t0 = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"archivednow"_qs);
        c.archivedChannels = {u"one"_qs, u"two"_qs};
        c.archiveHours = 1;
        const qint64 lateStart = t0 + 8, end = t0 + 22;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(),
                           {{u"one"_qs, t0 - 60, lateStart, u"Before"_qs, {}}, {u"one"_qs, lateStart, end, u"Late Show"_qs, {}},
                            {u"one"_qs, end, t0 + 3600, u"After"_qs, {}}, {u"two"_qs, t0 - 60, end, u"Long Show"_qs, {}},
                            {u"two"_qs, end, t0 + 3600, u"Next"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-N"_qs);
        // Both archives run; "Late Show" has been on for a few seconds when the viewer presses record.
        QJsonObject from;
        QTRY_VERIFY_WITH_TIMEOUT((from = call("GET", port, u"/api/status"_qs, a).json().value(u"archiveFrom"_qs).toObject()).size() == 2,
                                 20000);
        QVERIFY(from.value(u"one"_qs).toInteger() <= lateStart);
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentSecsSinceEpoch() >= lateStart + 5, 20000);
        for (const auto &[channel, start] : {std::pair{u"one"_qs, lateStart}, std::pair{u"two"_qs, t0 - 60}}) {
            const HttpResult made = call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, channel}, {u"start"_qs, start}});
            QVERIFY2(made.status == 201, made.body.constData());
        }
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).size(), 2, 10000);
        QJsonObject late, longShow;
        for (const QJsonValue &v : recordingsOf(port, a))
            (v.toObject().value(u"channel"_qs).toString() == u"one" ? late : longShow) = v.toObject();
        QVERIFY(late.value(u"archived"_qs).toBool() && longShow.value(u"archived"_qs).toBool());
        QCOMPARE(late.value(u"recordStart"_qs).toInteger(), lateStart); // the archive holds it from its start
        QCOMPARE(longShow.value(u"recordStart"_qs).toInteger(), from.value(u"two"_qs).toInteger()); // began before the archive

        // While the programme runs: recording, its playlist growing.
        const QString id = QString::number(late.value(u"id"_qs).toInteger());
        const HttpResult growing = call("GET", port, u"/play/"_qs + id + u"/index.m3u8"_qs, a);
        if (QDateTime::currentSecsSinceEpoch() < end - 1) {
            QCOMPARE(recordingOf(port, a, id).value(u"state"_qs).toString(), u"recording"_qs);
            QVERIFY2(!iptv::media::checkMediaPlaylist(growing.body).ended, growing.body.constData());
            QCOMPARE(growing.header("X-Archive-Coverage"), QByteArray("growing"));
        }
        // Finished only once the archive holds the range's end (its times are when the media
        // arrived): the moment it says so, the playlist has ended and reaches the end, nothing
        // missing. The whole programme plays, read by ffprobe too.
        QJsonObject done;
        QTRY_COMPARE_WITH_TIMEOUT((done = recordingOf(port, a, id)).value(u"state"_qs).toString(), u"finished"_qs, 30000);
        QCOMPARE(done.value(u"missing"_qs).toArray().size(), 0);
        const HttpResult played = call("GET", port, u"/play/"_qs + id + u"/index.m3u8"_qs, a);
        const iptv::media::HlsCheck vod = iptv::media::checkMediaPlaylist(played.body);
        QVERIFY2(vod.ok, qPrintable(vod.problems.join(u"; "_qs)));
        QVERIFY2(vod.ended, played.body.constData());
        QCOMPARE(played.header("X-Archive-Coverage"), QByteArray("complete"));
        const qint64 first = vod.segments.first().programDateTime.toSecsSinceEpoch();
        QVERIFY2(first <= lateStart && first >= lateStart - 2, qPrintable(vod.segments.first().programDateTime.toString(Qt::ISODate)));
        const auto &lastSegment = vod.segments.last();
        const qint64 lastEndMs = lastSegment.programDateTime.toMSecsSinceEpoch() + qRound64(lastSegment.duration * 1000);
        // (Up to the end, or to a hole of the dates just before it when the headend runs slower
        // than the clock under load: a segment of 1 s arriving in up to 3.)
        QVERIFY2(lastEndMs > end * 1000 - 2000, played.body.constData());
        double listed = 0;
        for (const auto &segment : vod.segments)
            listed += segment.duration;
        if (QStandardPaths::findExecutable(u"ffprobe"_qs).isEmpty())
            QSKIP("ffprobe is not installed: the playlist was checked by our own reader only");
        QProcess probe;
        QSignalSpy probed(&probe, &QProcess::finished);
        probe.start(u"ffprobe"_qs, {u"-v"_qs, u"error"_qs, u"-show_entries"_qs, u"format=duration"_qs, u"-of"_qs,
                                    u"default=nw=1:nk=1"_qs, recordingOf(port, a, id).value(u"playlist"_qs).toString()});
        QVERIFY(probed.wait(60000));
        const double seconds = probe.readAllStandardOutput().trimmed().toDouble();
        // Every segment listed plays (from the programme's start, as dated above: the media of
        // its 14 s, less what a headend slower than the clock under load did not send).
        QVERIFY2(probe.exitCode() == 0 && qAbs(seconds - listed) < 1, qPrintable(QStringLiteral("ffprobe: %1 s, the playlist: %2 s").arg(seconds).arg(listed)));
    }

    // A channel's id may hold a '/' (XMLTV ids are free text: one made from a name, "ABC
    // COMEDY/ABC KIDS", or from a site's path). Its routes take it percent-encoded as one segment
    // (bbc.co.uk%2Fone), and its archive is one folder (archive/bbc.co.uk%2Fone), not a folder
    // "bbc.co.uk" that retention would take for the archive of a channel archived no more.
    void channelIdWithASlash()
    {
        const qint64 t0 = QDateTime::currentSecsSinceEpoch();
        const QString id = u"bbc.co.uk/one"_qs, encoded = u"bbc.co.uk%2Fone"_qs;
        DiverConfig c = config(u"slash"_qs);
        c.archivedChannels = {id};
        c.archiveHours = 1;
        QVERIFY(writeGuide(c.guideFile, {id}, m_recast->port(),
                           {{id, t0 - 60, t0 + 3600, u"News"_qs, {}}, {id, t0 + 3600, t0 + 5400, u"Later Show"_qs, {}}}, {{id, u"one"_qs}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-SLASH"_qs);
        QJsonObject status;
        QTRY_VERIFY_WITH_TIMEOUT((status = call("GET", port, u"/api/status"_qs, a).json()).value(u"archiveFrom"_qs).toObject().contains(id),
                                 20000);
        const QString storage = QDir(c.dataDir).filePath(u"storage/archive"_qs);
        QVERIFY2(QFileInfo(QDir(storage).filePath(encoded)).isDir(), qPrintable(QDir(storage).entryList().join(u", ")));
        QVERIFY(!QFileInfo::exists(QDir(storage).filePath(u"bbc.co.uk"_qs)));

        // Timeshift by the encoded id with the channel's token; its segment URIs resolve under it.
        const QString token = status.value(u"archiveTokens"_qs).toObject().value(id).toString();
        QVERIFY2(token.startsWith(u"pt1."), QJsonDocument(status).toJson().constData());
        // (One arg() for all: a second would take the "%2" of "%2F" for its place.)
        const QUrl timeshift(QStringLiteral("http://127.0.0.1:%1/catchup/%2/archive-%3-now.m3u8?playback=%4")
                                 .arg(QString::number(port), encoded,
                                      QString::number(status.value(u"archiveFrom"_qs).toObject().value(id).toInteger()), token));
        QVERIFY2(timeshift.toString(QUrl::FullyEncoded).contains(encoded), qPrintable(timeshift.toString(QUrl::FullyEncoded)));
        HttpResult played;
        QTRY_VERIFY_WITH_TIMEOUT((played = httpSend(m_nam, "GET", timeshift, {}, {})).status == 200 && played.body.contains(".ts?"), 20000);
        QString segmentLine;
        for (const QByteArray &line : played.body.split('\n')) {
            if (!line.isEmpty() && !line.startsWith('#'))
                segmentLine = QString::fromLatin1(line);
        }
        const HttpResult segment = httpSend(m_nam, "GET", timeshift.resolved(QUrl(segmentLine)), {}, {});
        QVERIFY2(segment.status == 200 && segment.body.startsWith(char(0x47)),
                 qPrintable(timeshift.resolved(QUrl(segmentLine)).toString() + u": "_qs + QString::fromLatin1(segment.body.left(300))));

        // What is on now recorded (a range of the archive), and one airing of a series on it
        // skipped through a path that names the channel.
        const HttpResult made = call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, id}, {u"start"_qs, t0 - 60}});
        QVERIFY2(made.status == 201, made.body.constData());
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).size(), 1, 10000);
        const QJsonObject recording = recordingsOf(port, a).first().toObject();
        QCOMPARE(recording.value(u"channel"_qs).toString(), id);
        QVERIFY(recording.value(u"archived"_qs).toBool());
        const HttpResult list = httpSend(m_nam, "GET", QUrl(recording.value(u"playlist"_qs).toString()), {}, {});
        QVERIFY2(list.status == 200 && list.body.contains(".ts?"), list.body.constData());
        const HttpResult rule = call("POST", port, u"/api/rules"_qs, a, {{u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Later Show"_qs}, {u"channel"_qs, id}});
        QVERIFY2(rule.status == 201, rule.body.constData());
        const qint64 ruleId = rule.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger();
        const HttpResult skipped = call("PUT", port, QStringLiteral("/api/rules/%1/airings/%2/%3").arg(QString::number(ruleId), encoded, QString::number(t0 + 3600)), a,
                                        {{u"cancelled"_qs, true}});
        QVERIFY2(skipped.status == 200, skipped.body.constData());
        QCOMPARE(skipped.json().value(u"skipped"_qs).toArray().first().toObject().value(u"reason"_qs).toString(), u"cancelled"_qs);
    }

    // The storage outlived its database (made again, or an older one restored): the archive's
    // folder names a higher fencing epoch than the new lease table gives. The node holding the
    // lease raises its epoch past the folder's (only it, holding it with its own) and records on,
    // instead of being refused by the folder for good.
    void archiveOutlivingItsDatabaseIsRecordedOn()
    {
        const qint64 t0 = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"oldepoch"_qs);
        c.archivedChannels = {u"one"_qs};
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, t0 - 60, t0 + 3600, u"Long"_qs, {}}}));
        const QString archive = QDir(c.dataDir).filePath(u"storage/archive/one"_qs);
        QVERIFY(QDir().mkpath(archive));
        QFile marker(QDir(archive).filePath(u".epoch-7"_qs));
        QVERIFY(marker.open(QIODevice::WriteOnly));
        marker.close();
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        auto segments = [&] {
            iptv::dvr::ArchiveReader reader;
            QString e;
            return reader.load(archive, &e) ? reader.segments() : QList<iptv::dvr::ArchiveSegment>{};
        };
        QTRY_VERIFY_WITH_TIMEOUT(segments().size() >= 2, 30000);
        QCOMPARE(iptv::dvr::ArchiveWriter::folderEpoch(archive), 8);
        for (const iptv::dvr::ArchiveSegment &s : segments())
            QCOMPARE(s.epoch, 8);
        iptv::dvr::LeaseStore leases;
        QVERIFY2(leases.open(c.effectiveDatabase(), &error), qPrintable(error));
        const auto jobs = leases.jobs(&error);
        QVERIFY2(jobs, qPrintable(error));
        const auto it = std::find_if(jobs->cbegin(), jobs->cend(), [](const iptv::dvr::LeaseJob &j) { return j.id == u"archive:one"; });
        QVERIFY(it != jobs->cend());
        QCOMPARE(it->epoch, 8);
    }

    // A recording on an archived channel is a range of the archive, with no copy of its own: when
    // the channel is archived no more (the operator took it out of [archive] channels; in a
    // cluster, the last node listing it forgotten), diver started again without it still serves
    // the recording (its playlist read by ffprobe) and retention keeps the chunks it references,
    // while the rest of the old archive goes; deleted, the recording takes the archive with it.
    void recordingOutlivesItsChannelsArchive()
    {
        const qint64 t0 = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"unarchived"_qs);
        c.archivedChannels = {u"one"_qs};
        c.archiveHours = 1;
        c.archiveStaleSeconds = 5;
        const qint64 showStart = t0 + 4, showEnd = t0 + 12;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(),
                           {{u"one"_qs, t0 - 60, showStart, u"Before"_qs, {}}, {u"one"_qs, showStart, showEnd, u"Show"_qs, {}},
                            {u"one"_qs, showEnd, t0 + 3600, u"After"_qs, {}}}));
        const QByteArray a = ticket(u"STB-U"_qs);
        const QString archive = QDir(c.dataDir).filePath(u"storage/archive/one"_qs);
        QString id;
        QString error;
        {
            DiverServer diver(c);
            QVERIFY2(diver.start(&error), qPrintable(error));
            const quint16 port = diver.httpPort();
            const HttpResult made = call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, u"one"_qs}, {u"start"_qs, showStart}});
            QVERIFY2(made.status == 201, made.body.constData());
            QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).size(), 1, 10000);
            const QJsonObject r = recordingsOf(port, a).at(0).toObject();
            QVERIFY(r.value(u"archived"_qs).toBool());
            id = QString::number(r.value(u"id"_qs).toInteger());
            QTRY_COMPARE_WITH_TIMEOUT(recordingOf(port, a, id).value(u"state"_qs).toString(), u"finished"_qs, 40000);
        }
        const qint64 stoppedAtMs = QDateTime::currentMSecsSinceEpoch();
        // The chunks the recording is in; an older chunk beside them that nothing references (what
        // the archive held of the hours before).
        iptv::dvr::ArchiveReader reader;
        QVERIFY2(reader.load(archive, &error), qPrintable(error));
        QStringList held;
        for (const auto &chunk : reader.chunks())
            if (chunk.startMs() < showEnd * 1000 && chunk.endMs() > showStart * 1000)
                held << chunk.name;
        QVERIFY(!held.isEmpty());
        QTemporaryDir older;
        iptv::dvr::ArchiveWriter writer;
        QVERIFY2(writer.open({older.path(), 3600 * 1000, 0}, &error), qPrintable(error));
        iptv::dvr::StorageError e;
        QVERIFY2(writer.writeSegment(QByteArray(188 * 10, '\0'), (t0 - 3 * 3600) * 1000, 6000, false, &e), qPrintable(e.toString()));
        const QStringList made = QDir(older.path()).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
        QCOMPARE(made.size(), 1);
        const QString oldChunk = made.first();
        QVERIFY(QDir().rename(QDir(older.path()).filePath(oldChunk), QDir(archive).filePath(oldChunk)));
        // Nothing written into it for [archive] stale_seconds: nothing writes it any more.
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentMSecsSinceEpoch() > stoppedAtMs + 6000, 15000);

        c.archivedChannels.clear();
        DiverServer diver(c);
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        QVERIFY(diver.archivedChannels().isEmpty());
        const QJsonObject r = recordingOf(port, a, id);
        QCOMPARE(r.value(u"state"_qs).toString(), u"finished"_qs);
        QCOMPARE(r.value(u"reason"_qs).toString(), QString()); // read from the archive: complete
        QVERIFY2(r.value(u"missing"_qs).toArray().isEmpty(), QJsonDocument(r).toJson().constData());
        const HttpResult played = call("GET", port, u"/play/"_qs + id + u"/index.m3u8"_qs, a);
        QVERIFY2(played.status == 200, played.body.constData());
        const iptv::media::HlsCheck vod = iptv::media::checkMediaPlaylist(played.body);
        QVERIFY2(vod.ok && vod.ended && !vod.segments.isEmpty(), played.body.constData());
        const HttpResult segment = call("GET", port, u"/play/"_qs + id + u"/"_qs + vod.segments.first().uri, a);
        QVERIFY2(segment.status == 200 && !segment.body.isEmpty(), segment.body.left(200).constData());
        // Retention sweeps at the start: the unreferenced old chunk goes, the recording's stay.
        QTRY_VERIFY_WITH_TIMEOUT(!QFileInfo::exists(QDir(archive).filePath(oldChunk)), 10000);
        for (const QString &chunk : std::as_const(held))
            QVERIFY2(QFileInfo::exists(QDir(archive).filePath(chunk)), qPrintable(chunk));
        if (QStandardPaths::findExecutable(u"ffprobe"_qs).isEmpty())
            QSKIP("ffprobe is not installed: the playlist was checked by our own reader only");
        double listed = 0;
        for (const auto &s : vod.segments)
            listed += s.duration;
        QProcess probe;
        QSignalSpy probed(&probe, &QProcess::finished);
        probe.start(u"ffprobe"_qs, {u"-v"_qs, u"error"_qs, u"-show_entries"_qs, u"format=duration"_qs, u"-of"_qs,
                                    u"default=nw=1:nk=1"_qs, r.value(u"playlist"_qs).toString()});
        QVERIFY(probed.wait(60000));
        const double seconds = probe.readAllStandardOutput().trimmed().toDouble();
        QVERIFY2(probe.exitCode() == 0 && qAbs(seconds - listed) < 1,
                 qPrintable(QStringLiteral("ffprobe: %1 s, the playlist: %2 s; %3").arg(seconds).arg(listed).arg(QString::fromUtf8(probe.readAllStandardError()))));

        // Deleted: the recording's chunks are inside the archive's window (1 h), which a closed
        // archive keeps too (tst_retention::closedArchiveKeepsOnlyWhatRecordingsReference has the
        // folder going once past it).
        QCOMPARE(call("DELETE", port, u"/api/recordings/"_qs + id, a).status, 204);
    }

    // An archived channel whose source runs at 0.6 of real time (ffmpeg over UDP): the archive's
    // dates keep up with the clock. A programme that has just ended is "recording" until the
    // archive holds its end, then "finished" with that end in its playlist. The source dies in
    // the next programme: once the archive has been silent for [archive] stale_seconds after
    // that programme's end, it is "partial", with what is missing, and its playlist ends.
    void archiveOfASlowSourceKeepsToTheClock()
    {
        if (QStandardPaths::findExecutable(u"ffmpeg"_qs).isEmpty())
            QSKIP("ffmpeg is not installed: no source slower than real time");
        const quint16 udp = freeUdpPort();
        QVERIFY(udp != 0);
        const qint64 t0 = QDateTime::currentSecsSinceEpoch();
        const qint64 showStart = t0 + 8, showEnd = t0 + 20, nextEnd = t0 + 34;
        DiverConfig c = config(u"slowarchive"_qs);
        c.archivedChannels = {u"slow"_qs};
        c.sourceTemplate = QStringLiteral("udp://127.0.0.1:%1").arg(udp);
        c.archiveHours = 1;
        c.archiveStaleSeconds = 6;
        QVERIFY(writeGuide(c.guideFile, {u"slow"_qs}, m_recast->port(),
                           {{u"slow"_qs, t0 - 60, showStart, u"Before"_qs, {}}, {u"slow"_qs, showStart, showEnd, u"Slow Show"_qs, {}},
                            {u"slow"_qs, showEnd, nextEnd, u"Next Show"_qs, {}}, {u"slow"_qs, nextEnd, t0 + 3600, u"Later"_qs, {}}}));
        QProcess source;
        QString error;
        QVERIFY2(startSlowSource(source, udp, 0.6, &error), qPrintable(error));
        DiverServer diver(c);
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-S"_qs);
        for (const qint64 start : {showStart, showEnd}) {
            const HttpResult made = call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, u"slow"_qs}, {u"start"_qs, start}});
            QVERIFY2(made.status == 201, made.body.constData());
        }
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).size(), 1, 20000);
        const QJsonObject show = recordingsOf(port, a).at(0).toObject();
        const QString id = QString::number(show.value(u"id"_qs).toInteger());
        QCOMPARE(show.value(u"title"_qs).toString(), u"Slow Show"_qs);
        const qint64 from = show.value(u"recordStart"_qs).toInteger();
        QVERIFY(from >= showStart && from <= showStart + 10);

        // Finished only once the archive holds the end; the moment it is, the playlist reaches it.
        QJsonObject done;
        QTRY_VERIFY_WITH_TIMEOUT((done = recordingOf(port, a, id)).value(u"state"_qs).toString() != u"recording", 40000);
        const qint64 seenMs = QDateTime::currentMSecsSinceEpoch();
        QCOMPARE(done.value(u"state"_qs).toString(), u"finished"_qs);
        QCOMPARE(done.value(u"missing"_qs).toArray().size(), 0);
        HttpResult played = call("GET", port, u"/play/"_qs + id + u"/index.m3u8"_qs, a);
        iptv::media::HlsCheck vod = iptv::media::checkMediaPlaylist(played.body);
        QVERIFY2(vod.ok && vod.ended && !vod.segments.isEmpty(), played.body.constData());
        QCOMPARE(played.header("X-Archive-Coverage"), QByteArray("complete"));
        const qint64 firstMs = vod.segments.first().programDateTime.toMSecsSinceEpoch();
        const qint64 lastEndMs = vod.segments.last().programDateTime.toMSecsSinceEpoch() + qRound64(vod.segments.last().duration * 1000);
        // (The range may begin in a hole of the dates: the 0.67 s a 1 s segment of this source lags.)
        QVERIFY2(firstMs <= from * 1000 + 1000 && firstMs > from * 1000 - 3000, played.body.constData());
        // (Up to the end, or to a hole of the dates just before it, which the next segment follows.)
        QVERIFY2(lastEndMs > showEnd * 1000 - 1000, played.body.constData());
        // A seek 7 s into it (?start=): seconds of the wall clock from the recording's start, as
        // the box and the guide count them (7 s of this source's media are about 12 s of the
        // clock: counted in EXTINF the cut landed past the programme). The cut starts at the
        // segment holding that moment, or the next one when it falls in a hole of the dates, and
        // X-Playlist-Start says where; EXT-X-START names the point inside it. ffprobe reads it.
        {
            const qint64 targetMs = from * 1000 + 7000;
            const HttpResult seek = call("GET", port, u"/play/"_qs + id + u"/index.m3u8?start=7"_qs, a);
            const iptv::media::HlsCheck cut = iptv::media::checkMediaPlaylist(seek.body);
            QVERIFY2(cut.ok && cut.ended && !cut.segments.isEmpty(), seek.body.constData());
            bool ok = false;
            const double startsAt = seek.header("X-Playlist-Start").toDouble(&ok);
            QVERIFY2(ok, seek.header("X-Playlist-Start").constData());
            const qint64 cutMs = cut.segments.first().programDateTime.toMSecsSinceEpoch();
            QCOMPARE(qRound64(startsAt * 1000), cutMs - from * 1000);
            const qint64 cutEndMs = cutMs + qRound64(cut.segments.first().duration * 1000);
            qsizetype at = 0;
            while (at < vod.segments.size() && vod.segments[at].uri != cut.segments.first().uri)
                ++at;
            QVERIFY2(at < vod.segments.size(), seek.body.constData());
            const qint64 beforeEndMs = at == 0 ? 0
                : vod.segments[at - 1].programDateTime.toMSecsSinceEpoch() + qRound64(vod.segments[at - 1].duration * 1000);
            QVERIFY2((cutMs <= targetMs && targetMs < cutEndMs) || (cutMs > targetMs && beforeEndMs <= targetMs),
                     qPrintable(QStringLiteral("7 s in is %1; the cut starts at %2\n%3").arg(targetMs).arg(cutMs).arg(QString::fromLatin1(played.body))));
            if (cutMs < targetMs)
                QVERIFY2(seek.body.contains(QByteArray("#EXT-X-START:TIME-OFFSET=" + QByteArray::number((targetMs - cutMs) / 1000.0, 'f', 3)
                                                       + ",PRECISE=YES\n")),
                         seek.body.constData());
            QCOMPARE(cut.mediaSequence, vod.mediaSequence + at);
            if (!QStandardPaths::findExecutable(u"ffprobe"_qs).isEmpty()) {
                double listed = 0;
                for (const auto &segment : cut.segments)
                    listed += segment.duration;
                const double probed = probeSeconds(QStringLiteral("http://127.0.0.1:%1/play/%2/index.m3u8?start=7&ticket=%3")
                                                       .arg(port).arg(id).arg(QString::fromLatin1(QUrl::toPercentEncoding(QString::fromLatin1(a)))));
                QVERIFY2(qAbs(probed - listed) < 1, qPrintable(QStringLiteral("ffprobe: %1 s, the cut playlist: %2 s").arg(probed).arg(listed)));
            }
        }
        const HttpResult after = call("GET", port, QStringLiteral("/catchup/slow/archive-%1-10.m3u8").arg(showEnd), a);
        const iptv::media::HlsCheck next = iptv::media::checkMediaPlaylist(after.body);
        // Short of the end, the segment after the recording's last is in the archive already and
        // follows it, within such a hole.
        qsizetype following = 0;
        while (following < next.segments.size() && next.segments[following].programDateTime.toMSecsSinceEpoch() < lastEndMs)
            ++following;
        if (lastEndMs < showEnd * 1000)
            QVERIFY2(following < next.segments.size() && !next.segments[following].discontinuity
                         && next.segments[following].programDateTime.toMSecsSinceEpoch() - lastEndMs < 1000,
                     after.body.constData());
        // The dates kept to the clock: the archive held the end a few seconds after it (dated
        // by the media's durations it fell 0.4 s behind every second: 8 s over the programme),
        // and the programme's 12 s of dates hold about 7 s of media.
        QVERIFY2(seenMs - showEnd * 1000 < 6000, qPrintable(QStringLiteral("finished %1 ms after its end").arg(seenMs - showEnd * 1000)));
        double media = 0;
        for (const auto &segment : vod.segments)
            media += segment.duration;
        QVERIFY2(media < 0.85 * (lastEndMs - firstMs) / 1000.0,
                 qPrintable(QStringLiteral("%1 s of media dated over %2 s").arg(media).arg((lastEndMs - firstMs) / 1000.0)));

        // The next programme: recording while the archive grows, then the source dies.
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, a).size(), 2, 20000);
        QString nextId;
        for (const QJsonValue &r : recordingsOf(port, a))
            if (QString::number(r.toObject().value(u"id"_qs).toInteger()) != id)
                nextId = QString::number(r.toObject().value(u"id"_qs).toInteger());
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentSecsSinceEpoch() >= showEnd + 5, 20000);
        QCOMPARE(recordingOf(port, a, nextId).value(u"state"_qs).toString(), u"recording"_qs);
        source.kill();
        QVERIFY(source.waitForFinished(10000));
        const qint64 diedAt = QDateTime::currentSecsSinceEpoch();
        QVERIFY(diedAt < nextEnd - 3);
        // Partial once the range has passed and the archive has been silent for 6 s.
        QJsonObject partial;
        QTRY_VERIFY_WITH_TIMEOUT((partial = recordingOf(port, a, nextId)).value(u"state"_qs).toString() != u"recording", 40000);
        QVERIFY(QDateTime::currentSecsSinceEpoch() >= nextEnd);
        QVERIFY2(partial.value(u"state"_qs).toString() == u"partial", QJsonDocument(partial).toJson().constData());
        QVERIFY2(partial.value(u"reason"_qs).toString().contains(u"holds it up to"_qs), QJsonDocument(partial).toJson().constData());
        const QJsonArray missing = partial.value(u"missing"_qs).toArray();
        QVERIFY2(missing.size() == 1 && missing.at(0).toObject().value(u"to"_qs).toInteger() == nextEnd
                     && qAbs(missing.at(0).toObject().value(u"from"_qs).toInteger() - diedAt) <= 3,
                 qPrintable(QStringLiteral("died at %1: %2").arg(diedAt).arg(QString::fromUtf8(QJsonDocument(missing).toJson()))));
        played = call("GET", port, u"/play/"_qs + nextId + u"/index.m3u8"_qs, a);
        vod = iptv::media::checkMediaPlaylist(played.body);
        QVERIFY2(vod.ok && vod.ended && !vod.segments.isEmpty(), played.body.constData());
        QCOMPARE(played.header("X-Archive-Coverage"), QByteArray("partial"));
        const QByteArray missingTail = "-" + QByteArray::number(nextEnd);
        QVERIFY2(played.header("X-Archive-Missing").endsWith(missingTail), played.header("X-Archive-Missing").constData());
    }

    // "Record this" pressed on eight boxes at once: each answer carries its rule's outcome in
    // the new plan, and the presses that came while one was being planned share a plan (a rule
    // change plans the whole book: one each made the last box wait for eight). The requests are
    // all in diver's sockets before its event loop reads one (written and flushed by this thread
    // while diver's loop, the same thread's, cannot run).
    void ruleSavesThatComeTogetherShareAPlan()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"burst"_qs);
        c.capacity = 8;
        QList<Airing> airings;
        const qint64 first = (now / 1800 + 2) * 1800;
        for (int i = 0; i < 8; ++i)
            airings.append({u"one"_qs, first + i * 1800, first + (i + 1) * 1800, QStringLiteral("Show %1").arg(i), {}});
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), airings));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const auto plans = [&] { return metricValue(call("GET", port, u"/metrics"_qs, {}).body, "diver_plans_total"); };
        const double before = plans();
        QVERIFY(before >= 1);

        constexpr int kBoxes = 8;
        std::vector<std::unique_ptr<QTcpSocket>> boxes;
        for (int i = 0; i < kBoxes; ++i) {
            const QByteArray body = QJsonDocument(QJsonObject{{u"channel"_qs, u"one"_qs}, {u"start"_qs, first + i * 1800}})
                                        .toJson(QJsonDocument::Compact);
            const QByteArray request = "POST /api/recordings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                + ticket(QStringLiteral("STB-P%1").arg(i)) + "\r\nContent-Type: application/json\r\nContent-Length: "
                + QByteArray::number(body.size()) + "\r\n\r\n" + body;
            auto socket = std::make_unique<QTcpSocket>();
            socket->connectToHost(QHostAddress::LocalHost, port);
            QVERIFY(socket->waitForConnected(10000)); // the kernel's handshake: diver's loop is not needed
            socket->write(request);
            QVERIFY(socket->waitForBytesWritten(10000));
            boxes.push_back(std::move(socket));
        }
        // Each answer: 201 and the rule's airing planned.
        const auto answered = [](QTcpSocket *s) {
            const QByteArray got = s->peek(s->bytesAvailable());
            const qsizetype end = got.indexOf("\r\n\r\n");
            static const QRegularExpression length(u"(?i)content-length: *(\\d+)"_qs);
            const auto m = length.match(QString::fromLatin1(got.left(end)));
            return end > 0 && m.hasMatch() && got.size() >= end + 4 + m.captured(1).toLongLong();
        };
        for (const auto &s : boxes) {
            QTRY_VERIFY_WITH_TIMEOUT(answered(s.get()), 30000);
            const QByteArray got = s->readAll();
            QVERIFY2(got.startsWith("HTTP/1.1 201"), got.constData());
            const QJsonObject outcome = QJsonDocument::fromJson(got.mid(got.indexOf("\r\n\r\n") + 4)).object();
            QVERIFY2(outcome.value(u"planned"_qs).toArray().size() == 1, got.constData());
        }
        const double made = plans() - before;
        qInfo("%d presses at once: %.0f plan(s)", kBoxes, made);
        // One for the presses (and one more when diver's 30 s replan or a split read falls in).
        QVERIFY2(made >= 1 && made <= 2, qPrintable(QStringLiteral("%1 plans for %2 presses").arg(made).arg(kBoxes)));
        QCOMPARE(diver.plan().recordings.size(), kBoxes);
    }

    // The disk stalls (a recorder's last segment waits for it, as an fsync can for seconds under
    // load): a recording deleted meanwhile is answered at once and diver goes on answering, its
    // event loop never waiting for the recorder to stop; the copy's folder goes once the recorder
    // has written its last. A copy that reaches its end meanwhile is finished once its last
    // segment and index are on the disk, and plays whole.
    void stoppingRecorderDoesNotBlockTheEventLoop()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"slowstop"_qs);
        c.minFreeBytes = 1; // the recorders ask the (stalled) free-space probe before every segment
        const qint64 shortStop = now + 14;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(),
                           {{u"one"_qs, now - 20, now + 3600, u"Film"_qs, {}},
                            {u"two"_qs, now - 20, shortStop, u"Short"_qs, {}},
                            {u"two"_qs, shortStop, now + 3600, u"Later"_qs, {}}}));
        testutil::DiskGate disk(25000);
        constexpr int kDiskGateAnswerMs = 5000; // an answer while the gate is closed: a fifth of its 25 s
        DiverServer diver(c);
        diver.setRecorderHook([&disk](iptv::dvr::Recorder &r) { r.setFreeSpace([&disk](const QString &) { return disk.probe(); }); });
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-S"_qs);
        QString filmRule;
        for (const QString &channel : {u"one"_qs, u"two"_qs}) {
            const HttpResult made = call("POST", port, u"/api/recordings"_qs, a,
                                         {{u"kind"_qs, u"single"_qs}, {u"channel"_qs, channel}, {u"start"_qs, now - 20}});
            QVERIFY2(made.status == 201, made.body.constData());
            if (channel == u"one")
                filmRule = QString::number(made.json().value(u"rule"_qs).toObject().value(u"id"_qs).toInteger());
        }
        QTRY_VERIFY_WITH_TIMEOUT(recordingsOf(port, a).size() == 2 && recordingsOf(port, a).at(0).toObject().value(u"segments"_qs).toInt() >= 2
                                     && recordingsOf(port, a).at(1).toObject().value(u"segments"_qs).toInt() >= 2,
                                 20000);
        QString film, shortOne;
        for (const QJsonValue &v : recordingsOf(port, a))
            (v.toObject().value(u"channel"_qs).toString() == u"one" ? film : shortOne) = QString::number(v.toObject().value(u"id"_qs).toInteger());
        const auto rows = diver.recordings().recordings(&error);
        QVERIFY2(rows, qPrintable(error));
        QString filmFolder;
        for (const auto &r : *rows) {
            if (QString::number(r.id) == film)
                filmFolder = diver.recordings().copy(r.copyId, &error)->directory;
        }
        QVERIFY(QDir(filmFolder).exists());
        // Its rule goes first (else it would record the film again after the delete).
        QCOMPARE(call("DELETE", port, u"/api/rules/"_qs + filmRule, a).status, 204);

        disk.close();
        QTRY_COMPARE_WITH_TIMEOUT(disk.waiting(), 2, 10000); // both recorders hold a segment for the disk
        QElapsedTimer took;
        took.start();
        QCOMPARE(call("DELETE", port, u"/api/recordings/"_qs + film, a).status, 204);
        // A DELETE that waited for the recorder would wait for the gate to open itself (25 s);
        // the bound leaves a loaded machine (SQLite's own fsyncs) seconds, and catches that.
        QVERIFY2(took.elapsed() < kDiskGateAnswerMs, qPrintable(QStringLiteral("the DELETE took %1 ms").arg(took.elapsed())));
        QCOMPARE(diver.stoppingRecorders(), 1);
        QCOMPARE(diver.activeRecorders(), 1);
        // While that stop waits for the disk: timers fire, requests are answered, and the copy's
        // folder is still there (its recorder writes into it yet).
        int ticks = 0;
        QTimer timer;
        connect(&timer, &QTimer::timeout, this, [&] { ++ticks; });
        timer.start(100);
        took.restart();
        QCOMPARE(call("GET", port, u"/api/status"_qs, a).status, 200);
        QVERIFY2(took.elapsed() < kDiskGateAnswerMs, qPrintable(QStringLiteral("/api/status took %1 ms").arg(took.elapsed())));
        QTRY_VERIFY_WITH_TIMEOUT(ticks >= 10, 3000);
        QVERIFY(QDir(filmFolder).exists());
        // The short one's end comes while the disk stalls: not finished before its last is written.
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentSecsSinceEpoch() > shortStop + 1, 20000);
        QCOMPARE(recordingOf(port, a, shortOne).value(u"state"_qs).toString(), u"recording"_qs);
        QCOMPARE(disk.waiting(), 2);

        disk.open();
        QTRY_VERIFY_WITH_TIMEOUT(!QDir(filmFolder).exists(), 15000);
        QTRY_COMPARE_WITH_TIMEOUT(recordingOf(port, a, shortOne).value(u"state"_qs).toString(), u"finished"_qs, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(diver.stoppingRecorders(), 0, 10000);
        QCOMPARE(diver.activeRecorders(), 0);
        QCOMPARE(diver.leasesHeld(), 0); // the deleted copy's lease ended with its recorder
        QVERIFY2(recordingsOf(port, a).size() == 1, QJsonDocument(recordingsOf(port, a)).toJson().constData());
        const HttpResult vod = call("GET", port, u"/play/"_qs + shortOne + u"/index.m3u8"_qs, a);
        const auto played = iptv::media::checkMediaPlaylist(vod.body);
        QVERIFY2(played.ok && played.ended, qPrintable(played.problems.join(u"; "_qs)));
        // Every segment the recorder wrote is listed, those the stalled disk held back too (what
        // the source sent while the reader waited for the disk is a gap, as the recorder says).
        const QJsonObject finished = recordingOf(port, a, shortOne);
        QCOMPARE(played.segments.size(), finished.value(u"segments"_qs).toInt());
        QVERIFY(played.segments.size() >= 5);
        // The event loop never stalled for the disk (diver_event_loop_lag_max_seconds).
        const QByteArray metrics = call("GET", port, u"/metrics"_qs, {}).body;
        const qsizetype at = metrics.indexOf("\ndiver_event_loop_lag_max_seconds ");
        QVERIFY(at >= 0);
        const double maxLag = metrics.mid(at + 34, metrics.indexOf('\n', at + 1) - at - 34).toDouble();
        QVERIFY2(maxLag < 1.5, qPrintable(QString::number(maxLag)));
    }

    // RFC 8216 6.2.1: the server changes a media playlist only by appending lines (removing from
    // the front is for sliding windows, which none of diver's is), EXT-X-ENDLIST last, and
    // EXT-X-TARGETDURATION never changes. Every kind of growing playlist is reloaded as its
    // segments come, through its end: a recording of its own copy, another viewer's recording of
    // that copy stopped halfway (it ends at the stop while the copy records on), a recording on an
    // archived channel, a catch-up range that begins ahead of the live edge, timeshift, and each from a
    // ?start= just past what is recorded. Each answer is the one before with lines appended; before
    // a URL's first segment exists it is held until it is written or refused (503, Retry-After),
    // never answered with a segment a later reload drops. FFmpeg reads the recording's playlist
    // live as it grows, to its end.
    void growingPlaylistsOnlyAppend()
    {
        const qint64 t0 = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"appendonly"_qs);
        c.archivedChannels = {u"one"_qs};
        c.archiveHours = 1;
        c.capacity = 3;
        const qint64 end = t0 + 22;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs, u"two"_qs}, m_recast->port(),
                           {{u"one"_qs, t0 - 60, end, u"Archived Show"_qs, {}}, {u"one"_qs, end, t0 + 3600, u"After"_qs, {}},
                            {u"two"_qs, t0 - 60, end, u"Short Show"_qs, {}}, {u"two"_qs, end, t0 + 3600, u"Next"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-R"_qs, 3600);
        for (const QString &channel : {u"two"_qs, u"one"_qs}) {
            const HttpResult made = call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, channel}, {u"start"_qs, t0 - 60}});
            QVERIFY2(made.status == 201, made.body.constData());
        }
        QString own, archived;
        qint64 ownStart = 0;
        QTRY_VERIFY_WITH_TIMEOUT(recordingsOf(port, a).size() == 2, 10000);
        for (const QJsonValue &v : recordingsOf(port, a)) {
            const QJsonObject r = v.toObject();
            if (r.value(u"channel"_qs).toString() == u"two") {
                own = QString::number(r.value(u"id"_qs).toInteger());
                ownStart = r.value(u"recordStart"_qs).toInteger();
            } else {
                archived = QString::number(r.value(u"id"_qs).toInteger());
            }
        }
        QVERIFY(!own.isEmpty() && !archived.isEmpty());
        // Another box records the same airing (the same copy) and stops its recording halfway:
        // its playlist ends at the stop while the copy records on.
        const QByteArray b = ticket(u"STB-S"_qs, 3600);
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, b, {{u"channel"_qs, u"two"_qs}, {u"start"_qs, t0 - 60}}).status, 201);
        QTRY_COMPARE_WITH_TIMEOUT(recordingsOf(port, b).size(), 1, 10000);
        const QString stopped = QString::number(recordingsOf(port, b).at(0).toObject().value(u"id"_qs).toInteger());
        QTRY_VERIFY_WITH_TIMEOUT(recordingOf(port, a, own).value(u"segments"_qs).toInt() >= 1, 20000);

        // A point 2 s past the live edge (the segment that will hold it is not written yet).
        const qint64 ahead = QDateTime::currentSecsSinceEpoch() + 2;
        const QString play = u"/play/"_qs + own + u"/index.m3u8"_qs;
        const QString timeshift = u"/catchup/one/archive-%1-now.m3u8"_qs.arg(t0);
        const QStringList urls{play,
                               play + u"?start=%1"_qs.arg(ahead - ownStart),
                               u"/play/"_qs + archived + u"/index.m3u8"_qs,
                               u"/catchup/one/archive-%1-8.m3u8"_qs.arg(ahead),
                               u"/play/"_qs + stopped + u"/index.m3u8"_qs,
                               timeshift,
                               timeshift + u"?start=%1"_qs.arg(ahead - t0)};
        // Far past the live edge: refused at once, with when to ask again.
        const HttpResult far = call("GET", port, play + u"?start=3600"_qs, a);
        QCOMPARE(far.status, 503);
        QVERIFY2(far.header("Retry-After").toInt() >= 3000, far.header("Retry-After").constData());

        // FFmpeg plays the recording's playlist as it grows, as a box's player would.
        const bool haveFfmpeg = !QStandardPaths::findExecutable(u"ffmpeg"_qs).isEmpty();
        QProcess ffmpeg;
        QSignalSpy ffmpegDone(&ffmpeg, &QProcess::finished);
        const QString copied = m_dir.filePath(u"appendonly-ffmpeg.ts"_qs);
        if (haveFfmpeg)
            ffmpeg.start(u"ffmpeg"_qs, {u"-v"_qs, u"error"_qs, u"-y"_qs, u"-i"_qs,
                                        u"http://127.0.0.1:%1%2?ticket=%3"_qs.arg(port).arg(play, QString::fromLatin1(QUrl::toPercentEncoding(QString::fromLatin1(a)))),
                                        u"-c"_qs, u"copy"_qs, u"-f"_qs, u"mpegts"_qs, copied});

        struct Reloads
        {
            QByteArray last, start;
            iptv::media::HlsCheck lastCheck;
            int target = 0, versions = 0, refused = 0;
        };
        QHash<QString, Reloads> seen;
        const auto reloadAll = [&]() -> bool {
            for (const QString &url : urls) {
                Reloads &r = seen[url];
                const HttpResult got = call("GET", port, url, url.startsWith(u"/play/"_qs + stopped + u'/') ? b : a);
                if (got.status == 503) {
                    // Not yet: only before the URL's first playlist (a playlist never goes away).
                    if (!r.last.isEmpty() || got.header("Retry-After").toInt() < 1) {
                        qWarning().noquote() << url << "refused after" << r.versions << "playlists:" << got.body;
                        return false;
                    }
                    ++r.refused;
                    continue;
                }
                if (got.status != 200) {
                    qWarning().noquote() << url << got.status << got.body;
                    return false;
                }
                const iptv::media::HlsCheck check = iptv::media::checkMediaPlaylist(got.body);
                if (!check.ok || check.segments.isEmpty()) {
                    qWarning().noquote() << url << check.problems.join(u"; "_qs) << '\n' << got.body;
                    return false;
                }
                if (!r.last.isEmpty()) {
                    // Appended to, nothing else: the text before is where the new one begins.
                    const QStringList reload = iptv::media::checkReload(r.lastCheck, check);
                    if (!got.body.startsWith(r.last) || (r.lastCheck.ended && got.body != r.last) || !reload.isEmpty()
                        || check.targetDuration != r.target || got.header("X-Playlist-Start") != r.start) {
                        qWarning().noquote() << url << "was\n" << r.last << "\nis now\n" << got.body << reload.join(u"; "_qs);
                        return false;
                    }
                } else {
                    r.target = check.targetDuration;
                    r.start = got.header("X-Playlist-Start");
                }
                r.versions += got.body != r.last;
                r.last = got.body;
                r.lastCheck = check;
            }
            return true;
        };
        const auto allEnded = [&]() {
            for (const QString &url : urls.mid(0, 5)) {
                if (!seen.value(url).lastCheck.ended)
                    return false;
            }
            return true;
        };
        QElapsedTimer clock;
        clock.start();
        bool stop = true;
        while (!allEnded() && clock.elapsed() < 60000) {
            QVERIFY(reloadAll());
            // The stop comes while the segment in progress began before the stop's whole second
            // (the stop is stored in seconds): that segment is the recording's last, and is
            // written only after the stop.
            const QList<iptv::media::HlsSegment> listed = seen.value(urls.at(4)).lastCheck.segments;
            const qint64 inProgressSince = listed.isEmpty() ? 0
                : listed.last().programDateTime.toMSecsSinceEpoch() + qRound64(listed.last().duration * 1000);
            const qint64 nextSecond = (inProgressSince / 1000 + 1) * 1000;
            if (stop && listed.size() >= 6 && (nextSecond + 20 < inProgressSince + 700 || listed.size() >= 12)) {
                QTest::qWait(int(qBound(qint64(0), nextSecond + 20 - QDateTime::currentMSecsSinceEpoch(), qint64(1000))));
                const HttpResult done = call("POST", port, u"/api/recordings/"_qs + stopped + u"/stop"_qs, b);
                QVERIFY2(done.status == 200, done.body.constData());
                stop = false;
                QVERIFY(reloadAll()); // at once: the segment being cut at the stop is not written yet
            }
            QTest::qWait(300); // a player's reload interval (it reloads at most every segment)
        }
        QVERIFY(reloadAll()); // once more after the end: nothing changes
        for (const QString &url : urls) {
            const Reloads r = seen.value(url);
            qInfo().noquote() << url << ":" << r.versions << "versions," << r.refused << "refused before the first,"
                              << r.lastCheck.segments.size() << "segments, ended" << r.lastCheck.ended;
            QVERIFY2(r.versions >= 3, qPrintable(url)); // it grew while reloaded
            // The fixed target: ceil(3 x segment_seconds), whatever the segments so far.
            QCOMPARE(r.target, 3);
        }
        QVERIFY2(allEnded(), "the recordings and the range ended within a minute");
        QVERIFY(!seen.value(timeshift).lastCheck.ended); // timeshift has no end
        // The stopped one ended at its stop, short of the copy's end.
        QVERIFY(!stop);
        QVERIFY2(seen.value(urls.at(4)).lastCheck.segments.size() < seen.value(play).lastCheck.segments.size() - 3,
                 seen.value(urls.at(4)).last.constData());
        // ?start= past the live edge: held until the segment holding it was written, which it
        // begins with (it began at most a segment before the point).
        for (const QString &url : {urls.at(1), urls.at(6)}) {
            const double asked = url.section(u"start="_qs, 1).toDouble();
            const double start = seen.value(url).start.toDouble();
            QVERIFY2(start <= asked + 0.001 && start > asked - 3.5, qPrintable(url + u" starts at "_qs + QString::number(start)));
        }

        if (!haveFfmpeg)
            QSKIP("ffmpeg is not installed: the playlists were checked by our own reader only");
        QVERIFY2(ffmpegDone.size() == 1 || ffmpegDone.wait(60000), ffmpeg.readAllStandardError().constData());
        QVERIFY2(ffmpeg.exitStatus() == QProcess::NormalExit && ffmpeg.exitCode() == 0, ffmpeg.readAllStandardError().constData());
        double listed = 0;
        for (const iptv::media::HlsSegment &s : seen.value(play).lastCheck.segments)
            listed += s.duration;
        QProcess probe;
        QSignalSpy probed(&probe, &QProcess::finished);
        probe.start(u"ffprobe"_qs, {u"-v"_qs, u"error"_qs, u"-show_entries"_qs, u"format=duration"_qs, u"-of"_qs,
                                    u"default=nw=1:nk=1"_qs, copied});
        QVERIFY(probed.wait(30000));
        const double copiedSeconds = probe.readAllStandardOutput().trimmed().toDouble();
        qInfo() << "ffmpeg copied" << copiedSeconds << "s of the" << listed << "s the recording lists";
        // From the first segment (EXT-X-START:TIME-OFFSET=0, not three from the live edge) to the end.
        QVERIFY2(qAbs(copiedSeconds - listed) <= 1.5, qPrintable(u"%1 of %2"_qs.arg(copiedSeconds).arg(listed)));
    }

    // The diver process killed with SIGKILL while it records: started again, it resumes the same
    // copy (one folder), the gap marked, nothing written before lost.
    void killedDiverResumes()
    {
        if (!QFile::exists(kDiverBinary))
            QSKIP("the diver binary is not built");
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        const DiverConfig c = config(u"kill"_qs);
        QVERIFY(writeGuide(c.guideFile, {u"two"_qs}, m_recast->port(), {{u"two"_qs, now - 10, now + 25, u"Match"_qs, {}}}));
        QFile conf(m_dir.filePath(u"kill.conf"_qs));
        QVERIFY(conf.open(QIODevice::WriteOnly));
        conf.write(QStringLiteral("[server]\nbind=127.0.0.1\nport=0\ndata_dir=%1\nadmin_token=operator-secret\n"
                                  "[guide]\nfile=%2\n[control]\nticket_keys=%3\n[recording]\nsegment_seconds=1\n"
                                  "[storage]\nmin_free_mb=0\n")
                       .arg(c.dataDir, c.guideFile, m_keyFile).toUtf8());
        conf.close();
        // The process listens on a port it chooses: it is read from the log.
        auto launch = [&](QProcess &p) -> quint16 {
            p.setProcessChannelMode(QProcess::MergedChannels);
            p.start(kDiverBinary, {u"--config"_qs, conf.fileName()});
            // With the event loop running: recast, in this process, serves the diver's recorder
            // meanwhile (waitForReadyRead() held it up while a loaded machine started diver).
            if (!QTest::qWaitFor([&p] { return p.state() != QProcess::Starting; }, 10000) || p.state() != QProcess::Running)
                return 0;
            QByteArray log;
            qsizetype at = -1;
            const bool up = QTest::qWaitFor(
                [&] {
                    log += p.readAll();
                    at = log.indexOf("diver up on port ");
                    return (at >= 0 && log.indexOf(' ', at + 17) > 0) || p.state() != QProcess::Running;
                },
                20000);
            if (up && at >= 0 && log.indexOf(' ', at + 17) > 0)
                return quint16(log.mid(at + 17, log.indexOf(' ', at + 17) - at - 17).toUInt());
            qWarning().noquote() << log + p.readAll();
            return 0;
        };
        QProcess first;
        const quint16 port = launch(first);
        QVERIFY(port != 0);
        const QByteArray a = ticket(u"STB-K"_qs);
        QCOMPARE(call("POST", port, u"/api/recordings"_qs, a,
                      {{u"kind"_qs, u"single"_qs}, {u"channel"_qs, u"two"_qs}, {u"start"_qs, now - 10}}).status, 201);
        QTRY_VERIFY_WITH_TIMEOUT(recordingsOf(port, a).at(0).toObject().value(u"segments"_qs).toInt() >= 3, 20000);
        first.kill(); // SIGKILL: no segment finished, no store written
        QVERIFY(first.waitForFinished(10000));

        QProcess second;
        const quint16 port2 = launch(second);
        QVERIFY(port2 != 0);
        QTRY_VERIFY_WITH_TIMEOUT(recordingsOf(port2, a).at(0).toObject().value(u"state"_qs).toString() == u"finished"_qs, 45000);
        const QJsonArray recs = recordingsOf(port2, a);
        QCOMPARE(recs.size(), 1);
        second.terminate();
        QVERIFY(second.waitForFinished(10000));

        // One folder: the first run's segments, a gap, then the second run's.
        const QStringList folders = QDir(QDir(c.dataDir).filePath(u"storage/recordings/two"_qs)).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
        QCOMPARE(folders.size(), 1);
        iptv::dvr::ArchiveReader reader;
        QString error;
        QVERIFY2(reader.load(QDir(c.dataDir).filePath(u"storage/recordings/two/"_qs + folders.first()), &error), qPrintable(error));
        const auto segments = reader.segments();
        int gaps = 0;
        for (const auto &s : segments)
            gaps += s.gap ? 1 : 0;
        QVERIFY2(gaps >= 1, "the restart is not marked as a gap");
        QVERIFY(segments.size() >= 8);
    }

    // A segment is streamed from disk as its client reads: a client that asks and reads nothing
    // holds at most the router's mark in diver's memory (it held the whole segment: 2,000 such
    // connections, 8 GB), one address gets max_downloads_per_address at once (503 past it), and
    // the reader that reads on gets every byte.
    void segmentsStreamWithBoundedMemory()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        DiverConfig c = config(u"stream"_qs);
        c.capacity = 1;
        c.maxDownloadsPerAddress = 1;
        c.thumbnailQueue = 2;
        c.thumbnailQueuePerOwner = 1;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {{u"one"_qs, now - 20, now + 3600, u"Long"_qs, {}}}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const QByteArray a = ticket(u"STB-S"_qs);
        const HttpResult made = call("POST", port, u"/api/recordings"_qs, a, {{u"channel"_qs, u"one"_qs}, {u"start"_qs, now - 20}});
        QVERIFY2(made.status == 201, made.body.constData());
        QJsonObject mine;
        QTRY_VERIFY_WITH_TIMEOUT((mine = recordingsOf(port, a).at(0).toObject()).value(u"segments"_qs).toInt() >= 1, 20000);
        const QString id = QString::number(mine.value(u"id"_qs).toInteger());
        const auto rows = diver.recordings().recordings(&error);
        QVERIFY(rows && rows->size() == 1);
        const auto copy = diver.recordings().copy(rows->at(0).copyId, &error);
        QVERIFY2(copy, qPrintable(error));
        QString chunk;
        for (const QByteArray &line : call("GET", port, u"/play/"_qs + id + u"/index.m3u8"_qs, a).body.split('\n')) {
            if (!line.isEmpty() && !line.startsWith('#')) {
                chunk = QString::fromLatin1(line).section(u'/', 0, 0);
                break;
            }
        }
        QVERIFY(!chunk.isEmpty());
        // A segment far larger than the socket's buffers (a real one is a few MB at 6 s).
        QByteArray big(24 * 1024 * 1024, Qt::Uninitialized);
        for (qsizetype i = 0; i < big.size(); ++i)
            big[i] = char(i * 7 + i / 4099);
        QFile f(QDir(copy->directory).filePath(chunk + u"/seg-999999.ts"_qs));
        QVERIFY(f.open(QIODevice::WriteOnly) && f.write(big) == big.size());
        f.close();
        const QString path = u"/play/"_qs + id + u'/' + chunk + u"/seg-999999.ts"_qs;

        const int fd = slowReader(port, 4096);
        QVERIFY(fd >= 0);
        const QByteArray ask = "GET " + path.toLatin1() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + a + "\r\n\r\n";
        QCOMPARE(::send(fd, ask.constData(), size_t(ask.size()), 0), ssize_t(ask.size()));
        double queued = -1;
        QTRY_VERIFY_WITH_TIMEOUT((queued = metricValue(call("GET", port, u"/metrics"_qs, {}).body, "diver_http_queued_bytes")) > 0, 10000);
        QVERIFY2(queued <= iptv::http::Router::FileStreamHighWater + 256 * 1024, QByteArray::number(queued).constData());

        const HttpResult second = call("GET", port, path, a);
        QCOMPARE(second.status, 503);
        QCOMPARE(second.json().value(u"error"_qs).toString(), u"too-many-downloads"_qs);
        QCOMPARE(second.header("Retry-After"), QByteArray("1"));

        QTcpSocket reader;
        QVERIFY(reader.setSocketDescriptor(fd));
        QSignalSpy done(&reader, &QTcpSocket::disconnected);
        QByteArray data;
        connect(&reader, &QTcpSocket::readyRead, this, [&] { data += reader.readAll(); });
        data += reader.readAll();
        QVERIFY(done.wait(30000));
        data += reader.readAll();
        const qsizetype headerEnd = data.indexOf("\r\n\r\n");
        QVERIFY(headerEnd > 0);
        QVERIFY2(data.left(headerEnd).contains("Content-Length: 25165824"), data.left(headerEnd).constData());
        QCOMPARE(data.size() - headerEnd - 4, big.size());
        QVERIFY(data.mid(headerEnd + 4) == big);
        // A range streams too.
        const HttpResult part = call("GET", port, path, a, {}, {{"Range", "bytes=1000-1999"}});
        QCOMPARE(part.status, 206);
        QVERIFY(part.body == big.mid(1000, 1000));
        QVERIFY(QFile::remove(f.fileName()));

        // Thumbnails wait for the thumbnail pool (held here by a job of the test's on its one
        // thread): thumbnail_queue requests at once, thumbnail_queue_per_owner of one viewer;
        // past either, 503 with Retry-After. Once the pool is free, those waiting are answered.
        QCOMPARE(diver.thumbnailPool().maxThreadCount(), 1);
        QSemaphore hold;
        diver.thumbnailPool().start([&hold] { hold.acquire(); });
        const auto thumbnails = [&](const QByteArray &credential) {
            QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1/play/%2/thumbnails.vtt?every=2").arg(port).arg(id)));
            request.setRawHeader("Authorization", "Bearer " + credential);
            return std::unique_ptr<QNetworkReply>(m_nam.get(request));
        };
        const auto admitted = [&] { return metricValue(call("GET", port, u"/metrics"_qs, {}).body, "diver_thumbnail_requests"); };
        const std::unique_ptr<QNetworkReply> viewers = thumbnails(a);
        QTRY_COMPARE_WITH_TIMEOUT(admitted(), 1.0, 10000);
        const HttpResult again = call("GET", port, u"/play/"_qs + id + u"/thumbnails.vtt?every=2"_qs, a);
        QCOMPARE(again.status, 503);
        QCOMPARE(again.json().value(u"error"_qs).toString(), u"thumbnails-busy"_qs);
        QVERIFY2(again.json().value(u"detail"_qs).toString().contains(u"of this viewer"), again.body.constData());
        QCOMPARE(again.header("Retry-After"), QByteArray("5"));
        const std::unique_ptr<QNetworkReply> operators = thumbnails("operator-secret");
        QTRY_COMPARE_WITH_TIMEOUT(admitted(), 2.0, 10000);
        const HttpResult full = call("GET", port, u"/play/"_qs + id + u"/thumbnails.vtt?every=2"_qs, "operator-secret");
        QCOMPARE(full.status, 503);
        QVERIFY2(!full.json().value(u"detail"_qs).toString().contains(u"of this viewer"), full.body.constData());
        QVERIFY(!viewers->isFinished() && !operators->isFinished());
        hold.release();
        QTRY_VERIFY_WITH_TIMEOUT(viewers->isFinished() && operators->isFinished(), 60000);
        QCOMPARE(viewers->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QCOMPARE(operators->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QVERIFY(viewers->readAll().contains(".jpg"));
        QCOMPARE(admitted(), 0.0);
    }

    // An /events socket ends when the ticket that opened it expires (1008: the box reconnects
    // with its fresh ticket), and one box holds max_event_sockets_per_owner at most: a new one
    // closes its oldest. Closed sockets leave the connection count.
    void eventSocketsEndWithTheirTicketAndAreCappedPerOwner()
    {
        DiverConfig c = config(u"sockets"_qs);
        c.maxEventSocketsPerOwner = 2;
        QVERIFY(writeGuide(c.guideFile, {u"one"_qs}, m_recast->port(), {}));
        DiverServer diver(c);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        const quint16 port = diver.httpPort();
        const auto connections = [&] { return metricValue(call("GET", port, u"/metrics"_qs, {}).body, "diver_http_connections"); };
        const double before = connections();
        QVERIFY(before >= 1);
        const auto eventsUrl = [port](const QByteArray &t) {
            return QUrl(QStringLiteral("ws://127.0.0.1:%1/events?ticket=%2").arg(port).arg(QString::fromLatin1(t)));
        };

        QWebSocket brief;
        QSignalSpy briefHello(&brief, &QWebSocket::textMessageReceived), briefClosed(&brief, &QWebSocket::disconnected);
        brief.open(eventsUrl(ticket(u"STB-T"_qs, 2)));
        QVERIFY2(briefHello.wait(10000), qPrintable(brief.closeReason()));
        QVERIFY(briefClosed.wait(10000));
        QCOMPARE(brief.closeCode(), QWebSocketProtocol::CloseCodePolicyViolated);
        QVERIFY2(brief.closeReason().contains(u"ticket expired"), qPrintable(brief.closeReason()));

        const QByteArray u = ticket(u"STB-U"_qs);
        QWebSocket first, second, third, other;
        QSignalSpy firstClosed(&first, &QWebSocket::disconnected);
        for (QWebSocket *s : {&first, &second, &third, &other}) {
            QSignalSpy hello(s, &QWebSocket::textMessageReceived);
            s->open(eventsUrl(s == &other ? ticket(u"STB-V"_qs) : u));
            QVERIFY2(hello.wait(10000), qPrintable(s->closeReason()));
        }
        QVERIFY(!firstClosed.isEmpty() || firstClosed.wait(10000));
        QCOMPARE(first.closeCode(), QWebSocketProtocol::CloseCodePolicyViolated);
        QVERIFY2(first.closeReason().contains(u"replaced"), qPrintable(first.closeReason()));
        QCOMPARE(second.state(), QAbstractSocket::ConnectedState);
        QCOMPARE(third.state(), QAbstractSocket::ConnectedState);
        QCOMPARE(other.state(), QAbstractSocket::ConnectedState);
        QTRY_COMPARE_WITH_TIMEOUT(connections(), before + 3, 10000);

        second.close();
        third.close();
        other.close();
        QTRY_COMPARE_WITH_TIMEOUT(connections(), before, 10000);
    }
};

QTEST_GUILESS_MAIN(TestDiverServer)
#include "tst_diverserver.moc"
