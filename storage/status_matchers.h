// Test-only gMock matchers for absl::Status / absl::StatusOr (Debian's Abseil
// has no status_matchers.h).
//
//   EXPECT_THAT(store->Get(...), StatusIs(absl::StatusCode::kDataLoss,
//                                         HasSubstr("authentication")));
//   EXPECT_THAT(result, IsOk());
#ifndef BUDSTIKKE_STORAGE_STATUS_MATCHERS_H_
#define BUDSTIKKE_STORAGE_STATUS_MATCHERS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace budstikke::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER_P2(StatusIs, code, message_matcher, "status code " + ::testing::PrintToString(code)) {
  const absl::Status& s = ::budstikke::testing::GetStatus(arg);
  *result_listener << "which is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(s.message()), result_listener);
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = ::budstikke::testing::GetStatus(arg);
  *result_listener << "which is " << s;
  return s.ok();
}

}  // namespace budstikke::testing

#endif  // BUDSTIKKE_STORAGE_STATUS_MATCHERS_H_
