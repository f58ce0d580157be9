// The audit log over the real budstikke-server process and CLI:
//  - fail closed: while store writes fail (the hidden test hook
//    --test-fail-store-writes-file), an audited read returns UNAVAILABLE and
//    no content, readiness (budstikke.ready) is NOT_SERVING while liveness stays SERVING, and both
//    recover when the fault clears;
//  - kill -9 during heavy audited writing loses no acknowledged event, leaves
//    no gap in the indexes, and `budstikke audit verify` passes after restart;
//  - `budstikke audit verify` names the first altered event (the server
//    refuses to serve it: DATA_LOSS), and with --state detects a log rolled
//    back to an older copy;
//  - a call the authorization table refuses is logged as DENIED (authz.role);
//  - an altered stored inner node (a stored hash) makes `audit verify` name
//    the first index whose proof uses it (the server checks the proofs it
//    builds against its root and answers DATA_LOSS);
//  - an altered stored checkpoint, or a stored tree that no longer matches
//    the stored checkpoint, makes the server refuse to start with one line;
//    with the checkpoint deleted as well, the checkpoint re-signed over the
//    altered tree (a fork) is caught by `audit verify --state` with the
//    checkpoint an earlier run saved.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/consultation.grpc.pb.h"
#include "budstikke/v1/directory.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/merkle_log.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::BinDir;
using ::budstikke::testing::RunCommand;
using ::budstikke::testing::TestServer;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 5) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// Readiness ("budstikke.ready") by default; "" is liveness.
grpc::health::v1::HealthCheckResponse::ServingStatus Health(
    TestServer& server, const std::string& service = "budstikke.ready") {
  auto stub = grpc::health::v1::Health::NewStub(server.Channel("auditor"));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(Ctx().get(), req, &resp);
  if (!s.ok()) return grpc::health::v1::HealthCheckResponse::UNKNOWN;
  return resp.status();
}

grpc::Status CreateAgency(v1::DirectoryService::Stub* stub, const std::string& id) {
  v1::CreateAgencyRequest req;
  req.set_request_id("req-" + id);
  v1::Agency* a = req.mutable_agency();
  a->set_id(id);
  a->set_name("Agency " + id);
  a->set_type(v1::AGENCY_TYPE_SCHOOL);
  a->set_municipality("0301");
  v1::Agency resp;
  return stub->CreateAgency(Ctx().get(), req, &resp);
}

// Every event an auditor sees, in index order (all pages).
std::vector<v1::AuditEvent> AllEvents(TestServer& server, const std::string& action = "") {
  auto stub = v1::AuditService::NewStub(server.Channel("auditor"));
  std::vector<v1::AuditEvent> out;
  v1::QueryAuditRequest req;
  req.set_page_size(1000);
  req.set_action(action);
  while (true) {
    v1::QueryAuditResponse resp;
    grpc::Status s = stub->Query(Ctx(20).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    for (const auto& r : resp.records()) out.push_back(r.event());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return out;
}

// Runs the CLI as the auditor; returns the exit code.
int Cli(TestServer& server, std::vector<std::string> args, std::string* out, std::string* err) {
  args.insert(args.begin(), BinDir() + "/budstikke");
  return RunCommand(args, out, err, server.CliEnv("auditor"));
}

// Waits until the latest checkpoint covers at least `size` events.
void WaitForCheckpoint(TestServer& server, uint64_t size) {
  auto stub = v1::AuditService::NewStub(server.Channel("auditor"));
  for (int i = 0; i < 100; ++i) {
    v1::Checkpoint cp;
    grpc::Status s = stub->GetCheckpoint(Ctx().get(), v1::GetCheckpointRequest(), &cp);
    if (s.ok() && cp.tree_size() >= size) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "no checkpoint of size >= " << size << " within 5 s";
}

TEST(AuditIntegrationTest, FailsClosedWhileAuditWritesFailAndRecovers) {
  budstikke::testing::TempDir fault_dir;  // outlives the server
  const std::string fault_file = fault_dir.Sub("fail-writes");
  TestServer server({"--test-fail-store-writes-file", fault_file});
  ASSERT_FALSE(server.address().empty());
  auto audit = v1::AuditService::NewStub(server.Channel("auditor"));
  v1::QueryAuditRequest req;
  req.set_page_size(10);
  v1::QueryAuditResponse resp;
  ASSERT_TRUE(audit->Query(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(Health(server), grpc::health::v1::HealthCheckResponse::SERVING);

  { std::ofstream(fault_file) << "x"; }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the hook polls every 10 ms
  resp.Clear();
  grpc::Status s = audit->Query(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  // One prefix, from AuditOutbox::Record, then the store's reason.
  EXPECT_THAT(s.error_message(), StartsWith("audit log unavailable: "));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("audit log unavailable: audit log unavailable")));
  EXPECT_EQ(resp.records_size(), 0);
  EXPECT_EQ(Health(server), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  // Liveness stays SERVING: the process is alive, it just cannot work.
  EXPECT_EQ(Health(server, ""), grpc::health::v1::HealthCheckResponse::SERVING);
  // The CLI reports it with exit code 5.
  std::string out, err;
  EXPECT_EQ(Cli(server, {"audit", "query"}, &out, &err), 5) << err;
  EXPECT_THAT(err, HasSubstr("UNAVAILABLE"));
  // An audited change fails too and is not applied.
  auto dir = v1::DirectoryService::NewStub(server.Channel("admin"));
  EXPECT_EQ(CreateAgency(dir.get(), "skole-fault").error_code(), grpc::StatusCode::UNAVAILABLE);

  ASSERT_EQ(std::remove(fault_file.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  resp.Clear();
  s = audit->Query(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Health(server), grpc::health::v1::HealthCheckResponse::SERVING);
  v1::GetAgencyRequest get;
  get.set_id("skole-fault");
  v1::Agency agency;
  EXPECT_EQ(dir->GetAgency(Ctx().get(), get, &agency).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(CreateAgency(dir.get(), "skole-fault").ok());
  // The log is whole: every event verifies, indexes without a gap.
  out.clear();
  err.clear();
  ASSERT_EQ(Cli(server, {"audit", "verify", "--output", "json"}, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("\"ok\":true"));
}

TEST(AuditIntegrationTest, KillDuringHeavyWritingLosesNoAcknowledgedEvent) {
  TestServer server;
  ASSERT_FALSE(server.address().empty());
  constexpr int kThreads = 6;
  std::atomic<bool> stop{false};
  std::vector<std::vector<std::string>> acked(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = v1::DirectoryService::NewStub(server.Channel("admin"));
      for (int i = 0; !stop.load(); ++i) {
        const std::string id = "crash-" + std::to_string(t) + "-" + std::to_string(i);
        if (CreateAgency(stub.get(), id).ok()) {
          acked[t].push_back(id);
        } else {
          break;  // the server is gone
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  server.process()->Signal(SIGKILL);
  EXPECT_EQ(server.process()->Wait(5000), 128 + SIGKILL);
  stop.store(true);
  for (auto& th : threads) th.join();
  std::set<std::string> want;
  for (const auto& ids : acked) want.insert(ids.begin(), ids.end());
  ASSERT_GT(want.size(), 50u) << "too little load to mean anything";
  std::printf("acknowledged creates before SIGKILL: %zu\n", want.size());

  server.Restart();
  ASSERT_FALSE(server.address().empty());
  // Wait for the drainer to move the outbox into the log.
  std::set<std::string> got;
  for (int i = 0; i < 100; ++i) {
    got.clear();
    for (const auto& e : AllEvents(server, "agency.create")) got.insert(e.resource().id());
    if (std::includes(got.begin(), got.end(), want.begin(), want.end())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<std::string> missing;
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                      std::back_inserter(missing));
  EXPECT_TRUE(missing.empty()) << missing.size() << " acknowledged events missing, first "
                               << missing.front();
  // Each create is logged exactly once (the outbox drained once).
  EXPECT_GE(got.size(), want.size());
  const std::vector<v1::AuditEvent> all = AllEvents(server);
  ASSERT_GE(all.size(), want.size());
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].index(), i) << "gap in the log indexes";
  }
  size_t creates = 0;
  for (const auto& e : all) creates += e.action() == "agency.create";
  EXPECT_EQ(creates, got.size()) << "an agency.create event was logged twice";

  WaitForCheckpoint(server, all.size());
  std::string out, err;
  ASSERT_EQ(Cli(server, {"audit", "verify", "--output", "json"}, &out, &err), 0) << err;
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << out;
  EXPECT_EQ(j["ok"], true);
  EXPECT_GE(j["events_verified"].get<uint64_t>(), all.size());
}

TEST(AuditIntegrationTest, CliVerifyNamesAlteredEventAndDetectsRollback) {
  TestServer server;
  ASSERT_FALSE(server.address().empty());
  auto dir = v1::DirectoryService::NewStub(server.Channel("admin"));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(CreateAgency(dir.get(), "a-" + std::to_string(i)).ok());
  const std::string state = server.dir().Sub("verify-state.json");
  WaitForCheckpoint(server, 5);
  std::string out, err;
  ASSERT_EQ(Cli(server, {"audit", "verify", "--state", state}, &out, &err), 0) << err;

  // Keep a copy of this (older) log, then let it grow well past it.
  server.Stop();
  const std::string old_copy = server.dir().Sub("old-data");
  ASSERT_EQ(RunCommand({"/bin/cp", "-a", server.data_dir(), old_copy}), 0);
  server.Restart();
  dir = v1::DirectoryService::NewStub(server.Channel("admin"));
  for (int i = 5; i < 60; ++i) ASSERT_TRUE(CreateAgency(dir.get(), "a-" + std::to_string(i)).ok());
  WaitForCheckpoint(server, 60);
  out.clear();
  ASSERT_EQ(Cli(server, {"audit", "verify", "--state", state, "--output", "json"}, &out, &err), 0)
      << err;
  EXPECT_THAT(out, HasSubstr("\"consistent_with_state\":true"));

  // Rollback: the server comes back on the older copy.
  server.Stop();
  ASSERT_EQ(RunCommand({"/bin/rm", "-rf", server.data_dir()}), 0);
  ASSERT_EQ(RunCommand({"/bin/cp", "-a", old_copy, server.data_dir()}), 0);
  server.Restart();
  err.clear();
  EXPECT_EQ(Cli(server, {"audit", "verify", "--state", state}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("rolled back"));

  // Tamper: alter stored event 2 (its outcome) behind the server's back.
  server.Stop();
  {
    storage::Store::Options o;
    o.create_if_missing = false;
    auto store = storage::Store::Open(server.data_dir(), o);
    ASSERT_TRUE(store.ok()) << store.status();
    const std::string key = storage::MerkleLog::LeafKey(2);
    auto leaf = (*store)->Get("audit_leaves", key);
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    const size_t at = leaf->find("\"outcome\":\"ALLOWED\"");
    ASSERT_NE(at, std::string::npos) << *leaf;
    std::string altered = *leaf;
    altered.replace(at, 19, "\"outcome\":\"DENIED\"");
    ASSERT_TRUE((*store)->Put("audit_leaves", key, altered).ok());
  }
  server.Restart();
  err.clear();
  EXPECT_EQ(Cli(server, {"audit", "verify"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("audit event 2: "));
}

TEST(AuditIntegrationTest, RefusalsByTheAuthorizationTableAreAudited) {
  TestServer server;
  ASSERT_FALSE(server.address().empty());
  // An admin may never read content; staff may not manage the directory.
  auto referrals = v1::ReferralService::NewStub(server.Channel("admin"));
  v1::GetReferralRequest get;
  get.set_id("ref-any");
  v1::Referral referral;
  EXPECT_EQ(referrals->Get(Ctx().get(), get, &referral).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto dir = v1::DirectoryService::NewStub(server.Channel("kindergarten-staff"));
  EXPECT_EQ(CreateAgency(dir.get(), "skole-nei").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A method that touches no child's data is refused without an event.
  auto consult = v1::ConsultationService::NewStub(server.Channel("auditor"));
  v1::CheckTextRequest check;
  check.set_text("tekst");
  v1::CheckTextResponse verdict;
  EXPECT_EQ(consult->CheckText(Ctx().get(), check, &verdict).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A later allowed change: once it is in the log, so is everything before it.
  auto admin = v1::DirectoryService::NewStub(server.Channel("admin"));
  ASSERT_TRUE(CreateAgency(admin.get(), "skole-marker").ok());
  std::vector<std::string> denied;
  bool marker = false;
  for (int i = 0; i < 100 && !marker; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    denied.clear();
    for (const auto& e : AllEvents(server)) {
      marker |= e.action() == "agency.create" && e.resource().id() == "skole-marker";
      if (e.outcome() != v1::AUDIT_OUTCOME_DENIED) continue;
      denied.push_back(absl::StrCat(e.action(), " ", v1::ResourceKind_Name(e.resource().kind()),
                                    " ", e.rule(), " ", e.actor().agency(), "/",
                                    v1::Role_Name(e.actor().role())));
    }
  }
  ASSERT_TRUE(marker);
  EXPECT_THAT(denied,
              ::testing::ElementsAre(
                  "referral.read RESOURCE_KIND_REFERRAL authz.role budstikke-drift/ROLE_ADMIN",
                  "agency.create RESOURCE_KIND_AGENCY authz.role bhg-solsikken/ROLE_STAFF"));
}

// Repeated identical refusals (same actor, action, rule and resource) within
// 60 s: the first is its own event at once, the repeats one event with their
// count, first_time and last_time when the window ends (here: at shutdown,
// which records every open window). Rate-limit refusals are audited the same
// way. Allowed calls are never aggregated.
TEST(AuditIntegrationTest, RepeatedRefusalsAreOneEventAndOneAggregate) {
  TestServer server({"--rate-limit", "5"});  // a burst of 10 per identity
  ASSERT_FALSE(server.address().empty());
  auto referrals = v1::ReferralService::NewStub(server.Channel("admin"));
  v1::GetReferralRequest get;
  get.set_id("ref-any");
  for (int i = 0; i < 2; ++i) {
    v1::Referral referral;
    ASSERT_EQ(referrals->Get(Ctx().get(), get, &referral).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  auto consult = v1::ConsultationService::NewStub(server.Channel("kindergarten-staff"));
  v1::CheckTextRequest check;
  check.set_text("tekst");
  int limited = 0;
  for (int i = 0; i < 30; ++i) {
    v1::CheckTextResponse verdict;
    grpc::Status s = consult->CheckText(Ctx().get(), check, &verdict);
    ASSERT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
        << s.error_message();
    limited += s.ok() ? 0 : 1;
  }
  ASSERT_GE(limited, 2);  // a burst of 10, refilled at 5 per second
  server.Stop();
  server.Restart();

  // The restarted server drains the outbox and signs a checkpoint first:
  // wait (not timed) until the log holds four refusals.
  std::vector<std::string> denied;
  std::vector<v1::AuditEvent> aggregates;
  for (int attempt = 0; attempt < 40 && denied.size() < 4; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    denied.clear();
    aggregates.clear();
    for (const auto& e : AllEvents(server)) {
      if (e.outcome() != v1::AUDIT_OUTCOME_DENIED) continue;
      denied.push_back(absl::StrCat(e.action(), " ", e.resource().id(), " ", e.rule(), " ",
                                    e.actor().agency(), " count=", e.count()));
      if (e.count() > 0) aggregates.push_back(e);
    }
  }
  EXPECT_THAT(denied, ::testing::UnorderedElementsAre(
                          "referral.read  authz.role budstikke-drift count=0",
                          "referral.read  authz.role budstikke-drift count=1",
                          "api.call budstikke.v1.ConsultationService/CheckText api.rate_limit "
                          "bhg-solsikken count=0",
                          absl::StrCat("api.call budstikke.v1.ConsultationService/CheckText "
                                       "api.rate_limit bhg-solsikken count=",
                                       limited - 1)));
  for (const v1::AuditEvent& e : aggregates) {
    EXPECT_LE(e.first_time().seconds(), e.last_time().seconds());
    EXPECT_LE(e.last_time().seconds(), e.time().seconds());
    EXPECT_EQ(e.request_id(), "");
  }
  // The CLI prints an aggregate's count and times, and no count elsewhere.
  ASSERT_EQ(aggregates.size(), 2u);
  std::string out, err;
  ASSERT_EQ(
      Cli(server,
          {"audit", "get", "--index", std::to_string(aggregates[0].index()), "--output", "json"},
          &out, &err),
      0)
      << err;
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_GE(j["count"].get<int>(), 1);
  EXPECT_TRUE(j.contains("first_time") && j.contains("last_time")) << out;
  ASSERT_EQ(Cli(server, {"audit", "get", "--index", "0", "--output", "json"}, &out, &err), 0);
  EXPECT_FALSE(nlohmann::json::parse(out).contains("count")) << out;
  EXPECT_EQ(Cli(server, {"audit", "verify"}, &out, &err), 0) << out << err;
}

// The audit service's own methods are authorized like every other one: a
// refused read of the log is itself logged (DENIED, authz.role); a method
// open to everyone (GetPublicKey) is answered.
TEST(AuditIntegrationTest, RefusedReadsOfTheLogAreAudited) {
  TestServer server;
  ASSERT_FALSE(server.address().empty());
  auto staff = v1::AuditService::NewStub(server.Channel("kindergarten-staff"));
  v1::QueryAuditRequest query;
  v1::QueryAuditResponse page;
  grpc::Status refused = staff->Query(Ctx().get(), query, &page);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("may not call budstikke.v1.AuditService/Query (authz.role)"));
  v1::GetPublicKeyResponse key;
  EXPECT_TRUE(staff->GetPublicKey(Ctx().get(), v1::GetPublicKeyRequest(), &key).ok());
  auto admin = v1::DirectoryService::NewStub(server.Channel("admin"));
  ASSERT_TRUE(CreateAgency(admin.get(), "skole-merke").ok());
  std::vector<std::string> denied;
  bool marker = false;
  for (int i = 0; i < 100 && !marker; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    denied.clear();
    for (const auto& e : AllEvents(server)) {
      marker |= e.action() == "agency.create" && e.resource().id() == "skole-merke";
      if (e.outcome() != v1::AUDIT_OUTCOME_DENIED) continue;
      denied.push_back(absl::StrCat(e.action(), " ", v1::ResourceKind_Name(e.resource().kind()),
                                    " ", e.rule(), " ", e.actor().agency(), "/",
                                    v1::Role_Name(e.actor().role())));
    }
  }
  ASSERT_TRUE(marker);
  EXPECT_THAT(denied,
              ::testing::ElementsAre(
                  "audit.query RESOURCE_KIND_AUDIT_LOG authz.role bhg-solsikken/ROLE_STAFF"));
}

// The data dir of a stopped server, opened with the storage library.
std::unique_ptr<storage::Store> OpenStopped(TestServer& server) {
  storage::Store::Options o;
  o.create_if_missing = false;
  auto store = storage::Store::Open(server.data_dir(), o);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// The tree size line of a stored checkpoint note.
uint64_t NoteSize(const std::string& note) {
  const size_t a = note.find('\n') + 1;
  return std::stoull(note.substr(a, note.find('\n', a) - a));
}

// Flips one bit of the stored hash (level, index) of the audit tree.
void AlterStoredHash(storage::Store* store, int level, uint64_t index) {
  const std::string key = storage::MerkleLog::NodeKey(level, index);
  auto hash = store->Get("audit_tree", key);
  ASSERT_TRUE(hash.ok()) << hash.status();
  ASSERT_EQ(hash->size(), 32u);
  std::string altered = *hash;
  altered[0] ^= 1;
  ASSERT_TRUE(store->Put("audit_tree", key, altered).ok());
}

// The single line of stderr, or a failure if there is more than one.
std::string OneLine(const std::string& err) {
  EXPECT_FALSE(err.empty());
  EXPECT_EQ(err.find('\n'), err.size() - 1) << "not one line: " << err;
  return err.substr(0, err.find('\n'));
}

TEST(AuditIntegrationTest, CliVerifyNamesFirstIndexBehindAlteredInnerNode) {
  TestServer server;
  ASSERT_FALSE(server.address().empty());
  auto dir = v1::DirectoryService::NewStub(server.Channel("admin"));
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(CreateAgency(dir.get(), "n-" + std::to_string(i)).ok());
  WaitForCheckpoint(server, 40);
  std::string out, err;
  ASSERT_EQ(Cli(server, {"audit", "verify"}, &out, &err), 0) << err;

  // Stored hash (4, 0) covers leaves 0..15. With >= 32 leaves it is not on
  // the path to any root (subtree (5, 0) is stored above it), so checkpoints
  // stay right; it is the sibling in the proofs of leaves 16..31: 16 is first.
  server.Stop();
  {
    auto store = OpenStopped(server);
    ASSERT_NE(store, nullptr);
    ASSERT_GE(NoteSize(*store->Get("audit_meta", "checkpoint")), 40u);
    AlterStoredHash(store.get(), 4, 0);
  }
  server.Restart();
  ASSERT_FALSE(server.address().empty());
  out.clear();
  err.clear();
  EXPECT_EQ(Cli(server, {"audit", "verify"}, &out, &err), 1);
  EXPECT_THAT(OneLine(err),
              ::testing::StartsWith("budstikke: DATA_LOSS: audit event 16: inclusion proof does "
                                    "not lead to the checkpoint root ("));
  EXPECT_EQ(out, "");
  // The same in JSON, and again on a second run: nothing launders it.
  out.clear();
  err.clear();
  EXPECT_EQ(Cli(server, {"audit", "verify", "--output", "json"}, &out, &err), 1);
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << out;
  EXPECT_EQ(j["error"]["code"], "DATA_LOSS");
  EXPECT_THAT(j["error"]["message"].get<std::string>(),
              ::testing::StartsWith("audit event 16: inclusion proof does not lead"));
}

TEST(AuditIntegrationTest, AlteredCheckpointIsRefusedAndAForkIsCaughtByState) {
  TestServer server;
  ASSERT_FALSE(server.address().empty());
  auto dir = v1::DirectoryService::NewStub(server.Channel("admin"));
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(CreateAgency(dir.get(), "k-" + std::to_string(i)).ok());
  WaitForCheckpoint(server, 40);
  const std::string state = server.dir().Sub("verify-state.json");
  std::string out, err;
  ASSERT_EQ(Cli(server, {"audit", "verify", "--state", state}, &out, &err), 0) << err;
  server.Stop();

  // 1. The stored checkpoint's size line altered: its signature no longer
  //    holds, and the server refuses to start with one line.
  std::string note;
  {
    auto store = OpenStopped(server);
    ASSERT_NE(store, nullptr);
    note = *store->Get("audit_meta", "checkpoint");
    std::string altered = note;
    const size_t at = altered.find('\n') + 1;
    altered[at] = altered[at] == '9' ? '8' : static_cast<char>(altered[at] + 1);
    ASSERT_TRUE(store->Put("audit_meta", "checkpoint", altered).ok());
  }
  // Starts the server on the stopped data dir; returns its exit code and
  // its one line of stderr.
  auto refused_start = [&](std::string* line) {
    budstikke::testing::Process refused(
        {BinDir() + "/budstikke-server", "--listen", "127.0.0.1:0", "--data-dir", server.data_dir(),
         "--tls-cert", server.cert_dir() + "/server.pem", "--tls-key",
         server.cert_dir() + "/server.key", "--tls-ca", server.cert_dir() + "/ca.pem",
         "--master-key-file", server.cert_dir() + "/master.key", "--audit-signing-key-file",
         server.cert_dir() + "/audit-signing.key"},
        server.dir().Sub("refused.out"), server.dir().Sub("refused.err"));
    int rc = refused.Wait(30000);
    if (rc == -1) refused.Stop();
    *line = OneLine(refused.ReadStderr());
    EXPECT_THAT(refused.ReadStdout(), ::testing::Not(HasSubstr("listening on")));
    return rc;
  };
  std::string line;
  EXPECT_EQ(refused_start(&line), 1);
  EXPECT_THAT(line,
              ::testing::StartsWith("budstikke-server: stored audit checkpoint does not verify: "));

  // 2. The checkpoint restored and the stored hash of the largest complete
  //    subtree altered (a top-level hash of the root at the checkpoint's
  //    size): the tree no longer matches the checkpoint, and the server
  //    refuses to start rather than sign a fork.
  const uint64_t size = NoteSize(note);
  int level = 0;
  while ((uint64_t{2} << level) <= size) ++level;
  {
    auto store = OpenStopped(server);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put("audit_meta", "checkpoint", note).ok());
    AlterStoredHash(store.get(), level, 0);  // (level, 0) covers leaves 0 .. 2^level-1
  }
  EXPECT_EQ(refused_start(&line), 1);
  EXPECT_EQ(line, absl::StrCat("budstikke-server: stored audit tree does not match its stored "
                               "checkpoint: the root at size ",
                               size, " differs (a stored hash was altered)"));

  // 3. A fork: the altered tree and no stored checkpoint. That state is also
  //    the legitimate one after a crash before the first checkpoint, so the
  //    server starts and signs a checkpoint over a tree that is not the one
  //    the earlier run saw. Its signature holds; the checkpoint saved by
  //    `audit verify --state` catches it.
  uint64_t saved_size = 0;
  {
    auto saved = nlohmann::json::parse(budstikke::testing::ReadWholeFile(state), nullptr, false);
    ASSERT_TRUE(saved.is_object());
    saved_size = NoteSize(saved["checkpoint"].get<std::string>());
    ASSERT_GE(size, saved_size);
    auto store = OpenStopped(server);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Delete("audit_meta", "checkpoint").ok());
  }
  server.Restart();
  ASSERT_FALSE(server.address().empty());
  WaitForCheckpoint(server, saved_size);
  out.clear();
  err.clear();
  EXPECT_EQ(Cli(server, {"audit", "verify", "--state", state, "--checkpoint-only"}, &out, &err), 1);
  EXPECT_EQ(OneLine(err).rfind(absl::StrCat("budstikke: DATA_LOSS: log is not consistent with "
                                            "the checkpoint of size ",
                                            saved_size, " seen before (history rewritten)"),
                               0),
            0u)
      << err;
  // Without the saved state the events' proofs do not reach the forked root
  // (the server finds it first and refuses to serve them).
  out.clear();
  err.clear();
  EXPECT_EQ(Cli(server, {"audit", "verify"}, &out, &err), 1);
  EXPECT_THAT(OneLine(err),
              ::testing::StartsWith("budstikke: DATA_LOSS: audit event 0: inclusion proof does not "
                                    "lead to the checkpoint root ("));
}

}  // namespace
// Issue 20, defect 2: a data dir restored from an older copy must not sign
// a second root for a size it already published. The anchor file, outside
// the data dir, keeps the last published checkpoint.
TEST(AuditIntegrationTest, ARolledBackLogRefusesToStartUnlessTheBreakIsRecorded) {
  budstikke::testing::TempDir keep;  // outside the data dir, outlives the server
  const std::string anchor = keep.Sub("audit.anchor");
  TestServer server({"--audit-anchor-file", anchor});
  ASSERT_FALSE(server.address().empty());
  auto dir = v1::DirectoryService::NewStub(server.Channel("admin"));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(CreateAgency(dir.get(), "r-" + std::to_string(i)).ok());
  WaitForCheckpoint(server, 5);
  server.Stop();
  const std::string old_copy = server.dir().Sub("old-data");
  ASSERT_EQ(RunCommand({"/bin/cp", "-a", server.data_dir(), old_copy}), 0);
  const uint64_t old_size = NoteSize(budstikke::testing::ReadWholeFile(anchor));
  server.Restart();
  dir = v1::DirectoryService::NewStub(server.Channel("admin"));
  for (int i = 5; i < 30; ++i) ASSERT_TRUE(CreateAgency(dir.get(), "r-" + std::to_string(i)).ok());
  WaitForCheckpoint(server, 30);
  server.Stop();
  const uint64_t published = NoteSize(budstikke::testing::ReadWholeFile(anchor));
  ASSERT_GT(published, old_size);

  // The older copy comes back: the server refuses to start, one line.
  ASSERT_EQ(RunCommand({"/bin/rm", "-rf", server.data_dir()}), 0);
  ASSERT_EQ(RunCommand({"/bin/cp", "-a", old_copy, server.data_dir()}), 0);
  budstikke::testing::Process refused(
      {BinDir() + "/budstikke-server", "--listen", "127.0.0.1:0", "--data-dir", server.data_dir(),
       "--tls-cert", server.cert_dir() + "/server.pem", "--tls-key",
       server.cert_dir() + "/server.key", "--tls-ca", server.cert_dir() + "/ca.pem",
       "--master-key-file", server.cert_dir() + "/master.key", "--audit-signing-key-file",
       server.cert_dir() + "/audit-signing.key", "--audit-anchor-file", anchor},
      server.dir().Sub("refused.out"), server.dir().Sub("refused.err"));
  const int rc = refused.Wait(30000);
  if (rc == -1) refused.Stop();
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(OneLine(refused.ReadStderr()),
            absl::StrCat("budstikke-server: the audit log holds ", old_size, " events but ", anchor,
                         " records a published checkpoint of ", published,
                         ": the data dir was restored or rolled back; start with "
                         "--accept-audit-rollback to record the break as a signed event"));
  EXPECT_EQ(NoteSize(budstikke::testing::ReadWholeFile(anchor)), published);

  // Accepted: the break is the first event appended and signed.
  server.RestartWith({"--accept-audit-rollback"});
  ASSERT_FALSE(server.address().empty());
  WaitForCheckpoint(server, old_size + 1);
  std::vector<v1::AuditEvent> breaks = AllEvents(server, "audit.rollback_accepted");
  ASSERT_EQ(breaks.size(), 1u);
  EXPECT_EQ(breaks[0].index(), old_size);
  EXPECT_EQ(breaks[0].resource().kind(), v1::RESOURCE_KIND_AUDIT_LOG);
  EXPECT_EQ(breaks[0].resource().id(),
            absl::StrCat("published=", published, ",restored=", old_size));
  EXPECT_EQ(breaks[0].actor().service(), "audit");
  // The anchor now follows the new log.
  EXPECT_EQ(NoteSize(budstikke::testing::ReadWholeFile(anchor)), old_size + 1);
}

}  // namespace budstikke
