// The coordinator of `promptgrid run` (rank 0; DESIGN §4): expands the sweep into tasks, skips those
// the journal holds as finished, hands the rest out dynamically (scheduler.h: most expensive first by
// the cost model, calibrated as tasks finish), appends every result to DIR/journal.jsonl (the only
// writer), retries what may pass on another try, shows progress, keeps DIR/status.json current for
// `promptgrid status`, and writes the tables when the sweep is done.
//
// A stop signal (stop_signals.h: SIGINT, SIGTERM, SIGUSR2; the caller installs the handlers before it
// prepares anything) stops it cleanly: no new tasks are handed
// out, every running trained task saves a checkpoint at its last finished epoch and stops (others
// finish), what finished is journaled, the workers are released, and the exit code says it stopped
// (128 + the signal). Running the same command again resumes, under Slurm in the requeued job.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/coordinator_link.h"
#include "orchestrator/task_runner.h"
#include "sweeps/sweep_file.h"

namespace pg::orchestrator {

struct SweepRunOptions {
  std::string out_dir;
  int retries = 0;       // re-runs of a task whose failure is retryable (out of memory, I/O)
  int max_failures = 0;  // stop the sweep cleanly after this many failed tasks; 0: no limit
  int threads_per_worker = 1;  // for the status display
  // Run only the tasks of this share of the sweep (sweeps::task_part; 0-based), as one of `parts`
  // independent jobs (`slurm submit --jobs K`), each with its own output folder.
  int part = 0;
  int parts = 1;
};

struct SweepRunSummary {
  size_t tasks = 0;     // in the sweep
  size_t reused = 0;    // finished before (in the journal)
  size_t ok = 0;        // finished by this run
  size_t failed = 0;    // failed in this run (after retries)
  int stop_signal = 0;  // the stop signal when stopped by one (SIGTERM when only a worker got it)
  size_t interrupted = 0;  // running tasks stopped with a checkpoint, to be resumed
  std::string tables;      // the Markdown of the tables written at the end, for printing
  bool stopped_for_failures = false;
  double seconds = 0;        // the whole run, preparation included
  // How well the work was spread (a line per run in DIR/runs.jsonl): from the first task handed out to the last
  // result; the workers' own time per task; the coordinator's own time (not waiting, not running a
  // task in process) per task handed out; the workers' time without a task in the makespan.
  int workers = 0;
  size_t dispatched = 0;
  double makespan_s = 0;
  double task_seconds = 0;
  double coordinator_s = 0;
  double worker_idle_s = 0;
  // makespan / (task seconds / workers): 1 is perfect; 0 when nothing ran.
  double efficiency() const;
};

// `runner` prepares the tasks (their ids include the content digests of the inputs); `link` reaches
// the workers.
SweepRunSummary run_sweep(const sweeps::Sweep& sweep, const SweepRunOptions& options, TaskRunner& runner,
                          CoordinatorLink& link);

}  // namespace pg::orchestrator
