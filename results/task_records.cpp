#include "results/task_records.h"

#include <map>
#include <string>

namespace pg::results {

std::vector<nlohmann::json> latest_task_records(const std::vector<nlohmann::json>& journal_records) {
  std::vector<nlohmann::json> tasks;
  std::map<std::string, size_t> index_of;
  for (const auto& record : journal_records) {
    const std::string id = record.value("task_id", "");
    const auto found = index_of.find(id);
    if (found == index_of.end()) {
      index_of[id] = tasks.size();
      tasks.push_back(record);
      continue;
    }
    nlohmann::json& kept = tasks[found->second];
    const bool ok = record.value("status", "") == "ok";
    if (ok || kept.value("status", "") != "ok") kept = record;
  }
  return tasks;
}

}  // namespace pg::results
