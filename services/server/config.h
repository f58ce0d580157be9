// budstikke-server configuration: flags (CLI11) and start-up validation.
//
// Validate() checks every file and value before anything starts and returns a
// one-line reason on the first problem (missing or unreadable file, key file
// with group/other permission bits, bad address, unknown target).
#ifndef BUDSTIKKE_SERVICES_SERVER_CONFIG_H_
#define BUDSTIKKE_SERVICES_SERVER_CONFIG_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace budstikke::server {

inline constexpr const char* kAllTargets[] = {"directory", "consultation", "consent", "referral",
                                              "inbox",     "audit",        "admin"};
// Not part of "all": the client-facing forwarder of microservices mode.
inline constexpr char kGatewayTarget[] = "gateway";

struct ServerConfig {
  std::string listen = "127.0.0.1:7443";
  std::string data_dir = "./var/data";
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  // How often the TLS files are read again (renewed certificates and CA
  // bundles are used for new handshakes without a restart).
  int tls_refresh_seconds = 60;
  // How long one read or write of a stream may wait before the call is
  // cancelled (common::StreamWatchdog).
  int stream_idle_seconds = 30;
  std::string trust_domain = "budstikke.test";
  std::string master_key_file;
  std::string audit_signing_key_file;
  // Audit: the last signed checkpoint, kept outside the data dir so that a
  // restored or rolled-back log is noticed (audit_log.h).
  std::string audit_anchor_file;
  bool accept_audit_rollback = false;
  std::string target = "all";
  // Microservices mode: JSON file {"directory":"host:port",...} naming where
  // the services this process needs but does not host are (topology.h).
  std::string peers_file;
  std::map<std::string, std::string> peers;  // parsed by Validate()
  // Plaintext gRPC health only (Kubernetes probes), e.g. 0.0.0.0:7444.
  std::string health_listen;
  // Readiness (budstikke.ready) turns NOT_SERVING while an outbox's oldest
  // undelivered entry is older than this.
  int outbox_max_age_seconds = 60;
  // fsync the WAL before acknowledging a write (survives power loss); off
  // only with --no-sync-writes (tests, benchmarks). --sync-writes stays
  // accepted and changes nothing.
  bool sync_writes = true;
  std::string seed_directory;
  std::string metrics_listen;
  bool refuse_synthetic_ids = false;
  // Escalate an urgent referral not acknowledged in this many minutes (may be
  // fractional, e.g. 0.05 = 3 s for tests); 0 = off.
  double urgent_ack_minutes = 30;
  // Purge an uploaded attachment no referral or message used after this many
  // hours (may be fractional).
  double attachment_max_age_hours = 24;
  // Agency types that receive anonymous consultations.
  std::string consultation_recipient_types = "ppt,health_station,child_welfare,bup";
  std::string operator_agency = "budstikke-drift";
  std::string log_level = "info";
  int max_message_bytes = 4 * 1024 * 1024;
  int max_concurrent_streams = 256;
  // Calls per second per caller on the public API, bursts of two seconds'
  // worth; 0 = off (benchmarks).
  int rate_limit = 100;
  // TEST ONLY (hidden flag): while this file exists, the store's file writes
  // fail (storage::FaultInjector), so audit writes fail closed.
  std::string test_fail_store_writes_file;

  // `budstikke-server restore --backup-dir DIR --data-dir DIR`: restore the
  // latest backup into a new data dir and exit (no TLS or keys needed).
  bool restore = false;
  std::string backup_dir;
  // `budstikke-server verify-backup --backup-dir DIR`: check every backup in
  // DIR (files present, sizes and checksums) and exit.
  bool verify_backup = false;
  // `budstikke-server purge-shredded-keys --data-dir LIVE --backup-dir DIR
  // [--backup-dir DIR ...] [--agency A]`: remove from the named backups the
  // wrapped keys of every version shredded in LIVE (only A's with --agency).
  bool purge_shredded_keys = false;
  std::vector<std::string> purge_backup_dirs;
  std::string purge_agency;

  // The services this process hosts ("all" expanded).
  std::set<std::string> Targets() const;
};

// Parses argv. On --help prints usage and returns CANCELLED (exit 0); on a bad
// flag returns INVALID_ARGUMENT with a one-line message.
absl::StatusOr<ServerConfig> ParseFlags(int argc, char** argv);

// Checks the flags and files and reads --peers into config->peers.
absl::Status Validate(ServerConfig* config);

}  // namespace budstikke::server

#endif  // BUDSTIKKE_SERVICES_SERVER_CONFIG_H_
