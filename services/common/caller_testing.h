// Test support: a caller (a person with an agency, role and user id) for
// tests that call domain classes directly, without a certificate.
//
// Header-only.
#ifndef BUDSTIKKE_SERVICES_COMMON_CALLER_TESTING_H_
#define BUDSTIKKE_SERVICES_COMMON_CALLER_TESTING_H_

#include <string>

#include "budstikke/v1/types.pb.h"
#include "services/common/identity.h"

namespace budstikke::common::testing {

inline Caller Person(const std::string& agency, v1::Role role, const std::string& user) {
  Caller c;
  c.identity.agency = agency;
  c.identity.role = role;
  c.identity.user = user;
  return c;
}

}  // namespace budstikke::common::testing

#endif  // BUDSTIKKE_SERVICES_COMMON_CALLER_TESTING_H_
