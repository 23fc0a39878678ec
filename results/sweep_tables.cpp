#include "results/sweep_tables.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "common/files.h"
#include "results/plots.h"
#include "results/tables.h"
#include "results/task_records.h"
#include "storage/journal.h"
#include "sweeps/sweep_file.h"

namespace pg::results {

std::vector<std::string> sweep_journal_folders(const std::string& out_dir) {
  std::vector<std::string> folders;
  if (file_exists(out_dir + "/journal.jsonl")) folders.push_back(out_dir);
  std::vector<std::pair<std::pair<int, int>, std::string>> parts;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(out_dir, error)) {
    const std::string name = entry.path().filename().string();
    int part = 0, of = 0, used = 0;
    if (std::sscanf(name.c_str(), "part-%d-of-%d%n", &part, &of, &used) == 2 && used == static_cast<int>(name.size()) &&
        file_exists(entry.path().string() + "/journal.jsonl")) {
      parts.push_back({{of, part}, entry.path().string()});
    }
  }
  std::sort(parts.begin(), parts.end());
  for (const auto& part : parts) folders.push_back(part.second);
  return folders;
}

std::string write_sweep_tables(const std::string& out_dir, const SweepTablesOptions& options) {
  std::vector<nlohmann::json> journal_records;
  const std::vector<std::string> journals = sweep_journal_folders(out_dir);
  for (const std::string& folder : journals) {
    storage::JournalContents journal = storage::read_journal(folder + "/journal.jsonl");
    for (auto& record : journal.records) journal_records.push_back(std::move(record));
  }
  const std::vector<nlohmann::json> records = latest_task_records(journal_records);
  const std::string folder = out_dir + "/tables";
  make_directories(folder);
  TableOptions table_options;
  // The parts of a split sweep each keep the resolved sweep file; they are the same.
  table_options.expected_seeds = sweeps::seeds_asked((journals.empty() ? out_dir : journals.front()) + "/sweep.yaml");
  table_options.select_by_val = options.select_by_val;
  std::string printed;
  for (const Table& table : {fewshot_table(records, table_options), base2novel_table(records, table_options),
                             transfer_table(records, "cross_dataset", table_options),
                             transfer_table(records, "domain_generalization", table_options),
                             sweep_table(records, table_options)}) {
    for (const char* extension : {".md", ".csv", ".tex"}) {
      const std::string path = folder + "/" + table.name + extension;
      if (table.rows.empty()) {
        remove_file_quietly(path);  // a table of an earlier run of this folder that no longer applies
        continue;
      }
      const std::string text = extension == std::string(".md")    ? render_markdown(table)
                               : extension == std::string(".csv") ? render_csv(table)
                                                                  : render_latex(table);
      write_file_atomic(path, text);
    }
    if (!table.rows.empty() && table.name != "sweep") printed += (printed.empty() ? "" : "\n") + render_markdown(table);
  }
  const std::string failures = failures_markdown(records);
  if (failures.empty()) {
    remove_file_quietly(folder + "/failures.md");
  } else {
    write_file_atomic(folder + "/failures.md", failures);
    printed += "\nLeft out of the tables:\n" + failures;
  }
  const std::vector<std::string> plots = write_fewshot_plots(records, out_dir + "/plots");
  if (!plots.empty()) printed += "\nplots: " + plots[0] + ", " + plots[1] + "\n";
  return printed;
}

}  // namespace pg::results
