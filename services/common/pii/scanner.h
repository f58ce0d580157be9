// PII scanner for anonymous consultations (DESIGN.md "Anonymous consultation"
// and `budstikke check-text`).
//
// Scan() finds identifying data in UTF-8 text and reports its kind and byte
// range, never the matched text:
//   REFUSE (default): NATIONAL_ID (checksum-valid incl. the 2032 rule, real
//            birth date after D/H/synthetic offsets, any separators/spacing;
//            not bank accounts written 4.2.5), PHONE (Norwegian 8-digit
//            numbers starting 2-9, optional +47 / 0047 / (+47), any common
//            grouping), EMAIL.
//   WARN (default):   NAME (name list, also genitives "Emmas", "Jonas'";
//            a capitalised word after a cue word "gutten", "lille"; an
//            unlisted capitalised word as a sentence's subject before a verb,
//            "Hawa gråter"), BIRTH_DATE (full dates with year: dd.mm.yyyy,
//            dd/mm/yy, 14/3-19, yyyy-mm-dd, "3. mars 2019"; a date is never
//            PHONE), ADDRESS (street name with a street suffix, written out or
//            abbreviated "Storgt.", "gt.", "vn.", "pl.", + house number;
//            4-digit postal code + place name).
//   Ordinary capitalised words (sentence starts such as "Barnet", "Hun",
//   "Mandag", place names) are not findings.
//
// Findings are sorted by start, do not overlap (on overlap the stronger kind
// wins: EMAIL, NATIONAL_ID, PHONE, BIRTH_DATE, ADDRESS, NAME), and carry their
// index as `id` (what `consult ask --ack ID` refers to).
//
// Thread safety: a Scanner is immutable after Create(); Scan() is const and
// may be called concurrently from any number of threads.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_SCANNER_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_SCANNER_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace budstikke::pii {

enum class FindingKind { kNationalId, kPhone, kEmail, kName, kBirthDate, kAddress };
enum class Severity { kWarn, kRefuse };
enum class Verdict { kOk, kWarn, kRefuse };

// Wire names used by check-text and the API: "NATIONAL_ID", "PHONE", "EMAIL",
// "NAME", "BIRTH_DATE", "ADDRESS"; "WARN", "REFUSE"; "OK", "WARN", "REFUSE".
std::string_view FindingKindName(FindingKind kind);
std::string_view SeverityName(Severity severity);
std::string_view VerdictName(Verdict verdict);

struct Finding {
  int id = 0;  // index in the returned vector
  FindingKind kind = FindingKind::kNationalId;
  Severity severity = Severity::kRefuse;
  size_t start = 0;  // byte offset into the UTF-8 input
  size_t end = 0;    // exclusive

  friend bool operator==(const Finding& a, const Finding& b) {
    return a.id == b.id && a.kind == b.kind && a.severity == b.severity && a.start == b.start &&
           a.end == b.end;
  }
};

// OK when there are no findings, else the highest severity.
Verdict VerdictOf(const std::vector<Finding>& findings);

// The defaults of DESIGN.md: NATIONAL_ID, PHONE, EMAIL refuse; NAME,
// BIRTH_DATE, ADDRESS warn.
std::map<FindingKind, Severity> DefaultSeverities();

struct ScannerConfig {
  // Which kinds are reported and how severely. Kinds absent from the map are
  // not scanned for.
  std::map<FindingKind, Severity> severities = DefaultSeverities();
  // Name list file ("first|last <Name> [common]" per line, '#' comments).
  // Empty: the list embedded at build time (services/common/pii/names_no.txt).
  std::string names_path;
  // Whether synthetic test ids (month + 80) count as national ids.
  bool allow_synthetic = true;
};

class Scanner {
 public:
  // Errors: NOT_FOUND if names_path cannot be read; INVALID_ARGUMENT for a
  // malformed name-list line (message gives the line number).
  static absl::StatusOr<std::unique_ptr<Scanner>> Create(ScannerConfig config);

  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  std::vector<Finding> Scan(std::string_view utf8_text) const;

 private:
  struct Impl;
  explicit Scanner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace budstikke::pii

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_SCANNER_H_
