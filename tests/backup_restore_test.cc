// An operator backs up a running server with the CLI, and the documented
// commands of budstikke-server bring the data back: `verify-backup` checks a
// backup, `restore` writes it into a new data dir, and `purge-shredded-keys`
// removes the wrapped keys of shredded versions from named backups. Under
// load, every write acknowledged before the backup comes back; the restored
// server does not sign below the size the old one published (the anchor file)
// unless the break is accepted and recorded; inbox cursors go forward.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/directory.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::BinDir;
using ::budstikke::testing::ReadWholeFile;
using ::budstikke::testing::RunCommand;
using ::budstikke::testing::TestServer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// The tree size line of a checkpoint note (the anchor file holds one).
uint64_t NoteSize(const std::string& note) {
  const size_t a = note.find('\n') + 1;
  return std::stoull(note.substr(a, note.find('\n', a) - a));
}

// The tree size the anchor file records; 0 while there is none.
uint64_t AnchorSize(const std::string& anchor) {
  const std::string note = ReadWholeFile(anchor);
  return note.empty() ? 0 : NoteSize(note);
}

// The single line of `text`, or a failure if there is not exactly one.
std::string OneLine(const std::string& text) {
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "not one line: " << text;
  return text.substr(0, text.find('\n'));
}

// `budstikke consult ask` to bup-oslo as the kindergarten (an inbox event for BUP).
int Ask(const TestServer& server, std::string* out, std::string* err) {
  return RunCommand(
      {BinDir() + "/budstikke", "consult", "ask", "--to", "bup-oslo", "--age-band", "3-5",
       "--concern", "sleep", "--text",
       "Gutten sover dårlig og er urolig i samlingsstund over flere uker.", "--output", "json"},
      out, err, server.CliEnv("kindergarten-staff"));
}

// The server's own command line with `more` added, for a start that must fail.
std::vector<std::string> ServerArgs(const TestServer& server, std::vector<std::string> more) {
  std::vector<std::string> argv = {BinDir() + "/budstikke-server",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--data-dir",
                                   server.data_dir(),
                                   "--tls-cert",
                                   server.cert_dir() + "/server.pem",
                                   "--tls-key",
                                   server.cert_dir() + "/server.key",
                                   "--tls-ca",
                                   server.cert_dir() + "/ca.pem",
                                   "--master-key-file",
                                   server.cert_dir() + "/master.key",
                                   "--audit-signing-key-file",
                                   server.cert_dir() + "/audit-signing.key"};
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

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

// Issue 20, point 7: an online backup under load, verified, restored into a
// new data dir. Every write acknowledged before the backup started is back;
// the restored audit log is smaller than the checkpoint the old server
// published after the backup, so the server refuses to start until the break
// is accepted, and then records it as a signed event; new inbox cursors are
// above every cursor handed out before the loss.
TEST(BackupRestoreTest, BackupUnderLoadRestoresAcknowledgedWritesAndNothingGoesBack) {
  budstikke::testing::TempDir keep;  // outside the data dir, outlives it
  const std::string anchor = keep.Sub("audit.anchor");
  // No rate limit: the writer goes as fast as the server takes it.
  TestServer server({"--audit-anchor-file", anchor, "--rate-limit", "0"});
  ASSERT_FALSE(server.address().empty());
  const std::string cli = BinDir() + "/budstikke";
  std::string out, err;
  ASSERT_EQ(Ask(server, &out, &err), 0) << err;

  // Load: one writer creates agencies load-0, load-1, ... until stopped;
  // `acked` is how many were acknowledged.
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::thread writer([&] {
    auto dir = v1::DirectoryService::NewStub(server.Channel("admin"));
    for (int i = 0; !stop.load(); ++i) {
      v1::CreateAgencyRequest req;
      req.set_request_id("req-load-" + std::to_string(i));
      req.mutable_agency()->set_id("load-" + std::to_string(i));
      req.mutable_agency()->set_name("Skole " + std::to_string(i));
      req.mutable_agency()->set_type(v1::AGENCY_TYPE_SCHOOL);
      req.mutable_agency()->set_municipality("0301");
      v1::Agency resp;
      grpc::Status s = dir->CreateAgency(Ctx().get(), req, &resp);
      if (!s.ok()) {
        ADD_FAILURE() << "create load-" << i << ": " << s.error_message();
        return;
      }
      acked.store(i + 1);
    }
  });
  auto wait_for = [&](int n) {
    for (int i = 0; i < 1000 && acked.load() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return acked.load() >= n;
  };
  ASSERT_TRUE(wait_for(20));
  const int acked_before = acked.load();
  const std::string backup_dir = server.dir().Sub("backup-load");
  const int backup_rc = RunCommand({cli, "admin", "backup", "--dest", backup_dir}, &out, &err,
                                   server.CliEnv("admin"));
  const int acked_at_end = acked.load();
  const int64_t backup_done = std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count() +
                              1;
  const bool more = wait_for(acked_at_end + 20);
  stop.store(true);
  writer.join();
  ASSERT_EQ(backup_rc, 0) << err;
  ASSERT_TRUE(more);
  EXPECT_GT(acked_at_end, acked_before);  // writes went on during the backup

  // After the backup: two more inbox events, which a watcher sees.
  ASSERT_EQ(Ask(server, &out, &err), 0) << err;
  ASSERT_EQ(Ask(server, &out, &err), 0) << err;
  ASSERT_EQ(RunCommand({cli, "inbox", "watch", "--max-events", "3", "--output", "json"}, &out, &err,
                       server.CliEnv("bup-clinician")),
            0)
      << err;
  const std::vector<uint64_t> seen = Cursors(out);
  ASSERT_EQ(seen.size(), 3u) << out;
  const uint64_t last_seen = seen.back();

  // The old server publishes checkpoints past the backup (one at most every
  // 500 ms): wait until the anchor stops growing.
  uint64_t published = 0;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    const uint64_t now = AnchorSize(anchor);
    if (now != 0 && now == published) break;
    published = now;
  }
  ASSERT_GT(published, 0u);

  // verify-backup: every file present with its size and checksum.
  const std::string server_bin = BinDir() + "/budstikke-server";
  ASSERT_EQ(RunCommand({server_bin, "verify-backup", "--backup-dir", backup_dir}, &out, &err), 0)
      << err;
  EXPECT_THAT(OneLine(out),
              StartsWith("verified " + backup_dir + ": 1 backup (latest id 1, made "));
  EXPECT_EQ(
      RunCommand({server_bin, "verify-backup", "--backup-dir", backup_dir + "-none"}, &out, &err),
      1);
  EXPECT_EQ(OneLine(err),
            "budstikke-server: verify-backup: backup dir " + backup_dir + "-none does not exist");

  // Disaster: the data dir is lost; restore into a new one.
  server.Stop();
  published = AnchorSize(anchor);  // the last checkpoint it signed
  std::filesystem::remove_all(server.data_dir());
  ASSERT_EQ(RunCommand({server_bin, "restore", "--backup-dir", backup_dir, "--data-dir",
                        server.data_dir()},
                       &out, &err),
            0)
      << err;

  // The restored log is smaller than the published checkpoint: refused.
  budstikke::testing::Process refused(ServerArgs(server, {"--audit-anchor-file", anchor}),
                                      server.dir().Sub("refused.out"),
                                      server.dir().Sub("refused.err"));
  const int rc = refused.Wait(30000);
  if (rc == -1) refused.Stop();
  ASSERT_EQ(rc, 1);
  const std::string line = OneLine(refused.ReadStderr());
  std::smatch m;
  ASSERT_TRUE(std::regex_match(line, m,
                               std::regex("budstikke-server: the audit log holds ([0-9]+) "
                                          "events but (.*) records a published "
                                          "checkpoint of ([0-9]+): the data dir was "
                                          "restored or rolled back; start with "
                                          "--accept-audit-rollback to record the break "
                                          "as a signed event")))
      << line;
  const uint64_t restored_size = std::stoull(m[1]);
  EXPECT_EQ(m[2].str(), anchor);
  EXPECT_EQ(std::stoull(m[3]), published);
  EXPECT_LT(restored_size, published);

  // Accepted: it starts, and the break is a signed event.
  server.RestartWith({"--accept-audit-rollback"});
  ASSERT_FALSE(server.address().empty());
  auto audit = v1::AuditService::NewStub(server.Channel("auditor"));
  v1::QueryAuditRequest query;
  query.set_action("audit.rollback_accepted");
  v1::QueryAuditResponse events;
  for (int i = 0; i < 100; ++i) {
    events.Clear();
    ASSERT_TRUE(audit->Query(Ctx().get(), query, &events).ok());
    if (events.records_size() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(events.records_size(), 1);
  const uint64_t break_index = events.records(0).event().index();
  EXPECT_EQ(
      events.records(0).event().resource().id(),
      "published=" + std::to_string(published) + ",restored=" + std::to_string(restored_size));
  // Before the break only the events the backup's outbox still held (an
  // online backup): recorded before the backup ended.
  EXPECT_GE(break_index, restored_size);
  query.clear_action();
  query.set_page_size(1000);
  for (bool more_pages = true; more_pages;) {
    events.Clear();
    ASSERT_TRUE(audit->Query(Ctx().get(), query, &events).ok());
    for (const auto& r : events.records()) {
      if (r.event().index() >= restored_size && r.event().index() < break_index) {
        EXPECT_LE(r.event().time().seconds(), backup_done) << r.event().action();
      }
    }
    query.set_page_token(events.next_page_token());
    more_pages = !events.next_page_token().empty();
  }
  v1::Checkpoint checkpoint;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(audit->GetCheckpoint(Ctx().get(), v1::GetCheckpointRequest(), &checkpoint).ok());
    if (checkpoint.tree_size() > break_index) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GT(checkpoint.tree_size(), break_index);  // a signed checkpoint covers it

  // Every write acknowledged before the backup started is back.
  auto dir = v1::DirectoryService::NewStub(server.Channel("kindergarten-staff"));
  for (int i = 0; i < acked_before; ++i) {
    v1::GetAgencyRequest req;
    req.set_id("load-" + std::to_string(i));
    v1::Agency agency;
    grpc::Status s = dir->GetAgency(Ctx().get(), req, &agency);
    ASSERT_TRUE(s.ok()) << "load-" << i << ": " << s.error_message();
    EXPECT_EQ(agency.name(), "Skole " + std::to_string(i));
  }

  // A new inbox event gets a cursor above every one handed out before.
  ASSERT_EQ(Ask(server, &out, &err), 0) << err;
  ASSERT_EQ(RunCommand({cli, "inbox", "watch", "--from", std::to_string(last_seen), "--max-events",
                        "1", "--output", "json"},
                       &out, &err, server.CliEnv("bup-clinician")),
            0)
      << err;
  const std::vector<uint64_t> after = Cursors(out);
  ASSERT_EQ(after.size(), 1u) << out;
  EXPECT_GT(after[0], last_seen);
}

// Issue 20, point 7: a key version shredded after a backup stays readable in
// that backup until the operator purges it with `purge-shredded-keys`; after
// the purge no file of the backup holds the wrapped key, a restore of it
// cannot open the agency's records under that version, and the other
// agencies' copies still read.
TEST(BackupRestoreTest, PurgeShreddedKeysRemovesTheWrappedKeyFromNamedBackups) {
  TestServer server;
  ASSERT_FALSE(server.address().empty());
  const std::string cli = BinDir() + "/budstikke";
  const std::string server_bin = BinDir() + "/budstikke-server";
  std::string out, err;
  ASSERT_EQ(Ask(server, &out, &err), 0) << err;
  std::smatch id;
  ASSERT_TRUE(std::regex_search(out, id, std::regex("\"id\":\"([^\"]+)\""))) << out;
  const std::string consultation = id[1].str();
  const std::string backup_dir = server.dir().Sub("backup-keys");
  const std::string other_dir = server.dir().Sub("backup-other");
  for (const std::string& dest : {backup_dir, other_dir}) {
    ASSERT_EQ(
        RunCommand({cli, "admin", "backup", "--dest", dest}, &out, &err, server.CliEnv("admin")), 0)
        << err;
  }
  // The wrapped key of bup-oslo v1, as the backup holds it.
  std::string wrapped;
  {
    const std::string peek = server.dir().Sub("peek");
    ASSERT_TRUE(storage::Store::Restore(backup_dir, peek).ok());
    storage::Store::Options options;
    options.create_if_missing = false;
    auto store = storage::Store::Open(peek, options);
    ASSERT_TRUE(store.ok()) << store.status();
    auto value = (*store)->Get("keys", "agency/bup-oslo/v/00000001");
    ASSERT_TRUE(value.ok()) << value.status();
    wrapped = *value;
    store->reset();
    std::filesystem::remove_all(peek);
  }
  auto files_holding = [&](const std::string& dir) {
    std::vector<std::string> hits;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      if (e.is_regular_file() &&
          ReadWholeFile(e.path().string()).find(wrapped) != std::string::npos) {
        hits.push_back(e.path().string());
      }
    }
    return hits;
  };
  ASSERT_FALSE(files_holding(backup_dir).empty());

  ASSERT_EQ(
      RunCommand({cli, "admin", "rotate-key", "bup-oslo"}, &out, &err, server.CliEnv("admin")), 0)
      << err;
  ASSERT_EQ(
      RunCommand({cli, "admin", "shred-key", "bup-oslo", "1", "--confirm", "bup-oslo/1", "--force"},
                 &out, &err, server.CliEnv("admin")),
      0)
      << err;
  // Shredded in the live data dir; the backups still hold it.
  EXPECT_FALSE(files_holding(backup_dir).empty());

  // Only another agency's shredded versions: none, the backup stays as it is.
  ASSERT_EQ(RunCommand({server_bin, "purge-shredded-keys", "--data-dir", server.data_dir(),
                        "--backup-dir", backup_dir, "--agency", "ppt-oslo"},
                       &out, &err),
            0)
      << err;
  EXPECT_THAT(out, StartsWith("no key version is shredded in " + server.data_dir() +
                              " for agency ppt-oslo: nothing to purge\npurged " + backup_dir +
                              ": held no wrapped key of a shredded version; now 1 backup "
                              "(latest id 1, made "));
  EXPECT_FALSE(files_holding(backup_dir).empty());

  // The purge, while the server runs (its data dir is read, not locked).
  ASSERT_EQ(RunCommand({server_bin, "purge-shredded-keys", "--data-dir", server.data_dir(),
                        "--backup-dir", backup_dir},
                       &out, &err),
            0)
      << err;
  EXPECT_THAT(OneLine(out), StartsWith("purged " + backup_dir +
                                       ": removed the wrapped keys of bup-oslo v1; now 1 backup "
                                       "(latest id 2, made "));
  EXPECT_THAT(files_holding(backup_dir), ::testing::ElementsAre());
  EXPECT_FALSE(files_holding(other_dir).empty());  // not named: untouched
  ASSERT_EQ(RunCommand({server_bin, "verify-backup", "--backup-dir", backup_dir}, &out, &err), 0)
      << err;

  // Restore the purged backup: BUP's copy is gone, the kindergarten's reads.
  ASSERT_TRUE(LoseDataDirAndRestore(server, backup_dir));
  EXPECT_NE(RunCommand({cli, "consult", "show", consultation, "--output", "json"}, &out, &err,
                       server.CliEnv("bup-clinician")),
            0);
  EXPECT_THAT(err, HasSubstr("key version 1 of agency bup-oslo was shredded"));
  ASSERT_EQ(RunCommand({cli, "consult", "show", consultation, "--output", "json"}, &out, &err,
                       server.CliEnv("kindergarten-staff")),
            0)
      << err;
  EXPECT_THAT(out, HasSubstr("Gutten sover dårlig"));
}

}  // namespace
}  // namespace budstikke
