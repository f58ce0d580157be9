#include "services/common/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "services/common/key_file.h"
#include "storage/status_macros.h"

namespace budstikke::common {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

BioPtr MemBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())), &BIO_free);
}

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& files) {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile("TLS certificate", files.cert));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string ca_pem, ReadFile("TLS CA file", files.ca));
  BUDSTIKKE_RETURN_IF_ERROR(CheckPrivateFile("TLS key file", files.key));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string key_pem, ReadFile("TLS key file", files.key));

  BioPtr cert_bio = MemBio(cert_pem);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS certificate ", files.cert, " is not a PEM certificate"));
  }
  BioPtr ca_bio = MemBio(ca_pem);
  std::unique_ptr<X509, decltype(&X509_free)> ca(
      PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!ca) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS CA file ", files.ca, " is not a PEM certificate"));
  }
  BioPtr key_bio = MemBio(key_pem);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  key_pem.assign(key_pem.size(), '\0');
  if (!key) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("TLS key file ", files.key, " is not a PEM private key"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("TLS key file ", files.key, " does not match certificate ", files.cert));
  }
  return absl::OkStatus();
}

namespace {

std::shared_ptr<grpc::experimental::CertificateProviderInterface> Provider(const TlsFiles& files,
                                                                           int refresh_seconds) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key, files.cert, files.ca, refresh_seconds);
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files,
                                                               int refresh_seconds) {
  grpc::experimental::TlsServerCredentialsOptions options(Provider(files, refresh_seconds));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const TlsFiles& files,
                                                                 int refresh_seconds) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(files, refresh_seconds));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace budstikke::common
