// Slurm's client commands (sbatch, squeue, scontrol, sacct, scancel), run as programs with their
// arguments given one by one (never through a shell), their output read back and parsed. A missing
// command or an unreachable controller is a pg::Error that says so and what to check.
#pragma once

#include <string>
#include <vector>

namespace pg::slurm {

struct ProgramResult {
  bool started = false;  // false: the program could not be run (err says why)
  int exit_code = -1;    // -1: ended by a signal
  std::string out, err;
};

// Runs argv[0] (searched in PATH) with the rest as its arguments; waits for it.
ProgramResult run_program(const std::vector<std::string>& argv);

// Submits with `command` (an sbatch --parsable command line); returns the job id.
std::string submit_job(const std::vector<std::string>& command);

// What Slurm says of a job, from the first source that knows it: squeue (pending, running and recently
// ended jobs), then scontrol (its restart count), then sacct (after the controller forgot it, when the
// cluster keeps accounting).
struct JobState {
  std::string job_id;
  std::string state;      // PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, CANCELLED, ...; "UNKNOWN" when no source knows
  std::string reason;     // squeue's reason (BeginTime, Resources, ...), or "" 
  std::string elapsed;    // run time so far, as Slurm prints it
  std::string exit_code;  // "0:0" when known
  int restarts = -1;      // requeues; -1 when unknown
  std::string note;       // why the state is UNKNOWN (no accounting, ...)
  bool reachable = true;  // false: Slurm could not be asked (no client, controller down): the job may be running
  bool active() const;    // pending, running, requeued, suspended, completing...: the job may still write
};

JobState query_job(const std::string& job_id);

// scancel with extra arguments (`--signal=USR2 --batch`, ...); a pg::Error with scancel's message.
void cancel_job(const std::string& job_id, const std::vector<std::string>& arguments);

}  // namespace pg::slurm
