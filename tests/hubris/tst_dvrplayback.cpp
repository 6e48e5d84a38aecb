// DvrPlayback on the test player, against a small fake diver that serves the library and keeps
// the positions the box stores: a recording played to its end closes the playback and is stored
// as watched (the next play starts from the beginning), where a stream that fails stays on screen
// with its error; live TV plays again after the end. The bar's progress: into a recording, and in
// timeshift where in the channel's archive (live at its right end).
#include "testguide.h"
#include "testplayer.h"

#include <hubris/dvrplayback.h>

#include <QHttpServer>
#include <QHttpServerResponse>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>
#include <QUrlQuery>

using namespace iptv::hubris;

class TestDvrPlayback : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<GuideStore> m_store;
    std::unique_ptr<ChannelListModel> m_channels;
    std::unique_ptr<TestPlayer> m_player;
    std::unique_ptr<Zapper> m_zapper;
    std::unique_ptr<DvrClient> m_client;
    std::unique_ptr<DvrPlayback> m_playback;
    QHttpServer m_diver;
    QJsonObject m_recording; ///< the one recording the fake diver has
    QList<qint64> m_stored;  ///< positions the box stored, in order
    qint64 m_archiveFrom = QDateTime::currentSecsSinceEpoch() - 600;
    /// Above 0: the fake diver cuts a seek at the start of the segment (this long) it falls in
    /// and says where (X-Playlist-Start), as diver does; 0: it does not say.
    qint64 m_segmentSeconds = 0;
    qint64 m_catchupLead = 0; ///< a range's first segment begins this long before the range
    /// The fake diver's recording playlist dates its 1 s segments with a hole of 10 s after the
    /// first (its source stalled): the recording's timeline runs on there, its media does not.
    bool m_datedPlaylist = false;
    QString m_archiveToken;         ///< the channel's playback token the fake diver gives ("": none)
    qint64 m_archiveTokensExpire = 0;

    void startPlayback()
    {
        QVERIFY(m_playback->playRecording(0));
        QCOMPARE(m_playback->mode(), u"recording"_qs);
        QVERIFY(m_player->played.last().path().endsWith(u"/play/7/index.m3u8"));
        m_player->frame(20);
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_diver.route(u"/api/recordings"_qs, [this] {
            return QHttpServerResponse(QJsonObject{{u"recordings"_qs, QJsonArray{m_recording}}});
        });
        m_diver.route(u"/api/recordings/<arg>"_qs, [this](qint64 id, const QHttpServerRequest &request) {
            if (id != 7 || request.method() != QHttpServerRequest::Method::Put)
                return QHttpServerResponse(QHttpServerResponder::StatusCode::NotFound);
            const qint64 position = QJsonDocument::fromJson(request.body()).object().value(u"position").toInteger(-1);
            m_stored.append(position);
            m_recording[u"position"_qs] = position;
            return QHttpServerResponse(m_recording);
        });
        // The playlists, as far as the box reads them itself: where the cut starts.
        m_diver.route(u"/play/<arg>/index.m3u8"_qs, [this](qint64, const QHttpServerRequest &request) {
            QByteArray playlist = "#EXTM3U\n";
            if (m_datedPlaylist) {
                const QDateTime start = QDateTime::fromSecsSinceEpoch(m_recording.value(u"start"_qs).toInteger(), Qt::UTC);
                for (int i = 0; i < 4; ++i) {
                    const QDateTime aired = start.addMSecs(i == 0 ? 0 : (i + 10) * 1000);
                    playlist += "#EXT-X-PROGRAM-DATE-TIME:" + aired.toString(Qt::ISODateWithMs).toLatin1() + "\n#EXTINF:1.000,\nseg-"
                        + QByteArray::number(i) + ".ts\n";
                }
            }
            QHttpServerResponse r("application/vnd.apple.mpegurl", playlist);
            if (m_segmentSeconds > 0) {
                const qint64 asked = QUrlQuery(request.url()).queryItemValue(u"start"_qs).toLongLong();
                r.setHeader("X-Playlist-Start", QByteArray::number(double(asked / m_segmentSeconds * m_segmentSeconds), 'f', 3));
            }
            return r;
        });
        m_diver.route(u"/catchup/<arg>/<arg>"_qs, [this](const QString &, const QString &) {
            QHttpServerResponse r("application/vnd.apple.mpegurl", "#EXTM3U\n");
            if (m_segmentSeconds > 0)
                r.setHeader("X-Playlist-Start", QByteArray::number(double(-m_catchupLead), 'f', 3));
            return r;
        });
        m_diver.route(u"/api/upcoming"_qs, [] { return QHttpServerResponse(QJsonObject{}); });
        // Channel 1 archived for the last ten minutes.
        m_diver.route(u"/api/status"_qs, [this] {
            QJsonObject status{{u"archivedChannels"_qs, QJsonArray{u"ch1.test"_qs}}, {u"archiveHours"_qs, 24},
                               {u"archiveFrom"_qs, QJsonObject{{u"ch1.test"_qs, m_archiveFrom}}}};
            if (!m_archiveToken.isEmpty()) {
                status.insert(u"archiveTokens"_qs, QJsonObject{{u"ch1.test"_qs, m_archiveToken}});
                status.insert(u"archiveTokensExpire"_qs, m_archiveTokensExpire);
            }
            return QHttpServerResponse(status);
        });
        const quint16 port = m_diver.listen(QHostAddress::LocalHost, 0);
        QVERIFY(port > 0);

        m_store = std::make_unique<GuideStore>(m_dir.filePath(u"cache"_qs));
        m_channels = std::make_unique<ChannelListModel>(m_store.get());
        m_player = std::make_unique<TestPlayer>();
        m_zapper = std::make_unique<Zapper>(m_channels.get(), m_player.get());
        QSignalSpy loaded(m_store.get(), &GuideStore::guideChanged);
        m_store->loadFile(testguide::write(m_dir));
        QVERIFY(loaded.wait(5000));
        m_zapper->tune(0); // live TV before the recording

        const qint64 now = QDateTime::currentSecsSinceEpoch();
        m_recording = QJsonObject{{u"id"_qs, 7}, {u"title"_qs, u"The End"_qs}, {u"channel"_qs, u"ch1.test"_qs},
                                  {u"start"_qs, now - 7200}, {u"stop"_qs, now - 3600}, {u"state"_qs, u"finished"_qs},
                                  {u"position"_qs, 0}, {u"segments"_qs, 600}};
        m_client = std::make_unique<DvrClient>(m_store.get(), QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)));
        m_client->setTicket("test-ticket", QDateTime::currentDateTimeUtc().addSecs(600));
        m_client->refresh();
        QTRY_COMPARE(m_client->recordings()->rowCount(), 1);
        m_playback = std::make_unique<DvrPlayback>(m_client.get(), m_player.get(), m_zapper.get());
    }

    void progressOfARecordingAndOfTimeshift()
    {
        // A recording: how far into it.
        startPlayback();
        QCOMPARE(m_playback->progress(), 0.0);
        m_playback->seekBy(900);
        QVERIFY2(qAbs(m_playback->progress() - 0.25) < 0.01, qPrintable(QString::number(m_playback->progress())));
        m_playback->stop();
        QTRY_COMPARE(m_stored.size(), 1);
        // The next tests start from the beginning again.
        m_recording[u"position"_qs] = 0;
        m_client->refresh();
        QTRY_COMPARE(m_client->recordings()->items().first().position, 0);
        m_stored.clear();
        // Timeshift: where in the archive (ten minutes) the viewer is, live at the right end
        // (it said "full" at any point of the first hour).
        QTRY_VERIFY(m_client->isArchived(0) && m_client->archiveStart(0) == m_archiveFrom);
        QVERIFY(m_playback->pauseLive(0));
        QVERIFY2(m_playback->progress() > 0.99, qPrintable(QString::number(m_playback->progress())));
        m_playback->stop();
        QVERIFY(m_playback->rewindLive(0, 300));
        QVERIFY2(qAbs(m_playback->progress() - 0.5) < 0.02, qPrintable(QString::number(m_playback->progress())));
        m_playback->stop();
        QCOMPARE(m_stored.size(), 0); // timeshift stores no position
    }

    // diver cuts a seek at the start of the segment the point falls in and says where the cut
    // starts (X-Playlist-Start): the position shown is that of what plays, not the point asked
    // for (it ran up to a segment ahead). A recording counts from its start; a range (timeshift,
    // catch-up) from the point asked for, whose segment may begin before it.
    void positionIsWhereTheCutStarts()
    {
        m_segmentSeconds = 8;
        m_catchupLead = 5;
        QVERIFY(m_playback->playRecording(0));
        m_playback->seekBy(30);
        QVERIFY2(m_player->played.last().query().contains(u"start=30"), qPrintable(m_player->played.last().toString()));
        QTRY_COMPARE(m_playback->position(), 24); // the segment of 24-32 s
        // Resumed after a pause: again where the cut starts.
        m_playback->seekBy(43); // 67: the segment of 64-72 s
        QTRY_COMPARE(m_playback->position(), 64);
        m_playback->togglePause();
        QVERIFY(m_playback->isPaused());
        QCOMPARE(m_playback->position(), 64);
        m_playback->togglePause();
        QVERIFY2(m_player->played.last().query().contains(u"start=64"), qPrintable(m_player->played.last().toString()));
        QTRY_COMPARE(m_playback->position(), 64);
        m_playback->stop();
        QTRY_COMPARE(m_stored.size(), 1);
        QCOMPARE(m_stored.last(), 64);

        // Timeshift 300 s back: what plays began 5 s before that.
        QTRY_VERIFY(m_client->isArchived(0));
        QVERIFY(m_playback->rewindLive(0, 300));
        QTRY_VERIFY2(qAbs(m_playback->position() - 305) <= 1, qPrintable(QString::number(m_playback->position())));
        m_playback->stop();

        m_segmentSeconds = 0;
        m_catchupLead = 0;
        m_recording[u"position"_qs] = 0;
        m_client->refresh();
        QTRY_COMPARE(m_client->recordings()->items().first().position, 0);
        m_stored.clear();
    }

    // The position follows the recording's timeline (its playlist's program dates), not the
    // seconds of media played: 1 s into a recording whose source stalled for 10 s after its
    // first second, what plays aired 11 s after its start.
    void positionFollowsTheRecordingsDates()
    {
        m_datedPlaylist = true;
        QVERIFY(m_playback->playRecording(0));
        m_player->frame(20);
        QTRY_VERIFY_WITH_TIMEOUT(m_playback->position() >= 11, 6000);
        QVERIFY2(m_playback->position() <= 14, qPrintable(QString::number(m_playback->position())));
        m_stored.clear();
        m_playback->stop();
        QTRY_COMPARE(m_stored.size(), 1); // where it stopped, on the recording's timeline
        QVERIFY2(m_stored.last() >= 11, qPrintable(QString::number(m_stored.last())));
        m_datedPlaylist = false;
        m_recording[u"position"_qs] = 0;
        m_client->refresh();
        QTRY_COMPARE(m_client->recordings()->items().first().position, 0);
        m_stored.clear();
    }

    void segmentDatesOfAPlaylist()
    {
        const QList<DvrClient::SegmentDate> dates = DvrClient::segmentDates(
            "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2026-12-06T18:00:02.559+00:00\n#EXTINF:6.000,\na.ts\n#EXTINF:2.5,\nb.ts\n"
            "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-12-06T18:01:00.000Z\n#EXTINF:6.000,\nc.ts\n");
        QCOMPARE(dates.size(), 2); // b.ts has no date of its own
        QCOMPARE(dates[0].mediaSeconds, 0.0);
        QCOMPARE(dates[0].wallMs, QDateTime::fromString(u"2026-12-06T18:00:02.559Z"_qs, Qt::ISODateWithMs).toMSecsSinceEpoch());
        QCOMPARE(dates[1].mediaSeconds, 8.5);
        QCOMPARE(dates[1].wallMs - dates[0].wallMs, 57441);
    }

    // A recording of an archived channel whose archive stopped short of its end is "partial":
    // the library has what is missing of it, in the viewer's time.
    void partialRecordingSaysWhatIsMissing()
    {
        const QJsonObject before = m_recording;
        const qint64 from = m_recording.value(u"stop"_qs).toInteger() - 600, to = m_recording.value(u"stop"_qs).toInteger();
        m_recording[u"state"_qs] = u"partial"_qs;
        m_recording[u"reason"_qs] = u"the archive holds it up to 10:50"_qs;
        m_recording[u"missing"_qs] = QJsonArray{QJsonObject{{u"from"_qs, from}, {u"to"_qs, to}}};
        m_client->refresh();
        QTRY_COMPARE(m_client->recordings()->get(0).value(u"state"_qs).toString(), u"partial"_qs);
        // (With the day when it is not the recording's: a recording across midnight.)
        const QDate day = QDateTime::fromSecsSinceEpoch(m_recording.value(u"start"_qs).toInteger()).date();
        auto at = [&](qint64 t) {
            const QDateTime local = QDateTime::fromSecsSinceEpoch(t);
            return local.toString(local.date() == day ? u"HH:mm"_qs : u"ddd HH:mm"_qs);
        };
        const QString expected = at(from) + u'\u2013' + at(to);
        QCOMPARE(m_client->recordings()->get(0).value(u"missing"_qs).toString(), expected);
        m_recording = before;
        m_client->refresh();
        QTRY_COMPARE(m_client->recordings()->get(0).value(u"state"_qs).toString(), u"finished"_qs);
        QCOMPARE(m_client->recordings()->get(0).value(u"missing"_qs).toString(), QString());
    }

    // What the player is handed carries diver's playback tokens, never the ticket (which expires
    // within the hour while a film or a timeshift plays on): a recording's from its `playlist`,
    // the channel's from the status. A timeshift outlives its token too: before it expires, it
    // plays on from where it is with the fresh one.
    void urlsCarryThePlaybackTokens()
    {
        const QJsonObject before = m_recording;
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        m_recording[u"playlist"_qs] = u"http://127.0.0.1:1/play/7/index.m3u8?playback=pt1.rec"_qs;
        m_archiveToken = u"pt1.arc-a"_qs;
        // Expires in 8 s: played again with a fresh one a quarter of that before (a minute before
        // a token of a day; diver's [archive] token_seconds may make them short).
        m_archiveTokensExpire = now + 8;
        m_client->refresh();
        QTRY_COMPARE(m_client->archiveTokenExpires(0), now + 8);
        QTRY_VERIFY(m_client->recordings()->items().first().playlist.contains(u"pt1.rec"));
        QVERIFY(m_playback->playRecording(0));
        const QUrl recording = m_player->played.last();
        QVERIFY2(recording.query().contains(u"playback=pt1.rec") && !recording.query().contains(u"ticket="), qPrintable(recording.toString()));
        QCOMPARE(recording.port(), m_client->server().port()); // the box's diver, as before
        m_playback->stop();

        QVERIFY(m_playback->rewindLive(0, 300));
        const QUrl first = m_player->played.last();
        QVERIFY2(first.query().contains(u"playback=pt1.arc-a") && !first.query().contains(u"ticket="), qPrintable(first.toString()));
        const qsizetype plays = m_player->played.size();
        m_player->frame(20);
        // (No fresher token yet: it plays on with the one it has, tick after tick.)
        QSignalSpy ticks(m_playback.get(), &DvrPlayback::positionChanged);
        QTRY_VERIFY_WITH_TIMEOUT(ticks.size() >= 2, 5000);
        QCOMPARE(m_player->played.size(), plays);
        m_archiveToken = u"pt1.arc-b"_qs;
        m_archiveTokensExpire = now + 30 * 3600;
        m_client->refresh();
        // Played again a quarter of the old token's life before it expires (now + 6 s), not at once.
        QTRY_VERIFY_WITH_TIMEOUT(m_player->played.last().query().contains(u"playback=pt1.arc-b"), 15000);
        QCOMPARE(m_player->played.size(), plays + 1);
        // From where it was: five minutes behind live.
        const QString name = m_player->played.last().path().section(u'/', -1);
        const qint64 from = name.section(u'-', 1, 1).toLongLong();
        QVERIFY2(qAbs(QDateTime::currentSecsSinceEpoch() - from - 300) <= 3, qPrintable(name));
        QVERIFY(m_playback->isActive());
        m_playback->stop();

        m_recording = before;
        m_archiveToken.clear();
        m_client->refresh();
        QTRY_COMPARE(m_client->archiveTokenExpires(0), 0);
        m_stored.clear();
    }

    // A timeshift whose playback token diver refuses on a playlist's reload (401: it expired
    // before the box renewed it, the box asleep, diver's clock ahead) is not over: fresh tokens
    // are asked for and it plays on from where it was, five minutes behind live, not back to
    // live TV as at the end of the archive. Refused again before a picture, the failure stays.
    void aRefusedTokenPlaysOnWithAFreshOne()
    {
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        m_archiveToken = u"pt1.arc-a"_qs;
        m_archiveTokensExpire = now + 3600;
        m_client->refresh();
        QTRY_COMPARE(m_client->archiveTokenExpires(0), now + 3600);
        QVERIFY(m_playback->rewindLive(0, 300));
        QVERIFY2(m_player->played.last().query().contains(u"playback=pt1.arc-a"), qPrintable(m_player->played.last().toString()));
        m_player->frame(20);
        const qsizetype plays = m_player->played.size();
        QSignalSpy backToLive(m_playback.get(), &DvrPlayback::backToLive);

        m_archiveToken = u"pt1.arc-b"_qs; // what diver gives when asked again
        m_archiveTokensExpire = now + 7200;
        m_player->refuse(u"The stream http://127.0.0.1/catchup/ch1.test/index.m3u8 was refused on a reload (HTTP 401)"_qs);
        QTRY_VERIFY_WITH_TIMEOUT(m_player->played.last().query().contains(u"playback=pt1.arc-b"), 5000);
        QCOMPARE(m_player->played.size(), plays + 1);
        QVERIFY(backToLive.isEmpty());
        QVERIFY(m_playback->isActive());
        const QString name = m_player->played.last().path().section(u'/', -1);
        const qint64 from = name.section(u'-', 1, 1).toLongLong();
        QVERIFY2(qAbs(QDateTime::currentSecsSinceEpoch() - from - 300) <= 3, qPrintable(name));

        // The fresh one refused too, before a picture: no loop of plays, the failure stays.
        m_archiveToken = u"pt1.arc-c"_qs;
        m_archiveTokensExpire = now + 9000;
        m_player->refuse(u"The stream http://127.0.0.1/catchup/ch1.test/index.m3u8 was refused on a reload (HTTP 401)"_qs);
        QVERIFY(!QTest::qWaitFor([this] { return m_player->played.last().query().contains(u"pt1.arc-c"); }, 2500));
        QCOMPARE(m_player->played.size(), plays + 1);
        QCOMPARE(m_player->state(), iptv::hal::Player::State::Failed);
        QVERIFY(m_playback->isActive());
        QVERIFY(backToLive.isEmpty());
        m_playback->stop();

        m_archiveToken.clear();
        m_client->refresh();
        QTRY_COMPARE(m_client->archiveTokenExpires(0), 0);
        m_stored.clear();
    }

    void aFailureStaysOnScreen()
    {
        startPlayback();
        QSignalSpy ended(m_playback.get(), &DvrPlayback::ended);
        m_player->breakDown(u"Cannot read the stream: connection reset"_qs);
        QVERIFY(!ended.wait(300));
        QVERIFY(m_playback->isActive()); // the page shows the error; Back stops
        m_playback->stop();
        QVERIFY(!m_playback->isActive());
        QTRY_COMPARE(m_stored.size(), 1);
    }

    void theEndClosesAndIsStoredAsWatched()
    {
        m_stored.clear();
        startPlayback();
        m_playback->seekBy(30);
        m_player->frame(20);
        QSignalSpy ended(m_playback.get(), &DvrPlayback::ended);
        const int plays = int(m_player->played.size());
        m_player->endOfStream(u"The stream http://127.0.0.1/play/7/index.m3u8 ended"_qs);
        QVERIFY(ended.wait(2000));
        QVERIFY(!m_playback->isActive());
        // Live TV again.
        QCOMPARE(m_player->played.size(), plays + 1);
        QVERIFY2(m_player->played.last().path().endsWith(u"/live/ch1.ts"), qPrintable(m_player->played.last().toString()));
        // Stored as watched to the end: 100 %, and the next play starts from the beginning.
        QTRY_COMPARE(m_stored.size(), 1);
        QCOMPARE(m_stored.first(), 3600);
        QTRY_COMPARE(m_client->recordings()->items().first().position, 3600);
        QVERIFY(m_playback->playRecording(0));
        QVERIFY2(!m_player->played.last().hasQuery() || !m_player->played.last().query().contains(u"start="),
                 qPrintable(m_player->played.last().toString()));
        m_playback->stop();
    }

    // The bar shows what can be played now: all of a finished recording; of one still being
    // made, up to what is recorded (here 10 of 40 minutes), not its whole planned length.
    void availableIsWhatIsRecorded()
    {
        QVERIFY(m_playback->playRecording(0));
        QCOMPARE(m_playback->availableFrom(), 0.0);
        QCOMPARE(m_playback->availableTo(), 1.0);
        m_playback->stop();
        QTRY_VERIFY(!m_stored.isEmpty());

        const QJsonObject finished = m_recording;
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        m_recording[u"state"_qs] = u"recording"_qs;
        m_recording[u"position"_qs] = 0;
        m_recording[u"start"_qs] = now - 600;
        m_recording[u"stop"_qs] = now + 1800;
        m_client->refresh();
        QTRY_COMPARE(m_client->recordings()->items().first().state, u"recording"_qs);
        QVERIFY(m_playback->playRecording(0));
        QCOMPARE(m_playback->duration(), 2400);
        QVERIFY2(qAbs(m_playback->availableTo() - 0.25) < 0.01, qPrintable(QString::number(m_playback->availableTo())));
        QCOMPARE(m_playback->availableFrom(), 0.0);
        m_playback->stop();
        m_recording = finished;
        m_client->refresh();
        QTRY_COMPARE(m_client->recordings()->items().first().state, u"finished"_qs);
    }
};

QTEST_GUILESS_MAIN(TestDvrPlayback)
#include "tst_dvrplayback.moc"
