// Small text measures shared by the services' request validation.
#ifndef BUDSTIKKE_SERVICES_COMMON_TEXT_H_
#define BUDSTIKKE_SERVICES_COMMON_TEXT_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace budstikke::common {

// The number of Unicode code points of UTF-8 `s` (continuation bytes are not
// counted); limits on free text are stated in characters, not bytes.
inline size_t Utf8Length(absl::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Whether `s` holds an ASCII control character (0x00-0x1f or 0x7f).
inline bool HasControlCharacter(absl::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_TEXT_H_
