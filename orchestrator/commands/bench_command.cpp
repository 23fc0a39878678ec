#include <CLI/CLI.hpp>

#include "common/error.h"
#include "orchestrator/commands/commands.h"

namespace pg::orchestrator {

void add_bench_command(CLI::App& app) {
  auto* command = app.add_subcommand("bench", "(not built yet)");
  command->callback([] { throw Error("bench: not built yet"); });
}

}  // namespace pg::orchestrator
