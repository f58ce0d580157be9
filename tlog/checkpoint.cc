#include "tlog/checkpoint.h"

#include <cstring>

#include "tlog/base64.h"

namespace budstikke::tlog {
namespace {

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, "checkpoint: " + std::move(message));
}

}  // namespace

std::string Checkpoint::Format() const {
  std::string out = origin;
  out += '\n';
  out += std::to_string(size);
  out += '\n';
  out += Base64Encode(std::string_view(reinterpret_cast<const char*>(root.data()), root.size()));
  out += '\n';
  for (const std::string& e : extensions) {
    out += e;
    out += '\n';
  }
  return out;
}

Result<Checkpoint> Checkpoint::Parse(std::string_view text) {
  if (text.find('\r') != std::string_view::npos) {
    return Invalid("carriage return found; lines must end with LF only");
  }
  if (text.empty() || text.back() != '\n') {
    return Invalid("text must end with a newline");
  }
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    lines.push_back(text.substr(0, eol));
    text.remove_prefix(eol + 1);
  }
  if (lines.size() < 3) {
    return Invalid("needs origin, tree size and root hash lines, got " +
                   std::to_string(lines.size()) + " lines");
  }
  Checkpoint cp;
  if (lines[0].empty()) return Invalid("origin line is empty");
  cp.origin = std::string(lines[0]);

  std::string_view size = lines[1];
  if (size.empty() || size.find_first_not_of("0123456789") != std::string_view::npos ||
      (size.size() > 1 && size[0] == '0')) {
    return Invalid("tree size '" + std::string(size) +
                   "' is not a decimal number without leading zeros");
  }
  for (char c : size) {
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (cp.size > (UINT64_MAX - digit) / 10) {
      return Invalid("tree size '" + std::string(size) + "' exceeds 64 bits");
    }
    cp.size = cp.size * 10 + digit;
  }

  std::optional<std::string> root = Base64Decode(lines[2]);
  if (!root || root->size() != kHashSize) {
    return Invalid("root hash '" + std::string(lines[2]) + "' is not canonical base64 of 32 bytes");
  }
  std::memcpy(cp.root.data(), root->data(), kHashSize);

  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      return Invalid("extension line " + std::to_string(i + 1) + " is empty");
    }
    cp.extensions.emplace_back(lines[i]);
  }
  return cp;
}

Result<Checkpoint> OpenCheckpoint(std::string_view signed_note, const Verifier& verifier) {
  Result<std::string> text = OpenNote(signed_note, verifier);
  if (!text.ok()) return text.error();
  Result<Checkpoint> cp = Checkpoint::Parse(*text);
  if (!cp.ok()) return cp;
  if (cp->origin != verifier.name()) {
    return Invalid("origin '" + cp->origin + "' does not match key name '" + verifier.name() + "'");
  }
  return cp;
}

}  // namespace budstikke::tlog
