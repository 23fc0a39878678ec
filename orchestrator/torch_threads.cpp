#include "orchestrator/torch_threads.h"

#include <sched.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <thread>

#include "common/error.h"
#include "common/log.h"

namespace pg::orchestrator {

int available_cores() {
  // The cores this process may run on (a Slurm or taskset allocation), not all of the machine's.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void set_torch_threads(int threads) {
  if (threads < 0) throw Error("--threads " + std::to_string(threads) + ": use 0 (one per core) or a positive count");
  const int cores = available_cores();
  if (threads == 0) threads = cores;
  if (threads > cores) {
    // More threads than cores only adds contention (and thousands of them exhaust the machine).
    log_warning("--threads " + std::to_string(threads) + ": this process may use " + std::to_string(cores) +
                " cores; using " + std::to_string(cores) + " threads");
    threads = cores;
  }
  torch::set_num_threads(threads);
}

void add_threads_option(CLI::App& command, int& threads) {
  command.add_option("--threads", threads, "CPU threads (0: one per core; at most the cores available)")
      ->default_val(0);
}

}  // namespace pg::orchestrator
