// budstikke consent record|revoke|show|list
#include <cstdio>

#include "cli/context.h"
#include "cli/enum_flag.h"

namespace budstikke::cli {

// YYYY-MM-DD -> Date; false if malformed.
bool ParseCliDate(const std::string& text, v1::Date* out) {
  int y, m, d;
  char tail;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return false;
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  out->set_year(y);
  out->set_month(m);
  out->set_day(d);
  return true;
}

namespace {

const std::vector<std::string> kConsentColumns = {"id",        "status",  "giver",
                                                  "recipient", "purpose", "valid_until"};

struct RecordArgs {
  std::string subject, purpose, scope, valid_until, request_id;
  std::vector<std::string> recipients;
  v1::ConsentGiver giver = v1::CONSENT_GIVER_UNSPECIFIED;
  v1::GuardianRelation relation = v1::GUARDIAN_RELATION_UNSPECIFIED;
  std::vector<v1::AgencyType> recipient_types;
  v1::ConsentMethod how = v1::CONSENT_METHOD_UNSPECIFIED;
};

struct RevokeArgs {
  std::string id, reason;
};

struct ListArgs {
  std::string subject, page_token;
  int page_size = 0;
};

void AddConsentRecord(CLI::App* group, CliContext& ctx) {
  auto ra = std::make_shared<RecordArgs>();
  auto* record = group->add_subcommand(
      "record",
      "record a consent for your agency\n"
      "  example: budstikke consent record --subject 01518012345 --giver guardian "
      "--giver-relation mother --recipient bup-oslo --purpose \"henvisning til BUP\" "
      "--how written\n"
      "  several recipients: --recipient legekontor-sentrum --recipient bup-oslo");
  record->add_option("--subject", ra->subject, "the child's national id (11 digits)")->required();
  AddEnumOption(record, "--giver", &ra->giver, "child or guardian")->required();
  AddEnumOption(record, "--giver-relation", &ra->relation, "mother, father or other",
                "mother, father or other (guardian)");
  record->add_option("--recipient", ra->recipients,
                     "recipient agency id (repeat for several, e.g. the co-signer and BUP)");
  AddEnumOption(record, "--recipient-type", &ra->recipient_types, "an agency type, e.g. bup",
                "recipient agency type, e.g. bup (repeatable; listed after --recipient)");
  record->add_option("--purpose", ra->purpose, "what the information is for")->required();
  record->add_option("--scope", ra->scope, "which information may be shared (default: purpose)");
  AddEnumOption(record, "--how", &ra->how, "written, verbal or digital")->required();
  record->add_option("--valid-until", ra->valid_until, "YYYY-MM-DD (default: one year)");
  record->add_option("--request-id", ra->request_id, "idempotency key (generated if omitted)");
  record->callback([&ctx, ra] {
    ctx.Run([&]() -> absl::Status {
      v1::RecordConsentRequest req;
      req.set_request_id(ra->request_id.empty() ? NewRequestId() : ra->request_id);
      req.set_subject_national_id(ra->subject);
      req.set_giver(ra->giver);
      if (ra->relation != v1::GUARDIAN_RELATION_UNSPECIFIED) {
        req.set_giver_relation(ra->relation);
      } else if (ra->giver == v1::CONSENT_GIVER_GUARDIAN) {
        req.set_giver_relation(v1::GUARDIAN_RELATION_OTHER);
      }
      // Agencies in the order given, then types; the first is `recipient`.
      for (const std::string& agency : ra->recipients) {
        req.add_recipients()->set_agency(agency);
      }
      for (v1::AgencyType type : ra->recipient_types) req.add_recipients()->set_type(type);
      if (req.recipients_size() == 0) {
        return absl::InvalidArgumentError("give --recipient AGENCY or --recipient-type TYPE");
      }
      if (req.recipients(0).target_case() == v1::RecipientRef::kAgency) {
        req.mutable_recipient()->set_agency(req.recipients(0).agency());
      } else {
        req.mutable_recipient()->set_agency_type(req.recipients(0).type());
      }
      req.set_purpose(ra->purpose);
      req.set_scope(ra->scope.empty() ? ra->purpose : ra->scope);
      req.set_method(ra->how);
      if (!ra->valid_until.empty() && !ParseCliDate(ra->valid_until, req.mutable_valid_until())) {
        return absl::InvalidArgumentError("--valid-until must be YYYY-MM-DD");
      }
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto consent = (*client)->RecordConsent(req);
      if (!consent.ok()) return consent.status();
      ctx.Emit(ToJson(*consent));
      return absl::OkStatus();
    });
  });
}

void AddConsentRevoke(CLI::App* group, CliContext& ctx) {
  auto rv = std::make_shared<RevokeArgs>();
  auto* revoke = group->add_subcommand(
      "revoke",
      "revoke a consent on the word of the person who gave it\n"
      "  example: budstikke consent revoke cns-... --reason \"mor trekker samtykket\"");
  revoke->add_option("id", rv->id, "consent id")->required();
  revoke->add_option("--reason", rv->reason, "why, in the giver's words")->required();
  revoke->callback([&ctx, rv] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto consent = (*client)->RevokeConsent(rv->id, rv->reason);
      if (!consent.ok()) return consent.status();
      ctx.Emit(ToJson(*consent));
      return absl::OkStatus();
    });
  });
}

void AddConsentShow(CLI::App* group, CliContext& ctx) {
  auto show_id = std::make_shared<std::string>();
  auto* show = group->add_subcommand("show",
                                     "show one consent\n"
                                     "  example: budstikke consent show cns-...");
  show->add_option("id", *show_id, "consent id")->required();
  show->callback([&ctx, show_id] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto consent = (*client)->GetConsent(*show_id);
      if (!consent.ok()) return consent.status();
      ctx.Emit(ToJson(*consent));
      return absl::OkStatus();
    });
  });
}

void AddConsentList(CLI::App* group, CliContext& ctx) {
  auto la = std::make_shared<ListArgs>();
  auto* list = group->add_subcommand("list",
                                     "your agency's consents\n"
                                     "  example: budstikke consent list --subject 01518012345");
  list->add_option("--subject", la->subject, "only consents for this child");
  list->add_option("--page-size", la->page_size, "items per page (default 50)");
  list->add_option("--page-token", la->page_token, "token from the previous page");
  list->callback([&ctx, la] {
    ctx.Run([&]() -> absl::Status {
      v1::ListConsentsRequest req;
      req.set_subject_national_id(la->subject);
      req.set_page_size(la->page_size);
      req.set_page_token(la->page_token);
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto resp = (*client)->ListConsents(req);
      if (!resp.ok()) return resp.status();
      std::vector<nlohmann::json> items;
      for (const auto& c : resp->consents()) items.push_back(ToJson(c));
      ctx.Emit(ListJson(items, resp->next_page_token()), kConsentColumns);
      return absl::OkStatus();
    });
  });
}

}  // namespace

void AddConsentCommands(CLI::App& app, CliContext& ctx) {
  auto* group =
      app.add_subcommand("consent", "record and revoke consent to share a child's information");
  group->require_subcommand(1);
  AddConsentRecord(group, ctx);
  AddConsentRevoke(group, ctx);
  AddConsentShow(group, ctx);
  AddConsentList(group, ctx);
}

}  // namespace budstikke::cli
