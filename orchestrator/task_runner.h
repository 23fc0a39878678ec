// Runs tasks (sweeps/task_spec.h) in this process: samples the few shots, trains the prompt, evaluates
// on the few-shot validation sample and the test split, and returns the result record with the learned
// prompt. It writes nothing: where a result goes is the caller's (record_files.h for `train`, the
// coordinator's journal for `run`), so a result has one writer.
//
// A TaskRunner is what a worker keeps loaded across tasks: the feature store, the tokenizer, the text
// encoder (one copy per precision in use), the train and val splits it has read, and the content
// digests of the weights and datasets (part of every task's spec and id). The test split is streamed in
// chunks, so memory stays bounded whatever its size. Errors inside a task become a failed record
// carrying the reason and its kind; the runner goes on with the next task.
//
// Result record (JSON):
//   task_id, status ("ok" | "failed" | "interrupted": stopped on request, checkpoint saved), error and error_kind (when failed: user | retryable | internal),
//   spec (the canonical task spec), metrics {accuracy} (fewshot) or {base, novel, harmonic}
//   (base2novel), in percent, plus val_accuracy for trained methods (on the few-shot validation sample:
//   min(K, 4) shots per class, of the classes trained on); not_applicable lists the protocol's metrics
//   the method cannot have (the linear probe's novel and harmonic),
//   counts {classes, train, test...}, train {epochs, steps, final_loss, loss_per_epoch, lr_per_epoch},
//   sample {train_rows, val_rows: the few-shot sample's rows of the store's train and val splits in
//   sampling order; paths_xxh64: XXH64 of their image paths in that order} for trained methods,
//   warnings (what a reader of the numbers must know, e.g. classes missing from the train split),
//   timings {setup_s, train_s, eval_s, total_s}, features, checkpoint,
//   device, software {promptgrid, libtorch, hdf5}, host, finished_at (UTC, ISO 8601).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "storage/feature_store.h"
#include "storage/prompt_store.h"
#include "sweeps/task_spec.h"

namespace pg::worker {
class Collectives;
}

namespace pg::orchestrator {

struct RunnerOptions {
  std::string features_path;    // feature store (HDF5)
  std::string checkpoint_path;  // CLIP checkpoint: TorchScript .pt or safetensors
  std::string vocab_path;       // BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)
  std::string device = "cpu";   // "cpu", "cuda", "cuda:1"
  // Where CoOp tasks checkpoint (<task_id>.h5) and resume from; empty: no checkpoints.
  std::string checkpoint_dir;
  // Seconds between checkpoints of one task (0: after every epoch).
  double checkpoint_every_s = 60;
  // Prompt sequences per text-encoder pass for per-image prompts (CoCoOp: B images x C classes).
  // 0: automatic, one image per pass on the CPU (bigger passes measured slower there: see README) and
  // 4096 sequences on a GPU (where one image's prompts leave it idle).
  int64_t max_sequences = 0;
  // Asked before every training step: when it says stop (a pre-emption signal, the coordinator asking),
  // the task saves a checkpoint at its last finished epoch and ends with status "interrupted" (never
  // journaled; the next run resumes it). Empty: never.
  std::function<bool()> stop_requested;
};

struct TaskResult {
  nlohmann::json record;
  std::vector<storage::NamedTensor> prompts;  // what the method learned (context, Meta-Net, probe weights)
};

// Without LibTorch in this header (a pimpl): the CLI and the coordinator include it.
class TaskRunner {
 public:
  // Opens the store and the checkpoint and checks they fit together (embed_dim, vocabulary size).
  explicit TaskRunner(const RunnerOptions& options);
  ~TaskRunner();

  // Checks a spec completely and completes it with what it runs on (the store's backbone, the content
  // digests): the spec whose id names the task. A pg::Error (nothing has run) when the spec is invalid
  // or names other inputs than this runner's.
  sweeps::TaskSpec prepare(sweeps::TaskSpec spec);
  // Runs a prepared task. Never throws for the task's own errors: they give status "failed".
  TaskResult run(const sweeps::TaskSpec& prepared);
  // Prepared tasks of one method that can train packed (worker/methods/registry.h) and one precision,
  // trained together: one text-encoder pass per step for all. Each result equals its task's run()
  // (within float rounding) and is its own record, with "pack" {tasks, position}; timings.train_s is
  // the pack's.
  std::vector<TaskResult> run_pack(const std::vector<sweeps::TaskSpec>& prepared);
  // A prepared task trained across the ranks of `group` (every rank calls this with the same task):
  // its classes split among them. The group stops together when any rank is asked to stop. When its
  // training ends, succeeded or failed, every rank calls `trained_together` (where the caller checks
  // that the whole group got there). Rank 0 then saves the checkpoints, evaluates and returns the
  // record and the prompts; the other ranks return a record without metrics.
  TaskResult run_sharded(const sweeps::TaskSpec& prepared, worker::Collectives& group,
                         const std::function<void()>& trained_together);

  // What the scheduler needs of a prepared task: the key of the tasks it may train with in a pack
  // (dataset, method, precision; empty when its method or a pure half precision trains alone), and
  // whether its method can split it across ranks (run_sharded; not a class-specific context, whose
  // rows are per class, nor a pure half precision).
  std::string pack_key(const sweeps::TaskSpec& prepared) const;
  bool can_split(const sweeps::TaskSpec& prepared) const;

  const storage::FeatureStoreReader& store() const;
  const std::string& device() const;  // as given: "cpu", "cuda:1"
  std::string device_description() const;
  // XXH64 of the text tower's weights as loaded (names, shapes, float32 values, logit scale).
  const std::string& checkpoint_digest() const;
  // XXH64 of one dataset of the store (class names, template, every split's rows, labels, paths, views).
  const std::string& features_digest(const std::string& dataset);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pg::orchestrator
