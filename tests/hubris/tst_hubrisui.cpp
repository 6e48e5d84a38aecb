// Hubris driven by remote keys alone, as a viewer would: live TV, digits, the previous-channel
// key, the channel list with a favourite, the guide grid by programme, channel and day, the
// details page, volume, high contrast and standby. Each step checks what the app shows (the page,
// the channel, the focused programme) and saves a screenshot of the window.
#include "testguide.h"

#include <hubrisapp.h>

#include <QImage>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTest>

class TestHubrisUi : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<HubrisApp> m_app;
    QQuickWindow *m_window = nullptr;
    QString m_shots;
    int m_shotCount = 0;

    QString page() const { return m_window->property("page").toString(); }
    void press(Qt::Key key) { QTest::keyClick(m_window, key); }
    void shot(const QString &name)
    {
        const QImage image = m_window->grabWindow();
        QVERIFY(!image.isNull());
        // Not a blank frame: something was painted.
        const QRgb corner = image.pixel(image.width() / 2, image.height() / 2);
        bool varied = false;
        for (int y = 0; y < image.height() && !varied; y += 7)
            for (int x = 0; x < image.width() && !varied; x += 7)
                varied = image.pixel(x, y) != corner;
        QVERIFY2(varied, qPrintable(name + u" is a blank frame"_qs));
        QVERIFY(image.save(QStringLiteral("%1/hubris-%2-%3.png").arg(m_shots).arg(++m_shotCount, 2, 10, QLatin1Char('0')).arg(name)));
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_shots = qEnvironmentVariable("IPTV_SCREENSHOT_DIR", m_dir.filePath(QStringLiteral("shots")));
        QDir().mkpath(m_shots);
        HubrisOptions options;
        options.simulator = true;
        options.dataDir = m_dir.filePath(QStringLiteral("box"));
        options.guideFile = testguide::write(m_dir);
        options.fixedNow = testguide::kDay0 + 5 * 3600 + 900; // 05:15 on day 0
        m_app = std::make_unique<HubrisApp>(options);
        QVERIFY(m_app->start());
        m_window = m_app->window();
        QVERIFY(m_window);
        QTRY_VERIFY_WITH_TIMEOUT(m_app->store()->isLoaded(), 5000);
        QTRY_COMPARE(m_app->zapper()->current(), 0); // the first channel is tuned at start
        m_window->requestActivate();
        QVERIFY(QTest::qWaitForWindowExposed(m_window));
    }

    void liveAndZapping()
    {
        QCOMPARE(page(), u"live"_qs);
        shot(u"live"_qs);
        press(Qt::Key_Down); // channel down wraps to 101
        QCOMPARE(m_app->zapper()->current(), 5);
        press(Qt::Key_1);
        press(Qt::Key_0);
        QCOMPARE(m_app->zapper()->digits(), u"10"_qs);
        shot(u"digits"_qs);
        press(Qt::Key_Return); // OK while typing tunes 10
        QCOMPARE(m_app->zapper()->current(), 3);
        press(Qt::Key_P); // previous channel
        QCOMPARE(m_app->zapper()->current(), 5);
        press(Qt::Key_2); // 2: nothing longer, at once
        QCOMPARE(m_app->zapper()->current(), 1);
        press(Qt::Key_I);
        shot(u"info-banner"_qs);
    }

    void channelList()
    {
        press(Qt::Key_Return);
        QCOMPARE(page(), u"channels"_qs);
        press(Qt::Key_Down);
        press(Qt::Key_Down);
        press(Qt::Key_F3); // yellow: favourite
        QCOMPARE(m_app->channels()->favourites(), QSet<QString>{u"ch10.test"_qs});
        shot(u"channel-list"_qs);
        press(Qt::Key_Return); // watch it
        QCOMPARE(page(), u"live"_qs);
        QCOMPARE(m_app->zapper()->current(), 3);
        press(Qt::Key_Return);
        press(Qt::Key_Escape); // back closes the list, the channel stays
        QCOMPARE(page(), u"live"_qs);
        QCOMPARE(m_app->zapper()->current(), 3);
    }

    void guideGrid()
    {
        press(Qt::Key_G);
        QCOMPARE(page(), u"guide"_qs);
        QObject *grid = m_window->findChild<QObject *>(u"guidePage"_qs);
        QVERIFY(grid);
        auto title = [grid] { return grid->property("focusedAiring").toMap().value(u"title"_qs).toString(); };
        QCOMPARE(title(), u"Channel 10 h5"_qs); // on the tuned channel, now
        shot(u"guide"_qs);
        press(Qt::Key_Right);
        press(Qt::Key_Right);
        QCOMPARE(title(), u"Channel 10 h7"_qs);
        press(Qt::Key_Left);
        QCOMPARE(title(), u"Channel 10 h6"_qs);
        press(Qt::Key_Down);
        QCOMPARE(title(), u"Channel 11 h6"_qs);
        press(Qt::Key_F2); // green: a day later
        QCOMPARE(title(), u"Channel 11 h30"_qs);
        shot(u"guide-next-day"_qs);
        press(Qt::Key_F3); // yellow: back to now
        QCOMPARE(title(), u"Channel 10 h5"_qs);
        press(Qt::Key_Right); // h6, later today: a reminder
        press(Qt::Key_Return);
        QCOMPARE(page(), u"details"_qs);
        press(Qt::Key_F1); // red: remind me
        QCOMPARE(m_app->reminders()->rowCount(), 1);
        shot(u"details"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"guide"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
    }

    void reminderPrompt()
    {
        // The programme set in the guide is about to start: the prompt comes, OK watches it.
        m_app->zapper()->tune(0);
        m_app->store()->setFixedNow(testguide::kDay0 + 6 * 3600 - 30);
        m_app->reminders()->check();
        QVERIFY(!m_window->property("reminder").isNull());
        shot(u"reminder"_qs);
        press(Qt::Key_Return);
        QCOMPARE(m_app->zapper()->current(), 3);
        QVERIFY(m_window->property("reminder").isNull());
        m_app->store()->setFixedNow(testguide::kDay0 + 5 * 3600 + 900);
    }

    void menuSearchSettings()
    {
        press(Qt::Key_M);
        QCOMPARE(page(), u"menu"_qs);
        shot(u"menu"_qs);
        press(Qt::Key_Down);
        press(Qt::Key_Down);
        press(Qt::Key_Return); // Search
        QCOMPARE(page(), u"search"_qs);
        // Typed on the on-screen keyboard (7 keys a row: A-Z, then 1-9, 0) with arrows and OK:
        // down to H, OK; down three rows to 3, right six keys to 9, OK.
        press(Qt::Key_Down);
        press(Qt::Key_Return);
        for (int i = 0; i < 3; ++i)
            press(Qt::Key_Down);
        for (int i = 0; i < 6; ++i)
            press(Qt::Key_Right);
        press(Qt::Key_Return);
        QCOMPARE(m_app->search()->query(), u"h9"_qs);
        press(Qt::Key_F1); // red deletes
        QCOMPARE(m_app->search()->query(), u"h"_qs);
        press(Qt::Key_2); // a remote's digit types it
        QCOMPARE(m_app->search()->query(), u"h2"_qs);
        QVERIFY(m_app->search()->rowCount() > 0);
        QVERIFY(m_app->search()->total() >= 6); // "h2..." on every channel
        shot(u"search"_qs);
        // To the results, and open one.
        for (int i = 0; i < 4; ++i)
            press(Qt::Key_Down);
        QObject *searchPage = m_window->findChild<QObject *>(u"searchPage"_qs);
        QVERIFY(searchPage && searchPage->property("inResults").toBool());
        press(Qt::Key_Return);
        QCOMPARE(page(), u"details"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"search"_qs); // back where it came from
        press(Qt::Key_Escape);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);

        press(Qt::Key_M);
        for (int i = 0; i < 3; ++i)
            press(Qt::Key_Down);
        press(Qt::Key_Return);
        QCOMPARE(page(), u"settings"_qs);
        shot(u"settings"_qs);
        press(Qt::Key_Down); // volume
        const int volume = m_app->hal()->volume();
        press(Qt::Key_Left);
        QCOMPARE(m_app->hal()->volume(), volume - 5);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
    }

    void volumeContrastStandby()
    {
        const int volume = m_app->hal()->volume();
        press(Qt::Key_Plus);
        QCOMPARE(m_app->hal()->volume(), volume + 5);
        press(Qt::Key_U);
        QVERIFY(m_app->hal()->isMuted());
        shot(u"muted"_qs);
        press(Qt::Key_F4); // blue: high contrast
        press(Qt::Key_G);
        shot(u"guide-high-contrast"_qs);
        press(Qt::Key_F4);
        press(Qt::Key_Escape);
        press(Qt::Key_F12); // power: standby
        QVERIFY(m_app->hal()->isStandby());
        press(Qt::Key_Down); // ignored in standby
        QCOMPARE(m_app->zapper()->current(), 3);
        press(Qt::Key_F12);
        QVERIFY(!m_app->hal()->isStandby());
        QCOMPARE(m_app->hal()->player()->source().toString(), u"http://127.0.0.1:9/live/ch10.ts"_qs);
    }
};

QTEST_MAIN(TestHubrisUi)
#include "tst_hubrisui.moc"
