// budstikke-server: see `budstikke-server --help` and README.md.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "services/server/backup_commands.h"
#include "services/server/config.h"
#include "services/server/server.h"
#include "storage/store.h"

int main(int argc, char** argv) {
  // Debian's Abseil checks every lock for deadlock cycles; that costs on every
  // call and is a debugging aid, not a production check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using budstikke::server::BudstikkeServer;
  auto config = budstikke::server::ParseFlags(argc, argv);
  if (!config.ok()) {
    if (config.status().code() == absl::StatusCode::kCancelled) return 0;  // --help
    std::cerr << "budstikke-server: " << config.status().message() << " (see --help)" << std::endl;
    return 2;
  }
  if (config->restore) return budstikke::server::RunRestore(*config);
  if (config->verify_backup) return budstikke::server::RunVerifyBackup(*config);
  if (config->purge_shredded_keys) return budstikke::server::RunPurgeShreddedKeys(*config);
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%v"})",
                      spdlog::pattern_time_type::utc);

  // Block termination signals in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = BudstikkeServer::Create(*config);
  if (!server.ok()) {
    std::cerr << "budstikke-server: " << budstikke::storage::WithCorruptionAdvice(server.status())
              << std::endl;
    return 1;
  }
  auto port = (*server)->Start();
  if (!port.ok()) {
    std::cerr << "budstikke-server: " << budstikke::storage::WithCorruptionAdvice(port.status())
              << std::endl;
    return 1;
  }
  std::string host = config->listen.substr(0, config->listen.rfind(':'));
  // Scripts and tests read this line to learn the port (useful with :0).
  std::printf("budstikke-server listening on %s:%d\n", host.c_str(), *port);
  std::fflush(stdout);
  spdlog::info("listening on {}:{} targets={}", host, *port, config->target);

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {} received, shutting down", sig);
    (*server)->Shutdown(5);
  });
  (*server)->Wait();
  waiter.join();
  spdlog::info("stopped");
  return 0;
}
