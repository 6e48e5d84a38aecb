// diver's BoxAuth against a control server stand-in (its GET /api/ticket-key): a key change
// reaches diver with the first ticket signed by the new key, not at the next hourly fetch, and
// a control server that is down costs one request per retry, however many ticks come meanwhile.

#include <boxauth.h>

#include <protocol/boxticket.h>

#include <QDateTime>
#include <QElapsedTimer>
#include <QHttpServer>
#include <QHttpServerResponse>
#include <QSignalSpy>
#include <QTest>

using namespace iptv;
using namespace iptv::diver;
using payload::SigningKey;

class TestDiverAuth : public QObject
{
    Q_OBJECT

    /// The control server's stand-in: serves `m_key`'s public half, or 503 while it is unset.
    struct ControlServer
    {
        QHttpServer http;
        std::optional<SigningKey> key;
        int asked = 0;
        quint16 port = 0;

        ControlServer()
        {
            http.route(u"/api/ticket-key"_qs, [this] {
                ++asked;
                if (!key)
                    return QHttpServerResponse(QHttpServerResponder::StatusCode::ServiceUnavailable);
                return QHttpServerResponse("text/plain", key->publicKey().toText());
            });
            port = http.listen(QHostAddress::LocalHost, 0);
        }
        QUrl url() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)); }
    };

    static QByteArray ticketSignedBy(const SigningKey &key, qint64 now)
    {
        protocol::BoxTicket t;
        t.boxId = u"b1"_qs;
        t.serial = u"STB-1"_qs;
        t.audience = u"diver"_qs;
        t.issuedAt = now;
        t.expiresAt = now + 600;
        return t.sign(key);
    }

private Q_SLOTS:
    // Review: after the control server changed its key, diver refused every ticket until its
    // hourly fetch. A ticket naming a key diver does not hold now fetches the key at once (once:
    // another such ticket within the retry interval does not ask again).
    void rotatedKeyIsFetchedOnItsFirstTicket()
    {
        ControlServer control;
        QVERIFY(control.port != 0);
        control.key = SigningKey::generate();
        BoxAuth auth;
        QSignalSpy changed(&auth, &BoxAuth::keysChanged);
        auth.fetchFrom(control.url(), 3600 * 1000);
        QVERIFY(changed.wait(10000));
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        QString why;
        QVERIFY2(auth.verifyTicket(ticketSignedBy(*control.key, now), now, &why), qPrintable(why));
        QCOMPARE(control.asked, 1);

        control.key = SigningKey::generate(); // the control server's key changes
        const QByteArray rotated = ticketSignedBy(*control.key, now);
        QVERIFY(!auth.verifyTicket(rotated, now, &why));
        QVERIFY2(why.contains(u"retry shortly"), qPrintable(why));
        QVERIFY(changed.wait(10000));
        QVERIFY2(auth.verifyTicket(rotated, now, &why), qPrintable(why));
        QCOMPARE(control.asked, 2);

        // A ticket of a key nobody has (a forgery, or an old box): no fetch for every one.
        const SigningKey stranger = SigningKey::generate();
        for (int i = 0; i < 5; ++i)
            QVERIFY(!auth.verifyTicket(ticketSignedBy(stranger, now), now, &why));
        QTest::qWait(300); // the queued fetch requests have run, if any were made
        QCOMPARE(control.asked, 2);
    }

    // Review: while diver held no key, every hourly tick started another 10 s retry chain, so the
    // requests to a control server that was down grew with every tick. Now there is one retry.
    void oneRetryWhileTheControlServerIsDown()
    {
        ControlServer control;
        QVERIFY(control.port != 0);
        BoxAuth auth;
        auth.fetchFrom(control.url(), 100, 400); // ticks every 100 ms stand in for the hours
        QTRY_VERIFY_WITH_TIMEOUT(control.asked >= 10, 10000);
        // With a chain per tick, 10 ticks make ~10 requests per retry interval; one chain, one.
        // Counted against the time that really passed: a loaded machine's qWait(1000) lasts longer.
        const int before = control.asked;
        QElapsedTimer waited;
        waited.start();
        QTest::qWait(1000);
        const int during = control.asked - before;
        const qint64 waitedMs = waited.elapsed();
        const qint64 oneChain = waitedMs / 100 + waitedMs / 400 + 2; // every tick, one retry, rounding
        QVERIFY2(during <= oneChain, qPrintable(QStringLiteral("%1 requests in %2 ms").arg(during).arg(waitedMs)));

        control.key = SigningKey::generate();
        QSignalSpy changed(&auth, &BoxAuth::keysChanged);
        QVERIFY(changed.wait(10000));
        QVERIFY(auth.hasKeys());
    }
};

QTEST_GUILESS_MAIN(TestDiverAuth)
#include "tst_diverauth.moc"
