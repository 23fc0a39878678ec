// The `promptgrid` command line: parses arguments, runs one subcommand, turns errors into messages
// and exit codes (0 ok, 1 internal error, 2 user error: bad input, file or option).
#pragma once

namespace pg::orchestrator {

int run_cli(int argc, char** argv);

}  // namespace pg::orchestrator
