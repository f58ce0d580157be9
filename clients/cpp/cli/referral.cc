// budstikke referral send|list|show|ack|decide|withdraw, attachment put|get
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
      request_id;
  bool statutory = false;
  std::vector<std::string> attach;
};

struct ListArgs {
  bool received = false, sent = false;
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

void AddReferralSend(CLI::App* group, CliContext& ctx) {
  auto sa = std::make_shared<SendArgs>();
  auto* send = group->add_subcommand(
      "send",
      "refer a child (needs a consent, or the statutory duty towards child welfare)\n"
      "  example: budstikke referral send --to bup-oslo --subject 01518012345 "
      "--consent cns-... --reason \"angst og søvnvansker\"");
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
  send->callback([&ctx, sa] {
    ctx.Run([&]() -> absl::Status {
      v1::SendReferralRequest req;
      req.set_request_id(sa->request_id.empty() ? NewRequestId() : sa->request_id);
      req.set_recipient_agency(sa->to);
      req.set_subject_national_id(sa->subject);
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
      auto referral = (*client)->SendReferral(req);
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
  rf->excludes(sf);
  list->add_option("--page-size", la->page_size, "items per page (default 50)");
  list->add_option("--page-token", la->page_token, "token from the previous page");
  list->callback([&ctx, la] {
    ctx.Run([&]() -> absl::Status {
      v1::ListReferralsRequest req;
      req.set_mailbox(la->sent ? v1::MAILBOX_SENT : v1::MAILBOX_RECEIVED);
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
                           : "withdraw a referral you sent\n"
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
  AddReferralSend(group, ctx);
  AddReferralList(group, ctx);
  AddReferralShowAckWithdraw(group, ctx);
  AddReferralDecide(group, ctx);

  // attachment put FILE [--kind action-log|other] [--type MIME] | get REFERRAL ATTACHMENT --out F
  auto* att = app.add_subcommand("attachment", "upload and download referral attachments");
  att->require_subcommand(1);
  AddAttachmentPut(att, ctx);
  AddAttachmentGet(att, ctx);
}

}  // namespace budstikke::cli
