// budstikke whoami | directory list|get|create|update
#include "cli/context.h"
#include "cli/enum_flag.h"

namespace budstikke::cli {
namespace {

const std::vector<std::string> kAgencyColumns = {"id", "name", "type", "municipality"};

const char* kTypeHelp =
    "kindergarten, school, ppt, health_station, gp, child_welfare, bup, "
    "supervisory_authority or operator";

struct ListArgs {
  v1::AgencyType type = v1::AGENCY_TYPE_UNSPECIFIED;
  std::string municipality, page_token;
  int page_size = 0;
};

struct AgencyArgs {
  std::string id, name, municipality, request_id, acute_unit;
  v1::AgencyType type = v1::AGENCY_TYPE_UNSPECIFIED;
};

void AddWhoAmI(CLI::App* app, CliContext& ctx) {
  auto* whoami = app->add_subcommand("whoami",
                                     "show who your certificate says you are\n"
                                     "  example: budstikke whoami --output json");
  whoami->callback([&ctx] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto me = (*client)->WhoAmI();
      if (!me.ok()) return me.status();
      ctx.Emit(ToJson(*me));
      return absl::OkStatus();
    });
  });
}

void AddDirectoryList(CLI::App* dir, CliContext& ctx) {
  auto list_args = std::make_shared<ListArgs>();
  auto* list = dir->add_subcommand("list",
                                   "list agencies\n"
                                   "  example: budstikke directory list --type bup");
  AddEnumOption(list, "--type", &list_args->type, kTypeHelp);
  list->add_option("--municipality", list_args->municipality, "four-digit number, e.g. 0301");
  list->add_option("--page-size", list_args->page_size, "items per page (default 50)");
  list->add_option("--page-token", list_args->page_token, "token from the previous page");
  list->callback([&ctx, list_args] {
    ctx.Run([&]() -> absl::Status {
      v1::ListAgenciesRequest req;
      req.set_type(list_args->type);
      req.set_municipality(list_args->municipality);
      req.set_page_size(list_args->page_size);
      req.set_page_token(list_args->page_token);
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto resp = (*client)->ListAgencies(req);
      if (!resp.ok()) return resp.status();
      std::vector<nlohmann::json> items;
      for (const auto& a : resp->agencies()) items.push_back(ToJson(a));
      ctx.Emit(ListJson(items, resp->next_page_token()), kAgencyColumns);
      return absl::OkStatus();
    });
  });
}

void AddDirectoryGet(CLI::App* dir, CliContext& ctx) {
  auto get_id = std::make_shared<std::string>();
  auto* get = dir->add_subcommand("get",
                                  "show one agency\n"
                                  "  example: budstikke directory get bup-oslo");
  get->add_option("id", *get_id, "agency id")->required();
  get->callback([&ctx, get_id] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      auto agency = (*client)->GetAgency(*get_id);
      if (!agency.ok()) return agency.status();
      ctx.Emit(ToJson(*agency));
      return absl::OkStatus();
    });
  });
}

void AddDirectoryCreateUpdate(CLI::App* dir, CliContext& ctx) {
  for (const char* verb : {"create", "update"}) {
    auto args = std::make_shared<AgencyArgs>();
    bool is_create = std::string(verb) == "create";
    auto* cmd = dir->add_subcommand(
        verb, is_create ? "register an agency (operator admin)\n"
                          "  example: budstikke directory create --id bup-bergen --name "
                          "\"BUP Bergen\" --type bup --municipality 4601"
                        : "change an agency's name, type, municipality or acute unit (admin;\n"
                          "fields not given stay; the operator's admin sets the acute unit)\n"
                          "  example: budstikke directory update --id bup-oslo --acute-unit "
                          "bup-oslo-akutt");
    cmd->add_option("--id", args->id, "agency id, e.g. bup-bergen")->required();
    auto* name = cmd->add_option("--name", args->name, "display name");
    auto* type = AddEnumOption(cmd, "--type", &args->type, kTypeHelp);
    auto* municipality = cmd->add_option("--municipality", args->municipality, "four-digit number");
    if (is_create) {
      name->required();
      type->required();
      municipality->required();
      cmd->add_option("--request-id", args->request_id, "idempotency key (generated if omitted)");
    } else {
      cmd->add_option("--acute-unit", args->acute_unit,
                      "BUP only: the BUP agency that takes urgent referrals (\"\" clears it)");
    }
    cmd->callback([&ctx, args, is_create, cmd] {
      ctx.Run([&]() -> absl::Status {
        v1::Agency agency;
        agency.set_id(args->id);
        agency.set_name(args->name);
        agency.set_type(args->type);
        agency.set_municipality(args->municipality);
        agency.set_acute_unit(args->acute_unit);
        // update: only the fields given change.
        std::vector<std::string> fields;
        for (const char* f : {"name", "type", "municipality", "acute-unit"}) {
          if (!is_create && cmd->count(std::string("--") + f) > 0) {
            fields.push_back(std::string(f) == "acute-unit" ? "acute_unit" : f);
          }
        }
        if (!is_create && fields.empty()) {
          return absl::InvalidArgumentError(
              "give at least one of --name, --type, --municipality, --acute-unit");
        }
        auto client = ctx.client();
        if (!client.ok()) return client.status();
        auto result =
            is_create ? (*client)->CreateAgency(
                            agency, args->request_id.empty() ? NewRequestId() : args->request_id)
                      : (*client)->UpdateAgency(agency, fields);
        if (!result.ok()) return result.status();
        ctx.Emit(ToJson(*result));
        return absl::OkStatus();
      });
    });
  }
}

}  // namespace

void AddDirectoryCommands(CLI::App& app, CliContext& ctx) {
  AddWhoAmI(&app, ctx);

  auto* dir = app.add_subcommand("directory", "agencies on the network");
  dir->require_subcommand(1);
  AddDirectoryList(dir, ctx);
  AddDirectoryGet(dir, ctx);
  AddDirectoryCreateUpdate(dir, ctx);
}

}  // namespace budstikke::cli
