// The zapper against a test player (hal::Player with play() recorded and frames given by the
// test): up/down wrap, the previous-channel key, zap time from the key to the first frame,
// channels without a stream; and the remote-key vocabulary. Digits: tst_channelnumberentry.
#include "testguide.h"
#include "testplayer.h"

#include <hubris/diagnostics.h>
#include <hubris/remotekeys.h>
#include <hubris/zapper.h>

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

using namespace iptv::hubris;

class TestZapper : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<GuideStore> m_store;
    std::unique_ptr<ChannelListModel> m_channels;
    std::unique_ptr<TestPlayer> m_player;
    std::unique_ptr<Zapper> m_zapper;

    QString streamOf(int number) { return QStringLiteral("http://127.0.0.1:9/live/ch%1.ts").arg(number); }

private Q_SLOTS:
    void init()
    {
        m_store = std::make_unique<GuideStore>(m_dir.filePath(QStringLiteral("cache")));
        m_channels = std::make_unique<ChannelListModel>(m_store.get());
        m_player = std::make_unique<TestPlayer>();
        m_zapper = std::make_unique<Zapper>(m_channels.get(), m_player.get());
        QSignalSpy loaded(m_store.get(), &GuideStore::guideChanged);
        m_store->loadFile(testguide::write(m_dir));
        QVERIFY(loaded.wait(5000));
    }

    void upDownWrapAndPrevious()
    {
        m_zapper->tune(0);
        QCOMPARE(m_player->played.last().toString(), streamOf(1));
        m_zapper->channelDown(); // wraps to the last channel
        QCOMPARE(m_zapper->current(), 5);
        QCOMPARE(m_player->played.last().toString(), streamOf(101));
        m_zapper->channelUp();
        QCOMPARE(m_zapper->current(), 0);
        m_zapper->channelUp();
        QCOMPARE(m_zapper->current(), 1);
        m_zapper->previousChannel();
        QCOMPARE(m_zapper->current(), 0);
        m_zapper->previousChannel(); // and back again
        QCOMPARE(m_zapper->current(), 1);
        m_zapper->tune(42); // out of range: nothing
        QCOMPARE(m_zapper->current(), 1);
    }

    void zapTimeFromKeyToFirstFrame()
    {
        QSignalSpy measured(m_zapper.get(), &Zapper::zapMeasured);
        m_zapper->tune(2);
        QTest::qWait(30); // the player takes its time: the zap time must include it
        m_player->frame(30);
        QCOMPARE(measured.size(), 1);
        QVERIFY(m_zapper->lastZapMs() >= 30);
        m_player->frame(5); // a later frame of the same channel is no zap
        QCOMPARE(measured.size(), 1);
        QCOMPARE(m_zapper->zapTimes().size(), 1);
    }

    void adoptKeepsThePlayingStream()
    {
        // A cold start plays the last channel before the guide is there: the zapper adopts it.
        m_player->play(QUrl(streamOf(3)));
        m_zapper->adopt(2);
        QCOMPARE(m_zapper->current(), 2);
        QCOMPARE(m_player->played.size(), 1);
        // Another stream than the row's: tuned.
        m_zapper->adopt(0);
        QCOMPARE(m_zapper->current(), 0);
        QCOMPARE(m_player->played.size(), 2);
        QCOMPARE(m_player->played.last(), QUrl(streamOf(1)));
        // A failed or stopped player is tuned again.
        m_player->breakDown(u"gone"_qs);
        m_zapper->adopt(0);
        QCOMPARE(m_player->played.size(), 3);
        // A locked channel is tuned (and so stopped), never adopted.
        m_player->play(QUrl(streamOf(3)));
        m_zapper->setLockCheck([](int row) { return row == 2; });
        m_zapper->adopt(2);
        QVERIFY(m_zapper->isBlocked());
        QCOMPARE(m_player->state(), iptv::hal::Player::State::Stopped);
    }

    void zapPartsUpToThePaintedFrame()
    {
        QSignalSpy parts(m_zapper.get(), &Zapper::zapPartsMeasured);
        QElapsedTimer tuneCall;
        tuneCall.start();
        m_zapper->tune(2);
        const qint64 tuneCallMs = tuneCall.elapsed(); // the key and play() both come inside it
        QTest::qWait(20);
        m_zapper->frameStarted(); // a frame before the picture does not paint it
        m_zapper->frameSwapped();
        m_player->frame(5, 10, 12, 15, 20);
        QVERIFY(parts.isEmpty()); // waits for the window
        QTest::qWait(10);
        m_zapper->frameStarted(); // synchronised after the picture came: this frame paints it
        m_zapper->frameSwapped();
        QVERIFY(parts.wait(1000));
        const auto p = parts.first().first().value<iptv::protocol::ZapParts>();
        // Not the 20 ms waited after tune(), however long a loaded machine took inside it.
        QVERIFY2(p.tuneMs >= 0 && p.tuneMs <= tuneCallMs, qPrintable(QStringLiteral("%1 of %2 ms").arg(p.tuneMs).arg(tuneCallMs)));
        QCOMPARE(p.connectedMs, p.tuneMs + 5);
        QCOMPARE(p.openedMs, p.tuneMs + 10);
        QCOMPARE(p.keyframeMs, p.tuneMs + 12);
        QCOMPARE(p.decodedMs, p.tuneMs + 15);
        QCOMPARE(p.shownMs, int(m_zapper->lastZapMs()));
        QVERIFY(p.shownMs >= 20);
        QVERIFY2(p.paintedMs >= p.shownMs + 10, qPrintable(QString::number(p.paintedMs)));
        QCOMPARE(m_zapper->zapParts().size(), 1);
        QCOMPARE(m_zapper->zapParts().first(), p);
        // The diagnostics overlay shows them (telemetry sends them as "zp", tst_protocolcodec).
        Diagnostics diagnostics(m_player.get(), m_zapper.get(), m_store.get());
        diagnostics.refresh();
        const QString lines = diagnostics.lines().join(u'\n');
        QVERIFY2(lines.contains(QStringLiteral("connected %1 · opened %2").arg(p.connectedMs).arg(p.openedMs)), qPrintable(lines));
        QVERIFY2(lines.contains(QStringLiteral("painted %1").arg(p.paintedMs)), qPrintable(lines));
        QVERIFY2(lines.contains(QStringLiteral("Key to painted p50 %1").arg(p.paintedMs)), qPrintable(lines));

        // No window that paints: reported after the timeout without the painted part.
        m_zapper->setPaintTimeout(50);
        m_zapper->tune(3);
        m_player->frame(1, 2, 3, 4, 5);
        QVERIFY(parts.wait(1000));
        QCOMPARE(parts.last().first().value<iptv::protocol::ZapParts>().paintedMs, -1);
        // A key before the picture is painted ends that zap's wait at once.
        m_zapper->setPaintTimeout(60000);
        m_zapper->tune(2);
        m_player->frame(1, 2, 3, 4, 5);
        m_zapper->tune(3);
        QCOMPARE(parts.size(), 3);
        QCOMPARE(m_zapper->zapParts().size(), 3);
    }

    void failures()
    {
        QSignalSpy failed(m_zapper.get(), &Zapper::playbackFailed);
        m_zapper->tune(4); // channel 11 has no stream
        QCOMPARE(failed.size(), 1);
        QVERIFY(failed.first().first().toString().contains(u"Channel 11"_qs));
        m_zapper->tune(0);
        m_player->breakDown(u"No picture after 8 s"_qs);
        QCOMPARE(failed.size(), 2);
        QCOMPARE(failed.last().first().toString(), u"Channel 1 is not available: No picture after 8 s"_qs);
        QCOMPARE(m_player->state(), iptv::hal::Player::State::Failed);
        // The player playing something else (a recording, catch-up): not this channel's failure,
        // the page playing it says so.
        m_player->play(QUrl(u"http://127.0.0.1:9/play/1/index.m3u8"_qs));
        m_player->breakDown(u"no streams at all"_qs);
        QCOMPARE(failed.size(), 2);
    }

    void remoteKeys()
    {
        // Every action a simulator button sends comes back as the same action.
        for (int a = RemoteKeys::Up; a <= RemoteKeys::Diagnostics; ++a)
            QCOMPARE(RemoteKeys::action(RemoteKeys::keyFor(a)), a);
        // The keyboard's stand-ins.
        QCOMPARE(RemoteKeys::action(Qt::Key_Return), int(RemoteKeys::Ok));
        QCOMPARE(RemoteKeys::action(Qt::Key_Escape), int(RemoteKeys::Back));
        QCOMPARE(RemoteKeys::action(Qt::Key_F1), int(RemoteKeys::Red));
        QCOMPARE(RemoteKeys::action(Qt::Key_7), int(RemoteKeys::Digit7));
        QCOMPARE(RemoteKeys::digitOf(RemoteKeys::Digit7), 7);
        QCOMPARE(RemoteKeys::digitOf(RemoteKeys::Ok), -1);
        QCOMPARE(RemoteKeys::action(Qt::Key_7, Qt::ControlModifier), int(RemoteKeys::None));
        QCOMPARE(RemoteKeys::action(Qt::Key_Z), int(RemoteKeys::None));
        QCOMPARE(RemoteKeys::name(RemoteKeys::Guide), u"Guide"_qs);
    }
};

QTEST_GUILESS_MAIN(TestZapper)
#include "tst_zapper.moc"
