// Fuzzes the audit leaf codec (services/audit/event_codec.h). The first input
// byte picks a mode:
//   0  the rest is a leaf: DecodeLeaf accepts only canonical bytes, so an
//      accepted leaf re-encodes to itself and decodes to the same event;
//   1  the rest is an AuditEvent (protobuf); if CheckEncodable accepts it (as
//      AuditIngest/Append does), EncodeLeaf then DecodeLeaf gives the same
//      event back (actor, resource and time always present, as in every leaf).
#include <cstdint>
#include <string>

#include <google/protobuf/util/message_differencer.h>

#include "budstikke/v1/audit.pb.h"
#include "services/audit/event_codec.h"
#include "tests/fuzz/fuzz_support.h"

namespace budstikke::fuzz {
namespace {

using google::protobuf::util::MessageDifferencer;

void Leaf(std::string_view leaf) {
  auto e = audit::DecodeLeaf(absl::string_view(leaf.data(), leaf.size()));
  if (!e.ok()) {
    FUZZ_CHECK(e.status().code() == absl::StatusCode::kDataLoss);
    return;
  }
  const std::string again = audit::EncodeLeaf(*e);
  FUZZ_CHECK(again == leaf);
  FUZZ_CHECK(audit::CheckEncodable(*e).ok());
  auto e2 = audit::DecodeLeaf(again);
  FUZZ_CHECK(e2.ok() && MessageDifferencer::Equals(*e, *e2));
}

void Event(std::string_view bytes) {
  v1::AuditEvent e;
  if (!e.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  // What AuditIngest/Append accepts (what the services make passes too).
  if (!audit::CheckEncodable(e).ok()) return;
  e.DiscardUnknownFields();
  // Every field is always present in a leaf: an unset actor, resource or time
  // decodes as an empty one (nothing reads their presence).
  e.mutable_actor();
  e.mutable_resource();
  e.mutable_time();
  const std::string leaf = audit::EncodeLeaf(e);
  auto back = audit::DecodeLeaf(leaf);
  if (!back.ok()) {
    std::fprintf(stderr, "%s\nleaf: %s\n", back.status().ToString().c_str(), leaf.c_str());
  }
  FUZZ_CHECK(back.ok());
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (!differencer.Compare(e, *back)) std::fprintf(stderr, "round trip differs:\n%s", diff.c_str());
  FUZZ_CHECK(diff.empty());
}

v1::AuditEvent Sample(uint64_t index) {
  v1::AuditEvent e;
  e.set_index(index);
  e.mutable_time()->set_seconds(1767225600 + static_cast<int64_t>(index));
  e.mutable_time()->set_nanos(index % 2 ? 123456000 : 0);
  e.mutable_actor()->set_agency("bup-oslo");
  e.mutable_actor()->set_user("terapeut1");
  e.mutable_actor()->set_role(v1::ROLE_CLINICIAN);
  e.set_action(index % 2 ? "referral.read" : "consent.record");
  e.mutable_resource()->set_kind(v1::RESOURCE_KIND_REFERRAL);
  e.mutable_resource()->set_id("ref-0190a1b2c3d4e5f6a7b8c9d0");
  e.set_subject(std::string(64, 'a'));
  e.set_outcome(index % 3 ? v1::AUDIT_OUTCOME_ALLOWED : v1::AUDIT_OUTCOME_DENIED);
  if (index % 3 == 0) e.set_rule("consent.revoked");
  e.set_legal_basis(v1::LEGAL_BASIS_CONSENT);
  e.set_consent_id("con-0001");
  e.set_request_id("req-\xc3\xa6\xc3\xb8\xc3\xa5 \"quoted\"\n");
  return e;
}

}  // namespace
}  // namespace budstikke::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace budstikke;
  using namespace budstikke::fuzz;
  MaybeWriteSeeds({
      std::string(1, '\0') + audit::EncodeLeaf(Sample(0)),
      std::string(1, '\0') + audit::EncodeLeaf(Sample(17)),
      std::string(1, '\0') + audit::EncodeLeaf(v1::AuditEvent()),
      "\x01" + Sample(3).SerializeAsString(),
      "\x01" + Sample(4).SerializeAsString(),
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace budstikke::fuzz;
  if (size == 0) return 0;
  const std::string_view rest = AsView(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    Leaf(rest);
  } else {
    Event(rest);
  }
  return 0;
}
