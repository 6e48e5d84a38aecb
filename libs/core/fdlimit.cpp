#include "fdlimit.h"

#include <algorithm>

#include <sys/resource.h>

namespace iptv {

int raiseFileDescriptorLimit()
{
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : int(std::min<rlim_t>(rl.rlim_cur, 1 << 20));
}

} // namespace iptv
