// Storage layout helpers shared by the referral desk's source files (not a
// public interface): record keys, the NOT_FOUND messages and the status
// predicates. See referral.h for the layout.
#ifndef BUDSTIKKE_SERVICES_REFERRAL_INTERNAL_RECORDS_H_
#define BUDSTIKKE_SERVICES_REFERRAL_INTERNAL_RECORDS_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "budstikke/v1/referral.pb.h"

namespace budstikke::referral::referral_internal {

inline constexpr char kNotFound[] = "referral not found";
inline constexpr char kAttachmentNotFound[] = "attachment not found";
inline constexpr size_t kMaxIdBytes = 128;
// Attachment ids: this prefix, then the upload time (common::TimeOrderedId).
inline constexpr char kAttachmentIdPrefix[] = "att-";

inline std::string RecordKey(absl::string_view id) { return absl::StrCat("r/", id); }
inline std::string RequestKey(absl::string_view agency, absl::string_view request_id) {
  return absl::StrCat("q/", agency, "/", request_id);
}
inline std::string EscalationKey(absl::Time due, absl::string_view id) {
  return absl::StrFormat("e/%020d/%s", absl::ToUnixMicros(due), id);
}
inline std::string MessagePrefix(absl::string_view referral_id) {
  return absl::StrCat("m/", referral_id, "/");
}
inline std::string MessageKey(absl::string_view referral_id, absl::string_view message_id) {
  return absl::StrCat("m/", referral_id, "/", message_id);
}
inline std::string AttachmentKey(absl::string_view id) { return absl::StrCat("a/", id); }
inline std::string UploadRequestKey(absl::string_view agency, absl::string_view request_id) {
  return absl::StrCat("u/", agency, "/", request_id);
}
// An uploaded attachment not yet used by a Send or message (value: its
// upload request key). Attachment ids start with their creation time, so
// these rows sort oldest first.
inline std::string UnsentKey(absl::string_view id) { return absl::StrCat("p/", id); }
inline std::string ChunkPrefix(absl::string_view id) { return absl::StrCat("d/", id, "/"); }
inline std::string ChunkKey(absl::string_view id, size_t index) {
  return absl::StrFormat("d/%s/%06d", id, index);
}
inline size_t ChunkCount(uint64_t size, size_t chunk_bytes) {
  return size == 0 ? 0 : static_cast<size_t>((size + chunk_bytes - 1) / chunk_bytes);
}

// The recipient has taken the referral in (it keeps what it received).
inline bool IsAcknowledged(v1::ReferralStatus s) {
  return s == v1::REFERRAL_STATUS_ACKNOWLEDGED || s == v1::REFERRAL_STATUS_ACCEPTED ||
         s == v1::REFERRAL_STATUS_REJECTED || s == v1::REFERRAL_STATUS_NEED_INFO;
}
inline bool IsDecided(v1::ReferralStatus s) {
  return s == v1::REFERRAL_STATUS_ACCEPTED || s == v1::REFERRAL_STATUS_REJECTED;
}

}  // namespace budstikke::referral::referral_internal

#endif  // BUDSTIKKE_SERVICES_REFERRAL_INTERNAL_RECORDS_H_
