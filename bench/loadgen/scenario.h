// budstikke-loadgen's scenarios: what one client does per call, and the setup
// (consents, a referral to read) a scenario needs before the clock starts.
//
// Each client gets its own connections (a local subchannel pool per channel),
// as N people at N machines would. Identities: the scenario's main caller is
// --cert/--key when given, else <certs-dir>/<name>.pem/.key as
// certs/dev-certs.sh names them; scenarios with several callers (draft-cosign,
// inbox, mixed) need --certs-dir. Thread-safety: Setup, Start and Finish run
// on the main thread; each Call returned by NewClient runs on one client
// thread only; scenarios may share state between clients under their own lock.
#ifndef BUDSTIKKE_BENCH_LOADGEN_SCENARIO_H_
#define BUDSTIKKE_BENCH_LOADGEN_SCENARIO_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace budstikke::loadgen {

using Clock = std::chrono::steady_clock;

// Where and as whom the load generator connects.
struct Target {
  std::string server;     // host:port
  std::string ca;         // PEM CA file
  std::string cert, key;  // the main caller's files; empty = from certs_dir
  std::string certs_dir;  // certs/dev-certs.sh output; may be empty
  std::string run_id;     // unique per run: prefixes request ids
};

// What the creating scenarios send. Defaults: the 1 KiB of the ratios'
// rows; bench/scale sends 4 KiB texts and one attachment in ten referrals.
struct Payload {
  int text_bytes = 1024;          // ask's text, send-referral's reason
  int attach_every = 0;           // send-referral: every Nth Send carries one attachment (0: none)
  int attach_bytes = 128 * 1024;  // its size: random, incompressible bytes
};

// The outcome of one measured run.
struct RunResult {
  std::string scenario;
  int clients = 0;
  int64_t requests = 0;              // calls made (or, for inbox, events expected)
  int64_t errors = 0;                // failed calls (inbox: also events not delivered)
  double seconds = 0;                // measured wall time
  double rps = 0;                    // successful calls (inbox: events delivered) per second
  std::vector<double> latencies_us;  // of successful calls (inbox: send -> watcher)
};

// One call by one client. Returns the call's status.
using Call = std::function<grpc::Status()>;

class Scenario {
 public:
  virtual ~Scenario() = default;
  // Before the clock: data the calls need (consents, a referral to read).
  virtual absl::Status Setup() { return absl::OkStatus(); }
  // Client `index`'s call, on its own connections, connected before return.
  virtual absl::StatusOr<Call> NewClient(int index) = 0;
  // Just before the clock starts (inbox: the watcher subscribes).
  virtual absl::Status Start() { return absl::OkStatus(); }
  // After the clients stopped: may replace the latencies and rate
  // (inbox: deliveries instead of calls).
  virtual void Finish(Clock::time_point /*start*/, RunResult* /*result*/) {}
};

// "echo", "check-text", "ask", "send-referral", "draft-cosign", "audit-query",
// "audit-proof", "inbox", "mixed", "whoami".
const std::vector<std::string>& ScenarioNames();

// INVALID_ARGUMENT for an unknown name or missing identities.
absl::StatusOr<std::unique_ptr<Scenario>> MakeScenario(const std::string& name,
                                                       const Target& target,
                                                       const Payload& payload = {});

}  // namespace budstikke::loadgen

#endif  // BUDSTIKKE_BENCH_LOADGEN_SCENARIO_H_
