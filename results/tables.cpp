#include "results/tables.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "common/strings.h"
#include "sweeps/catalog.h"

namespace pg::results {
namespace {

using nlohmann::json;

std::string format_cell(const MeanStd& value) {
  char text[64];
  if (value.count == 1) {
    std::snprintf(text, sizeof text, "%.2f", value.mean);
  } else {
    std::snprintf(text, sizeof text, "%.2f ± %.2f", value.mean, value.std);
  }
  return text;
}

std::string two_decimals(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

// Datasets in catalog order (the papers' order), then any others alphabetically.
std::vector<std::string> ordered_datasets(const std::set<std::string>& present) {
  std::vector<std::string> ordered;
  for (const auto& info : sweeps::benchmark_datasets()) {
    if (present.count(info.name)) ordered.push_back(info.name);
  }
  for (const auto& name : present) {
    if (std::find(ordered.begin(), ordered.end(), name) == ordered.end()) ordered.push_back(name);
  }
  return ordered;
}

// The metrics a protocol's table is made of.
std::vector<std::string> table_metrics(const std::string& protocol) {
  if (protocol == "base2novel") return {"base", "novel"};
  return {"accuracy"};
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

// The metrics a successful record should carry for its protocol's table but does not.
std::vector<std::string> missing_metrics(const json& record) {
  std::vector<std::string> missing;
  for (const auto& name : table_metrics(protocol_of(record))) {
    if (!metric(record, name)) missing.push_back(name);
  }
  return missing;
}

bool succeeded(const json& record, const std::string& protocol) {
  return record.value("status", "") == "ok" && protocol_of(record) == protocol && missing_metrics(record).empty();
}

std::string markdown_row(const std::vector<std::string>& cells) {
  std::string row = "|";
  for (const auto& cell : cells) row += " " + cell + " |";
  return row + "\n";
}

std::string markdown_header(const std::vector<std::string>& cells) {
  std::string rule = "|";
  for (size_t i = 0; i < cells.size(); ++i) rule += i == 0 ? " --- |" : " ---: |";
  return markdown_row(cells) + rule + "\n";
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

double harmonic_mean(double base, double novel) {
  return base + novel > 0 ? 2 * base * novel / (base + novel) : 0.0;
}

std::string method_label(const json& spec) {
  const std::string method = spec.value("method", "");
  if (method == "zeroshot") return "Zero-shot CLIP";
  if (method != "coop") return method;
  const json coop = spec.value("coop", json::object());
  std::vector<std::string> settings;
  const std::string init = coop.value("ctx_init", "");
  if (!init.empty()) {
    settings.push_back("init \"" + init + "\"");
  } else if (coop.value("n_ctx", 16) != 16) {
    settings.push_back("n_ctx=" + std::to_string(coop.value("n_ctx", 16)));
  }
  if (coop.value("class_specific", false)) settings.push_back("CSC");
  if (coop.value("class_token_position", "end") != "end") settings.push_back(coop.value("class_token_position", ""));
  if (coop.value("precision", "fp32") != "fp32") settings.push_back(coop.value("precision", ""));
  if (coop.value("batch_size", 32) != 32) settings.push_back("batch " + std::to_string(coop.value("batch_size", 32)));
  if (coop.value("lr", 0.002) != 0.002) settings.push_back("lr " + pg::format_number(coop.value("lr", 0.002)));
  std::string label = "CoOp";
  if (!settings.empty()) {
    label += " (";
    for (size_t i = 0; i < settings.size(); ++i) label += (i ? ", " : "") + settings[i];
    label += ")";
  }
  return label;
}

std::string fewshot_table_markdown(const std::vector<json>& records) {
  // column = (method label, shots; 0 for zero-shot), values per dataset over seeds.
  using Column = std::pair<std::string, int>;
  std::map<Column, std::map<std::string, std::vector<double>>> values;
  std::set<std::string> datasets;
  for (const auto& record : records) {
    if (!succeeded(record, "fewshot")) continue;
    const json& spec = record["spec"];
    const int shots = spec.value("method", "") == "zeroshot" ? 0 : spec.value("shots", 0);
    const std::string dataset = spec.value("dataset", "");
    values[{method_label(spec), shots}][dataset].push_back(*metric(record, "accuracy"));
    datasets.insert(dataset);
  }
  if (values.empty()) return "";
  std::vector<Column> columns;
  for (const auto& entry : values) columns.push_back(entry.first);
  // Zero-shot first, then each method by shots.
  std::stable_sort(columns.begin(), columns.end(), [](const Column& a, const Column& b) {
    if ((a.second == 0) != (b.second == 0)) return a.second == 0;
    return a < b;
  });

  std::vector<std::string> header = {"dataset"};
  for (const auto& [label, shots] : columns) {
    header.push_back(shots == 0 ? label : label + ", " + std::to_string(shots) + " shot" + (shots > 1 ? "s" : ""));
  }
  std::string table = "Accuracy (%) on the test split, mean ± std over seeds\n\n" + markdown_header(header);
  const auto order = ordered_datasets(datasets);
  std::map<Column, std::vector<double>> dataset_means;
  for (const auto& dataset : order) {
    std::vector<std::string> row = {dataset};
    for (const auto& column : columns) {
      auto found = values[column].find(dataset);
      if (found == values[column].end()) {
        row.push_back("–");
        continue;
      }
      const MeanStd cell = mean_std(found->second);
      dataset_means[column].push_back(cell.mean);
      row.push_back(format_cell(cell));
    }
    table += markdown_row(row);
  }
  if (order.size() > 1) {
    std::vector<std::string> row = {"**average**"};
    for (const auto& column : columns) {
      const auto& means = dataset_means[column];
      // An average over a subset of the datasets would not be comparable with the other columns.
      row.push_back(means.size() == order.size() ? two_decimals(mean_std(means).mean) : "–");
    }
    table += markdown_row(row);
  }
  return table;
}

std::string base2novel_table_markdown(const std::vector<json>& records) {
  struct Cells {
    std::vector<double> base, novel;
  };
  std::map<std::string, std::map<std::string, Cells>> values;  // label -> dataset -> seeds
  std::set<std::string> datasets;
  for (const auto& record : records) {
    if (!succeeded(record, "base2novel")) continue;
    const json& spec = record["spec"];
    const std::string dataset = spec.value("dataset", "");
    Cells& cells = values[method_label(spec)][dataset];
    cells.base.push_back(*metric(record, "base"));
    cells.novel.push_back(*metric(record, "novel"));
    datasets.insert(dataset);
  }
  if (values.empty()) return "";
  std::vector<std::string> header = {"dataset"};
  for (const auto& entry : values) {
    for (const char* part : {"base", "novel", "H"}) header.push_back(entry.first + " " + part);
  }
  std::string table = "Base-to-novel accuracy (%), mean over seeds; H = 2·B·N/(B+N)\n\n" + markdown_header(header);
  const auto order = ordered_datasets(datasets);
  std::map<std::string, Cells> averages;
  for (const auto& dataset : order) {
    std::vector<std::string> row = {dataset};
    for (auto& [label, per_dataset] : values) {
      auto found = per_dataset.find(dataset);
      if (found == per_dataset.end()) {
        row.insert(row.end(), {"–", "–", "–"});
        continue;
      }
      const double base = mean_std(found->second.base).mean;
      const double novel = mean_std(found->second.novel).mean;
      averages[label].base.push_back(base);
      averages[label].novel.push_back(novel);
      row.insert(row.end(), {two_decimals(base), two_decimals(novel), two_decimals(harmonic_mean(base, novel))});
    }
    table += markdown_row(row);
  }
  if (order.size() > 1) {
    std::vector<std::string> row = {"**average**"};
    for (const auto& entry : values) {
      const Cells& cells = averages[entry.first];
      if (cells.base.size() != order.size()) {
        row.insert(row.end(), {"–", "–", "–"});
        continue;
      }
      const double base = mean_std(cells.base).mean;
      const double novel = mean_std(cells.novel).mean;
      row.insert(row.end(), {two_decimals(base), two_decimals(novel), two_decimals(harmonic_mean(base, novel))});
    }
    table += markdown_row(row);
  }
  return table;
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
    const std::vector<std::string> missing = missing_metrics(record);
    if (!missing.empty()) {
      lines += task + " has no " + join(missing, " or ") + " in its record's metrics; left out of the tables\n";
    }
  }
  return lines;
}

}  // namespace pg::results
