// Shared helpers of the libFuzzer targets (README.md "Fuzzing"): an invariant
// check that aborts (so libFuzzer reports a crash and saves the input), a
// throw-away RocksDB store, and the seed writer.
//
// Seeds: every target knows how to make a few valid inputs of its own format.
// Run a target with BUDSTIKKE_FUZZ_WRITE_SEEDS=<dir> and it writes them there
// and exits (tests/fuzz/make_seeds.sh does this for every target).
#ifndef BUDSTIKKE_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define BUDSTIKKE_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"

// Aborts with the condition and line when an invariant does not hold.
#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

namespace budstikke::fuzz {

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// If BUDSTIKKE_FUZZ_WRITE_SEEDS names a directory, writes `seeds` there as
// seed-00, seed-01, ... and exits; otherwise returns.
inline void MaybeWriteSeeds(const std::vector<std::string>& seeds) {
  const char* dir = std::getenv("BUDSTIKKE_FUZZ_WRITE_SEEDS");
  if (dir == nullptr || *dir == '\0') return;
  std::filesystem::create_directories(dir);
  for (size_t i = 0; i < seeds.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "seed-%02zu", i);
    std::ofstream out(std::filesystem::path(dir) / name, std::ios::binary | std::ios::trunc);
    out.write(seeds[i].data(), static_cast<std::streamsize>(seeds[i].size()));
    if (!out) {
      std::fprintf(stderr, "cannot write seed %s/%s\n", dir, name);
      std::exit(1);
    }
  }
  std::fprintf(stderr, "wrote %zu seeds to %s\n", seeds.size(), dir);
  std::exit(0);
}

// A RocksDB store in a fresh temporary directory, removed at exit. One per
// process: fuzz targets keep it for every input.
inline storage::Store* TempStore(const std::vector<std::string>& column_families) {
  static std::string* dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "budstikke-fuzz-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    auto* d = new std::string(tmpl);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    });
    return d;
  }();
  storage::Store::Options options;
  options.column_families = column_families;
  options.block_cache_bytes = 8u << 20;
  auto store = storage::Store::Open(*dir + "/db", options);
  if (!store.ok()) {
    std::fprintf(stderr, "cannot open the fuzz store: %s\n", store.status().ToString().c_str());
    std::abort();
  }
  return store->release();  // lives until exit, like the fuzzer
}

}  // namespace budstikke::fuzz

#endif  // BUDSTIKKE_TESTS_FUZZ_FUZZ_SUPPORT_H_
