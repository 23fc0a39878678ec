// The results of a sweep's output folder, from its journal (the only source of truth):
//   DIR/tables/{fewshot,base2novel,sweep}.{md,csv,tex}  (a table without rows has no files)
//   DIR/tables/failures.md                               what the tables leave out, and why
//   DIR/plots/fewshot.{png,svg,gp}                       few-shot curves (gnuplot)
// Cells are flagged against the seeds DIR/sweep.yaml asks for. Written atomically; returns the
// Markdown of the few-shot and base-to-novel tables and the plot paths, for printing.
// A sweep split into K jobs (`slurm submit --jobs K`) has one output folder per job,
// DIR/part-<i>-of-<K>, each with its journal: the tables of DIR are those of all of them together.
#pragma once

#include <string>
#include <vector>

namespace pg::results {

struct SweepTablesOptions {
  bool select_by_val = false;
};

// The folders holding the journals of the sweep in `out_dir`: itself and/or its part-<i>-of-<K>
// folders, in order; empty when there is no journal.
std::vector<std::string> sweep_journal_folders(const std::string& out_dir);

std::string write_sweep_tables(const std::string& out_dir, const SweepTablesOptions& options = {});

}  // namespace pg::results
