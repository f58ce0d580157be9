// RFC 9162 §2.1 Merkle tree hashing (identical to RFC 6962 with SHA-256).
//
//   LeafHash(d)    = SHA-256(0x00 || d)
//   NodeHash(l, r) = SHA-256(0x01 || l || r)
//   EmptyHash()    = SHA-256("")   (the root of the empty tree)
//
// Thread safety: all functions are safe to call concurrently.
#ifndef BUDSTIKKE_TLOG_HASH_H_
#define BUDSTIKKE_TLOG_HASH_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace budstikke::tlog {

inline constexpr size_t kHashSize = 32;
using Hash = std::array<uint8_t, kHashSize>;

Hash LeafHash(std::string_view data);
Hash NodeHash(const Hash& left, const Hash& right);
const Hash& EmptyHash();

// Lowercase hex, for logs and test failure messages.
std::string HashToHex(const Hash& h);

}  // namespace budstikke::tlog

#endif  // BUDSTIKKE_TLOG_HASH_H_
