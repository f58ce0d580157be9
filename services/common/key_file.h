// Checks on secret files given on the command line (TLS keys, the master key,
// the audit signing key): they must exist, be regular files, and have no
// permission bit for others and no group bit, except group read when the
// file's group is the process's effective group (a Kubernetes Secret volume
// with fsGroup = runAsGroup). Errors are one line and say how to fix them.
#ifndef BUDSTIKKE_SERVICES_COMMON_KEY_FILE_H_
#define BUDSTIKKE_SERVICES_COMMON_KEY_FILE_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace budstikke::common {

// FAILED_PRECONDITION "<what> <path> has mode 0644; it must be 0600 (chmod 600 <path>)",
// NOT_FOUND if missing.
absl::Status CheckPrivateFile(absl::string_view what, const std::string& path);

// Reads a whole (non-secret) file; NOT_FOUND / PERMISSION_DENIED with the path.
absl::StatusOr<std::string> ReadFile(absl::string_view what, const std::string& path);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_KEY_FILE_H_
