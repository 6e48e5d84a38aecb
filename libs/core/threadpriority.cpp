#include "threadpriority.h"

#include <QFile>
#include <QList>

#ifdef Q_OS_LINUX
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#endif

namespace iptv {

bool setRealtimeThread(int priority, QString *error)
{
#ifdef Q_OS_LINUX
    if (priority < 1 || priority > 99) {
        *error = QStringLiteral("real-time priority %1 is outside 1-99").arg(priority);
        return false;
    }
    const sched_param param{priority};
    if (::sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &param) != 0) {
        const int e = errno;
        *error = QStringLiteral("cannot give the thread the real-time policy (SCHED_RR %1): %2%3")
                     .arg(priority)
                     .arg(QString::fromLocal8Bit(std::strerror(e)),
                          e == EPERM ? QStringLiteral(" (it needs CAP_SYS_NICE, or RLIMIT_RTPRIO >= %1: LimitRTPRIO= in a systemd unit)")
                                           .arg(priority)
                                     : QString());
        return false;
    }
    return true;
#else
    Q_UNUSED(priority)
    *error = QStringLiteral("real-time scheduling is only supported on Linux");
    return false;
#endif
}

qint64 currentThreadId()
{
#ifdef Q_OS_LINUX
    return qint64(::gettid());
#else
    return 0;
#endif
}

std::optional<ThreadCpuTimes> threadCpuTimes(qint64 tid)
{
    // "<ns on a core> <ns waiting on a run queue> <time slices>"
    QFile f(QStringLiteral("/proc/self/task/%1/schedstat").arg(tid));
    if (tid <= 0 || !f.open(QIODevice::ReadOnly))
        return std::nullopt;
    const QList<QByteArray> fields = f.readLine().trimmed().split(' ');
    bool running = false, waiting = false;
    ThreadCpuTimes t;
    if (fields.size() >= 2) {
        t.runningSeconds = double(fields[0].toLongLong(&running)) / 1e9;
        t.waitingSeconds = double(fields[1].toLongLong(&waiting)) / 1e9;
    }
    if (!running || !waiting)
        return std::nullopt;
    return t;
}

} // namespace iptv
