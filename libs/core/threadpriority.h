#pragma once

// A server's latency-sensitive thread (the one answering HTTP) ahead of its bulk work. On a node
// whose cores are saturated by bulk threads (diver's 100 recorders, a headend beside it), a
// normal-policy thread waits for a core behind all of them, however nice they are: measured with
// bench/diver/playback.sh, a playback start's p99 went from 450 ms of run-queue wait on diver's
// HTTP thread to none once that thread had the round-robin real-time policy.

#include <QString>

#include <optional>

namespace iptv {

/// Gives the calling thread the round-robin real-time policy (SCHED_RR) at `priority` (1-99):
/// it runs before every normal thread of the machine whenever it is runnable. Threads it starts
/// from then on get the normal policy (SCHED_RESET_ON_FORK), so a worker it spawns never inherits
/// the privilege. Needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least `priority` (systemd:
/// LimitRTPRIO=); false with *error saying why when not permitted or not on Linux.
bool setRealtimeThread(int priority, QString *error);

/// The kernel's id of the calling thread (Linux); 0 elsewhere.
qint64 currentThreadId();

struct ThreadCpuTimes
{
    double runningSeconds = 0; ///< on a core
    double waitingSeconds = 0; ///< runnable, waiting for a core (the run queue)
};
/// Since thread `tid` of this process started (/proc/self/task/<tid>/schedstat); nullopt when
/// there is no such thread or the kernel does not say.
std::optional<ThreadCpuTimes> threadCpuTimes(qint64 tid);

} // namespace iptv
