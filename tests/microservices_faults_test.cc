// Microservices mode under faults: the audit service, then the inbox service,
// killed with SIGKILL for 30 s while 4 clients Send referrals and Ask
// consultations through the gateway. After the restart every acknowledged
// action has its audit event in the log exactly once (no duplicate leaf,
// `audit verify` passes) and every notification reaches the inbox exactly
// once, in each client's order.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/consent.grpc.pb.h"
#include "budstikke/v1/consultation.grpc.pb.h"
#include "budstikke/v1/inbox.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/national_id_testing.h"
#include "tests/support/fixtures.h"
#include "tests/support/process.h"
#include "tests/support/test_cluster.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using testing::TestCluster;
using Clock = std::chrono::steady_clock;

constexpr auto kOutage = std::chrono::seconds(30);

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// What the clients got acknowledged: ids in each client's order.
struct Acked {
  std::mutex mu;
  std::vector<std::string> consultations;
  std::map<int, std::vector<std::string>> referrals_by_client;
  int failures = 0;
};

class Load {
 public:
  Load(const TestCluster& cluster, const std::string& consent_id, const std::string& child,
       const std::string& tag)
      : cluster_(cluster), consent_id_(consent_id), child_(child), tag_(tag) {}

  void Start(int clients) {
    for (int c = 0; c < clients; ++c) threads_.emplace_back([this, c] { Run(c); });
  }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  Acked& acked() { return acked_; }

 private:
  void Run(int client) {
    auto ask = v1::ConsultationService::NewStub(cluster_.Channel("kindergarten-staff"));
    auto send = v1::ReferralService::NewStub(cluster_.Channel("gp-physician"));
    for (int i = 0; !stop_; ++i) {
      v1::AskConsultationRequest a;
      a.set_request_id(absl::StrCat(tag_, "-ask-", client, "-", i));
      a.mutable_recipient()->set_agency("bup-oslo");
      a.set_age_band(v1::AGE_BAND_3_5);
      a.add_concerns(v1::CONCERN_BEHAVIOUR);
      a.set_text("Gutten er urolig i samlingsstund og sover dårlig.");
      v1::Consultation c;
      grpc::Status s = ask->Ask(Ctx().get(), a, &c);
      v1::SendReferralRequest r;
      r.set_request_id(absl::StrCat(tag_, "-send-", client, "-", i));
      r.set_recipient_agency("bup-oslo");
      r.set_subject_national_id(child_);
      r.set_consent_id(consent_id_);
      r.set_reason("Vedvarende angst og søvnvansker.");
      v1::Referral out;
      grpc::Status t = send->Send(Ctx().get(), r, &out);
      std::lock_guard<std::mutex> lock(acked_.mu);
      if (s.ok()) acked_.consultations.push_back(c.id());
      if (t.ok()) acked_.referrals_by_client[client].push_back(out.id());
      acked_.failures += (s.ok() ? 0 : 1) + (t.ok() ? 0 : 1);
    }
  }

  const TestCluster& cluster_;
  std::string consent_id_, child_, tag_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  Acked acked_;
};

class MicroservicesFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.started());
    child_ = common::testing::MakeSyntheticNationalId(2016, 9, 3, 1);
    v1::RecordConsentRequest req =
        testing::GuardianConsentRequest(child_, "bup-oslo", "faults-consent");
    v1::Consent consent;
    grpc::Status s = v1::ConsentService::NewStub(cluster_.Channel("gp-physician"))
                         ->Record(Ctx().get(), req, &consent);
    ASSERT_TRUE(s.ok()) << s.error_message();
    consent_id_ = consent.id();
  }

  // Every event of `action` in the log: resource id -> how many.
  std::map<std::string, int> EventsOf(const std::string& action, std::set<std::string>* leaves) {
    auto audit = v1::AuditService::NewStub(cluster_.Channel("auditor"));
    std::map<std::string, int> out;
    v1::QueryAuditRequest req;
    req.set_action(action);
    req.set_page_size(1000);
    for (;;) {
      v1::QueryAuditResponse resp;
      grpc::Status s = audit->Query(Ctx(30).get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& r : resp.records()) {
        ++out[r.event().resource().id()];
        // A duplicate leaf: the same event (all but its index) appended twice.
        v1::AuditEvent e = r.event();
        e.clear_index();
        EXPECT_TRUE(leaves->insert(e.SerializeAsString()).second) << "duplicate leaf: " << action;
      }
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return out;
  }

  // Waits until every id has an event of `action` (delivery is asynchronous).
  bool AllLogged(const std::string& action, const std::vector<std::string>& ids) {
    for (int i = 0; i < 300; ++i) {
      std::set<std::string> leaves;
      std::map<std::string, int> events = EventsOf(action, &leaves);
      bool all = true;
      for (const auto& id : ids) all = all && events.count(id) > 0;
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  void RunWithOutage(const std::string& service, const std::string& tag, Acked** acked) {
    load_ = std::make_unique<Load>(cluster_, consent_id_, child_, tag);
    load_->Start(4);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    cluster_.Kill(service);
    std::this_thread::sleep_for(kOutage);
    ASSERT_TRUE(cluster_.Restart(service));
    std::this_thread::sleep_for(std::chrono::seconds(3));
    load_->Stop();
    *acked = &load_->acked();
  }

  TestCluster cluster_{"--outbox-max-age 5 --rate-limit 0"};  // load: no per-caller limit
  std::string child_, consent_id_;
  std::unique_ptr<Load> load_;
};

TEST_F(MicroservicesFaultsTest, AuditServiceKilledForThirtySecondsLosesAndDuplicatesNothing) {
  Acked* acked = nullptr;
  RunWithOutage("audit", "audit-outage", &acked);
  std::vector<std::string> referrals;
  for (const auto& [client, ids] : acked->referrals_by_client) {
    referrals.insert(referrals.end(), ids.begin(), ids.end());
  }
  ASSERT_GT(acked->consultations.size(), 20u);
  ASSERT_GT(referrals.size(), 20u);
  // The services kept working while the audit service was down.
  EXPECT_EQ(acked->failures, 0);
  ASSERT_TRUE(AllLogged("consultation.create", acked->consultations));
  ASSERT_TRUE(AllLogged("referral.send", referrals));
  std::set<std::string> leaves;
  std::map<std::string, int> asks = EventsOf("consultation.create", &leaves);
  std::map<std::string, int> sends = EventsOf("referral.send", &leaves);
  for (const auto& id : acked->consultations) EXPECT_EQ(asks[id], 1) << id;
  for (const auto& id : referrals) EXPECT_EQ(sends[id], 1) << id;
  // An independent verifier (the CLI) checks every leaf against a checkpoint.
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the next checkpoint covers them
  std::string out, err;
  EXPECT_EQ(
      testing::RunCommand({testing::BinDir() + "/budstikke", "audit", "verify", "--output", "json"},
                          &out, &err, cluster_.CliEnv("auditor")),
      0)
      << err;
  EXPECT_THAT(out, ::testing::HasSubstr("\"ok\":true"));
  std::printf("audit outage: %zu asks, %zu sends acknowledged, all logged once\n",
              acked->consultations.size(), referrals.size());
}

TEST_F(MicroservicesFaultsTest, InboxServiceKilledForThirtySecondsDeliversEachNotificationOnce) {
  Acked* acked = nullptr;
  RunWithOutage("inbox", "inbox-outage", &acked);
  size_t expected = 0;
  for (const auto& [client, ids] : acked->referrals_by_client) expected += ids.size();
  ASSERT_GT(expected, 20u);
  EXPECT_EQ(acked->failures, 0);
  // BUP's inbox: read every REFERRAL_RECEIVED event until all arrived.
  std::map<std::string, int> seen;
  std::vector<std::string> order;
  auto inbox = v1::InboxService::NewStub(cluster_.Channel("bup-clinician"));
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  uint64_t cursor = 0;
  while (Clock::now() < deadline) {
    auto ctx = Ctx(2);
    v1::SubscribeRequest req;
    req.set_from_cursor(cursor);
    auto reader = inbox->Subscribe(ctx.get(), req);
    v1::InboxEvent e;
    while (reader->Read(&e)) {
      cursor = e.cursor();
      if (e.type() != v1::INBOX_EVENT_TYPE_REFERRAL_RECEIVED) continue;
      if (++seen[e.resource().id()] == 1) order.push_back(e.resource().id());
    }
    size_t found = 0;
    for (const auto& [client, ids] : acked->referrals_by_client) {
      for (const auto& id : ids) found += seen.count(id);
    }
    if (found == expected) break;
  }
  for (const auto& [client, ids] : acked->referrals_by_client) {
    size_t last = 0;
    for (const auto& id : ids) {
      EXPECT_EQ(seen[id], 1) << id;
      auto it = std::find(order.begin(), order.end(), id);
      ASSERT_NE(it, order.end()) << id;
      size_t pos = static_cast<size_t>(it - order.begin());
      EXPECT_GE(pos, last) << "client " << client << " out of order at " << id;
      last = pos;
    }
  }
  std::printf("inbox outage: %zu referrals acknowledged, each notified once, in order\n", expected);
}

}  // namespace
}  // namespace budstikke
