// GuideGridView, the guide grid's C++ item: which cells a viewport shows and where (cut at the
// left edge, the rows on screen), the focus moved by programme across gaps, long programmes and
// midnight, by day and by page, the now line; and one frame drawn by Qt Quick's software
// renderer (no GPU), checked by its pixels: cells, focus, now line, text, the new tag.
#include "testguide.h"

#include <hubris/channelfiltermodel.h>
#include <hubris/channellistmodel.h>
#include <hubris/guidegrid.h>
#include <hubris/guidegridview.h>
#include <hubris/guidestore.h>

#include <QQuickWindow>
#include <QSignalSpy>
#include <QTest>

using namespace iptv::hubris;

namespace {

constexpr qint64 kDay0 = testguide::kDay0; // 2026-01-05T00:00:00Z
constexpr qint64 kHour = 3600;

/// Four channels over two days. Channel 1: hourly "One hN". Channel 2: 00:00-03:00 "Long", a
/// gap 03:00-04:00, 04:00-04:30 "Short" (new), 04:30-23:00 "Day", 23:00-01:00 "Night" across
/// midnight, 01:00-48:00 "Rest". Channels 3 and 4: hourly like 1, but channel 4's 10:00 hour
/// starts with "Flash" (a minute) and "Blip" (20 s): "Ch 4 h10" runs 10:01:20-11:00.
QString writeGuide(const QTemporaryDir &dir)
{
    using namespace iptv::epg;
    GuideBuilder builder({.from = kDay0, .days = 2, .compressionLevel = 3, .createdAt = kDay0});
    const auto add = [&](const QString &channel, qint64 start, qint64 stop, const QString &title, bool isNew = false) {
        Programme p;
        p.channelId = channel;
        p.start = start;
        p.stop = stop;
        p.titles = {{{}, title}};
        p.airing.isNew = isNew;
        builder.addProgramme(p);
    };
    for (int n = 1; n <= 4; ++n) {
        Channel c;
        c.id = QStringLiteral("c%1.test").arg(n);
        c.displayNames = {{{}, QStringLiteral("Ch %1").arg(n)}};
        c.number = n;
        builder.addChannel(c);
        if (n == 2) {
            add(c.id, kDay0, kDay0 + 3 * kHour, QStringLiteral("Long"));
            add(c.id, kDay0 + 4 * kHour, kDay0 + 4 * kHour + 1800, QStringLiteral("Short"), true);
            add(c.id, kDay0 + 4 * kHour + 1800, kDay0 + 23 * kHour, QStringLiteral("Day"));
            add(c.id, kDay0 + 23 * kHour, kDay0 + 25 * kHour, QStringLiteral("Night"));
            add(c.id, kDay0 + 25 * kHour, kDay0 + 48 * kHour, QStringLiteral("Rest"));
            continue;
        }
        for (int h = 0; h < 48; ++h) {
            const bool short10 = n == 4 && h == 10;
            if (short10) {
                add(c.id, kDay0 + 10 * kHour, kDay0 + 10 * kHour + 60, QStringLiteral("Flash"));
                add(c.id, kDay0 + 10 * kHour + 60, kDay0 + 10 * kHour + 80, QStringLiteral("Blip"));
            }
            add(c.id, kDay0 + h * kHour + (short10 ? 80 : 0), kDay0 + (h + 1) * kHour,
                QStringLiteral("%1 h%2").arg(n == 1 ? u"One"_qs : c.name()).arg(h));
        }
    }
    const QString path = dir.filePath(QStringLiteral("grid.guide"));
    QString error;
    if (!builder.finishToFile(path, &error))
        qFatal("cannot write the grid's guide: %s", qPrintable(error));
    return path;
}

QString title(const QVariantMap &airing)
{
    return airing.value(u"title"_qs).toString();
}

} // namespace

class TestGuideGridView : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<GuideStore> m_store;
    std::unique_ptr<ChannelListModel> m_lineup;
    std::unique_ptr<ChannelFilterModel> m_channels;
    std::unique_ptr<GuideGrid> m_grid;

    /// A view 900 px of programmes wide (an hour is 360 px at 2.5 h across) and two and a half
    /// rows tall, opened on channel 2 at 02:10.
    std::unique_ptr<GuideGridView> view(qint64 now = kDay0 + 2 * kHour + 600)
    {
        m_store->setFixedNow(now);
        auto v = std::make_unique<GuideGridView>();
        v->setGuide(m_grid.get());
        v->setChannels(m_channels.get());
        v->setSize(QSizeF(230 + 900, 32 + 64 * 2 + 32));
        v->open(1);
        return v;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QQuickWindow::setGraphicsApi(QSGRendererInterface::Software); // the frames drawn, no GPU
        m_store = std::make_unique<GuideStore>(m_dir.filePath(QStringLiteral("cache")));
        QSignalSpy loaded(m_store.get(), &GuideStore::guideChanged);
        m_store->loadFile(writeGuide(m_dir));
        QVERIFY(loaded.wait(5000));
        m_lineup = std::make_unique<ChannelListModel>(m_store.get());
        m_channels = std::make_unique<ChannelFilterModel>(m_lineup.get(), nullptr);
        m_grid = std::make_unique<GuideGrid>(m_store.get());
        QCOMPARE(m_channels->rowCount(), 4);
    }

    void opensOnTheChannelAtNow()
    {
        const auto v = view();
        QCOMPARE(v->currentRow(), 1);
        QCOMPARE(v->currentChannel(), 1);
        QCOMPARE(v->viewStart(), kDay0 + 2 * kHour); // now, aligned to the half hour
        QCOMPARE(title(v->currentAiring()), u"Long"_qs);
        QCOMPARE(v->rowsOnScreen(), 2);
        QCOMPARE(v->topRow(), 1); // centred, as far as there are rows
    }

    void visibleCells_data()
    {
        QTest::addColumn<int>("top");
        QTest::addColumn<QStringList>("cells"); // row:title@x+width
        // 02:00-04:30: Long cut at the left edge (started at 00:00), the gap, Short from 04:00.
        QTest::newRow("rows 1-3") << 1
                                  << QStringList{u"1:Long@0+357"_qs, u"1:Short@720+177"_qs, u"2:Ch 3 h2@0+357"_qs,
                                                 u"2:Ch 3 h3@360+357"_qs, u"2:Ch 3 h4@720+177"_qs, u"3:Ch 4 h2@0+357"_qs,
                                                 u"3:Ch 4 h3@360+357"_qs, u"3:Ch 4 h4@720+177"_qs};
        QTest::newRow("rows 0-2") << 0
                                  << QStringList{u"0:One h2@0+357"_qs, u"0:One h3@360+357"_qs, u"0:One h4@720+177"_qs,
                                                 u"1:Long@0+357"_qs, u"1:Short@720+177"_qs, u"2:Ch 3 h2@0+357"_qs,
                                                 u"2:Ch 3 h3@360+357"_qs, u"2:Ch 3 h4@720+177"_qs};
    }
    void visibleCells()
    {
        QFETCH(int, top);
        QFETCH(QStringList, cells);
        const auto v = view();
        if (top == 0)
            v->moveRows(-1); // row 0 above the top: the view follows
        QCOMPARE(v->topRow(), top);
        QStringList shown;
        for (const GuideGridView::Cell &c : v->visibleCells())
            shown << QStringLiteral("%1:%2@%3+%4").arg(c.row).arg(c.title).arg(c.x).arg(c.width);
        QCOMPARE(shown, cells);
        // Focus and now: only on the focused row's airing at the focus time; now is 02:10.
        for (const GuideGridView::Cell &c : v->visibleCells()) {
            QCOMPARE(c.focused, c.row == v->currentRow() && c.start <= v->focusTime() && v->focusTime() < c.stop);
            QCOMPARE(c.onNow, c.start <= v->now() && v->now() < c.stop);
            QCOMPARE(c.isNew, c.title == u"Short");
        }
    }

    void stepsAcrossGapsAndMidnight()
    {
        const auto v = view();
        QSignalSpy focus(v.get(), &GuideGridView::focusChanged);
        v->step(true); // Long ends at 03:00: the gap, nothing focused
        QCOMPARE(v->focusTime(), kDay0 + 3 * kHour);
        QVERIFY(v->currentAiring().isEmpty());
        QVERIFY(focus.count() > 0);
        v->step(true); // across the gap by a slot
        QCOMPARE(v->focusTime(), kDay0 + 3 * kHour + 1800);
        QVERIFY(v->currentAiring().isEmpty());
        v->step(true);
        QCOMPARE(title(v->currentAiring()), u"Short"_qs);
        QCOMPARE(v->viewStart(), kDay0 + 2 * kHour); // 04:00 is still on screen
        v->step(true);
        QCOMPARE(title(v->currentAiring()), u"Day"_qs);
        QCOMPARE(v->viewStart(), kDay0 + 2 * kHour + 1800); // 04:30 was the right edge: a slot on
        v->step(false); // back to Short
        QCOMPARE(title(v->currentAiring()), u"Short"_qs);
        v->step(false); // the gap's last second, then back through it
        QVERIFY(v->currentAiring().isEmpty());
        v->step(false);
        v->step(false);
        QCOMPARE(title(v->currentAiring()), u"Long"_qs);

        // Night runs 23:00-01:00: right from Day lands on it, the view follows past midnight.
        v->jumpDays(0);
        while (title(v->currentAiring()) != u"Night" && v->focusTime() < kDay0 + 24 * kHour)
            v->step(true);
        QCOMPARE(title(v->currentAiring()), u"Night"_qs);
        v->step(true);
        QCOMPARE(title(v->currentAiring()), u"Rest"_qs);
        QCOMPARE(v->focusTime(), kDay0 + 25 * kHour);
        QVERIFY(v->viewStart() <= v->focusTime() && v->focusTime() < v->viewStart() + v->span());
        // Left from the next day's 01:00 goes back to Night, shown from the view's left edge.
        v->step(false);
        QCOMPARE(title(v->currentAiring()), u"Night"_qs);
        QVERIFY(v->viewStart() <= v->focusTime() && v->focusTime() < v->viewStart() + v->span());
    }

    void leftIntoALongProgrammeKeepsItOnScreen()
    {
        // Focused on Day (04:30-23:00) at 12:00, the view at 12:00: left goes back through Day a
        // view's span at a time (its start is off screen), and only then to Short before it.
        const auto v = view(kDay0 + 12 * kHour);
        QCOMPARE(title(v->currentAiring()), u"Day"_qs);
        v->step(false);
        QCOMPARE(title(v->currentAiring()), u"Day"_qs);
        QCOMPARE(v->focusTime(), kDay0 + 12 * kHour - 1 - v->span());
        QCOMPARE(v->viewStart(), kDay0 + 9 * kHour);
        int steps = 1;
        while (title(v->currentAiring()) == u"Day" && steps < 10) {
            v->step(false);
            ++steps;
            QVERIFY(v->viewStart() <= v->focusTime() && v->focusTime() < v->viewStart() + v->span());
        }
        QCOMPARE(title(v->currentAiring()), u"Short"_qs);
        QCOMPARE(steps, 4); // 09:29:59, 06:29:59, 04:30 (the view moved to Day's start), Short
    }

    void daysAndPages()
    {
        const auto v = view();
        v->jumpDays(1); // the same time tomorrow: Rest
        QCOMPARE(v->focusTime(), kDay0 + 26 * kHour + 600);
        QCOMPARE(v->viewStart(), kDay0 + 26 * kHour);
        QCOMPARE(title(v->currentAiring()), u"Rest"_qs);
        v->jumpDays(1); // past the guide's end: its last second
        QCOMPARE(v->focusTime(), kDay0 + 48 * kHour - 1);
        v->jumpDays(-5); // before its start: its first second
        QCOMPARE(v->focusTime(), kDay0);
        QCOMPARE(title(v->currentAiring()), u"Long"_qs);

        v->moveRows(v->rowsOnScreen()); // a page down: row 3, the last, shown at the bottom
        QCOMPARE(v->currentRow(), 3);
        QCOMPARE(v->topRow(), 2);
        QCOMPARE(title(v->currentAiring()), u"Ch 4 h0"_qs);
        v->moveRows(10);
        QCOMPARE(v->currentRow(), 3); // clamped
        v->moveRows(-v->rowsOnScreen() * 2);
        QCOMPARE(v->currentRow(), 0);
        QCOMPARE(v->topRow(), 0);
        v->showChannel(2);
        QCOMPARE(v->currentRow(), 2);
        QCOMPARE(v->topRow(), 1);
        v->setCurrentRow(-4);
        QCOMPARE(v->currentRow(), 0);
    }

    void rowsFollowTheFilter()
    {
        const auto v = view();
        QSignalSpy rows(v.get(), &GuideGridView::rowCountChanged);
        m_lineup->toggleFavourite(3); // channel 4 only
        m_channels->setFavouritesOnly(true);
        QVERIFY(rows.count() > 0);
        QCOMPARE(v->rowCount(), 1);
        QCOMPARE(v->currentRow(), 0);
        QCOMPARE(v->currentChannel(), 3);
        QCOMPARE(title(v->currentAiring()), u"Ch 4 h2"_qs);
        m_channels->setFavouritesOnly(false);
        m_lineup->toggleFavourite(3);
        v->showChannel(1);
        QCOMPARE(v->currentRow(), 1);
    }

    void nowLine_data()
    {
        QTest::addColumn<qint64>("now");
        QTest::addColumn<qint64>("viewStartAfterJump");
        QTest::addColumn<int>("x");
        QTest::newRow("at the view's start") << kDay0 + 2 * kHour << qint64(0) << 0;
        QTest::newRow("ten minutes in") << kDay0 + 2 * kHour + 600 << qint64(0) << 60;
        QTest::newRow("a day later: off screen") << kDay0 + 2 * kHour + 600 << qint64(1) << -1;
    }
    void nowLine()
    {
        QFETCH(qint64, now);
        QFETCH(qint64, viewStartAfterJump);
        QFETCH(int, x);
        const auto v = view(now);
        if (viewStartAfterJump)
            v->jumpDays(1);
        QCOMPARE(v->nowLineX(), x);
        // The cell that is on now is the one under the line.
        for (const GuideGridView::Cell &c : v->visibleCells())
            QCOMPARE(c.onNow, x >= 0 && c.x <= x && x < c.x + c.width + 3);
    }

    void shortProgrammesShowTheirFocus()
    {
        // Channel 4 from 10:00: Flash (a minute: 6 px at 2.5 h across 900 px, 3 px drawn), Blip
        // (20 s: 2 px, none drawn), then Ch 4 h10. Focused, each is drawn wide enough for its ring.
        QQuickWindow window;
        window.setColor(QColor(0x10, 0x14, 0x18));
        window.resize(230 + 900, 32 + 64 * 3);
        const auto v = view(kDay0 + 10 * kHour);
        v->setParentItem(window.contentItem());
        v->setSize(window.size());
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        v->moveRows(2);
        QCOMPARE(v->currentChannel(), 3);
        const int least = v->minFocusedWidth();
        QVERIFY(least > 2 * v->property("focusWidth").toInt());
        const QColor focus(0xf5, 0xa6, 0x23);
        for (const auto &[name, x] : {std::pair{u"Flash"_qs, 0}, std::pair{u"Blip"_qs, 6}}) {
            QCOMPARE(title(v->currentAiring()), name);
            QList<GuideGridView::Cell> focused;
            for (const GuideGridView::Cell &c : v->visibleCells()) {
                if (c.focused)
                    focused << c;
            }
            QCOMPARE(focused.size(), 1);
            QCOMPARE(focused[0].title, name);
            QCOMPARE(focused[0].x, x);
            QCOMPARE(focused[0].width, least);
            // The ring on screen, left and right, over the next cell drawn before it.
            const QImage image = window.grabWindow();
            const int rowY = 32 + (v->currentRow() - v->topRow()) * 64;
            QCOMPARE(QColor(image.pixel(230 + x + 3, rowY + 30)), focus); // (the now line on 0-1)
            QCOMPARE(QColor(image.pixel(230 + x + least - 2, rowY + 30)), focus);
            QVERIFY(QColor(image.pixel(230 + x + least / 2, rowY + 30)) != focus); // a ring, not a block
            v->step(true);
        }
        QCOMPARE(title(v->currentAiring()), u"Ch 4 h10"_qs);
        // Unfocused, they are drawn as they are: Flash 3 px, Blip not at all.
        QStringList row;
        for (const GuideGridView::Cell &c : v->visibleCells()) {
            if (c.row == v->currentRow() && c.x < 100)
                row << QStringLiteral("%1@%2+%3").arg(c.title).arg(c.x).arg(c.width);
        }
        QCOMPARE(row, (QStringList{u"Flash@0+3"_qs, u"Blip@6+0"_qs, u"Ch 4 h10@8+349"_qs}));
    }

    void drawsWithTheSoftwareRenderer()
    {
        QQuickWindow window;
        window.setColor(QColor(0x10, 0x14, 0x18));
        window.resize(230 + 900, 32 + 64 * 3);
        const auto v = view();
        v->setParentItem(window.contentItem());
        v->setSize(window.size());
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        v->moveRows(-1); // the first row at the top, then channel 2 again
        v->moveRows(1);
        QCOMPARE(v->topRow(), 0);
        v->step(true);
        v->step(true);
        v->step(true); // Short (04:00-04:30, new) focused
        QCOMPARE(title(v->currentAiring()), u"Short"_qs);
        const QImage image = window.grabWindow();
        QCOMPARE(image.size(), window.size());
        const auto at = [&](int x, int y) { return QColor(image.pixel(x, y)); };
        const int rowY = 32 + 64; // row 1 (channel 2) is the second on screen; row 0 is above
        QCOMPARE(at(230 + 720 + 1, rowY + 30), QColor(0xf5, 0xa6, 0x23));             // Short's focus border
        QCOMPARE(at(230 + 720 + 100, rowY + 8), QColor(0x24, 0x30, 0x42));            // its inside
        QCOMPARE(at(230 + 720 + 9, rowY + 9), QColor(0x3d, 0x8b, 0xfd));              // the new tag
        QCOMPARE(at(230 + 500, rowY + 30), QColor(0x10, 0x14, 0x18));                 // the gap 03:00-04:00
        QCOMPARE(at(230 + 60, rowY + 50), QColor(0xe5, 0x53, 0x4b));                  // the now line, 02:10
        QCOMPARE(at(230 + 200, rowY + 50), QColor(0x2e, 0x3d, 0x55));                 // Long is on now
        QCOMPARE(at(100, rowY + 50), QColor(0x2e, 0x3d, 0x55));                       // the focused row's channel
        QCOMPARE(at(100, 32 + 50), QColor(0x24, 0x30, 0x42));                         // another channel
        QCOMPARE(at(230 + 720 + 2, 32), QColor(0x24, 0x30, 0x42));                    // a cell's top edge...
        QCOMPARE(at(230 + 720 + 1, 32 + 1), QColor(0x10, 0x14, 0x18));                // ...and its corner's notch
        // Text: light pixels in the title's place, none below it.
        const auto light = [&](QRect r) {
            int n = 0;
            for (int y = r.top(); y <= r.bottom(); ++y)
                for (int x = r.left(); x <= r.right(); ++x)
                    n += at(x, y).lightness() > 150;
            return n;
        };
        QVERIFY(light(QRect(230 + 8, rowY + 18, 60, 24)) > 30); // "Long"
        QVERIFY(light(QRect(10, rowY + 18, 100, 24)) > 30);      // "2  Ch 2"
        QVERIFY(light(QRect(230 + 6, 4, 60, 24)) > 30);          // the ruler's 02:00
        QCOMPARE(light(QRect(230 + 100, rowY + 44, 200, 12)), 0);
        // The fills leave the labels' places out and the labels fill them: no background shows
        // through a cell or the channel column (but at the corners' notches).
        const auto background = [&](QRect r) {
            int n = 0;
            for (int y = r.top(); y <= r.bottom(); ++y)
                for (int x = r.left(); x <= r.right(); ++x)
                    n += at(x, y) == QColor(0x10, 0x14, 0x18);
            return n;
        };
        QCOMPARE(background(QRect(230 + 2, rowY, 357 - 4, 60)), 0);       // Long, its text
        QCOMPARE(background(QRect(230 + 720 + 2, rowY, 177 - 4, 60)), 0); // Short, focused
        QCOMPARE(background(QRect(2, rowY, 224 - 4, 60)), 0);             // "2  Ch 2"
    }
};

QTEST_MAIN(TestGuideGridView)
#include "tst_guidegridview.moc"
