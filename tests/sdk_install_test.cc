// The C++ SDK installs with `cmake --install --component sdk` and a tiny
// external CMake project (tests/sdk_consumer) builds against it with
// find_package(budstikke) and talks to a real server.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::BinDir;
using ::budstikke::testing::RunCommand;
using ::budstikke::testing::SourceDir;
using ::budstikke::testing::TempDir;
using ::budstikke::testing::TestServer;
using ::testing::HasSubstr;

TEST(SdkInstallTest, ExternalProjectBuildsAndConnects) {
  TempDir dir;
  const std::string prefix = dir.Sub("prefix");
  std::string out, err;
  ASSERT_EQ(RunCommand({"/usr/bin/cmake", "--install", BinDir() + "/..", "--component", "sdk",
                        "--prefix", prefix},
                       &out, &err),
            0)
      << err;
  ASSERT_EQ(RunCommand({"/usr/bin/cmake", "-S", SourceDir() + "/tests/sdk_consumer", "-B",
                        dir.Sub("build"), "-G", "Ninja", "-DCMAKE_PREFIX_PATH=" + prefix},
                       &out, &err),
            0)
      << out << err;
  ASSERT_EQ(RunCommand({"/usr/bin/cmake", "--build", dir.Sub("build")}, &out, &err), 0)
      << out << err;

  TestServer server;
  ASSERT_FALSE(server.address().empty());
  const std::string consumer = dir.Sub("build") + "/consumer";
  ASSERT_EQ(RunCommand({consumer}, &out, &err, server.CliEnv("kindergarten-staff")), 0) << err;
  EXPECT_THAT(out, HasSubstr("agency=bhg-solsikken user=kari leaf="));

  // No certificate configured: a clear local error, UNAUTHENTICATED (16).
  std::vector<std::string> env;
  for (const std::string& e : server.CliEnv("kindergarten-staff")) {
    if (e.rfind("BUDSTIKKE_CERT=", 0) != 0) env.push_back(e);
  }
  EXPECT_EQ(RunCommand({consumer}, &out, &err, env), 10 + 16);
  EXPECT_THAT(err, HasSubstr("no client certificate configured: set BUDSTIKKE_CERT"));
}

}  // namespace
}  // namespace budstikke
