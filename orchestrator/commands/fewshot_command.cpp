#include <CLI/CLI.hpp>

#include "common/error.h"
#include "orchestrator/commands/commands.h"

namespace pg::orchestrator {

void add_fewshot_command(CLI::App& app) {
  auto* command = app.add_subcommand("fewshot", "(not built yet)");
  command->callback([] { throw Error("fewshot: not built yet"); });
}

}  // namespace pg::orchestrator
