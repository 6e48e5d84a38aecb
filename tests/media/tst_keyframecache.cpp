// KeyframeCache: a new viewer gets the header and the latest GOP from its keyframe, never a
// GOP without its start, and the cache never holds more than its budget.

#include <media/keyframecache.h>

#include <QRandomGenerator>
#include <QTest>

using iptv::media::KeyframeCache;

namespace {

/// A chunk of `packets` TS packets, each byte telling which chunk it belongs to.
QByteArray chunk(int id, int packets = 1)
{
    return QByteArray(188 * packets, char(id));
}

struct Append
{
    int packets;
    bool keyframe;
};

} // namespace

Q_DECLARE_METATYPE(QList<Append>)

class TestKeyframeCache : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void snapshot_data();
    void snapshot();
    void headerFirstAndReplaced();
    void memoryStaysInBudget();
};

void TestKeyframeCache::snapshot_data()
{
    QTest::addColumn<qint64>("budget");
    QTest::addColumn<QList<Append>>("appends");
    QTest::addColumn<QList<int>>("served"); // ids of the chunks after the header; empty: nothing
    QTest::addColumn<quint64>("dropped");

    const qint64 roomy = 188 * 100;
    QTest::newRow("nothing yet") << roomy << QList<Append>{} << QList<int>{} << quint64(0);
    QTest::newRow("no keyframe yet") << roomy << QList<Append>{{1, false}, {1, false}} << QList<int>{} << quint64(0);
    QTest::newRow("one GOP") << roomy << QList<Append>{{1, false}, {2, true}, {1, false}, {3, false}} << QList<int>{1, 2, 3}
                             << quint64(0);
    QTest::newRow("latest GOP only") << roomy << QList<Append>{{2, true}, {1, false}, {2, true}, {1, false}} << QList<int>{2, 3}
                                     << quint64(0);
    QTest::newRow("keyframe just arrived") << roomy << QList<Append>{{2, true}, {1, false}, {4, true}} << QList<int>{2} << quint64(0);
    // The header (1 packet) + 10 packets fit in 11; one more packet drops the GOP.
    QTest::newRow("exactly the budget") << qint64(188 * 11) << QList<Append>{{4, true}, {6, false}} << QList<int>{0, 1}
                                        << quint64(0);
    QTest::newRow("GOP outgrows the budget") << qint64(188 * 11) << QList<Append>{{4, true}, {6, false}, {1, false}}
                                             << QList<int>{} << quint64(1);
    QTest::newRow("nothing until the next keyframe") << qint64(188 * 11)
                                                     << QList<Append>{{4, true}, {7, false}, {1, false}, {1, false}}
                                                     << QList<int>{} << quint64(1);
    QTest::newRow("next keyframe serves again") << qint64(188 * 11)
                                                << QList<Append>{{4, true}, {7, false}, {1, false}, {3, true}, {1, false}}
                                                << QList<int>{3, 4} << quint64(1);
    QTest::newRow("keyframe chunk over the budget") << qint64(188 * 11) << QList<Append>{{2, true}, {11, true}, {1, false}}
                                                    << QList<int>{} << quint64(1);
}

void TestKeyframeCache::snapshot()
{
    QFETCH(qint64, budget);
    QFETCH(QList<Append>, appends);
    QFETCH(QList<int>, served);
    QFETCH(quint64, dropped);

    KeyframeCache cache(budget);
    const QByteArray header = chunk(0xEE);
    cache.setHeader(header);
    for (int i = 0; i < appends.size(); ++i)
        cache.append(chunk(i, appends[i].packets), appends[i].keyframe);

    QByteArray expected;
    if (!served.isEmpty()) {
        expected = header;
        for (int id : served)
            expected += chunk(id, appends[id].packets);
    }
    QCOMPARE(cache.snapshot().size(), expected.size());
    QCOMPARE(cache.snapshot(), expected);
    QCOMPARE(cache.snapshotChunks().join(), expected);
    QCOMPARE(cache.gopsDropped(), dropped);
    QVERIFY(cache.bytes() <= budget);
}

void TestKeyframeCache::headerFirstAndReplaced()
{
    KeyframeCache cache(188 * 10);
    cache.append(chunk(1), true); // before any header: served without one
    QCOMPARE(cache.snapshot(), chunk(1));
    cache.setHeader(chunk(0xAA));
    QVERIFY(cache.snapshot().startsWith(chunk(0xAA)));
    cache.setHeader(chunk(0xBB)); // a new PMT (the channel's codecs changed)
    QCOMPARE(cache.snapshot(), chunk(0xBB) + chunk(1));
    QCOMPARE(cache.bytes(), 2 * 188);
    cache.setHeader(chunk(0xCC, 10)); // header and GOP no longer fit: the GOP goes
    QVERIFY(cache.snapshot().isEmpty());
    QCOMPARE(cache.gopsDropped(), quint64(1));
}

void TestKeyframeCache::memoryStaysInBudget()
{
    // A long stream with GOPs of random sizes, some larger than the budget: the cache holds at
    // most its budget at every step, and serves exactly the latest GOP whenever it fits.
    const qint64 budget = 188 * 500;
    KeyframeCache cache(budget);
    cache.setHeader(chunk(0xEE, 2));
    QRandomGenerator random(7);
    quint64 tooLarge = 0;
    for (int gop = 0; gop < 300; ++gop) {
        const int chunks = 1 + random.bounded(60);
        QByteArray whole = chunk(0xEE, 2);
        for (int c = 0; c < chunks; ++c) {
            const QByteArray bytes = chunk(gop + c, 1 + random.bounded(20));
            whole += bytes;
            cache.append(bytes, c == 0);
            QVERIFY(cache.bytes() <= budget);
            if (whole.size() <= budget)
                QCOMPARE(cache.snapshot(), whole);
            else
                QVERIFY(cache.snapshot().isEmpty());
        }
        tooLarge += whole.size() > budget ? 1 : 0;
    }
    QVERIFY(tooLarge > 10); // the run did exercise the budget
    QCOMPARE(cache.gopsDropped(), tooLarge);
    QCOMPARE(cache.gops(), quint64(300));
}

QTEST_GUILESS_MAIN(TestKeyframeCache)
#include "tst_keyframecache.moc"
