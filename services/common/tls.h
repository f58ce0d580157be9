// mTLS credentials for the server and for service-to-service channels.
//
// CheckTlsFiles validates the files with OpenSSL before anything starts (gRPC's
// FileWatcherCertificateProvider would start happily with missing files and
// only log retries): the certificate and CA parse, the key parses, matches the
// certificate and has mode 0600. Errors are one line naming the file.
//
// The credentials watch the files (FileWatcherCertificateProvider), so renewed
// certificates are picked up without a restart. The server requires and
// verifies a client certificate signed by the CA.
#ifndef BUDSTIKKE_SERVICES_COMMON_TLS_H_
#define BUDSTIKKE_SERVICES_COMMON_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/status.h"

namespace budstikke::common {

struct TlsFiles {
  std::string cert;  // PEM certificate (chain)
  std::string key;   // PEM private key, mode 0600
  std::string ca;    // PEM CA bundle that client/server certificates chain to
};

absl::Status CheckTlsFiles(const TlsFiles& files);

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files,
                                                               int refresh_seconds = 60);

// Client credentials for a Budstikke service calling another one.
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const TlsFiles& files,
                                                                 int refresh_seconds = 60);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_TLS_H_
