#include "services/audit/audit_log.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/audit/event_codec.h"
#include "services/common/key_file.h"
#include "services/common/store_audit_outbox.h"
#include "services/common/time_util.h"
#include "storage/durable_file.h"
#include "storage/status_macros.h"
#include "tlog/checkpoint.h"

namespace budstikke::audit {
namespace {

std::string Be64(uint64_t v) { return storage::MerkleLog::LeafKey(v); }

uint64_t FromBe64(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

std::string IndexPrefix(char kind, absl::string_view value) {
  std::string p(1, kind);
  p.append(value.data(), value.size());
  p.push_back('\0');
  return p;
}

absl::Status FromTlog(const tlog::Error& e) {
  return absl::Status(static_cast<absl::StatusCode>(e.code), e.message);
}

std::string HashBytes(const tlog::Hash& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

bool Matches(const AuditFilter& f, const v1::AuditEvent& e) {
  if (!f.subject.empty() && e.subject() != f.subject) return false;
  if (!f.actor_agency.empty() && e.actor().agency() != f.actor_agency) return false;
  if (!f.actor_user.empty() && e.actor().user() != f.actor_user) return false;
  if (!f.action.empty() && e.action() != f.action) return false;
  if (f.outcome != v1::AUDIT_OUTCOME_UNSPECIFIED && e.outcome() != f.outcome) return false;
  if (f.since || f.until) {
    absl::Time t = common::FromProtoTime(e.time());
    if (f.since && t < *f.since) return false;
    if (f.until && t >= *f.until) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> AuditLog::ColumnFamilies() {
  std::vector<std::string> cfs = storage::MerkleLog::ColumnFamilies();
  cfs.push_back(kIndexColumnFamily);
  cfs.push_back(common::kAuditOutboxColumnFamily);
  return cfs;
}

AuditLog::AuditLog(storage::Store* store, const tlog::Signer* signer, const common::Clock* clock,
                   AuditLogOptions options, std::unique_ptr<storage::MerkleLog> tree)
    : store_(store),
      signer_(signer),
      clock_(clock),
      options_(std::move(options)),
      tree_(std::move(tree)) {}

AuditLog::~AuditLog() { Stop(); }

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(storage::Store* store,
                                                           const tlog::Signer* signer,
                                                           const common::Clock* clock,
                                                           AuditLogOptions options) {
  if (signer == nullptr) return absl::InvalidArgumentError("audit log needs a signing key");
  if (options.max_batch < 1) return absl::InvalidArgumentError("max_batch must be >= 1");
  storage::MerkleLog::Options mo;
  mo.cache_min_level = options.cache_min_level;
  BUDSTIKKE_ASSIGN_OR_RETURN(std::unique_ptr<storage::MerkleLog> tree,
                             storage::MerkleLog::Open(store, mo));
  std::unique_ptr<AuditLog> log(
      new AuditLog(store, signer, clock, std::move(options), std::move(tree)));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string note, log->tree_->LatestCheckpoint());
  if (!note.empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(v1::Checkpoint cp, log->ParseCheckpoint(note));
    // Never sign a checkpoint that forks from the stored one: the stored
    // tree must still be the one it signed.
    const uint64_t size = log->tree_->size();
    if (cp.tree_size() > size) {
      return absl::DataLossError(absl::StrCat("stored audit checkpoint covers ", cp.tree_size(),
                                              " events but the stored log holds ", size,
                                              " (log truncated or rolled back)"));
    }
    BUDSTIKKE_RETURN_IF_ERROR(log->CheckTreeMatches(cp, "its stored checkpoint"));
    absl::MutexLock lock(&log->cp_mu_);
    log->checkpoint_ = std::move(cp);
  }
  if (!log->options_.anchor_file.empty()) BUDSTIKKE_RETURN_IF_ERROR(log->CheckAnchor());
  return log;
}

absl::Status AuditLog::CheckTreeMatches(const v1::Checkpoint& cp, absl::string_view what) const {
  // TreeHash reads only the log2(size) top-level stored hashes, mostly from
  // the cached levels.
  auto root = tree_->Root(cp.tree_size());
  if (!root.ok()) {
    return absl::DataLossError(absl::StrCat("stored audit tree cannot be read at size ",
                                            cp.tree_size(), ": ", root.status().message()));
  }
  if (HashBytes(*root) != cp.root_hash()) {
    return absl::DataLossError(absl::StrCat("stored audit tree does not match ", what,
                                            ": the root at size ", cp.tree_size(),
                                            " differs (a stored hash was altered)"));
  }
  return absl::OkStatus();
}

// The anchor is the last checkpoint this log published. A smaller log was
// restored or rolled back: signing again would publish a second root for a
// size already published, a fork signed by the honest key.
absl::Status AuditLog::CheckAnchor() {
  const std::string& path = options_.anchor_file;
  absl::StatusOr<std::string> note = common::ReadFile("audit anchor file", path);
  if (absl::IsNotFound(note.status())) return absl::OkStatus();  // first start
  if (!note.ok()) return note.status();
  absl::StatusOr<v1::Checkpoint> cp = ParseCheckpoint(*note);
  if (!cp.ok()) {
    return absl::DataLossError(absl::StrCat(
        "audit anchor file ", path, " holds no checkpoint of this log: ", cp.status().message()));
  }
  const uint64_t size = tree_->size();
  if (cp->tree_size() <= size)
    return CheckTreeMatches(*cp, absl::StrCat("the checkpoint in anchor file ", path));
  if (!options_.accept_rollback) {
    return absl::FailedPreconditionError(
        absl::StrCat("the audit log holds ", size, " events but ", path,
                     " records a published checkpoint of ", cp->tree_size(),
                     ": the data dir was restored or rolled back; start with "
                     "--accept-audit-rollback to record the break as a signed event"));
  }
  rollback_ = std::make_pair(cp->tree_size(), size);
  return absl::OkStatus();
}

absl::StatusOr<v1::Checkpoint> AuditLog::ParseCheckpoint(const std::string& note) const {
  auto verifier = tlog::Verifier::FromVerifierKey(signer_->VerifierKey());
  if (!verifier.ok()) return FromTlog(verifier.error());
  auto cp = tlog::OpenCheckpoint(note, *verifier);
  if (!cp.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored audit checkpoint does not verify: ", cp.error().message));
  }
  v1::Checkpoint out;
  out.set_signed_note(note);
  out.set_origin(cp->origin);
  out.set_tree_size(cp->size);
  out.set_root_hash(HashBytes(cp->root));
  return out;
}

void AuditLog::ReportHealth(bool healthy) {
  int now = healthy ? 1 : 0;
  if (healthy_ != now) {
    healthy_ = now;
    if (observer_) observer_(healthy);
  }
}

absl::StatusOr<int> AuditLog::DrainOnce() {
  // Keys normally grow, so continue after the last drained key; an outbox
  // write that committed late with a lower key is caught by a periodic rescan.
  const absl::Time now = absl::Now();
  if (now - last_full_rescan_ >= options_.full_rescan_interval) {
    cursor_.clear();
    previous_rescan_cursor_ = high_water_;
    last_rescan_ = last_full_rescan_ = now;
  } else if (now - last_rescan_ >= options_.rescan_interval) {
    // Start where the drain had got to at the previous rescan: a late commit
    // below that had its key before then; the full rescan catches those.
    cursor_ = previous_rescan_cursor_;
    previous_rescan_cursor_ = high_water_;
    last_rescan_ = now;
  }
  return DrainBatch();
}

absl::StatusOr<int> AuditLog::DrainBatch() {
  std::vector<std::string> keys;
  std::vector<v1::AuditEvent> events;
  {
    // Positioned at the cursor directly: Scan(cf, "") would first step over
    // the tombstone of every event already delivered (a third of an Ask's
    // server CPU under load, docs/PERFORMANCE.md).
    std::unique_ptr<storage::Iterator> it =
        store_->ScanFrom(common::kAuditOutboxColumnFamily, cursor_);
    for (; it->Valid() && static_cast<int>(keys.size()) < options_.max_batch; it->Next()) {
      if (it->key().size() != 8) continue;  // not an event (e.g. the outbox's source id)
      keys.emplace_back(it->key());
      v1::AuditEvent& e = events.emplace_back();
      if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        // Never drop an entry silently: log that it was unreadable.
        e.Clear();
        e.set_action("audit.outbox_unreadable");
        e.set_outcome(v1::AUDIT_OUTCOME_DENIED);
        e.set_rule("audit.outbox.corrupt");
        e.set_legal_basis(v1::LEGAL_BASIS_NONE);
        *e.mutable_time() = common::ToProtoTime(clock_->Now());
      }
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  if (keys.empty()) return 0;

  storage::WriteBatch batch;
  std::vector<std::string> leaves;
  leaves.reserve(events.size());
  uint64_t index = tree_->size();
  for (size_t i = 0; i < events.size(); ++i, ++index) {
    v1::AuditEvent& e = events[i];
    e.set_index(index);
    leaves.push_back(EncodeLeaf(e));
    const std::string idx = Be64(index);
    if (!e.subject().empty())
      batch.Put(kIndexColumnFamily, IndexPrefix('s', e.subject()) + idx, "");
    if (!e.actor().agency().empty()) {
      batch.Put(kIndexColumnFamily, IndexPrefix('a', e.actor().agency()) + idx, "");
      batch.Put(kIndexColumnFamily,
                IndexPrefix('u', absl::StrCat(e.actor().agency(), "/", e.actor().user())) + idx,
                "");
    }
    if (!e.action().empty()) batch.Put(kIndexColumnFamily, IndexPrefix('x', e.action()) + idx, "");
    batch.Delete(common::kAuditOutboxColumnFamily, keys[i]);
  }
  BUDSTIKKE_RETURN_IF_ERROR(tree_->PrepareAppend(leaves, &batch).status());
  absl::Status s = store_->Write(std::move(batch));
  if (!s.ok()) {
    tree_->Abort();
    ReportHealth(false);
    return absl::UnavailableError(absl::StrCat("audit log append failed: ", s.message()));
  }
  tree_->Commit();
  ReportHealth(true);
  cursor_ = keys.back();
  cursor_.push_back('\0');
  if (high_water_ < cursor_) high_water_ = cursor_;
  return static_cast<int>(keys.size());
}

absl::Status AuditLog::DrainAll() {
  cursor_.clear();
  while (true) {
    BUDSTIKKE_ASSIGN_OR_RETURN(int n, DrainBatch());
    if (n == 0) return absl::OkStatus();
  }
}

absl::StatusOr<std::string> AuditLog::SignCheckpoint() {
  const uint64_t size = tree_->size();
  {
    absl::MutexLock lock(&cp_mu_);
    if (checkpoint_ && checkpoint_->tree_size() == size) return checkpoint_->signed_note();
  }
  // Sign only what is durable: after a power loss the tree must still hold
  // everything a published checkpoint covers.
  absl::Status synced = store_->SyncWal();
  if (!synced.ok()) {
    ReportHealth(false);
    return absl::UnavailableError(absl::StrCat("audit log sync failed: ", synced.message()));
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(tlog::Hash root, tree_->Root(size));
  tlog::Checkpoint cp;
  cp.origin = signer_->name();
  cp.size = size;
  cp.root = root;
  auto note = signer_->SignNote(cp.Format());
  if (!note.ok()) return FromTlog(note.error());
  absl::Status s = tree_->PutCheckpoint(*note);
  if (s.ok() && !options_.anchor_file.empty()) {
    s = storage::WriteFileDurably(options_.anchor_file, *note);
  }
  if (!s.ok()) {
    ReportHealth(false);
    return absl::UnavailableError(absl::StrCat("audit checkpoint write failed: ", s.message()));
  }
  v1::Checkpoint out;
  out.set_signed_note(*note);
  out.set_origin(cp.origin);
  out.set_tree_size(size);
  out.set_root_hash(HashBytes(root));
  absl::MutexLock lock(&cp_mu_);
  checkpoint_ = std::move(out);
  return *note;
}

void AuditLog::Start() {
  {
    absl::MutexLock lock(&stop_mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void AuditLog::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void AuditLog::Loop() {
  absl::Time last_checkpoint = absl::InfinitePast();
  while (true) {
    auto drained = DrainOnce();
    const absl::Time now = absl::Now();
    if (now - last_checkpoint >= options_.checkpoint_interval) {
      // Sign even when idle so the first checkpoint (size 0) exists at once.
      if (SignCheckpoint().ok()) last_checkpoint = now;
    }
    const bool busy = drained.ok() && *drained == options_.max_batch;
    absl::MutexLock lock(&stop_mu_);
    if (stop_) break;
    if (!busy) {
      stop_mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.poll_interval);
      if (stop_) break;
    }
  }
  // Final drain and checkpoint so a clean shutdown leaves nothing behind.
  (void)DrainAll();
  (void)SignCheckpoint();
}

absl::StatusOr<v1::Checkpoint> AuditLog::LatestCheckpoint() const {
  absl::MutexLock lock(&cp_mu_);
  if (!checkpoint_) return absl::FailedPreconditionError("no audit checkpoint signed yet");
  return *checkpoint_;
}

absl::StatusOr<v1::GetEventResponse> AuditLog::GetEvent(uint64_t index) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string leaf, tree_->LeafData(index));
  v1::GetEventResponse resp;
  BUDSTIKKE_ASSIGN_OR_RETURN(*resp.mutable_event(), DecodeLeaf(leaf));
  resp.set_leaf_data(std::move(leaf));
  return resp;
}

absl::StatusOr<v1::InclusionProof> AuditLog::InclusionProof(uint64_t index,
                                                            uint64_t tree_size) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Checkpoint cp, LatestCheckpoint());
  if (tree_size == 0) tree_size = cp.tree_size();
  if (tree_size > cp.tree_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tree size ", tree_size, " is beyond the latest checkpoint (", cp.tree_size(), ")"));
  }
  if (index >= tree_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("index ", index, " is not below tree size ", tree_size));
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<tlog::Hash> path, tree_->InclusionProof(index, tree_size));
  auto leaf_hash = tree_->ReadHashes({tlog::HashIndex{0, index}});
  if (!leaf_hash.ok()) return FromTlog(leaf_hash.error());
  v1::InclusionProof p;
  p.set_leaf_index(index);
  p.set_tree_size(tree_size);
  p.set_leaf_hash(HashBytes((*leaf_hash)[0]));
  for (const tlog::Hash& h : path) p.add_inclusion_path(HashBytes(h));
  return p;
}

absl::StatusOr<v1::ConsistencyProof> AuditLog::ConsistencyProof(uint64_t first,
                                                                uint64_t second) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Checkpoint cp, LatestCheckpoint());
  if (first == 0 || first > second || second > cp.tree_size()) {
    return absl::InvalidArgumentError(absl::StrCat("need 0 < first <= second <= ", cp.tree_size(),
                                                   " (latest checkpoint), got first ", first,
                                                   " second ", second));
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<tlog::Hash> path, tree_->ConsistencyProof(first, second));
  v1::ConsistencyProof p;
  p.set_first(first);
  p.set_second(second);
  for (const tlog::Hash& h : path) p.add_path(HashBytes(h));
  return p;
}

absl::StatusOr<AuditPage> AuditLog::Query(const AuditFilter& filter, uint64_t bound,
                                          uint64_t proof_size, int page_size,
                                          const std::string& page_token) const {
  if (page_size == 0) page_size = 50;
  if (page_size < 0 || page_size > 1000) {
    return absl::InvalidArgumentError("page_size must be between 1 and 1000");
  }
  uint64_t start = 0;
  if (!page_token.empty()) {
    if (page_token[0] != 'i' ||
        !absl::SimpleAtoi(absl::string_view(page_token).substr(1), &start)) {
      return absl::InvalidArgumentError("page_token is not one this server issued");
    }
  }
  bound = std::min(bound, tree_->size());
  AuditPage page;
  // Bound the work per page; a sparse filter returns a short page with a token.
  constexpr int kMaxScanned = 20000;
  int scanned = 0;
  uint64_t next = start;
  // Candidates are read in batches (one MultiGet of leaf data each), and the
  // proofs of the whole page in one batch of stored-hash reads.
  std::vector<uint64_t> candidates;
  std::vector<uint64_t> matched;
  std::vector<std::string> matched_leaves;
  auto flush = [&]() -> absl::Status {
    if (candidates.empty()) return absl::OkStatus();
    BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<std::string> leaves, tree_->LeafData(candidates));
    for (size_t i = 0; i < leaves.size(); ++i) {
      BUDSTIKKE_ASSIGN_OR_RETURN(v1::AuditEvent e, DecodeLeaf(leaves[i]));
      if (!Matches(filter, e)) continue;
      *page.records.emplace_back().mutable_event() = std::move(e);
      matched.push_back(candidates[i]);
      matched_leaves.push_back(std::move(leaves[i]));
    }
    candidates.clear();
    return absl::OkStatus();
  };
  // True when the page cannot take the next candidate.
  auto full = [&]() {
    return static_cast<int>(page.records.size() + candidates.size()) >= page_size ||
           scanned >= kMaxScanned;
  };
  // True when the page can take another candidate, after reading the pending
  // ones if that is what it takes to know (filtered-out candidates leave room).
  auto has_room = [&]() -> absl::StatusOr<bool> {
    if (!full()) return true;
    BUDSTIKKE_RETURN_IF_ERROR(flush());
    return !full();
  };
  auto add = [&](uint64_t index) {
    next = index + 1;
    ++scanned;
    candidates.push_back(index);
  };

  std::string prefix;
  if (!filter.subject.empty()) {
    prefix = IndexPrefix('s', filter.subject);
  } else if (!filter.actor_user.empty() && !filter.actor_agency.empty()) {
    prefix = IndexPrefix('u', absl::StrCat(filter.actor_agency, "/", filter.actor_user));
  } else if (!filter.actor_agency.empty()) {
    prefix = IndexPrefix('a', filter.actor_agency);
  } else if (!filter.action.empty()) {
    prefix = IndexPrefix('x', filter.action);
  }
  bool more = false;
  if (!prefix.empty()) {
    std::unique_ptr<storage::Iterator> it = store_->Scan(kIndexColumnFamily, prefix);
    it->Seek(prefix + Be64(start));
    for (; it->Valid(); it->Next()) {
      if (it->key().size() != prefix.size() + 8) continue;
      const uint64_t index = FromBe64(it->key().substr(prefix.size()));
      if (index >= bound) break;
      BUDSTIKKE_ASSIGN_OR_RETURN(bool room, has_room());
      if (!room) {
        more = true;
        break;
      }
      add(index);
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  } else {
    for (uint64_t index = start; index < bound; ++index) {
      BUDSTIKKE_ASSIGN_OR_RETURN(bool room, has_room());
      if (!room) {
        more = true;
        break;
      }
      add(index);
    }
  }
  BUDSTIKKE_RETURN_IF_ERROR(flush());
  if (proof_size > 0 && !matched.empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<std::vector<tlog::Hash>> paths,
                               tree_->InclusionProofs(matched, proof_size));
    for (size_t i = 0; i < matched.size(); ++i) {
      v1::AuditRecord& r = page.records[i];
      v1::InclusionProof* p = r.mutable_inclusion_proof();
      p->set_leaf_index(matched[i]);
      p->set_tree_size(proof_size);
      p->set_leaf_hash(HashBytes(tlog::LeafHash(matched_leaves[i])));
      for (const tlog::Hash& h : paths[i]) p->add_inclusion_path(HashBytes(h));
      r.set_leaf_data(std::move(matched_leaves[i]));
    }
  }
  if (more) page.next_page_token = absl::StrCat("i", next);
  return page;
}

}  // namespace budstikke::audit
