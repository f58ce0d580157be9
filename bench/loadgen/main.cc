// budstikke-loadgen: drives a running budstikke-server, gateway or
// bench/bare_echo_server over mTLS with N concurrent clients, for a duration
// or a number of requests, and prints throughput, latency percentiles and
// errors (a table, or one JSON object with --output json).
//
//   budstikke-loadgen --server ADDR --ca F --cert F --key F --scenario NAME
//                     --clients N --duration SECONDS [--requests N]
//                     [--certs-dir DIR] [--output json]
//                     [--text-bytes N] [--attach-every N] [--attach-bytes N]
//
// The server under test runs with --rate-limit 0. Exit codes: 0 when every
// call succeeded, 1 when some failed (the figures are still printed) or the
// setup failed, CLI11's codes for bad flags.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/loadgen/scenario.h"
#include "nlohmann/json.hpp"

namespace budstikke::loadgen {
namespace {

struct Options {
  Target target;
  std::string scenario;
  int clients = 4;
  double duration = 10;
  int64_t requests = 0;  // 0 = run for `duration`
  Payload payload;
  std::string output = "table";
};

// Failed calls by code and message, the first few printed at the end.
class ErrorLog {
 public:
  void Add(const grpc::Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[absl::StrCat(static_cast<int>(s.error_code()), " ", s.error_message())];
  }
  void Print() const {
    std::lock_guard<std::mutex> lock(mu_);
    int shown = 0;
    for (const auto& [what, n] : counts_) {
      if (++shown > 5) break;
      std::fprintf(stderr, "budstikke-loadgen: %lld x code %s\n", static_cast<long long>(n),
                   what.c_str());
    }
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> counts_;
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size()));
  return sorted[std::min(sorted.size() - 1, i)];
}

// Runs the clients until `requests` calls are made (all clients together) or
// `duration` seconds have passed.
absl::StatusOr<RunResult> Run(Scenario& scenario, const Options& o, ErrorLog* errors) {
  if (absl::Status s = scenario.Setup(); !s.ok()) return s;
  std::vector<Call> calls;
  for (int c = 0; c < o.clients; ++c) {
    auto call = scenario.NewClient(c);
    if (!call.ok()) return call.status();
    calls.push_back(*std::move(call));
  }
  if (absl::Status s = scenario.Start(); !s.ok()) return s;
  std::vector<std::vector<double>> latencies(o.clients);
  std::atomic<int64_t> claimed{0}, failed{0};
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::microseconds(static_cast<int64_t>(o.duration * 1e6));
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      while (o.requests > 0 ? claimed.fetch_add(1) < o.requests : Clock::now() < end) {
        const Clock::time_point t0 = Clock::now();
        grpc::Status s = calls[c]();
        const Clock::time_point t1 = Clock::now();
        if (s.ok()) {
          latencies[c].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        } else {
          ++failed;
          errors->Add(s);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  RunResult r;
  r.scenario = o.scenario;
  r.clients = o.clients;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& l : latencies) r.latencies_us.insert(r.latencies_us.end(), l.begin(), l.end());
  r.errors = failed;
  r.requests = static_cast<int64_t>(r.latencies_us.size()) + r.errors;
  r.rps = static_cast<double>(r.latencies_us.size()) / r.seconds;
  scenario.Finish(start, &r);
  return r;
}

void Print(RunResult r, const std::string& output) {
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  const auto us = [&](double p) { return static_cast<int64_t>(Percentile(r.latencies_us, p)); };
  if (output == "json") {
    // The pinned keys first (DESIGN), then the rest of the figures.
    nlohmann::ordered_json j;
    j["scenario"] = r.scenario;
    j["clients"] = r.clients;
    j["rps"] = static_cast<double>(static_cast<int64_t>(r.rps * 10 + 0.5)) / 10;
    j["p50_us"] = us(0.50);
    j["p99_us"] = us(0.99);
    j["errors"] = r.errors;
    j["requests"] = r.requests;
    j["p90_us"] = us(0.90);
    j["p999_us"] = us(0.999);
    j["seconds"] = static_cast<double>(static_cast<int64_t>(r.seconds * 1000 + 0.5)) / 1000;
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%-14s %7s %9s %7s %10s %8s %8s %8s %9s\n", "scenario", "clients", "requests",
              "errors", "rps", "p50_us", "p90_us", "p99_us", "p99.9_us");
  std::printf("%-14s %7d %9lld %7lld %10.1f %8lld %8lld %8lld %9lld\n", r.scenario.c_str(),
              r.clients, static_cast<long long>(r.requests), static_cast<long long>(r.errors),
              r.rps, static_cast<long long>(us(0.50)), static_cast<long long>(us(0.90)),
              static_cast<long long>(us(0.99)), static_cast<long long>(us(0.999)));
}

int Main(int argc, char** argv) {
  CLI::App app{
      "budstikke-loadgen: N concurrent mTLS clients against budstikke-server, the gateway or "
      "bench/bare_echo_server"};
  Options o;
  std::string cert, key;
  app.add_option("--server", o.target.server, "HOST:PORT")->required();
  app.add_option("--ca", o.target.ca, "CA of the server certificate (default: <certs-dir>/ca.pem)");
  app.add_option("--cert", o.target.cert, "the scenario's main caller: client certificate (PEM)");
  app.add_option("--key", o.target.key, "its key (PEM)");
  app.add_option("--certs-dir", o.target.certs_dir,
                 "identities as certs/dev-certs.sh names them (<name>.pem, <name>.key); needed "
                 "by draft-cosign, inbox and mixed");
  app.add_option("--scenario", o.scenario, "what each client calls")
      ->required()
      ->check(CLI::IsMember(ScenarioNames()));
  app.add_option("--clients", o.clients, "concurrent clients, each with its own connection")
      ->check(CLI::Range(1, 1024));
  app.add_option("--duration", o.duration, "seconds to run (default 10)")
      ->check(CLI::Range(0.01, 86400.0));
  app.add_option("--requests", o.requests,
                 "stop after this many calls of all clients together (instead of --duration)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--output", o.output, "table or json")->check(CLI::IsMember({"table", "json"}));
  app.add_option("--text-bytes", o.payload.text_bytes,
                 "ask: consultation text, send-referral: reason, in bytes (default 1024)")
      ->check(CLI::Range(1, 5000));
  app.add_option("--attach-every", o.payload.attach_every,
                 "send-referral: every Nth Send uploads and carries one attachment (default 0: "
                 "none)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--attach-bytes", o.payload.attach_bytes,
                 "its size in bytes: a PDF header, then random bytes (default 131072)")
      ->check(CLI::Range(16, 25 * 1024 * 1024));
  CLI11_PARSE(app, argc, argv);

  if (o.target.cert.empty() != o.target.key.empty()) {
    std::fprintf(stderr, "budstikke-loadgen: give both --cert and --key, or neither\n");
    return 2;
  }
  if (o.target.ca.empty()) {
    if (o.target.certs_dir.empty()) {
      std::fprintf(stderr, "budstikke-loadgen: give --ca (or --certs-dir)\n");
      return 2;
    }
    o.target.ca = o.target.certs_dir + "/ca.pem";
  }
  if (o.target.cert.empty() && o.target.certs_dir.empty()) {
    std::fprintf(stderr, "budstikke-loadgen: give --cert and --key, or --certs-dir\n");
    return 2;
  }
  o.target.run_id = absl::StrCat("lg", getpid(), "-",
                                 std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  auto scenario = MakeScenario(o.scenario, o.target, o.payload);
  if (!scenario.ok()) {
    std::fprintf(stderr, "budstikke-loadgen: %s\n",
                 std::string(scenario.status().message()).c_str());
    return 2;
  }
  ErrorLog errors;
  auto result = Run(**scenario, o, &errors);
  if (!result.ok()) {
    std::fprintf(stderr, "budstikke-loadgen: setup of %s failed: %s\n", o.scenario.c_str(),
                 result.status().ToString().c_str());
    return 1;
  }
  errors.Print();
  Print(*result, o.output);
  return result->errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace budstikke::loadgen

int main(int argc, char** argv) { return budstikke::loadgen::Main(argc, argv); }
