#include "budstikke/retry_policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace budstikke::internal {

const std::vector<std::string>& RetriedMethods() {
  static const auto* methods = new std::vector<std::string>{
      // Reads.
      "budstikke.v1.DirectoryService/WhoAmI",
      "budstikke.v1.DirectoryService/GetAgency",
      "budstikke.v1.DirectoryService/ListAgencies",
      "budstikke.v1.ConsultationService/CheckText",
      "budstikke.v1.ConsultationService/Get",
      "budstikke.v1.ConsultationService/List",
      "budstikke.v1.ConsentService/Get",
      "budstikke.v1.ConsentService/List",
      "budstikke.v1.ReferralService/Get",
      "budstikke.v1.ReferralService/List",
      "budstikke.v1.ReferralService/GetThread",
      "budstikke.v1.AuditService/GetPublicKey",
      "budstikke.v1.AuditService/GetCheckpoint",
      "budstikke.v1.AuditService/GetEvent",
      "budstikke.v1.AuditService/GetInclusionProof",
      "budstikke.v1.AuditService/GetConsistencyProof",
      "budstikke.v1.AuditService/Query",
      "budstikke.v1.AuditService/SubjectAccessReport",
      "budstikke.v1.AdminService/GetKeyStatus",
      "budstikke.v1.AdminService/GetRewrapProgress",
      "budstikke.v1.AdminService/GetServerInfo",
      // Creates with a request_id.
      "budstikke.v1.DirectoryService/CreateAgency",
      "budstikke.v1.ConsultationService/Ask",
      "budstikke.v1.ConsultationService/Answer",
      "budstikke.v1.ConsultationService/AddMessage",
      "budstikke.v1.ConsentService/Record",
      "budstikke.v1.ReferralService/Send",
      "budstikke.v1.ReferralService/Draft",
      "budstikke.v1.AdminService/RotateAgencyKey",
      "budstikke.v1.AdminService/CreateBackup",
  };
  return *methods;
}

const std::vector<std::string>& NotRetriedMethods() {
  static const auto* methods = new std::vector<std::string>{
      "budstikke.v1.DirectoryService/UpdateAgency",
      "budstikke.v1.ConsultationService/Claim",
      "budstikke.v1.ConsultationService/Close",
      "budstikke.v1.ConsentService/Revoke",
      "budstikke.v1.ReferralService/Acknowledge",
      "budstikke.v1.ReferralService/Decide",
      "budstikke.v1.ReferralService/Withdraw",
      "budstikke.v1.ReferralService/Cosign",
      "budstikke.v1.ReferralService/Return",
      "budstikke.v1.ReferralService/PostMessage",
      "budstikke.v1.ReferralService/Invite",
      "budstikke.v1.ReferralService/Supplement",
      "budstikke.v1.ReferralService/UploadAttachment",    // client stream
      "budstikke.v1.ReferralService/DownloadAttachment",  // server stream
      "budstikke.v1.InboxService/Subscribe",              // server stream (WatchInbox resumes)
      "budstikke.v1.InboxService/Ack",
      "budstikke.v1.AdminService/ShredAgencyKeyVersion",
  };
  return *methods;
}

std::string RetryServiceConfig(int max_attempts) {
  if (max_attempts < 2) return "{}";
  nlohmann::json names = nlohmann::json::array();
  for (const std::string& full : RetriedMethods()) {
    const size_t slash = full.find('/');
    names.push_back({{"service", full.substr(0, slash)}, {"method", full.substr(slash + 1)}});
  }
  nlohmann::json config = {{"methodConfig",
                            {{{"name", names},
                              {"retryPolicy",
                               {{"maxAttempts", std::min(max_attempts, 5)},
                                {"initialBackoff", "0.1s"},
                                {"maxBackoff", "1s"},
                                {"backoffMultiplier", 2},
                                {"retryableStatusCodes", {"UNAVAILABLE"}}}}}}}};
  return config.dump();
}

}  // namespace budstikke::internal
