// Fuzzes keyring decoding (storage/keyring.h): the stored key records of one
// agency come from the input, written straight into the "keys" column family
// of a real store, then a fresh Keyring (no cache) lists, loads and rotates.
// Input: up to 8 records [u8 n][n bytes: key name after "agency/fz/v/"]
// [u8 m][m bytes: value]; records are removed again after each input.
// Invariants: versions listed ascending and in range; a loaded key encrypts
// and decrypts; Rotate gives a new current version above every listed one.
#include <cstdint>
#include <string>
#include <vector>

#include "storage/keyring.h"
#include "tests/fuzz/fuzz_support.h"

namespace budstikke::fuzz {
namespace {

constexpr char kAgency[] = "fz";
constexpr char kPrefix[] = "agency/fz/v/";
const storage::SecretBytes& MasterKey() {
  static const auto* key = new storage::SecretBytes(std::string(32, 'm'));
  return *key;
}

storage::Store* TheStore() {
  static storage::Store* store = TempStore(storage::Keyring::ColumnFamilies());
  return store;
}

void Clear(storage::Store* store) {
  std::vector<std::string> keys;
  for (auto it = store->Scan(storage::Keyring::kKeysColumnFamily, ""); it->Valid(); it->Next()) {
    keys.emplace_back(it->key());
  }
  for (const auto& k : keys) FUZZ_CHECK(store->Delete(storage::Keyring::kKeysColumnFamily, k).ok());
  // The deletes leave tombstones that every later scan walks over: compact
  // them away now and then, or the target slows down from ~100 to ~20 inputs
  // a second within minutes.
  static int cleared = 0;
  if (++cleared % 256 == 0) {
    FUZZ_CHECK(store->CompactColumnFamily(storage::Keyring::kKeysColumnFamily).ok());
  }
}

void Exercise(storage::Keyring& keyring) {
  auto versions = keyring.ListVersions(kAgency);
  if (versions.ok()) {
    for (size_t i = 0; i < versions->size(); ++i) {
      const auto& v = (*versions)[i];
      FUZZ_CHECK(v.version >= 1 && v.version <= 99999999);
      if (i > 0) FUZZ_CHECK((*versions)[i - 1].version < v.version);
      auto aead = keyring.AgencyAead(kAgency, v.version);
      if (aead.ok()) {
        FUZZ_CHECK(!v.shredded && *aead != nullptr);
        auto sealed = (*aead)->Encrypt("data key", "aad");
        FUZZ_CHECK(sealed.ok());
        auto opened = (*aead)->Decrypt(*sealed, "aad");
        FUZZ_CHECK(opened.ok() && *opened == "data key");
      }
    }
    auto current = keyring.CurrentVersion(kAgency);
    FUZZ_CHECK(current.ok() == !versions->empty());
    if (current.ok()) FUZZ_CHECK(*current == versions->back().version);
    (void)keyring.CurrentAgencyAead(kAgency);
  }
  auto rotated = keyring.Rotate(kAgency);
  if (rotated.ok()) {
    if (versions.ok() && !versions->empty()) FUZZ_CHECK(*rotated > versions->back().version);
    FUZZ_CHECK(*keyring.CurrentVersion(kAgency) == *rotated);
    FUZZ_CHECK(keyring.AgencyAead(kAgency, *rotated).ok());
    auto current = keyring.CurrentAgencyAead(kAgency);
    FUZZ_CHECK(current.ok() && current->first == *rotated);
  } else {
    // Only a store that already fails to list can refuse a rotation.
    FUZZ_CHECK(!versions.ok() || (!versions->empty() && versions->back().version == 99999999));
  }
}

// Records of a real keyring: v1 shredded, v2 and v3 wrapped.
std::vector<std::pair<std::string, std::string>> RealRecords() {
  storage::Store* store = TheStore();
  auto keyring = storage::Keyring::Create(MasterKey(), store);
  if (!keyring.ok() || !(*keyring)->Rotate(kAgency).ok() || !(*keyring)->Rotate(kAgency).ok() ||
      !(*keyring)->Rotate(kAgency).ok() || !(*keyring)->Shred(kAgency, 1).ok()) {
    std::abort();
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = store->Scan(storage::Keyring::kKeysColumnFamily, kPrefix); it->Valid();
       it->Next()) {
    out.emplace_back(std::string(it->key().substr(sizeof kPrefix - 1)), std::string(it->value()));
  }
  Clear(store);
  return out;
}

std::string Encode(const std::vector<std::pair<std::string, std::string>>& records) {
  std::string out;
  for (const auto& [k, v] : records) {
    out.push_back(static_cast<char>(k.size()));
    out += k;
    out.push_back(static_cast<char>(v.size()));
    out += v;
  }
  return out;
}

}  // namespace
}  // namespace budstikke::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace budstikke::fuzz;
  const auto real = RealRecords();
  std::vector<std::string> seeds = {Encode(real)};
  for (const auto& r : real) seeds.push_back(Encode({r}));
  seeds.push_back(Encode({{"00000007", std::string(1, '\0')}}));
  seeds.push_back(Encode({{"0000000x", "\x01garbage"}, {"00000001", ""}}));
  MaybeWriteSeeds(seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace budstikke;
  using namespace budstikke::fuzz;
  storage::Store* store = TheStore();
  std::string_view in = AsView(data, size);
  for (int n = 0; n < 8 && in.size() >= 2; ++n) {
    const size_t klen = static_cast<uint8_t>(in[0]);
    if (in.size() < 1 + klen + 1) break;
    const std::string key = std::string(kPrefix) + std::string(in.substr(1, klen));
    const size_t vlen = static_cast<uint8_t>(in[1 + klen]);
    in.remove_prefix(2 + klen);
    const std::string value(in.substr(0, vlen));
    in.remove_prefix(value.size());
    FUZZ_CHECK(store->Put(storage::Keyring::kKeysColumnFamily, key, value).ok());
  }
  {
    auto keyring = storage::Keyring::Create(MasterKey(), store);
    FUZZ_CHECK(keyring.ok());
    Exercise(**keyring);
  }
  Clear(store);
  return 0;
}
