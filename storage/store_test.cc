#include "storage/store.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/status_matchers.h"
#include "storage/test_util.h"

namespace budstikke::storage {
namespace {

// Options that open these column families, the rest at their defaults.
Store::Options Families(std::vector<std::string> column_families) {
  Store::Options o;
  o.column_families = std::move(column_families);
  return o;
}

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::TempDir;

using KV = std::vector<std::pair<std::string, std::string>>;

KV ScanAll(const Store& store, std::string_view cf, std::string_view prefix,
           const Snapshot* snap = nullptr) {
  KV out;
  auto it = store.Scan(cf, prefix, snap);
  for (; it->Valid(); it->Next()) out.emplace_back(it->key(), it->value());
  EXPECT_THAT(it->status(), IsOk());
  return out;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(dir_.Sub("db"), Families({"records", "index"}));
    ASSERT_THAT(s, IsOk());
    store_ = *std::move(s);
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, PutGetDelete) {
  ASSERT_THAT(store_->Put("records", "k1", "v1"), IsOk());
  auto v = store_->Get("records", "k1");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(*v, "v1");
  EXPECT_THAT(store_->Get("index", "k1"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("")));
  ASSERT_THAT(store_->Delete("records", "k1"), IsOk());
  EXPECT_THAT(store_->Get("records", "k1"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no such key")));
}

TEST_F(StoreTest, MemoryNamesWhereRocksDbHoldsTheData) {
  const Store::MemoryUsage empty = store_->Memory();
  EXPECT_EQ(empty.table_readers, 0u);
  EXPECT_LT(empty.block_cache, 4096u);  // no data block yet (RocksDB keeps a few bytes)
  const std::string value(1024, 'v');
  for (int i = 0; i < 1000; ++i) {
    ASSERT_THAT(store_->Put("records", absl::StrCat("k", 1000 + i), value), IsOk());
  }
  const Store::MemoryUsage written = store_->Memory();
  EXPECT_GE(written.memtables, 1000u * 1024);  // in memtables only
  EXPECT_EQ(written.table_readers, 0u);
  ASSERT_THAT(store_->Flush(), IsOk());
  ASSERT_THAT(store_->Get("records", "k1500"), IsOk());
  const Store::MemoryUsage flushed = store_->Memory();
  EXPECT_LT(flushed.memtables, 1000u * 1024);
  EXPECT_GT(flushed.table_readers, 0u);   // the SST's index and filter
  EXPECT_GE(flushed.block_cache, 4096u);  // the block that held k1500
}

TEST_F(StoreTest, MultiGetReturnsOneResultPerKeyInOrder) {
  ASSERT_THAT(store_->Put("records", "a", "1"), IsOk());
  ASSERT_THAT(store_->Put("records", "c", "3"), IsOk());
  ASSERT_THAT(store_->Flush(), IsOk());  // one from an SST file, one from the memtable
  ASSERT_THAT(store_->Put("records", "b", "2"), IsOk());
  auto got = store_->MultiGet("records", {"c", "missing", "a", "b", "a"});
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].value_or("<error>"), "3");
  EXPECT_THAT(got[1].status(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("no such key")));
  EXPECT_EQ(got[2].value_or("<error>"), "1");
  EXPECT_EQ(got[3].value_or("<error>"), "2");
  EXPECT_EQ(got[4].value_or("<error>"), "1");
  EXPECT_TRUE(store_->MultiGet("records", {}).empty());
  auto unknown = store_->MultiGet("nope", {"a", "b"});
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_THAT(unknown[1].status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nope")));
}

TEST_F(StoreTest, DataDirectoryIsCreatedOwnerOnly) {
  struct stat st;
  ASSERT_EQ(::stat(store_->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(StoreTest, UnknownColumnFamilyIsInvalidArgument) {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(store_->Get("nope", "k"),
              StatusIs(kInvalid, HasSubstr("unknown column family 'nope'")));
  EXPECT_THAT(store_->Put("nope", "k", "v"), StatusIs(kInvalid, HasSubstr("'nope'")));
  EXPECT_THAT(store_->Delete("nope", "k"), StatusIs(kInvalid, HasSubstr("'nope'")));
  auto it = store_->Scan("nope", "");
  EXPECT_FALSE(it->Valid());
  EXPECT_THAT(it->status(), StatusIs(kInvalid, HasSubstr("'nope'")));
}

TEST_F(StoreTest, BatchIsAtomic) {
  ASSERT_THAT(store_->Put("records", "old", "x"), IsOk());
  WriteBatch bad;
  bad.Put("records", "a", "1");
  bad.Delete("records", "old");
  bad.Put("missing-cf", "b", "2");
  EXPECT_EQ(bad.Count(), 3);
  EXPECT_THAT(store_->Write(std::move(bad)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing-cf")));
  // Nothing of the failed batch was applied.
  EXPECT_THAT(store_->Get("records", "a"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("")));
  EXPECT_THAT(store_->Get("records", "old"), IsOk());

  WriteBatch good;
  good.Put("records", "a", "1");
  good.Put("index", "i/a", "a");
  good.Delete("records", "old");
  ASSERT_THAT(store_->Write(std::move(good)), IsOk());
  EXPECT_EQ(*store_->Get("records", "a"), "1");
  EXPECT_EQ(*store_->Get("index", "i/a"), "a");
  EXPECT_THAT(store_->Get("records", "old"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("")));

  // Keys and values are bytes: NULs, an empty value, a large value.
  WriteBatch bytes;
  const std::string nul_key("k\0z", 3), big(70000, '\xff');
  bytes.Put("records", nul_key, "");
  bytes.Put("records", "big", big);
  bytes.Put("index", "", std::string("\0", 1));
  ASSERT_THAT(store_->Write(std::move(bytes)), IsOk());
  EXPECT_EQ(*store_->Get("records", nul_key), "");
  EXPECT_EQ(*store_->Get("records", "big"), big);
  EXPECT_EQ(*store_->Get("index", ""), std::string("\0", 1));
}

// Only keys still holding the expected value are replaced; one changed or
// deleted in between keeps what its writer left; the extra batch is written.
TEST_F(StoreTest, ReplaceIfUnchangedSkipsChangedAndDeletedKeys) {
  ASSERT_THAT(store_->Put("records", "same", "old"), IsOk());
  ASSERT_THAT(store_->Put("records", "changed", "old"), IsOk());
  ASSERT_THAT(store_->Put("records", "deleted", "old"), IsOk());
  ASSERT_THAT(store_->Put("records", "changed", "new content"), IsOk());
  ASSERT_THAT(store_->Delete("records", "deleted"), IsOk());
  WriteBatch progress;
  progress.Put("index", "progress", "3");
  auto put = store_->ReplaceIfUnchanged({{"records", "same", "old", "rewrapped"},
                                         {"records", "changed", "old", "rewrapped"},
                                         {"records", "deleted", "old", "rewrapped"}},
                                        std::move(progress));
  ASSERT_THAT(put, IsOk());
  EXPECT_THAT(*put, ElementsAre(true, false, false));
  EXPECT_EQ(*store_->Get("records", "same"), "rewrapped");
  EXPECT_EQ(*store_->Get("records", "changed"), "new content");
  EXPECT_THAT(store_->Get("records", "deleted"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no such key")));
  EXPECT_EQ(*store_->Get("index", "progress"), "3");
  EXPECT_THAT(store_->ReplaceIfUnchanged({{"missing-cf", "k", "", "v"}}, WriteBatch()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing-cf")));
}

TEST_F(StoreTest, PrefixScanStopsAtTheNextPrefix) {
  for (const char* k : {"a", "a.", "a/", "a/1", "a/2", "a/\xff", "a0", "a0/1", "b/1", "`/9"}) {
    ASSERT_THAT(store_->Put("records", k, std::string("v") + k), IsOk());
  }
  EXPECT_THAT(ScanAll(*store_, "records", "a/"),
              ElementsAre(Pair("a/", "va/"), Pair("a/1", "va/1"), Pair("a/2", "va/2"),
                          Pair("a/\xff", "va/\xff")));
  // A prefix ending in 0xff: the bound is computed past the 0xff byte.
  ASSERT_THAT(store_->Put("records",
                          "c\xff\xff"
                          "1",
                          "x"),
              IsOk());
  ASSERT_THAT(store_->Put("records", "d", "y"), IsOk());
  EXPECT_THAT(ScanAll(*store_, "records", "c\xff\xff"), ElementsAre(Pair("c\xff\xff"
                                                                         "1",
                                                                         "x")));
  EXPECT_THAT(ScanAll(*store_, "records", "zzz"), ElementsAre());
  EXPECT_EQ(ScanAll(*store_, "records", "").size(), 12u);
  // The other column family is separate.
  EXPECT_THAT(ScanAll(*store_, "index", "a"), ElementsAre());
}

TEST_F(StoreTest, SeekToLastFindsTheLastKeyOfThePrefix) {
  for (const char* k : {"o/9", "p/1", "p/3", "p/\xff", "q/0"}) {
    ASSERT_THAT(store_->Put("records", k, "v"), IsOk());
  }
  auto it = store_->Scan("records", "p/");
  it->SeekToLast();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "p/\xff");
  it->Next();
  EXPECT_FALSE(it->Valid());
  // No key with the prefix: neither the key before it nor the one after.
  auto none = store_->Scan("records", "p0");
  none->SeekToLast();
  EXPECT_FALSE(none->Valid());
  EXPECT_THAT(none->status(), IsOk());
  auto all = store_->Scan("records", "");
  all->SeekToLast();
  ASSERT_TRUE(all->Valid());
  EXPECT_EQ(all->key(), "q/0");
}

TEST_F(StoreTest, SeekStaysInsideThePrefix) {
  for (const char* k : {"p/1", "p/3", "p/5", "q/0"}) {
    ASSERT_THAT(store_->Put("records", k, "v"), IsOk());
  }
  auto it = store_->Scan("records", "p/");
  it->Seek("p/2");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "p/3");
  it->Seek("p/6");
  EXPECT_FALSE(it->Valid());
  it->Seek("a");  // before the prefix: clamps to the prefix
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "p/1");
  EXPECT_THAT(it->status(), IsOk());
}

TEST_F(StoreTest, SnapshotIsolation) {
  ASSERT_THAT(store_->Put("records", "s/1", "before"), IsOk());
  auto snap = store_->GetSnapshot();
  ASSERT_THAT(store_->Put("records", "s/1", "after"), IsOk());
  ASSERT_THAT(store_->Put("records", "s/2", "new"), IsOk());
  EXPECT_EQ(*store_->Get("records", "s/1", snap.get()), "before");
  EXPECT_THAT(store_->Get("records", "s/2", snap.get()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("")));
  EXPECT_THAT(ScanAll(*store_, "records", "s/", snap.get()), ElementsAre(Pair("s/1", "before")));
  EXPECT_EQ(*store_->Get("records", "s/1"), "after");
  EXPECT_THAT(ScanAll(*store_, "records", "s/"),
              ElementsAre(Pair("s/1", "after"), Pair("s/2", "new")));
}

TEST_F(StoreTest, ReopenKeepsDataAndExistingColumnFamilies) {
  ASSERT_THAT(store_->Put("index", "k", "v"), IsOk());
  store_.reset();
  // "index" is not requested, but exists and must be opened.
  auto s = Store::Open(dir_.Sub("db"), Families({"records"}));
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(*(*s)->Get("index", "k"), "v");
  EXPECT_THAT((*s)->ColumnFamilies(), ElementsAre("default", "index", "records"));
}

TEST_F(StoreTest, SecondOpenOfTheSameDirectoryIsUnavailable) {
  EXPECT_THAT(Store::Open(dir_.Sub("db"), Families({"records"})),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("lock")));
}

TEST_F(StoreTest, BackupAndRestoreRoundTrip) {
  ASSERT_THAT(store_->Put("records", "r1", "one"), IsOk());
  ASSERT_THAT(store_->Put("index", "i1", "uno"), IsOk());
  ASSERT_THAT(store_->Backup(dir_.Sub("backup")), IsOk());
  ASSERT_THAT(store_->Put("records", "r2", "two"), IsOk());

  ASSERT_THAT(Store::Restore(dir_.Sub("backup"), dir_.Sub("restored")), IsOk());
  auto restored = Store::Open(dir_.Sub("restored"), Families({"records", "index"}));
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(*(*restored)->Get("records", "r1"), "one");
  EXPECT_EQ(*(*restored)->Get("index", "i1"), "uno");
  EXPECT_THAT((*restored)->Get("records", "r2"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("")));
}

TEST_F(StoreTest, RestoreFromMissingBackupFails) {
  EXPECT_FALSE(Store::Restore(dir_.Sub("no-backup-here"), dir_.Sub("restored")).ok());
}

TEST_F(StoreTest, VerifyBackupsChecksEveryFile) {
  EXPECT_THAT(Store::VerifyBackups(dir_.Sub("none")),
              StatusIs(absl::StatusCode::kNotFound,
                       ::testing::Eq("backup dir " + dir_.Sub("none") + " does not exist")));
  ASSERT_EQ(::mkdir(dir_.Sub("empty").c_str(), 0700), 0);
  EXPECT_THAT(Store::VerifyBackups(dir_.Sub("empty")),
              StatusIs(absl::StatusCode::kNotFound,
                       ::testing::Eq("backup dir " + dir_.Sub("empty") + " holds no backup")));

  ASSERT_THAT(store_->Put("records", "r1", "one"), IsOk());
  ASSERT_THAT(store_->Backup(dir_.Sub("backup")), IsOk());
  ASSERT_THAT(store_->Put("records", "r2", "two"), IsOk());
  ASSERT_THAT(store_->Backup(dir_.Sub("backup")), IsOk());
  auto verified = Store::VerifyBackups(dir_.Sub("backup"));
  ASSERT_THAT(verified, IsOk());
  ASSERT_EQ(verified->size(), 2u);
  EXPECT_EQ((*verified)[0].id, 1u);
  EXPECT_EQ((*verified)[1].id, 2u);
  EXPECT_GT((*verified)[1].files, 0u);
  EXPECT_GT((*verified)[1].size_bytes, 0u);

  // One flipped byte in a table file (same size): the checksum catches it.
  std::string sst;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.Sub("backup"))) {
    if (e.path().extension() == ".sst") sst = e.path().string();
  }
  ASSERT_FALSE(sst.empty());
  std::string bytes = testing::ReadWholeFile(sst);
  bytes[bytes.size() / 2] ^= 0x01;
  std::filesystem::permissions(sst, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::ofstream(sst, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_THAT(Store::VerifyBackups(dir_.Sub("backup")),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("Checksum mismatch for " + sst)));
  // A missing file.
  std::filesystem::remove(sst);
  EXPECT_THAT(Store::VerifyBackups(dir_.Sub("backup")),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr(" in " + dir_.Sub("backup") + " is damaged: "),
                                        HasSubstr("not found on disk: " + sst))));
}

TEST_F(StoreTest, ReadOnlyOpenWhileAnotherWriterHoldsTheDatabase) {
  ASSERT_THAT(store_->Put("records", "r1", "one"), IsOk());
  Store::Options options;
  options.read_only = true;
  auto reader = Store::Open(dir_.Sub("db"), options);
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ(*(*reader)->Get("records", "r1"), "one");
  EXPECT_THAT((*reader)->Put("records", "r2", "two"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("open read-only")));
  EXPECT_THAT(Store::Open(dir_.Sub("missing"), options),
              StatusIs(absl::StatusCode::kNotFound,
                       ::testing::Eq("database " + dir_.Sub("missing") + " does not exist")));
}

TEST_F(StoreTest, RewriteBackupsDropsWhatTheEditRemovedFromEveryFile) {
  const std::string secret = "SECRET-VALUE-0123456789";
  ASSERT_THAT(store_->Put("records", "keep", "kept-value"), IsOk());
  ASSERT_THAT(store_->Put("index", "gone", secret), IsOk());
  ASSERT_THAT(store_->Backup(dir_.Sub("backup")), IsOk());
  ASSERT_THAT(store_->Put("records", "later", "later-value"), IsOk());
  ASSERT_THAT(store_->Backup(dir_.Sub("backup")), IsOk());
  ASSERT_FALSE(testing::FilesContaining(dir_.Sub("backup"), secret).empty());

  int edits = 0;
  auto rewritten =
      Store::RewriteBackups(dir_.Sub("backup"), dir_.Sub("scratch"), Families({"records", "index"}),
                            {"index"}, [&](Store& restored) {
                              ++edits;
                              return restored.Put("index", "gone", "x");
                            });
  ASSERT_THAT(rewritten, IsOk());
  EXPECT_EQ(edits, 2);
  ASSERT_EQ(rewritten->size(), 2u);
  EXPECT_EQ((*rewritten)[0].id, 3u);  // new ids, the order kept
  EXPECT_EQ((*rewritten)[1].id, 4u);
  EXPECT_THAT(testing::FilesContaining(dir_.Sub("backup"), secret), ElementsAre());
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("scratch")));

  // The latest backup is the rewritten latest one.
  ASSERT_THAT(Store::Restore(dir_.Sub("backup"), dir_.Sub("restored")), IsOk());
  auto restored = Store::Open(dir_.Sub("restored"), Families({"records", "index"}));
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(*(*restored)->Get("records", "keep"), "kept-value");
  EXPECT_EQ(*(*restored)->Get("records", "later"), "later-value");
  EXPECT_EQ(*(*restored)->Get("index", "gone"), "x");

  // A scratch dir left by an interrupted run is refused, nothing changed.
  ASSERT_EQ(::mkdir(dir_.Sub("scratch").c_str(), 0700), 0);
  EXPECT_THAT(Store::RewriteBackups(dir_.Sub("backup"), dir_.Sub("scratch"), Families({"records"}),
                                    {}, [](Store&) { return absl::OkStatus(); }),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("exists")));
  ASSERT_EQ(::rmdir(dir_.Sub("scratch").c_str()), 0);

  // A damaged backup is refused before anything changes.
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.Sub("backup"))) {
    if (e.path().extension() == ".sst") {
      std::filesystem::remove(e.path());
      break;
    }
  }
  int calls = 0;
  EXPECT_THAT(
      Store::RewriteBackups(dir_.Sub("backup"), dir_.Sub("scratch"), Families({"records"}), {},
                            [&](Store&) {
                              ++calls;
                              return absl::OkStatus();
                            }),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("is damaged")));
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("scratch")));
}

TEST_F(StoreTest, FlushWritesSstFiles) {
  ASSERT_THAT(store_->Put("records", "k", "flushed-value"), IsOk());
  ASSERT_THAT(store_->Flush(), IsOk());
  bool has_sst = false;
  for (const auto& name : testing::FileNames(store_->path())) {
    if (name.size() > 4 && name.substr(name.size() - 4) == ".sst") has_sst = true;
  }
  EXPECT_TRUE(has_sst);
}

}  // namespace
}  // namespace budstikke::storage
