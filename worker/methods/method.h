// The one interface every method sits behind (DESIGN §2, worker/methods/): zero-shot CLIP, CoOp,
// KgCoOp, CoCoOp, the linear probe. The task runner (orchestrator/) gives a method its task, the
// method trains (or not) and hands back a TrainedMethod, from which the runner asks a classifier for
// every class list it evaluates: the classes trained on, the novel classes, another dataset's. The
// settings were checked by sweeps/method_settings.h; a method reads them, it does not re-validate.
//
// Adding a method: a folder here with its files, and one row in registry.cpp (plus its settings' row
// in sweeps/method_settings.cpp).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "storage/prompt_store.h"
#include "text/tokenizer.h"
#include "worker/clip/text_encoder.h"
#include "worker/collectives/collectives.h"
#include "worker/prompt_training.h"

namespace pg::worker {

// What a task gives its method.
struct MethodTask {
  nlohmann::json settings;              // resolved: every field of the method (sweeps/method_settings.h)
  std::vector<std::string> classnames;  // the classes trained on; label i is classnames[i]
  std::string prompt_template;          // the dataset's hand-crafted template, "a photo of a {}."
  TrainingData train;                   // the few-shot train sample (empty for zero-shot CLIP)
  TrainingData val;                     // the few-shot validation sample (features, labels; may be empty)
  uint64_t seed = 1;
  // SGD-trained methods: resume from a saved state, a hook after each epoch (checkpoints), and a stop
  // request asked before each step (TrainOptions::stop_requested).
  const TrainState* resume = nullptr;
  std::function<void(const TrainState&)> on_epoch_end;
  std::function<bool()> stop_requested;
};

// What a method runs on, kept loaded across tasks by the runner.
struct MethodEnvironment {
  const text::Tokenizer& tokenizer;
  // The text tower in a compute dtype, on `device` (one copy per dtype, loaded on first use).
  std::function<TextEncoder&(torch::Dtype)> encoder;
  torch::Device device = torch::kCPU;
  // Prompt sequences per pass through the text encoder, for methods whose prompts are per image
  // (CoCoOp: B images x C classes): bounds memory whatever the batch and class count.
  int64_t max_sequences = 4096;
};

// A classifier over a fixed list of classes.
class Classifier {
 public:
  virtual ~Classifier() = default;
  // image_features [N, E] (float, on the environment's device) -> logits [N, C] float32, no autograd.
  virtual torch::Tensor logits(const torch::Tensor& image_features) = 0;
  virtual int64_t num_classes() const = 0;
};

// A trained method (or zero-shot CLIP, trained on nothing).
class TrainedMethod {
 public:
  virtual ~TrainedMethod() = default;
  // A classifier over `classnames` (those trained on, novel ones, another dataset's), prompted with
  // `prompt_template` where the method uses templates; nullptr when the method cannot classify these
  // classes (the linear probe, or a class-specific context, on classes it was not trained on).
  virtual std::unique_ptr<Classifier> classifier(const std::vector<std::string>& classnames,
                                                 const std::string& prompt_template) = 0;

  nlohmann::json report = nlohmann::json::object();  // the record's "train" section
  std::vector<storage::NamedTensor> learned;          // what is saved per task: context, Meta-Net, weights
};

using MethodRunner = std::function<std::unique_ptr<TrainedMethod>(const MethodTask&, MethodEnvironment&)>;

// One task's outcome when several trained together (a pack): exactly one of the three is set.
struct PackedMethodResult {
  std::unique_ptr<TrainedMethod> trained;  // it finished
  std::string error;                       // it failed alone (its data, a non-finite loss)
  std::optional<int> interrupted_epoch;    // a stop came first, in this epoch (0-based)
};
// Methods that can train several tasks in one pass per step (the same precision; each task keeps
// its own sample, seed, schedule and result): the scheduler packs small tasks of such methods. An
// error that concerns the whole pack is thrown.
using PackedMethodRunner =
    std::function<std::vector<PackedMethodResult>(const std::vector<const MethodTask*>&, MethodEnvironment&)>;
// Methods that can train one task across the ranks of a group (their classes split among them);
// every rank runs it with the same task and gets the same trained method.
using ShardedMethodRunner =
    std::function<std::unique_ptr<TrainedMethod>(const MethodTask&, MethodEnvironment&, Collectives&)>;

// --- Helpers the SGD-trained methods share --------------------------------------------------------

// The compute dtype of a "precision" setting (fp32 | fp16 | bf16 | pure_fp16 | pure_bf16).
torch::Dtype precision_dtype(const nlohmann::json& settings);
// Whether it is a pure half precision (the reference's fp16: TrainOptions::half_parameters).
bool pure_half_precision(const nlohmann::json& settings);
// Training options from the settings (epochs, batch_size, lr) and the task (seed, resume, hook).
TrainOptions sgd_options(const MethodTask& task, torch::Device device, torch::Dtype dtype);
// The record's "train" section of an SGD run: epochs, steps, final loss, loss and lr per epoch.
nlohmann::json sgd_report(const TrainReport& report, const TrainOptions& options);
// A tensor as it is saved (float32, CPU, row-major).
storage::NamedTensor to_named_tensor(const std::string& name, const torch::Tensor& tensor);

}  // namespace pg::worker
