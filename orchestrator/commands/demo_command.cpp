#include <CLI/CLI.hpp>

#include "common/error.h"
#include "orchestrator/commands/commands.h"

namespace pg::orchestrator {

void add_demo_command(CLI::App& app) {
  auto* command = app.add_subcommand("demo", "(not built yet)");
  command->callback([] { throw Error("demo: not built yet"); });
}

}  // namespace pg::orchestrator
