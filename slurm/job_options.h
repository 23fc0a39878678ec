// What `promptgrid slurm submit` puts into a job (DESIGN §2, slurm/): the allocation, the run it starts,
// and how it survives pre-emption. Every value is checked before it reaches a script: names Slurm
// parses in `#SBATCH` lines must be plain words of a small alphabet, a time a Slurm time; paths and
// overrides are shell-quoted where they appear (job_script.h); the setup commands run as written.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "sweeps/sweep_file.h"

namespace pg::slurm {

struct JobOptions {
  std::string promptgrid;               // absolute path of the promptgrid binary the job runs
  std::string sweep_file;               // absolute
  std::vector<std::string> overrides;   // key=value, passed to `promptgrid run` as given
  std::string out_dir;                  // absolute; the sweep's output folder
  std::string job_name;                 // Slurm's job name (default: "pg-" and the sweep file's stem)
  int nodes = 1;
  int gpus_per_node = 0;                // one worker rank per GPU; 0: CPU workers
  int workers_per_node = 1;             // CPU workers per node, when gpus_per_node is 0
  int cpus_per_worker = 0;              // --cpus-per-gpu (or per CPU worker); 0: Slurm's default
  std::string time;                     // Slurm time limit ("HH:MM:SS", "D-HH:MM:SS", minutes); "" the partition's
  std::string partition, account, qos, constraint;
  std::string memory;                   // --mem per node ("64G"); "" the partition's default
  std::string gpu_type;                 // gres type ("a100": --gres=gpu:a100:G); "" any
  std::string setup;                    // shell commands run before the sweep ("module load cuda")
  int jobs = 1;                         // independent allocations, each a share of the tasks
  int max_requeues = 3;                 // requeues in a row without progress (no task journaled, no checkpoint)
  int signal_seconds = 300;             // USR2 this long before the time limit
  std::string device;                   // the workers' --device; "": cuda with GPUs, else cpu
  int threads = 0;                      // the workers' --threads; 0: --cpus-per-gpu when given
  int checkpoint_every_s = 60;          // the run's --checkpoint-every
};

// The sweep file's `slurm:` keys (sweeps::kSlurmKeys) and the `slurm submit` options they stand for.
const std::vector<std::pair<std::string, std::string>>& sweep_keys_and_options();

// Fills the options the command line left unset from a sweep's `slurm:` section, then checks them all.
// `given` names the keys the command line set. A pg::Error names the file, line and key of a value
// that is wrong (or, for a combination, of the sweep-file key it involves).
void apply_sweep_defaults(JobOptions& options, const std::map<std::string, sweeps::SlurmDefault>& defaults,
                          const std::vector<std::string>& given);

// The first problem of the options (ranges, Slurm's word, time and memory syntax, the warning well
// inside the time limit): the command-line options it is about ({"--signal-seconds", "--time"}; none
// for the program's own fields) and a message that names them and the fix. Nothing when every value
// is fine.
struct OptionProblem {
  std::vector<std::string> options;
  std::string message;
  ErrorKind kind = ErrorKind::user;
};
std::optional<OptionProblem> job_options_problem(const JobOptions& options);
// The same as a pg::Error.
void check_job_options(const JobOptions& options);

// A Slurm time limit in seconds; 0 for UNLIMITED / INFINITE; -1 when `time` is not a Slurm time.
long long slurm_time_seconds(const std::string& time);

// A job name from a sweep file's path: "pg-" and its stem, reduced to letters, digits, '-', '_', '.'.
std::string job_name_for(const std::string& sweep_file);

}  // namespace pg::slurm
