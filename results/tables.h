// The tables researchers publish, from result records (the JSON a task writes; see
// orchestrator/task_runner.h): few-shot accuracy per dataset and shots, and base / novel / harmonic
// mean for the base-to-novel protocol. Cells are mean ± std over seeds (std with ddof 0, as CoOp's
// parse_test_res.py computes it); averages over datasets follow the papers: the average of B and N,
// and H of those averages.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pg::results {

struct MeanStd {
  double mean = 0;
  double std = 0;
  int count = 0;
};

MeanStd mean_std(const std::vector<double>& values);
double harmonic_mean(double base, double novel);

// The column label of a record's method and settings: "Zero-shot CLIP", "CoOp", or
// "CoOp (n_ctx=4, init "a photo of a", CSC, middle)" when settings differ from CoOp's defaults.
std::string method_label(const nlohmann::json& spec);

// Markdown tables over the successful records of each protocol; an empty string when there are none.
std::string fewshot_table_markdown(const std::vector<nlohmann::json>& records);
std::string base2novel_table_markdown(const std::vector<nlohmann::json>& records);

// One line per record the tables leave out: a failed task (id, dataset, reason), or a successful one
// whose record lacks a metric its table needs (never counted as 0).
std::string failures_markdown(const std::vector<nlohmann::json>& records);

}  // namespace pg::results
