#include "orchestrator/sweep_worker.h"

#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/system_info.h"
#include "orchestrator/error_text.h"
#include "orchestrator/mpi_link.h"
#include "storage/prompt_store.h"
#include "worker/collectives/collectives_for.h"
#include "worker/collectives/mpi_collectives.h"

namespace pg::orchestrator {

using nlohmann::json;

SweepWorker::SweepWorker(TaskRunner& runner, std::string out_dir, int rank)
    : runner_(runner), out_dir_(std::move(out_dir)), rank_(rank) {
  make_directories(out_dir_ + "/prompts");
  make_directories(out_dir_ + "/logs");
  make_directories(out_dir_ + "/checkpoints");
  // Files of killed processes, written under temporary names, never published: remove them.
  for (const char* folder : {"/prompts", "/logs", "/checkpoints"}) remove_stale_temporaries_in(out_dir_ + folder);
}

namespace {

// A task that failed before it was prepared: its id is the coordinator's (the id of the spec it sent),
// so that its log has a name of its own; "unknown" only for a spec that is not one.
json failed_record(const json& spec, const std::exception& e) {
  std::string id = "unknown";
  try {
    id = sweeps::TaskSpec::from_json(spec).id();
  } catch (const std::exception&) {
  }
  return {{"task_id", id}, {"spec", spec}, {"status", "failed"}, {"error", error_text(e)},
          {"error_kind", to_string(error_kind(e))}};
}

// The ranks of a split, when its training ends (before the leader evaluates): every member calls
// this, so a member that failed alone (the others wait in a collective for it) cannot hang the sweep:
// when the others do not arrive within kSplitAgreementSeconds, the whole MPI job ends with a message.
// The journal keeps every finished task; the same command resumes the rest.
constexpr double kSplitAgreementSeconds = 600;

void agree_after_split(MPI_Comm group, const std::string& id) {
  int mine = 1, all = 0;
  MPI_Request request = MPI_REQUEST_NULL;
  MPI_Iallreduce(&mine, &all, 1, MPI_INT, MPI_SUM, group, &request);
  const auto start = std::chrono::steady_clock::now();
  int done = 0;
  while (true) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > kSplitAgreementSeconds) {
      std::cerr << "promptgrid: " << ("task " + id + " was split across ranks and another rank of its group did not finish it within " +
                std::to_string(static_cast<int>(kSplitAgreementSeconds)) +
                " s (it failed alone or died): ending the job; finished tasks are in the journal, run the same "
                "command again to resume") << std::endl;
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

std::vector<TaskResult> SweepWorker::run_tasks(const json& message, bool& split_member) {
  std::vector<TaskResult> results;
  if (message.is_object() && message.contains("pack")) {
    // Each task is prepared on its own (a spec that does not fit fails alone); the rest train together.
    const json& specs = message["pack"];
    results.resize(specs.size());
    std::vector<sweeps::TaskSpec> prepared;
    std::vector<size_t> position;
    for (size_t i = 0; i < specs.size(); ++i) {
      try {
        prepared.push_back(runner_.prepare(sweeps::TaskSpec::from_json(specs[i])));
        position.push_back(i);
      } catch (const std::exception& e) {
        results[i].record = failed_record(specs[i], e);
        log_warning("a packed task failed before it ran: " + error_text(e));
      }
    }
    std::vector<TaskResult> trained = runner_.run_pack(prepared);  // none when every task failed here
    for (size_t k = 0; k < trained.size(); ++k) results[position[k]] = std::move(trained[k]);
    return results;
  }
  if (message.is_object() && message.contains("split")) {
    results.resize(1);
    try {
      results[0] = run_split(message, split_member);
    } catch (const std::exception& e) {  // the group could not form (MPI, NCCL)
      results[0].record = failed_record(message.value("task", json()), e);
      log_warning("a split task failed before it ran: " + error_text(e));
    }
    return results;
  }
  results.resize(1);
  try {
    if (message.is_discarded()) throw Error("the coordinator sent a task that is not JSON", ErrorKind::internal);
    const sweeps::TaskSpec spec = runner_.prepare(sweeps::TaskSpec::from_json(message));
    log_debug("rank " + std::to_string(rank_) + ": task " + spec.id() + " " + spec.to_json().dump());
    results[0] = runner_.run(spec);
  } catch (const std::exception& e) {
    // The spec does not fit this worker's inputs (another features file at the same path?).
    results[0].record = failed_record(message, e);
    log_warning("a task failed before it ran: " + error_text(e));
  }
  return results;
}

TaskResult SweepWorker::run_split(const json& message, bool& split_member) {
  // Ranks are world ranks; each member builds the group, then checks the task (its files may differ).
  const std::vector<int> ranks = message["split"].at("ranks").get<std::vector<int>>();
  // Freed however this ends (a failed NCCL set-up throws), after the collectives that use it.
  struct OwnedCommunicator {
    MPI_Comm comm;
    ~OwnedCommunicator() { MPI_Comm_free(&comm); }
  } const owned{worker::create_group(MPI_COMM_WORLD, ranks, message["split"].at("tag").get<int>())};
  MPI_Comm communicator = owned.comm;
  const torch::Device device(runner_.device());
  const std::unique_ptr<worker::Collectives> group = worker::collectives_for(communicator, device);
  split_member = group->rank() != 0;
  std::string error;
  sweeps::TaskSpec spec;
  try {
    spec = runner_.prepare(sweeps::TaskSpec::from_json(message.at("task")));
  } catch (const std::exception& e) {
    error = error_text(e);
  }
  // Every member must take the same road: when any could not prepare the task, none trains it.
  torch::Tensor failures = torch::full({1}, error.empty() ? 0.0f : 1.0f).to(device);
  group->all_reduce_sum(failures);
  TaskResult result;
  if (failures.item<float>() > 0) {
    const bool here = !error.empty();
    result.record = failed_record(message.at("task"),
                                  Error(here ? error : "another rank of its group could not prepare the task",
                                        here ? ErrorKind::user : ErrorKind::retryable));
  } else {
    bool agreed = false;
    const std::string id = spec.id();
    result = runner_.run_sharded(spec, *group, [&] {
      agree_after_split(communicator, id);
      agreed = true;
    });
    // A member that failed before training (alone, or the others would be here too) must not leave
    // the others waiting in a collective.
    if (!agreed) agree_after_split(communicator, id);
  }
  return result;
}

std::vector<std::string> SweepWorker::run(const std::string& payload) {
  const auto start = std::chrono::steady_clock::now();
  std::string log_lines;
  std::vector<TaskResult> results;
  bool split_member = false;
  {
    ScopedLogCapture capture(log_lines);
    results = run_tasks(json::parse(payload, nullptr, false), split_member);
    for (TaskResult& result : results) {
      json& record = result.record;
      if (record.value("status", "") == "ok" && !result.prompts.empty() && !split_member) {
        const std::string file = "prompts/" + record["task_id"].get<std::string>() + ".prompts.h5";
        try {
          storage::write_prompt_file(out_dir_ + "/" + file, record["spec"].dump(), result.prompts);
          record["prompt_file"] = file;
        } catch (const Error& e) {
          record["status"] = "failed";
          record["error"] = std::string("saving the learned prompt failed: ") + e.what();
          record["error_kind"] = to_string(e.kind());
        }
      }
      record["rank"] = rank_;
      if (record.value("status", "") == "ok") {
        log_debug("task " + record["task_id"].get<std::string>() + " finished: " + record["metrics"].dump());
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::string> records;
  for (TaskResult& result : results) {
    json& record = result.record;
    // A pack's tasks share one log; a split's helpers keep theirs beside the leader's.
    const std::string id = record.value("task_id", "unknown");
    const std::string log_file = out_dir_ + "/logs/" + id + (split_member ? ".rank" + std::to_string(rank_) : "") + ".log";
    try {
      write_file_atomic(log_file, log_lines);
    } catch (const Error& e) {
      log_warning(std::string("cannot write the task's log: ") + e.what());
    }
    if (split_member) record["split_member"] = true;
    // The worker's time, split evenly over what it ran at once.
    record["timings"]["worker_s"] = seconds / static_cast<double>(results.size());
    records.push_back(record.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  return records;
}

std::string SweepWorker::about() const {
  json about = {{"pid", ::getpid()}, {"host", host_name()}, {"device", runner_.device_description()}};
  // The GPUs this process may see (Slurm's gres sets them; device.h's bind_to_one_gpu narrows them).
  if (const char* gpus = std::getenv("CUDA_VISIBLE_DEVICES")) about["gpus"] = gpus;
  return about.dump();
}

void run_mpi_worker(SweepWorker& worker) {
  send_ready_to_coordinator(worker.about());
  while (const std::optional<std::string> task = receive_task_from_coordinator()) {
    for (const std::string& record : worker.run(*task)) send_result_to_coordinator(record);
  }
}

}  // namespace pg::orchestrator
