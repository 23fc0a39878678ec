// The results of a sweep's output folder, from its journal (the only source of truth):
//   DIR/tables/{fewshot,base2novel,sweep}.{md,csv,tex}  (a table without rows has no files)
//   DIR/tables/failures.md                               what the tables leave out, and why
//   DIR/plots/fewshot.{png,svg,gp}                       few-shot curves (gnuplot)
// Cells are flagged against the seeds DIR/sweep.yaml asks for. Written atomically; returns the
// Markdown of the few-shot and base-to-novel tables and the plot paths, for printing.
#pragma once

#include <string>

namespace pg::results {

struct SweepTablesOptions {
  bool select_by_val = false;
};

std::string write_sweep_tables(const std::string& out_dir, const SweepTablesOptions& options = {});

}  // namespace pg::results
