// `promptgrid slurm submit | status | cancel`: a sweep as Slurm jobs (slurm/job_script.h says what the
// job does). One allocation per job runs `promptgrid run` under srun; --jobs K splits the sweep into K
// jobs, each a share of the tasks with its own output folder; status and tables read them together.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "common/system_info.h"
#include "orchestrator/commands/commands.h"
#include "results/sweep_tables.h"
#include "results/task_records.h"
#include "slurm/job_log.h"
#include "slurm/job_script.h"
#include "slurm/slurm_client.h"
#include "storage/journal.h"
#include "sweeps/sweep_file.h"

namespace pg::orchestrator {
namespace {

using nlohmann::json;

std::string absolute_path(const std::string& path) {
  return std::filesystem::weakly_canonical(std::filesystem::absolute(path)).string();
}

std::string this_program() {
  const std::string self = executable_path();
  if (self.empty()) throw Error("cannot find this promptgrid's own path (/proc/self/exe)", ErrorKind::internal);
  return self;
}

std::string part_name(const slurm::SubmittedJob& job) {
  return job.parts > 1 ? " (part " + std::to_string(job.part + 1) + " of " + std::to_string(job.parts) + ")" : "";
}

// Refuses a second submission while a job of the folder may still write its journal, and one that
// splits the sweep differently (each share has its own journal: another split would redo their tasks).
void check_resubmission(const std::string& out_dir, int jobs) {
  const std::vector<slurm::SubmittedJob> earlier = slurm::latest_jobs(out_dir);
  const int earlier_jobs = earlier.empty() ? (file_exists(out_dir + "/journal.jsonl") ? 1 : jobs) : earlier.front().parts;
  if (earlier_jobs != jobs) {
    throw Error(out_dir + " holds a sweep run as " + std::to_string(earlier_jobs) + (earlier_jobs == 1 ? " job" : " jobs") +
                " (each with its own journal); submit it again with --jobs " + std::to_string(earlier_jobs) +
                ", or give a new --out");
  }
  for (const auto& job : earlier) {
    const slurm::JobState state = slurm::query_job(job.job_id);
    if (!state.reachable) {
      throw Error("cannot tell whether job " + job.job_id + part_name(job) + " of " + out_dir + " still runs: " + state.note);
    }
    if (state.active()) {
      throw Error("job " + job.job_id + part_name(job) + " of " + out_dir + " is " + state.state +
                  "; two jobs must not run one sweep folder: wait for it, or `promptgrid slurm cancel " + out_dir + "`");
    }
  }
}

struct SubmitArguments {
  slurm::JobOptions job;
  std::string sweep_file;
  std::string out_dir;
  bool dry_run = false;
};

void submit(CLI::App& command, SubmitArguments& args) {
  slurm::JobOptions& job = args.job;
  // The sweep's syntax and inputs are checked here; what the feature store holds, in the job.
  const sweeps::Sweep sweep = sweeps::load_sweep(args.sweep_file, job.overrides);
  job.promptgrid = this_program();
  job.out_dir = absolute_path(args.out_dir);
  if (job.job_name.empty()) job.job_name = slurm::job_name_for(absolute_path(args.sweep_file));
  // The job runs the sweep as submitted (overrides applied, paths absolute), whatever later becomes of
  // the file: a requeued job must run the same tasks.
  job.sweep_file = job.out_dir + "/slurm/sweep.yaml";
  job.overrides.clear();
  std::vector<std::string> given;  // sweep-file keys the command line set
  for (const auto& [key, option] : slurm::sweep_keys_and_options()) {
    if (command.count(option) > 0) given.push_back(key);
  }
  slurm::apply_sweep_defaults(job, sweep.slurm, given);
  if (command.count("--workers-per-node") > 0 && job.gpus_per_node > 0) {
    throw Error("--workers-per-node is for CPU jobs (--gpus-per-node 0); with GPUs there is one worker rank per GPU");
  }
  const std::vector<slurm::JobPart> parts = slurm::job_parts(job);
  if (args.dry_run) {
    for (const auto& part : parts) {
      std::cout << "# " << part.script_path << "\n" << slurm::render_job_script(job, part)
                << "\n# submitted (once the script and " << job.sweep_file << " are written) with:\n";
      std::string line;
      for (const auto& word : slurm::sbatch_command(job, part)) line += (line.empty() ? "" : " ") + slurm::shell_quote(word);
      std::cout << line << "\n\n";
    }
    std::cout << "(dry run: nothing written, nothing submitted)" << std::endl;
    return;
  }
  make_directories(job.out_dir + "/slurm");
  check_resubmission(job.out_dir, job.jobs);
  std::string header = "# The sweep as `promptgrid slurm submit` resolved it: what its jobs run.\n# from: " +
                       absolute_path(args.sweep_file) + "\n";
  for (const auto& item : sweep.overrides) header += "# override: " + item + "\n";
  write_file_atomic(job.sweep_file, header + sweep.resolved_yaml);
  remove_file_quietly(job.out_dir + "/slurm/cancel");  // a new submission is not cancelled
  const int submission = slurm::next_submission(job.out_dir);
  for (const auto& part : parts) {
    write_file_atomic(part.script_path, slurm::render_job_script(job, part));
    ::chmod(part.script_path.c_str(), 0755);
    const std::string id = slurm::submit_job(slurm::sbatch_command(job, part));
    const slurm::SubmittedJob record{submission, id, part.part, part.parts, part.out_dir, part.script_path,
                                     utc_now_iso8601()};
    slurm::record_submitted_job(job.out_dir, record);
    std::cout << "submitted job " << id << part_name(record) << ": " << part.script_path << ", output "
              << job.out_dir << "/slurm/job-" << id << ".out" << std::endl;
  }
  std::cout << "follow it with: promptgrid slurm status " << job.out_dir << std::endl;
}

// Requeues of a job from the job's own start log, for when Slurm no longer knows it.
int restarts_from_attempts(const slurm::SubmittedJob& job) {
  const std::string path = job.out_dir + "/slurm/attempts.jsonl";
  if (!file_exists(path)) return -1;
  int restarts = -1;
  for (const std::string& line : split(read_file(path, kMaxJsonFileBytes, "the job's start log"), '\n')) {
    const json attempt = json::parse(line, nullptr, false);
    if (attempt.is_object() && std::to_string(attempt.value("job_id", 0)) == job.job_id) {
      restarts = std::max(restarts, attempt.value("restarts", 0));
    }
  }
  return restarts;
}

void status(const std::string& dir) {
  const std::string out_dir = absolute_path(dir);
  if (!std::filesystem::is_directory(out_dir)) throw Error(dir + " does not exist; give the --out of slurm submit");
  const std::vector<slurm::SubmittedJob> jobs = slurm::latest_jobs(out_dir);
  if (jobs.empty()) {
    throw Error(out_dir + " has no Slurm jobs (" + slurm::job_log_path(out_dir) +
                "); submit the sweep with `promptgrid slurm submit SWEEP --out " + dir + "`");
  }
  const bool cancelled = file_exists(out_dir + "/slurm/cancel");
  size_t all_ok = 0, all_failed = 0, all_total = 0;
  bool totals_known = true;
  for (const auto& job : jobs) {
    const slurm::JobState state = slurm::query_job(job.job_id);
    int restarts = state.restarts >= 0 ? state.restarts : restarts_from_attempts(job);
    std::cout << "job " << job.job_id << part_name(job) << ": " << state.state;
    if (!state.reason.empty()) std::cout << " (" << state.reason << ")";
    if (!state.elapsed.empty()) std::cout << ", run time " << state.elapsed;
    if (!state.exit_code.empty() && !state.active()) std::cout << ", exit code " << state.exit_code;
    if (restarts >= 0) std::cout << ", requeued " << restarts << (restarts == 1 ? " time" : " times");
    if (cancelled) std::cout << "; cancelled with promptgrid slurm cancel";
    std::cout << "\n";
    if (!state.note.empty()) std::cout << "  " << state.note << "\n";
    // The sweep's own account: the journal, and the coordinator's status file.
    size_t ok = 0, failed = 0;
    if (file_exists(job.out_dir + "/journal.jsonl")) {
      const storage::JournalContents journal = storage::read_journal(job.out_dir + "/journal.jsonl");
      for (const auto& record : results::latest_task_records(journal.records)) {
        ++(record.value("status", "") == "ok" ? ok : failed);
      }
    }
    json run_status;
    if (file_exists(job.out_dir + "/status.json")) run_status = read_json_file(job.out_dir + "/status.json", "a sweep's status file");
    const size_t total = run_status.is_object() ? run_status.value("total", size_t{0}) : 0;
    totals_known = totals_known && total > 0;
    all_ok += ok;
    all_failed += failed;
    all_total += total;
    std::cout << "  sweep: " << ok << " tasks finished, " << failed << " failed";
    if (total > 0) std::cout << " of " << total;
    if (run_status.is_object()) std::cout << "; the run is " << run_status.value("state", "unknown") << " (updated " << run_status.value("updated_at", "?") << ")";
    else std::cout << "; the run has not started yet";
    std::cout << "\n  journal " << job.out_dir << "/journal.jsonl, output " << out_dir << "/slurm/job-" << job.job_id << ".out\n";
  }
  if (jobs.size() > 1) {
    std::cout << "all " << jobs.size() << " jobs: " << all_ok << " tasks finished, " << all_failed << " failed";
    if (totals_known) std::cout << " of " << all_total;
    std::cout << "; tables: promptgrid table " << dir << "\n";
  }
  std::cout.flush();
}

void cancel(const std::string& dir, bool now) {
  const std::string out_dir = absolute_path(dir);
  const std::vector<slurm::SubmittedJob> jobs = slurm::latest_jobs(out_dir);
  if (jobs.empty()) throw Error(out_dir + " has no Slurm jobs (" + slurm::job_log_path(out_dir) + ") to cancel");
  // First the mark, so that a job stopping now does not requeue itself and a requeued one does not start.
  write_file_atomic(out_dir + "/slurm/cancel", utc_now_iso8601() + "\n");
  std::vector<std::string> failures;
  for (const auto& job : jobs) {
    const std::string name = "job " + job.job_id + part_name(job);
    try {
      const slurm::JobState state = slurm::query_job(job.job_id);
      if (!state.reachable) throw Error(state.note);
      if (!state.active()) {
        std::cout << name << " has ended (" << state.state << ")\n";
      } else if (state.state == "RUNNING" && !now) {
        // USR2 to the job script: every rank checkpoints, and the script, seeing the mark, ends the job.
        slurm::cancel_job(job.job_id, {"--batch", "--signal=USR2"});
        std::cout << name << ": asked to checkpoint and stop (USR2); it ends as CANCELLED once its tasks are saved\n";
      } else {
        // Pending, requeued, suspended, completing, or --now: Slurm's own cancel (TERM, then KILL after
        // KillWait; a running job's ranks checkpoint on the TERM).
        slurm::cancel_job(job.job_id, {});
        std::cout << name << " (" << state.state << "): cancelled\n";
      }
    } catch (const Error& e) {
      failures.push_back(name + ": " + e.what());
    }
  }
  if (!failures.empty()) {
    throw Error("not every job could be cancelled (the cancel mark " + out_dir +
                "/slurm/cancel stays, so none requeues itself):\n  " + join(failures, "\n  "));
  }
  std::cout << "the journal and checkpoints are kept: `promptgrid slurm submit` with the same --out resumes" << std::endl;
}

}  // namespace

void add_slurm_command(CLI::App& app) {
  auto* slurm_app = app.add_subcommand(
      "slurm", "Run a sweep as Slurm jobs: submit it, follow it, cancel it (requeued on pre-emption and time limits)");
  slurm_app->require_subcommand(1);

  auto args = std::make_shared<SubmitArguments>();
  auto* submit_app = slurm_app->add_subcommand(
      "submit", "Write DIR/slurm/job.sbatch (rank 0 plus one worker rank per GPU under srun) and submit it with sbatch");
  submit_app->add_option("sweep", args->sweep_file, "Sweep file (YAML); its slurm: section gives defaults")
      ->required()
      ->check(CLI::ExistingFile);
  submit_app->add_option("overrides", args->job.overrides, "Overrides key=value, as for promptgrid run");
  submit_app->add_option("--out", args->out_dir, "The sweep's output folder (journal, tables; DIR/slurm: scripts, logs)")->required();
  submit_app->add_option("--nodes", args->job.nodes, "Nodes")->default_val(1);
  submit_app->add_option("--gpus-per-node", args->job.gpus_per_node, "GPUs per node, one worker rank each (0: CPU workers)")->default_val(0);
  submit_app->add_option("--workers-per-node", args->job.workers_per_node, "CPU worker ranks per node when --gpus-per-node is 0")->default_val(1);
  submit_app->add_option("--cpus-per-gpu", args->job.cpus_per_worker, "CPU cores per worker rank (0: Slurm's default)")->default_val(0);
  submit_app->add_option("--time", args->job.time, "Time limit per allocation (HH:MM:SS, D-HH:MM:SS); the job requeues itself when it is near");
  submit_app->add_option("--partition", args->job.partition, "Slurm partition");
  submit_app->add_option("--account", args->job.account, "Slurm account");
  submit_app->add_option("--qos", args->job.qos, "Slurm QOS");
  submit_app->add_option("--constraint", args->job.constraint, "Slurm node features (a100&ib)");
  submit_app->add_option("--mem", args->job.memory, "Memory per node (64G; default: the partition's)");
  submit_app->add_option("--gpu-type", args->job.gpu_type, "GPU type of the gres request (a100: --gres=gpu:a100:G)");
  submit_app->add_option("--setup", args->job.setup, "Shell commands run first in the job, as written (module load ...)");
  submit_app->add_option("--jobs", args->job.jobs, "Split the sweep into K independent jobs, each a share of the tasks")->default_val(1);
  submit_app->add_option("--max-requeues", args->job.max_requeues,
                         "Requeues in a row without progress (no task finished, no checkpoint written) before the job "
                         "stops requeueing itself")
      ->default_val(3);
  submit_app->add_option("--signal-seconds", args->job.signal_seconds, "Seconds before the time limit at which Slurm sends USR2")->default_val(300);
  submit_app->add_option("--device", args->job.device, "The workers' device: cuda (default with GPUs) or cpu");
  submit_app->add_option("--threads", args->job.threads, "CPU threads per worker (0: --cpus-per-gpu, else automatic)")->default_val(0);
  submit_app->add_option("--checkpoint-every", args->job.checkpoint_every_s, "Seconds between checkpoints of a running task")->default_val(60);
  submit_app->add_option("--job-name", args->job.job_name, "Slurm job name (default pg-<sweep file name>)");
  submit_app->add_flag("--dry-run", args->dry_run, "Print the scripts and the sbatch commands; write and submit nothing");
  submit_app->callback([submit_app, args] { submit(*submit_app, *args); });

  auto status_dir = std::make_shared<std::string>();
  auto* status_app = slurm_app->add_subcommand("status", "The sweep's Slurm jobs (state, requeues) and its progress (journal)");
  status_app->add_option("dir", *status_dir, "The sweep's output folder (slurm submit --out)")->required();
  status_app->callback([status_dir] { status(*status_dir); });

  auto cancel_dir = std::make_shared<std::string>();
  auto now = std::make_shared<bool>(false);
  auto* cancel_app = slurm_app->add_subcommand(
      "cancel", "Stop the sweep's jobs: running ones checkpoint first (USR2), pending ones are removed; nothing requeues");
  cancel_app->add_option("dir", *cancel_dir, "The sweep's output folder (slurm submit --out)")->required();
  cancel_app->add_flag("--now", *now, "scancel at once (SIGTERM: ranks checkpoint within Slurm's KillWait)");
  cancel_app->callback([cancel_dir, now] { cancel(*cancel_dir, *now); });
}

}  // namespace pg::orchestrator
