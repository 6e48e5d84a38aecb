// bench_channelchange: channel change on ReCast's MPEG-TS output, as a player sees it: from the
// HTTP request to the first decoded video frame, over --count requests at random phases of the GOP.
// Prints JSON (milliseconds): p50, p90, max and every sample.
//
//   bench_channelchange --url http://127.0.0.1:8440/live/ch001.ts --count 50
//   bench_channelchange --url 'http://127.0.0.1:8440/live/ch001.ts?cache=0' --count 50
//
// The client is libavformat (HTTP, MPEG-TS demuxer forced, no stream-info probing) and libavcodec's
// H.264 decoder with one thread, as a set-top box would open a channel: PAT/PMT, then packets until
// the first frame decodes. Decode errors before a keyframe are what "without the cache" costs.

#include <media/ffmpeg.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QThread>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace {

[[noreturn]] void fail(const QString &what)
{
    std::fprintf(stderr, "bench_channelchange: %s\n", qPrintable(what));
    std::exit(2);
}

/// One channel change: ms from opening the URL to the first decoded video frame; -1 on failure.
double changeOnce(const QByteArray &url, int timeoutMs, QString *error)
{
    QElapsedTimer t;
    t.start();
    AVDictionary *opts = nullptr;
    av_dict_set_int(&opts, "rw_timeout", qint64(timeoutMs) * 1000, 0);
    AVFormatContext *fmt = nullptr;
    const AVInputFormat *ts = av_find_input_format("mpegts");
    int rc = avformat_open_input(&fmt, url.constData(), ts, &opts);
    av_dict_free(&opts);
    if (rc < 0) {
        *error = QStringLiteral("opening %1: %2").arg(QString::fromUtf8(url), iptv::media::avErrorText(rc));
        return -1;
    }
    AVCodecContext *dec = nullptr;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    double ms = -1;
    int video = -1;
    while (ms < 0 && t.elapsed() < timeoutMs) {
        rc = av_read_frame(fmt, pkt);
        if (rc < 0) {
            *error = QStringLiteral("reading %1: %2").arg(QString::fromUtf8(url), iptv::media::avErrorText(rc));
            break;
        }
        if (video < 0) {
            for (unsigned i = 0; i < fmt->nb_streams; ++i) {
                if (fmt->streams[i]->codecpar->codec_id == AV_CODEC_ID_H264) {
                    video = int(i);
                    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
                    dec = avcodec_alloc_context3(codec);
                    avcodec_parameters_to_context(dec, fmt->streams[i]->codecpar);
                    dec->thread_count = 1;
                    avcodec_open2(dec, codec, nullptr);
                    break;
                }
            }
        }
        if (pkt->stream_index == video && avcodec_send_packet(dec, pkt) >= 0) {
            if (avcodec_receive_frame(dec, frame) >= 0)
                ms = t.nsecsElapsed() / 1e6;
        }
        av_packet_unref(pkt);
    }
    if (ms < 0 && error->isEmpty())
        *error = QStringLiteral("no video frame from %1 within %2 ms").arg(QString::fromUtf8(url)).arg(timeoutMs);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return ms;
}

double percentile(std::vector<double> v, double p)
{
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
    return v[i];
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    av_log_set_level(AV_LOG_FATAL);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Request to first decoded frame on an MPEG-TS URL; JSON on stdout."));
    parser.addHelpOption();
    parser.addOptions({
        {QStringLiteral("url"), QStringLiteral("The MPEG-TS URL."), QStringLiteral("url")},
        {QStringLiteral("count"), QStringLiteral("Requests (default 50)."), QStringLiteral("n"), QStringLiteral("50")},
        {QStringLiteral("timeout-ms"), QStringLiteral("Per request (default 10000)."), QStringLiteral("ms"), QStringLiteral("10000")},
    });
    parser.process(app);
    if (!parser.isSet(QStringLiteral("url")))
        fail(QStringLiteral("--url is required"));
    avformat_network_init();
    const QByteArray url = parser.value(QStringLiteral("url")).toUtf8();
    const int count = parser.value(QStringLiteral("count")).toInt();
    const int timeoutMs = parser.value(QStringLiteral("timeout-ms")).toInt();

    std::vector<double> samples;
    QJsonArray all;
    int failures = 0;
    for (int i = 0; i < count; ++i) {
        // A random pause, so requests land at every phase of the GOP.
        QThread::msleep(100 + QRandomGenerator::global()->bounded(900));
        QString error;
        const double ms = changeOnce(url, timeoutMs, &error);
        if (ms < 0) {
            ++failures;
            std::fprintf(stderr, "bench_channelchange: %s\n", qPrintable(error));
            continue;
        }
        samples.push_back(ms);
        all.append(qRound(ms * 10) / 10.0);
    }
    if (samples.empty())
        fail(QStringLiteral("every request failed"));
    const QJsonObject result{
        {QStringLiteral("url"), QString::fromUtf8(url)},
        {QStringLiteral("count"), int(samples.size())},
        {QStringLiteral("failures"), failures},
        {QStringLiteral("p50"), percentile(samples, 0.5)},
        {QStringLiteral("p90"), percentile(samples, 0.9)},
        {QStringLiteral("max"), *std::max_element(samples.begin(), samples.end())},
        {QStringLiteral("samplesMs"), all},
    };
    std::fputs(QJsonDocument(result).toJson(QJsonDocument::Compact).constData(), stdout);
    std::fputc('\n', stdout);
    return failures ? 1 : 0;
}
