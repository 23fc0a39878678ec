// LibTorch starts with one intra-op thread on some machines (STACK.md); every command that computes
// sets the count explicitly: --threads N, or 0 for one per core.
#pragma once

namespace CLI {
class App;
}

namespace pg::orchestrator {

// The cores this process may run on (its CPU affinity).
int available_cores();
// Sets LibTorch's intra-op threads; more than available_cores() is capped there, with a warning.
void set_torch_threads(int threads);
// Adds `--threads N` (default 0: one per core) to a subcommand; its callback passes the value to
// set_torch_threads.
void add_threads_option(CLI::App& command, int& threads);

}  // namespace pg::orchestrator
