#include "sweeps/sweep_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "sweeps/method_settings.h"
#include "sweeps/protocol.h"

namespace pg::sweeps {
namespace {

constexpr uint64_t kMaxSweepFileBytes = uint64_t{4} << 20;
constexpr int kMaxSearchSamples = 10000;
constexpr size_t kMaxSettings = 100'000;  // of one method entry's grid
constexpr size_t kMaxTasks = 1'000'000;
// yaml-cpp parses nested flow collections by recursion: "[[[[..." thousands deep overflows the stack.
constexpr int kMaxNesting = 64;

const std::vector<std::string> kTopKeys = {"features", "clip",    "vocab",  "protocol", "datasets", "source",
                                           "shots",    "seeds",   "methods", "search",  "slurm",
                                           "scale"};
}  // namespace

const std::vector<std::string> kSlurmKeys = {"nodes",      "gpus_per_node", "cpus_per_gpu", "time",
                                             "partition",  "account",       "qos",          "constraint",
                                             "mem",        "gpu_type",      "setup",        "jobs",
                                             "max_requeues", "signal_seconds"};

namespace {

// The keys of a method entry: name and the method's fields, in the order their grid axes nest (the
// first varies slowest).
std::vector<std::string> entry_keys(const MethodInfo& method) {
  std::vector<std::string> keys = {"name", "datasets"};
  for (const auto& field : method.fields) keys.push_back(field.name_in_file());
  return keys;
}

const SettingField* find_field(const MethodInfo& method, const std::string& key) {
  for (const auto& field : method.fields) {
    if (field.name_in_file() == key) return &field;
  }
  return nullptr;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_hint(const std::string& word, const std::vector<std::string>& valid) {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& candidate : valid) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) best = candidate, best_distance = distance;
  }
  std::string hint = best_distance <= std::max<size_t>(2, word.size() / 3) ? "did you mean '" + best + "'? " : "";
  return hint + "valid keys: " + join(valid, ", ");
}

// Refuses flow collections nested deeper than kMaxNesting before yaml-cpp sees them. Every bracket
// counts, quoted or not: a real sweep file is nowhere near the limit, and a guess about YAML's quoting
// rules would be a way around it.
void check_nesting(const std::string& text, const std::string& where) {
  int depth = 0, line = 1;
  for (const char c : text) {
    if (c == '\n') ++line;
    if (c == '[' || c == '{') {
      if (++depth > kMaxNesting) {
        throw Error(where + ":" + std::to_string(line) + ": lists or mappings nested deeper than " +
                    std::to_string(kMaxNesting) + " levels; a sweep file needs a few");
      }
    }
    if ((c == ']' || c == '}') && depth > 0) --depth;
  }
}

// Reads a YAML tree, knowing where each part came from: a line of the file, or an override.
class SweepReader {
 public:
  SweepReader(std::string file, std::vector<std::string> overrides)
      : file_(std::move(file)), overrides_(std::move(overrides)) {}

  YAML::Node load(const std::string& text) {
    check_nesting(text, file_);
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw Error(file_ + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML (" + e.msg + ")");
    }
    if (!root.IsMap()) throw Error(file_ + ": a sweep file is a YAML mapping with keys " + join(kTopKeys, ", "));
    for (const auto& item : overrides_) apply_override(root, item);
    return root;
  }

  // "sweep.yaml:12" or "override 'shots=[1,16]'": where `path` ("methods.1.lr") was set. The last
  // override that set it, or a part of it (shots.0=...), or a whole it is part of (methods=[...]).
  std::string where(const std::string& path, const YAML::Node& node) const {
    for (size_t i = override_paths_.size(); i-- > 0;) {
      const std::string& set = override_paths_[i];
      if (path == set || starts_with(path, set + ".") || starts_with(set, path + ".")) {
        return "override '" + overrides_[i] + "'";
      }
    }
    const int line = node.IsDefined() ? node.Mark().line : -1;
    return line >= 0 ? file_ + ":" + std::to_string(line + 1) : file_;
  }

  [[noreturn]] void fail(const std::string& path, const YAML::Node& node, const std::string& message) const {
    throw Error(where(path, node) + ": '" + path + "' " + message);
  }

  void check_keys(const YAML::Node& map, const std::string& path, const std::vector<std::string>& valid) const {
    for (const auto& item : map) {
      const std::string key = item.first.Scalar();
      if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
        const std::string full = path.empty() ? key : path + "." + key;
        fail(full, item.first, "is not a key here; " + closest_hint(key, valid));
      }
    }
  }

  // yaml-cpp throws on anything but IsDefined() asked of a key that is not there: ask that first.
  template <typename T>
  T scalar(const YAML::Node& node, const std::string& path, const std::string& expected) const {
    if (!node.IsDefined()) fail(path, node, "is missing; give " + expected);
    if (!node.IsScalar()) fail(path, node, "must be " + expected);
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(path, node, "is '" + node.Scalar() + "'; expected " + expected);
    }
  }

  // A scalar or a list of them (a grid axis); an empty list is an error.
  template <typename T>
  std::vector<T> values(const YAML::Node& node, const std::string& path, const std::string& expected) const {
    std::vector<T> result;
    if (node.IsDefined() && node.IsSequence()) {
      if (node.size() == 0) fail(path, node, "is an empty list; give at least one value");
      for (size_t i = 0; i < node.size(); ++i) result.push_back(scalar<T>(node[i], path, expected));
    } else {
      result.push_back(scalar<T>(node, path, expected));
    }
    return result;
  }

  const std::string& file() const { return file_; }

 private:
  // key=value: the value is YAML; the dotted key walks maps by key and lists by index.
  void apply_override(YAML::Node& root, const std::string& item) {
    const size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw Error("override '" + item + "' is not key=value (for example shots=[1,16] or methods.1.lr=0.01)");
    }
    const std::string path = item.substr(0, equals);
    YAML::Node value;
    check_nesting(item.substr(equals + 1), "override '" + item + "'");
    try {
      value = YAML::Load(item.substr(equals + 1));
    } catch (const YAML::Exception& e) {
      throw Error("override '" + item + "': the value is not valid YAML (" + e.msg + ")");
    }
    const std::vector<std::string> parts = split(path, '.');
    YAML::Node node = root;
    std::string walked;
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string& part = parts[i];
      if (part.empty()) throw Error("override '" + item + "': the key '" + path + "' has an empty part");
      const bool last = i + 1 == parts.size();
      if (node.IsSequence()) {
        size_t index = 0;
        if (part.find_first_not_of("0123456789") != std::string::npos || part.size() > 6 ||
            (index = std::stoul(part)) >= node.size()) {
          throw Error("override '" + item + "': '" + walked + "' is a list of " + std::to_string(node.size()) +
                      " entries; index it with 0 to " + std::to_string(node.size() - 1) + ", not '" + part + "'");
        }
        if (last) {
          node[index] = value;
        } else {
          node.reset(node[index]);
        }
      } else if (node.IsMap() || (!last && node.IsNull())) {
        if (last) {
          node[part] = value;
        } else {
          if (!node[part].IsDefined()) node[part] = YAML::Node(YAML::NodeType::Map);
          node.reset(node[part]);
        }
      } else {
        throw Error("override '" + item + "': '" + walked + "' is a single value, so it has no '" + part + "'");
      }
      walked += (walked.empty() ? "" : ".") + part;
    }
    override_paths_.push_back(path);
  }

  std::string file_;
  std::vector<std::string> overrides_;
  std::vector<std::string> override_paths_;
};

std::string resolve_path(const SweepReader& reader, const YAML::Node& root, const std::string& key,
                         const std::string& base_folder, const std::string& what) {
  const YAML::Node node = root[key];
  if (!node.IsDefined()) {
    throw Error(reader.file() + ": '" + key + "' is missing; give the path of " + what);
  }
  const std::string value = reader.scalar<std::string>(node, key, "a path to " + what);
  std::filesystem::path path(value);
  if (path.is_relative()) path = std::filesystem::path(base_folder) / path;
  path = path.lexically_normal();
  if (!file_exists(path.string())) {
    reader.fail(key, node, "is " + value + " (" + path.string() + "), which does not exist; give the path of " + what +
                               " (relative paths start at the sweep file's folder)");
  }
  return std::filesystem::absolute(path).lexically_normal().string();
}

// One value of a method field as the file gives it (a scalar of the field's type; "auto" where the
// field takes it), checked for its type where the file says it; ranges are checked per task.
nlohmann::json field_value(const SweepReader& reader, const SettingField& field, const YAML::Node& node,
                           const std::string& path) {
  using Type = SettingField::Type;
  switch (field.type) {
    case Type::integer: {
      if (field.accepts_auto && node.IsScalar() && node.Scalar() == "auto") return 0;
      const int value = reader.scalar<int>(node, path, field.accepts_auto ? "auto or a whole number" : "a whole number");
      if (field.accepts_auto && value < 1) reader.fail(path, node, "must be auto or 1 or more");
      return value;
    }
    case Type::number:
      return reader.scalar<double>(node, path, "a number");
    case Type::boolean:
      return reader.scalar<bool>(node, path, "true or false");
    case Type::text:
      return reader.scalar<std::string>(node, path, "text");
  }
  return nullptr;
}

// Reproducible uniform [0, 1) from a 64-bit Mersenne Twister, the same on every standard library.
double unit_uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// One drawn value for `field` from its distribution node ({log_uniform|uniform: [a, b]} | {choice: [...]}).
YAML::Node draw(const SweepReader& reader, const YAML::Node& distribution, const std::string& path,
                std::mt19937_64& rng) {
  // method_entries checked the shape (one kind) and every choice already.
  const std::string kind = distribution.begin()->first.Scalar();
  const YAML::Node arguments = distribution.begin()->second;
  if (kind == "choice") return YAML::Clone(arguments[rng() % arguments.size()]);
  if (kind != "log_uniform" && kind != "uniform") {
    reader.fail(path + "." + kind, distribution, "is not a distribution; use log_uniform, uniform or choice");
  }
  if (!arguments.IsSequence() || arguments.size() != 2) reader.fail(path + "." + kind, arguments, "must be [low, high]");
  const double low = reader.scalar<double>(arguments[0], path + "." + kind, "a number");
  const double high = reader.scalar<double>(arguments[1], path + "." + kind, "a number");
  if (!(low < high) || (kind == "log_uniform" && !(low > 0))) {
    reader.fail(path + "." + kind, arguments, kind == "log_uniform" ? "must be [low, high] with 0 < low < high"
                                                                    : "must be [low, high] with low < high");
  }
  const double u = unit_uniform(rng);
  const double value = kind == "log_uniform" ? std::exp(std::log(low) + u * (std::log(high) - std::log(low)))
                                             : low + u * (high - low);
  YAML::Node node;
  node = value;
  return node;
}

// The method entries after random search: the file's entries, then `samples` copies of each entry
// whose method the search space names, with the drawn values in place.
std::vector<std::pair<YAML::Node, std::string>> method_entries(const SweepReader& reader, const YAML::Node& root) {
  const YAML::Node methods = root["methods"];
  if (!methods.IsDefined()) throw Error(reader.file() + ": 'methods' is missing; list methods such as - name: coop");
  if (!methods.IsSequence() || methods.size() == 0) {
    reader.fail("methods", methods, "must be a non-empty list of {name: " + join(method_names(), " | ") + ", ...}");
  }
  std::vector<std::pair<YAML::Node, std::string>> entries;
  for (size_t i = 0; i < methods.size(); ++i) entries.emplace_back(methods[i], "methods." + std::to_string(i));
  const YAML::Node search = root["search"];
  if (!search.IsDefined()) return entries;
  if (!search.IsMap()) reader.fail("search", search, "must be {samples: N, seed: S, space: {...}}");
  reader.check_keys(search, "search", {"samples", "seed", "space"});
  const int samples = reader.scalar<int>(search["samples"], "search.samples", "a whole number of configurations");
  if (samples < 1 || samples > kMaxSearchSamples) {
    reader.fail("search.samples", search["samples"], "must be from 1 to " + std::to_string(kMaxSearchSamples));
  }
  const int64_t seed = search["seed"].IsDefined() ? reader.scalar<int64_t>(search["seed"], "search.seed", "an integer") : 0;
  const YAML::Node space = search["space"];
  if (!space.IsDefined() || !space.IsMap() || space.size() == 0) {
    reader.fail("search.space", space, "must map method.field to a distribution, e.g. {coop.lr: {log_uniform: [1e-4, 1e-1]}}");
  }
  std::map<std::string, YAML::Node> fields;  // sorted: the draw order does not depend on the file's order
  for (const auto& item : space) {
    const std::string key = item.first.Scalar();
    const size_t dot = key.find('.');
    const std::string method = key.substr(0, dot), name = dot == std::string::npos ? "" : key.substr(dot + 1);
    const auto info = std::find_if(sweeps::methods().begin(), sweeps::methods().end(), [&](const MethodInfo& m) { return m.name == method; });
    const SettingField* field = info == sweeps::methods().end() ? nullptr : find_field(*info, name);
    if (field == nullptr) {
      std::vector<std::string> valid;
      for (const auto& m : sweeps::methods()) {
        for (const auto& f : m.fields) valid.push_back(m.name + "." + f.name_in_file());
      }
      reader.fail("search.space." + key, item.first, "is not a searchable setting; " + closest_hint(key, valid));
    }
    // Every value a search can draw is checked here, where the file says it, not later in a sample.
    const YAML::Node& distribution = item.second;
    const std::string at = "search.space." + key;
    if (!distribution.IsMap() || distribution.size() != 1) {
      reader.fail(at, distribution, "must be one of {log_uniform: [a, b]}, {uniform: [a, b]}, {choice: [v1, v2, ...]}");
    }
    const std::string kind = distribution.begin()->first.Scalar();
    if (kind != "choice" && field->type != SettingField::Type::number) {
      reader.fail(at, distribution, "takes {choice: [...]}; only number settings (such as coop.lr) take log_uniform or uniform");
    }
    if (kind == "choice") {
      const YAML::Node options = distribution.begin()->second;
      if (!options.IsSequence() || options.size() == 0) reader.fail(at + ".choice", options, "must be a non-empty list");
      for (size_t i = 0; i < options.size(); ++i) field_value(reader, *field, options[i], at + ".choice");
    }
    fields[key] = distribution;
  }
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  const size_t file_entries = entries.size();
  for (int sample = 0; sample < samples; ++sample) {
    std::map<std::string, YAML::Node> drawn;
    for (const auto& [key, distribution] : fields) drawn[key] = draw(reader, distribution, "search.space." + key, rng);
    for (size_t i = 0; i < file_entries; ++i) {
      const YAML::Node& entry = entries[i].first;
      if (!entry.IsMap() || !entry["name"].IsDefined()) continue;
      const std::string method = entry["name"].Scalar();
      bool searched = false;
      for (const auto& item : drawn) searched = searched || starts_with(item.first, method + ".");
      if (!searched) continue;
      YAML::Node copy = YAML::Clone(entry);
      for (const auto& [key, value] : drawn) {
        if (starts_with(key, method + ".")) copy[key.substr(key.find('.') + 1)] = value;
      }
      entries.emplace_back(copy, entries[i].second + " (search sample " + std::to_string(sample + 1) + ")");
    }
  }
  return entries;
}

// The settings of one method entry: the Cartesian product of its list-valued keys.
void expand_method(const SweepReader& reader, const YAML::Node& entry, const std::string& path,
                   std::vector<MethodSetting>& out) {
  if (!entry.IsMap()) reader.fail(path, entry, "must be a mapping such as {name: coop, lr: 0.002}");
  const YAML::Node name_node = entry["name"];
  if (!name_node.IsDefined()) reader.fail(path, entry, "has no 'name'; use one of: " + join(method_names(), ", "));
  const std::string name = reader.scalar<std::string>(name_node, path + ".name", "a method name");
  const auto info = std::find_if(sweeps::methods().begin(), sweeps::methods().end(), [&](const MethodInfo& m) { return m.name == name; });
  if (info == sweeps::methods().end()) {
    reader.fail(path + ".name", name_node, "is '" + name + "'; the methods are: " + join(method_names(), ", "));
  }
  const std::string where = reader.where(path, entry) + " (" + path + ")";
  reader.check_keys(entry, path, entry_keys(*info));
  std::vector<nlohmann::json> settings(1, nlohmann::json::object());
  // Each key multiplies the settings so far by its values.
  for (const auto& field : info->fields) {
    const YAML::Node node = entry[field.name_in_file()];
    if (!node.IsDefined()) continue;
    const std::string at = path + "." + field.name_in_file();
    std::vector<nlohmann::json> values;
    if (node.IsSequence()) {
      if (node.size() == 0) reader.fail(at, node, "is an empty list; give at least one value");
      for (size_t i = 0; i < node.size(); ++i) values.push_back(field_value(reader, field, node[i], at));
    } else {
      values.push_back(field_value(reader, field, node, at));
    }
    std::vector<nlohmann::json> next;
    for (const auto& base : settings) {
      for (const auto& value : values) {
        nlohmann::json setting = base;
        setting[field.key] = value;
        next.push_back(std::move(setting));
      }
    }
    settings = std::move(next);
    if (settings.size() > kMaxSettings) {
      reader.fail(path, entry, "is a grid of more than " + std::to_string(kMaxSettings) + " settings; split the sweep");
    }
  }
  // `datasets` in an entry restricts it to those datasets (not a grid axis): CoCoOp's per-image
  // classifier on ImageNet's 1000 classes costs what a whole sweep of small datasets does.
  std::vector<std::string> only;
  if (entry["datasets"].IsDefined()) only = reader.values<std::string>(entry["datasets"], path + ".datasets", "dataset names");
  for (auto& setting : settings) out.push_back({name, std::move(setting), where, only});
}

Sweep parse_checked(const std::string& text, const std::string& file, const std::string& base_folder,
                    const std::vector<std::string>& overrides) {
  SweepReader reader(file, overrides);
  YAML::Node root = reader.load(text);
  reader.check_keys(root, "", kTopKeys);
  Sweep sweep;
  sweep.file = file;
  sweep.overrides = overrides;
  sweep.features = resolve_path(reader, root, "features", base_folder, "the feature store (HDF5)");
  sweep.clip = resolve_path(reader, root, "clip", base_folder, "the CLIP checkpoint (.pt or .safetensors)");
  sweep.vocab = resolve_path(reader, root, "vocab", base_folder, "CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)");

  sweep.protocols = root["protocol"].IsDefined()
                        ? reader.values<std::string>(root["protocol"], "protocol", "fewshot or base2novel")
                        : std::vector<std::string>{"fewshot"};
  for (const auto& protocol : sweep.protocols) {
    const auto& names = protocol_names();
    if (std::find(names.begin(), names.end(), protocol) == names.end()) {
      reader.fail("protocol", root["protocol"], "is '" + protocol + "'; the protocols are: " + join(names, ", "));
    }
  }

  if (root["source"].IsDefined()) {
    sweep.source = reader.scalar<std::string>(root["source"], "source", "the dataset the transfer protocols train on");
    sweep.source_where = reader.where("source", root["source"]);
  }
  const YAML::Node datasets = root["datasets"];
  if (!datasets.IsDefined()) throw Error(file + ": 'datasets' is missing; give all or a list such as [dtd, eurosat]");
  sweep.datasets_where = reader.where("datasets", datasets);
  if (datasets.IsScalar() && datasets.Scalar() == "all") {
    sweep.all_datasets = true;
  } else {
    sweep.datasets = reader.values<std::string>(datasets, "datasets", "all or dataset names");
  }

  std::vector<std::pair<YAML::Node, std::string>> entries = method_entries(reader, root);
  for (const auto& [entry, path] : entries) {
    expand_method(reader, entry, path, sweep.methods);
    if (sweep.methods.size() > kMaxSettings) {
      throw Error(file + ": 'methods' (with search) come to more than " + std::to_string(kMaxSettings) +
                  " settings; split the sweep");
    }
  }
  const bool trains = std::any_of(sweep.methods.begin(), sweep.methods.end(),
                                  [](const MethodSetting& m) { return find_method(m.name).trains; });
  if (trains) {
    if (!root["shots"].IsDefined()) throw Error(file + ": 'shots' is missing; give the shots per class, e.g. [1, 2, 4, 8, 16]");
    if (!root["seeds"].IsDefined()) throw Error(file + ": 'seeds' is missing; give the seeds, e.g. [1, 2, 3]");
  }
  if (root["shots"].IsDefined()) {
    sweep.shots_where = reader.where("shots", root["shots"]);
    sweep.shots = reader.values<int>(root["shots"], "shots", "a whole number of images per class");
    for (int shots : sweep.shots) {
      if (shots < 1) reader.fail("shots", root["shots"], "holds " + std::to_string(shots) + "; shots are 1 or more");
    }
  }
  if (root["seeds"].IsDefined()) {
    sweep.seeds = reader.values<int64_t>(root["seeds"], "seeds", "whole numbers from 0 to 2^63 - 1");
    for (int64_t seed : sweep.seeds) {
      if (seed < 0) reader.fail("seeds", root["seeds"], "holds " + std::to_string(seed) + "; seeds are 0 or more");
    }
  }

  if (root["slurm"].IsDefined()) {
    const YAML::Node slurm = root["slurm"];
    if (!slurm.IsMap()) reader.fail("slurm", slurm, "must be a mapping of slurm submit's options, such as partition: gpu");
    reader.check_keys(slurm, "slurm", kSlurmKeys);
    for (const auto& item : slurm) {
      const std::string path = "slurm." + item.first.Scalar();
      sweep.slurm[item.first.Scalar()] = {reader.scalar<std::string>(item.second, path, "one value"),
                                          reader.where(path, item.second)};
    }
  }

  if (root["scale"].IsDefined()) {
    const YAML::Node scale = root["scale"];
    if (!scale.IsMap()) reader.fail("scale", scale, "must be a mapping such as {pack_tasks: 8, split_workers: 4}");
    reader.check_keys(scale, "scale",
                      {"pack_tasks", "pack_below_classes", "pack_memory_gb", "split_workers", "split_from_classes"});
    auto whole = [&](const std::string& key, auto& field) {
      if (!scale[key].IsDefined()) return;
      const std::string path = "scale." + key;
      const auto value = reader.scalar<int64_t>(scale[key], path, "a whole number of at least 1");
      if (value < 1 || value > 1'000'000) reader.fail(path, scale[key], "is " + std::to_string(value) + "; give 1 to 1000000");
      field = static_cast<std::decay_t<decltype(field)>>(value);
    };
    whole("pack_tasks", sweep.scale.pack_tasks);
    whole("pack_below_classes", sweep.scale.pack_below_classes);
    whole("split_workers", sweep.scale.split_workers);
    whole("split_from_classes", sweep.scale.split_from_classes);
    if (scale["pack_memory_gb"].IsDefined()) {
      const double gb = reader.scalar<double>(scale["pack_memory_gb"], "scale.pack_memory_gb", "a number of GB");
      if (!(gb > 0) || !std::isfinite(gb)) {
        reader.fail("scale.pack_memory_gb", scale["pack_memory_gb"], "must be a positive number of GB, such as 4");
      }
      sweep.scale.pack_memory_gb = gb;
    }
  }

  // What DIR/sweep.yaml keeps: the tree as read, overrides applied, paths absolute.
  root["features"] = sweep.features;
  root["clip"] = sweep.clip;
  root["vocab"] = sweep.vocab;
  YAML::Emitter emitter;
  emitter << root;
  sweep.resolved_yaml = std::string(emitter.c_str()) + "\n";
  return sweep;
}

}  // namespace

Sweep parse_sweep(const std::string& text, const std::string& file, const std::string& base_folder,
                  const std::vector<std::string>& overrides) {
  try {
    return parse_checked(text, file, base_folder, overrides);
  } catch (const YAML::Exception& e) {
    // A shape of YAML the checks above did not foresee: still an error naming the file and line.
    throw Error(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg + "; see examples/ for the sweep file format");
  }
}


Sweep load_sweep(const std::string& path, const std::vector<std::string>& overrides) {
  const std::string text = read_file(path, kMaxSweepFileBytes, "a sweep file (YAML)");
  const std::string folder = std::filesystem::path(path).parent_path().string();
  return parse_sweep(text, path, folder.empty() ? "." : folder, overrides);
}

namespace {

// The dataset the transfer protocols train on: the sweep's `source`, which the store must hold with a
// train split.
const DatasetFacts& transfer_source(const Sweep& sweep, const std::vector<DatasetFacts>& store) {
  const auto found =
      std::find_if(store.begin(), store.end(), [&](const DatasetFacts& f) { return f.name == sweep.source; });
  if (found == store.end() || found->train_images == 0) {
    throw Error((sweep.source_where.empty() ? sweep.file : sweep.source_where) + ": the transfer protocols train on " +
                "source dataset " + sweep.source + ", which " + sweep.features +
                (found == store.end() ? " does not hold" : " holds without a train split") +
                "; set 'source' to a dataset of the store");
  }
  return *found;
}

// cross_dataset: every other dataset of the store with its own classes (not a test-only shift of
// another's); domain_generalization: the test-only datasets whose source is this one.
std::vector<std::string> transfer_targets(const Sweep& sweep, const std::vector<DatasetFacts>& store,
                                          const DatasetFacts& source, const std::string& protocol) {
  std::vector<std::string> targets;
  for (const auto& facts : store) {
    if (facts.name == source.name || facts.test_images == 0) continue;
    const bool shift_of_source = facts.source == source.name;
    if (protocol == "cross_dataset" ? facts.source.empty() : shift_of_source) targets.push_back(facts.name);
  }
  if (targets.empty()) {
    throw Error(sweep.file + ": the " + protocol + " protocol has no target dataset in " + sweep.features + ": " +
                (protocol == "cross_dataset" ? "it needs datasets besides the source " + source.name
                                             : "it needs test-only datasets whose source is " + source.name +
                                                   " (imagenet_v2, imagenet_sketch, imagenet_a, imagenet_r; "
                                                   "`promptgrid synth` writes shifted ones)"));
  }
  return targets;
}

}  // namespace

std::vector<TaskSpec> expand_sweep(const Sweep& sweep, const std::vector<DatasetFacts>& store) {
  std::vector<const DatasetFacts*> datasets;
  std::vector<std::string> available;
  for (const auto& facts : store) {
    if (facts.train_images > 0) available.push_back(facts.name);
  }
  if (sweep.all_datasets) {
    // Test-only datasets (no train split) are targets of domain_generalization, not datasets to train on.
    for (const auto& facts : store) {
      if (facts.train_images > 0) datasets.push_back(&facts);
    }
  } else {
    for (const auto& name : sweep.datasets) {
      const auto found = std::find_if(store.begin(), store.end(), [&](const DatasetFacts& f) { return f.name == name; });
      if (found == store.end() || found->train_images == 0) {
        throw Error(sweep.datasets_where + ": 'datasets' names " + name + ", which " + sweep.features +
                    (found == store.end() ? " does not hold" : " holds as a test-only dataset (no train split)") +
                    "; it holds to train on: " + join(available, ", "));
      }
      datasets.push_back(&*found);
    }
  }
  for (const auto& method : sweep.methods) {
    for (const auto& name : method.only_datasets) {
      if (std::find(available.begin(), available.end(), name) == available.end()) {
        throw Error(method.where + ": 'datasets' names " + name + ", which " + sweep.features +
                    " does not hold with a train split; it holds to train on: " + join(available, ", "));
      }
    }
  }
  // The size first: a grid must not grow past the limit one task at a time.
  double planned = 0;
  for (const auto& method : sweep.methods) {
    planned += find_method(method.name).trains ? static_cast<double>(sweep.shots.size() * sweep.seeds.size()) : 1.0;
  }
  planned *= static_cast<double>(sweep.protocols.size() * datasets.size());
  if (planned > static_cast<double>(kMaxTasks)) {
    throw Error(sweep.file + ": expands to " + std::to_string(static_cast<uint64_t>(planned)) + " tasks, more than " +
                std::to_string(kMaxTasks) + "; split the sweep into several files");
  }
  std::vector<TaskSpec> tasks;
  std::set<std::string> seen;
  auto add = [&](TaskSpec spec, const MethodSetting& method) {
    try {
      spec.resolve();
    } catch (const Error& e) {
      throw Error(method.where + ": " + e.what());
    }
    if (seen.insert(spec.to_json().dump()).second) tasks.push_back(std::move(spec));
  };
  std::set<const MethodSetting*> used;  // entries that gave at least one task
  for (const auto& protocol : sweep.protocols) {
    const bool transfer = is_transfer_protocol(protocol);
    std::vector<std::string> targets;
    std::vector<const DatasetFacts*> trained_on = datasets;
    if (transfer) {
      const DatasetFacts& source = transfer_source(sweep, store);
      trained_on = {&source};
      targets = transfer_targets(sweep, store, source, protocol);
    }
    for (const DatasetFacts* dataset : trained_on) {
      for (const auto& method : sweep.methods) {
        if (!method.only_datasets.empty() && std::find(method.only_datasets.begin(), method.only_datasets.end(),
                                                       dataset->name) == method.only_datasets.end()) {
          continue;
        }
        used.insert(&method);
        TaskSpec spec;
        spec.method = method.name;
        spec.protocol = protocol;
        spec.dataset = dataset->name;
        spec.targets = targets;
        spec.settings = method.settings;
        if (!find_method(method.name).trains) {
          add(spec, method);
          continue;
        }
        for (int shots : sweep.shots) {
          if (shots > dataset->fewest_train_images) {
            throw Error(sweep.shots_where + ": 'shots' asks for " + std::to_string(shots) + " images per class, but " +
                        dataset->name + " has only " + std::to_string(dataset->fewest_train_images) +
                        " train images in its smallest class; drop that shot count or the dataset");
          }
          for (int64_t seed : sweep.seeds) {
            spec.shots = shots;
            spec.seed = seed;
            add(spec, method);
          }
        }
      }
    }
  }
  for (const auto& method : sweep.methods) {
    if (used.count(&method) == 0) {
      throw Error(method.where + ": this entry's 'datasets' (" + join(method.only_datasets, ", ") +
                  ") meet none of the datasets the sweep trains on; so it gives no task (name datasets of "
                  "'datasets', or the transfer protocols' source)");
    }
  }
  return tasks;
}

int seeds_asked(const std::string& path) {
  if (!file_exists(path)) return 0;
  try {
    const YAML::Node seeds = YAML::Load(read_file(path, kMaxSweepFileBytes, "a sweep file (YAML)"))["seeds"];
    if (seeds.IsSequence()) return static_cast<int>(seeds.size());
    return seeds.IsScalar() ? 1 : 0;
  } catch (const YAML::Exception&) {
    return 0;
  }
}

}  // namespace pg::sweeps
