#include "services/common/agency_id.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace budstikke::common {
namespace {

bool IsIdChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

}  // namespace

absl::Status ValidateAgencyId(absl::string_view id, absl::string_view field) {
  if (id.size() < 2 || id.size() > 64 || !std::all_of(id.begin(), id.end(), IsIdChar) ||
      id.front() == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be 2-64 characters of a-z, 0-9 and '-', e.g. \"bup-oslo\""));
  }
  return absl::OkStatus();
}

}  // namespace budstikke::common
