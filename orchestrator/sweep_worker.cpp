#include "orchestrator/sweep_worker.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/system_info.h"
#include "orchestrator/error_text.h"
#include "orchestrator/mpi_link.h"
#include "storage/prompt_store.h"

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

std::string SweepWorker::run(const std::string& task) {
  const auto start = std::chrono::steady_clock::now();
  std::string log_lines;
  TaskResult result;
  std::string id = "unknown";
  {
    ScopedLogCapture capture(log_lines);
    json spec_json = json::parse(task, nullptr, false);
    try {
      if (spec_json.is_discarded()) throw Error("the coordinator sent a task that is not JSON", ErrorKind::internal);
      const sweeps::TaskSpec spec = runner_.prepare(sweeps::TaskSpec::from_json(spec_json));
      id = spec.id();
      log_debug("rank " + std::to_string(rank_) + ": task " + id + " " + spec.to_json().dump());
      result = runner_.run(spec);
    } catch (const std::exception& e) {
      // The spec does not fit this worker's inputs (another features file at the same path?).
      result.record = {{"task_id", id}, {"spec", spec_json}, {"status", "failed"}, {"error", error_text(e)},
                       {"error_kind", to_string(error_kind(e))}};
      log_warning("task " + id + " failed before it ran: " + error_text(e));
    }
    json& record = result.record;
    if (record.value("status", "") == "ok" && !result.prompts.empty()) {
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
  const std::string log_file = out_dir_ + "/logs/" + result.record.value("task_id", id) + ".log";
  try {
    write_file_atomic(log_file, log_lines);
  } catch (const Error& e) {
    log_warning(std::string("cannot write the task's log: ") + e.what());
  }
  result.record["timings"]["worker_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result.record.dump(-1, ' ', false, json::error_handler_t::replace);
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
    send_result_to_coordinator(worker.run(*task));
  }
}

}  // namespace pg::orchestrator
