#include "orchestrator/record_files.h"

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "sweeps/protocol.h"

namespace pg::orchestrator {

using nlohmann::json;

std::optional<json> find_finished_record(const std::string& out_dir, const std::string& task_id, const json& spec) {
  const std::string record_path = out_dir + "/" + task_id + ".json";
  if (!file_exists(record_path)) return std::nullopt;
  try {
    json record = read_json_file(record_path, "a promptgrid result record");
    if (!record.is_object() || record.value("status", "") != "ok") return std::nullopt;
    const std::vector<std::string> missing = sweeps::missing_metrics(record);
    const std::string problem = record.value("spec", json()) != spec ? "its spec is not the task's"
                                : !missing.empty()                  ? "it has no '" + missing.front() + "' metric"
                                                                    : "";
    if (problem.empty()) return record;
    log_warning(record_path + ": a finished record, but " + problem + "; the task runs again and replaces it");
  } catch (const Error& e) {
    log_warning(std::string(e.what()) + "; it will be replaced");
  }
  return std::nullopt;
}

json save_result_files(const std::string& out_dir, TaskResult result) {
  json& record = result.record;
  const std::string id = record.at("task_id").get<std::string>();
  const std::string record_path = out_dir + "/" + id + ".json";
  make_directories(out_dir);
  // Leftovers of killed runs writing here: records and prompt files are written under temporary names.
  remove_stale_temporaries_in(out_dir);
  if (record.value("status", "") != "ok") {
    if (find_finished_record(out_dir, id, record.at("spec"))) {
      log_warning("task " + id + ": keeping its finished record " + record_path + "; this failed rerun is not saved");
      return record;
    }
    write_json_file_atomic(record_path, record);
    return record;
  }
  std::string prompt_path;
  if (!result.prompts.empty()) {
    const std::string prompt_file = id + ".prompts.h5";
    prompt_path = out_dir + "/" + prompt_file;
    storage::write_prompt_file(prompt_path, record["spec"].dump(), result.prompts);
    record["prompt_file"] = prompt_file;
  }
  try {
    write_json_file_atomic(record_path, record);
  } catch (...) {
    if (!prompt_path.empty()) remove_file_quietly(prompt_path);  // no prompt file without its record
    throw;
  }
  return record;
}

}  // namespace pg::orchestrator
