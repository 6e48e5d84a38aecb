// The box's credentials on disk: a 32-byte secret made once, a token, both private (0600),
// surviving a restart; damaged files reported, not trusted.

#include <boxlink/credentialstore.h>

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace iptv::boxlink;

namespace {
bool isPrivate(const QString &path)
{
    const QFileDevice::Permissions p = QFile::permissions(path);
    const QFileDevice::Permissions others = QFileDevice::ReadGroup | QFileDevice::WriteGroup | QFileDevice::ExeGroup
                                            | QFileDevice::ReadOther | QFileDevice::WriteOther | QFileDevice::ExeOther;
    return (p & QFileDevice::ReadOwner) && (p & QFileDevice::WriteOwner) && !(p & others);
}
} // namespace

class TestCredentialStore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void secretIsMadeOnceAndPrivate()
    {
        QTemporaryDir dir;
        const QString state = dir.filePath(QStringLiteral("state"));
        QByteArray secret;
        {
            FileCredentialStore store(state);
            QVERIFY(store.token().isEmpty());
            secret = store.secret();
            QCOMPARE(secret.size(), CredentialStore::SecretSize);
            QCOMPARE(store.secret(), secret);
            QVERIFY(isPrivate(store.secretPath()));
        }
        FileCredentialStore again(state);
        QCOMPARE(again.secret(), secret);
        QVERIFY(again.lastError().isEmpty());
        QVERIFY(FileCredentialStore(dir.filePath(QStringLiteral("other"))).secret() != secret);
    }

    void tokenRoundTripAndClear()
    {
        QTemporaryDir dir;
        {
            FileCredentialStore store(dir.path());
            QVERIFY(store.setToken(QByteArray("\x01\x02token\xff", 8)));
            QVERIFY(isPrivate(store.tokenPath()));
        }
        {
            FileCredentialStore store(dir.path());
            QCOMPARE(store.token(), QByteArray("\x01\x02token\xff", 8));
            QVERIFY(store.setToken({}));
            QVERIFY(!QFile::exists(store.tokenPath()));
        }
        QVERIFY(FileCredentialStore(dir.path()).token().isEmpty());
    }

    void damagedFilesAreReported()
    {
        QTemporaryDir dir;
        QFile token(dir.filePath(QStringLiteral("token")));
        QVERIFY(token.open(QIODevice::WriteOnly));
        token.write("not base64 !!!\n");
        token.close();
        QFile secret(dir.filePath(QStringLiteral("secret")));
        QVERIFY(secret.open(QIODevice::WriteOnly));
        secret.write(QByteArray("short").toBase64());
        secret.close();

        FileCredentialStore store(dir.path());
        QVERIFY(store.token().isEmpty());
        QVERIFY(store.lastError().contains(QStringLiteral("token")));
        // A wrong-sized secret is replaced (the box will need approval again), never used.
        const QByteArray s = store.secret();
        QCOMPARE(s.size(), CredentialStore::SecretSize);
        QCOMPARE(FileCredentialStore(dir.path()).secret(), s);
    }

    void unwritableDirectoryKeepsTheSessionGoing()
    {
        QTemporaryDir dir;
        QFile blocker(dir.filePath(QStringLiteral("file")));
        QVERIFY(blocker.open(QIODevice::WriteOnly));
        blocker.close();
        // The state "directory" is a file: nothing can be stored, the token still holds in memory.
        FileCredentialStore store(blocker.fileName());
        QString error;
        QVERIFY(!store.setToken("abc", &error));
        QVERIFY(error.contains(blocker.fileName()));
        QCOMPARE(store.token(), QByteArray("abc"));
        QCOMPARE(store.secret().size(), CredentialStore::SecretSize);
        QVERIFY(!store.lastError().isEmpty());
    }

    void memoryStore()
    {
        MemoryCredentialStore store;
        const QByteArray s = store.secret();
        QCOMPARE(s.size(), CredentialStore::SecretSize);
        QCOMPARE(store.secret(), s);
        QVERIFY(store.setToken("t"));
        QCOMPARE(store.token(), QByteArray("t"));
    }
};

QTEST_GUILESS_MAIN(TestCredentialStore)
#include "tst_credentialstore.moc"
