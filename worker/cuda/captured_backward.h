// A training step's forward and backward pass recorded once as a CUDA graph and replayed for every
// batch (DESIGN §5): a small CoOp step is a few hundred short kernels, and on a GPU launching them
// one by one from the host costs more than running them. The shapes of a run's step never change
// (the frozen prompt parts are constant, the batch size is fixed), so one recording serves the run.
//
// What is recorded: zeroing the gradients, the objective's loss and its backward pass, reading the
// batch from two static input tensors. What is not: the SGD update, which reads the learning rate
// from the host and changes it per epoch; it runs after each replay (a handful of kernels).
//
// Compiled where CUDA's and LibTorch's CUDA headers are found; part of promptgrid only when the Torch
// in use has CUDA (PG_WITH_CUDA), else compiled on its own and linked into nothing, so it keeps
// compiling on a CPU-only machine.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "worker/prompt_training.h"

namespace pg::worker {

class CapturedBackward {
 public:
  // Records objective.backward_loss on static inputs shaped like (features, labels), on the CUDA
  // device they are on: two eager warm-up passes first (they only write gradients, which every replay
  // zeroes), then the recording, on a side stream, with the device synchronised before and after (once
  // per run; nothing synchronises inside the loop). Errors: a pg::Error when the step synchronises
  // with the host (found in the second warm-up, with host synchronisations made errors; nothing is
  // half-done, the caller can train without a graph). When the recording itself fails, this
  // process's CUDA state is left mid-capture: it prints why (and how to turn graphs off) and aborts.
  CapturedBackward(TrainingObjective& objective, const torch::Tensor& features, const torch::Tensor& labels);
  ~CapturedBackward();

  // Whether a batch of this shape can replay the recording.
  bool fits(const torch::Tensor& features, const torch::Tensor& labels) const;
  // Copies the batch into the static inputs and replays, on the current stream: afterwards every
  // parameter's grad() holds this batch's gradient (not accumulated) and the returned tensor its loss,
  // 0-dim on the device. The tensor is the recording's output: the next replay overwrites it.
  torch::Tensor backward_loss(const torch::Tensor& features, const torch::Tensor& labels);

 private:
  struct Graph;  // the CUDA graph, kept out of this header so its includers need no CUDA headers
  std::unique_ptr<Graph> graph_;
  torch::Tensor features_;  // static inputs, read by every replay
  torch::Tensor labels_;
  torch::Tensor loss_;  // static output
};

}  // namespace pg::worker
