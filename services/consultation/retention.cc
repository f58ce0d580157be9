// The retention job: closed consultations are deleted once their retention
// period has passed.
#include "services/consultation/consultation.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "services/common/audit_event.h"
#include "services/common/errors.h"
#include "services/common/idempotency.h"
#include "services/common/paging.h"
#include "services/common/policy/rules.h"
#include "services/common/record_codec.h"
#include "services/common/time_util.h"
#include "services/consultation/internal/records.h"
#include "storage/status_macros.h"

namespace budstikke::consultation {

using namespace consultation_internal;  // NOLINT(google-build-using-namespace)
absl::StatusOr<int> Consultations::RunRetentionOnce() {
  absl::MutexLock run_lock(&retention_mu_);
  const absl::Time now = d_.clock->Now();
  std::vector<std::pair<std::string, std::string>> due;  // (x key, id)
  {
    auto it = d_.store->Scan(kColumnFamily, "x/");
    for (; it->Valid(); it->Next()) {
      std::string_view key = it->key();
      if (key.size() < 2 + 16 + 1) continue;
      uint64_t secs = std::stoull(std::string(key.substr(2, 16)), nullptr, 16);
      if (absl::FromUnixSeconds(static_cast<int64_t>(secs)) > now) break;
      due.emplace_back(std::string(key), std::string(key.substr(2 + 16 + 1)));
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  int deleted = 0;
  const Caller job = RetentionCaller();
  for (const auto& [xkey, id] : due) {
    absl::MutexLock lock(&StripeFor(id));
    storage::WriteBatch batch;
    batch.Delete(kColumnFamily, xkey);
    auto meta = LoadMeta(id);
    if (meta.ok()) {
      if (meta->status() != v1::CONSULTATION_STATUS_CLOSED ||
          common::FromProtoTime(meta->delete_after()) > now) {
        continue;
      }
      batch.Delete(kColumnFamily, MetaKey(id));
      batch.Delete(kColumnFamily, ContentKey(id));
      batch.Delete(kColumnFamily, IndexKey('s', meta->sender_agency(), *meta));
      batch.Delete(kColumnFamily, IndexKey('r', meta->recipient_agency(), *meta));
      const std::string kprefix = absl::StrCat("k/", id, "/");
      auto kit = d_.store->Scan(kColumnFamily, kprefix);
      for (; kit->Valid(); kit->Next()) {
        batch.Delete(kColumnFamily, kit->key());
        batch.Delete(kColumnFamily, kit->key().substr(kprefix.size()));
      }
      BUDSTIKKE_RETURN_IF_ERROR(kit->status());
      BUDSTIKKE_RETURN_IF_ERROR(d_.audit->Add(&batch, job, Event("consultation.delete", id, "")));
      ++deleted;
    } else if (!absl::IsNotFound(meta.status())) {
      return meta.status();
    }
    BUDSTIKKE_RETURN_IF_ERROR(d_.store->Write(std::move(batch)));
  }
  return deleted;
}

void Consultations::StartRetentionJob(absl::Duration interval) {
  retention_job_.Start(interval, [this] { (void)RunRetentionOnce(); });  // retried next round
}

void Consultations::StopRetentionJob() { retention_job_.Stop(); }

}  // namespace budstikke::consultation
