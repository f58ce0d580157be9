#include "services/common/identity.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace budstikke::common {
namespace {

constexpr std::array<std::pair<absl::string_view, Role>, 8> kRoles = {{
    {"staff", v1::ROLE_STAFF},
    {"physician", v1::ROLE_PHYSICIAN},
    {"psychologist", v1::ROLE_PSYCHOLOGIST},
    {"child_welfare_leader", v1::ROLE_CHILD_WELFARE_LEADER},
    {"clinician", v1::ROLE_CLINICIAN},
    {"auditor", v1::ROLE_AUDITOR},
    {"admin", v1::ROLE_ADMIN},
    {"leader", v1::ROLE_LEADER},
}};

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

bool IsValidId(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

absl::Status Unauthenticated(absl::string_view what) {
  return absl::UnauthenticatedError(absl::StrCat("client certificate rejected: ", what));
}

}  // namespace

std::optional<Role> RoleFromName(absl::string_view name) {
  for (const auto& [n, r] : kRoles) {
    if (n == name) return r;
  }
  return std::nullopt;
}

absl::string_view RoleName(Role role) {
  for (const auto& [n, r] : kRoles) {
    if (r == role) return n;
  }
  return "unspecified";
}

bool IsProfessionalRole(Role role) {
  switch (role) {
    case v1::ROLE_STAFF:
    case v1::ROLE_PHYSICIAN:
    case v1::ROLE_PSYCHOLOGIST:
    case v1::ROLE_CHILD_WELFARE_LEADER:
    case v1::ROLE_CLINICIAN:
    case v1::ROLE_LEADER:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<Identity> ParseSpiffeId(absl::string_view uri, absl::string_view trust_domain) {
  constexpr absl::string_view kScheme = "spiffe://";
  if (!absl::StartsWith(uri, kScheme)) {
    return Unauthenticated("URI SAN is not a spiffe:// ID");
  }
  absl::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) {
    return Unauthenticated("SPIFFE ID has no path");
  }
  absl::string_view td = rest.substr(0, slash);
  if (td != trust_domain) {
    return Unauthenticated(absl::StrCat(
        "SPIFFE trust domain '", td, "' is not this server's trust domain '", trust_domain, "'"));
  }
  std::vector<absl::string_view> parts = absl::StrSplit(rest.substr(slash + 1), '/');
  Identity id;
  id.spiffe_id = std::string(uri);
  if (parts.size() == 2 && parts[0] == "service") {
    if (!IsValidId(parts[1])) return Unauthenticated("malformed service name in SPIFFE ID");
    id.service = std::string(parts[1]);
    return id;
  }
  if (parts.size() != 6 || parts[0] != "agency" || parts[2] != "role" || parts[4] != "user") {
    return Unauthenticated(
        "SPIFFE path must be /agency/<agency>/role/<role>/user/<user> or "
        "/service/<name>");
  }
  if (!IsValidId(parts[1])) return Unauthenticated("malformed agency id in SPIFFE ID");
  if (!IsValidId(parts[5])) return Unauthenticated("malformed user id in SPIFFE ID");
  std::optional<Role> role = RoleFromName(parts[3]);
  if (!role) {
    return Unauthenticated(absl::StrCat("unknown role '", parts[3], "' in SPIFFE ID"));
  }
  id.agency = std::string(parts[1]);
  id.role = *role;
  id.user = std::string(parts[5]);
  return id;
}

absl::StatusOr<Identity> IdentityFromCertificatePem(absl::string_view pem,
                                                    absl::string_view trust_domain) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return absl::InternalError("out of memory");
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) return Unauthenticated("peer certificate could not be parsed");
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  std::vector<std::string> uris;
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI) continue;
      const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
      uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<size_t>(ASN1_STRING_length(s)));
    }
    GENERAL_NAMES_free(names);
  }
  if (uris.empty()) return Unauthenticated("certificate has no URI SAN (SPIFFE ID)");
  if (uris.size() > 1) {
    return Unauthenticated(absl::StrCat("certificate has ", uris.size(),
                                        " URI SANs; exactly one SPIFFE ID is required"));
  }
  return ParseSpiffeId(uris[0], trust_domain);
}

}  // namespace budstikke::common
