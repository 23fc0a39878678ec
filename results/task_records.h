// One record per task from a sweep's journal (storage/journal.h), which may hold several per task: a
// failed run and its successful rerun, or reruns after a changed sweep. A task's successful record
// wins over failed ones (a later failure never hides a result); among equals the latest wins.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

namespace pg::results {

// In the order each task first appears in the journal.
std::vector<nlohmann::json> latest_task_records(const std::vector<nlohmann::json>& journal_records);

}  // namespace pg::results
