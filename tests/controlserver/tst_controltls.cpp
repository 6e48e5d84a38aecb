// Boxes over TLS: with a certificate and key configured the box port speaks wss:// only. A box
// that trusts the certificate enrolls and gets its token over TLS; a plain ws:// client and a
// client that does not trust the certificate get no session. The certificate is made for the
// test with the openssl tool (skipped when it is missing) and is valid for 127.0.0.1.
#include "testbox.h"

#include <QProcess>
#include <QSslCertificate>
#include <QSslCipher>
#include <QSslConfiguration>
#include <QSslError>
#include <QStandardPaths>

using namespace testutil;
using namespace Qt::StringLiterals;

class TstControlTls : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    ControlConfig m_config;
    std::unique_ptr<ControlServer> m_server;
    QSslCertificate m_certificate;

    QUrl url(const QString &scheme) const
    {
        return QUrl(u"%1://127.0.0.1:%2/box"_s.arg(scheme).arg(m_server->boxPort()));
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (!QSslSocket::supportsSsl())
            QSKIP("no TLS backend in this Qt");
        const QString openssl = QStandardPaths::findExecutable(u"openssl"_s);
        if (openssl.isEmpty())
            QSKIP("the openssl tool is not installed (it makes the test certificate)");
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(openssl, {u"req"_s, u"-x509"_s, u"-newkey"_s, u"ec"_s, u"-pkeyopt"_s, u"ec_paramgen_curve:prime256v1"_s,
                          u"-nodes"_s, u"-days"_s, u"2"_s, u"-subj"_s, u"/CN=controlserver-test"_s, u"-addext"_s,
                          u"subjectAltName=IP:127.0.0.1"_s, u"-keyout"_s, m_dir.filePath(u"key.pem"_s), u"-out"_s,
                          m_dir.filePath(u"cert.pem"_s)});
        QVERIFY(p.waitForFinished(30000));
        QVERIFY2(p.exitCode() == 0, p.readAll().constData());
        const auto certs = QSslCertificate::fromPath(m_dir.filePath(u"cert.pem"_s));
        QCOMPARE(certs.size(), 1);
        m_certificate = certs.first();

        m_config = testConfig(m_dir);
        m_config.autoApprove = true;
        m_config.tlsCertificate = m_dir.filePath(u"cert.pem"_s);
        m_config.tlsKey = m_dir.filePath(u"key.pem"_s);
        m_server = std::make_unique<ControlServer>(m_config);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }

    void enrollOverTls()
    {
        QWebSocket ws;
        QSslConfiguration ssl = QSslConfiguration::defaultConfiguration();
        ssl.setCaCertificates({m_certificate}); // trust exactly the server's certificate
        ws.setSslConfiguration(ssl);
        QSignalSpy connected(&ws, &QWebSocket::connected);
        QSignalSpy frames(&ws, &QWebSocket::binaryMessageReceived);
        ws.open(url(u"wss"_s));
        QVERIFY(connected.wait(10000));
        QVERIFY(ws.sslConfiguration().sessionCipher().isNull() == false);

        Hello h;
        h.serial = u"TLS-1"_s;
        h.mac = u"02:00:00:00:00:09"_s;
        h.secret = QByteArray(32, 't');
        ws.sendBinaryMessage(encode(Message(MessageType::Hello, 1, h.toBody())));
        QVERIFY(frames.wait(10000));
        const DecodeResult r = decode(frames.first().first().toByteArray());
        QVERIFY2(r.ok(), qPrintable(r.errorText));
        QCOMPARE(r.message.type, MessageType::Welcome);
        QString e;
        const auto w = Welcome::fromBody(r.message.body, &e);
        QVERIFY2(w, qPrintable(e));
        QCOMPARE(w->state, u"approved"_s);
        QVERIFY(!w->token.isEmpty());
        QTRY_COMPARE(m_server->fleet().onlineCount(), 1);
        ws.close();
    }

    void untrustedAndPlainClientsGetNoSession()
    {
        QWebSocket untrusted; // the default trust store does not know a self-signed test certificate
        QSignalSpy sslErrors(&untrusted, &QWebSocket::sslErrors);
        QSignalSpy untrustedGone(&untrusted, &QWebSocket::disconnected);
        untrusted.open(url(u"wss"_s));
        QVERIFY(untrustedGone.wait(10000));
        QVERIFY(sslErrors.count() >= 1);

        QWebSocket plain;
        QSignalSpy plainConnected(&plain, &QWebSocket::connected);
        QSignalSpy plainGone(&plain, &QWebSocket::disconnected);
        plain.open(url(u"ws"_s));
        QVERIFY(plainGone.wait(15000));
        QCOMPARE(plainConnected.count(), 0);
    }
};

QTEST_GUILESS_MAIN(TstControlTls)
#include "tst_controltls.moc"
