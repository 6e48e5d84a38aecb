// FfmpegPlayer against live MPEG-TS streams made in the test (LiveTsServer): the first picture and
// the parts of its start, zaps whose pictures are told apart by brightness (after a zap only the
// new source's pictures reach the sink, however fast the zaps come), stop and destruction while a
// connection stalls return at once, and dead or garbage streams fail with a message that says
// what, where and why.
#include "livetsserver.h"

#include <hal/desktophal.h>
#include <hal/ffmpegplayer.h>

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QVideoFrame>
#include <QVideoSink>

using iptv::hal::FfmpegPlayer;
using iptv::hal::Player;

namespace {

constexpr int kDark = 40;
constexpr int kBright = 200;

/// The mean luma of a picture, from a few points (-1: not a picture).
int lumaOf(QVideoFrame frame)
{
    if (!frame.isValid() || !frame.map(QVideoFrame::ReadOnly))
        return -1;
    int sum = 0, n = 0;
    for (int y = frame.height() / 4; y < frame.height(); y += frame.height() / 4) {
        for (int x = frame.width() / 4; x < frame.width(); x += frame.width() / 4) {
            sum += frame.bits(0)[y * frame.bytesPerLine(0) + x];
            ++n;
        }
    }
    frame.unmap();
    return n ? sum / n : -1;
}

bool isSource(int luma, int expected) { return qAbs(luma - expected) < 25; }

} // namespace

class TestFfmpegPlayer : public QObject
{
    Q_OBJECT

    LiveTsServer m_server;
    std::unique_ptr<FfmpegPlayer> m_player;
    QVideoSink *m_sink = nullptr;
    QList<int> m_shown; ///< luma of every picture the sink got

private Q_SLOTS:
    void initTestCase()
    {
        iptv::media::installFfmpegLogHandler(); // FFmpeg's complaints about the garbage as warnings
        QString error;
        QVERIFY2(m_server.addSource(QStringLiteral("dark"), kDark, &error), qPrintable(error));
        QVERIFY2(m_server.addSource(QStringLiteral("bright"), kBright, &error), qPrintable(error));
        QVERIFY(m_server.listen());
    }

    void init()
    {
        m_player = std::make_unique<FfmpegPlayer>();
        m_sink = new QVideoSink(m_player.get());
        m_player->setVideoSink(m_sink);
        m_shown.clear();
        connect(m_sink, &QVideoSink::videoFrameChanged, this, [this](const QVideoFrame &f) { m_shown.append(lumaOf(f)); });
    }

    void cleanup()
    {
        m_player.reset();
    }

    void firstPictureAndItsParts()
    {
        QSignalSpy first(m_player.get(), &Player::firstFrame);
        m_player->play(m_server.url(QStringLiteral("dark.ts")));
        QCOMPARE(m_player->state(), Player::State::Opening);
        QVERIFY(first.wait(5000));
        QCOMPARE(m_player->state(), Player::State::Playing);
        QVERIFY(isSource(lumaOf(m_sink->videoFrame()), kDark));
        const iptv::hal::StartTiming t = m_player->startTiming();
        QCOMPARE(t.source, m_server.url(QStringLiteral("dark.ts")));
        QCOMPARE(first.first().first().toLongLong(), t.firstShownMs);
        qInfo("start: connected %lld ms, opened %lld ms, keyframe %lld ms, decoded %lld ms, shown %lld ms", t.connectedMs,
              t.openedMs, t.firstKeyframeMs, t.firstDecodedMs, t.firstShownMs);
        QVERIFY(t.connectedMs >= 0);
        QVERIFY(t.connectedMs <= t.openedMs);
        QVERIFY(t.openedMs <= t.firstKeyframeMs);
        QVERIFY(t.firstKeyframeMs <= t.firstDecodedMs);
        QVERIFY(t.firstDecodedMs <= t.firstShownMs);
        // The cached GOP starts at a keyframe and is there at once: no waiting for the next one.
        QVERIFY2(t.firstShownMs < 1000, qPrintable(QString::number(t.firstShownMs)));
        // Then it plays on: pictures keep coming at the stream's pace.
        QTRY_VERIFY_WITH_TIMEOUT(m_shown.size() >= 25, 5000);
        for (int luma : std::as_const(m_shown))
            QVERIFY(isSource(luma, kDark));
    }

    void aViewAttachedLateGetsThePictureAtOnce()
    {
        // A cold start plays while the QML loads: the video item's sink comes after the first picture.
        FfmpegPlayer player;
        QSignalSpy first(&player, &Player::firstFrame);
        player.play(m_server.url(QStringLiteral("bright.ts")));
        QVERIFY(first.wait(5000));
        QVideoSink view;
        player.setVideoSink(&view);
        QVERIFY(view.videoFrame().isValid()); // not only with the next picture
        QVERIFY(isSource(lumaOf(view.videoFrame()), kBright));
        player.setVideoSink(nullptr);
    }

    void zapShowsOnlyTheNewSource_data()
    {
        QTest::addColumn<int>("zaps");
        QTest::addColumn<int>("waitMs"); // between zaps; 0 = the next key at once
        QTest::newRow("one zap") << 1 << 0;
        QTest::newRow("zapping while tuning") << 7 << 0;
        QTest::newRow("zapping every 150 ms") << 6 << 150;
    }

    void zapShowsOnlyTheNewSource()
    {
        QFETCH(int, zaps);
        QFETCH(int, waitMs);
        QSignalSpy first(m_player.get(), &Player::firstFrame);
        m_player->play(m_server.url(QStringLiteral("dark.ts")));
        QVERIFY(first.wait(5000));
        QTRY_VERIFY(m_shown.size() >= 5);
        int expected = kDark;
        for (int i = 0; i < zaps; ++i) {
            if (waitMs > 0)
                QTest::qWait(waitMs);
            expected = expected == kDark ? kBright : kDark;
            m_player->play(m_server.url(expected == kDark ? QStringLiteral("dark.ts") : QStringLiteral("bright.ts")));
            m_shown.clear(); // from here on, every picture must be the new source's
            first.clear();
            QCOMPARE(m_player->state(), Player::State::Opening);
        }
        QVERIFY(first.wait(5000));
        QTRY_VERIFY_WITH_TIMEOUT(m_shown.size() >= 15, 5000);
        QCOMPARE(first.size(), 1);
        for (int luma : std::as_const(m_shown))
            QVERIFY2(isSource(luma, expected), qPrintable(QStringLiteral("a picture of luma %1 after zapping to %2").arg(luma).arg(expected)));
        QCOMPARE(m_player->startTiming().generation, m_player->generation());
        // The old streams wind down by themselves.
        QTRY_COMPARE_WITH_TIMEOUT(m_player->activeStreams(), 1, 3000);
    }

    void stopDuringStalledConnectionReturnsAtOnce()
    {
        QSignalSpy requested(&m_server, &LiveTsServer::requested);
        m_player->play(m_server.url(QStringLiteral("stall.ts")));
        QVERIFY(requested.wait(5000)); // the stream's thread now waits for an answer
        QElapsedTimer t;
        t.start();
        m_player->stop();
        // Waiting for the stalled read would take its 5 s timeout; the margin is for a loaded machine.
        QVERIFY2(t.elapsed() < 200, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(m_player->state(), Player::State::Stopped);
        QTRY_COMPARE_WITH_TIMEOUT(m_player->activeStreams(), 0, 1000); // interrupted, not timed out
        // And a zap away from a stalled stream plays the new one at once.
        QSignalSpy first(m_player.get(), &Player::firstFrame);
        m_player->play(m_server.url(QStringLiteral("stall.ts")));
        QVERIFY(requested.wait(5000));
        m_player->play(m_server.url(QStringLiteral("bright.ts")));
        QVERIFY(first.wait(5000));
        QTRY_VERIFY(!m_shown.isEmpty());
        QVERIFY(isSource(m_shown.last(), kBright));
    }

    void destroyDuringStalledConnectionReturnsAtOnce()
    {
        QSignalSpy requested(&m_server, &LiveTsServer::requested);
        m_player->play(m_server.url(QStringLiteral("stall.ts")));
        QVERIFY(requested.wait(5000));
        QElapsedTimer t;
        t.start();
        m_player.reset(); // interrupts the stream and waits for its thread, which ends within FFmpeg's 100 ms poll
        QVERIFY2(t.elapsed() < 1000, qPrintable(QString::number(t.elapsed())));
    }

    void desktopHalPlaysWithIt()
    {
        iptv::hal::DesktopHal hal;
        auto *player = qobject_cast<FfmpegPlayer *>(hal.player());
        QVERIFY(player);
        hal.setVolume(20);
        hal.setMuted(true);
        QSignalSpy first(player, &Player::firstFrame);
        player->play(m_server.url(QStringLiteral("bright.ts")));
        QVERIFY(first.wait(5000));
        // Standby stops the picture at once; the stream winds down on its own.
        hal.setStandby(true);
        QCOMPARE(player->state(), Player::State::Stopped);
        QTRY_COMPARE_WITH_TIMEOUT(player->activeStreams(), 0, 2000);
    }

    void badStreamsFail_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("reason");
        QTest::newRow("refused") << QStringLiteral("refused") << QStringLiteral("Cannot connect to");
        QTest::newRow("404") << QStringLiteral("nothing.ts") << QStringLiteral("Cannot connect to");
        QTest::newRow("no answer") << QStringLiteral("stall.ts") << QStringLiteral("no answer within 1 s");
        QTest::newRow("answer, then silence") << QStringLiteral("silent.ts") << QStringLiteral("no data within 1 s");
        QTest::newRow("garbage") << QStringLiteral("garbage.ts") << QStringLiteral("no video found in");
        QTest::newRow("ends") << QStringLiteral("ends.ts") << QStringLiteral("ended");
    }

    void badStreamsFail()
    {
        QFETCH(QString, path);
        QFETCH(QString, reason);
        QUrl url = m_server.url(path);
        if (path == QLatin1String("refused")) {
            QTcpServer closed; // a port nobody listens on any more
            QVERIFY(closed.listen(QHostAddress::LocalHost));
            url = QUrl(QStringLiteral("http://127.0.0.1:%1/live/x.ts").arg(closed.serverPort()));
        }
        m_player->setNetworkTimeouts(1000, 1000);
        m_player->setPictureTimeout(3000);
        QSignalSpy failed(m_player.get(), &Player::errorOccurred);
        m_player->play(url);
        QVERIFY(failed.wait(5000));
        QCOMPARE(m_player->state(), Player::State::Failed);
        const QString message = failed.first().first().toString();
        QCOMPARE(m_player->errorString(), message);
        QVERIFY2(message.contains(url.toDisplayString()), qPrintable(message)); // where
        QVERIFY2(message.contains(reason), qPrintable(message));                // why
        QTRY_COMPARE_WITH_TIMEOUT(m_player->activeStreams(), 0, 2000);
        // The player is not stuck: the next channel plays.
        QSignalSpy first(m_player.get(), &Player::firstFrame);
        m_player->play(m_server.url(QStringLiteral("bright.ts")));
        QVERIFY(first.wait(5000));
        QCOMPARE(m_player->state(), Player::State::Playing);
        QVERIFY(m_player->errorString().isEmpty());
    }
};

QTEST_MAIN(TestFfmpegPlayer)
#include "tst_ffmpegplayer.moc"
