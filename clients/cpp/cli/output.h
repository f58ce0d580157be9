// Output of the budstikke CLI: JSON (one object per call, snake_case fields,
// integers as numbers also for 64-bit ones, zero values and empty lists
// printed, enums without their type prefix, bytes as padded base64) or a
// human table. Errors: one line on stderr; with --output json also
// {"error":{"code","message","violations","findings"}} on stdout.
#ifndef BUDSTIKKE_CLIENTS_CPP_CLI_OUTPUT_H_
#define BUDSTIKKE_CLIENTS_CPP_CLI_OUTPUT_H_

#include <google/protobuf/message.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace budstikke::cli {

enum class OutputFormat { kTable, kJson };

// A proto message as CLI JSON.
nlohmann::json ToJson(const google::protobuf::Message& message);

// A list: {"items":[...],"next_page_token":"..."}.
nlohmann::json ListJson(const std::vector<nlohmann::json>& items,
                        const std::string& next_page_token);

// Prints `value` as JSON or as a table: objects as "key: value" lines, lists
// (the "items" of ListJson) as columns named by `columns`.
void Print(OutputFormat format, const nlohmann::json& value,
           const std::vector<std::string>& columns = {});

// "FAILED_PRECONDITION", "NOT_FOUND", ...
std::string CodeName(absl::StatusCode code);

// Exit code for an error: 2 usage/INVALID_ARGUMENT, 3 FAILED_PRECONDITION,
// 4 NOT_FOUND/PERMISSION_DENIED/UNAUTHENTICATED, 5 UNAVAILABLE/DEADLINE_EXCEEDED,
// 1 anything else.
int ExitCodeFor(absl::StatusCode code);

// Prints the error (stderr line, plus JSON on stdout) and returns the exit code.
int ReportError(OutputFormat format, const absl::Status& status);

}  // namespace budstikke::cli

#endif  // BUDSTIKKE_CLIENTS_CPP_CLI_OUTPUT_H_
