#include "worker/cuda/captured_backward.h"

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdio>
#include <cstdlib>
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

// While alive, a host synchronisation through LibTorch (item(), a device-to-host copy, nonzero) is an
// error instead of a stall.
class SynchronisationsAreErrors {
 public:
  SynchronisationsAreErrors() : previous_(c10::cuda::warning_state().get_sync_debug_mode()) {
    c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_ERROR);
  }
  ~SynchronisationsAreErrors() { c10::cuda::warning_state().set_sync_debug_mode(previous_); }

 private:
  c10::cuda::SyncDebugMode previous_;
};

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
  const c10::cuda::CUDAStreamGuard stream_guard(side);
  // Warm-up outside the recording: the gradient tensors are created, cuBLAS and the caching allocator
  // set up, the text encoder's per-shape caches (causal masks, EOT bounds) filled.
  zeroed_backward_pass(objective, features_, labels_);
  // A step that synchronises with the host cannot be recorded. The second warm-up finds out, with
  // nothing half-done: the caller then trains without a graph.
  try {
    const SynchronisationsAreErrors no_synchronisation;
    zeroed_backward_pass(objective, features_, labels_);
  } catch (const c10::Error& error) {
    const std::string what = error.what_without_backtrace();
    // LibTorch's sync-debug error ("called a synchronizing CUDA operation"); anything else (out of
    // memory, say) is what it is.
    if (what.find("synchroniz") == std::string::npos) throw;
    throw Error("CUDA graph: the training step synchronises with the host, so it cannot be recorded (" + what + ")");
  }
  side.synchronize();
  // The warm-up's activations go back to the device: the recording keeps its own in its private pool.
  c10::cuda::CUDACachingAllocator::emptyCache();
  graph_->graph.capture_begin();
  try {
    loss_ = zeroed_backward_pass(objective, features_, labels_);
    graph_->graph.capture_end();
  } catch (const std::exception& error) {
    // A recording that failed part way leaves the stream and LibTorch's caching allocator mid-capture:
    // no later task of this process could use the device, and a caught error would let the worker try.
    // The process ends (under mpirun, the job: the journal keeps what finished; the same command
    // resumes the rest).
    std::fprintf(stderr,
                 "promptgrid: CUDA graph: recording the training step failed: %s\npromptgrid: this process cannot "
                 "use the device any more and ends; run the same command again with PG_CUDA_GRAPH=off in the "
                 "environment to train without CUDA graphs\n",
                 error.what());
    std::fflush(stderr);
    std::abort();
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
