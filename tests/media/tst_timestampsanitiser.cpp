// TimestampSanitiser: jumps, wraps, outliers, missing timestamps and reconnects, checked against
// the ideal timeline the input was made from: every output DTS must be that ideal position plus
// one constant (continuity and A/V sync in one assertion), strictly increasing per stream.

#include <media/timestampsanitiser.h>

#include <QTest>

#include <algorithm>

using iptv::media::SanitiserEvent;
using iptv::media::TimestampSanitiser;

namespace {

constexpr qint64 kWrap90k = 1LL << 33;
constexpr AVRational k90k{1, 90000};

struct Packet
{
    int stream = 0;
    qint64 t = 0;   ///< ideal position (stream time base), continuous
    qint64 pts = 0; ///< what the input says
    qint64 dts = 0;
    qint64 dur = 0;
};
using Packets = QList<Packet>;

struct StreamSpec
{
    AVRational tb;
    qint64 dur;
};

/// n packets per stream, ideal timeline from `start` seconds, interleaved by time; input = ideal.
Packets makeInput(const QList<StreamSpec> &streams, int seconds, double start = 10.0)
{
    Packets out;
    for (int i = 0; i < streams.size(); ++i) {
        const StreamSpec &s = streams[i];
        const qint64 first = qint64(start * s.tb.den / s.tb.num);
        const qint64 count = qint64(seconds) * s.tb.den / s.tb.num / s.dur;
        for (qint64 k = 0; k < count; ++k) {
            const qint64 t = first + k * s.dur;
            out.append({i, t, t, t, s.dur});
        }
    }
    const auto seconds_ = [&](const Packet &p) { return double(p.t) * streams[p.stream].tb.num / streams[p.stream].tb.den; };
    std::stable_sort(out.begin(), out.end(), [&](const Packet &a, const Packet &b) { return seconds_(a) < seconds_(b); });
    return out;
}

double secondsOf(const Packet &p, const QList<StreamSpec> &streams)
{
    return double(p.t) * streams[p.stream].tb.num / streams[p.stream].tb.den;
}

/// Input timestamps from `fromSecond` on are moved by `deltaSeconds` (an encoder restart).
void jump(Packets &packets, const QList<StreamSpec> &streams, double fromSecond, double deltaSeconds)
{
    for (Packet &p : packets) {
        if (secondsOf(p, streams) >= fromSecond) {
            const StreamSpec &s = streams[p.stream];
            const qint64 d = qint64(deltaSeconds * s.tb.den / s.tb.num);
            p.pts += d;
            p.dts += d;
        }
    }
}

/// The input timestamps as a 33-bit 90 kHz clock shown in the stream's base would be.
void wrapInput(Packets &packets, const QList<StreamSpec> &streams)
{
    for (Packet &p : packets) {
        const StreamSpec &s = streams[p.stream];
        const auto wrap = [&](qint64 v) {
            const qint64 v90 = av_rescale_q(v, s.tb, k90k) % kWrap90k;
            return av_rescale_q(v90, k90k, s.tb);
        };
        p.pts = wrap(p.pts);
        p.dts = wrap(p.dts);
    }
}

int nthOfStream(const Packets &packets, int stream, int n)
{
    for (int i = 0; i < packets.size(); ++i) {
        if (packets[i].stream == stream && n-- == 0)
            return i;
    }
    return -1;
}

struct Result
{
    Packets out;
    QList<SanitiserEvent> events;
};

Result run(TimestampSanitiser &sanitiser, const Packets &input)
{
    Result r;
    for (const Packet &p : input) {
        Packet o = p;
        r.events.append(sanitiser.fix(p.stream, o.pts, o.dts, p.dur));
        r.out.append(o);
    }
    return r;
}

} // namespace

Q_DECLARE_METATYPE(Packets)
Q_DECLARE_METATYPE(QList<StreamSpec>)

class TestTimestampSanitiser : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void timeline_data();
    void timeline();
    void lostInput_data();
    void lostInput();
    void oneStreamHole_data();
    void oneStreamHole();
    void jumpWaitsForConfirmation();
    void smallGapIsKept();
    void reconnectContinuesEachStream();
    void loopKeepsAvInSync();
    void slateBetweenInputs();
    void ptsBehindDtsIsRaised();
    void durationIsLearnt();
    void unknownStreamIsLeftAlone();
};

void TestTimestampSanitiser::timeline_data()
{
    QTest::addColumn<QList<StreamSpec>>("streams");
    QTest::addColumn<Packets>("input");
    QTest::addColumn<quint64>("jumps");
    QTest::addColumn<quint64>("wraps");
    QTest::addColumn<quint64>("repaired");
    QTest::addColumn<qint64>("tolerance"); // ticks: a 1/1000 base cannot hold a 90 kHz clock exactly

    const QList<StreamSpec> video{{k90k, 3600}};
    const QList<StreamSpec> videoMs{{{1, 1000}, 40}};
    const QList<StreamSpec> av{{k90k, 3600}, {k90k, 1920}};
    const QList<StreamSpec> avMixed{{k90k, 3600}, {{1, 48000}, 1024}};

    QTest::newRow("steady") << video << makeInput(video, 4) << quint64(0) << quint64(0) << quint64(0) << qint64(0);
    {
        Packets in = makeInput(video, 6);
        jump(in, video, 12.0, 10.0);
        QTest::newRow("forward jump 10 s") << video << in << quint64(1) << quint64(0) << quint64(2) << qint64(0);
    }
    {
        Packets in = makeInput(video, 6);
        jump(in, video, 12.0, -5.0);
        QTest::newRow("backwards jump 5 s") << video << in << quint64(1) << quint64(0) << quint64(2) << qint64(0);
    }
    {
        Packets in = makeInput(video, 6);
        jump(in, video, 12.0, -0.04); // one frame repeated: DTS equal to the previous
        QTest::newRow("backwards by one frame") << video << in << quint64(1) << quint64(0) << quint64(2) << qint64(0);
    }
    {
        Packets in = makeInput(video, 6);
        jump(in, video, 11.0, 10.0);
        jump(in, video, 13.0, -25.0);
        QTest::newRow("two jumps") << video << in << quint64(2) << quint64(0) << quint64(4) << qint64(0);
    }
    {
        Packets in = makeInput(video, 4);
        in[40].dts += 30 * 90000;
        in[40].pts += 30 * 90000;
        QTest::newRow("single outlier forward") << video << in << quint64(0) << quint64(0) << quint64(1) << qint64(0);
    }
    {
        Packets in = makeInput(video, 4);
        in[40].dts -= 3600LL * 90000;
        in[40].pts -= 3600LL * 90000;
        QTest::newRow("single outlier backwards") << video << in << quint64(0) << quint64(0) << quint64(1) << qint64(0);
    }
    {
        Packets in = makeInput(video, 4);
        for (int i : {40, 41}) { // confirmFrames - 1 agreeing packets are not enough
            in[i].dts += 30 * 90000;
            in[i].pts += 30 * 90000;
        }
        QTest::newRow("two outliers agreeing") << video << in << quint64(0) << quint64(0) << quint64(2) << qint64(0);
    }
    {
        Packets in = makeInput(video, 4);
        in[40].dts = in[39].dts; // duplicated DTS
        in[40].pts = in[39].pts;
        QTest::newRow("duplicate dts") << video << in << quint64(0) << quint64(0) << quint64(1) << qint64(0);
    }
    {
        Packets in = makeInput(video, 4);
        for (int i : {10, 30, 31, 32})
            in[i].pts = in[i].dts = AV_NOPTS_VALUE;
        QTest::newRow("missing timestamps") << video << in << quint64(0) << quint64(0) << quint64(4) << qint64(0);
    }
    {
        Packets in = makeInput(video, 4);
        for (Packet &p : in)
            p.dts = AV_NOPTS_VALUE;
        QTest::newRow("pts only") << video << in << quint64(0) << quint64(0) << quint64(0) << qint64(0);
    }
    {
        Packets in = makeInput(video, 4);
        for (int i = 0; i < in.size(); ++i)
            in[i].pts = in[i].dts + (i % 3 == 1 ? 3 : 1) * 3600; // B-frames: PTS ahead of DTS
        QTest::newRow("b-frames") << video << in << quint64(0) << quint64(0) << quint64(0) << qint64(0);
    }
    {
        const double start = double(kWrap90k) / 90000 - 2.0; // 2 s before the wrap
        Packets in = makeInput(video, 5, start);
        wrapInput(in, video);
        QTest::newRow("wrap 90 kHz") << video << in << quint64(0) << quint64(1) << quint64(0) << qint64(0);
    }
    {
        const double start = double(kWrap90k) / 90000 - 2.0;
        Packets in = makeInput(video, 5, start);
        for (int i = 0; i < in.size(); ++i)
            in[i].pts = in[i].dts + (i % 3 == 1 ? 3 : 1) * 3600; // PTS wraps a frame or three before DTS
        wrapInput(in, video);
        QTest::newRow("wrap 90 kHz with b-frames") << video << in << quint64(0) << quint64(1) << quint64(0) << qint64(0);
    }
    {
        const double start = double(kWrap90k) / 90000 - 2.0;
        Packets in = makeInput(videoMs, 5, start);
        wrapInput(in, videoMs);
        QTest::newRow("wrap in 1/1000") << videoMs << in << quint64(0) << quint64(1) << quint64(0) << qint64(1);
    }
    {
        const double start = double(kWrap90k) / 90000 - 2.0;
        Packets in = makeInput(video, 6, start);
        jump(in, video, start + 4.0, 20.0);
        wrapInput(in, video);
        QTest::newRow("wrap then jump") << video << in << quint64(1) << quint64(1) << quint64(2) << qint64(0);
    }
    {
        Packets in = makeInput(av, 6);
        jump(in, av, 12.0, 10.0);
        QTest::newRow("A/V same jump") << av << in << quint64(1) << quint64(0) << quint64(2) << qint64(0);
    }
    {
        Packets in = makeInput(av, 6);
        jump(in, av, 12.0, -7.0);
        QTest::newRow("A/V same jump backwards") << av << in << quint64(1) << quint64(0) << quint64(2) << qint64(0);
    }
    {
        // The muxer sends audio of the old timeline for 0.3 s after the video jumped.
        Packets in = makeInput(av, 6);
        for (Packet &p : in) {
            if (p.stream == 0 ? p.t >= 12 * 90000 : p.t >= qint64(12.3 * 90000)) {
                p.pts += 10 * 90000;
                p.dts += 10 * 90000;
            }
        }
        QTest::newRow("A/V jump, audio lagging") << av << in << quint64(1) << quint64(0) << quint64(2) << qint64(0);
    }
    {
        Packets in = makeInput(avMixed, 6);
        jump(in, avMixed, 12.0, 10.0);
        QTest::newRow("A/V same jump, audio in 1/48000") << avMixed << in << quint64(1) << quint64(0) << quint64(2) << qint64(0);
    }
    {
        // FLV/RTMP style: both streams in milliseconds.
        const QList<StreamSpec> avMs{{{1, 1000}, 40}, {{1, 1000}, 20}};
        Packets in = makeInput(avMs, 6);
        jump(in, avMs, 12.0, -8.0);
        QTest::newRow("A/V same jump in 1/1000") << avMs << in << quint64(1) << quint64(0) << quint64(2) << qint64(0);
    }
    {
        const double start = double(kWrap90k) / 90000 - 2.0;
        Packets in = makeInput(av, 5, start);
        wrapInput(in, av);
        QTest::newRow("A/V wrap") << av << in << quint64(0) << quint64(2) << quint64(0) << qint64(0);
    }
    {
        Packets in = makeInput(av, 4);
        const int i = nthOfStream(in, 1, 60);
        in[i].dts += 90000 * 50;
        in[i].pts += 90000 * 50;
        QTest::newRow("A/V outlier in audio") << av << in << quint64(0) << quint64(0) << quint64(1) << qint64(0);
    }
}

void TestTimestampSanitiser::timeline()
{
    QFETCH(QList<StreamSpec>, streams);
    QFETCH(Packets, input);
    QFETCH(quint64, jumps);
    QFETCH(quint64, wraps);
    QFETCH(quint64, repaired);
    QFETCH(qint64, tolerance);

    TimestampSanitiser sanitiser;
    for (int i = 0; i < streams.size(); ++i)
        sanitiser.addStream(i, streams[i].tb, streams[i].dur);
    const Result r = run(sanitiser, input);

    // One constant from ideal to output, per stream in its base, the same in seconds for all.
    QMap<int, qint64> constant;
    QMap<int, qint64> lastDts;
    for (int i = 0; i < r.out.size(); ++i) {
        const Packet &o = r.out[i];
        const Packet &in = input[i];
        if (!constant.contains(o.stream))
            constant[o.stream] = o.dts - o.t;
        const QByteArray where = "packet " + QByteArray::number(i) + " (stream " + QByteArray::number(o.stream)
                                 + ", ideal " + QByteArray::number(o.t) + "): output dts " + QByteArray::number(o.dts);
        QVERIFY2(qAbs(o.dts - o.t - constant[o.stream]) <= tolerance, where.constData());
        if (lastDts.contains(o.stream))
            QVERIFY2(o.dts > lastDts[o.stream], where.constData());
        lastDts[o.stream] = o.dts;
        QVERIFY2(o.pts >= o.dts, where.constData());
        if (in.pts != AV_NOPTS_VALUE && in.dts != AV_NOPTS_VALUE) {
            qint64 cts = in.pts - in.dts; // PTS may have wrapped before DTS
            const qint64 wrap = av_rescale_q(kWrap90k, k90k, streams[o.stream].tb);
            cts += cts < -wrap / 2 ? wrap : cts > wrap / 2 ? -wrap : 0;
            QCOMPARE(o.pts - o.dts, cts);
        }
    }
    const auto constantUs = [&](int stream) {
        return av_rescale_q(constant[stream], streams[stream].tb, AVRational{1, 1000000});
    };
    for (int i = 1; i < streams.size(); ++i)
        QVERIFY2(qAbs(constantUs(i) - constantUs(0)) <= 1, "A/V out of sync");
    QCOMPARE(r.out.first().dts, qint64(0)); // the output starts at startUs = 0

    const TimestampSanitiser::Stats stats = sanitiser.stats();
    QCOMPARE(stats.packets, quint64(input.size()));
    QCOMPARE(stats.jumps, jumps);
    QCOMPARE(stats.wraps, wraps);
    QCOMPARE(stats.repaired, repaired);
    const auto count = [&](SanitiserEvent::Kind kind) {
        return quint64(std::count_if(r.events.begin(), r.events.end(), [&](const SanitiserEvent &e) { return e.kind == kind; }));
    };
    QCOMPARE(count(SanitiserEvent::Jump) + count(SanitiserEvent::Backwards), jumps);
    QCOMPARE(count(SanitiserEvent::Wrap), wraps);
}

void TestTimestampSanitiser::lostInput_data()
{
    // Input lost for a while (a network outage): the timestamps stay true, each stream has a hole,
    // of slightly different sizes. Holes above the threshold are cut out of the output; whatever
    // is done, it is done to every stream alike, or A/V drift apart by the hole's size.
    QTest::addColumn<QList<double>>("videoHole"); // [from, to) in seconds of the ideal timeline
    QTest::addColumn<QList<double>>("audioHole");
    QTest::addColumn<qint64>("cutUs");            // how much of the ideal timeline the output skips
    QTest::addColumn<quint64>("jumps");
    QTest::newRow("below the threshold") << QList<double>{12.0, 13.5} << QList<double>{12.0, 13.5} << qint64(0) << quint64(0);
    QTest::newRow("video's hole below, audio's above, video first") << QList<double>{12.0, 13.9} << QList<double>{11.98, 14.1}
                                                                    << qint64(0) << quint64(0);
    QTest::newRow("audio's hole above and first, video's below") << QList<double>{12.2, 14.15} << QList<double>{12.0, 14.1}
                                                                 << qint64(0) << quint64(0);
    // Audio confirms its jump before video resumes: video then joins with the smaller cut (its
    // own hole, 12.12 to 14.08) and audio gets a short gap.
    QTest::newRow("audio's jump confirmed, video's hole below") << QList<double>{12.1, 14.06} << QList<double>{11.9, 14.0}
                                                                << qint64(1'960'000) << quint64(1);
    QTest::newRow("both above") << QList<double>{12.0, 17.0} << QList<double>{12.0, 17.0} << qint64(5'000'000) << quint64(1);
}

void TestTimestampSanitiser::lostInput()
{
    QFETCH(QList<double>, videoHole);
    QFETCH(QList<double>, audioHole);
    QFETCH(qint64, cutUs);
    QFETCH(quint64, jumps);
    const QList<StreamSpec> av{{k90k, 3600}, {k90k, 1920}};
    Packets input;
    for (const Packet &p : makeInput(av, 10)) {
        const QList<double> &hole = p.stream == 0 ? videoHole : audioHole;
        const double at = secondsOf(p, av);
        if (at < hole[0] || at >= hole[1])
            input.append(p);
    }
    TimestampSanitiser sanitiser;
    sanitiser.addStream(0, k90k, 3600);
    sanitiser.addStream(1, k90k, 1920);
    const Result r = run(sanitiser, input);

    QMap<int, qint64> lastDts;
    for (int i = 0; i < r.out.size(); ++i) {
        const Packet &o = r.out[i];
        if (lastDts.contains(o.stream))
            QVERIFY(o.dts > lastDts[o.stream]);
        lastDts[o.stream] = o.dts;
        // Before the holes: ideal + 0 (the input starts at 10 s); well after them: ideal - cut, both streams.
        const double at = secondsOf(o, av);
        if (at < 11.85)
            QCOMPARE(o.dts - o.t, -10 * 90000);
        if (at >= 15.0 + cutUs / 1e6) {
            const QByteArray where = "stream " + QByteArray::number(o.stream) + " at " + QByteArray::number(at);
            QVERIFY2(qAbs(o.dts - o.t - (-10 * 90000 - cutUs * 9 / 100)) <= 1, QByteArray(where + " off by " + QByteArray::number(o.dts - o.t - (-10 * 90000 - cutUs * 9 / 100))).constData());
        }
    }
    QCOMPARE(sanitiser.stats().jumps, jumps);
}

void TestTimestampSanitiser::oneStreamHole_data()
{
    // One stream has a hole while the other goes on (a source that sends no video for a while,
    // its audio on): the hole is lost input of that stream, kept as a gap, never rebased (that
    // left video the hole's size behind its audio for the rest of the recording).
    QTest::addColumn<int>("stream");
    QTest::addColumn<QList<double>>("hole"); // [from, to) in seconds of the ideal timeline
    QTest::newRow("video, 8 s") << 0 << QList<double>{12.0, 20.0};
    QTest::newRow("video, 3 s") << 0 << QList<double>{12.0, 15.0};
    QTest::newRow("audio, 8 s") << 1 << QList<double>{12.0, 20.0};
    QTest::newRow("video, 8 s, from the first second") << 0 << QList<double>{10.04, 18.04};
}

void TestTimestampSanitiser::oneStreamHole()
{
    QFETCH(int, stream);
    QFETCH(QList<double>, hole);
    const QList<StreamSpec> av{{k90k, 3600}, {k90k, 1920}};
    Packets input;
    for (const Packet &p : makeInput(av, 14)) {
        const double at = secondsOf(p, av);
        if (p.stream != stream || at < hole[0] || at >= hole[1])
            input.append(p);
    }
    TimestampSanitiser sanitiser;
    sanitiser.addStream(0, k90k, 3600);
    sanitiser.addStream(1, k90k, 1920);
    const Result r = run(sanitiser, input);

    // Both streams: output = ideal - 10 s (the input starts at 10 s) throughout, the hole a gap.
    QMap<int, qint64> lastDts;
    for (int i = 0; i < r.out.size(); ++i) {
        const Packet &o = r.out[i];
        const QByteArray where = "stream " + QByteArray::number(o.stream) + " at " + QByteArray::number(secondsOf(o, av))
                                 + " s: output dts " + QByteArray::number(o.dts) + ", A/V off by "
                                 + QByteArray::number(double(o.dts - o.t + 10 * 90000) / 90000) + " s";
        QVERIFY2(o.dts - o.t == -10 * 90000, where.constData());
        if (lastDts.contains(o.stream))
            QVERIFY2(o.dts > lastDts[o.stream], where.constData());
        lastDts[o.stream] = o.dts;
    }
    QCOMPARE(sanitiser.stats().jumps, quint64(0));
    QCOMPARE(sanitiser.stats().repaired, quint64(0));
    QCOMPARE(sanitiser.stats().gaps, quint64(hole[1] - hole[0] > 2.0 ? 1 : 0));
}

void TestTimestampSanitiser::jumpWaitsForConfirmation()
{
    TimestampSanitiser::Options options;
    options.confirmFrames = 4;
    TimestampSanitiser sanitiser(options);
    sanitiser.addStream(0, k90k, 3600);
    qint64 pts = 0, dts = 0;
    for (int i = 0; i < 10; ++i) {
        pts = dts = 90000 + i * 3600;
        QCOMPARE(sanitiser.fix(0, pts, dts, 3600).kind, SanitiserEvent::None);
    }
    QCOMPARE(dts, 9 * 3600);
    for (int i = 0; i < 4; ++i) {
        pts = dts = 90000 + (10 + i) * 3600 + 10 * 90000;
        const SanitiserEvent e = sanitiser.fix(0, pts, dts, 3600);
        QCOMPARE(dts, (10 + i) * 3600);
        QCOMPARE(pts, dts);
        if (i < 3) {
            QCOMPARE(e.kind, SanitiserEvent::None);
        } else {
            QCOMPARE(e.kind, SanitiserEvent::Jump);
            QCOMPARE(e.inputDelta, 10'000'000);
        }
    }
    QCOMPARE(sanitiser.stats().jumps, quint64(1));
    QCOMPARE(sanitiser.outputEndUs(), 14 * 40'000);
}

void TestTimestampSanitiser::smallGapIsKept()
{
    // A gap below the threshold is lost input, not a new timeline: A/V keep their place.
    TimestampSanitiser sanitiser;
    sanitiser.addStream(0, k90k, 3600);
    qint64 pts = 0, dts = 0;
    for (int i = 0; i < 5; ++i) {
        pts = dts = i * 3600;
        sanitiser.fix(0, pts, dts, 3600);
    }
    pts = dts = 4 * 3600 + 90000; // 1 s later than expected
    QCOMPARE(sanitiser.fix(0, pts, dts, 3600).kind, SanitiserEvent::None);
    QCOMPARE(dts, 4 * 3600 + 90000);
    QCOMPARE(sanitiser.stats().repaired, quint64(0));
}

void TestTimestampSanitiser::reconnectContinuesEachStream()
{
    const QList<StreamSpec> av{{k90k, 3600}, {k90k, 1800}};
    TimestampSanitiser sanitiser;
    sanitiser.addStream(0, k90k, 3600);
    sanitiser.addStream(1, k90k, 1800);
    const Result before = run(sanitiser, makeInput(av, 2, 100.0));
    QCOMPARE(sanitiser.outputEndUs(), 2'000'000);

    // The source comes back with timestamps of its own, 3 s later in the ideal timeline, far
    // away in its own: the output continues each stream at once, in sync.
    sanitiser.discontinuity();
    const Packets again = makeInput(av, 2, 7.0);
    const Result after = run(sanitiser, again);
    for (int stream : {0, 1}) {
        const Packet &last = before.out[nthOfStream(before.out, stream, stream == 0 ? 49 : 99)];
        const Packet &first = after.out[nthOfStream(after.out, stream, 0)];
        QCOMPARE(first.dts, last.dts + last.dur);
    }
    for (int i = 0; i < after.out.size(); ++i)
        QCOMPARE(after.out[i].dts - again[i].t, after.out[0].dts - again[0].t);
    QCOMPARE(sanitiser.stats().jumps, quint64(0));
    QCOMPARE(sanitiser.stats().repaired, quint64(0));
    QCOMPARE(sanitiser.outputEndUs(), 4'000'000);
}

// A looping file (as ffmpeg makes MPEG-TS: video from 1.40 s, audio from 1.4587 s and ending
// 90 ms after the video) rewound five times. Each pass moves every stream by one step: the
// audio (the longer) continues exactly, the video less than a frame later than one frame after
// its last, and the audio keeps its place against the video. discontinuity() closed each stream's gap on its own: the audio moved
// 32 ms later against the video on every loop (a second after half an hour).
void TestTimestampSanitiser::loopKeepsAvInSync()
{
    TimestampSanitiser sanitiser;
    sanitiser.addStream(0, k90k, 3600);
    sanitiser.addStream(1, k90k, 1920);
    constexpr qint64 videoStart = 126000, audioStart = 131280; // 1.40 s, 1.4587 s
    constexpr int videoFrames = 100, audioFrames = 189;          // to 5.40 s and 5.4907 s
    qint64 firstSkew = 0;
    qint64 videoEnd = -1, audioEnd = -1;
    for (int pass = 0; pass < 6; ++pass) {
        if (pass > 0)
            sanitiser.rewound();
        qint64 firstVideo = -1, firstAudio = -1;
        int v = 0, a = 0;
        while (v < videoFrames || a < audioFrames) {
            const qint64 vt = videoStart + v * 3600, at = audioStart + a * 1920;
            const bool video = v < videoFrames && (a >= audioFrames || vt <= at);
            qint64 pts = video ? vt : at, dts = pts;
            sanitiser.fix(video ? 0 : 1, pts, dts, video ? 3600 : 1920);
            if (video) {
                if (firstVideo < 0) {
                    firstVideo = dts;
                    // Within a frame of one frame after the last: the audio lasts 32 ms longer.
                    if (videoEnd >= 0)
                        QVERIFY2(dts >= videoEnd && dts - videoEnd < 3600,
                                 qPrintable(u"pass %1: a video gap of %2 ms"_qs.arg(pass).arg((dts - videoEnd) / 90)));
                }
                videoEnd = dts + 3600;
                ++v;
            } else {
                if (firstAudio < 0) {
                    firstAudio = dts;
                    if (audioEnd >= 0) {
                        QCOMPARE(dts, audioEnd); // the longer stream continues exactly
                    }
                }
                audioEnd = dts + 1920;
                ++a;
            }
        }
        if (pass == 0)
            firstSkew = firstAudio - firstVideo;
        QVERIFY2(qAbs(firstAudio - firstVideo - firstSkew) <= 1,
                 qPrintable(u"pass %1: the audio moved %2 ms against the video"_qs.arg(pass).arg((firstAudio - firstVideo - firstSkew) / 90.0)));
    }
    QCOMPARE(sanitiser.stats().jumps, quint64(0));
}

void TestTimestampSanitiser::slateBetweenInputs()
{
    // Input, then a slate (its own timestamps from 0), then the input again: one continuous
    // video timeline; a stream the slate lacks (audio) keeps its place in time, in sync.
    const QList<StreamSpec> av{{k90k, 3600}, {k90k, 1800}};
    TimestampSanitiser sanitiser;
    sanitiser.addStream(0, k90k, 3600);
    sanitiser.addStream(1, k90k, 1800);
    run(sanitiser, makeInput(av, 2, 50.0));
    sanitiser.discontinuity();
    Packets slate = makeInput({{k90k, 3600}}, 3, 0.0);
    const Result slated = run(sanitiser, slate);
    QCOMPARE(slated.out.first().dts, 2 * 90000);
    QCOMPARE(slated.out.last().dts, 5 * 90000 - 3600);
    sanitiser.discontinuity();
    const Result back = run(sanitiser, makeInput(av, 1, 60.0));
    QCOMPARE(back.out[nthOfStream(back.out, 0, 0)].dts, 5 * 90000);
    QCOMPARE(back.out[nthOfStream(back.out, 1, 0)].dts, 5 * 90000);
    QCOMPARE(sanitiser.outputEndUs(), 6'000'000);
}

void TestTimestampSanitiser::ptsBehindDtsIsRaised()
{
    TimestampSanitiser sanitiser;
    sanitiser.addStream(0, k90k, 3600);
    qint64 pts = 1000, dts = 0;
    sanitiser.fix(0, pts, dts, 3600);
    pts = 3600 - 500;
    dts = 3600;
    sanitiser.fix(0, pts, dts, 3600);
    QCOMPARE(dts, 3600);
    QCOMPARE(pts, 3600);
    QCOMPARE(sanitiser.stats().repaired, quint64(1));
}

void TestTimestampSanitiser::durationIsLearnt()
{
    // No nominal, no packet durations: a missing timestamp is placed one learnt step later.
    TimestampSanitiser sanitiser;
    sanitiser.addStream(0, AVRational{1, 1000}, 0);
    qint64 pts = 0, dts = 0;
    for (int i = 0; i < 5; ++i) {
        pts = dts = 500 + i * 33;
        sanitiser.fix(0, pts, dts, 0);
    }
    pts = dts = AV_NOPTS_VALUE;
    QCOMPARE(sanitiser.fix(0, pts, dts, 0).kind, SanitiserEvent::Missing);
    QCOMPARE(dts, 5 * 33);
    QCOMPARE(pts, dts);
}

void TestTimestampSanitiser::unknownStreamIsLeftAlone()
{
    TimestampSanitiser sanitiser;
    qint64 pts = 7, dts = 5;
    QCOMPARE(sanitiser.fix(3, pts, dts, 1).kind, SanitiserEvent::None);
    QCOMPARE(pts, 7);
    QCOMPARE(dts, 5);
    QCOMPARE(sanitiser.stats().packets, quint64(0));
}

QTEST_GUILESS_MAIN(TestTimestampSanitiser)
#include "tst_timestampsanitiser.moc"
