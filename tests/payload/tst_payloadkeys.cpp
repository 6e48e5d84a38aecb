// Ed25519 signing keys: generate, save (0600 secret), load, sign and verify, and refused key files.

#include <payload/keys.h>

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

using namespace iptv::payload;

class TestPayloadKeys : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString path(const QString &name) const { return m_dir.filePath(name); }

    static mode_t modeOf(const QString &file)
    {
        struct stat st{};
        ::stat(QFile::encodeName(file).constData(), &st);
        return st.st_mode & 0777;
    }

    static bool writeFile(const QString &file, const QByteArray &content, QFile::Permissions permissions)
    {
        QFile f(file);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(content) != content.size())
            return false;
        f.close();
        return f.setPermissions(permissions);
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void roundTrip()
    {
        const SigningKey key = SigningKey::generate();
        QVERIFY(!key.isNull());
        QCOMPARE(key.keyId().size(), 16);
        QString error;
        QVERIFY2(key.save(path(u"a.key"_qs), &error), qPrintable(error));
        QVERIFY2(key.publicKey().save(path(u"a.pub"_qs), &error), qPrintable(error));
        QCOMPARE(modeOf(path(u"a.key"_qs)), mode_t(0600));
        QCOMPARE(modeOf(path(u"a.pub"_qs)), mode_t(0644));

        const SigningKey loaded = SigningKey::load(path(u"a.key"_qs), &error);
        QVERIFY2(!loaded.isNull(), qPrintable(error));
        QCOMPARE(loaded.keyId(), key.keyId());
        const PublicKey pub = PublicKey::load(path(u"a.pub"_qs), &error);
        QVERIFY2(!pub.isNull(), qPrintable(error));
        QCOMPARE(pub, key.publicKey());

        const QByteArray message = "the manifest";
        const QByteArray signature = loaded.sign(message);
        QCOMPARE(signature.size(), SigningKey::SignatureSize);
        QVERIFY(pub.verify(message, signature));
        QVERIFY(!pub.verify("the manifesT", signature));
        QByteArray bent = signature;
        bent[5] = char(bent[5] ^ 1);
        QVERIFY(!pub.verify(message, bent));
        QVERIFY(!SigningKey::generate().publicKey().verify(message, signature));
        QVERIFY(!pub.verify(message, signature.left(63)));
    }

    void deterministicFromSeed()
    {
        const QByteArray seed(32, '\x2a');
        const SigningKey a = SigningKey::fromSeed(seed);
        const SigningKey b = SigningKey::fromSeed(seed);
        QCOMPARE(a.keyId(), b.keyId());
        QCOMPARE(a.sign("x"), b.sign("x")); // Ed25519 signatures are deterministic
        QVERIFY(SigningKey::fromSeed(QByteArray(31, 'x')).isNull());
        QVERIFY(PublicKey::fromBytes(QByteArray(33, 'x')).isNull());
    }

    void refusesOverwrite()
    {
        const SigningKey key = SigningKey::generate();
        QString error;
        QVERIFY(key.save(path(u"b.key"_qs), &error));
        QVERIFY(!SigningKey::generate().save(path(u"b.key"_qs), &error));
        QVERIFY2(error.contains(u"exists"_qs), qPrintable(error));
        QCOMPARE(SigningKey::load(path(u"b.key"_qs)).keyId(), key.keyId()); // the first key is intact
    }

    void refusesReadableSecret()
    {
        const SigningKey key = SigningKey::generate();
        QString error;
        QVERIFY(key.save(path(u"c.key"_qs), &error));
        QVERIFY(QFile::setPermissions(path(u"c.key"_qs), QFile::ReadOwner | QFile::WriteOwner | QFile::ReadOther));
        QVERIFY(SigningKey::load(path(u"c.key"_qs), &error).isNull());
        QVERIFY2(error.contains(u"chmod 600"_qs), qPrintable(error));
    }

    void badFiles_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<bool>("secret");
        QTest::addColumn<QString>("expected");
        const QByteArray seed = QByteArray(32, 'k').toBase64();
        QTest::newRow("empty") << QByteArray() << true << u"not a key of this kind"_qs;
        QTest::newRow("public as secret") << QByteArray("iptv-ed25519-public:" + seed) << true << u"not a key of this kind"_qs;
        QTest::newRow("secret as public") << QByteArray("iptv-ed25519-secret:" + seed) << false << u"not a key of this kind"_qs;
        QTest::newRow("bad base64") << QByteArray("iptv-ed25519-secret:@@@@") << true << u"base64"_qs;
        QTest::newRow("short secret") << QByteArray("iptv-ed25519-secret:" + QByteArray(16, 'k').toBase64()) << true
                                      << u"32 bytes"_qs;
        QTest::newRow("short public") << QByteArray("iptv-ed25519-public:" + QByteArray(16, 'k').toBase64()) << false
                                      << u"32 bytes"_qs;
        QTest::newRow("two keys") << QByteArray("iptv-ed25519-secret:" + seed + "\niptv-ed25519-secret:" + seed) << true
                                  << u"more than one"_qs;
        QTest::newRow("too big") << QByteArray(10000, '#') << false << u"too big"_qs;
    }
    void badFiles()
    {
        QFETCH(QByteArray, content);
        QFETCH(bool, secret);
        QFETCH(QString, expected);
        const QString file = path(u"bad-%1"_qs.arg(QString::fromLatin1(QTest::currentDataTag())));
        QVERIFY(writeFile(file, content, QFile::ReadOwner | QFile::WriteOwner));
        QString error;
        const bool loaded = secret ? !SigningKey::load(file, &error).isNull() : !PublicKey::load(file, &error).isNull();
        QVERIFY(!loaded);
        QVERIFY2(error.contains(expected), qPrintable(error));
        QVERIFY2(error.contains(file), qPrintable(error)); // says which file
    }

    void commentsAllowed()
    {
        const SigningKey key = SigningKey::generate();
        const QByteArray text = "# a comment\n\n" + key.publicKey().toText() + "\n# trailing\n";
        QString error;
        const PublicKey pub = PublicKey::fromText(text, &error);
        QVERIFY2(!pub.isNull(), qPrintable(error));
        QCOMPARE(pub.keyId(), key.keyId());
    }

    void missingFile()
    {
        QString error;
        QVERIFY(PublicKey::load(path(u"nope.pub"_qs), &error).isNull());
        QVERIFY(error.contains(u"nope.pub"_qs));
        QVERIFY(loadPublicKeys({path(u"nope.pub"_qs)}, &error).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestPayloadKeys)
#include "tst_payloadkeys.moc"
