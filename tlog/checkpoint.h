// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the note text of a
// signed tree head.
//
//   <origin>\n
//   <tree size, decimal, no leading zeros>\n
//   <base64 (std, padded) of the 32-byte RFC 9162 root hash>\n
//   [<extension line>\n ...]
//
// Budstikke's origin equals the signing key's name (default
// "<trust-domain>/audit"), so OpenCheckpoint requires that.
//
// Thread safety: plain value type.
#ifndef BUDSTIKKE_TLOG_CHECKPOINT_H_
#define BUDSTIKKE_TLOG_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tlog/hash.h"
#include "tlog/note.h"
#include "tlog/result.h"

namespace budstikke::tlog {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;  // non-empty lines; usually none

  // The note text. Parse(Format()) round-trips when origin and extensions
  // are non-empty and hold no '\n' or '\r' (Parse rejects anything else).
  std::string Format() const;

  // Strict parse of a note text: LF line ends only, final newline, non-empty
  // origin, decimal size without sign or leading zeros that fits in 64 bits,
  // canonical base64 of exactly 32 bytes, non-empty extension lines.
  // kInvalidArgument with the offending line otherwise.
  static Result<Checkpoint> Parse(std::string_view text);

  bool operator==(const Checkpoint& o) const {
    return origin == o.origin && size == o.size && root == o.root && extensions == o.extensions;
  }
};

// OpenNote + Checkpoint::Parse + origin == verifier.name() (kInvalidArgument
// "origin ... does not match key name ..." otherwise).
Result<Checkpoint> OpenCheckpoint(std::string_view signed_note, const Verifier& verifier);

}  // namespace budstikke::tlog

#endif  // BUDSTIKKE_TLOG_CHECKPOINT_H_
