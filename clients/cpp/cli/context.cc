#include "cli/context.h"

namespace budstikke::cli {

void CliContext::AddGlobalFlags(CLI::App& app) {
  app.add_option("--server", server_, "server host:port (env BUDSTIKKE_SERVER)");
  app.add_option("--ca", ca_, "CA certificate PEM (env BUDSTIKKE_CA)");
  app.add_option("--cert", cert_, "client certificate PEM (env BUDSTIKKE_CERT)");
  app.add_option("--key", key_, "client key PEM (env BUDSTIKKE_KEY)");
  app.add_option("--output,-o", output_, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout", timeout_seconds_, "deadline per call in seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

absl::StatusOr<Client*> CliContext::client() {
  if (client_) return client_.get();
  ClientOptions options = ClientOptions::FromEnv();
  if (!server_.empty()) options.server = server_;
  if (!ca_.empty()) options.ca_file = ca_;
  if (!cert_.empty()) options.cert_file = cert_;
  if (!key_.empty()) options.key_file = key_;
  options.timeout = absl::Milliseconds(static_cast<int64_t>(timeout_seconds_ * 1000));
  auto client = Client::Connect(options);
  if (!client.ok()) return client.status();
  client_ = *std::move(client);
  return client_.get();
}

void CliContext::Run(const std::function<absl::Status()>& body) {
  absl::Status status = body();
  exit_code_ = status.ok() ? 0 : ReportError(format(), status);
}

}  // namespace budstikke::cli
