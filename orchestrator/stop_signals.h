// The signals that stop a sweep cleanly (DESIGN §4): SIGINT (Ctrl-C), SIGTERM (kill; Slurm's cancel,
// pre-emption and time limit) and SIGUSR2 (Slurm's warning before the time limit or a pre-emption,
// `--signal=B:USR2@T`, which the job script forwards to every rank; USR1 is left alone, NCCL may use it).
// The first one is remembered: the coordinator hands out no more tasks and asks the running ones to
// checkpoint and stop; a worker's running task does the same on its own. A second SIGINT ends the
// process the default way (the journal stays consistent: every record is fsync'd whole); further TERM
// and USR2 are ignored (Slurm sends both; it ends the job with SIGKILL after KillWait if need be).
#pragma once

namespace pg::orchestrator {

// Installs the handlers for its lifetime and forgets any earlier signal. One at a time per process.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
};

// The first stop signal received while handlers were installed; 0 when none. Async-signal-safe.
int stop_signal();

}  // namespace pg::orchestrator
