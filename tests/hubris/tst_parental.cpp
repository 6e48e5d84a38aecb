// Parental control: the PIN (default, change, kept as a hash), five wrong PINs and the lockout on
// an injected clock (kept across a restart, over after five minutes), channel and rating locks
// persisted, and what they hide: the guide grid's channels (with the favourites filter) under
// QAbstractItemModelTester, the grid's cells and details, search results, and the zapper, which
// does not play a locked channel until the PIN is entered.
#include "testguide.h"
#include "testplayer.h"

#include <hubris/channelfiltermodel.h>
#include <hubris/guidegrid.h>
#include <hubris/parentalcontrol.h>
#include <hubris/searchmodel.h>
#include <hubris/zapper.h>

#include <QAbstractItemModelTester>
#include <QFile>
#include <QSignalSpy>
#include <QTest>

using namespace iptv::hubris;

class TestParental : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<GuideStore> m_store;
    qint64 m_nowMs = 1767600000000; ///< the injected wall clock

    QString settingsFile() const { return m_dir.filePath(QStringLiteral("settings.json")); }
    std::unique_ptr<ParentalControl> parental(BoxSettings *settings)
    {
        auto p = std::make_unique<ParentalControl>(m_store.get(), settings);
        p->setClock([this] { return m_nowMs; });
        return p;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_store = std::make_unique<GuideStore>(m_dir.filePath(QStringLiteral("cache")));
        m_store->setFixedNow(testguide::kDay0 + 20 * 3600 + 900); // 20:15 on day 0
        QSignalSpy loaded(m_store.get(), &GuideStore::guideChanged);
        m_store->loadFile(testguide::write(m_dir));
        QVERIFY(loaded.wait(5000));
    }

    void init() { QFile::remove(settingsFile()); }

    void ratings_data()
    {
        QTest::addColumn<QString>("value");
        QTest::addColumn<int>("age");
        QTest::newRow("number") << u"12"_qs << 12;
        QTest::newRow("FSK") << u"FSK 16"_qs << 16;
        QTest::newRow("CSA") << u"-12"_qs << 12;
        QTest::newRow("Greek") << u"K16"_qs << 16;
        QTest::newRow("Greek all") << u"K"_qs << 0;
        QTest::newRow("EIRIN") << u"R15+"_qs << 15;
        QTest::newRow("VCHIP") << u"TV-14"_qs << 14;
        QTest::newRow("VCHIP MA") << u"tv-ma"_qs << 17;
        QTest::newRow("MPAA") << u"PG-13"_qs << 13;
        QTest::newRow("all") << u"Tous publics"_qs << 0;
        QTest::newRow("unknown") << u"Unrated"_qs << -1;
    }
    void ratings()
    {
        QFETCH(QString, value);
        QFETCH(int, age);
        QCOMPARE(ParentalControl::ageOfRating(value), age);
    }

    void pinAndChange()
    {
        BoxSettings settings(settingsFile());
        auto p = parental(&settings);
        QVERIFY(p->isDefaultPin());
        QVERIFY(!p->changePin(u"1234"_qs)); // not unlocked
        QVERIFY(!p->enterPin(u"1234"_qs));
        QCOMPARE(p->attemptsLeft(), 4);
        QVERIFY(p->enterPin(ParentalControl::kDefaultPin));
        QVERIFY(p->isUnlocked());
        QCOMPARE(p->attemptsLeft(), 5); // a right PIN starts the count again
        QVERIFY(!p->changePin(u"12a4"_qs));
        QVERIFY(!p->changePin(u"123"_qs));
        QVERIFY(p->changePin(u"4711"_qs));
        QVERIFY(!p->isDefaultPin());
        QVERIFY(!settings.value(u"parental.pinHash"_qs).toString().contains(u"4711"_qs)); // a salted hash
        p->lock();
        QVERIFY(!p->isUnlocked());
        QVERIFY(!p->enterPin(ParentalControl::kDefaultPin));
        QVERIFY(p->enterPin(u"4711"_qs));

        BoxSettings again(settingsFile()); // kept across a restart
        auto q = parental(&again);
        QVERIFY(!q->isUnlocked()); // a new session starts locked
        QVERIFY(q->enterPin(u"4711"_qs));
    }

    void lockoutAfterFiveWrong()
    {
        BoxSettings settings(settingsFile());
        auto p = parental(&settings);
        QSignalSpy rejected(p.get(), &ParentalControl::pinRejected);
        for (int i = 0; i < 4; ++i)
            QVERIFY(!p->enterPin(u"9999"_qs));
        QVERIFY(!p->isLockedOut());
        QCOMPARE(rejected.last().first().toInt(), 1);
        QVERIFY(!p->enterPin(u"9999"_qs));
        QCOMPARE(rejected.last().first().toInt(), 0);
        QVERIFY(p->isLockedOut());
        QCOMPARE(p->lockoutSeconds(), ParentalControl::kLockoutSeconds);
        QVERIFY(!p->enterPin(ParentalControl::kDefaultPin)); // even the right one, while locked out
        QCOMPARE(rejected.size(), 5);                        // and it does not count
        m_nowMs += 60 * 1000;
        QCOMPARE(p->lockoutSeconds(), ParentalControl::kLockoutSeconds - 60);

        // Across a restart: still locked out, for the time that is left.
        BoxSettings again(settingsFile());
        auto q = parental(&again);
        QVERIFY(q->isLockedOut());
        QCOMPARE(q->lockoutSeconds(), ParentalControl::kLockoutSeconds - 60);
        QVERIFY(!q->enterPin(ParentalControl::kDefaultPin));

        // Over: five more tries, and the right PIN works.
        m_nowMs += 4 * 60 * 1000;
        QVERIFY(!q->isLockedOut());
        QVERIFY(q->enterPin(ParentalControl::kDefaultPin));
        QCOMPARE(q->attemptsLeft(), 5);
    }

    void channelAndRatingLocksHide()
    {
        BoxSettings settings(settingsFile());
        auto p = parental(&settings);
        ChannelListModel channels(m_store.get());
        ChannelFilterModel grid(&channels, p.get());
        QAbstractItemModelTester tester(&grid, QAbstractItemModelTester::FailureReportingMode::QtTest);
        GuideGrid cells(m_store.get());
        cells.setParentalControl(p.get());
        SearchModel search(m_store.get());
        search.setParentalControl(p.get());
        QAbstractItemModelTester searchTester(&search, QAbstractItemModelTester::FailureReportingMode::QtTest);
        TestPlayer player;
        Zapper zapper(&channels, &player);
        zapper.setLockCheck([&p](int row) { return p->blocksChannel(row); });
        connect(p.get(), &ParentalControl::changed, &zapper, &Zapper::recheck);
        QCOMPARE(grid.rowCount(), 6);

        // Locking needs the PIN; channel 10 (row 3) locked, rated 18 and over locked.
        QVERIFY(!p->toggleChannelLock(3));
        QVERIFY(!p->setRatingLimit(18));
        QVERIFY(p->enterPin(ParentalControl::kDefaultPin));
        QVERIFY(p->toggleChannelLock(3));
        QVERIFY(p->setRatingLimit(18));
        QVERIFY(p->isChannelLocked(3));
        QCOMPARE(grid.rowCount(), 6); // unlocked this session: nothing hidden yet
        search.setQuery(u"channel 10 h20"_qs); // channels 10 and 101
        QCOMPARE(search.rowCount(), 2);

        QSignalSpy revision(&cells, &GuideGrid::revisionChanged);
        p->lock(); // standby
        QVERIFY(!revision.isEmpty());
        QCOMPARE(grid.rowCount(), 5);
        QCOMPARE(grid.channelAt(3), 4); // channel 11 moved up
        QCOMPARE(grid.rowOfChannel(3), 3); // the nearest shown after the locked one
        QCOMPARE(search.rowCount(), 1); // channel 10 is hidden from search
        QCOMPARE(search.data(search.index(0), SearchModel::TitleRole).toString(), u"Channel 101 h20"_qs);
        search.setQuery(u"channel 11 h"_qs);
        QVERIFY(search.rowCount() > 0);
        for (int row = 0; row < search.rowCount(); ++row) {
            const QString title = search.data(search.index(row), SearchModel::TitleRole).toString();
            const int hour = title.mid(title.lastIndexOf(u'h') + 1).toInt() % 24;
            QVERIFY2(hour < 21, qPrintable(title)); // rated 18: hidden
        }
        // The grid: channel 11's 21:00 is a locked cell without title or details; 20:00 is not.
        const QVariantList list = cells.airings(4, testguide::kDay0 + 20 * 3600, testguide::kDay0 + 22 * 3600);
        QCOMPARE(list.size(), 2);
        QCOMPARE(list.at(0).toMap().value(u"title"_qs).toString(), u"Channel 11 h20"_qs);
        QVERIFY(list.at(1).toMap().value(u"locked"_qs).toBool());
        QVERIFY(!list.at(1).toMap().value(u"title"_qs).toString().contains(u"h21"_qs));
        const QVariantMap details = cells.details(list.at(1).toMap().value(u"airing"_qs).toInt());
        QVERIFY(details.value(u"description"_qs).toString().isEmpty());

        // The zapper: a locked channel does not play; the PIN plays it.
        zapper.tune(3);
        QVERIFY(zapper.isBlocked());
        QVERIFY(player.played.isEmpty());
        zapper.tune(5); // 20:15 on channel 101: rated 6
        QVERIFY(!zapper.isBlocked());
        QCOMPARE(player.played.size(), 1);
        m_store->setFixedNow(testguide::kDay0 + 21 * 3600 + 60); // 21:01: rated 18 now
        zapper.recheck();
        QVERIFY(zapper.isBlocked());
        QCOMPARE(player.state(), iptv::hal::Player::State::Stopped);
        QVERIFY(p->enterPin(ParentalControl::kDefaultPin));
        QVERIFY(!zapper.isBlocked());
        QCOMPARE(player.played.size(), 2);
        QCOMPARE(grid.rowCount(), 6);
        m_store->setFixedNow(testguide::kDay0 + 20 * 3600 + 900);

        // The favourites filter, with a locked channel hidden as well.
        p->lock();
        channels.toggleFavourite(3);
        channels.toggleFavourite(5);
        QSignalSpy count(&grid, &ChannelFilterModel::countChanged);
        grid.setFavouritesOnly(true);
        QVERIFY(!count.isEmpty());
        QCOMPARE(grid.rowCount(), 1); // 101; 10 is locked
        QCOMPARE(grid.channelAt(0), 5);
        channels.toggleFavourite(0);
        QCOMPARE(grid.rowCount(), 2);
        QCOMPARE(grid.channelAt(0), 0);
        grid.setFavouritesOnly(false);
        QCOMPARE(grid.rowCount(), 5);

        // Locks are kept across a restart.
        BoxSettings again(settingsFile());
        auto q = parental(&again);
        QVERIFY(q->isChannelLocked(3));
        QCOMPARE(q->ratingLimit(), 18);
        QVERIFY(q->blocksChannel(3));
    }
};

QTEST_GUILESS_MAIN(TestParental)
#include "tst_parental.moc"
