#include "services/common/key_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "storage/private_file.h"

namespace budstikke::common {

absl::Status CheckPrivateFile(absl::string_view what, const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(what, " ", path, " does not exist"));
    return absl::PermissionDeniedError(
        absl::StrCat(what, " ", path, " cannot be read: ", std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(what, " ", path, " is not a regular file"));
  }
  // One rule for every key file: storage/private_file.h.
  return storage::CheckPrivateMode(what, path, st);
}

absl::Status CheckPrivateDir(absl::string_view what, const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat(what, " ", path, " cannot be read: ", std::strerror(err)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(what, " ", path, " is not a directory"));
  }
  const unsigned mode = st.st_mode & 0777;
  if ((mode & 0027) != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s %s has mode %04o; it must be 0700, or 0750 with the server's own "
                        "group (chmod 700 %s)",
                        what, path, mode, path));
  }
  const gid_t own_group = ::getegid();
  if ((mode & 0070) != 0 && st.st_gid != own_group) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s %s has mode %04o and group %d, not the server's group %d; it must be "
                        "0700 (chmod 700 %s)",
                        what, path, mode, st.st_gid, own_group, path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(absl::string_view what, const std::string& path) {
  // std::ifstream opens a directory without error and then reads nothing, which
  // would surface later as a misleading "not PEM" or "wrong size".
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path, " cannot be read: ", std::strerror(EISDIR)));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(what, " ", path, " does not exist"));
    return absl::PermissionDeniedError(
        absl::StrCat(what, " ", path, " cannot be read: ", std::strerror(err)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace budstikke::common
