// Trains a CoOp prompt learner on cached CLIP image features, as CoOp's trainer does (DESIGN §1):
// SGD (momentum 0.9, dampening 0, no Nesterov, coupled weight decay 5e-4) over the context vectors
// only, the CoOp/Dassl learning-rate schedule (lr_schedule.h) stepped once per epoch, batches of 32 in
// a fresh random order each epoch, the last partial batch dropped when there are at least 32 images
// (Dassl's drop_last), cross-entropy on logit_scale * cos(image, text) computed in float32.
//
// Placement: CoOpTrainStep moves the learner (float32) and the text encoder (options.dtype) to
// options.device IN PLACE, so they stay there afterwards: evaluate with the same encoder precision.
// Under half/bfloat16 the context stays a float32 master copy, cast to the encoder's dtype per forward
// (the encoder computes LayerNorm in float32).
//
// Randomness is a std::mt19937_64 seeded with options.seed: per epoch it first draws one view per
// image (when views are given), then a Fisher-Yates permutation of the images. Same seed, same run.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/coop_defaults.h"
#include "worker/clip/text_encoder.h"
#include "worker/coop_prompt_learner.h"

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
};

// Where training stands after an epoch: everything needed to continue it exactly.
struct TrainState {
  int next_epoch = 0;
  torch::Tensor context;   // the learner's context, float32 on the CPU
  torch::Tensor momentum;  // SGD's momentum buffer of the context, float32 on the CPU
  std::string rng_state;   // the trainer's std::mt19937_64, in the standard's text form
  TrainReport report;      // of the epochs so far
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
  // Called after every epoch but the last with where training stands; the caller decides whether to
  // save it (a checkpoint). Called on the training thread; an exception from it stops training.
  std::function<void(const TrainState&)> on_epoch_end;
  // Continue from a saved state instead of starting at epoch 0: the result is the same as that of an
  // uninterrupted run (same RNG draws, same optimizer state; on the CPU with the same thread count,
  // bit-identical).
  const TrainState* resume = nullptr;
};

// Logits [B, n_cls] float32 = logit_scale * normalize(image_features) @ normalize(text_features).T,
// as CoOp's CustomCLIP (image_features [B, E], text_features [n_cls, E], both float32).
torch::Tensor clip_logits(const torch::Tensor& image_features, const torch::Tensor& text_features, double logit_scale);

// One CoOp optimisation step and the SGD state it carries: what train_coop runs per batch, exposed so
// the benchmark times exactly this and golden tests check exactly this.
class CoOpTrainStep {
 public:
  // Moves learner and encoder as described at the top; the optimizer starts at options.lr.
  CoOpTrainStep(CoOpPromptLearner learner, TextEncoder encoder, const TrainOptions& options);

  // image_features [B, E] float32 on the device -> logits [B, n_cls] float32, with autograd to ctx.
  torch::Tensor logits(const torch::Tensor& image_features);
  // zero_grad, forward, mean cross-entropy, backward, SGD step. image_features [B, E] float32 and
  // labels [B] int64, both on the device. Returns the loss (0-dim float32, detached, on the device;
  // not synchronised, so the caller decides when to read it). Afterwards context().grad() holds
  // this step's gradient.
  torch::Tensor step(const torch::Tensor& image_features, const torch::Tensor& labels);

  void set_lr(double lr);
  // SGD momentum buffer of the context, shape of the context; undefined before the first step.
  torch::Tensor momentum_buffer() const;
  // Restores a saved momentum buffer (resuming from a checkpoint).
  void set_momentum_buffer(const torch::Tensor& buffer);

 private:
  CoOpPromptLearner learner_;
  TextEncoder encoder_;
  torch::Dtype encoder_dtype_;
  torch::optim::SGD optimizer_;
};

// Number of batches per epoch: N / batch_size rounded down when N >= batch_size (the last partial
// batch is dropped), else 1 (one batch of all N).
int64_t batches_per_epoch(int64_t num_items, int64_t batch_size);

// Trains `learner` in place. Errors (pg::Error): bad options, features/labels/views whose shapes or
// values do not fit the learner and encoder, non-finite features, a loss that becomes NaN or infinite.
TrainReport train_coop(CoOpPromptLearner& learner, TextEncoder& encoder, const TrainingData& data,
                       const TrainOptions& options);

}  // namespace pg::worker
