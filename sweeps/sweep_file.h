// Sweep files: a whole benchmark in one YAML file (DESIGN §3), expanded deterministically into tasks.
//
//   features: vitb16.h5            # paths relative to the sweep file
//   clip: ViT-B-16.pt
//   vocab: bpe_simple_vocab_16e6.txt.gz
//   protocol: fewshot              # fewshot | base2novel | cross_dataset | domain_generalization (a list runs each)
//   datasets: all                  # every dataset of the store with a train split, or a list
//   source: imagenet               # cross_dataset / domain_generalization: the dataset trained on
//   shots: [1, 2, 4, 8, 16]
//   seeds: [1, 2, 3]
//   methods:                       # the fields of each method: sweeps/method_settings.cpp
//     - name: zeroshot
//     - name: coop
//       n_ctx: 16                  # also ctx_init, csc, class_token_position, lr, epochs (auto | N),
//       lr: [0.002, 0.01]          #   batch_size, precision
//     - name: cocoop               # also kgcoop (w), linear_probe (search_steps)
//   search:                        # optional: N random configurations, deterministic from seed
//     samples: 8
//     seed: 1
//     space: {coop.lr: {log_uniform: [1e-4, 1e-1]}, coop.n_ctx: {choice: [4, 8, 16]}}
//   scale:                         # optional: how `run` packs small tasks and splits large ones (ScaleSettings)
//     pack_tasks: 8
//   slurm:                         # optional: defaults for `promptgrid slurm submit` (kSlurmKeys)
//     partition: gpu
//     gpus_per_node: 4
//
// A list value is a grid axis: the sweep is the Cartesian product of every list. Command-line
// overrides `key=value` (dotted keys, YAML values: `shots=[1,16]`, `methods.1.lr=0.01`) are applied to
// the YAML before anything is read from it. Every error names the file and line (or the override) and
// the key, and says what is allowed: an unknown key with the closest valid one, a wrong type, a path
// that does not exist, a dataset the store lacks, shots a dataset cannot provide.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweeps/dataset_facts.h"
#include "sweeps/task_spec.h"

namespace pg::sweeps {

// The keys a sweep file's `slurm:` section may set: defaults for the options of `slurm submit`
// (`gpus_per_node` is `--gpus-per-node`); the slurm/ folder checks their values.
extern const std::vector<std::string> kSlurmKeys;

struct SlurmDefault {
  std::string value;  // the scalar as written
  std::string where;  // "sweep.yaml:23 (slurm.partition)", for errors
};

// The `scale:` section: how `promptgrid run` fills its devices (orchestrator/scheduler.h). Not part of
// any task: a task's result is the same, to float rounding, however it ran.
struct ScaleSettings {
  // Tasks training fewer than pack_below_classes classes (a step too small to fill a device) train
  // together, pack_tasks at most, of one dataset, method and precision, while their estimated step
  // memory (sweeps/cost_model.h) sums to at most pack_memory_gb. pack_tasks: 1 turns packing off.
  int pack_tasks = 8;
  int64_t pack_below_classes = 100;
  double pack_memory_gb = 4;
  // Tasks training at least split_from_classes classes (ImageNet, SUN397) split their classes across
  // up to split_workers idle workers (MPI ranks; class-sharded CoOp). split_workers: 1 turns it off.
  int split_workers = 4;
  int64_t split_from_classes = 300;
};

// One concrete setting of one method (grid and search already expanded).
struct MethodSetting {
  std::string name;            // a method of sweeps/method_settings.h
  nlohmann::json settings;     // the fields the file gives (defaults are filled per task)
  std::string where;   // "sweep.yaml:12 (methods.1)", for errors
  std::vector<std::string> only_datasets;  // the entry's own `datasets`: it runs only on these (empty: all)
};

struct Sweep {
  std::string file;                    // the sweep file as given
  std::vector<std::string> overrides;  // as given
  std::string features, clip, vocab;   // absolute paths
  std::vector<std::string> protocols;
  bool all_datasets = false;
  std::vector<std::string> datasets;   // when not all_datasets, in the file's order
  std::vector<int> shots;
  std::vector<int64_t> seeds;
  std::vector<MethodSetting> methods;
  std::string datasets_where, shots_where;  // locations, for expansion errors
  // The transfer protocols (cross_dataset, domain_generalization) train on this dataset and test on
  // the others (sweeps/protocol.h); `datasets` is for fewshot and base2novel.
  std::string source = "imagenet";
  std::string source_where;
  // The `slurm:` section (not part of any task: it changes no task id).
  std::map<std::string, SlurmDefault> slurm;
  ScaleSettings scale;
  // The sweep with overrides applied and paths made absolute, as YAML: what DIR/sweep.yaml keeps.
  std::string resolved_yaml;
};

// Reads and checks a sweep file and applies the overrides; a pg::Error names file, line and key.
Sweep load_sweep(const std::string& path, const std::vector<std::string>& overrides = {});
// Parses sweep text (`file` names it in errors; relative paths are relative to `base_folder`).
Sweep parse_sweep(const std::string& text, const std::string& file, const std::string& base_folder,
                  const std::vector<std::string>& overrides = {});

// The tasks of a sweep over the datasets of its feature store, in a fixed order (protocol, dataset,
// method setting, shots, seed), each resolved (TaskSpec::resolve) and without duplicates. Unknown
// datasets and shots a dataset cannot provide are errors naming the sweep's line.
std::vector<TaskSpec> expand_sweep(const Sweep& sweep, const std::vector<DatasetFacts>& store);

// How many seeds the sweep saved at `path` (a run's DIR/sweep.yaml) asks for per cell; 0 when the file
// is missing or names none. What the tables flag cells against; reads nothing else of the file.
int seeds_asked(const std::string& path);

}  // namespace pg::sweeps
