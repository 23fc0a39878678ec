// The tables researchers publish, from result records (the JSON a task writes; see
// orchestrator/task_runner.h), as results/table.h tables:
//   fewshot     dataset × (method, shots): accuracy, mean ± std over seeds, and the average row;
//   base2novel  dataset × method: base, novel and H = 2·B·N/(B+N); the average row takes H of the
//               averaged B and N, as the papers do; a metric a method cannot have is "n/a";
//   cross_dataset, domain_generalization  method × (source, each target, average);
//   sweep       one row per (protocol, dataset, shots, setting): validation and test accuracy, so a
//               hyperparameter search can be read, and with select_by_val which setting was chosen.
// Cells are means over seeds with std ddof 0 (CoOp's parse_test_res.py). A cell with fewer seeds than
// the sweep asked for is flagged †; a cell whose every run failed says "failed"; a missing cell is
// "–". An average over datasets exists only where every dataset has the cell. A record without a
// metric its protocol requires (sweeps/protocol.h) is listed by failures_markdown, never counted as 0.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "results/table.h"

namespace pg::results {

struct MeanStd {
  double mean = 0;
  double std = 0;
  int count = 0;
};

MeanStd mean_std(const std::vector<double>& values);

// The column label of a record's method and settings: "Zero-shot CLIP", "CoOp", or
// "CoOp (n_ctx=4, init "a photo of a", CSC, middle)" when settings differ from CoOp's defaults.
std::string method_label(const nlohmann::json& spec);

struct TableOptions {
  // The seeds the sweep asked for per cell; 0: the most any cell has.
  int expected_seeds = 0;
  // Per protocol, dataset, shots and method, use only the setting with the best mean validation
  // accuracy (metrics.val_accuracy); the tables say which was chosen.
  bool select_by_val = false;
};

// Empty (no rows) when no record of the protocol succeeded.
Table fewshot_table(const std::vector<nlohmann::json>& records, const TableOptions& options = {});
Table base2novel_table(const std::vector<nlohmann::json>& records, const TableOptions& options = {});
Table sweep_table(const std::vector<nlohmann::json>& records, const TableOptions& options = {});
// cross_dataset or domain_generalization: one row per method (and shots), columns source, each target
// and the average over targets, as the CoOp/CoCoOp papers lay them out. A target a method cannot
// classify (the linear probe on other classes) is "n/a".
Table transfer_table(const std::vector<nlohmann::json>& records, const std::string& protocol,
                     const TableOptions& options = {});

// Markdown of the tables above with default options; an empty string when there are no rows.
std::string fewshot_table_markdown(const std::vector<nlohmann::json>& records);
std::string base2novel_table_markdown(const std::vector<nlohmann::json>& records);

// One line per record the tables leave out: a failed task (id, dataset, reason), or a successful one
// whose record lacks a metric its table needs (never counted as 0).
std::string failures_markdown(const std::vector<nlohmann::json>& records);

}  // namespace pg::results
