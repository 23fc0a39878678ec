// `promptgrid run SWEEP.yaml [key=value ...] --out DIR`: a whole sweep, in this process or across MPI
// ranks (`mpirun -np N promptgrid run ...`: rank 0 coordinates, ranks 1..N-1 work).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>

#include "common/error.h"
#include "common/log.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/error_text.h"
#include "orchestrator/in_process_link.h"
#include "orchestrator/mpi_link.h"
#include "orchestrator/stop_signals.h"
#include "orchestrator/sweep_worker.h"
#include "orchestrator/torch_threads.h"
#include "orchestrator/worker_device.h"

namespace pg::orchestrator {
namespace {

struct RunArguments {
  std::string sweep_file;
  std::vector<std::string> overrides;
  SweepRunOptions options;
  std::string device = "cpu";
  int threads = 0;
  double checkpoint_every_s = 60;
  int64_t max_sequences = 0;
};

// "I/K" with 1 <= I <= K -> (I - 1, K).
std::pair<int, int> parse_part(const std::string& text) {
  const size_t slash = text.find('/');
  int part = 0, parts = 0;
  try {
    size_t used = 0;
    part = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument(text);
    parts = std::stoi(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    throw CLI::ValidationError("--part", "'" + text + "' is not I/K (share I of K, such as 2/4)");
  }
  if (slash == std::string::npos || parts < 1 || parts > 100000 || part < 1 || part > parts) {
    throw CLI::ValidationError("--part", "'" + text + "' is not I/K with 1 <= I <= K <= 100000");
  }
  return {part - 1, parts};
}

RunnerOptions runner_options(const sweeps::Sweep& sweep, const RunArguments& args) {
  RunnerOptions options;
  options.features_path = sweep.features;
  options.checkpoint_path = sweep.clip;
  options.vocab_path = sweep.vocab;
  options.device = args.device;
  options.checkpoint_dir = args.options.out_dir + "/checkpoints";
  options.checkpoint_every_s = args.checkpoint_every_s;
  options.max_sequences = args.max_sequences;
  return options;
}

int report_summary(const SweepRunSummary& summary, const std::string& out_dir) {
  std::cout << "\n" << summary.tables;
  std::cout << "\n"
            << summary.tasks << " tasks: " << summary.reused << " finished before, " << summary.ok << " run now, "
            << summary.failed << " failed, in " << static_cast<int>(summary.seconds + 0.5) << " s; journal "
            << out_dir << "/journal.jsonl, tables in " << out_dir << "/tables" << std::endl;
  if (summary.dispatched > 0) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "schedule: %d workers, makespan %.1f s, task time %.1f s, efficiency %.3f, coordinator %.2f ms per "
                  "task, worker idle %.1f s (%s/runs.jsonl)",
                  summary.workers, summary.makespan_s, summary.task_seconds, summary.efficiency(),
                  1000 * summary.coordinator_s / static_cast<double>(summary.dispatched), summary.worker_idle_s,
                  out_dir.c_str());
    std::cout << line << std::endl;
  }
  if (summary.stop_signal != 0) {
    std::cerr << "promptgrid: stopped by a signal; run the same command again to resume" << std::endl;
    return 128 + summary.stop_signal;
  }
  if (summary.stopped_for_failures) throw Error("stopped after " + std::to_string(summary.failed) +
                                                " failed tasks (--max-failures); see " + out_dir + "/tables/failures.md");
  if (summary.failed > 0) {
    throw Error(std::to_string(summary.failed) + " tasks failed; see " + out_dir +
                "/tables/failures.md and the logs in " + out_dir + "/logs (run again to retry them)");
  }
  return 0;
}

// One process does both jobs.
int run_in_process(const RunArguments& args) {
  const StopSignals signals;  // from the start: a signal while the tasks are prepared stops the sweep too
  set_torch_threads(args.threads);
  const sweeps::Sweep sweep = sweeps::load_sweep(args.sweep_file, args.overrides);
  RunnerOptions options = runner_options(sweep, args);
  options.stop_requested = [] { return stop_signal() != 0; };  // the coordinator's handlers, same process
  TaskRunner runner(options);
  SweepWorker worker(runner, args.options.out_dir, 0);
  InProcessLink link(worker);
  return report_summary(run_sweep(sweep, args.options, runner, link), args.options.out_dir);
}

// Every rank reads the sweep and opens the inputs; all agree before any work, so that a bad sweep is
// one error from rank 0 rather than N errors and a hang.
int run_with_mpi(const RunArguments& args) {
  MpiSession mpi;
  if (mpi.size() < 2) {
    throw Error("promptgrid run under mpirun needs 2 or more ranks (rank 0 coordinates, the others work); "
                "use mpirun -np 2 or more, or run without mpirun");
  }
  const bool coordinator = mpi.rank() == 0;
  // On every rank, from the start: a signal stops the sweep (rank 0) or the running task (a worker),
  // never the process.
  const StopSignals signals;
  std::string error;
  std::unique_ptr<sweeps::Sweep> sweep;
  std::unique_ptr<TaskRunner> runner;
  try {
    // Threads: --threads, else this rank's cores shared among the worker ranks that share them.
    set_torch_threads(args.threads > 0 ? args.threads : mpi.threads_per_worker());
    sweep = std::make_unique<sweeps::Sweep>(sweeps::load_sweep(args.sweep_file, args.overrides));
    RunnerOptions options = runner_options(*sweep, args);
    // Rank 0 only prepares tasks (the digests do not depend on the device); each worker of a node takes
    // the next GPU when --device cuda names none.
    if (!coordinator) bind_to_one_gpu(args.device, mpi.local_worker_index());
    options.device = coordinator ? "cpu" : device_for_worker(args.device, mpi.local_worker_index());
    // A worker's task stops at its next step on a stop signal of its own or when rank 0 asks (it got
    // the signal).
    options.stop_requested = [] { return stop_signal() != 0 || interrupt_requested_by_coordinator(); };
    runner = std::make_unique<TaskRunner>(options);
  } catch (const std::exception& e) {
    error = error_text(e);
  }
  if (!mpi.all_started(error)) return 2;
  SweepRunSummary summary;
  try {
    if (!coordinator) {
      SweepWorker worker(*runner, args.options.out_dir, mpi.rank());
      run_mpi_worker(worker);
      return 0;
    }
    MpiCoordinatorLink link(mpi);
    summary = run_sweep(*sweep, args.options, *runner, link);
  } catch (const std::exception& e) {
    // The other ranks wait for messages from this one: end the whole job rather than leave them
    // waiting (MPI_Finalize would wait for them too).
    std::cerr << "promptgrid: rank " << mpi.rank() << ": error: " << error_text(e) << std::endl;
    mpi.abort(error_kind(e) == ErrorKind::internal ? 1 : 2);
  }
  return report_summary(summary, args.options.out_dir);  // the workers are released: errors end normally
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArguments>();
  auto* command = app.add_subcommand(
      "run",
      "Run a sweep file: every task of its grid, in this process or across MPI ranks (mpirun -np N promptgrid run "
      "...: rank 0 coordinates, the others work). Results go to DIR/journal.jsonl; finished tasks are skipped when "
      "the command runs again; the tables go to DIR/tables.");
  command->add_option("sweep", args->sweep_file, "Sweep file (YAML)")->required()->check(CLI::ExistingFile);
  command->add_option("overrides", args->overrides,
                      "Overrides key=value with dotted keys and YAML values: shots=[1,16] methods.1.lr=0.01");
  command->add_option("--out", args->options.out_dir, "Output folder: journal, tables, logs, prompts")->required();
  command->add_option("--retries", args->options.retries,
                      "Re-run a task whose failure is retryable (out of memory, a full disk, I/O) up to N times, on "
                      "another worker when there is one")
      ->default_val(0)
      ->check(CLI::Range(0, 100));
  command->add_option("--max-failures", args->options.max_failures,
                      "Stop the sweep cleanly after N failed tasks (0: never)")
      ->default_val(0)
      ->check(CLI::Range(0, 1'000'000));
  command->add_option("--device", args->device, "cpu | cuda | cuda:N")->default_val("cpu");
  command->add_option_function<std::string>(
             "--part",
             [args](const std::string& text) {
               const auto [part, parts] = parse_part(text);
               args->options.part = part;
               args->options.parts = parts;
             },
             "Run only share I of K of the sweep's tasks (chosen by task id), as one of K independent jobs "
             "each with its own --out (slurm submit --jobs K does this)")
      ->type_name("I/K");
  command->add_option("--max-sequences", args->max_sequences,
                      "CoCoOp: prompt sequences (images x classes) per text-encoder pass, bounding memory; 0: one "
                      "image per pass on the CPU, 4096 sequences on a GPU")
      ->default_val(0)
      ->check(CLI::Range(int64_t{0}, int64_t{100'000'000}));
  command->add_option("--checkpoint-every", args->checkpoint_every_s,
                      "Seconds between checkpoints of a running trained task (DIR/checkpoints; 0: every epoch)")
      ->default_val(60)
      ->check(CLI::Range(0.0, 1e9));
  command->add_option("--threads", args->threads,
                      "CPU threads per worker (0: the node's cores shared among its worker ranks)")
      ->default_val(0);
  command->callback([args] {
    const int code = launched_by_mpi() ? run_with_mpi(*args) : run_in_process(*args);
    if (code != 0) throw CommandExit{code};
  });
}

}  // namespace pg::orchestrator
