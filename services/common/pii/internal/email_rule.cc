#include "services/common/pii/internal/email_rule.h"

#include <cstring>

#include "services/common/pii/internal/text.h"

namespace budstikke::pii::pii_internal {
namespace {

// Start of the local part that ends at '@' text[at], or `at` if empty.
size_t LocalPartStart(std::string_view text, size_t at) {
  size_t s = at;
  while (s > 0) {
    const unsigned char c = text[s - 1];
    if (IsAsciiAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-') {
      --s;
    } else {
      break;
    }
  }
  while (s < at && text[s] == '.') ++s;
  return s;
}

// End of the domain after '@' text[at], or npos when it has no dot or no
// alphabetic top-level domain of two or more letters.
size_t DomainEnd(std::string_view text, size_t at) {
  const size_t n = text.size();
  size_t e = at + 1;
  size_t last_dot = std::string_view::npos;
  while (e < n) {
    const unsigned char c = text[e];
    if (IsAsciiAlnum(c) || c == '-') {
      ++e;
    } else if (c == '.' && e + 1 < n && IsAsciiAlnum(text[e + 1])) {
      last_dot = e;
      ++e;
    } else {
      break;
    }
  }
  if (last_dot == std::string_view::npos || last_dot <= at + 1) return std::string_view::npos;
  if (e - last_dot - 1 < 2) return std::string_view::npos;
  for (size_t i = last_dot + 1; i < e; ++i) {
    if (!IsAsciiAlpha(text[i])) return std::string_view::npos;
  }
  return e;
}

}  // namespace

void FindEmails(std::string_view text, std::vector<Candidate>* out) {
  const char* base = text.data();
  const size_t n = text.size();
  size_t from = 0;
  while (from < n) {
    const void* hit = std::memchr(base + from, '@', n - from);
    if (hit == nullptr) break;
    const size_t at = static_cast<const char*>(hit) - base;
    from = at + 1;
    const size_t s = LocalPartStart(text, at);
    if (s == at) continue;
    const size_t e = DomainEnd(text, at);
    if (e == std::string_view::npos) continue;
    out->push_back({FindingKind::kEmail, s, e});
    from = e;
  }
}

}  // namespace budstikke::pii::pii_internal
