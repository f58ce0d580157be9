#include "storage/backup_purge.h"

#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace budstikke::storage {

absl::StatusOr<std::vector<KeyVersionRef>> ShreddedKeyVersions(const std::string& live_data_dir,
                                                               std::string_view agency) {
  struct stat st;
  if (::stat(live_data_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("data dir ", live_data_dir, " does not exist"));
  }
  Store::Options options;
  options.read_only = true;
  // A running server may delete a file (compaction) while it is being
  // opened: RocksDB then reports an I/O error, and a second try sees the new
  // set of files.
  absl::StatusOr<std::unique_ptr<Store>> opened;
  for (int attempt = 0; attempt < 3; ++attempt) {
    opened = Store::Open(live_data_dir, options);
    if (!absl::IsUnavailable(opened.status())) break;
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, std::move(opened));
  const std::vector<std::string> cfs = store->ColumnFamilies();
  if (!std::binary_search(cfs.begin(), cfs.end(), std::string(Keyring::kKeysColumnFamily))) {
    return std::vector<KeyVersionRef>{};  // a data dir without keys
  }
  return Keyring::ShreddedVersions(*store, agency);
}

absl::StatusOr<PurgeResult> PurgeKeyVersionsFromBackups(
    const std::string& backup_dir, const std::vector<KeyVersionRef>& versions) {
  PurgeResult result;
  if (versions.empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(result.backups, Store::VerifyBackups(backup_dir));
    return result;
  }
  std::string dir = backup_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  Store::Options options;
  options.column_families = Keyring::ColumnFamilies();
  options.sync_writes = false;  // the new backup is what must be durable
  auto edit = [&](Store& restored) -> absl::Status {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<KeyVersionRef> replaced,
                               Keyring::MarkShredded(&restored, versions));
    for (KeyVersionRef& v : replaced) {
      if (std::find(result.purged.begin(), result.purged.end(), v) == result.purged.end()) {
        result.purged.push_back(std::move(v));
      }
    }
    return absl::OkStatus();
  };
  BUDSTIKKE_ASSIGN_OR_RETURN(result.backups,
                             Store::RewriteBackups(dir, dir + ".purge-scratch", options,
                                                   {Keyring::kKeysColumnFamily}, edit));
  return result;
}

}  // namespace budstikke::storage
