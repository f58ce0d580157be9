#include "services/common/key_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
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
