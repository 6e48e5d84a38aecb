// MediaInput opening sources whose audio the first, brief probe (2 MB, 2 s) does not find the
// parameters of: audio that starts seconds after the video, as a source's first packets may have
// it, and as a probe cut short on a loaded machine leaves it. The input must open with the audio
// stream and its sample rate and channels, lose no packet, or say that it starts without audio.

#include <media/input.h>

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <map>

using namespace iptv::media;

namespace {

/// Makes `path`: `seconds` of 160x90 H.264 (1 s GOPs) and AAC mono 48 kHz in MPEG-TS whose
/// audio starts `audioLateSeconds` after the video (its first packets that far into the file).
bool makeLateAudioTs(const QString &path, int seconds, int audioLateSeconds, QString *why)
{
    QProcess ffmpeg;
    ffmpeg.setProcessChannelMode(QProcess::MergedChannels);
    ffmpeg.start(QStringLiteral("ffmpeg"),
                 {QStringLiteral("-hide_banner"), QStringLiteral("-loglevel"), QStringLiteral("error"), QStringLiteral("-nostdin"),
                  QStringLiteral("-f"), QStringLiteral("lavfi"), QStringLiteral("-i"), QStringLiteral("testsrc2=size=160x90:rate=25"),
                  QStringLiteral("-itsoffset"), QString::number(audioLateSeconds), QStringLiteral("-f"), QStringLiteral("lavfi"),
                  QStringLiteral("-i"), QStringLiteral("sine=frequency=440:sample_rate=48000"), QStringLiteral("-t"),
                  QString::number(seconds), QStringLiteral("-map"), QStringLiteral("0:v"), QStringLiteral("-map"), QStringLiteral("1:a"),
                  QStringLiteral("-c:v"), QStringLiteral("libx264"), QStringLiteral("-preset"), QStringLiteral("ultrafast"),
                  QStringLiteral("-g"), QStringLiteral("25"), QStringLiteral("-pix_fmt"), QStringLiteral("yuv420p"),
                  QStringLiteral("-c:a"), QStringLiteral("aac"), QStringLiteral("-b:a"), QStringLiteral("48k"), QStringLiteral("-f"),
                  QStringLiteral("mpegts"), QStringLiteral("-y"), path});
    if (!ffmpeg.waitForFinished(120000) || ffmpeg.exitStatus() != QProcess::NormalExit || ffmpeg.exitCode() != 0) {
        *why = QStringLiteral("ffmpeg failed: ") + QString::fromLocal8Bit(ffmpeg.readAll());
        return false;
    }
    return true;
}

/// Packets per stream of `path` read with FFmpeg's own (long) probe: the reference.
std::map<int, int> packetsPerStream(const QString &path)
{
    std::map<int, int> counts;
    AVFormatContext *raw = nullptr;
    if (avformat_open_input(&raw, path.toUtf8().constData(), nullptr, nullptr) < 0)
        return counts;
    InputContext ctx(raw);
    if (avformat_find_stream_info(ctx.get(), nullptr) < 0)
        return counts;
    Packet p = makePacket();
    while (av_read_frame(ctx.get(), p.get()) >= 0) {
        ++counts[p->stream_index];
        av_packet_unref(p.get());
    }
    return counts;
}

} // namespace

class TestMediaInput : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void lateAudioOpensWithItsParameters();
    void audioTooLateIsLeftOutThenJoins();

private:
    QTemporaryDir m_dir;
    QString m_late;     ///< audio 5 s after the video: past the first probe, within the further one
    QString m_tooLate;  ///< audio 14 s after the video: past the further probe too
};

void TestMediaInput::initTestCase()
{
    QVERIFY(m_dir.isValid());
    installFfmpegLogHandler();
    QString why;
    m_late = m_dir.filePath(QStringLiteral("late.ts"));
    QVERIFY2(makeLateAudioTs(m_late, 10, 5, &why), qPrintable(why));
    m_tooLate = m_dir.filePath(QStringLiteral("toolate.ts"));
    QVERIFY2(makeLateAudioTs(m_tooLate, 18, 14, &why), qPrintable(why));
}

void TestMediaInput::lateAudioOpensWithItsParameters()
{
    QString why;
    std::optional<InputSpec> spec = InputSpec::parse(QStringLiteral("file:") + m_late, &why);
    QVERIFY2(spec, qPrintable(why));
    spec->logName = QStringLiteral("late");
    MediaInput in;
    MediaError error;
    QVERIFY2(in.open(*spec, &error), qPrintable(error.toString()));
    QVERIFY(in.videoStream() >= 0);
    QVERIFY2(in.audioStream() >= 0, "the late audio stream was left out: the first probe did not find its parameters");
    const AVCodecParameters *audio = in.context()->streams[in.audioStream()]->codecpar;
    QCOMPARE(audio->codec_id, AV_CODEC_ID_AAC);
    QCOMPARE(audio->sample_rate, 48000);
    QCOMPARE(audio->ch_layout.nb_channels, 1);
    QCOMPARE(in.probeReport().streamsProbedMore, 1);
    QVERIFY(!in.probeReport().audioLeftOut);
    QVERIFY2(in.probeReport().mediaUs >= 2'000'000 && in.probeReport().mediaUs < 8'000'000,
             qPrintable(QString::number(in.probeReport().mediaUs)));

    // Every packet the further probe read comes out of read(), in order: none lost, none twice.
    const std::map<int, int> expected = packetsPerStream(m_late);
    QVERIFY(expected.size() == 2);
    std::map<int, int> got;
    qint64 lastVideoDts = AV_NOPTS_VALUE;
    Packet p = makePacket();
    for (;;) {
        const MediaInput::Read r = in.read(p.get(), &error);
        if (r == MediaInput::Read::End)
            break;
        QVERIFY2(r == MediaInput::Read::Packet, qPrintable(error.toString()));
        ++got[p->stream_index];
        if (p->stream_index == in.videoStream() && p->dts != AV_NOPTS_VALUE) {
            QVERIFY2(lastVideoDts == AV_NOPTS_VALUE || p->dts > lastVideoDts, "video packets out of order");
            lastVideoDts = p->dts;
        }
    }
    QCOMPARE(got.at(in.videoStream()), expected.at(in.videoStream()));
    QCOMPARE(got.at(in.audioStream()), expected.at(in.audioStream()));

    // A looping file: after a rewind the first packets come from the start again.
    QVERIFY2(in.rewind(&error), qPrintable(error.toString()));
    QCOMPARE(in.read(p.get(), &error), MediaInput::Read::Packet);
}

void TestMediaInput::audioTooLateIsLeftOutThenJoins()
{
    QString why;
    std::optional<InputSpec> spec = InputSpec::parse(QStringLiteral("file:") + m_tooLate, &why);
    QVERIFY2(spec, qPrintable(why));
    MediaInput in;
    MediaError error;
    QVERIFY2(in.open(*spec, &error), qPrintable(error.toString()));
    QVERIFY(in.videoStream() >= 0);
    QCOMPARE(in.audioStream(), -1);
    QVERIFY(in.probeReport().audioLeftOut);
    QVERIFY(in.probeReport().mediaUs >= qint64(MediaInput::kMoreProbeSeconds) * 1'000'000);
    // The video read meanwhile is not lost; the audio joins with its first packet, 14 s in, and
    // none of it is lost either (its first packet decodes: an ADTS header). Before the fix the
    // audio never came.
    const std::map<int, int> expected = packetsPerStream(m_tooLate);
    QCOMPARE(expected.size(), size_t(2));
    const int video = in.videoStream();
    const int audio = video == 0 ? 1 : 0;
    std::map<int, int> got;
    int joined = 0;
    qint64 joinedAtUs = AV_NOPTS_VALUE;
    Packet p = makePacket();
    for (MediaInput::Read r; (r = in.read(p.get(), &error)) != MediaInput::Read::End;) {
        QVERIFY2(r == MediaInput::Read::Packet, qPrintable(error.toString()));
        if (in.takeAudioJoined()) {
            ++joined;
            QCOMPARE(p->stream_index, audio);
            QCOMPARE(in.audioStream(), audio);
            const AVCodecParameters *par = in.context()->streams[audio]->codecpar;
            QCOMPARE(par->codec_id, AV_CODEC_ID_AAC);
            QCOMPARE(par->sample_rate, 48000);
            QCOMPARE(par->ch_layout.nb_channels, 1);
            joinedAtUs = av_rescale_q(p->pts, in.context()->streams[audio]->time_base, AVRational{1, 1000000})
                - in.context()->start_time;
        }
        QVERIFY2(p->stream_index == video || (joined == 1 && p->stream_index == audio),
                 qPrintable(QStringLiteral("a packet of stream %1 before the audio joined").arg(p->stream_index)));
        // A reader opens a muxer from them at any packet (pass-through: the next keyframe); the
        // MPEG-TS demuxer zeroes them again every few packets.
        if (joined == 1) {
            QCOMPARE(in.context()->streams[audio]->codecpar->sample_rate, 48000);
            QCOMPARE(in.context()->streams[audio]->codecpar->ch_layout.nb_channels, 1);
        }
        ++got[p->stream_index];
    }
    QCOMPARE(joined, 1);
    QVERIFY2(joinedAtUs >= 13'500'000 && joinedAtUs < 15'000'000, qPrintable(QString::number(joinedAtUs)));
    QVERIFY(in.probeReport().audioJoinedLate);
    QCOMPARE(got.at(video), expected.at(video));
    QCOMPARE(got.at(audio), expected.at(audio));
}

QTEST_GUILESS_MAIN(TestMediaInput)
#include "tst_mediainput.moc"
