// budstikke referral send|draft|cosign|return|list|show|ack|decide|withdraw|message|thread|
// invite|supplement, attachment put|get
#include <fstream>
#include <sstream>

#include "cli/context.h"
#include "cli/enum_flag.h"

namespace budstikke::cli {

bool ParseCliDate(const std::string& text, v1::Date* out);  // consent.cc

namespace {

const std::vector<std::string> kReferralColumns = {
    "id", "status", "sender_agency", "recipient_agency", "legal_basis", "create_time"};

absl::StatusOr<std::string> ReadFileArg(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(flag + ": cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::StatusOr<std::string> ContentTypeFor(const std::string& path) {
  std::string lower;
  for (char c : path)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  auto ends = [&](const char* ext) {
    const std::string e(ext);
    return lower.size() >= e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".pdf")) return std::string("application/pdf");
  if (ends(".txt")) return std::string("text/plain");
  if (ends(".png")) return std::string("image/png");
  if (ends(".jpg") || ends(".jpeg")) return std::string("image/jpeg");
  if (ends(".docx")) {
    return std::string("application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  }
  if (ends(".odt")) return std::string("application/vnd.oasis.opendocument.text");
  return absl::InvalidArgumentError(
      path + ": unknown type; use a .pdf, .txt, .png, .jpg, .docx or .odt file or --type");
}

absl::StatusOr<v1::AttachmentInfo> PutFile(Client* client, const std::string& flag,
                                           const std::string& path, v1::AttachmentKind kind,
                                           const std::string& type) {
  auto data = ReadFileArg(flag, path);
  if (!data.ok()) return data.status();
  v1::AttachmentMetadata meta;
  meta.set_request_id(NewRequestId());
  meta.set_filename(BaseName(path));
  if (!type.empty()) {
    meta.set_content_type(type);
  } else {
    auto t = ContentTypeFor(path);
    if (!t.ok()) return t.status();
    meta.set_content_type(*t);
  }
  meta.set_kind(kind);
  return client->UploadAttachment(meta, *data);
}

struct SendArgs {
  std::string to, subject, consent, purpose, justification, reason, parent_conversation, action_log,
      request_id, cosigner;
  bool statutory = false, urgent = false, known_patient = false, parent_demand = false,
       parents_informed = false;
  std::vector<std::string> attach;
};

struct ListArgs {
  bool received = false, sent = false, cosign = false;
  std::string page_token;
  int page_size = 0;
};

struct DecideArgs {
  std::string id, reason;
  v1::ReferralDecision decision = v1::REFERRAL_DECISION_UNSPECIFIED;
};

struct PutArgs {
  std::string file, type;
  v1::AttachmentKind kind = v1::ATTACHMENT_KIND_OTHER;
};

struct GetArgs {
  std::string referral, attachment, out;
};

// `referral send` and `referral draft` (every flag of send plus --cosigner).
void AddReferralSend(CLI::App* group, CliContext& ctx, bool draft) {
  auto sa = std::make_shared<SendArgs>();
  auto* send = group->add_subcommand(
      draft ? "draft" : "send",
      draft ? "write a referral for another agency to co-sign and send (e.g. BUP via a GP)\n"
              "  example: budstikke referral draft --to bup-oslo --cosigner legekontor-sentrum "
              "--subject 01518012345 --consent cns-... --reason \"angst og søvnvansker\""
            : "refer a child (needs a consent, or the statutory duty towards child welfare)\n"
              "  example: budstikke referral send --to bup-oslo --subject 01518012345 "
              "--consent cns-... --reason \"angst og søvnvansker\" [--urgent [--known-patient]]");
  if (draft) {
    send->add_option("--cosigner", sa->cosigner, "the agency that co-signs and sends it")
        ->required();
  }
  send->add_flag("--urgent", sa->urgent,
                 "øyeblikkelig hjelp: BUP routes it to its acute unit when needed");
  send->add_flag("--known-patient", sa->known_patient,
                 "with --urgent: the child is already a patient of that BUP clinic");
  send->add_flag("--parent-demand", sa->parent_demand,
                 "PPT: the parents demand an expert assessment (guardian consent)");
  send->add_flag("--parents-informed", sa->parents_informed,
                 "PPT: the parents were told of their right to demand an assessment");
  send->add_option("--to", sa->to, "recipient agency id")->required();
  send->add_option("--subject", sa->subject, "the child's national id (11 digits)")->required();
  auto* consent = send->add_option("--consent", sa->consent, "consent id recorded by your agency");
  auto* duty = send->add_flag("--statutory-duty", sa->statutory,
                              "report under the duty to report (barnevernsloven § 13-2)");
  consent->excludes(duty);
  auto* purpose = send->add_option(
      "--purpose", sa->purpose,
      "what the referral is for; must match the consent's purpose (default: the consent's)");
  purpose->excludes(duty);
  send->add_option("--justification", sa->justification,
                   "why the statutory duty applies (>= 30 characters, 5 words)");
  send->add_option("--reason", sa->reason, "why the child is referred")->required();
  send->add_option("--parent-conversation", sa->parent_conversation,
                   "YYYY-MM-DD of the conversation with the parents (PPT)");
  send->add_option("--action-log", sa->action_log, "the action log (tiltakslogg) file (PPT)");
  send->add_option("--attach", sa->attach, "other documents (repeatable)");
  send->add_option("--request-id", sa->request_id, "idempotency key (generated if omitted)");
  send->callback([&ctx, sa, draft] {
    ctx.Run([&]() -> absl::Status {
      v1::SendReferralRequest req;
      req.set_request_id(sa->request_id.empty() ? NewRequestId() : sa->request_id);
      req.set_recipient_agency(sa->to);
      req.set_subject_national_id(sa->subject);
      req.set_cosigner_agency(sa->cosigner);
      req.set_urgent(sa->urgent);
      req.set_known_patient(sa->known_patient);
      req.set_parent_demand(sa->parent_demand);
      req.set_parents_informed(sa->parents_informed);
      if (!sa->consent.empty()) {
        req.set_consent_id(sa->consent);
        req.set_purpose(sa->purpose);
      } else if (sa->statutory) {
        req.mutable_statutory_duty()->set_justification(sa->justification);
      }
      if (!sa->justification.empty() && !sa->statutory) {
        return absl::InvalidArgumentError("--justification goes with --statutory-duty");
      }
      if (!sa->purpose.empty() && sa->consent.empty()) {
        return absl::InvalidArgumentError("--purpose goes with --consent");
      }
      req.set_reason(sa->reason);
      if (!sa->parent_conversation.empty() &&
          !ParseCliDate(sa->parent_conversation, req.mutable_parent_conversation_date())) {
        return absl::InvalidArgumentError("--parent-conversation must be YYYY-MM-DD");
      }
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      if (!sa->action_log.empty()) {
        auto info =
            PutFile(*client, "--action-log", sa->action_log, v1::ATTACHMENT_KIND_ACTION_LOG, "");
        if (!info.ok()) return info.status();
        req.add_attachment_ids(info->id());
      }
      for (const std::string& path : sa->attach) {
        auto info = PutFile(*client, "--attach", path, v1::ATTACHMENT_KIND_OTHER, "");
        if (!info.ok()) return info.status();
        req.add_attachment_ids(info->id());
      }
      auto referral = draft ? (*client)->DraftReferral(req) : (*client)->SendReferral(req);
      if (!referral.ok()) return referral.status();
      ctx.Emit(ToJson(*referral));
      return absl::OkStatus();
    });
  });
}

void AddReferralList(CLI::App* group, CliContext& ctx) {
  auto la = std::make_shared<ListArgs>();
  auto* list = group->add_subcommand("list",
                                     "your agency's received (default) or sent referrals\n"
                                     "  example: budstikke referral list --sent");
  auto* rf = list->add_flag("--received", la->received, "referrals to your agency (default)");
  auto* sf = list->add_flag("--sent", la->sent, "referrals from your agency");
  auto* cf = list->add_flag("--cosign", la->cosign, "drafts waiting for your agency to co-sign");
  rf->excludes(sf);
  cf->excludes(rf);
  cf->excludes(sf);
  list->add_option("--page-size", la->page_size, "items per page (default 50)");
  list->add_option("--page-token", la->page_token, "token from the previous page");
  list->callback([&ctx, la] {
    ctx.Run([&]() -> absl::Status {
      v1::ListReferralsRequest req;
      req.set_mailbox(la->sent     ? v1::MAILBOX_SENT
                      : la->cosign ? v1::MAILBOX_COSIGN
                                   : v1::MAILBOX_RECEIVED);
      req.set_page_size(la->page_size);
      req.set_page_token(la->page_token);
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto resp = (*client)->ListReferrals(req);
      if (!resp.ok()) return resp.status();
      std::vector<nlohmann::json> items;
      for (const auto& r : resp->referrals()) items.push_back(ToJson(r));
      ctx.Emit(ListJson(items, resp->next_page_token()), kReferralColumns);
      return absl::OkStatus();
    });
  });
}

void AddReferralShowAckWithdraw(CLI::App* group, CliContext& ctx) {
  // show | ack | withdraw ID
  for (const char* verb : {"show", "ack", "withdraw"}) {
    auto id = std::make_shared<std::string>();
    auto reason = std::make_shared<std::string>();
    const std::string v(verb);
    auto* cmd = group->add_subcommand(
        verb, v == "show"  ? "show one referral (sender or recipient)\n"
                             "  example: budstikke referral show ref-..."
              : v == "ack" ? "confirm receipt (recipient)\n"
                             "  example: budstikke referral ack ref-..."
                           : "withdraw a referral (or draft) you sent or initiated\n"
                             "  example: budstikke referral withdraw ref-...");
    cmd->add_option("id", *id, "referral id")->required();
    if (v == "withdraw") cmd->add_option("--reason", *reason, "optional reason");
    cmd->callback([&ctx, id, reason, v] {
      ctx.Run([&]() -> absl::Status {
        auto client = ctx.client();
        if (!client.ok()) return client.status();
        auto r = v == "show"  ? (*client)->GetReferral(*id)
                 : v == "ack" ? (*client)->AcknowledgeReferral(*id)
                              : (*client)->WithdrawReferral(*id, *reason);
        if (!r.ok()) return r.status();
        ctx.Emit(ToJson(*r));
        return absl::OkStatus();
      });
    });
  }
}

void AddReferralDecide(CLI::App* group, CliContext& ctx) {
  auto da = std::make_shared<DecideArgs>();
  auto* decide = group->add_subcommand(
      "decide",
      "accept, reject or ask for more information (recipient)\n"
      "  example: budstikke referral decide ref-... reject --reason \"ikke indikasjon\"");
  decide->add_option("id", da->id, "referral id")->required();
  AddEnumOption(decide, "decision", &da->decision, "accept, reject or need-info")->required();
  decide->add_option("--reason", da->reason, "required for reject and need-info");
  decide->callback([&ctx, da] {
    ctx.Run([&]() -> absl::Status {
      v1::DecideReferralRequest req;
      req.set_id(da->id);
      req.set_decision(da->decision);
      req.set_reason(da->reason);
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto r = (*client)->DecideReferral(req);
      if (!r.ok()) return r.status();
      ctx.Emit(ToJson(*r));
      return absl::OkStatus();
    });
  });
}

// cosign ID | return ID --reason | invite ID --agency | thread ID
void AddReferralDraftAndThreadVerbs(CLI::App* group, CliContext& ctx) {
  struct Args {
    std::string id, reason, agency;
  };
  const std::vector<std::pair<const char*, const char*>> verbs = {
      {"cosign",
       "co-sign a draft and send it (a physician, psychologist, child welfare leader or, "
       "for PPT, the leader)\n  example: budstikke referral cosign ref-..."},
      {"return",
       "return a draft to the initiator with a reason\n"
       "  example: budstikke referral return ref-... --reason \"mangler tiltak\""},
      {"invite",
       "invite an agency the consent covers to the referral's thread (recipient)\n"
       "  example: budstikke referral invite ref-... --agency bhg-solsikken"},
      {"thread",
       "the referral's messages, oldest first\n"
       "  example: budstikke referral thread ref-..."},
  };
  for (const auto& [verb, help] : verbs) {
    auto args = std::make_shared<Args>();
    const std::string v(verb);
    auto* cmd = group->add_subcommand(verb, help);
    cmd->add_option("id", args->id, "referral id")->required();
    if (v == "return") cmd->add_option("--reason", args->reason, "why")->required();
    if (v == "invite") cmd->add_option("--agency", args->agency, "agency id")->required();
    cmd->callback([&ctx, args, v] {
      ctx.Run([&]() -> absl::Status {
        auto client = ctx.client();
        if (!client.ok()) return client.status();
        if (v == "thread") {
          auto t = (*client)->GetReferralThread(args->id);
          if (!t.ok()) return t.status();
          std::vector<nlohmann::json> items;
          for (const auto& m : t->messages()) items.push_back(ToJson(m));
          ctx.Emit(ListJson(items, ""), {"id", "author", "text", "create_time"});
          return absl::OkStatus();
        }
        auto r = v == "cosign"   ? (*client)->CosignReferral(args->id)
                 : v == "return" ? (*client)->ReturnReferral(args->id, args->reason)
                                 : (*client)->InviteToReferral(args->id, args->agency);
        if (!r.ok()) return r.status();
        ctx.Emit(ToJson(*r));
        return absl::OkStatus();
      });
    });
  }
}

// message ID --text T [--attach F] | supplement ID --text T [--attach F]
void AddReferralMessageSupplement(CLI::App* group, CliContext& ctx) {
  struct Args {
    std::string id, text;
    std::vector<std::string> attach;
  };
  for (const char* verb : {"message", "supplement"}) {
    auto args = std::make_shared<Args>();
    const std::string v(verb);
    auto* cmd = group->add_subcommand(
        verb, v == "message"
                  ? "write on the referral's thread (sender, recipient, invited agencies)\n"
                    "  example: budstikke referral message ref-... --text \"...\" --attach f.pdf"
                  : "answer NEED_INFO; the referral returns to ACKNOWLEDGED (sender)\n"
                    "  example: budstikke referral supplement ref-... --text \"...\"");
    cmd->add_option("id", args->id, "referral id")->required();
    cmd->add_option("--text", args->text, "the text")->required();
    cmd->add_option("--attach", args->attach, "documents (repeatable)");
    cmd->callback([&ctx, args, v] {
      ctx.Run([&]() -> absl::Status {
        auto client = ctx.client();
        if (!client.ok()) return client.status();
        std::vector<std::string> ids;
        for (const std::string& path : args->attach) {
          auto info = PutFile(*client, "--attach", path, v1::ATTACHMENT_KIND_OTHER, "");
          if (!info.ok()) return info.status();
          ids.push_back(info->id());
        }
        if (v == "message") {
          v1::PostReferralMessageRequest req;
          req.set_referral_id(args->id);
          req.set_text(args->text);
          for (const auto& id : ids) req.add_attachment_ids(id);
          auto m = (*client)->PostReferralMessage(req);
          if (!m.ok()) return m.status();
          ctx.Emit(ToJson(*m));
          return absl::OkStatus();
        }
        v1::SupplementReferralRequest req;
        req.set_referral_id(args->id);
        req.set_text(args->text);
        for (const auto& id : ids) req.add_attachment_ids(id);
        auto r = (*client)->SupplementReferral(req);
        if (!r.ok()) return r.status();
        ctx.Emit(ToJson(*r));
        return absl::OkStatus();
      });
    });
  }
}

void AddAttachmentPut(CLI::App* att, CliContext& ctx) {
  auto pa = std::make_shared<PutArgs>();
  auto* put = att->add_subcommand("put",
                                  "upload a file for a later `referral send`\n"
                                  "  example: budstikke attachment put epikrise.pdf");
  put->add_option("file", pa->file, "PDF, text, PNG, JPEG, DOCX or ODT, at most 25 MiB")
      ->required();
  AddEnumOption(put, "--kind", &pa->kind, "action-log or other", "action-log or other (default)");
  put->add_option("--type", pa->type, "content type (default: from the file name)");
  put->callback([&ctx, pa] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto info = PutFile(*client, "file", pa->file, pa->kind, pa->type);
      if (!info.ok()) return info.status();
      ctx.Emit(ToJson(*info));
      return absl::OkStatus();
    });
  });
}

void AddAttachmentGet(CLI::App* att, CliContext& ctx) {
  auto ga = std::make_shared<GetArgs>();
  auto* get =
      att->add_subcommand("get",
                          "download an attachment of a referral (checks SHA-256)\n"
                          "  example: budstikke attachment get ref-... att-... --out f.pdf");
  get->add_option("referral", ga->referral, "referral id")->required();
  get->add_option("attachment", ga->attachment, "attachment id")->required();
  get->add_option("--out", ga->out, "file to write")->required();
  get->callback([&ctx, ga] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      std::string data;
      auto info = (*client)->DownloadAttachment(ga->referral, ga->attachment, &data);
      if (!info.ok()) return info.status();
      std::ofstream out(ga->out, std::ios::binary | std::ios::trunc);
      out.write(data.data(), static_cast<std::streamsize>(data.size()));
      if (!out) return absl::InvalidArgumentError("--out: cannot write " + ga->out);
      ctx.Emit(ToJson(*info));
      return absl::OkStatus();
    });
  });
}

}  // namespace

void AddReferralCommands(CLI::App& app, CliContext& ctx) {
  auto* group =
      app.add_subcommand("referral", "consent-gated referrals to BUP, PPT and child welfare");
  group->require_subcommand(1);
  AddReferralSend(group, ctx, /*draft=*/false);
  AddReferralSend(group, ctx, /*draft=*/true);
  AddReferralList(group, ctx);
  AddReferralShowAckWithdraw(group, ctx);
  AddReferralDecide(group, ctx);
  AddReferralDraftAndThreadVerbs(group, ctx);
  AddReferralMessageSupplement(group, ctx);

  // attachment put FILE [--kind action-log|other] [--type MIME] | get REFERRAL ATTACHMENT --out F
  auto* att = app.add_subcommand("attachment", "upload and download referral attachments");
  att->require_subcommand(1);
  AddAttachmentPut(att, ctx);
  AddAttachmentGet(att, ctx);
}

}  // namespace budstikke::cli
