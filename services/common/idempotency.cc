#include "services/common/idempotency.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/message.h"
#include "services/common/record_codec.h"

namespace budstikke::common {

absl::Status ValidateRequestId(absl::string_view request_id, absl::string_view field) {
  if (request_id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  if (request_id.size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be at most ", kMaxRequestIdBytes, " characters"));
  }
  for (char c : request_id) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(field, " must be printable ASCII"));
    }
  }
  return absl::OkStatus();
}

std::string RequestFingerprint(absl::string_view kind, const google::protobuf::Message& request) {
  // Requests have no map fields, so their serialization is deterministic;
  // long texts are not UTF-8-checked again (gRPC checked them on parsing).
  const std::string bytes = absl::StrCat(kind, "\n", SerializeLongTextsUnchecked(request));
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

std::string RequestRecord(absl::string_view created_id, absl::string_view fingerprint) {
  return absl::StrCat(created_id, "\n", fingerprint);
}

absl::StatusOr<std::string> ReplayedId(absl::string_view stored, absl::string_view fingerprint,
                                       absl::string_view request_id) {
  const size_t nl = stored.find('\n');
  const absl::string_view id = stored.substr(0, nl);
  if (id.empty()) return absl::DataLossError("request record holds no id");
  if (nl != absl::string_view::npos && stored.substr(nl + 1) != fingerprint) {
    return absl::AlreadyExistsError(absl::StrCat(
        "request_id '", request_id,
        "' was already used for a different request; use a new request_id for a new request"));
  }
  return std::string(id);
}

}  // namespace budstikke::common
