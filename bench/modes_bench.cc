// modes_bench: Send and Ask at 4 clients through the microservices gateway
// against the all-in-one server, both real budstikke-server processes on
// loopback with development certificates, measured in paired slices (A M, M A,
// ...) so that both see about the same machine. Prints, per operation, the
// median throughput ratio (microservices / all-in-one) and both p99s.
//
//   modes_bench [--pairs=8] [--pair_seconds=2] [--clients=4]
//
// Needs BUDSTIKKE_BIN_DIR and BUDSTIKKE_SOURCE_DIR (scripts/bench.sh sets them).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "budstikke/v1/consent.grpc.pb.h"
#include "budstikke/v1/consultation.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "services/common/national_id_testing.h"
#include "tests/support/fixtures.h"
#include "tests/support/test_cluster.h"
#include "tests/support/test_server.h"

namespace budstikke::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Deployment {
  std::string name;
  std::function<std::shared_ptr<grpc::Channel>(const std::string&)> channel;
  std::string consent_id;
};

struct SliceResult {
  double rate = 0;
  std::vector<double> latencies_us;
  int failures = 0;
};

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

const std::string& Child() {
  static const std::string child = common::testing::MakeSyntheticNationalId(2016, 9, 3, 1);
  return child;
}

// One call of `op` ("ask" or "send") by client `c`, call `i`.
using Op = std::function<bool(int c, int64_t i)>;

Op MakeOp(const Deployment& d, const std::string& op, int clients, const std::string& tag) {
  if (op == "ask") {
    std::vector<std::shared_ptr<v1::ConsultationService::Stub>> stubs;
    for (int c = 0; c < clients; ++c) {
      stubs.push_back(v1::ConsultationService::NewStub(d.channel("kindergarten-staff")));
    }
    return [stubs, tag](int c, int64_t i) {
      v1::AskConsultationRequest a;
      a.set_request_id(absl::StrCat(tag, "-", c, "-", i));
      a.mutable_recipient()->set_agency("bup-oslo");
      a.set_age_band(v1::AGE_BAND_3_5);
      a.add_concerns(v1::CONCERN_BEHAVIOUR);
      a.set_text(std::string(1000, 'a').replace(0, 40, "Gutten er urolig og sover dårlig. "));
      v1::Consultation out;
      return stubs[c]->Ask(Ctx().get(), a, &out).ok();
    };
  }
  std::vector<std::shared_ptr<v1::ReferralService::Stub>> stubs;
  for (int c = 0; c < clients; ++c) {
    stubs.push_back(v1::ReferralService::NewStub(d.channel("gp-physician")));
  }
  const std::string consent = d.consent_id;
  return [stubs, tag, consent](int c, int64_t i) {
    v1::SendReferralRequest r;
    r.set_request_id(absl::StrCat(tag, "-", c, "-", i));
    r.set_recipient_agency("bup-oslo");
    r.set_subject_national_id(Child());
    r.set_consent_id(consent);
    r.set_reason("Vedvarende angst og søvnvansker over seks måneder.");
    v1::Referral out;
    return stubs[c]->Send(Ctx().get(), r, &out).ok();
  };
}

SliceResult RunSlice(const Op& op, int clients, double seconds) {
  std::vector<std::vector<double>> lat(clients);
  std::atomic<int> failures{0};
  const Clock::time_point end =
      Clock::now() + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int64_t i = 0; Clock::now() < end; ++i) {
        const Clock::time_point t0 = Clock::now();
        if (!op(c, i)) ++failures;
        lat[c].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  SliceResult r;
  for (auto& l : lat) r.latencies_us.insert(r.latencies_us.end(), l.begin(), l.end());
  r.rate = static_cast<double>(r.latencies_us.size()) /
           std::chrono::duration<double>(Clock::now() - start).count();
  r.failures = failures;
  return r;
}

// CPU seconds (user + system) a process has used so far.
double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14) utime = std::atof(f.c_str());
    if (i == 15) {
      stime = std::atof(f.c_str());
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU used by each named process between Start() and Stop().
class CpuMeter {
 public:
  explicit CpuMeter(std::vector<std::pair<std::string, int>> processes)
      : processes_(std::move(processes)), used_(processes_.size(), 0.0) {}
  void Start() {
    start_.clear();
    for (const auto& [name, pid] : processes_) start_.push_back(CpuSeconds(pid));
  }
  void Stop() {
    for (size_t i = 0; i < processes_.size(); ++i) {
      used_[i] += CpuSeconds(processes_[i].second) - start_[i];
    }
  }
  // name -> CPU microseconds per call over `calls`.
  std::string Report(double calls) const {
    std::string out;
    double total = 0;
    for (size_t i = 0; i < processes_.size(); ++i) {
      total += used_[i];
      absl::StrAppend(&out, " ", processes_[i].first, "=",
                      static_cast<int>(used_[i] * 1e6 / calls));
    }
    return absl::StrCat(static_cast<int>(total * 1e6 / calls), " us/call:", out);
  }

 private:
  std::vector<std::pair<std::string, int>> processes_;
  std::vector<double> start_;
  std::vector<double> used_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

std::string RecordConsent(const Deployment& d) {
  v1::RecordConsentRequest req =
      testing::GuardianConsentRequest(Child(), "bup-oslo", "modes-bench-consent-" + d.name);
  v1::Consent consent;
  grpc::Status s =
      v1::ConsentService::NewStub(d.channel("gp-physician"))->Record(Ctx().get(), req, &consent);
  if (!s.ok()) {
    std::fprintf(stderr, "modes_bench: consent on %s: %s\n", d.name.c_str(),
                 s.error_message().c_str());
    std::exit(1);
  }
  return consent.id();
}

int FlagValue(int argc, char** argv, const char* name, int def) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], name, std::strlen(name)) == 0)
      return std::atoi(argv[i] + std::strlen(name));
  }
  return def;
}

double FlagDouble(int argc, char** argv, const char* name, double def) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], name, std::strlen(name)) == 0)
      return std::atof(argv[i] + std::strlen(name));
  }
  return def;
}

int Main(int argc, char** argv) {
  const int pairs = FlagValue(argc, argv, "--pairs=", 8);
  const double seconds = FlagDouble(argc, argv, "--pair_seconds=", 2.0);
  const int clients = FlagValue(argc, argv, "--clients=", 4);
  // Benchmarks run without the per-caller rate limit, and compare with the
  // numbers before durable writes became the default.
  testing::TestServer server({"--rate-limit", "0", "--no-sync-writes"});
  testing::TestCluster cluster("--rate-limit 0 --no-sync-writes");
  if (server.address().empty() || !cluster.started()) return 1;
  Deployment all{"all-in-one", [&](const std::string& who) { return server.Channel(who); }, ""};
  Deployment micro{"gateway", [&](const std::string& who) { return cluster.Channel(who); }, ""};
  all.consent_id = RecordConsent(all);
  micro.consent_id = RecordConsent(micro);
  std::printf("modes_bench: %d clients, %d pairs of %.1f s slices per operation\n", clients, pairs,
              seconds);
  std::vector<std::pair<std::string, int>> cluster_pids;
  for (const char* name :
       {"gateway", "directory", "consultation", "consent", "referral", "inbox", "audit"}) {
    cluster_pids.emplace_back(name, cluster.PidOf(name));
  }
  std::vector<std::string> cpu_reports;
  std::printf("%-6s %12s %12s %8s %12s %12s %8s %s\n", "op", "all rps", "gateway rps", "ratio",
              "all p99 us", "gw p99 us", "p99 x", "failures");
  int failures = 0;
  for (const std::string op : {"ask", "send"}) {
    std::vector<double> ratios, rate_a, rate_m, lat_a, lat_m;
    CpuMeter all_cpu({{"server", server.process()->pid()}});
    CpuMeter micro_cpu(cluster_pids);
    double calls_a = 0, calls_m = 0;
    for (int p = 0; p < pairs + 1; ++p) {  // pair 0 warms up
      const std::string tag = absl::StrCat("mb-", op, "-", p);
      Op a = MakeOp(all, op, clients, tag + "-a");
      Op m = MakeOp(micro, op, clients, tag + "-m");
      SliceResult ra, rm;
      auto run_a = [&] {
        all_cpu.Start();
        ra = RunSlice(a, clients, seconds);
        all_cpu.Stop();
      };
      auto run_m = [&] {
        micro_cpu.Start();
        rm = RunSlice(m, clients, seconds);
        micro_cpu.Stop();
      };
      if (p == 0) {  // warm-up: not counted
        ra = RunSlice(a, clients, seconds);
        rm = RunSlice(m, clients, seconds);
        continue;
      }
      if (p % 2 == 0) {
        run_a();
        run_m();
      } else {
        run_m();
        run_a();
      }
      calls_a += static_cast<double>(ra.latencies_us.size());
      calls_m += static_cast<double>(rm.latencies_us.size());
      failures += ra.failures + rm.failures;
      ratios.push_back(rm.rate / ra.rate);
      rate_a.push_back(ra.rate);
      rate_m.push_back(rm.rate);
      lat_a.insert(lat_a.end(), ra.latencies_us.begin(), ra.latencies_us.end());
      lat_m.insert(lat_m.end(), rm.latencies_us.begin(), rm.latencies_us.end());
    }
    const double p99a = Percentile(lat_a, 0.99), p99m = Percentile(lat_m, 0.99);
    std::printf("%-6s %12.0f %12.0f %8.2f %12.0f %12.0f %8.2f %d\n", op.c_str(), Median(rate_a),
                Median(rate_m), Median(ratios), p99a, p99m, p99m / p99a, failures);
    cpu_reports.push_back(absl::StrCat(op, " all-in-one ", all_cpu.Report(calls_a)));
    cpu_reports.push_back(absl::StrCat(op, " microservices ", micro_cpu.Report(calls_m)));
  }
  std::printf("server CPU per call (user+system, all processes of the deployment):\n");
  for (const std::string& r : cpu_reports) std::printf("  %s\n", r.c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace budstikke::bench

int main(int argc, char** argv) { return budstikke::bench::Main(argc, argv); }
