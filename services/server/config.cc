#include "services/server/config.h"

#include <CLI/CLI.hpp>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/key_file.h"
#include "services/common/policy/rules.h"
#include "services/common/tls.h"
#include "services/server/topology.h"
#include "storage/status_macros.h"

namespace budstikke::server {

std::set<std::string> ServerConfig::Targets() const {
  std::set<std::string> out;
  for (absl::string_view t : absl::StrSplit(target, ',', absl::SkipEmpty())) {
    if (t == "all") {
      for (const char* name : kAllTargets) out.insert(name);
    } else {
      out.insert(std::string(t));
    }
  }
  return out;
}

absl::StatusOr<ServerConfig> ParseFlags(int argc, char** argv) {
  ServerConfig c;
  CLI::App app{
      "budstikke-server: secure messaging and consultation service for the agencies "
      "around a child (gRPC over mTLS)."};
  app.add_option("--listen", c.listen, "address to serve gRPC on, host:port")
      ->capture_default_str();
  app.add_option("--data-dir", c.data_dir, "RocksDB data directory (created 0700)")
      ->capture_default_str();
  app.add_option("--tls-cert", c.tls_cert, "server certificate (PEM); required");
  app.add_option("--tls-key", c.tls_key, "server private key (PEM, mode 0600); required");
  app.add_option("--tls-ca", c.tls_ca, "CA that client certificates must chain to (PEM); required");
  app.add_option("--tls-refresh-seconds", c.tls_refresh_seconds,
                 "how often the TLS files are read again (renewed certificates, new CA bundles)")
      ->capture_default_str();
  app.add_option("--trust-domain", c.trust_domain, "SPIFFE trust domain of callers")
      ->capture_default_str();
  app.add_option("--master-key-file", c.master_key_file,
                 "32 raw random bytes, mode 0600 (head -c 32 /dev/urandom); required");
  app.add_option("--audit-signing-key-file", c.audit_signing_key_file,
                 "Ed25519 PKCS#8 PEM private key for audit checkpoints, mode 0600 "
                 "(openssl genpkey -algorithm ed25519)");
  app.add_option("--audit-anchor-file", c.audit_anchor_file,
                 "audit: keep the last signed checkpoint in this file, outside the data dir "
                 "(fsynced); a smaller log refuses to start");
  app.add_flag("--accept-audit-rollback", c.accept_audit_rollback,
               "audit: start on a log smaller than --audit-anchor-file records, appending a "
               "signed event that records the old and new sizes");
  app.add_option("--target", c.target,
                 "services to host: all, or a comma list of directory, consultation, consent, "
                 "referral, inbox, audit, admin, gateway")
      ->capture_default_str();
  app.add_option("--peers", c.peers_file,
                 "JSON file {\"directory\":\"host:port\",...}: where the services this process "
                 "needs but does not host are (microservices mode)");
  app.add_option("--health-listen", c.health_listen,
                 "also serve gRPC health only, in plaintext, on host:port (Kubernetes probes)");
  app.add_option("--outbox-max-age", c.outbox_max_age_seconds,
                 "seconds an outbox entry may wait for delivery before readiness "
                 "(budstikke.ready) turns NOT_SERVING")
      ->capture_default_str();
  bool no_sync_writes = false;
  app.add_flag("--no-sync-writes", no_sync_writes,
               "acknowledge writes before the WAL is fsynced: they survive a process crash, "
               "not a power loss (tests and benchmarks only)");
  app.add_flag("--sync-writes",
               "the default (fsync the WAL before acknowledging a write); "
               "kept for old command lines");
  app.add_option("--seed-directory", c.seed_directory,
                 "JSON agencies loaded when the directory is empty");
  app.add_option("--metrics-listen", c.metrics_listen,
                 "serve Prometheus metrics on host:port (/metrics)");
  app.add_flag("--refuse-synthetic-ids", c.refuse_synthetic_ids,
               "treat synthetic national ids (month+80) as invalid (production)");
  app.add_option("--rate-limit", c.rate_limit,
                 "calls per second per caller (bursts of two seconds' worth); over it: "
                 "RESOURCE_EXHAUSTED with the wait; 0 = off")
      ->capture_default_str();
  app.add_option("--upload-idle-seconds", c.upload_idle_seconds,
                 "cancel an attachment upload that sends nothing for N seconds")
      ->capture_default_str();
  app.add_option("--urgent-ack-minutes", c.urgent_ack_minutes,
                 "escalate urgent referrals not acknowledged in N minutes (0 = off)")
      ->capture_default_str();
  app.add_option("--attachment-max-age-hours", c.attachment_max_age_hours,
                 "purge an uploaded attachment that no referral or message used after N hours")
      ->capture_default_str();
  app.add_option("--consultation-recipient-types", c.consultation_recipient_types,
                 "agency types that receive consultations, comma-separated")
      ->capture_default_str();
  app.add_option("--operator-agency", c.operator_agency,
                 "agency whose admin manages the directory and keys")
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_option("--max-message-bytes", c.max_message_bytes, "largest gRPC message accepted")
      ->capture_default_str();
  // Test hook (hidden from --help): fault injection for the fail-closed tests.
  app.add_option("--test-fail-store-writes-file", c.test_fail_store_writes_file,
                 "TEST ONLY: while this file exists, every store write fails")
      ->group("");
  CLI::App* restore = app.add_subcommand(
      "restore",
      "restore the latest backup (budstikke admin backup) into a new --data-dir and exit:\n"
      "  budstikke-server restore --backup-dir /var/backups/b1 --data-dir /var/lib/budstikke");
  restore->add_option("--backup-dir", c.backup_dir, "directory written by a backup")->required();
  restore->add_option("--data-dir", c.data_dir, "new data directory (must not exist)")->required();
  try {
    app.parse(argc, argv);
    c.restore = restore->parsed();
    c.sync_writes = !no_sync_writes;
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return absl::CancelledError("help");
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(e.what());
  }
  return c;
}

absl::Status Validate(ServerConfig* config) {
  const ServerConfig& c = *config;
  const std::set<std::string> targets = c.Targets();
  for (const auto& [flag, value] :
       {std::pair<const char*, const std::string*>{"--tls-cert", &c.tls_cert},
        {"--tls-key", &c.tls_key},
        {"--tls-ca", &c.tls_ca}}) {
    if (value->empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " is required"));
  }
  if (KeepsData(targets) && c.master_key_file.empty()) {
    return absl::InvalidArgumentError("--master-key-file is required");
  }
  size_t colon = c.listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == c.listen.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen '", c.listen, "' must be host:port, e.g. 127.0.0.1:7443"));
  }
  if (!c.metrics_listen.empty() && c.metrics_listen.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen '", c.metrics_listen, "' must be host:port"));
  }
  if (!c.health_listen.empty() && c.health_listen.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--health-listen '", c.health_listen, "' must be host:port"));
  }
  if (c.outbox_max_age_seconds < 1) {
    return absl::InvalidArgumentError("--outbox-max-age must be at least 1 (seconds)");
  }
  if (targets.empty()) return absl::InvalidArgumentError("--target names no service");
  if (auto types = policy::ParseAgencyTypeNames(c.consultation_recipient_types); !types.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--consultation-recipient-types: ", types.status().message()));
  }
  if (!(c.attachment_max_age_hours > 0)) {
    return absl::InvalidArgumentError("--attachment-max-age-hours must be more than 0");
  }
  if (!(c.urgent_ack_minutes >= 0)) {
    return absl::InvalidArgumentError("--urgent-ack-minutes must be 0 (off) or more");
  }
  if (c.rate_limit < 0) {
    return absl::InvalidArgumentError("--rate-limit must be 0 (off) or more calls per second");
  }
  for (const std::string& t : targets) {
    bool known = t == kGatewayTarget;
    for (const char* name : kAllTargets) known = known || t == name;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--target '", t,
          "' is not a service; use all or directory, consultation, consent, referral, inbox, "
          "audit, admin, gateway"));
    }
  }
  if (!c.peers_file.empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string json, common::ReadFile("peers file", c.peers_file));
    absl::StatusOr<std::map<std::string, std::string>> peers = ParsePeers(json);
    if (!peers.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--peers ", c.peers_file, ": ", peers.status().message()));
    }
    config->peers = *std::move(peers);
  }
  BUDSTIKKE_RETURN_IF_ERROR(CheckPeers(targets, c.peers));
  if (c.trust_domain.empty() || c.trust_domain.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("--trust-domain must be a host name, e.g. budstikke.test");
  }
  if (c.upload_idle_seconds < 1 || c.upload_idle_seconds > 3600) {
    return absl::InvalidArgumentError("--upload-idle-seconds must be 1 to 3600");
  }
  if (c.max_message_bytes < 1024) {
    return absl::InvalidArgumentError("--max-message-bytes must be at least 1024");
  }
  if (c.tls_refresh_seconds < 1 || c.tls_refresh_seconds > 86400) {
    return absl::InvalidArgumentError("--tls-refresh-seconds must be 1 to 86400");
  }
  BUDSTIKKE_RETURN_IF_ERROR(common::CheckTlsFiles({c.tls_cert, c.tls_key, c.tls_ca}));
  if (KeepsData(targets)) {
    BUDSTIKKE_RETURN_IF_ERROR(common::CheckPrivateFile("master key file", c.master_key_file));
    BUDSTIKKE_RETURN_IF_ERROR(common::CheckPrivateDir("data dir", c.data_dir));
  }
  if (targets.count("audit") > 0 && c.audit_signing_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--audit-signing-key-file is required when the audit service runs "
        "(openssl genpkey -algorithm ed25519 -out audit-signing.key)");
  }
  if (!c.audit_signing_key_file.empty()) {
    BUDSTIKKE_RETURN_IF_ERROR(
        common::CheckPrivateFile("audit signing key file", c.audit_signing_key_file));
  }
  if (!c.seed_directory.empty()) {
    BUDSTIKKE_RETURN_IF_ERROR(common::ReadFile("seed directory", c.seed_directory).status());
  }
  return absl::OkStatus();
}

}  // namespace budstikke::server
