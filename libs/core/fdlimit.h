#pragma once

namespace iptv {

/// Raises the process's soft limit of open files (RLIMIT_NOFILE) to its hard limit, once, and
/// returns the soft limit then in force (capped at 2^20; 1024 when it cannot be read). Every
/// connection, recording segment and database file takes a descriptor: a server whose soft
/// limit stays at the usual 1024 runs out long before its hard limit says it must.
int raiseFileDescriptorLimit();

} // namespace iptv
