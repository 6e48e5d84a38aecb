#pragma once

// The C library's heap on a box whose budget is 250 MB for everything. glibc keeps what a thread
// freed in that thread's arena, resident: opening the guide (a worker builds and drops ~70 MiB of
// tables) and scrolling the grid (label images, Qt Quick's and Mesa's per-frame buffers) left
// 10-17 MiB of free heap resident (bench_ui: malloc's free bytes grew while scrolling, its bytes in
// use did not). tuneHeap() keeps large transient blocks out of the heap; releaseFreeHeap() hands
// back what a finished job left (the guide opened or replaced).

namespace iptv::hubris {

/// Call first thing in the process: blocks of 256 KiB and more are mapped and unmapped on their
/// own instead of glibc's threshold that rises to 32 MiB after the first large free, which kept
/// every large transient buffer of a frame or of the guide's load in the heap. No-op off glibc.
void tuneHeap();

/// Trims the heap on a worker thread (malloc_trim(0): every arena, free pages returned with
/// madvise) and logs what it released under iptv.hubris.memory; `why` names the moment.
/// Does nothing where the C library has no malloc_trim.
void releaseFreeHeap(const char *why);

} // namespace iptv::hubris
