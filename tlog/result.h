// Result<T>: the error type of tlog/.
//
// tlog/ is shared with the client SDK and may depend on the C++17 standard
// library and OpenSSL's libcrypto only (DESIGN.md), so it cannot use
// absl::Status. Instead every fallible function returns Result<T>: either a
// value or an Error {code, message}. Result<void> carries no value.
//
// ErrorCode values are numerically equal to the matching absl::StatusCode /
// grpc::StatusCode, so callers above tlog/ convert with
//   absl::Status(static_cast<absl::StatusCode>(error.code), error.message).
// Meaning of the codes used in tlog/:
//   kInvalidArgument   malformed input (note, checkpoint, key text, proof
//                      shape) or out-of-range arguments (index >= size).
//   kNotFound          no signature from a known key; a HashReader that lacks
//                      a hash; a key file that does not exist.
//   kPermissionDenied  a key file readable by group or others.
//   kDataLoss          a proof or signature that does not verify: evidence of
//                      tampering or corruption.
//   kInternal          an unexpected OpenSSL failure.
//   kUnavailable       (for HashReader implementations) transient I/O.
//
// Messages are one line, say what is wrong and never contain key material.
// Accessing value() of an error (or error() of a value) aborts the process.
#ifndef BUDSTIKKE_TLOG_RESULT_H_
#define BUDSTIKKE_TLOG_RESULT_H_

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace budstikke::tlog {

enum class ErrorCode : int {
  kInvalidArgument = 3,
  kNotFound = 5,
  kPermissionDenied = 7,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
};

struct Error {
  ErrorCode code;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }

  const T& value() const& {
    Check(ok());
    return std::get<0>(v_);
  }
  T& value() & {
    Check(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    Check(ok());
    return std::get<0>(std::move(v_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const Error& error() const {
    Check(!ok());
    return std::get<1>(v_);
  }

 private:
  static void Check(bool b) {
    if (!b) std::abort();
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  const Error& error() const {
    if (ok_) std::abort();
    return error_;
  }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace budstikke::tlog

#endif  // BUDSTIKKE_TLOG_RESULT_H_
