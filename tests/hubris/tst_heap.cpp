// tuneHeap() and releaseFreeHeap() (libs/hubris/heaptrim.h): with the threshold fixed, a large
// block freed leaves no free heap behind, even after glibc would have raised its threshold.
#include <hubris/heaptrim.h>

#include <QTest>
#include <QThreadPool>

#include <malloc.h>

#include <cstdlib>
#include <cstring>

class TestHeap : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void largeBlocksAreMappedEveryTime()
    {
        iptv::hubris::tuneHeap();
        // glibc's dynamic threshold rises to a block's size when a mapped block is freed: the
        // second 1 MiB would then come from the heap and stay resident there once freed.
        for (int i = 0; i < 3; ++i) {
            const size_t mappedBefore = mallinfo2().hblks;
            void *block = std::malloc(1 << 20);
            QVERIFY(block);
            std::memset(block, 1, 1 << 20);
            QCOMPARE(mallinfo2().hblks, mappedBefore + 1);
            std::free(block);
            QCOMPARE(mallinfo2().hblks, mappedBefore);
        }
    }

    void releaseFreeHeapRunsOffTheCaller()
    {
        iptv::hubris::releaseFreeHeap("a test"); // on the global pool: it must come back
        QTRY_VERIFY(QThreadPool::globalInstance()->activeThreadCount() == 0);
    }
};

QTEST_GUILESS_MAIN(TestHeap)
#include "tst_heap.moc"
