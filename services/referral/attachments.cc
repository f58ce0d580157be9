// Attachments: upload (content sniffing, size and checksum), storage sealed
// for the uploading agency, and download through a referral's consent gate.
#include <openssl/evp.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/audit_event.h"
#include "services/common/idempotency.h"
#include "services/common/record_codec.h"
#include "services/common/time_util.h"
#include "services/referral/attachment_content.h"
#include "services/referral/internal/records.h"
#include "services/referral/referral.h"
#include "storage/status_macros.h"

namespace budstikke::referral {
namespace {

using common::Caller;
using common::Frame;
using referral_internal::AttachmentKey;
using referral_internal::ChunkCount;
using referral_internal::ChunkKey;
using referral_internal::ChunkPrefix;
using referral_internal::kAttachmentIdPrefix;
using referral_internal::kAttachmentNotFound;
using referral_internal::UnsentKey;
using referral_internal::UploadRequestKey;

constexpr char kUploadKind[] = "attachment.upload";

const char* const kAllowedTypes[] = {
    "application/pdf",
    "text/plain",
    "image/png",
    "image/jpeg",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
};

// An allowed action on an attachment before it belongs to a referral (no
// subject, no legal basis yet).
v1::AuditEvent AttachmentEvent(const char* action, const std::string& attachment_id,
                               const std::string& request_id) {
  v1::AuditEvent e = common::AllowedEvent(action, v1::RESOURCE_KIND_ATTACHMENT, attachment_id);
  e.set_request_id(request_id);
  return e;
}

// UTF-8 without NUL, fed in pieces (a sequence may span two).
class Utf8NoNul {
 public:
  void Feed(absl::string_view s) {
    for (const char ch : s) {
      if (!ok_) return;
      const unsigned char c = static_cast<unsigned char>(ch);
      if (c == 0) {
        ok_ = false;
        nul_ = true;
        return;
      }
      if (need_ > 0) {
        ok_ = (c & 0xC0) == 0x80;
        --need_;
        continue;
      }
      const int extra = c < 0x80         ? 0
                        : (c >> 5) == 6  ? 1
                        : (c >> 4) == 14 ? 2
                        : (c >> 3) == 30 ? 3
                                         : -1;
      ok_ = extra >= 0;
      need_ = std::max(extra, 0);
    }
  }
  bool ok_so_far() const { return ok_; }
  bool valid() const { return ok_ && need_ == 0; }
  // Why the text was refused: a NUL byte (not text at all) or bad UTF-8.
  absl::Status Error(absl::string_view content_type) const {
    if (nul_) {
      return absl::InvalidArgumentError(
          absl::StrCat("attachment content does not match content_type ", content_type));
    }
    return absl::InvalidArgumentError("text/plain attachment is not UTF-8 text");
  }

 private:
  bool ok_ = true;
  bool nul_ = false;
  int need_ = 0;  // continuation bytes still expected
};

struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

absl::Status ValidateMetadata(const v1::AttachmentMetadata& m, uint64_t max_bytes) {
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateRequestId(m.request_id(), "metadata.request_id"));
  if (m.filename().empty() || m.filename().size() > 255 ||
      m.filename().find_first_of(std::string("/\\\0", 3)) != std::string::npos ||
      m.filename() == "." || m.filename() == "..") {
    return absl::InvalidArgumentError("metadata.filename must be a base name of 1-255 bytes");
  }
  bool type_ok = false;
  for (const char* t : kAllowedTypes) type_ok |= m.content_type() == t;
  if (!type_ok) {
    return absl::InvalidArgumentError(
        "metadata.content_type must be application/pdf, text/plain, image/png, image/jpeg, "
        "DOCX or ODT");
  }
  if (m.kind() != v1::ATTACHMENT_KIND_ACTION_LOG && m.kind() != v1::ATTACHMENT_KIND_OTHER) {
    return absl::InvalidArgumentError("metadata.kind must be ACTION_LOG or OTHER");
  }
  if (m.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata.size: attachment too large (at most ", max_bytes, " bytes)"));
  }
  if (m.sha256().size() != 32)
    return absl::InvalidArgumentError("metadata.sha256 must be 32 bytes");
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckContentPrefix(absl::string_view type, absl::string_view p) {
  // Executables are refused whatever the declared type.
  if (absl::StartsWith(p, "MZ") || absl::StartsWith(p, "\177ELF") || absl::StartsWith(p, "#!") ||
      absl::StartsWith(p, "\xcf\xfa\xed\xfe") || absl::StartsWith(p, "\xfe\xed\xfa\xcf") ||
      absl::StartsWith(p, "\xca\xfe\xba\xbe")) {
    return absl::InvalidArgumentError("attachment content is an executable; not allowed");
  }
  bool ok = true;
  if (type == "application/pdf") {
    ok = absl::StartsWith(p, "%PDF-");
  } else if (type == "image/png") {
    ok = absl::StartsWith(p, absl::string_view("\x89PNG\r\n\x1a\n", 8));
  } else if (type == "image/jpeg") {
    ok = absl::StartsWith(p, "\xff\xd8\xff");
  } else if (type == "text/plain") {
    ok = p.find('\0') == absl::string_view::npos;
  } else if (absl::StartsWith(type, "application/vnd.")) {
    ok = absl::StartsWith(p, absl::string_view("PK\x03\x04", 4));
  } else {
    ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("attachment content does not match content_type ", type));
  }
  return absl::OkStatus();
}

absl::Status ReferralDesk::RecordAttachmentRead(const Caller& caller,
                                                const v1::AttachmentInfo& info,
                                                const std::string& request_id) {
  return deps_.audit->Record(caller, AttachmentEvent("attachment.read", info.id(), request_id));
}

absl::StatusOr<common::StreamSlots::Slot> ReferralDesk::ReserveUpload(const Caller& caller) {
  return upload_slots_.Acquire(caller);
}

struct AttachmentUpload::Staging {
  std::string id;
  std::unique_ptr<storage::AesGcmAead> content_key;
  std::string sealed_content_key;  // the value of ContentKeyRecord(id)
  std::string pending;             // received, not staged yet (< one chunk)
  std::string head;                // the first 16 bytes, for content sniffing
  uint64_t received = 0;
  size_t staged = 0;   // chunks written
  bool wrote = false;  // a staging write was attempted
  Utf8NoNul utf8;      // text/plain only
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> sha256{EVP_MD_CTX_new()};
};

AttachmentUpload::AttachmentUpload(ReferralDesk* desk, common::Caller caller,
                                   v1::AttachmentMetadata meta)
    : desk_(desk), caller_(std::move(caller)), meta_(std::move(meta)) {}

size_t AttachmentUpload::buffered_bytes() const {
  return staging_ == nullptr ? 0 : staging_->pending.size();
}

absl::StatusOr<std::unique_ptr<AttachmentUpload>> ReferralDesk::BeginUpload(
    const Caller& caller, const v1::AttachmentMetadata& m,
    std::optional<common::StreamSlots::Slot> reserved) {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateMetadata(m, options_.max_attachment_bytes));
  auto existing =
      deps_.store->Get(kAttachmentColumnFamily, UploadRequestKey(caller.agency(), m.request_id()));
  if (existing.ok()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(
        std::string id,
        common::ReplayedId(*existing, common::RequestFingerprint(kUploadKind, m), m.request_id()));
    BUDSTIKKE_ASSIGN_OR_RETURN(StoredAttachment a, LoadAttachment(id, caller.agency()));
    // A retry returns the stored attachment's info: a read, audited first.
    BUDSTIKKE_RETURN_IF_ERROR(RecordAttachmentRead(caller, a.info, m.request_id()));
    auto upload = std::unique_ptr<AttachmentUpload>(new AttachmentUpload(this, caller, m));
    upload->done_ = true;
    upload->first_ = a.info;
    return upload;
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  // The slots bound how many uploads run at once (in all, per agency, per
  // caller); each holds at most about two chunks in memory.
  if (!reserved) {
    BUDSTIKKE_ASSIGN_OR_RETURN(common::StreamSlots::Slot slot, ReserveUpload(caller));
    reserved.emplace(std::move(slot));
  }
  BUDSTIKKE_RETURN_IF_ERROR(deps_.keyring->EnsureAgencyKey(caller.agency()).status());
  auto staging = std::make_unique<AttachmentUpload::Staging>();
  staging->id = common::TimeOrderedId(kAttachmentIdPrefix, deps_.clock->Now());
  BUDSTIKKE_ASSIGN_OR_RETURN(
      attachment_content::NewContentKey content,
      attachment_content::Create(deps_.records->envelope(), kAttachmentColumnFamily, staging->id,
                                 {caller.agency()}));
  staging->content_key = std::move(content.aead);
  staging->sealed_content_key = std::move(content.sealed);
  if (staging->sha256 == nullptr ||
      EVP_DigestInit_ex(staging->sha256.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("cannot start SHA-256");
  }
  auto upload = std::unique_ptr<AttachmentUpload>(new AttachmentUpload(this, caller, m));
  upload->slot_.emplace(std::move(*reserved));
  upload->staging_ = std::move(staging);
  return upload;
}

AttachmentUpload::~AttachmentUpload() {
  if (!done_ && staging_ != nullptr && staging_->wrote) desk_->DiscardStaged(*this);
  ReleaseSlot();
}

void AttachmentUpload::ReleaseSlot() { slot_.reset(); }

absl::Status AttachmentUpload::AddChunk(absl::string_view chunk) {
  if (done_) return absl::OkStatus();
  const size_t max_chunk = desk_->options_.max_chunk_bytes;
  if (chunk.size() > max_chunk) {
    return absl::InvalidArgumentError("chunk too large (at most 1 MiB)");
  }
  Staging& st = *staging_;
  if (st.received + chunk.size() > meta_.size()) {
    return absl::InvalidArgumentError("more bytes than metadata.size");
  }
  st.received += chunk.size();
  if (EVP_DigestUpdate(st.sha256.get(), chunk.data(), chunk.size()) != 1) {
    return absl::InternalError("SHA-256 failed");
  }
  if (st.head.size() < 16) {
    const absl::string_view more = chunk.substr(0, 16 - st.head.size());
    st.head.append(more.data(), more.size());
    if (st.head.size() == 16) {
      BUDSTIKKE_RETURN_IF_ERROR(CheckContentPrefix(meta_.content_type(), st.head));
    }
  }
  if (meta_.content_type() == "text/plain") {
    st.utf8.Feed(chunk);
    if (!st.utf8.ok_so_far()) return st.utf8.Error(meta_.content_type());
  }
  st.pending.append(chunk.data(), chunk.size());
  size_t off = 0;
  for (; st.pending.size() - off >= max_chunk; off += max_chunk, ++st.staged) {
    st.wrote = true;
    BUDSTIKKE_RETURN_IF_ERROR(desk_->StageChunk(
        *this, st.staged, absl::string_view(st.pending).substr(off, max_chunk), nullptr));
  }
  st.pending.erase(0, off);
  return absl::OkStatus();
}

absl::StatusOr<v1::AttachmentInfo> AttachmentUpload::Finish() {
  if (done_) return first_;
  Staging& st = *staging_;
  if (st.received != meta_.size()) {
    return absl::InvalidArgumentError("fewer bytes than metadata.size");
  }
  BUDSTIKKE_RETURN_IF_ERROR(CheckContentPrefix(meta_.content_type(), st.head));
  if (meta_.content_type() == "text/plain" && !st.utf8.valid()) {
    return st.utf8.Error(meta_.content_type());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (EVP_DigestFinal_ex(st.sha256.get(), digest, &digest_size) != 1) {
    return absl::InternalError("SHA-256 failed");
  }
  if (meta_.sha256() != std::string(reinterpret_cast<const char*>(digest), digest_size)) {
    return absl::InvalidArgumentError("sha256 does not match the content");
  }
  auto info = desk_->StoreUpload(this);
  if (info.ok()) {
    done_ = true;
    first_ = *info;
    std::string().swap(st.pending);
    ReleaseSlot();
  }
  return info;
}

absl::Status ReferralDesk::StageChunk(const AttachmentUpload& up, size_t index,
                                      absl::string_view bytes, storage::WriteBatch* batch) {
  const AttachmentUpload::Staging& st = *up.staging_;
  const std::string key = ChunkKey(st.id, index);
  BUDSTIKKE_ASSIGN_OR_RETURN(
      std::string sealed,
      attachment_content::SealChunk(*st.content_key, kAttachmentColumnFamily, key, bytes));
  if (batch != nullptr) {
    batch->Put(kAttachmentColumnFamily, key, sealed);
    return absl::OkStatus();
  }
  storage::WriteBatch own;
  own.Put(kAttachmentColumnFamily, key, sealed);
  // An empty p/ row: PurgeUnsentAttachments removes the chunks of an upload
  // the process did not live to finish or discard.
  if (index == 0) own.Put(kAttachmentColumnFamily, UnsentKey(st.id), "");
  return deps_.store->Write(std::move(own));
}

void ReferralDesk::DiscardStaged(const AttachmentUpload& up) {
  const AttachmentUpload::Staging& st = *up.staging_;
  storage::WriteBatch batch;
  // Up to and including the chunk whose write failed: it may have landed.
  for (size_t i = 0; i <= st.staged; ++i) {
    batch.Delete(kAttachmentColumnFamily, ChunkKey(st.id, i));
  }
  batch.Delete(kAttachmentColumnFamily, UnsentKey(st.id));
  (void)deps_.store->Write(std::move(batch));  // else the purge removes them later
}

absl::StatusOr<v1::AttachmentInfo> ReferralDesk::StoreUpload(AttachmentUpload* up) {
  const Caller& caller = up->caller_;
  const v1::AttachmentMetadata& m = up->meta_;
  const AttachmentUpload::Staging& st = *up->staging_;
  const std::string fingerprint = common::RequestFingerprint(kUploadKind, m);
  absl::MutexLock lock(&mu_);
  const std::string req_key = UploadRequestKey(caller.agency(), m.request_id());
  auto existing = deps_.store->Get(kAttachmentColumnFamily, req_key);
  if (existing.ok()) {  // a concurrent upload with this request id finished first
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string id,
                               common::ReplayedId(*existing, fingerprint, m.request_id()));
    BUDSTIKKE_ASSIGN_OR_RETURN(StoredAttachment a, LoadAttachment(id, caller.agency()));
    BUDSTIKKE_RETURN_IF_ERROR(RecordAttachmentRead(caller, a.info, m.request_id()));
    if (st.wrote) DiscardStaged(*up);
    return a.info;
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  if (st.wrote) {  // purged meanwhile (an upload older than the purge age)?
    auto row = deps_.store->Get(kAttachmentColumnFamily, UnsentKey(st.id));
    if (absl::IsNotFound(row.status())) {
      return absl::AbortedError("the upload was purged before it finished; upload again");
    }
    if (!row.ok()) return row.status();
  }
  v1::AttachmentInfo info;
  info.set_id(st.id);
  info.set_filename(m.filename());
  info.set_content_type(m.content_type());
  info.set_kind(m.kind());
  info.set_size(st.received);
  info.set_sha256(m.sha256());
  *info.mutable_create_time() = common::ToProtoTime(deps_.clock->Now());
  storage::WriteBatch batch;
  const std::vector<std::string> readers = {caller.agency()};
  batch.Put(kAttachmentColumnFamily, attachment_content::ContentKeyRecord(info.id()),
            st.sealed_content_key);
  if (!st.pending.empty()) {
    BUDSTIKKE_RETURN_IF_ERROR(StageChunk(*up, st.staged, st.pending, &batch));
  }
  const std::string akey = AttachmentKey(info.id());
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string sealed_info,
                             deps_.records->envelope().Seal(kAttachmentColumnFamily, akey,
                                                            info.SerializeAsString(), readers));
  batch.Put(kAttachmentColumnFamily, akey, Frame(caller.agency(), Frame("", sealed_info)));
  batch.Put(kAttachmentColumnFamily, req_key, common::RequestRecord(info.id(), fingerprint));
  batch.Put(kAttachmentColumnFamily, UnsentKey(info.id()), req_key);
  BUDSTIKKE_RETURN_IF_ERROR(deps_.audit->Add(
      &batch, caller, AttachmentEvent("attachment.upload", info.id(), m.request_id())));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.store->Write(std::move(batch)));
  return info;
}

absl::StatusOr<int> ReferralDesk::PurgeUnsentAttachments() {
  if (options_.unsent_attachment_max_age <= absl::ZeroDuration()) return 0;  // never
  const absl::Time cutoff = deps_.clock->Now() - options_.unsent_attachment_max_age;
  std::vector<std::pair<std::string, std::string>> due;  // (id, request key)
  {
    auto it = deps_.store->Scan(kAttachmentColumnFamily, UnsentKey(""));
    for (; it->Valid(); it->Next()) {
      const std::string id(it->key().substr(UnsentKey("").size()));
      const std::optional<absl::Time> uploaded = common::TimeOfId(kAttachmentIdPrefix, id);
      if (!uploaded.has_value()) continue;  // not an id this desk made
      if (*uploaded > cutoff) break;        // the rest are younger
      due.emplace_back(id, std::string(it->value()));
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  if (due.empty()) return 0;
  absl::MutexLock lock(&mu_);  // Send and messages claim attachments under it
  int purged = 0;
  for (const auto& [id, request_key] : due) {
    BUDSTIKKE_ASSIGN_OR_RETURN(bool done, PurgeOne(id, request_key));
    purged += done ? 1 : 0;
  }
  return purged;
}

absl::Status ReferralDesk::IndexUnsentAttachments() {
  constexpr char kMarker[] = "m/unsent-indexed";
  if (deps_.store->Get(kAttachmentColumnFamily, kMarker).ok()) return absl::OkStatus();
  storage::WriteBatch batch;
  auto it = deps_.store->Scan(kAttachmentColumnFamily, AttachmentKey(""));
  for (; it->Valid(); it->Next()) {
    std::string owner, rest, referral_id, sealed;
    const std::string_view value = it->value();
    if (!common::Unframe(absl::string_view(value.data(), value.size()), &owner, &rest) ||
        !common::Unframe(rest, &referral_id, &sealed)) {
      return absl::DataLossError("attachment record is malformed");
    }
    const std::string id(it->key().substr(AttachmentKey("").size()));
    if (referral_id.empty()) batch.Put(kAttachmentColumnFamily, UnsentKey(id), "");
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  batch.Put(kAttachmentColumnFamily, kMarker, "");
  return deps_.store->Write(std::move(batch));
}

absl::StatusOr<bool> ReferralDesk::PurgeOne(const std::string& id, const std::string& request_key) {
  // Used meanwhile (the batch that used it deleted its unsent row): kept.
  auto unsent = deps_.store->Get(kAttachmentColumnFamily, UnsentKey(id));
  if (absl::IsNotFound(unsent.status())) return false;
  if (!unsent.ok()) return unsent.status();
  storage::WriteBatch batch;
  batch.Delete(kAttachmentColumnFamily, UnsentKey(id));
  batch.Delete(kAttachmentColumnFamily, AttachmentKey(id));
  batch.Delete(kAttachmentColumnFamily, attachment_content::ContentKeyRecord(id));
  if (!request_key.empty()) batch.Delete(kAttachmentColumnFamily, request_key);
  auto it = deps_.store->Scan(kAttachmentColumnFamily, ChunkPrefix(id));
  for (; it->Valid(); it->Next()) batch.Delete(kAttachmentColumnFamily, it->key());
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  Caller job;
  job.identity.service = "referral";
  job.via_service = "referral";
  BUDSTIKKE_RETURN_IF_ERROR(
      deps_.audit->Add(&batch, job, AttachmentEvent("attachment.purge", id, "")));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.store->Write(std::move(batch)));
  return true;
}

absl::Status ReferralDesk::ResealAttachment(const StoredAttachment& a,
                                            const std::string& referral_id,
                                            const std::vector<std::string>& readers,
                                            storage::WriteBatch* batch) const {
  const std::string akey = AttachmentKey(a.info.id());
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string sealed_info,
                             deps_.records->envelope().Seal(kAttachmentColumnFamily, akey,
                                                            a.info.SerializeAsString(), readers));
  batch->Put(kAttachmentColumnFamily, akey, Frame(a.owner, Frame(referral_id, sealed_info)));
  batch->Delete(kAttachmentColumnFamily, UnsentKey(a.info.id()));  // used now: kept
  // The content key only, when the attachment has one: the content stays.
  const std::string ckey_record = attachment_content::ContentKeyRecord(a.info.id());
  auto sealed_key = deps_.store->Get(kAttachmentColumnFamily, ckey_record);
  if (sealed_key.ok()) {
    const storage::Envelope& envelope = deps_.records->envelope();
    BUDSTIKKE_ASSIGN_OR_RETURN(
        std::string key, envelope.Open(kAttachmentColumnFamily, ckey_record, *sealed_key, a.owner));
    auto resealed_key = envelope.Seal(kAttachmentColumnFamily, ckey_record, key, readers);
    std::fill(key.begin(), key.end(), '\0');
    if (!resealed_key.ok()) return resealed_key.status();
    batch->Put(kAttachmentColumnFamily, ckey_record, *resealed_key);
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(sealed_key.status())) return sealed_key.status();
  // Stored before content keys: every chunk is an envelope of its own.
  for (size_t i = 0; i < ChunkCount(a.info.size(), options_.max_chunk_bytes); ++i) {
    const std::string ckey = ChunkKey(a.info.id(), i);
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string sealed, deps_.store->Get(kAttachmentColumnFamily, ckey));
    BUDSTIKKE_ASSIGN_OR_RETURN(
        std::string plain,
        deps_.records->envelope().Open(kAttachmentColumnFamily, ckey, sealed, a.owner));
    BUDSTIKKE_ASSIGN_OR_RETURN(
        std::string resealed,
        deps_.records->envelope().Seal(kAttachmentColumnFamily, ckey, plain, readers));
    batch->Put(kAttachmentColumnFamily, ckey, resealed);
  }
  return absl::OkStatus();
}

absl::Status ReferralDesk::Download(
    const Caller& caller, absl::string_view referral_id, absl::string_view attachment_id,
    const std::function<bool(const v1::DownloadAttachmentResponse&)>& sink) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, LoadFor(caller, referral_id, "attachment.download"));
  const v1::Referral& r = stored.referral;
  // An invited agency sees the thread's attachments only.
  const bool invited_only = IsInvitedOnly(r, caller.agency());
  const v1::AttachmentInfo* info = nullptr;
  for (const auto& a : r.attachments()) {
    if (a.id() == attachment_id && !invited_only) info = &a;
  }
  v1::AttachmentInfo on_thread;
  if (info == nullptr && !r.sender_agency().empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<v1::ReferralMessage> thread,
                               ReadThread(r, caller.agency()));
    for (const auto& m : thread) {
      for (const auto& a : m.attachments()) {
        if (a.id() == attachment_id) on_thread = a;
      }
    }
    if (!on_thread.id().empty()) info = &on_thread;
  }
  if (info == nullptr) return absl::NotFoundError(kAttachmentNotFound);
  v1::AuditEvent e = Event("attachment.download", stored, "");
  e.mutable_resource()->set_kind(v1::RESOURCE_KIND_ATTACHMENT);
  e.mutable_resource()->set_id(info->id());
  if (info == &on_thread) {
    BUDSTIKKE_RETURN_IF_ERROR(GateThread(caller, stored, "attachment.download"));
  } else {
    BUDSTIKKE_ASSIGN_OR_RETURN(ConsentOfReferral consent, ConsentOf(r));
    BUDSTIKKE_RETURN_IF_ERROR(GateRead(caller, r, consent, /*further=*/true, e));
  }
  BUDSTIKKE_RETURN_IF_ERROR(deps_.audit->Record(caller, std::move(e)));
  v1::DownloadAttachmentResponse first;
  *first.mutable_info() = *info;
  if (!sink(first)) return absl::CancelledError("download cancelled");
  auto content_key = attachment_content::Open(*deps_.store, deps_.records->envelope(),
                                              kAttachmentColumnFamily, info->id(), caller.agency());
  if (!content_key.ok() && !absl::IsNotFound(content_key.status())) return content_key.status();
  const storage::AesGcmAead* key_or_null = content_key.ok() ? content_key->get() : nullptr;
  for (size_t i = 0; i < ChunkCount(info->size(), options_.max_chunk_bytes); ++i) {
    const std::string key = ChunkKey(info->id(), i);
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string sealed, deps_.store->Get(kAttachmentColumnFamily, key));
    BUDSTIKKE_ASSIGN_OR_RETURN(
        std::string plain,
        attachment_content::OpenChunk(key_or_null, deps_.records->envelope(),
                                      kAttachmentColumnFamily, key, sealed, caller.agency()));
    v1::DownloadAttachmentResponse part;
    part.set_chunk(std::move(plain));
    if (!sink(part)) return absl::CancelledError("download cancelled");
  }
  return absl::OkStatus();
}

}  // namespace budstikke::referral
