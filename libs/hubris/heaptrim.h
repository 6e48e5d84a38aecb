#pragma once

// Gives the C library's free heap memory back to the system. glibc keeps what a thread freed in
// that thread's arena, resident: opening the guide (a worker builds and drops ~70 MiB of tables)
// and scrolling the grid (label images, scene-graph nodes) leave 13-17 MiB of it resident on a
// box whose budget is 250 MB for everything. Called when the work that freed it is done.

namespace iptv::hubris {

/// Trims the heap on a worker thread (malloc_trim(0): every arena, free pages returned with
/// madvise) and logs what it released under iptv.hubris.memory; `why` names the moment.
/// Does nothing where the C library has no malloc_trim.
void releaseFreeHeap(const char *why);

} // namespace iptv::hubris
