// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view), so std::string_view must be converted for absl::StrCat
// and friends.
#ifndef BUDSTIKKE_STORAGE_INTERNAL_STRINGS_H_
#define BUDSTIKKE_STORAGE_INTERNAL_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace budstikke::storage::internal {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace budstikke::storage::internal

#endif  // BUDSTIKKE_STORAGE_INTERNAL_STRINGS_H_
