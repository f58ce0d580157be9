#include "services/common/key_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/status_matchers.h"

namespace budstikke::common {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::HasSubstr;

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/key_file_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "key";
    ::chmod(path.c_str(), mode);
    return path;
  }
  // A group this process may give a file that is not its effective group, or
  // -1 (root can give any; others only their supplementary groups).
  static gid_t OtherGroup() {
    if (::geteuid() == 0) return ::getegid() + 1;
    std::vector<gid_t> groups(::getgroups(0, nullptr));
    groups.resize(::getgroups(static_cast<int>(groups.size()), groups.data()));
    for (gid_t g : groups) {
      if (g != ::getegid()) return g;
    }
    return static_cast<gid_t>(-1);
  }
  std::string dir_;
};

TEST_F(KeyFileTest, OwnerOnlyIsAccepted) {
  EXPECT_THAT(CheckPrivateFile("key", Write("a.key", 0600)), IsOk());
  EXPECT_THAT(CheckPrivateFile("key", Write("b.key", 0400)), IsOk());
}

// A Kubernetes Secret volume with fsGroup: defaultMode 0400 plus group read,
// the file's group the pod's runAsGroup.
TEST_F(KeyFileTest, GroupReadByTheProcesssOwnGroupIsAccepted) {
  const std::string path = Write("k8s.key", 0440);
  ASSERT_EQ(::chown(path.c_str(), static_cast<uid_t>(-1), ::getegid()), 0);
  EXPECT_THAT(CheckPrivateFile("key", path), IsOk());
  EXPECT_THAT(CheckPrivateFile("key", Write("g.key", 0640)), IsOk());
}

TEST_F(KeyFileTest, OtherBitsGroupWriteAndGroupExecuteAreRefused) {
  for (mode_t mode : {0604, 0644, 0660, 0620, 0650, 0700 | 0001}) {
    const std::string path = Write("bad.key", mode);
    char want[64];
    std::snprintf(want, sizeof(want), "has mode %04o; it must be 0600", mode);
    EXPECT_THAT(CheckPrivateFile("key", path),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(want)));
  }
}

TEST_F(KeyFileTest, GroupReadByAnotherGroupIsRefused) {
  const gid_t other = OtherGroup();
  if (other == static_cast<gid_t>(-1)) GTEST_SKIP() << "no second group to give the file";
  const std::string path = Write("other.key", 0640);
  ASSERT_EQ(::chown(path.c_str(), static_cast<uid_t>(-1), other), 0);
  EXPECT_THAT(CheckPrivateFile("master key file", path),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("has mode 0640 and group " + std::to_string(other) +
                                 ", which is not this process's group")));
}

}  // namespace
}  // namespace budstikke::common
