// A results table, independent of how it is printed, and its three renderings: Markdown (the
// terminal and READMEs), CSV (tidy: one line per cell, for pandas and spreadsheets) and LaTeX (booktabs,
// for papers). A value cell is a mean over seeds with its std and seed count; a cell is marked, never
// filled with a number, when it is missing or failed, and flagged (†) when it has fewer seeds than
// the sweep asked for.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pg::results {

struct TableCell {
  std::string text;            // a label, or the mark of a cell without a value ("–", "failed")
  std::optional<double> mean;  // a value cell
  std::optional<double> std;   // shown as "mean ± std" when there are 2 or more seeds
  int seeds = 0;
  bool short_of_seeds = false;  // fewer seeds than asked: marked †
  bool mixed_inputs = false;    // runs on different inputs (features or checkpoint) share the cell: ‡

  static TableCell label(std::string text) { return {std::move(text), std::nullopt, std::nullopt, 0, false, false}; }
  static TableCell missing() { return label("–"); }
};

struct Table {
  std::string name;     // file stem: "fewshot", "base2novel", "sweep"
  std::string caption;
  std::vector<std::string> header;
  std::vector<std::vector<TableCell>> rows;
  size_t key_columns = 1;          // the leading columns that name a row (dataset; protocol .. setting)
  size_t summary_rows = 0;         // the last rows are averages: a rule goes above them
  std::vector<std::string> notes;  // printed under the table
};

std::string render_markdown(const Table& table);
// Columns: the key columns (by their header names), then column, value, mean, std, seeds,
// short_of_seeds, mixed_inputs: one line per cell (RFC 4180 quoting).
std::string render_csv(const Table& table);
// A complete `table` environment (\usepackage{booktabs}); special characters are escaped.
std::string render_latex(const Table& table);

}  // namespace pg::results
