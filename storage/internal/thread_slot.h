// A small number per thread, handed out in turn (0, 1, 2, ...) the first time
// a thread asks: taken modulo N, up to N threads get distinct slots. Used to
// spread threads over per-slot state (context pools, cache shards) so that
// they rarely share a cache line or a lock.
#ifndef BUDSTIKKE_STORAGE_INTERNAL_THREAD_SLOT_H_
#define BUDSTIKKE_STORAGE_INTERNAL_THREAD_SLOT_H_

#include <atomic>
#include <cstddef>

namespace budstikke::storage::internal {

inline size_t ThreadSlot() {
  static std::atomic<size_t> next{0};
  thread_local const size_t slot = next.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

}  // namespace budstikke::storage::internal

#endif  // BUDSTIKKE_STORAGE_INTERNAL_THREAD_SLOT_H_
