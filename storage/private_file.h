// The one rule for files that hold key material (DESIGN, "key file or data
// dir"): no permission bit for others, no group write or execute, and group
// read only when the file's group is the process's effective group (a
// Kubernetes Secret volume with fsGroup = runAsGroup: the kubelet gives the
// files that group and adds group read). Used by the keyring for the master
// key and by services/common/key_file.h for TLS and signing keys.
#ifndef BUDSTIKKE_STORAGE_PRIVATE_FILE_H_
#define BUDSTIKKE_STORAGE_PRIVATE_FILE_H_

#include <sys/stat.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace budstikke::storage {

// OK, or FAILED_PRECONDITION with one line that says how to fix it:
// "<what> <path> has mode 0644; it must be 0600 (chmod 600 <path>)", or for
// group read by another group "<what> <path> has mode 0640 and group G, which
// is not this process's group E; ...". `st` is the file's stat.
absl::Status CheckPrivateMode(absl::string_view what, const std::string& path,
                              const struct stat& st);

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_PRIVATE_FILE_H_
