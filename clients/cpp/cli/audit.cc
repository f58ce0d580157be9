// budstikke audit public-key|checkpoint|get|prove|consistency|query|report|verify
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "budstikke/audit_verify.h"
#include "cli/context.h"
#include "cli/enum_flag.h"
#include "tlog/base64.h"

namespace budstikke::cli {
namespace {

absl::Status ParseTime(const std::string& flag, const std::string& text,
                       google::protobuf::Timestamp* out) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(text, &day)) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " must be RFC 3339 (2024-05-01T12:00:00Z) or YYYY-MM-DD"));
    }
    t = absl::FromCivil(day, absl::UTCTimeZone());
  }
  const int64_t nanos = absl::ToUnixNanos(t);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return absl::OkStatus();
}

// An event as DESIGN's JSON; "count", "first_time" and "last_time" only on an
// aggregate of repeated refusals.
nlohmann::json EventJson(const v1::AuditEvent& e) {
  nlohmann::json j = ToJson(e);
  if (e.count() == 0) j.erase("count");
  return j;
}

const std::vector<std::string> kEventColumns = {"index", "time", "action", "outcome", "subject"};

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ProveArgs {
  uint64_t index = 0, tree_size = 0;
};

struct ConsArgs {
  uint64_t from = 0, to = 0;
};

struct QueryArgs {
  std::string subject, agency, user, action, since, until, page_token;
  v1::AuditOutcome outcome = v1::AUDIT_OUTCOME_UNSPECIFIED;
  bool proofs = false;
  int page_size = 0;
};

struct ReportArgs {
  std::string subject, since, until, page_token;
  int page_size = 0;
};

struct VerifyArgs {
  std::string state, public_key;
  bool checkpoint_only = false;
};

void AddAuditPublicKey(CLI::App* audit, CliContext& ctx) {
  auto* pk = audit->add_subcommand("public-key",
                                   "print the checkpoint signing key (note verifier key)\n"
                                   "  example: budstikke audit public-key > audit.vkey");
  pk->callback([&ctx] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto r = (*client)->GetAuditPublicKey();
      if (!r.ok()) return r.status();
      if (ctx.format() == OutputFormat::kJson) {
        ctx.Emit(ToJson(*r));
      } else {
        std::cout << r->verifier_key() << "\n" << std::flush;
      }
      return absl::OkStatus();
    });
  });
}

void AddAuditCheckpoint(CLI::App* audit, CliContext& ctx) {
  auto* cp = audit->add_subcommand("checkpoint",
                                   "print the latest signed checkpoint (C2SP signed note)\n"
                                   "  example: budstikke audit checkpoint > checkpoint.txt");
  cp->callback([&ctx] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto r = (*client)->GetCheckpoint();
      if (!r.ok()) return r.status();
      if (ctx.format() == OutputFormat::kJson) {
        ctx.Emit(ToJson(*r));
      } else {
        std::cout << r->signed_note() << std::flush;  // byte-exact, ends in "\n"
      }
      return absl::OkStatus();
    });
  });
}

void AddAuditGet(CLI::App* audit, CliContext& ctx) {
  auto get_index = std::make_shared<uint64_t>(0);
  auto* get = audit->add_subcommand("get",
                                    "show one event with its leaf bytes\n"
                                    "  example: budstikke audit get --index 0 --output json");
  get->add_option("--index", *get_index, "log index")->required();
  get->callback([&ctx, get_index] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      v1::GetEventRequest req;
      req.set_index(*get_index);
      auto r = (*client)->GetAuditEvent(req);
      if (!r.ok()) return r.status();
      nlohmann::json j = EventJson(r->event());
      j["index"] = *get_index;
      j["leaf_data"] = tlog::Base64Encode(r->leaf_data());
      ctx.Emit(j);
      return absl::OkStatus();
    });
  });
}

void AddAuditProve(CLI::App* audit, CliContext& ctx) {
  auto prove_args = std::make_shared<ProveArgs>();
  auto* prove = audit->add_subcommand("prove",
                                      "inclusion proof of one event (RFC 9162)\n"
                                      "  example: budstikke audit prove --index 3 --tree-size 10");
  prove->add_option("--index", prove_args->index, "log index")->required();
  prove->add_option("--tree-size", prove_args->tree_size, "tree size (default: latest checkpoint)");
  prove->callback([&ctx, prove_args] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      v1::GetInclusionProofRequest req;
      req.set_index(prove_args->index);
      req.set_tree_size(prove_args->tree_size);
      auto r = (*client)->GetInclusionProof(req);
      if (!r.ok()) return r.status();
      ctx.Emit(ToJson(*r));
      return absl::OkStatus();
    });
  });
}

void AddAuditConsistency(CLI::App* audit, CliContext& ctx) {
  auto cons_args = std::make_shared<ConsArgs>();
  auto* cons = audit->add_subcommand("consistency",
                                     "consistency proof between two tree sizes\n"
                                     "  example: budstikke audit consistency --from 5 --to 9");
  cons->add_option("--from", cons_args->from, "older tree size")->required();
  cons->add_option("--to", cons_args->to, "newer tree size")->required();
  cons->callback([&ctx, cons_args] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      v1::GetConsistencyProofRequest req;
      req.set_first(cons_args->from);
      req.set_second(cons_args->to);
      auto r = (*client)->GetConsistencyProof(req);
      if (!r.ok()) return r.status();
      ctx.Emit(ToJson(*r));
      return absl::OkStatus();
    });
  });
}

void AddAuditQuery(CLI::App* audit, CliContext& ctx) {
  auto qa = std::make_shared<QueryArgs>();
  auto* query = audit->add_subcommand(
      "query",
      "search the log (auditor: all events; admin: own agency)\n"
      "  example: budstikke audit query --subject 01817512345 --proofs --output json");
  query->add_option("--subject", qa->subject, "child's national id (hashed on the server)");
  query->add_option("--actor-agency", qa->agency, "agency id of the actor");
  query->add_option("--actor-user", qa->user, "user id of the actor");
  query->add_option("--action", qa->action, "e.g. referral.read");
  AddEnumOption(query, "--outcome", &qa->outcome, "allowed or denied");
  query->add_option("--since", qa->since, "from this time (RFC 3339 or YYYY-MM-DD)");
  query->add_option("--until", qa->until, "before this time");
  query->add_flag("--proofs", qa->proofs, "attach and verify inclusion proofs");
  query->add_option("--page-size", qa->page_size, "items per page (default 50, max 1000)");
  query->add_option("--page-token", qa->page_token, "token from the previous page");
  query->callback([&ctx, qa] {
    ctx.Run([&]() -> absl::Status {
      v1::QueryAuditRequest req;
      req.set_subject_national_id(qa->subject);
      req.set_actor_agency(qa->agency);
      req.set_actor_user(qa->user);
      req.set_action(qa->action);
      req.set_outcome(qa->outcome);
      if (!qa->since.empty()) {
        absl::Status s = ParseTime("--since", qa->since, req.mutable_since());
        if (!s.ok()) return s;
      }
      if (!qa->until.empty()) {
        absl::Status s = ParseTime("--until", qa->until, req.mutable_until());
        if (!s.ok()) return s;
      }
      req.set_with_proofs(qa->proofs);
      req.set_page_size(qa->page_size);
      req.set_page_token(qa->page_token);
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto r = (*client)->QueryAudit(req);
      if (!r.ok()) return r.status();
      if (qa->proofs) {
        auto key = (*client)->GetAuditPublicKey();
        if (!key.ok()) return key.status();
        auto cpv = VerifyCheckpoint(key->verifier_key(), r->checkpoint().signed_note());
        if (!cpv.ok()) return cpv.status();
        absl::Status s = VerifyRecords(*cpv, r->records());
        if (!s.ok()) return s;
      }
      std::vector<nlohmann::json> items;
      for (const v1::AuditRecord& rec : r->records()) {
        nlohmann::json j = EventJson(rec.event());
        if (qa->proofs) {
          j["leaf_data"] = tlog::Base64Encode(rec.leaf_data());
          j["inclusion_proof"] = ToJson(rec.inclusion_proof());
        }
        items.push_back(std::move(j));
      }
      nlohmann::json out = ListJson(items, r->next_page_token());
      if (qa->proofs) out["checkpoint"] = r->checkpoint().signed_note();
      ctx.Emit(out, kEventColumns);
      return absl::OkStatus();
    });
  });
}

void AddAuditReport(CLI::App* audit, CliContext& ctx) {
  auto ra = std::make_shared<ReportArgs>();
  auto* report = audit->add_subcommand("report",
                                       "who accessed a child's data, when and why (innsyn i logg)\n"
                                       "  example: budstikke audit report --subject 01817512345");
  report->add_option("--subject", ra->subject, "child's national id")->required();
  report->add_option("--since", ra->since, "from this time");
  report->add_option("--until", ra->until, "before this time");
  report->add_option("--page-size", ra->page_size, "items per page (default 50, max 1000)");
  report->add_option("--page-token", ra->page_token, "token from the previous page");
  report->callback([&ctx, ra] {
    ctx.Run([&]() -> absl::Status {
      v1::SubjectAccessReportRequest req;
      req.set_subject_national_id(ra->subject);
      if (!ra->since.empty()) {
        absl::Status s = ParseTime("--since", ra->since, req.mutable_since());
        if (!s.ok()) return s;
      }
      if (!ra->until.empty()) {
        absl::Status s = ParseTime("--until", ra->until, req.mutable_until());
        if (!s.ok()) return s;
      }
      req.set_page_size(ra->page_size);
      req.set_page_token(ra->page_token);
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto r = (*client)->SubjectAccessReport(req);
      if (!r.ok()) return r.status();
      std::vector<nlohmann::json> items;
      for (const auto& e : r->entries()) items.push_back(ToJson(e));
      ctx.Emit(ListJson(items, r->next_page_token()),
               {"time", "agency_name", "user", "role", "description", "legal_basis"});
      return absl::OkStatus();
    });
  });
}

// Reads the --state file, if one is named and exists, into *saved; a file
// that is not a state file of audit verify is an InvalidArgument error.
absl::Status LoadVerifyState(const std::string& state, nlohmann::json* saved) {
  if (state.empty()) return absl::OkStatus();
  std::string text = ReadFileOrEmpty(state);
  if (text.empty()) return absl::OkStatus();
  *saved = nlohmann::json::parse(text, nullptr, false);
  if (saved->is_discarded() || !saved->is_object() || !saved->contains("checkpoint") ||
      !saved->contains("verifier_key")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--state ", state, " is not a state file of audit verify"));
  }
  return absl::OkStatus();
}

// Verifies that `cp` extends the checkpoint saved in the state file `state`.
absl::Status CheckSavedConsistency(Client& c, const std::string& key, const std::string& state,
                                   nlohmann::json& saved, const tlog::Checkpoint& cp) {
  auto old = VerifyCheckpoint(key, saved["checkpoint"].get<std::string>());
  if (!old.ok()) {
    return absl::DataLossError(
        absl::StrCat("saved checkpoint in ", state, " does not verify: ", old.status().message()));
  }
  google::protobuf::RepeatedPtrField<std::string> path;
  if (old->size > 0 && old->size < cp.size) {
    v1::GetConsistencyProofRequest req;
    req.set_first(old->size);
    req.set_second(cp.size);
    auto proof = c.GetConsistencyProof(req);
    if (!proof.ok()) return proof.status();
    path = proof->path();
  }
  return VerifyConsistency(*old, cp, path);
}

// Fetches every event the caller may read with proofs and verifies each page
// against its own checkpoint; counts the verified events in *verified.
absl::Status VerifyAllEvents(Client& c, const std::string& key, uint64_t* verified) {
  auto me = c.WhoAmI();
  const bool sees_all = me.ok() && me->actor().role() == v1::ROLE_AUDITOR;
  v1::QueryAuditRequest req;
  req.set_with_proofs(true);
  req.set_page_size(1000);
  while (true) {
    auto page = c.QueryAudit(req);
    if (!page.ok()) return page.status();
    // Each page proves against its own (possibly newer) checkpoint.
    auto pcp = VerifyCheckpoint(key, page->checkpoint().signed_note());
    if (!pcp.ok()) return pcp.status();
    // An auditor sees every event, so indexes must run without a gap.
    absl::Status s = VerifyRecords(*pcp, page->records(),
                                   sees_all ? std::optional<uint64_t>(*verified) : std::nullopt);
    if (!s.ok()) return s;
    *verified += page->records_size();
    if (page->next_page_token().empty() || page->records_size() == 0) break;
    req.set_page_token(page->next_page_token());
  }
  return absl::OkStatus();
}

absl::Status RunAuditVerify(CliContext& ctx, const VerifyArgs& va) {
  auto client = ctx.client();
  if (!client.ok()) return client.status();
  Client& c = **client;
  nlohmann::json saved;
  absl::Status loaded = LoadVerifyState(va.state, &saved);
  if (!loaded.ok()) return loaded;
  std::string key = va.public_key;
  if (key.empty() && saved.is_object()) key = saved["verifier_key"].get<std::string>();
  if (key.empty()) {
    auto r = c.GetAuditPublicKey();
    if (!r.ok()) return r.status();
    key = r->verifier_key();
  }
  auto note = c.GetCheckpoint();
  if (!note.ok()) return note.status();
  auto cp = VerifyCheckpoint(key, note->signed_note());
  if (!cp.ok()) return cp.status();

  bool consistent_checked = false;
  if (saved.is_object()) {
    absl::Status s = CheckSavedConsistency(c, key, va.state, saved, *cp);
    if (!s.ok()) return s;
    consistent_checked = true;
  }

  uint64_t verified = 0;
  if (!va.checkpoint_only && cp->size > 0) {
    absl::Status s = VerifyAllEvents(c, key, &verified);
    if (!s.ok()) return s;
  }
  if (!va.state.empty()) {
    nlohmann::json state{{"verifier_key", key}, {"checkpoint", note->signed_note()}};
    std::ofstream out(va.state, std::ios::binary | std::ios::trunc);
    out << state.dump() << "\n";
    if (!out) return absl::UnavailableError("cannot write --state " + va.state);
  }
  nlohmann::json result{
      {"ok", true},
      {"tree_size", cp->size},
      {"root_hash", tlog::Base64Encode(std::string(reinterpret_cast<const char*>(cp->root.data()),
                                                   cp->root.size()))},
      {"events_verified", verified},
      {"consistent_with_state", consistent_checked}};
  ctx.Emit(result);
  return absl::OkStatus();
}

void AddAuditVerify(CLI::App* audit, CliContext& ctx) {
  auto va = std::make_shared<VerifyArgs>();
  auto* verify = audit->add_subcommand(
      "verify",
      "verify the checkpoint signature, every event's inclusion proof and, with\n"
      "--state, consistency with the checkpoint saved there by an earlier run\n"
      "  example: budstikke audit verify --state ~/.budstikke-audit.json");
  verify->add_option("--state", va->state, "file holding the last verified checkpoint (updated)");
  verify->add_option("--public-key", va->public_key,
                     "expected verifier key (default: from --state, else the server's)");
  verify->add_flag("--checkpoint-only", va->checkpoint_only,
                   "do not fetch events (for roles that may not read them)");
  verify->callback(
      [&ctx, va] { ctx.Run([&]() -> absl::Status { return RunAuditVerify(ctx, *va); }); });
}

}  // namespace

void AddAuditCommands(CLI::App& app, CliContext& ctx) {
  auto* audit = app.add_subcommand("audit", "the tamper-evident audit log");
  audit->require_subcommand(1);
  AddAuditPublicKey(audit, ctx);
  AddAuditCheckpoint(audit, ctx);
  AddAuditGet(audit, ctx);
  AddAuditProve(audit, ctx);
  AddAuditConsistency(audit, ctx);
  AddAuditQuery(audit, ctx);
  AddAuditReport(audit, ctx);
  AddAuditVerify(audit, ctx);
}

}  // namespace budstikke::cli
