#include "services/common/paging.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace budstikke::common {

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0) return absl::InvalidArgumentError("page_size must not be negative");
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

absl::StatusOr<std::string> ScanPage(
    storage::Store& store, absl::string_view column_family, absl::string_view prefix,
    absl::string_view page_token, int page_size,
    absl::FunctionRef<absl::StatusOr<bool>(absl::string_view)> visit) {
  const bool token_ok =
      page_token.size() <= 256 && std::all_of(page_token.begin(), page_token.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.';
      });
  if (!token_ok) {
    return absl::InvalidArgumentError(
        "page_token is not one this server issued; pass next_page_token unchanged");
  }
  auto sv = [](absl::string_view s) { return std::string_view(s.data(), s.size()); };
  auto it = store.Scan(sv(column_family), sv(prefix));
  if (!page_token.empty()) it->Seek(absl::StrCat(prefix, page_token));
  int added = 0;
  int examined = 0;
  for (; it->Valid(); it->Next()) {
    const std::string_view key = it->key();
    const absl::string_view rest(key.data() + prefix.size(), key.size() - prefix.size());
    if (added >= page_size || examined >= kMaxRowsExamined) return std::string(rest);
    BUDSTIKKE_ASSIGN_OR_RETURN(bool row_added, visit(rest));
    added += row_added ? 1 : 0;
    ++examined;
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return std::string();
}

}  // namespace budstikke::common
