#include <CLI/CLI.hpp>

#include "common/error.h"
#include "orchestrator/commands/commands.h"

namespace pg::orchestrator {

void add_synth_command(CLI::App& app) {
  auto* command = app.add_subcommand("synth", "(not built yet)");
  command->callback([] { throw Error("synth: not built yet"); });
}

}  // namespace pg::orchestrator
