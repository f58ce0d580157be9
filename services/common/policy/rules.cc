#include "services/common/policy/rules.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace budstikke::policy {
namespace {

// "a, b or c".
std::string OrList(const std::vector<std::string>& names) {
  if (names.empty()) return "nobody";
  if (names.size() == 1) return names[0];
  std::vector<std::string> head(names.begin(), names.end() - 1);
  return absl::StrCat(absl::StrJoin(head, ", "), " or ", names.back());
}

absl::string_view AgencyTypeLabel(v1::AgencyType type) {
  switch (type) {
    case v1::AGENCY_TYPE_KINDERGARTEN:
      return "kindergarten";
    case v1::AGENCY_TYPE_SCHOOL:
      return "school";
    case v1::AGENCY_TYPE_PPT:
      return "PPT";
    case v1::AGENCY_TYPE_HEALTH_STATION:
      return "health station";
    case v1::AGENCY_TYPE_GP:
      return "GP";
    case v1::AGENCY_TYPE_CHILD_WELFARE:
      return "child welfare";
    case v1::AGENCY_TYPE_BUP:
      return "BUP";
    case v1::AGENCY_TYPE_SUPERVISORY_AUTHORITY:
      return "supervisory authority";
    case v1::AGENCY_TYPE_OPERATOR:
      return "operator";
    default:
      return "unspecified";
  }
}

}  // namespace

bool IsAnswererRole(v1::Role role) {
  for (v1::Role r : kAnswererRoles) {
    if (r == role) return true;
  }
  return false;
}

std::string RoleList(const std::set<v1::Role>& roles) {
  return RoleList(std::vector<v1::Role>(roles.begin(), roles.end()));
}

std::string RoleList(absl::Span<const v1::Role> roles) {
  std::vector<std::string> names;
  for (v1::Role r : roles) {
    // ROLE_CHILD_WELFARE_LEADER -> child_welfare_leader, as in SPIFFE ids.
    names.push_back(absl::AsciiStrToLower(absl::StripPrefix(v1::Role_Name(r), "ROLE_")));
  }
  return OrList(names);
}

std::string AgencyTypeList(const std::set<v1::AgencyType>& types) {
  std::vector<std::string> names;
  for (v1::AgencyType t : types) names.emplace_back(AgencyTypeLabel(t));
  return OrList(names);
}

absl::StatusOr<std::set<v1::AgencyType>> ParseAgencyTypeNames(absl::string_view csv) {
  std::set<v1::AgencyType> out;
  for (absl::string_view raw : absl::StrSplit(csv, ',', absl::SkipWhitespace())) {
    const std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(raw));
    v1::AgencyType type;
    if (!v1::AgencyType_Parse(absl::StrCat("AGENCY_TYPE_", name), &type) ||
        type == v1::AGENCY_TYPE_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown agency type '", absl::StripAsciiWhitespace(raw), "'"));
    }
    out.insert(type);
  }
  if (out.empty()) return absl::InvalidArgumentError("no agency type given");
  return out;
}

}  // namespace budstikke::policy
