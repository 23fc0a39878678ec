// The training loop every SGD-trained method shares (CoOp, KgCoOp, CoCoOp; DESIGN §1), as CoOp's and
// CoCoOp's trainers (Dassl) run it: SGD (momentum 0.9, dampening 0, no Nesterov, coupled weight decay
// 5e-4) over the method's trainable tensors, the learning-rate schedule of lr_schedule.h stepped once
// per epoch, batches in a fresh random order each epoch, the last partial batch dropped when there are
// at least batch_size images (Dassl's drop_last). What is trained and what the loss is belong to the
// method: a TrainingObjective.
//
// Randomness is a std::mt19937_64 seeded with options.seed: per epoch it first draws one view per
// image (when views are given), then a Fisher-Yates permutation of the images. Same seed, same run;
// a run resumed from a TrainState equals the uninterrupted one.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/coop_defaults.h"

namespace pg::worker {

struct TrainingData {
  torch::Tensor features;  // [N, E] image features (any float dtype, any device), not normalized
  torch::Tensor views;     // [V, N, E] augmented views of the same images, or undefined
  torch::Tensor labels;    // [N] integer class indices in [0, n_cls)
};

struct TrainReport {
  std::vector<double> epoch_loss;  // mean training loss of each epoch
  std::vector<double> epoch_lr;    // learning rate each epoch ran at
  int64_t steps = 0;               // optimizer steps in all
  double seconds = 0;              // wall time of the training loop
  bool cuda_graph = false;         // whether the steps replayed a CUDA graph (cuda/captured_backward.h)
};

// Where training stands after an epoch: everything needed to continue it exactly.
struct TrainState {
  int next_epoch = 0;
  std::vector<torch::Tensor> parameters;  // the objective's trainable tensors, float32 on the CPU, in order
  std::vector<torch::Tensor> momentum;    // SGD's momentum buffers, same order; undefined where none yet
  std::string rng_state;                  // the trainer's std::mt19937_64, in the standard's text form
  TrainReport report;                     // of the epochs so far
};

struct TrainOptions {
  int epochs = 50;
  int batch_size = coop_defaults::kBatchSize;
  double lr = coop_defaults::kLearningRate;
  double momentum = coop_defaults::kMomentum;
  double weight_decay = coop_defaults::kWeightDecay;
  double warmup_lr = coop_defaults::kWarmupLearningRate;
  int warmup_epochs = coop_defaults::kWarmupEpochs;
  uint64_t seed = 1;
  torch::Device device = torch::kCPU;
  // The text encoder's compute dtype: float32, float16 or bfloat16.
  torch::Dtype dtype = torch::kFloat32;
  // Half precision as the reference does it (CoOp's PREC=fp16): the trained tensors are themselves in
  // `dtype` and SGD updates them there, and logits and loss are in `dtype` too. Off: they stay a
  // float32 master copy, cast to `dtype` per forward, with logits and loss in float32.
  bool half_parameters = false;
  // On a CUDA device, in a build with CUDA, for an objective that allows it: record the step's forward
  // and backward pass once as a CUDA graph and replay it per batch (cuda/captured_backward.h). Same
  // kernels, same result; off, every kernel is launched from the host. PG_CUDA_GRAPH=off in the
  // environment turns it off for every run of the process.
  bool cuda_graph = true;
  // Called after every epoch but the last with where training stands; the caller decides whether to
  // save it (a checkpoint). Called on the training thread; an exception from it stops training.
  std::function<void(const TrainState&)> on_epoch_end;
  // Continue from a saved state instead of starting at epoch 0: the result is the same as that of an
  // uninterrupted run (same RNG draws, same optimizer state; on the CPU with the same thread count,
  // bit-identical).
  const TrainState* resume = nullptr;
  // Asked before every step; when it says stop, training ends at once with TrainingInterrupted and the
  // epoch under way is abandoned (a pre-empted job: the caller saves the last state on_epoch_end gave
  // it, so the resumed run redoes that epoch exactly). Called on the training thread; must be cheap.
  std::function<bool()> stop_requested;
};

// Thrown by train_prompt when TrainOptions::stop_requested said stop.
struct TrainingInterrupted : std::runtime_error {
  explicit TrainingInterrupted(int epoch)
      : std::runtime_error("training stopped on request in epoch " + std::to_string(epoch + 1)), epoch(epoch) {}
  int epoch;  // 0-based, the one abandoned
};

// What a method trains: its tensors and its loss. The objective has placed its modules on the
// training device before the loop starts.
class TrainingObjective {
 public:
  virtual ~TrainingObjective() = default;
  // The tensors SGD updates (float32 leaves that require grad, on the device), always in one order.
  virtual std::vector<torch::Tensor> parameters() = 0;
  // Mean loss of a batch: image_features [B, E] float32 and labels [B] int64 on the device -> a 0-dim
  // float32 tensor with autograd to parameters().
  virtual torch::Tensor loss(const torch::Tensor& image_features, const torch::Tensor& labels) = 0;
  // Accumulates d loss / d parameters into their grad() and returns the loss, detached. By default
  // loss().backward(); a method whose batch does not fit one pass (CoCoOp: B x C prompt sequences)
  // backpropagates it in parts.
  virtual torch::Tensor backward_loss(const torch::Tensor& image_features, const torch::Tensor& labels) {
    const torch::Tensor value = loss(image_features, labels);
    value.backward();
    return value.detach();
  }
  virtual int64_t num_classes() const = 0;
  virtual int64_t embed_dim() const = 0;
  // Whether backward_loss may be recorded as a CUDA graph: the same kernels on the same shapes for
  // every batch of a size, no host synchronisation, no randomness.
  virtual bool capturable() const { return false; }
};

class CapturedBackward;

// Logits [B, n_cls] float32 = logit_scale * normalize(image_features) @ normalize(text_features).T,
// as CoOp's CustomCLIP (image_features [B, E], text_features [n_cls, E], both float32).
torch::Tensor clip_logits(const torch::Tensor& image_features, const torch::Tensor& text_features, double logit_scale);

// One optimisation step of an objective and the SGD state it carries: what train_prompt runs per batch.
class SgdStep {
 public:
  // Checks the options (a pg::Error names the bad one); the optimizer starts at options.lr.
  SgdStep(TrainingObjective& objective, const TrainOptions& options);
  // zero_grad, loss, backward, SGD step. Returns the loss (0-dim float32, detached, on the device;
  // not synchronised; when graphed(), the recording's output, which the next step overwrites: copy it
  // first). Afterwards each parameter's grad() holds this step's gradient.
  torch::Tensor step(const torch::Tensor& image_features, const torch::Tensor& labels);
  // The two halves of step() around a backward pass the caller runs itself (packed training: one
  // backward for many runs): clears the gradients, then applies SGD to them.
  void zero_grad();
  void apply() { optimizer_.step(); }
  void set_lr(double lr);
  // Whether step() replays a recorded CUDA graph.
  bool graphed() const { return captured_ != nullptr; }
  // SGD's momentum buffer of each parameter (undefined before its first update).
  std::vector<torch::Tensor> momentum_buffers() const;
  // Restores saved buffers (resuming); undefined entries are skipped.
  void set_momentum_buffers(const std::vector<torch::Tensor>& buffers);

 private:
  // The forward and backward pass of step(): recorded at the first step when the options and the
  // objective allow it, else the objective's own.
  torch::Tensor backward_loss(const torch::Tensor& image_features, const torch::Tensor& labels);

  TrainingObjective& objective_;
  std::vector<torch::Tensor> parameters_;
  torch::optim::SGD optimizer_;
  bool record_graph_ = false;  // still to try at the next step
  // A shared_ptr for its type-erased deleter: CapturedBackward's destructor exists only in CUDA builds.
  std::shared_ptr<CapturedBackward> captured_;
};

// Number of batches per epoch: N / batch_size rounded down when N >= batch_size (the last partial
// batch is dropped), else 1 (one batch of all N).
int64_t batches_per_epoch(int64_t num_items, int64_t batch_size);

// One run of the training loop, a step at a time: its data, batch order, learning-rate schedule,
// optimizer state, checkpoints and report. train_prompt drives one; packed training drives several in
// lockstep, each exactly as train_prompt would (packed_coop_training.h).
class TrainingRun {
 public:
  // Checks the options and the data against the objective, and restores options.resume if given
  // (pg::Error for anything that does not fit).
  TrainingRun(TrainingObjective& objective, const TrainingData& data, const TrainOptions& options);

  bool finished() const { return epoch_ >= options_.epochs; }
  // The epoch the next batch belongs to (0-based).
  int epoch() const { return epoch_; }
  struct Batch {
    torch::Tensor features;  // [B, E] float32 on the device
    torch::Tensor labels;    // [B] int64 on the device
  };
  // The next batch, starting an epoch (learning rate, view draws, shuffle) when one is due. Not after
  // finished().
  Batch next_batch();
  // The run's optimizer, at the learning rate of the batch next_batch() gave.
  SgdStep& sgd() { return sgd_; }
  // After the step of that batch: records its loss (0-dim, detached). At an epoch's end the losses are
  // read (a non-finite one is a pg::Error naming the epoch and step), the report extended, and
  // on_epoch_end called.
  void finish_step(const torch::Tensor& loss);
  // The report so far, its seconds the wall time since the data was on the device.
  TrainReport report() const;

 private:
  void start_epoch();
  void end_epoch();

  TrainOptions options_;
  std::vector<torch::Tensor> parameters_;
  SgdStep sgd_;
  torch::Tensor source_;  // the rows batches are drawn from: features [N, E], or views [V * N, E]
  torch::Tensor labels_;  // [N]
  int64_t items_ = 0;
  int64_t views_ = 0;
  int64_t batches_ = 0;     // per epoch
  int64_t batch_size_ = 0;  // min(batch_size, N)
  std::mt19937_64 rng_;
  int epoch_ = 0;
  int64_t next_batch_ = 0;  // within the epoch; 0: the epoch has not started
  double lr_ = 0;
  torch::Tensor epoch_features_;
  torch::Tensor epoch_labels_;
  torch::Tensor epoch_losses_;
  TrainReport report_;
  std::chrono::steady_clock::time_point start_;
};

// Trains the objective in place. Errors (pg::Error): bad options, features/labels/views whose shapes
// or values do not fit the objective, non-finite features, a loss that becomes NaN or infinite.
TrainReport train_prompt(TrainingObjective& objective, const TrainingData& data, const TrainOptions& options);

}  // namespace pg::worker
