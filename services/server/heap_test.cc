#include "services/server/heap.h"

#include <cstring>
#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace budstikke::server {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

TEST(HeapTest, FreedPagesAreHeldUntilReleased) {
  if (!ReadHeap().has_value()) GTEST_SKIP() << "not running on tcmalloc (sanitizer build)";
  {
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int i = 0; i < 32; ++i) {
      blocks.push_back(std::make_unique<char[]>(kMiB));
      std::memset(blocks.back().get(), 1, kMiB);  // resident
    }
  }
  const HeapUsage held = *ReadHeap();
  EXPECT_GE(held.free, 16 * kMiB);  // tcmalloc keeps most of the 32 MiB mapped
  ReleaseFreeHeap();
  const HeapUsage released = *ReadHeap();
  EXPECT_LT(released.free, kMiB);
  EXPECT_LT(released.in_use, held.in_use + kMiB);
}

}  // namespace
}  // namespace budstikke::server
