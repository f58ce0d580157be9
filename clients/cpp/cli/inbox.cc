// budstikke inbox watch [--from CURSOR] [--ack] [--consumer NAME] [--max-events N]
#include "cli/context.h"

namespace budstikke::cli {

void AddInboxCommands(CLI::App& app, CliContext& ctx) {
  auto* inbox = app.add_subcommand("inbox", "your agency's event feed");
  inbox->require_subcommand(1);

  struct WatchArgs {
    uint64_t from = 0;
    bool ack = false;
    std::string consumer;
    int64_t max_events = 0;
  };
  auto args = std::make_shared<WatchArgs>();
  auto* watch = inbox->add_subcommand(
      "watch",
      "follow the inbox: replays the events after --from that the consumer has not "
      "acknowledged, then new ones; one "
      "JSON object per line with --output json; after a disconnect it reconnects from where "
      "it was (backoff 0.1 s doubling to 2 s) and gives up after 10 failed reconnects in a "
      "row, about 13 s (exit 5)\n"
      "  example: budstikke inbox watch --ack --output json");
  watch->add_option("--from", args->from, "deliver events after this cursor (default 0)");
  watch->add_flag("--ack", args->ack, "acknowledge each event after printing it");
  watch->add_option("--consumer", args->consumer,
                    "whose acknowledged position to use and move, so that several watchers of "
                    "the agency do not take events from each other (default: your user id)");
  watch->add_option("--max-events", args->max_events, "exit 0 after this many events");
  watch->callback([&ctx, args] {
    ctx.Run([&]() -> absl::Status {
      auto client = ctx.client();
      if (!client.ok()) return client.status();
      // A server that is down, silent or rejects our certificate fails here,
      // at once and clearly; only later disconnects are retried.
      if (auto me = (*client)->WhoAmI(); !me.ok()) return me.status();
      int64_t seen = 0;
      absl::Status ack_error = absl::OkStatus();
      // The SDK reconnects and skips what the server sends again; the acks
      // stay here, so that the last event before --max-events is acked too.
      InboxWatchOptions options;
      options.consumer = args->consumer;
      absl::Status s = (*client)->WatchInbox(
          args->from,
          [&](const v1::InboxEvent& e) {
            ctx.Emit(ToJson(e), {"cursor", "type", "resource", "time"});
            if (args->ack) {
              auto acked = (*client)->AckInbox(e.cursor(), args->consumer);
              if (!acked.ok()) {
                ack_error = acked.status();
                return false;
              }
            }
            ++seen;
            return args->max_events <= 0 || seen < args->max_events;
          },
          options);
      return ack_error.ok() ? s : ack_error;
    });
  });
}

}  // namespace budstikke::cli
