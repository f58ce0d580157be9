// Corruption over the real budstikke-server and CLI (issue 20, build point 3):
// the server is stopped, one byte is flipped in a file of its data dir, and
// the server is started again. A flipped byte in
//  (a) an SST of the audit events (audit_leaves): the server starts (data
//      blocks are read on demand); reading the events answers DATA_LOSS and
//      `budstikke audit verify` fails;
//  (b) the middle of the WAL (after kill -9, acknowledged writes only there):
//      the server refuses to start, exit 1, one line naming the WAL file and
//      saying to restore from a backup -- never opens without the writes;
//  (c) an SST of the stored audit tree nodes (audit_tree): the server reads
//      the tree at start and refuses, exit 1, one line naming the SST and
//      saying to restore from a backup.
// The byte flipped back each time, the server starts and `audit verify`
// passes again: the refusals changed nothing. storage/corruption_test.cc has
// the same at the store level, with the exact RocksDB settings behind it.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/directory.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "storage/test_util.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::storage::testing::FileSize;
using ::budstikke::storage::testing::FlipByte;
using ::budstikke::testing::BinDir;
using ::budstikke::testing::RunCommand;
using ::budstikke::testing::TestServer;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 5) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
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

void CreateAgencies(TestServer& server, const std::string& prefix, int n) {
  auto stub = v1::DirectoryService::NewStub(server.Channel("admin"));
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(CreateAgency(stub.get(), prefix + std::to_string(i)).ok()) << prefix << i;
  }
}

// The ids of the agencies the auditor sees created in the audit log.
std::set<std::string> CreatedAgencies(TestServer& server) {
  auto stub = v1::AuditService::NewStub(server.Channel("auditor"));
  std::set<std::string> out;
  v1::QueryAuditRequest req;
  req.set_page_size(1000);
  req.set_action("agency.create");
  while (true) {
    v1::QueryAuditResponse resp;
    grpc::Status s = stub->Query(Ctx(20).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    for (const auto& r : resp.records()) out.insert(r.event().resource().id());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return out;
}

void WaitForCheckpoint(TestServer& server, uint64_t size) {
  auto stub = v1::AuditService::NewStub(server.Channel("auditor"));
  for (int i = 0; i < 200; ++i) {
    v1::Checkpoint cp;
    grpc::Status s = stub->GetCheckpoint(Ctx().get(), v1::GetCheckpointRequest(), &cp);
    if (s.ok() && cp.tree_size() >= size) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "no checkpoint of size >= " << size << " within 10 s";
}

int Cli(TestServer& server, std::vector<std::string> args, std::string* out, std::string* err) {
  args.insert(args.begin(), BinDir() + "/budstikke");
  return RunCommand(args, out, err, server.CliEnv("auditor"));
}

// `budstikke audit verify`: exit code, and its stderr in *err.
int Verify(TestServer& server, std::string* err) {
  std::string out;
  err->clear();
  return Cli(server, {"audit", "verify"}, &out, err);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The files of the data dir ending with `suffix`, sorted.
std::vector<std::string> DataFiles(const TestServer& server, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(server.data_dir())) {
    const std::string p = e.path().string();
    if (e.is_regular_file() && p.size() > suffix.size() &&
        p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The SST of column family `cf`: its name is in the table's properties
// block, which RocksDB stores uncompressed. Exactly one is expected.
std::string SstOf(const TestServer& server, const std::string& cf) {
  std::vector<std::string> hits;
  for (const std::string& sst : DataFiles(server, ".sst")) {
    if (ReadFile(sst).find(cf) != std::string::npos) hits.push_back(sst);
  }
  EXPECT_EQ(hits.size(), 1u) << "SSTs of " << cf;
  return hits.empty() ? std::string() : hits[0];
}

// Starts the server on the stopped data dir in a process of its own; returns
// its exit code (-1 if it was still running after 30 s) and its stderr.
int RefusedStart(const TestServer& server, std::string* err) {
  budstikke::testing::Process p(
      {BinDir() + "/budstikke-server", "--listen", "127.0.0.1:0", "--data-dir", server.data_dir(),
       "--tls-cert", server.cert_dir() + "/server.pem", "--tls-key",
       server.cert_dir() + "/server.key", "--tls-ca", server.cert_dir() + "/ca.pem",
       "--master-key-file", server.cert_dir() + "/master.key", "--audit-signing-key-file",
       server.cert_dir() + "/audit-signing.key"},
      server.dir().Sub("refused.out"), server.dir().Sub("refused.err"));
  const int rc = p.Wait(30000);
  if (rc == -1) p.Stop();
  *err = p.ReadStderr();
  EXPECT_THAT(p.ReadStdout(), ::testing::Not(HasSubstr("listening on")));
  return rc;
}

class CorruptionIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(server_.address().empty());
    CreateAgencies(server_, "before-", 30);
    WaitForCheckpoint(server_, 30);
    std::string err;
    ASSERT_EQ(Verify(server_, &err), 0) << err;
    server_.Stop();
    // The writes are in the WAL (RocksDB does not flush at a clean close):
    // flush them into SSTs, one per column family, as a busy server would.
    storage::Store::Options o;
    o.create_if_missing = false;
    auto store = storage::Store::Open(server_.data_dir(), o);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Flush().ok());
  }

  // Flips the byte back, starts the server: it serves and verifies again.
  void RepairAndCheck(const std::string& path, uint64_t offset) {
    FlipByte(path, offset);
    server_.Restart();
    ASSERT_FALSE(server_.address().empty());
    std::string err;
    EXPECT_EQ(Verify(server_, &err), 0) << err;
  }

  TestServer server_;
};

TEST_F(CorruptionIntegrationTest, FlippedByteInAnEventSstIsDataLossAndVerifyFails) {
  const std::string sst = SstOf(server_, "audit_leaves");
  ASSERT_FALSE(sst.empty());
  FlipByte(sst, 100);  // the first data block: the first events
  server_.Restart();
  ASSERT_FALSE(server_.address().empty());
  auto stub = v1::AuditService::NewStub(server_.Channel("auditor"));
  v1::GetEventRequest req;
  req.set_index(0);
  v1::GetEventResponse resp;
  grpc::Status s = stub->GetEvent(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_EQ(resp.leaf_data(), "");
  std::string err;
  EXPECT_EQ(Verify(server_, &err), 1);
  EXPECT_THAT(err, StartsWith("budstikke: DATA_LOSS: ")) << err;
  server_.Stop();
  RepairAndCheck(sst, 100);
}

TEST_F(CorruptionIntegrationTest, FlippedByteInTheWalRefusesToStartNamingTheFile) {
  server_.Restart();
  ASSERT_FALSE(server_.address().empty());
  CreateAgencies(server_, "in-wal-", 30);  // acknowledged: synced to the WAL
  server_.process()->Signal(SIGKILL);      // no flush: they are only in the WAL
  ASSERT_EQ(server_.process()->Wait(5000), 128 + SIGKILL);
  std::vector<std::string> wals = DataFiles(server_, ".log");
  ASSERT_FALSE(wals.empty());
  std::string wal = wals[0];
  for (const std::string& w : wals) {
    if (FileSize(w) > FileSize(wal)) wal = w;
  }
  const uint64_t offset = FileSize(wal) / 2;
  ASSERT_GT(offset, 1000u);
  FlipByte(wal, offset);

  std::string err;
  EXPECT_EQ(RefusedStart(server_, &err), 1);
  EXPECT_THAT(
      err,
      AllOf(StartsWith(
                absl::StrCat("budstikke-server: cannot open data dir ", server_.data_dir(), ": ")),
            HasSubstr(absl::StrCat("write-ahead log ", wal, ": Corruption: checksum mismatch")),
            HasSubstr("restore the data dir from a backup (docs/OPERATIONS.md, "
                      "\"Corruption\")")));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "not one line: " << err;
  // Refused again: the failed start changed nothing.
  EXPECT_EQ(RefusedStart(server_, &err), 1);
  EXPECT_THAT(err, HasSubstr(wal));

  RepairAndCheck(wal, offset);
  const std::set<std::string> created = CreatedAgencies(server_);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(created.count("in-wal-" + std::to_string(i)), 1u) << "in-wal-" << i;
  }
}

TEST_F(CorruptionIntegrationTest, FlippedByteInATreeNodeSstRefusesToStartNamingTheFile) {
  // The audit log reads its stored tree at start (the cached upper levels and
  // the root at the stored checkpoint's size); with 30 events the tree's SST
  // is one data block, so the damage is found then.
  const std::string sst = SstOf(server_, "audit_tree");
  ASSERT_FALSE(sst.empty());
  FlipByte(sst, 100);
  std::string err;
  EXPECT_EQ(RefusedStart(server_, &err), 1);
  EXPECT_THAT(err, AllOf(StartsWith("budstikke-server: "),
                         HasSubstr(": Corruption: block checksum mismatch: "),
                         HasSubstr(absl::StrCat(" in ", sst, " offset 0 size ")),
                         HasSubstr("; the data dir is damaged: restore the data dir from a backup "
                                   "(docs/OPERATIONS.md, \"Corruption\")")));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "not one line: " << err;
  RepairAndCheck(sst, 100);
}

}  // namespace
}  // namespace budstikke
