// Big-endian 64-bit integers: the one encoding of numbers inside keys (so
// byte order is numeric order) and of the AEAD nonce counter.
#ifndef BUDSTIKKE_STORAGE_BIG_ENDIAN_H_
#define BUDSTIKKE_STORAGE_BIG_ENDIAN_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace budstikke::storage {

// Writes the 8 bytes of `v`, most significant first, to `out`.
inline void StoreBigEndian64(uint64_t v, void* out) {
  auto* p = static_cast<unsigned char*>(out);
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
}

// The 8 bytes of `v`, most significant first.
inline std::string BigEndian64(uint64_t v) {
  std::string s(8, '\0');
  StoreBigEndian64(v, s.data());
  return s;
}

// The inverse: the bytes of `s` (at most 8 are meaningful) as a number.
inline uint64_t LoadBigEndian64(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_BIG_ENDIAN_H_
