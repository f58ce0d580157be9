// bare_echo_server: the physical limit for budstikke-loadgen's ratios. A
// synchronous gRPC C++ server with gRPC's default settings, mTLS (server
// certificate, client certificate required and verified against the same CA
// as the product), and one unary RPC, budstikke.bench.v1.EchoService/Echo,
// that returns its payload. No authorization, no storage, no interceptors.
//
//   bare_echo_server --cert F --key F --ca F [--listen 127.0.0.1:0]
//                    [--product-settings]
//
// --product-settings serves the same echo with budstikke-server's gRPC
// settings (poller threads, reloading TLS credentials): the cost of those
// settings alone, without the product's handlers. Prints
// "listening on HOST:PORT" when ready; SIGTERM or SIGINT stop it.
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "budstikke/bench/v1/echo.grpc.pb.h"
#include "services/common/server_threads.h"
#include "services/common/tls.h"

namespace budstikke::bench {
namespace {

class EchoService final : public v1::EchoService::Service {
  grpc::Status Echo(grpc::ServerContext*, const v1::EchoRequest* request,
                    v1::EchoResponse* response) override {
    response->set_payload(request->payload());
    return grpc::Status::OK;
  }
};

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// gRPC's plain SSL credentials, client certificate required and verified.
std::shared_ptr<grpc::ServerCredentials> DefaultCredentials(const common::TlsFiles& files) {
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  if (!ReadFile(files.ca, &ssl.pem_root_certs) || !ReadFile(files.key, &pair.private_key) ||
      !ReadFile(files.cert, &pair.cert_chain)) {
    return nullptr;
  }
  ssl.pem_key_cert_pairs.push_back(pair);
  return grpc::SslServerCredentials(ssl);
}

int Main(int argc, char** argv) {
  CLI::App app{"bare_echo_server: a plain gRPC mTLS echo, the baseline of budstikke-loadgen"};
  common::TlsFiles tls;
  std::string listen = "127.0.0.1:0";
  bool product_settings = false;
  app.add_option("--cert", tls.cert, "server certificate (PEM)")->required();
  app.add_option("--key", tls.key, "server key (PEM)")->required();
  app.add_option("--ca", tls.ca, "CA that client certificates must chain to (PEM)")->required();
  app.add_option("--listen", listen, "HOST:PORT (port 0: the kernel picks)");
  app.add_flag("--product-settings", product_settings,
               "budstikke-server's poller threads and TLS credentials instead of gRPC's defaults");
  CLI11_PARSE(app, argc, argv);

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (product_settings) {
    if (absl::Status s = common::CheckTlsFiles(tls); !s.ok()) {
      std::fprintf(stderr, "bare_echo_server: %s\n", std::string(s.message()).c_str());
      return 2;
    }
    creds = common::MakeServerCredentials(tls);
  } else {
    creds = DefaultCredentials(tls);
  }
  if (creds == nullptr) {
    std::fprintf(stderr, "bare_echo_server: cannot read --cert, --key or --ca\n");
    return 2;
  }
  EchoService service;
  grpc::ServerBuilder builder;
  if (product_settings) common::ApplyServerThreadOptions(builder);
  int port = 0;
  builder.AddListeningPort(listen, creds, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "bare_echo_server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::printf("listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  server->Shutdown();
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace budstikke::bench

int main(int argc, char** argv) { return budstikke::bench::Main(argc, argv); }
