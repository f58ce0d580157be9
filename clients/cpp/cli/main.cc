// budstikke: command-line client for Budstikke. See `budstikke --help`.
//
// Exit codes: 0 ok, 2 usage or invalid argument, 3 refused by policy
// (FAILED_PRECONDITION), 4 not found / permission denied / not authenticated,
// 5 server unavailable or deadline exceeded, 1 anything else.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/context.h"

int main(int argc, char** argv) {
  budstikke::cli::CliContext ctx;
  CLI::App app{
      "budstikke: secure messages, anonymous consultations, consent-gated referrals "
      "and audit trails for the agencies around a child.\n"
      "Connection: BUDSTIKKE_SERVER, BUDSTIKKE_CA, BUDSTIKKE_CERT, BUDSTIKKE_KEY "
      "(or --server --ca --cert --key).\n"
      "Exit codes: 0 ok, 2 usage, 3 refused by policy, 4 not found/permission, "
      "5 unavailable."};
  app.fallthrough();
  app.require_subcommand(1);
  ctx.AddGlobalFlags(app);
  budstikke::cli::AddDirectoryCommands(app, ctx);
  budstikke::cli::AddConsentCommands(app, ctx);
  budstikke::cli::AddReferralCommands(app, ctx);
  budstikke::cli::AddConsultCommands(app, ctx);
  budstikke::cli::AddInboxCommands(app, ctx);
  budstikke::cli::AddAuditCommands(app, ctx);
  budstikke::cli::AddAdminCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (what.empty()) what = "missing command; see budstikke --help";
    // CLI11 writes a value check's error as "<flag>: must be ...": "<flag> must be ...".
    if (size_t at = what.find(": must be "); at != std::string::npos && at == what.find(": ")) {
      what.erase(at, 1);
    }
    std::cerr << "budstikke: usage: " << what << " (see --help)" << std::endl;
    return 2;
  }
  return ctx.exit_code();
}
