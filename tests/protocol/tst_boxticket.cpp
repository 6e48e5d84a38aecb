// Box identity tickets (protocol/boxticket.h): what verifies, and every way a ticket is refused
// with the reason: another key, tampered claims or signature, expired, issued in the future, for
// another audience, not a ticket at all.

#include <protocol/boxticket.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace iptv::protocol;
using iptv::payload::PublicKey;
using iptv::payload::SigningKey;

class TestBoxTicket : public QObject
{
    Q_OBJECT

private:
    static constexpr qint64 Now = 1'800'000'000;
    SigningKey m_key = SigningKey::generate();

    BoxTicket ticket(const QString &audience = QStringLiteral("diver")) const
    {
        BoxTicket t;
        t.boxId = QStringLiteral("b42");
        t.serial = QStringLiteral("STB-0042");
        t.audience = audience;
        t.issuedAt = Now;
        t.expiresAt = Now + 3600;
        return t;
    }
    /// The ticket with its claims replaced by `claims`, the signature kept.
    static QByteArray withClaims(const QByteArray &text, const QJsonObject &claims)
    {
        const QByteArray encoded = QJsonDocument(claims).toJson(QJsonDocument::Compact)
                                       .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
        return encoded + text.mid(text.indexOf('.'));
    }

private Q_SLOTS:
    void verifies()
    {
        const QByteArray text = ticket().sign(m_key);
        QString error;
        const auto t = BoxTicket::verify(text, {SigningKey::generate().publicKey(), m_key.publicKey()}, Now + 10,
                                         QStringLiteral("diver"), &error);
        QVERIFY2(t, qPrintable(error));
        QCOMPARE(t->boxId, QStringLiteral("b42"));
        QCOMPARE(t->serial, QStringLiteral("STB-0042"));
        QCOMPARE(t->expiresAt, Now + 3600);
        QCOMPARE(t->keyId, m_key.keyId());
        // Review: a ticket naming no audience was good for every server (and the box chose its
        // audience): one server could replay a box's ticket at another. Only a verifier that
        // asks for no audience takes it.
        QString why;
        QVERIFY(!BoxTicket::verify(ticket({}).sign(m_key), {m_key.publicKey()}, Now, QStringLiteral("diver"), &why));
        QVERIFY2(why.contains(u"names no audience"), qPrintable(why));
        QVERIFY(BoxTicket::verify(ticket({}).sign(m_key), {m_key.publicKey()}, Now));
    }

    void refused_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<qint64>("now");
        QTest::addColumn<QString>("reason");
        const QByteArray good = ticket().sign(m_key);
        const QJsonObject claims = QJsonDocument::fromJson(
            QByteArray::fromBase64(good.left(good.indexOf('.')), QByteArray::Base64UrlEncoding)).object();
        QJsonObject otherBox = claims;
        otherBox.insert(QStringLiteral("box"), QStringLiteral("b43"));
        QJsonObject longer = claims;
        longer.insert(QStringLiteral("exp"), Now + 86400 * 365);
        QByteArray flipped = good;
        flipped[flipped.size() - 3] = flipped[flipped.size() - 3] == 'A' ? 'B' : 'A';

        QTest::newRow("tampered box") << withClaims(good, otherBox) << Now << "does not verify";
        QTest::newRow("tampered expiry") << withClaims(good, longer) << Now << "does not verify";
        QTest::newRow("tampered signature") << flipped << Now << "does not verify";
        QTest::newRow("other key") << ticket().sign(SigningKey::generate()) << Now << "does not trust";
        QTest::newRow("expired") << good << Now + 3600 + 61 << "expired 61 s ago";
        QTest::newRow("future") << good << Now - 120 << "in the future";
        QTest::newRow("other audience") << ticket(QStringLiteral("iptvnext")).sign(m_key) << Now << "is for \"iptvnext\"";
        QTest::newRow("empty") << QByteArray() << Now << "no ticket";
        QTest::newRow("no dot") << QByteArray("abc") << Now << "expected <claims>.<signature>";
        QTest::newRow("two dots") << good + ".x" << Now << "expected <claims>.<signature>";
        QTest::newRow("short signature") << good.left(good.indexOf('.') + 10) << Now << "not 64 bytes";
        QTest::newRow("claims not json") << QByteArray("bm90IGpzb24") + good.mid(good.indexOf('.')) << Now << "not a JSON object";
        QTest::newRow("oversized") << QByteArray(5000, 'a') + good << Now << "over the 2048-byte limit";
        QJsonObject noSerial = claims;
        noSerial.remove(QStringLiteral("serial"));
        QTest::newRow("no serial") << withClaims(good, noSerial) << Now << "lacks a box, a serial";
    }
    void refused()
    {
        QFETCH(QByteArray, text);
        QFETCH(qint64, now);
        QFETCH(QString, reason);
        QString error;
        QVERIFY(!BoxTicket::verify(text, {m_key.publicKey()}, now, QStringLiteral("diver"), &error));
        QVERIFY2(error.contains(reason), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TestBoxTicket)
#include "tst_boxticket.moc"
