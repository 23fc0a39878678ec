// Result records as files, for `promptgrid train`: <out>/<task_id>.json beside the learned prompt
// <out>/<task_id>.prompts.h5. (A sweep keeps its records in its journal instead; see coordinator.h.)
//
// A finished ("ok") record is never replaced by a failed run; the prompt file is written just before
// its record, and removed again if the record cannot be written.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "orchestrator/task_runner.h"

namespace pg::orchestrator {

// The finished record of task `task_id` (canonical spec `spec`) in `out_dir`: a successful record of
// this very spec with every metric of its protocol. Anything else there (a failed run, a damaged or
// hand-edited file) is reported and gives nothing, so the task runs again.
std::optional<nlohmann::json> find_finished_record(const std::string& out_dir, const std::string& task_id,
                                                   const nlohmann::json& spec);

// Writes the result's prompt file and record (atomically) and returns the record as written
// (with "prompt_file"). A failed result beside a finished record is not written (a warning says so).
nlohmann::json save_result_files(const std::string& out_dir, TaskResult result);

}  // namespace pg::orchestrator
