#include "heaptrim.h"

#include <QElapsedTimer>
#include <QFile>
#include <QLoggingCategory>
#include <QThreadPool>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

Q_LOGGING_CATEGORY(lcMemory, "iptv.hubris.memory", QtInfoMsg)

namespace iptv::hubris {

namespace {

/// VmRSS in KiB, -1 when /proc cannot be read.
qint64 residentKiB()
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong();
    }
    return -1;
}

} // namespace

void tuneHeap()
{
#if defined(__GLIBC__)
    if (mallopt(M_MMAP_THRESHOLD, 256 * 1024) != 1) // also fixes the trim threshold (128 KiB)
        qCWarning(lcMemory, "mallopt(M_MMAP_THRESHOLD) failed: the heap keeps glibc's dynamic threshold");
#endif
}

void releaseFreeHeap(const char *why)
{
#if defined(__GLIBC__)
    // Off the GUI thread: it walks every arena under its lock (a few ms with the guide loaded).
    QThreadPool::globalInstance()->start([why] {
        QElapsedTimer timer;
        timer.start();
        const qint64 before = residentKiB();
        malloc_trim(0);
        const qint64 after = residentKiB();
        qCDebug(lcMemory, "heap trimmed after %s: %.1f MiB resident given back (%.1f MiB left) in %.1f ms", why,
                double(before - after) / 1024, double(after) / 1024, double(timer.nsecsElapsed()) / 1e6);
    });
#else
    Q_UNUSED(why)
#endif
}

} // namespace iptv::hubris
