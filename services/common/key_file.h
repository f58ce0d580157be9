// Checks on secret files given on the command line (TLS keys, the master key,
// the audit signing key): they must exist, be regular files, and have no
// permission bit for others and no group bit, except group read when the
// file's group is the process's effective group (a Kubernetes Secret volume
// with fsGroup = runAsGroup; the rule is storage/private_file.h); and on the
// data dir, which holds unencrypted indexes, inboxes and the audit log.
// Errors are one line and say how to fix them.
#ifndef BUDSTIKKE_SERVICES_COMMON_KEY_FILE_H_
#define BUDSTIKKE_SERVICES_COMMON_KEY_FILE_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace budstikke::common {

// FAILED_PRECONDITION "<what> <path> has mode 0644; it must be 0600 (chmod 600 <path>)",
// or for group read by a group that is not the process's "<what> <path> has mode
// 0640 and group G, which is not this process's group E; ...", NOT_FOUND if missing.
absl::Status CheckPrivateFile(absl::string_view what, const std::string& path);

// The key-file rule of DESIGN applied to an existing directory: no permission
// bit for others, no group write, and group read or search only when the
// directory's group is the process's effective group (the Kubernetes fsGroup
// case). OK when `path` does not exist (the store creates it 0700).
// FAILED_PRECONDITION "<what> <path> has mode 0755; it must be 0700, or 0750
// with the server's own group (chmod 700 <path>)", or, for group access by
// another group, "... has mode 0750 and group 1234, not the server's group 0;
// it must be 0700 (chmod 700 <path>)"; FAILED_PRECONDITION if it is not a
// directory.
absl::Status CheckPrivateDir(absl::string_view what, const std::string& path);

// Reads a whole (non-secret) file; NOT_FOUND / PERMISSION_DENIED with the path.
absl::StatusOr<std::string> ReadFile(absl::string_view what, const std::string& path);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_KEY_FILE_H_
