// budstikke inbox watch [--from CURSOR] [--ack] [--max-events N]
#include <thread>

#include "cli/context.h"

namespace budstikke::cli {

void AddInboxCommands(CLI::App& app, CliContext& ctx) {
  auto* inbox = app.add_subcommand("inbox", "your agency's event feed");
  inbox->require_subcommand(1);

  struct WatchArgs {
    uint64_t from = 0;
    bool ack = false;
    int64_t max_events = 0;
  };
  auto args = std::make_shared<WatchArgs>();
  auto* watch = inbox->add_subcommand(
      "watch",
      "follow the inbox: replays unacknowledged events after --from, then new ones; one "
      "JSON object per line with --output json; reconnects from the last cursor after a "
      "disconnect (gives up after 5 failed attempts in a row, exit 5)\n"
      "  example: budstikke inbox watch --ack --output json");
  watch->add_option("--from", args->from, "deliver events after this cursor (default 0)");
  watch->add_flag("--ack", args->ack, "acknowledge each event after printing it");
  watch->add_option("--max-events", args->max_events, "exit 0 after this many events");
  watch->callback([&ctx, args] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      // A server that is down, silent or rejects our certificate fails here,
      // at once and clearly; only later disconnects are retried.
      if (auto me = (*client)->WhoAmI(); !me.ok()) return me.status();
      uint64_t cursor = args->from;
      int64_t seen = 0;
      int failures = 0;
      absl::Status inner = absl::OkStatus();
      while (true) {
        bool progressed = false;
        absl::Status s = (*client)->SubscribeInbox(cursor, [&](const v1::InboxEvent& e) {
          if (e.cursor() <= cursor) return true;  // duplicate after reconnect
          cursor = e.cursor();
          progressed = true;
          ctx.Emit(ToJson(e), {"cursor", "type", "resource", "time"});
          if (args->ack) {
            auto acked = (*client)->AckInbox(cursor);
            if (!acked.ok()) {
              inner = acked.status();
              return false;
            }
          }
          ++seen;
          return args->max_events <= 0 || seen < args->max_events;
        });
        if (!inner.ok()) return inner;
        if (s.ok()) return absl::OkStatus();  // --max-events reached
        if (s.code() != absl::StatusCode::kUnavailable) return s;
        failures = progressed ? 1 : failures + 1;
        if (failures >= 5) return s;
        std::this_thread::sleep_for(std::chrono::milliseconds(500 * failures));
      }
    });
  });
}

}  // namespace budstikke::cli
