// The sbatch script of a sweep (DESIGN §2, slurm/): one allocation runs `promptgrid run` under
// `srun --mpi=pmix`, rank 0 coordinating and one worker rank per GPU (each bound to one of the node's
// gres GPUs), and survives pre-emption and time limits:
//   - `--signal=B:USR2@S` and `--requeue`: Slurm sends the script USR2 S seconds before the time limit
//     (and TERM on pre-emption or scancel); the script forwards USR2 to srun, which passes it to every
//     rank: running tasks save a checkpoint, the journal is complete, `promptgrid run` exits 128 + 12;
//   - the script then requeues its own job (`scontrol requeue`), at most --max-requeues times and never
//     after `promptgrid slurm cancel`; the requeued job resumes from the journal and the checkpoints.
//   - a sweep that finishes exits 0 and is not requeued; one that fails exits with its code.
// Every value from the user is either checked (job_options.h) or single-quoted; the setup commands
// go through `eval` of one quoted string, so however they are written they cannot end the script's
// own code or run anything but themselves.
#pragma once

#include <string>
#include <vector>

#include "slurm/job_options.h"

namespace pg::slurm {

// One job of the sweep's `jobs` (0-based part of `parts`): where it writes and what it is called.
struct JobPart {
  int part = 0;
  int parts = 1;
  std::string out_dir;      // DIR, or DIR/part-<i>-of-<K> when the sweep is split
  std::string script_path;  // DIR/slurm/job.sbatch, or DIR/slurm/job-part-<i>-of-<K>.sbatch
};

std::vector<JobPart> job_parts(const JobOptions& options);

// POSIX shell single quoting: 'it'\''s'. Any byte string comes back as one word, unexpanded.
std::string shell_quote(const std::string& text);

// The script's text for one part.
std::string render_job_script(const JobOptions& options, const JobPart& part);

// The sbatch command line for a part's script (as exec'd, no shell): `sbatch --parsable --chdir=DIR
// --output=slurm/job-%j.out SCRIPT`. The output path is relative to DIR, so it cannot leave it.
std::vector<std::string> sbatch_command(const JobOptions& options, const JobPart& part);

}  // namespace pg::slurm
