// `promptgrid demo`: the built-in default. Writes the synthetic benchmark, runs zero-shot CLIP and CoOp
// over a few datasets × shots × seeds in this process, and prints the table researchers publish.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>

#include "common/error.h"
#include "common/strings.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/synthetic_benchmark.h"
#include "orchestrator/task_runner.h"
#include "orchestrator/torch_threads.h"
#include "results/tables.h"

namespace pg::orchestrator {
namespace {

std::vector<int> parse_int_list(const std::string& option, const std::string& text) {
  std::vector<int> values;
  for (const auto& part : split(text, ',')) {
    try {
      size_t used = 0;
      values.push_back(std::stoi(trim(part), &used));
      if (used != trim(part).size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      throw Error(option + " '" + text + "': '" + part + "' is not an integer; give a comma-separated list like 1,2,4");
    }
  }
  return values;
}

}  // namespace

void add_demo_command(CLI::App& app) {
  struct Arguments {
    std::string out_dir = "demo_out";
    std::string datasets = "eurosat,oxford_pets,dtd";
    std::string shots = "1,2,4";
    std::string seeds = "1,2,3";
    int threads = 0;
  };
  auto args = std::make_shared<Arguments>();
  auto* command = app.add_subcommand(
      "demo",
      "The built-in default: write the synthetic benchmark (no downloads, no GPU), run zero-shot CLIP and CoOp "
      "(CoOp's real schedule) on a few datasets × shots × seeds, and print the results table.");
  command->add_option("--out", args->out_dir, "Output folder (synthetic data, result records)")->default_val("demo_out");
  command->add_option("--datasets", args->datasets, "Comma-separated datasets")->default_val(args->datasets);
  command->add_option("--shots", args->shots, "Comma-separated shots")->default_val(args->shots);
  command->add_option("--seeds", args->seeds, "Comma-separated seeds")->default_val(args->seeds);
  add_threads_option(*command, args->threads);
  command->callback([args] {
    const auto start = std::chrono::steady_clock::now();
    set_torch_threads(args->threads);
    const std::vector<int> shots = parse_int_list("--shots", args->shots);
    const std::vector<int> seeds = parse_int_list("--seeds", args->seeds);
    SyntheticBenchmarkOptions synthetic;
    synthetic.out_dir = args->out_dir + "/synthetic";
    synthetic.datasets = split(args->datasets, ',');
    synthetic.force = true;  // the demo owns <out>/synthetic and writes it anew (it is deterministic)
    const SyntheticBenchmarkFiles files = write_synthetic_benchmark(synthetic);

    RunnerOptions runner_options;
    runner_options.features_path = files.features;
    runner_options.checkpoint_path = files.checkpoint;
    runner_options.vocab_path = files.vocab;
    runner_options.out_dir = args->out_dir + "/results";
    TaskRunner runner(runner_options);

    std::vector<sweeps::TaskSpec> tasks;
    for (const auto& dataset : synthetic.datasets) {
      sweeps::TaskSpec zeroshot;
      zeroshot.method = "zeroshot";
      zeroshot.dataset = dataset;
      tasks.push_back(zeroshot);
      for (int k : shots) {
        for (int seed : seeds) {
          sweeps::TaskSpec coop;
          coop.dataset = dataset;
          coop.shots = k;
          coop.seed = seed;
          tasks.push_back(coop);
        }
      }
    }
    std::vector<nlohmann::json> records;
    for (size_t i = 0; i < tasks.size(); ++i) {
      const nlohmann::json record = runner.run(tasks[i]);
      const auto& spec = record["spec"];
      std::string line = "[" + std::to_string(i + 1) + "/" + std::to_string(tasks.size()) + "] " +
                         results::method_label(spec) + " " + spec["dataset"].get<std::string>();
      if (spec.contains("shots")) {
        const int shots = spec["shots"].get<int>();
        line += " " + std::to_string(shots) + (shots == 1 ? " shot" : " shots") + ", seed " +
                std::to_string(spec["seed"].get<int64_t>());
      }
      if (record["status"] == "ok") {
        char accuracy[32];
        std::snprintf(accuracy, sizeof accuracy, "%.2f%%", record["metrics"]["accuracy"].get<double>());
        line += ": " + std::string(accuracy) +
                (record.value("reused", false)
                     ? std::string(" (finished before)")
                     : " in " + std::to_string(static_cast<int>(record["timings"]["total_s"].get<double>() + 0.5)) + " s");
      } else {
        line += ": FAILED: " + record["error"].get<std::string>();
      }
      std::cerr << line << std::endl;
      records.push_back(record);
    }
    std::cout << "\n" << results::fewshot_table_markdown(records);
    const std::string failures = results::failures_markdown(records);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "\n" << tasks.size() << " tasks in " << static_cast<int>(seconds + 0.5) << " s on "
              << runner.device_description() << "; records in " << runner_options.out_dir << std::endl;
    if (!failures.empty()) throw Error("some demo tasks failed:\n" + failures);
  });
}

}  // namespace pg::orchestrator
