// Fuzzes the record codecs of the services: the value frame and time-ordered
// ids (services/common/record_codec.h), the sealed records of consents and
// referrals (services/common/sealed_records.h: Frame(pseudonym, envelope)),
// and the long-text serializer the referral and consultation records are
// stored and sent with. The first input byte picks a mode:
//   0  Unframe: an accepted frame is Frame(a, b) again;
//   1  a stored consent/referral value: Peek and Open never crash, and only
//      a value sealed here opens (for a reader Peek names);
//   2  Seal then Peek and Open by every reader give back pseudonym and text;
//   3  a Referral, 4 a Consultation, 5 a Consent (protobuf):
//      SerializeLongTextsUnchecked and StashLongTextsForWire give bytes that
//      parse back to the same record;
//   6  TimeOfId: a TimeOrderedId of the time it reads gives that time back.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>

#include "absl/time/time.h"
#include "budstikke/v1/consent.pb.h"
#include "budstikke/v1/consultation.pb.h"
#include "budstikke/v1/referral.pb.h"
#include "services/common/record_codec.h"
#include "services/common/sealed_records.h"
#include "storage/keyring.h"
#include "tests/fuzz/fuzz_support.h"

namespace budstikke::fuzz {
namespace {

using google::protobuf::Message;
using google::protobuf::util::MessageDifferencer;

constexpr char kCf[] = "referrals";
constexpr char kKey[] = "r/ref-0001";
const std::vector<std::string> kReaders = {"legekontor-sentrum", "bup-oslo"};

struct World {
  storage::Keyring* keyring;
  common::SealedRecords* records;
  std::string pseudonym;
};

World& TheWorld() {
  static World* w = [] {
    std::vector<std::string> cfs = storage::Keyring::ColumnFamilies();
    cfs.push_back(kCf);
    auto* world = new World;
    world->keyring =
        storage::Keyring::Create(storage::SecretBytes(std::string(32, 'k')), TempStore(cfs))
            ->release();
    for (const auto& a : kReaders) {
      if (!world->keyring->EnsureAgencyKey(a).ok()) std::abort();
    }
    world->records = common::SealedRecords::Create(world->keyring)->release();
    world->pseudonym = *world->records->Pseudonymize("01821512345");
    return world;
  }();
  return *w;
}

void Unframe(std::string_view in) {
  std::string a, b;
  if (common::Unframe(absl::string_view(in.data(), in.size()), &a, &b)) {
    FUZZ_CHECK(common::Frame(a, b) == in);
  }
}

void StoredValue(std::string_view value) {
  const World& w = TheWorld();
  auto clear = common::SealedRecords::Peek(value);
  std::vector<std::string> who = {"", "stranger"};
  if (clear.ok()) {
    for (const auto& r : clear->readers) who.push_back(r);
  } else {
    FUZZ_CHECK(clear.status().code() == absl::StatusCode::kDataLoss);
  }
  for (const auto& reader : who) {
    auto opened = w.records->Open(kCf, kKey, value, reader);
    if (opened.ok()) FUZZ_CHECK(clear.ok() && opened->pseudonym == clear->pseudonym);
  }
}

void SealOpen(std::string_view text) {
  const World& w = TheWorld();
  auto sealed = w.records->Seal(kCf, kKey, w.pseudonym, text, kReaders);
  FUZZ_CHECK(sealed.ok());
  auto clear = common::SealedRecords::Peek(*sealed);
  FUZZ_CHECK(clear.ok() && clear->pseudonym == w.pseudonym && clear->readers == kReaders);
  for (const std::string& reader : {std::string(), kReaders[0], kReaders[1]}) {
    auto opened = w.records->Open(kCf, kKey, *sealed, reader);
    FUZZ_CHECK(opened.ok() && opened->pseudonym == w.pseudonym && opened->plaintext == text);
  }
  // The pseudonym is bound: swapping it is DATA_LOSS.
  std::string swapped = *sealed;
  swapped[4] ^= 1;
  FUZZ_CHECK(w.records->Open(kCf, kKey, swapped, kReaders[0]).status().code() ==
             absl::StatusCode::kDataLoss);
  FUZZ_CHECK(w.records->Open(kCf, kKey, *sealed, "stranger").status().code() ==
             absl::StatusCode::kPermissionDenied);
}

void LongTexts(std::string_view bytes, Message* m) {
  if (!m->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  std::unique_ptr<Message> back(m->New());
  FUZZ_CHECK(back->ParseFromString(common::SerializeLongTextsUnchecked(*m)));
  FUZZ_CHECK(MessageDifferencer::Equals(*m, *back));
  std::unique_ptr<Message> stashed(m->New());
  stashed->CopyFrom(*m);
  common::StashLongTextsForWire(stashed.get());
  back->Clear();
  FUZZ_CHECK(back->ParseFromString(stashed->SerializeAsString()));
  FUZZ_CHECK(MessageDifferencer::Equals(*m, *back));
}

void TimeOfId(std::string_view id) {
  auto t = common::TimeOfId("ref-", absl::string_view(id.data(), id.size()));
  if (!t.has_value()) return;
  const int64_t ms = absl::ToUnixMillis(*t);
  if (ms < 0 || ms >= (int64_t{1} << 48)) return;  // 12 hex digits
  auto again = common::TimeOfId("ref-", common::TimeOrderedId("ref-", *t));
  FUZZ_CHECK(again.has_value() && *again == *t);
}

}  // namespace
}  // namespace budstikke::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace budstikke;
  using namespace budstikke::fuzz;
  const World& w = TheWorld();
  v1::Referral ref;
  ref.set_id("ref-0190a1b2c3d4e5f6a7b8c9d0");
  ref.set_reason(std::string(300, 'r') + " soevnvansker");
  ref.set_recipient_agency("bup-oslo");
  v1::Consultation cons;
  cons.set_id("c0ffee");
  cons.set_text(std::string(400, 't'));
  v1::Consent consent;
  consent.set_id("con-1");
  consent.set_purpose("henvisning til utredning");
  MaybeWriteSeeds({
      std::string(1, '\0') + common::Frame("pseudonym", "envelope"),
      "\x01" + *w.records->Seal(kCf, kKey, w.pseudonym, "samtykke", kReaders),
      "\x02" + std::string("Vedvarende soevnvansker."),
      "\x03" + ref.SerializeAsString(),
      "\x04" + cons.SerializeAsString(),
      "\x05" + consent.SerializeAsString(),
      "\x06" + common::TimeOrderedId("ref-", absl::FromUnixMillis(1767225600123)),
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace budstikke;
  using namespace budstikke::fuzz;
  if (size == 0) return 0;
  const std::string_view rest = AsView(data + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      Unframe(rest);
      break;
    case 1:
      StoredValue(rest);
      break;
    case 2:
      SealOpen(rest);
      break;
    case 3: {
      v1::Referral m;
      LongTexts(rest, &m);
      break;
    }
    case 4: {
      v1::Consultation m;
      LongTexts(rest, &m);
      break;
    }
    case 5: {
      v1::Consent m;
      LongTexts(rest, &m);
      break;
    }
    default:
      TimeOfId(rest);
      break;
  }
  return 0;
}
