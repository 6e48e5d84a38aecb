// The network DVR in Hubris, driven by remote keys alone against the real servers: recast's live
// channels, the controlserver program (the box enrols and gets its ticket for diver through the
// control link) and diver. In the guide REC records what is on (a ● mark appears) and the next
// programme, and the same half hour on two more channels (one is left out: a conflict); the menu opens the library, green keeps, OK plays the recording, right seeks and
// Back stores where the viewer stopped; yellow shows the upcoming recordings; the library stops the
// recording in progress (red, then green: kept), and in upcoming red skips one episode of a series and green takes it back; on an archived
// channel yellow pauses live TV and OK plays on from the archive, and the details play what is on
// from its start; the ticket is renewed before it
// expires. Screenshots of each page.
#include "../recast/recasttest.h"
#include "controlserverprocess.h"
#include "dvrtestsupport.h"

#include <hubrisapp.h>

#include <QImage>
#include <QJsonDocument>
#include <QNetworkReply>
#include <QTcpServer>
#include <QQuickItem>
#include <QQuickWindow>
#include <QTest>

using namespace recasttest;

namespace {
const QString kDiverBinary = QStringLiteral(IPTV_BINARY_DIR "/server/diver/diver");
}

/// The suite's guide, but channel 3 has one programme from `start` to `stop` (in the past)
/// followed by one on now: what catch-up from the guide is for.
QString writeGuideWithPastAiring(const QString &path, qint64 start, qint64 stop)
{
    using namespace iptv::epg;
    const qint64 hour = QDateTime::currentSecsSinceEpoch() / 3600 * 3600;
    GuideBuilder builder({.from = hour - 86400, .days = 2, .compressionLevel = 1, .createdAt = hour - 86400});
    for (int n = 1; n <= 3; ++n) {
        const Channel c = dvrtest::testChannel(n, QStringLiteral("http://127.0.0.1:9/live/ch%1.ts").arg(n));
        builder.addChannel(c);
        QList<QPair<qint64, qint64>> times;
        if (n == 3)
            times = {{start - 1800, start}, {start, stop}, {stop, stop + 1800}};
        else
            times = {{stop - 1800, stop + 1800}};
        for (const auto &[from, to] : times) {
            Programme p;
            p.channelId = c.id;
            p.start = from;
            p.stop = to;
            p.titles = {{{}, from == start               ? u"Just missed"_qs
                             : n == 3 && from < start ? u"Earlier on channel 3"_qs
                                                      : QStringLiteral("On now on channel %1").arg(n)}};
            p.descs = {{{}, from == start ? u"Over a moment ago; channel 3 keeps an archive, so it can be watched from its start."_qs
                                          : u"Another programme."_qs}};
            builder.addProgramme(p);
        }
    }
    QString error;
    if (!builder.finishToFile(path, &error))
        qFatal("cannot write the catch-up guide: %s", qPrintable(error));
    return path;
}

class TestHubrisDvr : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<iptv::recast::RecastServer> m_recast;
    ControlServerProcess m_control;
    QProcess m_diver;
    quint16 m_diverPort = 0;
    qint64 m_diverStarted = 0; ///< UTC s: diver archives channel 3 from about then
    std::unique_ptr<HubrisApp> m_app;
    QQuickWindow *m_window = nullptr;
    QString m_shots;

    QString page() const { return m_window->property("page").toString(); }
    void press(Qt::Key key) { QTest::keyClick(m_window, key); }
    QString source() const { return m_app->hal()->player()->source().toString(); }
    /// The buttons of the details page (Watch now, From the start, Catch up ...).
    QStringList choices() const
    {
        QObject *details = m_window->findChild<QObject *>(u"detailsPage"_qs);
        return details ? details->property("choiceLabels").toStringList() : QStringList();
    }
    void shot(const QString &name)
    {
        const QImage image = m_window->grabWindow();
        QVERIFY(!image.isNull());
        QVERIFY(image.save(QStringLiteral("%1/hubris-dvr-%2.png").arg(m_shots, name)));
    }
    /// Waits for the toast (here: the box's own live stream, which goes nowhere) to go, so a
    /// screenshot shows the page.
    void toastGone()
    {
        QObject *toast = m_window->findChild<QObject *>(u"toast"_qs);
        QVERIFY(toast);
        QTRY_VERIFY_WITH_TIMEOUT(!toast->property("visible").toBool(), 10000);
    }
    /// The guide page's focused airing.
    int focusedAiring() const
    {
        QObject *grid = m_window->findChild<QObject *>(u"guidePage"_qs);
        return grid ? grid->property("focusedAiring").toMap().value(u"airing"_qs).toInt() : -1;
    }
    /// The upcoming list, one line a row (for failure messages).
    QString upcoming() const
    {
        QStringList lines;
        for (const auto &u : m_app->dvr()->upcoming()->items())
            lines.append(QStringLiteral("%1 %2 %3 %4 %5").arg(u.channel, u.title).arg(u.planned).arg(u.reason, u.detail));
        return lines.join(u'\n');
    }
    /// Waits for `condition`, reading diver again meanwhile (the app polls every 30 s).
    template<typename Condition>
    bool waitFor(Condition condition, int ms = 20000)
    {
        for (QDeadlineTimer deadline(ms); !deadline.hasExpired(); QTest::qWait(250)) {
            if (condition())
                return true;
            m_app->dvr()->refresh();
        }
        return condition();
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (!QFile::exists(ControlServerProcess::binary()) || !QFile::exists(kDiverBinary))
            QSKIP("the controlserver or diver binary is not built");
        m_shots = qEnvironmentVariable("IPTV_SCREENSHOT_DIR", m_dir.filePath(u"shots"_qs));
        QDir().mkpath(m_shots);
        iptv::media::installFfmpegLogHandler();
        // Channels 1 and 3 are live on recast (3 is archived by diver); 2 has no stream.
        m_recast = std::make_unique<iptv::recast::RecastServer>(
            serverConfig(m_dir.filePath(u"recast"_qs), {tinyChannel(u"ch1"_qs), tinyChannel(u"ch3"_qs)}));
        QString error;
        QVERIFY2(m_recast->start(&error), qPrintable(error));
        Client client(m_recast->port());
        for (const QString &id : {u"ch1"_qs, u"ch3"_qs})
            QTRY_VERIFY_WITH_TIMEOUT(client.playlist(id, u"low"_qs).segments.size() >= 2, 30000);
        // The box's own live streams go nowhere: Qt Multimedia opens a stream on the UI thread,
        // which would stall the recast in this process. diver records from recast.
        const QString guide = dvrtest::writeGuide(m_dir.filePath(u"live.guide"_qs), [](const QString &id) -> QString {
            return u"http://127.0.0.1:9/live/"_qs + id + u".ts"_qs;
        });

        QVERIFY(m_control.start(m_dir.filePath(u"control"_qs)));
        // diver as its own process (the box plays from it): tickets checked with the control
        // server's key, channel 3 archived.
        {
            QTcpServer s;
            QVERIFY(s.listen(QHostAddress::LocalHost, 0));
            m_diverPort = s.serverPort();
        }
        QFile conf(m_dir.filePath(u"diver.conf"_qs));
        QVERIFY(conf.open(QIODevice::WriteOnly));
        conf.write(QStringLiteral("[server]\nbind=127.0.0.1\nport=%1\ndata_dir=%2\nadmin_token=operator-secret\n"
                                  "[guide]\nfile=%3\n[control]\nserver=%4\n[recording]\nsegment_seconds=1\ncapacity=1\n"
                                  "source_template=http://127.0.0.1:%5/live/{id}.ts\n[storage]\nmin_free_mb=0\n[archive]\nchannels=ch3\n")
                       .arg(m_diverPort)
                       .arg(m_dir.filePath(u"diver"_qs), guide, m_control.httpUrl().toString())
                       .arg(m_recast->port())
                       .toUtf8());
        conf.close();
        m_diver.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_diverStarted = QDateTime::currentSecsSinceEpoch();
        m_diver.start(kDiverBinary, {u"--config"_qs, conf.fileName()});
        QVERIFY(m_diver.waitForStarted(10000));
        QNetworkAccessManager nam;
        auto healthy = [&] {
            std::unique_ptr<QNetworkReply> r(nam.get(QNetworkRequest(QUrl(QStringLiteral("http://127.0.0.1:%1/healthz").arg(m_diverPort)))));
            QSignalSpy done(r.get(), &QNetworkReply::finished);
            if (!r->isFinished())
                done.wait(5000);
            return QJsonDocument::fromJson(r->readAll()).object().value(u"ticketKey"_qs).toBool();
        };
        QTRY_VERIFY_WITH_TIMEOUT(healthy(), 20000);

        HubrisOptions options;
        options.simulator = true;
        options.dataDir = m_dir.filePath(u"box"_qs);
        options.guideFile = guide;
        options.controlServer = m_control.boxUrl();
        options.dvrServer = QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_diverPort));
        options.serial = u"HUB-DVR-1"_qs;
        m_app = std::make_unique<HubrisApp>(options);
        QVERIFY(m_app->start());
        m_window = m_app->window();
        QVERIFY(m_window);
        QTRY_VERIFY_WITH_TIMEOUT(m_app->store()->isLoaded(), 5000);
        QTRY_COMPARE(m_app->zapper()->current(), 0);
        m_window->requestActivate();
        QVERIFY(QTest::qWaitForWindowExposed(m_window));
        // The box enrols, asks the control server for a ticket and shows it to diver.
        QTRY_VERIFY_WITH_TIMEOUT(m_app->link()->isOnline(), 20000);
        QTRY_VERIFY2_WITH_TIMEOUT(m_app->dvr()->isReady(), qPrintable(m_app->dvr()->status()), 20000);
        QVERIFY(waitFor([this] { return m_app->dvr()->isArchived(2); }));
    }
    void cleanupTestCase()
    {
        m_app.reset();
        m_diver.terminate();
        m_diver.waitForFinished(10000);
        m_recast.reset();
    }

    void recordFromTheGuide()
    {
        press(Qt::Key_G);
        QCOMPARE(page(), u"guide"_qs);
        const int now = focusedAiring();
        QVERIFY(now >= 0);
        QSignalSpy recorded(m_app->dvr(), &iptv::hubris::DvrClient::recorded);
        press(Qt::Key_R); // REC: what is on now
        QVERIFY(recorded.wait(10000));
        // It records from now on: the viewer is told so (it said "will be recorded").
        QObject *toast = m_window->findChild<QObject *>(u"toast"_qs);
        const QString title = m_app->store()->guide()->title(m_app->store()->guide()->airing(quint32(now)).programme);
        QCOMPARE(toast->property("text").toString(), QStringLiteral("● Recording “%1” now").arg(title));
        QVERIFY(toast->property("visible").toBool());
        QVERIFY(waitFor([&] { return m_app->dvr()->markOf(now) == u"recording"; }));
        // REC again: it records on (diver records what has begun), and the box says how to stop it.
        QSignalSpy errors(m_app->dvr(), &iptv::hubris::DvrClient::errorOccurred);
        press(Qt::Key_R);
        QCOMPARE(errors.size(), 1);
        QVERIFY2(errors.first().first().toString().contains(u"stop it in Recordings"), qPrintable(errors.first().first().toString()));
        QCOMPARE(m_app->dvr()->markOf(now), u"recording"_qs);
        press(Qt::Key_Right);
        const int next = focusedAiring();
        QVERIFY(next != now);
        press(Qt::Key_R); // and the next one
        QVERIFY(waitFor([&] { return m_app->dvr()->markOf(next) == u"planned"; }));
        shot(u"guide-marks"_qs);
        press(Qt::Key_Return);
        QCOMPARE(page(), u"details"_qs);
        shot(u"details"_qs);
        press(Qt::Key_F2); // green in the details: cancel it again
        QVERIFY(waitFor([&] { return m_app->dvr()->markOf(next).isEmpty(); }));
        QTRY_COMPARE(toast->property("text").toString(),
                     QStringLiteral("“%1” will not be recorded").arg(m_app->store()->guide()->title(m_app->store()->guide()->airing(quint32(next)).programme)));
        press(Qt::Key_F2); // and record it once more
        QVERIFY(waitFor([&] { return m_app->dvr()->markOf(next) == u"planned"; }));
        press(Qt::Key_Escape); // back in the guide, where it was
        QCOMPARE(page(), u"guide"_qs);
        QCOMPARE(focusedAiring(), next);
        // The same half hour on channels 2 and 3 too: diver records one stream at a time (capacity
        // 1; channel 3 is archived, its recordings are ranges of the archive), so channel 2 is left out.
        press(Qt::Key_Down);
        press(Qt::Key_R);
        press(Qt::Key_Down);
        const int third = focusedAiring();
        press(Qt::Key_R);
        QVERIFY2(waitFor([&] { return m_app->dvr()->upcoming()->conflicts() == 1; }), qPrintable(upcoming()));
        QVERIFY(waitFor([&] { return !m_app->dvr()->markOf(third).isEmpty(); }));
        shot(u"guide-conflict"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
    }

    void libraryAndPlay()
    {
        press(Qt::Key_M);
        for (int i = 0; i < 4; ++i)
            press(Qt::Key_Down);
        press(Qt::Key_Return);
        QCOMPARE(page(), u"recordings"_qs);
        auto *library = m_app->dvr()->recordings();
        QVERIFY(waitFor([&] { return library->rowCount() == 1 && library->items().first().segments >= 4; }, 30000));
        const qint64 id = library->items().first().id;
        QObject *hint = m_window->findChild<QObject *>(u"recordingsHint"_qs);
        QObject *choices = m_window->findChild<QObject *>(u"keepChoices"_qs);
        QVERIFY(hint && hint->property("text").toString().contains(u"green keep"));
        QVERIFY(choices && !choices->property("visible").toBool());
        // Green: how long to keep it, by keys alone. Right: a month; OK keeps it so.
        toastGone();
        press(Qt::Key_F2);
        QVERIFY(choices->property("visible").toBool());
        QCOMPARE(choices->property("chosen").toString(), u"Keep 1 week"_qs);
        press(Qt::Key_Right);
        QCOMPARE(choices->property("chosen").toString(), u"Keep 1 month"_qs);
        QVERIFY2(hint->property("text").toString().contains(u"Keep 1 month"), qPrintable(hint->property("text").toString()));
        shot(u"recordings-keep"_qs);
        const qint64 monthLater = QDateTime::currentSecsSinceEpoch() + 30 * 86400;
        press(Qt::Key_Return);
        QVERIFY(!choices->property("visible").toBool());
        QVERIFY(waitFor([&] { return library->items().first().kept && library->items().first().keepUntil > 0; }));
        QVERIFY(qAbs(library->items().first().keepUntil - monthLater) <= 5);
        // The row says until when.
        const QString until = u"kept until "_qs
            + QLocale::c().toString(QDateTime::fromSecsSinceEpoch(library->items().first().keepUntil), u"ddd d MMM"_qs);
        QCOMPARE(library->data(library->index(0), iptv::hubris::DvrRecordingsModel::KeepTextRole).toString(), until);
        shot(u"recordings"_qs);
        // Back closes the choice and changes nothing; "until I delete it" takes the date back.
        press(Qt::Key_F2);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"recordings"_qs);
        QVERIFY(!choices->property("visible").toBool());
        press(Qt::Key_F2);
        press(Qt::Key_Right);
        press(Qt::Key_Right);
        QCOMPARE(choices->property("chosen").toString(), u"Keep until I delete it"_qs);
        press(Qt::Key_Return);
        QVERIFY(waitFor([&] { return library->items().first().kept && library->items().first().keepUntil == 0; }));

        // diver cuts a recording's playlist at ?start= (how the box seeks and resumes).
        auto playlist = [this](const QUrl &url) {
            QNetworkAccessManager nam;
            std::unique_ptr<QNetworkReply> r(nam.get(QNetworkRequest(url)));
            QSignalSpy done(r.get(), &QNetworkReply::finished);
            if (!r->isFinished())
                done.wait(5000);
            return r->readAll();
        };
        const QByteArray whole = playlist(m_app->dvr()->recordingUrl(id));
        const QByteArray cut = playlist(m_app->dvr()->recordingUrl(id, 2));
        QVERIFY2(whole.count("#EXTINF") >= 4, whole.constData());
        QVERIFY2(cut.count("#EXTINF") < whole.count("#EXTINF") && cut.count("#EXTINF") > 0, cut.constData());
        QVERIFY2(!cut.contains("EXT-X-MEDIA-SEQUENCE:0\n"), cut.constData());

        press(Qt::Key_Return); // play
        QCOMPARE(page(), u"playback"_qs);
        QVERIFY(source().contains(QStringLiteral("/play/%1/index.m3u8").arg(id)));
        QTRY_VERIFY_WITH_TIMEOUT(m_app->hal()->player()->state() == iptv::hal::Player::State::Playing, 15000);
        QTest::qWait(1500);
        shot(u"playback"_qs);
        // It began while the programme was on: as long as what is recorded, not the programme.
        const iptv::hubris::DvrRecording item = library->items().first();
        QVERIFY(item.recordStart > item.start);
        QCOMPARE(m_app->playback()->duration(), item.recordStop - item.recordStart);
        press(Qt::Key_Right); // 30 s on: diver cuts the playlist there
        QVERIFY2(source().contains(u"start="), qPrintable(source()));
        QVERIFY(m_app->playback()->position() >= 2);
        // 5 min on while it records: as far as it is recorded, and it plays.
        press(Qt::Key_Up);
        QVERIFY(m_app->playback()->position() <= QDateTime::currentSecsSinceEpoch() - item.recordStart);
        QTRY_VERIFY_WITH_TIMEOUT(m_app->hal()->player()->state() == iptv::hal::Player::State::Playing, 15000);
        press(Qt::Key_Escape); // stop: the position is stored
        QCOMPARE(page(), u"recordings"_qs);
        QVERIFY(waitFor([&] { return library->items().first().position >= 2; }));

        press(Qt::Key_F3); // yellow: upcoming
        QCOMPARE(page(), u"upcoming"_qs);
        QCOMPARE(m_app->dvr()->upcoming()->rowCount(), 3); // the next half hour on three channels
        QCOMPARE(m_app->dvr()->upcoming()->conflicts(), 1);
        QTest::qWait(4500); // the toast about the box's dead live stream (this test has none) goes
        shot(u"upcoming"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"recordings"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
    }

    void stopARecordingAndSkipAnEpisode()
    {
        // In the library, red on the recording in progress offers to stop it: green stops it and keeps it.
        press(Qt::Key_M);
        for (int i = 0; i < 4; ++i)
            press(Qt::Key_Down);
        press(Qt::Key_Return);
        QCOMPARE(page(), u"recordings"_qs);
        auto *library = m_app->dvr()->recordings();
        QVERIFY(waitFor([&] { return library->rowCount() >= 1; }));
        qsizetype row = -1;
        for (qsizetype i = 0; i < library->items().size(); ++i)
            if (library->items().at(i).state == u"recording"_qs)
                row = i;
        QVERIFY2(row >= 0, "no recording in progress (what is on channel 1, recorded from the guide)");
        const qint64 id = library->items().at(row).id;
        for (int i = 0; i < library->rowCount(); ++i)
            press(Qt::Key_Up);
        for (qsizetype i = 0; i < row; ++i)
            press(Qt::Key_Down);
        press(Qt::Key_F1); // red: stop or delete?
        QObject *libraryPage = m_window->findChild<QObject *>(u"recordingsPage"_qs);
        QVERIFY(libraryPage);
        QCOMPARE(libraryPage->property("confirmDelete").toInt(), int(row));
        shot(u"recordings-stop-or-delete"_qs);
        press(Qt::Key_F2); // green: stop recording, keep it
        QVERIFY(waitFor([&] { return library->items().at(library->rowOf(id)).state == u"finished"_qs; }));
        QCOMPARE(library->items().at(library->rowOf(id)).reason, u"stopped by the viewer"_qs);
        toastGone();
        shot(u"recordings-stopped"_qs);

        // A series ("Series 1" on channel 1, every third half hour): in upcoming, blue skips the
        // episode in focus: red skips it, green records it again.
        QSignalSpy recorded(m_app->dvr(), &iptv::hubris::DvrClient::recorded);
        m_app->dvr()->recordSeries(dvrtest::airingAt(*m_app->store()->guide(), 0, dvrtest::during(6)));
        QVERIFY(recorded.wait(10000));
        press(Qt::Key_F3); // yellow: upcoming
        QCOMPARE(page(), u"upcoming"_qs);
        QObject *upcomingPage = m_window->findChild<QObject *>(u"upcomingPage"_qs);
        QVERIFY(upcomingPage);
        auto current = [&] { return upcomingPage->property("current").toMap(); };
        QVERIFY(waitFor([&] {
            const auto &items = m_app->dvr()->upcoming()->items();
            return std::any_of(items.cbegin(), items.cend(), [](const auto &u) { return u.title.startsWith(u"Series"); });
        }));
        // A list longer than the screen (the series and the rest): channel down pages (as many rows as the
        // list shows), the row in focus stays on screen, channel up pages back.
        {
            auto *list = qobject_cast<QQuickItem *>(m_window->findChild<QObject *>(u"upcomingList"_qs));
            QVERIFY(list);
            const int rows = m_app->dvr()->upcoming()->rowCount();
            QVERIFY2(rows >= 6, qPrintable(upcoming()));
            QCOMPARE(list->property("currentIndex").toInt(), 0);
            auto focusShown = [&] {
                auto *item = qvariant_cast<QQuickItem *>(list->property("currentItem"));
                if (!item)
                    return false;
                const qreal top = item->y() - list->property("contentY").toReal();
                return top >= -1 && top + item->height() <= list->height() + 1;
            };
            press(Qt::Key_PageDown);
            const int paged = list->property("currentIndex").toInt();
            QVERIFY2(paged > 1 && paged < rows, qPrintable(QString::number(paged)));
            QTRY_VERIFY(focusShown());
            press(Qt::Key_PageDown);
            QVERIFY(list->property("currentIndex").toInt() > paged || paged == rows - 1);
            QTRY_VERIFY(focusShown());
            for (int i = 0; i < rows; ++i)
                press(Qt::Key_PageDown);
            QCOMPARE(list->property("currentIndex").toInt(), rows - 1); // no further than the last
            QTRY_VERIFY(focusShown());
            for (int i = 0; i < rows; ++i)
                press(Qt::Key_PageUp);
            QCOMPARE(list->property("currentIndex").toInt(), 0);
            QTRY_VERIFY(focusShown());
        }
        for (int i = 0; i < m_app->dvr()->upcoming()->rowCount() && !current().value(u"title"_qs).toString().startsWith(u"Series"); ++i)
            press(Qt::Key_Down);
        const QVariantMap episode = current();
        QVERIFY2(episode.value(u"title"_qs).toString().startsWith(u"Series"), qPrintable(upcoming()));
        QVERIFY(upcomingPage->property("currentSkippable").toBool());
        press(Qt::Key_F1); // red: skip this episode
        QVERIFY2(waitFor([&] { return current().value(u"reason"_qs).toString() == u"cancelled"_qs; }), qPrintable(upcoming()));
        QCOMPARE(current().value(u"start"_qs), episode.value(u"start"_qs));
        QVERIFY(upcomingPage->property("currentSkipped").toBool());
        // Skipped: red has nothing more to skip, and a series' episode is not cancelled on its own.
        QVERIFY(!upcomingPage->property("currentSkippable").toBool());
        QVERIFY(!upcomingPage->property("currentCancellable").toBool());
        toastGone();
        shot(u"upcoming-skipped"_qs);
        press(Qt::Key_F2); // green: record this episode again
        QVERIFY2(waitFor([&] { return current().value(u"planned"_qs).toBool() || current().value(u"reason"_qs).toString() == u"conflict"_qs; }),
                 qPrintable(upcoming()));
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"recordings"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
    }

    void pauseLiveTv()
    {
        press(Qt::Key_3); // channel 3: archived
        QTRY_COMPARE(m_app->zapper()->current(), 2);
        press(Qt::Key_F3); // yellow: pause
        QCOMPARE(page(), u"playback"_qs);
        QCOMPARE(m_app->playback()->mode(), u"timeshift"_qs);
        QCOMPARE(m_app->playback()->title(), u"3 Channel 3"_qs); // the bar says which channel is paused
        QVERIFY(m_app->playback()->isPaused());
        QTest::qWait(4500);
        shot(u"timeshift-paused"_qs);
        press(Qt::Key_Return); // play on from the paused moment, out of the archive
        QVERIFY2(source().contains(u"/catchup/ch3/archive-"), qPrintable(source()));
        QVERIFY(m_app->playback()->position() >= 2);
        QTRY_VERIFY_WITH_TIMEOUT(m_app->hal()->player()->state() == iptv::hal::Player::State::Playing, 15000);
        press(Qt::Key_Escape); // Back: live again
        QCOMPARE(page(), u"live"_qs);
        QVERIFY2(source().endsWith(u":9/live/ch3.ts"), qPrintable(source()));
    }

    void rewindLiveByLeft()
    {
        // On archived channel 3 live, Left plays from 30 s ago out of the archive (from its
        // beginning when it holds less: diver's playlist starts where the archive does).
        QCOMPARE(page(), u"live"_qs);
        QCOMPARE(m_app->zapper()->current(), 2);
        const qint64 before = QDateTime::currentSecsSinceEpoch();
        press(Qt::Key_Left);
        QCOMPARE(page(), u"playback"_qs);
        QCOMPARE(m_app->playback()->mode(), u"timeshift"_qs);
        QVERIFY(!m_app->playback()->isPaused());
        // archive-<30 s ago>-now: the live edge keeps moving.
        const QString url = source();
        const qint64 from = url.section(u"archive-"_qs, 1).section(u'-', 0, 0).toLongLong();
        QVERIFY2(url.contains(u"/catchup/ch3/archive-"_qs) && url.contains(u"-now.m3u8"_qs), qPrintable(url));
        QVERIFY2(from >= before - 31 && from <= QDateTime::currentSecsSinceEpoch() - 29, qPrintable(url));
        QTRY_VERIFY_WITH_TIMEOUT(m_app->hal()->player()->state() == iptv::hal::Player::State::Playing, 15000);
        // Seconds behind live of what plays: from where diver's playlist starts (X-Playlist-Start),
        // the archive's first segment when it holds less than 30 s.
        auto held = [&] { return QDateTime::currentSecsSinceEpoch() - m_app->dvr()->archiveStart(2); };
        QTRY_VERIFY2(m_app->playback()->position() >= qMin<qint64>(28, held() - 3) && m_app->playback()->position() <= 33,
                     qPrintable(QStringLiteral("%1 s behind live; the archive holds %2 s").arg(m_app->playback()->position()).arg(held())));
        toastGone();
        shot(u"timeshift-rewound"_qs);
        const qint64 behind = m_app->playback()->position();
        press(Qt::Key_Left); // 30 s further back than what plays
        QVERIFY2(source().section(u"archive-"_qs, 1).section(u'-', 0, 0).toLongLong() <= QDateTime::currentSecsSinceEpoch() - behind - 28,
                 qPrintable(source()));
        QTRY_VERIFY2(m_app->playback()->position() >= qMin<qint64>(behind + 28, held() - 3),
                     qPrintable(QStringLiteral("%1 s behind live; the archive holds %2 s").arg(m_app->playback()->position()).arg(held())));
        press(Qt::Key_Escape); // Back: live again
        QCOMPARE(page(), u"live"_qs);
        QVERIFY2(source().endsWith(u":9/live/ch3.ts"), qPrintable(source()));
    }

    void watchFromTheStart()
    {
        // Channel 3 is archived: the details of what is on offer "From the start" (right, OK).
        // The archive's first segment is written a few seconds after diver starts; minutes under
        // load (both failures in CI-like runs were at load 13-20).
        // (Its first segment is dated when its media aired: recast starts a stream at a cached
        // keyframe, up to a GOP before diver connected.)
        QVERIFY2(waitFor([&] { return m_app->dvr()->archiveStart(2) >= m_diverStarted - 2; }, 90000),
                 qPrintable(QStringLiteral("archive of channel 3 from %1, diver started at %2")
                                .arg(m_app->dvr()->archiveStart(2))
                                .arg(m_diverStarted)));
        const qint64 archived = m_app->dvr()->archiveStart(2);
        press(Qt::Key_G);
        QCOMPARE(page(), u"guide"_qs);
        const int airing = focusedAiring();
        const auto a = m_app->store()->guide()->airing(quint32(airing));
        QCOMPARE(int(a.channel), 2);
        press(Qt::Key_Return);
        QCOMPARE(page(), u"details"_qs);
        // It began before the archive: the button says from when it plays, not "from the start".
        const QString from = u"From "_qs + QDateTime::fromSecsSinceEpoch(archived).toString(u"hh:mm"_qs);
        QTRY_VERIFY2(choices().contains(from), qPrintable(choices().join(u", ")));
        QVERIFY(!choices().contains(u"From the start"_qs));
        press(Qt::Key_Right);
        press(Qt::Key_Return);
        QCOMPARE(page(), u"playback"_qs);
        QCOMPARE(m_app->playback()->mode(), u"catchup"_qs);
        // It began before diver archived channel 3: from where the archive begins, and the
        // position says how far into the programme that is (it said 0:00).
        QVERIFY(a.start < archived);
        QVERIFY2(source().contains(QStringLiteral("/catchup/ch3/archive-%1-%2.m3u8").arg(archived).arg(a.stop - archived)), qPrintable(source()));
        QVERIFY(m_app->playback()->position() >= archived - a.start && m_app->playback()->position() <= archived - a.start + 3);
        press(Qt::Key_Escape); // Back: the details again, live TV underneath
        QCOMPARE(page(), u"details"_qs);
        QVERIFY(source().endsWith(u":9/live/ch3.ts"));
        press(Qt::Key_Escape);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
    }

    void catchUpAPastAiringFromTheGuide()
    {
        // A programme of channel 3 that began after diver started archiving it and has ended:
        // the box gets a guide that has one (the suite's guide has half hours that began before).
        // It must have ended: at least 12 s of it, from 6 s after diver started.
        const qint64 start = m_diverStarted + 6;
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentSecsSinceEpoch() - 3 - start >= 12, 30000);
        const qint64 stop = QDateTime::currentSecsSinceEpoch() - 3;
        const QString guide = writeGuideWithPastAiring(m_dir.filePath(u"catchup.guide"_qs), start, stop);
        QSignalSpy changed(m_app->store(), &iptv::hubris::GuideStore::guideChanged);
        m_app->store()->loadFile(guide);
        QVERIFY(changed.wait(5000));
        QCOMPARE(m_app->zapper()->current(), 2);

        press(Qt::Key_G); // the guide, at what is on now on channel 3
        QCOMPARE(page(), u"guide"_qs);
        press(Qt::Key_Left); // the programme before: over
        const int airing = focusedAiring();
        QVERIFY(airing >= 0);
        const auto a = m_app->store()->guide()->airing(quint32(airing));
        QCOMPARE(int(a.channel), 2);
        QCOMPARE(a.start, start);
        QCOMPARE(a.stop, stop);
        toastGone();
        shot(u"guide-past"_qs);
        press(Qt::Key_Return);
        QCOMPARE(page(), u"details"_qs);
        QTRY_VERIFY2(choices().contains(u"Catch up"_qs), qPrintable(choices().join(u", "))); // all of it is archived
        shot(u"details-catchup"_qs);
        press(Qt::Key_Return); // its one choice: catch up
        QCOMPARE(page(), u"playback"_qs);
        QCOMPARE(m_app->playback()->mode(), u"catchup"_qs);
        QCOMPARE(m_app->playback()->duration(), stop - start);
        QVERIFY2(source().contains(QStringLiteral("/catchup/ch3/archive-%1-%2.m3u8").arg(start).arg(stop - start)), qPrintable(source()));
        // diver has all of it: it plays, from its start.
        QTRY_VERIFY_WITH_TIMEOUT(m_app->hal()->player()->state() == iptv::hal::Player::State::Playing, 15000);
        QVERIFY(m_app->playback()->position() < 10);
        toastGone();
        shot(u"catchup-playing"_qs);
        press(Qt::Key_Escape); // Back: the details, live TV underneath
        QCOMPARE(page(), u"details"_qs);
        QVERIFY(source().endsWith(u":9/live/ch3.ts"));
        press(Qt::Key_Escape);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
    }

    void ticketIsRenewed()
    {
        // Renewed ahead of its expiry without being asked: here 1 s before the control server's
        // hour is up becomes the 10 s floor.
        iptv::hubris::DvrClient *dvr = m_app->dvr();
        iptv::boxlink::BoxLink *link = m_app->link()->link();
        dvr->setRenewBeforeSeconds(3600 - 1);
        QSignalSpy tickets(link, &iptv::boxlink::BoxLink::ticketReceived);
        QVERIFY(link->requestTicket(u"diver"_qs));
        QVERIFY(tickets.wait(10000));
        const QByteArray first = dvr->ticket();
        QCOMPARE(first, tickets.first().at(1).toByteArray());
        QVERIFY(tickets.wait(20000));
        QVERIFY(dvr->ticket() != first);
        dvr->setRenewBeforeSeconds(300);
        dvr->refresh();
        QTRY_VERIFY(dvr->isReady());
    }
};

QTEST_MAIN(TestHubrisDvr)
#include "tst_hubrisdvr.moc"
