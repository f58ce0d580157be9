#include "services/server/reflection.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/impl/server_initializer.h>

#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "services/common/grpc_status.h"

namespace budstikke::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

using Stream = grpc::ServerReaderWriter<ServerReflectionResponse, ServerReflectionRequest>;

void SetError(grpc::StatusCode code, const std::string& message, ServerReflectionResponse* resp) {
  resp->mutable_error_response()->set_error_code(static_cast<int32_t>(code));
  resp->mutable_error_response()->set_error_message(message);
}

// Adds `file` and then its dependencies, each unless already sent.
void AddFile(const FileDescriptor* file, std::set<std::string>* sent,
             ServerReflectionResponse* resp) {
  if (!sent->insert(file->name()).second) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  proto.SerializeToString(resp->mutable_file_descriptor_response()->add_file_descriptor_proto());
  for (int i = 0; i < file->dependency_count(); ++i) AddFile(file->dependency(i), sent, resp);
}

void AnswerFile(const FileDescriptor* file, std::set<std::string>* sent,
                ServerReflectionResponse* resp) {
  if (file == nullptr) return SetError(grpc::StatusCode::NOT_FOUND, "not found", resp);
  resp->mutable_file_descriptor_response();  // set even when every file was sent before
  AddFile(file, sent, resp);
}

const FileDescriptor* FileOfExtension(const ServerReflectionRequest& req) {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  const Descriptor* type =
      pool->FindMessageTypeByName(req.file_containing_extension().containing_type());
  if (type == nullptr) return nullptr;
  const FieldDescriptor* ext =
      pool->FindExtensionByNumber(type, req.file_containing_extension().extension_number());
  return ext == nullptr ? nullptr : ext->file();
}

void AnswerExtensionNumbers(const std::string& type_name, ServerReflectionResponse* resp) {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  const Descriptor* type = pool->FindMessageTypeByName(type_name);
  if (type == nullptr) return SetError(grpc::StatusCode::NOT_FOUND, "type not found", resp);
  std::vector<const FieldDescriptor*> extensions;
  pool->FindAllExtensions(type, &extensions);
  auto* out = resp->mutable_all_extension_numbers_response();
  out->set_base_type_name(type->full_name());
  for (const FieldDescriptor* ext : extensions) out->add_extension_number(ext->number());
}

class ReflectionService final : public ServerReflection::Service {
 public:
  explicit ReflectionService(const common::Authenticator* auth) : auth_(auth) {}

  // The names of the services on the server (once it has started).
  void SetServices(std::vector<std::string> names) {
    absl::MutexLock lock(&mu_);
    services_ = std::move(names);
  }

  grpc::Status ServerReflectionInfo(grpc::ServerContext* ctx, Stream* stream) override {
    absl::StatusOr<common::Identity> caller = auth_->Authenticated(ctx);
    if (!caller.ok()) return common::ToGrpcStatus(caller.status());
    std::set<std::string> sent;  // files already sent on this stream
    ServerReflectionRequest req;
    while (stream->Read(&req)) {
      if (!stream->Write(Answer(req, &sent))) break;
    }
    return grpc::Status::OK;
  }

 private:
  ServerReflectionResponse Answer(const ServerReflectionRequest& req,
                                  std::set<std::string>* sent) const {
    const DescriptorPool* pool = DescriptorPool::generated_pool();
    ServerReflectionResponse resp;
    resp.set_valid_host(req.host());
    *resp.mutable_original_request() = req;
    switch (req.message_request_case()) {
      case ServerReflectionRequest::kListServices:
        ListServices(&resp);
        break;
      case ServerReflectionRequest::kFileByFilename:
        AnswerFile(pool->FindFileByName(req.file_by_filename()), sent, &resp);
        break;
      case ServerReflectionRequest::kFileContainingSymbol:
        AnswerFile(pool->FindFileContainingSymbol(req.file_containing_symbol()), sent, &resp);
        break;
      case ServerReflectionRequest::kFileContainingExtension:
        AnswerFile(FileOfExtension(req), sent, &resp);
        break;
      case ServerReflectionRequest::kAllExtensionNumbersOfType:
        AnswerExtensionNumbers(req.all_extension_numbers_of_type(), &resp);
        break;
      default:
        SetError(grpc::StatusCode::UNIMPLEMENTED, "the request is not supported", &resp);
    }
    return resp;
  }

  void ListServices(ServerReflectionResponse* resp) const {
    absl::MutexLock lock(&mu_);
    for (const std::string& name : services_) {
      resp->mutable_list_services_response()->add_service()->set_name(name);
    }
  }

  const common::Authenticator* const auth_;
  mutable absl::Mutex mu_;
  std::vector<std::string> services_ ABSL_GUARDED_BY(mu_);
};

// Registers the service when the server is built and gives it the service
// names once the server has started (as gRPC's reflection plugin does).
class ReflectionPlugin final : public grpc::ServerBuilderPlugin {
 public:
  explicit ReflectionPlugin(const common::Authenticator* auth)
      : service_(std::make_shared<ReflectionService>(auth)) {}
  std::string name() override { return "budstikke_reflection"; }
  void InitServer(grpc::ServerInitializer* si) override { si->RegisterService(service_); }
  void Finish(grpc::ServerInitializer* si) override {
    service_->SetServices(*si->GetServiceList());
  }
  void ChangeArguments(const std::string&, void*) override {}
  bool has_sync_methods() const override { return true; }

 private:
  std::shared_ptr<ReflectionService> service_;
};

class ReflectionOption final : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(const common::Authenticator* auth) : auth_(auth) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->push_back(std::make_unique<ReflectionPlugin>(auth_));
  }

 private:
  const common::Authenticator* const auth_;
};

}  // namespace

std::unique_ptr<grpc::ServerBuilderOption> AuthenticatedReflection(
    const common::Authenticator* auth) {
  return std::make_unique<ReflectionOption>(auth);
}

}  // namespace budstikke::server
