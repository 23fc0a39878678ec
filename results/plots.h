// Few-shot curves as the CoOp paper draws them: accuracy against shots (log2 axis), one panel per
// dataset plus the average, one line per method with a ± std band over seeds, zero-shot CLIP as a
// marker at 0 shots. Drawn by gnuplot (Debian's gnuplot-nox) into DIR/plots/fewshot.{png,svg}; the
// gnuplot script stays beside them (fewshot.gp) to be edited and re-run.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pg::results {

// The gnuplot script for `records` writing `png_path` and `svg_path`; empty when there is nothing to
// draw (no successful few-shot record of a trained method).
std::string fewshot_plot_script(const std::vector<nlohmann::json>& records, const std::string& png_path,
                                const std::string& svg_path);

// Writes the script and runs gnuplot on it; returns the paths written, or an empty list with a warning
// logged when there is nothing to draw or gnuplot is not installed (plots are optional; tables are not).
std::vector<std::string> write_fewshot_plots(const std::vector<nlohmann::json>& records, const std::string& folder);

}  // namespace pg::results
