#include "slurm/job_script.h"

#include "common/error.h"

namespace pg::slurm {
namespace {

std::string part_suffix(const JobPart& part) {
  return "part-" + std::to_string(part.part + 1) + "-of-" + std::to_string(part.parts);
}

std::string workers_device(const JobOptions& options) {
  if (!options.device.empty()) return options.device;
  return options.gpus_per_node > 0 ? "cuda" : "cpu";
}

}  // namespace

std::vector<JobPart> job_parts(const JobOptions& options) {
  std::vector<JobPart> parts;
  for (int i = 0; i < options.jobs; ++i) {
    JobPart part{i, options.jobs, options.out_dir, options.out_dir + "/slurm/job.sbatch"};
    if (options.jobs > 1) {
      part.out_dir = options.out_dir + "/" + part_suffix(part);
      part.script_path = options.out_dir + "/slurm/job-" + part_suffix(part) + ".sbatch";
    }
    parts.push_back(part);
  }
  return parts;
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string render_job_script(const JobOptions& o, const JobPart& part) {
  check_job_options(o);
  const int workers_per_node = o.gpus_per_node > 0 ? o.gpus_per_node : o.workers_per_node;
  const int threads = o.threads > 0 ? o.threads : o.cpus_per_worker;
  std::string s = "#!/bin/bash\n";
  s += "# promptgrid: a sweep under Slurm, written by `promptgrid slurm submit` (see the README, \"Slurm\").\n";
  s += "# Rank 0 coordinates, one worker rank per GPU (CPU workers when there are none). On USR2 (sent " +
       std::to_string(o.signal_seconds) + " s\n";
  s += "# before the time limit) or TERM every rank checkpoints and the job requeues itself to resume.\n";
  auto directive = [&s](const std::string& option, const std::string& value) {  // checked values only
    s += "#SBATCH --" + option + (value.empty() ? "" : "=" + value) + "\n";
  };
  directive("job-name", o.job_name);
  directive("nodes", std::to_string(o.nodes));
  // One task slot more per node than it has workers: rank 0 runs beside the first node's workers
  // (SLURM_HOSTFILE below), and Slurm cannot ask the first node alone for more.
  directive("ntasks-per-node", std::to_string(workers_per_node + 1));
  if (o.cpus_per_worker > 0) directive("cpus-per-task", std::to_string(o.cpus_per_worker));
  if (!o.memory.empty()) directive("mem", o.memory);
  if (o.gpus_per_node > 0) {
    directive("gres", "gpu:" + (o.gpu_type.empty() ? "" : o.gpu_type + ":") + std::to_string(o.gpus_per_node));
  }
  if (!o.time.empty()) directive("time", o.time);
  if (!o.partition.empty()) directive("partition", o.partition);
  if (!o.account.empty()) directive("account", o.account);
  if (!o.qos.empty()) directive("qos", o.qos);
  if (!o.constraint.empty()) directive("constraint", o.constraint);
  directive("signal", "B:USR2@" + std::to_string(o.signal_seconds));
  directive("requeue", "");
  directive("open-mode", "append");  // a requeued job adds to the same output file
  s += "\n";

  s += "promptgrid=" + shell_quote(o.promptgrid) + "\n";
  s += "sweep=" + shell_quote(o.sweep_file) + "\n";
  s += "overrides=(";
  for (size_t i = 0; i < o.overrides.size(); ++i) s += (i ? " " : "") + shell_quote(o.overrides[i]);
  s += ")\n";
  s += "out=" + shell_quote(part.out_dir) + "\n";
  s += "part=(";
  if (part.parts > 1) s += "--part " + std::to_string(part.part + 1) + "/" + std::to_string(part.parts);
  s += ")\n";
  s += "cancel_file=" + shell_quote(o.out_dir + "/slurm/cancel") + "\n";
  s += "workers_per_node=" + std::to_string(workers_per_node) + "\n";
  s += "ranks=" + std::to_string(o.nodes * workers_per_node + 1) + "\n";
  s += "max_requeues=" + std::to_string(o.max_requeues) + "\n\n";

  // The traps come first: a signal during the setup must not end the job unrequeued.
  s += R"SCRIPT(# USR2 (Slurm's warning) or TERM: tell every rank through srun, which forwards USR2 to them.
stop_signal=
srun_pid=
on_stop() {
  stop_signal=$1
  if [ -n "$srun_pid" ]; then kill -USR2 "$srun_pid" 2>/dev/null; fi
}
trap 'on_stop USR2' USR2
trap 'on_stop TERM' TERM

if [ -e "$cancel_file" ]; then
  echo "promptgrid: the sweep was cancelled (promptgrid slurm cancel); not starting it"
  exit 0
fi
)SCRIPT";
  if (!o.setup.empty()) {
    s += "\n# The setup commands (--setup), run as written, in this shell.\n";
    s += "setup=" + shell_quote(o.setup) + "\n";
    s += "if ! eval \"$setup\"; then\n";
    s += "  echo \"promptgrid: the setup commands (--setup) failed; the sweep did not start\" >&2\n";
    s += "  exit 1\n";
    s += "fi\n";
  }
  s += R"SCRIPT(
set -u
restarts=${SLURM_RESTART_COUNT:-0}
mkdir -p "$out/slurm"
printf '{"job_id": %d, "restarts": %d, "started_at": "%s"}\n' "$SLURM_JOB_ID" "$restarts" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$out/slurm/attempts.jsonl"
started="$out/slurm/started-$SLURM_JOB_ID"
touch "$started"
journal_lines() { if [ -f "$out/journal.jsonl" ]; then wc -l < "$out/journal.jsonl"; else echo 0; fi; }
lines_at_start=$(journal_lines)

# Rank 0 on the first node, then each node's workers: srun places rank r on line r + 1.
hostfile="$out/slurm/hosts-$SLURM_JOB_ID"
: > "$hostfile"
first=1
for host in $(scontrol show hostnames "$SLURM_JOB_NODELIST"); do
  if [ "$first" = 1 ]; then echo "$host" >> "$hostfile"; first=0; fi
  for _ in $(seq 1 "$workers_per_node"); do echo "$host" >> "$hostfile"; done
done
export SLURM_HOSTFILE="$hostfile"

status=143
if [ -z "$stop_signal" ]; then
  # ${a[@]+"${a[@]}"}: an empty array under set -u, also in bash before 4.4.
  srun --mpi=pmix --distribution=arbitrary --ntasks="$ranks" --kill-on-bad-exit=1 \
)SCRIPT";
  // Slurm 22.05's srun no longer takes --cpus-per-task from the allocation: say it again.
  if (o.cpus_per_worker > 0) s += "    --cpus-per-task=" + std::to_string(o.cpus_per_worker) + " \\\n";
  s += "    \"$promptgrid\" run \"$sweep\" ${overrides[@]+\"${overrides[@]}\"} --out \"$out\" ${part[@]+\"${part[@]}\"} "
       "--device " + workers_device(o) + " --threads " + std::to_string(threads) + " --checkpoint-every " +
       std::to_string(o.checkpoint_every_s) + " &\n";
  s += R"SCRIPT(  srun_pid=$!
  # wait returns early when a trapped signal arrives; wait again until srun itself has ended.
  while kill -0 "$srun_pid" 2>/dev/null; do
    wait "$srun_pid"
    status=$?
  done
  # srun may have ended between the two (bash then has its status, unless a wait above took it).
  wait "$srun_pid" 2>/dev/null
  last=$?
  if [ "$last" -ne 127 ]; then status=$last; fi
fi
rm -f "$hostfile"

if [ "$status" -ne 0 ] && [ -n "$stop_signal" ]; then
  # Progress: a task journaled, or a checkpoint written, in this run.
  no_progress_file="$out/slurm/requeues-without-progress"
  no_progress=$(cat "$no_progress_file" 2>/dev/null || echo 0)
  if [ "$(journal_lines)" -gt "$lines_at_start" ] ||
     [ -n "$(find "$out/checkpoints" -name '*.h5' -newer "$started" 2>/dev/null | head -n 1)" ]; then
    no_progress=0
  else
    no_progress=$((no_progress + 1))
  fi
  echo "$no_progress" > "$no_progress_file"
  if [ -e "$cancel_file" ]; then
    echo "promptgrid: stopped for promptgrid slurm cancel; the journal and checkpoints are kept"
    rm -f "$started"
    scancel "$SLURM_JOB_ID"  # ends as CANCELLED, which is what happened
  elif [ "$no_progress" -gt "$max_requeues" ]; then
    echo "promptgrid: stopped by SIG$stop_signal with no progress in the last $no_progress runs" \
      "(--max-requeues $max_requeues); not requeueing again: see the output above, then submit again" >&2
  else
    echo "promptgrid: stopped by SIG$stop_signal; requeueing job $SLURM_JOB_ID to resume from the journal"
    rm -f "$started"
    scontrol requeue "$SLURM_JOB_ID"
  fi
elif [ "$status" -eq 0 ]; then
  rm -f "$out/slurm/requeues-without-progress"
fi
rm -f "$started"
exit "$status"
)SCRIPT";
  return s;
}

std::vector<std::string> sbatch_command(const JobOptions& options, const JobPart& part) {
  return {"sbatch", "--parsable", "--chdir=" + options.out_dir, "--output=slurm/job-%j.out", part.script_path};
}

}  // namespace pg::slurm
