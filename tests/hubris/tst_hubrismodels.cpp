// The guide store (off-thread open, a broken guide never replaces a good one), the channel list
// (QAbstractItemModelTester, now/next from the clock, numbers) and the grid's window queries.
#include "testguide.h"

#include <hubris/boxsettings.h>
#include <hubris/channellistmodel.h>
#include <hubris/diagnostics.h>
#include <hubris/offlinestatus.h>
#include <hubris/updateprogress.h>
#include <hubris/guidegrid.h>
#include <hubris/guidestore.h>
#include <hubris/reminders.h>
#include <hubris/searchmodel.h>

#include <QAbstractItemModelTester>
#include <QFile>
#include <QHttpServer>
#include <QHttpServerResponse>
#include <QTcpServer>
#include <QSignalSpy>
#include <QTest>

using namespace iptv::hubris;

class TestHubrisModels : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void storeOpensOffThread()
    {
        QTemporaryDir dir;
        GuideStore store(dir.filePath(QStringLiteral("cache")));
        QSignalSpy changed(&store, &GuideStore::guideChanged);
        store.loadFile(testguide::write(dir));
        QVERIFY(!store.isLoaded()); // not opened on the caller's thread
        QVERIFY(changed.wait(5000));
        QVERIFY(store.isLoaded());
        QCOMPARE(store.channelCount(), testguide::kNumbers.size());
    }

    void brokenGuideKeepsTheGoodOne()
    {
        QTemporaryDir dir;
        GuideStore store(dir.filePath(QStringLiteral("cache")));
        QSignalSpy changed(&store, &GuideStore::guideChanged);
        store.loadFile(testguide::write(dir));
        QVERIFY(changed.wait(5000));
        const auto good = store.guide();

        QFile broken(dir.filePath(QStringLiteral("broken.guide")));
        QVERIFY(broken.open(QIODevice::WriteOnly));
        QFile original(dir.filePath(QStringLiteral("test.guide")));
        QVERIFY(original.open(QIODevice::ReadOnly));
        broken.write(original.read(original.size() / 2)); // truncated
        broken.close();
        store.loadFile(broken.fileName());
        QTRY_VERIFY_WITH_TIMEOUT(store.status().contains(QLatin1String("could not be read")), 5000);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(store.guide(), good);
    }

    void channelList()
    {
        QTemporaryDir dir;
        GuideStore store(dir.filePath(QStringLiteral("cache")));
        store.setFixedNow(testguide::kDay0 + 5 * 3600 + 900); // 05:15 on day 0
        ChannelListModel model(&store);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy count(&model, &ChannelListModel::countChanged);
        QCOMPARE(model.rowCount(), 0);
        store.loadFile(testguide::write(dir));
        QVERIFY(count.wait(5000));
        QCOMPARE(model.rowCount(), 6);

        const QModelIndex first = model.index(0);
        QCOMPARE(model.data(first, ChannelListModel::NumberRole).toInt(), 1);
        QCOMPARE(model.data(first, ChannelListModel::NameRole).toString(), u"Channel 1"_qs);
        QCOMPARE(model.data(first, ChannelListModel::NowTitleRole).toString(), u"Channel 1 h5"_qs);
        QCOMPARE(model.data(first, ChannelListModel::NextTitleRole).toString(), u"Channel 1 h6"_qs);
        QCOMPARE(model.data(first, ChannelListModel::NowProgressRole).toDouble(), 0.25);
        QCOMPARE(model.data(first, ChannelListModel::StreamRole).toString(), u"http://127.0.0.1:9/live/ch1.ts"_qs);

        QCOMPARE(model.rowOfNumber(10), 3);
        QCOMPARE(model.rowOfNumber(7), -1);
        QVERIFY(model.numberMayContinue(1));   // 10, 11, 101
        QVERIFY(model.numberMayContinue(10));  // 101
        QVERIFY(!model.numberMayContinue(11));
        QVERIFY(!model.numberMayContinue(2));

        QSignalSpy data(&model, &QAbstractItemModel::dataChanged);
        model.toggleFavourite(2);
        QCOMPARE(data.size(), 1);
        QVERIFY(model.data(model.index(2), ChannelListModel::FavouriteRole).toBool());
        QCOMPARE(model.favourites(), QSet<QString>{u"ch3.test"_qs});
        model.toggleFavourite(2);
        QVERIFY(model.favourites().isEmpty());

        // The clock moves on: tick() says now/next changed.
        store.setFixedNow(testguide::kDay0 + 6 * 3600);
        model.tick();
        QCOMPARE(model.data(first, ChannelListModel::NowTitleRole).toString(), u"Channel 1 h6"_qs);
        QCOMPARE(model.get(0).value(u"nowTitle"_qs).toString(), u"Channel 1 h6"_qs);
    }

    void gridWindow()
    {
        QTemporaryDir dir;
        GuideStore store(dir.filePath(QStringLiteral("cache")));
        GuideGrid grid(&store);
        QSignalSpy changed(&grid, &GuideGrid::guideChanged);
        QVERIFY(grid.airings(0, testguide::kDay0, testguide::kDay0 + 3600).isEmpty()); // no guide yet
        store.loadFile(testguide::write(dir));
        QVERIFY(changed.wait(5000));
        QCOMPARE(grid.windowStart(), testguide::kDay0);

        // 02:30 to 05:00: the airings of hours 2, 3 and 4, in order, the first cut by the window.
        const QVariantList list = grid.airings(1, testguide::kDay0 + 2 * 3600 + 1800, testguide::kDay0 + 5 * 3600);
        QCOMPARE(list.size(), 3);
        QCOMPARE(list.first().toMap().value(u"title"_qs).toString(), u"Channel 2 h2"_qs);
        QCOMPARE(list.last().toMap().value(u"stop"_qs).toLongLong(), testguide::kDay0 + 5 * 3600);
        QVERIFY(grid.airings(99, testguide::kDay0, testguide::kDay0 + 3600).isEmpty());
        QVERIFY(grid.airings(0, testguide::kDay0 + 3600, testguide::kDay0).isEmpty());

        const QVariantMap at = grid.airingAt(3, testguide::kDay0 + 25 * 3600 + 10);
        QCOMPARE(at.value(u"title"_qs).toString(), u"Channel 10 h25"_qs);
        const QVariantMap details = grid.details(at.value(u"airing"_qs).toInt());
        QCOMPARE(details.value(u"description"_qs).toString(), u"Hour 25 on Channel 10."_qs);
        QCOMPARE(details.value(u"channelNumber"_qs).toInt(), 10);
        QVERIFY(grid.details(-1).isEmpty());
    }

    void searchAsYouType()
    {
        QTemporaryDir dir;
        GuideStore store(dir.filePath(QStringLiteral("cache")));
        store.setFixedNow(testguide::kDay0 + 10 * 3600 + 60); // 10:01 on day 0
        SearchModel model(&store);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy results(&model, &SearchModel::resultsChanged);
        store.loadFile(testguide::write(dir));
        QVERIFY(results.wait(5000));
        QCOMPARE(model.rowCount(), 0); // no query yet

        model.append(u"channel 10 h4"_qs);
        // Every word is a prefix: "10" finds channels 10 and 101, "h4" the hours 4 and 40-47.
        // Hits are airings from now on (hour 4 of day 0 is past).
        QVERIFY(model.rowCount() > 0);
        for (int row = 0; row < model.rowCount(); ++row) {
            const QString title = model.data(model.index(row), SearchModel::TitleRole).toString();
            QVERIFY2(title.startsWith(u"Channel 10"_qs) && title.contains(u" h4"_qs), qPrintable(title));
            QVERIFY(model.data(model.index(row), SearchModel::StartRole).toLongLong() >= store.now());
        }
        model.backspace();
        model.backspace();
        model.backspace();
        QCOMPARE(model.query(), u"channel 10"_qs);
        const int wide = model.total();
        model.setDay(1); // today only: hours 10 to 23 of two channels (10 and 101)
        QVERIFY(model.total() < wide);
        for (int row = 0; row < model.rowCount(); ++row)
            QVERIFY(model.data(model.index(row), SearchModel::StartRole).toLongLong() < testguide::kDay0 + 86400);
        model.clear();
        QCOMPARE(model.rowCount(), 0);
        QVERIFY(model.lastSearchMs() >= 0);
    }

    void reminders()
    {
        QTemporaryDir dir;
        GuideStore store(dir.filePath(QStringLiteral("cache")));
        store.setFixedNow(testguide::kDay0 + 5 * 3600 + 900); // 05:15
        QSignalSpy loaded(&store, &GuideStore::guideChanged);
        store.loadFile(testguide::write(dir));
        QVERIFY(loaded.wait(5000));
        GuideGrid grid(&store);
        const int at7 = grid.airingAt(3, testguide::kDay0 + 7 * 3600).value(u"airing"_qs).toInt(); // "Channel 10 h7"
        const int past = grid.airingAt(3, testguide::kDay0 + 2 * 3600).value(u"airing"_qs).toInt();
        const QString file = dir.filePath(QStringLiteral("reminders.json"));
        {
            Reminders reminders(&store, file);
            QAbstractItemModelTester tester(&reminders, QAbstractItemModelTester::FailureReportingMode::QtTest);
            QVERIFY(reminders.toggle(at7));
            QVERIFY(reminders.isSet(at7));
            QVERIFY(!reminders.toggle(past)); // over: not set
            QCOMPARE(reminders.rowCount(), 1);
        }
        // Kept across a restart; prompted a minute before the start, once; gone when it is over.
        Reminders reminders(&store, file);
        QCOMPARE(reminders.rowCount(), 1);
        QCOMPARE(reminders.data(reminders.index(0), Reminders::TitleRole).toString(), u"Channel 10 h7"_qs);
        QSignalSpy due(&reminders, &Reminders::due);
        reminders.check();
        QCOMPARE(due.size(), 0);
        store.setFixedNow(testguide::kDay0 + 7 * 3600 - 30);
        reminders.check();
        QCOMPARE(due.size(), 1);
        QCOMPARE(due.first().at(0).toString(), u"Channel 10 h7"_qs);
        QCOMPARE(due.first().at(1).toInt(), 3);
        reminders.check();
        QCOMPARE(due.size(), 1);
        store.setFixedNow(testguide::kDay0 + 8 * 3600);
        reminders.check();
        QCOMPARE(reminders.rowCount(), 0);
        QVERIFY(!reminders.toggle(at7)); // and it cannot be set again once over
    }

    void settingsPersist()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("settings.json"));
        {
            BoxSettings settings(file);
            QCOMPARE(settings.refreshMinutes(), 15);
            QSignalSpy changed(&settings, &BoxSettings::changed);
            settings.setGuideServer(u" http://127.0.0.1:9410 "_qs);
            settings.setRefreshMinutes(30);
            settings.setAudioLanguage(u"de"_qs);
            settings.setFavourites({u"b"_qs, u"a"_qs});
            settings.setRefreshMinutes(30); // no change, no signal
            QCOMPARE(changed.size(), 4);
        }
        BoxSettings settings(file);
        QCOMPARE(settings.guideServer(), u"http://127.0.0.1:9410"_qs);
        QCOMPARE(settings.refreshMinutes(), 30);
        QCOMPARE(settings.audioLanguage(), u"de"_qs);
        QCOMPARE(settings.favourites(), (QStringList{u"a"_qs, u"b"_qs}));
        QCOMPARE(BoxSettings::languageName(u"de"_qs), u"Deutsch"_qs);
        QCOMPARE(BoxSettings::languageName(u"en"_qs), u"English"_qs);

        // A damaged file costs the defaults, not the box.
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write("{\"refreshMinutes\": 3");
        f.close();
        BoxSettings damaged(file);
        QCOMPARE(damaged.refreshMinutes(), 15);
        QVERIFY(damaged.lastError().contains(u"damaged"_qs));
    }

    void updateProgressStages()
    {
        using Stage = iptv::boxlink::UpdateInstaller::Stage;
        UpdateProgress progress;
        QVERIFY(!progress.isActive());
        progress.finished(true, u"1.0.0"_qs, u"1.0.0 is already installed"_qs); // not followed: nothing to show
        QVERIFY(!progress.isActive());
        progress.stageChanged(u"2.0.0"_qs, Stage::Downloading);
        QVERIFY(progress.isActive());
        QCOMPARE(progress.progress(), -1.0); // size unknown yet
        progress.downloadProgress(u"2.0.0"_qs, 500, 1000);
        QCOMPARE(progress.progress(), 0.4);
        QVERIFY(progress.text().startsWith(u"Downloading"_qs));
        progress.stageChanged(u"2.0.0"_qs, Stage::Verifying);
        QCOMPARE(progress.stage(), UpdateProgress::Verifying);
        progress.stageChanged(u"2.0.0"_qs, Stage::Installing);
        progress.finished(true, u"2.0.0"_qs, u"installed"_qs);
        progress.restarting();
        QCOMPARE(progress.stage(), UpdateProgress::Restarting);
        QCOMPARE(progress.progress(), 1.0);

        UpdateProgress failing;
        failing.setFailureMs(50);
        failing.stageChanged(u"3.0.0"_qs, Stage::Downloading);
        failing.finished(false, u"3.0.0"_qs, u"HashMismatch: no"_qs);
        QCOMPARE(failing.stage(), UpdateProgress::Failed);
        QVERIFY(failing.text().contains(u"HashMismatch"_qs));
        QTRY_VERIFY(!failing.isActive()); // said for a while, then gone
    }

    // The box downloads through epg::GuideSync: a delta from the guide it holds when the server
    // makes one, else the whole guide; the cache holds it for the next start; a refused guide
    // leaves the shown one. (GuideSync itself is tested against iptvnext in tst_guidesync.)
    void downloadsIntoTheCache()
    {
        QTemporaryDir dir;
        QFile file(testguide::write(dir));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray bytes = file.readAll();
        const auto parsed = iptv::epg::Guide::fromBytes(bytes);
        QVERIFY(parsed);
        QByteArray body = bytes;
        QHttpServer server;
        int wholeRequests = 0;
        server.route(u"/guide/delta"_qs, [] { return QHttpServerResponse(QHttpServerResponder::StatusCode::NotFound); });
        server.route(u"/guide"_qs, [&](const QHttpServerRequest &request) {
            ++wholeRequests;
            if (request.value("If-None-Match") == '"' + parsed->info().checksum + '"')
                return QHttpServerResponse(QHttpServerResponder::StatusCode::NotModified);
            QHttpServerResponse r("application/vnd.iptv.guide", body);
            r.setHeader("ETag", '"' + parsed->info().checksum + '"');
            return r;
        });
        const quint16 port = server.listen(QHostAddress::LocalHost, 0);
        QVERIFY(port != 0);

        GuideStore store(dir.filePath(QStringLiteral("cache")));
        store.setServer(QUrl(u"http://127.0.0.1:%1"_qs.arg(port)));
        QSignalSpy loaded(&store, &GuideStore::guideChanged);
        store.refreshNow();
        QVERIFY(loaded.wait(5000));
        QCOMPARE(store.guide()->info().checksum, parsed->info().checksum);
        QCOMPARE(wholeRequests, 1);

        GuideStore restarted(dir.filePath(QStringLiteral("cache")));
        QSignalSpy cached(&restarted, &GuideStore::guideChanged);
        restarted.loadCache();
        QVERIFY(cached.wait(5000));
        QCOMPARE(restarted.guide()->info().checksum, parsed->info().checksum);

        // The same version again (no delta here): a 304, nothing replaced, no failure.
        QSignalSpy failed(&store, &GuideStore::refreshFailed);
        const QDateTime contact = store.lastContact();
        QVERIFY(contact.isValid());
        store.refreshNow();
        QTRY_VERIFY(store.lastContact() > contact); // answered and handled
        QCOMPARE(wholeRequests, 2);
        QCOMPARE(failed.size(), 0);
        QCOMPARE(loaded.size(), 1);
    }

    void offlineAndRetry()
    {
        // A server that is not there: offline at once, the guide stays, and the next try comes
        // after the retry interval rather than the refresh interval.
        QTemporaryDir dir;
        GuideStore store(dir.filePath(QStringLiteral("cache")));
        OfflineStatus status(&store, nullptr);
        QSignalSpy loaded(&store, &GuideStore::guideChanged);
        store.loadFile(testguide::write(dir));
        QVERIFY(loaded.wait(5000));
        QVERIFY(!status.isShown());
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress::LocalHost, 0));
        const quint16 port = closed.serverPort();
        closed.close();
        store.setServer(QUrl(u"http://127.0.0.1:%1"_qs.arg(port)));
        store.setRetryMs(100);
        QSignalSpy failed(&store, &GuideStore::refreshFailed);
        store.refreshNow();
        QVERIFY(failed.wait(5000));
        QVERIFY(status.isOffline());
        QVERIFY(status.isShown());
        QVERIFY(status.text().contains(u"guide server unreachable"_qs));
        QVERIFY(store.isLoaded());
        store.startAutoRefresh(60);
        QVERIFY(failed.wait(5000)); // retried within 100 ms, not an hour
    }

    void noGuideYetIsAskedForAgainSoon()
    {
        // A box that starts while the guide server has not compiled its first guide (503, as
        // iptvnext in the demo's first seconds): asked again after the retry interval, not after
        // the refresh interval (it stayed without channels for 15 minutes), and told so.
        QTemporaryDir dir;
        QHttpServer server;
        QByteArray body;
        server.route(u"/guide"_qs, [&] {
            if (body.isEmpty())
                return QHttpServerResponse(QHttpServerResponder::StatusCode::ServiceUnavailable);
            return QHttpServerResponse("application/vnd.iptv.guide", body);
        });
        const quint16 port = server.listen(QHostAddress::LocalHost, 0);
        QVERIFY(port != 0);
        GuideStore store(dir.filePath(QStringLiteral("cache")));
        store.setServer(QUrl(u"http://127.0.0.1:%1"_qs.arg(port)));
        store.setRetryMs(100);
        QSignalSpy failed(&store, &GuideStore::refreshFailed);
        QSignalSpy loaded(&store, &GuideStore::guideChanged);
        store.startAutoRefresh(60);
        QVERIFY(failed.wait(5000));
        QVERIFY2(failed.first().first().toString().startsWith(u"No guide yet"_qs), qPrintable(failed.first().first().toString()));
        QVERIFY(failed.wait(5000)); // again within 100 ms
        QFile guide(testguide::write(dir));
        QVERIFY(guide.open(QIODevice::ReadOnly));
        body = guide.readAll();
        QVERIFY(loaded.wait(5000));
        QVERIFY(store.isLoaded());
    }

    void frameStatistics()
    {
        const auto s = Diagnostics::statsOf({4, 1, 3, 2, 100});
        QCOMPARE(s.frames, 5);
        QCOMPARE(s.p50, 3.0);
        QCOMPARE(s.max, 100.0);
        QCOMPARE(s.p99, 100.0);
        QVERIFY(Diagnostics::residentKb() > 0);

        // Frames for telemetry: the intervals since the last sample, once.
        Diagnostics diagnostics(nullptr, nullptr, nullptr);
        QVERIFY(!diagnostics.takeFrameStats());
        for (int i = 0; i < 3; ++i) {
            diagnostics.frameStarted();
            diagnostics.frameSwapped();
        }
        const auto frames = diagnostics.takeFrameStats();
        QVERIFY(frames);
        QCOMPARE(frames->frames, 2);
        QVERIFY(frames->max < 250);
        QVERIFY(!diagnostics.takeFrameStats());
    }
};

QTEST_GUILESS_MAIN(TestHubrisModels)
#include "tst_hubrismodels.moc"
