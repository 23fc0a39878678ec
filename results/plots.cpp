#include "results/plots.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "results/tables.h"
#include "sweeps/catalog.h"

extern char** environ;

namespace pg::results {
namespace {

using nlohmann::json;

struct Point {
  double mean = 0, std = 0;
};

// A string literal for gnuplot (single quotes; a quote is doubled).
std::string gnuplot_string(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", value);
  return text;
}

}  // namespace

std::string fewshot_plot_script(const std::vector<json>& records, const std::string& png_path,
                                const std::string& svg_path) {
  // dataset -> method label -> shots -> accuracies over seeds; zero-shot separately.
  std::map<std::string, std::map<std::string, std::map<int, std::vector<double>>>> curves;
  std::map<std::string, std::vector<double>> zeroshot;
  std::set<std::string> labels;
  for (const json& record : records) {
    if (record.value("status", "") != "ok" || !record.contains("spec")) continue;
    const json& spec = record["spec"];
    if (spec.value("protocol", "") != "fewshot") continue;
    const json metrics = record.value("metrics", json::object());
    if (!metrics.is_object() || !metrics.contains("accuracy") || !metrics["accuracy"].is_number()) continue;
    const double accuracy = metrics["accuracy"].get<double>();
    const std::string dataset = spec.value("dataset", "");
    if (spec.value("method", "") == "zeroshot") {
      zeroshot[dataset].push_back(accuracy);
    } else {
      const std::string label = method_label(spec);
      curves[dataset][label][spec.value("shots", 0)].push_back(accuracy);
      labels.insert(label);
    }
  }
  if (curves.empty()) return "";

  // Panels: datasets in the papers' order, then the average over the datasets that have every point.
  std::vector<std::string> panels;
  for (const auto& info : sweeps::benchmark_datasets()) {
    if (curves.count(info.name)) panels.push_back(info.name);
  }
  for (const auto& [dataset, unused] : curves) {
    if (std::find(panels.begin(), panels.end(), dataset) == panels.end()) panels.push_back(dataset);
  }
  std::map<std::string, std::map<int, Point>> points;  // "<panel>\t<label>" -> shots -> point
  std::map<std::string, Point> zeroshot_points;
  std::set<int> all_shots;
  for (const auto& dataset : panels) {
    for (const auto& [label, by_shots] : curves[dataset]) {
      for (const auto& [shots, values] : by_shots) {
        const MeanStd stats = mean_std(values);
        points[dataset + "\t" + label][shots] = {stats.mean, stats.std};
        all_shots.insert(shots);
      }
    }
    if (zeroshot.count(dataset)) zeroshot_points[dataset] = {mean_std(zeroshot[dataset]).mean, 0};
  }
  if (panels.size() > 1) {
    for (const auto& label : labels) {
      for (int shots : all_shots) {
        std::vector<double> means, stds;
        for (const auto& dataset : panels) {
          const auto curve = points.find(dataset + "\t" + label);
          if (curve == points.end() || !curve->second.count(shots)) break;
          means.push_back(curve->second[shots].mean);
          stds.push_back(curve->second[shots].std);
        }
        if (means.size() == panels.size()) points["average\t" + label][shots] = {mean_std(means).mean, mean_std(stds).mean};
      }
    }
    std::vector<double> zs;
    for (const auto& dataset : panels) {
      if (zeroshot_points.count(dataset)) zs.push_back(zeroshot_points[dataset].mean);
    }
    if (zs.size() == panels.size()) zeroshot_points["average"] = {mean_std(zs).mean, 0};
    panels.push_back("average");
  }

  std::string data;
  std::string plots;
  const std::vector<std::string> label_list(labels.begin(), labels.end());
  // Each line is named once, in the first panel that has it.
  std::set<size_t> named;
  bool zeroshot_named = false;
  for (size_t p = 0; p < panels.size(); ++p) {
    std::string commands;
    for (size_t m = 0; m < label_list.size(); ++m) {
      const auto curve = points.find(panels[p] + "\t" + label_list[m]);
      if (curve == points.end()) continue;
      const std::string block = "$p" + std::to_string(p) + "m" + std::to_string(m);
      data += block + " << EOD\n";
      for (const auto& [shots, point] : curve->second) {
        data += std::to_string(shots) + " " + number(point.mean) + " " + number(point.mean - point.std) + " " +
                number(point.mean + point.std) + "\n";
      }
      data += "EOD\n";
      const std::string color = " lc " + std::to_string(m + 1);
      commands += (commands.empty() ? "" : ", ") + block + " using 1:3:4 with filledcurves fs transparent solid 0.2" +
                  color + " notitle, " + block + " using 1:2 with linespoints pt 7 ps 0.6" + color +
                  (named.insert(m).second ? " title " + gnuplot_string(label_list[m]) : std::string(" notitle"));
    }
    const auto zs = zeroshot_points.find(panels[p]);
    if (zs != zeroshot_points.end()) {
      const std::string block = "$z" + std::to_string(p);
      data += block + " << EOD\n0.5 " + number(zs->second.mean) + "\nEOD\n";
      commands += (commands.empty() ? "" : ", ") + block + " using 1:2 with points pt 3 ps 1.6 lc rgb 'black'" +
                  (!zeroshot_named ? " title 'Zero-shot CLIP'" : std::string(" notitle"));
      zeroshot_named = true;
    }
    plots += "set title " + gnuplot_string(panels[p]) + "\nplot " + commands + "\n";
  }

  const size_t columns = panels.size() <= 3 ? panels.size() : 4;
  const size_t rows = (panels.size() + columns - 1) / columns;
  std::string xtics = "\"0\" 0.5";
  for (int shots : all_shots) xtics += ", \"" + std::to_string(shots) + "\" " + std::to_string(shots);
  const std::string body = "set multiplot layout " + std::to_string(rows) + "," + std::to_string(columns) +
                           " title 'Few-shot accuracy (%) on the test split; bands: ± std over seeds'\n"
                           "set logscale x 2\nset xrange [0.35:" + std::to_string(2 * *all_shots.rbegin()) + "]\n"
                           "set xtics (" + xtics + ")\nset xlabel 'shots per class'\nset ylabel 'accuracy (%)'\n"
                           "set grid\nset key top left font ',8'\n" + plots + "unset multiplot\n";
  const std::string size = std::to_string(360 * columns) + "," + std::to_string(300 * rows);
  return "# promptgrid: few-shot curves (run with gnuplot)\n" + data + "set terminal pngcairo noenhanced size " + size +
         " font ',9'\nset output " + gnuplot_string(png_path) + "\n" + body + "set terminal svg noenhanced size " + size +
         " dynamic font 'sans,9'\nset output " + gnuplot_string(svg_path) + "\n" + body + "unset output\n";
}

std::vector<std::string> write_fewshot_plots(const std::vector<json>& records, const std::string& folder) {
  const std::string png = folder + "/fewshot.png", svg = folder + "/fewshot.svg", script_path = folder + "/fewshot.gp";
  make_directories(folder);
  const std::string png_tmp = temporary_path_for(png), svg_tmp = temporary_path_for(svg);
  const std::string script = fewshot_plot_script(records, png_tmp, svg_tmp);
  if (script.empty()) return {};
  write_file_atomic(script_path, fewshot_plot_script(records, png, svg));  // the one a user re-runs

  const std::string script_tmp = temporary_path_for(script_path);
  write_file_atomic(script_tmp, script);
  const std::string errors = script_tmp + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  char* argv[] = {const_cast<char*>("gnuplot"), const_cast<char*>(script_tmp.c_str()), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (spawned == 0) waitpid(pid, &status, 0);
  const std::string messages = file_exists(errors) ? read_file(errors, 1 << 20, "gnuplot's messages") : "";
  remove_file_quietly(script_tmp);
  remove_file_quietly(errors);
  if (spawned != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !file_exists(png_tmp) || !file_exists(svg_tmp)) {
    remove_file_quietly(png_tmp);
    remove_file_quietly(svg_tmp);
    log_warning(spawned != 0 ? "plots skipped: gnuplot is not installed (apt install gnuplot-nox); the script is " +
                                   script_path
                             : "plots skipped: gnuplot failed on " + script_path + ": " + messages);
    return {};
  }
  publish_file(png_tmp, png);
  publish_file(svg_tmp, svg);
  return {png, svg};
}

}  // namespace pg::results
