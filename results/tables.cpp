#include "results/tables.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "common/error.h"
#include "common/strings.h"
#include "sweeps/catalog.h"
#include "sweeps/method_settings.h"
#include "sweeps/protocol.h"

namespace pg::results {
namespace {

// The mark of a metric a method cannot have (the linear probe's novel accuracy): never a number.
constexpr const char* kNotApplicable = "n/a";

// Whether a method has shots and seeds (zero-shot CLIP has neither); unknown methods are taken as trained.
bool method_trains(const std::string& method) {
  for (const auto& info : sweeps::methods()) {
    if (info.name == method) return info.trains;
  }
  return true;
}

using nlohmann::json;

// Datasets in catalog order (the papers' order), then any others alphabetically.
std::vector<std::string> ordered_datasets(const std::set<std::string>& present) {
  std::vector<std::string> ordered;
  for (const auto& info : sweeps::benchmark_datasets()) {
    if (present.count(info.name)) ordered.push_back(info.name);
  }
  for (const auto& info : sweeps::domain_shift_datasets()) {
    if (present.count(info.name)) ordered.push_back(info.name);
  }
  for (const auto& name : present) {
    if (std::find(ordered.begin(), ordered.end(), name) == ordered.end()) ordered.push_back(name);
  }
  return ordered;
}

// A record's metric, or nothing when the record lacks it (hand-edited, or written by another
// version): such a record is listed by failures_markdown and left out, never counted as 0.
std::optional<double> metric(const json& record, const std::string& name) {
  const auto metrics = record.find("metrics");
  if (metrics == record.end() || !metrics->is_object()) return std::nullopt;
  const auto value = metrics->find(name);
  if (value == metrics->end() || !value->is_number()) return std::nullopt;
  return value->get<double>();
}

std::string protocol_of(const json& record) {
  const auto spec = record.find("spec");
  return spec != record.end() && spec->is_object() ? spec->value("protocol", "") : "";
}


}  // namespace

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd result;
  result.count = static_cast<int>(values.size());
  if (values.empty()) return result;
  double sum = 0;
  for (double v : values) sum += v;
  result.mean = sum / values.size();
  double squares = 0;
  for (double v : values) squares += (v - result.mean) * (v - result.mean);
  result.std = std::sqrt(squares / values.size());
  return result;
}

std::string method_label(const json& spec) {
  const std::string method = spec.value("method", "");
  const auto known = std::find_if(sweeps::methods().begin(), sweeps::methods().end(),
                                  [&](const sweeps::MethodInfo& m) { return m.name == method; });
  if (known == sweeps::methods().end()) return method;
  const json settings = spec.value(method, json::object());
  const int shots = spec.contains("shots") && spec["shots"].is_number_integer() ? spec["shots"].get<int>() : 0;
  std::vector<std::string> phrases;
  try {
    phrases = sweeps::non_default_settings(*known, settings, {spec.value("dataset", ""), shots, spec.value("protocol", "")});
  } catch (const std::exception&) {  // a record written by another version: label it by name only
  }
  std::string label = known->label;
  if (!phrases.empty()) label += " (" + join(phrases, ", ") + ")";
  return label;
}

namespace {

// A record reduced to what the tables need. Records lacking a metric of their protocol are not runs.
struct Run {
  std::string protocol, dataset, method, label;
  std::string inputs;  // the spec's input digests: runs of one cell should share them
  int shots = 0;  // 0 for zero-shot
  bool ok = false;
  std::map<std::string, double> metrics;       // every number of the record's "metrics"
  std::set<std::string> not_applicable;         // metrics the method cannot have (the probe's novel)
  std::vector<std::string> targets;             // transfer protocols: the datasets tested on
  std::optional<double> val;
};

std::vector<Run> runs_of(const std::vector<json>& records) {
  std::vector<Run> runs;
  for (const auto& record : records) {
    if (!record.is_object() || !record.contains("spec") || !record["spec"].is_object()) continue;
    const json& spec = record["spec"];
    Run run;
    run.protocol = protocol_of(record);
    run.dataset = spec.value("dataset", "");
    run.method = spec.value("method", "");
    run.label = method_label(spec);
    run.inputs = spec.value("inputs", json()).dump();
    run.shots = method_trains(run.method) ? spec.value("shots", 0) : 0;
    run.ok = record.value("status", "") == "ok";
    if (spec.contains("targets") && spec["targets"].is_array()) {
      for (const auto& target : spec["targets"]) {
        if (target.is_string()) run.targets.push_back(target.get<std::string>());
      }
    }
    if (run.ok) {
      if (!sweeps::missing_metrics(record).empty()) continue;  // listed by failures_markdown
      const json metrics = record.value("metrics", json::object());
      for (const auto& [name, value] : metrics.items()) {
        if (value.is_number()) run.metrics[name] = value.get<double>();
      }
      const json not_applicable = record.value("not_applicable", json::array());
      for (const auto& name : not_applicable) {
        if (name.is_string()) run.not_applicable.insert(name.get<std::string>());
      }
      run.val = metric(record, "val_accuracy");
    }
    runs.push_back(run);
  }
  return runs;
}

std::string method_display(const std::string& method) {
  for (const auto& info : sweeps::methods()) {
    if (info.name == method) return info.label;
  }
  return method;
}

std::string shots_text(int shots) { return std::to_string(shots) + (shots == 1 ? " shot" : " shots"); }

using SelectionKey = std::tuple<std::string, std::string, int, std::string>;  // protocol, dataset, shots, method

// Per (protocol, dataset, shots, method): the setting (label) with the best mean validation accuracy.
std::map<SelectionKey, std::string> best_on_val(const std::vector<Run>& runs) {
  std::map<SelectionKey, std::map<std::string, std::vector<double>>> vals;
  for (const Run& run : runs) {
    if (run.ok && run.val) vals[{run.protocol, run.dataset, run.shots, run.method}][run.label].push_back(*run.val);
  }
  std::map<SelectionKey, std::string> chosen;
  for (const auto& [key, settings] : vals) {
    double best = -1;
    for (const auto& [label, values] : settings) {
      const double mean = mean_std(values).mean;
      if (mean > best) best = mean, chosen[key] = label;
    }
  }
  return chosen;
}

// With selection: only the chosen setting's runs, under the method's name; `notes` says what was chosen.
std::vector<Run> apply_selection(std::vector<Run> runs, const TableOptions& options, const std::string& protocol,
                                 std::vector<std::string>& notes) {
  if (!options.select_by_val) return runs;
  const auto chosen = best_on_val(runs);
  std::vector<Run> kept;
  for (Run run : runs) {
    const auto found = chosen.find({run.protocol, run.dataset, run.shots, run.method});
    if (found == chosen.end()) {
      kept.push_back(run);  // nothing to choose by (zero-shot)
      continue;
    }
    if (run.label != found->second) continue;
    run.label = method_display(run.method) + " (best on val)";
    kept.push_back(run);
  }
  for (const auto& [key, label] : chosen) {
    if (std::get<0>(key) != protocol) continue;
    notes.push_back("best on val: " + std::get<1>(key) +
                    (std::get<2>(key) > 0 ? ", " + shots_text(std::get<2>(key)) : std::string()) + ": " + label);
  }
  return kept;
}

// The cell of a group of runs of one metric.
TableCell value_cell(const std::vector<const Run*>& group, const std::string& name, int expected_seeds,
                     bool with_std) {
  std::vector<double> values;
  std::set<std::string> inputs;
  bool failed = false, not_applicable = false;
  for (const Run* run : group) {
    if (!run->ok) {
      failed = true;
    } else if (run->metrics.count(name)) {
      values.push_back(run->metrics.at(name));
      inputs.insert(run->inputs);
    } else if (run->not_applicable.count(name)) {
      not_applicable = true;
    }
  }
  if (values.empty()) {
    return not_applicable ? TableCell::label(kNotApplicable) : failed ? TableCell::label("failed") : TableCell::missing();
  }
  const MeanStd stats = mean_std(values);
  TableCell cell;
  cell.mean = stats.mean;
  if (with_std) cell.std = stats.std;
  cell.seeds = stats.count;
  const bool trained = method_trains(group.front()->method);
  cell.short_of_seeds = trained && expected_seeds > 0 && stats.count < expected_seeds;
  cell.mixed_inputs = inputs.size() > 1;
  return cell;
}

// The seeds asked for, or else the most successful runs any cell (dataset, shots, setting) has.
int seeds_expected(const std::vector<Run>& runs, const TableOptions& options) {
  if (options.expected_seeds > 0) return options.expected_seeds;
  std::map<std::tuple<std::string, int, std::string>, int> per_cell;
  int most = 0;
  for (const Run& run : runs) {
    if (run.ok) most = std::max(most, ++per_cell[{run.dataset, run.shots, run.label}]);
  }
  return most;
}

// The notes that explain the marks a table uses.
void add_mark_notes(Table& table, int expected) {
  bool short_of_seeds = false, mixed = false;
  for (const auto& row : table.rows) {
    for (const auto& cell : row) {
      short_of_seeds = short_of_seeds || cell.short_of_seeds;
      mixed = mixed || cell.mixed_inputs;
    }
  }
  if (mixed) {
    table.notes.insert(table.notes.begin(), "‡ runs on different inputs (features or checkpoint) share this cell: the "
                                            "journal also holds results of earlier inputs; give new inputs a new --out");
  }
  if (short_of_seeds) {
    table.notes.insert(table.notes.begin(),
                       "† fewer than the " + std::to_string(expected) + " seeds asked for (failed or not run yet)");
  }
}

}  // namespace

Table fewshot_table(const std::vector<json>& records, const TableOptions& options) {
  Table table;
  table.name = "fewshot";
  table.caption = "Accuracy (%) on the test split, mean ± std over seeds";
  std::vector<Run> runs;
  for (const Run& run : runs_of(records)) {
    if (run.protocol == "fewshot") runs.push_back(run);
  }
  runs = apply_selection(std::move(runs), options, "fewshot", table.notes);
  // column "label|shots" -> dataset -> runs
  using Column = std::pair<std::string, int>;
  std::map<Column, std::map<std::string, std::vector<const Run*>>> cells;
  std::set<std::string> datasets;
  for (const Run& run : runs) {
    cells[{run.label, run.shots}][run.dataset].push_back(&run);
    datasets.insert(run.dataset);
  }
  if (cells.empty()) return table;
  std::vector<Column> columns;
  for (const auto& entry : cells) columns.push_back(entry.first);
  // Zero-shot first, then each method by shots.
  std::stable_sort(columns.begin(), columns.end(), [](const Column& a, const Column& b) {
    if ((a.second == 0) != (b.second == 0)) return a.second == 0;
    return a < b;
  });
  const int expected = seeds_expected(runs, options);

  table.header = {"dataset"};
  for (const auto& [label, shots] : columns) table.header.push_back(shots == 0 ? label : label + ", " + shots_text(shots));
  const auto order = ordered_datasets(datasets);
  std::map<Column, std::vector<const TableCell*>> column_cells;
  for (const auto& dataset : order) {
    std::vector<TableCell> row = {TableCell::label(dataset)};
    for (const auto& column : columns) {
      const auto found = cells[column].find(dataset);
      row.push_back(found == cells[column].end() ? TableCell::missing()
                                                 : value_cell(found->second, "accuracy", expected, true));
    }
    table.rows.push_back(row);
  }
  if (order.size() > 1) {
    std::vector<TableCell> average = {TableCell::label("average")};
    for (size_t c = 0; c < columns.size(); ++c) {
      std::vector<double> means;
      bool short_of_seeds = false, mixed = false;
      for (const auto& row : table.rows) {
        if (row[c + 1].mean) means.push_back(*row[c + 1].mean);
        short_of_seeds = short_of_seeds || row[c + 1].short_of_seeds;
        mixed = mixed || row[c + 1].mixed_inputs;
      }
      // An average over a subset of the datasets would not be comparable with the other columns.
      if (means.size() != order.size()) {
        average.push_back(TableCell::missing());
        continue;
      }
      TableCell cell;
      cell.mean = mean_std(means).mean;
      cell.seeds = 1;
      cell.short_of_seeds = short_of_seeds;
      cell.mixed_inputs = mixed;
      average.push_back(cell);
    }
    table.rows.push_back(average);
    table.summary_rows = 1;
  }
  add_mark_notes(table, expected);
  return table;
}

Table base2novel_table(const std::vector<json>& records, const TableOptions& options) {
  Table table;
  table.name = "base2novel";
  table.caption = "Base-to-novel accuracy (%), mean over seeds; H = 2·B·N/(B+N)";
  std::vector<Run> runs;
  for (const Run& run : runs_of(records)) {
    if (run.protocol == "base2novel") runs.push_back(run);
  }
  runs = apply_selection(std::move(runs), options, "base2novel", table.notes);
  std::map<std::string, std::map<std::string, std::vector<const Run*>>> cells;  // label -> dataset -> runs
  std::set<std::string> datasets;
  for (const Run& run : runs) {
    cells[run.label][run.dataset].push_back(&run);
    datasets.insert(run.dataset);
  }
  if (cells.empty()) return table;
  const int expected = seeds_expected(runs, options);
  // Zero-shot first (the baseline), then the methods by label.
  std::vector<std::string> labels;
  for (const auto& entry : cells) labels.push_back(entry.first);
  std::stable_partition(labels.begin(), labels.end(), [](const std::string& l) { return l == "Zero-shot CLIP"; });
  table.header = {"dataset"};
  for (const auto& label : labels) {
    for (const char* part : {"base", "novel", "H"}) table.header.push_back(label + " " + part);
  }
  auto harmonic_cell = [](const TableCell& base, const TableCell& novel) {
    if (novel.text == kNotApplicable) return TableCell::label(kNotApplicable);
    if (!base.mean || !novel.mean) return TableCell::missing();
    TableCell cell;
    cell.mean = sweeps::harmonic_mean(*base.mean, *novel.mean);
    cell.seeds = base.seeds;
    cell.short_of_seeds = base.short_of_seeds || novel.short_of_seeds;
    cell.mixed_inputs = base.mixed_inputs || novel.mixed_inputs;
    return cell;
  };
  const auto order = ordered_datasets(datasets);
  for (const auto& dataset : order) {
    std::vector<TableCell> row = {TableCell::label(dataset)};
    for (const auto& label : labels) {
      const auto& per_dataset = cells[label];
      const auto found = per_dataset.find(dataset);
      if (found == per_dataset.end()) {
        row.insert(row.end(), {TableCell::missing(), TableCell::missing(), TableCell::missing()});
        continue;
      }
      const TableCell base = value_cell(found->second, "base", expected, false);
      const TableCell novel = value_cell(found->second, "novel", expected, false);
      row.insert(row.end(), {base, novel, harmonic_cell(base, novel)});
    }
    table.rows.push_back(row);
  }
  if (order.size() > 1) {
    std::vector<TableCell> average = {TableCell::label("average")};
    for (size_t m = 0; m < labels.size(); ++m) {
      TableCell parts[2];
      for (int part = 0; part < 2; ++part) {
        std::vector<double> means;
        bool short_of_seeds = false, mixed = false;
        for (const auto& row : table.rows) {
          const TableCell& cell = row[1 + 3 * m + part];
          if (cell.mean) means.push_back(*cell.mean);
          short_of_seeds = short_of_seeds || cell.short_of_seeds;
          mixed = mixed || cell.mixed_inputs;
        }
        if (means.size() != order.size()) {
          const bool none_applies = std::all_of(table.rows.begin(), table.rows.end(), [&](const auto& row) {
            return row[1 + 3 * m + part].text == kNotApplicable;
          });
          parts[part] = none_applies ? TableCell::label(kNotApplicable) : TableCell::missing();
          continue;
        }
        parts[part].mean = mean_std(means).mean;
        parts[part].seeds = 1;
        parts[part].short_of_seeds = short_of_seeds;
        parts[part].mixed_inputs = mixed;
      }
      average.insert(average.end(), {parts[0], parts[1], harmonic_cell(parts[0], parts[1])});
    }
    table.rows.push_back(average);
    table.summary_rows = 1;
  }
  add_mark_notes(table, expected);
  return table;
}

Table sweep_table(const std::vector<json>& records, const TableOptions& options) {
  Table table;
  table.name = "sweep";
  table.caption = "Every setting: validation accuracy (few-shot validation sample) and test accuracy "
                  "(few-shot: accuracy; base-to-novel: H of the mean base and novel accuracies; cross-dataset and "
                  "domain generalization: the average over targets), mean over seeds";
  table.key_columns = 4;
  const std::vector<Run> runs = runs_of(records);
  const auto chosen = best_on_val(runs);
  // (protocol, dataset, shots, label) -> runs, datasets in catalog order.
  std::set<std::string> datasets;
  for (const Run& run : runs) datasets.insert(run.dataset);
  std::map<std::string, size_t> rank;
  const auto order = ordered_datasets(datasets);
  for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
  using Key = std::tuple<std::string, size_t, int, std::string>;
  std::map<Key, std::vector<const Run*>> groups;
  for (const Run& run : runs) groups[{run.protocol, rank[run.dataset], run.shots, run.label}].push_back(&run);
  if (groups.empty()) return table;
  table.header = {"protocol", "dataset", "shots", "setting", "seeds", "val", "test"};
  if (options.select_by_val) table.header.push_back("chosen");
  for (const auto& [key, group] : groups) {
    const Run& first = *group.front();
    std::vector<double> vals, accuracies, bases, novels;
    std::set<std::string> inputs;
    int failed = 0, finished = 0;
    bool not_applicable = false;
    for (const Run* run : group) {
      if (!run->ok) {
        ++failed;
        continue;
      }
      ++finished;
      inputs.insert(run->inputs);
      if (run->val) vals.push_back(*run->val);
      // The test column: few-shot accuracy, base-to-novel H, the transfer protocols' target average.
      if (first.protocol == "base2novel" && run->metrics.count("novel")) {
        bases.push_back(run->metrics.at("base"));
        novels.push_back(run->metrics.at("novel"));
      } else if (first.protocol == "base2novel" || sweeps::is_transfer_protocol(first.protocol)) {
        const char* headline = first.protocol == "base2novel" ? "harmonic" : "average";
        if (run->metrics.count(headline)) accuracies.push_back(run->metrics.at(headline));
        not_applicable = not_applicable || run->not_applicable.count(headline) > 0;
      } else {
        accuracies.push_back(run->metrics.at("accuracy"));
      }
    }
    std::vector<TableCell> row = {
        TableCell::label(first.protocol), TableCell::label(first.dataset),
        TableCell::label(first.shots > 0 ? std::to_string(first.shots) : "–"), TableCell::label(first.label),
        TableCell::label(std::to_string(finished) + (failed ? " (+" + std::to_string(failed) + " failed)" : ""))};
    auto mean_cell = [&](std::optional<double> mean, size_t count) {
      if (!mean) return TableCell::missing();
      TableCell cell;
      cell.mean = mean;
      cell.seeds = static_cast<int>(count);
      cell.mixed_inputs = inputs.size() > 1;
      return cell;
    };
    row.push_back(mean_cell(vals.empty() ? std::nullopt : std::optional<double>(mean_std(vals).mean), vals.size()));
    if (!bases.empty()) {
      // As in the base-to-novel table: H of the mean base and novel accuracies.
      row.push_back(mean_cell(sweeps::harmonic_mean(mean_std(bases).mean, mean_std(novels).mean), bases.size()));
    } else if (accuracies.empty() && not_applicable) {
      row.push_back(TableCell::label(kNotApplicable));
    } else {
      row.push_back(mean_cell(accuracies.empty() ? std::nullopt : std::optional<double>(mean_std(accuracies).mean),
                              accuracies.size()));
    }
    if (options.select_by_val) {
      const auto found = chosen.find({first.protocol, first.dataset, first.shots, first.method});
      row.push_back(TableCell::label(found != chosen.end() && found->second == first.label ? "✓" : ""));
    }
    table.rows.push_back(row);
  }
  add_mark_notes(table, 0);
  return table;
}

Table transfer_table(const std::vector<json>& records, const std::string& protocol, const TableOptions& options) {
  Table table;
  table.name = protocol;
  table.caption = protocol == "cross_dataset"
                      ? "Cross-dataset transfer: accuracy (%) on the source's test split and on each target's with the "
                        "prompt learned on the source, mean ± std over seeds"
                      : "Domain generalization: accuracy (%) of the source model on the source and on each shifted "
                        "test set, mean ± std over seeds";
  table.key_columns = 2;
  std::vector<Run> runs;
  for (const Run& run : runs_of(records)) {
    if (run.protocol == protocol) runs.push_back(run);
  }
  runs = apply_selection(std::move(runs), options, protocol, table.notes);
  if (runs.empty()) return table;
  // Rows: (source, shots, method label); columns: the source, every target named by any run, the average.
  using Row = std::tuple<std::string, std::string, int>;  // source, label, shots
  std::map<Row, std::vector<const Run*>> rows;
  std::set<std::string> target_set;
  for (const Run& run : runs) {
    rows[{run.dataset, run.label, run.shots}].push_back(&run);
    target_set.insert(run.targets.begin(), run.targets.end());
  }
  const std::vector<std::string> targets = ordered_datasets(target_set);
  const int expected = seeds_expected(runs, options);
  table.header = {"method", "source"};
  for (const auto& target : targets) table.header.push_back(target);
  table.header.push_back("average");
  std::vector<Row> order;
  for (const auto& entry : rows) order.push_back(entry.first);
  // Zero-shot first (the baseline), then by source, label and shots.
  std::stable_partition(order.begin(), order.end(), [](const Row& r) { return std::get<2>(r) == 0; });
  for (const Row& key : order) {
    const auto& group = rows[key];
    const auto& [source, label, shots] = key;
    std::vector<TableCell> row = {TableCell::label(shots == 0 ? label : label + ", " + shots_text(shots)),
                                  value_cell(group, "accuracy", expected, true)};
    for (const auto& target : targets) {
      const bool named = std::any_of(group.begin(), group.end(), [&](const Run* run) {
        return std::find(run->targets.begin(), run->targets.end(), target) != run->targets.end();
      });
      row.push_back(named ? value_cell(group, sweeps::target_metric(target), expected, true) : TableCell::missing());
    }
    row.push_back(value_cell(group, "average", expected, true));
    table.rows.push_back(row);
  }
  std::set<std::string> sources;
  for (const auto& key : order) sources.insert(std::get<0>(key));
  table.header[1] = "source (" + join(std::vector<std::string>(sources.begin(), sources.end()), ", ") + ")";
  add_mark_notes(table, expected);
  return table;
}

std::string fewshot_table_markdown(const std::vector<json>& records) {
  const Table table = fewshot_table(records);
  return table.rows.empty() ? "" : render_markdown(table);
}

std::string base2novel_table_markdown(const std::vector<json>& records) {
  const Table table = base2novel_table(records);
  return table.rows.empty() ? "" : render_markdown(table);
}

std::string failures_markdown(const std::vector<json>& records) {
  std::string lines;
  for (const auto& record : records) {
    const std::string task = "- task " + record.value("task_id", "?") + " (" +
                             (record.contains("spec") ? record["spec"].value("dataset", "?") : std::string("?")) + ")";
    if (record.value("status", "") != "ok") {
      lines += task + " failed: " + record.value("error", "no reason recorded") + "\n";
      continue;
    }
    const std::vector<std::string> missing = sweeps::missing_metrics(record);
    if (!missing.empty()) {
      lines += task + " has no " + join(missing, " or ") + " in its record's metrics; left out of the tables\n";
    }
  }
  return lines;
}

}  // namespace pg::results
