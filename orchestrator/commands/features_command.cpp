// `promptgrid features`: builds and inspects feature stores (DESIGN §3).
//   extract: encodes a dataset's images (features_extract_command.cpp).
//   import: one dataset's CLIP image features, extracted elsewhere and saved as one .npy per split
//           (rows in split-file order), plus the split file's labels, paths and class names, into a
//           store; --append adds a dataset to an existing store of the same backbone.
//   info:   a readable summary of a store.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "common/utf8.h"
#include "orchestrator/commands/commands.h"
#include "storage/feature_store.h"
#include "storage/npy.h"
#include "sweeps/catalog.h"
#include "sweeps/split_file.h"

namespace pg::orchestrator {
namespace {

struct ImportArguments {
  std::string split_path;
  std::string dataset;
  std::string out;
  std::string backbone;
  std::map<std::string, std::string> npy_paths;  // split -> .npy
  std::string train_views_path;
  std::optional<std::string> prompt_template;
  std::string dtype = "float16";
  bool append = false;
  std::string source;  // a test-only dataset: the dataset whose classes (or a subset) and images it shifts
};

const std::vector<std::string> kSplits = {"train", "val", "test"};

// One split's features from its .npy: [N, D] with N the split file's entry count for that split.
storage::SplitFeatures read_split_features(const ImportArguments& args, const sweeps::SplitFile& split_file,
                                           const std::string& split) {
  const std::string& npy_path = args.npy_paths.at(split);
  storage::NpyArray array = storage::read_npy(npy_path, 2);
  const std::vector<sweeps::SplitItem>& items = split_file.split(split);
  if (array.rows() != static_cast<int64_t>(items.size())) {
    throw Error(npy_path + ": has " + std::to_string(array.rows()) + " rows, but split file " + args.split_path +
                " has " + std::to_string(items.size()) + " " + split +
                " entries; save one feature row per entry, in split-file order");
  }
  storage::SplitFeatures features;
  features.rows = array.rows();
  features.dim = array.cols();
  features.features = std::move(array.values);
  features.labels.reserve(items.size());
  features.paths.reserve(items.size());
  for (const auto& item : items) {
    features.labels.push_back(item.label);
    features.paths.push_back(item.relpath);
  }
  return features;
}

// The augmented views of the training images: a .npy of shape [V, N_train, D].
void add_train_views(const std::string& views_path, storage::SplitFeatures& train) {
  storage::NpyArray views = storage::read_npy(views_path);
  if (views.shape.size() != 3 || views.shape[0] < 1 || views.shape[1] != train.rows ||
      views.shape[2] != train.dim) {
    throw Error(views_path + ": has shape " + format_shape(views.shape) + ", expected [V, " +
                std::to_string(train.rows) + ", " + std::to_string(train.dim) +
                "]: V >= 1 augmented views of each training image, in split-file order");
  }
  train.num_views = views.shape[0];
  train.views = std::move(views.values);
}

void import_features(const ImportArguments& args) {
  // Read and check every input before touching the store, so a mistake leaves it as it was.
  // A test-only dataset (--source) has a test split alone; any other has all three.
  const std::vector<std::string> splits =
      args.source.empty() ? kSplits : std::vector<std::string>{"test"};
  for (const auto& split : kSplits) {
    const bool wanted = std::find(splits.begin(), splits.end(), split) != splits.end();
    if (wanted && args.npy_paths.at(split).empty()) {
      throw Error("--" + split + " is missing: give the " + split + " features (.npy)" +
                  (args.source.empty() ? std::string("; a test-only dataset takes --source instead") : std::string()));
    }
    if (!wanted && !args.npy_paths.at(split).empty()) {
      throw Error("--" + split + " was given with --source " + args.source +
                  ": a test-only dataset has a test split alone; drop --" + split);
    }
  }
  const std::string prompt_template = sweeps::store_template(args.prompt_template, args.dataset, args.source);
  const sweeps::SplitFile split_file = sweeps::read_split_file(args.split_path);
  storage::DatasetFeatures dataset;
  dataset.name = args.dataset;
  dataset.classnames = sweeps::classnames_by_label(split_file);
  dataset.prompt_template = prompt_template;
  dataset.source = args.source;
  for (const auto& split : splits) dataset.splits[split] = read_split_features(args, split_file, split);
  const int64_t embed_dim = dataset.splits.at(splits.front()).dim;
  for (const auto& split : splits) {
    if (dataset.splits.at(split).dim != embed_dim) {
      throw Error(args.npy_paths.at(split) + ": has " + std::to_string(dataset.splits.at(split).dim) +
                  " columns, but " + args.npy_paths.at(splits.front()) + " has " + std::to_string(embed_dim) +
                  "; every split must come from the same backbone");
    }
  }
  if (!args.train_views_path.empty()) {
    if (!args.source.empty()) throw Error("--train-views was given with --source: a test-only dataset has no train split");
    add_train_views(args.train_views_path, dataset.splits.at("train"));
  }
  if (!args.append && file_exists(args.out)) {
    throw Error(args.out + ": already exists; pass --append to add " + args.dataset +
                " to it, or remove it first to start a new store");
  }
  require_utf8(args.dataset, "--dataset", "name the dataset in UTF-8");

  const storage::FeatureDtype dtype =
      args.dtype == "float32" ? storage::FeatureDtype::float32 : storage::FeatureDtype::float16;
  storage::FeatureStoreWriter writer(args.out, args.backbone, embed_dim, dtype,
                                     args.append ? storage::WriteMode::append : storage::WriteMode::create);
  writer.write_dataset(dataset);
  writer.close();
  std::cout << args.out << ": wrote " << args.dataset << " (" << dataset.classnames.size() << " classes; rows:";
  for (size_t i = 0; i < splits.size(); ++i) {
    std::cout << (i ? ", " : " ") << splits[i] << " " << dataset.splits.at(splits[i]).rows;
  }
  std::cout << "; D = " << embed_dim << ", " << args.dtype
            << (args.source.empty() ? std::string() : ", test-only with the classes of " + args.source) << ")\n";
}

void print_info(const std::string& path) {
  const storage::FeatureStoreReader reader(path);
  const std::vector<std::string> datasets = reader.datasets();
  std::cout << path << "\n"
            << "  backbone:  " << reader.backbone() << "\n"
            << "  embed_dim: " << reader.embed_dim() << "\n"
            << "  datasets:  " << datasets.size() << "\n";
  for (const auto& name : datasets) {
    const storage::DatasetSummary summary = reader.summary(name);
    reader.validate(name);  // every row, label, path and view: info accepts exactly what training reads
    std::vector<std::string> rows;
    for (const auto& split : kSplits) {
      const auto found = summary.split_rows.find(split);
      if (found != summary.split_rows.end()) rows.push_back(split + " " + std::to_string(found->second));
    }
    std::cout << "\n" << name << "\n"
              << "  classes:  " << summary.num_classes << "\n"
              << "  template: \"" << summary.prompt_template << "\"\n"
              << "  rows:     " << join(rows, ", ") << "\n";
    if (!summary.source.empty()) std::cout << "  source:   " << summary.source << " (test-only, its classes by name)\n";
    if (summary.split_rows.count("train")) std::cout << "  views:    " << summary.train_views << " per training image\n";
    if (!summary.split_skipped.empty()) {
      std::vector<std::string> skipped;
      for (const auto& [split, count] : summary.split_skipped) skipped.push_back(split + " " + std::to_string(count));
      std::cout << "  skipped:  " << join(skipped, ", ") << " unreadable image(s) of the split file, left out\n";
    }
    std::cout << "  dtype:    " << summary.dtype << "\n";
  }
}

void add_import_command(CLI::App& features) {
  auto args = std::make_shared<ImportArguments>();
  auto* command = features.add_subcommand(
      "import",
      "Add one dataset's CLIP image features to a feature store. Features come as one .npy per split "
      "([N, D] float32/float16/float64, one row per split-file entry in split-file order); labels, image "
      "paths and class names come from the CoOp split file.");
  command->add_option("--split", args->split_path, "CoOp split file (split_zhou_<Name>.json)")->required();
  command->add_option("--dataset", args->dataset, "Dataset name in the store (e.g. dtd, oxford_pets)")->required();
  command->add_option("--out", args->out, "Feature store to create (or extend with --append), e.g. features.h5")
      ->required();
  command->add_option("--backbone", args->backbone, "CLIP backbone the features came from (e.g. ViT-B/16, RN50)")
      ->required();
  for (const auto& split : kSplits) {
    command->add_option("--" + split, args->npy_paths[split], split + " features, [N_" + split + ", D] .npy");
  }
  command->add_option("--train-views", args->train_views_path,
                      "Optional augmented training views, [V, N_train, D] .npy (one view is drawn per epoch)");
  command->add_option("--template", args->prompt_template,
                      "Zero-shot prompt template with {} for the class name; defaults to the benchmark "
                      "dataset's CoOp template");
  command->add_option("--dtype", args->dtype, "Storage precision: float16 (half the size) or float32")
      ->default_val("float16")
      ->check(CLI::IsMember({"float16", "float32"}));
  command->add_option("--source", args->source,
                      "A test-only dataset of the domain-generalization protocol (imagenet_sketch...): the dataset "
                      "whose classes it uses, all or a subset by name (e.g. imagenet); then only --test is given");
  command->add_flag("--append", args->append,
                    "Add the dataset to an existing store (same backbone and D; the dataset must be new)");
  command->callback([args] { import_features(*args); });
}

void add_info_command(CLI::App& features) {
  auto path = std::make_shared<std::string>();
  auto* command = features.add_subcommand(
      "info", "Summarise a feature store: backbone, embed_dim and, per dataset, classes, template, rows per "
              "split, augmented views and storage dtype. Validates the whole layout on the way.");
  command->add_option("file", *path, "Feature store (.h5)")->required();
  command->callback([path] { print_info(*path); });
}

}  // namespace

void add_features_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "features", "Build and inspect feature stores: CLIP image features cached in HDF5, one file per backbone");
  command->require_subcommand(1);
  add_import_command(*command);
  add_features_extract_command(*command);
  add_info_command(*command);
}

}  // namespace pg::orchestrator
