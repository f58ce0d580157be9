// Random bytes for record ids: OpenSSL's CSPRNG (RAND_bytes) drawn through a
// per-thread 4 KiB buffer. One RAND_bytes call costs ~1-3 us in OpenSSL 3.0
// (DRBG locks and checks per call, whatever the size), a buffered draw of 16
// bytes ~0.05 us. Handed-out bytes are wiped from the buffer, and a forked
// child discards its parent's buffer (pthread_atfork), so no two processes
// hand out the same bytes.
#ifndef BUDSTIKKE_STORAGE_RANDOM_H_
#define BUDSTIKKE_STORAGE_RANDOM_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace budstikke::storage {

// INTERNAL if OpenSSL's CSPRNG fails.
absl::Status RandomBytes(unsigned char* out, size_t size);

namespace random_internal {
// Changes in a child after fork() (registers the pthread_atfork handler).
uint64_t ForkGeneration();
}  // namespace random_internal

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_RANDOM_H_
