// Fuzzes the PII scanner (services/common/pii/scanner.h) on arbitrary bytes
// (the API checks UTF-8 before screening, the scanner must still not crash on
// anything). Invariants: findings lie within the text, are non-empty, sorted,
// do not overlap and carry their index as id; severities follow the config;
// the verdict is the highest severity; scanning is deterministic; a
// NATIONAL_ID finding holds 11 digits that pass the checksum.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "services/common/national_id.h"
#include "services/common/national_id_testing.h"
#include "services/common/pii/scanner.h"
#include "tests/fuzz/fuzz_support.h"

namespace budstikke::fuzz {
namespace {

const pii::Scanner& TheScanner() {
  static const pii::Scanner* scanner = [] {
    auto s = pii::Scanner::Create(pii::ScannerConfig());
    if (!s.ok()) std::abort();
    return s->release();
  }();
  return *scanner;
}

void CheckNationalIdFinding(std::string_view text, const pii::Finding& f) {
  std::string digits;
  for (size_t i = f.start; i < f.end; ++i) {
    if (text[i] >= '0' && text[i] <= '9') digits.push_back(text[i]);
  }
  FUZZ_CHECK(digits.size() == 11);
  FUZZ_CHECK(common::IsValidNationalIdDigits(digits.data(), /*allow_synthetic=*/true));
}

}  // namespace
}  // namespace budstikke::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using budstikke::common::testing::MakeSyntheticNationalId;
  budstikke::fuzz::MaybeWriteSeeds({
      "Gutten (6) sover lite og er redd om kvelden. Foreldrene er bekymret.",
      "Ring meg paa 912 34 567 eller +47 22334455, e-post ola.nordmann@example.no.",
      "Fnr " + MakeSyntheticNationalId(2016, 5, 17, 530) + " og " +
          MakeSyntheticNationalId(2012, 1, 3, 610).insert(6, " ") + ".",
      "Emma er foedt 14.03.2019 og bor i Storgata 12, 0155 Oslo. Lille Jonas' bror.",
      "Hawa gr\xc3\xa5ter hver morgen. F\xc3\xb8"
      "dt 3. mars 2019, Kirkevn. 7 B.",
      "konto 1234.56.78903, dato 2019-03-14, 14/3-19",
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace budstikke;
  using namespace budstikke::fuzz;
  const std::string_view text = AsView(data, size);
  const pii::Scanner& scanner = TheScanner();
  const std::vector<pii::Finding> findings = scanner.Scan(text);
  const auto severities = pii::DefaultSeverities();
  pii::Verdict expect = pii::Verdict::kOk;
  for (size_t i = 0; i < findings.size(); ++i) {
    const pii::Finding& f = findings[i];
    FUZZ_CHECK(f.id == static_cast<int>(i));
    FUZZ_CHECK(f.start < f.end && f.end <= size);
    if (i > 0) FUZZ_CHECK(findings[i - 1].end <= f.start);
    FUZZ_CHECK(severities.at(f.kind) == f.severity);
    FUZZ_CHECK(!pii::FindingKindName(f.kind).empty());
    if (f.kind == pii::FindingKind::kNationalId) CheckNationalIdFinding(text, f);
    if (f.severity == pii::Severity::kRefuse) {
      expect = pii::Verdict::kRefuse;
    } else if (expect == pii::Verdict::kOk) {
      expect = pii::Verdict::kWarn;
    }
  }
  FUZZ_CHECK(pii::VerdictOf(findings) == expect);
  FUZZ_CHECK(scanner.Scan(text) == findings);
  return 0;
}
