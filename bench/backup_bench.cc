// Backup benchmark (issue 20, point 7): fills a Store with N encrypted
// records (Envelope, 2 reader agencies, ~1 KiB plaintext each, in batches of
// 1,000, written without fsync as with --no-sync-writes), then times each
// step of the operator's once: an online backup (Store::Backup, RocksDB
// BackupEngine, flush first), its verification with checksums
// (Store::VerifyBackups), a restore into a new directory (Store::Restore)
// with a sample of the restored records read back, and the purge of one
// shredded key version from the backup (storage/backup_purge.h, which
// rewrites it). Prints one line per step with the wall-clock time and the
// bytes involved. Not a Google Benchmark: the data set is too large to
// repeat each step.
//
//   backup_bench [--records N] [--dir DIR]     (default 1000000, a temp dir)
//
// The directory (data, backup and restore, about 3 x 1.2 KiB x N) is
// removed at the end.
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "storage/backup_purge.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/secret_bytes.h"
#include "storage/store.h"

namespace {

using budstikke::storage::Envelope;
using budstikke::storage::Keyring;
using budstikke::storage::SecretBytes;
using budstikke::storage::Store;
using budstikke::storage::WriteBatch;

constexpr char kCf[] = "records";
constexpr size_t kPlaintextSize = 1024;
constexpr int kBatch = 1000;
const std::vector<std::string> kReaders = {"agency-a", "agency-b"};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

uint64_t TreeBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

std::string Key(uint64_t i) { return absl::StrFormat("r/%012u", i); }

[[noreturn]] void Die(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "backup_bench: %s: %s\n", what, std::string(s.message()).c_str());
  std::exit(1);
}

Store::Options StoreOptions() {
  Store::Options o;
  o.column_families = Keyring::ColumnFamilies();
  o.column_families.push_back(kCf);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 1000000;
  std::string root;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--records") == 0) records = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--dir") == 0) root = argv[i + 1];
  }
  if (root.empty()) {
    char tmpl[] = "/tmp/budstikke-backup-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    root = tmpl;
  }
  const std::string data = root + "/data", backup = root + "/backup", restored = root + "/restored";
  auto master = SecretBytes::Random(32);
  if (!master.ok()) Die("master key", master.status());
  std::vector<std::string> samples;
  {
    auto store = Store::Open(data, StoreOptions());
    if (!store.ok()) Die("open", store.status());
    auto keyring = Keyring::Create(*master, store->get());
    if (!keyring.ok()) Die("keyring", keyring.status());
    for (const auto& a : kReaders) {
      if (auto v = (*keyring)->EnsureAgencyKey(a); !v.ok()) Die("agency key", v.status());
    }
    auto envelope = Envelope::Create(keyring->get());
    if (!envelope.ok()) Die("envelope", envelope.status());
    std::string text(kPlaintextSize, '\0');
    auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < records;) {
      WriteBatch batch;
      for (int j = 0; j < kBatch && i < records; ++j, ++i) {
        for (size_t k = 0; k < text.size(); ++k)
          text[k] = static_cast<char>('a' + (i + k * 7) % 26);
        const std::string key = Key(i);
        auto sealed = (*envelope)->Seal(kCf, key, text, kReaders);
        if (!sealed.ok()) Die("seal", sealed.status());
        batch.Put(kCf, key, *sealed);
      }
      if (auto s = (*store)->Write(std::move(batch)); !s.ok()) Die("write", s);
    }
    if (auto s = (*store)->Flush(); !s.ok()) Die("flush", s);
    const double fill = Seconds(start);
    std::printf(
        "fill     %9.1f s  %llu records of %zu B plaintext, %.0f records/s, data dir %.1f MiB\n",
        fill, static_cast<unsigned long long>(records), kPlaintextSize, records / fill,
        TreeBytes(data) / 1048576.0);
    std::fflush(stdout);

    start = std::chrono::steady_clock::now();
    if (auto s = (*store)->Backup(backup); !s.ok()) Die("backup", s);
    std::printf("backup   %9.1f s  backup dir %.1f MiB (online: the store stays open)\n",
                Seconds(start), TreeBytes(backup) / 1048576.0);
    std::fflush(stdout);
    envelope->reset();
    keyring->reset();
  }

  auto start = std::chrono::steady_clock::now();
  auto verified = Store::VerifyBackups(backup);
  if (!verified.ok()) Die("verify", verified.status());
  std::printf("verify   %9.1f s  %u files, %.1f MiB checked (crc32c)\n", Seconds(start),
              verified->back().files, verified->back().size_bytes / 1048576.0);
  std::fflush(stdout);

  start = std::chrono::steady_clock::now();
  if (auto s = Store::Restore(backup, restored); !s.ok()) Die("restore", s);
  const double restore = Seconds(start);
  start = std::chrono::steady_clock::now();
  auto store = Store::Open(restored, StoreOptions());
  if (!store.ok()) Die("open restored", store.status());
  const double open = Seconds(start);
  std::printf("restore  %9.1f s  restored dir %.1f MiB; first open %.2f s\n", restore,
              TreeBytes(restored) / 1048576.0, open);
  auto keyring = Keyring::Create(*master, store->get());
  if (!keyring.ok()) Die("keyring", keyring.status());
  auto envelope = Envelope::Create(keyring->get());
  if (!envelope.ok()) Die("envelope", envelope.status());
  int read = 0;
  for (uint64_t i = 0; i < records; i += records / 100 + 1, ++read) {
    auto value = (*store)->Get(kCf, Key(i));
    if (!value.ok()) Die("get restored", value.status());
    auto text = (*envelope)->Open(kCf, Key(i), *value, kReaders[i % 2]);
    if (!text.ok() || text->size() != kPlaintextSize) Die("open restored record", text.status());
  }
  std::printf("check    %d sampled records of the restore decrypt\n", read);
  std::fflush(stdout);
  envelope->reset();
  keyring->reset();
  store->reset();

  // The purge of a shredded version rewrites the whole backup (restore,
  // compaction of the keys, new backup, verification).
  start = std::chrono::steady_clock::now();
  auto purged = budstikke::storage::PurgeKeyVersionsFromBackups(backup, {{kReaders[0], 1}});
  if (!purged.ok()) Die("purge", purged.status());
  std::printf("purge    %9.1f s  one shredded version removed, backup rewritten: %.1f MiB\n",
              Seconds(start), purged->backups.back().size_bytes / 1048576.0);
  std::filesystem::remove_all(root);
  return 0;
}
