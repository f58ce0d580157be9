// budstikke admin key-status|rotate-key|shred-key|backup|server-info
#include "cli/context.h"

namespace budstikke::cli {
namespace {

// Runs one AdminService call of the SDK (`call`) and prints its result.
template <typename Call>
void RunAdminCall(CliContext& ctx, const Call& call) {
  ctx.Run([&]() -> absl::Status {
    auto client = ctx.client();
    if (!client.ok()) return client.status();
    auto result = call(**client);
    if (!result.ok()) return result.status();
    ctx.Emit(ToJson(*result));
    return absl::OkStatus();
  });
}

}  // namespace

void AddAdminCommands(CLI::App& app, CliContext& ctx) {
  auto* admin = app.add_subcommand("admin", "operator tasks: agency keys, backups (role admin)");
  admin->require_subcommand(1);

  auto agency = std::make_shared<std::string>();
  auto* status = admin->add_subcommand(
      "key-status",
      "show an agency's key versions\n  example: budstikke admin key-status bup-oslo");
  status->add_option("agency", *agency, "agency id")->required();
  status->callback([&ctx, agency] {
    v1::GetKeyStatusRequest req;
    req.set_agency(*agency);
    RunAdminCall(ctx, [&](const Client& c) { return c.GetKeyStatus(req); });
  });

  auto* rewrap = admin->add_subcommand(
      "rewrap-progress",
      "show the background rewrap the last rotation started (state IDLE, RUNNING, DONE or "
      "FAILED)\n  example: budstikke admin rewrap-progress bup-oslo");
  rewrap->add_option("agency", *agency, "agency id")->required();
  rewrap->callback([&ctx, agency] {
    v1::GetRewrapProgressRequest req;
    req.set_agency(*agency);
    RunAdminCall(ctx, [&](const Client& c) { return c.GetRewrapProgress(req); });
  });

  struct RotateArgs {
    std::string agency, request_id;
  };
  auto rotate_args = std::make_shared<RotateArgs>();
  auto* rotate =
      admin->add_subcommand("rotate-key",
                            "add a key version for new writes (old versions still decrypt)\n"
                            "  example: budstikke admin rotate-key bup-oslo");
  rotate->add_option("agency", rotate_args->agency, "agency id")->required();
  rotate->add_option("--request-id", rotate_args->request_id,
                     "idempotency key (generated if omitted)");
  rotate->callback([&ctx, rotate_args] {
    v1::RotateAgencyKeyRequest req;
    req.set_agency(rotate_args->agency);
    req.set_request_id(rotate_args->request_id.empty() ? NewRequestId() : rotate_args->request_id);
    RunAdminCall(ctx, [&](const Client& c) { return c.RotateAgencyKey(req); });
  });

  struct ShredArgs {
    std::string agency, confirm;
    uint32_t version = 0;
    bool force = false;
  };
  auto shred_args = std::make_shared<ShredArgs>();
  auto* shred = admin->add_subcommand(
      "shred-key",
      "destroy an old key version: its copies become unreadable (irreversible)\n"
      "  example: budstikke admin shred-key bup-oslo 1 --confirm bup-oslo/1");
  shred->add_option("agency", shred_args->agency, "agency id")->required();
  shred->add_option("version", shred_args->version, "key version")->required();
  shred->add_option("--confirm", shred_args->confirm, "must be <agency>/<version>")->required();
  shred->add_flag("--force", shred_args->force,
                  "shred even if the version still protects records (they become unreadable "
                  "for the agency); without it that is refused with key.shred.in_use");
  shred->callback([&ctx, shred_args] {
    v1::ShredAgencyKeyVersionRequest req;
    req.set_agency(shred_args->agency);
    req.set_version(shred_args->version);
    req.set_confirm(shred_args->confirm);
    req.set_force(shred_args->force);
    RunAdminCall(ctx, [&](const Client& c) { return c.ShredAgencyKeyVersion(req); });
  });

  struct BackupArgs {
    std::string dest, request_id;
  };
  auto backup_args = std::make_shared<BackupArgs>();
  auto* backup = admin->add_subcommand(
      "backup",
      "write a consistent backup on the server (operator admin)\n"
      "  example: budstikke admin backup --dest /var/backups/budstikke/2026-11-23");
  backup->add_option("--dest", backup_args->dest, "absolute, new directory on the server")
      ->required();
  backup->add_option("--request-id", backup_args->request_id,
                     "idempotency key (generated if omitted)");
  backup->callback([&ctx, backup_args] {
    v1::CreateBackupRequest req;
    req.set_dest_dir(backup_args->dest);
    req.set_request_id(backup_args->request_id.empty() ? NewRequestId() : backup_args->request_id);
    RunAdminCall(ctx, [&](const Client& c) { return c.CreateBackup(req); });
  });

  auto* info = admin->add_subcommand(
      "server-info", "version, hosted services, uptime\n  example: budstikke admin server-info");
  info->callback([&ctx] { RunAdminCall(ctx, [](const Client& c) { return c.GetServerInfo(); }); });
}

}  // namespace budstikke::cli
