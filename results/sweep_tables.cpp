#include "results/sweep_tables.h"

#include "common/files.h"
#include "results/plots.h"
#include "results/tables.h"
#include "results/task_records.h"
#include "storage/journal.h"
#include "sweeps/sweep_file.h"

namespace pg::results {

std::string write_sweep_tables(const std::string& out_dir, const SweepTablesOptions& options) {
  const storage::JournalContents journal = storage::read_journal(out_dir + "/journal.jsonl");
  const std::vector<nlohmann::json> records = latest_task_records(journal.records);
  const std::string folder = out_dir + "/tables";
  make_directories(folder);
  TableOptions table_options;
  table_options.expected_seeds = sweeps::seeds_asked(out_dir + "/sweep.yaml");
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
