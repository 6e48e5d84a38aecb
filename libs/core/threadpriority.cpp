#include "threadpriority.h"

#ifdef Q_OS_LINUX
#include <sched.h>

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

} // namespace iptv
