// Cerberus's DVR page without a window: RecordingsModel and its proxy on 150,000 rows (slices
// within a budget, no reset, filters and sorts), and DvrController against a real diver started
// in-process (tests/hubris/dvrtestsupport.h): what the models show is what diver holds (read
// page by page), and delete, keep and unkeep change diver's state.

#include "../hubris/dvrtestsupport.h"

#include <cerberus/diverclient.h>
#include <cerberus/dvrcontroller.h>
#include <cerberus/recordingsmodel.h>

#include <QAbstractItemModelTester>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QElapsedTimer>

using namespace iptv::cerberus;

namespace {

QJsonObject recordingJson(qint64 id, const QString &owner, const QString &channel, const QString &title, qint64 start,
                          const QString &state = u"finished"_qs)
{
    return {{u"id"_qs, id}, {u"owner"_qs, owner}, {u"rule"_qs, id % 97 + 1}, {u"channel"_qs, channel},
            {u"channelName"_qs, channel.toUpper()}, {u"title"_qs, title}, {u"start"_qs, start}, {u"stop"_qs, start + 1800},
            {u"recordStart"_qs, start}, {u"recordStop"_qs, start + 1800}, {u"state"_qs, state}, {u"reason"_qs, QString()},
            {u"kept"_qs, false}, {u"keepUntil"_qs, 0}, {u"position"_qs, 0}, {u"segments"_qs, 300},
            {u"bytes"_qs, 1000000 + id}, {u"gaps"_qs, 0}, {u"archived"_qs, false}};
}

QByteArray listBody(int count, int firstId = 1)
{
    QJsonArray items;
    for (int i = 0; i < count; ++i) {
        const qint64 id = firstId + i;
        items.append(recordingJson(id, QStringLiteral("STB-%1").arg(id % 5000, 5, 10, QLatin1Char('0')),
                                   QStringLiteral("ch%1").arg(id % 40), QStringLiteral("Programme %1").arg(id % 3000),
                                   1796580000 - id * 60, id % 10 == 0 ? u"recording"_qs : u"finished"_qs));
    }
    return QJsonDocument(QJsonObject{{u"recordings"_qs, items}}).toJson(QJsonDocument::Compact);
}

} // namespace

class TestDvrController : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<iptv::diver::DiverServer> m_diver;
    QNetworkAccessManager m_nam;

    QUrl diverUrl() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_diver->httpPort())); }
    /// A request to diver as the operator; the answer's JSON (empty for 204) and status.
    std::pair<int, QJsonObject> send(const QByteArray &verb, const QString &path, const QJsonObject &body = {})
    {
        QNetworkRequest req(QUrl(diverUrl().toString() + path));
        req.setRawHeader("Authorization", "Bearer operator-secret");
        req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        QNetworkReply *reply = m_nam.sendCustomRequest(req, verb, body.isEmpty() ? QByteArray() : QJsonDocument(body).toJson());
        QSignalSpy finished(reply, &QNetworkReply::finished);
        if (!reply->isFinished())
            finished.wait(10000);
        reply->deleteLater();
        return {reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), QJsonDocument::fromJson(reply->readAll()).object()};
    }
    int rowOfRule(JsonTableModel *m, qint64 id) { return m->rowOf(QJsonValue(id)); }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        const QString guide = dvrtest::writeGuide(m_dir.filePath(u"guide.bin"_qs), [](const QString &) { return QString(); });
        iptv::diver::DiverConfig c = dvrtest::config(m_dir, guide);
        c.capacity = 1;
        m_diver = std::make_unique<iptv::diver::DiverServer>(c);
        QString error;
        QVERIFY2(m_diver->start(&error), qPrintable(error));
    }
    void cleanupTestCase() { m_diver.reset(); }

    // ---- the model alone

    void snapshotOf150kRecordingsIsAppliedInSlicesWithoutAReset()
    {
        // (No QAbstractItemModelTester here: it walks every row on every insert. The small
        // tables below have one.)
        RecordingsModel model;
        QString error;
        const QList<RecordingRow> rows = RecordingsModel::parse(listBody(150000), &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(rows.size(), 150000);
        // Owners repeat: one copy of each string for all their rows.
        QVERIFY(rows.at(0).owner.constData() == rows.at(5000).owner.constData());

        QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy applied(&model, &RecordingsModel::snapshotApplied);
        model.setSliceBudget(5);
        model.applySnapshot(rows);
        QVERIFY(model.isLoading());
        QVERIFY(model.rowCount() < 150000); // the first slice yielded to the event loop
        // Every slice stays near its budget (a loaded machine: a generous bound).
        double longest = 0;
        QElapsedTimer slice;
        connect(&model, &QAbstractItemModel::rowsAboutToBeInserted, this, [&] { slice.start(); });
        connect(&model, &QAbstractItemModel::rowsInserted, this, [&] { longest = std::max(longest, slice.nsecsElapsed() / 1e6); });
        QVERIFY(applied.wait(60000));
        QCOMPARE(model.rowCount(), 150000);
        QVERIFY(inserted.size() > 1);
        QCOMPARE(resets.size(), 0);
        QVERIFY2(longest < 250, qPrintable(QString::number(longest)));
        qInfo("150,000 recordings: %lld slices, the UI thread held %.0f ms in all", qlonglong(inserted.size()),
              applied.at(0).at(1).toDouble());

        // Sorted and filtered as the view does, reading the rows directly.
        RecordingsProxy proxy(&model);
        QElapsedTimer clock;
        clock.start();
        proxy.sort(RecordingsModel::TitleColumn);
        const qint64 sortMs = clock.restart();
        proxy.setOwnerFilter(u"stb-00042"_qs);
        const qint64 filterMs = clock.elapsed();
        QCOMPARE(proxy.rowCount(), 30); // ids 42, 5042, ..., 145042
        qInfo("150,000 recordings: sorted by title in %lld ms, filtered by owner in %lld ms", sortMs, filterMs);
        proxy.setOwnerFilter({});

        // A later list: one recording changed, one gone, one new. Only that changes.
        QList<RecordingRow> next = rows;
        next[10].kept = true;
        next.removeAt(20);
        next.append(RecordingsModel::fromJson(recordingJson(900001, u"STB-NEW"_qs, u"ch1"_qs, u"New"_qs, 1796580000)));
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        model.applySnapshot(next);
        model.finishSnapshot();
        QCOMPARE(model.rowCount(), 150000);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(removed.size(), 1);
        QCOMPARE(model.rowOf(21), -1);
        QVERIFY(model.row(model.rowOf(11)).kept);
        QCOMPARE(model.row(model.rowOf(900001)).owner, u"STB-NEW"_qs);
        for (int r = 0; r < model.rowCount(); r += 997)
            QCOMPARE(model.rowOf(model.row(r).id), r);
        QCOMPARE(resets.size(), 0);
    }

    void eventsWhileThePagesAreReadAreNewer()
    {
        // The library is read by pages over several answers while events go on: a recording
        // deleted meanwhile must not come back from an older page, one made meanwhile must not be
        // removed because the page of its place was read before it existed, and one changed
        // meanwhile keeps the change.
        RecordingsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QString error;
        const QList<RecordingRow> before = RecordingsModel::parse(listBody(10), &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        model.applySnapshot(before);
        model.finishSnapshot();
        QCOMPARE(model.rowCount(), 10);

        model.beginSnapshot();
        const QList<RecordingRow> pages = before; // read before the events below
        model.remove(3);
        RecordingRow kept = before.at(4);
        kept.kept = true;
        model.upsert(kept);
        model.upsert(RecordingsModel::fromJson(recordingJson(900002, u"STB-NEW"_qs, u"ch1"_qs, u"New"_qs, 1796580000)));
        model.applySnapshot(pages);
        model.finishSnapshot();
        QCOMPARE(model.rowOf(3), -1);
        QVERIFY(model.rowOf(900002) >= 0);
        QVERIFY(model.row(model.rowOf(5)).kept);
        QCOMPARE(model.rowCount(), 10);

        // Events after the snapshot was applied are plain again; a failed read leaves none behind.
        model.beginSnapshot();
        model.remove(6);
        model.cancelSnapshot();
        model.applySnapshot(before);
        model.finishSnapshot();
        QVERIFY(model.rowOf(6) >= 0);    // a full list that has it again: it is there
        QCOMPARE(model.rowOf(900002), -1); // and the list no longer has it
    }

    void proxyFiltersAndSorts()
    {
        RecordingsModel model;
        QAbstractItemModelTester modelTester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QString error;
        model.applySnapshot(RecordingsModel::parse(listBody(2000), &error));
        model.finishSnapshot();
        RecordingsProxy proxy(&model);
        QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        proxy.setStateFilter(u"recording"_qs);
        QCOMPARE(proxy.rowCount(), 200);
        proxy.setChannelFilter(u"CH0"_qs);
        QCOMPARE(proxy.rowCount(), 50); // ids that are multiples of 40
        proxy.setStateFilter({});
        proxy.setChannelFilter({});
        proxy.setOwnerFilter(u"stb-00007"_qs);
        QCOMPARE(proxy.rowCount(), 1);
        proxy.setOwnerFilter({});
        proxy.sort(RecordingsModel::SizeColumn, Qt::DescendingOrder);
        QCOMPARE(proxy.idAt(0), 2000);
        proxy.sort(RecordingsModel::StartColumn, Qt::AscendingOrder);
        QCOMPARE(proxy.idAt(0), 2000); // the oldest
        // A recording that goes leaves the proxy too.
        model.remove(2000);
        QCOMPARE(proxy.idAt(0), 1999);
    }

    // ---- against diver

    void notConfiguredSaysSo()
    {
        DiverClient client;
        DvrController dvr(&client);
        dvr.start();
        QCOMPARE(dvr.connectionState(), DvrController::NotConfigured);
    }

    void wrongTokenIsUnreachableWithWhy()
    {
        DiverClient client;
        client.setServer(diverUrl(), u"not-the-token"_qs);
        DvrController dvr(&client);
        dvr.start();
        QTRY_COMPARE_WITH_TIMEOUT(dvr.connectionState(), DvrController::Unreachable, 10000);
        QVERIFY2(dvr.connectionError().contains(u"refused the DVR token"), qPrintable(dvr.connectionError()));
    }

    void showsWhatDiverHoldsAndChangesIt()
    {
        const qint64 onNow = dvrtest::guideBase() + 4 * 1800;
        // STB-A records what is on ch1 now; STB-B what is on ch2 (no stream left: capacity 1,
        // a conflict); STB-C a series on ch3, planned for later.
        auto made = send("POST", u"/api/recordings"_qs, {{u"owner"_qs, u"STB-A"_qs}, {u"channel"_qs, u"ch1"_qs}, {u"start"_qs, onNow}});
        QCOMPARE(made.first, 201);
        const qint64 ruleA = made.second.value(u"rule"_qs).toObject().value(u"id"_qs).toInteger();
        made = send("POST", u"/api/recordings"_qs, {{u"owner"_qs, u"STB-B"_qs}, {u"channel"_qs, u"ch2"_qs}, {u"start"_qs, onNow}});
        QCOMPARE(made.first, 201);
        QCOMPARE(made.second.value(u"skipped"_qs).toArray().at(0).toObject().value(u"reason"_qs).toString(), u"conflict"_qs);
        const qint64 ruleB = made.second.value(u"rule"_qs).toObject().value(u"id"_qs).toInteger();
        made = send("POST", u"/api/rules"_qs,
                    {{u"owner"_qs, u"STB-C"_qs}, {u"kind"_qs, u"title"_qs}, {u"title"_qs, u"Series 3"_qs}, {u"channel"_qs, u"ch3"_qs},
                     {u"operatorPriority"_qs, 2}});
        QCOMPARE(made.first, 201);
        const qint64 ruleC = made.second.value(u"rule"_qs).toObject().value(u"id"_qs).toInteger();
        QTRY_COMPARE_WITH_TIMEOUT(send("GET", u"/api/recordings"_qs).second.value(u"recordings"_qs).toArray().size(), 1, 15000);

        DiverClient client;
        client.setServer(diverUrl(), u"operator-secret"_qs);
        DvrController dvr(&client);
        QAbstractItemModelTester t1(dvr.recordings(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester t2(dvr.rules(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester t3(dvr.upcoming(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        dvr.setPollInterval(600000); // after the first load, only events and actions change what is shown
        QSignalSpy loaded(&dvr, &DvrController::recordingsLoaded);
        dvr.start();
        QVERIFY(loaded.wait(15000));
        QCOMPARE(dvr.connectionState(), DvrController::Connected);

        // Status: the node, its capacity, the plan and its conflict.
        QTRY_VERIFY(!dvr.status().isEmpty());
        QCOMPARE(dvr.status().value(u"capacity"_qs).toInt(), 1);
        QCOMPARE(dvr.status().value(u"conflicts"_qs).toInt(), 1);
        QVERIFY(dvr.status().value(u"guide"_qs).toObject().value(u"channels"_qs).toInt() == 3);

        // Recordings: STB-A's, as diver has it.
        RecordingsModel *rec = dvr.recordings();
        QCOMPARE(rec->rowCount(), 1);
        const RecordingRow a = rec->row(0);
        QCOMPARE(a.owner, u"STB-A"_qs);
        QCOMPARE(a.channel, u"ch1"_qs);
        QCOMPARE(a.rule, ruleA);
        QCOMPARE(a.title, u"Channel 1 h4"_qs);
        QCOMPARE(rec->data(rec->index(0, RecordingsModel::ChannelColumn)).toString(), u"Channel 1"_qs);

        // Rules: all three owners', with their outcome.
        QTRY_COMPARE(dvr.rules()->rowCount(), 3);
        const int rowC = rowOfRule(dvr.rules(), ruleC);
        QVERIFY(rowC >= 0);
        QCOMPARE(dvr.rules()->rowObject(rowC).value(u"owner"_qs).toString(), u"STB-C"_qs);
        QCOMPARE(dvr.rules()->index(rowC, 2).data().toString(), u"\"Series 3\""_qs);
        // The operator's tier, shown (0 where diver leaves it out).
        int tierColumn = -1;
        for (int column = 0; column < dvr.rules()->columnCount(); ++column)
            if (dvr.rules()->headerData(column, Qt::Horizontal).toString() == u"Operator tier")
                tierColumn = column;
        QVERIFY(tierColumn >= 0);
        QCOMPARE(dvr.rules()->index(rowC, tierColumn).data().toString(), u"2"_qs);
        QCOMPARE(dvr.rules()->index(rowOfRule(dvr.rules(), ruleA), tierColumn).data().toString(), u"0"_qs);
        QTRY_VERIFY(dvr.ruleOutcome(ruleB).contains(u"1 conflict"));
        QVERIFY2(dvr.ruleOutcome(ruleA).contains(u"1 recorded"), qPrintable(dvr.ruleOutcome(ruleA)));
        QVERIFY(dvr.ruleOutcome(ruleC).startsWith(u"4 planned"));

        // Upcoming: STB-C's four airings planned, STB-B's conflict with its reason and owner.
        QTRY_VERIFY(dvr.upcoming()->rowCount() >= 5);
        int conflicts = 0, planned = 0;
        for (const QJsonObject &o : dvr.upcoming()->rows()) {
            if (o.value(u"status"_qs).toString() == u"conflict") {
                ++conflicts;
                QCOMPARE(o.value(u"owner"_qs).toString(), u"STB-B"_qs);
                QVERIFY(o.value(u"detail"_qs).toString().contains(u"no capacity"));
            } else if (o.value(u"status"_qs).toString() == u"planned") {
                ++planned;
                QCOMPARE(o.value(u"owner"_qs).toString(), u"STB-C"_qs);
            }
        }
        QCOMPARE(conflicts, 1);
        QCOMPARE(planned, 4);

        // Keep, unkeep: diver stores it, the row shows what diver answered.
        QSignalSpy done(&dvr, &DvrController::done);
        dvr.setKept(a.id, true);
        QVERIFY(done.wait(10000));
        QString error;
        QVERIFY(m_diver->recordings().recording(a.id, &error)->kept);
        QVERIFY(rec->row(rec->rowOf(a.id)).kept);
        QCOMPARE(rec->data(rec->index(rec->rowOf(a.id), RecordingsModel::KeptColumn)).toString(), u"kept"_qs);
        dvr.setKept(a.id, false);
        QVERIFY(done.wait(10000));
        QVERIFY(!m_diver->recordings().recording(a.id, &error)->kept);
        QVERIFY(!rec->row(rec->rowOf(a.id)).kept);

        // A recording made meanwhile (STB-B's conflict gone: ch1's copy is shared) arrives by
        // the event stream, polling being off.
        QTRY_VERIFY_WITH_TIMEOUT(client.isEventsConnected(), 10000);
        made = send("POST", u"/api/recordings"_qs, {{u"owner"_qs, u"STB-D"_qs}, {u"channel"_qs, u"ch1"_qs}, {u"start"_qs, onNow}});
        QCOMPARE(made.first, 201);
        QTRY_COMPARE_WITH_TIMEOUT(rec->rowCount(), 2, 15000);
        const int rowD = rec->row(0).owner == u"STB-D" ? 0 : 1;
        QCOMPARE(rec->row(rowD).owner, u"STB-D"_qs);
        const qint64 idD = rec->row(rowD).id;
        const qint64 ruleD = made.second.value(u"rule"_qs).toObject().value(u"id"_qs).toInteger();
        QVERIFY2(dvr.ruleOutcome(ruleD).endsWith(u"1 recorded"), qPrintable(dvr.ruleOutcome(ruleD)));

        // Delete: gone from diver and from the table; the other row stays.
        dvr.deleteRecording(a.id);
        QVERIFY(done.wait(10000));
        QCOMPARE(send("GET", QStringLiteral("/api/recordings/%1").arg(a.id)).first, 404);
        QCOMPARE(rec->rowCount(), 1);
        QCOMPARE(rec->row(0).id, idD);

        // Delete a rule: diver forgets it, the table follows, its planned airings leave the plan.
        dvr.deleteRule(ruleC);
        QVERIFY(done.wait(10000));
        QCOMPARE(send("GET", QStringLiteral("/api/rules/%1").arg(ruleC)).first, 404);
        // (Waited for by the rule gone: the table held three before STB-D's rule came with this
        // same refresh.)
        QTRY_COMPARE(rowOfRule(dvr.rules(), ruleC), -1);
        QCOMPARE(dvr.rules()->rowCount(), 3); // STB-D's single rule came, STB-C's went
        QTRY_VERIFY(std::none_of(dvr.upcoming()->rows().cbegin(), dvr.upcoming()->rows().cend(),
                                 [](const QJsonObject &o) { return o.value(u"owner"_qs).toString() == u"STB-C"; }));

        // Something deleted elsewhere (another operator) goes at the next full list. (STB-B's
        // airing, a conflict while STB-C's rule held the stream, may be recording by now: the
        // plan made for the rule's deletion starts what became due.)
        QCOMPARE(send("DELETE", QStringLiteral("/api/recordings/%1").arg(idD)).first, 204);
        QTRY_COMPARE_WITH_TIMEOUT(rec->rowOf(idD), -1, 10000); // the deleted event
        QSignalSpy reloaded(&dvr, &DvrController::recordingsLoaded);
        dvr.refreshRecordings();
        QVERIFY(reloaded.wait(10000));
        QCOMPARE(rec->rowOf(idD), -1);
        for (int i = 0; i < rec->rowCount(); ++i)
            QCOMPARE(rec->row(i).owner, u"STB-B"_qs);
    }

    // The library by pages (?limit=, ?cursor=): each page asked for and parsed on a worker in
    // turn, then one snapshot of what diver holds; an owner's name is one string across pages.
    void libraryIsFetchedPageByPage()
    {
        QString error;
        const qint64 at = dvrtest::guideBase() - 86400;
        QList<qint64> made;
        for (int i = 0; i < 7; ++i) {
            iptv::diver::RecordingRow r;
            r.owner = QStringLiteral("STB-P%1").arg(i % 3);
            r.ruleId = 1000 + i;
            r.channelId = u"ch1"_qs;
            r.title = u"Paged"_qs;
            r.airingStart = r.recordStart = at - (i / 2) * 600; // two at each start: paged by id
            r.airingStop = r.recordStop = r.airingStart + 600;
            r.created = at;
            const auto id = m_diver->recordings().insertRecording(r, &error);
            QVERIFY2(id && *id > 0, qPrintable(error));
            made.append(*id);
        }

        DiverClient client;
        client.setServer(diverUrl(), u"operator-secret"_qs);
        DvrController dvr(&client);
        QAbstractItemModelTester tester(dvr.recordings(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        dvr.setPageSize(3);
        QSignalSpy pages(&dvr, &DvrController::recordingsPageLoaded);
        QSignalSpy loaded(&dvr, &DvrController::recordingsLoaded);
        dvr.refreshRecordings();
        QVERIFY(loaded.wait(15000));
        // (The earlier test's rules may make a recording meanwhile: the list as diver holds it
        // after, which is what the pages read.)
        const auto after = m_diver->recordings().recordings(&error);
        QVERIFY2(after, qPrintable(error));
        QVERIFY(pages.size() >= 3);
        QCOMPARE(pages.size(), int((after->size() + 2) / 3));
        RecordingsModel *rec = dvr.recordings();
        QCOMPARE(pages.last().at(1).toInt(), rec->rowCount());
        QCOMPARE(rec->rowCount(), int(after->size()));
        for (const iptv::diver::RecordingRow &row : *after)
            QVERIFY(rec->rowOf(row.id) >= 0);
        for (const qint64 id : std::as_const(made))
            QVERIFY(rec->rowOf(id) >= 0);
        // STB-P0's recordings 0, 3 and 6 came on three pages: one copy of the name.
        const RecordingRow &first = rec->row(rec->rowOf(made[0]));
        QCOMPARE(first.owner, u"STB-P0"_qs);
        QVERIFY(first.owner.constData() == rec->row(rec->rowOf(made[6])).owner.constData());

        for (const qint64 id : std::as_const(made))
            QVERIFY2(m_diver->recordings().deleteRecording(id, &error), qPrintable(error));
    }

    void diverGoneIsUnreachable()
    {
        DiverClient client;
        client.setServer(QUrl(u"http://127.0.0.1:1"_qs), {});
        DvrController dvr(&client);
        dvr.start();
        QTRY_COMPARE_WITH_TIMEOUT(dvr.connectionState(), DvrController::Unreachable, 10000);
        QVERIFY(!dvr.connectionError().isEmpty());
    }
};

QTEST_MAIN(TestDvrController)
#include "tst_dvrcontroller.moc"
