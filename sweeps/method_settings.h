// The methods a task can run and their settings (DESIGN §1): one row per method in one table
// (method_settings.cpp), read by the sweep file, the task spec, the CLI and the tables. A method's
// settings are a JSON object with one value per field, every field present once resolved; the object
// is part of the canonical spec (so of the task id) under the method's name. What a method does with
// its settings is worker/methods/ (the implementations' table, keyed by the same names).
//
// Adding a method: its fields and defaults here (one row), its implementation under worker/methods/
// (one row there); sweeps, specs, ids, tables and the CLI follow from the row.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pg::sweeps {

struct SettingField {
  enum class Type { integer, number, boolean, text };
  std::string key;                   // in the sweep file and the spec: "n_ctx"
  Type type = Type::integer;
  nlohmann::json default_value;      // of the field's type; for epochs-like fields 0 = "auto"
  std::string help;                  // what the value means, for --help and errors
  std::vector<std::string> choices;  // text fields: the allowed values (empty: any UTF-8 text)
  double minimum = 0;                // integer and number fields: the smallest allowed value
  double maximum = 1e9;              // integer fields: the largest allowed value
  bool exclusive_minimum = false;    // number fields: the value must exceed `minimum`
  bool accepts_auto = false;         // "auto" in a sweep file means 0: resolved per task
  std::string file_key;              // the sweep file's key when it differs from `key` ("csc")
  const std::string& name_in_file() const { return file_key.empty() ? key : file_key; }
};

struct MethodInfo {
  std::string name;   // in sweep files, specs and records: "coop"
  std::string label;  // in tables: "CoOp"
  // Trained on a few-shot sample: the task has shots and a seed. Zero-shot CLIP is not.
  bool trains = true;
  std::vector<SettingField> fields;
  // Checks across fields and task facts, and canonical forms, after every field was checked alone;
  // may be null.
  void (*resolve_combinations)(nlohmann::json& settings, const struct SettingsContext& context) = nullptr;
};

const std::vector<MethodInfo>& methods();
std::vector<std::string> method_names();
// A pg::Error listing the methods when `name` is not one of them.
const MethodInfo& find_method(const std::string& name);

// Task facts a method's settings may depend on (epochs by dataset and shots).
struct SettingsContext {
  std::string dataset;
  int shots = 0;
  std::string protocol;
};

// Checks `settings` (a JSON object) against the method's fields: unknown keys, types, ranges,
// choices, combinations; fills missing fields with their defaults and "auto" values from `context`.
// A pg::Error names the field ("task field 'lr'") and what is allowed.
nlohmann::json resolve_settings(const MethodInfo& method, nlohmann::json settings, const SettingsContext& context);

// The fields whose value differs from the default, as "key value" phrases for labels ("n_ctx 4",
// "CSC", "lr 0.01"); epochs named only when they differ from the method's schedule for the task.
std::vector<std::string> non_default_settings(const MethodInfo& method, const nlohmann::json& settings,
                                              const SettingsContext& context);

}  // namespace pg::sweeps
