// ParseFlags: the durability flags and the backup commands (the rest of the command line is tested
// against the binary in tests/server_config_test.cc).
#include "services/server/config.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace budstikke::server {
namespace {

absl::StatusOr<ServerConfig> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "budstikke-server");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ParseFlags(static_cast<int>(argv.size()), argv.data());
}

TEST(ServerFlagsTest, WritesAreDurableByDefault) {
  absl::StatusOr<ServerConfig> c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->sync_writes);
}

TEST(ServerFlagsTest, NoSyncWritesTurnsTheFsyncOff) {
  absl::StatusOr<ServerConfig> c = Parse({"--no-sync-writes"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->sync_writes);
}

TEST(ServerFlagsTest, SyncWritesIsStillAcceptedAndChangesNothing) {
  absl::StatusOr<ServerConfig> c = Parse({"--sync-writes"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->sync_writes);
}

TEST(ServerFlagsTest, RateLimitDefaultsToAHundredAndZeroTurnsItOff) {
  absl::StatusOr<ServerConfig> c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rate_limit, 100);
  c = Parse({"--rate-limit", "0"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rate_limit, 0);
}

TEST(ServerFlagsTest, BackupCommands) {
  absl::StatusOr<ServerConfig> c = Parse({"verify-backup", "--backup-dir", "/b/1"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->verify_backup);
  EXPECT_FALSE(c->restore);
  EXPECT_EQ(c->backup_dir, "/b/1");

  c = Parse({"purge-shredded-keys", "--data-dir", "/live", "--backup-dir", "/b/1", "--backup-dir",
             "/b/2", "--agency", "bup-oslo"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->purge_shredded_keys);
  EXPECT_EQ(c->data_dir, "/live");
  EXPECT_EQ(c->purge_backup_dirs, (std::vector<std::string>{"/b/1", "/b/2"}));
  EXPECT_EQ(c->purge_agency, "bup-oslo");

  c = Parse({"purge-shredded-keys", "--data-dir", "/live"});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "--backup-dir is required");
  c = Parse({"verify-backup"});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "--backup-dir is required");
}

TEST(ServerFlagsTest, StreamIdleDefaultsToThirtySeconds) {
  absl::StatusOr<ServerConfig> c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->stream_idle_seconds, 30);
  c = Parse({"--stream-idle-seconds", "5"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->stream_idle_seconds, 5);
}

}  // namespace
}  // namespace budstikke::server
