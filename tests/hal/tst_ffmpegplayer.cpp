// FfmpegPlayer against live MPEG-TS streams made in the test (LiveTsServer): the first picture and
// the parts of its start, zaps whose pictures are told apart by brightness (after a zap only the
// new source's pictures reach the sink, however fast the zaps come), stop and destruction while a
// connection stalls return at once, and dead or garbage streams fail with a message that says
// what, where and why. Pictures converted to RGB (the simulator's software rasteriser) keep their
// colours.
#include "livetsserver.h"

#include <hal/desktophal.h>
#include <hal/ffmpegplayer.h>

#include <QAudioDevice>
#include <QElapsedTimer>
#include <QFile>
#include <QHash>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QSignalSpy>
#include <QTest>
#include <QVideoFrame>
#include <QVideoSink>

using iptv::hal::FfmpegPlayer;
using iptv::hal::Player;

namespace {

constexpr int kDark = 40;
/// Under half the player's 5 s open timeout: what is interrupted is done by then, what waits for
/// the timeout is not.
constexpr int kStalledAnswerMs = 2000;
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

/// One audio track of writeTwoLanguageTs(): its language tag, and a rate and channel count no
/// other track has, so what was decoded tells which track it was.
struct AudioTrack
{
    const char *language;
    int sampleRate;
    int channels;
    bool isDefault;
};

/// Writes `seconds` of MPEG-TS to `path`: MPEG-2 video 160x96 at 25 fps and one MP2 track per
/// `tracks` entry, tagged with its language (the PMT's ISO 639 descriptor). Empty when it worked.
QString writeTwoLanguageTs(const QString &path, const QList<AudioTrack> &tracks, int seconds)
{
    using namespace iptv::media;
    AVFormatContext *raw = nullptr;
    int rc = avformat_alloc_output_context2(&raw, nullptr, "mpegts", nullptr);
    if (rc < 0)
        return u"mpegts muxer: "_qs + avErrorText(rc);
    OutputContext out(raw);
    struct Track { CodecContext codec; AVStream *stream = nullptr; qint64 next = 0; };
    std::vector<Track> all;
    auto addStream = [&](AVCodecID id, const std::function<void(AVCodecContext *)> &setup, QString *error) -> Track * {
        const AVCodec *codec = avcodec_find_encoder(id);
        if (!codec) {
            *error = QStringLiteral("no %1 encoder").arg(QLatin1String(avcodec_get_name(id)));
            return nullptr;
        }
        Track t;
        t.codec.reset(avcodec_alloc_context3(codec));
        setup(t.codec.get());
        int r = avcodec_open2(t.codec.get(), codec, nullptr);
        t.stream = r < 0 ? nullptr : avformat_new_stream(out.get(), nullptr);
        if (t.stream)
            r = avcodec_parameters_from_context(t.stream->codecpar, t.codec.get());
        if (r < 0 || !t.stream) {
            *error = QStringLiteral("%1 encoder: %2").arg(QLatin1String(avcodec_get_name(id)), avErrorText(r));
            return nullptr;
        }
        t.stream->time_base = t.codec->time_base;
        all.push_back(std::move(t));
        return &all.back();
    };
    QString error;
    all.reserve(size_t(tracks.size() + 1));
    if (!addStream(AV_CODEC_ID_MPEG2VIDEO, [](AVCodecContext *c) {
            c->width = 160;
            c->height = 96;
            c->time_base = {1, 25};
            c->framerate = {25, 1};
            c->pix_fmt = AV_PIX_FMT_YUV420P;
            c->gop_size = 12;
            c->max_b_frames = 0;
            c->bit_rate = 200'000;
        }, &error))
        return error;
    for (const AudioTrack &a : tracks) {
        Track *t = addStream(AV_CODEC_ID_MP2, [&a](AVCodecContext *c) {
            c->sample_fmt = AV_SAMPLE_FMT_S16;
            c->sample_rate = a.sampleRate;
            av_channel_layout_default(&c->ch_layout, a.channels);
            c->bit_rate = 64'000;
            c->time_base = {1, a.sampleRate};
        }, &error);
        if (!t)
            return error;
        av_dict_set(&t->stream->metadata, "language", a.language, 0);
        t->stream->disposition = a.isDefault ? AV_DISPOSITION_DEFAULT : 0;
    }
    if ((rc = avio_open(&out->pb, QFile::encodeName(path).constData(), AVIO_FLAG_WRITE)) < 0
        || (rc = avformat_write_header(out.get(), nullptr)) < 0)
        return QStringLiteral("writing %1: %2").arg(path, avErrorText(rc));
    Packet packet = makePacket();
    auto drain = [&](Track &t) {
        while ((rc = avcodec_receive_packet(t.codec.get(), packet.get())) >= 0) {
            av_packet_rescale_ts(packet.get(), t.codec->time_base, t.stream->time_base);
            packet->stream_index = t.stream->index;
            if ((rc = av_interleaved_write_frame(out.get(), packet.get())) < 0)
                return false;
        }
        return rc == AVERROR(EAGAIN) || rc == AVERROR_EOF;
    };
    // Video frame by frame, each audio track kept up with it.
    for (int i = 0; i < seconds * 25; ++i) {
        Frame picture = makeFrame();
        picture->width = 160;
        picture->height = 96;
        picture->format = AV_PIX_FMT_YUV420P;
        if (av_frame_get_buffer(picture.get(), 0) < 0)
            return u"no memory for a picture"_qs;
        for (int p = 0; p < 3; ++p)
            memset(picture->data[p], p == 0 ? 100 : 128, size_t(picture->linesize[p]) * (p == 0 ? 96 : 48));
        picture->pts = i;
        if (avcodec_send_frame(all[0].codec.get(), picture.get()) < 0 || !drain(all[0]))
            return QStringLiteral("encoding video: %1").arg(avErrorText(rc));
        for (size_t k = 1; k < all.size(); ++k) {
            Track &t = all[k];
            AVCodecContext *c = t.codec.get();
            while (t.next * 25 < qint64(i + 1) * c->sample_rate) {
                Frame sound = makeFrame();
                sound->format = c->sample_fmt;
                sound->sample_rate = c->sample_rate;
                sound->nb_samples = c->frame_size;
                av_channel_layout_copy(&sound->ch_layout, &c->ch_layout);
                if (av_frame_get_buffer(sound.get(), 0) < 0)
                    return u"no memory for sound"_qs;
                memset(sound->data[0], 0, size_t(sound->linesize[0]));
                sound->pts = t.next;
                t.next += c->frame_size;
                if (avcodec_send_frame(c, sound.get()) < 0 || !drain(t))
                    return QStringLiteral("encoding audio: %1").arg(avErrorText(rc));
            }
        }
    }
    for (Track &t : all) {
        avcodec_send_frame(t.codec.get(), nullptr);
        if (!drain(t))
            return QStringLiteral("draining: %1").arg(avErrorText(rc));
    }
    if ((rc = av_write_trailer(out.get())) < 0)
        return QStringLiteral("finishing %1: %2").arg(path, avErrorText(rc));
    return {};
}

/// HLS over HTTP as diver serves a timeshift, one request per connection:
///   /live.m3u8   a live playlist (no EXT-X-ENDLIST) of seg0.ts, until seg0.ts was fetched;
///                after that 401, as diver answers a reload whose playback token expired
///   /vod.m3u8    the same playlist, ended (EXT-X-ENDLIST)
///   /refused.m3u8  401 at once
///   /seg0.ts     the segment
class HlsServer : public QObject
{
public:
    bool listen(const QByteArray &segment)
    {
        m_segment = segment;
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
                connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onRead(socket); });
            }
        });
        return m_server.listen(QHostAddress::LocalHost);
    }
    QUrl url(const QString &path) const { return QUrl(QStringLiteral("http://127.0.0.1:%1/%2").arg(m_server.serverPort()).arg(path)); }
    int refusals() const { return m_refusals; }

private:
    void onRead(QTcpSocket *socket)
    {
        QByteArray &head = m_heads[socket];
        head += socket->readAll();
        if (!head.contains("\r\n\r\n"))
            return;
        const QByteArray target = head.left(head.indexOf("\r\n")).split(' ').value(1);
        const QByteArray path = target.left(target.indexOf('?') < 0 ? target.size() : target.indexOf('?'));
        m_heads.remove(socket);
        const QByteArray playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\nseg0.ts\n";
        if (path == "/seg0.ts") {
            m_segmentServed = true;
            answer(socket, "200 OK", "video/mp2t", m_segment);
        } else if (path == "/vod.m3u8") {
            answer(socket, "200 OK", "application/vnd.apple.mpegurl", playlist + "#EXT-X-ENDLIST\n");
        } else if (path == "/live.m3u8" && !m_segmentServed) {
            answer(socket, "200 OK", "application/vnd.apple.mpegurl", playlist);
        } else if (path == "/live.m3u8" || path == "/refused.m3u8") {
            ++m_refusals;
            answer(socket, "401 Unauthorized", "application/json",
                   R"({"error": "unauthorized", "detail": "playback token: expired"})");
        } else {
            answer(socket, "404 Not Found", "text/plain", "no such path");
        }
    }
    static void answer(QTcpSocket *socket, const QByteArray &status, const QByteArray &type, const QByteArray &body)
    {
        socket->write("HTTP/1.1 " + status + "\r\nContent-Type: " + type + "\r\nContent-Length: " + QByteArray::number(body.size())
                      + "\r\nConnection: close\r\n\r\n" + body);
        socket->disconnectFromHost();
    }

    QTcpServer m_server;
    QByteArray m_segment;
    QHash<QTcpSocket *, QByteArray> m_heads;
    bool m_segmentServed = false;
    int m_refusals = 0;
};

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

    void rgbPicturesKeepTheSourcesColours()
    {
        // The simulator's pictures (a software rasteriser): RGB made on the stream's thread, the
        // video range's grey at the level the YUV shader would give it.
        m_player->setRgbPictures(true);
        QSignalSpy first(m_player.get(), &Player::firstFrame);
        m_player->play(m_server.url(QStringLiteral("bright.ts")));
        QVERIFY(first.wait(5000));
        QVideoFrame frame = m_sink->videoFrame();
        QCOMPARE(frame.pixelFormat(), QVideoFrameFormat::Format_RGBX8888);
        QVERIFY(frame.map(QVideoFrame::ReadOnly));
        const uchar *pixel = frame.bits(0) + (frame.height() / 2) * frame.bytesPerLine(0) + (frame.width() / 2) * 4;
        const int r = pixel[0], g = pixel[1], b = pixel[2];
        frame.unmap();
        const int expected = (kBright - 16) * 255 / 219;
        QVERIFY2(qAbs(r - expected) < 12 && qAbs(g - expected) < 12 && qAbs(b - expected) < 12,
                 qPrintable(QStringLiteral("rgb %1 %2 %3, expected %4").arg(r).arg(g).arg(b).arg(expected)));
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
        // Waiting for the stalled connection would take its 5 s open timeout: well under half of
        // it, with room for a loaded machine (200 ms was asked before, and a preempted test thread
        // can miss that without the player doing anything wrong).
        QVERIFY2(t.elapsed() < kStalledAnswerMs, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(m_player->state(), Player::State::Stopped);
        QTRY_COMPARE_WITH_TIMEOUT(m_player->activeStreams(), 0, kStalledAnswerMs); // interrupted, not timed out
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
        QVERIFY2(t.elapsed() < kStalledAnswerMs, qPrintable(QString::number(t.elapsed())));
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

    void audioInTheViewersLanguage_data()
    {
        QTest::addColumn<QString>("wanted");
        QTest::addColumn<int>("track");      // of the player's audioLanguages
        QTest::addColumn<int>("sampleRate"); // what was decoded: that track's
        // "deu" is the first and the default, "eng" the second.
        QTest::newRow("en: the second track") << u"en"_qs << 1 << 44100;
        QTest::newRow("eng (639-2)") << u"eng"_qs << 1 << 44100;
        QTest::newRow("de: the first") << u"de"_qs << 0 << 48000;
        QTest::newRow("ger (639-2/B) is deu") << u"ger"_qs << 0 << 48000;
        QTest::newRow("fr: none, the default") << u"fr"_qs << 0 << 48000;
        QTest::newRow("no preference: the default") << QString() << 0 << 48000;
    }

    void audioInTheViewersLanguage()
    {
        QFETCH(QString, wanted);
        QFETCH(int, track);
        QFETCH(int, sampleRate);
        static QTemporaryDir dir;
        const QString file = dir.filePath(u"two-languages.ts"_qs);
        if (!QFile::exists(file)) {
            const QString error = writeTwoLanguageTs(file, {{"deu", 48000, 2, true}, {"eng", 44100, 1, false}}, 4);
            QVERIFY2(error.isEmpty(), qPrintable(error));
        }
        m_player->setDecodeAudioWithoutDevice(true); // this machine may have no audio device
        m_player->setPreferredLanguages(wanted, u"de"_qs);
        QSignalSpy tracks(m_player.get(), &Player::tracksChanged);
        QSignalSpy first(m_player.get(), &Player::firstFrame);
        m_player->play(QUrl::fromLocalFile(file));
        QVERIFY(first.wait(5000));
        QCOMPARE(m_player->audioLanguages(), QStringList({u"deu"_qs, u"eng"_qs}));
        QCOMPARE(m_player->audioTrack(), track);
        QVERIFY(m_player->subtitleLanguages().isEmpty());
        QCOMPARE(m_player->subtitleTrack(), -1);
        // Decoded: that track's sound, and only its.
        QTRY_VERIFY_WITH_TIMEOUT(m_player->statistics().audioFrames > 0, 3000);
        QCOMPARE(m_player->statistics().audioSampleRate, sampleRate);
        QCOMPARE(m_player->statistics().audioChannels, sampleRate == 48000 ? 2 : 1);
        QCOMPARE(m_player->statistics().audioStream, 1 + track); // stream 0 is the video
        QVERIFY(!tracks.isEmpty());
    }

    void languageTags_data()
    {
        QTest::addColumn<QString>("wanted");
        QTest::addColumn<QString>("tag");
        QTest::addColumn<bool>("matches");
        QTest::newRow("639-1 and 639-2/T") << u"de"_qs << u"deu"_qs << true;
        QTest::newRow("639-1 and 639-2/B") << u"de"_qs << u"ger"_qs << true;
        QTest::newRow("fr and fre") << u"fr"_qs << u"fre"_qs << true;
        QTest::newRow("case") << u"EN"_qs << u"eng"_qs << true;
        QTest::newRow("other language") << u"en"_qs << u"deu"_qs << false;
        QTest::newRow("no preference") << QString() << u"eng"_qs << false;
        QTest::newRow("untagged") << u"en"_qs << QString() << false;
        QTest::newRow("unknown codes") << u"qq"_qs << u"qqq"_qs << false;
    }

    void languageTags()
    {
        QFETCH(QString, wanted);
        QFETCH(QString, tag);
        QFETCH(bool, matches);
        QCOMPARE(iptv::hal::languageMatches(wanted, tag), matches);
    }

    void noAudioDevicePlaysPicturesOnly()
    {
        // As on this machine (or a box whose audio output is gone): said once in the log, and
        // the pictures play on the wall clock.
        QTest::ignoreMessage(QtInfoMsg, "no audio output device: pictures play without sound");
        m_player->setAudioDevice(QAudioDevice());
        QVERIFY(!m_player->hasAudio());
        QSignalSpy first(m_player.get(), &Player::firstFrame);
        m_player->play(m_server.url(QStringLiteral("bright.ts")));
        QVERIFY(first.wait(5000));
        QTRY_VERIFY_WITH_TIMEOUT(m_shown.size() >= 25, 5000); // a second of pictures at their pace
        QCOMPARE(m_player->state(), Player::State::Playing);
        QCOMPARE(m_player->statistics().audioFrames, 0); // nothing decoded for nobody
        QCOMPARE(m_player->audioLanguages().size(), 1);  // the stream's audio is still known
    }

    // A timeshift's playlist is reloaded for as long as it plays; a reload refused with 401 (its
    // playback token expired) is said as that (isUnauthorized(): the box plays on from where it
    // is with a fresh token), not as the end of the stream (which is the end of a timeshift).
    // A playlist that really ends is still the end; one refused at once, refused too.
    void refusedPlaylistIsUnauthorized_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<bool>("plays");
        QTest::addColumn<Player::Failure>("failure");
        QTest::addColumn<QString>("reason");
        QTest::newRow("reload refused") << u"live.m3u8?playback=pt1.expired"_qs << true << Player::Failure::Unauthorized
                                        << u"refused on a reload"_qs;
        QTest::newRow("playlist ends") << u"vod.m3u8?playback=pt1.valid"_qs << true << Player::Failure::Ended << u"ended"_qs;
        QTest::newRow("refused at once") << u"refused.m3u8?playback=pt1.expired"_qs << false << Player::Failure::Unauthorized
                                         << u"Cannot connect to"_qs;
    }

    void refusedPlaylistIsUnauthorized()
    {
        QFETCH(QString, path);
        QFETCH(bool, plays);
        QFETCH(Player::Failure, failure);
        QFETCH(QString, reason);
        QTemporaryDir dir;
        const QString file = dir.filePath(u"seg0.ts"_qs);
        const QString written = writeTwoLanguageTs(file, {{"eng", 48000, 2, true}}, 2);
        QVERIFY2(written.isEmpty(), qPrintable(written));
        QFile segment(file);
        QVERIFY(segment.open(QIODevice::ReadOnly));
        HlsServer server;
        QVERIFY(server.listen(segment.readAll()));

        QSignalSpy first(m_player.get(), &Player::firstFrame);
        QSignalSpy failed(m_player.get(), &Player::errorOccurred);
        const QUrl url = server.url(path);
        m_player->play(url);
        QVERIFY(failed.wait(15000));
        QCOMPARE(first.size(), plays ? 1 : 0);
        QCOMPARE(m_player->state(), Player::State::Failed);
        QCOMPARE(m_player->failure(), failure);
        QCOMPARE(m_player->isUnauthorized(), failure == Player::Failure::Unauthorized);
        QCOMPARE(m_player->hasEnded(), failure == Player::Failure::Ended);
        QCOMPARE(server.refusals() > 0, failure == Player::Failure::Unauthorized);
        const QString message = failed.first().first().toString();
        QVERIFY2(message.contains(reason), qPrintable(message));
        QVERIFY2(message.contains(url.toDisplayString(QUrl::RemoveQuery)) && !message.contains(u"pt1."), qPrintable(message));
        // Played again (with a fresh token), the failure is forgotten.
        QSignalSpy again(m_player.get(), &Player::firstFrame);
        m_player->play(m_server.url(QStringLiteral("bright.ts")));
        QVERIFY(again.wait(5000));
        QCOMPARE(m_player->failure(), Player::Failure::None);
    }

    void badStreamsFail_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("reason");
        QTest::newRow("refused") << QStringLiteral("refused") << QStringLiteral("Cannot connect to");
        QTest::newRow("404") << QStringLiteral("nothing.ts") << QStringLiteral("Cannot connect to");
        // diver's URLs carry the box's ticket: never in a message (the screen, logs, telemetry).
        QTest::newRow("404 with a ticket") << QStringLiteral("nothing.ts?ticket=box-secret") << QStringLiteral("Cannot connect to");
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
        // The end of a stream is told apart from errors (a recording played to its end is over).
        QCOMPARE(m_player->hasEnded(), path == u"ends.ts");
        QVERIFY2(message.contains(url.toDisplayString(QUrl::RemoveQuery)), qPrintable(message)); // where
        QVERIFY2(!message.contains(u"box-secret"), qPrintable(message));
        QVERIFY2(message.contains(reason), qPrintable(message));                // why
        QTRY_COMPARE_WITH_TIMEOUT(m_player->activeStreams(), 0, 2000);
        // The player is not stuck: the next channel plays.
        QSignalSpy first(m_player.get(), &Player::firstFrame);
        m_player->play(m_server.url(QStringLiteral("bright.ts")));
        QVERIFY(first.wait(5000));
        QCOMPARE(m_player->state(), Player::State::Playing);
        QVERIFY(m_player->errorString().isEmpty());
        QVERIFY(!m_player->hasEnded());
    }
};

QTEST_MAIN(TestFfmpegPlayer)
#include "tst_ffmpegplayer.moc"
