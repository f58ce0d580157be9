// PowerLossFileSystem: what it keeps and drops (on its own and under a real
// Store), so the power-loss tests of tests/power_loss_test.cc can fail.
#include "storage/testing/power_loss_fs.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/file_system.h"
#include "storage/status_matchers.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace budstikke::storage {
namespace {

using ::budstikke::testing::IsOk;
using ::testing::HasSubstr;
using testing::PowerLossFileSystem;
using testing::ReadWholeFile;
using testing::TempDir;

rocksdb::IOOptions Io() { return rocksdb::IOOptions(); }

// Creates `path` through the file system with `synced` synced and then
// `unsynced` appended.
void WriteFile(rocksdb::FileSystem* fs, const std::string& path, const std::string& synced,
               const std::string& unsynced) {
  std::unique_ptr<rocksdb::FSWritableFile> f;
  ASSERT_TRUE(fs->NewWritableFile(path, rocksdb::FileOptions(), &f, nullptr).ok());
  ASSERT_TRUE(f->Append(synced, Io(), nullptr).ok());
  ASSERT_TRUE(f->Sync(Io(), nullptr).ok());
  ASSERT_TRUE(f->Append(unsynced, Io(), nullptr).ok());
  ASSERT_TRUE(f->Close(Io(), nullptr).ok());
}

void SyncDir(rocksdb::FileSystem* fs, const std::string& dir) {
  std::unique_ptr<rocksdb::FSDirectory> d;
  ASSERT_TRUE(fs->NewDirectory(dir, Io(), &d, nullptr).ok());
  ASSERT_TRUE(d->Fsync(Io(), nullptr).ok());
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

TEST(PowerLossFileSystemTest, KeepsSyncedDataOfFilesWhoseDirectoryWasSynced) {
  TempDir dir;
  PowerLossFileSystem plfs;
  auto fs = plfs.file_system();
  WriteFile(fs.get(), dir.Sub("kept"), "synced|", "appended after the sync");
  SyncDir(fs.get(), dir.path());
  WriteFile(fs.get(), dir.Sub("new"), "synced but its name is not", "");
  EXPECT_EQ(ReadWholeFile(dir.Sub("kept")), "synced|appended after the sync");

  ASSERT_THAT(plfs.SimulatePowerLoss(), IsOk());
  EXPECT_EQ(ReadWholeFile(dir.Sub("kept")), "synced|");
  EXPECT_FALSE(Exists(dir.Sub("new")));
  EXPECT_EQ(plfs.last_loss().files_truncated, 1);
  EXPECT_EQ(plfs.last_loss().bytes_dropped, sizeof("appended after the sync") - 1);
  EXPECT_EQ(plfs.last_loss().files_removed, 1);
}

TEST(PowerLossFileSystemTest, UndoesARenameNotYetMadeDurable) {
  TempDir dir;
  PowerLossFileSystem plfs;
  auto fs = plfs.file_system();
  WriteFile(fs.get(), dir.Sub("CURRENT"), "MANIFEST-000001\n", "");
  SyncDir(fs.get(), dir.path());
  WriteFile(fs.get(), dir.Sub("000009.dbtmp"), "MANIFEST-000009\n", "");
  ASSERT_TRUE(fs->RenameFile(dir.Sub("000009.dbtmp"), dir.Sub("CURRENT"), Io(), nullptr).ok());
  EXPECT_EQ(ReadWholeFile(dir.Sub("CURRENT")), "MANIFEST-000009\n");

  ASSERT_THAT(plfs.SimulatePowerLoss(), IsOk());
  EXPECT_EQ(ReadWholeFile(dir.Sub("CURRENT")), "MANIFEST-000001\n");
  EXPECT_FALSE(Exists(dir.Sub("000009.dbtmp")));
  EXPECT_EQ(plfs.last_loss().renames_undone, 1);

  // The same rename followed by a directory Fsync is durable.
  WriteFile(fs.get(), dir.Sub("000010.dbtmp"), "MANIFEST-000010\n", "");
  ASSERT_TRUE(fs->RenameFile(dir.Sub("000010.dbtmp"), dir.Sub("CURRENT"), Io(), nullptr).ok());
  SyncDir(fs.get(), dir.path());
  ASSERT_THAT(plfs.SimulatePowerLoss(), IsOk());
  EXPECT_EQ(ReadWholeFile(dir.Sub("CURRENT")), "MANIFEST-000010\n");
  EXPECT_EQ(plfs.last_loss().renames_undone, 0);
}

TEST(PowerLossFileSystemTest, NothingBecomesDurableAfterThePowerIsCut) {
  TempDir dir;
  PowerLossFileSystem plfs;
  auto fs = plfs.file_system();
  WriteFile(fs.get(), dir.Sub("log"), "before|", "");
  SyncDir(fs.get(), dir.path());
  std::unique_ptr<rocksdb::FSWritableFile> f;
  ASSERT_TRUE(fs->ReopenWritableFile(dir.Sub("log"), rocksdb::FileOptions(), &f, nullptr).ok());
  plfs.CutPower();
  EXPECT_FALSE(plfs.powered());
  // Every call still succeeds, as on a machine whose power is going.
  ASSERT_TRUE(f->Append("after", Io(), nullptr).ok());
  ASSERT_TRUE(f->Sync(Io(), nullptr).ok());
  ASSERT_TRUE(f->Close(Io(), nullptr).ok());
  ASSERT_TRUE(fs->DeleteFile(dir.Sub("log"), Io(), nullptr).ok());
  WriteFile(fs.get(), dir.Sub("late"), "synced after the cut", "");
  SyncDir(fs.get(), dir.path());

  ASSERT_THAT(plfs.SimulatePowerLoss(), IsOk());
  EXPECT_TRUE(plfs.powered());
  EXPECT_EQ(ReadWholeFile(dir.Sub("log")), "before|");
  EXPECT_FALSE(Exists(dir.Sub("late")));
}

Store::Options StoreOptions(const PowerLossFileSystem& plfs, bool sync_writes) {
  Store::Options o;
  o.column_families = {"records"};
  o.sync_writes = sync_writes;
  o.file_system = plfs.file_system();
  return o;
}

// Keys k<from>..k<to-1> that are (not) in the store.
int CountPresent(const Store& store, int from, int to) {
  int n = 0;
  for (int i = from; i < to; ++i) n += store.Get("records", absl::StrCat("k", i)).ok() ? 1 : 0;
  return n;
}

TEST(PowerLossStoreTest, WithoutSyncWritesAcknowledgedWritesAreLostUntilTheWalIsSynced) {
  TempDir dir;
  PowerLossFileSystem plfs;
  {
    auto store = Store::Open(dir.Sub("db"), StoreOptions(plfs, /*sync_writes=*/false));
    ASSERT_THAT(store, IsOk());
    for (int i = 0; i < 100; ++i) {
      ASSERT_THAT((*store)->Put("records", absl::StrCat("k", i), "v"), IsOk());
      if (i == 49) {
        ASSERT_THAT((*store)->SyncWal(), IsOk());
      }
    }
    plfs.CutPower();
  }  // destroyed with the power cut: its close reaches no disk
  ASSERT_THAT(plfs.SimulatePowerLoss(), IsOk());
  EXPECT_GT(plfs.last_loss().bytes_dropped, 0u);
  auto store = Store::Open(dir.Sub("db"), StoreOptions(plfs, false));
  ASSERT_THAT(store, IsOk());
  EXPECT_EQ(CountPresent(**store, 0, 50), 50);
  EXPECT_EQ(CountPresent(**store, 50, 100), 0);
}

TEST(PowerLossStoreTest, SyncWritesSurviveAcrossFlushesAndReopens) {
  TempDir dir;
  PowerLossFileSystem plfs;
  int written = 0;
  for (int round = 0; round < 5; ++round) {
    auto store = Store::Open(dir.Sub("db"), StoreOptions(plfs, /*sync_writes=*/true));
    ASSERT_THAT(store, IsOk()) << "round " << round;
    EXPECT_EQ(CountPresent(**store, 0, written), written) << "round " << round;
    for (int i = 0; i < 200; ++i, ++written) {
      ASSERT_THAT((*store)->Put("records", absl::StrCat("k", written), std::string(100, 'v')),
                  IsOk());
      if (i == 100) {
        ASSERT_THAT((*store)->Flush(), IsOk());  // SSTs and the manifest too
      }
    }
    plfs.CutPower();
    store->reset();
    ASSERT_THAT(plfs.SimulatePowerLoss(), IsOk());
  }
  auto store = Store::Open(dir.Sub("db"), StoreOptions(plfs, true));
  ASSERT_THAT(store, IsOk());
  EXPECT_EQ(CountPresent(**store, 0, written), written);
}

TEST(PowerLossStoreTest, ConcurrentSyncWritesAcknowledgedBeforeTheCutAllSurvive) {
  TempDir dir;
  PowerLossFileSystem plfs;
  constexpr int kThreads = 4;
  std::vector<std::vector<int>> acked(kThreads);
  {
    auto store = Store::Open(dir.Sub("db"), StoreOptions(plfs, /*sync_writes=*/true));
    ASSERT_THAT(store, IsOk());
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (plfs.powered()) {
          const int k = next.fetch_add(1);
          if (!(*store)->Put("records", absl::StrCat("k", k), "v").ok()) continue;
          if (plfs.powered()) acked[t].push_back(k);  // the reply left before the cut
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    plfs.CutPower();
    for (auto& th : threads) th.join();
  }
  ASSERT_THAT(plfs.SimulatePowerLoss(), IsOk());
  auto store = Store::Open(dir.Sub("db"), StoreOptions(plfs, true));
  ASSERT_THAT(store, IsOk());
  int checked = 0, lost = 0;
  for (const auto& keys : acked) {
    for (int k : keys) {
      ++checked;
      lost += (*store)->Get("records", absl::StrCat("k", k)).ok() ? 0 : 1;
    }
  }
  EXPECT_GT(checked, 0);
  EXPECT_EQ(lost, 0) << "of " << checked;
}

TEST(PowerLossStoreTest, DeferredWritesShareOneSyncAndSettleOnlyWhenDurable) {
  TempDir dir;
  PowerLossFileSystem plfs;
  constexpr int kWriters = 8;
  std::atomic<int> settled_true{0};
  {
    auto store = Store::Open(dir.Sub("db"), StoreOptions(plfs, /*sync_writes=*/true));
    ASSERT_THAT(store, IsOk());
    auto write_and_sync = [&](const std::string& key) {
      WriteBatch batch;
      batch.Put("records", key, "v");
      batch.OnSettled([&](bool written) { settled_true += written ? 1 : 0; });
      absl::Status s = (*store)->Write(std::move(batch), Store::Sync::kDeferred);
      return s.ok() ? (*store)->SyncWal() : s;
    };
    const uint64_t syncs_before = plfs.file_syncs();
    absl::Status first_status;
    std::vector<absl::Status> statuses(kWriters);
    testing::SyncHold hold(&plfs);
    hold.Spawn([&] { first_status = write_and_sync("first"); });
    ASSERT_TRUE(hold.AwaitHeld(1));
    for (int i = 0; i < kWriters; ++i) {
      hold.Spawn([&, i] { statuses[i] = write_and_sync(absl::StrCat("k", i)); });
    }
    // Written while the first fsync is in flight, not acknowledged, not settled.
    ASSERT_TRUE(testing::WaitUntil([&] { return CountPresent(**store, 0, kWriters) == kWriters; }));
    EXPECT_EQ(plfs.syncs_held(), 1);
    EXPECT_EQ(settled_true.load(), 0);
    hold.Release();
    EXPECT_THAT(first_status, IsOk());
    for (const absl::Status& s : statuses) EXPECT_THAT(s, IsOk());
    EXPECT_EQ(settled_true.load(), kWriters + 1);
    // The first write's fsync, then one shared by the eight that waited.
    EXPECT_EQ(plfs.file_syncs() - syncs_before, 2u);
    plfs.CutPower();
  }
  ASSERT_THAT(plfs.SimulatePowerLoss(), IsOk());
  auto store = Store::Open(dir.Sub("db"), StoreOptions(plfs, true));
  ASSERT_THAT(store, IsOk());
  EXPECT_EQ(CountPresent(**store, 0, kWriters), kWriters);
  EXPECT_THAT((*store)->Get("records", "first"), IsOk());
}

TEST(PowerLossStoreTest, ADeferredWriteInAStoreWithoutSyncWritesSettlesAtOnce) {
  TempDir dir;
  PowerLossFileSystem plfs;
  auto store = Store::Open(dir.Sub("db"), StoreOptions(plfs, /*sync_writes=*/false));
  ASSERT_THAT(store, IsOk());
  int settled = 0;
  WriteBatch batch;
  batch.Put("records", "k", "v");
  batch.OnSettled([&](bool written) { settled += written ? 1 : 100; });
  ASSERT_THAT((*store)->Write(std::move(batch), Store::Sync::kDeferred), IsOk());
  EXPECT_EQ(settled, 1);
  EXPECT_FALSE((*store)->sync_writes());
}

TEST(PowerLossStoreTest, RecreatingAnExistingFileAfterTheCutIsRefused) {
  TempDir dir;
  PowerLossFileSystem plfs;
  auto fs = plfs.file_system();
  WriteFile(fs.get(), dir.Sub("f"), "durable", "");
  SyncDir(fs.get(), dir.path());
  plfs.CutPower();
  std::unique_ptr<rocksdb::FSWritableFile> f;
  rocksdb::IOStatus s = fs->NewWritableFile(dir.Sub("f"), rocksdb::FileOptions(), &f, nullptr);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_THAT(s.ToString(), HasSubstr("power is cut"));
  ASSERT_THAT(plfs.SimulatePowerLoss(), IsOk());
  EXPECT_EQ(ReadWholeFile(dir.Sub("f")), "durable");
}

}  // namespace
}  // namespace budstikke::storage
