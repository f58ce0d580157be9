#include "services/common/pii/internal/name_rules.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/pii/internal/text.h"

namespace budstikke::pii::pii_internal {
namespace {

// Words after which a capitalised word is a name ("gutten Zyxtor").
constexpr std::string_view kCueWords[] = {"gutten",
                                          "gutt",
                                          "jenta",
                                          "jente",
                                          "jenten",
                                          "barnet",
                                          "eleven",
                                          "mor",
                                          "far",
                                          "mora",
                                          "moren",
                                          "faren",
                                          "mamma",
                                          "pappa",
                                          "bror",
                                          "broren",
                                          "s\xC3\xB8ster",
                                          "s\xC3\xB8steren",
                                          "s\xC3\xB8stera",
                                          "heter",
                                          "het",
                                          "kalt",
                                          "kalles",
                                          "navn",
                                          "navnet",
                                          "onkel",
                                          "tante",
                                          "bestemor",
                                          "bestefar",
                                          "farmor",
                                          "mormor",
                                          "morfar",
                                          "farfar",
                                          "stefar",
                                          "stemor",
                                          "stefaren",
                                          "stemoren",
                                          "venninnen",
                                          "venninna",
                                          "vennen",
                                          "kompisen",
                                          "lillebror",
                                          "storebror",
                                          "lilles\xC3\xB8ster",
                                          "stores\xC3\xB8ster",
                                          "s\xC3\xB8nnen",
                                          "datteren",
                                          "dattera",
                                          "fosterfar",
                                          "fostermor",
                                          "kj\xC3\xA6resten",
                                          "samboer",
                                          "samboeren",
                                          "foresatt",
                                          "verge"};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read name list ", path));
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

absl::Status LoadNames(std::string_view data, absl::flat_hash_map<std::string_view, bool>* names) {
  // Debian's Abseil has its own string_view; the keys must be std ones.
  auto sv = [](absl::string_view s) { return std::string_view(s.data(), s.size()); };
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(data.data(), data.size()), '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() < 2 || parts.size() > 3 || (parts[0] != "first" && parts[0] != "last") ||
        (parts.size() == 3 && parts[2] != "common")) {
      return absl::InvalidArgumentError(
          absl::StrCat("name list line ", line_no, ": expected \"first|last <Name> [common]\""));
    }
    const bool common = parts.size() == 3;
    auto [it, inserted] = names->emplace(sv(parts[1]), common);
    if (!inserted) it->second = it->second || common;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NameRules>> NameRules::Create(const std::string& names_path) {
  std::unique_ptr<NameRules> rules(new NameRules());
  std::string_view data = kEmbeddedNames;
  if (!names_path.empty()) {
    absl::StatusOr<std::string> file = ReadFile(names_path);
    if (!file.ok()) return file.status();
    rules->storage_ = *std::move(file);
    data = rules->storage_;
  }
  absl::Status st = LoadNames(data, &rules->names_);
  if (!st.ok()) return st;
  for (std::string_view cue : kCueWords) rules->cues_.emplace(cue);
  return rules;
}

bool NameRules::IsNameWord(std::string_view text, size_t start, size_t end) const {
  auto it = names_.find(text.substr(start, end - start));
  if (it != names_.end() && !(it->second && IsSentenceInitial(text, start))) return true;
  size_t pe;
  const size_t ps = PrevWordStart(text, start, &pe);
  if (ps == std::string_view::npos || pe - ps > 24) return false;
  const std::string lower = LowerWord(text.substr(ps, pe - ps));
  return cues_.contains(std::string_view(lower));
}

void NameRules::Find(std::string_view text, size_t start, size_t end, std::vector<Candidate>* out,
                     size_t* last_name) const {
  if (end - start < 2 || !IsCapitalized(text, start, end)) return;
  // Extend a name just found by a following capitalised word ("Ola Nordmann").
  if (*last_name != std::string_view::npos) {
    Candidate& prev = (*out)[*last_name];
    if (prev.kind == FindingKind::kName && prev.end + 1 == start && text[prev.end] == ' ') {
      prev.end = end;
      return;
    }
  }
  if (IsNameWord(text, start, end)) {
    *last_name = out->size();
    out->push_back({FindingKind::kName, start, end});
  }
}

}  // namespace budstikke::pii::pii_internal
