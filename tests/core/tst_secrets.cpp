// iptv::constantTimeEqual and the secret digests: the one comparison of tokens and keyed hashes
// behind controlserver's box credentials and diver's admin token.

#include <core/secrets.h>

#include <QCryptographicHash>
#include <QTest>

class TestSecrets : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void constantTimeEqual_data()
    {
        QTest::addColumn<QByteArray>("a");
        QTest::addColumn<QByteArray>("b");
        QTest::addColumn<bool>("equal");
        const QByteArray digest = QCryptographicHash::hash("secret", QCryptographicHash::Sha256);
        QByteArray lastByte = digest;
        lastByte[31] = char(lastByte[31] ^ 0x01);
        QByteArray firstByte = digest;
        firstByte[0] = char(firstByte[0] ^ 0x80);
        QTest::newRow("same digest") << digest << QByteArray(digest) << true;
        QTest::newRow("last byte differs") << digest << lastByte << false;
        QTest::newRow("first byte differs") << digest << firstByte << false;
        QTest::newRow("prefix") << digest << digest.left(16) << false;
        QTest::newRow("longer") << digest << digest + QByteArray(1, '\0') << false;
        QTest::newRow("both empty") << QByteArray() << QByteArray() << false;
        QTest::newRow("one empty") << QByteArray() << digest << false;
        QTest::newRow("zero bytes") << QByteArray(4, '\0') << QByteArray(4, '\0') << true;
        QTest::newRow("embedded zero differs after it") << QByteArray("a\0b", 3) << QByteArray("a\0c", 3) << false;
    }
    void constantTimeEqual()
    {
        QFETCH(QByteArray, a);
        QFETCH(QByteArray, b);
        QFETCH(bool, equal);
        QCOMPARE(iptv::constantTimeEqual(a, b), equal);
        QCOMPARE(iptv::constantTimeEqual(b, a), equal);
    }

    void secretMatches_data()
    {
        QTest::addColumn<QByteArray>("secret");
        QTest::addColumn<QByteArray>("given");
        QTest::addColumn<bool>("matches");
        QTest::newRow("the secret") << QByteArray("operator-secret") << QByteArray("operator-secret") << true;
        QTest::newRow("wrong") << QByteArray("operator-secret") << QByteArray("operator-secreT") << false;
        QTest::newRow("prefix of it") << QByteArray("operator-secret") << QByteArray("operator") << false;
        QTest::newRow("longer") << QByteArray("operator-secret") << QByteArray("operator-secret!") << false;
        QTest::newRow("nothing given") << QByteArray("operator-secret") << QByteArray() << false;
        QTest::newRow("no secret set") << QByteArray() << QByteArray("anything") << false;
        QTest::newRow("no secret, nothing given") << QByteArray() << QByteArray() << false;
    }
    void secretMatches()
    {
        QFETCH(QByteArray, secret);
        QFETCH(QByteArray, given);
        QFETCH(bool, matches);
        const QByteArray digest = secret.isEmpty() ? QByteArray() : iptv::secretDigest(secret);
        QCOMPARE(iptv::secretMatches(given, digest), matches);
    }

    void digestIsSha256()
    {
        QCOMPARE(iptv::secretDigest("abc").toHex(),
                 QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }
};

QTEST_GUILESS_MAIN(TestSecrets)
#include "tst_secrets.moc"
