// Hubris driven by remote keys alone, as a viewer would: live TV, digits, the previous-channel
// key, the channel list with a favourite, the guide grid by programme, channel and day, the
// details page, volume, high contrast and standby; the guide's favourites filter; parental
// control (five wrong PINs and the lockout, the PIN, channel and rating locks, a locked channel
// that does not play, locked content hidden from the grid until the PIN); the settings (languages,
// refresh, a server typed on the on-screen keyboard, refresh now against a dead server: offline);
// the diagnostics overlay; the software update screen; the pages other than live TV created after
// the start, or at once when opened before. Each step checks what the app shows (the page, the
// channel, the focused programme) and saves a screenshot of the window.
#include "testguide.h"

#include <hubrisapp.h>

#include <QImage>
#include <QQuickItem>
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

    qint64 m_wallMs = 1767600000000; ///< the parental lockout's clock

    QString page() const { return m_window->property("page").toString(); }
    void press(Qt::Key key) { QTest::keyClick(m_window, key); }
    void type(const QString &digits)
    {
        for (QChar c : digits)
            press(Qt::Key(Qt::Key_0 + c.digitValue()));
    }
    QObject *item(const QString &name) const { return m_window->findChild<QObject *>(name); }
    /// For a screenshot of a page: the toasts of earlier steps (the test streams do not play)
    /// and the volume OSD go at once instead of in their few seconds.
    void calm()
    {
        item(u"toast"_qs)->setProperty("opacity", 0);
        item(u"volumeOsd"_qs)->setProperty("opacity", 0);
        QTRY_VERIFY(!item(u"toast"_qs)->property("visible").toBool() && !item(u"volumeOsd"_qs)->property("visible").toBool());
    }
    bool pinShown() const { return item(u"pinPrompt"_qs)->property("shown").toBool(); }
    QVariantMap focusedAiring() const { return item(u"guidePage"_qs)->property("focusedAiring").toMap(); }
    /// Guide and server text is shown as it is: a title with markup (an <img> would make every box
    /// fetch its URL) never becomes rich text. Checks every text item of the window showing the
    /// test guide's sub-titles ("<b>Part N</b> & more").
    void markupShownAsText()
    {
        int shown = 0;
        const auto texts = m_window->findChildren<QQuickItem *>();
        for (QQuickItem *t : texts) {
            if (!t->inherits("QQuickText") || !t->isVisible())
                continue;
            const QString text = t->property("text").toString();
            if (!text.contains(u"<b>Part"))
                continue;
            ++shown;
            QVERIFY2(t->property("textFormat").toInt() == 0 /* Text.PlainText */,
                     qPrintable(u"shown as rich text: "_qs + text));
        }
        QVERIFY2(shown > 0, "no sub-title shown");
    }
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
        QCoreApplication::setApplicationVersion(u"0.1.0"_qs); // for the about box
        m_shots = qEnvironmentVariable("IPTV_SCREENSHOT_DIR", m_dir.filePath(QStringLiteral("shots")));
        QDir().mkpath(m_shots);
        HubrisOptions options;
        options.simulator = true;
        options.dataDir = m_dir.filePath(QStringLiteral("box"));
        options.guideFile = testguide::write(m_dir);
        options.fixedNow = testguide::kDay0 + 5 * 3600 + 900; // 05:15 on day 0
        m_app = std::make_unique<HubrisApp>(options);
        m_app->parental()->setClock([this] { return m_wallMs; });
        m_app->diagnostics()->setAvailable(true); // the overlay in any build
        QVERIFY(m_app->start());
        m_window = m_app->window();
        QVERIFY(m_window);
        // Only live TV is created before the first picture; a page needed sooner is created
        // when it is opened.
        const QStringList lazy{u"guidePage"_qs, u"searchPage"_qs, u"settingsPage"_qs, u"recordingsPage"_qs};
        for (const QString &name : lazy)
            QVERIFY2(!item(name), qPrintable(name + u" was created before the first picture"_qs));
        QVERIFY(QMetaObject::invokeMethod(m_window, "show", Q_ARG(QVariant, u"search"_qs)));
        QVERIFY(item(u"searchPage"_qs) && item(u"searchPage"_qs)->property("visible").toBool());
        QVERIFY(QMetaObject::invokeMethod(m_window, "show", Q_ARG(QVariant, u"live"_qs)));
        QVERIFY(!item(u"searchPage"_qs)->property("visible").toBool());
        // The test streams show no picture: the other pages come a few seconds after the start.
        QTRY_VERIFY_WITH_TIMEOUT(item(u"guidePage"_qs) && item(u"settingsPage"_qs) && item(u"recordingsPage"_qs), 15000);
        QTRY_VERIFY_WITH_TIMEOUT(m_app->store()->isLoaded(), 5000);
        QTRY_COMPARE(m_app->zapper()->current(), 0); // the first channel is tuned at start
        m_window->requestActivate();
        QVERIFY(QTest::qWaitForWindowExposed(m_window));
    }

    // A step that failed half way must not leave a short digit timeout to the next ones.
    void init() { m_app->numberEntry()->setTimeout(60000); }

    void liveAndZapping()
    {
        QCOMPARE(page(), u"live"_qs);
        shot(u"live"_qs);
        press(Qt::Key_Down); // channel down wraps to 101
        QCOMPARE(m_app->zapper()->current(), 5);
        press(Qt::Key_1);
        press(Qt::Key_0);
        QCOMPARE(m_app->numberEntry()->digits(), u"10"_qs);
        QVERIFY(item(u"numberOsd"_qs)->property("visible").toBool());
        QCOMPARE(item(u"numberOsdText"_qs)->property("text").toString(), u"10_"_qs); // 101 may come
        QCOMPARE(m_app->zapper()->current(), 5);
        shot(u"digits"_qs);
        press(Qt::Key_Return); // OK while typing tunes 10
        QCOMPARE(m_app->zapper()->current(), 3);
        QVERIFY(!item(u"numberOsd"_qs)->property("visible").toBool());
        press(Qt::Key_1);
        press(Qt::Key_Escape); // Back forgets the digits, the channel stays
        QVERIFY(!m_app->numberEntry()->isActive());
        QCOMPARE(page(), u"live"_qs);
        QCOMPARE(m_app->zapper()->current(), 3);
        // The test streams go nowhere: channel 10's failure is said first (under load it came
        // after "No channel 7" and replaced it).
        QTRY_VERIFY_WITH_TIMEOUT(item(u"toast"_qs)->property("text").toString().startsWith(u"Channel 10 is not available"), 10000);
        press(Qt::Key_7); // no channel 7: said, the channel stays
        QCOMPARE(item(u"toast"_qs)->property("text").toString(), u"No channel 7"_qs);
        QCOMPARE(m_app->zapper()->current(), 3);
        press(Qt::Key_1);
        press(Qt::Key_0);
        press(Qt::Key_1); // three digits: at once
        QCOMPARE(m_app->zapper()->current(), 5);
        press(Qt::Key_1); // 1 may go on to 10, 11, 101: tuned after the timeout
        QCOMPARE(m_app->zapper()->current(), 5);
        m_app->numberEntry()->setTimeout(50); // restarts the running timeout: no race with the key
        QTRY_COMPARE(m_app->zapper()->current(), 0);
        m_app->numberEntry()->setTimeout(60000);
        press(Qt::Key_1);
        press(Qt::Key_1); // 11
        QCOMPARE(m_app->zapper()->current(), 4);
        press(Qt::Key_Down);
        QCOMPARE(m_app->zapper()->current(), 3);
        press(Qt::Key_Up);
        press(Qt::Key_Up); // 101, where the zaps above began
        QCOMPARE(m_app->zapper()->current(), 5);
        press(Qt::Key_1);
        press(Qt::Key_0);
        press(Qt::Key_Return);
        QCOMPARE(m_app->zapper()->current(), 3);
        press(Qt::Key_P); // previous channel
        QCOMPARE(m_app->zapper()->current(), 5);
        press(Qt::Key_2); // 2: nothing longer, at once
        QCOMPARE(m_app->zapper()->current(), 1);
        // The banner follows the zap: with the new channel's picture (here its failure), or
        // after 300 ms at the latest.
        QObject *banner = item(u"infoBanner"_qs);
        QTRY_COMPARE_WITH_TIMEOUT(banner->property("info").toMap().value(u"number"_qs).toInt(), 2, 2000);
        QTRY_VERIFY(banner->property("visible").toBool());
        press(Qt::Key_I);
        shot(u"info-banner"_qs);
    }

    void bannerClock()
    {
        // The banner's clock is the time it is shown at, not the time the QML was loaded at.
        QObject *banner = item(u"infoBanner"_qs);
        if (banner->property("visible").toBool())
            press(Qt::Key_I); // closes it
        QTRY_VERIFY(!banner->property("visible").toBool());
        const qint64 later = testguide::kDay0 + 7 * 3600 + 120;
        m_app->store()->setFixedNow(later);
        press(Qt::Key_I);
        QTRY_VERIFY(banner->property("visible").toBool());
        QCOMPARE(item(u"bannerClock"_qs)->property("text").toString(),
                 QDateTime::fromSecsSinceEpoch(later).toString(u"hh:mm"_qs));
        press(Qt::Key_I);
        m_app->store()->setFixedNow(testguide::kDay0 + 5 * 3600 + 900);
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
        QCOMPARE(m_app->zapper()->current(), 3);        // A number typed in the list: the list closes and live TV tunes it.
        press(Qt::Key_Return);
        QCOMPARE(page(), u"channels"_qs);
        press(Qt::Key_2);
        QCOMPARE(page(), u"live"_qs);
        QCOMPARE(m_app->zapper()->current(), 1);
        press(Qt::Key_Return);
        press(Qt::Key_1);
        QCOMPARE(page(), u"live"_qs);
        QVERIFY(item(u"numberOsd"_qs)->property("visible").toBool());
        press(Qt::Key_0);
        press(Qt::Key_Return);
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
        markupShownAsText();
        shot(u"details"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"guide"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
    }

    void guideChannelNumbers()
    {
        // Digits in the guide: the number's row at the current time, focus only (nothing tuned).
        const int tuned = m_app->zapper()->current();
        press(Qt::Key_G);
        QCOMPARE(page(), u"guide"_qs);
        auto title = [this] { return focusedAiring().value(u"title"_qs).toString(); };
        QCOMPARE(title(), u"Channel 10 h5"_qs);
        press(Qt::Key_Right);
        press(Qt::Key_Right); // two hours on
        press(Qt::Key_1);
        // In the guide the number shows in the header (not the live OSD, which covered the
        // focused programme's time and title and the ruler).
        QVERIFY(!item(u"numberOsd"_qs)->property("visible").toBool());
        QVERIFY(item(u"guideNumberOsd"_qs)->property("visible").toBool());
        QCOMPARE(item(u"guideNumberOsdText"_qs)->property("text").toString(), u"1__"_qs);
        press(Qt::Key_0);
        {
            auto *osd = qobject_cast<QQuickItem *>(item(u"guideNumberOsd"_qs));
            auto *header = qobject_cast<QQuickItem *>(item(u"guideFocusedTitle"_qs));
            auto *grid = qobject_cast<QQuickItem *>(item(u"guideGrid"_qs));
            QVERIFY(osd && header && grid);
            const QRectF o = osd->mapRectToScene(osd->boundingRect());
            const QRectF h = header->mapRectToScene(QRectF(header->width() - header->property("contentWidth").toReal(), 0,
                                                           header->property("contentWidth").toReal(), header->height()));
            const QRectF g = grid->mapRectToScene(grid->boundingRect());
            QVERIFY2(o.bottom() <= g.top(), qPrintable(QStringLiteral("the number (bottom %1) covers the grid (top %2)").arg(o.bottom()).arg(g.top())));
            QVERIFY2(!o.intersects(h), qPrintable(QStringLiteral("the number (%1..%2) covers the focused programme (%3..%4)")
                                                      .arg(o.left()).arg(o.right()).arg(h.left()).arg(h.right())));
            QVERIFY(h.width() > 0);
        }
        calm();
        shot(u"guide-number"_qs);
        press(Qt::Key_1); // 101: three digits, at once
        QCOMPARE(title(), u"Channel 101 h5"_qs);
        QVERIFY(!item(u"guideNumberOsd"_qs)->property("visible").toBool());
        press(Qt::Key_1);
        press(Qt::Key_0);
        press(Qt::Key_Return); // OK: 10 at once
        QCOMPARE(title(), u"Channel 10 h5"_qs);
        press(Qt::Key_1);
        press(Qt::Key_1); // 11: nothing longer
        QCOMPARE(title(), u"Channel 11 h5"_qs);
        press(Qt::Key_1); // 1: after the timeout
        QCOMPARE(title(), u"Channel 11 h5"_qs);
        m_app->numberEntry()->setTimeout(50); // restarts the running timeout
        QTRY_COMPARE(title(), u"Channel 1 h5"_qs);
        m_app->numberEntry()->setTimeout(60000);
        press(Qt::Key_Down);
        press(Qt::Key_1);
        press(Qt::Key_Escape); // Back forgets the digits, the guide stays open
        QCOMPARE(page(), u"guide"_qs);
        QVERIFY(!m_app->numberEntry()->isActive());
        QCOMPARE(title(), u"Channel 2 h5"_qs);
        press(Qt::Key_9); // no channel 9: said, the focus stays
        QCOMPARE(item(u"toast"_qs)->property("text").toString(), u"No channel 9"_qs);
        QCOMPARE(title(), u"Channel 2 h5"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
        QCOMPARE(m_app->zapper()->current(), tuned);
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
        press(Qt::Key_Escape);
        press(Qt::Key_F4);
        press(Qt::Key_F12); // power: standby
        QVERIFY(m_app->hal()->isStandby());
        press(Qt::Key_Down); // ignored in standby
        QCOMPARE(m_app->zapper()->current(), 3);
        press(Qt::Key_F12);
        QVERIFY(!m_app->hal()->isStandby());
        QCOMPARE(m_app->hal()->player()->source().toString(), u"http://127.0.0.1:9/live/ch10.ts"_qs);
    }

    void favouritesInGuide()
    {
        // Channel 10 is the favourite (the channel list, above): blue shows only it in the grid.
        press(Qt::Key_G);
        QCOMPARE(page(), u"guide"_qs);
        press(Qt::Key_Up); // channel 3
        press(Qt::Key_F4);
        QVERIFY(m_app->gridChannels()->favouritesOnly());
        QCOMPARE(m_app->gridChannels()->rowCount(), 1);
        QCOMPARE(focusedAiring().value(u"title"_qs).toString(), u"Channel 10 h5"_qs);
        QVERIFY(!m_app->settings()->favourites().isEmpty()); // kept in the settings
        calm();
        shot(u"guide-favourites"_qs);
        {
            // The ruler is above the grid, not at the window's origin over the day's name (the
            // software renderer once drew the grid's ruler there after the rows changed).
            const QImage image = m_window->grabWindow();
            int stray = 0;
            for (int y = 0; y < 20; ++y)
                for (int x = 230; x < 1100; ++x)
                    stray += QColor(image.pixel(x, y)).lightness() > 120;
            QCOMPARE(stray, 0);
        }
        press(Qt::Key_Down); // one row: nowhere to go
        QCOMPARE(focusedAiring().value(u"title"_qs).toString(), u"Channel 10 h5"_qs);
        press(Qt::Key_F4);
        QVERIFY(!m_app->gridChannels()->favouritesOnly());
        QCOMPARE(m_app->gridChannels()->rowCount(), 6);
        QCOMPARE(focusedAiring().value(u"title"_qs).toString(), u"Channel 10 h5"_qs); // the same channel
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
    }

    void parentalControl()
    {
        iptv::hubris::ParentalControl *parental = m_app->parental();
        // Settings, down to "Parental control", OK: the PIN first.
        press(Qt::Key_M);
        for (int i = 0; i < 3; ++i)
            press(Qt::Key_Down);
        press(Qt::Key_Return);
        QCOMPARE(page(), u"settings"_qs);
        for (int i = 0; i < 8; ++i)
            press(Qt::Key_Down);
        press(Qt::Key_Return);
        QVERIFY(pinShown());
        type(u"12"_qs);
        calm();
        shot(u"pin-prompt"_qs);
        type(u"34"_qs); // wrong
        QCOMPARE(parental->attemptsLeft(), 4);
        QVERIFY(pinShown());
        for (int i = 0; i < 4; ++i)
            type(u"9999"_qs);
        QVERIFY(parental->isLockedOut());
        QCOMPARE(parental->lockoutSeconds(), 300);
        QVERIFY(pinShown()); // the prompt stays and says it, focus stays on it
        QVERIFY(item(u"pinPrompt"_qs)->findChild<QObject *>()); // laid out
        calm();
        shot(u"pin-lockout"_qs);
        type(u"0000"_qs); // even the right PIN waits
        QVERIFY(!parental->isUnlocked());
        press(Qt::Key_Down); // keys stay with the prompt
        QCOMPARE(page(), u"settings"_qs);
        QVERIFY(pinShown());
        m_wallMs += 5 * 60 * 1000 + 1000; // five minutes later
        type(u"0000"_qs);
        QVERIFY(parental->isUnlocked());
        QVERIFY(!pinShown());
        QCOMPARE(page(), u"parental"_qs);

        // Rating lock 18 (off, 6, 12, 16, 18), channel 10 locked, a new PIN.
        press(Qt::Key_Down);
        for (int i = 0; i < 4; ++i)
            press(Qt::Key_Right);
        QCOMPARE(parental->ratingLimit(), 18);
        for (int i = 0; i < 4; ++i)
            press(Qt::Key_Down); // channels 1, 2, 3, 10
        press(Qt::Key_Return);
        QVERIFY(parental->isChannelLocked(3));
        calm();
        shot(u"parental"_qs);
        for (int i = 0; i < 5; ++i)
            press(Qt::Key_Up);
        press(Qt::Key_Return);
        QVERIFY(pinShown());
        type(u"1234"_qs);
        type(u"1243"_qs); // differs: asked again
        QVERIFY(pinShown());
        QVERIFY(parental->isDefaultPin());
        type(u"1234"_qs);
        type(u"1234"_qs);
        QVERIFY(!pinShown());
        QVERIFY(!parental->isDefaultPin());

        // Back locks the session: channel 10, on now, stops and shows no picture.
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"settings"_qs);
        QVERIFY(!parental->isUnlocked());
        QVERIFY(m_app->zapper()->isBlocked());
        QCOMPARE(m_app->hal()->player()->state(), iptv::hal::Player::State::Stopped);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
        press(Qt::Key_Return); // OK: the PIN
        QVERIFY(pinShown());
        type(u"0000"_qs); // the old one no longer works
        QVERIFY(m_app->zapper()->isBlocked());
        type(u"1"_qs);
        calm();
        shot(u"locked-channel"_qs);
        press(Qt::Key_Escape); // deletes the digit
        press(Qt::Key_Escape); // closes the prompt
        QVERIFY(!pinShown());
        press(Qt::Key_Up); // another channel plays at once
        QCOMPARE(m_app->zapper()->current(), 4);
        QVERIFY(!m_app->zapper()->isBlocked());
        press(Qt::Key_Down); // back on 10: the prompt comes by itself
        QVERIFY(m_app->zapper()->isBlocked());
        QVERIFY(pinShown());
        type(u"1234"_qs);
        QVERIFY(!m_app->zapper()->isBlocked());
        QCOMPARE(m_app->hal()->player()->source().toString(), u"http://127.0.0.1:9/live/ch10.ts"_qs);

        // Standby ends the unlock: the grid hides channel 10 and the 21:00 programmes (rated 18).
        press(Qt::Key_F12);
        press(Qt::Key_F12);
        QVERIFY(!parental->isUnlocked());
        QVERIFY(pinShown()); // on channel 10 again after waking
        press(Qt::Key_Escape);
        press(Qt::Key_Up); // channel 11
        press(Qt::Key_G);
        QCOMPARE(page(), u"guide"_qs);
        QCOMPARE(m_app->gridChannels()->rowCount(), 5);
        for (int row = 0; row < m_app->gridChannels()->rowCount(); ++row)
            QVERIFY(m_app->gridChannels()->channelAt(row) != 3);
        for (int i = 0; i < 16; ++i) // 05:00 to 21:00 on channel 11
            press(Qt::Key_Right);
        QVERIFY(focusedAiring().value(u"locked"_qs).toBool());
        QVERIFY(!focusedAiring().value(u"title"_qs).toString().contains(u"h21"_qs));
        calm();
        shot(u"guide-locked"_qs);
        press(Qt::Key_Return); // OK on a locked programme: the PIN shows it
        QVERIFY(pinShown());
        type(u"1234"_qs);
        QCOMPARE(m_app->gridChannels()->rowCount(), 6);
        QCOMPARE(focusedAiring().value(u"title"_qs).toString(), u"Channel 11 h21"_qs);
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
        // Locked again for the rest of the walk; search leaves out channel 10 and the 21:00s.
        press(Qt::Key_F12);
        press(Qt::Key_F12);
        QVERIFY(!parental->isUnlocked());
        press(Qt::Key_Escape); // the prompt of channel 10
        press(Qt::Key_M);
        press(Qt::Key_Down);
        press(Qt::Key_Down);
        press(Qt::Key_Return);
        QCOMPARE(page(), u"search"_qs);
        press(Qt::Key_F1); // "h2" -> "h"
        QVERIFY(m_app->search()->rowCount() > 0);
        for (int row = 0; row < m_app->search()->rowCount(); ++row) {
            const QModelIndex i = m_app->search()->index(row);
            QVERIFY(m_app->search()->data(i, iptv::hubris::SearchModel::ChannelNumberRole).toInt() != 10);
            const QString title = m_app->search()->data(i, iptv::hubris::SearchModel::TitleRole).toString();
            QVERIFY2(title.mid(title.lastIndexOf(u'h') + 1).toInt() % 24 < 21, qPrintable(title));
        }
        press(Qt::Key_2); // as it was
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
    }

    void settingsAndOffline()
    {
        press(Qt::Key_M);
        for (int i = 0; i < 3; ++i)
            press(Qt::Key_Down);
        press(Qt::Key_Return);
        QCOMPARE(page(), u"settings"_qs);
        press(Qt::Key_Down);
        press(Qt::Key_Down); // audio language
        press(Qt::Key_Right);
        QCOMPARE(m_app->settings()->audioLanguage(), u"en"_qs);
        press(Qt::Key_Down); // subtitles
        press(Qt::Key_Right);
        press(Qt::Key_Right);
        QCOMPARE(m_app->settings()->subtitleLanguage(), u"de"_qs);
        press(Qt::Key_Down);
        press(Qt::Key_Down);
        press(Qt::Key_Down); // guide refresh: 15 -> 30 min
        press(Qt::Key_Right);
        QCOMPARE(m_app->settings()->refreshMinutes(), 30);
        calm();
        shot(u"settings"_qs);

        // The guide server, typed on the on-screen keyboard: red deletes, digits type, ✓ keeps it.
        press(Qt::Key_Up);
        press(Qt::Key_Up); // guide server
        press(Qt::Key_Return);
        QCOMPARE(page(), u"text"_qs);
        QObject *entry = item(u"textEntryPage"_qs);
        QCOMPARE(entry->property("text").toString(), u"http://127.0.0.1:8410"_qs);
        for (int i = 0; i < 4; ++i)
            press(Qt::Key_F1);
        type(u"9"_qs);
        // "/" from the keyboard: from ✓ (last key) left to "/" is five keys.
        for (int i = 0; i < 5; ++i)
            press(Qt::Key_Left);
        press(Qt::Key_Return);
        QCOMPARE(entry->property("text").toString(), u"http://127.0.0.1:9/"_qs);
        press(Qt::Key_F1);
        calm();
        shot(u"settings-server"_qs);
        for (int i = 0; i < 5; ++i)
            press(Qt::Key_Right);
        press(Qt::Key_Return); // ✓
        QCOMPARE(page(), u"settings"_qs);
        QCOMPARE(m_app->settings()->guideServer(), u"http://127.0.0.1:9"_qs);
        QCOMPARE(m_app->store()->server(), u"http://127.0.0.1:9"_qs);

        // Refresh now: nothing answers there. The box says it is offline and keeps its guide.
        for (int i = 0; i < 3; ++i)
            press(Qt::Key_Down);
        press(Qt::Key_Return);
        QTRY_VERIFY_WITH_TIMEOUT(m_app->offline()->isOffline(), 10000);
        QVERIFY(m_app->store()->isLoaded());
        QVERIFY(item(u"offlineIndicator"_qs)->property("visible").toBool());
        QVERIFY(m_app->offline()->text().contains(u"guide server unreachable"_qs));
        press(Qt::Key_Escape);
        QCOMPARE(page(), u"live"_qs);
        press(Qt::Key_Up); // zapping goes on with the lineup it has
        QCOMPARE(m_app->zapper()->current(), 5);
        press(Qt::Key_I);
        calm();
        shot(u"offline"_qs);
    }

    void diagnostics()
    {
        calm();
        press(Qt::Key_F10);
        QVERIFY(m_app->diagnostics()->isShown());
        press(Qt::Key_I); // the banner fades in: frames to measure
        QTRY_VERIFY_WITH_TIMEOUT(m_app->diagnostics()->lines().value(0).contains(u"/s"_qs), 5000);
        QVERIFY(m_app->diagnostics()->lines().join(u'\n').contains(u"Memory"_qs));
        shot(u"diagnostics"_qs);
        // The menu has it too in development builds.
        press(Qt::Key_F10);
        QVERIFY(!m_app->diagnostics()->isShown());
    }

    void updateScreen()
    {
        // The install's stages as the installer reports them (tst_hubrisupdate runs a real one).
        using Stage = iptv::boxlink::UpdateInstaller::Stage;
        iptv::hubris::UpdateProgress *updates = m_app->updates();
        QObject *screen = item(u"updateScreen"_qs);
        QVERIFY(!screen->property("visible").toBool());
        updates->stageChanged(u"9.0.0"_qs, Stage::Downloading);
        updates->downloadProgress(u"9.0.0"_qs, 1300000, 3400000);
        QVERIFY(screen->property("visible").toBool());
        calm();
        shot(u"update-download"_qs);
        press(Qt::Key_G); // the box stays usable meanwhile
        QCOMPARE(page(), u"guide"_qs);
        press(Qt::Key_Escape);
        updates->stageChanged(u"9.0.0"_qs, Stage::Verifying);
        QCOMPARE(updates->stage(), iptv::hubris::UpdateProgress::Verifying);
        updates->setFailureMs(200);
        updates->finished(false, u"9.0.0"_qs, u"HashMismatch: the bundle is not the one announced"_qs);
        QCOMPARE(updates->stage(), iptv::hubris::UpdateProgress::Failed);
        calm();
        shot(u"update-failed"_qs);
        QTRY_VERIFY(!screen->property("visible").toBool());

        updates->stageChanged(u"9.0.1"_qs, Stage::Downloading);
        updates->stageChanged(u"9.0.1"_qs, Stage::Verifying);
        updates->stageChanged(u"9.0.1"_qs, Stage::Installing);
        updates->finished(true, u"9.0.1"_qs, u"installed"_qs);
        updates->restarting();
        QCOMPARE(updates->stage(), iptv::hubris::UpdateProgress::Restarting);
        calm();
        shot(u"update-restarting"_qs);
    }
};

QTEST_MAIN(TestHubrisUi)
#include "tst_hubrisui.moc"
