// The box's DVR client against a real diver (in-process, checking tickets with a test key): the
// models under QAbstractItemModelTester, record an airing and a series (the guide's marks follow),
// a conflict with its reason (and its other airing recorded instead), what the viewer is told
// after a record key, the library's keep, resume position, stop and delete, one episode
// of a series skipped and taken back, a timeshift played on the real player past its playback
// token's expiry (against recast), and what the viewer
// is told when the ticket is refused, diver is down, or the box has no ticket at all.
#include "../recast/recasttest.h"
#include "dvrtestsupport.h"

#include <hal/ffmpegplayer.h>
#include <hubris/channellistmodel.h>
#include <hubris/dvrclient.h>
#include <hubris/dvrplayback.h>
#include <hubris/guidestore.h>
#include <hubris/zapper.h>

#include <QAbstractItemModelTester>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QRegularExpression>
#include <QTcpServer>
#include <QUrlQuery>
#include <QTest>

using iptv::hubris::DvrClient;
using iptv::hubris::DvrRecording;
using iptv::hubris::DvrUpcoming;

class TestDvrClient : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    iptv::payload::SigningKey m_key = iptv::payload::SigningKey::generate();
    std::unique_ptr<iptv::diver::DiverServer> m_diver;
    std::unique_ptr<iptv::hubris::GuideStore> m_store;
    QUrl m_url;
    QNetworkAccessManager m_nam;

    std::unique_ptr<DvrClient> client(const QString &serial)
    {
        auto c = std::make_unique<DvrClient>(m_store.get(), m_url);
        new QAbstractItemModelTester(c->recordings(), QAbstractItemModelTester::FailureReportingMode::QtTest, c.get());
        new QAbstractItemModelTester(c->upcoming(), QAbstractItemModelTester::FailureReportingMode::QtTest, c.get());
        c->setTicket(dvrtest::ticket(m_key, serial), QDateTime::currentDateTimeUtc().addSecs(600));
        return c;
    }
    int airing(int channel, qint64 t) const { return dvrtest::airingAt(*m_store->guide(), channel, t); }
    iptv::diver::DiverServer *diver() const { return m_diver.get(); }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        const QString guide = dvrtest::writeGuide(m_dir.filePath(u"live.guide"_qs), [](const QString &id) -> QString {
            return u"http://127.0.0.1:9/live/"_qs + id + u".ts"_qs; // nothing there: recordings fail, plans do not
        });
        const QString keyFile = m_dir.filePath(u"tickets.pub"_qs);
        QString error;
        QVERIFY2(m_key.publicKey().save(keyFile, &error), qPrintable(error));
        iptv::diver::DiverConfig config = dvrtest::config(m_dir, guide);
        config.ticketKeyFiles = {keyFile};
        config.capacity = 1;
        config.archivedChannels = {u"ch3"_qs};
        m_diver = std::make_unique<iptv::diver::DiverServer>(config);
        QVERIFY2(m_diver->start(&error), qPrintable(error));
        m_url = QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_diver->httpPort()));
        m_store = std::make_unique<iptv::hubris::GuideStore>(m_dir.filePath(u"box"_qs));
        m_store->loadFile(guide);
        QTRY_VERIFY(m_store->isLoaded());
    }
    void cleanupTestCase()
    {
        m_diver.reset();
    }

    void modelsMoveInsertAndRemoveRows()
    {
        iptv::hubris::DvrRecordingsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        auto rec = [](qint64 id, const QString &title) {
            DvrRecording r;
            r.id = id;
            r.title = title;
            return r;
        };
        model.setItems({rec(1, u"a"_qs), rec(2, u"b"_qs), rec(3, u"c"_qs)});
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        QSignalSpy moved(&model, &QAbstractItemModel::rowsMoved);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.setItems({rec(4, u"d"_qs), rec(3, u"c2"_qs), rec(1, u"a"_qs)});
        QCOMPARE(reset.size(), 0);
        QCOMPARE(moved.size(), 1);
        QCOMPARE(changed.size(), 1);
        QStringList titles;
        for (int i = 0; i < model.rowCount(); ++i)
            titles.append(model.data(model.index(i), iptv::hubris::DvrRecordingsModel::TitleRole).toString());
        QCOMPARE(titles, (QStringList{u"d"_qs, u"c2"_qs, u"a"_qs}));
        QCOMPARE(model.rowOf(3), 1);
    }

    void recordAnAiringAndASeries()
    {
        auto dvr = client(u"STB-PLAN"_qs);
        QTRY_VERIFY(dvr->isReady());
        QVERIFY(dvr->status().isEmpty());
        QTRY_VERIFY(dvr->isArchived(2));
        QVERIFY(!dvr->isArchived(0));
        QSignalSpy recorded(dvr.get(), &DvrClient::recorded);
        const int later = airing(0, dvrtest::during(8));
        QCOMPARE(dvr->markOf(later), QString());
        dvr->recordAiring(later);
        QVERIFY(recorded.wait(10000));
        QCOMPARE(recorded.first().at(1).toInt(), 1); // planned
        QCOMPARE(recorded.first().at(2).toInt(), 0); // skipped
        QCOMPARE(recorded.first().at(4).toInt(), 0); // later, not now
        const QString title = m_store->guide()->title(m_store->guide()->airing(later).programme);
        QCOMPARE(recorded.first().at(5).toString(), QStringLiteral("● “%1” will be recorded").arg(title));
        QCOMPARE(recorded.first().at(6).toBool(), false);
        QTRY_COMPARE(dvr->markOf(later), u"planned"_qs);
        QCOMPARE(dvr->upcoming()->rowCount(), 1);
        QCOMPARE(dvr->upcoming()->items().first().title, m_store->guide()->title(m_store->guide()->airing(later).programme));

        // A series: every "Series 2" still to come on channel 2 (one in three half hours).
        const int series = airing(1, dvrtest::during(9));
        QVERIFY(m_store->guide()->title(m_store->guide()->airing(series).programme).startsWith(u"Series"));
        dvr->recordSeries(series);
        QVERIFY(recorded.wait(10000));
        QVERIFY2(recorded.last().at(1).toInt() >= 2, qPrintable(recorded.last().at(3).toString()));
        QTRY_COMPARE(dvr->markOf(series), u"planned"_qs);
        // The details say that green cancels the series, not this airing alone.
        QVERIFY(dvr->isSeries(series));
        QVERIFY(!dvr->isSeries(later));

        // Cancelled: the mark goes, and the viewer is told what was cancelled.
        QSignalSpy notices(dvr.get(), &DvrClient::notice);
        dvr->cancelAiring(later);
        QTRY_COMPARE(dvr->markOf(later), QString());
        QCOMPARE(notices.size(), 1);
        QCOMPARE(notices.first().first().toString(), QStringLiteral("“%1” will not be recorded").arg(title));
        // REC on an episode of a series cancels the series: said so.
        dvr->cancelAiring(series);
        QTRY_COMPARE(dvr->markOf(series), QString());
        QCOMPARE(notices.size(), 2);
        QCOMPARE(notices.last().first().toString(),
                 QStringLiteral("The series “%1” will not be recorded").arg(m_store->guide()->title(m_store->guide()->airing(series).programme)));
    }

    void recordedMessage_data()
    {
        QTest::addColumn<int>("planned");
        QTest::addColumn<int>("now");
        QTest::addColumn<int>("skipped");
        QTest::addColumn<QString>("message");
        QTest::newRow("later") << 1 << 0 << 0 << u"● “News” will be recorded"_qs;
        QTest::newRow("on now") << 1 << 1 << 0 << u"● Recording “News” now"_qs;
        QTest::newRow("series, one on now") << 4 << 1 << 0 << u"● Recording “News” now; 3 more airings will be recorded"_qs;
        QTest::newRow("series, one on now, one more") << 2 << 1 << 0 << u"● Recording “News” now; 1 more airing will be recorded"_qs;
        QTest::newRow("series with a conflict") << 3 << 0 << 1 << u"● 3 airings of “News” will be recorded; 1 airing not (no capacity)"_qs;
        QTest::newRow("on now, two left out") << 2 << 2 << 2 << u"● Recording “News” now; 2 airings not (no capacity)"_qs;
        QTest::newRow("nothing") << 0 << 0 << 1 << u"“News” will not be recorded: no capacity"_qs;
    }
    void recordedMessage()
    {
        QFETCH(int, planned);
        QFETCH(int, now);
        QFETCH(int, skipped);
        QFETCH(QString, message);
        QCOMPARE(DvrClient::recordedMessage(u"News"_qs, planned, now, skipped, u"no capacity"_qs), message);
    }

    void skippedReason()
    {
        auto parse = [](const char *json) { return QJsonDocument::fromJson(json).object(); };
        QCOMPARE(DvrClient::skippedReason(parse(R"({"reason": "conflict", "detail": "no capacity: ...",
            "relatedTo": [{"title": "Late Show"}, {"title": "Lost Signal"}, {"title": "Film"}], "alternatives": []})")),
                 u"a conflict with “Late Show”, “Lost Signal” and “Film”"_qs);
        QCOMPARE(DvrClient::skippedReason(parse(R"({"reason": "conflict", "detail": "no capacity: ...",
            "relatedTo": [{"title": "Film"}], "alternatives": [{"channel": "one", "channelName": "One", "start": 1796590800, "stop": 1796594400}]})")),
                 u"a conflict with “Film”; it fits "_qs + iptv::hubris::formatAiringTime(1796590800, 1796594400) + u" on One (green in Upcoming recordings)"_qs);
        // Other viewers' recordings in the way are not named (diver does not say what they are).
        QCOMPARE(DvrClient::skippedReason(parse(R"({"reason": "conflict", "detail": "no capacity: ...",
            "relatedTo": [{"other": true, "title": "another recording", "start": 1, "stop": 2}], "alternatives": []})")),
                 u"a conflict with another recording"_qs);
        QCOMPARE(DvrClient::skippedReason(parse(R"({"reason": "conflict", "detail": "no capacity: ...",
            "relatedTo": [{"title": "Film"}, {"other": true, "title": "another recording"}, {"other": true, "title": "another recording"}],
            "alternatives": []})")),
                 u"a conflict with “Film” and 2 other recordings"_qs);
        QCOMPARE(DvrClient::skippedReason(parse(R"({"reason": "duplicate", "detail": "the same episode is planned at ..."})")),
                 u"the same episode is planned at ..."_qs);
        // A repeat names the airing that records it, in the viewer's time and by channel name
        // (diver's detail has UTC dates and straight quotes).
        QCOMPARE(DvrClient::skippedReason(parse(R"({"reason": "duplicate", "detail": "the same episode is recorded at 2026-12-07 05:30",
            "relatedTo": [{"channel": "ch3", "channelName": "Sport", "start": 1796621400, "stop": 1796623200, "title": "Goals"}]})")),
                 u"a repeat: this episode is recorded "_qs + iptv::hubris::formatAiringTime(1796621400, 1796623200) + u" on Sport"_qs);
        QCOMPARE(DvrClient::skippedReason(parse(R"({"reason": "already-recorded", "detail": "...",
            "relatedTo": [{"channel": "ch3", "start": 1796621400, "stop": 1796623200, "title": "Goals"}]})")),
                 u"a repeat: this episode was recorded "_qs + iptv::hubris::formatAiringTime(1796621400, 1796623200) + u" on ch3"_qs);
    }

    // What the toast says of the airings a new series leaves out: one in a few words, several
    // by reason, not the first one's sentence for all of them.
    void skippedSummary()
    {
        auto parse = [](const char *json) { return QJsonDocument::fromJson(json).array(); };
        QCOMPARE(iptv::hubris::skippedSummaryText(parse(R"([{"reason": "duplicate", "detail": "d"}, {"reason": "already-recorded", "detail": "d"}])")),
                 u"repeats"_qs);
        QCOMPARE(iptv::hubris::skippedSummaryText(parse(R"([{"reason": "duplicate"}, {"reason": "conflict"}, {"reason": "duplicate"}, {"reason": "keep-limit"}])")),
                 u"2 repeats, 1 in conflict, 1 over the keep limit"_qs);
        QCOMPARE(iptv::hubris::skippedSummaryText(parse(R"([{"reason": "conflict", "detail": "no capacity: ...", "relatedTo": [{"title": "Film"}], "alternatives": []}])")),
                 u"a conflict with “Film”"_qs);
        QCOMPARE(DvrClient::recordedMessage(u"Goals"_qs, 3, 0, 14, iptv::hubris::skippedSummaryText(parse(R"([{"reason": "duplicate"}, {"reason": "duplicate"}])"))),
                 u"● 3 airings of “Goals” will be recorded; 14 airings not (repeats)"_qs);
    }

    void aConflictSaysWhy()
    {
        // One recorder (capacity 1): two overlapping airings on two channels cannot both be recorded.
        auto dvr = client(u"STB-CONFLICT"_qs);
        QTRY_VERIFY(dvr->isReady());
        QSignalSpy recorded(dvr.get(), &DvrClient::recorded);
        const qint64 t = dvrtest::during(12);
        dvr->recordAiring(airing(0, t));
        QVERIFY(recorded.wait(10000));
        dvr->recordAiring(airing(1, t));
        QVERIFY(recorded.wait(10000));
        QTRY_VERIFY(dvr->upcoming()->conflicts() >= 1);
        DvrUpcoming skipped;
        for (const DvrUpcoming &u : dvr->upcoming()->items()) {
            if (!u.planned)
                skipped = u;
        }
        QCOMPARE(skipped.reason, u"conflict"_qs);
        QVERIFY2(!skipped.detail.isEmpty(), "a conflict comes with diver's sentence");
        const int left = dvr->markOf(airing(0, t)) == u"conflict" ? airing(0, t) : airing(1, t);
        QCOMPARE(dvr->markOf(left), u"conflict"_qs);
        const QVariantMap row = dvr->upcoming()->get(dvr->upcoming()->rowCount() - 1);
        QVERIFY(row.contains(u"reason"_qs) && row.contains(u"alternatives"_qs));
    }

    void aConflictRecordsItsAlternative()
    {
        // Its own diver (capacity 1) and guide: at `t` "Late Show" on channel 2 and "Film" on
        // channel 1; the film is repeated two hours later on channel 1 (the same episode).
        QTemporaryDir dir;
        const qint64 t = QDateTime::currentSecsSinceEpoch() / 60 * 60 + 3600;
        const QString guideFile = dir.filePath(u"repeat.guide"_qs);
        {
            using namespace iptv::epg;
            const qint64 hour = QDateTime::currentSecsSinceEpoch() / 3600 * 3600;
            GuideBuilder builder({.from = hour - 3600, .days = 1, .compressionLevel = 1, .createdAt = hour - 3600});
            for (int n = 1; n <= 2; ++n)
                builder.addChannel(dvrtest::testChannel(n, QStringLiteral("http://127.0.0.1:9/live/ch%1.ts").arg(n)));
            auto add = [&](int n, qint64 start, const QString &title, const QString &desc) {
                Programme p;
                p.channelId = QStringLiteral("ch%1").arg(n);
                p.start = start;
                p.stop = start + 3600;
                p.titles = {{{}, title}};
                p.descs = {{{}, desc}};
                builder.addProgramme(p);
            };
            add(1, t, u"Film"_qs, u"A film, shown twice."_qs);
            add(1, t + 7200, u"Film"_qs, u"A film, shown twice."_qs);
            add(2, t, u"Late Show"_qs, u"Talk."_qs);
            QString error;
            QVERIFY2(builder.finishToFile(guideFile, &error), qPrintable(error));
        }
        const QString keyFile = dir.filePath(u"tickets.pub"_qs);
        QString error;
        QVERIFY2(m_key.publicKey().save(keyFile, &error), qPrintable(error));
        iptv::diver::DiverConfig config = dvrtest::config(dir, guideFile);
        config.ticketKeyFiles = {keyFile};
        config.capacity = 1;
        iptv::diver::DiverServer diver(config);
        QVERIFY2(diver.start(&error), qPrintable(error));
        iptv::hubris::GuideStore store(dir.filePath(u"box"_qs));
        store.loadFile(guideFile);
        QTRY_VERIFY(store.isLoaded());
        DvrClient dvr(&store, QUrl(QStringLiteral("http://127.0.0.1:%1").arg(diver.httpPort())));
        new QAbstractItemModelTester(dvr.upcoming(), QAbstractItemModelTester::FailureReportingMode::QtTest, &dvr);
        dvr.setTicket(dvrtest::ticket(m_key, u"STB-ALT"_qs), QDateTime::currentDateTimeUtc().addSecs(600));
        QTRY_VERIFY(dvr.isReady());

        QSignalSpy recorded(&dvr, &DvrClient::recorded);
        const int film = dvrtest::airingAt(*store.guide(), 0, t + 60), show = dvrtest::airingAt(*store.guide(), 1, t + 60);
        const int repeat = dvrtest::airingAt(*store.guide(), 0, t + 7260);
        dvr.recordAiring(show);
        QVERIFY(recorded.wait(10000));
        dvr.recordAiring(film);
        QVERIFY(recorded.wait(10000));
        QCOMPARE(recorded.last().at(1).toInt(), 0); // left out: a conflict
        // Said in a few words: what is in the way, where it fits.
        QCOMPARE(recorded.last().at(5).toString(),
                 u"“Film” will not be recorded: a conflict with “Late Show”; it fits "_qs + iptv::hubris::formatAiringTime(t + 7200, t + 10800)
                     + u" on Channel 1 (green in Upcoming recordings)"_qs);
        QCOMPARE(recorded.last().at(6).toBool(), true);
        QTRY_COMPARE(dvr.upcoming()->conflicts(), 1);
        QTRY_COMPARE(dvr.markOf(film), u"conflict"_qs);
        int row = -1;
        for (int i = 0; i < dvr.upcoming()->rowCount(); ++i)
            if (!dvr.upcoming()->items().at(i).planned)
                row = i;
        QVERIFY(row >= 0);
        const DvrUpcoming left = dvr.upcoming()->items().at(row);
        QCOMPARE(left.alternativeChannel, u"ch1"_qs);
        QCOMPARE(left.alternativeStart, t + 7200);
        QCOMPARE(dvr.upcoming()->get(row).value(u"alternative"_qs).toString(),
                 iptv::hubris::formatAiringTime(t + 7200, t + 10800) + u" on Channel 1"_qs);

        // The details page says why, in the same words.
        QCOMPARE(dvr.reasonOf(film), u"a conflict with “Late Show”; it fits "_qs + iptv::hubris::formatAiringTime(t + 7200, t + 10800)
                                         + u" on Channel 1 (green in Upcoming recordings)"_qs);
        QCOMPARE(dvr.reasonOf(show), QString()); // planned

        // Green on it in the upcoming list: the repeat is recorded, the airing in conflict goes.
        dvr.recordAlternative(row);
        QVERIFY(recorded.wait(10000));
        QCOMPARE(recorded.last().at(1).toInt(), 1);
        QVERIFY2(recorded.last().at(5).toString().endsWith(u"on Channel 1 instead"), qPrintable(recorded.last().at(5).toString()));
        QTRY_COMPARE(dvr.markOf(repeat), u"planned"_qs);
        QTRY_COMPARE(dvr.upcoming()->conflicts(), 0);
        QTRY_COMPARE(dvr.markOf(film), QString());
        QCOMPARE(dvr.reasonOf(film), QString());
        QCOMPARE(dvr.markOf(show), u"planned"_qs);
        QCOMPARE(dvr.upcoming()->rowCount(), 2);

        // A row that is planned has no alternative to record: said, nothing changes.
        QSignalSpy errors(&dvr, &DvrClient::errorOccurred);
        dvr.recordAlternative(0);
        QCOMPARE(errors.size(), 1);
        QCOMPARE(dvr.upcoming()->rowCount(), 2);

        // Red on a single recording in the list cancels it.
        const qint64 showRule = dvr.upcoming()->items().at(dvr.upcoming()->items().first().channel == u"ch2" ? 0 : 1).rule;
        dvr.cancelRule(showRule);
        QTRY_COMPARE(dvr.markOf(show), QString());
        QCOMPARE(dvr.upcoming()->rowCount(), 1);
        QCOMPARE(dvr.markOf(repeat), u"planned"_qs);
    }

    void libraryKeepPositionDelete()
    {
        auto dvr = client(u"STB-LIB"_qs);
        QTRY_VERIFY(dvr->isReady());
        // On now: recorded at once (its stream is dead, so it fails; it is in the library all the same).
        // The viewer is told it records now, not that it "will be recorded".
        QSignalSpy recorded(dvr.get(), &DvrClient::recorded);
        const int onNow = airing(2, QDateTime::currentSecsSinceEpoch());
        dvr->recordAiring(onNow);
        QVERIFY(recorded.wait(10000));
        QCOMPARE(recorded.first().at(1).toInt(), 1);
        QCOMPARE(recorded.first().at(4).toInt(), 1);
        QCOMPARE(recorded.first().at(5).toString(),
                 QStringLiteral("● Recording “%1” now").arg(m_store->guide()->title(m_store->guide()->airing(onNow).programme)));
        QTRY_VERIFY_WITH_TIMEOUT((dvr->refresh(), dvr->recordings()->rowCount() == 1), 15000);
        const DvrRecording r = dvr->recordings()->items().first();
        QVERIFY2(r.playlist.contains(u"playback=pt1.") && !r.playlist.contains(u"ticket="), qPrintable(r.playlist));
        QVERIFY(!r.kept);
        QSignalSpy library(dvr.get(), &DvrClient::libraryChanged);
        dvr->setKept(r.id, true);
        QVERIFY(library.wait(5000));
        QVERIFY(dvr->recordings()->items().first().kept);
        QCOMPARE(iptv::hubris::DvrRecordingsModel::keepText(dvr->recordings()->items().first()), u"kept"_qs);
        // Kept for a week: diver's keepUntil, and the row says until when.
        const qint64 weekLater = QDateTime::currentSecsSinceEpoch() + 7 * 86400;
        dvr->keepFor(r.id, 7);
        QVERIFY(library.wait(5000));
        DvrRecording week = dvr->recordings()->items().first();
        QVERIFY(week.kept);
        QVERIFY2(qAbs(week.keepUntil - weekLater) <= 5, qPrintable(QString::number(week.keepUntil - weekLater)));
        QString error;
        const auto stored = diver()->recordings().recording(r.id, &error);
        QVERIFY2(stored, qPrintable(error));
        QCOMPARE(stored->keepUntil, week.keepUntil);
        const QString day = QLocale::c().toString(QDateTime::fromSecsSinceEpoch(week.keepUntil), u"ddd d MMM"_qs);
        QCOMPARE(dvr->recordings()->data(dvr->recordings()->index(0), iptv::hubris::DvrRecordingsModel::KeepTextRole).toString(),
                 u"kept until "_qs + day);
        QCOMPARE(dvr->recordings()->data(dvr->recordings()->index(0), iptv::hubris::DvrRecordingsModel::KeepUntilRole).toLongLong(),
                 week.keepUntil);
        // Not kept, its keep-until stays (retention deletes it then); kept for good, none.
        dvr->setKept(r.id, false);
        QVERIFY(library.wait(5000));
        QCOMPARE(iptv::hubris::DvrRecordingsModel::keepText(dvr->recordings()->items().first()), u"to be deleted "_qs + day);
        dvr->keepFor(r.id, 0);
        QVERIFY(library.wait(5000));
        QVERIFY(dvr->recordings()->items().first().kept);
        QCOMPARE(dvr->recordings()->items().first().keepUntil, 0);
        dvr->savePosition(r.id, 42);
        QVERIFY(library.wait(5000));
        QCOMPARE(dvr->recordings()->items().first().position, 42);
        // Another box does not see it; this one sees it again after a refresh, as stored.
        auto other = client(u"STB-OTHER"_qs);
        QTRY_VERIFY(other->isReady());
        QCOMPARE(other->recordings()->rowCount(), 0);
        auto again = client(u"STB-LIB"_qs);
        QTRY_COMPARE(again->recordings()->rowCount(), 1);
        QCOMPARE(again->recordings()->items().first().position, 42);
        QVERIFY(again->recordingUrl(r.id, 30).query().contains(u"start=30"));
        dvr->deleteRecording(r.id);
        QVERIFY(library.wait(5000));
        QTRY_COMPARE(dvr->recordings()->rowCount(), 0);
    }

    // The library arrives by pages (?limit=, ?cursor=) and is shown whole, in diver's order, once
    // the last is in.
    void libraryByPages()
    {
        QString error;
        const qint64 at = dvrtest::guideBase() - 86400;
        for (int i = 0; i < 5; ++i) {
            iptv::diver::RecordingRow r;
            r.owner = u"STB-PAGES"_qs;
            r.ruleId = 2000 + i;
            r.channelId = u"ch1"_qs;
            r.title = QStringLiteral("Paged %1").arg(i);
            r.airingStart = r.recordStart = at - i * 600;
            r.airingStop = r.recordStop = r.airingStart + 600;
            r.created = at;
            QVERIFY2(diver()->recordings().insertRecording(r, &error), qPrintable(error));
        }
        const auto held = diver()->recordings().recordings(&error, u"STB-PAGES"_qs);
        QVERIFY2(held && held->size() == 5, qPrintable(error));
        auto dvr = client(u"STB-PAGES"_qs);
        dvr->setLibraryPageSize(2);
        dvr->refresh();
        QTRY_COMPARE_WITH_TIMEOUT(dvr->recordings()->rowCount(), 5, 15000);
        QCOMPARE(dvr->libraryPagesRead(), 3);
        for (int i = 0; i < 5; ++i)
            QCOMPARE(dvr->recordings()->items().at(i).id, held->at(i).id);
    }

    void stopARecordingAndKeepIt()
    {
        // On now, on the archived channel (a range of the archive, "recording" until its end):
        // stopped, it is finished with what it holds, and the guide's mark goes.
        auto dvr = client(u"STB-STOP"_qs);
        QTRY_VERIFY(dvr->isReady());
        const int now = airing(2, QDateTime::currentSecsSinceEpoch());
        dvr->recordAiring(now);
        QTRY_VERIFY_WITH_TIMEOUT((dvr->refresh(), dvr->recordings()->rowCount() == 1), 15000);
        QCOMPARE(dvr->recordings()->items().first().state, u"recording"_qs);
        QTRY_COMPARE(dvr->markOf(now), u"recording"_qs);
        QSignalSpy library(dvr.get(), &DvrClient::libraryChanged);
        dvr->stopRecording(dvr->recordings()->items().first().id);
        QVERIFY(library.wait(5000));
        const DvrRecording stopped = dvr->recordings()->items().first();
        QCOMPARE(stopped.state, u"finished"_qs);
        QCOMPARE(stopped.reason, u"stopped by the viewer"_qs);
        QVERIFY(stopped.recordStop <= QDateTime::currentSecsSinceEpoch());
        QTRY_COMPARE(dvr->markOf(now), QString());
        QCOMPARE(dvr->recordings()->rowCount(), 1); // kept
    }

    void skipOneEpisodeOfASeries()
    {
        auto dvr = client(u"STB-SKIP"_qs);
        QTRY_VERIFY(dvr->isReady());
        QSignalSpy recorded(dvr.get(), &DvrClient::recorded);
        const int episode = airing(1, dvrtest::during(9));
        dvr->recordSeries(episode);
        QVERIFY(recorded.wait(10000));
        QTRY_VERIFY(dvr->isSeries(episode));
        const qint64 rule = dvr->upcoming()->items().first().rule;
        QVERIFY(dvr->ruleIsSeries(rule));
        QVERIFY(!dvr->isSkipped(episode));
        const int rows = dvr->upcoming()->rowCount();

        dvr->skipEpisode(episode, true);
        QTRY_VERIFY(dvr->isSkipped(episode));
        QCOMPARE(dvr->markOf(episode), QString()); // not recorded: no mark in the guide
        QCOMPARE(dvr->upcoming()->rowCount(), rows); // still listed, with why
        DvrUpcoming skipped;
        for (const DvrUpcoming &u : dvr->upcoming()->items())
            if (u.reason == u"cancelled")
                skipped = u;
        QCOMPARE(skipped.detail, u"skipped by the viewer"_qs);
        QVERIFY(dvr->isSeries(episode)); // the details still offer to take it back

        dvr->skipEpisode(episode, false);
        QTRY_VERIFY(!dvr->isSkipped(episode));
        QVERIFY(!dvr->markOf(episode).isEmpty());
    }

    // The URLs handed to the player carry diver's playback tokens, not the ticket: they play
    // on after the ticket they were made under has expired (a film started late in a ticket's
    // life, a timeshift whose playlist the player reloads).
    void playbackUrlsOutliveTheTicket()
    {
        auto dvr = client(u"STB-PLAY"_qs);
        QTRY_VERIFY(dvr->isReady());
        QSignalSpy recorded(dvr.get(), &DvrClient::recorded);
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        dvr->recordAiring(airing(2, now)); // on now on the archived channel: a range of its archive
        QVERIFY(recorded.wait(10000));
        QTRY_VERIFY_WITH_TIMEOUT((dvr->refresh(), dvr->recordings()->rowCount() == 1), 15000);
        const qint64 id = dvr->recordings()->items().first().id;
        // A ticket diver refuses within seconds (it allows a minute of clock skew).
        const QByteArray shortTicket = dvrtest::ticket(m_key, u"STB-PLAY"_qs, -50);
        dvr->setTicket(shortTicket, QDateTime::currentDateTimeUtc().addSecs(600));
        dvr->refresh();
        QTRY_VERIFY(dvr->archiveTokenExpires(2) > now + 3600);
        QCOMPARE(dvr->archiveTokenExpires(0), 0); // not archived: no token
        const QUrl recording = dvr->recordingUrl(id, 5), timeshift = dvr->archiveUrl(2, now - 60);
        for (const QUrl &url : {recording, timeshift}) {
            QVERIFY2(url.query().contains(u"playback=pt1.") && !url.query().contains(u"ticket="), qPrintable(url.toString()));
        }
        QVERIFY(recording.query().contains(u"start=5"));
        QNetworkAccessManager nam;
        const auto statusOf = [&nam](const QUrl &url, const QByteArray &ticket = {}) {
            QNetworkRequest request(url);
            if (!ticket.isEmpty())
                request.setRawHeader("Authorization", "Bearer " + ticket);
            QNetworkReply *reply = nam.get(request);
            QSignalSpy done(reply, &QNetworkReply::finished);
            done.wait(10000);
            reply->deleteLater();
            return std::make_pair(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll());
        };
        QUrl api = m_url;
        api.setPath(u"/api/status"_qs);
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(api, shortTicket).first == 401, 30000);
        // The ticket is refused now; the URLs made under it are not (what they find is another
        // matter: this channel's stream is dead, so nothing may be recorded from the point asked
        // for: 404, or 503 not-recorded-yet; never 401 or 403).
        for (const QUrl &url : {recording, timeshift}) {
            const auto [status, body] = statusOf(url);
            QVERIFY2(status == 200 || status == 404 || status == 503, qPrintable(u"%1: %2 %3"_qs.arg(url.toString()).arg(status).arg(QString::fromUtf8(body))));
        }
    }

    // A channel id with a '/' (and a space and a '#': XMLTV ids are free text) is one escaped
    // segment of every path the client sends: its catch-up URL, and the airing a viewer skips.
    void aChannelIdIsOneSegmentOfThePath()
    {
        const QString id = u"bbc.co.uk/one #1"_qs;
        QTemporaryDir dir;
        const QString guide = dir.filePath(u"slash.guide"_qs);
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        {
            using namespace iptv::epg;
            const qint64 hour = now / 3600 * 3600;
            GuideBuilder builder({.from = hour - 86400, .days = 2, .compressionLevel = 1, .createdAt = hour - 86400});
            Channel c;
            c.id = id;
            c.displayNames = {{{}, u"BBC One"_qs}};
            c.number = 1;
            c.streamUrl = u"http://127.0.0.1:9/live/one.ts"_qs; // nothing there
            builder.addChannel(c);
            for (int k = 0; k < 4; ++k) {
                Programme p;
                p.channelId = id;
                p.start = now + 600 + k * 1800;
                p.stop = p.start + 1800;
                p.titles = {{{}, u"Serial"_qs}};
                builder.addProgramme(p);
            }
            QString error;
            QVERIFY2(builder.finishToFile(guide, &error), qPrintable(error));
        }
        iptv::diver::DiverConfig config = dvrtest::config(dir, guide);
        config.ticketKeyFiles = {m_dir.filePath(u"tickets.pub"_qs)};
        config.archivedChannels = {id};
        iptv::diver::DiverServer diver(config);
        QString error;
        QVERIFY2(diver.start(&error), qPrintable(error));
        iptv::hubris::GuideStore store(dir.filePath(u"box"_qs));
        store.loadFile(guide);
        QTRY_VERIFY(store.isLoaded());
        DvrClient dvr(&store, QUrl(QStringLiteral("http://127.0.0.1:%1").arg(diver.httpPort())));
        QSignalSpy errors(&dvr, &DvrClient::errorOccurred);
        dvr.setTicket(dvrtest::ticket(m_key, u"STB-SLASH"_qs), QDateTime::currentDateTimeUtc().addSecs(600));
        QTRY_VERIFY(dvr.isReady() && dvr.isArchived(0));

        const QUrl catchup = dvr.archiveUrl(0, now - 60, 60);
        QVERIFY2(catchup.toString(QUrl::FullyEncoded).contains(u"/catchup/bbc.co.uk%2Fone%20%231/archive-"),
                 qPrintable(catchup.toString(QUrl::FullyEncoded)));
        // diver finds the channel by it (its source is dead: nothing is recorded, but it is the
        // archived channel, not "bbc.co.uk", which is none).
        const HttpResult asked = httpRequest(m_nam, "GET", catchup);
        QVERIFY2(!asked.json().value(u"detail"_qs).toString().contains(u"not archived"), asked.body.constData());

        QSignalSpy recorded(&dvr, &DvrClient::recorded);
        const int episode = dvrtest::airingAt(*store.guide(), 0, now + 600 + 1800 + 60);
        dvr.recordSeries(episode);
        QVERIFY(recorded.wait(10000));
        QTRY_VERIFY(dvr.isSeries(episode));
        dvr.skipEpisode(episode, true);
        QTRY_VERIFY(dvr.isSkipped(episode));
        dvr.skipEpisode(episode, false);
        QTRY_VERIFY(!dvr.isSkipped(episode));
        QVERIFY2(errors.isEmpty(), qPrintable(errors.isEmpty() ? QString() : errors.first().first().toString()));
    }

    // A timeshift plays for longer than its playback token lasts (here diver's [archive]
    // token_seconds makes it 12 s): the box asks diver for fresh tokens before they expire and
    // the player plays on from where it is with one, fetching the archive's segments with it;
    // the first token, expired, is refused with the reason. Real player, real archive (recast).
    void timeshiftPlaysOnPastItsToken()
    {
        using namespace recasttest;
        iptv::media::installFfmpegLogHandler();
        iptv::recast::RecastServer recast(serverConfig(m_dir.filePath(u"ts-recast"_qs), {tinyChannel(u"ch1"_qs)}));
        QString error;
        QVERIFY2(recast.start(&error), qPrintable(error));
        QTemporaryDir dir;
        iptv::diver::DiverConfig config = dvrtest::config(dir, m_dir.filePath(u"live.guide"_qs));
        config.ticketKeyFiles = {m_dir.filePath(u"tickets.pub"_qs)};
        config.sourceTemplate = QStringLiteral("http://127.0.0.1:%1/live/{id}.ts").arg(recast.port());
        config.archivedChannels = {u"ch1"_qs};
        config.archiveTokenSeconds = 12;
        iptv::diver::DiverServer diver(config);
        QVERIFY2(diver.start(&error), qPrintable(error));
        const QUrl url(QStringLiteral("http://127.0.0.1:%1").arg(diver.httpPort()));

        DvrClient dvr(m_store.get(), url);
        dvr.setTicket(dvrtest::ticket(m_key, u"STB-TS"_qs), QDateTime::currentDateTimeUtc().addSecs(600));
        iptv::hubris::ChannelListModel channels(m_store.get());
        iptv::hal::FfmpegPlayer player;
        iptv::hubris::Zapper zapper(&channels, &player);
        iptv::hubris::DvrPlayback playback(&dvr, &player, &zapper);
        // The archive holds a few seconds (its start known to the box, which reads diver's
        // status again at half its tokens' life).
        QTRY_VERIFY_WITH_TIMEOUT(dvr.archiveStart(0) > 0 && dvr.archiveStart(0) < QDateTime::currentSecsSinceEpoch() - 6, 60000);
        QVERIFY(dvr.archiveTokenExpires(0) <= QDateTime::currentSecsSinceEpoch() + 12);

        // How long the player took, all told, from each play() to its picture: the timeshift
        // falls that much further behind live (it plays on from where it was; nothing skipped).
        QElapsedTimer opening;
        qint64 startingMs = 0;
        connect(&player, &iptv::hal::Player::stateChanged, this, [&](iptv::hal::Player::State state) {
            if (state == iptv::hal::Player::State::Opening && !opening.isValid())
                opening.start();
            else if (state == iptv::hal::Player::State::Playing && opening.isValid())
                startingMs += opening.elapsed(), opening.invalidate();
        });
        QVERIFY(playback.rewindLive(0, 5));
        const QUrl first = player.source();
        const QString firstToken = QUrlQuery(first).queryItemValue(u"playback"_qs, QUrl::FullyDecoded);
        QVERIFY2(firstToken.startsWith(u"pt1."), qPrintable(first.toString()));
        const qint64 firstExpires = dvr.archiveTokenExpires(0);
        const quint64 generation = player.generation();
        QTRY_VERIFY_WITH_TIMEOUT(player.state() == iptv::hal::Player::State::Playing, 15000);

        // The archive's segments diver served (whole, or the byte ranges the player asks for),
        // and what it refused on catch-up routes, so far: its metrics by route.
        Client diverHttp(diver.httpPort());
        const auto answered = [&](const QStringList &statuses, bool segmentsOnly) {
            const QString metrics = QString::fromUtf8(diverHttp.get(u"/metrics"_qs).body);
            qint64 sum = 0;
            static const QRegularExpression line(QStringLiteral(
                "^diver_http_requests_total\\{route=\"(/catchup/[^\"]*)\",status=\"(\\d+)\"\\} (\\d+)$"),
                                                 QRegularExpression::MultilineOption);
            for (auto it = line.globalMatch(metrics); it.hasNext();) {
                const auto m = it.next();
                // A segment: /catchup/<channel>/<chunk>/<file>; a playlist has a segment less.
                if (statuses.contains(m.captured(2)) && (!segmentsOnly || m.captured(1).count(u'/') == 4))
                    sum += m.captured(3).toLongLong();
            }
            return sum;
        };
        const auto segments = [&] { return answered({u"200"_qs, u"206"_qs}, true); };
        const auto refused = [&] { return answered({u"401"_qs, u"403"_qs}, false); };
        QTRY_VERIFY_WITH_TIMEOUT(segments() > 0, 10000);
        // Past the first token's expiry, and a token's life more.
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentSecsSinceEpoch() > firstExpires + 1, 20000);
        const qint64 segmentsThen = segments();
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentSecsSinceEpoch() > firstExpires + 13, 20000);
        QVERIFY(playback.isActive());
        QCOMPARE(playback.mode(), u"timeshift"_qs);
        QCOMPARE(player.state(), iptv::hal::Player::State::Playing);
        const QString now = QUrlQuery(player.source()).queryItemValue(u"playback"_qs, QUrl::FullyDecoded);
        QVERIFY2(now.startsWith(u"pt1.") && now != firstToken, qPrintable(player.source().toString()));
        // It played on: segments came after the first token expired, with the fresh ones (never
        // one refused). About one a second on an idle machine; a loaded one restarts slower.
        QVERIFY2(segments() >= segmentsThen + 3, qPrintable(QStringLiteral("%1 then, %2 now").arg(segmentsThen).arg(segments())));
        QCOMPARE(refused(), 0);
        // Still about as far behind live as it began: each renewal plays on from where it was,
        // behind by the time the player took to start again, plus a second's rounding and the
        // cut at a segment's start (1 s segments) per play, and a second more per play where
        // a loaded machine makes recast's segments come later than real time (the position
        // follows their dates). Neither back at live nor at the archive's start (half a minute
        // and more behind by now).
        const quint64 renewals = player.generation() - generation;
        const qint64 bound = 5 + 3 * qint64(renewals + 1) + (startingMs + 999) / 1000;
        QVERIFY2(bound < QDateTime::currentSecsSinceEpoch() - dvr.archiveStart(0) - 5, "the archive is long enough to tell");
        QVERIFY2(renewals >= 2 && playback.position() >= 3 && playback.position() <= bound,
                 qPrintable(QStringLiteral("%1 s behind live after %2 renewals (at most %3: the player took %4 ms to start, all told)")
                                .arg(playback.position()).arg(renewals).arg(bound).arg(startingMs)));
        qInfo("%lld s behind live after %llu renewals of the URL (began 5 s behind; the player took %lld ms to start, all told)",
              playback.position(), renewals, startingMs);

        // The first URL is refused now: 401, and why.
        const HttpResult expired = httpRequest(m_nam, "GET", first);
        QCOMPARE(expired.status, 401);
        QVERIFY2(expired.json().value(u"detail"_qs).toString().contains(u"playback token: expired"), expired.body.constData());
        playback.stop();
    }

    // A series with one airing left in the guide is a series all the same: dropping that airing
    // for another that fits skips it, it does not delete the series (next week's episode).
    void aSeriesWithOneAiringLeftIsASeries()
    {
        // Its own diver (capacity 1) and guide: at `t` "Weekly" on channel 1 and "Late Show" on
        // channel 2; the same episode of "Weekly" is repeated two hours later on channel 2.
        QTemporaryDir dir;
        const qint64 t = QDateTime::currentSecsSinceEpoch() / 60 * 60 + 3600;
        const QString guideFile = dir.filePath(u"weekly.guide"_qs);
        {
            using namespace iptv::epg;
            const qint64 hour = QDateTime::currentSecsSinceEpoch() / 3600 * 3600;
            GuideBuilder builder({.from = hour - 3600, .days = 1, .compressionLevel = 1, .createdAt = hour - 3600});
            for (int n = 1; n <= 2; ++n)
                builder.addChannel(dvrtest::testChannel(n, QStringLiteral("http://127.0.0.1:9/live/ch%1.ts").arg(n)));
            auto add = [&](int n, qint64 start, const QString &title, const QString &desc) {
                Programme p;
                p.channelId = QStringLiteral("ch%1").arg(n);
                p.start = start;
                p.stop = start + 3600;
                p.titles = {{{}, title}};
                p.descs = {{{}, desc}};
                builder.addProgramme(p);
            };
            add(1, t, u"Weekly"_qs, u"Episode 7: the one with the repeat."_qs);
            add(2, t, u"Late Show"_qs, u"Talk."_qs);
            add(2, t + 7200, u"Weekly"_qs, u"Episode 7: the one with the repeat."_qs);
            QString error;
            QVERIFY2(builder.finishToFile(guideFile, &error), qPrintable(error));
        }
        const QString keyFile = dir.filePath(u"tickets.pub"_qs);
        QString error;
        QVERIFY2(m_key.publicKey().save(keyFile, &error), qPrintable(error));
        iptv::diver::DiverConfig config = dvrtest::config(dir, guideFile);
        config.ticketKeyFiles = {keyFile};
        config.capacity = 1;
        iptv::diver::DiverServer diver(config);
        QVERIFY2(diver.start(&error), qPrintable(error));
        iptv::hubris::GuideStore store(dir.filePath(u"box"_qs));
        store.loadFile(guideFile);
        QTRY_VERIFY(store.isLoaded());
        DvrClient dvr(&store, QUrl(QStringLiteral("http://127.0.0.1:%1").arg(diver.httpPort())));
        dvr.setTicket(dvrtest::ticket(m_key, u"STB-WEEKLY"_qs), QDateTime::currentDateTimeUtc().addSecs(600));
        QTRY_VERIFY(dvr.isReady());

        QSignalSpy recorded(&dvr, &DvrClient::recorded);
        const int weekly = dvrtest::airingAt(*store.guide(), 0, t + 60), show = dvrtest::airingAt(*store.guide(), 1, t + 60);
        dvr.recordAiring(show);
        QVERIFY(recorded.wait(10000));
        dvr.recordSeries(weekly); // the series on channel 1: one airing in the guide, in conflict
        QVERIFY(recorded.wait(10000));
        QTRY_COMPARE(dvr.markOf(weekly), u"conflict"_qs);
        int row = -1;
        for (int i = 0; i < dvr.upcoming()->rowCount(); ++i)
            if (!dvr.upcoming()->items().at(i).planned)
                row = i;
        QVERIFY(row >= 0);
        const DvrUpcoming left = dvr.upcoming()->items().at(row);
        QCOMPARE(left.ruleKind, u"title"_qs);
        QVERIFY2(std::count_if(dvr.upcoming()->items().cbegin(), dvr.upcoming()->items().cend(),
                               [&](const DvrUpcoming &u) { return u.rule == left.rule; }) == 1,
                 "the series has one airing to come");
        QVERIFY(dvr.ruleIsSeries(left.rule));
        QVERIFY(dvr.isSeries(weekly));
        QVERIFY(!dvr.isSeries(show)); // a single recording
        QCOMPARE(left.alternativeChannel, u"ch2"_qs);

        // Green: the repeat is recorded, this airing of the series skipped; the series stays.
        dvr.recordAlternative(row);
        QVERIFY(recorded.wait(10000));
        QVERIFY2(!recorded.last().at(6).toBool(), qPrintable(recorded.last().at(5).toString()));
        QTRY_VERIFY(dvr.isSkipped(weekly));
        QVERIFY(dvr.ruleIsSeries(left.rule));
        QNetworkAccessManager nam;
        QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1/api/rules/%2").arg(diver.httpPort()).arg(left.rule)));
        request.setRawHeader("Authorization", "Bearer operator-secret");
        QNetworkReply *reply = nam.get(request);
        QSignalSpy done(reply, &QNetworkReply::finished);
        QVERIFY(done.wait(10000));
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        reply->deleteLater();
    }

    // The refusal of a ticket renewed since does not throw the new one away, and the calls of
    // one refresh() refused together say so once.
    void refusalOfAnOldTicketKeepsTheNewOne()
    {
        const auto stranger = iptv::payload::SigningKey::generate();
        {
            DvrClient dvr(m_store.get(), m_url);
            QSignalSpy errors(&dvr, &DvrClient::errorOccurred);
            auto *nam = dvr.findChild<QNetworkAccessManager *>();
            QVERIFY(nam);
            QSignalSpy replies(nam, &QNetworkAccessManager::finished);
            dvr.setTicket(dvrtest::ticket(stranger, u"STB-R"_qs), QDateTime::currentDateTimeUtc().addSecs(600)); // refresh(): 3 calls
            QTRY_COMPARE_WITH_TIMEOUT(replies.size(), 3, 15000);
            QVERIFY(dvr.status().contains(u"refused"));
            QCOMPARE(errors.size(), 1);
        }
        DvrClient dvr(m_store.get(), m_url);
        QSignalSpy errors(&dvr, &DvrClient::errorOccurred);
        QSignalSpy replies(dvr.findChild<QNetworkAccessManager *>(), &QNetworkAccessManager::finished);
        dvr.setTicket(dvrtest::ticket(stranger, u"STB-R"_qs), QDateTime::currentDateTimeUtc().addSecs(600));
        // Renewed before diver has answered the calls made with the old one.
        const QByteArray renewed = dvrtest::ticket(m_key, u"STB-R"_qs);
        dvr.setTicket(renewed, QDateTime::currentDateTimeUtc().addSecs(600));
        QTRY_COMPARE_WITH_TIMEOUT(replies.size(), 6, 15000);
        QCOMPARE(dvr.ticket(), renewed);
        QTRY_VERIFY(dvr.isReady());
        QVERIFY2(errors.isEmpty(), qPrintable(errors.isEmpty() ? QString() : errors.first().first().toString()));
    }

    // A box whose clock is far ahead gets tickets that look expired on arrival: it asks again
    // later and later, not every ten seconds for ever; a ticket that looks right resets that.
    void aClockFarOffDoesNotRenewEveryTenSeconds()
    {
        DvrClient dvr(m_store.get(), QUrl()); // no diver: only the renewal is looked at
        QCOMPARE(dvr.renewIntervalSeconds(), 0);
        QList<int> intervals;
        for (int i = 0; i < 10; ++i) {
            dvr.setTicket(dvrtest::ticket(m_key, u"STB-CLOCK"_qs), QDateTime::currentDateTimeUtc().addSecs(5));
            intervals.append(dvr.renewIntervalSeconds());
        }
        QCOMPARE(intervals, (QList<int>{10, 20, 40, 80, 160, 320, 640, 1280, 1800, 1800}));
        dvr.setTicket(dvrtest::ticket(m_key, u"STB-CLOCK"_qs), QDateTime::currentDateTimeUtc().addSecs(3600));
        QVERIFY2(dvr.renewIntervalSeconds() >= 3290 && dvr.renewIntervalSeconds() <= 3300, qPrintable(QString::number(dvr.renewIntervalSeconds())));
        dvr.setTicket(dvrtest::ticket(m_key, u"STB-CLOCK"_qs), QDateTime::currentDateTimeUtc().addSecs(5));
        QCOMPARE(dvr.renewIntervalSeconds(), 10);
    }

    void refusedTicketIsSaid()
    {
        const auto stranger = iptv::payload::SigningKey::generate();
        DvrClient dvr(m_store.get(), m_url);
        QSignalSpy errors(&dvr, &DvrClient::errorOccurred);
        dvr.setTicket(dvrtest::ticket(stranger, u"STB-X"_qs), QDateTime::currentDateTimeUtc().addSecs(600));
        QTRY_VERIFY(dvr.status().contains(u"refused"));
        QVERIFY(!dvr.isReady());
        QVERIFY(!errors.isEmpty());
        // Without a ticket source there is nothing to renew with: an action says so at once.
        errors.clear();
        dvr.recordAiring(airing(0, dvrtest::during(10)));
        QCOMPARE(errors.size(), 1);
    }

    void diverDownIsSaid()
    {
        quint16 closedPort = 0;
        {
            QTcpServer s;
            QVERIFY(s.listen(QHostAddress::LocalHost, 0));
            closedPort = s.serverPort();
        }
        DvrClient dvr(m_store.get(), QUrl(QStringLiteral("http://127.0.0.1:%1").arg(closedPort)));
        QSignalSpy errors(&dvr, &DvrClient::errorOccurred);
        dvr.setTicket(dvrtest::ticket(m_key, u"STB-Y"_qs), QDateTime::currentDateTimeUtc().addSecs(600));
        QTRY_VERIFY(dvr.status().contains(u"cannot be reached"));
        dvr.recordAiring(airing(0, dvrtest::during(10)));
        QVERIFY(errors.wait(10000));
        QVERIFY(errors.last().first().toString().contains(u"cannot be reached"));
    }

    void noTicketSourceSaysOffline()
    {
        DvrClient dvr(m_store.get(), m_url);
        QVERIFY(dvr.isEnabled());
        QVERIFY(dvr.status().contains(u"not connected"));
        QSignalSpy errors(&dvr, &DvrClient::errorOccurred);
        dvr.recordAiring(airing(0, dvrtest::during(10)));
        QCOMPARE(errors.size(), 1);
        QVERIFY(errors.first().first().toString().contains(u"not connected"));
        DvrClient none(m_store.get(), QUrl());
        QVERIFY(!none.isEnabled());
        QVERIFY(none.status().contains(u"No recorder"));
    }
};

QTEST_MAIN(TestDvrClient)
#include "tst_dvrclient.moc"
