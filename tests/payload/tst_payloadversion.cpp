// Version strings: validity and the semver order used for "versions only go up" and minBoxVersion.

#include <payload/version.h>

#include <QTest>

using namespace iptv::payload;

class TestPayloadVersion : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void compare_data()
    {
        QTest::addColumn<QString>("a");
        QTest::addColumn<QString>("b");
        QTest::addColumn<int>("expected");
        QTest::newRow("numeric not lexical") << u"1.10.0"_qs << u"1.9.2"_qs << 1;
        QTest::newRow("equal") << u"1.4.0"_qs << u"1.4.0"_qs << 0;
        QTest::newRow("missing parts are zero") << u"1.4"_qs << u"1.4.0"_qs << 0;
        QTest::newRow("major wins") << u"2.0.0"_qs << u"1.99.99"_qs << 1;
        QTest::newRow("patch") << u"1.0.1"_qs << u"1.0.2"_qs << -1;
        QTest::newRow("fourth part") << u"1.0.0.2"_qs << u"1.0.0.1"_qs << 1;
        QTest::newRow("pre-release below release") << u"1.0.0-rc.1"_qs << u"1.0.0"_qs << -1;
        QTest::newRow("pre-release numeric ids") << u"1.0.0-rc.10"_qs << u"1.0.0-rc.9"_qs << 1;
        QTest::newRow("pre-release alpha < beta") << u"1.0.0-alpha"_qs << u"1.0.0-beta"_qs << -1;
        QTest::newRow("pre-release numeric < alphanumeric") << u"1.0.0-1"_qs << u"1.0.0-alpha"_qs << -1;
        QTest::newRow("pre-release shorter first") << u"1.0.0-alpha"_qs << u"1.0.0-alpha.1"_qs << -1;
        QTest::newRow("build metadata ignored") << u"1.2.3+git.abc"_qs << u"1.2.3+git.def"_qs << 0;
        QTest::newRow("leading zeros numeric") << u"1.02.0"_qs << u"1.2.0"_qs << 0;
        QTest::newRow("big numbers") << u"1.100000000000000000"_qs << u"1.99999999999999999"_qs << 1;
        QTest::newRow("invalid below valid") << u"banana"_qs << u"0.0.1"_qs << -1;
        QTest::newRow("valid above invalid") << u"0.0.1"_qs << u""_qs << 1;
        QTest::newRow("two invalid equal") << u"x"_qs << u"y"_qs << 0;
    }
    void compare()
    {
        QFETCH(QString, a);
        QFETCH(QString, b);
        QFETCH(int, expected);
        const int c = compareVersions(a, b);
        QCOMPARE(c < 0 ? -1 : (c > 0 ? 1 : 0), expected);
        const int r = compareVersions(b, a);
        QCOMPARE(r < 0 ? -1 : (r > 0 ? 1 : 0), -expected); // antisymmetric
    }

    void valid_data()
    {
        QTest::addColumn<QString>("version");
        QTest::addColumn<bool>("valid");
        QTest::newRow("three parts") << u"1.4.0"_qs << true;
        QTest::newRow("one part") << u"7"_qs << true;
        QTest::newRow("pre-release") << u"2.0.0-beta.2"_qs << true;
        QTest::newRow("build") << u"2.0.0+20260105"_qs << true;
        QTest::newRow("both") << u"2.0.0-rc.1+git.abc"_qs << true;
        QTest::newRow("empty") << u""_qs << false;
        QTest::newRow("five parts") << u"1.2.3.4.5"_qs << false;
        QTest::newRow("leading v") << u"v1.2.3"_qs << false;
        QTest::newRow("empty part") << u"1..3"_qs << false;
        QTest::newRow("trailing dot") << u"1.2."_qs << false;
        QTest::newRow("empty pre-release") << u"1.2.3-"_qs << false;
        QTest::newRow("bad pre-release char") << u"1.2.3-rc_1"_qs << false;
        QTest::newRow("space") << u"1.2 .3"_qs << false;
        QTest::newRow("too long number") << u"1234567890123456789.0"_qs << false;
    }
    void valid()
    {
        QFETCH(QString, version);
        QFETCH(bool, valid);
        QCOMPARE(isValidVersion(version), valid);
    }
};

QTEST_GUILESS_MAIN(TestPayloadVersion)
#include "tst_payloadversion.moc"
