// `promptgrid synth`: writes the built-in synthetic benchmark (random CLIP + feature store + texture images).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "common/strings.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/synthetic_benchmark.h"
#include "orchestrator/torch_threads.h"

namespace pg::orchestrator {

void add_synth_command(CLI::App& app) {
  struct Arguments {
    SyntheticBenchmarkOptions options;
    std::string datasets;
    int threads = 0;
  };
  auto args = std::make_shared<Arguments>();
  auto* command = app.add_subcommand(
      "synth",
      "Write a small synthetic benchmark: a random CLIP text tower (safetensors, byte-level vocabulary) and a "
      "feature store of the 11 benchmark datasets (real class counts) whose image features come from a hidden "
      "context, so that prompt learning has something to find, plus test-only shifted copies of ImageNet "
      "(imagenet_v2, imagenet_sketch, imagenet_a, imagenet_r) for the domain-generalization protocol; and a small "
      "image dataset of textures (images/, split_zhou_DescribableTextures.json) for `features extract`.");
  command->add_option("--out", args->options.out_dir, "Output folder")->required();
  command->add_option("--seed", args->options.seed, "Seed of every random draw")->default_val(2024);
  command->add_option("--datasets", args->datasets, "Comma-separated subset of the datasets (default: all 11)");
  command->add_option("--max-classes", args->options.max_classes,
                      "Cap every dataset's classes at this many (0: the real counts), for quick runs")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  command->add_option("--width", args->options.width, "Text-tower width")->default_val(64);
  command->add_option("--layers", args->options.layers, "Text-tower layers")->default_val(2);
  command->add_option("--noise", args->options.noise, "Image-feature noise, relative to the nearest-class distance")
      ->default_val(args->options.noise);
  command->add_option("--context-std", args->options.hidden_context_std,
                      "Std of the hidden context's vectors (larger: zero-shot prompts are further from the truth)")
      ->default_val(args->options.hidden_context_std);
  command->add_flag("--force", args->options.force, "Replace the files of an earlier benchmark in --out");
  add_threads_option(*command, args->threads);
  command->callback([args] {
    set_torch_threads(args->threads);
    if (!args->datasets.empty()) args->options.datasets = split(args->datasets, ',');
    const SyntheticBenchmarkFiles files = write_synthetic_benchmark(args->options);
    std::cout << "checkpoint: " << files.checkpoint << "\nvocabulary: " << files.vocab
              << "\nfeatures:   " << files.features << "\nimages:     " << files.images
              << "\nsplit file: " << files.split_file << std::endl;
  });
}

}  // namespace pg::orchestrator
