// Standard padded base64 (RFC 4648 §4), as used by signed notes, checkpoints
// and the CLI's JSON output.
//
// Base64Decode is strict: length a multiple of 4, alphabet characters only,
// '=' only as final padding, unused trailing bits zero (so every byte string
// has exactly one accepted encoding). No whitespace is skipped.
#ifndef BUDSTIKKE_TLOG_BASE64_H_
#define BUDSTIKKE_TLOG_BASE64_H_

#include <optional>
#include <string>
#include <string_view>

namespace budstikke::tlog {

std::string Base64Encode(std::string_view bytes);
// nullopt if `text` is not canonical standard padded base64.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace budstikke::tlog

#endif  // BUDSTIKKE_TLOG_BASE64_H_
