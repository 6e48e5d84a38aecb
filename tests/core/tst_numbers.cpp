// iptv::parseIntInRange: the one check behind config keys, --flags and query parameters.

#include <core/numbers.h>

#include <QTest>

class TestNumbers : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parseIntInRange_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<int>("value");
        QTest::addColumn<QString>("error");
        QTest::newRow("min") << u"0"_qs << true << 0 << QString();
        QTest::newRow("max") << u"10"_qs << true << 10 << QString();
        QTest::newRow("spaces") << u" 7 "_qs << true << 7 << QString();
        QTest::newRow("plus sign") << u"+3"_qs << true << 3 << QString();
        QTest::newRow("below") << u"0"_qs << false << 0 << u"--n: expected a number from 1 to 10, got \"0\""_qs;
        QTest::newRow("above") << u"11"_qs << false << 0 << u"--n: expected a number from 1 to 10, got \"11\""_qs;
        QTest::newRow("word") << u"ten"_qs << false << 0 << u"--n: expected a number from 1 to 10, got \"ten\""_qs;
        QTest::newRow("empty") << QString() << false << 0 << u"--n: expected a number from 1 to 10, got \"\""_qs;
        QTest::newRow("fraction") << u"2.5"_qs << false << 0 << u"--n: expected a number from 1 to 10, got \"2.5\""_qs;
        QTest::newRow("overflow") << u"99999999999"_qs << false << 0
                                  << u"--n: expected a number from 1 to 10, got \"99999999999\""_qs;
        QTest::newRow("long text is cut") << QString(100, u'x') << false << 0
                                          << QString(u"--n: expected a number from 1 to 10, got \"" + QString(40, u'x') + u"...\"");
    }
    void parseIntInRange()
    {
        QFETCH(QString, text);
        QFETCH(bool, ok);
        QFETCH(int, value);
        QFETCH(QString, error);
        int out = -1;
        QString message;
        QCOMPARE(iptv::parseIntInRange(u"--n"_qs, text, ok ? 0 : 1, 10, &out, &message), ok);
        if (ok) {
            QCOMPARE(out, value);
            QVERIFY(message.isEmpty());
        } else {
            QCOMPARE(out, -1); // untouched
            QCOMPARE(message, error);
        }
    }
};

QTEST_GUILESS_MAIN(TestNumbers)
#include "tst_numbers.moc"
