#include "budstikke/client.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"

namespace budstikke {
namespace {

constexpr char kErrorDetailsTypeUrl[] = "type.googleapis.com/budstikke.v1.ErrorDetails";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what,
                                    const char* how_to_set) {
  if (path.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("no ", what, " configured: set ", how_to_set));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::UnauthenticatedError(absl::StrCat(what, " ", path, " cannot be read (",
                                                   how_to_set, ")"));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  if (data.find("-----BEGIN") == std::string::npos) {
    return absl::UnauthenticatedError(absl::StrCat(what, " ", path, " is not a PEM file"));
  }
  return data;
}

}  // namespace

ClientOptions ClientOptions::FromEnv() {
  ClientOptions o;
  if (std::string s = Env("BUDSTIKKE_SERVER"); !s.empty()) o.server = s;
  o.ca_file = Env("BUDSTIKKE_CA");
  o.cert_file = Env("BUDSTIKKE_CERT");
  o.key_file = Env("BUDSTIKKE_KEY");
  return o;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (!status.error_details().empty()) {
    google::rpc::Status rpc;
    if (rpc.ParseFromString(status.error_details())) {
      for (const auto& any : rpc.details()) {
        v1::ErrorDetails details;
        if (any.UnpackTo(&details)) {
          out.SetPayload(kErrorDetailsTypeUrl, absl::Cord(details.SerializeAsString()));
        }
      }
    }
  }
  return out;
}

std::optional<v1::ErrorDetails> ErrorDetailsOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrorDetailsTypeUrl);
  if (!payload) return std::nullopt;
  v1::ErrorDetails details;
  if (!details.ParseFromString(std::string(*payload))) return std::nullopt;
  return details;
}

Client::Client(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      directory_(v1::DirectoryService::NewStub(channel_)),
      consultation_(v1::ConsultationService::NewStub(channel_)),
      consent_(v1::ConsentService::NewStub(channel_)),
      referral_(v1::ReferralService::NewStub(channel_)),
      inbox_(v1::InboxService::NewStub(channel_)),
      audit_(v1::AuditService::NewStub(channel_)),
      admin_(v1::AdminService::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  if (options.server.empty()) {
    return absl::InvalidArgumentError("no server configured: set BUDSTIKKE_SERVER or --server");
  }
  grpc::SslCredentialsOptions ssl;
  auto ca = ReadPem(options.ca_file, "CA certificate", "BUDSTIKKE_CA or --ca");
  if (!ca.ok()) return ca.status();
  auto cert = ReadPem(options.cert_file, "client certificate", "BUDSTIKKE_CERT or --cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(options.key_file, "client key", "BUDSTIKKE_KEY or --key");
  if (!key.ok()) return key.status();
  ssl.pem_root_certs = *std::move(ca);
  ssl.pem_cert_chain = *std::move(cert);
  ssl.pem_private_key = *std::move(key);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  auto channel = grpc::CreateCustomChannel(options.server, grpc::SslCredentials(ssl), args);
  return std::unique_ptr<Client>(new Client(options, std::move(channel)));
}

std::unique_ptr<grpc::ClientContext> Client::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(options_.timeout));
  return context;
}

absl::StatusOr<v1::WhoAmIResponse> Client::WhoAmI() const {
  return Call(*directory_, &v1::DirectoryService::Stub::WhoAmI, v1::WhoAmIRequest());
}

absl::StatusOr<v1::Agency> Client::GetAgency(const std::string& id) const {
  v1::GetAgencyRequest request;
  request.set_id(id);
  return Call(*directory_, &v1::DirectoryService::Stub::GetAgency, request);
}

absl::StatusOr<v1::ListAgenciesResponse> Client::ListAgencies(
    const v1::ListAgenciesRequest& request) const {
  return Call(*directory_, &v1::DirectoryService::Stub::ListAgencies, request);
}

absl::StatusOr<v1::Agency> Client::CreateAgency(const v1::Agency& agency,
                                                const std::string& request_id) const {
  v1::CreateAgencyRequest request;
  *request.mutable_agency() = agency;
  request.set_request_id(request_id);
  return Call(*directory_, &v1::DirectoryService::Stub::CreateAgency, request);
}

absl::StatusOr<v1::Agency> Client::UpdateAgency(const v1::Agency& agency) const {
  v1::UpdateAgencyRequest request;
  *request.mutable_agency() = agency;
  return Call(*directory_, &v1::DirectoryService::Stub::UpdateAgency, request);
}

std::string NewRequestId() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  return "req-" + absl::BytesToHexString(
                      absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

}  // namespace budstikke
