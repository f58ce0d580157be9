#include "services/server/heap.h"

#include <dlfcn.h>

#include <cstdlib>

namespace budstikke::server {
namespace {

using GetProperty = int (*)(const char*, size_t*);
using SetProperty = int (*)(const char*, size_t);
using Release = void (*)();

// gperftools' C API (gperftools/malloc_extension_c.h), if linked in.
template <typename Fn>
Fn Lookup(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

std::optional<HeapUsage> ReadHeap() {
  static const GetProperty get = Lookup<GetProperty>("MallocExtension_GetNumericProperty");
  if (get == nullptr) return std::nullopt;
  size_t thread = 0, central = 0, transfer = 0;
  HeapUsage h;
  if (!get("generic.current_allocated_bytes", &h.in_use) ||
      !get("tcmalloc.pageheap_free_bytes", &h.free) ||
      !get("tcmalloc.current_total_thread_cache_bytes", &thread) ||
      !get("tcmalloc.central_cache_free_bytes", &central) ||
      !get("tcmalloc.transfer_cache_free_bytes", &transfer)) {
    return std::nullopt;
  }
  h.cached = thread + central + transfer;
  return h;
}

void ReleaseFreeHeap() {
  static const Release release = Lookup<Release>("MallocExtension_ReleaseFreeMemory");
  if (release != nullptr) release();
}

void LimitThreadCaches(size_t total_bytes) {
  // An operator's TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES wins.
  if (std::getenv("TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES") != nullptr) return;
  static const SetProperty set = Lookup<SetProperty>("MallocExtension_SetNumericProperty");
  if (set != nullptr) set("tcmalloc.max_total_thread_cache_bytes", total_bytes);
}

}  // namespace budstikke::server
