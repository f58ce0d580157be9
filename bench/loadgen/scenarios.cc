#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/loadgen/scenario.h"
#include "budstikke/bench/v1/echo.grpc.pb.h"
#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/consent.grpc.pb.h"
#include "budstikke/v1/consultation.grpc.pb.h"
#include "budstikke/v1/directory.grpc.pb.h"
#include "budstikke/v1/inbox.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "services/common/national_id_testing.h"

namespace budstikke::loadgen {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(10);
// The recipient of asks and referrals, and the agencies of the callers below,
// as certs/dev-directory.json seeds them.
constexpr char kRecipient[] = "bup-oslo";
constexpr char kGpAgency[] = "legekontor-sentrum";

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  return ctx;
}

absl::Status ToAbsl(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A 10-year-old (synthetic national id): guardian consent, referrals, audit.
const std::string& Child() {
  static const std::string child = common::testing::MakeSyntheticNationalId(2016, 9, 3, 17);
  return child;
}

// Exactly `bytes` of `sentence` repeated, cut back to a whole UTF-8 character
// and padded with full stops.
std::string Repeat(const std::string& sentence, size_t bytes) {
  std::string text;
  while (text.size() < bytes) text += sentence;
  text.resize(bytes);
  size_t end = bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end - 1]) & 0x80) != 0) --end;
  std::fill(text.begin() + static_cast<std::ptrdiff_t>(end), text.end(), '.');
  return text;
}

// Consultation text without personal data.
std::string WorryText(size_t bytes) {
  return Repeat("Gutten er urolig i samling og sover d\xc3\xa5rlig. ", bytes);
}
std::string KibText() { return WorryText(1024); }

// Connections as named callers.
class Connector {
 public:
  explicit Connector(Target target) : target_(std::move(target)) {}

  // A new connection (own subchannel) as `name`, or as --cert/--key when
  // `name` is the scenario's main caller and they were given. Waits until
  // connected (TLS handshake done) so the clock does not include it.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const std::string& name,
                                                         bool main_caller) const {
    std::string cert = target_.cert, key = target_.key;
    if (!main_caller || cert.empty()) {
      if (target_.certs_dir.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("this scenario calls as '", name, "': give --certs-dir"));
      }
      cert = absl::StrCat(target_.certs_dir, "/", name, ".pem");
      key = absl::StrCat(target_.certs_dir, "/", name, ".key");
    }
    grpc::SslCredentialsOptions ssl;
    auto ca = ReadFile(target_.ca);
    auto chain = ReadFile(cert);
    auto pkey = ReadFile(key);
    for (const auto* f : {&ca, &chain, &pkey}) {
      if (!f->ok()) return f->status();
    }
    ssl.pem_root_certs = *ca;
    ssl.pem_cert_chain = *chain;
    ssl.pem_private_key = *pkey;
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(target_.server, grpc::SslCredentials(ssl), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + kCallTimeout)) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", target_.server, " as ", name));
    }
    return channel;
  }

  const std::string& run_id() const { return target_.run_id; }

 private:
  Target target_;
};

// Unique request ids for the creates.
class RequestIds {
 public:
  explicit RequestIds(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string Next() { return absl::StrCat(prefix_, "-", next_.fetch_add(1)); }

 private:
  const std::string prefix_;
  std::atomic<int64_t> next_{0};
};

v1::SendReferralRequest ReferralRequest(const std::string& consent_id, size_t reason_bytes = 1024) {
  v1::SendReferralRequest r;
  r.set_recipient_agency(kRecipient);
  r.set_subject_national_id(Child());
  r.set_consent_id(consent_id);
  r.set_reason(Repeat("Vedvarende angst, s\xc3\xb8vnvansker og skolevegring. ", reason_bytes));
  return r;
}

v1::AskConsultationRequest AskRequest(size_t text_bytes = 1024) {
  v1::AskConsultationRequest a;
  a.mutable_recipient()->set_agency(kRecipient);
  a.set_age_band(v1::AGE_BAND_3_5);
  a.add_concerns(v1::CONCERN_BEHAVIOUR);
  a.set_text(WorryText(text_bytes));
  return a;
}

// A PDF of `bytes` (a scanned letter: after its header, random and so
// incompressible) and its SHA-256.
struct Blob {
  std::string content;
  std::string sha256;
};
Blob RandomBlob(size_t bytes, uint32_t seed) {
  static constexpr char kHeader[] = "%PDF-1.7\n";
  Blob b;
  std::mt19937 random(seed);
  b.content.resize(bytes);
  for (char& c : b.content) c = static_cast<char>(random());
  b.content.replace(0, std::min(bytes, sizeof kHeader - 1), kHeader,
                    std::min(bytes, sizeof kHeader - 1));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(b.content.data(), b.content.size(), digest, &len, EVP_sha256(), nullptr);
  b.sha256.assign(reinterpret_cast<const char*>(digest), len);
  return b;
}

// Uploads `blob` as a PDF; its attachment id.
absl::StatusOr<std::string> UploadOnce(v1::ReferralService::Stub& stub,
                                       const std::string& request_id, const Blob& blob) {
  constexpr size_t kChunk = 1 << 20;
  auto ctx = Ctx();
  v1::AttachmentInfo info;
  auto writer = stub.UploadAttachment(ctx.get(), &info);
  v1::UploadAttachmentRequest part;
  v1::AttachmentMetadata* m = part.mutable_metadata();
  m->set_request_id(request_id);
  m->set_filename("epikrise.pdf");
  m->set_content_type("application/pdf");
  m->set_kind(v1::ATTACHMENT_KIND_OTHER);
  m->set_size(blob.content.size());
  m->set_sha256(blob.sha256);
  bool open = writer->Write(part);
  for (size_t off = 0; open && off < blob.content.size(); off += kChunk) {
    part.set_chunk(blob.content.substr(off, kChunk));
    open = writer->Write(part);
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return ToAbsl(s, "uploading an attachment");
  return info.id();
}

// As a case system does: the server takes a few uploads at once per caller
// and answers RESOURCE_EXHAUSTED beyond that; wait and retry (the same
// request id, so a retry never stores twice), for at most 10 s.
absl::StatusOr<std::string> Upload(v1::ReferralService::Stub& stub, const std::string& request_id,
                                   const Blob& blob) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::string> id = UploadOnce(stub, request_id, blob);
    if (id.status().code() != absl::StatusCode::kResourceExhausted || attempt == 200) return id;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// A guardian consent recorded by `caller` for the child, for `recipients`.
absl::StatusOr<std::string> RecordConsent(const Connector& c, const std::string& caller,
                                          bool main_caller,
                                          const std::vector<std::string>& recipients) {
  auto channel = c.Connect(caller, main_caller);
  if (!channel.ok()) return channel.status();
  v1::RecordConsentRequest req;
  req.set_request_id(absl::StrCat(c.run_id(), "-consent-", caller));
  req.set_subject_national_id(Child());
  req.set_giver(v1::CONSENT_GIVER_GUARDIAN);
  req.set_giver_relation(v1::GUARDIAN_RELATION_MOTHER);
  if (recipients.size() == 1) {
    req.mutable_recipient()->set_agency(recipients[0]);
  } else {
    for (const auto& r : recipients) req.add_recipients()->set_agency(r);
  }
  req.set_purpose("henvisning");
  req.set_scope("journalnotat");
  req.set_method(v1::CONSENT_METHOD_WRITTEN);
  v1::Consent consent;
  grpc::Status s = v1::ConsentService::NewStub(*channel)->Record(Ctx().get(), req, &consent);
  if (!s.ok()) return ToAbsl(s, absl::StrCat("recording a consent as ", caller));
  return consent.id();
}

// One stub per client on the main caller's connection, and one call shape:
// the scenarios that are a single RPC.
template <typename Service>
absl::StatusOr<std::shared_ptr<typename Service::Stub>> MainStub(const Connector& c,
                                                                 const std::string& name) {
  auto channel = c.Connect(name, /*main_caller=*/true);
  if (!channel.ok()) return channel.status();
  return std::shared_ptr<typename Service::Stub>(Service::NewStub(*channel));
}

class EchoScenario final : public Scenario {
 public:
  explicit EchoScenario(Connector c) : c_(std::move(c)) {}
  absl::StatusOr<Call> NewClient(int) override {
    auto stub = MainStub<bench::v1::EchoService>(c_, "kindergarten-staff");
    if (!stub.ok()) return stub.status();
    auto req = std::make_shared<bench::v1::EchoRequest>();
    req->set_payload(std::string(1024, 'x'));
    return Call([stub = *stub, req] {
      bench::v1::EchoResponse out;
      return stub->Echo(Ctx().get(), *req, &out);
    });
  }

 private:
  Connector c_;
};

class WhoAmIScenario final : public Scenario {
 public:
  explicit WhoAmIScenario(Connector c) : c_(std::move(c)) {}
  absl::StatusOr<Call> NewClient(int) override {
    auto stub = MainStub<v1::DirectoryService>(c_, "kindergarten-staff");
    if (!stub.ok()) return stub.status();
    return Call([stub = *stub] {
      v1::WhoAmIResponse out;
      return stub->WhoAmI(Ctx().get(), v1::WhoAmIRequest(), &out);
    });
  }

 private:
  Connector c_;
};

class CheckTextScenario final : public Scenario {
 public:
  explicit CheckTextScenario(Connector c) : c_(std::move(c)) {}
  absl::StatusOr<Call> NewClient(int) override {
    auto stub = MainStub<v1::ConsultationService>(c_, "kindergarten-staff");
    if (!stub.ok()) return stub.status();
    auto req = std::make_shared<v1::CheckTextRequest>();
    req->set_text(KibText());
    return Call([stub = *stub, req] {
      v1::CheckTextResponse out;
      return stub->CheckText(Ctx().get(), *req, &out);
    });
  }

 private:
  Connector c_;
};

class AskScenario final : public Scenario {
 public:
  AskScenario(Connector c, Payload payload)
      : c_(std::move(c)), payload_(payload), ids_(c_.run_id() + "-ask") {}
  absl::StatusOr<Call> NewClient(int) override {
    auto stub = MainStub<v1::ConsultationService>(c_, "kindergarten-staff");
    if (!stub.ok()) return stub.status();
    auto req = std::make_shared<v1::AskConsultationRequest>(AskRequest(payload_.text_bytes));
    return Call([this, stub = *stub, req] {
      req->set_request_id(ids_.Next());
      v1::Consultation out;
      return stub->Ask(Ctx().get(), *req, &out);
    });
  }

 private:
  Connector c_;
  const Payload payload_;
  RequestIds ids_;
};

// Sends as the GP office (gp-physician) to BUP under one guardian consent.
// With Payload::attach_every N, every Nth Send (counted over all clients)
// first uploads one attachment and carries it.
class SendReferralScenario : public Scenario {
 public:
  SendReferralScenario(Connector c, Payload payload)
      : c_(std::move(c)), payload_(payload), ids_(c_.run_id() + "-send") {}
  absl::Status Setup() override {
    auto consent = RecordConsent(c_, "gp-physician", /*main_caller=*/true, {kRecipient});
    if (!consent.ok()) return consent.status();
    consent_id_ = *consent;
    return absl::OkStatus();
  }
  absl::StatusOr<Call> NewClient(int index) override {
    auto stub = MainStub<v1::ReferralService>(c_, "gp-physician");
    if (!stub.ok()) return stub.status();
    auto req = std::make_shared<v1::SendReferralRequest>(
        ReferralRequest(consent_id_, payload_.text_bytes));
    std::shared_ptr<const Blob> blob;
    if (payload_.attach_every > 0) {
      blob = std::make_shared<Blob>(RandomBlob(payload_.attach_bytes, index + 1));
    }
    return Call([this, stub = *stub, req, blob] {
      const int64_t n = sent_.fetch_add(1);
      req->set_request_id(ids_.Next());
      req->clear_attachment_ids();
      const Clock::time_point start = Clock::now();
      if (blob != nullptr && n % payload_.attach_every == 0) {
        auto id = Upload(*stub, req->request_id() + "-a", *blob);
        if (!id.ok()) {
          return grpc::Status(static_cast<grpc::StatusCode>(id.status().code()),
                              std::string(id.status().message()));
        }
        req->add_attachment_ids(*id);
      }
      v1::Referral out;
      grpc::Status s = stub->Send(Ctx().get(), *req, &out);
      if (s.ok()) OnSent(out.id(), start);
      return s;
    });
  }

 protected:
  // A referral was sent by a call that started at `start`.
  virtual void OnSent(const std::string& /*referral_id*/, Clock::time_point /*start*/) {}
  Connector c_;

 private:
  const Payload payload_;
  RequestIds ids_;
  std::atomic<int64_t> sent_{0};
  std::string consent_id_;
};

// The health station drafts (helsestasjon-staff), the GP office co-signs
// (gp-physician): one call is both RPCs.
class DraftCosignScenario final : public Scenario {
 public:
  explicit DraftCosignScenario(Connector c) : c_(std::move(c)), ids_(c_.run_id() + "-draft") {}
  absl::Status Setup() override {
    auto consent =
        RecordConsent(c_, "helsestasjon-staff", /*main_caller=*/true, {kGpAgency, kRecipient});
    if (!consent.ok()) return consent.status();
    consent_id_ = *consent;
    return absl::OkStatus();
  }
  absl::StatusOr<Call> NewClient(int) override {
    auto nurse = MainStub<v1::ReferralService>(c_, "helsestasjon-staff");
    if (!nurse.ok()) return nurse.status();
    auto gp_channel = c_.Connect("gp-physician", /*main_caller=*/false);
    if (!gp_channel.ok()) return gp_channel.status();
    std::shared_ptr<v1::ReferralService::Stub> gp = v1::ReferralService::NewStub(*gp_channel);
    auto req = std::make_shared<v1::SendReferralRequest>(ReferralRequest(consent_id_));
    req->set_cosigner_agency(kGpAgency);
    return Call([this, nurse = *nurse, gp, req] {
      req->set_request_id(ids_.Next());
      v1::Referral draft;
      grpc::Status s = nurse->Draft(Ctx().get(), *req, &draft);
      if (!s.ok()) return s;
      v1::CosignReferralRequest cosign;
      cosign.set_id(draft.id());
      v1::Referral sent;
      return gp->Cosign(Ctx().get(), cosign, &sent);
    });
  }

 private:
  Connector c_;
  RequestIds ids_;
  std::string consent_id_;
};

// Sends `n` referrals about the child so that its audit trail is not empty.
absl::Status SeedReferrals(const Connector& c, int n) {
  auto consent = RecordConsent(c, "gp-physician", /*main_caller=*/false, {kRecipient});
  if (!consent.ok()) return consent.status();
  auto channel = c.Connect("gp-physician", /*main_caller=*/false);
  if (!channel.ok()) return channel.status();
  auto stub = v1::ReferralService::NewStub(*channel);
  v1::SendReferralRequest req = ReferralRequest(*consent);
  for (int i = 0; i < n; ++i) {
    req.set_request_id(absl::StrCat(c.run_id(), "-seed-", i));
    v1::Referral out;
    grpc::Status s = stub->Send(Ctx().get(), req, &out);
    if (!s.ok()) return ToAbsl(s, "sending a seed referral");
  }
  return absl::OkStatus();
}

v1::QueryAuditRequest SubjectQuery() {
  v1::QueryAuditRequest q;
  q.set_subject_national_id(Child());
  q.set_with_proofs(true);
  q.set_page_size(10);
  return q;
}

// The supervisory auditor queries the child's trail, with inclusion proofs.
class AuditQueryScenario final : public Scenario {
 public:
  explicit AuditQueryScenario(Connector c, bool can_seed) : c_(std::move(c)), seed_(can_seed) {}
  absl::Status Setup() override { return seed_ ? SeedReferrals(c_, 5) : absl::OkStatus(); }
  absl::StatusOr<Call> NewClient(int) override {
    auto stub = MainStub<v1::AuditService>(c_, "auditor");
    if (!stub.ok()) return stub.status();
    auto req = std::make_shared<v1::QueryAuditRequest>(SubjectQuery());
    return Call([stub = *stub, req] {
      v1::QueryAuditResponse out;
      return stub->Query(Ctx().get(), *req, &out);
    });
  }

 private:
  Connector c_;
  const bool seed_;
};

// The auditor asks for inclusion proofs of random leaves against the latest
// checkpoint (read once before the clock).
class AuditProofScenario final : public Scenario {
 public:
  explicit AuditProofScenario(Connector c) : c_(std::move(c)) {}
  absl::Status Setup() override {
    auto stub = MainStub<v1::AuditService>(c_, "auditor");
    if (!stub.ok()) return stub.status();
    v1::Checkpoint checkpoint;
    grpc::Status s = (*stub)->GetCheckpoint(Ctx().get(), v1::GetCheckpointRequest(), &checkpoint);
    if (!s.ok()) return ToAbsl(s, "reading the checkpoint");
    if (checkpoint.tree_size() == 0) return absl::FailedPreconditionError("the audit log is empty");
    tree_size_ = checkpoint.tree_size();
    return absl::OkStatus();
  }
  absl::StatusOr<Call> NewClient(int index) override {
    auto stub = MainStub<v1::AuditService>(c_, "auditor");
    if (!stub.ok()) return stub.status();
    auto random = std::make_shared<std::mt19937_64>(index + 1);
    return Call([this, stub = *stub, random] {
      v1::GetInclusionProofRequest req;
      req.set_index((*random)() % tree_size_);
      req.set_tree_size(tree_size_);
      v1::InclusionProof out;
      return stub->GetInclusionProof(Ctx().get(), req, &out);
    });
  }

 private:
  Connector c_;
  uint64_t tree_size_ = 0;
};

// Senders as in send-referral; one watcher (bup-clinician, its own consumer
// name) subscribes to BUP's inbox. Measures events delivered per second and
// the time from the start of a Send to the watcher receiving its event.
class InboxScenario final : public SendReferralScenario {
 public:
  explicit InboxScenario(Connector c) : SendReferralScenario(std::move(c), Payload()) {}
  ~InboxScenario() override { StopWatcher(); }

  absl::Status Start() override {
    auto channel = c_.Connect("bup-clinician", /*main_caller=*/false);
    if (!channel.ok()) return channel.status();
    stub_ = v1::InboxService::NewStub(*channel);
    context_ = std::make_unique<grpc::ClientContext>();
    v1::SubscribeRequest req;
    req.set_consumer(absl::StrCat("loadgen-", c_.run_id()).substr(0, 64));
    reader_ = stub_->Subscribe(context_.get(), req);
    last_event_ = Clock::now();
    watcher_ = std::thread([this] {
      v1::InboxEvent event;
      while (reader_->Read(&event)) {
        std::lock_guard<std::mutex> lock(mu_);
        arrived_.emplace(event.resource().id(), Clock::now());
        last_event_ = Clock::now();
      }
    });
    // A new consumer first gets every stored event of the agency: let that
    // replay end (the stream quiet for 300 ms, at most 60 s) before the clock.
    const Clock::time_point give_up = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::lock_guard<std::mutex> lock(mu_);
      if (Clock::now() - last_event_ > std::chrono::milliseconds(300)) break;
    }
    return absl::OkStatus();
  }

  void Finish(Clock::time_point start, RunResult* result) override {
    // Wait (at most 5 s) for the events of every referral sent.
    const Clock::time_point give_up = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < give_up && Undelivered() > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    StopWatcher();
    std::lock_guard<std::mutex> lock(mu_);
    result->latencies_us.clear();
    Clock::time_point last = start;
    for (const auto& [id, sent] : sent_) {
      auto it = arrived_.find(id);
      if (it == arrived_.end()) continue;
      result->latencies_us.push_back(
          std::chrono::duration<double, std::micro>(it->second - sent).count());
      last = std::max(last, it->second);
    }
    const int64_t delivered = static_cast<int64_t>(result->latencies_us.size());
    result->errors += static_cast<int64_t>(sent_.size()) - delivered;
    result->seconds = std::chrono::duration<double>(last - start).count();
    result->rps = result->seconds > 0 ? static_cast<double>(delivered) / result->seconds : 0;
  }

 protected:
  void OnSent(const std::string& referral_id, Clock::time_point start) override {
    std::lock_guard<std::mutex> lock(mu_);
    sent_.emplace(referral_id, start);
  }

 private:
  size_t Undelivered() {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& entry : sent_) n += arrived_.count(entry.first) == 0 ? 1 : 0;
    return n;
  }
  void StopWatcher() {
    if (!watcher_.joinable()) return;
    context_->TryCancel();
    watcher_.join();
    (void)reader_->Finish();
  }

  std::unique_ptr<v1::InboxService::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<v1::InboxEvent>> reader_;
  std::thread watcher_;
  std::mutex mu_;
  std::map<std::string, Clock::time_point> sent_;
  std::map<std::string, Clock::time_point> arrived_;
  Clock::time_point last_event_;
};

// A realistic day: mostly reads, some consultations and referrals, a few
// audit queries. Per call, by a fixed per-client random sequence:
//   30% consultation List (kindergarten staff, sent mailbox)
//   15% referral Get, 10% referral List (GP office)
//   10% directory GetAgency
//   10% CheckText, 10% Ask (kindergarten staff)
//   10% referral Send (GP office)
//    5% audit Query by subject with proofs (auditor)
class MixedScenario final : public Scenario {
 public:
  explicit MixedScenario(Connector c) : c_(std::move(c)), ids_(c_.run_id() + "-mixed") {}
  absl::Status Setup() override {
    auto consent = RecordConsent(c_, "gp-physician", /*main_caller=*/false, {kRecipient});
    if (!consent.ok()) return consent.status();
    consent_id_ = *consent;
    auto channel = c_.Connect("gp-physician", /*main_caller=*/false);
    if (!channel.ok()) return channel.status();
    v1::SendReferralRequest req = ReferralRequest(consent_id_);
    req.set_request_id(ids_.Next());
    v1::Referral out;
    grpc::Status s = v1::ReferralService::NewStub(*channel)->Send(Ctx().get(), req, &out);
    if (!s.ok()) return ToAbsl(s, "sending the referral the reads get");
    referral_id_ = out.id();
    return absl::OkStatus();
  }

  absl::StatusOr<Call> NewClient(int index) override {
    auto staff = c_.Connect("kindergarten-staff", /*main_caller=*/false);
    auto gp = c_.Connect("gp-physician", /*main_caller=*/false);
    auto auditor = c_.Connect("auditor", /*main_caller=*/false);
    for (const auto* ch : {&staff, &gp, &auditor}) {
      if (!ch->ok()) return ch->status();
    }
    auto clients = std::make_shared<Clients>();
    clients->consultations = v1::ConsultationService::NewStub(*staff);
    clients->directory = v1::DirectoryService::NewStub(*staff);
    clients->referrals = v1::ReferralService::NewStub(*gp);
    clients->audit = v1::AuditService::NewStub(*auditor);
    clients->random.seed(static_cast<uint32_t>(index) + 1);
    return Call([this, clients] { return OneCall(*clients); });
  }

 private:
  struct Clients {
    std::unique_ptr<v1::ConsultationService::Stub> consultations;
    std::unique_ptr<v1::DirectoryService::Stub> directory;
    std::unique_ptr<v1::ReferralService::Stub> referrals;
    std::unique_ptr<v1::AuditService::Stub> audit;
    std::mt19937 random;
  };

  grpc::Status OneCall(Clients& c) {
    const int roll = static_cast<int>(c.random() % 100);
    if (roll < 30) {
      v1::ListConsultationsRequest req;
      req.set_mailbox(v1::MAILBOX_SENT);
      req.set_page_size(20);
      v1::ListConsultationsResponse out;
      return c.consultations->List(Ctx().get(), req, &out);
    }
    if (roll < 45) {
      v1::GetReferralRequest req;
      req.set_id(referral_id_);
      v1::Referral out;
      return c.referrals->Get(Ctx().get(), req, &out);
    }
    if (roll < 55) {
      v1::ListReferralsRequest req;
      req.set_mailbox(v1::MAILBOX_SENT);
      req.set_page_size(20);
      v1::ListReferralsResponse out;
      return c.referrals->List(Ctx().get(), req, &out);
    }
    if (roll < 65) {
      v1::GetAgencyRequest req;
      req.set_id(kRecipient);
      v1::Agency out;
      return c.directory->GetAgency(Ctx().get(), req, &out);
    }
    if (roll < 75) {
      v1::CheckTextRequest req;
      req.set_text(KibText());
      v1::CheckTextResponse out;
      return c.consultations->CheckText(Ctx().get(), req, &out);
    }
    if (roll < 85) {
      v1::AskConsultationRequest req = AskRequest();
      req.set_request_id(ids_.Next());
      v1::Consultation out;
      return c.consultations->Ask(Ctx().get(), req, &out);
    }
    if (roll < 95) {
      v1::SendReferralRequest req = ReferralRequest(consent_id_);
      req.set_request_id(ids_.Next());
      v1::Referral out;
      return c.referrals->Send(Ctx().get(), req, &out);
    }
    v1::QueryAuditResponse out;
    return c.audit->Query(Ctx().get(), SubjectQuery(), &out);
  }

  Connector c_;
  RequestIds ids_;
  std::string consent_id_;
  std::string referral_id_;
};

}  // namespace

const std::vector<std::string>& ScenarioNames() {
  static const std::vector<std::string> names = {
      "echo",        "check-text",  "ask",   "send-referral", "draft-cosign",
      "audit-query", "audit-proof", "inbox", "mixed",         "whoami"};
  return names;
}

absl::StatusOr<std::unique_ptr<Scenario>> MakeScenario(const std::string& name,
                                                       const Target& target,
                                                       const Payload& payload) {
  Connector c(target);
  if (name == "echo") return std::make_unique<EchoScenario>(std::move(c));
  if (name == "whoami") return std::make_unique<WhoAmIScenario>(std::move(c));
  if (name == "check-text") return std::make_unique<CheckTextScenario>(std::move(c));
  if (name == "ask") return std::make_unique<AskScenario>(std::move(c), payload);
  if (name == "send-referral") {
    return std::make_unique<SendReferralScenario>(std::move(c), payload);
  }
  if (name == "audit-proof") return std::make_unique<AuditProofScenario>(std::move(c));
  if (name == "draft-cosign") return std::make_unique<DraftCosignScenario>(std::move(c));
  if (name == "audit-query") {
    const bool can_seed = !target.certs_dir.empty();
    return std::make_unique<AuditQueryScenario>(std::move(c), can_seed);
  }
  if (name == "inbox") return std::make_unique<InboxScenario>(std::move(c));
  if (name == "mixed") return std::make_unique<MixedScenario>(std::move(c));
  return absl::InvalidArgumentError(absl::StrCat("unknown scenario '", name, "'"));
}

}  // namespace budstikke::loadgen
