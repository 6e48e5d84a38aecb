// Hubris against a real control server (the controlserver program, auto-approving): the box
// enrols and comes online, and the operator's commands are carried out on it: tune by number,
// a message on screen (OK closes it), a screenshot returned as PNG, a tune to a channel the box
// does not have refused with the reason; and the server lost: the box says so and works on.
#include "controlserverprocess.h"
#include "testguide.h"

#include <hubrisapp.h>

#include <QJsonArray>
#include <QQuickWindow>

class TestHubrisLink : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    ControlServerProcess m_server;
    std::unique_ptr<HubrisApp> m_app;
    qint64 m_boxId = 0;

    QJsonObject json(const QByteArray &method, const QString &path, const QJsonObject &body = {})
    {
        return m_server.json(method, path, body);
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
        if (!QFile::exists(ControlServerProcess::binary()))
            QSKIP("the controlserver binary is not built");
        QVERIFY(m_server.start(m_dir.filePath(u"control"_qs)));

        HubrisOptions options;
        options.simulator = true;
        options.dataDir = m_dir.filePath(u"box"_qs);
        options.guideFile = testguide::write(m_dir);
        options.fixedNow = testguide::kDay0 + 3600;
        options.controlServer = m_server.boxUrl();
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
        m_app.reset(); // before the server goes
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
        const auto [status, png] = m_server.request("GET", u"/api/commands/%1/data"_qs.arg(c.value(u"id"_qs).toInteger()));
        QCOMPARE(status, 200);
        QVERIFY(png.startsWith("\x89PNG"));
        QImage image;
        QVERIFY(image.loadFromData(png, "PNG"));
        QCOMPARE(image.size(), m_app->window()->size());
    }

    void serverLost()
    {
        QVERIFY(!m_app->offline()->isOffline());
        m_server.stop();
        QTRY_VERIFY_WITH_TIMEOUT(m_app->offline()->isOffline(), 20000);
        QCOMPARE(m_app->offline()->text(), u"Control server unreachable"_qs);
        QVERIFY(m_app->window()->findChild<QObject *>(u"offlineIndicator"_qs)->property("visible").toBool());
        const int before = m_app->zapper()->current();
        QTest::keyClick(m_app->window(), Qt::Key_Up); // the box works on
        QVERIFY(m_app->zapper()->current() != before);
    }
};

QTEST_MAIN(TestHubrisLink)
#include "tst_hubrislink.moc"
