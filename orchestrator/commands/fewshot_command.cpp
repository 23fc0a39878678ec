// `promptgrid fewshot`: prints the few-shot sample CoOp/Dassl would draw from a split file for a
// shots/seed setting (optionally restricted to the base or novel classes, as CoCoOp does), so users
// can check a split against published indices or feed it to other tools.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "orchestrator/commands/commands.h"
#include "sweeps/class_split.h"
#include "sweeps/fewshot.h"
#include "sweeps/split_file.h"

namespace pg::orchestrator {
namespace {

struct FewShotArguments {
  std::string split_path;
  int shots = 0;
  int64_t seed = 0;
  std::string subsample = "all";
};

// The relpaths of the picked items whose class survives the subsample, in sampling order.
nlohmann::json relpaths(const std::vector<sweeps::SplitItem>& items, const std::vector<size_t>& picked,
                        const sweeps::ClassSelection& selection) {
  std::vector<sweeps::LabelledIndex> labelled;
  labelled.reserve(picked.size());
  for (size_t i : picked) labelled.push_back({i, items[i].label});
  nlohmann::json paths = nlohmann::json::array();
  for (const sweeps::LabelledIndex& kept : sweeps::apply_class_selection(selection, labelled)) {
    paths.push_back(items[kept.index].relpath);
  }
  return paths;
}

void print_few_shot(const FewShotArguments& args) {
  const sweeps::Subsample subsample = sweeps::parse_subsample(args.subsample);
  const sweeps::SplitFile split = sweeps::read_split_file(args.split_path);
  const sweeps::FewShotSample sample = sweeps::sample_few_shot(split.train, split.val, args.shots, args.seed);
  std::vector<int> train_labels;
  train_labels.reserve(sample.train.size());
  for (size_t i : sample.train) train_labels.push_back(split.train[i].label);
  const sweeps::ClassSelection selection = sweeps::select_classes(train_labels, subsample);
  const nlohmann::json output = {{"train", relpaths(split.train, sample.train, selection)},
                                 {"val", relpaths(split.val, sample.val, selection)}};
  std::cout << output.dump() << std::endl;
}

}  // namespace

void add_fewshot_command(CLI::App& app) {
  auto args = std::make_shared<FewShotArguments>();
  auto* command = app.add_subcommand(
      "fewshot",
      "Print the few-shot sample CoOp/Dassl draws from a split file: {\"train\": [relpaths], \"val\": [relpaths]} "
      "in sampling order (K per class from train, min(K, 4) from val, Python's random with the seed), "
      "optionally restricted to CoCoOp's base or novel half of the classes.");
  command->add_option("--split", args->split_path, "CoOp split file (split_zhou_<Name>.json)")->required();
  command->add_option("--shots", args->shots, "Images per class (K >= 1; CoOp uses 1, 2, 4, 8, 16)")->required();
  command->add_option("--seed", args->seed, "Seed of Python's random (CoOp uses 1, 2, 3)")->required();
  command->add_option("--subsample", args->subsample,
                      "all | base | new: keep all classes, or only the first (base) or second (new) half of the "
                      "sorted train labels")
      ->default_val("all")
      ->check(CLI::IsMember({"all", "base", "new"}));
  command->callback([args] { print_few_shot(*args); });
}

}  // namespace pg::orchestrator
