// HlsMediaPlaylist, the master playlist and the RFC 8216 checker: the writer's text literally,
// every reload of long runs checked against the previous one, the checker on broken playlists,
// and SequenceState (the numbers kept across a restart).

#include <media/hlsplaylist.h>
#include <media/sequencestate.h>

#include <QDir>
#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>
#include <QTimeZone>

using namespace iptv::media;

namespace {

const QDateTime kStart(QDate(2026, 12, 6), QTime(3, 0), Qt::UTC);

HlsSegment segment(qint64 n, double duration = 6.0)
{
    HlsSegment s;
    s.uri = QStringLiteral("seg%1.ts").arg(n);
    s.duration = duration;
    s.programDateTime = kStart.addMSecs(qint64(n * 6000));
    return s;
}

QByteArray lines(std::initializer_list<const char *> list)
{
    QByteArray out;
    for (const char *l : list)
        out += QByteArray(l) + '\n';
    return out;
}

QString problemsOf(const HlsCheck &c)
{
    return c.problems.join(u'\n');
}

} // namespace

class TestHlsPlaylist : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void rollingWindowText();
    void discontinuitySequenceCountsWhatLeft();
    void longSegmentRaisesTarget();
    void lowLatencyText();
    void blockingReloadContains();
    void longRuns_data();
    void longRuns();
    void restartContinuesTheSequence();
    void restoreNeverGoesBack();
    void masterPlaylist();
    void dateTime();
    void checker_data();
    void checker();
    void reload_data();
    void reload();
    void reloadParts_data();
    void reloadParts();
    void sequenceStateRoundTrip();
    void sequenceStateDamaged_data();
    void sequenceStateDamaged();
    void sequenceStateUnwritable();
};

void TestHlsPlaylist::rollingWindowText()
{
    HlsMediaPlaylist p;
    p.setTargetDuration(6);
    p.setWindow(3);
    QList<HlsSegment> gone;
    for (int i = 0; i < 5; ++i)
        gone += p.addSegment(segment(i, i == 4 ? 5.5 : 6.0));
    QCOMPARE(gone.size(), 2);
    QCOMPARE(gone[0].uri, u"seg0.ts"_qs);
    QCOMPARE(gone[1].uri, u"seg1.ts"_qs);
    QCOMPARE(p.mediaSequence(), 2);
    QCOMPARE(p.nextSequence(), 5);
    QCOMPARE(p.text(), lines({"#EXTM3U",
                              "#EXT-X-VERSION:3",
                              "#EXT-X-TARGETDURATION:6",
                              "#EXT-X-MEDIA-SEQUENCE:2",
                              "#EXT-X-DISCONTINUITY-SEQUENCE:0",
                              "#EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:00:12.000+00:00",
                              "#EXTINF:6.000,",
                              "seg2.ts",
                              "#EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:00:18.000+00:00",
                              "#EXTINF:6.000,",
                              "seg3.ts",
                              "#EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:00:24.000+00:00",
                              "#EXTINF:5.500,",
                              "seg4.ts"}));
    p.setEnded();
    QVERIFY(p.text().endsWith("seg4.ts\n#EXT-X-ENDLIST\n"));
    const HlsCheck c = checkMediaPlaylist(p.text());
    QVERIFY2(c.ok, qPrintable(problemsOf(c)));
    QCOMPARE(c.segments.size(), 3);
    QCOMPARE(c.segments[2].programDateTime, kStart.addSecs(24));
    QVERIFY(c.ended);
}

void TestHlsPlaylist::discontinuitySequenceCountsWhatLeft()
{
    HlsMediaPlaylist p;
    p.setWindow(2);
    p.addSegment(segment(0));
    p.markDiscontinuity();
    p.addSegment(segment(1));
    p.addSegment(segment(2));
    QCOMPARE(p.discontinuitySequence(), 0); // seg1 (the discontinuity) is still listed
    QCOMPARE(p.lastDiscontinuitySequence(), 1);
    QVERIFY(p.text().contains("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:00:06.000+00:00\n#EXTINF:6.000,\nseg1.ts\n"));
    p.addSegment(segment(3));
    QCOMPARE(p.discontinuitySequence(), 1); // it left: counted in the header
    QCOMPARE(p.lastDiscontinuitySequence(), 1);
    QVERIFY(!p.text().contains("#EXT-X-DISCONTINUITY\n"));
    QVERIFY(p.text().contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
}

void TestHlsPlaylist::longSegmentRaisesTarget()
{
    // A segment longer than planned (a late keyframe) must not make the playlist invalid.
    HlsMediaPlaylist p;
    p.setTargetDuration(6);
    p.addSegment(segment(0, 6.4));
    QCOMPARE(p.targetDuration(), 6);
    p.addSegment(segment(1, 6.5)); // written as 6.500, which rounds to 7
    QCOMPARE(p.targetDuration(), 7);
    const HlsCheck c = checkMediaPlaylist(p.text());
    QVERIFY2(c.ok, qPrintable(problemsOf(c)));
    QCOMPARE(c.targetDuration, 7);
}

void TestHlsPlaylist::lowLatencyText()
{
    HlsMediaPlaylist p;
    p.setTargetDuration(2);
    p.setWindow(6);
    p.setLowLatency(0.5);
    for (int n = 0; n < 4; ++n) {
        for (int k = 0; k < 4; ++k) {
            p.setPreloadHint(QStringLiteral("seg%1.%2.ts").arg(n).arg(k));
            p.addPart({QStringLiteral("seg%1.%2.ts").arg(n).arg(k), 0.5, k == 0});
        }
        QCOMPARE(p.partCountInProgress(), 4);
        HlsSegment s;
        s.uri = QStringLiteral("seg%1.ts").arg(n);
        s.duration = 2.0;
        p.addSegment(s);
        QCOMPARE(p.partCountInProgress(), 0);
    }
    p.addPart({u"seg4.0.ts"_qs, 0.5, true});
    p.setPreloadHint(u"seg4.1.ts"_qs);
    // 0.5 s in progress + 2 + 2 + 2 = 6.5 s > three target durations: seg1 has no parts listed.
    QCOMPARE(p.text(), lines({"#EXTM3U",
                              "#EXT-X-VERSION:3",
                              "#EXT-X-TARGETDURATION:2",
                              "#EXT-X-MEDIA-SEQUENCE:0",
                              "#EXT-X-DISCONTINUITY-SEQUENCE:0",
                              "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500",
                              "#EXT-X-PART-INF:PART-TARGET=0.500",
                              "#EXTINF:2.000,",
                              "seg0.ts",
                              "#EXTINF:2.000,",
                              "seg1.ts",
                              "#EXT-X-PART:DURATION=0.500,URI=\"seg2.0.ts\",INDEPENDENT=YES",
                              "#EXT-X-PART:DURATION=0.500,URI=\"seg2.1.ts\"",
                              "#EXT-X-PART:DURATION=0.500,URI=\"seg2.2.ts\"",
                              "#EXT-X-PART:DURATION=0.500,URI=\"seg2.3.ts\"",
                              "#EXTINF:2.000,",
                              "seg2.ts",
                              "#EXT-X-PART:DURATION=0.500,URI=\"seg3.0.ts\",INDEPENDENT=YES",
                              "#EXT-X-PART:DURATION=0.500,URI=\"seg3.1.ts\"",
                              "#EXT-X-PART:DURATION=0.500,URI=\"seg3.2.ts\"",
                              "#EXT-X-PART:DURATION=0.500,URI=\"seg3.3.ts\"",
                              "#EXTINF:2.000,",
                              "seg3.ts",
                              "#EXT-X-PART:DURATION=0.500,URI=\"seg4.0.ts\",INDEPENDENT=YES",
                              "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg4.1.ts\""}));
    const HlsCheck c = checkMediaPlaylist(p.text());
    QVERIFY2(c.ok, qPrintable(problemsOf(c)));
    QCOMPARE(c.partTarget, 0.5);
    QCOMPARE(c.partsInProgress.size(), 1);
    QCOMPARE(c.preloadHint, u"seg4.1.ts"_qs);
    QCOMPARE(c.segments[3].parts.size(), 4);
    QVERIFY(c.segments[3].parts[0].independent);

    // The hinted part arrives: the hint goes until the next is announced.
    p.addPart({u"seg4.1.ts"_qs, 0.5, false});
    QVERIFY(!p.text().contains("PRELOAD-HINT"));
    // A discontinuity in progress is announced before the parts of its segment.
    HlsMediaPlaylist q;
    q.setLowLatency(0.5);
    q.setTargetDuration(2);
    q.addSegment(segment(0, 2.0));
    q.markDiscontinuity();
    q.addPart({u"a.ts"_qs, 0.5, true});
    QVERIFY(q.text().endsWith("seg0.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PART:DURATION=0.500,URI=\"a.ts\",INDEPENDENT=YES\n"));
    QVERIFY2(checkMediaPlaylist(q.text()).ok, qPrintable(problemsOf(checkMediaPlaylist(q.text()))));
    q.setEnded();
    QVERIFY(!q.text().contains("a.ts"));
}

void TestHlsPlaylist::blockingReloadContains()
{
    HlsMediaPlaylist p;
    p.setLowLatency(0.5);
    p.setTargetDuration(2);
    p.setWindow(3);
    for (int n = 0; n < 5; ++n) {
        for (int k = 0; k < 4; ++k)
            p.addPart({QStringLiteral("p%1.%2").arg(n).arg(k), 0.5, k == 0});
        HlsSegment s;
        s.uri = QStringLiteral("s%1").arg(n);
        s.duration = 2;
        p.addSegment(s);
    }
    p.addPart({u"p5.0"_qs, 0.5, true});
    QVERIFY(p.contains(0));       // long gone
    QVERIFY(p.contains(4));
    QVERIFY(!p.contains(5));      // in progress
    QVERIFY(p.contains(4, 3));
    QVERIFY(p.contains(4, 4));    // past the last part: the next segment's part 0, which is there
    QVERIFY(p.contains(5, 0));
    QVERIFY(!p.contains(5, 1));
    QVERIFY(!p.contains(6, 0));
    p.setEnded();
    QVERIFY(p.contains(9, 9));
}

void TestHlsPlaylist::longRuns_data()
{
    QTest::addColumn<int>("window");
    QTest::addColumn<double>("partTarget");
    QTest::addColumn<int>("discontinuityEvery"); // 0: never
    QTest::newRow("rolling") << 5 << 0.0 << 0;
    QTest::newRow("rolling, discontinuities") << 5 << 0.0 << 3;
    QTest::newRow("rolling, discontinuity every segment") << 3 << 0.0 << 1;
    QTest::newRow("event") << 0 << 0.0 << 7;
    QTest::newRow("low latency") << 6 << 0.5 << 0;
    QTest::newRow("low latency, discontinuities") << 6 << 0.333 << 4;
}

void TestHlsPlaylist::longRuns()
{
    // The soak in miniature: every reload a client could make is valid and consistent with the
    // previous one, through windows, discontinuities and parts.
    QFETCH(int, window);
    QFETCH(double, partTarget);
    QFETCH(int, discontinuityEvery);
    HlsMediaPlaylist p;
    p.setTargetDuration(2);
    p.setWindow(window);
    p.setLowLatency(partTarget);
    QRandomGenerator random(12);
    HlsCheck previous = checkMediaPlaylist(p.text());
    QVERIFY2(previous.ok, qPrintable(problemsOf(previous)));
    int removed = 0;
    // What is wrong with the playlist a client would load now, if anything.
    const auto reload = [&](const char *when) {
        const HlsCheck now = checkMediaPlaylist(p.text());
        const QStringList problems = now.problems + checkReload(previous, now);
        previous = now;
        return problems.isEmpty() ? QString()
                                  : QString::fromLatin1(when) + u'\n' + problems.join(u'\n') + u'\n' + QString::fromUtf8(p.text());
    };
    for (int n = 0; n < 200; ++n) {
        if (discontinuityEvery > 0 && n % discontinuityEvery == discontinuityEvery - 1)
            p.markDiscontinuity();
        double duration = 0;
        if (partTarget > 0) {
            const int parts = 3 + random.bounded(2);
            for (int k = 0; k < parts; ++k) {
                const double d = k == parts - 1 ? partTarget * (0.3 + 0.7 * random.generateDouble()) : partTarget * (0.86 + 0.14 * random.generateDouble());
                const double written = QByteArray::number(d, 'f', 3).toDouble();
                p.setPreloadHint(QStringLiteral("s%1.%2.ts").arg(n).arg(k));
                const QString problem = reload("before a part");
                QVERIFY2(problem.isEmpty(), qPrintable(problem));
                p.addPart({QStringLiteral("s%1.%2.ts").arg(n).arg(k), written, k == 0});
                duration += written;
            }
        } else {
            duration = 1.5 + 0.9 * random.generateDouble();
        }
        HlsSegment s = segment(n, duration);
        const QList<HlsSegment> gone = p.addSegment(s);
        removed += gone.size();
        if (window > 0)
            QCOMPARE(p.text().count("#EXTINF"), std::min(n + 1, window));
        const QString problem = reload("after a segment");
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }
    QCOMPARE(removed, window > 0 ? 200 - window : 0);
    QCOMPARE(p.nextSequence(), 200);
    QCOMPARE(p.lastDiscontinuitySequence(), discontinuityEvery > 0 ? 200 / discontinuityEvery : 0);
}

void TestHlsPlaylist::restartContinuesTheSequence()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"rendition.seq"_qs);

    HlsMediaPlaylist before;
    before.setWindow(4);
    for (int n = 0; n < 10; ++n) {
        if (n == 6)
            before.markDiscontinuity();
        before.addSegment(segment(n));
        QString error;
        QVERIFY2((SequenceState{before.nextSequence(), before.lastDiscontinuitySequence()}.save(path, &error)), qPrintable(error));
    }
    const HlsCheck last = checkMediaPlaylist(before.text());

    QString error;
    const std::optional<SequenceState> state = SequenceState::load(path, &error);
    QVERIFY2(state, qPrintable(error));
    QCOMPARE(state->mediaSequence, 10);
    QCOMPARE(state->discontinuitySequence, 1);

    HlsMediaPlaylist after;
    after.setWindow(4);
    after.restoreSequence(state->mediaSequence, state->discontinuitySequence);
    after.addSegment(segment(0)); // the new process names its files from 0 again
    const HlsCheck first = checkMediaPlaylist(after.text());
    QVERIFY2(first.ok, qPrintable(problemsOf(first)));
    QCOMPARE(first.mediaSequence, 10);
    QVERIFY(first.segments[0].discontinuity);
    const QStringList problems = checkReload(last, first);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u'\n')));

    // Without the state, a player sees the sequence go back.
    HlsMediaPlaylist forgetful;
    forgetful.addSegment(segment(0));
    QVERIFY(!checkReload(last, checkMediaPlaylist(forgetful.text())).isEmpty());
}

void TestHlsPlaylist::restoreNeverGoesBack()
{
    HlsMediaPlaylist p;
    p.restoreSequence(50, 3);
    p.restoreSequence(40, 1);
    QCOMPARE(p.mediaSequence(), 50);
    QCOMPARE(p.discontinuitySequence(), 3);
    p.addSegment(segment(0));
    p.restoreSequence(100, 9); // too late: segments were added
    QCOMPARE(p.mediaSequence(), 50);
    QCOMPARE(p.nextSequence(), 51);

    HlsMediaPlaylist fresh; // restoring zeros is a first start: no discontinuity
    fresh.restoreSequence(0, 0);
    fresh.addSegment(segment(0));
    QVERIFY(!fresh.text().contains("#EXT-X-DISCONTINUITY\n"));
}

void TestHlsPlaylist::masterPlaylist()
{
    const QByteArray text = hlsMasterPlaylist({{u"720p/index.m3u8"_qs, 3'000'000, 1280, 720, 25, u"avc1.64001f,mp4a.40.2"_qs},
                                               {u"360p/index.m3u8"_qs, 800'000, 640, 360, 29.97, QString()},
                                               {u"audio/index.m3u8"_qs, 128'000, 0, 0, 0, u"mp4a.40.2"_qs}});
    QCOMPARE(text, lines({"#EXTM3U",
                          "#EXT-X-VERSION:3",
                          "#EXT-X-INDEPENDENT-SEGMENTS",
                          "#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,FRAME-RATE=25.000,CODECS=\"avc1.64001f,mp4a.40.2\"",
                          "720p/index.m3u8",
                          "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,FRAME-RATE=29.970",
                          "360p/index.m3u8",
                          "#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\"",
                          "audio/index.m3u8"}));
    // A master playlist is not a media playlist: the checker says so.
    QVERIFY(!checkMediaPlaylist(text).ok);
}

void TestHlsPlaylist::dateTime()
{
    QCOMPARE(hlsDateTime(QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5, 67), Qt::UTC)), u"2026-01-02T03:04:05.067+00:00"_qs);
    QCOMPARE(hlsDateTime(QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5, 67), Qt::OffsetFromUTC, 2 * 3600)),
             u"2026-01-02T03:04:05.067+02:00"_qs);
    QCOMPARE(hlsDateTime(QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5), Qt::OffsetFromUTC, -(3 * 3600 + 1800))),
             u"2026-01-02T03:04:05.000-03:30"_qs);
}

void TestHlsPlaylist::checker_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QString>("problem"); // empty: valid

    const QByteArray head = lines({"#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:7"});
    const QByteArray ll = lines({"#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2",
                                 "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5", "#EXT-X-PART-INF:PART-TARGET=0.5"});

    QTest::newRow("valid") << head + lines({"#EXTINF:5.96,title, with a comma", "a.ts", "#EXTINF:6,", "b.ts"}) << QString();
    QTest::newRow("valid, CRLF and blank lines") << QByteArray("#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n\r\n#EXTINF:6,\r\na.ts\r\n") << QString();
    QTest::newRow("valid low latency") << ll + lines({"#EXT-X-PART:DURATION=0.5,URI=\"a0.ts\",INDEPENDENT=YES",
                                                      "#EXT-X-PART:DURATION=0.5,URI=\"a1.ts\"",
                                                      "#EXT-X-PART:DURATION=0.48,URI=\"a2.ts\"",
                                                      "#EXT-X-PART:DURATION=0.3,URI=\"a3.ts\"",
                                                      "#EXTINF:1.78,", "a.ts",
                                                      "#EXT-X-PART:DURATION=0.5,URI=\"b0.ts\",INDEPENDENT=YES",
                                                      "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"b1.ts\""}) << QString();
    QTest::newRow("no EXTM3U") << head.mid(8) + lines({"#EXTINF:6,", "a.ts"}) << u"does not start with #EXTM3U"_qs;
    QTest::newRow("no target duration") << lines({"#EXTM3U", "#EXTINF:6,", "a.ts"}) << u"0 EXT-X-TARGETDURATION"_qs;
    QTest::newRow("two target durations") << head + lines({"#EXT-X-TARGETDURATION:6", "#EXTINF:6,", "a.ts"}) << u"2 EXT-X-TARGETDURATION"_qs;
    QTest::newRow("fractional target") << lines({"#EXTM3U", "#EXT-X-TARGETDURATION:6.5", "#EXTINF:6,", "a.ts"}) << u"not a decimal-integer"_qs;
    QTest::newRow("EXTINF above target") << head + lines({"#EXTINF:6.5,", "a.ts"}) << u"rounds above EXT-X-TARGETDURATION"_qs;
    QTest::newRow("decimal EXTINF without version") << lines({"#EXTM3U", "#EXT-X-TARGETDURATION:6", "#EXTINF:5.5,", "a.ts"})
                                                   << u"EXT-X-VERSION is 1 but the tags used need 3"_qs;
    QTest::newRow("decimal EXTINF in version 2") << lines({"#EXTM3U", "#EXT-X-VERSION:2", "#EXT-X-TARGETDURATION:6", "#EXTINF:5.5,", "a.ts"})
                                                 << u"EXT-X-VERSION is 2"_qs;
    QTest::newRow("map needs 6") << head + lines({"#EXT-X-MAP:URI=\"init.mp4\"", "#EXTINF:6,", "a.m4s"}) << u"need 6"_qs;
    QTest::newRow("two versions") << head + lines({"#EXT-X-VERSION:3", "#EXTINF:6,", "a.ts"}) << u"2 EXT-X-VERSION"_qs;
    QTest::newRow("EXTINF without comma") << head + lines({"#EXTINF:6", "a.ts"}) << u"without the comma"_qs;
    QTest::newRow("EXTINF not a number") << head + lines({"#EXTINF:six,", "a.ts"}) << u"not a number"_qs;
    QTest::newRow("URI without EXTINF") << head + lines({"a.ts"}) << u"a URI without EXTINF"_qs;
    QTest::newRow("EXTINF without URI") << head + lines({"#EXTINF:6,", "#EXTINF:6,", "b.ts"}) << u"line 5: EXTINF without a URI"_qs;
    QTest::newRow("EXTINF at the end") << head + lines({"#EXTINF:6,"}) << u"EXTINF without a URI at the end"_qs;
    QTest::newRow("media sequence after a segment") << head + lines({"#EXTINF:6,", "a.ts", "#EXT-X-MEDIA-SEQUENCE:8"})
                                                    << u"EXT-X-MEDIA-SEQUENCE after the first media segment"_qs;
    QTest::newRow("discontinuity sequence after discontinuity") << head + lines({"#EXT-X-DISCONTINUITY", "#EXT-X-DISCONTINUITY-SEQUENCE:2", "#EXTINF:6,", "a.ts"})
                                                                << u"EXT-X-DISCONTINUITY-SEQUENCE after an EXT-X-DISCONTINUITY"_qs;
    QTest::newRow("dangling discontinuity") << head + lines({"#EXTINF:6,", "a.ts", "#EXT-X-DISCONTINUITY"})
                                            << u"EXT-X-DISCONTINUITY without a segment after it"_qs;
    QTest::newRow("date without milliseconds") << head + lines({"#EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:00:00+00:00", "#EXTINF:6,", "a.ts"})
                                               << u"without milliseconds"_qs;
    QTest::newRow("date without zone") << head + lines({"#EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:00:00.000", "#EXTINF:6,", "a.ts"})
                                       << u"without a time zone"_qs;
    QTest::newRow("date garbage") << head + lines({"#EXT-X-PROGRAM-DATE-TIME:yesterday", "#EXTINF:6,", "a.ts"}) << u"not an ISO 8601"_qs;
    QTest::newRow("date impossible") << head + lines({"#EXT-X-PROGRAM-DATE-TIME:2026-13-45T03:00:00.000Z", "#EXTINF:6,", "a.ts"}) << u"not an ISO 8601"_qs;
    QTest::newRow("master tag") << head + lines({"#EXT-X-STREAM-INF:BANDWIDTH=1", "a.m3u8"}) << u"master playlist tag"_qs;
    QTest::newRow("part without part-inf") << head + lines({"#EXT-X-PART:DURATION=0.5,URI=\"a0.ts\"", "#EXTINF:0.5,", "a.ts"})
                                           << u"EXT-X-PART without EXT-X-PART-INF"_qs;
    QTest::newRow("part-inf without hold-back") << lines({"#EXTM3U", "#EXT-X-TARGETDURATION:2", "#EXT-X-PART-INF:PART-TARGET=0.5", "#EXTINF:2,", "a.ts"})
                                                << u"without EXT-X-SERVER-CONTROL PART-HOLD-BACK"_qs;
    QTest::newRow("hold-back too short") << lines({"#EXTM3U", "#EXT-X-TARGETDURATION:2", "#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=0.9",
                                                   "#EXT-X-PART-INF:PART-TARGET=0.5", "#EXTINF:2,", "a.ts"})
                                         << u"less than twice PART-TARGET"_qs;
    QTest::newRow("part longer than target") << ll + lines({"#EXT-X-PART:DURATION=0.6,URI=\"a0.ts\""}) << u"more than PART-TARGET"_qs;
    QTest::newRow("part too short") << ll + lines({"#EXT-X-PART:DURATION=0.2,URI=\"a0.ts\"", "#EXT-X-PART:DURATION=0.5,URI=\"a1.ts\"",
                                                   "#EXTINF:0.7,", "a.ts"})
                                    << u"less than 85% of PART-TARGET"_qs;
    QTest::newRow("short parts that may be") << ll + lines({"#EXT-X-PART:DURATION=0.2,URI=\"a0\",INDEPENDENT=YES",
                                                            "#EXT-X-PART:DURATION=0.2,URI=\"a1\"", "#EXT-X-PART:DURATION=0.5,URI=\"a2\",GAP=YES",
                                                            "#EXT-X-PART:DURATION=0.1,URI=\"a3\"", "#EXTINF:1.0,", "a.ts"})
                                             << QString();
    QTest::newRow("discontinuity after a part") << ll + lines({"#EXT-X-PART:DURATION=0.5,URI=\"a0\"", "#EXT-X-DISCONTINUITY",
                                                               "#EXTINF:0.5,", "a.ts"})
                                                << u"line 7: EXT-X-DISCONTINUITY after the first EXT-X-PART of its segment"_qs;
    QTest::newRow("date after a part") << ll + lines({"#EXT-X-PART:DURATION=0.5,URI=\"a0\"", "#EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:00:00.000Z",
                                                      "#EXTINF:0.5,", "a.ts"})
                                       << u"EXT-X-PROGRAM-DATE-TIME after the first EXT-X-PART"_qs;
    QTest::newRow("part bad GAP") << ll + lines({"#EXT-X-PART:DURATION=0.5,URI=\"a0.ts\",GAP=1"}) << u"GAP is neither"_qs;
    QTest::newRow("parts do not add up") << ll + lines({"#EXT-X-PART:DURATION=0.5,URI=\"a0.ts\"", "#EXT-X-PART:DURATION=0.5,URI=\"a1.ts\"",
                                                        "#EXTINF:2.0,", "a.ts"})
                                         << u"the parts of a.ts last 1 s, its EXTINF 2 s"_qs;
    QTest::newRow("part without URI") << ll + lines({"#EXT-X-PART:DURATION=0.5"}) << u"EXT-X-PART needs DURATION and a quoted URI"_qs;
    QTest::newRow("part unquoted URI") << ll + lines({"#EXT-X-PART:DURATION=0.5,URI=a0.ts"}) << u"EXT-X-PART needs DURATION and a quoted URI"_qs;
    QTest::newRow("part bad INDEPENDENT") << ll + lines({"#EXT-X-PART:DURATION=0.5,URI=\"a0.ts\",INDEPENDENT=yes"}) << u"INDEPENDENT is neither"_qs;
    QTest::newRow("hint of another type") << ll + lines({"#EXT-X-PRELOAD-HINT:TYPE=SEGMENT,URI=\"b.ts\""}) << u"EXT-X-PRELOAD-HINT needs TYPE"_qs;
}

void TestHlsPlaylist::checker()
{
    QFETCH(QByteArray, text);
    QFETCH(QString, problem);
    const HlsCheck c = checkMediaPlaylist(text);
    if (problem.isEmpty()) {
        QVERIFY2(c.ok, qPrintable(problemsOf(c)));
        QVERIFY(!c.segments.isEmpty());
    } else {
        QVERIFY(!c.ok);
        QVERIFY2(problemsOf(c).contains(problem), qPrintable(problemsOf(c)));
    }
}

void TestHlsPlaylist::reload_data()
{
    QTest::addColumn<QByteArray>("earlier");
    QTest::addColumn<QByteArray>("later");
    QTest::addColumn<QString>("problem"); // empty: consistent

    const auto playlist = [](qint64 sequence, qint64 discontinuities, QList<QByteArray> segments, int target = 6) {
        QByteArray out = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:" + QByteArray::number(target)
                         + "\n#EXT-X-MEDIA-SEQUENCE:" + QByteArray::number(sequence)
                         + "\n#EXT-X-DISCONTINUITY-SEQUENCE:" + QByteArray::number(discontinuities) + '\n';
        for (const QByteArray &s : segments) {
            if (s.startsWith('!'))
                out += "#EXT-X-DISCONTINUITY\n#EXTINF:6.0,\n" + s.mid(1) + '\n';
            else
                out += "#EXTINF:6.0,\n" + s + '\n';
        }
        return out;
    };
    QTest::newRow("rolling") << playlist(10, 0, {"a", "b", "c"}) << playlist(11, 0, {"b", "c", "d"}) << QString();
    QTest::newRow("unchanged") << playlist(10, 0, {"a", "b"}) << playlist(10, 0, {"a", "b"}) << QString();
    QTest::newRow("discontinuity leaves") << playlist(10, 4, {"a", "!b", "c"}) << playlist(12, 5, {"c", "d"}) << QString();
    QTest::newRow("discontinuity leaves, not counted") << playlist(10, 4, {"a", "!b", "c"}) << playlist(12, 4, {"c", "d"})
                                                       << u"segment 12 had discontinuity sequence number 5, now 4"_qs;
    QTest::newRow("counted but did not leave") << playlist(10, 4, {"a", "!b", "c"}) << playlist(11, 5, {"!b", "c"})
                                               << u"segment 11 had discontinuity sequence number 5, now 6"_qs;
    QTest::newRow("all left, with a restart") << playlist(10, 4, {"a", "!b", "c"}) << playlist(20, 5, {"!x"}) << QString();
    QTest::newRow("all left, discontinuity sequence behind") << playlist(10, 4, {"a", "!b", "c"}) << playlist(20, 4, {"x"})
                                                             << u"EXT-X-DISCONTINUITY-SEQUENCE 4 is below 5"_qs;
    QTest::newRow("media sequence back") << playlist(10, 0, {"a", "b"}) << playlist(0, 0, {"x"}) << u"EXT-X-MEDIA-SEQUENCE went back from 10 to 0"_qs;
    QTest::newRow("discontinuity sequence back") << playlist(10, 3, {"a"}) << playlist(11, 2, {"b"})
                                                 << u"EXT-X-DISCONTINUITY-SEQUENCE went back from 3 to 2"_qs;
    QTest::newRow("URI changed") << playlist(10, 0, {"a", "b"}) << playlist(11, 0, {"x", "c"}) << u"segment 11 was b, is now x"_qs;
    QTest::newRow("discontinuity appeared") << playlist(10, 0, {"a", "b"}) << playlist(10, 0, {"a", "!b"})
                                            << u"segment 11 gained its EXT-X-DISCONTINUITY"_qs;
    QTest::newRow("segments vanished") << playlist(10, 0, {"a", "b", "c"}) << playlist(10, 0, {"a", "b"})
                                       << u"segments disappeared from the end: listed up to 12, then only up to 11"_qs;
    QTest::newRow("target changed") << playlist(10, 0, {"a"}) << playlist(10, 0, {"a", "b"}, 8) << u"EXT-X-TARGETDURATION changed from 6 to 8"_qs;
    QTest::newRow("changed after end") << playlist(10, 0, {"a"}) + "#EXT-X-ENDLIST\n" << playlist(10, 0, {"a", "b"})
                                       << u"changed after EXT-X-ENDLIST"_qs;
}

void TestHlsPlaylist::reloadParts_data()
{
    QTest::addColumn<QByteArray>("earlier");
    QTest::addColumn<QByteArray>("later");
    QTest::addColumn<QString>("problem"); // empty: consistent

    const QByteArray head = lines({"#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:5",
                                   "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500", "#EXT-X-PART-INF:PART-TARGET=0.500"});
    const QByteArray s5 = lines({"#EXT-X-PART:DURATION=0.500,URI=\"a0\",INDEPENDENT=YES", "#EXT-X-PART:DURATION=0.500,URI=\"a1\"",
                                 "#EXTINF:1.000,", "a.ts"});
    const QByteArray b0 = lines({"#EXT-X-PART:DURATION=0.500,URI=\"b0\",INDEPENDENT=YES"});
    const QByteArray b1 = lines({"#EXT-X-PART:DURATION=0.500,URI=\"b1\""});
    QTest::newRow("a part more") << head + s5 + b0 << head + s5 + b0 + b1 << QString();
    QTest::newRow("segment completed from its parts") << head + s5 + b0 + b1 << head + s5 + b0 + b1 + lines({"#EXTINF:1.000,", "b.ts"})
                                                      << QString();
    QTest::newRow("parts no longer listed") << head + s5 + b0 << head + lines({"#EXTINF:1.000,", "a.ts"}) + b0 << QString();
    QTest::newRow("part in progress replaced") << head + s5 + b0 << head + s5 + lines({"#EXT-X-PART:DURATION=0.500,URI=\"x0\",INDEPENDENT=YES"})
                                               << u"part 0 of segment 6 was b0 (0.5 s), is now x0 (0.5 s)"_qs;
    QTest::newRow("part in progress gone") << head + s5 + b0 + b1 << head + s5 + b0 << u"part 1 of segment 6 (b1) disappeared"_qs;
    QTest::newRow("segment completed without a part") << head + s5 + b0 + b1 << head + s5 + b0 + lines({"#EXTINF:0.500,", "b.ts"})
                                                      << u"part 1 of segment 6 (b1) disappeared"_qs;
    QTest::newRow("listed part changed") << head + s5 << head + lines({"#EXT-X-PART:DURATION=0.500,URI=\"a0\",INDEPENDENT=YES",
                                                                      "#EXT-X-PART:DURATION=0.500,URI=\"a1x\"", "#EXTINF:1.000,", "a.ts"})
                                         << u"part 1 of segment 5 was a1 (0.5 s), is now a1x (0.5 s)"_qs;
    QTest::newRow("listed segment gained a part") << head + s5 << head + lines({"#EXT-X-PART:DURATION=0.500,URI=\"a0\",INDEPENDENT=YES",
                                                                               "#EXT-X-PART:DURATION=0.450,URI=\"a1\"",
                                                                               "#EXT-X-PART:DURATION=0.050,URI=\"a2\"", "#EXTINF:1.000,", "a.ts"})
                                                  << u"segment 5 had 2 parts, now 3"_qs;
}

void TestHlsPlaylist::reloadParts()
{
    reload();
}

void TestHlsPlaylist::reload()
{
    QFETCH(QByteArray, earlier);
    QFETCH(QByteArray, later);
    QFETCH(QString, problem);
    const HlsCheck a = checkMediaPlaylist(earlier);
    const HlsCheck b = checkMediaPlaylist(later);
    QVERIFY2(a.ok, qPrintable(problemsOf(a)));
    QVERIFY2(b.ok, qPrintable(problemsOf(b)));
    const QStringList problems = checkReload(a, b);
    if (problem.isEmpty()) {
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u'\n')));
    } else {
        QVERIFY2(problems.join(u'\n').contains(problem), qPrintable(problems.join(u'\n')));
    }
}

void TestHlsPlaylist::sequenceStateRoundTrip()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"state.json"_qs);
    QString error;
    QVERIFY(!SequenceState::load(path, &error));
    QVERIFY2(error.contains(path), qPrintable(error));

    const SequenceState state{123456789012LL, 42};
    QVERIFY2(state.save(path, &error), qPrintable(error));
    const std::optional<SequenceState> loaded = SequenceState::load(path, &error);
    QVERIFY2(loaded, qPrintable(error));
    QVERIFY(*loaded == state);
    QVERIFY((SequenceState{5, 1}.save(path, &error))); // replaced in place
    QCOMPARE(SequenceState::load(path, &error)->mediaSequence, 5);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files), QStringList{u"state.json"_qs}); // no temporary left
}

void TestHlsPlaylist::sequenceStateDamaged_data()
{
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<QString>("error");
    QTest::newRow("empty") << QByteArray() << u"is damaged: illegal value at byte 0"_qs;
    QTest::newRow("truncated") << QByteArray("{\"mediaSequence\": 12, \"disc") << u"is damaged: "_qs;
    QTest::newRow("not an object") << QByteArray("[1, 2]") << u"is damaged: not a JSON object"_qs;
    QTest::newRow("missing key") << QByteArray("{\"mediaSequence\": 12}") << u"\"discontinuitySequence\" is missing"_qs;
    QTest::newRow("negative") << QByteArray("{\"mediaSequence\": -1, \"discontinuitySequence\": 0}") << u"\"mediaSequence\" is -1"_qs;
    QTest::newRow("fraction") << QByteArray("{\"mediaSequence\": 1.5, \"discontinuitySequence\": 0}") << u"\"mediaSequence\" is 1.5"_qs;
    QTest::newRow("string") << QByteArray("{\"mediaSequence\": \"12\", \"discontinuitySequence\": 0}") << u"\"mediaSequence\" is \"12\""_qs;
    QTest::newRow("huge") << QByteArray("{\"mediaSequence\": 1e300, \"discontinuitySequence\": 0}") << u"expected a whole number from 0"_qs;
}

void TestHlsPlaylist::sequenceStateDamaged()
{
    QFETCH(QByteArray, content);
    QFETCH(QString, error);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"state.json"_qs);
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(content);
    file.close();
    QString message;
    QVERIFY(!SequenceState::load(path, &message));
    QVERIFY2(message.startsWith(u"the sequence state " + path), qPrintable(message));
    QVERIFY2(message.contains(error), qPrintable(message));
}

void TestHlsPlaylist::sequenceStateUnwritable()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"missing/state.json"_qs);
    QString error;
    QVERIFY(!(SequenceState{1, 0}.save(path, &error)));
    QVERIFY2(error.startsWith(u"cannot write the sequence state " + path), qPrintable(error));
}

QTEST_GUILESS_MAIN(TestHlsPlaylist)
#include "tst_hlsplaylist.moc"
