// TsMuxer's output: its sink is handed large pieces, not one a packet (each piece is a write(2)
// of a recording's journal), and pendingBytes() is where the next packet starts, counting what
// the I/O buffer holds: a keyframe's SDT and PAT (resendHeaders) are found at that offset of what take()
// returns. Fed synthetic H.264 access units (Annex B), as MPEG-TS carries them.

#include <media/tsmuxer.h>

#include <QTest>

using namespace iptv::media;

namespace {

constexpr qint64 kFrameUs = 40'000; ///< 25 fps
constexpr int kGopFrames = 25;

QByteArray videoFrame(bool key, int size)
{
    QByteArray au = QByteArray::fromHex("0000000109f0");
    au += key ? QByteArray::fromHex("0000000165888400") : QByteArray::fromHex("00000001419a0200");
    au += QByteArray(size, '\x5a');
    return au;
}

Packet packet(const QByteArray &data, qint64 atUs, bool key)
{
    Packet p = makePacket();
    if (av_new_packet(p.get(), int(data.size())) == 0)
        memcpy(p->data, data.constData(), size_t(data.size()));
    p->pts = p->dts = atUs;
    p->duration = kFrameUs;
    p->flags = key ? AV_PKT_FLAG_KEY : 0;
    return p;
}

bool openVideo(TsMuxer *muxer)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_H264;
    par->width = 1920;
    par->height = 1080;
    MediaError error;
    const bool ok = muxer->open({par}, &error);
    avcodec_parameters_free(&par);
    return ok;
}

int pidAt(const QByteArray &ts, qsizetype at)
{
    const auto *b = reinterpret_cast<const uchar *>(ts.constData() + at);
    return b[0] == 0x47 ? ((b[1] & 0x1f) << 8) | b[2] : -1;
}

} // namespace

class TestTsMuxer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // 5 Mbit/s of 25 fps video (~25 KB a frame) for 4 s: the sink gets pieces of tens of KiB,
    // not one a packet (100 packets: a piece each before), and every byte in order.
    void sinkGetsLargePieces()
    {
        TsMuxer muxer;
        QVERIFY(openVideo(&muxer));
        QByteArray sunk;
        int pieces = 0;
        muxer.setSink([&](const char *data, int size) {
            sunk.append(data, size);
            ++pieces;
            return true;
        });
        constexpr int kFrames = 100;
        for (int i = 0; i < kFrames; ++i) {
            MediaError error;
            Packet p = packet(videoFrame(i % kGopFrames == 0, 25'000), i * kFrameUs, i % kGopFrames == 0);
            QVERIFY2(muxer.write(p.get(), 0, &error), qPrintable(error.toString()));
        }
        QVERIFY(muxer.take().isEmpty()); // the sink took all, the buffer's rest too
        QVERIFY(sunk.size() > kFrames * 25'000);
        QCOMPARE(sunk.size() % 188, 0);
        QVERIFY2(pieces <= sunk.size() / 60'000 + 2, qPrintable(QStringLiteral("%1 pieces for %2 bytes").arg(pieces).arg(sunk.size())));
        for (qsizetype at = 0; at < sunk.size(); at += 188)
            QVERIFY(pidAt(sunk, at) >= 0);
    }

    // Without a sink: before each keyframe, pendingBytes() is the offset at which its SDT and PAT
    // (resendHeaders) lies in what take() returns, with the I/O buffer not yet flushed.
    void pendingBytesIsWhereTheNextPacketStarts()
    {
        TsMuxer muxer;
        QVERIFY(openVideo(&muxer));
        QList<qsizetype> keyOffsets;
        for (int i = 0; i < 3 * kGopFrames; ++i) {
            const bool key = i % kGopFrames == 0;
            if (key) {
                muxer.resendHeaders();
                keyOffsets << muxer.pendingBytes();
            }
            MediaError error;
            Packet p = packet(videoFrame(key, key ? 30'000 : 3'000), i * kFrameUs, key);
            QVERIFY2(muxer.write(p.get(), 0, &error), qPrintable(error.toString()));
        }
        const qsizetype before = muxer.pendingBytes();
        const QByteArray ts = muxer.take();
        QCOMPARE(ts.size(), before);
        QCOMPARE(keyOffsets.size(), 3);
        for (int k = 1; k < keyOffsets.size(); ++k) {
            const qsizetype at = keyOffsets[k];
            QVERIFY2(at > keyOffsets[k - 1] && at % 188 == 0 && at < ts.size(), qPrintable(QString::number(at)));
            // The tables written again before the keyframe: the SDT, then the PAT.
            QCOMPARE(pidAt(ts, at), 0x11);
            QCOMPARE(pidAt(ts, at + 188), 0);
        }
    }
};

QTEST_GUILESS_MAIN(TestTsMuxer)
#include "tst_tsmuxer.moc"
