#include <CLI/CLI.hpp>

#include "common/error.h"
#include "orchestrator/commands/commands.h"

namespace pg::orchestrator {

void add_features_command(CLI::App& app) {
  auto* command = app.add_subcommand("features", "(not built yet)");
  command->callback([] { throw Error("features: not built yet"); });
}

}  // namespace pg::orchestrator
