// ParseFlags: the durability flags (the rest of the command line is tested
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

TEST(ServerFlagsTest, UploadIdleDefaultsToThirtySeconds) {
  absl::StatusOr<ServerConfig> c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->upload_idle_seconds, 30);
  c = Parse({"--upload-idle-seconds", "5"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->upload_idle_seconds, 5);
}

}  // namespace
}  // namespace budstikke::server
