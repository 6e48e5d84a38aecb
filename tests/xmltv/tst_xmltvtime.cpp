// XMLTV timestamps: offsets, short forms, zone-less times across DST gaps and folds, bad input.
#include <epg/xmltvtime.h>

#include <QDateTime>
#include <QTest>
#include <QTimeZone>

using namespace iptv::epg;

namespace {

qint64 utc(int y, int mo, int d, int h, int mi, int s = 0)
{
    return QDateTime(QDate(y, mo, d), QTime(h, mi, s), Qt::UTC).toSecsSinceEpoch();
}

} // namespace

class TestXmltvTime : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parse_data();
    void parse();
    void bad_data();
    void bad();
    void format_data();
    void format();
    void roundTrip();
};

void TestXmltvTime::parse_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QByteArray>("zone"); // IANA id for zone-less stamps; empty = UTC
    QTest::addColumn<qint64>("utc");
    QTest::addColumn<int>("offset");

    QTest::newRow("plus") << u"20260822160000 +0100"_qs << QByteArray() << utc(2026, 8, 22, 15, 0) << 3600;
    QTest::newRow("minus") << u"20260822160000 -0500"_qs << QByteArray() << utc(2026, 8, 22, 21, 0) << -18000;
    QTest::newRow("half hour") << u"20260822160000 +0530"_qs << QByteArray() << utc(2026, 8, 22, 10, 30) << 19800;
    QTest::newRow("colon") << u"20260822160000 +05:45"_qs << QByteArray() << utc(2026, 8, 22, 10, 15) << 20700;
    QTest::newRow("hours only") << u"20260822160000 +02"_qs << QByteArray() << utc(2026, 8, 22, 14, 0) << 7200;
    QTest::newRow("no space") << u"20260822160000+0100"_qs << QByteArray() << utc(2026, 8, 22, 15, 0) << 3600;
    QTest::newRow("seconds") << u"20260822160059 +0000"_qs << QByteArray() << utc(2026, 8, 22, 16, 0, 59) << 0;
    QTest::newRow("Z") << u"20260822160000 Z"_qs << QByteArray() << utc(2026, 8, 22, 16, 0) << 0;
    QTest::newRow("UTC") << u"20260822160000 UTC"_qs << QByteArray("Europe/Dublin") << utc(2026, 8, 22, 16, 0) << 0;
    QTest::newRow("GMT") << u"20260822160000 GMT"_qs << QByteArray() << utc(2026, 8, 22, 16, 0) << 0;
    QTest::newRow("EST") << u"20260122160000 EST"_qs << QByteArray() << utc(2026, 1, 22, 21, 0) << -18000;
    QTest::newRow("est lower") << u"20260122160000 est"_qs << QByteArray() << utc(2026, 1, 22, 21, 0) << -18000;
    QTest::newRow("CEST") << u"20260722160000 CEST"_qs << QByteArray() << utc(2026, 7, 22, 14, 0) << 7200;
    QTest::newRow("12 digits") << u"202608221630 +0100"_qs << QByteArray() << utc(2026, 8, 22, 15, 30) << 3600;
    QTest::newRow("10 digits") << u"2026082216 +0100"_qs << QByteArray() << utc(2026, 8, 22, 15, 0) << 3600;
    QTest::newRow("8 digits") << u"20260822 +0100"_qs << QByteArray() << utc(2026, 8, 21, 23, 0) << 3600;
    QTest::newRow("8 digits bare") << u"20260822"_qs << QByteArray() << utc(2026, 8, 22, 0, 0) << 0;
    QTest::newRow("whitespace") << u"  20260822160000   +0000 "_qs << QByteArray() << utc(2026, 8, 22, 16, 0) << 0;
    QTest::newRow("before epoch") << u"19650301120000 +0000"_qs << QByteArray() << utc(1965, 3, 1, 12, 0) << 0;
    QTest::newRow("leap day") << u"20280229235959 +0000"_qs << QByteArray() << utc(2028, 2, 29, 23, 59, 59) << 0;
    QTest::newRow("no offset utc") << u"20260822160000"_qs << QByteArray() << utc(2026, 8, 22, 16, 0) << 0;

    // Europe/Dublin: IST (+1) in summer, GMT in winter; 2026 changes on Mar 29 01:00 UTC and Oct 25 01:00 UTC.
    QTest::newRow("dublin winter") << u"20260115120000"_qs << QByteArray("Europe/Dublin") << utc(2026, 1, 15, 12, 0)
                                   << 0;
    QTest::newRow("dublin summer") << u"20260715120000"_qs << QByteArray("Europe/Dublin") << utc(2026, 7, 15, 11, 0)
                                   << 3600;
    QTest::newRow("dublin before gap") << u"20260329005959"_qs << QByteArray("Europe/Dublin")
                                       << utc(2026, 3, 29, 0, 59, 59) << 0;
    // 01:30 does not exist that night: read as 02:30 IST.
    QTest::newRow("dublin gap") << u"20260329013000"_qs << QByteArray("Europe/Dublin") << utc(2026, 3, 29, 1, 30)
                                << 3600;
    QTest::newRow("dublin after gap") << u"20260329020000"_qs << QByteArray("Europe/Dublin")
                                      << utc(2026, 3, 29, 1, 0) << 3600;
    // 01:30 happens twice on Oct 25: the first one is still IST.
    QTest::newRow("dublin fold") << u"20261025013000"_qs << QByteArray("Europe/Dublin") << utc(2026, 10, 25, 0, 30)
                                 << 3600;
    QTest::newRow("dublin after fold") << u"20261025020000"_qs << QByteArray("Europe/Dublin")
                                       << utc(2026, 10, 25, 2, 0) << 0;
    QTest::newRow("dublin explicit wins") << u"20261025013000 +0000"_qs << QByteArray("Europe/Dublin")
                                          << utc(2026, 10, 25, 1, 30) << 0;

    // America/New_York: 2026 changes on Mar 8 02:00 EST and Nov 1 02:00 EDT.
    QTest::newRow("ny winter") << u"20260115120000"_qs << QByteArray("America/New_York") << utc(2026, 1, 15, 17, 0)
                               << -18000;
    QTest::newRow("ny summer") << u"20260715120000"_qs << QByteArray("America/New_York") << utc(2026, 7, 15, 16, 0)
                               << -14400;
    QTest::newRow("ny gap") << u"20260308023000"_qs << QByteArray("America/New_York") << utc(2026, 3, 8, 7, 30)
                            << -14400;
    QTest::newRow("ny fold") << u"20261101013000"_qs << QByteArray("America/New_York") << utc(2026, 11, 1, 5, 30)
                             << -14400;
    QTest::newRow("ny after fold") << u"20261101020000"_qs << QByteArray("America/New_York")
                                   << utc(2026, 11, 1, 7, 0) << -18000;
}

void TestXmltvTime::parse()
{
    QFETCH(QString, text);
    QFETCH(QByteArray, zone);
    QFETCH(qint64, utc);
    QFETCH(int, offset);

    const QTimeZone tz = zone.isEmpty() ? QTimeZone::utc() : QTimeZone(zone);
    QVERIFY2(tz.isValid(), zone.constData());
    qint64 gotUtc = -1;
    int gotOffset = -1;
    QString error;
    QVERIFY2(parseXmltvTime(text, tz, &gotUtc, &gotOffset, &error), qPrintable(error));
    QCOMPARE(gotUtc, utc);
    QCOMPARE(gotOffset, offset);
}

void TestXmltvTime::bad_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("errorPart");

    QTest::newRow("empty") << QString() << u"empty"_qs;
    QTest::newRow("blank") << u"   "_qs << u"empty"_qs;
    QTest::newRow("letters") << u"yesterday"_qs << u"bad timestamp"_qs;
    QTest::newRow("iso") << u"2026-08-22T16:00:00Z"_qs << u"bad timestamp"_qs;
    QTest::newRow("13 digits") << u"2026082216000 +0000"_qs << u"bad timestamp"_qs;
    QTest::newRow("6 digits") << u"202608"_qs << u"bad timestamp"_qs;
    QTest::newRow("month 13") << u"20261322160000 +0000"_qs << u"impossible"_qs;
    QTest::newRow("feb 30") << u"20260230120000 +0000"_qs << u"impossible"_qs;
    QTest::newRow("hour 25") << u"20260822250000 +0000"_qs << u"impossible"_qs;
    QTest::newRow("minute 60") << u"20260822166000 +0000"_qs << u"impossible"_qs;
    QTest::newRow("year 0") << u"00000101000000 +0000"_qs << u"impossible"_qs;
    QTest::newRow("offset hours") << u"20260822160000 +2500"_qs << u"out of range"_qs;
    QTest::newRow("offset minutes") << u"20260822160000 +0160"_qs << u"out of range"_qs;
    QTest::newRow("offset short") << u"20260822160000 +1"_qs << u"bad UTC offset"_qs;
    QTest::newRow("offset long") << u"20260822160000 +010000"_qs << u"bad UTC offset"_qs;
    QTest::newRow("offset letters") << u"20260822160000 +ab:cd"_qs << u"bad UTC offset"_qs;
    QTest::newRow("unknown zone") << u"20260822160000 XYZ"_qs << u"unknown time zone"_qs;
    QTest::newRow("ambiguous IST") << u"20260822160000 IST"_qs << u"unknown time zone"_qs;
    QTest::newRow("trailing junk") << u"20260822160000 +0000 extra"_qs << u"bad UTC offset"_qs;
}

void TestXmltvTime::bad()
{
    QFETCH(QString, text);
    QFETCH(QString, errorPart);
    qint64 u = 42;
    int o = 42;
    QString error;
    QVERIFY(!parseXmltvTime(text, QTimeZone::utc(), &u, &o, &error));
    QVERIFY2(error.contains(errorPart), qPrintable(error));
    QCOMPARE(u, 42); // outputs untouched on failure
    QCOMPARE(o, 42);
    QVERIFY(!parseXmltvTime(text, QTimeZone::utc(), &u, &o)); // no error pointer needed
}

void TestXmltvTime::format_data()
{
    QTest::addColumn<qint64>("utc");
    QTest::addColumn<int>("offset");
    QTest::addColumn<QString>("expected");

    QTest::newRow("plus") << utc(2026, 8, 22, 15, 0) << 3600 << u"20260822160000 +0100"_qs;
    QTest::newRow("minus") << utc(2026, 8, 22, 21, 0) << -18000 << u"20260822160000 -0500"_qs;
    QTest::newRow("zero") << utc(2026, 8, 22, 16, 0, 7) << 0 << u"20260822160007 +0000"_qs;
    QTest::newRow("half hour") << utc(2026, 8, 22, 10, 30) << 19800 << u"20260822160000 +0530"_qs;
    QTest::newRow("day change") << utc(2026, 12, 31, 23, 30) << 3600 << u"20270101003000 +0100"_qs;
    QTest::newRow("negative day change") << utc(2026, 1, 1, 2, 0) << -18000 << u"20251231210000 -0500"_qs;
    QTest::newRow("before epoch") << utc(1965, 3, 1, 12, 0) << 0 << u"19650301120000 +0000"_qs;
    QTest::newRow("epoch") << qint64(0) << 0 << u"19700101000000 +0000"_qs;
}

void TestXmltvTime::format()
{
    QFETCH(qint64, utc);
    QFETCH(int, offset);
    QFETCH(QString, expected);
    QCOMPARE(formatXmltvTime(utc, offset), expected);
}

void TestXmltvTime::roundTrip()
{
    // Every quarter hour over a year, across several offsets: format then parse gives the same instant.
    const int offsets[] = {0, 3600, -18000, 19800, -34200, 46800};
    for (qint64 t = utc(2026, 1, 1, 0, 0); t < utc(2027, 1, 1, 0, 0); t += 900 * 97) {
        for (int offset : offsets) {
            qint64 back = 0;
            int backOffset = 0;
            const QString text = formatXmltvTime(t, offset);
            QVERIFY2(parseXmltvTime(text, QTimeZone::utc(), &back, &backOffset), qPrintable(text));
            QCOMPARE(back, t);
            QCOMPARE(backOffset, offset);
        }
    }
}

QTEST_GUILESS_MAIN(TestXmltvTime)
#include "tst_xmltvtime.moc"
