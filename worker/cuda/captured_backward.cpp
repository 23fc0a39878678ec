#include "worker/cuda/captured_backward.h"

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <exception>
#include <string>

#include "common/error.h"

namespace pg::worker {

struct CapturedBackward::Graph {
  at::cuda::CUDAGraph graph;
};

namespace {

// The pass that is recorded: the gradients zeroed in place (a replay must not add to the previous
// batch's), then the loss and its backward pass into them.
torch::Tensor zeroed_backward_pass(TrainingObjective& objective, const torch::Tensor& features,
                                   const torch::Tensor& labels) {
  for (const auto& parameter : objective.parameters()) {
    if (parameter.grad().defined()) parameter.grad().zero_();
  }
  return objective.backward_loss(features, labels);
}

}  // namespace

CapturedBackward::CapturedBackward(TrainingObjective& objective, const torch::Tensor& features,
                                   const torch::Tensor& labels)
    : graph_(std::make_unique<Graph>()), features_(features.clone()), labels_(labels.clone()) {
  if (!features.is_cuda()) throw Error("CUDA graph: the batch is on " + features.device().str() + ", not a CUDA device");
  const c10::cuda::CUDAGuard device_guard(features.device());
  // Recording must not happen on the default stream, and the side stream must see everything the
  // default stream has done so far (parameters uploaded, the static inputs written).
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, features.device().index());
  c10::cuda::device_synchronize();
  bool recording = false;
  try {
    const c10::cuda::CUDAStreamGuard stream_guard(side);
    // Warm-up outside the recording: the gradient tensors are created, cuBLAS and the caching allocator
    // set up, the text encoder's per-shape caches (causal masks, EOT bounds) filled.
    for (int pass = 0; pass < 2; ++pass) zeroed_backward_pass(objective, features_, labels_);
    side.synchronize();
    graph_->graph.capture_begin();
    recording = true;
    loss_ = zeroed_backward_pass(objective, features_, labels_);
    recording = false;
    graph_->graph.capture_end();
  } catch (const std::exception& error) {
    if (recording) {
      try {
        graph_->graph.capture_end();  // leaves capture mode on the stream; the graph is discarded
      } catch (const std::exception&) {
      }
    }
    throw Error(std::string("CUDA graph: recording the training step failed: ") + error.what());
  }
  c10::cuda::device_synchronize();
}

CapturedBackward::~CapturedBackward() = default;

bool CapturedBackward::fits(const torch::Tensor& features, const torch::Tensor& labels) const {
  return features.sizes() == features_.sizes() && labels.sizes() == labels_.sizes() &&
         features.device() == features_.device() && labels.device() == labels_.device();
}

torch::Tensor CapturedBackward::backward_loss(const torch::Tensor& features, const torch::Tensor& labels) {
  features_.copy_(features);
  labels_.copy_(labels);
  graph_->graph.replay();
  return loss_;
}

}  // namespace pg::worker
