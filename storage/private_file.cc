#include "storage/private_file.h"

#include <unistd.h>

#include "absl/strings/str_format.h"

namespace budstikke::storage {

absl::Status CheckPrivateMode(absl::string_view what, const std::string& path,
                              const struct stat& st) {
  const unsigned mode = st.st_mode & 0777;
  const bool group_read_only = (mode & 0070) == 0040;
  if ((mode & 0007) == 0 && ((mode & 0070) == 0 || group_read_only)) {
    if (!group_read_only || st.st_gid == ::getegid()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s %s has mode %04o and group %d, which is not this process's group %d; it must be "
        "0600, or 0640 with the process's own group (chmod 600 %s)",
        what, path, mode, st.st_gid, ::getegid(), path));
  }
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s %s has mode %04o; it must be 0600 (chmod 600 %s)", what, path, mode, path));
}

}  // namespace budstikke::storage
