#include "storage/random.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "openssl/crypto.h"
#include "openssl/rand.h"

namespace budstikke::storage {
namespace {

std::atomic<uint64_t> g_fork_generation{0};
void OnForkChild() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

class RandomBuffer {
 public:
  static constexpr size_t kSize = 4096;
  ~RandomBuffer() { OPENSSL_cleanse(buf_, sizeof(buf_)); }

  bool Fill(unsigned char* out, size_t n) {
    const uint64_t gen = random_internal::ForkGeneration();
    if (gen != generation_) {  // forked: never hand out the parent's bytes
      OPENSSL_cleanse(buf_, sizeof(buf_));
      pos_ = kSize;
      generation_ = gen;
    }
    while (n > 0) {
      if (pos_ == kSize) {
        if (RAND_bytes(buf_, kSize) != 1) return false;
        pos_ = 0;
      }
      size_t take = std::min(n, kSize - pos_);
      std::memcpy(out, buf_ + pos_, take);
      OPENSSL_cleanse(buf_ + pos_, take);
      pos_ += take;
      out += take;
      n -= take;
    }
    return true;
  }

 private:
  unsigned char buf_[kSize];
  size_t pos_ = kSize;
  uint64_t generation_ = 0;
};

}  // namespace

absl::Status RandomBytes(unsigned char* out, size_t size) {
  thread_local RandomBuffer buffer;
  if (!buffer.Fill(out, size)) return absl::InternalError("RAND_bytes failed");
  return absl::OkStatus();
}

namespace random_internal {

uint64_t ForkGeneration() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, &OnForkChild);
    return true;
  }();
  (void)registered;
  return g_fork_generation.load(std::memory_order_relaxed);
}

}  // namespace random_internal
}  // namespace budstikke::storage
