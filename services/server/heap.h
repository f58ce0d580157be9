// The allocator's heap: how much is in use and how much it holds free, and
// giving the free part back to the operating system.
//
// budstikke-server runs on gperftools' tcmalloc (cmake/BudstikkeHelpers.cmake),
// which keeps freed pages mapped for reuse: after a burst (a bulk import, a
// compaction, many clients at once) they stay in the RSS. bench/scale.py at
// 1M records, --no-sync-writes: RSS 269 MiB of which 87 MiB were held free
// by tcmalloc, in its page heap and its thread caches (docs/PERFORMANCE.md,
// At scale, second run). The functions are
// looked up by name at run time, so this builds and runs without tcmalloc
// (sanitizer and fuzz builds): then ReadHeap is empty and ReleaseFreeHeap does
// nothing.
#ifndef BUDSTIKKE_SERVICES_SERVER_HEAP_H_
#define BUDSTIKKE_SERVICES_SERVER_HEAP_H_

#include <cstddef>
#include <optional>

namespace budstikke::server {

struct HeapUsage {
  size_t in_use = 0;  // bytes allocated and not freed
  size_t free = 0;    // free pages of the page heap, resident (ReleaseFreeHeap returns them)
  size_t cached = 0;  // free objects in the thread, central and transfer caches
};

// Empty when the process does not run on tcmalloc.
std::optional<HeapUsage> ReadHeap();

// Returns tcmalloc's free pages to the operating system (madvise); they are
// faulted in again when needed. Thread caches stay.
void ReleaseFreeHeap();

// Bounds the free objects all threads' caches may hold together (tcmalloc's
// default: 32 MiB, which a server with dozens of threads fills). Smaller
// means more trips to the central free lists. Does nothing when the
// environment sets TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES (the operator's).
void LimitThreadCaches(size_t total_bytes);

}  // namespace budstikke::server

#endif  // BUDSTIKKE_SERVICES_SERVER_HEAP_H_
