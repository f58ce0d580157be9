#include "services/server/backup_commands.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "storage/backup_purge.h"
#include "storage/store.h"

namespace budstikke::server {
namespace {

using storage::KeyVersionRef;
using storage::Store;

int Fail(std::string_view command, const absl::Status& status) {
  std::cerr << "budstikke-server: " << command << ": " << status.message() << std::endl;
  return 1;
}

// "1 backup (id 3, made 2026-12-07T12:00:00Z), 14 files, 52731 bytes"
std::string Describe(const std::vector<Store::BackupSummary>& backups) {
  uint64_t files = 0, bytes = 0;
  for (const Store::BackupSummary& b : backups) {
    files += b.files;
    bytes += b.size_bytes;
  }
  const Store::BackupSummary& latest = backups.back();
  return absl::StrCat(
      backups.size(), backups.size() == 1 ? " backup" : " backups", " (latest id ", latest.id,
      ", made ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(latest.unix_seconds),
                       absl::UTCTimeZone()),
      "), ", files, " files, ", bytes, " bytes");
}

std::string Versions(const std::vector<KeyVersionRef>& versions) {
  return absl::StrJoin(versions, ", ", [](std::string* out, const KeyVersionRef& v) {
    absl::StrAppend(out, v.agency, " v", v.version);
  });
}

}  // namespace

int RunRestore(const ServerConfig& config) {
  std::error_code ec;
  if (std::filesystem::exists(config.data_dir, ec) &&
      !std::filesystem::is_empty(config.data_dir, ec)) {
    std::cerr << "budstikke-server: restore refuses to overwrite " << config.data_dir
              << ": it is not empty; restore into a new directory" << std::endl;
    return 1;
  }
  absl::Status restored = Store::Restore(config.backup_dir, config.data_dir);
  if (!restored.ok()) {
    std::cerr << "budstikke-server: restore failed: " << restored.message() << std::endl;
    return 1;
  }
  std::printf("restored %s into %s\n", config.backup_dir.c_str(), config.data_dir.c_str());
  return 0;
}

int RunVerifyBackup(const ServerConfig& config) {
  absl::StatusOr<std::vector<Store::BackupSummary>> backups =
      Store::VerifyBackups(config.backup_dir);
  if (!backups.ok()) return Fail("verify-backup", backups.status());
  std::printf("verified %s: %s\n", config.backup_dir.c_str(), Describe(*backups).c_str());
  return 0;
}

int RunPurgeShreddedKeys(const ServerConfig& config) {
  absl::StatusOr<std::vector<KeyVersionRef>> shredded =
      storage::ShreddedKeyVersions(config.data_dir, config.purge_agency);
  if (!shredded.ok()) return Fail("purge-shredded-keys", shredded.status());
  if (shredded->empty()) {
    std::printf("no key version is shredded in %s%s: nothing to purge\n", config.data_dir.c_str(),
                config.purge_agency.empty()
                    ? ""
                    : absl::StrCat(" for agency ", config.purge_agency).c_str());
  }
  int rc = 0;
  for (const std::string& dir : config.purge_backup_dirs) {
    absl::StatusOr<storage::PurgeResult> result =
        storage::PurgeKeyVersionsFromBackups(dir, *shredded);
    if (!result.ok()) {
      rc = Fail(
          "purge-shredded-keys",
          absl::Status(result.status().code(), absl::StrCat(dir, ": ", result.status().message())));
      continue;
    }
    const std::string removed =
        result->purged.empty()
            ? std::string("held no wrapped key of a shredded version")
            : absl::StrCat("removed the wrapped keys of ", Versions(result->purged));
    std::printf("purged %s: %s; now %s, verified\n", dir.c_str(), removed.c_str(),
                Describe(result->backups).c_str());
  }
  return rc;
}

}  // namespace budstikke::server
