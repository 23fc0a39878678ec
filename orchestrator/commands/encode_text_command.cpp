#include <CLI/CLI.hpp>

#include "common/error.h"
#include "orchestrator/commands/commands.h"

namespace pg::orchestrator {

void add_encode_text_command(CLI::App& app) {
  auto* command = app.add_subcommand("encode-text", "(not built yet)");
  command->callback([] { throw Error("encode-text: not built yet"); });
}

}  // namespace pg::orchestrator
