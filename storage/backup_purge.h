// Purge of shredded agency keys from backups.
//
// Shredding a key version (Keyring::Shred) removes its wrapped key from the
// live data dir only; every backup made before keeps it, and a restore of
// such a backup reads the records under that version again. The operator
// names the backups to clean: for each, every backup in the directory is
// rewritten (Store::RewriteBackups) with the named versions' wrapped keys
// replaced by the shredded marker and the "keys" column family compacted, so
// no file of the new backups holds the wrapped bytes; the old backups and
// the files only they used are deleted, and the new ones verified. Records
// under a purged version then read as shredded (FAILED_PRECONDITION, lists
// skip them); other versions and agencies read as before.
//
// Neither function needs the master key. Not thread-safe for one backup dir
// (one purge at a time; no backup may be written into it meanwhile).
#ifndef BUDSTIKKE_STORAGE_BACKUP_PURGE_H_
#define BUDSTIKKE_STORAGE_BACKUP_PURGE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/keyring.h"
#include "storage/store.h"

namespace budstikke::storage {

// The shredded key versions recorded in the data dir `live_data_dir`, opened
// read-only (the server may keep running): every agency's, or only
// `agency`'s unless it is empty. NOT_FOUND if the data dir does not exist;
// INVALID_ARGUMENT for a malformed agency id.
absl::StatusOr<std::vector<KeyVersionRef>> ShreddedKeyVersions(const std::string& live_data_dir,
                                                               std::string_view agency);

struct PurgeResult {
  // The versions whose wrapped key some backup held (and holds no more).
  std::vector<KeyVersionRef> purged;
  // The backups now in the directory (verified), oldest first.
  std::vector<Store::BackupSummary> backups;
};

// Removes the wrapped keys of `versions` from every backup in `backup_dir`.
// Scratch space: the directory `<backup_dir>.purge-scratch` beside it (must
// not exist; removed at the end; it holds restored data while the purge
// runs). With no versions, only verifies. Errors: those of
// Store::RewriteBackups.
absl::StatusOr<PurgeResult> PurgeKeyVersionsFromBackups(const std::string& backup_dir,
                                                        const std::vector<KeyVersionRef>& versions);

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_BACKUP_PURGE_H_
