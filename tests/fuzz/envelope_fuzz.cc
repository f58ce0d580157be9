// Fuzzes envelope decoding (storage/envelope.h) over a real keyring on a
// temporary RocksDB store. The first input byte picks a mode:
//   0  the rest is a stored value: Readers() and Open() for every named
//      reader and a stranger must not crash; Readers() obeys the format's
//      bounds;
//   1  the rest patches a value sealed at start-up ([u16 offset][u8 xor]...,
//      then an optional cut): Open must refuse any change (soundness of the
//      authenticated header and content), and open the unchanged value;
//   2  the rest is plaintext: Seal then Open by every reader gives it back,
//      Readers() names them with their current key versions.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/envelope.h"
#include "storage/keyring.h"
#include "tests/fuzz/fuzz_support.h"

namespace budstikke::fuzz {
namespace {

constexpr char kCf[] = "records";
constexpr char kKey[] = "r/ref-0001";
const std::vector<std::string> kReaders = {"bup-oslo", "legekontor-sentrum", "ppt-oslo"};

struct World {
  storage::Keyring* keyring;
  storage::Envelope* envelope;
  std::vector<std::string> sealed;  // templates for mode 1
};

World& TheWorld() {
  static World* w = [] {
    std::vector<std::string> cfs = storage::Keyring::ColumnFamilies();
    cfs.push_back(kCf);
    storage::Store* store = TempStore(cfs);
    auto* world = new World;
    world->keyring =
        storage::Keyring::Create(storage::SecretBytes(std::string(32, 'k')), store)->release();
    for (const auto& a : kReaders) {
      if (!world->keyring->EnsureAgencyKey(a).ok()) std::abort();
    }
    // A second key version for one reader, so headers carry different versions.
    if (!world->keyring->Rotate("ppt-oslo").ok()) std::abort();
    world->envelope = storage::Envelope::Create(world->keyring)->release();
    world->sealed.push_back(*world->envelope->Seal(kCf, kKey, "kort", {"bup-oslo"}));
    world->sealed.push_back(
        *world->envelope->Seal(kCf, kKey, "Henvisning: vedvarende soevnvansker.", kReaders));
    return world;
  }();
  return *w;
}

void RawValue(const World& w, std::string_view value) {
  auto readers = storage::Envelope::Readers(value);
  std::vector<std::string> who = {"stranger"};
  if (readers.ok()) {
    FUZZ_CHECK(!readers->empty() && readers->size() <= 255);
    for (const auto& r : *readers) {
      FUZZ_CHECK(!r.agency.empty() && r.agency.size() <= 255);
      who.push_back(r.agency);
    }
  }
  for (const auto& agency : who) {
    auto opened = w.envelope->Open(kCf, kKey, value, agency);
    // Nothing but a value sealed here opens; random bytes never do.
    if (opened.ok()) FUZZ_CHECK(readers.ok());
  }
}

void Patched(const World& w, std::string_view input) {
  if (input.empty()) return;
  const std::string& original = w.sealed[static_cast<uint8_t>(input[0]) % w.sealed.size()];
  std::string value = original;
  input.remove_prefix(1);
  while (input.size() >= 3) {
    const size_t offset = (static_cast<uint8_t>(input[0]) << 8 | static_cast<uint8_t>(input[1]));
    value[offset % value.size()] ^= input[2];
    input.remove_prefix(3);
  }
  if (!input.empty()) value.resize(static_cast<uint8_t>(input[0]) % (value.size() + 1));
  for (const auto& agency : kReaders) {
    auto opened = w.envelope->Open(kCf, kKey, value, agency);
    if (opened.ok()) FUZZ_CHECK(value == original);
    const auto readers = storage::Envelope::Readers(value);
    if (value == original && readers.ok()) {
      bool named = false;
      for (const auto& r : *readers) named |= r.agency == agency;
      FUZZ_CHECK(opened.ok() == named);
    }
  }
  // Moved to another record or column family: never opens.
  FUZZ_CHECK(!w.envelope->Open(kCf, "r/ref-0002", value, "bup-oslo").ok());
  FUZZ_CHECK(!w.envelope->Open("other", kKey, value, "bup-oslo").ok());
}

void RoundTrip(const World& w, std::string_view plaintext) {
  std::vector<std::string> readers = kReaders;
  if (!plaintext.empty()) readers.resize(1 + static_cast<uint8_t>(plaintext[0]) % kReaders.size());
  auto sealed = w.envelope->Seal(kCf, kKey, plaintext, readers);
  FUZZ_CHECK(sealed.ok());
  auto named = storage::Envelope::Readers(*sealed);
  FUZZ_CHECK(named.ok() && named->size() == readers.size());
  for (size_t i = 0; i < readers.size(); ++i) {
    FUZZ_CHECK((*named)[i].agency == readers[i]);
    FUZZ_CHECK((*named)[i].key_version == *w.keyring->CurrentVersion(readers[i]));
    auto opened = w.envelope->Open(kCf, kKey, *sealed, readers[i]);
    FUZZ_CHECK(opened.ok() && *opened == plaintext);
  }
  FUZZ_CHECK(w.envelope->Open(kCf, kKey, *sealed, "stranger").status().code() ==
             absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace budstikke::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using budstikke::fuzz::TheWorld;
  const auto& w = TheWorld();
  budstikke::fuzz::MaybeWriteSeeds({
      std::string(1, '\0') + w.sealed[0],
      std::string(1, '\0') + w.sealed[1],
      std::string("\x01\x01\x00\x05\x01", 5),
      std::string("\x01\x00\x00\x40\x80\x07", 6),
      std::string("\x02") + "Gutten sover lite.",
      std::string("\x02\x02") + std::string(300, 'x'),
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace budstikke::fuzz;
  if (size == 0) return 0;
  const World& w = TheWorld();
  const std::string_view rest = AsView(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      RawValue(w, rest);
      break;
    case 1:
      Patched(w, rest);
      break;
    default:
      RoundTrip(w, rest);
      break;
  }
  return 0;
}
