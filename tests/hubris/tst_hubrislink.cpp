// Hubris against a real control server (the controlserver program, auto-approving): the box
// enrols and comes online, and the operator's commands are carried out on it: tune by number,
// a message on screen (OK closes it), a screenshot returned as PNG, a tune to a channel the box
// does not have refused with the reason.
#include "testguide.h"

#include <hubrisapp.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

namespace {
const QString kPassword = QStringLiteral("hubris-link-test-password");

quint16 freePort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}
} // namespace

class TestHubrisLink : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QProcess m_server;
    quint16 m_boxPort = 0, m_httpPort = 0;
    QNetworkAccessManager m_nam;
    QByteArray m_token;
    std::unique_ptr<HubrisApp> m_app;
    qint64 m_boxId = 0;

    QPair<int, QByteArray> request(const QByteArray &method, const QString &path, const QJsonObject &body = {})
    {
        QNetworkRequest r(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_httpPort).arg(path)));
        r.setRawHeader("Content-Type", "application/json");
        if (!m_token.isEmpty())
            r.setRawHeader("Authorization", "Bearer " + m_token);
        QNetworkReply *reply = m_nam.sendCustomRequest(r, method, body.isEmpty() ? QByteArray() : QJsonDocument(body).toJson());
        QSignalSpy done(reply, &QNetworkReply::finished);
        done.wait(10000);
        reply->deleteLater();
        return {reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll()};
    }
    QJsonObject json(const QByteArray &method, const QString &path, const QJsonObject &body = {})
    {
        return QJsonDocument::fromJson(request(method, path, body).second).object();
    }
    /// Sends a command to the box and waits until it finished; returns the command.
    QJsonObject command(const QString &kind, const QJsonObject &args)
    {
        const QJsonObject sent = json("POST", u"/api/commands"_qs,
                                      {{u"kind"_qs, kind}, {u"args"_qs, args}, {u"target"_qs, QJsonObject{{u"box"_qs, m_boxId}}}});
        const qint64 id = sent.value(u"commands"_qs).toArray().first().toInteger();
        // The outcome is the server's: asked for until it is there.
        QJsonObject c;
        for (QDeadlineTimer deadline(10000); !deadline.hasExpired(); QTest::qWait(50)) {
            c = json("GET", u"/api/commands/%1"_qs.arg(id));
            if (c.contains(u"finished"_qs))
                break;
        }
        return c;
    }

private Q_SLOTS:
    void initTestCase()
    {
        const QString binary = QStringLiteral(IPTV_BINARY_DIR "/server/controlserver/controlserver");
        if (!QFile::exists(binary))
            QSKIP("the controlserver binary is not built");
        m_boxPort = freePort();
        m_httpPort = freePort();
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"IPTV_CONTROL_ADMIN_PASSWORD"_qs, kPassword);
        m_server.setProcessEnvironment(env);
        m_server.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_server.start(binary, {u"--bind"_qs, u"127.0.0.1"_qs, u"--box-port"_qs, QString::number(m_boxPort), u"--http-port"_qs,
                                QString::number(m_httpPort), u"--operator-ws-port"_qs, QString::number(freePort()),
                                u"--data-dir"_qs, m_dir.filePath(u"control"_qs), u"--auto-approve"_qs});
        QVERIFY(m_server.waitForStarted(10000));
        QTRY_VERIFY_WITH_TIMEOUT(request("GET", u"/healthz"_qs).first == 200, 20000);
        m_token = json("POST", u"/api/login"_qs, {{u"account"_qs, u"admin"_qs}, {u"password"_qs, kPassword}})
                      .value(u"token"_qs).toString().toUtf8();
        QVERIFY(!m_token.isEmpty());

        HubrisOptions options;
        options.simulator = true;
        options.dataDir = m_dir.filePath(u"box"_qs);
        options.guideFile = testguide::write(m_dir);
        options.fixedNow = testguide::kDay0 + 3600;
        options.controlServer = QUrl(u"ws://127.0.0.1:%1/box"_qs.arg(m_boxPort));
        options.serial = u"HUB-LINK-1"_qs;
        m_app = std::make_unique<HubrisApp>(options);
        QVERIFY(m_app->start());
        QTRY_VERIFY_WITH_TIMEOUT(m_app->link()->isOnline(), 20000);
        const QJsonArray boxes = json("GET", u"/api/boxes?online=true"_qs).value(u"items"_qs).toArray();
        QCOMPARE(boxes.size(), 1);
        QCOMPARE(boxes.first().toObject().value(u"serial"_qs).toString(), u"HUB-LINK-1"_qs);
        QCOMPARE(boxes.first().toObject().value(u"model"_qs).toString(), u"HUBRIS-SIM"_qs);
        m_boxId = boxes.first().toObject().value(u"id"_qs).toInteger();
    }

    void cleanupTestCase()
    {
        m_app.reset();
        if (m_server.state() == QProcess::Running) {
            m_server.terminate();
            m_server.waitForFinished(10000);
        }
    }

    void tune()
    {
        const QJsonObject c = command(u"tune"_qs, {{u"channel"_qs, 10}});
        QCOMPARE(c.value(u"state"_qs).toString(), u"succeeded"_qs);
        QCOMPARE(m_app->zapper()->current(), 3);
        QVERIFY(c.value(u"resultText"_qs).toString().contains(u"Channel 10"_qs));

        const QJsonObject refused = command(u"tune"_qs, {{u"channel"_qs, u"no-such-channel"_qs}});
        QCOMPARE(refused.value(u"state"_qs).toString(), u"failed"_qs);
        QVERIFY(refused.value(u"resultText"_qs).toString().contains(u"no channel \"no-such-channel\""_qs));
        QCOMPARE(m_app->zapper()->current(), 3);
    }

    void message()
    {
        QQuickWindow *window = m_app->window();
        QVERIFY(!window->property("messageShown").toBool());
        const QJsonObject c = command(u"message"_qs, {{u"text"_qs, u"Maintenance tonight at 02:00"_qs}, {u"seconds"_qs, 0}});
        QCOMPARE(c.value(u"state"_qs).toString(), u"succeeded"_qs);
        QTRY_VERIFY(window->property("messageShown").toBool());
        QTest::keyClick(window, Qt::Key_Return); // OK closes it
        QVERIFY(!window->property("messageShown").toBool());
    }

    void screenshot()
    {
        const QJsonObject c = command(u"screenshot"_qs, {});
        QCOMPARE(c.value(u"state"_qs).toString(), u"succeeded"_qs);
        QCOMPARE(c.value(u"resultMime"_qs).toString(), u"image/png"_qs);
        const auto [status, png] = request("GET", u"/api/commands/%1/data"_qs.arg(c.value(u"id"_qs).toInteger()));
        QCOMPARE(status, 200);
        QVERIFY(png.startsWith("\x89PNG"));
        QImage image;
        QVERIFY(image.loadFromData(png, "PNG"));
        QCOMPARE(image.size(), m_app->window()->size());
    }
};

QTEST_MAIN(TestHubrisLink)
#include "tst_hubrislink.moc"
