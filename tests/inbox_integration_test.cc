// InboxService over real mTLS with the real server: a subscriber killed
// mid-stream resubscribes and gets every unacknowledged event again, in order;
// after acks, every event exactly once; `inbox watch` prints JSON lines.
#include <thread>

#include "budstikke/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "absl/strings/str_split.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::RunCommand;
using ::budstikke::testing::TestServer;

std::unique_ptr<Client> ClientAs(const TestServer& server, const std::string& name) {
  ClientOptions o;
  o.server = server.address();
  o.ca_file = server.cert_dir() + "/ca.pem";
  o.cert_file = server.cert_dir() + "/" + name + ".pem";
  o.key_file = server.cert_dir() + "/" + name + ".key";
  auto c = Client::Connect(o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

std::string Ask(const Client& client, const std::string& to = "bup-oslo") {
  v1::AskConsultationRequest r;
  r.set_request_id(NewRequestId());
  r.mutable_recipient()->set_agency(to);
  r.set_age_band(v1::AGE_BAND_10_12);
  r.add_concerns(v1::CONCERN_SOCIAL);
  r.set_text("Eleven trekker seg unna venner i friminuttene.");
  auto c = client.AskConsultation(r);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? c->id() : "";
}

// One server for the suite (certificates are slow to make); each test uses
// its own recipient agency's inbox.
class InboxIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new TestServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static TestServer* server_;
};
TestServer* InboxIntegrationTest::server_ = nullptr;

TEST_F(InboxIntegrationTest, KilledSubscriberResumesEveryEventExactlyOnceInOrder) {
  TestServer& server = *server_;
  auto kg = ClientAs(server, "kindergarten-staff");
  auto bup = ClientAs(server, "bup-clinician");
  constexpr int kEvents = 150;
  std::vector<std::string> ids;
  for (int i = 0; i < kEvents / 2; ++i) ids.push_back(Ask(*kg));

  // First subscriber: reads 20 events, acks the first 10, then dies (cancel).
  std::vector<v1::InboxEvent> first;
  {
    grpc::ClientContext ctx;
    absl::Status s = bup->SubscribeInbox(0, [&](const v1::InboxEvent& e) {
      first.push_back(e);
      if (first.size() == 10) EXPECT_TRUE(bup->AckInbox(e.cursor()).ok());
      return first.size() < 20;
    }, &ctx);
    EXPECT_TRUE(s.ok()) << s;
  }
  ASSERT_EQ(first.size(), 20u);
  EXPECT_EQ(first[0].cursor(), 1u);
  EXPECT_EQ(first[19].cursor(), 20u);

  // Meanwhile more events arrive; a second subscriber follows live.
  std::vector<v1::InboxEvent> second;
  grpc::ClientContext ctx2;
  std::thread follower([&] {
    (void)bup->SubscribeInbox(0, [&](const v1::InboxEvent& e) {
      second.push_back(e);
      EXPECT_TRUE(bup->AckInbox(e.cursor()).ok());
      return second.size() < static_cast<size_t>(kEvents - 10);
    }, &ctx2);
  });
  for (int i = kEvents / 2; i < kEvents; ++i) ids.push_back(Ask(*kg));
  follower.join();

  // Redelivery starts after the acked position (10), in order, no gaps.
  ASSERT_EQ(second.size(), static_cast<size_t>(kEvents - 10));
  for (size_t i = 0; i < second.size(); ++i) {
    EXPECT_EQ(second[i].cursor(), 11 + i);
    EXPECT_EQ(second[i].resource().id(), ids[10 + i]);
    EXPECT_EQ(second[i].type(), v1::INBOX_EVENT_TYPE_CONSULTATION_RECEIVED);
  }
  // Everything acked: a new subscription has nothing to replay; beyond-latest
  // cursors are refused.
  EXPECT_EQ(bup->AckInbox(kEvents + 1).status().code(), absl::StatusCode::kInvalidArgument);
  grpc::ClientContext ctx3;
  ctx3.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  int replayed = 0;
  absl::Status s3 = bup->SubscribeInbox(0, [&](const v1::InboxEvent&) {
    ++replayed;
    return true;
  }, &ctx3);
  EXPECT_EQ(s3.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(replayed, 0);
  // The kindergarten's inbox is separate and empty.
  grpc::ClientContext ctx4;
  ctx4.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  EXPECT_EQ(kg->SubscribeInbox(1, [](const v1::InboxEvent&) { return true; }, &ctx4).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(InboxIntegrationTest, InboxWatchPrintsOneJsonObjectPerLine) {
  TestServer& server = *server_;
  auto kg = ClientAs(server, "kindergarten-staff");
  std::vector<std::string> ids = {Ask(*kg, "ppt-oslo"), Ask(*kg, "ppt-oslo"),
                                  Ask(*kg, "ppt-oslo")};
  const std::string cli = testing::BinDir() + "/budstikke";
  std::string out, err;
  int rc = RunCommand({cli, "inbox", "watch", "--from", "1", "--ack", "--max-events", "2",
                       "--output", "json"},
                      &out, &err, server.CliEnv("ppt-psychologist"));
  ASSERT_EQ(rc, 0) << err;
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << out;
  auto a = nlohmann::json::parse(lines[0]);
  auto b = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(a["cursor"], 2);
  EXPECT_EQ(a["type"], "CONSULTATION_RECEIVED");
  EXPECT_EQ(a["resource"]["kind"], "CONSULTATION");
  EXPECT_EQ(a["resource"]["id"], ids[1]);
  EXPECT_EQ(b["cursor"], 3);
  // Acked through 3 by --ack: nothing is replayed.
  auto ppt = ClientAs(server, "ppt-psychologist");
  auto acked = ppt->AckInbox(0);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->acked_cursor(), 3u);
}

}  // namespace
}  // namespace budstikke
