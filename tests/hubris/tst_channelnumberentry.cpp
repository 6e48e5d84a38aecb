// Channel numbers typed with the digit keys (ChannelNumberEntry), the logic live TV and the
// guide share, on the test guide's lineup 1, 2, 3, 10, 11, 101: a number is taken at once when no
// channel number goes on from it or all three digits are typed, else after the timeout or on OK;
// leading zeros count (010); Back clears; an unknown number is said, not taken; the display shows
// what may still come.
#include "testguide.h"

#include <hubris/channelnumberentry.h>

#include <QSignalSpy>
#include <QTest>

using namespace iptv::hubris;

class TestChannelNumberEntry : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<GuideStore> m_store;
    std::unique_ptr<ChannelListModel> m_channels;
    std::unique_ptr<ChannelNumberEntry> m_entry;

    void type(const QString &digits)
    {
        for (QChar c : digits)
            m_entry->digit(c.digitValue());
    }

private Q_SLOTS:
    void init()
    {
        m_store = std::make_unique<GuideStore>(m_dir.filePath(QStringLiteral("cache")));
        m_channels = std::make_unique<ChannelListModel>(m_store.get());
        m_entry = std::make_unique<ChannelNumberEntry>(m_channels.get());
        QSignalSpy loaded(m_store.get(), &GuideStore::guideChanged);
        m_store->loadFile(testguide::write(m_dir));
        QVERIFY(loaded.wait(5000));
        QCOMPARE(m_entry->maxDigits(), 3);
    }

    // Digits taken at once, without waiting for the timeout: nothing longer can follow.
    void takenAtOnce_data()
    {
        QTest::addColumn<QString>("typed");
        QTest::addColumn<int>("number");
        QTest::addColumn<int>("row");
        QTest::newRow("2: no 2x") << u"2"_qs << 2 << 1;
        QTest::newRow("3: no 3x") << u"3"_qs << 3 << 2;
        QTest::newRow("11: no 11x") << u"11"_qs << 11 << 4;
        QTest::newRow("101: three digits") << u"101"_qs << 101 << 5;
        QTest::newRow("010: three digits, a leading zero") << u"010"_qs << 10 << 3;
        QTest::newRow("002: three digits, leading zeros") << u"002"_qs << 2 << 1;
    }
    void takenAtOnce()
    {
        QFETCH(QString, typed);
        QFETCH(int, number);
        QFETCH(int, row);
        m_entry->setTimeout(60000); // the test must not depend on it
        QSignalSpy chosen(m_entry.get(), &ChannelNumberEntry::chosen);
        type(typed);
        QCOMPARE(chosen.size(), 1);
        QCOMPARE(chosen.first().at(0).toInt(), row);
        QCOMPARE(chosen.first().at(1).toInt(), number);
        QVERIFY(!m_entry->isActive());
        QCOMPARE(m_entry->display(), QString());
    }

    void waitsWhileALongerNumberMayCome()
    {
        m_entry->setTimeout(60000);
        QSignalSpy chosen(m_entry.get(), &ChannelNumberEntry::chosen);
        QSignalSpy changed(m_entry.get(), &ChannelNumberEntry::digitsChanged);
        m_entry->digit(1); // 1, 10, 11, 101
        QCOMPARE(m_entry->digits(), u"1"_qs);
        QCOMPARE(m_entry->display(), u"1__"_qs);
        QVERIFY(m_entry->isActive());
        m_entry->digit(0); // 10, 101
        QCOMPARE(m_entry->display(), u"10_"_qs);
        QCOMPARE(chosen.size(), 0);
        QCOMPARE(changed.size(), 2);
        m_entry->clear();
        m_entry->digit(0); // 01, 001, 010 ...
        m_entry->digit(1);
        QCOMPARE(m_entry->display(), u"01_"_qs);
        QCOMPARE(chosen.size(), 0);
    }

    void anUnknownNumberAfterTheTimeout()
    {
        m_entry->setTimeout(50);
        QSignalSpy none(m_entry.get(), &ChannelNumberEntry::noSuchChannel);
        m_entry->digit(0); // 0 may go on (01, 010), but no channel 0
        QCOMPARE(none.size(), 0);
        QVERIFY(none.wait(5000));
        QCOMPARE(none.first().first().toInt(), 0);
        QVERIFY(!m_entry->isActive());
    }

    void theTimeoutTakesIt()
    {
        m_entry->setTimeout(50);
        QSignalSpy chosen(m_entry.get(), &ChannelNumberEntry::chosen);
        type(u"10"_qs);
        QCOMPARE(chosen.size(), 0);
        QVERIFY(chosen.wait(5000));
        QCOMPARE(chosen.first().at(0).toInt(), 3);
        QCOMPARE(chosen.first().at(1).toInt(), 10);
        QVERIFY(!m_entry->isActive());
    }

    void okTakesItAtOnce()
    {
        m_entry->setTimeout(60000);
        QSignalSpy chosen(m_entry.get(), &ChannelNumberEntry::chosen);
        m_entry->digit(1);
        m_entry->commit();
        QCOMPARE(chosen.size(), 1);
        QCOMPARE(chosen.first().at(0).toInt(), 0);
        m_entry->commit(); // nothing typed: nothing
        QCOMPARE(chosen.size(), 1);
    }

    void backClears()
    {
        m_entry->setTimeout(50);
        QSignalSpy chosen(m_entry.get(), &ChannelNumberEntry::chosen);
        QSignalSpy none(m_entry.get(), &ChannelNumberEntry::noSuchChannel);
        type(u"10"_qs);
        m_entry->clear();
        QVERIFY(!m_entry->isActive());
        QCOMPARE(m_entry->display(), QString());
        // The timeout is stopped too: nothing is taken later.
        QVERIFY(!chosen.wait(300));
        QCOMPARE(none.size(), 0);
        // Typing again starts a new number.
        type(u"2"_qs);
        QCOMPARE(chosen.size(), 1);
        QCOMPARE(chosen.first().at(1).toInt(), 2);
    }

    void unknownNumbers_data()
    {
        QTest::addColumn<QString>("typed");
        QTest::addColumn<int>("number");
        QTest::newRow("7: nothing starts with it") << u"7"_qs << 7;
        QTest::newRow("12: nothing starts with it") << u"12"_qs << 12;
        QTest::newRow("100: three digits") << u"100"_qs << 100;
        QTest::newRow("04: nothing starts with 04 or 004") << u"04"_qs << 4;
    }
    void unknownNumbers()
    {
        QFETCH(QString, typed);
        QFETCH(int, number);
        m_entry->setTimeout(60000);
        QSignalSpy chosen(m_entry.get(), &ChannelNumberEntry::chosen);
        QSignalSpy none(m_entry.get(), &ChannelNumberEntry::noSuchChannel);
        type(typed);
        QCOMPARE(none.size(), 1);
        QCOMPARE(none.first().first().toInt(), number);
        QCOMPARE(chosen.size(), 0);
        QVERIFY(!m_entry->isActive());
    }
};

QTEST_GUILESS_MAIN(TestChannelNumberEntry)
#include "tst_channelnumberentry.moc"
