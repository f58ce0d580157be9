#include "services/gateway/gateway.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/client_callback.h>
#include <grpcpp/support/server_callback.h>

#include <google/protobuf/descriptor.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "services/common/audit_event.h"
#include "services/common/authz.h"
#include "services/common/grpc_status.h"
#include "services/common/identity.h"

namespace budstikke::gateway {
namespace {

using grpc::ByteBuffer;

absl::string_view View(grpc::string_ref s) { return absl::string_view(s.data(), s.size()); }
std::string Copy(grpc::string_ref s) { return std::string(s.data(), s.size()); }

// Whether a metadata key is the application's to forward: not a pseudo-header,
// not one of HTTP/2's or gRPC's own headers (gRPC sets them on each hop).
bool Forwardable(absl::string_view key) {
  if (key.empty() || key[0] == ':' || absl::StartsWith(key, "grpc-")) return false;
  return key != "te" && key != "content-type" && key != "user-agent" && key != "host" &&
         key != "connection" && key != "keep-alive" && key != "proxy-connection" &&
         key != "transfer-encoding" && key != "upgrade";
}

// "/pkg.Service/Method" -> "pkg.Service"; "" when `method` has another shape.
absl::string_view ServiceOf(absl::string_view method) {
  if (method.size() < 4 || method[0] != '/') return "";
  const size_t slash = method.find('/', 1);
  if (slash == absl::string_view::npos || slash == 1 || slash + 1 == method.size()) return "";
  return method.substr(1, slash - 1);
}

// How much the grpc-timeout header may round a remaining time up on one hop
// (gRPC sends about three digits: milliseconds below 1 s, then units of 10 ms,
// 100 ms, 1 s, 10 s, 100 s, minutes ...).
std::chrono::milliseconds TimeoutRounding(std::chrono::milliseconds remaining) {
  using std::chrono::milliseconds;
  static constexpr struct {
    milliseconds below, unit;
  } kSteps[] = {
      {milliseconds(1'000), milliseconds(1)},
      {milliseconds(10'000), milliseconds(10)},
      {milliseconds(100'000), milliseconds(100)},
      {milliseconds(1'000'000), milliseconds(1'000)},
      {milliseconds(10'000'000), milliseconds(10'000)},
      {milliseconds(100'000'000), milliseconds(100'000)},
  };
  for (const auto& step : kSteps) {
    if (remaining < step.below) return step.unit;
  }
  return std::chrono::minutes(100);
}

// The backend's deadline: the incoming one less what the grpc-timeout
// encoding may have added on the way in and may add on the way out, and
// kClockAllowance for gRPC's millisecond clocks (each hop converts and caches
// "now" at millisecond precision) and the time on the wire, so that the
// backend gives up no later than the client. (grpc-timeout is relative: a
// request that spends longer than kClockAllowance between client and gateway
// reaches the backend with a deadline later than the client's by the
// difference.) No deadline stays none.
constexpr std::chrono::milliseconds kClockAllowance(10);

std::chrono::system_clock::time_point BackendDeadline(std::chrono::system_clock::time_point in) {
  if (in == std::chrono::system_clock::time_point::max()) return in;
  const auto remaining =
      std::chrono::duration_cast<std::chrono::milliseconds>(in - std::chrono::system_clock::now());
  return in - 2 * TimeoutRounding(remaining) - kClockAllowance;
}

// The forwarded calls still alive. The gateway waits for them before it
// releases its channels: a call may end after the server's Shutdown returned,
// and the last reference to a channel must not go away on one of gRPC's
// callback threads (gRPC 1.51 then joins that thread from itself and frees
// its completion queue twice).
class InFlight {
 public:
  void Enter() {
    absl::MutexLock lock(&mu_);
    ++calls_;
  }
  void Leave() {
    absl::MutexLock lock(&mu_);
    --calls_;
  }
  void AwaitNone() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* calls) { return *calls == 0; }, &calls_));
  }

 private:
  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// The backend call's context: the incoming deadline (BackendDeadline), the
// client's forwardable metadata and `budstikke-on-behalf-of`.
void PrepareBackendContext(const grpc::GenericCallbackServerContext& in,
                           const std::string& on_behalf_of, grpc::ClientContext* out) {
  out->set_deadline(BackendDeadline(in.deadline()));
  for (const auto& [key, value] : in.client_metadata()) {
    if (!Forwardable(View(key)) || View(key) == common::kOnBehalfOfMetadata) continue;
    out->AddMetadata(Copy(key), Copy(value));
  }
  out->AddMetadata(common::kOnBehalfOfMetadata, on_behalf_of);
}

// The backend call's forwardable initial and trailing metadata onto the
// incoming call (before its first write and before its Finish).
void ForwardInitialMetadata(const grpc::ClientContext& from,
                            grpc::GenericCallbackServerContext* to) {
  for (const auto& [key, value] : from.GetServerInitialMetadata()) {
    if (Forwardable(View(key))) to->AddInitialMetadata(Copy(key), Copy(value));
  }
}
void ForwardTrailingMetadata(const grpc::ClientContext& from,
                             grpc::GenericCallbackServerContext* to) {
  for (const auto& [key, value] : from.GetServerTrailingMetadata()) {
    if (Forwardable(View(key))) to->AddTrailingMetadata(Copy(key), Copy(value));
  }
}

// Ends an incoming call at once with `status` (refusals, unknown services).
class Refusal final : public grpc::ServerGenericBidiReactor {
 public:
  explicit Refusal(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// One forwarded call: the incoming call (this reactor) and the backend call
// (`backend_`). Two pumps, each with at most one message in flight:
//   requests:  client read -> backend write -> client read ...
//   responses: backend initial metadata -> backend read -> client write ->
//              backend read ...
// The backend's final status ends the incoming call.
//
// Lifetime: two references, dropped by the incoming call's OnDone and the
// backend call's OnDone; the last one deletes. The incoming call is finished
// only from the backend's OnDone, so its OnDone always comes later, but the
// two may run concurrently on different threads.
//
// The backend call object is destroyed by gRPC just before its OnDone, so
// every backend operation started outside a backend reaction is covered by a
// hold: one for the request pump (released when it stops) and one for each
// client write of the response pump (released after the next backend read has
// started).
class ForwardCall final : public grpc::ServerGenericBidiReactor {
 public:
  ForwardCall(grpc::GenericCallbackServerContext* ctx, grpc::GenericStub* stub,
              const std::string& on_behalf_of, InFlight* in_flight)
      : in_flight_(in_flight), server_ctx_(ctx), method_(ctx->method()), backend_(this) {
    in_flight_->Enter();
    PrepareBackendContext(*ctx, on_behalf_of, &backend_ctx_);
    stub->PrepareBidiStreamingCall(&backend_ctx_, method_, grpc::StubOptions(), &backend_);
    backend_.AddHold();  // the request pump's
    backend_.StartCall();
    StartRead(&request_);
  }

  // Request pump: a client message (or the client's half-close).
  void OnReadDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      if (requests_ == Pump::kStopped) return;  // the backend call is over
      requests_ = ok ? Pump::kWriting : Pump::kStopped;
    }
    if (ok) {
      backend_.StartWrite(&request_);
    } else {
      backend_.StartWritesDone();
      backend_.RemoveHold();
    }
  }

  // Response pump: a message written to the client.
  void OnWriteDone(bool ok) override {
    if (ok) {
      backend_.StartRead(&response_);
    } else {
      backend_ctx_.TryCancel();  // the client is gone
      StopRequests();
    }
    backend_.RemoveHold();
  }

  void OnCancel() override { backend_ctx_.TryCancel(); }

  void OnDone() override { Unref(); }

 private:
  enum class Pump { kReading, kWriting, kStopped };

  class Backend final : public grpc::ClientBidiReactor<ByteBuffer, ByteBuffer> {
   public:
    explicit Backend(ForwardCall* call) : call_(call) {}
    void OnReadInitialMetadataDone(bool ok) override { call_->BackendInitialMetadata(ok); }
    void OnReadDone(bool ok) override { call_->BackendRead(ok); }
    void OnWriteDone(bool ok) override { call_->BackendWrote(ok); }
    void OnDone(const grpc::Status& status) override { call_->BackendDone(status); }

   private:
    ForwardCall* call_;
  };

  void BackendInitialMetadata(bool ok) {
    if (!ok) {
      StopRequests();
      return;
    }
    ForwardInitialMetadata(backend_ctx_, server_ctx_);
    StartSendInitialMetadata();
    backend_.StartRead(&response_);
  }

  void BackendRead(bool ok) {
    if (!ok) {
      StopRequests();  // the backend has ended the call
      return;
    }
    backend_.AddHold();  // released in OnWriteDone
    StartWrite(&response_);
  }

  // Request pump: a client message written to the backend. A write can
  // complete after the backend call began to end; then the pump stops here.
  void BackendWrote(bool ok) {
    bool read_more;
    {
      absl::MutexLock lock(&mu_);
      read_more = ok && !backend_ending_;
      requests_ = read_more ? Pump::kReading : Pump::kStopped;
    }
    if (read_more) {
      StartRead(&request_);
    } else {
      backend_.RemoveHold();
    }
  }

  // The backend call is ending (its responses ended, or the client is gone):
  // a client read still pending must not keep it open. That read completes
  // later (at the latest when the incoming call is finished) and is ignored.
  void StopRequests() {
    {
      absl::MutexLock lock(&mu_);
      backend_ending_ = true;
      if (requests_ != Pump::kReading) return;  // kWriting ends in BackendWrote
      requests_ = Pump::kStopped;
    }
    backend_.RemoveHold();
  }

  void BackendDone(const grpc::Status& status) {
    ForwardTrailingMetadata(backend_ctx_, server_ctx_);
    Finish(status);
    Unref();
  }

  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    InFlight* in_flight = in_flight_;
    delete this;  // drops this call's reference to the channel
    in_flight->Leave();
  }

  InFlight* const in_flight_;
  grpc::GenericCallbackServerContext* const server_ctx_;
  const std::string method_;  // outlives the backend call
  grpc::ClientContext backend_ctx_;
  Backend backend_;
  ByteBuffer request_;   // the request pump's one message in flight
  ByteBuffer response_;  // the response pump's one message in flight
  std::atomic<int> refs_{2};
  absl::Mutex mu_;
  Pump requests_ ABSL_GUARDED_BY(mu_) = Pump::kReading;
  bool backend_ending_ ABSL_GUARDED_BY(mu_) = false;
};

// One forwarded unary call (neither side streams, as the method's descriptor
// says): the client's one message, then one backend call that sends and
// receives everything in one batch, then the response and the status to the
// client in one operation. Four operations instead of ForwardCall's eleven or
// so, each completed on one of gRPC's callback threads (docs/PERFORMANCE.md,
// Microservices, third round). Same metadata, deadline and status rules.
//
// Lifetime: the incoming call's OnDone drops one reference and, once started,
// the backend call's completion the other; the last one deletes.
class ForwardUnary final : public grpc::ServerGenericBidiReactor {
 public:
  ForwardUnary(grpc::GenericCallbackServerContext* ctx, grpc::GenericStub* stub,
               const std::string& on_behalf_of, InFlight* in_flight)
      : in_flight_(in_flight), server_ctx_(ctx), stub_(stub), method_(ctx->method()) {
    in_flight_->Enter();
    PrepareBackendContext(*ctx, on_behalf_of, &backend_ctx_);
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client is gone, or half-closed without its message
      Finish(server_ctx_->IsCancelled()
                 ? grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client")
                 : grpc::Status(grpc::StatusCode::INTERNAL, "no request message"));
      return;
    }
    refs_.fetch_add(1, std::memory_order_relaxed);
    stub_->UnaryCall(&backend_ctx_, method_, grpc::StubOptions(), &request_, &response_,
                     [this](const grpc::Status& status) { BackendDone(status); });
  }

  void OnCancel() override { backend_ctx_.TryCancel(); }

  void OnDone() override { Unref(); }

 private:
  void BackendDone(const grpc::Status& status) {
    ForwardInitialMetadata(backend_ctx_, server_ctx_);
    ForwardTrailingMetadata(backend_ctx_, server_ctx_);
    // UnaryCall allows an OK without a message (a backend that is not a
    // real unary server); then the status alone, as the streaming path does.
    if (status.ok() && response_.Valid()) {
      StartWriteAndFinish(&response_, grpc::WriteOptions(), status);
    } else {
      Finish(status);
    }
    Unref();
  }

  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    InFlight* in_flight = in_flight_;
    delete this;
    in_flight->Leave();
  }

  InFlight* const in_flight_;
  grpc::GenericCallbackServerContext* const server_ctx_;
  grpc::GenericStub* const stub_;
  const std::string method_;  // outlives the backend call (gRPC keeps its c_str())
  grpc::ClientContext backend_ctx_;
  ByteBuffer request_;
  ByteBuffer response_;
  std::atomic<int> refs_{1};  // the incoming call's; the backend call adds one
};

// "/pkg.Service/Method" of every unary method of `services`, from the
// descriptors compiled into this binary. A service not found there is
// forwarded as streaming, which carries any call shape.
absl::flat_hash_set<std::string> UnaryMethods(const std::vector<std::string>& services) {
  absl::flat_hash_set<std::string> out;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      if (!m->client_streaming() && !m->server_streaming()) {
        out.insert(absl::StrCat("/", name, "/", m->name()));
      }
    }
  }
  return out;
}

}  // namespace

class Gateway::Service final : public grpc::CallbackGenericService {
 public:
  Service(const common::Authenticator* auth,
          absl::flat_hash_map<std::string, std::unique_ptr<grpc::GenericStub>> stubs,
          absl::flat_hash_set<std::string> unary)
      : auth_(auth), stubs_(std::move(stubs)), unary_(std::move(unary)) {}
  ~Service() override { in_flight_.AwaitNone(); }

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    absl::StatusOr<common::Caller> caller =
        auth_->IdentifyForForwarding(ctx, absl::StripPrefix(ctx->method(), "/"));
    if (!caller.ok()) return new Refusal(common::ToGrpcStatus(caller.status()));
    const absl::string_view service = ServiceOf(ctx->method());
    auto route = stubs_.find(service);
    if (route == stubs_.end()) {
      return new Refusal(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                      absl::StrCat("unknown service '", service, "'")));
    }
    if (unary_.contains(ctx->method())) {
      return new ForwardUnary(ctx, route->second.get(), caller->identity.spiffe_id, &in_flight_);
    }
    return new ForwardCall(ctx, route->second.get(), caller->identity.spiffe_id, &in_flight_);
  }

  bool forwards_as_unary(absl::string_view method) const { return unary_.contains(method); }

 private:
  const common::Authenticator* auth_;
  absl::flat_hash_map<std::string, std::unique_ptr<grpc::GenericStub>> stubs_;
  const absl::flat_hash_set<std::string> unary_;
  InFlight in_flight_;
};

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(GatewayOptions options) {
  if (options.auth == nullptr) {
    return absl::InvalidArgumentError("gateway: an authenticator is required");
  }
  absl::flat_hash_map<std::string, std::unique_ptr<grpc::GenericStub>> stubs;
  std::vector<std::string> services;
  for (auto& [service, channel] : options.routes) {
    if (service.empty() || absl::StrContains(service, '/')) {
      return absl::InvalidArgumentError(
          absl::StrCat("gateway: bad service name '", service, "' (want e.g. pkg.Service)"));
    }
    if (channel == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("gateway: no channel for '", service, "'"));
    }
    stubs.emplace(service, std::make_unique<grpc::GenericStub>(std::move(channel)));
    services.push_back(service);
  }
  return std::unique_ptr<Gateway>(new Gateway(
      std::make_unique<Service>(options.auth, std::move(stubs), UnaryMethods(services))));
}

bool Gateway::ForwardsAsUnary(absl::string_view method) const {
  return service_->forwards_as_unary(method);
}

Gateway::Gateway(std::unique_ptr<Service> service) : service_(std::move(service)) {}

Gateway::~Gateway() = default;

grpc::CallbackGenericService* Gateway::service() { return service_.get(); }

}  // namespace budstikke::gateway
