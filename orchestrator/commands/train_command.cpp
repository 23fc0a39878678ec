// `promptgrid train`: one task (method × dataset × shots × seed) in this process.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <memory>

#include "common/error.h"
#include "common/strings.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/record_files.h"
#include "orchestrator/task_runner.h"
#include "orchestrator/torch_threads.h"

namespace pg::orchestrator {
namespace {

// Settings given on the command line, each converted to its field's type; a setting the method does
// not have is an error naming the flag's key and the method's settings.
nlohmann::json settings_from_text(const std::string& method_name,
                                  const std::vector<std::pair<std::string, std::string>>& given) {
  const sweeps::MethodInfo& method = sweeps::find_method(method_name);
  nlohmann::json settings = nlohmann::json::object();
  for (const auto& entry : given) {
    const std::string& key = entry.first;  // not a structured binding: the lambda below captures it
    const std::string& text = entry.second;
    const auto field = std::find_if(method.fields.begin(), method.fields.end(), [&](const sweeps::SettingField& f) {
      return f.key == key || f.name_in_file() == key;
    });
    if (field == method.fields.end()) {
      std::vector<std::string> valid;
      for (const auto& f : method.fields) valid.push_back(f.name_in_file());
      throw Error("setting '" + key + "' does not apply to method " + method_name + "; its settings are: " +
                  (valid.empty() ? std::string("(none)") : join(valid, ", ")));
    }
    nlohmann::json value = text;
    if (field->type != sweeps::SettingField::Type::text && !(field->accepts_auto && text == "auto")) {
      value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (value.is_discarded()) {
        throw Error("setting '" + key + "' is '" + text + "'; expected " +
                    (field->type == sweeps::SettingField::Type::boolean ? "true or false" : "a number"));
      }
    }
    settings[field->key] = value;
  }
  return settings;
}

}  // namespace

void add_train_command(CLI::App& app) {
  struct Arguments {
    RunnerOptions runner;
    std::string out_dir;
    sweeps::TaskSpec spec;
    std::vector<std::pair<std::string, std::string>> settings;  // key, text as given
    std::string targets;  // comma-separated, for the transfer protocols
    bool rerun = false;
    int threads = 0;
  };
  auto args = std::make_shared<Arguments>();
  auto* command = app.add_subcommand(
      "train",
      "Train and test one task on cached features: a prompt learner (CoOp, KgCoOp, CoCoOp), the linear probe or "
      "zero-shot CLIP. Writes the result record <out>/<task_id>.json and what was learned "
      "<out>/<task_id>.prompts.h5.");
  command->add_option("--features", args->runner.features_path, "Feature store (HDF5) with the dataset")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--dataset", args->spec.dataset, "Dataset name in the feature store, e.g. dtd")->required();
  command->add_option("--method", args->spec.method, join(sweeps::method_names(), " | "))->default_val("coop");
  command->add_option("--protocol", args->spec.protocol,
                      "fewshot (all classes) | base2novel (train on the base half, test on base and novel) | cross_dataset | "
                      "domain_generalization (train on --dataset, test on --targets)")
      ->default_val("fewshot");
  command->add_option("--targets", args->targets,
                      "cross_dataset / domain_generalization: the datasets of the store to test on, comma-separated "
                      "(e.g. dtd,eurosat or imagenet_sketch,imagenet_r)");
  command->add_option("--shots", args->spec.shots, "Training images per class (trained methods)")->default_val(16);
  command->add_option("--seed", args->spec.seed,
                      "Seed of the few-shot sample, context init and batch order (0 to 2^63 - 1)")
      ->default_val(1);
  // Method settings: the common ones as flags, any field of the method as --set key=value. Only what is
  // given goes into the spec; the method's defaults fill the rest (sweeps/method_settings.cpp).
  const std::vector<std::pair<std::string, std::string>> setting_flags = {
      {"--n-ctx", "n_ctx"}, {"--ctx-init", "ctx_init"}, {"--class-token-position", "class_token_position"},
      {"--epochs", "epochs"}, {"--batch-size", "batch_size"}, {"--lr", "lr"}, {"--precision", "precision"}};
  for (const auto& [flag, key] : setting_flags) {
    const std::string setting = key;
    command->add_option_function<std::string>(
        flag, [args, setting](const std::string& text) { args->settings.emplace_back(setting, text); },
        "Method setting '" + key + "' (see --set)");
  }
  command->add_flag_function("--csc", [args](int64_t) { args->settings.emplace_back("csc", "true"); },
                             "Class-specific context (CoOp: one context per class)");
  command->add_option_function<std::vector<std::string>>(
      "--set",
      [args](const std::vector<std::string>& items) {
        for (const auto& item : items) {
          const size_t equals = item.find('=');
          if (equals == std::string::npos || equals == 0) {
            throw CLI::ValidationError("--set", "'" + item + "' is not key=value, e.g. --set w=4");
          }
          args->settings.emplace_back(item.substr(0, equals), item.substr(equals + 1));
        }
      },
      "Any setting of the method as key=value (repeatable), e.g. --set w=8 for kgcoop; the fields of each method "
      "are in sweeps/method_settings.cpp");
  command->add_option("--clip", args->runner.checkpoint_path, "CLIP checkpoint: OpenAI .pt archive or safetensors")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--bpe", args->runner.vocab_path, "CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--out", args->out_dir, "Folder for the result record and learned prompt")->required();
  command->add_option("--device", args->runner.device, "cpu | cuda | cuda:N")->default_val("cpu");
  command->add_option("--max-sequences", args->runner.max_sequences,
                      "CoCoOp: prompt sequences (images x classes) per text-encoder pass, bounding memory; 0: one "
                      "image per pass on the CPU, 4096 sequences on a GPU")
      ->default_val(0)
      ->check(CLI::Range(int64_t{0}, int64_t{100'000'000}));
  command->add_flag("--rerun", args->rerun,
                    "Run the task even if its finished record exists (a failed rerun never replaces it)");
  add_threads_option(*command, args->threads);
  command->callback([args] {
    set_torch_threads(args->threads);
    args->spec.settings = settings_from_text(args->spec.method, args->settings);
    if (!args->targets.empty()) args->spec.targets = split(args->targets, ',');
    TaskRunner runner(args->runner);
    const sweeps::TaskSpec spec = runner.prepare(args->spec);
    nlohmann::json record;
    if (!args->rerun) {
      if (auto finished = find_finished_record(args->out_dir, spec.id(), spec.to_json())) {
        record = *finished;
        record["reused"] = true;
      }
    }
    if (record.is_null()) record = save_result_files(args->out_dir, runner.run(spec));
    const std::string record_path = args->out_dir + "/" + record["task_id"].get<std::string>() + ".json";
    if (record["status"] != "ok") {
      throw Error("task " + record["task_id"].get<std::string>() + " failed: " + record["error"].get<std::string>() +
                  " (record: " + record_path + ")");
    }
    std::cout << "task " << record["task_id"].get<std::string>() << " " << record["spec"]["method"].get<std::string>()
              << " " << record["spec"]["dataset"].get<std::string>();
    for (const auto& [name, value] : record["metrics"].items()) std::cout << " " << name << "=" << value.get<double>();
    std::cout << "\nrecord: " << record_path << std::endl;
    if (record.value("reused", false)) {
      std::cout << "(finished before with the same spec and inputs; --rerun runs it again)" << std::endl;
    }
    for (const auto& warning : record.value("warnings", nlohmann::json::array())) {
      std::cerr << "promptgrid: warning: " << warning.get<std::string>() << std::endl;
    }
  });
}

}  // namespace pg::orchestrator
