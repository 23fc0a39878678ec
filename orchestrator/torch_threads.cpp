#include "orchestrator/torch_threads.h"

#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <thread>

#include "common/error.h"

namespace pg::orchestrator {

void set_torch_threads(int threads) {
  if (threads < 0) throw Error("--threads " + std::to_string(threads) + ": use 0 (one per core) or a positive count");
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
}

void add_threads_option(CLI::App& command, int& threads) {
  command.add_option("--threads", threads, "CPU threads (0: one per core)")->default_val(0);
}

}  // namespace pg::orchestrator
