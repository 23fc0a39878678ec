#include <CLI/CLI.hpp>

#include "common/error.h"
#include "orchestrator/commands/commands.h"

namespace pg::orchestrator {

void add_train_command(CLI::App& app) {
  auto* command = app.add_subcommand("train", "(not built yet)");
  command->callback([] { throw Error("train: not built yet"); });
}

}  // namespace pg::orchestrator
