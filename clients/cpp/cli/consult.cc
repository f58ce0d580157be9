// budstikke check-text | consult ask|list|show|claim|answer|message|close
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/context.h"
#include "cli/enum_flag.h"

namespace budstikke::cli {
namespace {

const std::vector<std::string> kListColumns = {
    "id", "status", "sender_agency", "recipient_agency", "age_band", "create_time"};

const char* kAgeBands = "0-2, 3-5, 6-9, 10-12, 13-15 or 16-17";
const char* kConcerns =
    "sleep, nutrition, injury, behaviour, language, social, family_conflict, "
    "suspected_violence, suspected_neglect, suspected_sexual_abuse or other";

// Age bands print in their command-line form ("3-5").
nlohmann::json ConsultationJson(const v1::Consultation& c) {
  nlohmann::json j = ToJson(c);
  if (j.contains("age_band") && j["age_band"].is_string()) {
    std::string band = j["age_band"].get<std::string>();
    for (char& ch : band) {
      if (ch == '_') ch = '-';
    }
    j["age_band"] = band;
  }
  return j;
}

absl::StatusOr<std::string> ReadText(const std::string& text, const std::string& file) {
  if (!text.empty() && !file.empty()) {
    return absl::InvalidArgumentError("give either --text or --text-file, not both");
  }
  if (file.empty()) {
    if (text.empty()) return absl::InvalidArgumentError("--text or --text-file is required");
    return text;
  }
  if (file == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::InvalidArgumentError("cannot read --text-file " + file);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

nlohmann::json CheckTextJson(const v1::CheckTextResponse& resp) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : resp.findings()) {
    std::string kind = v1::PiiKind_Name(f.kind());
    std::string severity = v1::Severity_Name(f.severity());
    findings.push_back({{"id", f.id()},
                        {"kind", kind.substr(std::string("PII_KIND_").size())},
                        {"severity", severity.substr(std::string("SEVERITY_").size())},
                        {"start", f.start()},
                        {"end", f.end()}});
  }
  std::string verdict = v1::ScreeningVerdict_Name(resp.verdict());
  return {{"verdict", verdict.substr(std::string("SCREENING_VERDICT_").size())},
          {"findings", findings}};
}

// ask
struct AskArgs {
  std::string to, municipality, text, text_file, request_id;
  v1::AgencyType to_type = v1::AGENCY_TYPE_UNSPECIFIED;
  v1::AgeBand age_band = v1::AGE_BAND_UNSPECIFIED;
  std::vector<v1::Concern> concerns;
  std::vector<std::string> questions;
  std::vector<uint32_t> acks;
};

// list
struct ListArgs {
  bool received = false, sent = false;
  std::vector<v1::ConsultationStatus> statuses;
  int page_size = 0;
  std::string page_token;
};

// answer | message
struct TextArgs {
  std::string id, text, text_file, request_id;
  std::vector<uint32_t> acks;
};

void AddCheckText(CLI::App* app, CliContext& ctx) {
  auto* check = app->add_subcommand(
      "check-text",
      "screen text on stdin for identifying data with the server's rules; prints "
      "{\"verdict\",\"findings\":[{\"id\",\"kind\",\"severity\",\"start\",\"end\"}]} and exits 0 "
      "whatever the verdict\n  example: echo \"Gutten sover dårlig\" | budstikke check-text");
  check->callback([&ctx] {
    ctx.Run([&]() -> absl::Status {
      std::string text((std::istreambuf_iterator<char>(std::cin)),
                       std::istreambuf_iterator<char>());
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto resp = (*client)->CheckText(text);
      if (!resp.ok()) return resp.status();
      // The contract is JSON in both output modes.
      std::cout << CheckTextJson(*resp).dump() << std::endl;
      return absl::OkStatus();
    });
  });
}

void AddConsultAsk(CLI::App* consult, CliContext& ctx) {
  auto ask_args = std::make_shared<AskArgs>();
  auto* ask = consult->add_subcommand(
      "ask",
      "describe a worry without identifying the child\n  example: budstikke consult ask --to "
      "bup-oslo --age-band 3-5 --concern sleep --text \"Gutten sover dårlig\"");
  ask->add_option("--to", ask_args->to, "recipient agency id");
  AddEnumOption(ask, "--to-type", &ask_args->to_type, "bup, ppt or child_welfare",
                "recipient agency type: bup, ppt or child_welfare");
  ask->add_option("--municipality", ask_args->municipality, "four-digit number with --to-type");
  AddEnumOption(ask, "--age-band", &ask_args->age_band, kAgeBands)->required();
  AddEnumOption(ask, "--concern", &ask_args->concerns, kConcerns)->required();
  ask->add_option("--text", ask_args->text, "the worry, without names or numbers");
  ask->add_option("--text-file", ask_args->text_file, "read the text from a file (- = stdin)");
  ask->add_option("--question", ask_args->questions, "a specific question (repeatable)");
  ask->add_option("--ack", ask_args->acks, "acknowledge a WARN finding id from check-text");
  ask->add_option("--request-id", ask_args->request_id, "idempotency key (generated if omitted)");
  ask->callback([&ctx, ask_args] {
    ctx.Run([&]() -> absl::Status {
      const AskArgs& a = *ask_args;
      v1::AskConsultationRequest req;
      if (a.to.empty() == (a.to_type == v1::AGENCY_TYPE_UNSPECIFIED)) {
        return absl::InvalidArgumentError(
            "give either --to AGENCY or --to-type TYPE --municipality NNNN");
      }
      if (!a.to.empty()) {
        req.mutable_recipient()->set_agency(a.to);
      } else {
        if (a.municipality.empty()) {
          return absl::InvalidArgumentError("--to-type needs --municipality NNNN");
        }
        req.mutable_recipient()->mutable_by_type()->set_type(a.to_type);
        req.mutable_recipient()->mutable_by_type()->set_municipality(a.municipality);
      }
      req.set_age_band(a.age_band);
      for (v1::Concern c : a.concerns) req.add_concerns(c);
      auto text = ReadText(a.text, a.text_file);
      if (!text.ok()) return text.status();
      req.set_text(*text);
      for (const auto& q : a.questions) req.add_questions(q);
      for (uint32_t id : a.acks) req.add_acknowledged_finding_ids(id);
      req.set_request_id(a.request_id.empty() ? NewRequestId() : a.request_id);
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto result = (*client)->AskConsultation(req);
      if (!result.ok()) return result.status();
      ctx.Emit(ConsultationJson(*result));
      return absl::OkStatus();
    });
  });
}

void AddConsultList(CLI::App* consult, CliContext& ctx) {
  auto list_args = std::make_shared<ListArgs>();
  auto* list = consult->add_subcommand("list",
                                       "your agency's received (default) or sent consultations\n"
                                       "  example: budstikke consult list --sent --output json");
  auto* received_flag = list->add_flag("--received", list_args->received, "received (default)");
  list->add_flag("--sent", list_args->sent, "sent by your agency")->excludes(received_flag);
  AddEnumOption(list, "--status", &list_args->statuses, "open, claimed, answered or closed");
  list->add_option("--page-size", list_args->page_size, "items per page (default 50)");
  list->add_option("--page-token", list_args->page_token, "token from the previous page");
  list->callback([&ctx, list_args] {
    ctx.Run([&]() -> absl::Status {
      v1::ListConsultationsRequest req;
      req.set_mailbox(list_args->sent ? v1::MAILBOX_SENT : v1::MAILBOX_RECEIVED);
      for (v1::ConsultationStatus s : list_args->statuses) req.add_statuses(s);
      req.set_page_size(list_args->page_size);
      req.set_page_token(list_args->page_token);
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto resp = (*client)->ListConsultations(req);
      if (!resp.ok()) return resp.status();
      std::vector<nlohmann::json> items;
      for (const auto& c : resp->consultations()) items.push_back(ConsultationJson(c));
      ctx.Emit(ListJson(items, resp->next_page_token()), kListColumns);
      return absl::OkStatus();
    });
  });
}

void AddConsultShowClaimClose(CLI::App* consult, CliContext& ctx) {
  // show | claim | close
  for (const char* verb : {"show", "claim", "close"}) {
    auto id = std::make_shared<std::string>();
    const std::string v = verb;
    const std::string help =
        v == "show"    ? "show a consultation with its text and messages"
        : v == "claim" ? "take a received consultation (clinician, psychologist, physician, "
                         "child_welfare_leader)"
                       : "close a consultation (deleted after the retention period)";
    auto* cmd = consult->add_subcommand(verb, help + "\n  example: budstikke consult " + v + " ID");
    cmd->add_option("id", *id, "consultation id")->required();
    cmd->callback([&ctx, id, v] {
      ctx.Run([&]() -> absl::Status {
        auto client = ctx.client();
        if (!client.ok()) return client.status();
        auto result = v == "show"    ? (*client)->GetConsultation(*id)
                      : v == "claim" ? (*client)->ClaimConsultation(*id)
                                     : (*client)->CloseConsultation(*id);
        if (!result.ok()) return result.status();
        ctx.Emit(ConsultationJson(*result));
        return absl::OkStatus();
      });
    });
  }
}

void AddConsultAnswerMessage(CLI::App* consult, CliContext& ctx) {
  for (const char* verb : {"answer", "message"}) {
    auto args = std::make_shared<TextArgs>();
    const std::string v = verb;
    auto* cmd = consult->add_subcommand(
        verb, (v == "answer" ? std::string("answer a consultation you may answer")
                             : std::string("add a message to the thread (either side)")) +
                  "\n  example: budstikke consult " + v + " ID --text \"...\"");
    cmd->add_option("id", args->id, "consultation id")->required();
    cmd->add_option("--text", args->text, "the text");
    cmd->add_option("--text-file", args->text_file, "read the text from a file (- = stdin)");
    cmd->add_option("--ack", args->acks, "acknowledge a WARN finding id from check-text");
    cmd->add_option("--request-id", args->request_id, "idempotency key (generated if omitted)");
    cmd->callback([&ctx, args, v] {
      ctx.Run([&]() -> absl::Status {
        auto text = ReadText(args->text, args->text_file);
        if (!text.ok()) return text.status();
        const std::string rid = args->request_id.empty() ? NewRequestId() : args->request_id;
        auto client = ctx.client();
        if (!client.ok()) return client.status();
        absl::StatusOr<v1::Consultation> result;
        if (v == "answer") {
          v1::AnswerConsultationRequest req;
          req.set_request_id(rid);
          req.set_id(args->id);
          req.set_text(*text);
          for (uint32_t a : args->acks) req.add_acknowledged_finding_ids(a);
          result = (*client)->AnswerConsultation(req);
        } else {
          v1::AddConsultationMessageRequest req;
          req.set_request_id(rid);
          req.set_id(args->id);
          req.set_text(*text);
          for (uint32_t a : args->acks) req.add_acknowledged_finding_ids(a);
          result = (*client)->AddConsultationMessage(req);
        }
        if (!result.ok()) return result.status();
        ctx.Emit(ConsultationJson(*result));
        return absl::OkStatus();
      });
    });
  }
}

}  // namespace

void AddConsultCommands(CLI::App& app, CliContext& ctx) {
  AddCheckText(&app, ctx);

  auto* consult = app.add_subcommand("consult", "anonymous consultations (anonym drøfting)");
  consult->require_subcommand(1);
  AddConsultAsk(consult, ctx);
  AddConsultList(consult, ctx);
  AddConsultShowClaimClose(consult, ctx);
  AddConsultAnswerMessage(consult, ctx);
}

}  // namespace budstikke::cli
