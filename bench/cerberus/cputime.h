#pragma once

// CPU time of the calling thread in milliseconds: the machine is shared, so wall time alone
// overstates the work a slice of the UI thread did.

#include <ctime>

inline double threadCpuMs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
