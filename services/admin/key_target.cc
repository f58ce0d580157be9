#include "services/admin/key_target.h"

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/time_util.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/status_macros.h"

namespace budstikke::admin {
namespace {

std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

uint64_t SizeOfTree(const std::filesystem::path& dir) {
  std::error_code ec;
  uint64_t size = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) size += entry.file_size(ec);
  }
  return size;
}

}  // namespace

absl::Status LocalKeyTarget::CheckUnused(absl::string_view agency, uint32_t version) {
  uint64_t protected_records = 0;
  for (const std::string& cf : DataColumnFamilies(*store_)) {
    std::unique_ptr<storage::Iterator> it = store_->Scan(cf, "");
    for (; it->Valid(); it->Next()) {
      for (const storage::Envelope::Reader& r : SealedReaders(it->value())) {
        if (r.agency == Sv(agency) && r.key_version == version) {
          ++protected_records;
          break;
        }
      }
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  if (protected_records == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("key version ", version, " of '", agency, "' still protects ", protected_records,
                   protected_records == 1 ? " record" : " records", " in the ", name_, " service"));
}

absl::StatusOr<v1::AgencyKeyStatus> LocalKeyTarget::Status(absl::string_view agency) {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<storage::KeyVersionInfo> versions,
                             keyring_->ListVersions(Sv(agency)));
  v1::AgencyKeyStatus status;
  status.set_agency(std::string(agency));
  const uint32_t current = versions.empty() ? 0 : versions.back().version;
  status.set_current_version(current);
  for (const storage::KeyVersionInfo& v : versions) {
    v1::AgencyKeyVersion* out = status.add_versions();
    out->set_version(v.version);
    out->set_state(v.shredded             ? v1::KEY_VERSION_STATE_SHREDDED
                   : v.version == current ? v1::KEY_VERSION_STATE_CURRENT
                                          : v1::KEY_VERSION_STATE_RETIRED);
  }
  return status;
}

absl::StatusOr<v1::AgencyKeyStatus> LocalKeyTarget::Rotate(absl::string_view agency,
                                                           absl::string_view request_key) {
  absl::MutexLock lock(&mu_);
  const std::string key = absl::StrCat("rotate/", request_key);
  absl::StatusOr<std::string> seen = store_->Get(kAdminColumnFamily, key);
  if (seen.ok()) return Status(agency);
  if (!absl::IsNotFound(seen.status())) return seen.status();
  BUDSTIKKE_ASSIGN_OR_RETURN(uint32_t version, keyring_->Rotate(Sv(agency)));
  BUDSTIKKE_RETURN_IF_ERROR(store_->Put(kAdminColumnFamily, key, absl::StrCat(version)));
  // The rotation is done; a rewrap that fails to start is reported by
  // GetRewrapProgress (IDLE) and starts with the next rotation.
  BUDSTIKKE_RETURN_IF_ERROR(rewrapper_.Start(agency));
  return Status(agency);
}

LocalKeyTarget::LocalKeyTarget(std::string name, storage::Store* store, storage::Keyring* keyring,
                               const common::Clock* clock, Rewrapper::Options rewrap)
    : name_(std::move(name)),
      store_(store),
      keyring_(keyring),
      clock_(clock),
      rewrapper_(store, keyring, clock, rewrap) {}

absl::StatusOr<v1::RewrapProgress> LocalKeyTarget::RewrapProgress(absl::string_view agency) {
  return rewrapper_.Progress(agency);
}

absl::StatusOr<v1::AgencyKeyStatus> LocalKeyTarget::Shred(absl::string_view agency,
                                                          uint32_t version) {
  BUDSTIKKE_RETURN_IF_ERROR(keyring_->Shred(Sv(agency), version));
  return Status(agency);
}

absl::StatusOr<v1::Backup> LocalKeyTarget::Backup(absl::string_view dest_dir,
                                                  absl::string_view request_id) {
  absl::MutexLock lock(&mu_);
  const std::string key = absl::StrCat("backup/", request_id);
  absl::StatusOr<std::string> seen = store_->Get(kAdminColumnFamily, key);
  if (seen.ok()) {
    v1::Backup b;
    if (b.ParseFromString(*seen)) return b;
    return absl::DataLossError("stored backup record is corrupt");
  }
  if (!absl::IsNotFound(seen.status())) return seen.status();
  const std::filesystem::path dir{std::string(dest_dir)};
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat("dest_dir ", dest_dir, " is not empty; choose a new directory"));
  }
  BUDSTIKKE_RETURN_IF_ERROR(store_->Backup(dir.string()));
  v1::Backup backup;
  backup.set_id(std::string(request_id));
  backup.set_dest_dir(dir.string());
  *backup.mutable_create_time() = common::ToProtoTime(clock_->Now());
  backup.set_size_bytes(SizeOfTree(dir));
  BUDSTIKKE_RETURN_IF_ERROR(store_->Put(kAdminColumnFamily, key, backup.SerializeAsString()));
  return backup;
}

}  // namespace budstikke::admin
