// Runs tasks (sweeps/task_spec.h) in this process: samples the few shots, trains the prompt, evaluates
// on the test split, saves the learned context and writes the task's result record.
//
// A TaskRunner is what a worker keeps loaded across tasks: the feature store, the tokenizer, the text
// encoder (one copy per precision in use), the train and val splits it has read, and the content
// digests of the weights and datasets (part of every task's spec and id). The test split is streamed in
// chunks, so memory stays bounded whatever its size. Errors inside a task become a failed record
// carrying the reason; the runner goes on with the next task.
//
// Result record (JSON, `<out>/<task_id>.json`, written atomically):
//   task_id, status ("ok" | "failed"), error (when failed), spec (the canonical task spec),
//   metrics {accuracy} (fewshot) or {base, novel, harmonic} (base2novel), in percent,
//   counts {classes, train, test...}, train {epochs, steps, final_loss, loss_per_epoch},
//   warnings (what a reader of the numbers must know, e.g. classes missing from the train split),
//   timings {setup_s, train_s, eval_s, total_s}, prompt_file, features, checkpoint,
//   device, software {promptgrid, libtorch, hdf5}, host, finished_at (UTC, ISO 8601).
// A finished ("ok") record is never replaced by a failed run; the learned prompt file is written just
// before its record, and removed again if the record cannot be written.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "storage/feature_store.h"
#include "sweeps/task_spec.h"
#include "text/tokenizer.h"
#include "worker/clip/text_encoder.h"

namespace pg::orchestrator {

struct RunnerOptions {
  std::string features_path;    // feature store (HDF5)
  std::string checkpoint_path;  // CLIP checkpoint: TorchScript .pt or safetensors
  std::string vocab_path;       // BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)
  std::string out_dir;          // result records and learned prompts go here
  std::string device = "cpu";   // "cpu", "cuda", "cuda:1"
};

class TaskRunner {
 public:
  // Opens the store and the checkpoint and checks they fit together (embed_dim, vocabulary size).
  explicit TaskRunner(const RunnerOptions& options);

  // Runs one task and writes its record; returns the record. A task whose finished record exists is
  // not run again (the record comes back with "reused": true) unless `rerun`. Never throws for a
  // task's own errors (they give status "failed"); throws pg::Error only when the record cannot be
  // written.
  nlohmann::json run(sweeps::TaskSpec spec, bool rerun = false);

  const storage::FeatureStoreReader& store() const { return store_; }
  std::string device_description() const;
  // XXH64 of the text tower's weights as loaded (names, shapes, float32 values, logit scale).
  const std::string& checkpoint_digest() const { return checkpoint_digest_; }
  // XXH64 of one dataset of the store (class names, template, every split's rows, labels, paths, views).
  const std::string& features_digest(const std::string& dataset);

 private:
  struct Split;
  struct Outcome;
  const Split& split(const std::string& dataset, const std::string& name);
  worker::TextEncoder& encoder_for(torch::Dtype dtype);
  void fill_inputs(sweeps::TaskSpec& spec);
  Outcome run_unchecked(const sweeps::TaskSpec& spec, nlohmann::json& record);

  RunnerOptions options_;
  storage::FeatureStoreReader store_;
  text::Tokenizer tokenizer_;
  torch::Device device_;
  std::map<torch::Dtype, worker::TextEncoder> encoders_;
  std::map<std::string, std::shared_ptr<Split>> splits_;  // "<dataset>/<split>"
  std::string checkpoint_digest_;
  std::map<std::string, std::string> features_digests_;
};

// Parses "cpu", "cuda", "cuda:N"; CUDA requested without a CUDA build or device is a pg::Error.
torch::Device parse_device(const std::string& name);

}  // namespace pg::orchestrator
