#include <CLI/CLI.hpp>

#include "common/error.h"
#include "orchestrator/commands/commands.h"

namespace pg::orchestrator {

void add_tokenize_command(CLI::App& app) {
  auto* command = app.add_subcommand("tokenize", "(not built yet)");
  command->callback([] { throw Error("tokenize: not built yet"); });
}

}  // namespace pg::orchestrator
