#include "services/common/record_codec.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace budstikke::common {

std::string RandomHexId(absl::string_view prefix, size_t random_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char buf[64];
  if (random_bytes > sizeof buf) std::abort();  // a programming error
  if (RAND_bytes(buf, static_cast<int>(random_bytes)) != 1) std::abort();
  std::string id(prefix);
  id.reserve(prefix.size() + 2 * random_bytes);
  for (size_t i = 0; i < random_bytes; ++i) {
    id.push_back(kHex[buf[i] >> 4]);
    id.push_back(kHex[buf[i] & 15]);
  }
  return id;
}

std::string InvertedTimeMicros(absl::Time t) {
  const uint64_t micros = static_cast<uint64_t>(absl::ToUnixMicros(t));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu",
                static_cast<unsigned long long>(std::numeric_limits<int64_t>::max() - micros));
  return buf;
}

std::string Frame(absl::string_view a, absl::string_view b) {
  std::string out;
  out.reserve(4 + a.size() + b.size());
  const uint32_t n = static_cast<uint32_t>(a.size());
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>(n >> shift));
  out.append(a.data(), a.size());
  out.append(b.data(), b.size());
  return out;
}

bool Unframe(absl::string_view framed, std::string* a, std::string* b) {
  if (framed.size() < 4) return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(framed[i]);
  if (framed.size() - 4 < n) return false;
  a->assign(framed.data() + 4, n);
  b->assign(framed.data() + 4 + n, framed.size() - 4 - n);
  return true;
}

}  // namespace budstikke::common
