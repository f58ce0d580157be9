// Test-only helpers for storage/ tests.
#ifndef BUDSTIKKE_STORAGE_TEST_UTIL_H_
#define BUDSTIKKE_STORAGE_TEST_UTIL_H_

#include <stdint.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace budstikke::storage::testing {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/budstikke-storage-test-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    path_ = p != nullptr ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Paths of every regular file under `dir` whose content contains `needle`.
inline std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    if (ReadWholeFile(e.path().string()).find(needle) != std::string::npos) {
      hits.push_back(e.path().string());
    }
  }
  return hits;
}

// Names (not paths) of every regular file under `dir`.
inline std::vector<std::string> FileNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  }
  return names;
}

inline uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

// Flips the lowest bit of the byte at `offset` (a single-bit error: the
// smallest corruption there is). The corruption tests of storage/ and of the
// server (tests/corruption_integration_test.cc) damage files with it.
inline void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  ASSERT_TRUE(f.good()) << path << " offset " << offset;
  c = static_cast<char>(c ^ 0x01);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  ASSERT_TRUE(f.good());
}

}  // namespace budstikke::storage::testing

#endif  // BUDSTIKKE_STORAGE_TEST_UTIL_H_
