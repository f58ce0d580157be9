// The setup the end-to-end benchmarks (consult_bench, referral_bench) share:
// a temp dir with dev certificates (certs/dev-certs.sh), a RocksDB store with
// keyring, audit outbox, seeded directory and inbox, the server side
// (authenticator, domain executor, one_server.h) and mTLS client channels.
//
// Contract: each binary that includes this header defines
//   const char budstikke::bench::kBenchName[] = "<binary name>";
// which prefixes setup failures ("<name> setup: <status>", "<name>:
// certs/dev-certs.sh failed") and names the temp dir
// (/tmp/budstikke-<name with '-' for '_'>-XXXXXX). Setup failures abort.
// BUDSTIKKE_SOURCE_DIR must be defined (the repository root).
#ifndef BUDSTIKKE_BENCH_BENCH_ENV_H_
#define BUDSTIKKE_BENCH_BENCH_ENV_H_

#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "bench/one_server.h"
#include "services/common/clock.h"
#include "services/common/domain_executor.h"
#include "services/common/grpc_auth.h"
#include "services/common/store_audit_outbox.h"
#include "services/common/tls.h"
#include "services/directory/directory.h"
#include "services/inbox/inbox.h"
#include "storage/keyring.h"
#include "storage/store.h"

namespace budstikke::bench {

extern const char kBenchName[];  // defined by the benchmark binary

inline void CheckOk(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s setup: %s\n", kBenchName, s.ToString().c_str());
    std::abort();
  }
}

template <typename T>
T Must(absl::StatusOr<T> v) {
  CheckOk(v.status());
  return *std::move(v);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The parts of a benchmark's environment that every end-to-end benchmark has.
// Deliberately leaked at exit (gRPC's shutdown order at static destruction is
// fragile); RemoveTempDir() removes `dir`.
struct ServiceEnv {
  std::string dir, certs;
  common::SystemClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::Keyring> keyring;
  std::unique_ptr<common::StoreAuditOutbox> audit;
  std::unique_ptr<directory::Directory> directory;
  std::unique_ptr<inbox::Inbox> inbox;
  std::unique_ptr<common::Authenticator> auth;
  std::unique_ptr<common::DomainExecutor> executor;
  std::unique_ptr<OneServer> server;
};

// Makes the temp dir and certificates, then opens the store with
// `column_families` and the keyring, audit outbox, directory (seeded from
// certs/dev-directory.json) and inbox on it.
inline void OpenStores(ServiceEnv* e, std::vector<std::string> column_families) {
  std::string tmpl = std::string("/tmp/budstikke-") + kBenchName + "-XXXXXX";
  std::replace(tmpl.begin(), tmpl.end(), '_', '-');
  e->dir = mkdtemp(tmpl.data());
  e->certs = e->dir + "/certs";
  const std::string cmd = std::string("/bin/bash ") + BUDSTIKKE_SOURCE_DIR +
                          "/certs/dev-certs.sh " + e->certs + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "%s: certs/dev-certs.sh failed\n", kBenchName);
    std::abort();
  }
  storage::Store::Options o;
  o.column_families = std::move(column_families);
  e->store = Must(storage::Store::Open(e->dir + "/db", o));
  e->keyring = Must(storage::Keyring::CreateFromFile(e->certs + "/master.key", e->store.get()));
  e->audit = Must(common::StoreAuditOutbox::Create(e->store.get(), &e->clock));
  e->directory = Must(
      directory::Directory::Create(e->store.get(), &e->clock, e->audit.get(), "budstikke-drift"));
  CheckOk(e->directory
              ->LoadSeedIfEmpty(
                  ReadFile(std::string(BUDSTIKKE_SOURCE_DIR) + "/certs/dev-directory.json"))
              .status());
  e->inbox = Must(inbox::Inbox::Create(e->store.get(), &e->clock));
}

// The authenticator and executor a service needs, as budstikke-server makes
// them, and the (not yet started) server with the dev server certificate.
inline void MakeServerSide(ServiceEnv* e, int max_receive_bytes = 0) {
  e->auth = std::make_unique<common::Authenticator>("budstikke.test");
  e->executor = std::make_unique<common::DomainExecutor>(
      common::DomainExecutor::DefaultThreads(/*sync_writes=*/false));  // as budstikke-server
  e->server = std::make_unique<OneServer>(
      common::TlsFiles{e->certs + "/server.pem", e->certs + "/server.key", e->certs + "/ca.pem"},
      max_receive_bytes);
}

// An mTLS channel to localhost:`port` as dev certificate `client` (e.g.
// "gp-physician"), with its own connection (client_index tells the clients
// apart); max_send_bytes > 0 raises the send limit.
inline std::shared_ptr<grpc::Channel> ClientChannel(const ServiceEnv& e, const std::string& client,
                                                    int port, int client_index,
                                                    int max_send_bytes = 0) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ReadFile(e.certs + "/ca.pem");
  o.pem_cert_chain = ReadFile(e.certs + "/" + client + ".pem");
  o.pem_private_key = ReadFile(e.certs + "/" + client + ".key");
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per client
  args.SetInt("budstikke.bench.client", client_index);
  if (max_send_bytes > 0) args.SetMaxSendMessageSize(max_send_bytes);
  return grpc::CreateCustomChannel("localhost:" + std::to_string(port), grpc::SslCredentials(o),
                                   args);
}

// Runs the benchmarks argv asks for, as budstikke-server runs (no
// deadlock-cycle detection on every lock). False on unrecognized arguments.
inline bool RunBenchmarks(int* argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(argc, argv);
  if (benchmark::ReportUnrecognizedArguments(*argc, argv)) return false;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return true;
}

// Removes the temp dir of `e` (if any) at exit; the rest of it is leaked.
inline void RemoveTempDir(const ServiceEnv* e) {
  std::error_code ec;
  if (e != nullptr) std::filesystem::remove_all(e->dir, ec);
}

}  // namespace budstikke::bench

#endif  // BUDSTIKKE_BENCH_BENCH_ENV_H_
