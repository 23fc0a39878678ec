// `promptgrid plan SWEEP.yaml [key=value ...]`: what a sweep would run and what it would cost; runs nothing.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <tuple>

#include "orchestrator/commands/commands.h"
#include "orchestrator/store_facts.h"
#include "results/tables.h"
#include "storage/feature_store.h"
#include "sweeps/cost_model.h"
#include "sweeps/sweep_file.h"
#include "text/tokenizer.h"

namespace pg::orchestrator {
namespace {

std::string engineering(double value, const char* unit) {
  const char* prefixes[] = {"", "k", "M", "G", "T", "P", "E"};
  int at = 0;
  while (value >= 1000 && at < 6) value /= 1000, ++at;
  char text[48];
  std::snprintf(text, sizeof text, "%.3g %s%s", value, prefixes[at], unit);
  return text;
}

std::string hours_text(double seconds) {
  char text[48];
  if (seconds < 120) {
    std::snprintf(text, sizeof text, "%.0f s", seconds);
  } else if (seconds < 7200) {
    std::snprintf(text, sizeof text, "%.1f min", seconds / 60);
  } else {
    std::snprintf(text, sizeof text, "%.1f h", seconds / 3600);
  }
  return text;
}

}  // namespace

void add_plan_command(CLI::App& app) {
  struct Arguments {
    std::string sweep_file;
    std::vector<std::string> overrides;
  };
  auto args = std::make_shared<Arguments>();
  auto* command = app.add_subcommand(
      "plan", "Print what a sweep file would run: tasks per method, dataset and shots, and the estimated cost of "
              "each and in total (text-encoder FLOPs). Runs nothing.");
  command->add_option("sweep", args->sweep_file, "Sweep file (YAML)")->required()->check(CLI::ExistingFile);
  command->add_option("overrides", args->overrides, "Overrides key=value, as for run");
  command->callback([args] {
    const sweeps::Sweep sweep = sweeps::load_sweep(args->sweep_file, args->overrides);
    const storage::FeatureStoreReader store(sweep.features);
    const text::Tokenizer tokenizer = text::Tokenizer::from_vocab_file(sweep.vocab);
    const std::vector<sweeps::DatasetFacts> facts = read_dataset_facts(store, tokenizer);
    std::map<std::string, const sweeps::DatasetFacts*> facts_of;
    for (const auto& f : facts) facts_of[f.name] = &f;

    struct Group {
      size_t tasks = 0;
      double flops = 0;
    };
    // (protocol, method label, dataset, shots) in the sweep's order of first appearance.
    using Key = std::tuple<std::string, std::string, std::string, int>;
    std::vector<Key> order;
    std::map<Key, Group> groups;
    double total_flops = 0;
    const std::vector<sweeps::TaskSpec> tasks = sweeps::expand_sweep(sweep, facts);
    const sweeps::CostCalibration prior;
    for (const auto& spec : tasks) {
      const Key key{spec.protocol, results::method_label(spec.to_json()), spec.dataset,
                    spec.method_info().trains ? spec.shots : 0};
      if (!groups.count(key)) order.push_back(key);
      Group& group = groups[key];
      const double flops = sweeps::estimated_flops(spec, *facts_of.at(spec.dataset));
      ++group.tasks;
      group.flops += flops;
      total_flops += flops;
    }
    std::cout << "sweep " << sweep.file << ": " << tasks.size() << " tasks on " << sweep.features << "\n\n"
              << "| protocol | method | dataset | shots | tasks | per task | time per task* |\n"
              << "| --- | --- | --- | ---: | ---: | ---: | ---: |\n";
    for (const Key& key : order) {
      const Group& group = groups[key];
      const double each = group.flops / static_cast<double>(group.tasks);
      std::cout << "| " << std::get<0>(key) << " | " << std::get<1>(key) << " | " << std::get<2>(key) << " | "
                << (std::get<3>(key) == 0 ? std::string("-") : std::to_string(std::get<3>(key))) << " | "
                << group.tasks << " | " << engineering(each, "FLOP") << " | " << hours_text(prior.seconds(each))
                << " |\n";
    }
    std::cout << "\ntotal: " << tasks.size() << " tasks, " << engineering(total_flops, "FLOP") << ", about "
              << hours_text(prior.seconds(total_flops)) << " on one worker\n"
              << "* at 10 GFLOP/s (one CPU worker); `run` calibrates this from the tasks it finishes.\n";
  });
}

}  // namespace pg::orchestrator
