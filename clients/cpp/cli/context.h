// Shared state of one budstikke CLI invocation: global flags, the lazily
// connected Client, and the exit code chosen by the command that ran.
#ifndef BUDSTIKKE_CLIENTS_CPP_CLI_CONTEXT_H_
#define BUDSTIKKE_CLIENTS_CPP_CLI_CONTEXT_H_

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "budstikke/client.h"
#include "cli/output.h"

namespace budstikke::cli {

class CliContext {
 public:
  // Adds --server --ca --cert --key --output --timeout to `app` (usable before
  // or after the subcommand).
  void AddGlobalFlags(CLI::App& app);

  OutputFormat format() const {
    return output_ == "json" ? OutputFormat::kJson : OutputFormat::kTable;
  }
  // Connects on first use (flags override the BUDSTIKKE_* environment).
  absl::StatusOr<Client*> client();

  // Runs a command body and records its exit code (errors are reported).
  void Run(const std::function<absl::Status()>& body);
  int exit_code() const { return exit_code_; }

  // Prints one result.
  void Emit(const nlohmann::json& value, const std::vector<std::string>& columns = {}) {
    Print(format(), value, columns);
  }

 private:
  std::string server_, ca_, cert_, key_, output_ = "table";
  double timeout_seconds_ = 10;
  std::unique_ptr<Client> client_;
  int exit_code_ = 0;
};

// Command groups, one file each.
void AddDirectoryCommands(CLI::App& app, CliContext& ctx);
void AddConsentCommands(CLI::App& app, CliContext& ctx);
void AddReferralCommands(CLI::App& app, CliContext& ctx);  // referral + attachment
void AddConsultCommands(CLI::App& app, CliContext& ctx);
void AddInboxCommands(CLI::App& app, CliContext& ctx);
void AddAuditCommands(CLI::App& app, CliContext& ctx);
void AddAdminCommands(CLI::App& app, CliContext& ctx);

}  // namespace budstikke::cli

#endif  // BUDSTIKKE_CLIENTS_CPP_CLI_CONTEXT_H_
