// An operator backs up a running server with the CLI, and the documented
// command `budstikke-server restore` brings the data back in a new data dir.
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::BinDir;
using ::budstikke::testing::RunCommand;
using ::budstikke::testing::TestServer;
using ::testing::HasSubstr;

// Disaster: stops the server, removes its data dir, restores it from
// `backup_dir` with `budstikke-server restore` and restarts the server.
::testing::AssertionResult LoseDataDirAndRestore(TestServer& server,
                                                 const std::string& backup_dir) {
  server.Stop();
  std::filesystem::remove_all(server.data_dir());
  std::string out, err;
  if (RunCommand({BinDir() + "/budstikke-server", "restore", "--backup-dir", backup_dir,
                  "--data-dir", server.data_dir()},
                 &out, &err) != 0) {
    return ::testing::AssertionFailure() << "restore failed: " << err;
  }
  server.Restart();
  return ::testing::AssertionSuccess();
}

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
  ASSERT_TRUE(LoseDataDirAndRestore(server, backup_dir));
  ASSERT_EQ(RunCommand({cli, "directory", "get", "bup-bergen", "--output", "json"}, &out, &err,
                       server.CliEnv("kindergarten-staff")),
            0)
      << err;
  EXPECT_THAT(out, HasSubstr("\"name\":\"BUP Bergen\""));
}

// Cursors of `inbox watch --output json` lines, in order.
std::vector<uint64_t> Cursors(const std::string& lines) {
  std::vector<uint64_t> out;
  const std::regex re("\"cursor\":([0-9]+)");
  for (auto it = std::sregex_iterator(lines.begin(), lines.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back(std::stoull((*it)[1]));
  }
  return out;
}

// Issue 20, defect 3: after the data dir is restored from a backup, a new
// inbox event gets a cursor above every cursor a client saw before the
// restore (else the client drops it as a duplicate).
TEST(BackupRestoreTest, InboxCursorsDoNotGoBackAfterARestore) {
  TestServer server;
  ASSERT_FALSE(server.address().empty());
  const std::string cli = BinDir() + "/budstikke";
  std::string out, err;
  auto ask = [&] {
    return RunCommand(
        {cli, "consult", "ask", "--to", "bup-oslo", "--age-band", "3-5", "--concern", "sleep",
         "--text", "Gutten sover dårlig og er urolig i samlingsstund over flere uker.", "--output",
         "json"},
        &out, &err, server.CliEnv("kindergarten-staff"));
  };
  ASSERT_EQ(ask(), 0) << err;
  const std::string backup_dir = server.dir().Sub("backup-inbox");
  ASSERT_EQ(RunCommand({cli, "admin", "backup", "--dest", backup_dir}, &out, &err,
                       server.CliEnv("admin")),
            0)
      << err;
  ASSERT_EQ(ask(), 0) << err;
  ASSERT_EQ(ask(), 0) << err;
  ASSERT_EQ(RunCommand({cli, "inbox", "watch", "--max-events", "3", "--output", "json"}, &out, &err,
                       server.CliEnv("bup-clinician")),
            0)
      << err;
  const std::vector<uint64_t> before = Cursors(out);
  ASSERT_EQ(before, (std::vector<uint64_t>{1, 2, 3})) << out;

  ASSERT_TRUE(LoseDataDirAndRestore(server, backup_dir));
  ASSERT_EQ(ask(), 0) << err;
  const std::string asked = out;
  // The client resumes from the last cursor it saw and gets the new event.
  ASSERT_EQ(
      RunCommand({cli, "inbox", "watch", "--from", "3", "--max-events", "1", "--output", "json"},
                 &out, &err, server.CliEnv("bup-clinician")),
      0)
      << err;
  const std::vector<uint64_t> after = Cursors(out);
  ASSERT_EQ(after.size(), 1u) << out;
  EXPECT_GT(after[0], 3u);
  std::smatch id;
  ASSERT_TRUE(std::regex_search(out, id, std::regex("\"id\":\"([^\"]+)\"")));
  EXPECT_THAT(asked, HasSubstr(id[1].str()));
}

}  // namespace
}  // namespace budstikke
