// An operator backs up a running server with the CLI, and the documented
// command `budstikke-server restore` brings the data back in a new data dir.
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::BinDir;
using ::budstikke::testing::RunCommand;
using ::budstikke::testing::TestServer;
using ::testing::HasSubstr;

TEST(BackupRestoreTest, CliBackupThenServerRestore) {
  TestServer server;
  ASSERT_FALSE(server.address().empty());
  const std::string cli = BinDir() + "/budstikke";
  std::string out, err;
  ASSERT_EQ(RunCommand({cli, "directory", "create", "--id", "bup-bergen", "--name", "BUP Bergen",
                        "--type", "bup", "--municipality", "4601"},
                       &out, &err, server.CliEnv("admin")),
            0)
      << err;

  const std::string backup_dir = server.dir().Sub("backup-1");
  // Only the operator's admin may back up.
  EXPECT_EQ(RunCommand({cli, "admin", "backup", "--dest", backup_dir}, &out, &err,
                       server.CliEnv("bup-admin")),
            4);
  EXPECT_THAT(err, HasSubstr("operator agency"));
  ASSERT_EQ(RunCommand({cli, "admin", "backup", "--dest", backup_dir, "--output", "json"}, &out,
                       &err, server.CliEnv("admin")),
            0)
      << err;
  EXPECT_THAT(out, HasSubstr("\"dest_dir\":\"" + backup_dir + "\""));

  const std::string restored = server.dir().Sub("restored");
  ASSERT_EQ(RunCommand({BinDir() + "/budstikke-server", "restore", "--backup-dir", backup_dir,
                        "--data-dir", restored},
                       &out, &err),
            0)
      << err;
  EXPECT_THAT(out, HasSubstr("restored"));
  // Restoring over existing data is refused.
  EXPECT_EQ(RunCommand({BinDir() + "/budstikke-server", "restore", "--backup-dir", backup_dir,
                        "--data-dir", restored},
                       &out, &err),
            1);
  EXPECT_THAT(err, HasSubstr("not empty"));

  // Disaster: the data dir is lost. Restore it from the backup and restart.
  server.Stop();
  std::filesystem::remove_all(server.data_dir());
  ASSERT_EQ(RunCommand({BinDir() + "/budstikke-server", "restore", "--backup-dir", backup_dir,
                        "--data-dir", server.data_dir()},
                       &out, &err),
            0)
      << err;
  server.Restart();
  ASSERT_EQ(RunCommand({cli, "directory", "get", "bup-bergen", "--output", "json"}, &out, &err,
                       server.CliEnv("kindergarten-staff")),
            0)
      << err;
  EXPECT_THAT(out, HasSubstr("\"name\":\"BUP Bergen\""));
}

}  // namespace
}  // namespace budstikke
