// The one paging loop of the services' list calls (consultations, consents,
// referrals): rows are the keys under an index prefix, newest first; a page
// token is the key remainder (after the prefix) of the first row of the next
// page, opaque to clients and free of personal data.
//
//   BUDSTIKKE_ASSIGN_OR_RETURN(int size, common::PageSize(req.page_size()));
//   BUDSTIKKE_ASSIGN_OR_RETURN(std::string next,
//       common::ScanPage(*store, cf, prefix, req.page_token(), size,
//                        [&](absl::string_view rest) -> absl::StatusOr<bool> {
//                          ... load the row; return true if it was added ...
//                        }));
//
// Thread safety: as the store.
#ifndef BUDSTIKKE_SERVICES_COMMON_PAGING_H_
#define BUDSTIKKE_SERVICES_COMMON_PAGING_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/store.h"

namespace budstikke::common {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 500;
// Rows one page call examines at most: a filter that matches nothing ends the
// call after this many (a short or empty page with a next_page_token) instead
// of walking an agency's whole history on the domain thread.
inline constexpr int kMaxRowsExamined = 2000;

// 0 -> kDefaultPageSize; above kMaxPageSize -> kMaxPageSize; negative ->
// INVALID_ARGUMENT "page_size must not be negative".
absl::StatusOr<int> PageSize(int requested);

// Visits the rows under `prefix` in `column_family` from `page_token` on,
// passing each key's remainder after the prefix to `visit`, which returns
// whether it added the row to the page (false: filtered out) or an error that
// ends the walk. Stops once `page_size` rows were added, or kMaxRowsExamined
// rows were visited, and another row exists; returns that row's remainder as
// the next page token, or "" when the index is exhausted. A token that no key remainder could be
// (bad characters, over 256 bytes) is INVALID_ARGUMENT.
absl::StatusOr<std::string> ScanPage(
    storage::Store& store, absl::string_view column_family, absl::string_view prefix,
    absl::string_view page_token, int page_size,
    absl::FunctionRef<absl::StatusOr<bool>(absl::string_view)> visit);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_PAGING_H_
