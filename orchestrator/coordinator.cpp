#include "orchestrator/coordinator.h"

#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <deque>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/system_info.h"
#include "orchestrator/progress.h"
#include "orchestrator/scheduler.h"
#include "orchestrator/stop_signals.h"
#include "orchestrator/store_facts.h"
#include "storage/journal.h"
#include "results/sweep_tables.h"
#include "storage/library_version.h"
#include "sweeps/cost_model.h"
#include "sweeps/protocol.h"
#include "text/tokenizer.h"

namespace pg::orchestrator {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A journal record counts as finished when it succeeded and carries every metric of its protocol.
bool is_finished(const json& record) {
  return record.value("status", "") == "ok" && sweeps::missing_metrics(record).empty();
}

std::string sweep_file_header(const sweeps::Sweep& sweep) {
  std::string header = "# The sweep as `promptgrid run` resolved it (overrides applied, paths absolute).\n";
  header += "# from: " + sweep.file + "\n";
  for (const auto& item : sweep.overrides) header += "# override: " + item + "\n";
  header += "# software: promptgrid 0.1.0, LibTorch " + std::string(TORCH_VERSION) + ", HDF5 " +
            storage::hdf5_library_version() + "\n";
  return header;
}

struct PlannedTask {
  sweeps::TaskSpec spec;
  std::string id;
  double flops = 0;
  int attempts = 0;
};

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

constexpr double kGatherSeconds = 60;

// What names a worker's GPU, from its ready message (SweepWorker::about): its host, the devices it may
// see (CUDA_VISIBLE_DEVICES) and the one it uses. "" for a CPU worker.
std::string gpu_key(const json& about) {
  auto text = [&](const char* key) {
    return about.is_object() && about.contains(key) && about[key].is_string() ? about[key].get<std::string>() : "";
  };
  if (text("device").rfind("cuda", 0) != 0) return "";
  return text("host") + "|" + text("gpus") + "|" + text("device");
}

ScaleOptions scale_options(const sweeps::ScaleSettings& settings) {
  ScaleOptions scale;
  scale.pack_tasks = settings.pack_tasks;
  scale.pack_below_classes = settings.pack_below_classes;
  scale.pack_memory_bytes = settings.pack_memory_gb * 1e9;
  scale.split_workers = settings.split_workers;
  scale.split_from_classes = settings.split_from_classes;
  return scale;
}

// What a worker is running: the tasks whose results it will send, in order (one task, or a pack); a
// helper of a split led by another worker sends one result the coordinator does not journal.
struct WorkerJob {
  std::deque<size_t> tasks;
  bool helps_split = false;
};

// The message for a worker (sweep_worker.h): a task, a pack, or a split of one task over `workers`.
std::string task_message(const std::vector<const PlannedTask*>& tasks, const std::vector<int>& workers, int tag) {
  if (workers.size() > 1) {
    json ranks = json::array();
    for (int worker : workers) ranks.push_back(worker + 1);  // worker w is MPI rank w + 1
    return json{{"split", {{"ranks", ranks}, {"tag", tag}}}, {"task", tasks.front()->spec.to_json()}}.dump();
  }
  if (tasks.size() == 1) return tasks.front()->spec.to_json().dump();
  json pack = json::array();
  for (const PlannedTask* task : tasks) pack.push_back(task->spec.to_json());
  return json{{"pack", pack}}.dump();
}

}  // namespace

double SweepRunSummary::efficiency() const {
  return task_seconds > 0 && workers > 0 ? makespan_s / (task_seconds / workers) : 0.0;
}

SweepRunSummary run_sweep(const sweeps::Sweep& sweep, const SweepRunOptions& options, TaskRunner& runner,
                          CoordinatorLink& link) {
  const auto start = Clock::now();
  SweepRunSummary summary;
  make_directories(options.out_dir);
  storage::JournalWriter journal(options.out_dir + "/journal.jsonl");
  remove_stale_temporaries_in(options.out_dir);
  for (const auto& warning : journal.recovered().warnings) log_warning(warning);
  write_file_atomic(options.out_dir + "/sweep.yaml", sweep_file_header(sweep) + sweep.resolved_yaml);

  // The tasks, their ids (with the inputs' digests) and estimated work.
  const text::Tokenizer tokenizer = text::Tokenizer::from_vocab_file(sweep.vocab);
  const std::vector<sweeps::DatasetFacts> facts = read_dataset_facts(runner.store(), tokenizer);
  std::map<std::string, const sweeps::DatasetFacts*> facts_of;
  for (const auto& f : facts) facts_of[f.name] = &f;
  std::map<std::string, bool> finished;
  for (const auto& record : journal.recovered().records) {
    if (is_finished(record)) finished[record.value("task_id", "")] = true;
  }
  std::vector<PlannedTask> tasks;
  for (const sweeps::TaskSpec& expanded : sweeps::expand_sweep(sweep, facts)) {
    PlannedTask task;
    task.spec = runner.prepare(expanded);
    task.id = task.spec.id();
    if (options.parts > 1 && sweeps::task_part(task.id, options.parts) != options.part) continue;
    ++summary.tasks;
    if (finished.count(task.id)) {
      ++summary.reused;
      continue;
    }
    task.flops = sweeps::estimated_flops(task.spec, *facts_of.at(task.spec.dataset));
    tasks.push_back(std::move(task));
  }
  std::vector<SchedulerTask> costs;
  for (const auto& task : tasks) {
    const sweeps::TrainingStep step = sweeps::estimated_step(task.spec, *facts_of.at(task.spec.dataset));
    costs.push_back({task.spec.dataset, task.flops, runner.pack_key(task.spec), runner.can_split(task.spec),
                     step.classes, step.memory_bytes});
  }
  Scheduler scheduler(costs, link.workers(), scale_options(sweep.scale));
  sweeps::CostCalibration calibration;

  if (options.parts > 1) {
    log_info("part " + std::to_string(options.part + 1) + " of " + std::to_string(options.parts) + ": " +
             std::to_string(summary.tasks) + " tasks of the sweep");
  }
  Progress progress(options.out_dir, summary.tasks, summary.reused, link.workers());
  if (summary.reused > 0) {
    log_info(std::to_string(summary.reused) + " of " + std::to_string(summary.tasks) +
             " tasks finished before (journal); running the other " + std::to_string(tasks.size()));
  }
  std::vector<bool> idle(static_cast<size_t>(link.workers()), false);
  std::vector<std::string> gpu_keys(static_cast<size_t>(link.workers()));  // of the workers that said ready
  std::map<int, WorkerJob> running_on;
  int splits = 0;  // tags of the split groups
  // The first tasks wait until every worker is ready (or kGatherSeconds passed): the most expensive
  // tasks come first, and those are the ones a split across idle workers speeds up.
  int ready = 0;
  std::optional<Clock::time_point> first_ready;
  auto gathering = [&] {
    return ready < link.workers() && (!first_ready || seconds_between(*first_ready, Clock::now()) < kGatherSeconds);
  };
  bool stopping = false;
  // Stopping on a signal: every running trained task saves a checkpoint and stops at its next step.
  auto interrupt_running = [&] {
    for (const auto& entry : running_on) link.send_interrupt(entry.first);
  };
  double flops_left = 0;  // of the tasks not yet journaled
  for (const auto& task : tasks) flops_left += task.flops;
  // Unknown (-1) until a task has finished: the cost model's FLOPs are only proportional to time.
  auto remaining_seconds = [&] {
    return calibration.samples() == 0 ? -1.0 : calibration.seconds(flops_left) / std::max(1, link.workers());
  };

  summary.workers = link.workers();
  std::optional<Clock::time_point> first_dispatch, last_result;
  double waiting_s = 0;  // in receive, or running a task in this process (send_task)
  const auto loop_start = Clock::now();
  while (true) {
    if (stop_signal() != 0 && summary.stop_signal == 0) {
      stopping = true;
      summary.stop_signal = stop_signal();
      // A trained task stops at its next step and saves a checkpoint; the others finish (they are short).
      log_warning("stopping: no new tasks; the " + std::to_string(running_on.size()) +
                  " running ones save a checkpoint and stop (Ctrl-C again to stop at once)");
      interrupt_running();
    }
    // Hand out work to idle workers.
    for (int worker = 0; !stopping && !gathering() && worker < link.workers(); ++worker) {
      if (!idle[static_cast<size_t>(worker)]) continue;
      const std::optional<Assignment> next = scheduler.assign(worker, split_partners(worker, idle, gpu_keys));
      if (!next) continue;
      std::vector<const PlannedTask*> given;
      for (size_t index : next->tasks) {
        ++tasks[index].attempts;
        given.push_back(&tasks[index]);
      }
      // A tag per group being created; MPI guarantees tags up to 32767.
      if (next->workers.size() > 1) splits = splits % 32767 + 1;
      const std::string message = task_message(given, next->workers, splits);
      const auto send_start = Clock::now();
      if (!first_dispatch) first_dispatch = send_start;
      for (size_t k = 0; k < next->workers.size(); ++k) {
        const int to = next->workers[k];
        idle[static_cast<size_t>(to)] = false;
        WorkerJob& job = running_on[to];
        job.helps_split = k > 0;
        if (k == 0) job.tasks.assign(next->tasks.begin(), next->tasks.end());
        for (size_t i = 0; i < given.size(); ++i) {
          std::string note;
          if (next->workers.size() > 1) note = "split over " + std::to_string(next->workers.size()) + " ranks";
          if (given.size() > 1) note = "packed " + std::to_string(i + 1) + " of " + std::to_string(given.size());
          progress.started(to, given[i]->id, given[i]->spec, note);
        }
        link.send_task(to, message);
      }
      waiting_s += seconds_between(send_start, Clock::now());
      summary.dispatched += given.size();
    }
    if (running_on.empty() && (stopping || scheduler.pending() == 0)) break;

    const auto receive_start = Clock::now();
    const std::optional<WorkerMessage> message = link.receive(500);
    waiting_s += seconds_between(receive_start, Clock::now());
    if (message && message->kind == WorkerMessage::Kind::ready) {
      idle[static_cast<size_t>(message->worker)] = true;
      ++ready;
      if (!first_ready) first_ready = Clock::now();
      const json about = json::parse(message->payload, nullptr, false);
      gpu_keys[static_cast<size_t>(message->worker)] = gpu_key(about);
      progress.joined(message->worker, about.is_object() ? about : json::object());
    }
    if (message && message->kind == WorkerMessage::Kind::result) {
      const int worker = message->worker;
      const auto at = running_on.find(worker);
      if (at == running_on.end()) throw Error("worker " + std::to_string(worker) + " sent a result it was not asked for",
                                              ErrorKind::internal);
      json record = json::parse(message->payload, nullptr, false);
      if (record.is_object() && record.contains("timings") && record["timings"].is_object()) {
        summary.task_seconds += record["timings"].value("worker_s", 0.0);
      }
      if (at->second.helps_split) {  // the split's leader sends the task's record
        running_on.erase(at);
        idle[static_cast<size_t>(worker)] = true;
        progress.released(worker);
        continue;
      }
      const size_t index = at->second.tasks.front();
      at->second.tasks.pop_front();
      if (at->second.tasks.empty()) {  // otherwise the rest of a pack is still to come
        running_on.erase(at);
        idle[static_cast<size_t>(worker)] = true;
      }
      last_result = Clock::now();
      PlannedTask& task = tasks[index];
      if (!record.is_object()) {
        record = {{"task_id", task.id}, {"spec", task.spec.to_json()}, {"status", "failed"},
                  {"error", "the worker's result was not JSON"}, {"error_kind", "internal"}};
      }
      record["task_id"] = task.id;  // the coordinator's id is the one the journal knows
      if (record.value("status", "") == "interrupted") {
        // Stopped on request with its checkpoint saved: not a result, the next run resumes it. A worker
        // stops on its own when the signal reached it first: then the whole sweep stops.
        ++summary.interrupted;
        if (summary.stop_signal == 0) {
          stopping = true;
          // This process has the signal too, unless only the worker got one.
          summary.stop_signal = stop_signal() != 0 ? stop_signal() : SIGTERM;
          log_warning("stopping: a worker's task was stopped by a signal; no new tasks, the other running ones "
                      "save a checkpoint and stop");
          interrupt_running();
        }
        progress.finished(worker, record, /*final=*/false, remaining_seconds());
        continue;
      }
      record["attempt"] = task.attempts;
      record["cost"] = {{"flops", task.flops}};
      const bool ok = record.value("status", "") == "ok";
      // Only the machine's failures may pass on another try; a bad input or a bug fails the same way.
      const bool may_pass_again = !ok && record.value("error_kind", "") == "retryable";
      if (may_pass_again && task.attempts <= options.retries && !stopping) {
        log_warning("task " + task.id + " failed (" + record.value("error", "") + "); retrying, attempt " +
                    std::to_string(task.attempts + 1) + " of " + std::to_string(options.retries + 1));
        scheduler.retry(index, worker);
        progress.finished(worker, record, /*final=*/false, remaining_seconds());
        continue;
      }
      journal.append(record);
      remove_file_quietly(options.out_dir + "/checkpoints/" + task.id + ".h5");  // the journal has it now
      scheduler.finished(index);
      flops_left -= task.flops;
      if (ok) {
        ++summary.ok;
        calibration.add(task.flops, record["timings"].value("total_s", 0.0));
      } else {
        ++summary.failed;
        if (options.max_failures > 0 && static_cast<int>(summary.failed) >= options.max_failures && !stopping) {
          stopping = true;
          summary.stopped_for_failures = true;
          log_warning(std::to_string(summary.failed) + " tasks failed (--max-failures " +
                      std::to_string(options.max_failures) + "); stopping after the running ones");
        }
      }
      progress.finished(worker, record, /*final=*/true, remaining_seconds());
    }
    progress.tick(remaining_seconds());
  }
  for (int worker = 0; worker < link.workers(); ++worker) link.send_stop(worker);
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  summary.coordinator_s = seconds_between(loop_start, Clock::now()) - waiting_s;
  if (first_dispatch && last_result) {
    summary.makespan_s = seconds_between(*first_dispatch, *last_result);
    summary.worker_idle_s = std::max(0.0, summary.makespan_s * summary.workers - summary.task_seconds);
  }
  // One line per run of the command, so a resumed run does not hide the numbers of the one before.
  const json stats = {{"finished_at", utc_now_iso8601()},
                          {"tasks", summary.tasks},
                          {"finished_before", summary.reused},
                          {"dispatched", summary.dispatched},
                          {"workers", summary.workers},
                          {"wall_s", summary.seconds},
                          {"makespan_s", summary.makespan_s},
                          {"task_s", summary.task_seconds},
                          {"efficiency", summary.efficiency()},
                          {"coordinator_s", summary.coordinator_s},
                          {"coordinator_ms_per_task",
                           summary.dispatched > 0 ? 1000 * summary.coordinator_s / summary.dispatched : 0.0},
                          {"worker_idle_s", summary.worker_idle_s}};
  const std::string stats_path = options.out_dir + "/runs.jsonl";
  const std::string earlier = file_exists(stats_path) ? read_file(stats_path, kMaxJsonFileBytes, "a sweep's run log") : "";
  write_file_atomic(stats_path, earlier + stats.dump() + "\n");
  progress.done(summary.stop_signal != 0 || summary.stopped_for_failures ? "stopped" : "finished");
  summary.tables = results::write_sweep_tables(options.out_dir);
  return summary;
}

}  // namespace pg::orchestrator
