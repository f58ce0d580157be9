// GoogleTest matchers for tlog::Result (tests only; not part of the library).
//
//   EXPECT_THAT(VerifyInclusion(...), IsOk());
//   EXPECT_THAT(ProveInclusion(5, 5, tree),
//               IsError(ErrorCode::kInvalidArgument, "leaf index 5 is not below tree size 5"));
//   EXPECT_THAT(r, IsError(ErrorCode::kDataLoss, HasSubstr("does not match the root hash")));
//
// IsError's message is a string (equality) or any string matcher. Failures
// print the Result as "OK" or "<code name>: <message>".
#ifndef BUDSTIKKE_TLOG_INTERNAL_RESULT_MATCHERS_H_
#define BUDSTIKKE_TLOG_INTERNAL_RESULT_MATCHERS_H_

#include <ostream>
#include <string>

#include "gmock/gmock.h"
#include "tlog/result.h"

namespace budstikke::tlog {

inline const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case ErrorCode::kNotFound:
      return "NOT_FOUND";
    case ErrorCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case ErrorCode::kInternal:
      return "INTERNAL";
    case ErrorCode::kUnavailable:
      return "UNAVAILABLE";
    case ErrorCode::kDataLoss:
      return "DATA_LOSS";
  }
  return "UNKNOWN";
}

inline std::string ErrorText(const Error& error) {
  return std::string(ErrorCodeName(error.code)) + ": \"" + error.message + "\"";
}

// gtest printers (found by argument-dependent lookup).
inline void PrintTo(ErrorCode code, std::ostream* os) { *os << ErrorCodeName(code); }
inline void PrintTo(const Error& error, std::ostream* os) { *os << ErrorText(error); }
template <class T>
void PrintTo(const Result<T>& result, std::ostream* os) {
  if (result.ok()) {
    *os << "OK";
  } else {
    PrintTo(result.error(), os);
  }
}

namespace testing {

// A Result that holds a value (Result<void>: no error).
MATCHER(IsOk, negation ? "is an error" : "is OK") {
  return arg.ok();  // gtest prints the Result (PrintTo above)
}

// A Result that holds an error with `code` and a message matching `message`.
MATCHER_P2(IsError, code, message,
           std::string(negation ? "is not" : "is") + " an error " + ErrorCodeName(code) +
               " whose message " +
               ::testing::DescribeMatcher<const std::string&>(message, negation)) {
  if (arg.ok()) return false;  // gtest prints the Result (PrintTo above)
  const Error& error = arg.error();
  return error.code == code &&
         ::testing::Matcher<const std::string&>(message).Matches(error.message);
}

}  // namespace testing
}  // namespace budstikke::tlog

#endif  // BUDSTIKKE_TLOG_INTERNAL_RESULT_MATCHERS_H_
