// Scaler: the same picture whatever the number of threads, and the same picture as a plain
// sws_getContext + sws_scale of the same frame (the way it scaled before it had threads).

#include <media/codec.h>

#include <QTest>

extern "C" {
#include <libavutil/imgutils.h>
}

using namespace iptv::media;

namespace {

/// A 1920x1080 yuv420p frame with gradients and a diagonal, so every slice differs.
Frame sourceFrame()
{
    Frame f = makeFrame();
    f->width = 1920;
    f->height = 1080;
    f->format = AV_PIX_FMT_YUV420P;
    if (av_frame_get_buffer(f.get(), 0) < 0)
        return {};
    for (int y = 0; y < f->height; ++y)
        for (int x = 0; x < f->width; ++x)
            f->data[0][y * f->linesize[0] + x] = uint8_t((x + 3 * y + (x == y ? 100 : 0)) & 0xff);
    for (int p = 1; p < 3; ++p)
        for (int y = 0; y < f->height / 2; ++y)
            for (int x = 0; x < f->width / 2; ++x)
                f->data[p][y * f->linesize[p] + x] = uint8_t((p * 40 + x / 4 + y / 3) & 0xff);
    return f;
}

/// The planes of a yuv420p frame without the padding at the end of each line.
QByteArray planes(const AVFrame *f)
{
    QByteArray out;
    for (int p = 0; p < 3; ++p) {
        const int w = p ? f->width / 2 : f->width, h = p ? f->height / 2 : f->height;
        for (int y = 0; y < h; ++y)
            out.append(reinterpret_cast<const char *>(f->data[p] + y * f->linesize[p]), w);
    }
    return out;
}

} // namespace

class TestScaler : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sameAsSwsScale_data()
    {
        QTest::addColumn<int>("threads");
        QTest::addColumn<int>("width");
        QTest::addColumn<int>("height");
        QTest::newRow("1 thread, 720p") << 1 << 1280 << 720;
        QTest::newRow("2 threads, 720p") << 2 << 1280 << 720;
        QTest::newRow("auto, 720p") << 0 << 1280 << 720;
        QTest::newRow("4 threads, 480p") << 4 << 854 << 480;
        QTest::newRow("3 threads, 360p") << 3 << 640 << 360;
    }
    void sameAsSwsScale()
    {
        QFETCH(int, threads);
        QFETCH(int, width);
        QFETCH(int, height);
        const Frame src = sourceFrame();
        QVERIFY(src);

        SwsContextPtr sws(sws_getContext(src->width, src->height, AV_PIX_FMT_YUV420P, width, height, AV_PIX_FMT_YUV420P,
                                         SWS_BICUBIC, nullptr, nullptr, nullptr));
        QVERIFY(sws);
        Frame expected = makeFrame();
        expected->width = width;
        expected->height = height;
        expected->format = AV_PIX_FMT_YUV420P;
        QCOMPARE(av_frame_get_buffer(expected.get(), 0), 0);
        QVERIFY(sws_scale(sws.get(), src->data, src->linesize, 0, src->height, expected->data, expected->linesize) > 0);

        Scaler scaler;
        scaler.setThreads(threads);
        MediaError error;
        for (int round = 0; round < 2; ++round) { // the context is reused for the second frame
            src->pts = 40000 * round;
            const AVFrame *out = scaler.scale(src.get(), width, height, &error);
            QVERIFY2(out, qPrintable(error.toString()));
            QCOMPARE(out->width, width);
            QCOMPARE(out->height, height);
            QCOMPARE(out->pts, src->pts);
            QVERIFY(planes(out) == planes(expected.get()));
        }
    }
};

QTEST_GUILESS_MAIN(TestScaler)
#include "tst_scaler.moc"
